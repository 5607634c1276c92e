//! `weft cluster`: the hosts on this host's store.

use anyhow::Result;
use serde_json::{json, Value};

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
    let leases = view["leases"].as_array().cloned().unwrap_or_default();
    if !leases.is_empty() {
        return show_partitions(&view, &leases);
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
    println!("{}", hosts(&view, None));
    Ok(0)
}

/// A store of several partitions: who holds each, and the hosts.
fn show_partitions(view: &Value, leases: &[Value]) -> Result<i32> {
    let live = |l: &Value| l["expires_in_ms"].as_i64().unwrap_or(0) > 0;
    let held = leases.iter().filter(|l| live(l)).count();
    println!("the store has {} partitions; {held} held now", leases.len());
    if let Some(line) = assignment(&view["assignment"]) {
        println!("{line}");
    }
    if let Some(me) = view["this_host"].as_str() {
        println!("(answered by {me})");
    }
    let mut t = table(&[
        "PARTITION",
        "HOLDER",
        "GENERATION",
        "HELD",
        "RENEWED",
        "EXPIRES IN",
    ]);
    for (part, l) in leases.iter().enumerate() {
        // A lease given up (a handover, a graceful stop) ends as one that
        // expired does: both are "ended".
        let (holder, held, expires) = match l["holder"].as_str() {
            Some(h) if live(l) => (h.to_owned(), secs(&l["held_ms"]), secs(&l["expires_in_ms"])),
            Some(h) => (
                format!("- ({h}'s lease ended)"),
                "-".into(),
                format!(
                    "ended {} ago",
                    secs(&json!(-l["expires_in_ms"].as_i64().unwrap_or(0)))
                ),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        t.add_row(vec![
            part.to_string(),
            holder,
            l["generation"].to_string(),
            held,
            format!("{} ago", secs(&l["renewed_ms_ago"])),
            expires,
        ]);
    }
    println!("{t}");
    println!("{}", hosts(view, Some(leases)));
    Ok(0)
}

/// How the partitions are assigned (a host of a release before it
/// answers without saying).
fn assignment(a: &Value) -> Option<String> {
    let format = &a["format"];
    Some(match a["way"].as_str()? {
        "rendezvous" => {
            let older: Vec<&str> = a["held_back_by"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            format!(
                "assigned by rendezvous hashing (cluster format {format}), as older releases \
                 do, while {} of an older release counts: some hosts may run more partitions \
                 than others until it leaves (upgrade it)",
                if older.is_empty() {
                    "a host".to_owned()
                } else {
                    older.join(", ")
                }
            )
        }
        // "even" (or a way a newer release names: each host its share).
        _ => format!(
            "assigned evenly (cluster format {format}): each host runs its share of the \
             partitions or one more"
        ),
    })
}

/// The hosts' table (with the partitions each holds, on a store of
/// several).
fn hosts(view: &Value, leases: Option<&[Value]>) -> comfy_table::Table {
    let mut header = vec![
        "HOST",
        "ROLE",
        "ADDRESS",
        "VERSION",
        "CONTRACT",
        "FORMAT",
        "STARTED",
        "SEEN",
        "IN MEMORY",
    ];
    if leases.is_some() {
        // Which it holds (a count would read the same: "HOLDS PARTITIONS
        // 0" is partition 0, none is "-").
        header.push("HOLDS PARTITIONS");
    }
    let mut t = table(&header);
    for h in view["hosts"].as_array().into_iter().flatten() {
        let mut row = vec![
            h["host_id"].as_str().unwrap_or_default().to_owned(),
            h["role"].as_str().unwrap_or_default().to_owned(),
            h["address"].as_str().unwrap_or_default().to_owned(),
            h["version"].as_str().unwrap_or_default().to_owned(),
            // A host of a release before contracts answers without one.
            h["contract"].as_str().unwrap_or("-").to_owned(),
            // A host of a release before formats answers without one.
            h["format"].as_i64().map_or("-".into(), |f| f.to_string()),
            h["started_at"].as_str().unwrap_or_default().to_owned(),
            format!("{} ago", secs(&h["seen_ms_ago"])),
            // A gone host's last count is not what it has now.
            match h["role"].as_str() {
                Some("gone") => "-".to_owned(),
                _ => h["in_memory"].to_string(),
            },
        ];
        if let Some(leases) = leases {
            let id = h["host_id"].as_str().unwrap_or_default();
            let parts: Vec<String> = leases
                .iter()
                .enumerate()
                .filter(|(_, l)| {
                    l["holder"].as_str() == Some(id) && l["expires_in_ms"].as_i64().unwrap_or(0) > 0
                })
                .map(|(p, _)| p.to_string())
                .collect();
            row.push(if parts.is_empty() {
                "-".into()
            } else {
                parts.join(",")
            });
        }
        t.add_row(row);
    }
    t
}
