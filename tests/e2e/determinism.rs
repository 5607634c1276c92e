//! What a workflow sees besides its commands must replay too: random numbers
//! drawn while a query is answered (issue 14, defect 10), and WASI clocks,
//! which answer workflow time and cannot be slept on (defect 11). Each test
//! failed on the host before its fix.

use std::time::{Duration, Instant};

use weft_e2e::serde_json::{json, Value};
use weft_e2e::Host;

fn host_with_corners() -> Host {
    let host = Host::start();
    host.deploy_examples_and_corners();
    host
}

fn start(host: &Host, id: &str, input: Value) {
    host.start_corners(id, input);
}

fn signal_go(host: &Host, id: &str) {
    let (status, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/signals"),
        Some(json!({"name": "go"})),
    );
    assert_eq!(status, 202, "signal go to {id}: {v}");
}

fn draw(host: &Host, id: &str) -> String {
    let (status, v) = host.call(
        "POST",
        &format!("/v1/executions/{id}/queries"),
        Some(json!({"name": "draw"})),
    );
    assert_eq!(status, 200, "query draw on {id}: {v}");
    v["output"].as_str().expect("two numbers").to_owned()
}

/// The inputs of the `activity_scheduled` events of `id`, in order.
fn scheduled_inputs(host: &Host, id: &str) -> Vec<String> {
    host.get(&format!("/v1/executions/{id}/history"))["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"]["type"] == "activity_scheduled")
        .map(|e| e["event"]["input"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Defect 10: a query that drew random numbers (from the runtime's `random`
/// and from WASI random) advanced the live instance's streams, so the
/// numbers the workflow drew next were not the ones a replay draws: after a
/// restart the run diverged at its activity and stalled.
#[test]
fn random_numbers_drawn_by_queries_do_not_change_the_run() {
    let mut host = host_with_corners();
    start(&host, "draws", json!({"mode": "random"}));
    let answers: Vec<String> = (0..3).map(|_| draw(&host, "draws")).collect();
    for a in &answers {
        assert_eq!(a.split(' ').count(), 2, "two numbers: {a}");
    }
    signal_go(&host, "draws");
    host.eventually("the activity is scheduled", |h| {
        !scheduled_inputs(h, "draws").is_empty()
    });
    let before = scheduled_inputs(&host, "draws");

    // The restart replays the run: it must draw the same numbers again.
    host.kill_and_restart();
    draw(&host, "draws");
    signal_go(&host, "draws");
    let r = host.wait_result("draws");
    assert_eq!(r["status"], "completed", "{r}");
    assert_eq!(scheduled_inputs(&host, "draws"), before);
    let text: Value = weft_e2e::serde_json::from_str(&before[0]).expect("JSON input");
    assert_eq!(
        r["output"],
        format!("Hello, {}", text["text"].as_str().expect("text"))
    );
}

/// Defect 11: `std::thread::sleep` in a workflow blocked on real time (WASI
/// monotonic-clock subscriptions were real deadlines), outside the CPU
/// deadline, holding its instance and pool slot for the hour. It must stall
/// at once with a reason that says to use a durable timer.
#[test]
fn a_workflow_that_sleeps_on_the_wasi_clock_stalls_and_says_to_use_a_timer() {
    let host = host_with_corners();
    start(&host, "sleeper", json!({"mode": "sleep"}));
    let deadline = Instant::now() + Duration::from_secs(30);
    let r = loop {
        let r = host.result_now("sleeper");
        if r["status"] != "running" {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "still running after 30 s (blocked in the sleep?): {r}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(r["status"], "stalled", "{r}");
    let reason = r["stall_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("durable timer") && reason.contains("ctx.sleep"),
        "{reason}"
    );
    // The host goes on serving other executions.
    let (_, hello) = host.run_execution("hello", json!({"name": "after"}));
    assert_eq!(hello["status"], "completed", "{hello}");
}
