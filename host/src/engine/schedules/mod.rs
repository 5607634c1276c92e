//! Schedules: start workflows on a calendar or an interval, on the host's
//! clock (a manual clock moves them too).
//!
//! One task evaluates every schedule, one at a time. An evaluation reads the
//! schedule, notes which of its executions closed, moves its cursor over the
//! times that came (queueing those within the catch-up window), and takes
//! the queued actions its overlap policy allows. Each start is one
//! transaction with the schedule's new state (the cursor, the queue, the
//! running list), so a crash can neither lose a time nor start one twice;
//! every write names the revision it read, so an operator's change in
//! between makes the evaluation read again.

mod api;
mod evaluate;
pub mod spec;

pub use api::{ScheduleView, Triggered, BACKFILL_CAP};

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{EngineError, Inner};
use crate::model::ExecutionId;

/// The scheduler's handle in the engine: who to evaluate, and which
/// executions belong to which schedule.
pub(super) struct Scheduler {
    kick: mpsc::UnboundedSender<String>,
    /// The running executions schedules started, by id: their close
    /// makes their schedule evaluate.
    watching: Mutex<HashMap<ExecutionId, String>>,
}

impl Scheduler {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (kick, rx) = mpsc::unbounded_channel();
        (
            Self {
                kick,
                watching: Mutex::new(HashMap::new()),
            },
            rx,
        )
    }

    /// Evaluate `name` soon.
    pub fn kick(&self, name: &str) {
        let _ = self.kick.send(name.to_owned());
    }

    /// An execution closed (or changed state): its schedule looks again.
    pub fn changed(&self, id: &ExecutionId) {
        let name = self
            .watching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(name) = name {
            self.kick(&name);
        }
    }

    fn unwatch(&self, id: &ExecutionId) {
        self.watching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    fn watch(&self, id: ExecutionId, schedule: &str) {
        self.watching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, schedule.to_owned());
    }
}

/// Evaluates schedule `name` again after a second of real time (not of
/// the host's clock, which a manual clock does not move): a store that
/// could not answer is asked again.
fn kick_in_a_second(inner: &Arc<Inner>, name: &str) {
    let (inner, name) = (inner.clone(), name.to_owned());
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        inner.schedules.kick(&name);
    });
}

/// Runs the scheduler: every schedule is evaluated at start (catching up
/// what passed while the host was down), then at its next time and when it
/// is kicked.
pub(super) fn spawn(inner: Arc<Inner>, mut kicks: mpsc::UnboundedReceiver<String>) {
    tokio::spawn(inner.clone().unless_closed(async move {
        // Read until the store answers: a schedule not read here would not
        // run until it was changed.
        // 0.1 s doubling to 10 s: nothing is scheduled meanwhile.
        let mut again = super::again::Backoff::new(
            std::time::Duration::from_millis(100),
            std::time::Duration::from_secs(10),
        );
        // Their names only: a record that cannot be decoded stops its own
        // schedule (at its evaluation), not the others.
        let mut todo: BTreeSet<String> = loop {
            let read = crate::store::StoreError::fail_point("schedules-read")
                .and_then(|()| inner.store.schedule_names());
            match read {
                Ok(names) => break names.into_iter().collect(),
                // Refused for good: the schedules run once each is changed.
                Err(e @ crate::store::StoreError::Backend(_)) => {
                    tracing::error!(error = %e, "could not read the schedules; they run once one is changed");
                    break BTreeSet::new();
                }
                Err(e) => {
                    if again.is_first() {
                        tracing::error!(error = %e, "could not read the schedules; reading them again until the store answers");
                    }
                    again.wait().await;
                }
            }
        };
        let mut due: BTreeSet<(u64, String)> = BTreeSet::new();
        let mut due_of: HashMap<String, u64> = HashMap::new();
        // On a manual clock the scheduler's work counts as a workflow
        // step, from a wake until its next time is listed with the clock:
        // time skipping must not pass a schedule's time while it evaluates.
        let mut busy = inner.busy_step();
        loop {
            for name in std::mem::take(&mut todo) {
                if let Some(at) = due_of.remove(&name) {
                    due.remove(&(at, name.clone()));
                }
                let next = match evaluate::evaluate(&inner, &name).await {
                    Ok(next) => next,
                    // Its own record cannot be decoded (a newer weft's,
                    // read after a rollback; a damaged row): asking again
                    // would not change it.
                    Err(EngineError::Store(crate::store::StoreError::Corrupt { .. }))
                        if matches!(
                            inner.store.schedule(&name),
                            Err(crate::store::StoreError::Corrupt { .. })
                        ) =>
                    {
                        tracing::error!(schedule = %name, "schedule cannot be read; it does nothing until it is deleted and made again (or a weft that reads it runs)");
                        None
                    }
                    // In a second of real time: a store that could not
                    // answer does not wait for a manual clock to move.
                    // A second later on either clock: time skipping sees it
                    // listed, and a manual clock that does not move does
                    // not hold it back.
                    Err(e) => {
                        tracing::warn!(schedule = %name, error = %e, "schedule evaluation failed; trying again in a second");
                        kick_in_a_second(&inner, &name);
                        Some(inner.clock.now_ms().saturating_add(1_000))
                    }
                };
                if let Some(at) = next {
                    due.insert((at, name.clone()));
                    due_of.insert(name, at);
                }
            }
            // Listed with the clock here, before the count ends.
            let listed = due.first().map(|(at, _)| inner.clock.sleep_until(*at));
            let sleep = async move {
                match listed {
                    Some(sleep) => sleep.await,
                    None => std::future::pending().await,
                }
            };
            drop(busy.take());
            tokio::select! {
                kicked = kicks.recv() => {
                    busy = inner.busy_step();
                    let Some(name) = kicked else { return };
                    todo.insert(name);
                    while let Ok(name) = kicks.try_recv() {
                        todo.insert(name);
                    }
                }
                () = sleep => {
                    busy = inner.busy_step();
                    let now = inner.clock.now_ms();
                    while let Some((at, name)) = due.first().cloned() {
                        if at > now {
                            break;
                        }
                        due.remove(&(at, name.clone()));
                        due_of.remove(&name);
                        todo.insert(name);
                    }
                }
            }
        }
    }));
}
