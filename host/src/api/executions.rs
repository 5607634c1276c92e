//! `/v1/executions`: start, list, describe, result, history.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::dto::{
    CreateSearchAttribute, EndReceipt, ExecutionCount, ExecutionDetail, ExecutionList,
    ExecutionResult, ExecutionSummary, HistoryQuery, ListQuery, LogLineInfo, LogList, LogsQuery,
    ReasonRequest, ResetRequest, ResetResponse, ResultQuery, SearchAttributeInfo,
    SearchAttributeList, StartRequest, StartResponse,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{Body, Params};
use crate::engine::{Engine, StartOptions};
use crate::model::{ExecutionStatus, HistoryExport, Payload};

const MAX_RESULT_WAIT_MS: u64 = 300_000;
/// Executions per page when the list names no `limit`.
pub(super) const DEFAULT_PAGE: usize = 100;

/// Start an execution on the workflow type's current module. A repeated
/// `request_id` answers with the run the first request started.
#[utoipa::path(
    post, path = "/v1/executions", tag = "executions",
    request_body = StartRequest,
    responses(
        (status = 201, body = StartResponse),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub async fn start(
    State(engine): State<Engine>,
    Body(req): Body<StartRequest>,
) -> Result<(StatusCode, Json<StartResponse>), ApiError> {
    let started = engine
        .start_with(
            &req.workflow_type,
            Payload::from_json(&req.input),
            StartOptions {
                id: req.id,
                request_id: req.request_id,
                reuse: req.id_reuse_policy,
                execution_timeout_ms: req.execution_timeout_ms,
                run_timeout_ms: req.run_timeout_ms,
                ..engine.start_attributes(req.search_attributes.as_ref(), req.memo.as_ref())?
            },
        )
        .await?;
    let (id, run, duplicate) = (started.id, started.run, !started.created);
    let result = match req.wait_ms {
        Some(ms) => {
            let wait = Duration::from_millis(ms.min(MAX_RESULT_WAIT_MS));
            let record = engine.result_of_run(id.as_str(), run, Some(wait)).await?;
            Some(ExecutionResult::from(&record))
        }
        None => None,
    };
    // A repeated request id answers exactly as the first request did (the
    // same status too, so a client's retry needs no special case).
    Ok((
        StatusCode::CREATED,
        Json(StartResponse {
            id: id.to_string(),
            run,
            result,
            duplicate,
        }),
    ))
}

/// Request cancellation: the workflow sees it at its next wait, its pending
/// timers and activities are cancelled and its children asked to cancel; it
/// may clean up before it ends as cancelled.
#[utoipa::path(
    post, path = "/v1/executions/{id}/cancel", tag = "executions",
    params(("id" = String, Path, description = "execution id")),
    request_body = ReasonRequest,
    responses((status = 202, body = EndReceipt), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn cancel(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Option<Json<ReasonRequest>>,
) -> Result<(StatusCode, Json<EndReceipt>), ApiError> {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let duplicate = engine
        .cancel(&id, req.reason.as_deref(), req.request_id.as_deref())
        .await?;
    Ok((StatusCode::ACCEPTED, Json(EndReceipt { duplicate })))
}

/// End the execution at once, recorded with the reason; no workflow code runs.
#[utoipa::path(
    post, path = "/v1/executions/{id}/terminate", tag = "executions",
    params(("id" = String, Path, description = "execution id")),
    request_body = ReasonRequest,
    responses((status = 200, body = EndReceipt), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn terminate(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    body: Option<Json<ReasonRequest>>,
) -> Result<Json<EndReceipt>, ApiError> {
    let req = body.map(|Json(b)| b).unwrap_or_default();
    let duplicate = engine
        .terminate(&id, req.reason.as_deref(), req.request_id.as_deref())
        .await?;
    Ok(Json(EndReceipt { duplicate }))
}

#[utoipa::path(
    get, path = "/v1/executions", tag = "executions", params(ListQuery),
    responses((status = 200, body = ExecutionList), (status = 400, body = ErrorBody))
)]
pub async fn list(
    State(engine): State<Engine>,
    Params(q): Params<ListQuery>,
) -> Result<Json<ExecutionList>, ApiError> {
    let page = engine.list_page(&filter_of(q)?)?;
    Ok(Json(ExecutionList {
        executions: page.records.iter().map(ExecutionSummary::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// What a list's parameters select.
fn filter_of(q: ListQuery) -> Result<crate::engine::ListFilter, ApiError> {
    let status = q
        .status
        .as_deref()
        .map(str::parse::<ExecutionStatus>)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(crate::engine::ListFilter {
        status,
        workflow_type: q.workflow_type,
        id_prefix: q.id_prefix,
        started_after_ms: q.started_after_ms,
        started_before_ms: q.started_before_ms,
        closed_after_ms: q.closed_after_ms,
        closed_before_ms: q.closed_before_ms,
        query: q.query,
        limit: q.limit.unwrap_or(DEFAULT_PAGE),
        cursor: q.cursor,
    })
}

/// How many executions a list with these parameters would show, over all
/// its pages (`limit` and `cursor` are ignored): Temporal's workflow count.
#[utoipa::path(
    get, path = "/v1/execution-count", tag = "executions", params(ListQuery),
    responses((status = 200, body = ExecutionCount), (status = 400, body = ErrorBody))
)]
pub async fn count(
    State(engine): State<Engine>,
    Params(q): Params<ListQuery>,
) -> Result<Json<ExecutionCount>, ApiError> {
    let count = engine.count(&filter_of(q)?)?;
    Ok(Json(ExecutionCount { count }))
}

/// The search attributes list queries may name: the system ones and every
/// custom one this host has recorded, with their types.
#[utoipa::path(
    get, path = "/v1/search-attributes", tag = "executions",
    responses((status = 200, body = SearchAttributeList))
)]
pub async fn search_attributes(State(engine): State<Engine>) -> Json<SearchAttributeList> {
    let system = crate::model::search::SYSTEM_ATTRIBUTES
        .iter()
        .map(|(name, t)| SearchAttributeInfo {
            name: (*name).to_owned(),
            search_type: *t,
            system: true,
        });
    let custom = engine
        .search_attribute_types()
        .into_iter()
        .map(|(name, t)| SearchAttributeInfo {
            name,
            search_type: t,
            system: false,
        });
    Json(SearchAttributeList {
        attributes: system.chain(custom).collect(),
    })
}

/// Register a custom search attribute with its type, so that starts may
/// give it and queries name it before any workflow sets it. 201 when new,
/// 200 when it has that type already, 409 when it has another.
#[utoipa::path(
    post, path = "/v1/search-attributes", tag = "executions",
    request_body = CreateSearchAttribute,
    responses(
        (status = 201, body = SearchAttributeInfo), (status = 200, body = SearchAttributeInfo),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub async fn create_search_attribute(
    State(engine): State<Engine>,
    Body(req): Body<CreateSearchAttribute>,
) -> Result<(StatusCode, Json<SearchAttributeInfo>), ApiError> {
    let new = engine
        .create_search_attribute(&req.name, req.search_type)
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(SearchAttributeInfo {
            name: req.name,
            search_type: req.search_type,
            system: false,
        }),
    ))
}

/// Forget a custom search attribute: it may be created again with any
/// type. Values recorded under it stay on their executions.
#[utoipa::path(
    delete, path = "/v1/search-attributes/{name}", tag = "executions",
    params(("name" = String, Path, description = "attribute name")),
    responses((status = 204), (status = 404, body = ErrorBody))
)]
pub async fn remove_search_attribute(
    State(engine): State<Engine>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    engine.remove_search_attribute(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/v1/executions/{id}", tag = "executions",
    params(("id" = String, Path, description = "execution id")),
    responses((status = 200, body = ExecutionDetail), (status = 404, body = ErrorBody))
)]
pub async fn describe(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<ExecutionDetail>, ApiError> {
    let view = engine.describe(&id)?;
    let version = engine.version_of(&view.record);
    let mut detail = ExecutionDetail::from(view);
    detail.version = version;
    Ok(Json(detail))
}

/// Run the execution again from event `to_event`: later events are
/// discarded (and kept in an `execution_reset` event). The kept events must
/// replay cleanly on the module it will run.
#[utoipa::path(
    post, path = "/v1/executions/{id}/reset", tag = "executions",
    params(("id" = String, Path, description = "execution id")),
    request_body = ResetRequest,
    responses(
        (status = 200, body = ResetResponse),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub async fn reset(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Body(req): Body<ResetRequest>,
) -> Result<Json<ResetResponse>, ApiError> {
    let version = req.version.map(|v| v.to_string());
    let report = engine
        .reset(
            &id,
            req.to_event,
            version.as_deref(),
            req.reason,
            req.exclude_signals,
            req.request_id,
        )
        .await?;
    Ok(Json(ResetResponse {
        id: report.id.to_string(),
        to_event: report.to_event,
        discarded: report.discarded,
        version: report.version.map(|v| v.version),
        duplicate: report.duplicate,
    }))
}

/// The execution's result; with `wait=true`, blocks until it settles or the
/// timeout passes (then `status` is still `running`).
#[utoipa::path(
    get, path = "/v1/executions/{id}/result", tag = "executions",
    params(("id" = String, Path, description = "execution id"), ResultQuery),
    responses((status = 200, body = ExecutionResult), (status = 404, body = ErrorBody))
)]
pub async fn result(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Params(q): Params<ResultQuery>,
) -> Result<Json<ExecutionResult>, ApiError> {
    let wait = q
        .wait
        .then(|| Duration::from_millis(q.timeout_ms.unwrap_or(30_000).min(MAX_RESULT_WAIT_MS)));
    let record = match q.run {
        Some(run) => engine.result_of_run(&id, run, wait).await?,
        None => engine.result(&id, wait).await?,
    };
    Ok(Json(ExecutionResult::from(&record)))
}

/// The event history, in the format `weft replay` reads.
#[utoipa::path(
    get, path = "/v1/executions/{id}/history", tag = "executions",
    params(("id" = String, Path, description = "execution id"), HistoryQuery),
    responses((status = 200, description = "a `weft-history/1` document", body = Object), (status = 404, body = ErrorBody))
)]
pub async fn history(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Params(q): Params<HistoryQuery>,
) -> Result<Json<HistoryExport>, ApiError> {
    let (record, mut events) = engine.history(&id, q.run)?;
    // The module the run's code is on: the current run's (what an upgrade
    // moved it to, after replaying the whole history on it), or where an
    // earlier run ended.
    let current = events.first().is_none_or(|e| e.index == record.run_start);
    let module = match current {
        true => record.module,
        false => crate::model::run_module(&events).unwrap_or(record.module),
    }
    .to_string();
    // A page: the run's module is decided on the whole run above.
    if q.from.is_some() || q.limit.is_some() {
        let from = q.from.unwrap_or(0).min(events.len());
        let limit = q.limit.unwrap_or(usize::MAX);
        events = events.into_iter().skip(from).take(limit).collect();
    }
    Ok(Json(HistoryExport {
        format: HistoryExport::FORMAT.to_owned(),
        execution_id: record.id.to_string(),
        workflow_type: record.workflow_type.to_string(),
        module,
        events,
    }))
}

/// Delete a closed execution and its history now (its retention would, later).
#[utoipa::path(
    delete, path = "/v1/executions/{id}", tag = "executions",
    params(("id" = String, Path, description = "execution id")),
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn delete(
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    engine.delete(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the workflow and its activities said lately (their log lines and
/// output; kept in the host's memory, the last 100,000 lines of all
/// executions): poll with `after` and `wait_ms` to follow.
#[utoipa::path(
    get, path = "/v1/executions/{id}/logs", tag = "executions",
    params(("id" = String, Path, description = "execution id"), LogsQuery),
    responses((status = 200, body = LogList), (status = 404, body = ErrorBody))
)]
pub async fn logs(
    State(engine): State<Engine>,
    Path(id): Path<String>,
    Params(q): Params<LogsQuery>,
) -> Result<Json<LogList>, ApiError> {
    let wait = q
        .wait_ms
        .filter(|w| *w > 0)
        .map(|w| Duration::from_millis(w.min(60_000)));
    let lines = engine
        .logs(&id, q.after.unwrap_or(0), wait)
        .await?
        .into_iter()
        .map(|l| LogLineInfo {
            seq: l.seq,
            at_ms: l.at_ms,
            source: l.source,
            level: l.level.to_owned(),
            line: l.line,
        })
        .collect();
    Ok(Json(LogList { lines }))
}
