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
}

impl ExecutionStatus {
    /// Whether the execution has a result to hand out (stalled included: it
    /// will not move again without an operator).
    pub fn is_settled(self) -> bool {
        !matches!(self, Self::Running)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
            Self::Stalled => "stalled",
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
    pub created_at_ms: u64,
    pub closed_at_ms: Option<u64>,
    pub input: Payload,
    pub output: Option<Payload>,
    pub failure: Option<Failure>,
    pub stall_reason: Option<String>,
    /// How many times the execution was reset; work started before the last
    /// reset (an activity attempt, a timer) is dropped when it reports back.
    #[serde(default)]
    pub resets: u32,
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
}

/// One version of a workflow type: a module deployed under its name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkflowVersion {
    pub version: u32,
    pub module: ModuleHash,
    pub deployed_at_ms: u64,
}
