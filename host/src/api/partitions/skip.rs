//! A time skip on a store of several partitions (`POST /v1/clock/skip` to
//! any host): the clock moves to the next time something waits for on any
//! host, once every host holding partitions is idle. Each host is asked
//! how it stands (`/v1/internal/quiet`, answered once it was unchanged and
//! idle for a moment), asked again at once to see that none changed since,
//! and the clock is moved through partition 0's engine, which stores it;
//! the other hosts follow the stored clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::{Front, ASK_LIMIT};
use crate::api::dto::{SkipInfo, SkipRequest};
use crate::api::error::ApiError;
use crate::api::extract::Body as JsonBody;
use crate::engine::{Engine, Held, Quiet};

/// How a host stands for a skip (see [`Quiet`]).
pub(in crate::api) const QUIET: &str = "/v1/internal/quiet";
/// Moves the clock from where it reads to a time (partition 0's engine).
pub(in crate::api) const CLOCK_TO: &str = "/v1/internal/clock-to";

/// The longest a skip waits for the hosts to be idle (as on one host).
const WAIT_LIMIT_MS: u64 = 60_000;

#[derive(Serialize, Deserialize)]
pub(in crate::api) struct QuietAsk {
    wait_ms: u64,
}

#[derive(Serialize, Deserialize)]
pub(in crate::api) struct ClockTo {
    from_ms: u64,
    to_ms: u64,
}

#[derive(Serialize, Deserialize)]
pub(in crate::api) struct Moved {
    now_ms: Option<u64>,
}

/// How this host stands for a skip, after up to `wait_ms`.
pub(in crate::api) async fn quiet(
    State(engine): State<Engine>,
    JsonBody(ask): JsonBody<QuietAsk>,
) -> Result<Json<Quiet>, ApiError> {
    one_of_several(&engine)?;
    let wait = Duration::from_millis(ask.wait_ms.min(WAIT_LIMIT_MS));
    Ok(Json(engine.quiet(wait).await?))
}

/// Moves the clock to `to_ms` if it reads `from_ms`.
pub(in crate::api) async fn clock_to(
    State(engine): State<Engine>,
    JsonBody(to): JsonBody<ClockTo>,
) -> Result<Json<Moved>, ApiError> {
    one_of_several(&engine)?;
    let now_ms = engine.move_clock_from(to.from_ms, to.to_ms).await?;
    Ok(Json(Moved { now_ms }))
}

/// The internal routes are for the hosts of a store of several
/// partitions, asking each other (`/v1/clock/skip` is the client's).
fn one_of_several(engine: &Engine) -> Result<(), ApiError> {
    if engine.partition().is_none() {
        return Err(ApiError::not_found(
            "the hosts of a store of several partitions send this to each other; on this store, \
             skip time with POST /v1/clock/skip",
        ));
    }
    Ok(())
}

/// Why a round of asking the hosts did not decide the skip.
enum Round {
    /// The answer to give.
    Done(Response),
    /// Ask again (something is about to wake, or a host changed).
    Again,
}

impl Front {
    /// `POST /v1/clock/skip` across the hosts.
    pub(super) async fn skip(&self, parts: Parts, body: Bytes) -> Response {
        let asked = Request::from_parts(parts.clone(), Body::from(body));
        let req = match JsonBody::<SkipRequest>::from_request(asked, &()).await {
            Ok(JsonBody(req)) => req,
            Err(refused) => return refused.into_response(),
        };
        let wait = req.wait_ms.unwrap_or(2_000).min(WAIT_LIMIT_MS);
        let give_up = Instant::now() + Duration::from_millis(wait);
        // Where the clock reads, until a host says (every host follows the
        // stored clock).
        let mut now = self
            .engines
            .all()
            .first()
            .map_or(0, |(_, engine)| engine.clock().now_ms());
        loop {
            match self.skip_round(req.limit_ms, give_up, &mut now).await {
                Round::Done(answer) => return answer,
                Round::Again if Instant::now() >= give_up => {
                    return held(now, "busy", "the hosts kept changing".into())
                }
                Round::Again => {}
            }
        }
    }

    async fn skip_round(&self, limit_ms: Option<u64>, give_up: Instant, now: &mut u64) -> Round {
        // One partition of each host holding any: partition 0 for its
        // holder, whose clock is the one stored.
        let map = match self.holders.read(true).await {
            Ok(map) => map,
            Err(refused) => return Round::Done(refused),
        };
        let mut hosts: BTreeMap<&str, u32> = BTreeMap::new();
        for (part, holder) in map.iter().enumerate().rev() {
            match holder {
                Some((id, _)) => {
                    hosts.insert(id.as_str(), part as u32);
                }
                // Nobody runs it now (a host died, its lease not out
                // yet): nothing says what it waits for.
                None => {
                    if Instant::now() >= give_up {
                        return Round::Done(held(
                            *now,
                            "busy",
                            format!(
                                "partition {part} is held by no host now (its host stopped or \
                                 died; another takes it within --lease): skip again then"
                            ),
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return Round::Again;
                }
            }
        }
        let first = match self.stands(&hosts, give_up, true).await {
            Ok(first) => first,
            Err(refused) => return Round::Done(refused),
        };
        *now = first.get(&0).map_or(*now, |q| q.now_ms);
        let busy: Vec<&Quiet> = first.values().filter(|q| !q.quiet).collect();
        if !busy.is_empty() {
            let attempts = busy.iter().map(|q| q.attempts).sum();
            let steps = busy.iter().map(|q| q.steps).sum();
            return Round::Done(held_as(*now, Held::Busy { attempts, steps }));
        }
        if limit_ms.is_some_and(|l| l <= *now) {
            return Round::Done(held_as(*now, Held::Limit));
        }
        let latest = first.values().map(|q| q.now_ms).max().unwrap_or(*now);
        let Some(due) = first.values().filter_map(|q| q.next_wait_ms).min() else {
            return Round::Done(held_as(*now, Held::NothingWaits));
        };
        // Due already (or a host has not followed the stored clock yet):
        // it is about to wake.
        if due <= latest {
            return Round::Again;
        }
        // Nothing changed on any host since it said it was quiet.
        let again = match self.stands(&hosts, give_up, false).await {
            Ok(again) => again,
            Err(refused) => return Round::Done(refused),
        };
        let unchanged = first
            .iter()
            .all(|(part, q)| again.get(part).is_some_and(|a| a.quiet && a.seq == q.seq));
        // And every host was asked: none took or gave a partition since
        // the holders were read (a host asked through a partition it gave
        // up meanwhile was not asked at all).
        let same_holders = match self.holders.read(true).await {
            Ok(now_held) => now_held == map,
            Err(refused) => return Round::Done(refused),
        };
        if !unchanged || !same_holders {
            return Round::Again;
        }
        let target = limit_ms.map_or(due, |l| due.min(l));
        crate::pause::point("skip-before-move").await;
        let moved = self
            .internal(
                0,
                CLOCK_TO,
                give_up,
                &ClockTo {
                    from_ms: *now,
                    to_ms: target,
                },
            )
            .await;
        match moved {
            Ok(Moved {
                now_ms: Some(now_ms),
            }) => Round::Done(
                Json(SkipInfo {
                    now_ms,
                    skipped_ms: target - *now,
                    held: None,
                    reason: None,
                })
                .into_response(),
            ),
            // Moved meanwhile (another skip, an advance): look again.
            Ok(Moved { now_ms: None }) => Round::Again,
            Err(refused) => Round::Done(refused),
        }
    }

    /// How each host in `hosts` (by the partition it is asked through)
    /// stands: `settle`, once it was quiet for a moment (waiting until
    /// `give_up` at the most); else at once.
    async fn stands(
        &self,
        hosts: &BTreeMap<&str, u32>,
        give_up: Instant,
        settle: bool,
    ) -> Result<BTreeMap<u32, Quiet>, Response> {
        // A quiet wait is of one moment at least (none would say "idle"
        // of a host that changes all the time).
        let wait_ms = if settle {
            (give_up
                .saturating_duration_since(Instant::now())
                .as_millis() as u64)
                .max(1)
        } else {
            0
        };
        let asked = hosts.iter().map(|(host, part)| async move {
            match self
                .internal::<_, Quiet>(*part, QUIET, give_up, &QuietAsk { wait_ms })
                .await
            {
                Ok(q) => Ok((*part, q)),
                Err(refused) => Err(named(refused, host).await),
            }
        });
        futures::future::join_all(asked).await.into_iter().collect()
    }

    /// Partition `part`'s answer to `path` with `body`, sent with this
    /// host's token wherever `part` is held, within the skip's time (and
    /// a moment for the answer to come back).
    async fn internal<T: Serialize, A: serde::de::DeserializeOwned>(
        &self,
        part: u32,
        path: &'static str,
        give_up: Instant,
        body: &T,
    ) -> Result<A, Response> {
        let mut ask = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(token) = &self.token {
            ask = ask.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let json = serde_json::to_vec(body).unwrap_or_default();
        let (ask, ()) = match ask.body(()) {
            Ok(ask) => ask.into_parts(),
            Err(e) => return Err(failed(e.to_string())),
        };
        let limit = give_up.saturating_duration_since(Instant::now()) + ASK_LIMIT;
        let answer =
            match tokio::time::timeout(limit, self.dispatch(part, ask, Bytes::from(json))).await {
                Ok(answer) => answer,
                Err(_) => {
                    return Err(held(
                        0,
                        "busy",
                        format!(
                            "the host holding partition {part} did not answer within {} ms \
                             (paused or cut off?): skip again once it answers or its \
                             partitions are taken over",
                            limit.as_millis()
                        ),
                    ))
                }
            };
        let status = answer.status();
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "host-refused",
                format!(
                    "the host holding partition {part} refused this host's token ({status}): \
                     give every host the same --token (or --control-token)"
                ),
            )
            .into_response());
        }
        if status != StatusCode::OK {
            return Err(answer);
        }
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .map_err(|e| failed(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            failed(format!(
                "partition {part}'s holder answered {path} with {}: {e}",
                String::from_utf8_lossy(&bytes)
            ))
        })
    }
}

/// `refused`, an answer from host `host`, its message naming the host.
async fn named(refused: Response, host: &str) -> Response {
    let status = refused.status();
    let bytes = axum::body::to_bytes(refused.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    match v.pointer_mut("/error/message") {
        Some(serde_json::Value::String(message)) => {
            *message = format!("host {host}: {message}");
            (status, Json(v)).into_response()
        }
        _ => (status, bytes).into_response(),
    }
}

/// The answer of a skip that did not move, for a reason a host gives too
/// (said as one host says it).
fn held_as(now_ms: u64, why: Held) -> Response {
    held(now_ms, why.code(), why.to_string())
}

fn held(now_ms: u64, code: &str, reason: String) -> Response {
    Json(SkipInfo {
        now_ms,
        skipped_ms: 0,
        held: Some(code.to_owned()),
        reason: Some(reason),
    })
    .into_response()
}

fn failed(why: String) -> Response {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", why).into_response()
}
