//! The workflow side: the [`Workflow`] trait, the [`Ctx`] a workflow talks to
//! the host through, and [`export_workflow!`](crate::export_workflow).
//!
//! Everything nondeterministic goes through `Ctx`: activities, timers, time and
//! randomness. The host records each answer, so a replay of the same code over
//! the same history takes the same path.

mod choose;
mod handlers;
mod options;
mod saga;
mod search;

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::rc::Rc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::failure::Failure;

pub use choose::Choose;
#[doc(hidden)]
pub use handlers::{__handlers, __query, __run};
pub use handlers::{Handlers, QueryHandler, SignalChannel};
pub use options::{ActivityOptions, RetryPolicy};
pub use options::{CancellationType, ChildOptions, IdReusePolicy, ParentClosePolicy};
pub use saga::Saga;
pub use search::{datetime_ms, SearchValue};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "weft:workflow/workflow",
        pub_export_macro: true,
        export_macro_name: "__weft_export_workflow_world",
        default_bindings_module: "weft_sdk::workflow::bindings",
    });
}

use bindings::weft::workflow::runtime;

pub use runtime::LogLevel;

/// A workflow type, implemented on the struct that holds its state (start
/// from `Default`). `run` is the body; it gets the decoded input and returns
/// the output (encoded as JSON) or a failure, which ends the execution as
/// `failed`. `handlers` declares the signals it receives and registers its
/// queries and updates.
pub trait Workflow: Default + 'static {
    type Input: DeserializeOwned;
    type Output: Serialize;

    fn run(ctx: &mut Ctx<Self>, input: Self::Input) -> Result<Self::Output, Failure>;

    fn handlers(handlers: &mut Handlers<Self>) {
        let _ = handlers;
    }
}

/// What the host knows about this execution.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowInfo {
    pub workflow_type: String,
    pub execution_id: String,
    /// sha-256 of the module, hex.
    pub module: String,
    /// Workflow time at start, ms since the Unix epoch.
    pub started_at_ms: u64,
}

/// A command started but not yet joined: an activity's output or a timer.
///
/// Join it with [`Ctx::join`], several with [`Ctx::join_all`], or race it with
/// others with [`Ctx::select`]. Commands are committed (and start) at the next
/// join or select: one dropped unjoined still runs if the workflow waits on
/// anything afterwards, but commands issued after the workflow's last wait
/// are recorded with its end and never run.
#[must_use = "a pending command does nothing for the workflow until it is joined"]
#[derive(Debug)]
pub struct Pending<T> {
    handle: u64,
    _out: PhantomData<fn() -> T>,
}

impl<T> Pending<T> {
    fn new(handle: u64) -> Self {
        Pending {
            handle,
            _out: PhantomData,
        }
    }

    /// The host's handle for this command, as the history shows it.
    pub fn handle(&self) -> u64 {
        self.handle
    }
}

/// Something [`Ctx::select`] can race.
pub trait Selectable {
    fn handle(&self) -> u64;
}

impl<T> Selectable for Pending<T> {
    fn handle(&self) -> u64 {
        self.handle
    }
}

pub(crate) type Outcome = Result<Vec<u8>, Failure>;

/// The workflow's door to the host, and the owner of its state `W` (the
/// workflow struct): the main flow reads and changes it between steps with
/// [`Ctx::state`] and [`Ctx::state_mut`], and query and update handlers see
/// the same value when they run at the flow's waits. The borrow checker keeps
/// a reference to the state from living across a step, so handlers never
/// race the main flow.
pub struct Ctx<W: 'static> {
    /// Completions the host delivered before the code asked for them (a select
    /// or a join-all receives them in history order).
    ready: BTreeMap<u64, Outcome>,
    /// How many completions waits have handed to the code: a join-all that
    /// sees more than its own winner across a wait (a handler ran waits of
    /// its own) looks at its handles again.
    completions: u64,
    state: W,
    handlers: Rc<Handlers<W>>,
    /// Set once the host delivered a cancellation request.
    cancel_reason: Option<String>,
    /// The receive armed for each signal handler, by handle: every wait
    /// waits on these too, and runs the handler when one completes.
    handler_receives: BTreeMap<u64, String>,
    /// A signal handler is running: its waits run no other handler, so
    /// handlers run one after another, in the order the signals were sent.
    in_signal_handler: bool,
    /// The handles of the activities started: their failures carry the
    /// host's envelope ([`Failure::activity`]).
    activities: std::collections::BTreeSet<u64>,
}

impl<W: 'static> Ctx<W> {
    pub(crate) fn new(state: W, handlers: Rc<Handlers<W>>) -> Self {
        Ctx {
            ready: BTreeMap::new(),
            completions: 0,
            state,
            handlers,
            cancel_reason: None,
            handler_receives: BTreeMap::new(),
            in_signal_handler: false,
            activities: Default::default(),
        }
    }

    /// Whether a cancellation was requested (`weft cancel`). After it the
    /// workflow may still run activities (to clean up) before it returns;
    /// returning the `cancelled` failure ends it as cancelled.
    pub fn is_cancel_requested(&self) -> bool {
        self.cancel_reason.is_some()
    }

    /// Starts a child workflow of any deployed type and returns at once; join
    /// the pending result like an activity's.
    pub fn start_child<I, O>(
        &mut self,
        workflow_type: &str,
        input: &I,
        options: &ChildOptions,
    ) -> Pending<O>
    where
        I: Serialize + ?Sized,
    {
        let bytes = serde_json::to_vec(input).unwrap_or_else(|e| {
            panic!("the input of child `{workflow_type}` does not serialize to JSON: {e}")
        });
        let reuse = match options.id_reuse_policy {
            options::IdReusePolicy::AllowDuplicate => runtime::IdReusePolicy::AllowDuplicate,
            options::IdReusePolicy::AllowDuplicateFailedOnly => {
                runtime::IdReusePolicy::AllowDuplicateFailedOnly
            }
            options::IdReusePolicy::RejectDuplicate => runtime::IdReusePolicy::RejectDuplicate,
        };
        // The oldest import that says it all, so a module runs on the
        // oldest host that can run it.
        let wit = options.to_wit();
        Pending::new(match (options.cancellation_type, reuse) {
            (Some(c), _) => {
                runtime::start_child_with(workflow_type, &bytes, &wit, reuse, c.to_wit())
            }
            (None, runtime::IdReusePolicy::AllowDuplicate) => {
                runtime::start_child(workflow_type, &bytes, &wit)
            }
            (None, _) => runtime::start_child_with_reuse(workflow_type, &bytes, &wit, reuse),
        })
    }

    /// Runs a child workflow with default options and waits for its result.
    pub fn child<I, O>(&mut self, workflow_type: &str, input: &I) -> Result<O, Failure>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let p = self.start_child(workflow_type, input, &ChildOptions::default());
        self.join(p)
    }

    /// Ends this run and starts the next one of the same workflow id with
    /// `input`, atomically; the history starts afresh. Never returns.
    pub fn continue_as_new<I: Serialize + ?Sized>(&mut self, input: &I) -> ! {
        let bytes = serde_json::to_vec(input)
            .unwrap_or_else(|e| panic!("the continue-as-new input does not serialize: {e}"));
        runtime::continue_as_new(&bytes);
        unreachable!("the host ends the run at continue-as-new")
    }

    /// The length of this run's history as the code has seen it.
    pub fn history_length(&self) -> u64 {
        runtime::history_info().length
    }

    /// True once the run's history passed the host's warning limit: time to
    /// [`Ctx::continue_as_new`].
    pub fn continue_as_new_suggested(&self) -> bool {
        runtime::history_info().continue_as_new_suggested
    }

    /// The workflow's state, as queries see it.
    pub fn state(&self) -> &W {
        &self.state
    }

    pub fn state_mut(&mut self) -> &mut W {
        &mut self.state
    }

    /// Runs an activity with the host's default options and waits for its
    /// output (after retries) or its final failure.
    pub fn activity<I, O>(&mut self, name: &str, input: &I) -> Result<O, Failure>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let p = self.start_activity(name, input);
        self.join(p)
    }

    /// Runs an activity with the given options and waits for it.
    pub fn activity_with<I, O>(
        &mut self,
        name: &str,
        input: &I,
        options: &ActivityOptions,
    ) -> Result<O, Failure>
    where
        I: Serialize + ?Sized,
        O: DeserializeOwned,
    {
        let p = self.start_activity_with(name, input, options);
        self.join(p)
    }

    /// Schedules an activity and returns at once; the host runs it once this
    /// workflow task is committed, which happens at the next join or select.
    pub fn start_activity<I, O>(&mut self, name: &str, input: &I) -> Pending<O>
    where
        I: Serialize + ?Sized,
    {
        self.start_activity_with(name, input, &ActivityOptions::default())
    }

    pub fn start_activity_with<I, O>(
        &mut self,
        name: &str,
        input: &I,
        options: &ActivityOptions,
    ) -> Pending<O>
    where
        I: Serialize + ?Sized,
    {
        let bytes = serde_json::to_vec(input).unwrap_or_else(|e| {
            panic!("the input of activity `{name}` does not serialize to JSON: {e}")
        });
        let handle = match options.cancellation_type {
            Some(c) => runtime::start_activity_with(name, &bytes, &options.to_wit(), c.to_wit()),
            None => runtime::start_activity(name, &bytes, &options.to_wit()),
        };
        self.activities.insert(handle);
        Pending::new(handle)
    }

    /// Cancels what `pending` started, as its [`CancellationType`] says. An
    /// activity (by default `TryCancel`): joining it yields a `cancelled`
    /// failure at once, and the activity learns of the cancellation at its
    /// next heartbeat, with a grace period to clean up; it is never retried.
    /// A timer: it completes at once with a `cancelled` failure (the history
    /// records `timer_cancel_requested` and `timer_cancelled`). A child (by
    /// default `WaitCancellationCompleted`): the child is asked to cancel
    /// (as `weft cancel` would), and joining it yields how the child ended,
    /// `cancelled` when it honoured the request. Cancelling something
    /// already done changes nothing.
    pub fn cancel<T>(&mut self, pending: &Pending<T>) {
        runtime::cancel(pending.handle);
    }

    /// Sends signal `name` with `input` to the running execution `id` (its
    /// current run), as `weft signal` would. The pending value completes
    /// once the signal is recorded there, or with a `not-found` failure
    /// when no execution of that id runs. Recorded first and delivered once,
    /// also across a crash of the host.
    pub fn signal_execution<I: Serialize + ?Sized>(
        &mut self,
        id: &str,
        name: &str,
        input: &I,
    ) -> Pending<()> {
        let bytes = serde_json::to_vec(input).unwrap_or_else(|e| {
            panic!("the input of signal `{name}` does not serialize to JSON: {e}")
        });
        Pending::new(runtime::signal_execution(id, name, &bytes))
    }

    /// [`Ctx::signal_execution`] to the child `child` started.
    pub fn signal_child<T, I: Serialize + ?Sized>(
        &mut self,
        child: &Pending<T>,
        name: &str,
        input: &I,
    ) -> Pending<()> {
        let bytes = serde_json::to_vec(input).unwrap_or_else(|e| {
            panic!("the input of signal `{name}` does not serialize to JSON: {e}")
        });
        Pending::new(runtime::signal_child(child.handle, name, &bytes))
    }

    /// Asks the running execution `id` to cancel, as `weft cancel` would;
    /// completes like [`Ctx::signal_execution`].
    pub fn cancel_execution(&mut self, id: &str, reason: &str) -> Pending<()> {
        Pending::new(runtime::cancel_execution(id, reason))
    }

    /// Starts a durable timer that fires after `d` of workflow time.
    pub fn timer(&mut self, d: Duration) -> Pending<()> {
        Pending::new(runtime::start_timer(options::millis(d)))
    }

    /// Sleeps for `d` of workflow time. Durable: a restart in between does not
    /// restart the wait. Fails only when the workflow is cancelled.
    pub fn sleep(&mut self, d: Duration) -> Result<(), Failure> {
        let t = self.timer(d);
        self.join(t)
    }

    /// The channel of the signals named `name` (declare the name in
    /// [`Workflow::handlers`] too, so the host accepts them). Receive with
    /// [`Ctx::receive`], or race it in [`Ctx::select`]; signals queue up in
    /// the order they were sent until received, none is lost. A name with a
    /// handler ([`Handlers::on_signal`]) has no channel: asking for one
    /// panics (the execution stalls with that reason), since the handler
    /// takes every signal of it.
    pub fn signal_channel<T: DeserializeOwned>(&mut self, name: &str) -> SignalChannel<T> {
        assert!(
            !self.handlers.has_signal_handler(name),
            "signal `{name}` has a handler (on_signal), which takes every one of them: it has no channel"
        );
        SignalChannel::new(name)
    }

    /// Waits for the next signal on `channel` and decodes it (a payload that
    /// does not decode is an `InvalidInput` failure, not a crash).
    pub fn receive<T: DeserializeOwned>(
        &mut self,
        channel: &SignalChannel<T>,
    ) -> Result<T, Failure> {
        let handle = channel.take();
        let bytes = self.take(handle)?;
        decode_signal(channel, &bytes)
    }

    /// Takes the next signal on `channel` without waiting, if this workflow
    /// task already knows it (it arrived before the task's last wait
    /// returned; nothing is read from the store, and the answer is recorded,
    /// so a replay gives the same). `Ok(None)`: none is waiting now. Drain a
    /// channel with it before [`Ctx::continue_as_new`]:
    ///
    /// ```ignore
    /// while let Some(order) = ctx.try_receive(&orders)? {
    ///     pending.push(order);
    /// }
    /// ctx.continue_as_new(&State { pending, ..state });
    /// ```
    ///
    /// A receive that lost a `select` stays armed and keeps its place: its
    /// signal is returned here once delivered. (Signals the run never took
    /// move to the next run in any case.)
    pub fn try_receive<T: DeserializeOwned>(
        &mut self,
        channel: &SignalChannel<T>,
    ) -> Result<Option<T>, Failure> {
        let bytes = match channel.armed() {
            Some(h) => match self.ready.remove(&h) {
                Some(outcome) => {
                    channel.take();
                    outcome?
                }
                None => return Ok(None),
            },
            None => match runtime::try_receive_signal(channel.name()) {
                Some(bytes) => bytes,
                None => return Ok(None),
            },
        };
        decode_signal(channel, &bytes).map(Some)
    }

    /// Waits for one pending command and decodes its output.
    pub fn join<T: DeserializeOwned>(&mut self, p: Pending<T>) -> Result<T, Failure> {
        let outcome = self.take(p.handle);
        decode(p.handle, outcome)
    }

    /// The outcome of `handle`, buffered or waited for.
    fn take(&mut self, handle: u64) -> Outcome {
        match self.ready.remove(&handle) {
            Some(o) => o,
            None => {
                let (h, outcome) = self.wait(&[handle]);
                debug_assert_eq!(h, handle);
                outcome
            }
        }
    }

    /// Waits for all of `ps` and returns their results in the order given.
    /// Completions are taken as the host delivers them, so a slow first
    /// command does not hold back the bookkeeping of the others.
    pub fn join_all<T: DeserializeOwned>(
        &mut self,
        ps: Vec<Pending<T>>,
    ) -> Vec<Result<T, Failure>> {
        let mut missing: Vec<u64> = ps
            .iter()
            .map(|p| p.handle)
            .filter(|h| !self.ready.contains_key(h))
            .collect();
        // Each wait takes one winner: drop just it (a fan-out of n joins in
        // n waits, not n lookups per wait), unless a handler's own waits
        // took others meanwhile.
        while !missing.is_empty() {
            let before = self.completions;
            let (h, outcome) = self.wait(&missing);
            self.ready.insert(h, outcome);
            let at = missing.iter().position(|m| *m == h);
            if let (true, Some(at)) = (self.completions == before + 1, at) {
                missing.remove(at);
            } else {
                let ready = &self.ready;
                missing.retain(|m| !ready.contains_key(m));
            }
        }
        ps.into_iter().map(|p| self.join(p)).collect()
    }

    /// Waits until the first of `candidates` completes and returns its index.
    /// The winner's result stays buffered: join (or receive) it to read it
    /// (selecting again before that returns the same winner). When several
    /// winners are already buffered, the one listed first wins; otherwise the
    /// one the history recorded first. The losers keep running; join or
    /// select them later, or leave them.
    pub fn select(&mut self, candidates: &[&dyn Selectable]) -> usize {
        assert!(
            !candidates.is_empty(),
            "select needs at least one candidate"
        );
        let handles: Vec<u64> = candidates.iter().map(|c| c.handle()).collect();
        if let Some(i) = handles.iter().position(|h| self.ready.contains_key(h)) {
            return i;
        }
        let (h, outcome) = self.wait(&handles);
        let i = handles
            .iter()
            .position(|x| *x == h)
            .expect("the host completes one of the handles asked for");
        self.ready.insert(h, outcome);
        i
    }

    /// Like [`Ctx::select`], but says when the workflow's cancellation ended
    /// the wait: if the winner completed with a `cancelled` failure after a
    /// cancellation was requested (a cancelled timer, activity or child),
    /// that failure is the `Err` (the winner's outcome stays buffered). With
    /// plain `select`, such a winner's index looks like any other, and code
    /// that does not join it goes down the path of a timer that fired:
    ///
    /// ```ignore
    /// match ctx.try_select(&[&decision, &deadline]) {
    ///     Ok(0) => approve(ctx.receive(&decision)?),
    ///     Ok(_) => expire(),
    ///     Err(cancelled) => { clean_up(ctx)?; return Err(cancelled) } // ends as cancelled
    /// }
    /// ```
    pub fn try_select(&mut self, candidates: &[&dyn Selectable]) -> Result<usize, Failure> {
        let i = self.select(candidates);
        if self.cancel_reason.is_some() {
            if let Some(Err(f)) = self.ready.get(&candidates[i].handle()) {
                if f.is_cancelled() {
                    return Err(f.clone());
                }
            }
        }
        Ok(i)
    }

    /// A typed select: name what each candidate's outcome means, then
    /// `wait` (see [`Choose`]). Instead of matching `select`'s index by
    /// position:
    ///
    /// ```ignore
    /// let next = ctx
    ///     .choose()
    ///     .on_signal(&decisions, Next::Approved)
    ///     .on(&deadline, |_| Next::Expired)
    ///     .wait()?;
    /// ```
    pub fn choose<'c, 'a, R>(&'c mut self) -> Choose<'c, 'a, W, R> {
        Choose::new(self)
    }

    /// Like [`Ctx::select`], but also returns `None` as soon as `until` holds
    /// for the state (checked first, then after each update handler runs): a
    /// loop that waits for its timer or its signals can end when an update
    /// changes the state.
    pub fn select_until(
        &mut self,
        candidates: &[&dyn Selectable],
        until: impl Fn(&W) -> bool,
    ) -> Option<usize> {
        if until(&self.state) {
            return None;
        }
        let handles: Vec<u64> = candidates.iter().map(|c| c.handle()).collect();
        if let Some(i) = handles.iter().position(|h| self.ready.contains_key(h)) {
            return Some(i);
        }
        let (h, outcome) = self.wait_or(&handles, Some(&until))?;
        let i = handles
            .iter()
            .position(|x| *x == h)
            .expect("the host completes one of the handles asked for");
        self.ready.insert(h, outcome);
        Some(i)
    }

    /// Blocks until `until` holds for the state; only update handlers can
    /// make it hold (queries are read-only).
    pub fn wait_until(&mut self, until: impl Fn(&W) -> bool) {
        if until(&self.state) {
            return;
        }
        let _ = self.wait_or(&[], Some(&until));
    }

    /// The one place the workflow blocks: returns the next completion among
    /// `handles`, answering queries and running updates that arrive first.
    fn wait(&mut self, handles: &[u64]) -> (u64, Outcome) {
        self.wait_or(handles, None)
            .expect("without a condition, a wait ends only with a completion")
    }

    /// Arms a receive for each signal handler that has none; returns the
    /// handles to wait on: `handles` and those receives.
    fn with_signal_handlers(&mut self, handles: &[u64]) -> Vec<u64> {
        if self.in_signal_handler {
            return handles.to_vec();
        }
        let handlers = self.handlers.clone();
        for name in handlers.handled_signals() {
            if !self.handler_receives.values().any(|n| n == name) {
                let h = runtime::receive_signal(name);
                self.handler_receives.insert(h, name.clone());
            }
        }
        handles
            .iter()
            .copied()
            .chain(self.handler_receives.keys().copied())
            .collect()
    }

    fn wait_or(
        &mut self,
        handles: &[u64],
        until: Option<&dyn Fn(&W) -> bool>,
    ) -> Option<(u64, Outcome)> {
        loop {
            let all = self.with_signal_handlers(handles);
            match runtime::wait(&all) {
                runtime::Delivery::Completed(c) => {
                    let Some(name) = self.handler_receives.remove(&c.handle) else {
                        let mut outcome = from_wit(c.outcome);
                        if let Err(f) = &mut outcome {
                            if self.activities.contains(&c.handle) {
                                f.activity = runtime::activity_failure(c.handle)
                                    .map(|info| Box::new(activity_failure_from_wit(info)));
                            }
                        }
                        self.completions += 1;
                        return Some((c.handle, outcome));
                    };
                    match from_wit(c.outcome) {
                        Ok(input) => {
                            self.in_signal_handler = true;
                            self.handlers.clone().run_signal(self, &name, &input);
                            self.in_signal_handler = false;
                        }
                        Err(f) => self.log(LogLevel::Warn, format!("signal `{name}`: {f}")),
                    }
                    if until.is_some_and(|c| c(&self.state)) {
                        return None;
                    }
                }
                runtime::Delivery::Query(r) => {
                    let answer = self
                        .handlers
                        .clone()
                        .answer_query(&self.state, &r.name, &r.input);
                    let answer = answer.map_err(to_wit);
                    runtime::respond(r.id, as_wit(&answer));
                }
                runtime::Delivery::ValidateUpdate(r) => {
                    let answer = self
                        .handlers
                        .clone()
                        .validate(&self.state, &r.name, &r.input)
                        .map(|()| Vec::new());
                    let answer = answer.map_err(to_wit);
                    runtime::respond(r.id, as_wit(&answer));
                }
                runtime::Delivery::Update(u) => {
                    let outcome = self.handlers.clone().run_update(self, &u.name, &u.input);
                    let outcome = outcome.map_err(to_wit);
                    runtime::complete_update(&u.update_id, as_wit(&outcome));
                    if until.is_some_and(|c| c(&self.state)) {
                        return None;
                    }
                }
                runtime::Delivery::Cancelled(reason) => {
                    // The host completes the pending timers, activities and
                    // children with `cancelled` failures (a child once its own
                    // cleanup ran): keep waiting for those. A wait on signals
                    // alone, or on a condition, ends here.
                    self.cancel_reason = Some(reason.clone());
                    if handlers::only_receives(handles) {
                        let &first = handles.first()?;
                        self.completions += 1;
                        return Some((
                            first,
                            Err(Failure::cancelled(format!("the workflow ({reason})"))),
                        ));
                    }
                }
            }
        }
    }

    /// Guards a change to workflow code that running executions have not
    /// seen: true when this run takes the new path, false when it replays a
    /// history recorded before the change. The answer for one id never
    /// changes within a run.
    ///
    /// ```ignore
    /// if ctx.patched("add-fraud-check") {
    ///     ctx.activity::<_, ()>("fraud-check", &order)?;
    /// }
    /// ```
    ///
    /// Once no execution from before the patch remains, keep only the new
    /// path and call [`Ctx::deprecate_patch`] in its place; once none from
    /// before that remains either, remove the call.
    pub fn patched(&mut self, patch_id: &str) -> bool {
        runtime::patched(patch_id)
    }

    /// The middle step of retiring a patch: the new path is the only one,
    /// and histories recorded with or without the patch's marker replay.
    pub fn deprecate_patch(&mut self, patch_id: &str) {
        runtime::deprecate_patch(patch_id)
    }

    /// Workflow time, ms since the Unix epoch: the time of the event being
    /// processed, the same on every replay.
    pub fn now_ms(&self) -> u64 {
        runtime::now()
    }

    /// Workflow time as a `SystemTime`.
    pub fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + Duration::from_millis(self.now_ms())
    }

    /// A random number from the execution's recorded seed.
    pub fn random_u64(&mut self) -> u64 {
        runtime::random()
    }

    /// A log line on the host, not repeated during replays.
    pub fn log(&self, level: LogLevel, message: impl AsRef<str>) {
        runtime::log(level, message.as_ref());
    }

    pub fn info(&self) -> WorkflowInfo {
        let i = runtime::info();
        WorkflowInfo {
            workflow_type: i.workflow_type,
            execution_id: i.execution_id,
            module: i.module,
            started_at_ms: i.started_at_ms,
        }
    }
}

pub(crate) fn from_wit(o: Result<Vec<u8>, bindings::Failure>) -> Outcome {
    o.map_err(|f| Failure {
        details: Failure::details_from_bytes(f.details),
        kind: f.kind,
        message: f.message,
        non_retryable: f.non_retryable,
        activity: None,
    })
}

fn decode<T: DeserializeOwned>(handle: u64, outcome: Outcome) -> Result<T, Failure> {
    let bytes = outcome?;
    // A timer completes with no bytes; let `()` and `Option` read that as null.
    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
    // A type that does not fit is a bug in the workflow code, not a failure of
    // the command: trap, so the execution stalls until a fixed version is
    // deployed and upgraded to, instead of failing for good.
    Ok(serde_json::from_slice(bytes).unwrap_or_else(|e| {
        panic!(
            "the output of command {handle} does not decode into {}: {e}",
            std::any::type_name::<T>()
        )
    }))
}

fn as_wit(r: &Result<Vec<u8>, bindings::Failure>) -> Result<&[u8], &bindings::Failure> {
    r.as_ref().map(Vec::as_slice)
}

pub(crate) fn to_wit(f: Failure) -> bindings::Failure {
    bindings::Failure {
        details: f.details_bytes(),
        kind: f.kind,
        message: f.message,
        non_retryable: f.non_retryable,
    }
}

/// A signal's input as `T` (a payload that does not decode is an
/// `InvalidInput` failure, not a crash).
fn decode_signal<T: DeserializeOwned>(
    channel: &SignalChannel<T>,
    bytes: &[u8],
) -> Result<T, Failure> {
    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { bytes };
    serde_json::from_slice(bytes).map_err(|e| {
        Failure::non_retryable(
            "InvalidInput",
            format!(
                "signal `{}` carried input that is not the JSON expected: {e}",
                channel.name()
            ),
        )
    })
}

fn activity_failure_from_wit(
    info: runtime::ActivityFailureInfo,
) -> crate::failure::ActivityFailureInfo {
    use crate::failure::RetryState;
    crate::failure::ActivityFailureInfo {
        attempts: info.attempts,
        retry_state: match info.retry_state {
            runtime::RetryState::MaximumAttemptsReached => RetryState::MaximumAttemptsReached,
            runtime::RetryState::NonRetryable => RetryState::NonRetryable,
            runtime::RetryState::Timeout => RetryState::Timeout,
            runtime::RetryState::Cancelled => RetryState::Cancelled,
        },
        cause: info.cause.and_then(|f| from_wit(Err(f)).err()),
    }
}
