//! Running a workflow component: its store (deterministic WASI, limits,
//! the host behind the imports), `run`, a query on the final state, the
//! `handlers` export read at deploy, and what a trap means to a person.

use super::*;

/// A query answered after `run` returned: its result, or why it failed.
pub type FinalAnswer = Result<Result<Payload, Failure>, String>;

fn new_store(
    engine: &Engine,
    config: &SandboxConfig,
    seed: u64,
    host: Box<dyn WorkflowHost>,
) -> Store<WfState> {
    let clock = WorkflowClock::default();
    clock.set_ms(host.now_ms());
    let output = Capture::new(config.output_cap);
    let state = WfState {
        wasi: wasi::workflow_ctx(&clock, &output),
        table: ResourceTable::new(),
        host,
        clock,
        random: Streams::new(seed),
        deadlines: Deadlines::default(),
        output,
        memory: MemoryLimiter {
            max_bytes: config.memory_limit_bytes,
        },
        cpu: CpuBudget::new(config.cpu_deadline),
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.memory);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|mut ctx| {
        ctx.data_mut().cpu.tick().map_err(wasmtime::Error::new)?;
        // Yield so one busy guest cannot hold a scheduler thread for its
        // whole deadline.
        Ok(UpdateDeadline::Yield(1))
    });
    store
}

pub(in crate::wasm) async fn run(
    engine: &Engine,
    pre: &WorkflowPre<WfState>,
    config: &SandboxConfig,
    input: Vec<u8>,
    seeding: random::Seeding,
    host: Box<dyn WorkflowHost>,
) -> (RunOutcome, Box<dyn WorkflowHost>) {
    let (outcome, _, host) = run_then_query(engine, pre, config, input, seeding, host, None).await;
    (outcome, host)
}

/// Runs `run`, and when it returns and `query` is given, asks the same
/// instance the query (answered from the final state).
pub(in crate::wasm) async fn run_then_query(
    engine: &Engine,
    pre: &WorkflowPre<WfState>,
    config: &SandboxConfig,
    input: Vec<u8>,
    seeding: random::Seeding,
    host: Box<dyn WorkflowHost>,
    query: Option<(String, Payload)>,
) -> (RunOutcome, Option<FinalAnswer>, Box<dyn WorkflowHost>) {
    // Another generator would hand the code other numbers than it saw.
    if let Err(e) = random::check(seeding.generator.as_deref()) {
        return (RunOutcome::Trapped(e.to_string()), None, host);
    }
    let t0 = std::time::Instant::now();
    let mut store = new_store(engine, config, seeding.seed, host);
    let mut answer = None;
    let result = async {
        let instance = pre.instantiate_async(&mut store).await?;
        crate::metrics::get().instantiate.observe(t0.elapsed());
        let r = instance.call_run(&mut store, &input).await?;
        if let Some((name, qinput)) = query {
            store.data_mut().cpu.reset();
            store.data_mut().random.begin_request(0);
            answer = Some(
                match instance.call_query(&mut store, &name, &qinput.0).await {
                    Ok(a) => Ok(a.map(Payload).map_err(failure_from_wit)),
                    Err(e) => Err(trap_reason(&e, &[])),
                },
            );
        }
        Ok::<_, wasmtime::Error>(r)
    }
    .await;
    let outcome = match result {
        Ok(Ok(output)) => RunOutcome::Returned(Ok(Payload(output))),
        Ok(Err(failure)) => RunOutcome::Returned(Err(failure_from_wit(failure))),
        Err(e) => match e.downcast::<HostStop>() {
            Ok(stop) => RunOutcome::Stopped(stop),
            Err(e) => {
                let tail = store.data().output.drain_lines(true);
                RunOutcome::Trapped(trap_reason(&e, &tail))
            }
        },
    };
    store.data_mut().flush_output(true);
    (outcome, answer, store.into_data().host)
}

/// Asks a workflow component which signal, query and update names it serves.
pub(in crate::wasm) async fn handler_names(
    engine: &Engine,
    pre: &WorkflowPre<WfState>,
    config: &SandboxConfig,
) -> Result<HandlerNames, crate::wasm::ModuleError> {
    let mut store = new_store(engine, config, 0, Box::new(NoHost));
    let call = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance.call_handlers(&mut store).await
    };
    let names = tokio::time::timeout(std::time::Duration::from_secs(10), call)
        .await
        .map_err(|_| {
            crate::wasm::ModuleError::Invalid("`handlers` did not return within 10 s".into())
        })?
        .map_err(|e| {
            crate::wasm::ModuleError::Invalid(format!(
                "`handlers` failed: {}",
                crate::wasm::error_chain(&e)
            ))
        })?;
    Ok(HandlerNames {
        signals: names.signals,
        queries: names.queries,
        updates: names.updates,
    })
}

/// The host of a guest that must not call the runtime (deploy-time inspection).
struct NoHost;

#[derive(Debug, thiserror::Error)]
#[error("the runtime is not available while the host inspects the component")]
struct NotRunning;

fn not_running<T>() -> Result<T, HostStop> {
    Err(HostStop(Box::new(NotRunning)))
}

impl WorkflowHost for NoHost {
    fn start_activity(
        &mut self,
        _: String,
        _: Payload,
        _: ActivityOptions,
    ) -> Result<u64, HostStop> {
        not_running()
    }
    fn start_timer(&mut self, _: u64) -> Result<u64, HostStop> {
        not_running()
    }
    fn cancel_activity(&mut self, _: u64) -> Result<(), HostStop> {
        not_running()
    }
    fn patched(&mut self, _: String) -> Result<bool, HostStop> {
        not_running()
    }
    fn upsert_search_attributes(
        &mut self,
        _: crate::model::search::SearchChanges,
    ) -> Result<(), HostStop> {
        not_running()
    }
    fn upsert_memo(&mut self, _: crate::model::search::MemoChanges) -> Result<(), HostStop> {
        not_running()
    }
    fn search_state(
        &self,
    ) -> (
        crate::model::search::SearchAttributes,
        crate::model::search::Memo,
    ) {
        Default::default()
    }
    fn receive_signal(&mut self, _: String) -> Result<u64, HostStop> {
        not_running()
    }
    fn try_receive_signal(&mut self, _: String) -> Result<Option<Payload>, HostStop> {
        not_running()
    }
    fn activity_failure(&self, _: u64) -> Option<crate::model::ActivityFailureInfo> {
        None
    }
    fn send_external(
        &mut self,
        _: super::External,
        _: String,
        _: Payload,
        _: bool,
    ) -> Result<u64, HostStop> {
        not_running()
    }
    fn start_child(
        &mut self,
        _: String,
        _: Payload,
        _: Option<String>,
        _: ParentClosePolicy,
        _: crate::model::IdReusePolicy,
        _: Option<crate::model::CancellationType>,
    ) -> Result<u64, HostStop> {
        not_running()
    }
    fn continue_as_new(&mut self, _: Payload) -> HostStop {
        HostStop(Box::new(NotRunning))
    }
    fn history_info(&self) -> (u64, bool) {
        (0, false)
    }
    fn wait(
        &mut self,
        _: Vec<u64>,
    ) -> Pin<Box<dyn Future<Output = Result<Delivery, HostStop>> + Send + '_>> {
        Box::pin(async { not_running() })
    }
    fn respond(&mut self, _: u64, _: Result<Payload, Failure>) -> Result<(), HostStop> {
        not_running()
    }
    fn complete_update(&mut self, _: String, _: Result<Payload, Failure>) -> Result<(), HostStop> {
        not_running()
    }
    fn now_ms(&self) -> u64 {
        0
    }
    fn random(&mut self) -> u64 {
        0
    }
    fn log(&mut self, _: LogLevel, _: &str) {}
    fn info(&self) -> WorkflowInfo {
        WorkflowInfo {
            workflow_type: String::new(),
            execution_id: String::new(),
            module: String::new(),
            started_at_ms: 0,
        }
    }
}

/// A trap as a person should read it: the guest's own words first (a Rust
/// panic's message and place, a Python exception and its line, a
/// JavaScript error), then what the sandbox saw.
pub(in crate::wasm) fn trap_reason(e: &wasmtime::Error, output_tail: &[String]) -> String {
    let root = e.root_cause();
    let cause = if let Some(d) = root.downcast_ref::<CpuDeadlineExceeded>() {
        d.to_string()
    } else if let Some(m) = root.downcast_ref::<MemoryLimitExceeded>() {
        m.to_string()
    } else if let Some(b) = root.downcast_ref::<BlockedOnClock>() {
        b.to_string()
    } else if let Some(t) = root.downcast_ref::<wasmtime::Trap>() {
        match t {
            wasmtime::Trap::StackOverflow => {
                "the guest overflowed its stack (unbounded recursion?)".to_owned()
            }
            wasmtime::Trap::MemoryOutOfBounds => "the guest trapped: it accessed memory out of \
                 bounds (a stack overflow of a guest whose stack lives in linear memory, such as \
                 unbounded recursion in Rust, or a bug in unsafe code)"
                .to_owned(),
            other => format!("the guest trapped: {other}"),
        }
    } else {
        format!("the guest stopped: {}", crate::wasm::error_chain(e))
    };
    match guest_words(output_tail) {
        Some(words) => format!("{words} ({cause})"),
        None => cause,
    }
}

/// What the guest said as it failed, from the last lines of its output.
fn guest_words(tail: &[String]) -> Option<String> {
    let lines: Vec<&str> = tail
        .iter()
        .map(|l| l.trim())
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with `RUST_BACKTRACE"))
        .collect();
    if lines.is_empty() {
        return None;
    }
    // The SDKs say what crashed and where on a line of their own:
    // `weft: the workflow crashed: KeyError: 'x' (at app.py:12 in run)`.
    if let Some(line) = lines
        .iter()
        .rev()
        .map(|l| l.trim_matches('"'))
        .find(|l| l.starts_with("weft: "))
    {
        return Some(line["weft: ".len()..].replace("\\\"", "\""));
    }
    // Rust: `thread '<unnamed>' panicked at FILE:LINE:COL:`, then the message.
    if let Some(i) = lines.iter().rposition(|l| l.contains("panicked at ")) {
        let line = lines[i];
        let at = &line[line.find("panicked at ").unwrap_or(0)..];
        let message = lines[i + 1..].join(" | ");
        return Some(format!("{} {message}", at.trim_end()).trim().to_owned());
    }
    // Python: a traceback ends with the exception; its last frame says where.
    if let Some(i) = lines.iter().rposition(|l| l.starts_with("Traceback")) {
        let exception = lines.last().copied().unwrap_or_default();
        let frame = lines[i..].iter().rev().find(|l| l.starts_with("File "));
        return Some(match frame {
            Some(f) => format!("{exception} ({f})"),
            None => exception.to_owned(),
        });
    }
    // Otherwise (JavaScript prints the error, then its stack): the first of
    // the last few lines that names an error, else the last lines.
    let last = &lines[lines.len().saturating_sub(5)..];
    Some(match last.iter().find(|l| l.contains("Error")) {
        Some(e) => (*e).to_owned(),
        None => last.join(" | "),
    })
}
