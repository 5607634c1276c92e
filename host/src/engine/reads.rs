//! What the API reads of an execution: its record, `describe`'s view,
//! its result (waiting for it), the list, and a run's history.

use std::time::Duration;

use super::{activities, lifecycle, ActivityTask, Engine, EngineError, TaskPlace};
use crate::model::{
    Event, EventKind, ExecutionId, ExecutionRecord, ExecutionStatus, Failure, ParentClosePolicy,
    Payload, TypeName,
};

/// An activity that has not ended, as `describe` shows it.
#[derive(Debug, Clone)]
pub struct PendingActivityView {
    pub task: ActivityTask,
    /// The last heartbeat's details.
    pub heartbeat: Option<Payload>,
    /// Its last failed attempt, when another is due (kept beside the
    /// history).
    pub last_attempt: Option<crate::model::AttemptState>,
    /// No deployed component serves its name and it names no task queue:
    /// every attempt fails `activity-not-found` until one is deployed.
    pub unserved: bool,
    /// The task queue it waits on for a worker, or a worker took it from.
    pub worker: Option<TaskPlace>,
}

/// What `describe` shows beyond the record.
#[derive(Debug, Clone)]
pub struct ExecutionView {
    pub record: ExecutionRecord,
    pub history_length: u64,
    pub cached: bool,
    pub pending_activities: Vec<PendingActivityView>,
    pub pending_timers: Vec<(u64, u64)>,
    /// On a store of several partitions: its partition, and the host
    /// holding it (which answered).
    pub partition: Option<(u32, String)>,
    /// Children started by the current run: id, type, status, close policy.
    pub children: Vec<(String, String, String, ParentClosePolicy)>,
}

impl Engine {
    pub fn execution(&self, id: &str) -> Result<ExecutionRecord, EngineError> {
        let parsed: ExecutionId = id.parse().map_err(|_| EngineError::no_execution(id))?;
        self.inner
            .store
            .execution(&parsed)?
            .ok_or_else(|| EngineError::no_execution(id))
    }

    pub fn describe(&self, id: &str) -> Result<ExecutionView, EngineError> {
        let record = self.execution(id)?;
        let history = self.inner.run_history(&record)?;
        let pending_activities =
            if record.status.is_settled() && record.status != ExecutionStatus::Stalled {
                Vec::new()
            } else {
                let routes = self.inner.store.activity_routes()?;
                let mut places = self.inner.queues.places(&record.id.to_string());
                activities::resume(&self.inner, &record.id, record.resets, &history)?
                    .into_iter()
                    .map(|(task, last_attempt)| {
                        let heartbeat = self
                            .inner
                            .store
                            .heartbeat(&record.id, task.epoch, task.handle)
                            .unwrap_or_default();
                        let unserved = task.options.task_queue.is_none()
                            && !self.inner.config.activity_queues.contains_key(&task.name)
                            && !routes.iter().any(|(n, _)| *n == task.name);
                        let place = places.remove(&task.handle);
                        PendingActivityView {
                            task,
                            heartbeat,
                            last_attempt,
                            unserved,
                            worker: place,
                        }
                    })
                    .collect()
            };
        let pending_timers = if record.status.is_closed() {
            Vec::new()
        } else {
            lifecycle::pending_timers(&history)
        };
        // A start refused at once (`already-started`, `child-not-started`)
        // is no child: its id may name another execution.
        let refused: std::collections::HashSet<u64> = history
            .iter()
            .filter_map(|e| match &e.event {
                EventKind::ChildCompleted {
                    handle,
                    failure: Some(f),
                    ..
                } if f.start_refused() => Some(*handle),
                _ => None,
            })
            .collect();
        let mut children = Vec::new();
        for e in &history {
            if let EventKind::ChildStarted {
                handle,
                workflow_type,
                child_id,
                policy,
                ..
            } = &e.event
            {
                if refused.contains(handle) {
                    continue;
                }
                let status = child_id
                    .parse::<ExecutionId>()
                    .ok()
                    .and_then(|c| self.inner.store.execution(&c).ok().flatten())
                    .map_or_else(|| "unknown".to_owned(), |r| r.status.to_string());
                children.push((child_id.clone(), workflow_type.to_string(), status, *policy));
            }
        }
        let partition = self
            .inner
            .store
            .partition()
            .zip(self.inner.store.host_id().map(str::to_owned));
        Ok(ExecutionView {
            partition,
            cached: self.inner.is_cached(&record.id),
            history_length: history.len() as u64,
            record,
            pending_activities,
            pending_timers,
            children,
        })
    }

    /// The execution's record once it settles, or as it is after `wait`.
    pub async fn result(
        &self,
        id: &str,
        wait: Option<Duration>,
    ) -> Result<ExecutionRecord, EngineError> {
        self.wait_for(id, wait, |r| Ok(r.status.is_settled().then(|| r.clone())))
            .await
    }

    /// The result of run `run` of `id` and the runs it continued as new
    /// into, waiting up to `wait` (as [`Engine::result`]): what a start
    /// answers, also once those runs ended and another execution took the
    /// id (a start retried with its request id, `weft start --wait`).
    pub async fn result_of_run(
        &self,
        id: &str,
        run: u32,
        wait: Option<Duration>,
    ) -> Result<ExecutionRecord, EngineError> {
        self.wait_for(id, wait, |r| {
            if run == 0 || run > r.run {
                return Err(EngineError::BadRequest(format!(
                    "run: execution {id} has runs 1 to {}",
                    r.run
                )));
            }
            let same = r.run == run || r.began_at_run.is_some_and(|first| first <= run);
            if !same {
                if let Some(end) = self.chain_end(r, run)? {
                    return Ok(Some(end));
                }
            }
            Ok(r.status.is_settled().then(|| r.clone()))
        })
        .await
    }

    /// Reads `id` until `answer` gives the answer, or `wait` passes (then
    /// the record as last read); woken by each change of the execution.
    async fn wait_for(
        &self,
        id: &str,
        wait: Option<Duration>,
        answer: impl Fn(&ExecutionRecord) -> Result<Option<ExecutionRecord>, EngineError>,
    ) -> Result<ExecutionRecord, EngineError> {
        let Some(wait) = wait else {
            let record = self.execution(id)?;
            return Ok(answer(&record)?.unwrap_or(record));
        };
        let deadline = tokio::time::Instant::now() + wait;
        let key: ExecutionId = id.parse().map_err(|_| EngineError::no_execution(id))?;
        loop {
            let notify = self.inner.settled.watch(&key);
            let (outcome, changed) = {
                let changed = notify.notified();
                tokio::pin!(changed);
                changed.as_mut().enable();
                match self.execution(id).and_then(|r| Ok((answer(&r)?, r))) {
                    Ok((Some(done), _)) => (Ok(done), false),
                    Ok((None, record)) => {
                        let woke = tokio::select! {
                            woke = tokio::time::timeout_at(deadline, changed) => woke.is_ok(),
                            () = self.inner.until_stopping() => false,
                        };
                        (Ok(record), woke)
                    }
                    Err(e) => (Err(e), false),
                }
            };
            if !changed {
                self.inner.settled.release(&key, notify);
                return outcome;
            }
        }
    }

    /// How the runs from `run` on (linked by continue-as-new) ended, when
    /// they ended before `current`'s run (which then began another
    /// execution under the id): `current` with that end. Reads the whole
    /// history: only for a record that does not say where its execution
    /// began, or one that began after `run`.
    fn chain_end(
        &self,
        current: &ExecutionRecord,
        run: u32,
    ) -> Result<Option<ExecutionRecord>, EngineError> {
        let all = self.inner.store.history(&current.id, 0)?;
        let (first, _) = runs_held(current, run, &all)?;
        let mut at = first - 1;
        for e in all {
            if matches!(e.event, EventKind::ExecutionStarted { .. }) {
                at += 1;
            }
            if at < run || !e.event.ends_execution() {
                continue;
            }
            let mut end = current.clone();
            end.run = at;
            end.output = None;
            end.failure = None;
            end.stall_reason = None;
            end.closed_at_ms = Some(e.at_ms);
            match e.event {
                EventKind::ExecutionCompleted { output } => {
                    end.status = ExecutionStatus::Completed;
                    end.output = Some(output);
                }
                EventKind::ExecutionFailed { failure } => {
                    end.status = ExecutionStatus::Failed;
                    end.failure = Some(failure);
                }
                EventKind::ExecutionCancelled { failure } => {
                    end.status = ExecutionStatus::Cancelled;
                    end.failure = Some(failure);
                }
                EventKind::ExecutionTerminated { reason } => {
                    end.status = ExecutionStatus::Terminated;
                    end.failure = Some(Failure::new("terminated", reason));
                }
                _ => continue,
            }
            return Ok((at < current.run).then_some(end));
        }
        Ok(None)
    }

    pub fn list(
        &self,
        status: Option<ExecutionStatus>,
        workflow_type: Option<&str>,
    ) -> Result<Vec<ExecutionRecord>, EngineError> {
        let t = workflow_type.map(str::parse::<TypeName>).transpose()?;
        Ok(self.inner.store.executions(status, t.as_ref())?)
    }

    /// The events of run `run` (default: the current run). Each run starts
    /// with its `execution_started`; earlier runs end with their close or with
    /// `execution_continued_as_new`.
    pub fn history(
        &self,
        id: &str,
        run: Option<u32>,
    ) -> Result<(ExecutionRecord, Vec<Event>), EngineError> {
        let record = self.execution(id)?;
        let run = run.unwrap_or(record.run);
        if run == record.run {
            let events = self.inner.run_history(&record)?;
            return Ok((record, events));
        }
        if run == 0 || run > record.run {
            return Err(EngineError::BadRequest(format!(
                "execution {id} has runs 1 to {}",
                record.run
            )));
        }
        let all = self.inner.store.history(&record.id, 0)?;
        let (first, starts) = runs_held(&record, run, &all)?;
        let nth = (run - first) as usize;
        let from = starts[nth];
        let to = starts.get(nth + 1).copied().unwrap_or(all.len());
        Ok((record, all[from..to].to_vec()))
    }
}

/// Where each run of `record`'s id that the store holds begins in `all`
/// (its whole history), and the first of those runs: 1, unless an
/// execution under the id was deleted and this one went on from the run it
/// reached. Asking for run `run` before it is a 400 naming the runs there
/// are.
fn runs_held(
    record: &ExecutionRecord,
    run: u32,
    all: &[Event],
) -> Result<(u32, Vec<usize>), EngineError> {
    let starts: Vec<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.event, EventKind::ExecutionStarted { .. }))
        .map(|(i, _)| i)
        .collect();
    let first = (record.run + 1).saturating_sub(starts.len() as u32).max(1);
    if run < first {
        return Err(deleted_run(record, run, first));
    }
    Ok((first, starts))
}

/// Run `run` of `record`'s id was of an execution deleted under the id;
/// `record`'s own runs begin at `first`.
fn deleted_run(record: &ExecutionRecord, run: u32, first: u32) -> EngineError {
    EngineError::BadRequest(format!(
        "run {run} of {} was of an execution deleted under this id (retention, or `weft \
         delete`): the one there now has runs {first} to {}",
        record.id, record.run
    ))
}
