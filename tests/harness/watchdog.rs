//! A test that hangs fails the run, naming itself, instead of holding it
//! until CI's time limit ends it with no word of which test it was.
//!
//! A test is watched from the first time it starts a host or runs a
//! command through the harness until its thread ends (libtest runs each
//! test on a thread named after it; the benchmarks' hosts, on the main
//! thread or unnamed ones, are not watched: a verification run may take an
//! hour). A test still running past the limit (`WEFT_TEST_HANG_LIMIT_S`,
//! default 900 s: the longest takes about a tenth of that) waits for
//! something that will not come. The watchdog then writes its name and the
//! end of each of its hosts' logs to the standard error (straight to it: a
//! test's captured output is printed only when the test ends), kills every
//! host and worker process the suite still runs (a worker writes to the
//! run's stderr: left running, it would hold the run's output open) and
//! exits with 101, as a failed test run does.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

#[derive(Default)]
struct Registry {
    /// The tests watched: their names and when the watch began.
    tests: HashMap<ThreadId, (String, Instant)>,
    next: u64,
    hosts: HashMap<u64, WatchedHost>,
}

/// A process of a test: a host (with its log) or another that must not
/// outlive the run (a worker).
struct WatchedHost {
    test: ThreadId,
    log: Option<PathBuf>,
    pid: Option<u32>,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            std::thread::Builder::new()
                .name("hang watchdog".into())
                .spawn(patrol)
                .expect("start the hang watchdog");
            Mutex::default()
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Ends the watch of its test when the test's thread ends.
struct TestEnds(ThreadId);

impl Drop for TestEnds {
    fn drop(&mut self) {
        registry().tests.remove(&self.0);
    }
}

thread_local! {
    static WATCHED: std::cell::OnceCell<Option<TestEnds>> = const { std::cell::OnceCell::new() };
}

/// Watches the calling test (once; later calls do nothing); `None` when
/// the caller is not a test.
pub(crate) fn this_test() -> Option<ThreadId> {
    WATCHED.with(|w| {
        w.get_or_init(|| {
            let me = std::thread::current();
            let name = me.name().filter(|n| *n != "main")?.to_owned();
            registry().tests.insert(me.id(), (name, Instant::now()));
            Some(TestEnds(me.id()))
        })
        .as_ref()
        .map(|t| t.0)
    })
}

/// Held by a process's owner: dropping it forgets the process (`None`:
/// not watched).
pub(crate) struct Watch(Option<u64>);

/// Watches the calling test and a process of it: a host whose log is at
/// `log`, or (`None`) another the watchdog kills with the hosts.
pub(crate) fn watch(log: Option<PathBuf>) -> Watch {
    let Some(test) = this_test() else {
        return Watch(None);
    };
    let mut r = registry();
    r.next += 1;
    let key = r.next;
    r.hosts.insert(
        key,
        WatchedHost {
            test,
            log,
            pid: None,
        },
    );
    Watch(Some(key))
}

impl Watch {
    /// The host's process now (`None`: not running).
    pub(crate) fn set_pid(&self, pid: Option<u32>) {
        let Some(key) = self.0 else { return };
        if let Some(h) = registry().hosts.get_mut(&key) {
            h.pid = pid;
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(key) = self.0 {
            registry().hosts.remove(&key);
        }
    }
}

fn limit() -> Duration {
    let secs = std::env::var("WEFT_TEST_HANG_LIMIT_S")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(900);
    Duration::from_secs(secs)
}

fn patrol() {
    let limit = limit();
    loop {
        std::thread::sleep(Duration::from_secs(5));
        let r = registry();
        let hung: Vec<(&ThreadId, &String)> = r
            .tests
            .iter()
            .filter(|(_, (_, since))| since.elapsed() > limit)
            .map(|(id, (name, _))| (id, name))
            .collect();
        if hung.is_empty() {
            continue;
        }
        let mut err = std::io::stderr().lock();
        for (id, name) in &hung {
            let _ = writeln!(
                err,
                "\nHANG: the test {name} has run for over {} s (WEFT_TEST_HANG_LIMIT_S): it \
                 waits for something that will not come.",
                limit.as_secs(),
            );
            let logs = r.hosts.values().filter(|h| h.test == **id);
            for path in logs.filter_map(|h| h.log.as_ref()) {
                let log = std::fs::read_to_string(path).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(60)..].join("\n");
                let _ = writeln!(
                    err,
                    "The end of the log of its host {}:\n{tail}\n",
                    path.display()
                );
            }
        }
        for pid in r.hosts.values().filter_map(|h| h.pid) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        let _ = err.flush();
        std::process::exit(101);
    }
}
