//! Search attributes on the engine's side: the host-wide type of each
//! attribute name, claimed when a workflow task or a start first uses it
//! (the store checks the same inside the write), and the checks a change
//! passes before it is recorded.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::search::{
    check_changes, check_limits, check_memo_changes, Memo, MemoChanges, SearchAttributes,
    SearchChanges, SearchError, SearchType,
};
use crate::store::{Store, StoreError};

/// The type each attribute name has on this host.
pub(super) struct SearchTypes {
    known: Mutex<Known>,
}

/// How long a change made here is held over what a reload reads, at
/// most: its write is taken to be in flight until then (a workflow task
/// that took a type and then failed before its write, or whose write was
/// refused, leaves it; it then gives way to what the store says).
const HELD: Duration = Duration::from_secs(10);

#[derive(Default)]
struct Known {
    types: HashMap<String, SearchType>,
    /// Changes made here (a type taken: `Some`, a name forgotten: `None`)
    /// that the store may not show yet, and when: a reload of the shared
    /// types applies them over what it read until it reads them too.
    mine: HashMap<String, (Option<SearchType>, Instant)>,
}

/// Whether a change made here at `at` is held no longer, at `now`.
fn lapsed(at: Instant, now: Instant) -> bool {
    now.duration_since(at) >= HELD
}

impl Known {
    /// Notes a change made here (see `mine`), and lets go of those held
    /// longer than `HELD`.
    fn made(&mut self, name: &str, t: Option<SearchType>) {
        let now = Instant::now();
        self.mine.retain(|_, (_, at)| !lapsed(*at, now));
        match t {
            Some(t) => self.types.insert(name.to_owned(), t),
            None => self.types.remove(name),
        };
        self.mine.insert(name.to_owned(), (t, now));
    }
}

impl SearchTypes {
    pub(super) fn load(store: &Store) -> Result<Self, StoreError> {
        Ok(Self {
            known: Mutex::new(Known {
                types: store.search_types()?.into_iter().collect(),
                ..Default::default()
            }),
        })
    }

    /// Reads the types again (another host of the store changed them),
    /// as of the store's shared-change `mark`: false, and nothing changed
    /// here, when a write moved the mark meanwhile (read again at the next
    /// look). The changes made here that what was read does not show yet
    /// are kept over it: their writes may not have committed when it read.
    pub(super) fn reload(&self, store: &Store, mark: Option<u64>) -> Result<bool, StoreError> {
        self.reload_at(store, mark, Instant::now())
    }

    /// [`SearchTypes::reload`], at `now`.
    fn reload_at(
        &self,
        store: &Store,
        mark: Option<u64>,
        now: Instant,
    ) -> Result<bool, StoreError> {
        let mut types: HashMap<_, _> = store.search_types()?.into_iter().collect();
        let mut held = self.lock();
        if store.shared_mark()? != mark {
            return Ok(false);
        }
        // Kept while the store does not show it yet: a name taken here the
        // store lacks, or one forgotten here it still has. A type taken
        // here that the store has as another was refused (the store keeps
        // the first type written).
        held.mine
            .retain(|name, (t, at)| types.contains_key(name) != t.is_some() && !lapsed(*at, now));
        for (name, (t, _)) in &held.mine {
            match t {
                Some(t) => types.insert(name.clone(), *t),
                None => types.remove(name),
            };
        }
        held.types = types;
        Ok(true)
    }

    /// Whether changes made here are still held over what reloads read:
    /// the host reloads until none is (see `Engine::follow_shared`).
    pub(super) fn unsettled(&self) -> bool {
        !self.lock().mine.is_empty()
    }

    /// A change made here was written, refused, or ended unknown, and the
    /// store holds `t` for `name` now: this host knows that, and no longer
    /// holds the change over what a reload reads.
    fn settle(&self, name: &str, t: Option<SearchType>) {
        let mut held = self.lock();
        match t {
            Some(t) => held.types.insert(name.to_owned(), t),
            None => held.types.remove(name),
        };
        held.mine.remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn get(&self, name: &str) -> Option<SearchType> {
        self.lock().types.get(name).copied()
    }

    /// Every name known, with its type, by name.
    pub(super) fn all(&self) -> Vec<(String, SearchType)> {
        let mut out: Vec<_> = self
            .lock()
            .types
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        out.sort();
        out
    }

    /// Refuses a value whose name has another type; else takes the type of
    /// each new name (the first use decides it, for every execution after).
    pub(super) fn claim<'a>(
        &self,
        values: impl IntoIterator<Item = (&'a String, &'a crate::model::search::SearchValue)>,
    ) -> Result<(), SearchError> {
        let mut known = self.lock();
        let values: Vec<_> = values.into_iter().collect();
        for (name, value) in &values {
            let given = value.search_type();
            if let Some(&registered) = known.types.get(name.as_str()) {
                if registered != given {
                    return Err(SearchError::TypeConflict {
                        name: (*name).clone(),
                        registered,
                        given,
                    });
                }
            }
        }
        for (name, value) in values {
            if !known.types.contains_key(name.as_str()) {
                known.made(name, Some(value.search_type()));
            }
        }
        Ok(())
    }

    /// The checks a change of a running execution passes before it is
    /// recorded: names, values and types, and what the execution would
    /// carry after it (`current`).
    pub(super) fn check_change(
        &self,
        current: (&SearchAttributes, &Memo),
        search: Option<&SearchChanges>,
        memo: Option<&MemoChanges>,
    ) -> Result<(), SearchError> {
        let (mut attributes, mut all_memo) = (current.0.clone(), current.1.clone());
        if let Some(changes) = search {
            check_changes(changes)?;
            crate::model::search::apply_changes(&mut attributes, changes);
        }
        if let Some(changes) = memo {
            check_memo_changes(changes)?;
            crate::model::search::apply_memo(&mut all_memo, changes);
        }
        check_limits(&attributes, &all_memo)?;
        if let Some(changes) = search {
            self.claim(changes.iter().filter_map(|(k, v)| Some((k, v.as_ref()?))))?;
        }
        Ok(())
    }
}

impl SearchTypes {
    /// Takes `name` as `t` unless it has another type; true if it is new.
    fn reserve(&self, name: &str, t: SearchType) -> Result<bool, SearchError> {
        let mut known = self.lock();
        match known.types.get(name) {
            Some(&registered) if registered != t => Err(SearchError::TypeConflict {
                name: name.to_owned(),
                registered,
                given: t,
            }),
            Some(_) => Ok(false),
            None => {
                known.made(name, Some(t));
                Ok(true)
            }
        }
    }

    fn forget(&self, name: &str) -> Option<SearchType> {
        let mut known = self.lock();
        let was = known.types.get(name).copied();
        if was.is_some() {
            known.made(name, None);
        }
        was
    }
}

impl SearchTypes {
    /// Search attributes from plain JSON (a start's or a schedule action's):
    /// each value takes its name's type on this host. A name the host does
    /// not know is refused: a start cannot decide a name's type (a typo
    /// would fix it for every workflow after), only a workflow or `weft
    /// search-attributes create` can.
    pub(super) fn values_from_json(
        &self,
        values: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<SearchAttributes, super::EngineError> {
        values
            .iter()
            .map(|(name, value)| {
                crate::model::search::check_name(name)
                    .map_err(|e| super::EngineError::BadRequest(e.to_string()))?;
                let Some(registered) = self.get(name) else {
                    return Err(super::EngineError::BadRequest(format!(
                        "no search attribute named {name} on this host: create it with its type \
                         first (weft search-attributes create {name} keyword; POST \
                         /v1/search-attributes), or let a workflow set it"
                    )));
                };
                let value =
                    crate::model::search::SearchValue::from_json(name, value, Some(registered))
                        .map_err(|e| super::EngineError::BadRequest(e.to_string()))?;
                Ok((name.clone(), value))
            })
            .collect()
    }
}

/// A memo from plain JSON.
pub(super) fn memo_from_json(
    fields: Option<&serde_json::Map<String, serde_json::Value>>,
) -> crate::model::search::Memo {
    fields
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), crate::model::Payload::from_json(v)))
        .collect()
}

impl super::Engine {
    /// Registers a custom search attribute name with its type, so that starts
    /// may give it and queries may name it before any workflow sets it.
    /// True if it is new; an existing name of the same type is left alone,
    /// of another type refused.
    pub async fn create_search_attribute(
        &self,
        name: &str,
        t: SearchType,
    ) -> Result<bool, super::EngineError> {
        crate::model::search::check_name(name)
            .map_err(|e| super::EngineError::BadRequest(e.to_string()))?;
        let types = &self.inner.search_types;
        let new = types.reserve(name, t).map_err(|e| {
            super::EngineError::Conflict(format!(
                "{e}: remove it first (weft search-attributes remove {name}) to give it another"
            ))
        })?;
        let op = crate::store::Op::SetSearchType {
            name: name.to_owned(),
            search_type: Some(t),
        };
        let outcome = self.inner.store.write(vec![op]).await;
        let written = matches!(outcome, Ok(Ok(())));
        let outcome = match outcome {
            Ok(Ok(())) => Ok(new),
            Ok(Err(refused)) => Err(super::EngineError::Conflict(refused.to_string())),
            Err(e) => Err(e.into()),
        };
        if written {
            types.settle(name, Some(t));
        } else {
            // Refused (another host gave it another type) or not known to
            // be written: what the store holds now.
            self.settle_from_store(name);
        }
        outcome
    }

    /// Forgets a custom search attribute name: it may be created again with
    /// any type (values recorded under it stay on their executions, and
    /// match no query of another type).
    pub async fn remove_search_attribute(&self, name: &str) -> Result<(), super::EngineError> {
        let types = &self.inner.search_types;
        if types.forget(name).is_none() {
            return Err(super::EngineError::NotFound {
                what: "search attribute",
                name: name.to_owned(),
                hint: " (see `weft search-attributes`)",
            });
        }
        let op = crate::store::Op::SetSearchType {
            name: name.to_owned(),
            search_type: None,
        };
        match self.inner.store.write(vec![op]).await {
            Ok(Ok(())) => {
                types.settle(name, None);
                Ok(())
            }
            Ok(Err(refused)) => {
                self.settle_from_store(name);
                Err(super::EngineError::Conflict(refused.to_string()))
            }
            Err(e) => {
                self.settle_from_store(name);
                Err(e.into())
            }
        }
    }

    /// Takes what the store holds of `name` now as this host's type of it
    /// (after a change here that the store refused, or whose write's
    /// outcome is unknown); if the store cannot be read, the change stays
    /// held over what reloads read (see `SearchTypes::reload`) until they
    /// settle it.
    fn settle_from_store(&self, name: &str) {
        if let Ok(all) = self.inner.store.search_types() {
            let now = all.into_iter().find(|(n, _)| n == name).map(|(_, t)| t);
            self.inner.search_types.settle(name, now);
        }
    }

    /// A list query bound to this host's search attribute types.
    pub fn parse_query(&self, text: &str) -> Result<super::query::Query, super::EngineError> {
        let types = &self.inner.search_types;
        super::query::Query::parse(
            text,
            |name| types.get(name),
            || types.all().into_iter().map(|(n, _)| n).collect(),
        )
        .map_err(|e| super::EngineError::BadRequest(e.to_string()))
    }

    /// Every custom search attribute this host knows, with its type.
    pub fn search_attribute_types(&self) -> Vec<(String, crate::model::search::SearchType)> {
        self.inner.search_types.all()
    }

    /// Start options holding a start request's search attributes and memo,
    /// from plain JSON: each value takes its name's type on this host; a
    /// name it does not know is refused (see `SearchTypes::values_from_json`).
    pub fn start_attributes(
        &self,
        search: Option<&serde_json::Map<String, serde_json::Value>>,
        memo: Option<&serde_json::Map<String, serde_json::Value>>,
    ) -> Result<super::StartOptions, super::EngineError> {
        Ok(super::StartOptions {
            search_attributes: match search {
                Some(values) => self.inner.search_types.values_from_json(values)?,
                None => Default::default(),
            },
            memo: memo_from_json(memo),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::search::SearchValue;

    async fn store_with(name: &str, t: Option<SearchType>) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        if t.is_some() {
            write_type(&store, name, t).await;
        }
        (dir, store)
    }

    /// What another host (or this one's write) does: `name` registered as
    /// `t`, or removed.
    async fn write_type(store: &Store, name: &str, t: Option<SearchType>) {
        let op = crate::store::Op::SetSearchType {
            name: name.to_owned(),
            search_type: t,
        };
        store.write(vec![op]).await.unwrap().unwrap();
    }

    /// The types of `store`, with `Items` taken here as an int by a
    /// workflow (not written).
    fn items_taken_here(store: &Store) -> SearchTypes {
        let types = SearchTypes::load(store).unwrap();
        let items = ("Items".to_owned(), SearchValue::Int(3));
        types.claim([(&items.0, &items.1)]).unwrap();
        types
    }

    /// Found by a flaky end-to-end test on four partitions: a workflow
    /// took a new name's type, and a reload of the shared types (another
    /// host's change) that read the store before the workflow's write
    /// committed installed what it read: the name was unknown here until
    /// the next change, and `weft search-attributes remove` answered 404
    /// for the attribute the workflow had just set.
    #[tokio::test]
    async fn a_type_taken_here_outlives_a_reload_that_read_before_its_write() {
        let (_dir, store) = store_with("Items", None).await;
        let types = items_taken_here(&store);
        assert!(types.reload(&store, store.shared_mark().unwrap()).unwrap());
        assert_eq!(types.get("Items"), Some(SearchType::Int));
    }

    /// The same for a name forgotten here whose removal is not written
    /// yet: a reload does not bring it back (a create with another type
    /// right after would be refused).
    #[tokio::test]
    async fn a_name_forgotten_here_stays_forgotten_across_a_reload_before_its_write() {
        let (_dir, store) = store_with("Items", Some(SearchType::Int)).await;
        let types = SearchTypes::load(&store).unwrap();
        assert_eq!(types.forget("Items"), Some(SearchType::Int));
        assert!(types.reload(&store, store.shared_mark().unwrap()).unwrap());
        assert_eq!(types.get("Items"), None);
        assert!(types.unsettled(), "reloaded until the store shows it");
        // Removed, then created as a keyword before that is written.
        write_type(&store, "Items", None).await;
        types.reserve("Items", SearchType::Keyword).unwrap();
        assert!(types.reload(&store, store.shared_mark().unwrap()).unwrap());
        assert_eq!(types.get("Items"), Some(SearchType::Keyword));
    }

    /// A type taken here whose write never came (the workflow task failed
    /// before it) is held no longer than `HELD`: then the store's word
    /// (nothing) is taken.
    #[tokio::test]
    async fn a_type_taken_here_with_no_write_lapses() {
        let (_dir, store) = store_with("Items", None).await;
        let types = items_taken_here(&store);
        let mark = store.shared_mark().unwrap();
        let soon = Instant::now() + HELD / 2;
        assert!(types.reload_at(&store, mark, soon).unwrap());
        assert_eq!(types.get("Items"), Some(SearchType::Int));
        let later = Instant::now() + HELD + Duration::from_secs(1);
        assert!(types.reload_at(&store, mark, later).unwrap());
        assert_eq!(types.get("Items"), None);
        assert!(!types.unsettled());
    }

    /// A type taken here that the store has as another was refused (another
    /// partition's host wrote it first): the store's is taken at once, not
    /// held over it.
    #[tokio::test]
    async fn a_type_taken_here_gives_way_to_another_the_store_took_first() {
        let (_dir, store) = store_with("Items", None).await;
        let types = items_taken_here(&store);
        write_type(&store, "Items", Some(SearchType::Keyword)).await;
        assert!(types.reload(&store, store.shared_mark().unwrap()).unwrap());
        assert_eq!(types.get("Items"), Some(SearchType::Keyword));
        assert!(!types.unsettled());
    }

    /// What the store says wins once it says it: a change here that the
    /// store now shows is no longer held over it, so another host's later
    /// removal is followed.
    #[tokio::test]
    async fn a_change_the_store_shows_gives_way_to_later_changes() {
        let (_dir, store) = store_with("Items", None).await;
        let types = items_taken_here(&store);
        write_type(&store, "Items", Some(SearchType::Int)).await;
        assert!(types.reload(&store, store.shared_mark().unwrap()).unwrap());
        write_type(&store, "Items", None).await;
        assert!(types.reload(&store, store.shared_mark().unwrap()).unwrap());
        assert_eq!(types.get("Items"), None);
    }
}
