//! Search attributes and memo: typed values an execution carries, set by its
//! workflow code (recorded in the history) or by its start request, kept on
//! the execution's record and searched by `weft list --query`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Payload;

/// The type of a search attribute; one name has one type on a host.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SearchType {
    Keyword,
    Text,
    Int,
    Double,
    Bool,
    Datetime,
    KeywordList,
}

impl SearchType {
    pub const ALL: [SearchType; 7] = [
        Self::Keyword,
        Self::Text,
        Self::Int,
        Self::Double,
        Self::Bool,
        Self::Datetime,
        Self::KeywordList,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keyword => "keyword",
            Self::Text => "text",
            Self::Int => "int",
            Self::Double => "double",
            Self::Bool => "bool",
            Self::Datetime => "datetime",
            Self::KeywordList => "keyword-list",
        }
    }
}

impl std::fmt::Display for SearchType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SearchType {
    type Err = SearchError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| SearchError::UnknownType(s.to_owned()))
    }
}

/// A search attribute's value, its type with it. As JSON:
/// `{"type": "keyword", "value": "c-42"}`; a datetime's value is ms since
/// the Unix epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum SearchValue {
    Keyword(String),
    Text(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Datetime(i64),
    KeywordList(Vec<String>),
}

/// The search attributes of an execution, by name.
pub type SearchAttributes = BTreeMap<String, SearchValue>;
/// A change to them: a value sets, `None` removes.
pub type SearchChanges = BTreeMap<String, Option<SearchValue>>;
/// An execution's memo, by field.
pub type Memo = BTreeMap<String, Payload>;
/// A change to it: a value sets, `None` removes.
pub type MemoChanges = BTreeMap<String, Option<Payload>>;

/// The attributes every execution has, searched like custom ones; no
/// custom attribute may take one of these names (compared without case).
pub const SYSTEM_ATTRIBUTES: [(&str, SearchType); 7] = [
    ("ExecutionId", SearchType::Keyword),
    ("WorkflowId", SearchType::Keyword),
    ("WorkflowType", SearchType::Keyword),
    ("ExecutionStatus", SearchType::Keyword),
    ("StartTime", SearchType::Datetime),
    ("CloseTime", SearchType::Datetime),
    ("Module", SearchType::Keyword),
];

/// Longest attribute or memo field name, in bytes.
pub const MAX_NAME: usize = 64;
/// Longest keyword (and keyword-list member), in bytes.
pub const MAX_KEYWORD: usize = 2_048;
/// Longest text, in bytes.
pub const MAX_TEXT: usize = 16_384;
/// Most members of a keyword list.
pub const MAX_LIST: usize = 100;
/// Most search attributes on one execution.
pub const MAX_ATTRIBUTES: usize = 100;
/// Largest memo of one execution (its fields' payloads and names), in bytes.
pub const MAX_MEMO_BYTES: usize = 65_536;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SearchError {
    #[error(
        "search attribute name {0:?} is not valid: use 1-{MAX_NAME} ASCII letters, digits or '_', \
         not starting with a digit"
    )]
    BadName(String),
    #[error(
        "memo field name {0:?} is not valid: use 1-{MAX_NAME} bytes without control characters"
    )]
    BadMemoName(String),
    #[error("{0:?} is a system search attribute: pick another name for a custom one")]
    Reserved(String),
    #[error("search attribute {name}: {problem}")]
    BadValue { name: String, problem: String },
    #[error(
        "an execution may carry at most {MAX_ATTRIBUTES} search attributes; this one would carry {0}"
    )]
    TooMany(usize),
    #[error(
        "the memo would take {0} bytes; an execution's memo may take at most {MAX_MEMO_BYTES}"
    )]
    MemoTooLarge(usize),
    #[error(
        "search attribute {name} has type {registered} on this host, so it cannot take a {given} \
         value; give it a value of type {registered}, or use another name"
    )]
    TypeConflict {
        name: String,
        registered: SearchType,
        given: SearchType,
    },
    #[error(
        "unknown search attribute type {0:?}: expected keyword, text, int, double, bool, datetime \
         or keyword-list"
    )]
    UnknownType(String),
}

impl SearchValue {
    pub fn search_type(&self) -> SearchType {
        match self {
            Self::Keyword(_) => SearchType::Keyword,
            Self::Text(_) => SearchType::Text,
            Self::Int(_) => SearchType::Int,
            Self::Double(_) => SearchType::Double,
            Self::Bool(_) => SearchType::Bool,
            Self::Datetime(_) => SearchType::Datetime,
            Self::KeywordList(_) => SearchType::KeywordList,
        }
    }

    /// Refuses what the host does not keep: an overlong string, a long
    /// list, a number that is not finite.
    pub fn check(&self, name: &str) -> Result<(), SearchError> {
        let bad = |problem: String| SearchError::BadValue {
            name: name.to_owned(),
            problem,
        };
        match self {
            Self::Keyword(k) if k.len() > MAX_KEYWORD => Err(bad(format!(
                "a keyword of {} bytes is longer than the {MAX_KEYWORD} allowed (use text for \
                 long values)",
                k.len()
            ))),
            Self::Text(t) if t.len() > MAX_TEXT => Err(bad(format!(
                "a text of {} bytes is longer than the {MAX_TEXT} allowed",
                t.len()
            ))),
            Self::Double(d) if !d.is_finite() => Err(bad(format!("{d} is not a finite number"))),
            Self::KeywordList(l) if l.len() > MAX_LIST => Err(bad(format!(
                "a list of {} keywords is longer than the {MAX_LIST} allowed",
                l.len()
            ))),
            Self::KeywordList(l) => match l.iter().find(|k| k.len() > MAX_KEYWORD) {
                Some(k) => Err(bad(format!(
                    "a list member of {} bytes is longer than the {MAX_KEYWORD} allowed",
                    k.len()
                ))),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// The value for a person: a keyword as it is, a datetime in RFC 3339.
    pub fn display(&self) -> String {
        match self {
            Self::Keyword(s) | Self::Text(s) => s.clone(),
            Self::Int(i) => i.to_string(),
            Self::Double(d) => d.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Datetime(ms) => jiff::Timestamp::from_millisecond(*ms)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| format!("{ms} ms")),
            Self::KeywordList(l) if l.is_empty() => "(empty)".to_owned(),
            Self::KeywordList(l) => l.join(", "),
        }
    }

    /// A value from plain JSON: the attribute's registered type if it has
    /// one, else the JSON's own (a string is a keyword, a whole number an
    /// int, another number a double, an array of strings a keyword list).
    /// A typed form `{"type": .., "value": ..}` is taken as it is. A
    /// datetime is given as RFC 3339 (or a date) or as ms since the epoch.
    pub fn from_json(
        name: &str,
        value: &serde_json::Value,
        registered: Option<SearchType>,
    ) -> Result<Self, SearchError> {
        use serde_json::Value as J;
        let bad = |problem: String| SearchError::BadValue {
            name: name.to_owned(),
            problem,
        };
        // The typed form: its value read as its type says (a datetime as
        // RFC 3339 or ms, a double from a whole number).
        if let J::Object(map) = value {
            if let Some(t) = map.get("type") {
                let typed = t.as_str().ok_or_else(|| {
                    bad(format!(
                        "{value} is not a typed value: write {{\"type\": \"keyword\", \"value\": \
                         \"...\"}}"
                    ))
                })?;
                let t: SearchType = typed.parse()?;
                let inner = map.get("value").unwrap_or(&J::Null);
                return Self::from_json(name, inner, Some(t));
            }
        }
        let wanted = match (registered, value) {
            (Some(t), _) => t,
            (None, J::String(_)) => SearchType::Keyword,
            (None, J::Bool(_)) => SearchType::Bool,
            (None, J::Number(n)) if n.is_i64() => SearchType::Int,
            (None, J::Number(_)) => SearchType::Double,
            (None, J::Array(_)) => SearchType::KeywordList,
            (None, other) => {
                return Err(bad(format!(
                    "{other} has no search attribute type: give a string, number, bool or list \
                     of strings, or a typed value"
                )))
            }
        };
        let mismatch = || bad(format!("{value} is not of type {wanted}"));
        // A keyword or text takes a number's or a bool's text (a CLI value
        // `Requester=42` parses as JSON); the others take their text form.
        let text = match value {
            J::String(s) => Some(s.clone()),
            J::Number(_) | J::Bool(_) => Some(value.to_string()),
            _ => None,
        };
        let v = match wanted {
            SearchType::Keyword => Self::Keyword(text.ok_or_else(mismatch)?),
            SearchType::Text => Self::Text(text.ok_or_else(mismatch)?),
            SearchType::Int => Self::Int(match value {
                J::String(s) => s.trim().parse().map_err(|_| mismatch())?,
                other => other.as_i64().ok_or_else(mismatch)?,
            }),
            SearchType::Double => Self::Double(match value {
                J::String(s) => s.trim().parse().map_err(|_| mismatch())?,
                other => other.as_f64().ok_or_else(mismatch)?,
            }),
            SearchType::Bool => Self::Bool(match value {
                J::String(s) if s.eq_ignore_ascii_case("true") => true,
                J::String(s) if s.eq_ignore_ascii_case("false") => false,
                other => other.as_bool().ok_or_else(mismatch)?,
            }),
            SearchType::Datetime => Self::Datetime(match value {
                J::String(s) => parse_datetime(s).map_err(bad)?,
                other => other.as_i64().ok_or_else(mismatch)?,
            }),
            SearchType::KeywordList => Self::KeywordList(
                value
                    .as_array()
                    .ok_or_else(mismatch)?
                    .iter()
                    .map(|k| k.as_str().map(str::to_owned))
                    .collect::<Option<_>>()
                    .ok_or_else(mismatch)?,
            ),
        };
        v.check(name)?;
        Ok(v)
    }
}

/// A datetime as ms since the Unix epoch: RFC 3339 (`2026-11-01T09:30:00Z`,
/// an offset, fractions) or a date alone (`2026-11-01`, midnight UTC).
pub fn parse_datetime(s: &str) -> Result<i64, String> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t.as_millisecond());
    }
    // A date alone, not a date with a time cut off.
    if let Ok(d) = s.parse::<jiff::civil::Date>() {
        if s.trim().len() <= 10 {
            if let Ok(z) = d.to_zoned(jiff::tz::TimeZone::UTC) {
                return Ok(z.timestamp().as_millisecond());
            }
        } else if s.parse::<jiff::civil::DateTime>().is_ok() {
            return Err(format!(
                "{s:?} has no time zone: add Z or an offset ({}Z, or +01:00), or give a date \
                 alone (midnight UTC)",
                s.trim()
            ));
        }
    }
    Err(format!(
        "{s:?} is not a datetime: write RFC 3339 (2026-11-01T09:30:00Z) or a date (2026-11-01, \
         midnight UTC)"
    ))
}

/// Checks a custom attribute's name.
pub fn check_name(name: &str) -> Result<(), SearchError> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || name.len() > MAX_NAME || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(SearchError::BadName(name.to_owned()));
    }
    if SYSTEM_ATTRIBUTES
        .iter()
        .any(|(s, _)| s.eq_ignore_ascii_case(name))
    {
        return Err(SearchError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Checks a change to search attributes on its own (names and values).
pub fn check_changes(changes: &SearchChanges) -> Result<(), SearchError> {
    for (name, value) in changes {
        check_name(name)?;
        if let Some(v) = value {
            v.check(name)?;
        }
    }
    Ok(())
}

/// Checks a change to the memo on its own (names).
pub fn check_memo_changes(changes: &MemoChanges) -> Result<(), SearchError> {
    for name in changes.keys() {
        if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
            return Err(SearchError::BadMemoName(name.clone()));
        }
    }
    Ok(())
}

/// Applies a change to an execution's attributes.
pub fn apply_changes(current: &mut SearchAttributes, changes: &SearchChanges) {
    for (name, value) in changes {
        match value {
            Some(v) => current.insert(name.clone(), v.clone()),
            None => current.remove(name),
        };
    }
}

/// Applies a change to an execution's memo.
pub fn apply_memo(current: &mut Memo, changes: &MemoChanges) {
    for (name, value) in changes {
        match value {
            Some(v) => current.insert(name.clone(), v.clone()),
            None => current.remove(name),
        };
    }
}

/// Refuses attributes and a memo an execution may not carry: too many
/// attributes, too large a memo.
pub fn check_limits(attributes: &SearchAttributes, memo: &Memo) -> Result<(), SearchError> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(SearchError::TooMany(attributes.len()));
    }
    let size: usize = memo.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_MEMO_BYTES {
        return Err(SearchError::MemoTooLarge(size));
    }
    Ok(())
}

/// What `events` (in order) make of an execution's attributes and memo:
/// a run's start sets both, an upsert changes them.
pub fn fold<'a>(
    attributes: &mut SearchAttributes,
    memo: &mut Memo,
    events: impl IntoIterator<Item = &'a super::EventKind>,
) {
    use super::EventKind as K;
    for e in events {
        match e {
            K::ExecutionStarted {
                search_attributes,
                memo: m,
                ..
            } => {
                *attributes = search_attributes.clone();
                *memo = m.clone();
            }
            K::SearchAttributesUpserted { attributes: a, .. } => apply_changes(attributes, a),
            K::MemoUpserted { memo: m, .. } => apply_memo(memo, m),
            _ => {}
        }
    }
}

/// A change for a person: `Name=value (type)`, `Name removed`.
pub fn describe_changes(changes: &SearchChanges) -> String {
    changes
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={} ({})", v.display(), v.search_type()),
            None => format!("{k} removed"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_values_and_json_are_checked() {
        assert!(check_name("CustomerId").is_ok());
        assert!(check_name("_x9").is_ok());
        assert!(matches!(check_name("9x"), Err(SearchError::BadName(_))));
        assert!(matches!(check_name("a-b"), Err(SearchError::BadName(_))));
        assert!(matches!(
            check_name("executionstatus"),
            Err(SearchError::Reserved(_))
        ));
        assert!(SearchValue::Double(f64::NAN).check("x").is_err());
        let v = |j: serde_json::Value, t| SearchValue::from_json("x", &j, t);
        assert_eq!(
            v(serde_json::json!("c-42"), None),
            Ok(SearchValue::Keyword("c-42".into()))
        );
        assert_eq!(v(serde_json::json!(3), None), Ok(SearchValue::Int(3)));
        assert_eq!(
            v(serde_json::json!(3.5), None),
            Ok(SearchValue::Double(3.5))
        );
        assert_eq!(
            v(serde_json::json!(3), Some(SearchType::Double)),
            Ok(SearchValue::Double(3.0))
        );
        assert_eq!(
            v(serde_json::json!("2026-11-01"), Some(SearchType::Datetime)),
            Ok(SearchValue::Datetime(1_793_491_200_000))
        );
        assert_eq!(
            v(serde_json::json!({"type": "text", "value": "hello"}), None),
            Ok(SearchValue::Text("hello".into()))
        );
        // The typed form reads its value as its type says.
        assert_eq!(
            v(
                serde_json::json!({"type": "datetime", "value": "2026-11-01"}),
                None
            ),
            Ok(SearchValue::Datetime(1_793_491_200_000))
        );
        assert_eq!(
            v(serde_json::json!({"type": "double", "value": 80}), None),
            Ok(SearchValue::Double(80.0))
        );
        assert!(v(serde_json::json!({"type": "date", "value": 1}), None).is_err());
        // A time without a zone is refused, not read as midnight.
        let e = parse_datetime("2026-11-30T23:00").unwrap_err();
        assert!(e.contains("no time zone"), "{e}");
        assert_eq!(parse_datetime("2026-11-30T23:00Z"), Ok(1_796_079_600_000));
        // A keyword or text takes a number or a bool as its text (`--search-attribute
        // Requester=42` parses as JSON); a bool or number takes its text.
        assert_eq!(
            v(serde_json::json!(42), Some(SearchType::Keyword)),
            Ok(SearchValue::Keyword("42".into()))
        );
        assert_eq!(
            v(serde_json::json!("true"), Some(SearchType::Bool)),
            Ok(SearchValue::Bool(true))
        );
        assert_eq!(
            v(serde_json::json!("7"), Some(SearchType::Int)),
            Ok(SearchValue::Int(7))
        );
        assert!(v(serde_json::json!("x"), Some(SearchType::Int)).is_err());
        assert!(v(serde_json::json!(null), None).is_err());
        let typed = serde_json::to_value(SearchValue::KeywordList(vec!["a".into()])).unwrap();
        assert_eq!(
            typed,
            serde_json::json!({"type": "keyword-list", "value": ["a"]})
        );
    }
}
