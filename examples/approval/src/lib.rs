//! `approval`: a human approval step, one select between a signal and a
//! timer. Waits up to `timeout_hours` (default 72) for the signal `decision`
//! (`{"approved": true, "by": "grace"}`); returns `"approved by grace"`,
//! `"rejected by grace"` or `"timed out"`.

use weft_sdk::prelude::*;

#[derive(Deserialize)]
struct Input {
    #[serde(default = "three_days")]
    timeout_hours: u64,
}

fn three_days() -> u64 {
    72
}

#[derive(Deserialize)]
struct Decision {
    approved: bool,
    by: String,
}

#[derive(Default)]
struct Approval;

impl Workflow for Approval {
    type Input = Input;
    type Output = String;

    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<String, Failure> {
        let decisions = ctx.signal_channel::<Decision>("decision");
        let deadline = ctx.timer(Duration::from_secs(input.timeout_hours * 3600));
        Ok(match ctx.select(&[&decisions, &deadline]) {
            0 => {
                let d = ctx.receive(&decisions)?;
                format!(
                    "{} by {}",
                    if d.approved { "approved" } else { "rejected" },
                    d.by
                )
            }
            _ => "timed out".to_owned(),
        })
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.signal("decision");
    }
}

weft_sdk::export_workflow!(Approval);
