//! The sandbox: wasmtime's Engine and Linkers, the compiled-component cache,
//! the workflow imports, deterministic WASI and limits. The only module that
//! touches wasmtime; it knows nothing of the store or of histories. The engine
//! drives a workflow through the [`WorkflowHost`] trait and gets back a
//! [`RunOutcome`]; no wasmtime type crosses this border.

mod activity;
mod bindings;
mod http;
pub mod inspect;
mod limits;
mod pool;
mod random;
mod wasi;
mod workflow;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};

pub use activity::{ActivityCall, ActivityInfo, ActivityOutcome, HeartbeatSink};
pub use http::MayAct;
pub use pool::DEFAULT_KEEP_RESIDENT;
pub use random::{Seeding, GENERATOR as RANDOM_GENERATOR};
pub use workflow::{
    Completion, Delivery, External, FinalAnswer, HandlerNames, HostStop, LogLevel, Request,
    RunOutcome, UpdateRequest, WorkflowHost, WorkflowInfo,
};

use crate::model::{ModuleHash, ModuleKind};

/// Why a module was refused. Each says what is wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error(
        "not a WebAssembly file (no `\\0asm` header): deploy a component built for wasm32-wasip2"
    )]
    NotWasm,
    #[error(
        "this is a core WebAssembly module, not a component: build with `--target wasm32-wasip2` \
         (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    #[error("the component is malformed or truncated: {0}")]
    Invalid(String),
    #[error(
        "the component targets neither weft world: a workflow exports `run`, an activity exports \
         `activities` and `execute` (this one exports: [{}])",
        exports.join(", ")
    )]
    UnknownWorld { exports: Vec<String> },
    #[error("the component imports something weft does not provide: {0}")]
    MissingImport(String),
    #[error(
        "the component was built against weft:workflow@{version} (it imports `{import}`), newer \
         than this host's contract, weft:workflow@{}: upgrade weft, or build it with the SDK and \
         WIT of this weft",
        inspect::CONTRACT_VERSION
    )]
    NewerContract { import: String, version: String },
    #[error(
        "the component does not have the exports of this host's workflow world ({0}): rebuild it \
         with the current weft SDK"
    )]
    MissingExport(String),
    #[error("the activity component failed to list its activities: {0}")]
    ActivityList(String),
    #[error(
        "cannot set up the instance pool of {slots} slots ({reason}): lower --max-instances, or \
         start the host with --instance-pool 0 to allocate instances one by one"
    )]
    Pool { slots: u32, reason: String },
}

/// What deploying a component found in it.
#[derive(Debug, Clone)]
pub enum Inspected {
    Workflow(HandlerNames),
    /// The activity names it serves.
    Activity(Vec<String>),
}

/// Host-wide sandbox settings.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where compiled components are cached, so a restart does not recompile.
    pub cache_dir: PathBuf,
    pub cpu_deadline: Duration,
    pub memory_limit_bytes: usize,
    /// Cap on a guest's captured stdout/stderr between two flushes.
    pub output_cap: usize,
    /// Instances that may be alive at once, each in a slot of a pool set up
    /// once (memory, tables, stack); 0 allocates each instance on its own.
    pub pool_slots: u32,
    /// Bytes of each memory and table of a freed slot reset in place (the
    /// pages the last instance wrote, found with `PAGEMAP_SCAN`) instead of
    /// dropped; 0 drops them all.
    pub keep_resident: usize,
}

/// A compiled component with its pre-linked instance template.
#[derive(Clone)]
struct Loaded {
    kind: ModuleKind,
    /// The newest `weft:workflow` contract it imports.
    contract: Option<String>,
    workflow: Option<bindings::workflow::WorkflowPre<workflow::WfState>>,
    activity: Option<bindings::activity::ActivityPre<activity::ActState>>,
}

pub struct Runtime {
    engine: Engine,
    workflow_linker: Linker<workflow::WfState>,
    activity_linker: Linker<activity::ActState>,
    config: SandboxConfig,
    cache: Mutex<HashMap<ModuleHash, Loaded>>,
    stop_ticker: Arc<AtomicBool>,
    /// The pool's slots and the activity instances kept in them.
    slots: Arc<pool::Slots>,
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    pub fn new(config: SandboxConfig) -> Result<Arc<Self>, ModuleError> {
        let mut wc = Config::new();
        // Reproducible execution: the same code on the same inputs computes
        // the same bits on every host.
        wc.wasm_component_model(true)
            .epoch_interruption(true)
            .cranelift_nan_canonicalization(true)
            .relaxed_simd_deterministic(true);
        if std::env::var_os("WEFT_PERFMAP").is_some() {
            wc.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        // A guest's stack is not captured when an error leaves it: every
        // eviction of a blocked instance leaves it by an error of the host
        // (`HostStop`), and the capture (a lookup per frame) cost about 4 %
        // of a host's CPU per start. What a guest said as it failed comes
        // from its output and the trap's own words, which need no capture.
        // `WEFT_WASM_BACKTRACE` set keeps them, for a developer reading
        // "the guest stopped: ..." messages.
        if std::env::var_os("WEFT_WASM_BACKTRACE").is_none() {
            wc.wasm_backtrace_max_frames(None);
        }
        if config.pool_slots > 0 {
            wc.allocation_strategy(pool::strategy(config.pool_slots, config.keep_resident));
        }
        // Threads are not compiled into this build of wasmtime at all.
        let engine = Engine::new(&wc).map_err(|e| match config.pool_slots {
            0 => ModuleError::Invalid(error_chain(&e)),
            slots => ModuleError::Pool {
                slots,
                reason: error_chain(&e),
            },
        })?;
        let workflow_linker =
            workflow::linker(&engine).map_err(|e| ModuleError::Invalid(e.to_string()))?;
        let activity_linker =
            activity::linker(&engine).map_err(|e| ModuleError::Invalid(e.to_string()))?;
        let stop_ticker = Arc::new(AtomicBool::new(false));
        let slots = Arc::new(pool::Slots::new(config.pool_slots));
        {
            let engine = engine.clone();
            let stop = stop_ticker.clone();
            let slots = slots.clone();
            std::thread::Builder::new()
                .name("weft-epoch".into())
                .spawn(move || {
                    let mut ticks: u32 = 0;
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(limits::EPOCH_TICK);
                        engine.increment_epoch();
                        ticks = ticks.wrapping_add(1);
                        if ticks.is_multiple_of(100) {
                            slots.expire_idle();
                        }
                    }
                })
                .map_err(|e| ModuleError::Invalid(e.to_string()))?;
        }
        let _ = std::fs::create_dir_all(&config.cache_dir);
        Ok(Arc::new(Self {
            engine,
            workflow_linker,
            activity_linker,
            cache: Mutex::new(HashMap::new()),
            stop_ticker,
            slots,
            config,
        }))
    }

    /// Compiles (or loads from the cache) and classifies a component, checks
    /// that every import is provided, and for an activity component asks it
    /// which activities it serves; with the newest `weft:workflow`
    /// contract it imports.
    pub async fn inspect(
        &self,
        hash: &ModuleHash,
        bytes: &[u8],
    ) -> Result<(Inspected, Option<String>), ModuleError> {
        inspect::check_header(bytes)?;
        let loaded = self.load(hash, || Ok(bytes.to_vec())).await?;
        let _slot = self.slots.take().await;
        let inspected = match loaded.kind {
            ModuleKind::Workflow => {
                let pre = loaded
                    .workflow
                    .as_ref()
                    .expect("workflow modules have a workflow template");
                let handlers = workflow::handler_names(&self.engine, pre, &self.config).await?;
                Inspected::Workflow(handlers)
            }
            ModuleKind::Activity => {
                let pre = loaded
                    .activity
                    .as_ref()
                    .expect("activity modules have an activity template");
                let names = activity::list(&self.engine, pre, &self.config).await?;
                Inspected::Activity(names)
            }
        };
        Ok((inspected, loaded.contract.clone()))
    }

    async fn load(
        &self,
        hash: &ModuleHash,
        bytes: impl FnOnce() -> Result<Vec<u8>, ModuleError>,
    ) -> Result<Loaded, ModuleError> {
        if let Some(l) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(hash)
        {
            return Ok(l.clone());
        }
        let component = self.compile(hash, bytes).await?;
        let kind = inspect::classify(&self.engine, &component)?;
        let contract = inspect::contract_needed(&self.engine, &component);
        let missing = |e: wasmtime::Error| match inspect::newer_contract(&self.engine, &component) {
            Some((import, version)) => ModuleError::NewerContract { import, version },
            None => ModuleError::MissingImport(error_chain(&e)),
        };
        let loaded = match kind {
            ModuleKind::Workflow => {
                let pre = self
                    .workflow_linker
                    .instantiate_pre(&component)
                    .map_err(missing)?;
                let pre = bindings::workflow::WorkflowPre::new(pre)
                    .map_err(|e| ModuleError::MissingExport(error_chain(&e)))?;
                Loaded {
                    kind,
                    contract: contract.clone(),
                    workflow: Some(pre),
                    activity: None,
                }
            }
            ModuleKind::Activity => {
                let pre = self
                    .activity_linker
                    .instantiate_pre(&component)
                    .map_err(missing)?;
                let pre = bindings::activity::ActivityPre::new(pre).map_err(missing)?;
                Loaded {
                    kind,
                    contract,
                    workflow: None,
                    activity: Some(pre),
                }
            }
        };
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(*hash, loaded.clone());
        Ok(loaded)
    }

    /// Compiles a component into `cache_dir` (a standby does, so that the
    /// first step after it takes the store does not wait for a compile).
    pub async fn precompile(&self, hash: &ModuleHash, bytes: Vec<u8>) -> Result<(), ModuleError> {
        self.compile(hash, move || Ok(bytes)).await.map(drop)
    }

    /// Compiles a component, or loads the machine code compiled by an earlier
    /// run of this host from `cache_dir`.
    async fn compile(
        &self,
        hash: &ModuleHash,
        bytes: impl FnOnce() -> Result<Vec<u8>, ModuleError>,
    ) -> Result<Component, ModuleError> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut h);
        let path = self
            .config
            .cache_dir
            .join(format!("{hash}-{:016x}.cwasm", h.finish()));
        if path.exists() {
            // SAFETY: the file was written by `Component::serialize` of an
            // engine with the same compatibility hash, into the cache
            // directory the operator gave this host (its data directory by
            // default); deserialize still checks the header and refuses an
            // incompatible or damaged file, in which case we recompile.
            match unsafe { Component::deserialize_file(&self.engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "ignoring unusable compiled cache entry")
                }
            }
        }
        let bytes = bytes()?;
        inspect::check_header(&bytes)?;
        let engine = self.engine.clone();
        let component = tokio::task::spawn_blocking(move || Component::new(&engine, &bytes))
            .await
            .map_err(|e| ModuleError::Invalid(e.to_string()))?
            .map_err(|e| ModuleError::Invalid(error_chain(&e)))?;
        match component.serialize() {
            Ok(code) => {
                // Every write has its own file (hosts share caches, and one
                // host may compile a module twice at once), renamed into
                // place: a reader never sees a partial file.
                static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = WRITES.fetch_add(1, Ordering::Relaxed);
                let tmp = path.with_extension(format!("{}-{n}.tmp", std::process::id()));
                if std::fs::write(&tmp, code)
                    .and_then(|_| std::fs::rename(&tmp, &path))
                    .is_err()
                {
                    tracing::warn!(path = %path.display(), "could not write the compiled-component cache");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not serialize a compiled component"),
        }
        Ok(component)
    }

    /// Runs a workflow's `run` from the start: fresh or replaying, the host
    /// decides what each import answers. The host comes back with the outcome
    /// so the engine can read what the run left behind. `seeding` is what the
    /// run's `execution_started` recorded (a bare seed: no generator id); a
    /// generator this host does not have is refused as a trap.
    pub async fn run_workflow(
        &self,
        hash: &ModuleHash,
        bytes: impl FnOnce() -> Result<Vec<u8>, ModuleError>,
        input: Vec<u8>,
        seeding: impl Into<Seeding>,
        host: Box<dyn WorkflowHost>,
    ) -> (RunOutcome, Box<dyn WorkflowHost>) {
        let loaded = match self.load(hash, bytes).await {
            Ok(l) => l,
            Err(e) => return (RunOutcome::NotLoaded(e), host),
        };
        let Some(pre) = loaded.workflow else {
            return (
                RunOutcome::Trapped(format!("module {hash} is not a workflow component")),
                host,
            );
        };
        let _slot = self.slots.take().await;
        workflow::run(
            &self.engine,
            &pre,
            &self.config,
            input,
            seeding.into(),
            host,
        )
        .await
    }

    /// Replays a closed execution to its end on a fresh instance, then asks
    /// it `name` (answered from the final state).
    pub async fn query_closed(
        &self,
        hash: &ModuleHash,
        bytes: impl FnOnce() -> Result<Vec<u8>, ModuleError>,
        input: Vec<u8>,
        seeding: impl Into<Seeding>,
        host: Box<dyn WorkflowHost>,
        query: (String, crate::model::Payload),
    ) -> (RunOutcome, Option<FinalAnswer>, Box<dyn WorkflowHost>) {
        let pre = match self.load(hash, bytes).await {
            Ok(Loaded {
                workflow: Some(pre),
                ..
            }) => pre,
            Ok(_) => {
                return (
                    RunOutcome::Trapped(format!("module {hash} is not a workflow component")),
                    None,
                    host,
                )
            }
            Err(e) => {
                return (
                    RunOutcome::Trapped(format!("module {hash} cannot be loaded: {e}")),
                    None,
                    host,
                )
            }
        };
        let _slot = self.slots.take().await;
        workflow::run_then_query(
            &self.engine,
            &pre,
            &self.config,
            input,
            seeding.into(),
            host,
            Some(query),
        )
        .await
    }

    /// Whether `hash` is compiled and kept already (a lookup, no clone).
    pub fn is_loaded(&self, hash: &ModuleHash) -> bool {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(hash)
    }

    /// Compiles and keeps a module ahead of its use, so that a caller can
    /// tell a module it cannot load now from a run that failed.
    pub async fn prepare(
        &self,
        hash: &ModuleHash,
        bytes: impl FnOnce() -> Result<Vec<u8>, ModuleError>,
    ) -> Result<(), ModuleError> {
        self.load(hash, bytes).await.map(|_| ())
    }

    /// Runs one attempt of an activity.
    pub async fn run_activity(
        &self,
        hash: &ModuleHash,
        bytes: impl FnOnce() -> Result<Vec<u8>, ModuleError>,
        call: ActivityCall,
    ) -> (ActivityOutcome, Vec<String>) {
        let loaded = match self.load(hash, bytes).await {
            Ok(l) => l,
            Err(e) => {
                return (
                    ActivityOutcome::Trapped(format!("module {hash} cannot be loaded: {e}")),
                    Vec::new(),
                )
            }
        };
        let Some(pre) = loaded.activity else {
            return (
                ActivityOutcome::Trapped(format!("module {hash} is not an activity component")),
                Vec::new(),
            );
        };
        let warm = self.slots.take_idle(hash, &call.doors);
        if warm.is_some() {
            crate::metrics::get().activity_instances_reused.inc();
        }
        // The slot is taken before the attempt's time starts running.
        let slot = match warm {
            Some(_) => None,
            None => self.slots.take().await,
        };
        let (outcome, lines, warm) =
            activity::run(&self.engine, &pre, &self.config, call, warm, slot).await;
        if let Some(w) = warm {
            self.slots.park(*hash, w);
        }
        (outcome, lines)
    }
}

/// An error and its causes on one line.
fn error_chain(e: &wasmtime::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}
