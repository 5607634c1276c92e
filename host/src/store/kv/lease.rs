//! Which host writes a PostgreSQL store: the lease, its generation, and the
//! fence every write transaction passes.
//!
//! One host at a time holds each partition of the store (a store made
//! before schema version 7 has one, `part = 0`; see `Pg::partition`):
//! - its *lease session*, a connection of its own, holds the writer's
//!   advisory lock for as long as it lives, so a host that dies (its
//!   connections close) frees the store at once;
//! - the lease row names the holder and its *lease generation*, raised by
//!   one at each taking, and expires `length` after its last renewal in the
//!   database's time (`now()`), so a host that stops renewing (paused, cut
//!   off) loses it even while its sessions live: a taker waits for the
//!   expiry, then ends the old holder's lease session (and any of its
//!   sessions inside a transaction) and takes the lock;
//! - every write transaction begins with `weft_fence(part, host,
//!   generation)`, which holds the partition's lease row (KEY SHARE) until
//!   the commit and refuses the transaction once another generation holds
//!   the partition: a host that lost its lease writes nothing more (it
//!   stops: see `Lease::fenced`);
//! - the holder also stops writing by its own monotonic clock once its last
//!   renewal is older than the lease less a margin, before the database
//!   could give the lease away; it writes again if a renewal finds its own
//!   generation still holding (nobody took the store meanwhile);
//! - a renewal and a taking also read the schema's version: once a newer
//!   weft migrated the database past what this one runs on (a step whose
//!   hosts-from is above this version: the contract half of a rolling
//!   upgrade), the holder stops writing and a standby does not take the
//!   store.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::pg::{pg_err, Pg};
use crate::store::StoreError;

/// Held by the lease session of the host holding the store (a session
/// lock: PostgreSQL releases it when the connection ends, a killed host's
/// too). The same key older weft versions held for the same purpose;
/// partition `n` holds `WRITER_LOCK + n * 0x1_0000` (see `writer_lock`).
pub(super) const WRITER_LOCK: i64 = 0x7765_6674_0002;

/// The writer's lock of partition `part`: distinct per partition, and
/// from the migration lock (whose low half is 1).
fn writer_lock(part: u32) -> i64 {
    WRITER_LOCK + i64::from(part) * 0x1_0000
}

/// The code `weft_fence` refuses a transaction with.
pub(super) const FENCED: &str = "WF001";

/// This host's claim on the store.
pub(crate) struct Lease {
    /// This host's id, in the lease row and in each commit's token.
    pub(super) host: String,
    /// How long a renewal holds the lease.
    pub(super) length: Duration,
    /// The generation this host holds the store at (0: none yet).
    generation: AtomicI64,
    /// When the last renewal that counted was sent.
    renewed: Mutex<Option<Instant>>,
    /// Why this host may write no more.
    fenced: watch::Sender<Option<Fence>>,
    /// This host gave the store up (a graceful stop).
    given_up: std::sync::atomic::AtomicBool,
    /// The lease session, while this host has one, and whether it holds
    /// the writer's lock.
    session: tokio::sync::Mutex<Option<(tokio_postgres::Client, bool)>>,
    /// Since when a standby has seen the holder of a live lease without its
    /// lease session (the generation it saw it at).
    orphaned: Mutex<Option<(i64, Instant)>>,
}

/// Why a host may write no more, and so must stop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fence {
    /// Another generation holds the store, or this host gave it up.
    Lost(String),
    /// A newer weft migrated the database past what this one runs on.
    Outdated(String),
}

impl Fence {
    pub fn why(&self) -> &str {
        match self {
            Fence::Lost(why) | Fence::Outdated(why) => why,
        }
    }

    /// What the operator of a host stopped by it does next.
    pub fn next_step(&self) -> &'static str {
        match self {
            Fence::Lost(_) => {
                "another host holds the store now and runs its executions. Start this one again \
                 to rejoin as a standby."
            }
            Fence::Outdated(_) => {
                "the database's schema is newer than this weft runs on. Upgrade this host (its \
                 executions wait in the store for a host that runs on it)."
            }
        }
    }
}

/// How long `acquire` waits for a store another host holds.
#[derive(Debug, Clone, Copy)]
pub enum Wait {
    /// Not at all: refuse (a store being copied must not be in use).
    No,
    /// Up to this long (a host restarted right after a crash may find its
    /// old session still ending).
    Briefly(Duration),
    /// Until this host holds it: a standby.
    Forever,
}

/// The store's holder as the lease row says.
#[derive(Debug, Clone)]
pub struct Holder {
    pub owner: Option<String>,
    pub generation: i64,
    pub expired: bool,
    pid: Option<i32>,
    /// Its lease session is gone: it is given a moment to come back
    /// before its live lease is taken.
    pub orphaned: bool,
}

impl Lease {
    pub(super) fn new(host: &str, length: Duration) -> Self {
        Self {
            host: host.to_owned(),
            length,
            generation: AtomicI64::new(0),
            renewed: Mutex::new(None),
            fenced: watch::channel(None).0,
            given_up: std::sync::atomic::AtomicBool::new(false),
            session: tokio::sync::Mutex::new(None),
            orphaned: Mutex::new(None),
        }
    }

    /// How long before the database's expiry this host stops writing on
    /// its own: a fifth of the lease (clocks run at slightly different
    /// rates; a renewal's answer takes time).
    fn margin(&self) -> Duration {
        self.length / 5
    }

    /// The generation this host writes at, if it may write now.
    pub(super) fn check(&self) -> Result<i64, StoreError> {
        if self.given_up.load(Ordering::SeqCst) {
            return Err(StoreError::GivenUp);
        }
        if let Some(fence) = self.fenced.borrow().as_ref() {
            return Err(StoreError::Fenced(fence.why().to_owned()));
        }
        let generation = self.generation.load(Ordering::SeqCst);
        if generation == 0 {
            return Err(StoreError::Io(
                "this host does not hold the PostgreSQL store (yet): another host writes it".into(),
            ));
        }
        let age = self.confirmed_ago();
        if age > self.length.saturating_sub(self.margin()) {
            return Err(StoreError::Io(format!(
                "this host's hold on the PostgreSQL store was last confirmed {:.1}s ago (its \
                 lease lasts {}s): it writes nothing until a renewal confirms it still holds \
                 the store, and stops if another host took it",
                age.as_secs_f64(),
                self.length.as_secs()
            )));
        }
        Ok(generation)
    }

    /// [`Lease::check`], waiting up to a quarter lease (a renewal's
    /// period; 5 s at most) while the only problem is that the hold was not confirmed
    /// lately: a host woken from a pause shorter than its lease renews at
    /// once (its renewal is overdue), and the write that woke with it goes
    /// on instead of failing ("nothing was changed"). On the committer's
    /// thread.
    pub(super) fn check_soon(&self) -> Result<i64, StoreError> {
        let wait = (self.length / 4).min(Duration::from_secs(5));
        let until = Instant::now() + wait;
        let mut told = false;
        loop {
            match self.check() {
                Err(StoreError::Io(why)) if self.generation() != 0 && Instant::now() < until => {
                    if !std::mem::replace(&mut told, true) {
                        tracing::info!(
                            wait_ms = wait.as_millis() as u64,
                            "a write waits for this host's renewal of its lease: {why}"
                        );
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                checked => return checked,
            }
        }
    }

    /// How long ago its last renewal that counted was sent (forever: none).
    fn confirmed_ago(&self) -> Duration {
        let renewed = *self.renewed.lock().unwrap_or_else(|p| p.into_inner());
        renewed.map_or(Duration::MAX, |at| at.elapsed())
    }

    /// Whether this host may answer a read from what it committed
    /// (`records.rs`): it may write now, and its lease session is open and
    /// holds the writer's lock at this moment (a standby takes a live lease
    /// from a holder whose sessions the server ended, before the holder's
    /// next renewal would tell it). A session busy with a renewal counts
    /// as no: the read asks the database.
    pub(super) fn holds_now(&self) -> bool {
        self.check().is_ok()
            && self.session.try_lock().is_ok_and(|session| {
                session
                    .as_ref()
                    .is_some_and(|(client, locked)| *locked && !client.is_closed())
            })
    }

    /// Marks this host fenced: it writes nothing more.
    pub(super) fn fence(&self, fence: Fence) {
        if self.fenced.borrow().is_none() {
            tracing::error!(
                reason = fence.why(),
                "this host is fenced: it writes nothing more"
            );
            crate::metrics::get().fenced.inc();
            self.fenced.send_replace(Some(fence));
        }
    }

    /// Stops this host's writes because it gives the store up: the same
    /// state as a fence, without the error and the fence counter (nothing
    /// went wrong).
    fn give_up(&self, why: &str) {
        self.given_up.store(true, Ordering::SeqCst);
        if self.fenced.borrow().is_none() {
            // `release` says it gave the store up: nothing went wrong.
            tracing::debug!("this host writes nothing more: {why}");
            self.fenced.send_replace(Some(Fence::Lost(why.to_owned())));
        }
    }

    /// Why this host may no longer write, once it may not (it should stop).
    pub fn fenced(&self) -> watch::Receiver<Option<Fence>> {
        self.fenced.subscribe()
    }

    /// Why this host's writes would fail now, if they would (its lease not
    /// confirmed lately, fenced, given up).
    pub fn problem(&self) -> Option<String> {
        if self.generation() == 0 {
            return None;
        }
        self.check().err().map(|e| e.to_string())
    }

    pub fn generation(&self) -> i64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Whether this host gave this lease up or was fenced on it.
    pub(super) fn given_up_or_fenced(&self) -> bool {
        self.given_up.load(Ordering::SeqCst) || self.fenced.borrow().is_some()
    }

    /// Whether this host took the store and has not given it up (nor lost
    /// it).
    pub(super) fn taken_and_kept(&self) -> bool {
        self.generation() != 0 && self.fenced.borrow().is_none()
    }
}

impl Pg {
    /// Takes the store for this host: its lease session takes the writer's
    /// lock (ending an expired holder's sessions first), then the lease row
    /// at the next generation. Keeps it renewed until the host stops.
    pub fn acquire(self: &Arc<Self>, wait: Wait) -> Result<i64, StoreError> {
        let started = Instant::now();
        let mut told = false;
        // A host that is leaving (a standby stopping, answering what it
        // forwards) takes nothing.
        let leaving = || {
            self.left()
                .load(std::sync::atomic::Ordering::SeqCst)
                .then(|| StoreError::Backend("this host is stopping".into()))
        };
        loop {
            if let Some(e) = leaving() {
                return Err(e);
            }
            let attempt = match self.block(self.try_take()) {
                Ok(attempt) => attempt,
                // The database is out of reach (restarting, say): a standby
                // waits for it like for a holder.
                Err(e @ StoreError::Io(_)) => match wait {
                    Wait::Forever => {
                        tracing::warn!(error = %e, "cannot reach the store; retrying");
                        std::thread::sleep(Duration::from_secs(1));
                        continue;
                    }
                    _ => return Err(e),
                },
                Err(e) => return Err(e),
            };
            match attempt {
                Ok(generation) => {
                    if let Some(e) = leaving() {
                        self.release();
                        return Err(e);
                    }
                    let lease = self.lease.clone();
                    let pg = Arc::downgrade(self);
                    self.spawn(async move { renew(pg, lease).await });
                    return Ok(generation);
                }
                Err(holder) => {
                    let owner = holder.owner.clone().unwrap_or_default();
                    match wait {
                        // A holder that died a moment ago: its lease is
                        // waited out (a renewal's time), not refused.
                        Wait::No if holder.orphaned => {}
                        Wait::No => {
                            return Err(StoreError::Backend(format!(
                                "the database at {} is in use by weft host {owner}: stop it first",
                                self.shown()
                            )))
                        }
                        Wait::Briefly(d) if started.elapsed() >= d => {
                            return Err(StoreError::Backend(format!(
                                "the database at {} is held by weft host {owner} (lease \
                                 generation {}): stop that one, or start this one as a standby \
                                 with `weft server --store`, which waits to take over",
                                self.shown(),
                                holder.generation
                            )))
                        }
                        _ => {}
                    }
                    if !told {
                        tracing::info!(
                            holder = owner,
                            generation = holder.generation,
                            "the store is held by another host; this one waits as a standby"
                        );
                        told = true;
                    }
                    std::thread::sleep(self.poll());
                }
            }
        }
    }

    /// One attempt to take this partition, without waiting: its lease
    /// generation once taken (renewed from then on), `None` while another
    /// host holds a live lease on it (never taken from a live host; an
    /// expired holder's sessions are ended, and a later attempt takes it).
    pub fn try_acquire(self: &Arc<Self>) -> Result<Option<i64>, StoreError> {
        if self.left().load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Backend("this host is stopping".into()));
        }
        match self.block(self.try_take())? {
            Ok(generation) => {
                let lease = self.lease.clone();
                let pg = Arc::downgrade(self);
                self.spawn(async move { renew(pg, lease).await });
                Ok(Some(generation))
            }
            Err(_) => Ok(None),
        }
    }

    /// How often a standby looks at the lease.
    fn poll(&self) -> Duration {
        (self.lease.length / 20).clamp(Duration::from_millis(50), Duration::from_millis(500))
    }

    /// One attempt to take the store: `Ok(Ok(generation))` taken,
    /// `Ok(Err(holder))` held by a live host.
    async fn try_take(&self) -> Result<Result<i64, Holder>, StoreError> {
        let mut session = self.lease.session.lock().await;
        if session.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            *session = Some((self.session().await?, false));
        }
        let (client, locked) = session.as_mut().expect("a lease session");
        let lock = writer_lock(self.part());
        *locked = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&lock])
            .await
            .map_err(pg_err)?
            .get(0);
        let holder = holder(client, self.part()).await?;
        if !*locked {
            if holder.expired {
                // It stopped renewing (paused, cut off) while its session
                // lives: end that session, and any of its sessions inside a
                // transaction (they hold the lease row); the lock frees.
                let ended = end_sessions(client, &holder, self.part()).await?;
                // A store no host held yet (or one whose holder a schema
                // step fenced) has no holder to speak of; none ended: the
                // lock is another's (a taker looking at the same moment).
                if let Some(owner) = holder.owner.as_deref().filter(|_| ended > 0) {
                    tracing::warn!(
                        holder = owner,
                        generation = holder.generation,
                        sessions = ended,
                        part = self.part(),
                        "the store's lease expired; ended its holder's sessions"
                    );
                }
            }
            return Ok(Err(holder));
        }
        // The holder's lease session is gone. Dead, most likely (its other
        // sessions went with it); but a database restart ends every session,
        // and a live lease is never taken from a host that may still be
        // renewing it: after a restart, or while any session of the holder
        // lives, it gets a renewal's time (and a second) to come back,
        // without the lock in the way.
        let live = holder.owner.is_some() && !holder.expired;
        if live && holder.owner.as_deref() != Some(self.lease.host.as_str()) {
            let grace = self.lease.length / 4 + Duration::from_secs(1);
            let row = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1 \
                       OR (split_part(application_name, '#', 1) = $2 \
                           AND datname = current_database())), \
                     now() - pg_postmaster_start_time() < make_interval(secs => $3)",
                    &[
                        &holder.pid.unwrap_or(0),
                        &format!("weft:{}", holder.owner.as_deref().unwrap_or("")),
                        &grace.as_secs_f64(),
                    ],
                )
                .await
                .map_err(pg_err)?;
            let (session_alive, restarted): (bool, bool) = (row.get(0), row.get(1));
            let since = {
                let mut orphaned = self
                    .lease
                    .orphaned
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                match *orphaned {
                    Some((generation, at)) if generation == holder.generation && !session_alive => {
                        at
                    }
                    _ if session_alive => {
                        *orphaned = None;
                        Instant::now()
                    }
                    _ => {
                        *orphaned = Some((holder.generation, Instant::now()));
                        Instant::now()
                    }
                }
            };
            if session_alive || (restarted && since.elapsed() < grace) {
                client
                    .query_one("SELECT pg_advisory_unlock($1)", &[&lock])
                    .await
                    .map_err(pg_err)?;
                *locked = false;
                return Ok(Err(Holder {
                    orphaned: !session_alive,
                    ..holder
                }));
            }
        }
        let tx = client.transaction().await.map_err(pg_err)?;
        // Waits for the write transactions of the previous holder still in
        // flight (they hold the row KEY SHARE): they come before (and the
        // taking's time, `clock_timestamp()`, after them). A database a
        // newer weft migrated past this one meanwhile is not taken.
        let row = tx
            .query_one(
                "SELECT generation, (SELECT version FROM weft_schema), \
                 (SELECT hosts_from FROM weft_schema) FROM weft_leases WHERE part = $1 FOR UPDATE",
                &[&(self.part() as i32)],
            )
            .await
            .map_err(pg_err)?;
        crate::pause::point("lease-taking").await;
        if let Some(why) =
            self.outdated(row.try_get(1).ok().flatten(), row.try_get(2).ok().flatten())
        {
            drop(tx);
            // Not this host's to hold: the lock goes with the refusal.
            client
                .query_one("SELECT pg_advisory_unlock($1)", &[&lock])
                .await
                .map_err(pg_err)?;
            *locked = false;
            return Err(StoreError::Backend(why));
        }
        let secs = self.lease.length.as_secs_f64();
        let row = tx
            .query_one(
                "UPDATE weft_leases SET owner = $1, generation = generation + 1, \
                 pid = pg_backend_pid(), taken_at = clock_timestamp(), renewed_at = now(), \
                 expires_at = now() + make_interval(secs => $2) WHERE part = $3 \
                 RETURNING generation",
                &[&self.lease.host, &secs, &(self.part() as i32)],
            )
            .await
            .map_err(pg_err)?;
        let generation: i64 = row.get(0);
        tx.execute(
            "INSERT INTO weft_lease_log (generation, part, owner, taken_at) \
             VALUES ($1, $3, $2, clock_timestamp())",
            &[&generation, &self.lease.host, &(self.part() as i32)],
        )
        .await
        .map_err(pg_err)?;
        let sent = Instant::now();
        tx.commit().await.map_err(pg_err)?;
        // A new generation: what the last one knew between transactions
        // may be stale (forgotten before the generation is taken up, so no
        // read of this host's sees it under the new one).
        self.forget_lengths();
        *self.lease.renewed.lock().unwrap_or_else(|p| p.into_inner()) = Some(sent);
        self.lease.generation.store(generation, Ordering::SeqCst);
        crate::metrics::get().handovers.inc();
        // Whose it was: an operator reading why it moved (a host given up
        // or paused past its lease, or one whose sessions all ended: killed).
        let before = match holder.owner.as_deref() {
            Some(owner) if owner != self.lease.host => match holder.expired {
                true => format!(" (from {owner}, whose lease had ended)"),
                false => format!(" (from {owner}, whose sessions had ended: killed, or cut off)"),
            },
            _ => String::new(),
        };
        tracing::info!(
            generation,
            host = self.lease.host,
            part = self.part(),
            "this host holds {}{before}",
            self.what()
        );
        Ok(Ok(generation))
    }

    /// What this lease is of, for logs: the store, or one partition of it.
    fn what(&self) -> String {
        match self.partitions() {
            1 => "the store".to_owned(),
            _ => format!("partition {} of the store", self.part()),
        }
    }

    /// Gives the store up at once (a graceful stop): the writer's lock is
    /// unlocked and the lease expires now, before the lease session
    /// closes, so a standby takes over without waiting for the expiry.
    pub fn release(&self) {
        let generation = self.lease.generation();
        if generation == 0 {
            return;
        }
        let what = self.what();
        self.lease.give_up(&format!(
            "this host gave {what} up (it is stopping, or hands it to the host it is \
             assigned to)"
        ));
        let host = self.lease.host.clone();
        let session = &self.lease.session;
        let part = self.part() as i32;
        self.block(async move {
            let mut session = session.lock().await;
            if let Some((client, _)) = session.take() {
                // Freed now, not once the server notices the session's
                // end, and before the lease is marked expired: a taker
                // that looks between the two finds a live lease of a host
                // whose session lives (it waits a look), never an expired
                // one whose lock is held (it would end this host's
                // sessions, taking it for a holder that stopped renewing).
                // All of it (a lock taken twice on one session is held
                // twice).
                let _ = client.execute("SELECT pg_advisory_unlock_all()", &[]).await;
                crate::pause::point("lease-release-half").await;
                // The next holder takes it at its next look.
                let _ = client
                    .execute(
                        "UPDATE weft_leases SET expires_at = now() \
                         WHERE part = $3 AND owner = $1 AND generation = $2",
                        &[&host, &generation, &part],
                    )
                    .await;
            }
        });
        tracing::info!(generation, "this host gave {what} up");
    }

    /// A new connection of its own for the lease session.
    async fn session(&self) -> Result<tokio_postgres::Client, StoreError> {
        let (client, conn) = self.config().connect(self.tls()).await.map_err(pg_err)?;
        tokio::spawn(conn);
        Ok(client)
    }
}

/// The lease row of partition `part`.
pub(super) async fn holder(
    client: &tokio_postgres::Client,
    part: u32,
) -> Result<Holder, StoreError> {
    let row = client
        .query_one(
            "SELECT owner, generation, coalesce(expires_at < now(), true), pid \
             FROM weft_leases WHERE part = $1",
            &[&(part as i32)],
        )
        .await
        .map_err(pg_err)?;
    Ok(Holder {
        owner: row.get(0),
        generation: row.get(1),
        expired: row.get(2),
        pid: row.get(3),
        orphaned: false,
    })
}

/// Ends the lease session of `holder` on partition `part` and its
/// sessions inside a transaction there (sessions are named
/// `weft:<host>#<process>`, a partition's writer `...#<part>`; a session
/// without a partition, a read or a writer of a release before partitions,
/// counts as partition 0's); its idle ones live on, so a write it still
/// sends is refused by the fence, not lost in a broken connection, and its
/// transactions on partitions it still holds go on. Its connection that
/// listens for task notices ends too (unread, it keeps PostgreSQL's queue
/// of notices from shrinking; a host that lives on makes it again: see
/// `notices.rs`). Only the holder's own process counts: the one whose
/// lease session lives (any of its sessions, however late made), else
/// sessions begun before the lease ended (a process of the same host
/// started since, taking the partition its ended process gave up, is
/// another holder); and only while the lease is still ended (the holder
/// may have renewed it since it was read). Returns how many ended.
async fn end_sessions(
    client: &tokio_postgres::Client,
    holder: &Holder,
    part: u32,
) -> Result<i64, StoreError> {
    let app = format!("weft:{}", holder.owner.as_deref().unwrap_or(""));
    let row = client
        .query_one(
            "WITH holder AS (SELECT split_part(application_name, '#', 2) AS process \
               FROM pg_stat_activity WHERE pid = $1 AND split_part(application_name, '#', 1) = $2) \
             SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 2000)) \
             FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
               AND (SELECT expires_at < now() FROM weft_leases WHERE part = $5) \
               AND (split_part(application_name, '#', 2) IN (SELECT process FROM holder) \
                 OR backend_start < (SELECT expires_at FROM weft_leases WHERE part = $5)) \
               AND (pid = $1 OR (split_part(application_name, '#', 1) = $2 AND state <> 'idle' \
                 AND coalesce(nullif(split_part(application_name, '#', 3), ''), '0') = $3) \
                 OR (split_part(application_name, '#', 1) = $2 AND query = $4))",
            &[
                &holder.pid.unwrap_or(0),
                &app,
                &part.to_string(),
                &super::notices::LISTENING,
                &(part as i32),
            ],
        )
        .await
        .map_err(pg_err)?;
    Ok(row.get(0))
}

/// Keeps the lease renewed while the store lives: every quarter lease, in
/// the database's time. A renewal that finds another generation fences the
/// host; one that cannot reach the database leaves writes stopped (by
/// `Lease::check`) until one does.
async fn renew(pg: std::sync::Weak<Pg>, lease: Arc<Lease>) {
    let every = lease.length / 4;
    let generation = lease.generation();
    // Whether this host stood still (paused, starved: a sleep overslept by
    // a quarter lease or more) since its last renewal that counted; a
    // database out of reach is not this.
    let mut stood_still = false;
    loop {
        let slept = Instant::now();
        tokio::time::sleep(every).await;
        stood_still |= slept.elapsed() > every * 2;
        // Fenced, or given up (a renewal now would take the store back
        // from the standby that is taking it).
        if lease.fenced.borrow().is_some() || lease.given_up.load(Ordering::SeqCst) {
            return;
        }
        let Some(pg) = pg.upgrade() else { return };
        // Tests hold a renewal here: the host runs on, its hold unconfirmed.
        crate::pause::point("lease-renewing").await;
        // Late after standing still past its lease: its other partitions
        // may be another's now, and this
        // renewal may make this lease live again. Its row is made new in
        // the same statement, so that the lease does not count it in the
        // assignment before it knows (fenced on its way out, the others
        // would hand it partitions): it counts once settled anew.
        let late = stood_still && lease.confirmed_ago() > lease.length;
        let sent = Instant::now();
        match renew_once(&pg, &lease, generation, late).await {
            Ok(Renewed::Held) => {
                stood_still = false;
                *lease.renewed.lock().unwrap_or_else(|p| p.into_inner()) = Some(sent);
            }
            Ok(Renewed::Lost) => {
                crate::pause::point("lease-lost").await;
                // Out of the assignment before anything else (its renewal
                // of a partition nobody took yet may succeed meanwhile).
                pg.withdraw_fenced();
                let now = pg.holder_async().await.ok();
                let by = now
                    .map(|h| {
                        format!(
                            "generation {} is held by {}",
                            h.generation,
                            h.owner.unwrap_or_default()
                        )
                    })
                    .unwrap_or_else(|| "another host took it".into());
                let what = match pg.partitions() {
                    1 => "the store".to_owned(),
                    _ => format!("partition {} of the store", pg.part()),
                };
                pg.fence(Fence::Lost(format!(
                    "this host ({}) lost {what} at lease generation {generation}: {by}",
                    lease.host
                )));
                return;
            }
            Ok(Renewed::Outdated(why)) => {
                pg.fence(Fence::Outdated(why));
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not renew this host's lease on the store; retrying");
            }
        }
    }
}

/// What a renewal found.
enum Renewed {
    /// This host still holds the store.
    Held,
    /// Another generation holds it.
    Lost,
    /// A newer weft migrated the database past what this one runs on.
    Outdated(String),
}

/// One renewal on the lease session (a new one if the old one broke); it
/// reads the schema's version in the same statement, whether or not the
/// lease is still this host's (a step that leaves this version out also
/// ends the holder's generation: its hosts are told to upgrade, not to
/// rejoin).
async fn renew_once(
    pg: &Pg,
    lease: &Lease,
    generation: i64,
    late: bool,
) -> Result<Renewed, StoreError> {
    let mut session = lease.session.lock().await;
    if lease.given_up.load(Ordering::SeqCst) {
        // Given up while this renewal waited for the session.
        return Ok(Renewed::Held);
    }
    if session.as_ref().is_none_or(|(c, _)| c.is_closed()) {
        *session = Some((pg.session().await?, false));
    }
    let (client, locked) = session.as_mut().expect("a lease session");
    if !*locked {
        // A new session (the old one broke: a database restart, a network
        // loss) takes the lock again; a standby may hold it for a moment
        // while it looks whether this host is alive: the next renewal
        // tries again. Whether the store is still this host's is the
        // generation's word, below.
        *locked = client
            .query_one(
                "SELECT pg_try_advisory_lock($1)",
                &[&writer_lock(pg.part())],
            )
            .await
            .map_err(pg_err)?
            .get(0);
    }
    let secs = lease.length.as_secs_f64();
    let row = client
        .query_one(
            "WITH renewed AS (UPDATE weft_leases SET renewed_at = now(), \
               expires_at = now() + make_interval(secs => $3), pid = pg_backend_pid() \
               WHERE part = $4 AND owner = $1 AND generation = $2 RETURNING 1), \
             unsettled AS (UPDATE weft_hosts SET started_at = now(), \
               contract_started = now(), format_started = now() \
               WHERE host_id = $1 AND $5 RETURNING 1) \
             SELECT EXISTS (SELECT 1 FROM renewed), s.version, s.hosts_from \
             FROM (SELECT 1) AS one LEFT JOIN weft_schema AS s ON true",
            &[&lease.host, &generation, &secs, &(pg.part() as i32), &late],
        )
        .await
        .map_err(pg_err);
    match row {
        Ok(row) => {
            let schema = (row.try_get(1).ok().flatten(), row.try_get(2).ok().flatten());
            Ok(match pg.outdated(schema.0, schema.1) {
                Some(why) => Renewed::Outdated(why),
                None if row.try_get(0).unwrap_or(false) => Renewed::Held,
                None => Renewed::Lost,
            })
        }
        Err(e) => {
            // The session is suspect: a new one next time.
            *session = None;
            Err(e)
        }
    }
}
