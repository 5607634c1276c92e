//! Three hosts on one PostgreSQL store: W1 through the holder and through a
//! standby (which forwards every request), and failover: the holder killed
//! (SIGKILL) or paused past its lease (SIGSTOP) with thousands of executions
//! waiting, timed until a standby holds the store and until every one
//! completed. Needs a PostgreSQL server (`WEFT_CLUSTER_POSTGRES`, or
//! `WEFT_TEST_POSTGRES`; `cargo xtask bench` starts one).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_e2e::{fresh_database_name, postgres_base, Host};

use crate::client::start_many;
use crate::workloads::until_metric;

fn holder(h: &Host) -> String {
    h.get("/v1/cluster")["lease"]["holder"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Three hosts (default lease, 10 s) on a fresh database, `a` holding it.
fn three(base: &str, extra: &[&str]) -> Vec<Host> {
    let url = format!("{base}/{}", fresh_database_name());
    let mut hosts = Vec::new();
    for id in ["a", "b", "c"] {
        let mut args = vec!["--host-id", id];
        args.extend_from_slice(extra);
        hosts.push(Host::in_cluster(&url, &args, &[]));
        if id == "a" {
            hosts[0].eventually("a to hold the store", |h| holder(h) == "a");
        }
    }
    hosts
}

/// The PostgreSQL server the cluster workloads make their databases on:
/// `cargo xtask bench` starts a throwaway one for them alone; with
/// `WEFT_TEST_POSTGRES` every host of the run is on it.
pub(crate) fn server(workload: &str) -> Option<String> {
    let base = std::env::var("WEFT_CLUSTER_POSTGRES")
        .ok()
        .or_else(postgres_base);
    if base.is_none() {
        println!(
            "{workload}: needs PostgreSQL (cargo xtask bench starts one; or \
             WEFT_CLUSTER_POSTGRES=postgres://user@host:port)"
        );
    }
    base
}

pub fn run(n: usize, executions: usize, in_flight: usize) {
    let Some(base) = server("cluster") else {
        return;
    };
    w1_through_a_standby(&base, executions, in_flight);
    for how in ["KILL", "STOP"] {
        failover(&base, n, how);
    }
}

/// W1 on three hosts: driven at the holder, then at a standby (every
/// request forwarded), same invocation.
fn w1_through_a_standby(base: &str, n: usize, in_flight: usize) {
    let hosts = three(base, &[]);
    hosts[0].deploy_examples();
    hosts[0].wait_result(&hosts[0].start_execution("hello", json!({"name": "warm"})));
    let expect: Value = json!("HELLO, BENCH!");
    let at_holder = crate::client::drive(
        &hosts[0],
        "W1 at the holder",
        "hello",
        json!({"name": "bench"}),
        expect.clone(),
        n,
        in_flight,
    );
    let at_standby = crate::client::drive(
        &hosts[1],
        "W1 at a standby",
        "hello",
        json!({"name": "bench"}),
        expect,
        n,
        in_flight,
    );
    println!("three hosts on PostgreSQL, {n} executions each, {in_flight} in flight");
    for f in [&at_holder, &at_standby] {
        println!(
            "  {:<20} {:>8.0} exec/s  p50 {:>6.1} ms  p99 {:>6.1} ms",
            f.name,
            f.per_sec(),
            f.percentile(0.5),
            f.percentile(0.99)
        );
    }
    println!(
        "  standby / holder throughput: {:.2}",
        at_standby.per_sec() / at_holder.per_sec()
    );
}

/// `n` executions wait on a timer on the holder; the holder is killed
/// (`KILL`) or paused (`STOP`); a standby takes the store; the clock moves
/// past the timers; every execution completes.
fn failover(base: &str, n: usize, how: &str) {
    let mut hosts = three(base, &["--manual-clock"]);
    hosts[1].deploy_examples();
    let ids = start_many(
        &hosts[2],
        "hello",
        |i| json!({"name": format!("f{i}"), "sleep_ms": 60_000}),
        n,
        64,
    )
    .ids;
    // Every one ran its activities on the holder and waits on its timer.
    until_metric(
        &hosts[0],
        "weft_activity_attempts_total",
        (3 * n) as f64,
        Duration::from_secs(1200),
    );
    let (taken, done) = fail_over(&mut hosts, &ids, how, |h| {
        let now = holder(h);
        !now.is_empty() && now != "a"
    });
    println!(
        "failover (3 hosts, lease 10 s), holder {}: a standby held the store {:.2} s after; \
         all {n} executions completed {:.2} s after",
        what_befell(how),
        taken.as_secs_f64(),
        done.as_secs_f64()
    );
    hosts[0].kill();
}

/// What `fail_over`'s `how` did to the host, for the figures' lines.
pub(crate) fn what_befell(how: &str) -> &'static str {
    if how == "KILL" {
        "killed (SIGKILL)"
    } else {
        "paused (SIGSTOP)"
    }
}

/// Kills (`KILL`) or pauses (`STOP`) `hosts[0]` while the `hello`
/// executions `ids` (inputs `f0`, `f1`, ...) wait on 60 s timers, and
/// times, from then, until `taken` says (asked at `hosts[1]`) the others
/// took its work over, and until every execution completed once the clock
/// was moved past the timers there; a sample of the results is checked.
pub(crate) fn fail_over(
    hosts: &mut [Host],
    ids: &[String],
    how: &str,
    taken: impl Fn(&Host) -> bool,
) -> (Duration, Duration) {
    let t0 = Instant::now();
    match how {
        "KILL" => hosts[0].kill(),
        _ => hosts[0].signal("STOP"),
    }
    while !taken(&hosts[1]) {
        assert!(t0.elapsed() < Duration::from_secs(120), "no takeover");
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = t0.elapsed();
    hosts[1].advance(61_000);
    while !hosts[1].list_all("status=running").is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(1200),
            "failover did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let done = t0.elapsed();
    for (i, id) in ids.iter().enumerate().step_by((ids.len() / 100).max(1)) {
        let r = hosts[1].wait_result(id);
        assert_eq!(r["output"], format!("HELLO, F{i}!"), "{id}: {r}");
    }
    (took, done)
}

/// A worker polling one host for the tasks of partitions another host
/// holds: two hosts on a store of four partitions (`a` holds 0 and 1, `b`
/// 2 and 3), `n` executions started one at a time in `a`'s partitions,
/// each routing one activity to the worker's queue. The time from each
/// start request until the worker's poll (waiting before the start) is
/// answered, polling `a` (the holder: the baseline) and polling `b`.
pub fn workers_across_hosts(n: usize) {
    let Some(base) = server("cluster-workers") else {
        return;
    };
    let url = format!("{base}/{}", fresh_database_name());
    let host = |id: &str| {
        let args = [
            "--host-id",
            id,
            "--partitions",
            "4",
            "--lease",
            "2s",
            "--route-activity",
            "greet=greeters",
        ];
        Host::in_cluster(&url, &args, &[])
    };
    let a = host("a");
    a.eventually("a to hold every partition", |h| {
        h.partition_holders() == ["a"; 4]
    });
    let b = host("b");
    b.eventually("a to hand b its partitions", |h| {
        h.partition_holders() == ["a", "a", "b", "b"]
    });
    a.deploy_examples();
    let mut ids = (0..)
        .map(|i| format!("across-{i}"))
        .filter(|id| weft::store::cluster::home(id, 4) < 2);
    println!("a worker polling one of two hosts (4 partitions), {n} tasks of the first's partitions, one at a time");
    let mut figures = Vec::new();
    for (label, at) in [("polling the holder", &a), ("polling the other host", &b)] {
        let mut took = Vec::with_capacity(n);
        for _ in 0..n {
            let id = ids.next().expect("an id");
            let (task, latency) = std::thread::scope(|s| {
                let poll = s.spawn(|| {
                    let (status, task) = weft_e2e::poll_greeters(at, 20_000);
                    assert_eq!(status, 200, "{task}");
                    (task, Instant::now())
                });
                at.eventually("the worker's poll to wait", |h| {
                    h.get("/v1/task-queues")["task_queues"][0]["pollers"]
                        .as_u64()
                        .is_some_and(|p| p > 0)
                });
                let started = Instant::now();
                a.start_as("hello", &id, json!({"name": "worker"}));
                let (task, answered) = poll.join().expect("the poll");
                (task, answered - started)
            });
            took.push(latency);
            weft_e2e::complete_task(at, &task, json!("Hello, worker"));
        }
        took.sort();
        let pct = |p: f64| took[((took.len() as f64 * p) as usize).min(took.len() - 1)];
        println!(
            "  {label:<24} start to task p50 {:>6.1} ms  p99 {:>6.1} ms  max {:>6.1} ms",
            pct(0.5).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            took[took.len() - 1].as_secs_f64() * 1e3
        );
        figures.push(pct(0.5));
    }
    println!(
        "  other host / holder (p50): {:.2}",
        figures[1].as_secs_f64() / figures[0].as_secs_f64()
    );
}
