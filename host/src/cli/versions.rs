//! `weft versions`, `weft set-current`, `weft upgrade`.

use anyhow::Result;

use super::client::Client;
use crate::api::dto::{
    CurrentVersion, ResetRequest, ResetResponse, SetCurrentRequest, UpgradeReportInfo,
    UpgradeRequest, VersionList, VersionRef,
};

fn version_ref(s: &str) -> VersionRef {
    match s.strip_prefix('v').unwrap_or(s).parse() {
        Ok(n) => VersionRef::Number(n),
        Err(_) => VersionRef::Text(s.to_owned()),
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

pub async fn list(client: &Client, workflow_type: &str, json: bool) -> Result<i32> {
    let list: VersionList = client
        .get(&format!("/v1/workflow-types/{workflow_type}/versions"))
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    println!(
        "{:<9} {:<14} {:>8} {:>8}",
        "version", "module", "running", "stalled"
    );
    for v in &list.versions {
        let version = format!("{}{}", v.version, if v.current { " *" } else { "" });
        println!(
            "{:<9} {:<14} {:>8} {:>8}",
            version,
            short(&v.module),
            v.running,
            v.stalled
        );
    }
    println!("(* = current: new executions start on it)");
    Ok(0)
}

/// How `weft reset` resets (its flags beside the point).
pub struct ResetHow {
    pub version: Option<String>,
    pub reason: Option<String>,
    pub exclude_signals: bool,
    pub request_id: Option<String>,
}

pub async fn reset(client: &Client, id: &str, to_event: u64, how: ResetHow) -> Result<i32> {
    let r: ResetResponse = client
        .post_json(
            &format!("/v1/executions/{id}/reset"),
            &ResetRequest {
                to_event,
                version: how.version.as_deref().map(version_ref),
                reason: how.reason,
                exclude_signals: how.exclude_signals,
                request_id: how.request_id,
            },
        )
        .await?;
    let version = r
        .version
        .map(|v| format!(" on version {v}"))
        .unwrap_or_default();
    if r.duplicate {
        println!(
            "{} was reset with this request id already: it runs again from event {} ({} later \
             event(s) discarded then){version}",
            r.id, r.to_event, r.discarded
        );
    } else {
        println!(
            "{} runs again from event {} ({} later event(s) discarded){version}",
            r.id, r.to_event, r.discarded
        );
    }
    Ok(0)
}

pub async fn set_current(client: &Client, workflow_type: &str, version: &str) -> Result<i32> {
    let current: CurrentVersion = client
        .put_json(
            &format!("/v1/workflow-types/{workflow_type}/current"),
            &SetCurrentRequest {
                version: version_ref(version),
            },
        )
        .await?;
    println!(
        "{} now starts executions on version {} (module {})",
        current.workflow_type,
        current.version,
        short(&current.module)
    );
    Ok(0)
}

/// Exit 0 when every execution moved (or would), 1 when some diverged or
/// could not be checked.
pub async fn upgrade(
    client: &Client,
    workflow_type: &str,
    to: &str,
    dry_run: bool,
    ids: Option<Vec<String>>,
    json: bool,
) -> Result<i32> {
    let spinner = super::progress::Spinner::start(format!(
        "replaying each {workflow_type} execution's history on version {to}"
    ));
    let report: UpgradeReportInfo = client
        .post_json(
            &format!("/v1/workflow-types/{workflow_type}/upgrade"),
            &UpgradeRequest {
                to: version_ref(to),
                dry_run,
                ids,
            },
        )
        .await?;
    drop(spinner);
    let stuck = report
        .executions
        .iter()
        .filter(|e| e.outcome == "diverged" || e.outcome == "failed")
        .count();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(i32::from(stuck > 0));
    }
    println!(
        "{}upgrade of {} to version {} (module {}): {} execution(s)",
        if report.dry_run { "dry run: " } else { "" },
        report.workflow_type,
        report.to_version,
        short(&report.to_module),
        report.executions.len()
    );
    for e in &report.executions {
        let from = e
            .from_version
            .map_or_else(|| short(&e.from_module).to_owned(), |v| format!("v{v}"));
        let detail = match (&e.divergence, &e.reason) {
            (Some(d), _) => format!(
                ": at event {}, recorded `{}`; the new code {}",
                d.event_index, d.recorded, d.issued
            ),
            (None, Some(r)) => format!(": {r}"),
            (None, None) => String::new(),
        };
        println!("  {} ({from}, {}) {}{detail}", e.id, e.status, e.outcome);
    }
    let count = |o: &str| report.executions.iter().filter(|e| e.outcome == o).count();
    println!(
        "{} {}, {} diverged, {} failed, {} already there",
        if report.dry_run {
            count("would-move")
        } else {
            count("moved")
        },
        if report.dry_run {
            "would move"
        } else {
            "moved"
        },
        count("diverged"),
        count("failed"),
        count("already-there")
    );
    Ok(i32::from(stuck > 0))
}
