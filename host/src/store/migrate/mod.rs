//! `weft store migrate`: copies a whole store from one place to another
//! (redb to PostgreSQL, or back; one partition or several, either way),
//! running executions included. The copy is one write transaction on the
//! target: it lands whole or not at all, so a host can never start on half
//! of it.

mod placement;

use super::kv::{self, Def, KeyT, Scope, Txn, ValT};
use super::tables::{self, EachTable};
use super::{Backend, Location, StoreError};
use placement::Placement;

/// What a migration copied: rows by table, in the order copied.
#[derive(Debug, Default)]
pub struct Copied {
    pub tables: Vec<(&'static str, u64)>,
    /// The target's partitions.
    pub partitions: u32,
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

/// Copies the store at `from` into the empty store at `to`, made with
/// `partitions` partitions when the copy makes it (a PostgreSQL database
/// holding no store; `None`: one, or those it has). No host may run on
/// either meanwhile (redb's file lock enforces it for a directory; stop the
/// PostgreSQL hosts first).
pub fn migrate(
    from: &Location,
    to: &Location,
    partitions: Option<u32>,
) -> Result<Copied, StoreError> {
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
    if let (Location::Dir(dir), Some(n)) = (to, partitions.filter(|n| *n != 1)) {
        return Err(StoreError::Backend(format!(
            "--partitions {n}: {} is a redb store, which has one partition; give a PostgreSQL \
             address to --to for a store of several",
            dir.display()
        )));
    }
    // Each refuses a store any weft host is connected to, naming them all.
    let source = super::open_backend(from, false, 1)?;
    let target = match super::open_backend(to, true, partitions.unwrap_or(1)) {
        Ok(target) => target,
        Err(e) => {
            source.release();
            return Err(e);
        }
    };
    let copied =
        refuse_other_partitions(&target, partitions).and_then(|()| copy_all(&source, &target, to));
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

/// A target made earlier with other partitions than `--partitions` asks.
fn refuse_other_partitions(target: &Backend, asked: Option<u32>) -> Result<(), StoreError> {
    let has = partitions(target);
    match asked {
        Some(asked) if asked != has => Err(StoreError::Backend(format!(
            "--partitions {asked}: the target database was made with {has} partition(s) (by a \
             host or an earlier copy), which never change; leave --partitions out to copy into \
             those, or copy into a new database"
        ))),
        _ => Ok(()),
    }
}

/// The partitions of the store `backend` is partition 0 of.
fn partitions(backend: &Backend) -> u32 {
    match backend {
        Backend::Pg(pg) => pg.partitions(),
        Backend::Redb(_) => 1,
    }
}

/// Every partition of the store `backend` is partition 0 of.
fn every_partition(backend: &Backend) -> Result<Vec<Backend>, StoreError> {
    let mut all = vec![backend.clone()];
    if let Backend::Pg(pg) = backend {
        for part in 1..pg.partitions() {
            all.push(Backend::Pg(pg.partition(part)?));
        }
    }
    Ok(all)
}

fn copy_all(source: &Backend, target: &Backend, to: &Location) -> Result<Copied, StoreError> {
    // As a host's start would: tables an older store lacks, its indexes
    // (kept in the shared tables: partition 0 writes them for all).
    super::prepare(source)?;
    super::prepare(target)?;
    let sources = every_partition(source)?;
    let write = target.begin_write()?;
    let parts = partitions(target);
    refuse_unless_empty(&write, to, parts)?;
    // Where a manual clock stood on the target is the source's now (or
    // nothing, if the source has none).
    let mut state = write.open_table(tables::HOST_STATE)?;
    for key in super::CLOCK_MARKS {
        state.delete(key)?;
    }
    drop(state);
    let mut placement = if parts > 1 {
        Some(Placement::read(&sources, parts)?)
    } else {
        None
    };
    let mut copied = Copied {
        partitions: parts,
        ..Copied::default()
    };
    // One source partition after another, each in a read of its own (no
    // host writes any meanwhile: none is connected, checked again below),
    // so a copy of many partitions holds one connection at a time.
    for (at, from) in sources.iter().enumerate() {
        let read = from.begin_read()?;
        tables::each(&mut Copy {
            from: &read,
            shared_too: at == 0,
            to: &write,
            placement: placement.as_mut(),
            copied: &mut copied,
        })?;
        read.commit()?;
    }
    if let Some(placement) = placement {
        let rows = placement.write_directory(&write)?;
        copied.tables.push((tables::DIRECTORY.name, rows));
    }
    // A host that started on either store while it was copied.
    refuse_connected_hosts(source)?;
    refuse_connected_hosts(target)?;
    write.commit()?;
    Ok(copied)
}

/// On PostgreSQL, the copy holds the store's lease (partition 0's), which
/// only a holder refuses: a host connected to the source (a standby, a
/// paused host, one holding another partition) would take the source over
/// when the copy lets it go, and one connected to the target would run on
/// it not knowing what the copy wrote.
fn refuse_connected_hosts(store: &Backend) -> Result<(), StoreError> {
    match store {
        Backend::Pg(pg) => pg.refuse_connected_hosts(),
        Backend::Redb(_) => Ok(()),
    }
}

/// A target that holds anything of a store is refused: a copy over it
/// would mix two stores. Only the marks a new store's first open writes
/// (its indexes are built) may be there, and where a manual clock that
/// opened it stood.
fn refuse_unless_empty(txn: &Txn, to: &Location, partitions: u32) -> Result<(), StoreError> {
    struct Count<'a> {
        txn: &'a Txn,
        partitions: u32,
        rows: Vec<(&'static str, u64)>,
    }
    impl EachTable for Count<'_> {
        fn table<K: KeyT, V: ValT>(&mut self, def: Def<K, V>) -> Result<(), StoreError> {
            let copies = match def.scope {
                Scope::Partitioned => self.partitions,
                Scope::Shared => 1,
            };
            let mut n = 0;
            for part in 0..copies {
                n += self.txn.len_in(def, part)?;
            }
            self.rows.push((def.name, n));
            Ok(())
        }
    }
    let mut count = Count {
        txn,
        partitions,
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
    /// One partition of the source.
    from: &'a Txn,
    /// Whether the tables all partitions share are copied from this one.
    shared_too: bool,
    to: &'a Txn,
    /// Where each row goes, on a target of several partitions.
    placement: Option<&'a mut Placement>,
    copied: &'a mut Copied,
}

impl EachTable for Copy<'_> {
    fn table<K: KeyT, V: ValT>(&mut self, def: Def<K, V>) -> Result<(), StoreError> {
        // The directory is made anew for the target's partitions (a store
        // of one has none): see `Placement::write_directory`. A shared
        // table is one whichever partition reads it.
        let skipped =
            def.name == tables::DIRECTORY.name || (def.scope == Scope::Shared && !self.shared_too);
        let mut rows = 0;
        if !skipped {
            self.from.open_table(def)?.scan(.., false, |k, v| {
                let part = match (&mut self.placement, def.scope) {
                    (Some(placement), Scope::Partitioned) => placement.of_row(
                        def.name,
                        &kv::key_texts::<K>(&k),
                        kv::value_bytes::<V>(&v).as_deref(),
                    )?,
                    _ => 0,
                };
                self.to.insert_in(def, part, k, v)?;
                rows += 1;
                Ok(true)
            })?;
        }
        match self.copied.tables.iter_mut().find(|(t, _)| *t == def.name) {
            Some((_, n)) => *n += rows,
            None if def.name != tables::DIRECTORY.name => self.copied.tables.push((def.name, rows)),
            None => {}
        }
        Ok(())
    }
}
