//! The benchmark suite: real host processes (release build, durable commits)
//! driven over HTTP by this separate client process. Run with
//! `cargo xtask bench`; see bench/README.md for the workloads and figures.
//!
//! Flags: `--only w1,w2,w3,w4,w5,w6,store,languages,listing,paint,w1-sleepers,cluster,cluster-workers,partitions,long-history` (default: all), `--executions N`
//! (W0/W1, default 10,000), `--in-flight C` (default 500), `--sleepers N`
//! (W3, 100,000), `--recovery N` (W4, 10,000), `--actors N --signals M` (W6,
//! 1,000 and 10,000). `weft-bench crashloop [--kills N] [--seed S]` runs the
//! long crash loop; `weft-bench verify --seed S [--minutes T]` the seeded
//! verification runner (src/verify); `weft-bench retention [--minutes 60]
//! [--retention-minutes 5] [--in-flight 50]` runs W1 that long and prints the
//! store file's size each minute.

use std::time::Instant;

use serde_json::{json, Value};
use weft_e2e::Host;

use client::drive;
use scrape::{Scrape, Window};

mod client;
mod cluster;
mod scrape;
mod spread;
mod verify;
mod workloads;

fn flag(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v:?}"))
        })
        .unwrap_or(default)
}

/// The bound on every workload: durable commits per second of the store
/// alone, one writer at a time (one fsync each) and `writers` at once (their
/// commits grouped). Returns (sequential/s, concurrent/s, writes per fsync).
fn store_baseline(n: usize, writers: usize) -> (f64, f64) {
    use weft::model::ModuleHash;
    use weft::store::{Location, Op, Store};
    let dir = tempfile::tempdir().expect("temp dir");
    // On the suite's PostgreSQL when `WEFT_TEST_POSTGRES` names one, as
    // every host of the benchmarks is.
    let location = match weft_e2e::postgres_base() {
        Some(base) => Location::Postgres(format!("{base}/{}", weft_e2e::fresh_database_name())),
        None => Location::Dir(dir.path().to_owned()),
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = Store::open_at(&location).expect("store");
        let module = ModuleHash::of(b"bench");
        let op = move |i: usize| Op::SetActivity {
            name: format!("a{i}"),
            module,
        };
        let t0 = Instant::now();
        for i in 0..n {
            store
                .write(vec![op(i)])
                .await
                .expect("commit")
                .expect("accepted");
        }
        let sequential = n as f64 / t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..n / writers {
                    store
                        .write(vec![op(w * n + i)])
                        .await
                        .expect("commit")
                        .expect("accepted");
                }
            }));
        }
        for t in tasks {
            t.await.expect("writer");
        }
        let concurrent = (n / writers * writers) as f64 / t0.elapsed().as_secs_f64();
        (sequential, concurrent)
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("verify") {
        std::process::exit(verify::main(&args[1..]));
    }
    if args.first().map(String::as_str) == Some("retention") {
        workloads::retention(
            flag(&args, "--minutes", 60),
            flag(&args, "--retention-minutes", 5),
            flag(&args, "--in-flight", 50),
        );
        return;
    }
    if args.first().map(String::as_str) == Some("crashloop") {
        let kills = flag(&args, "--kills", 10);
        let seed = flag(&args, "--seed", 11) as u64;
        let started = Instant::now();
        let r = weft_e2e::crashloop::run(kills, seed);
        println!(
            "crash loop: {} executions, {} kills, lost = {}, duplicated = {}, signals = {} ({:.1} s)",
            r.executions,
            r.kills,
            r.lost,
            r.duplicated,
            r.signals,
            started.elapsed().as_secs_f64()
        );
        return;
    }
    let only: Vec<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').map(|w| w.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let run = |w: &str| only.is_empty() || only.iter().any(|o| o == w);
    let n = flag(&args, "--executions", 10_000);
    let in_flight = flag(&args, "--in-flight", 500);

    if run("w1") || run("w2") {
        throughput(n, in_flight, run("w2"));
    }
    if run("store") {
        let (sequential, concurrent) = store_baseline(2000, 100);
        let on = if weft_e2e::postgres_base().is_some() {
            "PostgreSQL"
        } else {
            "redb"
        };
        println!(
            "store alone ({on}): {sequential:.0} durable commits/s one at a time, \
             {concurrent:.0}/s with 100 writers grouped (the bound on every workload)"
        );
    }
    if run("w3") {
        workloads::sleepers(flag(&args, "--sleepers", 100_000), 64);
    }
    if run("w4") {
        workloads::recovery(flag(&args, "--recovery", 10_000), 64);
    }
    if run("w5") {
        workloads::cold_path();
    }
    if run("languages") {
        workloads::languages(
            flag(&args, "--language-executions", 1_000),
            flag(&args, "--language-in-flight", 100),
        );
    }
    if run("listing") {
        workloads::listing(flag(&args, "--listing", 100_000), 64);
    }
    if run("w1-sleepers") {
        workloads::w1_beside_sleepers(
            flag(&args, "--sleepers", 100_000),
            n.min(5_000),
            in_flight.min(100),
        );
    }
    if run("paint") {
        workloads::history_paint(flag(&args, "--paint-activities", 10_000) as u64);
    }
    if run("cluster") {
        // Three hosts on one PostgreSQL store: W1 at the holder and at a
        // standby, and failover with `--failover N` executions waiting.
        cluster::run(
            flag(&args, "--failover", 2_000),
            n.min(5_000),
            in_flight.min(100),
        );
    }
    if run("partitions") {
        // Three hosts sharing a store's partitions: W1 on one and on
        // three, failover of one with `--failover N` executions waiting.
        spread::run(
            flag(&args, "--failover", 2_000),
            n.min(6_000),
            in_flight.min(150),
            flag(&args, "--partitions", 12) as u32,
        );
    }
    if run("cluster-workers") {
        // A worker polling one host for the tasks of another's partitions.
        cluster::workers_across_hosts(flag(&args, "--worker-tasks", 200));
    }
    if run("long-history") {
        workloads::long_history(
            flag(&args, "--history-events", 50_000),
            flag(&args, "--history-steps", 200),
            8,
        );
    }
    if run("w6") {
        workloads::signals(
            flag(&args, "--actors", 1_000),
            flag(&args, "--signals", 10_000),
            64,
        );
    }
}

/// W0 and W1 (and W2 on the same host): throughput and latency, with the
/// host's own histograms to explain them.
fn throughput(n: usize, in_flight: usize, fanout: bool) {
    // W2's widest fan-out has 10,000 activities pending at once (the
    // default limit per execution is 2,000).
    let host = Host::launch(&["--max-pending", "10000"], "warn");
    host.deploy_examples();
    // Warm the compiled-module cache and the connection pool.
    host.wait_result(&host.start_execution("hello", json!({"name": "warm"})));

    let before = Scrape::of(&host);
    let w0 = drive(
        &host,
        "W0 baseline (no steps)",
        "misbehave",
        json!({"mode": "ok"}),
        json!("fine"),
        n,
        in_flight,
    );
    let mid = Scrape::of(&host);
    let w1 = drive(
        &host,
        "W1 seq3 (3 activities)",
        "hello",
        json!({"name": "bench"}),
        json!("HELLO, BENCH!"),
        n,
        in_flight,
    );
    let after = Scrape::of(&host);

    println!("{n} executions per workload, {in_flight} in flight, release host, durable commits");
    println!(
        "{:<26} {:>9} {:>10} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "workload", "wall s", "exec/s", "p50 ms", "p99 ms", "max ms", "host us", "client us"
    );
    for f in [&w0, &w1] {
        println!(
            "{:<26} {:>9.2} {:>10.0} {:>9.1} {:>9.1} {:>9.1} {:>8.0} {:>10.0}",
            f.name,
            f.wall.as_secs_f64(),
            f.per_sec(),
            f.percentile(0.5),
            f.percentile(0.99),
            f.latencies_ms.last().copied().unwrap_or_default(),
            f.cpu.host_us(),
            f.cpu.client_us()
        );
    }
    println!(
        "W1 / W0 throughput: {:.2} (W1 runs 3 activities and makes 6 more writes per execution)",
        w1.per_sec() / w0.per_sec()
    );
    for (label, a, b) in [("W0", &before, &mid), ("W1", &mid, &after)] {
        let commits = Window::between(a, b, "weft_commit_seconds");
        let batches = Window::between(a, b, "weft_commit_batch_size");
        let tasks = Window::between(a, b, "weft_workflow_task_seconds");
        let inst = Window::between(a, b, "weft_instantiate_seconds");
        let act_inst = Window::between(a, b, "weft_activity_instantiate_seconds");
        let acts = Window::between(a, b, "weft_activity_attempt_seconds");
        println!(
            "  {label} host: {:.0} group commits (mean {:.1} ms, {:.1} batches each); {:.0} \
             workflow tasks (mean {:.2} ms, p99 <= {:.0} ms); {:.0} workflow instantiations \
             (mean {:.0} us) and {:.0} of activities (mean {:.0} us); {:.0} activity attempts \
             (mean {:.2} ms)",
            commits.count,
            commits.mean * 1000.0,
            batches.mean,
            tasks.count,
            tasks.mean * 1000.0,
            tasks.quantile_le(0.99) * 1000.0,
            inst.count,
            inst.mean * 1e6,
            act_inst.count,
            act_inst.mean * 1e6,
            acts.count,
            acts.mean * 1000.0,
        );
    }
    if fanout {
        // W2: one execution fanning out at once and joining; the wall time
        // from its start to its result.
        let fan_out = |workflow: &str, input: Value, what: &str| {
            let t0 = Instant::now();
            let id = host.start_execution(workflow, input);
            let r = host.wait_result(&id);
            let took = t0.elapsed();
            assert_eq!(r["status"], "completed", "{r}");
            println!(
                "W2 fan-out: {:.2} s for {what} started at once and joined",
                took.as_secs_f64()
            );
            r
        };
        // batch-worker runs its items in chunks of 10, an activity each.
        let items: Vec<u64> = (1..=10_000).collect();
        fan_out("batch-worker", json!(items), "1,000 activities");
        let items: Vec<u64> = (1..=100_000).collect();
        fan_out("batch-worker", json!(items), "10,000 activities");
        // `batch` over 1,000 `batch-worker` children, one activity each.
        let r = fan_out(
            "batch",
            json!({"items": 1000, "workers": 1000}),
            "1,000 child workflows (one activity each)",
        );
        assert_eq!(
            r["output"],
            json!((1..=1000u64).map(|i| i * i).sum::<u64>())
        );
    }
}
