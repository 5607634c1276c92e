//! Unit tests of list queries: matching, errors with positions, limits.

use super::*;
use crate::model::ExecutionStatus;

fn head(status: ExecutionStatus, attrs: &[(&str, SearchValue)]) -> ExecutionHead {
    ExecutionHead {
        id: "order-7".parse().unwrap(),
        workflow_type: "orders".parse().unwrap(),
        status,
        created_at_ms: 1_793_491_200_000 + 3_600_000,
        closed_at_ms: None,
        module: "ab".repeat(32).parse().unwrap(),
        resets: 0,
        search_attributes: attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

fn types(name: &str) -> Option<SearchType> {
    match name {
        "CustomerId" => Some(SearchType::Keyword),
        "Amount" => Some(SearchType::Double),
        "Items" => Some(SearchType::Int),
        "Note" => Some(SearchType::Text),
        "Tags" => Some(SearchType::KeywordList),
        "Vip" => Some(SearchType::Bool),
        _ => None,
    }
}

fn q(text: &str) -> Result<Query, QueryError> {
    Query::parse(text, types, || vec!["CustomerId".into()])
}

#[test]
fn queries_match_system_and_custom_attributes() {
    let h = head(
        ExecutionStatus::Running,
        &[
            ("CustomerId", SearchValue::Keyword("c-42".into())),
            ("Amount", SearchValue::Double(12.5)),
            ("Items", SearchValue::Int(3)),
            ("Note", SearchValue::Text("Rush order, gift wrap".into())),
            (
                "Tags",
                SearchValue::KeywordList(vec!["eu".into(), "new".into()]),
            ),
            ("Vip", SearchValue::Bool(true)),
        ],
    );
    let yes = [
        r#"CustomerId = "c-42" AND ExecutionStatus = "running" AND StartTime > "2026-11-01""#,
        "ExecutionStatus = 'Running'",
        "ExecutionStatus IN ('Canceled', 'RUNNING')",
        "WorkflowType = 'orders' AND (Items > 5 OR Amount >= 12.5)",
        "Items BETWEEN 1 AND 3",
        "Items NOT BETWEEN 4 AND 9",
        "CustomerId IN ('c-1', 'c-42')",
        "CustomerId NOT IN ('c-1')",
        "ExecutionId STARTS_WITH 'order-'",
        "Note = 'GIFT rush'",
        "Tags = 'eu' AND Tags != 'old'",
        "Tags IN ('x', 'new')",
        "Vip = true",
        "CloseTime IS NULL AND CustomerId IS NOT NULL",
        "StartTime BETWEEN '2026-11-01' AND '2026-11-01T02:00:00Z'",
        "`CustomerId` != 'c-1'",
        "CustomerId != 'it''s'",
    ];
    for text in yes {
        assert!(q(text).unwrap().matches(&h), "{text} should match");
    }
    let no = [
        "CustomerId = 'c-1'",
        "Items > 3",
        "Note = 'express'",
        "ExecutionStatus = 'completed'",
        "CloseTime > '2026-01-01'",
        "Amount < 1 OR Vip = false",
    ];
    for text in no {
        assert!(!q(text).unwrap().matches(&h), "{text} should not match");
    }
    // An execution without the attribute matches no comparison.
    let bare = head(ExecutionStatus::Running, &[]);
    assert!(!q("CustomerId != 'x'").unwrap().matches(&bare));
    assert!(q("CustomerId IS NULL").unwrap().matches(&bare));
}

/// A long or deeply nested query is no way to crash the host: any
/// number of conditions up to the limit runs without recursion, and
/// nesting past the limit is refused (a query of 300 nested parentheses
/// or 250 ORs overflowed the stack of the host's worker and aborted it).
#[test]
fn long_and_deep_queries_are_answered_or_refused_never_a_crash() {
    let h = head(
        ExecutionStatus::Running,
        &[("CustomerId", SearchValue::Keyword("c-42".into()))],
    );
    let many =
        vec!["CustomerId = 'x'"; MAX_CONDITIONS - 1].join(" OR ") + " OR CustomerId = 'c-42'";
    assert!(q(&many).unwrap().matches(&h));
    let all = vec!["CustomerId = 'c-42'"; MAX_CONDITIONS].join(" AND ");
    assert!(q(&all).unwrap().matches(&h));
    let too_many = vec!["CustomerId = 'x'"; MAX_CONDITIONS + 1].join(" OR ");
    let e = q(&too_many).unwrap_err();
    assert!(e.to_string().contains("more than"), "{e}");
    let deep = |n: usize| format!("{}CustomerId = 'c-42'{}", "(".repeat(n), ")".repeat(n));
    assert!(q(&deep(MAX_DEPTH)).unwrap().matches(&h));
    for n in [MAX_DEPTH + 1, 300, 100_000] {
        let e = q(&deep(n)).unwrap_err();
        assert_eq!(e.at, MAX_DEPTH + 1, "{n}");
        assert!(e.to_string().contains("nest deeper than"), "{e}");
    }
}

#[test]
fn a_bad_query_names_the_character_it_is_at() {
    let cases = [
        ("CustomerId = ", 14, "expected a value"),
        ("CustomerId == 'x'", 13, "expected a value"),
        ("Nope = 'x'", 1, "no search attribute named Nope"),
        ("Items = 'three'", 9, "expected a whole number"),
        ("CustomerId = 'x' AND", 21, "expected an attribute name"),
        ("(CustomerId = 'x'", 18, "expected `)`"),
        ("CustomerId = 'x", 14, "never closes"),
        ("Note > 'a'", 1, "compare it with = or != only"),
        ("StartTime > 'yesterday'", 13, "is not a datetime"),
        ("ExecutionStatus = 'done'", 19, "no execution status"),
        ("CustomerId = c42", 14, "quote a string"),
        ("CustomerId 'x'", 12, "expected an operator"),
        ("CustomerId = 'x' 'y'", 18, "expected AND, OR"),
        ("", 1, "expected a condition"),
        (
            "CustomerId = 'x' ORDER BY StartTime DESC",
            18,
            "ORDER BY is not supported",
        ),
        ("NOT Items > 1", 1, "NOT is not supported"),
        ("Items > 99999999999999999999", 9, "out of range"),
        ("`CustomerId = 'x'", 1, "opens a name that never closes"),
        ("StartTime > '2026-11-30T23:00'", 13, "no time zone"),
    ];
    for (text, at, says) in cases {
        let e = q(text).unwrap_err();
        assert_eq!(e.at, at, "{text}: {e}");
        assert!(e.to_string().contains(says), "{text}: {e}");
    }
}
