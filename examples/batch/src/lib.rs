//! `batch`: fan-out/fan-in over child workflows. The parent (`batch`) splits
//! its items across `workers` children (`batch-worker`, this crate built with
//! `--features worker`), starts them all at once, then joins them and adds up
//! their results. Each worker sums the squares of its share in chunks of 10,
//! each chunk an activity (`square_sum`), all started at once then joined.
//!
//! Input `{"items": 1000, "workers": 10}`: the items are `1..=items`; the
//! output is the sum of their squares.

use weft_sdk::prelude::*;

#[cfg(not(feature = "worker"))]
#[derive(Deserialize)]
struct Input {
    items: u64,
    workers: u64,
}

#[derive(Default)]
struct Batch;

#[cfg(not(feature = "worker"))]
impl Workflow for Batch {
    type Input = Input;
    type Output = u64;

    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<u64, Failure> {
        let workers = input.workers.max(1);
        let share = input.items.div_ceil(workers);
        let children: Vec<Pending<u64>> = (0..workers)
            .map(|w| {
                let items: Vec<u64> =
                    ((w * share + 1)..=((w + 1) * share).min(input.items)).collect();
                ctx.start_child(
                    "batch-worker",
                    &items,
                    &ChildOptions::default().parent_close_policy(ParentClosePolicy::Terminate),
                )
            })
            .collect();
        let mut total = 0;
        for partial in ctx.join_all(children) {
            total += partial?;
        }
        Ok(total)
    }
}

#[cfg(feature = "worker")]
impl Workflow for Batch {
    type Input = Vec<u64>;
    type Output = u64;

    fn run(ctx: &mut Ctx<Self>, items: Vec<u64>) -> Result<u64, Failure> {
        let chunks: Vec<Pending<u64>> = items
            .chunks(10)
            .map(|chunk| ctx.start_activity("square_sum", chunk))
            .collect();
        ctx.join_all(chunks).into_iter().sum()
    }
}

weft_sdk::export_workflow!(Batch);
