//! Timer rows: `TIMERS` in firing order, and `TIMERS_BY_EXECUTION` beside it
//! so that the rows of one execution are found without reading everyone's
//! (a close, a reset or a deletion drops an execution's rows: with a
//! million timers pending, a scan of them all per close made every close
//! cost in proportion to the others' timers). Every write of a timer row
//! goes through here, so the two tables hold the same rows.

use super::kv::Txn;

use super::tables::{TIMERS, TIMERS_BY_EXECUTION};
use super::StoreError;

pub(super) fn add(txn: &Txn, id: &str, due: u64, handle: u64) -> Result<(), StoreError> {
    txn.open_table(TIMERS)?.insert((due, id, handle), ())?;
    txn.open_table(TIMERS_BY_EXECUTION)?
        .insert((id, due, handle), ())?;
    Ok(())
}

pub(super) fn remove(txn: &Txn, id: &str, due: u64, handle: u64) -> Result<(), StoreError> {
    txn.open_table(TIMERS)?.delete((due, id, handle))?;
    txn.open_table(TIMERS_BY_EXECUTION)?
        .delete((id, due, handle))?;
    Ok(())
}

/// Removes every timer row of an execution.
pub(super) fn drop_all(txn: &Txn, id: &str) -> Result<(), StoreError> {
    // Most closing runs have none left, which a group commit may know.
    if txn.known_none_under(TIMERS_BY_EXECUTION, id) {
        return Ok(());
    }
    let mut index = txn.open_table(TIMERS_BY_EXECUTION)?;
    let mut mine = Vec::new();
    for entry in index.range((id, 0, 0)..=(id, u64::MAX, u64::MAX))? {
        let (_, due, handle) = entry.0;
        mine.push((due, handle));
    }
    if mine.is_empty() {
        return Ok(());
    }
    index.delete_range((id, 0, 0)..=(id, u64::MAX, u64::MAX))?;
    drop(index);
    let mut timers = txn.open_table(TIMERS)?;
    for (due, handle) in mine {
        timers.delete((due, id, handle))?;
    }
    Ok(())
}

/// Fills `TIMERS_BY_EXECUTION` from `TIMERS`: a store written before the
/// index existed has its rows in `TIMERS` only.
pub(super) fn index(txn: &Txn) -> Result<(), StoreError> {
    let mut rows = Vec::new();
    for entry in txn.open_table(TIMERS)?.iter()? {
        let (due, id, handle) = entry.0;
        rows.push((id, due, handle));
    }
    let mut index = txn.open_table(TIMERS_BY_EXECUTION)?;
    for (id, due, handle) in rows {
        index.insert((id.as_str(), due, handle), ())?;
    }
    Ok(())
}
