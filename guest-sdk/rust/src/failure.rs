//! The failure a workflow or an activity reports, and the one it gets back.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A failure with a machine-readable `kind` and a message for people.
///
/// Any `std::error::Error` converts into one (kind `Error`), so `?` works on
/// ordinary results inside workflows and activities. The host's own failures
/// use the kinds `activity-not-found`, `activity-trap` and `timeout`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
    /// Set by an activity to tell the host not to retry it.
    #[serde(default)]
    pub non_retryable: bool,
    /// On an activity's failure as a workflow receives it: how many
    /// attempts ran, why no other follows, and the last attempt's own
    /// failure (histories recorded before contract 0.1.1 get it too, derived
    /// from their `activity_failed`). `None` on any other failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Box<ActivityFailureInfo>>,
}

/// Why an activity's retries stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryState {
    /// The retry policy's `maximum_attempts` ran and failed.
    MaximumAttemptsReached,
    /// The failure was non-retryable (flagged, or a kind the policy names).
    NonRetryable,
    /// A schedule-to-close or schedule-to-start timeout ended it.
    Timeout,
    /// The workflow cancelled it.
    Cancelled,
}

/// What a workflow learns of an activity's failure besides the failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActivityFailureInfo {
    /// Attempts that ran.
    pub attempts: u32,
    pub retry_state: RetryState,
    /// The last attempt's own failure: the failure itself, or for a timeout
    /// the one before it fired (if any); none for a cancellation.
    pub cause: Option<Failure>,
}

impl Failure {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Failure {
            kind: kind.into(),
            message: message.into(),
            details: None,
            non_retryable: false,
            activity: None,
        }
    }

    /// A failure the host does not retry.
    pub fn non_retryable(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Failure {
            non_retryable: true,
            ..Failure::new(kind, message)
        }
    }

    /// The failure of a cancelled operation (kind `cancelled`); returning it
    /// from a cancelled workflow ends it as cancelled.
    pub fn cancelled(what: impl std::fmt::Display) -> Self {
        Failure::non_retryable("cancelled", format!("{what} was cancelled"))
    }

    pub fn is_cancelled(&self) -> bool {
        self.kind == "cancelled"
    }

    pub fn with_details(mut self, details: impl Serialize) -> Self {
        self.details = serde_json::to_value(details).ok();
        self
    }

    pub(crate) fn details_bytes(&self) -> Option<Vec<u8>> {
        self.details
            .as_ref()
            .map(|d| serde_json::to_vec(d).unwrap_or_default())
    }

    #[cfg_attr(not(feature = "workflow"), allow(dead_code))]
    pub(crate) fn details_from_bytes(bytes: Option<Vec<u8>>) -> Option<serde_json::Value> {
        bytes.map(|b| {
            serde_json::from_slice(&b)
                .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&b).into()))
        })
    }

    /// An input that does not decode into the type the code expects; never retried.
    pub(crate) fn bad_input(what: &str, err: serde_json::Error) -> Self {
        Failure::non_retryable(
            "InvalidInput",
            format!("{what} is not the JSON expected: {err}"),
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

impl<E: std::error::Error> From<E> for Failure {
    fn from(err: E) -> Self {
        Failure::new("Error", err.to_string())
    }
}
