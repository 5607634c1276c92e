//! The key-value layer under the store's ops, the same on every backend.
//!
//! Every op and read of the store is written once, against [`Txn`] and
//! [`Table`]: typed tables of ordered keys, read and written inside one
//! transaction. Two backends carry them: redb (the embedded file; the tables
//! and encodings are exactly those earlier versions wrote, so old data
//! directories open unchanged) and PostgreSQL (a table per table, keys as
//! columns in the same order; see `pg.rs`). Since the ops are shared, the
//! semantics are too: what one backend refuses, the other refuses.

pub(crate) mod assign;
mod known;
pub(crate) mod lease;
pub(crate) mod members;
pub(crate) mod notices;
pub(crate) mod pg;
mod records;
mod redb_write;
#[cfg(test)]
pub(crate) mod tests;
mod types;

use std::marker::PhantomData;
use std::ops::RangeBounds;

use redb::{ReadableTable, ReadableTableMetadata};

pub(crate) use redb_write::RedbWrite;
pub(crate) use types::{KeyT, ValT};

/// Rows as a table's scans answer them.
pub(crate) type Rows<K, V> = Vec<(<K as KeyT>::Out, <V as ValT>::Out)>;

use super::StoreError;

/// A table: its name, the types of its keys and values, and whether each
/// partition of a store has its own copy.
pub(crate) struct Def<K: KeyT, V: ValT> {
    pub name: &'static str,
    pub scope: Scope,
    _types: PhantomData<(K, V)>,
}

/// Where a table's rows live when a store has several partitions (on
/// PostgreSQL; redb is one partition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// One copy for the whole store, read and written from every
    /// partition: what is deployed (modules, types, versions, activities),
    /// search attribute types, the manual clock.
    Shared,
    /// A copy per partition: executions and everything keyed by one
    /// (history, timers, inbox, ...), and schedules.
    Partitioned,
}

impl<K: KeyT, V: ValT> Clone for Def<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K: KeyT, V: ValT> Copy for Def<K, V> {}

impl<K: KeyT, V: ValT> Def<K, V> {
    /// A table with a copy per partition.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            scope: Scope::Partitioned,
            _types: PhantomData,
        }
    }

    /// A table with one copy for the whole store.
    pub const fn shared(name: &'static str) -> Self {
        Self {
            name,
            scope: Scope::Shared,
            _types: PhantomData,
        }
    }

    fn redb(&self) -> redb::TableDefinition<'static, K, V> {
        redb::TableDefinition::new(self.name)
    }
}

/// Each part of a key as text (`None`: a number): what a copy into
/// several partitions reads a row's owner from.
pub(crate) fn key_texts<K: KeyT>(key: &K::SelfType<'_>) -> Vec<Option<String>> {
    let mut parts = Vec::new();
    K::bind(key, &mut parts);
    parts
        .into_iter()
        .map(|p| match p {
            types::Param::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            types::Param::Int(_) => None,
        })
        .collect()
}

/// A value's bytes (`None`: a number, or a table of keys only).
pub(crate) fn value_bytes<V: ValT>(value: &V::SelfType<'_>) -> Option<Vec<u8>> {
    let mut parts = Vec::new();
    V::bind(value, &mut parts);
    match parts.pop() {
        Some(types::Param::Bytes(b)) => Some(b),
        _ => None,
    }
}

/// One transaction on either backend: a read sees one consistent state; a
/// write is applied whole at `commit` or not at all.
#[allow(clippy::large_enum_variant)] // one per operation, never in bulk
pub(crate) enum Txn {
    RedbWrite(RedbWrite),
    RedbRead(redb::ReadTransaction),
    Pg(pg::Tx),
}

impl Txn {
    pub fn open_table<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
    ) -> Result<Table<'_, K, V>, StoreError> {
        Ok(match self {
            Txn::RedbWrite(t) => Table::RedbWrite(t.table(def)?),
            Txn::RedbRead(t) => Table::RedbRead(t.open_table(def.redb())?),
            Txn::Pg(tx) => Table::Pg(tx, def),
        })
    }

    /// Reads `key` of partition `part`'s copy of `def`, locked until this
    /// transaction ends (see `pg::Tx::get_locked_in`). Only a PostgreSQL
    /// store has partitions.
    pub fn get_locked_in<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        part: u32,
        key: &K::SelfType<'_>,
    ) -> Result<Option<V::Out>, StoreError> {
        match self {
            Txn::Pg(tx) => tx.get_locked_in(def, part, key),
            _ => Err(StoreError::Backend(format!(
                "partition {part}: a redb store has one partition"
            ))),
        }
    }

    /// Inserts a row into partition `part`'s copy of `def` (a store copied
    /// into one of several partitions: `weft store migrate`). A redb store
    /// has partition 0 alone.
    pub fn insert_in<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        part: u32,
        key: K::SelfType<'_>,
        value: V::SelfType<'_>,
    ) -> Result<(), StoreError> {
        match self {
            Txn::Pg(tx) => tx.insert_in(def, part, &key, &value),
            _ if part == 0 => self.open_table(def)?.insert(key, value),
            _ => Err(StoreError::Backend(format!(
                "partition {part}: a redb store has one partition"
            ))),
        }
    }

    /// The rows of partition `part`'s copy of `def`.
    pub fn len_in<K: KeyT, V: ValT>(&self, def: Def<K, V>, part: u32) -> Result<u64, StoreError> {
        match self {
            Txn::Pg(tx) => tx.len_in(def, part),
            _ => self.open_table(def)?.len(),
        }
    }

    /// Reads the rows of each table's `keys` ahead, all in one round trip,
    /// where reads cost one each (PostgreSQL); a no-op on redb.
    pub fn read_ahead<V: ValT>(
        &self,
        wanted: &[(Def<&'static str, V>, &[&str])],
    ) -> Result<(), StoreError> {
        match self {
            Txn::Pg(tx) => tx.read_ahead(wanted),
            _ => Ok(()),
        }
    }

    /// Reads the rows of `keys` ahead, in one round trip, where reads cost
    /// one each (PostgreSQL); a no-op on redb.
    pub fn read_ahead_keys<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        keys: &[K::SelfType<'_>],
    ) -> Result<(), StoreError> {
        match self {
            Txn::Pg(tx) => {
                let bound: Vec<Vec<types::Param>> = keys
                    .iter()
                    .map(|k| {
                        let mut parts = Vec::new();
                        K::bind(k, &mut parts);
                        parts
                    })
                    .collect();
                tx.read_ahead_keys(def, &bound)
            }
            _ => Ok(()),
        }
    }

    /// Reads every row of `def` whose key begins with one of `firsts`
    /// ahead, in one round trip, where reads cost one each (PostgreSQL); a
    /// no-op on redb.
    pub fn read_ahead_first<K: KeyT, V: ValT>(
        &self,
        def: Def<K, V>,
        firsts: &[&str],
    ) -> Result<(), StoreError> {
        match self {
            Txn::Pg(tx) => tx.read_ahead_first(def, firsts),
            _ => Ok(()),
        }
    }

    /// Whether the backend knows, without a read, that `def` has no row
    /// whose key begins with `first` (read ahead by it; never on redb, where
    /// the read is cheap).
    pub fn known_none_under<K: KeyT, V: ValT>(&self, def: Def<K, V>, first: &str) -> bool {
        match self {
            Txn::Pg(tx) => tx.known_none_under(def, first),
            _ => false,
        }
    }

    /// The history length of `id`, if the backend knows it without a read
    /// (see `known.rs`).
    pub fn known_history_len(&self, id: &str) -> Option<u64> {
        match self {
            Txn::Pg(tx) => tx.known_len(id),
            _ => None,
        }
    }

    /// Tells the backend a history length the transaction read.
    pub fn learned_history_len(&self, id: &str, n: u64) {
        if let Txn::Pg(tx) = self {
            tx.learned_len(id, n);
        }
    }

    /// When the last event of `id`'s history, `len` long, was recorded, if
    /// the backend knows it without a read (see `known.rs`).
    pub fn known_last_at_ms(&self, id: &str, len: u64) -> Option<u64> {
        match self {
            Txn::Pg(tx) => tx.known_last_at_ms(id, len),
            _ => None,
        }
    }

    /// Tells the backend when the last event of a history `len` long was
    /// recorded (the transaction read it).
    pub fn learned_last_at_ms(&self, id: &str, len: u64, at_ms: u64) {
        if let Txn::Pg(tx) = self {
            tx.learned_last_at_ms(id, len, at_ms);
        }
    }

    /// This transaction's partition, on a store of several (PostgreSQL);
    /// `None` on a store of one.
    pub fn partition(&self) -> Option<u32> {
        match self {
            Txn::Pg(tx) => tx.partition(),
            _ => None,
        }
    }

    pub fn commit(self) -> Result<(), StoreError> {
        match self {
            Txn::RedbWrite(t) => Ok(t.into_inner().commit()?),
            Txn::RedbRead(_) => Ok(()),
            Txn::Pg(tx) => tx.commit(),
        }
    }

    pub fn abort(self) -> Result<(), StoreError> {
        match self {
            Txn::RedbWrite(t) => Ok(t.into_inner().abort()?),
            Txn::RedbRead(_) => Ok(()),
            Txn::Pg(tx) => tx.rollback(),
        }
    }
}

/// An open table of a transaction.
pub(crate) enum Table<'t, K: KeyT, V: ValT> {
    /// Kept open by the transaction (see `redb_write.rs`).
    RedbWrite(&'t redb_write::Open<K, V>),
    RedbRead(redb::ReadOnlyTable<K, V>),
    Pg(&'t pg::Tx, Def<K, V>),
}

/// Runs `$body` with `$t` bound to the readable redb table, or `$pg` on
/// PostgreSQL.
macro_rules! readable {
    ($self:expr, $t:ident => $body:expr, $tx:ident, $def:ident => $pg:expr) => {
        match $self {
            Table::RedbWrite(open) => open.read(|$t| $body)?,
            Table::RedbRead($t) => $body,
            Table::Pg($tx, $def) => $pg,
        }
    };
}

impl<K: KeyT> Table<'_, K, &'static [u8]> {
    /// [`Table::get`], handing the value to `f` where it lies instead of
    /// copying it out (on redb; PostgreSQL's rows arrive as copies anyway).
    pub fn get_with<'k, R>(
        &self,
        key: K::SelfType<'k>,
        f: impl FnOnce(&[u8]) -> Result<R, StoreError>,
    ) -> Result<Option<R>, StoreError> {
        readable!(self,
            t => t.get(key)?.map(|g| f(g.value())).transpose(),
            tx, def => tx.get(*def, &key)?.map(|v| f(&v)).transpose())
    }

    /// The last row in `range`, handed to `f` where it lies instead of
    /// copying its value out.
    pub fn last_with<'k, R>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
        f: impl FnOnce(K::SelfType<'_>, &[u8]) -> R,
    ) -> Result<Option<R>, StoreError> {
        let mut f = Some(f);
        let mut out = None;
        self.scan_limit(range, true, Some(1), |k, v| {
            out = f.take().map(|f| f(k, v));
            Ok(false)
        })?;
        Ok(out)
    }
}

impl<K: KeyT, V: ValT> Table<'_, K, V> {
    pub fn get<'k>(&self, key: K::SelfType<'k>) -> Result<Option<V::Out>, StoreError> {
        readable!(self,
            t => Ok(t.get(key)?.map(|g| V::out(g.value()))),
            tx, def => tx.get(*def, &key))
    }

    pub fn insert<'k, 'v>(
        &mut self,
        key: K::SelfType<'k>,
        value: V::SelfType<'v>,
    ) -> Result<(), StoreError> {
        match self {
            Table::RedbWrite(open) => open.write(|t| {
                t.insert(key, value)?;
                Ok(())
            })?,
            Table::RedbRead(_) => Err(read_only()),
            Table::Pg(tx, def) => tx.insert(*def, &key, &value),
        }
    }

    /// Inserts the row unless the table has one under its key; answers
    /// the value of the one it has (`None`: inserted). On PostgreSQL a row
    /// another transaction is inserting is waited for; on redb a write
    /// transaction is the only writer.
    pub fn claim<'k, 'v>(
        &mut self,
        key: K::SelfType<'k>,
        value: V::SelfType<'v>,
    ) -> Result<Option<V::Out>, StoreError> {
        match self {
            Table::RedbWrite(open) => open.write(|t| {
                if let Some(had) = t.get(K::copy(&key))? {
                    return Ok(Some(V::out(had.value())));
                }
                t.insert(key, value)?;
                Ok(None)
            })?,
            Table::RedbRead(_) => Err(read_only()),
            Table::Pg(tx, def) => tx.claim(*def, &key, &value),
        }
    }

    /// Removes the row; answers its value if there was one.
    pub fn remove<'k>(&mut self, key: K::SelfType<'k>) -> Result<Option<V::Out>, StoreError> {
        match self {
            Table::RedbWrite(open) => {
                open.write(|t| Ok(t.remove(key)?.map(|g| V::out(g.value()))))?
            }
            Table::RedbRead(_) => Err(read_only()),
            Table::Pg(tx, def) => tx.remove(*def, &key),
        }
    }

    /// Removes the row, if there is one, not asking what it held (cheaper
    /// than `remove` where the store sends writes in batches).
    pub fn delete<'k>(&mut self, key: K::SelfType<'k>) -> Result<(), StoreError> {
        match self {
            Table::RedbWrite(open) => open.write(|t| {
                t.remove(key)?;
                Ok(())
            })?,
            Table::RedbRead(_) => Err(read_only()),
            Table::Pg(tx, def) => tx.delete(*def, &key),
        }
    }

    /// Visits the rows in `range` in key order (or backwards), while `f`
    /// answers true.
    pub fn scan<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
        backwards: bool,
        f: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        self.scan_limit(range, backwards, None, f)
    }

    /// `scan`, telling the backend it needs at most `limit` rows.
    fn scan_limit<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
        backwards: bool,
        limit: Option<u64>,
        mut f: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> Result<bool, StoreError>,
    ) -> Result<(), StoreError> {
        readable!(self,
            t => {
                let lo = range.start_bound().map(K::copy);
                let hi = range.end_bound().map(K::copy);
                let rows = t.range::<K::SelfType<'k>>((lo, hi))?;
                let mut visit = |entry: Result<(redb::AccessGuard<'_, K>, redb::AccessGuard<'_, V>), redb::StorageError>| {
                    let (k, v) = entry?;
                    f(k.value(), v.value())
                };
                if backwards {
                    for entry in rows.rev() {
                        if !visit(entry)? { break; }
                    }
                } else {
                    for entry in rows {
                        if !visit(entry)? { break; }
                    }
                }
                Ok(())
            },
            tx, def => tx.scan(*def, range.start_bound(), range.end_bound(), backwards, limit, &mut f))
    }

    /// The rows in `range`, in key order.
    pub fn range<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> Result<Rows<K, V>, StoreError> {
        let mut out = Vec::new();
        self.scan(range, false, |k, v| {
            out.push((K::out(k), V::out(v)));
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first `n` rows in `range`, in key order.
    pub fn first_n<'k>(
        &self,
        range: impl RangeBounds<K::SelfType<'k>>,
        n: u64,
    ) -> Result<Rows<K, V>, StoreError> {
        let mut out = Vec::new();
        self.scan_limit(range, false, Some(n), |k, v| {
            out.push((K::out(k), V::out(v)));
            Ok((out.len() as u64) < n)
        })?;
        Ok(out)
    }

    /// Every row, in key order.
    pub fn iter(&self) -> Result<Rows<K, V>, StoreError> {
        self.range(..)
    }

    /// Removes the rows of `range` for which `keep` answers false.
    pub fn retain_in<'k>(
        &mut self,
        range: impl RangeBounds<K::SelfType<'k>>,
        mut keep: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> bool,
    ) -> Result<(), StoreError> {
        match self {
            Table::RedbWrite(open) => open.write(|t| {
                Ok(t.retain_in::<K::SelfType<'k>, _>(
                    (
                        range.start_bound().map(K::copy),
                        range.end_bound().map(K::copy),
                    ),
                    |k, v| keep(k, v),
                )?)
            })?,
            Table::RedbRead(_) => Err(read_only()),
            Table::Pg(tx, def) => {
                let mut doomed = Vec::new();
                tx.scan(
                    *def,
                    range.start_bound(),
                    range.end_bound(),
                    false,
                    None,
                    &mut |k, v| {
                        if !keep(K::copy(&k), v) {
                            doomed.push(K::out(k));
                        }
                        Ok(true)
                    },
                )?;
                for k in &doomed {
                    tx.delete(*def, &K::borrow(k))?;
                }
                Ok(())
            }
        }
    }

    /// Removes the rows for which `keep` answers false.
    pub fn retain(
        &mut self,
        keep: impl FnMut(K::SelfType<'_>, V::SelfType<'_>) -> bool,
    ) -> Result<(), StoreError> {
        self.retain_in(.., keep)
    }

    /// Removes every row of `range`.
    pub fn delete_range<'k>(
        &mut self,
        range: impl RangeBounds<K::SelfType<'k>>,
    ) -> Result<(), StoreError> {
        match self {
            Table::Pg(tx, def) => tx.delete_range(*def, range.start_bound(), range.end_bound()),
            _ => self.retain_in(range, |_, _| false),
        }
    }

    pub fn len(&self) -> Result<u64, StoreError> {
        readable!(self, t => Ok(t.len()?), tx, def => tx.len(*def))
    }
}

fn read_only() -> StoreError {
    StoreError::Backend("a write in a read transaction (a defect of the store)".into())
}
