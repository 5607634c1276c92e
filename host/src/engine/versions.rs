//! Versions of a workflow type, the current pointer, and upgrades: moving
//! running or stalled executions to another version once their whole history
//! replays cleanly against it.

use super::replay::Divergence;
use super::{Engine, EngineError, ReplayReport};
use crate::model::{
    ExecutionId, ExecutionRecord, ExecutionStatus, HistoryExport, ModuleHash, TypeName,
    WorkflowVersion,
};
use crate::store::{Op, OpError};

/// A version with what runs on it.
#[derive(Debug, Clone)]
pub struct VersionView {
    pub version: WorkflowVersion,
    pub current: bool,
    pub running: usize,
    pub stalled: usize,
}

#[derive(Debug, Clone)]
pub struct UpgradeReport {
    pub workflow_type: TypeName,
    pub to: WorkflowVersion,
    pub dry_run: bool,
    pub executions: Vec<UpgradeItem>,
}

#[derive(Debug, Clone)]
pub struct UpgradeItem {
    pub id: ExecutionId,
    pub status: ExecutionStatus,
    pub from_version: Option<u32>,
    pub from_module: ModuleHash,
    pub outcome: UpgradeOutcome,
}

#[derive(Debug, Clone)]
pub enum UpgradeOutcome {
    /// Replayed cleanly and now runs the new version.
    Moved,
    /// Replays cleanly; a dry run moves nothing.
    WouldMove,
    /// Already on the version.
    AlreadyThere,
    /// The new code leaves the recorded path: it stays where it is.
    Diverged(Divergence),
    /// The new code could not replay the history at all (a trap, a misuse).
    Failed(String),
}

impl UpgradeOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Moved => "moved",
            Self::WouldMove => "would-move",
            Self::AlreadyThere => "already-there",
            Self::Diverged(_) => "diverged",
            Self::Failed(_) => "failed",
        }
    }
}

/// How many times a history that keeps growing is checked again before the
/// upgrade gives up on it (it stays where it is, reported as failed).
const CHECK_ATTEMPTS: usize = 5;

impl Engine {
    pub(super) fn type_name(workflow_type: &str) -> Result<TypeName, EngineError> {
        Ok(workflow_type.parse::<TypeName>()?)
    }

    fn known_versions(&self, name: &TypeName) -> Result<Vec<WorkflowVersion>, EngineError> {
        let versions = self.inner.store.versions(name)?;
        if versions.is_empty() {
            return Err(EngineError::NotFound {
                what: "workflow type",
                name: name.to_string(),
                hint: ": deploy a workflow component with `weft deploy FILE.wasm --name NAME`",
            });
        }
        Ok(versions)
    }

    /// Finds a version by number (`3` or `v3`) or by module hash (or a prefix
    /// of at least 8 hex digits).
    pub(super) fn find_version(
        &self,
        name: &TypeName,
        reference: &str,
    ) -> Result<WorkflowVersion, EngineError> {
        let versions = self.known_versions(name)?;
        let r = reference.trim();
        let number = r.strip_prefix('v').unwrap_or(r).parse::<u32>().ok();
        let found: Vec<&WorkflowVersion> = match number {
            Some(n) => versions.iter().filter(|v| v.version == n).collect(),
            None if r.len() >= 8 => versions
                .iter()
                .filter(|v| v.module.to_string().starts_with(&r.to_ascii_lowercase()))
                .collect(),
            None => Vec::new(),
        };
        match found.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(EngineError::NotFound {
                what: "version",
                name: format!("{reference} of workflow type {name}"),
                hint: " (see `weft versions TYPE`; a version is its number or its module hash)",
            }),
            _ => Err(EngineError::BadRequest(format!(
                "{reference:?} matches several versions of {name}: give more of the hash"
            ))),
        }
    }

    /// The type's versions, oldest first, with how many executions run on each.
    pub fn versions(&self, workflow_type: &str) -> Result<Vec<VersionView>, EngineError> {
        let name = Self::type_name(workflow_type)?;
        let versions = self.known_versions(&name)?;
        let current = self.inner.store.workflow_type(&name)?;
        let executions = self.inner.store.executions(None, Some(&name))?;
        Ok(versions
            .into_iter()
            .map(|v| {
                let on = |s: ExecutionStatus| {
                    executions
                        .iter()
                        .filter(|e| e.module == v.module && e.status == s)
                        .count()
                };
                VersionView {
                    current: current == Some(v.module),
                    running: on(ExecutionStatus::Running),
                    stalled: on(ExecutionStatus::Stalled),
                    version: v,
                }
            })
            .collect())
    }

    /// The version number of `module` for its type, if it is one.
    pub fn version_of(&self, record: &ExecutionRecord) -> Option<u32> {
        self.inner
            .store
            .versions(&record.workflow_type)
            .ok()?
            .into_iter()
            .find(|v| v.module == record.module)
            .map(|v| v.version)
    }

    /// Points the type at one of its versions: new executions start on it.
    /// Running executions stay where they are.
    pub async fn set_current(
        &self,
        workflow_type: &str,
        version: &str,
    ) -> Result<WorkflowVersion, EngineError> {
        let name = Self::type_name(workflow_type)?;
        let v = self.find_version(&name, version)?;
        self.inner
            .store
            .write(vec![Op::SetCurrent {
                name,
                module: v.module,
            }])
            .await??;
        Ok(v)
    }

    /// Replays each running or stalled execution of the type (or just `ids`)
    /// against version `to`, and moves those that replay cleanly, one atomic
    /// write each. A dry run only reports.
    pub async fn upgrade(
        &self,
        workflow_type: &str,
        to: &str,
        dry_run: bool,
        ids: Option<&[String]>,
    ) -> Result<UpgradeReport, EngineError> {
        let name = Self::type_name(workflow_type)?;
        let target = self.find_version(&name, to)?;
        let versions = self.inner.store.versions(&name)?;
        let bytes = self
            .inner
            .store
            .module_bytes(&target.module)?
            .ok_or_else(|| {
                EngineError::Conflict(format!(
                    "module {} is missing from the store",
                    target.module
                ))
            })?;
        let candidates: Vec<ExecutionRecord> = match ids {
            Some(ids) => {
                let mut out = Vec::new();
                for id in ids {
                    let record = self.execution(id)?;
                    if record.workflow_type != name {
                        return Err(EngineError::BadRequest(format!(
                            "execution {id} is of type {}, not {name}",
                            record.workflow_type
                        )));
                    }
                    out.push(record);
                }
                out
            }
            None => self
                .inner
                .store
                .executions(None, Some(&name))?
                .into_iter()
                .filter(|r| {
                    matches!(
                        r.status,
                        ExecutionStatus::Running | ExecutionStatus::Stalled
                    )
                })
                .collect(),
        };
        let mut executions = Vec::with_capacity(candidates.len());
        for record in candidates {
            // A store that could not answer for one execution fails it
            // alone: the report says what moved, and the others are checked.
            let outcome = match self
                .upgrade_one(&record, &name, &target, &bytes, dry_run)
                .await
            {
                Ok(outcome) => outcome,
                Err(EngineError::Store(e @ crate::store::StoreError::Io(_))) => {
                    UpgradeOutcome::Failed(format!(
                        "the store could not answer ({e}): run the upgrade again"
                    ))
                }
                Err(e) => return Err(e),
            };
            tracing::info!(
                execution = %record.id,
                to_version = target.version,
                outcome = outcome.as_str(),
                "upgrade checked"
            );
            executions.push(UpgradeItem {
                from_version: versions
                    .iter()
                    .find(|v| v.module == record.module)
                    .map(|v| v.version),
                from_module: record.module,
                status: record.status,
                id: record.id,
                outcome,
            });
        }
        Ok(UpgradeReport {
            workflow_type: name,
            to: target,
            dry_run,
            executions,
        })
    }

    async fn upgrade_one(
        &self,
        record: &ExecutionRecord,
        workflow_type: &crate::model::TypeName,
        target: &WorkflowVersion,
        bytes: &[u8],
        dry_run: bool,
    ) -> Result<UpgradeOutcome, EngineError> {
        if !matches!(
            record.status,
            ExecutionStatus::Running | ExecutionStatus::Stalled
        ) {
            return Ok(UpgradeOutcome::Failed(format!(
                "it is {}: only running or stalled executions move",
                record.status
            )));
        }
        for _ in 0..CHECK_ATTEMPTS {
            // Read again each time: a run that continued as new since is
            // checked from its own start, never across the runs.
            crate::store::StoreError::fail_point("upgrade-read")?;
            let Some(record) = self.inner.store.execution(&record.id)? else {
                return Ok(UpgradeOutcome::Failed("it no longer exists".into()));
            };
            // The id may hold another execution since it was listed (it
            // ended and a client started the id again): one of another
            // type never runs this type's code.
            if record.workflow_type != *workflow_type {
                return Ok(UpgradeOutcome::Failed(format!(
                    "the id now holds an execution of type {} (started since the upgrade \
                     began): left as it is",
                    record.workflow_type
                )));
            }
            if record.status.is_closed() {
                return Ok(UpgradeOutcome::Failed(format!(
                    "it is {}: only running or stalled executions move",
                    record.status
                )));
            }
            if record.module == target.module {
                return Ok(UpgradeOutcome::AlreadyThere);
            }
            let events = self.inner.run_history(&record)?;
            if events.iter().any(|e| {
                matches!(
                    e.event,
                    crate::model::EventKind::ExecutionContinuedAsNew { .. }
                )
            }) {
                continue;
            }
            let len = record.run_start + events.len() as u64;
            let export = HistoryExport {
                format: HistoryExport::FORMAT.to_owned(),
                execution_id: record.id.to_string(),
                workflow_type: record.workflow_type.to_string(),
                module: target.module.to_string(),
                events,
            };
            match super::replay_offline(&self.inner.runtime, &target.module, bytes, export).await {
                ReplayReport::Clean { .. } => {}
                ReplayReport::Diverged(d) => return Ok(UpgradeOutcome::Diverged(d)),
                ReplayReport::Broken(reason) => return Ok(UpgradeOutcome::Failed(reason)),
            }
            crate::pause::point("upgrade-replayed").await;
            if dry_run {
                return Ok(UpgradeOutcome::WouldMove);
            }
            let out = self
                .inner
                .store
                .write(vec![Op::MoveExecution {
                    id: record.id.clone(),
                    module: target.module,
                    expect_history_len: len,
                    expect_resets: record.resets,
                    at_ms: self.inner.clock.now_ms(),
                }])
                .await?;
            match out {
                Ok(()) => {
                    crate::pause::point("upgrade-written").await;
                    self.inner.reload(&record.id);
                    return Ok(UpgradeOutcome::Moved);
                }
                // It moved on while we checked: check the longer history.
                Err(OpError::HistoryChanged(_)) => continue,
                Err(e) => return Ok(UpgradeOutcome::Failed(e.to_string())),
            }
        }
        Ok(UpgradeOutcome::Failed(format!(
            "its history kept growing during {CHECK_ATTEMPTS} checks; run the upgrade again"
        )))
    }
}
