//! Which host holds each partition, as the store's leases say: one map per
//! front, read from the store at most once a [`KEPT`] by whatever needs it
//! (a request forwarded, a poll asking the other hosts, a relayed
//! request), and read again at once by whoever found it out of date (a
//! holder that answered it no longer holds the partition, or could not be
//! reached).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::response::{IntoResponse, Response};

use super::super::cluster::unavailable;
use super::super::error::ApiError;
use crate::store::cluster::Cluster;

/// How long a map read from the store answers.
const KEPT: Duration = Duration::from_secs(1);

/// Each partition's live holder (id, address), by partition.
pub(super) type Map = Arc<Vec<Option<(String, String)>>>;

#[derive(Clone)]
pub(super) struct Holders {
    cluster: Cluster,
    kept: Arc<Mutex<Option<(Instant, Map)>>>,
}

impl Holders {
    pub fn new(cluster: Cluster) -> Self {
        Self {
            cluster,
            kept: Arc::default(),
        }
    }

    /// The map: the one kept if it was read less than [`KEPT`] ago and
    /// `fresh` is not asked, else read from the store now (and kept). The
    /// answer when the store cannot be read.
    pub async fn read(&self, fresh: bool) -> Result<Map, Response> {
        if !fresh {
            if let Some((at, map)) = &*self.lock() {
                if at.elapsed() < KEPT {
                    return Ok(map.clone());
                }
            }
        }
        let started = Instant::now();
        let cluster = self.cluster.clone();
        let map: Map = match tokio::task::spawn_blocking(move || cluster.holders()).await {
            Ok(Ok(map)) => Arc::new(map),
            Ok(Err(e)) => {
                return Err(ApiError::from(crate::engine::EngineError::from(e)).into_response())
            }
            Err(e) => {
                return Err(unavailable(format!(
                    "looking up the partitions' holders failed: {e}"
                )))
            }
        };
        // Kept unless a read begun later was kept meanwhile.
        let mut kept = self.lock();
        if kept.as_ref().is_none_or(|(at, _)| *at <= started) {
            *kept = Some((started, map.clone()));
        }
        Ok(map)
    }

    /// Partition `part`'s holder (see [`Holders::read`]).
    pub async fn of(&self, part: u32, fresh: bool) -> Result<Option<(String, String)>, Response> {
        Ok(self
            .read(fresh)
            .await?
            .get(part as usize)
            .cloned()
            .flatten())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Instant, Map)>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }
}
