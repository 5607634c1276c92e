//! Group commit: one thread owns every write transaction. It takes whatever
//! batches are queued, applies them in one transaction and makes them durable
//! with one fsync, then answers each caller. Throughput is then bounded by
//! fsyncs per second times the batch size, not by one fsync per step.

use std::sync::Arc;

use redb::{ReadableTable, WriteTransaction};
use tokio::sync::{mpsc, oneshot, watch};

use super::slot::DbSlot;
use super::tables::{
    ACTIVITIES, EXECUTIONS, HEARTBEATS, HISTORY, MODULES, MODULE_META, TIMERS, TYPE_VERSIONS,
    WORKFLOW_TYPES,
};
use super::{Close, Op, OpError, Reuse, StoreError};
use crate::model::{Event, EventKind, ExecutionRecord, ExecutionStatus, Failure, WorkflowVersion};

/// Most batches folded into one transaction; bounds the latency of the first.
const MAX_GROUP: usize = 512;

pub(super) type Reply = oneshot::Sender<Result<Vec<Result<(), OpError>>, StoreError>>;

pub(super) struct Request {
    pub ops: Vec<Op>,
    pub reply: Reply,
}

pub(super) fn spawn(
    slot: Arc<DbSlot>,
    failing: watch::Sender<Option<String>>,
) -> mpsc::UnboundedSender<Request> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    std::thread::Builder::new()
        .name("weft-committer".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(r) => group.push(r),
                        Err(_) => break,
                    }
                }
                commit_group(&slot, &failing, group);
            }
        })
        .expect("spawning the committer thread");
    tx
}

fn commit_group(slot: &DbSlot, failing: &watch::Sender<Option<String>>, group: Vec<Request>) {
    let started = std::time::Instant::now();
    let result = slot.get().and_then(|db| {
        let txn = db.begin_write()?;
        let mut outcomes = Vec::with_capacity(group.len());
        for req in &group {
            let mut per_op = Vec::with_capacity(req.ops.len());
            for op in &req.ops {
                per_op.push(apply(&txn, op)?);
            }
            outcomes.push(per_op);
        }
        txn.commit()?;
        Ok(outcomes)
    });
    match result {
        Ok(outcomes) => {
            crate::metrics::COMMIT_LATENCY.observe(started.elapsed());
            crate::metrics::COMMIT_BATCHES.observe_value(group.len() as f64);
            count_lifecycle(&group, &outcomes);
            if failing.borrow().is_some() {
                tracing::info!("the store writes again: the disk has room");
                failing.send_replace(None);
            }
            for (req, out) in group.into_iter().zip(outcomes) {
                let _ = req.reply.send(Ok(out));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batches = group.len(), "group commit failed; nothing in it was written");
            if let StoreError::Io(reason) = &e {
                crate::metrics::STORE_WRITE_FAILURES.inc();
                failing.send_replace(Some(reason.clone()));
                // redb refuses everything after an I/O error until the file
                // is opened again; do it now so reads go on.
                if let Err(e) = slot.reopen() {
                    tracing::error!(error = %e, "could not reopen the store after a disk error");
                }
            }
            let text = e.to_string();
            for req in group {
                let _ = req.reply.send(Err(match &e {
                    StoreError::Io(reason) => StoreError::Io(reason.clone()),
                    _ => StoreError::Backend(text.clone()),
                }));
            }
        }
    }
}

/// Counts the runs started and the executions closed by a committed group.
fn count_lifecycle(group: &[Request], outcomes: &[Vec<Result<(), OpError>>]) {
    for (req, out) in group.iter().zip(outcomes) {
        for (op, ok) in req.ops.iter().zip(out) {
            if ok.is_err() {
                continue;
            }
            match op {
                Op::CreateExecution { .. } | Op::ContinueAsNew { .. } => {
                    crate::metrics::EXECUTIONS_STARTED.inc();
                }
                Op::Append {
                    close: Some(close), ..
                } => crate::metrics::closed(match close {
                    Close::Completed(_) => "completed",
                    Close::Failed(_) => "failed",
                    Close::Cancelled(_) => "cancelled",
                    Close::Terminated(_) => "terminated",
                    Close::Stalled(_) => "stalled",
                }),
                _ => {}
            }
        }
    }
}

fn apply(txn: &WriteTransaction, op: &Op) -> Result<Result<(), OpError>, StoreError> {
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
                let v: WorkflowVersion = from_json("workflow version", entry?.1.value())?;
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
            epoch,
            handle,
            seq,
            details,
        } => {
            let mut table = txn.open_table(HEARTBEATS)?;
            let key = (id.as_str(), *epoch, *handle);
            let newer = match table.get(key)?.map(|g| g.value().to_vec()) {
                Some(raw) => from_json::<Beat>("heartbeat", &raw)?.seq < *seq,
                None => true,
            };
            if newer {
                let beat = Beat {
                    seq: *seq,
                    details: details.clone(),
                };
                table.insert(key, to_json(&beat).as_slice())?;
            }
        }
        Op::SetManualClock { ms } => {
            let mut table = txn.open_table(super::tables::HOST_STATE)?;
            let key = super::MANUAL_CLOCK;
            let kept = table.get(key)?.map(|g| g.value()).unwrap_or(0);
            table.insert(key, kept.max(*ms))?;
        }
        Op::SetCurrent { name, module } => {
            txn.open_table(WORKFLOW_TYPES)?
                .insert(name.as_str(), module.to_string().as_str())?;
        }
        Op::Reset {
            id,
            to_event,
            module,
            at_ms,
            reason,
            expect_history_len,
            timers: keep_timers,
        } => {
            let mut execs = txn.open_table(EXECUTIONS)?;
            let key = id.as_str();
            let Some(mut record) = read_record(&execs, key)? else {
                return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
            };
            if history_len(txn, key)? != *expect_history_len {
                return Ok(Err(OpError::HistoryChanged(key.to_owned())));
            }
            let mut history = txn.open_table(HISTORY)?;
            let mut discarded = Vec::new();
            for entry in history.range((key, to_event + 1)..=(key, u64::MAX))? {
                discarded.push(from_json::<Event>("event", entry?.1.value())?);
            }
            for e in &discarded {
                history.remove((key, e.index))?;
            }
            let reset = Event {
                index: to_event + 1,
                at_ms: *at_ms,
                event: EventKind::ExecutionReset {
                    to_event: *to_event,
                    reason: reason.clone(),
                    discarded,
                },
            };
            history.insert((key, reset.index), to_json(&reset).as_slice())?;
            drop(history);
            drop_timers(txn, key)?;
            let mut timers = txn.open_table(TIMERS)?;
            for (due, handle) in keep_timers {
                timers.insert((*due, key, *handle), ())?;
            }
            record.module = *module;
            record.status = ExecutionStatus::Running;
            record.output = None;
            record.failure = None;
            record.stall_reason = None;
            record.closed_at_ms = None;
            record.resets += 1;
            execs.insert(key, to_json(&record).as_slice())?;
        }
        Op::MoveExecution {
            id,
            module,
            expect_history_len,
        } => {
            let mut execs = txn.open_table(EXECUTIONS)?;
            let key = id.as_str();
            let Some(mut record) = read_record(&execs, key)? else {
                return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
            };
            if !matches!(
                record.status,
                ExecutionStatus::Running | ExecutionStatus::Stalled
            ) {
                return Ok(Err(OpError::NotMovable {
                    id: key.to_owned(),
                    status: record.status.to_string(),
                }));
            }
            if history_len(txn, key)? != *expect_history_len {
                return Ok(Err(OpError::HistoryChanged(key.to_owned())));
            }
            record.module = *module;
            record.status = ExecutionStatus::Running;
            record.stall_reason = None;
            execs.insert(key, to_json(&record).as_slice())?;
        }
        Op::SetActivity { name, module } => {
            txn.open_table(ACTIVITIES)?
                .insert(name.as_str(), module.to_string().as_str())?;
        }
        Op::CreateExecution {
            record,
            started,
            reuse,
        } => {
            let mut execs = txn.open_table(EXECUTIONS)?;
            let id = record.id.as_str();
            let existing = execs.get(id)?.map(|g| g.value().to_vec());
            let mut record = record.as_ref().clone();
            if let Some(raw) = existing {
                let old: ExecutionRecord = from_json("execution", &raw)?;
                let allowed = match reuse {
                    Reuse::Never => false,
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
                drop_timers(txn, id)?;
            }
            execs.insert(id, to_json(&record).as_slice())?;
            let event = Event {
                index: record.run_start,
                at_ms: record.created_at_ms,
                event: started.clone(),
            };
            txn.open_table(HISTORY)?
                .insert((id, record.run_start), to_json(&event).as_slice())?;
        }
        Op::ContinueAsNew {
            id,
            at_ms,
            events,
            started,
            module,
            expect_module,
            expect_resets,
        } => {
            let mut execs = txn.open_table(EXECUTIONS)?;
            let key = id.as_str();
            let Some(mut record) = read_record(&execs, key)? else {
                return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
            };
            if record.resets != *expect_resets {
                return Ok(Err(OpError::Stale(key.to_owned())));
            }
            if record.module != *expect_module {
                return Ok(Err(OpError::ModuleMoved(key.to_owned())));
            }
            let mut index = history_len(txn, key)?;
            let mut history = txn.open_table(HISTORY)?;
            for kind in events.iter().chain(std::iter::once(started)) {
                let event = Event {
                    index,
                    at_ms: *at_ms,
                    event: kind.clone(),
                };
                history.insert((key, index), to_json(&event).as_slice())?;
                index += 1;
            }
            drop(history);
            drop_timers(txn, key)?;
            if let EventKind::ExecutionStarted { input, .. } = started {
                record.input = input.clone();
            }
            record.run += 1;
            record.run_start = index - 1;
            record.resets += 1;
            record.module = *module;
            record.created_at_ms = *at_ms;
            record.cancel_requested = false;
            execs.insert(key, to_json(&record).as_slice())?;
        }
        Op::Append {
            id,
            at_ms,
            events,
            timers_add,
            timers_remove,
            close,
            expect_module,
            expect_resets,
            require_timer,
            unique_update,
        } => {
            let mut execs = txn.open_table(EXECUTIONS)?;
            let key = id.as_str();
            let Some(raw) = execs.get(key)?.map(|g| g.value().to_vec()) else {
                return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
            };
            let cancels = events
                .iter()
                .any(|e| matches!(e, EventKind::CancelRequested { .. }));
            // The record is read once, and only when the op needs it.
            let mut record: Option<ExecutionRecord> =
                if expect_module.is_some() || expect_resets.is_some() || cancels || close.is_some()
                {
                    Some(from_json("execution", &raw)?)
                } else {
                    None
                };
            // Every refusal comes before the first write.
            if let Some(r) = &record {
                if expect_resets.is_some_and(|e| e != r.resets) {
                    return Ok(Err(OpError::Stale(key.to_owned())));
                }
                if expect_module.is_some_and(|m| m != r.module) {
                    return Ok(Err(OpError::ModuleMoved(key.to_owned())));
                }
            }
            if let Some((due, handle)) = require_timer {
                if txn.open_table(TIMERS)?.get((*due, key, *handle))?.is_none() {
                    return Ok(Err(OpError::Stale(key.to_owned())));
                }
            }
            let first = history_len(txn, key)?;
            let mut history = txn.open_table(HISTORY)?;
            if let Some(update) = unique_update {
                for entry in history.range((key, 0)..=(key, u64::MAX))? {
                    let e: Event = from_json("event", entry?.1.value())?;
                    if matches!(&e.event, EventKind::UpdateAccepted { update_id, .. } if update_id == update)
                    {
                        return Ok(Err(OpError::DuplicateUpdate(update.clone())));
                    }
                }
            }
            for (index, kind) in (first..).zip(events) {
                let event = Event {
                    index,
                    at_ms: *at_ms,
                    event: kind.clone(),
                };
                history.insert((key, index), to_json(&event).as_slice())?;
            }
            drop(history);
            let mut timers = txn.open_table(TIMERS)?;
            for (due, handle) in timers_add {
                timers.insert((*due, key, *handle), ())?;
            }
            for (due, handle) in timers_remove {
                timers.remove((*due, key, *handle))?;
            }
            if let (Some(record), true) = (&mut record, cancels) {
                record.cancel_requested = true;
            }
            if let (Some(record), Some(close)) = (&mut record, close) {
                match close {
                    Close::Completed(output) => {
                        record.status = ExecutionStatus::Completed;
                        record.output = Some(output.clone());
                        record.closed_at_ms = Some(*at_ms);
                    }
                    Close::Failed(failure) => {
                        record.status = ExecutionStatus::Failed;
                        record.failure = Some(failure.clone());
                        record.closed_at_ms = Some(*at_ms);
                    }
                    Close::Stalled(reason) => {
                        record.status = ExecutionStatus::Stalled;
                        record.stall_reason = Some(reason.clone());
                    }
                    Close::Cancelled(failure) => {
                        record.status = ExecutionStatus::Cancelled;
                        record.failure = Some(failure.clone());
                        record.closed_at_ms = Some(*at_ms);
                    }
                    Close::Terminated(reason) => {
                        record.status = ExecutionStatus::Terminated;
                        record.failure = Some(Failure::new("terminated", reason.clone()));
                        record.closed_at_ms = Some(*at_ms);
                        record.resets += 1;
                        drop(timers);
                        drop_timers(txn, key)?;
                    }
                }
            }
            if let Some(record) = &record {
                if cancels || close.is_some() {
                    execs.insert(key, to_json(record).as_slice())?;
                }
            }
        }
    }
    Ok(Ok(()))
}

/// A stored heartbeat.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Beat {
    pub seq: u64,
    pub details: Option<crate::model::Payload>,
}

/// An execution's record, or `None` when there is no such execution.
fn read_record(
    execs: &redb::Table<'_, &str, &[u8]>,
    key: &str,
) -> Result<Option<ExecutionRecord>, StoreError> {
    let raw = execs.get(key)?.map(|g| g.value().to_vec());
    raw.map(|raw| from_json("execution", &raw)).transpose()
}

fn history_len(txn: &WriteTransaction, id: &str) -> Result<u64, StoreError> {
    let history = txn.open_table(HISTORY)?;
    let last = history.range((id, 0)..=(id, u64::MAX))?.next_back();
    Ok(match last {
        Some(entry) => entry?.0.value().1 + 1,
        None => 0,
    })
}

/// Removes every pending timer row of an execution.
fn drop_timers(txn: &WriteTransaction, id: &str) -> Result<(), StoreError> {
    let mut timers = txn.open_table(TIMERS)?;
    let mut mine = Vec::new();
    for entry in timers.iter()? {
        let entry = entry?;
        let (due, exec, handle) = entry.0.value();
        if exec == id {
            mine.push((due, handle));
        }
    }
    for (due, handle) in mine {
        timers.remove((due, id, handle))?;
    }
    Ok(())
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("domain types always serialize")
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what,
        detail: e.to_string(),
    })
}
