//! `weft signal`, `weft query`, `weft update`, `weft update-result`.

use anyhow::Result;

use super::client::{enc, Client};
use super::executions::{named_values, parse_json};
use crate::api::dto::{
    QueryRequest, QueryResponse, SignalRequest, SignalResponse, SignalWithStartRequest,
    UpdateRequestBody, UpdateResponse,
};

/// What signal-with-start starts, if the execution does not run.
pub struct StartWith {
    pub workflow_type: String,
    pub input: Option<String>,
    /// `NAME=VALUE` each (see `weft start`).
    pub search_attributes: Vec<String>,
    pub memo: Vec<String>,
}

pub async fn signal(
    client: &Client,
    id: &str,
    name: &str,
    input: Option<String>,
    request_id: Option<String>,
    start: Option<StartWith>,
) -> Result<i32> {
    let input = parse_json("--input", input)?;
    let r: SignalResponse = match start {
        Some(s) => {
            client
                .post_json(
                    "/v1/signal-with-start",
                    &SignalWithStartRequest {
                        workflow_type: s.workflow_type,
                        id: id.to_owned(),
                        input: parse_json("--start-input", s.input)?,
                        signal: name.to_owned(),
                        signal_input: input,
                        search_attributes: named_values("--search-attribute", s.search_attributes)?,
                        memo: named_values("--memo", s.memo)?,
                        request_id,
                    },
                )
                .await?
        }
        None => {
            client
                .post_json(
                    &format!("/v1/executions/{}/signals", enc(id)),
                    &SignalRequest {
                        name: name.to_owned(),
                        input,
                        request_id,
                    },
                )
                .await?
        }
    };
    if r.duplicate {
        println!(
            "signal {name} already recorded as event {} of {} (by an earlier send with this request id)",
            r.event_index, r.id
        );
    } else {
        println!(
            "signal {name} recorded as event {} of {}{}",
            r.event_index,
            r.id,
            if r.started { " (started it)" } else { "" }
        );
    }
    if let Some(w) = &r.warning {
        eprintln!("warning: {w}");
    }
    Ok(0)
}

pub async fn query(
    client: &Client,
    id: &str,
    name: &str,
    input: Option<String>,
    at_event: Option<u64>,
) -> Result<i32> {
    let r: QueryResponse = client
        .post_json(
            &format!("/v1/executions/{}/queries", enc(id)),
            &QueryRequest {
                name: name.to_owned(),
                input: parse_json("--input", input)?,
                at_event,
            },
        )
        .await?;
    println!("{}", serde_json::to_string(&r.output)?);
    Ok(0)
}

fn print_update(r: &UpdateResponse) -> i32 {
    match (&r.status[..], &r.output, &r.failure) {
        ("completed", _, Some(f)) => {
            eprintln!("update {} failed: {}: {}", r.update_id, f.kind, f.message);
            1
        }
        ("completed", out, None) => {
            println!(
                "{}",
                serde_json::to_string(out.as_ref().unwrap_or(&serde_json::Value::Null))
                    .unwrap_or_default()
            );
            0
        }
        _ => {
            eprintln!(
                "update {} accepted and still running: `weft update-result ID {} --wait` gets its result",
                r.update_id, r.update_id
            );
            3
        }
    }
}

pub async fn update(
    client: &Client,
    id: &str,
    name: &str,
    input: Option<String>,
    update_id: Option<String>,
    no_wait: bool,
) -> Result<i32> {
    let r: UpdateResponse = client
        .post_json(
            &format!("/v1/executions/{}/updates", enc(id)),
            &UpdateRequestBody {
                name: name.to_owned(),
                input: parse_json("--input", input)?,
                update_id,
                wait_ms: Some(if no_wait { 0 } else { 300_000 }),
            },
        )
        .await?;
    Ok(print_update(&r))
}

pub async fn update_result(client: &Client, id: &str, update_id: &str, wait: bool) -> Result<i32> {
    let r: UpdateResponse = client
        .get(&format!(
            "/v1/executions/{}/updates/{}?wait={wait}&timeout_ms=300000",
            enc(id),
            enc(update_id)
        ))
        .await?;
    Ok(print_update(&r))
}
