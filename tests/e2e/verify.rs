//! The seeded verification runner, briefly: a few fixed seeds of random
//! kitchen-sink programs under random operator actions (signals, updates,
//! queries, cancels, terminates, resets, upgrades, retried starts,
//! SIGKILLs, the clock), every end checked against the pure model and every
//! history replayed.
//! The long run is `cargo xtask bench verify --seed S --minutes T`; the
//! runner's source is bench/src/verify, compiled into this test as well.

#[allow(dead_code)]
#[path = "../../bench/src/verify/mod.rs"]
mod runner;

/// Seeds whose action sequences together make every action kind (seed 12
/// all but resets, 22 and 24 those too; 24 with small --evict-after-ms),
/// and seed 14, whose signals queue in runs that continue as new. With a
/// defect reintroduced this short run fails for: appends that skip the
/// status check (issue 14, defect 7: seed 22), idempotency keys without the
/// run (defect 3: seeds 22 and 24) and signals dropped at continue-as-new
/// (defect 13: seed 14).
const SEEDS: &[u64] = &[12, 22, 24, 14];

/// Seeds for three hosts: their kills, drawn by the seed, take the store
/// from its holder each of the three ways.
const CLUSTER_SEEDS: &[u64] = &[22, 24];

/// Runs each seed briefly on `hosts` hosts (on a store of `partitions`);
/// fails with every seed that found a violation (its logs and the command
/// that reruns it).
fn run_seeds(seeds: &[u64], hosts: usize, partitions: u32) {
    let mut failed = Vec::new();
    for &seed in seeds {
        let report = runner::run_seed(&runner::Config {
            seed,
            programs: 4,
            ops: 40,
            verbose: false,
            hosts,
            partitions,
        });
        eprintln!("{}", report.line());
        for v in &report.violations {
            eprintln!("  violation: {v}");
        }
        if !report.violations.is_empty() {
            failed.push(format!(
                "seed {seed}: {} violation(s), logs in {}; rerun: {}",
                report.violations.len(),
                report.log_dir.display(),
                report.rerun()
            ));
        }
    }
    assert!(failed.is_empty(), "violations = {}", failed.join("\n"));
}

#[test]
fn seeded_programs_under_operator_actions_end_as_the_model_says() {
    run_seeds(SEEDS, 1, 1);
}

/// Seeds on three hosts sharing one PostgreSQL store (the suite's
/// PostgreSQL pass): each "kill" hits the host holding the store, by
/// SIGKILL, by SIGSTOP past its lease (it must exit, writing nothing), or by
/// a graceful stop (after which no activity may have run twice), and starts
/// it again; the same checks hold.
#[test]
fn seeded_programs_on_three_hosts_end_as_the_model_says() {
    if weft_e2e::postgres_base().is_none() {
        eprintln!("no PostgreSQL for this run: the PostgreSQL pass runs it");
        return;
    }
    run_seeds(CLUSTER_SEEDS, 3, 1);
}

/// The same on a store of four partitions: the hosts share them out, and
/// each "kill" hits a host holding some; executions, signals and tasks
/// cross from one host's partitions to another's.
#[test]
fn seeded_programs_on_three_hosts_of_four_partitions_end_as_the_model_says() {
    if weft_e2e::postgres_base().is_none() {
        eprintln!("no PostgreSQL for this run: the PostgreSQL pass runs it");
        return;
    }
    run_seeds(CLUSTER_SEEDS, 3, 4);
}
