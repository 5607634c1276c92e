//! `misbehave`: a workflow that breaks the rules on request, for the sandbox
//! tests. Input `{"mode": M}` with M one of:
//! `ok` (returns "fine"), `fail` (returns a failure), `trap` (panics),
//! `loop` (spins forever: the CPU deadline stops it), `alloc` (grows memory
//! without bound: the memory limit stops it), `sleep` (a 60 s durable timer; its queries `sneaky` and `crash` misbehave),
//! `recurse` (overflows its stack), `flood` (prints 200,000 lines),
//! `parent` (waits on a sleeping child), `orphans` (starts two sleeping
//! children, one with each parent-close policy, and returns), `flaky` (calls the `flaky` activity, which fails
//! its first `fail_times` attempts, with at most 5 attempts), `reuse` (calls
//! `instance_uses` four times, the third trapping once, and returns what each
//! call answered).

use weft_sdk::prelude::*;

#[derive(Deserialize)]
struct Input {
    mode: String,
    /// For `flaky`: how many attempts of the activity fail.
    #[serde(default)]
    fail_times: u32,
}

#[derive(Serialize)]
struct Sleep {
    mode: &'static str,
}

#[derive(Serialize)]
struct Flaky {
    fail_times: u32,
}

#[derive(Serialize)]
struct Uses {
    trap: bool,
}

#[derive(Default)]
struct Misbehave;

#[allow(unconditional_recursion)]
fn deep(n: u64) -> u64 {
    let frame = std::hint::black_box([n; 64]);
    deep(frame[0] + 1) + frame[63]
}

impl Workflow for Misbehave {
    type Input = Input;
    type Output = String;

    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<String, Failure> {
        match input.mode.as_str() {
            "ok" => Ok("fine".into()),
            "fail" => Err(Failure::new("Refused", "asked to fail")),
            "trap" => panic!("asked to trap"),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "flaky" => {
                let options = ActivityOptions::default().retry(RetryPolicy::attempts(5));
                let flaky = Flaky {
                    fail_times: input.fail_times,
                };
                let attempt: u32 = ctx.activity_with("flaky", &flaky, &options)?;
                Ok(format!("succeeded on attempt {attempt}"))
            }
            "reuse" => {
                let options = ActivityOptions::default()
                    .retry(RetryPolicy::attempts(2).initial_interval(Duration::from_millis(1)));
                let mut answers = Vec::new();
                for trap in [false, false, true, false] {
                    let n: u32 = ctx.activity_with("instance_uses", &Uses { trap }, &options)?;
                    answers.push(n.to_string());
                }
                Ok(answers.join(","))
            }
            // Wrong use of the imports: waits on a handle it never got.
            "misuse" => {
                let _ = weft_sdk::workflow::bindings::weft::workflow::runtime::wait(&[99]);
                Ok("unreachable".into())
            }
            // An output of `fail_times` KiB (to meet the payload limit).
            "big" => Ok("x".repeat(input.fail_times as usize * 1024)),
            // Unbounded recursion: the stack limit stops it.
            "recurse" => Ok(format!("{}", deep(std::hint::black_box(1)))),
            // Floods its output: the host keeps a capped tail as log lines.
            "flood" => {
                for i in 0..200_000 {
                    println!("line {i} of a flood of output that nobody asked for");
                }
                Ok("flooded".into())
            }
            "sleep" => {
                ctx.sleep(Duration::from_secs(60))?;
                Ok("slept".into())
            }
            // A parent waiting on a sleeping child (cancellation reaches both).
            "parent" => {
                let child: String = ctx.child("misbehave", &Sleep { mode: "sleep" })?;
                Ok(format!("child said {child}"))
            }
            // Starts two sleeping children, one to terminate and one to
            // abandon when this parent closes, then returns after a second.
            "orphans" => {
                for (suffix, policy) in [
                    ("terminated", ParentClosePolicy::Terminate),
                    ("abandoned", ParentClosePolicy::Abandon),
                ] {
                    let options = ChildOptions::default()
                        .id(format!("{}-{suffix}", ctx.info().execution_id))
                        .parent_close_policy(policy);
                    let _child: Pending<String> =
                        ctx.start_child("misbehave", &Sleep { mode: "sleep" }, &options);
                }
                ctx.sleep(Duration::from_secs(1))?;
                Ok("left them".into())
            }
            other => Err(Failure::non_retryable(
                "InvalidInput",
                format!("unknown mode `{other}`"),
            )),
        }
    }

    fn handlers(h: &mut Handlers<Self>) {
        // A query that breaks the rules: it tries to start a timer.
        h.query("sneaky", |_: &Self, _: ()| {
            let handle = weft_sdk::workflow::bindings::weft::workflow::runtime::start_timer(1);
            Ok(handle)
        })
        // One that crashes.
        .query("crash", |_: &Self, _: ()| -> Result<(), Failure> {
            panic!("the crash query crashes")
        })
        .query("mode", |_: &Self, _: ()| Ok("misbehave"));
    }
}

weft_sdk::export_workflow!(Misbehave);
