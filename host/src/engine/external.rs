//! A workflow's requests to other executions (`signal-execution`,
//! `signal-child`, `cancel-execution`): recorded with the task as an
//! `external_sent` event and an outbox row, delivered after the commit, and
//! again at start for whatever a crash left in the outbox. The store makes
//! a delivery exactly once (see `store::Op::Deliver`).

use std::sync::Arc;

use super::{EngineError, Inner};
use crate::model::{Event, EventKind, ExecutionId, ExecutionRecord, ExecutionStatus};
use crate::store::{ExternalRequest, Op, Placed};

// A running target of a cancellation is read and asked this many times
// (each lost to a timer or a reset) before the delivery says it found none.
use super::lifecycle::CANCEL_ATTEMPTS;

/// The key a new request is recorded (and delivered once) under:
/// `<sender>/<run>/<handle>/<content>`, the last part a digest of what it
/// asks. A reset's re-run that sends the same request from the same handle
/// is still delivered once; one that sends other content (a corrected
/// signal) is another request. Made when the request is, recorded in its
/// `external_sent` event and never made again (requests recorded before
/// 2026-12 have keys without the digest).
pub(super) fn request_key(
    sender: &ExecutionId,
    run: u32,
    handle: u64,
    what: (&str, Option<u64>, &str, &crate::model::Payload, bool),
) -> String {
    use sha2::Digest;
    let (target, child, name, input, cancel) = what;
    let mut d = sha2::Sha256::new();
    for part in [target.as_bytes(), name.as_bytes(), &input.0] {
        d.update((part.len() as u64).to_le_bytes());
        d.update(part);
    }
    d.update(child.map_or([0; 9], |c| {
        let mut b = [1; 9];
        b[1..].copy_from_slice(&c.to_le_bytes());
        b
    }));
    d.update([u8::from(cancel)]);
    let digest = hex::encode(&d.finalize()[..8]);
    format!("{sender}/{run}/{handle}/{digest}")
}

/// The key of the same request (the same handle asking the same) that a
/// reset of this run discarded, if one did: a re-run sends it again under
/// the key it was recorded with, whatever that key's shape, so its target
/// records it once.
pub(super) fn discarded_key<'a>(
    mut discarded: impl Iterator<Item = &'a [Event]>,
    handle: u64,
    what: (&str, Option<u64>, &str, &crate::model::Payload, bool),
) -> Option<String> {
    fn find(
        events: &[Event],
        handle: u64,
        what: (&str, Option<u64>, &str, &crate::model::Payload, bool),
    ) -> Option<String> {
        events.iter().rev().find_map(|e| match &e.event {
            EventKind::ExternalSent {
                handle: h,
                target,
                child,
                name,
                input,
                cancel,
                key,
            } if *h == handle
                && (target.as_str(), *child, name.as_str(), input, *cancel) == what =>
            {
                Some(key.clone())
            }
            // A reset the discarded part held (an earlier reset, undone).
            EventKind::ExecutionReset { discarded, .. } => find(discarded, handle, what),
            _ => None,
        })
    }
    discarded.find_map(|events| find(events, handle, what))
}

/// How a request reaches a partition another host holds: the host's front
/// sends it to the holder, whose engine records it (`Engine::receive`).
pub trait Relay: Send + Sync {
    /// Whether partition `part`'s engine, wherever it runs, found the
    /// target of `request` (sent from partition `from`); `Err` says why it
    /// was not asked (it is asked again later).
    fn receive(
        &self,
        part: u32,
        from: u32,
        request: &ExternalRequest,
    ) -> futures::future::BoxFuture<'static, Result<bool, NotRelayed>>;
}

/// Why a request to an execution of another partition was not recorded
/// there now: it stays in the sender's outbox and is delivered again later.
#[derive(Debug, thiserror::Error)]
pub enum NotRelayed {
    #[error(
        "partition {part} is held by another host, and this host relays nothing (it is stopping)"
    )]
    Stopping { part: u32 },
    #[error("the host holding partition {part} did not answer within {secs} s")]
    NoAnswer { part: u32, secs: u64 },
    #[error(
        "the host holding partition {part} refused this host's token ({status}): give every \
         host the same --token (or --control-token)"
    )]
    TokenRefused { part: u32, status: u16 },
    #[error("partition {part}'s holder answered {status}: {body}")]
    Refused {
        part: u32,
        status: u16,
        body: String,
    },
    #[error("partition {part}'s holder answered {body}, not whether it found the target")]
    Unreadable { part: u32, body: String },
    #[error("the request to partition {part} could not be sent: {why}")]
    Unsendable { part: u32, why: String },
    #[error("partition {part}'s engine on this host: {source}")]
    Here { part: u32, source: EngineError },
}

/// The engines of the partitions a host holds, by partition (on a store
/// of one partition: none): a request to an execution of another
/// partition is recorded there by its engine, or relayed to the host
/// holding it.
#[derive(Default)]
pub(crate) struct Partitions {
    held: std::sync::RwLock<std::collections::BTreeMap<u32, std::sync::Weak<Inner>>>,
    /// Held by the host (weakly here: the relay's front holds the engines).
    relay: std::sync::RwLock<Option<std::sync::Weak<dyn Relay>>>,
}

impl Partitions {
    pub(super) fn relay_through(&self, relay: &Arc<dyn Relay>) {
        *self.relay.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::downgrade(relay));
    }

    fn relay(&self) -> Option<Arc<dyn Relay>> {
        self.relay
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .and_then(std::sync::Weak::upgrade)
    }

    pub(super) fn add(&self, part: u32, inner: &Arc<Inner>) {
        self.held
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(part, Arc::downgrade(inner));
    }

    pub(super) fn remove(&self, part: u32) {
        self.held
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&part);
    }

    fn get(&self, part: u32) -> Option<Arc<Inner>> {
        self.held
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&part)
            .and_then(std::sync::Weak::upgrade)
    }
}

/// The write that asks a running target to cancel, and the run it read.
struct Ask {
    op: Op,
    record: ExecutionRecord,
    history: Vec<Event>,
}

impl Inner {
    /// Delivers `request` in the background.
    pub(super) fn spawn_delivery(self: &Arc<Self>, request: ExternalRequest) {
        let inner = self.clone();
        self.spawn_counted(async move { inner.deliver_request(request).await });
    }

    /// What a cancellation request finds at its target: whether it runs
    /// (or was asked already, or ended cancelled), and for one that runs
    /// and was not asked yet, the write that asks it with the run it read
    /// (for [`Inner::after_cancel`]).
    fn read_target(
        &self,
        target: Option<&ExecutionId>,
        reason: &str,
    ) -> Result<(bool, Option<Ask>), EngineError> {
        let Some(target) = target else {
            return Ok((false, None));
        };
        let Some(record) = self.store.execution(target)? else {
            return Ok((false, None));
        };
        if record.status.is_closed() {
            return Ok((record.status == ExecutionStatus::Cancelled, None));
        }
        if record.cancel_requested {
            return Ok((true, None));
        }
        let (op, history) = self.cancel_op(&record, reason)?;
        Ok((
            true,
            Some(Ask {
                op,
                record,
                history,
            }),
        ))
    }

    /// Delivers `request` again later, while it is still in the outbox (a
    /// delivery or a reset since may have taken it), waiting longer after
    /// each try that could not deliver it. Waits for another host (down
    /// for long, maybe) do not keep time skipping from moving; waits for
    /// this host's store, and each try, do. Ends with the engine.
    fn deliver_later(self: &Arc<Self>, request: ExternalRequest, why: Tried) {
        let inner = self.clone();
        let work = async move {
            let mut again = super::again::Backoff::background();
            let mut why = why;
            loop {
                {
                    let _busy = (why == Tried::Later).then(|| inner.busy_step());
                    again.wait().await;
                }
                let _busy = inner.busy_step();
                let still = match inner.store.outbox_request(&request.key) {
                    Ok(still) => still,
                    Err(crate::store::StoreError::Io(_)) => {
                        why = Tried::Later;
                        continue;
                    }
                    Err(_) => return,
                };
                let Some(request) = still else { return };
                why = inner.clone().try_delivery(request).await;
                if why == Tried::Done {
                    return;
                }
            }
        };
        tokio::spawn(self.clone().unless_closed(work));
    }

    /// Delivers the requests `sender` has in the outbox once the store
    /// answers reads (a reset kept them, and its read of them failed).
    pub(super) fn deliver_sent_by_later(self: &Arc<Self>, sender: &ExecutionId) {
        let (inner, sender) = (self.clone(), sender.clone());
        let work = async move {
            let mut again = super::again::Backoff::background();
            loop {
                again.wait().await;
                match inner.store.outbox() {
                    Ok(rows) => {
                        for request in rows.into_iter().filter(|r| r.sender == sender) {
                            inner.spawn_delivery(request);
                        }
                        return;
                    }
                    Err(crate::store::StoreError::Io(_)) => {}
                    Err(_) => return,
                }
            }
        };
        tokio::spawn(self.clone().unless_closed(work));
    }

    async fn deliver_request(self: Arc<Self>, request: ExternalRequest) {
        match self.clone().try_delivery(request.clone()).await {
            Tried::Done => {}
            why => self.deliver_later(request, why),
        }
    }

    /// One try at delivering `request`: `Later` when it must be tried
    /// again (the store or the target's host could not answer now).
    async fn try_delivery(self: Arc<Self>, request: ExternalRequest) -> Tried {
        crate::pause::point("external-before-delivery").await;
        let target: Option<ExecutionId> = request.target.parse().ok();
        let reason: String = serde_json::from_slice(&request.input.0).unwrap_or_default();
        // A target in another partition (never a child: children are made
        // in their parent's) is asked by that partition's engine first,
        // once per key; this partition then records what it found.
        let elsewhere = match (&target, request.child) {
            (Some(t), None) => match self.store.partition_elsewhere(t.as_str()) {
                Ok(part) => part,
                Err(e) => {
                    tracing::warn!(key = %request.key, error = %e, "request not delivered yet; delivered again once the store answers");
                    return Tried::Later;
                }
            },
            _ => None,
        };
        if let (Some(part), Some(t)) = (elsewhere, &target) {
            let from = self.store.partition().unwrap_or_default();
            let found = match self.engines.get(part) {
                Some(there) => there
                    .receive(&request, from, t, &reason)
                    .await
                    .map_err(|source| NotRelayed::Here { part, source }),
                // Held by another host: its front relays it there.
                None => match self.engines.relay() {
                    Some(relay) => relay.receive(part, from, &request).await,
                    None => Err(NotRelayed::Stopping { part }),
                },
            };
            let found = match found {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(key = %request.key, part, error = %e, "request not delivered yet; delivered again later");
                    return Tried::Elsewhere;
                }
            };
            // Tests stop here to kill the host between the two writes: the
            // request stays in the outbox, and its delivery again finds it
            // recorded at the target.
            crate::pause::point("external-received").await;
            let op = Op::Deliver {
                request: request.clone(),
                at_ms: self.clock.now_ms(),
                target_found: Some(found),
                cancel: None,
            };
            match self.store.write(vec![op]).await {
                Ok(Ok(())) => {
                    tracing::debug!(key = %request.key, target = %request.target, part, "request delivered");
                    self.wake(&request.sender);
                }
                Ok(Err(e)) => tracing::warn!(key = %request.key, error = %e, "request refused"),
                Err(e) => {
                    tracing::warn!(key = %request.key, error = %e, "request not delivered; retried when the store writes again")
                }
            }
            return Tried::Done;
        }
        // A cancellation is asked in the delivery's own transaction, so a
        // request that a reset discarded (or a delivery made) meanwhile asks
        // nothing; a cancel that loses a race with the target's own write
        // is read and asked again.
        for attempt in 0..=CANCEL_ATTEMPTS {
            let (target_found, asked) = if request.cancel {
                let read = crate::store::StoreError::fail_point("deliver-read")
                    .map_err(EngineError::from)
                    .and_then(|()| self.read_target(target.as_ref(), &reason));
                match read {
                    Ok((_, Some(_))) if attempt == CANCEL_ATTEMPTS => (Some(false), None),
                    Ok((found, asked)) => (Some(found), asked),
                    // The store could not answer now: delivered again once
                    // it does (the request stays in the outbox meanwhile).
                    Err(EngineError::Store(e @ crate::store::StoreError::Io(_))) => {
                        tracing::warn!(key = %request.key, error = %e, "request not delivered yet; delivered again once the store answers");
                        return Tried::Later;
                    }
                    Err(e) => {
                        tracing::warn!(key = %request.key, error = %e, "request not delivered; retried at the next start");
                        return Tried::Done;
                    }
                }
            } else {
                (None, None)
            };
            // The store says whether the cancellation's append applied (it
            // does not while the request is gone from the outbox).
            let placed = Placed::default();
            // Recorded once at the target, by the request's key (kept for
            // the target's retention): a reset of the sender that delivers
            // it again asks nobody a second time, nor a new execution
            // started under the target's id since.
            let forget_at = match &asked {
                Some(a) => match self.retention_ms(a.record.workflow_type.as_str()) {
                    Ok(ms) => self.clock.now_ms().saturating_add(ms),
                    Err(e) => {
                        tracing::warn!(key = %request.key, error = %e, "request not delivered yet; delivered again once the store answers");
                        return Tried::Later;
                    }
                },
                None => 0,
            };
            let cancel = asked.as_ref().map(|a| {
                let mut op = a.op.clone();
                if let Op::Append {
                    placed: at,
                    once_key,
                    ..
                } = &mut op
                {
                    *at = Some(placed.clone());
                    *once_key = Some((request.key.clone(), forget_at));
                }
                Box::new(op)
            });
            let op = Op::Deliver {
                request: request.clone(),
                at_ms: self.clock.now_ms(),
                target_found,
                cancel,
            };
            match self.store.write(vec![op]).await {
                Ok(Ok(())) => {
                    tracing::debug!(key = %request.key, target = %request.target, "request delivered");
                    if let (Some(a), Some(_)) = (&asked, placed.position()) {
                        tracing::info!(execution = %a.record.id, %reason, "cancellation requested");
                        // Wakes the target too.
                        self.after_cancel(&a.record, &a.history).await;
                    } else if let (Some(t), false) = (&target, request.cancel) {
                        self.wake(t);
                    }
                    self.wake(&request.sender);
                    return Tried::Done;
                }
                Ok(Err(e)) if asked.is_some() => {
                    tracing::debug!(key = %request.key, error = %e, "cancellation raced its target; read again");
                }
                Ok(Err(e)) => {
                    tracing::warn!(key = %request.key, error = %e, "request refused");
                    return Tried::Done;
                }
                Err(e) => {
                    tracing::warn!(key = %request.key, error = %e, "request not delivered; retried when the store writes again");
                    return Tried::Done;
                }
            }
        }
        Tried::Done
    }
}

/// What one try at a delivery came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tried {
    /// Delivered, or ended (refused, or left for the next start).
    Done,
    /// Not delivered now (this host's store did not answer): tried again.
    Later,
    /// Not delivered now (the host holding the target's partition did not
    /// answer): tried again.
    Elsewhere,
}

impl super::Engine {
    /// Records here a request an execution of partition `from` sent to one
    /// of this engine's partition, relayed by the sender's host: whether
    /// its target was found (see [`Relay`]).
    pub async fn receive(&self, request: ExternalRequest, from: u32) -> Result<bool, EngineError> {
        if self.inner.store.partition().is_none() {
            return Err(EngineError::BadRequest(
                "requests are relayed between the partitions of a store of several, and this \
                 store has one: nothing was recorded"
                    .into(),
            ));
        }
        let target: ExecutionId = request.target.parse().map_err(|_| {
            EngineError::BadRequest(format!("no execution id: {:?}", request.target))
        })?;
        let reason: String = serde_json::from_slice(&request.input.0).unwrap_or_default();
        self.inner.receive(&request, from, &target, &reason).await
    }
}

impl Inner {
    /// Records here (this engine's partition holds `target`) a request an
    /// execution of another partition sent, once per key: whether the
    /// target was found (running, or for a cancellation also asked before
    /// or ended cancelled).
    async fn receive(
        self: &Arc<Self>,
        request: &ExternalRequest,
        from: u32,
        target: &ExecutionId,
        reason: &str,
    ) -> Result<bool, EngineError> {
        if !request.cancel {
            let op = Op::Receive {
                request: request.clone(),
                at_ms: self.clock.now_ms(),
                from,
                cancel: None,
            };
            return match self.store.write(vec![op]).await? {
                Ok(()) => {
                    self.wake(target);
                    Ok(true)
                }
                Err(crate::store::OpError::NoSuchExecution(_)) => Ok(false),
                Err(e) => Err(e.into()),
            };
        }
        for _ in 0..=CANCEL_ATTEMPTS {
            let (found, ask) = self.read_target(Some(target), reason)?;
            let Some(ask) = ask else {
                return Ok(found);
            };
            let forget_at = self
                .clock
                .now_ms()
                .saturating_add(self.retention_ms(ask.record.workflow_type.as_str())?);
            let placed = Placed::default();
            let mut cancel = ask.op;
            if let Op::Append {
                placed: at,
                once_key,
                ..
            } = &mut cancel
            {
                *at = Some(placed.clone());
                *once_key = Some((request.key.clone(), forget_at));
            }
            let op = Op::Receive {
                request: request.clone(),
                at_ms: self.clock.now_ms(),
                from,
                cancel: Some(Box::new(cancel)),
            };
            match self.store.write(vec![op]).await? {
                Ok(()) => {
                    if placed.position().is_some() {
                        tracing::info!(execution = %ask.record.id, %reason, "cancellation requested");
                        self.after_cancel(&ask.record, &ask.history).await;
                    }
                    return Ok(true);
                }
                // Lost a race with the target's own write: read again.
                Err(e) => {
                    tracing::debug!(key = %request.key, error = %e, "cancellation raced its target; read again");
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::replay::Replayer;
    use crate::model::Payload;

    fn ev(index: u64, event: EventKind) -> Event {
        Event {
            index,
            at_ms: 0,
            event,
            waits: false,
        }
    }

    fn sent(index: u64, handle: u64, input: &str, key: &str) -> Event {
        ev(
            index,
            EventKind::ExternalSent {
                handle,
                target: "t".into(),
                child: None,
                name: "tick".into(),
                input: Payload(input.as_bytes().to_vec()),
                cancel: false,
                key: key.into(),
            },
        )
    }

    fn reset(index: u64, discarded: Vec<Event>) -> Event {
        ev(
            index,
            EventKind::ExecutionReset {
                to_event: 0,
                reason: "test".into(),
                discarded,
                request_id: None,
            },
        )
    }

    /// A re-run after a reset sends the same request under the key it was
    /// recorded with, whatever its shape (here one written before keys
    /// named their content), so the target, which records each key once,
    /// is not signalled twice; a request asking something else from that
    /// handle, or the same from another handle, is another request.
    #[test]
    fn a_rerun_sends_a_discarded_request_under_its_recorded_key() {
        let started = ev(
            0,
            EventKind::ExecutionStarted {
                workflow_type: "w".parse().unwrap(),
                module: crate::model::ModuleHash::of(b"m"),
                input: Payload::default(),
                seed: 1,
                random: None,
                search_attributes: Default::default(),
                memo: Default::default(),
            },
        );
        // Two resets: the second discarded the first, which had discarded
        // handle 1's request recorded by older code.
        let first = reset(2, vec![sent(1, 1, "a", "s/1/1")]);
        let history = vec![
            started,
            reset(3, vec![first, sent(4, 2, "b", "s/1/2/0123456789abcdef")]),
        ];
        let replayer = Replayer::new(history);
        let key = |handle: u64, input: &str| {
            let input = Payload(input.as_bytes().to_vec());
            discarded_key(
                replayer.discarded(),
                handle,
                ("t", None, "tick", &input, false),
            )
        };
        assert_eq!(key(1, "a").as_deref(), Some("s/1/1"));
        assert_eq!(key(2, "b").as_deref(), Some("s/1/2/0123456789abcdef"));
        assert_eq!(key(1, "other"), None);
        assert_eq!(key(3, "a"), None);
        let id: ExecutionId = "s".parse().unwrap();
        let a = Payload(b"a".to_vec());
        let made = request_key(&id, 1, 1, ("t", None, "tick", &a, false));
        assert!(
            made.starts_with("s/1/1/") && made.len() == "s/1/1/".len() + 16,
            "{made}"
        );
        assert_ne!(
            made,
            request_key(&id, 1, 1, ("t", None, "tock", &a, false)),
            "the content is in the key"
        );
    }
}
