"""The activity side: plain functions registered with ``@activity``.

An activity is where side effects happen. It may run more than once (the
host retries failures and re-runs attempts a crash interrupted), so key its
effects on ``ctx.idempotency_key``.

::

    @weft.activity
    def py_welcome(ctx: weft.ActivityCtx, customer: str) -> str:
        return f"Welcome, {customer}"

The function takes ``(ctx, input)``, ``(input)`` or nothing, and returns any
JSON-serializable value. Raising :class:`~weft.Failure` fails the attempt
with that failure (``non_retryable=True`` stops the retries); any other
exception fails it with the exception's class name as the kind, and is
retried.
"""

from __future__ import annotations

import inspect
import sys
import traceback
import typing
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional

from . import _codec
from ._failure import Failure, InvalidInput, InvalidOutput

__all__ = ["activity", "ActivityCtx", "ActivityWorld", "current"]

_ACTIVITIES: Dict[str, "_Activity"] = {}
_CURRENT: Optional["ActivityCtx"] = None


def _ctx_module() -> Any:
    from wit_world.imports import activity_context  # type: ignore[import-not-found]

    return activity_context


@dataclass
class ActivityCtx:
    """What the host says about the attempt being run."""

    execution_id: str
    #: The handle the workflow scheduled this activity under.
    activity_handle: int
    name: str
    #: 1 for the first attempt.
    attempt: int
    #: The same on every attempt of one scheduled activity
    #: (``<execution id>/<handle>``): key side effects on it.
    idempotency_key: str
    _heartbeat_details: Optional[bytes] = None

    def heartbeat(self, details: Any = None) -> bool:
        """Reports progress: ``details`` (any JSON value) are kept durably and
        handed to the next attempt if this one is lost; the heartbeat also
        keeps a heartbeat timeout from firing. Returns True when the activity
        was cancelled: it should stop and return (raise ``weft.Cancelled``)."""
        data = None if details is None else _codec.encode(details)
        return bool(_ctx_module().heartbeat(data))

    def heartbeat_details(self, type: Any = None, default: Any = None) -> Any:
        """The details of the last heartbeat of an earlier attempt (where to
        resume), read as ``type``; ``default`` on a first attempt or when
        they do not read as ``type``."""
        if self._heartbeat_details is None:
            return default
        try:
            return _codec.convert(_codec.decode(self._heartbeat_details), type)
        except (TypeError, ValueError):
            return default

    @property
    def is_retry(self) -> bool:
        return self.attempt > 1


def current() -> ActivityCtx:
    """The context of the attempt running now (for helpers that were not
    handed ``ctx``)."""
    if _CURRENT is None:
        raise RuntimeError("no activity is running")
    return _CURRENT


class _Activity:
    def __init__(self, name: str, fn: Callable):
        self.name = name
        self.fn = fn
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if len(params) > 2:
            raise TypeError(f"@activity {name!r} takes (ctx, input), (input) or nothing")
        self.wants_ctx = len(params) == 2
        self.input_param = params[-1].name if params else None
        self._type: Any = _UNRESOLVED

    def input_type(self) -> Any:
        if self._type is _UNRESOLVED:
            try:
                self._type = typing.get_type_hints(self.fn).get(self.input_param)
            except Exception:
                self._type = None
        return self._type

    def call(self, ctx: ActivityCtx, data: bytes) -> Any:
        args: list = []
        if self.wants_ctx:
            args.append(ctx)
        if self.input_param is not None:
            what = f"the input of activity `{self.name}`"
            try:
                value = _codec.decode(data)
            except ValueError as e:
                raise InvalidInput(f"{what} is not JSON: {e}") from None
            try:
                args.append(_codec.convert(value, self.input_type()))
            except (TypeError, ValueError, KeyError) as e:
                raise InvalidInput(f"{what} is not the JSON expected: {e}") from None
        return self.fn(*args)


_UNRESOLVED = object()


def activity(fn: Any = None, *, name: Optional[str] = None) -> Any:
    """Registers a function as an activity named after it (or ``name``).

    The decorator also puts the component's export class (``WitWorld``,
    which componentize-py looks for) into the function's module; when the
    activities live in several modules, write
    ``from weft import ActivityWorld as WitWorld`` in the app module."""

    def register(f: Callable) -> Callable:
        n = name or f.__name__
        if n in _ACTIVITIES and _ACTIVITIES[n].fn is not f:
            raise TypeError(f"two activities are named {n!r}")
        _ACTIVITIES[n] = _Activity(n, f)
        module = sys.modules.get(f.__module__)
        if module is not None and not hasattr(module, "WitWorld"):
            module.WitWorld = ActivityWorld  # type: ignore[attr-defined]
        return f

    if fn is not None and callable(fn) and not isinstance(fn, str):
        return register(fn)
    if isinstance(fn, str):
        name = fn
    return register


def _to_wit(f: Failure) -> Any:
    from ._workflow import failure_to_wit

    return failure_to_wit(f)


def _err(f: Failure) -> BaseException:
    from componentize_py_types import Err  # type: ignore[import-not-found]

    return Err(_to_wit(f))


class ActivityWorld:
    """The exports of the ``activity`` world (componentize-py's ``WitWorld``)."""

    def activities(self) -> list:
        return list(_ACTIVITIES)

    def execute(self, name: str, input: bytes) -> bytes:
        global _CURRENT
        act = _ACTIVITIES.get(name)
        if act is None:
            raise _err(
                Failure(
                    "activity-not-found",
                    f"this component does not serve `{name}`; it serves: "
                    + ", ".join(_ACTIVITIES),
                    non_retryable=True,
                )
            )
        i = _ctx_module().info()
        ctx = ActivityCtx(
            execution_id=i.execution_id,
            activity_handle=i.activity_handle,
            name=i.name,
            attempt=i.attempt,
            idempotency_key=i.idempotency_key,
            _heartbeat_details=None if i.heartbeat_details is None else bytes(i.heartbeat_details),
        )
        _CURRENT = ctx
        try:
            out = act.call(ctx, bytes(input))
        except Failure as f:
            raise _err(f) from None
        except Exception as e:
            # An ordinary exception fails the attempt (retried); its traceback
            # goes to the host's log.
            traceback.print_exc()
            sys.stderr.flush()
            from ._workflow import _where

            raise _err(
                Failure(type(e).__name__, str(e) or repr(e), details={"at": _where(e)})
            ) from None
        finally:
            _CURRENT = None
        try:
            return _codec.encode(out)
        except (TypeError, ValueError) as e:
            raise _err(
                InvalidOutput(f"the output of activity `{name}`: {e}", non_retryable=True)
            ) from None
