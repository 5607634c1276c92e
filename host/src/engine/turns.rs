//! Updates to one execution take turns from their validation to their
//! record: each validator answers at a wait after the handlers of the
//! updates accepted before it ran, and none makes another's record stale
//! (see `Engine::update`).

use super::Inner;
use crate::model::ExecutionId;

/// The turns of updates, per execution.
pub(super) type UpdateTurns = std::sync::Mutex<
    std::collections::HashMap<ExecutionId, std::sync::Arc<tokio::sync::Mutex<()>>>,
>;

/// An update's turn at an execution, from its validation to its record;
/// the execution's entry goes when no update waits for a turn.
pub(super) struct UpdateTurn<'a> {
    inner: &'a Inner,
    id: ExecutionId,
    gate: std::sync::Arc<tokio::sync::Mutex<()>>,
    held: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl<'a> UpdateTurn<'a> {
    pub(super) async fn take(inner: &'a Inner, id: &ExecutionId) -> UpdateTurn<'a> {
        let gate = inner
            .update_turns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(id.clone())
            .or_default()
            .clone();
        let held = Some(gate.clone().lock_owned().await);
        UpdateTurn {
            inner,
            id: id.clone(),
            gate,
            held,
        }
    }
}

impl Drop for UpdateTurn<'_> {
    fn drop(&mut self) {
        self.held = None;
        let mut turns = self
            .inner
            .update_turns
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // The map's and this one's: nobody else waits.
        if std::sync::Arc::strong_count(&self.gate) == 2 {
            turns.remove(&self.id);
        }
    }
}
