//! Reading the host's `/metrics` (Prometheus text) to explain the figures.

use weft_e2e::Host;

pub struct Scrape(String);

impl Scrape {
    pub fn of(host: &Host) -> Scrape {
        let (_, v) = host.call("GET", "/metrics", None);
        Scrape(v.as_str().unwrap_or_default().to_string())
    }

    /// The sum of the samples of `key` (`name`, or `name{label="v"}` for
    /// those whose labels include these); 0 if absent.
    pub fn value(&self, key: &str) -> f64 {
        weft_e2e::metric_value(&self.0, key).unwrap_or(0.0)
    }

    /// A histogram's cumulative buckets: (upper bound, count).
    fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let prefix = format!("{name}_bucket{{le=\"");
        self.0
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix(&prefix)?;
                let (bound, count) = rest.split_once("\"} ")?;
                let bound = if bound == "+Inf" {
                    f64::INFINITY
                } else {
                    bound.parse().ok()?
                };
                Some((bound, count.trim().parse().ok()?))
            })
            .collect()
    }
}

/// What a histogram observed between two scrapes: the count, the mean, and
/// the upper bound of the bucket holding quantile `q` (so "p99 <= x").
pub struct Window {
    pub count: f64,
    pub mean: f64,
    buckets: Vec<(f64, f64)>,
}

impl Window {
    pub fn between(before: &Scrape, after: &Scrape, name: &str) -> Window {
        let b0 = before.buckets(name);
        let b1 = after.buckets(name);
        let buckets: Vec<(f64, f64)> = b1
            .iter()
            .map(|(bound, c1)| {
                let c0 = b0.iter().find(|(b, _)| b == bound).map_or(0.0, |(_, c)| *c);
                (*bound, c1 - c0)
            })
            .collect();
        let count = after.value(&format!("{name}_count")) - before.value(&format!("{name}_count"));
        let sum = after.value(&format!("{name}_sum")) - before.value(&format!("{name}_sum"));
        Window {
            count,
            mean: if count > 0.0 { sum / count } else { 0.0 },
            buckets,
        }
    }

    pub fn quantile_le(&self, q: f64) -> f64 {
        let want = self.count * q;
        self.buckets
            .iter()
            .find(|(_, c)| *c >= want && *c > 0.0)
            .map_or(f64::NAN, |(b, _)| *b)
    }
}

/// The resident set of a process, in bytes (Linux).
pub fn rss_bytes(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:") * 1024
}

/// The most resident memory process `pid` has had (its high-water mark).
pub fn peak_rss_bytes(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:") * 1024
}

/// CPU time (user and system) process `pid` has used: `utime` and `stime`
/// of /proc/PID/stat, in clock ticks of 10 ms (Linux's `USER_HZ`). Zero
/// where there is no such process or no /proc.
pub fn cpu_time(pid: u32) -> std::time::Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
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
    std::time::Duration::from_millis(ticks * 10)
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
}
