//! API tokens: every route but `/healthz` needs one once the host is given
//! any. The main token opens everything; a deploy token only what changes
//! code (module uploads, the current version, upgrades); a control token
//! everything else (executions, signals, workers, reads); a read token only
//! what changes nothing (reads and queries). The UI's page, script and style
//! need none: the UI asks for a token and sends it with its API calls.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error::ApiError;

#[derive(Debug, Clone, Default)]
pub struct Access {
    pub token: Option<String>,
    pub deploy_token: Option<String>,
    pub control_token: Option<String>,
    pub read_token: Option<String>,
}

impl Access {
    pub fn is_open(&self) -> bool {
        self.token.is_none()
            && self.deploy_token.is_none()
            && self.control_token.is_none()
            && self.read_token.is_none()
    }

    fn allows(&self, method: &Method, path: &str, given: Option<&str>) -> bool {
        let Some(given) = given else {
            return false;
        };
        let matches = |t: &Option<String>| t.as_deref().is_some_and(|t| constant_eq(t, given));
        if matches(&self.token) {
            return true;
        }
        if reads(method, path) && matches(&self.read_token) {
            return true;
        }
        let deploys = ((path == "/v1/modules" || path == "/v1/modules/prune")
            && method == Method::POST)
            || (path.starts_with("/v1/workflow-types/")
                && (path.ends_with("/current")
                    || path.ends_with("/upgrade")
                    || path.ends_with("/retention")));
        if deploys {
            matches(&self.deploy_token)
        } else {
            matches(&self.control_token)
        }
    }
}

/// Whether a request only reads (what `--read-token` lets in): a GET or
/// HEAD, or a query of an execution.
pub(super) fn reads(method: &Method, path: &str) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
        || (method == Method::POST
            && path.starts_with("/v1/executions/")
            && path.ends_with("/queries"))
}

/// Compares without stopping at the first differing byte.
fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Which of the host's tokens `given` is, if any.
fn kind_of(access: &Access, given: &str) -> Option<&'static str> {
    let is = |t: &Option<String>| t.as_deref().is_some_and(|t| constant_eq(t, given));
    if is(&access.token) {
        Some("the main token")
    } else if is(&access.deploy_token) {
        Some("a deploy token: it opens module uploads and version changes only")
    } else if is(&access.control_token) {
        Some("a control token: it opens everything but module uploads and version changes")
    } else if is(&access.read_token) {
        Some("a read token: it opens reads and queries only")
    } else {
        None
    }
}

pub async fn check(State(access): State<Access>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    let open_path = path == "/healthz" || path == "/" || path.starts_with("/ui/");
    if access.is_open() || open_path {
        return next.run(req).await;
    }
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if access.allows(req.method(), req.uri().path(), given) {
        return next.run(req).await;
    }
    // A token the host knows that does not open this route is forbidden,
    // not unknown: say which kind it is.
    if let Some(kind) = given.and_then(|g| kind_of(&access, g)) {
        return axum::response::IntoResponse::into_response(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this token does not open {} {}: it is {kind}",
                req.method(),
                req.uri().path()
            ),
        ));
    }
    let message = if given.is_none() {
        "this host requires an API token: send `Authorization: Bearer TOKEN` (the CLI takes \
         --token or WEFT_TOKEN)"
    } else {
        "the API token is wrong: it is none of this host's tokens"
    };
    axum::response::IntoResponse::into_response(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        message,
    ))
}
