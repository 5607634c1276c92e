//! Schedules.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::model::schedule::{
    OverlapPolicy, Schedule, ScheduleAction, SchedulePolicies, ScheduleSpec, ScheduleState,
};

/// A new schedule: its name and what `PUT /v1/schedules/{name}` takes.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    /// 1-100 ASCII letters, digits, '-', '_' or '.'.
    pub name: String,
    pub spec: ScheduleSpec,
    pub action: ScheduleAction,
    #[serde(default)]
    pub policies: SchedulePolicies,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub remaining_actions: Option<u64>,
}

impl CreateSchedule {
    pub fn split(self) -> (String, Schedule) {
        (
            self.name,
            Schedule {
                spec: self.spec,
                action: self.action,
                policies: self.policies,
                paused: self.paused,
                note: self.note,
                remaining_actions: self.remaining_actions,
            },
        )
    }
}

/// One of a schedule's next times.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NextTime {
    /// The time the spec names (the started execution's id carries it).
    pub nominal_ms: u64,
    /// When the action is taken: the nominal time plus its jitter.
    pub at_ms: u64,
}

/// A schedule and where it stands.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScheduleDetail {
    pub name: String,
    pub spec: ScheduleSpec,
    pub action: ScheduleAction,
    pub policies: SchedulePolicies,
    /// Paused, note, remaining actions, the cursor, the actions waiting and
    /// running, the last 10 actions with their outcomes, and counters.
    pub state: ScheduleState,
    pub next_times: Vec<NextTime>,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// Names the definition as read: `PUT /v1/schedules/{name}?conflict_token=T`
    /// is refused (409) once it changed since.
    #[serde(default)]
    pub conflict_token: String,
    /// A trigger's answer: it was sent before with its request id, and
    /// took no second action.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
    /// A trigger's answer: the time its action took (its execution's id is
    /// `<prefix>-<that time>`; `state.recent` says what became of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_ms: Option<u64>,
}

impl From<crate::engine::schedules::ScheduleView> for ScheduleDetail {
    fn from(v: crate::engine::schedules::ScheduleView) -> Self {
        let r = v.record;
        let conflict_token = r.schedule.conflict_token();
        Self {
            name: r.name,
            spec: r.schedule.spec,
            action: r.schedule.action,
            policies: r.schedule.policies,
            state: r.state,
            next_times: v
                .next_times
                .into_iter()
                .map(|(nominal_ms, at_ms)| NextTime { nominal_ms, at_ms })
                .collect(),
            created_at_ms: r.created_at_ms,
            updated_at_ms: r.updated_at_ms,
            conflict_token,
            duplicate: false,
            trigger_ms: None,
        }
    }
}

/// `PUT /v1/schedules/{name}`'s query.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpdateScheduleQuery {
    /// The `conflict_token` a describe answered: the update is refused
    /// (409) if the schedule's definition changed since.
    pub conflict_token: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScheduleList {
    pub schedules: Vec<ScheduleDetail>,
    /// Schedules whose stored record this host cannot read (damaged, or
    /// written by a newer weft): they take no action until repaired or
    /// deleted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<UnreadableSchedule>,
}

/// A schedule whose stored record cannot be read, and why.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UnreadableSchedule {
    pub name: String,
    pub error: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerRequest {
    /// This action's overlap policy (default: the schedule's).
    #[serde(default)]
    pub overlap: Option<OverlapPolicy>,
    /// Makes a retry safe: a trigger with this id (1-200 characters) acts
    /// once; sent again, it takes no action and answers `duplicate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// The first time of the range (ms since the Unix epoch, inclusive).
    pub start_ms: u64,
    /// The last (inclusive).
    pub end_ms: u64,
    #[serde(default)]
    pub overlap: Option<OverlapPolicy>,
    /// Makes a retry safe: a backfill with this id (1-200 characters) acts
    /// once; sent again, it queues nothing and answers `duplicate`. Ids of
    /// triggers and backfills are one list (the schedule's last 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BackfillResponse {
    /// How many times of the range were queued (at most 1,000; 0 for a
    /// duplicate).
    pub queued: usize,
    /// An earlier backfill with this `request_id` queued the range already.
    #[serde(default)]
    pub duplicate: bool,
    pub schedule: ScheduleDetail,
}
