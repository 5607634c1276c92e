//! Deploying components (what a deploy stores and registers, and the
//! activity names it may take from another component) and pruning those
//! nothing refers to.

use super::{date, Engine, EngineError};
use crate::model::{Doors, ModuleHash, ModuleKind, ModuleMeta, TypeName};
use crate::store::Op;
use crate::wasm::{HandlerNames, Inspected};

/// What a deploy stored and changed.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub meta: ModuleMeta,
    /// A workflow's version number within its type.
    pub version: Option<u32>,
    /// Activity names this module took from another, with that module.
    pub moved: Vec<(String, ModuleHash)>,
}

impl Engine {
    /// Refuses a component that imports contract `needed` while a host of
    /// the store that provides an older one was seen in the last minute
    /// (hosts may run different leases, so this host's idea of "gone" is
    /// not used; one that stopped gracefully left at once): that host could
    /// not run it, and once it held the store its executions would stall
    /// (a rolling upgrade: upgrade every host first). On redb, this host is
    /// the only one (its own contract was checked when it compiled).
    fn every_host_provides(&self, needed: &str) -> Result<(), EngineError> {
        const SEEN_WITHIN_MS: i64 = 60_000;
        let Some(view) = self.inner.store.cluster_view()? else {
            return Ok(());
        };
        let behind: Vec<String> = view
            .hosts
            .iter()
            .filter(|h| {
                h.seen_ms_ago < SEEN_WITHIN_MS
                    && !crate::wasm::inspect::provides(&h.contract, needed)
            })
            .map(|h| {
                format!(
                    "{} (weft {}, contract {})",
                    h.host_id, h.version, h.contract
                )
            })
            .collect();
        if behind.is_empty() {
            return Ok(());
        }
        Err(EngineError::Conflict(format!(
            "the component imports weft:workflow@{needed}, which live hosts of this store do not \
             provide: {}. Upgrade those hosts (one at a time) to a weft with that contract, or \
             stop them (a host that was killed counts until it was not seen for a minute), then \
             deploy again; nothing was stored",
            behind.join(", ")
        )))
    }

    /// Stores a component and registers what it serves: a workflow type
    /// (named `name`) or the activities it lists.
    pub async fn deploy(
        &self,
        bytes: Vec<u8>,
        name: Option<&str>,
        doors: Doors,
        replace_activities: bool,
    ) -> Result<Deployed, EngineError> {
        for d in &doors.dirs {
            if !std::path::Path::new(&d.host).is_dir() {
                return Err(EngineError::BadRequest(format!(
                    "directory door {:?}: no such directory on the host",
                    d.host
                )));
            }
        }
        for h in &doors.http {
            if h.is_empty() || h.contains('/') {
                return Err(EngineError::BadRequest(format!(
                    "HTTP door {h:?}: give a host or host:port, without scheme or path"
                )));
            }
        }
        for kv in &doors.env {
            if !kv.contains('=') || kv.starts_with('=') {
                return Err(EngineError::BadRequest(format!(
                    "environment door {kv:?}: write it as KEY=VALUE"
                )));
            }
        }
        if bytes.len() > self.inner.config.max_module_bytes {
            return Err(EngineError::BadRequest(format!(
                "the module is {} bytes, over the limit of {} bytes",
                bytes.len(),
                self.inner.config.max_module_bytes
            )));
        }
        let hash = ModuleHash::of(&bytes);
        let (inspected, contract) = self.inner.runtime.inspect(&hash, &bytes).await?;
        let (kind, activities, handlers) = match inspected {
            Inspected::Workflow(h) => (ModuleKind::Workflow, Vec::new(), h),
            Inspected::Activity(names) => (ModuleKind::Activity, names, HandlerNames::default()),
        };
        if let Some(needed) = &contract {
            self.every_host_provides(needed)?;
        }
        let workflow_type = match kind {
            ModuleKind::Workflow => {
                let name = name.ok_or_else(|| {
                    EngineError::BadRequest(
                        "a workflow component needs a workflow type name (`?name=`)".into(),
                    )
                })?;
                Some(name.parse::<TypeName>()?)
            }
            ModuleKind::Activity => None,
        };
        let meta = ModuleMeta {
            hash,
            kind,
            workflow_type: workflow_type.clone(),
            activities: activities.clone(),
            doors: if kind == ModuleKind::Activity {
                doors
            } else if doors != Doors::default() {
                return Err(EngineError::BadRequest(
                    "doors open only for activity components: a workflow must stay deterministic"
                        .into(),
                ));
            } else {
                Doors::default()
            },
            signals: handlers.signals,
            queries: handlers.queries,
            updates: handlers.updates,
            size_bytes: bytes.len() as u64,
            deployed_at_ms: self.inner.clock.now_ms(),
        };
        let moved = self.moved_activities(&meta, replace_activities)?;
        let mut ops = vec![Op::PutModule {
            meta: meta.clone(),
            bytes,
        }];
        if let Some(t) = workflow_type {
            ops.push(Op::SetWorkflowType {
                name: t,
                module: hash,
                at_ms: meta.deployed_at_ms,
            });
        }
        for a in activities {
            ops.push(Op::SetActivity {
                name: a,
                module: hash,
            });
        }
        self.inner.store.write(ops).await??;
        let version = match &meta.workflow_type {
            Some(t) => self
                .inner
                .store
                .versions(t)?
                .iter()
                .find(|v| v.module == meta.hash)
                .map(|v| v.version),
            None => None,
        };
        for (name, from) in &moved {
            tracing::info!(activity = %name, from = %from.short(), to = %meta.hash.short(), "activity moved to another module");
        }
        Ok(Deployed {
            meta,
            version,
            moved,
        })
    }

    /// The activity names `meta` would take from the modules serving them
    /// now, with those modules. A module that serves every name of the one
    /// it takes from is a new build of it, and takes them; a module that
    /// would take only some of another module's names (two components
    /// claiming one name) is refused unless `replace` says to move them.
    fn moved_activities(
        &self,
        meta: &ModuleMeta,
        replace: bool,
    ) -> Result<Vec<(String, ModuleHash)>, EngineError> {
        if meta.activities.is_empty() {
            return Ok(Vec::new());
        }
        let routes = self.inner.store.activity_routes()?;
        let modules = self.inner.store.modules()?;
        let serves = |m: &ModuleHash| -> Vec<String> {
            routes
                .iter()
                .filter(|(_, r)| r == m)
                .map(|(n, _)| n.clone())
                .collect()
        };
        let mut moved = Vec::new();
        let mut refused = Vec::new();
        for name in &meta.activities {
            let Some((_, from)) = routes.iter().find(|(n, _)| n == name) else {
                continue;
            };
            if *from == meta.hash {
                continue;
            }
            moved.push((name.clone(), *from));
            let kept: Vec<String> = serves(from)
                .into_iter()
                .filter(|n| !meta.activities.contains(n))
                .collect();
            if !kept.is_empty() {
                refused.push((name.clone(), *from, kept));
            }
        }
        if refused.is_empty() || replace {
            return Ok(moved);
        }
        let lines: Vec<String> = refused
            .iter()
            .map(|(name, from, kept)| {
                let when = modules
                    .iter()
                    .find(|m| m.hash == *from)
                    .map(|m| format!(", deployed {}", date(m.deployed_at_ms)))
                    .unwrap_or_default();
                format!(
                    "`{name}` is served by module {}{when}, which also serves {} that this \
                     component does not",
                    from.short(),
                    kept.join(", ")
                )
            })
            .collect();
        Err(EngineError::Conflict(format!(
            "this component would take activity names from another component: {}. Executions \
             calling them would run this component's code instead. Rename the activities, or \
             deploy with --replace-activities (`?replace_activities=true`) to move them",
            lines.join("; ")
        )))
    }
}

/// What `weft modules prune` removed (or would remove).
#[derive(Debug, Clone)]
pub struct Pruned {
    pub module: ModuleHash,
    pub what: String,
}

impl Engine {
    /// Deletes (unless `dry_run`) the modules nothing refers to: an activity
    /// component that serves no activity name any more, and a workflow
    /// version that is not its type's current one, that no kept execution
    /// runs or ran its current run on, and that no schedule pins. Each
    /// delete checks again, in its commit, that the module is no type's
    /// current version, serves no activity and is pinned by no schedule (a
    /// deploy while the prune ran); a reset or an upgrade onto a version
    /// checks in its own commit that the module is still there. Left open:
    /// a reset or an upgrade onto an old version that commits between the
    /// prune's read of the executions and its delete, and a start, a child
    /// or a continue-as-new that read a type's current version before a
    /// deploy made another current and commits after the delete (a check
    /// there would cost every start a read).
    pub async fn prune_modules(&self, dry_run: bool) -> Result<Vec<Pruned>, EngineError> {
        let store = &self.inner.store;
        let routes = store.activity_routes()?;
        let current: Vec<ModuleHash> = store
            .workflow_types()?
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        // Every partition's executions and schedules (a store of several
        // shares its modules).
        let (used, schedules) = store.module_users()?;
        let mut used: std::collections::HashSet<ModuleHash> = used.into_iter().collect();
        // A schedule pinned to a version starts its executions on it.
        // One that cannot be read may pin any version.
        if let Some((name, why)) = schedules.unreadable.first() {
            return Err(EngineError::Conflict(format!(
                "schedule {name} cannot be read ({why}), so what it pins is not known: \
                 repair it or delete it (`weft schedule delete {name}`), then prune"
            )));
        }
        for schedule in schedules.read {
            let action = &schedule.schedule.action;
            if let Some(version) = action.version {
                // A pin to a version that is gone pins nothing; a store
                // that could not say stops the prune.
                match self.inner.version_module(&action.workflow_type, version) {
                    Ok(module) => {
                        used.insert(module);
                    }
                    Err(EngineError::NotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        crate::pause::point("prune-read").await;
        let mut out = Vec::new();
        for m in store.modules()? {
            let unused = match m.kind {
                ModuleKind::Activity => !routes.iter().any(|(_, h)| *h == m.hash),
                ModuleKind::Workflow => !current.contains(&m.hash) && !used.contains(&m.hash),
            };
            if !unused {
                continue;
            }
            let what = match (&m.kind, &m.workflow_type) {
                (ModuleKind::Workflow, Some(t)) => format!("an old version of {t}"),
                _ => format!(
                    "activities {} (served elsewhere now)",
                    m.activities.join(", ")
                ),
            };
            if !dry_run {
                match store.write(vec![Op::DeleteModule { hash: m.hash }]).await? {
                    Ok(()) => {}
                    // Used since the reads above (a deploy, a start).
                    Err(e @ crate::store::OpError::ModuleInUse { .. }) => {
                        tracing::info!(module = %m.hash.short(), reason = %e, "module kept");
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
                tracing::info!(module = %m.hash.short(), %what, "module pruned");
            }
            out.push(Pruned {
                module: m.hash,
                what,
            });
        }
        Ok(out)
    }
}

/// Where a failed read of a module's bytes is kept: the store's failure,
/// not the module's (a caller tells them apart by it).
pub(super) type Unread = std::sync::Arc<std::sync::Mutex<Option<crate::store::StoreError>>>;

/// Reads `module`'s bytes for the runtime; a failed read is kept in
/// `unread`. `fail_at` names the fail point tests arm (`WEFT_FAIL_AT`).
pub(super) fn bytes_reader(
    store: crate::store::Store,
    module: ModuleHash,
    fail_at: &'static str,
    unread: Unread,
) -> impl FnOnce() -> Result<Vec<u8>, crate::wasm::ModuleError> {
    move || {
        let read = crate::store::StoreError::fail_point(fail_at)
            .and_then(|()| store.module_bytes(&module));
        match read {
            Ok(Some(b)) => Ok(b),
            Ok(None) => Err(crate::wasm::ModuleError::Invalid(format!(
                "module {module} is missing from the store"
            ))),
            Err(e) => {
                let text = e.to_string();
                *unread.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                Err(crate::wasm::ModuleError::Invalid(text))
            }
        }
    }
}
