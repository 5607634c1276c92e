//! `order`: one workflow in four versions, to show how code changes reach
//! executions that are already running. Build a version with
//! `cargo build --target wasm32-wasip2 --release -p versioning --features v2`
//! (no feature: v1). Uses the activities of `hello-activities`.
//!
//! - v1: `greet` the order, wait an hour, `exclaim`, wait another hour.
//! - v2: the same, plus a `shout` step behind `patched("shout")`: executions
//!   that reach that point on v2 take it; executions recorded by v1 past that
//!   point replay without it. Running v1 executions can be upgraded to v2.
//! - v3: `exclaim` before `greet`, with no patch: incompatible with every
//!   history recorded by v1 or v2, which `weft upgrade --dry-run` reports.
//! - v2-broken: v2 with a bug that panics after the first hour: executions
//!   running it stall, and are repaired by upgrading them to v2.
//!
//! Input `{"order": "a1"}`; v1 returns `"Hello, a1!"`, v2 `"HELLO, A1!"`.

use weft_sdk::prelude::*;

#[derive(Deserialize)]
struct Input {
    order: String,
}

#[derive(Serialize)]
struct Step<'a> {
    text: &'a str,
}

const HOUR: Duration = Duration::from_secs(3600);

#[derive(Default)]
struct Order;

impl Workflow for Order {
    type Input = Input;
    type Output = String;

    #[cfg(not(feature = "v3"))]
    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<String, Failure> {
        let mut text: String = ctx.activity("greet", &Step { text: &input.order })?;
        ctx.sleep(HOUR)?;
        if cfg!(feature = "v2-broken") {
            panic!("v2-broken: a bug after the first hour");
        }
        if (cfg!(feature = "v2") || cfg!(feature = "v2-broken")) && ctx.patched("shout") {
            text = ctx.activity("shout", &Step { text: &text })?;
        }
        let text: String = ctx.activity("exclaim", &Step { text: &text })?;
        ctx.sleep(HOUR)?;
        Ok(text)
    }

    #[cfg(feature = "v3")]
    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<String, Failure> {
        let text: String = ctx.activity("exclaim", &Step { text: &input.order })?;
        ctx.sleep(HOUR)?;
        let text: String = ctx.activity("greet", &Step { text: &text })?;
        ctx.sleep(HOUR)?;
        Ok(text)
    }
}

weft_sdk::export_workflow!(Order);
