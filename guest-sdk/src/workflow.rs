//! The workflow side: the [`Workflow`] trait, the [`Ctx`] a workflow talks to
//! the host through, and [`export_workflow!`](crate::export_workflow).
//!
//! Everything nondeterministic goes through `Ctx`: activities, timers, time and
//! randomness. The host records each answer, so a replay of the same code over
//! the same history takes the same path.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::failure::Failure;

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "weft:workflow/workflow",
        pub_export_macro: true,
        export_macro_name: "__weft_export_workflow_world",
        default_bindings_module: "weft_sdk::workflow::bindings",
    });
}

use bindings::weft::workflow::runtime;

pub use runtime::LogLevel;

/// A workflow type. `run` is the body; it gets the decoded input and returns
/// the output (encoded as JSON) or a failure, which ends the execution as
/// `failed`.
pub trait Workflow {
    type Input: DeserializeOwned;
    type Output: Serialize;

    fn run(ctx: &mut Ctx, input: Self::Input) -> Result<Self::Output, Failure>;
}

/// The host's default retry policy is Temporal's: 1 s, doubling, capped at
/// 100 s, unlimited attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub initial_interval: Duration,
    pub backoff_coefficient: f64,
    pub maximum_interval: Duration,
    /// 0 means no limit.
    pub maximum_attempts: u32,
    /// Failure kinds that end the activity at once.
    pub non_retryable_kinds: Vec<String>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_interval: Duration::from_secs(1),
            backoff_coefficient: 2.0,
            maximum_interval: Duration::from_secs(100),
            maximum_attempts: 0,
            non_retryable_kinds: Vec::new(),
        }
    }
}

impl RetryPolicy {
    /// At most `n` attempts, otherwise the defaults.
    pub fn attempts(n: u32) -> Self {
        RetryPolicy {
            maximum_attempts: n,
            ..RetryPolicy::default()
        }
    }

    pub fn initial_interval(mut self, d: Duration) -> Self {
        self.initial_interval = d;
        self
    }

    pub fn non_retryable(mut self, kind: impl Into<String>) -> Self {
        self.non_retryable_kinds.push(kind.into());
        self
    }
}

/// Options for one activity call; `Default` takes the host's defaults.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityOptions {
    pub retry: Option<RetryPolicy>,
    /// Limit on one attempt.
    pub start_to_close_timeout: Option<Duration>,
}

impl ActivityOptions {
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    pub fn start_to_close_timeout(mut self, d: Duration) -> Self {
        self.start_to_close_timeout = Some(d);
        self
    }

    fn to_wit(&self) -> runtime::ActivityOptions {
        runtime::ActivityOptions {
            retry: self.retry.as_ref().map(|r| runtime::RetryPolicy {
                initial_interval_ms: millis(r.initial_interval),
                backoff_coefficient: r.backoff_coefficient,
                maximum_interval_ms: millis(r.maximum_interval),
                maximum_attempts: r.maximum_attempts,
                non_retryable_kinds: r.non_retryable_kinds.clone(),
            }),
            start_to_close_timeout_ms: self.start_to_close_timeout.map(millis),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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

type Outcome = Result<Vec<u8>, Failure>;

/// The workflow's door to the host.
pub struct Ctx {
    /// Completions the host delivered before the code asked for them (a select
    /// or a join-all receives them in history order).
    ready: BTreeMap<u64, Outcome>,
}

impl Ctx {
    fn new() -> Self {
        Ctx {
            ready: BTreeMap::new(),
        }
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
        Pending::new(runtime::start_activity(name, &bytes, &options.to_wit()))
    }

    /// Starts a durable timer that fires after `d` of workflow time.
    pub fn timer(&mut self, d: Duration) -> Pending<()> {
        Pending::new(runtime::start_timer(millis(d)))
    }

    /// Sleeps for `d` of workflow time. Durable: a restart in between does not
    /// restart the wait.
    pub fn sleep(&mut self, d: Duration) {
        let t = self.timer(d);
        // A timer cannot fail.
        let _ = self.join(t);
    }

    /// Waits for one pending command and decodes its output.
    pub fn join<T: DeserializeOwned>(&mut self, p: Pending<T>) -> Result<T, Failure> {
        let outcome = match self.ready.remove(&p.handle) {
            Some(o) => o,
            None => {
                let c = runtime::wait(&[p.handle]);
                debug_assert_eq!(c.handle, p.handle);
                from_wit(c.outcome)
            }
        };
        decode(p.handle, outcome)
    }

    /// Waits for all of `ps` and returns their results in the order given.
    /// Completions are taken as the host delivers them, so a slow first
    /// command does not hold back the bookkeeping of the others.
    pub fn join_all<T: DeserializeOwned>(
        &mut self,
        ps: Vec<Pending<T>>,
    ) -> Vec<Result<T, Failure>> {
        loop {
            let missing: Vec<u64> = ps
                .iter()
                .map(|p| p.handle)
                .filter(|h| !self.ready.contains_key(h))
                .collect();
            if missing.is_empty() {
                break;
            }
            let c = runtime::wait(&missing);
            self.ready.insert(c.handle, from_wit(c.outcome));
        }
        ps.into_iter().map(|p| self.join(p)).collect()
    }

    /// Waits until the first of `candidates` completes and returns its index.
    /// The winner's result stays buffered: join it to read it (selecting again
    /// before joining returns the same winner). When several winners are
    /// already buffered, the one listed first wins; otherwise the one the
    /// history recorded first. The losers keep running; join or select them
    /// later, or leave them.
    pub fn select(&mut self, candidates: &[&dyn Selectable]) -> usize {
        assert!(
            !candidates.is_empty(),
            "select needs at least one candidate"
        );
        if let Some(i) = candidates
            .iter()
            .position(|c| self.ready.contains_key(&c.handle()))
        {
            return i;
        }
        let handles: Vec<u64> = candidates.iter().map(|c| c.handle()).collect();
        let c = runtime::wait(&handles);
        let i = handles
            .iter()
            .position(|h| *h == c.handle)
            .expect("the host completes one of the handles asked for");
        self.ready.insert(c.handle, from_wit(c.outcome));
        i
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

fn from_wit(o: Result<Vec<u8>, bindings::Failure>) -> Outcome {
    o.map_err(|f| Failure {
        details: Failure::details_from_bytes(f.details),
        kind: f.kind,
        message: f.message,
        non_retryable: f.non_retryable,
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

fn to_wit(f: Failure) -> bindings::Failure {
    bindings::Failure {
        details: f.details_bytes(),
        kind: f.kind,
        message: f.message,
        non_retryable: f.non_retryable,
    }
}

#[doc(hidden)]
pub fn __run<W: Workflow>(input: Vec<u8>) -> Result<Vec<u8>, bindings::Failure> {
    let bytes: &[u8] = if input.is_empty() { b"null" } else { &input };
    let input: W::Input = serde_json::from_slice(bytes)
        .map_err(|e| to_wit(Failure::bad_input("the workflow input", e)))?;
    let mut ctx = Ctx::new();
    let output = W::run(&mut ctx, input).map_err(to_wit)?;
    serde_json::to_vec(&output).map_err(|e| to_wit(Failure::new("InvalidOutput", e.to_string())))
}

/// Exports a [`Workflow`] as the component's `run`.
///
/// ```ignore
/// weft_sdk::export_workflow!(Hello);
/// ```
#[macro_export]
macro_rules! export_workflow {
    ($ty:ty) => {
        struct __WeftWorkflowExport;

        impl $crate::workflow::bindings::Guest for __WeftWorkflowExport {
            fn run(
                input: ::std::vec::Vec<u8>,
            ) -> ::std::result::Result<::std::vec::Vec<u8>, $crate::workflow::bindings::Failure>
            {
                $crate::workflow::__run::<$ty>(input)
            }
        }

        $crate::workflow::bindings::__weft_export_workflow_world!(
            __WeftWorkflowExport with_types_in $crate::workflow::bindings
        );
    };
}
