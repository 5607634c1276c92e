//! Workflows as actors: signals, queries and updates against a real host,
//! across SIGKILLs, evictions and completion. Time is skipped, never slept.

use std::time::Duration;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::Host;

const DAY: u64 = 24 * 3_600_000;

fn subscribe(host: &Host, id: &str) {
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "subscription", "id": id, "input": {"customer": "ada", "plan": "basic"}})),
    );
    assert_eq!(status, 201, "{v}");
}

fn status(host: &Host, id: &str) -> Value {
    host.query(id, "status")
}

fn signal(host: &Host, id: &str, name: &str, input: Value) -> (u16, Value) {
    host.send_signal(id, name, input)
}

fn count(host: &Host, id: &str, kind: &str) -> usize {
    host.event_kinds(id).iter().filter(|k| *k == kind).count()
}

#[test]
fn signals_arrive_in_order_and_none_is_lost_across_a_sigkill() {
    let mut host = Host::start();
    host.deploy_examples();
    subscribe(&host, "sub-1");
    for plan in ["pro", "basic", "pro"] {
        let (code, v) = signal(&host, "sub-1", "change-plan", json!(plan));
        assert_eq!(code, 202, "{v}");
    }
    host.eventually("three plan changes", |h| {
        status(h, "sub-1")["plan_changes"] == 3
    });
    assert_eq!(
        status(&host, "sub-1")["plan"],
        "pro",
        "the last signal wins"
    );

    // Recorded when the call returns: a SIGKILL right after loses nothing.
    let out = host.cli_ok(&["signal", "sub-1", "change-plan", "--input", "\"basic\""]);
    assert!(out.contains("recorded as event"), "{out}");
    host.kill_and_restart();
    host.eventually("the fourth change after the restart", |h| {
        status(h, "sub-1")["plan_changes"] == 4
    });
    let s = status(&host, "sub-1");
    assert_eq!(s["plan"], "basic", "{s}");
    assert_eq!(count(&host, "sub-1", "signal_received"), 4);

    // A name the workflow does not declare: recorded, and answered so
    // (issue 16: it answered 404 while the history kept it), with a
    // warning naming the names it declares.
    let (code, v) = signal(&host, "sub-1", "refund", json!(10));
    assert_eq!(code, 202, "{v}");
    let warning = v["warning"].as_str().unwrap_or_default();
    assert!(
        warning.contains("change-plan") && warning.contains("kept"),
        "{v}"
    );
    assert_eq!(count(&host, "sub-1", "signal_received"), 5);
    let out = host.cli(&["signal", "sub-1", "refund", "--input", "11"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a retrying script sends it once"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning:") && err.contains("refund"), "{err}");
    assert_eq!(count(&host, "sub-1", "signal_received"), 6);

    // A month later the current plan is billed.
    host.advance(30 * DAY);
    host.eventually("the first bill", |h| {
        status(h, "sub-1")["months_billed"] == 1
    });
    let s = status(&host, "sub-1");
    assert_eq!(s["invoices"][0]["amount_cents"], 1000, "{s}");
    assert_eq!(s["invoices"][0]["plan"], "basic", "{s}");
}

#[test]
fn queries_answer_from_cached_evicted_and_closed_executions() {
    let host = Host::with_args(&["--manual-clock", "--evict-after-ms", "0"]);
    host.deploy_examples();
    subscribe(&host, "sub-2");
    signal(&host, "sub-2", "change-plan", json!("pro"));
    host.eventually("the execution to be evicted after the signal", |h| {
        h.describe("sub-2")["cached"] == false && count(h, "sub-2", "signal_awaited") == 2
    });
    // Evicted: the host replays it to answer.
    let s = status(&host, "sub-2");
    assert_eq!(s["plan"], "pro", "{s}");
    assert_eq!(s["active"], true);
    let history_before = host.event_kinds("sub-2").len();
    let out = host.cli_ok(&["query", "sub-2", "status"]);
    assert!(out.contains("\"plan\":\"pro\""), "{out}");
    assert_eq!(
        host.event_kinds("sub-2").len(),
        history_before,
        "queries are never recorded"
    );

    // Closed: answered from the final state.
    let (code, v) = host.call(
        "POST",
        "/v1/executions/sub-2/updates",
        Some(json!({"name": "cancel", "input": {"reason": "moving"}})),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(host.wait_result("sub-2")["status"], "completed");
    let s = status(&host, "sub-2");
    assert_eq!(s["active"], false, "{s}");
    assert_eq!(s["plan"], "pro", "{s}");

    let (code, v) = host.call(
        "POST",
        "/v1/executions/sub-2/queries",
        Some(json!({"name": "nope"})),
    );
    assert_eq!(code, 404, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("status"),
        "{v}"
    );
}

/// An update accepted, whose handler then stalled its execution (here:
/// the charge it starts is over the host's payload limit), is answered
/// `accepted`, to its call and to a retry: it runs once the execution is
/// repaired. It was answered 409 "stalled and did not finish", which a
/// client takes for "not applied", and sends again under a new id.
#[test]
fn an_update_whose_handler_stalled_its_execution_is_accepted_and_runs_after_the_repair() {
    let mut host = Host::with_args(&["--manual-clock", "--max-payload-kb", "1"]);
    host.deploy_examples();
    let id = host.start_execution("subscription", json!({"customer": "ann", "plan": "basic"}));
    let send = |host: &Host| {
        host.call(
            "POST",
            &format!("/v1/executions/{id}/updates"),
            Some(json!({
                "name": "cancel",
                "input": {"reason": "r".repeat(960)},
                "update_id": "c1",
                "wait_ms": 200,
            })),
        )
    };
    let (code, v) = send(&host);
    assert_eq!(host.wait_result(&id)["status"], "stalled");
    assert_eq!((code, v["status"].as_str()), (200, Some("accepted")), "{v}");
    let (code, v) = send(&host);
    assert_eq!(
        (code, v["status"].as_str()),
        (200, Some("accepted")),
        "the retry: {v}"
    );
    // The repair: a host with room for the charge, the execution run again
    // from where it stopped.
    host.set_args(&["--manual-clock"]);
    host.kill_and_restart();
    let last = (host.event_kinds(&id).len() - 1).to_string();
    host.cli_ok(&["reset", &id, "--to-event", &last]);
    let (code, v) = host.call(
        "GET",
        &format!("/v1/executions/{id}/updates/c1?wait=true"),
        None,
    );
    assert_eq!(
        (code, v["status"].as_str()),
        (200, Some("completed")),
        "{v}"
    );
    assert_eq!(
        host.wait_result(&id)["output"]["invoices"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// An update accepted whose execution then ended (terminated) while its
/// handler ran is answered so, not as one a continue-as-new left behind
/// (that answer said it never runs and to send it under a new id, though a
/// reset to before the end runs it: applied twice).
#[test]
fn an_update_whose_execution_was_terminated_says_so() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("subscription", json!({"customer": "bo", "plan": "basic"}));
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/updates"),
        Some(json!({
            "name": "cancel",
            "input": {"reason": "moving", "processing_ms": 60_000},
            "update_id": "c1",
            "wait_ms": 0,
        })),
    );
    assert_eq!((code, v["status"].as_str()), (200, Some("accepted")), "{v}");
    host.eventually("the handler's charge to start", |h| {
        h.event_kinds(&id).iter().any(|k| k == "activity_scheduled")
    });
    host.cli_ok(&["terminate", &id]);
    let (code, v) = host.call("GET", &format!("/v1/executions/{id}/updates/c1"), None);
    assert_eq!(code, 409, "{v}");
    let said = v["error"]["message"].as_str().unwrap_or_default();
    assert!(said.contains("terminated"), "{said}");
    assert!(!said.contains("continued as new"), "{said}");
}

#[test]
fn a_query_that_misbehaves_fails_alone() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("misbehave", json!({"mode": "sleep"}));
    host.eventually("the timer", |h| count(h, &id, "timer_started") == 1);
    assert_eq!(host.describe(&id)["cached"], true);

    let ask = |name: &str| {
        host.call(
            "POST",
            &format!("/v1/executions/{id}/queries"),
            Some(json!({"name": name})),
        )
    };
    let (code, v) = ask("sneaky");
    assert_eq!(code, 422, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only"),
        "{v}"
    );
    let (code, v) = ask("crash");
    assert_eq!(code, 422, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("crashes"),
        "{v}"
    );
    let (code, v) = ask("mode");
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["output"], "misbehave");

    // The workflow never noticed.
    assert_eq!(host.result_now(&id)["status"], "running");
    assert_eq!(count(&host, &id, "timer_started"), 1);
    host.advance(60_000);
    assert_eq!(host.wait_result(&id)["output"], "slept");
}

#[test]
fn an_accepted_update_completes_after_a_sigkill() {
    let mut host = Host::start();
    host.deploy_examples();
    subscribe(&host, "sub-3");
    host.eventually("the timer", |h| count(h, "sub-3", "timer_started") == 1);

    // The final charge takes a while; the host dies once the update is accepted.
    let out = host.cli(&[
        "update",
        "sub-3",
        "cancel",
        "--input",
        r#"{"reason": "moving", "processing_ms": 1500}"#,
        "--update-id",
        "cancel-1",
        "--no-wait",
    ]);
    assert_eq!(out.status.code(), Some(3), "accepted, still running");
    host.wait_for_log("activity started", 1, Duration::from_secs(30));
    assert_eq!(count(&host, "sub-3", "update_accepted"), 1);
    host.kill_and_restart();

    let out = host.cli_ok(&["update-result", "sub-3", "cancel-1", "--wait"]);
    let invoice: Value = weft_e2e::serde_json::from_str(out.trim()).unwrap();
    assert!(
        invoice["reason"].as_str().unwrap().contains("moving"),
        "{invoice}"
    );
    let r = host.wait_result("sub-3");
    assert_eq!(r["output"]["active"], false, "{r}");
    assert_eq!(count(&host, "sub-3", "update_completed"), 1);

    // The same update id again: applied once, the same result.
    let (code, v) = host.call(
        "POST",
        "/v1/executions/sub-3/updates",
        Some(json!({"name": "cancel", "input": {"reason": "again"}, "update_id": "cancel-1"})),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["output"], invoice, "{v}");
    assert_eq!(count(&host, "sub-3", "update_accepted"), 1);
}

#[test]
fn a_rejected_update_leaves_no_trace_and_an_update_id_applies_once() {
    let host = Host::start();
    host.deploy_examples();
    subscribe(&host, "sub-4");
    host.eventually("the timer", |h| count(h, "sub-4", "timer_started") == 1);
    let before = host.event_kinds("sub-4");

    let out = host.cli(&["update", "sub-4", "cancel", "--input", r#"{"reason": " "}"#]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("say why"), "{stderr}");
    let (code, v) = host.call(
        "POST",
        "/v1/executions/sub-4/updates",
        Some(json!({"name": "upgrade-plan", "input": {}})),
    );
    assert_eq!(code, 404, "{v}");
    assert_eq!(
        host.event_kinds("sub-4"),
        before,
        "rejections record nothing"
    );

    // Two concurrent calls with one update id: one update.
    let url = host.url.clone();
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                weft_e2e::output_within(
                    std::process::Command::new(weft_e2e::weft_bin())
                        .args(["update", "sub-4", "cancel", "--update-id", "u-1"])
                        .args(["--input", r#"{"reason": "twice"}"#])
                        .env("WEFT_SERVER", url),
                    weft_e2e::CLI_LIMIT,
                )
            })
        })
        .collect();
    let outputs: Vec<String> = calls
        .into_iter()
        .map(|c| {
            let out = c.join().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect();
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(count(&host, "sub-4", "update_accepted"), 1);
    assert_eq!(count(&host, "sub-4", "update_completed"), 1);
    let r = host.wait_result("sub-4");
    assert_eq!(r["output"]["invoices"].as_array().unwrap().len(), 1, "{r}");
}

#[test]
fn the_approval_select_takes_each_branch() {
    let host = Host::start();
    host.deploy_examples();
    let approved = host.start_execution("approval", json!({}));
    let waiting = host.start_execution("approval", json!({}));
    for id in [&approved, &waiting] {
        host.eventually("the deadline timer", |h| count(h, id, "timer_started") == 1);
    }
    signal(
        &host,
        &approved,
        "decision",
        json!({"approved": true, "by": "grace"}),
    );
    assert_eq!(host.wait_result(&approved)["output"], "approved by grace");

    // Three days less a minute: still waiting; then it times out.
    host.advance(72 * 3_600_000 - 60_000);
    assert_eq!(host.result_now(&waiting)["status"], "running");
    host.advance(60_000);
    assert_eq!(host.wait_result(&waiting)["output"], "timed out");

    // Signal-with-start: starts it, then signals it; a second call only signals.
    let out = host.cli_ok(&[
        "signal",
        "appr-9",
        "decision",
        "--input",
        r#"{"approved": false, "by": "linus"}"#,
        "--start",
        "approval",
        "--start-input",
        "{}",
    ]);
    assert!(out.contains("(started it)"), "{out}");
    assert_eq!(host.wait_result("appr-9")["output"], "rejected by linus");
    let (code, v) = host.call(
        "POST",
        "/v1/signal-with-start",
        Some(
            json!({"workflow_type": "approval", "id": "appr-9", "input": {}, "signal": "decision",
                    "signal_input": {"approved": true, "by": "ada"}}),
        ),
    );
    // The id closed, so (by the default reuse policy) a second run starts.
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["started"], true, "{v}");
    let r = host.wait_result("appr-9");
    assert_eq!(
        r["output"],
        "approved by ada",
        "{r} {:?}",
        host.event_kinds("appr-9")
    );
    assert_eq!(host.describe("appr-9")["run"], 2);
}

/// Found by a review of the client paths: update ids were looked up across
/// every run stored under an execution id, including the runs of an
/// earlier execution that a new start under the same id followed. An
/// update id the earlier execution had completed was answered with its old
/// result and never reached the new execution. Update ids now hold across
/// the runs of one execution (continue-as-new), not across executions.
#[test]
fn an_update_id_of_an_earlier_execution_under_the_same_id_applies_to_the_new_one() {
    let host = Host::start();
    host.deploy_examples();
    let cancel = |reason: &str| {
        let (code, v) = host.call(
            "POST",
            "/v1/executions/sub-5/updates",
            Some(json!({"name": "cancel", "input": {"reason": reason}, "update_id": "end"})),
        );
        assert_eq!(code, 200, "{v}");
        v
    };
    subscribe(&host, "sub-5");
    host.eventually("the timer", |h| count(h, "sub-5", "timer_started") == 1);
    let first = cancel("first");
    assert_eq!(host.wait_result("sub-5")["status"], "completed");
    // The id starts again: a new execution, which the same update id ends.
    subscribe(&host, "sub-5");
    host.eventually("the new run's timer", |h| {
        h.describe("sub-5")["run"] == 2 && count(h, "sub-5", "timer_started") == 1
    });
    let second = cancel("second");
    assert_ne!(second["output"], first["output"], "{second}");
    assert!(
        second["output"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("second"),
        "{second}"
    );
    assert_eq!(host.wait_result("sub-5")["status"], "completed");
    assert_eq!(
        count(&host, "sub-5", "update_completed"),
        1,
        "in the new run"
    );
}

/// A client that sent a signal and lost the answer (a dropped connection,
/// a timeout) sends it again: with its `request_id` the signal is recorded
/// once per execution, and the retry is answered with the first one's
/// event, marked `duplicate`; after a SIGKILL, and from the CLI, too.
/// Without a request id each send is a signal of its own, as before.
#[test]
fn a_signal_sent_again_with_its_request_id_is_recorded_once() {
    let mut host = Host::start();
    host.deploy_examples();
    subscribe(&host, "sub-once");
    host.eventually("the timer", |h| count(h, "sub-once", "timer_started") == 1);
    let send = |host: &Host| {
        host.call(
            "POST",
            "/v1/executions/sub-once/signals",
            Some(json!({"name": "change-plan", "input": "pro", "request_id": "plan-1"})),
        )
    };
    let (code, first) = send(&host);
    assert_eq!(code, 202, "{first}");
    assert_eq!(first.get("duplicate"), None, "{first}");
    let (code, again) = send(&host);
    assert_eq!(code, 202, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["event_index"], first["event_index"], "{again}");
    host.kill_and_restart();
    let (code, again) = send(&host);
    assert_eq!((code, &again["duplicate"]), (202, &json!(true)), "{again}");
    let out = host.cli_ok(&[
        "signal",
        "sub-once",
        "change-plan",
        "--input",
        r#""pro""#,
        "--request-id",
        "plan-1",
    ]);
    assert!(out.contains("already recorded"), "{out}");
    let (code, v) = host.call(
        "POST",
        "/v1/executions/sub-once/signals",
        Some(json!({"name": "change-plan", "input": "basic", "request_id": ""})),
    );
    assert_eq!(code, 400, "an empty request id: {v}");
    assert_eq!(count(&host, "sub-once", "signal_received"), 1);
    host.eventually("the plan changed once", |h| {
        status(h, "sub-once")["plan_changes"] == 1
    });
    let (code, v) = signal(&host, "sub-once", "change-plan", json!("basic"));
    assert_eq!(code, 202, "{v}");
    host.eventually("a signal without an id is its own", |h| {
        status(h, "sub-once")["plan_changes"] == 2
    });
}

/// Found by a review of the stop paths: an update waiting for its result
/// (here its handler waits for an activity) on a host told to stop had its
/// connection cut when the host exited: the update was recorded, but a
/// client that gave no update id never learnt the one made for it, and a
/// retry applied it twice. Waiting requests are answered as they stand when
/// the host stops: the update accepted, with its id.
#[test]
fn an_update_waiting_for_its_result_is_answered_when_its_host_stops() {
    let mut host = Host::paused_at(&["--manual-clock"], &["activity-spawned"]);
    host.deploy_examples();
    subscribe(&host, "sub-stop");
    host.eventually("the subscription waits", |h| {
        count(h, "sub-stop", "timer_started") == 1
    });
    std::thread::scope(|s| {
        let update = s.spawn(|| {
            host.call(
                "POST",
                "/v1/executions/sub-stop/updates",
                Some(json!({"name": "cancel", "input": {"reason": "moving"}, "wait_ms": 60_000})),
            )
        });
        host.wait_for_log("paused at activity-spawned", 1, Duration::from_secs(30));
        host.signal("TERM");
        let (code, v) = update.join().expect("the update's answer");
        assert_eq!(code, 200, "{v}");
        assert_eq!(v["status"], "accepted", "{v}");
        assert!(
            v["update_id"]
                .as_str()
                .is_some_and(|u| u.starts_with("upd_")),
            "{v}"
        );
    });
    assert_eq!(host.wait_exit(Duration::from_secs(30)), Some(0));
}

/// A signal request id names its signal under the execution id for the
/// retention, across the executions started under it: a retry that comes
/// after its execution closed and another started under the id is the
/// same request, answered duplicate, and is not delivered to the new one.
#[test]
fn a_signal_retried_after_its_execution_closed_does_not_reach_the_next_one() {
    let host = Host::start();
    host.deploy_examples();
    let send = || approve_gate(&host);
    host.start_as("approval", "gate", json!({}));
    let (code, first) = send();
    assert_eq!(code, 202, "{first}");
    assert_eq!(host.wait_result("gate")["output"], "approved by ada");
    host.start_as("approval", "gate", json!({}));
    host.eventually("the next execution waits", |h| {
        count(h, "gate", "timer_started") == 1
    });
    let (code, again) = send();
    assert_eq!(
        (code, &again["duplicate"], &again["event_index"]),
        (202, &json!(true), &first["event_index"]),
        "{again}"
    );
    assert_eq!(count(&host, "gate", "signal_received"), 0);
    assert_eq!(host.describe("gate")["status"], "running");
}

/// Found by a review of retried requests: a signal sent again with its
/// request id after its first send was recorded and ended the workflow
/// (the first answer lost) was answered 409 "signals go to running
/// executions", which a client takes as "never recorded". It is the same
/// request: answered duplicate, with the first record.
#[test]
fn a_signal_retried_after_it_closed_its_execution_is_answered_duplicate() {
    let host = Host::start();
    host.deploy_examples();
    let send = || approve_gate(&host);
    host.start_as("approval", "gate", json!({}));
    let (code, first) = send();
    assert_eq!(code, 202, "{first}");
    assert_eq!(host.wait_result("gate")["output"], "approved by ada");
    let (code, again) = send();
    assert_eq!(
        (code, &again["duplicate"], &again["event_index"]),
        (202, &json!(true), &first["event_index"]),
        "{again}"
    );
    assert_eq!(count(&host, "gate", "signal_received"), 1);
    // Another request to the closed execution is still refused.
    let (code, v) = host.call(
        "POST",
        "/v1/executions/gate/signals",
        Some(
            json!({"name": "decision", "input": {"approved": true, "by": "bob"},
                    "request_id": "decision-2"}),
        ),
    );
    assert_eq!(code, 409, "{v}");
}

/// Found by a review of retried requests: a signal-with-start retried with
/// its signal's request id after the execution it started had closed
/// started another run (the default reuse policy allows a closed id),
/// whose signal was then answered as a duplicate of the first: the new run
/// waited for a signal that never came. A retry whose signal request id is
/// recorded under the id is the same request: it starts nothing.
#[test]
fn a_retried_signal_with_start_starts_nothing_once_its_signal_is_recorded() {
    let host = Host::start();
    host.deploy_examples();
    let send = || approve_with_start(&host, "sws");
    let (code, v) = send();
    assert_eq!(code, 202, "{v}");
    assert_eq!(v["started"], true, "{v}");
    assert_eq!(host.wait_result("sws")["output"], "approved by ada");
    let (code, again) = send();
    assert_eq!(code, 202, "{again}");
    assert_eq!(
        (
            &again["started"],
            &again["duplicate"],
            &again["event_index"]
        ),
        (&json!(false), &json!(true), &v["event_index"]),
        "{again}"
    );
    let d = host.describe("sws");
    assert_eq!(
        (&d["run"], &d["status"]),
        (&json!(1), &json!("completed")),
        "{d}"
    );
}

/// A signal-with-start is one write: a store that could not answer it
/// (a disk error, a cut connection, a holder losing its store) leaves
/// nothing of it. It was two: the execution started, and its signal was
/// not recorded (the answer said so, but a client that did not send it
/// again left the execution waiting for it). Answered as any write the
/// store refused (507, nothing was changed); sent again, it starts the
/// execution with its signal.
#[test]
fn a_signal_with_start_the_store_could_not_write_leaves_nothing_of_it() {
    // The signal's append fails inside the store's write, after the start
    // in the same batch applied.
    let host = Host::with_faults(&["--manual-clock"], &[], &["signal-append"]);
    host.deploy_examples();
    let send = || approve_with_start(&host, "sws-failed");
    let (code, v) = send();
    assert_eq!(code, 507, "{v}");
    let said = v["error"]["message"].as_str().unwrap_or_default();
    assert!(said.contains("nothing was changed"), "{said}");
    let (code, d) = host.call("GET", "/v1/executions/sws-failed", None);
    assert_eq!(code, 404, "nothing was started: {d}");
    let (code, again) = send();
    assert_eq!(code, 202, "{again}");
    assert_eq!(again["started"], true, "{again}");
    assert_eq!(host.wait_result("sws-failed")["output"], "approved by ada");
    assert_eq!(count(&host, "sws-failed", "signal_received"), 1);
}

/// Found by a sweep of the store's failure paths: a query to an evicted
/// execution whose record could not be read (a cut connection, a disk
/// error) was answered 409 "no longer running", which clients take as
/// final. It is answered 503 (try again), and the query after answers.
#[test]
fn a_query_that_could_not_read_its_execution_is_answered_unavailable_not_conflict() {
    let host = Host::with_faults(
        &["--manual-clock", "--evict-after-ms", "0"],
        &[],
        &["wake-read"],
    );
    host.deploy_examples();
    subscribe(&host, "sub-unread");
    host.eventually("the subscription evicted while it waits", |h| {
        let d = h.describe("sub-unread");
        d["cached"] == false && !d["pending_timers"].as_array().unwrap().is_empty()
    });
    let (code, v) = host.call(
        "POST",
        "/v1/executions/sub-unread/queries",
        Some(json!({"name": "status"})),
    );
    assert_eq!(code, 503, "{v}");
    assert_eq!(status(&host, "sub-unread")["plan"], "basic");
}

/// Sends `gate` (an approval) ada's decision under request id `decision-1`.
fn approve_gate(host: &Host) -> (u16, Value) {
    host.call(
        "POST",
        "/v1/executions/gate/signals",
        Some(
            json!({"name": "decision", "input": {"approved": true, "by": "ada"},
                    "request_id": "decision-1"}),
        ),
    )
}

/// Starts approval `id` unless it exists, with ada's decision under request
/// id `d-1` (signal-with-start).
fn approve_with_start(host: &Host, id: &str) -> (u16, Value) {
    host.call(
        "POST",
        "/v1/signal-with-start",
        Some(json!({"workflow_type": "approval", "id": id, "input": {},
                    "signal": "decision", "signal_input": {"approved": true, "by": "ada"},
                    "request_id": "d-1"})),
    )
}
