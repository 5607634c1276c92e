//! Versions of a workflow type and upgrades.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::engine::{UpgradeOutcome, UpgradeReport, VersionView};
use crate::model::ExecutionStatus;

/// A version given as its number (`2`, `"v2"`) or its module hash (or a
/// prefix of at least 8 hex digits).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum VersionRef {
    Number(u32),
    Text(String),
}

impl std::fmt::Display for VersionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionInfo {
    pub version: u32,
    pub module: String,
    pub deployed_at_ms: u64,
    /// New executions start on the current version.
    pub current: bool,
    /// Executions running on this version.
    pub running: usize,
    pub stalled: usize,
}

impl From<VersionView> for VersionInfo {
    fn from(v: VersionView) -> Self {
        Self {
            version: v.version.version,
            module: v.version.module.to_string(),
            deployed_at_ms: v.version.deployed_at_ms,
            current: v.current,
            running: v.running,
            stalled: v.stalled,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionList {
    pub workflow_type: String,
    pub versions: Vec<VersionInfo>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCurrentRequest {
    pub version: VersionRef,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CurrentVersion {
    pub workflow_type: String,
    pub version: u32,
    pub module: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpgradeRequest {
    /// The version to move executions to.
    pub to: VersionRef,
    /// Check and report, move nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Only these executions (default: every running or stalled one of the type).
    #[serde(default)]
    pub ids: Option<Vec<String>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DivergenceInfo {
    pub event_index: u64,
    /// The command the history recorded at that index.
    pub recorded: String,
    /// What the new code did there instead.
    pub issued: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpgradeItemInfo {
    pub id: String,
    /// Its status before the upgrade.
    pub status: ExecutionStatus,
    pub from_version: Option<u32>,
    pub from_module: String,
    /// `moved`, `would-move`, `already-there`, `diverged` or `failed`.
    pub outcome: String,
    pub divergence: Option<DivergenceInfo>,
    /// Why the replay could not run, for `failed`.
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpgradeReportInfo {
    pub workflow_type: String,
    pub to_version: u32,
    pub to_module: String,
    pub dry_run: bool,
    pub executions: Vec<UpgradeItemInfo>,
}

impl From<UpgradeReport> for UpgradeReportInfo {
    fn from(r: UpgradeReport) -> Self {
        Self {
            workflow_type: r.workflow_type.to_string(),
            to_version: r.to.version,
            to_module: r.to.module.to_string(),
            dry_run: r.dry_run,
            executions: r
                .executions
                .into_iter()
                .map(|e| {
                    let (divergence, reason) = match &e.outcome {
                        UpgradeOutcome::Diverged(d) => (
                            Some(DivergenceInfo {
                                event_index: d.event_index,
                                recorded: d.recorded.clone(),
                                issued: d.issued.clone(),
                            }),
                            None,
                        ),
                        UpgradeOutcome::Failed(reason) => (None, Some(reason.clone())),
                        _ => (None, None),
                    };
                    UpgradeItemInfo {
                        id: e.id.to_string(),
                        status: e.status,
                        from_version: e.from_version,
                        from_module: e.from_module.to_string(),
                        outcome: e.outcome.as_str().to_owned(),
                        divergence,
                        reason,
                    }
                })
                .collect(),
        }
    }
}
