//! Search attributes on the engine's side: the host-wide type of each
//! attribute name, claimed when a workflow task or a start first uses it
//! (the store checks the same inside the write), and the checks a change
//! passes before it is recorded.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::search::{
    check_changes, check_limits, check_memo_changes, Memo, MemoChanges, SearchAttributes,
    SearchChanges, SearchError, SearchType,
};
use crate::store::{Store, StoreError};

/// The type each attribute name has on this host.
pub(super) struct SearchTypes {
    known: Mutex<HashMap<String, SearchType>>,
    /// Raised by each change made here (a new name's type taken, a name
    /// forgotten): a reload that read the store across one does not
    /// install what it read.
    changes: std::sync::atomic::AtomicU64,
}

impl SearchTypes {
    pub(super) fn load(store: &Store) -> Result<Self, StoreError> {
        Ok(Self {
            known: Mutex::new(store.search_types()?.into_iter().collect()),
            changes: Default::default(),
        })
    }

    /// Reads the types again (another host of the store changed them),
    /// as of the store's shared-change `mark`: false, and nothing changed
    /// here, when a write moved the mark meanwhile (what was read may lack
    /// a type this host just made; read again at the next look). Checked
    /// under the lock a write here takes after its commit to add its type,
    /// so such a type is never taken away.
    pub(super) fn reload(&self, store: &Store, mark: Option<u64>) -> Result<bool, StoreError> {
        let before = self.changes.load(std::sync::atomic::Ordering::SeqCst);
        let known = store.search_types()?.into_iter().collect();
        let mut held = self.lock();
        if self.changes.load(std::sync::atomic::Ordering::SeqCst) != before
            || store.shared_mark()? != mark
        {
            return Ok(false);
        }
        *held = known;
        Ok(true)
    }

    /// Counts a change made here (see `changes`).
    fn changed(&self) {
        self.changes
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SearchType>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn get(&self, name: &str) -> Option<SearchType> {
        self.lock().get(name).copied()
    }

    /// Every name known, with its type, by name.
    pub(super) fn all(&self) -> Vec<(String, SearchType)> {
        let mut out: Vec<_> = self.lock().iter().map(|(k, v)| (k.clone(), *v)).collect();
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
            if let Some(&registered) = known.get(name.as_str()) {
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
            if !known.contains_key(name.as_str()) {
                known.insert(name.clone(), value.search_type());
                self.changed();
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
        match known.get(name) {
            Some(&registered) if registered != t => Err(SearchError::TypeConflict {
                name: name.to_owned(),
                registered,
                given: t,
            }),
            Some(_) => Ok(false),
            None => {
                known.insert(name.to_owned(), t);
                self.changed();
                Ok(true)
            }
        }
    }

    fn forget(&self, name: &str) -> Option<SearchType> {
        let mut known = self.lock();
        self.changed();
        known.remove(name)
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
        match self.inner.store.write(vec![op]).await {
            Ok(Ok(())) => Ok(new),
            Ok(Err(refused)) => {
                if new {
                    types.forget(name);
                }
                Err(super::EngineError::Conflict(refused.to_string()))
            }
            Err(e) => {
                if new {
                    types.forget(name);
                }
                Err(e.into())
            }
        }
    }

    /// Forgets a custom search attribute name: it may be created again with
    /// any type (values recorded under it stay on their executions, and
    /// match no query of another type).
    pub async fn remove_search_attribute(&self, name: &str) -> Result<(), super::EngineError> {
        let types = &self.inner.search_types;
        let Some(was) = types.forget(name) else {
            return Err(super::EngineError::NotFound {
                what: "search attribute",
                name: name.to_owned(),
                hint: " (see `weft search-attributes`)",
            });
        };
        let op = crate::store::Op::SetSearchType {
            name: name.to_owned(),
            search_type: None,
        };
        match self.inner.store.write(vec![op]).await {
            Ok(_) => Ok(()),
            Err(e) => {
                types.lock().entry(name.to_owned()).or_insert(was);
                Err(e.into())
            }
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
