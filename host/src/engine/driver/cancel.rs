//! A cancellation reaching the code. The request cancelled what the run had
//! started by then; what the code started between the request and this
//! delivery (it had not seen the request yet) is cancelled here, so a
//! workflow waiting on it sees the cancellation instead of waiting on.

use super::commands::child_cancelled;
use super::*;
use crate::engine::lifecycle::pending_timers;
use crate::model::child_cancellation;

/// Tries before giving up on cancelling the timers when they keep firing.
const ATTEMPTS: usize = 3;

impl Driver {
    /// Completes the code's pending timers `cancelled`, stops its pending
    /// activities and asks its running children to cancel. Only what the
    /// code issued so far counts (the same set live and in replay); a replay
    /// finds the timers' `timer_cancelled` recorded already and writes
    /// nothing.
    pub(super) async fn cancel_pending(&mut self) -> Result<(), Stop> {
        let issued = self.replayer.issued();
        // Children whose cancellation type completes their handle at once
        // are completed in the same write as the timers; the others are
        // asked to cancel after it (`ask`).
        let mut ask = Vec::new();
        for _ in 0..ATTEMPTS {
            self.sync()?;
            let history = self.replayer.history();
            let timers: Vec<(u64, u64)> = pending_timers(history)
                .into_iter()
                .filter(|(h, _)| *h <= issued)
                .collect();
            let mut events: Vec<EventKind> = timers
                .iter()
                .map(|&(handle, _)| EventKind::TimerCancelled { handle })
                .collect();
            ask.clear();
            for (handle, child_id, _) in crate::model::pending_children(history) {
                if handle > issued {
                    continue;
                }
                let (asks, completes) =
                    CancellationType::child_steps(child_cancellation(history, handle));
                if completes {
                    events.push(child_cancelled(handle, &child_id));
                }
                if asks {
                    ask.push((handle, child_id));
                }
            }
            if events.is_empty() {
                break;
            }
            let mut op = Op::append(&self.id, self.inner.clock.now_ms(), events);
            if let Op::Append {
                timers_remove,
                expect_module,
                expect_resets,
                ..
            } = &mut op
            {
                *timers_remove = timers.iter().map(|&(h, due)| (due, h)).collect();
                *expect_module = Some(self.module);
                *expect_resets = Some(self.resets);
            }
            match self.inner.store.write(vec![op]).await? {
                // Read back at the next wait, with whatever came between.
                Ok(()) => {
                    self.synced = false;
                    break;
                }
                // A timer fired or a child ended meanwhile: read it and
                // cancel the others.
                Err(OpError::AlreadyCompleted { .. }) => continue,
                Err(_) => return Err(Stop::Reload),
            }
        }
        let history = self.replayer.history();
        for task in activities::pending(&self.id, self.resets, history) {
            if task.handle <= issued {
                self.inner.stop_activity(&self.id, self.resets, task.handle);
            }
        }
        for child in ask {
            self.cancel_child(child);
        }
        Ok(())
    }

    /// Asks the child this run started with command `handle` to cancel,
    /// in the background (a child that ended meanwhile has nothing to
    /// cancel).
    pub(super) fn cancel_child(&self, (handle, child): (u64, String)) {
        let inner = self.inner.clone();
        let parent = (self.id.clone(), self.resets, handle);
        self.inner.spawn_counted(async move {
            inner
                .ask_to_cancel(&child, &parent, "its parent cancelled it")
                .await;
        });
    }
}
