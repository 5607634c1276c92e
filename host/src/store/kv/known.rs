//! What a PostgreSQL write transaction knows without asking the server:
//! round trips are what a transaction there costs, and the committer is the
//! only writer of its database (it holds the store's lease), so it can keep
//! answers instead of asking again.
//!
//! - Rows of a table read ahead for a whole group commit (the execution
//!   records its batches touch, the completion rows they check, in one round
//!   trip each), kept up to date by the transaction's own writes to that
//!   table; and, for rows read ahead by their first key part (the timer rows
//!   of the runs the group closes), the absence of any other row under it.
//!   Only the writer's transaction reads ahead: a read-only one knows
//!   nothing and asks.
//! - History lengths (the next event index of an execution): known in the
//!   transaction once computed, moved up by its history inserts, forgotten
//!   by its history deletes; kept across transactions once one commits, and
//!   dropped whenever the store is taken anew (another writer may
//!   have written meanwhile) or the map grows past its bound.

use std::collections::{HashMap, HashSet};

use super::records::{weight, Records, EXECUTIONS, MAX_BYTES as MAX_RECORD_BYTES};
use super::types::{unflip, Param};

/// The name of the history table (`tables::HISTORY`): keys (id, index).
pub(crate) const HISTORY: &str = "history";

/// Most history lengths kept between transactions.
const MAX_LENS: usize = 200_000;

/// A key as text: its parts' literals.
pub(crate) fn key_text(key: &[Param]) -> String {
    key.iter().map(Param::literal).collect::<Vec<_>>().join(",")
}

/// A history key's (id, index), from its parts.
fn history_key(key: &[Param]) -> Option<(String, u64)> {
    match key {
        [Param::Bytes(id), Param::Int(index)] => {
            Some((String::from_utf8(id.clone()).ok()?, unflip(*index)))
        }
        _ => None,
    }
}

/// One transaction's knowledge.
#[derive(Default)]
pub(crate) struct Known {
    /// Rows by (table, key text): their value's parts, or `None` if absent.
    rows: HashMap<(&'static str, String), Option<Vec<Param>>>,
    /// Tables whose rows are kept in `rows`.
    tables: HashSet<&'static str>,
    /// (table, first key part's text) whose every row is in `rows`: a key
    /// beginning with that part and not in `rows` is absent (read ahead by
    /// first part; the transaction's writes keep it true).
    by_first: HashSet<(&'static str, String)>,
    /// History lengths (and when their last events were recorded) learned
    /// or changed here; `None`: unknown from here on (a delete), whatever
    /// the committed knowledge says.
    lens: HashMap<String, Option<Tail>>,
    /// Every history length is unknown from here on.
    forget_all_lens: bool,
    /// Execution records written here (`None`: deleted), for `Records`.
    records: HashMap<String, Option<Vec<Param>>>,
    /// Records were deleted by range, or too many written to keep.
    forget_all_records: bool,
    /// About how many bytes `records` holds.
    records_bytes: usize,
}

impl Known {
    /// A row read ahead, or its absence.
    pub fn read_ahead(&mut self, table: &'static str, key: String, value: Option<Vec<Param>>) {
        self.tables.insert(table);
        self.rows.insert((table, key), value);
    }

    /// Every row of `table` whose key begins with `first` was read ahead
    /// (those found are given to `read_ahead`).
    pub fn read_ahead_first(&mut self, table: &'static str, first: String) {
        self.tables.insert(table);
        self.by_first.insert((table, first));
    }

    /// What the transaction knows of a row: `None` if it must ask.
    pub fn row(&self, table: &'static str, key: &str) -> Option<&Option<Vec<Param>>> {
        const ABSENT: &Option<Vec<Param>> = &None;
        if let Some(known) = self.rows.get(&(table, key.to_owned())) {
            return Some(known);
        }
        let first = key.split(',').next().unwrap_or(key);
        self.by_first
            .contains(&(table, first.to_owned()))
            .then_some(ABSENT)
    }

    /// Whether `table` is known to hold no row whose key begins with the
    /// part `first` (its text): read ahead by it, and none found or written
    /// since.
    pub fn none_under(&self, table: &'static str, first: &str) -> bool {
        let prefix = format!("{first},");
        self.by_first.contains(&(table, first.to_owned()))
            && !self
                .rows
                .iter()
                .any(|((t, k), v)| *t == table && v.is_some() && k.starts_with(&prefix))
    }

    /// A write of the transaction: `value` none for a delete.
    pub fn wrote(
        &mut self,
        table: &'static str,
        key: &[Param],
        value: Option<Vec<Param>>,
        committed: &Lens,
    ) {
        if self.tables.contains(table) {
            self.rows.insert((table, key_text(key)), value.clone());
        }
        if table == EXECUTIONS && !self.forget_all_records {
            let key = key_text(key);
            self.records_bytes += key.len() + value.as_deref().map_or(0, weight);
            self.records.insert(key, value.clone());
            // A transaction that writes more (a store being copied) keeps
            // none of them: the cache forgets everything at its commit.
            if self.records_bytes > MAX_RECORD_BYTES {
                self.records.clear();
                self.forget_all_records = true;
            }
        }
        if table == HISTORY {
            match history_key(key) {
                Some((id, index)) => {
                    // An insert moves a known length up (and, at the end,
                    // its last event's time); an insert past an unknown
                    // one, or a delete, leaves it unknown.
                    let tail = match value {
                        Some(value) => self.tail(&id, committed).map(|t| {
                            if index + 1 >= t.len {
                                Tail {
                                    len: index + 1,
                                    last_at_ms: at_ms_of(&value),
                                }
                            } else {
                                t
                            }
                        }),
                        None => None,
                    };
                    self.lens.insert(id, tail);
                }
                None => self.forget_all_lens = true,
            }
        }
    }

    /// A range delete of the transaction, from key `lo` to key `hi` (both
    /// included; `None`: a bound it cannot tell).
    pub fn wrote_range(&mut self, table: &'static str, lo: Option<&[Param]>, hi: Option<&[Param]>) {
        if self.tables.contains(table) {
            match whole_prefix(lo, hi) {
                // Every key beginning with `prefix` is gone: known absent
                // where its first part is known, else asked.
                Some(prefix) => self
                    .rows
                    .retain(|(t, k), _| *t != table || !k.starts_with(&prefix)),
                None => {
                    self.rows.retain(|(t, _), _| *t != table);
                    self.tables.remove(table);
                    self.by_first.retain(|(t, _)| *t != table);
                }
            }
        }
        if table == EXECUTIONS {
            // Including those written before it: the range may hold them.
            self.records.clear();
            self.forget_all_records = true;
        }
        if table == HISTORY {
            // The store deletes an execution's whole history at once; not
            // knowing which, forget them all.
            self.forget_all_lens = true;
            self.lens.clear();
        }
    }

    /// The history length of `id`, if known.
    pub fn len(&self, id: &str, committed: &Lens) -> Option<u64> {
        self.tail(id, committed).map(|t| t.len)
    }

    /// When the last event of `id`'s history, `len` long, was recorded, if
    /// known.
    pub fn last_at_ms(&self, id: &str, len: u64, committed: &Lens) -> Option<u64> {
        self.tail(id, committed)
            .filter(|t| t.len == len)
            .and_then(|t| t.last_at_ms)
    }

    fn tail(&self, id: &str, committed: &Lens) -> Option<Tail> {
        match self.lens.get(id) {
            Some(known) => *known,
            None if self.forget_all_lens => None,
            None => committed.get(id),
        }
    }

    /// A history length the transaction computed.
    pub fn learned_len(&mut self, id: &str, n: u64) {
        self.lens.insert(
            id.to_owned(),
            Some(Tail {
                len: n,
                last_at_ms: None,
            }),
        );
    }

    /// When the last event of a history `len` long was recorded, read by
    /// the transaction.
    pub fn learned_last_at_ms(&mut self, id: &str, len: u64, at_ms: u64) {
        self.lens.insert(
            id.to_owned(),
            Some(Tail {
                len,
                last_at_ms: Some(at_ms),
            }),
        );
    }

    /// Before the commit is sent: the records it writes, and the lengths of
    /// the histories it changes, are not to be answered from what was
    /// committed before it (a read between the server's commit and the
    /// merge would be older than what the server shows).
    pub fn uncommitted(&self, committed: &Lens, records: &Records) {
        committed.forget(self.lens.keys(), self.forget_all_lens);
        records.forget(self.records.keys(), self.forget_all_records);
    }

    /// After the commit was made: what it knows is now the committed state.
    pub fn committed(self, committed: &Lens, records: &Records) {
        committed.merge(self.lens, self.forget_all_lens);
        records.merge(self.records, self.forget_all_records);
    }
}

/// The text every key of the range `lo..=hi` begins with, when the range
/// is exactly the keys that begin with it: the bounds share their leading
/// parts, and after them `lo` has each part's least value and `hi` each
/// part's greatest (integers only: a string has no greatest).
fn whole_prefix(lo: Option<&[Param]>, hi: Option<&[Param]>) -> Option<String> {
    let (lo, hi) = (lo?, hi?);
    if lo.len() != hi.len() {
        return None;
    }
    let shared = lo.iter().zip(hi).take_while(|(a, b)| a == b).count();
    if shared == 0 || shared == lo.len() {
        return None;
    }
    let least = |p: &Param| matches!(p, Param::Int(i64::MIN)) || *p == Param::Bytes(Vec::new());
    let greatest = |p: &Param| matches!(p, Param::Int(i64::MAX));
    (lo[shared..].iter().all(least) && hi[shared..].iter().all(greatest))
        .then(|| format!("{},", key_text(&lo[..shared])))
}

/// A history's length, and when its last event was recorded if known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tail {
    len: u64,
    last_at_ms: Option<u64>,
}

/// The `at_ms` of a history row's value (the event's JSON).
fn at_ms_of(value: &[Param]) -> Option<u64> {
    match value {
        [Param::Bytes(json)] => crate::model::Event::stored_at_ms(json),
        _ => None,
    }
}

/// History lengths known across transactions (the writer's).
#[derive(Default)]
pub(crate) struct Lens(std::sync::Mutex<HashMap<String, Tail>>);

impl Lens {
    fn get(&self, id: &str) -> Option<Tail> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
    }

    fn merge(&self, lens: HashMap<String, Option<Tail>>, forget_all: bool) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if forget_all || map.len() > MAX_LENS {
            map.clear();
        }
        for (id, n) in lens {
            match n {
                Some(n) => {
                    map.insert(id, n);
                }
                None => {
                    map.remove(&id);
                }
            }
        }
    }

    /// Forgets the lengths of `ids` (all: `all`) until a commit merges them.
    fn forget<'k>(&self, ids: impl Iterator<Item = &'k String>, all: bool) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if all {
            map.clear();
        }
        for id in ids {
            map.remove(id);
        }
    }

    /// Forgets everything (the store was taken anew, at a new lease generation).
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{whole_prefix, Known, Lens, Param, Records, EXECUTIONS};
    use crate::store::kv::types::flip;

    const COMPLETED: &str = "completed";

    /// A completion row's key: (execution, run start, handle).
    fn key(id: &str, run: u64, handle: u64) -> Vec<Param> {
        vec![
            Param::Bytes(id.as_bytes().to_vec()),
            Param::Int(flip(run)),
            Param::Int(flip(handle)),
        ]
    }

    #[test]
    fn a_range_is_a_prefix_only_when_it_covers_every_key_beginning_with_it() {
        let (lo, hi) = (key("e", 3, 0), key("e", 3, u64::MAX));
        let prefix = whole_prefix(Some(&lo), Some(&hi)).expect("one run's rows");
        assert!(super::key_text(&key("e", 3, 7)).starts_with(&prefix));
        assert!(!super::key_text(&key("e", 30, 7)).starts_with(&prefix));
        let (lo, hi) = (key("e", 0, 0), key("e", u64::MAX, u64::MAX));
        assert!(whole_prefix(Some(&lo), Some(&hi)).is_some(), "every run");
        // Part of a run, one key, two executions, an unknown bound: not a
        // prefix.
        assert_eq!(whole_prefix(Some(&key("e", 3, 1)), Some(&hi)), None);
        assert_eq!(
            whole_prefix(Some(&key("e", 3, 1)), Some(&key("e", 3, 1))),
            None
        );
        assert_eq!(
            whole_prefix(Some(&key("e", 0, 0)), Some(&key("f", 0, 0))),
            None
        );
        assert_eq!(whole_prefix(None, Some(&hi)), None);
    }

    #[test]
    fn records_written_before_a_range_delete_of_records_are_not_kept() {
        let (lens, records) = (Lens::default(), Records::default());
        let id = |s: &str| vec![Param::Bytes(s.as_bytes().to_vec())];
        let value = Some(vec![Param::Bytes(b"record".to_vec())]);
        let mut known = Known::default();
        known.wrote(EXECUTIONS, &id("a"), value.clone(), &lens);
        known.wrote_range(EXECUTIONS, None, None);
        known.wrote(EXECUTIONS, &id("b"), value.clone(), &lens);
        known.uncommitted(&lens, &records);
        known.committed(&lens, &records);
        let text = |s: &str| super::key_text(&id(s));
        assert_eq!(records.get(&text("a")), None, "the range may have held it");
        assert_eq!(records.get(&text("b")), None, "asked of the database");
        // Without a range delete, a commit's records are kept.
        let mut known = Known::default();
        known.wrote(EXECUTIONS, &id("c"), value.clone(), &lens);
        known.uncommitted(&lens, &records);
        known.committed(&lens, &records);
        assert_eq!(records.get(&text("c")), value);
    }

    /// Found by a review: a history length was answered from the last
    /// commit while the next one, which appends, was already made on the
    /// server and not yet merged. Now a commit's lengths are forgotten
    /// before it is sent, as its records are.
    #[test]
    fn a_commit_under_way_is_not_answered_from_the_lengths_before_it() {
        let (lens, records) = (Lens::default(), Records::default());
        let event = |index: u64| vec![Param::Bytes(b"e".to_vec()), Param::Int(flip(index))];
        let mut known = Known::default();
        known.learned_len("e", 0);
        known.wrote(super::HISTORY, &event(0), Some(vec![]), &lens);
        known.uncommitted(&lens, &records);
        known.committed(&lens, &records);
        assert_eq!(Known::default().len("e", &lens), Some(1));
        let mut next = Known::default();
        next.wrote(super::HISTORY, &event(1), Some(vec![]), &lens);
        next.uncommitted(&lens, &records);
        assert_eq!(
            Known::default().len("e", &lens),
            None,
            "asked of the database"
        );
        next.committed(&lens, &records);
        assert_eq!(Known::default().len("e", &lens), Some(2));
    }

    /// The time of a history's last event is known from the transaction's
    /// own insert at its end, across the commit, and only for that length.
    #[test]
    fn the_last_events_time_follows_the_inserts_at_the_end() {
        let (lens, records) = (Lens::default(), Records::default());
        let key = |index: u64| vec![Param::Bytes(b"e".to_vec()), Param::Int(flip(index))];
        let value = |at: u64| {
            vec![Param::Bytes(
                format!(r#"{{"index":0,"at_ms":{at},"event":{{}}}}"#).into_bytes(),
            )]
        };
        let mut known = Known::default();
        known.learned_len("e", 3);
        assert_eq!(known.last_at_ms("e", 3, &lens), None, "not read yet");
        known.learned_last_at_ms("e", 3, 40);
        known.wrote(super::HISTORY, &key(3), Some(value(70)), &lens);
        assert_eq!(known.last_at_ms("e", 4, &lens), Some(70));
        assert_eq!(known.last_at_ms("e", 3, &lens), None, "another length");
        known.uncommitted(&lens, &records);
        known.committed(&lens, &records);
        assert_eq!(Known::default().last_at_ms("e", 4, &lens), Some(70));
        // An insert before the end leaves the last one's time.
        let mut next = Known::default();
        next.wrote(super::HISTORY, &key(1), Some(value(10)), &lens);
        assert_eq!(next.last_at_ms("e", 4, &lens), Some(70));
    }

    #[test]
    fn rows_read_ahead_by_first_part_answer_absence_and_follow_writes() {
        let lens = Lens::default();
        let mut known = Known::default();
        let text = |k: &[Param]| super::key_text(k);
        known.read_ahead(COMPLETED, text(&key("e", 3, 1)), Some(Vec::new()));
        known.read_ahead_first(COMPLETED, text(&key("e", 0, 0)[..1]));
        assert_eq!(
            known.row(COMPLETED, &text(&key("e", 3, 1))),
            Some(&Some(vec![]))
        );
        assert_eq!(known.row(COMPLETED, &text(&key("e", 3, 2))), Some(&None));
        assert_eq!(
            known.row(COMPLETED, &text(&key("f", 3, 2))),
            None,
            "not read: ask"
        );
        // A completion written in the transaction is known present.
        known.wrote(COMPLETED, &key("e", 3, 2), Some(Vec::new()), &lens);
        assert_eq!(
            known.row(COMPLETED, &text(&key("e", 3, 2))),
            Some(&Some(vec![]))
        );
        // The run's close deletes its rows: absent again, still known.
        let (lo, hi) = (key("e", 3, 0), key("e", 3, u64::MAX));
        known.wrote_range(COMPLETED, Some(&lo), Some(&hi));
        assert_eq!(known.row(COMPLETED, &text(&key("e", 3, 1))), Some(&None));
        assert_eq!(known.row(COMPLETED, &text(&key("e", 3, 2))), Some(&None));
        assert!(known.none_under(COMPLETED, &text(&key("e", 0, 0)[..1])));
        assert!(
            !known.none_under(COMPLETED, &text(&key("f", 0, 0)[..1])),
            "not read"
        );
        known.wrote(COMPLETED, &key("e", 4, 1), Some(Vec::new()), &lens);
        assert!(!known.none_under(COMPLETED, &text(&key("e", 0, 0)[..1])));
        // A range it cannot tell forgets the table: every get asks.
        known.wrote_range(COMPLETED, None, Some(&hi));
        assert_eq!(known.row(COMPLETED, &text(&key("e", 3, 1))), None);
        assert_eq!(known.row(COMPLETED, &text(&key("e", 3, 5))), None);
    }
}
