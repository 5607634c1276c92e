//! The workflow API in each guest language (issue 15): the same scenario
//! in the Rust `corners` fixture, `tests/fixtures/py-api` and
//! `tests/fixtures/js-api`, against a real host with a manual clock; each
//! history replays offline on its module.

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{guest, Host};

const HOUR: u64 = 3_600_000;

/// The three twins: (workflow type, component under target/guests).
const LANGUAGES: &[(&str, &str)] = &[
    ("corners", "corners"),
    ("py-api", "py-api"),
    ("js-api", "js-api"),
];

fn host() -> Host {
    let host = Host::with_args(&["--manual-clock"]);
    host.deploy_examples_and_corners();
    for component in ["py-api", "js-api", "handlers"] {
        host.cli_ok(&["deploy", &guest(component).to_string_lossy()]);
    }
    host
}

fn start(host: &Host, workflow_type: &str, id: &str, input: Value) {
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": workflow_type, "id": id, "input": input})),
    );
    assert_eq!(status, 201, "start {id}: {v}");
}

/// Issue 15, item 1: cancelling a timer recorded `activity_cancel_requested`
/// and left the timer pending; cancelling a child did nothing. Now the
/// timer completes at once with `cancelled` (`timer_cancel_requested`, then
/// `timer_cancelled`, its row gone) and the child is asked to cancel and
/// ends cancelled; a timer that already fired is not cancelled again.
#[test]
fn timers_and_children_are_cancelled_in_every_language() {
    let host = host();
    for (workflow_type, component) in LANGUAGES {
        let id = format!("{workflow_type}-cancels");
        start(&host, workflow_type, &id, json!({"mode": "cancels"}));
        let r = host.wait_result(&id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
        assert_eq!(
            r["output"],
            json!({"timer": "cancelled", "child": "cancelled"}),
            "{id}: {r}"
        );
        let kinds = host.event_kinds(&id);
        for kind in [
            "timer_cancel_requested",
            "timer_cancelled",
            "child_cancel_requested",
        ] {
            assert_eq!(
                kinds.iter().filter(|k| *k == kind).count(),
                1,
                "{id}: {kind} in {kinds:?}"
            );
        }
        assert!(
            !kinds
                .iter()
                .any(|k| k == "activity_cancel_requested" || k == "timer_fired"),
            "{id}: {kinds:?}"
        );
        let child = host.get(&format!("/v1/executions/{id}/history"))["events"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| e["event"]["child_id"].as_str().map(str::to_owned))
            .expect("the child's id");
        assert_eq!(host.describe(&child)["status"], "cancelled", "{child}");
        host.assert_replays(&id, component);

        // The timer fired before the cancel: nothing to cancel.
        let id = format!("{workflow_type}-cancels-late");
        start(
            &host,
            workflow_type,
            &id,
            json!({"mode": "cancels", "runs": 1}),
        );
        host.eventually("the timer is started", |h| {
            h.event_kinds(&id).iter().any(|k| k == "timer_started")
        });
        host.advance(HOUR);
        let r = host.wait_result(&id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
        assert_eq!(
            r["output"],
            json!({"timer": "fired", "child": "cancelled"}),
            "{id}: {r}"
        );
        let kinds = host.event_kinds(&id);
        assert!(
            kinds.iter().any(|k| k == "timer_cancel_requested"),
            "{kinds:?}"
        );
        assert!(!kinds.iter().any(|k| k == "timer_cancelled"), "{kinds:?}");
        host.assert_replays(&id, component);
    }
}

/// Issue 15, item 6: a second child started with the id of a running one
/// must fail at once with `already-started`. Two starts of one id in one
/// task committed the first and recorded the refusal against the first
/// handle, so the second ran under the first's handle. Now the second fails
/// (recorded in the same write) and the first runs; once it closed, the id
/// can be used again.
#[test]
fn a_child_id_in_use_fails_the_start_with_already_started() {
    let host = host();
    start(&host, "corners", "twins", json!({"mode": "twins"}));
    let r = host.wait_result("twins");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], json!([0, "already-started", 0]), "{r}");
    let events = host.get("/v1/executions/twins/history")["events"].clone();
    let refused: Vec<u64> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["failure"]["kind"] == "already-started")
        .map(|e| e["event"]["handle"].as_u64().unwrap())
        .collect();
    assert_eq!(
        refused,
        [2],
        "the second start is the one refused: {events}"
    );
    // `describe` lists the children that started: the refused start is none.
    let children = host.describe("twins")["children"].clone();
    assert_eq!(children.as_array().map(Vec::len), Some(2), "{children}");
    assert_eq!(host.describe("twin")["run"], 2, "the id was used twice");
    host.assert_replays("twins", "corners");
}

/// Issue 15, item 9: the CLI read `--input -6` as a flag (only `--input=-6`
/// worked). A JSON value starting with a dash is taken as the value.
#[test]
fn cli_inputs_may_start_with_a_dash() {
    let host = host();
    host.cli_ok(&[
        "start",
        "corners",
        "--id",
        "dash",
        "--input",
        r#"{"mode": "signals", "runs": 1}"#,
    ]);
    host.cli_ok(&["signal", "dash", "tick", "--input", "-6"]);
    let r = host.wait_result("dash");
    assert_eq!(r["output"], json!([-6]), "{r}");
}

/// The events of run `run` of `id`, each as its kind and, for signal
/// events, the signal's name (`signal_awaited tick`).
fn run_kinds(host: &Host, id: &str, run: u64) -> Vec<String> {
    host.get(&format!("/v1/executions/{id}/history?run={run}"))["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            let kind = e["event"]["type"].as_str().unwrap_or_default();
            match e["event"]["name"].as_str() {
                Some(name) if kind.starts_with("signal_") => format!("{kind} {name}"),
                _ => kind.to_owned(),
            }
        })
        .collect()
}

/// Issue 15, item 5: a workflow could not take the signals waiting without
/// blocking, so it could not hand them over before continuing as new. Now
/// `try_receive` takes each one the task knows and then says none is
/// waiting; both answers are recorded (`signal_awaited`, `signal_polled`)
/// and replay the same.
#[test]
fn try_receive_drains_the_waiting_signals_in_every_language() {
    let host = host();
    for (workflow_type, component) in LANGUAGES {
        let id = format!("{workflow_type}-drain");
        start(
            &host,
            workflow_type,
            &id,
            json!({"mode": "drain", "timeout_ms": HOUR}),
        );
        host.eventually("the first run sleeps", |h| {
            h.event_kinds(&id).iter().any(|k| k == "timer_started")
        });
        for n in 1..=3 {
            let (status, v) = host.call(
                "POST",
                &format!("/v1/executions/{id}/signals"),
                Some(json!({"name": "tick", "input": n})),
            );
            assert_eq!(status, 202, "{id}: {v}");
        }
        host.advance(HOUR);
        let r = host.wait_result(&id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
        assert_eq!(r["output"], json!([1, 2, 3, "next run"]), "{id}: {r}");
        assert_eq!(host.describe(&id)["run"], 2, "{id}");
        let first = run_kinds(&host, &id, 1);
        // Of `tick` (a fixture may arm receives for its signal handlers too).
        let count = |kinds: &[String], kind: &str| {
            kinds
                .iter()
                .filter(|k| k.as_str() == format!("{kind} tick"))
                .count()
        };
        assert_eq!(count(&first, "signal_awaited"), 3, "{id}: {first:?}");
        assert_eq!(count(&first, "signal_polled"), 1, "{id}: {first:?}");
        let second = run_kinds(&host, &id, 2);
        assert_eq!(
            count(&second, "signal_received"),
            0,
            "nothing carried: {second:?}"
        );
        assert_eq!(count(&second, "signal_polled"), 1, "{id}: {second:?}");
        host.assert_replays(&id, component);
    }
}

/// Issue 15, item 4: signals were channels the main flow had to receive.
/// Now a handler runs for each signal of its name, in the order sent, at
/// the main flow's next wait and before it resumes; it may run activities,
/// and while it waits on one no other handler runs (a new user found
/// Python handlers finishing last-first: the next one ran inside the
/// waiting one). Signals sent before the first wait wait for it.
#[test]
fn signal_handlers_run_in_order_and_may_run_activities_in_every_language() {
    let host = host();
    let twins = [
        ("handlers", "handlers"),
        ("py-api", "py-api"),
        ("js-api", "js-api"),
    ];
    for (workflow_type, component) in twins {
        let id = format!("{workflow_type}-handlers");
        start(&host, workflow_type, &id, json!({"mode": "handlers"}));
        for (name, input) in [
            ("add", json!(1)),
            ("hello", json!("ada")),
            ("add", json!(2)),
            ("add", json!(3)),
        ] {
            let (status, v) = host.call(
                "POST",
                &format!("/v1/executions/{id}/signals"),
                Some(json!({"name": name, "input": input})),
            );
            assert_eq!(status, 202, "{id} {name}: {v}");
        }
        let r = host.wait_result(&id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
        assert_eq!(
            r["output"],
            json!({
                "total": 6,
                "greetings": ["Hello, ada"],
                "log": ["add 1", "hello ada", "add 2", "add 3"]
            }),
            "{id}: {r}"
        );
        host.assert_replays(&id, component);
    }
}

/// Issue 15, item 3: a workflow could not signal another execution or its
/// child, nor ask one to cancel. Now each is a recorded request, delivered
/// once after the commit: a signal lands in the target's history, a
/// missing target completes the request with `not-found`, a cancellation
/// request ends the target as cancelled.
#[test]
fn a_workflow_signals_and_cancels_other_executions_in_every_language() {
    let host = host();
    for (workflow_type, component) in LANGUAGES {
        let victim = format!("{workflow_type}-victim");
        start(
            &host,
            "corners",
            &victim,
            json!({"mode": "nap", "timeout_ms": HOUR}),
        );
        let id = format!("{workflow_type}-outbox");
        start(
            &host,
            workflow_type,
            &id,
            json!({"mode": "outbox", "got": [victim]}),
        );
        let r = host.wait_result(&id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
        assert_eq!(
            r["output"],
            json!({"sent": "ok", "child": ["hi"], "nobody": "not-found", "cancel": "ok"}),
            "{id}: {r}"
        );
        assert_eq!(host.wait_result(&victim)["status"], "cancelled", "{victim}");
        let kinds = host.event_kinds(&id);
        let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
        assert_eq!(
            (count("external_sent"), count("external_completed")),
            (3, 3),
            "{kinds:?}"
        );
        host.assert_replays(&id, component);
    }
    // Nothing left to deliver.
    assert!(host.log().matches("request not delivered").count() == 0);
}

/// Found by a sweep of the store's failure paths: a cancellation sent to
/// another execution reads its target first, and a read that failed (a cut
/// connection, a disk error) left the request to the host's next start: the
/// target ran on and the sender waited for the answer. It is delivered once
/// the store answers. The first such read fails.
#[test]
fn a_cancellation_whose_target_could_not_be_read_is_delivered_later() {
    let host = Host::with_faults(&["--manual-clock"], &[], &["deliver-read"]);
    host.deploy_examples_and_corners();
    start(
        &host,
        "corners",
        "target",
        json!({"mode": "nap", "timeout_ms": HOUR}),
    );
    start(
        &host,
        "corners",
        "canceller",
        json!({"mode": "outbox", "got": ["target"]}),
    );
    host.wait_for_log(
        "failing at deliver-read",
        1,
        std::time::Duration::from_secs(30),
    );
    let r = host.wait_result("canceller");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(host.wait_result("target")["status"], "cancelled");
}

/// The request is recorded with the task and delivered after it: a host
/// killed in between delivers it after the restart, once.
#[test]
fn a_signal_to_another_execution_survives_a_sigkill_before_its_delivery() {
    let mut host = Host::paused_at(&["--manual-clock"], &["external-before-delivery"]);
    host.deploy_examples_and_corners();
    start(
        &host,
        "corners",
        "victim",
        json!({"mode": "nap", "timeout_ms": HOUR}),
    );
    start(
        &host,
        "corners",
        "sender",
        json!({"mode": "outbox", "got": ["victim"]}),
    );
    host.wait_for_log(
        "paused at external-before-delivery",
        1,
        std::time::Duration::from_secs(30),
    );
    host.clear_pause_points();
    host.kill_and_restart();
    let r = host.wait_result("sender");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"]["child"], json!(["hi"]), "{r}");
    let child = host.describe("sender")["children"][0]["id"]
        .as_str()
        .expect("the child")
        .to_owned();
    let received = host
        .event_kinds(&child)
        .iter()
        .filter(|k| *k == "signal_received")
        .count();
    assert_eq!(received, 1, "delivered once");
}

/// Issue 15, item 2: a cancelled activity was dropped at once, so one that
/// heartbeats never saw `true` and could not clean up. Now the workflow
/// still unblocks at once, and the attempt runs on for a grace period: it
/// sees the cancellation at its next heartbeat and returns, and
/// `activity_cancel_ended` records that it acknowledged.
#[test]
fn a_cancelled_activity_sees_the_cancellation_at_its_heartbeat() {
    let host = host();
    start(
        &host,
        "corners",
        "poll",
        json!({"mode": "poll-cancel", "timeout_ms": 60_000}),
    );
    host.wait_for_log("activity started", 1, std::time::Duration::from_secs(30));
    host.eventually("the sleep is started", |h| {
        h.event_kinds("poll").iter().any(|k| k == "timer_started")
    });
    host.advance(60_000);
    host.eventually(
        "how the attempt ended is recorded, the second sleep started",
        |h| {
            let kinds = h.event_kinds("poll");
            kinds.iter().any(|k| k == "activity_cancel_ended")
                && kinds.iter().filter(|k| *k == "timer_started").count() == 2
        },
    );
    host.advance(60_000);
    let r = host.wait_result("poll");
    assert_eq!(r["output"], "cancelled", "{r}");
    let history = host.get("/v1/executions/poll/history");
    let activity: Vec<&Value> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["event"]["type"]
                .as_str()
                .unwrap()
                .starts_with("activity_")
        })
        .collect();
    let kinds: Vec<&str> = activity
        .iter()
        .map(|e| e["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "activity_scheduled",
            "activity_cancel_requested",
            "activity_failed",
            "activity_cancel_ended"
        ],
        "failed once (never retried), then how the attempt ended"
    );
    assert_eq!(activity[3]["event"]["ended"], "acknowledged", "{history}");
}

/// Issue 15, item 2: Temporal's cancellation types, chosen per activity and
/// child in every SDK. `wait-cancellation-completed` makes the join wait
/// for the activity's own acknowledgement (its failure, not the host's);
/// `abandon` completes the join at once and leaves the activity untold, to
/// end on its own, which `activity_cancel_ended` records; a `try-cancel`
/// child is asked to cancel while its join completes at once; an `abandon`
/// child is not asked and runs on.
#[test]
fn cancellation_types_decide_what_a_cancel_waits_for_in_every_language() {
    let host = host();
    for (n, (workflow_type, component)) in LANGUAGES.iter().enumerate() {
        let id = format!("{workflow_type}-cancel-types");
        // The abandoned activity is ready after 400 checks (about 2 s).
        start(
            &host,
            workflow_type,
            &id,
            json!({"mode": "cancel-types", "runs": 400}),
        );
        host.eventually("both attempts are running", |h| {
            h.log().matches("activity started").count() >= 2 * (n + 1)
        });
        host.cli_ok(&["signal", &id, "tick", "--input", "1"]);
        host.eventually("the abandoned activity ended on its own", |h| {
            h.event_kinds(&id)
                .iter()
                .any(|k| k == "activity_cancel_ended")
        });
        host.cli_ok(&["signal", &id, "tick", "--input", "2"]);
        let r = host.wait_result(&id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
        assert_eq!(
            r["output"],
            json!({
                // The activity's own failure: the join waited for it.
                "wait": "cancelled: poll_until_ready was cancelled",
                "abandon": "cancelled: activity `poll_until_ready` was cancelled",
                "child_try": format!("cancelled: child {id}-tried was cancelled"),
                "child_abandon": format!("cancelled: child {id}-left was cancelled"),
            }),
            "{id}: {r}"
        );
        let history = host.get(&format!("/v1/executions/{id}/history"));
        let ended: Vec<&Value> = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"]["type"] == "activity_cancel_ended")
            .collect();
        assert_eq!(ended.len(), 1, "{history}");
        assert_eq!(ended[0]["event"]["ended"], "completed", "{history}");
        // Never retried: one attempt each.
        let kinds = host.event_kinds(&id);
        assert!(
            !kinds.iter().any(|k| k == "activity_attempt_failed"),
            "{kinds:?}"
        );
        host.eventually("the try-cancel child ends cancelled", |h| {
            h.describe(&format!("{id}-tried"))["status"] == "cancelled"
        });
        assert_eq!(
            host.describe(&format!("{id}-left"))["status"],
            "running",
            "an abandoned child is not asked to cancel"
        );
        host.assert_replays(&id, component);
    }
}

/// Found by a new user's trial (issue 15, item 2): an abandoned activity's
/// attempt ran on after its run closed (a close stopped only the pending
/// activities, and an abandoned one's handle is done), heartbeating until
/// its start-to-close timeout; and `weft cancel` of the parent asked an
/// abandoned child to cancel. Now a close stops every attempt of the run,
/// and the parent's cancellation passes over abandoned children.
#[test]
fn abandoned_activities_stop_at_the_close_and_abandoned_children_are_not_asked() {
    let host = host();
    // Never ready: it would run for ever.
    let never = json!({"mode": "cancel-types", "runs": u32::MAX});
    start(&host, "corners", "abandoner", never.clone());
    host.eventually("both attempts are running", |h| {
        h.log().matches("activity started").count() >= 2
    });
    host.cli_ok(&["signal", "abandoner", "tick", "--input", "1"]);
    host.eventually("the cancels are joined", |h| {
        h.event_kinds("abandoner")
            .iter()
            .filter(|k| *k == "signal_awaited")
            .count()
            == 2
    });
    host.cli_ok(&["signal", "abandoner", "tick", "--input", "2"]);
    assert_eq!(host.wait_result("abandoner")["status"], "completed");
    host.wait_for_log(
        "cancelled activity stopped: its run closed meanwhile",
        1,
        std::time::Duration::from_secs(30),
    );

    // `weft cancel` of the parent: its `abandon` child is not asked.
    start(&host, "corners", "cancelled-parent", never);
    host.eventually("the children started", |h| {
        h.event_kinds("cancelled-parent")
            .iter()
            .filter(|k| *k == "child_started")
            .count()
            == 2
    });
    host.cli_ok(&["cancel", "cancelled-parent"]);
    assert_eq!(host.wait_result("cancelled-parent")["status"], "cancelled");
    let left = host.event_kinds("cancelled-parent-left");
    assert!(
        !left.iter().any(|k| k == "cancel_requested"),
        "an abandoned child is not asked: {left:?}"
    );
    assert_eq!(host.describe("cancelled-parent-left")["status"], "running");
}

/// Issue 15, item 2: an attempt that cannot see the cancellation (it never
/// heartbeats) is stopped when its grace period runs out, counted on the
/// host's clock like every activity timeout (injected here: no real wait),
/// and a waiting join gets `cancelled` saying so.
#[test]
fn a_cancelled_attempt_that_never_answers_is_stopped_after_its_grace() {
    let host = host();
    start(
        &host,
        "corners",
        "graceless",
        json!({"mode": "grace", "timeout_ms": 60_000}),
    );
    host.wait_for_log("activity started", 1, std::time::Duration::from_secs(30));
    host.eventually("the sleep is started", |h| {
        h.event_kinds("graceless")
            .iter()
            .any(|k| k == "timer_started")
    });
    host.advance(60_000);
    host.eventually("the cancellation is recorded", |h| {
        h.event_kinds("graceless")
            .iter()
            .any(|k| k == "activity_cancel_requested")
    });
    assert_eq!(host.result_now("graceless")["status"], "running");
    host.advance(10_000);
    let r = host.wait_result("graceless");
    assert_eq!(
        r["output"],
        "cancelled: activity `greet` was cancelled and did not end within its grace period of 10000 ms",
        "{r}"
    );
}

/// Issue 15, item 2: the external worker's side. A worker heartbeating a
/// task whose activity was cancelled gets `cancel_requested: true`; under
/// `wait-cancellation-completed` the workflow waits until the worker
/// reports how it ended, and gets that.
/// The same when the workflow itself is cancelled (`weft cancel`): the host
/// cancels its pending activities as their types say.
#[test]
fn an_external_worker_sees_the_cancellation_and_the_workflow_waits_for_it() {
    let host = host();
    for (id, by_workflow) in [("remote", true), ("remote-cancelled", false)] {
        start(&host, "corners", id, json!({"mode": "worker-cancel"}));
        let (status, task) = host.call("POST", "/v1/task-queues/cancel-q/poll?wait_ms=30000", None);
        assert_eq!(status, 200, "{task}");
        let token = task["token"].as_str().unwrap().to_owned();
        let beat = format!("/v1/tasks/{token}/heartbeat");
        let (status, v) = host.call("POST", &beat, Some(json!({"details": 1})));
        assert_eq!(
            (status, &v["cancel_requested"]),
            (200, &json!(false)),
            "{v}"
        );
        if by_workflow {
            host.cli_ok(&["signal", id, "tick", "--input", "1"]);
        } else {
            host.cli_ok(&["cancel", id]);
        }
        host.eventually("the heartbeat answers cancel_requested", |h| {
            h.call("POST", &beat, Some(json!({"details": 2}))).1["cancel_requested"] == true
        });
        // The workflow waits for the worker.
        assert_eq!(host.describe(id)["status"], "running", "{id}");
        let (status, v) = host.call(
            "POST",
            &format!("/v1/tasks/{token}/fail"),
            Some(json!({"failure": {"kind": "cancelled", "message": "cleaned up on the worker"}})),
        );
        assert_eq!(status, 200, "{v}");
        let r = host.wait_result(id);
        assert_eq!(
            r["output"], "cancelled: cleaned up on the worker",
            "{id}: {r}"
        );
        host.assert_replays(id, "corners");
    }
}

/// Found by a review of the worker paths: after a restart, a cancelled
/// activity under `wait-cancellation-completed` whose task a worker held
/// completed `cancelled` at once (the task came back stopped, as for a
/// closed run), while the worker still ran it: the workflow went on as if
/// its cancellation had completed, and the worker's heartbeat and answer
/// were refused. The task is adopted: the worker is told of the
/// cancellation and the workflow waits for its answer, as before the
/// restart. Both ways of cancelling (the workflow's code, `weft cancel`).
#[test]
fn a_worker_task_cancelled_before_a_restart_still_waits_for_the_worker() {
    let mut host = host();
    for (id, by_workflow) in [("remote", true), ("remote-cancelled", false)] {
        start(&host, "corners", id, json!({"mode": "worker-cancel"}));
        let (status, task) = host.call("POST", "/v1/task-queues/cancel-q/poll?wait_ms=30000", None);
        assert_eq!(status, 200, "{task}");
        let token = task["token"].as_str().unwrap().to_owned();
        let beat = format!("/v1/tasks/{token}/heartbeat");
        if by_workflow {
            host.cli_ok(&["signal", id, "tick", "--input", "1"]);
        } else {
            host.cli_ok(&["cancel", id]);
        }
        host.eventually("the heartbeat answers cancel_requested", |h| {
            h.call("POST", &beat, Some(json!({"details": 1}))).1["cancel_requested"] == true
        });
        host.kill_and_restart();
        let (status, v) = host.call("POST", &beat, Some(json!({"details": 2})));
        assert_eq!(
            (status, &v["cancel_requested"]),
            (200, &json!(true)),
            "{id}: the worker's heartbeat after the restart: {v}"
        );
        assert_eq!(host.describe(id)["status"], "running", "{id}");
        let (status, v) = host.call(
            "POST",
            &format!("/v1/tasks/{token}/fail"),
            Some(json!({"failure": {"kind": "cancelled", "message": "cleaned up on the worker"}})),
        );
        assert_eq!(status, 200, "{v}");
        let r = host.wait_result(id);
        assert_eq!(
            r["output"], "cancelled: cleaned up on the worker",
            "{id}: {r}"
        );
        host.assert_replays(id, "corners");
    }
}

/// Issue 15, item 9: `select` returns a bare index matched by position;
/// `choose` names what each candidate means (Rust: a case per candidate
/// mapping its typed outcome into one enum; Python and JavaScript: the
/// winner's name and value).
#[test]
fn a_typed_select_names_the_winner_in_every_language() {
    let host = host();
    for (workflow_type, component) in LANGUAGES {
        let id = format!("{workflow_type}-choose");
        start(&host, workflow_type, &id, json!({"mode": "choose"}));
        for n in 1..=2 {
            host.cli_ok(&["signal", &id, "tick", "--input", &n.to_string()]);
            host.eventually("the signal is taken", |h| {
                h.event_kinds(&id)
                    .iter()
                    .filter(|k| *k == "signal_awaited")
                    .count()
                    > n
            });
        }
        host.advance(HOUR);
        let r = host.wait_result(&id);
        assert_eq!(
            r["output"],
            json!(["tick 1", "tick 2", "expired"]),
            "{id}: {r}"
        );
        host.assert_replays(&id, component);
    }
}

/// Issue 16: a stalled execution's reason led with the sandbox's view (`the
/// guest trapped: wasm unreachable ...`) and put the guest's own words last
/// among its output lines. Now it leads with them: the Rust panic's message
/// and place, the Python exception and its line, the JavaScript error.
#[test]
fn a_stall_reason_leads_with_the_guests_own_words_in_every_language() {
    let host = host();
    for (workflow_type, expect) in [
        ("corners", "panicked at tests/fixtures/corners/src/lib.rs"),
        (
            "py-api",
            "the workflow crashed: KeyError: 'missing' (at app.py:",
        ),
        ("js-api", "the workflow threw TypeError: "),
    ] {
        let id = format!("{workflow_type}-crash");
        start(&host, workflow_type, &id, json!({"mode": "crash"}));
        let r = host.wait_result(&id);
        assert_eq!(r["status"], "stalled", "{r}");
        let reason = r["stall_reason"].as_str().unwrap_or_default();
        assert!(reason.starts_with(expect), "{id}: {reason}");
        assert!(
            reason.ends_with("executed)"),
            "then the sandbox's view: {reason}"
        );
    }
}

/// Issue 15, item 7: a failed activity told the workflow its last error but
/// not how many attempts ran or why retrying stopped. Now every activity
/// failure carries the host's envelope (recorded in `activity_failed` as
/// `retry_state`): attempts, retry state, and the last attempt's failure as
/// its cause.
#[test]
fn an_activity_failure_says_why_retries_stopped_in_every_language() {
    let host = host();
    for (workflow_type, component) in LANGUAGES {
        for (runs, expected) in [
            (
                0,
                json!({"kind": "Flaky", "attempts": 3, "retry_state": "maximum-attempts-reached", "cause": "Flaky"}),
            ),
            (
                1,
                json!({"kind": "Fatal", "attempts": 1, "retry_state": "non-retryable", "cause": "Fatal"}),
            ),
        ] {
            let id = format!("{workflow_type}-retries-{runs}");
            start(
                &host,
                workflow_type,
                &id,
                json!({"mode": "retries", "runs": runs}),
            );
            let r = host.wait_result(&id);
            assert_eq!(r["status"], "completed", "{id}: {r}");
            assert_eq!(r["output"], expected, "{id}: {r}");
            let failed = host.get(&format!("/v1/executions/{id}/history"))["events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["event"]["type"] == "activity_failed")
                .cloned()
                .expect("activity_failed");
            assert_eq!(
                failed["event"]["retry_state"], expected["retry_state"],
                "{failed}"
            );
            host.assert_replays(&id, component);
        }
    }
}

/// Found in review (issue 15): cancelling or signalling a child whose start
/// was refused reached the execution that holds the id, and cancelling a
/// recorded timer twice in one task reloaded the execution forever. Now a
/// refused start is a handle that is done (the cancel changes nothing, the
/// signal finds no such child), and a second cancel records only itself.
#[test]
fn a_refused_child_and_a_cancelled_timer_are_done_with() {
    let host = host();
    start(&host, "corners", "refused", json!({"mode": "refused"}));
    let r = host.wait_result("refused");
    assert_eq!(
        r["output"],
        json!({"second": "already-started", "signal": "not-found"}),
        "{r}"
    );
    let held = host.describe("held");
    assert_eq!(held["status"], "running", "{held}");
    assert_eq!(held["cancel_requested"], false, "{held}");
    assert!(
        !host
            .event_kinds("held")
            .iter()
            .any(|k| k == "signal_received"),
        "{:?}",
        host.event_kinds("held")
    );

    start(&host, "corners", "twice", json!({"mode": "cancel-twice"}));
    let r = host.wait_result("twice");
    assert_eq!(r["output"], "cancelled", "{r}");
    let kinds = host.event_kinds("twice");
    let count = |kind: &str| kinds.iter().filter(|k| *k == kind).count();
    assert_eq!(
        (count("timer_cancel_requested"), count("timer_cancelled")),
        (2, 1),
        "{kinds:?}"
    );
}

/// Issue 15, item 8: after `weft cancel`, a select between a signal and a
/// timer got the cancelled timer's index like a timer that fired, and the
/// workflow went down its timeout path and completed. `try_select` says so:
/// the cancellation is the error, and the workflow ends as cancelled.
#[test]
fn try_select_says_the_workflow_was_cancelled_in_every_language() {
    let host = host();
    for (workflow_type, component) in LANGUAGES {
        let id = format!("{workflow_type}-select-cancel");
        start(&host, workflow_type, &id, json!({"mode": "select-cancel"}));
        host.eventually("the timer is started", |h| {
            h.event_kinds(&id).iter().any(|k| k == "timer_started")
        });
        let (status, v) = host.call(
            "POST",
            &format!("/v1/executions/{id}/cancel"),
            Some(json!({"reason": "not needed"})),
        );
        assert!(status == 200 || status == 202, "{status} {v}");
        let r = host.wait_result(&id);
        assert_eq!(r["status"], "cancelled", "{id}: {r}");
        host.assert_replays(&id, component);
    }
}

/// Issue 15, item 6: a child's id-reuse policy decides whether it may take
/// a closed execution's id, as starts from clients do.
#[test]
fn a_child_id_reuse_policy_decides_in_every_language() {
    let host = host();
    for (workflow_type, component) in LANGUAGES {
        let id = format!("{workflow_type}-reuse");
        start(&host, workflow_type, &id, json!({"mode": "reuse"}));
        let r = host.wait_result(&id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
        assert_eq!(
            r["output"],
            json!([0, "already-started", "already-started", 0]),
            "{id}: {r}"
        );
        assert_eq!(host.describe(&format!("{id}-again"))["run"], 2, "{id}");
        host.assert_replays(&id, component);
    }
}

/// Issue 20: search attributes and memo. Each twin sets an attribute of
/// every type and a memo field, continues as new (the next run starts with
/// them: its `execution_started` carries them) and changes them there; the
/// start request adds its own (`Origin`). The record holds the result, list
/// queries find each execution by it, and the histories replay.
#[test]
fn search_attributes_and_memo_are_recorded_carried_and_found_in_every_language() {
    let host = host();
    // A start may give only names the host knows.
    let (status, v) = host.call(
        "POST",
        "/v1/search-attributes",
        Some(json!({"name": "Origin", "type": "keyword"})),
    );
    assert_eq!(status, 201, "{v}");
    for (workflow_type, _) in LANGUAGES {
        let id = format!("{workflow_type}-search");
        let (status, v) = host.call(
            "POST",
            "/v1/executions",
            Some(
                json!({"workflow_type": workflow_type, "id": id, "input": {"mode": "search"},
                        "search_attributes": {"Origin": workflow_type},
                        "memo": {"from": "the start"}}),
            ),
        );
        assert_eq!(status, 201, "{v}");
    }
    let expected = |origin: &str| {
        json!({
            "Origin": {"type": "keyword", "value": origin},
            "Customer": {"type": "keyword", "value": "c-42"},
            "Note": {"type": "text", "value": "rush order, gift wrap"},
            "Items": {"type": "int", "value": 3},
            "Amount": {"type": "double", "value": 12.5},
            "DueAt": {"type": "datetime", "value": 1_793_491_200_000u64},
            "Tags": {"type": "keyword-list", "value": ["eu", "new"]},
            "Stage": {"type": "keyword", "value": "second"},
        })
    };
    for (workflow_type, component) in LANGUAGES {
        let id = format!("{workflow_type}-search");
        let r = host.wait_result(&id);
        // What the code read back after its changes.
        assert_eq!(
            r["output"],
            json!(["c-42", "second", false, ["done", "from"]]),
            "{id}: {r}"
        );
        let d = host.describe(&id);
        assert_eq!(d["run"], 2, "{id}");
        assert_eq!(d["search_attributes"], expected(workflow_type), "{id}: {d}");
        assert_eq!(
            d["memo"],
            json!({"from": "the start", "done": true}),
            "{id}: {d}"
        );
        // The second run starts with what the first left.
        let second = host.get(&format!("/v1/executions/{id}/history?run=2"));
        let started = &second["events"][0]["event"];
        assert_eq!(started["type"], "execution_started", "{second}");
        assert_eq!(
            started["search_attributes"]["Vip"],
            json!({"type": "bool", "value": true}),
            "{started}"
        );
        // A payload, written in the history as its text.
        assert_eq!(started["memo"]["ticket"], r#"{"n":7}"#, "{started}");
        host.assert_replays(&id, component);
    }
    let ids = |query: &str| host.query_ids(query);
    let all = vec!["corners-search", "js-api-search", "py-api-search"];
    for query in [
        r#"Customer = "c-42" AND Stage = "second""#,
        "Note = 'GIFT rush' AND Tags = 'eu' AND Vip IS NULL",
        "Items BETWEEN 2 AND 4 AND Amount < 13 AND DueAt = '2026-11-01'",
        "ExecutionStatus = 'completed' AND StartTime > '2000-01-01' AND CloseTime IS NOT NULL",
        "Origin IN ('corners', 'js-api', 'py-api')",
    ] {
        assert_eq!(ids(query), all, "{query}");
    }
    assert_eq!(
        ids("Origin = 'py-api' OR (Origin = 'js-api' AND Items > 3)"),
        vec!["py-api-search"]
    );
    assert_eq!(ids("Origin STARTS_WITH 'js'"), vec!["js-api-search"]);
    assert!(ids("Customer = 'c-43'").is_empty());
}

/// A value of another type than its name's, or a name the host does not
/// take, stalls the execution with the reason; nothing of the task is
/// recorded, and a start giving such a value is refused.
#[test]
fn a_search_attribute_of_the_wrong_type_or_name_stalls_the_workflow() {
    let host = host();
    // A start cannot decide a name's type: a name the host does not know
    // is refused, naming how to create it.
    let typed = json!({"workflow_type": "corners", "id": "typed", "input": {"mode": "fanout", "runs": 0},
                       "search_attributes": {"Items": 3}});
    let (status, v) = host.call("POST", "/v1/executions", Some(typed.clone()));
    assert_eq!(status, 400, "{v}");
    assert!(
        v.to_string()
            .contains("no search attribute named Items on this host: create it"),
        "{v}"
    );
    // `Items` becomes an int on this host.
    host.cli_ok(&["search-attributes", "create", "Items", "int"]);
    let (status, v) = host.call("POST", "/v1/executions", Some(typed));
    assert_eq!(status, 201, "{v}");
    let (status, v) = host.call(
        "POST",
        "/v1/search-attributes",
        Some(json!({"name": "Items", "type": "keyword"})),
    );
    assert_eq!(status, 409, "{v}");
    assert!(v.to_string().contains("remove it first"), "{v}");
    for (id, runs, says) in [
        (
            "conflict",
            0,
            "search attribute Items has type int on this host, so it cannot take a keyword value",
        ),
        (
            "bad-name",
            1,
            "search attribute name \"bad-name\" is not valid",
        ),
    ] {
        start(
            &host,
            "corners",
            id,
            json!({"mode": "search-conflict", "runs": runs}),
        );
        let r = host.wait_result(id);
        assert_eq!(r["status"], "stalled", "{id}: {r}");
        let reason = r["stall_reason"].as_str().unwrap_or_default();
        assert!(reason.contains(says), "{id}: {reason}");
        assert!(
            !host
                .event_kinds(id)
                .iter()
                .any(|k| k == "search_attributes_upserted"),
            "{id}"
        );
    }
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(
            json!({"workflow_type": "corners", "input": {"mode": "fanout", "runs": 0},
                    "search_attributes": {"Items": "three"}}),
        ),
    );
    assert_eq!(status, 400, "{v}");
    assert!(v.to_string().contains("is not of type int"), "{v}");

    // The way out of a wrong type: remove the name, then run the stalled
    // execution again from its start; its value now decides the type.
    host.cli_ok(&["search-attributes", "remove", "Items"]);
    let out = host.cli(&["search-attributes", "remove", "Items"]);
    assert!(!out.status.success(), "a second remove finds nothing");
    host.cli_ok(&["reset", "conflict", "--to-event", "0"]);
    let r = host.wait_result("conflict");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(
        host.describe("conflict")["search_attributes"]["Items"],
        json!({"type": "keyword", "value": "three"})
    );
    // The execution that holds an int under the name keeps it.
    assert_eq!(
        host.describe("typed")["search_attributes"]["Items"],
        json!({"type": "int", "value": 3})
    );
}
