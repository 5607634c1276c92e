"""`py-subscription`: the subscription actor of `examples/subscription`, in Python.

- Every 30 days (a durable timer) it charges the current plan (activity
  `charge`, served by the Rust component `hello-activities`).
- Signal `change-plan` (`"pro"` or `"basic"`) switches the plan; signals are
  handled in the order they were sent, none lost; an unknown plan is ignored
  with a warning.
- Query `status` reads the state: customer, plan, invoices, total.
- Update `cancel` (`{"reason": "..."}`) charges the days used of the current
  period, ends the subscription and returns that final invoice. Its validator
  rejects a second cancel or an empty reason, which then leaves no trace.

Beyond the Rust example: at the start it asks the Python activity
`py_welcome` (from `examples/python/activities`) for a welcome line, draws
a reference with Python's `random` and stamps the start with `time.time()`
(`welcome`, `ref` and `started_at_ms` in the status). Both are
replay-stable: the SDK reseeds `random` from the run's recorded seed, and a
workflow's clock reads workflow time.

Input `{"customer": "ada", "plan": "basic"}`; the output, once cancelled, is
the status with every invoice.
"""

import datetime
import random
import time
from dataclasses import dataclass
from typing import List

import weft

DAY_MS = 24 * 3600 * 1000
PERIOD_DAYS = 30
PRICES = {"basic": 1_000, "pro": 3_000}


class UnknownPlan(weft.Failure):
    non_retryable = True


def monthly_price(plan: str) -> int:
    if plan not in PRICES:
        raise UnknownPlan(f"no plan named {plan!r}: use basic or pro")
    return PRICES[plan]


@dataclass
class Input:
    customer: str
    plan: str


@dataclass
class Invoice:
    id: str
    customer: str
    plan: str
    amount_cents: int
    reason: str


@dataclass
class Cancel:
    reason: str
    #: How long the payment provider takes for the final charge (a test hook).
    processing_ms: int = 0


@weft.workflow
class Subscription:
    """The subscription's state: the main flow and the handlers share it."""

    def __init__(self) -> None:
        self.customer = ""
        self.plan = ""
        self.cancelled = False
        self.months_billed = 0
        self.plan_changes = 0
        self.period_start_ms = 0
        self.invoices: List[Invoice] = []
        self.ref = ""
        self.started_at_ms = 0
        self.welcome = ""

    def run(self, ctx: weft.Ctx, input: Input) -> dict:
        monthly_price(input.plan)
        self.customer = input.customer
        self.plan = input.plan
        self.ref = "sub-%08x" % random.getrandbits(32)
        self.started_at_ms = round(time.time() * 1000)
        self.welcome = ctx.activity(
            "py_welcome", {"customer": self.customer, "plan": self.plan}, start_to_close_timeout=30
        )
        while True:
            self.period_start_ms = ctx.now_ms()
            bill = ctx.timer(datetime.timedelta(days=PERIOD_DAYS))
            if ctx.select_until([bill], lambda: self.cancelled) is None:
                break  # an update cancelled it
            bill.result()
            month = self.months_billed + 1
            self.charge(ctx, monthly_price(self.plan), f"month {month}")
            self.months_billed = month
        return self.status()

    def charge(self, ctx: weft.Ctx, amount_cents: int, reason: str, delay_ms: int = 0) -> Invoice:
        invoice = ctx.activity(
            "charge",
            {
                "customer": self.customer,
                "plan": self.plan,
                "amount_cents": amount_cents,
                "reason": reason,
                "delay_ms": delay_ms,
            },
            result_type=Invoice,
        )
        self.invoices.append(invoice)
        return invoice

    @weft.signal("change-plan")
    def change_plan(self, ctx: weft.Ctx, plan: str) -> None:
        monthly_price(plan)  # an unknown plan: the SDK logs a warning and drops the signal
        ctx.log(f"plan changed to {plan}")
        self.plan = plan
        self.plan_changes += 1

    @weft.query
    def status(self) -> dict:
        return {
            "customer": self.customer,
            "plan": self.plan,
            "active": not self.cancelled,
            "months_billed": self.months_billed,
            "plan_changes": self.plan_changes,
            "invoices": self.invoices,
            "total_cents": sum(i.amount_cents for i in self.invoices),
            "ref": self.ref,
            "started_at_ms": self.started_at_ms,
            "welcome": self.welcome,
        }

    @weft.update
    def cancel(self, ctx: weft.Ctx, cancel: Cancel) -> Invoice:
        """Charges the days used of this period and ends the subscription."""
        elapsed = max(0, ctx.now_ms() - self.period_start_ms)
        days_used = min(-(-elapsed // DAY_MS), PERIOD_DAYS)
        amount = monthly_price(self.plan) * days_used // PERIOD_DAYS
        reason = f"cancellation after {days_used} day(s): {cancel.reason}"
        invoice = self.charge(ctx, amount, reason, cancel.processing_ms)
        self.cancelled = True
        return invoice

    @cancel.validator
    def check_cancel(self, cancel: Cancel) -> None:
        if self.cancelled:
            raise weft.Failure("AlreadyCancelled", "the subscription is already cancelled")
        if not cancel.reason.strip():
            raise weft.Failure("ReasonRequired", "say why the subscription is cancelled")
