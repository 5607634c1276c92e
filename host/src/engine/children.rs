//! What a closed run owes its children: their parent-close policies
//! applied (terminate, ask to cancel, abandon), and children asked to
//! cancel asked again while the store could not answer.

use std::sync::Arc;

use super::{EngineError, Inner};
use crate::model::{ExecutionId, ParentClosePolicy, ParentLink};
use crate::store::{Op, StoreError};

impl Inner {
    /// [`ParentRuns`] of `id`; none (every child of a debt is of an
    /// earlier run) when the id holds no execution.
    /// `known`: what an earlier read found, kept (its history not read
    /// again) while the parent's epoch and state are the same.
    fn parent_runs(
        &self,
        id: &ExecutionId,
        known: Option<ParentRuns>,
    ) -> Result<ParentRuns, StoreError> {
        let Some(record) = self.store.execution(id)? else {
            return Ok(ParentRuns::unknown());
        };
        let running = !record.status.is_closed();
        if let Some(known) = known.filter(|k| k.epoch == record.resets && k.running == running) {
            return Ok(known);
        }
        let last_owes = if running {
            Vec::new()
        } else {
            // Its policies, and a cancellation it asked of a child it
            // abandons (owed as a request to cancel, see `owed_at_close`).
            let history = self.run_history(&record)?;
            let mut owes: Vec<(u64, ParentClosePolicy)> = crate::model::pending_children(&history)
                .into_iter()
                .filter(|(_, _, p)| *p != ParentClosePolicy::Abandon)
                .map(|(handle, _, p)| (handle, p))
                .collect();
            for (handle, _) in crate::model::children_asked_to_cancel(&history) {
                if !owes.iter().any(|(h, _)| *h == handle) {
                    owes.push((handle, ParentClosePolicy::RequestCancel));
                }
            }
            owes
        };
        Ok(ParentRuns {
            epoch: record.resets,
            running,
            last_owes,
        })
    }

    /// After `id`'s run closed: its children still running get what their
    /// parent-close policy says, and the record of the debt goes. `owes`:
    /// whether the caller knows of a debt recorded (none: nothing is read);
    /// what is applied is read after the pause (a reset may have taken a
    /// child back). A crash before that leaves the record, and
    /// recovery calls this again: terminating or cancelling a child twice
    /// changes nothing the second time. What could not be applied (the
    /// store failed) is tried again while the host runs, not left to its
    /// next start.
    pub(super) async fn settle_children(self: &Arc<Self>, id: &ExecutionId, owes: bool) {
        if !owes {
            return;
        }
        crate::pause::point("parent-closed").await;
        // What is owed now: a reset since the close (which it undid) took
        // back the children it kept.
        let read = self
            .parent_state(id)
            .and_then(|state| Ok((state, self.store.owed(id)?)));
        let (state, owed) = match read {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(execution = %id, error = %e, "could not read what the run owes its children; reading it again");
                self.settle_later(id);
                return;
            }
        };
        if !self.settle_once(id, state, owed).await {
            self.settle_later(id);
        }
    }

    /// `id`'s epoch and whether it is closed, read before what it owes: a
    /// settle's write is refused if they changed since (a run that closed,
    /// continued as new or was reset meanwhile may owe a child under an id
    /// the settle read, one entry for both), and the debt is read again.
    fn parent_state(&self, id: &ExecutionId) -> Result<Option<(u32, bool)>, StoreError> {
        Ok(self
            .store
            .execution(id)?
            .map(|r| (r.resets, r.status.is_closed())))
    }

    /// Applies what `id` owes its children later, again until nothing is
    /// owed: a store that could not answer kept it from being applied (or
    /// from being read).
    pub(super) fn settle_later(self: &Arc<Self>, id: &ExecutionId) {
        let inner = self.clone();
        let id = id.clone();
        self.spawn_counted(async move {
            let mut again = super::again::Backoff::background();
            loop {
                again.wait().await;
                let read = inner
                    .parent_state(&id)
                    .and_then(|state| Ok((state, inner.store.owed(&id)?)));
                match read {
                    Ok((_, owed)) if owed.is_empty() => return,
                    Ok((state, owed)) => {
                        tracing::info!(execution = %id, "applying the parent-close policies left owed again");
                        if inner.settle_once(&id, state, owed).await {
                            return;
                        }
                    }
                    Err(StoreError::Io(e)) => {
                        tracing::debug!(execution = %id, error = %e, "could not read what the run owes its children; trying again");
                    }
                    Err(e) => {
                        tracing::error!(execution = %id, error = %e, "could not read what the run owes its children; it is applied at the next start");
                        return;
                    }
                }
            }
        });
    }

    /// Asks `child` to cancel (for `reason`), after the write that decided
    /// it committed, while the child's link names `parent`: the parent's
    /// id, the epoch of the run that decided it and the handle that started
    /// the child (a child whose start was refused holds another execution's
    /// id, and so may an id started again while a request waited; a reset
    /// of the parent to before the decision re-attaches the child to its
    /// new epoch, and the request is discarded with its event). A store
    /// that cannot answer now is asked again while the host runs, not only
    /// at its next start: the child must not run on.
    pub(super) async fn ask_to_cancel(
        self: &Arc<Self>,
        child: &str,
        parent: &(ExecutionId, u32, u64),
        reason: &'static str,
    ) {
        let Ok(child) = child.parse::<ExecutionId>() else {
            return;
        };
        match self.ask_once(&child, parent, reason).await {
            Err(EngineError::Store(StoreError::Io(e))) => {
                tracing::warn!(execution = %child, error = %e, "could not ask a child to cancel; asking again");
            }
            Err(e) => {
                tracing::debug!(execution = %child, error = %e, "child not cancelled");
                return;
            }
            Ok(()) => return,
        }
        let inner = self.clone();
        let parent = parent.clone();
        self.spawn_counted(async move {
            let mut again = super::again::Backoff::background();
            loop {
                again.wait().await;
                crate::pause::point("child-cancel-again").await;
                match inner.ask_once(&child, &parent, reason).await {
                    Err(EngineError::Store(StoreError::Io(_))) => {}
                    Err(e) => {
                        tracing::debug!(execution = %child, error = %e, "child not cancelled");
                        return;
                    }
                    Ok(()) => {
                        tracing::info!(execution = %child, "a child asked to cancel again");
                        return;
                    }
                }
            }
        });
    }

    async fn ask_once(
        self: &Arc<Self>,
        child: &ExecutionId,
        parent: &(ExecutionId, u32, u64),
        reason: &str,
    ) -> Result<(), EngineError> {
        StoreError::fail_point("child-cancel")?;
        self.cancel_once(child, reason, None, Some(parent))
            .await
            .map(drop)
    }

    /// Applies what `id` owes its children once; true when nothing is left
    /// owed.
    async fn settle_once(
        self: &Arc<Self>,
        id: &ExecutionId,
        state: Option<(u32, bool)>,
        owed: Vec<(String, ParentClosePolicy)>,
    ) -> bool {
        let owing = owed.len();
        // Only what was applied, or no longer applies, is settled; the
        // rest stays owed and is tried again at the next start.
        let mut settled = Vec::new();
        let mut known = None;
        for (name, policy) in owed {
            let Ok(child) = name.parse::<ExecutionId>() else {
                settled.push(name);
                continue;
            };
            // Which run of `id` started the child is told by the epoch its
            // link names: the debt is of closed runs, not of the one running
            // now. Read for each child: a reset while the one before was
            // applied re-attaches the children it keeps to the running run.
            let runs = match self.parent_runs(id, known.take()) {
                Ok(runs) => runs,
                Err(StoreError::Io(e)) => {
                    tracing::warn!(execution = %id, error = %e, "parent-close policy not applied yet: the parent could not be read");
                    continue;
                }
                // Refused for good: reading again would not change it; the
                // children are told apart by their parent's id alone.
                Err(e) => {
                    tracing::error!(execution = %id, error = %e, "the parent cannot be read: its policies are applied to the children its id started");
                    ParentRuns::unknown()
                }
            };
            known = Some(runs.clone());
            // The id may hold another execution now (the child ended and
            // the id was started again): the policy is for this parent's
            // child only.
            let read = crate::store::StoreError::fail_point("parent-close-read")
                .and_then(|()| self.store.execution(&child));
            let (policy, link) = match read {
                Ok(Some(r)) if r.parent.as_ref().is_some_and(|p| p.id == *id) => {
                    let link = r.parent.as_ref().map(|p| (p.id.clone(), p.epoch, p.handle));
                    let owed = r.parent.as_ref().and_then(|p| runs.owes(p, policy));
                    match (owed, link) {
                        (Some(policy), Some(link)) if !r.status.is_closed() => (policy, link),
                        _ => {
                            if owed.is_none() {
                                tracing::debug!(%child, "parent-close policy not applied: a later run of the parent started the child");
                            }
                            settled.push(name);
                            continue;
                        }
                    }
                }
                Ok(_) => {
                    tracing::debug!(%child, "parent-close policy not applied: the id holds another execution");
                    settled.push(name);
                    continue;
                }
                Err(StoreError::Io(e)) => {
                    tracing::warn!(%child, error = %e, "parent-close policy not applied yet: the child could not be read");
                    continue;
                }
                // Refused for good (a record that cannot be decoded):
                // asking again would not change it.
                Err(e) => {
                    tracing::error!(%child, error = %e, "parent-close policy not applied: the child cannot be read");
                    settled.push(name);
                    continue;
                }
            };
            let r = match policy {
                _ if crate::pause::fails("parent-close-apply") => Err(EngineError::Store(
                    StoreError::Io("injected by WEFT_FAIL_AT=parent-close-apply".to_owned()),
                )),
                // Only while the child is the one read: a reset of the
                // parent since re-attaches it to the run that goes on.
                ParentClosePolicy::Terminate => self
                    .terminate_once(&child, "its parent closed", None, None, false, Some(&link))
                    .await
                    .map(drop),
                ParentClosePolicy::RequestCancel => self
                    .cancel_once(&child, "its parent closed", None, Some(&link))
                    .await
                    .map(drop),
                ParentClosePolicy::Abandon => Ok(()),
            };
            match r {
                Ok(()) => settled.push(name),
                // Closed meanwhile, or a cancellation refused by the child's
                // state: nothing left to do. A store that could not answer
                // now (the request was not written) leaves it owed; one that
                // refused it for good does not.
                Err(e) => {
                    let now = matches!(e, EngineError::Store(StoreError::Io(_)));
                    let lasting = !now
                        && (policy == ParentClosePolicy::RequestCancel
                            || matches!(e, EngineError::Store(_)));
                    let done = lasting
                        || matches!(self.store.status(&child), Ok(Some(s)) if s.is_closed());
                    tracing::debug!(%child, error = %e, done, "parent-close policy not applied");
                    if done {
                        settled.push(name);
                    }
                }
            }
        }
        let left = owing - settled.len();
        crate::pause::point("owed-settle-before-write").await;
        let written = self
            .store
            .write(vec![Op::SettleOwed {
                id: id.clone(),
                children: settled,
                parent_was: state,
            }])
            .await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!(execution = %id, reason = %e, "the parent changed while its policies were applied; what it owes is read again");
                return false;
            }
            Err(e) => {
                tracing::warn!(execution = %id, error = %e, "parent-close policies applied but not marked so; they are applied again");
                return false;
            }
        }
        if left == 0 {
            tracing::debug!(execution = %id, "parent-close policies applied");
        } else {
            tracing::warn!(execution = %id, left, "parent-close policies applied but for some that could not be yet; those are tried again");
        }
        left == 0
    }
}

/// What the parent of a debt is now, to tell which of its runs started a
/// child: its epoch (each continue-as-new, reset and terminate moves it),
/// whether it runs, and, closed, what its last run owes.
#[derive(Clone)]
struct ParentRuns {
    epoch: u32,
    running: bool,
    /// What the last run owes, closed: (handle, policy).
    last_owes: Vec<(u64, ParentClosePolicy)>,
}

impl ParentRuns {
    /// A parent not known: every child of a debt counts as an earlier
    /// run's.
    fn unknown() -> Self {
        ParentRuns {
            epoch: u32::MAX,
            running: false,
            last_owes: Vec::new(),
        }
    }

    /// Whether `link` names a child of the run running now.
    fn runs(&self, link: &ParentLink) -> bool {
        self.running && link.epoch == self.epoch
    }

    /// The policy owed to the child `link` names, if a closed run of the
    /// parent owes it one: a child the running run started is owed
    /// nothing, and one the last run started only what that run's
    /// history says (an earlier run's debt under the same id was for
    /// another child). A child of an earlier run gets what its run
    /// declared when it started it (its link's policy: the debt, `policy`,
    /// may be another run's under the same id); one it abandoned, only a
    /// request to cancel it asked as it closed.
    fn owes(&self, link: &ParentLink, policy: ParentClosePolicy) -> Option<ParentClosePolicy> {
        if link.epoch != self.epoch {
            return match link.close_policy {
                ParentClosePolicy::Abandon => {
                    (policy == ParentClosePolicy::RequestCancel).then_some(policy)
                }
                declared => Some(declared),
            };
        }
        if self.runs(link) {
            return None;
        }
        self.last_owes
            .iter()
            .find(|(handle, _)| *handle == link.handle)
            .map(|(_, policy)| *policy)
    }
}
