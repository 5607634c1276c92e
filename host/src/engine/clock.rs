//! Host time, injectable: the system clock in production, a manual clock that
//! tests (and `weft server --manual-clock`) move forward to skip time instead
//! of sleeping through it. Everything that waits for workflow time (timers,
//! activity retry backoff) waits through this clock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

#[derive(Clone)]
pub enum Clock {
    System,
    Manual(Arc<ManualClock>),
}

pub struct ManualClock {
    now_ms: AtomicU64,
    moved: watch::Sender<u64>,
}

fn system_now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

impl Clock {
    /// A manual clock starting at the current system time, or at `at_least`
    /// if that is later (where it stood before a restart).
    pub fn manual(at_least: u64) -> Self {
        let now = system_now_ms().max(at_least);
        Self::Manual(Arc::new(ManualClock {
            now_ms: AtomicU64::new(now),
            moved: watch::channel(now).0,
        }))
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, Self::Manual(_))
    }

    pub fn now_ms(&self) -> u64 {
        match self {
            Self::System => system_now_ms(),
            Self::Manual(m) => m.now_ms.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; `None` for the system clock.
    pub fn advance(&self, ms: u64) -> Option<u64> {
        match self {
            Self::System => None,
            Self::Manual(m) => {
                let step = |now: u64| Some(now.saturating_add(ms));
                let before = m
                    .now_ms
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, step)
                    .unwrap_or_else(|now| now);
                let now = before.saturating_add(ms);
                m.moved.send_replace(now);
                Some(now)
            }
        }
    }

    /// Resolves once the clock reads `due_ms` or later.
    pub async fn sleep_until(&self, due_ms: u64) {
        match self {
            Self::System => loop {
                let now = system_now_ms();
                if now >= due_ms {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(due_ms - now)).await;
            },
            Self::Manual(m) => {
                let mut rx = m.moved.subscribe();
                while m.now_ms.load(Ordering::SeqCst) < due_ms {
                    if rx.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn manual_clock_wakes_sleepers_when_advanced() {
        let clock = Clock::manual(0);
        let start = clock.now_ms();
        let c2 = clock.clone();
        let sleeper = tokio::spawn(async move { c2.sleep_until(start + 3_600_000).await });
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        assert_eq!(clock.advance(3_600_000), Some(start + 3_600_000));
        sleeper.await.unwrap();
        assert_eq!(Clock::System.advance(1), None);
    }
}
