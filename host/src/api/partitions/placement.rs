//! The partition a request about an execution, or a start, goes to: the
//! store's directory for an id it placed (its answers kept), else the id's
//! home.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::Front;
use crate::api::cluster::unavailable;
use crate::api::error::ApiError;
use crate::store::cluster::home;

/// Ids whose partition the directory named, kept (an id never moves).
const PLACED_KEPT: usize = 100_000;

impl Front {
    /// Execution `id`'s partition (the directory's answers are kept).
    pub(super) async fn partition_of(&self, id: &str) -> Result<u32, Response> {
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
    pub(super) async fn body_partition(&self, path: &str, body: &Bytes) -> Result<u32, Response> {
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
}
