//! The main path: deploy, start, wait, inspect; timers skipped with the manual clock.

use weft_e2e::serde_json::{self as serde_json, json, Value};
use weft_e2e::{metric_value, Host};

#[test]
fn hello_runs_from_the_cli_and_the_api() {
    let host = Host::start();
    let deployed = host.cli_ok(&["deploy", &weft_e2e::guest("hello").to_string_lossy()]);
    assert!(
        deployed.starts_with("workflow type hello -> module "),
        "{deployed}"
    );
    let deployed = host.cli_ok(&[
        "deploy",
        &weft_e2e::guest("hello-activities").to_string_lossy(),
    ]);
    assert!(deployed.starts_with("activities "), "{deployed}");
    for name in ["greet", "shout", "exclaim", "flaky"] {
        assert!(deployed.contains(&format!(" {name},")), "{deployed}");
    }
    assert!(deployed.contains(" -> module "), "{deployed}");

    // Through the CLI.
    let out = host.cli_ok(&["start", "hello", "--input", r#"{"name":"world"}"#, "--wait"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let id = lines[0];
    assert!(id.starts_with("wf_"), "{out}");
    assert_eq!(lines[1], r#""HELLO, WORLD!""#);
    assert_eq!(host.cli_ok(&["result", id]).trim(), r#""HELLO, WORLD!""#);
    let described = host.cli_ok(&["describe", id]);
    assert!(described.contains("completed"), "{described}");
    let listed = host.cli_ok(&["list", "--status", "completed", "--type", "hello"]);
    assert!(listed.contains(id), "{listed}");
    let history = host.cli_ok(&["history", id]);
    assert!(history.contains("greet"), "{history}");

    // Through the API, with a chosen id.
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "hello", "id": "order-42", "input": {"name": "api"}})),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["id"], "order-42");
    let r = host.wait_result("order-42");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], "HELLO, API!");
    assert_eq!(
        host.event_kinds("order-42"),
        [
            "execution_started",
            "activity_scheduled",
            "activity_completed",
            "activity_scheduled",
            "activity_completed",
            "activity_scheduled",
            "activity_completed",
            "execution_completed",
        ]
    );
    let d = host.describe("order-42");
    assert_eq!(d["workflow_type"], "hello");
    assert_eq!(d["input"], json!({"name": "api"}));

    let openapi = host.get("/v1/openapi.json");
    assert!(openapi["paths"]["/v1/executions"].is_object(), "{openapi}");
    let (status, _) = host.call("GET", "/metrics", None);
    assert_eq!(status, 200);
    assert_eq!(host.metric("weft_activity_attempts_total"), 6.0);
    assert_eq!(
        host.metric("weft_activity_attempts_total{activity=\"greet\"}"),
        2.0
    );
    // Counted just after the close is durable: wait for it.
    host.eventually("both closes counted", |h| {
        h.metric("weft_executions_closed_total{workflow_type=\"hello\",status=\"completed\"}")
            == 2.0
    });
    assert_eq!(host.metric("weft_up"), 1.0);
}

#[test]
fn an_hour_long_timer_takes_no_real_time() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution(
        "timer-fanout",
        json!({"items": ["a", "b", "c"], "sleep_ms": 3_600_000}),
    );
    host.eventually("the timer to be pending", |h| {
        h.describe(&id)["pending_timers"]
            .as_array()
            .is_some_and(|t| t.len() == 1)
    });
    assert_eq!(host.result_now(&id)["status"], "running");
    // A minute short of the hour: still waiting.
    host.advance(3_540_000);
    assert_eq!(host.result_now(&id)["status"], "running");
    host.advance(60_000);
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(
        r["output"],
        json!({
            "greetings": ["Hello, a", "Hello, b", "Hello, c"],
            "selected": "Hello, select",
            "slept_ms": 3_600_000
        })
    );
    let kinds = host.event_kinds(&id);
    assert_eq!(kinds.iter().filter(|k| *k == "timer_fired").count(), 1);
    assert_eq!(
        kinds.iter().filter(|k| *k == "activity_completed").count(),
        4
    );
}

/// The first pending activity's failed attempts so far, from `describe`
/// (a failed attempt that another follows is kept beside the history).
fn failed_attempts(h: &Host, id: &str) -> u64 {
    let a = &h.describe(id)["pending_activities"][0];
    match a["last_failure"].is_null() {
        true => 0,
        false => a["attempt"].as_u64().unwrap_or(1) - 1,
    }
}

#[test]
fn retries_follow_the_policy_on_workflow_time() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("misbehave", json!({"mode": "flaky", "fail_times": 2}));
    host.eventually("the first attempt to fail", |h| {
        failed_attempts(h, &id) == 1
    });
    // The retry waits 1 s of workflow time, the next 2 s; the due time is kept.
    let pending = host.describe(&id)["pending_activities"][0].clone();
    let now = host.get("/v1/clock")["now_ms"].as_u64().unwrap();
    assert_eq!(
        pending["next_attempt_at_ms"].as_u64().unwrap() - now,
        1_000,
        "{pending}"
    );
    assert_eq!(pending["last_failure"]["kind"], "Flaky", "{pending}");
    host.advance(999);
    assert_eq!(host.result_now(&id)["status"], "running");
    host.advance(1);
    host.eventually("the second attempt to fail", |h| {
        failed_attempts(h, &id) == 2
    });
    host.advance(2_000);
    let r = host.wait_result(&id);
    assert_eq!(r["output"], "succeeded on attempt 3", "{r}");
    // The failed attempts are not in the history: only the outcome is.
    let kinds = host.event_kinds(&id);
    assert!(
        !kinds.iter().any(|k| k == "activity_attempt_failed"),
        "{kinds:?}"
    );

    // Five attempts at most, then the workflow sees the failure.
    let id = host.start_execution("misbehave", json!({"mode": "flaky", "fail_times": 9}));
    for n in 1..=4 {
        host.eventually("the next attempt to fail", |h| failed_attempts(h, &id) == n);
        host.advance(100_000);
    }
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["failure"]["kind"], "Flaky", "{r}");
    let history = host.get(&format!("/v1/executions/{id}/history"));
    let failed = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"]["type"] == "activity_failed")
        .cloned()
        .expect("activity_failed");
    assert_eq!(failed["event"]["attempts"], 5, "{failed}");
}

/// Issue 16: every failed attempt was an event, so a dependency down for
/// weeks filled the history's event limit and the workflow was ended. Now a
/// failed attempt is kept beside the history (durably: a SIGKILL during the
/// backoff resumes at the next attempt and time, and `describe` shows the
/// attempt, the last failure and when the next is due), and the history
/// holds only the outcome, however many attempts ran.
#[test]
fn retried_attempts_do_not_grow_the_history_and_survive_a_sigkill() {
    let mut host = Host::start();
    host.deploy_examples_and_corners();
    // `flaky` fails its first 1,000 attempts, retried for ever (at most
    // 100 s apart), raced against a timer of 30 days.
    let id = "outage";
    host.start_corners(
        id,
        json!({"mode": "race", "timeout_ms": 30 * 86_400_000u64}),
    );
    for n in 1..=20 {
        host.eventually("the next attempt to fail", |h| failed_attempts(h, id) == n);
        host.advance(100_000);
    }
    host.eventually("the 21st attempt to fail", |h| failed_attempts(h, id) == 21);
    let before = host.describe(id)["pending_activities"][0].clone();
    let length = host.describe(id)["history_length"].clone();
    assert!(length.as_u64().unwrap() < 10, "{length}");
    host.kill_and_restart();
    let after = host.describe(id)["pending_activities"][0].clone();
    assert_eq!(after["attempt"], 22, "{after}");
    assert_eq!(
        after["next_attempt_at_ms"], before["next_attempt_at_ms"],
        "{after}"
    );
    assert_eq!(after["last_failure"], before["last_failure"], "{after}");
    let text = host.cli_ok(&["describe", id]);
    assert!(
        text.contains("attempt 21 failed: Flaky") && text.contains("next attempt at"),
        "{text}"
    );
    host.advance(100_000);
    host.eventually("the 22nd attempt to fail after the restart", |h| {
        failed_attempts(h, id) == 22
    });
    assert_eq!(host.describe(id)["history_length"], length);
}

#[test]
fn the_manual_clock_never_goes_back_across_a_restart() {
    let mut host = Host::start();
    host.advance(30 * 24 * 3_600_000);
    let before = host.get("/v1/clock")["now_ms"].as_u64().expect("now_ms");
    host.kill_and_restart();
    let after = host.get("/v1/clock")["now_ms"].as_u64().expect("now_ms");
    assert!(
        after >= before,
        "the clock went back from {before} to {after}"
    );
}

/// A manual clock stands where it stood across a restart, moved or not: it
/// went on from the system time when that was later (a restart that took
/// real seconds moved it by them, and a timer fired with no advance).
#[test]
fn the_manual_clock_stands_still_across_a_restart() {
    let mut host = Host::start();
    let now = |host: &Host| host.get("/v1/clock")["now_ms"].as_u64().expect("now_ms");
    let opened = now(&host);
    host.kill_and_restart();
    assert_eq!(now(&host), opened, "restart of a clock never moved");
    host.advance(5);
    host.kill_and_restart();
    assert_eq!(now(&host), opened + 5, "restart of a clock moved by 5 ms");
    // A start on the system clock in between stamps events at the system
    // time: the manual clock goes on from there (or later) again.
    host.set_args(&[]);
    host.kill_and_restart();
    // Answered once it opened its store (on PostgreSQL it listens before).
    now(&host);
    // Said: a host left without --manual-clock by mistake loses the time.
    host.wait_for_log(
        "this host runs on the system clock",
        1,
        std::time::Duration::from_secs(10),
    );
    host.set_args(&["--manual-clock"]);
    let system = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    host.kill_and_restart();
    assert!(
        now(&host) >= system,
        "the manual clock is behind the system clock's start"
    );
}

/// Six executions, room for two workflow instances, a pool of three instance
/// slots, and no idle eviction: the later loads only get a slot because idle
/// instances make room when asked, and activities share the one slot left
/// (an idle activity instance gives it up when a workflow needs it). The
/// metrics count what happened.
#[test]
fn a_full_instance_budget_evicts_idle_instances_and_metrics_count_it() {
    let host = Host::with_args(&[
        "--manual-clock",
        "--max-instances",
        "2",
        "--instance-pool",
        "3",
        "--evict-after-ms",
        "600000",
    ]);
    for e in ["hello", "hello-activities"] {
        host.cli_ok(&["deploy", &weft_e2e::guest(e).to_string_lossy()]);
    }
    let ids: Vec<String> = (0..6)
        .map(|i| {
            host.start_execution(
                "hello",
                json!({"name": format!("r{i}"), "sleep_ms": 60_000}),
            )
        })
        .collect();
    // Every one ran its activities and started its timer: only then does
    // moving the clock pass every timer.
    host.eventually("every execution to start its timer", |h| {
        ids.iter()
            .all(|id| h.event_kinds(id).iter().any(|k| k == "timer_started"))
    });
    host.advance(61_000);
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(host.wait_result(id)["output"], format!("HELLO, R{i}!"));
    }
    assert!(host.metric("weft_evictions_total") >= 4.0);
    assert!(host.metric("weft_executions_started_total") >= 6.0);
    // A close is counted just after it is durable, so a result may be read
    // a moment before its count.
    host.eventually("the closes counted", |h| {
        h.metric("weft_executions_closed_total{status=\"completed\"}") >= 6.0
    });
    assert!(host.metric("weft_activity_attempt_seconds_count") >= 18.0);
    assert!(host.metric("weft_workflow_task_seconds_count") >= 6.0);
    assert!(host.metric("weft_instantiate_seconds_count") >= 6.0);
    assert!(host.metric("weft_commit_seconds_count") > 0.0);
    assert!(host.metric("weft_activity_instances_reused_total") > 0.0);
}

/// `wait_ms` on a start answers with the result in the same request; a wait
/// that ends first answers `running`, and without it there is no result.
#[test]
fn a_start_waits_for_its_result_in_one_request() {
    let host = Host::start();
    host.deploy_examples();
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "hello", "input": {"name": "one"}, "wait_ms": 30_000})),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["result"]["status"], "completed", "{v}");
    assert_eq!(v["result"]["output"], "HELLO, ONE!", "{v}");
    assert_eq!(v["result"]["id"], v["id"], "{v}");
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}, "wait_ms": 50})),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["result"]["status"], "running", "{v}");
    let (_, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "hello", "input": {"name": "two"}})),
    );
    assert!(v.get("result").is_none(), "{v}");
    // The CLI's `start --wait` uses it.
    let out = host.cli_ok(&[
        "start",
        "hello",
        "--input",
        r#"{"name": "three"}"#,
        "--wait",
    ]);
    assert!(out.contains("\"HELLO, THREE!\""), "{out}");
}

/// Issue 16: the README's curl examples failed as written (a JSON POST
/// without a content type is refused, on purpose). Every `curl` line of
/// its HTTP API section runs here as written, against a real host (only
/// the address changes), and answers 2xx; the last one returns the result.
#[test]
fn the_readmes_curl_examples_work_as_written() {
    let host = Host::with_args(&[]);
    let readme = std::fs::read_to_string(weft_e2e::repo().join("README.md")).unwrap();
    let section = readme
        .split("## The HTTP API")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README has an HTTP API section");
    let lines: Vec<&str> = section
        .lines()
        .filter(|l| l.trim_start().starts_with("curl "))
        .collect();
    assert!(lines.len() >= 5, "{section}");
    let dir = tempfile::tempdir().unwrap();
    for guest in ["hello", "hello-activities"] {
        std::fs::copy(
            weft_e2e::guest(guest),
            dir.path().join(format!("{guest}.wasm")),
        )
        .unwrap();
    }
    let mut last = String::new();
    for line in lines {
        let command = line.replace("http://127.0.0.1:7700", &host.url);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{command} -sS -o answer.json -w '%{{http_code}}'"))
            .current_dir(dir.path())
            .output()
            .expect("curl runs (install curl)");
        let code = String::from_utf8_lossy(&out.stdout).to_string();
        last = std::fs::read_to_string(dir.path().join("answer.json")).unwrap_or_default();
        assert!(
            out.status.success() && code.starts_with('2'),
            "{line}\nanswered {code}: {last}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(last.contains("HELLO, WORLD!"), "{last}");
}

/// Issue 16, the CLI an operator types: a server address without a scheme,
/// a list that pages (the API's `limit` was ignored) and filters by time,
/// a pipe closed by `head`, JSON out of `start`, `result` and `list`, input
/// from a file, durations for the clock, and every status by name.
#[test]
fn the_cli_reads_and_writes_as_an_operator_expects() {
    let host = Host::start();
    host.deploy_examples();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.json");
    std::fs::write(&input, r#"{"name": "file"}"#).unwrap();
    let out = host.cli_ok(&[
        "start",
        "hello",
        "--id",
        "from-file",
        "--input-file",
        &input.to_string_lossy(),
        "--wait",
        "--json",
    ]);
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(r["output"], "HELLO, FILE!", "{out}");
    let out = host.cli_ok(&["result", "from-file", "--json"]);
    let r: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        (r["id"].as_str(), r["status"].as_str()),
        (Some("from-file"), Some("completed"))
    );
    let started = host.cli_ok(&["start", "hello", "--input", r#"{"name":"j"}"#, "--json"]);
    let s: Value = serde_json::from_str(started.trim()).unwrap();
    assert_eq!(s["run"], 1, "{started}");

    for n in 0..6 {
        host.start_execution("hello", json!({"name": format!("p{n}")}));
    }
    // The API pages: `limit` and `next_cursor`, newest first.
    let first = host.get("/v1/executions?limit=5");
    assert_eq!(first["executions"].as_array().unwrap().len(), 5, "{first}");
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second = host.get(&format!("/v1/executions?limit=5&cursor={cursor}"));
    assert_eq!(
        second["executions"].as_array().unwrap().len(),
        3,
        "{second}"
    );
    assert!(second["next_cursor"].is_null(), "{second}");
    assert_eq!(host.list_all("").len(), 8);
    let (status, v) = host.call("GET", "/v1/executions?limit=5&colour=red", None);
    assert_eq!(status, 400, "an unknown parameter is refused: {v}");

    // The CLI: a page and a hint, or every page; a time filter.
    let out = host.cli(&["list", "--limit", "3"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.lines().count(), 4, "a header and three rows: {text}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cursor"));
    let text = host.cli_ok(&["list", "--all", "--limit", "3"]);
    assert_eq!(text.lines().count(), 9, "{text}");
    let text = host.cli_ok(&["list", "--started-after", "1h", "--status", "completed"]);
    assert!(text.contains("from-file"), "{text}");
    let text = host.cli_ok(&["list", "--started-before", "1h"]);
    assert_eq!(text.lines().count(), 1, "only the header: {text}");
    let out = host.cli(&["list", "--status", "done"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("terminated") && err.contains("cancelled"),
        "{err}"
    );

    // `--server` without a scheme, and a pipe that `head` closes while the
    // CLI still writes (a history far over the pipe's buffer).
    let big = host.start_execution("hello", json!({"name": "x".repeat(200_000)}));
    let bare = host.url.trim_start_matches("http://").to_owned();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' history {big} --json --server {bare} | head -c 10",
            weft_e2e::weft_bin().display()
        ))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !err.contains("panicked"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with('{'));
    let text = host.cli_ok(&["list", "--server", &bare, "--limit", "1"]);
    assert!(text.trim_start().starts_with("ID"), "{text}");
    // A flag a command ignores is not offered on it: the local commands
    // take no --server, and refuse one by name.
    for local in [
        &["replay", "--server", &bare][..],
        &["store", "compact", "--server", &bare],
    ] {
        let out = host.cli(local);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("unexpected argument '--server'"),
            "{local:?}: {err}"
        );
    }
    let help = String::from_utf8_lossy(&host.cli(&["server", "--help"]).stdout).into_owned();
    assert!(!help.contains("--server"), "{help}");
    let help =
        String::from_utf8_lossy(&host.cli(&["modules", "prune", "--help"]).stdout).into_owned();
    assert!(help.contains("--server"), "{help}");

    // Durations for the clock.
    let before = host.get("/v1/clock")["now_ms"].as_u64().unwrap();
    host.cli_ok(&["clock", "advance", "1m"]);
    host.cli_ok(&["clock", "advance", "2h"]);
    let after = host.get("/v1/clock")["now_ms"].as_u64().unwrap();
    assert_eq!(after - before, 60_000 + 7_200_000);
}

/// Issue 16: `/metrics` says what runs now (gauges by status, sleeping
/// executions, armed timers), counts by workflow type and activity name,
/// types `weft_up` as a gauge, and does not count a stall as a close.
#[test]
fn metrics_say_what_runs_now_by_type_and_name() {
    let host = Host::with_args(&["--manual-clock", "--evict-after-ms", "0"]);
    host.deploy_examples();
    let id = host.start_execution(
        "timer-fanout",
        json!({"items": ["a"], "sleep_ms": 3_600_000}),
    );
    host.eventually("the timer is armed and the instance evicted", |h| {
        h.metric("weft_pending_timers") == 1.0
            && h.metric("weft_executions{status=\"sleeping\"}") == 1.0
    });
    assert_eq!(host.metric("weft_executions{status=\"running\"}"), 1.0);
    assert_eq!(
        host.metric("weft_executions_started_total{workflow_type=\"timer-fanout\"}"),
        1.0
    );
    let stalled = host.start_execution("misbehave", json!({"mode": "trap"}));
    assert_eq!(host.wait_result(&stalled)["status"], "stalled");
    host.eventually("the stall counted", |h| {
        h.metric("weft_executions_stalled_total{workflow_type=\"misbehave\"}") == 1.0
    });
    assert_eq!(host.metric("weft_executions{status=\"stalled\"}"), 1.0);
    let (_, text) = host.call("GET", "/metrics", None);
    let text = text.as_str().unwrap_or_default().to_string();
    assert!(text.contains("# TYPE weft_up gauge"), "{text}");
    assert!(
        !text.contains("weft_executions_closed_total{workflow_type=\"misbehave\""),
        "a stall is no close: {text}"
    );
    host.advance(3_600_000);
    assert_eq!(host.wait_result(&id)["status"], "completed");
    // Its last timer lost a select: the close removed its row.
    assert_eq!(host.metric("weft_pending_timers"), 0.0);
}

/// The gauges of executions by status (and the counts and listings by
/// status) are kept as the store is written (not counted by reading every
/// record at each request): after every kind
/// of change of status (a start, a close of each kind, a terminate, a
/// cancel, a reset that reopens a closed run, a delete) and after a SIGKILL
/// and restart, each says what a listing of that status finds, and
/// `sleeping` what runs and is not in memory.
#[test]
fn metrics_by_status_follow_every_change_and_a_restart() {
    let mut host = Host::with_args(&["--manual-clock", "--evict-after-ms", "0"]);
    host.deploy_examples();
    // The truth is each execution's own record, read by its id: every
    // gauge, count and listing of a status must find exactly the ids whose
    // record has it, and an unfiltered listing every id (sleeping: every
    // running one, none kept in memory here). Until the restarted host
    // holds the store, its `/metrics` has no such gauge (PostgreSQL).
    let agree = |h: &Host, ids: &[&String], after: &str| {
        h.eventually(
            &format!("the gauges, counts and listings agree after {after}"),
            |h| {
                let (_, text) = h.call("GET", "/metrics", None);
                let text = text.as_str().unwrap_or_default().to_string();
                let gauge =
                    |s: &str| metric_value(&text, &format!("weft_executions{{status=\"{s}\"}}"));
                let counted =
                    |s: &str| h.get(&format!("/v1/execution-count?status={s}"))["count"].as_f64();
                let listed = |query: &str| {
                    let mut ids: Vec<String> = h
                        .list_all(query)
                        .iter()
                        .map(|e| e["id"].as_str().unwrap_or_default().to_owned())
                        .collect();
                    ids.sort();
                    ids
                };
                let status: Vec<(String, String)> = ids
                    .iter()
                    .map(|id| {
                        let r = h.result_now(id);
                        (
                            id.to_string(),
                            r["status"].as_str().unwrap_or("?").to_owned(),
                        )
                    })
                    .collect();
                let with = |s: &str| {
                    let mut ids: Vec<String> = status
                        .iter()
                        .filter(|(_, st)| st == s)
                        .map(|(id, _)| id.clone())
                        .collect();
                    ids.sort();
                    ids
                };
                let mut all: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
                all.sort();
                [
                    "running",
                    "completed",
                    "failed",
                    "stalled",
                    "cancelled",
                    "terminated",
                ]
                .iter()
                .all(|s| {
                    let n = Some(with(s).len() as f64);
                    gauge(s) == n && counted(s) == n && listed(&format!("status={s}")) == with(s)
                }) && gauge("sleeping") == Some(with("running").len() as f64)
                    && listed("") == all
                    && h.get("/v1/execution-count")["count"].as_f64() == Some(all.len() as f64)
            },
        );
    };
    let sleep = || json!({"mode": "sleep"});
    let sleepers: Vec<String> = (0..4)
        .map(|_| host.start_execution("misbehave", sleep()))
        .collect();
    agree(&host, &sleepers.iter().collect::<Vec<_>>(), "starts");
    let (done, r) = host.run_execution("misbehave", json!({"mode": "ok"}));
    assert_eq!(r["status"], "completed");
    let (failed, r) = host.run_execution("misbehave", json!({"mode": "fail"}));
    assert_eq!(r["status"], "failed");
    let stalled = host.start_execution("misbehave", json!({"mode": "trap"}));
    assert_eq!(host.wait_result(&stalled)["status"], "stalled");
    let mut ids: Vec<&String> = sleepers.iter().collect();
    ids.extend([&done, &failed, &stalled]);
    agree(&host, &ids, "a completion, a failure and a stall");
    host.cli_ok(&["terminate", &sleepers[0]]);
    host.cli_ok(&["cancel", &sleepers[1]]);
    assert_eq!(host.wait_result(&sleepers[1])["status"], "cancelled");
    agree(&host, &ids, "a terminate and a cancel");
    // A reset reopens the terminated run (to the event before the
    // termination); a delete drops a closed one.
    let before_end = (host.event_kinds(&sleepers[0]).len() - 2).to_string();
    host.cli_ok(&["reset", &sleepers[0], "--to-event", &before_end]);
    host.eventually("the reset run is running", |h| {
        h.result_now(&sleepers[0])["status"] == "running"
    });
    host.cli_ok(&["delete", &sleepers[1]]);
    ids.retain(|id| **id != sleepers[1]);
    agree(&host, &ids, "a reset and a delete");
    assert_eq!(host.metric("weft_executions{status=\"running\"}"), 3.0);
    assert_eq!(host.metric("weft_executions{status=\"cancelled\"}"), 0.0);
    // Taken again when the store opens.
    host.kill_and_restart();
    agree(&host, &ids, "a restart");
    host.advance(61_000);
    for id in [&sleepers[0], &sleepers[2], &sleepers[3]] {
        assert_eq!(host.wait_result(id)["status"], "completed");
    }
    agree(&host, &ids, "the sleepers' timers");
    assert_eq!(host.metric("weft_executions{status=\"completed\"}"), 4.0);
}

/// Issue 16: `weft logs` prints what a workflow's activities (and the
/// workflow itself, live) said, with the activity, its handle and attempt;
/// `--follow` keeps printing until the execution closes.
#[test]
fn weft_logs_shows_what_the_guests_said_and_follows() {
    let host = Host::start();
    host.deploy_examples();
    let (id, r) = host.run_execution("hello", json!({"name": "log"}));
    assert_eq!(r["status"], "completed", "{r}");
    let text = host.cli_ok(&["logs", &id]);
    assert!(
        text.contains("[activity greet #1 attempt 1] info: effect key=")
            && text.contains("[activity exclaim #3 attempt 1]"),
        "{text}"
    );
    // The host's own log says every start and close (and stall) at info.
    let log = host.log();
    assert!(
        log.contains("execution started") && log.contains("execution closed"),
        "{log}"
    );
    let json_lines = host.cli_ok(&["logs", &id, "--json"]);
    let first: Value = serde_json::from_str(json_lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["source"], "activity greet #1 attempt 1", "{first}");

    // Follow a sleeping execution: its lines come as it runs, and the
    // command ends when it closes.
    let sleeper = host.start_execution("timer-fanout", json!({"items": ["a"], "sleep_ms": 60_000}));
    let mut follow = std::process::Command::new(weft_e2e::weft_bin());
    follow
        .args(["logs", &sleeper, "--follow"])
        .env("WEFT_SERVER", &host.url);
    let follow =
        std::thread::spawn(move || weft_e2e::output_within(&mut follow, weft_e2e::CLI_LIMIT));
    host.eventually("the timer is armed", |h| {
        h.event_kinds(&sleeper).iter().any(|k| k == "timer_started")
    });
    host.advance(60_000);
    assert_eq!(host.wait_result(&sleeper)["status"], "completed");
    let out = follow.join().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[activity "), "{text}");
}

/// `WEFT_PERFMAP` has the host name the compiled code of every component it
/// loads in /tmp/perf-PID.map, for `perf report`; without it the host
/// writes no such file.
#[test]
fn weft_perfmap_names_guest_code_for_perf() {
    for on in [true, false] {
        let host = match on {
            true => Host::with_env(&[], &[("WEFT_PERFMAP", "1")]),
            false => Host::start(),
        };
        let map = std::path::PathBuf::from(format!(
            "/tmp/perf-{}.map",
            host.pid().expect("a running host")
        ));
        host.deploy_examples();
        let (id, r) = host.run_execution("hello", json!({"name": "map"}));
        assert_eq!(r["output"], json!("HELLO, MAP!"), "{id}: {r}");
        let text = std::fs::read_to_string(&map).unwrap_or_default();
        let _ = std::fs::remove_file(&map);
        if on {
            // `ADDRESS LENGTH NAME` per function; the Rust activity
            // component keeps its name section, so its functions are named.
            let named = text
                .lines()
                .filter(|l| {
                    l.splitn(3, ' ')
                        .nth(2)
                        .is_some_and(|n| n.contains("hello_activities"))
                })
                .count();
            assert!(
                named > 10,
                "{named} functions named in {}:\n{}",
                map.display(),
                &text[..text.len().min(2000)]
            );
        } else {
            assert!(
                text.is_empty(),
                "{} written without WEFT_PERFMAP",
                map.display()
            );
        }
    }
}
