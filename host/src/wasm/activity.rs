//! The activity world: ordinary WASI with only the doors the operator opened,
//! output captured, and a wall-clock limit on each attempt. An instance that
//! served an attempt cleanly serves later ones of its module; a trap or a
//! timeout drops it.

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::activity::weft::workflow::{activity_context, types};
use super::bindings::activity::{Activity, ActivityPre};
use super::http::{HttpGate, MayAct};
use super::limits::MemoryLimiter;
use super::wasi::{self, Capture};
use super::{ModuleError, SandboxConfig};
use crate::model::{Doors, Failure, Payload};
use tokio::sync::OwnedSemaphorePermit;

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
    /// Asked before each outgoing HTTP request goes out.
    pub may_act: MayAct,
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
            may_act: None,
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

/// An activity instance between two attempts: it served one without
/// trapping or timing out, so the next attempt of the same module may run
/// in it instead of a fresh one (like a worker process serving task after
/// task). Holds its pool slot.
pub(super) struct Warm {
    store: Store<ActState>,
    instance: Activity,
    output: Capture,
    doors: Doors,
    uses: u32,
    parked_at: std::time::Instant,
    _slot: Option<OwnedSemaphorePermit>,
}

/// Attempts one instance serves before it is dropped for a fresh one, so
/// whatever a guest leaks between attempts stays bounded.
const MAX_USES: u32 = 1_000;

impl Warm {
    /// Marks it idle from now.
    pub(super) fn park(&mut self) {
        self.parked_at = std::time::Instant::now();
    }

    pub(super) fn idle_for(&self) -> Duration {
        self.parked_at.elapsed()
    }

    /// Whether it may serve an attempt with these doors (the module's doors
    /// are set at deploy, but a redeploy may open others).
    pub(super) fn fits(&self, doors: &Doors) -> bool {
        self.doors == *doors
    }
}

/// Runs one attempt, in `warm` if given, else in a fresh instance that holds
/// `slot`. Returns the instance when it may serve another attempt.
pub(super) async fn run(
    engine: &Engine,
    pre: &ActivityPre<ActState>,
    config: &SandboxConfig,
    call: ActivityCall,
    warm: Option<Warm>,
    slot: Option<OwnedSemaphorePermit>,
) -> (ActivityOutcome, Vec<String>, Option<Warm>) {
    let name = call.info.name.clone();
    let output = match &warm {
        Some(w) => w.output.clone(),
        None => Capture::new(config.output_cap),
    };
    let attempt = async {
        let mut w = match warm {
            Some(w) => w,
            None => {
                let t0 = std::time::Instant::now();
                let output = output.clone();
                let mut store = new_store(engine, config, None, None, &output, &call.doors)?;
                let instance = pre
                    .instantiate_async(&mut store)
                    .await
                    .map_err(|e| super::workflow::trap_reason(&e, &[]))?;
                crate::metrics::get()
                    .activity_instantiate
                    .observe(t0.elapsed());
                Warm {
                    store,
                    instance,
                    output,
                    doors: call.doors.clone(),
                    uses: 0,
                    parked_at: std::time::Instant::now(),
                    _slot: slot,
                }
            }
        };
        w.uses += 1;
        let data = w.store.data_mut();
        data.info = Some(call.info.clone());
        data.heartbeat = Some(call.heartbeat.clone());
        data.gate.may_act = Some(call.may_act.clone());
        // Yield at every tick so that the attempt's timeout can cancel a busy
        // guest.
        w.store.set_epoch_deadline(1);
        match w
            .instance
            .call_execute(&mut w.store, &name, &call.input.0)
            .await
        {
            Ok(r) => Ok((r, w)),
            // The guest's last words (a panic's message) go into the
            // failure, not only into the log.
            Err(e) => Err(super::workflow::trap_reason(&e, &w.output.tail_lines())),
        }
    };
    // An instance that trapped or was stopped mid-call is dropped with
    // whatever state it was in.
    let (outcome, warm) = match tokio::time::timeout(call.timeout, attempt).await {
        Err(_) => (ActivityOutcome::TimedOut(call.timeout), None),
        Ok(Err(reason)) => (ActivityOutcome::Trapped(reason), None),
        Ok(Ok((result, mut w))) => {
            let outcome = ActivityOutcome::Returned(match result {
                Ok(out) => Ok(Payload(out)),
                Err(f) => Err(Failure {
                    kind: f.kind,
                    message: f.message,
                    details: f.details.map(|d| {
                        serde_json::from_slice(&d).unwrap_or_else(|_| Payload(d).to_json())
                    }),
                    non_retryable: f.non_retryable,
                }),
            });
            let data = w.store.data_mut();
            data.info = None;
            data.heartbeat = None;
            data.gate.may_act = None;
            (outcome, (w.uses < MAX_USES).then_some(w))
        }
    };
    (outcome, output.drain_lines(true), warm)
}
