//! Versions of a workflow type: pinned executions, `patched`, upgrades that
//! replay each history first, repairing a stalled execution, rolling back,
//! and a SIGKILL in the middle of an upgrade.

use std::time::Duration;

use weft_e2e::serde_json::{json, Value};
use weft_e2e::{guest, Host};

const HOUR: u64 = 3_600_000;

fn deploy_order(host: &Host, version: &str) -> String {
    host.cli_ok(&[
        "deploy",
        &guest(&format!("order-{version}")).to_string_lossy(),
        "--name",
        "order",
    ])
}

/// Starts `order` (input `r`) on the type's current version and takes it
/// through its two timers to its end; its id.
fn finished_order(host: &Host) -> String {
    let r = host.start_execution("order", json!({"order": "r"}));
    wait_timers(host, &[&r], 1);
    host.advance(HOUR);
    wait_timers(host, &[&r], 2);
    host.advance(HOUR);
    assert_eq!(host.wait_result(&r)["output"], "Hello, r!");
    r
}

fn timers_started(host: &Host, id: &str) -> usize {
    host.event_kinds(id)
        .iter()
        .filter(|k| *k == "timer_started")
        .count()
}

fn wait_timers(host: &Host, ids: &[&str], n: usize) {
    for id in ids {
        host.eventually(&format!("{id} to start timer {n}"), |h| {
            timers_started(h, id) == n
        });
    }
}

fn version(host: &Host, id: &str) -> Value {
    host.describe(id)["version"].clone()
}

#[test]
fn executions_stay_pinned_and_upgrade_moves_those_that_replay() {
    let host = Host::start();
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    deploy_order(&host, "v1");

    // `c` gets past the patch point on v1; `a` and `b` wait before it.
    let c = host.start_execution("order", json!({"order": "c"}));
    wait_timers(&host, &[&c], 1);
    host.advance(HOUR);
    wait_timers(&host, &[&c], 2);
    let a = host.start_execution("order", json!({"order": "a"}));
    let b = host.start_execution("order", json!({"order": "b"}));
    wait_timers(&host, &[&a, &b], 1);

    let out = deploy_order(&host, "v2");
    assert!(out.starts_with("workflow type order -> module"), "{out}");
    let d = host.start_execution("order", json!({"order": "d"}));
    wait_timers(&host, &[&d], 1);
    for id in [&a, &b, &c] {
        assert_eq!(
            version(&host, id),
            1,
            "{id} stays on the version it started on"
        );
    }
    assert_eq!(
        version(&host, &d),
        2,
        "new executions start on the current version"
    );
    let versions = host.get("/v1/workflow-types/order/versions")["versions"].clone();
    assert_eq!(versions[0]["running"], 3, "{versions}");
    assert_eq!(versions[1]["running"], 1, "{versions}");
    assert_eq!(versions[1]["current"], true, "{versions}");
    let table = host.cli_ok(&["versions", "order"]);
    assert!(table.contains("2 *"), "{table}");

    // v3 reorders the steps: a dry run finds every history incompatible.
    deploy_order(&host, "v3");
    host.cli_ok(&["set-current", "order", "2"]);
    let (status, report) = host.call(
        "POST",
        "/v1/workflow-types/order/upgrade",
        Some(json!({"to": 3, "dry_run": true})),
    );
    assert_eq!(status, 200, "{report}");
    let items = report["executions"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{report}");
    for item in items {
        assert_eq!(item["outcome"], "diverged", "{report}");
        assert_eq!(item["divergence"]["event_index"], 1, "{report}");
        let recorded = item["divergence"]["recorded"].as_str().unwrap();
        // Issue 16: the content, not only sizes and hashes.
        assert!(
            recorded.contains("greet({\"") && recorded.contains("\"text\""),
            "{report}"
        );
        assert!(item["divergence"]["issued"]
            .as_str()
            .unwrap()
            .contains("exclaim"));
    }
    let out = host.cli(&["upgrade", "order", "--to", "3", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "divergences exit 1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("dry run") && text.contains("diverged: at event 1"),
        "{text}"
    );
    for id in [&a, &b, &c] {
        assert_eq!(version(&host, id), 1, "a dry run moves nothing");
    }

    // v2 only adds a step behind `patched`: every v1 history replays.
    let out = host.cli_ok(&["upgrade", "order", "--to", "v2"]);
    assert!(
        out.contains("3 moved, 0 diverged, 0 failed, 1 already there"),
        "{out}"
    );
    for id in [&a, &b, &c, &d] {
        assert_eq!(version(&host, id), 2);
    }

    host.advance(HOUR);
    wait_timers(&host, &[&a, &b, &d], 2);
    host.advance(HOUR);
    // `a`, `b` and `d` reach the patch fresh on v2 and take it; `c` was
    // recorded past it by v1 and replays without it.
    for (id, expect) in [
        (&a, "HELLO, A!"),
        (&b, "HELLO, B!"),
        (&c, "Hello, c!"),
        (&d, "HELLO, D!"),
    ] {
        let r = host.wait_result(id);
        assert_eq!(r["output"], expect, "{id}: {r}");
    }
    let kinds = host.event_kinds(&a);
    assert!(kinds.contains(&"patch_marker".to_string()), "{kinds:?}");
    assert!(!host.event_kinds(&c).contains(&"patch_marker".to_string()));
}

/// Issue 16: after `weft upgrade` the history said nothing of the move and
/// its header still named the old module, so a replay against the header's
/// module diverged and nobody could tell which code ran which steps. Now
/// the move is an event (`execution_upgraded`, from, to, the last event
/// replayed), the header names the module the run is on, and the exported
/// history replays on it with the event in it.
#[test]
fn an_upgrade_is_recorded_in_the_history_and_its_header_names_the_new_module() {
    let host = Host::start();
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    deploy_order(&host, "v1");
    let a = host.start_execution("order", json!({"order": "a"}));
    wait_timers(&host, &[&a], 1);
    let v1 = host.get(&format!("/v1/executions/{a}/history"))["module"].clone();
    deploy_order(&host, "v2");
    host.cli_ok(&["upgrade", "order", "--to", "v2"]);
    let history = host.get(&format!("/v1/executions/{a}/history"));
    let v2 = host.describe(&a)["module"].clone();
    assert_ne!(v1, v2);
    assert_eq!(history["module"], v2, "the header names the current module");
    let events = history["events"].as_array().unwrap();
    let moved = events
        .iter()
        .find(|e| e["event"]["type"] == "execution_upgraded")
        .unwrap_or_else(|| panic!("no execution_upgraded: {history}"));
    assert_eq!(moved["event"]["from"], v1, "{moved}");
    assert_eq!(moved["event"]["to"], v2, "{moved}");
    assert_eq!(
        moved["event"]["after_event"].as_u64().unwrap() + 1,
        moved["index"].as_u64().unwrap(),
        "{moved}"
    );
    let text = host.cli_ok(&["history", &a]);
    assert!(text.contains("execution_upgraded from module"), "{text}");
    // The run goes on past the event, on v2, and replays with it.
    host.advance(HOUR);
    wait_timers(&host, &[&a], 2);
    host.advance(HOUR);
    let r = host.wait_result(&a);
    assert_eq!(r["output"], "HELLO, A!", "{r}");
    host.assert_replays(&a, "order-v2");
}

/// Found by a review of the upgrade and reset paths: a reset with no
/// version fixed its module from its first read; an upgrade committed while
/// the reset replayed (its event grew the history, so the reset read it
/// again) was undone: the execution went back to the old code. The reset
/// takes the module from each read.
#[test]
fn a_reset_keeps_an_upgrade_made_while_it_replayed() {
    let host = Host::paused_at(&["--manual-clock"], &["reset-replayed"]);
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    deploy_order(&host, "v1");
    let a = host.start_execution("order", json!({"order": "a"}));
    wait_timers(&host, &[&a], 1);
    deploy_order(&host, "v2");
    std::thread::scope(|s| {
        let reset = s.spawn(|| host.cli(&["reset", &a, "--to-event", "0"]));
        host.wait_for_log("paused at reset-replayed", 1, Duration::from_secs(30));
        host.cli_ok(&["upgrade", "order", "--to", "v2"]);
        assert_eq!(host.describe(&a)["version"], 2);
        host.release("reset-replayed");
        let out = reset.join().expect("the reset");
        assert!(out.status.success(), "{out:?}");
    });
    assert_eq!(host.describe(&a)["version"], 2, "the upgrade stands");
}

/// Found by a review of the upgrade paths: a store that could not answer
/// for one execution of an upgrade (a read or a write that failed) ended
/// the whole upgrade with an error: the report of what had moved was lost,
/// and the executions after it were not checked. That one is reported
/// failed, the others move, and the upgrade run again moves it.
#[test]
fn an_upgrade_goes_on_past_an_execution_the_store_could_not_read() {
    let mut host = Host::start();
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    deploy_order(&host, "v1");
    let a = host.start_execution("order", json!({"order": "a"}));
    let b = host.start_execution("order", json!({"order": "b"}));
    wait_timers(&host, &[&a, &b], 1);
    deploy_order(&host, "v2");
    host.kill();
    host.fail_at(&["upgrade-read"]);
    host.spawn();
    let out = host.cli(&["upgrade", "order", "--to", "v2"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 moved, 0 diverged, 1 failed") && text.contains("run the upgrade again"),
        "{out:?}"
    );
    let mut versions = [&a, &b].map(|id| version(&host, id).as_u64().expect("a version"));
    versions.sort();
    assert_eq!(versions, [1, 2]);
    let again = host.cli_ok(&["upgrade", "order", "--to", "v2"]);
    assert!(again.contains("1 moved"), "{again}");
    assert_eq!([version(&host, &a), version(&host, &b)], [2, 2]);
}

#[test]
fn a_stalled_execution_is_repaired_by_upgrading_to_a_fix_and_rollback_works() {
    let host = Host::start();
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    deploy_order(&host, "v1");
    deploy_order(&host, "v2-broken");
    let e = host.start_execution("order", json!({"order": "e"}));
    wait_timers(&host, &[&e], 1);
    host.advance(HOUR);
    let r = host.wait_result(&e);
    assert_eq!(r["status"], "stalled", "{r}");
    assert!(
        r["stall_reason"].as_str().unwrap().contains("v2-broken"),
        "{r}"
    );

    deploy_order(&host, "v2");
    let (status, report) = host.call(
        "POST",
        "/v1/workflow-types/order/upgrade",
        Some(json!({"to": "3", "ids": [e]})),
    );
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["executions"][0]["outcome"], "moved", "{report}");
    assert_eq!(report["executions"][0]["status"], "stalled", "{report}");
    // It resumes where it stopped: the fixed code takes the patch.
    wait_timers(&host, &[&e], 2);
    assert_eq!(host.result_now(&e)["status"], "running");
    host.advance(HOUR);
    let r = host.wait_result(&e);
    assert_eq!(r["output"], "HELLO, E!", "{r}");

    // Roll the current version back to v1.
    let out = host.cli_ok(&["set-current", "order", "1"]);
    assert!(out.contains("version 1"), "{out}");
    let f = host.start_execution("order", json!({"order": "f"}));
    assert_eq!(version(&host, &f), 1);
    let (status, v) = host.call(
        "PUT",
        "/v1/workflow-types/order/current",
        Some(json!({"version": 9})),
    );
    assert_eq!(status, 404, "{v}");
    let (status, v) = host.call(
        "PUT",
        "/v1/workflow-types/nope/current",
        Some(json!({"version": 1})),
    );
    assert_eq!(status, 404, "{v}");
}

#[test]
fn a_sigkill_during_an_upgrade_leaves_each_execution_on_one_version() {
    let mut host = Host::start();
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    deploy_order(&host, "v1");
    let names: Vec<String> = (0..40).map(|i| format!("o{i}")).collect();
    let ids: Vec<String> = names
        .iter()
        .map(|n| host.start_execution("order", json!({ "order": n })))
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    wait_timers(&host, &refs, 1);
    deploy_order(&host, "v2");

    let url = host.url.clone();
    let upgrade = std::thread::spawn(move || {
        weft_e2e::output_within(
            std::process::Command::new(weft_e2e::weft_bin())
                .args(["upgrade", "order", "--to", "2"])
                .env("WEFT_SERVER", url),
            weft_e2e::CLI_LIMIT,
        )
    });
    host.wait_for_log("upgrade checked", 3, Duration::from_secs(60));
    host.kill_and_restart();
    let _ = upgrade.join();

    let mut moved = 0;
    for id in &ids {
        let v = version(&host, id);
        assert!(v == 1 || v == 2, "{id} is on {v}");
        moved += usize::from(v == 2);
        assert_eq!(timers_started(&host, id), 1, "{id}: no step was repeated");
    }
    eprintln!("{moved} of {} executions had moved at the kill", ids.len());
    assert!(moved >= 3, "the upgrade had moved some before the kill");
    // Finish the job; every execution completes on v2.
    let out = host.cli_ok(&["upgrade", "order", "--to", "2"]);
    assert!(out.contains("0 diverged, 0 failed"), "{out}");
    host.advance(HOUR);
    wait_timers(&host, &refs, 2);
    host.advance(HOUR);
    for (id, name) in ids.iter().zip(&names) {
        let r = host.wait_result(id);
        assert_eq!(
            r["output"],
            format!("HELLO, {}!", name.to_uppercase()),
            "{r}"
        );
    }
}

/// Found by a review of the module paths: a reset onto another version
/// read that version's module, replayed, then wrote; a prune in between
/// deleted the module (no execution ran on it yet, it was not current),
/// and the reset moved the execution onto a module the store no longer
/// held (stalled on any host that had not compiled it). The reset's write
/// checks that the module is there. The reset is held after its replay
/// check while the prune runs.
#[test]
fn a_reset_onto_a_version_pruned_meanwhile_is_refused() {
    let host = Host::paused_at(&["--manual-clock"], &["reset-replayed"]);
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    deploy_order(&host, "v1");
    deploy_order(&host, "v2");
    host.cli_ok(&["set-current", "order", "1"]);
    let r = finished_order(&host);
    let reset = {
        let url = format!("{}/v1/executions/{r}/reset", host.url);
        std::thread::spawn(move || {
            let resp = weft_e2e::http()
                .post(url)
                .json(&json!({"to_event": 2, "version": "2"}))
                .send()
                .expect("the reset");
            (
                resp.status().as_u16(),
                resp.json::<Value>().unwrap_or_default(),
            )
        })
    };
    host.wait_for_log(
        "paused at reset-replayed",
        1,
        std::time::Duration::from_secs(30),
    );
    let pruned = host.cli_ok(&["modules", "prune"]);
    assert!(pruned.contains("an old version of order"), "{pruned}");
    host.release("reset-replayed");
    let (status, v) = reset.join().expect("the reset call");
    assert_eq!(
        status, 409,
        "reset onto a module the store no longer holds: {v}"
    );
    assert_eq!(host.result_now(&r)["status"], "completed");
    assert_eq!(host.describe(&r)["version"], 1);
}

#[test]
fn reset_runs_an_execution_again_from_an_event() {
    let host = Host::start();
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    deploy_order(&host, "v1");
    deploy_order(&host, "v2");
    deploy_order(&host, "v3");
    host.cli_ok(&["set-current", "order", "1"]);

    // A finished execution, run again from right after `greet` on v2.
    let r = finished_order(&host);
    assert_eq!(host.event_kinds(&r)[2], "activity_completed");

    // Refused: past the end, and onto code that cannot replay the kept part.
    let (status, v) = host.call(
        "POST",
        &format!("/v1/executions/{r}/reset"),
        Some(json!({"to_event": 99})),
    );
    assert_eq!(status, 400, "{v}");
    let out = host.cli(&["reset", &r, "--to-event", "2", "--version", "3"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("do not replay"), "{stderr}");
    assert_eq!(
        host.result_now(&r)["status"],
        "completed",
        "a refused reset changes nothing"
    );

    let out = host.cli_ok(&[
        "reset",
        &r,
        "--to-event",
        "2",
        "--version",
        "2",
        "--reason",
        "add the shout step",
    ]);
    assert!(
        out.contains("(7 later event(s) discarded) on version 2"),
        "{out}"
    );
    let history = host.get(&format!("/v1/executions/{r}/history"));
    let reset = &history["events"][3];
    assert_eq!(reset["event"]["type"], "execution_reset", "{history}");
    assert_eq!(reset["event"]["discarded"].as_array().unwrap().len(), 7);
    assert_eq!(reset["event"]["reason"], "add the shout step");
    assert_eq!(host.result_now(&r)["status"], "running");
    wait_timers(&host, &[&r], 1);
    host.advance(HOUR);
    wait_timers(&host, &[&r], 2);
    host.advance(HOUR);
    assert_eq!(host.wait_result(&r)["output"], "HELLO, R!");

    // A running execution waiting on its second timer: that timer is
    // dropped with the reset and never fires into the new run.
    let s = host.start_execution("order", json!({"order": "s"}));
    wait_timers(&host, &[&s], 1);
    host.advance(HOUR);
    wait_timers(&host, &[&s], 2);
    host.cli_ok(&["reset", &s, "--to-event", "2"]);
    wait_timers(&host, &[&s], 1);
    host.advance(HOUR);
    wait_timers(&host, &[&s], 2);
    let fired = |h: &Host| {
        h.event_kinds(&s)
            .iter()
            .filter(|k| *k == "timer_fired")
            .count()
    };
    assert_eq!(fired(&host), 1, "{:?}", host.event_kinds(&s));
    host.advance(HOUR);
    assert_eq!(host.wait_result(&s)["output"], "Hello, s!");
    assert_eq!(fired(&host), 2, "{:?}", host.event_kinds(&s));
}

/// Found by a review of the upgrade paths: an upgrade read each execution
/// again by its id alone while it checked it. An execution of the type
/// that ended while the upgrade replayed it, its id started again by a
/// client as another type, was checked and moved in its place (the upgrade
/// reads again after a refused write): the other type's execution ran this
/// type's code. An id that now holds another type's execution is left as
/// it is and reported. The upgrade is held after its first replay.
#[test]
fn an_upgrade_leaves_an_execution_of_another_type_that_took_the_id() {
    let host = order_of_two_types("upgrade-replayed#1", "x");
    std::thread::scope(|s| {
        let upgrade = s.spawn(|| host.cli(&["upgrade", "order", "--to", "v2"]));
        host.wait_for_log("paused at upgrade-replayed", 1, Duration::from_secs(30));
        host.cli_ok(&["terminate", "x"]);
        host.start_as("order-b", "x", json!({"order": "x"}));
        host.eventually("the other type's x runs", |h| {
            let d = h.describe("x");
            d["workflow_type"] == "order-b" && d["status"] == "running"
        });
        host.release("upgrade-replayed");
        let out = upgrade.join().expect("the upgrade");
        let text = format!("{out:?}");
        assert!(text.contains("order-b"), "{text}");
    });
    is_order_b("x", &host);
}

/// A host held at pause point `point`, with `order` at versions 1 and 2
/// and `order-b` at version 1 (`order`'s first bytes), and `id` an
/// `order` on version 1 at its first timer.
fn order_of_two_types(point: &str, id: &str) -> Host {
    let host = Host::paused_at(&["--manual-clock"], &[point]);
    host.cli_ok(&["deploy", &guest("hello-activities").to_string_lossy()]);
    deploy_order(&host, "v1");
    let v1 = guest("order-v1").to_string_lossy().into_owned();
    host.cli_ok(&["deploy", &v1, "--name", "order-b"]);
    host.start_as("order", id, json!({"order": id}));
    wait_timers(&host, &[id], 1);
    deploy_order(&host, "v2");
    host
}

/// `id` is an `order-b`, on its version 1.
fn is_order_b(id: &str, host: &Host) {
    let d = host.describe(id);
    assert_eq!(
        (&d["workflow_type"], &d["version"]),
        (&json!("order-b"), &json!(1)),
        "{d}"
    );
}

/// Found with the one above: a reset onto a version read the execution
/// again at each try, and took the version from the type it read first. An
/// execution of another type that took the id while the reset replayed was
/// reset onto this type's version (the reset reads again after a refused
/// write). It is refused, naming both types. The reset is held after its
/// first replay while the execution is terminated, deleted and its id
/// started again as another type.
#[test]
fn a_reset_onto_a_version_leaves_an_execution_of_another_type_that_took_the_id() {
    let host = order_of_two_types("reset-replayed#1", "y");
    std::thread::scope(|s| {
        let reset = s.spawn(|| host.cli(&["reset", "y", "--to-event", "0", "--version", "v2"]));
        host.wait_for_log("paused at reset-replayed", 1, Duration::from_secs(30));
        // Deleted, so that the new history begins at event 0 again.
        host.cli_ok(&["terminate", "y"]);
        host.cli_ok(&["delete", "y"]);
        host.start_as("order-b", "y", json!({"order": "y"}));
        host.eventually("the other type's y runs", |h| {
            let d = h.describe("y");
            d["workflow_type"] == "order-b" && d["status"] == "running"
        });
        host.release("reset-replayed");
        let out = reset.join().expect("the reset");
        assert!(!out.status.success(), "{out:?}");
        assert!(format!("{out:?}").contains("order-b"), "{out:?}");
    });
    is_order_b("y", &host);
}

/// Found by a review of the upgrade paths: an update sent as its execution
/// was upgraded (the move written, the instance not yet told to load
/// again) was validated by the old version's instance, which had read the
/// upgrade's event and answered after it, and was accepted: the new
/// version's validator, which refuses it, never saw it. An instance that
/// reads a move to another module loads again before it answers. The
/// upgrade is held between its write and its word to the instance.
#[test]
fn an_update_sent_as_its_execution_is_upgraded_is_validated_by_the_new_version() {
    let host = Host::paused_at(&["--manual-clock"], &["upgrade-written"]);
    host.deploy_examples_and_corners();
    host.start_corners("up", json!({"mode": "update"}));
    host.eventually("it waits for a bump", |h| {
        h.query("up", "bumped") == json!(0)
    });
    let v2 = guest("corners-v2").to_string_lossy().into_owned();
    host.cli_ok(&["deploy", &v2, "--name", "corners"]);
    let (status, v) = std::thread::scope(|s| {
        let upgrade = s.spawn(|| host.cli(&["upgrade", "corners", "--to", "2"]));
        host.wait_for_log("paused at upgrade-written", 1, Duration::from_secs(30));
        let answer = host.call(
            "POST",
            "/v1/executions/up/updates",
            Some(json!({"name": "bump-capped", "input": 50, "update_id": "u-1", "wait_ms": 10000})),
        );
        host.release("upgrade-written");
        let out = upgrade.join().expect("the upgrade");
        assert!(out.status.success(), "{out:?}");
        answer
    });
    assert_eq!(status, 422, "accepted by the old version's validator: {v}");
    let accepted = host
        .event_kinds("up")
        .iter()
        .filter(|k| *k == "update_accepted")
        .count();
    assert_eq!(accepted, 0);
    assert_eq!(host.describe("up")["version"], 2);
}
