//! The benchmarks: a real host process (release build, durable commits) driven
//! over HTTP by this separate client process. Run with `cargo xtask bench`.
//!
//! - W0 baseline: `misbehave` in mode `ok`, a workflow with no steps (two
//!   writes: start and end). Everything else is quoted against it, since
//!   this machine's speed varies from run to run.
//! - W1 hello: `hello`, three sequential activities (eight writes: start,
//!   three schedules, three results, end).
//!
//! Flags: `--executions N` (default 1000), `--in-flight C` (default 100).
//! `weft-bench crashloop [--kills N] [--seed S]` runs the long crash loop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_e2e::Host;

struct Figures {
    name: &'static str,
    executions: usize,
    wall: Duration,
    latencies_ms: Vec<f64>,
}

impl Figures {
    fn per_sec(&self) -> f64 {
        self.executions as f64 / self.wall.as_secs_f64()
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_ms.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_ms[i]
    }
}

/// Starts `n` executions with at most `in_flight` outstanding, each waited to
/// its result, and measures start-to-result latency.
fn drive(
    host: &Host,
    name: &'static str,
    workflow: &str,
    input: Value,
    expect: Value,
    n: usize,
    in_flight: usize,
) -> Figures {
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(n));
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..in_flight {
            s.spawn(|| loop {
                if next.fetch_add(1, Ordering::Relaxed) >= n {
                    break;
                }
                let t0 = Instant::now();
                let id = host.start_execution(workflow, input.clone());
                let r = host.wait_result(&id);
                let ms = t0.elapsed().as_secs_f64() * 1000.0;
                assert_eq!(r["output"], expect, "{id}: {r}");
                latencies.lock().unwrap().push(ms);
            });
        }
    });
    let wall = started.elapsed();
    let mut latencies_ms = latencies.into_inner().unwrap();
    latencies_ms.sort_by(f64::total_cmp);
    Figures {
        name,
        executions: n,
        wall,
        latencies_ms,
    }
}

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
    use weft::store::{Op, Store};
    let dir = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = Store::open(dir.path()).expect("store");
        let module = ModuleHash::of(b"bench");
        let op = move |i: usize| Op::SetActivity {
            name: format!("a{i}"),
            module,
        };
        let t0 = Instant::now();
        for i in 0..n {
            store.write(vec![op(i)]).await.expect("commit");
        }
        let sequential = n as f64 / t0.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..n / writers {
                    store.write(vec![op(w * n + i)]).await.expect("commit");
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
    let n = flag(&args, "--executions", 1000);
    let in_flight = flag(&args, "--in-flight", 100);

    let host = Host::launch(&[], "warn");
    host.deploy_examples();
    // Warm the compiled-module cache and the connection pool.
    host.wait_result(&host.start_execution("hello", json!({"name": "warm"})));

    let runs = [
        drive(
            &host,
            "W0 baseline (no steps)",
            "misbehave",
            json!({"mode": "ok"}),
            json!("fine"),
            n,
            in_flight,
        ),
        drive(
            &host,
            "W1 hello (3 activities)",
            "hello",
            json!({"name": "bench"}),
            json!("HELLO, BENCH!"),
            n,
            in_flight,
        ),
    ];

    println!("{n} executions per workload, {in_flight} in flight, release host, durable commits");
    println!(
        "{:<26} {:>9} {:>10} {:>9} {:>9} {:>9}",
        "workload", "wall s", "exec/s", "p50 ms", "p99 ms", "max ms"
    );
    for f in &runs {
        println!(
            "{:<26} {:>9.2} {:>10.0} {:>9.1} {:>9.1} {:>9.1}",
            f.name,
            f.wall.as_secs_f64(),
            f.per_sec(),
            f.percentile(0.5),
            f.percentile(0.99),
            f.latencies_ms.last().copied().unwrap_or_default()
        );
    }
    // W2: one execution fanning out 1,000 activities at once and joining them
    // (batch-worker: 10,000 items in chunks of 10).
    let items: Vec<u64> = (1..=10_000).collect();
    let t0 = Instant::now();
    let id = host.start_execution("batch-worker", json!(items));
    let r = host.wait_result(&id);
    let fanout = t0.elapsed();
    assert_eq!(r["status"], "completed", "{r}");
    println!(
        "{:<26} {:>9.2} s for 1,000 activities started at once and joined",
        "W2 fan-out",
        fanout.as_secs_f64()
    );
    let (sequential, concurrent) = store_baseline(2000, 100);
    println!(
        "store alone: {sequential:.0} durable commits/s one at a time, {concurrent:.0}/s with 100 \
         writers grouped (the bound on every workload above)"
    );
    println!(
        "W1 / W0 throughput: {:.2} (W1 runs 3 activities and makes 6 more writes per execution)",
        runs[1].per_sec() / runs[0].per_sec()
    );
    let (_, metrics) = host.call("GET", "/metrics", None);
    if let Some(text) = metrics.as_str() {
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k} ")))
                .unwrap_or("?")
                .to_string()
        };
        println!(
            "host: {} group commits carried {} write batches",
            get("weft_commits_total"),
            get("weft_commit_batches_total")
        );
    }
}
