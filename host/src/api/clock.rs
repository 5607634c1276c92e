//! `/v1/clock`: read host time, and move it on a `--manual-clock` host.

use axum::extract::State;
use axum::Json;

use super::dto::{AdvanceRequest, ClockInfo};
use super::error::{ApiError, ErrorBody};
use super::extract::Body;
use crate::engine::Engine;

#[utoipa::path(get, path = "/v1/clock", tag = "clock", responses((status = 200, body = ClockInfo)))]
pub async fn get(State(engine): State<Engine>) -> Json<ClockInfo> {
    Json(ClockInfo {
        now_ms: engine.clock().now_ms(),
        manual: engine.clock().is_manual(),
    })
}

/// Skip time forward: due timers fire and retry backoffs elapse at once.
#[utoipa::path(
    post, path = "/v1/clock/advance", tag = "clock", request_body = AdvanceRequest,
    responses((status = 200, body = ClockInfo), (status = 409, body = ErrorBody))
)]
pub async fn advance(
    State(engine): State<Engine>,
    Body(req): Body<AdvanceRequest>,
) -> Result<Json<ClockInfo>, ApiError> {
    let now_ms = engine.advance_clock(req.ms).await?;
    Ok(Json(ClockInfo {
        now_ms,
        manual: true,
    }))
}
