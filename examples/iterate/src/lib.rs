//! `iterate`: walks `total` items in chunks (activity `sum_range`), and
//! continues as new whenever the host suggests it, so no run's history
//! outgrows the limits however large `total` is. The state travels in the
//! input; the last run returns the sum.
//!
//! Input `{"total": 100000, "chunk": 1000}`; output `4999950000`.
//! `"ignore_suggestion": true` keeps going in one run, to show the limit.

use weft_sdk::prelude::*;

#[derive(Serialize, Deserialize)]
struct State {
    total: u64,
    chunk: u64,
    #[serde(default)]
    next: u64,
    #[serde(default)]
    sum: u64,
    #[serde(default)]
    runs: u32,
    #[serde(default)]
    ignore_suggestion: bool,
}

#[derive(Serialize)]
struct Range {
    from: u64,
    to: u64,
}

#[derive(Serialize)]
struct Done {
    sum: u64,
    runs: u32,
}

#[derive(Default)]
struct Iterate;

impl Workflow for Iterate {
    type Input = State;
    type Output = Done;

    fn run(ctx: &mut Ctx<Self>, mut s: State) -> Result<Done, Failure> {
        s.runs += 1;
        let chunk = s.chunk.max(1);
        while s.next < s.total {
            if ctx.continue_as_new_suggested() && !s.ignore_suggestion {
                ctx.continue_as_new(&s);
            }
            let to = (s.next + chunk).min(s.total);
            let part: u64 = ctx.activity("sum_range", &Range { from: s.next, to })?;
            s.sum += part;
            s.next = to;
        }
        Ok(Done {
            sum: s.sum,
            runs: s.runs,
        })
    }
}

weft_sdk::export_workflow!(Iterate);
