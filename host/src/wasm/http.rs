//! Outgoing HTTP for activity components (`wasi:http`), only to the hosts
//! opened for the component at deploy; everything else is refused with
//! `HTTP-request-denied` inside the activity. A request is held while the
//! host may not act (see [`MayAct`]).

use std::future::Future;

use wasmtime_wasi_http::{Error, RequestOptions, Result, WasiHttpHooks};

type Body = wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// How often a held request asks again whether the host may act.
const HOLD_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Whether the host may act on the world now: `Err(why)` while it cannot
/// confirm that it still runs the attempt's execution (on a shared store,
/// a host paused or cut off past its lease, whose work another host may be
/// doing already).
pub type MayAct = std::sync::Arc<dyn Fn() -> std::result::Result<(), String> + Send + Sync>;

/// The hosts an activity component may call, as `host` or `host:port`,
/// and whether the host may call out now (set for each attempt).
pub(super) struct HttpGate {
    pub allowed: Vec<String>,
    pub may_act: Option<MayAct>,
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
            let may_act = self.may_act.clone();
            let uri = request.uri().clone();
            let send = wasmtime_wasi_http::default_hooks().send_request(request, options, fut);
            // Asked as the request goes out, not when the attempt began: a
            // host paused mid-attempt past its lease resumes here. It
            // holds the request until the host may act again (a renewal
            // confirmed its hold: nobody took its work over), or for good
            // (it lost its store, and stops).
            return Box::new(async move {
                crate::pause::point("activity-http").await;
                if let Some(may) = may_act {
                    let mut said = false;
                    while let Err(why) = may() {
                        if !said {
                            tracing::warn!(%uri, reason = why, "outgoing HTTP held: this host may not act now");
                            said = true;
                        }
                        tokio::time::sleep(HOLD_POLL).await;
                    }
                    if said {
                        tracing::info!(%uri, "outgoing HTTP goes out: this host may act again");
                    }
                }
                Box::into_pin(send).await
            });
        }
        tracing::info!(uri = %request.uri(), "outgoing HTTP refused: the host was not opened for this component");
        Box::new(async { Err(Error::HttpRequestDenied) })
    }
}
