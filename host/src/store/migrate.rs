//! `weft store migrate`: copies a whole store from one place to another
//! (redb to PostgreSQL, or back), running executions included. The copy is
//! one write transaction on the target: it lands whole or not at all, so a
//! host can never start on half of it.

use super::kv::{Def, KeyT, Txn, ValT};
use super::tables::{self, EachTable};
use super::{Backend, Location, StoreError};

/// What a migration copied: rows by table, in the order copied.
#[derive(Debug, Default)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
}

impl Copied {
    /// Rows of `table` copied.
    pub fn rows(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}

/// Copies the store at `from` into the empty store at `to`. No host may run
/// on either meanwhile (redb's file lock enforces it for a directory; stop
/// the PostgreSQL hosts first).
pub fn migrate(from: &Location, to: &Location) -> Result<Copied, StoreError> {
    if same_place(from, to) {
        return Err(StoreError::Backend(
            "--from and --to are the same store".into(),
        ));
    }
    if let Location::Dir(dir) = from {
        if !dir.join("weft.redb").is_file() {
            return Err(StoreError::Backend(format!(
                "{} holds no weft store (no weft.redb): give the --data directory of the host \
                 to copy",
                dir.display()
            )));
        }
    }
    let source = super::open_backend(from, false)?;
    refuse_connected_hosts(&source)?;
    let target = super::open_backend(to, true)?;
    let copied = copy_all(&source, &target, to);
    // Whatever came of it, the next host takes either store at once.
    source.release();
    target.release();
    copied
}

/// Whether `a` and `b` name one store: a directory is one however it is
/// spelt (relative, with `..`, through a link).
fn same_place(a: &Location, b: &Location) -> bool {
    match (a, b) {
        (Location::Dir(a), Location::Dir(b)) => {
            let real = |d: &std::path::Path| std::fs::canonicalize(d).unwrap_or_else(|_| d.into());
            real(a) == real(b)
        }
        _ => a == b,
    }
}

fn copy_all(source: &Backend, target: &Backend, to: &Location) -> Result<Copied, StoreError> {
    // As a host's start would: tables an older store lacks, its indexes.
    super::prepare(source)?;
    super::prepare(target)?;
    let read = source.begin_read()?;
    let write = target.begin_write()?;
    refuse_unless_empty(&write, to)?;
    // Where a manual clock stood on the target is the source's now (or
    // nothing, if the source has none).
    let mut state = write.open_table(tables::HOST_STATE)?;
    for key in super::CLOCK_MARKS {
        state.delete(key)?;
    }
    drop(state);
    let mut copy = Copy {
        from: &read,
        to: &write,
        copied: Copied::default(),
    };
    tables::each(&mut copy)?;
    let copied = copy.copied;
    // A host that started on the source while it was copied.
    refuse_connected_hosts(source)?;
    write.commit()?;
    read.commit()?;
    Ok(copied)
}

/// On PostgreSQL, the copy holds the store's lease, which only a holder
/// refuses: a host connected to the source (a standby, a paused host)
/// would take the source over when the copy lets it go.
fn refuse_connected_hosts(source: &Backend) -> Result<(), StoreError> {
    match source {
        Backend::Pg(pg) => pg.refuse_connected_hosts(),
        Backend::Redb(_) => Ok(()),
    }
}

/// A target that holds anything of a store is refused: a copy over it
/// would mix two stores. Only the marks a new store's first open writes
/// (its indexes are built) may be there, and where a manual clock that
/// opened it stood.
fn refuse_unless_empty(txn: &Txn, to: &Location) -> Result<(), StoreError> {
    struct Count<'a> {
        txn: &'a Txn,
        rows: Vec<(&'static str, u64)>,
    }
    impl EachTable for Count<'_> {
        fn table<K: KeyT, V: ValT>(&mut self, def: Def<K, V>) -> Result<(), StoreError> {
            let n = self.txn.open_table(def)?.len()?;
            self.rows.push((def.name, n));
            Ok(())
        }
    }
    let mut count = Count {
        txn,
        rows: Vec::new(),
    };
    tables::each(&mut count)?;
    let mut marks = 0;
    txn.open_table(tables::HOST_STATE)?
        .scan(.., false, |key, _| {
            marks +=
                u64::from(super::INDEX_MARKS.contains(&key) || super::CLOCK_MARKS.contains(&key));
            Ok(true)
        })?;
    let held: Vec<String> = count
        .rows
        .iter()
        .map(|(name, n)| {
            (
                *name,
                if *name == tables::HOST_STATE.name {
                    n - marks
                } else {
                    *n
                },
            )
        })
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    if !held.is_empty() {
        let place = match to {
            Location::Dir(dir) => dir.display().to_string(),
            Location::Postgres(_) => "the target database".to_owned(),
        };
        return Err(StoreError::Backend(format!(
            "{place} already holds a weft store ({}): copy into an empty directory or database",
            held.join(", ")
        )));
    }
    Ok(())
}

struct Copy<'a> {
    from: &'a Txn,
    to: &'a Txn,
    copied: Copied,
}

impl EachTable for Copy<'_> {
    fn table<K: KeyT, V: ValT>(&mut self, def: Def<K, V>) -> Result<(), StoreError> {
        let source = self.from.open_table(def)?;
        let mut target = self.to.open_table(def)?;
        let mut rows = 0;
        source.scan(.., false, |k, v| {
            target.insert(k, v)?;
            rows += 1;
            Ok(true)
        })?;
        self.copied.tables.push((def.name, rows));
        Ok(())
    }
}
