//! Waits on the processes a test runs, each with a bound: a host's first
//! line, a CLI command, a `weft server` expected to be refused. One that
//! passes its bound fails the test, saying what it waited for, instead of
//! hanging the run (the watchdog catches what is left, see `watchdog.rs`).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use super::watchdog;

/// The longest a host may take to say where it listens (opening its store,
/// on PostgreSQL creating and migrating it, waiting for its host id's
/// earlier process to end).
pub const START_LIMIT: Duration = Duration::from_secs(180);

/// The first line `child` writes to its piped stdout (taken), if it writes
/// one within `limit`; "" if it closes it first.
pub fn first_line(child: &mut Child, limit: Duration) -> Option<String> {
    let stdout = child.stdout.take().expect("a piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    rx.recv_timeout(limit).ok()
}

/// The longest a `weft server` a test expects to be refused may run: one
/// that starts instead fails the test rather than running on.
pub const REFUSAL_LIMIT: Duration = Duration::from_secs(120);

/// The longest a CLI command of a test may take: the longest wait a host
/// answers within (an update's, 300 s) and a margin. The CLI itself waits
/// as long as it is told to (`start --wait` while the run goes on): a test
/// whose execution never ends fails here instead of hanging.
pub const CLI_LIMIT: Duration = Duration::from_secs(360);

/// [`Command::output`], ending the command and failing the test if it has
/// not exited within `limit`.
pub fn output_within(cmd: &mut Command, limit: Duration) -> Output {
    watchdog::this_test();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    let drain = |mut from: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = from.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let Some(status) = exited_within(&mut child, limit) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{cmd:?} did not end within {limit:?}: it waits for something that will not come. \
             It printed:\n{}{}",
            String::from_utf8_lossy(&stdout.join().unwrap_or_default()),
            String::from_utf8_lossy(&stderr.join().unwrap_or_default())
        );
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// `child`'s exit status if it exits within `limit` (it is reaped), else
/// `None` (it runs on).
pub fn exited_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("a child's status") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
