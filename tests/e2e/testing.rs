//! What the test environments stand on: `weft clock skip` (time skipping
//! once the host is idle) and `--route-activity NAME=QUEUE` (an activity
//! served by a test's mock on a private queue), against a real host.

use std::time::{Duration, Instant};

use weft_e2e::serde_json::json;
use weft_e2e::Host;

/// Time skips to each timer in turn, never under a running activity, and
/// says why when it does not move.
#[test]
fn time_skips_to_the_next_timer_once_the_host_is_idle() {
    let host = Host::with_args(&["--manual-clock", "--route-activity", "greet=mocks"]);
    host.deploy_examples();
    let t0 = host.get("/v1/clock")["now_ms"].as_u64().unwrap();

    // hello's first activity is routed to the queue: nobody serves it yet,
    // so time must not skip (its timeouts would fire under it).
    let id = host.start_execution("hello", json!({"name": "mock", "sleep_ms": 3_600_000}));
    let said = host.cli_ok(&["clock", "skip"]);
    assert!(
        said.contains("did not skip") && said.contains("activity attempt"),
        "{said}"
    );
    assert_eq!(host.get("/v1/clock")["now_ms"].as_u64().unwrap(), t0);

    // The test's mock answers from the queue; the rest runs on the host's
    // components, then the workflow sleeps an hour.
    answer_the_mock_and_wait_for_the_timer(&host, &id);

    // Skipping stops at a limit short of the timer, then goes to it.
    let limit = t0 + 60_000;
    let (status, v) = host.call("POST", "/v1/clock/skip", Some(json!({"limit_ms": limit})));
    assert_eq!((status, v["now_ms"].as_u64()), (200, Some(limit)), "{v}");
    let (_, v) = host.call("POST", "/v1/clock/skip", Some(json!({"limit_ms": limit})));
    assert_eq!(v["held"], "limit", "{v}");
    let wall = Instant::now();
    let said = host.cli_ok(&["clock", "skip"]);
    assert!(said.contains("skipped 59m"), "{said}");
    let result = host.wait_result(&id);
    assert_eq!(result["status"], "completed", "{result}");
    assert_eq!(result["output"], "MOCKED, MOCK!", "{result}");
    assert!(wall.elapsed() < Duration::from_secs(20));
    assert_the_timer_fired_on_time(&host, &id);

    // Nothing waits for time any more.
    let (_, v) = host.call("POST", "/v1/clock/skip", Some(json!({})));
    assert_eq!(v["held"], "nothing-waits", "{v}");
    assert!(host
        .cli_ok(&["clock", "skip"])
        .contains("nothing waits for time"));
}

#[test]
fn skipping_and_routing_are_refused_where_they_cannot_work() {
    let host = Host::with_args(&[]);
    let (status, v) = host.call("POST", "/v1/clock/skip", Some(json!({})));
    assert_eq!(status, 409, "{v}");
    assert!(v.to_string().contains("--manual-clock"), "{v}");

    let out = weft_e2e::output_within(
        std::process::Command::new(weft_e2e::weft_bin()).args([
            "server",
            "--route-activity",
            "greet",
        ]),
        weft_e2e::REFUSAL_LIMIT,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("NAME=QUEUE"), "{err}");

    let out = std::process::Command::new(weft_e2e::weft_bin())
        .arg("--version")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("contract weft:workflow@"), "{said}");
}

/// An activity's end that is not written yet keeps the host busy: a skip in
/// that moment (the attempt returned, the store has not committed its end)
/// waits for it instead of finding the host idle with nothing waiting for
/// time. Before, the attempt stopped counting as it returned, and a test
/// environment advanced the clock straight to its target past the timers
/// the end would have armed (CI: a subscription billed 3 months of 12).
#[test]
fn time_does_not_skip_past_an_activity_end_still_being_written() {
    let host = Host::paused_at(
        &["--manual-clock", "--route-activity", "greet=mocks"],
        &["activity-ended"],
    );
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "mock", "sleep_ms": 3_600_000}));
    let (status, task) = host.call("POST", "/v1/task-queues/mocks/poll?wait_ms=30000", None);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().unwrap();
    let answer = weft_e2e::complete_in_background(&host.url, token, json!("Mocked, mock"));
    host.wait_for_log("paused at activity-ended", 1, Duration::from_secs(30));

    let (status, v) = host.call("POST", "/v1/clock/skip", Some(json!({"wait_ms": 300})));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["held"], "busy",
        "a skip while an activity's end is unwritten: {v}"
    );

    host.release("activity-ended");
    assert_eq!(answer.join().unwrap().ok(), Some(200));
    let (status, v) = host.call("POST", "/v1/clock/skip", Some(json!({"wait_ms": 30_000})));
    assert_eq!(
        (status, v["skipped_ms"].as_u64()),
        (200, Some(3_600_000)),
        "{v}"
    );
    let result = host.wait_result(&id);
    assert_eq!(result["output"], "MOCKED, MOCK!", "{result}");
}

/// An activity counts from the step that scheduled it: a skip while its
/// task has not started its attempt yet (it reads the store first) waits
/// for it. Before, the step had stopped counting and the attempt had not
/// begun: the host looked idle with nothing waiting for time.
#[test]
fn time_does_not_skip_past_an_activity_not_started_yet() {
    let host = Host::paused_at(&["--manual-clock"], &["activity-spawned"]);
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "early", "sleep_ms": 3_600_000}));
    host.wait_for_log("paused at activity-spawned", 1, Duration::from_secs(30));

    let (status, v) = host.call("POST", "/v1/clock/skip", Some(json!({"wait_ms": 300})));
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["held"], "busy",
        "a skip before an activity's first attempt: {v}"
    );

    host.release("activity-spawned");
    let (status, v) = host.call("POST", "/v1/clock/skip", Some(json!({"wait_ms": 30_000})));
    assert_eq!(
        (status, v["skipped_ms"].as_u64()),
        (200, Some(3_600_000)),
        "{v}"
    );
    let result = host.wait_result(&id);
    assert_eq!(result["output"], "HELLO, EARLY!", "{result}");
}

/// A timer the workflow no longer waits for when its execution ends (the
/// losing side of a `select`: timer-fanout races a day's timer against an
/// activity) is not a time to skip to: once every execution ended, nothing
/// waits for time. (A skip went a day ahead to fire nothing.)
#[test]
fn time_does_not_skip_to_a_timer_of_an_execution_that_ended() {
    let host = Host::with_args(&["--manual-clock"]);
    host.deploy_examples();
    let id = host.start_execution("timer-fanout", json!({"items": ["a"], "sleep_ms": 60_000}));
    host.eventually("the minute's timer is armed", |h| {
        h.event_kinds(&id).iter().any(|k| k == "timer_started")
    });
    let said = host.cli_ok(&["clock", "skip"]);
    assert!(said.contains("skipped 1m"), "{said}");
    let result = host.wait_result(&id);
    assert_eq!(result["status"], "completed", "{result}");
    let before = host.get("/v1/clock")["now_ms"].as_u64().unwrap();
    let (_, v) = host.call("POST", "/v1/clock/skip", Some(json!({})));
    assert_eq!(v["held"], "nothing-waits", "{v}");
    assert_eq!(host.get("/v1/clock")["now_ms"].as_u64().unwrap(), before);
}

/// Takes hello's first activity (`greet`) from the `mocks` queue through
/// `host` and answers it, then waits until `id` sleeps on its timer.
pub(crate) fn answer_the_mock_and_wait_for_the_timer(host: &Host, id: &str) {
    let (status, task) = host.call("POST", "/v1/task-queues/mocks/poll?wait_ms=30000", None);
    assert_eq!(
        (status, task["name"].as_str()),
        (200, Some("greet")),
        "{task}"
    );
    let token = task["token"].as_str().unwrap().to_owned();
    let (status, v) = host.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "Mocked, mock"})),
    );
    assert_eq!(status, 200, "{v}");
    host.eventually("the hour's timer is armed", |h| {
        h.event_kinds(id).iter().any(|k| k == "timer_started")
    });
}

/// `id`'s hour-long timer fired at its own time, not later.
pub(crate) fn assert_the_timer_fired_on_time(host: &Host, id: &str) {
    let history = host.get(&format!("/v1/executions/{id}/history"));
    let at = |kind: &str| {
        history["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"]["type"] == kind)
            .and_then(|e| e["at_ms"].as_u64())
            .expect(kind)
    };
    assert_eq!(
        at("timer_fired") - at("timer_started"),
        3_600_000,
        "the timer fired at its own time, not later: {history}"
    );
}
