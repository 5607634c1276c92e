//! The ops that change an execution's history: create, append, continue as
//! new, reset. Each refuses before its first write (see `apply.rs`), and
//! each keeps the invariants that no event follows a close and that a
//! handle's completion is recorded once.

use super::head::Head;
use super::kv::Txn;

use super::apply::{drop_timers, from_json, history_len, read_head, read_record, to_json};
use super::tables::{
    COMPLETED, DIRECTORY, EXECUTIONS, HISTORY, INBOX, RETIRED, START_REQUESTS, TIMERS,
};
use super::{Close, Op, OpError, Reuse, StoreError};
use crate::model::{Event, EventKind, ExecutionRecord, ExecutionStatus, Failure};

pub(super) type Outcome = Result<Result<(), OpError>, StoreError>;

/// What `RETIRED` keeps of a deleted execution.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Retired {
    pub run: u32,
    pub resets: u32,
}

/// A start request as `START_REQUESTS` keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct SeenRequest {
    pub execution: String,
    pub run: u32,
    pub at_ms: u64,
}

/// Whether the execution `seen` started is still kept: its id holds the
/// execution that began at that run (continued as new since, or not), not
/// one started again under the id.
pub(super) fn started_is_kept(
    execs: &super::kv::Table<'_, &'static str, &'static [u8]>,
    seen: &SeenRequest,
) -> Result<bool, StoreError> {
    Ok(read_record(execs, &seen.execution)?.is_some_and(|r| {
        r.began_at_run
            .map_or(r.run == seen.run, |first| first == seen.run)
    }))
}

pub(super) fn create(txn: &Txn, op: &Op) -> Outcome {
    let Op::CreateExecution {
        record,
        started,
        reuse,
        request,
        created,
    } = op
    else {
        unreachable!("create takes CreateExecution")
    };
    let mut execs = txn.open_table(EXECUTIONS)?;
    let id = record.id.as_str();
    let mut record = record.as_ref().clone();
    if let Some(req) = request {
        let table = txn.open_table(START_REQUESTS)?;
        if let Some(seen) = req.seen(&table, &execs, record.created_at_ms)? {
            return Ok(Err(OpError::DuplicateRequest {
                request_id: record.request_id.clone().unwrap_or_default(),
                id: seen.execution,
                run: seen.run,
            }));
        }
    }
    // On a store of several partitions, an id lives in the one that made
    // it (the directory says which): another's is refused here, before
    // anything is written.
    let partition = txn.partition();
    if let Some(part) = partition {
        if let Some(theirs) = txn.open_table(DIRECTORY)?.get(id)? {
            if theirs != u64::from(part) {
                return Ok(Err(OpError::InAnotherPartition {
                    id: id.to_owned(),
                    part: u32::try_from(theirs).unwrap_or(u32::MAX),
                }));
            }
        }
    }
    let existing = execs.get(id)?;
    let reused = existing.is_some();
    let mut was = None;
    // A deleted execution's id: the new one goes on from its run and epoch.
    let mut retired = false;
    if existing.is_none() {
        // No record, no history: an execution's rows go with its record.
        txn.learned_history_len(id, 0);
        if let Some(raw) = txn.open_table(RETIRED)?.get(id)? {
            if *reuse == Reuse::Once {
                return Ok(Err(OpError::ExecutionExists(id.to_owned())));
            }
            let last: Retired = from_json("retired execution", &raw)?;
            record.run = last.run + 1;
            record.resets = last.resets + 1;
            retired = true;
        }
    }
    if let Some(raw) = existing {
        let old: ExecutionRecord = from_json("execution", &raw)?;
        was = Some(super::census::Entry::of(&old));
        let allowed = match reuse {
            Reuse::Never | Reuse::Once => false,
            Reuse::IfClosed => old.status.is_closed(),
            Reuse::IfNotCompleted => {
                old.status.is_closed() && old.status != ExecutionStatus::Completed
            }
        };
        if !allowed {
            return Ok(Err(OpError::ExecutionExists(id.to_owned())));
        }
        record.run = old.run + 1;
        record.resets = old.resets + 1;
        record.run_start = history_len(txn, id)?;
        record.created_at_ms =
            super::apply::stamp(txn, id, record.run_start, record.created_at_ms)?;
    }
    record.began_at_run = Some(record.run);
    // A search attribute of another type than its name's.
    let new_types = match super::search::check(txn, [started])? {
        Ok(new) => new,
        Err(refused) => return Ok(Err(refused)),
    };
    // The last refusal, and the first write: the directory row. Another
    // partition may have made the id since the check above (its commit
    // came in between, or is under way: waited for); the claim then writes
    // nothing, and this op is refused as that check would refuse it now.
    if let Some(part) = partition {
        if let Some(theirs) = txn.open_table(DIRECTORY)?.claim(id, u64::from(part))? {
            if theirs != u64::from(part) {
                return Ok(Err(OpError::InAnotherPartition {
                    id: id.to_owned(),
                    part: u32::try_from(theirs).unwrap_or(u32::MAX),
                }));
            }
        }
    }
    super::search::record(txn, new_types)?;
    if reused {
        drop_timers(txn, id)?;
    }
    if retired {
        txn.open_table(RETIRED)?.delete(id)?;
    }
    if let Some(req) = request {
        let seen = SeenRequest {
            execution: id.to_owned(),
            run: record.run,
            at_ms: record.created_at_ms,
        };
        txn.open_table(START_REQUESTS)?
            .insert(req.key.as_str(), to_json(&seen).as_slice())?;
    }
    super::apply::put_record(&mut execs, id, was, &record)?;
    add_deadlines(txn, id, &record)?;
    let event = Event {
        index: record.run_start,
        at_ms: record.created_at_ms,
        event: started.clone(),
        waits: false,
    };
    txn.open_table(HISTORY)?
        .insert((id, record.run_start), to_json(&event).as_slice())?;
    if let Some(created) = created {
        created.set(record);
    }
    Ok(Ok(()))
}

pub(super) fn continue_as_new(txn: &Txn, op: &Op) -> Outcome {
    let Op::ContinueAsNew {
        id,
        at_ms,
        events,
        started,
        module,
        expect_module,
        expect_resets,
        owed,
        delivered_updates,
        delivered_signals,
        cancel_delivered,
    } = op
    else {
        unreachable!("continue_as_new takes ContinueAsNew")
    };
    let mut execs = txn.open_table(EXECUTIONS)?;
    let key = id.as_str();
    let Some(mut record) = read_record(&execs, key)? else {
        return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
    };
    let was = super::census::Entry::of(&record);
    let head = Head::from(&record);
    if let Some(refused) = check_current(key, &head, Some(*expect_module), Some(*expect_resets)) {
        return Ok(Err(refused));
    }
    // The run's last task is held to what any append is: it may complete
    // a handle (cancel a timer) whose completion came after it read.
    if let Err(refused) = completes_once(txn, key, record.run_start, events)? {
        return Ok(Err(refused));
    }
    if let Err(refused) = super::search::register(txn, events.iter().chain([started]))? {
        return Ok(Err(refused));
    }
    let first = history_len(txn, key)?;
    let at_ms = &super::apply::stamp(txn, key, first, *at_ms)?;
    // The run's closing events are commands and its end: none is sent to it.
    let mut carried = unconsumed(
        txn,
        key,
        record.run_start,
        delivered_signals,
        delivered_updates,
    )?;
    // A cancellation the run's code was not told of (recorded during its
    // last task) is the next run's: it was answered as accepted.
    let cancel_carried = record.cancel_requested && !*cancel_delivered;
    if !cancel_carried {
        carried.retain(|e| !matches!(e, EventKind::CancelRequested { .. }));
    }
    let mut history = txn.open_table(HISTORY)?;
    let next_start = first + events.len() as u64;
    let written = events
        .iter()
        .chain(std::iter::once(started))
        .chain(carried.iter());
    for (index, kind) in (first..).zip(written) {
        let event = Event {
            index,
            at_ms: *at_ms,
            event: kind.clone(),
            waits: false,
        };
        history.insert((key, index), to_json(&event).as_slice())?;
    }
    drop(history);
    drop_timers(txn, key)?;
    forget_completions(txn, key, record.run_start)?;
    owe(txn, key, owed)?;

    if let EventKind::ExecutionStarted { input, .. } = started {
        record.input = input.clone();
    }
    super::search::apply(&mut record, std::iter::once(started));
    record.run += 1;
    record.run_start = next_start;
    record.resets += 1;
    record.module = *module;
    record.created_at_ms = *at_ms;
    // The execution's deadline stays; the new run gets its own.
    add_deadlines(txn, key, &record)?;
    record.cancel_requested = cancel_carried;
    super::apply::put_record(&mut execs, key, Some(was), &record)?;
    Ok(Ok(()))
}

/// What the run starting at `run_start` was sent and its code was never
/// handed, in the order it was recorded: signals not in `signals` (the
/// indices of those delivered; a receive the code issued and never got,
/// say one that lost a select, takes nothing), and accepted updates not in
/// `updates` (recorded after the run's last wait, or never taken by one).
/// They move to the next run, so none is lost when a run continues as new
/// with them queued. Its cancellation is among them (the caller keeps it
/// only if the code was not told of it). A delivered update does not move, even if its handler
/// did not complete: it may have changed the state the next run starts
/// from, and running it again would apply it twice.
fn unconsumed(
    txn: &Txn,
    key: &str,
    run_start: u64,
    signals: &[u64],
    updates: &[String],
) -> Result<Vec<EventKind>, StoreError> {
    let history = txn.open_table(HISTORY)?;
    let delivered: std::collections::HashSet<u64> = signals.iter().copied().collect();
    let mut sent = Vec::new();
    let mut completed: std::collections::HashSet<String> = Default::default();
    for entry in history.range((key, run_start)..=(key, u64::MAX))? {
        let e: Event = from_json("event", &entry.1)?;
        match e.event {
            EventKind::SignalReceived { .. } if !delivered.contains(&e.index) => sent.push(e.event),
            EventKind::UpdateAccepted { .. } | EventKind::CancelRequested { .. } => {
                sent.push(e.event)
            }
            EventKind::UpdateCompleted { update_id, .. } => {
                completed.insert(update_id);
            }
            _ => {}
        }
    }
    sent.retain(|s| match s {
        EventKind::UpdateAccepted { update_id, .. } => {
            !completed.contains(update_id) && !updates.contains(update_id)
        }
        _ => true,
    });
    Ok(sent)
}

/// Why a writer that loaded the execution on `expect_module` at epoch
/// `expect_resets` may no longer write to it, if it may not.
fn check_current(
    key: &str,
    record: &Head,
    expect_module: Option<crate::model::ModuleHash>,
    expect_resets: Option<u32>,
) -> Option<OpError> {
    if expect_resets.is_some_and(|e| e != record.resets) {
        return Some(OpError::Stale(key.to_owned()));
    }
    if expect_module.is_some_and(|m| m != record.module) {
        return Some(OpError::ModuleMoved(key.to_owned()));
    }
    if record.status.is_closed() {
        return Some(OpError::Closed {
            id: key.to_owned(),
            status: record.status.to_string(),
        });
    }
    None
}

/// The handles `events` complete in the run starting at `run_start`, or
/// the refusal if one of them has its completion already (in the store, or
/// earlier in `events`): a handle completes once.
fn completes_once(
    txn: &Txn,
    key: &str,
    run_start: u64,
    events: &[EventKind],
) -> Result<Result<Vec<u64>, OpError>, StoreError> {
    let completed = txn.open_table(COMPLETED)?;
    let mut newly_completed = Vec::new();
    for kind in events {
        let Some(handle) = checked_handle(kind) else {
            continue;
        };
        if newly_completed.contains(&handle) || completed.get((key, run_start, handle))?.is_some() {
            return Ok(Err(OpError::AlreadyCompleted {
                id: key.to_owned(),
                handle,
            }));
        }
        if kind.completion_handle().is_some() {
            newly_completed.push(handle);
        }
    }
    Ok(Ok(newly_completed))
}

/// The handle whose completion row an appended event is checked against:
/// an end's, or a failed attempt's (refused once its activity ended).
pub(super) fn checked_handle(kind: &EventKind) -> Option<u64> {
    match kind {
        EventKind::ActivityAttemptFailed { handle, .. } => Some(*handle),
        other => other.completion_handle(),
    }
}

pub(super) fn append(txn: &Txn, op: &Op) -> Outcome {
    let Op::Append {
        id,
        at_ms,
        events,
        timers_add,
        timers_remove,
        close,
        expect_module,
        expect_resets,
        expect_next,
        require_timer,
        expect_link,
        unique_update,
        once_key,
        signals_since,
        owed_from_history,
        owed,
        placed,
        task_saw,
    } = op
    else {
        unreachable!("append takes Append")
    };
    // Tests fail the write of a signal here: inside its batch, after what
    // came before it in the batch applied (a signal-with-start's start).
    if events
        .iter()
        .any(|e| matches!(e, EventKind::SignalReceived { .. }))
    {
        StoreError::fail_point("signal-append")?;
    }
    let mut execs = txn.open_table(EXECUTIONS)?;
    let key = id.as_str();
    let Some(record) = read_head(&execs, key)? else {
        return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
    };
    // A request recorded before is answered so, whatever the execution's
    // state now (its first copy may have ended the run).
    if let Some((once, _)) = once_key {
        if txn.open_table(INBOX)?.get((key, once.as_str()))?.is_some() {
            return Ok(Err(OpError::AlreadyRecorded(key.to_owned())));
        }
    }
    // Every refusal comes before the first write. An append with no events
    // and no close only tidies timer rows, which a closed execution allows.
    let records = !events.is_empty() || close.is_some();
    if let Some(refused) = check_current(key, &record, *expect_module, *expect_resets) {
        if records || !matches!(refused, OpError::Closed { .. }) {
            return Ok(Err(refused));
        }
    }
    if let Some((due, handle)) = require_timer {
        if txn.open_table(TIMERS)?.get((*due, key, *handle))?.is_none() {
            return Ok(Err(OpError::Stale(key.to_owned())));
        }
    }
    if let Some((parent, epoch, handle)) = expect_link {
        let linked = read_record(&execs, key)?
            .and_then(|r| r.parent)
            .is_some_and(|p| (&p.id, p.epoch, p.handle) == (parent, *epoch, *handle));
        if !linked {
            return Ok(Err(OpError::Stale(key.to_owned())));
        }
    }
    // A run is asked to cancel once, whoever asks and however many at once.
    if record.cancel_requested
        && events
            .iter()
            .any(|e| matches!(e, EventKind::CancelRequested { .. }))
    {
        return Ok(Err(OpError::CancelAlreadyRequested(key.to_owned())));
    }
    let newly_completed = match completes_once(txn, key, record.run_start, events)? {
        Ok(handles) => handles,
        Err(refused) => return Ok(Err(refused)),
    };
    let first = history_len(txn, key)?;
    if expect_next.is_some_and(|n| n != first) {
        return Ok(Err(OpError::Stale(key.to_owned())));
    }
    let at_ms = &if events.is_empty() {
        *at_ms
    } else {
        super::apply::stamp(txn, key, first, *at_ms)?
    };
    if let Some((since, names)) = signals_since {
        if *since < first {
            let mut waiting = false;
            txn.open_table(HISTORY)?
                .scan((key, *since)..=(key, u64::MAX), false, |_, raw| {
                    let e: Event = from_json("event", raw)?;
                    waiting = matches!(&e.event, EventKind::SignalReceived { name, .. } if names.contains(name));
                    Ok(!waiting)
                })?;
            if waiting {
                return Ok(Err(OpError::SignalsWaiting(key.to_owned())));
            }
        }
    }
    if let Some(placed) = placed {
        placed.set(super::Position {
            first,
            epoch: record.resets,
            run_start: record.run_start,
            at_ms: *at_ms,
        });
    }
    let mut history = txn.open_table(HISTORY)?;
    if let Some(update) = unique_update {
        // In every run of this execution, not of an earlier one under the
        // same id (an `execution_started` after its end begins this one).
        let (mut seen, mut ended) = (false, false);
        history.scan((key, 0)..=(key, u64::MAX), false, |_, raw| {
            let e: Event = from_json("event", raw)?;
            if ended && matches!(e.event, EventKind::ExecutionStarted { .. }) {
                seen = false;
            }
            ended = e.event.ends_execution();
            seen |= matches!(&e.event, EventKind::UpdateAccepted { update_id, .. } if update_id == update);
            // A reset that discarded its record (one a continue-as-new
            // carried into this run, say) discarded the update: it may be
            // sent again.
            if let EventKind::ExecutionReset { discarded, .. } = &e.event {
                seen &= !discarded.iter().any(|d| {
                    matches!(&d.event, EventKind::UpdateAccepted { update_id, .. } if update_id == update)
                });
            }
            Ok(true)
        })?;
        if seen {
            return Ok(Err(OpError::DuplicateUpdate(update.clone())));
        }
    }
    // The last refusal: a search attribute of another type than its name's.
    let upserts = super::search::touches(events);
    if upserts {
        if let Err(refused) = super::search::register(txn, events)? {
            return Ok(Err(refused));
        }
    }
    let mut completed = txn.open_table(COMPLETED)?;
    for handle in &newly_completed {
        completed.insert((key, record.run_start, *handle), ())?;
    }
    drop(completed);
    // An activity's retry state and heartbeat go with its end.
    if !newly_completed.is_empty() {
        let mut attempts = txn.open_table(super::tables::ATTEMPTS)?;
        let mut beats = txn.open_table(super::tables::HEARTBEATS)?;
        for handle in &newly_completed {
            attempts.delete((key, record.run_start, *handle))?;
            beats.delete((key, record.resets, *handle))?;
        }
    }
    // The task saw everything before its events: the run waits after them.
    let last = first + events.len() as u64;
    let waits = *task_saw == Some(first);
    for (index, kind) in (first..).zip(events) {
        let event = Event {
            index,
            at_ms: *at_ms,
            event: kind.clone(),
            waits: waits && index + 1 == last,
        };
        history.insert((key, index), to_json(&event).as_slice())?;
    }
    drop(history);
    if let Some((once, forget_at)) = once_key {
        txn.open_table(INBOX)?.insert((key, once.as_str()), ())?;
        super::signal_requests::add(txn, key, once, *forget_at)?;
    }
    for (due, handle) in timers_add {
        super::timers::add(txn, key, *due, *handle)?;
    }
    for (due, handle) in timers_remove {
        super::timers::remove(txn, key, *due, *handle)?;
    }
    let cancels = events
        .iter()
        .any(|e| matches!(e, EventKind::CancelRequested { .. }));
    if !cancels && !upserts && close.is_none() {
        return Ok(Ok(()));
    }
    // Only now the whole record: this append changes it.
    let Some(mut record) = read_record(&execs, key)? else {
        return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
    };
    let was = super::census::Entry::of(&record);
    if cancels {
        record.cancel_requested = true;
    }
    if upserts {
        super::search::apply(&mut record, events);
    }
    if let Some(close) = close {
        match close {
            Close::Completed(output) => {
                record.status = ExecutionStatus::Completed;
                record.output = Some(output.clone());
            }
            Close::Failed(failure) => {
                record.status = ExecutionStatus::Failed;
                record.failure = Some(failure.clone());
            }
            Close::Stalled(reason) => {
                record.status = ExecutionStatus::Stalled;
                record.stall_reason = Some(reason.clone());
            }
            Close::Cancelled(failure) => {
                record.status = ExecutionStatus::Cancelled;
                record.failure = Some(failure.clone());
            }
            Close::Terminated(reason) => {
                record.status = ExecutionStatus::Terminated;
                record.failure = Some(Failure::new("terminated", reason.clone()));
                record.resets += 1;
            }
        }
        if record.status.is_closed() {
            // A timer of a closed run (one that lost a select) fires for
            // nobody: its row goes with the close.
            drop_timers(txn, key)?;
            record.closed_at_ms = Some(*at_ms);
            forget_completions(txn, key, record.run_start)?;
            if *owed_from_history {
                let mut run = Vec::new();
                for entry in txn
                    .open_table(HISTORY)?
                    .range((key, record.run_start)..=(key, u64::MAX))?
                {
                    run.push(from_json::<Event>("event", &entry.1)?);
                }
                owe(txn, key, &crate::model::owed_policies(&run))?;
            } else {
                owe(txn, key, owed)?;
            }
        }
    }
    super::apply::put_record(&mut execs, key, Some(was), &record)?;
    Ok(Ok(()))
}

pub(super) fn tell_parent(txn: &Txn, op: &Op) -> Outcome {
    let Op::TellParent {
        child,
        at_ms,
        outcome,
    } = op
    else {
        unreachable!("tell_parent takes TellParent")
    };
    let execs = txn.open_table(EXECUTIONS)?;
    let Some(link) = read_record(&execs, child.as_str())?.and_then(|r| r.parent) else {
        return Ok(Ok(()));
    };
    let parent = link.id.as_str();
    let Some(record) = read_record(&execs, parent)? else {
        return Ok(Ok(()));
    };
    drop(execs);
    if record.resets != link.epoch || record.status.is_closed() {
        return Ok(Ok(()));
    }
    let mut completed = txn.open_table(COMPLETED)?;
    if completed
        .get((parent, record.run_start, link.handle))?
        .is_some()
    {
        return Ok(Ok(()));
    }
    completed.insert((parent, record.run_start, link.handle), ())?;
    drop(completed);
    let (output, failure) = match outcome {
        Ok(o) => (Some(o.clone()), None),
        Err(f) => (None, Some(f.clone())),
    };
    let index = history_len(txn, parent)?;
    let event = Event {
        index,
        at_ms: super::apply::stamp(txn, parent, index, *at_ms)?,
        event: EventKind::ChildCompleted {
            handle: link.handle,
            child_id: child.to_string(),
            output,
            failure,
        },
        waits: false,
    };
    txn.open_table(HISTORY)?
        .insert((parent, index), to_json(&event).as_slice())?;
    Ok(Ok(()))
}

/// Arms the timer rows of an execution's deadlines (see
/// [`ExecutionRecord::deadline_rows`]).
pub(super) fn add_deadlines(
    txn: &Txn,
    key: &str,
    record: &crate::model::ExecutionRecord,
) -> Result<(), StoreError> {
    let rows = record.deadline_rows();
    if !rows.is_empty() {
        for (due, handle) in rows {
            super::timers::add(txn, key, due, handle)?;
        }
    }
    Ok(())
}

/// Keeps what a closing run owes its children until the engine applied it.
pub(super) fn owe(
    txn: &Txn,
    key: &str,
    owed: &[(String, crate::model::ParentClosePolicy)],
) -> Result<(), StoreError> {
    if owed.is_empty() {
        return Ok(());
    }
    // Added to what earlier runs of the id still owe (a run that continued
    // as new may not have applied its own yet).
    let mut table = txn.open_table(super::tables::OWED_POLICIES)?;
    let mut all: Vec<(String, crate::model::ParentClosePolicy)> = match table.get(key)? {
        Some(raw) => from_json("owed policy", &raw)?,
        None => Vec::new(),
    };
    for debt in owed {
        if !all.iter().any(|(child, _)| *child == debt.0) {
            all.push(debt.clone());
        }
    }
    table.insert(key, to_json(&all).as_slice())?;
    Ok(())
}

/// Takes `children` off what `key`'s closed runs owe their children
/// (applied, or attached by a reset to the run that goes on).
pub(super) fn settle_owed(txn: &Txn, key: &str, children: &[String]) -> Result<(), StoreError> {
    let mut table = txn.open_table(super::tables::OWED_POLICIES)?;
    let Some(raw) = table.get(key)? else {
        return Ok(());
    };
    let mut left: Vec<(String, crate::model::ParentClosePolicy)> = from_json("owed policy", &raw)?;
    let before = left.len();
    left.retain(|(child, _)| !children.contains(child));
    if left.len() == before {
        return Ok(());
    }
    if left.is_empty() {
        table.delete(key)?;
    } else {
        table.insert(key, to_json(&left).as_slice())?;
    }
    Ok(())
}

/// Drops the completion rows of a run that closed (nothing more is
/// recorded in it), was reset or continued as new, with its activities'
/// retry states and heartbeats: what runs next starts from its history.
pub(super) fn forget_completions(txn: &Txn, key: &str, run_start: u64) -> Result<(), StoreError> {
    let mut completed = txn.open_table(COMPLETED)?;
    completed.delete_range((key, run_start, 0)..=(key, run_start, u64::MAX))?;
    txn.open_table(super::tables::ATTEMPTS)?
        .delete_range((key, run_start, 0)..=(key, run_start, u64::MAX))?;
    txn.open_table(super::tables::HEARTBEATS)?
        .delete_range((key, 0, 0)..=(key, u32::MAX, u64::MAX))?;
    Ok(())
}

/// Notes the completions among `events` (of the run starting at
/// `run_start`) in `COMPLETED`.
pub(super) fn note_completions(
    txn: &Txn,
    key: &str,
    run_start: u64,
    events: &[Event],
) -> Result<(), StoreError> {
    let mut completed = txn.open_table(COMPLETED)?;
    for e in events {
        if let Some(h) = e.event.completion_handle() {
            completed.insert((key, run_start, h), ())?;
        }
    }
    Ok(())
}

/// Fills `COMPLETED` for the current run of every open execution: a store
/// written before the table existed has completions only in its histories.
pub(super) fn index_completions(txn: &Txn) -> Result<(), StoreError> {
    let mut open = Vec::new();
    txn.open_table(EXECUTIONS)?.scan(.., false, |_, raw| {
        let record: ExecutionRecord = from_json("execution", raw)?;
        if !record.status.is_closed() {
            open.push(record);
        }
        Ok(true)
    })?;
    let history = txn.open_table(HISTORY)?;
    for record in open {
        let key = record.id.as_str();
        let mut events = Vec::new();
        for entry in history.range((key, record.run_start)..=(key, u64::MAX))? {
            events.push(from_json::<Event>("event", &entry.1)?);
        }
        note_completions(txn, key, record.run_start, &events)?;
    }
    Ok(())
}
