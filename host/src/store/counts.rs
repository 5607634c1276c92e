//! How many executions the store holds in each status, kept as the
//! committer writes instead of counted at every read: `/metrics` asked for
//! them by reading and decoding every execution record, a cost that grew
//! with the store (100,000 closed executions kept for their retention made
//! every scrape a full scan).
//!
//! The count is taken once when the store opens, before anything writes.
//! Each op that writes or deletes an execution record notes the status it
//! had and has ([`note`]); the committer adds a transaction's notes to the
//! count once the transaction committed ([`Counts::commit`]), under the
//! same lock as the commit itself, so a count taken again ([`Counts::get`]
//! after a commit whose outcome is not known) never sees a commit's rows
//! without its notes or its notes without its rows.

use std::cell::RefCell;
use std::sync::{Mutex, MutexGuard};

use super::kv::Txn;
use super::tables::EXECUTIONS;
use super::StoreError;
use crate::model::ExecutionStatus;

const STATUSES: [ExecutionStatus; 6] = [
    ExecutionStatus::Running,
    ExecutionStatus::Completed,
    ExecutionStatus::Failed,
    ExecutionStatus::Stalled,
    ExecutionStatus::Cancelled,
    ExecutionStatus::Terminated,
];

/// Executions by status, in the order of [`STATUSES`].
type ByStatus = [i64; STATUSES.len()];

fn slot(status: ExecutionStatus) -> usize {
    STATUSES
        .iter()
        .position(|s| *s == status)
        .expect("every status has a slot")
}

thread_local! {
    /// What the ops applied in this thread's open transaction changed.
    static NOTED: RefCell<ByStatus> = const { RefCell::new([0; STATUSES.len()]) };
}

/// An op changed an execution record's status from `before` (none: there
/// was no record) to `after` (none: the record was deleted).
pub(super) fn note(before: Option<ExecutionStatus>, after: Option<ExecutionStatus>) {
    if before == after {
        return;
    }
    NOTED.with(|n| {
        let mut n = n.borrow_mut();
        if let Some(s) = before {
            n[slot(s)] -= 1;
        }
        if let Some(s) = after {
            n[slot(s)] += 1;
        }
    });
}

/// Forgets what this thread's ops noted (a transaction begins, or was
/// dropped).
pub(super) fn forget_noted() {
    NOTED.with(|n| *n.borrow_mut() = [0; STATUSES.len()]);
}

fn take_noted() -> ByStatus {
    NOTED.with(|n| std::mem::replace(&mut *n.borrow_mut(), [0; STATUSES.len()]))
}

/// The store's count of executions by status: `None` when it is not known
/// (a commit failed in a way that leaves unknown whether it was made) and
/// must be taken again.
#[derive(Default)]
pub(super) struct Counts {
    by_status: Mutex<Option<ByStatus>>,
}

/// Held by the committer from just before a commit until its notes are
/// added (see the module's comment).
pub(super) struct Committing<'a> {
    by_status: MutexGuard<'a, Option<ByStatus>>,
}

impl Committing<'_> {
    /// The transaction committed: its notes count.
    pub fn made(mut self) {
        let noted = take_noted();
        if let Some(counts) = self.by_status.as_mut() {
            for (c, d) in counts.iter_mut().zip(noted) {
                *c += d;
            }
        }
    }

    /// Whether the transaction committed is not known: counted again at
    /// the next read.
    pub fn unknown(mut self) {
        forget_noted();
        *self.by_status = None;
    }
}

impl Counts {
    /// Counts the executions of the store that `txn` reads.
    pub fn taken(txn: &Txn) -> Result<Self, StoreError> {
        Ok(Counts {
            by_status: Mutex::new(Some(count(txn)?)),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<ByStatus>> {
        self.by_status.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken by the committer before it commits (see [`Committing`]).
    pub fn committing(&self) -> Committing<'_> {
        Committing {
            by_status: self.lock(),
        }
    }

    /// The count as it stands, if known.
    #[cfg(test)]
    pub fn by_status_known(&self) -> Option<ByStatus> {
        *self.lock()
    }

    /// The executions by status, counted again with a read of `read`
    /// where not known (no commit is made meanwhile).
    pub fn get(
        &self,
        read: impl FnOnce() -> Result<Txn, StoreError>,
    ) -> Result<Vec<(ExecutionStatus, u64)>, StoreError> {
        let mut by_status = self.lock();
        let counts = match *by_status {
            Some(counts) => counts,
            None => {
                let counts = count(&read()?)?;
                *by_status = Some(counts);
                counts
            }
        };
        Ok(STATUSES
            .iter()
            .zip(counts)
            .map(|(s, c)| (*s, c.max(0) as u64))
            .collect())
    }
}

/// The status of every execution record, counted: decoded alone, without
/// the rest of the record.
fn count(txn: &Txn) -> Result<ByStatus, StoreError> {
    #[derive(serde::Deserialize)]
    struct Status {
        status: ExecutionStatus,
    }
    let mut counts = [0; STATUSES.len()];
    txn.open_table(EXECUTIONS)?.scan(.., false, |_, raw| {
        let s: Status = super::apply::from_json("execution", raw)?;
        counts[slot(s.status)] += 1;
        Ok(true)
    })?;
    Ok(counts)
}
