//! A workflow task's commands, turned into the events that record them and
//! the activities, timers and children they start (committed together at the
//! next wait, dispatched after).

use super::*;

/// What a workflow task's commands turn into.
pub(in crate::engine) struct Flush {
    /// The events, with what is written with them and done after.
    pub batch: super::TaskBatch,
    pub tasks: Vec<ActivityTask>,
    pub timers: Vec<TimerRow>,
    /// Activities to stop once the cancellation is recorded.
    pub cancels: Vec<u64>,
    /// Timer rows `(due, handle)` of timers the task cancelled.
    pub timers_remove: Vec<(u64, u64)>,
}

impl Driver {
    /// Turns the commands issued since the last wait into the events that
    /// record them, and the activities and timers they start. A store that
    /// cannot answer a read they need (whether a child's id is in use) fails
    /// the task: nothing is recorded, and the execution is loaded again
    /// (a moment's outage must not become a child's recorded failure).
    pub(in crate::engine) fn new_command_events(
        &mut self,
        now: u64,
    ) -> Result<Flush, crate::store::StoreError> {
        let mut events = Vec::new();
        let mut tasks = Vec::new();
        let mut timers = Vec::new();
        let mut children = Vec::new();
        let mut cancels = Vec::new();
        let mut timers_remove = Vec::new();
        let mut child_cancels = Vec::new();
        let mut externals = Vec::new();
        for (handle, command) in self.replayer.take_new_commands() {
            match command {
                Command::Activity {
                    name,
                    input,
                    options,
                } => {
                    let key = activities::idempotency_key(&self.id, self.run, handle);
                    tasks.push(ActivityTask {
                        execution: self.id.clone(),
                        handle,
                        name: name.clone(),
                        input: input.clone(),
                        options: options.clone(),
                        attempt: 1,
                        not_before_ms: 0,
                        epoch: self.resets,
                        run_start: self.run_start,
                        cancelled: false,
                        scheduled_at_ms: now,
                        idempotency_key: key.clone(),
                        fresh: true,
                        history_after: None,
                        last_failure: None,
                    });
                    events.push(EventKind::ActivityScheduled {
                        handle,
                        name,
                        input,
                        options,
                        idempotency_key: Some(key),
                    });
                }
                Command::Patch { id } => events.push(EventKind::PatchMarker {
                    handle,
                    patch_id: id,
                }),
                Command::UpsertSearch { changes } => {
                    events.push(EventKind::SearchAttributesUpserted {
                        handle,
                        attributes: changes,
                    })
                }
                Command::UpsertMemo { changes } => events.push(EventKind::MemoUpserted {
                    handle,
                    memo: changes,
                }),
                Command::External {
                    target,
                    child,
                    name,
                    input,
                    cancel,
                } => {
                    let what = (target.as_str(), child, name.as_str(), &input, cancel);
                    let key = super::super::external::discarded_key(
                        self.replayer.discarded(),
                        handle,
                        what,
                    )
                    .unwrap_or_else(|| {
                        super::super::external::request_key(&self.id, self.run, handle, what)
                    });
                    let sent = EventKind::ExternalSent {
                        handle,
                        target,
                        child,
                        name,
                        input,
                        cancel,
                        key,
                    };
                    externals.extend(crate::store::ExternalRequest::from_event(
                        &self.id,
                        self.resets,
                        &sent,
                    ));
                    events.push(sent);
                }
                Command::PollSignal { name } => {
                    events.push(EventKind::SignalPolled { handle, name })
                }
                Command::ReceiveSignal { name } => {
                    events.push(EventKind::SignalAwaited { handle, name })
                }
                Command::Cancel { target } => match self.replayer.target(target) {
                    // Whether `target` has its completion, recorded or in
                    // this task's events (a timer cancelled twice, a child
                    // whose start was refused): nothing to cancel then.
                    _ if self.replayer.is_completed(target)
                        || events
                            .iter()
                            .any(|e: &EventKind| e.completion_handle() == Some(target)) =>
                    {
                        events.push(match self.replayer.target(target) {
                            Some(Target::Timer) => {
                                EventKind::TimerCancelRequested { handle, target }
                            }
                            Some(Target::Child) => {
                                EventKind::ChildCancelRequested { handle, target }
                            }
                            _ => EventKind::ActivityCancelRequested { handle, target },
                        });
                    }
                    Some(Target::Timer) => {
                        events.push(EventKind::TimerCancelRequested { handle, target });
                        // Pending: it completes `cancelled` in this write and
                        // its row goes (a timer of this task never gets one).
                        if let Some(at) = timers.iter().position(|t: &TimerRow| t.handle == target)
                        {
                            timers.remove(at);
                            events.push(EventKind::TimerCancelled { handle: target });
                        } else if let Some(EventKind::TimerStarted { fire_at_ms, .. }) =
                            self.replayer.recorded_command(target)
                        {
                            if !self.replayer.is_completed(target) {
                                timers_remove.push((*fire_at_ms, target));
                                events.push(EventKind::TimerCancelled { handle: target });
                            }
                        }
                    }
                    Some(Target::Child) => {
                        events.push(EventKind::ChildCancelRequested { handle, target });
                        let started = events
                            .iter()
                            .chain(self.replayer.recorded_command(target))
                            .find_map(|e| match e {
                                EventKind::ChildStarted {
                                    handle: h,
                                    child_id,
                                    cancellation,
                                    ..
                                } if *h == target => Some((child_id.clone(), *cancellation)),
                                _ => None,
                            });
                        if let Some((child_id, cancellation)) = started {
                            let (ask, complete) = CancellationType::child_steps(cancellation);
                            if complete {
                                events.push(child_cancelled(target, &child_id));
                            }
                            if ask {
                                child_cancels.push((target, child_id));
                            }
                        }
                    }
                    _ => {
                        events.push(EventKind::ActivityCancelRequested { handle, target });
                        cancels.push(target);
                    }
                },
                Command::StartChild {
                    workflow_type,
                    id,
                    input,
                    policy,
                    reuse,
                    cancellation,
                } => {
                    use crate::model::{ExecutionStatus, IdReusePolicy};
                    let opts = StartOptions {
                        id: Some(id.clone()),
                        parent: Some(ParentLink {
                            id: self.id.clone(),
                            handle,
                            epoch: self.resets,
                            close_policy: policy,
                        }),
                        ..StartOptions::default()
                    };
                    // An id in use (by a running execution, or by a child
                    // of this same task) fails the start with
                    // `already-started`; anything else with
                    // `child-not-started`.
                    let started = if children.iter().any(|(_, c): &(Op, String)| *c == id) {
                        Err(already_started(&id))
                    } else {
                        let made = self
                            .inner
                            .new_run(&workflow_type, input.clone(), &opts)
                            .and_then(|run| {
                                let found =
                                    crate::store::StoreError::fail_point("child-start-read")
                                        .and_then(|()| self.inner.store.execution(&run.0.id));
                                Ok((found?, run))
                            });
                        if let Err(crate::engine::EngineError::Store(
                            e @ crate::store::StoreError::Io(_),
                        )) = made
                        {
                            return Err(e);
                        }
                        made.map_err(|e| {
                            Failure::new(
                                "child-not-started",
                                format!("the child could not start: {e}"),
                            )
                        })
                        .and_then(|(found, run)| match found {
                            Some(r) if !r.status.is_closed() => Err(already_started(&id)),
                            // A closed execution's id, as the policy says.
                            Some(r) if reuse == IdReusePolicy::RejectDuplicate => {
                                Err(reuse_refused(&id, &r.status.to_string(), reuse))
                            }
                            Some(r)
                                if reuse == IdReusePolicy::AllowDuplicateFailedOnly
                                    && r.status == ExecutionStatus::Completed =>
                            {
                                Err(reuse_refused(&id, &r.status.to_string(), reuse))
                            }
                            _ => Ok(run),
                        })
                    };
                    events.push(EventKind::ChildStarted {
                        handle,
                        workflow_type: workflow_type
                            .parse()
                            .unwrap_or_else(|_| "invalid".parse().expect("a valid name")),
                        child_id: id.clone(),
                        input,
                        policy,
                        cancellation,
                    });
                    match started {
                        Ok((record, started)) => children.push((
                            Op::CreateExecution {
                                record: Box::new(record),
                                started,
                                reuse: match reuse {
                                    IdReusePolicy::AllowDuplicate => Reuse::IfClosed,
                                    IdReusePolicy::AllowDuplicateFailedOnly => {
                                        Reuse::IfNotCompleted
                                    }
                                    IdReusePolicy::RejectDuplicate => Reuse::Never,
                                },
                                request: None,
                                created: Some(Default::default()),
                            },
                            id,
                        )),
                        Err(failure) => events.push(EventKind::ChildCompleted {
                            handle,
                            child_id: id,
                            output: None,
                            failure: Some(failure),
                        }),
                    }
                }
                Command::CompleteUpdate { update_id, outcome } => {
                    let (output, failure) = match outcome {
                        Ok(o) => (Some(o), None),
                        Err(f) => (None, Some(f)),
                    };
                    events.push(EventKind::UpdateCompleted {
                        handle,
                        update_id,
                        output,
                        failure,
                    });
                }
                Command::Timer { duration_ms } => {
                    let fire_at_ms = now.saturating_add(duration_ms);
                    timers.push(TimerRow {
                        due_ms: fire_at_ms,
                        execution: self.id.clone(),
                        handle,
                    });
                    events.push(EventKind::TimerStarted {
                        handle,
                        duration_ms,
                        fire_at_ms,
                    });
                }
            }
        }
        Ok(Flush {
            batch: super::TaskBatch {
                events,
                children,
                child_cancels,
                externals,
            },
            tasks,
            timers,
            cancels,
            timers_remove,
        })
    }
}

/// The completion of child handle `handle` that a `try-cancel` or
/// `abandon` cancellation records (the child's own end is then not
/// recorded in this run).
pub(super) fn child_cancelled(handle: u64, child_id: &str) -> EventKind {
    EventKind::ChildCompleted {
        handle,
        child_id: child_id.to_owned(),
        output: None,
        failure: Some(Failure::cancelled(&format!("child {child_id}"))),
    }
}

/// The failure of a child start whose id a running execution holds: kind
/// `already-started`, which the workflow can match.
pub(super) fn already_started(id: &str) -> Failure {
    Failure::new(
        "already-started",
        format!(
            "the child could not start: execution {id} is already running (use another id, or \
             wait for it to close)"
        ),
    )
}

/// The failure of a child start whose id a closed execution holds and the
/// child's id-reuse policy does not let it take.
fn reuse_refused(id: &str, status: &str, reuse: crate::model::IdReusePolicy) -> Failure {
    Failure::new(
        "already-started",
        format!(
            "the child could not start: execution {id} exists ({status}) and the id-reuse \
             policy {reuse:?} does not let a child take its id"
        ),
    )
}
