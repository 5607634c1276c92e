//! Writing an activity attempt's heartbeat details. A chatty activity may
//! heartbeat thousands of times a second; each beat used to be its own write
//! in the committer's unbounded queue. Here an attempt has at most one write
//! in flight: beats that arrive meanwhile replace each other, and the
//! latest is written next. Details over the payload limit are not kept (the
//! beat still counts for the heartbeat timeout).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::model::{ExecutionId, Payload};
use crate::store::{Op, Store};

pub(super) struct Beats {
    store: Store,
    id: ExecutionId,
    run_start: u64,
    epoch: u32,
    handle: u64,
    max_bytes: usize,
    state: Mutex<State>,
    seq: AtomicU64,
    /// Writes made, for tests and metrics.
    written: AtomicU64,
}

#[derive(Default)]
struct State {
    next: Option<Op>,
    writing: bool,
}

impl Beats {
    /// The beats of `attempt` of the activity `(id, run start, epoch,
    /// handle)`, numbered above `kept` (the number of the beat the store
    /// holds: an attempt run again after a crash goes on above its own
    /// earlier beats).
    pub(super) fn new(
        store: Store,
        (id, run_start, epoch, handle): (ExecutionId, u64, u32, u64),
        attempt: u32,
        kept: u64,
        max_bytes: usize,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            id,
            run_start,
            epoch,
            handle,
            max_bytes,
            state: Mutex::new(State::default()),
            // The store keeps the beat with the highest sequence number, and
            // the key is the activity's, not the attempt's: a later attempt's
            // beats must rank above every beat of the earlier ones.
            seq: AtomicU64::new((u64::from(attempt) << 32).max(kept)),
            written: AtomicU64::new(0),
        })
    }

    /// Keeps `details` as the attempt's latest, written after any write in
    /// flight. Must be called inside the tokio runtime.
    pub(super) fn offer(self: &Arc<Self>, details: Payload) {
        if details.len() > self.max_bytes {
            tracing::warn!(execution = %self.id, handle = self.handle, bytes = details.len(), limit = self.max_bytes, "heartbeat details over the payload limit are not kept");
            return;
        }
        let op = Op::Heartbeat {
            id: self.id.clone(),
            run_start: self.run_start,
            epoch: self.epoch,
            handle: self.handle,
            seq: self.seq.fetch_add(1, Ordering::SeqCst) + 1,
            details: Some(details),
        };
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.next = Some(op);
        if state.writing {
            return;
        }
        state.writing = true;
        drop(state);
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let op = {
                    let mut state = me.state.lock().unwrap_or_else(|p| p.into_inner());
                    match state.next.take() {
                        Some(op) => op,
                        None => {
                            state.writing = false;
                            return;
                        }
                    }
                };
                me.written.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = me.store.write(vec![op]).await {
                    tracing::warn!(error = %e, "could not record a heartbeat");
                }
            }
        });
    }

    #[cfg(test)]
    fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    fn idle(&self) -> bool {
        !self.state.lock().unwrap_or_else(|p| p.into_inner()).writing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 14, defect 12: every beat was its own write. A burst makes a
    /// few writes, and the last beat is the one kept.
    #[tokio::test]
    async fn a_burst_of_beats_coalesces_and_keeps_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let id: ExecutionId = "e".parse().unwrap();
        store
            .write(vec![crate::store::tests::create("e")])
            .await
            .unwrap()
            .unwrap();
        let beats = Beats::new(store.clone(), (id.clone(), 0, 0, 1), 1, 0, 100);
        for n in 0..1_000u32 {
            beats.offer(Payload(n.to_string().into_bytes()));
        }
        beats.offer(Payload(vec![b'x'; 101]));
        while !beats.idle() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert!(beats.written() < 100, "{} writes", beats.written());
        assert_eq!(
            store.heartbeat(&id, 0, 1).unwrap(),
            Some(Payload(b"999".to_vec())),
            "the last beat within the limit is kept"
        );
        // The next attempt's first beat replaces the last of the one before.
        let next = Beats::new(store.clone(), (id.clone(), 0, 0, 1), 2, 0, 100);
        next.offer(Payload(b"resumed".to_vec()));
        while !next.idle() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert_eq!(
            store.heartbeat(&id, 0, 1).unwrap(),
            Some(Payload(b"resumed".to_vec()))
        );
        // A beat of another run (one winding down after a continue-as-new)
        // keeps nothing.
        let stale = Beats::new(store.clone(), (id.clone(), 7, 0, 1), 3, 0, 100);
        stale.offer(Payload(b"stale".to_vec()));
        while !stale.idle() {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        assert_eq!(
            store.heartbeat(&id, 0, 1).unwrap(),
            Some(Payload(b"resumed".to_vec()))
        );
    }
}
