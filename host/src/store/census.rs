//! What the store holds, kept in memory as the committer writes instead of
//! read from every execution record at each request: how many executions
//! are in each status (the gauges of `/metrics`), and every execution by its
//! start time, newest first, with its status (the order a listing pages
//! through). Both were a scan of every record per request, a cost that grew
//! with everything kept for its retention.
//!
//! The census is taken once when the store opens, before anything writes.
//! Each op that writes or deletes an execution record notes what the
//! record's status and start time were and are ([`note`]); the committer
//! adds a transaction's notes once the transaction committed
//! ([`Census::made`]). A commit that failed may or may not have written
//! (a disk error): the census is then unknown ([`Census::unknown`]) until
//! the committer takes it again between two transactions
//! ([`Census::retake_if_unknown`]), when nothing writes; meanwhile readers
//! are told it is not known (`None`) and count by reading the records, as
//! before. Every write goes through the committer of the one host that
//! holds the store, so its census is the store's. The lock is held only to
//! apply a commit's notes or to read a bounded part of the census, never
//! across a commit or a read of the store.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use super::kv::Txn;
use super::tables::EXECUTIONS;
use super::StoreError;
use crate::model::{ExecutionRecord, ExecutionStatus};

/// Every status, in the order the census counts them.
pub(super) const STATUSES: [ExecutionStatus; 6] = [
    ExecutionStatus::Running,
    ExecutionStatus::Completed,
    ExecutionStatus::Failed,
    ExecutionStatus::Stalled,
    ExecutionStatus::Cancelled,
    ExecutionStatus::Terminated,
];

/// Executions by status, in the order of [`STATUSES`].
type ByStatus = [u64; STATUSES.len()];

fn slot(status: ExecutionStatus) -> usize {
    STATUSES
        .iter()
        .position(|s| *s == status)
        .expect("every status has a slot")
}

/// What the census keeps of one execution record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    pub status: ExecutionStatus,
    pub created_at_ms: u64,
}

impl Entry {
    pub fn of(record: &ExecutionRecord) -> Self {
        Entry {
            status: record.status,
            created_at_ms: record.created_at_ms,
        }
    }
}

/// A record's change, as an op noted it.
struct Change {
    id: Box<str>,
    before: Option<Entry>,
    after: Option<Entry>,
}

thread_local! {
    /// What the ops applied in this thread's open transaction changed.
    static NOTED: RefCell<Vec<Change>> = const { RefCell::new(Vec::new()) };
}

/// An op changed execution `id`'s record from `before` (none: there was no
/// record) to `after` (none: the record was deleted).
pub(super) fn note(id: &str, before: Option<Entry>, after: Option<Entry>) {
    if before == after {
        return;
    }
    NOTED.with(|n| {
        n.borrow_mut().push(Change {
            id: id.into(),
            before,
            after,
        })
    });
}

/// Forgets what this thread's ops noted (a transaction begins).
pub(super) fn forget_noted() {
    NOTED.with(|n| n.borrow_mut().clear());
}

fn take_noted() -> Vec<Change> {
    NOTED.with(|n| std::mem::take(&mut *n.borrow_mut()))
}

/// The census itself.
#[derive(Default)]
struct Known {
    by_status: ByStatus,
    /// Status by (start time, id): a listing's order, read backwards.
    by_start: BTreeMap<(u64, Box<str>), ExecutionStatus>,
}

impl Known {
    fn add(&mut self, id: Box<str>, entry: Entry) {
        self.by_status[slot(entry.status)] += 1;
        self.by_start
            .insert((entry.created_at_ms, id), entry.status);
    }

    fn remove(&mut self, id: &str, entry: Entry) {
        let n = &mut self.by_status[slot(entry.status)];
        *n = n.saturating_sub(1);
        self.by_start.remove(&(entry.created_at_ms, Box::from(id)));
    }

    fn apply(&mut self, change: Change) {
        if let Some(before) = change.before {
            self.remove(&change.id, before);
        }
        if let Some(after) = change.after {
            self.add(change.id, after);
        }
    }
}

/// The store's census: `None` when it is not known (a commit failed in a
/// way that leaves unknown whether it was made) and must be taken again.
pub(super) struct Census {
    known: Mutex<Option<Known>>,
}

/// One execution of a listing's order (see [`Census::newest_first`]).
pub(super) type Placed = (u64, Box<str>);

/// A bounded walk of a listing's order (see [`Census::newest_first`]).
pub(super) struct Walk {
    /// The executions that passed the tests, in the order.
    pub placed: Vec<Placed>,
    /// The last execution the walk passed (whether it passed the tests or
    /// not), where the next walk goes on from; none: nothing was left.
    pub last: Option<Placed>,
}

/// Most entries one walk passes over while it holds the lock.
const MOST_VISITED: usize = 4096;

impl Census {
    /// The census of the store that `txn` reads.
    pub fn taken(txn: &Txn) -> Result<Self, StoreError> {
        Ok(Census {
            known: Mutex::new(Some(take(txn)?)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Known>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The committer: the transaction its thread's ops noted committed.
    pub fn made(&self) {
        let noted = take_noted();
        if let Some(known) = self.lock().as_mut() {
            for change in noted {
                known.apply(change);
            }
        }
    }

    /// The committer: whether the transaction committed is not known.
    pub fn unknown(&self) {
        forget_noted();
        *self.lock() = None;
    }

    /// The committer, between two transactions (so no commit is made
    /// meanwhile): takes the census again with a read of `read` if it is
    /// not known. A read that fails leaves it unknown, to be taken at the
    /// next call.
    pub fn retake_if_unknown(&self, read: impl FnOnce() -> Result<Txn, StoreError>) {
        if self.lock().is_some() {
            return;
        }
        match read().and_then(|txn| take(&txn)) {
            Ok(known) => *self.lock() = Some(known),
            Err(e) => {
                tracing::warn!(error = %e, "the census of executions could not be taken again; listings read every record until it is")
            }
        }
    }

    /// The executions by status (every status, 0 where none); none while
    /// the census is not known.
    pub fn by_status(&self) -> Option<Vec<(ExecutionStatus, u64)>> {
        self.lock()
            .as_ref()
            .map(|k| STATUSES.iter().copied().zip(k.by_status).collect())
    }

    /// Up to `n` executions in a listing's order (newest start first, then
    /// the greater id) after `after` (none: from the newest), of `status`
    /// and with an id that begins with `id_prefix` if they are given,
    /// passing over at most a few thousand; none while the census is not
    /// known.
    pub fn newest_first(
        &self,
        after: Option<&(u64, String)>,
        status: Option<ExecutionStatus>,
        id_prefix: Option<&str>,
        n: usize,
    ) -> Option<Walk> {
        let known = self.lock();
        let known = known.as_ref()?;
        let older = match after {
            Some((ms, id)) => known
                .by_start
                .range(..(*ms, Box::<str>::from(id.as_str())))
                .rev(),
            None => known.by_start.range(..).rev(),
        };
        let mut walk = Walk {
            placed: Vec::new(),
            last: None,
        };
        for (key, s) in older.take(MOST_VISITED) {
            walk.last = Some(key.clone());
            if status.is_none_or(|want| want == *s)
                && id_prefix.is_none_or(|p| key.1.starts_with(p))
            {
                walk.placed.push(key.clone());
                if walk.placed.len() == n {
                    break;
                }
            }
        }
        Some(walk)
    }

    #[cfg(test)]
    pub fn is_known(&self) -> bool {
        self.lock().is_some()
    }
}

/// The census of every execution record, each decoded alone without the
/// rest of its record.
fn take(txn: &Txn) -> Result<Known, StoreError> {
    #[derive(serde::Deserialize)]
    struct Fields {
        status: ExecutionStatus,
        created_at_ms: u64,
    }
    let mut known = Known::default();
    txn.open_table(EXECUTIONS)?.scan(.., false, |id, raw| {
        let f: Fields = super::apply::from_json("execution", raw)?;
        known.add(
            id.into(),
            Entry {
                status: f.status,
                created_at_ms: f.created_at_ms,
            },
        );
        Ok(true)
    })?;
    Ok(known)
}
