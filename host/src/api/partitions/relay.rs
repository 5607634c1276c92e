//! A workflow's request to an execution of a partition another host
//! holds: relayed to that host's engine of the partition.

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use serde_json::Value;

use super::{Front, ASK_LIMIT};
use crate::api::error::ApiError;
use crate::engine::{Engine, NotRelayed, Relay};
use crate::store::ExternalRequest;

/// Where a host relays a workflow's request to an execution of a
/// partition another host holds (see [`Relay`]).
pub(in crate::api) const RECEIVE: &str = "/v1/internal/receive";

/// A relayed request, as [`RECEIVE`] takes it.
#[derive(serde::Serialize, serde::Deserialize)]
pub(in crate::api) struct Relayed {
    /// The sender's partition.
    from: u32,
    request: ExternalRequest,
}

/// Records a request relayed from another host's partition (the front
/// gives it to the target partition's engine): `{"found": bool}`.
pub(in crate::api) async fn receive(
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
    ) -> futures::future::BoxFuture<'static, Result<bool, NotRelayed>> {
        let front = self.clone();
        let body = serde_json::to_vec(&Relayed {
            from,
            request: request.clone(),
        });
        let unsendable = move |why: String| NotRelayed::Unsendable { part, why };
        Box::pin(async move {
            let body = body.map_err(|e| unsendable(e.to_string()))?;
            let mut ask = Request::post(RECEIVE).header(header::CONTENT_TYPE, "application/json");
            if let Some(token) = &front.token {
                ask = ask.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let (parts, ()) = ask
                .body(())
                .map_err(|e| unsendable(e.to_string()))?
                .into_parts();
            let asked = front.dispatch(part, parts, Bytes::from(body));
            let limit = front.wait + ASK_LIMIT;
            let answer =
                tokio::time::timeout(limit, asked)
                    .await
                    .map_err(|_| NotRelayed::NoAnswer {
                        part,
                        secs: limit.as_secs(),
                    })?;
            let status = answer.status();
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
                return Err(NotRelayed::TokenRefused {
                    part,
                    status: status.as_u16(),
                });
            }
            let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
                .await
                .map_err(|e| NotRelayed::Unreadable {
                    part,
                    body: e.to_string(),
                })?;
            let body = || String::from_utf8_lossy(&bytes).into_owned();
            if !status.is_success() {
                return Err(NotRelayed::Refused {
                    part,
                    status: status.as_u16(),
                    body: body(),
                });
            }
            serde_json::from_slice::<Value>(&bytes)
                .ok()
                .and_then(|v| v.get("found").and_then(Value::as_bool))
                .ok_or_else(|| NotRelayed::Unreadable { part, body: body() })
        })
    }
}
