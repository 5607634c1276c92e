//! The web UI: a page and its script and style, compiled into the binary and
//! served at `/` (so it works offline, on a fresh machine). It is a client
//! of the API under `/v1` and shows nothing the API cannot give: no template
//! renders workflow data on the server, and the script puts every value a
//! workflow controls on the page as text (`textContent`), never as HTML.
//! The responses' Content-Security-Policy (see `api::guard`) allows only
//! these files' script and style.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("index.html");
const APP: &str = include_str!("app.js");
const STYLE: &str = include_str!("style.css");

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// `/`, `/ui/app.js` and `/ui/style.css`.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP) }),
        )
        .route(
            "/ui/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}
