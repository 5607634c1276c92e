//! How the answers of every partition to one list, count, upgrade or
//! version listing make one.

use std::collections::BTreeMap;

use serde_json::Value;

/// How answers from every partition make one.
#[derive(Clone, Copy)]
pub(super) enum Merge {
    Executions,
    Count,
    Queues,
    Schedules,
    Upgrade,
    Versions,
}

/// The answers of every partition to one list, count or upgrade, as one.
pub(super) fn merged(merge: Merge, bodies: Vec<Value>, query: &str) -> Value {
    let arrays = |key: &str, bodies: &[Value]| -> Vec<Value> {
        bodies
            .iter()
            .filter_map(|b| b.get(key).and_then(Value::as_array))
            .flatten()
            .cloned()
            .collect()
    };
    match merge {
        Merge::Count => {
            let count: u64 = bodies
                .iter()
                .filter_map(|b| b.get("count").and_then(Value::as_u64))
                .sum();
            serde_json::json!({ "count": count })
        }
        Merge::Executions => {
            let limit = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "limit")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(crate::api::executions::DEFAULT_PAGE)
                .clamp(1, crate::engine::MAX_PAGE);
            let more = bodies.iter().any(|b| b.get("next_cursor").is_some());
            let mut all = arrays("executions", &bodies);
            let key = |v: &Value| {
                (
                    v.get("created_at_ms").and_then(Value::as_u64).unwrap_or(0),
                    v.get("id").and_then(Value::as_str).unwrap_or("").to_owned(),
                )
            };
            // Newest first, as each partition's page is.
            all.sort_by_key(|v| std::cmp::Reverse(key(v)));
            let next = (more || all.len() > limit)
                .then(|| all.get(limit.min(all.len()).saturating_sub(1)).map(key))
                .flatten()
                .map(|(ms, id)| format!("{ms}.{id}"));
            all.truncate(limit);
            let mut out = serde_json::json!({ "executions": all });
            if let Some(next) = next {
                out["next_cursor"] = Value::String(next);
            }
            out
        }
        Merge::Queues => {
            let mut queues: BTreeMap<String, Value> = BTreeMap::new();
            for q in arrays("task_queues", &bodies) {
                let name = q
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                match queues.get_mut(&name) {
                    None => {
                        queues.insert(name, q);
                    }
                    Some(have) => {
                        for k in ["backlog", "running", "pollers"] {
                            let n = have.get(k).and_then(Value::as_u64).unwrap_or(0)
                                + q.get(k).and_then(Value::as_u64).unwrap_or(0);
                            have[k] = n.into();
                        }
                        let last = have
                            .get("last_poll_ms")
                            .and_then(Value::as_u64)
                            .max(q.get("last_poll_ms").and_then(Value::as_u64));
                        have["last_poll_ms"] = last.map_or(Value::Null, Value::from);
                    }
                }
            }
            serde_json::json!({ "task_queues": queues.into_values().collect::<Vec<_>>() })
        }
        Merge::Schedules => {
            let name = |v: &Value| {
                v.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let mut schedules = arrays("schedules", &bodies);
            schedules.sort_by_key(name);
            let mut unreadable = arrays("unreadable", &bodies);
            unreadable.sort_by_key(name);
            let mut out = serde_json::json!({ "schedules": schedules });
            if !unreadable.is_empty() {
                out["unreadable"] = Value::Array(unreadable);
            }
            out
        }
        Merge::Versions => {
            // The versions are shared; the executions on each are counted
            // in every partition.
            let mut first = bodies.first().cloned().unwrap_or(Value::Null);
            if let Some(versions) = first.get_mut("versions").and_then(Value::as_array_mut) {
                for v in versions.iter_mut() {
                    for k in ["running", "stalled"] {
                        let n: u64 = bodies
                            .iter()
                            .filter_map(|b| b.get("versions").and_then(Value::as_array))
                            .flatten()
                            .filter(|o| o.get("version") == v.get("version"))
                            .filter_map(|o| o.get(k).and_then(Value::as_u64))
                            .sum();
                        v[k] = n.into();
                    }
                }
            }
            first
        }
        Merge::Upgrade => {
            let executions = arrays("executions", &bodies);
            let mut out = bodies.into_iter().next().unwrap_or(Value::Null);
            out["executions"] = Value::Array(executions);
            out
        }
    }
}
