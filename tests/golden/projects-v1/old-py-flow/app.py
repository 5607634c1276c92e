"""The `old-py-flow` workflow. Build with `weft build`, deploy with
`weft deploy old-py-flow.wasm`, run with
`weft start old-py-flow --input '{"name": "world"}' --wait`.

Workflow code is deterministic: talk to the world through `ctx`
(ctx.activity, ctx.sleep, ctx.start_child, signals, ...); `random` and
`time.time()` are replayed from the history. Import everything at the top
of the module: the component is a snapshot taken at build time. See the weft
Python SDK's README for the whole API.
"""

from dataclasses import dataclass

import weft


@dataclass
class Input:
    name: str = "world"


@weft.workflow
class Main:
    """The workflow's state: its handlers (queries, signals, updates) see it too."""

    def __init__(self) -> None:
        self.greeted_name = None

    def run(self, ctx: weft.Ctx, input: Input) -> str:
        # Durable steps go here, e.g. ctx.activity("old-py-flow.hello", input.name)
        # or ctx.sleep(3600): a restart of the host resumes them, never repeats.
        self.greeted_name = input.name
        ctx.log(f"greeted {input.name}")
        return f"Hello, {input.name}!"

    @weft.query
    def greeted(self) -> object:
        return self.greeted_name
