//! Resetting an execution: the events after a point of its current run are
//! discarded (kept inside an `execution_reset` event) and the run goes on
//! from there in a new epoch. Everything that depended on the discarded part
//! is settled in the same transaction, so no crash leaves a child orphaned,
//! a parent waiting for an end that was discarded, or a signal lost.

use super::kv::Txn;

use super::apply::{drop_timers, from_json, history_len, read_record, to_json};
use super::history::{forget_completions, note_completions, Outcome};
use super::tables::{EXECUTIONS, HISTORY, OUTBOX};
use super::{ExternalRequest, Op, OpError};
use crate::model::{Event, EventKind, ExecutionRecord, ExecutionStatus, Failure};

pub(super) fn reset(txn: &Txn, op: &Op) -> Outcome {
    let Op::Reset {
        id,
        to_event,
        module,
        at_ms,
        reason,
        expect_history_len,
        expect_resets,
        timers: keep_timers,
        reapply_signals,
        request_id,
    } = op
    else {
        unreachable!("reset takes Reset")
    };
    let execs = txn.open_table(EXECUTIONS)?;
    let key = id.as_str();
    let Some(mut record) = read_record(&execs, key)? else {
        return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
    };
    let was = super::census::Entry::of(&record);
    // A run that continued as new since the caller read it: the point may
    // now lie in a closed run, whose events a reset must never remove. A
    // reset since may have left the length as it was: the epoch says.
    if history_len(txn, key)? != *expect_history_len
        || record.resets != *expect_resets
        || *to_event < record.run_start
    {
        return Ok(Err(OpError::HistoryChanged(key.to_owned())));
    }
    if record.module != *module {
        if let Some(gone) = super::apply::module_gone(txn, module)? {
            return Ok(Err(gone));
        }
    }
    let mut history = txn.open_table(HISTORY)?;
    let mut discarded = Vec::new();
    for entry in history.range((key, to_event + 1)..=(key, u64::MAX))? {
        discarded.push(from_json::<Event>("event", &entry.1)?);
    }
    let mut kept = Vec::new();
    for entry in history.range((key, record.run_start)..=(key, *to_event))? {
        kept.push(from_json::<Event>("event", &entry.1)?);
    }
    for e in &discarded {
        history.delete((key, e.index))?;
    }
    drop(history);
    let epoch = record.resets + 1;
    let mut after = vec![EventKind::ExecutionReset {
        to_event: *to_event,
        reason: reason.clone(),
        discarded: discarded.clone(),
        request_id: request_id.clone(),
    }];
    drop(execs);
    for (handle, child) in children_started(&kept) {
        let held = discarded_end(&discarded, handle);
        if let Some(end) = reattach(txn, key, handle, &child, epoch, held)? {
            after.push(end);
        }
    }
    // Every child the discarded part started, its handle completed there or
    // not (a child cancelled with `abandon` or `try-cancel` runs on).
    for (handle, child) in crate::model::started_children(&discarded) {
        terminate_discarded(txn, key, handle, &child, *at_ms)?;
    }
    if *reapply_signals {
        after.extend(
            discarded
                .iter()
                .filter(|e| matches!(e.event, EventKind::SignalReceived { .. }))
                .map(|e| e.event.clone()),
        );
    }
    // A kept request to another execution whose completion was discarded
    // was delivered: its completion is recorded again (as a kept child's
    // end), not delivered twice (its target's key for it may be forgotten
    // by now, and its id hold another execution). One not delivered yet
    // goes back to the outbox.
    let mut outbox = txn.open_table(OUTBOX)?;
    // A request the discarded part made and not delivered yet never is: no
    // run asks for it any more (a re-run that asks again records it again).
    for e in &discarded {
        if let EventKind::ExternalSent { key, .. } = &e.event {
            outbox.delete(key.as_str())?;
        }
    }
    for request in undelivered(key, epoch, &kept) {
        let delivered = discarded.iter().find(|e| {
            matches!(&e.event, EventKind::ExternalCompleted { handle, .. } if *handle == request.handle)
        });
        match delivered {
            Some(done) => after.push(done.event.clone()),
            None => outbox.insert(request.key.as_str(), to_json(&request).as_slice())?,
        }
    }
    drop(outbox);
    // The run goes on from the kept events: exactly their completions
    // count, and the ends recorded again below.
    forget_completions(txn, key, record.run_start)?;
    note_completions(txn, key, record.run_start, &kept)?;
    let mut written = Vec::new();
    let at_ms = super::apply::stamp(txn, key, to_event + 1, *at_ms)?;
    for (index, kind) in (to_event + 1..).zip(after) {
        written.push(Event {
            index,
            at_ms,
            event: kind,
            waits: false,
        });
    }
    note_completions(txn, key, record.run_start, &written)?;
    let mut history = txn.open_table(HISTORY)?;
    for event in &written {
        history.insert((key, event.index), to_json(event).as_slice())?;
    }
    drop(history);
    drop_timers(txn, key)?;
    for (due, handle) in keep_timers {
        super::timers::add(txn, key, *due, *handle)?;
    }
    // The deadlines stay as they were.
    super::history::add_deadlines(txn, key, &record)?;
    let mut execs = txn.open_table(EXECUTIONS)?;
    record.module = *module;
    record.status = ExecutionStatus::Running;
    record.output = None;
    record.failure = None;
    record.stall_reason = None;
    record.closed_at_ms = None;
    record.resets = epoch;
    // Asked to cancel only if a kept event asked it (a discarded request is
    // gone with its events: the new epoch may be asked again).
    record.cancel_requested = kept
        .iter()
        .any(|e| matches!(e.event, EventKind::CancelRequested { .. }));
    // Its attributes and memo as the kept events left them.
    super::search::apply(&mut record, kept.iter().map(|e| &e.event));
    super::apply::put_record(&mut execs, key, Some(was), &record)?;
    Ok(Ok(()))
}

/// Children started in `events` and not reported back there: (handle, id).
fn children_started(events: &[Event]) -> Vec<(u64, String)> {
    crate::model::pending_children(events)
        .into_iter()
        .map(|(h, id, _)| (h, id))
        .collect()
}

/// The end the discarded part recorded for the child started at `handle`.
fn discarded_end(discarded: &[Event], handle: u64) -> Option<EventKind> {
    discarded.iter().find_map(|e| match &e.event {
        EventKind::ChildCompleted { handle: h, .. } if *h == handle => Some(e.event.clone()),
        _ => None,
    })
}

/// The child of `parent` started at `handle` (kept by the reset) belongs to
/// the new epoch: a running one reports its end there; one that ended in the
/// discarded part has its end recorded again (returned, for the parent's
/// history). `held` is the end the discarded part recorded for it: a start
/// refused at once (its id names another execution, maybe an earlier run's
/// child at the same handle), and a child whose id the discarded part
/// started again, have that end recorded again instead, so the parent does
/// not wait for one that never comes; a child no longer there (its record
/// deleted, its id another execution's) with no such end is recorded as
/// gone (`child-gone`).
fn reattach(
    txn: &Txn,
    parent: &str,
    handle: u64,
    child: &str,
    epoch: u32,
    held: Option<EventKind>,
) -> Result<Option<EventKind>, super::StoreError> {
    let refused = matches!(&held, Some(EventKind::ChildCompleted { failure: Some(f), .. })
        if f.start_refused());
    if refused {
        return Ok(held);
    }
    // The child's record is gone (deleted since) or its id holds another
    // execution now: nothing of ours runs there, and its end is known only
    // if the discarded part recorded it; else the re-run is told it is
    // gone instead of waiting for an end that never comes.
    let gone = || {
        held.clone().or_else(|| {
            Some(EventKind::ChildCompleted {
                handle,
                child_id: child.to_owned(),
                output: None,
                failure: Some(Failure::new(
                    "child-gone",
                    format!(
                        "child {child} is no longer there (deleted, or its id started again) \
                         and its end was not recorded: it is not known"
                    ),
                )),
            })
        })
    };
    let mut execs = txn.open_table(EXECUTIONS)?;
    let Some(mut record) = read_record(&execs, child)? else {
        return Ok(gone());
    };
    let Some(link) = record.parent.as_mut() else {
        return Ok(gone());
    };
    if link.id.as_str() != parent || link.handle != handle {
        return Ok(gone());
    }
    if !record.status.is_closed() {
        link.epoch = epoch;
        execs.insert(child, to_json(&record).as_slice())?;
        // A close the reset undid owes it nothing any more.
        super::history::settle_owed(txn, parent, &[child.to_owned()])?;
        return Ok(None);
    }
    Ok(Some(child_end(&record, handle)))
}

/// How a closed child ended, as its parent records it.
fn child_end(record: &ExecutionRecord, handle: u64) -> EventKind {
    let (output, failure) = match record.status {
        ExecutionStatus::Completed => (Some(record.output.clone().unwrap_or_default()), None),
        _ => (
            None,
            Some(record.failure.clone().unwrap_or_else(|| {
                Failure::new(record.status.as_str(), "the child ended without a result")
            })),
        ),
    };
    EventKind::ChildCompleted {
        handle,
        child_id: record.id.to_string(),
        output,
        failure,
    }
}

/// A child started in the discarded part and still running is terminated:
/// the run that started it no longer exists, and its re-run may start it
/// again under the same id.
fn terminate_discarded(
    txn: &Txn,
    parent: &str,
    handle: u64,
    child: &str,
    at_ms: u64,
) -> Result<(), super::StoreError> {
    let mut execs = txn.open_table(EXECUTIONS)?;
    let Some(mut record) = read_record(&execs, child)? else {
        return Ok(());
    };
    if record.status.is_closed()
        || record
            .parent
            .as_ref()
            .is_none_or(|p| p.id.as_str() != parent || p.handle != handle)
    {
        return Ok(());
    }
    let reason = "its parent was reset to before it started";
    let index = history_len(txn, child)?;
    let at_ms = super::apply::stamp(txn, child, index, at_ms)?;
    let event = Event {
        index,
        at_ms,
        event: EventKind::ExecutionTerminated {
            reason: reason.to_owned(),
        },
        waits: false,
    };
    txn.open_table(HISTORY)?
        .insert((child, index), to_json(&event).as_slice())?;
    forget_completions(txn, child, record.run_start)?;
    let was = super::census::Entry::of(&record);
    record.status = ExecutionStatus::Terminated;
    record.failure = Some(Failure::new("terminated", reason));
    record.closed_at_ms = Some(at_ms);
    record.resets += 1;
    super::apply::put_record(&mut execs, child, Some(was), &record)?;
    drop(execs);
    drop_timers(txn, child)?;
    // Its own children get their policy, caught up at start after a crash.
    let mut run = Vec::new();
    for entry in txn
        .open_table(HISTORY)?
        .range((child, record.run_start)..=(child, u64::MAX))?
    {
        run.push(from_json::<Event>("event", &entry.1)?);
    }
    super::history::owe(txn, child, &crate::model::owed_policies(&run))?;
    Ok(())
}

/// The requests to other executions in `events` without their completion
/// there.
fn undelivered(sender: &str, epoch: u32, events: &[Event]) -> Vec<ExternalRequest> {
    let Ok(sender) = sender.parse() else {
        return Vec::new();
    };
    let mut out: Vec<ExternalRequest> = Vec::new();
    for e in events {
        if let EventKind::ExternalCompleted { handle, .. } = &e.event {
            out.retain(|r| r.handle != *handle);
        }
        out.extend(ExternalRequest::from_event(&sender, epoch, &e.event));
    }
    out
}
