//! `weft server` and `weft dev`: the host process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tokio::io::AsyncWriteExt;

use crate::engine::{Engine, EngineConfig, Taken, Unfinished};

#[derive(Debug, Args)]
pub struct HostArgs {
    /// Address to listen on (port 0 picks a free port; the first stdout line says which).
    #[arg(long, default_value = "127.0.0.1:7700")]
    pub listen: SocketAddr,
    /// Keep the store in PostgreSQL (postgres://user[:password]@host[:port]/database)
    /// instead of the redb file in --data (which still holds the compile
    /// cache). The host creates the database if it may, and its schema.
    #[arg(
        long,
        env = "WEFT_STORE",
        hide_env_values = true,
        value_name = "ADDRESS"
    )]
    pub store: Option<String>,
    /// With --store: how long this host's hold on the store (or on each of
    /// its partitions) lasts without a renewal. A host that stops renewing
    /// (paused, cut off) loses it once it expires; one that dies loses the
    /// whole store to a standby at once, and its partitions once their
    /// leases expire. Milliseconds or `10s`, `1m`.
    #[arg(
        long,
        env = "WEFT_LEASE",
        default_value = "10s",
        value_parser = super::parse_duration,
        value_name = "DURATION"
    )]
    pub lease: u64,
    /// With --store: how long a stopping host (SIGTERM) waits for its
    /// running activity attempts and for the tasks workers took from it
    /// before it gives the store up (what still runs then, the next holder
    /// runs again; a worker's late answer reaches the next holder), and how
    /// long a host handing one partition to another host waits for that
    /// partition's attempts. Keep it under your supervisor's kill grace
    /// (Kubernetes: terminationGracePeriodSeconds, 30s by default). 0 gives
    /// the store up at once. Milliseconds or `30s`, `2m`.
    #[arg(
        long,
        env = "WEFT_SHUTDOWN_TIMEOUT",
        default_value = "25s",
        value_parser = super::parse_duration,
        value_name = "DURATION"
    )]
    pub shutdown_timeout: u64,
    /// With --store: this host's name among the hosts on the store (default:
    /// the machine's name and the process id). Unique per live host.
    #[arg(long, env = "WEFT_HOST_ID")]
    pub host_id: Option<String>,
    /// With --store: the address other hosts forward requests to while this
    /// one holds the store (default: http:// or, with --tls-cert, https://
    /// and the --listen address).
    #[arg(long, env = "WEFT_ADVERTISE", value_name = "URL")]
    pub advertise: Option<String>,
    /// Serve HTTPS: the certificate chain (PEM) this host presents. Give
    /// --tls-key with it.
    #[arg(long, env = "WEFT_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "WEFT_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// With --tls-cert: ask every client for a certificate, and let in only
    /// those signed by an authority in this PEM file (mutual TLS).
    #[arg(long, env = "WEFT_CLIENT_CA", value_name = "FILE")]
    pub client_ca: Option<PathBuf>,
    /// With --store: authorities (PEM) to trust, beyond the system's, when
    /// forwarding to another host over HTTPS (the CLI takes the same flag).
    #[arg(long, env = "WEFT_CA_CERT", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// With --store: the certificate (PEM) this host presents when it
    /// forwards to another host that asks for one (--client-ca there).
    /// Give --client-key with it (the CLI takes the same flags).
    #[arg(long, env = "WEFT_CLIENT_CERT", value_name = "FILE")]
    pub client_cert: Option<PathBuf>,
    /// The private key (PEM) of --client-cert.
    #[arg(long, env = "WEFT_CLIENT_KEY", value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// With --store, when it makes the database: how many partitions the
    /// store spreads executions over (fixed for good; each is held by one
    /// host at a time, and the hosts share them out). Ignored for a store
    /// that exists.
    #[arg(long, env = "WEFT_PARTITIONS", default_value_t = 1, value_name = "N")]
    pub partitions: u32,
    /// Move time only by `weft clock advance` (`POST /v1/clock/advance`): tests
    /// and demos skip hours in milliseconds; where it stands survives restarts.
    #[arg(long)]
    pub manual_clock: bool,
    /// Drop an instance from memory after it waited this long with nothing to do.
    #[arg(long, default_value_t = 10_000)]
    pub evict_after_ms: u64,
    /// CPU time one workflow task may use between two waits.
    #[arg(long, default_value_t = 5_000)]
    pub cpu_deadline_ms: u64,
    /// Memory limit of each instance, in MiB.
    #[arg(long, default_value_t = 256)]
    pub memory_limit_mb: usize,
    /// The API token the host requires on every request (none: a loopback
    /// host answers anyone on this machine).
    #[arg(long, env = "WEFT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// A token that opens only what changes nothing: reads and queries (for
    /// people who only look, in the UI or with the CLI).
    #[arg(long, env = "WEFT_READ_TOKEN", hide_env_values = true)]
    pub read_token: Option<String>,
    /// A token that opens only module uploads and version changes.
    #[arg(long, env = "WEFT_DEPLOY_TOKEN", hide_env_values = true)]
    pub deploy_token: Option<String>,
    /// A token that opens everything but module uploads and version changes.
    #[arg(long, env = "WEFT_CONTROL_TOKEN", hide_env_values = true)]
    pub control_token: Option<String>,
    /// Activity attempts this host runs at once (components; an attempt on a
    /// task queue runs on a worker and takes no slot here).
    #[arg(long, default_value_t = 256)]
    pub max_concurrent_activities: usize,
    /// Default start-to-close limit of one activity attempt.
    #[arg(long, default_value_t = 300_000)]
    pub activity_timeout_ms: u64,
    /// Largest payload (input, output, signal) accepted, in KiB.
    #[arg(long, default_value_t = 2048)]
    pub max_payload_kb: usize,
    /// A run past this many events is told to continue as new.
    #[arg(long, default_value_t = 10_240)]
    pub history_warn_events: u64,
    /// A run past this many events is terminated.
    #[arg(long, default_value_t = 51_200)]
    pub history_max_events: u64,
    /// A run whose events take more than this many MiB is terminated.
    #[arg(long, default_value_t = 50)]
    pub history_max_mb: u64,
    /// The commands of one workflow task (activity, child and
    /// continue-as-new inputs) may take this many KiB together; past it the
    /// execution stalls with the reason and nothing of the task is recorded.
    #[arg(long, default_value_t = 16_384)]
    pub max_task_kb: usize,
    /// Activities, and children, one execution may have started and not
    /// seen end (each); one more stalls it with the reason.
    #[arg(long, default_value_t = 2_000)]
    pub max_pending: usize,
    /// Workflow instances kept in memory at once; past it, idle ones are
    /// evicted early and loads wait for a slot.
    #[arg(long, default_value_t = 2_000)]
    pub max_instances: usize,
    /// Instances (workflows, activity attempts) the sandbox's pool holds at
    /// once; default: --max-instances + 256 activity attempts + 64 spare;
    /// must exceed --max-instances. 0 maps each instance on its own (slower;
    /// for components beyond a slot: 2 memories, 4 tables, 50,000 table
    /// elements).
    #[arg(long)]
    pub instance_pool: Option<u32>,
    /// KiB of each memory and table of a freed pool slot whose written pages
    /// are restored in place for the next instance (kept mapped: faster,
    /// more resident memory); the rest are given back to the kernel. 0 gives
    /// all of them back. Needs Linux 6.7 or later (PAGEMAP_SCAN); ignored
    /// elsewhere.
    #[arg(long, env = "WEFT_POOL_KEEP_RESIDENT_KB", default_value_t = crate::wasm::DEFAULT_KEEP_RESIDENT >> 10)]
    pub pool_keep_resident_kb: usize,
    /// Where compiled components are cached by content hash (default:
    /// DATA/compiled). Hosts may share one; every entry is checked against
    /// this build of the host before use.
    #[arg(long, env = "WEFT_COMPILE_CACHE")]
    pub compile_cache: Option<PathBuf>,
    /// How long closed executions (and everything kept for them) are kept
    /// before they are deleted, unless their type sets its own (`weft
    /// retention`); also how long a start's or a signal's request id
    /// deduplicates.
    /// Milliseconds or `30m`, `12h`, `7d`.
    #[arg(long, default_value = "7d", value_parser = super::parse_duration, value_name = "DURATION")]
    pub retention: u64,
    /// Send activity NAME to task queue QUEUE whatever the workflow's
    /// options say (repeatable): a test serves it with a mock, an operator
    /// moves it to external workers without a new build.
    #[arg(long, value_parser = parse_route, value_name = "NAME=QUEUE")]
    pub route_activity: Vec<(String, String)>,
}

fn parse_route(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, queue))
            if !name.trim().is_empty() && !queue.trim().is_empty() && !queue.contains('=') =>
        {
            Ok((name.trim().to_owned(), queue.trim().to_owned()))
        }
        _ => Err(format!(
            "{text:?} is not NAME=QUEUE: give the activity's name and the task queue to send it to, \
             for example `charge=mocks`"
        )),
    }
}

impl HostArgs {
    fn config(&self, data: PathBuf) -> Result<EngineConfig> {
        if let Some(n) = self.instance_pool.filter(|n| *n > 0) {
            if n as usize <= self.max_instances {
                anyhow::bail!(
                    "--instance-pool {n} leaves no slot beside --max-instances {}: workflow \
                     instances hold theirs while they live, and activities and queries need \
                     room too; give more slots than that (the default adds 320), or 0 for no pool",
                    self.max_instances
                );
            }
        }
        let mut c = EngineConfig::new(data);
        c.store = self.store.clone().filter(|s| !s.is_empty());
        c.manual_clock = self.manual_clock;
        c.max_instances = self.max_instances;
        c.instance_pool = self.instance_pool;
        c.keep_resident = self.pool_keep_resident_kb.saturating_mul(1024);
        if let Some(dir) = &self.compile_cache {
            c.compile_cache = dir.clone();
        }
        c.evict_after = Duration::from_millis(self.evict_after_ms);
        c.cpu_deadline = Duration::from_millis(self.cpu_deadline_ms);
        c.memory_limit_bytes = self.memory_limit_mb.saturating_mul(1 << 20);
        c.activity_timeout = Duration::from_millis(self.activity_timeout_ms);
        c.history_warn_events = self.history_warn_events;
        c.max_payload_bytes = self.max_payload_kb.saturating_mul(1024);
        c.history_max_events = self.history_max_events;
        c.history_max_bytes = self.history_max_mb.saturating_mul(1 << 20);
        c.max_task_bytes = self.max_task_kb.saturating_mul(1024);
        c.max_concurrent_activities = self.max_concurrent_activities;
        c.max_pending = self.max_pending;
        c.retention = Duration::from_millis(self.retention);
        for (i, (name, queue)) in self.route_activity.iter().enumerate() {
            if let Some((_, other)) = self.route_activity[..i].iter().find(|(n, _)| n == name) {
                anyhow::bail!(
                    "--route-activity names {name:?} twice (to {other:?} and to {queue:?}): \
                     route each activity to one task queue"
                );
            }
        }
        c.activity_queues = self.route_activity.iter().cloned().collect();
        Ok(c)
    }
}

pub async fn run(data: PathBuf, args: &HostArgs) -> Result<()> {
    let access = crate::api::Access {
        token: args.token.clone().filter(|t| !t.is_empty()),
        deploy_token: args.deploy_token.clone().filter(|t| !t.is_empty()),
        control_token: args.control_token.clone().filter(|t| !t.is_empty()),
        read_token: args.read_token.clone().filter(|t| !t.is_empty()),
    };
    if !args.listen.ip().is_loopback() && access.token.is_none() {
        anyhow::bail!(
            "listening on {} (beyond loopback) needs an API token: pass --token or set WEFT_TOKEN",
            args.listen
        );
    }
    let identity = crate::api::tls::Identity::load(
        args.tls_cert.as_deref(),
        args.tls_key.as_deref(),
        args.client_ca.as_deref(),
    )?;
    let scheme = if identity.is_some() { "https" } else { "http" };
    let tcp = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another host running there?)",
                args.listen
            )
        })?;
    let listener = crate::api::tls::Listener::new(tcp, identity)?;
    let addr = listener.local_addr();
    // A state, not a notification: a signal that comes before anyone
    // waits for it (during the start) is still seen.
    let (signalled, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        signalled.send_replace(true);
    });
    let config = args.config(data.clone())?;
    if let Some(url) = config.store.clone() {
        return run_on_postgres(listener, scheme, config, &url, access, args, stop).await;
    }
    if args.partitions != 1 {
        tracing::warn!(
            partitions = args.partitions,
            "--partitions is for a PostgreSQL store (--store or WEFT_STORE), and none was \
             given: this host runs on the redb file in --data, which has no partitions"
        );
    }
    let engine = Engine::open(config)
        .await
        .with_context(|| format!("cannot open the data directory {}", data.display()))?;
    crate::metrics::get().holds_store.set(1);
    say_listening(scheme, addr).await?;
    tracing::info!(%addr, data = %data.display(), manual_clock = args.manual_clock, "weft host ready");
    // Tests stop here to send a stop signal between the start and the
    // serving.
    crate::pause::point("host-ready").await;
    let waits = engine.clone();
    let served = crate::api::serve(listener, engine, access, stopped(stop.clone()));
    // Long-polling clients would hold a graceful shutdown open; every
    // committed step is durable, so after a short grace period just stop.
    // Requests waiting for a result are answered first, as they stand.
    tokio::select! {
        r = served => r?,
        _ = async {
            stopped(stop).await;
            waits.stopping();
            tokio::time::sleep(Duration::from_secs(2)).await
        } => {}
    }
    Ok(())
}

/// Says what a host giving `what` up left running when its shutdown
/// timeout passed, and what becomes of it.
pub(super) fn say_unfinished(left: Unfinished, what: &str) {
    match left.attempts {
        0 => {}
        1 => tracing::warn!(
            attempts = 1,
            "1 activity attempt still ran when this host gave {what} up: it runs again at the next holder \
             (a longer --shutdown-timeout lets such attempts end)"
        ),
        n => tracing::warn!(
            attempts = n,
            "{n} activity attempts still ran when this host gave {what} up: they run again at \
             the next holder (a longer --shutdown-timeout lets such attempts end)"
        ),
    }
    match left.tasks {
        0 => {}
        1 => tracing::info!(
            tasks = 1,
            "1 task a worker took from {what} is not answered yet: its answer reaches the next holder \
             through any host, under the same token"
        ),
        n => tracing::info!(
            tasks = n,
            "{n} tasks workers took from {what} are not answered yet: their answers reach \
             the next holder through any host, under the same tokens"
        ),
    }
}

/// Resolves once the host was told to stop (at once if it was already).
pub(super) async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The first stdout line, which scripts and tests wait for.
pub(super) async fn say_listening(scheme: &str, addr: SocketAddr) -> Result<()> {
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(format!("listening on {scheme}://{addr}\n").as_bytes())
        .await?;
    stdout.flush().await?;
    Ok(())
}

/// How long a stopping standby answers the requests it forwards.
const STANDBY_GRACE: Duration = Duration::from_secs(10);

/// The exit code of a host that found another host holding its store.
pub(super) const FENCED_EXIT: i32 = 3;

/// A host on a PostgreSQL store: it joins the hosts there, serves at once
/// (as a standby, forwarding requests to the host holding the store), takes
/// the store when it is free or its holder's lease expired, then runs the
/// executions. It gives the store up when stopped, and exits if it finds
/// another host holding it (it was paused or cut off past its lease).
async fn run_on_postgres(
    listener: crate::api::tls::Listener,
    scheme: &str,
    config: EngineConfig,
    url: &str,
    access: crate::api::Access,
    args: &HostArgs,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<()> {
    use crate::store::cluster::{Cluster, Fence, Wait};
    crate::store::Location::parse_store(url).context("cannot open the store given by --store")?;
    let addr = listener.local_addr();
    let host_id = args.host_id.clone().unwrap_or_else(default_host_id);
    if host_id.is_empty()
        || host_id.len() > 40
        || !host_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        anyhow::bail!(
            "--host-id {host_id:?}: give 1 to 40 letters, digits, '.', '_' or '-' (it names \
             this host's database sessions, whose names PostgreSQL cuts at 63 bytes)"
        );
    }
    let advertise = match &args.advertise {
        Some(a) => a.trim_end_matches('/').to_owned(),
        None if addr.ip().is_unspecified() => anyhow::bail!(
            "--listen {addr} names no one address other hosts can reach: give --advertise \
             {scheme}://<this machine's address>:{}",
            addr.port()
        ),
        None => format!("{scheme}://{addr}"),
    };
    if !(1_000..=3_600_000).contains(&args.lease) {
        anyhow::bail!(
            "--lease {}ms: give between 1s and 1h, as in --lease 10s (a bare number is \
             milliseconds); a short lease hands a paused host's store over sooner, a long one \
             rides out longer database outages",
            args.lease
        );
    }
    if !(1..=4096).contains(&args.partitions) {
        anyhow::bail!(
            "--partitions {}: give between 1 and 4096 (a store's partitions are fixed when it \
             is made; each is held by one host at a time)",
            args.partitions
        );
    }
    if args.shutdown_timeout > 3_600_000 {
        anyhow::bail!(
            "--shutdown-timeout {}ms: give at most 1h, as in --shutdown-timeout 25s (a bare \
             number is milliseconds); keep it under the time your supervisor waits before it \
             kills the host",
            args.shutdown_timeout
        );
    }
    let lease = Duration::from_millis(args.lease);
    let drain_limit = Duration::from_millis(args.shutdown_timeout);
    let cluster = {
        let url = url.to_owned();
        let host_id = host_id.clone();
        let partitions = args.partitions;
        tokio::task::spawn_blocking(move || {
            Cluster::connect_partitioned(&url, &host_id, lease, partitions)
        })
        .await?
        .context("cannot open the store given by --store")?
    };
    if cluster.partitions() != args.partitions && args.partitions != 1 {
        tracing::warn!(
            asked = args.partitions,
            has = cluster.partitions(),
            "--partitions is read only when the store is made; this store keeps its own"
        );
    }
    let forwarder = crate::api::tls::client_builder(crate::api::tls::ClientTls {
        ca: args.ca_cert.as_deref(),
        cert: args.client_cert.as_deref(),
        key: args.client_key.as_deref(),
    })?
    .build()
    .context("cannot build the client that forwards requests to other hosts")?;
    {
        let (c, manual) = (cluster.clone(), config.manual_clock);
        tokio::task::spawn_blocking(move || c.check_clock(manual))
            .await?
            .context("cannot join the store's hosts")?;
    }
    let in_memory = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        let (c, manual) = (cluster.clone(), config.manual_clock);
        let (advertise, in_memory) = (advertise.clone(), in_memory.clone());
        tokio::task::spawn_blocking(move || {
            c.join(
                &advertise,
                env!("CARGO_PKG_VERSION"),
                crate::wasm::inspect::CONTRACT_VERSION,
                manual,
                in_memory,
            )
        })
        .await?
        .context("cannot register this host on the store")?;
    }
    let guard = crate::api::Guard { listen: Some(addr) };
    if cluster.partitions() > 1 {
        if !access.is_open() && access.token.is_none() && access.control_token.is_none() {
            tracing::warn!(
                "this host has API tokens but neither --token nor --control-token: a workflow's \
                 signal or cancellation to a partition another host holds cannot be relayed \
                 (the holder refuses it); give every host the same --token or --control-token"
            );
        }
        let host = super::partitions::Host {
            cluster,
            config,
            lease,
            drain_limit,
            in_memory,
        };
        let front = crate::api::partitioned_front(
            host.cluster.clone(),
            access,
            guard,
            lease + Duration::from_secs(5),
            forwarder,
        );
        return host.run(listener, scheme, front, stop).await;
    }
    let (front, slot) = crate::api::front(
        cluster.clone(),
        access,
        guard,
        lease + Duration::from_secs(5),
        forwarder,
    );
    // Serving stops after the store is handed over, not at the signal:
    // the holder answers while its running activities finish.
    let (serve_stop, serving) = tokio::sync::watch::channel(false);
    let served = tokio::spawn(async move {
        axum::serve(listener, front)
            .with_graceful_shutdown(stopped(serving))
            .await
    });
    say_listening(scheme, addr).await?;
    tracing::info!(%addr, host = host_id, advertise, "weft host joined the store's hosts");
    // Compile what is deployed while standing by (stops once this host
    // holds the store).
    let (warmed, warming) = tokio::sync::watch::channel(false);
    tokio::spawn(crate::engine::warm_compile_cache(
        config.compile_cache.clone(),
        cluster.clone(),
        warming,
    ));
    let acquiring = {
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || c.acquire(Wait::Forever))
    };
    let generation = tokio::select! {
        taken = acquiring => taken?.context("cannot take the store")?,
        _ = stopped(stop.clone()) => {
            // The requests this standby forwards get their answers (no new
            // one is taken), for a while: a long poll does not hold the
            // stop open.
            tracing::info!(
                limit_s = STANDBY_GRACE.as_secs(),
                "stopping: answering the requests this host forwards"
            );
            serve_stop.send_replace(true);
            cluster.leave();
            let _ = tokio::time::timeout(STANDBY_GRACE, served).await;
            return Ok(());
        }
    };
    warmed.send_replace(true);
    let store = {
        let c = cluster.clone();
        tokio::task::spawn_blocking(move || c.open_store())
            .await?
            .context("cannot open the store given by --store")?
    };
    let engine = Engine::open_on(config, store)
        .await
        .context("cannot open the store given by --store")?;
    slot.fill(engine.clone());
    crate::metrics::get().holds_store.set(1);
    tracing::info!(%addr, host = host_id, generation, "weft host ready: it holds the store");
    crate::pause::point("host-ready").await;
    {
        let engine = engine.clone();
        tokio::spawn(async move {
            loop {
                in_memory.store(
                    engine.in_memory() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
    let mut fenced = cluster.fenced();
    tokio::select! {
        _ = stopped(stop) => {
            // Running activity attempts finish and are written (the next
            // holder would run them again) while the host still answers;
            // a second signal stops at once.
            tracing::info!(
                limit_ms = drain_limit.as_millis() as u64,
                "handing the store over: no new activity attempt starts; waiting for the running ones and for the tasks workers took (signal again to stop at once)"
            );
            let left = tokio::select! {
                left = engine.drain(drain_limit, Taken::Wait) => left,
                _ = shutdown_signal() => engine.unfinished(),
            };
            say_unfinished(left, "the store");
            let c = cluster.clone();
            tokio::task::spawn_blocking(move || c.release()).await?;
            // Long-polling clients would hold a graceful shutdown open;
            // every committed step is durable, so after a short grace
            // period just stop. Requests waiting for a result are
            // answered first, as they stand.
            engine.stopping();
            serve_stop.send_replace(true);
            let _ = tokio::time::timeout(Duration::from_secs(2), served).await;
            Ok(())
        }
        why = fenced.wait_for(Option::is_some) => {
            let mut fence = why.ok().and_then(|w| w.clone());
            // A newer weft's migration that leaves this version out also
            // ends the holder's generation: its operator upgrades, and a
            // restart would be refused.
            if let Some(Fence::Lost(_)) = fence {
                let c = cluster.clone();
                if let Ok(Some(why)) = tokio::task::spawn_blocking(move || c.outdated_now()).await {
                    fence = Some(Fence::Outdated(why));
                }
            }
            let (why, next) = fence.as_ref().map(|f| (f.why(), f.next_step())).unwrap_or_default();
            // Writes already handed to the committer end first (each is
            // refused): nothing of this host is half-done when it exits.
            serve_stop.send_replace(true);
            let _ = tokio::time::timeout(Duration::from_secs(5), engine.settle_writes()).await;
            eprintln!("error: {why}\nThis host stopped: {next}");
            tracing::error!(reason = why, "this host is fenced; exiting");
            std::process::exit(FENCED_EXIT);
        }
    }
}

/// `<machine>-<pid>`: unique among live hosts (the machine's name cut
/// to what a host id may hold).
fn default_host_id() -> String {
    let machine: String = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(28)
        .collect();
    let machine = if machine.is_empty() {
        "weft".into()
    } else {
        machine
    };
    format!("{machine}-{}", std::process::id())
}

pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
