"""The workflow side: the ``@workflow`` class decorator, the handler
decorators, the :class:`Ctx` a workflow talks to the host through, and the
component's exports (``run``, ``handlers``, ``query``).

Everything nondeterministic goes through ``Ctx`` (activities, timers,
signals, children, time and randomness) or through WASI, which the host makes
deterministic for workflows (``time.time()`` reads workflow time). The host
records each answer, so a replay of the same code over the same history takes
the same path.

The model is synchronous, like the Rust SDK: ``ctx.activity(...)`` issues the
command and blocks in the host's ``wait`` until it completes. Concurrency is
"start several, then join or select".
"""

from __future__ import annotations

import datetime
import enum
import inspect
import random as _random
import sys
import traceback
import typing
import uuid
import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import _codec
from ._failure import ActivityFailureInfo, Failure, InvalidInput, InvalidOutput
from ._options import (
    ActivityOptions,
    ChildOptions,
    ParentClosePolicy,
    activity_options,
    cancellation_type as _cancellation_type,
)

__all__ = [
    "workflow",
    "signal",
    "query",
    "update",
    "Ctx",
    "Pending",
    "SignalChannel",
    "WorkflowInfo",
    "HistoryInfo",
    "LogLevel",
    "WorkflowWorld",
]

# --------------------------------------------------------------------------
# The generated bindings, imported on first use: an activity component has
# no `runtime` import, and the SDK must import there too.

_RT: Any = None


def _rt() -> Any:
    global _RT
    if _RT is None:
        from wit_world.imports import runtime  # type: ignore[import-not-found]

        _RT = runtime
    return _RT


def _ok(value: Any) -> Any:
    from componentize_py_types import Ok  # type: ignore[import-not-found]

    return Ok(value)


def _err(value: Any) -> Any:
    from componentize_py_types import Err  # type: ignore[import-not-found]

    return Err(value)


def failure_to_wit(f: Failure) -> Any:
    from wit_world.imports import types  # type: ignore[import-not-found]

    details = None
    if f.details is not None:
        try:
            details = _codec.encode(f.details)
        except (TypeError, ValueError):
            details = _codec.encode(repr(f.details))
    return types.Failure(
        kind=f.kind, message=f.message, details=details, non_retryable=bool(f.non_retryable)
    )


def failure_from_wit(f: Any) -> Failure:
    details = None
    if f.details is not None:
        try:
            details = _codec.decode(f.details)
        except ValueError:
            details = bytes(f.details).decode("utf-8", "replace")
    return Failure.new(f.kind, f.message, details=details, non_retryable=f.non_retryable)


def _activity_failure(info: Any) -> Optional[ActivityFailureInfo]:
    if info is None:
        return None
    state = getattr(info.retry_state, "name", str(info.retry_state)).lower().replace("_", "-")
    cause = failure_from_wit(info.cause) if info.cause is not None else None
    return ActivityFailureInfo(attempts=int(info.attempts), retry_state=state, cause=cause)


# An outcome: (True, payload bytes) or (False, Failure).
Outcome = Tuple[bool, Any]


def _outcome(result: Any) -> Outcome:
    from componentize_py_types import Ok  # type: ignore[import-not-found]

    if isinstance(result, Ok):
        return True, bytes(result.value)
    return False, failure_from_wit(result.value)


def _where(e: BaseException) -> str:
    """Where an exception was raised, as ``file:line in function``."""
    tb = e.__traceback__
    frame = None
    while tb is not None:
        frame = tb
        tb = tb.tb_next
    if frame is None:
        return "unknown location"
    code = frame.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{frame.tb_lineno} in {code.co_name}"


def crash_summary(e: BaseException) -> str:
    """One line naming a crash and where it happened (a handler's crash
    names the handler and the original exception)."""
    inner = e.__cause__ if isinstance(e, _HandlerCrashed) and e.__cause__ is not None else e
    head = f"{e.args[0]}" if isinstance(e, _HandlerCrashed) else f"{type(e).__name__}: {e}"
    return f"{head} (at {_where(inner)})"


class GuestCrashed(Exception):
    """Raised out of an export after a bug, so that the one line the host
    keeps as the stall reason says what crashed and where (the full
    traceback is printed just before)."""


class _HandlerCrashed(BaseException):
    """A signal or update handler raised something other than a Failure: a
    bug. It travels up through the main flow (an ``except Exception`` there
    does not catch it) and traps the guest, so the execution stalls until a
    fixed module is deployed, as a panic does in the Rust SDK."""


# --------------------------------------------------------------------------
# Handler declarations.


def _is_ctx_param(p: inspect.Parameter) -> bool:
    ann = p.annotation
    if ann is Ctx or (isinstance(ann, str) and ann.split(".")[-1] == "Ctx"):
        return True
    return p.name == "ctx"


class _Handler:
    """A decorated method: its name, whether it takes the ctx and an input."""

    def __init__(self, kind: str, name: str, fn: Callable, validator: Optional[Callable] = None):
        if not callable(fn):
            raise TypeError(f"@{kind} decorates a method, not {fn!r}")
        self.kind = kind
        self.name = name
        self.fn = fn
        self.validator = validator
        params = [
            p
            for p in list(inspect.signature(fn).parameters.values())[1:]
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        self.wants_ctx = False
        if kind in ("signal", "update") and params and _is_ctx_param(params[0]):
            self.wants_ctx = True
            params = params[1:]
        if len(params) > 1:
            raise TypeError(
                f"@{kind} {name!r}: the method takes (self{', ctx' if kind != 'query' else ''}"
                f"[, input]), not {len(params)} inputs"
            )
        self.input_param = params[0].name if params else None
        self._input_type: Any = _UNRESOLVED

    def input_type(self) -> Any:
        if self._input_type is _UNRESOLVED:
            self._input_type = _hint(self.fn, self.input_param)
        return self._input_type

    def args(self, ctx: Optional["Ctx"], data: bytes) -> list:
        out: list = []
        if self.wants_ctx:
            out.append(ctx)
        if self.input_param is not None:
            out.append(_decode_input(f"the input of {self.kind} `{self.name}`", data, self.input_type()))
        return out

    def validate(self, wf: Any, data: bytes) -> None:
        if self.validator is None:
            return
        params = [
            p
            for p in list(inspect.signature(self.validator).parameters.values())[1:]
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        args = []
        if params:
            args.append(
                _decode_input(
                    f"the input of update `{self.name}`",
                    data,
                    _hint(self.validator, params[0].name) if params else None,
                )
            )
        if self.validator(wf, *args) is False:
            raise Failure("Rejected", f"the update `{self.name}` was rejected")


_UNRESOLVED = object()


def _hint(fn: Callable, param: Optional[str]) -> Any:
    if param is None:
        return None
    try:
        return typing.get_type_hints(fn).get(param)
    except Exception:
        pass
    # Some other annotation does not resolve: read this one alone.
    ann = inspect.signature(fn).parameters[param].annotation
    if ann is inspect.Parameter.empty:
        return None
    if isinstance(ann, str):
        try:
            return eval(ann, getattr(fn, "__globals__", {}))  # noqa: S307 - the module's own annotation
        except Exception:
            return None
    return ann


def _decode_input(what: str, data: bytes, tp: Any) -> Any:
    try:
        value = _codec.decode(data)
    except ValueError as e:
        raise InvalidInput(f"{what} is not JSON: {e}") from None
    if value is None and isinstance(tp, type) and dataclasses.is_dataclass(tp):
        # No input (`weft start TYPE`): a dataclass whose fields all have
        # defaults takes them.
        try:
            return _codec.convert({}, tp)
        except (TypeError, ValueError, KeyError) as e:
            raise InvalidInput(
                f"{what} is missing, and {tp.__name__} has fields without a default: {e}"
            ) from None
    try:
        return _codec.convert(value, tp)
    except (TypeError, ValueError, KeyError) as e:
        raise InvalidInput(f"{what} is not the JSON expected: {e}") from None


def _handler_decorator(kind: str, arg: Any, name: Optional[str], **extra: Any) -> Any:
    def mark(fn: Callable) -> Callable:
        h = _Handler(kind, name or fn.__name__, fn, **extra)
        fn.__weft_handler__ = h  # type: ignore[attr-defined]
        if kind == "update":

            def validator(v: Callable) -> Callable:
                h.validator = v
                return v

            fn.validator = validator  # type: ignore[attr-defined]
        return fn

    if callable(arg) and not isinstance(arg, str):
        return mark(arg)
    if isinstance(arg, str):
        name = arg
    return mark


def signal(arg: Any = None, *, name: Optional[str] = None) -> Any:
    """Marks a method as the handler of a signal (named after the method, or
    ``name``). It runs at one of the main flow's waits, once per signal, in
    the order the signals were sent: ``def on_x(self, input)``, or
    ``def on_x(self, ctx, input)`` to issue commands. A
    :class:`~weft.Failure` it raises (a bad input included) drops that
    signal with a warning in the log; any other exception is a bug and stalls
    the execution."""
    return _handler_decorator("signal", arg, name)


def query(arg: Any = None, *, name: Optional[str] = None) -> Any:
    """Marks a method as a query: read-only, never recorded;
    ``def status(self)`` or ``def status(self, input)``. It runs at one of the
    main flow's waits (or on the final state once the execution closed)."""
    return _handler_decorator("query", arg, name)


def update(arg: Any = None, *, name: Optional[str] = None, validator: Optional[Callable] = None) -> Any:
    """Marks a method as an update: ``def cancel(self, ctx, input)`` changes
    the state and returns a result; it may run activities and timers through
    ``ctx``. An optional validator (``validator=`` or ``@cancel.validator``)
    runs first, read-only: raising a Failure (or returning False) rejects the
    call, which then leaves no trace in the history."""
    return _handler_decorator("update", arg, name, validator=validator)


# --------------------------------------------------------------------------
# The workflow type.


class _WorkflowDef:
    def __init__(self, cls: type, signals: Sequence[str]):
        self.cls = cls
        self.declared_signals = [str(s) for s in signals]
        self.signals: Dict[str, _Handler] = {}
        self.queries: Dict[str, _Handler] = {}
        self.updates: Dict[str, _Handler] = {}
        seen = set()
        for klass in cls.__mro__:
            for attr, value in vars(klass).items():
                if attr in seen:
                    continue
                seen.add(attr)
                h = getattr(value, "__weft_handler__", None)
                if not isinstance(h, _Handler):
                    continue
                table = {"signal": self.signals, "query": self.queries, "update": self.updates}[h.kind]
                if h.name in table and table[h.name].fn is not h.fn:
                    raise TypeError(f"{cls.__name__}: two {h.kind} handlers named {h.name!r}")
                table[h.name] = h
        run = getattr(cls, "run", None)
        if not callable(run):
            raise TypeError(f"@workflow {cls.__name__}: define run(self, ctx, input)")
        params = [
            p
            for p in list(inspect.signature(run).parameters.values())[1:]
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not 1 <= len(params) <= 2:
            raise TypeError(f"@workflow {cls.__name__}: run takes (self, ctx[, input])")
        self.run_input = params[1].name if len(params) == 2 else None
        self._run_type: Any = _UNRESOLVED

    def decode_input(self, data: bytes) -> list:
        if self.run_input is None:
            return []
        if self._run_type is _UNRESOLVED:
            self._run_type = _hint(self.cls.run, self.run_input)
        return [_decode_input("the workflow input", data, self._run_type)]

    def signal_names(self) -> List[str]:
        names = list(self.declared_signals)
        for n in self.signals:
            if n not in names:
                names.append(n)
        return names


_DEFINED: Optional[_WorkflowDef] = None
_FINAL: Optional[Tuple[_WorkflowDef, Any]] = None


def workflow(cls: Any = None, *, signals: Sequence[str] = ()) -> Any:
    """Makes a class the component's workflow type and exports it.

    The class is the workflow's state: an instance is made with no arguments
    at the start of each run, ``run(self, ctx, input)`` is the body, and the
    methods marked ``@signal``, ``@query`` and ``@update`` are its handlers.
    ``signals=`` declares the names received through
    ``ctx.signal_channel(name)`` rather than a handler.

    The decorator puts the component's export class (``WitWorld``, which
    componentize-py looks for) into the class's module; if the app module is
    another one, write ``from weft import WorkflowWorld as WitWorld`` there.
    """

    def wrap(klass: type) -> type:
        global _DEFINED
        defn = _WorkflowDef(klass, signals)
        if _DEFINED is not None and _DEFINED.cls is not klass:
            raise TypeError(
                f"@workflow {klass.__name__}: this component already defines "
                f"{_DEFINED.cls.__name__}; a component is one workflow type"
            )
        _DEFINED = defn
        klass.__weft_workflow__ = defn  # type: ignore[attr-defined]
        module = sys.modules.get(klass.__module__)
        if module is not None and not hasattr(module, "WitWorld"):
            module.WitWorld = WorkflowWorld  # type: ignore[attr-defined]
        return klass

    if cls is not None:
        return wrap(cls)
    return wrap


# --------------------------------------------------------------------------
# Commands and their results.


class Pending:
    """A command started but not yet joined: an activity, a timer or a child.

    ``p.result()`` (or ``ctx.join(p)``) waits for it and returns its output,
    or raises its :class:`~weft.Failure`. Commands are committed (and start)
    at the next wait of the workflow: one never joined still runs if the
    workflow waits on anything afterwards."""

    __slots__ = ("_ctx", "handle", "_type", "what", "_outcome")

    def __init__(self, ctx: "Ctx", handle: int, result_type: Any, what: str):
        self._ctx = ctx
        #: The host's handle of the command, as the history shows it.
        self.handle = handle
        self._type = result_type
        self.what = what
        self._outcome: Optional[Outcome] = None

    def result(self) -> Any:
        return self._ctx.join(self)

    def done(self) -> bool:
        """True once the outcome arrived (it may still be unread)."""
        return self._outcome is not None or self.handle in self._ctx._ready

    def cancel(self) -> None:
        """Cancels the activity, timer or child (see :meth:`Ctx.cancel`)."""
        self._ctx.cancel(self)

    def _handle(self) -> int:
        return self.handle

    def _is_ready(self) -> bool:
        return self.done()

    def _decode(self, data: bytes) -> Any:
        value = _codec.decode(data)
        try:
            return _codec.convert(value, self._type)
        except (TypeError, ValueError, KeyError) as e:
            raise TypeError(
                f"the output of {self.what} (handle {self.handle}) does not read as "
                f"{self._type!r}: {e}"
            ) from None

    def __repr__(self) -> str:
        return f"Pending({self.what}, handle={self.handle})"


class _Nothing:
    """What :meth:`Ctx.try_receive` returns when no signal is waiting (a
    signal's input may itself be ``None``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "weft.NOTHING"

    def __bool__(self) -> bool:
        return False


#: No signal was waiting (see :meth:`Ctx.try_receive`).
NOTHING = _Nothing()


#: The patch marker of "a signal handler's waits run no other handler".
_HANDLERS_IN_TURN = "weft.signal-handlers-in-turn"


class SignalChannel:
    """The signals of one name, in the order they were sent. Receive with
    ``channel.receive()``; race with timers and activities in
    ``ctx.select``. A receive that loses a select stays armed, so the next
    signal is not lost. Declare the name in ``@workflow(signals=[...])``."""

    def __init__(self, ctx: "Ctx", name: str, type: Any = None):
        self._ctx = ctx
        self.name = name
        self._type = type
        self._armed: Optional[int] = None

    def receive(self) -> Any:
        return self._ctx.receive(self)

    def try_receive(self) -> Any:
        """The next signal if one is waiting, else ``weft.NOTHING`` (see
        :meth:`Ctx.try_receive`)."""
        return self._ctx.try_receive(self)

    def _handle(self) -> int:
        if self._armed is None:
            h = _rt().receive_signal(self.name)
            self._armed = h
            self._ctx._receives.add(h)
        return self._armed

    def _is_ready(self) -> bool:
        return self._armed is not None and self._armed in self._ctx._ready

    def __repr__(self) -> str:
        return f"SignalChannel({self.name!r})"


Selectable = Union[Pending, SignalChannel]


class LogLevel(str, enum.Enum):
    TRACE = "trace"
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class _Log:
    """``ctx.log(message)``, ``ctx.log(message, "warn")``, ``ctx.log.warn(message)``:
    a line in the host's log, not repeated during replays. (``print`` goes
    to the host's log too.)"""

    def __call__(self, message: Any, level: Union[str, LogLevel] = LogLevel.INFO) -> None:
        name = level.value if isinstance(level, LogLevel) else str(level).lower()
        lvl = LogLevel("warn" if name == "warning" else name)
        rt = _rt()
        rt.log(getattr(rt.LogLevel, lvl.name), str(message))

    def trace(self, message: Any) -> None:
        self(message, LogLevel.TRACE)

    def debug(self, message: Any) -> None:
        self(message, LogLevel.DEBUG)

    def info(self, message: Any) -> None:
        self(message, LogLevel.INFO)

    def warn(self, message: Any) -> None:
        self(message, LogLevel.WARN)

    warning = warn

    def error(self, message: Any) -> None:
        self(message, LogLevel.ERROR)


@dataclass(frozen=True)
class WorkflowInfo:
    """What the host knows about this execution."""

    workflow_type: str
    execution_id: str
    #: sha-256 of the module, hex.
    module: str
    #: Workflow time at start, ms since the Unix epoch.
    started_at_ms: int

    @property
    def started_at(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.started_at_ms / 1000, tz=datetime.timezone.utc)


@dataclass(frozen=True)
class HistoryInfo:
    #: Events of this run so far, as the code has seen them (deterministic).
    length: int
    #: Past the host's warning limit: continue as new soon.
    continue_as_new_suggested: bool


class Ctx:
    """The workflow's door to the host. ``ctx.workflow`` is the workflow
    object (the state the handlers see)."""

    def __init__(self, defn: _WorkflowDef, wf: Any):
        self._defn = defn
        self.workflow = wf
        # Completions the host delivered before the code asked for them.
        self._ready: Dict[int, Outcome] = {}
        # How many completions waits handed to the code (a join_all that
        # sees more than its own winner across a wait looks again).
        self._completions = 0
        # Handles of the channel receives issued in this run.
        self._receives: set = set()
        # Armed receives of the signals that have a handler: handle -> handler.
        self._auto: Dict[int, _Handler] = {}
        self._armed: Dict[str, int] = {}
        # A signal handler runs (its waits run no other handler), and
        # whether this run takes that rule (see `_handlers_in_turn`).
        self._in_signal_handler = False
        self._in_turn: Optional[bool] = None
        # The handles of the activities started: their failures carry the
        # host's envelope (``Failure.activity``).
        self._activities: set = set()
        self._channels: set = set()
        #: The reason of the cancellation request, once one arrived.
        self.cancel_reason: Optional[str] = None
        self.log = _Log()

    # -- cancellation ------------------------------------------------------

    @property
    def cancel_requested(self) -> bool:
        """Whether a cancellation was requested (``weft cancel``). The
        workflow may still run activities to clean up before it returns;
        raising ``weft.Cancelled`` ends it as cancelled."""
        return self.cancel_reason is not None

    def is_cancel_requested(self) -> bool:
        return self.cancel_requested

    # -- activities ----------------------------------------------------------

    def start_activity(
        self,
        name: str,
        input: Any = None,
        *,
        result_type: Any = None,
        options: Optional[ActivityOptions] = None,
        **option_overrides: Any,
    ) -> Pending:
        """Schedules an activity and returns at once; the host runs it once
        this workflow task is committed, at the next wait. Options:
        ``retry=RetryPolicy(...)``, ``start_to_close_timeout=``,
        ``schedule_to_close_timeout=``, ``schedule_to_start_timeout=``,
        ``heartbeat_timeout=`` (seconds or timedelta), ``task_queue=``,
        ``cancellation_type=CancellationType...``, or a whole
        ``options=ActivityOptions(...)``."""
        opts = activity_options(options, option_overrides)
        data = _encode_arg(input, f"the input of activity `{name}`")
        rt = _rt()
        kind = _cancellation_type(opts.cancellation_type)
        if kind is None:
            h = rt.start_activity(name, data, opts._to_wit(rt))
        else:
            h = rt.start_activity_with(name, data, opts._to_wit(rt), kind._to_wit(rt))
        self._activities.add(h)
        return Pending(self, h, result_type, f"activity `{name}`")

    def activity(
        self,
        name: str,
        input: Any = None,
        *,
        result_type: Any = None,
        options: Optional[ActivityOptions] = None,
        **option_overrides: Any,
    ) -> Any:
        """Runs an activity and waits for its output (after retries), or
        raises its final failure."""
        return self.join(
            self.start_activity(
                name, input, result_type=result_type, options=options, **option_overrides
            )
        )

    def cancel(self, pending: Pending) -> None:
        """Cancels what ``pending`` started, as its ``CancellationType``
        says. An activity (by default ``TRY_CANCEL``): joining it raises
        ``weft.Cancelled`` at once, and the activity learns of it at its
        next heartbeat, with a grace period to clean up; it is never
        retried. A timer: it completes at once and joining it
        raises ``weft.Cancelled``. A child (by default
        ``WAIT_CANCELLATION_COMPLETED``): the child is asked to cancel (as
        ``weft cancel`` would) and joining it gives how the child ended
        (``weft.Cancelled`` when it honoured the request). Cancelling
        something already done changes nothing."""
        _rt().cancel(pending.handle)

    def signal_execution(self, id: str, name: str, input: Any = None) -> Pending:
        """Sends signal ``name`` with ``input`` to the running execution
        ``id`` (its current run), as ``weft signal`` would. Joining the
        result returns once the signal is recorded there, or raises a
        ``not-found`` failure when no execution of that id runs. Recorded
        first and delivered once, also across a crash of the host."""
        data = _encode_arg(input, f"the input of signal `{name}`")
        return Pending(self, _rt().signal_execution(id, name, data), None, f"signal `{name}`")

    def signal_child(self, child: Pending, name: str, input: Any = None) -> Pending:
        """:meth:`signal_execution` to the child ``child`` started."""
        data = _encode_arg(input, f"the input of signal `{name}`")
        return Pending(self, _rt().signal_child(child.handle, name, data), None, f"signal `{name}`")

    def cancel_execution(self, id: str, reason: str = "") -> Pending:
        """Asks the running execution ``id`` to cancel, as ``weft cancel``
        would; completes like :meth:`signal_execution`."""
        return Pending(self, _rt().cancel_execution(id, reason), None, f"cancel of `{id}`")

    # -- timers --------------------------------------------------------------

    def timer(self, duration: Any) -> Pending:
        """Starts a durable timer of ``duration`` (seconds or timedelta) of
        workflow time."""
        return Pending(self, _rt().start_timer(_codec.millis(duration)), None, "timer")

    def sleep(self, duration: Any) -> None:
        """Sleeps for ``duration`` (seconds or timedelta) of workflow time.
        Durable: a restart in between does not restart the wait. Raises only
        when the workflow is cancelled."""
        self.join(self.timer(duration))

    # -- children ------------------------------------------------------------

    def start_child(
        self,
        workflow_type: str,
        input: Any = None,
        *,
        id: Optional[str] = None,
        parent_close_policy: ParentClosePolicy = ParentClosePolicy.TERMINATE,
        result_type: Any = None,
        options: Optional[ChildOptions] = None,
        id_reuse_policy: str = "allow-duplicate",
        cancellation_type: Any = None,
    ) -> Pending:
        """Starts a child workflow of any deployed type and returns at once;
        join its result like an activity's."""
        opts = options or ChildOptions(
            id=id,
            parent_close_policy=parent_close_policy,
            id_reuse_policy=id_reuse_policy,
            cancellation_type=cancellation_type,
        )
        data = _encode_arg(input, f"the input of child `{workflow_type}`")
        rt = _rt()
        kind = _cancellation_type(opts.cancellation_type)
        if kind is not None:
            h = rt.start_child_with(
                workflow_type, data, opts._to_wit(rt), opts._reuse_to_wit(rt), kind._to_wit(rt)
            )
        elif opts.id_reuse_policy == "allow-duplicate":
            h = rt.start_child(workflow_type, data, opts._to_wit(rt))
        else:
            h = rt.start_child_with_reuse(
                workflow_type, data, opts._to_wit(rt), opts._reuse_to_wit(rt)
            )
        return Pending(self, h, result_type, f"child `{workflow_type}`")

    def child(self, workflow_type: str, input: Any = None, **kw: Any) -> Any:
        """Runs a child workflow and waits for its result."""
        return self.join(self.start_child(workflow_type, input, **kw))

    def continue_as_new(self, input: Any = None) -> typing.NoReturn:
        """Ends this run and starts the next one of the same execution id
        with ``input``, atomically; the history starts afresh. Never returns."""
        _rt().continue_as_new(_encode_arg(input, "the continue-as-new input"))
        raise RuntimeError("the host ends the run at continue-as-new")

    def history_info(self) -> HistoryInfo:
        i = _rt().history_info()
        return HistoryInfo(length=i.length, continue_as_new_suggested=i.continue_as_new_suggested)

    def history_length(self) -> int:
        """The length of this run's history as the code has seen it."""
        return self.history_info().length

    def continue_as_new_suggested(self) -> bool:
        """True once the run's history passed the host's warning limit."""
        return self.history_info().continue_as_new_suggested

    # -- signals -------------------------------------------------------------

    def signal_channel(self, name: str, type: Any = None) -> SignalChannel:
        """The channel of the signals named ``name``, read as ``type``."""
        if name in self._defn.signals:
            raise ValueError(
                f"signal {name!r} has a @signal handler, which receives every one of them"
            )
        self._channels.add(name)
        return SignalChannel(self, name, type)

    def receive(self, channel: SignalChannel) -> Any:
        """Waits for the next signal on ``channel`` and decodes it (a payload
        that does not decode raises ``weft.InvalidInput``)."""
        h = channel._handle()
        channel._armed = None
        ok, value = self._take(h)
        if not ok:
            raise value
        return _decode_input(f"signal `{channel.name}`", value, channel._type)

    def try_receive(self, channel: SignalChannel) -> Any:
        """Takes the next signal on ``channel`` without waiting, if this
        workflow task already knows it (it arrived before the task's last
        wait returned; the store is not read, and the answer is recorded, so
        a replay gives the same); ``weft.NOTHING`` when none is waiting.
        Drain a channel with it before :meth:`continue_as_new`::

            while (order := ctx.try_receive(orders)) is not weft.NOTHING:
                pending.append(order)

        A receive that lost a select stays armed and keeps its place: its
        signal is returned here once delivered."""
        if channel._armed is not None:
            if channel._armed not in self._ready:
                return NOTHING
            ok, value = self._ready.pop(channel._armed)
            channel._armed = None
        else:
            data = _rt().try_receive_signal(channel.name)
            if data is None:
                return NOTHING
            ok, value = True, data
        if not ok:
            raise value
        return _decode_input(f"signal `{channel.name}`", value, channel._type)

    # -- joining and selecting ----------------------------------------------

    def join(self, p: Pending) -> Any:
        """Waits for one pending command and returns its output (or raises
        its failure)."""
        if p._outcome is None:
            p._outcome = self._take(p.handle)
        ok, value = p._outcome
        if not ok:
            raise value
        return p._decode(value)

    def join_all(self, pendings: Sequence[Pending], *, return_exceptions: bool = False) -> list:
        """Waits for all of ``pendings`` and returns their outputs in order.
        A failure is raised (the first in the list) once all are done, or,
        with ``return_exceptions=True``, put in the list in its place."""
        pendings = list(pendings)
        missing = [p.handle for p in pendings if not p.done()]
        # Each wait takes one winner: drop just it (a fan-out of n joins in
        # n waits, not n lookups per wait), unless a handler's own waits
        # took others meanwhile.
        while missing:
            before = self._completions
            h, outcome = self._wait(missing)
            self._ready[h] = outcome
            if self._completions == before + 1 and h in missing:
                missing.remove(h)
            else:
                missing = [p.handle for p in pendings if not p.done()]
        results: list = []
        first: Optional[Failure] = None
        for p in pendings:
            try:
                results.append(self.join(p))
            except Failure as f:
                if first is None:
                    first = f
                results.append(f)
        if first is not None and not return_exceptions:
            raise first
        return results

    def select(self, *candidates: Any) -> int:
        """Waits until the first of ``candidates`` (pending commands and
        signal channels) completes and returns its index. The winner's result
        stays buffered: join (or receive) it to read it. When several are
        already done, the one listed first wins; otherwise the one the
        history recorded first. The losers keep running."""
        cands = _flatten(candidates)
        if not cands:
            raise ValueError("select needs at least one candidate")
        handles = [c._handle() for c in cands]
        for i, c in enumerate(cands):
            if c._is_ready():
                return i
        h, outcome = self._wait(handles)
        self._ready[h] = outcome
        return handles.index(h)

    def choose(self, **candidates: Any) -> Tuple[str, Any]:
        """A select by name: waits for the first of ``candidates`` (pending
        commands and signal channels, as keyword arguments) and returns
        ``(name, value)``: the winner's name and its value, taken as
        ``receive`` or ``join`` would (a failed activity or child raises its
        failure). The losers keep running, to be chosen among again. Raises
        ``weft.Cancelled`` when the workflow's cancellation ended the wait,
        as :meth:`try_select` does::

            name, value = ctx.choose(decision=decisions, expired=deadline)
            if name == "decision":
                return approve(value)
            return expire()
        """
        if not candidates:
            raise TypeError("choose needs at least one candidate, as name=pending")
        names = list(candidates)
        cands = [candidates[n] for n in names]
        i = self.try_select(*cands)
        winner = cands[i]
        if isinstance(winner, SignalChannel):
            return names[i], self.receive(winner)
        return names[i], self.join(winner)

    def try_select(self, *candidates: Any) -> int:
        """Like :meth:`select`, but raises when the workflow's cancellation
        ended the wait: if the winner completed with a ``cancelled`` failure
        after a cancellation was requested (a cancelled timer, activity or
        child), that ``weft.Cancelled`` is raised (the winner's outcome stays
        buffered). With plain ``select`` such a winner's index looks like any
        other, and code that does not join it goes down the path of a timer
        that fired::

            try:
                if ctx.try_select(decision, deadline) == 0:
                    return approve(decision.receive())
                return expire()
            except weft.Cancelled:
                clean_up(ctx)
                raise  # ends as cancelled
        """
        cands = _flatten(candidates)
        i = self.select(cands)
        if self.cancel_reason is not None:
            c = cands[i]
            outcome = self._ready.get(c._handle())
            if outcome is None and isinstance(c, Pending):
                outcome = c._outcome
            if outcome is not None and not outcome[0] and getattr(outcome[1], "kind", "") == "cancelled":
                raise outcome[1]
        return i

    def select_until(self, candidates: Sequence[Any], until: Callable[[], bool]) -> Optional[int]:
        """Like :meth:`select`, but returns None as soon as ``until()`` holds
        (checked first, then after each update or signal handler runs)."""
        if until():
            return None
        cands = _flatten(candidates)
        handles = [c._handle() for c in cands]
        for i, c in enumerate(cands):
            if c._is_ready():
                return i
        got = self._wait_or(handles, until)
        if got is None:
            return None
        h, outcome = got
        self._ready[h] = outcome
        return handles.index(h)

    def wait_until(self, until: Callable[[], bool], timeout: Any = None) -> bool:
        """Blocks until ``until()`` holds; only handlers (updates, signals)
        can make it hold. With ``timeout`` (seconds or timedelta of workflow
        time), returns False if it passed first. Also returns (False) when the
        workflow is cancelled."""
        if until():
            return True
        if timeout is None:
            self._wait_or([], until)
        else:
            self.select_until([self.timer(timeout)], until)
        return bool(until())

    # -- versions ------------------------------------------------------------

    def patched(self, patch_id: str) -> bool:
        """Guards a change to workflow code that running executions have not
        seen: True when this run takes the new path, False when it replays a
        history recorded before the change. The answer for one id never
        changes within a run."""
        return bool(_rt().patched(patch_id))

    def deprecate_patch(self, patch_id: str) -> None:
        """The middle step of retiring a patch: the new path is the only one,
        and histories recorded with or without the patch's marker replay."""
        _rt().deprecate_patch(patch_id)

    # -- search attributes and memo -----------------------------------------

    def upsert_search_attributes(self, attributes: Dict[str, Any]) -> None:
        """Sets search attributes of this execution (a value of None removes
        one), recorded in its history and indexed by the host, so that
        ``weft list --query 'CustomerId = "c-42"'`` finds it. The type of
        each follows from its value (see ``weft.Text`` for text). They carry
        over to the next run of a continue-as-new."""
        from . import _search

        _rt().upsert_search_attributes(_search.search_attribute_list(_rt(), attributes))

    def search_attributes(self) -> Dict[str, Any]:
        """This execution's search attributes as the code has set them so far
        (those it started with, then each upsert): the same on every replay."""
        from . import _search

        return _search.from_wit(_rt(), _rt().search_attributes())

    def memo(self) -> Dict[str, Any]:
        """This execution's memo as the code has set it so far (decoded JSON)."""
        from . import _search

        return _search.memo_from_wit(_rt().memo())

    def upsert_memo(self, fields: Dict[str, Any]) -> None:
        """Sets fields of this execution's memo (any JSON each; None removes
        one): data shown with the execution, never searched."""
        from . import _search

        _rt().upsert_memo(_search.memo_list(_rt(), fields))

    # -- time, randomness, info ---------------------------------------------

    def now_ms(self) -> int:
        """Workflow time, ms since the Unix epoch: the time of the event
        being processed, the same on every replay."""
        return int(_rt().now())

    def now(self) -> datetime.datetime:
        """Workflow time as an aware UTC datetime."""
        return datetime.datetime.fromtimestamp(self.now_ms() / 1000, tz=datetime.timezone.utc)

    def time(self) -> float:
        """Workflow time in seconds, like ``time.time()`` (which reads the same)."""
        return self.now_ms() / 1000

    def random_u64(self) -> int:
        """The next number of the run's seeded random stream."""
        return int(_rt().random())

    def random(self) -> float:
        """A float in [0, 1) from the run's seeded random stream."""
        return (self.random_u64() >> 11) * (1.0 / (1 << 53))

    def uuid4(self) -> uuid.UUID:
        """A random UUID from the run's seeded random stream."""
        bits = (self.random_u64() << 64) | self.random_u64()
        return uuid.UUID(int=bits, version=4)

    def info(self) -> WorkflowInfo:
        i = _rt().info()
        return WorkflowInfo(
            workflow_type=i.workflow_type,
            execution_id=i.execution_id,
            module=i.module,
            started_at_ms=i.started_at_ms,
        )

    # -- the wait loop -------------------------------------------------------

    def _take(self, handle: int) -> Outcome:
        if handle in self._ready:
            return self._ready.pop(handle)
        h, outcome = self._wait([handle])
        return outcome

    def _wait(self, handles: List[int]) -> Tuple[int, Outcome]:
        got = self._wait_or(handles, None)
        assert got is not None, "without a condition, a wait ends only with a completion"
        return got

    def _arm_signal_handlers(self) -> List[int]:
        rt = _rt()
        if self._in_signal_handler and self._handlers_in_turn():
            return []
        for name, h in self._defn.signals.items():
            if name not in self._armed:
                handle = rt.receive_signal(name)
                self._armed[name] = handle
                self._auto[handle] = h
        return list(self._auto)

    def _wait_or(
        self, handles: List[int], until: Optional[Callable[[], bool]]
    ) -> Optional[Tuple[int, Outcome]]:
        """The one place the workflow blocks: returns the next completion
        among ``handles``, answering queries and running updates and signal
        handlers that arrive first; None once ``until()`` holds after a
        handler ran, or at a cancellation when waiting on nothing."""
        rt = _rt()
        while True:
            auto = self._arm_signal_handlers()
            d = rt.wait(list(handles) + auto)
            if isinstance(d, rt.Delivery_Completed):
                c = d.value
                h = self._auto.pop(c.handle, None)
                if h is None:
                    outcome = _outcome(c.outcome)
                    if not outcome[0] and c.handle in self._activities:
                        outcome[1].activity = _activity_failure(rt.activity_failure(c.handle))
                    self._completions += 1
                    return c.handle, outcome
                del self._armed[h.name]
                self._run_signal(h, c.outcome)
                if until is not None and until():
                    return None
            elif isinstance(d, rt.Delivery_Query):
                r = d.value
                rt.respond(r.id, _answer_query(self._defn, self.workflow, r.name, r.input))
            elif isinstance(d, rt.Delivery_ValidateUpdate):
                r = d.value
                rt.respond(r.id, _validate(self._defn, self.workflow, r.name, r.input))
            elif isinstance(d, rt.Delivery_Update):
                u = d.value
                outcome = self._run_update(u.name, u.input)
                rt.complete_update(u.update_id, outcome)
                if until is not None and until():
                    return None
            elif isinstance(d, rt.Delivery_Cancelled):
                # The host completes the pending timers, activities and
                # children with `cancelled` failures: keep waiting for those.
                # A wait on signal channels alone, or on a condition, ends here.
                self.cancel_reason = d.value
                if all(h in self._receives for h in handles):
                    if not handles:
                        return None
                    self._completions += 1
                    return handles[0], (False, Failure.cancelled(f"the workflow ({d.value})"))
            else:  # pragma: no cover - a newer host
                raise RuntimeError(f"unknown delivery {d!r}")

    def _handlers_in_turn(self) -> bool:
        """Whether a signal handler's waits run no other handler (so handlers
        run one after another, in the order sent). Histories recorded before
        this rule ran the next handler inside a waiting one: the patch marker
        keeps them replaying as they ran."""
        if self._in_turn is None:
            self._in_turn = bool(_rt().patched(_HANDLERS_IN_TURN))
        return self._in_turn

    def _run_signal(self, h: _Handler, result: Any) -> None:
        ok, value = _outcome(result)
        self._in_signal_handler = True
        try:
            if not ok:
                raise value
            h.fn(self.workflow, *h.args(self, value))
        except Failure as f:
            self.log.warn(f"signal `{h.name}` ignored: {f}")
        except Exception as e:
            raise _HandlerCrashed(f"the handler of signal `{h.name}` crashed: {e!r}") from e
        finally:
            self._in_signal_handler = False

    def _run_update(self, name: str, data: bytes) -> Any:
        h = self._defn.updates.get(name)
        if h is None:
            return _err(failure_to_wit(_unknown("update", name, self._defn.updates)))
        try:
            out = h.fn(self.workflow, *h.args(self, data))
        except Failure as f:
            return _err(failure_to_wit(f))
        except Exception as e:
            raise _HandlerCrashed(f"the handler of update `{name}` crashed: {e!r}") from e
        return _encode_result(out)


def _flatten(candidates: Sequence[Any]) -> List[Any]:
    if len(candidates) == 1 and isinstance(candidates[0], (list, tuple)):
        candidates = candidates[0]
    out = list(candidates)
    for c in out:
        if not isinstance(c, (Pending, SignalChannel)):
            raise TypeError(f"select takes pending commands and signal channels, not {c!r}")
    return out


def _encode_arg(value: Any, what: str) -> bytes:
    try:
        return _codec.encode(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} does not serialize to JSON: {e}") from None


def _encode_result(value: Any) -> Any:
    try:
        return _ok(_codec.encode(value))
    except (TypeError, ValueError) as e:
        return _err(failure_to_wit(InvalidOutput(str(e))))


def _unknown(kind: str, name: str, table: Dict[str, Any]) -> Failure:
    known = ", ".join(sorted(table)) or "none"
    return Failure(
        f"unknown-{kind}",
        f"this workflow has no {kind} named `{name}` (it has: {known})",
        non_retryable=True,
    )


def _answer_query(defn: _WorkflowDef, wf: Any, name: str, data: bytes) -> Any:
    h = defn.queries.get(name)
    if h is None:
        return _err(failure_to_wit(_unknown("query", name, defn.queries)))
    try:
        out = h.fn(wf, *h.args(None, data))
    except Failure as f:
        return _err(failure_to_wit(f))
    except Exception as e:
        return _err(failure_to_wit(Failure(type(e).__name__, f"the query `{name}` raised: {e}")))
    return _encode_result(out)


def _validate(defn: _WorkflowDef, wf: Any, name: str, data: bytes) -> Any:
    h = defn.updates.get(name)
    if h is None:
        return _err(failure_to_wit(_unknown("update", name, defn.updates)))
    try:
        h.validate(wf, data)
    except Failure as f:
        return _err(failure_to_wit(f))
    except Exception as e:
        return _err(
            failure_to_wit(Failure(type(e).__name__, f"the validator of `{name}` raised: {e}"))
        )
    return _ok(b"")


# --------------------------------------------------------------------------
# The exports.


def _defined() -> _WorkflowDef:
    if _DEFINED is None:
        raise RuntimeError("no class is decorated with @weft.workflow in this component")
    return _DEFINED


class WorkflowWorld:
    """The exports of the ``workflow`` world (componentize-py's ``WitWorld``)."""

    def run(self, input: bytes) -> bytes:
        global _FINAL
        defn = _defined()
        rt = _rt()
        # Python's `random` was seeded when the component was built (the
        # snapshot): reseed it from the run's recorded stream, so
        # `random.random()` is the same on every replay of this run.
        _random.seed(rt.random())
        try:
            args = defn.decode_input(bytes(input))
        except Failure as f:
            raise _err(failure_to_wit(f)) from None
        wf = None
        try:
            wf = defn.cls()
            out = wf.run(Ctx(defn, wf), *args)
        except Failure as f:
            # Queries on the closed execution answer from this state.
            _FINAL = (defn, wf)
            raise _err(failure_to_wit(f)) from None
        except (Exception, _HandlerCrashed) as e:
            # A bug (or a handler's): trap, so the execution stalls until a
            # fixed module is deployed. The host keeps the guest's last
            # output lines as the stall reason: print the traceback, then
            # leave with one line that says what crashed and where.
            traceback.print_exc()
            print(f"weft: the workflow crashed: {crash_summary(e)}", file=sys.stderr)
            sys.stderr.flush()
            raise GuestCrashed(f"the workflow crashed: {crash_summary(e)}") from None
        _FINAL = (defn, wf)
        try:
            return _codec.encode(out)
        except (TypeError, ValueError) as e:
            raise _err(failure_to_wit(InvalidOutput(f"the workflow output: {e}"))) from None

    def handlers(self) -> Any:
        import wit_world  # type: ignore[import-not-found]

        defn = _defined()
        return wit_world.HandlerNames(
            signals=defn.signal_names(),
            queries=sorted(defn.queries),
            updates=sorted(defn.updates),
        )

    def query(self, name: str, input: bytes) -> bytes:
        if _FINAL is None:
            raise _err(
                failure_to_wit(
                    Failure(
                        "not-finished",
                        "the workflow has not returned: queries go through its waits",
                    )
                )
            )
        defn, wf = _FINAL
        result = _answer_query(defn, wf, name, bytes(input))
        from componentize_py_types import Ok  # type: ignore[import-not-found]

        if isinstance(result, Ok):
            return result.value
        raise result
