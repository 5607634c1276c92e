//! Schedules: start workflows on a calendar or an interval, on the host's
//! clock (a manual clock moves them too).
//!
//! One task evaluates every schedule, one at a time. An evaluation reads the
//! schedule, notes which of its executions closed, moves its cursor over the
//! times that came (queueing those within the catch-up window), and takes
//! the queued actions its overlap policy allows. Each start is one
//! transaction with the schedule's new state (the cursor, the queue, the
//! running list), so a crash can neither lose a time nor start one twice;
//! every write names the revision it read, so an operator's change in
//! between makes the evaluation read again.

pub mod spec;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{Engine, EngineError, Inner, StartOptions};
use crate::model::schedule::{
    ActionKind, ActionRecord, OverlapPolicy, PendingAction, Schedule, ScheduleRecord, BUFFER_CAP,
    MIN_CATCHUP_MS, TRIGGER_REQUESTS_KEPT,
};
use crate::model::{ExecutionId, ExecutionStatus, Payload, TypeName};
use crate::store::{Op, OpError, Reuse};

/// Times one evaluation moves over before it lets the others run (a
/// per-second cron after a day's outage is caught up in passes).
const PASS: usize = 1_000;
/// What a search that found only excluded times counts against [`PASS`]
/// (it looked at up to 100,000 candidates).
const EXCLUDED_SEARCH: usize = PASS / 2;
/// Most times one backfill queues.
pub const BACKFILL_CAP: usize = 1_000;
/// Next times `describe` shows.
const NEXT_TIMES: usize = 10;

/// The scheduler's handle in the engine: who to evaluate, and which
/// executions belong to which schedule.
pub(super) struct Scheduler {
    kick: mpsc::UnboundedSender<String>,
    /// The running executions schedules started, by id: their close
    /// makes their schedule evaluate.
    watching: Mutex<HashMap<ExecutionId, String>>,
}

impl Scheduler {
    pub fn new() -> (Self, mpsc::UnboundedReceiver<String>) {
        let (kick, rx) = mpsc::unbounded_channel();
        (
            Self {
                kick,
                watching: Mutex::new(HashMap::new()),
            },
            rx,
        )
    }

    /// Evaluate `name` soon.
    pub fn kick(&self, name: &str) {
        let _ = self.kick.send(name.to_owned());
    }

    /// An execution closed (or changed state): its schedule looks again.
    pub fn changed(&self, id: &ExecutionId) {
        let name = self
            .watching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(name) = name {
            self.kick(&name);
        }
    }

    fn unwatch(&self, id: &ExecutionId) {
        self.watching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    fn watch(&self, id: ExecutionId, schedule: &str) {
        self.watching
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, schedule.to_owned());
    }
}

/// Runs the scheduler: every schedule is evaluated at start (catching up
/// what passed while the host was down), then at its next time and when it
/// is kicked.
pub(super) fn spawn(inner: Arc<Inner>, mut kicks: mpsc::UnboundedReceiver<String>) {
    tokio::spawn(async move {
        let mut todo: BTreeSet<String> = match inner.store.schedules() {
            Ok(all) => all.into_iter().map(|r| r.name).collect(),
            Err(e) => {
                tracing::error!(error = %e, "could not read the schedules; they run once one is changed");
                BTreeSet::new()
            }
        };
        let mut due: BTreeSet<(u64, String)> = BTreeSet::new();
        let mut due_of: HashMap<String, u64> = HashMap::new();
        // On a manual clock the scheduler's work counts as a workflow
        // step, from a wake until its next time is listed with the clock:
        // time skipping must not pass a schedule's time while it evaluates.
        let mut busy = inner.busy_step();
        loop {
            for name in std::mem::take(&mut todo) {
                if let Some(at) = due_of.remove(&name) {
                    due.remove(&(at, name.clone()));
                }
                let next = match evaluate(&inner, &name).await {
                    Ok(next) => next,
                    Err(e) => {
                        tracing::warn!(schedule = %name, error = %e, "schedule evaluation failed; trying again in a second");
                        Some(inner.clock.now_ms().saturating_add(1_000))
                    }
                };
                if let Some(at) = next {
                    due.insert((at, name.clone()));
                    due_of.insert(name, at);
                }
            }
            // Listed with the clock here, before the count ends.
            let listed = due.first().map(|(at, _)| inner.clock.sleep_until(*at));
            let sleep = async move {
                match listed {
                    Some(sleep) => sleep.await,
                    None => std::future::pending().await,
                }
            };
            drop(busy.take());
            tokio::select! {
                kicked = kicks.recv() => {
                    busy = inner.busy_step();
                    let Some(name) = kicked else { return };
                    todo.insert(name);
                    while let Ok(name) = kicks.try_recv() {
                        todo.insert(name);
                    }
                }
                () = sleep => {
                    busy = inner.busy_step();
                    let now = inner.clock.now_ms();
                    while let Some((at, name)) = due.first().cloned() {
                        if at > now {
                            break;
                        }
                        due.remove(&(at, name.clone()));
                        due_of.remove(&name);
                        todo.insert(name);
                    }
                }
            }
        }
    });
}

/// What the overlap policy does with the first queued action now.
enum Decision {
    Start,
    /// Drop it (`skip`, or a second one waiting under `buffer-one`).
    Drop,
    Wait,
}

/// One evaluation of `name`; the answer is when it is due next.
async fn evaluate(inner: &Arc<Inner>, name: &str) -> Result<Option<u64>, EngineError> {
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
        let mut next_wake = None;
        let mut moved = 0;
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
                    if moved >= PASS {
                        next_wake = Some(now);
                        break;
                    }
                    continue;
                }
            };
            let fire = compiled.moment(name, nominal);
            if fire > now {
                next_wake = Some(fire);
                break;
            }
            if moved >= PASS {
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
            let decision = if rec.state.running.is_empty() || policy == OverlapPolicy::AllowAll {
                Decision::Start
            } else {
                match policy {
                    OverlapPolicy::Skip => Decision::Drop,
                    OverlapPolicy::BufferOne | OverlapPolicy::BufferAll => Decision::Wait,
                    OverlapPolicy::CancelOther => {
                        for id in &rec.state.running {
                            let open = id.parse().ok().and_then(|id: ExecutionId| {
                                inner.store.execution(&id).ok().flatten()
                            });
                            if open.is_some_and(|r| !r.cancel_requested && !r.status.is_closed()) {
                                let why = format!(
                                    "schedule {name}: a later action replaces it (cancel-other)"
                                );
                                if let Err(e) = inner.cancel(&id.parse()?, &why).await {
                                    tracing::warn!(schedule = %name, execution = %id, error = %e, "could not cancel the running execution");
                                }
                            }
                        }
                        Decision::Wait
                    }
                    OverlapPolicy::TerminateOther => {
                        for id in rec.state.running.clone() {
                            let why = format!(
                                "schedule {name}: a later action replaces it (terminate-other)"
                            );
                            match inner.terminate(&id.parse()?, &why).await {
                                Ok(()) => {}
                                Err(e) => {
                                    tracing::warn!(schedule = %name, execution = %id, error = %e, "could not terminate the running execution")
                                }
                            }
                        }
                        if reconcile(inner, &mut rec) {
                            dirty = true;
                        }
                        if rec.state.running.is_empty() {
                            Decision::Start
                        } else {
                            Decision::Wait
                        }
                    }
                    OverlapPolicy::AllowAll => Decision::Start,
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
                        match start(inner, &mut rec, at, now).await? {
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
                Decision::Start => match start(inner, &mut rec, 0, now).await? {
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

/// The time a trigger's action takes (its execution's id carries it):
/// after the schedule's last trigger (two in one millisecond, a manual
/// clock that does not move), and never a time the spec names, whose
/// action would find its id taken (a spec naming a run of milliseconds is
/// passed over for at most a second).
fn trigger_time(rec: &ScheduleRecord, now: u64) -> u64 {
    let spec = spec::compile(&rec.schedule.spec).ok();
    let mut at = now.max(rec.state.last_trigger_ms.map_or(0, |t| t + 1));
    for _ in 0..1_000 {
        let taken = rec.state.pending.iter().any(|p| p.nominal_ms == at)
            || rec.state.recent.iter().any(|r| r.nominal_ms == at)
            || spec.as_ref().is_some_and(|s| s.names(at));
        if !taken {
            break;
        }
        at += 1;
    }
    at
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
        let record = id
            .parse::<ExecutionId>()
            .ok()
            .and_then(|parsed| inner.store.execution(&parsed).ok().flatten());
        let status = match &record {
            Some(r) if !r.status.is_closed() => {
                rec.state.running.push(id);
                continue;
            }
            Some(r) => r.status,
            // Deleted meanwhile (retention, an operator): it ended.
            None => ExecutionStatus::Terminated,
        };
        if let Ok(parsed) = id.parse::<ExecutionId>() {
            inner.schedules.unwatch(&parsed);
        }
        changed = true;
        for action in rec.state.recent.iter_mut() {
            if action.execution.as_deref() == Some(id.as_str()) {
                action.outcome = status.to_string();
            }
        }
        // Its own terminate-other is not a failure of the execution.
        let by_this_schedule = record.as_ref().is_some_and(|r| {
            r.failure
                .as_ref()
                .is_some_and(|f| f.message.starts_with(&format!("schedule {}:", rec.name)))
        });
        if rec.schedule.policies.pause_on_failure
            && matches!(
                status,
                ExecutionStatus::Failed | ExecutionStatus::Terminated
            )
            && !by_this_schedule
            && !rec.state.paused
        {
            rec.state.paused = true;
            rec.state.note = Some(format!("paused on failure: {id} {status}"));
            tracing::info!(schedule = %rec.name, execution = %id, %status, "schedule paused on failure");
        }
    }
    changed
}

enum Started {
    /// The start (or its refusal) and the schedule's new state are written.
    Written,
    /// The schedule changed since it was read: evaluate again.
    Changed,
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
/// the execution's creation and the schedule's new state in one
/// transaction.
async fn start(
    inner: &Arc<Inner>,
    rec: &mut ScheduleRecord,
    at: usize,
    now: u64,
) -> Result<Started, EngineError> {
    let action = &rec.state.pending[at].clone();
    let read = rec.revision;
    let wanted = &rec.schedule.action;
    let prefix = wanted.id_prefix.clone().unwrap_or_else(|| rec.name.clone());
    let id_text = format!("{prefix}-{}", spec::nominal_text(action.nominal_ms));
    let mut next = popped(rec, at, now);
    let made = (|| -> Result<_, EngineError> {
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
            memo: super::search::memo_from_json(wanted.memo.as_ref()),
            ..StartOptions::default()
        };
        inner.new_run(
            &wanted.workflow_type,
            Payload::from_json(&wanted.input),
            &opts,
        )
    })();
    let mut ops = Vec::new();
    let id = match made {
        Ok((record, started)) => {
            let id = record.id.clone();
            ops.push(Op::CreateExecution {
                record: Box::new(record),
                started,
                reuse: Reuse::Never,
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
                crate::pause::point("schedule-started").await;
                tracing::info!(schedule = %rec.name, execution = %id, nominal = %spec::nominal_text(action.nominal_ms), "schedule started an execution");
            }
            *rec = next;
            Ok(Started::Written)
        }
        Err(OpError::ExecutionExists(_)) => {
            // The id is taken (an earlier run of this time, or someone
            // else's): the time is not started again.
            let mut next = popped(rec, at, now);
            next.record_action(skipped(action, now, &format!("execution {id_text} exists")));
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
        Err(OpError::NoSuchSchedule(name)) => Err(EngineError::NotFound {
            what: "schedule",
            name,
            hint: "",
        }),
        Err(e) => Err(e.into()),
    }
}

/// What a trigger did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Triggered {
    /// Its request id was seen before: no new action.
    Duplicate,
    /// An action queued at this time (its execution's id carries it).
    At(u64),
}

/// A schedule with what `describe` adds: its next times.
#[derive(Debug, Clone)]
pub struct ScheduleView {
    pub record: ScheduleRecord,
    /// The next times: (nominal, when the action is taken after jitter).
    pub next_times: Vec<(u64, u64)>,
}

fn check_name(name: &str) -> Result<(), EngineError> {
    name.parse::<TypeName>().map(|_| ()).map_err(|_| {
        EngineError::BadRequest(format!(
            "invalid schedule name {name:?}: use 1-100 ASCII letters, digits, '-', '_' or '.'"
        ))
    })
}

impl Engine {
    fn no_schedule(name: &str) -> EngineError {
        EngineError::NotFound {
            what: "schedule",
            name: name.to_owned(),
            hint: " (see `weft schedule list`)",
        }
    }

    /// Checks what a schedule would do before it is stored.
    fn check_schedule(&self, schedule: &Schedule) -> Result<(), EngineError> {
        spec::compile(&schedule.spec).map_err(|e| EngineError::BadRequest(e.0))?;
        if schedule.policies.catchup_window_ms < MIN_CATCHUP_MS {
            return Err(EngineError::BadRequest(format!(
                "policies.catchup_window_ms: {} ms is under the shortest window, 10 s",
                schedule.policies.catchup_window_ms
            )));
        }
        let action = &schedule.action;
        let type_name: TypeName = action.workflow_type.parse()?;
        if self.inner.store.workflow_type(&type_name)?.is_none() {
            return Err(EngineError::NotFound {
                what: "workflow type",
                name: action.workflow_type.clone(),
                hint: " (action.workflow_type): deploy it first, see `weft types`",
            });
        }
        if let Some(v) = action.version {
            self.inner.version_module(&action.workflow_type, v)?;
        }
        if let Some(prefix) = &action.id_prefix {
            format!("{prefix}-2026-01-01T00:00:00Z")
                .parse::<ExecutionId>()
                .map_err(|_| {
                    EngineError::BadRequest(format!(
                        "action.id_prefix: {prefix:?} cannot start an execution id (use ASCII \
                         letters, digits, '-', '_', '.' or ':')"
                    ))
                })?;
        }
        self.inner
            .check_payload("action.input", &Payload::from_json(&action.input))?;
        if let Some(values) = &action.search_attributes {
            self.inner
                .search_types
                .values_from_json(values)
                .map_err(|e| EngineError::BadRequest(format!("action.search_attributes: {e}")))?;
        }
        Ok(())
    }

    pub async fn create_schedule(
        &self,
        name: &str,
        schedule: Schedule,
    ) -> Result<ScheduleView, EngineError> {
        check_name(name)?;
        self.check_schedule(&schedule)?;
        let now = self.inner.clock.now_ms();
        let record = ScheduleRecord {
            name: name.to_owned(),
            state: crate::model::schedule::ScheduleState {
                paused: schedule.paused,
                note: schedule.note.clone(),
                remaining_actions: schedule.remaining_actions,
                cursor_ms: now,
                ..Default::default()
            },
            schedule,
            // Not 1: a schedule deleted and created again must not match a
            // revision an evaluation of the old one still holds.
            revision: now,
            created_at_ms: now,
            updated_at_ms: now,
        };
        match self
            .inner
            .store
            .write(vec![Op::PutSchedule {
                record: Box::new(record),
                expect_revision: None,
            }])
            .await?
        {
            Ok(()) => {}
            Err(OpError::ScheduleExists(_)) => {
                return Err(EngineError::Conflict(format!(
                    "a schedule named {name} exists: change it with `weft schedule update`, or \
                     delete it first"
                )))
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(schedule = %name, "schedule created");
        self.inner.schedules.kick(name);
        self.describe_schedule(name)
    }

    /// Changes a schedule with `change` (read, changed, written at the
    /// revision read; again if it changed meanwhile), then evaluates it.
    async fn change_schedule(
        &self,
        name: &str,
        change: impl Fn(&mut ScheduleRecord, u64) -> Result<(), EngineError>,
    ) -> Result<ScheduleView, EngineError> {
        for _ in 0..10 {
            let mut rec = self
                .inner
                .store
                .schedule(name)?
                .ok_or_else(|| Self::no_schedule(name))?;
            let read = rec.revision;
            let now = self.inner.clock.now_ms();
            change(&mut rec, now)?;
            rec.revision = read + 1;
            rec.updated_at_ms = now;
            match self
                .inner
                .store
                .write(vec![Op::PutSchedule {
                    record: Box::new(rec),
                    expect_revision: Some(read),
                }])
                .await?
            {
                Ok(()) => {
                    self.inner.schedules.kick(name);
                    return self.describe_schedule(name);
                }
                Err(OpError::ScheduleChanged(_)) => continue,
                Err(OpError::NoSuchSchedule(_)) => return Err(Self::no_schedule(name)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(EngineError::Conflict(format!(
            "schedule {name} kept changing; try again"
        )))
    }

    /// Replaces the spec, action and policies (and the remaining actions,
    /// if given); where the schedule stands is kept. With `conflict_token`
    /// (what a describe answered), only if the definition is still the one
    /// read.
    pub async fn update_schedule(
        &self,
        name: &str,
        schedule: Schedule,
        conflict_token: Option<&str>,
    ) -> Result<ScheduleView, EngineError> {
        self.check_schedule(&schedule)?;
        self.change_schedule(name, |rec, _| {
            let now = rec.schedule.conflict_token();
            if conflict_token.is_some_and(|read| read != now) {
                return Err(EngineError::Conflict(format!(
                    "schedule {name} was changed since it was read (its conflict token is \
                     now {now}): read it again and update that"
                )));
            }
            if schedule.remaining_actions.is_some() {
                rec.state.remaining_actions = schedule.remaining_actions;
            }
            rec.schedule = schedule.clone();
            Ok(())
        })
        .await
    }

    /// Pauses or unpauses; the times that pass while paused are dropped.
    pub async fn pause_schedule(
        &self,
        name: &str,
        paused: bool,
        note: Option<String>,
    ) -> Result<ScheduleView, EngineError> {
        self.change_schedule(name, |rec, now| {
            if !paused && rec.state.paused {
                // The times whose moment passed while paused are dropped; a
                // time whose jitter ends after now is taken.
                rec.state.cursor_ms = match spec::compile(&rec.schedule.spec) {
                    Ok(spec) => spec.passed_by(name, rec.state.cursor_ms, now),
                    Err(_) => rec.state.cursor_ms.max(now),
                };
            }
            rec.state.paused = paused;
            rec.schedule.paused = paused;
            rec.state.note = note.clone();
            Ok(())
        })
        .await
    }

    /// Takes an action now (paused or not), through the overlap policy
    /// (the schedule's, or `overlap`). With `request_id`, once: a trigger
    /// sent again with it (among the schedule's last 100) takes no action,
    /// and its answer says `duplicate`. Else the answer has the time the
    /// action took (its execution's id carries it).
    pub async fn trigger_schedule(
        &self,
        name: &str,
        overlap: Option<OverlapPolicy>,
        request_id: Option<&str>,
    ) -> Result<(ScheduleView, Triggered), EngineError> {
        EngineError::check_request_id("trigger", request_id, 200)?;
        // What the change that was written did.
        let triggered = std::sync::Mutex::new(Triggered::Duplicate);
        let view = self
            .change_schedule(name, |rec, now| {
                let seen =
                    request_id.is_some_and(|r| rec.state.trigger_requests.iter().any(|t| t == r));
                if seen {
                    *triggered.lock().unwrap_or_else(|p| p.into_inner()) = Triggered::Duplicate;
                    return Ok(());
                }
                if let Some(r) = request_id {
                    let kept = &mut rec.state.trigger_requests;
                    kept.push(r.to_owned());
                    let over = kept.len().saturating_sub(TRIGGER_REQUESTS_KEPT);
                    kept.drain(..over);
                }
                if rec.state.pending.len() >= BUFFER_CAP {
                    return Err(EngineError::Conflict(format!(
                        "schedule {name} has {BUFFER_CAP} actions waiting already"
                    )));
                }
                let nominal_ms = trigger_time(rec, now);
                rec.state.last_trigger_ms = Some(nominal_ms);
                *triggered.lock().unwrap_or_else(|p| p.into_inner()) = Triggered::At(nominal_ms);
                rec.state.pending.push(PendingAction {
                    nominal_ms,
                    kind: ActionKind::Trigger,
                    overlap,
                });
                Ok(())
            })
            .await?;
        let triggered = *triggered.lock().unwrap_or_else(|p| p.into_inner());
        Ok((view, triggered))
    }

    /// Queues the times the spec names in `[start_ms, end_ms]` (at most
    /// [`BACKFILL_CAP`]), each taken through the overlap policy.
    pub async fn backfill_schedule(
        &self,
        name: &str,
        start_ms: u64,
        end_ms: u64,
        overlap: Option<OverlapPolicy>,
    ) -> Result<(ScheduleView, usize), EngineError> {
        if end_ms < start_ms {
            return Err(EngineError::BadRequest(
                "end_ms: the backfill's end is before its start".into(),
            ));
        }
        // A time still to come would start now and then be skipped as
        // existing when it came: the schedule takes those itself.
        let now = self.inner.clock.now_ms();
        if end_ms > now {
            return Err(EngineError::BadRequest(format!(
                "end_ms: the backfill's end ({}) is after the host's clock ({}): a backfill \
                 takes times that passed; end it at now or earlier, the schedule takes the \
                 times to come itself",
                spec::nominal_text(end_ms),
                spec::nominal_text(now)
            )));
        }
        let queued = std::sync::atomic::AtomicUsize::new(0);
        let view = self
            .change_schedule(name, |rec, _| {
                let compiled =
                    spec::compile(&rec.schedule.spec).map_err(|e| EngineError::BadRequest(e.0))?;
                let times =
                    compiled.times_between(start_ms.saturating_sub(1), end_ms, BACKFILL_CAP + 1);
                if times.len() > BACKFILL_CAP {
                    return Err(EngineError::BadRequest(format!(
                        "the range names more than {BACKFILL_CAP} times: backfill it in parts"
                    )));
                }
                if rec.state.pending.len() + times.len() > BUFFER_CAP + BACKFILL_CAP {
                    return Err(EngineError::Conflict(format!(
                        "schedule {name} has {} actions waiting: let them run first",
                        rec.state.pending.len()
                    )));
                }
                queued.store(times.len(), std::sync::atomic::Ordering::Relaxed);
                rec.state
                    .pending
                    .extend(times.into_iter().map(|nominal_ms| PendingAction {
                        nominal_ms,
                        kind: ActionKind::Backfill,
                        overlap,
                    }));
                Ok(())
            })
            .await?;
        Ok((view, queued.into_inner()))
    }

    /// Deletes a schedule; what it started runs on.
    pub async fn delete_schedule(&self, name: &str) -> Result<(), EngineError> {
        match self
            .inner
            .store
            .write(vec![Op::DeleteSchedule {
                name: name.to_owned(),
            }])
            .await?
        {
            Ok(()) => Ok(()),
            Err(OpError::NoSuchSchedule(_)) => Err(Self::no_schedule(name)),
            Err(e) => Err(e.into()),
        }
    }

    pub fn describe_schedule(&self, name: &str) -> Result<ScheduleView, EngineError> {
        let record = self
            .inner
            .store
            .schedule(name)?
            .ok_or_else(|| Self::no_schedule(name))?;
        Ok(view(record))
    }

    pub fn list_schedules(&self) -> Result<Vec<ScheduleView>, EngineError> {
        Ok(self
            .inner
            .store
            .schedules()?
            .into_iter()
            .map(view)
            .collect())
    }
}

fn view(record: ScheduleRecord) -> ScheduleView {
    let next_times = match spec::compile(&record.schedule.spec) {
        Ok(compiled) => compiled
            .times_between(record.state.cursor_ms, u64::MAX, NEXT_TIMES)
            .into_iter()
            .map(|t| (t, compiled.moment(&record.name, t)))
            .collect(),
        Err(_) => Vec::new(),
    };
    ScheduleView { record, next_times }
}
