//! The seeded verification runner: `weft-bench verify --seed S --programs N
//! --ops M [--seeds K | --minutes T]`.
//!
//! For each seed it draws N random programs for the kitchen-sink workflow
//! (tests/fixtures/kitchen-sink), starts half of them on a real host (manual
//! clock, a seeded `--evict-after-ms` and `--max-instances`) and makes M
//! random operator actions between their steps, each logged to
//! `$TMPDIR/weft-verify/seed-S/actions.log`: signals, updates (some repeating
//! an update id), queries, cancels and terminates (of a program or of one of
//! its children), resets (some onto a chosen version), deploying the second
//! build and moving executions between the two versions, retried starts with
//! their request id, late starts (some by signal-with-start), SIGKILL +
//! restart, moving the clock, pauses. A seed always makes the same actions in
//! the same order; what the host answers depends on timing. Then it drives
//! every execution to its end (a day of clock at a time, sending the signals
//! and updates the programs still wait for) and checks, exactly:
//!
//! - every execution ended as the pure model (model.rs) says, given the
//!   signals and updates that reached it (and, for a parent, each child's
//!   end as recorded), or as a logged cancel or terminate of it or of an
//!   ancestor explains;
//! - every run's history: one start, nothing after its close, no handle
//!   completed twice; each child's end reported once and as the child ended;
//!   each update accepted and completed at most once; the signals recorded in
//!   the order they were sent;
//! - updates: a repeated id got the first answer, the answers add up, none
//!   accepted is lost by a continue-as-new; a retried start answers as the
//!   first did;
//! - queries answered a prefix of the model's outcomes;
//! - an upgrade to v2 never diverges (v2 replays v1's histories); back to v1
//!   only past a patch's new path; a reset onto v1 is refused only then;
//! - each activity side effect (`effect key=` in the host log) happened once
//!   per idempotency key, unless a kill or a reset in between explains the
//!   repeat;
//! - every run's history replays offline (`weft replay`) on its module.
//!
//! The e2e test tests/e2e/verify.rs compiles this same module and runs a few
//! seeds briefly.

mod checks;
mod driver;
mod model;
mod program;
mod rng;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One seed's run.
#[derive(Debug, Clone)]
pub struct Config {
    pub seed: u64,
    /// Top-level programs started.
    pub programs: usize,
    /// Operator actions between their steps.
    pub ops: usize,
    /// Print each action as it happens.
    pub verbose: bool,
    /// Hosts on one PostgreSQL store (`WEFT_TEST_POSTGRES`); with more than
    /// one, a kill hits the host holding the store, by SIGKILL, by SIGSTOP
    /// past its lease, or by a graceful stop (SIGTERM), and restarts it.
    pub hosts: usize,
    /// With several hosts: the partitions the store is made with (each
    /// held by one host; a kill hits a host holding some).
    pub partitions: u32,
}

/// What one seed did and found.
#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub seed: u64,
    pub hosts: usize,
    pub partitions: u32,
    pub programs: usize,
    pub ops: usize,
    /// Executions checked, children included.
    pub executions: usize,
    /// Run histories replayed offline.
    pub replayed: usize,
    pub actions: BTreeMap<&'static str, usize>,
    /// Step kinds in the programs drawn.
    pub steps: BTreeMap<&'static str, usize>,
    pub kills: usize,
    /// Workflow instances the host evicted (and replayed when they woke).
    pub evictions: u64,
    pub violations: Vec<String>,
    pub elapsed: Duration,
    /// Where the action log (and, after a violation, the host log) went.
    pub log_dir: PathBuf,
}

impl SeedReport {
    /// The command that runs this seed alone.
    pub fn rerun(&self) -> String {
        format!(
            "cargo xtask bench verify --seed {} --programs {} --ops {}{}",
            self.seed,
            self.programs,
            self.ops,
            if self.hosts > 1 {
                format!(
                    " --hosts {} --partitions {} (with WEFT_TEST_POSTGRES)",
                    self.hosts, self.partitions
                )
            } else {
                String::new()
            }
        )
    }

    pub fn line(&self) -> String {
        format!(
            "seed {}: {} programs, {} executions, {} actions ({}), {} kills, {} evictions, \
             {} histories replayed, violations = {} ({:.1} s)",
            self.seed,
            self.programs,
            self.executions,
            self.actions.values().sum::<usize>(),
            by_kind(&self.actions),
            self.kills,
            self.evictions,
            self.replayed,
            self.violations.len(),
            self.elapsed.as_secs_f64()
        )
    }
}

fn by_kind(counts: &BTreeMap<&'static str, usize>) -> String {
    counts
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs one seed. A panic inside (the host died, an API answered nonsense)
/// is reported as a violation, not propagated.
pub fn run_seed(config: &Config) -> SeedReport {
    let started = Instant::now();
    let log_dir = std::env::temp_dir().join(format!("weft-verify/seed-{}", config.seed));
    let _ = std::fs::remove_dir_all(&log_dir);
    let _ = std::fs::create_dir_all(&log_dir);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut run = driver::Run::start(config, &log_dir);
        run.operate();
        run.drain();
        let found = checks::check(&mut run);
        (run, found)
    }));
    let mut report = match outcome {
        Ok((run, found)) => {
            let mut report = run.report();
            report.executions = found.executions;
            report.replayed = found.replayed;
            // The same finding once, with how often it came.
            let mut seen: Vec<(String, usize)> = Vec::new();
            for v in found.violations {
                match seen.iter_mut().find(|(s, _)| *s == v) {
                    Some((_, n)) => *n += 1,
                    None => seen.push((v, 1)),
                }
            }
            report.violations = seen
                .into_iter()
                .map(|(v, n)| if n > 1 { format!("{v} ({n} times)") } else { v })
                .collect();
            if !report.violations.is_empty() {
                let _ = std::fs::write(log_dir.join("host.log"), run.host_log());
            }
            report
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "a panic".into());
            SeedReport {
                seed: config.seed,
                programs: config.programs,
                ops: config.ops,
                hosts: config.hosts,
                partitions: config.partitions,
                violations: vec![format!("the runner stopped: {what}")],
                ..SeedReport::default()
            }
        }
    };
    report.elapsed = started.elapsed();
    report.log_dir = log_dir;
    report
}

fn flag(args: &[String], name: &str) -> Option<u64> {
    args.iter().position(|a| a == name).map(|i| {
        let v = args.get(i + 1).map(String::as_str).unwrap_or_default();
        v.parse()
            .unwrap_or_else(|_| panic!("{name} takes a number, got {v:?}"))
    })
}

/// `weft-bench verify ...`: runs the seeds, prints a line per seed and the
/// totals; returns the process's exit code (1 on any violation).
pub fn main(args: &[String]) -> i32 {
    let first = flag(args, "--seed").unwrap_or(1);
    let minutes = flag(args, "--minutes");
    let seeds = flag(args, "--seeds").unwrap_or(1);
    let base = Config {
        seed: first,
        programs: flag(args, "--programs").unwrap_or(6) as usize,
        ops: flag(args, "--ops").unwrap_or(80) as usize,
        verbose: args.iter().any(|a| a == "--verbose"),
        hosts: flag(args, "--hosts").unwrap_or(1) as usize,
        partitions: flag(args, "--partitions").unwrap_or(1) as u32,
    };
    let deadline = minutes.map(|m| Instant::now() + Duration::from_secs(m * 60));
    let started = Instant::now();
    let mut reports: Vec<SeedReport> = Vec::new();
    let mut seed = first;
    loop {
        let report = run_seed(&Config {
            seed,
            ..base.clone()
        });
        println!("{}", report.line());
        for v in &report.violations {
            println!("  violation: {v}");
        }
        if !report.violations.is_empty() {
            println!(
                "  action log and host log: {}\n  rerun: {}",
                report.log_dir.display(),
                report.rerun()
            );
        }
        reports.push(report);
        seed += 1;
        let more = match deadline {
            Some(d) => Instant::now() < d,
            None => seed < first + seeds,
        };
        if !more {
            break;
        }
    }
    let mut actions = BTreeMap::new();
    let mut steps = BTreeMap::new();
    for r in &reports {
        for (k, n) in &r.actions {
            *actions.entry(*k).or_default() += n;
        }
        for (k, n) in &r.steps {
            *steps.entry(*k).or_default() += n;
        }
    }
    let violations: usize = reports.iter().map(|r| r.violations.len()).sum();
    println!(
        "verify: seeds {}, programs {}, executions {}, steps {} ({}), operator actions {} ({}), \
         kills {}, evictions {}, histories replayed {}, violations = {} ({:.1} min)",
        reports.len(),
        reports.iter().map(|r| r.programs).sum::<usize>(),
        reports.iter().map(|r| r.executions).sum::<usize>(),
        steps.values().sum::<usize>(),
        by_kind(&steps),
        actions.values().sum::<usize>(),
        by_kind(&actions),
        reports.iter().map(|r| r.kills).sum::<usize>(),
        reports.iter().map(|r| r.evictions).sum::<u64>(),
        reports.iter().map(|r| r.replayed).sum::<usize>(),
        violations,
        started.elapsed().as_secs_f64() / 60.0
    );
    for r in reports.iter().filter(|r| !r.violations.is_empty()) {
        println!(
            "seed {} found {} violation(s); rerun it alone: {}",
            r.seed,
            r.violations.len(),
            r.rerun()
        );
    }
    i32::from(violations > 0)
}
