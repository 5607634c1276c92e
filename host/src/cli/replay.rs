//! `weft replay --module FILE.wasm (--history FILE | --dir DIR)`: offline,
//! no host needed. A CI job keeps the histories of real executions (export
//! them with `weft history ID --json`) and replays every one against the
//! module it is about to deploy.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::engine::{replay_offline, Engine, ReplayReport};
use crate::model::{HistoryExport, ModuleHash};
use crate::wasm::Runtime;

/// Exit 0: clean; 1: divergence; 2: the replay could not run (bad files, a
/// broken module), so nothing is known about determinism. With `--dir`, the
/// worst of all its histories.
pub async fn run(history: Option<&Path>, dir: Option<&Path>, module: &Path) -> Result<i32> {
    let files = match (history, dir) {
        (Some(file), None) => vec![file.to_path_buf()],
        (None, Some(dir)) => match histories_in(dir) {
            Ok(files) => files,
            Err(e) => {
                eprintln!("error: {e:#}");
                return Ok(2);
            }
        },
        _ => bail!("give one of --history FILE or --dir DIR"),
    };
    let bytes = match std::fs::read(module) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", module.display());
            return Ok(2);
        }
    };
    // WEFT_COMPILE_CACHE (as for `weft server`): a module compiles once
    // across replays; without it, in a scratch directory.
    let scratch = tempfile::tempdir().context("creating a scratch directory")?;
    let cache = std::env::var_os("WEFT_COMPILE_CACHE")
        .filter(|c| !c.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| scratch.path().to_path_buf());
    let runtime = Engine::offline_runtime(cache)?;
    let hash = ModuleHash::of(&bytes);
    let many = dir.is_some();
    let mut worst = 0;
    let (mut clean, mut diverged, mut broken) = (0, 0, 0);
    for file in &files {
        let code = match replay(&runtime, file, &hash, &bytes).await {
            Err(e) if many => {
                println!("BROKEN   {}: {e:#}", file.display());
                2
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                2
            }
            Ok(report) => show(file, &report, many),
        };
        match code {
            0 => clean += 1,
            1 => diverged += 1,
            _ => broken += 1,
        }
        worst = worst.max(code);
    }
    if many {
        println!(
            "{} histories in {}: {clean} clean, {diverged} diverged, {broken} could not be replayed",
            files.len(),
            dir.map(|d| d.display().to_string()).unwrap_or_default()
        );
    }
    Ok(worst)
}

/// Prints one report; its exit code.
fn show(file: &Path, report: &ReplayReport, many: bool) -> i32 {
    match report {
        ReplayReport::Clean { events } if many => {
            println!("ok       {} ({events} events)", file.display());
            0
        }
        ReplayReport::Clean { events } => {
            println!("replayed {events} events cleanly");
            0
        }
        ReplayReport::Diverged(d) => {
            if many {
                println!("DIVERGED {}", file.display());
            }
            println!("divergence at event {}:", d.event_index);
            println!("  recorded:        {}", d.recorded);
            println!("  the code then:   {}", d.issued);
            1
        }
        ReplayReport::Broken(reason) if many => {
            println!("BROKEN   {}: {reason}", file.display());
            2
        }
        ReplayReport::Broken(reason) => {
            println!("replay failed: {reason}");
            2
        }
    }
}

/// The `.json` files in `dir` and its subdirectories, in name order.
fn histories_in(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                walk(&path, out)?;
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
        Ok(())
    }
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        bail!(
            "{} holds no .json histories: export them with `weft history ID --json > FILE.json`",
            dir.display()
        );
    }
    Ok(files)
}

async fn replay(
    runtime: &Runtime,
    history: &Path,
    hash: &ModuleHash,
    bytes: &[u8],
) -> Result<ReplayReport> {
    let text = std::fs::read_to_string(history)
        .with_context(|| format!("cannot read {}", history.display()))?;
    let export: HistoryExport = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a weft history (export one with `weft history ID --json`)",
            history.display()
        )
    })?;
    Ok(replay_offline(runtime, hash, bytes, export).await)
}
