//! Executions spread over several hosts (a store of several partitions,
//! each held by one host): W1 on one host and on three sharing the
//! partitions, and failover: one of three hosts killed (SIGKILL) or paused
//! past its lease (SIGSTOP) with thousands of executions waiting on timers,
//! timed until the others hold its partitions and until every execution
//! completed. Needs a PostgreSQL server, as the `cluster` workloads.

use std::time::{Duration, Instant};

use serde_json::json;
use weft_e2e::{fresh_database_name, Host};

use crate::client::{drive, start_many, Figures};

/// Hosts `ids` on a fresh database of `partitions`, default lease (10 s),
/// each given `extra`; returned once every host holds a share.
fn hosts(base: &str, ids: &[&str], partitions: u32, extra: &[&str]) -> Vec<Host> {
    let url = format!("{base}/{}", fresh_database_name());
    let parts = partitions.to_string();
    let hosts: Vec<Host> = ids
        .iter()
        .map(|id| {
            let mut args = vec!["--host-id", id, "--partitions", &parts];
            args.extend_from_slice(extra);
            Host::in_cluster(&url, &args, &[])
        })
        .collect();
    // Settled: every host holds a share, each partition is held by the
    // host whose engine runs it, and nothing moved for two seconds.
    let settled = |hosts: &[Host]| {
        let holders = hosts[0].partition_holders();
        let held: f64 = hosts.iter().map(|h| h.metric("weft_partitions_held")).sum();
        (holders.len() == partitions as usize
            && ids.iter().all(|id| holders.iter().any(|x| x == id))
            && held == f64::from(partitions))
        .then_some(holders)
    };
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut since: Option<(Vec<String>, Instant)> = None;
    loop {
        assert!(
            Instant::now() < deadline,
            "the hosts' partitions did not settle"
        );
        match (settled(&hosts), &since) {
            (Some(now), Some((before, at))) if now == *before => {
                if at.elapsed() >= Duration::from_secs(2) {
                    return hosts;
                }
            }
            (Some(now), _) => since = Some((now, Instant::now())),
            (None, _) => since = None,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn run(n: usize, executions: usize, in_flight: usize, partitions: u32) {
    // Three hosts each run a third: `--executions 0` (or fewer than three)
    // runs the failovers alone.
    let executions = executions / 3 * 3;
    let Some(base) = crate::cluster::server("partitions") else {
        return;
    };
    if executions > 0 {
        w1_one_and_three(&base, executions, in_flight, partitions);
    }
    for how in ["KILL", "STOP"] {
        failover(&base, n, how, partitions);
    }
}

/// W1 on one host holding every partition, then on three hosts sharing
/// them, the client's requests spread evenly over the three (as a load
/// balancer would: two in three are forwarded to their partition's
/// holder). Same invocation, same client.
fn w1_one_and_three(base: &str, n: usize, in_flight: usize, partitions: u32) {
    let one = {
        let mut solo = hosts(base, &["solo"], partitions, &[]);
        solo[0].deploy_examples();
        solo[0].wait_result(&solo[0].start_execution("hello", json!({"name": "warm"})));
        let f = w1(&solo[0], "one host", n, in_flight);
        solo[0].kill();
        f
    };
    let three = hosts(base, &["a", "b", "c"], partitions, &[]);
    three[0].deploy_examples();
    for h in &three {
        h.wait_result(&h.start_execution("hello", json!({"name": "warm"})));
    }
    let started = Instant::now();
    let each: Vec<Figures> = std::thread::scope(|s| {
        let runs: Vec<_> = three
            .iter()
            .map(|h| s.spawn(|| w1(h, "three hosts", n / 3, (in_flight / 3).max(1))))
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("a client"))
            .collect()
    });
    let wall = started.elapsed();
    let mut latencies: Vec<f64> = each.iter().flat_map(|f| f.latencies_ms.clone()).collect();
    latencies.sort_by(f64::total_cmp);
    let done = latencies.len();
    let pct = |p: f64| latencies[((done as f64 - 1.0) * p).round() as usize];
    let spread = done as f64 / wall.as_secs_f64();
    println!(
        "W1 on a store of {partitions} partitions (PostgreSQL), {n} executions, {in_flight} in flight"
    );
    println!(
        "  {:<34} {:>8.0} exec/s  p50 {:>6.1} ms  p99 {:>6.1} ms",
        "one host",
        one.per_sec(),
        one.percentile(0.5),
        one.percentile(0.99)
    );
    println!(
        "  {:<34} {:>8.0} exec/s  p50 {:>6.1} ms  p99 {:>6.1} ms",
        "three hosts, requests spread",
        spread,
        pct(0.5),
        pct(0.99)
    );
    println!("  three / one throughput: {:.2}", spread / one.per_sec());
}

fn w1(host: &Host, name: &'static str, n: usize, in_flight: usize) -> Figures {
    drive(
        host,
        name,
        "hello",
        json!({"name": "bench"}),
        json!("HELLO, BENCH!"),
        n,
        in_flight,
    )
}

/// `n` executions spread over three hosts' partitions wait on a timer;
/// host `a` is killed (`KILL`) or paused past its lease (`STOP`); the
/// others take its partitions; the clock moves past the timers; every
/// execution completes.
fn failover(base: &str, n: usize, how: &str, partitions: u32) {
    let mut hosts = hosts(base, &["a", "b", "c"], partitions, &["--manual-clock"]);
    hosts[1].deploy_examples();
    let ids = start_many(
        &hosts[2],
        "hello",
        |i| json!({"name": format!("f{i}"), "sleep_ms": 60_000}),
        n,
        64,
    )
    .ids;
    // Every one ran its activities and waits on its timer.
    let deadline = Instant::now() + Duration::from_secs(1200);
    while hosts
        .iter()
        .map(|h| crate::scrape::Scrape::of(h).value("weft_activity_attempts_total"))
        .sum::<f64>()
        < (3 * n) as f64
    {
        assert!(Instant::now() < deadline, "the executions did not all wait");
        std::thread::sleep(Duration::from_millis(100));
    }
    let held = hosts[1]
        .partition_holders()
        .iter()
        .filter(|h| *h == "a")
        .count();
    let (taken, done) = crate::cluster::fail_over(&mut hosts, &ids, how, |h| {
        let holders = h.partition_holders();
        holders.len() == partitions as usize && holders.iter().all(|h| h == "b" || h == "c")
    });
    println!(
        "failover (3 hosts, {partitions} partitions, lease 10 s), host a ({held} partitions) {}: \
         the others held its partitions {:.2} s after; all {n} executions completed {:.2} s after",
        crate::cluster::what_befell(how),
        taken.as_secs_f64(),
        done.as_secs_f64()
    );
    hosts[0].kill();
}
