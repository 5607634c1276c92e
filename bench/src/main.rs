//! The benchmark suite: real host processes (release build, durable commits)
//! driven over HTTP by this separate client process. Run with
//! `cargo xtask bench`; see bench/README.md for the workloads and figures.
//!
//! Flags: `--only w1,w2,w3,w4,w5,w6,store,languages,listing,paint,w1-sleepers,cluster,long-history` (default: all), `--executions N`
//! (W0/W1, default 10,000), `--in-flight C` (default 500), `--sleepers N`
//! (W3, 100,000), `--recovery N` (W4, 10,000), `--actors N --signals M` (W6,
//! 1,000 and 10,000). `weft-bench crashloop [--kills N] [--seed S]` runs the
//! long crash loop; `weft-bench verify --seed S [--minutes T]` the seeded
//! verification runner (src/verify); `weft-bench retention [--minutes 60]
//! [--retention-minutes 5] [--in-flight 50]` runs W1 that long and prints the
//! store file's size each minute.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_e2e::Host;

use scrape::{Scrape, Window};

mod cluster;
mod scrape;
mod verify;
mod workloads;

pub(crate) struct Figures {
    name: &'static str,
    executions: usize,
    wall: Duration,
    latencies_ms: Vec<f64>,
    /// CPU time this process (the client) used meanwhile.
    client_cpu: Duration,
    /// CPU time the host process used meanwhile.
    host_cpu: Duration,
}

impl Figures {
    fn per_sec(&self) -> f64 {
        self.executions as f64 / self.wall.as_secs_f64()
    }

    /// Microseconds of the client's CPU per execution.
    fn client_us(&self) -> f64 {
        self.client_cpu.as_secs_f64() * 1e6 / self.executions as f64
    }

    /// Microseconds of the host's CPU per execution: steadier than the
    /// throughput on a noisy machine when two builds are compared.
    fn host_us(&self) -> f64 {
        self.host_cpu.as_secs_f64() * 1e6 / self.executions as f64
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
/// its result in the start request (`wait_ms`), and measures start-to-result
/// latency. The client is one thread running `in_flight` requests at once
/// (not a thread each): it shares the machine's cores with the host, and
/// the less of them it takes, the more the figures are the host's.
pub(crate) fn drive(
    host: &Host,
    name: &'static str,
    workflow: &str,
    input: Value,
    expect: Value,
    n: usize,
    in_flight: usize,
) -> Figures {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(in_flight)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    let start = serde_json::to_vec(&json!({
        "workflow_type": workflow, "input": input, "wait_ms": 10_000,
    }))
    .expect("start body");
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(n));
    let cpu = process_cpu("self");
    let host_pid = host.pid().map(|p| p.to_string()).unwrap_or_default();
    let host_cpu = process_cpu(&host_pid);
    let started = Instant::now();
    rt.block_on(futures::future::join_all((0..in_flight).map(|_| async {
        while next.fetch_add(1, Ordering::Relaxed) < n {
            let t0 = Instant::now();
            let (id, r) = run_execution(host, &client, &start).await;
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            assert_eq!(r["output"], expect, "{id}: {r}");
            latencies.lock().unwrap().push(ms);
        }
    })));
    let wall = started.elapsed();
    let client_cpu = process_cpu("self").saturating_sub(cpu);
    let host_cpu = process_cpu(&host_pid).saturating_sub(host_cpu);
    let mut latencies_ms = latencies.into_inner().unwrap();
    latencies_ms.sort_by(f64::total_cmp);
    Figures {
        name,
        executions: n,
        wall,
        latencies_ms,
        client_cpu,
        host_cpu,
    }
}

/// `Host::run_execution` without a thread: the start answers with the
/// result, or its result is waited for (10 s at a time) if it had not
/// settled within the start's `wait_ms`.
async fn run_execution(host: &Host, client: &reqwest::Client, start: &[u8]) -> (String, Value) {
    let (status, v) = call(
        host,
        client.post(format!("{}/v1/executions", host.url)),
        start,
    )
    .await;
    assert_eq!(status, 201, "start: {v}");
    let id = v["id"].as_str().expect("id").to_string();
    let mut r = v["result"].clone();
    if r["status"].as_str().is_some() && r["status"] != "running" {
        return (id, r);
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "{id} still running: {r}");
        let url = format!(
            "{}/v1/executions/{id}/result?wait=true&timeout_ms=10000",
            host.url
        );
        let (status, v) = call(host, client.get(url), &[]).await;
        assert_eq!(status, 200, "result of {id}: {v}");
        r = v;
        if r["status"] != "running" {
            return (id, r);
        }
    }
}

async fn call(host: &Host, request: reqwest::RequestBuilder, body: &[u8]) -> (u16, Value) {
    let mut request = request;
    if !body.is_empty() {
        request = request
            .header("content-type", "application/json")
            .body(body.to_vec());
    }
    if let Some(token) = &host.token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("response body");
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, v)
}

/// CPU time (user and system) process `pid` ("self": this one) has used:
/// `utime` and `stime` of /proc/PID/stat, in clock ticks of 10 ms (Linux's
/// `USER_HZ`). Zero where there is no such process or no /proc.
fn process_cpu(pid: &str) -> Duration {
    if pid.is_empty() {
        return Duration::ZERO;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // The fields after the command name (which may hold spaces) start
    // with the state, the third field; utime and stime are the 14th and
    // 15th.
    let ticks: u64 = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .skip(11)
                .take(2)
                .filter_map(|t| t.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_millis(ticks * 10)
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
            f.host_us(),
            f.client_us()
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
