//! Outgoing HTTP for activity components (`wasi:http`), only to the hosts
//! opened for the component at deploy; everything else is refused with
//! `HTTP-request-denied` inside the activity.

use std::future::Future;

use wasmtime_wasi_http::{Error, RequestOptions, Result, WasiHttpHooks};

type Body = wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The hosts an activity component may call, as `host` or `host:port`.
pub(super) struct HttpGate {
    pub allowed: Vec<String>,
}

impl HttpGate {
    fn allows(&self, uri: &http::Uri) -> bool {
        let host = uri.host().unwrap_or_default();
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        self.allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(host) || a.eq_ignore_ascii_case(authority))
    }
}

type Sent = Box<
    dyn Future<
            Output = Result<(
                http::Response<Body>,
                Box<dyn Future<Output = Result<(), Error>> + Send>,
            )>,
        > + Send,
>;

impl WasiHttpHooks for HttpGate {
    fn send_request(
        &mut self,
        request: http::Request<Body>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Sent {
        if self.allows(request.uri()) {
            return wasmtime_wasi_http::default_hooks().send_request(request, options, fut);
        }
        tracing::info!(uri = %request.uri(), "outgoing HTTP refused: the host was not opened for this component");
        Box::new(async { Err(Error::HttpRequestDenied) })
    }
}
