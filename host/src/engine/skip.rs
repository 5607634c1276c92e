//! Time skipping on a `--manual-clock` host, as test environments use it:
//! once the host is idle (no workflow task, no activity attempt, no timer
//! being fired, nothing new for a moment), the clock moves to the next time
//! something waits for (a timer, a retry's backoff, a schedule's trigger).
//! While an activity attempt runs (a component, a worker's task, a test's
//! mock) time does not skip: its timeouts would fire under it.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Engine, EngineError, Inner};

/// What keeps the host busy now.
#[derive(Default)]
pub(crate) struct Busy {
    /// Instances loading, replaying or running a workflow task, and timers
    /// being fired.
    steps: AtomicUsize,
    /// Activity attempts under way (waiting for a worker included).
    attempts: AtomicUsize,
    /// Bumped at every change and every message sent: equal readings a
    /// moment apart mean nothing happened in between.
    seq: AtomicU64,
}

/// Counts one step or attempt while it lives.
pub(crate) struct BusyGuard {
    busy: Arc<Busy>,
    attempt: bool,
}

impl Busy {
    fn step(self: &Arc<Self>) -> BusyGuard {
        self.steps.fetch_add(1, Ordering::SeqCst);
        self.touch();
        BusyGuard {
            busy: self.clone(),
            attempt: false,
        }
    }

    fn attempt(self: &Arc<Self>) -> BusyGuard {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.touch();
        BusyGuard {
            busy: self.clone(),
            attempt: true,
        }
    }

    /// Something happened (a message was sent).
    fn touch(&self) {
        self.seq.fetch_add(1, Ordering::SeqCst);
    }

    fn reading(&self) -> (usize, usize, u64) {
        (
            self.steps.load(Ordering::SeqCst),
            self.attempts.load(Ordering::SeqCst),
            self.seq.load(Ordering::SeqCst),
        )
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if self.attempt {
            self.busy.attempts.fetch_sub(1, Ordering::SeqCst);
        } else {
            self.busy.steps.fetch_sub(1, Ordering::SeqCst);
        }
        self.busy.touch();
    }
}

impl Inner {
    /// A guard counting a workflow step (on a manual clock).
    pub(super) fn busy_step(&self) -> Option<BusyGuard> {
        self.busy.as_ref().map(|b| b.step())
    }

    /// Spawns `work` counted as a step while it runs (on a manual clock):
    /// work on its way in the background (a request to another execution,
    /// a read asked again) keeps time skipping from moving.
    pub(super) fn spawn_counted(
        &self,
        work: impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let busy = self.busy_step();
        tokio::spawn(async move {
            work.await;
            drop(busy);
        });
    }

    /// A guard counting an activity attempt (on a manual clock).
    pub(super) fn busy_attempt(&self) -> Option<BusyGuard> {
        self.busy.as_ref().map(|b| b.attempt())
    }
}

/// How long the host must stay unchanged to count as idle.
const QUIET: Duration = Duration::from_millis(15);

/// What a skip did.
#[derive(Debug, Clone)]
pub struct Skip {
    /// The clock after the skip.
    pub now_ms: u64,
    /// How far it moved (0: not at all).
    pub skipped_ms: u64,
    /// Why it did not move, when it did not.
    pub held: Option<Held>,
}

/// Why a skip did not move the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The host is idle at the limit.
    Limit,
    /// The host is idle and nothing waits for time (only for a signal, an
    /// update, a worker...).
    NothingWaits,
    /// Activity attempts or workflow tasks kept running.
    Busy { attempts: usize, steps: usize },
}

impl Held {
    /// A word for programs.
    pub fn code(self) -> &'static str {
        match self {
            Held::Limit => "limit",
            Held::NothingWaits => "nothing-waits",
            Held::Busy { .. } => "busy",
        }
    }
}

impl std::fmt::Display for Held {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Held::Limit => write!(f, "the host is idle at the limit"),
            Held::NothingWaits => write!(
                f,
                "the host is idle and nothing waits for time (executions wait for signals, \
                 updates or workers, or have ended)"
            ),
            Held::Busy { attempts, steps } if *attempts > 0 => write!(
                f,
                "{attempts} activity attempt(s) still running (time does not skip under a \
                 running activity)"
            ),
            Held::Busy { steps, .. } if *steps > 0 => {
                write!(f, "{steps} workflow task(s) still running")
            }
            Held::Busy { .. } => write!(f, "the host kept changing"),
        }
    }
}

/// Where a host stands for a time skip across the hosts of a store of
/// several partitions: whether it stayed unchanged and idle for a moment,
/// where its clock reads, and the earliest time something on it waits for.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Quiet {
    pub quiet: bool,
    pub now_ms: u64,
    pub next_wait_ms: Option<u64>,
    pub steps: usize,
    pub attempts: usize,
    /// Bumped at every change on the host: two readings with one `seq`
    /// mean nothing happened between them.
    pub seq: u64,
}

impl Engine {
    /// Waits up to `wait` for the host to be idle, then moves the manual
    /// clock to the earliest time something waits for, but not past
    /// `limit_ms`. Answers without moving when the host stays busy, is at
    /// the limit, or nothing waits for time: then it was idle when it
    /// answered (but for `Busy`).
    pub async fn skip_clock(
        &self,
        limit_ms: Option<u64>,
        wait: Duration,
    ) -> Result<Skip, EngineError> {
        let give_up = Instant::now() + wait;
        loop {
            let q = self.quiet_until(give_up).await?;
            if !q.quiet {
                return Ok(held(
                    q.now_ms,
                    Held::Busy {
                        attempts: q.attempts,
                        steps: q.steps,
                    },
                ));
            }
            let now = q.now_ms;
            if limit_ms.is_some_and(|l| l <= now) {
                return Ok(held(now, Held::Limit));
            }
            match q.next_wait_ms {
                // Due already: it is about to wake; look again.
                Some(due) if due <= now => {}
                Some(due) => {
                    let target = limit_ms.map_or(due, |l| due.min(l));
                    crate::pause::point("skip-before-move").await;
                    // Another move (a skip, an advance) since `now` was
                    // read: look again from where it left the clock.
                    if let Some(now_ms) = self.advance_clock_to(now, target).await? {
                        return Ok(Skip {
                            now_ms,
                            skipped_ms: target - now,
                            held: None,
                        });
                    }
                }
                None => return Ok(held(now, Held::NothingWaits)),
            }
            if Instant::now() >= give_up {
                let (steps, attempts, _) = self.manual_busy()?.reading();
                return Ok(held(now, Held::Busy { attempts, steps }));
            }
        }
    }

    /// How this host stands for a time skip (see [`Quiet`]): once it was
    /// unchanged and idle for a moment, or as it is when `wait` is over (at
    /// once for no wait).
    pub async fn quiet(&self, wait: Duration) -> Result<Quiet, EngineError> {
        if wait.is_zero() {
            let now_ms = self.inner.clock.now_ms();
            let reading = self.manual_busy()?.reading();
            let idle = reading.0 == 0 && reading.1 == 0;
            return Ok(self.stands(now_ms, reading, idle).await);
        }
        self.quiet_until(Instant::now() + wait).await
    }

    /// How the host stands: its clock read at `now_ms`, before `reading`
    /// (a move after it is caught by the move's own check). When quiet,
    /// the timers of executions that ended are not waited for.
    async fn stands(&self, now_ms: u64, reading: (usize, usize, u64), quiet: bool) -> Quiet {
        if quiet {
            self.inner.prune_timers().await;
        }
        Quiet {
            quiet,
            now_ms,
            next_wait_ms: self.inner.clock.next_wait(),
            steps: reading.0,
            attempts: reading.1,
            seq: reading.2,
        }
    }

    /// Moves a manual clock to `to`, if it still reads `from` (`None`: it
    /// moved meanwhile, and nothing is done): a time skip across hosts read
    /// `from` and chose `to` by it.
    pub async fn move_clock_from(&self, from: u64, to: u64) -> Result<Option<u64>, EngineError> {
        self.manual_busy()?;
        self.advance_clock_to(from, to).await
    }

    /// Its partition, on a store of several.
    pub fn partition(&self) -> Option<u32> {
        self.inner.store.partition()
    }

    fn manual_busy(&self) -> Result<&Arc<Busy>, EngineError> {
        self.inner.busy.as_ref().ok_or_else(|| {
            EngineError::Conflict(
                "the host runs on the system clock: start it with `--manual-clock` to skip time"
                    .into(),
            )
        })
    }

    async fn quiet_until(&self, give_up: Instant) -> Result<Quiet, EngineError> {
        let busy = self.manual_busy()?;
        let mut last = busy.reading();
        let mut quiet_since = Instant::now();
        loop {
            tokio::time::sleep(QUIET / 3).await;
            let now_ms = self.inner.clock.now_ms();
            let reading = busy.reading();
            let idle = reading.0 == 0 && reading.1 == 0;
            if reading != last || !idle {
                last = reading;
                quiet_since = Instant::now();
            } else if quiet_since.elapsed() >= QUIET {
                return Ok(self.stands(now_ms, reading, true).await);
            }
            if Instant::now() >= give_up {
                return Ok(self.stands(now_ms, reading, false).await);
            }
        }
    }
}

fn held(now_ms: u64, why: Held) -> Skip {
    Skip {
        now_ms,
        skipped_ms: 0,
        held: Some(why),
    }
}
