//! Per-store limits: memory growth and the CPU deadline of a workflow task.

use std::time::Duration;

use wasmtime::ResourceLimiter;

/// Tick of the epoch thread. The CPU deadline is counted in ticks the guest
/// actually ran, so time spent parked by the scheduler does not count.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
#[error("the guest exceeded its memory limit of {limit_mib} MiB (it asked to grow a memory to {desired} bytes)")]
pub struct MemoryLimitExceeded {
    pub limit_mib: usize,
    pub desired: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("the workflow task exceeded its CPU deadline of {deadline_ms} ms without reaching a wait (an infinite loop?)")]
pub struct CpuDeadlineExceeded {
    pub deadline_ms: u128,
}

pub struct MemoryLimiter {
    pub max_bytes: usize,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            return Err(wasmtime::Error::new(MemoryLimitExceeded {
                limit_mib: self.max_bytes >> 20,
                desired,
            }));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// Counts the ticks a guest ran since the last reset.
pub struct CpuBudget {
    pub deadline: Duration,
    pub ticks_used: u64,
}

impl CpuBudget {
    pub fn new(deadline: Duration) -> Self {
        Self {
            deadline,
            ticks_used: 0,
        }
    }

    pub fn reset(&mut self) {
        self.ticks_used = 0;
    }

    /// Called at each epoch tick the guest is running through.
    pub fn tick(&mut self) -> Result<(), CpuDeadlineExceeded> {
        self.ticks_used += 1;
        let allowed = (self.deadline.as_millis() / EPOCH_TICK.as_millis()).max(1);
        if u128::from(self.ticks_used) > allowed {
            Err(CpuDeadlineExceeded {
                deadline_ms: self.deadline.as_millis(),
            })
        } else {
            Ok(())
        }
    }
}
