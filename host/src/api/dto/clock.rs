//! The host clock.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClockInfo {
    pub now_ms: u64,
    pub manual: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdvanceRequest {
    pub ms: u64,
}

/// `POST /v1/clock/skip`: once the host is idle, move the manual clock to
/// the next time something waits for.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkipRequest {
    /// Not past this time (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_ms: Option<u64>,
    /// How long to wait for the host to be idle (default 2,000, at most
    /// 60,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SkipInfo {
    /// The clock after the skip.
    pub now_ms: u64,
    /// How far it moved: 0 when it did not.
    pub skipped_ms: u64,
    /// Why it did not move: `limit` (idle at the limit), `nothing-waits`
    /// (idle, and nothing waits for time), `busy` (an activity attempt or a
    /// workflow task kept running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
    /// The same, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
