//! `weft cluster`: the hosts on this host's store.

use anyhow::Result;
use serde_json::Value;

use super::client::Client;
use super::deploy::table;

/// Seconds, from an age in milliseconds.
fn secs(ms: &Value) -> String {
    ms.as_i64()
        .map(|ms| format!("{:.1}s", ms as f64 / 1000.0))
        .unwrap_or_else(|| "-".into())
}

pub async fn show(client: &Client, json: bool) -> Result<i32> {
    let view: Value = client.get("/v1/cluster").await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&view)?);
        return Ok(0);
    }
    if view["store"] == "redb" {
        println!("one host on its redb file: no other host shares its store");
        return Ok(0);
    }
    let lease = &view["lease"];
    match lease["holder"].as_str() {
        Some(holder) if lease["expires_in_ms"].as_i64().unwrap_or(0) > 0 => println!(
            "the store is held by {holder} (lease generation {}, held {}, renewed {} ago, \
             expires in {})",
            lease["generation"],
            secs(&lease["held_ms"]),
            secs(&lease["renewed_ms_ago"]),
            secs(&lease["expires_in_ms"]),
        ),
        Some(holder) => println!(
            "no host holds the store: {holder}'s lease (generation {}) expired; a standby takes it",
            lease["generation"]
        ),
        None => println!("no host has held the store yet"),
    }
    if let Some(me) = view["this_host"].as_str() {
        println!("(answered by {me})");
    }
    let mut t = table(&[
        "HOST",
        "ROLE",
        "ADDRESS",
        "VERSION",
        "CONTRACT",
        "STARTED",
        "SEEN",
        "IN MEMORY",
    ]);
    for h in view["hosts"].as_array().into_iter().flatten() {
        t.add_row(vec![
            h["host_id"].as_str().unwrap_or_default().to_owned(),
            h["role"].as_str().unwrap_or_default().to_owned(),
            h["address"].as_str().unwrap_or_default().to_owned(),
            h["version"].as_str().unwrap_or_default().to_owned(),
            // A host of a release before contracts answers without one.
            h["contract"].as_str().unwrap_or("-").to_owned(),
            h["started_at"].as_str().unwrap_or_default().to_owned(),
            format!("{} ago", secs(&h["seen_ms_ago"])),
            h["in_memory"].to_string(),
        ]);
    }
    println!("{t}");
    Ok(0)
}
