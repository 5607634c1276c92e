//! Starting, cancelling and terminating executions, and what a closing run
//! owes its parent (what it owes its children: `children.rs`).

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::Arc;

use super::{Engine, EngineError, Inner};
use crate::model::ModuleHash;
use crate::model::{
    Event, EventKind, ExecutionId, ExecutionRecord, ExecutionStatus, Failure, IdReusePolicy,
    ParentLink, Payload, TypeName,
};
use crate::store::{Close, Created, Op, OpError, Reuse, StartRequest, StoreError, TimerRow};

/// How many times a cancellation whose write raced a timer firing (or a
/// reset) reads its execution again before it gives up (the caller may
/// retry).
pub(super) const CANCEL_ATTEMPTS: usize = 10;

/// How to start an execution.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The workflow id (default: a generated `wf_…`).
    pub id: Option<String>,
    /// Makes a retried start safe: a start with a request id seen within the
    /// retention window (`EngineConfig::retention`) answers
    /// with the run that request started, whatever its state now.
    pub request_id: Option<String>,
    /// What a start with the id of a closed execution does.
    pub reuse: IdReusePolicy,
    pub(crate) parent: Option<ParentLink>,
    /// Times the execution out after this long (workflow time), across runs.
    pub execution_timeout_ms: Option<u64>,
    /// Times each run out after this long.
    pub run_timeout_ms: Option<u64>,
    /// Start on this module (a pinned version) instead of the type's
    /// current one.
    pub(crate) module: Option<ModuleHash>,
    /// The search attributes the execution starts with.
    pub search_attributes: crate::model::search::SearchAttributes,
    /// The memo it starts with.
    pub memo: crate::model::search::Memo,
    /// Signal-with-start: a `signal_received` recorded in the same write as
    /// the start (with the once key its request id is kept under), so that
    /// the two stand or fall together.
    pub(crate) signal: Option<(EventKind, Option<OnceKey>)>,
}

impl Inner {
    /// Hands the timer service an execution's deadlines, as its record
    /// has them now (after a start or a new run).
    /// A read the store could not answer is made again while the host
    /// runs: the rows are in the store, and only its next start would arm
    /// them otherwise.
    pub(super) fn arm_deadlines(self: &Arc<Self>, id: &ExecutionId) {
        if self.arm_deadlines_read(id) {
            return;
        }
        let inner = self.clone();
        let id = id.clone();
        self.spawn_counted(async move {
            let mut again = super::again::Backoff::background();
            loop {
                again.wait().await;
                if inner.arm_deadlines_read(&id) {
                    tracing::info!(execution = %id, "deadlines armed after the store answered");
                    return;
                }
            }
        });
    }

    /// Arms `id`'s deadlines from its record; false when it could not be read.
    fn arm_deadlines_read(&self, id: &ExecutionId) -> bool {
        let read = crate::store::StoreError::fail_point("arm-deadlines-read")
            .and_then(|()| self.store.execution(id));
        match read {
            Ok(Some(record)) => self.arm_deadlines_of(&record),
            Ok(None) => {}
            Err(StoreError::Io(e)) => {
                tracing::warn!(execution = %id, error = %e, "could not read the execution to arm its deadlines; reading it again");
                return false;
            }
            Err(e) => {
                tracing::error!(execution = %id, error = %e, "could not read the execution to arm its deadlines; they are armed at the next start");
            }
        }
        true
    }

    /// [`Inner::arm_deadlines`] of a record the caller just wrote.
    pub(super) fn arm_deadlines_of(&self, record: &ExecutionRecord) {
        for (due_ms, handle) in record.deadline_rows() {
            self.arm_timer(TimerRow {
                due_ms,
                execution: record.id.clone(),
                handle,
            });
        }
    }

    /// The record of an execution that has not closed.
    fn open_record(&self, id: &ExecutionId) -> Result<ExecutionRecord, EngineError> {
        let record = self
            .store
            .execution(id)?
            .ok_or_else(|| EngineError::no_execution(id))?;
        if record.status.is_closed() {
            return Err(EngineError::Conflict(format!(
                "execution {id} is already {}",
                record.status
            )));
        }
        Ok(record)
    }

    /// The record and first event of a new run on the type's current module
    /// (nothing is written).
    pub(super) fn new_run(
        &self,
        workflow_type: &str,
        input: Payload,
        opts: &StartOptions,
    ) -> Result<(ExecutionRecord, EventKind), EngineError> {
        let type_name: TypeName = workflow_type.parse()?;
        let current =
            self.store
                .workflow_type(&type_name)?
                .ok_or_else(|| EngineError::NotFound {
                    what: "workflow type",
                    name: workflow_type.to_owned(),
                    hint: ": deploy a workflow component with `weft deploy FILE.wasm --name NAME`",
                })?;
        let module = opts.module.unwrap_or(current);
        let id = match &opts.id {
            Some(s) => s.parse::<ExecutionId>()?,
            None => ExecutionId::generate(),
        };
        let now = self.clock.now_ms();
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let record = ExecutionRecord {
            id,
            workflow_type: type_name.clone(),
            module,
            status: ExecutionStatus::Running,
            created_at_ms: now,
            closed_at_ms: None,
            input: input.clone(),
            output: None,
            failure: None,
            stall_reason: None,
            resets: 0,
            run: 1,
            run_start: 0,
            began_at_run: Some(1),
            request_id: opts.request_id.clone(),
            parent: opts.parent.clone(),
            cancel_requested: false,
            execution_deadline_ms: opts.execution_timeout_ms.map(|t| now.saturating_add(t)),
            run_timeout_ms: opts.run_timeout_ms,
            search_attributes: opts.search_attributes.clone(),
            memo: opts.memo.clone(),
        };
        let started = EventKind::ExecutionStarted {
            workflow_type: type_name,
            module,
            input,
            seed,
            random: Some(crate::wasm::RANDOM_GENERATOR.to_owned()),
            search_attributes: opts.search_attributes.clone(),
            memo: opts.memo.clone(),
        };
        Ok((record, started))
    }

    /// The module of version `version` of a workflow type.
    pub(super) fn version_module(
        &self,
        workflow_type: &str,
        version: u32,
    ) -> Result<ModuleHash, EngineError> {
        let type_name: TypeName = workflow_type.parse()?;
        self.store
            .versions(&type_name)?
            .into_iter()
            .find(|v| v.version == version)
            .map(|v| v.module)
            .ok_or_else(|| EngineError::NotFound {
                what: "version",
                name: format!("{workflow_type} v{version}"),
                hint: " (see `weft versions TYPE`)",
            })
    }

    /// The events of the current run.
    pub(super) fn run_history(
        &self,
        record: &ExecutionRecord,
    ) -> Result<Vec<Event>, crate::store::StoreError> {
        self.store.history(&record.id, record.run_start)
    }

    /// The write that tells a child's parent how the child ended, if it has
    /// one. The store reads the parent link in the write itself: a reset of
    /// the parent after this child loaded re-attached it to a new epoch.
    pub(super) fn parent_op(
        &self,
        record: &ExecutionRecord,
        outcome: Result<Payload, Failure>,
    ) -> Option<Op> {
        record.parent.as_ref()?;
        Some(Op::TellParent {
            child: record.id.clone(),
            at_ms: self.clock.now_ms(),
            outcome,
        })
    }

    /// Asks a running execution to cancel: recorded, delivered at its next
    /// wait; its pending timers are cancelled at once, its activities stopped
    /// and its children asked to cancel too.
    pub(super) fn cancel<'a>(
        self: &'a Arc<Self>,
        id: &'a ExecutionId,
        reason: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), EngineError>> + Send + 'a>> {
        Box::pin(async move { self.cancel_once(id, reason, None, None).await.map(drop) })
    }

    /// [`Inner::cancel`], recorded once under `once` (a client's request
    /// id: see [`OnceKey`]): `true` if a request with that key was recorded
    /// before (nothing is done again). With `child`, only while `id` is that
    /// parent's child: the link `(parent, epoch, handle)` its record names
    /// (read again at each try: a child that ended meanwhile leaves its id
    /// to another execution, which is not asked).
    pub(super) fn cancel_once<'a>(
        self: &'a Arc<Self>,
        id: &'a ExecutionId,
        reason: &'a str,
        once: Option<OnceKey>,
        child: Option<&'a (ExecutionId, u32, u64)>,
    ) -> Pin<Box<dyn Future<Output = Result<bool, EngineError>> + Send + 'a>> {
        Box::pin(async move {
            // The write cancels the timers it read as pending: one that
            // fired meanwhile refuses it (as does a reset), and it is read
            // again. The store records one request per run: a concurrent
            // canceller that was first answers for this one too.
            let mut attempts = 0;
            loop {
                let record = self.open_record(id)?;
                if child.is_some_and(|link| !linked(&record, link)) {
                    tracing::debug!(execution = %id, "child not asked to cancel: its link names another run or command of the parent (a reset discarded the request, or the id was started again)");
                    return Ok(false);
                }
                if record.cancel_requested {
                    return self.keep_once(id, once).await;
                }
                let (mut op, history) = self.cancel_op(&record, reason)?;
                if let Op::Append {
                    once_key,
                    expect_link,
                    ..
                } = &mut op
                {
                    once_key.clone_from(&once);
                    // A reset of the parent since this read re-attaches
                    // the child (and discards the request): refused, and
                    // read again.
                    *expect_link = child.cloned();
                }
                crate::pause::point("cancel-before-write").await;
                match self.store.write(vec![op]).await? {
                    Ok(()) => {
                        tracing::info!(execution = %id, %reason, "cancellation requested");
                        self.after_cancel(&record, &history).await;
                        return Ok(false);
                    }
                    Err(OpError::AlreadyRecorded(_)) => return Ok(true),
                    Err(OpError::CancelAlreadyRequested(_)) => {
                        return self.keep_once(id, once).await
                    }
                    Err(OpError::Stale(_) | OpError::AlreadyCompleted { .. })
                        if attempts < CANCEL_ATTEMPTS =>
                    {
                        attempts += 1;
                        tracing::debug!(execution = %id, "cancellation raced a timer or a reset; read again");
                    }
                    Err(refused) => return Err(refused.into()),
                }
            }
        })
    }

    /// Records `once` (a request's id) with nothing else: the request found
    /// its work done by another (a cancellation asked already), and its
    /// retry must be answered as done. `true` if it was recorded before.
    async fn keep_once(
        &self,
        id: &ExecutionId,
        once: Option<OnceKey>,
    ) -> Result<bool, EngineError> {
        let Some(once) = once else {
            return Ok(false);
        };
        let mut op = Op::append(id, self.clock.now_ms(), Vec::new());
        if let Op::Append { once_key, .. } = &mut op {
            *once_key = Some(once);
        }
        match self.store.write(vec![op]).await? {
            Ok(()) => Ok(false),
            Err(OpError::AlreadyRecorded(_)) => Ok(true),
            Err(refused) => Err(refused.into()),
        }
    }

    /// The write that records a cancellation request in `record`'s run and
    /// cancels its pending timers, with the run's history for
    /// [`Inner::after_cancel`]. It is refused if the run was reset, if a
    /// timer it cancels fired meanwhile, or if another cancellation was
    /// recorded first (`CancelAlreadyRequested`).
    pub(super) fn cancel_op(
        &self,
        record: &ExecutionRecord,
        reason: &str,
    ) -> Result<(Op, Vec<Event>), EngineError> {
        let history = self.run_history(record)?;
        let mut events = vec![EventKind::CancelRequested {
            reason: reason.to_owned(),
        }];
        let mut rows = Vec::new();
        for (handle, due) in pending_timers(&history) {
            events.push(EventKind::TimerCancelled { handle });
            rows.push((due, handle));
        }
        let mut op = Op::append(&record.id, self.clock.now_ms(), events);
        if let Op::Append {
            timers_remove,
            expect_resets,
            ..
        } = &mut op
        {
            *timers_remove = rows;
            *expect_resets = Some(record.resets);
        }
        Ok((op, history))
    }

    /// What follows a recorded cancellation request: the run's activities
    /// are stopped, the execution woken, and its children asked to cancel.
    pub(super) async fn after_cancel(
        self: &Arc<Self>,
        record: &ExecutionRecord,
        history: &[Event],
    ) {
        let id = &record.id;
        for task in super::activities::pending(id, record.resets, history) {
            self.stop_activity(id, task.epoch, task.handle);
        }
        self.wake(id);
        // Children started to be abandoned at a cancellation are not
        // asked (the code completes their handles when it sees it).
        for (handle, child, _) in crate::model::pending_children(history) {
            let cancellation = crate::model::child_cancellation(history, handle);
            if !crate::model::CancellationType::child_steps(cancellation).0 {
                continue;
            }
            self.ask_to_cancel(
                &child,
                &(id.clone(), record.resets, handle),
                "its parent was cancelled",
            )
            .await;
        }
    }

    /// Ends an execution at once; no workflow code runs.
    pub(super) fn terminate<'a>(
        self: &'a Arc<Self>,
        id: &'a ExecutionId,
        reason: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), EngineError>> + Send + 'a>> {
        self.terminate_if(id, reason, None)
    }

    /// [`Inner::terminate`], only while timer row `require_timer` is armed
    /// (a deadline that a new run or a reset did not move).
    pub(super) fn terminate_if<'a>(
        self: &'a Arc<Self>,
        id: &'a ExecutionId,
        reason: &'a str,
        require_timer: Option<(u64, u64)>,
    ) -> Pin<Box<dyn Future<Output = Result<(), EngineError>> + Send + 'a>> {
        Box::pin(async move {
            self.terminate_once(id, reason, require_timer, None, false, None)
                .await
                .map(drop)
        })
    }

    /// [`Inner::terminate_if`], recorded once under `once` (see
    /// [`Inner::cancel_once`]): `true` if it was recorded before. With
    /// `current`, the execution is named, not the run read: one that ended
    /// before the write (continued as new, reset) is read again and the
    /// run current then is ended. With `child`, only while `id` is that
    /// parent's child (as for [`Inner::cancel_once`]): a parent-close
    /// policy, which a reset of the parent undoes.
    pub(super) fn terminate_once<'a>(
        self: &'a Arc<Self>,
        id: &'a ExecutionId,
        reason: &'a str,
        require_timer: Option<(u64, u64)>,
        once: Option<OnceKey>,
        current: bool,
        child: Option<&'a (ExecutionId, u32, u64)>,
    ) -> Pin<Box<dyn Future<Output = Result<bool, EngineError>> + Send + 'a>> {
        Box::pin(async move {
            let mut attempts = 0;
            loop {
                let record = self.open_record(id)?;
                if child.is_some_and(|link| !linked(&record, link)) {
                    tracing::debug!(execution = %id, "child not terminated: its link names another run or command of the parent (a reset kept it, or the id was started again)");
                    return Ok(false);
                }
                crate::pause::point("terminate-before-write").await;
                let mut ops = self.termination(&record, reason, require_timer, once.clone());
                if let Some(Op::Append { expect_link, .. }) = ops.first_mut() {
                    *expect_link = child.cloned();
                }
                match self.store.write(ops).await? {
                    Ok(()) => {}
                    Err(OpError::AlreadyRecorded(_)) => return Ok(true),
                    Err(OpError::Stale(_))
                        if (current || child.is_some()) && attempts < CANCEL_ATTEMPTS =>
                    {
                        attempts += 1;
                        tracing::debug!(execution = %id, "the terminated run ended meanwhile; read again");
                        continue;
                    }
                    Err(OpError::Stale(_)) => {
                        return Err(EngineError::Conflict(format!(
                            "execution {id} changed (it closed, continued as new or was reset) \
                             while it was being terminated; look at it again and retry if it \
                             still runs"
                        )))
                    }
                    Err(e) => return Err(e.into()),
                }
                self.terminated(&record, reason).await;
                return Ok(false);
            }
        })
    }

    /// The ops that terminate `record`'s run, its parent told: only while
    /// timer row `require_timer` is armed, and recorded once under `once`.
    /// The run read is the one terminated: one that closed, continued as
    /// new or was reset since is left as it is (the write is refused).
    pub(super) fn termination(
        &self,
        record: &ExecutionRecord,
        reason: &str,
        require_timer: Option<(u64, u64)>,
        once: Option<OnceKey>,
    ) -> Vec<Op> {
        let mut op = Op::append(
            &record.id,
            self.clock.now_ms(),
            vec![EventKind::ExecutionTerminated {
                reason: reason.to_owned(),
            }],
        );
        if let Op::Append {
            close,
            expect_resets,
            owed_from_history,
            require_timer: require,
            once_key,
            ..
        } = &mut op
        {
            *once_key = once;
            *close = Some(Close::Terminated(reason.to_owned()));
            // What the run owes its children is read with the write: a
            // child its task started after `record` was read is owed too.
            *owed_from_history = true;
            *expect_resets = Some(record.resets);
            *require = require_timer;
        }
        let mut ops = vec![op];
        ops.extend(self.parent_op(record, Err(Failure::new("terminated", reason))));
        ops
    }

    /// What follows a termination of `record`'s run once it is written:
    /// its activities stop, its instance and its parent are woken, and
    /// what the run owes its children is settled.
    pub(super) async fn terminated(self: &Arc<Self>, record: &ExecutionRecord, reason: &str) {
        let id = &record.id;
        tracing::info!(execution = %id, %reason, "execution terminated");
        crate::metrics::get().closed(record.workflow_type.as_str(), "terminated");
        self.stop_activities(id, record.resets);
        // An instance in memory stops at its next wait (its writes are refused).
        self.reload(id);
        if let Some(parent) = &record.parent {
            self.wake(&parent.id);
        }
        self.settled_changed(id);
        self.updates.send_modify(|n| *n += 1);
        // Read back: it was decided inside the write.
        let read =
            crate::store::StoreError::fail_point("owed-read").and_then(|()| self.store.owed(id));
        match read {
            Ok(owed) => self.settle_children(id, !owed.is_empty()).await,
            Err(e) => {
                tracing::warn!(execution = %id, error = %e, "could not read what the run owes its children; reading it again");
                self.settle_later(id);
            }
        }
    }
}

/// What a start did.
#[derive(Debug, Clone)]
pub struct Started {
    pub id: ExecutionId,
    /// The run of the id it started, or found.
    pub run: u32,
    /// False when a repeated request id found the run it had started.
    pub created: bool,
    /// With [`StartOptions::signal`]: its event's index, when it was
    /// written with the start.
    pub(crate) signal_index: Option<u64>,
}

/// Timers started and neither fired nor cancelled: `(handle, due)`.
pub(super) fn pending_timers(history: &[Event]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for e in history {
        match &e.event {
            EventKind::TimerStarted {
                handle, fire_at_ms, ..
            } => out.push((*handle, *fire_at_ms)),
            EventKind::TimerFired { handle } | EventKind::TimerCancelled { handle } => {
                out.retain(|(h, _)| h != handle)
            }
            _ => {}
        }
    }
    out
}

impl Engine {
    /// Starts an execution. A request id seen within the retention window
    /// answers with the run it started (with or without a chosen id, in any
    /// state). An id that is running is a conflict; an id whose execution
    /// closed is reused per `opts.reuse`.
    pub async fn start_with(
        &self,
        workflow_type: &str,
        input: Payload,
        opts: StartOptions,
    ) -> Result<Started, EngineError> {
        self.inner.check_payload("the input", &input)?;
        if !opts.search_attributes.is_empty() || !opts.memo.is_empty() {
            let empty = Default::default();
            let set_search = opts
                .search_attributes
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect();
            let set_memo = opts
                .memo
                .iter()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect();
            self.inner
                .search_types
                .check_change(
                    (&empty, &Default::default()),
                    Some(&set_search),
                    Some(&set_memo),
                )
                .map_err(|e| EngineError::BadRequest(e.to_string()))?;
        }
        // Up to 1,000: start request ids were kept unchecked before.
        EngineError::check_request_id("start", opts.request_id.as_deref(), 1_000)?;
        let (record, started) = self.inner.new_run(workflow_type, input, &opts)?;
        let id = record.id.clone();
        // The dedupe window is the type's retention: the request is
        // remembered as long as the execution it started is kept. Not read,
        // the start is refused (the host's would be shorter than the type's).
        let retention_ms = match opts.request_id {
            Some(_) => self.inner.retention_ms(workflow_type)?,
            None => 0,
        };
        let request = opts.request_id.as_ref().map(|r| StartRequest {
            // One request is one start, whether a retry repeats the id it
            // gave or leaves it out.
            key: format!("{workflow_type}\0{r}"),
            legacy_key: format!(
                "{workflow_type}\0{}\0{r}",
                opts.id.as_deref().unwrap_or_default()
            ),
            retention_ms,
        });
        // A request already seen answers with the run it started, whatever
        // the id holds now (a later run, another start's run).
        if let Some(req) = &request {
            if let Some((seen, run)) = self
                .inner
                .store
                .start_request(req, self.inner.clock.now_ms())?
            {
                return Ok(Started {
                    id: seen.parse()?,
                    run,
                    created: false,
                    signal_index: None,
                });
            }
        }
        // A generated id is new: the write alone refuses the rare clash.
        let given = opts.id.is_some();
        if let Some(existing) = given
            .then(|| self.inner.store.execution(&id))
            .transpose()?
            .flatten()
        {
            if !existing.status.is_closed() {
                // A run started before request ids were kept apart.
                if opts.request_id.is_some() && existing.request_id == opts.request_id {
                    return Ok(Started {
                        id,
                        run: existing.run,
                        created: false,
                        signal_index: None,
                    });
                }
                return Err(EngineError::Conflict(format!(
                    "execution {id} is {} (run {}): a workflow id is unique among running \
                     executions; pass the same request id to make a retried start safe",
                    existing.status, existing.run
                )));
            }
        }
        let reuse = match opts.reuse {
            IdReusePolicy::AllowDuplicate => Reuse::IfClosed,
            IdReusePolicy::AllowDuplicateFailedOnly => Reuse::IfNotCompleted,
            IdReusePolicy::RejectDuplicate => Reuse::Never,
        };
        let created = Created::default();
        let mut ops = vec![Op::CreateExecution {
            record: Box::new(record),
            started: started.clone(),
            reuse,
            request,
            created: Some(created.clone()),
        }];
        let signalled = opts.signal.is_some();
        let placed = crate::store::Placed::default();
        if let Some((event, once)) = opts.signal {
            let mut op = Op::append(&id, self.inner.clock.now_ms(), vec![event]);
            if let Op::Append {
                once_key,
                placed: at,
                ..
            } = &mut op
            {
                *once_key = once;
                *at = Some(placed.clone());
            }
            ops.push(op);
        }
        let out = self.inner.store.write(ops).await?;
        match out {
            Ok(()) => {}
            // The signal's request id was recorded under the id (by a run
            // that closed since): nothing was written, and the signal's
            // own path answers it.
            Err(OpError::AlreadyRecorded(_)) if signalled => {
                return Err(EngineError::Conflict(format!(
                    "execution {id} was signalled with this request id already"
                )))
            }
            Err(OpError::DuplicateRequest { id, run, .. }) => {
                return Ok(Started {
                    id: id.parse()?,
                    run,
                    created: false,
                    signal_index: None,
                })
            }
            Err(OpError::ExecutionExists(_)) => {
                return Err(EngineError::Conflict(format!(
                    "execution {id} exists and its id reuse policy ({:?}) does not allow a new run",
                    opts.reuse
                )))
            }
            Err(e) => return Err(e.into()),
        }
        // Tests stop here to drop the request (its client gone) between
        // the commit and the load.
        crate::pause::point("start-committed").await;
        // The instance loads on what was written, read back by nobody (with
        // a signal too, it reads its history).
        let written = created.get().filter(|_| !signalled);
        let run = match &written {
            Some(w) => {
                self.inner.arm_deadlines_of(w);
                w.run
            }
            None => {
                self.inner.arm_deadlines(&id);
                self.inner.store.execution(&id)?.map_or(1, |r| r.run)
            }
        };
        self.inner.load_created(&id, written, &started);
        tracing::info!(execution = %id, %workflow_type, "execution started");
        Ok(Started {
            id,
            run,
            created: true,
            signal_index: placed.position().map(|p| p.first),
        })
    }

    /// Requests cancellation: the workflow sees it at its next wait and may
    /// clean up before it ends as cancelled. With `request_id`, done once
    /// under the id (see [`Engine::once_key`]): `true` if it was done
    /// before, and nothing is done again.
    pub async fn cancel(
        &self,
        id: &str,
        reason: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<bool, EngineError> {
        let Some((record, once)) = self.first_time(id, "cancel", request_id).await? else {
            return Ok(true);
        };
        let done = self
            .inner
            .cancel_once(
                &record.id,
                reason.unwrap_or("cancelled by an operator"),
                once.clone(),
                None,
            )
            .await;
        self.done_before(&record.id, once, done)
    }

    /// Ends the execution at once, recorded with the reason; `request_id`
    /// as for [`Engine::cancel`].
    pub async fn terminate(
        &self,
        id: &str,
        reason: Option<&str>,
        request_id: Option<&str>,
    ) -> Result<bool, EngineError> {
        let Some((record, once)) = self.first_time(id, "terminate", request_id).await? else {
            return Ok(true);
        };
        let reason = reason.unwrap_or("terminated by an operator");
        let done = self
            .inner
            .terminate_once(&record.id, reason, None, once.clone(), true, None)
            .await;
        self.done_before(&record.id, once, done)
    }

    /// `done`, unless it is a refusal and the request's key is recorded
    /// now: a copy of the request that was on its way when this one was
    /// checked did it (the execution it closed refused this one), and the
    /// retry is answered as a duplicate.
    fn done_before(
        &self,
        id: &ExecutionId,
        once: Option<OnceKey>,
        done: Result<bool, EngineError>,
    ) -> Result<bool, EngineError> {
        match (done, once) {
            (Err(e), Some((key, _))) => match self.inner.store.once_key_seen(id, &key) {
                Ok(true) => Ok(true),
                _ => Err(e),
            },
            (done, _) => done,
        }
    }

    /// The key a request with `request_id` is recorded once under
    /// (`@{kind}/{request_id}`: not an execution id's shape, so no request
    /// another execution sends, `<sender>/...`, has it): kept under the
    /// execution id (across the executions started under it) for the
    /// retention of `workflow_type`, so that a retry after the first ended
    /// the execution and a start reused the id does not reach the new one.
    pub(super) fn once_key(
        &self,
        workflow_type: &str,
        kind: &str,
        request_id: Option<&str>,
    ) -> Result<Option<OnceKey>, EngineError> {
        let Some(r) = request_id else {
            return Ok(None);
        };
        let retention = self.inner.retention_ms(workflow_type)?;
        let forget_at = self.inner.clock.now_ms().saturating_add(retention);
        Ok(Some((format!("@{kind}/{r}"), forget_at)))
    }

    /// The execution `id` names and the key a `what` request with
    /// `request_id` is recorded once under; `None` when a request with that
    /// id was recorded already (nothing is to be done again).
    async fn first_time(
        &self,
        id: &str,
        what: &str,
        request_id: Option<&str>,
    ) -> Result<Option<(ExecutionRecord, Option<OnceKey>)>, EngineError> {
        let record = self.execution(id)?;
        EngineError::check_request_id(what, request_id, 200)?;
        let once = self.once_key(record.workflow_type.as_str(), what, request_id)?;
        if let Some((key, _)) = &once {
            if self.inner.store.once_key_seen(&record.id, key)? {
                return Ok(None);
            }
        }
        crate::pause::point("request-checked").await;
        Ok(Some((record, once)))
    }
}

/// A key an append is recorded once under, and when it is forgotten (see
/// `Op::Append::once_key`).
pub(crate) type OnceKey = (String, u64);

/// Whether `record` is the child its parent started as `(parent, epoch,
/// handle)`.
fn linked(record: &ExecutionRecord, (parent, epoch, handle): &(ExecutionId, u32, u64)) -> bool {
    record
        .parent
        .as_ref()
        .is_some_and(|p| (&p.id, p.epoch, p.handle) == (parent, *epoch, *handle))
}
