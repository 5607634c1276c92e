//! A bounded disk (issue 16): closed executions go after their retention
//! (the host's, or their type's), with the start request ids seen before
//! it; one goes at once with `weft delete`; modules nothing refers to go
//! with `weft modules prune`; `weft store compact` gives the space back.

use std::time::Duration;
use weft_e2e::serde_json::{json, Value};

use weft_e2e::{guest, side_effects, Host};

const HOUR: u64 = 3_600_000;

/// Whether execution `id` still exists.
fn exists(host: &Host, id: &str) -> bool {
    host.call("GET", &format!("/v1/executions/{id}"), None).0 == 200
}

/// Starts a `subscription` (a long-lived actor taking signals) as `id`.
fn start_subscription(host: &Host, id: &str) {
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "subscription", "id": id,
                    "input": {"customer": "ada", "plan": "basic"}})),
    );
    assert_eq!(status, 201, "{v}");
}

/// Sends signal `name` to `id` with request id `request`: whether it was
/// answered as recorded already (`duplicate`).
fn signal_with_request(host: &Host, id: &str, name: &str, request: &str) -> bool {
    let (status, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/signals"),
        Some(json!({"name": name, "input": "pro", "request_id": request})),
    );
    assert_eq!(status, 202, "{v}");
    v["duplicate"] == true
}

#[test]
fn closed_executions_go_after_their_retention_and_open_ones_stay() {
    let host = Host::with_args(&["--manual-clock", "--retention", "1h"]);
    host.deploy_examples();
    // `hello` keeps its closed executions 3 h, the others the host's 1 h.
    let out = host.cli_ok(&["retention", "hello", "3h"]);
    assert!(out.contains("kept 3h"), "{out}");
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(
            json!({"workflow_type": "hello", "id": "kept", "request_id": "r1",
                    "input": {"name": "a"}, "wait_ms": 30000}),
        ),
    );
    assert_eq!(
        (status, &v["result"]["status"]),
        (201, &json!("completed")),
        "{v}"
    );
    let (short, r) = host.run_execution("misbehave", json!({"mode": "flaky", "fail_times": 0}));
    assert_eq!(r["status"], "completed", "{r}");
    // A timer of a day: open all along.
    let open = host.start_execution(
        "timer-fanout",
        json!({"items": ["x"], "sleep_ms": 24 * HOUR}),
    );
    host.eventually("the timer is started", |h| {
        h.event_kinds(&open).iter().any(|k| k == "timer_started")
    });
    let (status, v) = host.call("DELETE", &format!("/v1/executions/{open}"), None);
    assert_eq!(status, 409, "an open execution is not deleted: {v}");

    host.advance(2 * HOUR);
    host.eventually("the host's retention deletes the short one", |h| {
        !exists(h, &short)
    });
    assert!(exists(&host, "kept"), "its type keeps it 3 h");
    assert!(exists(&host, &open), "open executions stay");
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(
            json!({"workflow_type": "hello", "id": "kept", "request_id": "r1",
                    "input": {"name": "a"}}),
        ),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["run"], 1, "the retried request answers with its run: {v}");

    host.advance(2 * HOUR);
    host.eventually("its own retention deletes `kept`", |h| !exists(h, "kept"));
    assert!(exists(&host, &open));
    // Past the window the request id is forgotten with the execution: the
    // same request starts afresh.
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(
            json!({"workflow_type": "hello", "id": "kept", "request_id": "r1",
                    "input": {"name": "b"}, "wait_ms": 30000}),
        ),
    );
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["result"]["output"], "HELLO, B!", "{v}");

    // One at once: `weft delete`.
    host.cli_ok(&["delete", "kept"]);
    assert!(!exists(&host, "kept"));
    let out = host.cli(&["delete", &open]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only a closed execution"),
        "{out:?}"
    );
    let types = host.get("/v1/workflow-types");
    let hello = types["workflow_types"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "hello")
        .cloned()
        .unwrap();
    assert_eq!(hello["retention_ms"], 3 * HOUR, "{types}");
}

/// Found by a review of the upgrade paths: `weft modules prune` kept only
/// the current versions and those a kept execution runs on, and deleted a
/// version a schedule pins (`"version": 1` in its action): every later
/// action of the schedule was skipped ("version not found"), and deploying
/// the same bytes again makes another version number. A pinned version is
/// in use.
#[test]
fn a_version_a_schedule_pins_is_not_pruned() {
    let host = Host::start();
    for v in ["v1", "v2"] {
        host.cli_ok(&[
            "deploy",
            &guest(&format!("order-{v}")).to_string_lossy(),
            "--name",
            "order",
        ]);
    }
    let (code, v) = host.call(
        "POST",
        "/v1/schedules",
        Some(
            json!({"name": "pinned", "spec": {"intervals": [{"every_ms": 24 * HOUR}]},
                    "action": {"workflow_type": "order", "version": 1, "input": {"order": "p"}}}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    let out = host.cli_ok(&["modules", "prune"]);
    assert!(out.contains("nothing to prune"), "{out}");
    assert_eq!(
        host.get("/v1/workflow-types/order/versions")["versions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    host.cli_ok(&["schedule", "trigger", "pinned"]);
    host.eventually("the pinned version runs", |h| {
        h.list_all("").iter().any(|e| {
            e["workflow_type"] == "order"
                && h.describe(e["id"].as_str().unwrap_or_default())["version"] == 1
        })
    });
}

/// Found by a review of the module paths: `weft modules prune` read what
/// is in use (the types' current versions, the executions' modules), then
/// deleted module by module with no check at the delete: a version deployed
/// in between (here while the prune is held after its reads) was taken for
/// an old unused one and deleted though it was its type's current version,
/// and every start of the type ran on a module the store no longer held
/// (stalled on any host that had not compiled it). The delete checks again.
#[test]
fn a_version_deployed_while_a_prune_runs_is_not_pruned() {
    let host = Host::paused_at(&[], &["prune-read"]);
    let deploy = |v: &str| {
        host.cli_ok(&[
            "deploy",
            &guest(&format!("order-{v}")).to_string_lossy(),
            "--name",
            "order",
        ]);
    };
    deploy("v1");
    let prune = {
        let url = format!("{}/v1/modules/prune", host.url);
        std::thread::spawn(move || {
            let resp = weft_e2e::http()
                .post(url)
                .json(&json!({"dry_run": false}))
                .send()
                .expect("the prune");
            (
                resp.status().as_u16(),
                resp.json::<Value>().unwrap_or_default(),
            )
        })
    };
    host.wait_for_log(
        "paused at prune-read",
        1,
        std::time::Duration::from_secs(30),
    );
    deploy("v2");
    host.release("prune-read");
    let (code, v) = prune.join().expect("the prune call");
    assert_eq!(code, 200, "{v}");
    let kept = |h: &Host| -> Vec<(u64, bool)> {
        h.get("/v1/workflow-types/order/versions")["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["version"].as_u64().unwrap(), v["current"] == true))
            .collect()
    };
    // It read v1 as current: v1 is kept by this prune, the next one takes it.
    assert_eq!(kept(&host), [(1, false), (2, true)], "{v}");
    host.cli_ok(&["modules", "prune"]);
    assert_eq!(kept(&host), [(2, true)]);
    let id = host.start_execution("order", json!({"order": "after"}));
    assert_eq!(host.describe(&id)["version"], 2);
}

#[test]
fn unreferenced_modules_are_pruned_and_the_store_compacts() {
    let mut host = Host::start();
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    for v in ["v1", "v2"] {
        host.cli_ok(&[
            "deploy",
            &guest(&format!("order-{v}")).to_string_lossy(),
            "--name",
            "order",
        ]);
    }
    // An execution on v2 (current); v1 runs nothing.
    host.start_execution("order", json!({"order": "a"}));
    let dry = host.cli_ok(&["modules", "prune", "--dry-run"]);
    assert!(
        dry.contains("would delete") && dry.contains("an old version of order"),
        "{dry}"
    );
    assert_eq!(
        host.get("/v1/modules")["modules"].as_array().unwrap().len(),
        3
    );
    let out = host.cli_ok(&["modules", "prune"]);
    assert_eq!(out.lines().count(), 1, "v1 only: {out}");
    assert_eq!(
        host.get("/v1/modules")["modules"].as_array().unwrap().len(),
        2
    );
    let versions = host.get("/v1/workflow-types/order/versions")["versions"].clone();
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");
    assert!(host
        .cli_ok(&["modules", "prune"])
        .contains("nothing to prune"));

    // Offline compaction of the file (redb's; PostgreSQL's VACUUM is the
    // database's own), then the host opens it as before.
    host.kill();
    if host.store().is_none() {
        let out = weft_e2e::output_within(
            std::process::Command::new(weft_e2e::weft_bin())
                .args(["store", "compact", "--data"])
                .arg(host.data_dir()),
            weft_e2e::CLI_LIMIT,
        );
        assert!(out.status.success(), "{out:?}");
    }
    host.spawn();
    assert_eq!(
        host.get("/v1/modules")["modules"].as_array().unwrap().len(),
        2
    );
}

/// Issue 16: the workflow limits a Temporal user sets. A run timeout ends a
/// run that outlasts it; an execution timeout holds across continue-as-new
/// while each new run gets its run timeout afresh. Both count workflow
/// time and terminate (no code runs), with the reason.
#[test]
fn execution_and_run_timeouts_end_what_outlasts_them() {
    let host = Host::start();
    host.deploy_examples_and_corners();
    // A run timeout of 1 h ends a 2 h sleep.
    let out = host.cli_ok(&[
        "start",
        "timer-fanout",
        "--id",
        "slow",
        "--input",
        r#"{"items": ["a"], "sleep_ms": 7200000}"#,
        "--run-timeout",
        "1h",
    ]);
    assert_eq!(out.trim(), "slow");
    let text = host.cli_ok(&["describe", "slow"]);
    assert!(text.contains("run times out:"), "{text}");
    host.eventually("the sleep is armed", |h| {
        h.event_kinds("slow").iter().any(|k| k == "timer_started")
    });
    host.advance(HOUR - 1);
    assert_eq!(host.result_now("slow")["status"], "running");
    host.advance(1);
    crate::durability::assert_run_timed_out(&host.wait_result("slow"));

    // `signals`: each run waits for a `tick`, then continues as new (three
    // runs). Execution timeout 90 min, run timeout 1 h.
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "corners", "id": "runs", "input": {"mode": "signals", "runs": 3},
                    "execution_timeout_ms": 90 * 60_000, "run_timeout_ms": HOUR})),
    );
    assert_eq!(status, 201, "{v}");
    host.advance(40 * 60_000);
    host.cli_ok(&["signal", "runs", "tick", "--input", "1"]);
    host.eventually("the second run", |h| h.describe("runs")["run"] == 2);
    // 40 + 50 min: past the first run's hour, within the second's.
    host.advance(50 * 60_000 - 1);
    assert_eq!(host.result_now("runs")["status"], "running");
    // 90 min since the start: the execution's timeout.
    host.advance(1);
    let r = host.wait_result("runs");
    assert_eq!(r["status"], "terminated", "{r}");
    assert!(
        r["failure"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("execution timeout"),
        "{r}"
    );
}

/// Found by a review of the retention paths: a signal request id whose
/// type's retention could not be read (the store failing for a moment) was
/// kept for the host's retention instead, shorter than the type's: the
/// sweep forgot it early and a retry inside the type's window was recorded
/// a second time. The signal is refused (507 storage-unavailable, nothing
/// recorded) and the client's retry records it with the type's window.
#[test]
fn a_signal_request_id_whose_retention_could_not_be_read_is_not_kept_for_less() {
    let mut host = Host::with_args(&["--manual-clock", "--retention", "1h"]);
    host.deploy_examples();
    host.cli_ok(&["retention", "subscription", "3h"]);
    start_subscription(&host, "actor");
    let other = host.start_execution(
        "timer-fanout",
        json!({"items": ["x"], "sleep_ms": 24 * HOUR}),
    );
    host.kill();
    host.fail_at(&["retention-read"]);
    host.spawn();
    let (status, v) = host.call(
        "POST",
        "/v1/executions/actor/signals",
        Some(json!({"name": "change-plan", "input": "pro", "request_id": "r1"})),
    );
    assert_eq!(
        (status, &v["error"]["code"]),
        (507, &json!("storage-unavailable")),
        "the type's retention could not be read: {v}"
    );
    let send = |h: &Host| signal_with_request(h, "actor", "change-plan", "r1");
    let send_other = |h: &Host| signal_with_request(h, &other, "nudge", "r1");
    assert!(!send(&host), "the retry records it");
    assert!(!send_other(&host));
    host.advance(2 * HOUR);
    // One sweep forgets both or neither (see the test below).
    host.eventually("the host's hour passed for the other", |h| !send_other(h));
    assert!(send(&host), "its type keeps it 3 h");
    let received = host
        .event_kinds("actor")
        .iter()
        .filter(|k| *k == "signal_received")
        .count();
    assert_eq!(received, 1);
}

/// A client signal's request id is kept for the target's retention (its
/// type's own, or the host's), as a start's is: a retry inside that window
/// is recorded once, and the inbox of a long-lived actor does not keep an
/// id of every signal it ever took.
#[test]
fn a_signal_request_id_is_forgotten_after_the_retention_of_its_execution() {
    let host = Host::with_args(&["--manual-clock", "--retention", "1h"]);
    host.deploy_examples();
    start_subscription(&host, "actor");
    let received = |h: &Host| {
        h.event_kinds("actor")
            .iter()
            .filter(|k| *k == "signal_received")
            .count()
    };
    let send = |h: &Host, request: &str| signal_with_request(h, "actor", "change-plan", request);
    assert!(!send(&host, "r1"));
    host.advance(HOUR / 2);
    assert!(
        send(&host, "r1"),
        "inside the window a retry is recorded once"
    );
    assert_eq!(received(&host), 1);

    // Past the host's hour the sweep forgets it: the same id records again,
    // and starts a window of its own.
    host.advance(HOUR);
    host.eventually("the request id is forgotten", |h| !send(h, "r1"));
    assert_eq!(received(&host), 2);
    assert!(send(&host, "r1"));

    // A type's own retention decides for its executions: `subscription`
    // keeps 3 h; beside it an execution of a type on the host's hour.
    host.cli_ok(&["retention", "subscription", "3h"]);
    let other = host.start_execution(
        "timer-fanout",
        json!({"items": ["x"], "sleep_ms": 24 * HOUR}),
    );
    let send_other = |h: &Host| signal_with_request(h, &other, "nudge", "r2");
    assert!(!send(&host, "r2"));
    assert!(!send_other(&host));
    host.advance(2 * HOUR);
    // One sweep forgets both or neither: once the other's is gone, the
    // actor's was looked at in the same pass.
    host.eventually("the host's hour passed for the other", |h| !send_other(h));
    assert!(send(&host, "r2"), "its type keeps it 3 h");
    host.advance(2 * HOUR);
    host.eventually("the type's window passed", |h| !send(h, "r2"));
    assert_eq!(received(&host), 4);
    assert_eq!(
        host.describe("actor")["status"],
        "running",
        "open all along"
    );
}

/// Found by the suite under load: a sweep still running when the manual
/// clock moved slept a minute past the *new* time, so the move was never
/// swept (on a real clock, a minute late). The sweep that begins at the
/// start is held at its end while the clock moves an hour.
#[test]
fn a_clock_moved_while_a_sweep_runs_is_swept_after_it() {
    let host = Host::paused_at(
        &["--manual-clock", "--retention", "1h"],
        &["retention-swept"],
    );
    host.wait_for_log("paused at retention-swept", 1, Duration::from_secs(60));
    host.deploy_examples();
    start_subscription(&host, "actor");
    let send = |h: &Host| signal_with_request(h, "actor", "change-plan", "r1");
    assert!(!send(&host));
    host.advance(2 * HOUR);
    host.release("retention-swept");
    host.eventually("the request id is forgotten", |h| !send(h));
}

/// Found by a review: a deleted execution left its signal request ids'
/// times behind, and their sweep forgot the same id of a later execution
/// under the same id, inside that one's window.
#[test]
fn a_deleted_execution_takes_its_signal_request_ids_along() {
    let host = Host::with_args(&["--manual-clock", "--retention", "1h"]);
    host.deploy_examples();
    let start = |id: &str| start_subscription(&host, id);
    let send = |h: &Host, id: &str| signal_with_request(h, id, "change-plan", "r");
    start("x");
    start("control");
    assert!(!send(&host, "x"));
    assert!(!send(&host, "control"));
    host.cli_ok(&["terminate", "x", "--reason", "gone"]);
    host.cli_ok(&["delete", "x"]);
    host.advance(HOUR / 2);
    start("x");
    assert!(!send(&host, "x"), "a new execution: a new inbox");
    // Past the first window: the control's id is forgotten by a sweep,
    // which must leave the new x's (its window runs another half hour).
    host.advance(HOUR * 2 / 3);
    host.eventually("the control's id is forgotten", |h| !send(h, "control"));
    assert!(
        send(&host, "x"),
        "the new execution's id was forgotten early"
    );
}

/// Starts `hello` as execution `id` (a new run if the id closed) and waits
/// for it to complete.
fn run_hello(host: &Host, id: &str, name: &str) {
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "hello", "id": id, "input": {"name": name}})),
    );
    assert_eq!(status, 201, "{v}");
    let r = host.wait_result(id);
    assert_eq!(r["status"], "completed", "{r}");
}

/// A host whose retention sweep (1 h) stops between its read of what
/// expired and its delete, once something expired.
fn host_holding_its_sweep() -> Host {
    let host = Host::paused_at(
        &["--manual-clock", "--retention", "1h"],
        &["retention-read"],
    );
    host.deploy_examples();
    host
}

/// Moves the clock past the retention, runs `meanwhile` while the sweep
/// that read what expired is held, then lets the sweep end.
fn while_the_sweep_holds(host: &Host, meanwhile: impl FnOnce()) {
    host.advance(2 * HOUR);
    host.wait_for_log("paused at retention-read", 1, Duration::from_secs(60));
    meanwhile();
    host.release("retention-read");
    host.wait_for_log("released at retention-read", 1, Duration::from_secs(60));
    host.eventually("the sweep to end", |h| {
        h.log()
            .contains("deleted closed executions past their retention")
            || h.log().contains("kept an execution")
    });
}

/// Found by a review of what an id deleted and started again shares with
/// the execution it held: everything derived from (id, run, handle). The
/// new execution began again at run 1, so its activities carried the
/// deleted one's idempotency keys (an API deduplicating by key skipped its
/// side effects as done). A deleted execution leaves the run and epoch it
/// reached, and the next one under its id goes on from them, as a start
/// reusing a closed id does.
#[test]
fn an_id_deleted_and_started_again_gives_its_activities_new_keys() {
    let host = Host::start();
    host.deploy_examples();
    let effect_keys = |h: &Host| -> Vec<(String, String)> {
        side_effects(&h.log())
            .into_iter()
            .map(|(key, activity, _)| (key, activity))
            .collect()
    };
    run_hello(&host, "h", "one");
    let first = effect_keys(&host);
    assert_eq!(first.len(), 3, "{first:?}");
    host.cli_ok(&["delete", "h"]);
    assert!(!exists(&host, "h"));
    run_hello(&host, "h", "two");
    let second: Vec<_> = effect_keys(&host)
        .into_iter()
        .filter(|e| !first.contains(e))
        .collect();
    assert_eq!(second.len(), 3, "keys used again: {:?}", effect_keys(&host));
    assert_eq!(host.describe("h")["run"], 2);
}

/// Found by a review of what an id started again shares with the execution
/// it held: the sweep read the expired executions, then deleted them in
/// later transactions, checking only that each was closed. An id started
/// again in between (reusing the closed id) whose new run closed before the
/// delete went with it: a fresh result deleted at once. The delete names
/// the run it read. The sweep is held between its read and its delete.
#[test]
fn a_run_started_again_while_a_sweep_runs_is_not_deleted_with_the_old_one() {
    let host = host_holding_its_sweep();
    run_hello(&host, "x", "old");
    while_the_sweep_holds(&host, || run_hello(&host, "x", "new"));
    assert!(exists(&host, "x"), "the new run was deleted");
    let d = host.describe("x");
    assert_eq!(
        (&d["run"], &d["status"]),
        (&json!(2), &json!("completed")),
        "{d}"
    );
}

/// Found by a review of the fix above: the delete named the run it read,
/// and a reset keeps the run. An execution reset after the sweep read it,
/// which closed again before the delete, went with it. The delete names
/// the epoch, which a reset moves on.
#[test]
fn an_execution_reset_while_a_sweep_runs_is_not_deleted() {
    let host = host_holding_its_sweep();
    run_hello(&host, "y", "y");
    while_the_sweep_holds(&host, || {
        host.cli_ok(&["reset", "y", "--to-event", "0"]);
        host.eventually("the reset run to end", |h| {
            h.event_kinds("y").contains(&"execution_reset".to_string())
                && h.describe("y")["status"] == "completed"
        });
    });
    assert!(exists(&host, "y"), "the reset execution was deleted");
}

/// Found by a review of the retried requests: a start's request id was
/// remembered for the retention counted from the start, not from the
/// close, so an execution that ran longer than its retention lost it while
/// it ran or was still kept: a retry started a second execution (no id
/// given) or a second run of the kept one (id given). It is kept as long
/// as the execution it started is.
#[test]
fn a_start_request_id_is_kept_as_long_as_the_execution_it_started() {
    let host = Host::with_args(&["--manual-clock", "--retention", "1h"]);
    host.deploy_examples();
    let start = |id: Option<&str>, request: &str| {
        let mut body = json!({"workflow_type": "timer-fanout", "request_id": request,
                              "input": {"items": ["x"], "sleep_ms": 2 * HOUR}});
        if let Some(id) = id {
            body["id"] = json!(id);
        }
        let (status, v) = host.call("POST", "/v1/executions", Some(body));
        assert!(status == 200 || status == 201, "{status} {v}");
        (
            v["id"].as_str().expect("an id").to_owned(),
            v["run"].clone(),
        )
    };
    let (unnamed, _) = start(None, "r-unnamed");
    let (named, _) = start(Some("long"), "r-named");
    for id in [&unnamed, &named] {
        host.eventually("the timer is started", |h| {
            h.event_kinds(id).iter().any(|k| k == "timer_started")
        });
    }
    // Past the retention since the start, both still running.
    host.advance(HOUR + HOUR / 2);
    assert_eq!(start(None, "r-unnamed").0, unnamed, "a second execution");
    assert_eq!(start(Some("long"), "r-named"), (named.clone(), json!(1)));
    // Closed ten minutes ago, kept for an hour after.
    host.advance(HOUR / 2 + HOUR / 6);
    for id in [&unnamed, &named] {
        assert_eq!(host.wait_result(id)["status"], "completed");
    }
    assert_eq!(start(None, "r-unnamed").0, unnamed, "a second execution");
    assert_eq!(
        start(Some("long"), "r-named"),
        (named.clone(), json!(1)),
        "a second run"
    );
    assert_eq!(host.describe(&named)["status"], "completed");
    // Deleted after their retention: the request id goes with them.
    host.advance(2 * HOUR);
    host.eventually("both deleted", |h| {
        !exists(h, &unnamed) && !exists(h, &named)
    });
    assert_ne!(start(None, "r-unnamed").0, unnamed);
}

/// Found by a review of the retention paths: a workflow's cancel of another
/// execution, delivered, was delivered again after its sender was reset to
/// before the cancel's completion, and only the key the target keeps for
/// its retention stopped it: once the target's type's retention had passed
/// (the key forgotten, the sender kept for longer), a new execution a
/// client had started under the target's id was cancelled. A reset
/// records again the completion its discarded part held for a kept
/// request, as it does a kept child's end: nothing is delivered twice.
#[test]
fn a_cancel_delivered_before_its_senders_reset_is_not_delivered_again_after_its_key_is_forgotten() {
    let host = Host::with_args(&["--manual-clock", "--retention", "1h"]);
    host.deploy_examples_and_corners();
    host.cli_ok(&["retention", "corners", "100h"]);
    start_subscription(&host, "victim");
    host.start_corners("orderer", json!({"mode": "orders", "got": ["victim"]}));
    host.eventually("the sender waits for its order", |h| {
        h.event_kinds("orderer")
            .iter()
            .any(|k| k == "signal_awaited")
    });
    host.send_signal("orderer", "order", json!("cancel"));
    assert_eq!(host.wait_result("orderer")["output"], "asked");
    host.eventually("the victim ended", |h| {
        h.describe("victim")["status"] != "running"
    });
    start_subscription(&host, "victim");
    // Past the subscription's hour its keys are forgotten (a signal's
    // request id, sent now, with them).
    assert!(!signal_with_request(
        &host,
        "victim",
        "change-plan",
        "probe"
    ));
    host.advance(2 * HOUR);
    host.eventually("the victim's keys are forgotten", |h| {
        !signal_with_request(h, "victim", "change-plan", "probe")
    });
    let sent = host
        .event_kinds("orderer")
        .iter()
        .position(|k| k == "external_sent")
        .expect("external_sent");
    let (status, v) = host.call(
        "POST",
        "/v1/executions/orderer/reset",
        Some(json!({"to_event": sent, "reason": "again"})),
    );
    assert_eq!(status, 200, "{v}");
    let r = host.wait_result("orderer");
    assert_eq!(r["output"], "asked", "{r}");
    host.advance(1);
    let d = host.describe("victim");
    assert_eq!(
        (&d["status"], &d["cancel_requested"]),
        (&json!("running"), &json!(false)),
        "{d}"
    );
}
