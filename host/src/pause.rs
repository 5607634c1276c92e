//! Named pause points, for tests that force a race instead of hoping for
//! one. A host started with `WEFT_PAUSE_AT=name[,name...]` stops at each
//! named point it reaches: it logs `paused at NAME` and waits until a file
//! named `NAME` exists in `WEFT_PAUSE_DIR` (never, when that is unset), so a
//! test can SIGKILL it there, or act and then release it. Without the
//! variable a point costs one check of a set read once at start.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

struct Points {
    names: HashSet<String>,
    release_dir: Option<PathBuf>,
}

fn points() -> &'static Option<Points> {
    static POINTS: OnceLock<Option<Points>> = OnceLock::new();
    POINTS.get_or_init(|| {
        let names: HashSet<String> = std::env::var("WEFT_PAUSE_AT")
            .ok()?
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        (!names.is_empty()).then(|| Points {
            names,
            release_dir: std::env::var_os("WEFT_PAUSE_DIR").map(PathBuf::from),
        })
    })
}

/// Whether the host was asked to pause at `name` (logged when it was).
fn armed(name: &str) -> bool {
    let armed = points().as_ref().is_some_and(|p| p.names.contains(name));
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
