//! A golden fixture of search attributes and memo (see
//! tests/golden/README.md): a data directory written by the build that
//! introduced them, with executions that set them at start, from workflow
//! code, across a continue-as-new, and one whose workflow was refused a
//! value of another type. Every later build must open it, show the same
//! attributes, find the same executions by the same queries, replay the
//! histories on their modules, and let the running ones go on.

use std::path::Path;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{guest, Host};

use crate::golden::{
    copy_dir, deploy, fixture_dirs, freeze, git_head, make_target, write_json, FIXTURE_EPOCH_MS,
};

const HOUR: u64 = 3_600_000;
const FIXTURE: &str = "search-v1";

/// The queries the fixture records the answers to.
const QUERIES: &[&str] = &[
    "Customer = 'c-42' AND Stage = 'second'",
    "ApprovalState = 'pending'",
    "Requester IN ('ada', 'bob') AND Amount > 100",
    "Note = 'gift' AND Vip IS NULL",
    "DueAt = '2026-11-01' AND Tags = 'eu'",
    "ExecutionStatus = 'stalled'",
    "Origin STARTS_WITH 'fix'",
];

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    weft_e2e::serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the fixture records of an execution.
fn kept(host: &Host, id: &str) -> Value {
    let d = host.describe(id);
    json!({"status": d["status"], "run": d["run"], "module": d["module"],
           "stall_reason": d["stall_reason"],
           "search_attributes": d["search_attributes"], "memo": d["memo"]})
}

#[test]
fn the_search_fixtures_open_and_their_executions_are_found_as_before() {
    let dirs = fixture_dirs("search-v");
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
    for (id, want) in manifest["executions"].as_object().expect("executions") {
        assert_eq!(kept(&host, id), *want, "execution {id}");
        // Its history replays on its module.
        let history = dir.join("histories").join(format!("{id}.json"));
        let module = dir
            .join("modules")
            .join(format!("{}.wasm", want["module"].as_str().expect("module")));
        let out = host.cli(&[
            "replay",
            "--history",
            &history.to_string_lossy(),
            "--module",
            &module.to_string_lossy(),
        ]);
        assert!(
            out.status.success(),
            "{id}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (query, want) in manifest["queries"].as_object().expect("queries") {
        assert_eq!(json!(host.query_ids(query)), *want, "{query}");
    }
    assert_eq!(
        host.get("/v1/search-attributes"),
        manifest["search_attributes"],
        "the types of the names"
    );
    // The running ones go on: the approval is decided, the nap wakes.
    let (code, v) = host.call(
        "POST",
        "/v1/executions/fx-approval/signals",
        Some(json!({"name": "decision", "input": {"approved": true, "by": "grace"}})),
    );
    assert_eq!(code, 202, "{v}");
    assert_eq!(
        host.wait_result("fx-approval")["output"],
        "approved by grace"
    );
    let d = host.describe("fx-approval");
    assert_eq!(
        d["search_attributes"]["ApprovalState"]["value"], "approved",
        "{d}"
    );
    assert_eq!(d["search_attributes"]["Requester"]["value"], "ada", "{d}");
    host.advance(HOUR);
    assert_eq!(host.wait_result("fx-nap")["status"], "completed");
    assert_eq!(
        host.describe("fx-nap")["search_attributes"]["Origin"]["value"],
        "fixture-nap"
    );
}

/// Makes the fixture (never overwrites one):
///
/// ```text
/// WEFT_BIN=/path/to/weft WEFT_GUESTS=target/guests WEFT_MAKE_GOLDEN=tests/golden/search-vN \
///   cargo test -p weft-e2e --test e2e golden_search::make_search_fixture -- --ignored
/// ```
#[test]
#[ignore = "makes a fixture: set WEFT_MAKE_GOLDEN=DIR (see tests/golden/README.md)"]
fn make_search_fixture() {
    let Some(dir) = make_target() else {
        return;
    };
    let host = Host::with_args(&["--manual-clock"]);
    let mut modules = Vec::new();
    for name in ["corners", "approval"] {
        modules.push((name, deploy(&host, name, &[])));
    }
    let now = host.get("/v1/clock")["now_ms"].as_u64().unwrap();
    host.advance(FIXTURE_EPOCH_MS - now);
    // The names the starts give (since the build after the one that made
    // search-v1, a start may only give names the host knows).
    for (name, t) in [
        ("Origin", "keyword"),
        ("Due", "datetime"),
        ("Requester", "keyword"),
        ("Amount", "double"),
    ] {
        host.cli_ok(&["search-attributes", "create", name, t]);
    }
    let start = |body: Value| {
        let (code, v) = host.call("POST", "/v1/executions", Some(body));
        assert_eq!(code, 201, "{v}");
    };
    start(
        json!({"workflow_type": "corners", "id": "fx-search", "input": {"mode": "search"},
                 "search_attributes": {"Origin": "fixture"}, "memo": {"from": "the start"}}),
    );
    // `Items` is an int (fx-search's first task) before fx-conflict sets a keyword.
    host.eventually("fx-search's first run set its attributes", |h| {
        h.describe("fx-search")["search_attributes"]["Items"]["type"] == "int"
    });
    start(json!({"workflow_type": "corners", "id": "fx-conflict",
                 "input": {"mode": "search-conflict"}}));
    start(json!({"workflow_type": "corners", "id": "fx-nap",
                 "input": {"mode": "nap", "timeout_ms": HOUR},
                 "search_attributes": {"Origin": "fixture-nap",
                                       "Due": {"type": "datetime", "value": "2100-01-01T01:00:00Z"}}}));
    start(
        json!({"workflow_type": "approval", "id": "fx-approval", "input": {},
                 "search_attributes": {"Requester": "ada", "Amount": 1250.5}}),
    );
    start(
        json!({"workflow_type": "approval", "id": "fx-rejected", "input": {},
                 "search_attributes": {"Requester": "bob", "Amount": 80.0}}),
    );
    host.eventually("the approvals wait", |h| {
        ["fx-approval", "fx-rejected"]
            .iter()
            .all(|id| h.describe(id)["search_attributes"]["ApprovalState"]["value"] == "pending")
    });
    let (code, v) = host.call(
        "POST",
        "/v1/executions/fx-rejected/signals",
        Some(json!({"name": "decision",
                    "input": {"approved": false, "by": "linus", "note": "over budget"}})),
    );
    assert_eq!(code, 202, "{v}");
    for id in ["fx-search", "fx-rejected", "fx-conflict"] {
        host.wait_result(id);
    }
    host.eventually("the nap sleeps", |h| {
        h.event_kinds("fx-nap").iter().any(|k| k == "timer_started")
    });
    let ids_made = [
        "fx-search",
        "fx-conflict",
        "fx-nap",
        "fx-approval",
        "fx-rejected",
    ];
    let executions: weft_e2e::serde_json::Map<String, Value> = ids_made
        .iter()
        .map(|id| (id.to_string(), kept(&host, id)))
        .collect();
    let queries: weft_e2e::serde_json::Map<String, Value> = QUERIES
        .iter()
        .map(|q| (q.to_string(), json!(host.query_ids(q))))
        .collect();
    std::fs::create_dir_all(dir.join("histories")).expect("the fixture directory");
    std::fs::create_dir_all(dir.join("modules")).expect("the fixture directory");
    for id in ids_made {
        let exported = host.cli_ok(&["history", id, "--json"]);
        std::fs::write(dir.join("histories").join(format!("{id}.json")), exported)
            .expect("write a history");
    }
    for (name, hash) in &modules {
        std::fs::copy(
            guest(name),
            dir.join("modules").join(format!("{hash}.wasm")),
        )
        .expect("copy a module");
    }
    let search_attributes = host.get("/v1/search-attributes");
    let clock_ms = host.get("/v1/clock")["now_ms"].clone();
    freeze(&host, &dir);
    let made_by = git_head();
    write_json(
        &dir.join("manifest.json"),
        &json!({"clock_ms": clock_ms, "made_by": made_by, "executions": executions,
                "queries": queries, "search_attributes": search_attributes}),
    );
}
