//! The saga helper: undo completed steps when a later one fails.

use serde::Serialize;

use super::{ActivityOptions, Ctx, Pending};
use crate::failure::Failure;

/// Compensations registered after each successful step, run in reverse order
/// (or all at once with [`Saga::parallel`]) when a later step fails or the
/// workflow is cancelled. Each compensation is an activity, retried under its
/// options (by default until it succeeds), and recorded like any other, so a
/// host killed in the middle of compensating finishes the job after the
/// restart and runs none twice.
///
/// ```ignore
/// let mut saga = Saga::new();
/// let result = (|| {
///     let flight: Booking = ctx.activity("book-flight", &trip)?;
///     saga.add("cancel-flight", &flight);
///     let hotel: Booking = ctx.activity("book-hotel", &trip)?;
///     saga.add("cancel-hotel", &hotel);
///     Ok(())
/// })();
/// if let Err(e) = result { return Err(saga.compensate_and_fail(ctx, e)); }
/// ```
#[derive(Debug, Default)]
pub struct Saga {
    steps: Vec<(String, serde_json::Value, ActivityOptions)>,
    parallel: bool,
}

impl Saga {
    pub fn new() -> Self {
        Saga::default()
    }

    /// Runs the compensations all at once instead of one after another.
    pub fn parallel(mut self) -> Self {
        self.parallel = true;
        self
    }

    /// Registers the activity that undoes the step just done.
    pub fn add<I: Serialize + ?Sized>(&mut self, activity: &str, input: &I) {
        self.add_with(activity, input, ActivityOptions::default());
    }

    pub fn add_with<I: Serialize + ?Sized>(
        &mut self,
        activity: &str,
        input: &I,
        options: ActivityOptions,
    ) {
        let input = serde_json::to_value(input).unwrap_or_else(|e| {
            panic!("the input of compensation `{activity}` does not serialize: {e}")
        });
        self.steps.push((activity.to_owned(), input, options));
    }

    /// How many compensations are registered.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Runs the registered compensations, latest first, and forgets them.
    /// Returns the failures of those that failed for good.
    pub fn compensate<W>(&mut self, ctx: &mut Ctx<W>) -> Vec<Failure> {
        let steps: Vec<_> = self.steps.drain(..).rev().collect();
        if self.parallel {
            let pending: Vec<Pending<serde_json::Value>> = steps
                .iter()
                .map(|(name, input, options)| ctx.start_activity_with(name, input, options))
                .collect();
            ctx.join_all(pending)
                .into_iter()
                .filter_map(Result::err)
                .collect()
        } else {
            steps
                .iter()
                .filter_map(|(name, input, options)| {
                    ctx.activity_with::<_, serde_json::Value>(name, input, options)
                        .err()
                })
                .collect()
        }
    }

    /// Compensates, then hands back the original error to return (with the
    /// compensations that failed in its details).
    pub fn compensate_and_fail<W>(&mut self, ctx: &mut Ctx<W>, error: Failure) -> Failure {
        let failed = self.compensate(ctx);
        if failed.is_empty() {
            return error;
        }
        let details: Vec<String> = failed.iter().map(|f| f.to_string()).collect();
        error.with_details(serde_json::json!({ "failed_compensations": details }))
    }
}
