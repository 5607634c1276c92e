//! The engine: executions and their workflow tasks, replay and command
//! matching, timers, activity dispatch and retries. It owns the rules; the
//! store keeps the record and the sandbox runs the code. Nothing of redb,
//! wasmtime or axum crosses into or out of it.

mod activities;
mod again;
mod children;
mod clock;
mod driver;
mod error;
mod execution;
mod external;
mod heartbeats;
mod interact;
mod lifecycle;
mod listing;
mod logs;
mod mailbox;
mod modules;
mod offline;
pub mod query;
mod queues;
mod reads;
mod recovery;
pub mod replay;
mod reset;
mod retention;
pub mod schedules;
mod search;
mod settled;
mod skip;
mod timers;
mod turns;
mod unpolled;
mod versions;
mod warm;
mod worker_tasks;

pub use warm::warm_compile_cache;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, watch, Semaphore};

use activities::ActivityKey;
pub use activities::{pending as pending_activities, ActivityTask};
pub use clock::Clock;
pub use error::EngineError;
pub use external::{NotRelayed, Relay};
pub use interact::{SignalReceipt, SignalSent, UpdateOutcome, UpdateStatus};
pub use lifecycle::{StartOptions, Started};
pub use queues::TaskPlace;
pub use reads::{ExecutionView, PendingActivityView};

/// Whether a drain waits for the tasks workers took to be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    /// The host stops: a worker answering only this host could not reach
    /// the next holder after it.
    Wait,
    /// The host hands one partition over and keeps serving: a worker's
    /// answer reaches the partition's next holder through it, under the
    /// same token.
    Leave,
}

/// What a drain left running when its limit passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unfinished {
    /// Activity attempts this host ran: the next holder runs them again.
    pub attempts: usize,
    /// Tasks workers took and have not answered: their tokens stay valid
    /// at the next holder, which takes their answers.
    pub tasks: usize,
}

pub use listing::{ListFilter, ListPage, MAX_PAGE};
pub use logs::LogLine;
pub use modules::Deployed;
pub use modules::Pruned;
pub use offline::{replay as replay_offline, ReplayReport};
pub use queues::{StaleToken, WorkerTask};
pub use reset::ResetReport;
pub use skip::{Held, Quiet, Skip};
pub use timers::TimerQueue;
pub use unpolled::{OnUnpolled, PollStop};
pub use versions::{UpgradeItem, UpgradeOutcome, UpgradeReport, VersionView};
pub use worker_tasks::AnswerRefused;

use crate::model::{ExecutionId, ModuleHash, ModuleMeta, Payload, RetryPolicy, TypeName};
use crate::store::{Op, Store, StoreError, StoredClock};
use crate::wasm::{Runtime, SandboxConfig};

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub data_dir: PathBuf,
    /// A PostgreSQL address to keep the store in (default: the redb file
    /// in `data_dir`).
    pub store: Option<String>,
    /// Compiled components, by content hash (default: DATA/compiled).
    pub compile_cache: PathBuf,
    /// Time is moved by `advance` instead of passing (tests, demos).
    pub manual_clock: bool,
    /// An instance blocked this long with nothing to do is dropped from
    /// memory and replayed when it wakes.
    pub evict_after: Duration,
    pub cpu_deadline: Duration,
    pub memory_limit_bytes: usize,
    /// Default start-to-close limit of one activity attempt.
    pub activity_timeout: Duration,
    pub default_retry: RetryPolicy,
    pub max_concurrent_activities: usize,
    /// Workflow instances in memory at once; a load past it waits while
    /// idle instances are evicted. Bounds memory and the address space a
    /// burst (a recovery of thousands) may take.
    pub max_instances: usize,
    /// Slots of the sandbox's instance pool; `None` sizes it for
    /// `max_instances` workflows, `max_concurrent_activities` attempts and
    /// [`POOL_SPARE_SLOTS`] more; 0 allocates each instance on its own.
    pub instance_pool: Option<u32>,
    /// Bytes of each memory and table of a freed pool slot kept mapped and
    /// reset in place (`--pool-keep-resident-kb`).
    pub keep_resident: usize,
    pub max_module_bytes: usize,
    /// Largest payload (an input, an output, a signal) the host accepts.
    pub max_payload_bytes: usize,
    /// A run past this many events is told to continue as new.
    pub history_warn_events: u64,
    /// A run past this many events, or bytes, is terminated.
    pub history_max_events: u64,
    pub history_max_bytes: u64,
    /// How long a closed execution is kept (unless its type sets its own),
    /// and a start's request id remembered (a retried start within it
    /// answers with the run the first one started): one window.
    pub retention: Duration,
    /// Total input bytes of one workflow task's new commands.
    pub max_task_bytes: usize,
    /// Activities, and children, an execution may have pending (each).
    pub max_pending: usize,
    /// Activities sent to a task queue whatever their options say, by name
    /// (`--route-activity NAME=QUEUE`): test environments serve them with
    /// mocks on a private queue.
    pub activity_queues: HashMap<String, String>,
}

/// Pool slots beyond workflows and activity attempts: queries on closed
/// executions, upgrade dry runs, deploy-time inspection.
pub const POOL_SPARE_SLOTS: usize = 64;

impl EngineConfig {
    /// The instance pool's size (see [`EngineConfig::instance_pool`]).
    pub fn pool_slots(&self) -> u32 {
        self.instance_pool.unwrap_or_else(|| {
            let n = self.max_instances.max(1) + self.max_concurrent_activities.max(1);
            u32::try_from(n + POOL_SPARE_SLOTS).unwrap_or(u32::MAX)
        })
    }

    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            compile_cache: data_dir.join("compiled"),
            data_dir,
            store: None,
            manual_clock: false,
            evict_after: Duration::from_secs(10),
            cpu_deadline: Duration::from_secs(5),
            memory_limit_bytes: 256 << 20,
            activity_timeout: Duration::from_secs(300),
            default_retry: RetryPolicy::default(),
            max_concurrent_activities: 256,
            max_instances: 2_000,
            instance_pool: None,
            keep_resident: crate::wasm::DEFAULT_KEEP_RESIDENT,
            max_module_bytes: 100 << 20,
            max_payload_bytes: 2 << 20,
            history_warn_events: 10_240,
            history_max_events: 51_200,
            history_max_bytes: 50 << 20,
            retention: Duration::from_secs(7 * 24 * 3600),
            max_task_bytes: 16 << 20,
            max_pending: 2_000,
            activity_queues: HashMap::new(),
        }
    }
}

/// What an execution's instance is told.
pub(crate) enum Msg {
    /// Its history grew.
    Wake,
    /// Its history grew by these events, committed at their indices in
    /// that epoch and run (an instance that holds the history up to the
    /// first takes them without reading them back).
    Appended(Appended),
    /// A query or an update validation to answer at its next wait.
    Request(PendingRequest),
}

pub(crate) struct Appended {
    pub epoch: u32,
    pub run_start: u64,
    pub events: Vec<crate::model::Event>,
}

pub(crate) struct PendingRequest {
    pub kind: RequestKind,
    pub name: String,
    pub input: Payload,
    pub reply: tokio::sync::oneshot::Sender<Result<Payload, crate::model::Failure>>,
    /// Set by the instance that answers, as it begins to: its epoch and the
    /// index after the history it had then (an update is accepted only on
    /// that history).
    pub seen: Arc<std::sync::Mutex<Option<(u32, u64)>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestKind {
    Query,
    Validate,
}

pub(crate) struct Inner {
    /// Per execution, the turn of the update being validated and accepted
    /// (see [`turns::UpdateTurn`]).
    update_turns: turns::UpdateTurns,
    store: Store,
    /// The host's sandbox, shared by its engines (see [`HostParts`]).
    runtime: Arc<Runtime>,
    /// The host's clock, shared by its engines.
    clock: Clock,
    config: EngineConfig,
    /// Mailboxes of the executions that have an instance in memory.
    actors: Mutex<HashMap<ExecutionId, mpsc::UnboundedSender<mailbox::Mail>>>,
    timer_tx: mpsc::UnboundedSender<timers::ToTimers>,
    activity_slots: Semaphore,
    /// Set when the host hands its store over: no activity attempt starts
    /// any more (the next holder runs them); running ones finish.
    draining: watch::Sender<bool>,
    /// Set when the engine's partition is handed over to another host
    /// ([`Engine::close`]): its loops end and nothing loads any more.
    closed: watch::Sender<bool>,
    /// Set when the host stops: requests waiting for a result (an update's,
    /// a start's with `wait_ms`) are answered with where it stands, while
    /// the host still answers (their clients learn the ids to look again).
    stopping: watch::Sender<bool>,
    /// The host's workflow instances in memory, counted across its engines.
    budget: Arc<mailbox::InstanceBudget>,
    /// Serializes manual clock moves (stored, then applied), across the
    /// host's engines.
    clock_moves: Arc<tokio::sync::Mutex<()>>,
    /// Result waiters, woken when their execution closes or stalls.
    settled: settled::Settled,
    /// Executions moved to another module whose instance must load again.
    reloads: Mutex<std::collections::HashSet<ExecutionId>>,
    /// Executions waiting to be loaded again after a store failure (one
    /// wait each, however many wakes failed).
    loading_again: Mutex<std::collections::HashSet<ExecutionId>>,
    /// Bumped whenever an update completes (or its execution closes).
    updates: watch::Sender<u64>,
    queues: queues::TaskQueues,
    /// Stop switches of the activities running now.
    /// The activities running on this host by (execution, epoch, handle):
    /// an epoch is one run between resets, so the key names one scheduled
    /// activity, whichever run or reset scheduled it.
    activity_stops: Mutex<HashMap<ActivityKey, watch::Sender<activities::Halt>>>,
    /// What guests said lately (`weft logs`).
    logs: logs::Logs,
    schedules: schedules::Scheduler,
    /// Queries at a past event replay in fresh instances: two at a time.
    past_queries: Semaphore,
    /// What runs now, for time skipping: on a manual clock only (nothing
    /// is counted on a production host); counted across the host's engines.
    busy: Option<Arc<skip::Busy>>,
    /// The type of each search attribute name on this host.
    search_types: Arc<search::SearchTypes>,
    /// The host's engines by partition (a request to an execution of
    /// another partition goes through its engine).
    engines: Arc<external::Partitions>,
}

impl Inner {
    /// An execution closed, stalled or ran again: its result waiters and
    /// the schedule that started it look again.
    fn settled_changed(&self, id: &ExecutionId) {
        self.settled.changed(id);
        self.schedules.changed(id);
    }

    /// Refuses a payload over the configured limit.
    fn check_payload(&self, what: &str, p: &Payload) -> Result<(), EngineError> {
        if p.len() > self.config.max_payload_bytes {
            return Err(EngineError::TooLarge(format!(
                "{what} is {} bytes, over the limit of {} bytes (--max-payload-kb)",
                p.len(),
                self.config.max_payload_bytes
            )));
        }
        Ok(())
    }
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// What the engines of one host share, whichever part of a store each
/// runs: the sandbox (compiled components and the instance pool), the
/// budget of workflow instances in memory (a load waiting for a slot asks
/// idle instances of every engine to evict), the clock (a manual one moves
/// for all, one move at a time) and what time skipping counts.
#[derive(Clone)]
pub struct HostParts {
    runtime: Arc<Runtime>,
    clock: Clock,
    budget: Arc<mailbox::InstanceBudget>,
    busy: Option<Arc<skip::Busy>>,
    clock_moves: Arc<tokio::sync::Mutex<()>>,
    /// The custom search attributes' types (a shared table): one created
    /// through any engine is known to all.
    search_types: Arc<search::SearchTypes>,
    /// The engines of the partitions the host holds.
    engines: Arc<external::Partitions>,
    /// Who is told of the tasks no poll here waits for.
    unpolled: unpolled::Unpolled,
}

impl HostParts {
    /// Requests to partitions other hosts hold go through `relay` (the
    /// host keeps it while it runs; the engines hold it weakly). Set before
    /// the first engine opens: its recovery delivers what the outbox holds.
    pub fn relay_through(&self, relay: &Arc<dyn Relay>) {
        self.engines.relay_through(relay);
    }

    /// `tell` is told of each task queued that no worker's poll waits for
    /// here (a host of several announces it to the others). Set before the
    /// first engine opens: its recovery queues tasks.
    pub fn on_task_unpolled(&self, tell: OnUnpolled) {
        self.unpolled.set(tell);
    }

    /// The parts `config` asks for; the clock goes on from where `store`
    /// keeps it.
    pub async fn new(config: &EngineConfig, store: &Store) -> Result<Self, EngineError> {
        let runtime = Runtime::new(SandboxConfig {
            cache_dir: config.compile_cache.clone(),
            cpu_deadline: config.cpu_deadline,
            memory_limit_bytes: config.memory_limit_bytes,
            output_cap: 64 << 10,
            pool_slots: config.pool_slots(),
            keep_resident: config.keep_resident,
        })?;
        let clock = open_clock(store, config.manual_clock).await?;
        Ok(Self {
            runtime,
            busy: clock.is_manual().then(Arc::default),
            clock,
            budget: Arc::new(mailbox::InstanceBudget::new(config.max_instances)),
            clock_moves: Arc::default(),
            search_types: Arc::new(search::SearchTypes::load(store)?),
            engines: Arc::default(),
            unpolled: unpolled::Unpolled::default(),
        })
    }
}

/// The host's clock. A manual one goes on from where the store keeps it;
/// where the store has only a floor (nothing kept, or a system clock
/// stamped events since), from the system time if that is later, and the
/// store keeps that from then on. A system clock clears the mark, since the
/// events it stamps may be later than where the manual clock stood.
async fn open_clock(store: &Store, manual: bool) -> Result<Clock, EngineError> {
    let (clock, keep) = match (manual, store.manual_clock()?) {
        (true, StoredClock::Kept(ms)) => return Ok(Clock::manual_at(ms)),
        (true, StoredClock::AtLeast(ms)) => {
            let clock = Clock::manual(ms);
            let at = clock.now_ms();
            (clock, Some(at))
        }
        (false, StoredClock::Kept(ms)) => {
            tracing::warn!(
                manual_clock_ms = ms,
                "the store's clock is a manual clock (kept by a host started with \
                 --manual-clock), and this host runs on the system clock: executions see the \
                 system time from now on, and the manual time is no longer kept. Stop this host \
                 and start it with --manual-clock (every host of one store alike) to go on from \
                 the manual time"
            );
            (Clock::System, None)
        }
        (false, StoredClock::AtLeast(_)) => return Ok(Clock::System),
    };
    // A store that could not answer (a cut connection) is asked again: the
    // host does not give up its start for it.
    let mut again = again::Backoff::attempt();
    loop {
        match store.write(vec![Op::KeepManualClock { at_ms: keep }]).await {
            Ok(done) => return Ok(done.map(|()| clock)?),
            Err(StoreError::Io(e)) => {
                if again.is_first() {
                    tracing::warn!(error = %e, "cannot store where the clock stands yet; trying again");
                }
                again.wait().await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

impl Engine {
    /// Opens the store, then resumes everything that was in flight: timers
    /// are loaded, unfinished activities dispatched again, and every running
    /// execution replayed.
    pub async fn open(config: EngineConfig) -> Result<Self, EngineError> {
        let location = match &config.store {
            Some(address) => crate::store::Location::parse_store(address)?,
            None => crate::store::Location::Dir(config.data_dir.clone()),
        };
        let store = Store::open_at(&location)?;
        Self::open_on(config, store).await
    }

    /// Opens the engine on a store already open (a host that waited for
    /// its PostgreSQL store as a standby).
    pub async fn open_on(config: EngineConfig, store: Store) -> Result<Self, EngineError> {
        let parts = HostParts::new(&config, &store).await?;
        Self::open_with(config, store, &parts).await
    }

    /// Opens an engine on `store` sharing `parts` (made from the same
    /// `config`) with the host's other engines.
    pub async fn open_with(
        config: EngineConfig,
        store: Store,
        parts: &HostParts,
    ) -> Result<Self, EngineError> {
        let (timer_tx, timer_rx) = mpsc::unbounded_channel();
        let (schedules, kicks) = schedules::Scheduler::new();
        let inner = Arc::new(Inner {
            schedules,
            past_queries: Semaphore::new(2),
            busy: parts.busy.clone(),
            search_types: parts.search_types.clone(),
            engines: parts.engines.clone(),
            store,
            runtime: parts.runtime.clone(),
            clock: parts.clock.clone(),
            activity_slots: Semaphore::new(config.max_concurrent_activities.max(1)),
            draining: watch::channel(false).0,
            update_turns: Default::default(),
            stopping: watch::channel(false).0,
            closed: watch::channel(false).0,
            budget: parts.budget.clone(),
            clock_moves: parts.clock_moves.clone(),
            config,
            actors: Mutex::new(HashMap::new()),
            timer_tx,
            settled: settled::Settled::default(),
            reloads: Mutex::new(std::collections::HashSet::new()),
            loading_again: Mutex::new(std::collections::HashSet::new()),
            updates: watch::channel(0).0,
            activity_stops: Mutex::new(HashMap::new()),
            logs: logs::Logs::default(),
            queues: queues::TaskQueues::new(parts.unpolled.clone()),
        });
        if let Some(part) = inner.store.partition() {
            inner.engines.add(part, &inner);
        }
        timers::spawn(inner.clone(), timer_rx);
        recovery::spawn(inner.clone());
        retention::spawn(inner.clone());
        let engine = Self { inner };
        engine.recover()?;
        schedules::spawn(engine.inner.clone(), kicks);
        Ok(engine)
    }

    fn recover(&self) -> Result<(), EngineError> {
        let resumed = self.inner.resume_in_flight()?;
        if resumed.woken + resumed.waiting > 0 {
            tracing::info!(
                woken = resumed.woken,
                waiting = resumed.waiting,
                "resuming running executions: those with something to take replay now, the \
                 waiting ones load when what they wait for comes"
            );
        }
        Ok(())
    }

    /// Starts no activity attempt and hands no task to a worker any more,
    /// and waits (up to `limit`) for the running attempts to end and their
    /// results to be written: a host handing its store over must not leave
    /// an attempt half-done for the next holder to run again. With
    /// [`Taken::Wait`] it also waits for the tasks workers took to be
    /// answered. Tasks no worker took stay for the next holder. What was
    /// still running when the limit passed.
    pub async fn drain(&self, limit: Duration, taken: Taken) -> Unfinished {
        self.inner.draining.send_replace(true);
        self.inner.queues.close();
        let all = self.inner.config.max_concurrent_activities.max(1);
        let _ = tokio::time::timeout(limit, async {
            let slots = self.inner.activity_slots.acquire_many(all as u32).await;
            if taken == Taken::Wait {
                self.inner.queues.taken_ended().await;
            }
            slots
        })
        .await;
        self.settle_writes().await;
        self.unfinished()
    }

    /// The activity attempts running here now, and the tasks workers took
    /// whose end is not written yet.
    pub fn unfinished(&self) -> Unfinished {
        let all = self.inner.config.max_concurrent_activities.max(1);
        Unfinished {
            attempts: all.saturating_sub(self.inner.activity_slots.available_permits()),
            tasks: self.inner.queues.taken_now(),
        }
    }

    /// Gives this engine's partition up to another host once
    /// [`drain`](Self::drain) has run: its loops end, its instances are
    /// dropped, and what it handed the store is written; requests waiting
    /// on it are answered as they stand. Its caller releases the
    /// partition's lease after (anything of this engine still writing then
    /// is refused by the fence).
    pub async fn close(&self) {
        self.inner.draining.send_replace(true);
        self.inner.queues.close();
        self.inner.closed.send_replace(true);
        self.inner.stopping.send_replace(true);
        if let Some(part) = self.inner.store.partition() {
            self.inner.engines.remove(part);
        }
        self.inner
            .actors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        self.settle_writes().await;
    }

    /// The host stops: requests waiting for a result are answered now with
    /// where it stands (an update `accepted` with its id, a start with its
    /// run), instead of their connections being cut by the exit.
    pub fn stopping(&self) {
        self.inner.stopping.send_replace(true);
    }

    /// Waits until every write handed to the store so far has ended
    /// (committed or refused): an empty batch queued behind them.
    pub async fn settle_writes(&self) {
        let _ = self.inner.store.write(Vec::new()).await;
    }

    /// Workflow instances in memory now.
    pub fn in_memory(&self) -> usize {
        self.inner
            .actors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// The hosts sharing this host's PostgreSQL store and its lease
    /// (`None` on redb: one host, no lease).
    pub fn cluster_view(&self) -> Result<Option<crate::store::cluster::ClusterView>, EngineError> {
        Ok(self.inner.store.cluster_view()?)
    }

    /// Why the store's writes fail now (a full disk), if they do.
    pub fn write_failure(&self) -> Option<String> {
        let failed = self.inner.store.write_failure().borrow().clone();
        failed.or_else(|| self.inner.store.hold_problem())
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    pub fn modules(&self) -> Result<Vec<ModuleMeta>, EngineError> {
        Ok(self.inner.store.modules()?)
    }

    pub fn workflow_types(&self) -> Result<Vec<(TypeName, ModuleHash)>, EngineError> {
        Ok(self.inner.store.workflow_types()?)
    }

    /// Starts an execution on the type's current module.
    pub async fn start(
        &self,
        workflow_type: &str,
        id: Option<&str>,
        input: Payload,
    ) -> Result<ExecutionId, EngineError> {
        self.start_with(
            workflow_type,
            input,
            StartOptions {
                id: id.map(str::to_owned),
                ..StartOptions::default()
            },
        )
        .await
        .map(|s| s.id)
    }

    /// Moves a manual clock forward, durably: the new time is stored before
    /// anything sees it, so after a restart the clock goes on from there and
    /// never reads earlier than an event it already stamped.
    pub async fn advance_clock(&self, ms: u64) -> Result<u64, EngineError> {
        if !self.inner.clock.is_manual() {
            return Err(EngineError::Conflict(
                "the host runs on the system clock: start it with `--manual-clock` to move time"
                    .into(),
            ));
        }
        let _one_at_a_time = self.inner.clock_moves.lock().await;
        self.move_clock(ms).await
    }

    /// Moves a manual clock to `to`, if it still reads `from` once no
    /// other move is under way (`None`: it moved meanwhile, and nothing
    /// is done): a time skip read `from` and chose `to` by it.
    pub(super) async fn advance_clock_to(
        &self,
        from: u64,
        to: u64,
    ) -> Result<Option<u64>, EngineError> {
        let _one_at_a_time = self.inner.clock_moves.lock().await;
        if self.inner.clock.now_ms() != from {
            return Ok(None);
        }
        self.move_clock(to.saturating_sub(from)).await.map(Some)
    }

    /// Moves a manual clock to where the store keeps it, if that is later:
    /// another host of a store of several partitions moved it (through
    /// partition 0's engine, which stores it first). Nothing on a system
    /// clock.
    pub async fn follow_stored_clock(&self) -> Result<(), EngineError> {
        if !self.inner.clock.is_manual() {
            return Ok(());
        }
        let StoredClock::Kept(stored) = self.inner.store.manual_clock()? else {
            return Ok(());
        };
        let _one_at_a_time = self.inner.clock_moves.lock().await;
        let now = self.inner.clock.now_ms();
        if stored > now {
            self.inner.clock.advance(stored - now);
        }
        Ok(())
    }

    /// Forgets what the host keeps of the shared tables (the current
    /// versions, the activities' components, the search attributes'
    /// types) when the store's mark says another write changed them since
    /// `seen` (a host of a store of several partitions follows what the
    /// others deploy this way). The search attribute types are read again
    /// too while changes made here are not yet seen in the store (see
    /// `SearchTypes::reload`). Returns the mark now.
    pub fn follow_shared(&self, seen: Option<u64>) -> Result<Option<u64>, EngineError> {
        let mark = self.inner.store.shared_mark()?;
        if mark != seen {
            self.inner.store.forget_deploys();
        }
        let types = &self.inner.search_types;
        if (mark != seen || types.unsettled()) && !types.reload(&self.inner.store, mark)? {
            return Ok(seen);
        }
        Ok(mark)
    }

    /// Stores the clock `ms` later, then moves it (under `clock_moves`).
    async fn move_clock(&self, ms: u64) -> Result<u64, EngineError> {
        let target = self.inner.clock.now_ms().saturating_add(ms);
        self.inner
            .store
            .write(vec![Op::SetManualClock { ms: target }])
            .await??;
        Ok(self.inner.clock.advance(ms).unwrap_or(target))
    }

    /// A sandbox with no store, for `weft replay`.
    pub fn offline_runtime(cache_dir: PathBuf) -> Result<Arc<Runtime>, EngineError> {
        Ok(Runtime::new(SandboxConfig {
            cache_dir,
            cpu_deadline: Duration::from_secs(30),
            memory_limit_bytes: 1 << 30,
            output_cap: 64 << 10,
            // One replay at a time: nothing to pool.
            pool_slots: 0,
            keep_resident: 0,
        })?)
    }
}

/// A time (ms since the Unix epoch) as a UTC date for a message.
fn date(ms: u64) -> String {
    jiff::Timestamp::from_millisecond(i64::try_from(ms).unwrap_or(i64::MAX))
        .map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|_| format!("{ms} ms since the Unix epoch"))
}

impl Inner {
    /// Resolves once the host stops ([`Engine::stopping`]).
    async fn until_stopping(&self) {
        let mut stopping = self.stopping.subscribe();
        let _ = stopping.wait_for(|s| *s).await;
    }

    /// Runs `work` (one of the engine's loops) until it ends or the engine
    /// closes.
    pub(super) async fn unless_closed(
        self: Arc<Self>,
        work: impl std::future::Future<Output = ()>,
    ) {
        let mut closed = self.closed.subscribe();
        drop(self);
        tokio::select! {
            () = work => {}
            _ = closed.wait_for(|c| *c) => {}
        }
    }

    /// Whether the engine was closed (its partition handed over).
    pub(super) fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }
}
