//! A schedule's evaluation: the times that came, the queued actions its
//! overlap policy takes, and each start written with the schedule's new
//! state.

use std::sync::Arc;

use super::spec;
use crate::engine::{EngineError, Inner, StartOptions};
use crate::model::schedule::{
    ActionKind, ActionRecord, OverlapPolicy, PendingAction, ScheduleRecord, BUFFER_CAP,
};
use crate::model::{ExecutionId, ExecutionRecord, ExecutionStatus, Payload};
use crate::store::{Op, OpError, Reuse, StoreError};

/// Times one evaluation moves over before it lets the others run (a
/// per-second cron after a day's outage is caught up in passes).
const PASS: usize = 1_000;
/// What a search that found only excluded times counts against [`PASS`]
/// (it looked at up to 100,000 candidates).
const EXCLUDED_SEARCH: usize = PASS / 2;

/// What the overlap policy does with the first queued action now.
enum Decision {
    /// Start it, terminating these runs in the same write
    /// (`terminate-other`; none for the other policies).
    Start(Vec<ExecutionRecord>),
    /// Drop it (`skip`, or a second one waiting under `buffer-one`).
    Drop,
    Wait,
}

/// One evaluation of `name`; the answer is when it is due next.
pub(super) async fn evaluate(inner: &Arc<Inner>, name: &str) -> Result<Option<u64>, EngineError> {
    'again: for _ in 0..10 {
        let Some(mut rec) = inner.store.schedule(name)? else {
            return Ok(None);
        };
        let compiled = match spec::compile(&rec.schedule.spec) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(schedule = %name, error = %e, "schedule spec does not compile; it does nothing");
                return Ok(None);
            }
        };
        let now = inner.clock.now_ms();
        let mut dirty = reconcile(inner, &mut rec);

        // The times that came since the cursor.
        let (moved, next_wake) = take_times(name, &compiled, &mut rec, now, Due::AtMoment);
        dirty |= moved;

        // The queued actions the overlap policy lets start.
        while let Some(action) = rec.state.pending.first().cloned() {
            let policy = rec.overlap_of(&action);
            // What it started may have ended since this evaluation began.
            if !rec.state.running.is_empty() && reconcile(inner, &mut rec) {
                dirty = true;
            }
            // Paused: scheduled times wait for nothing (triggers and
            // backfills still act).
            if rec.state.paused && action.kind == ActionKind::Scheduled {
                rec.state.pending.remove(0);
                rec.record_action(skipped(&action, now, "the schedule is paused"));
                dirty = true;
                continue;
            }
            // No action remains (lowered since it was queued).
            if action.kind == ActionKind::Scheduled && rec.state.remaining_actions == Some(0) {
                rec.state.pending.remove(0);
                rec.record_action(skipped(&action, now, "no actions remain"));
                dirty = true;
                continue;
            }
            // Several queued at once under a policy whose next action
            // replaces the running one (the clock passed many times at once,
            // a catch-up after downtime): each would start only to be
            // cancelled or terminated by the next, its first steps run for
            // nothing; the newest replaces them all.
            // Scheduled times only: a trigger or a backfill was asked for.
            if action.kind == ActionKind::Scheduled
                && matches!(
                    policy,
                    OverlapPolicy::CancelOther | OverlapPolicy::TerminateOther
                )
                && rec.state.pending[1..].iter().any(|later| {
                    later.kind == ActionKind::Scheduled && rec.overlap_of(later) == policy
                })
            {
                rec.state.pending.remove(0);
                rec.state.skipped_overlap += 1;
                rec.record_action(skipped(&action, now, "a later one replaces it"));
                dirty = true;
                continue;
            }
            let replacing = matches!(
                policy,
                OverlapPolicy::CancelOther | OverlapPolicy::TerminateOther
            );
            let decision = if rec.state.running.is_empty() || policy == OverlapPolicy::AllowAll {
                Decision::Start(Vec::new())
            } else if replacing && inner.store.id_ever_used(&action_id(&rec, &action)?)? {
                // Its id is taken (a backfill naming a time that ran, or
                // runs now): it stops nothing, and its start is refused.
                Decision::Start(Vec::new())
            } else {
                match policy {
                    OverlapPolicy::Skip => Decision::Drop,
                    OverlapPolicy::BufferOne | OverlapPolicy::BufferAll => Decision::Wait,
                    OverlapPolicy::CancelOther => {
                        let why =
                            format!("schedule {name}: a later action replaces it (cancel-other)");
                        // Those it could not read are asked at the next
                        // evaluation.
                        for open in open_runs(inner, &rec).0 {
                            if open.cancel_requested {
                                continue;
                            }
                            if let Err(e) = inner.cancel(&open.id, &why).await {
                                tracing::warn!(schedule = %name, execution = %open.id, error = %e, "could not cancel the running execution");
                            }
                        }
                        Decision::Wait
                    }
                    OverlapPolicy::TerminateOther => {
                        // Tests stop here to change the schedule after it
                        // was read.
                        crate::pause::point("schedule-replace").await;
                        match open_runs(inner, &rec) {
                            (open, true) => Decision::Start(open),
                            // One it could not read may run: it is not
                            // replaced blind.
                            (_, false) => Decision::Wait,
                        }
                    }
                    OverlapPolicy::AllowAll => Decision::Start(Vec::new()),
                }
            };
            match decision {
                Decision::Wait => {
                    // Behind a waiting action, each later one follows its
                    // own policy: `skip` and `buffer-one` are dropped (one
                    // runs, one waits), the others wait their turn.
                    if drop_behind(&mut rec, now) {
                        dirty = true;
                    }
                    if let Some(at) = allow_all_behind(&rec) {
                        match start(inner, &mut rec, at, now, &[]).await? {
                            Started::Written => {
                                dirty = false;
                                continue;
                            }
                            Started::Changed => continue 'again,
                        }
                    }
                    break;
                }
                Decision::Drop => {
                    rec.state.pending.remove(0);
                    rec.state.skipped_overlap += 1;
                    let running = rec.state.running.join(", ");
                    rec.record_action(skipped(
                        &action,
                        now,
                        &format!("{running} still running (skip)"),
                    ));
                    dirty = true;
                }
                Decision::Start(replaced) => match start(inner, &mut rec, 0, now, &replaced).await?
                {
                    Started::Written => dirty = false,
                    Started::Changed => continue 'again,
                },
            }
        }
        if dirty {
            let read = rec.revision;
            rec.revision += 1;
            rec.updated_at_ms = now;
            match inner
                .store
                .write(vec![Op::PutSchedule {
                    record: Box::new(rec.clone()),
                    expect_revision: Some(read),
                }])
                .await?
            {
                Ok(()) => {}
                Err(OpError::ScheduleChanged(_)) => continue 'again,
                Err(OpError::NoSuchSchedule(_)) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        return Ok(next_wake);
    }
    Err(EngineError::Conflict(format!(
        "schedule {name} kept changing during its evaluation"
    )))
}

/// When a time of a schedule's spec is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Due {
    /// Once its moment (the time and its jitter) came, at most [`PASS`]
    /// times at once: an evaluation.
    AtMoment,
    /// Once the time came, its jitter ignored, up to a hundred passes: a
    /// spec update takes what the old spec made due before the new one
    /// takes over (a time its jitter still held back starts now, inside its
    /// jitter).
    AtTime,
}

/// Moves `rec`'s cursor over the times of `compiled` that are due by
/// `now`, queueing the actions they make (or counting why not: paused, no
/// actions remain, past the catch-up window, the buffer full). Whether it
/// changed anything, and when it is due next (`now` when a pass ended with
/// more due).
pub(super) fn take_times(
    name: &str,
    compiled: &spec::CompiledSpec,
    rec: &mut ScheduleRecord,
    now: u64,
    due: Due,
) -> (bool, Option<u64>) {
    let mut dirty = false;
    let mut next_wake = None;
    let mut moved = 0;
    // An update takes all that came, within reason: it runs inside an API
    // request (past that, the rest of the old spec's times are dropped).
    let pass = if due == Due::AtMoment {
        PASS
    } else {
        100 * PASS
    };
    loop {
        let nominal = match compiled.search(rec.state.cursor_ms) {
            spec::Search::At(t) => t,
            spec::Search::End => break,
            // A long run of excluded times (every second but not at
            // weekends): none of them acts, so the cursor passes those
            // already come, and the search goes on from there now or
            // once the clock reaches where it stopped.
            spec::Search::Excluded(last) => {
                let to = last.min(now);
                if to > rec.state.cursor_ms {
                    rec.state.cursor_ms = to;
                    dirty = true;
                }
                moved += EXCLUDED_SEARCH;
                if last > now {
                    // Woken at the next time after the gap, if one
                    // search more finds it (time skipping goes there).
                    next_wake = match compiled.search(last) {
                        spec::Search::At(t) => Some(compiled.moment(name, t)),
                        spec::Search::Excluded(further) => Some(further),
                        spec::Search::End => None,
                    };
                    break;
                }
                if moved >= pass {
                    next_wake = Some(now);
                    break;
                }
                continue;
            }
        };
        let fire = compiled.moment(name, nominal);
        let came = match due {
            Due::AtMoment => fire,
            Due::AtTime => nominal,
        };
        if came > now {
            next_wake = Some(fire);
            break;
        }
        if moved >= pass {
            next_wake = Some(now);
            break;
        }
        moved += 1;
        rec.state.cursor_ms = nominal;
        dirty = true;
        if rec.state.paused {
            continue;
        }
        let queued = rec
            .state
            .pending
            .iter()
            .filter(|p| p.kind == ActionKind::Scheduled)
            .count() as u64;
        if rec
            .state
            .remaining_actions
            .is_some_and(|left| left <= queued)
        {
            continue;
        }
        if now.saturating_sub(fire) > rec.schedule.policies.catchup_window_ms {
            rec.state.missed_catchup += 1;
            continue;
        }
        if rec.state.pending.len() >= BUFFER_CAP {
            rec.state.skipped_overlap += 1;
            continue;
        }
        rec.state.pending.push(PendingAction {
            nominal_ms: nominal,
            kind: ActionKind::Scheduled,
            overlap: None,
        });
    }
    (dirty, next_wake)
}

/// Drops the queued actions after the first whose own policy does not let
/// them wait behind it (`skip`: one runs; `buffer-one`: one waits already).
/// Whether it dropped any.
fn drop_behind(rec: &mut ScheduleRecord, now: u64) -> bool {
    let mut dropped = false;
    for later in rec.state.pending.split_off(1) {
        let why = match rec.overlap_of(&later) {
            OverlapPolicy::Skip => "one runs (skip)",
            OverlapPolicy::BufferOne => "an earlier one waits (buffer-one)",
            _ => {
                rec.state.pending.push(later);
                continue;
            }
        };
        dropped = true;
        rec.state.skipped_overlap += 1;
        rec.record_action(skipped(&later, now, why));
    }
    dropped
}

/// A queued `allow-all` action after the first, which starts anyway
/// behind actions that wait for the running one to end: not while an
/// action that replaces the running ones waits (it would replace this one
/// too), nor a scheduled time while paused.
fn allow_all_behind(rec: &ScheduleRecord) -> Option<usize> {
    let pending = &rec.state.pending;
    let replacing = pending.iter().any(|p| {
        matches!(
            rec.overlap_of(p),
            OverlapPolicy::CancelOther | OverlapPolicy::TerminateOther
        )
    });
    if replacing {
        return None;
    }
    let later = pending.iter().skip(1).position(|p| {
        rec.overlap_of(p) == OverlapPolicy::AllowAll
            && !(rec.state.paused && p.kind == ActionKind::Scheduled)
    });
    later.map(|i| i + 1)
}

/// The records of the schedule's running executions that are open, to be
/// replaced, and whether every one could be read (evaluated again in a
/// second when the store could not answer).
fn open_runs(inner: &Arc<Inner>, rec: &ScheduleRecord) -> (Vec<ExecutionRecord>, bool) {
    let (mut open, mut all) = (Vec::new(), true);
    for id in &rec.state.running {
        let Ok(parsed) = id.parse::<ExecutionId>() else {
            continue;
        };
        match StoreError::fail_point("schedule-replace-read")
            .and_then(|()| inner.store.execution(&parsed))
        {
            Ok(Some(r)) if !r.status.is_closed() => open.push(r),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(schedule = %rec.name, execution = %id, error = %e, "could not read the running execution to replace it");
                if matches!(e, StoreError::Io(_)) {
                    super::kick_in_a_second(inner, &rec.name);
                }
                all = false;
            }
        }
    }
    (open, all)
}

fn skipped(action: &PendingAction, now: u64, why: &str) -> ActionRecord {
    ActionRecord {
        nominal_ms: action.nominal_ms,
        at_ms: now,
        kind: action.kind,
        execution: None,
        outcome: format!("skipped: {why}"),
    }
}

/// Drops the executions that closed from the running list (their outcome
/// goes to the recent actions; a failure pauses the schedule if its policy
/// says so) and watches the others. Whether anything changed.
fn reconcile(inner: &Arc<Inner>, rec: &mut ScheduleRecord) -> bool {
    let mut changed = false;
    for id in std::mem::take(&mut rec.state.running) {
        // Watched before its status is read: a close in between is told.
        if let Ok(parsed) = id.parse::<ExecutionId>() {
            inner.schedules.watch(parsed, &rec.name);
        }
        let read = match id.parse::<ExecutionId>() {
            Ok(parsed) => StoreError::fail_point("schedule-reconcile-read")
                .and_then(|()| inner.store.execution(&parsed)),
            Err(_) => Ok(None),
        };
        let record = match read {
            Ok(record) => record,
            // Not known now (a cut connection, a disk error): it still
            // counts as running, and is read again at the next evaluation.
            Err(e) => {
                tracing::warn!(schedule = %rec.name, execution = %id, error = %e, "could not read a running action; it counts as running");
                rec.state.running.push(id);
                // Its close may have been told already: evaluated again
                // in a second, whatever comes.
                super::kick_in_a_second(inner, &rec.name);
                continue;
            }
        };
        let (status, outcome) = match &record {
            Some(r) if !r.status.is_closed() => {
                rec.state.running.push(id);
                continue;
            }
            Some(r) => (Some(r.status), r.status.to_string()),
            // Deleted meanwhile (retention, an operator): it ended, how is
            // not known.
            None => (None, "deleted".to_owned()),
        };
        if let Ok(parsed) = id.parse::<ExecutionId>() {
            inner.schedules.unwatch(&parsed);
        }
        changed = true;
        set_outcome(rec, &id, &outcome);
        // Its own terminate-other is not a failure of the execution.
        let by_this_schedule = record.as_ref().is_some_and(|r| {
            r.failure
                .as_ref()
                .is_some_and(|f| f.message.starts_with(&format!("schedule {}:", rec.name)))
        });
        if rec.schedule.policies.pause_on_failure
            && matches!(
                status,
                Some(ExecutionStatus::Failed | ExecutionStatus::Terminated)
            )
            && !by_this_schedule
            && !rec.state.paused
        {
            rec.state.paused = true;
            rec.state.note = Some(format!("paused on failure: {id} {outcome}"));
            tracing::info!(schedule = %rec.name, execution = %id, %outcome, "schedule paused on failure");
        }
    }
    changed
}

/// Says how the action that started execution `id` ended.
fn set_outcome(rec: &mut ScheduleRecord, id: &str, outcome: &str) {
    for action in rec.state.recent.iter_mut() {
        if action.execution.as_deref() == Some(id) {
            action.outcome = outcome.to_owned();
        }
    }
}

enum Started {
    /// The start (or its refusal) and the schedule's new state are written.
    Written,
    /// The schedule changed since it was read: evaluate again.
    Changed,
}

/// The id of the execution `action` starts: `<prefix>-<nominal time>`.
fn action_id(rec: &ScheduleRecord, action: &PendingAction) -> Result<ExecutionId, EngineError> {
    let prefix = rec
        .schedule
        .action
        .id_prefix
        .as_deref()
        .unwrap_or(&rec.name);
    Ok(format!("{prefix}-{}", spec::nominal_text(action.nominal_ms)).parse()?)
}

/// The schedule with its queued action `at` taken off, at the next
/// revision.
fn popped(rec: &ScheduleRecord, at: usize, now: u64) -> ScheduleRecord {
    let mut next = rec.clone();
    next.state.pending.remove(at);
    next.revision = rec.revision + 1;
    next.updated_at_ms = now;
    next
}

/// Takes the queued action `at` (the first, or a later `allow-all` one):
/// the termination of the runs it `replaces`, the execution's creation and
/// the schedule's new state in one transaction, made only on the schedule
/// and the runs as they were read.
async fn start(
    inner: &Arc<Inner>,
    rec: &mut ScheduleRecord,
    at: usize,
    now: u64,
    replaces: &[ExecutionRecord],
) -> Result<Started, EngineError> {
    let action = &rec.state.pending[at].clone();
    let read = rec.revision;
    let wanted = &rec.schedule.action;
    let id_text = action_id(rec, action)?.to_string();
    let mut next = popped(rec, at, now);
    let made = (|| -> Result<_, EngineError> {
        StoreError::fail_point("schedule-start-read")?;
        let module = match wanted.version {
            None => None,
            Some(v) => Some(inner.version_module(&wanted.workflow_type, v)?),
        };
        let search_attributes = match &wanted.search_attributes {
            Some(values) => inner.search_types.values_from_json(values)?,
            None => Default::default(),
        };
        let opts = StartOptions {
            id: Some(id_text.clone()),
            execution_timeout_ms: wanted.execution_timeout_ms,
            run_timeout_ms: wanted.run_timeout_ms,
            module,
            search_attributes,
            memo: crate::engine::search::memo_from_json(wanted.memo.as_ref()),
            ..StartOptions::default()
        };
        inner.new_run(
            &wanted.workflow_type,
            Payload::from_json(&wanted.input),
            &opts,
        )
    })();
    let why = || {
        format!(
            "schedule {}: a later action replaces it (terminate-other)",
            rec.name
        )
    };
    let mut ops = Vec::new();
    let id = match made {
        // The store could not answer now: the evaluation fails and is made
        // again (the time stays queued).
        Err(EngineError::Store(e @ StoreError::Io(_))) => return Err(e.into()),
        Ok((record, started)) => {
            let id = record.id.clone();
            for run in replaces {
                ops.extend(inner.termination(run, &why(), None, None));
            }
            ops.push(Op::CreateExecution {
                record: Box::new(record),
                started,
                reuse: Reuse::Once,
                request: None,
                created: None,
            });
            Some(id)
        }
        Err(e) => {
            // The type or version is gone: the action cannot be taken, the
            // schedule goes on (and says why).
            next.record_action(skipped(action, now, &e.to_string()));
            None
        }
    };
    if let Some(id) = &id {
        // The runs it replaces end in the same write.
        for run in replaces {
            let ended = run.id.to_string();
            next.state.running.retain(|r| *r != ended);
            set_outcome(&mut next, &ended, &ExecutionStatus::Terminated.to_string());
        }
        next.state.running.push(id.to_string());
        next.state.actions_taken += 1;
        if action.kind == ActionKind::Scheduled {
            if let Some(left) = next.state.remaining_actions.as_mut() {
                *left = left.saturating_sub(1);
            }
        }
        next.record_action(ActionRecord {
            nominal_ms: action.nominal_ms,
            at_ms: now,
            kind: action.kind,
            execution: Some(id.to_string()),
            outcome: "running".into(),
        });
    }
    ops.push(Op::PutSchedule {
        record: Box::new(next.clone()),
        expect_revision: Some(read),
    });
    match inner.store.write(ops).await? {
        Ok(()) => {
            if let Some(id) = id {
                inner.schedules.watch(id.clone(), &rec.name);
                inner.wake(&id);
                inner.arm_deadlines(&id);
                // The runs it replaced ended in the write.
                for run in replaces {
                    inner.schedules.unwatch(&run.id);
                    inner.terminated(run, &why()).await;
                }
                crate::pause::point("schedule-started").await;
                tracing::info!(schedule = %rec.name, execution = %id, nominal = %spec::nominal_text(action.nominal_ms), "schedule started an execution");
            }
            *rec = next;
            Ok(Started::Written)
        }
        Err(OpError::ExecutionExists(_) | OpError::InAnotherPartition { .. }) => {
            // The id is taken (an earlier run of this time, kept or
            // deleted since, or someone else's, perhaps in another
            // partition): the time is not started again.
            let mut next = popped(rec, at, now);
            next.record_action(skipped(
                action,
                now,
                &format!("execution {id_text} exists or ran and was deleted"),
            ));
            match inner
                .store
                .write(vec![Op::PutSchedule {
                    record: Box::new(next.clone()),
                    expect_revision: Some(read),
                }])
                .await?
            {
                Ok(()) => {
                    *rec = next;
                    Ok(Started::Written)
                }
                Err(OpError::ScheduleChanged(_)) => Ok(Started::Changed),
                Err(e) => Err(e.into()),
            }
        }
        Err(OpError::ScheduleChanged(_)) => Ok(Started::Changed),
        // A run it replaces closed, continued as new or was reset since it
        // was read: nothing was written; evaluated again.
        Err(OpError::Stale(_) | OpError::Closed { .. }) if !replaces.is_empty() => {
            Ok(Started::Changed)
        }
        Err(OpError::NoSuchSchedule(name)) => Err(EngineError::NotFound {
            what: "schedule",
            name,
            hint: "",
        }),
        Err(e) => Err(e.into()),
    }
}
