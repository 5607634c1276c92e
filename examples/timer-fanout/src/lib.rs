//! `timer-fanout`: a durable timer, then a fan-out of activities joined, then
//! a race between a long timer and an activity.
//!
//! Input `{"items": ["a", "b"], "sleep_ms": 3600000}`; output
//! `{"greetings": ["Hello, a", "Hello, b"], "selected": "Hello, select", "slept_ms": 3600000}`.

use weft_sdk::prelude::*;

#[derive(Deserialize)]
struct Input {
    items: Vec<String>,
    sleep_ms: u64,
}

#[derive(Serialize)]
struct Output {
    greetings: Vec<String>,
    selected: String,
    slept_ms: u64,
}

#[derive(Serialize)]
struct Step<'a> {
    text: &'a str,
}

#[derive(Default)]
struct TimerFanout;

impl Workflow for TimerFanout {
    type Input = Input;
    type Output = Output;

    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<Output, Failure> {
        let before = ctx.now_ms();
        ctx.sleep(Duration::from_millis(input.sleep_ms))?;
        let slept_ms = ctx.now_ms() - before;

        let pending: Vec<Pending<String>> = input
            .items
            .iter()
            .map(|item| ctx.start_activity("greet", &Step { text: item }))
            .collect();
        let greetings = ctx
            .join_all(pending)
            .into_iter()
            .collect::<Result<_, _>>()?;

        // The activity wins unless it takes a day.
        let deadline = ctx.timer(Duration::from_secs(24 * 3600));
        let call: Pending<String> = ctx.start_activity("greet", &Step { text: "select" });
        let selected = match ctx.select(&[&deadline, &call]) {
            0 => return Err(Failure::new("Timeout", "greet did not answer within a day")),
            _ => ctx.join(call)?,
        };

        Ok(Output {
            greetings,
            selected,
            slept_ms,
        })
    }
}

weft_sdk::export_workflow!(TimerFanout);
