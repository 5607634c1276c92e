//! Golden fixtures: data made by an earlier build, which every later build
//! must keep working. Each `tests/golden/vN/` holds a host's data directory
//! (`data/`), the history of each of its executions as `weft history ID
//! --json` printed it (`histories/`), the modules they run (`modules/`) and
//! `manifest.json`: what each execution was at the time, and for each one
//! still running the steps that finish it and what it then returns.
//!
//! `golden_fixtures_open_finish_and_replay` opens every fixture with the host
//! under test and holds it to all of that; `make_golden_fixture` makes a new
//! fixture directory with the build given as `WEFT_BIN` (see
//! `tests/golden/README.md`). A fixture is never edited or regenerated in
//! place: what it records is what users' data directories hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use weft_e2e::serde_json::{self, json, Value};
use weft_e2e::{guest, repo, weft_bin, Host, EXAMPLES};

const SECOND: u64 = 1_000;
const HOUR: u64 = 3_600_000;

/// 2100-01-01T00:00:00Z. A manual clock starts at the later of the stored
/// time and the system time, so a fixture's clock must stand in the future
/// for a host opening it years later to go on from where it stopped, with
/// every timer still pending.
pub(crate) const FIXTURE_EPOCH_MS: u64 = 4_102_444_800_000;

/// The generating host: a short CPU deadline so the looping guest stalls
/// quickly, and low history limits so `iterate` continues as new (and runs
/// into the limit) in a few dozen events.
const GENERATOR_ARGS: &[&str] = &[
    "--manual-clock",
    "--cpu-deadline-ms",
    "1000",
    "--history-warn-events",
    "40",
    "--history-max-events",
    "60",
];

/// How every build opens a fixture: with its defaults, as after an upgrade.
/// Kept for ever: the fixtures' closed executions are older than any
/// retention by the time the clock has moved through them.
const OPEN_ARGS: &[&str] = &["--manual-clock", "--retention", "36500d"];

const LOG_FILTER: &str = "info,weft=debug";

/// How long a stalled activity takes in the fixture (real time, inside the
/// `charge` activity): long enough to stop the generating host while it runs,
/// short enough for the check to wait for its rerun.
const IN_FLIGHT_CHARGE_MS: u64 = 8_000;

// ---------------------------------------------------------------------------
// The check.

#[test]
fn golden_fixtures_open_finish_and_replay() {
    // `vN`: executions in every state (`schedules-vN` are checked in
    // golden_schedules.rs).
    let dirs: Vec<PathBuf> = fixture_dirs("v")
        .into_iter()
        .filter(|p| p.join("manifest.json").is_file())
        .collect();
    assert!(!dirs.is_empty(), "no vN fixture under tests/golden");
    for dir in dirs {
        let started = Instant::now();
        check_fixture(&dir);
        eprintln!(
            "golden fixture {} holds ({:.1} s)",
            dir.display(),
            started.elapsed().as_secs_f64()
        );
    }
}

/// The fixture directories under tests/golden whose names start with
/// `prefix`, in name order.
pub(crate) fn fixture_dirs(prefix: &str) -> Vec<PathBuf> {
    let root = repo().join("tests/golden");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("fixture entry").path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    dirs.sort();
    dirs
}

fn check_fixture(dir: &Path) {
    let manifest = read_json(&dir.join("manifest.json"));
    let executions = manifest["executions"].as_array().expect("executions");
    let host = open_fixture(dir);
    check_opened(&host, dir, &manifest, false);

    for (id, got) in finish_running(&host, &manifest) {
        let entry = entry(&manifest, &id);
        assert_eq!(
            got,
            entry["expect"],
            "{}: finishing {id} with {} gives another result",
            dir.display(),
            entry["finish"]
        );
    }
    // Moving the clock through every timer revived nothing that was closed
    // or stalled, and the finished executions kept their recorded events.
    check_closed(&host, &manifest);
    for e in executions {
        let id = e["id"].as_str().expect("id");
        let status = host.result_now(id)["status"].clone();
        assert_ne!(status, "running", "{id} is still running: {e}");
        let recorded = read_json(&dir.join(e["history"].as_str().expect("history")));
        assert_starts_with(
            &served_history(&host, id, None),
            &recorded,
            id,
            Some(&e["module"]),
        );
    }

    for (r, ran) in manifest["replays"]
        .as_array()
        .expect("replays")
        .iter()
        .zip(run_replays(&host, dir, &manifest))
    {
        let Some((code, said)) = ran else { continue };
        let expect = r["expect"].as_str().expect("expect");
        assert_eq!(
            outcome_of_replay(code),
            expect,
            "weft replay --history {} --module {} said:\n{said}",
            r["history"],
            r["module"]
        );
        // A clean replay names its event count and a divergence its event:
        // both must stay the same. A broken replay's wording may change.
        if expect != "broken" {
            assert_eq!(first_line(&said), r["says"].as_str().expect("says"), "{r}");
        }
    }
}

/// Starts a host on a copy of the fixture's data directory.
fn open_fixture(dir: &Path) -> Host {
    let data = dir.join("data");
    Host::launch_prepared(OPEN_ARGS, LOG_FILTER, |store| copy_dir(&data, store))
}

/// What a host must show right after it opened a fixture. `exact`: the
/// histories must be exactly the recorded ones (the generator's own check,
/// before anything moved); otherwise they must start with them (recovery may
/// already have moved a running execution on).
fn check_opened(host: &Host, dir: &Path, manifest: &Value, exact: bool) {
    let clock = host.get("/v1/clock")["now_ms"].clone();
    assert_eq!(
        clock, manifest["clock_ms"],
        "the manual clock goes on from where the fixture's host stopped"
    );
    for hash in manifest["modules"].as_object().expect("modules").values() {
        let hash = hash.as_str().expect("hash");
        let (code, v) = host.call("GET", &format!("/v1/modules/{hash}"), None);
        assert_eq!(code, 200, "module {hash} is in the store: {v}");
    }
    let listed: Vec<String> = host.get("/v1/executions")["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    for e in manifest["executions"].as_array().expect("executions") {
        let id = e["id"].as_str().expect("id");
        assert!(listed.iter().any(|l| l == id), "{id} is not listed");
        let d = host.describe(id);
        for key in ["workflow_type", "module", "run", "version"] {
            assert_eq!(d[key], e[key], "{id}: {key}");
        }
        assert_eq!(d["parent"]["id"], e["parent"], "{id}: parent");

        let recorded = read_json(&dir.join(e["history"].as_str().expect("history")));
        let served = served_history(host, id, None);
        if exact {
            assert_eq!(served, recorded, "{id}: the history as recorded");
        } else {
            assert_starts_with(&served, &recorded, id, Some(&e["module"]));
        }
        for (run, file) in e["earlier_runs"]
            .as_array()
            .expect("earlier_runs")
            .iter()
            .enumerate()
        {
            let recorded = read_json(&dir.join(file.as_str().expect("file")));
            let served = served_history(host, id, Some(run as u64 + 1));
            assert_starts_with(&served, &recorded, id, None);
            assert_eq!(
                served["events"].as_array().map(Vec::len),
                recorded["events"].as_array().map(Vec::len),
                "{id}: run {} is closed: nothing may be added to it",
                run + 1
            );
        }
    }
    check_closed(host, manifest);
}

/// Every execution closed or stalled in the fixture reports what it did then.
fn check_closed(host: &Host, manifest: &Value) {
    for e in manifest["executions"].as_array().expect("executions") {
        if e["status"] == "running" {
            continue;
        }
        let id = e["id"].as_str().expect("id");
        assert_eq!(
            outcome(&host.result_now(id)),
            e["result"],
            "{id} reports its recorded result"
        );
    }
}

/// Runs the manifest's steps for each execution running in the fixture, in
/// the manifest's order (ascending in workflow time: they share one clock),
/// and returns what each ended with.
fn finish_running(host: &Host, manifest: &Value) -> Vec<(String, Value)> {
    let executions = manifest["executions"].as_array().expect("executions");
    let mut results = Vec::new();
    for e in executions.iter().filter(|e| e["status"] == "running") {
        let id = e["id"].as_str().expect("id");
        for step in e["finish"].as_array().expect("finish") {
            apply_step(host, manifest, id, step);
        }
        results.push((id.to_owned(), outcome(&host.wait_result(id))));
    }
    results
}

/// One finishing step: `signal`, `update`, `advance_to_ms` (move the clock to
/// that time unless it is past it already) or `wait_for` (until the
/// execution's history holds `count` events of that kind).
fn apply_step(host: &Host, manifest: &Value, id: &str, step: &Value) {
    if let Some(name) = step["signal"].as_str() {
        let (code, v) = host.call(
            "POST",
            &format!("/v1/executions/{id}/signals"),
            Some(json!({"name": name, "input": step["input"]})),
        );
        assert_eq!(code, 202, "{id}: {step}: {v}");
    } else if let Some(name) = step["update"].as_str() {
        let (code, v) = host.call(
            "POST",
            &format!("/v1/executions/{id}/updates"),
            Some(json!({"name": name, "input": step["input"], "update_id": step["update_id"]})),
        );
        assert_eq!(code, 200, "{id}: {step}: {v}");
    } else if let Some(to) = step["advance_to_ms"].as_u64() {
        let now = now_ms(host);
        if now < to {
            host.advance(to - now);
        }
        settle_timers(host, manifest);
    } else if let Some(kind) = step["wait_for"].as_str() {
        let n = step["count"].as_u64().expect("count") as usize;
        host.eventually(&format!("{id} to record {n} {kind}"), |h| {
            count(h, id, kind) >= n
        });
    } else {
        panic!("{id}: unknown step {step}");
    }
}

/// Waits until every running execution's due timers have fired, so that no
/// timer fires after the next move of the clock (its event would carry the
/// later time, and the workflow see it).
fn settle_timers(host: &Host, manifest: &Value) {
    let now = now_ms(host);
    let ids: Vec<&str> = manifest["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    host.eventually("every due timer to fire", |h| {
        ids.iter().all(|id| {
            let d = h.describe(id);
            d["status"] != "running"
                || d["pending_timers"]
                    .as_array()
                    .expect("pending_timers")
                    .iter()
                    .all(|t| t["fire_at_ms"].as_u64().expect("fire_at_ms") > now)
        })
    });
}

/// Runs `weft replay` (the build under test) for each of the manifest's
/// replays; returns each exit code and what it printed.
/// `None` for a replay the manifest says not to run.
fn run_replays(host: &Host, dir: &Path, manifest: &Value) -> Vec<Option<(i32, String)>> {
    manifest["replays"]
        .as_array()
        .expect("replays")
        .iter()
        .map(|r| {
            if r["skip"].is_string() {
                return None;
            }
            let history = dir.join(r["history"].as_str().expect("history"));
            let module = dir.join(r["module"].as_str().expect("module"));
            let out = host.cli(&[
                "replay",
                "--history",
                &history.to_string_lossy(),
                "--module",
                &module.to_string_lossy(),
            ]);
            let said = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            Some((out.status.code().unwrap_or(-1), said))
        })
        .collect()
}

/// `weft replay`'s exit codes (host/src/cli/replay.rs).
fn outcome_of_replay(code: i32) -> &'static str {
    match code {
        0 => "clean",
        1 => "diverged",
        _ => "broken",
    }
}

/// The parts of a result that a build must keep: status, output, failure and
/// stall reason, as far as present.
fn outcome(result: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for key in ["status", "output", "failure", "stall_reason"] {
        if !result[key].is_null() {
            out.insert(key.to_owned(), result[key].clone());
        }
    }
    Value::Object(out)
}

fn served_history(host: &Host, id: &str, run: Option<u64>) -> Value {
    let run = run.map(|r| format!("?run={r}")).unwrap_or_default();
    host.get(&format!("/v1/executions/{id}/history{run}"))
}

/// `served` holds the recorded history's events first, each with the same
/// index, time and fields (a later build may add fields, never change or drop
/// one), for the same execution. Its header names `current` (the module the
/// execution is on) for its current run: older builds named the module the
/// run started on, which an upgrade had left behind; an earlier run's header
/// names the same module as recorded.
fn assert_starts_with(served: &Value, recorded: &Value, id: &str, current: Option<&Value>) {
    for key in ["format", "execution_id", "workflow_type"] {
        assert_eq!(served[key], recorded[key], "{id}: history {key}");
    }
    let module = current.unwrap_or(&recorded["module"]);
    assert_eq!(&served["module"], module, "{id}: history module");
    let served = served["events"].as_array().expect("served events");
    let recorded = recorded["events"].as_array().expect("recorded events");
    assert!(
        served.len() >= recorded.len(),
        "{id}: {} events served, {} recorded",
        served.len(),
        recorded.len()
    );
    for (s, r) in served.iter().zip(recorded) {
        assert!(
            contains(s, r),
            "{id}: event {} changed:\nrecorded {r}\nserved   {s}",
            r["index"]
        );
    }
}

/// `big` has every field of `small` with the same value (recursively in
/// objects; arrays and scalars exactly).
fn contains(big: &Value, small: &Value) -> bool {
    match (big, small) {
        (Value::Object(b), Value::Object(s)) => s
            .iter()
            .all(|(k, v)| b.get(k).is_some_and(|bv| contains(bv, v))),
        _ => big == small,
    }
}

fn entry<'m>(manifest: &'m Value, id: &str) -> &'m Value {
    manifest["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} is not in the manifest"))
}

fn count(host: &Host, id: &str, kind: &str) -> usize {
    host.event_kinds(id).iter().filter(|k| *k == kind).count()
}

fn now_ms(host: &Host) -> u64 {
    host.get("/v1/clock")["now_ms"].as_u64().expect("now_ms")
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies a data directory, leaving out compiled-component caches (they
/// belong to one build of the host and are rebuilt on demand). A fixture
/// keeps its store gzipped (`weft.redb.gz`: a store file is not something git
/// should track as is); it is unpacked here under its own name.
pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the target directory");
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("directory entry");
        let path = entry.path();
        if entry.file_type().expect("file type").is_dir() {
            if entry.file_name() != "compiled" {
                copy_dir(&path, &to.join(entry.file_name()));
            }
        } else if path.extension().is_some_and(|x| x == "gz") {
            let out = std::fs::File::create(to.join(path.file_stem().expect("a file name")))
                .expect("create the unpacked file");
            let status = std::process::Command::new("gzip")
                .arg("-dc")
                .arg(&path)
                .stdout(out)
                .status()
                .expect("run gzip");
            assert!(status.success(), "gzip -dc {}: {status}", path.display());
        } else {
            std::fs::copy(&path, to.join(entry.file_name()))
                .unwrap_or_else(|e| panic!("copy {}: {e}", path.display()));
        }
    }
}

// ---------------------------------------------------------------------------
// The generator.

/// Makes a fixture directory with the host binary `WEFT_BIN`:
///
/// ```text
/// WEFT_BIN=/path/to/weft WEFT_GUESTS=target/guests WEFT_MAKE_GOLDEN=tests/golden/vN \
///   cargo test -p weft-e2e --test e2e golden::make_golden_fixture -- --ignored --nocapture
/// ```
#[test]
#[ignore = "makes a fixture: set WEFT_MAKE_GOLDEN=DIR (see tests/golden/README.md)"]
fn make_golden_fixture() {
    let Some(dir) = make_target() else {
        return;
    };
    let started = Instant::now();
    let mut manifest = generate(&dir);
    record_expectations(&dir, &mut manifest);
    write_json(&dir.join("manifest.json"), &manifest);
    eprintln!(
        "made the fixture {} in {:.1} s",
        dir.display(),
        started.elapsed().as_secs_f64()
    );
}

/// The steps that finish one running execution, in finishing order.
struct Finish {
    id: String,
    steps: Vec<Value>,
}

/// Runs the scenarios on a fresh host, stops it with SIGTERM and writes
/// `data/`, `histories/` and `modules/`; returns the manifest without the
/// expected outcomes of finishing and replaying.
fn generate(dir: &Path) -> Value {
    let host = Host::with_args(GENERATOR_ARGS);
    let now = now_ms(&host);
    assert!(now < FIXTURE_EPOCH_MS, "the system clock is past 2100");
    host.advance(FIXTURE_EPOCH_MS - now);

    let mut modules = BTreeMap::new();
    for name in EXAMPLES {
        modules.insert(name.to_string(), deploy(&host, name, &[]));
    }
    let order = |host: &Host, modules: &mut BTreeMap<String, String>, version: &str| {
        let name = format!("order-{version}");
        let hash = deploy(host, &name, &["--name", "order"]);
        modules.insert(name, hash);
    };
    let mut finishes: Vec<Finish> = Vec::new();

    // Phase 1: scenarios that need the clock to move. Versions of `order`:
    // 1 = v1, 2 = v2-broken, 3 = v2, 4 = v3.
    order(&host, &mut modules, "v1");
    start(
        &host,
        "order",
        "golden-order-v1-completed",
        json!({"order": "done"}),
    );
    start(
        &host,
        "order",
        "golden-order-reset",
        json!({"order": "reset"}),
    );
    order(&host, &mut modules, "v2-broken");
    start(
        &host,
        "order",
        "golden-order-broken",
        json!({"order": "broken"}),
    );
    start(
        &host,
        "timer-fanout",
        "golden-timer-fanout-completed",
        json!({"items": ["a", "b", "c"], "sleep_ms": SECOND}),
    );
    for id in [
        "golden-order-v1-completed",
        "golden-order-reset",
        "golden-order-broken",
        "golden-timer-fanout-completed",
    ] {
        wait_count(&host, id, "timer_started", 1);
    }
    host.advance(SECOND);
    assert_status(&host, "golden-timer-fanout-completed", "completed");
    host.advance(HOUR - SECOND);
    assert_status(&host, "golden-order-broken", "stalled");
    for id in ["golden-order-v1-completed", "golden-order-reset"] {
        wait_count(&host, id, "timer_started", 2);
    }
    host.advance(HOUR);
    for id in ["golden-order-v1-completed", "golden-order-reset"] {
        assert_status(&host, id, "completed");
    }
    order(&host, &mut modules, "v2");
    order(&host, &mut modules, "v3");
    host.cli_ok(&["set-current", "order", "1"]);

    // A parent that leaves two sleeping children behind when it returns, a
    // second later: one terminated by the parent-close policy, one abandoned
    // and still sleeping.
    let orphans = "golden-misbehave-orphans";
    let abandoned = "golden-misbehave-orphans-abandoned";
    start(&host, "misbehave", orphans, json!({"mode": "orphans"}));
    for id in [orphans, abandoned, "golden-misbehave-orphans-terminated"] {
        wait_count(&host, id, "timer_started", 1);
    }
    let abandoned_due = timer_due(&host, abandoned);
    host.advance(SECOND);
    assert_status(&host, orphans, "completed");
    assert_status(&host, "golden-misbehave-orphans-terminated", "terminated");

    // Phase 2: from here on the clock stands still; what is left running
    // waits for a signal, an update, a timer or a retry.
    let out = host.cli_ok(&[
        "reset",
        "golden-order-reset",
        "--to-event",
        "2",
        "--version",
        "3",
        "--reason",
        "golden: take the shout step",
    ]);
    assert!(out.contains("on version 3"), "{out}");
    wait_count(&host, "golden-order-reset", "timer_started", 1);
    start(
        &host,
        "order",
        "golden-order-upgraded",
        json!({"order": "up"}),
    );
    wait_count(&host, "golden-order-upgraded", "timer_started", 1);
    let (code, report) = host.call(
        "POST",
        "/v1/workflow-types/order/upgrade",
        Some(json!({"to": 3, "ids": ["golden-order-upgraded"]})),
    );
    assert_eq!(code, 200, "{report}");
    assert_eq!(report["executions"][0]["outcome"], "moved", "{report}");

    // Closed, each its own way.
    start(
        &host,
        "hello",
        "golden-hello-completed",
        json!({"name": "golden"}),
    );
    assert_status(&host, "golden-hello-completed", "completed");
    start(
        &host,
        "hello",
        "golden-hello-cancelled",
        json!({"name": "cancel", "sleep_ms": HOUR}),
    );
    wait_count(&host, "golden-hello-cancelled", "timer_started", 1);
    host.cli_ok(&[
        "cancel",
        "golden-hello-cancelled",
        "--reason",
        "golden: cancelled",
    ]);
    assert_status(&host, "golden-hello-cancelled", "cancelled");
    start(
        &host,
        "misbehave",
        "golden-misbehave-failed",
        json!({"mode": "fail"}),
    );
    assert_status(&host, "golden-misbehave-failed", "failed");
    start(
        &host,
        "misbehave",
        "golden-misbehave-trap",
        json!({"mode": "trap"}),
    );
    assert_status(&host, "golden-misbehave-trap", "stalled");
    start(
        &host,
        "misbehave",
        "golden-misbehave-loop",
        json!({"mode": "loop"}),
    );
    assert_status(&host, "golden-misbehave-loop", "stalled");
    start(
        &host,
        "misbehave",
        "golden-misbehave-terminated",
        json!({"mode": "sleep"}),
    );
    wait_count(&host, "golden-misbehave-terminated", "timer_started", 1);
    host.cli_ok(&[
        "terminate",
        "golden-misbehave-terminated",
        "--reason",
        "golden: terminated",
    ]);
    assert_status(&host, "golden-misbehave-terminated", "terminated");
    subscribe(&host, "golden-subscription-cancelled");
    signal(
        &host,
        "golden-subscription-cancelled",
        "change-plan",
        json!("pro"),
    );
    wait_count(&host, "golden-subscription-cancelled", "signal_awaited", 2);
    let (code, v) = host.call(
        "POST",
        "/v1/executions/golden-subscription-cancelled/updates",
        Some(
            json!({"name": "cancel", "input": {"reason": "golden"}, "update_id": "golden-cancel"}),
        ),
    );
    assert_eq!(code, 200, "{v}");
    assert_status(&host, "golden-subscription-cancelled", "completed");
    start(&host, "approval", "golden-approval-approved", json!({}));
    wait_count(&host, "golden-approval-approved", "timer_started", 1);
    signal(
        &host,
        "golden-approval-approved",
        "decision",
        json!({"approved": true, "by": "grace"}),
    );
    assert_status(&host, "golden-approval-approved", "completed");
    start(
        &host,
        "trip-booking",
        "golden-trip-completed",
        json!({"traveller": "grace"}),
    );
    assert_status(&host, "golden-trip-completed", "completed");
    start(
        &host,
        "trip-booking",
        "golden-trip-compensated",
        json!({"traveller": "ada", "car": "unavailable"}),
    );
    assert_status(&host, "golden-trip-compensated", "failed");
    start(
        &host,
        "batch",
        "golden-batch-completed",
        json!({"items": 100, "workers": 4}),
    );
    assert_status(&host, "golden-batch-completed", "completed");
    start(
        &host,
        "iterate",
        "golden-iterate-continued",
        json!({"total": 40_000, "chunk": 1_000}),
    );
    assert_status(&host, "golden-iterate-continued", "completed");
    start(
        &host,
        "iterate",
        "golden-iterate-limit",
        json!({"total": 40_000, "chunk": 1_000, "ignore_suggestion": true}),
    );
    assert_status(&host, "golden-iterate-limit", "terminated");
    start(
        &host,
        "polling",
        "golden-polling-fatal",
        json!({"mode": "fatal"}),
    );
    assert_status(&host, "golden-polling-fatal", "failed");

    // Running: listed in finishing order, by the workflow time each needs.
    // First the in-flight update (its activity must finish before the clock
    // moves: its start-to-close limit runs on workflow time), then signals.
    subscribe(&host, "golden-subscription-updating");
    wait_count(&host, "golden-subscription-updating", "timer_started", 1);
    finishes.push(Finish {
        id: "golden-subscription-updating".into(),
        steps: vec![],
    });

    start(&host, "approval", "golden-approval-waiting", json!({}));
    wait_count(&host, "golden-approval-waiting", "timer_started", 1);
    finishes.push(Finish {
        id: "golden-approval-waiting".into(),
        steps: vec![json!({"signal": "decision", "input": {"approved": false, "by": "linus"}})],
    });

    start(
        &host,
        "misbehave",
        "golden-misbehave-retrying",
        json!({"mode": "flaky", "fail_times": 1}),
    );
    wait_count(
        &host,
        "golden-misbehave-retrying",
        "activity_attempt_failed",
        1,
    );
    finishes.push(Finish {
        id: "golden-misbehave-retrying".into(),
        steps: vec![json!({"advance_to_ms": retry_at(&host, "golden-misbehave-retrying")})],
    });

    // An activity heartbeating when the host stops; the workflow cancels it
    // after a second.
    start(
        &host,
        "polling",
        "golden-polling-cancel",
        json!({"mode": "cancel"}),
    );
    wait_count(&host, "golden-polling-cancel", "timer_started", 1);
    host.eventually("the poll to heartbeat", |h| {
        h.describe("golden-polling-cancel")["pending_activities"][0]["heartbeat_details"]
            .as_u64()
            .is_some_and(|n| n > 0)
    });
    finishes.push(Finish {
        id: "golden-polling-cancel".into(),
        steps: vec![json!({"advance_to_ms": timer_due(&host, "golden-polling-cancel")})],
    });

    // The abandoned child's timer started a second before phase 2.
    finishes.push(Finish {
        id: abandoned.into(),
        steps: vec![json!({"advance_to_ms": abandoned_due})],
    });

    start(
        &host,
        "misbehave",
        "golden-misbehave-parent",
        json!({"mode": "parent"}),
    );
    let child = "golden-misbehave-parent-1";
    host.eventually("the child's timer", |h| {
        h.call("GET", &format!("/v1/executions/{child}"), None).0 == 200
            && count(h, child, "timer_started") == 1
    });
    finishes.push(Finish {
        id: child.into(),
        steps: vec![json!({"advance_to_ms": timer_due(&host, child)})],
    });
    finishes.push(Finish {
        id: "golden-misbehave-parent".into(),
        steps: vec![],
    });

    start(
        &host,
        "polling",
        "golden-polling-retrying",
        json!({"mode": "infrequent", "ready_on_attempt": 2}),
    );
    wait_count(
        &host,
        "golden-polling-retrying",
        "activity_attempt_failed",
        1,
    );
    finishes.push(Finish {
        id: "golden-polling-retrying".into(),
        steps: vec![json!({"advance_to_ms": retry_at(&host, "golden-polling-retrying")})],
    });

    start(
        &host,
        "hello",
        "golden-hello-sleeping",
        json!({"name": "sleepy", "sleep_ms": HOUR}),
    );
    wait_count(&host, "golden-hello-sleeping", "timer_started", 1);
    finishes.push(Finish {
        id: "golden-hello-sleeping".into(),
        steps: vec![json!({"advance_to_ms": timer_due(&host, "golden-hello-sleeping")})],
    });

    // Two one-hour timers each: the second starts when the first fires.
    for id in ["golden-order-upgraded", "golden-order-reset"] {
        let due = timer_due(&host, id);
        finishes.push(Finish {
            id: id.into(),
            steps: vec![
                json!({"advance_to_ms": due}),
                json!({"wait_for": "timer_started", "count": count(&host, id, "timer_started") + 1}),
                json!({"advance_to_ms": due + HOUR}),
            ],
        });
    }

    start(
        &host,
        "timer-fanout",
        "golden-timer-fanout-sleeping",
        json!({"items": ["x", "y"], "sleep_ms": 2 * HOUR}),
    );
    wait_count(&host, "golden-timer-fanout-sleeping", "timer_started", 1);
    finishes.push(Finish {
        id: "golden-timer-fanout-sleeping".into(),
        steps: vec![json!({"advance_to_ms": timer_due(&host, "golden-timer-fanout-sleeping")})],
    });

    start(&host, "approval", "golden-approval-timeout", json!({}));
    wait_count(&host, "golden-approval-timeout", "timer_started", 1);
    finishes.push(Finish {
        id: "golden-approval-timeout".into(),
        steps: vec![json!({"advance_to_ms": timer_due(&host, "golden-approval-timeout")})],
    });

    // The subscription: one plan change taken; the finish sends another,
    // bills the first month, and cancels.
    let sub = "golden-subscription-active";
    subscribe(&host, sub);
    signal(&host, sub, "change-plan", json!("pro"));
    wait_count(&host, sub, "signal_awaited", 2);
    let awaited = count(&host, sub, "signal_awaited");
    finishes.push(Finish {
        id: sub.into(),
        steps: vec![
            json!({"signal": "change-plan", "input": "basic"}),
            json!({"wait_for": "signal_awaited", "count": awaited + 1}),
            json!({"advance_to_ms": timer_due(&host, sub)}),
            json!({"wait_for": "activity_completed", "count": 1}),
            json!({"update": "cancel", "input": {"reason": "golden finish"}, "update_id": "golden-finish"}),
        ],
    });
    assert!(
        timer_due(&host, sub) > timer_due(&host, "golden-approval-timeout"),
        "finishing order follows workflow time"
    );

    // Every history as the CLI prints it.
    let mut executions = describe_all(&host, &finishes);
    let histories = dir.join("histories");
    std::fs::create_dir_all(&histories).expect("histories/");
    for e in executions.iter_mut() {
        export_histories(&host, dir, e);
    }

    // Last, the update whose charge is still running when the host stops
    // (its history is exported again once the activity started).
    let updating = "golden-subscription-updating";
    let input = json!({"reason": "golden in flight", "processing_ms": IN_FLIGHT_CHARGE_MS});
    let out = host.cli(&[
        "update",
        updating,
        "cancel",
        "--input",
        &input.to_string(),
        "--update-id",
        "golden-in-flight",
        "--no-wait",
    ]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "accepted, still running: {out:?}"
    );
    host.wait_for_log(
        &format!("activity started execution={updating}"),
        1,
        Duration::from_secs(60),
    );
    let e = executions
        .iter_mut()
        .find(|e| e["id"] == updating)
        .expect("the updating subscription");
    export_histories(&host, dir, e);
    let clock_ms = now_ms(&host);
    freeze(&host, dir);

    // The modules the histories replay on, and v3 of `order`, which must
    // diverge from a v1 history at its first command.
    let module_dir = dir.join("modules");
    std::fs::create_dir_all(&module_dir).expect("modules/");
    let mut replays = Vec::new();
    for e in &executions {
        let files = std::iter::once(&e["history"]).chain(e["earlier_runs"].as_array().unwrap());
        for (i, file) in files.enumerate() {
            // The current run replays on the module it is pinned to now
            // (an upgraded one on its new version); earlier runs on their own.
            let module = if i == 0 {
                e["module"].as_str().unwrap().to_owned()
            } else {
                read_json(&dir.join(file.as_str().unwrap()))["module"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            };
            let mut replay = json!({"history": file, "module": format!("modules/{module}.wasm")});
            let stalled = e["result"]["stall_reason"].as_str().unwrap_or_default();
            if stalled.contains("CPU deadline") {
                // Offline, a loop runs into `weft replay`'s own deadline of
                // 30 s: too long for every test run, and the sandbox tests
                // cover it.
                replay["skip"] = json!(format!("loops until the CPU deadline: {stalled}"));
            }
            replays.push(replay);
        }
    }
    replays.push(json!({
        "history": "histories/golden-order-v1-completed.json",
        "module": format!("modules/{}.wasm", modules["order-v3"]),
    }));
    for r in &replays {
        let file = r["module"].as_str().unwrap();
        let hash = &file["modules/".len()..file.len() - ".wasm".len()];
        let (name, _) = modules
            .iter()
            .find(|(_, h)| *h == hash)
            .unwrap_or_else(|| panic!("{hash} is no deployed example"));
        std::fs::copy(guest(name), dir.join(file)).expect("copy the module");
    }

    json!({
        "format": "weft-golden/1",
        "made_by": {
            "commit": git_head(),
            "binary": weft_version(),
            "host_args": GENERATOR_ARGS,
        },
        "clock_ms": clock_ms,
        "modules": modules,
        "executions": executions,
        "replays": replays,
    })
}

/// Reopens the fixture with the generating build on a copy, checks that it
/// opens exactly as recorded, finishes what runs and replays every history:
/// what that build does is what every later build must do.
fn record_expectations(dir: &Path, manifest: &mut Value) {
    let host = open_fixture(dir);
    check_opened(&host, dir, manifest, true);
    for (id, got) in finish_running(&host, manifest) {
        eprintln!("finished {id}: {got}");
        let e = manifest["executions"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|e| e["id"] == id.as_str())
            .unwrap();
        e["expect"] = got;
    }
    check_closed(&host, manifest);
    let said = run_replays(&host, dir, manifest);
    for (r, ran) in manifest["replays"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .zip(said)
    {
        let Some((code, said)) = ran else { continue };
        eprintln!(
            "replay {} on {}: {}",
            r["history"],
            r["module"],
            said.trim_end()
        );
        r["expect"] = json!(outcome_of_replay(code));
        r["says"] = json!(first_line(&said));
    }
}

/// The manifest entry of every execution on the host: running ones in the
/// finishing order, then the rest by id.
fn describe_all(host: &Host, finishes: &[Finish]) -> Vec<Value> {
    let mut ids: Vec<String> = host.get("/v1/executions")["executions"]
        .as_array()
        .expect("executions")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    let mut running = Vec::new();
    let mut closed = Vec::new();
    for id in ids {
        let d = host.describe(&id);
        let mut e = json!({
            "id": id,
            "workflow_type": d["workflow_type"],
            "module": d["module"],
            "version": d["version"],
            "run": d["run"],
            "parent": d["parent"]["id"],
            "status": d["status"],
            "history": format!("histories/{id}.json"),
            "earlier_runs": [],
        });
        if d["status"] == "running" {
            let Some(pos) = finishes.iter().position(|f| f.id == id) else {
                panic!("{id} runs, and no steps finish it: {d}");
            };
            e["finish"] = json!(finishes[pos].steps);
            running.push((pos, e));
        } else {
            e["result"] = outcome(&host.result_now(&id));
            closed.push(e);
        }
    }
    assert_eq!(
        running.len(),
        finishes.len(),
        "every finish is for a running execution"
    );
    running.sort_by_key(|(pos, _)| *pos);
    running.into_iter().map(|(_, e)| e).chain(closed).collect()
}

/// Writes the execution's history (and its earlier runs') as `weft history
/// --json` prints them.
fn export_histories(host: &Host, dir: &Path, e: &mut Value) {
    let id = e["id"].as_str().unwrap().to_owned();
    let printed = host.cli_ok(&["history", &id, "--json"]);
    std::fs::write(dir.join(e["history"].as_str().unwrap()), printed).expect("write history");
    let runs = e["run"].as_u64().unwrap();
    let mut earlier = Vec::new();
    for run in 1..runs {
        let file = format!("histories/{id}.run{run}.json");
        let printed = host.cli_ok(&["history", &id, "--run", &run.to_string(), "--json"]);
        std::fs::write(dir.join(&file), printed).expect("write history");
        earlier.push(file);
    }
    e["earlier_runs"] = json!(earlier);
}

/// SIGTERM, then waits for the process to exit: the host stops the way an
/// operator stops it.
pub(crate) fn stop_gracefully(host: &Host) {
    let pid = host.pid().expect("the host runs").to_string();
    let ok = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -TERM {pid}");
    // The harness owns the child and reaps it when dropped; until then an
    // exited host is a zombie.
    let stat = format!("/proc/{pid}/stat");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let state = std::fs::read_to_string(&stat)
            .ok()
            .and_then(|s| s.rsplit(')').next().map(|r| r.trim().to_owned()));
        match state {
            None => break,
            Some(s) if s.starts_with('Z') => break,
            Some(_) => {}
        }
        assert!(
            Instant::now() < deadline,
            "the host did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        host.log().contains("shutting down"),
        "the host stopped on SIGTERM"
    );
}

/// Deploys an example and returns its module hash (the last word the CLI
/// prints).
pub(crate) fn deploy(host: &Host, name: &str, extra: &[&str]) -> String {
    let path = guest(name).to_string_lossy().into_owned();
    let mut args = vec!["deploy", path.as_str()];
    args.extend_from_slice(extra);
    let out = host.cli_ok(&args);
    // The module's sha-256: the one 64-hex-digit word `weft deploy` prints.
    let hash = out
        .split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 64)
        .unwrap_or_else(|| panic!("no module hash in {out}"));
    hash.to_owned()
}

fn start(host: &Host, workflow_type: &str, id: &str, input: Value) {
    let (code, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": workflow_type, "id": id, "input": input})),
    );
    assert_eq!(code, 201, "start {id}: {v}");
}

fn subscribe(host: &Host, id: &str) {
    start(
        host,
        "subscription",
        id,
        json!({"customer": "ada", "plan": "basic"}),
    );
}

fn signal(host: &Host, id: &str, name: &str, input: Value) {
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/signals"),
        Some(json!({"name": name, "input": input})),
    );
    assert_eq!(code, 202, "{id}: signal {name}: {v}");
}

fn assert_status(host: &Host, id: &str, status: &str) {
    let r = host.wait_result(id);
    assert_eq!(r["status"], status, "{id}: {r}");
}

fn wait_count(host: &Host, id: &str, kind: &str, n: usize) {
    host.eventually(&format!("{id} to record {n} {kind}"), |h| {
        h.call("GET", &format!("/v1/executions/{id}"), None).0 == 200 && count(h, id, kind) >= n
    });
}

/// When the execution's only pending timer fires.
fn timer_due(host: &Host, id: &str) -> u64 {
    let d = host.describe(id);
    let timers = d["pending_timers"].as_array().expect("pending_timers");
    assert_eq!(timers.len(), 1, "{id}: {d}");
    timers[0]["fire_at_ms"].as_u64().expect("fire_at_ms")
}

/// When the execution's last failed activity attempt is retried.
fn retry_at(host: &Host, id: &str) -> u64 {
    served_history(host, id, None)["events"]
        .as_array()
        .expect("events")
        .iter()
        .rev()
        .find(|e| e["event"]["type"] == "activity_attempt_failed")
        .and_then(|e| e["event"]["retry_at_ms"].as_u64())
        .unwrap_or_else(|| panic!("{id} has no failed attempt"))
}

/// The directory a fixture generator writes (`WEFT_MAKE_GOLDEN`), which must
/// not hold a fixture yet; `None` (and a line saying so) when it is not set.
pub(crate) fn make_target() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("WEFT_MAKE_GOLDEN") else {
        eprintln!("WEFT_MAKE_GOLDEN is not set: no fixture made");
        return None;
    };
    let dir = PathBuf::from(dir);
    assert!(
        !dir.exists() || std::fs::read_dir(&dir).expect("read DIR").next().is_none(),
        "{} exists: a fixture is never overwritten, make a new version directory",
        dir.display()
    );
    Some(dir)
}

/// Stops a generating host as an operator would (SIGTERM) and keeps its
/// data directory as the fixture's `data/`, the store gzipped.
pub(crate) fn freeze(host: &Host, dir: &Path) {
    let data = host.data_dir();
    stop_gracefully(host);
    copy_dir(&data, &dir.join("data"));
    let status = std::process::Command::new("gzip")
        .arg("-9")
        .arg(dir.join("data/weft.redb"))
        .status()
        .expect("run gzip");
    assert!(status.success(), "gzip the fixture's store: {status}");
}

pub(crate) fn git_head() -> String {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo())
        .output()
        .expect("git rev-parse HEAD");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn weft_version() -> String {
    Command::new(weft_bin())
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

pub(crate) fn write_json(path: &Path, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("JSON") + "\n";
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}
