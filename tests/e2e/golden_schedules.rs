//! A golden fixture of schedules (see tests/golden/README.md): a data
//! directory written by the build that introduced schedules, with schedules
//! in every state (acting, paused, with actions queued behind a running
//! one, a zoned cron with jitter and exclusions). Every later build must
//! open it, show the same schedules, and take their next times.

use std::path::Path;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{guest, Host};

use crate::golden::{
    copy_dir, fixture_dirs, freeze, git_head, make_target, write_json, FIXTURE_EPOCH_MS,
};

const HOUR: u64 = 3_600_000;
const FIXTURE: &str = "schedules-v1";

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    weft_e2e::serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The parts of a schedule that must read back exactly as they were written.
fn kept(s: &Value) -> Value {
    let st = &s["state"];
    json!({
        "name": s["name"], "spec": s["spec"], "action": s["action"], "policies": s["policies"],
        "paused": st["paused"], "note": st["note"], "remaining_actions": st["remaining_actions"],
        "cursor_ms": st["cursor_ms"], "pending": st["pending"], "running": st["running"],
        "recent": st["recent"], "actions_taken": st["actions_taken"],
        "created_at_ms": s["created_at_ms"],
    })
}

fn schedule(host: &Host, name: &str) -> Value {
    host.get(&format!("/v1/schedules/{name}"))
}

#[test]
fn the_schedules_fixtures_open_and_their_schedules_go_on() {
    let dirs = fixture_dirs("schedules-v");
    assert!(dirs.iter().any(|d| d.ends_with(FIXTURE)), "{dirs:?}");
    for dir in dirs {
        check(&dir);
    }
}

fn check(dir: &Path) {
    let data = dir.join("data");
    let host = Host::launch_prepared(
        &["--manual-clock", "--retention", "36500d"],
        "info,weft=debug",
        |store| copy_dir(&data, store),
    );
    let manifest = read(&dir.join("manifest.json"));
    assert!(
        host.get("/v1/clock")["now_ms"].as_u64().unwrap() >= manifest["clock_ms"].as_u64().unwrap(),
        "the manual clock goes on from where the fixture stopped"
    );
    // Every schedule reads back as it was written.
    let recorded = read(&dir.join("schedules.json"));
    for want in recorded["schedules"].as_array().unwrap() {
        let got = schedule(&host, want["name"].as_str().unwrap());
        assert_eq!(kept(&got), kept(want), "schedule {}", want["name"]);
    }
    // And each goes on: the hourly one takes its next time, the paused one
    // none, the queue behind the sleeper moves once it wakes.
    host.advance(HOUR);
    host.eventually("the hourly schedule took its next time", |h| {
        schedule(h, "fx-hourly")["state"]["actions_taken"] == 2
    });
    host.eventually("the buffered queue moved", |h| {
        schedule(h, "fx-buffer")["state"]["actions_taken"]
            .as_u64()
            .unwrap()
            >= 2
    });
    let paused = schedule(&host, "fx-paused");
    assert_eq!(paused["state"]["paused"], true, "{paused}");
    assert_eq!(paused["state"]["actions_taken"], 0, "{paused}");
    let berlin = schedule(&host, "fx-berlin");
    for n in berlin["next_times"].as_array().unwrap() {
        let (nominal, at) = (
            n["nominal_ms"].as_u64().unwrap(),
            n["at_ms"].as_u64().unwrap(),
        );
        assert!(at >= nominal && at - nominal <= 5 * 60_000, "{n}");
    }
}

/// Makes the fixture (never overwrites one):
///
/// ```text
/// WEFT_BIN=/path/to/weft WEFT_GUESTS=target/guests WEFT_MAKE_GOLDEN=tests/golden/schedules-vN \
///   cargo test -p weft-e2e --test e2e golden_schedules::make_schedules_fixture -- --ignored
/// ```
#[test]
#[ignore = "makes a fixture: set WEFT_MAKE_GOLDEN=DIR (see tests/golden/README.md)"]
fn make_schedules_fixture() {
    let Some(dir) = make_target() else {
        return;
    };
    let host = Host::start();
    host.cli_ok(&["deploy", &guest("misbehave").to_string_lossy()]);
    let now = host.get("/v1/clock")["now_ms"].as_u64().unwrap();
    host.advance(FIXTURE_EPOCH_MS - now);
    let ok = json!({"workflow_type": "misbehave", "input": {"mode": "ok"}});
    let sleep = json!({"workflow_type": "misbehave", "input": {"mode": "sleep"}});
    for body in [
        json!({"name": "fx-hourly", "spec": {"intervals": [{"every_ms": HOUR}]},
               "action": {"workflow_type": "misbehave", "input": {"mode": "ok"}, "id_prefix": "fxh"},
               "policies": {"overlap": "allow-all"}}),
        json!({"name": "fx-paused", "spec": {"cron": ["0 * * * *"]}, "action": ok,
               "paused": true, "note": "held for the fixture"}),
        json!({"name": "fx-buffer", "spec": {"intervals": [{"every_ms": 600_000}]},
               "action": sleep, "policies": {"overlap": "buffer-all"}}),
        json!({"name": "fx-berlin",
               "spec": {"cron": ["30 2 * * *"], "time_zone": "Europe/Berlin", "jitter_ms": 300_000,
                        "exclude_cron": ["30 2 * * 0"],
                        "calendars": [{"hour": "9-17", "minute": "*/30", "day_of_week": "mon-fri"}]},
               "action": {"workflow_type": "misbehave", "input": {"mode": "ok"},
                          "execution_timeout_ms": 3_600_000},
               "policies": {"catchup_window_ms": 7_200_000, "pause_on_failure": true},
               "remaining_actions": 5}),
    ] {
        let (code, v) = host.call("POST", "/v1/schedules", Some(body));
        assert_eq!(code, 201, "{v}");
    }
    host.advance(HOUR);
    host.eventually("the hourly one ran", |h| {
        let st = schedule(h, "fx-hourly")["state"].clone();
        st["actions_taken"] == 1 && st["running"].as_array().unwrap().is_empty()
    });
    host.eventually("the buffered one queued", |h| {
        let st = schedule(h, "fx-buffer")["state"].clone();
        st["actions_taken"] == 1 && st["pending"].as_array().unwrap().len() == 5
    });
    std::fs::create_dir_all(&dir).expect("the fixture directory");
    write_json(&dir.join("schedules.json"), &host.get("/v1/schedules"));
    let clock_ms = host.get("/v1/clock")["now_ms"].clone();
    freeze(&host, &dir);
    let made_by = git_head();
    write_json(
        &dir.join("manifest.json"),
        &json!({"clock_ms": clock_ms, "made_by": made_by}),
    );
}
