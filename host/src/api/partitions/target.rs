//! What a request to a front of several partitions is about, and so where
//! it goes: read from its method and path alone.

use axum::http::Method;

use super::merge::Merge;

/// What a request is about, and so where it goes.
pub(super) enum Target {
    /// An execution (by id).
    Execution(String),
    /// A schedule (by name), or a start by its request id: its home.
    Home(String),
    /// A start or a schedule's creation: the partition is in its body.
    InBody,
    /// What every partition shares: partition 0.
    Shared,
    /// Every partition, answers merged.
    Each(Merge),
    /// A worker's poll of a queue (by name): the tasks of every partition
    /// this host holds, and of those the others hold.
    Poll(String),
    /// A time skip: once every host is idle.
    Skip,
    /// This host answers itself (health, metrics, the cluster, the UI).
    Here,
    /// What hosts send each other for a partition (never a client).
    Internal,
}

pub(super) fn target(method: &Method, path: &str) -> Target {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let post = *method == Method::POST;
    let get = *method == Method::GET;
    match segs.as_slice() {
        ["v1", "executions"] if post => Target::InBody,
        ["v1", "executions"] => Target::Each(Merge::Executions),
        ["v1", "executions", id, ..] => Target::Execution(decode(id)),
        ["v1", "execution-count"] => Target::Each(Merge::Count),
        ["v1", "signal-with-start"] => Target::InBody,
        ["v1", "tasks", token, ..] => {
            let token = decode(token);
            match token.splitn(4, '.').nth(3) {
                Some(id) => Target::Execution(id.to_owned()),
                // Not a token this host gave: any engine says so.
                None => Target::Shared,
            }
        }
        ["v1", "task-queues"] => Target::Each(Merge::Queues),
        ["v1", "task-queues", queue, "poll"] => Target::Poll(decode(queue)),
        ["v1", "schedules"] if post => Target::InBody,
        ["v1", "schedules"] if get => Target::Each(Merge::Schedules),
        ["v1", "schedules", name, ..] => Target::Home(decode(name)),
        ["v1", "workflow-types", _, "upgrade"] if post => Target::Each(Merge::Upgrade),
        ["v1", "workflow-types", _, "versions"] if get => Target::Each(Merge::Versions),
        ["v1", "clock", "skip"] if post => Target::Skip,
        ["v1", "internal", ..] => Target::Internal,
        ["v1", "cluster"] | ["healthz"] | ["metrics"] | ["v1", "openapi.json"] => Target::Here,
        ["v1", ..] => Target::Shared,
        _ => Target::Here,
    }
}

/// A path segment as the handlers see it (percent-decoded).
fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}
