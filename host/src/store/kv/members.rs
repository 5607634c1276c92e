//! The hosts on one PostgreSQL store: each registers its address and
//! version and refreshes its row while it lives; `view` is what `weft
//! cluster` shows, `holder_address` where a standby forwards requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::assign::{Way, FORMAT};
use super::pg::{pg_err, pool_err, Pg};
use crate::store::StoreError;

/// How long a session under this host's name from another process is
/// waited for before the host is refused as a twin: more than the lock
/// timeout of a write (5 s), which bounds what an ended process's
/// statements wait for but one (a take of a lease behind a paused
/// holder's write); a restart refused then is started again.
const TWIN_WAIT: Duration = Duration::from_secs(7);

/// Rows of hosts not seen for this long are deleted.
const FORGET_AFTER_S: f64 = 3_600.0;

/// The contract of a host whose row does not say (a release before the
/// column, on schema 3 or 4: every such release provides this one).
pub const CONTRACT_FLOOR: &str = "0.1.3";

/// One host as the store knows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HostView {
    pub host_id: String,
    /// Where its API answers (`--advertise`).
    pub address: String,
    pub version: String,
    /// The `weft:workflow` contract it provides: components importing a
    /// newer one do not run on it.
    pub contract: String,
    /// `holder` (runs the executions; on a store of several partitions,
    /// those of at least one partition), `standby` (forwards requests to
    /// the holder, takes over when it goes; on a store of several: holds
    /// none now) or `gone` (not seen for half a lease: it refreshes its
    /// row every quarter).
    pub role: &'static str,
    pub started_at: String,
    pub seen_ms_ago: i64,
    /// Workflow instances it has in memory.
    pub in_memory: i64,
    /// The cluster format it speaks (0: a release before formats; see
    /// `ClusterView::assignment`).
    pub format: i32,
    /// On a store of several partitions: those it holds now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<u32>,
}

/// The store's lease (on a store of several partitions: one partition's).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeaseView {
    /// Which partition's, on a store of several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    pub holder: Option<String>,
    /// Raised by one each time a host takes the store.
    pub generation: i64,
    pub held_ms: Option<i64>,
    pub renewed_ms_ago: Option<i64>,
    /// Negative once expired.
    pub expires_in_ms: Option<i64>,
}

/// What `GET /v1/cluster` answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterView {
    /// `postgres` or `redb`.
    pub store: &'static str,
    /// Partitions of the store (fixed when it was made): each held by one
    /// host at a time.
    pub partitions: u32,
    /// The host that answered (its id).
    pub this_host: Option<String>,
    /// Partition 0's lease (on a store of one partition, the store's).
    pub lease: Option<LeaseView>,
    /// On a store of several partitions: each partition's lease, by
    /// partition.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leases: Vec<LeaseView>,
    /// On a store of several partitions: how the hosts assign them now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignment: Option<AssignmentView>,
    pub hosts: Vec<HostView>,
}

/// How the hosts of a store of several partitions assign them now: at the
/// lowest cluster format of the hosts that count in the assignment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AssignmentView {
    pub format: i32,
    /// `even` (each host runs its share of the partitions or one more) or
    /// `rendezvous` (a host of an older release counts: each partition to
    /// the host whose weight with it is highest, as that release does).
    pub way: Way,
    /// The hosts of an older release that keep the cluster at its format.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub held_back_by: Vec<String>,
}

impl Pg {
    /// Registers this host (`address` is where its API answers) and keeps
    /// its row fresh, with `in_memory` read at each refresh.
    pub fn join(
        self: &Arc<Self>,
        address: &str,
        version: &str,
        contract: &str,
        manual_clock: bool,
        in_memory: Arc<AtomicU64>,
    ) -> Result<(), StoreError> {
        let host = self.lease.host.clone();
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        // Another live process under this name would be taken for this
        // one (its sessions ended when this one takes over, requests meant
        // for one sent to the other).
        // A process of this name that just ended (a restart at once) may
        // leave a session running a statement: PostgreSQL ends it with the
        // statement (a lock wait within the lock timeout). A twin's
        // sessions stay.
        let since = std::time::Instant::now();
        let mut told = false;
        let twin = loop {
            let twin = self
                .block(client.query_opt(
                    "SELECT a.client_addr::text, h.address FROM pg_stat_activity a \
                     LEFT JOIN weft_hosts h ON h.host_id = $1 \
                     WHERE split_part(a.application_name, '#', 1) = 'weft:' || $1 \
                       AND split_part(a.application_name, '#', 2) <> $2 \
                       AND a.datname = current_database() LIMIT 1",
                    &[&host, &std::process::id().to_string()],
                ))
                .map_err(pg_err)?;
            if twin.is_none() || since.elapsed() >= TWIN_WAIT {
                break twin;
            }
            if !std::mem::replace(&mut told, true) {
                tracing::info!(
                    host,
                    wait_s = TWIN_WAIT.as_secs(),
                    "another process's session under this host's name is open (one just \
                     ended, finishing a statement, or a twin): waiting for it to end"
                );
            }
            self.block(tokio::time::sleep(Duration::from_millis(100)));
        };
        if let Some(row) = twin {
            let from: Option<String> = row.get(0);
            let address: Option<String> = row.get(1);
            return Err(StoreError::Backend(format!(
                "another live weft host is named {host} on this database (connected from {}, \
                 serving {}, still connected after {} s): give this one its own --host-id",
                from.unwrap_or_else(|| "a local socket".into()),
                address.unwrap_or_else(|| "an unknown address".into()),
                TWIN_WAIT.as_secs()
            )));
        }
        self.block(client.execute(
            "INSERT INTO weft_hosts (host_id, address, version, contract, contract_started, \
             manual_clock, format, format_started) VALUES ($1, $2, $3, $4, now(), $5, $6, now()) \
             ON CONFLICT (host_id) DO UPDATE SET address = EXCLUDED.address, \
             version = EXCLUDED.version, started_at = now(), seen_at = now(), in_memory = 0, \
             contract = EXCLUDED.contract, contract_started = now(), \
             manual_clock = EXCLUDED.manual_clock, format = EXCLUDED.format, \
             format_started = now()",
            &[&host, &address, &version, &contract, &manual_clock, &FORMAT],
        ))
        .map_err(pg_err)?;
        drop(client);
        let every = (self.lease.length / 4).max(Duration::from_millis(100));
        // Two ticks missed.
        let stall = (every * 2).max(self.lease.length / 2);
        let lease = self.lease.length;
        let pg = Arc::downgrade(self);
        let (address, version, contract) =
            (address.to_owned(), version.to_owned(), contract.to_owned());
        self.spawn(async move {
            let mut last = tokio::time::Instant::now();
            let mut quiet_until = last;
            loop {
                tokio::time::sleep(every).await;
                // After a stall (the process paused, or starved) its leases
                // may be gone: it says it is live again only a lease later,
                // once its renewals (every quarter lease, a failed one
                // tried again) had the time to find out (a fenced host stops
                // saying it for good), or the others hand it partitions it
                // would not take. Its live leases are never taken meanwhile.
                let now = tokio::time::Instant::now();
                if now.duration_since(last) > stall {
                    quiet_until = now + lease;
                }
                last = now;
                if now < quiet_until {
                    continue;
                }
                let Some(pg) = pg.upgrade() else { return };
                // Left (a graceful stop): its row stays removed.
                if pg.left().load(Ordering::SeqCst) {
                    return;
                }
                let n = in_memory.load(Ordering::Relaxed) as i64;
                let refreshed = async {
                    let client = pg.pool().get().await.map_err(pool_err)?;
                    // Written again if the others forgot it (this host was
                    // cut off for longer than they keep a silent host's
                    // row): standbys find the holder's address by it.
                    client
                        .execute(
                            "INSERT INTO weft_hosts (host_id, address, version, contract, \
                             contract_started, in_memory, manual_clock, format, format_started) \
                             VALUES ($1, $3, $4, $5, now(), $2, $6, $7, now()) \
                             ON CONFLICT (host_id) DO UPDATE SET seen_at = now(), in_memory = $2",
                            &[
                                &host,
                                &n,
                                &address,
                                &version,
                                &contract,
                                &manual_clock,
                                &FORMAT,
                            ],
                        )
                        .await
                        .map_err(pg_err)?;
                    // A leave that came while this refresh was under way.
                    if pg.left().load(Ordering::SeqCst) {
                        client
                            .execute("DELETE FROM weft_hosts WHERE host_id = $1", &[&host])
                            .await
                            .map_err(pg_err)?;
                    }
                    client
                        .execute(
                            "DELETE FROM weft_hosts \
                             WHERE seen_at < now() - make_interval(secs => $1)",
                            &[&FORGET_AFTER_S],
                        )
                        .await
                        .map_err(pg_err)
                };
                if let Err(e) = refreshed.await {
                    tracing::debug!(error = %e, "could not refresh this host's row");
                }
            }
        });
        Ok(())
    }

    /// Removes this host's row (a graceful stop).
    pub fn leave(&self) {
        self.left().store(true, Ordering::SeqCst);
        // A take that raced the flag (the acquire looked before it was set):
        // given back (a second release changes nothing).
        if self.lease.taken_and_kept() {
            self.release();
        }
        let host = self.lease.host.clone();
        let _ = self.block(async move {
            let client = self.pool().get().await.map_err(pool_err)?;
            client
                .execute("DELETE FROM weft_hosts WHERE host_id = $1", &[&host])
                .await
                .map_err(pg_err)
        });
    }

    /// The hosts and the lease, as the database has them now.
    pub fn view(&self) -> Result<ClusterView, StoreError> {
        let lease_s = self.lease.length.as_secs_f64();
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        let mut leases: Vec<LeaseView> = self
            .block(client.query(
                "SELECT owner, generation, \
                   (extract(epoch FROM now() - taken_at) * 1000)::bigint, \
                   (extract(epoch FROM now() - renewed_at) * 1000)::bigint, \
                   (extract(epoch FROM expires_at - now()) * 1000)::bigint \
                 FROM weft_leases WHERE part < $1 ORDER BY part",
                &[&(self.partitions() as i32)],
            ))
            .map_err(pg_err)?
            .iter()
            .zip(0u32..)
            .map(|(r, part)| LeaseView {
                partition: (self.partitions() > 1).then_some(part),
                holder: r.get(0),
                generation: r.get(1),
                held_ms: r.get(2),
                renewed_ms_ago: r.get(3),
                expires_in_ms: r.get(4),
            })
            .collect();
        let live = |l: &LeaseView| l.expires_in_ms.is_some_and(|ms| ms > 0);
        let holders: std::collections::HashSet<String> = leases
            .iter()
            .filter(|l| live(l))
            .filter_map(|l| l.holder.clone())
            .collect();
        let Some(lease) = leases.first().cloned() else {
            return Err(StoreError::Backend(format!(
                "the store at {} has no lease rows: it was not made by weft",
                self.shown()
            )));
        };
        // Each live holder's partitions.
        let mut held: std::collections::HashMap<String, Vec<u32>> = Default::default();
        for (l, part) in leases.iter().zip(0u32..) {
            if let (true, Some(h)) = (live(l) && leases.len() > 1, &l.holder) {
                held.entry(h.clone()).or_default().push(part);
            }
        }
        if leases.len() == 1 {
            leases.clear();
        }
        let rows = self
            .block(client.query(
                "SELECT host_id, address, version, \
                   to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                   (extract(epoch FROM now() - seen_at) * 1000)::bigint, in_memory, \
                   CASE WHEN contract_started = started_at THEN contract END, \
                   CASE WHEN format_started = started_at THEN format END \
                 FROM weft_hosts ORDER BY started_at, host_id",
                &[],
            ))
            .map_err(pg_err)?;
        let hosts = rows
            .into_iter()
            .map(|r| {
                let host_id: String = r.get(0);
                let seen_ms_ago: i64 = r.get(4);
                let role = if holders.contains(&host_id) {
                    "holder"
                } else if (seen_ms_ago as f64) > lease_s * 500.0 {
                    "gone"
                } else {
                    "standby"
                };
                HostView {
                    partitions: held.remove(&host_id).unwrap_or_default(),
                    host_id,
                    address: r.get(1),
                    version: r.get(2),
                    role,
                    started_at: r.get(3),
                    seen_ms_ago,
                    in_memory: r.get(5),
                    contract: r
                        .get::<_, Option<String>>(6)
                        .unwrap_or_else(|| CONTRACT_FLOOR.to_owned()),
                    format: r.get::<_, Option<i32>>(7).unwrap_or(0),
                }
            })
            .collect();
        // `live_hosts` takes a connection of its own.
        drop(client);
        let assignment = if leases.is_empty() {
            None
        } else {
            let live = self.live_hosts(self.lease.length)?;
            Some(AssignmentView {
                format: live.format,
                way: Way::of(live.format),
                held_back_by: live.older,
            })
        };
        Ok(ClusterView {
            store: "postgres",
            partitions: self.partitions(),
            this_host: Some(self.lease.host.clone()),
            lease: Some(lease),
            leases,
            assignment,
            hosts,
        })
    }

    /// Refuses unless no weft host but this process has a session on the
    /// database (a standby too, or a paused host): before a copy of the
    /// store, which lets it go when done, for any of them to take over.
    pub fn refuse_connected_hosts(&self) -> Result<(), StoreError> {
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        let rows = self
            .block(client.query(
                "SELECT DISTINCT substr(split_part(application_name, '#', 1), 6) \
                 FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name LIKE 'weft:%' \
                   AND split_part(application_name, '#', 1) || '#' \
                     || split_part(application_name, '#', 2) <> $1 ORDER BY 1",
                &[&super::pg::session_name(&self.lease.host)],
            ))
            .map_err(pg_err)?;
        let hosts: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        if hosts.is_empty() {
            return Ok(());
        }
        Err(StoreError::Backend(format!(
            "weft host {} {} connected to the database at {}: stop every host on it first \
             (standbys too: one on the store copied would take it over once the copy is done, \
             and run its executions a second time beside the copy's hosts; one on the target \
             would run on it not knowing what the copy wrote)",
            hosts.join(", weft host "),
            if hosts.len() == 1 { "is" } else { "are" },
            self.shown()
        )))
    }

    /// The other hosts seen within a lease and connected now (a process
    /// killed a moment ago, a host restarted under another default id, is
    /// not one), each with the clock its row says it runs on (`Some(true)`:
    /// `--manual-clock`; `None`: a host of a release before schema version
    /// 8, whose row does not say).
    pub fn live_clocks(&self) -> Result<Vec<(String, Option<bool>)>, StoreError> {
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        let rows = self
            .block(client.query(
                "SELECT h.host_id, h.manual_clock FROM weft_hosts h \
                 WHERE h.host_id <> $1 AND h.seen_at > now() - make_interval(secs => $2) \
                   AND EXISTS (SELECT 1 FROM pg_stat_activity a \
                     WHERE a.datname = current_database() \
                       AND split_part(a.application_name, '#', 1) = 'weft:' || h.host_id) \
                 ORDER BY h.host_id",
                &[&self.lease.host, &self.lease.length.as_secs_f64()],
            ))
            .map_err(pg_err)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// The id and address of the host holding the store now, if its lease
    /// is live.
    pub fn holder_address(&self) -> Result<Option<(String, String)>, StoreError> {
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        let row = self
            .block(client.query_opt(
                "SELECT h.host_id, h.address FROM weft_leases l \
                 JOIN weft_hosts h ON h.host_id = l.owner \
                 WHERE l.part = 0 AND l.expires_at > now()",
                &[],
            ))
            .map_err(pg_err)?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    /// The id and address of the host holding each partition now (`None`:
    /// no live lease), by partition.
    pub fn holders(&self) -> Result<Vec<Option<(String, String)>>, StoreError> {
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        let rows = self
            .block(client.query(
                "SELECT l.part, h.host_id, h.address FROM weft_leases l \
                 JOIN weft_hosts h ON h.host_id = l.owner \
                 WHERE l.part < $1 AND l.expires_at > now()",
                &[&(self.partitions() as i32)],
            ))
            .map_err(pg_err)?;
        let mut out = vec![None; self.partitions() as usize];
        for r in rows {
            let part: i32 = r.get(0);
            if let Some(slot) = out.get_mut(part as usize) {
                *slot = Some((r.get(1), r.get(2)));
            }
        }
        Ok(out)
    }

    /// The partition the directory places `id` in, if it has been made.
    pub fn placed(&self, id: &str) -> Result<Option<u32>, StoreError> {
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        let row = self
            .block(client.query_opt(
                "SELECT v FROM weft_directory WHERE k0 = $1",
                &[&id.as_bytes()],
            ))
            .map_err(pg_err)?;
        Ok(row.map(|r| super::types::unflip(r.get::<_, i64>(0)) as u32))
    }

    /// Why this host's writes would fail now, if they would.
    pub fn hold_problem(&self) -> Option<String> {
        self.lease.problem()
    }

    /// This host's id.
    pub fn host(&self) -> &str {
        &self.lease.host
    }

    /// Why this host may no longer write, once it may not.
    pub fn fenced(&self) -> tokio::sync::watch::Receiver<Option<super::lease::Fence>> {
        self.lease.fenced()
    }
}
