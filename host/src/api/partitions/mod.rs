//! The front of a host on a store of several partitions: each request goes
//! to the engine of the partition it is about, on this host or, forwarded,
//! on the host holding it; a list or a count asks every partition and
//! merges the answers; what all partitions share (modules, versions, search
//! attributes, the clock) is written through partition 0. A client may
//! talk to any host and never needs to know who holds what.
//!
//! Which partition: an execution id's is where the directory placed it
//! (a child is made in its parent's), else its home (`cluster::home`, where
//! a start makes it); a task token's is its execution's; a schedule's is
//! its name's home; a start naming no id goes by its request id (a retry
//! must find the first try's), else to a partition this host holds.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

use super::cluster::{lost_holder, send, unavailable, FORWARDED_BY, FORWARDED_TO};
use super::error::ApiError;
use super::{auth, guard, Access, Guard};
use crate::engine::{Engine, Relay};
use crate::store::cluster::{home, Cluster};
use merge::{merged, Merge};
use target::{target, Target};

mod holders;
mod merge;
mod placement;
mod polls;
mod relay;
mod skip;
mod target;

pub(super) use relay::{receive, RECEIVE};
pub(super) use skip::{clock_to, quiet, CLOCK_TO, QUIET};

/// Set on a request forwarded for one partition: the host that gets it
/// answers from that partition's engine, or 503 if it no longer holds it
/// (it does not forward it again).
const PARTITION: &str = "x-weft-partition";

/// Set on the answer of a host forwarded a request for a partition it does
/// not hold (any more): nothing was done, and the sender sends it again to
/// the partition's next holder.
const NOT_HELD: &str = "x-weft-not-held";

/// How long a poll waits for another host's answer, and a relayed request
/// beyond the front's wait: a host paused or cut off is skipped (a poll)
/// or tried again later (a request).
const ASK_LIMIT: Duration = Duration::from_secs(1);

/// Hosts by id and address.
type Hosts = Vec<(String, String)>;

/// The engines of the partitions this host holds, which the host adds and
/// removes as it takes and gives up partitions.
#[derive(Clone)]
pub struct Engines {
    held: Arc<RwLock<BTreeMap<u32, (Engine, Router)>>>,
    access: Access,
    guard: Guard,
    /// Woken when a partition is added: the polls waiting here look again.
    notices: polls::Notices,
}

impl Engines {
    /// Partition `part`'s engine answers its requests from now on.
    pub fn add(&self, part: u32, engine: Engine) {
        let router = super::router(engine.clone(), self.access.clone(), self.guard.clone());
        self.write().insert(part, (engine, router));
        self.notices.wake_all();
    }

    /// Partition `part` is no longer this host's: its requests are
    /// forwarded to its next holder. The engine, if it was held.
    pub fn remove(&self, part: u32) -> Option<Engine> {
        self.write().remove(&part).map(|(e, _)| e)
    }

    /// The engines held now, by partition.
    pub fn all(&self) -> Vec<(u32, Engine)> {
        self.read()
            .iter()
            .map(|(p, (e, _))| (*p, e.clone()))
            .collect()
    }

    fn router(&self, part: u32) -> Option<Router> {
        self.read().get(&part).map(|(_, r)| r.clone())
    }

    fn routers(&self) -> Vec<(u32, Router)> {
        self.read()
            .iter()
            .map(|(p, (_, r))| (*p, r.clone()))
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<u32, (Engine, Router)>> {
        self.held.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<u32, (Engine, Router)>> {
        self.held.write().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Clone)]
struct Front {
    cluster: Cluster,
    /// What the host's own requests to other hosts carry (a relayed
    /// request): the main token, else the control token.
    token: Option<String>,
    engines: Engines,
    partitions: u32,
    http: reqwest::Client,
    /// How long a request waits for some host to hold its partition.
    wait: Duration,
    placed: Arc<Mutex<HashMap<String, u32>>>,
    /// Who holds each partition.
    holders: holders::Holders,
    /// When a poll last said it could not ask another host.
    unasked_said: Arc<Mutex<Option<Instant>>>,
    /// The other hosts' notices of tasks waiting there.
    notices: polls::Notices,
}

/// The front of a host on a store of several partitions.
pub struct Partitioned {
    pub router: Router,
    /// Where the host puts the engines of the partitions it holds.
    pub engines: Engines,
    /// What carries its engines' requests to partitions other hosts hold
    /// (the host keeps it while it runs: engines hold it weakly).
    pub relay: Arc<dyn Relay>,
    /// What announces the tasks no poll here waits for to the other hosts
    /// (see `store/kv/notices.rs`): for the engines' shared parts.
    pub unpolled: crate::engine::OnUnpolled,
}

/// The front of a host on a store of several partitions. `wait` bounds
/// how long a request waits for some host to hold its partition.
pub fn front(
    cluster: Cluster,
    access: Access,
    guard: Guard,
    wait: Duration,
    http: reqwest::Client,
) -> Partitioned {
    let notices = polls::Notices::default();
    let told = notices.clone();
    cluster.listen_tasks(move |queue, tasks| told.told(queue, tasks));
    let announcer = cluster.announcer();
    let unpolled: crate::engine::OnUnpolled =
        Arc::new(move |queue: &str, tasks: u64| announcer.tasks(queue, tasks));
    let engines = Engines {
        held: Arc::default(),
        access: access.clone(),
        guard: guard.clone(),
        notices: notices.clone(),
    };
    let front = Front {
        partitions: cluster.partitions(),
        token: access
            .token
            .clone()
            .or_else(|| access.control_token.clone()),
        holders: holders::Holders::new(cluster.clone()),
        cluster,
        engines: engines.clone(),
        http,
        wait,
        placed: Arc::default(),
        unasked_said: Arc::default(),
        notices,
    };
    let relay: Arc<dyn Relay> = Arc::new(front.clone());
    let router = Router::new()
        .fallback(route)
        .layer(axum::middleware::from_fn_with_state(access, auth::check))
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
        .with_state(front);
    Partitioned {
        router,
        engines,
        relay,
        unpolled,
    }
}

async fn route(State(f): State<Front>, req: Request) -> Response {
    let (parts, body) = match super::cluster::read_whole(req).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    // Forwarded for one partition: answered here or refused, never sent on.
    if let Some(part) = parts.headers.get(PARTITION) {
        let part = part.to_str().ok().and_then(|p| p.parse::<u32>().ok());
        return match f.held_here(part).await {
            Some(router) => {
                let mut resp = oneshot(router, parts, body).await;
                // Refused because this host let the partition go while it
                // ran (nothing was changed): the forwarder asks the next
                // holder.
                if let_go(&resp) && part.is_some_and(|p| f.engines.router(p).is_none()) {
                    resp.headers_mut()
                        .insert(NOT_HELD, HeaderValue::from_static("1"));
                }
                resp
            }
            // The forwarder meant another host (two given one address).
            None if header(&parts, FORWARDED_TO) != "?"
                && header(&parts, FORWARDED_TO) != f.cluster.host() =>
            {
                super::cluster::misdirected(
                    &header(&parts, FORWARDED_BY),
                    &header(&parts, FORWARDED_TO),
                    f.cluster.host(),
                )
            }
            None => {
                let mut refused = unavailable(format!(
                    "host {} forwarded this request to host {} for partition {}, which this \
                     host does not hold now (a handover is under way): retry",
                    header(&parts, FORWARDED_BY),
                    f.cluster.host(),
                    part.map_or("?".into(), |p| p.to_string())
                ));
                refused
                    .headers_mut()
                    .insert(NOT_HELD, HeaderValue::from_static("1"));
                refused
            }
        };
    }
    match target(&parts.method, parts.uri.path()) {
        Target::Execution(id) => match f.partition_of(&id).await {
            Ok(part) => f.dispatch(part, parts, body).await,
            Err(e) => e,
        },
        Target::Home(name) => f.dispatch(home(&name, f.partitions), parts, body).await,
        Target::InBody => {
            let part = f.body_partition(parts.uri.path(), &body).await;
            match part {
                Ok(part) => f.dispatch(part, parts, body).await,
                Err(e) => e,
            }
        }
        Target::Shared => f.dispatch(0, parts, body).await,
        Target::Each(merge) => f.each(merge, parts, body).await,
        Target::Poll(queue) => f.poll(parts, body, &queue).await,
        Target::Skip => f.skip(parts, body).await,
        Target::Here => f.here(parts, body).await,
        Target::Internal => ApiError::not_found(format!(
            "{} is sent by one host to another for a partition (with {PARTITION}), not by clients",
            parts.uri.path()
        ))
        .into_response(),
    }
}

fn header(parts: &Parts, name: &str) -> String {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("?")
        .to_owned()
}

/// Whether `resp` refuses a write because this host let the partition go
/// under it (given up or lost: nothing of that write was made).
fn let_go(resp: &Response) -> bool {
    resp.headers().contains_key(super::error::LET_GO)
}

async fn oneshot(router: Router, parts: Parts, body: Bytes) -> Response {
    router
        .oneshot(Request::from_parts(parts, Body::from(body)))
        .await
        .into_response()
}

impl Front {
    /// Partition `part`'s engine here: at once, or (this host holds its
    /// lease and is opening it) once open, waiting up to `wait`.
    async fn held_here(&self, part: Option<u32>) -> Option<Router> {
        let part = part?;
        let started = Instant::now();
        loop {
            if let Some(router) = self.engines.router(part) {
                return Some(router);
            }
            // Read now: the map kept may be from before this host took it.
            let holder = self.holders.of(part, true).await;
            let mine = matches!(holder, Ok(Some((id, _))) if id == self.cluster.host());
            if !mine || started.elapsed() > self.wait {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Partition `part`'s answer: from its engine here, or from the host
    /// holding it (waiting, up to `wait`, while none does). A holder that
    /// has not answered within `wait` and whose lease on the partition
    /// ended meanwhile (paused, cut off) is given up: a read (a GET, a
    /// query) is asked again of the partition's holder now, and anything
    /// else is answered 503 ([`lost_holder`]): it may or may not have
    /// taken effect.
    async fn dispatch(&self, part: u32, parts: Parts, body: Bytes) -> Response {
        let mut started = Instant::now();
        let me = self.cluster.host().to_owned();
        // The holder this host could not reach (its id, address and why).
        let mut unreached: Option<(String, String, String)> = None;
        // The first look may take the map kept; every later one (the
        // holder it named gave the partition up, or was not there) reads
        // the store again.
        let mut fresh = false;
        let reads = auth::reads(&parts.method, parts.uri.path());
        // Reads cut under way (and requests refused by a partition let go
        // under them) asked again, at most.
        let mut recut = 3;
        loop {
            if let Some(router) = self.engines.router(part) {
                let resp = oneshot(router, parts.clone(), body.clone()).await;
                // Refused because this host let the partition go while it
                // ran (a handover; nothing was changed): asked again, of
                // its next holder (a few times at most).
                if !let_go(&resp) || recut == 0 || self.engines.router(part).is_some() {
                    return resp;
                }
                recut -= 1;
                started = Instant::now();
                fresh = true;
                continue;
            }
            let holder = match self.holders.of(part, fresh).await {
                Ok(holder) => holder,
                Err(refused) => return refused,
            };
            fresh = true;
            match holder {
                // This host holds it and is opening its engine: soon.
                Some((id, _)) if id == me => {}
                Some((id, address)) => {
                    let mut parts = parts.clone();
                    if let Ok(v) = HeaderValue::from_str(&part.to_string()) {
                        parts.headers.insert(PARTITION, v);
                    }
                    let sent = send(&self.http, &me, &id, &address, &parts, body.clone());
                    let outcome = tokio::select! {
                        // An answer that came is taken, whatever the map.
                        biased;
                        outcome = sent => outcome,
                        now = self.moved_from(part, &id) => {
                            if !reads {
                                return lost_holder(&id, &format!("partition {part}"), now);
                            }
                            // A read is asked again, of the holder now,
                            // waiting up to `wait` for one.
                            tracing::debug!(part, holder = id, "the holder stopped answering and lost the partition; reading again");
                            started = Instant::now();
                            unreached = None;
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    };
                    match outcome {
                        // It gave the partition up meanwhile (nothing was
                        // done): sent again to its next holder.
                        Ok(resp)
                            if resp.headers().contains_key(NOT_HELD)
                                && started.elapsed() <= self.wait =>
                        {
                            unreached = None;
                        }
                        Ok(resp) => return resp,
                        // Nothing was sent (the holder just died): sent
                        // again once another holds the partition.
                        Err(e) if super::tls::client_refusal(&e).is_some() => {
                            let why = super::tls::client_refusal(&e).unwrap_or_default();
                            let what = format!("partition {part} of the store");
                            return super::cluster::cannot_forward(&id, &address, &what, &why);
                        }
                        Err(e) if e.is_connect() => {
                            unreached = Some((id, address, super::cluster::error_chain(&e)));
                        }
                        // Cut under way (the holder died, say): a read is
                        // asked again, of the holder once the partition
                        // moves, waiting up to `wait` for one (a few times:
                        // not for good of a holder that cuts it each time).
                        Err(e) if reads && recut > 0 => {
                            recut -= 1;
                            tracing::debug!(part, holder = id, error = %super::cluster::error_chain(&e), "a read forwarded to the holder was cut; asking again");
                            started = Instant::now();
                            unreached = Some((id, address, super::cluster::error_chain(&e)));
                        }
                        Err(e) => {
                            return ApiError::new(
                                StatusCode::BAD_GATEWAY,
                                "holder-unreachable",
                                format!(
                                    "this host forwarded the request to host {id} at {address}, \
                                 which holds partition {part}, and got no answer ({}): it may or \
                                 may not have taken effect; look, or retry it with the same \
                                 request id",
                                    super::cluster::error_chain(&e)
                                ),
                            )
                            .into_response()
                        }
                    }
                }
                None => unreached = None,
            }
            if started.elapsed() > self.wait {
                if let Some((id, address, why)) = unreached {
                    return ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "holder-unreachable",
                        format!(
                            "host {id}, which holds partition {part}, could not be reached at \
                             {address} for {}s ({why}): check that its --advertise is an \
                             address the other hosts reach it at; nothing was sent",
                            self.wait.as_secs()
                        ),
                    )
                    .into_response();
                }
                return unavailable(format!(
                    "no host has held partition {part} of the store for {}s (a handover is \
                     under way, every host is down, or the host it is assigned to has not taken \
                     it: see `weft cluster`): retry",
                    self.wait.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Resolves once a request forwarded to `holder` has waited `wait`
    /// and partition `part` is no longer `holder`'s (a holder paused or cut
    /// off keeps the connection and never answers; one handing the
    /// partition over answers what it took before it lets go): who holds
    /// it now (`None`: nobody yet).
    async fn moved_from(&self, part: u32, holder: &str) -> Option<String> {
        tokio::time::sleep(self.wait).await;
        loop {
            if let Ok(now) = self.holders.of(part, false).await {
                if now.as_ref().is_none_or(|(id, _)| id != holder) {
                    return now.map(|(id, _)| id);
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Every partition's answer, merged into one.
    async fn each(&self, merge: Merge, parts: Parts, body: Bytes) -> Response {
        let bodies = match merge {
            Merge::Upgrade => match self.upgrade_bodies(&body).await {
                Ok(b) => b,
                Err(e) => return e,
            },
            _ => (0..self.partitions).map(|p| (p, body.clone())).collect(),
        };
        let asks = bodies.into_iter().map(|(part, body)| {
            let parts = parts.clone();
            async move { self.dispatch(part, parts, body).await }
        });
        let answers = futures::future::join_all(asks).await;
        let mut bodies = Vec::with_capacity(answers.len());
        for answer in answers {
            if !answer.status().is_success() {
                return answer;
            }
            let bytes = match axum::body::to_bytes(answer.into_body(), usize::MAX).await {
                Ok(b) => b,
                Err(e) => return unavailable(format!("a partition's answer was cut: {e}")),
            };
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => bodies.push(v),
                Err(e) => return unavailable(format!("a partition's answer was malformed: {e}")),
            }
        }
        let query = parts.uri.query().unwrap_or("");
        axum::Json(merged(merge, bodies, query)).into_response()
    }

    /// An upgrade's body for each partition it moves executions in: one
    /// naming executions names each partition its own.
    async fn upgrade_bodies(&self, body: &Bytes) -> Result<Vec<(u32, Bytes)>, Response> {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let Some(ids) = json.get("ids").and_then(Value::as_array) else {
            return Ok((0..self.partitions).map(|p| (p, body.clone())).collect());
        };
        let mut by_part: BTreeMap<u32, Vec<Value>> = BTreeMap::new();
        for id in ids {
            let part = match id.as_str() {
                Some(id) => self.partition_of(id).await?,
                // Not an id: partition 0's engine says what is wrong.
                None => 0,
            };
            by_part.entry(part).or_default().push(id.clone());
        }
        if by_part.is_empty() {
            by_part.insert(0, Vec::new());
        }
        Ok(by_part
            .into_iter()
            .map(|(part, ids)| {
                let mut json = json.clone();
                json["ids"] = Value::Array(ids);
                (part, Bytes::from(json.to_string()))
            })
            .collect())
    }

    /// What this host answers itself.
    async fn here(&self, parts: Parts, body: Bytes) -> Response {
        let engines = self.engines.all();
        match parts.uri.path() {
            "/healthz" => {
                let failing: Vec<String> = engines
                    .iter()
                    .filter_map(|(p, e)| e.write_failure().map(|w| format!("partition {p}: {w}")))
                    .collect();
                if !failing.is_empty() {
                    return format!("degraded: the store cannot write ({})", failing.join("; "))
                        .into_response();
                }
                if engines.is_empty() {
                    return "ok: this host holds no partition now (requests go to their holders)"
                        .into_response();
                }
                "ok".into_response()
            }
            "/metrics" => {
                let mut sum = crate::metrics::Snapshot::default();
                for (_, e) in &engines {
                    match e.metrics_snapshot() {
                        Ok(s) => sum.add(s),
                        Err(e) => return ApiError::from(e).into_response(),
                    }
                }
                crate::metrics::get().render(&sum).into_response()
            }
            "/v1/cluster" => {
                let cluster = self.cluster.clone();
                match tokio::task::spawn_blocking(move || cluster.view()).await {
                    Ok(Ok(view)) => axum::Json(view).into_response(),
                    Ok(Err(e)) => {
                        ApiError::from(crate::engine::EngineError::from(e)).into_response()
                    }
                    Err(e) => unavailable(format!("reading the cluster failed: {e}")),
                }
            }
            // The UI and the API's description are the same everywhere.
            _ => oneshot(super::static_router(), parts, body).await,
        }
    }
}
