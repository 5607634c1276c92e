//! `weft replay --history FILE --module FILE.wasm`: offline, no host needed.

use std::path::Path;

use anyhow::{Context, Result};

use crate::engine::{replay_offline, Engine, ReplayReport};
use crate::model::HistoryExport;

pub async fn run(history: &Path, module: &Path) -> Result<i32> {
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
    match replay_offline(&runtime, bytes, export).await {
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
