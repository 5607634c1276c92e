//! Who waits for which execution to settle: a close (or a reset that makes a
//! settled execution run again) wakes the callers waiting on that execution
//! and nobody else, so a host with many result waiters does not reread every
//! waiter's record at every close.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::model::ExecutionId;

#[derive(Default)]
pub(super) struct Settled {
    waiting: Mutex<HashMap<ExecutionId, Arc<Notify>>>,
}

impl Settled {
    /// The notifier of `id`'s next change; enable a `notified()` of it
    /// before reading the execution, so a change in between is not missed.
    pub fn watch(&self, id: &ExecutionId) -> Arc<Notify> {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        waiting.entry(id.clone()).or_default().clone()
    }

    /// Wakes everyone waiting on `id`.
    pub fn changed(&self, id: &ExecutionId) {
        let notify = {
            let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
            waiting.remove(id)
        };
        if let Some(n) = notify {
            n.notify_waiters();
        }
    }

    /// A waiter gives up (its deadline passed): the entry goes once nobody
    /// else holds it.
    pub fn release(&self, id: &ExecutionId, notify: Arc<Notify>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        drop(notify);
        // Only the map's reference left: nobody waits on it.
        if waiting.get(id).is_some_and(|n| Arc::strong_count(n) == 1) {
            waiting.remove(id);
        }
    }
}
