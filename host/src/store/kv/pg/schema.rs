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
/// released: a new version adds a step. A step that creates a partitioned
/// table (`Scope::Partitioned`) creates it in the store's own schema, and
/// `partitions_sql` gives every partition its copy; a step that alters one
/// must alter every partition's copy itself (`weft_p<n>.weft_<name>` for
/// each lease row's `part` above 0).
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
    Migration {
        sql: include_str!("../migrations/0007_partitions.sql"),
        hosts_from: 3,
    },
    Migration {
        sql: include_str!("../migrations/0008_host_clocks.sql"),
        hosts_from: 3,
    },
    Migration {
        sql: include_str!("../migrations/0009_host_formats.sql"),
        hosts_from: 3,
    },
];

/// The schema version from which hosts know partitions.
const PARTITIONS_FROM: i32 = 7;

/// Most partitions a store may be made with.
pub(crate) const MAX_PARTITIONS: u32 = 1_024;

/// The partitioned tables (`Scope::Partitioned`), by name.
fn partitioned_tables() -> Vec<&'static str> {
    struct Names(Vec<&'static str>);
    impl crate::store::tables::EachTable for Names {
        fn table<K: crate::store::kv::KeyT, V: crate::store::kv::ValT>(
            &mut self,
            def: crate::store::kv::Def<K, V>,
        ) -> Result<(), StoreError> {
            if def.scope == crate::store::kv::Scope::Partitioned {
                self.0.push(def.name);
            }
            Ok(())
        }
    }
    let mut names = Names(Vec::new());
    crate::store::tables::each(&mut names).expect("listing names fails nowhere");
    names.0
}

/// The SQL that gives partitions 1 to `partitions - 1` their schema, their
/// copy of each partitioned table that they lack (the same columns, keys
/// and indexes as partition 0's: `LIKE ... INCLUDING ALL`), and their
/// lease row. Run after every migration, so a step that adds a
/// partitioned table adds it to every partition.
fn partitions_sql(partitions: u32) -> String {
    let tables = partitioned_tables();
    let mut sql = String::new();
    for part in 1..partitions {
        let schema = super::partition_schema(part);
        sql.push_str(&format!("CREATE SCHEMA IF NOT EXISTS {schema};\n"));
        for name in &tables {
            sql.push_str(&format!(
                "CREATE TABLE IF NOT EXISTS {schema}.weft_{name} (LIKE weft_{name} INCLUDING ALL);\n"
            ));
        }
        sql.push_str(&format!(
            "INSERT INTO weft_leases (part) VALUES ({part}) ON CONFLICT DO NOTHING;\n"
        ));
    }
    sql
}

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

/// How many partitions the store has: a lease row each.
async fn count_partitions(tx: &tokio_postgres::Transaction<'_>) -> Result<u32, StoreError> {
    let n: i64 = tx
        .query_one("SELECT count(*) FROM weft_leases", &[])
        .await
        .map_err(pg_err)?
        .get(0);
    Ok(u32::try_from(n.max(1)).unwrap_or(1))
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
                // Another host created it meanwhile (at the same moment,
                // the server's catalog says so instead).
                Err(e)
                    if e.code() == Some(&SqlState::DUPLICATE_DATABASE)
                        || e.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
                {
                    Ok(())
                }
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
    /// upgrade), and refuses it otherwise. A store made here gets
    /// `partitions` partitions; one made before keeps those it has.
    /// Returns how many the store has.
    pub(super) fn migrate(&self, create: bool, partitions: u32) -> Result<u32, StoreError> {
        if !(1..=MAX_PARTITIONS).contains(&partitions) {
            return Err(StoreError::Backend(format!(
                "{partitions} partitions: give 1 to {MAX_PARTITIONS}"
            )));
        }
        let shown = self.shown().to_owned();
        let mut client = self.block(self.pool().get()).map_err(pool_err)?;
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
                let count = count_partitions(&tx).await?;
                tx.commit().await.map_err(pg_err)?;
                return Ok(count);
            }
            for (i, step) in MIGRATIONS.iter().enumerate().skip(at as usize) {
                tx.batch_execute(step.sql).await.map_err(|e| {
                    StoreError::Backend(format!("schema migration {} failed: {e}", i + 1))
                })?;
            }
            // The partitions: as many as asked in a store made now, else
            // those it has, each given what a step added.
            let count = if at == 0 {
                partitions
            } else {
                count_partitions(&tx).await?
            };
            if at < ours && count > 1 {
                tx.batch_execute(&partitions_sql(count)).await.map_err(|e| {
                    StoreError::Backend(format!("making the store's partitions failed: {e}"))
                })?;
            }
            // Hosts of version v run on it only if every step after v
            // lets them: the highest any step asks. A store of several
            // partitions is for hosts that know partitions (from version
            // 7) alone: an older one would take partition 0 for the store.
            let mut last = MIGRATIONS.iter().map(|m| m.hosts_from).max().unwrap_or(ours);
            if count > 1 {
                last = last.max(PARTITIONS_FROM);
            }
            tx.execute(
                "INSERT INTO weft_schema (version, hosts_from) VALUES ($1, $2)
                 ON CONFLICT (one) DO UPDATE
                 SET version = EXCLUDED.version, hosts_from = EXCLUDED.hosts_from",
                &[&ours, &last],
            )
            .await
            .map_err(pg_err)?;
            tx.commit().await.map_err(pg_err)?;
            Ok(count)
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
        outdated(self.shown(), at?, hosts_from)
    }

    /// Why this weft must not write to its database now, if a newer weft
    /// migrated it past this one (read again: asked once this host was
    /// fenced, to tell its operator what to do; unreadable: nothing).
    pub fn outdated_now(&self) -> Option<String> {
        let client = self.block(self.pool().get()).ok()?;
        let row = self
            .block(client.query_opt("SELECT version, hosts_from FROM weft_schema", &[]))
            .ok()??;
        self.outdated(row.try_get(0).ok(), row.try_get(1).ok().flatten())
    }

    /// Refuses a database a newer weft migrated, whatever its hosts-from:
    /// a copy made by this weft would leave out what that version added.
    pub fn refuse_newer_schema(&self) -> Result<(), StoreError> {
        let shown = self.shown().to_owned();
        let client = self.block(self.pool().get()).map_err(pool_err)?;
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::Pg;
    use crate::store::kv::Txn;
    use crate::store::tables::HISTORY;

    /// A store an older weft made (schema version 6: its steps run as that
    /// release ran them), with a history row, a lease a host held at
    /// generation 5 and that host's commit token (written as the store
    /// writes them: a u64 key part with its sign bit flipped), is migrated
    /// to version 7:
    /// it has one partition, its rows read as before, the next host takes
    /// generation 6 (the lease log keeps the old row beside it) and writes.
    #[test]
    fn a_store_of_schema_version_6_migrates_to_one_partition() {
        let Some(url) = crate::store::tests::fresh_postgres_url("schema_six") else {
            return;
        };
        let (base, name) = url.rsplit_once('/').unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let (admin, conn) =
                tokio_postgres::connect(&format!("{base}/postgres"), tokio_postgres::NoTls)
                    .await
                    .unwrap();
            tokio::spawn(conn);
            admin
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(conn);
            client
                .batch_execute(
                    "CREATE TABLE weft_schema (one boolean PRIMARY KEY DEFAULT true CHECK (one), \
                     version integer NOT NULL, hosts_from integer)",
                )
                .await
                .unwrap();
            for step in &super::MIGRATIONS[..6] {
                client.batch_execute(step.sql).await.unwrap();
            }
            client
                .batch_execute(
                    "INSERT INTO weft_schema (version, hosts_from) VALUES (6, 3);
                     INSERT INTO weft_history (k0, k1, v) VALUES ('\\x6f6c64', -9223372036854775808, '\\x6576656e74');
                     UPDATE weft_leases SET owner = 'old-host', generation = 5, \
                       taken_at = now(), renewed_at = now(), expires_at = now() WHERE part = 0;
                     INSERT INTO weft_lease_log (generation, part, owner, taken_at) \
                       VALUES (5, 0, 'old-host', now());
                     INSERT INTO weft_commit_tokens (token, host, generation) \
                       VALUES (1, 'old-host', 5);",
                )
                .await
                .unwrap();
        });

        let pg = Pg::connect(&url, true, "new-host", Duration::from_secs(10), 4).unwrap();
        assert_eq!(
            pg.partitions(),
            1,
            "a store made before keeps its one partition"
        );
        let client = pg.block(pg.pool().get()).unwrap();
        let old: (i32, String, i64) = pg
            .block(client.query_one(
                "SELECT part, host, generation FROM weft_commit_tokens WHERE token = 1",
                &[],
            ))
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .unwrap();
        assert_eq!(
            old,
            (0, "old-host".to_owned(), 5),
            "an older token is of part 0"
        );
        assert_eq!(pg.acquire(super::super::super::lease::Wait::No).unwrap(), 6);
        let txn = Txn::Pg(pg.begin_write().unwrap());
        {
            let mut history = txn.open_table(HISTORY).unwrap();
            assert_eq!(
                history.get(("old", 0)).unwrap(),
                Some(b"event".to_vec()),
                "the older release's row reads as before"
            );
            history.insert(("old", 1), b"more".as_slice()).unwrap();
        }
        txn.commit().unwrap();

        let rows = pg
            .block(client.query(
                "SELECT part, generation, owner FROM weft_lease_log ORDER BY 1, 2",
                &[],
            ))
            .unwrap();
        let log: Vec<(i32, i64, String)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(
            log,
            vec![(0, 5, "old-host".to_owned()), (0, 6, "new-host".to_owned())]
        );
        let rows = pg
            .block(client.query(
                "SELECT part, host, generation FROM weft_commit_tokens ORDER BY token",
                &[],
            ))
            .unwrap();
        let tokens: Vec<(i32, String, i64)> = rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(tokens.last(), Some(&(0, "new-host".to_owned(), 6)));
        let version: i32 = pg
            .block(client.query_one("SELECT version FROM weft_schema", &[]))
            .unwrap()
            .get(0);
        assert_eq!(version, super::MIGRATIONS.len() as i32);
    }
}
