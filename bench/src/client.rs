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
    /// CPU time this process (the client) used meanwhile.
    client_cpu: Duration,
    /// CPU time the host process used meanwhile.
    host_cpu: Duration,
}

impl Figures {
    pub fn per_sec(&self) -> f64 {
        self.executions as f64 / self.wall.as_secs_f64()
    }

    /// Microseconds of the client's CPU per execution.
    pub fn client_us(&self) -> f64 {
        self.each_us(self.client_cpu)
    }

    /// Microseconds of the host's CPU per execution: steadier than the
    /// throughput on a noisy machine when two builds are compared.
    pub fn host_us(&self) -> f64 {
        self.each_us(self.host_cpu)
    }

    fn each_us(&self, cpu: Duration) -> f64 {
        cpu.as_secs_f64() * 1e6 / self.executions as f64
    }

    pub fn percentile(&self, p: f64) -> f64 {
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
    let me = std::process::id();
    let cpu = cpu_time(me);
    let host_cpu = host.pid().map_or(Duration::ZERO, cpu_time);
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
    let client_cpu = cpu_time(me).saturating_sub(cpu);
    let host_cpu = host
        .pid()
        .map_or(Duration::ZERO, cpu_time)
        .saturating_sub(host_cpu);
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
