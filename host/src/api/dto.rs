//! The JSON shapes of the API, with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::engine::{ExecutionView, UpgradeOutcome, UpgradeReport, VersionView};
use crate::model::{
    Doors, ExecutionRecord, ExecutionStatus, Failure, IdReusePolicy, ModuleKind, ModuleMeta,
    ParentClosePolicy, Payload,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleInfo {
    /// sha-256 of the component, hex.
    pub hash: String,
    pub kind: ModuleKind,
    pub workflow_type: Option<String>,
    pub activities: Vec<String>,
    /// For a workflow: the signal, query and update names it declares.
    #[serde(default)]
    pub signals: Vec<String>,
    #[serde(default)]
    pub queries: Vec<String>,
    #[serde(default)]
    pub updates: Vec<String>,
    /// For an activity component: the environment and directories opened for it.
    #[serde(default)]
    pub doors: Doors,
    pub size_bytes: u64,
}

impl From<ModuleMeta> for ModuleInfo {
    fn from(m: ModuleMeta) -> Self {
        Self {
            hash: m.hash.to_string(),
            kind: m.kind,
            workflow_type: m.workflow_type.map(|t| t.to_string()),
            activities: m.activities,
            signals: m.signals,
            queries: m.queries,
            updates: m.updates,
            doors: m.doors,
            size_bytes: m.size_bytes,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleList {
    pub modules: Vec<ModuleInfo>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeployQuery {
    /// Workflow type name; required for a workflow component.
    pub name: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowTypeInfo {
    pub name: String,
    pub current_module: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowTypeList {
    pub workflow_types: Vec<WorkflowTypeInfo>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StartRequest {
    pub workflow_type: String,
    /// Chosen id; generated (`wf_<ulid>`) when absent.
    pub id: Option<String>,
    /// Any JSON; handed to the workflow's `run`.
    #[schema(value_type = Object)]
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
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StartResponse {
    pub id: String,
    /// The run of the id this start created (or found, for a repeated request id).
    #[serde(default)]
    pub run: u32,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ReasonRequest {
    #[serde(default)]
    pub reason: Option<String>,
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
pub struct ListQuery {
    /// running, completed, failed or stalled.
    pub status: Option<String>,
    pub workflow_type: Option<String>,
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
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionList {
    pub executions: Vec<ExecutionSummary>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingActivity {
    pub handle: u64,
    pub name: String,
    /// The attempt running or due next.
    pub attempt: u32,
    /// The last heartbeat's details, if it sent any.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub heartbeat_details: Option<serde_json::Value>,
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
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
    #[schema(value_type = Option<Object>)]
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
                .map(|(t, details)| PendingActivity {
                    handle: t.handle,
                    name: t.name,
                    attempt: t.attempt,
                    heartbeat_details: details.map(|d| d.to_json()),
                })
                .collect(),
            pending_timers: v
                .pending_timers
                .into_iter()
                .map(|(handle, fire_at_ms)| PendingTimer { handle, fire_at_ms })
                .collect(),
            cancel_requested: v.record.cancel_requested,
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
pub struct ResultQuery {
    /// Block until the execution settles (or `timeout_ms` passes).
    #[serde(default)]
    pub wait: bool,
    /// Longest wait, default 30000, at most 300000.
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExecutionResult {
    pub id: String,
    pub status: ExecutionStatus,
    #[schema(value_type = Option<Object>)]
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
pub struct ClockInfo {
    pub now_ms: u64,
    pub manual: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AdvanceRequest {
    pub ms: u64,
}

/// A version given as its number (`2`, `"v2"`) or its module hash (or a
/// prefix of at least 8 hex digits).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum VersionRef {
    Number(u32),
    Text(String),
}

impl std::fmt::Display for VersionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    pub version: u32,
    pub module: String,
    pub deployed_at_ms: u64,
    /// New executions start on the current version.
    pub current: bool,
    /// Executions running on this version.
    pub running: usize,
    pub stalled: usize,
}

impl From<VersionView> for VersionInfo {
    fn from(v: VersionView) -> Self {
        Self {
            version: v.version.version,
            module: v.version.module.to_string(),
            deployed_at_ms: v.version.deployed_at_ms,
            current: v.current,
            running: v.running,
            stalled: v.stalled,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionList {
    pub workflow_type: String,
    pub versions: Vec<VersionInfo>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SetCurrentRequest {
    pub version: VersionRef,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CurrentVersion {
    pub workflow_type: String,
    pub version: u32,
    pub module: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpgradeRequest {
    /// The version to move executions to.
    pub to: VersionRef,
    /// Check and report, move nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Only these executions (default: every running or stalled one of the type).
    #[serde(default)]
    pub ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DivergenceInfo {
    pub event_index: u64,
    /// The command the history recorded at that index.
    pub recorded: String,
    /// What the new code did there instead.
    pub issued: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpgradeItemInfo {
    pub id: String,
    /// Its status before the upgrade.
    pub status: ExecutionStatus,
    pub from_version: Option<u32>,
    pub from_module: String,
    /// `moved`, `would-move`, `already-there`, `diverged` or `failed`.
    pub outcome: String,
    pub divergence: Option<DivergenceInfo>,
    /// Why the replay could not run, for `failed`.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpgradeReportInfo {
    pub workflow_type: String,
    pub to_version: u32,
    pub to_module: String,
    pub dry_run: bool,
    pub executions: Vec<UpgradeItemInfo>,
}

impl From<UpgradeReport> for UpgradeReportInfo {
    fn from(r: UpgradeReport) -> Self {
        Self {
            workflow_type: r.workflow_type.to_string(),
            to_version: r.to.version,
            to_module: r.to.module.to_string(),
            dry_run: r.dry_run,
            executions: r
                .executions
                .into_iter()
                .map(|e| {
                    let (divergence, reason) = match &e.outcome {
                        UpgradeOutcome::Diverged(d) => (
                            Some(DivergenceInfo {
                                event_index: d.event_index,
                                recorded: d.recorded.clone(),
                                issued: d.issued.clone(),
                            }),
                            None,
                        ),
                        UpgradeOutcome::Failed(reason) => (None, Some(reason.clone())),
                        _ => (None, None),
                    };
                    UpgradeItemInfo {
                        id: e.id.to_string(),
                        status: e.status,
                        from_version: e.from_version,
                        from_module: e.from_module.to_string(),
                        outcome: e.outcome.as_str().to_owned(),
                        divergence,
                        reason,
                    }
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResetRequest {
    /// Keep events `0..=to_event`; discard the rest.
    pub to_event: u64,
    /// Run on this version from now on (default: the module it ran).
    #[serde(default)]
    pub version: Option<VersionRef>,
    /// Recorded in the `execution_reset` event.
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResetResponse {
    pub id: String,
    pub to_event: u64,
    /// How many events were discarded (kept in the `execution_reset` event).
    pub discarded: u64,
    pub version: Option<u32>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalRequest {
    pub name: String,
    /// Any JSON (default null).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalWithStartRequest {
    pub workflow_type: String,
    /// The execution to signal, started with `input` if it does not exist.
    pub id: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
    pub signal: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub signal_input: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalResponse {
    pub id: String,
    /// Index of the `signal_received` event that records it.
    pub event_index: u64,
    /// Whether signal-with-start started the execution.
    #[serde(default)]
    pub started: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueryRequest {
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueryResponse {
    #[schema(value_type = Object)]
    pub output: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateRequestBody {
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
    /// Makes a retried call safe: an update id is applied once.
    #[serde(default)]
    pub update_id: Option<String>,
    /// How long to wait for the result (default 30000, at most 300000).
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UpdateResultQuery {
    #[serde(default)]
    pub wait: bool,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateResponse {
    pub update_id: String,
    /// `accepted` (recorded, handler still running) or `completed`.
    pub status: String,
    #[schema(value_type = Option<Object>)]
    pub output: Option<serde_json::Value>,
    /// The handler's typed error, when it returned one.
    pub failure: Option<Failure>,
}

impl From<crate::engine::UpdateOutcome> for UpdateResponse {
    fn from(u: crate::engine::UpdateOutcome) -> Self {
        use crate::engine::UpdateStatus;
        let (status, output, failure) = match u.status {
            UpdateStatus::Accepted => ("accepted", None, None),
            UpdateStatus::Completed(Ok(p)) => ("completed", Some(p.to_json()), None),
            UpdateStatus::Completed(Err(f)) => ("completed", None, Some(f)),
        };
        Self {
            update_id: u.update_id,
            status: status.to_owned(),
            output,
            failure,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Which run (from 1; default: the current one).
    pub run: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PollQuery {
    /// How long to wait for a task (default 20000, at most 60000).
    pub wait_ms: Option<u64>,
}

/// An activity task for an external worker.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskInfo {
    /// Answer with it: heartbeat, complete or fail.
    pub token: String,
    pub execution_id: String,
    pub activity_handle: u64,
    pub name: String,
    #[schema(value_type = Object)]
    pub input: serde_json::Value,
    pub attempt: u32,
    pub idempotency_key: String,
    /// The last heartbeat of an earlier attempt: where to resume.
    #[schema(value_type = Option<Object>)]
    pub heartbeat_details: Option<serde_json::Value>,
    pub heartbeat_timeout_ms: Option<u64>,
    pub start_to_close_timeout_ms: u64,
}

impl From<crate::engine::WorkerTask> for TaskInfo {
    fn from(t: crate::engine::WorkerTask) -> Self {
        Self {
            token: t.token,
            execution_id: t.execution_id,
            activity_handle: t.activity_handle,
            name: t.name,
            input: t.input.to_json(),
            attempt: t.attempt,
            idempotency_key: t.idempotency_key,
            heartbeat_details: t.heartbeat_details.map(|d| d.to_json()),
            heartbeat_timeout_ms: t.heartbeat_timeout_ms,
            start_to_close_timeout_ms: t.start_to_close_timeout_ms,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatRequest {
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatResponse {
    /// The activity was cancelled: stop and report.
    pub cancel_requested: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CompleteRequest {
    #[serde(default)]
    #[schema(value_type = Object)]
    pub output: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FailRequest {
    pub failure: Failure,
}
