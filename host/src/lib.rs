//! weft: a durable workflow host for WebAssembly components.
//!
//! Data flows one way: `api`/`cli` -> `engine` -> `wasm`, `store`.
//!
//! - [`model`]: ids, payloads, events, executions: plain data shared by all.
//! - [`store`]: the redb schema and grouped durable commits; the only module that touches redb.
//! - [`wasm`]: wasmtime, the workflow imports, deterministic WASI, limits; the only module that touches wasmtime.
//! - [`engine`]: executions, workflow tasks, replay and command matching, timers, activities and retries.
//! - [`api`]: the HTTP+JSON server (axum) under `/v1`, with its OpenAPI document.
//! - [`cli`]: the `weft` commands; each one is a client of the HTTP API.
//! - [`pause`]: named pause points that race tests stop a real host at.

pub mod api;
pub mod cli;
pub mod engine;
pub mod fuzz;
pub mod metrics;
pub mod model;
pub mod pause;
pub mod store;
mod tls;
pub mod ui;
pub mod wasm;
