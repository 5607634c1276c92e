//! Signals, queries and updates.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::model::Failure;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalRequest {
    pub name: String,
    /// Any JSON (default null).
    #[serde(default)]
    #[schema(value_type = Value)]
    pub input: serde_json::Value,
    /// Makes a retry safe: the signal is recorded once in the execution
    /// (1-200 characters); sent again, it is answered with that record
    /// (`duplicate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalWithStartRequest {
    pub workflow_type: String,
    /// The execution to signal, started with `input` if it does not exist.
    pub id: String,
    #[serde(default)]
    #[schema(value_type = Value)]
    pub input: serde_json::Value,
    pub signal: String,
    #[serde(default)]
    #[schema(value_type = Value)]
    pub signal_input: serde_json::Value,
    /// Search attributes the execution starts with, if this starts it (as
    /// `POST /v1/executions` takes them).
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub search_attributes: Option<serde_json::Map<String, serde_json::Value>>,
    /// Memo fields it starts with, if this starts it.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub memo: Option<serde_json::Map<String, serde_json::Value>>,
    /// The signal's request id (see `SignalRequest`): a retry whose signal
    /// was recorded under the id (in any run, closed since or not) starts
    /// nothing and answers `duplicate`. Without it, a retry after the
    /// execution closed starts another run (the default reuse policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignalResponse {
    pub id: String,
    /// Index of the `signal_received` event that records it.
    pub event_index: u64,
    /// Whether signal-with-start started the execution.
    #[serde(default)]
    pub started: bool,
    /// Set when the workflow does not declare the signal's name: it is
    /// recorded all the same and kept until the code receives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The signal was recorded already, by an earlier send with its
    /// `request_id`: `event_index` is that record's, nothing new was.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueryRequest {
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Value)]
    pub input: serde_json::Value,
    /// Ask the workflow as it stood at this event of its current run (a
    /// replay in a fresh instance up to that event; nothing is written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_event: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueryResponse {
    #[schema(value_type = Value)]
    pub output: serde_json::Value,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRequestBody {
    pub name: String,
    #[serde(default)]
    #[schema(value_type = Value)]
    pub input: serde_json::Value,
    /// Makes a retried call safe: an update id is applied once.
    #[serde(default)]
    pub update_id: Option<String>,
    /// How long to wait for the result (default 30000, at most 300000).
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpdateResultQuery {
    #[serde(default)]
    pub wait: bool,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UpdateResponse {
    pub update_id: String,
    /// `accepted` (recorded, handler still running) or `completed`.
    pub status: String,
    #[schema(value_type = Option<Value>)]
    pub output: Option<serde_json::Value>,
    /// The handler's typed error, when it returned one.
    pub failure: Option<Failure>,
}

impl From<crate::engine::UpdateOutcome> for UpdateResponse {
    fn from(u: crate::engine::UpdateOutcome) -> Self {
        use crate::engine::UpdateStatus;
        let (status, output, failure) = match u.status {
            UpdateStatus::Accepted => ("accepted", None, None),
            UpdateStatus::Completed(Ok(p)) => ("completed", Some(p.to_json()), None),
            UpdateStatus::Completed(Err(f)) => ("completed", None, Some(f)),
        };
        Self {
            update_id: u.update_id,
            status: status.to_owned(),
            output,
            failure,
        }
    }
}
