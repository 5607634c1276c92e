//! The crash loop, shared by the test suite (a few kills) and the benchmark
//! binary (`weft-bench crashloop --kills N`, as many as you like): a mixed
//! load (sequential activities, timers, signals, fan-out over children,
//! continue-as-new) while the host is SIGKILLed at seeded moments and
//! restarted. Every execution must reach its expected result with no step
//! duplicated or lost, every signal must count, and each side effect must
//! keep one idempotency key per step.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::Host;

/// What a crash loop found.
#[derive(Debug, Clone)]
pub struct Report {
    pub executions: usize,
    pub kills: usize,
    pub lost: usize,
    pub duplicated: usize,
    pub signals: usize,
}

/// Runs the crash loop with `kills` SIGKILLs at moments drawn from `seed`;
/// panics on any lost or duplicated step.
pub fn run(kills: usize, seed: u64) -> Report {
    let mut host = Host::with_args(&["--manual-clock", "--history-warn-events", "16"]);
    host.deploy_examples();
    let hellos: Vec<String> = (0..8)
        .map(|i| host.start_execution("hello", json!({"name": format!("c{i}"), "delay_ms": 60})))
        .collect();
    let timers: Vec<String> = (0..3)
        .map(|i| {
            host.start_execution(
                "timer-fanout",
                json!({"items": [format!("t{i}"), "u"], "sleep_ms": 3_600_000}),
            )
        })
        .collect();
    for s in ["sub-a", "sub-b"] {
        let (code, v) = host.call(
            "POST",
            "/v1/executions",
            Some(json!({"workflow_type": "subscription", "id": s,
                        "input": {"customer": s, "plan": "basic"}})),
        );
        assert_eq!(code, 201, "{v}");
    }
    // A schedule firing every 5 s of workflow time while the host dies.
    let (code, v) = host.call(
        "POST",
        "/v1/schedules",
        Some(
            json!({"name": "tick", "spec": {"intervals": [{"every_ms": 5_000}]},
                    "action": {"workflow_type": "misbehave", "input": {"mode": "ok"}},
                    "policies": {"overlap": "allow-all"}}),
        ),
    );
    assert_eq!(code, 201, "{v}");
    let tick_from = v["state"]["cursor_ms"].as_u64().expect("cursor");
    let batch = host.start_execution("batch", json!({"items": 200, "workers": 4}));
    let iterate = host.start_execution("iterate", json!({"total": 20_000, "chunk": 1000}));

    // Kill at seeded points: after the n-th activity start, with signals
    // sent (and so recorded) just before each kill.
    let mut signals = 0;
    let mut seed = seed;
    let mut started = 0;
    for kill in 0..kills {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        started += 3 + (seed >> 60) as usize;
        host.wait_for_log("activity started", started, Duration::from_secs(60));
        for s in ["sub-a", "sub-b"] {
            let plan = if kill % 2 == 0 { "pro" } else { "basic" };
            let (code, v) = host.call(
                "POST",
                &format!("/v1/executions/{s}/signals"),
                Some(json!({"name": "change-plan", "input": plan})),
            );
            assert_eq!(code, 202, "{v}");
            signals += 1;
        }
        // 2 to 12 s of workflow time: the schedule has times to take.
        host.advance(2_000 + (seed >> 32) % 10_000);
        host.kill_and_restart();
    }

    // Activities still running while time moves would time out: first let
    // everything that needs no timer finish, then move time.
    for (i, id) in hellos.iter().enumerate() {
        assert_eq!(
            host.wait_result(id)["output"],
            format!("HELLO, C{i}!"),
            "{id}"
        );
        assert_eq!(
            host.event_kinds(id).len(),
            8,
            "{id}: a step was repeated or lost"
        );
    }
    assert_eq!(
        host.wait_result(&batch)["output"],
        2_686_700,
        "sum of squares 1..=200"
    );
    let r = host.wait_result(&iterate);
    assert_eq!(r["output"]["sum"], 199_990_000u64, "{r}");
    host.advance(3_600_000);
    for (i, id) in timers.iter().enumerate() {
        let r = host.wait_result(id);
        assert_eq!(
            r["output"]["greetings"],
            json!([format!("Hello, t{i}"), "Hello, u"]),
            "{r}"
        );
    }
    for s in ["sub-a", "sub-b"] {
        host.eventually("every signal handled", |h| {
            let (_, v) = h.call(
                "POST",
                &format!("/v1/executions/{s}/queries"),
                Some(json!({"name": "status"})),
            );
            v["output"]["plan_changes"] == signals / 2
        });
        let (code, v) = host.call(
            "POST",
            &format!("/v1/executions/{s}/updates"),
            Some(json!({"name": "cancel", "input": {"reason": "done"}})),
        );
        assert_eq!(code, 200, "{v}");
        assert_eq!(host.wait_result(s)["status"], "completed");
    }

    // Each time of the schedule started exactly once: every one is there,
    // in its first run, and the schedule never met its own earlier start.
    let tick_to = host.get("/v1/clock")["now_ms"].as_u64().expect("clock");
    let want: Vec<u64> = (tick_from / 5_000 + 1..=tick_to / 5_000)
        .map(|k| k * 5_000)
        .collect();
    host.eventually("the schedule took every time", |h| {
        h.get("/v1/schedules/tick")["state"]["actions_taken"].as_u64() == Some(want.len() as u64)
    });
    let ticks: Vec<serde_json::Value> = host
        .list_all("")
        .into_iter()
        .filter(|e| e["id"].as_str().is_some_and(|id| id.starts_with("tick-")))
        .collect();
    assert_eq!(ticks.len(), want.len(), "one execution per time: {ticks:?}");
    for t in &ticks {
        assert_eq!(t["run"], 1, "{t}");
    }
    let state = host.get("/v1/schedules/tick")["state"].clone();
    assert_eq!(state["skipped_overlap"], 0, "{state}");
    assert!(
        state["recent"]
            .as_array()
            .expect("recent")
            .iter()
            .all(|r| !r["outcome"]
                .as_str()
                .unwrap_or_default()
                .starts_with("skipped")),
        "{state}"
    );

    // One idempotency key per step, each used by one activity only.
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    let mut duplicated = 0;
    for line in host.log().lines() {
        let Some(rest) = line.split("effect key=").nth(1) else {
            continue;
        };
        let mut words = rest.split(' ');
        let key = words.next().unwrap_or_default().to_owned();
        let activity = words.next().unwrap_or_default().to_owned();
        if keys
            .insert(key, activity.clone())
            .is_some_and(|a| a != activity)
        {
            duplicated += 1;
        }
    }
    assert_eq!(duplicated, 0);
    Report {
        executions: hellos.len() + timers.len() + 4,
        kills,
        lost: 0,
        duplicated,
        signals,
    }
}
