//! A redb write transaction that keeps each table open from the first op
//! that opens it to the transaction's end.
//!
//! Opening a table in redb looks its name up in the table tree and checks
//! its key and value types (their names, built as strings), and closing it
//! writes its root back; a group commit's ops opened and closed a table each
//! time they touched it (a start and its first step: fourteen opens). Kept
//! open, each table is opened once per transaction: the opens and closes
//! were 7 % of a host's CPU per start in a profile (bench/README.md, "The
//! committer opens each table once").
//!
//! redb ties a table to the transaction it was opened in by a borrow, and
//! the transaction must outlive it; here both live in one value, so the
//! borrow is erased (`unsafe`, argued at each use): the transaction is
//! owned through a raw pointer (a `Box` would assert it is not aliased each
//! time this value moves, while the tables alias it), every table is
//! dropped before the transaction is freed or handed back, and a table is
//! only ever lent to a closure that cannot keep it or swap it for another
//! ([`Open::read`], [`Open::write`]).

use std::any::Any;
use std::cell::RefCell;
use std::ptr::NonNull;

use super::{Def, KeyT, ValT};
use crate::store::StoreError;

/// A table kept open, shared by every handle of it in the transaction;
/// each call on a handle borrows it for that call.
pub(crate) struct Open<K: KeyT, V: ValT> {
    table: RefCell<redb::Table<'static, K, V>>,
    name: &'static str,
}

impl<K: KeyT, V: ValT> Open<K, V> {
    /// Lends the table to `f` for reading. `f` is given it at a lifetime of
    /// its own, so it cannot keep it past the call.
    pub fn read<R>(
        &self,
        f: impl for<'x> FnOnce(&redb::Table<'x, K, V>) -> R,
    ) -> Result<R, StoreError> {
        let table = self.table.try_borrow().map_err(|_| busy(self.name))?;
        Ok(f(&table))
    }

    /// Lends the table to `f` for writing; nor can `f` put another table
    /// in its place (it could not name one at that lifetime).
    pub fn write<R>(
        &self,
        f: impl for<'x> FnOnce(&mut redb::Table<'x, K, V>) -> R,
    ) -> Result<R, StoreError> {
        let mut table = self.table.try_borrow_mut().map_err(|_| busy(self.name))?;
        Ok(f(&mut table))
    }
}

pub(crate) struct RedbWrite {
    /// The tables opened so far, by name, each in a box of its own.
    open: RefCell<Vec<(&'static str, Box<dyn Any>)>>,
    /// The transaction, owned (made by `Box::into_raw`); freed by `Drop`
    /// or taken back by `into_inner`, each after `open` is emptied.
    txn: NonNull<redb::WriteTransaction>,
}

impl RedbWrite {
    pub fn new(txn: redb::WriteTransaction) -> Self {
        Self {
            open: RefCell::new(Vec::new()),
            txn: NonNull::from(Box::leak(Box::new(txn))),
        }
    }

    /// `def`'s table, opened at its first use in this transaction.
    pub fn table<K: KeyT, V: ValT>(&self, def: Def<K, V>) -> Result<&Open<K, V>, StoreError> {
        let mut open = self.open.borrow_mut();
        let at = match open.iter().position(|(name, _)| *name == def.name) {
            Some(at) => at,
            None => {
                // SAFETY: the transaction stays where it is and alive until
                // `open` is emptied (`Drop`, `into_inner`), and the table
                // opened here lives in `open`: it never outlives it.
                let txn: &'static redb::WriteTransaction = unsafe { &*self.txn.as_ptr() };
                let table = txn.open_table(def.redb())?;
                open.push((
                    def.name,
                    Box::new(Open {
                        table: RefCell::new(table),
                        name: def.name,
                    }),
                ));
                open.len() - 1
            }
        };
        let table: *const Open<K, V> =
            open[at].1.downcast_ref::<Open<K, V>>().ok_or_else(|| {
                StoreError::Backend(format!(
                    "table {} opened with two types in one transaction (a defect of the store)",
                    def.name
                ))
            })?;
        // SAFETY: the table lives in a box of its own (moving the vector
        // moves only the box's pointer), which stays in `open` until it is
        // emptied by `Drop` or `into_inner`: neither can run while the
        // returned borrow of `self` lives.
        Ok(unsafe { &*table })
    }

    /// The transaction, every table closed first (their roots written back
    /// into it, as redb's commit requires).
    pub fn into_inner(mut self) -> redb::WriteTransaction {
        drop(std::mem::take(self.open.get_mut()));
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: no table is left to borrow the transaction, and `this` is
        // never dropped, so the box is taken back once.
        *unsafe { Box::from_raw(this.txn.as_ptr()) }
    }
}

impl Drop for RedbWrite {
    fn drop(&mut self) {
        drop(std::mem::take(self.open.get_mut()));
        // SAFETY: as in `into_inner`: no table is left, and this runs once.
        // Dropping the transaction uncommitted aborts it.
        drop(unsafe { Box::from_raw(self.txn.as_ptr()) });
    }
}

/// A table kept open is in use by another call on it (a scan's callback
/// writing to the table it scans): refused instead of a panic.
fn busy(name: &str) -> StoreError {
    StoreError::Backend(format!(
        "table {name} used by two calls at once in one transaction (a defect of the store)"
    ))
}

#[cfg(test)]
mod tests {
    use super::super::{Def, Txn};
    use super::RedbWrite;
    use redb::ReadableDatabase;

    const A: Def<&str, u64> = Def::new("a");
    const B: Def<(&str, u64), ()> = Def::new("b");
    const A_AS_TEXT: Def<&str, &str> = Def::new("a");

    fn db() -> (tempfile::TempDir, redb::Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = redb::Database::create(dir.path().join("t.redb")).unwrap();
        (dir, db)
    }

    fn write(db: &redb::Database) -> Txn {
        Txn::RedbWrite(RedbWrite::new(db.begin_write().unwrap()))
    }

    fn read_a(db: &redb::Database, key: &str) -> Option<u64> {
        let txn = Txn::RedbRead(db.begin_read().unwrap());
        txn.open_table(A).ok()?.get(key).unwrap()
    }

    /// Handles of one table share it; what one wrote the next reads; the
    /// commit closes every table and writes what they hold.
    #[test]
    fn tables_stay_open_across_handles_and_are_closed_by_the_commit() {
        let (_dir, db) = db();
        let txn = write(&db);
        let mut first = txn.open_table(A).unwrap();
        first.insert("x", 1).unwrap();
        let mut other = txn.open_table(B).unwrap();
        other.insert(("y", 2), ()).unwrap();
        let mut second = txn.open_table(A).unwrap();
        assert_eq!(second.get("x").unwrap(), Some(1));
        second.insert("z", 3).unwrap();
        assert_eq!(first.get("z").unwrap(), Some(3));
        txn.commit().unwrap();
        assert_eq!(read_a(&db, "x"), Some(1));
        assert_eq!(read_a(&db, "z"), Some(3));
    }

    /// Dropped or aborted with tables open, a transaction writes nothing,
    /// and the next one opens.
    #[test]
    fn a_transaction_dropped_or_aborted_with_tables_open_writes_nothing() {
        let (_dir, db) = db();
        {
            let txn = write(&db);
            txn.open_table(A).unwrap().insert("dropped", 1).unwrap();
        }
        let txn = write(&db);
        txn.open_table(A).unwrap().insert("aborted", 2).unwrap();
        txn.abort().unwrap();
        let txn = write(&db);
        txn.open_table(A).unwrap().insert("kept", 3).unwrap();
        txn.commit().unwrap();
        assert_eq!(read_a(&db, "dropped"), None);
        assert_eq!(read_a(&db, "aborted"), None);
        assert_eq!(read_a(&db, "kept"), Some(3));
    }

    /// A write to a table inside a scan of it, and a table opened under
    /// one name with two types, are refused with an error, not a panic;
    /// the transaction still commits what it wrote before.
    #[test]
    fn misuse_is_refused_without_a_panic() {
        let (_dir, db) = db();
        let txn = write(&db);
        txn.open_table(A).unwrap().insert("x", 1).unwrap();
        let scanned = txn.open_table(A).unwrap();
        let mut writer = txn.open_table(A).unwrap();
        let mut refused = None;
        scanned
            .scan(.., false, |_, _| {
                refused = Some(writer.insert("y", 2));
                Ok(true)
            })
            .unwrap();
        let refused = refused.expect("the scan saw x").unwrap_err().to_string();
        assert!(
            refused.contains("table a used by two calls at once"),
            "{refused}"
        );
        let typed = txn
            .open_table(A_AS_TEXT)
            .err()
            .expect("refused")
            .to_string();
        assert!(typed.contains("opened with two types"), "{typed}");
        txn.commit().unwrap();
        assert_eq!(read_a(&db, "x"), Some(1));
        assert_eq!(read_a(&db, "y"), None);
    }
}
