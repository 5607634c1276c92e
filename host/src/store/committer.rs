//! Group commit: one thread owns every write transaction. It takes whatever
//! batches are queued, applies them in one transaction and makes them durable
//! with one fsync, then answers each caller. Throughput is then bounded by
//! fsyncs per second times the batch size, not by one fsync per step.
//!
//! Each batch is all-or-nothing: its ops are checked against the
//! transaction's state as it stands (earlier batches of the group included)
//! and applied only if every one passes. An op refuses before it writes, so a
//! batch refused at its first op left nothing behind; one refused later had
//! written its earlier ops, so the group's transaction is dropped and the
//! group applied again without that batch. Refusals are deterministic, so
//! the batches before it refuse or pass as they did, and the ones after it
//! see the state without it. A failure of one batch's own (a record its op
//! cannot decode; on PostgreSQL a statement the database refused, which
//! surfaces at the next read of whichever batch comes next, or at the
//! commit: writes are buffered and merged, so it names no batch) is met by
//! writing the group's batches again one per transaction, so it fails only
//! its own; a failure of the store as a whole (disk, connection, lease)
//! fails the group.

use tokio::sync::{mpsc, oneshot, watch};

use super::apply::apply;
use super::census::Census;
use super::kv::Txn;
use super::{Backend, Op, OpError, StoreError};
use crate::model::EventKind;

/// Most batches folded into one transaction; bounds the latency of the first.
const MAX_GROUP: usize = 512;

pub(super) type Reply = oneshot::Sender<Result<Result<(), OpError>, StoreError>>;

pub(super) struct Request {
    pub ops: Vec<Op>,
    pub reply: Reply,
}

pub(super) fn spawn(
    backend: Backend,
    failing: watch::Sender<Option<String>>,
    deploys: std::sync::Arc<super::deploys::Deploys>,
    census: std::sync::Arc<Census>,
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
                // A deploy's change is forgotten by the store's readers once
                // its transaction ended, before anyone hears of it (its
                // caller may have stopped waiting: its write goes on).
                let deploy = group.iter().any(|r| super::deploys::any_change(&r.ops));
                commit_group(&backend, &census, &failing, group, || {
                    if deploy {
                        deploys.changed();
                    }
                });
            }
        })
        .expect("spawning the committer thread");
    tx
}

/// What applying a group found.
enum Applied {
    /// Every batch passed or was refused before it wrote: commit.
    Clean(Vec<Result<(), OpError>>),
    /// A batch was refused after some of its ops wrote: start again
    /// without it.
    Partial,
}

/// Applies the group's batches in order, skipping those refused already
/// (`refused`: refused again the same way). A failure (a record an op
/// cannot decode, a statement the database refused) fails the group, which
/// [`commit_group`] then writes batch by batch.
fn apply_group(
    txn: &Txn,
    group: &[Request],
    refused: &mut [Option<OpError>],
) -> Result<Applied, StoreError> {
    let mut outcomes = Vec::with_capacity(group.len());
    for (req, refusal) in group.iter().zip(refused.iter_mut()) {
        if let Some(e) = refusal {
            outcomes.push(Err(e.clone()));
            continue;
        }
        let mut wrote = false;
        let mut outcome = Ok(());
        for op in &req.ops {
            match apply(txn, op)? {
                // Other hosts follow it on a store of several partitions.
                Ok(()) if super::deploys::changes_shared(op) && txn.partition().is_some() => {
                    wrote = true;
                    super::mark_shared_change(txn)?;
                }
                Ok(()) => wrote = true,
                Err(e) => {
                    *refusal = Some(e.clone());
                    if wrote {
                        return Ok(Applied::Partial);
                    }
                    outcome = Err(e);
                    break;
                }
            }
        }
        outcomes.push(outcome);
    }
    Ok(Applied::Clean(outcomes))
}

/// `e` again, for a caller (the store's errors are not `Clone`).
fn again(e: &StoreError) -> StoreError {
    match e {
        StoreError::Corrupt { what, detail } => StoreError::Corrupt {
            what,
            detail: detail.clone(),
        },
        StoreError::Backend(text) => StoreError::Backend(text.clone()),
        StoreError::Io(reason) => StoreError::Io(reason.clone()),
        StoreError::Fenced(reason) => StoreError::Fenced(reason.clone()),
        StoreError::GivenUp => StoreError::GivenUp,
        StoreError::CommitterGone => StoreError::CommitterGone,
    }
}

/// What each caller of a group is answered.
type Answers = Vec<Result<Result<(), OpError>, StoreError>>;

/// Whether `e` is a failure of the store as a whole (the disk, the
/// connection, the lease), which every batch would meet alone too; any
/// other failure of a group may be one batch's own.
fn whole_store(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Io(_) | StoreError::Fenced(_) | StoreError::GivenUp | StoreError::CommitterGone
    )
}

/// Commits `group`; `ended` runs once its transaction ended (made or not),
/// before any caller is answered.
///
/// A group that fails for anything but the store as a whole is written
/// again one batch per transaction, in order, so that only the batch the
/// failure was its own fails: on PostgreSQL a statement the database
/// refused ends the whole transaction and surfaces at the next read or the
/// commit, naming no batch. The batches before it pass or are refused as
/// they were in the group, the ones after it see the state without it.
pub(super) fn commit_group(
    backend: &Backend,
    census: &Census,
    failing: &watch::Sender<Option<String>>,
    group: Vec<Request>,
    ended: impl FnOnce(),
) {
    let started = std::time::Instant::now();
    let answers = match write_group(backend, census, &group) {
        Ok(outcomes) => {
            observe(failing, started, group.len());
            outcomes.into_iter().map(Ok).collect()
        }
        Err(e) if group.len() > 1 && !whole_store(&e) => {
            tracing::warn!(error = %e, batches = group.len(), "a group commit failed; writing its batches one at a time");
            let mut answers = Vec::with_capacity(group.len());
            let mut gone: Option<StoreError> = None;
            for req in &group {
                if let Some(e) = &gone {
                    answers.push(Err(again(e)));
                    continue;
                }
                let started = std::time::Instant::now();
                match write_group(backend, census, std::slice::from_ref(req)) {
                    Ok(mut one) => {
                        observe(failing, started, 1);
                        answers.push(Ok(one.pop().expect("one outcome for one batch")));
                    }
                    Err(e) => {
                        failed(backend, failing, &e, 1);
                        answers.push(Err(again(&e)));
                        if whole_store(&e) {
                            gone = Some(e);
                        }
                    }
                }
            }
            answers
        }
        Err(e) => {
            failed(backend, failing, &e, group.len());
            group.iter().map(|_| Err(again(&e))).collect()
        }
    };
    // No transaction is open: a census a failed commit left unknown is
    // taken again now (after a disk error, from the file opened again).
    census.retake_if_unknown(|| backend.begin_read());
    ended();
    count_lifecycle(&group, &answers);
    for (req, answer) in group.into_iter().zip(answers) {
        let _ = req.reply.send(answer);
    }
}

/// A group's commit was made: measured, and a failing store said to write
/// again.
fn observe(failing: &watch::Sender<Option<String>>, started: std::time::Instant, batches: usize) {
    crate::metrics::get().commit.observe(started.elapsed());
    crate::metrics::get()
        .commit_batches
        .observe_value(batches as f64);
    if failing.borrow().is_some() {
        tracing::info!("the store writes again");
        failing.send_replace(None);
    }
}

/// A group's commit failed with `e`: logged, and a disk error said and
/// recovered from.
fn failed(
    backend: &Backend,
    failing: &watch::Sender<Option<String>>,
    e: &StoreError,
    batches: usize,
) {
    if let StoreError::GivenUp = e {
        tracing::info!(batches, "not written: this host gave the store up");
        return;
    }
    // Said where it was found (a fence: once, as an error, and the host
    // stops; a partition handed over: with the handover).
    if let StoreError::Fenced(why) = e {
        tracing::warn!(
            batches,
            reason = why,
            "not written: this host does not hold this part of the store now"
        );
        return;
    }
    tracing::error!(error = %e, batches, "group commit failed; nothing in it was written");
    if let StoreError::Io(reason) = e {
        crate::metrics::get().store_write_failures.inc();
        failing.send_replace(Some(reason.clone()));
        // redb refuses everything after an I/O error until the file is
        // opened again; do it now so reads go on.
        if let Err(e) = backend.recover() {
            tracing::error!(error = %e, "could not reopen the store after a disk error");
        }
    }
}

/// Applies and commits `group` in one transaction: each caller's answer,
/// or the failure that left nothing written.
fn write_group(
    backend: &Backend,
    census: &Census,
    group: &[Request],
) -> Result<Vec<Result<(), OpError>>, StoreError> {
    let mut refused: Vec<Option<OpError>> = vec![None; group.len()];
    let touched: Vec<&str> = group
        .iter()
        .flat_map(|req| req.ops.iter().filter_map(touched))
        .collect();
    let created: Vec<&str> = group
        .iter()
        .flat_map(|req| &req.ops)
        .filter_map(|op| match op {
            Op::CreateExecution { record, .. } => Some(record.id.as_str()),
            _ => None,
        })
        .collect();
    let outcomes = loop {
        // Tests fail a group holding a workflow task's step as a disk
        // error would: the store's writes fail until a probe succeeds.
        if group
            .iter()
            .any(|r| r.ops.iter().any(|op| matches!(op, Op::Append { .. })))
            && crate::pause::fails("step-commit-io")
        {
            return Err(StoreError::Io(
                "injected by WEFT_FAIL_AT=step-commit-io".to_owned(),
            ));
        }
        let txn = backend.begin_write()?;
        super::census::forget_noted();
        // Tests stop here to pause a host between its own check that it
        // holds the store and its first statement (PostgreSQL: nothing sent
        // yet; the database's fence must refuse what follows).
        crate::pause::point_blocking("write-begun");
        // With the retired rows of the ids it creates (an id deleted
        // before goes on from the run and epoch it reached).
        let ahead = [
            (super::tables::EXECUTIONS, touched.as_slice()),
            (super::tables::RETIRED, created.as_slice()),
        ];
        txn.read_ahead(&ahead)?;
        // Each end of an activity, timer or child and each attempt's write
        // checks its handle's completion row; each close drops its run's
        // timer rows.
        let keys = checked_completions(&txn, group)?;
        txn.read_ahead_keys(super::tables::COMPLETED, &keys)?;
        txn.read_ahead_first(super::tables::TIMERS_BY_EXECUTION, &closing(group))?;
        match apply_group(&txn, group, &mut refused)? {
            Applied::Clean(outcomes) => {
                // Tests stop here to end the database connection under a
                // commit (PostgreSQL: its writes and COMMIT not sent yet).
                crate::pause::point_blocking("commit-before-send");
                // The census of executions moves with the commit; a
                // failed commit may or may not have written (see
                // `census.rs`).
                match txn.commit() {
                    Ok(()) => census.made(),
                    Err(e) => {
                        census.unknown();
                        return Err(e);
                    }
                }
                break outcomes;
            }
            Applied::Partial => txn.abort()?,
        }
    };
    Ok(outcomes)
}

/// The execution whose record an op reads first, if it is known before
/// the op runs.
fn touched(op: &Op) -> Option<&str> {
    match op {
        Op::Append { id, .. }
        | Op::ContinueAsNew { id, .. }
        | Op::AttemptFailed { id, .. }
        | Op::Heartbeat { id, .. }
        | Op::TaskTaken { id, .. }
        | Op::MoveExecution { id, .. }
        | Op::DeleteExecution { id, .. }
        | Op::Reset { id, .. } => Some(id.as_str()),
        Op::CreateExecution { record, .. } => Some(record.id.as_str()),
        Op::TellParent { child, .. } => Some(child.as_str()),
        _ => None,
    }
}

/// The completion rows `(id, run start, handle)` the group's ops check
/// (`history::append`, `apply::check_attempt`), as the records read ahead
/// tell them before the ops run (a run an earlier batch of the group
/// replaced checks other rows, which are then read one by one).
fn checked_completions<'g>(
    txn: &Txn,
    group: &'g [Request],
) -> Result<Vec<(&'g str, u64, u64)>, StoreError> {
    let execs = txn.open_table(super::tables::EXECUTIONS)?;
    let mut keys = Vec::new();
    for op in group.iter().flat_map(|r| &r.ops) {
        match op {
            Op::Append { id, events, .. } => {
                let head = match super::apply::read_head(&execs, id.as_str()) {
                    Ok(Some(head)) => head,
                    Ok(None) => continue,
                    // Read ahead only: the batch's own op meets it, and
                    // the batch fails alone.
                    Err(StoreError::Corrupt { .. }) => continue,
                    Err(e) => return Err(e),
                };
                let handles = events.iter().filter_map(super::history::checked_handle);
                keys.extend(handles.map(|h| (id.as_str(), head.run_start, h)));
            }
            Op::AttemptFailed {
                id,
                run_start,
                handle,
                ..
            }
            | Op::Heartbeat {
                id,
                run_start,
                handle,
                ..
            }
            | Op::TaskTaken {
                id,
                run_start,
                handle,
                ..
            } => keys.push((id.as_str(), *run_start, *handle)),
            _ => {}
        }
    }
    Ok(keys)
}

/// The executions whose run the group's ops may close (their timer rows
/// are dropped).
fn closing(group: &[Request]) -> Vec<&str> {
    group
        .iter()
        .flat_map(|r| &r.ops)
        .filter_map(|op| match op {
            Op::Append {
                id, close: Some(_), ..
            }
            | Op::ContinueAsNew { id, .. }
            | Op::DeleteExecution { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect()
}

/// Counts the runs started and the executions closed by a committed group.
fn count_lifecycle(group: &[Request], answers: &Answers) {
    for (req, answer) in group.iter().zip(answers) {
        if !matches!(answer, Ok(Ok(()))) {
            continue;
        }
        for op in &req.ops {
            match op {
                Op::CreateExecution { record, .. } => {
                    crate::metrics::get().started(record.workflow_type.as_str());
                }
                Op::ContinueAsNew {
                    started: EventKind::ExecutionStarted { workflow_type, .. },
                    ..
                } => crate::metrics::get().started(workflow_type.as_str()),
                _ => {}
            }
        }
    }
}
