//! The operator's side of schedules: create, update, pause, trigger,
//! backfill, delete, describe and list.

use super::spec;
use crate::engine::{Engine, EngineError};
use crate::model::schedule::{
    ActionKind, OverlapPolicy, PendingAction, Schedule, ScheduleRecord, BUFFER_CAP, MIN_CATCHUP_MS,
    TRIGGER_REQUESTS_KEPT,
};
use crate::model::{ExecutionId, Payload, TypeName};
use crate::store::{Op, OpError, Unreadable};

/// Most times one backfill queues.
pub const BACKFILL_CAP: usize = 1_000;
/// Next times `describe` shows.
const NEXT_TIMES: usize = 10;

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
    /// revision read; again if it changed meanwhile), then evaluates it. A
    /// change that changes nothing (a retry finding its own change made)
    /// writes nothing.
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
            let before = rec.clone();
            change(&mut rec, now)?;
            if rec == before {
                self.inner.schedules.kick(name);
                return self.describe_schedule(name);
            }
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
    /// if given); where the schedule stands is kept, but a new spec takes
    /// its times from the update on (the times it names between the cursor
    /// and now were never due; those the old spec made due are taken, held
    /// back by its jitter or not). With `conflict_token`
    /// (what a describe answered), only if the definition is still the one
    /// read, or already the one asked for (a retry: then nothing changes).
    pub async fn update_schedule(
        &self,
        name: &str,
        schedule: Schedule,
        conflict_token: Option<&str>,
    ) -> Result<ScheduleView, EngineError> {
        self.check_schedule(&schedule)?;
        self.change_schedule(name, |rec, now_ms| {
            let now = rec.schedule.conflict_token();
            if conflict_token.is_some_and(|read| read != now) {
                // Its own change, sent again (its answer was lost): the
                // definition is the one it asks for, and stays as it is.
                if rec.schedule == schedule {
                    return Ok(());
                }
                return Err(EngineError::Conflict(format!(
                    "schedule {name} was changed since it was read (its conflict token is \
                     now {now}): read it again and update that"
                )));
            }
            if schedule.spec != rec.schedule.spec {
                // The old spec's times that came are taken as it would have
                // taken them (the scheduler may not have looked at them
                // yet: busy, catching up), those its jitter still held back
                // too (they start now, inside their jitter); the new spec's
                // times begin after now.
                if let Ok(old) = spec::compile(&rec.schedule.spec) {
                    // Times past the catch-up window by now would only be
                    // counted as missed: passed over (uncounted) at once.
                    let late = now_ms
                        .saturating_sub(rec.schedule.policies.catchup_window_ms)
                        .saturating_sub(rec.schedule.spec.jitter_ms)
                        .saturating_sub(1);
                    rec.state.cursor_ms = rec.state.cursor_ms.max(late);
                    super::evaluate::take_times(
                        name,
                        &old,
                        rec,
                        now_ms,
                        super::evaluate::Due::AtTime,
                    );
                }
                rec.state.cursor_ms = rec.state.cursor_ms.max(now_ms);
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
    /// [`BACKFILL_CAP`]), each taken through the overlap policy: how many
    /// (`None`: `request_id` was seen among the schedule's last trigger and
    /// backfill request ids, and nothing was queued).
    pub async fn backfill_schedule(
        &self,
        name: &str,
        (start_ms, end_ms): (u64, u64),
        overlap: Option<OverlapPolicy>,
        request_id: Option<&str>,
    ) -> Result<(ScheduleView, Option<usize>), EngineError> {
        EngineError::check_request_id("backfill", request_id, 200)?;
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
        let queued = std::sync::Mutex::new(None);
        let view = self
            .change_schedule(name, |rec, _| {
                if request_id.is_some_and(|r| rec.state.trigger_requests.iter().any(|t| t == r)) {
                    *queued.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    return Ok(());
                }
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
                if let Some(r) = request_id {
                    let kept = &mut rec.state.trigger_requests;
                    kept.push(r.to_owned());
                    let over = kept.len().saturating_sub(TRIGGER_REQUESTS_KEPT);
                    kept.drain(..over);
                }
                *queued.lock().unwrap_or_else(|p| p.into_inner()) = Some(times.len());
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
        let queued = queued.into_inner().unwrap_or_else(|p| p.into_inner());
        Ok((view, queued))
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

    /// Every schedule, and the names of those whose record cannot be read
    /// (with why).
    pub fn list_schedules(&self) -> Result<(Vec<ScheduleView>, Unreadable), EngineError> {
        let schedules = self.inner.store.schedules()?;
        Ok((
            schedules.read.into_iter().map(view).collect(),
            schedules.unreadable,
        ))
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
