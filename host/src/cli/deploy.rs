//! `weft deploy FILE.wasm [--name NAME]`.

use std::path::Path;

use anyhow::{Context, Result};

use super::client::{enc, Client};
use super::time::when;
use crate::api::dto::{
    ModuleInfo, ModuleList, PruneReport, PruneRequest, VersionList, WorkflowTypeList,
};
use crate::model::ModuleKind;

pub async fn run(
    client: &Client,
    file: &Path,
    name: Option<String>,
    env: Vec<String>,
    dirs: Vec<String>,
    http: Vec<String>,
    replace_activities: bool,
) -> Result<i32> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    // The type name defaults to the name in the project's weft.toml (`weft
    // build --out x.wasm` does not rename the type), else to the file's
    // stem: `hello.wasm` deploys `hello`.
    let name = name
        .or_else(|| super::project::project_name_near(file))
        .or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()));
    let mut query = Vec::new();
    if let Some(n) = &name {
        query.push(format!("name={}", enc(n)));
    }
    if replace_activities {
        query.push("replace_activities=true".to_owned());
    }
    query.extend(env.iter().map(|e| format!("env={}", enc(e))));
    query.extend(http.iter().map(|h| format!("http={}", enc(h))));
    for d in &dirs {
        // Relative host paths are the caller's, not the host's.
        let door = crate::model::DirDoor::parse(d).map_err(anyhow::Error::msg)?;
        let host = std::fs::canonicalize(&door.host)
            .with_context(|| format!("--dir {d}: cannot find {}", door.host))?;
        let mode = if door.read_only { ":ro" } else { "" };
        let spec = format!("{}:{}{mode}", host.display(), door.guest);
        query.push(format!("dir={}", enc(&spec)));
    }
    let path = format!("/v1/modules?{}", query.join("&"));
    let spinner = super::progress::Spinner::start(format!(
        "uploading {} ({:.1} MB) and compiling it on the host",
        file.display(),
        bytes.len() as f64 / 1e6
    ));
    let info: ModuleInfo = client.post_bytes(&path, bytes).await?;
    drop(spinner);
    match info.kind {
        ModuleKind::Workflow => {
            println!(
                "workflow type {} -> module {}{}",
                info.workflow_type.unwrap_or_default(),
                info.hash,
                info.version
                    .map(|v| format!(" (version {v}; new executions start on it)"))
                    .unwrap_or_default()
            )
        }
        ModuleKind::Activity => println!(
            "activities {} -> module {}",
            info.activities.join(", "),
            info.hash
        ),
    }
    for m in &info.moved {
        println!(
            "moved: activity {} was served by module {}",
            m.name,
            &m.from[..m.from.len().min(12)]
        );
    }
    Ok(0)
}

/// `weft describe-module HASH`: what a module is and what it may reach.
pub async fn describe(client: &Client, hash: &str, json: bool) -> Result<i32> {
    let m: ModuleInfo = client.get(&format!("/v1/modules/{}", enc(hash))).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&m)?);
        return Ok(0);
    }
    println!("module:      {}", m.hash);
    println!("size:        {} bytes", m.size_bytes);
    match m.kind {
        ModuleKind::Workflow => {
            println!("workflow:    {}", m.workflow_type.unwrap_or_default());
            println!("signals:     {}", m.signals.join(", "));
            println!("queries:     {}", m.queries.join(", "));
            println!("updates:     {}", m.updates.join(", "));
        }
        ModuleKind::Activity => {
            println!("activities:  {}", m.activities.join(", "));
            if m.doors.env.is_empty() && m.doors.dirs.is_empty() && m.doors.http.is_empty() {
                println!("doors:       none (no environment, no files, no network)");
            }
            for e in &m.doors.env {
                let key = e.split('=').next().unwrap_or_default();
                println!("env:         {key} (value hidden)");
            }
            for h in &m.doors.http {
                println!("http:        {h}");
            }
            for d in &m.doors.dirs {
                let mode = if d.read_only {
                    "read-only"
                } else {
                    "read-write"
                };
                println!("dir:         {} as {} ({mode})", d.host, d.guest);
            }
        }
    }
    Ok(0)
}

/// Names for a table cell: the first few, then how many more
/// (`weft describe-module` lists them all).
fn short_list(names: &[String]) -> String {
    const SHOWN: usize = 4;
    match names.len() {
        n if n <= SHOWN => names.join(", "),
        n => format!("{}, ... ({} more)", names[..SHOWN].join(", "), n - SHOWN),
    }
}

/// A table for the terminal: no borders, a header row.
pub(super) fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::NOTHING)
        .set_header(header.to_vec());
    t
}

/// `weft modules`: every deployed module, oldest first.
pub async fn modules(client: &Client, json: bool) -> Result<i32> {
    let list: ModuleList = client.get("/v1/modules").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    let mut t = table(&["MODULE", "KIND", "SERVES", "SIZE", "DEPLOYED"]);
    for m in &list.modules {
        let (kind, serves) = match m.kind {
            ModuleKind::Workflow => (
                "workflow",
                format!("type {}", m.workflow_type.clone().unwrap_or_default()),
            ),
            ModuleKind::Activity => ("activities", short_list(&m.activities)),
        };
        t.add_row([
            m.hash[..12.min(m.hash.len())].to_owned(),
            kind.to_owned(),
            serves,
            format!("{} KiB", m.size_bytes / 1024),
            when(m.deployed_at_ms),
        ]);
    }
    println!("{t}");
    Ok(0)
}

/// `weft types`: every workflow type with its current version and what runs.
pub async fn types(client: &Client, json: bool) -> Result<i32> {
    let list: WorkflowTypeList = client.get("/v1/workflow-types").await?;
    let mut rows = Vec::new();
    for wt in &list.workflow_types {
        let versions: VersionList = client
            .get(&format!("/v1/workflow-types/{}/versions", enc(&wt.name)))
            .await?;
        let current = versions.versions.iter().find(|v| v.current);
        rows.push(serde_json::json!({
            "name": wt.name,
            "current_version": current.map(|v| v.version),
            "current_module": wt.current_module,
            "versions": versions.versions.len(),
            "running": versions.versions.iter().map(|v| v.running).sum::<usize>(),
            "stalled": versions.versions.iter().map(|v| v.stalled).sum::<usize>(),
        }));
    }
    if json {
        let list = serde_json::json!({ "workflow_types": rows });
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    let mut t = table(&[
        "TYPE", "CURRENT", "MODULE", "VERSIONS", "RUNNING", "STALLED",
    ]);
    for r in &rows {
        let module = r["current_module"].as_str().unwrap_or_default();
        t.add_row([
            r["name"].as_str().unwrap_or_default().to_owned(),
            r["current_version"].to_string(),
            module[..12.min(module.len())].to_owned(),
            r["versions"].to_string(),
            r["running"].to_string(),
            r["stalled"].to_string(),
        ]);
    }
    println!("{t}");
    Ok(0)
}

/// `weft modules prune [--dry-run]`.
pub async fn prune(client: &Client, dry_run: bool, json: bool) -> Result<i32> {
    let report: PruneReport = client
        .post_json("/v1/modules/prune", &PruneRequest { dry_run })
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(0);
    }
    let verb = if dry_run { "would delete" } else { "deleted" };
    for p in &report.pruned {
        println!(
            "{verb} module {}: {}",
            &p.module[..12.min(p.module.len())],
            p.what
        );
    }
    if report.pruned.is_empty() {
        println!("every module is referred to: nothing to prune");
    }
    Ok(0)
}

/// `weft task-queues`: each queue's backlog, running tasks and workers.
pub async fn task_queues(client: &Client, json: bool) -> Result<i32> {
    let list: crate::api::dto::TaskQueueList = client.get("/v1/task-queues").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    let mut t = table(&["QUEUE", "BACKLOG", "RUNNING", "POLLING", "LAST POLL"]);
    for q in &list.task_queues {
        t.add_row([
            q.name.clone(),
            q.backlog.to_string(),
            q.running.to_string(),
            q.pollers.to_string(),
            q.last_poll_ms.map_or_else(|| "never".to_owned(), when),
        ]);
    }
    println!("{t}");
    Ok(0)
}
