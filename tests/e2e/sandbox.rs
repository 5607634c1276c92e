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

/// A freed pool slot is reset for its next instance: the pages its last
/// instance wrote are restored in place up to `--pool-keep-resident-kb` of
/// each memory (found with `PAGEMAP_SCAN`) and dropped beyond it, or all
/// dropped (0). Whichever way, the next instance in the slot finds nothing
/// the last one wrote: not in a zeroed static, not in memory it grew, not in
/// a static with content. Each `scribble` writes to every other page
/// (hundreds of separate dirty runs, more than one scan returns) of 6 MiB.
/// The pool has two slots, so every instance after the second takes a slot
/// an earlier one wrote.
#[test]
fn a_pool_slots_next_instance_finds_nothing_of_the_last() {
    let fresh = json!({"stale": 0, "seeded": true});
    for keep in ["0", "1024", "65536"] {
        let host = Host::with_args(&[
            "--pool-keep-resident-kb",
            keep,
            "--max-instances",
            "1",
            "--instance-pool",
            "2",
        ]);
        host.deploy_examples_and_corners();
        // The count finds what an instance wrote itself: the static's 384
        // pages (its second growth is fresh memory).
        host.start_corners("twice", json!({"mode": "scribble", "runs": 1}));
        let r = host.wait_result("twice");
        assert_eq!(r["output"][0], fresh, "keep {keep}: {r}");
        assert_eq!(
            r["output"][1],
            json!({"stale": 384, "seeded": false}),
            "keep {keep}: {r}"
        );
        // One at a time.
        for i in 0..12 {
            let id = format!("one-{i}");
            host.start_corners(&id, json!({"mode": "scribble"}));
            let r = host.wait_result(&id);
            assert_eq!(r["output"], json!([fresh]), "keep {keep}, {id}: {r}");
        }
        // Eight at a time, three times.
        for wave in 0..3 {
            let ids: Vec<String> = (0..8).map(|i| format!("wave-{wave}-{i}")).collect();
            for id in &ids {
                host.start_corners(id, json!({"mode": "scribble"}));
            }
            for id in &ids {
                let r = host.wait_result(id);
                assert_eq!(r["output"], json!([fresh]), "keep {keep}, {id}: {r}");
            }
        }
    }
}
