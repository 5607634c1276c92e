//! Keeping the disk bounded: closed executions are deleted once their
//! retention ran out (each type's own, or the host's `--retention`), with
//! the start and signal request ids seen before it; one can be deleted at
//! once.

use std::sync::Arc;
use std::time::Duration;

use super::{Engine, EngineError, Inner};
use crate::model::{ExecutionId, TypeName};
use crate::store::{Op, OpError, StoreError};

/// How often (of the host's clock) the sweeper looks for expired executions.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Executions deleted per transaction by the sweeper.
const BATCH: usize = 256;

/// Deletes what outlived its retention now, then every [`SWEEP_EVERY`] of
/// the host's clock (a manual clock's too: moving it sweeps).
pub(super) fn spawn(inner: Arc<Inner>) {
    tokio::spawn(inner.clone().unless_closed(async move {
        loop {
            let began = inner.clock.now_ms();
            if let Err(e) = sweep(&inner).await {
                tracing::warn!(error = %e, "retention sweep failed; trying again later");
            }
            crate::pause::point("retention-swept").await;
            let next = began.saturating_add(SWEEP_EVERY.as_millis() as u64);
            inner.clock.sleep_until_unlisted(next).await;
        }
    }));
}

/// One pass: deletes the expired executions and forgets old start and
/// signal request ids.
async fn sweep(inner: &Arc<Inner>) -> Result<(), EngineError> {
    let now = inner.clock.now_ms();
    let keep = inner.config.retention.as_millis() as u64;
    let expired = inner.store.expired(now, keep)?;
    if !expired.is_empty() {
        crate::pause::point("retention-read").await;
    }
    // Each delete names the epoch it read closed: a run started again
    // under the id since, or the execution reset since (and closed again,
    // perhaps), is not what expired.
    let delete = |r: &crate::store::ExecutionHead| Op::DeleteExecution {
        id: r.id.clone(),
        resets: Some(r.resets),
    };
    let mut deleted = 0;
    for chunk in expired.chunks(BATCH) {
        let ops = chunk.iter().map(delete).collect();
        // One refusal (a run started again under the id meanwhile) refuses
        // the batch: then each alone.
        let gone: Vec<&ExecutionId> = if inner.store.write(ops).await?.is_ok() {
            chunk.iter().map(|r| &r.id).collect()
        } else {
            let mut gone = Vec::new();
            for r in chunk {
                match inner.store.write(vec![delete(r)]).await? {
                    Ok(()) => gone.push(&r.id),
                    Err(e) => {
                        tracing::info!(execution = %r.id, reason = %e, "kept an execution that changed since the sweep read it")
                    }
                }
            }
            gone
        };
        crate::pause::point("retention-before-forget").await;
        for id in &gone {
            // A run started again under the id since has its own instance.
            inner.forget_closed(id);
            inner.logs.forget(id);
        }
        deleted += gone.len();
    }
    if deleted > 0 {
        tracing::info!(
            executions = deleted,
            "deleted closed executions past their retention"
        );
    }
    let per_type: Vec<(String, u64)> = inner
        .store
        .retentions()?
        .into_iter()
        .map(|(t, ms)| (t, now.saturating_sub(ms)))
        .collect();
    // Found in a read, so that the executions they started are looked up
    // away from the writes.
    let rows = inner
        .store
        .start_requests_past(now.saturating_sub(keep), &per_type)?;
    if !rows.is_empty() {
        inner
            .store
            .write(vec![Op::ForgetStartRequests { rows }])
            .await??;
    }
    // A batch of signal request ids per write, while more are due.
    loop {
        let op = Op::ForgetSignalRequests { now_ms: now };
        inner.store.write(vec![op]).await??;
        if !inner.store.signal_requests_due(now)? {
            break;
        }
    }
    Ok(())
}

impl Inner {
    /// How long `workflow_type`'s closed executions (and the start and
    /// signal request ids of its executions) are kept, in ms: its own
    /// retention, or the host's. An error when the store could not say
    /// (the host's would keep a request id for less than the type's own).
    pub(super) fn retention_ms(&self, workflow_type: &str) -> Result<u64, StoreError> {
        let all =
            StoreError::fail_point("retention-read").and_then(|()| self.store.retentions())?;
        Ok(all
            .into_iter()
            .find(|(n, _)| n == workflow_type)
            .map_or(self.config.retention.as_millis() as u64, |(_, ms)| ms))
    }
}

impl Engine {
    /// Deletes closed execution `id` and its history at once (409 while
    /// it is open).
    pub async fn delete(&self, id: &str) -> Result<(), EngineError> {
        let parsed: ExecutionId = id.parse().map_err(|_| EngineError::no_execution(id))?;
        match self
            .inner
            .store
            .write(vec![Op::DeleteExecution {
                id: parsed.clone(),
                resets: None,
            }])
            .await?
        {
            Ok(()) => {
                self.inner.forget_closed(&parsed);
                self.inner.logs.forget(&parsed);
                tracing::info!(execution = %parsed, "execution deleted");
                Ok(())
            }
            Err(OpError::NoSuchExecution(_)) => Err(EngineError::no_execution(id)),
            Err(e) => Err(EngineError::Conflict(e.to_string())),
        }
    }

    /// Sets how long a workflow type's closed executions are kept (`None`:
    /// the host's `--retention`).
    pub async fn set_retention(
        &self,
        workflow_type: &str,
        retention: Option<Duration>,
    ) -> Result<(), EngineError> {
        let name: TypeName = workflow_type.parse()?;
        if self.inner.store.workflow_type(&name)?.is_none() {
            return Err(EngineError::NotFound {
                what: "workflow type",
                name: workflow_type.to_owned(),
                hint: ": see `weft types`",
            });
        }
        self.inner
            .store
            .write(vec![Op::SetRetention {
                name,
                retention_ms: retention.map(|d| d.as_millis() as u64),
            }])
            .await??;
        Ok(())
    }

    /// Each workflow type's retention in ms (the host's where none is set).
    pub fn retention_of(&self, workflow_type: &str) -> Result<u64, EngineError> {
        Ok(self.inner.retention_ms(workflow_type)?)
    }
}
