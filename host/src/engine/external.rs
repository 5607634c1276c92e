//! A workflow's requests to other executions (`signal-execution`,
//! `signal-child`, `cancel-execution`): recorded with the task as an
//! `external_sent` event and an outbox row, delivered after the commit, and
//! again at start for whatever a crash left in the outbox. The store makes
//! a delivery exactly once (see `store::Op::Deliver`).

use std::sync::Arc;

use super::{EngineError, Inner};
use crate::model::ExecutionId;
use crate::store::{ExternalRequest, Op};

/// Tries to ask a running target to cancel before saying it found none.
const ASK_ATTEMPTS: usize = 3;

impl Inner {
    /// Delivers `request` in the background.
    pub(super) fn spawn_delivery(self: &Arc<Self>, request: ExternalRequest) {
        let inner = self.clone();
        tokio::spawn(async move { inner.deliver_request(request).await });
    }

    /// Asks the target of a cancellation request to cancel; whether it
    /// found one that runs (or ran and was asked already: a delivery done
    /// again after a crash), or `None` when the store failed (retried at the
    /// next start). A cancel that loses a race with the target's own write
    /// is asked again.
    async fn ask_to_cancel(
        self: &Arc<Self>,
        request: &ExternalRequest,
        target: Option<&ExecutionId>,
    ) -> Option<bool> {
        let Some(target) = target else {
            return Some(false);
        };
        let reason: String = serde_json::from_slice(&request.input.0).unwrap_or_default();
        for _ in 0..ASK_ATTEMPTS {
            match self.cancel(target, &reason).await {
                Ok(()) => return Some(true),
                Err(EngineError::NotFound { .. } | EngineError::Conflict(_)) => {}
                Err(e) => {
                    tracing::warn!(key = %request.key, error = %e, "request not delivered; retried at the next start");
                    return None;
                }
            }
            match self.store.execution(target) {
                Ok(Some(r)) if r.cancel_requested => return Some(true),
                Ok(Some(r)) if r.status == crate::model::ExecutionStatus::Cancelled => {
                    return Some(true)
                }
                Ok(Some(r)) if !r.status.is_closed() => continue,
                Ok(_) => return Some(false),
                Err(e) => {
                    tracing::warn!(key = %request.key, error = %e, "request not delivered; retried at the next start");
                    return None;
                }
            }
        }
        Some(false)
    }

    async fn deliver_request(self: Arc<Self>, request: ExternalRequest) {
        crate::pause::point("external-before-delivery").await;
        let target: Option<ExecutionId> = request.target.parse().ok();
        // A cancellation is asked through the engine (it also cancels the
        // target's timers, activities and children); asking twice is
        // harmless, so a crash before the record below just asks again.
        let target_found = if request.cancel {
            match self.ask_to_cancel(&request, target.as_ref()).await {
                Some(found) => Some(found),
                None => return,
            }
        } else {
            None
        };
        let op = Op::Deliver {
            request: request.clone(),
            at_ms: self.clock.now_ms(),
            target_found,
        };
        match self.store.write(vec![op]).await {
            Ok(Ok(())) => {
                tracing::debug!(key = %request.key, target = %request.target, "request delivered");
                if let (Some(t), false) = (&target, request.cancel) {
                    self.wake(t);
                }
                self.wake(&request.sender);
            }
            Ok(Err(e)) => {
                tracing::warn!(key = %request.key, error = %e, "request refused");
            }
            Err(e) => {
                tracing::warn!(key = %request.key, error = %e, "request not delivered; retried when the store writes again");
            }
        }
    }
}
