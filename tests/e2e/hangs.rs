//! The suite's guard against a test that hangs: it fails the run, naming
//! the test and showing its hosts' logs, instead of holding the run until
//! CI's time limit (which printed nothing of which test it was).

use std::process::Command;
use std::time::{Duration, Instant};

use weft_e2e::Host;

/// Runs this binary's `hangs::a_test_waiting_forever` with a hang limit
/// of 2 s: the run ends with 101 within seconds, says which test hung and
/// shows its host's log, and the host process is killed.
#[test]
fn a_test_that_hangs_fails_the_run_naming_itself() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "hangs::a_test_waiting_forever"])
        .env("WEFT_TEST_HANG_LIMIT_S", "2")
        .env("WEFT_TEST_HANG_PID_FILE", &pid_file)
        // On the store the redb file: no database left behind.
        .env_remove("WEFT_TEST_POSTGRES")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(101), "{said}");
    assert!(started.elapsed() < Duration::from_secs(60), "{said}");
    for part in [
        "HANG: the test hangs::a_test_waiting_forever has run for over 2 s",
        "The end of the log of its host",
        "weft host ready",
    ] {
        assert!(said.contains(part), "{part}: {said}");
    }
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let gone = Instant::now() + Duration::from_secs(10);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
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
    let host = Host::start();
    let pid = host.pid().unwrap().to_string();
    std::fs::write(std::env::var("WEFT_TEST_HANG_PID_FILE").unwrap(), pid).unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}
