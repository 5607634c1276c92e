//! Execution records as this host committed them, while it holds a
//! PostgreSQL store: the lease holder is the store's only writer, so what it
//! committed last is what the database holds, and its reads of a record
//! (every step of every execution reads one: its status, whether an
//! activity may start) need not ask.
//!
//! Kept only by the holder's own commits, and by reads that no commit
//! overtook (a read's answer is kept only if no commit was merged between
//! its start and its end: otherwise it may be older than what the commit
//! wrote). A commit's records are forgotten before it is sent and merged
//! once it is made, so an answer from here is never older than what the
//! database shows. Forgotten whole when the store is taken anew (another
//! host may have written meanwhile), on a range delete of records, and when
//! it grows past its bound. Used only while the lease is confirmed and its
//! session holds the writer's lock (`Lease::holds_now`): a host that may
//! have lost the store asks the database. A schema step that rewrites
//! records or histories must end the holder's generation (as a step
//! leaving the binary's version out does), or the holder would go on
//! answering from what it committed before the step.

use std::collections::HashMap;
use std::sync::Mutex;

use super::types::Param;

/// The name of the executions table (`tables::EXECUTIONS`).
pub(crate) const EXECUTIONS: &str = "executions";

/// Most bytes of records kept.
pub(crate) const MAX_BYTES: usize = 64 << 20;

#[derive(Default)]
pub(crate) struct Records(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    /// By key text (`known::key_text`): the value's parts.
    rows: HashMap<String, Vec<Param>>,
    bytes: usize,
    /// Moved on by every merged commit.
    version: u64,
}

/// A value's weight against the bound.
pub(crate) fn weight(value: &[Param]) -> usize {
    value
        .iter()
        .map(|p| match p {
            Param::Bytes(b) => b.len(),
            Param::Int(_) => 8,
        })
        .sum()
}

impl Records {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The record of `key`, if kept.
    pub fn get(&self, key: &str) -> Option<Vec<Param>> {
        self.lock().rows.get(key).cloned()
    }

    /// Where the commits stand: give it back to `offer`.
    pub fn version(&self) -> u64 {
        self.lock().version
    }

    /// A record read from the database by a read that began at `version`:
    /// kept unless a commit was merged since.
    pub fn offer(&self, key: String, value: Vec<Param>, version: u64) {
        let mut inner = self.lock();
        if inner.version != version {
            return;
        }
        inner.put(key, Some(value));
    }

    /// The records a commit wrote (`None`: deleted); `forget_all`: it
    /// deleted records it cannot name.
    pub fn merge(&self, writes: HashMap<String, Option<Vec<Param>>>, forget_all: bool) {
        let mut inner = self.lock();
        inner.version += 1;
        if forget_all {
            inner.forget_all();
        }
        for (key, value) in writes {
            inner.put(key, value);
        }
    }

    /// Forgets the records of `keys` (all: `all`) until a commit merges
    /// them, and any read that began before.
    pub fn forget<'k>(&self, keys: impl Iterator<Item = &'k String>, all: bool) {
        let mut inner = self.lock();
        inner.version += 1;
        if all {
            inner.forget_all();
        }
        for key in keys {
            inner.put(key.clone(), None);
        }
    }

    /// Forgets everything (the store was taken anew).
    pub fn clear(&self) {
        self.forget(std::iter::empty(), true);
    }
}

impl Inner {
    fn forget_all(&mut self) {
        self.rows.clear();
        self.bytes = 0;
    }

    fn put(&mut self, key: String, value: Option<Vec<Param>>) {
        if let Some(old) = self.rows.remove(&key) {
            self.bytes -= key.len() + weight(&old);
        }
        if let Some(value) = value {
            let w = key.len() + weight(&value);
            if self.bytes + w > MAX_BYTES {
                self.forget_all();
            }
            self.bytes += w;
            self.rows.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<Param> {
        vec![Param::Bytes(s.as_bytes().to_vec())]
    }

    #[test]
    fn a_read_overtaken_by_a_commit_is_not_kept() {
        let records = Records::default();
        let before = records.version();
        records.merge(HashMap::from([("a".to_owned(), Some(v("new")))]), false);
        // A read that began before the commit may hold the old record.
        records.offer("a".into(), v("old"), before);
        assert_eq!(records.get("a"), Some(v("new")));
        let now = records.version();
        records.offer("b".into(), v("b"), now);
        assert_eq!(records.get("b"), Some(v("b")));
        // Deleted, and everything forgotten.
        records.merge(HashMap::from([("b".to_owned(), None)]), false);
        assert_eq!(records.get("b"), None);
        records.merge(HashMap::new(), true);
        assert_eq!(records.get("a"), None);
        // A commit under way: its records are asked of the database until
        // it is merged, and a read that began before it is not kept.
        records.offer("a".into(), v("x"), records.version());
        let before = records.version();
        records.forget(["a".to_owned()].iter(), false);
        assert_eq!(records.get("a"), None);
        records.offer("a".into(), v("x"), before);
        assert_eq!(records.get("a"), None);
        records.offer("a".into(), v("x"), records.version());
        records.clear();
        assert_eq!(records.get("a"), None);
        assert_eq!(records.lock().bytes, 0);
    }
}
