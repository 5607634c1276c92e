//! Hostile guests stall only their own execution, with a reason a person understands.

use weft_e2e::serde_json::json;
use weft_e2e::Host;

#[test]
fn traps_loops_and_memory_bombs_stall_only_themselves() {
    let host = Host::with_args(&[
        "--manual-clock",
        "--cpu-deadline-ms",
        "500",
        "--memory-limit-mb",
        "64",
    ]);
    host.deploy_examples();
    let looping = host.start_execution("misbehave", json!({"mode": "loop"}));
    let hoarding = host.start_execution("misbehave", json!({"mode": "alloc"}));
    let trapping = host.start_execution("misbehave", json!({"mode": "trap"}));
    let failing = host.start_execution("misbehave", json!({"mode": "fail"}));
    let fine = host.start_execution("hello", json!({"name": "still here"}));

    let r = host.wait_result(&fine);
    assert_eq!(r["output"], "HELLO, STILL HERE!", "{r}");

    for (id, expect) in [
        (&looping, "CPU deadline of 500 ms"),
        (&hoarding, "memory limit of 64 MiB"),
        (&trapping, "asked to trap"),
    ] {
        let r = host.wait_result(id);
        assert_eq!(r["status"], "stalled", "{r}");
        let reason = r["stall_reason"].as_str().unwrap_or_default();
        assert!(reason.contains(expect), "{id}: {reason}");
    }
    let r = host.wait_result(&failing);
    assert_eq!(r["status"], "failed");
    assert_eq!(r["failure"]["kind"], "Refused");

    // The CLI reports them with exit code 1 and the reason on stderr.
    let out = host.cli(&["result", &looping]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("CPU deadline"));
    // The host itself is fine.
    let again = host.start_execution("misbehave", json!({"mode": "ok"}));
    assert_eq!(host.wait_result(&again)["output"], "fine");
}
