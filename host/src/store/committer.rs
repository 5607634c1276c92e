//! Group commit: one thread owns every write transaction. It takes whatever
//! batches are queued, applies them in one transaction and makes them durable
//! with one fsync, then answers each caller. Throughput is then bounded by
//! fsyncs per second times the batch size, not by one fsync per step.

use std::sync::Arc;

use redb::{Database, ReadableTable, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use super::tables::{
    ACTIVITIES, EXECUTIONS, HISTORY, MODULES, MODULE_META, TIMERS, WORKFLOW_TYPES,
};
use super::{Close, Op, OpError, StoreError};
use crate::model::{Event, ExecutionRecord, ExecutionStatus};

/// Most batches folded into one transaction; bounds the latency of the first.
const MAX_GROUP: usize = 512;

pub(super) type Reply = oneshot::Sender<Result<Vec<Result<(), OpError>>, StoreError>>;

pub(super) struct Request {
    pub ops: Vec<Op>,
    pub reply: Reply,
}

pub(super) fn spawn(db: Arc<Database>) -> mpsc::UnboundedSender<Request> {
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
                commit_group(&db, group);
            }
        })
        .expect("spawning the committer thread");
    tx
}

fn commit_group(db: &Database, group: Vec<Request>) {
    crate::metrics::COMMITS.record(group.len());
    let result = (|| -> Result<Vec<Vec<Result<(), OpError>>>, StoreError> {
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
    })();
    match result {
        Ok(outcomes) => {
            for (req, out) in group.into_iter().zip(outcomes) {
                let _ = req.reply.send(Ok(out));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batches = group.len(), "group commit failed; nothing in it was written");
            for req in group {
                let _ = req.reply.send(Err(StoreError::Backend(e.to_string())));
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
        Op::SetWorkflowType { name, module } => {
            txn.open_table(WORKFLOW_TYPES)?
                .insert(name.as_str(), module.to_string().as_str())?;
        }
        Op::SetActivity { name, module } => {
            txn.open_table(ACTIVITIES)?
                .insert(name.as_str(), module.to_string().as_str())?;
        }
        Op::CreateExecution { record, started } => {
            let mut execs = txn.open_table(EXECUTIONS)?;
            let id = record.id.as_str();
            if execs.get(id)?.is_some() {
                return Ok(Err(OpError::ExecutionExists(id.to_owned())));
            }
            execs.insert(id, to_json(record).as_slice())?;
            let event = Event {
                index: 0,
                at_ms: record.created_at_ms,
                event: started.clone(),
            };
            txn.open_table(HISTORY)?
                .insert((id, 0), to_json(&event).as_slice())?;
        }
        Op::Append {
            id,
            at_ms,
            events,
            timers_add,
            timers_remove,
            close,
        } => {
            let mut execs = txn.open_table(EXECUTIONS)?;
            let key = id.as_str();
            let Some(raw) = execs.get(key)?.map(|g| g.value().to_vec()) else {
                return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
            };
            let mut history = txn.open_table(HISTORY)?;
            let first = match history.range((key, 0)..=(key, u64::MAX))?.next_back() {
                Some(entry) => entry?.0.value().1 + 1,
                None => 0,
            };
            for (index, kind) in (first..).zip(events) {
                let event = Event {
                    index,
                    at_ms: *at_ms,
                    event: kind.clone(),
                };
                history.insert((key, index), to_json(&event).as_slice())?;
            }
            let mut timers = txn.open_table(TIMERS)?;
            for (due, handle) in timers_add {
                timers.insert((*due, key, *handle), ())?;
            }
            for (due, handle) in timers_remove {
                timers.remove((*due, key, *handle))?;
            }
            if let Some(close) = close {
                let mut record: ExecutionRecord = from_json("execution", &raw)?;
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
                }
                execs.insert(key, to_json(&record).as_slice())?;
            }
        }
    }
    Ok(Ok(()))
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
