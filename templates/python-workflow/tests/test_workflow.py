"""Tests of the `{{name}}` workflow: run `weft build`, then `pytest`.

The test environment (`weft_testing`, from the weft SDK package) starts a
private weft host per test (`weft` on PATH, or WEFT_BIN) with a manual clock:
`env.skip("30d")` takes milliseconds, and `mocks={"name": fn(ctx, input)}`
stands in for activities. See the weft README, "Testing workflows".
"""

import os

from weft_testing import WorkflowEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))

WASM = os.path.join(HERE, "..", "{{name}}.wasm")


def test_it_greets_and_remembers_whom():
    with WorkflowEnvironment([(WASM, "{{name}}")]) as env:
        run = env.start("{{name}}", {"name": "world"})
        assert env.result(run) == "Hello, world!"
        assert env.query(run, "greeted") == "world"
