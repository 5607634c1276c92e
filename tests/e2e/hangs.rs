//! The suite's guard against a test that hangs: it fails the run, naming
//! the test and showing its hosts' logs, instead of holding the run until
//! CI's time limit (which printed nothing of which test it was).

use std::process::Command;
use std::time::{Duration, Instant};

use weft_e2e::Host;

/// Runs this binary's `hangs::a_test_waiting_forever` with a hang limit
/// of 15 s: the run ends with 101 soon after, says which test hung and
/// shows its host's log, and the host process is killed.
#[test]
fn a_test_that_hangs_fails_the_run_naming_itself() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let started = Instant::now();
    // Bounded itself: were the watchdog broken, this test would hang.
    let out = weft_e2e::output_within(
        Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "hangs::a_test_waiting_forever"])
            .env("WEFT_TEST_HANG_LIMIT_S", "15")
            .env("WEFT_TEST_HANG_PID_FILE", &pid_file)
            // On the store the redb file: no database left behind.
            .env_remove("WEFT_TEST_POSTGRES"),
        Duration::from_secs(120),
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{said}");
    assert!(started.elapsed() < Duration::from_secs(60), "{said}");
    for part in [
        "HANG: the test hangs::a_test_waiting_forever has run for over 15 s",
        "The end of the log of its host",
        "weft host ready",
    ] {
        assert!(said.contains(part), "{part}: {said}");
    }
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let gone = Instant::now() + Duration::from_secs(10);
    // Gone, or a zombie its new parent has not reaped (killed all the same).
    let running = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| !r.trim_start().starts_with('Z'))
        })
    };
    while running() {
        assert!(
            Instant::now() < gone,
            "the hung test's host {pid} still runs"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits forever holding a host (run by the test above alone).
#[test]
#[ignore = "hangs on purpose: run by a_test_that_hangs_fails_the_run_naming_itself"]
fn a_test_waiting_forever() {
    // Run with the other ignored tests (`-- --ignored`): nothing to do.
    let Ok(pid_file) = std::env::var("WEFT_TEST_HANG_PID_FILE") else {
        return;
    };
    let host = Host::start();
    std::fs::write(pid_file, host.pid().unwrap().to_string()).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}
