//! `weft start`, `result`, `describe`, `list`, `history`.

use anyhow::{Context, Result};

use super::client::{enc, Client};
use super::time::when;
use crate::api::dto::{
    ExecutionDetail, ExecutionList, ExecutionResult, StartRequest, StartResponse,
};
use crate::model::{ExecutionStatus, HistoryExport, IdReusePolicy};

/// Exit code when the execution is still running and the caller did not wait.
pub const EXIT_RUNNING: i32 = 3;

pub struct StartArgs {
    pub workflow_type: String,
    pub id: Option<String>,
    pub input: Option<String>,
    pub request_id: Option<String>,
    pub id_reuse_policy: IdReusePolicy,
    pub execution_timeout_ms: Option<u64>,
    pub run_timeout_ms: Option<u64>,
    /// `NAME=VALUE` each (VALUE as JSON when it parses, else a string).
    pub search_attributes: Vec<String>,
    pub memo: Vec<String>,
    pub wait: bool,
    pub json: bool,
}

/// `weft list`'s filters and page.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub(super) conn: super::Conn,
    /// Only executions with this status.
    #[arg(long, value_parser = ["running", "stalled", "completed", "failed", "cancelled", "terminated"])]
    pub status: Option<String>,
    /// Only executions of this workflow type.
    #[arg(long = "type")]
    pub workflow_type: Option<String>,
    /// Only executions whose id starts with this.
    #[arg(long)]
    pub id_prefix: Option<String>,
    /// A list query over the system attributes (ExecutionId or WorkflowId,
    /// WorkflowType, ExecutionStatus, StartTime, CloseTime, Module) and the
    /// custom search attributes, in Temporal's syntax: `CustomerId = "c-42"
    /// AND StartTime > "2026-11-01"`: =, !=, <, <=, >, >=, [NOT] IN (...),
    /// [NOT] BETWEEN .. AND .., STARTS_WITH, IS [NOT] NULL, AND, OR,
    /// parentheses; strings in quotes, names in backquotes if need be;
    /// times in RFC 3339 with a zone, or a date (midnight UTC). See `weft
    /// search-attributes`.
    #[arg(long, short = 'q')]
    pub query: Option<String>,
    /// Started at or after: a date (`2026-11-30`, `2026-11-30T08:00`, in
    /// your time zone, or RFC 3339) or a duration ago (`2h`, `7d`).
    #[arg(long, value_name = "WHEN")]
    pub started_after: Option<String>,
    /// Started before (a date, or a duration ago).
    #[arg(long, value_name = "WHEN")]
    pub started_before: Option<String>,
    /// Closed at or after (a date, or a duration ago); leaves out open executions.
    #[arg(long, value_name = "WHEN")]
    pub closed_after: Option<String>,
    /// Closed before (a date, or a duration ago); leaves out open executions.
    #[arg(long, value_name = "WHEN")]
    pub closed_before: Option<String>,
    /// Executions per page (1 to 1000).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Start after this point (the cursor the previous page printed).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Every page, not only the first.
    #[arg(long, conflicts_with = "cursor")]
    pub all: bool,
    /// Print how many executions the filters select (over all pages)
    /// instead of listing them (`--json`: `{"count"}`).
    #[arg(long, conflicts_with_all = ["cursor", "all"])]
    pub count: bool,
    /// Print JSON: `{"executions": [...], "next_cursor"}`.
    #[arg(long)]
    pub json: bool,
}

pub async fn start(client: &Client, args: StartArgs) -> Result<i32> {
    let StartArgs {
        workflow_type,
        id,
        input,
        request_id,
        id_reuse_policy,
        execution_timeout_ms,
        run_timeout_ms,
        search_attributes,
        memo,
        wait,
        json,
    } = args;
    let input = parse_json("--input", input)?;
    let search_attributes = named_values("--search-attribute", search_attributes)?;
    let memo = named_values("--memo", memo)?;
    let req = StartRequest {
        workflow_type,
        id,
        input,
        request_id,
        id_reuse_policy,
        // The id is printed before the wait, so that a caller may signal or
        // cancel what it started while it waits.
        wait_ms: None,
        execution_timeout_ms,
        run_timeout_ms,
        search_attributes,
        memo,
    };
    let started: StartResponse = client.post_json("/v1/executions", &req).await?;
    if json && !wait {
        println!("{}", serde_json::to_string(&started)?);
        return Ok(0);
    }
    if !json {
        println!("{}", started.id);
        if started.duplicate {
            eprintln!(
                "(started before with this request id: run {} of {}, nothing new started)",
                started.run, started.id
            );
        }
    }
    if !wait {
        return Ok(0);
    }
    result(client, &started.id, Some(started.run), true, json).await
}

/// `NAME=VALUE` flags as a JSON object (none when there are none): VALUE
/// as JSON when it parses (`Amount=12.5`, `Tags=["a","b"]`), else the
/// string as given (`CustomerId=c-42`).
pub(super) fn named_values(
    flag: &str,
    values: Vec<String>,
) -> Result<Option<serde_json::Map<String, serde_json::Value>>> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut out = serde_json::Map::new();
    for v in values {
        let Some((name, value)) = v.split_once('=') else {
            anyhow::bail!("{flag} {v:?}: write NAME=VALUE, e.g. {flag} CustomerId=c-42");
        };
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        if out.insert(name.to_owned(), value).is_some() {
            anyhow::bail!("{flag} names {name} twice: give each name once");
        }
    }
    Ok(Some(out))
}

/// A JSON flag's value (null when absent), with an error that shows an example.
pub fn parse_json(flag: &str, text: Option<String>) -> Result<serde_json::Value> {
    match text {
        Some(text) => serde_json::from_str(&text).with_context(|| {
            format!(
                "{flag} is not valid JSON ({text:?}); pass e.g. {flag} '{{\"name\": \"world\"}}'"
            )
        }),
        None => Ok(serde_json::Value::Null),
    }
}

/// `cancel` or `terminate` an execution, with an optional reason.
/// Cancels or terminates (`action`) execution `id`: whether a request with
/// `request_id` had done it already.
pub async fn end(
    client: &Client,
    id: &str,
    action: &str,
    reason: Option<String>,
    request_id: Option<String>,
) -> Result<bool> {
    let receipt: Option<crate::api::dto::EndReceipt> = client
        .post_json_or_empty(
            &format!("/v1/executions/{}/{action}", enc(id)),
            &crate::api::dto::ReasonRequest { reason, request_id },
        )
        .await?;
    Ok(receipt.is_some_and(|r| r.duplicate))
}

pub async fn result(
    client: &Client,
    id: &str,
    run: Option<u32>,
    wait: bool,
    json: bool,
) -> Result<i32> {
    let run = run.map(|r| format!("&run={r}")).unwrap_or_default();
    let path = format!(
        "/v1/executions/{}/result?wait={wait}&timeout_ms=30000{run}",
        enc(id)
    );
    loop {
        let r: ExecutionResult = client.get(&path).await?;
        if json {
            let code = match r.status {
                ExecutionStatus::Running if wait => continue,
                ExecutionStatus::Running => EXIT_RUNNING,
                ExecutionStatus::Completed => 0,
                _ => 1,
            };
            println!("{}", serde_json::to_string(&r)?);
            return Ok(code);
        }
        if let Some(code) = settled(id, r, wait) {
            return Ok(code);
        }
    }
}

/// Prints a result and gives the exit code, or None to wait on (still
/// running and `wait`).
fn settled(id: &str, r: ExecutionResult, wait: bool) -> Option<i32> {
    match r.status {
        ExecutionStatus::Running if wait => None,
        ExecutionStatus::Running => {
            eprintln!("execution {id} is still running (use --wait to wait for it)");
            Some(EXIT_RUNNING)
        }
        ExecutionStatus::Completed => {
            println!("{}", r.output.unwrap_or(serde_json::Value::Null));
            Some(0)
        }
        ExecutionStatus::Failed => {
            match r.failure {
                Some(f) => eprintln!("execution {id} failed: {}: {}", f.kind, f.message),
                None => eprintln!("execution {id} failed"),
            }
            Some(1)
        }
        ExecutionStatus::Cancelled | ExecutionStatus::Terminated => {
            let f = r
                .failure
                .unwrap_or_else(|| crate::model::Failure::new("", ""));
            eprintln!("execution {id} was {}: {}", r.status, f.message);
            Some(1)
        }
        ExecutionStatus::Stalled => {
            eprintln!(
                "execution {id} is stalled: {}",
                r.stall_reason.unwrap_or_default()
            );
            Some(1)
        }
    }
}

pub async fn describe(client: &Client, id: &str, json: bool) -> Result<i32> {
    let d: ExecutionDetail = client.get(&format!("/v1/executions/{}", enc(id))).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(0);
    }
    let s = &d.summary;
    println!("id:             {}", s.id);
    println!("workflow type:  {}", s.workflow_type);
    match d.version {
        Some(v) => println!("module:         {} (version {v})", s.module),
        None => println!("module:         {}", s.module),
    }
    println!("run:            {}", s.run);
    // The names it answers to, as its module declared them at deploy.
    let module: Result<crate::api::dto::ModuleInfo> =
        client.get(&format!("/v1/modules/{}", enc(&s.module))).await;
    if let Ok(m) = module {
        let list = |names: &[String]| {
            if names.is_empty() {
                "-".to_owned()
            } else {
                names.join(", ")
            }
        };
        println!(
            "handlers:       signals {}; queries {}; updates {}",
            list(&m.signals),
            list(&m.queries),
            list(&m.updates)
        );
    }
    if let Some(p) = &d.parent {
        println!(
            "parent:         {} (on parent close: {:?})",
            p.id, p.close_policy
        );
    }
    for c in &d.children {
        println!(
            "child:          {} ({}, {}, on parent close: {:?})",
            c.id, c.workflow_type, c.status, c.parent_close_policy
        );
    }
    if d.cancel_requested {
        println!("cancel:         requested");
    }
    if let Some(at) = d.execution_deadline_ms {
        println!("times out at:   {} (execution timeout)", when(at));
    }
    if let Some(at) = d.run_deadline_ms {
        println!("run times out:  {} (run timeout)", when(at));
    }
    println!("status:         {}", s.status.as_str());
    println!("created at:     {}", when(s.created_at_ms));
    if let Some(c) = s.closed_at_ms {
        println!("closed at:      {}", when(c));
    }
    println!("input:          {}", d.input);
    if let Some(o) = &d.output {
        println!("output:         {o}");
    }
    if let Some(f) = &d.failure {
        println!("failure:        {}: {}", f.kind, f.message);
    }
    if let Some(r) = &d.stall_reason {
        println!("stall reason:   {r}");
    }
    for (name, value) in &s.search_attributes {
        println!(
            "search:         {name} = {} ({})",
            value.display(),
            value.search_type()
        );
    }
    for (name, value) in &s.memo {
        println!("memo:           {name} = {value}");
    }
    if let (Some(p), Some(h)) = (d.partition, &d.held_by) {
        println!("partition:      {p} (held by host {h})");
    }
    println!("history:        {} events", d.history_length);
    println!(
        "in memory:      {}",
        if d.cached {
            "yes"
        } else {
            "no (evicted or closed)"
        }
    );
    for a in &d.pending_activities {
        println!(
            "pending:        activity #{} {} (attempt {}; failed attempts count, restarts do not)",
            a.handle, a.name, a.attempt
        );
        match (&a.task_queue, a.taken_by_worker) {
            (Some(q), true) => println!(
                "                a worker took it from task queue {q}; its answer is awaited"
            ),
            (Some(q), false) => {
                println!("                waits on task queue {q} for a worker to poll it")
            }
            (None, _) => {}
        }
        if a.unserved {
            println!(
                "                no deployed component serves `{}` and it names no task \
                 queue: each attempt fails until one is deployed",
                a.name
            );
        }
        if let Some(f) = &a.last_failure {
            println!(
                "                attempt {} failed: {}: {}",
                a.attempt.saturating_sub(1),
                f.kind,
                f.message
            );
        }
        if let Some(at) = a.next_attempt_at_ms {
            println!("                next attempt at {}", when(at));
        }
        if let Some(h) = &a.heartbeat_details {
            println!("                last heartbeat: {h}");
        }
    }
    for t in &d.pending_timers {
        println!(
            "pending:        timer #{} fires at {}",
            t.handle,
            when(t.fire_at_ms)
        );
    }
    Ok(0)
}

/// `weft search-attributes`: the names a list query may use, with types.
pub async fn search_attributes(client: &Client, json: bool) -> Result<i32> {
    let list: crate::api::dto::SearchAttributeList = client.get("/v1/search-attributes").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    let mut table = super::deploy::table(&["NAME", "TYPE", "KIND"]);
    for a in &list.attributes {
        table.add_row([
            a.name.clone(),
            a.search_type.to_string(),
            if a.system { "system" } else { "custom" }.to_owned(),
        ]);
    }
    println!("{table}");
    Ok(0)
}

/// `weft search-attributes create NAME TYPE`.
pub async fn create_search_attribute(client: &Client, name: &str, t: &str) -> Result<i32> {
    let search_type: crate::model::search::SearchType = t.parse()?;
    let body = crate::api::dto::CreateSearchAttribute {
        name: name.to_owned(),
        search_type,
    };
    let _: crate::api::dto::SearchAttributeInfo =
        client.post_json("/v1/search-attributes", &body).await?;
    println!("search attribute {name}: {search_type}");
    Ok(0)
}

pub async fn list(client: &Client, args: ListArgs) -> Result<i32> {
    let mut query = Vec::new();
    if let Some(s) = &args.status {
        query.push(format!("status={}", enc(s)));
    }
    if let Some(t) = &args.workflow_type {
        query.push(format!("workflow_type={}", enc(t)));
    }
    if let Some(p) = &args.id_prefix {
        query.push(format!("id_prefix={}", enc(p)));
    }
    if let Some(q) = &args.query {
        query.push(format!("query={}", enc(q)));
    }
    let times = [
        ("started_after_ms", &args.started_after),
        ("started_before_ms", &args.started_before),
        ("closed_after_ms", &args.closed_after),
        ("closed_before_ms", &args.closed_before),
    ];
    if times.iter().any(|(_, t)| t.is_some()) {
        // "2h" means two hours before the host's time (a manual clock's too).
        let clock: crate::api::dto::ClockInfo = client.get("/v1/clock").await?;
        for (key, text) in times {
            if let Some(text) = text {
                let ms = super::time::instant_ms(text, clock.now_ms)?;
                query.push(format!("{key}={ms}"));
            }
        }
    }
    if args.count {
        let c: crate::api::dto::ExecutionCount = client
            .get(&format!("/v1/execution-count?{}", query.join("&")))
            .await?;
        if args.json {
            println!("{}", serde_json::to_string(&c)?);
        } else {
            println!("{}", c.count);
        }
        return Ok(0);
    }
    query.push(format!("limit={}", args.limit));
    let mut cursor = args.cursor.clone();
    let mut all = Vec::new();
    let next = loop {
        let mut path = format!("/v1/executions?{}", query.join("&"));
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={}", enc(c)));
        }
        let page: ExecutionList = client.get(&path).await?;
        all.extend(page.executions);
        match (page.next_cursor, args.all) {
            (Some(c), true) => cursor = Some(c),
            (next, _) => break next,
        }
    };
    if args.json {
        let list = ExecutionList {
            executions: all,
            next_cursor: next,
        };
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(0);
    }
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_header(["ID", "TYPE", "STATUS", "STARTED", "CLOSED"]);
    for e in &all {
        table.add_row([
            e.id.clone(),
            e.workflow_type.clone(),
            e.status.as_str().to_owned(),
            when(e.created_at_ms),
            e.closed_at_ms.map(when).unwrap_or_default(),
        ]);
    }
    println!("{table}");
    if let Some(c) = next {
        eprintln!("more: `weft list --cursor {c}` (same filters) for the next page, or --all");
    }
    Ok(0)
}

pub async fn history(client: &Client, id: &str, run: Option<u32>, json: bool) -> Result<i32> {
    let run = run.map(|r| format!("?run={r}")).unwrap_or_default();
    let h: HistoryExport = client
        .get(&format!("/v1/executions/{}/history{run}", enc(id)))
        .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&h)?);
        return Ok(0);
    }
    println!(
        "execution {} ({}, module {})",
        h.execution_id, h.workflow_type, h.module
    );
    let start = h.events.first().map_or(0, |e| e.at_ms);
    for e in &h.events {
        println!(
            "{:>5}  +{:>10} ms  {}",
            e.index,
            e.at_ms.saturating_sub(start),
            e.event.describe()
        );
    }
    Ok(0)
}

/// `weft logs ID [--follow] [--json]`.
pub async fn logs(client: &Client, id: &str, follow: bool, json: bool) -> Result<i32> {
    let mut after = 0;
    let mut first = true;
    loop {
        // The first read answers at once; a follower then waits for more.
        let wait = if follow && !first { 2_000 } else { 0 };
        first = false;
        let list: crate::api::dto::LogList = client
            .get(&format!(
                "/v1/executions/{}/logs?after={after}&wait_ms={wait}",
                enc(id)
            ))
            .await?;
        for l in &list.lines {
            if json {
                println!("{}", serde_json::to_string(l)?);
            } else {
                println!("{} [{}] {}: {}", when(l.at_ms), l.source, l.level, l.line);
            }
            after = after.max(l.seq);
        }
        if !follow {
            return Ok(0);
        }
        if list.lines.is_empty() {
            let r: ExecutionResult = client
                .get(&format!("/v1/executions/{}/result", enc(id)))
                .await?;
            if r.status.is_closed() {
                return Ok(0);
            }
        }
    }
}
