//! Starting, listing, describing, resetting executions; results and histories.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::VersionRef;
use crate::engine::ExecutionView;
use crate::model::{
    ExecutionRecord, ExecutionStatus, Failure, IdReusePolicy, ParentClosePolicy, Payload,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    pub workflow_type: String,
    /// Chosen id; generated (`wf_<ulid>`) when absent.
    pub id: Option<String>,
    /// Any JSON; handed to the workflow's `run`.
    #[schema(value_type = Value)]
    #[serde(default)]
    pub input: serde_json::Value,
    /// Makes a retried start safe: an id that is running with the same
    /// request id answers with that run instead of a conflict.
    #[serde(default)]
    pub request_id: Option<String>,
    /// What a start with the id of a closed execution does (default
    /// `allow-duplicate`: a new run follows in the same history).
    #[serde(default)]
    pub id_reuse_policy: IdReusePolicy,
    /// Also wait up to this long for the execution to settle, and answer
    /// with its result: start and result in one request.
    #[serde(default)]
    pub wait_ms: Option<u64>,
    /// Time the execution out (terminated, no code runs) this long after
    /// its start, across continue-as-new (workflow time, ms).
    #[serde(default)]
    pub execution_timeout_ms: Option<u64>,
    /// Time each run out this long after it starts (workflow time, ms).
    #[serde(default)]
    pub run_timeout_ms: Option<u64>,
    /// Search attributes to start with, by name: a plain value takes the
    /// name's type on this host (a new name: a string is a keyword, a whole
    /// number an int, another number a double, a list of strings a keyword
    /// list), or a typed value `{"type": "datetime", "value": "2026-11-01"}`.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub search_attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Memo fields to start with (any JSON each).
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub memo: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StartResponse {
    pub id: String,
    /// The run of the id this start created (or found, for a repeated request id).
    #[serde(default)]
    pub run: u32,
    /// With `wait_ms`: the result when the wait ended (`status` still
    /// `running` if it did not settle in time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<ExecutionResult>,
    /// A repeated request id: this answers the run the first request
    /// started, nothing new was started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[serde(default)]
    pub reason: Option<String>,
    /// Makes a retry safe: a request with this id is done once under the
    /// execution id (for its type's retention), also after it ended the
    /// execution and a start reused the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// The answer to a cancel or a terminate.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EndReceipt {
    /// A repeated request id: it was done before, nothing was done now.
    pub duplicate: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChildInfo {
    pub id: String,
    pub workflow_type: String,
    /// `running`, `completed`, ... or `unknown` if it never started.
    pub status: String,
    pub parent_close_policy: ParentClosePolicy,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ParentInfo {
    pub id: String,
    pub close_policy: ParentClosePolicy,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// running, stalled, completed, failed, cancelled or terminated.
    pub status: Option<String>,
    pub workflow_type: Option<String>,
    /// Only executions whose id starts with this.
    pub id_prefix: Option<String>,
    /// Started at or after this time (ms since the Unix epoch).
    pub started_after_ms: Option<u64>,
    /// Started before this time.
    pub started_before_ms: Option<u64>,
    /// Closed at or after this time (open executions are left out).
    pub closed_after_ms: Option<u64>,
    /// Closed before this time (open executions are left out).
    pub closed_before_ms: Option<u64>,
    /// A list query (Temporal's syntax) over the system attributes
    /// (`ExecutionId`, `WorkflowType`, `ExecutionStatus`, `StartTime`,
    /// `CloseTime`, `Module`) and the custom search attributes, e.g.
    /// `CustomerId = "c-42" AND StartTime > "2026-11-01"`.
    pub query: Option<String>,
    /// Page size: 1 to 1,000 (default 100).
    pub limit: Option<usize>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionSummary {
    pub id: String,
    pub workflow_type: String,
    pub module: String,
    pub status: ExecutionStatus,
    /// The run of this id (continue-as-new and reuse start new runs).
    #[serde(default)]
    pub run: u32,
    pub created_at_ms: u64,
    pub closed_at_ms: Option<u64>,
    /// Its search attributes, typed: `{"CustomerId": {"type": "keyword", "value": "c-42"}}`.
    #[schema(value_type = Object)]
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub search_attributes: crate::model::search::SearchAttributes,
    /// Its memo, each field as JSON.
    #[schema(value_type = Object)]
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub memo: std::collections::BTreeMap<String, serde_json::Value>,
}

impl From<&ExecutionRecord> for ExecutionSummary {
    fn from(r: &ExecutionRecord) -> Self {
        Self {
            id: r.id.to_string(),
            workflow_type: r.workflow_type.to_string(),
            module: r.module.to_string(),
            status: r.status,
            run: r.run,
            created_at_ms: r.created_at_ms,
            closed_at_ms: r.closed_at_ms,
            search_attributes: r.search_attributes.clone(),
            memo: r
                .memo
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect(),
        }
    }
}

/// `GET /v1/execution-count`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionCount {
    pub count: usize,
}

/// A search attribute name and its type.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchAttributeInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub search_type: crate::model::search::SearchType,
    /// A system attribute (every execution has it; no workflow sets it).
    pub system: bool,
}

/// `POST /v1/search-attributes`: a name and its type.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSearchAttribute {
    pub name: String,
    /// keyword, text, int, double, bool, datetime or keyword-list.
    #[serde(rename = "type")]
    pub search_type: crate::model::search::SearchType,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchAttributeList {
    pub attributes: Vec<SearchAttributeInfo>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionList {
    /// Newest first.
    pub executions: Vec<ExecutionSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingActivity {
    pub handle: u64,
    pub name: String,
    /// The attempt running or due next.
    pub attempt: u32,
    /// The last heartbeat's details, if it sent any.
    #[schema(value_type = Option<Value>)]
    #[serde(default)]
    pub heartbeat_details: Option<serde_json::Value>,
    /// The last failed attempt's failure, when another attempt is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failure: Option<Failure>,
    /// When the next attempt is due (ms since the Unix epoch, host time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at_ms: Option<u64>,
    /// What ran the last failed attempt (`module:<sha-256>`, `queue:<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_served_by: Option<String>,
    /// No deployed component serves its name and it names no task queue:
    /// each attempt fails `activity-not-found` until one is deployed.
    #[serde(default)]
    pub unserved: bool,
    /// The task queue its attempt waits on for an external worker (or
    /// that a worker took it from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_queue: Option<String>,
    /// A worker took its attempt's task and has not answered yet.
    #[serde(default)]
    pub taken_by_worker: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingTimer {
    pub handle: u64,
    pub fire_at_ms: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionDetail {
    #[serde(flatten)]
    pub summary: ExecutionSummary,
    /// The version of its workflow type it runs (see `module`).
    #[serde(default)]
    pub version: Option<u32>,
    #[schema(value_type = Value)]
    pub input: serde_json::Value,
    #[schema(value_type = Option<Value>)]
    pub output: Option<serde_json::Value>,
    pub failure: Option<Failure>,
    pub stall_reason: Option<String>,
    pub history_length: u64,
    /// Whether an instance is in memory (false once evicted).
    pub cached: bool,
    pub pending_activities: Vec<PendingActivity>,
    pub pending_timers: Vec<PendingTimer>,
    #[serde(default)]
    pub cancel_requested: bool,
    #[serde(default)]
    pub parent: Option<ParentInfo>,
    #[serde(default)]
    pub children: Vec<ChildInfo>,
    /// When the execution times out (`execution_timeout_ms` at its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_deadline_ms: Option<u64>,
    /// When the current run times out (`run_timeout_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_deadline_ms: Option<u64>,
    /// On a store of several partitions: the partition it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// On a store of several partitions: the host holding its partition
    /// (which answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
}

impl From<ExecutionView> for ExecutionDetail {
    fn from(v: ExecutionView) -> Self {
        Self {
            summary: ExecutionSummary::from(&v.record),
            version: None,
            input: v.record.input.to_json(),
            output: v.record.output.as_ref().map(Payload::to_json),
            failure: v.record.failure.clone(),
            stall_reason: v.record.stall_reason.clone(),
            history_length: v.history_length,
            cached: v.cached,
            pending_activities: v
                .pending_activities
                .into_iter()
                .map(|p| PendingActivity {
                    handle: p.task.handle,
                    name: p.task.name,
                    attempt: p.task.attempt,
                    heartbeat_details: p.heartbeat.map(|d| d.to_json()),
                    next_attempt_at_ms: p.last_attempt.as_ref().map(|s| s.retry_at_ms),
                    last_served_by: p.last_attempt.as_ref().and_then(|s| s.served_by.clone()),
                    last_failure: p.last_attempt.map(|s| s.failure),
                    unserved: p.unserved,
                    task_queue: p.worker.as_ref().map(|w| w.queue.clone()),
                    taken_by_worker: p.worker.is_some_and(|w| w.taken),
                })
                .collect(),
            pending_timers: v
                .pending_timers
                .into_iter()
                .map(|(handle, fire_at_ms)| PendingTimer { handle, fire_at_ms })
                .collect(),
            cancel_requested: v.record.cancel_requested,
            execution_deadline_ms: v.record.execution_deadline_ms,
            run_deadline_ms: v.record.run_deadline_ms(),
            partition: v.partition.as_ref().map(|(p, _)| *p),
            held_by: v.partition.map(|(_, host)| host),
            parent: v.record.parent.as_ref().map(|p| ParentInfo {
                id: p.id.to_string(),
                close_policy: p.close_policy,
            }),
            children: v
                .children
                .into_iter()
                .map(|(id, workflow_type, status, policy)| ChildInfo {
                    id,
                    workflow_type,
                    status,
                    parent_close_policy: policy,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResultQuery {
    /// Block until the execution settles (or `timeout_ms` passes).
    #[serde(default)]
    pub wait: bool,
    /// Longest wait, default 30000, at most 300000.
    pub timeout_ms: Option<u64>,
    /// The result of this run and the runs it continued as new into, also
    /// once they ended and another execution took the id (what a start
    /// answered as its `run`); default: the id's latest run.
    pub run: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionResult {
    pub id: String,
    pub status: ExecutionStatus,
    #[schema(value_type = Option<Value>)]
    pub output: Option<serde_json::Value>,
    pub failure: Option<Failure>,
    pub stall_reason: Option<String>,
}

impl From<&ExecutionRecord> for ExecutionResult {
    fn from(r: &ExecutionRecord) -> Self {
        Self {
            id: r.id.to_string(),
            status: r.status,
            output: r.output.as_ref().map(Payload::to_json),
            failure: r.failure.clone(),
            stall_reason: r.stall_reason.clone(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Keep events `0..=to_event`; discard the rest.
    pub to_event: u64,
    /// Run on this version from now on (default: the module it ran).
    #[serde(default)]
    pub version: Option<VersionRef>,
    /// Recorded in the `execution_reset` event.
    #[serde(default)]
    pub reason: Option<String>,
    /// Drop the signals received after the point; by default they are
    /// recorded again after the reset, in their order, so none is lost.
    #[serde(default)]
    pub exclude_signals: bool,
    /// Makes a retry safe: a reset of the current run with this id is done
    /// once (1-200 characters); asked again, it answers that reset's report
    /// (`duplicate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResetResponse {
    pub id: String,
    pub to_event: u64,
    /// How many events were discarded (kept in the `execution_reset` event).
    pub discarded: u64,
    pub version: Option<u32>,
    /// The reset was done already, by an earlier request with its
    /// `request_id`: this is its report, nothing new was done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Which run (from 1; default: the current one).
    pub run: Option<u32>,
    /// Only the run's events from this position on (0: its first; a page of a
    /// long history).
    pub from: Option<usize>,
    /// At most this many events (default: all).
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogsQuery {
    /// Only lines after this one (a `seq` from an earlier answer).
    pub after: Option<u64>,
    /// With no line to give yet, wait up to this long for one (max 60,000).
    pub wait_ms: Option<u64>,
}

/// One line a workflow or one of its activities said.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogLineInfo {
    pub seq: u64,
    pub at_ms: u64,
    /// `workflow`, or `activity NAME #HANDLE attempt N`.
    pub source: String,
    pub level: String,
    pub line: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogList {
    pub lines: Vec<LogLineInfo>,
}
