//! What a PostgreSQL write transaction knows without asking the server:
//! round trips are what a transaction there costs, and the committer is the
//! only writer of its database (it holds the store's lease), so it can keep
//! answers instead of asking again.
//!
//! - Rows of a table read ahead for a whole group commit (the execution
//!   records its batches touch, in one round trip), kept up to date by the
//!   transaction's own writes to that table.
//! - History lengths (the next event index of an execution): known in the
//!   transaction once computed, moved up by its history inserts, forgotten
//!   by its history deletes; kept across transactions once one commits, and
//!   dropped whenever the store is taken anew (another writer may
//!   have written meanwhile) or the map grows past its bound.

use std::collections::{HashMap, HashSet};

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
    /// History lengths learned or changed here; `None`: unknown from here
    /// on (a delete), whatever the committed knowledge says.
    lens: HashMap<String, Option<u64>>,
    /// Every history length is unknown from here on.
    forget_all_lens: bool,
}

impl Known {
    /// A row read ahead, or its absence.
    pub fn read_ahead(&mut self, table: &'static str, key: String, value: Option<Vec<Param>>) {
        self.tables.insert(table);
        self.rows.insert((table, key), value);
    }

    /// What the transaction knows of a row: `None` if it must ask.
    pub fn row(&self, table: &'static str, key: &str) -> Option<&Option<Vec<Param>>> {
        self.rows.get(&(table, key.to_owned()))
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
        if table == HISTORY {
            match history_key(key) {
                Some((id, index)) => {
                    // An insert moves a known length up; an insert past an
                    // unknown one, or a delete, leaves it unknown.
                    let len = match value {
                        Some(_) => self.len(&id, committed).map(|n| n.max(index + 1)),
                        None => None,
                    };
                    self.lens.insert(id, len);
                }
                None => self.forget_all_lens = true,
            }
        }
    }

    /// A range delete of the transaction.
    pub fn wrote_range(&mut self, table: &'static str) {
        if self.tables.contains(table) {
            self.rows.retain(|(t, _), _| *t != table);
            self.tables.remove(table);
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
        match self.lens.get(id) {
            Some(known) => *known,
            None if self.forget_all_lens => None,
            None => committed.get(id),
        }
    }

    /// A history length the transaction computed.
    pub fn learned_len(&mut self, id: &str, n: u64) {
        self.lens.insert(id.to_owned(), Some(n));
    }

    /// After the commit was made: what it knows is now the committed state.
    pub fn committed(self, committed: &Lens) {
        committed.merge(self.lens, self.forget_all_lens);
    }
}

/// History lengths known across transactions (the writer's).
#[derive(Default)]
pub(crate) struct Lens(std::sync::Mutex<HashMap<String, u64>>);

impl Lens {
    fn get(&self, id: &str) -> Option<u64> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
    }

    fn merge(&self, lens: HashMap<String, Option<u64>>, forget_all: bool) {
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

    /// Forgets everything (the store was taken anew, at a new lease generation).
    pub fn clear(&self) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
