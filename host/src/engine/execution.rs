//! One execution's life in memory: load (replaying its history), run the
//! guest until it ends, is evicted or stalls, and record how it ended.

use std::any::Any;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::driver::Driver;
use super::error::Stop;
use super::replay::Replayer;
use super::{Inner, Msg};
use crate::model::{EventKind, ExecutionId, ExecutionStatus, Failure, ModuleHash};
use crate::store::{Close, Op, OpError};
use crate::wasm::{ModuleError, RunOutcome, WorkflowInfo};

pub(super) async fn run(inner: Arc<Inner>, id: ExecutionId, mailbox: mpsc::UnboundedReceiver<Msg>) {
    if let Err(e) = run_inner(&inner, &id, mailbox).await {
        // Nothing was committed for the failed step; the execution stays
        // running and resumes on the next wake or restart.
        tracing::error!(execution = %id, error = %e, "workflow task could not be committed");
        inner.forget(&id);
    }
}

async fn run_inner(
    inner: &Arc<Inner>,
    id: &ExecutionId,
    mailbox: mpsc::UnboundedReceiver<Msg>,
) -> Result<(), crate::store::StoreError> {
    let record = match inner.store.execution(id)? {
        Some(r) if r.status == ExecutionStatus::Running => r,
        _ => {
            inner.forget(id);
            return Ok(());
        }
    };
    let record_module = (record.module, record.resets);
    let history = inner.store.history(id, 0)?;
    let seed = match history.first().map(|e| &e.event) {
        Some(EventKind::ExecutionStarted { seed, .. }) => *seed,
        _ => {
            close(
                inner,
                id,
                (record.module, record.resets),
                Vec::new(),
                Close::Stalled("history does not start with execution_started".into()),
            )
            .await?;
            return Ok(());
        }
    };
    let info = WorkflowInfo {
        workflow_type: record.workflow_type.to_string(),
        execution_id: id.to_string(),
        module: record.module.to_string(),
        started_at_ms: record.created_at_ms,
    };
    let driver = Driver::new(
        inner.clone(),
        id.clone(),
        record.module,
        record.resets,
        info,
        Replayer::new(history),
        mailbox,
    );
    crate::metrics::INSTANCES_LOADED.inc();
    let store = inner.store.clone();
    let module = record.module;
    let bytes = move || match store.module_bytes(&module) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(ModuleError::Invalid(format!(
            "module {module} is missing from the store"
        ))),
        Err(e) => Err(ModuleError::Invalid(e.to_string())),
    };
    let (outcome, host) = inner
        .runtime
        .run_workflow(
            &module,
            bytes,
            record.input.0.clone(),
            seed,
            Box::new(driver),
        )
        .await;
    let any: Box<dyn Any> = host;
    let mut driver = any
        .downcast::<Driver>()
        .expect("the host handed back is the driver it was given");
    crate::metrics::REPLAYED_EVENTS.add(driver.replayer.replayed_events());
    // A query or validator that failed fails alone: the caller gets the
    // reason, and the workflow is loaded again from its history, unaffected.
    if let Some((_, reply)) = driver.serving.take() {
        let reason = match &outcome {
            RunOutcome::Trapped(r) => r.clone(),
            RunOutcome::Stopped(s) => s.to_string(),
            RunOutcome::Returned(_) => "the workflow returned instead of answering".into(),
        };
        let _ = reply.send(Err(Failure::new("request-failed", reason)));
        driver.drop_requests("the workflow is being reloaded: try again");
        inner.forget(id);
        inner.wake(id);
        return Ok(());
    }
    driver.drop_requests("the execution stopped before it could answer: try again");
    match outcome {
        RunOutcome::Returned(result) => {
            if let Err(d) = driver.replayer.check_finished(&result) {
                return stall(inner, id, record_module, d.to_string()).await;
            }
            // Commands issued after the last wait are recorded with the end,
            // so the history says everything the code did; they are not run.
            let (mut events, _, _) = driver.new_command_events(inner.clock.now_ms());
            let end = match result {
                Ok(output) => {
                    events.push(EventKind::ExecutionCompleted {
                        output: output.clone(),
                    });
                    Close::Completed(output)
                }
                Err(failure) => {
                    events.push(EventKind::ExecutionFailed {
                        failure: failure.clone(),
                    });
                    Close::Failed(failure)
                }
            };
            close(inner, id, record_module, events, end).await
        }
        RunOutcome::Stopped(stop) => match stop.0.downcast::<Stop>() {
            Ok(s) => match *s {
                Stop::Evicted => {
                    crate::metrics::EVICTIONS.inc();
                    tracing::debug!(execution = %id, "evicted");
                    Ok(())
                }
                Stop::Reload => {
                    tracing::info!(execution = %id, "loading again on the module it moved to");
                    inner.forget(id);
                    inner.wake(id);
                    Ok(())
                }
                Stop::Replay(e) => stall(inner, id, record_module, e.to_string()).await,
                Stop::Request(e) => stall(inner, id, record_module, e).await,
                Stop::Store(e) => Err(e),
            },
            Err(other) => stall(inner, id, record_module, other.to_string()).await,
        },
        RunOutcome::Trapped(reason) => stall(inner, id, record_module, reason).await,
    }
}

async fn stall(
    inner: &Arc<Inner>,
    id: &ExecutionId,
    run: (ModuleHash, u32),
    reason: String,
) -> Result<(), crate::store::StoreError> {
    tracing::warn!(execution = %id, %reason, "execution stalled");
    close(inner, id, run, Vec::new(), Close::Stalled(reason)).await
}

async fn close(
    inner: &Arc<Inner>,
    id: &ExecutionId,
    (module, resets): (ModuleHash, u32),
    events: Vec<EventKind>,
    end: Close,
) -> Result<(), crate::store::StoreError> {
    let mut op = Op::append(id, inner.clock.now_ms(), events);
    if let Op::Append {
        close,
        expect_module,
        expect_resets,
        ..
    } = &mut op
    {
        *close = Some(end);
        *expect_module = Some(module);
        *expect_resets = Some(resets);
    }
    if let Some(Err(OpError::ModuleMoved(_) | OpError::Stale(_))) =
        inner.store.write(vec![op]).await?.first()
    {
        // Upgraded or reset while this run ended: the new run decides instead.
        inner.forget(id);
        inner.wake(id);
        return Ok(());
    }
    // Forget only after the close is durable: a wake in between finds the
    // old mailbox, not a fresh instance replaying a closed execution.
    inner.forget(id);
    inner.closed.send_modify(|n| *n += 1);
    inner.updates.send_modify(|n| *n += 1);
    Ok(())
}
