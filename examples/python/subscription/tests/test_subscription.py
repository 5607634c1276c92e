"""Tests of the subscription actor with weft's test environment.

Run with pytest, with `weft` on PATH (or WEFT_BIN) and the SDK's
`guest-sdk/python` on PYTHONPATH; SUBSCRIPTION_WASM names the built component
(default: `py-subscription.wasm` in WEFT_GUESTS, where `cargo xtask guests`
puts it, else `../py-subscription.wasm`).
"""

import json
import os
import pathlib

import pytest

from weft_testing import ActivityError, UpdateRejected, WorkflowEnvironment, WorkflowFailed, replay

HERE = pathlib.Path(__file__).parent
WASM = os.environ.get("SUBSCRIPTION_WASM") or str(
    pathlib.Path(os.environ["WEFT_GUESTS"]) / "py-subscription.wasm"
    if "WEFT_GUESTS" in os.environ
    else HERE.parent / "py-subscription.wasm"
)


def welcome(ctx, who):
    return f"welcome, {who['customer']}"


def charges_into(log):
    """A mock of `charge` that records what it was asked."""

    def charge(ctx, req):
        log.append(req)
        return {
            "id": f"inv-{len(log)}",
            "customer": req["customer"],
            "plan": req["plan"],
            "amount_cents": req["amount_cents"],
            "reason": req["reason"],
        }

    return charge


@pytest.fixture
def charged():
    return []


@pytest.fixture
def env(charged):
    mocks = {"py_welcome": welcome, "charge": charges_into(charged)}
    with WorkflowEnvironment([(WASM, "subscription")], mocks=mocks) as env:
        yield env


def test_a_month_is_billed_at_the_plan_the_signal_chose(env, charged):
    run = env.start("subscription", {"customer": "ada", "plan": "basic"}, id="sub-ada")
    env.signal(run, "change-plan", "pro")
    env.skip("30d")  # a month, in milliseconds
    status = env.query(run, "status")
    assert status["welcome"] == "welcome, ada"
    assert status["plan"] == "pro"
    assert status["months_billed"] == 1
    assert [c["amount_cents"] for c in charged] == [3_000]

    final = env.update(run, "cancel", {"reason": "moving"})
    assert final["reason"].startswith("cancellation after 0 day(s)")
    output = env.result(run)
    assert output["active"] is False
    assert output["total_cents"] == 3_000 + final["amount_cents"]


def test_a_year_passes_in_milliseconds(env, charged):
    run = env.start("subscription", {"customer": "bo", "plan": "basic"})
    env.skip("365d")
    assert env.query(run, "status")["months_billed"] == 12
    assert len(charged) == 12


def test_a_failing_charge_is_retried_then_succeeds(env):
    attempts = []

    def flaky(ctx, req):
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ActivityError("card-declined", "try again later")
        return {"id": "inv-1", "customer": req["customer"], "plan": req["plan"],
                "amount_cents": req["amount_cents"], "reason": req["reason"]}

    env.mock("charge", flaky)
    run = env.start("subscription", {"customer": "cy", "plan": "basic"})
    env.skip("30d")  # the first attempt fails at the month's end
    assert env.query(run, "status")["months_billed"] == 0
    env.skip("1m")  # the retries' backoff passes
    assert env.query(run, "status")["months_billed"] == 1
    assert attempts == [1, 2, 3]


def test_a_cancel_without_a_reason_is_rejected_and_leaves_no_trace(env):
    run = env.start("subscription", {"customer": "di", "plan": "basic"})
    with pytest.raises(UpdateRejected, match="ReasonRequired"):
        env.update(run, "cancel", {"reason": " "})
    assert env.query(run, "status")["active"] is True
    env.update(run, "cancel", {"reason": "done"})
    assert env.result(run)["active"] is False


def test_the_history_replays_against_the_component(env, tmp_path):
    run = env.start("subscription", {"customer": "ed", "plan": "pro"})
    env.skip("60d")
    env.update(run, "cancel", {"reason": "done"})
    env.result(run)
    (tmp_path / "ed.json").write_text(json.dumps(env.history(run)))
    assert "1 clean" in replay(WASM, tmp_path)


def test_an_activity_nobody_serves_fails_the_wait_at_once():
    # `py_welcome` is neither mocked nor deployed: result() names it at once
    # instead of waiting out its timeout.
    with WorkflowEnvironment([(WASM, "subscription")], mocks={"charge": charges_into([])}) as env:
        run = env.start("subscription", {"customer": "fay", "plan": "basic"})
        with pytest.raises(RuntimeError, match="py_welcome, which no deployed component and no mock serves"):
            env.result(run)


def test_a_terminated_subscription_bills_no_more(env, charged):
    run = env.start("subscription", {"customer": "gus", "plan": "basic"})
    env.skip("30d")
    env.terminate(run, "fraud")
    with pytest.raises(WorkflowFailed) as ended:
        env.result(run)
    assert ended.value.status == "terminated"
    env.skip("60d")
    assert len(charged) == 1
