//! What keeps a browser from being turned against a host: another web page
//! posting to a tokenless loopback host, or a DNS-rebinding page (a name of
//! the attacker's that resolves to 127.0.0.1) reading or driving it. Every
//! response carries a strict Content-Security-Policy (the UI's own script
//! and style only, no framing); a loopback host answers only requests whose
//! `Host` names this machine; and a request that changes something is
//! refused when its `Origin` is not the host's own.

use std::net::SocketAddr;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: \
                   blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action \
                   'self'; frame-ancestors 'none'";

/// The address the host listens on (none in tests that call the router
/// directly: then `Host` is not checked).
#[derive(Debug, Clone, Default)]
pub struct Guard {
    pub listen: Option<SocketAddr>,
}

impl Guard {
    fn refuse(&self, req: &Request) -> Option<String> {
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        if let (Some(listen), Some(host)) = (self.listen, host) {
            if listen.ip().is_loopback() && !names_this_machine(host, listen) {
                return Some(format!(
                    "the request names host {host:?}, but this host listens on {listen} (loopback) \
                     and answers only to localhost, 127.0.0.1 or [::1]: a page that reached it \
                     through another name is refused"
                ));
            }
        }
        if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
            return None;
        }
        if req
            .headers()
            .get("sec-fetch-site")
            .is_some_and(|v| v == "cross-site")
        {
            return Some("a cross-site request cannot change anything on this host".into());
        }
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())?;
        let own = host.is_some_and(|h| {
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                .is_some_and(|o| o.eq_ignore_ascii_case(h))
        });
        (!own).then(|| {
            format!(
                "a request from origin {origin} cannot change anything on this host: only the \
                 host's own UI (and clients that send no Origin, such as the CLI) may"
            )
        })
    }
}

/// Whether `host` (a `Host` header: a name or address, maybe a port) names
/// this machine's loopback interface or the listen address itself.
fn names_this_machine(host: &str, listen: SocketAddr) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip == listen.ip())
}

pub async fn check(State(guard): State<Guard>, req: Request, next: Next) -> Response {
    let mut resp = match guard.refuse(&req) {
        Some(why) => ApiError::new(StatusCode::FORBIDDEN, "forbidden", why).into_response(),
        None => next.run(req).await,
    };
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass_and_others_do_not() {
        let listen: SocketAddr = "127.0.0.1:7700".parse().unwrap();
        for ok in [
            "localhost:7700",
            "127.0.0.1:7700",
            "[::1]:7700",
            "LOCALHOST",
            "127.0.0.1",
        ] {
            assert!(names_this_machine(ok, listen), "{ok}");
        }
        for bad in [
            "evil.example:7700",
            "evil.example",
            "10.0.0.1:7700",
            "localhost.evil:7700",
        ] {
            assert!(!names_this_machine(bad, listen), "{bad}");
        }
    }
}
