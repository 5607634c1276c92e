//! What deploys change, kept in memory between them: which module serves
//! each activity name (with the doors opened for it) and each workflow
//! type's current module. Every activity attempt and every start asks;
//! only deploys change the answer, and every deploy is a write of this
//! store (one host writes a store: the redb file's, or the PostgreSQL
//! store's holder, whose `Store` is opened anew at each taking), or of
//! another partition's store of the same host, which shares this (see
//! `cluster::Holding`). An answer kept here saves a read transaction, a
//! round trip on PostgreSQL.
//!
//! A read of the store that began before a deploy's commit may answer what
//! the deploy replaced: it is kept only if no deploy ended since the read
//! began (`generation`), and the committer forgets everything kept once a
//! group with a deploy ended, before it answers anyone (a caller that
//! stopped waiting does not stop its write).

use std::collections::HashMap;
use std::sync::Mutex;

use super::Op;
use crate::model::{Doors, ModuleHash};

/// Most names kept of each kind (a workflow's activity names and the
/// deployed types are few; this bounds what a client naming unknown ones
/// could make grow).
const MOST: usize = 10_000;

/// The component serving an activity name, with its doors; `None`: none.
pub(super) type Route = Option<(ModuleHash, Doors)>;

#[derive(Default)]
pub(super) struct Deploys {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Deploys that ended so far.
    generation: u64,
    routes: HashMap<String, Route>,
    types: HashMap<String, ModuleHash>,
}

impl Deploys {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Taken before a read of the store whose answer may be kept.
    pub(super) fn generation(&self) -> u64 {
        self.state().generation
    }

    pub(super) fn route(&self, name: &str) -> Option<Route> {
        self.state().routes.get(name).cloned()
    }

    /// Keeps `route`, read since `generation`, unless a deploy ended since.
    pub(super) fn keep_route(&self, generation: u64, name: &str, route: &Route) {
        let mut state = self.state();
        if state.generation == generation {
            if state.routes.len() >= MOST {
                state.routes.clear();
            }
            state.routes.insert(name.to_owned(), route.clone());
        }
    }

    pub(super) fn current(&self, name: &str) -> Option<ModuleHash> {
        self.state().types.get(name).copied()
    }

    /// Keeps a type's current module, read since `generation`, unless a
    /// deploy ended since.
    pub(super) fn keep_current(&self, generation: u64, name: &str, module: ModuleHash) {
        let mut state = self.state();
        if state.generation == generation {
            if state.types.len() >= MOST {
                state.types.clear();
            }
            state.types.insert(name.to_owned(), module);
        }
    }

    /// A write that may have changed what is kept ended (made or not): it
    /// is read from the store again.
    pub(super) fn changed(&self) {
        let mut state = self.state();
        state.generation += 1;
        state.routes.clear();
        state.types.clear();
    }
}

/// Whether `op` changes what every host of a store keeps in memory of its
/// shared tables (what `Deploys` keeps, and the search attributes'
/// types): its write marks the store (`SHARED_MARK`) for the other hosts.
pub(super) fn changes_shared(op: &Op) -> bool {
    changes_deploys(op) || matches!(op, Op::SetSearchType { .. })
}

/// Whether a write of `ops` may change what `Deploys` keeps.
pub(super) fn any_change(ops: &[Op]) -> bool {
    ops.iter().any(changes_deploys)
}

/// Whether `op` may write what `Deploys` keeps (the modules, module_meta,
/// workflow_types and activities tables): every op that does is listed.
fn changes_deploys(op: &Op) -> bool {
    matches!(
        op,
        Op::PutModule { .. }
            | Op::SetWorkflowType { .. }
            | Op::SetCurrent { .. }
            | Op::SetActivity { .. }
            | Op::DeleteModule { .. }
    )
}
