//! The instance pool: every instance lives in a slot reserved once at start
//! (its linear memory, tables and async stack). Taking a slot is a few
//! bookkeeping steps and resetting one restores the pages a guest wrote (in
//! place up to a size, see [`strategy`]; dropped with `madvise` beyond it),
//! instead of mapping and unmapping gigabytes of address space per instance,
//! whose TLB shootdowns stall every core of a busy host.
//!
//! A slot must fit any component weft accepts: Rust components have three
//! core modules, componentize-py's fourteen, componentize-js's four; each has
//! one linear memory and two tables (CPython's and SpiderMonkey's hold 5,000
//! to 8,000 functions).
//!
//! [`Slots`] hands the slots out and keeps the activity instances that may
//! serve later attempts (each holding its slot).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::{Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

use super::activity::Warm;
use crate::model::{Doors, ModuleHash};

/// Linear memories one component may have.
pub const MEMORIES_PER_COMPONENT: u32 = 2;
/// Tables one component may have (across its core modules).
pub const TABLES_PER_COMPONENT: u32 = 4;
/// Elements of one table.
pub const TABLE_ELEMENTS: usize = 50_000;
/// Core instances one component may create.
const CORE_INSTANCES_PER_COMPONENT: u32 = 64;
/// Bytes of each memory and of each table of a freed slot that are reset in
/// place by default (`--pool-keep-resident-kb`).
pub const DEFAULT_KEEP_RESIDENT: usize = 8 << 20;

/// The pool. A freed slot is reset for its next instance: the pages its
/// last instance wrote, found with the kernel's `PAGEMAP_SCAN` (Linux 6.7
/// and later), are restored in place up to `keep_resident` bytes per memory
/// and per table, and the rest are dropped with `madvise`. Restoring keeps
/// them mapped: no TLB-shootdown interrupt to the other cores and no page
/// fault for the next instance (bench/README.md, "Pool slots reset in
/// place"). Without the scan, wasmtime would restore the first
/// `keep_resident` bytes whether written or not, which costs more than it
/// saves, so every dirty page is dropped then, as with `keep_resident` 0.
/// The scan reports pages written and present or swapped out, so a page
/// the kernel is moving or has swapped is reset too: nothing of the last
/// instance is left for the next.
pub fn strategy(slots: u32, keep_resident: usize) -> InstanceAllocationStrategy {
    let keep = if PoolingAllocationConfig::is_pagemap_scan_available() {
        keep_resident
    } else {
        0
    };
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(CORE_INSTANCES_PER_COMPONENT))
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .total_memories(slots.saturating_mul(MEMORIES_PER_COMPONENT))
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .total_tables(slots.saturating_mul(TABLES_PER_COMPONENT))
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_tables_per_module(2)
        .table_elements(TABLE_ELEMENTS)
        .total_stacks(slots)
        .max_component_instance_size(4 << 20)
        .pagemap_scan(if keep > 0 { Enabled::Yes } else { Enabled::No })
        .linear_memory_keep_resident(keep)
        .table_keep_resident(keep);
    InstanceAllocationStrategy::Pooling(pool)
}

/// Idle activity instances kept per module.
const IDLE_ACTIVITY_INSTANCES: usize = 32;

/// An idle activity instance unused this long is dropped, giving back its
/// memory and its pool slot.
const IDLE_ACTIVITY_TTL: Duration = Duration::from_secs(30);

/// The pool's slots, one semaphore permit each, so that an instantiation
/// waits for a free slot instead of failing on a full pool; and the activity
/// instances kept between attempts, each holding its slot.
pub struct Slots {
    /// None without a pool.
    permits: Option<Arc<Semaphore>>,
    /// Callers waiting for a permit.
    waiters: AtomicUsize,
    idle: Mutex<HashMap<ModuleHash, Vec<Warm>>>,
}

impl Slots {
    pub fn new(slots: u32) -> Self {
        Self {
            permits: (slots > 0).then(|| Arc::new(Semaphore::new(slots as usize))),
            waiters: AtomicUsize::new(0),
            idle: Mutex::new(HashMap::new()),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, HashMap<ModuleHash, Vec<Warm>>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot, held while an instance lives. With none free, an idle
    /// activity instance gives up its own before this waits for one.
    pub async fn take(&self) -> Option<OwnedSemaphorePermit> {
        let permits = self.permits.as_ref()?;
        loop {
            if let Ok(p) = permits.clone().try_acquire_owned() {
                return Some(p);
            }
            // Dropped at the end of this turn, giving its permit back.
            let evicted = self.idle().values_mut().find_map(|list| list.pop());
            if evicted.is_none() {
                self.waiters.fetch_add(1, Ordering::SeqCst);
                // The semaphore is never closed.
                let permit = permits.clone().acquire_owned().await.ok();
                self.waiters.fetch_sub(1, Ordering::SeqCst);
                return permit;
            }
        }
    }

    /// An idle instance of `module` opened with `doors`, the most recently
    /// used first (its pages are the warmest).
    pub fn take_idle(&self, module: &ModuleHash, doors: &Doors) -> Option<Warm> {
        let mut idle = self.idle();
        let list = idle.get_mut(module)?;
        let at = list.iter().rposition(|w| w.fits(doors))?;
        Some(list.swap_remove(at))
    }

    /// Keeps an instance that may serve another attempt, unless its module
    /// has enough idle ones or somebody waits for a slot (a waiter would not
    /// see the slot a kept instance holds).
    pub fn park(&self, module: ModuleHash, mut warm: Warm) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            return;
        }
        let mut idle = self.idle();
        let list = idle.entry(module).or_default();
        if list.len() < IDLE_ACTIVITY_INSTANCES {
            warm.park();
            list.push(warm);
        }
    }

    /// Drops the idle instances past [`IDLE_ACTIVITY_TTL`] (outside the
    /// lock: dropping a store resets its memory).
    pub fn expire_idle(&self) {
        let mut expired = Vec::new();
        {
            let mut idle = self.idle();
            for list in idle.values_mut() {
                let (old, keep): (Vec<_>, Vec<_>) = std::mem::take(list)
                    .into_iter()
                    .partition(|w| w.idle_for() >= IDLE_ACTIVITY_TTL);
                *list = keep;
                expired.extend(old);
            }
            idle.retain(|_, list| !list.is_empty());
        }
        drop(expired);
    }
}
