//! `weft reset`: run an execution again from a point of its history, for the
//! cases a fixed version cannot replay through. The events after the point
//! are discarded from the run and kept, as such, in an `execution_reset`
//! event; work started before the reset reports back to nobody.

use super::{activities, Engine, EngineError, ReplayReport};
use crate::model::{EventKind, ExecutionId, ExecutionStatus, HistoryExport, WorkflowVersion};
use crate::store::{Op, OpError, TimerRow};

#[derive(Debug, Clone)]
pub struct ResetReport {
    pub id: ExecutionId,
    pub to_event: u64,
    pub discarded: u64,
    /// The version it runs on from now on, when the module is one of its type's.
    pub version: Option<WorkflowVersion>,
    /// The reset was done already, by an earlier request with its request
    /// id: this is that reset's report, nothing new was done.
    pub duplicate: bool,
}

/// How many times a history that keeps growing is read again.
const ATTEMPTS: usize = 5;

impl Engine {
    /// Keeps events `0..=to_event`, discards the rest and runs the execution
    /// again from there, on `version` (default: the module it ran). The kept
    /// part must replay cleanly on that module. Children started after the
    /// point are terminated, those started before it stay attached; the
    /// discarded signals are recorded again unless `exclude_signals`. With
    /// `request_id`, a reset of the current run is done once: asked again,
    /// it answers that reset's report.
    pub async fn reset(
        &self,
        id: &str,
        to_event: u64,
        version: Option<&str>,
        reason: Option<String>,
        exclude_signals: bool,
        request_id: Option<String>,
    ) -> Result<ResetReport, EngineError> {
        EngineError::check_request_id("reset", request_id.as_deref(), 200)?;
        let first = self.execution(id)?;
        let asked = match version {
            Some(v) => Some(self.find_version(&first.workflow_type, v)?),
            None => None,
        };
        let reason = reason.unwrap_or_else(|| "reset by an operator".to_owned());
        for _ in 0..ATTEMPTS {
            // Read again each time: the run may have continued as new, or
            // been upgraded (then it stays on the version it was moved to).
            let record = self.execution(id)?;
            // The version asked is of the type read first: an execution of
            // another type that took the id since never runs its code.
            if asked.is_some() && record.workflow_type != first.workflow_type {
                return Err(EngineError::Conflict(format!(
                    "execution {id} is now of type {} (the id was started again since the \
                     reset began), not {}: look at it again",
                    record.workflow_type, first.workflow_type
                )));
            }
            let target = match &asked {
                Some(v) => Some(v.clone()),
                None => self
                    .inner
                    .store
                    .versions(&record.workflow_type)?
                    .into_iter()
                    .find(|v| v.module == record.module),
            };
            let module = target.as_ref().map_or(record.module, |v| v.module);
            let bytes = self.inner.store.module_bytes(&module)?.ok_or_else(|| {
                EngineError::Conflict(format!("module {module} is missing from the store"))
            })?;
            let history = self.inner.run_history(&record)?;
            let done = match request_id.as_deref() {
                None => None,
                // Also in an earlier run: the run it reset may have
                // continued as new (or ended, and a start reused the id)
                // before the retry.
                Some(r) => match done_by(&history, r) {
                    Some(done) => Some(done),
                    None => done_by(
                        &self
                            .inner
                            .store
                            .history_before(&record.id, record.run_start)?,
                        r,
                    ),
                },
            };
            if let Some(done) = done {
                return Ok(ResetReport {
                    id: record.id.clone(),
                    to_event: done.0,
                    discarded: done.1,
                    version: self
                        .inner
                        .store
                        .versions(&record.workflow_type)?
                        .into_iter()
                        .find(|v| v.module == record.module),
                    duplicate: true,
                });
            }
            let len = record.run_start + history.len() as u64;
            // A stalled execution may also go on from its last event: it
            // runs again from there (after a fix outside its code, such as a
            // search attribute's type).
            let last_allowed = if record.status == crate::model::ExecutionStatus::Stalled {
                len
            } else {
                len.saturating_sub(1)
            };
            if to_event < record.run_start || to_event + 1 > last_allowed {
                return Err(EngineError::BadRequest(format!(
                    "the current run of execution {id} has events {} to {}: reset to one of \
                     them before the last (a stalled execution also to the last)",
                    record.run_start,
                    len.saturating_sub(1)
                )));
            }
            let kept: Vec<_> = history[..=(to_event - record.run_start) as usize].to_vec();
            if let Some(end) = kept.iter().find(|e| {
                matches!(
                    e.event,
                    EventKind::ExecutionCompleted { .. } | EventKind::ExecutionFailed { .. }
                )
            }) {
                return Err(EngineError::BadRequest(format!(
                    "event {} ends the execution: reset to an event before it",
                    end.index
                )));
            }
            let export = HistoryExport {
                format: HistoryExport::FORMAT.to_owned(),
                execution_id: record.id.to_string(),
                workflow_type: record.workflow_type.to_string(),
                module: module.to_string(),
                events: kept.clone(),
            };
            match super::replay_offline(&self.inner.runtime, &module, &bytes, export).await {
                ReplayReport::Clean { .. } => {}
                ReplayReport::Diverged(d) => {
                    return Err(EngineError::Conflict(format!(
                        "events 0 to {to_event} do not replay on that module: {d}"
                    )))
                }
                ReplayReport::Broken(reason) => {
                    return Err(EngineError::Conflict(format!(
                        "events 0 to {to_event} cannot be replayed on that module: {reason}"
                    )))
                }
            }
            crate::pause::point("reset-replayed").await;
            // Timers started and not fired in the kept part stay pending.
            let timers: Vec<(u64, u64)> = super::lifecycle::pending_timers(&kept)
                .into_iter()
                .map(|(handle, due)| (due, handle))
                .collect();
            let out = self
                .inner
                .store
                .write(vec![Op::Reset {
                    id: record.id.clone(),
                    to_event,
                    module,
                    at_ms: self.inner.clock.now_ms(),
                    reason: reason.clone(),
                    expect_history_len: len,
                    expect_resets: record.resets,
                    timers: timers.clone(),
                    reapply_signals: !exclude_signals,
                    request_id: request_id.clone(),
                }])
                .await?;
            match out {
                Ok(()) => {}
                Err(OpError::HistoryChanged(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            // The old epoch's activities stop at once (their results would
            // be refused): the sooner, the fewer attempts begin meanwhile.
            self.inner.stop_activities(&record.id, record.resets);
            // Callers waiting for an update the reset discarded are told.
            self.inner.updates.send_modify(|n| *n += 1);
            tracing::info!(execution = %record.id, to_event, discarded = len - to_event - 1, "execution reset");
            // Its deadlines as they were (the reset wrote their rows back;
            // a close, or a deadline that fired, took them off the queue).
            self.inner.arm_deadlines_of(&record);
            for (due_ms, handle) in timers {
                self.inner.arm_timer(TimerRow {
                    due_ms,
                    execution: record.id.clone(),
                    handle,
                });
            }
            // Kept requests to other executions whose completion the reset
            // discarded are in the outbox again: deliver them.
            match self.inner.store.outbox() {
                Ok(outbox) => {
                    for request in outbox.into_iter().filter(|r| r.sender == record.id) {
                        self.inner.spawn_delivery(request);
                    }
                }
                Err(e) => {
                    tracing::warn!(execution = %record.id, error = %e, "could not read the requests the reset kept; they are delivered once the store answers");
                    self.inner.deliver_sent_by_later(&record.id);
                }
            }
            // The kept part's unfinished activities run in the new epoch.
            for task in activities::pending(&record.id, record.resets + 1, &kept) {
                activities::spawn(self.inner.clone(), task);
            }
            // The instance in memory holds the discarded history: it loads
            // the kept one before it answers anything else (a query must
            // not see what the reset discarded), once the kept activities
            // run (a task of the new instance may cancel one), and before
            // the children's policies, which wait for writes.
            self.inner.reload(&record.id);
            crate::pause::point("reset-written").await;
            // Children the reset terminated stop, and theirs get their policy.
            let discarded = &history[kept.len()..];
            for (_, child) in crate::model::started_children(discarded) {
                let Ok(child) = child.parse::<ExecutionId>() else {
                    continue;
                };
                self.inner.reload(&child);
                self.inner.settled_changed(&child);
                let c = match self.inner.store.execution(&child) {
                    Ok(Some(c)) if c.status == ExecutionStatus::Terminated => c,
                    Ok(_) => continue,
                    // What the terminated child owes its own children was
                    // recorded with the reset: applied once the store answers.
                    Err(e) => {
                        tracing::warn!(execution = %child, error = %e, "could not read a child the reset terminated; its children get their policies later");
                        self.inner.settle_later(&child);
                        continue;
                    }
                };
                match self.inner.run_history(&c) {
                    Ok(h) => {
                        self.inner
                            .stop_activities(&c.id, c.resets.saturating_sub(1));
                        let owed = crate::model::owed_policies(&h);
                        self.inner.settle_children(&c.id, !owed.is_empty()).await;
                    }
                    Err(e) => {
                        tracing::warn!(execution = %child, error = %e, "could not read a child the reset terminated; its children get their policies later");
                        self.inner.settle_later(&child);
                    }
                }
            }
            if record.status.is_settled() && record.status != ExecutionStatus::Stalled {
                // Result waiters see it running again.
                self.inner.settled_changed(&record.id);
            }
            return Ok(ResetReport {
                id: record.id,
                to_event,
                discarded: len - to_event - 1,
                version: target,
                duplicate: false,
            });
        }
        Err(EngineError::Conflict(format!(
            "the history of {id} kept growing during {ATTEMPTS} attempts; try again"
        )))
    }
}

/// The point and the number of events discarded of the reset `history` (a
/// run's) records under `request_id`, if it holds one.
/// A reset a later reset discarded still counts: asked again, it is not
/// done again.
fn done_by(history: &[crate::model::Event], request_id: &str) -> Option<(u64, u64)> {
    history.iter().rev().find_map(|e| match &e.event {
        EventKind::ExecutionReset {
            to_event,
            discarded,
            request_id: r,
            ..
        } => match r {
            Some(r) if r == request_id => Some((*to_event, discarded.len() as u64)),
            _ => done_by(discarded, request_id),
        },
        _ => None,
    })
}
