//! `/v1/schedules`: create, list, describe, update, pause, unpause,
//! trigger, backfill and delete schedules.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::dto::{
    BackfillRequest, BackfillResponse, CreateSchedule, PauseRequest, ScheduleDetail, ScheduleList,
    TriggerRequest, UnreadableSchedule, UpdateScheduleQuery,
};
use super::error::{ApiError, ErrorBody};
use super::extract::{Body, Params};
use crate::engine::schedules::Triggered;
use crate::engine::Engine;
use crate::model::schedule::Schedule;

/// Create a schedule: it acts from now on (nothing before its creation is
/// caught up).
#[utoipa::path(
    post, path = "/v1/schedules", tag = "schedules", request_body = CreateSchedule,
    responses(
        (status = 201, body = ScheduleDetail),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
    )
)]
pub async fn create(
    State(engine): State<Engine>,
    Body(req): Body<CreateSchedule>,
) -> Result<(StatusCode, Json<ScheduleDetail>), ApiError> {
    let (name, schedule) = req.split();
    let view = engine.create_schedule(&name, schedule).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

#[utoipa::path(get, path = "/v1/schedules", tag = "schedules", responses((status = 200, body = ScheduleList)))]
pub async fn list(State(engine): State<Engine>) -> Result<Json<ScheduleList>, ApiError> {
    let (schedules, unreadable) = engine.list_schedules()?;
    Ok(Json(ScheduleList {
        schedules: schedules.into_iter().map(Into::into).collect(),
        unreadable: unreadable
            .into_iter()
            .map(|(name, error)| UnreadableSchedule { name, error })
            .collect(),
    }))
}

/// A schedule: spec, policies, paused state and note, the executions it
/// runs, its last 10 actions and its next 10 times.
#[utoipa::path(
    get, path = "/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path)),
    responses((status = 200, body = ScheduleDetail), (status = 404, body = ErrorBody))
)]
pub async fn describe(
    State(engine): State<Engine>,
    Path(name): Path<String>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    Ok(Json(engine.describe_schedule(&name)?.into()))
}

/// Replace a schedule's spec, action and policies (and its remaining
/// actions, if given); where it stands (cursor, running, paused) is kept.
#[utoipa::path(
    put, path = "/v1/schedules/{name}", tag = "schedules", request_body = Schedule,
    params(("name" = String, Path), UpdateScheduleQuery),
    responses((status = 200, body = ScheduleDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody))
)]
pub async fn update(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Params(q): Params<UpdateScheduleQuery>,
    Body(schedule): Body<Schedule>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    let token = q.conflict_token.as_deref();
    Ok(Json(
        engine.update_schedule(&name, schedule, token).await?.into(),
    ))
}

/// Delete a schedule; the executions it started run on.
#[utoipa::path(
    delete, path = "/v1/schedules/{name}", tag = "schedules",
    params(("name" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody))
)]
pub async fn delete(
    State(engine): State<Engine>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    engine.delete_schedule(&name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pause: no scheduled action until unpaused (the times in between are
/// dropped); triggers and backfills still act.
#[utoipa::path(
    post, path = "/v1/schedules/{name}/pause", tag = "schedules", request_body = PauseRequest,
    params(("name" = String, Path)),
    responses((status = 200, body = ScheduleDetail), (status = 404, body = ErrorBody))
)]
pub async fn pause(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    body: Option<Json<PauseRequest>>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    let note = body.and_then(|Json(b)| b.note);
    Ok(Json(engine.pause_schedule(&name, true, note).await?.into()))
}

#[utoipa::path(
    post, path = "/v1/schedules/{name}/unpause", tag = "schedules", request_body = PauseRequest,
    params(("name" = String, Path)),
    responses((status = 200, body = ScheduleDetail), (status = 404, body = ErrorBody))
)]
pub async fn unpause(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    body: Option<Json<PauseRequest>>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    let note = body.and_then(|Json(b)| b.note);
    Ok(Json(
        engine.pause_schedule(&name, false, note).await?.into(),
    ))
}

/// Take the action now (through the overlap policy), paused or not.
#[utoipa::path(
    post, path = "/v1/schedules/{name}/trigger", tag = "schedules", request_body = TriggerRequest,
    params(("name" = String, Path)),
    responses((status = 200, body = ScheduleDetail), (status = 404, body = ErrorBody))
)]
pub async fn trigger(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    body: Option<Json<TriggerRequest>>,
) -> Result<Json<ScheduleDetail>, ApiError> {
    let (overlap, request_id) = body.map_or((None, None), |Json(b)| (b.overlap, b.request_id));
    let (view, triggered) = engine
        .trigger_schedule(&name, overlap, request_id.as_deref())
        .await?;
    let (duplicate, trigger_ms) = match triggered {
        Triggered::Duplicate => (true, None),
        Triggered::At(ms) => (false, Some(ms)),
    };
    Ok(Json(ScheduleDetail {
        duplicate,
        trigger_ms,
        ..view.into()
    }))
}

/// Take the actions of the times the spec names in a past range (at most
/// 1,000), each through the overlap policy.
#[utoipa::path(
    post, path = "/v1/schedules/{name}/backfill", tag = "schedules", request_body = BackfillRequest,
    params(("name" = String, Path)),
    responses((status = 200, body = BackfillResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn backfill(
    State(engine): State<Engine>,
    Path(name): Path<String>,
    Body(req): Body<BackfillRequest>,
) -> Result<Json<BackfillResponse>, ApiError> {
    let (view, queued) = engine
        .backfill_schedule(
            &name,
            (req.start_ms, req.end_ms),
            req.overlap,
            req.request_id.as_deref(),
        )
        .await?;
    Ok(Json(BackfillResponse {
        queued: queued.unwrap_or(0),
        duplicate: queued.is_none(),
        schedule: view.into(),
    }))
}
