//! Keeping the disk bounded: deleting closed executions past their
//! retention (with everything kept beside their histories), start and
//! signal request ids past the same window, and modules nothing refers to.

use super::kv::Txn;

use super::apply::{from_json, read_record, to_json};
use super::history::{Retired, SeenRequest};
use super::tables::{
    ACTIVITIES, ATTEMPTS, COMPLETED, EXECUTIONS, HEARTBEATS, HISTORY, INBOX, MODULES, MODULE_META,
    RETIRED, SCHEDULES, START_REQUESTS, TYPE_RETENTION, TYPE_VERSIONS, WORKFLOW_TYPES,
};
use super::{Op, OpError, StoreError};
use crate::model::WorkflowVersion;

type Outcome = Result<Result<(), OpError>, StoreError>;

/// Deletes a closed execution: its row, its history (every run), and what
/// is kept beside them (heartbeats, retry states, completion rows, signal
/// request keys, timer rows); the run and epoch it reached stay
/// (`RETIRED`), and so do the parent-close policies it still owes its
/// children (owed policies: applied later, they find each child by its
/// own record; dropped here, the children ran on unasked).
pub(super) fn delete_execution(txn: &Txn, op: &Op) -> Outcome {
    let Op::DeleteExecution { id, resets } = op else {
        unreachable!("delete_execution takes DeleteExecution")
    };
    let key = id.as_str();
    let mut execs = txn.open_table(EXECUTIONS)?;
    let Some(record) = read_record(&execs, key)? else {
        return Ok(Err(OpError::NoSuchExecution(key.to_owned())));
    };
    if !record.status.is_closed() {
        return Ok(Err(OpError::NotClosed {
            id: key.to_owned(),
            status: record.status.to_string(),
        }));
    }
    if resets.is_some_and(|resets| resets != record.resets) {
        return Ok(Err(OpError::Stale(key.to_owned())));
    }
    super::census::note(key, Some(super::census::Entry::of(&record)), None);
    execs.delete(key)?;
    drop(execs);
    // What the next execution under this id goes on from (the most it
    // reached: a row an older release left in place may say more).
    let mut retired = txn.open_table(RETIRED)?;
    let before = match retired.get(key)? {
        Some(raw) => Some(from_json::<Retired>("retired execution", &raw)?),
        None => None,
    };
    let last = Retired {
        run: before.as_ref().map_or(0, |b| b.run).max(record.run),
        resets: before.as_ref().map_or(0, |b| b.resets).max(record.resets),
    };
    retired.insert(key, to_json(&last).as_slice())?;
    drop(retired);
    txn.open_table(HISTORY)?
        .delete_range((key, 0)..=(key, u64::MAX))?;
    txn.open_table(HEARTBEATS)?
        .delete_range((key, 0, 0)..=(key, u32::MAX, u64::MAX))?;
    txn.open_table(ATTEMPTS)?
        .delete_range((key, 0, 0)..=(key, u64::MAX, u64::MAX))?;
    txn.open_table(COMPLETED)?
        .delete_range((key, 0, 0)..=(key, u64::MAX, u64::MAX))?;
    txn.open_table(INBOX)?
        .delete_range((key, "")..=(key, "\u{10FFFF}"))?;
    super::signal_requests::drop_all(txn, key)?;
    super::timers::drop_all(txn, key)?;
    Ok(Ok(()))
}

/// The start request rows past their window: seen before `before_ms` (or
/// a workflow type's own time in `per_type`) and the execution they
/// started no longer kept. `(key, seen at)`. A read, away from the
/// committer: a row of an execution that runs longer than its retention
/// is looked at once a sweep.
pub(super) fn start_requests_past(
    txn: &Txn,
    before_ms: u64,
    per_type: &[(String, u64)],
) -> Result<Vec<(String, u64)>, StoreError> {
    let mut past = Vec::new();
    for (key, raw) in txn.open_table(START_REQUESTS)?.iter()? {
        // Keys are `<type>\0<request id>` (or `<type>\0<id>\0<request id>`).
        let workflow_type = key.split('\0').next().unwrap_or_default();
        let before = per_type
            .iter()
            .find(|(t, _)| t == workflow_type)
            .map_or(before_ms, |(_, b)| *b);
        if let Ok(seen) = serde_json::from_slice::<SeenRequest>(&raw) {
            if seen.at_ms < before {
                past.push((key, seen));
            }
        }
    }
    let execs = txn.open_table(EXECUTIONS)?;
    let mut out = Vec::new();
    for (key, seen) in past {
        // A record that cannot be decoded counts as gone here (the
        // request's window from its start has passed): one bad record
        // must not keep every sweep from forgetting.
        let kept = match super::history::started_is_kept(&execs, &seen) {
            Err(StoreError::Corrupt { what, detail }) => {
                tracing::warn!(execution = %seen.execution, what, detail, "the execution a start request started cannot be read; its request id is forgotten");
                false
            }
            kept => kept?,
        };
        if !kept {
            out.push((key, seen.at_ms));
        }
    }
    Ok(out)
}

/// Forgets the start request rows given, each unless it was written again
/// since it was read (another start with the request id).
pub(super) fn forget_start_requests(txn: &Txn, op: &Op) -> Outcome {
    let Op::ForgetStartRequests { rows } = op else {
        unreachable!("forget_start_requests takes ForgetStartRequests")
    };
    let mut table = txn.open_table(START_REQUESTS)?;
    for (key, at_ms) in rows {
        let same = table
            .get(key.as_str())?
            .and_then(|raw| serde_json::from_slice::<SeenRequest>(&raw).ok())
            .is_some_and(|seen| seen.at_ms == *at_ms);
        if same {
            table.delete(key.as_str())?;
        }
    }
    Ok(Ok(()))
}

/// Sets (or, with `None`, clears) a workflow type's retention.
pub(super) fn set_retention(txn: &Txn, op: &Op) -> Outcome {
    let Op::SetRetention { name, retention_ms } = op else {
        unreachable!("set_retention takes SetRetention")
    };
    let mut table = txn.open_table(TYPE_RETENTION)?;
    match retention_ms {
        Some(ms) => table.insert(name.as_str(), *ms)?,
        None => table.delete(name.as_str())?,
    };
    Ok(Ok(()))
}

/// Deletes a module's bytes and metadata, and the version rows that name
/// it. The engine chose it as unused from reads made before; a deploy, a
/// start or a move may have made it used since, so it is refused here if
/// anything refers to it now.
pub(super) fn delete_module(txn: &Txn, op: &Op) -> Outcome {
    let Op::DeleteModule { hash } = op else {
        unreachable!("delete_module takes DeleteModule")
    };
    let key = hash.to_string();
    if let Some(why) = module_use(txn, &key)? {
        return Ok(Err(OpError::ModuleInUse { module: key, why }));
    }
    txn.open_table(MODULES)?.delete(key.as_str())?;
    txn.open_table(MODULE_META)?.delete(key.as_str())?;
    txn.open_table(TYPE_VERSIONS)?.retain(|_, raw| {
        serde_json::from_slice::<WorkflowVersion>(raw).map_or(true, |v| v.module != *hash)
    })?;
    Ok(Ok(()))
}

/// What refers to module `key` (by its hash) now, if anything: a type's
/// current version, an activity it serves, a schedule's pinned version.
/// Cheap tables only, inside the commit that every step waits for: the
/// executions' modules were read by the prune before (a run that started
/// since on a version that was current then is the case left open, see
/// `Engine::prune_modules`). A schedule record that cannot be decoded may
/// pin it: it counts as a use.
fn module_use(txn: &Txn, key: &str) -> Result<Option<String>, StoreError> {
    let mut why = None;
    // Name -> module hash, both.
    for (table, what) in [
        (WORKFLOW_TYPES, "it is the current version of"),
        (ACTIVITIES, "it serves activity"),
    ] {
        if why.is_some() {
            break;
        }
        txn.open_table(table)?.scan(.., false, |name, module| {
            if module == key {
                why = Some(format!("{what} {name}"));
            }
            Ok(why.is_none())
        })?;
    }
    if why.is_none() {
        let versions = txn.open_table(TYPE_VERSIONS)?;
        let mut pins = Vec::new();
        txn.open_table(SCHEDULES)?.scan(.., false, |name, raw| {
            // Its pin only (not its input nor its queue).
            match serde_json::from_slice::<PinOf>(raw) {
                Ok(PinOf {
                    schedule:
                        PinnedSchedule {
                            action:
                                PinnedAction {
                                    workflow_type,
                                    version: Some(version),
                                },
                        },
                }) => pins.push((name.to_owned(), workflow_type, version)),
                Ok(_) => {}
                Err(_) => why = Some(format!("schedule {name} cannot be read, and may pin it")),
            }
            Ok(why.is_none())
        })?;
        for (name, workflow_type, version) in pins {
            if why.is_some() {
                break;
            }
            if let Some(raw) = versions.get((workflow_type.as_str(), version))? {
                match from_json::<WorkflowVersion>("workflow version", &raw) {
                    Ok(pinned) if pinned.module.to_string() != key => {}
                    Ok(_) => why = Some(format!("schedule {name} pins it")),
                    Err(_) => {
                        why = Some(format!(
                            "version {version} of {workflow_type}, which schedule {name} pins, \
                             cannot be read, and may be it"
                        ))
                    }
                }
            }
        }
    }
    Ok(why)
}

/// What of a schedule record names the version it pins.
#[derive(serde::Deserialize)]
struct PinOf {
    schedule: PinnedSchedule,
}

#[derive(serde::Deserialize)]
struct PinnedSchedule {
    action: PinnedAction,
}

#[derive(serde::Deserialize)]
struct PinnedAction {
    workflow_type: String,
    #[serde(default)]
    version: Option<u32>,
}

/// The closed executions whose retention ran out by `now_ms`: each type's
/// own retention, or `default_ms`.
pub(super) fn expired(
    txn: &Txn,
    now_ms: u64,
    default_ms: u64,
) -> Result<Vec<super::ExecutionHead>, StoreError> {
    let per_type = txn.open_table(TYPE_RETENTION)?;
    let mut out = Vec::new();
    txn.open_table(EXECUTIONS)?.scan(.., false, |_, raw| {
        // The head only: inputs and outputs may be megabytes each.
        let record: super::ExecutionHead = from_json("execution", raw)?;
        let Some(closed) = record.closed_at_ms.filter(|_| record.status.is_closed()) else {
            return Ok(true);
        };
        let keep = per_type
            .get(record.workflow_type.as_str())?
            .unwrap_or(default_ms);
        if closed.saturating_add(keep) <= now_ms {
            out.push(record);
        }
        Ok(true)
    })?;
    Ok(out)
}
