//! `/v1/clock`: read host time, and move it on a `--manual-clock` host.

use axum::extract::State;
use axum::Json;

use super::dto::{AdvanceRequest, ClockInfo, SkipInfo, SkipRequest};
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

/// The longest a skip waits for the host to be idle.
const SKIP_WAIT_LIMIT_MS: u64 = 60_000;

/// Time skipping: once no workflow task and no activity attempt runs, move
/// the manual clock to the next timer, retry backoff or schedule trigger.
#[utoipa::path(
    post, path = "/v1/clock/skip", tag = "clock", request_body = SkipRequest,
    responses((status = 200, body = SkipInfo), (status = 409, body = ErrorBody))
)]
pub async fn skip(
    State(engine): State<Engine>,
    Body(req): Body<SkipRequest>,
) -> Result<Json<SkipInfo>, ApiError> {
    let wait = req.wait_ms.unwrap_or(2_000).min(SKIP_WAIT_LIMIT_MS);
    let done = engine
        .skip_clock(req.limit_ms, std::time::Duration::from_millis(wait))
        .await?;
    Ok(Json(SkipInfo {
        now_ms: done.now_ms,
        skipped_ms: done.skipped_ms,
        held: done.held.map(|h| h.code().to_owned()),
        reason: done.held.map(|h| h.to_string()),
    }))
}
