//! The JSON shapes of the API, with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::engine::ExecutionView;
use crate::model::{ExecutionRecord, ExecutionStatus, Failure, ModuleKind, ModuleMeta, Payload};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleInfo {
    /// sha-256 of the component, hex.
    pub hash: String,
    pub kind: ModuleKind,
    pub workflow_type: Option<String>,
    pub activities: Vec<String>,
    pub size_bytes: u64,
}

impl From<ModuleMeta> for ModuleInfo {
    fn from(m: ModuleMeta) -> Self {
        Self {
            hash: m.hash.to_string(),
            kind: m.kind,
            workflow_type: m.workflow_type.map(|t| t.to_string()),
            activities: m.activities,
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
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct StartResponse {
    pub id: String,
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
}

impl From<ExecutionView> for ExecutionDetail {
    fn from(v: ExecutionView) -> Self {
        Self {
            summary: ExecutionSummary::from(&v.record),
            input: v.record.input.to_json(),
            output: v.record.output.as_ref().map(Payload::to_json),
            failure: v.record.failure.clone(),
            stall_reason: v.record.stall_reason.clone(),
            history_length: v.history_length,
            cached: v.cached,
            pending_activities: v
                .pending_activities
                .into_iter()
                .map(|t| PendingActivity {
                    handle: t.handle,
                    name: t.name,
                    attempt: t.attempt,
                })
                .collect(),
            pending_timers: v
                .pending_timers
                .into_iter()
                .map(|(handle, fire_at_ms)| PendingTimer { handle, fire_at_ms })
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
