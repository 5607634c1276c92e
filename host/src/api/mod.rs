//! The HTTP+JSON API under `/v1` (axum), and its OpenAPI document generated
//! from the handlers' annotations. Every CLI command is a client of it.

mod auth;
mod clock;
mod cluster;
pub mod dto;
mod error;
mod executions;
mod extract;
mod guard;
mod interact;
mod modules;
mod partitions;
mod schedules;
mod tasks;
pub mod tls;
mod versions;

use std::future::Future;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use utoipa::OpenApi;

pub use auth::Access;
pub use cluster::{front, EngineSlot};
pub use error::{ErrorBody, ErrorDetail};
pub use guard::Guard;
pub use partitions::{front as partitioned_front, Engines, Partitioned};

use crate::engine::Engine;

/// Largest JSON request body.
const MAX_JSON_BYTES: usize = 4 << 20;
/// Largest module upload.
const MAX_MODULE_BYTES: usize = 100 << 20;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "weft",
        description = "A durable workflow host for WebAssembly components."
    ),
    paths(
        modules::deploy,
        modules::list,
        modules::describe,
        modules::workflow_types,
        modules::prune,
        modules::set_retention,
        executions::delete,
        executions::logs,
        versions::list,
        versions::set_current,
        versions::upgrade,
        executions::start,
        executions::list,
        executions::search_attributes,
        executions::count,
        executions::create_search_attribute,
        executions::remove_search_attribute,
        executions::describe,
        executions::result,
        executions::history,
        executions::reset,
        executions::cancel,
        executions::terminate,
        interact::signal,
        tasks::poll,
        tasks::list,
        tasks::heartbeat,
        tasks::complete,
        tasks::fail,
        interact::signal_with_start,
        interact::query,
        interact::update,
        interact::update_result,
        clock::get,
        clock::advance,
        clock::skip,
        cluster::get_view,
        schedules::create,
        schedules::list,
        schedules::describe,
        schedules::update,
        schedules::delete,
        schedules::pause,
        schedules::unpause,
        schedules::trigger,
        schedules::backfill,
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

pub fn router(engine: Engine, access: Access, guard: Guard) -> Router {
    let modules = Router::new()
        .route("/v1/modules", post(modules::deploy).get(modules::list))
        .route("/v1/modules/prune", post(modules::prune))
        .route("/v1/modules/{hash}", get(modules::describe))
        .layer(DefaultBodyLimit::max(MAX_MODULE_BYTES));
    Router::new()
        .route("/healthz", get(health))
        .route("/metrics", get(metrics))
        .route(
            "/v1/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
        .route("/v1/workflow-types", get(modules::workflow_types))
        .route("/v1/workflow-types/{name}/versions", get(versions::list))
        .route(
            "/v1/workflow-types/{name}/current",
            put(versions::set_current),
        )
        .route("/v1/workflow-types/{name}/upgrade", post(versions::upgrade))
        .route(
            "/v1/workflow-types/{name}/retention",
            put(modules::set_retention),
        )
        .route(
            "/v1/executions",
            post(executions::start).get(executions::list),
        )
        .route("/v1/execution-count", get(executions::count))
        .route(
            "/v1/search-attributes",
            get(executions::search_attributes).post(executions::create_search_attribute),
        )
        .route(
            "/v1/search-attributes/{name}",
            axum::routing::delete(executions::remove_search_attribute),
        )
        .route(
            "/v1/executions/{id}",
            get(executions::describe).delete(executions::delete),
        )
        .route("/v1/executions/{id}/result", get(executions::result))
        .route("/v1/executions/{id}/history", get(executions::history))
        .route("/v1/executions/{id}/logs", get(executions::logs))
        .route("/v1/executions/{id}/reset", post(executions::reset))
        .route("/v1/executions/{id}/cancel", post(executions::cancel))
        .route("/v1/executions/{id}/terminate", post(executions::terminate))
        .route("/v1/executions/{id}/signals", post(interact::signal))
        .route("/v1/executions/{id}/queries", post(interact::query))
        .route("/v1/executions/{id}/updates", post(interact::update))
        .route(
            "/v1/executions/{id}/updates/{update_id}",
            get(interact::update_result),
        )
        .route("/v1/signal-with-start", post(interact::signal_with_start))
        .route("/v1/task-queues", get(tasks::list))
        .route(
            "/v1/task-queues/{queue}/poll",
            // POST only: a poll leases a task, so a page that may only send
            // simple GETs must not be able to.
            post(tasks::poll),
        )
        .route("/v1/tasks/{token}/heartbeat", post(tasks::heartbeat))
        .route("/v1/tasks/{token}/complete", post(tasks::complete))
        .route("/v1/tasks/{token}/fail", post(tasks::fail))
        .route(
            "/v1/schedules",
            post(schedules::create).get(schedules::list),
        )
        .route(
            "/v1/schedules/{name}",
            get(schedules::describe)
                .put(schedules::update)
                .delete(schedules::delete),
        )
        .route("/v1/schedules/{name}/pause", post(schedules::pause))
        .route("/v1/schedules/{name}/unpause", post(schedules::unpause))
        .route("/v1/schedules/{name}/trigger", post(schedules::trigger))
        .route("/v1/schedules/{name}/backfill", post(schedules::backfill))
        .route("/v1/clock", get(clock::get))
        .route("/v1/clock/advance", post(clock::advance))
        .route("/v1/clock/skip", post(clock::skip))
        .route("/v1/cluster", get(cluster::get_view))
        .route(partitions::RECEIVE, post(partitions::receive))
        .route(partitions::QUIET, post(partitions::quiet))
        .route(partitions::CLOCK_TO, post(partitions::clock_to))
        .layer(DefaultBodyLimit::max(MAX_JSON_BYTES))
        .merge(modules)
        .merge(crate::ui::router())
        .fallback(|| async { error::ApiError::not_found("no such route: see /v1/openapi.json") })
        .layer(axum::middleware::from_fn(run_to_the_end))
        .layer(axum::middleware::from_fn_with_state(access, auth::check))
        .layer(axum::middleware::from_fn_with_state(guard, guard::check))
        .with_state(engine)
}

/// What every host answers alike, with or without an engine: the API's
/// description and the web UI.
fn static_router() -> Router {
    Router::new()
        .route(
            "/v1/openapi.json",
            get(|| async { Json(ApiDoc::openapi()) }),
        )
        .merge(crate::ui::router())
        .fallback(|| async { error::ApiError::not_found("no such route: see /v1/openapi.json") })
}

/// Runs a request that may change something to its end whether its client
/// waits for the answer or not. A client that gives up (a timeout, a
/// dropped connection) ends the connection, and the server drops what
/// serves it: a write already handed to the store still lands, and what
/// must follow it in memory (a start's load, a signal's wake, a
/// cancellation's stops) would not run, while a retry with the same request
/// id is answered as a duplicate. Reads are dropped with their client, and
/// so is a worker's poll: it leases a task only for a client that takes it
/// (dropped, its claim puts the task back).
async fn run_to_the_end(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{Method, StatusCode};
    use axum::response::IntoResponse;
    let read = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if read || req.uri().path().ends_with("/poll") {
        return next.run(req).await;
    }
    match tokio::spawn(next.run(req)).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "a request's handler failed");
            error::ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the request's handler failed: see the host's log",
            )
            .into_response()
        }
    }
}

/// `ok`, or why the host is degraded (it still answers reads then).
async fn health(axum::extract::State(engine): axum::extract::State<Engine>) -> String {
    match engine.write_failure() {
        None => "ok".into(),
        Some(reason) => format!("degraded: the store cannot write ({reason})"),
    }
}

/// Serves the API on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tls::Listener,
    engine: Engine,
    access: Access,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = Guard {
        listen: Some(listener.local_addr()),
    };
    axum::serve(listener, router(engine, access, guard))
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests;

/// Prometheus metrics (text format): counters and histograms since the host
/// started, and gauges of what runs now.
async fn metrics(
    axum::extract::State(engine): axum::extract::State<Engine>,
) -> Result<String, error::ApiError> {
    let now = engine.metrics_snapshot()?;
    Ok(crate::metrics::get().render(&now))
}
