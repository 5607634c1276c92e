//! `approval`: a human approval step, one select between a signal and a
//! timer. Waits up to `timeout_hours` (default 72) for the signal `decision`
//! (`{"approved": true, "by": "grace"}`); returns `"approved by grace"`,
//! `"rejected by grace"` or `"timed out"`.
//!
//! Search attributes: `ApprovalState` (`pending`, then `approved`,
//! `rejected` or `timed-out`) and, once decided, `DecidedBy` and `DecidedAt`;
//! the decision's note goes in the memo. So the approvals still waiting are
//! `weft list --query 'ApprovalState = "pending"'`, and a start may add its
//! own (`weft start approval --search-attribute Requester=ada`).

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
    /// Why, for the record (kept in the memo).
    #[serde(default)]
    note: Option<String>,
}

#[derive(Default)]
struct Approval;

impl Workflow for Approval {
    type Input = Input;
    type Output = String;

    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<String, Failure> {
        ctx.upsert_search_attributes([("ApprovalState", SearchValue::from("pending"))]);
        let decisions = ctx.signal_channel::<Decision>("decision");
        let deadline = ctx.timer(Duration::from_secs(input.timeout_hours * 3600));
        Ok(match ctx.select(&[&decisions, &deadline]) {
            0 => {
                let d = ctx.receive(&decisions)?;
                let state = if d.approved { "approved" } else { "rejected" };
                let now = ctx.now();
                ctx.upsert_search_attributes([
                    ("ApprovalState", SearchValue::from(state)),
                    ("DecidedBy", SearchValue::from(d.by.as_str())),
                    ("DecidedAt", SearchValue::Datetime(now)),
                ]);
                if let Some(note) = d.note {
                    ctx.upsert_memo([("note", weft_sdk::serde_json::Value::String(note))]);
                }
                format!("{state} by {}", d.by)
            }
            _ => {
                ctx.upsert_search_attributes([("ApprovalState", SearchValue::from("timed-out"))]);
                "timed out".to_owned()
            }
        })
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.signal("decision");
    }
}

weft_sdk::export_workflow!(Approval);
