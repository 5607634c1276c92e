//! Named pause points, for tests that force a race instead of hoping for
//! one. A host started with `WEFT_PAUSE_AT=name[,name...]` stops at each
//! named point it reaches: it logs `paused at NAME` and waits until a file
//! named `NAME` exists in `WEFT_PAUSE_DIR` (never, when that is unset), so a
//! test can SIGKILL it there, or act and then release it. `NAME#K` pauses
//! only the K-th arrival there (counting from 1), so that two requests on
//! one path can be held at different steps. Without the variable a point
//! costs one check of a set read once at start.
//!
//! Fail points, for a failure no real part can give on cue (a store write
//! refused by the disk at one exact step): a host started with
//! `WEFT_FAIL_AT=name[,name...]` fails the first arrival at each named
//! point (logging `failing at NAME`); later arrivals pass.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

struct Points {
    names: HashSet<String>,
    release_dir: Option<PathBuf>,
    /// Arrivals so far at each point named with an arrival (`NAME#K`).
    arrivals: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

/// The names in environment variable `var` (comma-separated).
fn names(var: &str) -> HashSet<String> {
    std::env::var(var)
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn points() -> &'static Option<Points> {
    static POINTS: OnceLock<Option<Points>> = OnceLock::new();
    POINTS.get_or_init(|| {
        let names = names("WEFT_PAUSE_AT");
        (!names.is_empty()).then(|| Points {
            names,
            release_dir: std::env::var_os("WEFT_PAUSE_DIR").map(PathBuf::from),
            arrivals: Default::default(),
        })
    })
}

/// Whether the host was asked to pause at `name` (logged when it was).
fn armed(name: &str) -> bool {
    let armed = points().as_ref().is_some_and(|p| {
        p.names.contains(name) || {
            let prefix = format!("{name}#");
            p.names.iter().any(|n| n.starts_with(&prefix)) && {
                let mut arrivals = p.arrivals.lock().unwrap_or_else(|e| e.into_inner());
                let k = arrivals.entry(name.to_owned()).or_default();
                *k += 1;
                p.names.contains(&format!("{prefix}{k}"))
            }
        }
    });
    if armed {
        tracing::warn!(target: "weft::pause", "paused at {name}");
    }
    armed
}

/// Whether the test released `name` (logged when it did).
fn released(name: &str) -> bool {
    let released = points()
        .as_ref()
        .and_then(|p| p.release_dir.as_ref())
        .is_some_and(|dir| dir.join(name).exists());
    if released {
        tracing::warn!(target: "weft::pause", "released at {name}");
    }
    released
}

/// Stops here if the host was asked to pause at `name`.
pub async fn point(name: &str) {
    if armed(name) {
        while !released(name) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// [`point`] for a thread outside the runtime (the group committer).
pub fn point_blocking(name: &str) {
    if armed(name) {
        while !released(name) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Whether this arrival at fail point `name` fails: the first one does when
/// the host was started with `name` in `WEFT_FAIL_AT`.
pub fn fails(name: &str) -> bool {
    static ARMED: OnceLock<Option<std::sync::Mutex<HashSet<String>>>> = OnceLock::new();
    let armed = ARMED.get_or_init(|| {
        let names = names("WEFT_FAIL_AT");
        (!names.is_empty()).then(|| std::sync::Mutex::new(names))
    });
    let Some(armed) = armed else {
        return false;
    };
    if !armed.lock().unwrap_or_else(|p| p.into_inner()).remove(name) {
        return false;
    }
    tracing::warn!(target: "weft::pause", "failing at {name}");
    true
}
