//! The workflow world: the store's data, the `runtime` imports, and one
//! instance's call of the guest's `run`. Each import forwards to the engine's [`WorkflowHost`]; errors the
//! host raises stop the guest (a trap) and come back as [`RunOutcome::Stopped`].

use std::future::Future;
use std::pin::Pin;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::model::{
    ActivityOptions, CancellationType, Failure, IdReusePolicy, ParentClosePolicy, Payload,
    RetryPolicy,
};
use crate::wasm::bindings::workflow::weft::workflow::{runtime, types};
use crate::wasm::bindings::workflow::{Workflow, WorkflowPre};
use crate::wasm::limits::{CpuBudget, CpuDeadlineExceeded, MemoryLimitExceeded, MemoryLimiter};
use crate::wasm::random::{self, Streams};
use crate::wasm::wasi::{self, Capture, WorkflowClock};
use crate::wasm::SandboxConfig;

mod deterministic;
mod run;

use deterministic::{BlockedOnClock, Deadlines};

pub use run::FinalAnswer;
pub(in crate::wasm) use run::{handler_names, run, run_then_query, trap_reason};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Clone)]
pub struct WorkflowInfo {
    pub workflow_type: String,
    pub execution_id: String,
    pub module: String,
    pub started_at_ms: u64,
}

/// An error the host raised inside an import: the guest is stopped at once.
/// The engine downcasts the inner error to its own type.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostStop(pub Box<dyn std::error::Error + Send + Sync>);

pub type Completion = (u64, Result<Payload, Failure>);

/// A read-only request (a query, or the validation of an update).
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: u64,
    pub name: String,
    pub input: Payload,
}

/// An accepted update, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRequest {
    pub update_id: String,
    pub name: String,
    pub input: Payload,
}

/// What a wait hands the guest.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    Completed(Completion),
    Query(Request),
    Validate(Request),
    Update(UpdateRequest),
    /// A cancellation request, with its reason.
    Cancelled(String),
}

/// The names a workflow component answers to (its `handlers` export).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HandlerNames {
    pub signals: Vec<String>,
    pub queries: Vec<String>,
    pub updates: Vec<String>,
}

/// Where a request to another execution goes.
#[derive(Debug, Clone)]
pub enum External {
    Execution(String),
    /// The child a `start-child` handle started.
    Child(u64),
}

/// What the engine implements to answer a workflow's imports.
pub trait WorkflowHost: std::any::Any + Send + 'static {
    fn start_activity(
        &mut self,
        name: String,
        input: Payload,
        options: ActivityOptions,
    ) -> Result<u64, HostStop>;
    fn start_timer(&mut self, duration_ms: u64) -> Result<u64, HostStop>;
    /// Cancels the pending activity `target`.
    fn cancel_activity(&mut self, target: u64) -> Result<(), HostStop>;
    /// Whether this run takes the new path of patch `patch_id` (see the WIT).
    fn patched(&mut self, patch_id: String) -> Result<bool, HostStop>;
    /// Sets or removes search attributes (see the WIT).
    fn upsert_search_attributes(
        &mut self,
        changes: crate::model::search::SearchChanges,
    ) -> Result<(), HostStop>;
    /// Sets or removes memo fields (see the WIT).
    fn upsert_memo(&mut self, changes: crate::model::search::MemoChanges) -> Result<(), HostStop>;
    /// The search attributes and memo as the code has set them so far.
    fn search_state(
        &self,
    ) -> (
        crate::model::search::SearchAttributes,
        crate::model::search::Memo,
    );
    fn receive_signal(&mut self, name: String) -> Result<u64, HostStop>;
    /// A signal (`name`, `input`) or, with `cancel`, a cancellation request
    /// (its reason in `input`) to another execution (see the WIT).
    fn send_external(
        &mut self,
        to: External,
        name: String,
        input: Payload,
        cancel: bool,
    ) -> Result<u64, HostStop>;
    /// Why activity `handle` failed, once delivered (see the WIT).
    fn activity_failure(&self, handle: u64) -> Option<crate::model::ActivityFailureInfo>;
    /// The next signal named `name` if the task knows it (see the WIT).
    fn try_receive_signal(&mut self, name: String) -> Result<Option<Payload>, HostStop>;
    fn start_child(
        &mut self,
        workflow_type: String,
        input: Payload,
        id: Option<String>,
        policy: ParentClosePolicy,
        reuse: crate::model::IdReusePolicy,
        cancellation: Option<CancellationType>,
    ) -> Result<u64, HostStop>;
    /// Ends the run; always returns the stop that unwinds the guest.
    fn continue_as_new(&mut self, input: Payload) -> HostStop;
    /// `(length, continue-as-new suggested)`.
    fn history_info(&self) -> (u64, bool);
    /// Blocks until one of `handles` completes or a request needs the guest
    /// (see the WIT for the order).
    fn wait(
        &mut self,
        handles: Vec<u64>,
    ) -> Pin<Box<dyn Future<Output = Result<Delivery, HostStop>> + Send + '_>>;
    /// The guest's answer to a query or a validation.
    fn respond(&mut self, id: u64, answer: Result<Payload, Failure>) -> Result<(), HostStop>;
    /// The guest finished an accepted update.
    fn complete_update(
        &mut self,
        update_id: String,
        outcome: Result<Payload, Failure>,
    ) -> Result<(), HostStop>;
    fn now_ms(&self) -> u64;
    fn random(&mut self) -> u64;
    fn log(&mut self, level: LogLevel, message: &str);
    fn info(&self) -> WorkflowInfo;
}

/// How an instance's call of the guest's `run` ended.
#[derive(Debug)]
pub enum RunOutcome {
    /// `run` returned.
    Returned(Result<Payload, Failure>),
    /// The host stopped the guest from inside an import.
    Stopped(HostStop),
    /// A trap, a limit, or a module that cannot be instantiated.
    Trapped(String),
    /// The module could not be loaded (read, compiled, linked): no guest
    /// code ran. Some such errors are this host's alone (a component built
    /// for a newer contract; its bytes not readable now), and another try
    /// elsewhere or later loads it.
    NotLoaded(super::ModuleError),
}

pub struct WfState {
    wasi: WasiCtx,
    table: ResourceTable,
    host: Box<dyn WorkflowHost>,
    clock: WorkflowClock,
    /// WASI random, and the stream requests draw from.
    random: Streams,
    /// The instance's monotonic-clock pollables.
    deadlines: Deadlines,
    output: Capture,
    memory: MemoryLimiter,
    cpu: CpuBudget,
}

impl WfState {
    /// The three child-start imports, in the host's terms.
    fn child(
        &mut self,
        workflow_type: String,
        input: Vec<u8>,
        options: runtime::ChildOptions,
        reuse: IdReusePolicy,
        cancellation: Option<CancellationType>,
    ) -> wasmtime::Result<u64> {
        let policy = parent_close_policy(options.parent_close_policy);
        self.host
            .start_child(
                workflow_type,
                Payload(input),
                options.id,
                policy,
                reuse,
                cancellation,
            )
            .map_err(wasmtime::Error::new)
    }

    /// Hands captured stdout/stderr to the host as log lines.
    fn flush_output(&mut self, all: bool) {
        for line in self.output.drain_lines(all) {
            self.host.log(LogLevel::Info, &line);
        }
    }
}

impl WasiView for WfState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl types::Host for WfState {}

impl runtime::Host for WfState {
    fn start_activity(
        &mut self,
        name: String,
        input: Vec<u8>,
        options: runtime::ActivityOptions,
    ) -> wasmtime::Result<u64> {
        let options = activity_options(options);
        self.host
            .start_activity(name, Payload(input), options)
            .map_err(wasmtime::Error::new)
    }

    fn start_activity_with(
        &mut self,
        name: String,
        input: Vec<u8>,
        options: runtime::ActivityOptions,
        cancellation: runtime::CancellationType,
    ) -> wasmtime::Result<u64> {
        let mut options = activity_options(options);
        options.cancellation = Some(cancellation_type(cancellation));
        self.host
            .start_activity(name, Payload(input), options)
            .map_err(wasmtime::Error::new)
    }

    fn cancel(&mut self, handle: u64) -> wasmtime::Result<()> {
        self.host
            .cancel_activity(handle)
            .map_err(wasmtime::Error::new)
    }

    fn start_timer(&mut self, duration_ms: u64) -> wasmtime::Result<u64> {
        self.host
            .start_timer(duration_ms)
            .map_err(wasmtime::Error::new)
    }

    fn patched(&mut self, patch_id: String) -> wasmtime::Result<bool> {
        self.host.patched(patch_id).map_err(wasmtime::Error::new)
    }

    fn deprecate_patch(&mut self, patch_id: String) -> wasmtime::Result<()> {
        self.host
            .patched(patch_id)
            .map(|_| ())
            .map_err(wasmtime::Error::new)
    }

    fn receive_signal(&mut self, name: String) -> wasmtime::Result<u64> {
        self.host.receive_signal(name).map_err(wasmtime::Error::new)
    }

    fn upsert_search_attributes(
        &mut self,
        attributes: Vec<runtime::SearchAttribute>,
    ) -> wasmtime::Result<()> {
        use crate::model::search::SearchValue as V;
        use runtime::SearchValue as W;
        let changes = attributes
            .into_iter()
            .map(|a| {
                let value = a.value.map(|v| match v {
                    W::Keyword(s) => V::Keyword(s),
                    W::Text(s) => V::Text(s),
                    W::Int(i) => V::Int(i),
                    W::Double(d) => V::Double(d),
                    W::Boolean(b) => V::Bool(b),
                    W::Datetime(ms) => V::Datetime(ms),
                    W::KeywordList(l) => V::KeywordList(l),
                });
                (a.name, value)
            })
            .collect();
        self.host
            .upsert_search_attributes(changes)
            .map_err(wasmtime::Error::new)
    }

    fn search_attributes(&mut self) -> wasmtime::Result<Vec<runtime::SearchAttribute>> {
        use crate::model::search::SearchValue as V;
        use runtime::SearchValue as W;
        let (attributes, _) = self.host.search_state();
        Ok(attributes
            .into_iter()
            .map(|(name, v)| runtime::SearchAttribute {
                name,
                value: Some(match v {
                    V::Keyword(s) => W::Keyword(s),
                    V::Text(s) => W::Text(s),
                    V::Int(i) => W::Int(i),
                    V::Double(d) => W::Double(d),
                    V::Bool(b) => W::Boolean(b),
                    V::Datetime(ms) => W::Datetime(ms),
                    V::KeywordList(l) => W::KeywordList(l),
                }),
            })
            .collect())
    }

    fn memo(&mut self) -> wasmtime::Result<Vec<runtime::MemoField>> {
        let (_, memo) = self.host.search_state();
        Ok(memo
            .into_iter()
            .map(|(name, v)| runtime::MemoField {
                name,
                value: Some(v.0),
            })
            .collect())
    }

    fn upsert_memo(&mut self, fields: Vec<runtime::MemoField>) -> wasmtime::Result<()> {
        let changes = fields
            .into_iter()
            .map(|f| (f.name, f.value.map(Payload)))
            .collect();
        self.host.upsert_memo(changes).map_err(wasmtime::Error::new)
    }

    fn signal_execution(
        &mut self,
        execution_id: String,
        name: String,
        input: Vec<u8>,
    ) -> wasmtime::Result<u64> {
        self.host
            .send_external(
                External::Execution(execution_id),
                name,
                Payload(input),
                false,
            )
            .map_err(wasmtime::Error::new)
    }

    fn signal_child(&mut self, child: u64, name: String, input: Vec<u8>) -> wasmtime::Result<u64> {
        self.host
            .send_external(External::Child(child), name, Payload(input), false)
            .map_err(wasmtime::Error::new)
    }

    fn cancel_execution(&mut self, execution_id: String, reason: String) -> wasmtime::Result<u64> {
        let reason = Payload(serde_json::to_vec(&reason).unwrap_or_default());
        self.host
            .send_external(
                External::Execution(execution_id),
                String::new(),
                reason,
                true,
            )
            .map_err(wasmtime::Error::new)
    }

    fn activity_failure(
        &mut self,
        handle: u64,
    ) -> wasmtime::Result<Option<runtime::ActivityFailureInfo>> {
        use crate::model::RetryState;
        Ok(self
            .host
            .activity_failure(handle)
            .map(|info| runtime::ActivityFailureInfo {
                attempts: info.attempts,
                retry_state: match info.retry_state {
                    RetryState::MaximumAttemptsReached => {
                        runtime::RetryState::MaximumAttemptsReached
                    }
                    RetryState::NonRetryable => runtime::RetryState::NonRetryable,
                    RetryState::Timeout => runtime::RetryState::Timeout,
                    RetryState::Cancelled => runtime::RetryState::Cancelled,
                },
                cause: info.cause.map(failure_to_wit),
            }))
    }

    fn try_receive_signal(&mut self, name: String) -> wasmtime::Result<Option<Vec<u8>>> {
        self.host
            .try_receive_signal(name)
            .map(|found| found.map(|p| p.0))
            .map_err(wasmtime::Error::new)
    }

    async fn wait(&mut self, handles: Vec<u64>) -> wasmtime::Result<runtime::Delivery> {
        self.flush_output(false);
        let delivery = self
            .host
            .wait(handles)
            .await
            .map_err(wasmtime::Error::new)?;
        self.clock.set_ms(self.host.now_ms());
        // A new workflow task starts here: its CPU deadline starts afresh.
        self.cpu.reset();
        let request = |r: Request| runtime::Request {
            id: r.id,
            name: r.name,
            input: r.input.0,
        };
        Ok(match delivery {
            Delivery::Completed((handle, outcome)) => {
                runtime::Delivery::Completed(runtime::Completion {
                    handle,
                    outcome: outcome.map(|p| p.0).map_err(failure_to_wit),
                })
            }
            // Until the guest responds it answers a read-only request: its
            // draws must not move the run's streams (see `random`).
            Delivery::Query(r) => {
                self.random.begin_request(r.id);
                runtime::Delivery::Query(request(r))
            }
            Delivery::Validate(r) => {
                self.random.begin_request(r.id);
                runtime::Delivery::ValidateUpdate(request(r))
            }
            Delivery::Update(u) => runtime::Delivery::Update(runtime::Update {
                update_id: u.update_id,
                name: u.name,
                input: u.input.0,
            }),
            Delivery::Cancelled(reason) => runtime::Delivery::Cancelled(reason),
        })
    }

    fn start_child(
        &mut self,
        workflow_type: String,
        input: Vec<u8>,
        options: runtime::ChildOptions,
    ) -> wasmtime::Result<u64> {
        self.child(
            workflow_type,
            input,
            options,
            IdReusePolicy::AllowDuplicate,
            None,
        )
    }

    fn start_child_with_reuse(
        &mut self,
        workflow_type: String,
        input: Vec<u8>,
        options: runtime::ChildOptions,
        reuse: runtime::IdReusePolicy,
    ) -> wasmtime::Result<u64> {
        self.child(workflow_type, input, options, id_reuse_policy(reuse), None)
    }

    fn start_child_with(
        &mut self,
        workflow_type: String,
        input: Vec<u8>,
        options: runtime::ChildOptions,
        reuse: runtime::IdReusePolicy,
        cancellation: runtime::CancellationType,
    ) -> wasmtime::Result<u64> {
        let cancellation = Some(cancellation_type(cancellation));
        self.child(
            workflow_type,
            input,
            options,
            id_reuse_policy(reuse),
            cancellation,
        )
    }

    fn continue_as_new(&mut self, input: Vec<u8>) -> wasmtime::Result<()> {
        Err(wasmtime::Error::new(
            self.host.continue_as_new(Payload(input)),
        ))
    }

    fn history_info(&mut self) -> wasmtime::Result<runtime::HistoryStats> {
        let (length, continue_as_new_suggested) = self.host.history_info();
        Ok(runtime::HistoryStats {
            length,
            continue_as_new_suggested,
        })
    }

    fn respond(
        &mut self,
        id: u64,
        answer: Result<Vec<u8>, types::Failure>,
    ) -> wasmtime::Result<()> {
        self.random.end_request();
        self.host
            .respond(id, answer.map(Payload).map_err(failure_from_wit))
            .map_err(wasmtime::Error::new)
    }

    fn complete_update(
        &mut self,
        update_id: String,
        outcome: Result<Vec<u8>, types::Failure>,
    ) -> wasmtime::Result<()> {
        self.host
            .complete_update(update_id, outcome.map(Payload).map_err(failure_from_wit))
            .map_err(wasmtime::Error::new)
    }

    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(self.host.now_ms())
    }

    fn random(&mut self) -> wasmtime::Result<u64> {
        // A request draws from its throwaway stream: the engine's recorded
        // stream goes on as if the request had never run.
        Ok(match self.random.request() {
            Some(throwaway) => throwaway.next_u64(),
            None => self.host.random(),
        })
    }

    fn log(&mut self, level: runtime::LogLevel, message: String) -> wasmtime::Result<()> {
        let level = match level {
            runtime::LogLevel::Trace => LogLevel::Trace,
            runtime::LogLevel::Debug => LogLevel::Debug,
            runtime::LogLevel::Info => LogLevel::Info,
            runtime::LogLevel::Warn => LogLevel::Warn,
            runtime::LogLevel::Error => LogLevel::Error,
        };
        self.host.log(level, &message);
        Ok(())
    }

    fn info(&mut self) -> wasmtime::Result<runtime::WorkflowInfo> {
        let i = self.host.info();
        Ok(runtime::WorkflowInfo {
            workflow_type: i.workflow_type,
            execution_id: i.execution_id,
            module: i.module,
            started_at_ms: i.started_at_ms,
        })
    }
}

pub(super) fn failure_to_wit(f: Failure) -> types::Failure {
    types::Failure {
        kind: f.kind,
        message: f.message,
        details: f
            .details
            .map(|d| serde_json::to_vec(&d).unwrap_or_default()),
        non_retryable: f.non_retryable,
    }
}

pub(super) fn failure_from_wit(f: types::Failure) -> Failure {
    Failure {
        kind: f.kind,
        message: f.message,
        details: f
            .details
            .map(|d| serde_json::from_slice(&d).unwrap_or_else(|_| Payload(d).to_json())),
        non_retryable: f.non_retryable,
    }
}

pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<WfState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    deterministic::shadow_wasi(&mut linker)?;
    Workflow::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// The host's form of the guest's activity options.
fn activity_options(options: runtime::ActivityOptions) -> ActivityOptions {
    ActivityOptions {
        retry: options.retry.map(|r| RetryPolicy {
            initial_interval_ms: r.initial_interval_ms,
            backoff_coefficient: r.backoff_coefficient,
            maximum_interval_ms: r.maximum_interval_ms,
            maximum_attempts: r.maximum_attempts,
            non_retryable_kinds: r.non_retryable_kinds,
        }),
        start_to_close_timeout_ms: options.start_to_close_timeout_ms,
        schedule_to_close_timeout_ms: options.schedule_to_close_timeout_ms,
        schedule_to_start_timeout_ms: options.schedule_to_start_timeout_ms,
        heartbeat_timeout_ms: options.heartbeat_timeout_ms,
        task_queue: options.task_queue,
        cancellation: None,
    }
}

fn cancellation_type(c: runtime::CancellationType) -> CancellationType {
    match c {
        runtime::CancellationType::TryCancel => CancellationType::TryCancel,
        runtime::CancellationType::WaitCancellationCompleted => {
            CancellationType::WaitCancellationCompleted
        }
        runtime::CancellationType::Abandon => CancellationType::Abandon,
    }
}

fn parent_close_policy(p: runtime::ParentClosePolicy) -> ParentClosePolicy {
    match p {
        runtime::ParentClosePolicy::Terminate => ParentClosePolicy::Terminate,
        runtime::ParentClosePolicy::RequestCancel => ParentClosePolicy::RequestCancel,
        runtime::ParentClosePolicy::Abandon => ParentClosePolicy::Abandon,
    }
}

fn id_reuse_policy(reuse: runtime::IdReusePolicy) -> IdReusePolicy {
    match reuse {
        runtime::IdReusePolicy::AllowDuplicate => IdReusePolicy::AllowDuplicate,
        runtime::IdReusePolicy::AllowDuplicateFailedOnly => IdReusePolicy::AllowDuplicateFailedOnly,
        runtime::IdReusePolicy::RejectDuplicate => IdReusePolicy::RejectDuplicate,
    }
}
