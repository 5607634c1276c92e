//! `weft server` and `weft dev`: the host process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use tokio::io::AsyncWriteExt;

use crate::engine::{Engine, EngineConfig};

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
    /// Where compiled components are cached by content hash (default:
    /// DATA/compiled). Hosts may share one; every entry is checked against
    /// this build of the host before use.
    #[arg(long, env = "WEFT_COMPILE_CACHE")]
    pub compile_cache: Option<PathBuf>,
    /// How long closed executions (and everything kept for them) are kept
    /// before they are deleted, unless their type sets its own (`weft
    /// retention`); also how long a start's request id deduplicates.
    /// Milliseconds or `30m`, `12h`, `7d`.
    #[arg(long, default_value = "7d", value_parser = super::parse_duration, value_name = "DURATION")]
    pub retention: u64,
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
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another host running there?)",
                args.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let engine = Engine::open(args.config(data.clone())?)
        .await
        .with_context(|| match &args.store {
            Some(store) if !store.is_empty() => "cannot open the store given by --store".to_owned(),
            _ => format!("cannot open the data directory {}", data.display()),
        })?;
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(format!("listening on http://{addr}\n").as_bytes())
        .await?;
    stdout.flush().await?;
    tracing::info!(%addr, data = %data.display(), manual_clock = args.manual_clock, "weft host ready");
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let signalled = stop.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        signalled.notify_waiters();
    });
    let graceful = stop.clone();
    let served = crate::api::serve(listener, engine, access, async move {
        graceful.notified().await
    });
    // Long-polling clients would hold a graceful shutdown open; every
    // committed step is durable, so after a short grace period just stop.
    tokio::select! {
        r = served => r?,
        _ = async { stop.notified().await; tokio::time::sleep(Duration::from_secs(2)).await } => {}
    }
    Ok(())
}

async fn shutdown_signal() {
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
