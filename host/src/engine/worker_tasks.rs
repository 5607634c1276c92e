//! The workers' side of the task queues: a poll records the task it takes
//! before the worker gets it, an answer waits for its task's adoption by a
//! host that did not hand it out and is acknowledged once recorded, and a
//! token names the activity it runs.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::queues::{QueueStats, StaleToken, TaskKey, WorkerTask};
use super::unpolled::PollStop;
use super::{EngineError, Inner};
use crate::model::{ExecutionId, Failure, Payload};
use crate::store::{Op, TakenTask};

impl super::Engine {
    /// The task queues this host knows of: backlog, running, pollers.
    pub fn task_queues(&self) -> Vec<QueueStats> {
        self.inner.queues.stats()
    }

    /// Waits up to `wait` for an activity task on `queue` (or until
    /// `stop`: a take under way goes on). The task is recorded as taken
    /// before it is returned; `Err` when the store could not record it (the
    /// task stays queued).
    pub async fn poll_task(
        &self,
        queue: &str,
        wait: Duration,
        stop: Option<&PollStop>,
    ) -> Result<Option<WorkerTask>, EngineError> {
        let queues = &self.inner.queues;
        let deadline = tokio::time::Instant::now() + wait;
        // This engine's name in the poll: once it may take, it may again
        // (after a task no longer current).
        let poll = stop.map(|stop| (stop, super::unpolled::claim_id()));
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(claimed) = queues.claim(queue, left, poll).await else {
                return Ok(None);
            };
            let TaskKey {
                execution,
                run_start,
                epoch,
                handle,
            } = claimed.key.clone();
            let taken = TakenTask {
                token: claimed.task.token.clone(),
                attempt: claimed.task.attempt,
                at_ms: self.inner.clock.now_ms(),
                queue: Some(queue.to_owned()),
            };
            let op = Op::TaskTaken {
                id: execution,
                run_start,
                epoch,
                handle,
                taken,
            };
            // Dropped while the write is in flight (the poll's client went
            // away), the claim puts the task back.
            match self.inner.store.write(vec![op]).await {
                Ok(Ok(())) => {
                    crate::pause::point("task-taken-recorded").await;
                    if let Some(task) = claimed.hand_over() {
                        return Ok(Some(task));
                    }
                }
                // Its run closed, moved on or was reset, or it has its end:
                // the attempt is being stopped, nobody runs it.
                Ok(Err(e)) => {
                    tracing::debug!(token = %claimed.task.token, error = %e, "a task no longer current was not handed out");
                    claimed.discard();
                }
                // The claim goes back to the head of its queue.
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Records a worker's heartbeat; true when the activity was cancelled.
    pub async fn task_heartbeat(
        &self,
        token: &str,
        details: Option<Payload>,
    ) -> Result<bool, AnswerRefused> {
        self.inner.await_adoption(token).await?;
        Ok(self.inner.queues.heartbeat(token, details)?)
    }

    /// A worker's result for a task; returns once it is recorded.
    /// [`AnswerRefused::NotYet`] when it was not (the store failed, or
    /// this host lost the store meanwhile): the worker sends it again.
    pub async fn finish_task(
        &self,
        token: &str,
        result: Result<Payload, Failure>,
    ) -> Result<(), AnswerRefused> {
        self.inner.await_adoption(token).await?;
        let receipt = self.inner.queues.finish(token, result)?;
        tracing::debug!(%token, "a worker's answer waits for its record");
        // Resolves when the attempt's end is written or given up.
        let _ = receipt.written.await;
        // Its attempt ended another way before it took the answer (its
        // timeout fired as the answer came): nothing of it was recorded,
        // though the task's record is gone (cleared by that end).
        if !receipt.taken.load(Ordering::SeqCst) {
            return Err(StaleToken(token.to_owned()).into());
        }
        // An end recorded clears the task's record (a failed attempt) or
        // deletes it (the activity's end, its run's close or reset); one
        // still there was not recorded.
        match self.inner.taken_under(token) {
            Ok(false) => Ok(()),
            Ok(true) => Err(AnswerRefused::NotYet(
                "the answer could not be recorded (the store failed, or this host handed its \
                 store over): send it again"
                    .into(),
            )),
            Err(e) => Err(AnswerRefused::NotYet(format!(
                "whether the answer was recorded could not be read ({e}): send it again"
            ))),
        }
    }
}

/// Why a worker's heartbeat or answer was not taken.
#[derive(Debug, thiserror::Error)]
pub enum AnswerRefused {
    /// The attempt ended: nothing was changed, and sending it again changes
    /// nothing either.
    #[error(transparent)]
    Stale(#[from] StaleToken),
    /// Not taken now (the task's host is resuming it, or the store could
    /// not record it): send it again, to any host.
    #[error("{0}")]
    NotYet(String),
}

/// How long a worker's answer waits for the host to adopt its task (it
/// resumes the execution's activities at its start or takeover).
const ADOPTION_WAIT: Duration = Duration::from_secs(10);

/// A task's token: unique, and naming the activity it runs, so that a host
/// that did not hand it out finds its record (`<nonce>.<epoch>.<handle>.<execution id>`;
/// execution ids are URL-safe).
pub(super) fn token(execution: &ExecutionId, epoch: u32, handle: u64) -> String {
    let nonce = ulid::Ulid::new().to_string().to_lowercase();
    format!("{nonce}.{epoch}.{handle}.{execution}")
}

/// The (execution, epoch, handle) a [`token`] names.
fn token_names(token: &str) -> Option<(ExecutionId, u32, u64)> {
    let mut parts = token.splitn(4, '.');
    let (_nonce, epoch, handle, id) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((id.parse().ok()?, epoch.parse().ok()?, handle.parse().ok()?))
}

impl Inner {
    /// Whether the store says a worker holds the task under `token` (taken,
    /// and no end recorded for its attempt).
    fn taken_under(&self, token: &str) -> Result<bool, crate::store::StoreError> {
        let Some((id, epoch, handle)) = token_names(token) else {
            return Ok(false);
        };
        Ok(self
            .store
            .taken_task(&id, epoch, handle)?
            .is_some_and(|t| t.token == token))
    }

    /// An answer under a token this host does not run a task for waits
    /// while the store says a worker holds that task: the host is about to
    /// adopt it (it just started or took the store over), or a first answer
    /// under it is being recorded. Still unknown after the wait: not yet.
    async fn await_adoption(&self, token: &str) -> Result<(), AnswerRefused> {
        if self.queues.knows(token) {
            return Ok(());
        }
        match self.taken_under(token) {
            Ok(true) => {}
            // An attempt that ended (or a token of no task): stale.
            Ok(false) => return Ok(()),
            Err(e) => {
                return Err(AnswerRefused::NotYet(format!(
                    "the task could not be read ({e})"
                )))
            }
        }
        if self.queues.wait_known(token, ADOPTION_WAIT).await {
            return Ok(());
        }
        match self.taken_under(token) {
            Ok(false) => Ok(()),
            _ => Err(AnswerRefused::NotYet(
                "the task's attempt is being resumed or its last answer recorded: send it again"
                    .into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token names its activity, for a host that did not hand it out.
    #[test]
    fn a_token_names_its_activity() {
        let id: ExecutionId = "order.7:a-b_c".parse().unwrap();
        let t = token(&id, 3, 42);
        assert_eq!(token_names(&t), Some((id, 3, 42)));
        assert_eq!(token_names("not-a-token"), None);
    }
}
