//! Schedules: named, durable objects that start workflows on a calendar or an
//! interval. Plain data; the times a spec names are computed in
//! `engine/schedules/spec.rs`, the actions taken in `engine/schedules/`.
//!
//! What is stored is forever: fields are only added, with defaults.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a user gives to create or update a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    pub spec: ScheduleSpec,
    pub action: ScheduleAction,
    #[serde(default)]
    pub policies: SchedulePolicies,
    /// Create it paused (no scheduled actions until unpaused).
    #[serde(default)]
    pub paused: bool,
    /// Why it is paused, or anything an operator wants to say.
    #[serde(default)]
    pub note: Option<String>,
    /// Take at most this many scheduled actions, then stop (triggers and
    /// backfills do not count).
    #[serde(default)]
    pub remaining_actions: Option<u64>,
}

impl Schedule {
    /// Names this definition (spec, action, policies, pause and note): an
    /// update that names the token it read is refused once another change
    /// came in between, instead of overwriting it.
    pub fn conflict_token(&self) -> String {
        use sha2::Digest;
        let bytes = serde_json::to_vec(self).unwrap_or_default();
        hex::encode(&sha2::Sha256::digest(bytes)[..8])
    }
}

/// When a schedule acts: the union of its cron strings, intervals and
/// calendars, minus its exclusions, between `start_at_ms` and `end_at_ms`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Cron strings: 5 fields (minute hour day-of-month month day-of-week),
    /// 6 (seconds first) or 7 (and year last); `@hourly`, `@daily`,
    /// `@weekly`, `@monthly`, `@yearly`; `@every 15m` or `@every 1h 5m`
    /// (an interval, with an offset).
    #[serde(default)]
    pub cron: Vec<String>,
    #[serde(default)]
    pub intervals: Vec<IntervalSpec>,
    #[serde(default)]
    pub calendars: Vec<CalendarSpec>,
    /// Times matching one of these cron strings are skipped.
    #[serde(default)]
    pub exclude_cron: Vec<String>,
    /// Times matching one of these calendars are skipped.
    #[serde(default)]
    pub exclude_calendars: Vec<CalendarSpec>,
    /// No action before this time (ms since the Unix epoch).
    #[serde(default)]
    pub start_at_ms: Option<u64>,
    /// No action after this time.
    #[serde(default)]
    pub end_at_ms: Option<u64>,
    /// Each action is delayed by up to this much, the same delay for the
    /// same schedule and time (so a restart does not move it).
    #[serde(default)]
    pub jitter_ms: u64,
    /// The IANA time zone cron strings and calendars are read in (default
    /// UTC). Clock times are literal: a time a daylight-saving change skips
    /// does not happen that day, a time it repeats happens twice.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// Every `every_ms`, counted from the Unix epoch plus `offset_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IntervalSpec {
    pub every_ms: u64,
    #[serde(default)]
    pub offset_ms: u64,
}

/// A calendar: each field in cron syntax (`9-17`, `*/15`, `1,15`, `mon-fri`,
/// `*`). Defaults: second 0, minute 0, hour 0, every day, month and year.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    #[serde(default)]
    pub second: Option<String>,
    #[serde(default)]
    pub minute: Option<String>,
    #[serde(default)]
    pub hour: Option<String>,
    #[serde(default)]
    pub day_of_month: Option<String>,
    #[serde(default)]
    pub month: Option<String>,
    #[serde(default)]
    pub day_of_week: Option<String>,
    #[serde(default)]
    pub year: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

/// What a schedule does at each time: start a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleAction {
    pub workflow_type: String,
    /// The input (any JSON; default null).
    #[serde(default)]
    pub input: serde_json::Value,
    /// Start on this version of the type (default: its current one at each
    /// action).
    #[serde(default)]
    pub version: Option<u32>,
    /// The started execution's id is `<id_prefix>-<nominal time>`, for
    /// example `nightly-2026-11-30T02:00:00Z` (default prefix: the
    /// schedule's name).
    #[serde(default)]
    pub id_prefix: Option<String>,
    #[serde(default)]
    pub execution_timeout_ms: Option<u64>,
    #[serde(default)]
    pub run_timeout_ms: Option<u64>,
    /// Search attributes each started execution starts with, as `POST
    /// /v1/executions` takes them (names the host knows; a value takes its
    /// name's type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub search_attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Memo fields each started execution starts with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub memo: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What happens when a time comes while an earlier action still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OverlapPolicy {
    /// Do not start; the time is dropped.
    #[default]
    Skip,
    /// Start once the running one closed; keep at most one waiting.
    BufferOne,
    /// Start each once the one before closed (at most 1,000 waiting).
    BufferAll,
    /// Ask the running one to cancel, start once it closed.
    CancelOther,
    /// Terminate the running one and start at once.
    TerminateOther,
    /// Start anyway.
    AllowAll,
}

impl OverlapPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::BufferOne => "buffer-one",
            Self::BufferAll => "buffer-all",
            Self::CancelOther => "cancel-other",
            Self::TerminateOther => "terminate-other",
            Self::AllowAll => "allow-all",
        }
    }
}

/// Most actions waiting under `buffer-all`.
pub const BUFFER_CAP: usize = 1_000;
/// How many trigger request ids a schedule keeps (see
/// `ScheduleState::trigger_requests`).
pub const TRIGGER_REQUESTS_KEPT: usize = 100;
/// Default catch-up window: a year, as Temporal's.
pub const DEFAULT_CATCHUP_MS: u64 = 365 * 24 * 3_600_000;
/// Shortest catch-up window.
pub const MIN_CATCHUP_MS: u64 = 10_000;

fn default_catchup() -> u64 {
    DEFAULT_CATCHUP_MS
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchedulePolicies {
    #[serde(default)]
    pub overlap: OverlapPolicy,
    /// After an outage, times at most this old are still acted on (through
    /// the overlap policy); older ones are skipped and counted. At least
    /// 10 s; default a year.
    #[serde(default = "default_catchup")]
    pub catchup_window_ms: u64,
    /// Pause when an execution it started fails, times out or is
    /// terminated.
    #[serde(default)]
    pub pause_on_failure: bool,
}

impl Default for SchedulePolicies {
    fn default() -> Self {
        Self {
            overlap: OverlapPolicy::Skip,
            catchup_window_ms: DEFAULT_CATCHUP_MS,
            pause_on_failure: false,
        }
    }
}

/// How an action came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    Scheduled,
    Trigger,
    Backfill,
}

/// An action waiting to be taken (its overlap policy holds it back, or it
/// was queued and not started yet).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PendingAction {
    pub nominal_ms: u64,
    pub kind: ActionKind,
    /// The overlap policy of this action when it is not the schedule's (a
    /// trigger or backfill may give its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<OverlapPolicy>,
}

/// One action the schedule took or dropped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActionRecord {
    pub nominal_ms: u64,
    /// When it was taken (host clock).
    pub at_ms: u64,
    pub kind: ActionKind,
    /// The execution started, if one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// `running`, then how the execution ended (`completed`, `failed`, ...);
    /// or why nothing started (`skipped: ...`).
    pub outcome: String,
}

/// Most recent actions kept in a schedule's record.
pub const RECENT_ACTIONS: usize = 10;

/// Where a schedule stands: kept with it, changed by its actions.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct ScheduleState {
    pub paused: bool,
    #[serde(default)]
    pub note: Option<String>,
    #[serde(default)]
    pub remaining_actions: Option<u64>,
    /// Every nominal time up to here has been considered: none is
    /// considered twice (the cursor moves in the transaction that queues or
    /// starts what it passed).
    pub cursor_ms: u64,
    #[serde(default)]
    pub pending: Vec<PendingAction>,
    /// The executions it started that were not seen closed yet.
    #[serde(default)]
    pub running: Vec<String>,
    /// Its last actions, oldest first.
    #[serde(default)]
    pub recent: Vec<ActionRecord>,
    #[serde(default)]
    pub actions_taken: u64,
    /// Times older than the catch-up window when the host came to them.
    #[serde(default)]
    pub missed_catchup: u64,
    /// Times dropped by the overlap policy.
    #[serde(default)]
    pub skipped_overlap: u64,
    /// The request ids of its last triggers (up to 100, oldest first): a
    /// trigger sent again with one takes no second action.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trigger_requests: Vec<String>,
    /// The time its last trigger took (its execution's id): the next one
    /// takes a later time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_trigger_ms: Option<u64>,
}

/// A schedule as the store keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScheduleRecord {
    pub name: String,
    pub schedule: Schedule,
    pub state: ScheduleState,
    /// Bumped by every write; a write names the revision it read.
    pub revision: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

impl ScheduleRecord {
    /// Keeps `action` among the recent ones (the last [`RECENT_ACTIONS`]).
    pub fn record_action(&mut self, action: ActionRecord) {
        self.state.recent.push(action);
        let extra = self.state.recent.len().saturating_sub(RECENT_ACTIONS);
        self.state.recent.drain(..extra);
    }

    /// The overlap policy an action is taken under.
    pub fn overlap_of(&self, action: &PendingAction) -> OverlapPolicy {
        action.overlap.unwrap_or(self.schedule.policies.overlap)
    }
}
