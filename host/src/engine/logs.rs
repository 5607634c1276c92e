//! What guests said: a workflow's log lines and output (live, never from a
//! replay) and its activities' output, with the execution, the activity and
//! the attempt. Kept in memory, the last [`KEPT`] lines of the host (a
//! restart starts afresh; the host's own log on stderr has them all, for
//! durable collection), and read by `weft logs`.

use std::collections::VecDeque;
use std::sync::Mutex;

use std::time::Duration;

use tokio::sync::watch;

use super::{Engine, EngineError};
use crate::model::ExecutionId;

/// Lines kept, across executions.
pub const KEPT: usize = 100_000;

/// One line a guest said.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// Counts up across the host's lines: read on after one with `after`.
    pub seq: u64,
    pub execution: ExecutionId,
    pub at_ms: u64,
    /// `workflow`, or `activity NAME #HANDLE attempt N`.
    pub source: String,
    pub level: &'static str,
    pub line: String,
}

pub(super) struct Logs {
    lines: Mutex<VecDeque<LogLine>>,
    /// The last line's `seq`, for followers.
    last: watch::Sender<u64>,
}

impl Default for Logs {
    fn default() -> Self {
        Self {
            lines: Mutex::new(VecDeque::new()),
            last: watch::channel(0).0,
        }
    }
}

impl Logs {
    pub(super) fn push(
        &self,
        execution: &ExecutionId,
        at_ms: u64,
        source: String,
        level: &'static str,
        line: &str,
    ) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let seq = lines.back().map_or(1, |l| l.seq + 1);
        if lines.len() >= KEPT {
            lines.pop_front();
        }
        lines.push_back(LogLine {
            seq,
            execution: execution.clone(),
            at_ms,
            source,
            level,
            line: line.to_owned(),
        });
        drop(lines);
        self.last.send_replace(seq);
    }

    /// The lines of `execution` after `after` (a `seq`).
    pub(super) fn of(&self, execution: &ExecutionId, after: u64) -> Vec<LogLine> {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|l| l.seq > after && l.execution == *execution)
            .cloned()
            .collect()
    }

    /// Waits until a line after `after` exists (any execution's).
    pub(super) async fn changed_after(&self, after: u64) {
        let mut rx = self.last.subscribe();
        let _ = rx.wait_for(|last| *last > after).await;
    }

    /// The last line's `seq` (0 before any).
    pub(super) fn last_seq(&self) -> u64 {
        *self.last.borrow()
    }

    /// Forgets a deleted execution's lines.
    pub(super) fn forget(&self, execution: &ExecutionId) {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|l| l.execution != *execution);
    }
}

impl Engine {
    /// What execution `id`'s workflow and activities said after line
    /// `after`; with `wait`, waits up to that long for a first line.
    pub async fn logs(
        &self,
        id: &str,
        after: u64,
        wait: Option<Duration>,
    ) -> Result<Vec<crate::engine::LogLine>, EngineError> {
        let record = self.execution(id)?;
        let mut lines = self.inner.logs.of(&record.id, after);
        if lines.is_empty() {
            if let Some(wait) = wait {
                let deadline = tokio::time::Instant::now() + wait;
                let mut seen = after;
                while lines.is_empty() && tokio::time::Instant::now() < deadline {
                    let changed = self.inner.logs.changed_after(seen);
                    if tokio::time::timeout_at(deadline, changed).await.is_err() {
                        break;
                    }
                    lines = self.inner.logs.of(&record.id, after);
                    seen = self.inner.logs.last_seq();
                }
            }
        }
        Ok(lines)
    }
}
