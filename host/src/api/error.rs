//! Errors as the API reports them: bad input is a 4xx naming the problem;
//! internal failures are logged once and answered with a generic 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::engine::EngineError;
use crate::store::StoreError;

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `bad-request`, `not-found`, `conflict`, `payload-too-large`, `invalid-module` or `internal`.
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// A write refused because this host no longer holds what it wrote to
    /// (a partition given up or lost): nothing of that write was made
    /// (answered with [`LET_GO`], so that a host routing requests by
    /// partition may ask the next holder).
    let_go: bool,
}

/// The header of an answer whose write was refused because the partition
/// was given up or lost under it.
pub const LET_GO: &str = "x-weft-let-go";

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            let_go: false,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "bad-request",
            message: message.into(),
            let_go: false,
        }
    }

    pub fn payload_too_large(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            code: "payload-too-large",
            message: message.into(),
            let_go: false,
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "not-found",
            message: message.into(),
            let_go: false,
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let (status, code) = match &e {
            EngineError::BadRequest(_) | EngineError::InvalidInput(_) => {
                (StatusCode::BAD_REQUEST, "bad-request")
            }
            EngineError::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found"),
            EngineError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            EngineError::UnknownName(_) => (StatusCode::NOT_FOUND, "unknown-name"),
            EngineError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large"),
            EngineError::Rejected(_) => (StatusCode::UNPROCESSABLE_ENTITY, "update-rejected"),
            EngineError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            EngineError::InvalidModule(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-module"),
            // A database out of reach is a 503 (retry later); a disk that
            // refuses a write is a 507 (make room).
            EngineError::Store(StoreError::Io(reason)) if reason.contains("PostgreSQL") => {
                return Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "storage-unavailable",
                    message: format!(
                        "the host's store is unavailable ({reason}); nothing was changed. \
                         Retry once the database answers (and no other host holds it): the \
                         host resumes its executions by itself"
                    ),
                    let_go: false,
                };
            }
            EngineError::Store(StoreError::GivenUp) => {
                return Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "storage-unavailable",
                    message: "this host gave this part of the store up while the request was \
                              under way (it is stopping, or handed the partition over); nothing \
                              was changed. Retry: the next host to hold it answers"
                        .into(),
                    let_go: true,
                };
            }
            EngineError::Store(StoreError::Fenced(reason)) => {
                return Self {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "storage-unavailable",
                    message: format!(
                        "this host no longer holds the store ({reason}); nothing was changed. \
                         Retry: another host holds it now and answers"
                    ),
                    let_go: true,
                };
            }
            EngineError::Store(StoreError::Io(reason)) => {
                return Self {
                    status: StatusCode::INSUFFICIENT_STORAGE,
                    code: "storage-unavailable",
                    message: format!(
                        "the host's store refused the operation ({reason}); nothing was \
                         changed. Free space on the disk of the data directory (or mend the \
                         disk) and retry: the host resumes its executions by itself"
                    ),
                    let_go: false,
                };
            }
            EngineError::Store(inner) => {
                tracing::error!(error = %inner, "store failure while serving a request");
                return Self {
                    status: StatusCode::INTERNAL_SERVER_ERROR,
                    code: "internal",
                    message: "internal error: the host could not read or write its store (see the host log)".into(),
                    let_go: false,
                };
            }
        };
        Self {
            status,
            code,
            message: e.to_string(),
            let_go: false,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if self.let_go {
            resp.headers_mut()
                .insert(LET_GO, axum::http::HeaderValue::from_static("1"));
        }
        resp
    }
}

/// Turns an extractor's rejection (malformed JSON, a bad query string, a body
/// over the limit) into our error shape.
pub fn rejection(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(format!("{text}: the request body is over the host's limit"))
    } else {
        ApiError::bad_request(text)
    }
}
