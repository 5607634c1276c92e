//! Process-wide counters, read by `GET /metrics` (Prometheus text format).
//! Plain atomics: cheap enough to bump on every step of every execution.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Group commits: how many, and how many batches they carried.
pub struct Commits {
    pub commits: Counter,
    pub batches: Counter,
}

impl Commits {
    pub fn record(&self, batches: usize) {
        self.commits.inc();
        self.batches.add(u64::try_from(batches).unwrap_or(u64::MAX));
    }
}

pub static COMMITS: Commits = Commits {
    commits: Counter::new(),
    batches: Counter::new(),
};
pub static WORKFLOW_TASKS: Counter = Counter::new();
pub static REPLAYED_EVENTS: Counter = Counter::new();
pub static INSTANCES_LOADED: Counter = Counter::new();
pub static EVICTIONS: Counter = Counter::new();
pub static ACTIVITY_ATTEMPTS: Counter = Counter::new();
pub static ACTIVITY_FAILURES: Counter = Counter::new();
pub static STORE_WRITE_FAILURES: Counter = Counter::new();

/// Renders every counter in the Prometheus text exposition format.
pub fn render(extra: &[(&str, &str, u64)]) -> String {
    let mut out = String::new();
    let rows: [(&str, &str, u64); 10] = [
        (
            "weft_commits_total",
            "Durable group commits.",
            COMMITS.commits.get(),
        ),
        (
            "weft_commit_batches_total",
            "Write batches carried by group commits.",
            COMMITS.batches.get(),
        ),
        (
            "weft_workflow_tasks_total",
            "Workflow tasks run (guest code between two waits).",
            WORKFLOW_TASKS.get(),
        ),
        (
            "weft_replayed_events_total",
            "History events delivered during replay.",
            REPLAYED_EVENTS.get(),
        ),
        (
            "weft_instances_loaded_total",
            "Workflow instances created (first run or replay).",
            INSTANCES_LOADED.get(),
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
            "weft_store_write_failures_total",
            "Group commits the disk refused (full or failing).",
            STORE_WRITE_FAILURES.get(),
        ),
        ("weft_up", "1 while the host runs.", 1),
    ];
    for (name, help, value) in rows.iter().chain(extra.iter()) {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    }
    out
}
