//! WASI as a guest sees it. Workflows get a deterministic WASI: clocks answer
//! workflow time, randomness comes from the run's seed, stdout and stderr are
//! captured (the engine turns them into logs that replays do not repeat), and
//! there is no filesystem, network or environment. Random numbers, the
//! monotonic clock and `wasi:io/poll` of a workflow are served by
//! `workflow/deterministic.rs`, linked over wasmtime-wasi's. Activities get
//! ordinary WASI with nothing opened and captured output.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder};

use crate::model::Doors;

/// Workflow time in ms since the Unix epoch, shared between the store's data
/// (which moves it at each `wait`) and the WASI clocks.
#[derive(Clone, Default)]
pub struct WorkflowClock(Arc<AtomicU64>);

impl WorkflowClock {
    pub fn set_ms(&self, ms: u64) {
        self.0.store(ms, Ordering::Relaxed);
    }
    fn ms(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
    /// Workflow time in ns, the unit of WASI's monotonic clock.
    pub fn now_ns(&self) -> u64 {
        self.ms().saturating_mul(1_000_000)
    }
}

impl HostWallClock for WorkflowClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        Duration::from_millis(self.ms())
    }
}

impl HostMonotonicClock for WorkflowClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        self.now_ns()
    }
}

/// Collects a guest's stdout/stderr up to a cap; the rest is dropped and
/// counted, so a log flood cannot exhaust host memory.
#[derive(Clone)]
pub struct Capture {
    inner: Arc<Mutex<CaptureBuf>>,
}

struct CaptureBuf {
    bytes: Vec<u8>,
    dropped: usize,
    cap: usize,
}

impl Capture {
    pub fn new(cap: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(CaptureBuf {
                bytes: Vec::new(),
                dropped: 0,
                cap,
            })),
        }
    }

    /// Takes the complete lines written so far (and any partial line when
    /// `all`), plus a note when output was dropped.
    pub fn drain_lines(&self, all: bool) -> Vec<String> {
        let mut buf = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let cut = if all {
            buf.bytes.len()
        } else {
            buf.bytes
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1)
        };
        let taken: Vec<u8> = buf.bytes.drain(..cut).collect();
        let mut lines: Vec<String> = String::from_utf8_lossy(&taken)
            .lines()
            .map(str::to_owned)
            .collect();
        if buf.dropped > 0 {
            lines.push(format!(
                "[weft: {} bytes of output dropped over the {} byte limit]",
                buf.dropped, buf.cap
            ));
            buf.dropped = 0;
        }
        lines
    }

    /// The last lines written so far, left in place (to say why a guest
    /// failed; the log still gets them all).
    pub fn tail_lines(&self) -> Vec<String> {
        let buf = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let lines: Vec<String> = String::from_utf8_lossy(&buf.bytes)
            .lines()
            .map(str::to_owned)
            .collect();
        lines[lines.len().saturating_sub(20)..].to_vec()
    }

    fn write(&self, data: &[u8]) {
        let mut buf = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let room = buf.cap.saturating_sub(buf.bytes.len());
        let take = room.min(data.len());
        buf.bytes.extend_from_slice(&data[..take]);
        buf.dropped += data.len() - take;
    }
}

impl IsTerminal for Capture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Capture {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for Capture {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.write(data);
        Poll::Ready(Ok(data.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The deterministic WASI context of one workflow run. Its random generators
/// are never reached: the workflow linker serves `wasi:random` from the run's
/// pinned streams (`crate::wasm::random`), which requests cannot move.
pub fn workflow_ctx(clock: &WorkflowClock, output: &Capture) -> WasiCtx {
    let mut b = WasiCtxBuilder::new();
    b.wall_clock(clock.clone())
        .monotonic_clock(clock.clone())
        .stdout(output.clone())
        .stderr(output.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    b.build()
}

/// The WASI context of one activity attempt: real clocks and randomness,
/// nothing opened, output captured.
/// An activity's WASI: its output captured, no network, and only the
/// environment and directories opened for its component.
pub fn activity_ctx(output: &Capture, doors: &Doors) -> Result<WasiCtx, String> {
    let mut b = WasiCtxBuilder::new();
    b.stdout(output.clone())
        .stderr(output.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false);
    for kv in &doors.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
        b.env(k, v);
    }
    for d in &doors.dirs {
        let perms = if d.read_only {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        b.preopened_dir(&d.host, &d.guest, perms)
            .map_err(|e| format!("cannot open directory {} for the activity: {e}", d.host))?;
    }
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_caps_and_splits_lines() {
        let c = Capture::new(10);
        c.write(b"ab\ncd");
        assert_eq!(c.drain_lines(false), vec!["ab".to_string()]);
        c.write(b"0123456789");
        let lines = c.drain_lines(true);
        assert_eq!(lines[0], "cd01234567");
        assert!(lines[1].contains("dropped"));
    }
}
