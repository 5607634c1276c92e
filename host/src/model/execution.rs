//! Executions and modules as the store keeps them.

use serde::{Deserialize, Serialize};

use super::{ExecutionId, Failure, ModelError, ModuleHash, Payload, TypeName};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ExecutionStatus {
    Running,
    Completed,
    Failed,
    /// Stopped by a trap, a limit or a nondeterminism error; a fixed module can
    /// resume it, so it is never silently failed.
    Stalled,
    /// Ended after a cancellation request, once its cleanup ran.
    Cancelled,
    /// Ended at once by an operator (or a limit); no workflow code ran.
    Terminated,
}

impl ExecutionStatus {
    /// Whether the execution has a result to hand out (stalled included: it
    /// will not move again without an operator).
    pub fn is_settled(self) -> bool {
        !matches!(self, Self::Running)
    }

    /// Ended for good: completed, failed, cancelled or terminated.
    pub fn is_closed(self) -> bool {
        !matches!(self, Self::Running | Self::Stalled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Stalled => "stalled",
            Self::Cancelled => "cancelled",
            Self::Terminated => "terminated",
        }
    }
}

impl std::str::FromStr for ExecutionStatus {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "running" => Ok(Self::Running),
            "completed" => Ok(Self::Completed),
            "failed" => Ok(Self::Failed),
            "stalled" => Ok(Self::Stalled),
            "cancelled" => Ok(Self::Cancelled),
            "terminated" => Ok(Self::Terminated),
            other => Err(ModelError::InvalidStatus(other.to_owned())),
        }
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The row that indexes an execution; its history lives beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub id: ExecutionId,
    pub workflow_type: TypeName,
    /// The module this execution is pinned to.
    pub module: ModuleHash,
    pub status: ExecutionStatus,
    // The fields every append checks (`store::history::Head`) come before
    // the input and the output, which may be megabytes: that check stops
    // reading the record once it has them.
    /// Bumped by every reset and every new run; work started before (an
    /// activity attempt, a timer) is dropped when it reports back.
    #[serde(default)]
    pub resets: u32,
    /// The run of this workflow id, from 1: continue-as-new and a start that
    /// reuses a closed id begin a new run in the same history.
    #[serde(default = "first_run")]
    pub run: u32,
    /// The index of the current run's `execution_started` event.
    #[serde(default)]
    pub run_start: u64,
    /// The run this execution began with: the start's (continue-as-new
    /// keeps it; a start reusing a closed id begins another execution).
    /// Absent from records written before 2026-12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub began_at_run: Option<u32>,
    /// Set once a cancellation was requested.
    #[serde(default)]
    pub cancel_requested: bool,
    pub created_at_ms: u64,
    pub closed_at_ms: Option<u64>,
    pub input: Payload,
    pub output: Option<Payload>,
    pub failure: Option<Failure>,
    pub stall_reason: Option<String>,
    /// The idempotency key of the start request that created this run.
    #[serde(default)]
    pub request_id: Option<String>,
    /// The execution and command that started this one as a child.
    #[serde(default)]
    pub parent: Option<ParentLink>,
    /// The execution times out then (workflow time, ms), across its runs:
    /// it is terminated, no code runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_deadline_ms: Option<u64>,
    /// Each run may last this long (ms of workflow time) before it times
    /// out; a new run (continue-as-new) gets it afresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_timeout_ms: Option<u64>,
    /// Its search attributes now: the run's start's, then each upsert of
    /// its history applied in order (written with the event that changes
    /// them).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub search_attributes: super::search::SearchAttributes,
    /// Its memo now, kept the same way.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub memo: super::search::Memo,
}

/// The timer handle of an execution's deadline (beside the run's own
/// timers, whose handles count from 1).
pub const EXECUTION_DEADLINE: u64 = u64::MAX;
/// The timer handle of the current run's deadline.
pub const RUN_DEADLINE: u64 = u64::MAX - 1;

impl ExecutionRecord {
    /// The timer rows `(due, handle)` of its deadlines, if it has any.
    pub fn deadline_rows(&self) -> Vec<(u64, u64)> {
        let mut rows = Vec::new();
        if let Some(d) = self.execution_deadline_ms {
            rows.push((d, EXECUTION_DEADLINE));
        }
        if let Some(d) = self.run_deadline_ms() {
            rows.push((d, RUN_DEADLINE));
        }
        rows
    }

    /// When the current run times out: `run_timeout_ms` after it started
    /// (`created_at_ms` is the run's start).
    pub fn run_deadline_ms(&self) -> Option<u64> {
        self.run_timeout_ms
            .map(|t| self.created_at_ms.saturating_add(t))
    }
}

fn first_run() -> u32 {
    1
}

/// What a start with the id of a closed execution does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IdReusePolicy {
    /// A new run begins under the id, after the closed one in its history.
    #[default]
    AllowDuplicate,
    /// Only if the last run did not complete (failed, cancelled, terminated).
    AllowDuplicateFailedOnly,
    /// Never: the id stays taken.
    RejectDuplicate,
}

/// What cancelling an activity or a child does to the workflow's wait on
/// it (see the WIT's `cancellation-type`). Recorded with the command; an
/// activity without one is `try-cancel`, a child without one
/// `wait-cancellation-completed` (what each did before the choice existed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CancellationType {
    /// The handle completes `cancelled` at once; the activity is told (a
    /// child asked) and gets a grace period.
    TryCancel,
    /// The handle completes when the activity or child has ended.
    WaitCancellationCompleted,
    /// The handle completes `cancelled` at once; nothing is told.
    Abandon,
}

impl CancellationType {
    /// What cancelling a child started with `cancellation` does: `(ask the
    /// child to cancel, complete its handle cancelled at once)`.
    pub fn child_steps(cancellation: Option<Self>) -> (bool, bool) {
        match cancellation.unwrap_or(Self::WaitCancellationCompleted) {
            Self::WaitCancellationCompleted => (true, false),
            Self::TryCancel => (true, true),
            Self::Abandon => (false, true),
        }
    }
}

/// An activity's retry state between attempts, kept beside the history (a
/// failed attempt that another follows is not an event): what recovery
/// resumes from and what `describe` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptState {
    /// The execution's reset count the activity was scheduled under.
    pub epoch: u32,
    /// The attempt that failed; the next is `attempt + 1`.
    pub attempt: u32,
    pub failure: super::Failure,
    /// When the next attempt is due (host time, ms since the Unix epoch).
    pub retry_at_ms: u64,
    pub failed_at_ms: u64,
    /// What ran the failed attempt (`module:<sha-256>`, `queue:<name>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served_by: Option<String>,
}

/// Where a child execution reports its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParentLink {
    pub id: ExecutionId,
    /// The handle of the parent's `child_started` command.
    pub handle: u64,
    /// The parent's epoch (`resets`) when it started the child.
    pub epoch: u32,
    /// What happens to this child when the parent closes first.
    pub close_policy: ParentClosePolicy,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ParentClosePolicy {
    /// The child is terminated.
    #[default]
    Terminate,
    /// The child gets a cancellation request.
    RequestCancel,
    /// The child runs on.
    Abandon,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ModuleKind {
    Workflow,
    Activity,
}

/// What a deployed module is, found by inspecting the component.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModuleMeta {
    pub hash: ModuleHash,
    pub kind: ModuleKind,
    pub workflow_type: Option<TypeName>,
    pub activities: Vec<String>,
    /// For a workflow: the signal, query and update names it declares.
    #[serde(default)]
    pub signals: Vec<String>,
    #[serde(default)]
    pub queries: Vec<String>,
    #[serde(default)]
    pub updates: Vec<String>,
    pub size_bytes: u64,
    pub deployed_at_ms: u64,
    /// For an activity component: the WASI doors opened for it at deploy.
    #[serde(default)]
    pub doors: Doors,
}

/// What an activity component may reach beyond its input: nothing unless
/// opened at deploy time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Doors {
    /// Environment variables it sees (`KEY=VALUE`).
    #[serde(default)]
    pub env: Vec<String>,
    /// Host directories it sees.
    #[serde(default)]
    pub dirs: Vec<DirDoor>,
    /// Hosts it may call over HTTP (`host` or `host:port`).
    #[serde(default)]
    pub http: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DirDoor {
    pub host: String,
    /// The path the component sees it at.
    pub guest: String,
    pub read_only: bool,
}

impl DirDoor {
    /// Parses `HOST:GUEST[:ro]` (GUEST defaults to HOST).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split(':');
        let host = parts.next().unwrap_or_default().to_owned();
        let guest = parts
            .next()
            .filter(|g| !g.is_empty())
            .unwrap_or(&host)
            .to_owned();
        let read_only = match parts.next() {
            None => false,
            Some("ro") => true,
            Some("rw") => false,
            Some(other) => return Err(format!("{s:?}: the mode is ro or rw, not {other:?}")),
        };
        if host.is_empty() || parts.next().is_some() {
            return Err(format!(
                "{s:?}: write a directory door as HOST_PATH[:GUEST_PATH[:ro]]"
            ));
        }
        Ok(DirDoor {
            host,
            guest,
            read_only,
        })
    }
}

/// One version of a workflow type: a module deployed under its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowVersion {
    pub version: u32,
    pub module: ModuleHash,
    pub deployed_at_ms: u64,
}
