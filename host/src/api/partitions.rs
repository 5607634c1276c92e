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
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;
use tower::ServiceExt;

use super::cluster::{send, unavailable, FORWARDED_BY};
use super::error::ApiError;
use super::{auth, guard, Access, Guard};
use crate::engine::{Engine, Relay};
use crate::store::cluster::{home, Cluster};
use crate::store::ExternalRequest;

/// Set on a request forwarded for one partition: the host that gets it
/// answers from that partition's engine, or 503 if it no longer holds it
/// (it does not forward it again).
const PARTITION: &str = "x-weft-partition";

/// Set on the answer of a host forwarded a request for a partition it does
/// not hold (any more): nothing was done, and the sender sends it again to
/// the partition's next holder.
const NOT_HELD: &str = "x-weft-not-held";

/// Set on a worker's poll one host asks another for a task of its
/// partitions: answered from the engines there, never sent on.
const POLL_HERE: &str = "x-weft-poll-here";

/// How long a poll waits on the partitions held here before it asks the
/// other hosts once for a task of theirs: a task of another host's
/// partition reaches a worker polling here within about this long.
const POLL_ROUND: Duration = Duration::from_millis(250);

/// How long a poll waits for another host's answer, and a relayed request
/// beyond the front's wait: a host paused or cut off is skipped (a poll)
/// or tried again later (a request).
const ASK_LIMIT: Duration = Duration::from_secs(1);

/// How long the other hosts holding partitions are kept once read.
const HOLDERS_KEPT: Duration = Duration::from_secs(1);

/// Hosts by id and address.
type Hosts = Vec<(String, String)>;

/// Ids whose partition the directory named, kept (an id never moves).
const PLACED_KEPT: usize = 100_000;

/// The engines of the partitions this host holds, which the host adds and
/// removes as it takes and gives up partitions.
#[derive(Clone)]
pub struct Engines {
    held: Arc<RwLock<BTreeMap<u32, (Engine, Router)>>>,
    access: Access,
    guard: Guard,
}

impl Engines {
    /// Partition `part`'s engine answers its requests from now on.
    pub fn add(&self, part: u32, engine: Engine) {
        let router = super::router(engine.clone(), self.access.clone(), self.guard.clone());
        self.write().insert(part, (engine, router));
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
    /// The other hosts holding partitions, and when they were read.
    others: Arc<Mutex<Option<(Instant, Hosts)>>>,
    /// When a poll last said it could not ask another host.
    unasked_said: Arc<Mutex<Option<Instant>>>,
}

/// The front of a host on a store of several partitions.
pub struct Partitioned {
    pub router: Router,
    /// Where the host puts the engines of the partitions it holds.
    pub engines: Engines,
    /// What carries its engines' requests to partitions other hosts hold
    /// (the host keeps it while it runs: engines hold it weakly).
    pub relay: Arc<dyn Relay>,
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
    let engines = Engines {
        held: Arc::default(),
        access: access.clone(),
        guard: guard.clone(),
    };
    let front = Front {
        partitions: cluster.partitions(),
        token: access
            .token
            .clone()
            .or_else(|| access.control_token.clone()),
        cluster,
        engines: engines.clone(),
        http,
        wait,
        placed: Arc::default(),
        others: Arc::default(),
        unasked_said: Arc::default(),
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
    }
}

/// Where a host relays a workflow's request to an execution of a
/// partition another host holds (see [`Relay`]).
pub(super) const RECEIVE: &str = "/v1/internal/receive";

/// A relayed request, as [`RECEIVE`] takes it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct Relayed {
    /// The sender's partition.
    from: u32,
    request: ExternalRequest,
}

/// Records a request relayed from another host's partition (the front
/// gives it to the target partition's engine): `{"found": bool}`.
pub(super) async fn receive(
    axum::extract::State(engine): axum::extract::State<Engine>,
    axum::Json(relayed): axum::Json<Relayed>,
) -> Result<axum::Json<Value>, ApiError> {
    let found = engine.receive(relayed.request, relayed.from).await?;
    Ok(axum::Json(serde_json::json!({ "found": found })))
}

impl Relay for Front {
    fn receive(
        &self,
        part: u32,
        from: u32,
        request: &ExternalRequest,
    ) -> futures::future::BoxFuture<'static, Result<bool, String>> {
        let front = self.clone();
        let body = serde_json::to_vec(&Relayed {
            from,
            request: request.clone(),
        });
        Box::pin(async move {
            let body = body.map_err(|e| e.to_string())?;
            let mut ask = Request::post(RECEIVE).header(header::CONTENT_TYPE, "application/json");
            if let Some(token) = &front.token {
                ask = ask.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let (parts, ()) = ask.body(()).map_err(|e| e.to_string())?.into_parts();
            let asked = front.dispatch(part, parts, Bytes::from(body));
            let answer = tokio::time::timeout(front.wait + ASK_LIMIT, asked)
                .await
                .map_err(|_| {
                    format!(
                        "the host holding partition {part} did not answer within {} s",
                        (front.wait + ASK_LIMIT).as_secs()
                    )
                })?;
            let status = answer.status();
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                return Err(format!(
                    "the host holding partition {part} refused this host's token ({status}): \
                     give every host the same --token (or --control-token)"
                ));
            }
            let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
                .await
                .map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!(
                    "partition {part}'s holder answered {status}: {}",
                    String::from_utf8_lossy(&bytes)
                ));
            }
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("found").and_then(Value::as_bool))
                .ok_or_else(|| {
                    format!(
                        "partition {part}'s holder answered {}",
                        String::from_utf8_lossy(&bytes)
                    )
                })
        })
    }
}

/// What a request is about, and so where it goes.
enum Target {
    /// An execution (by id).
    Execution(String),
    /// A schedule (by name), or a start by its request id: its home.
    Home(String),
    /// A start or a schedule's creation: the partition is in its body.
    InBody,
    /// What every partition shares: partition 0.
    Shared,
    /// Every partition, answers merged.
    Each(Merge),
    /// A worker's poll: the tasks of every partition this host holds.
    Poll,
    /// This host answers itself (health, metrics, the cluster, the UI).
    Here,
    /// What hosts send each other for a partition (never a client).
    Internal,
}

/// How answers from every partition make one.
#[derive(Clone, Copy)]
enum Merge {
    Executions,
    Count,
    Queues,
    Schedules,
    Upgrade,
    Versions,
}

fn target(method: &Method, path: &str) -> Target {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let post = *method == Method::POST;
    let get = *method == Method::GET;
    match segs.as_slice() {
        ["v1", "executions"] if post => Target::InBody,
        ["v1", "executions"] => Target::Each(Merge::Executions),
        ["v1", "executions", id, ..] => Target::Execution(decode(id)),
        ["v1", "execution-count"] => Target::Each(Merge::Count),
        ["v1", "signal-with-start"] => Target::InBody,
        ["v1", "tasks", token, ..] => {
            let token = decode(token);
            match token.splitn(4, '.').nth(3) {
                Some(id) => Target::Execution(id.to_owned()),
                // Not a token this host gave: any engine says so.
                None => Target::Shared,
            }
        }
        ["v1", "task-queues"] => Target::Each(Merge::Queues),
        ["v1", "task-queues", _, "poll"] => Target::Poll,
        ["v1", "schedules"] if post => Target::InBody,
        ["v1", "schedules"] if get => Target::Each(Merge::Schedules),
        ["v1", "schedules", name, ..] => Target::Home(decode(name)),
        ["v1", "workflow-types", _, "upgrade"] if post => Target::Each(Merge::Upgrade),
        ["v1", "workflow-types", _, "versions"] if get => Target::Each(Merge::Versions),
        ["v1", "internal", ..] => Target::Internal,
        ["v1", "cluster"] | ["healthz"] | ["metrics"] | ["v1", "openapi.json"] => Target::Here,
        ["v1", ..] => Target::Shared,
        _ => Target::Here,
    }
}

/// A path segment as the handlers see it (percent-decoded).
fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
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
            Some(router) => oneshot(router, parts, body).await,
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
        Target::Poll => f.poll(parts, body).await,
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
            let cluster = self.cluster.clone();
            let holders = tokio::task::spawn_blocking(move || cluster.holders()).await;
            let mine = matches!(
                holders,
                Ok(Ok(h)) if h.get(part as usize).cloned().flatten().is_some_and(|(id, _)| id == self.cluster.host())
            );
            if !mine || started.elapsed() > self.wait {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Execution `id`'s partition (the directory's answers are kept).
    async fn partition_of(&self, id: &str) -> Result<u32, Response> {
        if let Some(part) = self.placed_lock().get(id) {
            return Ok(*part);
        }
        let cluster = self.cluster.clone();
        let owned = id.to_owned();
        let placed = tokio::task::spawn_blocking(move || cluster.placed(&owned))
            .await
            .map_err(|e| unavailable(format!("looking up execution {id} failed: {e}")))?
            .map_err(|e| ApiError::from(crate::engine::EngineError::from(e)).into_response())?;
        match placed {
            Some(part) => {
                let mut kept = self.placed_lock();
                if kept.len() >= PLACED_KEPT {
                    kept.clear();
                }
                kept.insert(id.to_owned(), part);
                Ok(part)
            }
            None => Ok(home(id, self.partitions)),
        }
    }

    fn placed_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        self.placed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The partition a start (or a schedule's creation) goes to: its id's
    /// (its name's), else its request id's home, else one this host holds.
    async fn body_partition(&self, path: &str, body: &Bytes) -> Result<u32, Response> {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |k: &str| {
            json.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if path.ends_with("/schedules") {
            return Ok(text("name").map_or(0, |n| home(n, self.partitions)));
        }
        if let Some(id) = text("id") {
            return self.partition_of(id).await;
        }
        if let Some(request) = text("request_id") {
            return Ok(home(request, self.partitions));
        }
        // No id and no request id: nothing to find it by again, so any
        // partition will do; one held here saves a hop.
        let held = self.engines.all();
        if held.is_empty() {
            return Ok(home(&ulid::Ulid::new().to_string(), self.partitions));
        }
        let pick = (ulid::Ulid::new().random() as usize) % held.len();
        Ok(held[pick].0)
    }

    /// Partition `part`'s answer: from its engine here, or from the host
    /// holding it (waiting, up to `wait`, while none does).
    async fn dispatch(&self, part: u32, parts: Parts, body: Bytes) -> Response {
        let started = Instant::now();
        let me = self.cluster.host().to_owned();
        // The holder this host could not reach (its id, address and why).
        let mut unreached: Option<(String, String, String)> = None;
        loop {
            if let Some(router) = self.engines.router(part) {
                return oneshot(router, parts, body).await;
            }
            let cluster = self.cluster.clone();
            let holders = tokio::task::spawn_blocking(move || cluster.holders()).await;
            let holder = match holders {
                Ok(Ok(h)) => h.into_iter().nth(part as usize).flatten(),
                Ok(Err(e)) => {
                    return ApiError::from(crate::engine::EngineError::from(e)).into_response()
                }
                Err(e) => return unavailable(format!("looking up partition {part} failed: {e}")),
            };
            match holder {
                // This host holds it and is opening its engine: soon.
                Some((id, _)) if id == me => {}
                Some((id, address)) => {
                    let mut parts = parts.clone();
                    if let Ok(v) = HeaderValue::from_str(&part.to_string()) {
                        parts.headers.insert(PARTITION, v);
                    }
                    match send(&self.http, &me, &id, &address, &parts, body.clone()).await {
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
                     under way, or every host is down): retry",
                    self.wait.as_secs()
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
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

    /// A worker's poll: a task of any partition, held here or by another
    /// host. It waits on the partitions held here a round at a time and
    /// between rounds asks each other host once, at once, for a task of
    /// theirs: one task taken at a time, none taken for nobody.
    async fn poll(&self, parts: Parts, body: Bytes) -> Response {
        if parts.headers.contains_key(POLL_HERE) {
            return self.poll_here(parts, body).await;
        }
        let wait = match poll_wait(&parts.uri) {
            Ok(wait) => wait,
            Err(refused) => return refused.into_response(),
        };
        let deadline = Instant::now() + wait;
        loop {
            let round = deadline
                .saturating_duration_since(Instant::now())
                .min(POLL_ROUND);
            let answer = self.poll_here(waiting(&parts, round), body.clone()).await;
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
    /// wait (holding none: nothing, after the wait).
    async fn poll_here(&self, parts: Parts, body: Bytes) -> Response {
        let routers = self.engines.routers();
        if routers.is_empty() {
            let wait = match poll_wait(&parts.uri) {
                Ok(wait) => wait,
                Err(refused) => return refused.into_response(),
            };
            tokio::time::sleep(wait).await;
            return StatusCode::NO_CONTENT.into_response();
        }
        let mut polls: Vec<_> = routers
            .into_iter()
            .map(|(_, router)| {
                let (parts, body) = (parts.clone(), body.clone());
                Box::pin(async move { oneshot(router, parts, body).await })
            })
            .collect();
        // The polls that lose are dropped, which puts back any task they
        // were about to hand out. One that hands out nothing (or fails: its
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
                Ok(Err(e)) => super::cluster::error_chain(&e),
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

    /// The other hosts holding partitions (read at most once a second).
    async fn other_holders(&self) -> Hosts {
        if let Some((at, hosts)) = &*self.others_lock() {
            if at.elapsed() < HOLDERS_KEPT {
                return hosts.clone();
            }
        }
        let cluster = self.cluster.clone();
        let Ok(Ok(holders)) = tokio::task::spawn_blocking(move || cluster.holders()).await else {
            return Vec::new();
        };
        let mut hosts: Hosts = holders
            .into_iter()
            .flatten()
            .filter(|(id, _)| id != self.cluster.host())
            .collect();
        hosts.sort();
        hosts.dedup();
        *self.others_lock() = Some((Instant::now(), hosts.clone()));
        hosts
    }

    fn others_lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Hosts)>> {
        self.others.lock().unwrap_or_else(|p| p.into_inner())
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

/// How long a poll of `uri` waits, read as the poll handler reads it; its
/// refusal when malformed.
fn poll_wait(uri: &axum::http::Uri) -> Result<Duration, ApiError> {
    let q = axum::extract::Query::<super::dto::PollQuery>::try_from_uri(uri)
        .map_err(|r| super::error::rejection(r.status(), r.body_text()))?;
    let ms = q.wait_ms.unwrap_or(super::tasks::DEFAULT_POLL_MS);
    Ok(Duration::from_millis(ms.min(super::tasks::MAX_POLL_MS)))
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

/// The answers of every partition to one list, count or upgrade, as one.
fn merged(merge: Merge, bodies: Vec<Value>, query: &str) -> Value {
    let arrays = |key: &str, bodies: &[Value]| -> Vec<Value> {
        bodies
            .iter()
            .filter_map(|b| b.get(key).and_then(Value::as_array))
            .flatten()
            .cloned()
            .collect()
    };
    match merge {
        Merge::Count => {
            let count: u64 = bodies
                .iter()
                .filter_map(|b| b.get("count").and_then(Value::as_u64))
                .sum();
            serde_json::json!({ "count": count })
        }
        Merge::Executions => {
            let limit = query
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "limit")
                .and_then(|(_, v)| v.parse::<usize>().ok())
                .unwrap_or(super::executions::DEFAULT_PAGE)
                .clamp(1, crate::engine::MAX_PAGE);
            let more = bodies.iter().any(|b| b.get("next_cursor").is_some());
            let mut all = arrays("executions", &bodies);
            let key = |v: &Value| {
                (
                    v.get("created_at_ms").and_then(Value::as_u64).unwrap_or(0),
                    v.get("id").and_then(Value::as_str).unwrap_or("").to_owned(),
                )
            };
            // Newest first, as each partition's page is.
            all.sort_by_key(|v| std::cmp::Reverse(key(v)));
            let next = (more || all.len() > limit)
                .then(|| all.get(limit.min(all.len()).saturating_sub(1)).map(key))
                .flatten()
                .map(|(ms, id)| format!("{ms}.{id}"));
            all.truncate(limit);
            let mut out = serde_json::json!({ "executions": all });
            if let Some(next) = next {
                out["next_cursor"] = Value::String(next);
            }
            out
        }
        Merge::Queues => {
            let mut queues: BTreeMap<String, Value> = BTreeMap::new();
            for q in arrays("task_queues", &bodies) {
                let name = q
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned();
                match queues.get_mut(&name) {
                    None => {
                        queues.insert(name, q);
                    }
                    Some(have) => {
                        for k in ["backlog", "running", "pollers"] {
                            let n = have.get(k).and_then(Value::as_u64).unwrap_or(0)
                                + q.get(k).and_then(Value::as_u64).unwrap_or(0);
                            have[k] = n.into();
                        }
                        let last = have
                            .get("last_poll_ms")
                            .and_then(Value::as_u64)
                            .max(q.get("last_poll_ms").and_then(Value::as_u64));
                        have["last_poll_ms"] = last.map_or(Value::Null, Value::from);
                    }
                }
            }
            serde_json::json!({ "task_queues": queues.into_values().collect::<Vec<_>>() })
        }
        Merge::Schedules => {
            let name = |v: &Value| {
                v.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let mut schedules = arrays("schedules", &bodies);
            schedules.sort_by_key(name);
            let mut unreadable = arrays("unreadable", &bodies);
            unreadable.sort_by_key(name);
            let mut out = serde_json::json!({ "schedules": schedules });
            if !unreadable.is_empty() {
                out["unreadable"] = Value::Array(unreadable);
            }
            out
        }
        Merge::Versions => {
            // The versions are shared; the executions on each are counted
            // in every partition.
            let mut first = bodies.first().cloned().unwrap_or(Value::Null);
            if let Some(versions) = first.get_mut("versions").and_then(Value::as_array_mut) {
                for v in versions.iter_mut() {
                    for k in ["running", "stalled"] {
                        let n: u64 = bodies
                            .iter()
                            .filter_map(|b| b.get("versions").and_then(Value::as_array))
                            .flatten()
                            .filter(|o| o.get("version") == v.get("version"))
                            .filter_map(|o| o.get(k).and_then(Value::as_u64))
                            .sum();
                        v[k] = n.into();
                    }
                }
            }
            first
        }
        Merge::Upgrade => {
            let executions = arrays("executions", &bodies);
            let mut out = bodies.into_iter().next().unwrap_or(Value::Null);
            out["executions"] = Value::Array(executions);
            out
        }
    }
}
