//! Bringing in-flight work back: at start (after a crash or a stop), and when
//! the store writes again after a disk error. Either way the store is the
//! truth: every timer row is armed, every activity the history scheduled and
//! nothing answered is dispatched (unless it runs already), and every running
//! execution is woken, which replays it.

use std::sync::Arc;
use std::time::Duration;

use super::{activities, Inner};
use crate::model::ExecutionStatus;
use crate::store::StoreError;

/// How often the store is probed while the disk refuses writes.
const RETRY: Duration = Duration::from_secs(1);

impl Inner {
    /// Re-arms timers, re-dispatches unanswered activities and wakes running
    /// executions. Returns how many executions it woke.
    pub(super) fn resume_in_flight(self: &Arc<Self>) -> Result<usize, StoreError> {
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
            tokio::spawn(async move { inner.settle_children(&id, owed).await });
        }
        let mut woken = 0;
        for status in [ExecutionStatus::Running, ExecutionStatus::Stalled] {
            for rec in self.store.executions(Some(status), None)? {
                let history = self.run_history(&rec)?;
                // After a storage fault some still run: spawn leaves those be.
                for (task, _) in activities::resume(self, &rec.id, rec.resets, &history)? {
                    activities::spawn(self.clone(), task);
                }
                if status == ExecutionStatus::Running {
                    self.wake(&rec.id);
                    woken += 1;
                }
            }
        }
        Ok(woken)
    }
}

/// Watches the store: while its writes fail (a full disk), probes it every
/// second with an empty write (which also reopens a store whose reopen
/// failed, and tells a quiet host that the disk has room again); once a
/// write succeeds, resumes the in-flight work, so nothing that failed to
/// commit is left behind. Should the disk still be full, the work fails again
/// and the watch starts over.
pub(super) fn spawn(inner: Arc<Inner>) {
    let mut failing = inner.store.write_failure();
    tokio::spawn(async move {
        loop {
            if failing.wait_for(Option::is_some).await.is_err() {
                return;
            }
            tracing::warn!("store writes fail; in-flight work resumes once they succeed");
            while failing.borrow().is_some() {
                tokio::time::sleep(RETRY).await;
                let _ = inner.store.write(Vec::new()).await;
            }
            match inner.resume_in_flight() {
                Ok(_) => tracing::info!("store writes succeed again; in-flight work resumed"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the store to resume in-flight work")
                }
            }
        }
    });
}
