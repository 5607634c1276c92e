//! Search attributes in the store: the host-wide type of each attribute
//! name, and the execution record's attributes and memo kept in step with
//! the history (in the transaction that records each change).

use super::kv::Txn;
use super::tables::SEARCH_TYPES;
use super::{OpError, StoreError};
use crate::model::search::{SearchError, SearchType};
use crate::model::{EventKind, ExecutionRecord};

/// The typed values `events` set, by name.
fn typed<'a>(events: impl IntoIterator<Item = &'a EventKind>) -> Vec<(&'a str, SearchType)> {
    let mut out = Vec::new();
    for e in events {
        let map = match e {
            EventKind::SearchAttributesUpserted { attributes, .. } => attributes
                .iter()
                .filter_map(|(k, v)| Some((k.as_str(), v.as_ref()?.search_type())))
                .collect::<Vec<_>>(),
            EventKind::ExecutionStarted {
                search_attributes, ..
            } => search_attributes
                .iter()
                .map(|(k, v)| (k.as_str(), v.search_type()))
                .collect(),
            _ => continue,
        };
        out.extend(map);
    }
    out
}

/// Whether `events` touch search attributes or the memo.
pub(super) fn touches<'a>(events: impl IntoIterator<Item = &'a EventKind>) -> bool {
    events.into_iter().any(|e| {
        matches!(
            e,
            EventKind::SearchAttributesUpserted { .. } | EventKind::MemoUpserted { .. }
        )
    })
}

/// Refuses values of `events` whose name has another type on this host
/// (nothing written); else registers the names new to the host.
pub(super) fn register<'a>(
    txn: &Txn,
    events: impl IntoIterator<Item = &'a EventKind>,
) -> Result<Result<(), OpError>, StoreError> {
    match check(txn, events)? {
        Ok(new) => record(txn, new).map(Ok),
        Err(refused) => Ok(Err(refused)),
    }
}

/// The names of `events` new to the host, with their types, to
/// [`record`]; refuses values whose name has another type (nothing
/// written).
pub(super) fn check<'a>(
    txn: &Txn,
    events: impl IntoIterator<Item = &'a EventKind>,
) -> Result<Result<New<'a>, OpError>, StoreError> {
    let values = typed(events);
    let mut new = Vec::new();
    if values.is_empty() {
        return Ok(Ok(New(new)));
    }
    let table = txn.open_table(SEARCH_TYPES)?;
    for (name, given) in values {
        match table.get(name)? {
            Some(t) => {
                let registered: SearchType =
                    t.parse().map_err(|e: SearchError| StoreError::Corrupt {
                        what: "search attribute type",
                        detail: e.to_string(),
                    })?;
                if registered != given {
                    return Ok(Err(OpError::SearchType(
                        SearchError::TypeConflict {
                            name: name.to_owned(),
                            registered,
                            given,
                        }
                        .to_string(),
                    )));
                }
            }
            None => match new.iter().find(|(n, _)| *n == name) {
                Some((_, t)) if *t != given => {
                    return Ok(Err(OpError::SearchType(
                        SearchError::TypeConflict {
                            name: name.to_owned(),
                            registered: *t,
                            given,
                        }
                        .to_string(),
                    )))
                }
                Some(_) => {}
                None => new.push((name, given)),
            },
        }
    }
    Ok(Ok(New(new)))
}

/// Search attribute names new to the host, checked.
pub(super) struct New<'a>(Vec<(&'a str, SearchType)>);

/// Registers the names [`check`] found new.
/// On a store of several partitions another partition may register a
/// name at the same time: each name is claimed (waiting for an insert in
/// flight), and one registered meanwhile with another type fails the op
/// with a store error, naming both types (in a group of several batches,
/// the committer writes them again one by one, and [`check`] then refuses
/// the op; a batch alone in its group gets the error).
pub(super) fn record(txn: &Txn, new: New<'_>) -> Result<(), StoreError> {
    if new.0.is_empty() {
        return Ok(());
    }
    let mut table = txn.open_table(SEARCH_TYPES)?;
    for (name, t) in new.0 {
        if txn.partition().is_none() {
            table.insert(name, t.as_str())?;
            continue;
        }
        if let Some(theirs) = table.claim(name, t.as_str())? {
            if theirs != t.as_str() {
                return Err(StoreError::Backend(format!(
                    "search attribute {name} was registered as {theirs} by another partition \
                     while this one registered it as {}",
                    t.as_str()
                )));
            }
        }
    }
    // The other hosts learn the new names (see `SHARED_MARK`).
    if txn.partition().is_some() {
        drop(table);
        super::mark_shared_change(txn)?;
    }
    Ok(())
}

/// The record after `events`: its attributes and memo changed as they say.
pub(super) fn apply<'a>(
    record: &mut ExecutionRecord,
    events: impl IntoIterator<Item = &'a EventKind>,
) {
    crate::model::search::fold(&mut record.search_attributes, &mut record.memo, events);
}

/// Every attribute name the host knows, with its type.
pub(super) fn types(txn: &Txn) -> Result<Vec<(String, SearchType)>, StoreError> {
    let table = txn.open_table(SEARCH_TYPES)?;
    let mut out = Vec::new();
    table.scan(.., false, |name, t| {
        let t: SearchType = t.parse().map_err(|e: SearchError| StoreError::Corrupt {
            what: "search attribute type",
            detail: e.to_string(),
        })?;
        out.push((name.to_owned(), t));
        Ok(true)
    })?;
    Ok(out)
}

/// `Op::SetSearchType`: registers `name` as `search_type`, or removes it.
pub(super) fn set_type(
    txn: &Txn,
    name: &str,
    search_type: Option<SearchType>,
) -> Result<Result<(), OpError>, StoreError> {
    let mut table = txn.open_table(SEARCH_TYPES)?;
    let Some(wanted) = search_type else {
        table.remove(name)?;
        return Ok(Ok(()));
    };
    if let Some(t) = table.get(name)? {
        if t != wanted.as_str() {
            return Ok(Err(OpError::SearchType(format!(
                "search attribute {name} already has type {t} on this host: remove it first \
                 (weft search-attributes remove {name}) to give it another"
            ))));
        }
        return Ok(Ok(()));
    }
    table.insert(name, wanted.as_str())?;
    Ok(Ok(()))
}
