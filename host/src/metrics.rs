//! Process-wide counters and latency histograms, read by `GET /metrics`
//! (Prometheus text format). Plain atomics: cheap enough to bump on every
//! step of every execution.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Default)]
pub struct Counter(AtomicU64);

impl Counter {
    pub const fn new() -> Self {
        Self(AtomicU64::new(0))
    }
    pub fn inc(&self) {
        self.add(1);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Upper bounds of the histogram buckets; the last bucket is `+Inf`.
const BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A Prometheus histogram with fixed buckets, in seconds (or in plain units
/// for sizes: `observe_value`).
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    count: AtomicU64,
    /// Sum in millionths of the unit.
    sum_micros: AtomicU64,
    bounds: &'static [f64],
}

impl Histogram {
    pub const fn new(bounds: &'static [f64]) -> Self {
        Self {
            buckets: [const { AtomicU64::new(0) }; BOUNDS.len() + 1],
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
            bounds,
        }
    }

    pub fn observe(&self, d: Duration) {
        self.observe_value(d.as_secs_f64());
    }

    pub fn observe_value(&self, v: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((v * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, bound) in self.bounds.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[self.bounds.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {cumulative}");
    }
}

/// Batch sizes: how many callers' write batches one group commit carried.
const SIZES: [f64; 14] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];

/// Instantiation is measured in microseconds.
const FINE: [f64; 14] = [
    0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
    1.0,
];

pub static INSTANTIATE_LATENCY: Histogram = Histogram::new(&FINE);
pub static ACTIVITY_INSTANTIATE_LATENCY: Histogram = Histogram::new(&FINE);
pub static COMMIT_LATENCY: Histogram = Histogram::new(&BOUNDS);
pub static COMMIT_BATCHES: Histogram = Histogram::new(&SIZES);
pub static WORKFLOW_TASK_LATENCY: Histogram = Histogram::new(&BOUNDS);
pub static ACTIVITY_LATENCY: Histogram = Histogram::new(&BOUNDS);
pub static SIGNAL_LATENCY: Histogram = Histogram::new(&BOUNDS);

pub static REPLAYED_EVENTS: Counter = Counter::new();
pub static INSTANCES_LOADED: Counter = Counter::new();
pub static CACHE_HITS: Counter = Counter::new();
pub static EVICTIONS: Counter = Counter::new();
pub static ACTIVITY_ATTEMPTS: Counter = Counter::new();
pub static ACTIVITY_FAILURES: Counter = Counter::new();
pub static ACTIVITY_INSTANCES_REUSED: Counter = Counter::new();
pub static STORE_WRITE_FAILURES: Counter = Counter::new();
pub static EXECUTIONS_STARTED: Counter = Counter::new();

/// Executions closed since start, by how they ended.
pub static CLOSED: [(&str, Counter); 5] = [
    ("completed", Counter::new()),
    ("failed", Counter::new()),
    ("cancelled", Counter::new()),
    ("terminated", Counter::new()),
    ("stalled", Counter::new()),
];

pub fn closed(status: &str) {
    if let Some((_, c)) = CLOSED.iter().find(|(s, _)| *s == status) {
        c.inc();
    }
}

/// Renders every metric in the Prometheus text exposition format.
pub fn render() -> String {
    let mut out = String::new();
    let counters: [(&str, &str, u64); 10] = [
        (
            "weft_executions_started_total",
            "Executions (runs) started since the host started.",
            EXECUTIONS_STARTED.get(),
        ),
        (
            "weft_replayed_events_total",
            "History events delivered during replay.",
            REPLAYED_EVENTS.get(),
        ),
        (
            "weft_instances_loaded_total",
            "Workflow instances created (live from the start, or replaying): instance cache misses.",
            INSTANCES_LOADED.get(),
        ),
        (
            "weft_instance_cache_hits_total",
            "Deliveries to an instance already in memory.",
            CACHE_HITS.get(),
        ),
        (
            "weft_evictions_total",
            "Workflow instances evicted from memory.",
            EVICTIONS.get(),
        ),
        (
            "weft_activity_attempts_total",
            "Activity attempts run.",
            ACTIVITY_ATTEMPTS.get(),
        ),
        (
            "weft_activity_attempt_failures_total",
            "Activity attempts that failed.",
            ACTIVITY_FAILURES.get(),
        ),
        (
            "weft_activity_instances_reused_total",
            "Activity attempts served by an instance kept from an earlier attempt.",
            ACTIVITY_INSTANCES_REUSED.get(),
        ),
        (
            "weft_store_write_failures_total",
            "Group commits the disk refused (full or failing).",
            STORE_WRITE_FAILURES.get(),
        ),
        ("weft_up", "1 while the host runs.", 1),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP weft_executions_closed_total Executions closed since the host started, by status.\n\
         # TYPE weft_executions_closed_total counter"
    );
    for (status, c) in &CLOSED {
        let _ = writeln!(
            out,
            "weft_executions_closed_total{{status=\"{status}\"}} {}",
            c.get()
        );
    }
    let histograms: [(&Histogram, &str, &str); 7] = [
        (
            &INSTANTIATE_LATENCY,
            "weft_instantiate_seconds",
            "Creating a store and instantiating a compiled (cached) workflow component.",
        ),
        (
            &ACTIVITY_INSTANTIATE_LATENCY,
            "weft_activity_instantiate_seconds",
            "Creating a store and instantiating a compiled (cached) activity component.",
        ),
        (
            &COMMIT_LATENCY,
            "weft_commit_seconds",
            "Group commit latency (one transaction and one fsync).",
        ),
        (
            &COMMIT_BATCHES,
            "weft_commit_batch_size",
            "Callers' write batches carried by one group commit.",
        ),
        (
            &WORKFLOW_TASK_LATENCY,
            "weft_workflow_task_seconds",
            "Workflow task latency: guest code from a delivery to its next wait, plus the commit of its commands.",
        ),
        (
            &ACTIVITY_LATENCY,
            "weft_activity_attempt_seconds",
            "Activity attempt latency.",
        ),
        (
            &SIGNAL_LATENCY,
            "weft_signal_delivery_seconds",
            "Signal latency: from its record to its delivery to the workflow.",
        ),
    ];
    for (h, name, help) in histograms {
        h.render(&mut out, name, help);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_render_cumulative_buckets() {
        let h = Histogram::new(&BOUNDS);
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(30));
        h.observe(Duration::from_secs(60));
        let mut out = String::new();
        h.render(&mut out, "x", "help");
        assert!(out.contains("x_bucket{le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"0.05\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"10\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }
}
