//! Composition and long runs: sagas, child workflows, fan-out/fan-in,
//! cancellation and termination, continue-as-new, history limits, id reuse.

use std::time::Duration;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::Host;

fn kinds_named(host: &Host, id: &str, kind: &str) -> Vec<String> {
    host.get(&format!("/v1/executions/{id}/history"))["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == kind)
        .map(|e| e["event"]["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn count(host: &Host, id: &str, kind: &str) -> usize {
    host.event_kinds(id).iter().filter(|k| *k == kind).count()
}

#[test]
fn a_trip_saga_compensates_in_reverse_across_a_sigkill() {
    let mut host = Host::start();
    host.deploy_examples();
    let ok = host.start_execution("trip-booking", json!({"traveller": "grace"}));
    let r = host.wait_result(&ok);
    assert_eq!(r["output"].as_array().unwrap().len(), 3, "{r}");

    let id = host.start_execution(
        "trip-booking",
        json!({"traveller": "ada", "car": "unavailable", "compensation_delay_ms": 700}),
    );
    // Killed while the hotel's cancellation runs.
    host.wait_for_log("activity=cancel_hotel", 1, Duration::from_secs(60));
    host.kill_and_restart();
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["failure"]["kind"], "NoCar", "the original error: {r}");
    assert_eq!(
        kinds_named(&host, &id, "activity_scheduled"),
        [
            "book_flight",
            "book_hotel",
            "book_car",
            "cancel_hotel",
            "cancel_flight"
        ],
        "compensations in reverse order, each recorded once"
    );
    assert_eq!(count(&host, &id, "activity_completed"), 4);
}

#[test]
fn a_batch_fans_out_to_children_and_adds_up() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("batch", json!({"items": 1000, "workers": 10}));
    let r = host.wait_result(&id);
    // 1² + 2² + ... + 1000²
    assert_eq!(r["output"], 333_833_500, "{r}");
    let d = host.describe(&id);
    let children = d["children"].as_array().unwrap();
    assert_eq!(children.len(), 10, "{d}");
    assert!(children.iter().all(|c| c["status"] == "completed"), "{d}");
    let child = children[0]["id"].as_str().unwrap();
    assert_eq!(host.describe(child)["parent"]["id"], id);
    let out = host.cli_ok(&["describe", &id]);
    assert!(
        out.contains("child:") && out.contains("batch-worker"),
        "{out}"
    );
    assert_eq!(count(&host, child, "activity_scheduled"), 10);
}

#[test]
fn cancellation_reaches_children_and_ends_as_cancelled() {
    let host = Host::start();
    host.deploy_examples();
    let parent = host.start_execution("misbehave", json!({"mode": "parent"}));
    let child = format!("{parent}-1");
    host.eventually("the child's timer", |h| {
        h.call("GET", &format!("/v1/executions/{child}"), None).0 == 200
            && count(h, &child, "timer_started") == 1
    });
    let out = host.cli_ok(&["cancel", &parent, "--reason", "no longer needed"]);
    assert!(out.contains("requested"), "{out}");
    let r = host.wait_result(&parent);
    assert_eq!(r["status"], "cancelled", "{r}");
    let c = host.wait_result(&child);
    assert_eq!(c["status"], "cancelled", "{c}");
    assert!(host
        .event_kinds(&child)
        .contains(&"timer_cancelled".to_string()));
    assert!(host
        .event_kinds(&parent)
        .contains(&"cancel_requested".to_string()));
    let out = host.cli(&["result", &parent]);
    assert_eq!(out.status.code(), Some(1));

    // A running activity is stopped and completes as cancelled.
    let slow = host.start_execution("hello", json!({"name": "slow", "delay_ms": 30_000}));
    host.wait_for_log(
        &format!("activity started execution={slow}"),
        1,
        Duration::from_secs(30),
    );
    host.cli_ok(&["cancel", &slow]);
    let r = host.wait_result(&slow);
    assert_eq!(r["status"], "cancelled", "{r}");
    let history = host.get(&format!("/v1/executions/{slow}/history"));
    let failed = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"]["type"] == "activity_failed")
        .unwrap_or_else(|| panic!("{history}"))
        .clone();
    assert_eq!(failed["event"]["failure"]["kind"], "cancelled", "{failed}");

    // Terminate: immediate, recorded with the reason; the timer never fires.
    let t = host.start_execution("misbehave", json!({"mode": "sleep"}));
    host.eventually("the timer", |h| count(h, &t, "timer_started") == 1);
    host.cli_ok(&["terminate", &t, "--reason", "stuck"]);
    let r = host.wait_result(&t);
    assert_eq!(r["status"], "terminated", "{r}");
    // Past its due time; a later timer firing proves the timer service got
    // there, and the dropped one did not fire.
    let later = host.start_execution("misbehave", json!({"mode": "sleep"}));
    host.eventually("the later timer", |h| {
        count(h, &later, "timer_started") == 1
    });
    host.advance(120_000);
    assert_eq!(host.wait_result(&later)["output"], "slept");
    assert_eq!(count(&host, &t, "timer_fired"), 0);
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{t}/cancel"),
        Some(json!({})),
    );
    assert_eq!(code, 409, "a closed execution cannot be cancelled: {v}");
}

#[test]
fn parent_close_policies_terminate_or_abandon_children() {
    let host = Host::start();
    host.deploy_examples();
    let parent = host.start_execution("misbehave", json!({"mode": "orphans"}));
    let terminated = format!("{parent}-terminated");
    let abandoned = format!("{parent}-abandoned");
    host.eventually("both children", |h| {
        h.call("GET", &format!("/v1/executions/{abandoned}"), None)
            .0
            == 200
            && count(h, &abandoned, "timer_started") == 1
    });
    host.advance(1_000);
    assert_eq!(host.wait_result(&parent)["output"], "left them");
    assert_eq!(host.wait_result(&terminated)["status"], "terminated");
    assert_eq!(host.result_now(&abandoned)["status"], "running");
    host.advance(60_000);
    assert_eq!(host.wait_result(&abandoned)["output"], "slept");
}

#[test]
fn iterate_continues_as_new_within_the_history_limits() {
    let host = Host::with_args(&[
        "--manual-clock",
        "--history-warn-events",
        "40",
        "--history-max-events",
        "60",
    ]);
    host.deploy_examples();
    let id = host.start_execution("iterate", json!({"total": 100_000, "chunk": 1000}));
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"]["sum"], 4_999_950_000u64, "{r}");
    let runs = r["output"]["runs"].as_u64().unwrap();
    assert!(runs >= 4, "{r}");
    assert_eq!(host.describe(&id)["run"], runs);
    for run in 1..=runs {
        let h = host.get(&format!("/v1/executions/{id}/history?run={run}"));
        let events = h["events"].as_array().unwrap();
        assert!(events.len() <= 60, "run {run} has {} events", events.len());
        assert_eq!(events[0]["event"]["type"], "execution_started");
        let last = events.last().unwrap()["event"]["type"].clone();
        let expected = if run < runs {
            "execution_continued_as_new"
        } else {
            "execution_completed"
        };
        assert_eq!(last, expected, "run {run}");
    }
    let out = host.cli_ok(&["history", &id, "--run", "1"]);
    assert!(out.contains("execution_continued_as_new"), "{out}");
    // Each run started it anew: listed once, as the run that completed.
    let listed: Vec<Value> = host
        .list_all("")
        .into_iter()
        .filter(|e| e["id"] == id.as_str())
        .collect();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["status"], "completed", "{listed:?}");

    // Ignoring the suggestion runs into the limit: terminated, with the reason.
    let big = host.start_execution(
        "iterate",
        json!({"total": 100_000, "chunk": 1000, "ignore_suggestion": true}),
    );
    let r = host.wait_result(&big);
    assert_eq!(r["status"], "terminated", "{r}");
    let reason = r["failure"]["message"].as_str().unwrap();
    assert!(reason.contains("limit of 60 events"), "{reason}");
}

#[test]
fn a_running_id_is_unique_and_reuse_follows_the_policy() {
    let host = Host::start();
    host.deploy_examples();
    let start = |extra: Value| {
        let mut body =
            json!({"workflow_type": "misbehave", "id": "once", "input": {"mode": "sleep"}});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        host.call("POST", "/v1/executions", Some(body))
    };
    let (code, v) = start(json!({"request_id": "r1"}));
    assert_eq!((code, v["run"].clone()), (201, json!(1)), "{v}");
    let (code, v) = start(json!({"request_id": "r1"}));
    assert_eq!(
        (code, v["run"].clone()),
        (201, json!(1)),
        "a retried start: {v}"
    );
    let (code, v) = start(json!({"request_id": "r2"}));
    assert_eq!(code, 409, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("running"),
        "{v}"
    );

    host.eventually("the timer", |h| count(h, "once", "timer_started") == 1);
    host.advance(60_000);
    assert_eq!(host.wait_result("once")["output"], "slept");
    let (code, v) = start(json!({"id_reuse_policy": "reject-duplicate"}));
    assert_eq!(code, 409, "{v}");
    let (code, v) = start(json!({"id_reuse_policy": "allow-duplicate-failed-only"}));
    assert_eq!(code, 409, "it completed: {v}");
    let (code, v) = start(json!({}));
    assert_eq!((code, v["run"].clone()), (201, json!(2)), "{v}");
    let h = host.get("/v1/executions/once/history?run=1");
    assert_eq!(
        h["events"].as_array().unwrap().last().unwrap()["event"]["type"],
        "execution_completed"
    );
}

/// Found by a sweep of the store's failure paths: a child's start reads
/// whether its id is in use, and a read that failed (a cut connection, a
/// disk error) was recorded as the child's end, `child-not-started: the
/// store is unavailable`: a moment's outage became the parent's failure,
/// forever in its history. The parent's task fails instead and runs again
/// once the store answers. The first such read fails.
#[test]
fn a_child_start_that_could_not_read_the_store_is_made_again_not_failed() {
    let host = Host::with_faults(&["--manual-clock"], &[], &["child-start-read"]);
    host.deploy_examples();
    let parent = host.start_execution("misbehave", json!({"mode": "parent"}));
    host.wait_for_log(
        "failing at child-start-read",
        1,
        std::time::Duration::from_secs(30),
    );
    let child = |h: &Host| {
        h.list_all("")
            .into_iter()
            .filter_map(|e| e["id"].as_str().map(str::to_owned))
            .find(|id| *id != parent)
    };
    host.eventually("the child sleeps", |h| {
        child(h).is_some_and(|c| h.event_kinds(&c).contains(&"timer_started".to_string()))
    });
    host.advance(60_000);
    let r = host.wait_result(&parent);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], "child said slept", "{r}");
}

/// Found by a sweep of the store's failure paths: continue-as-new reads
/// the workflow type's current version for the next run, and a read that
/// failed (a cut connection, a disk error) stalled the execution, "could
/// not continue as new", until an operator reset it. The run's end is made
/// again once the store answers. The first such read fails.
#[test]
fn a_continue_as_new_that_could_not_read_the_store_is_made_again_not_stalled() {
    let host = Host::with_faults(&["--manual-clock"], &[], &["continue-as-new-read"]);
    host.deploy_examples_and_corners();
    host.start_corners("twice", json!({"mode": "signals", "runs": 2}));
    host.cli_ok(&["signal", "twice", "tick", "--input", "1"]);
    host.wait_for_log(
        "failing at continue-as-new-read",
        1,
        std::time::Duration::from_secs(30),
    );
    host.eventually("the second run", |h| h.describe("twice")["run"] == 2);
    host.cli_ok(&["signal", "twice", "tick", "--input", "2"]);
    let r = host.wait_result("twice");
    assert_eq!(r["status"], "completed", "{r}");
}

/// Found by a sweep of the store's failure paths: an execution that ran
/// into the history limit was forgotten and then terminated; a terminate
/// the store could not write (a cut connection, a disk error) left it
/// running with nothing to load it again until the host's next start. It
/// is loaded again, meets the limit again and is terminated. The first
/// terminate fails.
#[test]
fn an_execution_past_the_history_limit_is_terminated_though_the_first_terminate_failed() {
    let host = Host::with_faults(
        &["--manual-clock", "--history-max-events", "60"],
        &[],
        &["history-limit-terminate"],
    );
    host.deploy_examples();
    let big = host.start_execution(
        "iterate",
        json!({"total": 100_000, "chunk": 1000, "ignore_suggestion": true}),
    );
    host.wait_for_log(
        "failing at history-limit-terminate",
        1,
        std::time::Duration::from_secs(30),
    );
    let r = host.wait_result(&big);
    assert_eq!(r["status"], "terminated", "{r}");
}
