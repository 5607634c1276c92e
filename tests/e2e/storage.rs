//! Storage faults: the disk fills up while the host writes. Writes are
//! refused cleanly (507, nothing changed), reads go on, and once space
//! returns the host carries on by itself with nothing lost.
//!
//! The fault is real: the data directory is a small tmpfs the test mounts
//! and fills. Mounting needs root (CI runs as root); elsewhere the test says
//! so and does nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use weft_e2e::serde_json::json;
use weft_e2e::{guest, Host};

/// A tmpfs mounted on a directory; unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size_mb: u32) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a file until the filesystem has only `spare` bytes left; returns
/// its path.
fn fill(dir: &Path, spare: u64) -> PathBuf {
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).expect("filler file");
    let chunk = vec![0xA5u8; 256 << 10];
    while f.write_all(&chunk).and_then(|()| f.sync_data()).is_ok() {}
    // What is left is less than a chunk: take it too.
    let small = vec![0xA5u8; 4096];
    while f.write_all(&small).and_then(|()| f.sync_data()).is_ok() {}
    let len = f.metadata().expect("filler size").len();
    f.set_len(len.saturating_sub(spare))
        .expect("give some back");
    path
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_resumes_when_space_returns() {
    let mut mounted = None;
    let mut host = Host::launch_prepared(&["--manual-clock"], "info,weft=debug", |dir| {
        mounted = Tmpfs::mount(dir, 64);
    });
    if mounted.is_none() {
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); the disk-full test did not run"
        );
        return;
    }
    for e in ["hello", "hello-activities"] {
        host.cli_ok(&["deploy", &guest(e).to_string_lossy()]);
    }
    let before = host.start_execution("hello", json!({"name": "small"}));
    assert_eq!(host.wait_result(&before)["output"], "HELLO, SMALL!");

    let filler = fill(&host.data_dir(), 1536 << 10);

    // Starts with big inputs until the disk refuses one: a 507 naming the
    // cause, and nothing recorded for it.
    let big = |i: usize| format!("{i}-{}", "x".repeat(200 << 10));
    let mut accepted = Vec::new();
    let mut refused = None;
    for i in 0..60 {
        let (code, v) = host.call(
            "POST",
            "/v1/executions",
            Some(json!({"workflow_type": "hello", "input": {"name": big(i)}})),
        );
        match code {
            201 => accepted.push((i, v["id"].as_str().unwrap().to_string())),
            507 => {
                refused = Some(v);
                break;
            }
            other => panic!("start {i}: unexpected {other}: {v}"),
        }
    }
    let refused = refused.expect("the full disk never refused a start");
    assert_eq!(refused["error"]["code"], "storage-unavailable", "{refused}");
    // The host says it is degraded (and still answers).
    let (code, health) = host.call("GET", "/healthz", None);
    assert_eq!(code, 200);
    assert!(
        health.as_str().unwrap_or_default().starts_with("degraded"),
        "{health}"
    );
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("No space left") && message.contains("nothing was changed"),
        "{message}"
    );
    let listed = host.get("/v1/executions")["executions"]
        .as_array()
        .expect("executions")
        .len();
    assert_eq!(listed, accepted.len() + 1, "a refused start left a record");

    // Reads still work.
    assert_eq!(
        host.get(&format!("/v1/executions/{before}/result"))["output"],
        "HELLO, SMALL!"
    );
    assert!(host.metric("weft_store_write_failures_total") > 0.0);

    // Space returns: the host carries on by itself, and new work is taken.
    std::fs::remove_file(filler).expect("remove the filler");
    let after = host.start_execution("hello", json!({"name": "after"}));
    assert_eq!(host.wait_result(&after)["output"], "HELLO, AFTER!");
    assert_eq!(host.call("GET", "/healthz", None).1, "ok");
    for (i, id) in &accepted {
        let r = host.wait_result(id);
        assert_eq!(r["status"], "completed", "{id}: {r}");
        assert_eq!(
            r["output"].as_str().unwrap(),
            format!("HELLO, {}!", big(*i).to_uppercase())
        );
    }
    // The gauges by status count what the store holds: a refused commit
    // moved none of them.
    assert_eq!(
        host.metric("weft_executions{status=\"completed\"}"),
        (accepted.len() + 2) as f64
    );
    assert_eq!(host.metric("weft_executions{status=\"running\"}"), 0.0);

    // An activity whose end the disk refused kept it and wrote it once the
    // disk had room: no side effect ran twice (no kill explains one).
    let log = host.log();
    // The warning says why the writes fail.
    assert!(
        log.lines()
            .any(|l| l.contains("store writes fail") && l.contains("No space left")),
        "{log}"
    );
    let mut effects = std::collections::HashMap::<String, usize>::new();
    for key in log
        .lines()
        .filter_map(|l| l.split("effect key=").nth(1)?.split_whitespace().next())
    {
        *effects.entry(key.to_owned()).or_default() += 1;
    }
    assert!(effects.len() >= 3 * (accepted.len() + 2), "{effects:?}");
    let twice: Vec<_> = effects.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "side effects repeated: {twice:?}");

    // Nothing half-written: the store opens cleanly after a SIGKILL.
    host.kill_and_restart();
    assert_eq!(host.wait_result(&before)["output"], "HELLO, SMALL!");
    assert_eq!(host.wait_result(&after)["output"], "HELLO, AFTER!");
    host.kill();
    drop(mounted);
}
