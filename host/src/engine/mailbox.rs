//! Which executions have an instance in memory, and how messages reach it:
//! a wake loads (replays) an execution that has none; an idle instance evicts
//! itself only with an empty mailbox; instances in memory are bounded by
//! `--max-instances`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::skip::BusyGuard;
use super::{execution, Inner, Msg};
use crate::model::{ExecutionId, ExecutionStatus};

/// Why a message was not handed to an execution's instance.
#[derive(Debug)]
pub(super) enum NotDelivered {
    /// The execution does not run (closed, stalled, or not there).
    NotRunning,
    /// Its record could not be read; it is loaded again once it can be.
    Unread(crate::store::StoreError),
}

/// A message in an instance's mailbox. On a manual clock it counts as a
/// workflow step until the instance takes it: time skipping must not find
/// the host idle between a wake and its instance's step.
pub(crate) struct Mail {
    msg: Msg,
    _queued: Option<BusyGuard>,
}

impl Mail {
    /// The message; the instance counts its own step from here.
    pub(super) fn open(self) -> Msg {
        self.msg
    }
}

impl Inner {
    /// Tells a running execution that its history grew, loading (replaying)
    /// it if it has no instance in memory.
    pub(super) fn wake(self: &Arc<Self>, id: &ExecutionId) {
        let _ = self.deliver(id, Msg::Wake);
    }

    /// [`Inner::wake`], with the events a writer appended at `position`
    /// (a plain wake when it does not know where they went).
    pub(super) fn wake_with(
        self: &Arc<Self>,
        id: &ExecutionId,
        position: Option<crate::store::Position>,
        events: Vec<crate::model::EventKind>,
    ) {
        let Some(position) = position.filter(|_| !events.is_empty()) else {
            return self.wake(id);
        };
        let events = (position.first..)
            .zip(events)
            .map(|(index, event)| {
                crate::model::Event {
                    index,
                    at_ms: position.at_ms,
                    event,
                    waits: false,
                }
                .as_stored()
            })
            .collect();
        let msg = Msg::Appended(super::Appended {
            epoch: position.epoch,
            run_start: position.run_start,
            events,
        });
        let _ = self.deliver(id, msg);
    }

    /// Hands `msg` to the execution's instance, loading it first if it has
    /// none; says why not when it could not.
    pub(super) fn deliver(
        self: &Arc<Self>,
        id: &ExecutionId,
        msg: Msg,
    ) -> Result<(), NotDelivered> {
        // Its partition is another host's now: that host loads it.
        if self.is_closed() {
            return Err(NotDelivered::NotRunning);
        }
        let mut actors = self.actors.lock().unwrap_or_else(|p| p.into_inner());
        let msg = match actors.get(id) {
            Some(tx) => match tx.send(Mail {
                msg,
                _queued: self.busy_step(),
            }) {
                Ok(()) => {
                    crate::metrics::get().cache_hits.inc();
                    return Ok(());
                }
                Err(mpsc::error::SendError(m)) => m.open(),
            },
            None => msg,
        };
        let read = crate::store::StoreError::fail_point("wake-read")
            .and_then(|()| self.store.execution(id));
        match read {
            Ok(Some(r)) if r.status == ExecutionStatus::Running => {}
            Ok(_) => return Err(NotDelivered::NotRunning),
            Err(e) => {
                tracing::error!(execution = %id, error = %e, "could not read an execution to wake it; it is loaded again once the store answers");
                // What the wake announced is in the store: the load after
                // takes it. Failing writes resume everything once they
                // succeed (`recovery`).
                if matches!(e, crate::store::StoreError::Io(_))
                    && self.store.write_failure().borrow().is_none()
                {
                    self.load_later(id);
                }
                return Err(NotDelivered::Unread(e));
            }
        }
        // The load reads the history after this (and after the commit of
        // whatever a wake announces): only a request is still news to it.
        let msg = matches!(msg, Msg::Request(_)).then_some(msg);
        self.spawn_instance(&mut actors, id, msg, None);
        Ok(())
    }

    /// Loads execution `id` that a `CreateExecution` just wrote, on the
    /// record it wrote (`written`) and its first event (`started`), without
    /// reading either back; a plain wake when the write did not say. An
    /// instance some other writer's wake loaded meanwhile read them itself.
    pub(super) fn load_created(
        self: &Arc<Self>,
        id: &ExecutionId,
        written: Option<crate::model::ExecutionRecord>,
        started: &crate::model::EventKind,
    ) {
        let Some(record) = written else {
            return self.wake(id);
        };
        let first = crate::model::Event {
            index: record.run_start,
            at_ms: record.created_at_ms,
            event: started.clone(),
            waits: false,
        }
        .as_stored();
        let mut actors = self.actors.lock().unwrap_or_else(|p| p.into_inner());
        if actors.get(&record.id).is_some_and(|tx| !tx.is_closed()) {
            return;
        }
        let id = record.id.clone();
        let loaded = execution::Loaded {
            record,
            history: vec![first],
        };
        self.spawn_instance(&mut actors, &id, None, Some(loaded));
    }

    /// Registers a mailbox for `id` (holding `msg`) and starts its
    /// instance, on `loaded` when the caller has its record and history.
    fn spawn_instance(
        self: &Arc<Self>,
        actors: &mut std::collections::HashMap<ExecutionId, mpsc::UnboundedSender<Mail>>,
        id: &ExecutionId,
        msg: Option<Msg>,
        loaded: Option<execution::Loaded>,
    ) {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Some(msg) = msg {
            // The instance's own step counts from its spawn.
            let _ = tx.send(Mail { msg, _queued: None });
        }
        actors.insert(id.clone(), tx);
        tokio::spawn(execution::run(
            self.clone(),
            id.clone(),
            rx,
            self.busy_step(),
            loaded,
        ));
    }

    /// Drops the execution's mailbox unless a message is waiting in it (then
    /// hands that message back). Messages are sent under the same lock, so
    /// none can be lost in between.
    pub(super) fn try_evict(
        &self,
        id: &ExecutionId,
        mailbox: &mut mpsc::UnboundedReceiver<Mail>,
    ) -> Option<Mail> {
        let mut actors = self.actors.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(m) = mailbox.try_recv() {
            return Some(m);
        }
        actors.remove(id);
        None
    }

    /// After a move to another module: an instance in memory stops at its
    /// next wait and loads again on the new module; a stalled or evicted
    /// execution is loaded now.
    pub(super) fn reload(self: &Arc<Self>, id: &ExecutionId) {
        if self.is_cached(id) {
            self.reloads
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone());
        }
        self.wake(id);
    }

    pub(super) fn take_reload(&self, id: &ExecutionId) -> bool {
        self.reloads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
    }

    pub(super) fn forget(&self, id: &ExecutionId) {
        self.actors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Drops `id`'s mailbox if its instance is gone (the receiving end
    /// dropped), not a newer instance's.
    pub(super) fn forget_closed(&self, id: &ExecutionId) {
        let mut actors = self.actors.lock().unwrap_or_else(|p| p.into_inner());
        if actors.get(id).is_some_and(|tx| tx.is_closed()) {
            actors.remove(id);
        }
    }

    pub(super) fn is_cached(&self, id: &ExecutionId) -> bool {
        self.actors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(id)
    }

    /// A slot for one workflow instance in memory. While loads wait for
    /// one, one of them (the asker) asks as many idle instances as there
    /// are waiters to evict themselves, every 20 ms, and an instance that
    /// becomes idle evicts itself at once; the others only wait (a million
    /// waiters must not mean a million timers). Each wait keeps its place
    /// in the semaphore's queue.
    pub(super) async fn instance_slot(&self) -> tokio::sync::SemaphorePermit<'_> {
        let budget = &*self.budget;
        if let Ok(p) = budget.instance_slots.try_acquire() {
            return p;
        }
        let _waiting = Counted::new(&budget.slot_waiters);
        let acquire = budget.instance_slots.acquire();
        tokio::pin!(acquire);
        loop {
            let asker = budget
                .slot_asker
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok();
            if !asker {
                tokio::select! {
                    p = &mut acquire => {
                        return p.expect("the instance semaphore is never closed");
                    }
                    // The asker got its slot: one waiter takes over.
                    _ = budget.asker_left.notified() => continue,
                }
            }
            let _asking = Asking(budget);
            loop {
                let wanted = budget.slot_waiters.load(Ordering::SeqCst);
                for _ in 0..wanted.min(budget.max) {
                    budget.pressure.notify_one();
                }
                tokio::select! {
                    p = &mut acquire => {
                        return p.expect("the instance semaphore is never closed");
                    }
                    _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                }
            }
        }
    }

    /// Whether loads wait for an instance slot: an idle instance evicts.
    pub(super) fn slots_wanted(&self) -> bool {
        self.budget.slot_waiters.load(Ordering::SeqCst) > 0
    }
}

/// The workflow instances a host keeps in memory at once, counted across
/// its engines: one permit each.
pub(crate) struct InstanceBudget {
    /// One permit per workflow instance in memory (`max_instances`).
    instance_slots: tokio::sync::Semaphore,
    /// `max_instances` (at least one).
    max: usize,
    /// Told when a load waits for an instance slot: idle instances evict.
    pub(super) pressure: tokio::sync::Notify,
    /// Loads waiting for an instance slot now.
    slot_waiters: AtomicUsize,
    /// Whether one of them asks idle instances to evict (see
    /// `Inner::instance_slot`), and the call to the next when it stops.
    slot_asker: std::sync::atomic::AtomicBool,
    asker_left: tokio::sync::Notify,
}

impl InstanceBudget {
    pub(super) fn new(max_instances: usize) -> Self {
        let max = max_instances.max(1);
        Self {
            instance_slots: tokio::sync::Semaphore::new(max),
            max,
            pressure: tokio::sync::Notify::new(),
            slot_waiters: AtomicUsize::new(0),
            slot_asker: std::sync::atomic::AtomicBool::new(false),
            asker_left: tokio::sync::Notify::new(),
        }
    }
}

/// One more in a count while it lives.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The asker's role, handed to another waiter when it ends.
struct Asking<'a>(&'a InstanceBudget);

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        self.0.slot_asker.store(false, Ordering::SeqCst);
        self.0.asker_left.notify_one();
    }
}
