//! Modules and workflow types.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::model::{Doors, ModuleKind, ModuleMeta};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleInfo {
    /// sha-256 of the component, hex.
    pub hash: String,
    pub kind: ModuleKind,
    pub workflow_type: Option<String>,
    pub activities: Vec<String>,
    /// For a workflow: the signal, query and update names it declares.
    #[serde(default)]
    pub signals: Vec<String>,
    #[serde(default)]
    pub queries: Vec<String>,
    #[serde(default)]
    pub updates: Vec<String>,
    /// For an activity component: the environment and directories opened for it.
    #[serde(default)]
    pub doors: Doors,
    pub size_bytes: u64,
    /// When it was deployed (ms since the Unix epoch).
    #[serde(default)]
    pub deployed_at_ms: u64,
    /// A deploy's answer for a workflow: its version number within its type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// A deploy's answer for activities: the names this module took from
    /// another module, with that module's hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<MovedActivity>,
}

/// An activity name a deploy moved from one module to another.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MovedActivity {
    pub name: String,
    pub from: String,
}

impl From<crate::engine::Deployed> for ModuleInfo {
    fn from(d: crate::engine::Deployed) -> Self {
        Self {
            version: d.version,
            moved: d
                .moved
                .into_iter()
                .map(|(name, from)| MovedActivity {
                    name,
                    from: from.to_string(),
                })
                .collect(),
            ..d.meta.into()
        }
    }
}

impl From<ModuleMeta> for ModuleInfo {
    fn from(m: ModuleMeta) -> Self {
        Self {
            hash: m.hash.to_string(),
            kind: m.kind,
            workflow_type: m.workflow_type.map(|t| t.to_string()),
            activities: m.activities,
            signals: m.signals,
            queries: m.queries,
            updates: m.updates,
            doors: m.doors,
            size_bytes: m.size_bytes,
            deployed_at_ms: m.deployed_at_ms,
            version: None,
            moved: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ModuleList {
    pub modules: Vec<ModuleInfo>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeployQuery {
    /// Workflow type name; required for a workflow component.
    pub name: Option<String>,
    /// Activity components: let this one take activity names that another
    /// component serves together with names this one does not (refused
    /// otherwise, 409).
    #[serde(default)]
    pub replace_activities: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowTypeInfo {
    pub name: String,
    pub current_module: String,
    /// How long its closed executions are kept, in ms.
    #[serde(default)]
    pub retention_ms: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WorkflowTypeList {
    pub workflow_types: Vec<WorkflowTypeInfo>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PruneRequest {
    /// Report what would go; delete nothing.
    #[serde(default)]
    pub dry_run: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PrunedModule {
    pub module: String,
    /// Why nothing refers to it.
    pub what: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PruneReport {
    pub dry_run: bool,
    pub pruned: Vec<PrunedModule>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionRequest {
    /// How long closed executions of the type are kept, in ms; null: the
    /// host's `--retention`.
    pub retention_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RetentionInfo {
    pub workflow_type: String,
    /// In effect now (the type's own, or the host's).
    pub retention_ms: u64,
}
