//! Durable timers. Rows live in the store keyed by due time; this service
//! keeps them in an ordered set and fires each one by appending `timer_fired`
//! (and deleting its row) in one transaction, then waking the execution.
//! [`TimerQueue::take_due`] is the pure part: given `now`, what fires.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::skip::BusyGuard;
use super::Inner;
use crate::model::{EventKind, ExecutionStatus, EXECUTION_DEADLINE, RUN_DEADLINE};
use crate::store::{Op, TimerRow};

#[derive(Default)]
pub struct TimerQueue {
    rows: BTreeSet<TimerRow>,
}

impl TimerQueue {
    pub fn insert(&mut self, row: TimerRow) {
        self.rows.insert(row);
    }

    pub fn next_due(&self) -> Option<u64> {
        self.rows.first().map(|r| r.due_ms)
    }

    /// Removes and returns every timer due at `now_ms`, earliest first.
    pub fn take_due(&mut self, now_ms: u64) -> Vec<TimerRow> {
        let mut due = Vec::new();
        while self.rows.first().is_some_and(|r| r.due_ms <= now_ms) {
            due.extend(self.rows.pop_first());
        }
        due
    }
}

/// A timer on its way to the timer service. On a manual clock it counts as
/// a workflow step until the service lists its next wait with the clock:
/// time skipping must not find the host idle, with nothing to wait for, in
/// between.
pub(super) struct Arming {
    row: TimerRow,
    busy: Option<BusyGuard>,
}

/// What the timer service is sent.
pub(super) enum ToTimers {
    Arm(Arming),
    /// Drop the earliest timers of executions that ended, then answer
    /// (once the earliest left is what the clock lists as waited for).
    Prune(oneshot::Sender<()>),
}

impl Inner {
    /// Hands `row` to the timer service.
    pub(super) fn arm_timer(&self, row: TimerRow) {
        let busy = self.busy_step();
        // The timer service only stops with the engine.
        let _ = self.timer_tx.send(ToTimers::Arm(Arming { row, busy }));
    }

    /// Has the timer service drop the earliest timers of executions that
    /// ended (the losing side of a `select`, a deadline): nothing waits
    /// for them, and a time skip must not move to them.
    pub(super) async fn prune_timers(&self) {
        let (tx, rx) = oneshot::channel();
        if self.timer_tx.send(ToTimers::Prune(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Drops the earliest timers whose execution ended or is gone (firing one
/// appends nothing); stops at one the store cannot say about.
fn prune_ended(inner: &Inner, queue: &mut TimerQueue) {
    while let Some(head) = queue.rows.first() {
        match inner.store.execution(&head.execution) {
            Ok(Some(record)) if !record.status.is_closed() => return,
            Ok(_) => {
                queue.rows.pop_first();
            }
            Err(_) => return,
        }
    }
}

pub(super) fn spawn(inner: Arc<Inner>, mut rx: mpsc::UnboundedReceiver<ToTimers>) {
    tokio::spawn(inner.clone().unless_closed(async move {
        let mut queue = TimerQueue::default();
        let mut arrived = None;
        let mut pruned: Option<oneshot::Sender<()>> = None;
        loop {
            let next = queue.next_due().map(|due| inner.clock.sleep_until(due));
            drop(arrived.take());
            if let Some(reply) = pruned.take() {
                let _ = reply.send(());
            }
            tokio::select! {
                got = rx.recv() => match got {
                    Some(ToTimers::Arm(Arming { row, busy })) => {
                        queue.insert(row);
                        arrived = busy;
                    }
                    Some(ToTimers::Prune(reply)) => {
                        prune_ended(&inner, &mut queue);
                        pruned = Some(reply);
                    }
                    None => return,
                },
                _ = async { match next { Some(wait) => wait.await, None => std::future::pending().await } } => {
                    for row in queue.take_due(inner.clock.now_ms()) {
                        let inner = inner.clone();
                        let busy = inner.busy_step();
                        tokio::spawn(async move {
                            fire(&inner, row).await;
                            drop(busy);
                        });
                    }
                }
            }
        }
    }));
}

async fn fire(inner: &Arc<Inner>, row: TimerRow) {
    let deadline = match row.handle {
        EXECUTION_DEADLINE => Some("execution timeout"),
        RUN_DEADLINE => Some("run timeout"),
        _ => None,
    };
    if let Some(what) = deadline {
        // Terminated, no code runs (Temporal's workflow timeouts), unless
        // the deadline moved (a new run) or the execution closed.
        let reason = format!("timed out: its {what} passed");
        match inner
            .terminate_if(&row.execution, &reason, Some((row.due_ms, row.handle)))
            .await
        {
            Ok(()) => tracing::info!(execution = %row.execution, %reason, "execution timed out"),
            // The store could not answer: the deadline fires again once
            // it does. Otherwise it no longer applies (a new run, a close).
            Err(super::EngineError::Store(e)) => {
                tracing::warn!(execution = %row.execution, error = %e, "deadline not applied yet");
                fire_again_later(inner, row, &e);
            }
            Err(e) => {
                tracing::debug!(execution = %row.execution, error = %e, "deadline not applied")
            }
        }
        return;
    }
    let read = crate::store::StoreError::fail_point("timer-fire-read")
        .and_then(|()| inner.store.execution(&row.execution));
    let status = match read {
        Ok(Some(rec)) => rec.status,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(execution = %row.execution, error = %e, "could not read an execution to fire its timer; it fires once the store answers");
            fire_again_later(inner, row, &e);
            return;
        }
    };
    // A closed execution keeps no timers; a stalled one keeps the firing in
    // its history for when a fixed module resumes it.
    let events = match status {
        ExecutionStatus::Running | ExecutionStatus::Stalled => {
            vec![EventKind::TimerFired { handle: row.handle }]
        }
        _ => Vec::new(),
    };
    let now = inner.clock.now_ms();
    let placed = crate::store::Placed::default();
    let mut op = Op::append(&row.execution, now, events.clone());
    if let Op::Append {
        timers_remove,
        require_timer,
        placed: at,
        ..
    } = &mut op
    {
        timers_remove.push((row.due_ms, row.handle));
        // Fires once, and not at all if a reset dropped it.
        *require_timer = Some((row.due_ms, row.handle));
        *at = Some(placed.clone());
    }
    match inner.store.write(vec![op]).await {
        // The firing travels with the wake.
        Ok(Ok(())) => inner.wake_with(&row.execution, placed.position(), events),
        Ok(Err(_)) => {}
        Err(e) => {
            tracing::error!(execution = %row.execution, error = %e, "could not fire a timer; it fires once the store answers");
            fire_again_later(inner, row, &e);
        }
    }
}

/// Arms `row` again once the store answers, after a fire that could not
/// read or write it (its row stays in the store, but not in the queue: only
/// a restart would arm it). Failing writes re-arm every row once they
/// succeed (`recovery`); a store refused for good waits for the next start.
fn fire_again_later(inner: &Arc<Inner>, row: TimerRow, e: &crate::store::StoreError) {
    if !matches!(e, crate::store::StoreError::Io(_))
        || inner.store.write_failure().borrow().is_some()
    {
        return;
    }
    let inner = inner.clone();
    // Time skipping waits for it, as for a timer in the queue.
    let busy = inner.busy_step();
    tokio::spawn(async move {
        let _busy = busy;
        let mut again = super::again::Backoff::background();
        loop {
            again.wait().await;
            match inner.store.execution(&row.execution) {
                Err(crate::store::StoreError::Io(_)) => {}
                Ok(Some(_)) => return inner.arm_timer(row),
                _ => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_due_pops_in_order_up_to_now() {
        let mut q = TimerQueue::default();
        for (due, h) in [(30, 1), (10, 2), (20, 3)] {
            q.insert(TimerRow {
                due_ms: due,
                execution: "e".parse().unwrap(),
                handle: h,
            });
        }
        assert_eq!(q.next_due(), Some(10));
        assert!(q.take_due(5).is_empty());
        let fired: Vec<u64> = q.take_due(20).into_iter().map(|r| r.handle).collect();
        assert_eq!(fired, vec![2, 3]);
        assert_eq!(q.next_due(), Some(30));
    }
}
