//! The benchmark client: executions driven over HTTP at a number in
//! flight, with their latencies and the CPU the client and the host spent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use weft_e2e::Host;

use crate::scrape::cpu_time;

pub(crate) struct Figures {
    pub name: &'static str,
    pub executions: usize,
    pub wall: Duration,
    /// Sorted.
    pub latencies_ms: Vec<f64>,
    pub cpu: Cpu,
}

impl Figures {
    pub fn per_sec(&self) -> f64 {
        self.executions as f64 / self.wall.as_secs_f64()
    }

    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_ms.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_ms[i]
    }
}

/// The CPU time the client (this process) and the host used over a
/// stretch of work, per item of it: steadier than the throughput on a noisy
/// machine when two builds are compared.
pub(crate) struct Cpu {
    client: Duration,
    host: Duration,
    items: usize,
}

impl Cpu {
    /// Microseconds of the client's CPU per item.
    pub fn client_us(&self) -> f64 {
        self.each_us(self.client)
    }

    /// Microseconds of the host's CPU per item.
    pub fn host_us(&self) -> f64 {
        self.each_us(self.host)
    }

    fn each_us(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.items.max(1) as f64
    }
}

/// Reads both processes' CPU time at its start and again at [`Meter::stop`].
struct Meter<'a> {
    host: &'a Host,
    client: Duration,
    host_at: Duration,
}

impl<'a> Meter<'a> {
    fn start(host: &'a Host) -> Self {
        Meter {
            host,
            client: cpu_time(std::process::id()),
            host_at: Self::host_now(host),
        }
    }

    fn host_now(host: &Host) -> Duration {
        host.pid().map_or(Duration::ZERO, cpu_time)
    }

    fn stop(self, items: usize) -> Cpu {
        Cpu {
            client: cpu_time(std::process::id()).saturating_sub(self.client),
            host: Self::host_now(self.host).saturating_sub(self.host_at),
            items,
        }
    }
}

/// One thread's runtime and HTTP client for `in_flight` requests at once.
fn client(in_flight: usize) -> (tokio::runtime::Runtime, reqwest::Client) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(in_flight)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client");
    (rt, client)
}

/// Executions started and not waited for (see [`start_many`]).
pub(crate) struct Started {
    /// The i-th started with `input(i)`.
    pub ids: Vec<String>,
    pub wall: Duration,
    pub cpu: Cpu,
}

/// Starts `n` executions of `workflow` without waiting for their results,
/// `in_flight` requests at a time from one client thread (as [`drive`]).
pub(crate) fn start_many(
    host: &Host,
    workflow: &str,
    input: impl Fn(usize) -> Value,
    n: usize,
    in_flight: usize,
) -> Started {
    let (rt, client) = client(in_flight);
    let next = AtomicUsize::new(0);
    let ids = Mutex::new(vec![String::new(); n]);
    let meter = Meter::start(host);
    let started = Instant::now();
    rt.block_on(futures::future::join_all((0..in_flight).map(|_| async {
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break;
            }
            let body = serde_json::to_vec(&json!({"workflow_type": workflow, "input": input(i)}))
                .expect("start body");
            let (status, v) = call(
                host,
                client.post(format!("{}/v1/executions", host.url)),
                &body,
            )
            .await;
            assert_eq!(status, 201, "start {workflow}: {v}");
            ids.lock().unwrap()[i] = v["id"].as_str().expect("id").to_string();
        }
    })));
    let wall = started.elapsed();
    Started {
        ids: ids.into_inner().unwrap(),
        wall,
        cpu: meter.stop(n),
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
    let (rt, client) = client(in_flight);
    let start = serde_json::to_vec(&json!({
        "workflow_type": workflow, "input": input, "wait_ms": 10_000,
    }))
    .expect("start body");
    let next = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::with_capacity(n));
    let meter = Meter::start(host);
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
    let cpu = meter.stop(n);
    let mut latencies_ms = latencies.into_inner().unwrap();
    latencies_ms.sort_by(f64::total_cmp);
    Figures {
        name,
        executions: n,
        wall,
        latencies_ms,
        cpu,
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
