//! Engine errors, split by what the caller does next: fix the request (the
//! 4xx kinds) or report a host failure (the store).

use crate::model::ModelError;
use crate::store::StoreError;
use crate::wasm::ModuleError;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    BadRequest(String),
    #[error(transparent)]
    InvalidInput(#[from] ModelError),
    #[error("no {what} named {name:?}{hint}")]
    NotFound {
        what: &'static str,
        name: String,
        hint: &'static str,
    },
    #[error("{0}")]
    Conflict(String),
    /// A payload over the configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// A signal, query or update name the workflow does not declare.
    #[error("{0}")]
    UnknownName(String),
    /// The workflow's validator rejected an update; nothing was recorded.
    #[error("the update was rejected: {0}")]
    Rejected(crate::model::Failure),
    /// The workflow could not answer in time.
    #[error("{0}")]
    Unavailable(String),
    #[error("invalid module: {0}")]
    InvalidModule(#[from] ModuleError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A refused write is a conflict with the execution's state: the message
/// says which (closed, moved, reset, a duplicate).
impl From<crate::store::OpError> for EngineError {
    fn from(e: crate::store::OpError) -> Self {
        Self::Conflict(e.to_string())
    }
}

impl EngineError {
    /// Refuses a request id (what makes a retried `what` safe) that is
    /// empty (an unset variable in a script would make every such request
    /// the first one's retry) or longer than `max` characters.
    pub(super) fn check_request_id(what: &str, id: Option<&str>, max: usize) -> Result<(), Self> {
        match id {
            Some(r) if r.is_empty() || r.len() > max => Err(Self::BadRequest(format!(
                "request_id: a {what}'s request id is 1 to {max} characters"
            ))),
            _ => Ok(()),
        }
    }

    pub(super) fn no_execution(id: impl ToString) -> Self {
        Self::NotFound {
            what: "execution",
            name: id.to_string(),
            hint: " (see `weft list`)",
        }
    }
}

/// Why the engine stopped a running guest from inside an import.
#[derive(Debug, thiserror::Error)]
pub(super) enum Stop {
    /// Idle and blocked: the instance is dropped and replayed when it wakes.
    #[error("evicted")]
    Evicted,
    /// The execution was moved to another module: load it again on that one.
    #[error("moved to another module")]
    Reload,
    /// A query handler or update validator did what they may not.
    #[error("{0}")]
    Request(String),
    /// The workflow asked to continue as new with this input.
    #[error("continue as new")]
    ContinueAsNew(crate::model::Payload),
    /// The run's history went over the configured limit.
    #[error("{0}")]
    HistoryLimit(String),
    /// A workflow task asked for more than the host allows (a command's
    /// input, the task's bytes, pending activities or children): it stalls
    /// and nothing of the task is recorded.
    #[error("{0}")]
    Limit(String),
    #[error(transparent)]
    Replay(#[from] super::replay::ReplayError),
    #[error("could not commit the workflow task: {0}")]
    Store(#[from] StoreError),
}
