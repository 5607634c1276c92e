//! Domain types shared by every module: ids, payloads, events, executions.
//! Plain data with serde; no I/O, no wasmtime, no redb.

pub mod duration;
mod event;
mod execution;
mod ids;
mod payload;
pub mod schedule;
pub mod search;

pub use event::{
    child_cancellation, children_asked_to_cancel, ever_asked_to_cancel, owed_policies,
    pending_children, run_module, started_children, ActivityFailureInfo, ActivityOptions,
    AttemptEnd, Event, EventKind, Failure, HistoryExport, RetryPolicy, RetryState,
};
pub use execution::{
    AttemptState, CancellationType, DirDoor, Doors, ExecutionRecord, ExecutionStatus,
    IdReusePolicy, ModuleKind, ModuleMeta, ParentClosePolicy, ParentLink, WorkflowVersion,
    EXECUTION_DEADLINE, RUN_DEADLINE,
};
pub use ids::{ExecutionId, ModuleHash, TypeName};
pub use payload::Payload;

/// A string from outside did not parse into a domain type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("invalid execution id {0:?}: use 1-200 ASCII letters, digits, '-', '_', '.' or ':'")]
    InvalidExecutionId(String),
    #[error("invalid module hash {0:?}: expected 64 hex digits (sha-256)")]
    InvalidModuleHash(String),
    #[error("invalid workflow type name {0:?}: use 1-100 ASCII letters, digits, '-', '_' or '.'")]
    InvalidTypeName(String),
    #[error(
        "invalid status {0:?}: expected running, stalled, completed, failed, cancelled or terminated"
    )]
    InvalidStatus(String),
}
