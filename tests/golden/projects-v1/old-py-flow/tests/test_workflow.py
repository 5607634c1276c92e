"""Tests of the `old-py-flow` workflow: run `weft build`, then `pytest`.

The test environment (`.weft/sdk/weft_testing.py`) starts a private weft host
per test (`weft` on PATH, or WEFT_BIN) with a manual clock: `env.skip("30d")`
takes milliseconds, and `mocks={"name": fn(ctx, input)}` stands in for
activities. See the weft README, "Testing workflows".
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".weft", "sdk"))

from weft_testing import WorkflowEnvironment  # noqa: E402

WASM = os.path.join(HERE, "..", "old-py-flow.wasm")


def test_it_greets_and_remembers_whom():
    with WorkflowEnvironment([(WASM, "old-py-flow")]) as env:
        run = env.start("old-py-flow", {"name": "world"})
        assert env.result(run) == "Hello, world!"
        assert env.query(run, "greeted") == "world"
