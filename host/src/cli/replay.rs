//! `weft replay --history FILE --module FILE.wasm`: offline, no host needed.

use std::path::Path;

use anyhow::{Context, Result};

use crate::engine::{replay_offline, Engine, ReplayReport};
use crate::model::HistoryExport;

/// Exit 0: clean; 1: divergence; 2: the replay could not run (bad files, a
/// broken module), so nothing is known about determinism.
pub async fn run(history: &Path, module: &Path) -> Result<i32> {
    let report = match replay(history, module).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(2);
        }
    };
    match report {
        ReplayReport::Clean { events } => {
            println!("replayed {events} events cleanly");
            Ok(0)
        }
        ReplayReport::Diverged(d) => {
            println!("divergence at event {}:", d.event_index);
            println!("  recorded:        {}", d.recorded);
            println!("  the code then:   {}", d.issued);
            Ok(1)
        }
        ReplayReport::Broken(reason) => {
            println!("replay failed: {reason}");
            Ok(2)
        }
    }
}

async fn replay(history: &Path, module: &Path) -> Result<ReplayReport> {
    let text = std::fs::read_to_string(history)
        .with_context(|| format!("cannot read {}", history.display()))?;
    let export: HistoryExport = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a weft history (export one with `weft history ID --json`)",
            history.display()
        )
    })?;
    let bytes =
        std::fs::read(module).with_context(|| format!("cannot read {}", module.display()))?;
    let cache = tempfile::tempdir().context("creating a scratch directory")?;
    let runtime = Engine::offline_runtime(cache.path().to_path_buf())?;
    Ok(replay_offline(&runtime, bytes, export).await)
}
