//! `polling`: the two polling patterns, an external worker, and cancelling an
//! activity. Input `{"mode": M, ...}`:
//!
//! - `frequent`: `poll_until_ready` checks in a loop inside one attempt and
//!   heartbeats its count (heartbeat timeout 30 s); when an attempt is lost,
//!   the next resumes from the last heartbeat. `{"ready_after": 20,
//!   "hang_on_attempt": 1, "hang_after": 5}` loses the first attempt.
//! - `infrequent`: `check_ready` checks once per attempt and fails until
//!   ready; the retry policy (every 60 s, at most 10 attempts) does the
//!   waiting, no workflow loop. `{"ready_on_attempt": 4}`.
//! - `remote`: `py_square` runs on the Python workers polling the `python`
//!   task queue (heartbeat timeout 10 s). `{"n": 7}`.
//! - `cancel`: starts a poll that never becomes ready, then cancels it.
//! - `call`: runs `{"activity": NAME, "args": INPUT}` once.

use weft_sdk::prelude::*;

#[derive(Deserialize, Serialize)]
struct Input {
    mode: String,
    #[serde(default)]
    ready_after: u32,
    #[serde(default)]
    hang_on_attempt: u32,
    #[serde(default)]
    hang_after: u32,
    #[serde(default)]
    ready_on_attempt: u32,
    #[serde(default)]
    n: i64,
    #[serde(default)]
    crash: bool,
    /// For `call`: the activity and its input.
    #[serde(default)]
    activity: String,
    #[serde(default)]
    args: weft_sdk::__json::Value,
}

#[derive(Serialize)]
struct Poll {
    ready_after: u32,
    hang_on_attempt: u32,
    hang_after: u32,
}

#[derive(Serialize)]
struct Check {
    ready_on_attempt: u32,
}

#[derive(Serialize)]
struct Fatal {
    fail_times: u32,
    fatal: bool,
}

#[derive(Serialize)]
struct Square {
    n: i64,
    crash: bool,
}

#[derive(Default)]
struct Polling;

impl Workflow for Polling {
    type Input = Input;
    type Output = weft_sdk::__json::Value;

    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<weft_sdk::__json::Value, Failure> {
        match input.mode.as_str() {
            "frequent" => {
                let options = ActivityOptions::default()
                    .heartbeat_timeout(Duration::from_secs(30))
                    .retry(RetryPolicy::attempts(3));
                let poll = Poll {
                    ready_after: input.ready_after,
                    hang_on_attempt: input.hang_on_attempt,
                    hang_after: input.hang_after,
                };
                ctx.activity_with("poll_until_ready", &poll, &options)
            }
            "infrequent" => {
                let retry = RetryPolicy {
                    initial_interval: Duration::from_secs(60),
                    backoff_coefficient: 1.0,
                    maximum_interval: Duration::from_secs(60),
                    maximum_attempts: 10,
                    non_retryable_kinds: Vec::new(),
                };
                let check = Check {
                    ready_on_attempt: input.ready_on_attempt,
                };
                ctx.activity_with(
                    "check_ready",
                    &check,
                    &ActivityOptions::default().retry(retry),
                )
            }
            "remote" => {
                let options = ActivityOptions::default()
                    .task_queue("python")
                    .heartbeat_timeout(Duration::from_secs(10))
                    .retry(RetryPolicy::attempts(3));
                let square = Square {
                    n: input.n,
                    crash: input.crash,
                };
                ctx.activity_with("py_square", &square, &options)
            }
            // Each timeout kind, on activities that cannot finish in time.
            "schedule-to-start" => {
                let options = ActivityOptions::default()
                    .task_queue("nobody-polls-this")
                    .schedule_to_start_timeout(Duration::from_secs(5));
                ctx.activity_with("py_square", &Square { n: 1, crash: false }, &options)
            }
            "start-to-close" => {
                let options = ActivityOptions::default()
                    .start_to_close_timeout(Duration::from_secs(10))
                    .retry(RetryPolicy::attempts(1));
                let poll = Poll {
                    ready_after: 100,
                    hang_on_attempt: 1,
                    hang_after: 1,
                };
                ctx.activity_with("poll_until_ready", &poll, &options)
            }
            "schedule-to-close" => {
                let retry = RetryPolicy {
                    initial_interval: Duration::from_secs(60),
                    backoff_coefficient: 1.0,
                    maximum_interval: Duration::from_secs(60),
                    maximum_attempts: 0,
                    non_retryable_kinds: Vec::new(),
                };
                let options = ActivityOptions::default()
                    .retry(retry)
                    .schedule_to_close_timeout(Duration::from_secs(150));
                ctx.activity_with(
                    "check_ready",
                    &Check {
                        ready_on_attempt: 100,
                    },
                    &options,
                )
            }
            "fatal" => {
                let options = ActivityOptions::default().retry(RetryPolicy::attempts(5));
                ctx.activity_with(
                    "flaky",
                    &Fatal {
                        fail_times: 0,
                        fatal: true,
                    },
                    &options,
                )
            }
            // Any activity, once: to try what an activity component may reach.
            "call" => ctx.activity_with(
                &input.activity,
                &input.args,
                &ActivityOptions::default().retry(RetryPolicy::attempts(1)),
            ),
            "cancel" => {
                let poll = Poll {
                    ready_after: u32::MAX,
                    hang_on_attempt: 0,
                    hang_after: 0,
                };
                let p: Pending<weft_sdk::__json::Value> =
                    ctx.start_activity("poll_until_ready", &poll);
                ctx.sleep(Duration::from_secs(1))?;
                ctx.cancel(&p);
                match ctx.join(p) {
                    Err(f) if f.is_cancelled() => Ok("cancelled".into()),
                    other => other,
                }
            }
            other => Err(Failure::non_retryable(
                "InvalidInput",
                format!("unknown mode {other:?}"),
            )),
        }
    }
}

weft_sdk::export_workflow!(Polling);
