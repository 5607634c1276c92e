//! A redb write transaction that keeps each table open from the first op
//! that opens it to the transaction's end.
//!
//! Opening a table in redb looks its name up in the table tree and checks
//! its key and value types (their names, built as strings), and closing it
//! writes its root back; a group commit's ops open and close a table each
//! time they touch it (a start and its first step: fourteen opens). Kept
//! open, each table is opened once per transaction: about 6 % of a host's
//! CPU per start (bench/README.md, "The committer opens each table once").
//!
//! redb ties a table to the transaction it was opened in by a borrow, and
//! the transaction must outlive it; here both live in one value, so the
//! borrow is erased (`unsafe`, argued at each use): the transaction lives in
//! a box that does not move, the tables are dropped before it (field order;
//! `into_inner`), and no table is handed out beyond a borrow of this value.

use std::any::Any;
use std::cell::RefCell;

use super::{Def, KeyT, ValT};
use crate::store::StoreError;

/// A table kept open, shared by every handle of it in the transaction;
/// each call on a handle borrows it for that call.
pub(crate) type Open<K, V> = RefCell<redb::Table<'static, K, V>>;

pub(crate) struct RedbWrite {
    /// The tables opened so far, by name. Declared before `txn`: dropped
    /// (closed, their roots written back) before it.
    open: RefCell<Vec<(&'static str, Box<dyn Any>)>>,
    /// Boxed so that its address, which the open tables borrow, stays put
    /// when this value moves.
    txn: Box<redb::WriteTransaction>,
}

impl RedbWrite {
    pub fn new(txn: redb::WriteTransaction) -> Self {
        Self {
            open: RefCell::new(Vec::new()),
            txn: Box::new(txn),
        }
    }

    /// `def`'s table, opened at its first use in this transaction.
    pub fn table<K: KeyT, V: ValT>(&self, def: Def<K, V>) -> Result<&Open<K, V>, StoreError> {
        let mut open = self.open.borrow_mut();
        let boxed = match open.iter().position(|(name, _)| *name == def.name) {
            Some(at) => &open[at].1,
            None => {
                let table = self.txn.open_table(def.redb())?;
                // SAFETY: `table` borrows `*self.txn`, which lives in a box
                // that is neither moved nor dropped while `self.open` holds
                // the table: `open` is dropped first (field order), and
                // `into_inner` drops it before it takes the transaction out.
                // The types differ only in that lifetime.
                let table: redb::Table<'static, K, V> = unsafe { std::mem::transmute(table) };
                open.push((def.name, Box::new(RefCell::new(table))));
                &open.last().expect("just pushed").1
            }
        };
        let cell: *const Open<K, V> = boxed.downcast_ref::<Open<K, V>>().ok_or_else(|| {
            StoreError::Backend(format!(
                "table {} opened with two types in one transaction (a defect of the store)",
                def.name
            ))
        })?;
        // SAFETY: the cell lives in its own box, which stays in `self.open`
        // (nothing is removed from it) until `self` is dropped or taken
        // apart, which the returned borrow of `self` outlives neither.
        Ok(unsafe { &*cell })
    }

    /// The transaction, every table closed (their roots written back).
    pub fn into_inner(self) -> redb::WriteTransaction {
        let Self { open, txn } = self;
        drop(open);
        *txn
    }
}

/// A table kept open is in use by another handle's call (a scan's callback
/// writing to the table it scans): refused instead of a panic.
pub(crate) fn busy(name: &str) -> StoreError {
    StoreError::Backend(format!(
        "table {name} written while it was read in the same call (a defect of the store)"
    ))
}
