//! One execution's life in memory: load its current run (replaying its
//! history), run the guest until it ends, is evicted or stalls, and record how
//! it ended: closed (telling its parent, applying its children's close
//! policy), continued as new, or stalled.

use std::any::Any;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::driver::{Driver, Flush, TaskBatch};
use super::error::Stop;
use super::replay::Replayer;
use super::Inner;
use crate::model::{EventKind, ExecutionId, ExecutionRecord, ExecutionStatus, Failure, Payload};
use crate::store::{Close, Op, OpError, StoreError};
use crate::wasm::{ModuleError, RunOutcome, WorkflowInfo};

/// A run's record and history as its writer knows them (a start that just
/// committed them), so the load reads neither back.
pub(super) struct Loaded {
    pub record: ExecutionRecord,
    pub history: Vec<crate::model::Event>,
}

/// `busy` counts the load as work in progress from the moment it was asked
/// for (time skipping waits for it).
pub(super) async fn run(
    inner: Arc<Inner>,
    id: ExecutionId,
    mailbox: mpsc::UnboundedReceiver<super::mailbox::Mail>,
    busy: Option<super::skip::BusyGuard>,
    loaded: Option<Loaded>,
) {
    // The slot first, in this small future; the instance's own (large)
    // future is allocated once it has one: a million timers firing at once
    // must not mean a million instances' state in memory.
    let slot = inner.instance_slot().await;
    if let Err(e) = Box::pin(run_inner(&inner, &id, mailbox, busy, loaded, slot)).await {
        // Nothing was committed for the failed step; the execution stays
        // running and resumes on the next wake or restart (or on the next
        // host to hold the store).
        if matches!(e, StoreError::GivenUp) {
            tracing::info!(execution = %id, "workflow task left to the next host to hold the store");
        } else {
            tracing::error!(execution = %id, error = %e, "workflow task could not be committed");
        }
        crate::pause::point("instance-failed").await;
        // This instance's mailbox is gone with it; a wake since may have
        // loaded a new instance, whose mailbox stays.
        inner.forget_closed(&id);
        tracing::debug!(execution = %id, "the failed instance is gone: the next wake loads the execution again");
        // The wakes queued in its mailbox went with it. A store that is
        // unavailable for a while (a read that failed, a database away)
        // is tried again after a pause, so nothing is left waiting for a
        // restart; failing writes resume everything once they succeed
        // (`recovery`), without a load per execution meanwhile.
        if matches!(e, StoreError::Io(_)) && inner.store.write_failure().borrow().is_none() {
            inner.load_later(&id);
        }
    }
}

impl Inner {
    /// Loads `id` again after a pause ([`load_again_later`]), once however
    /// many wakes or steps failed meanwhile.
    pub(super) fn load_later(self: &Arc<Self>, id: &ExecutionId) {
        let first = self
            .loading_again
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.clone());
        if !first {
            return;
        }
        let (inner, id) = (self.clone(), id.clone());
        self.spawn_counted(async move {
            load_again_later(inner.clone(), id.clone()).await;
            inner
                .loading_again
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        });
    }
}

/// Loads `id` again once a second passed (spread over another second, so
/// that many failed at once do not come back at once), if it is still
/// running; while its status cannot be read, tries again later and later
/// (up to a minute).
async fn load_again_later(inner: Arc<Inner>, id: ExecutionId) {
    let mut again = super::again::Backoff::new(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(60),
    );
    loop {
        let spread = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_millis());
        tokio::time::sleep(again.step() + std::time::Duration::from_millis(u64::from(spread)))
            .await;
        match inner.store.status(&id) {
            Ok(Some(ExecutionStatus::Running)) => {
                tracing::info!(execution = %id, "loading again after a failed step");
                inner.wake(&id);
                return;
            }
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(execution = %id, error = %e, "could not read an execution to load it again; trying later");
            }
        }
    }
}

/// Drops `id`'s mailbox once its run closed (or a load found it closed),
/// then looks at the id again: a run that began meanwhile (a start reusing
/// the id, a reset) found that mailbox and loaded nothing, or left its wake
/// in it, and is loaded now; while the store cannot say, it is looked at
/// again later.
fn forget_and_look_again(inner: &Arc<Inner>, id: &ExecutionId) {
    inner.forget(id);
    let read = crate::store::StoreError::fail_point("run-closed-read")
        .and_then(|()| inner.store.status(id));
    match read {
        Ok(Some(ExecutionStatus::Running)) => inner.wake(id),
        Ok(_) => {}
        // Failing writes resume everything once they succeed (`recovery`).
        Err(e @ crate::store::StoreError::Io(_)) => {
            tracing::warn!(execution = %id, error = %e, "could not read an execution whose run closed; looking at it again later");
            if inner.store.write_failure().borrow().is_none() {
                inner.load_later(id);
            }
        }
        Err(e) => {
            tracing::error!(execution = %id, error = %e, "could not read an execution whose run closed; a run begun meanwhile is loaded at its next wake");
        }
    }
}

async fn run_inner(
    inner: &Arc<Inner>,
    id: &ExecutionId,
    mailbox: mpsc::UnboundedReceiver<super::mailbox::Mail>,
    busy: Option<super::skip::BusyGuard>,
    loaded: Option<Loaded>,
    _slot: tokio::sync::SemaphorePermit<'_>,
) -> Result<(), StoreError> {
    // The start's snapshot holds while nothing was appended after it: an
    // instance another writer's wake loaded (and that ran, or ended) in
    // between would have appended, or handed a message to a mailbox that
    // is gone. One cheap read says so.
    let loaded = match loaded {
        Some(l) if inner.store.history_len(id)? == l.record.run_start + l.history.len() as u64 => {
            Some(l)
        }
        _ => None,
    };
    let (record, history) = match loaded {
        Some(Loaded { record, history }) => (record, history),
        None => {
            crate::pause::point("load-read").await;
            match inner.store.execution(id)? {
                Some(r) if r.status == ExecutionStatus::Running => {
                    let history = inner.run_history(&r)?;
                    (r, history)
                }
                _ => {
                    crate::pause::point("load-found-closed").await;
                    forget_and_look_again(inner, id);
                    return Ok(());
                }
            }
        }
    };
    // The seed with the generator the run recorded: a host without that
    // generator stalls the run instead of drawing another stream.
    let Some((_, seeding)) = super::offline::run_start(&history) else {
        let reason = "the run's history does not start with execution_started";
        return close(
            inner,
            &record,
            TaskBatch::default(),
            None,
            Close::Stalled(reason.into()),
        )
        .await;
    };
    let info = WorkflowInfo {
        workflow_type: record.workflow_type.to_string(),
        execution_id: id.to_string(),
        module: record.module.to_string(),
        started_at_ms: record.created_at_ms,
    };
    let mut driver = Driver::new(
        inner.clone(),
        id.clone(),
        record.module,
        (record.resets, record.run_start, record.run),
        info,
        Replayer::new(history),
        mailbox,
    );
    driver.busy = busy;
    // Every writer wakes the execution after its commit: what committed
    // before this load's read is in the history, what commits after it
    // sends its message.
    driver.synced = true;
    crate::metrics::get().instances_loaded.inc();
    let module = record.module;
    // A read of the store that failed is the store's failure, not the
    // module's: kept, so that the step fails as a failed read does (the
    // execution is loaded again), instead of stalling it.
    let unread = super::modules::Unread::default();
    let bytes =
        super::modules::bytes_reader(inner.store.clone(), module, "module-bytes", unread.clone());
    let (outcome, host) = inner
        .runtime
        .run_workflow(
            &module,
            bytes,
            record.input.0.clone(),
            seeding,
            Box::new(driver),
        )
        .await;
    let any: Box<dyn Any> = host;
    let mut driver = any
        .downcast::<Driver>()
        .expect("the host handed back is the driver it was given");
    crate::metrics::get()
        .replayed_events
        .add(driver.replayer.replayed_events());
    // A query or validator that failed fails alone: the caller gets the
    // reason, and the workflow is loaded again from its history, unaffected.
    if let Some((_, reply)) = driver.serving.take() {
        let reason = match &outcome {
            RunOutcome::Trapped(r) => r.clone(),
            RunOutcome::Stopped(s) => s.to_string(),
            RunOutcome::Returned(_) => "the workflow returned instead of answering".into(),
            RunOutcome::NotLoaded(e) => format!("module {module} cannot be loaded: {e}"),
        };
        let _ = reply.send(Err(Failure::new("request-failed", reason)));
        driver.drop_requests();
        inner.forget(id);
        inner.wake(id);
        return Ok(());
    }
    driver.drop_requests();
    match outcome {
        RunOutcome::Returned(result) => {
            if let Err(d) = driver.replayer.check_finished(&result) {
                return stall(inner, &record, d.to_string()).await;
            }
            // What the code saw: a signal recorded after the events this
            // instance knows was never offered to it.
            let seen = Seen {
                known: record.run_start + driver.replayer.history().len() as u64,
                asked: driver.replayer.signals_asked(),
                history: driver.replayer.history().to_vec(),
            };
            // Commands issued after the last wait are recorded with the end,
            // so the history says everything the code did; they are not run,
            // except requests to other executions (a signal sent just before
            // returning), which are delivered, and children, which are
            // created with the end (a fire-and-forget child abandoned at the
            // close runs on).
            let Flush { mut batch, .. } = driver.new_command_events(inner.clock.now_ms())?;
            // Read again: the request may have come after this instance loaded.
            let cancel_requested = inner
                .store
                .execution(id)?
                .is_some_and(|r| r.cancel_requested);
            let result = match result {
                Ok(out) if out.len() > inner.config.max_payload_bytes => Err(Failure::new(
                    "payload-too-large",
                    format!(
                        "the workflow's output is {} bytes, over the limit of {} bytes",
                        out.len(),
                        inner.config.max_payload_bytes
                    ),
                )),
                other => other,
            };
            let end = match result {
                Ok(output) => {
                    batch.events.push(EventKind::ExecutionCompleted {
                        output: output.clone(),
                    });
                    Close::Completed(output)
                }
                Err(failure) if failure.is_cancelled() && cancel_requested => {
                    batch.events.push(EventKind::ExecutionCancelled {
                        failure: failure.clone(),
                    });
                    Close::Cancelled(failure)
                }
                Err(failure) => {
                    batch.events.push(EventKind::ExecutionFailed {
                        failure: failure.clone(),
                    });
                    Close::Failed(failure)
                }
            };
            close(inner, &record, batch, Some(seen), end).await
        }
        RunOutcome::Stopped(stop) => match stop.0.downcast::<Stop>() {
            Ok(s) => match *s {
                Stop::Evicted => {
                    crate::metrics::get().evictions.inc();
                    tracing::debug!(execution = %id, "evicted");
                    Ok(())
                }
                Stop::Reload => {
                    tracing::info!(execution = %id, "loading again on its new module or run");
                    inner.forget(id);
                    inner.wake(id);
                    Ok(())
                }
                Stop::ContinueAsNew(input) => continue_as_new(inner, &record, driver, input).await,
                Stop::HistoryLimit(reason) => {
                    inner.forget(id);
                    let ended = match StoreError::fail_point("history-limit-terminate") {
                        Ok(()) => inner.terminate(id, &reason).await,
                        Err(e) => Err(e.into()),
                    };
                    match ended {
                        // Loaded again, it meets the limit again.
                        Err(super::EngineError::Store(e @ StoreError::Io(_))) => {
                            tracing::error!(execution = %id, error = %e, "could not terminate at the history limit; trying again");
                            Err(e)
                        }
                        Err(e) => {
                            tracing::error!(execution = %id, error = %e, "could not terminate at the history limit");
                            Ok(())
                        }
                        Ok(()) => Ok(()),
                    }
                }
                Stop::Replay(e) => stall(inner, &record, e.to_string()).await,
                Stop::Limit(e) => stall(inner, &record, e).await,
                Stop::Request(e) => stall(inner, &record, e).await,
                Stop::Store(e) => Err(e),
            },
            Err(other) => stall(inner, &record, other.to_string()).await,
        },
        RunOutcome::Trapped(reason) => stall(inner, &record, reason).await,
        RunOutcome::NotLoaded(e) => {
            if let Some(failed) = unread.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return Err(failed);
            }
            if !matches!(e, ModuleError::NewerContract { .. }) {
                return stall(
                    inner,
                    &record,
                    format!("module {module} cannot be loaded: {e}"),
                )
                .await;
            }
            // This host cannot run it (a rollback of this host, say); a
            // host that provides the contract can. Stalling it would keep
            // it from that host too: it stays running, unloaded, and the
            // next host to hold the store (this one, upgraded) loads it as
            // any other, once it has something to take.
            tracing::error!(
                execution = %id,
                %module,
                error = %e,
                "this host cannot run the execution: it stays running until a host that provides \
                 its contract holds the store (upgrade this one)"
            );
            crate::metrics::get().executions_not_runnable.inc();
            inner.forget(id);
            Ok(())
        }
    }
}

/// Closes this run and starts the next in one transaction, on the type's
/// current version.
async fn continue_as_new(
    inner: &Arc<Inner>,
    record: &ExecutionRecord,
    mut driver: Box<Driver>,
    input: Payload,
) -> Result<(), StoreError> {
    let Flush {
        batch: mut last, ..
    } = driver.new_command_events(inner.clock.now_ms())?;
    let mut history = run_history_as_known(inner, record, driver.replayer.history().to_vec())?;
    let continued = EventKind::ExecutionContinuedAsNew {
        input: input.clone(),
    };
    // The next run carries the search attributes and memo over.
    let (search_attributes, memo) = driver.replayer.search_state();
    let opts = super::StartOptions {
        id: Some(record.id.to_string()),
        search_attributes: search_attributes.clone(),
        memo: memo.clone(),
        ..Default::default()
    };
    let made = StoreError::fail_point("continue-as-new-read")
        .map_err(super::EngineError::from)
        .and_then(|()| inner.new_run(record.workflow_type.as_str(), input, &opts));
    let (next, started) = match made {
        Ok(run) => run,
        // The store could not answer now: the run's end is made again
        // once it does (the execution is loaded again).
        Err(super::EngineError::Store(e @ StoreError::Io(_))) => return Err(e),
        Err(e) => {
            return stall(inner, record, format!("could not continue as new: {e}")).await;
        }
    };
    crate::pause::point("continue-as-new-before-commit").await;
    let at_ms = inner.clock.now_ms();
    let mut owed = Vec::new();
    let out = last
        .write(inner, |events| {
            owed = owed_at_close(&mut history, events);
            let mut events = events.to_vec();
            events.push(continued.clone());
            vec![Op::ContinueAsNew {
                id: record.id.clone(),
                at_ms,
                events,
                started: started.clone(),
                module: next.module,
                expect_module: record.module,
                expect_resets: record.resets,
                owed: owed.clone(),
                delivered_updates: driver.replayer.delivered_updates().to_vec(),
                delivered_signals: driver.replayer.delivered_signals().to_vec(),
                cancel_delivered: driver.replayer.cancel_delivered(),
            }]
        })
        .await?;
    let TaskBatch {
        children,
        child_cancels,
        externals,
        ..
    } = last;
    // The next run's search attributes meet a type an operator changed
    // since the run set them: replayed, the run would end the same way
    // again. It stalls, naming the conflict (a reset or a terminate ends
    // it), as a run setting the wrong type does.
    if let Err(OpError::SearchType(why)) = &out {
        return stall(inner, record, format!("could not continue as new: {why}")).await;
    }
    inner.forget(&record.id);
    if let Err(e) = out {
        tracing::info!(execution = %record.id, error = %e, "continue-as-new refused; loading again");
        inner.wake(&record.id);
        return Ok(());
    }
    for request in externals {
        inner.spawn_delivery(request);
    }
    super::driver::load_children(inner, &children);
    cancel_children(inner, record, child_cancels);
    tracing::debug!(execution = %record.id, run = record.run + 1, "continued as new");
    // An update the run completed with its last task has its result now.
    inner.updates.send_modify(|n| *n += 1);
    // The closed run's activities stop and its children get their
    // parent-close policy.
    inner.stop_activities(&record.id, record.resets);
    inner.settle_children(&record.id, !owed.is_empty()).await;
    inner.arm_deadlines(&record.id);
    inner.wake(&record.id);
    Ok(())
}

async fn stall(
    inner: &Arc<Inner>,
    record: &ExecutionRecord,
    reason: String,
) -> Result<(), StoreError> {
    tracing::warn!(execution = %record.id, %reason, "execution stalled");
    close(
        inner,
        record,
        TaskBatch::default(),
        None,
        Close::Stalled(reason),
    )
    .await
}

/// Writes the run's end (guarded by the module and epoch it ran with) with
/// what its last task did (`last`: its events, children and requests to
/// other executions, delivered after), tells a parent how a child ended,
/// and applies the close policy to children. With `watch` (what the code
/// saw before it ended), the end is written only if no signal it asked for
/// came in since.
async fn close(
    inner: &Arc<Inner>,
    record: &ExecutionRecord,
    mut last: TaskBatch,
    watch: Option<Seen>,
    end: Close,
) -> Result<(), StoreError> {
    let id = &record.id;
    let status = match &end {
        Close::Completed(_) => "completed",
        Close::Failed(_) => "failed",
        Close::Cancelled(_) => "cancelled",
        Close::Terminated(_) => "terminated",
        Close::Stalled(_) => "stalled",
    };
    let outcome = match &end {
        Close::Completed(output) => Some(Ok(output.clone())),
        Close::Failed(f) | Close::Cancelled(f) => Some(Err(f.clone())),
        Close::Terminated(reason) => Some(Err(Failure::new("terminated", reason.clone()))),
        Close::Stalled(_) => None,
    };
    if outcome.is_some() {
        crate::pause::point("run-closing").await;
    }
    // What the run owes its children is recorded with its end, read from
    // its history. A signal the code asked for that came in while it
    // returned was never offered to it: the end waits, and the last task
    // runs again knowing the signal (the code may drain its signals before
    // it returns). The write checks the same for what comes in after this
    // read.
    let (mut history, watch) = match watch {
        Some(mut seen) if outcome.is_some() => {
            let known = std::mem::take(&mut seen.history);
            (run_history_as_known(inner, record, known)?, Some(seen))
        }
        watch if outcome.is_some() => (inner.run_history(record)?, watch),
        watch => (Vec::new(), watch),
    };
    let signals_since = match watch {
        Some(seen) if outcome.is_some() => {
            if seen.missed(&history) {
                tracing::info!(execution = %id, "a signal came in as the run ended; its last task runs again");
                inner.forget(id);
                inner.wake(id);
                return Ok(());
            }
            Some((seen.known, seen.asked.into_iter().collect()))
        }
        _ => None,
    };
    if outcome.is_some() {
        crate::pause::point("close-before-write").await;
    }
    let now = inner.clock.now_ms();
    let mut owed = Vec::new();
    let written = last
        .write(inner, |events| {
            owed = owed_at_close(&mut history, events);
            let mut op = Op::append(id, now, events.to_vec());
            if let Op::Append {
                close,
                expect_module,
                expect_resets,
                signals_since: since,
                owed: owes,
                ..
            } = &mut op
            {
                *since = signals_since.clone();
                *owes = owed.clone();
                *close = Some(end.clone());
                *expect_module = Some(record.module);
                *expect_resets = Some(record.resets);
            }
            let mut ops = vec![op];
            if let Some(outcome) = outcome.clone() {
                ops.extend(inner.parent_op(record, outcome));
            }
            ops
        })
        .await?;
    let TaskBatch {
        children,
        child_cancels,
        externals,
        ..
    } = last;
    if let Err(e) = written {
        // Upgraded, reset, terminated, or given a signal the code asked
        // for, while this run ended: the load decides (a closed execution
        // is not loaded again).
        tracing::info!(execution = %id, error = %e, "the run's end was refused; loading again");
        inner.forget(id);
        inner.wake(id);
        return Ok(());
    }
    crate::metrics::get().closed(record.workflow_type.as_str(), status);
    if status != "stalled" {
        tracing::info!(execution = %id, workflow_type = %record.workflow_type, run = record.run, %status, "execution closed");
    }
    super::driver::load_children(inner, &children);
    cancel_children(inner, record, child_cancels);
    // Forget only after the close is durable: a wake in between finds the
    // old mailbox, not a fresh instance replaying a closed execution.
    crate::pause::point("run-closed").await;
    forget_and_look_again(inner, id);
    for request in externals {
        inner.spawn_delivery(request);
    }
    inner.settled_changed(id);
    inner.updates.send_modify(|n| *n += 1);
    if outcome.is_some() {
        if let Some(parent) = &record.parent {
            inner.wake(&parent.id);
        }
        // No event follows a close: its activities stop (an attempt that
        // still ends is refused), and its children get their policy.
        inner.stop_activities(id, record.resets);
        inner.settle_children(id, !owed.is_empty()).await;
    }
    Ok(())
}

/// What a run's code had seen when it returned.
struct Seen {
    /// The run's events its instance knew (history indices below this).
    known: u64,
    /// The signal names it asked for.
    asked: std::collections::HashSet<String>,
    /// The run's events it knew, in order.
    history: Vec<crate::model::Event>,
}

impl Seen {
    /// Whether `history` holds a signal the code asked for and was never
    /// offered (recorded after what it knew).
    fn missed(&self, history: &[crate::model::Event]) -> bool {
        history.iter().any(|e| {
            e.index >= self.known
                && matches!(&e.event, EventKind::SignalReceived { name, .. } if self.asked.contains(name))
        })
    }
}

/// The run's history: `known` (the events its instance held, from the
/// run's start) when the store holds no more than those, so an ending run
/// reads nothing back; read from the store otherwise (another writer
/// appended since: a signal, a child's end).
fn run_history_as_known(
    inner: &Arc<Inner>,
    record: &ExecutionRecord,
    known: Vec<crate::model::Event>,
) -> Result<Vec<crate::model::Event>, StoreError> {
    if inner.store.history_len(&record.id)? == record.run_start + known.len() as u64 {
        Ok(known)
    } else {
        inner.run_history(record)
    }
}

/// What a run owes its children once its last task's events (`closing`)
/// follow `history`: its parent-close policies (a child that task
/// cancelled to be abandoned, or whose handle it completed, is owed none),
/// and a request to cancel each child that last task asked to cancel: that
/// request is made in memory after the close commits, and one a crash or a
/// lost store kept from being made is made by the next start from this
/// debt (made twice at once, the second is answered as asked already). Not
/// a child whose id the run started again after it (another child).
fn owed_at_close(
    history: &mut Vec<crate::model::Event>,
    closing: &[EventKind],
) -> Vec<(String, crate::model::ParentClosePolicy)> {
    let held = history.len();
    let owed = owed_with(history, closing);
    history.truncate(held);
    owed
}

/// [`owed_at_close`], `history` extended with the closing events.
fn owed_with(
    history: &mut Vec<crate::model::Event>,
    closing: &[EventKind],
) -> Vec<(String, crate::model::ParentClosePolicy)> {
    history.extend(closing.iter().cloned().map(|event| crate::model::Event {
        index: 0,
        at_ms: 0,
        event,
        waits: false,
    }));
    let mut owed = crate::model::owed_policies(history);
    let asked_now: Vec<u64> = closing
        .iter()
        .filter_map(|e| match e {
            EventKind::ChildCancelRequested { target, .. } => Some(*target),
            _ => None,
        })
        .collect();
    if asked_now.is_empty() {
        return owed;
    }
    for (handle, child) in crate::model::children_asked_to_cancel(history) {
        let started_again = history.iter().any(|e| {
            matches!(&e.event, EventKind::ChildStarted { handle: h, child_id, .. }
                if *h > handle && *child_id == child)
        });
        if asked_now.contains(&handle) && !started_again && !owed.iter().any(|(c, _)| *c == child) {
            owed.push((child, crate::model::ParentClosePolicy::RequestCancel));
        }
    }
    owed
}

/// Asks each of `children` (with the handles that started them) of
/// `parent`'s run to cancel (its last task cancelled them). A child whose
/// start that task recorded as refused holds another execution's id, which
/// is left alone (its link names another parent or handle).
fn cancel_children(inner: &Arc<Inner>, parent: &ExecutionRecord, children: Vec<(u64, String)>) {
    for (handle, child) in children {
        let inner = inner.clone();
        let parent = (parent.id.clone(), parent.resets, handle);
        inner.clone().spawn_counted(async move {
            inner
                .ask_to_cancel(&child, &parent, "its parent cancelled it")
                .await;
        });
    }
}
