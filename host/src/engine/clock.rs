//! Host time, injectable: the system clock in production, a manual clock that
//! tests (and `weft server --manual-clock`) move forward to skip time instead
//! of sleeping through it. Everything that waits for workflow time (timers,
//! activity retry backoff) waits through this clock.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
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
    /// The times something waits for now (timers, retry backoffs, schedule
    /// triggers), each with its count: where time skipping goes next.
    waits: Mutex<BTreeMap<u64, usize>>,
}

/// One wait registered in [`ManualClock::waits`] while it lasts.
struct Waiting<'a> {
    clock: &'a ManualClock,
    due_ms: u64,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waits = self.clock.waits.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = waits.get_mut(&self.due_ms) {
            *n -= 1;
            if *n == 0 {
                waits.remove(&self.due_ms);
            }
        }
    }
}

fn system_now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

impl Clock {
    /// A manual clock starting at the current system time, or at `at_least`
    /// if that is later.
    pub fn manual(at_least: u64) -> Self {
        Self::manual_at(system_now_ms().max(at_least))
    }

    /// A manual clock starting at `now` (where it stood before a restart).
    pub fn manual_at(now: u64) -> Self {
        Self::Manual(Arc::new(ManualClock {
            now_ms: AtomicU64::new(now),
            moved: watch::channel(now).0,
            waits: Mutex::default(),
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

    /// The earliest time something waits for on a manual clock (see
    /// [`Clock::sleep_until`]); `None` on the system clock or when nothing
    /// waits.
    pub fn next_wait(&self) -> Option<u64> {
        match self {
            Self::System => None,
            Self::Manual(m) => m
                .waits
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .keys()
                .next()
                .copied(),
        }
    }

    /// Resolves once the clock reads `due_ms` or later. On a manual clock
    /// the wait is a place time skipping may move the clock to, listed from
    /// this call on (not from the first poll), so that a caller can stop
    /// counting as busy once it holds the future.
    pub fn sleep_until(&self, due_ms: u64) -> impl std::future::Future<Output = ()> + Send + '_ {
        let waiting = match self {
            Self::Manual(m) if m.now_ms.load(Ordering::SeqCst) < due_ms => {
                *m.waits
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .entry(due_ms)
                    .or_default() += 1;
                Some(Waiting { clock: m, due_ms })
            }
            _ => None,
        };
        async move {
            let _waiting = waiting;
            self.sleep_until_unlisted(due_ms).await
        }
    }

    /// As [`Clock::sleep_until`], for the host's own chores (the retention
    /// sweep): not a reason for time skipping to stop there.
    pub async fn sleep_until_unlisted(&self, due_ms: u64) {
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

    #[tokio::test]
    async fn a_manual_clock_knows_what_waits_for_it() {
        let clock = Clock::manual(0);
        let start = clock.now_ms();
        assert_eq!(clock.next_wait(), None);
        let (c1, c2, c3) = (clock.clone(), clock.clone(), clock.clone());
        let late = tokio::spawn(async move { c1.sleep_until(start + 7_000).await });
        let early = tokio::spawn(async move { c2.sleep_until(start + 5_000).await });
        let chore = tokio::spawn(async move { c3.sleep_until_unlisted(start + 1_000).await });
        while clock.next_wait() != Some(start + 5_000) {
            tokio::task::yield_now().await;
        }
        clock.advance(5_000);
        early.await.unwrap();
        chore.await.unwrap();
        assert_eq!(clock.next_wait(), Some(start + 7_000));
        clock.advance(2_000);
        late.await.unwrap();
        assert_eq!(clock.next_wait(), None);
    }
}
