//! Signals, queries and updates of running executions.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::dto::{
    QueryRequest, QueryResponse, SignalRequest, SignalResponse, SignalWithStartRequest,
    UpdateRequestBody, UpdateResponse, UpdateResultQuery,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{Body, Params};
use crate::engine::{Engine, SignalReceipt, SignalSent};
use crate::model::Payload;

const DEFAULT_WAIT_MS: u64 = 30_000;
const MAX_WAIT_MS: u64 = 300_000;

fn receipt(r: SignalReceipt) -> (StatusCode, Json<SignalResponse>) {
    (
        StatusCode::ACCEPTED,
        Json(SignalResponse {
            id: r.id.to_string(),
            event_index: r.event_index,
            started: r.started,
            warning: r.warning,
            duplicate: r.duplicate,
        }),
    )
}

/// Send a signal: recorded in the history when this returns, delivered in
/// order. A name the workflow does not declare is recorded all the same
/// (kept until the code receives it) and the answer carries a `warning`.
#[utoipa::path(
    post, path = "/v1/executions/{id}/signals", tag = "interact",
    params(("id" = String, Path, description = "execution id")),
    request_body = SignalRequest,
    responses(
        (status = 202, body = SignalResponse),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub async fn signal(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Body(req): Body<SignalRequest>,
) -> Result<(StatusCode, Json<SignalResponse>), ApiError> {
    let r = engine
        .signal(
            &id,
            &req.name,
            Payload::from_json(&req.input),
            req.request_id.as_deref(),
        )
        .await?;
    Ok(receipt(r))
}

/// Start the execution unless it exists, then signal it.
#[utoipa::path(
    post, path = "/v1/signal-with-start", tag = "interact",
    request_body = SignalWithStartRequest,
    responses(
        (status = 202, body = SignalResponse),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub async fn signal_with_start(
    State(engine): State<Engine>,
    Body(req): Body<SignalWithStartRequest>,
) -> Result<(StatusCode, Json<SignalResponse>), ApiError> {
    let r = engine
        .signal_with_start(
            &req.workflow_type,
            &req.id,
            Payload::from_json(&req.input),
            SignalSent {
                name: &req.signal,
                input: Payload::from_json(&req.signal_input),
                request_id: req.request_id.as_deref(),
            },
            engine.start_attributes(req.search_attributes.as_ref(), req.memo.as_ref())?,
        )
        .await?;
    Ok(receipt(r))
}

/// Ask a read-only question, answered from the workflow's current state
/// (or its final state once closed). Never recorded.
#[utoipa::path(
    post, path = "/v1/executions/{id}/queries", tag = "interact",
    params(("id" = String, Path, description = "execution id")),
    request_body = QueryRequest,
    responses(
        (status = 200, body = QueryResponse),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, description = "the query handler failed", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn query(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Body(req): Body<QueryRequest>,
) -> Result<Json<QueryResponse>, ApiError> {
    let input = Payload::from_json(&req.input);
    let answer = match req.at_event {
        None => engine.query(&id, &req.name, input).await?,
        Some(at) => engine.query_at(&id, &req.name, input, at).await?,
    };
    match answer {
        Ok(output) => Ok(Json(QueryResponse {
            output: output.to_json(),
        })),
        Err(f) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "query-failed",
            format!("the query failed: {f}"),
        )),
    }
}

/// Send an update: validated first (a rejection leaves no trace), then
/// recorded and run by the workflow; answers with its result, or `accepted`
/// if it is still running after `wait_ms`.
#[utoipa::path(
    post, path = "/v1/executions/{id}/updates", tag = "interact",
    params(("id" = String, Path, description = "execution id")),
    request_body = UpdateRequestBody,
    responses(
        (status = 200, body = UpdateResponse),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 422, description = "the validator rejected it", body = ErrorBody),
        (status = 503, body = ErrorBody),
    )
)]
pub async fn update(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Body(req): Body<UpdateRequestBody>,
) -> Result<Json<UpdateResponse>, ApiError> {
    let wait = Duration::from_millis(req.wait_ms.unwrap_or(DEFAULT_WAIT_MS).min(MAX_WAIT_MS));
    let out = engine
        .update(
            &id,
            &req.name,
            Payload::from_json(&req.input),
            req.update_id.as_deref(),
            wait,
        )
        .await?;
    Ok(Json(out.into()))
}

/// Where an update stands; with `wait=true`, waits for its result.
#[utoipa::path(
    get, path = "/v1/executions/{id}/updates/{update_id}", tag = "interact",
    params(
        ("id" = String, Path, description = "execution id"),
        ("update_id" = String, Path, description = "update id"),
        UpdateResultQuery,
    ),
    responses((status = 200, body = UpdateResponse), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn update_result(
    State(engine): State<Engine>,
    Path((id, update_id)): Path<(String, String)>,
    Params(q): Params<UpdateResultQuery>,
) -> Result<Json<UpdateResponse>, ApiError> {
    let wait = if q.wait {
        Duration::from_millis(q.timeout_ms.unwrap_or(DEFAULT_WAIT_MS).min(MAX_WAIT_MS))
    } else {
        Duration::ZERO
    };
    Ok(Json(
        engine.update_result(&id, &update_id, wait).await?.into(),
    ))
}
