//! A standby compiles what is deployed to its store ahead of need: the
//! first step after it takes the store over loads machine code from the
//! compile cache instead of compiling (seconds for a Rust component, tens
//! of seconds for a Python one) in the middle of a failover.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use crate::model::ModuleHash;
use crate::store::cluster::Cluster;
use crate::wasm::{Runtime, SandboxConfig};

/// How often a standby looks for modules deployed since.
const EVERY: Duration = Duration::from_secs(2);

/// Compiles every module of the store into `cache_dir`, and each one
/// deployed later, until `done` turns true (this host holds the store:
/// its engine compiles what is deployed from then on).
pub async fn warm_compile_cache(
    cache_dir: PathBuf,
    cluster: Cluster,
    mut done: watch::Receiver<bool>,
) {
    // The same compiler settings as the engine's (the cache key includes
    // them); no pool: nothing runs here.
    let runtime = match Runtime::new(SandboxConfig {
        cache_dir,
        cpu_deadline: Duration::from_secs(5),
        memory_limit_bytes: 256 << 20,
        output_cap: 64 << 10,
        pool_slots: 0,
        keep_resident: 0,
    }) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "this host cannot compile ahead");
            return;
        }
    };
    let mut seen: HashSet<String> = HashSet::new();
    while !*done.borrow() {
        let hashes = cluster.module_hashes().unwrap_or_default();
        for text in hashes {
            if *done.borrow() {
                return;
            }
            if !seen.insert(text.clone()) {
                continue;
            }
            let (Ok(hash), Ok(Some(bytes))) =
                (text.parse::<ModuleHash>(), cluster.module_bytes(&text))
            else {
                continue;
            };
            let t0 = std::time::Instant::now();
            match runtime.precompile(&hash, bytes).await {
                Ok(()) => {
                    tracing::info!(module = %text, took_ms = t0.elapsed().as_millis() as u64, "compiled a module ahead")
                }
                Err(e) => {
                    tracing::warn!(module = %text, error = %e, "could not compile a module ahead")
                }
            }
        }
        let _ = tokio::time::timeout(EVERY, done.wait_for(|d| *d)).await;
    }
}
