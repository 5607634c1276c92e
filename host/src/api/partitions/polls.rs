//! A worker's poll on a host of a store of several partitions: the tasks
//! of the partitions held here, and of those other hosts hold. A host
//! that queues a task while no worker polls it for one announces it to
//! the others (PostgreSQL's `NOTIFY`); a poll waiting on another host asks
//! at the notice, and at its next round without one (a notice may be
//! lost, never a task).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use axum::body::Bytes;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{oneshot, Front, Hosts, ASK_LIMIT};
use crate::api::cluster::send;
use crate::api::error::ApiError;
use crate::engine::PollStop;

/// Set on a worker's poll one host asks another for a task of its
/// partitions: answered from the engines there, never sent on.
const POLL_HERE: &str = "x-weft-poll-here";

/// How long a poll waits on the partitions held here, without another
/// host's notice, before it asks the other hosts once for a task of
/// theirs: a task of another host's partition whose notice was lost
/// reaches a worker polling here within about this long.
const POLL_ROUND: Duration = Duration::from_secs(1);

/// The other hosts' notices of tasks waiting there, by queue: each task
/// wakes one poll waiting here for that queue (or, with none waiting, the
/// next to wait: one).
#[derive(Clone, Default)]
pub(super) struct Notices(Arc<Mutex<HashMap<String, Arc<Notify>>>>);

/// More than a host's polls of one queue wait at once.
const WAKE_AT_MOST: u64 = 10_000;

impl Notices {
    /// Another host has `tasks` tasks waiting on `queue`.
    pub(super) fn told(&self, queue: &str, tasks: u64) {
        let notify = self.lock().get(queue).cloned();
        if let Some(notify) = notify {
            for _ in 0..tasks.min(WAKE_AT_MOST) {
                notify.notify_one();
            }
        }
    }

    /// Every poll waiting here looks again (this host took a partition: a
    /// poll waiting on the ones it held before would not see its tasks).
    pub(super) fn wake_all(&self) {
        for notify in self.lock().values() {
            notify.notify_waiters();
        }
    }

    /// What wakes a poll of `queue` at a notice (forgotten with the last
    /// poll of that queue).
    fn listen(&self, queue: &str) -> Listening<'_> {
        let notify = self.lock().entry(queue.to_owned()).or_default().clone();
        Listening {
            notices: self,
            queue: queue.to_owned(),
            notify,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A poll's share of its queue's notices.
struct Listening<'a> {
    notices: &'a Notices,
    queue: String,
    notify: Arc<Notify>,
}

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        let mut map = self.notices.lock();
        // The map's and this one's: no other poll of the queue listens.
        if Arc::strong_count(&self.notify) == 2 {
            map.remove(&self.queue);
        }
    }
}

impl Front {
    /// A worker's poll: a task of any partition, held here or by another
    /// host. It looks at the partitions held here and asks each other host
    /// once, at once, for a task of theirs; then waits on the partitions
    /// held here a round at a time (or until another host announces a
    /// task of its queue), asking the others between rounds: one task
    /// taken at a time, none taken for nobody. The first look waits for
    /// nothing, so another host's backlog reaches a worker polling here at
    /// once, not a round later.
    pub(super) async fn poll(&self, parts: Parts, body: Bytes, queue: &str) -> Response {
        if parts.headers.contains_key(POLL_HERE) {
            return self.poll_here(parts, body).await;
        }
        let wait = match poll_wait(&parts.uri) {
            Ok(wait) => wait,
            Err(refused) => return refused.into_response(),
        };
        let listening = self.notices.listen(queue);
        let deadline = Instant::now() + wait;
        let mut round_len = Duration::ZERO;
        loop {
            let round = deadline
                .saturating_duration_since(Instant::now())
                .min(round_len);
            round_len = POLL_ROUND;
            let stop = Arc::new(PollStop::default());
            let mut ask = waiting(&parts, round);
            ask.extensions.insert(stop.clone());
            let here = self.poll_here(ask, body.clone());
            tokio::pin!(here);
            // At a notice the wait here ends (a take under way goes on and
            // hands its task out), and the others are asked.
            let answer = if round.is_zero() {
                here.await
            } else {
                tokio::select! {
                    answer = &mut here => answer,
                    () = listening.notify.notified() => {
                        crate::metrics::get().task_polls_woken.inc();
                        stop.stop();
                        here.await
                    }
                }
            };
            if answer.status() != StatusCode::NO_CONTENT {
                return answer;
            }
            if let Some(task) = self.poll_others(&parts, &body).await {
                return task;
            }
            if Instant::now() >= deadline {
                return answer;
            }
        }
    }

    /// The first task a partition held here hands out within the poll's
    /// wait (holding none: nothing, after the wait). One partition takes
    /// it: the poll's [`PollStop`] lets the first that finds one take it.
    async fn poll_here(&self, mut parts: Parts, body: Bytes) -> Response {
        if parts.extensions.get::<Arc<PollStop>>().is_none() {
            parts.extensions.insert(Arc::new(PollStop::default()));
        }
        let routers = self.engines.routers();
        if routers.is_empty() {
            let wait = match poll_wait(&parts.uri) {
                Ok(wait) => wait,
                Err(refused) => return refused.into_response(),
            };
            let stop = parts.extensions.get::<Arc<PollStop>>().cloned();
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = async {
                    match stop {
                        Some(stop) => stop.stopped().await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
            return StatusCode::NO_CONTENT.into_response();
        }
        let mut polls: Vec<_> = routers
            .into_iter()
            .map(|(_, router)| {
                let (parts, body) = (parts.clone(), body.clone());
                Box::pin(async move { oneshot(router, parts, body).await })
            })
            .collect();
        // The polls that lose are dropped: none of them took a task (the
        // winner alone may). One that hands out nothing (or fails: its
        // partition cannot write) does not win while the others may still
        // hand a task out.
        loop {
            let (answer, _, rest) = futures::future::select_all(polls).await;
            if answer.status() == StatusCode::OK || rest.is_empty() {
                return answer;
            }
            polls = rest;
        }
    }

    /// A task another host hands out at once, asking each in turn (each
    /// for at most [`ASK_LIMIT`]: a host paused or gone is skipped).
    async fn poll_others(&self, parts: &Parts, body: &Bytes) -> Option<Response> {
        let me = self.cluster.host().to_owned();
        let mut ask = waiting(parts, Duration::ZERO);
        ask.headers.insert(POLL_HERE, HeaderValue::from_static("1"));
        for (id, address) in self.other_holders().await {
            let sent = send(&self.http, &me, &id, &address, &ask, body.clone());
            let why = match tokio::time::timeout(ASK_LIMIT, sent).await {
                Ok(Ok(answer)) if answer.status() == StatusCode::OK => return Some(answer),
                Ok(Ok(answer)) if answer.status() == StatusCode::NO_CONTENT => continue,
                Ok(Ok(answer)) => format!("it answered {}", answer.status()),
                Ok(Err(e)) => crate::api::cluster::error_chain(&e),
                Err(_) => format!("no answer within {} ms", ASK_LIMIT.as_millis()),
            };
            if self.say_unasked() {
                tracing::warn!(
                    host = %id,
                    %address,
                    reason = %why,
                    "a worker's poll could not ask another host for a task of its partitions \
                     (check its --advertise and tokens; said at most once a minute)"
                );
            }
        }
        None
    }

    /// Whether to say now that another host could not be asked for a task
    /// (at most once a minute).
    fn say_unasked(&self) -> bool {
        let mut said = self.unasked_said.lock().unwrap_or_else(|p| p.into_inner());
        if said.is_some_and(|at| at.elapsed() < Duration::from_secs(60)) {
            return false;
        }
        *said = Some(Instant::now());
        true
    }

    /// The other hosts holding partitions (read at most once a second;
    /// none, said once a minute, while the store cannot be read).
    async fn other_holders(&self) -> Hosts {
        let map = match self.holders.read(false).await {
            Ok(map) => map,
            Err(refused) => {
                if self.say_unasked() {
                    tracing::warn!(status = %refused.status(), "a worker's poll could not read which hosts hold the other partitions: it waits on this host's alone meanwhile");
                }
                return Vec::new();
            }
        };
        let mut hosts: Hosts = map
            .iter()
            .flatten()
            .filter(|(id, _)| id != self.cluster.host())
            .cloned()
            .collect();
        hosts.sort();
        hosts.dedup();
        hosts
    }
}

/// How long a poll of `uri` waits, read as the poll handler reads it; its
/// refusal when malformed.
fn poll_wait(uri: &axum::http::Uri) -> Result<Duration, ApiError> {
    let q = axum::extract::Query::<crate::api::dto::PollQuery>::try_from_uri(uri)
        .map_err(|r| crate::api::error::rejection(r.status(), r.body_text()))?;
    let ms = q.wait_ms.unwrap_or(crate::api::tasks::DEFAULT_POLL_MS);
    Ok(Duration::from_millis(
        ms.min(crate::api::tasks::MAX_POLL_MS),
    ))
}

/// `parts` of a poll waiting `wait`.
fn waiting(parts: &Parts, wait: Duration) -> Parts {
    let mut parts = parts.clone();
    let uri = format!("{}?wait_ms={}", parts.uri.path(), wait.as_millis());
    if let Ok(uri) = uri.parse() {
        parts.uri = uri;
    }
    parts
}
