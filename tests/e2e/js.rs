//! JavaScript guests (guest-sdk/js, built with componentize-js) next to Rust ones:
//! the trip saga in JS calling the Rust activities, a JS parent running a Rust
//! child and a JS activity, a Rust workflow calling JS activities. Each
//! survives a SIGKILL and replays exactly, `Math.random` and `Date.now`
//! included. Time is skipped, never slept.

use std::time::Duration;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{guest, Host};

/// JS components are ~12 MB (the JS engine is inside): deploy only what a
/// test needs.
fn deploy(host: &Host, names: &[&str]) {
    for name in names {
        host.cli_ok(&["deploy", &guest(name).to_string_lossy()]);
    }
}

fn count(host: &Host, id: &str, kind: &str) -> usize {
    host.event_kinds(id).iter().filter(|k| *k == kind).count()
}

/// The `(name, input)` of each `activity_scheduled` event, in order.
fn scheduled(host: &Host, id: &str) -> Vec<(String, String)> {
    host.get(&format!("/v1/executions/{id}/history"))["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "activity_scheduled")
        .map(|e| {
            (
                e["event"]["name"].as_str().unwrap_or_default().to_owned(),
                e["event"]["input"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_js_trip_saga_books_or_compensates_across_a_sigkill() {
    let mut host = Host::start();
    deploy(
        &host,
        &["hello-activities", "trip-booking", "js-trip-booking"],
    );

    let ok = host.start_execution("js-trip-booking", json!({"traveller": "grace"}));
    let r = host.wait_result(&ok);
    assert_eq!(r["status"], "completed", "{r}");
    let refs = r["output"].as_array().unwrap();
    assert_eq!(refs.len(), 3, "{r}");
    assert_eq!(refs[0], format!("flight-grace-{ok}-1"), "{r}");
    assert_eq!(refs[2], format!("car-grace-{ok}-3"), "{r}");

    // The same failing trip in Rust and in JS records the same steps with
    // byte-identical activity inputs: the SDKs encode payloads alike.
    let trip = json!({"traveller": "ada", "car": "unavailable"});
    let rust = host.start_execution("trip-booking", trip.clone());
    let js = host.start_execution("js-trip-booking", trip);
    let (rust_r, js_r) = (host.wait_result(&rust), host.wait_result(&js));
    assert_eq!(js_r["status"], "failed", "{js_r}");
    assert_eq!(js_r["failure"], rust_r["failure"], "the same failure");
    let (rust_s, js_s) = (scheduled(&host, &rust), scheduled(&host, &js));
    let names = |s: &[(String, String)]| s.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&js_s), names(&rust_s));
    assert_eq!(js_s[..3], rust_s[..3], "book_* inputs, byte for byte");

    // Killed while the hotel's cancellation runs: the JS workflow replays and
    // finishes compensating, each compensation recorded once.
    let id = host.start_execution(
        "js-trip-booking",
        json!({"traveller": "ada", "car": "unavailable", "compensation_delay_ms": 700}),
    );
    host.wait_for_log(
        &format!("activity started execution={id} activity=cancel_hotel"),
        1,
        Duration::from_secs(60),
    );
    host.kill_and_restart();
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["failure"]["kind"], "NoCar", "the original error: {r}");
    assert_eq!(r["failure"]["non_retryable"], true, "{r}");
    assert_eq!(
        names(&scheduled(&host, &id)),
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
    let done = host.log();
    assert_eq!(
        done.matches(&format!("effect key={id}/5 activity=cancel_flight"))
            .count(),
        1,
        "the flight is cancelled once"
    );
}

#[test]
fn a_js_parent_runs_a_rust_child_and_replays_exactly_after_a_sigkill() {
    let mut host = Host::start();
    deploy(
        &host,
        &["hello", "hello-activities", "js-activities", "js-parent"],
    );
    let id = "js-parent-1";
    let (code, v) = host.call(
        "POST",
        "/v1/executions",
        Some(
            json!({"workflow_type": "js-parent", "id": id, "input": {"name": "ada", "wait": "1h"}}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    host.eventually("the child and the JS activity, then the timer", |h| {
        count(h, id, "timer_started") == 1
    });
    let child = format!("{id}-1");
    assert_eq!(host.result_now(&child)["output"], "HELLO, ADA!");

    // A signal, an accepted update and a rejected one (which leaves no trace).
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/signals"),
        Some(json!({"name": "poke", "input": "bob"})),
    );
    assert_eq!(code, 202, "{v}");
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/updates"),
        Some(json!({"name": "add-note", "input": "first"})),
    );
    assert_eq!((code, v["output"].clone()), (200, json!(1)), "{v}");
    let before_reject = host.event_kinds(id);
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/updates"),
        Some(json!({"name": "add-note", "input": ""})),
    );
    assert_eq!(code, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("non-empty"),
        "{v}"
    );
    assert_eq!(host.event_kinds(id), before_reject, "nothing recorded");

    // What the run drew from Math.random, Date.now and crypto.randomUUID
    // before the wait, as the live instance holds it.
    let status = host.query(id, "status");
    assert_eq!(status["phase"], "waiting", "{status}");
    assert_eq!(status["pokes"], 1, "{status}");
    let before = status["before"].clone();
    assert!(before["random"].as_f64().is_some(), "{status}");
    let started = host.describe(id)["created_at_ms"].as_u64().unwrap();
    assert_eq!(before["now"], started, "Date.now() is workflow time");

    // SIGKILL mid-execution: the restarted host replays the JS workflow from
    // its history; a replay computes the same values.
    host.kill_and_restart();
    let replayed = host.query(id, "status");
    assert_eq!(
        replayed["before"], before,
        "the replay draws the same values"
    );
    assert_eq!(replayed["notes"], json!(["first"]), "{replayed}");

    host.advance(3_600_000);
    let r = host.wait_result(id);
    assert_eq!(r["status"], "completed", "{r}");
    let out = &r["output"];
    assert_eq!(out["greeting"], "HELLO, ADA!", "{r}");
    assert_eq!(out["backwards"], "ada", "{r}");
    assert_eq!(out["pokes"], 1, "{r}");
    assert_eq!(out["notes"], json!(["first"]), "{r}");
    assert_eq!(out["before"], before, "{r}");
    assert_eq!(out["started_at_ms"], started, "{r}");
    let after = out["after"]["now"].as_u64().unwrap();
    assert!(after >= started + 3_600_000, "{r}");
    assert_ne!(out["after"]["random"], before["random"], "{r}");

    let d = host.describe(id);
    let children = d["children"].as_array().unwrap();
    assert_eq!(children.len(), 1, "{d}");
    assert_eq!(children[0]["workflow_type"], "hello", "{d}");
    assert_eq!(children[0]["status"], "completed", "{d}");

    // Closed: replayed to its end on a fresh instance, answered from the
    // final state, with the same draws again.
    let last = host.query(id, "status");
    assert_eq!(last["phase"], "done", "{last}");
    assert_eq!(last["before"], before, "{last}");
}

#[test]
fn a_rust_workflow_calls_js_activities() {
    let host = Host::start();
    deploy(&host, &["polling", "js-activities"]);
    let call = |activity: &str, args: Value| {
        let id = host.start_execution(
            "polling",
            json!({"mode": "call", "activity": activity, "args": args}),
        );
        (id.clone(), host.wait_result(&id))
    };

    let (id, r) = call("js_reverse", json!("hello"));
    assert_eq!(r["output"], "olleh", "{r}");
    host.wait_for_log(
        &format!("effect key={id}/1 activity=js_reverse attempt=1 output=olleh"),
        1,
        Duration::from_secs(10),
    );

    let (_, r) = call("js_stats", json!({"text": "one two  three"}));
    assert_eq!(r["output"], json!({"words": 3, "chars": 14}), "{r}");

    let (_, r) = call("js_count", json!({"to": 5}));
    assert_eq!(r["output"], json!({"counted": 5, "attempt": 1}), "{r}");

    // A thrown Failure is the WIT failure, details and all.
    let (_, r) = call("js_flaky", json!({"fatal": true}));
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(
        r["failure"],
        json!({"kind": "Fatal", "message": "asked to fail for good", "details": {"attempt": 1}, "non_retryable": true}),
        "{r}"
    );
    let (_, r) = call("js_reverse", json!(42));
    assert_eq!(r["failure"]["kind"], "InvalidInput", "{r}");
}

/// The TypeScript twins (examples/ts: type-checked, bundled, built as
/// JavaScript) record exactly what the JavaScript examples do: the same
/// failing trip schedules byte-identical activity inputs and ends with the
/// same failure, and the typed activities answer a Rust workflow.
#[test]
fn the_typescript_twins_do_what_the_javascript_examples_do() {
    let host = Host::start();
    deploy(
        &host,
        &[
            "hello-activities",
            "js-trip-booking",
            "ts-trip-booking",
            "polling",
            "ts-activities",
        ],
    );
    let ok = host.start_execution("ts-trip-booking", json!({"traveller": "grace"}));
    let r = host.wait_result(&ok);
    assert_eq!(r["output"][0], format!("flight-grace-{ok}-1"), "{r}");

    let trip = json!({"traveller": "ada", "car": "unavailable"});
    let js = host.start_execution("js-trip-booking", trip.clone());
    let ts = host.start_execution("ts-trip-booking", trip);
    let (js_r, ts_r) = (host.wait_result(&js), host.wait_result(&ts));
    assert_eq!(ts_r["status"], "failed", "{ts_r}");
    assert_eq!(ts_r["failure"], js_r["failure"], "the same failure");
    // Byte for byte, but for the references, which carry the execution id.
    let same = |id: &str| {
        scheduled(&host, id)
            .into_iter()
            .map(|(name, input)| (name, input.replace(id, "ID")))
            .collect::<Vec<_>>()
    };
    assert_eq!(same(&ts), same(&js), "the same steps, byte for byte");
    host.assert_replays(&ts, "ts-trip-booking");

    let call = |activity: &str, args: Value| {
        let id = host.start_execution(
            "polling",
            json!({"mode": "call", "activity": activity, "args": args}),
        );
        host.wait_result(&id)
    };
    assert_eq!(call("ts_reverse", json!("hello"))["output"], "olleh");
    assert_eq!(
        call("ts_stats", json!({"text": "one two  three"}))["output"],
        json!({"words": 3, "chars": 14})
    );
    let r = call("ts_flaky", json!({"fatal": true}));
    assert_eq!(
        r["failure"],
        json!({"kind": "Fatal", "message": "asked to fail for good", "details": {"attempt": 1}, "non_retryable": true}),
        "{r}"
    );
}
