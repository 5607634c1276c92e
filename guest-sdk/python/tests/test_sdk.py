"""Unit tests of the Python SDK's logic against fake bindings (no wasm):
``python3 guest-sdk/python/tests/test_sdk.py``. The end-to-end behaviour (real
components on a real host) is covered by ``tests/e2e/python.rs``."""

from __future__ import annotations

import json
import os
import random
import sys
import unittest
from dataclasses import dataclass
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fake_bindings as fb  # noqa: E402
import weft  # noqa: E402
from weft import _activity, _workflow  # noqa: E402


def fresh() -> fb.FakeHost:
    _workflow._DEFINED = None
    _workflow._FINAL = None
    return fb.install()


def run(world: weft.WorkflowWorld, input: object) -> object:
    return json.loads(world.run(json.dumps(input).encode()))


@dataclass
class Named:
    name: str = "world"


@dataclass
class Step:
    text: str
    delay_ms: int = 0


@dataclass
class Invoice:
    id: str
    amount_cents: int


@dataclass
class Cancel:
    reason: str


class NoCar(weft.Failure):
    non_retryable = True


class WorkflowTests(unittest.TestCase):
    def test_activity_timer_and_typed_input(self) -> None:
        host = fresh()

        @weft.workflow
        class Hello:
            def run(self, ctx: weft.Ctx, step: Step) -> str:
                assert isinstance(step, Step)
                g = ctx.activity("greet", step, start_to_close_timeout=5,
                                 retry=weft.RetryPolicy.attempts(3))
                ctx.sleep(1.5)
                return g

        host.deliveries = [fb.completed(1, b'"Hello, w"'), fb.completed(2)]
        self.assertEqual(run(weft.WorkflowWorld(), {"text": "w"}), "Hello, w")
        (h1, kind, name, data, opts), (h2, tkind, ms) = host.commands
        self.assertEqual((h1, kind, name), (1, "activity", "greet"))
        self.assertEqual(data, b'{"text":"w","delay_ms":0}')
        self.assertEqual(opts.start_to_close_timeout_ms, 5000)
        self.assertEqual(opts.retry.maximum_attempts, 3)
        self.assertEqual(opts.retry.initial_interval_ms, 1000)
        self.assertEqual((h2, tkind, ms), (2, "timer", 1500))

    def test_bad_input_is_an_invalid_input_failure(self) -> None:
        fresh()

        @weft.workflow
        class W:
            def run(self, ctx: weft.Ctx, step: Step) -> str:
                return step.text

        with self.assertRaises(fb.Err) as e:
            weft.WorkflowWorld().run(b'{"txt": 1}')
        self.assertEqual(e.exception.value.kind, "InvalidInput")
        self.assertTrue(e.exception.value.non_retryable)

    def test_failures_map_to_their_class_and_back(self) -> None:
        host = fresh()

        @weft.workflow
        class W:
            def run(self, ctx: weft.Ctx) -> None:
                try:
                    ctx.activity("book_car", {})
                except NoCar as f:
                    assert f.details == {"car": "none"}
                    raise weft.Failure("TripFailed", "no car", details=[1, 2])

        host.deliveries = [fb.failed(1, "NoCar", "none left", b'{"car":"none"}', True)]
        with self.assertRaises(fb.Err) as e:
            weft.WorkflowWorld().run(b"")
        f = e.exception.value
        self.assertEqual((f.kind, f.message, f.details, f.non_retryable),
                         ("TripFailed", "no car", b"[1,2]", False))

    def test_host_failures_are_typed(self) -> None:
        f = _workflow.failure_from_wit(
            fb.Failure("timeout", "slow", b'{"timeout":"heartbeat","attempts":2}', True))
        self.assertIsInstance(f, weft.Timeout)
        self.assertEqual(f.timeout_type, "heartbeat")
        c = _workflow.failure_from_wit(fb.Failure("cancelled", "x", None, True))
        self.assertIsInstance(c, weft.Cancelled)
        self.assertTrue(c.is_cancelled)
        other = _workflow.failure_from_wit(fb.Failure("Whatever", "m", b"not json", False))
        self.assertEqual((type(other), other.details), (weft.Failure, "not json"))

    def test_a_bug_traps(self) -> None:
        fresh()

        @weft.workflow
        class W:
            def run(self, ctx: weft.Ctx) -> None:
                raise KeyError("bug")

        with self.assertRaises(_workflow.GuestCrashed) as e:
            weft.WorkflowWorld().run(b"")
        self.assertIn("KeyError: 'bug' (at test_sdk.py:", str(e.exception))

    def test_random_is_reseeded_from_the_run(self) -> None:
        outs = []
        for _ in range(2):
            fresh()
            random.seed(12345 + len(outs))  # whatever the snapshot had

            @weft.workflow
            class W:
                def run(self, ctx: weft.Ctx) -> list:
                    return [random.random(), ctx.random_u64(), str(ctx.uuid4())]

            outs.append(run(weft.WorkflowWorld(), None))
        self.assertEqual(outs[0], outs[1])

    def test_signal_handlers_queries_and_updates(self) -> None:
        host = fresh()

        @weft.workflow
        class Sub:
            def __init__(self) -> None:
                self.plan = "basic"
                self.changes = 0
                self.cancelled = False

            def run(self, ctx: weft.Ctx) -> dict:
                bill = ctx.timer(30)
                if ctx.select_until([bill], lambda: self.cancelled) is None:
                    return {"plan": self.plan, "changes": self.changes}
                raise AssertionError("the bill fired")

            @weft.signal("change-plan")
            def change_plan(self, ctx: weft.Ctx, plan: str) -> None:
                if plan not in ("basic", "pro"):
                    raise weft.Failure("UnknownPlan", plan)
                self.plan = plan
                self.changes += 1

            @weft.query
            def status(self) -> dict:
                return {"plan": self.plan}

            @weft.update
            def cancel(self, ctx: weft.Ctx, c: Cancel) -> str:
                out = ctx.activity("charge", {"why": c.reason})
                self.cancelled = True
                return out

            @cancel.validator
            def check(self, c: Cancel) -> None:
                if not c.reason.strip():
                    raise weft.Failure("ReasonRequired", "say why")

        names = weft.WorkflowWorld().handlers()
        self.assertEqual(names, fb.HandlerNames(["change-plan"], ["status"], ["cancel"]))

        R = fb.Request
        host.deliveries = [
            # handles: 1 timer, 2 receive change-plan
            lambda hs: (self.assertEqual(hs, [1, 2]), fb.completed(2, b'"pro"'))[1],
            fb.completed(3, b'"gold"'),  # re-armed as 3; ignored with a warning
            fb.Delivery_Query(R(7, "status", b"")),
            fb.Delivery_Query(R(8, "nope", b"")),
            fb.Delivery_ValidateUpdate(R(9, "cancel", b'{"reason": " "}')),
            fb.Delivery_ValidateUpdate(R(10, "cancel", b'{"reason": "moving"}')),
            fb.Delivery_Update(fb.Update("u1", "cancel", b'{"reason": "moving"}')),
            fb.completed(5, b'"invoice-1"'),  # 4 re-armed receive, 5 the charge
        ]
        out = run(weft.WorkflowWorld(), None)
        self.assertEqual(out, {"plan": "pro", "changes": 1})
        self.assertEqual(host.responses[0], (7, fb.Ok(b'{"plan":"pro"}')))
        self.assertEqual(host.responses[1][1].value.kind, "unknown-query")
        self.assertEqual(host.responses[2][1].value.kind, "ReasonRequired")
        self.assertEqual(host.responses[3], (10, fb.Ok(b"")))
        self.assertEqual(host.updates, [("u1", fb.Ok(b'"invoice-1"'))])
        self.assertTrue(any("ignored" in m for _, m in host.logs), host.logs)
        # Closed: the final state answers.
        self.assertEqual(weft.WorkflowWorld().query("status", b""), b'{"plan":"pro"}')

    def test_channels_select_and_join_all(self) -> None:
        host = fresh()

        @weft.workflow(signals=["decision"])
        class W:
            def run(self, ctx: weft.Ctx) -> list:
                decisions = ctx.signal_channel("decision", dict)
                deadline = ctx.timer(60)
                got = []
                while len(got) < 2:
                    i = ctx.select(deadline, decisions)
                    if i == 0:
                        break
                    got.append(decisions.receive())
                ps = [ctx.start_activity("greet", {"text": t}) for t in "ab"]
                res = ctx.join_all(ps, return_exceptions=True)
                return [got, res[0], str(res[1])]

        host.deliveries = [
            fb.completed(2, b'{"ok": true}'),
            fb.completed(3, b'{"ok": false}'),
            # 1 timer, 2 and 3 receives, 4 and 5 activities: the second ends first
            fb.failed(5, "Boom", "x"),
            fb.completed(4, b'"A"'),
        ]
        out = run(weft.WorkflowWorld(), None)
        self.assertEqual(out, [[{"ok": True}, {"ok": False}], "A", "Boom: x"])
        self.assertEqual(weft.WorkflowWorld().handlers().signals, ["decision"])

    def test_join_all_sees_what_a_handler_joined_meanwhile(self) -> None:
        host = fresh()

        @weft.workflow
        class W:
            def run(self, ctx: weft.Ctx) -> list:
                ps = [ctx.start_activity("greet", {"text": t}) for t in "abc"]
                self.second = ps[1]
                return ctx.join_all(ps)

            @weft.signal("peek")
            def peek(self, ctx: weft.Ctx, _: object) -> None:
                ctx.join(self.second)

        host.deliveries = [
            # 1-3 the activities, 4 the handler's receive: the handler joins
            # 2 inside the join-all's first wait, which then takes 3.
            lambda hs: (self.assertEqual(hs, [1, 2, 3, 4]), fb.completed(4, b"null"))[1],
            lambda hs: (self.assertEqual(hs, [2]), fb.completed(2, b'"B"'))[1],
            fb.completed(3, b'"C"'),
            # Only 1 is left to wait for (and 5, the handler's receive again),
            # not 2 a second time.
            lambda hs: (self.assertEqual(hs, [1, 5]), fb.completed(1, b'"A"'))[1],
        ]
        out = run(weft.WorkflowWorld(), None)
        self.assertEqual(out, ["A", "B", "C"])

    def test_cancellation(self) -> None:
        host = fresh()

        @weft.workflow(signals=["go"])
        class W:
            def run(self, ctx: weft.Ctx) -> str:
                try:
                    ctx.signal_channel("go").receive()
                except weft.Cancelled:
                    assert ctx.cancel_requested
                    ctx.activity("cleanup", None)
                    raise
                return "no"

        host.deliveries = [fb.Delivery_Cancelled("stop"), fb.completed(2, b"null")]
        with self.assertRaises(fb.Err) as e:
            weft.WorkflowWorld().run(b"")
        self.assertEqual(e.exception.value.kind, "cancelled")

    def test_no_input_takes_the_dataclass_defaults(self) -> None:
        fresh()

        @weft.workflow
        class W:
            def run(self, ctx: weft.Ctx, i: Named) -> str:
                return f"Hello, {i.name}!"

        self.assertEqual(run(weft.WorkflowWorld(), None), "Hello, world!")

    def test_cancellation_types_choose_the_import(self) -> None:
        host = fresh()

        @weft.workflow
        class W:
            def run(self, ctx: weft.Ctx) -> None:
                ctx.start_activity("a", None)
                ctx.start_activity(
                    "b", None, cancellation_type=weft.CancellationType.ABANDON)
                ctx.start_child("c", None)
                ctx.start_child("d", None, cancellation_type="try-cancel")
                try:
                    ctx.start_child("e", None, cancellation_type="later")
                except ValueError as e:
                    assert "wait-cancellation-completed" in str(e), e

        weft.WorkflowWorld().run(b"")
        extra = [c[5:] for c in host.commands]
        self.assertEqual(extra, [
            (),
            (fb.CancellationType.ABANDON,),
            (),
            (fb.IdReusePolicy.ALLOW_DUPLICATE, fb.CancellationType.TRY_CANCEL),
        ])

    def test_search_attributes_and_memo_take_their_types_from_the_values(self) -> None:
        import datetime

        host = fresh()

        @weft.workflow
        class W:
            def run(self, ctx: weft.Ctx, _: None) -> None:
                ctx.upsert_search_attributes({
                    "CustomerId": "c-42", "Note": weft.Text("rush order"), "Items": 3,
                    "Amount": 12.5, "Vip": True, "Tags": ["eu", "new"], "Old": None,
                    "DueAt": datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc),
                })
                ctx.upsert_memo({"note": {"by": "ada"}, "gone": None})
                with self_test.assertRaises(TypeError):
                    ctx.upsert_search_attributes({"Bad": {"a": 1}})
                seen = ctx.search_attributes()
                self_test.assertEqual(seen["Stage"], "two")
                self_test.assertEqual(
                    seen["DueAt"], datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc))
                self_test.assertEqual(ctx.memo(), {"note": {"by": "ada"}})

        self_test = self
        weft.WorkflowWorld().run(b"null")
        (_, kind, attrs), (_, kind2, fields) = host.commands
        self.assertEqual(kind, "search")
        got = {a.name: a.value for a in attrs}
        self.assertEqual(got["CustomerId"], fb.SearchValue_Keyword("c-42"))
        self.assertEqual(got["Note"], fb.SearchValue_Text("rush order"))
        self.assertEqual(got["Items"], fb.SearchValue_Int(3))
        self.assertEqual(got["Amount"], fb.SearchValue_Double(12.5))
        self.assertEqual(got["Vip"], fb.SearchValue_Boolean(True))
        self.assertEqual(got["Tags"], fb.SearchValue_KeywordList(["eu", "new"]))
        self.assertEqual(got["DueAt"], fb.SearchValue_Datetime(1_793_491_200_000))
        self.assertIsNone(got["Old"])
        self.assertEqual(kind2, "memo")
        self.assertEqual({f.name: f.value for f in fields}, {"note": b'{"by":"ada"}', "gone": None})

    def test_children_patches_continue_as_new_and_saga(self) -> None:
        host = fresh()

        @weft.workflow
        class W:
            def run(self, ctx: weft.Ctx, n: int) -> None:
                if ctx.patched("p1"):
                    ctx.child("batch", [1], id="c-1",
                              parent_close_policy=weft.ParentClosePolicy.ABANDON)
                ctx.deprecate_patch("p0")
                saga = weft.Saga(ctx)
                try:
                    saga.add("undo_a", "a")
                    saga.add("undo_b", "b")
                    ctx.activity("step", None)
                except weft.Failure as f:
                    err = saga.compensate_and_fail(f)
                    assert err.details == {"failed_compensations": ["X: y"]}, err.details
                ctx.continue_as_new(n + 1)

        host.deliveries = [fb.completed(1, b"3"), fb.failed(2, "Boom", "b"),
                           fb.completed(3), fb.failed(4, "X", "y")]
        with self.assertRaises(fb.ContinuedAsNew) as e:
            weft.WorkflowWorld().run(b"1")
        self.assertEqual(e.exception.args[0], b"2")
        kinds = [(c[1], c[2]) for c in host.commands]
        self.assertEqual(kinds, [("child", "batch"), ("deprecate", "p0"), ("activity", "step"),
                                 ("activity", "undo_b"), ("activity", "undo_a")])
        self.assertEqual(host.commands[0][4].parent_close_policy, fb.ParentClosePolicy.ABANDON)

    def test_update_handler_crash_is_not_caught_by_user_code(self) -> None:
        host = fresh()

        @weft.workflow
        class W:
            def run(self, ctx: weft.Ctx) -> str:
                try:
                    ctx.sleep(5)
                except Exception:
                    return "swallowed"
                return "slept"

            @weft.update
            def boom(self, ctx: weft.Ctx) -> None:
                raise ZeroDivisionError("bug")

        host.deliveries = [fb.Delivery_Update(fb.Update("u", "boom", b""))]
        with self.assertRaises(_workflow.GuestCrashed) as e:
            weft.WorkflowWorld().run(b"")
        self.assertIn("update `boom` crashed: ZeroDivisionError('bug') (at test_sdk.py:",
                      str(e.exception))


class ActivityTests(unittest.TestCase):
    def setUp(self) -> None:
        self.host = fresh()
        _activity._ACTIVITIES.clear()

    def test_execute(self) -> None:
        @weft.activity
        def greet(ctx: weft.ActivityCtx, step: Step) -> str:
            ctx.heartbeat({"at": 1})
            return f"Hello, {step.text} ({ctx.idempotency_key})"

        @weft.activity(name="py_fail")
        def fail(x: Optional[int]) -> None:
            raise NoCar("none", details={"x": x})

        @weft.activity
        def crash() -> None:
            raise ValueError("oops")

        @weft.activity
        def resume(ctx: weft.ActivityCtx, _: None) -> List[int]:
            return [ctx.heartbeat_details(int, default=0)]

        w = weft.ActivityWorld()
        self.assertEqual(w.activities(), ["greet", "py_fail", "crash", "resume"])
        self.assertEqual(w.execute("greet", b'{"text":"w"}'), b'"Hello, w (ex-1/3)"')
        self.assertEqual(self.host.heartbeats, [b'{"at":1}'])
        with self.assertRaises(fb.Err) as e:
            w.execute("py_fail", b"3")
        self.assertEqual(e.exception.value, fb.Failure("NoCar", "none", b'{"x":3}', True))
        with self.assertRaises(fb.Err) as e:
            w.execute("crash", b"")
        self.assertEqual((e.exception.value.kind, e.exception.value.non_retryable),
                         ("ValueError", False))
        self.assertIn(b"test_sdk.py:", e.exception.value.details)
        with self.assertRaises(fb.Err) as e:
            w.execute("greet", b'{"nope":1}')
        self.assertEqual(e.exception.value.kind, "InvalidInput")
        with self.assertRaises(fb.Err) as e:
            w.execute("missing", b"")
        self.assertEqual(e.exception.value.kind, "activity-not-found")
        self.host.activity_info.heartbeat_details = b"41"
        self.assertEqual(w.execute("resume", b""), b"[41]")


class CodecTests(unittest.TestCase):
    def test_encoding_matches_serde_json(self) -> None:
        self.assertEqual(weft.to_json({"a": [1, 2.5, None, True], "é": "ü"}),
                         '{"a":[1,2.5,null,true],"é":"ü"}'.encode())
        self.assertEqual(weft.to_json(Invoice("i", 3)), b'{"id":"i","amount_cents":3}')
        self.assertIsNone(weft.from_json(b""))
        with self.assertRaises(ValueError):
            weft.to_json(float("nan"))

    def test_failure_constructors(self) -> None:
        f = weft.Failure("K", "m", non_retryable=True)
        self.assertEqual((f.kind, f.message, f.non_retryable), ("K", "m", True))
        n = NoCar("gone")
        self.assertEqual((n.kind, n.message, n.non_retryable), ("NoCar", "gone", True))
        self.assertEqual(str(weft.Failure.cancelled("the trip")), "cancelled: the trip was cancelled")
        self.assertIsInstance(weft.Failure.new("NoCar", "x"), NoCar)


if __name__ == "__main__":
    unittest.main()
