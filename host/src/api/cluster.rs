//! Several hosts on one PostgreSQL store: `GET /v1/cluster`, and the front
//! a host serves before it holds the store (as a standby): it answers its
//! own health, metrics and the cluster's view, and forwards every other
//! request to the host that holds the store, so a client may talk to any
//! host. Once this host holds the store, the engine's router answers.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower::ServiceExt;

use super::error::ApiError;
use super::{auth, guard, Access, Guard, MAX_MODULE_BYTES};
use crate::engine::Engine;
use crate::store::cluster::{Cluster, ClusterView};

/// Set on a request a standby forwards: a host that gets one and does not
/// hold the store answers 503 instead of forwarding it again.
pub(super) const FORWARDED_BY: &str = "x-weft-forwarded-by";
/// Set on a request a standby forwards: the host it was meant for (the
/// holder whose advertised address it was sent to).
pub(super) const FORWARDED_TO: &str = "x-weft-forwarded-to";
/// Set on a forwarded request's answer: which host answered it.
const ANSWERED_BY: &str = "x-weft-answered-by";

/// `GET /v1/cluster`: the hosts sharing this host's store, and its lease.
#[utoipa::path(get, path = "/v1/cluster", tag = "cluster",
    responses((status = 200, description = "The hosts on this store and which one holds it (on redb: one host, no lease)")))]
pub async fn get_view(State(engine): State<Engine>) -> Result<Json<ClusterView>, ApiError> {
    Ok(Json(engine.cluster_view()?.unwrap_or_else(single)))
}

/// A host on its redb file: alone.
fn single() -> ClusterView {
    ClusterView {
        store: "redb",
        partitions: 1,
        this_host: None,
        lease: None,
        leases: Vec::new(),
        assignment: None,
        hosts: Vec::new(),
    }
}

/// What a standby needs to answer and forward.
#[derive(Clone)]
struct Front {
    cluster: Cluster,
    /// The engine's router once this host holds the store.
    engine: Arc<OnceLock<Router>>,
    http: reqwest::Client,
    /// How long a request waits for a host to hold the store.
    wait: Duration,
}

/// Where the engine's router goes once this host holds the store.
#[derive(Clone)]
pub struct EngineSlot {
    engine: Arc<OnceLock<Router>>,
    access: Access,
    guard: Guard,
}

impl EngineSlot {
    /// From now on the engine answers every request.
    pub fn fill(&self, engine: Engine) {
        let _ = self.engine.set(super::router(
            engine,
            self.access.clone(),
            self.guard.clone(),
        ));
    }
}

/// The router of a host on a PostgreSQL store: a standby's front until
/// `EngineSlot::fill`, the engine's router after. `wait` bounds how long a
/// request waits for some host to hold the store.
pub fn front(
    cluster: Cluster,
    access: Access,
    guard: Guard,
    wait: Duration,
    http: reqwest::Client,
) -> (Router, EngineSlot) {
    let engine = Arc::new(OnceLock::new());
    let front = Front {
        cluster,
        engine: engine.clone(),
        http,
        wait,
    };
    let standby = Router::new()
        .route("/healthz", get(standby_health))
        .route("/metrics", get(standby_metrics))
        .route("/v1/cluster", get(standby_view))
        .fallback(forward)
        .layer(axum::middleware::from_fn_with_state(
            access.clone(),
            auth::check,
        ))
        .layer(axum::middleware::from_fn_with_state(
            guard.clone(),
            guard::check,
        ))
        .with_state(front.clone());
    let switch = Router::new().fallback(move |req: Request| {
        let engine = engine.clone();
        let standby = standby.clone();
        async move {
            let router = engine.get().cloned().unwrap_or(standby);
            router.oneshot(req).await.into_response()
        }
    });
    (
        switch,
        EngineSlot {
            engine: front.engine,
            access,
            guard,
        },
    )
}

async fn standby_health(State(f): State<Front>) -> String {
    match f.cluster.holder_address() {
        Ok(Some((id, address))) => {
            format!("ok: standby (host {id} at {address} holds the store; requests go there)")
        }
        Ok(None) => "ok: standby (no host holds the store right now; one is taking it)".into(),
        Err(e) => format!("degraded: standby, the store is unavailable ({e})"),
    }
}

async fn standby_metrics() -> String {
    crate::metrics::get().render(&crate::metrics::Snapshot::default())
}

async fn standby_view(State(f): State<Front>) -> Result<Json<ClusterView>, ApiError> {
    f.cluster
        .view()
        .map(Json)
        .map_err(|e| ApiError::from(crate::engine::EngineError::from(e)))
}

/// Sends a request on to the host holding the store, waiting (up to
/// `Front::wait`) while none does. A request that could not be delivered
/// (the holder just died) is tried again once another holds the store; one
/// delivered whose answer was lost is not (it may have taken effect).
async fn forward(State(f): State<Front>, req: Request) -> Response {
    let forwarded_by = req
        .headers()
        .get(FORWARDED_BY)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let (parts, body) = match read_whole(req).await {
        Ok(read) => read,
        Err(refused) => return refused,
    };
    // The host a forwarder meant this for: its advertised address may
    // reach another (a misconfigured `--advertise`).
    let forwarded_to = parts
        .headers
        .get(FORWARDED_TO)
        .map(|v| v.to_str().unwrap_or("?").to_owned());
    let mut started = Instant::now();
    let me = f.cluster.host().to_owned();
    // The holder this host could not reach (its id, address and why).
    let mut unreached: Option<(String, String, String)> = None;
    let reads = super::auth::reads(&parts.method, parts.uri.path());
    // Reads cut under way asked again, at most.
    let mut recut = 3;
    loop {
        if let Some(router) = f.engine.get() {
            let req = Request::from_parts(parts, Body::from(body));
            return router.clone().oneshot(req).await.into_response();
        }
        let mut holder_is_me = false;
        match f.cluster.holder_address() {
            Ok(Some((id, _))) if id != me && forwarded_by.is_some() => {
                if let Some(meant) = forwarded_to.as_deref().filter(|t| *t != me) {
                    return misdirected(forwarded_by.as_deref().unwrap_or_default(), meant, &me);
                }
                return unavailable(format!(
                    "host {} forwarded this request here, but host {id} holds the store now \
                     (a handover is under way): retry",
                    forwarded_by.unwrap_or_default()
                ));
            }
            Ok(Some((id, address))) if id != me => {
                let sent = send(&f.http, &me, &id, &address, &parts, body.clone());
                // A holder paused or cut off keeps the connection and never
                // answers: stop waiting once the store is no longer its
                // (looked at from the start; a partition's front first
                // waits its wait, see `Front::dispatch`).
                let moved = async {
                    loop {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                        match f.cluster.holder_address() {
                            Ok(Some((now, _))) if now == id => {}
                            Ok(now) => return now.map(|(n, _)| n),
                            Err(_) => {}
                        }
                    }
                };
                let outcome = tokio::select! {
                    // An answer that came is taken, whatever the map.
                    biased;
                    outcome = sent => outcome,
                    now = moved => return lost_holder(&id, "the store", now),
                };
                match outcome {
                    Ok(resp) => return resp,
                    // A TLS refusal is a connect error too, but no retry
                    // mends it: said at once.
                    Err(e) if super::tls::client_refusal(&e).is_some() => {
                        let why = super::tls::client_refusal(&e).unwrap_or_default();
                        return cannot_forward(&id, &address, "the store", &why);
                    }
                    Err(e) if e.is_connect() => {
                        tracing::debug!(holder = id, error = %e, "the host holding the store did not answer; looking again");
                        unreached = Some((id, address, error_chain(&e)));
                    }
                    // Cut under way (the holder died): a read is asked
                    // again, of the next holder (a few times: not for good
                    // of a holder that cuts it each time).
                    Err(e) if reads && recut > 0 => {
                        recut -= 1;
                        tracing::debug!(holder = id, error = %e, "a read forwarded to the holder was cut; asking again");
                        started = Instant::now();
                        unreached = Some((id, address, error_chain(&e)));
                    }
                    Err(e) => {
                        return ApiError::new(
                            StatusCode::BAD_GATEWAY,
                            "holder-unreachable",
                            format!(
                                "this host forwarded the request to host {id} at {address}, \
                                 which holds the store, and got no answer ({e}): the request may \
                                 or may not have taken effect; look, or retry it with the same \
                                 request id"
                            ),
                        )
                        .into_response()
                    }
                }
            }
            Ok(Some(_)) => holder_is_me = true,
            // The holder this host could not reach lost the store: said as
            // a handover (503), not as an address that reaches nothing.
            Ok(None) => unreached = None,
            Err(e) => {
                return ApiError::from(crate::engine::EngineError::from(e)).into_response();
            }
        }
        // This host is opening its engine: that ends soon.
        if !holder_is_me && started.elapsed() > f.wait {
            if let Some((id, address, why)) = unreached {
                return ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "holder-unreachable",
                    format!(
                        "host {id}, which holds the store, could not be reached at {address} \
                         for {}s ({why}): check that its --advertise is an address the other \
                         hosts reach it at; nothing was sent",
                        f.wait.as_secs()
                    ),
                )
                .into_response();
            }
            return unavailable(format!(
                "no host has held the store for {}s (a handover is under way, or every host \
                 is down): retry",
                f.wait.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A request this host cannot forward to host `id` at `address`, which
/// holds `what`, because TLS refused (`why`): no retry mends it.
pub(super) fn cannot_forward(id: &str, address: &str, what: &str, why: &str) -> Response {
    tracing::warn!(holder = id, %address, reason = %why, "cannot forward to the host holding {what}");
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "holder-unreachable",
        format!(
            "this host cannot forward the request to host {id} at {address}, which holds \
             {what}: {why} (give this host that --ca-cert, its --client-cert and --client-key \
             if the holder asks for client certificates, or the holder an --advertise address \
             of the scheme it serves); nothing was sent"
        ),
    )
    .into_response()
}

/// A request's head and its whole body (up to a module's size), to send
/// on; a body that could not be read is refused.
pub(super) async fn read_whole(
    req: Request,
) -> Result<(axum::http::request::Parts, Bytes), Response> {
    let (parts, body) = req.into_parts();
    match axum::body::to_bytes(body, MAX_MODULE_BYTES).await {
        Ok(body) => Ok((parts, body)),
        Err(e) => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("the request's body could not be read: {e}"),
        )
        .into_response()),
    }
}

/// `e` with its causes (a connect error says why only in its sources).
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        out.push_str(": ");
        out.push_str(&c.to_string());
        cause = c.source();
    }
    out
}

/// The answer to a request host `by` forwarded to the address host
/// `meant` advertises, which reached host `me` instead: nothing was done.
pub(super) fn misdirected(by: &str, meant: &str, me: &str) -> Response {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "holder-unreachable",
        format!(
            "host {by} forwarded this request to the address host {meant} advertises, and it \
             reached host {me}: give each host its own --advertise (an address the other hosts \
             reach it at); nothing was done"
        ),
    )
    .into_response()
}

/// A request forwarded to host `id`, which held `what` and stopped
/// answering (paused, cut off) until it lost it; `now` holds it now.
pub(super) fn lost_holder(id: &str, what: &str, now: Option<String>) -> Response {
    unavailable(format!(
        "host {id}, which held {what}, stopped answering and lost it ({}) while this request \
         waited: it may or may not have taken effect; look, or retry it (with the same request \
         id; an update with its update id)",
        match now {
            Some(n) => format!("host {n} holds it now"),
            None => "its lease expired".into(),
        }
    ))
}

pub(super) fn unavailable(message: String) -> Response {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message).into_response()
}

/// Headers that belong to one connection, not to the request.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
    )
}

pub(super) async fn send(
    http: &reqwest::Client,
    me: &str,
    holder: &str,
    address: &str,
    parts: &axum::http::request::Parts,
    body: Bytes,
) -> Result<Response, reqwest::Error> {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let url = format!("{}{path}", address.trim_end_matches('/'));
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(me) {
        headers.insert(FORWARDED_BY, v);
    }
    if let Ok(v) = HeaderValue::from_str(holder) {
        headers.insert(FORWARDED_TO, v);
    }
    let resp = http
        .request(parts.method.clone(), url)
        .headers(headers)
        .body(body)
        .send()
        .await?;
    let status = resp.status();
    let mut out = Response::builder().status(status);
    for (name, value) in resp.headers() {
        if !hop_by_hop(name) {
            out = out.header(name, value);
        }
    }
    out = out.header(ANSWERED_BY, holder);
    let bytes = resp.bytes().await?;
    Ok(out
        .body(Body::from(bytes))
        .unwrap_or_else(|e| unavailable(format!("the holder's answer was malformed: {e}"))))
}
