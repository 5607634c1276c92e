//! SIGKILL the host in the middle of work, restart it, and check nothing was
//! lost or done twice.

use std::collections::BTreeMap;
use std::time::Duration;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{side_effects, Host};

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| *k == kind).count()
}

#[test]
fn sigkill_during_an_activity_resumes_without_redoing_finished_steps() {
    let mut host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "world", "delay_ms": 800}));
    // `shout` has started, so `greet` is done and recorded.
    host.wait_for_log("activity started", 2, Duration::from_secs(60));
    host.kill_and_restart();

    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], "HELLO, WORLD!");
    let kinds = host.event_kinds(&id);
    assert_eq!(count(&kinds, "execution_started"), 1, "{kinds:?}");
    assert_eq!(count(&kinds, "activity_scheduled"), 3, "{kinds:?}");
    assert_eq!(count(&kinds, "activity_completed"), 3, "{kinds:?}");
    assert_eq!(count(&kinds, "execution_completed"), 1, "{kinds:?}");

    let effects = side_effects(&host.log());
    let greet: Vec<_> = effects.iter().filter(|e| e.1 == "greet").collect();
    assert_eq!(
        greet.len(),
        1,
        "greet ran again after the restart: {effects:?}"
    );
    assert_eq!(greet[0].0, format!("{id}/1"));
    for (handle, name) in [(2, "shout"), (3, "exclaim")] {
        let mine: Vec<_> = effects.iter().filter(|e| e.1 == name).collect();
        assert!(!mine.is_empty(), "{name} never ran: {effects:?}");
        assert!(
            mine.iter().all(|e| e.0 == format!("{id}/{handle}")),
            "{name} changed its idempotency key: {effects:?}"
        );
        // An attempt the kill interrupted runs again under its number: a
        // restart is not a failed attempt (README, Activities).
        assert!(
            mine.iter().all(|e| e.2 == 1),
            "{name} counted the restart as an attempt: {effects:?}"
        );
    }
}

#[test]
fn a_pending_timer_survives_sigkill() {
    let mut host = Host::start();
    host.deploy_examples();
    let id = host.start_execution(
        "timer-fanout",
        json!({"items": ["x"], "sleep_ms": 3_600_000}),
    );
    host.eventually("the timer to be recorded", |h| {
        h.event_kinds(&id).contains(&"timer_started".to_string())
    });
    host.kill_and_restart();
    assert_eq!(host.result_now(&id)["status"], "running");
    host.advance(3_600_000);
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    // The host clock kept running between the kill and the restart, so the
    // timer may fire a little later than the hour, never earlier.
    let slept = r["output"]["slept_ms"].as_u64().unwrap();
    assert!((3_600_000..3_660_000).contains(&slept), "{r}");
    assert_eq!(r["output"]["greetings"], json!(["Hello, x"]));
}

#[test]
fn a_retry_backoff_survives_sigkill() {
    let mut host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("misbehave", json!({"mode": "flaky", "fail_times": 1}));
    host.eventually("the first attempt to fail", |h| {
        h.describe(&id)["pending_activities"][0]["attempt"] == 2
    });
    host.kill_and_restart();
    host.advance(1_000);
    let r = host.wait_result(&id);
    assert_eq!(r["output"], "succeeded on attempt 2", "{r}");
    let kinds = host.event_kinds(&id);
    assert_eq!(count(&kinds, "activity_completed"), 1, "{kinds:?}");
}

#[test]
fn repeated_sigkills_under_load_lose_nothing() {
    let mut host = Host::start();
    host.deploy_examples();
    let ids: Vec<String> = (0..16)
        .map(|i| host.start_execution("hello", json!({"name": format!("n{i}"), "delay_ms": 150})))
        .collect();
    for kill in 1..=3 {
        host.wait_for_log("activity started", 8 * kill, Duration::from_secs(60));
        host.kill_and_restart();
    }
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    for (i, id) in ids.iter().enumerate() {
        let r = host.wait_result(id);
        assert_eq!(r["status"], "completed", "{r}");
        assert_eq!(r["output"], format!("HELLO, N{i}!"));
        let kinds = host.event_kinds(id);
        assert_eq!(kinds.len(), 8, "{id}: {kinds:?}");
        assert_eq!(count(&kinds, "activity_completed"), 3, "{id}: {kinds:?}");
    }
    // A re-run after a crash keeps the key of its step.
    for (key, activity, _) in side_effects(&host.log()) {
        let seen = keys.entry(key.clone()).or_insert_with(|| activity.clone());
        assert_eq!(*seen, activity, "key {key} used by two activities");
    }
    assert_eq!(
        keys.len(),
        16 * 3,
        "every step had a side effect under its own key"
    );
}

#[test]
fn an_evicted_execution_is_replayed_when_it_wakes() {
    let host = Host::with_args(&["--manual-clock", "--evict-after-ms", "0"]);
    host.deploy_examples();
    let id = host.start_execution("timer-fanout", json!({"items": ["e"], "sleep_ms": 60_000}));
    host.eventually("the execution to be evicted", |h| {
        let d = h.describe(&id);
        d["cached"] == false && !d["pending_timers"].as_array().unwrap().is_empty()
    });
    host.advance(60_000);
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"]["greetings"], json!(["Hello, e"]));
    let value = |name: &str| -> u64 { host.metric(name) as u64 };
    assert!(value("weft_evictions_total") >= 1);
    // At least the wake after the sleep replays: the timer's start is
    // issued again and its firing delivered again. (Whether the instance
    // is evicted again while its activity runs depends on timing.)
    assert!(value("weft_replayed_events_total") >= 2);
}

/// The last event of `id`'s current run, as `GET .../history` gives it.
fn last_event(host: &Host, id: &str) -> Value {
    host.get(&format!("/v1/executions/{id}/history"))["events"]
        .as_array()
        .and_then(|events| events.last().cloned())
        .unwrap_or(Value::Null)
}

/// The counts of the `nth` "resuming running executions" line of the log
/// (waiting for it: a host on PostgreSQL answers before it holds the store
/// and recovers): (woken, waiting).
fn resumed(host: &Host, nth: usize) -> (u64, u64) {
    let needle = "resuming running executions";
    host.wait_for_log(needle, nth, Duration::from_secs(60));
    let log = host.log();
    let line = log
        .lines()
        .filter(|l| l.contains(needle))
        .nth(nth - 1)
        .unwrap_or_else(|| panic!("no recovery line in the log:\n{log}"));
    let field = |name: &str| -> u64 {
        let at = line
            .find(&format!("{name}="))
            .unwrap_or_else(|| panic!("no {name} in {line:?}"));
        line[at + name.len() + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .unwrap_or_else(|_| panic!("no number after {name} in {line:?}"))
    };
    (field("woken"), field("waiting"))
}

/// A restart replays only the executions with something to take (issue 21,
/// W4 replayed most histories twice). Two approvals wait for a signal or an
/// hour: their last task marked its last event `waits`, and the restart
/// leaves both asleep. One is then signalled, and the host killed before
/// that run writes anything: its last event is the signal, recorded after
/// the mark, and the next restart must replay it (it completes), while the
/// other sleeps on until its hour has passed.
#[test]
fn a_restart_replays_only_the_executions_with_something_to_take() {
    let mut host = Host::start();
    host.deploy_examples();
    let ids = ["approve-me", "let-me-wait"];
    for id in ids {
        host.start_as("approval", id, json!({"timeout_hours": 1}));
    }
    for id in ids {
        host.eventually("the first task to wait", |h| {
            last_event(h, id)["waits"] == true
        });
    }
    host.kill();
    // The signalled run's next write, whichever it is, does not land.
    host.pause_at(&["task-before-commit", "close-before-write"]);
    host.spawn();
    assert_eq!(resumed(&host, 1), (0, 2), "{}", host.log());
    for id in ids {
        assert_eq!(host.describe(id)["cached"], false, "{id} was loaded");
        assert_eq!(host.result_now(id)["status"], "running");
    }
    host.cli_ok(&[
        "signal",
        "approve-me",
        "decision",
        "--input",
        r#"{"approved": true, "by": "grace"}"#,
    ]);
    host.wait_for_log("paused at ", 1, Duration::from_secs(60));
    let last = last_event(&host, "approve-me");
    assert_eq!(last["event"]["type"], "signal_received", "{last}");
    host.kill();
    host.clear_pause_points();
    host.spawn();
    assert_eq!(resumed(&host, 2), (1, 1), "{}", host.log());
    let r = host.wait_result("approve-me");
    assert_eq!(r["output"], "approved by grace", "{r}");
    assert_eq!(host.describe("let-me-wait")["cached"], false);
    host.advance(3_600_000);
    let r = host.wait_result("let-me-wait");
    assert_eq!(r["output"], "timed out", "{r}");
}

/// A task whose own events complete a handle (here a timer it cancels and
/// then waits on) must not leave its run asleep: the completion is delivered
/// only once the events are read back. Killed right after that task
/// committed, the restarted host replays the run, which completes.
#[test]
fn a_task_that_completes_its_own_handle_is_replayed_after_a_restart() {
    let mut host = Host::start();
    host.deploy_examples_and_corners();
    let id = "cancel-own";
    host.start_corners(id, json!({"mode": "cancel-own"}));
    host.eventually("the first task to wait", |h| {
        last_event(h, id)["waits"] == true
    });
    host.kill();
    host.pause_at(&["task-committed"]);
    host.spawn();
    host.cli_ok(&["signal", id, "go", "--input", "1"]);
    host.wait_for_log("paused at task-committed", 1, Duration::from_secs(60));
    let last = last_event(&host, id);
    assert_eq!(last["event"]["type"], "timer_cancelled", "{last}");
    assert_ne!(last["waits"], true, "{last}");
    host.kill();
    host.clear_pause_points();
    host.spawn();
    let r = host.wait_result(id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], "cancelled", "{r}");
}

/// A workflow that cancels its child asks the child after the task that
/// cancels it committed. Killed in between, the request was lost: the
/// parent waited for the child (a two-hour nap) to end on its own. The
/// restarted host asks the child again.
#[test]
fn a_child_cancel_survives_a_crash_right_after_the_task_that_asked_it() {
    let mut host = Host::paused_at(&["--manual-clock"], &["task-committed"]);
    host.deploy_examples_and_corners();
    let id = "cancels-then-crash";
    host.start_corners(id, json!({"mode": "cancels"}));
    host.wait_for_log("paused at task-committed", 1, Duration::from_secs(60));
    let kinds = host.event_kinds(id);
    assert!(
        kinds.iter().any(|k| k == "child_cancel_requested"),
        "{kinds:?}"
    );
    host.kill();
    host.clear_pause_points();
    host.spawn();
    let r = host.wait_result(id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(
        r["output"],
        json!({"timer": "cancelled", "child": "cancelled"}),
        "{r}"
    );
}

/// Found by reading the load path: a failed read of a module's bytes (the
/// database's connection cut, a disk error) stalled the execution for good,
/// as if its component were broken; a stall is recorded, so nothing but a
/// reset brought it back. A failed read is the store's: the execution is
/// loaded again, as after any failed read. The bytes are read only when no
/// compiled copy is at hand: the compile cache here is a path that cannot
/// be made (its parent is a file), and the restart has an empty memory.
#[test]
fn an_execution_whose_module_could_not_be_read_is_loaded_again_not_stalled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let cache = file.join("compiled").to_string_lossy().into_owned();
    let mut host = Host::with_faults(
        &["--manual-clock", "--compile-cache", &cache],
        &[],
        &["module-bytes"],
    );
    let approval = weft_e2e::guest("approval").to_string_lossy().into_owned();
    host.cli_ok(&["deploy", &approval]);
    let id = host.start_execution("approval", json!({}));
    host.eventually("the deadline timer", |h| {
        h.event_kinds(&id).contains(&"timer_started".to_string())
    });
    host.kill_and_restart();
    let (code, v) = host.send_signal(&id, "decision", json!({"approved": true, "by": "grace"}));
    assert_eq!(code, 202, "{v}");
    host.wait_for_log("failing at module-bytes", 1, Duration::from_secs(60));
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], "approved by grace");
}

/// An activity component whose bytes could not be read (the database's
/// connection cut, a disk error) failed its attempt as a trap ("cannot be
/// loaded"): under a policy of one attempt the activity failed although
/// it never began. The attempt waits for the store instead, as it does for
/// a context it cannot read. The kitchen-sink's `flaky` step here allows
/// one attempt; the compile cache cannot be made and the host restarts,
/// so the bytes are read.
#[test]
fn an_activity_whose_module_could_not_be_read_waits_and_uses_no_attempt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").expect("write");
    let cache = file.join("compiled").to_string_lossy().into_owned();
    let mut host = Host::with_faults(
        &["--compile-cache", &cache],
        &[],
        &["activity-module-bytes"],
    );
    for name in ["hello-activities", "kitchen-sink"] {
        let path = weft_e2e::guest(name).to_string_lossy().into_owned();
        host.cli_ok(&["deploy", &path]);
    }
    // The deploy loaded the component; a restart has an empty memory.
    host.kill_and_restart();
    let program = json!({"steps": [{"do": "flaky", "id": 1, "fail_times": 0, "max_attempts": 1}]});
    let id = host.start_execution("kitchen-sink", program);
    let r = host.wait_result(&id);
    host.wait_for_log(
        "failing at activity-module-bytes",
        1,
        Duration::from_secs(5),
    );
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"]["outcomes"], json!(["flaky:ok:1"]), "{r}");
}

/// Found by reading the deadline paths: after continue-as-new (and a
/// schedule's start) the next run's deadlines were armed from a read of its
/// record; a read that failed (a cut connection, a disk error) left them
/// unarmed until the host's next start, so a run past its timeout ran on.
/// The read is made again. The first such read fails.
#[test]
fn a_runs_timeout_is_armed_though_its_record_could_not_be_read_at_first() {
    let host = Host::with_faults(&["--manual-clock"], &[], &["arm-deadlines-read"]);
    host.deploy_examples_and_corners();
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "corners", "id": "timed", "input": {"mode": "signals", "runs": 3},
                    "run_timeout_ms": 3_600_000})),
    );
    assert_eq!(status, 201, "{v}");
    // The next run's hour ends half an hour after the first run's.
    host.advance(1_800_000);
    host.cli_ok(&["signal", "timed", "tick", "--input", "1"]);
    host.eventually("the second run", |h| h.describe("timed")["run"] == 2);
    host.wait_for_log("failing at arm-deadlines-read", 1, Duration::from_secs(10));
    host.advance(3_600_000 + 1);
    let r = host.wait_result("timed");
    assert_run_timed_out(&r);
}

/// Found by a review of the reset path: a reset wrote the execution's
/// deadline rows back but did not hand them to the timer service, so a
/// reset of an execution closed before the host's last start (its rows
/// were gone then) ran past its run timeout until the next start, which
/// then terminated it at once. The reset arms them.
#[test]
fn a_reset_execution_keeps_its_run_timeout() {
    let mut host = Host::start();
    host.deploy_examples_and_corners();
    let (status, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": "corners", "id": "late", "input": {"mode": "signals", "runs": 1},
                    "run_timeout_ms": 3_600_000})),
    );
    assert_eq!(status, 201, "{v}");
    host.cli_ok(&["signal", "late", "tick", "--input", "1"]);
    assert_eq!(host.wait_result("late")["status"], "completed");
    host.kill_and_restart();
    host.cli_ok(&["reset", "late", "--to-event", "0", "--exclude-signals"]);
    host.eventually("the reset run waits", |h| {
        h.describe("late")["status"] == "running"
    });
    host.advance(3_600_000 + 1);
    let r = host.wait_result("late");
    assert_run_timed_out(&r);
}

/// Found by a sweep of the store's failure paths: a wake for an execution
/// with no instance in memory (evicted, as most waiting ones are) read its
/// record first, and a read that failed (a cut connection, a disk error)
/// dropped the wake: the timer had fired, in the history, and the workflow
/// never saw it until the host's next start. The execution is loaded again
/// once the store answers. The first such read fails.
#[test]
fn a_wake_whose_read_failed_loads_the_execution_later() {
    let host = Host::with_faults(
        &["--manual-clock", "--evict-after-ms", "0"],
        &[],
        &["wake-read"],
    );
    host.deploy_examples();
    let id = host.start_execution("timer-fanout", json!({"items": ["e"], "sleep_ms": 60_000}));
    host.eventually("the execution to be evicted", |h| {
        let d = h.describe(&id);
        d["cached"] == false && !d["pending_timers"].as_array().unwrap().is_empty()
    });
    host.advance(60_000);
    host.wait_for_log("failing at wake-read", 1, Duration::from_secs(30));
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"]["greetings"], json!(["Hello, e"]));
}

/// Found by a sweep of the store's failure paths: a timer whose fire read
/// the execution's record and could not (a cut connection, a disk error)
/// was taken off the timer queue and never armed again until the host's
/// next start: the sleeping workflow hung. It is armed again once the
/// store answers. The first such read fails.
#[test]
fn a_timer_whose_fire_could_not_read_its_execution_fires_later() {
    let host = Host::with_faults(&["--manual-clock"], &[], &["timer-fire-read"]);
    host.deploy_examples();
    let id = host.start_execution("timer-fanout", json!({"items": ["t"], "sleep_ms": 60_000}));
    host.eventually("the timer", |h| {
        h.event_kinds(&id).contains(&"timer_started".to_string())
    });
    host.advance(60_000);
    host.wait_for_log("failing at timer-fire-read", 1, Duration::from_secs(30));
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
}

/// Found by a sweep of the store's failure paths: once the store wrote
/// again after a disk error, the in-flight work it had refused (a workflow
/// step here) was resumed by one read of everything, and a read that failed
/// then gave up until the next write failure: the execution waited for the
/// host's next start. The resume is made again until it succeeds. The
/// first step's commit fails as a disk error would, and the first resume.
#[test]
fn in_flight_work_resumes_after_a_write_failure_though_the_first_resume_failed() {
    let host = Host::with_faults(
        &["--manual-clock"],
        &[],
        &["step-commit-io", "resume-after-write-failure"],
    );
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "again"}));
    host.wait_for_log(
        "failing at resume-after-write-failure",
        1,
        Duration::from_secs(30),
    );
    assert_eq!(host.wait_result(&id)["output"], "HELLO, AGAIN!");
}

/// `r` (a result) ended by its run timeout: terminated, saying so.
pub(crate) fn assert_run_timed_out(r: &Value) {
    assert_eq!(r["status"], "terminated", "{r}");
    assert!(
        r["failure"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("run timeout"),
        "{r}"
    );
}
