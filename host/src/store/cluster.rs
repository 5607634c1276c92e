//! A host's place among the hosts of one PostgreSQL store: joining,
//! waiting as a standby, holding the store by its lease, giving it up.
//! (On redb there is one host and no cluster.)

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::kv::pg::Pg;
use super::{Backend, Store, StoreError};

pub use super::kv::assign::{home, Change};
pub use super::kv::lease::{Fence, Wait};
pub use super::kv::members::{ClusterView, HostView, LeaseView};
pub use super::kv::notices::Announcer;

/// This host on a PostgreSQL store.
#[derive(Clone)]
pub struct Cluster {
    pg: Arc<Pg>,
}

impl Cluster {
    /// Connects to the store at `url` (creating the database and schema
    /// if needed) as host `host`, whose lease lasts `lease`. Holds nothing
    /// yet: see `acquire`.
    pub fn connect(url: &str, host: &str, lease: Duration) -> Result<Self, StoreError> {
        let pg = Pg::connect(url, true, host, lease, 1)?;
        // This weft runs partition 0 alone: a store made with more (by a
        // weft that spreads executions over them) is not this one's to run.
        if pg.partitions() > 1 {
            return Err(StoreError::Backend(format!(
                "the store at {} has {} partitions; this weft runs stores of one partition \
                 only: upgrade this host to the weft that made the store",
                pg.shown(),
                pg.partitions()
            )));
        }
        tracing::info!(database = pg.shown(), host, "the store is on PostgreSQL");
        Ok(Self { pg })
    }

    /// Connects as [`Cluster::connect`] does, to a store of any number of
    /// partitions: one made now gets `partitions` (an existing store keeps
    /// the count it was made with). Its partitions are taken by
    /// [`Cluster::holding`]'s rounds.
    pub fn connect_partitioned(
        url: &str,
        host: &str,
        lease: Duration,
        partitions: u32,
    ) -> Result<Self, StoreError> {
        let pg = Pg::connect(url, true, host, lease, partitions)?;
        tracing::info!(
            database = pg.shown(),
            host,
            partitions = pg.partitions(),
            "the store is on PostgreSQL"
        );
        Ok(Self { pg })
    }

    /// How many partitions the store has.
    pub fn partitions(&self) -> u32 {
        self.pg.partitions()
    }

    /// The id and address of the host holding each partition (by
    /// partition; `None`: none holds it now).
    pub fn holders(&self) -> Result<Vec<Option<(String, String)>>, StoreError> {
        self.pg.holders()
    }

    /// The partition the directory placed execution `id` in, if one was
    /// made under it (else it is made in its home, `home`).
    pub fn placed(&self, id: &str) -> Result<Option<u32>, StoreError> {
        if self.partitions() <= 1 {
            return Ok(Some(0));
        }
        self.pg.placed(id)
    }

    /// This host's part in holding the store's partitions, in rounds; a
    /// host counts another once it has been registered for `settle`.
    pub fn holding(&self, settle: Duration) -> Holding {
        Holding {
            parts: super::kv::assign::Partitions::new(self.pg.clone(), settle),
            deploys: Arc::default(),
        }
    }

    /// Registers this host, reachable at `address`, of weft `version`
    /// providing `contract`, on a manual clock or not; `in_memory` is shown
    /// in `weft cluster`.
    pub fn join(
        &self,
        address: &str,
        version: &str,
        contract: &str,
        manual_clock: bool,
        in_memory: Arc<AtomicU64>,
    ) -> Result<(), StoreError> {
        self.pg
            .join(address, version, contract, manual_clock, in_memory)
    }

    /// Waits (as `wait` says) until this host holds the store; returns
    /// its lease generation.
    pub fn acquire(&self, wait: Wait) -> Result<i64, StoreError> {
        self.pg.acquire(wait)
    }

    /// The store, once this host holds it.
    pub fn open_store(&self) -> Result<Store, StoreError> {
        Store::from_backend(Backend::Pg(self.pg.clone()))
    }

    /// The id and address of the host holding the store, if one does.
    pub fn holder_address(&self) -> Result<Option<(String, String)>, StoreError> {
        self.pg.holder_address()
    }

    pub fn view(&self) -> Result<ClusterView, StoreError> {
        self.pg.view()
    }

    pub fn host(&self) -> &str {
        self.pg.host()
    }

    /// What tells the other hosts that tasks wait on a queue here with no
    /// worker polling this host for them (a hint: see `kv/notices.rs`).
    pub fn announcer(&self) -> Announcer {
        self.pg.announcer()
    }

    /// Calls `on` with the queue (and how many tasks) of every notice of
    /// tasks another host sends.
    pub fn listen_tasks(&self, on: impl Fn(&str, u64) + Send + Sync + 'static) {
        self.pg.listen_tasks(on);
    }

    /// Why this host may no longer write, once it may not: it must stop.
    pub fn fenced(&self) -> watch::Receiver<Option<Fence>> {
        self.pg.fenced()
    }

    /// Why this weft must not write to the store now, if a newer weft
    /// migrated it past this one (read again; unreadable: nothing).
    pub fn outdated_now(&self) -> Option<String> {
        self.pg.outdated_now()
    }

    /// The modules deployed to the store, by hash (read without holding
    /// the store).
    pub fn module_hashes(&self) -> Result<Vec<String>, StoreError> {
        let txn = super::kv::Txn::Pg(self.pg.begin_read()?);
        let mut hashes = Vec::new();
        {
            let table = txn.open_table(super::tables::MODULES)?;
            for (hash, _) in table.iter()? {
                hashes.push(hash);
            }
        }
        txn.commit()?;
        Ok(hashes)
    }

    /// Refuses a host whose clock (`manual`: `--manual-clock`) is not the
    /// one the other live hosts of the store run on: executions of one
    /// store see one time (a host on the system clock cleared the manual
    /// clock the others ran on). Each host's row says its clock (schema
    /// version 8); for hosts of releases before, whose rows do not say, a
    /// manual clock the store keeps says that they run on it (a host on the
    /// system clock that opened would have cleared it). A host alone on
    /// the store may change its clock (it is warned when its engine opens).
    pub fn check_clock(&self, manual: bool) -> Result<(), StoreError> {
        let others = self.pg.live_clocks()?;
        let differ: Vec<&str> = others
            .iter()
            .filter(|(_, theirs)| *theirs == Some(!manual))
            .map(|(host, _)| host.as_str())
            .collect();
        let unsaid: Vec<&str> = others
            .iter()
            .filter(|(_, theirs)| theirs.is_none())
            .map(|(host, _)| host.as_str())
            .collect();
        let hosts = if !differ.is_empty() {
            differ
        } else if !manual && !unsaid.is_empty() && self.keeps_manual_clock()? {
            unsaid
        } else {
            return Ok(());
        };
        let (theirs, mine, flag) = if manual {
            (
                "the system clock",
                "a manual clock (--manual-clock)",
                "without --manual-clock",
            )
        } else {
            (
                "a manual clock (--manual-clock)",
                "the system clock",
                "with --manual-clock too",
            )
        };
        Err(StoreError::Backend(format!(
            "weft host {} on this store {} on {theirs}, and this host would run on {mine}: \
             executions of one store see one time. Start this host {flag}, or stop every host \
             of the store to change the clock they run on",
            hosts.join(", weft host "),
            if hosts.len() == 1 { "runs" } else { "run" },
        )))
    }

    /// Whether the store keeps a manual clock (read without holding it).
    fn keeps_manual_clock(&self) -> Result<bool, StoreError> {
        let txn = super::kv::Txn::Pg(self.pg.begin_read()?);
        let stored = super::stored_clock(&txn)?;
        txn.commit()?;
        Ok(matches!(stored, super::StoredClock::Kept(_)))
    }

    /// A module's bytes (read without holding the store).
    pub fn module_bytes(&self, hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = super::kv::Txn::Pg(self.pg.begin_read()?);
        let bytes = txn.open_table(super::tables::MODULES)?.get(hash)?;
        txn.commit()?;
        Ok(bytes)
    }

    /// Gives the store up at once and leaves (a graceful stop).
    pub fn release(&self) {
        self.pg.release();
        self.pg.leave();
    }

    /// Leaves without holding anything (a standby that stops).
    pub fn leave(&self) {
        self.pg.leave();
    }
}

/// The partitions a host holds, taken and given up in rounds
/// ([`Holding::step`]), and a store on each.
pub struct Holding {
    parts: super::kv::assign::Partitions,
    /// What deploys change, kept once for every partition's store: a
    /// deploy written through one is seen by all.
    deploys: Arc<super::deploys::Deploys>,
}

impl Holding {
    /// One round: takes the partitions assigned to this host that are
    /// free, and says what changed (see [`Change`]).
    pub fn step(&mut self) -> Result<Vec<Change>, StoreError> {
        self.parts.step()
    }

    /// Whether the next round should come sooner (see
    /// [`Partitions::soon`](super::kv::assign::Partitions::soon)).
    pub fn soon(&self) -> bool {
        self.parts.soon()
    }

    /// A store on partition `part`, which this host holds.
    pub fn open(&self, part: u32) -> Result<Store, StoreError> {
        let pg = self.parts.held(part).cloned().ok_or_else(|| {
            StoreError::Backend(format!("this host does not hold partition {part}"))
        })?;
        Store::from_backend_sharing(Backend::Pg(pg), self.deploys.clone())
    }

    /// Gives partition `part` up (its work drained first).
    pub fn release(&mut self, part: u32) {
        self.parts.release(part);
    }

    /// Gives every partition up (a graceful stop).
    pub fn release_all(&mut self) {
        self.parts.release_all();
    }
}
