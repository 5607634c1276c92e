//! Bringing in-flight work back: at start (after a crash or a stop), and when
//! the store writes again after a disk error. Either way the store is the
//! truth: every timer row is armed, every activity the history scheduled and
//! nothing answered is dispatched (unless it runs already), and every running
//! execution with something to take is woken, which replays it. One whose
//! last workflow task saw its whole history and then waited (`Event::waits`
//! on its last event) is left asleep: what it waits for (a timer row, an
//! activity dispatched here, a child's end, a signal) wakes it when it comes,
//! as it wakes an evicted one.

use std::sync::Arc;
use std::time::Duration;

use super::{activities, Inner};
use crate::model::{ExecutionId, ExecutionStatus};
use crate::store::StoreError;

/// How often the store is probed while the disk refuses writes.
const RETRY: Duration = Duration::from_secs(1);

impl Inner {
    /// Re-arms timers, re-dispatches unanswered activities and wakes running
    /// executions that have something to take. Returns how many it woke and
    /// how many it left waiting.
    pub(super) fn resume_in_flight(self: &Arc<Self>) -> Result<Resumed, StoreError> {
        for row in self.store.timers()? {
            self.arm_timer(row);
        }
        // Requests to other executions a crash left undelivered.
        for request in self.store.outbox()? {
            self.spawn_delivery(request);
        }
        // Closed runs whose children did not get their policy before a crash.
        for (id, owed) in self.store.owed_policies()? {
            let inner = self.clone();
            tokio::spawn(async move { inner.settle_children(&id, !owed.is_empty()).await });
        }
        let mut resumed = Resumed::default();
        for status in [ExecutionStatus::Running, ExecutionStatus::Stalled] {
            for rec in self.store.executions(Some(status), None)? {
                let history = self.run_history(&rec)?;
                // After a storage fault some still run: spawn leaves those be.
                for (task, _) in activities::resume(self, &rec.id, rec.resets, &history)? {
                    activities::spawn(self.clone(), task);
                }
                for (handle, child) in crate::model::children_asked_to_cancel(&history) {
                    let inner = self.clone();
                    let parent = (rec.id.clone(), rec.resets);
                    // Time skipping waits for the request to be written.
                    let busy = self.busy_step();
                    tokio::spawn(async move {
                        inner.ask_child_again(parent, handle, child).await;
                        drop(busy);
                    });
                }
                if status != ExecutionStatus::Running {
                    continue;
                }
                // A run asked to cancel is woken whatever its last event:
                // what the cancellation stops and asks (its activities, its
                // children) is done in memory, and its replay does it again.
                if history.last().is_some_and(|e| e.waits) && !rec.cancel_requested {
                    resumed.waiting += 1;
                } else {
                    self.wake(&rec.id);
                    resumed.woken += 1;
                }
            }
        }
        Ok(resumed)
    }

    /// Asks child `child` (started by `parent`'s handle `handle` in its epoch)
    /// to cancel, if it still runs as that child and no request ever reached
    /// it: the code's request goes to the child after the task that made it
    /// committed, so a crash (or a write that failed) in between lost it. A
    /// request that reached it once is not made again, though its run may
    /// have moved on since (continued as new, or reset by an operator to
    /// before the request: that reset stands).
    async fn ask_child_again(
        self: Arc<Self>,
        parent: (ExecutionId, u32),
        handle: u64,
        child: String,
    ) {
        let Ok(id) = child.parse::<ExecutionId>() else {
            return;
        };
        let mut again = super::again::Backoff::background();
        loop {
            match self.never_asked(&id, &parent, handle) {
                Ok(true) => break,
                Ok(false) => return,
                Err(StoreError::Io(e)) => {
                    if again.is_first() {
                        tracing::warn!(execution = %id, error = %e, "could not read a child its parent asked to cancel; reading it again");
                    }
                    again.wait().await;
                }
                Err(e) => {
                    tracing::error!(execution = %id, error = %e, "could not read a child its parent asked to cancel");
                    return;
                }
            }
        }
        tracing::info!(execution = %id, parent = %parent.0, "asking a child to cancel again: its parent's request did not reach it");
        self.ask_to_cancel(
            &child,
            &(parent.0, parent.1, handle),
            "its parent cancelled it",
        )
        .await;
    }

    /// Whether `id` still runs as the child `parent` started with `handle`
    /// and no cancellation request ever reached it.
    fn never_asked(
        &self,
        id: &ExecutionId,
        parent: &(ExecutionId, u32),
        handle: u64,
    ) -> Result<bool, StoreError> {
        let Some(record) = self.store.execution(id)? else {
            return Ok(false);
        };
        let same = record
            .parent
            .as_ref()
            .is_some_and(|p| (&p.id, p.epoch, p.handle) == (&parent.0, parent.1, handle));
        if !same || record.status.is_closed() || record.cancel_requested {
            return Ok(false);
        }
        Ok(!crate::model::ever_asked_to_cancel(
            &self.store.history(id, 0)?,
        ))
    }
}

/// What [`Inner::resume_in_flight`] did with the running executions.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Resumed {
    /// Woken (loaded and replayed): they had something to take.
    pub woken: usize,
    /// Left asleep until what they wait for comes.
    pub waiting: usize,
}

/// Watches the store: while its writes fail (a full disk), probes it every
/// second with an empty write (which also reopens a store whose reopen
/// failed, and tells a quiet host that the disk has room again); once a
/// write succeeds, resumes the in-flight work, so nothing that failed to
/// commit is left behind. Should the disk still be full, the work fails again
/// and the watch starts over.
pub(super) fn spawn(inner: Arc<Inner>) {
    let mut failing = inner.store.write_failure();
    tokio::spawn(inner.clone().unless_closed(async move {
        loop {
            if failing.wait_for(Option::is_some).await.is_err() {
                return;
            }
            // Why (a full disk; a lease not confirmed lately, which a
            // renewal settles: this host writes again, or stops fenced).
            let why = failing.borrow().clone().unwrap_or_default();
            tracing::warn!(error = why, "store writes fail; in-flight work resumes once they succeed");
            while failing.borrow().is_some() {
                tokio::time::sleep(RETRY).await;
                let _ = inner.store.write(Vec::new()).await;
            }
            // Until it succeeds: what the failing writes refused (steps,
            // timer firings, deliveries) waits for nothing else. A write
            // failing again meanwhile starts the watch over.
            let mut again = super::again::Backoff::background();
            while failing.borrow().is_none() {
                let resumed = crate::store::StoreError::fail_point("resume-after-write-failure")
                    .and_then(|()| inner.resume_in_flight());
                match resumed {
                    Ok(_) => {
                        tracing::info!("store writes succeed again; in-flight work resumed");
                        break;
                    }
                    Err(StoreError::Io(e)) => {
                        let wait = again.step();
                        tracing::warn!(error = %e, "could not read the store to resume in-flight work; trying again in {wait:?}");
                        tokio::time::sleep(wait).await;
                    }
                    // Refused for good (a record that cannot be decoded):
                    // asking again would repeat the work done before it.
                    Err(e) => {
                        tracing::error!(error = %e, "could not read the store to resume in-flight work; it resumes at the next start");
                        break;
                    }
                }
            }
        }
    }));
}
