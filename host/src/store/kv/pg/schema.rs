//! The PostgreSQL store's schema: its versioned steps, the migration a
//! host runs at start under an advisory lock, and the checks that refuse or
//! stop a host a newer weft migrated past.

use tokio_postgres::error::SqlState;

use super::{pg_err, pool_err, Pg};
use crate::store::StoreError;

/// One step of the schema.
struct Migration {
    sql: &'static str,
    /// The oldest schema version whose hosts still run on a database this
    /// step brought to its version: its own version, unless the step only
    /// adds what older hosts do not read (an expand step of a rolling
    /// upgrade: hosts of the release before run beside those of this one).
    /// A step that leaves older hosts out (the contract step, a release
    /// after the expand) also ends the holder's generation in its SQL
    /// (`UPDATE weft_leases SET generation = generation + 1, owner = NULL`):
    /// the fence refuses the next write of a host of the older release at
    /// once; hosts of this release and later also stop at their next
    /// renewal, and a standby among them does not take the store.
    hosts_from: i32,
}

/// The schema, one step per version. A step is never changed once
/// released: a new version adds a step.
const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: include_str!("../migrations/0001_tables.sql"),
        hosts_from: 1,
    },
    Migration {
        sql: include_str!("../migrations/0002_cluster.sql"),
        hosts_from: 2,
    },
    Migration {
        sql: include_str!("../migrations/0003_search.sql"),
        hosts_from: 3,
    },
    Migration {
        sql: include_str!("../migrations/0004_signal_requests.sql"),
        hosts_from: 3,
    },
    Migration {
        sql: include_str!("../migrations/0005_host_contracts.sql"),
        hosts_from: 3,
    },
    Migration {
        sql: include_str!("../migrations/0006_retired.sql"),
        hosts_from: 3,
    },
];

/// Why this weft must not write to database `shown` at schema version
/// `at` whose hosts must be of schema version `hosts_from` or newer (`at`
/// when unset: a step that said nothing of older hosts), if it must not.
fn outdated(shown: &str, at: i32, hosts_from: Option<i32>) -> Option<String> {
    let ours = MIGRATIONS.len() as i32;
    let from = hosts_from.unwrap_or(at);
    (at > ours && from > ours).then(|| {
        format!(
            "the database at {shown} has weft schema version {at}, newer than this weft knows \
             ({ours}), and hosts of schema version {from} or newer run on it: upgrade this host \
             to a weft at least as new as the one that migrated it"
        )
    })
}

/// Serializes schema changes of hosts starting together.
const MIGRATION_LOCK: i64 = 0x7765_6674_0001;

impl Pg {
    /// Creates the database the address names, through the server's
    /// `postgres` database.
    pub(super) fn create_database(
        &self,
        config: &tokio_postgres::Config,
    ) -> Result<(), StoreError> {
        let name = config.get_dbname().unwrap_or_default().to_owned();
        let mut admin = config.clone();
        admin.dbname("postgres");
        self.block(async move {
            let (client, conn) = admin.connect(self.tls()).await.map_err(pg_err)?;
            tokio::spawn(conn);
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            match client
                .batch_execute(&format!("CREATE DATABASE {quoted}"))
                .await
            {
                Ok(()) => Ok(()),
                // Another host created it meanwhile.
                Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => Ok(()),
                Err(e) => Err(StoreError::Backend(format!(
                    "the database {name} does not exist and could not be created ({}): \
                     create it (createdb {name}) or give a user that may",
                    e.as_db_error()
                        .map(|d| d.message().to_owned())
                        .unwrap_or(e.to_string())
                ))),
            }
        })
    }

    /// Brings the schema to this binary's version under an advisory lock;
    /// runs on a database a newer weft migrated only if that version's
    /// hosts-from says hosts of this one still run on it (a rolling
    /// upgrade), and refuses it otherwise.
    pub(super) fn migrate(&self, create: bool) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        let mut client = self.block(self.pool.get()).map_err(pool_err)?;
        self.block(async move {
            let tx = client.transaction().await.map_err(pg_err)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                .await
                .map_err(pg_err)?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS weft_schema (
                     one boolean PRIMARY KEY DEFAULT true CHECK (one),
                     version integer NOT NULL)",
            )
            .await
            .map_err(pg_err)?;
            // Older releases read only `version`. Altered only when the
            // column is missing: an ALTER locks the whole table, and a
            // reader elsewhere (a pg_dump) would hold every start up.
            let has_column = tx
                .query_opt(
                    "SELECT 1 FROM information_schema.columns WHERE table_schema = \
                     current_schema() AND table_name = 'weft_schema' AND column_name = 'hosts_from'",
                    &[],
                )
                .await
                .map_err(pg_err)?
                .is_some();
            if !has_column {
                tx.batch_execute("ALTER TABLE weft_schema ADD COLUMN hosts_from integer")
                    .await
                    .map_err(pg_err)?;
            }
            let row = tx
                .query_opt("SELECT version, hosts_from FROM weft_schema", &[])
                .await
                .map_err(pg_err)?;
            let (at, hosts_from) = row
                .map(|r| (r.get::<_, i32>(0), r.get::<_, Option<i32>>(1)))
                .unwrap_or((0, None));
            let ours = MIGRATIONS.len() as i32;
            if at == 0 && !create {
                return Err(StoreError::Backend(format!(
                    "the database at {shown} holds no weft store: check the address"
                )));
            }
            if at > ours {
                if let Some(why) = outdated(&shown, at, hosts_from) {
                    return Err(StoreError::Backend(why));
                }
                // A rolling upgrade: a newer release expanded the schema in
                // a way this one does not read; it runs on it unchanged.
                tracing::warn!(
                    database = %shown, schema = at, ours,
                    "the database's weft schema is newer than this weft's, and hosts of this \
                     version still run on it (a rolling upgrade): upgrade this host soon"
                );
                return tx.commit().await.map_err(pg_err);
            }
            for (i, step) in MIGRATIONS.iter().enumerate().skip(at as usize) {
                tx.batch_execute(step.sql).await.map_err(|e| {
                    StoreError::Backend(format!("schema migration {} failed: {e}", i + 1))
                })?;
            }
            // Hosts of version v run on it only if every step after v
            // lets them: the highest any step asks.
            let last = MIGRATIONS.iter().map(|m| m.hosts_from).max().unwrap_or(ours);
            tx.execute(
                "INSERT INTO weft_schema (version, hosts_from) VALUES ($1, $2)
                 ON CONFLICT (one) DO UPDATE
                 SET version = EXCLUDED.version, hosts_from = EXCLUDED.hosts_from",
                &[&ours, &last],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)
        })
    }

    /// Why this weft must not write to its database, at schema version
    /// `at` with hosts from `hosts_from` (read while it runs; no version:
    /// nothing to say), if it must not.
    pub(in crate::store::kv) fn outdated(
        &self,
        at: Option<i32>,
        hosts_from: Option<i32>,
    ) -> Option<String> {
        outdated(&self.shown, at?, hosts_from)
    }

    /// Why this weft must not write to its database now, if a newer weft
    /// migrated it past this one (read again: asked once this host was
    /// fenced, to tell its operator what to do; unreadable: nothing).
    pub fn outdated_now(&self) -> Option<String> {
        let client = self.block(self.pool.get()).ok()?;
        let row = self
            .block(client.query_opt("SELECT version, hosts_from FROM weft_schema", &[]))
            .ok()??;
        self.outdated(row.try_get(0).ok(), row.try_get(1).ok().flatten())
    }

    /// Refuses a database a newer weft migrated, whatever its hosts-from:
    /// a copy made by this weft would leave out what that version added.
    pub fn refuse_newer_schema(&self) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        let client = self.block(self.pool.get()).map_err(pool_err)?;
        let at: i32 = self
            .block(client.query_one("SELECT version FROM weft_schema", &[]))
            .map_err(pg_err)?
            .get(0);
        let ours = MIGRATIONS.len() as i32;
        if at > ours {
            return Err(StoreError::Backend(format!(
                "the database at {shown} has weft schema version {at}, newer than this weft \
                 knows ({ours}): copy it with a weft at least as new as the one that migrated \
                 it (this one would leave out what that version added)"
            )));
        }
        Ok(())
    }
}
