//! Search attributes and memo: what `weft list --query` finds an execution
//! by, and what `weft describe` shows with it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::bindings::weft::workflow::runtime;
use super::Ctx;

/// A search attribute's value. A name has one type on a host: the first
/// value recorded under it decides, and a value of another type stalls the
/// workflow, naming both.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchValue {
    /// Matched whole (`=`, `IN`, `STARTS_WITH`): ids, states, tags.
    Keyword(String),
    /// Matched by words (`Note = "rush"` finds a note holding "rush").
    Text(String),
    Int(i64),
    /// A finite number.
    Double(f64),
    Bool(bool),
    Datetime(SystemTime),
    /// Matched by member (`Tags = "eu"` finds a list holding "eu").
    KeywordList(Vec<String>),
}

impl From<&str> for SearchValue {
    fn from(s: &str) -> Self {
        Self::Keyword(s.to_owned())
    }
}

impl From<String> for SearchValue {
    fn from(s: String) -> Self {
        Self::Keyword(s)
    }
}

impl From<i64> for SearchValue {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}

impl From<i32> for SearchValue {
    fn from(i: i32) -> Self {
        Self::Int(i.into())
    }
}

impl From<u32> for SearchValue {
    fn from(i: u32) -> Self {
        Self::Int(i.into())
    }
}

impl From<f64> for SearchValue {
    fn from(d: f64) -> Self {
        Self::Double(d)
    }
}

impl From<bool> for SearchValue {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<SystemTime> for SearchValue {
    fn from(t: SystemTime) -> Self {
        Self::Datetime(t)
    }
}

impl From<Vec<String>> for SearchValue {
    fn from(l: Vec<String>) -> Self {
        Self::KeywordList(l)
    }
}

impl From<&[&str]> for SearchValue {
    fn from(l: &[&str]) -> Self {
        Self::KeywordList(l.iter().map(|s| (*s).to_owned()).collect())
    }
}

fn millis(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// A datetime attribute's time from ms since the epoch.
pub fn datetime_ms(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

impl From<SearchValue> for runtime::SearchValue {
    fn from(v: SearchValue) -> Self {
        match v {
            SearchValue::Keyword(s) => Self::Keyword(s),
            SearchValue::Text(s) => Self::Text(s),
            SearchValue::Int(i) => Self::Int(i),
            SearchValue::Double(d) => Self::Double(d),
            SearchValue::Bool(b) => Self::Boolean(b),
            SearchValue::Datetime(t) => Self::Datetime(millis(t)),
            SearchValue::KeywordList(l) => Self::KeywordList(l),
        }
    }
}

impl From<runtime::SearchValue> for SearchValue {
    fn from(v: runtime::SearchValue) -> Self {
        use runtime::SearchValue as W;
        match v {
            W::Keyword(s) => Self::Keyword(s),
            W::Text(s) => Self::Text(s),
            W::Int(i) => Self::Int(i),
            W::Double(d) => Self::Double(d),
            W::Boolean(b) => Self::Bool(b),
            W::Datetime(ms) => Self::Datetime(datetime_ms(ms)),
            W::KeywordList(l) => Self::KeywordList(l),
        }
    }
}

impl<W: 'static> Ctx<W> {
    /// This execution's search attributes as the code has set them so far
    /// (those it started with, then each upsert): the same on every replay.
    pub fn search_attributes(&self) -> std::collections::BTreeMap<String, SearchValue> {
        runtime::search_attributes()
            .into_iter()
            .filter_map(|a| Some((a.name, a.value?.into())))
            .collect()
    }

    /// This execution's memo as the code has set it so far, each field as
    /// JSON (a field that is not JSON reads as its text).
    pub fn memo(&self) -> std::collections::BTreeMap<String, serde_json::Value> {
        runtime::memo()
            .into_iter()
            .filter_map(|f| {
                let bytes = f.value?;
                let value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                    serde_json::Value::String(String::from_utf8_lossy(&bytes).into_owned())
                });
                Some((f.name, value))
            })
            .collect()
    }

    /// Sets search attributes of this execution, recorded in its history
    /// and indexed by the host, so that `weft list --query 'CustomerId =
    /// "c-42"'` finds it. They carry over to the next run of a
    /// continue-as-new.
    ///
    /// ```ignore
    /// ctx.upsert_search_attributes([
    ///     ("CustomerId", SearchValue::from(order.customer.as_str())),
    ///     ("Amount", SearchValue::Double(order.amount)),
    /// ]);
    /// ```
    pub fn upsert_search_attributes<'a>(
        &mut self,
        attributes: impl IntoIterator<Item = (&'a str, SearchValue)>,
    ) {
        let list: Vec<_> = attributes
            .into_iter()
            .map(|(name, value)| runtime::SearchAttribute {
                name: name.to_owned(),
                value: Some(value.into()),
            })
            .collect();
        runtime::upsert_search_attributes(&list);
    }

    /// Removes search attributes of this execution.
    pub fn remove_search_attributes<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        let list: Vec<_> = names
            .into_iter()
            .map(|name| runtime::SearchAttribute {
                name: name.to_owned(),
                value: None,
            })
            .collect();
        runtime::upsert_search_attributes(&list);
    }

    /// Sets fields of this execution's memo: data shown with it (`weft
    /// describe`, the list), never searched. Recorded like search attributes.
    pub fn upsert_memo<'a>(
        &mut self,
        fields: impl IntoIterator<Item = (&'a str, serde_json::Value)>,
    ) {
        let list: Vec<_> = fields
            .into_iter()
            .map(|(name, value)| runtime::MemoField {
                name: name.to_owned(),
                value: Some(serde_json::to_vec(&value).unwrap_or_default()),
            })
            .collect();
        runtime::upsert_memo(&list);
    }

    /// Removes fields of this execution's memo.
    pub fn remove_memo<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        let list: Vec<_> = names
            .into_iter()
            .map(|name| runtime::MemoField {
                name: name.to_owned(),
                value: None,
            })
            .collect();
        runtime::upsert_memo(&list);
    }
}
