//! Where each execution goes in a copy into a store of several partitions:
//! where a host of that store would have made it, so that every request a
//! client or a workflow sends again finds what it found before the copy.
//!
//! - A child goes with its parent (a parent and its children commit
//!   together: invariant 10), so with the top of its family.
//! - An execution a schedule started goes with the schedule (the
//!   schedule's partition reads and replaces its actions, and asks whether
//!   an action's id was used), in its name's home: those its record names
//!   (running, recent) and any id of its actions' form
//!   (`<prefix>-<nominal time>`).
//! - An execution started with a request id goes to the request id's home:
//!   a start sent again with that request id and no execution id goes
//!   there (one sent with the id follows the directory).
//! - Any other execution goes to its id's home.
//!
//! A copy between stores of as many partitions keeps every id where the
//! source's directory put it.
//!
//! Every row of a partitioned table belongs to one execution (or one
//! schedule) and goes to its partition; each execution id placed gets its
//! directory row, so every host finds it wherever it went.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::super::kv::assign::home;
use super::super::kv::Txn;
use super::super::tables::{self, DIRECTORY, EXECUTIONS, SCHEDULES};
use super::super::{Backend, StoreError};

/// Tables whose key begins with the id of the execution a row belongs to.
const BY_FIRST_PART: &[&str] = &[
    "heartbeats",
    "attempts",
    "executions",
    "history",
    "timers_by_execution",
    "completed",
    "owed_policies",
    "inbox",
    "signal_requests_by_target",
    "retired",
];
/// Tables whose key's second part is that id (the first is a time).
const BY_SECOND_PART: &[&str] = &["timers", "signal_requests"];

/// Whose a row is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Owner {
    Execution(String),
    Schedule(String),
}

/// What of an execution record decides its place.
#[derive(Deserialize)]
struct Head {
    #[serde(default)]
    parent: Option<ParentId>,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Deserialize)]
struct ParentId {
    id: String,
}

#[derive(Deserialize)]
struct ScheduleHead {
    name: String,
    schedule: ScheduleAction,
    state: ScheduleState,
}

#[derive(Deserialize)]
struct ScheduleAction {
    action: ActionPrefix,
}

#[derive(Deserialize)]
struct ActionPrefix {
    #[serde(default)]
    id_prefix: Option<String>,
}

#[derive(Deserialize)]
struct ScheduleState {
    #[serde(default)]
    running: Vec<String>,
    #[serde(default)]
    recent: Vec<Action>,
}

#[derive(Deserialize)]
struct Action {
    #[serde(default)]
    execution: Option<String>,
}

#[derive(Deserialize)]
struct Sender {
    sender: String,
}

#[derive(Deserialize)]
struct Started {
    execution: String,
}

/// The partition of every execution of the copied store.
pub(super) struct Placement {
    partitions: u32,
    heads: HashMap<String, Head>,
    /// Executions a schedule's record names, by the schedule's name.
    run_by: HashMap<String, String>,
    /// The prefix of each schedule's action ids, and its name.
    prefixes: Vec<(String, String)>,
    /// Where the source's directory put each id, when the source has as
    /// many partitions as the target.
    kept: HashMap<String, u32>,
    /// Each execution id placed so far, and where.
    placed: BTreeMap<String, u32>,
}

impl Placement {
    /// Reads the executions and schedules of every partition of the source
    /// (`sources`, one read at a time), for a target of `partitions`.
    pub fn read(sources: &[Backend], partitions: u32) -> Result<Self, StoreError> {
        let mut placement = Self {
            partitions,
            heads: HashMap::new(),
            run_by: HashMap::new(),
            prefixes: Vec::new(),
            kept: HashMap::new(),
            placed: BTreeMap::new(),
        };
        for (at, source) in sources.iter().enumerate() {
            let txn = source.begin_read()?;
            placement.read_partition(&txn, at == 0 && sources.len() == partitions as usize)?;
            txn.commit()?;
        }
        Ok(placement)
    }

    fn read_partition(&mut self, txn: &Txn, directory: bool) -> Result<(), StoreError> {
        txn.open_table(EXECUTIONS)?.scan(.., false, |id, raw| {
            let head: Head = json("execution", id, raw)?;
            self.heads.insert(id.to_owned(), head);
            Ok(true)
        })?;
        txn.open_table(SCHEDULES)?.scan(.., false, |name, raw| {
            let schedule: ScheduleHead = json("schedule", name, raw)?;
            let named = schedule.state.running.into_iter().chain(
                schedule
                    .state
                    .recent
                    .into_iter()
                    .filter_map(|a| a.execution),
            );
            for id in named {
                self.run_by.insert(id, schedule.name.clone());
            }
            let prefix = schedule.schedule.action.id_prefix;
            self.prefixes.push((
                prefix.unwrap_or_else(|| schedule.name.clone()),
                schedule.name,
            ));
            Ok(true)
        })?;
        if directory {
            txn.open_table(DIRECTORY)?.scan(.., false, |id, part| {
                if let Ok(part) = u32::try_from(part) {
                    self.kept.insert(id.to_owned(), part);
                }
                Ok(true)
            })?;
        }
        Ok(())
    }

    /// The partition of a row of `table` (partitioned) with `key` and
    /// `value`.
    pub fn of_row(
        &mut self,
        table: &str,
        key: &[Option<String>],
        value: Option<&[u8]>,
    ) -> Result<u32, StoreError> {
        Ok(match owner(table, key, value)? {
            Owner::Schedule(name) => home(&name, self.partitions),
            Owner::Execution(id) => self.of(&id),
        })
    }

    /// Execution `id`'s partition.
    fn of(&mut self, id: &str) -> u32 {
        if let Some(part) = self.placed.get(id) {
            return *part;
        }
        // The top of its family (a parent deleted since ends the climb; a
        // loop, which no store makes, after as many steps as executions).
        let mut top = id;
        let mut steps = 0;
        while let Some(parent) = self
            .heads
            .get(top)
            .and_then(|h| h.parent.as_ref())
            .map(|p| p.id.as_str())
            .filter(|p| self.heads.contains_key(*p))
        {
            top = parent;
            steps += 1;
            if steps > self.heads.len() {
                break;
            }
        }
        let part = if let Some(part) = self.kept.get(id) {
            *part
        } else if let Some(part) = self.placed.get(top) {
            *part
        } else if let Some(schedule) = self.run_by.get(top).or_else(|| self.schedule_of(top)) {
            home(schedule, self.partitions)
        } else if let Some(request) = self.heads.get(top).and_then(|h| h.request_id.as_deref()) {
            home(request, self.partitions)
        } else {
            home(top, self.partitions)
        };
        self.placed.insert(top.to_owned(), part);
        self.placed.insert(id.to_owned(), part);
        part
    }

    /// The schedule whose action `id` is by its form (`<prefix>-<nominal
    /// time>`), the longest prefix first.
    fn schedule_of(&self, id: &str) -> Option<&String> {
        self.prefixes
            .iter()
            .filter(|(prefix, _)| {
                id.strip_prefix(prefix.as_str())
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(nominal)
            })
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, name)| name)
    }

    /// Writes the directory row of every execution id placed (a store of
    /// several partitions has one per id); answers how many.
    pub fn write_directory(&self, txn: &Txn) -> Result<u64, StoreError> {
        let mut directory = txn.open_table(tables::DIRECTORY)?;
        for (id, part) in &self.placed {
            directory.insert(id.as_str(), u64::from(*part))?;
        }
        Ok(self.placed.len() as u64)
    }
}

/// Whether `text` is a schedule's nominal time as its action ids write
/// it: `2027-03-27T01:30:00Z`, with milliseconds or not, or milliseconds
/// alone (a time past what a date writes).
fn nominal(text: &str) -> bool {
    let b = text.as_bytes();
    if !b.is_empty() && b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (b.len() == 20 || (b.len() == 24 && b[19] == b'.' && digits(20..23)))
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z'
}

/// Whose a row of `table` (partitioned) is.
pub(super) fn owner(
    table: &str,
    key: &[Option<String>],
    value: Option<&[u8]>,
) -> Result<Owner, StoreError> {
    let part = |at: usize| {
        key.get(at).cloned().flatten().ok_or_else(|| {
            StoreError::Backend(format!(
                "a row of {table} has no execution id in its key (a defect of this weft: report \
                 it); copy into a store of one partition meanwhile (leave --partitions out)"
            ))
        })
    };
    let value = || value.unwrap_or_default();
    let key0 = || key.first().cloned().flatten().unwrap_or_default();
    Ok(match table {
        "schedules" => Owner::Schedule(part(0)?),
        "outbox" => Owner::Execution(json::<Sender>("outbox row", &key0(), value())?.sender),
        "start_requests" => Owner::Execution(
            json::<Started>("start request", &key0().replace('\0', " / "), value())?.execution,
        ),
        t if BY_SECOND_PART.contains(&t) => Owner::Execution(part(1)?),
        t if BY_FIRST_PART.contains(&t) => Owner::Execution(part(0)?),
        other => {
            return Err(StoreError::Backend(format!(
                "table {other}: this weft does not know whose its rows are, so cannot copy it \
                 into several partitions (a defect of this weft: report it); copy into a store \
                 of one partition meanwhile (leave --partitions out)"
            )))
        }
    })
}

fn json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    key: &str,
    raw: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(raw).map_err(|e| StoreError::Corrupt {
        what,
        detail: format!("{key}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::super::super::kv::{Def, KeyT, Scope, ValT};
    use super::super::super::tables::{self, EachTable};
    use super::*;

    /// Every partitioned table's rows have a known owner: a table added
    /// later without one fails here, not in a user's copy.
    #[test]
    fn every_partitioned_table_has_an_owner() {
        struct Check(Vec<&'static str>);
        impl EachTable for Check {
            fn table<K: KeyT, V: ValT>(&mut self, def: Def<K, V>) -> Result<(), StoreError> {
                if def.scope == Scope::Partitioned {
                    self.0.push(def.name);
                }
                Ok(())
            }
        }
        let mut check = Check(Vec::new());
        tables::each(&mut check).unwrap();
        assert!(check.0.len() > 10, "{:?}", check.0);
        let key = [Some("first".to_owned()), Some("second".to_owned())];
        let value = br#"{"sender": "in-value", "execution": "in-value"}"#;
        for table in check.0 {
            let owner = owner(table, &key, Some(value));
            assert!(owner.is_ok(), "{table}: {owner:?}");
        }
        let of = |table| owner(table, &key, Some(value)).unwrap();
        assert_eq!(of("history"), Owner::Execution("first".into()));
        assert_eq!(of("timers"), Owner::Execution("second".into()));
        assert_eq!(of("outbox"), Owner::Execution("in-value".into()));
        assert_eq!(of("schedules"), Owner::Schedule("first".into()));
        assert!(owner("modules", &key, None).is_err());
    }

    fn head(parent: Option<&str>, request: Option<&str>) -> Head {
        Head {
            parent: parent.map(|id| ParentId { id: id.into() }),
            request_id: request.map(Into::into),
        }
    }

    #[test]
    fn children_go_with_their_family_and_starts_with_their_request_id() {
        let mut placement = Placement {
            partitions: 64,
            heads: HashMap::from([
                ("root".to_owned(), head(None, None)),
                ("child".to_owned(), head(Some("root"), None)),
                ("grandchild".to_owned(), head(Some("child"), None)),
                ("orphan".to_owned(), head(Some("deleted"), None)),
                ("asked".to_owned(), head(None, Some("req-1"))),
                ("nightly-1".to_owned(), head(None, None)),
            ]),
            run_by: HashMap::from([("nightly-1".to_owned(), "nightly".to_owned())]),
            prefixes: vec![
                ("nightly".to_owned(), "nightly".to_owned()),
                ("ops".to_owned(), "ops-schedule".to_owned()),
            ],
            kept: HashMap::from([("kept".to_owned(), 7)]),
            placed: BTreeMap::new(),
        };
        let root = home("root", 64);
        assert_eq!(placement.of("grandchild"), root);
        assert_eq!(placement.of("child"), root);
        assert_eq!(placement.of("orphan"), home("orphan", 64));
        assert_eq!(placement.of("asked"), home("req-1", 64));
        assert_eq!(placement.of("nightly-1"), home("nightly", 64));
        assert_eq!(placement.of("never-seen"), home("never-seen", 64));
        // An action the record no longer names (ended long ago, deleted),
        // by its form.
        for id in [
            "ops-2027-03-27T01:30:00Z",
            "ops-2027-03-27T01:30:00.250Z",
            "ops-99",
        ] {
            assert_eq!(placement.of(id), home("ops-schedule", 64), "{id}");
        }
        assert_eq!(placement.of("ops-x"), home("ops-x", 64));
        assert_eq!(placement.of("kept"), 7);
        // The test means something only if the homes differ.
        assert_ne!(home("grandchild", 64), root);
        assert_ne!(home("asked", 64), home("req-1", 64));
    }
}
