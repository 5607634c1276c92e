//! Write weft workflows and activities in Rust.
//!
//! A crate is one component: enable the `workflow` feature and implement
//! [`workflow::Workflow`], or enable the `activity` feature and list plain
//! functions with [`export_activities!`]. Build it with
//! `cargo build --target wasm32-wasip2 --release` and deploy the `.wasm` with
//! `weft deploy`.
//!
//! Payloads cross the component boundary as JSON, so the CLI, the HTTP API and
//! guests in other languages all read them.

mod failure;

pub use failure::{ActivityFailureInfo, Failure, RetryState};
/// The JSON library payloads go through, for untyped values
/// (`weft_sdk::serde_json::Value`, `weft_sdk::serde_json::json!`) without a
/// dependency of the workflow's own.
pub use serde_json;
#[doc(hidden)]
pub use serde_json as __json;

#[cfg(feature = "activity")]
pub mod activity;
#[cfg(feature = "workflow")]
pub mod workflow;

/// Everything a workflow needs: `use weft_sdk::prelude::*;`.
#[cfg(feature = "workflow")]
pub mod prelude {
    pub use crate::failure::Failure;
    pub use crate::workflow::{
        ActivityOptions, CancellationType, ChildOptions, Choose, Ctx, Handlers, IdReusePolicy,
        LogLevel, ParentClosePolicy, Pending, QueryHandler, RetryPolicy, Saga, SearchValue,
        Selectable, SignalChannel, Workflow, WorkflowInfo,
    };
    pub use serde::{Deserialize, Serialize};
    pub use std::time::Duration;
}
