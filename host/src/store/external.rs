//! Delivering a workflow's request to another execution (a signal or a
//! cancellation) from the outbox: exactly once, whatever crashes between the
//! request's record and its delivery.

use super::kv::Txn;

use super::apply::{from_json, read_record};
use super::history::{append, Outcome};
use super::tables::{EXECUTIONS, HISTORY, INBOX, OUTBOX};
use super::{ExternalRequest, Op, OpError};
use crate::model::{Event, EventKind, Failure};

pub(super) fn deliver(txn: &Txn, op: &Op) -> Outcome {
    let Op::Deliver {
        request,
        at_ms,
        target_found,
        cancel,
    } = op
    else {
        unreachable!("deliver takes Deliver")
    };
    // Delivered already, or replaced by the request a reset's re-run made
    // under the same key (delivered by its own delivery).
    let row = txn.open_table(OUTBOX)?.get(request.key.as_str())?;
    match row {
        Some(raw) if from_json::<ExternalRequest>("outbox request", &raw)? == *request => {}
        _ => return Ok(Ok(())),
    }
    if let Some(cancel) = cancel {
        match append(txn, cancel)? {
            // Asked before under this key (a reset of the sender made the
            // request again): it reached its target then.
            Ok(()) | Err(OpError::AlreadyRecorded(_)) => {}
            Err(e) => return Ok(Err(e)),
        }
    }
    let found = match target_found {
        Some(found) => *found,
        None => signal(txn, request, *at_ms)?,
    };
    if holds(txn, request)? {
        let failure = (!found).then(|| {
            Failure::new(
                "not-found",
                format!(
                    "no execution {} is running (it never existed, or it closed)",
                    request.target
                ),
            )
        });
        let completion = Op::append(
            &request.sender,
            *at_ms,
            vec![EventKind::ExternalCompleted {
                handle: request.handle,
                failure,
            }],
        );
        // A completion already recorded (a delivery racing another) or a
        // run that closed meanwhile: the request is delivered all the same.
        if let Err(e) = append(txn, &completion)? {
            tracing::debug!(key = %request.key, error = %e, "request delivered without completion");
        }
    }
    txn.open_table(OUTBOX)?.delete(request.key.as_str())?;
    Ok(Ok(()))
}

/// Records the signal of a sender in another partition in its target here
/// (see `Op::Receive`).
pub(super) fn receive(txn: &Txn, op: &Op) -> Outcome {
    let Op::Receive {
        request,
        at_ms,
        from,
        cancel,
    } = op
    else {
        unreachable!("receive takes Receive")
    };
    // Still the sender's to send (as `deliver` checks): else nothing.
    match txn.get_locked_in(OUTBOX, *from, &request.key.as_str())? {
        Some(raw) if from_json::<ExternalRequest>("outbox request", &raw)? == *request => {}
        _ => return Ok(Ok(())),
    }
    if let Some(cancel) = cancel {
        return match append(txn, cancel)? {
            // Asked before under this key.
            Ok(()) | Err(OpError::AlreadyRecorded(_)) => Ok(Ok(())),
            Err(e) => Ok(Err(e)),
        };
    }
    if signal(txn, request, *at_ms)? {
        return Ok(Ok(()));
    }
    Ok(Err(OpError::NoSuchExecution(request.target.clone())))
}

/// Records the request's signal in its target, once per key; false when the
/// target does not run.
fn signal(txn: &Txn, request: &ExternalRequest, at_ms: u64) -> Result<bool, super::StoreError> {
    let target = request.target.as_str();
    if txn
        .open_table(INBOX)?
        .get((target, request.key.as_str()))?
        .is_some()
    {
        return Ok(true);
    }
    let Ok(id) = target.parse() else {
        return Ok(false);
    };
    if let Some(handle) = request.child {
        let execs = txn.open_table(EXECUTIONS)?;
        // The child the handle started: its link names the sender, the
        // handle, and the request's epoch (a reset moves the links of the
        // children it keeps, and the requests it keeps, on together). A
        // child of a later epoch under the same id and handle is another
        // run's (after a continue-as-new, or a start of the id again).
        let is_child = read_record(&execs, target)?
            .and_then(|r| r.parent)
            .is_some_and(|p| {
                p.id == request.sender
                    && p.handle == handle
                    && request.epoch.is_none_or(|epoch| p.epoch == epoch)
            });
        if !is_child {
            return Ok(false);
        }
    }
    let op = Op::append(
        &id,
        at_ms,
        vec![EventKind::SignalReceived {
            name: request.name.clone(),
            input: request.input.clone(),
            request_id: None,
        }],
    );
    match append(txn, &op)? {
        Ok(()) => {
            txn.open_table(INBOX)?
                .insert((target, request.key.as_str()), ())?;
            Ok(true)
        }
        Err(OpError::NoSuchExecution(_) | OpError::Closed { .. }) => Ok(false),
        Err(e) => Err(super::StoreError::Corrupt {
            what: "signal delivery",
            detail: e.to_string(),
        }),
    }
}

/// Whether the sender's current run still holds the request (it did not
/// close, continue as new, or get reset to before it), so its handle waits
/// for the completion.
fn holds(txn: &Txn, request: &ExternalRequest) -> Result<bool, super::StoreError> {
    let execs = txn.open_table(EXECUTIONS)?;
    let key = request.sender.as_str();
    let Some(record) = read_record(&execs, key)? else {
        return Ok(false);
    };
    if record.status.is_closed() {
        return Ok(false);
    }
    let history = txn.open_table(HISTORY)?;
    for entry in history.range((key, record.run_start)..=(key, u64::MAX))? {
        let e: Event = from_json("event", &entry.1)?;
        if let EventKind::ExternalSent { key, .. } = &e.event {
            if *key == request.key {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
