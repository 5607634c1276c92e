//! What the task queues of a host of several tell its front, and what the
//! front tells them: a task queued that no poll here waits for (the front
//! announces it to the other hosts), and a poll to stop waiting (another
//! host announced a task of its queue: the front asks there instead).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;

/// Told a queue and how many of its tasks no poll here waits for.
pub type OnUnpolled = Arc<dyn Fn(&str, u64) + Send + Sync>;

/// Where a host's engines find who is told of their unpolled tasks: set
/// once by the host, before its first engine recovers (recovery queues the
/// tasks of the attempts it dispatches again).
#[derive(Clone, Default)]
pub struct Unpolled(Arc<OnceLock<OnUnpolled>>);

impl Unpolled {
    /// `tell` is told from now on (the first one set stays).
    pub fn set(&self, tell: OnUnpolled) {
        let _ = self.0.set(tell);
    }

    pub(super) fn tell(&self, queue: &str, tasks: u64) {
        if let Some(tell) = self.0.get() {
            tell(queue, tasks);
        }
    }
}

/// One worker's poll on the engines of several partitions: ends their
/// waits (not a take under way: one that found a task records it and
/// hands it out; once stopped, stays stopped), and lets one of them take a
/// task, so that the poll records one task as taken, not one per engine
/// (the engines that lose the race are dropped, and a record of theirs
/// would stand for a task no worker has).
#[derive(Default)]
pub struct PollStop {
    stopped: AtomicBool,
    notify: Notify,
    /// The claim that may take a task (0: none yet).
    taker: AtomicU64,
}

/// Names each claim of a task queue (for [`PollStop::may_take`]).
static CLAIMS: AtomicU64 = AtomicU64::new(1);

/// A new claim's name.
pub(super) fn claim_id() -> u64 {
    CLAIMS.fetch_add(1, Ordering::Relaxed)
}

impl PollStop {
    /// Whether claim `id` may take a task for this poll: the first to ask
    /// may, again and again; every other may not.
    pub(super) fn may_take(&self, id: u64) -> bool {
        match self
            .taker
            .compare_exchange(0, id, Ordering::SeqCst, Ordering::SeqCst)
        {
            Ok(_) => true,
            Err(taker) => taker == id,
        }
    }

    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    /// Resolves once [`stop`](Self::stop) was called.
    pub async fn stopped(&self) {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Registered before the flag is read: a stop in between wakes it.
            notified.as_mut().enable();
            if self.stopped.load(Ordering::SeqCst) {
                return;
            }
            notified.await;
        }
    }
}
