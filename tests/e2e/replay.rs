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

/// `weft replay --dir`: every history of a directory against one module, as
/// a CI job runs it before a deploy. One line per history, a summary, and
/// the worst outcome as the exit code; a recorded command the new code never
/// reaches is a divergence too.
#[test]
fn a_directory_of_histories_is_replayed_and_the_worst_outcome_decides() {
    let host = Host::start();
    host.deploy_examples();
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("hello");
    std::fs::create_dir(&nested).unwrap();
    let mut doc = serde_json::Value::Null;
    for n in 0..2 {
        let id = host.start_execution("hello", json!({"name": format!("dir-{n}")}));
        assert_eq!(host.wait_result(&id)["status"], "completed");
        let exported = host.cli_ok(&["history", &id, "--json"]);
        std::fs::write(nested.join(format!("{n}.json")), &exported).unwrap();
        doc = serde_json::from_str(&exported).expect("history JSON");
    }
    let hello = guest("hello").to_string_lossy().to_string();
    let root = dir.path().to_string_lossy().to_string();
    let replay = |what: &str| {
        let out = host.cli(&["replay", "--dir", what, "--module", &hello]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code(), text)
    };
    let (code, text) = replay(&root);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("2 histories") && text.contains("2 clean"),
        "{text}"
    );

    // The code returns where the history recorded one more activity first:
    // the recorded command it never reaches is named.
    let events = doc["events"].as_array().expect("events").clone();
    let last = events.len() - 1;
    let mut longer = events[..last].to_vec();
    let mut extra = events[1].clone();
    extra["event"]["name"] = json!("farewell");
    longer.push(extra);
    longer.push(events[last].clone());
    for (i, e) in longer.iter_mut().enumerate() {
        if e.get("index").is_some() {
            e["index"] = json!(i);
        }
    }
    let mut unreached = doc.clone();
    unreached["events"] = json!(longer);
    std::fs::write(
        dir.path().join("unreached.json"),
        serde_json::to_string(&unreached).unwrap(),
    )
    .unwrap();
    let (code, text) = replay(&root);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("DIVERGED") && text.contains("unreached.json"),
        "{text}"
    );
    assert!(
        text.contains("farewell"),
        "the unreached command is named: {text}"
    );
    assert!(text.contains("2 clean, 1 diverged"), "{text}");

    // A file that is no history: the directory cannot be vouched for.
    std::fs::write(dir.path().join("notes.json"), "[1, 2]").unwrap();
    let (code, text) = replay(&root);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("notes.json") && text.contains("not a weft history"),
        "{text}"
    );

    // An empty directory says what to put there.
    let empty = tempfile::tempdir().unwrap();
    let (code, text) = replay(&empty.path().to_string_lossy());
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("weft history ID --json"), "{text}");
}
