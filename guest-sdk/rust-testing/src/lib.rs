//! A test environment for weft workflows, for `cargo test`.
//!
//! Each [`TestEnv`] starts its own `weft` host (`WEFT_BIN`, else `weft` on
//! PATH) on a temporary directory with the manual clock, deploys the
//! components under test, serves activities with mocks written as Rust
//! closures, and skips time: a month of workflow time takes milliseconds.
//! Tests running in parallel each have their own host and their own clock.
//!
//! ```no_run
//! use std::time::Duration;
//! use weft_testing::{json, MockFailure, TestEnv};
//!
//! let env = TestEnv::builder()
//!     .module_as("target/guests/subscription.wasm", "subscription")
//!     .mock("charge", |_ctx, req| Ok(json!({"id": "inv-1", "amount_cents": req["amount_cents"]})))
//!     .start()
//!     .unwrap();
//! let id = env.start("subscription", json!({"customer": "ada", "plan": "basic"})).unwrap();
//! env.signal(&id, "change-plan", json!("pro")).unwrap();
//! env.skip(Duration::from_secs(30 * 86_400)).unwrap(); // a month
//! assert_eq!(env.query(&id, "status", json!(null)).unwrap()["plan"], "pro");
//! # let _ = MockFailure::retryable("k", "m");
//! ```
//!
//! - Mocks run on a private task queue that the host routes their activity
//!   names to (`weft server --route-activity NAME=QUEUE`): the component
//!   under test is the one you ship, unchanged.
//! - [`TestEnv::skip`] moves time timer by timer and returns once the host
//!   is idle; [`TestEnv::result`] skips to each next timer while the host is
//!   idle. Time never skips while an activity attempt (a mock included) or a
//!   workflow task runs.
//! - [`replay`] checks a history (or a directory of them) against a
//!   component, as `weft replay` does, and fails with each divergence.

mod env;
mod http;
mod mock;
mod tools;

pub use env::{Builder, TestEnv};
pub use mock::{MockCtx, MockFailure};
pub use serde_json::{json, Value};
pub use tools::{build_component, replay, weft_bin};

/// The `weft:workflow` contract this environment speaks.
pub const CONTRACT: &str = "0.1.3";

/// The task queue the mocks poll.
pub const MOCK_QUEUE: &str = "weft-test-mocks";

/// What went wrong in a test environment.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("{0}")]
    Setup(String),
    #[error("the host answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("the update was rejected: {0}")]
    UpdateRejected(String),
    #[error("execution {id} ended {status}: {reason}")]
    Failed {
        id: String,
        status: String,
        reason: String,
        /// The failure as the host reports it (`kind`, `message`, ...).
        failure: Value,
    },
    #[error("{0}")]
    Timeout(String),
    #[error("cannot reach the host: {0}")]
    Http(#[from] reqwest::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = TestError> = std::result::Result<T, E>;
