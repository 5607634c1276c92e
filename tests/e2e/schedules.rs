//! Issue 19: schedules on the host's clock. Every test runs on a manual
//! clock, so hours and months of schedule time take milliseconds.

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{guest, Host};

const HOUR: u64 = 3_600_000;

fn host() -> Host {
    let host = Host::start();
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    host
}

fn now(host: &Host) -> u64 {
    host.get("/v1/clock")["now_ms"].as_u64().unwrap()
}

/// Moves the manual clock to `target` (RFC 3339).
fn advance_to(host: &Host, target: &str) {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", target, "+%s%3N"])
        .output()
        .unwrap();
    let ms: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let now = now(host);
    assert!(ms > now, "{target} is not ahead of the clock");
    host.advance(ms - now);
}

fn create(host: &Host, body: Value) -> Value {
    let (code, v) = host.call("POST", "/v1/schedules", Some(body));
    assert_eq!(code, 201, "{v}");
    v
}

fn schedule(host: &Host, name: &str) -> Value {
    host.get(&format!("/v1/schedules/{name}"))
}

/// The ids of the executions a schedule started, oldest first.
fn started(host: &Host, prefix: &str) -> Vec<String> {
    let mut ids: Vec<String> = host
        .list_all("")
        .into_iter()
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .filter(|id| id.starts_with(&format!("{prefix}-")))
        .collect();
    ids.sort();
    ids
}

fn ok_action() -> Value {
    json!({"workflow_type": "misbehave", "input": {"mode": "ok"}})
}

#[test]
fn a_cron_in_a_time_zone_reads_clock_times_literally_across_daylight_saving_changes() {
    let host = host();
    // Berlin springs forward on 2027-03-28 (02:00 -> 03:00): no 02:30.
    advance_to(&host, "2027-03-26T12:00:00Z");
    create(
        &host,
        json!({"name": "spring", "spec": {"cron": ["30 2 * * *"], "time_zone": "Europe/Berlin"},
               "action": ok_action(), "policies": {"overlap": "allow-all"}}),
    );
    advance_to(&host, "2027-03-30T00:00:00Z");
    let want = vec![
        "spring-2027-03-27T01:30:00Z".to_string(),
        // 02:30 in summer time is 00:30 UTC.
        "spring-2027-03-29T00:30:00Z".to_string(),
    ];
    host.eventually("the spring times", |h| started(h, "spring") == want);
    for id in &want {
        assert_eq!(host.wait_result(id)["output"], json!("fine"));
    }
    assert_eq!(host.call("DELETE", "/v1/schedules/spring", None).0, 204);

    // And falls back on 2027-10-31 (03:00 -> 02:00): 02:30 comes twice.
    advance_to(&host, "2027-10-30T12:00:00Z");
    let v = create(
        &host,
        json!({"name": "autumn", "spec": {"cron": ["30 2 * * *"], "time_zone": "Europe/Berlin"},
               "action": ok_action(), "policies": {"overlap": "allow-all"}}),
    );
    let next: Vec<u64> = v["next_times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["nominal_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(next[1] - next[0], HOUR, "the repeated hour: {v}");
    advance_to(&host, "2027-11-01T12:00:00Z");
    let want = vec![
        "autumn-2027-10-31T00:30:00Z".to_string(),
        "autumn-2027-10-31T01:30:00Z".to_string(),
        "autumn-2027-11-01T01:30:00Z".to_string(),
    ];
    host.eventually("the autumn times", |h| started(h, "autumn") == want);
}

#[test]
fn each_overlap_policy_does_what_it_says_with_a_workflow_that_outlives_its_interval() {
    let host = host();
    let sleeper = json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}});
    let policies = [
        "skip",
        "buffer-one",
        "buffer-all",
        "cancel-other",
        "terminate-other",
        "allow-all",
    ];
    for p in policies {
        create(
            &host,
            json!({"name": format!("ov-{p}"), "spec": {"intervals": [{"every_ms": 10_000}]},
                   "action": sleeper, "policies": {"overlap": p}}),
        );
    }
    // Three times come, 10 s apart, while each sleeper sleeps 60 s. A
    // replacing policy's action waits (pending) until the one it replaces
    // ended, with no clock move: it must have started before the next time
    // comes, or the two would come at once and only the newer would start.
    for tick in 1..=3u64 {
        host.advance(10_000);
        host.eventually("every schedule took its time", |h| {
            policies.iter().all(|p| {
                let s = schedule(h, &format!("ov-{p}"));
                let st = &s["state"];
                let waiting = match *p {
                    "cancel-other" | "terminate-other" => 0,
                    _ => st["pending"].as_array().unwrap().len() as u64,
                };
                let handled = st["actions_taken"].as_u64().unwrap()
                    + st["skipped_overlap"].as_u64().unwrap()
                    + waiting;
                handled >= tick
            })
        });
    }
    let state = |p: &str| schedule(&host, &format!("ov-{p}"))["state"].clone();
    let status = |id: &str| host.describe(id)["status"].as_str().unwrap().to_owned();

    let skip = state("skip");
    assert_eq!(skip["actions_taken"], 1, "{skip}");
    assert_eq!(skip["skipped_overlap"], 2, "{skip}");

    let one = state("buffer-one");
    assert_eq!(one["actions_taken"], 1, "{one}");
    assert_eq!(one["pending"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["skipped_overlap"], 1, "{one}");

    let all = state("buffer-all");
    assert_eq!(all["actions_taken"], 1, "{all}");
    assert_eq!(all["pending"].as_array().unwrap().len(), 2, "{all}");

    let allow = state("allow-all");
    assert_eq!(allow["actions_taken"], 3, "{allow}");
    assert_eq!(allow["running"].as_array().unwrap().len(), 3, "{allow}");

    let term = started(&host, "ov-terminate-other");
    assert_eq!(term.len(), 3, "{term:?}");
    assert_eq!(status(&term[0]), "terminated");
    assert_eq!(status(&term[1]), "terminated");
    assert_eq!(status(&term[2]), "running");

    // cancel-other asked each earlier one to cancel; the sleeper ends
    // cancelled at its wait and the next starts.
    host.eventually("cancel-other started the third", |h| {
        started(h, "ov-cancel-other").len() == 3
    });
    let cancel = started(&host, "ov-cancel-other");
    host.eventually("the first two cancelled", |_| {
        status(&cancel[0]) == "cancelled" && status(&cancel[1]) == "cancelled"
    });
    assert_eq!(status(&cancel[2]), "running");

    // The sleepers wake after 60 s: the buffered ones start in turn.
    host.advance(60_000);
    host.eventually("buffer-one started the one it kept", |h| {
        state_of(h, "ov-buffer-one")["actions_taken"] == 2
    });
    let kept = started(&host, "ov-buffer-one");
    assert_eq!(kept.len(), 2, "{kept:?}");
    host.eventually("buffer-all started the next one", |h| {
        state_of(h, "ov-buffer-all")["actions_taken"]
            .as_u64()
            .unwrap()
            >= 2
    });
}

fn state_of(host: &Host, name: &str) -> Value {
    schedule(host, name)["state"].clone()
}

#[test]
fn times_missed_while_the_host_was_down_are_caught_up_inside_the_window_only() {
    let mut host = host();
    let every_hour = json!({"intervals": [{"every_ms": HOUR}]});
    create(
        &host,
        json!({"name": "wide", "spec": every_hour, "action": ok_action(),
               "policies": {"overlap": "buffer-all"}}),
    );
    create(
        &host,
        json!({"name": "narrow", "spec": every_hour, "action": ok_action(),
               "policies": {"overlap": "buffer-all", "catchup_window_ms": 90 * 60_000}}),
    );
    // The host goes down; three hours pass before it looks again.
    host.kill_and_restart();
    let start = now(&host);
    let first = (start / HOUR + 1) * HOUR;
    host.advance(first + 2 * HOUR + 10 * 60_000 - start);
    host.eventually("wide caught up all three", |h| {
        state_of(h, "wide")["actions_taken"] == 3
    });
    host.eventually("narrow caught up two", |h| {
        let st = state_of(h, "narrow");
        st["actions_taken"] == 2 && st["missed_catchup"] == 1
    });
    let narrow = started(&host, "narrow");
    assert_eq!(narrow.len(), 2, "{narrow:?}");
    assert!(narrow[0].ends_with(&nominal(first + HOUR)), "{narrow:?}");
    for id in started(&host, "wide") {
        assert_eq!(host.wait_result(&id)["status"], "completed");
    }
}

fn nominal(ms: u64) -> String {
    let out = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("@{}", ms / 1000),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn a_sigkill_right_after_a_scheduled_start_starts_that_time_exactly_once() {
    let mut host = Host::paused_at(&["--manual-clock"], &["schedule-started"]);
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    // Hourly: a restart sets a manual clock to the system's time when that
    // is later, and a slow machine may spend a minute between the start
    // and the restart; never an hour.
    create(
        &host,
        json!({"name": "once", "spec": {"intervals": [{"every_ms": 3_600_000}]},
               "action": ok_action(), "policies": {"overlap": "allow-all"}}),
    );
    host.advance(3_600_000);
    host.wait_for_log(
        "paused at schedule-started",
        1,
        std::time::Duration::from_secs(30),
    );
    host.kill();
    host.clear_pause_points();
    host.spawn();
    // The host looks at its schedules again at start, and the clock moves
    // on by less than an interval.
    host.advance(1_000);
    host.eventually("the schedule settled", |h| {
        state_of(h, "once")["running"]
            .as_array()
            .unwrap()
            .is_empty()
    });
    let ids = started(&host, "once");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(host.wait_result(&ids[0])["output"], json!("fine"));
    let st = state_of(&host, "once");
    assert_eq!(st["actions_taken"], 1, "{st}");
    assert_eq!(st["recent"][0]["outcome"], "completed", "{st}");
}

#[test]
fn pause_trigger_backfill_limits_jitter_and_deletion_work_from_the_cli() {
    let host = host();
    let out = host.cli_ok(&[
        "schedule",
        "create",
        "ops",
        "--workflow",
        "misbehave",
        "--input",
        r#"{"mode": "ok"}"#,
        "--every",
        "1h",
        "--jitter",
        "5m",
        "--remaining-actions",
        "2",
        "--overlap",
        "allow-all",
    ]);
    assert!(out.contains("schedule ops created"), "{out}");
    let s = schedule(&host, "ops");
    for n in s["next_times"].as_array().unwrap() {
        let (nominal, at) = (
            n["nominal_ms"].as_u64().unwrap(),
            n["at_ms"].as_u64().unwrap(),
        );
        assert!(at >= nominal && at - nominal <= 5 * 60_000, "{n}");
    }
    let first_at = s["next_times"][0]["at_ms"].as_u64().unwrap();
    let first_nominal = s["next_times"][0]["nominal_ms"].as_u64().unwrap();
    // Not before its jittered time.
    host.advance(first_at - now(&host) - 1);
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(started(&host, "ops").is_empty());
    host.advance(1);
    host.eventually("the first action", |h| started(h, "ops").len() == 1);
    assert_eq!(
        started(&host, "ops")[0],
        format!("ops-{}", nominal(first_nominal))
    );

    // Paused: the next hour passes without an action. (Each step moves
    // the clock past the jitter of the hour it comes to.)
    host.cli_ok(&["schedule", "pause", "ops", "--note", "maintenance"]);
    host.advance(HOUR + 5 * 60_000);
    let text = host.cli_ok(&["schedule", "describe", "ops"]);
    assert!(text.contains("paused (maintenance)"), "{text}");
    host.eventually("the paused hour dropped", |h| {
        state_of(h, "ops")["cursor_ms"].as_u64().unwrap() >= first_nominal + HOUR
    });
    assert_eq!(started(&host, "ops").len(), 1);

    // Unpaused: one more scheduled action, then its limit is reached.
    host.cli_ok(&["schedule", "unpause", "ops"]);
    host.advance(HOUR);
    host.eventually("the second action", |h| started(h, "ops").len() == 2);
    assert_eq!(state_of(&host, "ops")["remaining_actions"], 0);
    host.advance(HOUR);
    host.eventually("the limited hour passed", |h| {
        state_of(h, "ops")["cursor_ms"].as_u64().unwrap() >= first_nominal + 3 * HOUR
    });
    assert_eq!(started(&host, "ops").len(), 2);

    // A trigger acts anyway (limits count scheduled actions only); two in
    // the same millisecond are two actions.
    host.cli_ok(&["schedule", "trigger", "ops"]);
    host.cli_ok(&["schedule", "trigger", "ops"]);
    host.eventually("the triggered actions", |h| started(h, "ops").len() == 4);

    // A backfill of the first three hours: the paused hour runs now; the
    // two that ran are not started again.
    let start = nominal(first_nominal);
    let end = nominal(first_nominal + 2 * HOUR);
    let out = host.cli_ok(&[
        "schedule", "backfill", "ops", "--start", &start, "--end", &end,
    ]);
    assert!(out.contains("3 times queued"), "{out}");
    // Every backfilled time is done with (started or skipped), not only
    // the one that starts: the skips are recorded as the queue drains.
    host.eventually("the backfilled hour", |h| {
        started(h, "ops").len() == 5
            && state_of(h, "ops")["pending"]
                .as_array()
                .is_some_and(|p| p.is_empty())
    });
    assert!(started(&host, "ops").contains(&format!("ops-{}", nominal(first_nominal + HOUR))));
    let st = state_of(&host, "ops");
    let skipped = st["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["outcome"].as_str().unwrap().contains("exists"))
        .count();
    assert_eq!(skipped, 2, "{st}");

    // An update changes what it names and keeps the rest; a bound given as
    // a duration is ahead of now.
    host.cli_ok(&[
        "schedule", "update", "ops", "--every", "2h", "--end-at", "30d",
    ]);
    let s = schedule(&host, "ops");
    assert_eq!(s["action"]["workflow_type"], "misbehave", "{s}");
    assert_eq!(s["action"]["input"], json!({"mode": "ok"}), "{s}");
    assert_eq!(s["spec"]["intervals"][0]["every_ms"], 2 * HOUR, "{s}");
    assert_eq!(s["spec"]["jitter_ms"], 5 * 60_000, "{s}");
    assert!(
        s["spec"]["end_at_ms"].as_u64().unwrap() > now(&host) + 29 * 24 * HOUR,
        "{s}"
    );
    assert!(!s["next_times"].as_array().unwrap().is_empty(), "{s}");
    let text = host.cli_ok(&["schedule", "describe", "ops"]);
    assert!(
        text.contains("between:") && text.contains("every 2h"),
        "{text}"
    );

    let list = host.cli_ok(&["schedule", "list"]);
    assert!(list.contains("ops") && list.contains("misbehave"), "{list}");
    host.cli_ok(&["schedule", "delete", "ops"]);
    let out = host.cli(&["schedule", "describe", "ops"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no schedule named"));
}

#[test]
fn a_failed_action_pauses_a_schedule_that_asks_for_it() {
    let host = host();
    create(
        &host,
        json!({"name": "fragile", "spec": {"cron": ["@hourly"]},
               "action": {"workflow_type": "misbehave", "input": {"mode": "fail"}},
               "policies": {"pause_on_failure": true}}),
    );
    host.advance(HOUR);
    host.eventually("paused on failure", |h| {
        state_of(h, "fragile")["paused"] == true
    });
    let st = state_of(&host, "fragile");
    assert!(st["note"].as_str().unwrap().contains("failed"), "{st}");
    assert_eq!(st["recent"][0]["outcome"], "failed", "{st}");
    host.advance(HOUR);
    host.eventually("the paused hour passed", |h| {
        state_of(h, "fragile")["cursor_ms"].as_u64().unwrap() > now(h) - HOUR
    });
    assert_eq!(started(&host, "fragile").len(), 1);
}

#[test]
fn bad_schedules_are_refused_with_the_field_named() {
    let host = host();
    let refused = |body: Value, code: u16, needle: &str| {
        let (got, v) = host.call("POST", "/v1/schedules", Some(body));
        assert_eq!(got, code, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(needle), "{needle:?} in {msg}");
    };
    let with = |spec: Value| json!({"name": "bad", "spec": spec, "action": ok_action()});
    refused(with(json!({"cron": ["61 * * * *"]})), 400, "spec.cron[0]");
    refused(
        with(json!({"calendars": [{"hour": "25"}]})),
        400,
        "spec.calendars[0].hour",
    );
    refused(
        with(json!({"cron": ["@daily"], "time_zone": "Mars/Olympus"})),
        400,
        "spec.time_zone",
    );
    refused(with(json!({})), 400, "names no time");
    refused(
        with(json!({"intervals": [{"every_ms": 10}]})),
        400,
        "spec.intervals[0].every_ms",
    );
    refused(
        json!({"name": "bad", "spec": {"cron": ["@daily"]}, "action": ok_action(),
               "policies": {"catchup_window_ms": 1000}}),
        400,
        "policies.catchup_window_ms",
    );
    refused(
        json!({"name": "bad", "spec": {"cron": ["@daily"]},
               "action": {"workflow_type": "nope"}}),
        404,
        "nope",
    );
    refused(
        json!({"name": "bad", "spec": {"cron": ["@daily"]}, "action": ok_action(), "colour": 1}),
        400,
        "colour",
    );
    refused(
        json!({"name": "no spaces", "spec": {"cron": ["@daily"]}, "action": ok_action()}),
        400,
        "schedule name",
    );
    create(&host, with(json!({"cron": ["@daily"]})));
    refused(with(json!({"cron": ["@daily"]})), 409, "exists");
}

#[test]
fn the_readmes_schedule_examples_work_as_written() {
    let host = Host::start();
    host.deploy_examples();
    let readme = std::fs::read_to_string(weft_e2e::repo().join("README.md")).unwrap();
    let section = readme
        .split("## Schedules")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README has a Schedules section");
    let curl = section
        .lines()
        .find(|l| l.starts_with("curl "))
        .expect("a curl example");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{} -o /dev/null -w '%{{http_code}}'",
            curl.replace("http://127.0.0.1:7700", &host.url)
        ))
        .output()
        .expect("curl runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "201");
    let s = schedule(&host, "nightly");
    assert_eq!(s["spec"]["time_zone"], "Europe/Berlin", "{s}");
    // The CLI recipes of the overlap policies: each creates its schedule.
    let recipes = section.lines().filter(|l| {
        l.starts_with("weft schedule create")
            && !l.trim_end().ends_with('\\')
            && !l.contains("--file")
    });
    for line in recipes {
        let line = line.split("  #").next().unwrap();
        let words: Vec<String> = line
            .split_whitespace()
            .skip(1)
            .map(|w| w.trim_matches('"').to_owned())
            .collect();
        // `--cron "@hourly"` is one word once unquoted; the recipes use
        // deployed types of their own, so point them at `hello`.
        let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
        if let Some(i) = args.iter().position(|w| *w == "--workflow") {
            args[i + 1] = "hello";
        }
        host.cli_ok(&args);
    }
    let list = host.get("/v1/schedules");
    let overlaps: Vec<&str> = list["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["policies"]["overlap"].as_str().unwrap())
        .collect();
    for p in [
        "skip",
        "buffer-one",
        "buffer-all",
        "cancel-other",
        "terminate-other",
        "allow-all",
    ] {
        assert!(overlaps.contains(&p), "{p} in {overlaps:?}");
    }
}

/// Found in review: the policies hold when times come together, when the
/// schedule is paused with actions queued, and when terminate-other ends
/// its own executions under pause-on-failure.
#[test]
fn queued_actions_follow_the_policy_and_the_pause() {
    let host = host();
    let sleeper = json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}});
    let every = json!({"intervals": [{"every_ms": 10_000}]});
    create(
        &host,
        json!({"name": "one", "spec": every, "action": sleeper,
               "policies": {"overlap": "buffer-one"}}),
    );
    create(
        &host,
        json!({"name": "all", "spec": every, "action": sleeper,
               "policies": {"overlap": "buffer-all"}}),
    );
    create(
        &host,
        json!({"name": "term", "spec": every, "action": sleeper,
               "policies": {"overlap": "terminate-other", "pause_on_failure": true}}),
    );
    // Three times at once (as after an outage): buffer-one starts one, keeps
    // one and drops one, as stored (not only in memory).
    host.advance(30_000);
    host.eventually("buffer-one took the three", |h| {
        let st = state_of(h, "one");
        st["actions_taken"] == 1
            && st["pending"].as_array().unwrap().len() == 1
            && st["skipped_overlap"] == 1
    });
    host.eventually("buffer-all queued two", |h| {
        state_of(h, "all")["pending"].as_array().unwrap().len() == 2
    });
    // terminate-other started only the newest of the three; the next time
    // replaces it, and the execution it terminated does not pause it.
    host.eventually("terminate-other ran the last", |h| {
        started(h, "term").len() == 1 && state_of(h, "term")["skipped_overlap"] == 2
    });
    host.advance(10_000);
    host.eventually("terminate-other replaced it", |h| {
        started(h, "term").len() == 2
    });
    let st = state_of(&host, "term");
    assert_eq!(st["paused"], false, "{st}");

    // Paused with actions queued: none of them starts when the running one
    // ends.
    let (code, v) = host.call("POST", "/v1/schedules/all/pause", None);
    assert_eq!(code, 200, "{v}");
    host.advance(60_000);
    host.eventually("the queue dropped while paused", |h| {
        let st = state_of(h, "all");
        st["pending"].as_array().unwrap().is_empty() && st["running"].as_array().unwrap().is_empty()
    });
    assert_eq!(started(&host, "all").len(), 1);
}

/// Issue 20: a schedule's action gives each execution it starts search
/// attributes and a memo (names the host knows, checked when the schedule
/// is made), so `weft list --query` finds what a schedule started.
#[test]
fn a_schedule_starts_its_executions_with_search_attributes_and_memo() {
    let host = host();
    let refused = host.cli(&[
        "schedule",
        "create",
        "tagged",
        "--workflow",
        "misbehave",
        "--input",
        r#"{"mode": "ok"}"#,
        "--every",
        "1h",
        "--search-attribute",
        "Team=billing",
    ]);
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("action.search_attributes")
            && said.contains("no search attribute named Team"),
        "{said}"
    );
    host.cli_ok(&["search-attributes", "create", "Team", "keyword"]);
    host.cli_ok(&[
        "schedule",
        "create",
        "tagged",
        "--workflow",
        "misbehave",
        "--input",
        r#"{"mode": "ok"}"#,
        "--every",
        "1h",
        "--search-attribute",
        "Team=billing",
        "--memo",
        r#"owner={"name": "ada"}"#,
    ]);
    let shown = host.cli_ok(&["schedule", "describe", "tagged"]);
    assert!(shown.contains("search:      Team = \"billing\""), "{shown}");
    host.cli_ok(&["schedule", "trigger", "tagged"]);
    host.eventually("the triggered action", |h| started(h, "tagged").len() == 1);
    let id = started(&host, "tagged").remove(0);
    let d = host.describe(&id);
    assert_eq!(
        d["search_attributes"]["Team"],
        json!({"type": "keyword", "value": "billing"}),
        "{d}"
    );
    assert_eq!(d["memo"]["owner"], json!({"name": "ada"}), "{d}");
    assert_eq!(host.query_ids("Team = 'billing'"), vec![id]);
}

/// Found by a review of the schedules: times that came at once (the clock
/// moved many periods, or a catch-up after downtime) under `cancel-other`
/// or `terminate-other` each started an execution only for the next to
/// cancel or terminate it, after its first steps had run. The newest now
/// replaces them all: one starts, the others are skipped.
#[test]
fn times_that_come_at_once_under_a_replacing_policy_start_only_the_newest() {
    let host = host();
    let sleeper = json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}});
    for p in ["cancel-other", "terminate-other"] {
        create(
            &host,
            json!({"name": format!("at-once-{p}"), "spec": {"intervals": [{"every_ms": 10_000}]},
                   "action": sleeper, "policies": {"overlap": p}}),
        );
    }
    // Three times pass in one move of the clock.
    host.advance(30_000);
    for p in ["cancel-other", "terminate-other"] {
        let name = format!("at-once-{p}");
        host.eventually("the schedule took its three times", |h| {
            let st = &schedule(h, &name)["state"];
            st["actions_taken"].as_u64().unwrap() + st["skipped_overlap"].as_u64().unwrap() >= 3
        });
        let st = state_of(&host, &name);
        assert_eq!(st["actions_taken"], 1, "{p}: {st}");
        assert_eq!(st["skipped_overlap"], 2, "{p}: {st}");
        let ids = started(&host, &name);
        assert_eq!(ids.len(), 1, "{p}: {ids:?}");
        assert_eq!(host.describe(&ids[0])["status"], "running", "{p}");
    }
}

/// Found by a review of the schedules: time skipping could move the clock
/// past a schedule's next time while the scheduler was busy with the time
/// before (its next time not listed with the clock yet, its work not
/// counted): a test skipping through a scheduled workflow saw times passed
/// over. The scheduler is held inside its evaluation, after a start; a skip
/// then waits for it instead of jumping to the started workflow's timer,
/// and the next skip stops at the schedule's next time.
#[test]
fn time_skipping_waits_for_the_scheduler_and_stops_at_its_next_time() {
    let host = Host::paused_at(&["--manual-clock"], &["schedule-started"]);
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    create(
        &host,
        json!({"name": "tick", "spec": {"intervals": [{"every_ms": 10_000}]},
               "action": {"workflow_type": "misbehave", "input": {"mode": "sleep"}},
               "policies": {"overlap": "allow-all"}}),
    );
    let skip = |wait_ms: u64| {
        let (status, v) = host.call("POST", "/v1/clock/skip", Some(json!({"wait_ms": wait_ms})));
        assert_eq!(status, 200, "{v}");
        v
    };
    let before = now(&host);
    let first = skip(5_000);
    let at = first["now_ms"].as_u64().unwrap();
    assert!(at > before && at <= before + 10_000, "{first}");
    host.wait_for_log(
        "paused at schedule-started",
        1,
        std::time::Duration::from_secs(30),
    );
    // The scheduler is still at work: the clock stays.
    let held = skip(500);
    assert_eq!(held["held"], "busy", "{held}");
    assert_eq!(now(&host), at);
    host.release("schedule-started");
    let next = skip(5_000);
    assert_eq!(next["now_ms"].as_u64(), Some(at + 10_000), "{next}");
}

/// A trigger retried after its answer was lost took a second action (a
/// second execution). With a `request_id` a trigger acts once: the retry is
/// answered with the schedule, marked `duplicate`; from the CLI too.
#[test]
fn a_trigger_sent_again_with_its_request_id_acts_once() {
    let host = host();
    create(
        &host,
        json!({"name": "trig", "spec": {"intervals": [{"every_ms": HOUR}]}, "action": ok_action()}),
    );
    let body = json!({"request_id": "t-1"});
    let (code, first) = host.call("POST", "/v1/schedules/trig/trigger", Some(body.clone()));
    assert_eq!(code, 200, "{first}");
    assert_eq!(first.get("duplicate"), None, "{first}");
    assert!(first["trigger_ms"].is_u64(), "the time it took: {first}");
    host.eventually("the triggered action", |h| started(h, "trig").len() == 1);
    let (code, again) = host.call("POST", "/v1/schedules/trig/trigger", Some(body));
    assert_eq!(code, 200, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again.get("trigger_ms"), None, "{again}");
    let out = host.cli_ok(&["schedule", "trigger", "trig", "--request-id", "t-1"]);
    assert!(out.contains("already"), "{out}");
    host.cli_ok(&["schedule", "trigger", "trig", "--request-id", "t-2"]);
    host.eventually("the second request's action", |h| {
        started(h, "trig").len() == 2
    });
    let triggers = schedule(&host, "trig")["state"]["recent"]
        .as_array()
        .expect("recent")
        .iter()
        .filter(|a| a["kind"] == "trigger")
        .count();
    assert_eq!(triggers, 2, "one action per request id");
}

/// A backfill whose end was still to come started those times at once, and
/// when each came the schedule skipped it as existing (its action ran early,
/// not at its time). It is refused, naming the clock.
#[test]
fn a_backfill_into_the_future_is_refused() {
    let host = host();
    create(
        &host,
        json!({"name": "ahead", "spec": {"intervals": [{"every_ms": HOUR}]}, "action": ok_action()}),
    );
    let now = now(&host);
    let (code, v) = host.call(
        "POST",
        "/v1/schedules/ahead/backfill",
        Some(json!({"start_ms": now - 3 * HOUR, "end_ms": now + 3 * HOUR})),
    );
    assert_eq!(code, 400, "{v}");
    assert!(v.to_string().contains("after the host's clock"), "{v}");
    assert!(started(&host, "ahead").is_empty(), "nothing started");
}

/// The first `next_times` entry whose action waits after its nominal time
/// (jitter): (nominal, when it is taken).
fn a_jittered_time(host: &Host, name: &str) -> (u64, u64) {
    schedule(host, name)["next_times"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["nominal_ms"].as_u64().unwrap(),
                n["at_ms"].as_u64().unwrap(),
            )
        })
        .find(|(nominal, at)| at - nominal >= 2)
        .expect("a time with jitter")
}

/// A `buffer-one` action waiting behind a running one dropped every later
/// action, whatever its own policy: a trigger asking `buffer-all` was
/// lost. Each later action follows its own policy: `buffer-all` waits too,
/// another `buffer-one` is dropped (one waits), and so is a `skip` (one
/// runs).
#[test]
fn a_waiting_buffer_one_keeps_a_later_action_of_another_policy() {
    let host = host();
    let sleeper = json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}});
    create(
        &host,
        json!({"name": "bo", "spec": {"intervals": [{"every_ms": 10_000}]}, "action": sleeper,
               "policies": {"overlap": "buffer-one"}}),
    );
    host.advance(10_000);
    host.eventually("the first runs", |h| started(h, "bo").len() == 1);
    host.advance(10_000);
    host.eventually("the second waits", |h| {
        state_of(h, "bo")["pending"].as_array().unwrap().len() == 1
    });
    // Sent in turn; the last is dropped only once the others were looked at.
    for overlap in ["buffer-all", "buffer-one", "skip"] {
        let (code, v) = host.call(
            "POST",
            "/v1/schedules/bo/trigger",
            Some(json!({ "overlap": overlap })),
        );
        assert_eq!(code, 200, "{v}");
    }
    host.eventually("the skip trigger dropped", |h| {
        state_of(h, "bo")["skipped_overlap"].as_u64().unwrap() >= 2
    });
    let st = state_of(&host, "bo");
    assert_eq!(
        st["skipped_overlap"], 2,
        "the buffer-one and skip triggers: {st}"
    );
    let pending: Vec<&str> = st["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap())
        .collect();
    assert_eq!(pending, ["scheduled", "trigger"], "{st}");
    assert_eq!(started(&host, "bo").len(), 1, "{st}");
    // An `allow-all` trigger starts at once, past those that wait; the CLI
    // says what became of each trigger.
    let out = host.cli_ok(&["schedule", "trigger", "bo", "--overlap", "allow-all"]);
    assert!(out.contains("started execution bo-"), "{out}");
    assert_eq!(started(&host, "bo").len(), 2);
    let out = host.cli_ok(&["schedule", "trigger", "bo", "--overlap", "skip"]);
    assert!(out.contains("skipped: one runs (skip)"), "{out}");
    let out = host.cli_ok(&["schedule", "trigger", "bo", "--overlap", "buffer-all"]);
    assert!(out.contains("waiting for the running execution"), "{out}");
    let st = state_of(&host, "bo");
    assert_eq!(st["pending"].as_array().unwrap().len(), 3, "{st}");
}

/// A trigger took the id of the time the clock stood at: at exactly a
/// scheduled time, the scheduled action then found its id taken and was
/// skipped; and on a clock that does not move, the twelfth trigger took
/// the first one's id (only the last ten actions were looked at). Every
/// trigger and every time acts.
#[test]
fn every_trigger_acts_even_at_a_scheduled_time_or_on_a_clock_that_does_not_move() {
    let host = host();
    create(
        &host,
        json!({"name": "tn", "spec": {"intervals": [{"every_ms": HOUR}], "jitter_ms": 1_800_000},
               "action": ok_action(), "policies": {"overlap": "allow-all"}}),
    );
    let (nominal_ms, at_ms) = a_jittered_time(&host, "tn");
    host.advance(nominal_ms - now(&host));
    let (code, v) = host.call("POST", "/v1/schedules/tn/trigger", Some(json!({})));
    assert_eq!(code, 200, "{v}");
    host.eventually("the trigger's action", |h| started(h, "tn").len() == 1);
    host.advance(at_ms - now(&host));
    host.eventually("the scheduled time's action", |h| {
        started(h, "tn").len() == 2
    });
    assert!(
        started(&host, "tn").contains(&format!("tn-{}", nominal(nominal_ms))),
        "{:?}",
        started(&host, "tn")
    );
    // Twelve triggers on a clock that stands still.
    for n in 3..=14 {
        let (code, v) = host.call("POST", "/v1/schedules/tn/trigger", Some(json!({})));
        assert_eq!(code, 200, "{v}");
        host.eventually("the trigger's action", |h| started(h, "tn").len() == n);
    }
    let st = state_of(&host, "tn");
    let skipped = st["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["outcome"].as_str().unwrap().starts_with("skipped"))
        .count();
    assert_eq!(skipped, 0, "{st}");
}

/// Unpausing moved the cursor to the clock: a time that came while paused
/// but whose jittered moment was still ahead was dropped, though it is
/// taken after the pause ended. Only times whose moment passed while
/// paused are dropped.
#[test]
fn a_time_whose_jitter_ends_after_an_unpause_is_taken() {
    let host = host();
    create(
        &host,
        json!({"name": "jit", "spec": {"intervals": [{"every_ms": HOUR}], "jitter_ms": 1_800_000},
               "action": ok_action()}),
    );
    let (nominal_ms, at_ms) = a_jittered_time(&host, "jit");
    let (code, v) = host.call("POST", "/v1/schedules/jit/pause", None);
    assert_eq!(code, 200, "{v}");
    host.advance(nominal_ms + (at_ms - nominal_ms) / 2 - now(&host));
    let (code, v) = host.call("POST", "/v1/schedules/jit/unpause", None);
    assert_eq!(code, 200, "{v}");
    host.advance(at_ms - now(&host));
    host.eventually("the time's action", |h| started(h, "jit").len() == 1);
    assert_eq!(
        started(&host, "jit"),
        [format!("jit-{}", nominal(nominal_ms))]
    );
}

/// A spec whose exclusions remove more than 100,000 times in a row (every
/// second but not at weekends) gave up looking for its next time and the
/// schedule stopped for good (until changed or the host restarted). It
/// goes on after the gap.
#[test]
fn a_long_exclusion_does_not_stop_the_schedule() {
    let host = host();
    advance_to(&host, "next friday 23:59:50");
    let monday_ms = now(&host) + 2 * 86_400_000 + 10_000;
    create(
        &host,
        json!({"name": "wk", "spec": {"intervals": [{"every_ms": 1_000}],
               "exclude_cron": ["* * * * * sat,sun"]}, "action": ok_action()}),
    );
    host.advance(5_000);
    host.eventually("a Friday action", |h| !started(h, "wk").is_empty());
    let monday = {
        let at = (now(&host) + 3 * 86_400_000) / 1_000;
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{at}"), "+%Y-%m-%d"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    // Into the weekend: the Friday's last times, then none.
    host.advance(35_000);
    let saturday = now(&host);
    host.eventually("the search passed the weekend's first times", |h| {
        state_of(h, "wk")["cursor_ms"].as_u64().unwrap() >= saturday
    });
    let before = started(&host, "wk").len();
    // The schedule names its next time (it said "none" inside the gap),
    // and time skipping goes to it.
    let next = &schedule(&host, "wk")["next_times"][0];
    assert_eq!(next["nominal_ms"], monday_ms, "{next}");
    let (code, v) = host.call("POST", "/v1/clock/skip", Some(json!({"wait_ms": 5_000})));
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["now_ms"], monday_ms, "{v}");
    host.eventually("a Monday action", |h| {
        started(h, "wk").iter().any(|id| id.contains(&monday))
    });
    assert_eq!(started(&host, "wk").len(), before + 1);
}

/// Found by a review of the schedules: an update sent again after its
/// answer was lost (with the conflict token it read, so that it would not
/// overwrite another's change) was refused 409 "changed since it was
/// read", though the change was its own: its client took the update for
/// not made. A retry whose definition is the one there now is answered
/// with the schedule, and changes nothing (its remaining actions are not
/// given back).
#[test]
fn an_update_sent_again_with_its_conflict_token_is_answered_and_changes_nothing() {
    let host = host();
    create(
        &host,
        json!({"name": "again", "spec": {"intervals": [{"every_ms": HOUR}]}, "action": ok_action(),
               "policies": {"overlap": "allow-all"}}),
    );
    let token = schedule(&host, "again")["conflict_token"]
        .as_str()
        .expect("a token")
        .to_owned();
    let update = || {
        host.call(
            "PUT",
            &format!("/v1/schedules/again?conflict_token={token}"),
            Some(
                json!({"spec": {"intervals": [{"every_ms": HOUR}]}, "action": ok_action(),
                        "policies": {"overlap": "allow-all"}, "remaining_actions": 2}),
            ),
        )
    };
    let (code, v) = update();
    assert_eq!(code, 200, "{v}");
    host.advance(HOUR);
    host.eventually("one action", |h| state_of(h, "again")["actions_taken"] == 1);
    assert_eq!(state_of(&host, "again")["remaining_actions"], 1);
    let (code, v) = update();
    assert_eq!(code, 200, "the retry: {v}");
    assert_eq!(
        state_of(&host, "again")["remaining_actions"],
        1,
        "given back"
    );
    host.advance(3 * HOUR);
    host.eventually("the last action", |h| {
        state_of(h, "again")["actions_taken"] == 2
    });
    assert_eq!(started(&host, "again").len(), 2);
}

/// `weft schedule update` read the schedule, changed what its flags name
/// and wrote the whole definition back: a change another operator made in
/// between was overwritten. A describe names the definition it shows
/// (`conflict_token`); an update that gives it is refused once the
/// definition changed, and the CLI reads again and changes the new one.
#[test]
fn an_update_made_on_a_definition_read_earlier_is_refused() {
    let host = host();
    create(
        &host,
        json!({"name": "upd", "spec": {"intervals": [{"every_ms": HOUR}]}, "action": ok_action()}),
    );
    let read = schedule(&host, "upd");
    let token = read["conflict_token"].as_str().expect("a token").to_owned();
    let def = |every_ms: u64| json!({"spec": {"intervals": [{"every_ms": every_ms}]}, "action": ok_action()});
    let (code, v) = host.call(
        "PUT",
        &format!("/v1/schedules/upd?conflict_token={token}"),
        Some(def(2 * HOUR)),
    );
    assert_eq!(code, 200, "{v}");
    assert_ne!(v["conflict_token"], token, "{v}");
    // A second writer that read the same definition.
    let (code, v) = host.call(
        "PUT",
        &format!("/v1/schedules/upd?conflict_token={token}"),
        Some(def(3 * HOUR)),
    );
    assert_eq!(code, 409, "{v}");
    assert!(v.to_string().contains("changed since it was read"), "{v}");
    assert_eq!(
        schedule(&host, "upd")["spec"]["intervals"][0]["every_ms"],
        2 * HOUR
    );
    // Without a token, as before: the definition is replaced.
    let (code, v) = host.call("PUT", "/v1/schedules/upd", Some(def(4 * HOUR)));
    assert_eq!(code, 200, "{v}");
    // The CLI's update changes what it names on the definition as it is.
    host.cli_ok(&["schedule", "update", "upd", "--jitter", "1m"]);
    let after = schedule(&host, "upd");
    assert_eq!(
        after["spec"]["intervals"][0]["every_ms"],
        4 * HOUR,
        "{after}"
    );
    assert_eq!(after["spec"]["jitter_ms"], 60_000, "{after}");
}

/// Found by a review of retried requests: a backfill had no request id, so
/// a retry (its answer lost) queued every time of its range again; under
/// cancel-other or terminate-other each one first stops what runs. A
/// backfill with a request id acts once; sent again it queues nothing and
/// answers `duplicate`.
#[test]
fn a_backfill_with_a_request_id_acts_once() {
    let host = host();
    create(
        &host,
        json!({"name": "bf", "spec": {"intervals": [{"every_ms": HOUR}]}, "action": ok_action(),
               "policies": {"overlap": "allow-all"}}),
    );
    let end = now(&host) - 1;
    let body = json!({"start_ms": end - 3 * HOUR + 1, "end_ms": end, "request_id": "b-1"});
    let (code, first) = host.call("POST", "/v1/schedules/bf/backfill", Some(body.clone()));
    assert_eq!(code, 200, "{first}");
    assert_eq!(
        (&first["queued"], &first["duplicate"]),
        (&json!(3), &json!(false)),
        "{first}"
    );
    host.eventually("the backfilled times", |h| started(h, "bf").len() == 3);
    let (code, again) = host.call("POST", "/v1/schedules/bf/backfill", Some(body));
    assert_eq!(code, 200, "{again}");
    assert_eq!(
        (&again["queued"], &again["duplicate"]),
        (&json!(0), &json!(true)),
        "{again}"
    );
    host.eventually("the queue empty", |h| {
        schedule(h, "bf")["state"]["pending"]
            .as_array()
            .is_some_and(|p| p.is_empty())
    });
    let recent = schedule(&host, "bf")["state"]["recent"].clone();
    assert_eq!(recent.as_array().map(Vec::len), Some(3), "{recent}");
}

/// Found by a review of the schedules: a failed read of a running action's
/// record (a cut connection, a disk error) was taken for "deleted": the
/// action was dropped from the running list and recorded as terminated, so
/// a `skip` schedule started the next time beside it (and one pausing on
/// failure paused). A read that failed keeps the action running; it is
/// read again at the next evaluation. The first read fails.
#[test]
fn a_running_action_that_could_not_be_read_still_counts_as_running() {
    let host = Host::with_faults(&["--manual-clock"], &[], &["schedule-reconcile-read"]);
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    let sleeper = json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}});
    create(
        &host,
        json!({"name": "unread", "spec": {"intervals": [{"every_ms": 10_000}]},
               "action": sleeper, "policies": {"overlap": "skip", "pause_on_failure": true}}),
    );
    host.advance(10_000);
    host.eventually("the first action", |h| {
        state_of(h, "unread")["actions_taken"] == 1
    });
    host.advance(10_000);
    host.eventually("the second time handled", |h| {
        let st = state_of(h, "unread");
        st["actions_taken"].as_u64().unwrap() + st["skipped_overlap"].as_u64().unwrap() >= 2
    });
    host.wait_for_log(
        "failing at schedule-reconcile-read",
        1,
        std::time::Duration::from_secs(10),
    );
    let st = state_of(&host, "unread");
    assert_eq!(
        (&st["actions_taken"], &st["skipped_overlap"], &st["paused"]),
        (&json!(1), &json!(1), &json!(false)),
        "{st}"
    );
    assert_eq!(started(&host, "unread").len(), 1);
}

/// Found by a review of the schedules: a backfill over times that ran,
/// whose executions were deleted since (retention, `weft delete`), ran them
/// again: a time's id was refused only while its execution was kept. A
/// deleted execution's id (the run it retired) refuses a schedule's start
/// too: the time is skipped as taken.
#[test]
fn a_backfill_does_not_run_again_a_time_whose_execution_was_deleted() {
    let host = host();
    create(
        &host,
        json!({"name": "nightly", "spec": {"intervals": [{"every_ms": HOUR}]},
               "action": ok_action(), "policies": {"overlap": "allow-all"}}),
    );
    host.advance(HOUR);
    host.eventually("the time ran", |h| started(h, "nightly").len() == 1);
    let ran = started(&host, "nightly").remove(0);
    assert_eq!(host.wait_result(&ran)["status"], "completed");
    let (code, v) = host.call("DELETE", &format!("/v1/executions/{ran}"), None);
    assert!((200..300).contains(&code), "{code} {v}");
    let end = now(&host) - 1;
    let (code, v) = host.call(
        "POST",
        "/v1/schedules/nightly/backfill",
        Some(json!({"start_ms": end - HOUR + 1, "end_ms": end})),
    );
    assert_eq!((code, &v["queued"]), (200, &json!(1)), "{v}");
    host.eventually("the backfilled time handled", |h| {
        schedule(h, "nightly")["state"]["pending"]
            .as_array()
            .is_some_and(|p| p.is_empty())
    });
    assert_eq!(started(&host, "nightly"), Vec::<String>::new(), "ran again");
    let recent = schedule(&host, "nightly")["state"]["recent"].clone();
    let last = recent
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or_default();
    assert!(
        last["outcome"]
            .as_str()
            .is_some_and(|o| o.starts_with("skipped")),
        "{recent}"
    );
}

/// Found by a review of the schedules: an update kept the cursor where the
/// old spec left it, so the new spec's times between it and the update
/// all came at once (every 10 h, updated 5 h after a time to hourly: five
/// hourly times started together). A new spec takes its times from the
/// update on.
#[test]
fn an_updated_spec_takes_its_times_from_the_update_on() {
    let host = host();
    let every = |ms: u64| {
        json!({"spec": {"intervals": [{"every_ms": ms}]}, "action": ok_action(),
               "policies": {"overlap": "allow-all"}})
    };
    let mut body = every(10 * HOUR);
    body["name"] = json!("retimed");
    create(&host, body);
    // To the first time exactly: the next one is 10 h after it.
    let first = schedule(&host, "retimed")["next_times"][0]["at_ms"]
        .as_u64()
        .unwrap();
    host.advance(first - now(&host));
    host.eventually("the first time", |h| {
        state_of(h, "retimed")["actions_taken"] == 1
    });
    host.advance(5 * HOUR);
    let (code, v) = host.call("PUT", "/v1/schedules/retimed", Some(every(HOUR)));
    assert_eq!(code, 200, "{v}");
    // A trigger, evaluated after the update, shows what the update left
    // due: nothing but itself.
    let (code, v) = host.call("POST", "/v1/schedules/retimed/trigger", Some(json!({})));
    assert_eq!(code, 200, "{v}");
    host.eventually("the trigger taken", |h| {
        state_of(h, "retimed")["actions_taken"].as_u64().unwrap() >= 2
    });
    let st = state_of(&host, "retimed");
    assert_eq!(st["actions_taken"], 2, "{st}");
    host.advance(HOUR);
    host.eventually("the next hourly time", |h| {
        state_of(h, "retimed")["actions_taken"] == 3
    });
}

/// Found by a review of the schedules: when the host could not read its
/// schedules as it started (a cut connection, a disk error), none of them
/// ran until each was changed, and times past the catch-up window were
/// lost. The read is made again until the store answers. The first read
/// after a restart fails.
#[test]
fn schedules_run_after_a_start_that_could_not_read_them() {
    let mut host = host();
    create(
        &host,
        json!({"name": "steady", "spec": {"intervals": [{"every_ms": HOUR}]},
               "action": ok_action(), "policies": {"overlap": "allow-all"}}),
    );
    host.kill();
    host.fail_at(&["schedules-read"]);
    host.spawn();
    host.wait_for_log(
        "failing at schedules-read",
        1,
        std::time::Duration::from_secs(30),
    );
    host.advance(HOUR);
    host.eventually("the time ran", |h| {
        state_of(h, "steady")["actions_taken"] == 1
    });
}

/// Found by a review of the schedules: under `terminate-other` (and
/// `cancel-other`) an action stopped the running execution before it
/// found its own id taken: a backfill naming the time that runs now
/// terminated it, and nothing replaced it. An action whose id is taken
/// stops nothing; it is skipped.
#[test]
fn an_action_whose_id_is_taken_stops_nothing() {
    let host = host();
    let sleeper = json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}});
    create(
        &host,
        json!({"name": "swap", "spec": {"intervals": [{"every_ms": HOUR}]},
               "action": sleeper, "policies": {"overlap": "terminate-other"}}),
    );
    host.advance(HOUR);
    host.eventually("the time runs", |h| started(h, "swap").len() == 1);
    let running = started(&host, "swap").remove(0);
    let end = now(&host) - 1;
    let (code, v) = host.call(
        "POST",
        "/v1/schedules/swap/backfill",
        Some(json!({"start_ms": end - HOUR + 1, "end_ms": end})),
    );
    assert_eq!((code, &v["queued"]), (200, &json!(1)), "{v}");
    host.eventually("the backfilled time handled", |h| {
        schedule(h, "swap")["state"]["pending"]
            .as_array()
            .is_some_and(|p| p.is_empty())
    });
    assert_eq!(host.describe(&running)["status"], "running");
    let st = state_of(&host, "swap");
    assert_eq!(st["running"], json!([running]), "{st}");
}

/// Found by a review of the schedules: the remaining actions were checked
/// only when a time was queued, so lowering them (to none here) left the
/// times already queued to start. A queued scheduled time starts only
/// while an action remains.
#[test]
fn lowered_remaining_actions_hold_back_the_times_already_queued() {
    let host = host();
    let body = |remaining: Option<u64>| {
        let mut b = json!({"spec": {"intervals": [{"every_ms": 10_000}]},
               "action": {"workflow_type": "misbehave", "input": {"mode": "sleep"}},
               "policies": {"overlap": "buffer-all"}});
        if let Some(n) = remaining {
            b["remaining_actions"] = json!(n);
        }
        b
    };
    let mut first = body(None);
    first["name"] = json!("limited");
    create(&host, first);
    for _ in 0..3 {
        host.advance(10_000);
    }
    host.eventually("two times queued behind the first", |h| {
        let st = state_of(h, "limited");
        st["actions_taken"] == 1 && st["pending"].as_array().unwrap().len() == 2
    });
    let (code, v) = host.call("PUT", "/v1/schedules/limited", Some(body(Some(0))));
    assert_eq!(code, 200, "{v}");
    // The sleeper wakes after 60 s: nothing queued may follow it.
    host.advance(60_000);
    host.eventually("the queue handled", |h| {
        state_of(h, "limited")["pending"]
            .as_array()
            .is_some_and(|p| p.is_empty())
    });
    let st = state_of(&host, "limited");
    assert_eq!(st["actions_taken"], 1, "{st}");
    assert_eq!(started(&host, "limited").len(), 1);
}

/// Found by a review of the schedules: a spec update moved the cursor to
/// the update's time less the old spec's jitter, so the new spec's times in
/// that last stretch all came at once (every 10 h with an hour's jitter,
/// updated to every minute: some sixty actions started together). The old
/// spec's times that came are taken; the new spec's start after the update.
#[test]
fn an_update_from_a_jittered_spec_starts_none_of_the_new_specs_times_before_it() {
    let host = host();
    create(
        &host,
        json!({"name": "dense", "spec": {"intervals": [{"every_ms": 10 * HOUR}], "jitter_ms": HOUR},
               "action": ok_action(), "policies": {"overlap": "allow-all"}}),
    );
    // Ten minutes before a time at least two hours off (the cursor, where
    // the last time taken is, then lies more than the jitter behind).
    let mut next = schedule(&host, "dense")["next_times"][0]["nominal_ms"]
        .as_u64()
        .unwrap();
    let mut taken = 0;
    if next - now(&host) < 2 * HOUR {
        host.advance(next + HOUR + 1 - now(&host));
        taken = 1;
        host.eventually("the first time", |h| {
            state_of(h, "dense")["actions_taken"] == 1
        });
        next += 10 * HOUR;
    }
    host.advance(next - 600_000 - now(&host));
    let (code, v) = host.call(
        "PUT",
        "/v1/schedules/dense",
        Some(
            json!({"spec": {"intervals": [{"every_ms": 60_000}]}, "action": ok_action(),
                    "policies": {"overlap": "allow-all"}}),
        ),
    );
    assert_eq!(code, 200, "{v}");
    // A trigger, evaluated after the update, shows what the update left
    // due: nothing but itself.
    let (code, v) = host.call("POST", "/v1/schedules/dense/trigger", Some(json!({})));
    assert_eq!(code, 200, "{v}");
    host.eventually("the trigger taken", |h| {
        state_of(h, "dense")["actions_taken"].as_u64().unwrap() > taken
    });
    let st = state_of(&host, "dense");
    assert_eq!(st["actions_taken"], taken + 1, "{st}");
    assert_eq!(started(&host, "dense").len() as u64, taken + 1);
}

/// Found by a review of the schedules: a spec update made while the
/// scheduler was behind (busy with another schedule, or catching up) moved
/// the cursor past the old spec's times that had come and were not looked
/// at yet: they were never started, nor counted anywhere. The scheduler is
/// held inside the start of one schedule while another, due too, is
/// updated; its time is taken.
#[test]
fn a_time_that_came_before_an_update_made_while_the_scheduler_was_busy_is_taken() {
    let host = Host::paused_at(&["--manual-clock"], &["schedule-started"]);
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    for name in ["a-first", "b-second"] {
        create(
            &host,
            json!({"name": name, "spec": {"intervals": [{"every_ms": HOUR}]},
                   "action": ok_action(), "policies": {"overlap": "allow-all"}}),
        );
    }
    host.advance(HOUR);
    host.wait_for_log(
        "paused at schedule-started",
        1,
        std::time::Duration::from_secs(30),
    );
    assert_eq!(state_of(&host, "b-second")["actions_taken"], 0);
    let (code, v) = host.call(
        "PUT",
        "/v1/schedules/b-second",
        Some(
            json!({"spec": {"intervals": [{"every_ms": 2 * HOUR}]}, "action": ok_action(),
                    "policies": {"overlap": "allow-all"}}),
        ),
    );
    assert_eq!(code, 200, "{v}");
    host.release("schedule-started");
    host.eventually("the time b-second had before its update", |h| {
        state_of(h, "b-second")["actions_taken"] == 1
    });
    assert_eq!(started(&host, "b-second").len(), 1);
    assert_eq!(started(&host, "a-first").len(), 1);
}

/// Found by a review of the schedules: with a jitter longer than the gap
/// between two times, a later time whose own delay was short waited behind
/// an earlier one held back longer, and was then counted as missed (later
/// than the catch-up window) on a host that never stopped: every minute
/// with an hour's jitter and a ten-second window dropped most times. A
/// time's delay never takes it past the next time.
#[test]
fn a_jitter_longer_than_the_interval_misses_no_time() {
    let host = host();
    create(
        &host,
        json!({"name": "jittery", "spec": {"intervals": [{"every_ms": 60_000}], "jitter_ms": HOUR},
               "action": ok_action(),
               "policies": {"overlap": "allow-all", "catchup_window_ms": 10_000}}),
    );
    let until = now(&host) + 2 * HOUR;
    for _ in 0..1_000 {
        let (status, v) = host.call("POST", "/v1/clock/skip", Some(json!({"wait_ms": 5_000})));
        assert_eq!(status, 200, "{v}");
        if v["now_ms"].as_u64().unwrap() >= until {
            break;
        }
    }
    assert!(
        now(&host) >= until,
        "the skips did not get through two hours"
    );
    let st = state_of(&host, "jittery");
    assert_eq!(st["missed_catchup"], 0, "{st}");
    assert!(st["actions_taken"].as_u64().unwrap() >= 115, "{st}");
}

/// Found by a review of the update above: a spec update made while a time
/// waited out its jitter dropped that time when the new spec's jitter was
/// shorter (the cursor moved past it as the new spec would have taken it).
/// Times the old spec's jitter held back stay.
#[test]
fn an_update_keeps_a_time_its_jitter_held_back() {
    let host = host();
    let body = |jitter_ms: u64| {
        json!({"spec": {"intervals": [{"every_ms": HOUR}], "jitter_ms": jitter_ms},
               "action": ok_action(), "policies": {"overlap": "allow-all"}})
    };
    let mut first = body(600_000);
    first["name"] = json!("held");
    create(&host, first);
    let (time, at) = a_jittered_time(&host, "held");
    host.advance(time + 1 - now(&host));
    assert!(time + 1 < at);
    assert_eq!(state_of(&host, "held")["actions_taken"], 0);
    let (code, v) = host.call("PUT", "/v1/schedules/held", Some(body(0)));
    assert_eq!(code, 200, "{v}");
    host.eventually("the held time taken", |h| {
        state_of(h, "held")["actions_taken"] == 1
    });
    let ids = started(&host, "held");
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert!(ids[0].ends_with(&nominal(time)), "{ids:?}");
}

/// Found by a sweep of the store's failure paths: a schedule's start reads
/// the workflow type (and a pinned version), and a read that failed (a cut
/// connection, a disk error) skipped that time for good. The evaluation
/// fails instead and is made again a second later. The first such read
/// fails.
#[test]
fn a_scheduled_start_that_could_not_read_the_store_is_made_again_not_skipped() {
    let host = Host::with_faults(&["--manual-clock"], &[], &["schedule-start-read"]);
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    create(
        &host,
        json!({"name": "steadfast", "spec": {"intervals": [{"every_ms": HOUR}]},
               "action": ok_action(), "policies": {"overlap": "allow-all"}}),
    );
    host.advance(HOUR);
    host.wait_for_log(
        "failing at schedule-start-read",
        1,
        std::time::Duration::from_secs(30),
    );
    host.eventually("the time ran", |h| started(h, "steadfast").len() == 1);
    let st = state_of(&host, "steadfast");
    assert_eq!(st["actions_taken"], 1, "{st}");
}

/// Found by a sweep of the store's failure paths: under `cancel-other` a
/// failed read of the running execution (a cut connection, a disk error)
/// asked nothing, and the new action waited for the next scheduled time
/// (forever, with none to come). The evaluation is made again a second
/// later. The first such read fails; the clock does not move after it.
#[test]
fn a_cancel_other_that_could_not_read_the_running_one_asks_again() {
    let host = Host::with_faults(&["--manual-clock"], &[], &["schedule-replace-read"]);
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    let sleeper = json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}});
    create(
        &host,
        json!({"name": "replace", "spec": {"intervals": [{"every_ms": 10_000}]},
               "action": sleeper, "policies": {"overlap": "cancel-other"}}),
    );
    host.advance(10_000);
    host.eventually("the first runs", |h| started(h, "replace").len() == 1);
    let first = started(&host, "replace").remove(0);
    host.advance(10_000);
    host.wait_for_log(
        "failing at schedule-replace-read",
        1,
        std::time::Duration::from_secs(30),
    );
    host.eventually("the first cancelled and the next started", |h| {
        h.describe(&first)["status"] == "cancelled" && started(h, "replace").len() == 2
    });
}

/// Left by the note of the last session (a review of the schedules): a
/// `terminate-other` action terminated the running execution on a read of
/// the schedule that its start then found stale (paused here; updated or
/// deleted would do the same): the execution ended and nothing replaced
/// it. The termination and the start are one write, made only on the
/// schedule as it was read.
#[test]
fn a_schedule_paused_as_terminate_other_replaces_its_execution_terminates_nothing() {
    let host = Host::paused_at(&["--manual-clock"], &["schedule-replace"]);
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    let sleeper = json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}});
    create(
        &host,
        json!({"name": "swap", "spec": {"intervals": [{"every_ms": 10_000}]},
               "action": sleeper, "policies": {"overlap": "terminate-other"}}),
    );
    host.advance(10_000);
    host.eventually("the first runs", |h| started(h, "swap").len() == 1);
    let first = started(&host, "swap").remove(0);
    host.advance(10_000);
    host.wait_for_log(
        "paused at schedule-replace",
        1,
        std::time::Duration::from_secs(30),
    );
    host.cli_ok(&["schedule", "pause", "swap"]);
    host.release("schedule-replace");
    // The evaluation goes on over the paused schedule: its cursor passes
    // the time.
    let second = now(&host);
    host.eventually("the time passed while paused", |h| {
        state_of(h, "swap")["cursor_ms"].as_u64().unwrap() + 10_000 > second
    });
    assert_eq!(host.describe(&first)["status"], "running");
    assert_eq!(started(&host, "swap"), vec![first]);
}
