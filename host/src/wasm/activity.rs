//! The activity world: one fresh instance per attempt, ordinary WASI with no
//! doors opened, output captured, and a wall-clock limit on the attempt.

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::activity::weft::workflow::{activity_context, types};
use super::bindings::activity::{Activity, ActivityPre};
use super::http::HttpGate;
use super::limits::MemoryLimiter;
use super::wasi::{self, Capture};
use super::{ModuleError, SandboxConfig};
use crate::model::{Doors, Failure, Payload};

#[derive(Debug, Clone)]
pub struct ActivityInfo {
    pub execution_id: String,
    pub activity_handle: u64,
    pub name: String,
    pub attempt: u32,
    pub idempotency_key: String,
    /// The last heartbeat details of an earlier attempt.
    pub heartbeat_details: Option<Payload>,
}

/// Receives an attempt's heartbeats; answers whether it was cancelled.
pub type HeartbeatSink = std::sync::Arc<dyn Fn(Option<Payload>) -> bool + Send + Sync>;

#[derive(Clone)]
pub struct ActivityCall {
    pub input: Payload,
    pub info: ActivityInfo,
    pub timeout: Duration,
    pub heartbeat: HeartbeatSink,
    /// What the component may reach (opened at deploy).
    pub doors: Doors,
}

#[derive(Debug)]
pub enum ActivityOutcome {
    Returned(Result<Payload, Failure>),
    Trapped(String),
    TimedOut(Duration),
}

pub struct ActState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    gate: HttpGate,
    table: ResourceTable,
    info: Option<ActivityInfo>,
    heartbeat: Option<HeartbeatSink>,
    memory: MemoryLimiter,
}

impl WasiView for ActState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ActState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.gate,
        }
    }
}

impl types::Host for ActState {}

impl activity_context::Host for ActState {
    fn info(&mut self) -> wasmtime::Result<activity_context::ActivityInfo> {
        let Some(i) = self.info.clone() else {
            wasmtime::bail!("activity-context.info is only available while an activity runs");
        };
        Ok(activity_context::ActivityInfo {
            execution_id: i.execution_id,
            activity_handle: i.activity_handle,
            name: i.name,
            attempt: i.attempt,
            idempotency_key: i.idempotency_key,
            heartbeat_details: i.heartbeat_details.map(|p| p.0),
        })
    }

    fn heartbeat(&mut self, details: Option<Vec<u8>>) -> wasmtime::Result<bool> {
        let Some(sink) = &self.heartbeat else {
            wasmtime::bail!("activity-context.heartbeat is only available while an activity runs");
        };
        Ok(sink(details.map(Payload)))
    }
}

pub(super) fn linker(engine: &Engine) -> wasmtime::Result<Linker<ActState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Activity::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    Ok(linker)
}

fn new_store(
    engine: &Engine,
    config: &SandboxConfig,
    info: Option<ActivityInfo>,
    heartbeat: Option<HeartbeatSink>,
    output: &Capture,
    doors: &Doors,
) -> Result<Store<ActState>, String> {
    let state = ActState {
        wasi: wasi::activity_ctx(output, doors)?,
        http: WasiHttpCtx::new(),
        gate: HttpGate {
            allowed: doors.http.clone(),
        },
        table: ResourceTable::new(),
        info,
        heartbeat,
        memory: MemoryLimiter {
            max_bytes: config.memory_limit_bytes,
        },
    };
    let mut store = Store::new(engine, state);
    store.limiter(|s| &mut s.memory);
    // Yield at every tick so that the attempt's timeout can cancel a busy guest.
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(|_| Ok(UpdateDeadline::Yield(1)));
    Ok(store)
}

/// Asks an activity component for the names it serves.
pub(super) async fn list(
    engine: &Engine,
    pre: &ActivityPre<ActState>,
    config: &SandboxConfig,
) -> Result<Vec<String>, ModuleError> {
    let output = Capture::new(config.output_cap);
    let mut store = new_store(engine, config, None, None, &output, &Doors::default())
        .map_err(ModuleError::ActivityList)?;
    let call = async {
        let instance = pre.instantiate_async(&mut store).await?;
        instance.call_activities(&mut store).await
    };
    let names = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .map_err(|_| ModuleError::ActivityList("`activities` did not return within 10 s".into()))?
        .map_err(|e| ModuleError::ActivityList(super::error_chain(&e)))?;
    if names.is_empty() {
        return Err(ModuleError::ActivityList("it serves no activities".into()));
    }
    Ok(names)
}

pub(super) async fn run(
    engine: &Engine,
    pre: &ActivityPre<ActState>,
    config: &SandboxConfig,
    call: ActivityCall,
) -> (ActivityOutcome, Vec<String>) {
    let output = Capture::new(config.output_cap);
    let t0 = std::time::Instant::now();
    let mut store = match new_store(
        engine,
        config,
        Some(call.info.clone()),
        Some(call.heartbeat.clone()),
        &output,
        &call.doors,
    ) {
        Ok(s) => s,
        Err(reason) => return (ActivityOutcome::Trapped(reason), Vec::new()),
    };
    let name = call.info.name.clone();
    let attempt = async {
        let instance = pre.instantiate_async(&mut store).await?;
        crate::metrics::ACTIVITY_INSTANTIATE_LATENCY.observe(t0.elapsed());
        instance
            .call_execute(&mut store, &name, &call.input.0)
            .await
    };
    let outcome = match tokio::time::timeout(call.timeout, attempt).await {
        Err(_) => ActivityOutcome::TimedOut(call.timeout),
        Ok(Ok(Ok(out))) => ActivityOutcome::Returned(Ok(Payload(out))),
        Ok(Ok(Err(f))) => ActivityOutcome::Returned(Err(Failure {
            kind: f.kind,
            message: f.message,
            details: f
                .details
                .map(|d| serde_json::from_slice(&d).unwrap_or_else(|_| Payload(d).to_json())),
            non_retryable: f.non_retryable,
        })),
        Ok(Err(e)) => ActivityOutcome::Trapped(super::workflow::trap_reason(&e, &[])),
    };
    (outcome, output.drain_lines(true))
}
