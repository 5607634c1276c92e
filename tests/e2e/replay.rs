//! `weft history --json` exports a history; `weft replay` checks a module against it offline.

use weft_e2e::serde_json::{self, json};
use weft_e2e::{guest, Host};

#[test]
fn an_exported_history_replays_cleanly_and_a_changed_workflow_diverges() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "replay"}));
    assert_eq!(host.wait_result(&id)["status"], "completed");

    let exported = host.cli_ok(&["history", &id, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&exported).expect("history JSON");
    assert_eq!(doc["format"], "weft-history/1");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.json");
    std::fs::write(&file, &exported).unwrap();
    let file = file.to_string_lossy().to_string();

    let hello = guest("hello").to_string_lossy().to_string();
    let out = host.cli(&["replay", "--history", &file, "--module", &hello]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("replayed 8 events cleanly"), "{stdout}");

    // A history recorded by code that called `welcome` first: today's hello
    // calls `greet` there, and replay says so.
    let mut renamed = doc.clone();
    assert_eq!(renamed["events"][1]["event"]["name"], "greet");
    renamed["events"][1]["event"]["name"] = json!("welcome");
    let old = dir.path().join("old.json");
    std::fs::write(&old, serde_json::to_string(&renamed).unwrap()).unwrap();
    let old = old.to_string_lossy().to_string();
    let out = host.cli(&["replay", "--history", &old, "--module", &hello]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("divergence at event 1"), "{text}");
    assert!(
        text.contains("welcome"),
        "the recorded command is named: {text}"
    );
    assert!(
        text.contains("greet"),
        "the issued command is named: {text}"
    );

    // Another workflow altogether: it cannot even read the recorded input.
    let other = guest("timer-fanout").to_string_lossy().to_string();
    let out = host.cli(&["replay", "--history", &file, "--module", &other]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("divergence at event 1"));

    // A history that is not one.
    std::fs::write(dir.path().join("bad.json"), "{\"format\": 7}").unwrap();
    let bad = dir.path().join("bad.json").to_string_lossy().to_string();
    let out = host.cli(&["replay", "--history", &bad, "--module", &hello]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!out.stderr.is_empty());
}

/// A history whose run recorded a random generator this host does not have
/// is not replayed with another stream: the replay says why it cannot run.
#[test]
fn a_history_from_an_unknown_random_generator_is_refused() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "generator"}));
    assert_eq!(host.wait_result(&id)["status"], "completed");
    let mut doc: serde_json::Value =
        serde_json::from_str(&host.cli_ok(&["history", &id, "--json"])).expect("history JSON");
    assert_eq!(doc["events"][0]["event"]["random"], "chacha12-v1");
    doc["events"][0]["event"]["random"] = json!("xoshiro-v9");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("history.json");
    std::fs::write(&file, serde_json::to_string(&doc).unwrap()).unwrap();
    let hello = guest("hello").to_string_lossy().to_string();
    let out = host.cli(&[
        "replay",
        "--history",
        &file.to_string_lossy(),
        "--module",
        &hello,
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("xoshiro-v9"), "{text}");
}
