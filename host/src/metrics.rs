//! Process-wide metrics, read by `GET /metrics` (Prometheus text format),
//! on the maintained `prometheus-client` crate. Counters by workflow type
//! and by activity name keep at most [`LABEL_CAP`] distinct names each
//! (names are user-controlled): the rest count under `other`. Gauges of
//! what runs now are read from the engine when scraped.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Distinct workflow types (and, apart, activity names) a labelled counter
/// keeps; later names count as `other`.
pub const LABEL_CAP: usize = 100;

/// Latency buckets, in seconds.
const SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Batch sizes: how many callers' write batches one group commit carried.
const SIZES: [f64; 14] = [
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];

/// Instantiation is measured in microseconds.
const FINE: [f64; 14] = [
    0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1,
    1.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TypeLabel {
    workflow_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CloseLabels {
    workflow_type: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActivityLabel {
    activity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: String,
}

/// A latency (or size) histogram.
pub struct Timing(Histogram);

impl Timing {
    fn new(bounds: &[f64]) -> Self {
        Self(Histogram::new(bounds.iter().copied()))
    }

    pub fn observe(&self, d: Duration) {
        self.0.observe(d.as_secs_f64());
    }

    pub fn observe_value(&self, v: f64) {
        self.0.observe(v);
    }
}

/// A plain counter.
pub struct Count(Counter);

impl Count {
    pub fn inc(&self) {
        self.0.inc();
    }

    pub fn add(&self, n: u64) {
        self.0.inc_by(n);
    }
}

/// Every metric, registered once.
pub struct Metrics {
    registry: Registry,
    pub instantiate: Timing,
    pub activity_instantiate: Timing,
    pub commit: Timing,
    pub commit_batches: Timing,
    pub workflow_task: Timing,
    pub activity_attempt: Timing,
    pub signal_delivery: Timing,
    pub replayed_events: Count,
    pub instances_loaded: Count,
    pub executions_not_runnable: Count,
    pub activities_not_runnable: Count,
    pub cache_hits: Count,
    pub evictions: Count,
    pub activity_instances_reused: Count,
    pub store_write_failures: Count,
    pub handovers: Count,
    pub fenced: Count,
    /// 1 while this host holds the store (always, on redb).
    pub holds_store: Gauge,
    /// Partitions of the store this host runs now (a store of several).
    pub partitions_held: Gauge,
    /// Partitions this host handed to another host.
    pub partitions_handed_over: Count,
    pub partition_rounds: Count,
    pub task_polls_woken: Count,
    started: Family<TypeLabel, Counter>,
    closed: Family<CloseLabels, Counter>,
    stalled: Family<TypeLabel, Counter>,
    attempts: Family<ActivityLabel, Counter>,
    attempt_failures: Family<ActivityLabel, Counter>,
    executions: Family<StatusLabel, Gauge>,
    in_memory: Gauge,
    pending_timers: Gauge,
    types_seen: Mutex<HashSet<String>>,
    activities_seen: Mutex<HashSet<String>>,
}

fn timing(registry: &mut Registry, name: &str, help: &str, bounds: &[f64]) -> Timing {
    let t = Timing::new(bounds);
    registry.register(name, help, t.0.clone());
    t
}

fn count(registry: &mut Registry, name: &str, help: &str) -> Count {
    let c = Counter::default();
    registry.register(name, help, c.clone());
    Count(c)
}

impl Metrics {
    fn new() -> Self {
        let mut r = Registry::default();
        let instantiate = timing(
            &mut r,
            "weft_instantiate_seconds",
            "Creating a store and instantiating a compiled (cached) workflow component",
            &FINE,
        );
        let activity_instantiate = timing(
            &mut r,
            "weft_activity_instantiate_seconds",
            "Creating a store and instantiating a compiled (cached) activity component",
            &FINE,
        );
        let commit = timing(
            &mut r,
            "weft_commit_seconds",
            "Group commit latency (one transaction and one fsync)",
            &SECONDS,
        );
        let commit_batches = timing(
            &mut r,
            "weft_commit_batch_size",
            "Callers' write batches carried by one group commit",
            &SIZES,
        );
        let workflow_task = timing(
            &mut r,
            "weft_workflow_task_seconds",
            "Workflow task latency: guest code from a delivery to its next wait, plus the commit of its commands",
            &SECONDS,
        );
        let activity_attempt = timing(
            &mut r,
            "weft_activity_attempt_seconds",
            "Activity attempt latency",
            &SECONDS,
        );
        let signal_delivery = timing(
            &mut r,
            "weft_signal_delivery_seconds",
            "Signal latency: from its record to its delivery to the workflow",
            &SECONDS,
        );
        let replayed_events = count(
            &mut r,
            "weft_replayed_events",
            "History events delivered during replay",
        );
        let instances_loaded = count(
            &mut r,
            "weft_instances_loaded",
            "Workflow instances created (live from the start, or replaying): instance cache misses",
        );
        let executions_not_runnable = count(
            &mut r,
            "weft_executions_not_runnable",
            "Loads of an execution whose component imports a newer weft:workflow contract than \
             this host provides (left running for a host that provides it)",
        );
        let activities_not_runnable = count(
            &mut r,
            "weft_activities_not_runnable",
            "Activity tasks whose component imports a newer weft:workflow contract than this host \
             provides (not attempted here: left for a host that provides it)",
        );
        let cache_hits = count(
            &mut r,
            "weft_instance_cache_hits",
            "Deliveries to an instance already in memory",
        );
        let evictions = count(
            &mut r,
            "weft_evictions",
            "Workflow instances evicted from memory",
        );
        let activity_instances_reused = count(
            &mut r,
            "weft_activity_instances_reused",
            "Activity attempts served by an instance kept from an earlier attempt",
        );
        let store_write_failures = count(
            &mut r,
            "weft_store_write_failures",
            "Group commits the disk refused (full or failing)",
        );
        let started = Family::<TypeLabel, Counter>::default();
        r.register(
            "weft_executions_started",
            "Executions (runs) started since the host started, by workflow type",
            started.clone(),
        );
        let closed = Family::<CloseLabels, Counter>::default();
        r.register(
            "weft_executions_closed",
            "Executions closed since the host started, by workflow type and how they ended (a stall is no close)",
            closed.clone(),
        );
        let stalled = Family::<TypeLabel, Counter>::default();
        r.register(
            "weft_executions_stalled",
            "Executions that stalled (a trap, a divergence) since the host started, by workflow type",
            stalled.clone(),
        );
        let attempts = Family::<ActivityLabel, Counter>::default();
        r.register(
            "weft_activity_attempts",
            "Activity attempts run, by activity name",
            attempts.clone(),
        );
        let attempt_failures = Family::<ActivityLabel, Counter>::default();
        r.register(
            "weft_activity_attempt_failures",
            "Activity attempts that failed, by activity name",
            attempt_failures.clone(),
        );
        let executions = Family::<StatusLabel, Gauge>::default();
        r.register(
            "weft_executions",
            "Executions in the store now, by status (`sleeping`: running and not in memory)",
            executions.clone(),
        );
        let in_memory = Gauge::default();
        r.register(
            "weft_instances_in_memory",
            "Workflow instances in memory now",
            in_memory.clone(),
        );
        let pending_timers = Gauge::default();
        r.register(
            "weft_pending_timers",
            "Durable timers armed now",
            pending_timers.clone(),
        );
        let handovers = count(
            &mut r,
            "weft_store_takeovers",
            "Times this host took the PostgreSQL store (at start, or from another host)",
        );
        let fenced = count(
            &mut r,
            "weft_fenced",
            "Times this host found itself fenced (another host holds the store)",
        );
        let holds_store = Gauge::default();
        r.register(
            "weft_holds_store",
            "1 while this host holds the store and runs executions; 0 while it is a standby",
            holds_store.clone(),
        );
        let partitions_held = Gauge::default();
        r.register(
            "weft_partitions_held",
            "Partitions of the store this host runs now (on a store of several partitions)",
            partitions_held.clone(),
        );
        let partitions_handed_over = count(
            &mut r,
            "weft_partitions_handed_over",
            "Partitions this host handed to another host (assigned to it since: drained, then released)",
        );
        let partition_rounds = count(
            &mut r,
            "weft_partition_rounds",
            "Rounds this host played of the partitions' assignment (one each quarter lease, on a store of several partitions)",
        );
        let task_polls_woken = count(
            &mut r,
            "weft_task_polls_woken",
            "Workers' polls waiting on this host woken to look again: another host announced a task of their queue, or this host took a partition (a store of several partitions)",
        );
        let up = Gauge::<i64>::default();
        up.set(1);
        r.register("weft_up", "1 while the host runs", up);
        Self {
            registry: r,
            instantiate,
            activity_instantiate,
            commit,
            commit_batches,
            workflow_task,
            activity_attempt,
            signal_delivery,
            replayed_events,
            instances_loaded,
            executions_not_runnable,
            activities_not_runnable,
            cache_hits,
            evictions,
            activity_instances_reused,
            store_write_failures,
            handovers,
            fenced,
            holds_store,
            partitions_held,
            partitions_handed_over,
            partition_rounds,
            task_polls_woken,
            started,
            closed,
            stalled,
            attempts,
            attempt_failures,
            executions,
            in_memory,
            pending_timers,
            types_seen: Mutex::new(HashSet::new()),
            activities_seen: Mutex::new(HashSet::new()),
        }
    }

    /// `name` as a label value: itself among the first [`LABEL_CAP`]
    /// names seen, `other` after.
    fn capped(seen: &Mutex<HashSet<String>>, name: &str) -> String {
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.contains(name) {
            return name.to_owned();
        }
        if seen.len() < LABEL_CAP {
            seen.insert(name.to_owned());
            return name.to_owned();
        }
        "other".to_owned()
    }

    pub fn started(&self, workflow_type: &str) {
        let workflow_type = Self::capped(&self.types_seen, workflow_type);
        self.started
            .get_or_create(&TypeLabel { workflow_type })
            .inc();
    }

    /// An execution closed (`completed`, `failed`, `cancelled`,
    /// `terminated`) or stalled (`stalled`: counted apart).
    pub fn closed(&self, workflow_type: &str, status: &str) {
        let workflow_type = Self::capped(&self.types_seen, workflow_type);
        if status == "stalled" {
            self.stalled
                .get_or_create(&TypeLabel { workflow_type })
                .inc();
            return;
        }
        self.closed
            .get_or_create(&CloseLabels {
                workflow_type,
                status: status.to_owned(),
            })
            .inc();
    }

    pub fn attempt(&self, activity: &str, failed: bool) {
        let activity = Self::capped(&self.activities_seen, activity);
        let label = ActivityLabel { activity };
        self.attempts.get_or_create(&label).inc();
        if failed {
            self.attempt_failures.get_or_create(&label).inc();
        }
    }

    /// Renders every metric in the Prometheus text format, with the gauges
    /// of what runs now.
    pub fn render(&self, now: &Snapshot) -> String {
        for (status, n) in &now.executions {
            self.executions
                .get_or_create(&StatusLabel {
                    status: (*status).to_owned(),
                })
                .set(*n as i64);
        }
        self.in_memory.set(now.in_memory as i64);
        self.pending_timers.set(now.pending_timers as i64);
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// What runs now, read when `/metrics` is scraped.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Executions by status (`running`, `sleeping`, `stalled`, and the
    /// closed ones still kept).
    pub executions: Vec<(&'static str, usize)>,
    pub in_memory: usize,
    pub pending_timers: usize,
}

impl Snapshot {
    /// Adds another engine's (a host holding several partitions).
    pub fn add(&mut self, other: Snapshot) {
        for (status, n) in other.executions {
            match self.executions.iter_mut().find(|(s, _)| *s == status) {
                Some((_, have)) => *have += n,
                None => self.executions.push((status, n)),
            }
        }
        self.in_memory += other.in_memory;
        self.pending_timers += other.pending_timers;
    }
}

/// The host's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_past_the_cap_count_as_other_and_stalls_are_no_closes() {
        let m = Metrics::new();
        for n in 0..LABEL_CAP + 5 {
            m.started(&format!("type-{n}"));
        }
        m.closed("type-0", "stalled");
        m.closed("type-0", "completed");
        m.attempt("charge", true);
        let out = m.render(&Snapshot::default());
        assert!(
            out.contains("weft_executions_started_total{workflow_type=\"other\"} 5"),
            "{out}"
        );
        assert!(out.contains("weft_executions_stalled_total{workflow_type=\"type-0\"} 1"));
        assert!(out.contains(
            "weft_executions_closed_total{workflow_type=\"type-0\",status=\"completed\"} 1"
        ));
        assert!(!out.contains("status=\"stalled\""), "{out}");
        assert!(out.contains("weft_activity_attempt_failures_total{activity=\"charge\"} 1"));
        assert!(out.contains("# TYPE weft_up gauge"), "{out}");
    }
}
