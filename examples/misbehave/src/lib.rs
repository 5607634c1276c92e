//! `misbehave`: a workflow that breaks the rules on request, for the sandbox
//! tests. Input `{"mode": M}` with M one of:
//! `ok` (returns "fine"), `fail` (returns a failure), `trap` (panics),
//! `loop` (spins forever: the CPU deadline stops it), `alloc` (grows memory
//! without bound: the memory limit stops it), `sleep` (a 60 s durable timer).

use weft_sdk::prelude::*;

#[derive(Deserialize)]
struct Input {
    mode: String,
}

struct Misbehave;

impl Workflow for Misbehave {
    type Input = Input;
    type Output = String;

    fn run(ctx: &mut Ctx, input: Input) -> Result<String, Failure> {
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
            "sleep" => {
                ctx.sleep(Duration::from_secs(60));
                Ok("slept".into())
            }
            other => Err(Failure::non_retryable(
                "InvalidInput",
                format!("unknown mode `{other}`"),
            )),
        }
    }
}

weft_sdk::export_workflow!(Misbehave);
