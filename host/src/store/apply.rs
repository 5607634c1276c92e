//! Applying one op inside the committer's write transaction. Every op checks
//! what it needs against the transaction's state and refuses (`Ok(Err)`)
//! before its first write, so the committer can drop a batch whole (see
//! `committer.rs`). The ops that change an execution's history live in
//! `history.rs` and `reset.rs`.

use super::kv::Txn;

use super::history;
use super::tables::{
    ACTIVITIES, EXECUTIONS, HEARTBEATS, HISTORY, MODULES, MODULE_META, TYPE_VERSIONS,
    WORKFLOW_TYPES,
};
use super::{Op, OpError, StoreError};
use crate::model::{ExecutionRecord, WorkflowVersion};

pub(super) fn apply(txn: &Txn, op: &Op) -> Result<Result<(), OpError>, StoreError> {
    match op {
        Op::PutModule { meta, bytes } => {
            let key = meta.hash.to_string();
            txn.open_table(MODULES)?
                .insert(key.as_str(), bytes.as_slice())?;
            txn.open_table(MODULE_META)?
                .insert(key.as_str(), to_json(meta).as_slice())?;
        }
        Op::SetWorkflowType {
            name,
            module,
            at_ms,
        } => {
            let mut versions = txn.open_table(TYPE_VERSIONS)?;
            let mut known = false;
            let mut last = 0;
            for entry in versions.range((name.as_str(), 0)..=(name.as_str(), u32::MAX))? {
                let v: WorkflowVersion = from_json("workflow version", &entry.1)?;
                known |= v.module == *module;
                last = last.max(v.version);
            }
            if !known {
                let v = WorkflowVersion {
                    version: last + 1,
                    module: *module,
                    deployed_at_ms: *at_ms,
                };
                versions.insert((name.as_str(), v.version), to_json(&v).as_slice())?;
            }
            txn.open_table(WORKFLOW_TYPES)?
                .insert(name.as_str(), module.to_string().as_str())?;
        }
        Op::Heartbeat {
            id,
            run_start,
            epoch,
            handle,
            seq,
            details,
        } => {
            // An attempt of a run that closed or moved on (winding down
            // after a cancellation) keeps nothing: the next run's activity
            // at that handle must not resume from it.
            let execs = txn.open_table(EXECUTIONS)?;
            let current = read_head(&execs, id.as_str())?.is_some_and(|r| {
                !r.status.is_closed() && r.run_start == *run_start && r.resets == *epoch
            });
            drop(execs);
            if !current {
                return Ok(Ok(()));
            }
            let stored = super::read_heartbeat(txn, id, *epoch, *handle)?;
            let mut table = txn.open_table(HEARTBEATS)?;
            let key = (id.as_str(), *epoch, *handle);
            if stored.as_ref().is_none_or(|b| b.seq < *seq) {
                let beat = Beat {
                    seq: *seq,
                    details: details.clone(),
                    taken: stored.and_then(|b| b.taken),
                };
                table.insert(key, to_json(&beat).as_slice())?;
            }
        }
        Op::AttemptFailed {
            id,
            run_start,
            handle,
            state,
        } => {
            if let Some(refused) = check_attempt(txn, id, *run_start, state.epoch, *handle)? {
                return Ok(Err(refused));
            }
            txn.open_table(super::tables::ATTEMPTS)?.insert(
                (id.as_str(), *run_start, *handle),
                to_json(state).as_slice(),
            )?;
            // A worker's task of the failed attempt is over: its token is stale.
            let stored = super::read_heartbeat(txn, id, state.epoch, *handle)?;
            if let Some(mut beat) = stored.filter(|b| b.taken.is_some()) {
                beat.taken = None;
                txn.open_table(HEARTBEATS)?.insert(
                    (id.as_str(), state.epoch, *handle),
                    to_json(&beat).as_slice(),
                )?;
            }
        }
        Op::TaskTaken {
            id,
            run_start,
            epoch,
            handle,
            taken,
        } => {
            if let Some(refused) = check_attempt(txn, id, *run_start, *epoch, *handle)? {
                return Ok(Err(refused));
            }
            let mut beat = super::read_heartbeat(txn, id, *epoch, *handle)?.unwrap_or_default();
            beat.taken = Some(taken.clone());
            txn.open_table(HEARTBEATS)?
                .insert((id.as_str(), *epoch, *handle), to_json(&beat).as_slice())?;
        }
        Op::DeleteExecution { .. } => return super::retention::delete_execution(txn, op),
        Op::ForgetStartRequests { .. } => return super::retention::forget_start_requests(txn, op),
        Op::ForgetSignalRequests { now_ms } => super::signal_requests::forget_due(txn, *now_ms)?,
        Op::SetRetention { .. } => return super::retention::set_retention(txn, op),
        Op::DeleteModule { .. } => return super::retention::delete_module(txn, op),
        Op::SetManualClock { ms } => {
            let mut table = txn.open_table(super::tables::HOST_STATE)?;
            let stood = table.get(super::MANUAL_CLOCK)?.unwrap_or(0);
            let now = stood.max(*ms);
            table.insert(super::MANUAL_CLOCK, now)?;
            // The mark moves with the clock it vouches for.
            if table.get(super::MANUAL_CLOCK_KEPT)? == Some(stood) {
                table.insert(super::MANUAL_CLOCK_KEPT, now)?;
            }
        }
        Op::KeepManualClock { at_ms } => {
            let mut table = txn.open_table(super::tables::HOST_STATE)?;
            match at_ms {
                Some(ms) => {
                    let stood = table.get(super::MANUAL_CLOCK)?.unwrap_or(0);
                    let now = stood.max(*ms);
                    table.insert(super::MANUAL_CLOCK, now)?;
                    table.insert(super::MANUAL_CLOCK_KEPT, now)?;
                }
                None => {
                    table.delete(super::MANUAL_CLOCK_KEPT)?;
                }
            }
        }
        Op::SetCurrent { name, module } => {
            txn.open_table(WORKFLOW_TYPES)?
                .insert(name.as_str(), module.to_string().as_str())?;
        }
        Op::SetActivity { name, module } => {
            txn.open_table(ACTIVITIES)?
                .insert(name.as_str(), module.to_string().as_str())?;
        }
        Op::MoveExecution {
            id,
            module,
            expect_history_len,
            expect_resets,
            at_ms,
        } => {
            let mut execs = txn.open_table(EXECUTIONS)?;
            let key = id.as_str();
            let Some(mut record) = read_record(&execs, key)? else {
                return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
            };
            let was = super::census::Entry::of(&record);
            if record.status.is_closed() {
                return Ok(Err(OpError::NotMovable {
                    id: key.to_owned(),
                    status: record.status.to_string(),
                }));
            }
            if history_len(txn, key)? != *expect_history_len || record.resets != *expect_resets {
                return Ok(Err(OpError::HistoryChanged(key.to_owned())));
            }
            if let Some(gone) = module_gone(txn, module)? {
                return Ok(Err(gone));
            }
            let event = crate::model::Event {
                index: *expect_history_len,
                at_ms: stamp(txn, key, *expect_history_len, *at_ms)?,
                event: crate::model::EventKind::ExecutionUpgraded {
                    from: record.module,
                    to: *module,
                    after_event: expect_history_len.saturating_sub(1),
                },
                waits: false,
            };
            txn.open_table(HISTORY)?
                .insert((key, *expect_history_len), to_json(&event).as_slice())?;
            record.module = *module;
            record.status = crate::model::ExecutionStatus::Running;
            record.stall_reason = None;
            put_record(&mut execs, key, Some(was), &record)?;
        }
        Op::SettleOwed {
            id,
            children,
            parent_was,
        } => {
            let now = read_head(&txn.open_table(EXECUTIONS)?, id.as_str())?
                .map(|h| (h.resets, h.status.is_closed()));
            if now != *parent_was {
                return Ok(Err(OpError::Stale(id.to_string())));
            }
            history::settle_owed(txn, id.as_str(), children)?;
        }
        Op::OutboxAdd { requests } => {
            let mut outbox = txn.open_table(super::tables::OUTBOX)?;
            for r in requests {
                outbox.insert(r.key.as_str(), to_json(r).as_slice())?;
            }
        }
        Op::PutSchedule {
            record,
            expect_revision,
        } => {
            let mut table = txn.open_table(super::tables::SCHEDULES)?;
            let name = record.name.as_str();
            let stored = table
                .get(name)?
                .map(|raw| from_json::<crate::model::schedule::ScheduleRecord>("schedule", &raw))
                .transpose()?;
            match (expect_revision, stored) {
                (None, Some(_)) => return Ok(Err(OpError::ScheduleExists(name.to_owned()))),
                (Some(_), None) => return Ok(Err(OpError::NoSuchSchedule(name.to_owned()))),
                (Some(r), Some(s)) if s.revision != *r => {
                    return Ok(Err(OpError::ScheduleChanged(name.to_owned())))
                }
                _ => {}
            }
            table.insert(name, to_json(record.as_ref()).as_slice())?;
        }
        Op::SetSearchType { name, search_type } => {
            return super::search::set_type(txn, name, *search_type);
        }
        Op::DeleteSchedule { name } => {
            let removed = txn
                .open_table(super::tables::SCHEDULES)?
                .remove(name.as_str())?
                .is_some();
            if !removed {
                return Ok(Err(OpError::NoSuchSchedule(name.clone())));
            }
        }
        Op::Deliver { .. } => return super::external::deliver(txn, op),
        Op::Receive { .. } => return super::external::receive(txn, op),
        Op::TellParent { .. } => return history::tell_parent(txn, op),
        Op::Reset { .. } => return super::reset::reset(txn, op),
        Op::CreateExecution { .. } => return history::create(txn, op),
        Op::ContinueAsNew { .. } => return history::continue_as_new(txn, op),
        Op::Append { .. } => return history::append(txn, op),
    }
    Ok(Ok(()))
}

/// Why an attempt of activity `handle` (of the run of `id` that began at
/// `run_start`, at `epoch`) may not be recorded, if it may not: the
/// execution is gone or closed, moved on to another run or epoch, or the
/// handle has its completion.
fn check_attempt(
    txn: &Txn,
    id: &crate::model::ExecutionId,
    run_start: u64,
    epoch: u32,
    handle: u64,
) -> Result<Option<OpError>, StoreError> {
    let execs = txn.open_table(EXECUTIONS)?;
    let key = id.as_str();
    let Some(record) = read_head(&execs, key)? else {
        return Ok(Some(OpError::NoSuchExecution(key.to_owned())));
    };
    if record.status.is_closed() {
        return Ok(Some(OpError::Closed {
            id: key.to_owned(),
            status: record.status.to_string(),
        }));
    }
    if record.resets != epoch || record.run_start != run_start {
        return Ok(Some(OpError::Stale(key.to_owned())));
    }
    let done = txn
        .open_table(super::tables::COMPLETED)?
        .get((key, run_start, handle))?
        .is_some();
    Ok(done.then(|| OpError::AlreadyCompleted {
        id: key.to_owned(),
        handle,
    }))
}

/// A stored heartbeat, and the attempt a worker took (see `Op::TaskTaken`).
#[derive(Default, serde::Serialize, serde::Deserialize)]
pub(super) struct Beat {
    pub seq: u64,
    pub details: Option<crate::model::Payload>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<super::TakenTask>,
}

/// Writes execution `key`'s record, telling the census what the record
/// was before (none: there was none) and is now (see `census.rs`).
pub(super) fn put_record(
    execs: &mut super::kv::Table<'_, &'static str, &'static [u8]>,
    key: &str,
    was: Option<super::census::Entry>,
    record: &ExecutionRecord,
) -> Result<(), StoreError> {
    super::census::note(key, was, Some(super::census::Entry::of(record)));
    execs.insert(key, to_json(record).as_slice())
}

/// An execution's record, or `None` when there is no such execution.
pub(super) fn read_record(
    execs: &super::kv::Table<'_, &'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<ExecutionRecord>, StoreError> {
    execs.get_with(key, |raw| from_json("execution", raw))
}

/// The fields of an execution's record a check needs ([`Head`]), without
/// building the rest (its input and output may be megabytes).
///
/// [`Head`]: super::head::Head
pub(super) fn read_head(
    execs: &super::kv::Table<'_, &'static str, &'static [u8]>,
    key: &str,
) -> Result<Option<super::head::Head>, StoreError> {
    execs.get_with(key, |raw| {
        super::head::Head::decode(raw).map_err(|e| json_error("execution", e))
    })
}

pub(super) fn history_len(txn: &Txn, id: &str) -> Result<u64, StoreError> {
    if let Some(n) = txn.known_history_len(id) {
        return Ok(n);
    }
    // The last row's time is learned with its index (a writer stamps the
    // next event by it: see `stamp`), from its head, not copied out.
    let history = txn.open_table(HISTORY)?;
    let last = history.last_with((id, 0)..=(id, u64::MAX), |(_, index), raw| {
        (index + 1, crate::model::Event::stored_at_ms(raw))
    })?;
    let n = last.map_or(0, |(n, _)| n);
    txn.learned_history_len(id, n);
    if let Some((n, Some(at))) = last {
        txn.learned_last_at_ms(id, n, at);
    }
    Ok(n)
}

/// `at_ms`, or the time `id`'s last event was recorded if that is later
/// (its history is `len` long): an event is never recorded before the one
/// before it, whatever the writer's clock read (a write sent again after an
/// outage, a host whose clock is behind the last holder's, a system clock
/// after a manual one that was moved ahead).
pub(super) fn stamp(txn: &Txn, id: &str, len: u64, at_ms: u64) -> Result<u64, StoreError> {
    if len == 0 {
        return Ok(at_ms);
    }
    let last = match txn.known_last_at_ms(id, len) {
        Some(last) => last,
        None => {
            let last = txn.open_table(HISTORY)?.get_with((id, len - 1), |raw| {
                Ok(crate::model::Event::stored_at_ms(raw))
            })?;
            let Some(last) = last.flatten() else {
                return Ok(at_ms);
            };
            txn.learned_last_at_ms(id, len, last);
            last
        }
    };
    Ok(at_ms.max(last))
}

/// Removes every pending timer row of an execution.
pub(super) fn drop_timers(txn: &Txn, id: &str) -> Result<(), StoreError> {
    super::timers::drop_all(txn, id)
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("domain types always serialize")
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| json_error(what, e))
}

/// A stored `what` that did not decode.
fn json_error(what: &'static str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: e.to_string(),
    }
}

/// Refuses a write that would run an execution on `module` once a prune
/// deleted it (the writer read it before): `Some(ModuleGone)`.
pub(super) fn module_gone(
    txn: &Txn,
    module: &crate::model::ModuleHash,
) -> Result<Option<OpError>, StoreError> {
    let key = module.to_string();
    let there = txn
        .open_table(super::tables::MODULE_META)?
        .get_with(key.as_str(), |_| Ok(()))?
        .is_some();
    Ok((!there).then_some(OpError::ModuleGone(key)))
}
