//! Activity dispatch: runs attempts of a scheduled activity until one
//! succeeds or the retry policy gives up. Every attempt's end is recorded
//! before anything acts on it: a retry is scheduled by an
//! `activity_attempt_failed` event carrying its due time, so a restart resumes
//! the schedule rather than losing or repeating it.

use std::sync::Arc;
use std::time::Duration;

use super::Inner;
use crate::model::{ActivityOptions, Event, EventKind, ExecutionId, Failure, Payload};
use crate::store::Op;
use crate::wasm::{ActivityCall, ActivityInfo, ActivityOutcome, ModuleError};

/// One scheduled activity that has not ended yet.
#[derive(Debug, Clone)]
pub struct ActivityTask {
    pub execution: ExecutionId,
    pub handle: u64,
    pub name: String,
    pub input: Payload,
    pub options: ActivityOptions,
    /// The attempt to run next (from 1).
    pub attempt: u32,
    /// Not before this host time (a retry's backoff).
    pub not_before_ms: u64,
    /// The execution's reset count when it was scheduled: after a reset its
    /// results are dropped.
    pub epoch: u32,
    /// Scheduled before the execution's cancellation request: it ends as
    /// cancelled without another attempt.
    pub cancelled: bool,
}

/// Activities scheduled in `history` that have not ended, as tasks to resume.
pub fn pending(execution: &ExecutionId, epoch: u32, history: &[Event]) -> Vec<ActivityTask> {
    let mut tasks: Vec<ActivityTask> = Vec::new();
    for e in history {
        match &e.event {
            EventKind::ActivityScheduled {
                handle,
                name,
                input,
                options,
            } => tasks.push(ActivityTask {
                execution: execution.clone(),
                handle: *handle,
                name: name.clone(),
                input: input.clone(),
                options: options.clone(),
                attempt: 1,
                not_before_ms: 0,
                epoch,
                cancelled: false,
            }),
            EventKind::CancelRequested { .. } => {
                for t in &mut tasks {
                    t.cancelled = true;
                }
            }
            EventKind::ActivityAttemptFailed {
                handle,
                attempt,
                retry_at_ms,
                ..
            } => {
                if let Some(t) = tasks.iter_mut().find(|t| t.handle == *handle) {
                    t.attempt = attempt + 1;
                    t.not_before_ms = *retry_at_ms;
                }
            }
            EventKind::ActivityCompleted { handle, .. }
            | EventKind::ActivityFailed { handle, .. } => {
                tasks.retain(|t| t.handle != *handle);
            }
            _ => {}
        }
    }
    tasks
}

pub(super) fn spawn(inner: Arc<Inner>, task: ActivityTask) {
    let (stop, stopped) = tokio::sync::watch::channel(task.cancelled);
    inner
        .activity_stops
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert((task.execution.clone(), task.handle), stop);
    tokio::spawn(async move {
        let key = (task.execution.clone(), task.handle);
        run(&inner, task, stopped).await;
        inner
            .activity_stops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    });
}

impl Inner {
    /// Stops a running activity: it records a `cancelled` failure instead of
    /// another attempt.
    pub(super) fn stop_activity(&self, execution: &ExecutionId, handle: u64) {
        if let Some(stop) = self
            .activity_stops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(execution.clone(), handle))
        {
            let _ = stop.send(true);
        }
    }
}

async fn run(
    inner: &Arc<Inner>,
    mut task: ActivityTask,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let policy = task
        .options
        .retry
        .clone()
        .unwrap_or_else(|| inner.config.default_retry.clone());
    let timeout = task
        .options
        .start_to_close_timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(inner.config.activity_timeout);
    loop {
        let work = async {
            inner.clock.sleep_until(task.not_before_ms).await;
            let _permit = inner.activity_slots.acquire().await;
            attempt(inner, &task, timeout).await
        };
        let outcome = tokio::select! {
            outcome = work => outcome,
            _ = async {
                while !*stopped.borrow() {
                    if stopped.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            } => {
                let event = EventKind::ActivityFailed {
                    handle: task.handle,
                    attempts: task.attempt,
                    failure: Failure::cancelled(&format!("activity `{}`", task.name)),
                };
                if record(inner, &task, inner.clock.now_ms(), event).await {
                    inner.wake(&task.execution);
                }
                return;
            }
        };
        crate::metrics::ACTIVITY_ATTEMPTS.inc();
        let now = inner.clock.now_ms();
        let event = match outcome {
            Ok(output) => EventKind::ActivityCompleted {
                handle: task.handle,
                attempt: task.attempt,
                output,
            },
            Err(failure) => {
                crate::metrics::ACTIVITY_FAILURES.inc();
                tracing::warn!(execution = %task.execution, activity = %task.name, attempt = task.attempt, %failure, "activity attempt failed");
                if policy.allows_retry(task.attempt, &failure) {
                    let retry_at_ms = now.saturating_add(policy.delay_after(task.attempt));
                    let event = EventKind::ActivityAttemptFailed {
                        handle: task.handle,
                        attempt: task.attempt,
                        failure,
                        retry_at_ms,
                    };
                    if !record(inner, &task, now, event).await {
                        return;
                    }
                    task.attempt += 1;
                    task.not_before_ms = retry_at_ms;
                    continue;
                }
                EventKind::ActivityFailed {
                    handle: task.handle,
                    attempts: task.attempt,
                    failure,
                }
            }
        };
        if record(inner, &task, now, event).await {
            inner.wake(&task.execution);
        }
        return;
    }
}

/// Appends one event; false if it could not be written (the activity then
/// runs again after a restart, which at-least-once allows).
/// After a reset the result is dropped (false): the reset dispatched its
/// activities again.
async fn record(inner: &Inner, task: &ActivityTask, now: u64, event: EventKind) -> bool {
    let execution = &task.execution;
    let mut op = Op::append(execution, now, vec![event]);
    if let Op::Append { expect_resets, .. } = &mut op {
        *expect_resets = Some(task.epoch);
    }
    match inner.store.write(vec![op]).await {
        Ok(out) if matches!(out.first(), Some(Ok(()))) => true,
        Ok(_) => {
            tracing::debug!(%execution, activity = %task.name, "dropped the result of an activity started before a reset");
            false
        }
        Err(e) => {
            tracing::error!(%execution, error = %e, "could not record an activity result");
            false
        }
    }
}

async fn attempt(
    inner: &Inner,
    task: &ActivityTask,
    timeout: Duration,
) -> Result<Payload, Failure> {
    let module = match inner.store.activity_module(&task.name) {
        Ok(Some(m)) => m,
        Ok(None) => {
            return Err(Failure::new(
                "activity-not-found",
                format!(
                    "no deployed activity component serves `{}`: deploy one with `weft deploy`",
                    task.name
                ),
            ))
        }
        Err(e) => return Err(Failure::new("host-error", e.to_string())),
    };
    tracing::info!(execution = %task.execution, activity = %task.name, handle = task.handle, attempt = task.attempt, "activity started");
    let call = ActivityCall {
        input: task.input.clone(),
        info: ActivityInfo {
            execution_id: task.execution.to_string(),
            activity_handle: task.handle,
            name: task.name.clone(),
            attempt: task.attempt,
            idempotency_key: format!("{}/{}", task.execution, task.handle),
        },
        timeout,
    };
    let store = inner.store.clone();
    let bytes = move || match store.module_bytes(&module) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(ModuleError::Invalid(format!(
            "module {module} is missing from the store"
        ))),
        Err(e) => Err(ModuleError::Invalid(e.to_string())),
    };
    let (outcome, lines) = inner.runtime.run_activity(&module, bytes, call).await;
    for line in lines {
        tracing::info!(target: "weft::activity", execution = %task.execution, activity = %task.name, attempt = task.attempt, "{line}");
    }
    match outcome {
        ActivityOutcome::Returned(r) => r,
        ActivityOutcome::Trapped(reason) => Err(Failure::new("activity-trap", reason)),
        ActivityOutcome::TimedOut(d) => Err(Failure::new(
            "timeout",
            format!(
                "start-to-close timeout: the attempt ran longer than {} ms",
                d.as_millis()
            ),
        )),
    }
}
