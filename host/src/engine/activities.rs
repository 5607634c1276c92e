//! Activity dispatch: runs attempts of a scheduled activity until one
//! succeeds or the retry policy gives up. Every attempt's end is recorded
//! before anything acts on it: a retry is scheduled by an
//! `activity_attempt_failed` event carrying its due time, so a restart resumes
//! the schedule rather than losing or repeating it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::again::Backoff;
use super::queues::{Dispatch, Held, TaskKey, WorkerTask};
use super::Inner;
use crate::model::{
    ActivityOptions, AttemptEnd, AttemptState, CancellationType, Doors, Event, EventKind,
    ExecutionId, Failure, ModuleHash, Payload,
};
use crate::store::{AttemptContext, Op, OpError, Placed, StoreError};
use crate::wasm::{ActivityCall, ActivityInfo, ActivityOutcome, HeartbeatSink, ModuleError};

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
    /// The index of its run's `execution_started`: handles restart in each
    /// run, so this tells a run's activity from the one before it with the
    /// same handle (whose attempt may still be winding down).
    pub run_start: u64,
    /// Scheduled before the execution's cancellation request: it ends as
    /// cancelled without another attempt.
    pub cancelled: bool,
    /// When it was scheduled (host time): schedule-to-close counts from here.
    pub scheduled_at_ms: u64,
    /// What every attempt carries, as recorded when it was scheduled.
    pub idempotency_key: String,
    /// Scheduled by a workflow task this host just committed (not resumed
    /// from a history): nothing was recorded of it beyond its scheduling,
    /// so its first attempt has no heartbeat and no worker's take to read.
    pub fresh: bool,
    /// The length of its run's history right after the commit that
    /// scheduled it, when this host made that commit and nothing in it
    /// completed the activity: while the history is still that long,
    /// nothing was appended since, so no end of it either (see
    /// `Store::activity_may_start`).
    pub history_after: Option<u64>,
    /// The failure of the attempt before, when resumed from its retry state
    /// (a restart between two attempts): a timeout names it as the last.
    pub last_failure: Option<Failure>,
}

/// One scheduled activity on this host: (execution, epoch, handle). Every
/// run has its own epoch (a new run and a reset both move it), so a run's
/// handle never meets the one before it.
pub(super) type ActivityKey = (ExecutionId, u32, u64);

/// The key an activity scheduled in `run` of `execution` at `handle` gets:
/// `<execution>/<handle>` in the first run (the shape every key had before
/// runs were part of it, so executions running across the upgrade keep
/// their keys' meaning), `<execution>/<run>/<handle>` from the second run on
/// (an id holds no `/`, so the shapes never meet). Runs count
/// continue-as-new and new starts of the id, so no two scheduled activities
/// of one id share a key. A reset keeps the run, so an activity it runs
/// again at the same position gets the key of the one it discarded: an API
/// that deduplicates by key does not repeat a side effect the discarded
/// history already caused.
pub fn idempotency_key(execution: &ExecutionId, run: u32, handle: u64) -> String {
    if run <= 1 {
        format!("{execution}/{handle}")
    } else {
        format!("{execution}/{run}/{handle}")
    }
}

/// The id a child started without one gets: `<parent>-<handle>` in the
/// parent's first run, `<parent>-<run>-<handle>` from its second run on
/// (see [`idempotency_key`] for why the first run keeps the older shape).
pub fn default_child_id(parent: &ExecutionId, run: u32, handle: u64) -> String {
    if run <= 1 {
        format!("{parent}-{handle}")
    } else {
        format!("{parent}-{run}-{handle}")
    }
}

/// Activities scheduled in `history` that have not ended, as tasks to resume.
pub fn pending(execution: &ExecutionId, epoch: u32, history: &[Event]) -> Vec<ActivityTask> {
    let run_start = run_start(history);
    let mut tasks: Vec<ActivityTask> = Vec::new();
    for e in history {
        match &e.event {
            EventKind::ActivityScheduled {
                handle,
                name,
                input,
                options,
                idempotency_key,
            } => tasks.push(ActivityTask {
                execution: execution.clone(),
                handle: *handle,
                name: name.clone(),
                input: input.clone(),
                options: options.clone(),
                attempt: 1,
                not_before_ms: 0,
                epoch,
                run_start,
                cancelled: false,
                scheduled_at_ms: e.at_ms,
                // Recorded before keys were: the key its attempts had then.
                idempotency_key: idempotency_key
                    .clone()
                    .unwrap_or_else(|| format!("{execution}/{handle}")),
                fresh: false,
                history_after: None,
                last_failure: None,
            }),
            EventKind::CancelRequested { .. } => {
                for t in &mut tasks {
                    t.cancelled = true;
                }
            }
            EventKind::ActivityCancelRequested { target, .. } => {
                if let Some(t) = tasks.iter_mut().find(|t| t.handle == *target) {
                    t.cancelled = true;
                }
            }
            EventKind::ActivityAttemptFailed {
                handle,
                attempt,
                retry_at_ms,
                failure,
                ..
            } => {
                if let Some(t) = tasks.iter_mut().find(|t| t.handle == *handle) {
                    t.attempt = attempt + 1;
                    t.not_before_ms = *retry_at_ms;
                    t.last_failure = Some(failure.clone());
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

/// [`pending`], with the retry state kept beside the history applied: the
/// attempt due next and when, and the state itself (the last failure).
pub(super) fn resume(
    inner: &Inner,
    execution: &ExecutionId,
    epoch: u32,
    history: &[Event],
) -> Result<Vec<(ActivityTask, Option<AttemptState>)>, StoreError> {
    let states = inner.store.attempts(execution, run_start(history))?;
    Ok(pending(execution, epoch, history)
        .into_iter()
        .map(|mut task| {
            let state = states
                .iter()
                .find(|(h, s)| *h == task.handle && s.epoch == task.epoch)
                .map(|(_, s)| s.clone());
            if let Some(s) = &state {
                if s.attempt >= task.attempt {
                    task.attempt = s.attempt + 1;
                    task.not_before_ms = s.retry_at_ms;
                    task.last_failure = Some(s.failure.clone());
                }
            }
            (task, state)
        })
        .collect())
}

/// The index of the `execution_started` a run's `history` begins with.
fn run_start(history: &[Event]) -> u64 {
    history.first().map_or(0, |e| e.index)
}

/// Runs a scheduled activity to its end, unless it runs here already: the
/// live driver and recovery may both find it, and it runs once.
pub(super) fn spawn(inner: Arc<Inner>, task: ActivityTask) {
    let key = (task.execution.clone(), task.epoch, task.handle);
    // Cancelled before this host spawned it (a restart, a takeover): as a
    // cancellation reaching it now (`run` says what of it goes on).
    let (stop, stopped) = tokio::sync::watch::channel(match task.cancelled {
        true => Halt::Cancel,
        false => Halt::Run,
    });
    {
        let mut running = inner
            .activity_stops
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if running.contains_key(&key) {
            return;
        }
        running.insert(key.clone(), stop);
    }
    // Counted from here (time skipping must not find the host idle between
    // the step that scheduled it and its attempt): see `run`.
    let counted = inner.busy_attempt();
    let mut closed = inner.closed.subscribe();
    tokio::spawn(async move {
        // Boxed: an attempt's future is large, and a spawned future is
        // copied whole as it is moved into its task. A closed engine (its
        // partition handed over) drops its attempts where they stand,
        // writing and logging nothing: the next holder runs what was left
        // running, and adopts what a worker took (whose heartbeats and
        // answer go there now; here, its timeouts would fire for nothing).
        tokio::select! {
            () = Box::pin(run(&inner, task, stopped, counted)) => {}
            _ = closed.wait_for(|c| *c) => {}
        }
        inner
            .activity_stops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
    });
}

/// Whether a spawned activity goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Halt {
    Run,
    /// Cancelled by its workflow: the attempt running now gets a grace
    /// period to see it at a heartbeat and clean up; no other starts.
    Cancel,
    /// Its run closed, continued as new or was reset: it stops at once.
    Abort,
}

impl Inner {
    /// Cancels a running activity: it records a `cancelled` failure instead
    /// of another attempt (refused, and so not recorded, once its run
    /// closed); an attempt running now gets a grace period to clean up.
    pub(super) fn stop_activity(&self, execution: &ExecutionId, epoch: u32, handle: u64) {
        let key = (execution.clone(), epoch, handle);
        if let Some(stop) = self
            .activity_stops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            halt(stop, Halt::Cancel);
        }
    }

    /// Stops every activity attempt of a run that closed, continued as new
    /// or was reset, at once (`epoch`: the run's when they were scheduled):
    /// those still pending, and those whose handle a cancellation completed
    /// while their attempt winds down (in its grace period, or abandoned).
    pub(super) fn stop_activities(&self, execution: &ExecutionId, epoch: u32) {
        for (key, stop) in self
            .activity_stops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            if key.0 == *execution && key.1 == epoch {
                halt(stop, Halt::Abort);
            }
        }
    }
}

/// Tells a spawned activity to stop as `how` says: an abort overrides a
/// cancellation's grace, not the other way.
fn halt(stop: &tokio::sync::watch::Sender<Halt>, how: Halt) {
    stop.send_if_modified(|now| {
        let changes = *now == Halt::Run || how == Halt::Abort;
        if changes {
            *now = how;
        }
        changes
    });
}

/// Which timeout fired.
#[derive(Debug, Clone, Copy)]
enum Timeout {
    StartToClose,
    Heartbeat,
    ScheduleToClose,
    ScheduleToStart,
}

impl Timeout {
    fn name(self) -> &'static str {
        match self {
            Self::StartToClose => "start-to-close",
            Self::Heartbeat => "heartbeat",
            Self::ScheduleToClose => "schedule-to-close",
            Self::ScheduleToStart => "schedule-to-start",
        }
    }
}

/// The failure a timeout produces: which one, after how many attempts, and
/// the last error before it.
fn timeout_failure(
    which: Timeout,
    limit_ms: u64,
    attempts: u32,
    last: Option<&Failure>,
) -> Failure {
    let last_text = last.map_or_else(|| "none".to_owned(), |f| f.to_string());
    let mut f = Failure::new(
        "timeout",
        format!(
            "the {} timeout of {limit_ms} ms fired after {attempts} attempt(s); last error: {last_text}",
            which.name()
        ),
    );
    f.details = Some(serde_json::json!({
        "timeout": which.name(),
        "attempts": attempts,
        "last_failure": last,
    }));
    // A whole-activity timeout ends it; an attempt's is retried.
    f.non_retryable = matches!(which, Timeout::ScheduleToClose | Timeout::ScheduleToStart);
    f
}

/// How long (of the host's clock) a cancelled attempt may run on to clean
/// up, unless the activity has a heartbeat timeout (which is then its grace
/// period): it learns of the cancellation from its next heartbeat.
const CANCEL_GRACE: Duration = Duration::from_secs(10);

/// Waits until `stopped` says to stop at once.
async fn until_aborted(stopped: &mut tokio::sync::watch::Receiver<Halt>) {
    while *stopped.borrow() != Halt::Abort {
        if stopped.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// Waits until `stopped` says to stop.
async fn until_stopped(stopped: &mut tokio::sync::watch::Receiver<Halt>) {
    while *stopped.borrow() == Halt::Run {
        if stopped.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The queue an adopted task is counted under when its record does not
/// name the one it was taken from (recorded by a release before 2026-12-03).
const UNNAMED_QUEUE: &str = "(adopted)";

/// Whether a worker took `task`'s current attempt (its record says so),
/// asked until the store answers or the task is stopped at once.
async fn taken_by_a_worker(
    inner: &Inner,
    task: &ActivityTask,
    stopped: &mut tokio::sync::watch::Receiver<Halt>,
) -> bool {
    let mut again = Backoff::attempt();
    loop {
        match inner
            .store
            .taken_task(&task.execution, task.epoch, task.handle)
        {
            Ok(taken) => return taken.is_some_and(|t| t.attempt == task.attempt),
            Err(StoreError::Io(e)) => {
                tracing::debug!(execution = %task.execution, activity = %task.name, error = %e, "could not read whether a worker holds the cancelled activity; asking again");
            }
            Err(e) => {
                tracing::warn!(execution = %task.execution, activity = %task.name, error = %e, "could not read whether a worker holds the cancelled activity; it ends cancelled");
                return false;
            }
        }
        tokio::select! {
            _ = again.wait() => {}
            _ = until_aborted(stopped) => return false,
        }
    }
}

/// Whether a spawned activity may start. Registered by `spawn` before this
/// read: a reset or close committed before it is seen here (the task was
/// made from a history it discarded), as is an end written by an attempt
/// that ran meanwhile; one committed after it stops the task as it stops
/// every registered one. Asked until the store answers: an attempt started
/// on an unreadable store could be one of those stale ones, and the store's
/// refusal of its result would come after its side effect. A stop while
/// asking answers yes: the stop's own branch ends the task without an
/// attempt.
async fn may_start(
    inner: &Inner,
    task: &ActivityTask,
    stopped: &mut tokio::sync::watch::Receiver<Halt>,
) -> bool {
    let mut again = Backoff::attempt();
    loop {
        let read = crate::store::StoreError::fail_point("activity-may-start").and_then(|()| {
            inner.store.activity_may_start(
                &task.execution,
                task.run_start,
                task.epoch,
                task.handle,
                task.history_after,
            )
        });
        let error = match read {
            Ok(answer) => {
                // Said once the store answers after it could not: the
                // warning above is not left as the task's last word.
                if !again.is_first() {
                    tracing::info!(execution = %task.execution, activity = %task.name, handle = task.handle, may_start = answer, "the store answered whether the activity may start");
                }
                return answer;
            }
            Err(e) => e,
        };
        // Once per task at warn: an outage with thousands of tasks waiting
        // must not flood the log every two seconds each.
        if again.is_first() {
            tracing::warn!(execution = %task.execution, activity = %task.name, handle = task.handle, error = %error, "could not read whether the activity may start; asking again until the store answers");
        } else {
            tracing::debug!(execution = %task.execution, activity = %task.name, handle = task.handle, error = %error, "could not read whether the activity may start; asking again");
        }
        tokio::select! {
            _ = again.wait() => {}
            _ = until_stopped(stopped) => return true,
        }
    }
}

/// `counted` counts the activity as busy from its spawn until its first
/// attempt counts itself (or its backoff is a wait the clock knows).
async fn run(
    inner: &Arc<Inner>,
    mut task: ActivityTask,
    mut stopped: tokio::sync::watch::Receiver<Halt>,
    counted: Option<super::skip::BusyGuard>,
) {
    crate::pause::point("activity-spawned").await;
    if !may_start(inner, &task, &mut stopped).await {
        tracing::info!(execution = %task.execution, activity = %task.name, handle = task.handle, "activity not started: its run ended or was reset, or it has its end already");
        return;
    }
    if let Some(queue) = inner.config.activity_queues.get(&task.name) {
        task.options.task_queue = Some(queue.clone());
    }
    // Cancelled before this host spawned it: no attempt begins, but under
    // `wait-cancellation-completed` an attempt a worker took still runs on
    // the worker, and its handle waits for the worker's answer (told of the
    // cancellation at its heartbeats), as on the host that handed it out.
    let adopting = task.cancelled
        && task.options.cancellation_type() == CancellationType::WaitCancellationCompleted
        && taken_by_a_worker(inner, &task, &mut stopped).await;
    let policy = task
        .options
        .retry
        .clone()
        .unwrap_or_else(|| inner.config.default_retry.clone());
    let start_to_close = task
        .options
        .start_to_close_timeout_ms
        .unwrap_or(inner.config.activity_timeout.as_millis() as u64);
    let deadline = task
        .options
        .schedule_to_close_timeout_ms
        .map(|t| task.scheduled_at_ms.saturating_add(t));
    let mut last_failure: Option<Failure> = task.last_failure.take();
    let watch_stop = stopped.clone();
    // An attempt is running (not waiting for its backoff or a slot): only
    // such an attempt gets a cancellation's grace period.
    let in_attempt = AtomicBool::new(false);
    // The token of the attempt's task on a worker's queue, while queued.
    let queued: Queued = std::sync::Mutex::new(None);
    // What ran the latest attempt (`module:<sha-256>` or `queue:<name>`),
    // recorded with the activity's end.
    let served: Served = std::sync::Mutex::new(None);
    let by = || served.lock().unwrap_or_else(|p| p.into_inner()).clone();
    // The spawn's count, then the previous attempt's, lasts until the next
    // attempt's backoff is a wait the clock knows: time skipping must not
    // find the host idle with nothing to wait for in between.
    let mut carried = counted;
    loop {
        let work = async {
            let backoff = inner.clock.sleep_until(task.not_before_ms);
            drop(carried.take());
            backoff.await;
            // From here the activity runs (or waits for a slot), and until
            // its end is written and its execution woken: time skipping
            // waits for it.
            let running = inner.busy_attempt();
            // A slot bounds the attempts this host runs; one on a task queue
            // runs on a worker, and waiting for one must not hold a slot
            // (256 queued tasks with no worker stalled every component).
            // Held until the attempt's end is written, not only until it
            // returns: a host handing its store over waits for every slot,
            // and must not give the store up between an end and its record
            // (the next holder would run the attempt again).
            let slot = match task.options.task_queue {
                None => {
                    let permit = inner.activity_slots.acquire().await;
                    // A host handing its store over starts no attempt: the
                    // next holder runs it.
                    if *inner.draining.borrow() {
                        drop(permit);
                        return std::future::pending().await;
                    }
                    Some(permit)
                }
                Some(_) => None,
            };
            // Stopped meanwhile (or before the first attempt: a task
            // spawned cancelled, a reset during `activity_may_start`'s
            // read): no attempt begins; the stop's branch below ends it.
            if *watch_stop.borrow() != Halt::Run && !adopting {
                return std::future::pending().await;
            }
            let t0 = std::time::Instant::now();
            // A worker's task runs once a worker took it (see `attempt`).
            in_attempt.store(task.options.task_queue.is_none(), Ordering::SeqCst);
            // A worker's task, once taken, holds a permit of its queue's
            // as a component attempt holds its slot.
            let mut taken = Held::default();
            let outcome = match attempt(
                inner,
                &task,
                start_to_close,
                (&watch_stop, &in_attempt, &queued),
                &served,
                &mut taken,
            )
            .await
            {
                Attempted::Ended(outcome) => {
                    outcome.map_err(|f| within_limit(f, inner.config.max_payload_bytes, &task.name))
                }
                // Not attempted here: it waits, holding no slot and not
                // holding time skipping back, until it is stopped (its
                // run's end, a cancel, this host's store handed over) or
                // its schedule-to-close deadline. The next host to run the
                // execution's activities (one that provides the contract,
                // or this one upgraded) attempts it.
                Attempted::CannotRun => {
                    in_attempt.store(false, Ordering::SeqCst);
                    drop((slot, running));
                    return std::future::pending().await;
                }
            };
            in_attempt.store(false, Ordering::SeqCst);
            crate::metrics::get().activity_attempt.observe(t0.elapsed());
            (outcome, (slot, taken, running))
        };
        let whole = async {
            match deadline {
                Some(d) => inner.clock.sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let (outcome, held) = {
            let mut work = std::pin::pin!(work);
            tokio::select! {
                // A stop first: an attempt that ends as it is cancelled
                // ends through `cancelled`, which records how it ended,
                // whichever branch a fair select would have polled first.
                biased;
                _ = until_stopped(&mut stopped) => {
                    // A task a worker's poll is taking now runs (a worker
                    // has it), or is never handed out.
                    let taken = stop_queued(inner, &queued);
                    let running = adopting || in_attempt.load(Ordering::SeqCst) || taken;
                    cancelled(inner, &task, work, running, stopped, &served).await;
                    return;
                }
                _ = whole => {
                    stop_queued(inner, &queued);
                    crate::pause::point("schedule-to-close-fired").await;
                    let limit = task.options.schedule_to_close_timeout_ms.unwrap_or_default();
                    // The attempts that began: not one waiting for its
                    // backoff, a slot or a worker.
                    let began = if in_attempt.load(Ordering::SeqCst) {
                        task.attempt
                    } else {
                        task.attempt - 1
                    };
                    // Named twice (its text and its details): a quarter each.
                    let last = last_failure
                        .clone()
                        .map(|f| within_limit(f, inner.config.max_payload_bytes / 4, &task.name));
                    let failure = timeout_failure(Timeout::ScheduleToClose, limit, began, last.as_ref());
                    finish(inner, &task, Err(failure), by()).await;
                    return;
                }
                // A stop set while the attempt ended (between this select's
                // poll of the stop and of the work: the attempt saw it at a
                // heartbeat and returned) ends through `cancelled` too.
                ended = &mut work => {
                    if *stopped.borrow() != Halt::Run {
                        cancelled(inner, &task, std::future::ready(ended), true, stopped, &served).await;
                        return;
                    }
                    ended
                }
            }
        };
        // The attempt ended; its end is not written yet.
        crate::pause::point("activity-ended").await;
        crate::metrics::get().attempt(&task.name, outcome.is_err());
        let now = inner.clock.now_ms();
        let failure = match outcome {
            Ok(output) => {
                finish(inner, &task, Ok(output), by()).await;
                return;
            }
            Err(failure) => failure,
        };
        tracing::warn!(execution = %task.execution, activity = %task.name, attempt = task.attempt, %failure, "activity attempt failed");
        let retry_at_ms = now.saturating_add(policy.delay_after(task.attempt));
        let past_deadline = deadline.is_some_and(|d| retry_at_ms >= d);
        if !policy.allows_retry(task.attempt, &failure) || past_deadline {
            let failure = if past_deadline && policy.allows_retry(task.attempt, &failure) {
                let limit = task
                    .options
                    .schedule_to_close_timeout_ms
                    .unwrap_or_default();
                // Named twice (its text and its details): a quarter each.
                let last = within_limit(failure, inner.config.max_payload_bytes / 4, &task.name);
                timeout_failure(Timeout::ScheduleToClose, limit, task.attempt, Some(&last))
            } else {
                failure
            };
            finish(inner, &task, Err(failure), by()).await;
            return;
        }
        // The retry is decided durably beside the history: a restart
        // resumes it, and a long outage does not grow the history.
        let op = Op::AttemptFailed {
            id: task.execution.clone(),
            run_start: task.run_start,
            handle: task.handle,
            state: AttemptState {
                epoch: task.epoch,
                attempt: task.attempt,
                failure: failure.clone(),
                retry_at_ms,
                failed_at_ms: now,
                served_by: by(),
            },
        };
        if write(inner, &task, op).await != Recorded::Yes {
            return;
        }
        last_failure = Some(failure);
        task.attempt += 1;
        task.not_before_ms = retry_at_ms;
        let (_slot, _taken, running) = held;
        carried = running;
    }
}

/// A cancellation reached a running activity. It is never retried. With no
/// attempt running (a backoff, a wait for a slot or a worker) or when its
/// run ended, its handle completes `cancelled` at once. Otherwise its
/// cancellation type decides:
/// - `try-cancel`: the handle completes `cancelled` at once; the attempt
///   learns of it at its next heartbeat and gets a grace period (its
///   heartbeat timeout, or [`CANCEL_GRACE`]) to return;
///   `activity_cancel_ended` records how it ended.
/// - `wait-cancellation-completed`: the same, but the handle completes only
///   when the attempt ended: with what it returned, or `cancelled` when its
///   grace ran out.
/// - `abandon`: the handle completes `cancelled` at once; the attempt is not
///   told (its heartbeats answer false) and runs on under its own timeouts;
///   `activity_cancel_ended` records how it ended.
async fn cancelled<Slot>(
    inner: &Arc<Inner>,
    task: &ActivityTask,
    work: impl std::future::Future<Output = (Result<Payload, Failure>, Slot)>,
    in_attempt: bool,
    mut stopped: tokio::sync::watch::Receiver<Halt>,
    served: &Served,
) {
    let by = || served.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let plain = Failure::cancelled(&format!("activity `{}`", task.name));
    let running = *stopped.borrow() == Halt::Cancel && in_attempt;
    if !running {
        finish(inner, task, Err(plain), by()).await;
        crate::pause::point("activity-stopped").await;
        return;
    }
    let kind = task.options.cancellation_type();
    if kind != CancellationType::WaitCancellationCompleted
        && finish(inner, task, Err(plain.clone()), by()).await != Recorded::Yes
    {
        return;
    }
    let grace = match kind {
        CancellationType::Abandon => None,
        _ => Some(
            task.options
                .heartbeat_timeout_ms
                .map_or(CANCEL_GRACE, Duration::from_millis),
        ),
    };
    let ended = tokio::select! {
        ended = async {
            match grace {
                // On the host's clock, as every activity timeout.
                Some(g) => {
                    let due = inner.clock.now_ms().saturating_add(g.as_millis() as u64);
                    tokio::select! {
                        ended = work => Some(ended),
                        _ = inner.clock.sleep_until(due) => None,
                    }
                }
                None => Some(work.await),
            }
        } => ended,
        _ = until_aborted(&mut stopped) => {
            tracing::info!(execution = %task.execution, activity = %task.name, handle = task.handle, "cancelled activity stopped: its run closed meanwhile");
            return;
        }
    };
    // The slot stays taken until the end below is written (see `run`).
    let (ended, _slot) = ended.unzip();
    let grace_ms = grace.map_or(0, |g| g.as_millis() as u64);
    if kind == CancellationType::WaitCancellationCompleted {
        // The attempt's end is the handle's completion.
        let result = match ended {
            Some(Ok(output)) => Ok(output),
            Some(Err(f)) => Err(Failure {
                non_retryable: true,
                ..f
            }),
            None => Err(Failure::new(
                "cancelled",
                format!(
                    "activity `{}` was cancelled and did not end within its grace period of \
                     {grace_ms} ms",
                    task.name
                ),
            )),
        };
        finish(inner, task, result, by()).await;
        return;
    }
    let (how, failure) = match ended {
        Some(Ok(_)) => (AttemptEnd::Completed, None),
        Some(Err(f)) if f.is_cancelled() => (AttemptEnd::Acknowledged, Some(f)),
        Some(Err(f)) => (AttemptEnd::Failed, Some(f)),
        None => (AttemptEnd::GraceExpired, None),
    };
    let event = EventKind::ActivityCancelEnded {
        handle: task.handle,
        attempt: task.attempt,
        ended: how,
        failure,
    };
    tracing::info!(execution = %task.execution, activity = %task.name, handle = task.handle, ended = ?how, "cancelled activity's attempt ended");
    record(inner, task, inner.clock.now_ms(), event).await;
}

/// Records how the activity ended and wakes its workflow. An output over
/// the payload limit fails the activity instead.
async fn finish(
    inner: &Arc<Inner>,
    task: &ActivityTask,
    result: Result<Payload, Failure>,
    served_by: Option<String>,
) -> Recorded {
    let result = match result {
        Ok(out) if out.len() > inner.config.max_payload_bytes => Err(Failure {
            non_retryable: true,
            ..Failure::new(
                "payload-too-large",
                format!(
                    "the output of activity `{}` is {} bytes, over the limit of {} bytes",
                    task.name,
                    out.len(),
                    inner.config.max_payload_bytes
                ),
            )
        }),
        other => other,
    };
    let event = match result {
        Ok(output) => EventKind::ActivityCompleted {
            handle: task.handle,
            attempt: task.attempt,
            output,
            served_by,
        },
        Err(failure) => {
            let policy = task
                .options
                .retry
                .clone()
                .unwrap_or_else(|| inner.config.default_retry.clone());
            EventKind::ActivityFailed {
                handle: task.handle,
                attempts: task.attempt,
                served_by,
                retry_state: Some(crate::model::RetryState::of(
                    &failure,
                    task.attempt,
                    &policy,
                )),
                failure,
            }
        }
    };
    // The end travels with the wake: the instance need not read it back.
    let now = inner.clock.now_ms();
    let placed = Placed::default();
    let mut op = Op::append(&task.execution, now, vec![event.clone()]);
    if let Op::Append {
        expect_resets,
        placed: at,
        ..
    } = &mut op
    {
        *expect_resets = Some(task.epoch);
        *at = Some(placed.clone());
    }
    let recorded = write(inner, task, op).await;
    if recorded == Recorded::Yes {
        inner.wake_with(&task.execution, placed.position(), vec![event]);
    }
    recorded
}

/// What ran an activity's latest attempt.
type Served = std::sync::Mutex<Option<String>>;

/// Whether an attempt's end was recorded.
#[derive(Debug, PartialEq, Eq)]
enum Recorded {
    Yes,
    /// The store refused it: the run closed, was reset or continued as new
    /// (its epoch moved), or the handle already has its completion. The
    /// activity stops: nothing more of it belongs in the history.
    Refused,
    /// The store is gone (the host is stopping, or another host holds it
    /// now), or refused the write for a while: the activity runs again
    /// after a restart or on the next holder, which at-least-once allows.
    Failed,
}

/// Appends one event of the activity, guarded by the epoch it was scheduled in.
async fn record(inner: &Inner, task: &ActivityTask, now: u64, event: EventKind) -> Recorded {
    let mut op = Op::append(&task.execution, now, vec![event]);
    if let Op::Append { expect_resets, .. } = &mut op {
        *expect_resets = Some(task.epoch);
    }
    write(inner, task, op).await
}

/// Tries of a write the store failed for a reason of its own (half a
/// second, doubling: about fifteen seconds in all) before the activity is
/// left to the next start.
const OWN_FAILURE_TRIES: u32 = 6;

/// Writes one op of the activity; waits out a disk that refuses writes,
/// and writes again, later and later, what the store failed for a reason
/// of its own.
async fn write(inner: &Inner, task: &ActivityTask, op: Op) -> Recorded {
    let execution = &task.execution;
    let mut again = Backoff::background();
    let mut tries = 0;
    loop {
        match inner.store.write(vec![op.clone()]).await {
            Ok(Ok(())) => return Recorded::Yes,
            Ok(Err(e)) => return refused(task, e),
            // The disk refused the write: keep the result and write it once
            // the store writes again, instead of running the side effect
            // again (recovery leaves an activity that still runs alone).
            Err(StoreError::Io(reason)) => {
                tracing::warn!(%execution, activity = %task.name, %reason, "could not record an activity's end; it is written once the store writes again");
                let mut failing = inner.store.write_failure();
                let _ = failing.wait_for(Option::is_none).await;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e @ (StoreError::Fenced(_) | StoreError::GivenUp | StoreError::CommitterGone)) => {
                tracing::info!(%execution, activity = %task.name, error = %e, "could not record an activity's end; it runs again where the store is held next");
                return Recorded::Failed;
            }
            // Refused by the database (a statement it will not run now) or
            // met a record it cannot decode: the end is kept and written
            // again for a while (an operator's change passing), instead of
            // dropped at once for a restart to run the side effect again;
            // a refusal that lasts leaves it to the next start (the attempt's
            // slot is not held for ever).
            Err(e) => {
                tries += 1;
                if tries >= OWN_FAILURE_TRIES {
                    tracing::error!(%execution, activity = %task.name, error = %e, tries, "could not record an activity's end; it runs again at the next start");
                    return Recorded::Failed;
                }
                tracing::warn!(%execution, activity = %task.name, error = %e, tries, "could not record an activity's end; writing it again later");
                again.wait().await;
            }
        }
    }
}

/// Why the store refused an activity's event: the activity stops.
fn refused(task: &ActivityTask, e: OpError) -> Recorded {
    let why = match e {
        OpError::Closed { .. } => "its execution closed",
        OpError::Stale(_) => "its run ended or was reset",
        OpError::AlreadyCompleted { .. } => "it already has its completion",
        _ => "the store refused its result",
    };
    tracing::info!(execution = %task.execution, activity = %task.name, handle = task.handle, error = %e, "activity stopped: {why}");
    Recorded::Refused
}

/// Runs one attempt: in the host's activity component, or on an external
/// worker when the activity names a task queue. Ends with its result, or a
/// start-to-close, heartbeat or schedule-to-start timeout, on workflow time.
/// `running` is set once a worker took the attempt's task (a component's
/// attempt is running from the start): a cancellation before then
/// completes the handle at once.
async fn attempt(
    inner: &Arc<Inner>,
    task: &ActivityTask,
    start_to_close: u64,
    (stopped, running, queued): (&tokio::sync::watch::Receiver<Halt>, &AtomicBool, &Queued),
    served: &Served,
    held: &mut Held,
) -> Attempted {
    let mut again = Backoff::attempt();
    let context = loop {
        let read = crate::store::StoreError::fail_point("attempt-context").and_then(|()| {
            inner.store.attempt_context(
                &task.name,
                &task.execution,
                (task.epoch, task.handle),
                task.fresh && task.attempt == 1,
            )
        });
        match read {
            Ok(c) => break c,
            // The disk failed and the store is being opened again, or the
            // database cannot answer now: the attempt has not begun, so it
            // waits instead of failing (a host's full disk must not use up
            // an activity's attempts). A worker's task waits too: its
            // record says whether a worker took it already, and one
            // assumed untaken would be queued again for a second worker.
            // Stopped meanwhile (its run ended, or it was cancelled): it
            // never began.
            // (A cancelled task adopting a worker's attempt asks on.)
            Err(StoreError::Io(_)) if *stopped.borrow() != Halt::Run && !task.cancelled => {
                return Attempted::never_began();
            }
            Err(StoreError::Io(reason)) => {
                if again.is_first() {
                    tracing::warn!(execution = %task.execution, activity = %task.name, %reason, "the store cannot be read; the attempt starts once it can");
                }
                let mut failing = inner.store.write_failure();
                let _ = failing.wait_for(Option::is_none).await;
                again.wait().await;
            }
            // A worker's task whose record cannot be decoded: its last
            // heartbeat is worth no failure.
            Err(e) if task.options.task_queue.is_some() => {
                tracing::warn!(execution = %task.execution, error = %e, "could not read the last heartbeat");
                break AttemptContext::default();
            }
            Err(e) => return Attempted::Ended(Err(Failure::new("host-error", e.to_string()))),
        }
    };
    // A worker took this attempt from a host that then crashed or handed
    // its store over: it is adopted under the worker's token, from the
    // queue it was taken from, whatever the route says now (a host started
    // again without the `--route-activity` that sent it there must not run
    // it a second time; the attempts after it follow the route).
    let adopted = context.taken.filter(|t| t.attempt == task.attempt);
    // A task cancelled before this host spawned it only adopts.
    if task.cancelled && adopted.is_none() {
        return Attempted::never_began();
    }
    let queue = match &adopted {
        Some(t) => Some(
            t.queue
                .clone()
                .or_else(|| task.options.task_queue.clone())
                .unwrap_or_else(|| UNNAMED_QUEUE.to_owned()),
        ),
        None => task.options.task_queue.clone(),
    };
    if let (None, Some((module, _))) = (&queue, &context.module) {
        if let Err(not) = load_component(inner, task, module, stopped).await {
            return not;
        }
        // A compile can take seconds: stopped meanwhile, it never begins.
        if *stopped.borrow() != Halt::Run {
            return Attempted::never_began();
        }
    }
    let (details, kept_beat) = (context.heartbeat, context.heartbeat_seq);
    let started = Arc::new(AtomicU64::new(inner.clock.now_ms()));
    let last_beat = Arc::new(AtomicU64::new(inner.clock.now_ms()));
    let beats = super::heartbeats::Beats::new(
        inner.store.clone(),
        (
            task.execution.clone(),
            task.run_start,
            task.epoch,
            task.handle,
        ),
        task.attempt,
        kept_beat,
        inner.config.max_payload_bytes,
    );
    let sink: HeartbeatSink = {
        let inner = inner.clone();
        let last_beat = last_beat.clone();
        let stopped = stopped.clone();
        // An abandoned activity is never told.
        let told = task.options.cancellation_type() != CancellationType::Abandon;
        Arc::new(move |details: Option<Payload>| {
            last_beat.store(inner.clock.now_ms(), Ordering::SeqCst);
            if let Some(details) = details {
                beats.offer(details);
            }
            told && *stopped.borrow() != Halt::Run
        })
    };
    let info = ActivityInfo {
        execution_id: task.execution.to_string(),
        activity_handle: task.handle,
        name: task.name.clone(),
        attempt: task.attempt,
        idempotency_key: task.idempotency_key.clone(),
        heartbeat_details: details,
    };
    tracing::info!(execution = %task.execution, activity = %task.name, handle = task.handle, attempt = task.attempt, "activity started");
    let heartbeat_timeout = task.options.heartbeat_timeout_ms;
    let watchdog = async {
        // Start-to-close counts from when the attempt starts running (for a
        // queued task: when a worker takes it).
        loop {
            let from = started.load(Ordering::SeqCst);
            let due_close = from.saturating_add(start_to_close);
            let due_beat = heartbeat_timeout
                .map(|t| last_beat.load(Ordering::SeqCst).saturating_add(t))
                .unwrap_or(u64::MAX);
            inner.clock.sleep_until(due_close.min(due_beat)).await;
            let now = inner.clock.now_ms();
            if now
                >= started
                    .load(Ordering::SeqCst)
                    .saturating_add(start_to_close)
            {
                return timeout_failure(Timeout::StartToClose, start_to_close, task.attempt, None);
            }
            if let Some(t) = heartbeat_timeout {
                if now >= last_beat.load(Ordering::SeqCst).saturating_add(t) {
                    return timeout_failure(Timeout::Heartbeat, t, task.attempt, None);
                }
            }
        }
    };
    let by = match (&queue, &context.module) {
        (Some(q), _) => Some(format!("queue:{q}")),
        (None, Some((hash, _))) => Some(format!("module:{hash}")),
        (None, None) => None,
    };
    *served.lock().unwrap_or_else(|p| p.into_inner()) = by;
    Attempted::Ended(match queue {
        None => {
            let run = run_component(inner, task, context.module, info, start_to_close, sink);
            tokio::select! {
                r = run => r,
                f = watchdog => Err(f),
            }
        }
        Some(queue) => {
            let token = match &adopted {
                Some(t) => t.token.clone(),
                None => super::worker_tasks::token(&task.execution, task.epoch, task.handle),
            };
            let worker_task = WorkerTask {
                token: token.clone(),
                execution_id: info.execution_id.clone(),
                activity_handle: task.handle,
                name: task.name.clone(),
                input: task.input.clone(),
                attempt: task.attempt,
                idempotency_key: info.idempotency_key.clone(),
                heartbeat_details: info.heartbeat_details.clone(),
                heartbeat_timeout_ms: heartbeat_timeout,
                start_to_close_timeout_ms: start_to_close,
            };
            // Dropped with this attempt however it ends (a result, a
            // timeout, a cancel that drops the future): the queue forgets it.
            let key = TaskKey {
                execution: task.execution.clone(),
                run_start: task.run_start,
                epoch: task.epoch,
                handle: task.handle,
            };
            let Dispatch {
                taken,
                done,
                forget: _forget,
            } = match &adopted {
                Some(t) => {
                    // Its worker took it before this host held the store.
                    running.store(true, Ordering::SeqCst);
                    tracing::info!(execution = %task.execution, activity = %task.name, attempt = task.attempt, "a worker's task adopted under its token");
                    inner.queues.adopt(&queue, &t.token, &key, sink)
                }
                None => {
                    *queued.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
                    inner.queues.push(&queue, worker_task, key, sink)
                }
            };
            let schedule_to_start = task.options.schedule_to_start_timeout_ms;
            let queued_at = inner.clock.now_ms();
            let wait_taken = async {
                tokio::select! {
                    // A worker that took the task as the deadline came has
                    // it: the take wins (the worker runs it, and answers).
                    biased;
                    permit = taken => Ok(permit.ok()),
                    _ = async {
                        match schedule_to_start {
                            Some(t) => {
                                inner.clock.sleep_until(queued_at.saturating_add(t)).await;
                                // A host handing its store over hands out
                                // no task: the timeout is not the workers'
                                // doing. The next holder queues the task
                                // afresh, its schedule-to-start from then.
                                if *inner.draining.borrow() {
                                    tracing::info!(execution = %task.execution, activity = %task.name, handle = task.handle, "schedule-to-start passed while this host hands its store over: the task is left to the next holder");
                                    std::future::pending::<()>().await;
                                }
                            }
                            None => std::future::pending().await,
                        }
                    } => Err(timeout_failure(
                        Timeout::ScheduleToStart,
                        schedule_to_start.unwrap_or_default(),
                        task.attempt,
                        None,
                    )),
                }
            };
            let result = match wait_taken.await {
                Err(f) => Err(f),
                Ok(permit) => {
                    running.store(true, Ordering::SeqCst);
                    // Held until the task's end is written (see `run`).
                    held.permit = permit;
                    let now = inner.clock.now_ms();
                    // An adopted task started when its worker took it; its
                    // heartbeat timeout counts from the adoption.
                    let from = adopted.as_ref().map_or(now, |t| t.at_ms.min(now));
                    started.store(from, Ordering::SeqCst);
                    last_beat.store(now, Ordering::SeqCst);
                    tokio::select! {
                        // An answer that came as the timeout fired wins.
                        biased;
                        r = done => match r {
                            Ok(answer) => {
                                answer.taken.store(true, Ordering::SeqCst);
                                // Told once the end is written (see `run`).
                                held.recorded = Some(answer.recorded);
                                answer.result
                            }
                            Err(_) => Err(Failure::new("worker-lost", "the task was dropped")),
                        },
                        f = watchdog => Err(f),
                    }
                }
            };
            result
        }
    })
}

/// An attempt's failure held to the payload limit, as its output is: one
/// over it keeps its kind (cut to 200 bytes), its retryability and as much
/// of its message as fits; its details are dropped.
fn within_limit(failure: Failure, limit: usize, activity: &str) -> Failure {
    let size_of = |f: &Failure| serde_json::to_vec(f).map_or(usize::MAX, |b| b.len());
    let size = size_of(&failure);
    if size <= limit {
        return failure;
    }
    let cut = |text: &str, most: usize| -> String {
        let mut end = most.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    };
    let note = format!(
        " [cut: the failure of activity `{activity}` was {size} bytes, over the limit of {limit} \
         bytes; its details were dropped]"
    );
    // Escapes may take several bytes a character: halved until it fits.
    let mut room = limit;
    loop {
        let cut_failure = Failure {
            kind: cut(&failure.kind, 200.min(room)),
            message: format!("{}{note}", cut(&failure.message, room)),
            details: None,
            non_retryable: failure.non_retryable,
        };
        if size_of(&cut_failure) <= limit || room == 0 {
            return cut_failure;
        }
        room /= 2;
    }
}

/// The token of an attempt's task on a worker's queue (see [`stop_queued`]).
type Queued = std::sync::Mutex<Option<String>>;

/// An attempt stops (a cancel, its deadline): whether a worker has its
/// queued task; if none has, none gets it.
fn stop_queued(inner: &Inner, queued: &Queued) -> bool {
    let token = queued.lock().unwrap_or_else(|p| p.into_inner()).take();
    token.is_some_and(|t| inner.queues.stop_unless_taken(&t))
}

/// How an attempt ended, or that this host cannot make it.
enum Attempted {
    Ended(Result<Payload, Failure>),
    /// The activity's component was built for a newer `weft:workflow`
    /// contract than this host provides: no attempt is made here.
    CannotRun,
}

impl Attempted {
    /// Stopped (its run ended, or it was cancelled) before it began.
    fn never_began() -> Attempted {
        Attempted::Ended(Err(Failure::new(
            "cancelled",
            "stopped before the attempt could begin",
        )))
    }
}

/// Loads an activity's component before its attempt's time starts. A store
/// that cannot be read now is asked again until it answers: the attempt
/// has not begun, and a cut connection or a disk error must not use up an
/// activity's attempts (under a policy of one, fail it for good). A
/// component built for a newer contract than this host's is not attempted
/// here ([`Attempted::CannotRun`]). A component that cannot be loaded for
/// any other reason (it is broken) fails the attempt, as a trap does.
async fn load_component(
    inner: &Arc<Inner>,
    task: &ActivityTask,
    module: &ModuleHash,
    stopped: &tokio::sync::watch::Receiver<Halt>,
) -> Result<(), Attempted> {
    // The usual case, on the hot path: kept since its first attempt.
    if inner.runtime.is_loaded(module) {
        return Ok(());
    }
    let mut again = Backoff::attempt();
    loop {
        let unread = super::modules::Unread::default();
        let bytes = super::modules::bytes_reader(
            inner.store.clone(),
            *module,
            "activity-module-bytes",
            unread.clone(),
        );
        let e = match inner.runtime.prepare(module, bytes).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if matches!(e, ModuleError::NewerContract { .. }) {
            crate::metrics::get().activities_not_runnable.inc();
            tracing::error!(execution = %task.execution, activity = %task.name, handle = task.handle, %module, error = %e, "this host cannot run the activity: it waits for a host that provides its contract (upgrade this one)");
            return Err(Attempted::CannotRun);
        }
        // Only a store that could not answer now is asked again (as for
        // the attempt's context); one that refused the read for good
        // (corrupt, a statement refused) fails the attempt.
        let failed = match unread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(StoreError::Io(reason)) => reason,
            Some(other) => {
                return Err(Attempted::Ended(Err(Failure::new(
                    "host-error",
                    other.to_string(),
                ))))
            }
            None => {
                return Err(Attempted::Ended(Err(Failure::new(
                    "activity-trap",
                    format!("module {module} cannot be loaded: {e}"),
                ))))
            }
        };
        if *stopped.borrow() != Halt::Run {
            return Err(Attempted::never_began());
        }
        if again.is_first() {
            tracing::warn!(execution = %task.execution, activity = %task.name, handle = task.handle, reason = %failed, "could not read the activity's component; the attempt starts once the store answers");
        }
        let mut stopped = stopped.clone();
        tokio::select! {
            _ = again.wait() => {}
            _ = until_stopped(&mut stopped) => return Err(Attempted::never_began()),
        }
    }
}

/// Whether this host may act on the world for its attempts now: not while
/// it cannot confirm that it holds its PostgreSQL store (paused or cut off
/// past its lease: another host may be running the same attempt already).
/// Its attempts' writes are refused then too; this holds what is no write,
/// an activity's outgoing request.
fn may_act(inner: &Arc<Inner>) -> crate::wasm::MayAct {
    let store = inner.store.clone();
    Arc::new(move || {
        store.hold_problem().map_or(Ok(()), |why| {
            Err(format!(
                "{why}; another host may be running this attempt, so the request waits"
            ))
        })
    })
}

async fn run_component(
    inner: &Arc<Inner>,
    task: &ActivityTask,
    module: Option<(ModuleHash, Doors)>,
    info: ActivityInfo,
    start_to_close: u64,
    heartbeat: HeartbeatSink,
) -> Result<Payload, Failure> {
    let (module, doors) = match module {
        Some(m) => m,
        None => {
            if task.attempt == 1 {
                // Said once, when it is scheduled: it retries under its
                // policy until a component serving the name is deployed.
                tracing::warn!(execution = %task.execution, activity = %task.name, handle = task.handle, "no deployed activity component serves this name: its attempts fail until one is deployed (weft describe shows it as unserved)");
            }
            return Err(Failure::new(
                "activity-not-found",
                format!(
                    "no deployed activity component serves `{}`: deploy one with `weft deploy`, \
                     or give the activity a task queue that workers poll",
                    task.name
                ),
            ));
        }
    };
    let call = ActivityCall {
        input: task.input.clone(),
        info,
        // A backstop in real time; the watchdog enforces it on workflow time.
        timeout: Duration::from_millis(start_to_close),
        heartbeat,
        doors,
        may_act: may_act(inner),
    };
    // Loaded by `load_component` already: the runtime keeps what it loads.
    let bytes = super::modules::bytes_reader(
        inner.store.clone(),
        module,
        "activity-module-bytes",
        Default::default(),
    );
    let (outcome, lines) = inner.runtime.run_activity(&module, bytes, call).await;
    let source = format!(
        "activity {} #{} attempt {}",
        task.name, task.handle, task.attempt
    );
    for line in lines {
        inner.logs.push(
            &task.execution,
            inner.clock.now_ms(),
            source.clone(),
            "info",
            &line,
        );
        tracing::info!(target: "weft::activity", execution = %task.execution, activity = %task.name, attempt = task.attempt, "{line}");
    }
    match outcome {
        ActivityOutcome::Returned(r) => r,
        ActivityOutcome::Trapped(reason) => Err(Failure::new("activity-trap", reason)),
        ActivityOutcome::TimedOut(d) => Err(timeout_failure(
            Timeout::StartToClose,
            d.as_millis() as u64,
            task.attempt,
            None,
        )),
    }
}
