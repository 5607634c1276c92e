//! Activities in full: retry schedules, every timeout kind, heartbeats that
//! carry progress to the next attempt, cancellation, and external workers on
//! task queues. Time is skipped with the manual clock.

use std::time::Duration;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{Host, Worker};

fn events(host: &Host, id: &str, kind: &str) -> Vec<Value> {
    host.get(&format!("/v1/executions/{id}/history"))["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == kind)
        .cloned()
        .collect()
}

/// The first pending activity's failed attempts so far, from `describe`
/// (attempts are kept beside the history, not in it).
fn failed_attempts(host: &Host, id: &str) -> usize {
    let a = &host.describe(id)["pending_activities"][0];
    match a["last_failure"].is_null() {
        true => 0,
        false => a["attempt"].as_u64().unwrap_or(1) as usize - 1,
    }
}

/// The first pending activity's last failure, from `describe`.
fn last_failure(host: &Host, id: &str) -> Value {
    host.describe(id)["pending_activities"][0]["last_failure"].clone()
}

#[test]
fn an_activity_instance_serves_later_attempts_until_it_traps() {
    let host = Host::start();
    host.deploy_examples();
    // `instance_uses` answers how many attempts its instance has served.
    let id = host.start_execution("misbehave", json!({"mode": "reuse"}));
    host.eventually("the third call to trap", |h| failed_attempts(h, &id) == 1);
    let failure = last_failure(&host, &id);
    assert_eq!(failure["kind"], "activity-trap", "{failure}");
    // Issue 16: the panic's message is in the failure, not only in the log.
    assert!(
        failure["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("panicked at examples/hello-activities/src/lib.rs"),
        "{failure}"
    );
    host.advance(1);
    let r = host.wait_result(&id);
    // The first instance served the first two calls and trapped in the
    // third; the retry ran in a fresh one, which also served the fourth.
    assert_eq!(r["output"], "1,2,1,2", "{r}");
    // Five attempts, two instances: the second call, the third's first
    // attempt and the fourth call ran in a kept instance.
    assert_eq!(host.metric("weft_activity_instances_reused_total"), 3.0);
    assert_eq!(host.metric("weft_activity_instantiate_seconds_count"), 2.0);
}

#[test]
fn frequent_polling_resumes_from_the_last_heartbeat() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution(
        "polling",
        json!({"mode": "frequent", "ready_after": 20, "hang_on_attempt": 1, "hang_after": 5}),
    );
    // The first attempt checked five times, then went silent.
    host.eventually("five checks heartbeated", |h| {
        h.describe(&id)["pending_activities"][0]["heartbeat_details"] == 5
    });
    host.advance(30_000);
    host.eventually("the heartbeat timeout", |h| failed_attempts(h, &id) == 1);
    let failure = last_failure(&host, &id);
    assert_eq!(failure["kind"], "timeout", "{failure}");
    assert_eq!(failure["details"]["timeout"], "heartbeat", "{failure}");
    host.advance(1_000);
    let r = host.wait_result(&id);
    assert_eq!(
        r["output"],
        json!({"checks": 20, "attempt": 2}),
        "resumed at 5: {r}"
    );
}

/// Found by a review of the activity paths: an attempt run again after a
/// crash (its end was never written) numbered its heartbeats from the
/// attempt's start again, and the store keeps only a beat numbered above
/// the one it holds: the re-run's first beats, as many as the crashed run
/// had made, were dropped. Here the crashed run beat five times; the re-run
/// resumes at five and is ready two checks later, and its beats must show.
/// The re-run is held after it returns, before its end is written.
#[test]
fn an_attempt_run_again_after_a_crash_keeps_its_heartbeats() {
    let mut host = Host::start();
    host.deploy_examples();
    let id = host.start_execution(
        "polling",
        json!({"mode": "frequent", "ready_after": 7, "hang_on_attempt": 1, "hang_after": 5}),
    );
    host.eventually("five checks heartbeated", |h| {
        h.describe(&id)["pending_activities"][0]["heartbeat_details"] == 5
    });
    host.pause_at(&["activity-ended"]);
    host.kill_and_restart();
    host.wait_for_log("paused at activity-ended", 1, Duration::from_secs(60));
    host.eventually("the re-run's beats recorded", |h| {
        h.describe(&id)["pending_activities"][0]["heartbeat_details"] == 7
    });
    host.release("activity-ended");
    assert_eq!(
        host.wait_result(&id)["output"],
        json!({"checks": 7, "attempt": 1})
    );
}

/// Found by a review of the activity paths: an activity's output is held
/// to the payload limit, but its failure was recorded whole (in the
/// attempt's retry state and in `activity_failed`): an activity, or a
/// worker, failing with a megabyte of message grew the history past what
/// the limit promises. A failure over the limit keeps its kind and
/// retryability and the start of its message; its details are dropped.
#[test]
fn an_activity_failure_over_the_payload_limit_is_cut_to_it() {
    let host = Host::with_args(&[
        "--route-activity",
        "greet=greeters",
        "--max-payload-kb",
        "1",
    ]);
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "big"}));
    let (status, task) = weft_e2e::poll_greeters(&host, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token");
    let (status, v) = host.call(
        "POST",
        &format!("/v1/tasks/{token}/fail"),
        Some(
            json!({"failure": {"kind": "Boom", "message": "x".repeat(4_000),
                                "details": {"blob": "y".repeat(4_000)}, "non_retryable": true}}),
        ),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(host.wait_result(&id)["status"], "failed");
    let failed = events(&host, &id, "activity_failed");
    assert_eq!(failed.len(), 1);
    let failure = &failed[0]["event"]["failure"];
    assert_eq!(failure["kind"], "Boom", "{failure}");
    assert_eq!(failure["non_retryable"], true, "{failure}");
    assert!(
        failure.to_string().len() <= 1024,
        "{} bytes recorded",
        failure.to_string().len()
    );
}

#[test]
fn infrequent_polling_lets_the_retry_policy_wait() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution(
        "polling",
        json!({"mode": "infrequent", "ready_on_attempt": 4}),
    );
    for n in 1..=3 {
        host.eventually("the next failed check", |h| failed_attempts(h, &id) == n);
        let a = host.describe(&id)["pending_activities"][0].clone();
        let now = host.get("/v1/clock")["now_ms"].as_u64().unwrap();
        let wait = a["next_attempt_at_ms"].as_u64().unwrap() - now;
        assert_eq!(
            wait, 60_000,
            "attempt {n} waits the configured interval: {a}"
        );
        assert_eq!(host.result_now(&id)["status"], "running");
        host.advance(60_000);
    }
    assert_eq!(host.wait_result(&id)["output"], "ready on attempt 4");
}

#[test]
fn every_timeout_kind_fires_and_says_which() {
    let host = Host::start();
    host.deploy_examples();
    let start = |mode: &str| host.start_execution("polling", json!({ "mode": mode }));

    let s2s = start("schedule-to-start");
    let s2c = start("start-to-close");
    let total = start("schedule-to-close");
    let fatal = start("fatal");
    host.eventually("the first check to fail", |h| {
        failed_attempts(h, &total) == 1
    });
    host.eventually("the attempt to start", |h| {
        h.describe(&s2c)["pending_activities"][0]["heartbeat_details"] == 1
    });
    host.advance(10_000);
    host.advance(60_000);
    host.eventually("the second check to fail", |h| {
        failed_attempts(h, &total) == 2
    });
    host.advance(60_000);

    let timeout_of = |id: &str| {
        let r = host.wait_result(id);
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["failure"]["kind"], "timeout", "{r}");
        r["failure"].clone()
    };
    assert_eq!(timeout_of(&s2s)["details"]["timeout"], "schedule-to-start");
    let f = timeout_of(&s2c);
    assert_eq!(f["details"]["timeout"], "start-to-close", "{f}");
    assert_eq!(f["details"]["attempts"], 1, "{f}");
    let f = timeout_of(&total);
    assert_eq!(f["details"]["timeout"], "schedule-to-close", "{f}");
    assert_eq!(f["details"]["attempts"], 3, "{f}");
    assert_eq!(f["details"]["last_failure"]["kind"], "NotReady", "{f}");

    // A non-retryable failure stops at once, whatever the policy allows.
    let r = host.wait_result(&fatal);
    assert_eq!(r["failure"]["kind"], "Fatal", "{r}");
    assert_eq!(failed_attempts(&host, &fatal), 0);
}

/// Found by a review of the activity paths: a schedule-to-close deadline
/// that passed while the host was down (its activity between two attempts)
/// was recorded with no last failure and one attempt more than had run: the
/// retry state read back at the restart was not given to the attempt loop.
/// Two checks fail, the host restarts, the clock passes the deadline.
#[test]
fn a_schedule_to_close_timeout_met_after_a_restart_names_the_last_failure() {
    let mut host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("polling", json!({ "mode": "schedule-to-close" }));
    host.eventually("the first check to fail", |h| failed_attempts(h, &id) == 1);
    host.advance(60_000);
    host.eventually("the second check to fail", |h| failed_attempts(h, &id) == 2);
    host.kill_and_restart();
    // Past the deadline (150 s) and the next attempt's time (120 s) at once.
    host.advance(100_000);
    let r = host.wait_result(&id);
    assert_eq!(r["failure"]["kind"], "timeout", "{r}");
    let details = &r["failure"]["details"];
    assert_eq!(details["timeout"], "schedule-to-close", "{r}");
    assert_eq!(details["last_failure"]["kind"], "NotReady", "{r}");
    // The third attempt began only if the clock stopped at its time (120 s)
    // on its way to the deadline.
    let third =
        |l: &str| l.contains("activity started") && l.contains(&id) && l.contains("attempt=3");
    let began = if host.log().lines().any(third) { 3 } else { 2 };
    assert_eq!(details["attempts"], began, "{r}");
}

#[test]
fn a_cancelled_activity_stops() {
    let host = Host::start();
    host.deploy_examples();
    let id = host.start_execution("polling", json!({"mode": "cancel"}));
    host.eventually("the poll to run", |h| {
        h.describe(&id)["pending_activities"][0]["heartbeat_details"]
            .as_u64()
            .is_some_and(|n| n > 0)
    });
    host.advance(1_000);
    assert_eq!(host.wait_result(&id)["output"], "cancelled");
    let failed = events(&host, &id, "activity_failed");
    assert_eq!(
        failed[0]["event"]["failure"]["kind"], "cancelled",
        "{failed:?}"
    );
    assert_eq!(events(&host, &id, "activity_cancel_requested").len(), 1);
}

#[test]
fn an_external_worker_runs_tasks_and_its_crash_is_covered() {
    let host = Host::start();
    host.deploy_examples();
    // With no worker yet, the task waits in the queue's backlog.
    let id = host.start_execution("polling", json!({"mode": "remote", "n": 7}));
    let queue = |h: &Host| {
        h.get("/v1/task-queues")["task_queues"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "python")
            .cloned()
            .unwrap_or_default()
    };
    host.eventually("the task in the backlog", |h| queue(h)["backlog"] == 1);
    assert!(queue(&host)["last_poll_ms"].is_null(), "{}", queue(&host));
    let table = host.cli_ok(&["task-queues"]);
    assert!(
        table.contains("python") && table.contains("never"),
        "{table}"
    );
    let mut worker = Worker::python(&host, "python", true);
    let r = host.wait_result(&id);
    assert_eq!(r["output"]["square"], 49, "{r}");
    assert_eq!(worker.wait(Duration::from_secs(30)), Some(0));
    let seen = queue(&host);
    assert_eq!(seen["backlog"], 0, "{seen}");
    assert!(seen["last_poll_ms"].as_u64().is_some(), "{seen}");

    // The worker dies in the middle of a task: the heartbeat timeout gives it
    // to the next worker, which sees the last heartbeat.
    let id = host.start_execution("polling", json!({"mode": "remote", "n": 6, "crash": true}));
    let mut crashing = Worker::python(&host, "python", true);
    assert_eq!(crashing.wait(Duration::from_secs(30)), Some(17));
    host.advance(10_000);
    host.eventually("the lost attempt to time out", |h| {
        failed_attempts(h, &id) == 1
    });
    host.advance(1_000);
    let _second = Worker::python(&host, "python", true);
    let r = host.wait_result(&id);
    assert_eq!(r["output"]["square"], 36, "{r}");
    assert_eq!(r["output"]["attempt"], 2, "{r}");
    assert_eq!(r["output"]["resumed_from"]["attempt"], 1, "{r}");

    // Answers with an unknown token change nothing.
    for route in ["complete", "fail", "heartbeat"] {
        let body = match route {
            "fail" => json!({"failure": {"kind": "x", "message": "y", "non_retryable": false}}),
            _ => json!({}),
        };
        let (code, v) = host.call(
            "POST",
            &format!("/v1/tasks/not-a-token/{route}"),
            Some(body),
        );
        assert_eq!(code, 404, "{v}");
        assert_eq!(v["error"]["code"], "stale-task-token", "{v}");
    }
    // An empty poll answers 204 after its wait.
    let (code, _) = host.call("POST", "/v1/task-queues/empty/poll?wait_ms=10", None);
    assert_eq!(code, 204);
}

#[test]
fn an_activity_reaches_only_the_doors_opened_at_deploy() {
    let host = Host::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("note.txt"), "from the host").unwrap();
    let spec = format!("{}:/data:ro", dir.path().display());
    // A tiny HTTP server on loopback, answering every request with `pong`.
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = server.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for conn in server.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\npong",
            );
        }
    });
    let allowed = format!("127.0.0.1:{port}");
    let out = host.cli_ok(&[
        "deploy",
        &weft_e2e::guest("hello-activities").to_string_lossy(),
        "--env",
        "GREETING=hi",
        "--dir",
        &spec,
        "--allow-http",
        &allowed,
    ]);
    let hash = out.trim().rsplit(' ').next().unwrap().to_owned();
    host.cli_ok(&["deploy", &weft_e2e::guest("polling").to_string_lossy()]);
    let shown = host.cli_ok(&["describe-module", &hash]);
    assert!(shown.contains("env:         GREETING"), "{shown}");
    assert!(shown.contains("as /data (read-only)"), "{shown}");
    assert!(
        shown.contains(&format!("http:        {allowed}")),
        "{shown}"
    );

    let call = |activity: &str, args: Value| {
        let id = host.start_execution(
            "polling",
            json!({"mode": "call", "activity": activity, "args": args}),
        );
        host.wait_result(&id)
    };
    assert_eq!(call("read_env", json!("GREETING"))["output"], "hi");
    assert_eq!(
        call("read_file", json!("/data/note.txt"))["output"],
        "from the host"
    );
    let r = call("http_get", json!(format!("http://{allowed}/ping")));
    assert_eq!(r["output"], "pong", "{r}");
    // The same server under another name is not an opened host.
    let r = call("http_get", json!(format!("http://localhost:{port}/ping")));
    assert_eq!(r["failure"]["kind"], "Denied", "{r}");
    assert!(
        r["failure"]["message"]
            .as_str()
            .unwrap()
            .contains("HttpRequestDenied"),
        "{r}"
    );
    for (activity, args) in [
        ("read_env", json!("HOME")),
        ("read_file", json!("/etc/hostname")),
        ("write_file", json!("/data/new.txt")),
    ] {
        let r = call(activity, args.clone());
        assert_eq!(r["status"], "failed", "{activity}({args}) was allowed: {r}");
        assert_eq!(r["failure"]["kind"], "Denied", "{r}");
    }
    assert!(!dir.path().join("new.txt").exists());

    // Doors are for activity components only, and must exist.
    let out = host.cli(&[
        "deploy",
        &weft_e2e::guest("hello").to_string_lossy(),
        "--env",
        "A=1",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("deterministic"));
    let (code, v) = host.post_bytes(
        "/v1/modules?dir=/no/such/dir:/x",
        std::fs::read(weft_e2e::guest("hello-activities")).unwrap(),
    );
    assert_eq!(code, 400, "{v}");
}

/// Issue 16: activity names were global and the last deploy won, silently:
/// a component of another team that also served `greet` took it over from
/// `hello-activities`, and nothing said which module served an attempt.
/// Now a deploy that would take some of another component's names is
/// refused (409, naming the names, the module and the flag) and moves
/// nothing; with `--replace-activities` it moves them and says so; and
/// every activity's end records the module that served it.
#[test]
fn a_deploy_that_would_take_another_components_activities_is_refused_unless_asked() {
    let host = Host::start();
    host.deploy_examples();
    let rival = weft_e2e::guest("rival-activities");
    let out = host.cli(&["deploy", &rival.to_string_lossy()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("`greet` is served by module") && err.contains("--replace-activities"),
        "{err}"
    );
    let (status, v) = host.post_bytes("/v1/modules", std::fs::read(&rival).unwrap());
    assert_eq!(status, 409, "{v}");

    // Nothing moved: `greet` is still hello-activities'.
    let (id, r) = host.run_execution("hello", json!({"name": "ann"}));
    assert_eq!(r["output"], "HELLO, ANN!", "{r}");
    let hello_module = host.get("/v1/modules")["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["activities"].as_array().is_some_and(|a| a.len() > 2))
        .map(|m| m["hash"].as_str().unwrap().to_owned())
        .expect("hello-activities is deployed");
    let done = events(&host, &id, "activity_completed");
    assert_eq!(
        done[0]["event"]["served_by"],
        format!("module:{hello_module}"),
        "{done:?}"
    );
    let text = host.cli_ok(&["history", &id]);
    assert!(
        text.contains(&format!("by module {}", &hello_module[..12])),
        "{text}"
    );

    // Asked for: it moves, and says which names left which module.
    let out = host.cli_ok(&["deploy", &rival.to_string_lossy(), "--replace-activities"]);
    assert!(
        out.contains(&format!(
            "moved: activity greet was served by module {}",
            &hello_module[..12]
        )),
        "{out}"
    );
    let (_, r) = host.run_execution("hello", json!({"name": "bo"}));
    assert_eq!(r["output"], "RIVAL GREETS BO!", "{r}");
}

/// Issue 16: an activity name that nothing serves retried for ever without
/// a word. Now the host says so when it is scheduled, `weft describe` shows
/// it as unserved, and deploying a component that serves it lets the next
/// attempt run.
#[test]
fn an_activity_nothing_serves_is_said_so_and_runs_once_deployed() {
    let host = Host::start();
    host.cli_ok(&["deploy", &weft_e2e::guest("hello").to_string_lossy()]);
    let id = host.start_execution("hello", json!({"name": "later"}));
    host.eventually("the first attempt failed", |h| failed_attempts(h, &id) == 1);
    let pending = host.describe(&id)["pending_activities"][0].clone();
    assert_eq!(pending["unserved"], true, "{pending}");
    assert_eq!(
        pending["last_failure"]["kind"], "activity-not-found",
        "{pending}"
    );
    let text = host.cli_ok(&["describe", &id]);
    assert!(
        text.contains("no deployed component serves `greet`"),
        "{text}"
    );
    host.wait_for_log(
        "no deployed activity component serves this name",
        1,
        Duration::from_secs(10),
    );
    host.cli_ok(&[
        "deploy",
        &weft_e2e::guest("hello-activities").to_string_lossy(),
    ]);
    assert_eq!(
        host.describe(&id)["pending_activities"][0]["unserved"],
        false
    );
    host.advance(1_000);
    assert_eq!(host.wait_result(&id)["output"], "HELLO, LATER!");
}

/// Found by a review of the task queues: a worker's poll that had
/// recorded its task as taken handed it out even when the activity was
/// cancelled between that record and the hand-over. The cancellation found
/// no attempt running and recorded the activity cancelled, never started;
/// the worker got the task all the same (and would run its side effect,
/// every answer refused as stale). The poll is held after its record while
/// the execution (and so its activity) is cancelled.
#[test]
fn a_task_cancelled_as_a_worker_takes_it_is_not_handed_out() {
    let host = Host::paused_at(
        &["--route-activity", "greet=greeters"],
        &["task-taken-recorded", "activity-stopped"],
    );
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "late"}));
    let poll = {
        let url = format!("{}/v1/task-queues/greeters/poll?wait_ms=2000", host.url);
        std::thread::spawn(move || {
            let resp = weft_e2e::http().post(url).send().expect("the poll");
            (resp.status().as_u16(), resp.text().unwrap_or_default())
        })
    };
    let pause = Duration::from_secs(30);
    host.wait_for_log("paused at task-taken-recorded", 1, pause);
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/cancel"),
        Some(json!({})),
    );
    assert_eq!(code, 202, "{v}");
    host.wait_for_log("paused at activity-stopped", 1, pause);
    host.release("task-taken-recorded");
    let (status, task) = poll.join().expect("the poll call");
    host.release("activity-stopped");
    assert_eq!(
        status, 204,
        "a cancelled activity's task handed out: {task}"
    );
    assert_eq!(
        events(&host, &id, "activity_failed").len(),
        1,
        "greet ended cancelled"
    );
    assert_ne!(host.wait_result(&id)["status"], "completed");
}

/// A task a worker took outlives a crash of the host that handed it out:
/// the token is recorded before the worker gets it, so after a SIGKILL and
/// a restart the worker's heartbeat and answer are taken (not refused as
/// stale), and the task is not queued again for a second worker. Before,
/// the restarted host queued it again at once: a second worker ran it, and
/// the first one's answer was refused.
#[test]
fn a_task_a_worker_took_survives_a_sigkill_of_the_host() {
    let mut host = Host::with_args(&["--manual-clock", "--route-activity", "greet=greeters"]);
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "worker"}));
    let (status, task) = weft_e2e::poll_greeters(&host, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token").to_owned();
    host.kill_and_restart();
    // Asked at once: the restarted host may not have resumed the task yet.
    let (status, v) = host.call(
        "POST",
        &format!("/v1/tasks/{token}/heartbeat"),
        Some(json!({"details": "half"})),
    );
    assert_eq!(status, 200, "the worker's heartbeat after the restart: {v}");
    assert_eq!(v["cancel_requested"], false, "{v}");
    // Describe says the worker has it (adopted), on a store of one host
    // with no partition.
    let d = host.describe(&id);
    let greet = &d["pending_activities"][0];
    assert_eq!(greet["task_queue"], "greeters", "{d}");
    assert_eq!(greet["taken_by_worker"], true, "{d}");
    assert!(d.get("partition").is_none(), "{d}");
    // Nobody else gets the task.
    assert_eq!(
        weft_e2e::poll_greeters(&host, 200).0,
        204,
        "greet was queued again"
    );
    let (status, v) = host.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "Hello, worker"})),
    );
    assert_eq!(status, 200, "the worker's answer after the restart: {v}");
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(r["output"], "HELLO, WORKER!", "{r}");
    assert!(
        events(&host, &id, "activity_attempt_failed").is_empty(),
        "one attempt"
    );
    assert_eq!(weft_e2e::poll_greeters(&host, 200).0, 204);
    // The answer was taken once: the token is spent.
    let (status, v) = host.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "again"})),
    );
    assert_eq!(status, 404, "{v}");
}

/// Found by a review of the worker paths: a task a worker took, on a host
/// restarted without the `--route-activity` that sent it to the worker
/// (an operator moving the activity back to its component), was run again
/// by the component while the worker still ran it, and the worker's answer
/// was refused. The attempt a worker took is the worker's: it is adopted
/// under its token whatever the route says now; later attempts follow the
/// route.
#[test]
fn a_task_a_worker_took_stays_the_workers_when_its_route_is_removed() {
    let mut host = Host::with_args(&["--manual-clock", "--route-activity", "greet=greeters"]);
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "worker"}));
    let (status, task) = weft_e2e::poll_greeters(&host, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token").to_owned();
    host.kill();
    host.set_args(&["--manual-clock"]);
    host.spawn();
    let (status, v) = host.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "Hello from the worker"})),
    );
    assert_eq!(status, 200, "the worker's answer after the restart: {v}");
    let r = host.wait_result(&id);
    assert_eq!(r["output"], "HELLO FROM THE WORKER!", "{r}");
    // greet (the worker's), then shout and exclaim (their components).
    let served: Vec<Value> = events(&host, &id, "activity_completed")
        .iter()
        .map(|e| e["event"]["served_by"].clone())
        .collect();
    assert_eq!(served.len(), 3, "{served:?}");
    assert_eq!(served[0], "queue:greeters", "{served:?}");
    assert!(
        served[1..]
            .iter()
            .all(|s| s.as_str().is_some_and(|s| s.starts_with("module:"))),
        "{served:?}"
    );
}

/// Found by a review of the worker paths: a task a worker took, whose
/// record could not be read when the host came back (a cut connection, a
/// disk error), was queued again under a new token: a second worker took
/// it and ran it too, and the first worker's answer was refused. The read
/// is asked again until the store answers.
#[test]
fn a_task_a_worker_took_is_not_queued_again_when_its_record_cannot_be_read() {
    let mut host = Host::with_args(&["--manual-clock", "--route-activity", "greet=greeters"]);
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "worker"}));
    let (status, task) = weft_e2e::poll_greeters(&host, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token").to_owned();
    host.kill();
    host.fail_at(&["attempt-context"]);
    host.spawn();
    host.wait_for_log("failing at attempt-context", 1, Duration::from_secs(30));
    assert_eq!(
        weft_e2e::poll_greeters(&host, 500).0,
        204,
        "greet was queued again"
    );
    let (status, v) = host.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "Hello, worker"})),
    );
    assert_eq!(status, 200, "the worker's answer after the restart: {v}");
    let r = host.wait_result(&id);
    assert_eq!(r["output"], "HELLO, WORKER!", "{r}");
    assert!(
        events(&host, &id, "activity_attempt_failed").is_empty(),
        "one attempt"
    );
}

/// Found by a review of the worker paths: a worker's answer that came as
/// the activity's schedule-to-close deadline was being recorded waited in
/// its attempt, was thrown away with it, and the worker was answered 200
/// (the host found the task's record gone, as after a recorded answer):
/// it was told its result counted, while the activity failed with the
/// timeout. An answer its attempt never took is refused as stale. The
/// deadline's branch is held while the answer comes in.
#[test]
fn an_answer_its_attempt_never_took_is_refused_not_acknowledged() {
    let host = Host::paused_at(
        &["--manual-clock", "--route-activity", "check_ready=greeters"],
        &["schedule-to-close-fired"],
    );
    host.deploy_examples();
    let id = host.start_execution("polling", json!({"mode": "schedule-to-close"}));
    let (status, task) = weft_e2e::poll_greeters(&host, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token").to_owned();
    host.advance(151_000);
    let timeout = Duration::from_secs(30);
    host.wait_for_log("paused at schedule-to-close-fired", 1, timeout);
    std::thread::scope(|s| {
        let answer = s.spawn(|| {
            host.call(
                "POST",
                &format!("/v1/tasks/{token}/complete"),
                Some(json!({"output": true})),
            )
        });
        host.wait_for_log("a worker's answer waits for its record", 1, timeout);
        host.release("schedule-to-close-fired");
        let (status, v) = answer.join().expect("the answer");
        assert_eq!(status, 404, "the answer counted for nothing: {v}");
    });
    let r = host.wait_result(&id);
    assert_eq!(r["status"], "failed", "{r}");
}

/// A worker's answer is acknowledged only once it is recorded: the host is
/// SIGKILLed after it took the answer and before it wrote the end, so the
/// worker gets no reply, sends the answer again to the restarted host under
/// the same token, and it counts once. Before, the host replied 200 at once
/// and the answer died with it: the task ran again after a timeout.
#[test]
fn a_workers_answer_is_acknowledged_once_it_is_recorded() {
    let mut host = Host::paused_at(
        &["--manual-clock", "--route-activity", "greet=greeters"],
        &["activity-ended"],
    );
    host.deploy_examples();
    let id = host.start_execution("hello", json!({"name": "worker"}));
    let (status, task) = weft_e2e::poll_greeters(&host, 30_000);
    assert_eq!(status, 200, "{task}");
    let token = task["token"].as_str().expect("a token").to_owned();
    let answer = weft_e2e::complete_in_background(&host.url, &token, json!("Hello, worker"));
    host.wait_for_log("paused at activity-ended", 1, Duration::from_secs(30));
    host.clear_pause_points();
    host.kill_and_restart();
    let first = answer.join().expect("the answer's thread");
    assert!(
        first.is_err(),
        "the answer was acknowledged before its record: {first:?}"
    );
    let (status, v) = host.call(
        "POST",
        &format!("/v1/tasks/{token}/complete"),
        Some(json!({"output": "Hello, worker"})),
    );
    assert_eq!(status, 200, "the answer sent again: {v}");
    let r = host.wait_result(&id);
    assert_eq!(r["output"], "HELLO, WORKER!", "{r}");
    assert!(
        events(&host, &id, "activity_attempt_failed").is_empty(),
        "one attempt"
    );
}
