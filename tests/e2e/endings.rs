//! A run's end meeting what others write at the same moment, and requests
//! retried after their answer was lost: a signal recorded while the run's
//! last task returns, an update waiting when a reset discards it, a start
//! or a reset retried. Each test was written against the host before its
//! fix and failed there.

use std::time::Duration;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::Host;

const WAIT: Duration = Duration::from_secs(60);
const HOUR_MS: u64 = 3_600_000;

fn signal(host: &Host, id: &str, input: Value) {
    let (status, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/signals"),
        Some(json!({"name": "tick", "input": input})),
    );
    assert_eq!(status, 202, "signal {id}: {v}");
}

/// Found by a review of the close path: a signal recorded after the run's
/// last task began and before its end was written was answered 202 and
/// never seen by the code, which had drained its signals (`try_receive`)
/// and returned. A close is now refused when a signal the code was not
/// offered came in meanwhile, and the last task runs again with it (as
/// Temporal refuses a completion while new events are pending). Here the
/// second run drains what is waiting and returns; its end is held while
/// the signal is sent: before the close reads the history, and after (the
/// write itself must refuse).
#[test]
fn a_signal_sent_while_the_run_returns_is_taken_before_it_ends() {
    for point in ["run-closing", "close-before-write"] {
        let host = Host::paused_at(&[], &[point]);
        host.deploy_examples_and_corners();
        host.start_corners("late", json!({"mode": "drain", "timeout_ms": 0}));
        host.wait_for_log(&format!("paused at {point}"), 1, WAIT);
        signal(&host, "late", json!("late"));
        host.release(point);
        let r = host.wait_result("late");
        assert_eq!(r["status"], "completed", "{point}: {r}");
        assert_eq!(r["output"], json!(["next run", "late"]), "{point}: {r}");
    }
}

/// Found by a review of the reset path: a reset that discarded an accepted
/// update left its caller waiting until its deadline, answered "accepted",
/// and then 404 for an update it had been told was accepted. The caller is
/// now answered at once, 409 naming the reset, and so is a later look at
/// the update; sent again (same id), it is applied in the new history.
#[test]
fn an_update_a_reset_discards_is_answered_at_once() {
    let host = Host::start();
    host.deploy_examples();
    let sub = json!({"customer": "ada", "plan": "basic"});
    host.start_as("subscription", "sub-r", sub);
    host.eventually("the month's timer", |h| {
        h.event_kinds("sub-r").iter().any(|k| k == "timer_started")
    });
    let before_update = host.event_kinds("sub-r").len() - 1;
    let cancel = |processing_ms: u64, wait_ms: u64| {
        let input = json!({"reason": "moving", "processing_ms": processing_ms});
        host.call(
            "POST",
            "/v1/executions/sub-r/updates",
            Some(json!({"name": "cancel", "input": input, "update_id": "c-1", "wait_ms": wait_ms})),
        )
    };
    std::thread::scope(|s| {
        let caller = s.spawn(|| {
            let asked = std::time::Instant::now();
            (cancel(HOUR_MS, 40_000), asked.elapsed())
        });
        host.eventually("the final charge to run", |h| {
            h.log()
                .contains("activity started execution=sub-r activity=charge")
        });
        let (status, v) = host.call(
            "POST",
            "/v1/executions/sub-r/reset",
            Some(json!({"to_event": before_update, "reason": "wrong customer"})),
        );
        assert_eq!(status, 200, "{v}");
        let ((status, v), took) = caller.join().expect("the caller");
        assert_eq!(status, 409, "{v}");
        let message = v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(message.contains("reset"), "{v}");
        assert!(took < Duration::from_secs(30), "answered after {took:?}");
    });
    let (status, v) = host.call("GET", "/v1/executions/sub-r/updates/c-1", None);
    assert_eq!(status, 409, "{v}");
    let (status, v) = cancel(0, 30_000);
    assert_eq!(status, 200, "sent again: {v}");
    assert!(
        v["output"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("moving")),
        "{v}"
    );
    let r = host.wait_result("sub-r");
    assert_eq!(r["output"]["active"], false, "{r}");
}

/// Found by a review of the start path: a start retried with its
/// `request_id` and `wait_ms` (or `weft start --wait`) after its run ended
/// and another execution took the id answered that other execution's
/// result under the first run's number. It now answers the run it started
/// (and the runs that run continued as new into).
#[test]
fn a_retried_start_answers_the_run_it_started() {
    let host = Host::start();
    host.deploy_examples();
    let first = json!({"workflow_type": "hello", "id": "same", "input": {"name": "Ada"},
                       "request_id": "r-1", "wait_ms": 10_000});
    let start = |body: &Value| {
        let (status, v) = host.call("POST", "/v1/executions", Some(body.clone()));
        assert_eq!(status, 201, "{v}");
        v
    };
    let v = start(&first);
    assert_eq!(
        (&v["run"], &v["result"]["status"]),
        (&json!(1), &json!("completed")),
        "{v}"
    );
    let ada = v["result"]["output"].clone();
    let other = json!({"workflow_type": "hello", "id": "same", "input": {"name": "Bob"},
                       "wait_ms": 10_000});
    let v = start(&other);
    assert_eq!(v["run"], 2, "{v}");
    assert_ne!(v["result"]["output"], ada, "{v}");
    let v = start(&first);
    assert_eq!(v["run"], 1, "{v}");
    assert_eq!(v["duplicate"], true, "{v}");
    assert_eq!(
        v["result"]["output"], ada,
        "the retry answers its own run: {v}"
    );
    // An empty request id (an unset variable) would make every start a
    // retry of the first: refused.
    let mut empty = other.clone();
    empty["request_id"] = json!("");
    let (status, v) = host.call("POST", "/v1/executions", Some(empty));
    assert_eq!(status, 400, "{v}");
    let out = host.cli_ok(&[
        "start",
        "hello",
        "--id",
        "same",
        "--input",
        r#"{"name": "Ada"}"#,
        "--request-id",
        "r-1",
        "--wait",
        "--json",
    ]);
    let r: Value = weft_e2e::serde_json::from_str(out.trim()).expect("json");
    assert_eq!(r["output"], ada, "the CLI's retry answers its own run: {r}");
    let v = host.get("/v1/executions/same/result?run=2");
    assert_eq!(v["output"], json!("HELLO, BOB!"), "{v}");
    for run in [0, 3] {
        let (status, v) = host.call(
            "GET",
            &format!("/v1/executions/same/result?run={run}"),
            None,
        );
        assert_eq!(status, 400, "run {run}: {v}");
        assert!(v.to_string().contains("has runs 1 to 2"), "{v}");
    }
}

/// Found by a review of the outbox: a request to another execution is
/// recorded by its target once per key, and the key (`<sender>/<run>/
/// <handle>`) stayed the same when a reset's re-run sent other content from
/// the same handle: the corrected signal was reported delivered and
/// dropped. The key of a new request now names its content too: the same
/// request sent again by a re-run is still recorded once.
#[test]
fn a_signal_a_reset_sender_sends_anew_reaches_its_target() {
    let host = Host::start();
    host.deploy_examples_and_corners();
    host.start_corners("listener", json!({"mode": "signals", "runs": 3}));
    host.start_corners("sender", json!({"mode": "orders", "got": ["listener"]}));
    let order = |what: &str| {
        let (status, v) = host.call(
            "POST",
            "/v1/executions/sender/signals",
            Some(json!({"name": "order", "input": what})),
        );
        assert_eq!(status, 202, "{v}");
    };
    let awaited = || {
        host.event_kinds("sender")
            .iter()
            .position(|k| k == "signal_awaited")
    };
    host.eventually("the sender waits for its order", |_| awaited().is_some());
    order("say wrong");
    assert_eq!(host.wait_result("sender")["output"], "asked");
    let (status, v) = host.call(
        "POST",
        "/v1/executions/sender/reset",
        Some(json!({"to_event": awaited(), "reason": "wrong words", "exclude_signals": true})),
    );
    assert_eq!(status, 200, "{v}");
    order("say right");
    assert_eq!(host.wait_result("sender")["output"], "asked");
    // One run per signal taken.
    host.eventually("the corrected signal", |h| {
        h.describe("listener")["run"] == 3
    });
    // The same words again from a second re-run: recorded once.
    let (status, v) = host.call(
        "POST",
        "/v1/executions/sender/reset",
        Some(json!({"to_event": awaited(), "reason": "again", "exclude_signals": true})),
    );
    assert_eq!(status, 200, "{v}");
    order("say right");
    assert_eq!(host.wait_result("sender")["output"], "asked");
    let (status, v) = host.call(
        "POST",
        "/v1/executions/listener/signals",
        Some(json!({"name": "tick", "input": "last"})),
    );
    assert_eq!(status, 202, "{v}");
    let r = host.wait_result("listener");
    assert_eq!(r["output"], json!(["wrong", "right", "last"]), "{r}");
}

/// Found by a review of the fix above: an update accepted after its run's
/// last wait is recorded again in the next run (continue-as-new carries
/// it). A reset that discarded that copy answered "discarded: send it
/// again", and the update sent again was refused as a duplicate of the
/// first run's record, for ever. The update is held before its record while
/// the run continues as new, as in `corners::`; the next run runs it (an
/// update is accepted only on the history its validator saw, so since the
/// signal it is validated again there, where a carried one also runs), and
/// is then reset to its start.
#[test]
fn an_update_carried_to_the_next_run_and_discarded_there_can_be_sent_again() {
    let host = Host::paused_at(
        &["--manual-clock"],
        &["update-before-accept", "continue-as-new-before-commit"],
    );
    host.deploy_examples_and_corners();
    host.start_corners("carry", json!({"mode": "carry"}));
    let kinds = |h: &Host| h.event_kinds("carry");
    host.eventually("the first run waits for tick", |h| {
        kinds(h).contains(&"signal_awaited".to_owned())
    });
    let bump = json!({"name": "bump", "input": 7, "update_id": "late", "wait_ms": 60_000});
    let update = {
        let (url, bump) = (host.url.clone(), bump.clone());
        std::thread::spawn(move || {
            let resp = weft_e2e::http()
                .post(format!("{url}/v1/executions/carry/updates"))
                .json(&bump)
                .send()
                .expect("update");
            resp.status().as_u16()
        })
    };
    host.wait_for_log("paused at update-before-accept", 1, WAIT);
    signal(&host, "carry", json!(1));
    host.wait_for_log("paused at continue-as-new-before-commit", 1, WAIT);
    host.release("update-before-accept");
    host.release("continue-as-new-before-commit");
    assert_eq!(update.join().expect("the update call"), 200);
    assert_eq!(host.wait_result("carry")["output"], 7);
    let second = host.get("/v1/executions/carry/history?run=2")["events"][0]["index"].clone();
    let (status, v) = host.call(
        "POST",
        "/v1/executions/carry/reset",
        Some(json!({"to_event": second, "reason": "again"})),
    );
    assert_eq!(status, 200, "{v}");
    let (status, v) = host.call("GET", "/v1/executions/carry/updates/late", None);
    assert_eq!(status, 409, "{v}");
    let (status, v) = host.call("POST", "/v1/executions/carry/updates", Some(bump));
    assert_eq!(status, 200, "sent again: {v}");
    assert_eq!(v["output"], 7, "{v}");
    assert_eq!(host.wait_result("carry")["output"], 7);
}

/// Found by a review of the first fix here: any signal recorded while the
/// run returned refused its end and loaded it again, one the code never
/// asks for too (a steady stream of those kept a run from ever ending, a
/// whole replay each time), and so did any other event (a timer, an
/// activity left behind). Now only a signal of a name the code asked for
/// refuses the end: the run ends on its first load.
#[test]
fn a_signal_the_code_never_asks_for_does_not_hold_its_end() {
    let host = Host::paused_at(&[], &["close-before-write"]);
    host.deploy_examples_and_corners();
    host.start_corners("other", json!({"mode": "drain", "timeout_ms": 0}));
    host.wait_for_log("paused at close-before-write", 1, WAIT);
    let loaded = host.metric("weft_instances_loaded_total");
    let (status, v) = host.call(
        "POST",
        "/v1/executions/other/signals",
        Some(json!({"name": "unheard", "input": 1})),
    );
    assert_eq!(status, 202, "{v}");
    host.release("close-before-write");
    let r = host.wait_result("other");
    assert_eq!(r["output"], json!(["next run"]), "{r}");
    assert_eq!(
        host.metric("weft_instances_loaded_total"),
        loaded,
        "the run ended without another load"
    );
}

/// A reset retried after its answer was lost reset the execution a second
/// time, discarding what the re-run had done since (its activities ran
/// again). With a `request_id` a reset is done once: the retry is answered
/// with the first one's report, marked `duplicate`; from the CLI too.
#[test]
fn a_reset_sent_again_with_its_request_id_is_done_once() {
    let host = Host::start();
    host.deploy_examples();
    host.start_as(
        "subscription",
        "sub-x",
        json!({"customer": "ada", "plan": "basic"}),
    );
    host.eventually("the month's timer", |h| {
        h.event_kinds("sub-x").iter().any(|k| k == "timer_started")
    });
    let to_event = host.event_kinds("sub-x").len() - 1;
    let (status, v) = host.call(
        "POST",
        "/v1/executions/sub-x/signals",
        Some(json!({"name": "change-plan", "input": "pro"})),
    );
    assert_eq!(status, 202, "{v}");
    host.eventually("the plan changed", |h| {
        h.query("sub-x", "status")["plan"] == "pro"
    });
    let body = json!({"to_event": to_event, "reason": "test", "request_id": "reset-1"});
    let (status, first) = host.call("POST", "/v1/executions/sub-x/reset", Some(body.clone()));
    assert_eq!(status, 200, "{first}");
    assert_eq!(first.get("duplicate"), None, "{first}");
    host.eventually("the re-run took the signal again", |h| {
        h.query("sub-x", "status")["plan"] == "pro"
    });
    let (status, again) = host.call("POST", "/v1/executions/sub-x/reset", Some(body));
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["discarded"], first["discarded"], "{again}");
    let out = host.cli_ok(&[
        "reset",
        "sub-x",
        "--to-event",
        &to_event.to_string(),
        "--request-id",
        "reset-1",
    ]);
    assert!(out.contains("already"), "{out}");
    let resets = host
        .event_kinds("sub-x")
        .iter()
        .filter(|k| *k == "execution_reset")
        .count();
    assert_eq!(resets, 1, "reset once");
    // A later reset that discards the first one's event: the first, asked
    // again, is still not done again.
    let (status, v) = host.call(
        "POST",
        "/v1/executions/sub-x/reset",
        Some(json!({"to_event": to_event - 1, "reason": "earlier", "request_id": "reset-2"})),
    );
    assert_eq!(status, 200, "{v}");
    let body = json!({"to_event": to_event, "reason": "test", "request_id": "reset-1"});
    let (status, again) = host.call("POST", "/v1/executions/sub-x/reset", Some(body));
    assert_eq!(
        (status, &again["duplicate"]),
        (200, &json!(true)),
        "{again}"
    );
    let resets = host
        .event_kinds("sub-x")
        .iter()
        .filter(|k| *k == "execution_reset")
        .count();
    assert_eq!(resets, 1, "the second reset's event only");
}

/// Found by a review of the reset paths: a reset refused a write only
/// when the history's length had changed since it read it, and a reset to
/// the event before the last leaves the length as it was (one event
/// discarded, one `execution_reset` written). Two tries of one reset (a
/// client's retry, the same request id), both held after their replay
/// check, both reset the execution: two epochs, both answered as the first.
/// The second finds the first and answers `duplicate`.
#[test]
fn a_reset_and_its_retry_racing_to_a_point_that_keeps_the_length_reset_once() {
    let host = Host::paused_at(&["--manual-clock"], &["reset-replayed"]);
    host.deploy_examples();
    let id = host.start_execution("misbehave", json!({"mode": "sleep"}));
    host.eventually("the nap's timer", |h| {
        h.event_kinds(&id).iter().any(|k| k == "timer_started")
    });
    host.cli_ok(&["terminate", &id]);
    assert_eq!(host.wait_result(&id)["status"], "terminated");
    // Before the last event: the termination is discarded, the reset's
    // own event takes its place.
    let to_event = host.event_kinds(&id).len() - 2;
    let reset = || {
        let url = format!("{}/v1/executions/{id}/reset", host.url);
        let body = json!({"to_event": to_event, "reason": "again", "request_id": "r-1"});
        std::thread::spawn(move || {
            let resp = weft_e2e::http()
                .post(url)
                .json(&body)
                .send()
                .expect("the reset");
            (
                resp.status().as_u16(),
                resp.json::<Value>().unwrap_or_default(),
            )
        })
    };
    let (first, second) = (reset(), reset());
    host.wait_for_log("paused at reset-replayed", 2, Duration::from_secs(30));
    host.release("reset-replayed");
    let answers = [
        first.join().expect("a reset"),
        second.join().expect("a reset"),
    ];
    for (status, v) in &answers {
        assert_eq!(*status, 200, "{v}");
    }
    let duplicates = answers
        .iter()
        .filter(|(_, v)| v["duplicate"] == true)
        .count();
    assert_eq!(
        duplicates, 1,
        "one reset, one retry answered as it: {answers:?}"
    );
    let resets = host
        .event_kinds(&id)
        .iter()
        .filter(|k| *k == "execution_reset")
        .count();
    assert_eq!(resets, 1, "{:?}", host.event_kinds(&id));
    assert_eq!(host.describe(&id)["status"], "running");
}

/// A terminate or a cancel sent again with its request id (its first
/// answer lost) after the first ended the execution and a start reused the
/// id: answered as done already, and the new execution runs on. Without an
/// id the retry ended the new one (a signal it had accepted was lost).
#[test]
fn a_terminate_or_cancel_sent_again_with_its_request_id_leaves_the_next_execution_alone() {
    let host = Host::start();
    host.deploy_examples();
    for (action, ended) in [("terminate", "terminated"), ("cancel", "cancelled")] {
        let id = format!("again-{action}");
        host.start_as("misbehave", &id, json!({"mode": "sleep"}));
        let path = format!("/v1/executions/{id}/{action}");
        let body = json!({"reason": "first", "request_id": "end-1"});
        let (status, first) = host.call("POST", &path, Some(body.clone()));
        assert!((200..300).contains(&status), "{action}: {first}");
        assert_eq!(first["duplicate"], false, "{action}: {first}");
        assert_eq!(host.wait_result(&id)["status"], ended);
        host.start_as("misbehave", &id, json!({"mode": "sleep"}));
        let (status, again) = host.call("POST", &path, Some(body));
        assert!((200..300).contains(&status), "{action} again: {again}");
        assert_eq!(again["duplicate"], true, "{action} again: {again}");
        let out = host.cli_ok(&[action, &id, "--request-id", "end-1"]);
        assert!(out.contains("already"), "{out}");
        assert_eq!(host.describe(&id)["status"], "running", "{action}");
        // Another request id acts on the new execution.
        host.cli_ok(&[action, &id, "--request-id", "end-2"]);
        assert_eq!(host.wait_result(&id)["status"], ended);
    }
}

/// A cancel with a request id that finds a cancellation asked already (by
/// a request without one; the run's close held before its write) records
/// its id all the same: its retry, after the run ended and a start reused
/// the id, is answered as done and leaves the new execution alone.
#[test]
fn a_cancel_with_a_request_id_that_found_one_asked_already_is_done_once() {
    let host = Host::paused_at(&["--manual-clock"], &["close-before-write"]);
    host.deploy_examples();
    let id = "asked-twice";
    host.start_as("misbehave", id, json!({"mode": "sleep"}));
    host.cli_ok(&["cancel", id]);
    host.wait_for_log("paused at close-before-write", 1, Duration::from_secs(30));
    let path = format!("/v1/executions/{id}/cancel");
    let body = json!({"request_id": "c-1"});
    let (status, first) = host.call("POST", &path, Some(body.clone()));
    assert_eq!(
        (status, &first["duplicate"]),
        (202, &json!(false)),
        "{first}"
    );
    host.release("close-before-write");
    assert_eq!(host.wait_result(id)["status"], "cancelled");
    host.start_as("misbehave", id, json!({"mode": "sleep"}));
    let (status, again) = host.call("POST", &path, Some(body));
    assert_eq!(
        (status, &again["duplicate"]),
        (202, &json!(true)),
        "{again}"
    );
    assert_eq!(host.describe(id)["status"], "running");
}

/// Found by a review of the reset path: after a reset's write, the
/// instance in memory still held the discarded history until the reset had
/// done its other work (children, timers, activities), and a query in that
/// window answered from it: a plan change the reset had discarded. The
/// instance is told to load again as soon as the write is made.
#[test]
fn a_query_right_after_a_reset_answers_from_the_kept_history() {
    let host = Host::paused_at(&[], &["reset-written"]);
    host.deploy_examples();
    host.start_as(
        "subscription",
        "sub-q",
        json!({"customer": "ada", "plan": "basic"}),
    );
    host.eventually("the month's timer", |h| {
        h.event_kinds("sub-q").iter().any(|k| k == "timer_started")
    });
    let before_change = host.event_kinds("sub-q").len() - 1;
    let (status, v) = host.call(
        "POST",
        "/v1/executions/sub-q/signals",
        Some(json!({"name": "change-plan", "input": "pro"})),
    );
    assert_eq!(status, 202, "{v}");
    host.eventually("the plan changed", |h| {
        h.query("sub-q", "status")["plan"] == "pro"
    });
    std::thread::scope(|s| {
        let reset = s.spawn(|| {
            host.call(
                "POST",
                "/v1/executions/sub-q/reset",
                Some(json!({"to_event": before_change, "reason": "wrong plan",
                            "exclude_signals": true})),
            )
        });
        host.wait_for_log("paused at reset-written", 1, WAIT);
        let status = host.query("sub-q", "status");
        host.release("reset-written");
        let (code, v) = reset.join().expect("the reset");
        assert_eq!(code, 200, "{v}");
        assert_eq!(
            status["plan"], "basic",
            "answered from the discarded history: {status}"
        );
    });
}
