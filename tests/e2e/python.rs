//! Python guests (guest-sdk/python, built with componentize-py) next to Rust ones:
//! the subscription actor in Python, calling the Rust `charge` activity and a
//! Python one, driven through signals, queries and updates across SIGKILLs
//! (one in the middle of an accepted update) and beside its Rust twin; the
//! same actor evicted after every step; a Rust workflow calling Python
//! activities. Python's `random` and `time.time()` replay exactly. Time is
//! skipped, never slept.

use std::time::Duration;

use weft_e2e::serde_json::{self, json, Value};
use weft_e2e::{guest, Host};

const DAY: u64 = 24 * 3_600_000;

/// Python components are ~19 MB (CPython is inside): deploy only what a
/// test needs.
fn deploy(host: &Host, names: &[&str]) {
    for name in names {
        host.cli_ok(&["deploy", &guest(name).to_string_lossy()]);
    }
}

fn count(host: &Host, id: &str, kind: &str) -> usize {
    host.event_kinds(id).iter().filter(|k| *k == kind).count()
}

/// The inputs of the `activity_scheduled` events of activity `name`, in order.
fn scheduled(host: &Host, id: &str, name: &str) -> Vec<String> {
    host.get(&format!("/v1/executions/{id}/history"))["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["event"]["type"] == "activity_scheduled" && e["event"]["name"] == name)
        .map(|e| e["event"]["input"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn status(host: &Host, id: &str) -> Value {
    let (code, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/queries"),
        Some(json!({"name": "status"})),
    );
    assert_eq!(code, 200, "status of {id}: {v}");
    v["output"].clone()
}

fn subscribe(host: &Host, workflow_type: &str, id: &str) {
    let (code, v) = host.call(
        "POST",
        "/v1/executions",
        Some(json!({"workflow_type": workflow_type, "id": id,
                    "input": {"customer": "ada", "plan": "basic"}})),
    );
    assert_eq!(code, 201, "{v}");
}

fn signal(host: &Host, id: &str, name: &str, input: Value) -> (u16, Value) {
    host.call(
        "POST",
        &format!("/v1/executions/{id}/signals"),
        Some(json!({"name": name, "input": input})),
    )
}

fn cancel(host: &Host, id: &str, reason: &str) -> (u16, Value) {
    host.call(
        "POST",
        &format!("/v1/executions/{id}/updates"),
        Some(json!({"name": "cancel", "input": {"reason": reason}})),
    )
}

#[test]
fn the_python_subscription_matches_its_rust_twin_across_sigkills() {
    let mut host = Host::start();
    deploy(
        &host,
        &[
            "hello-activities",
            "py-activities",
            "subscription",
            "py-subscription",
        ],
    );
    subscribe(&host, "subscription", "rs-sub");
    subscribe(&host, "py-subscription", "py-sub");
    host.eventually("both billing timers", |h| {
        count(h, "rs-sub", "timer_started") == 1 && count(h, "py-sub", "timer_started") == 1
    });

    // The Python activity answered; `random` and `time.time()` were read.
    let first = status(&host, "py-sub");
    assert_eq!(
        first["welcome"], "Welcome, ada: your basic plan is active",
        "{first}"
    );
    assert!(
        first["ref"].as_str().is_some_and(|r| r.starts_with("sub-")),
        "{first}"
    );
    let created = host.describe("py-sub")["created_at_ms"].as_u64().unwrap();
    assert_eq!(
        first["started_at_ms"], created,
        "time.time() is workflow time: {first}"
    );

    // The same signals to both; an unknown plan is ignored with a warning.
    for plan in ["pro", "gold", "basic", "pro"] {
        for id in ["rs-sub", "py-sub"] {
            let (code, v) = signal(&host, id, "change-plan", json!(plan));
            assert_eq!(code, 202, "{id}: {v}");
        }
    }
    host.eventually("three plan changes in both", |h| {
        status(h, "rs-sub")["plan_changes"] == 3 && status(h, "py-sub")["plan_changes"] == 3
    });
    let before = status(&host, "py-sub");
    assert_eq!(before["plan"], "pro", "the last signal wins: {before}");
    assert_eq!(before["plan"], status(&host, "rs-sub")["plan"]);
    assert!(
        host.log()
            .contains("signal `change-plan` ignored: UnknownPlan: no plan named 'gold'"),
        "the Python handler's failure is logged"
    );

    // SIGKILL: the restarted host replays the Python workflow from its
    // history; `random` and `time.time()` give the same values again.
    host.kill_and_restart();
    assert_eq!(status(&host, "py-sub"), before, "the replay is exact");

    // A name the workflow does not declare: recorded, and the sender told.
    let (code, v) = signal(&host, "py-sub", "refund", json!(10));
    assert_eq!(code, 202, "{v}");
    assert!(
        v["warning"]
            .as_str()
            .unwrap_or_default()
            .contains("change-plan"),
        "{v}"
    );

    // A month later both bill the current plan through the Rust `charge`,
    // with the same input byte for byte: the SDKs encode payloads alike.
    host.advance(30 * DAY);
    host.eventually("the first bill in both", |h| {
        status(h, "rs-sub")["months_billed"] == 1 && status(h, "py-sub")["months_billed"] == 1
    });
    let py_charges = scheduled(&host, "py-sub", "charge");
    assert_eq!(py_charges.len(), 1);
    assert_eq!(py_charges, scheduled(&host, "rs-sub", "charge"));
    let s = status(&host, "py-sub");
    assert_eq!(s["invoices"][0]["amount_cents"], 3000, "{s}");
    assert_eq!(s["invoices"][0]["plan"], "pro", "{s}");
    assert_eq!(s["invoices"][0]["reason"], "month 1", "{s}");

    // Five days into the second month. A rejected update leaves no trace.
    host.advance(5 * DAY);
    let history = host.event_kinds("py-sub");
    let out = host.cli(&[
        "update",
        "py-sub",
        "cancel",
        "--input",
        r#"{"reason": " "}"#,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("say why"), "{stderr}");
    assert_eq!(
        host.event_kinds("py-sub"),
        history,
        "rejections record nothing"
    );

    // The Rust twin cancels at once; the Python one is killed while its
    // final charge runs, after the update was accepted.
    let (code, rs_invoice) = cancel(&host, "rs-sub", "moving");
    assert_eq!(code, 200, "{rs_invoice}");
    let out = host.cli(&[
        "update",
        "py-sub",
        "cancel",
        "--input",
        r#"{"reason": "moving", "processing_ms": 1500}"#,
        "--update-id",
        "cancel-1",
        "--no-wait",
    ]);
    assert_eq!(out.status.code(), Some(3), "accepted, still running");
    host.wait_for_log(
        "activity started execution=py-sub activity=charge",
        2,
        Duration::from_secs(60),
    );
    assert_eq!(count(&host, "py-sub", "update_accepted"), 1);
    host.kill_and_restart();

    let out = host.cli_ok(&["update-result", "py-sub", "cancel-1", "--wait"]);
    let invoice: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(invoice["amount_cents"], 500, "five days of pro: {invoice}");
    assert_eq!(
        invoice["reason"], "cancellation after 5 day(s): moving",
        "{invoice}"
    );
    assert_eq!(
        invoice["amount_cents"],
        rs_invoice["output"]["amount_cents"]
    );
    assert_eq!(invoice["reason"], rs_invoice["output"]["reason"]);

    let r = host.wait_result("py-sub");
    assert_eq!(r["status"], "completed", "{r}");
    let out = &r["output"];
    assert_eq!(out["active"], false, "{r}");
    assert_eq!(out["invoices"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(out["total_cents"], 3500, "{r}");
    assert_eq!(out["ref"], first["ref"], "{r}");
    assert_eq!(out["started_at_ms"], first["started_at_ms"], "{r}");
    assert_eq!(count(&host, "py-sub", "update_accepted"), 1);
    assert_eq!(count(&host, "py-sub", "update_completed"), 1);
    assert_eq!(
        scheduled(&host, "py-sub", "charge").len(),
        2,
        "each charge once"
    );

    // The same update id again: applied once, the same result. Another
    // cancel goes to a closed execution.
    let (code, v) = host.call(
        "POST",
        "/v1/executions/py-sub/updates",
        Some(json!({"name": "cancel", "input": {"reason": "again"}, "update_id": "cancel-1"})),
    );
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["output"], invoice, "{v}");

    // Closed: replayed to its end on a fresh instance, answered from the
    // final state, with the same draws.
    let last = status(&host, "py-sub");
    assert_eq!(last["active"], false, "{last}");
    assert_eq!(last["ref"], first["ref"], "{last}");
    let (code, v) = host.call(
        "POST",
        "/v1/executions/py-sub/queries",
        Some(json!({"name": "nope"})),
    );
    assert_eq!(code, 404, "{v}");
}

#[test]
fn a_python_workflow_replays_the_same_after_every_eviction() {
    let host = Host::with_args(&["--manual-clock", "--evict-after-ms", "0"]);
    deploy(
        &host,
        &["hello-activities", "py-activities", "py-subscription"],
    );
    subscribe(&host, "py-subscription", "py-evict");
    host.eventually("the billing timer", |h| {
        count(h, "py-evict", "timer_started") == 1
    });
    let first = status(&host, "py-evict");
    for (i, plan) in ["pro", "basic", "pro", "basic", "pro", "basic"]
        .iter()
        .enumerate()
    {
        let (code, v) = signal(&host, "py-evict", "change-plan", json!(plan));
        assert_eq!(code, 202, "{v}");
        host.eventually("the change, then the eviction", |h| {
            status(h, "py-evict")["plan_changes"] == i + 1
                && h.describe("py-evict")["cached"] == false
        });
        let s = status(&host, "py-evict");
        assert_eq!(s["plan"], *plan, "{s}");
        assert_eq!(s["ref"], first["ref"], "replayed from scratch: {s}");
        assert_eq!(s["started_at_ms"], first["started_at_ms"], "{s}");
    }

    // The exported history replays offline against the module.
    host.assert_replays("py-evict", "py-subscription");

    // A cancellation: the Python timer raises `Cancelled` and the execution
    // ends as cancelled.
    host.cli_ok(&["cancel", "py-evict", "--reason", "closing the shop"]);
    let r = host.wait_result("py-evict");
    assert_eq!(r["status"], "cancelled", "{r}");
}

#[test]
fn a_rust_workflow_calls_python_activities() {
    let host = Host::start();
    deploy(&host, &["polling", "py-activities"]);
    let call = |activity: &str, args: Value| {
        let id = host.start_execution(
            "polling",
            json!({"mode": "call", "activity": activity, "args": args}),
        );
        (id.clone(), host.wait_result(&id))
    };

    let (id, r) = call("py_check_email", json!("Ada@Example.COM"));
    assert_eq!(r["output"], "Ada@example.com", "{r}");
    host.wait_for_log(
        &format!("effect key={id}/1 activity=py_check_email attempt=1 output=Ada@example.com"),
        1,
        Duration::from_secs(10),
    );

    // `Counter.most_common` imports `heapq` lazily: the SDK preloads it.
    let (_, r) = call("py_word_count", json!("the cat and the hat"));
    assert_eq!(
        r["output"],
        json!({"words": 5, "chars": 19, "top": "the"}),
        "{r}"
    );

    let (_, r) = call("py_count_to", json!({"n": 5}));
    assert_eq!(r["output"], 5, "{r}");

    // A raised Failure subclass is the WIT failure, kind, details and all.
    let (_, r) = call("py_check_email", json!("nope"));
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(
        r["failure"],
        json!({"kind": "InvalidEmail", "message": "'nope' is not an email address",
               "details": {"address": "nope"}, "non_retryable": true}),
        "{r}"
    );
    let (_, r) = call("py_word_count", json!(42));
    assert_eq!(r["failure"]["kind"], "InvalidInput", "{r}");
}
