//! `subscription`: a workflow that lives until it is cancelled, an actor.
//!
//! - Every 30 days (a durable timer) it charges the current plan (activity
//!   `charge` from `hello-activities`).
//! - Signal `change-plan` (`"pro"` or `"basic"`) switches the plan; signals
//!   are taken in the order they were sent, none lost.
//! - Query `status` reads the state: customer, plan, invoices, total.
//! - Update `cancel` (`{"reason": "..."}`) charges the days used of the current
//!   period, ends the subscription and returns that final invoice. Its
//!   validator rejects a second cancel or an empty reason, which then
//!   leaves no trace.
//!
//! Input `{"customer": "ada", "plan": "basic"}`; the output, once
//! cancelled, is the status with every invoice.

use weft_sdk::prelude::*;

const DAY_MS: u64 = 24 * 3600 * 1000;
const PERIOD_DAYS: u64 = 30;

#[derive(Deserialize)]
struct Input {
    customer: String,
    plan: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Invoice {
    id: String,
    customer: String,
    plan: String,
    amount_cents: u64,
    reason: String,
}

#[derive(Serialize)]
struct Charge {
    customer: String,
    plan: String,
    amount_cents: u64,
    reason: String,
    delay_ms: u64,
}

/// The input of the `cancel` update.
#[derive(Deserialize)]
struct Cancel {
    reason: String,
    /// How long the payment provider takes for the final charge (a test hook).
    #[serde(default)]
    processing_ms: u64,
}

#[derive(Serialize)]
struct Status {
    customer: String,
    plan: String,
    active: bool,
    months_billed: u32,
    plan_changes: u32,
    invoices: Vec<Invoice>,
    total_cents: u64,
}

/// The subscription's state: the main flow and the handlers share it.
#[derive(Default)]
struct Subscription {
    customer: String,
    plan: String,
    cancelled: bool,
    months_billed: u32,
    plan_changes: u32,
    period_start_ms: u64,
    invoices: Vec<Invoice>,
}

fn monthly_price(plan: &str) -> Result<u64, Failure> {
    match plan {
        "basic" => Ok(1_000),
        "pro" => Ok(3_000),
        other => Err(Failure::non_retryable(
            "UnknownPlan",
            format!("no plan named {other:?}: use basic or pro"),
        )),
    }
}

impl Subscription {
    fn status(&self) -> Status {
        Status {
            customer: self.customer.clone(),
            plan: self.plan.clone(),
            active: !self.cancelled,
            months_billed: self.months_billed,
            plan_changes: self.plan_changes,
            invoices: self.invoices.clone(),
            total_cents: self.invoices.iter().map(|i| i.amount_cents).sum(),
        }
    }

    fn charge(
        ctx: &mut Ctx<Self>,
        amount_cents: u64,
        reason: String,
        delay_ms: u64,
    ) -> Result<Invoice, Failure> {
        let s = ctx.state();
        let charge = Charge {
            customer: s.customer.clone(),
            plan: s.plan.clone(),
            amount_cents,
            reason,
            delay_ms,
        };
        let invoice: Invoice = ctx.activity("charge", &charge)?;
        ctx.state_mut().invoices.push(invoice.clone());
        Ok(invoice)
    }

    fn check_cancel(&self, cancel: &Cancel) -> Result<(), Failure> {
        if self.cancelled {
            return Err(Failure::new(
                "AlreadyCancelled",
                "the subscription is already cancelled",
            ));
        }
        if cancel.reason.trim().is_empty() {
            return Err(Failure::new(
                "ReasonRequired",
                "say why the subscription is cancelled",
            ));
        }
        Ok(())
    }

    /// Charges the days used of this period and ends the subscription.
    fn cancel(ctx: &mut Ctx<Self>, cancel: Cancel) -> Result<Invoice, Failure> {
        let s = ctx.state();
        let days_used = (ctx.now_ms() - s.period_start_ms)
            .div_ceil(DAY_MS)
            .min(PERIOD_DAYS);
        let amount = monthly_price(&s.plan)? * days_used / PERIOD_DAYS;
        let reason = format!("cancellation after {days_used} day(s): {}", cancel.reason);
        let invoice = Self::charge(ctx, amount, reason, cancel.processing_ms)?;
        ctx.state_mut().cancelled = true;
        Ok(invoice)
    }
}

impl Workflow for Subscription {
    type Input = Input;
    type Output = Status;

    fn run(ctx: &mut Ctx<Self>, input: Input) -> Result<Status, Failure> {
        monthly_price(&input.plan)?;
        let s = ctx.state_mut();
        s.customer = input.customer;
        s.plan = input.plan;
        let changes = ctx.signal_channel::<String>("change-plan");
        'life: loop {
            ctx.state_mut().period_start_ms = ctx.now_ms();
            let bill = ctx.timer(Duration::from_millis(PERIOD_DAYS * DAY_MS));
            loop {
                match ctx.select_until(&[&bill, &changes], |s| s.cancelled) {
                    None => break 'life,
                    Some(0) => break,
                    Some(_) => match ctx
                        .receive(&changes)
                        .and_then(|p| monthly_price(&p).map(|_| p))
                    {
                        Ok(plan) => {
                            ctx.log(LogLevel::Info, format!("plan changed to {plan}"));
                            let s = ctx.state_mut();
                            s.plan = plan;
                            s.plan_changes += 1;
                        }
                        Err(f) => ctx.log(LogLevel::Warn, format!("ignored a plan change: {f}")),
                    },
                }
            }
            ctx.join(bill)?;
            let month = ctx.state().months_billed + 1;
            let price = monthly_price(&ctx.state().plan)?;
            Self::charge(ctx, price, format!("month {month}"), 0)?;
            ctx.state_mut().months_billed = month;
        }
        Ok(ctx.state().status())
    }

    fn handlers(h: &mut Handlers<Self>) {
        h.signal("change-plan")
            .query("status", |s: &Self, _: ()| Ok(s.status()))
            .update_validated("cancel", Self::check_cancel, Self::cancel);
    }
}

weft_sdk::export_workflow!(Subscription);
