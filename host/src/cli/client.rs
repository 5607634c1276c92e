//! A small client of the HTTP API: every command but `server`, `dev` and
//! `replay` goes through it.

use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub struct Client {
    base: String,
    http: reqwest::Client,
    /// Whether it presents a client certificate (`--client-cert`).
    presents: bool,
    /// How long a request waits for its answer (`--timeout`; `None`: as
    /// long as it takes).
    timeout: Option<Duration>,
}

/// How long a connection is waited for, at most (an address nobody
/// answers at, a host whose machine is off).
const CONNECT_LIMIT: Duration = Duration::from_secs(10);

impl Client {
    pub fn new(
        server: &str,
        token: Option<&str>,
        tls: crate::api::tls::ClientTls<'_>,
        timeout: Option<Duration>,
    ) -> Result<Self> {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(t) = token.filter(|t| !t.is_empty()) {
            if let Ok(v) = reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")) {
                headers.insert(reqwest::header::AUTHORIZATION, v);
            }
        }
        // `localhost:7811` means the host there, over HTTP.
        let base = match server.contains("://") {
            true => server.trim_end_matches('/').to_owned(),
            false => format!("http://{}", server.trim_end_matches('/')),
        };
        let mut builder = crate::api::tls::client_builder(tls)?.default_headers(headers);
        if let Some(limit) = timeout {
            builder = builder
                .timeout(limit)
                .connect_timeout(limit.min(CONNECT_LIMIT));
        }
        Ok(Self {
            presents: tls.cert.is_some(),
            base,
            http: builder.build().context("cannot build the HTTP client")?,
            timeout,
        })
    }

    /// Sends a request, naming the host when it cannot be reached.
    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        req.send().await.map_err(|e| self.unreachable(e))
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        decode(self.send(self.http.get(self.url(path))).await?).await
    }

    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        decode(self.send(self.http.post(self.url(path)).json(body)).await?).await
    }

    /// POSTs JSON to a route whose answer may have no body (hosts of
    /// releases before 2026-12-03 answered a cancel or a terminate so):
    /// `None` then.
    pub async fn post_json_or_empty<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Option<T>> {
        let resp = self.send(self.http.post(self.url(path)).json(body)).await?;
        if !resp.status().is_success() {
            return decode(resp).await.map(Some);
        }
        let bytes = resp.bytes().await.context("reading the host's answer")?;
        if bytes.is_empty() {
            return Ok(None);
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .context("the host answered with unexpected JSON")
    }

    /// DELETEs a resource (a route that answers with no body).
    pub async fn delete(&self, path: &str) -> Result<()> {
        let resp = self.send(self.http.delete(self.url(path))).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        decode::<serde_json::Value>(resp).await.map(|_| ())
    }

    pub async fn put_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        decode(self.send(self.http.put(self.url(path)).json(body)).await?).await
    }

    pub async fn post_bytes<T: DeserializeOwned>(&self, path: &str, bytes: Vec<u8>) -> Result<T> {
        let req = self
            .http
            .post(self.url(path))
            .header("content-type", "application/wasm")
            .body(bytes);
        decode(self.send(req).await?).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn unreachable(&self, e: reqwest::Error) -> anyhow::Error {
        if let (true, Some(limit)) = (e.is_timeout(), self.timeout) {
            let (what, waited) = match e.is_connect() {
                true => ("took no connection", limit.min(CONNECT_LIMIT)),
                false => ("did not answer", limit),
            };
            return anyhow!(
                "the weft host at {} {what} within {} (--timeout, WEFT_TIMEOUT): it may be \
                 paused, overloaded or cut off from its store, or the address may be wrong. A \
                 request that changes something may or may not have taken effect: look (`weft \
                 describe`, `weft list`) before you send it again, or send it again with the \
                 same --request-id (a start with the same --id)",
                self.base,
                shown(waited)
            );
        }
        if let Some(why) = crate::api::tls::client_refusal(&e) {
            return anyhow!("cannot talk to the weft host at {}: {why}", self.base);
        }
        // The causes too: "error sending request" alone says nothing.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        // Over TLS 1.3 a host's refusal of a client certificate may come
        // after the handshake looked done: the connection just closes.
        if self.presents && self.base.starts_with("https://") && e.is_request() && !e.is_connect() {
            return anyhow!(
                "cannot talk to the weft host at {}: {text}\n(it closed the connection: if it \
                 asks for client certificates, it may have refused this one; give one signed \
                 by an authority of its --client-ca)",
                self.base
            );
        }
        // The same refusal of a client that presents none: the alert that
        // says so reaches the client only when its request was on the way,
        // else the connection is found closed before the request is sent.
        if !self.presents && self.base.starts_with("https://") && e.is_request() && !e.is_connect()
        {
            return anyhow!(
                "cannot talk to the weft host at {}: {text}\n(it closed the connection: if it \
                 asks for a client certificate, pass --client-cert and --client-key, or set \
                 WEFT_CLIENT_CERT and WEFT_CLIENT_KEY, with one signed by an authority of its \
                 --client-ca)",
                self.base
            );
        }
        anyhow!(
            "cannot reach the weft host at {}: {text}\n(start one with `weft server`, or point --server / WEFT_SERVER at it)",
            self.base
        )
    }
}

/// A wait as `--timeout` takes it: `90s`, `1.5s`, `10m`.
fn shown(d: Duration) -> String {
    match d.as_millis() {
        ms if ms % 60_000 == 0 => format!("{}m", ms / 60_000),
        ms if ms % 1_000 == 0 => format!("{}s", ms / 1_000),
        ms => format!("{}s", ms as f64 / 1_000.0),
    }
}

/// Turns an error answer into its message, so the user reads what the host said.
async fn decode<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T> {
    let status = resp.status();
    let bytes = resp.bytes().await.context("reading the host's answer")?;
    if !status.is_success() {
        let message = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(&bytes).trim_end().to_owned());
        return Err(anyhow!("{message} (HTTP {})", status.as_u16()));
    }
    serde_json::from_slice(&bytes)
        .with_context(|| format!("the host answered with unexpected JSON (HTTP {status})"))
}

/// Percent-encodes a path segment or query value.
pub fn enc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
