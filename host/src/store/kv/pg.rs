//! The PostgreSQL backend of the key-value layer.
//!
//! Each store table is a table `weft_<name>` with the key's parts as columns
//! `k0, k1, ...` (its primary key, so rows are found and ranged in key
//! order) and the value in `v`. The store's code is synchronous (the group
//! committer is a thread, reads are short); this backend runs the driver on
//! its own small runtime and blocks on it, moving off a tokio worker first
//! (`block_in_place`) so the host's other tasks go on meanwhile.

use std::future::Future;
use std::ops::Bound;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::known::{key_text, Known, Lens};
use super::lease::{Lease, FENCED};
use super::records::{Records, EXECUTIONS};
use super::types::{Col, Param};
use super::{Def, KeyT, ValT};
use crate::store::StoreError;

mod rows;
mod schema;
mod tls;

/// Options of every session: standard strings for the batched literals,
/// and the server's notices (a schema step's "already exists") kept out of
/// the host's log.
const SESSION_OPTIONS: &str = "-c standard_conforming_strings=on -c client_min_messages=warning";

/// Buffered writes past this many bytes are sent at once.
const FLUSH_BYTES: usize = 8 << 20;

/// Most connections one host opens (the committer's and the readers').
const POOL_SIZE: usize = 16;

/// How long commit tokens are kept, in seconds.
const TOKEN_KEPT_S: u32 = 3_600;

/// One partition of a PostgreSQL store as this host sees it: the store's
/// connections (shared by its partitions), and this partition's lease,
/// writer and what the writer knows between transactions. A store made
/// with one partition (every store before schema version 7) is partition
/// 0 alone; partition `n > 0` keeps its copy of each partitioned table
/// (`Scope::Partitioned`) in the schema `weft_p<n>`, and reads and writes
/// the shared tables with the others.
pub(crate) struct Pg {
    shared: Arc<Shared>,
    /// This partition.
    part: u32,
    /// This host's claim on the partition: every write transaction is
    /// fenced by it (see `lease.rs`).
    pub(super) lease: Arc<Lease>,
    /// The connection every write transaction runs on. `None` while a
    /// transaction has it, or after it broke.
    writer: std::sync::Mutex<Option<Object>>,
    /// Its server process, so a lost one can be ended instead of waited
    /// for.
    writer_pid: std::sync::atomic::AtomicI32,
    /// History lengths the writer knows between transactions.
    lens: Lens,
    /// Execution records as this host committed them (see `records.rs`).
    records: Records,
}

/// What the partitions of one store share on this host.
struct Shared {
    pool: Pool,
    /// The address's settings, for connections outside the pool (the
    /// lease session).
    config: tokio_postgres::Config,
    /// What every connection does about TLS (`sslmode`, `sslrootcert`).
    tls: MakeRustlsConnect,
    /// Runs the connections; dropped in the background (the store may be
    /// dropped inside the host's runtime).
    rt: Option<tokio::runtime::Runtime>,
    /// The address without its password, for messages.
    shown: String,
    /// Set once this host removed its row (a graceful stop): its refresh
    /// no longer writes it back.
    left: std::sync::atomic::AtomicBool,
    /// The store's partitions (fixed when it was made; read at connect).
    partitions: std::sync::atomic::AtomicU32,
}

impl Drop for Pg {
    fn drop(&mut self) {
        // The writer's connection is named for this partition: closed,
        // not handed back to the pool for reads.
        let writer = self.writer.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = writer.take() {
            drop(Object::take(client));
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A PostgreSQL error as the store reports it: a broken or refused
/// connection, or a database that cannot write for now, is `Io` (the store
/// is unavailable and retried, as a full disk is); what the database refused
/// for what it was asked is `Backend`.
pub(crate) fn pg_err(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) if db.code().code() == FENCED => StoreError::Fenced(db.message().to_owned()),
        Some(db) if cannot_write_now(db.code().code()) => StoreError::Io(format!(
            "PostgreSQL cannot write now: {} ({})",
            db.message(),
            db.code().code()
        )),
        Some(db) if !lost_connection(&e) => StoreError::Backend(format!(
            "PostgreSQL refused a statement: {} ({})",
            db.message(),
            db.code().code()
        )),
        Some(db) => StoreError::Io(format!(
            "PostgreSQL ended the connection: {} ({})",
            db.message(),
            db.code().code()
        )),
        None => StoreError::Io(format!("PostgreSQL connection failed: {e}")),
    }
}

/// Whether the database refused a statement for a state that passes, not
/// for what the statement asked: it is read-only (25006: a failover to a
/// standby, an operator's `default_transaction_read_only`), out of
/// resources (class 53: a full disk, no memory), failing (class 58: an
/// I/O error), or the transaction met another session (40001: a
/// serialization failure; 40P01: the victim of a deadlock; 55P03: a lock
/// not had in time). Nothing was written; the same write succeeds once it
/// passes.
fn cannot_write_now(code: &str) -> bool {
    matches!(code, "25006" | "40001" | "40P01" | "55P03")
        || code.starts_with("53")
        || code.starts_with("58")
}

/// Whether `e` is the connection's end rather than a statement refused:
/// no answer at all, or the server's own word that it is going away
/// (class 08, connection exception; 57, operator intervention such as
/// `pg_terminate_backend` or a shutdown; 53300, too many connections).
/// After such an error during a commit, whether it was made is unknown.
fn lost_connection(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        None => e.as_db_error().is_none(),
        Some(code) => {
            let code = code.code();
            code.starts_with("08") || code.starts_with("57") || code == "53300"
        }
    }
}

/// A connection could not be had: whatever the server said (it refuses
/// connections, the database is closed to them, too many), the store is
/// unavailable for now.
pub(super) fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Io(format!("PostgreSQL connection failed: {}", source_text(&e)))
}

impl Pg {
    /// Connects to `url` (with `create`, creating its database if it does
    /// not exist and the user may) as weft host `host`, and creates or
    /// migrates the schema. Without `create`, a database without a weft
    /// schema is refused (a source to copy from must be a store). Nothing
    /// is written until the host holds the store (`acquire`).
    pub fn connect(
        url: &str,
        create: bool,
        host: &str,
        lease: std::time::Duration,
        partitions: u32,
    ) -> Result<Arc<Pg>, StoreError> {
        let (rest, asked) = tls::Tls::take(url)?;
        let mut config: tokio_postgres::Config = rest.parse().map_err(|e| {
            StoreError::Backend(format!(
                "--store {}: not a PostgreSQL address ({e}); write it as \
                 postgres://user[:password]@host[:port]/database",
                redact(url)
            ))
        })?;
        // Whatever `sslmode` is left in it was not read above: refused
        // rather than replaced by what was.
        if config.get_ssl_mode() != tokio_postgres::config::SslMode::Prefer {
            return Err(StoreError::Backend(format!(
                "{}: sslmode was not read where weft reads it; give it once, in the query \
                 (postgres://user@host/database?sslmode=verify-full)",
                redact(url)
            )));
        }
        // TLS names the server by its host; an address given only as
        // `hostaddr` is named by that.
        if config.get_hosts().is_empty() {
            for addr in config.get_hostaddrs().to_vec() {
                config.host(addr.to_string());
            }
        }
        // Writes are sent as SQL text with `'\x..'` bytea literals, which
        // need standard strings whatever the database or role says; a
        // silent network loss is noticed in seconds, not in TCP's hours.
        // Sessions carry the host's name: a host taking over an expired
        // lease finds the old holder's sessions by it.
        let options = match config.get_options() {
            Some(given) => format!("{given} {SESSION_OPTIONS}"),
            None => SESSION_OPTIONS.to_owned(),
        };
        config
            .options(options)
            .application_name(session_name(host))
            .connect_timeout(std::time::Duration::from_secs(10))
            .keepalives(true)
            .keepalives_idle(std::time::Duration::from_secs(5))
            .keepalives_interval(std::time::Duration::from_secs(2))
            .keepalives_retries(3)
            .tcp_user_timeout(std::time::Duration::from_secs(15))
            .ssl_mode(asked.driver_mode());
        let tls = asked.connector()?;
        if config.get_dbname().is_none_or(str::is_empty) {
            return Err(StoreError::Backend(format!(
                "{}: the address names no database; end it with one, as in \
                 postgres://user@host:5432/weft",
                redact(url)
            )));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("weft-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("starting the PostgreSQL runtime: {e}")))?;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .create_timeout(Some(std::time::Duration::from_secs(15)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Backend(format!("PostgreSQL pool: {e}")))?;
        let shared = Arc::new(Shared {
            config: config.clone(),
            tls,
            pool,
            rt: Some(rt),
            shown: redact(url),
            left: std::sync::atomic::AtomicBool::new(false),
            partitions: std::sync::atomic::AtomicU32::new(1),
        });
        let pg = Arc::new(Pg::part_of(shared, 0, host, lease));
        match pg.block(pg.pool().get()) {
            Ok(_) => {}
            Err(deadpool_postgres::PoolError::Backend(e))
                if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) && create =>
            {
                pg.create_database(&config)?;
            }
            Err(deadpool_postgres::PoolError::Backend(e))
                if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) =>
            {
                return Err(StoreError::Backend(format!(
                    "there is no database at {}: check the address",
                    pg.shown()
                )))
            }
            Err(e) => {
                if let Some(why) = asked.refusal(&e) {
                    return Err(StoreError::Backend(format!(
                        "PostgreSQL at {}: {why}",
                        pg.shown()
                    )));
                }
                return Err(StoreError::Io(format!(
                    "cannot reach PostgreSQL at {}: {}",
                    pg.shown(),
                    source_text(&e)
                )));
            }
        }
        let partitions = pg.migrate(create, partitions)?;
        pg.shared
            .partitions
            .store(partitions, std::sync::atomic::Ordering::SeqCst);
        Ok(pg)
    }

    fn part_of(shared: Arc<Shared>, part: u32, host: &str, lease: std::time::Duration) -> Self {
        Pg {
            shared,
            part,
            lease: Arc::new(Lease::new(host, lease)),
            writer: std::sync::Mutex::new(None),
            writer_pid: std::sync::atomic::AtomicI32::new(0),
            lens: Lens::default(),
            records: Records::default(),
        }
    }

    /// Partition `part` of the same store, on the same connections, with a
    /// lease of its own (not held: see `acquire`).
    pub fn partition(&self, part: u32) -> Result<Arc<Pg>, StoreError> {
        let count = self.partitions();
        if part >= count {
            return Err(StoreError::Backend(format!(
                "the store at {} has {count} partition(s); there is no partition {part}",
                self.shown()
            )));
        }
        Ok(Arc::new(Pg::part_of(
            self.shared.clone(),
            part,
            &self.lease.host,
            self.lease.length,
        )))
    }

    /// How many partitions the store has (fixed when it was made).
    pub fn partitions(&self) -> u32 {
        self.shared
            .partitions
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// This partition.
    pub fn part(&self) -> u32 {
        self.part
    }

    /// The name of `def`'s table for this partition.
    fn table<K: KeyT, V: ValT>(&self, def: Def<K, V>) -> String {
        table_of(def, self.part)
    }

    /// The connection write transactions run on: the one kept, if it still
    /// lives, else a new one (its server process noted).
    fn take_writer(&self) -> Result<Object, StoreError> {
        let kept = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(client) = kept.filter(|c| !c.is_closed()) {
            return Ok(client);
        }
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        // Named for its partition: a host taking this partition over from
        // this one ends this session's transaction, not those of the
        // partitions this host still holds (see `lease::end_sessions`).
        let named = format!(
            "SET application_name = '{}#{}'",
            session_name(&self.lease.host).replace('\'', "''"),
            self.part
        );
        let row = self
            .block(async {
                client.batch_execute(&named).await?;
                client.query_one("SELECT pg_backend_pid()", &[]).await
            })
            .map_err(pg_err)?;
        self.writer_pid
            .store(row.get(0), std::sync::atomic::Ordering::SeqCst);
        Ok(client)
    }

    /// Whether the write transaction that set `token` was committed, after
    /// its connection failed during the commit. Known only once the old
    /// session ended (its transaction then committed or rolled back for
    /// good); until then it waits: an outcome reported wrong would lose a
    /// write or make it twice.
    fn settle(&self, token: i64) -> Result<(), StoreError> {
        let old = self.writer_pid.load(std::sync::atomic::Ordering::SeqCst);
        let mut waited = std::time::Duration::ZERO;
        let step = std::time::Duration::from_millis(100);
        loop {
            // End the old session if the server still runs it (a commit in
            // progress finishes or rolls back whole first), rather than
            // wait for the server to notice a silent network loss; then
            // look for the token once it is gone.
            let settled = self.block(async {
                let client = self.pool().get().await.map_err(pool_err)?;
                let gone: bool = client
                    .query_one(
                        "SELECT pg_terminate_backend($1, 5000) OR NOT EXISTS \
                         (SELECT 1 FROM pg_stat_activity WHERE pid = $1)",
                        &[&old],
                    )
                    .await
                    .map_err(pg_err)?
                    .get(0);
                if !gone {
                    return Ok(None);
                }
                // A statement of its own: its snapshot is taken after the
                // old session ended.
                let made: bool = client
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM weft_commit_tokens WHERE token = $1)",
                        &[&token],
                    )
                    .await
                    .map_err(pg_err)?
                    .get(0);
                Ok::<_, StoreError>(Some(made))
            });
            match settled {
                Ok(Some(made)) => {
                    tracing::warn!(
                        made,
                        "PostgreSQL did not confirm a commit; learned whether it was made"
                    );
                    return if made {
                        Ok(())
                    } else {
                        Err(StoreError::Io(
                            "the PostgreSQL connection failed during a commit, which was not made"
                                .into(),
                        ))
                    };
                }
                Ok(None) | Err(_) => {
                    if waited.as_secs().is_multiple_of(10) && waited.subsec_millis() < 100 {
                        tracing::warn!(
                            waited_s = waited.as_secs(),
                            "PostgreSQL did not confirm a commit; waiting to learn whether it was made"
                        );
                    }
                    std::thread::sleep(step);
                    waited += step;
                }
            }
        }
    }

    pub fn shown(&self) -> &str {
        &self.shared.shown
    }

    /// Set once this host removed its row (a graceful stop).
    pub(super) fn left(&self) -> &std::sync::atomic::AtomicBool {
        &self.shared.left
    }

    /// A transaction that writes (the committer's), if this host holds
    /// the store: it begins with the fence (`weft_fence`), sent with its
    /// first statement, which refuses it once another generation holds the
    /// store.
    pub fn begin_write(self: &Arc<Self>) -> Result<Tx, StoreError> {
        let generation = self.lease.check_soon()?;
        let client = self.take_writer()?;
        let host = Param::Bytes(self.lease.host.as_bytes().to_vec());
        let fence = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SELECT weft_fence({}, convert_from({}, 'UTF8'), {generation})",
            self.part,
            host.literal()
        );
        self.begin(client, true, format!("{fence};"))
    }

    /// A read-only transaction over one snapshot.
    pub fn begin_read(self: &Arc<Self>) -> Result<Tx, StoreError> {
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        self.begin(
            client,
            false,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;".to_owned(),
        )
    }

    /// A read with no snapshot: each of its statements runs on its own and
    /// sees what was committed when it runs. For reads of one statement, or
    /// whose statements need not agree with each other: it saves the
    /// server a `BEGIN` and a `COMMIT`, and the `COMMIT` its own round trip.
    pub fn begin_latest(self: &Arc<Self>) -> Result<Tx, StoreError> {
        let client = self.block(self.pool().get()).map_err(pool_err)?;
        let mut tx = self.begin(client, false, String::new())?;
        tx.bare = true;
        Ok(tx)
    }

    /// A transaction on `client`; `pending` (its `BEGIN`) goes with its
    /// first statement.
    fn begin(
        self: &Arc<Self>,
        client: Object,
        writer: bool,
        pending: String,
    ) -> Result<Tx, StoreError> {
        Ok(Tx {
            pg: self.clone(),
            client: Some(client),
            writer,
            bare: false,
            pending: std::cell::RefCell::new(pending),
            rows: std::cell::RefCell::default(),
            known: std::cell::RefCell::new(Known::default()),
            begun: std::cell::Cell::new(false),
        })
    }

    pub(super) fn pool(&self) -> &Pool {
        &self.shared.pool
    }

    pub(super) fn config(&self) -> &tokio_postgres::Config {
        &self.shared.config
    }

    /// The TLS connector of every connection.
    pub(super) fn tls(&self) -> MakeRustlsConnect {
        self.shared.tls.clone()
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.shared
            .rt
            .as_ref()
            .expect("the runtime lives as long as the store")
    }

    /// Runs `f` on the backend's runtime in the background.
    pub(super) fn spawn<F: Future<Output = ()> + Send + 'static>(&self, f: F) {
        self.shared
            .rt
            .as_ref()
            .expect("the runtime lives as long as the store")
            .spawn(f);
    }

    /// Forgets what the writer knew between transactions (another host
    /// may have written since).
    pub(super) fn forget_lengths(&self) {
        self.lens.clear();
        self.records.clear();
    }

    /// The lease row, from the backend's runtime.
    pub(super) async fn holder_async(&self) -> Result<super::lease::Holder, StoreError> {
        let client = self.pool().get().await.map_err(pool_err)?;
        super::lease::holder(&client, self.part).await
    }

    /// Fences this host for good (see `Lease::fence`): besides its
    /// writes, it takes nothing more and leaves the hosts at once (see
    /// `withdraw`), so the other hosts do not assign it partitions, which
    /// they would hand over to a host about to exit.
    pub(super) fn fence(&self, fence: super::lease::Fence) {
        self.withdraw_fenced();
        self.lease.fence(fence);
    }

    /// [`Pg::withdraw`], unless this partition was given up (a handover:
    /// a renewal or a write that raced it and found it another's is no
    /// fence of this host, which holds and serves its other partitions).
    pub(super) fn withdraw_fenced(&self) {
        if !self.lease.given_up_or_fenced() {
            self.withdraw();
        }
    }

    /// Stops this host from taking partitions and deletes its row of the
    /// hosts (once: a graceful leave deletes it itself), without waiting
    /// for the deletion. Its row does not age out: a host that holds a
    /// live lease counts in the assignment (`Pg::live_hosts`), and one
    /// woken past its lease renews the partitions nobody took yet on its
    /// way out.
    pub(super) fn withdraw(&self) {
        if self.left().swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let (pool, host) = (self.pool().clone(), self.lease.host.clone());
        self.spawn(async move {
            let deleted = async {
                let client = pool.get().await.map_err(pool_err)?;
                client
                    .execute("DELETE FROM weft_hosts WHERE host_id = $1", &[&host])
                    .await
                    .map_err(pg_err)
            };
            if let Err(e) = deleted.await {
                tracing::debug!(error = %e, "could not delete this host's row");
            }
        });
    }

    /// A database error as the store reports it; a refusal by the fence
    /// also marks this host fenced.
    fn seen(&self, e: tokio_postgres::Error) -> StoreError {
        let e = pg_err(e);
        if let StoreError::Fenced(why) = &e {
            tracing::error!(reason = %why, "the database refused a write of this host: another host holds the store");
            self.fence(super::lease::Fence::Lost(format!(
                "the database refused a write of this host: {why}"
            )));
        }
        e
    }

    /// Runs `f` on the backend's runtime and waits for it.
    pub(super) fn block<F: Future + Send>(&self, f: F) -> F::Output
    where
        F::Output: Send,
    {
        use tokio::runtime::{Handle, RuntimeFlavor};
        let rt = self.rt();
        match Handle::try_current() {
            Err(_) => rt.block_on(f),
            Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| rt.block_on(f))
            }
            // A single-threaded runtime cannot lend its thread: block on
            // another one.
            Ok(_) => std::thread::scope(|s| {
                s.spawn(|| rt.block_on(f))
                    .join()
                    .expect("a store thread panicked")
            }),
        }
    }
}

/// Tokens of write transactions: the clock in nanoseconds, and above the
/// last one (unique for this process's life, whichever partition's
/// committer asks; unlikely to repeat across processes).
fn next_token() -> i64 {
    static LAST: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut last = LAST.load(std::sync::atomic::Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(
            last,
            next,
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
        ) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

fn source_text(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(e) => match e.as_db_error() {
            Some(db) => db.message().to_owned(),
            None => {
                let mut text = e.to_string();
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    text = format!("{text}: {s}");
                    source = s.source();
                }
                text
            }
        },
        other => other.to_string(),
    }
}

/// The schema partition `part` (from 1) keeps its partitioned tables in.
pub(super) fn partition_schema(part: u32) -> String {
    format!("weft_p{part}")
}

/// The name of this process's sessions as host `host`: a taker finds a
/// holder's sessions by the part before `#`, and a host its own by the
/// first two parts (a partition's writer adds `#<part>`).
pub(super) fn session_name(host: &str) -> String {
    format!("weft:{host}#{}", std::process::id())
}

/// `url` without its password.
fn redact(url: &str) -> String {
    let Some(scheme) = url.find("://").map(|s| s + 3) else {
        return url.to_owned();
    };
    // The credentials end at the last `@` before the path or the query.
    let end = url[scheme..]
        .find(['/', '?'])
        .map_or(url.len(), |e| scheme + e);
    let mut shown = match url[scheme..end].rfind('@').map(|at| scheme + at) {
        Some(at) => match url[scheme..at].split_once(':') {
            Some((name, _)) => format!("{}{name}:***{}", &url[..scheme], &url[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    // A password given in the query.
    if let Some(q) = shown.find('?') {
        let query = shown[q + 1..]
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=***".to_owned(),
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&");
        shown = format!("{}?{query}", &shown[..q]);
    }
    shown
}

/// One transaction on one pooled connection; rolled back if dropped
/// without a commit.
///
/// Round trips are what a transaction on PostgreSQL costs, so writes are
/// not sent one by one: they are kept as SQL text (`pending`) and go to the
/// server in one batch, ahead of the transaction's next read in the same
/// round trip (the connection runs requests in the order sent, so the read
/// sees them), or with the commit. `BEGIN` travels the same way.
pub(crate) struct Tx {
    pg: Arc<Pg>,
    client: Option<Object>,
    /// On the writer's connection, which goes back to `Pg::writer`.
    writer: bool,
    /// Statements run on their own, outside a transaction (`begin_latest`).
    bare: bool,
    /// Statements not sent yet, in order.
    pending: std::cell::RefCell<String>,
    /// Row writes not sent yet, after `pending` (see `rows.rs`).
    rows: std::cell::RefCell<rows::Rows>,
    /// Whether `BEGIN` was sent.
    begun: std::cell::Cell<bool>,
    /// Answers the transaction has without asking (see `known.rs`).
    known: std::cell::RefCell<Known>,
}

impl Drop for Tx {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // A connection left inside a transaction must not be used again
            // as it is.
            let ok = !self.begun.get()
                || self.bare
                || self.pg.block(client.batch_execute("ROLLBACK")).is_ok();
            self.release(client, ok);
        }
    }
}

fn names(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn params(from: usize, n: usize) -> Vec<String> {
    (from..from + n).map(|i| format!("${i}")).collect()
}

/// A row's key and value (`k0, k1, ..., v` as selected) as the parts
/// `bind` makes, the form `Known` keeps.
fn row_parts<K: KeyT, V: ValT>(
    row: &tokio_postgres::Row,
) -> Result<(Vec<Param>, Vec<Param>), StoreError> {
    let mut key = Vec::new();
    K::bind(&K::read(row, 0)?, &mut key);
    let mut value = Vec::new();
    if V::COL.is_some() {
        V::bind(&V::read(row, K::COLS.len())?, &mut value);
    }
    Ok((key, value))
}

/// `k0 = $1 AND k1 = $2`.
fn key_eq(cols: &[Col]) -> String {
    names("k", cols.len())
        .iter()
        .zip(params(1, cols.len()))
        .map(|(k, p)| format!("{k} = {p}"))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// The value column to select, or a constant for key-only tables.
fn value_col<V: ValT>() -> &'static str {
    if V::COL.is_some() {
        "v"
    } else {
        "true"
    }
}

/// A row's key and value as parameters.
fn bound<K: KeyT, V: ValT>(
    key: &K::SelfType<'_>,
    value: &V::SelfType<'_>,
) -> (Vec<Param>, Vec<Param>) {
    let mut args = Vec::new();
    K::bind(key, &mut args);
    let mut value_args = Vec::new();
    V::bind(value, &mut value_args);
    (args, value_args)
}

/// The name of `def`'s table in partition `part`.
fn table_of<K: KeyT, V: ValT>(def: Def<K, V>, part: u32) -> String {
    match def.scope {
        super::Scope::Partitioned if part > 0 => {
            format!("{}.weft_{}", partition_schema(part), def.name)
        }
        _ => format!("weft_{}", def.name),
    }
}

impl Tx {
    /// Its partition, on a store of several.
    pub fn partition(&self) -> Option<u32> {
        (self.pg.partitions() > 1).then_some(self.pg.part)
    }

    fn client(&self) -> &Object {
        self.client.as_ref().expect("an open transaction")
    }

    /// Runs a statement, after what is pending (in the same round trip).
    fn query(&self, sql: &str, args: &[Param]) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|p| p as _).collect();
        self.query_refs(sql, &refs)
    }

    fn query_refs(
        &self,
        sql: &str,
        refs: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        let client = self.client();
        let pending = self.take_pending();
        self.begun.set(true);
        self.pg
            .block(async {
                let statement = async {
                    let st = client.prepare_cached(sql).await?;
                    client.query(&st, refs).await
                };
                if pending.is_empty() {
                    return statement.await;
                }
                // Polled in order: the batch is sent before the statement.
                let (sent, rows) = futures::join!(client.batch_execute(&pending), statement);
                sent?;
                rows
            })
            .map_err(|e| self.pg.seen(e))
    }

    /// What is to be sent before the next statement, in order: the
    /// statements kept, then the row writes.
    fn take_pending(&self) -> String {
        let mut pending = self.pending.take();
        pending.push_str(&self.rows.borrow_mut().take_sql());
        pending
    }

    /// Keeps a write (SQL text with its arguments as literals) to send with
    /// the next statement or the commit, after the row writes kept before
    /// it.
    fn buffer(&self, sql: &str, args: &[Param]) -> Result<(), StoreError> {
        let mut text = sql.to_owned();
        // From the last placeholder down, so `$1` does not match `$10`.
        for (i, arg) in args.iter().enumerate().rev() {
            text = text.replace(&format!("${}", i + 1), &arg.literal());
        }
        let mut pending = self.take_pending();
        pending.push_str(&text);
        pending.push(';');
        *self.pending.borrow_mut() = pending;
        self.send_if_large()
    }

    /// Keeps a write of one row: an upsert of `value`'s parts, or a delete
    /// (`None`).
    fn buffer_row<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        key: &[Param],
        value: Option<&[Param]>,
    ) -> Result<(), StoreError> {
        self.rows
            .borrow_mut()
            .put(self.pg.table(def), key, V::COL.is_some(), value);
        self.send_if_large()
    }

    /// A large transaction (a store being copied) sends as it goes, in the
    /// same transaction: one message has a size limit.
    fn send_if_large(&self) -> Result<(), StoreError> {
        if self.pending.borrow().len() + self.rows.borrow().bytes() <= FLUSH_BYTES {
            return Ok(());
        }
        let batch = self.take_pending();
        self.begun.set(true);
        self.pg
            .block(self.client().batch_execute(&batch))
            .map_err(|e| self.pg.seen(e))
    }

    /// Gives the connection back: the writer's to `Pg::writer`, a reader's
    /// to the pool; one that failed is closed instead.
    fn release(&self, client: Object, ok: bool) {
        if !ok {
            drop(Object::take(client));
        } else if self.writer {
            *self.pg.writer.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
        }
    }

    /// Commits. A write transaction also records a fresh token in the same
    /// commit: when the connection fails before the server's answer, the
    /// token says whether the commit was made (see `Pg::settle`), so an
    /// error from here always means that nothing was written.
    pub fn commit(mut self) -> Result<(), StoreError> {
        let client = self.client.take().expect("an open transaction");
        if !self.writer && (!self.begun.get() || self.bare) {
            // A read that sent nothing, or no `BEGIN`: there is nothing to
            // end. (A write transaction always commits, even an empty one:
            // the store's probe after a failure asks the database that way.)
            self.release(client, true);
            return Ok(());
        }
        if !self.writer {
            // A read-only transaction ends the same whatever its answer; the
            // connection goes back to the pool once it did (requests on it
            // are served in order, so nobody sees it inside this one).
            self.pg.rt().spawn(async move {
                if client.batch_execute("COMMIT").await.is_err() {
                    drop(Object::take(client));
                }
            });
            return Ok(());
        }
        let token = next_token();
        // Tokens are kept an hour (they only matter until the commit they
        // mark is settled), by the database's clock: their values are
        // each host's own, and a host that numbered them from its start
        // (releases before schema version 7) writes small ones for hours.
        // Each partition forgets its own (no wait on another's rows).
        let sql = format!(
            "{}INSERT INTO weft_commit_tokens (token, host, generation, part) \
             VALUES ({token}, convert_from({}, 'UTF8'), {}, {part}); \
             DELETE FROM weft_commit_tokens WHERE part = {part} \
             AND committed_at < now() - make_interval(secs => {TOKEN_KEPT_S}); COMMIT",
            self.take_pending(),
            Param::Bytes(self.pg.lease.host.as_bytes().to_vec()).literal(),
            self.pg.lease.generation(),
            part = self.pg.part,
        );
        let known = self.known.take();
        // Until the commit's answer, its records and history lengths are
        // asked of the database: a kept one could be older than what the
        // server shows once the commit is made.
        known.uncommitted(&self.pg.lens, &self.pg.records);
        let made = match self.pg.block(client.batch_execute(&sql)) {
            Ok(()) => {
                self.release(client, true);
                Ok(())
            }
            // Refused by the database: nothing was committed.
            Err(e) if !lost_connection(&e) && !client.is_closed() => {
                self.release(client, false);
                Err(self.pg.seen(e))
            }
            Err(_) => {
                self.release(client, false);
                self.pg.settle(token)
            }
        };
        if made.is_ok() {
            known.committed(&self.pg.lens, &self.pg.records);
        }
        made
    }

    pub fn rollback(mut self) -> Result<(), StoreError> {
        let client = self.client.take().expect("an open transaction");
        if !self.begun.get() || self.bare {
            self.release(client, true);
            return Ok(());
        }
        let result = self.pg.block(client.batch_execute("ROLLBACK"));
        self.release(client, result.is_ok());
        result.map_err(|e| self.pg.seen(e))
    }

    pub fn get<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        key: &K::SelfType<'_>,
    ) -> Result<Option<V::Out>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {} WHERE {}",
            value_col::<V>(),
            self.pg.table(def),
            key_eq(K::COLS)
        );
        let mut args = Vec::new();
        K::bind(key, &mut args);
        let text = key_text(&args);
        if let Some(known) = self.known.borrow().row(def.name, &text) {
            return known.as_deref().map(V::from_params).transpose();
        }
        // A read of the latest record, while this host is the store's only
        // writer: what it committed last.
        let kept = self.bare && def.name == EXECUTIONS && self.pg.lease.holds_now();
        if kept {
            if let Some(value) = self.pg.records.get(&text) {
                return V::from_params(&value).map(Some);
            }
        }
        let version = self.pg.records.version();
        let rows = self.query(&sql, &args)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let value = V::read(row, 0)?;
        if kept {
            let mut parts = Vec::new();
            V::bind(&value, &mut parts);
            self.pg.records.offer(text, parts, version);
        }
        Ok(Some(V::out(value)))
    }

    /// Reads `key` of partition `part`'s copy of `def` (another
    /// partition's, written by its own holder), locking the row until this
    /// transaction ends: a write there that would delete or change it waits
    /// (`FOR SHARE`). No cache answers it.
    pub fn get_locked_in<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        part: u32,
        key: &K::SelfType<'_>,
    ) -> Result<Option<V::Out>, StoreError> {
        let sql = format!(
            "SELECT {} FROM {} WHERE {} FOR SHARE",
            value_col::<V>(),
            table_of(def, part),
            key_eq(K::COLS)
        );
        let mut args = Vec::new();
        K::bind(key, &mut args);
        // Bounded as a claim's wait is (a paused host's open transaction
        // must not hold this committer): past it, the store cannot write
        // now (55P03), and the group is written again later.
        self.buffer("SET LOCAL lock_timeout = '5s'", &[])?;
        let rows = self.query(&sql, &args);
        self.buffer("SET LOCAL lock_timeout TO DEFAULT", &[])?;
        rows?
            .first()
            .map(|row| V::read(row, 0).map(V::out))
            .transpose()
    }

    pub fn insert<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        key: &K::SelfType<'_>,
        value: &V::SelfType<'_>,
    ) -> Result<(), StoreError> {
        let (args, value) = bound::<K, V>(key, value);
        self.buffer_row(def, &args, Some(&value))?;
        self.known
            .borrow_mut()
            .wrote(def.name, &args, Some(value), &self.pg.lens);
        Ok(())
    }

    /// Inserts a row into partition `part`'s copy of `def` (a store being
    /// copied into several partitions). No cache learns it: the copy's
    /// transaction is the only one of its process.
    pub fn insert_in<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        part: u32,
        key: &K::SelfType<'_>,
        value: &V::SelfType<'_>,
    ) -> Result<(), StoreError> {
        let (args, value) = bound::<K, V>(key, value);
        self.rows
            .borrow_mut()
            .put(table_of(def, part), &args, V::COL.is_some(), Some(&value));
        self.send_if_large()
    }

    /// Inserts a row unless the table has one under its key; answers the
    /// value of the one it has (`None`: inserted). A row another
    /// transaction inserted and has not committed is waited for: it either
    /// commits (and is answered) or does not (and this one is inserted).
    pub fn claim<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        key: &K::SelfType<'_>,
        value: &V::SelfType<'_>,
    ) -> Result<Option<V::Out>, StoreError> {
        let mut args = Vec::new();
        K::bind(key, &mut args);
        let n = args.len();
        V::bind(value, &mut args);
        let mut cols = names("k", n);
        if V::COL.is_some() {
            cols.push("v".to_owned());
        }
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT DO NOTHING RETURNING true",
            self.pg.table(def),
            cols.join(", "),
            params(1, args.len()).join(", ")
        );
        // The wait for another transaction's insert is bounded (a paused
        // host's open transaction must not hold this committer for its
        // lease): past it, the store cannot write now (55P03), and the
        // group is written again later.
        self.buffer("SET LOCAL lock_timeout = '5s'", &[])?;
        let inserted = self.query(&sql, &args);
        self.buffer("SET LOCAL lock_timeout TO DEFAULT", &[])?;
        if !inserted?.is_empty() {
            let value = args.split_off(n);
            self.known
                .borrow_mut()
                .wrote(def.name, &args, Some(value), &self.pg.lens);
            return Ok(None);
        }
        // A statement of its own: in READ COMMITTED its snapshot sees the
        // row the insert found (committed, perhaps while it waited).
        args.truncate(n);
        let sql = format!(
            "SELECT {} FROM {} WHERE {}",
            value_col::<V>(),
            self.pg.table(def),
            key_eq(K::COLS)
        );
        let rows = self.query(&sql, &args)?;
        let row = rows.first().ok_or_else(|| {
            StoreError::Backend(format!(
                "a row of {} was there to refuse an insert, then was not",
                def.name
            ))
        })?;
        let value = V::out(V::read(row, 0)?);
        Ok(Some(value))
    }

    /// Removes a row, not asking what it held (buffered, like an insert).
    pub fn delete<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        key: &K::SelfType<'_>,
    ) -> Result<(), StoreError> {
        let mut args = Vec::new();
        K::bind(key, &mut args);
        self.buffer_row(def, &args, None)?;
        self.known
            .borrow_mut()
            .wrote(def.name, &args, None, &self.pg.lens);
        Ok(())
    }

    pub fn remove<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        key: &K::SelfType<'_>,
    ) -> Result<Option<V::Out>, StoreError> {
        let sql = format!(
            "DELETE FROM {} WHERE {} RETURNING {}",
            self.pg.table(def),
            key_eq(K::COLS),
            value_col::<V>()
        );
        let mut args = Vec::new();
        K::bind(key, &mut args);
        let rows = self.query(&sql, &args)?;
        self.known
            .borrow_mut()
            .wrote(def.name, &args, None, &self.pg.lens);
        rows.first().map(|r| V::read(r, 0).map(V::out)).transpose()
    }

    /// Reads the rows of each table's `keys` (one part, a string) in one
    /// round trip, so that the transaction's later `get`s of them ask
    /// nothing (a group commit reads the records of its executions, and the
    /// retired rows of the ids it creates, this way).
    pub fn read_ahead<V: ValT>(
        &self,
        wanted: &[(Def<&'static str, V>, &[&str])],
    ) -> Result<(), StoreError> {
        type Keys = Vec<Vec<u8>>;
        let wanted: Vec<(Def<&'static str, V>, Keys)> = wanted
            .iter()
            .filter(|(_, keys)| !keys.is_empty())
            .map(|(def, keys)| (*def, keys.iter().map(|k| k.as_bytes().to_vec()).collect()))
            .collect();
        if wanted.is_empty() || V::COL != Some(Col::Bytes) {
            return Ok(());
        }
        let sql = wanted
            .iter()
            .enumerate()
            .map(|(i, (def, _))| {
                format!(
                    "SELECT {i}::int, k0, v FROM {} WHERE k0 = ANY(${})",
                    self.pg.table(*def),
                    i + 1
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let refs: Vec<&(dyn ToSql + Sync)> = wanted.iter().map(|(_, keys)| keys as _).collect();
        let rows = self.query_refs(&sql, &refs)?;
        let corrupt = |e: tokio_postgres::Error| StoreError::Corrupt {
            what: "database row",
            detail: e.to_string(),
        };
        let mut known = self.known.borrow_mut();
        let mut found = std::collections::HashSet::new();
        for row in &rows {
            let at: i32 = row.try_get(0).map_err(corrupt)?;
            let key: Vec<u8> = row.try_get(1).map_err(corrupt)?;
            let value: Vec<u8> = row.try_get(2).map_err(corrupt)?;
            let Some((def, _)) = usize::try_from(at).ok().and_then(|at| wanted.get(at)) else {
                continue;
            };
            let text = key_text(&[Param::Bytes(key.clone())]);
            known.read_ahead(def.name, text, Some(vec![Param::Bytes(value)]));
            found.insert((def.name, key));
        }
        for (def, keys) in wanted {
            for key in keys {
                if !found.contains(&(def.name, key.clone())) {
                    known.read_ahead(def.name, key_text(&[Param::Bytes(key)]), None);
                }
            }
        }
        Ok(())
    }

    /// Reads the rows of `keys` (each bound by `KeyT::bind`) in one round
    /// trip, so that the transaction's later `get`s of them ask nothing (a
    /// group commit reads the completion rows its batches check this way).
    pub fn read_ahead_keys<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        keys: &[Vec<Param>],
    ) -> Result<(), StoreError> {
        let n = K::COLS.len();
        if keys.is_empty() || keys.iter().any(|k| k.len() != n) {
            return Ok(());
        }
        // One array per key part (its parts are of the column's type, as
        // `bind` made them), unnested into the keys wanted.
        let columns: Vec<Vec<Param>> = (0..n)
            .map(|i| keys.iter().map(|k| k[i].clone()).collect())
            .collect();
        let refs: Vec<&(dyn ToSql + Sync)> = columns.iter().map(|c| c as _).collect();
        let arrays: Vec<String> = K::COLS
            .iter()
            .enumerate()
            .map(|(i, col)| match col {
                Col::Bytes => format!("${}::bytea[]", i + 1),
                Col::Int => format!("${}::bigint[]", i + 1),
            })
            .collect();
        let cols = names("k", n).join(", ");
        let sql = format!(
            "SELECT {cols}, {} FROM {} WHERE ({cols}) IN (SELECT * FROM unnest({}))",
            value_col::<V>(),
            self.pg.table(def),
            arrays.join(", ")
        );
        let rows = self.query_refs(&sql, &refs)?;
        let mut known = self.known.borrow_mut();
        let mut found = std::collections::HashSet::new();
        for row in &rows {
            let (key, value) = row_parts::<K, V>(row)?;
            let text = key_text(&key);
            found.insert(text.clone());
            known.read_ahead(def.name, text, Some(value));
        }
        for key in keys {
            let text = key_text(key);
            if !found.contains(&text) {
                known.read_ahead(def.name, text, None);
            }
        }
        Ok(())
    }

    /// Reads every row of `def` whose first key part is one of `firsts`, in
    /// one round trip, so that the transaction's later `get`s of keys
    /// beginning with them ask nothing (a group commit reads the timer rows
    /// of the runs it closes this way).
    pub fn read_ahead_first<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        firsts: &[&str],
    ) -> Result<(), StoreError> {
        if firsts.is_empty() || K::COLS.first() != Some(&Col::Bytes) {
            return Ok(());
        }
        let n = K::COLS.len();
        let wanted: Vec<Vec<u8>> = firsts.iter().map(|k| k.as_bytes().to_vec()).collect();
        let sql = format!(
            "SELECT {}, {} FROM {} WHERE k0 = ANY($1)",
            names("k", n).join(", "),
            value_col::<V>(),
            self.pg.table(def)
        );
        let rows = self.query_refs(&sql, &[&wanted])?;
        let mut known = self.known.borrow_mut();
        for row in &rows {
            let (key, value) = row_parts::<K, V>(row)?;
            known.read_ahead(def.name, key_text(&key), Some(value));
        }
        for first in wanted {
            known.read_ahead_first(def.name, key_text(&[Param::Bytes(first)]));
        }
        Ok(())
    }

    /// Whether the transaction knows that `def` has no row whose first key
    /// part is `first` (see `read_ahead_first`).
    pub fn known_none_under<K: KeyT, V: ValT>(&self, def: Def<K, V>, first: &str) -> bool {
        let first = key_text(&[Param::Bytes(first.as_bytes().to_vec())]);
        self.known.borrow().none_under(def.name, &first)
    }

    /// The history length of `id` if the transaction knows it.
    pub fn known_len(&self, id: &str) -> Option<u64> {
        // The writer's, or a read of the latest while this host is the
        // store's only writer (see `records.rs`).
        let latest = self.bare && self.pg.lease.holds_now();
        if !self.writer && !latest {
            return None;
        }
        self.known.borrow().len(id, &self.pg.lens)
    }

    /// A history length the transaction computed.
    pub fn learned_len(&self, id: &str, n: u64) {
        self.known.borrow_mut().learned_len(id, n);
    }

    /// When the last event of `id`'s history, `len` long, was recorded, if
    /// the transaction knows it (as [`Tx::known_len`]).
    pub fn known_last_at_ms(&self, id: &str, len: u64) -> Option<u64> {
        let latest = self.bare && self.pg.lease.holds_now();
        if !self.writer && !latest {
            return None;
        }
        self.known.borrow().last_at_ms(id, len, &self.pg.lens)
    }

    /// When the last event of a history `len` long was recorded, read by
    /// the transaction.
    pub fn learned_last_at_ms(&self, id: &str, len: u64, at_ms: u64) {
        self.known.borrow_mut().learned_last_at_ms(id, len, at_ms);
    }

    /// `WHERE (k0, k1) >= ($1, $2) AND ...` for the bounds given, with
    /// their arguments.
    fn range_cond<'k, K: KeyT>(
        lo: Bound<&K::SelfType<'k>>,
        hi: Bound<&K::SelfType<'k>>,
    ) -> (String, Vec<Param>) {
        let n = K::COLS.len();
        let tuple = format!("({})", names("k", n).join(", "));
        let mut conds = Vec::new();
        let mut args = Vec::new();
        for (bound, incl, excl) in [(lo, ">=", ">"), (hi, "<=", "<")] {
            let (op, key) = match bound {
                Bound::Included(k) => (incl, k),
                Bound::Excluded(k) => (excl, k),
                Bound::Unbounded => continue,
            };
            conds.push(format!(
                "{tuple} {op} ({})",
                params(args.len() + 1, n).join(", ")
            ));
            K::bind(key, &mut args);
        }
        let cond = if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        };
        (cond, args)
    }

    #[allow(clippy::type_complexity)]
    pub fn scan<'k, K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        lo: Bound<&K::SelfType<'k>>,
        hi: Bound<&K::SelfType<'k>>,
        backwards: bool,
        limit: Option<u64>,
        f: &mut dyn FnMut(K::SelfType<'_>, V::SelfType<'_>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        let n = K::COLS.len();
        let (cond, args) = Self::range_cond::<K>(lo, hi);
        let dir = if backwards { " DESC" } else { "" };
        let order = names("k", n)
            .iter()
            .map(|k| format!("{k}{dir}"))
            .collect::<Vec<_>>()
            .join(", ");
        let limit = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
        let sql = format!(
            "SELECT {}, {} FROM {}{cond} ORDER BY {order}{limit}",
            names("k", n).join(", "),
            value_col::<V>(),
            self.pg.table(def)
        );
        for row in self.query(&sql, &args)? {
            if !f(K::read(&row, 0)?, V::read(&row, n)?)? {
                break;
            }
        }
        Ok(())
    }

    pub fn delete_range<'k, K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        lo: Bound<&K::SelfType<'k>>,
        hi: Bound<&K::SelfType<'k>>,
    ) -> Result<(), StoreError> {
        let (cond, args) = Self::range_cond::<K>(lo, hi);
        self.buffer(&format!("DELETE FROM {}{cond}", self.pg.table(def)), &args)?;
        let bound = |b: Bound<&K::SelfType<'k>>| match b {
            Bound::Included(k) => {
                let mut parts = Vec::new();
                K::bind(k, &mut parts);
                Some(parts)
            }
            _ => None,
        };
        let (lo, hi) = (bound(lo), bound(hi));
        self.known
            .borrow_mut()
            .wrote_range(def.name, lo.as_deref(), hi.as_deref());
        Ok(())
    }

    pub fn len<K: KeyT, V: ValT>(&self, def: Def<K, V>) -> Result<u64, StoreError> {
        self.len_in(def, self.pg.part)
    }

    /// The rows of partition `part`'s copy of `def`.
    pub fn len_in<K: KeyT, V: ValT>(&self, def: Def<K, V>, part: u32) -> Result<u64, StoreError> {
        let rows = self.query(
            &format!("SELECT count(*) FROM {}", table_of(def, part)),
            &[],
        )?;
        Ok(rows.first().map(|r| r.get::<_, i64>(0)).unwrap_or(0) as u64)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            super::redact("postgres://weft:s3cret@db:5432/weft"),
            "postgres://weft:***@db:5432/weft"
        );
        assert_eq!(
            super::redact("postgres://weft@db/weft"),
            "postgres://weft@db/weft"
        );
        assert_eq!(
            super::redact("postgres://weft:s@db/weft?password=x&sslrootcert=/a@b/ca.pem"),
            "postgres://weft:***@db/weft?password=***&sslrootcert=/a@b/ca.pem"
        );
    }
}
