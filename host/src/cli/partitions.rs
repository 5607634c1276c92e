//! A host on a PostgreSQL store of several partitions: it serves at once
//! (requests for partitions it does not hold go to their holders), takes
//! the partitions assigned to it as they come free, runs an engine on each,
//! hands over those assigned to another host since (a host joined), and
//! gives them all up when stopped. A partition it finds taken from it
//! (it was paused or cut off past its lease) ends it, as on a store of
//! one partition: nothing of it writes on.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};

use super::server::{say_listening, say_unfinished, shutdown_signal, stopped, FENCED_EXIT};
use crate::engine::{Engine, EngineConfig, HostParts, Taken, Unfinished};
use crate::store::cluster::{Change, Cluster, Fence, Holding};

/// How often a host reads what other hosts changed of what all share (a
/// manual clock, deploys): a start on this host within this long of a
/// version change made through another may start on the version before.
const FOLLOW: Duration = Duration::from_millis(100);

/// What the host was started with.
pub(super) struct Host {
    pub cluster: Cluster,
    pub config: EngineConfig,
    pub lease: Duration,
    /// How long giving partitions up waits for their running attempts
    /// (`--shutdown-timeout`).
    pub drain_limit: Duration,
    /// Instances in memory over every engine, shown in `weft cluster`.
    pub in_memory: Arc<AtomicU64>,
}

impl Host {
    pub async fn run(
        self,
        listener: crate::api::tls::Listener,
        scheme: &str,
        front: crate::api::Partitioned,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<()> {
        let crate::api::Partitioned {
            router: front,
            engines,
            relay,
            unpolled,
        } = front;
        let addr = listener.local_addr();
        let (serve_stop, serving) = tokio::sync::watch::channel(false);
        let served = tokio::spawn(async move {
            axum::serve(listener, front)
                .with_graceful_shutdown(stopped(serving))
                .await
        });
        say_listening(scheme, addr).await?;
        tracing::info!(
            %addr,
            host = self.cluster.host(),
            partitions = self.cluster.partitions(),
            "weft host joined the store's hosts; taking the partitions assigned to it"
        );
        // Compile what is deployed, and each module deployed later, for as
        // long as the host runs: a deploy is compiled by partition 0's
        // engine only, and any partition this host runs or takes next may
        // run it (the first execution would wait for the compile).
        let (_warmed, warming) = tokio::sync::watch::channel(false);
        tokio::spawn(crate::engine::warm_compile_cache(
            self.config.compile_cache.clone(),
            self.cluster.clone(),
            warming,
        ));
        {
            let (engines, in_memory) = (engines.clone(), self.in_memory.clone());
            tokio::spawn(async move {
                loop {
                    let n: usize = engines.all().iter().map(|(_, e)| e.in_memory()).sum();
                    in_memory.store(n as u64, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            });
        }
        // What all partitions share is written through partition 0's
        // holder: every other host follows it. A manual clock is stored
        // there first; deploys, version changes and search attribute types
        // mark the store, and a host forgets what it kept of them when the
        // mark changed.
        {
            let engines = engines.clone();
            let manual = self.config.manual_clock;
            tokio::spawn(async move {
                let mut seen = None;
                loop {
                    tokio::time::sleep(FOLLOW).await;
                    let Some((_, engine)) = engines.all().into_iter().next() else {
                        continue;
                    };
                    if manual {
                        if let Err(e) = engine.follow_stored_clock().await {
                            tracing::debug!(error = %e, "cannot read the stored clock; reading it again");
                        }
                    }
                    let e = engine.clone();
                    let followed = tokio::task::spawn_blocking(move || e.follow_shared(seen)).await;
                    match followed {
                        Ok(Ok(mark)) => seen = mark,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "cannot read the store's mark; reading it again")
                        }
                        Err(_) => {}
                    }
                }
            });
        }
        // Another host counts in the assignment once it has been here a
        // lease: one restarting in a rolling upgrade does not pull
        // partitions to itself the moment it appears.
        let holding = Arc::new(Mutex::new(self.cluster.holding(self.lease)));
        let mut parts: Option<HostParts> = None;
        // Partitions being handed over (assigned elsewhere now).
        let mut moving = BTreeSet::new();
        let round = self.lease / 4;
        let mut ready = false;
        loop {
            let h = holding.clone();
            let (changes, soon) = tokio::task::spawn_blocking(move || {
                let mut h = lock(&h);
                (h.step(), h.soon())
            })
            .await?;
            crate::metrics::get().partition_rounds.inc();
            let changes = match changes {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the store's hosts; trying again");
                    Vec::new()
                }
            };
            for change in changes {
                match change {
                    Change::Gained(part, generation) => {
                        moving.remove(&part);
                        match self
                            .open(&holding, part, &mut parts, (&relay, &unpolled))
                            .await
                        {
                            Ok(engine) => {
                                engines.add(part, engine);
                                held_now(&engines);
                                tracing::info!(
                                    part,
                                    generation,
                                    "this host runs partition {part} now"
                                );
                                crate::pause::point("partition-taken").await;
                            }
                            Err(e) => {
                                tracing::error!(part, error = %e, "cannot run partition {part}; giving it up");
                                let h = holding.clone();
                                tokio::task::spawn_blocking(move || lock(&h).release(part)).await?;
                            }
                        }
                    }
                    Change::Moving(part, to) => {
                        if !moving.insert(part) {
                            continue;
                        }
                        if let Some((_, engine)) =
                            engines.all().into_iter().find(|(p, _)| *p == part)
                        {
                            tokio::spawn(hand_over(
                                part,
                                to,
                                self.drain_limit,
                                engine,
                                holding.clone(),
                                engines.clone(),
                            ));
                        }
                    }
                    Change::Lost(part, fence) => {
                        self.exit_fenced(part, fence, &engines, &holding, &serve_stop)
                            .await
                    }
                }
            }
            if !ready && !engines.all().is_empty() {
                ready = true;
                tracing::info!(
                    host = self.cluster.host(),
                    manual_clock = self.config.manual_clock,
                    "weft host ready: it runs partitions of the store"
                );
                // Tests stop here to send a stop signal between the start
                // and the serving.
                crate::pause::point("host-ready").await;
            }
            tokio::select! {
                _ = stopped(stop.clone()) => break,
                // A change under way (a partition about to come free, a
                // host gone quiet) is looked at five times as often.
                _ = tokio::time::sleep(if soon { round / 5 } else { round }) => {}
            }
        }
        // Running activity attempts finish and are written (the next holder
        // would run them again) while the host still answers; a second
        // signal stops at once.
        let held = engines.all();
        tracing::info!(
            partitions = held.len(),
            limit_ms = self.drain_limit.as_millis() as u64,
            "handing the partitions over: no new activity attempt starts; waiting for the running ones and for the tasks workers took (signal again to stop at once)"
        );
        let drains = held
            .iter()
            .map(|(_, e)| e.drain(self.drain_limit, Taken::Wait));
        let left: Vec<Unfinished> = tokio::select! {
            left = futures::future::join_all(drains) => left,
            _ = shutdown_signal() => held.iter().map(|(_, e)| e.unfinished()).collect(),
        };
        let left = left
            .into_iter()
            .fold(Unfinished::default(), |a, b| Unfinished {
                attempts: a.attempts + b.attempts,
                tasks: a.tasks + b.tasks,
            });
        say_unfinished(left, "its partitions");
        let (h, cluster) = (holding.clone(), self.cluster.clone());
        tokio::task::spawn_blocking(move || {
            lock(&h).release_all();
            cluster.leave();
        })
        .await?;
        for (_, engine) in &held {
            engine.stopping();
        }
        serve_stop.send_replace(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), served).await;
        Ok(())
    }

    /// Stops this host for good: another host took partition `part`, or
    /// a newer weft migrated the store past it (`fence`). Writes already
    /// handed to a committer end first (each is refused), so nothing of
    /// this host is half-done when it exits.
    async fn exit_fenced(
        &self,
        part: u32,
        fence: Fence,
        engines: &crate::api::Engines,
        holding: &Arc<Mutex<Holding>>,
        serve_stop: &tokio::sync::watch::Sender<bool>,
    ) -> ! {
        serve_stop.send_replace(true);
        for (_, engine) in engines.all() {
            let _ = tokio::time::timeout(Duration::from_secs(5), engine.settle_writes()).await;
        }
        let (why, next) = match tokio::time::timeout(
            Duration::from_secs(2),
            self.why_fenced(part, fence.clone()),
        )
        .await
        {
            Ok(said) => said,
            Err(_) => Self::said(part, fence),
        };
        // What it still holds goes now that none of its writes is under
        // way, and it leaves the hosts (else they count it live, and assign
        // it the partitions for a lease more): the hosts they are assigned
        // to take them at their next round. It exits at once after: an
        // attempt still running here ends with the process long before a
        // next holder, a round later, starts it again (as after a kill).
        let (h, cluster) = (holding.clone(), self.cluster.clone());
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            tokio::task::spawn_blocking(move || {
                lock(&h).release_all();
                cluster.leave();
            }),
        )
        .await;
        eprintln!("error: {why}\nThis host stopped: {next}");
        tracing::error!(part, reason = why, "this host is fenced; exiting");
        std::process::exit(FENCED_EXIT);
    }

    /// Why this host stops for partition `part`, and what its operator
    /// does next: another host took the partition (restart this one), or a
    /// newer weft migrated the database past it (upgrade it; a migration
    /// that also ends the generations reads as a lost lease, so the schema
    /// is read again then, as on a store of one partition).
    async fn why_fenced(&self, part: u32, fence: Fence) -> (String, String) {
        let fence = match fence {
            Fence::Lost(lost) => {
                let c = self.cluster.clone();
                match tokio::task::spawn_blocking(move || c.outdated_now()).await {
                    Ok(Some(why)) => Fence::Outdated(why),
                    _ => Fence::Lost(lost),
                }
            }
            outdated => outdated,
        };
        Self::said(part, fence)
    }

    /// What a host stopped by `fence` on partition `part` says: why, and
    /// what its operator does next.
    fn said(part: u32, fence: Fence) -> (String, String) {
        match fence {
            Fence::Lost(lost) => (
                format!(
                    "another host took partition {part} of the store over ({lost}): this host \
                     was paused or cut off from the database past its lease"
                ),
                "restart it (it takes the partitions assigned to it again)".into(),
            ),
            outdated => (outdated.why().to_owned(), outdated.next_step().to_owned()),
        }
    }

    /// An engine on partition `part`, which this host just took; the
    /// first one makes what the host's engines share.
    async fn open(
        &self,
        holding: &Arc<Mutex<Holding>>,
        part: u32,
        parts: &mut Option<HostParts>,
        (relay, unpolled): (&Arc<dyn crate::engine::Relay>, &crate::engine::OnUnpolled),
    ) -> Result<Engine> {
        let h = holding.clone();
        let store = tokio::task::spawn_blocking(move || lock(&h).open(part))
            .await?
            .with_context(|| format!("cannot open partition {part} of the store"))?;
        let shared = match parts {
            Some(p) => p.clone(),
            None => {
                let p = HostParts::new(&self.config, &store).await?;
                p.relay_through(relay);
                p.on_task_unpolled(unpolled.clone());
                *parts = Some(p.clone());
                p
            }
        };
        Engine::open_with(self.config.clone(), store, &shared)
            .await
            .with_context(|| format!("cannot open partition {part} of the store"))
    }
}

/// Hands partition `part`, assigned to another host now, over: its
/// running attempts end and are written, and the tasks workers took are
/// answered (to its engine, still routed), before the lease goes; then
/// requests for it wait for its next holder.
async fn hand_over(
    part: u32,
    to: String,
    limit: Duration,
    engine: Engine,
    holding: Arc<Mutex<Holding>>,
    engines: crate::api::Engines,
) {
    tracing::info!(
        part,
        to,
        limit_ms = limit.as_millis() as u64,
        "partition {part} is assigned to host {to} now: handing it over"
    );
    // Tasks workers took are not waited for: this host goes on serving,
    // and their answers reach the next holder through it.
    let left = engine.drain(limit, Taken::Leave).await;
    engines.remove(part);
    held_now(&engines);
    engine.close().await;
    say_unfinished(left, &format!("partition {part}"));
    let _ = tokio::task::spawn_blocking(move || lock(&holding).release(part)).await;
    crate::metrics::get().partitions_handed_over.inc();
    tracing::info!(part, "partition {part} handed over");
    crate::pause::point("partition-handed-over").await;
}

/// The gauges of what this host holds now.
fn held_now(engines: &crate::api::Engines) {
    let n = engines.all().len() as i64;
    let m = crate::metrics::get();
    m.partitions_held.set(n);
    m.holds_store.set(i64::from(n > 0));
}

fn lock(h: &Mutex<Holding>) -> std::sync::MutexGuard<'_, Holding> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}
