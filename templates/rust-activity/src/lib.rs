//! `{{name}}`: a weft activity component. It serves the activity
//! `{{name}}.hello`; a workflow calls it with
//! `ctx.activity("{{name}}.hello", &"world")`. Activity names are global on
//! a host, so they start with the component's name.
//!
//! weft build                      # -> {{name}}.wasm
//! weft deploy {{name}}.wasm       # registers the activities it serves

use weft_sdk::activity::*;

/// Activities run at least once (retries, crashes): key side effects on
/// `ctx.idempotency_key()`. Return `Err(Failure)` to fail the attempt.
fn hello(ctx: &ActivityCtx, name: String) -> Result<String, Failure> {
    Ok(format!("Hello, {name}! (attempt {})", ctx.attempt))
}

weft_sdk::export_activities!("{{name}}.hello" => hello);
