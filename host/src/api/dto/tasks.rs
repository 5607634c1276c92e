//! Task queues: external workers poll, heartbeat and answer.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::model::Failure;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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
    #[schema(value_type = Value)]
    pub input: serde_json::Value,
    pub attempt: u32,
    pub idempotency_key: String,
    /// The last heartbeat of an earlier attempt: where to resume.
    #[schema(value_type = Option<Value>)]
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
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HeartbeatResponse {
    /// The activity was cancelled: stop and report.
    pub cancel_requested: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    #[serde(default)]
    #[schema(value_type = Value)]
    pub output: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FailRequest {
    pub failure: Failure,
}

/// A task queue as this host sees it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskQueueInfo {
    pub name: String,
    /// Tasks waiting for a worker.
    pub backlog: usize,
    /// Tasks a worker took and has not answered yet.
    pub running: usize,
    /// Workers polling it now.
    pub pollers: usize,
    /// When a worker last polled it (ms since the Unix epoch).
    pub last_poll_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaskQueueList {
    pub task_queues: Vec<TaskQueueInfo>,
}
