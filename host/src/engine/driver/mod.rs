//! The live side of a workflow's imports. A [`Driver`] answers one instance
//! of one execution: commands go through the [`Replayer`]; at each `wait` the
//! workflow task's new commands are committed (grouped with other
//! executions') before anything they start is dispatched and before the next
//! event is delivered, so a crash loses at most uncommitted guest computation.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use super::activities::{self, ActivityTask};
use super::error::Stop;
use super::lifecycle::StartOptions;
use super::replay::{Command, Delivered, Misuse, ReplayError, Replayer, Target};
use super::{Inner, Msg, PendingRequest, RequestKind};
use crate::model::{
    ActivityOptions, CancellationType, Event, EventKind, ExecutionId, Failure, ModuleHash,
    ParentClosePolicy, ParentLink, Payload,
};
use crate::store::{Op, OpError, Placed, Reuse, TimerRow};
use crate::wasm::{
    Delivery, External, HostStop, LogLevel, Request, UpdateRequest, WorkflowHost, WorkflowInfo,
};

mod cancel;
mod commands;

pub(super) use commands::Flush;

type Reply = oneshot::Sender<Result<Payload, Failure>>;

pub(super) struct Driver {
    inner: Arc<Inner>,
    id: ExecutionId,
    /// The module this run executes; writes are refused once the execution
    /// is moved to another.
    module: ModuleHash,
    /// The execution's reset count at load; writes are refused after a reset.
    resets: u32,
    /// The index of this run's first event.
    run_start: u64,
    /// Which run of the id this is (from 1): part of the identities its
    /// commands make.
    run: u32,
    info: WorkflowInfo,
    pub(super) replayer: Replayer,
    mailbox: mpsc::UnboundedReceiver<super::mailbox::Mail>,
    /// Queries and validations waiting for the workflow's next wait.
    requests: VecDeque<PendingRequest>,
    /// The request the guest is answering now: commands are refused meanwhile.
    pub(super) serving: Option<(u64, Reply)>,
    next_request: u64,
    /// When the guest got its last delivery (or loaded), until its workflow
    /// task ends: its commands are committed or it blocks.
    task_started: Option<Instant>,
    /// Input bytes of the commands issued since the last commit.
    task_bytes: usize,
    /// Held while the instance loads or runs a task, not while it waits
    /// idle for a message: time skipping waits for it.
    pub(super) busy: Option<super::skip::BusyGuard>,
    /// The replayer holds every event committed up to its own last write
    /// or read, and no message came since: nothing to read. Every other
    /// writer wakes the execution after its commit, and that message
    /// clears it.
    pub(super) synced: bool,
}

fn stop(e: impl Into<Stop>) -> HostStop {
    HostStop(Box::new(e.into()))
}

impl Driver {
    pub(super) fn new(
        inner: Arc<Inner>,
        id: ExecutionId,
        module: ModuleHash,
        (resets, run_start, run): (u32, u64, u32),
        info: WorkflowInfo,
        replayer: Replayer,
        mailbox: mpsc::UnboundedReceiver<super::mailbox::Mail>,
    ) -> Self {
        // A load that replays is not a workflow task until it catches up.
        let task_started = (!replayer.replaying()).then(Instant::now);
        Self {
            inner,
            id,
            module,
            resets,
            run_start,
            run,
            info,
            replayer,
            mailbox,
            requests: VecDeque::new(),
            serving: None,
            next_request: 1,
            task_started,
            task_bytes: 0,
            busy: None,
            synced: false,
        }
    }

    /// Admits a new command (one the history does not hold) under the
    /// host's limits, before anything of it is kept: its input against
    /// `--max-payload-kb`, the task's inputs together against
    /// `--max-task-kb`, and the pending activities or children against
    /// `--max-pending`. Recorded commands are not checked again: a limit
    /// lowered later must not stall a replay of what it once allowed. A
    /// refusal stalls the execution with the reason and records nothing.
    fn admit(&mut self, what: &str, input: usize, pending: Option<usize>) -> Result<(), HostStop> {
        if self.replayer.replaying() {
            return Ok(());
        }
        let c = &self.inner.config;
        if input > c.max_payload_bytes {
            return Err(stop(Stop::Limit(format!(
                "the input of {what} is {input} bytes, over the limit of {} bytes \
                 (--max-payload-kb): pass a reference to the data instead",
                c.max_payload_bytes
            ))));
        }
        let total = self.task_bytes.saturating_add(input);
        if total > c.max_task_bytes {
            return Err(stop(Stop::Limit(format!(
                "one workflow task's commands take {total} bytes with {what}, over the limit of \
                 {} bytes (--max-task-kb): start fewer or smaller commands per step",
                c.max_task_bytes
            ))));
        }
        if let Some(n) = pending {
            if n >= c.max_pending {
                return Err(stop(Stop::Limit(format!(
                    "{what} would make {} pending, over the limit of {} (--max-pending): \
                     wait for some to end first",
                    n + 1,
                    c.max_pending
                ))));
            }
        }
        self.task_bytes = total;
        Ok(())
    }

    /// Refuses a command while the guest answers a read-only request.
    fn check_not_serving(&self, what: &str) -> Result<(), HostStop> {
        match &self.serving {
            Some(_) => Err(stop(Stop::Request(format!(
                "a query or update validator tried to {what}; they are read-only"
            )))),
            None => Ok(()),
        }
    }

    /// Drops every request still queued: the run is ending, and each
    /// caller sends its request again (to the next instance, or it finds
    /// the run closed). No answer is the host's word: a failure, whatever
    /// its kind, is the code's.
    pub(super) fn drop_requests(&mut self) {
        self.requests.clear();
    }

    fn accept(&mut self, msg: Msg) {
        match msg {
            Msg::Request(r) => {
                self.synced = false;
                self.requests.push_back(r);
            }
            Msg::Wake => self.synced = false,
            Msg::Appended(appended) => self.take_appended(appended),
        }
    }

    /// Events another writer appended, with their indices: taken as they
    /// are when they follow what the replayer holds (no read), ignored when
    /// it holds them already; after a gap, or with a read due anyway, the
    /// next wait reads the history.
    fn take_appended(&mut self, appended: super::Appended) {
        if !self.synced {
            return;
        }
        // Appended in another epoch or run: its indices may hold other
        // events now.
        if (appended.epoch, appended.run_start) != (self.resets, self.run_start) {
            self.synced = false;
            return;
        }
        let events = appended.events;
        // A move to another module is read by the next wait, which loads
        // again on it.
        if events.iter().any(|e| self.moved_by(e)) {
            self.synced = false;
            return;
        }
        let next = self.run_start + self.replayer.len();
        match events.first().map(|e| e.index) {
            Some(first) if first == next => self.replayer.extend(events),
            Some(first) if first < next => {}
            _ => self.synced = false,
        }
    }

    /// Reads events other writers (activities, timers) appended since the
    /// last sync.
    fn sync(&mut self) -> Result<(), Stop> {
        let events = self
            .inner
            .store
            .history(&self.id, self.run_start + self.replayer.len())?;
        // Moved to another module (an upgrade) since this instance loaded:
        // it answers nothing more (an update's validator, a query) and
        // loads again on the module the execution runs now, before the
        // upgrade tells it to.
        if events.iter().any(|e| self.moved_by(e)) {
            return Err(Stop::Reload);
        }
        self.replayer.extend(events);
        self.synced = true;
        Ok(())
    }

    /// Whether `event` moves the execution off this instance's module.
    fn moved_by(&self, event: &crate::model::Event) -> bool {
        matches!(&event.event, crate::model::EventKind::ExecutionUpgraded { to, .. } if *to != self.module)
    }

    /// Commits the commands issued since the last wait, then starts what they
    /// ask for: nothing is dispatched before it is durable.
    fn task_ended(&mut self) {
        if let Some(t) = self.task_started.take() {
            crate::metrics::get().workflow_task.observe(t.elapsed());
        }
    }

    /// `waits`: the code is blocked once these commands are recorded (the
    /// wait found nothing to deliver), as opposed to a flush before a
    /// delivery it goes on with.
    async fn flush(&mut self, waits: bool) -> Result<(), Stop> {
        // Not before the history's last event (the store would stamp the
        // task's events so anyway): a timer it starts counts its duration
        // from the time it is recorded at, whatever this host's clock reads.
        let now = self.inner.clock.now_ms().max(self.replayer.last_at_ms());
        let length = self.replayer.known_length();
        // The task's new commands count before they are written.
        let bytes = self.replayer.known_bytes() + self.task_bytes as u64;
        let limits = &self.inner.config;
        if length > limits.history_max_events || bytes > limits.history_max_bytes {
            return Err(Stop::HistoryLimit(format!(
                "the history of this run reached {length} events and {bytes} bytes, over the \
                 limit of {} events or {} bytes: the workflow should continue as new \
                 (history-info tells it when)",
                limits.history_max_events, limits.history_max_bytes
            )));
        }
        let Flush {
            batch: mut last,
            mut tasks,
            timers,
            cancels,
            timers_remove: cancelled_timers,
        } = self.new_command_events(now).map_err(Stop::Store)?;
        if last.events.is_empty() {
            return Ok(());
        }
        let updated = last
            .events
            .iter()
            .any(|e| matches!(e, EventKind::UpdateCompleted { .. }));
        if crate::pause::fails("task-commit") {
            let e = "injected by WEFT_FAIL_AT=task-commit".to_owned();
            return Err(Stop::Store(crate::store::StoreError::Io(e)));
        }
        crate::pause::point("task-before-commit").await;
        if !last.children.is_empty() {
            crate::pause::point("child-start-before-commit").await;
        }
        // The task's events and its children commit together or not at all.
        let placed = Placed::default();
        let next = self.run_start + self.replayer.len();
        let mut saw = None;
        let written = last
            .write(&self.inner, |events| {
                // A blocked task whose own events complete nothing (a child
                // whose id was taken, a timer cancelled now, would be
                // delivered at once) leaves the run waiting after them, if
                // it saw the whole history (`Event::waits`).
                saw = (waits && events.iter().all(|e| e.completion_handle().is_none()))
                    .then_some(next);
                let mut op = Op::append(&self.id, now, events.to_vec());
                if let Op::Append {
                    timers_add,
                    timers_remove,
                    expect_module,
                    expect_resets,
                    placed: at,
                    task_saw,
                    ..
                } = &mut op
                {
                    timers_add.extend(timers.iter().map(|t| (t.due_ms, t.handle)));
                    timers_remove.clone_from(&cancelled_timers);
                    *expect_module = Some(self.module);
                    *expect_resets = Some(self.resets);
                    *at = Some(placed.clone());
                    *task_saw = saw;
                }
                vec![op]
            })
            .await?;
        // Upgraded, reset, closed meanwhile: the load decides.
        if written.is_err() {
            return Err(Stop::Reload);
        }
        let TaskBatch {
            events,
            children,
            child_cancels,
            externals,
        } = last;
        // The run's length right after this commit: an activity it
        // scheduled, and did not complete in it, asks no more of the store
        // while the history is still that long.
        if let Some(p) = placed.position() {
            let after = p.first + events.len() as u64;
            for task in &mut tasks {
                if !events
                    .iter()
                    .any(|e| e.completion_handle() == Some(task.handle))
                {
                    task.history_after = Some(after);
                }
            }
        }
        // The task's events follow what the replayer holds (nobody appended
        // in between): they are its history now, with no read back, marked
        // as the store marked them. Otherwise the next wait reads them with
        // the others'.
        let placed_at = placed.position().filter(|p| p.first == next);
        if let Some(at) = placed_at.filter(|_| !events.is_empty()) {
            let last = next + events.len() as u64 - 1;
            let waits = saw.is_some();
            self.replayer.extend(
                (next..)
                    .zip(events)
                    .map(|(index, event)| {
                        Event {
                            index,
                            at_ms: at.at_ms,
                            event,
                            waits: waits && index == last,
                        }
                        .as_stored()
                    })
                    .collect(),
            );
        } else {
            self.synced = false;
        }
        // Committed, nothing dispatched yet: a reset or a close landing here
        // must keep the task's activities from starting.
        crate::pause::point("task-committed").await;
        if !child_cancels.is_empty() {
            // Tests stop here to kill the host before it asks a child.
            crate::pause::point("child-cancel-committed").await;
        }
        self.task_bytes = 0;
        for target in &cancels {
            self.inner.stop_activity(&self.id, self.resets, *target);
        }
        for child in child_cancels {
            self.cancel_child(child);
        }
        for request in externals {
            self.inner.spawn_delivery(request);
        }
        load_children(&self.inner, &children);
        if updated {
            self.inner.updates.send_modify(|n| *n += 1);
        }
        for mut task in tasks {
            // Cancelled in the task that started it: no attempt begins, and
            // its handle completes `cancelled` at once (as the same history
            // is resumed after a restart). The stop above found no runner.
            task.cancelled = cancels.contains(&task.handle);
            activities::spawn(self.inner.clone(), task);
        }
        for row in timers {
            self.inner.arm_timer(row);
        }
        Ok(())
    }

    async fn wait_for(&mut self, handles: Vec<u64>) -> Result<Delivery, Stop> {
        if self.serving.is_some() {
            return Err(Stop::Request(
                "a query or update validator waited instead of answering".into(),
            ));
        }
        loop {
            if self.inner.take_reload(&self.id) {
                return Err(Stop::Reload);
            }
            if !self.synced {
                self.sync()?;
            }
            if let Some(d) = self
                .replayer
                .next_delivery(&handles)
                .map_err(ReplayError::from)?
            {
                self.flush(false).await?;
                self.task_ended();
                if let Some(at) = self.replayer.take_live_signal_at() {
                    let waited = self.inner.clock.now_ms().saturating_sub(at);
                    crate::metrics::get()
                        .signal_delivery
                        .observe(Duration::from_millis(waited));
                }
                self.task_started = (!self.replayer.replaying()).then(Instant::now);
                return Ok(match d {
                    Delivered::Completion(c) => Delivery::Completed(c),
                    Delivered::Update {
                        update_id,
                        name,
                        input,
                    } => Delivery::Update(UpdateRequest {
                        update_id,
                        name,
                        input,
                    }),
                    Delivered::Cancel { reason } => {
                        self.cancel_pending().await?;
                        Delivery::Cancelled(reason)
                    }
                });
            }
            self.replayer
                .check_blocking(&handles)
                .map_err(ReplayError::from)?;
            if self.replayer.has_new_commands() {
                self.flush(true).await?;
                continue;
            }
            self.task_ended();
            // Caught up and blocked: the state is current, so answer requests.
            if let Some(r) = self.requests.pop_front() {
                *r.seen.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((self.resets, self.run_start + self.replayer.len()));
                let id = self.next_request;
                self.next_request += 1;
                self.serving = Some((id, r.reply));
                let request = Request {
                    id,
                    name: r.name,
                    input: r.input,
                };
                return Ok(match r.kind {
                    RequestKind::Query => Delivery::Query(request),
                    RequestKind::Validate => Delivery::Validate(request),
                });
            }
            // Idle: wait for a message; evict after `evict_after`, or at
            // once when another execution waits for an instance slot.
            self.busy = None;
            let idle = async {
                // Loads wait for a slot: give this one up now.
                if self.inner.slots_wanted() {
                    return None;
                }
                tokio::select! {
                    m = self.mailbox.recv() => Some(m),
                    _ = tokio::time::sleep(self.inner.config.evict_after) => None,
                    _ = self.inner.budget.pressure.notified() => None,
                }
            };
            let msg = match idle.await {
                Some(Some(m)) => m,
                Some(None) => return Err(Stop::Evicted),
                None => match self.inner.try_evict(&self.id, &mut self.mailbox) {
                    None => return Err(Stop::Evicted),
                    Some(m) => m,
                },
            };
            // The step counts before the message's own count ends.
            self.busy = self.inner.busy_step();
            self.accept(msg.open());
            while let Ok(m) = self.mailbox.try_recv() {
                self.accept(m.open());
            }
        }
    }
}

/// A task's events with the children it starts, the children it asks to
/// cancel and its requests to other executions: written together, a child
/// whose id another start took after the check recorded as not started
/// instead.
#[derive(Default)]
pub(super) struct TaskBatch {
    pub events: Vec<EventKind>,
    /// Each child's `CreateExecution` and its id.
    pub children: Vec<(Op, String)>,
    /// Children to ask to cancel (the handle that started each, its id).
    pub child_cancels: Vec<(u64, String)>,
    /// Requests to other executions, kept in the outbox with the events.
    pub externals: Vec<crate::store::ExternalRequest>,
}

impl TaskBatch {
    /// Writes the ops `build` makes of the events, with the children's
    /// creations and the requests to other executions, in one batch.
    /// Another start took a child's id after the check: that child did not
    /// start, which the events record instead (and no cancel goes to that
    /// id), and the batch is written again. Any other refusal is the
    /// caller's.
    pub(super) async fn write(
        &mut self,
        inner: &Inner,
        mut build: impl FnMut(&[EventKind]) -> Vec<Op>,
    ) -> Result<Result<(), OpError>, crate::store::StoreError> {
        loop {
            let mut ops = build(&self.events);
            ops.extend(self.children.iter().map(|(op, _)| op.clone()));
            if !self.externals.is_empty() {
                ops.push(Op::OutboxAdd {
                    requests: self.externals.clone(),
                });
            }
            match inner.store.write(ops).await? {
                // A child's id taken meanwhile, here or (a store of several
                // partitions) in another partition: the child is not
                // started, as for an id taken before.
                Err(e @ (OpError::ExecutionExists(_) | OpError::InAnotherPartition { .. })) => {
                    let taken = match &e {
                        OpError::ExecutionExists(id) | OpError::InAnotherPartition { id, .. } => {
                            id.clone()
                        }
                        _ => unreachable!("matched above"),
                    };
                    let Some(at) = self.children.iter().position(|(_, id)| *id == taken) else {
                        return Ok(Err(e));
                    };
                    self.children.remove(at);
                    not_started(&mut self.events, &taken);
                    self.child_cancels.retain(|(_, c)| *c != taken);
                }
                other => return Ok(other),
            }
        }
    }
}

/// Each child loads on what the commit that created it wrote, read back by
/// nobody.
pub(super) fn load_children(inner: &Arc<Inner>, children: &[(Op, String)]) {
    for (op, _) in children {
        if let Op::CreateExecution {
            record,
            started,
            created,
            ..
        } = op
        {
            let written = created.as_ref().and_then(|c| c.get());
            inner.load_created(&record.id, written, started);
        }
    }
}

/// Records, right after its `child_started`, that the child `id` did not
/// start because its id was taken.
fn not_started(events: &mut Vec<EventKind>, id: &str) {
    let Some(at) = events
        .iter()
        .position(|e| matches!(e, EventKind::ChildStarted { child_id, .. } if child_id == id))
    else {
        return;
    };
    let EventKind::ChildStarted { handle, .. } = events[at] else {
        return;
    };
    events.insert(
        at + 1,
        EventKind::ChildCompleted {
            handle,
            child_id: id.to_owned(),
            output: None,
            failure: Some(commands::already_started(id)),
        },
    );
}

impl WorkflowHost for Driver {
    fn start_activity(
        &mut self,
        name: String,
        input: Payload,
        options: ActivityOptions,
    ) -> Result<u64, HostStop> {
        self.check_not_serving("start an activity")?;
        let pending = self.replayer.pending_activities();
        self.admit(&format!("activity `{name}`"), input.len(), Some(pending))?;
        self.replayer
            .issue(Command::Activity {
                name,
                input,
                options,
            })
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn cancel_activity(&mut self, target: u64) -> Result<(), HostStop> {
        self.check_not_serving("cancel an activity, a timer or a child")?;
        // A new cancel must name something cancellable (a recorded one is
        // replayed as it was: older hosts recorded any cancel).
        if !self.replayer.replaying() {
            let what = match self.replayer.target(target) {
                None => Some("which this run never issued".to_owned()),
                Some(Target::Other(what)) => Some(format!("which is {what}")),
                Some(_) => None,
            };
            if let Some(what) = what {
                return Err(stop(ReplayError::from(Misuse::NotCancellable(
                    target, what,
                ))));
            }
        }
        self.replayer
            .issue(Command::Cancel { target })
            .map(|_| ())
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn start_timer(&mut self, duration_ms: u64) -> Result<u64, HostStop> {
        self.check_not_serving("start a timer")?;
        self.replayer
            .issue(Command::Timer { duration_ms })
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn patched(&mut self, patch_id: String) -> Result<bool, HostStop> {
        self.check_not_serving("record a patch marker")?;
        self.replayer
            .patched(&patch_id)
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn upsert_search_attributes(
        &mut self,
        changes: crate::model::search::SearchChanges,
    ) -> Result<(), HostStop> {
        self.check_not_serving("set search attributes")?;
        if !self.replayer.replaying() {
            self.inner
                .search_types
                .check_change(self.replayer.search_state(), Some(&changes), None)
                .map_err(|e| stop(Stop::Limit(e.to_string())))?;
        }
        self.replayer
            .issue(Command::UpsertSearch { changes })
            .map(|_| ())
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn search_state(
        &self,
    ) -> (
        crate::model::search::SearchAttributes,
        crate::model::search::Memo,
    ) {
        let (a, m) = self.replayer.search_state();
        (a.clone(), m.clone())
    }

    fn upsert_memo(&mut self, changes: crate::model::search::MemoChanges) -> Result<(), HostStop> {
        self.check_not_serving("set the memo")?;
        let bytes: usize = changes
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, Payload::len))
            .sum();
        self.admit("a memo change", bytes, None)?;
        if !self.replayer.replaying() {
            self.inner
                .search_types
                .check_change(self.replayer.search_state(), None, Some(&changes))
                .map_err(|e| stop(Stop::Limit(e.to_string())))?;
        }
        self.replayer
            .issue(Command::UpsertMemo { changes })
            .map(|_| ())
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn start_child(
        &mut self,
        workflow_type: String,
        input: Payload,
        id: Option<String>,
        policy: ParentClosePolicy,
        reuse: crate::model::IdReusePolicy,
        cancellation: Option<crate::model::CancellationType>,
    ) -> Result<u64, HostStop> {
        self.check_not_serving("start a child workflow")?;
        let pending = self.replayer.pending_children();
        self.admit(
            &format!("child `{workflow_type}`"),
            input.len(),
            Some(pending),
        )?;
        // A child's id is recorded when it starts: in replay the recorded
        // one is used, never recomputed (runs recorded before ids named the
        // run keep theirs). A new one names the run: handles restart at 1 in
        // each run, and two runs' children must not share an id.
        let id = id
            .or_else(|| self.replayer.recorded_child_id())
            .unwrap_or_else(|| {
                activities::default_child_id(&self.id, self.run, self.replayer.next_handle())
            });
        self.replayer
            .issue(Command::StartChild {
                workflow_type,
                id,
                input,
                policy,
                reuse,
                cancellation,
            })
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn continue_as_new(&mut self, input: Payload) -> HostStop {
        if self.serving.is_some() {
            return stop(Stop::Request(
                "a query or update validator tried to continue as new".into(),
            ));
        }
        if let Err(d) = self.replayer.check_continue_as_new() {
            return stop(ReplayError::from(d));
        }
        if let Err(refused) = self.admit("continue-as-new", input.len(), None) {
            return refused;
        }
        stop(Stop::ContinueAsNew(input))
    }

    fn history_info(&self) -> (u64, bool) {
        let length = self.replayer.seen_length();
        (length, length >= self.inner.config.history_warn_events)
    }

    fn receive_signal(&mut self, name: String) -> Result<u64, HostStop> {
        self.check_not_serving("receive a signal")?;
        self.replayer
            .issue(Command::ReceiveSignal { name })
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn send_external(
        &mut self,
        to: External,
        name: String,
        input: Payload,
        cancel: bool,
    ) -> Result<u64, HostStop> {
        self.check_not_serving("send to another execution")?;
        let (target, child) = self
            .replayer
            .external_target(to)
            .map_err(|m| stop(ReplayError::from(m)))?;
        self.replayer
            .issue(Command::External {
                target,
                child,
                name,
                input,
                cancel,
            })
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn activity_failure(&self, handle: u64) -> Option<crate::model::ActivityFailureInfo> {
        self.replayer.activity_failure(handle)
    }

    fn try_receive_signal(&mut self, name: String) -> Result<Option<Payload>, HostStop> {
        self.check_not_serving("receive a signal")?;
        self.replayer
            .try_receive(&name)
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn wait(
        &mut self,
        handles: Vec<u64>,
    ) -> Pin<Box<dyn Future<Output = Result<Delivery, HostStop>> + Send + '_>> {
        Box::pin(async move { self.wait_for(handles).await.map_err(stop) })
    }

    fn respond(&mut self, id: u64, answer: Result<Payload, Failure>) -> Result<(), HostStop> {
        match self.serving.take() {
            Some((serving, reply)) if serving == id => {
                let _ = reply.send(answer);
                Ok(())
            }
            other => {
                self.serving = other;
                Err(stop(ReplayError::from(Misuse::NoRequest)))
            }
        }
    }

    fn complete_update(
        &mut self,
        update_id: String,
        outcome: Result<Payload, Failure>,
    ) -> Result<(), HostStop> {
        self.check_not_serving("complete an update")?;
        self.replayer
            .issue(Command::CompleteUpdate { update_id, outcome })
            .map(|_| ())
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn now_ms(&self) -> u64 {
        self.replayer.now_ms()
    }

    fn random(&mut self) -> u64 {
        self.replayer.random()
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        if self.replayer.replaying() {
            return;
        }
        let id = &self.id;
        let name = match level {
            LogLevel::Trace => "trace",
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        self.inner.logs.push(
            id,
            self.inner.clock.now_ms(),
            "workflow".to_owned(),
            name,
            message,
        );
        match level {
            LogLevel::Trace => {
                tracing::trace!(target: "weft::workflow", execution = %id, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "weft::workflow", execution = %id, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "weft::workflow", execution = %id, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "weft::workflow", execution = %id, "{message}")
            }
            LogLevel::Error => {
                tracing::error!(target: "weft::workflow", execution = %id, "{message}")
            }
        }
    }

    fn info(&self) -> WorkflowInfo {
        self.info.clone()
    }
}
