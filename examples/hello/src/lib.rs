//! `hello`: three activities in sequence, each durable and retried.
//!
//! Input `{"name": "world", "delay_ms": 0}`; output `"HELLO, WORLD!"`.
//! The activities live in `examples/hello-activities`; `delay_ms` makes each
//! of them take that long, so a test can kill the host in the middle of one;
//! `sleep_ms` makes it wait on a durable timer at the end (the recovery
//! benchmark kills the host while thousands wait there).

use weft_sdk::prelude::*;

#[derive(Deserialize)]
struct Input {
    name: String,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default)]
    sleep_ms: u64,
}

/// What every activity in `hello-activities` takes.
#[derive(Serialize)]
struct Step<'a> {
    text: &'a str,
    delay_ms: u64,
}

#[derive(Default)]
struct Hello;

impl Workflow for Hello {
    type Input = Input;
    type Output = String;

    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<String, Failure> {
        let step = |text| Step {
            text,
            delay_ms: input.delay_ms,
        };
        let greeting: String = ctx.activity("greet", &step(&input.name))?;
        let loud: String = ctx.activity("shout", &step(&greeting))?;
        let done: String = ctx.activity("exclaim", &step(&loud))?;
        if input.sleep_ms > 0 {
            ctx.sleep(Duration::from_millis(input.sleep_ms))?;
        }
        ctx.log(LogLevel::Info, format!("hello finished: {done}"));
        Ok(done)
    }
}

weft_sdk::export_workflow!(Hello);
