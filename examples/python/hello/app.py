"""`py-hello`: the `hello` workflow in Python, three sequential activities
from the Rust `examples/hello-activities`. The benchmarks run it next to the
Rust `hello` to show what a Python guest costs.

Input `{"name": "world", "delay_ms": 0}`; output `"HELLO, WORLD!"`.
"""

from dataclasses import dataclass

import weft


@dataclass
class Input:
    name: str
    delay_ms: int = 0


@weft.workflow
class Hello:
    def run(self, ctx: weft.Ctx, input: Input) -> str:
        def step(text: str) -> dict:
            return {"text": text, "delay_ms": input.delay_ms}

        greeting = ctx.activity("greet", step(input.name))
        loud = ctx.activity("shout", step(greeting))
        return ctx.activity("exclaim", step(loud))
