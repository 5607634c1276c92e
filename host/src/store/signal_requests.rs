//! Client signal request ids past their window: `SIGNAL_REQUESTS` in the
//! order they are to be forgotten, and `SIGNAL_REQUESTS_BY_TARGET` beside it
//! so that a deleted execution takes its rows along (see `tables.rs`). Every
//! write of either goes through here, so the two hold the same rows.

use super::kv::Txn;

use super::tables::{INBOX, SIGNAL_REQUESTS, SIGNAL_REQUESTS_BY_TARGET};
use super::StoreError;

/// Records that inbox key `key` of `target` is forgotten at `forget_at_ms`.
pub(super) fn add(txn: &Txn, target: &str, key: &str, forget_at_ms: u64) -> Result<(), StoreError> {
    txn.open_table(SIGNAL_REQUESTS)?
        .insert((forget_at_ms, target, key), ())?;
    txn.open_table(SIGNAL_REQUESTS_BY_TARGET)?
        .insert((target, key), forget_at_ms)?;
    Ok(())
}

/// Removes every row of `target` (its inbox rows go with it).
pub(super) fn drop_all(txn: &Txn, target: &str) -> Result<(), StoreError> {
    let mut by_target = txn.open_table(SIGNAL_REQUESTS_BY_TARGET)?;
    let mut rows = Vec::new();
    for ((_, key), at) in by_target.range((target, "")..=(target, "\u{10FFFF}"))? {
        rows.push((at, key));
    }
    if rows.is_empty() {
        return Ok(());
    }
    by_target.delete_range((target, "")..=(target, "\u{10FFFF}"))?;
    drop(by_target);
    let mut times = txn.open_table(SIGNAL_REQUESTS)?;
    for (at, key) in rows {
        times.delete((at, target, key.as_str()))?;
    }
    Ok(())
}

/// Request ids one write forgets at most (the sweep writes again while
/// more are due: a host that was down a while has many).
const BATCH: u64 = 10_000;

/// Forgets up to [`BATCH`] request ids whose time came by `now_ms`: their
/// inbox rows and their own.
pub(super) fn forget_due(txn: &Txn, now_ms: u64) -> Result<(), StoreError> {
    let due = txn
        .open_table(SIGNAL_REQUESTS)?
        .first_n(..(now_ms.saturating_add(1), "", ""), BATCH)?;
    let mut inbox = txn.open_table(INBOX)?;
    let mut by_target = txn.open_table(SIGNAL_REQUESTS_BY_TARGET)?;
    let mut times = txn.open_table(SIGNAL_REQUESTS)?;
    for ((at, target, key), ()) in &due {
        inbox.delete((target.as_str(), key.as_str()))?;
        by_target.delete((target.as_str(), key.as_str()))?;
        times.delete((*at, target.as_str(), key.as_str()))?;
    }
    Ok(())
}

/// Whether a request id's time came by `now_ms` (the sweep goes on).
pub(super) fn any_due(txn: &Txn, now_ms: u64) -> Result<bool, StoreError> {
    Ok(!txn
        .open_table(SIGNAL_REQUESTS)?
        .first_n(..(now_ms.saturating_add(1), "", ""), 1)?
        .is_empty())
}
