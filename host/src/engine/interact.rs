//! Talking to a running workflow: signals (recorded, delivered in order),
//! queries (read-only, never recorded) and updates (validated, then recorded
//! and run by the workflow, with a result for the caller).

use std::time::Duration;

use tokio::sync::oneshot;

use super::{Engine, EngineError, Msg, PendingRequest, RequestKind};
use crate::model::{
    EventKind, ExecutionId, ExecutionRecord, ExecutionStatus, Failure, HistoryExport, ModuleMeta,
    Payload,
};
use crate::store::{Op, OpError};

/// How long a query or a validation may wait for the workflow to reach a wait.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How many times a request is sent again when the instance it was queued on
/// stopped first (evicted, reloaded).
const REQUEST_ATTEMPTS: usize = 3;

/// A recorded signal.
#[derive(Debug, Clone)]
pub struct SignalReceipt {
    pub id: ExecutionId,
    /// The index of its `signal_received` event.
    pub event_index: u64,
    /// Whether signal-with-start started the execution.
    pub started: bool,
    /// Said when the workflow does not declare the signal's name.
    pub warning: Option<String>,
    /// The signal was recorded already, by an earlier send with its
    /// request id (`event_index` is that record's).
    pub duplicate: bool,
}

/// A signal as signal-with-start sends it.
pub struct SignalSent<'a> {
    pub name: &'a str,
    pub input: Payload,
    /// Recorded once per execution with it (see [`Engine::signal`]).
    pub request_id: Option<&'a str>,
}

/// Where an update stands.
#[derive(Debug, Clone)]
pub enum UpdateStatus {
    /// Accepted and recorded; its handler has not finished yet.
    Accepted,
    Completed(Result<Payload, Failure>),
}

#[derive(Debug, Clone)]
pub struct UpdateOutcome {
    pub update_id: String,
    pub status: UpdateStatus,
}

impl Engine {
    fn meta_of(&self, record: &ExecutionRecord) -> Result<ModuleMeta, EngineError> {
        self.inner
            .store
            .module_meta(&record.module)?
            .ok_or_else(|| {
                EngineError::Conflict(format!(
                    "module {} is missing from the store",
                    record.module
                ))
            })
    }

    fn unknown(
        record: &ExecutionRecord,
        what: &'static str,
        name: &str,
        known: &[String],
    ) -> String {
        format!(
            "workflow type {} (module {}) declares no {what} named {name:?}; it declares: [{}]",
            record.workflow_type,
            record.module.short(),
            known.join(", ")
        )
    }

    /// Records a signal and wakes the workflow. A signal to a name the
    /// workflow does not declare is still recorded (nothing is lost) and
    /// reported as an error naming what it does declare.
    /// With `request_id`, the signal is recorded once in the execution: sent
    /// again, it is answered with the first record (`duplicate`).
    pub async fn signal(
        &self,
        id: &str,
        name: &str,
        input: Payload,
        request_id: Option<&str>,
    ) -> Result<SignalReceipt, EngineError> {
        self.check_signal(name, &input, request_id)?;
        let record = self.execution(id)?;
        if !matches!(
            record.status,
            ExecutionStatus::Running | ExecutionStatus::Stalled
        ) {
            // A retry of a signal recorded already is answered with that
            // record (the signal may have ended the execution: a refusal
            // would tell the client it was never recorded). To a running
            // one, the append's own check answers it.
            if let Some(seen) = self.seen_signal(&record.id, request_id)? {
                return Ok(seen);
            }
            return Err(EngineError::Conflict(format!(
                "execution {id} is {}: signals go to running executions",
                record.status
            )));
        }
        let (event_index, duplicate) = self.append_signal(&record, name, input, request_id).await?;
        Ok(SignalReceipt {
            warning: self.signal_warning(&record, name)?,
            id: record.id,
            event_index,
            started: false,
            duplicate,
        })
    }

    /// Recorded either way, so answered as recorded: a signal the code
    /// does not declare (yet) waits until a receive or a handler of its
    /// name takes it, as Temporal buffers it. Said, though.
    fn signal_warning(
        &self,
        record: &ExecutionRecord,
        name: &str,
    ) -> Result<Option<String>, EngineError> {
        let meta = self.meta_of(record)?;
        Ok((!meta.signals.iter().any(|s| s == name)).then(|| {
            format!(
                "{}; it is kept in the history until the code receives a signal of that name",
                Self::unknown(record, "signal", name, &meta.signals)
            )
        }))
    }

    /// Refuses a signal that cannot be recorded: no name, an input over the
    /// limit, a request id out of bounds.
    fn check_signal(
        &self,
        name: &str,
        input: &Payload,
        request_id: Option<&str>,
    ) -> Result<(), EngineError> {
        self.inner.check_payload("the signal's input", input)?;
        EngineError::check_request_id("signal", request_id, 200)?;
        if name.is_empty() {
            return Err(EngineError::BadRequest("a signal needs a name".into()));
        }
        Ok(())
    }

    /// Records the signal: its event's index, and whether an earlier send
    /// with `request_id` had (then nothing is recorded).
    async fn append_signal(
        &self,
        record: &ExecutionRecord,
        name: &str,
        input: Payload,
        request_id: Option<&str>,
    ) -> Result<(u64, bool), EngineError> {
        let id = &record.id;
        let event = EventKind::SignalReceived {
            name: name.to_owned(),
            input,
            request_id: request_id.map(str::to_owned),
        };
        crate::pause::point("signal-before-write").await;
        let now = self.inner.clock.now_ms();
        let placed = crate::store::Placed::default();
        let mut op = Op::append(id, now, vec![event.clone()]);
        if let Op::Append {
            placed: at,
            once_key,
            ..
        } = &mut op
        {
            *at = Some(placed.clone());
            // Kept for the execution's retention, as a start's request id.
            *once_key = self.once_key(record.workflow_type.as_str(), "request", request_id)?;
        }
        let out = self.inner.store.write(vec![op]).await?;
        if let (Err(OpError::AlreadyRecorded(_)), Some(r)) = (&out, request_id) {
            return Ok((self.signal_index(id, r)?, true));
        }
        if let Err(e) = out {
            return Err(match e {
                OpError::Closed { id, status } => EngineError::Conflict(format!(
                    "execution {id} is {status}: signals go to running executions, and this \
                     one closed before the signal could be recorded (nothing was recorded)"
                )),
                other => other.into(),
            });
        }
        // The signal travels with the wake.
        let position = placed.position();
        self.inner.wake_with(id, position, vec![event]);
        match position {
            Some(p) => Ok((p.first, false)),
            None => Ok((self.inner.store.history_len(id)?.saturating_sub(1), false)),
        }
    }

    /// The answer to a signal sent again whose `request_id` is recorded
    /// under `id` (in any execution started under it): its first record.
    fn seen_signal(
        &self,
        id: &ExecutionId,
        request_id: Option<&str>,
    ) -> Result<Option<SignalReceipt>, EngineError> {
        let Some(r) = request_id else {
            return Ok(None);
        };
        if !self.inner.store.signal_request_seen(id, r)? {
            return Ok(None);
        }
        Ok(Some(SignalReceipt {
            event_index: self.signal_index(id, r)?,
            id: id.clone(),
            started: false,
            warning: None,
            duplicate: true,
        }))
    }

    /// The index of the signal recorded with `request_id` (the latest, in
    /// any run of the id: a continue-as-new carries an unread one along).
    fn signal_index(&self, id: &ExecutionId, request_id: &str) -> Result<u64, EngineError> {
        let found = self.inner.store.history(id, 0)?.into_iter().rev().find_map(|e| {
            matches!(&e.event, EventKind::SignalReceived { request_id: Some(r), .. } if r == request_id)
                .then_some(e.index)
        });
        found.ok_or_else(|| {
            EngineError::Conflict(format!(
                "request {request_id} was recorded in execution {id}, in a part of its history \
                 a reset discarded without recording its signals again; send the signal with \
                 another request id to record it"
            ))
        })
    }

    /// Starts the execution `id` of `workflow_type` unless it exists, then
    /// signals it either way.
    pub async fn signal_with_start(
        &self,
        workflow_type: &str,
        id: &str,
        input: Payload,
        signal: SignalSent<'_>,
        mut start: super::StartOptions,
    ) -> Result<SignalReceipt, EngineError> {
        let SignalSent {
            name: signal,
            input: signal_input,
            request_id: signal_request,
        } = signal;
        // A retry whose signal was recorded (its request id seen under the
        // id, in a run that may have closed since) is the same request: it
        // starts nothing, and is answered as the signal's duplicate.
        if let Ok(parsed) = id.parse::<ExecutionId>() {
            if let Some(seen) = self.seen_signal(&parsed, signal_request)? {
                return Ok(seen);
            }
        }
        start.id = Some(id.to_owned());
        self.check_signal(signal, &signal_input, signal_request)?;
        // Written with the start, in one write: both stand, or neither.
        let once = self.once_key(workflow_type, "request", signal_request)?;
        start.signal = Some((
            EventKind::SignalReceived {
                name: signal.to_owned(),
                input: signal_input.clone(),
                request_id: signal_request.map(str::to_owned),
            },
            once,
        ));
        let started = match self.start_with(workflow_type, input, start).await {
            Ok(started) if started.created => {
                let record = self.execution(id)?;
                let event_index = match started.signal_index {
                    Some(i) => i,
                    None => self.inner.store.history_len(&record.id)?.saturating_sub(1),
                };
                return Ok(SignalReceipt {
                    warning: self.signal_warning(&record, signal)?,
                    id: record.id,
                    event_index,
                    started: true,
                    duplicate: false,
                });
            }
            // A retried start found the run its request started (answered
            // as the first send was), or the id runs already: signalled.
            Ok(_) => true,
            Err(EngineError::Conflict(_)) => false,
            Err(e) => return Err(e),
        };
        let mut receipt = self
            .signal(id, signal, signal_input, signal_request)
            .await?;
        receipt.started = started;
        Ok(receipt)
    }

    /// Refuses a query name the execution's module does not declare.
    fn check_query(&self, record: &ExecutionRecord, name: &str) -> Result<(), EngineError> {
        let meta = self.meta_of(record)?;
        if meta.queries.iter().any(|q| q == name) {
            return Ok(());
        }
        Err(EngineError::UnknownName(Self::unknown(
            record,
            "query",
            name,
            &meta.queries,
        )))
    }

    /// Asks the workflow a read-only question, answered from its current
    /// state: by its instance in memory (loaded by replay if it was
    /// evicted), or, for a closed execution, by replaying it to its end.
    pub async fn query(
        &self,
        id: &str,
        name: &str,
        input: Payload,
    ) -> Result<Result<Payload, Failure>, EngineError> {
        self.inner.check_payload("the query's input", &input)?;
        let record = self.execution(id)?;
        self.check_query(&record, name)?;
        if record.status == ExecutionStatus::Running {
            match self
                .request(&record, RequestKind::Query, name, input.clone())
                .await
                .map(|(answer, _)| answer)
            {
                // It closed while the query waited for it: ask its final
                // state instead.
                Err(EngineError::Conflict(_)) if self.execution(id)?.status.is_closed() => {}
                other => return other,
            }
        }
        let record = self.execution(id)?;
        match record.status {
            ExecutionStatus::Running => Err(EngineError::Unavailable(format!(
                "execution {id} kept changing while the query waited: try again"
            ))),
            ExecutionStatus::Completed
            | ExecutionStatus::Failed
            | ExecutionStatus::Cancelled
            | ExecutionStatus::Terminated => self.query_final(&record, name, input).await,
            ExecutionStatus::Stalled => Err(EngineError::Conflict(format!(
                "execution {id} is stalled ({}): deploy a fix and upgrade it to query it",
                record
                    .stall_reason
                    .as_deref()
                    .unwrap_or("no reason recorded")
            ))),
        }
    }

    /// Answers a query from a closed execution's final state: its current
    /// run replayed in a fresh instance, asked where it ended (after `run`
    /// returned, or at its last wait if it was terminated there).
    async fn query_final(
        &self,
        record: &ExecutionRecord,
        name: &str,
        input: Payload,
    ) -> Result<Result<Payload, Failure>, EngineError> {
        let events = self.inner.run_history(record)?;
        self.query_replayed(record, events, name, input, "its final state")
            .await
    }

    /// Answers a query as the workflow stood at event `at_event` of its
    /// current run: the run's history up to that event is replayed in a
    /// fresh instance, which answers at the wait it reaches (state exists
    /// only at waits; nothing after the event is delivered). Nothing is
    /// written and the live execution is not touched; a replay that
    /// diverges answers with the divergence and stalls nothing. These
    /// replays run two at a time, apart from the live instances' work.
    pub async fn query_at(
        &self,
        id: &str,
        name: &str,
        input: Payload,
        at_event: u64,
    ) -> Result<Result<Payload, Failure>, EngineError> {
        self.inner.check_payload("the query's input", &input)?;
        let record = self.execution(id)?;
        self.check_query(&record, name)?;
        let events = self.inner.run_history(&record)?;
        let (first, last) = match (events.first(), events.last()) {
            (Some(f), Some(l)) => (f.index, l.index),
            _ => {
                return Err(EngineError::Conflict(format!(
                    "execution {id} has no history"
                )))
            }
        };
        if at_event < first || at_event > last {
            return Err(EngineError::BadRequest(format!(
                "at_event {at_event} is not an event of execution {id}'s current run (events \
                 {first} to {last}; see `weft history {id}`)"
            )));
        }
        let upto: Vec<_> = events.into_iter().filter(|e| e.index <= at_event).collect();
        let _turn = self
            .inner
            .past_queries
            .acquire()
            .await
            .map_err(|_| EngineError::Unavailable("the host is stopping".into()))?;
        let when = format!("event {at_event}");
        self.query_replayed(&record, upto, name, input, &when).await
    }

    /// Replays `events` (a run's history, whole or up to an event) in a
    /// fresh instance and asks it the query there.
    async fn query_replayed(
        &self,
        record: &ExecutionRecord,
        events: Vec<crate::model::Event>,
        name: &str,
        input: Payload,
        at: &str,
    ) -> Result<Result<Payload, Failure>, EngineError> {
        let id = &record.id;
        let bytes = self
            .inner
            .store
            .module_bytes(&record.module)?
            .ok_or_else(|| EngineError::Conflict(format!("module {} is missing", record.module)))?;
        let history = HistoryExport {
            format: HistoryExport::FORMAT.to_owned(),
            execution_id: record.id.to_string(),
            workflow_type: record.workflow_type.to_string(),
            module: record.module.to_string(),
            events,
        };
        super::offline::query_closed(
            &self.inner.runtime,
            record.module,
            bytes,
            history,
            name.to_owned(),
            input,
        )
        .await
        .map_err(|e| match e {
            super::offline::ClosedQueryError::TimedOut => EngineError::Unavailable(format!(
                "the query on execution {id} was not answered from {at}: {e} (a long history, \
                 or a busy host): try again later"
            )),
            super::offline::ClosedQueryError::NotAnswered(reason) => EngineError::Conflict(
                format!("the query could not be answered from {at}: {reason}"),
            ),
        })
    }

    /// Hands a request to the running instance and waits for its answer,
    /// with the epoch and the history's length the instance answered on.
    async fn request(
        &self,
        record: &ExecutionRecord,
        kind: RequestKind,
        name: &str,
        input: Payload,
    ) -> Result<(Result<Payload, Failure>, Option<(u32, u64)>), EngineError> {
        for _ in 0..REQUEST_ATTEMPTS {
            let (reply, answer) = oneshot::channel();
            let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
            let msg = Msg::Request(PendingRequest {
                kind,
                name: name.to_owned(),
                input: input.clone(),
                reply,
                seen: seen.clone(),
            });
            match self.inner.deliver(&record.id, msg) {
                Ok(()) => {}
                Err(super::mailbox::NotDelivered::NotRunning) => {
                    return Err(EngineError::Conflict(format!(
                        "execution {} is no longer running",
                        record.id
                    )))
                }
                Err(super::mailbox::NotDelivered::Unread(e @ crate::store::StoreError::Io(_))) => {
                    return Err(EngineError::Unavailable(format!(
                        "execution {} could not be read ({e}): try again",
                        record.id
                    )))
                }
                Err(super::mailbox::NotDelivered::Unread(e)) => return Err(e.into()),
            }
            // A host that stops answers now (it exits shortly): nothing
            // was recorded, and the client tries again.
            let answer = tokio::select! {
                answer = tokio::time::timeout(REQUEST_TIMEOUT, answer) => answer,
                () = self.inner.until_stopping() => {
                    return Err(EngineError::Unavailable(format!(
                        "this host is stopping and execution {} did not answer before: try \
                         again (another host, or this one once it is back)",
                        record.id
                    )))
                }
            };
            match answer {
                Err(_) => {
                    return Err(EngineError::Unavailable(format!(
                        "execution {} did not reach a wait within {} s to answer",
                        record.id,
                        REQUEST_TIMEOUT.as_secs()
                    )))
                }
                // The instance stopped before answering: send it again.
                Ok(Err(_)) => continue,
                Ok(Ok(answer)) => {
                    let seen = *seen.lock().unwrap_or_else(|p| p.into_inner());
                    return Ok((answer, seen));
                }
            }
        }
        Err(EngineError::Unavailable(format!(
            "execution {} kept stopping before it could answer: try again",
            record.id
        )))
    }

    /// Sends an update: the validator (if any) runs first and a rejection
    /// leaves no trace; an accepted update is recorded, then run by the
    /// workflow. With the same `update_id` twice, it is applied once and both
    /// calls get its result. Waits up to `wait` for the result.
    pub async fn update(
        &self,
        id: &str,
        name: &str,
        input: Payload,
        update_id: Option<&str>,
        wait: Duration,
    ) -> Result<UpdateOutcome, EngineError> {
        self.inner.check_payload("the update's input", &input)?;
        let update_id = match update_id {
            Some(u) if u.is_empty() || u.len() > 200 => {
                return Err(EngineError::BadRequest(
                    "an update id is 1 to 200 characters".into(),
                ))
            }
            Some(u) => u.to_owned(),
            None => format!("upd_{}", ulid::Ulid::new().to_string().to_lowercase()),
        };
        // The record is written only on the history that validated it: an
        // event since (a signal, a completion, an upgrade), a reset, a new
        // run or another execution under the id makes the write stale, and
        // the update is validated again by what the id names now (a few
        // times at most: each is an event that came in between; updates to
        // the same execution take turns and do not).
        for tries_left in (0..8).rev() {
            let record = self.execution(id)?;
            if self.find_update(&record.id, &update_id)?.is_some() {
                break;
            }
            if record.status != ExecutionStatus::Running {
                return Err(EngineError::Conflict(format!(
                    "execution {id} is {}: updates go to running executions",
                    record.status
                )));
            }
            let meta = self.meta_of(&record)?;
            if !meta.updates.iter().any(|u| u == name) {
                return Err(EngineError::UnknownName(Self::unknown(
                    &record,
                    "update",
                    name,
                    &meta.updates,
                )));
            }
            crate::pause::point("update-before-validate").await;
            // One update at a time per execution, from its validation to
            // its record: each validator sees what the updates accepted
            // before it did (their handlers ran at the wait it answers at),
            // and none makes another's record stale.
            let _turn = super::turns::UpdateTurn::take(&self.inner, &record.id).await;
            // A try under the same id (a retry racing its first) may have
            // been accepted since the look above, and have run: what the
            // validator, the execution or the write says now is not this
            // update's answer, its result is.
            let validated = self
                .request(&record, RequestKind::Validate, name, input.clone())
                .await;
            let seen = validated.as_ref().ok().and_then(|(_, seen)| *seen);
            // A history that cannot be read now says nothing either way:
            // the first answer stands.
            let applied = |this: &Self| {
                this.find_update(&record.id, &update_id)
                    .is_ok_and(|u| u.is_some())
            };
            match validated.map(|(answer, _)| answer) {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(EngineError::Conflict(_) | EngineError::Unavailable(_))
                    if applied(self) =>
                {
                    break
                }
                Ok(Err(f)) => return Err(EngineError::Rejected(f)),
                Err(e) => return Err(e),
            }
            let mut op = Op::append(
                &record.id,
                self.inner.clock.now_ms(),
                vec![EventKind::UpdateAccepted {
                    update_id: update_id.clone(),
                    name: name.to_owned(),
                    input: input.clone(),
                }],
            );
            if let Op::Append {
                unique_update,
                expect_resets,
                expect_next,
                ..
            } = &mut op
            {
                *unique_update = Some(update_id.clone());
                // Accepted on the history its validator saw: an event that
                // came in since (the signal that ended the run, a reset's)
                // makes it stale, and it is validated again.
                let (epoch, next) = seen.map_or((record.resets, None), |(e, n)| (e, Some(n)));
                *expect_resets = Some(epoch);
                *expect_next = next;
            }
            crate::pause::point("update-before-accept").await;
            let written = self.inner.store.write(vec![op]).await?;
            crate::pause::point("update-accept-written").await;
            match written {
                Ok(()) | Err(OpError::DuplicateUpdate(_)) => {}
                Err(OpError::Stale(_)) if tries_left > 0 => continue,
                Err(_) if applied(self) => break,
                Err(e) => return Err(e.into()),
            }
            tracing::info!(execution = %record.id, update = %update_id, %name, "update accepted");
            self.inner.wake(&record.id);
            break;
        }
        self.update_result(id, &update_id, wait).await
    }

    /// Where update `update_id` stands, waiting up to `wait` for its result.
    pub async fn update_result(
        &self,
        id: &str,
        update_id: &str,
        wait: Duration,
    ) -> Result<UpdateOutcome, EngineError> {
        let mut rx = self.inner.updates.subscribe();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let record = self.execution(id)?;
            let (found, abandoned) = match self.update_standing(&record.id, update_id)? {
                Standing::Known(found, abandoned) => (found, abandoned),
                Standing::Unknown => {
                    return Err(EngineError::NotFound {
                        what: "update",
                        name: update_id.to_owned(),
                        hint: " for this execution",
                    })
                }
                Standing::Discarded { to_event } => {
                    return Err(EngineError::Conflict(format!(
                        "update {update_id} was discarded by a reset of execution {id} to event \
                         {to_event}: what it did is no longer in the history and its result no \
                         longer stands (send it again, with the same update id, to apply it in \
                         the new history)"
                    )));
                }
            };
            if abandoned {
                return Err(EngineError::Conflict(format!(
                    "update {update_id} was running when its run of execution {id} continued \
                     as new; its handler did not finish and does not run again (send it with a \
                     new update id if it must run, and finish update handlers before continuing \
                     as new)"
                )));
            }
            if let UpdateStatus::Completed(_) = &found {
                return Ok(UpdateOutcome {
                    update_id: update_id.to_owned(),
                    status: found,
                });
            }
            // A stalled execution did not end: its accepted updates run
            // once it is repaired (an upgrade, a reset).
            if record.status.is_closed() {
                return Err(EngineError::Conflict(format!(
                    "execution {id} is {} and did not finish update {update_id} (a reset to \
                     before its end runs it)",
                    record.status
                )));
            }
            // Until the wait ends, or the host stops: then answered as it
            // stands (the client learns the update's id to ask again).
            let changed = tokio::select! {
                changed = tokio::time::timeout_at(deadline, rx.changed()) => changed.is_ok(),
                () = self.inner.until_stopping() => false,
            };
            if !changed {
                return Ok(UpdateOutcome {
                    update_id: update_id.to_owned(),
                    status: UpdateStatus::Accepted,
                });
            }
        }
    }

    /// Where update `update_id` stands across the execution's runs. An
    /// update whose handler had started and not finished when its run
    /// continued as new is abandoned: it does not move (it may have changed
    /// the state the next run starts from), so it never completes.
    fn find_update(
        &self,
        id: &ExecutionId,
        update_id: &str,
    ) -> Result<Option<UpdateStatus>, EngineError> {
        Ok(match self.update_standing(id, update_id)? {
            Standing::Known(status, _) => Some(status),
            Standing::Unknown | Standing::Discarded { .. } => None,
        })
    }

    /// `find_update`, whether the update was abandoned, or whether a reset
    /// discarded it (then it is as if never sent: sending it again applies
    /// it in the new history).
    fn update_standing(&self, id: &ExecutionId, update_id: &str) -> Result<Standing, EngineError> {
        let mut status = None;
        let mut discarded_at = None;
        // Every run of the execution: an update completed just before a
        // continue-as-new is still answered, and its retry is still a
        // duplicate. Not an earlier execution under the same id: its
        // update ids are its own.
        let mut ended = false;
        for e in self.inner.store.history(id, 0)? {
            if ended && matches!(e.event, EventKind::ExecutionStarted { .. }) {
                status = None;
                discarded_at = None;
            }
            // An end leaves an accepted update as it was: a reset to before
            // the end runs it (a continue-as-new abandons it, below).
            ended = e.event.ends_execution();
            match e.event {
                EventKind::UpdateAccepted { update_id: u, .. } if u == update_id => {
                    status = Some((UpdateStatus::Accepted, false));
                    discarded_at = None;
                }
                EventKind::ExecutionReset {
                    to_event,
                    discarded,
                    ..
                } if discarded.iter().any(|d| {
                        matches!(&d.event, EventKind::UpdateAccepted { update_id: u, .. } if u == update_id)
                    }) =>
                {
                    status = None;
                    discarded_at = Some(to_event);
                }
                EventKind::ExecutionContinuedAsNew { .. } => {
                    if let Some((UpdateStatus::Accepted, abandoned)) = &mut status {
                        *abandoned = true;
                    }
                }
                EventKind::UpdateCompleted {
                    update_id: u,
                    output,
                    failure,
                    ..
                } if u == update_id => {
                    let result = match failure {
                        Some(f) => Err(f),
                        None => Ok(output.unwrap_or_default()),
                    };
                    status = Some((UpdateStatus::Completed(result), false));
                }
                _ => {}
            }
        }
        Ok(match (status, discarded_at) {
            (Some((status, abandoned)), _) => Standing::Known(status, abandoned),
            (None, Some(to_event)) => Standing::Discarded { to_event },
            (None, None) => Standing::Unknown,
        })
    }
}

/// Where an update stands in an execution's history.
enum Standing {
    /// Never accepted (or only by an earlier execution under the id).
    Unknown,
    /// Accepted, then discarded by a reset to `to_event`.
    Discarded { to_event: u64 },
    /// Its status, and whether it was abandoned by a continue-as-new.
    Known(UpdateStatus, bool),
}
