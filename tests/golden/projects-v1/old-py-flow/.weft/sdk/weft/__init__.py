"""Write weft workflows and activities in Python.

A Python project is one WebAssembly component, built with componentize-py
against ``wit/weft.wit``: world ``workflow`` for a class decorated with
:func:`workflow`, world ``activity`` for functions decorated with
:func:`activity`. See ``guest-sdk/python/README.md`` for the build command.

A workflow::

    import weft

    @weft.workflow
    class Hello:
        def run(self, ctx: weft.Ctx, name: str) -> str:
            greeting = ctx.activity("greet", {"text": name})   # durable, retried
            ctx.sleep(3600)                                     # a durable timer
            return greeting

An activity component::

    import weft

    @weft.activity
    def py_welcome(ctx: weft.ActivityCtx, customer: str) -> str:
        return f"Welcome, {customer}"

Payloads cross the boundary as JSON, exactly as the Rust SDK writes them,
so Python and Rust workflows and activities call each other freely.
"""

from . import _preload
from ._activity import ActivityCtx, ActivityWorld, activity
from ._activity import current as current_activity
from ._codec import decode as from_json
from ._codec import encode as to_json
from ._failure import (
    ActivityFailureInfo,
    ActivityNotFound,
    ActivityTrap,
    Cancelled,
    Failure,
    InvalidInput,
    InvalidOutput,
    Timeout,
)
from ._options import (
    ActivityOptions,
    CancellationType,
    ChildOptions,
    ParentClosePolicy,
    RetryPolicy,
)
from ._saga import Saga
from ._search import Text
from ._workflow import (
    Ctx,
    NOTHING,
    HistoryInfo,
    LogLevel,
    Pending,
    SignalChannel,
    WorkflowInfo,
    WorkflowWorld,
    query,
    signal,
    update,
    workflow,
)

_preload.preload()  # see its docstring: what must be imported at build time

__version__ = "0.1.0"

__all__ = [
    # workflows
    "workflow",
    "signal",
    "query",
    "update",
    "Ctx",
    "Pending",
    "SignalChannel",
    "NOTHING",
    "WorkflowInfo",
    "HistoryInfo",
    "LogLevel",
    "Saga",
    "ActivityOptions",
    "RetryPolicy",
    "CancellationType",
    "ChildOptions",
    "ParentClosePolicy",
    "WorkflowWorld",
    "Text",
    # activities
    "activity",
    "ActivityCtx",
    "ActivityWorld",
    "current_activity",
    # failures
    "Failure",
    "Cancelled",
    "Timeout",
    "ActivityNotFound",
    "ActivityTrap",
    "InvalidInput",
    "InvalidOutput",
    # payloads
    "to_json",
    "from_json",
    "ActivityFailureInfo",
]
