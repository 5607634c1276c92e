//! The live side of a workflow's imports. A [`Driver`] answers one run of
//! one execution: commands go through the [`Replayer`]; at each `wait` the
//! workflow task's new commands are committed (grouped with other
//! executions') before anything they start is dispatched and before the next
//! event is delivered, so a crash loses at most uncommitted guest computation.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::activities::{self, ActivityTask};
use super::error::Stop;
use super::replay::{Command, ReplayError, Replayer};
use super::Inner;
use crate::model::{ActivityOptions, EventKind, ExecutionId, ModuleHash, Payload};
use crate::store::{Op, OpError, TimerRow};
use crate::wasm::{HostStop, LogLevel, WorkflowHost, WorkflowInfo};

type Completion = (u64, Result<Payload, crate::model::Failure>);

pub(super) struct Driver {
    inner: Arc<Inner>,
    id: ExecutionId,
    /// The module this run executes; writes are refused once the execution
    /// is moved to another.
    module: ModuleHash,
    /// The execution's reset count at load; writes are refused after a reset.
    resets: u32,
    info: WorkflowInfo,
    pub(super) replayer: Replayer,
    mailbox: mpsc::UnboundedReceiver<()>,
}

fn stop(e: impl Into<Stop>) -> HostStop {
    HostStop(Box::new(e.into()))
}

impl Driver {
    pub(super) fn new(
        inner: Arc<Inner>,
        id: ExecutionId,
        module: ModuleHash,
        resets: u32,
        info: WorkflowInfo,
        replayer: Replayer,
        mailbox: mpsc::UnboundedReceiver<()>,
    ) -> Self {
        Self {
            inner,
            id,
            module,
            resets,
            info,
            replayer,
            mailbox,
        }
    }

    /// Reads events other writers (activities, timers) appended since the
    /// last sync.
    fn sync(&mut self) -> Result<(), Stop> {
        let events = self.inner.store.history(&self.id, self.replayer.len())?;
        self.replayer.extend(events);
        Ok(())
    }

    /// Turns the commands issued since the last wait into the events that
    /// record them, and the activities and timers they start.
    pub(super) fn new_command_events(
        &mut self,
        now: u64,
    ) -> (Vec<EventKind>, Vec<ActivityTask>, Vec<TimerRow>) {
        let mut events = Vec::new();
        let mut tasks = Vec::new();
        let mut timers = Vec::new();
        for (handle, command) in self.replayer.take_new_commands() {
            match command {
                Command::Activity {
                    name,
                    input,
                    options,
                } => {
                    tasks.push(ActivityTask {
                        execution: self.id.clone(),
                        handle,
                        name: name.clone(),
                        input: input.clone(),
                        options: options.clone(),
                        attempt: 1,
                        not_before_ms: 0,
                        epoch: self.resets,
                    });
                    events.push(EventKind::ActivityScheduled {
                        handle,
                        name,
                        input,
                        options,
                    });
                }
                Command::Patch { id } => events.push(EventKind::PatchMarker {
                    handle,
                    patch_id: id,
                }),
                Command::Timer { duration_ms } => {
                    let fire_at_ms = now.saturating_add(duration_ms);
                    timers.push(TimerRow {
                        due_ms: fire_at_ms,
                        execution: self.id.clone(),
                        handle,
                    });
                    events.push(EventKind::TimerStarted {
                        handle,
                        duration_ms,
                        fire_at_ms,
                    });
                }
            }
        }
        (events, tasks, timers)
    }

    /// Commits the commands issued since the last wait, then starts what they
    /// ask for: nothing is dispatched before it is durable.
    async fn flush(&mut self) -> Result<(), Stop> {
        let now = self.inner.clock.now_ms();
        let (events, tasks, timers) = self.new_command_events(now);
        if events.is_empty() {
            return Ok(());
        }
        let mut op = Op::append(&self.id, now, events);
        if let Op::Append {
            timers_add,
            expect_module,
            expect_resets,
            ..
        } = &mut op
        {
            timers_add.extend(timers.iter().map(|t| (t.due_ms, t.handle)));
            *expect_module = Some(self.module);
            *expect_resets = Some(self.resets);
        }
        if let Some(Err(OpError::ModuleMoved(_) | OpError::Stale(_))) =
            self.inner.store.write(vec![op]).await?.first()
        {
            return Err(Stop::Reload);
        }
        for task in tasks {
            activities::spawn(self.inner.clone(), task);
        }
        for row in timers {
            // The timer service only stops with the engine.
            let _ = self.inner.timer_tx.send(row);
        }
        Ok(())
    }

    async fn wait_for(&mut self, handles: Vec<u64>) -> Result<Completion, Stop> {
        loop {
            if self.inner.take_reload(&self.id) {
                return Err(Stop::Reload);
            }
            self.sync()?;
            if let Some(c) = self
                .replayer
                .next_completion(&handles)
                .map_err(ReplayError::from)?
            {
                self.flush().await?;
                crate::metrics::WORKFLOW_TASKS.inc();
                return Ok(c);
            }
            self.replayer
                .check_blocking(&handles)
                .map_err(ReplayError::from)?;
            if self.replayer.has_new_commands() {
                self.flush().await?;
                continue;
            }
            match tokio::time::timeout(self.inner.config.evict_after, self.mailbox.recv()).await {
                Ok(Some(())) => while self.mailbox.try_recv().is_ok() {},
                Ok(None) => return Err(Stop::Evicted),
                Err(_) => {
                    if self.inner.try_evict(&self.id, &mut self.mailbox) {
                        return Err(Stop::Evicted);
                    }
                }
            }
        }
    }
}

impl WorkflowHost for Driver {
    fn start_activity(
        &mut self,
        name: String,
        input: Payload,
        options: ActivityOptions,
    ) -> Result<u64, HostStop> {
        self.replayer
            .issue(Command::Activity {
                name,
                input,
                options,
            })
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn start_timer(&mut self, duration_ms: u64) -> Result<u64, HostStop> {
        self.replayer
            .issue(Command::Timer { duration_ms })
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn patched(&mut self, patch_id: String) -> Result<bool, HostStop> {
        self.replayer
            .patched(&patch_id)
            .map_err(|d| stop(ReplayError::from(d)))
    }

    fn wait(
        &mut self,
        handles: Vec<u64>,
    ) -> Pin<Box<dyn Future<Output = Result<Completion, HostStop>> + Send + '_>> {
        Box::pin(async move { self.wait_for(handles).await.map_err(stop) })
    }

    fn now_ms(&self) -> u64 {
        self.replayer.now_ms()
    }

    fn random(&mut self) -> u64 {
        self.replayer.random()
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        if self.replayer.replaying() {
            return;
        }
        let id = &self.id;
        match level {
            LogLevel::Trace => {
                tracing::trace!(target: "weft::workflow", execution = %id, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "weft::workflow", execution = %id, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "weft::workflow", execution = %id, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "weft::workflow", execution = %id, "{message}")
            }
            LogLevel::Error => {
                tracing::error!(target: "weft::workflow", execution = %id, "{message}")
            }
        }
    }

    fn info(&self) -> WorkflowInfo {
        self.info.clone()
    }
}
