//! Task queues for external workers: long-poll a queue, then answer each
//! task by its token.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::dto::{
    CompleteRequest, FailRequest, HeartbeatRequest, HeartbeatResponse, PollQuery, TaskInfo,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{Body, Params};
use crate::engine::{AnswerRefused, Engine};
use crate::model::Payload;

pub(super) const DEFAULT_POLL_MS: u64 = 20_000;
pub(super) const MAX_POLL_MS: u64 = 60_000;

fn stale(e: AnswerRefused) -> ApiError {
    match e {
        AnswerRefused::Stale(e) => {
            ApiError::new(StatusCode::NOT_FOUND, "stale-task-token", e.to_string())
        }
        AnswerRefused::NotYet(why) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "task-answer-not-taken",
            why,
        ),
    }
}

/// Long-poll a task queue: a task (200), recorded as taken before it is
/// returned, or nothing within `wait_ms` (204).
#[utoipa::path(
    post, path = "/v1/task-queues/{queue}/poll", tag = "workers",
    params(("queue" = String, Path, description = "task queue"), PollQuery),
    responses((status = 200, body = TaskInfo), (status = 204, description = "no task arrived"))
)]
pub async fn poll(
    State(engine): State<Engine>,
    Path(queue): Path<String>,
    Params(q): Params<PollQuery>,
    stop: Option<axum::Extension<std::sync::Arc<crate::engine::PollStop>>>,
) -> Result<Response, ApiError> {
    let wait = Duration::from_millis(q.wait_ms.unwrap_or(DEFAULT_POLL_MS).min(MAX_POLL_MS));
    // A host of several ends the wait when another host has a task.
    let stop = stop.as_ref().map(|s| s.0.as_ref());
    Ok(match engine.poll_task(&queue, wait, stop).await? {
        Some(task) => Json(TaskInfo::from(task)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// Heartbeat a task, with optional details kept for the next attempt.
#[utoipa::path(
    post, path = "/v1/tasks/{token}/heartbeat", tag = "workers",
    params(("token" = String, Path, description = "task token")),
    request_body = HeartbeatRequest,
    responses((status = 200, body = HeartbeatResponse), (status = 404, body = ErrorBody))
)]
pub async fn heartbeat(
    State(engine): State<Engine>,
    Path(token): Path<String>,
    Body(req): Body<HeartbeatRequest>,
) -> Result<Json<HeartbeatResponse>, ApiError> {
    let cancel_requested = engine
        .task_heartbeat(&token, req.details.as_ref().map(Payload::from_json))
        .await
        .map_err(stale)?;
    Ok(Json(HeartbeatResponse { cancel_requested }))
}

/// Complete a task with its output; answered once it is recorded (a worker
/// that gets no answer sends it again, to any host).
#[utoipa::path(
    post, path = "/v1/tasks/{token}/complete", tag = "workers",
    params(("token" = String, Path, description = "task token")),
    request_body = CompleteRequest,
    responses((status = 200), (status = 404, body = ErrorBody))
)]
pub async fn complete(
    State(engine): State<Engine>,
    Path(token): Path<String>,
    Body(req): Body<CompleteRequest>,
) -> Result<StatusCode, ApiError> {
    engine
        .finish_task(&token, Ok(Payload::from_json(&req.output)))
        .await
        .map_err(stale)?;
    Ok(StatusCode::OK)
}

/// Fail a task; it is retried under the activity's policy.
#[utoipa::path(
    post, path = "/v1/tasks/{token}/fail", tag = "workers",
    params(("token" = String, Path, description = "task token")),
    request_body = FailRequest,
    responses((status = 200), (status = 404, body = ErrorBody))
)]
pub async fn fail(
    State(engine): State<Engine>,
    Path(token): Path<String>,
    Body(req): Body<FailRequest>,
) -> Result<StatusCode, ApiError> {
    engine
        .finish_task(&token, Err(req.failure))
        .await
        .map_err(stale)?;
    Ok(StatusCode::OK)
}

/// The task queues this host knows of (tasks queued or running, or polled
/// since it started): backlog, running tasks, workers polling, last poll.
#[utoipa::path(get, path = "/v1/task-queues", tag = "tasks", responses((status = 200, body = super::dto::TaskQueueList)))]
pub async fn list(
    axum::extract::State(engine): axum::extract::State<crate::engine::Engine>,
) -> axum::Json<super::dto::TaskQueueList> {
    axum::Json(super::dto::TaskQueueList {
        task_queues: engine
            .task_queues()
            .into_iter()
            .map(|q| super::dto::TaskQueueInfo {
                name: q.name,
                backlog: q.backlog,
                running: q.running,
                pollers: q.pollers,
                last_poll_ms: q.last_poll_ms,
            })
            .collect(),
    })
}
