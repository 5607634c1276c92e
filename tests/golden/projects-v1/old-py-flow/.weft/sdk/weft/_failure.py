"""Failures: the exceptions that cross the component boundary.

A :class:`Failure` is what a workflow or an activity reports (raise it) and
what it gets back when an activity, a child or a timer fails (catch it). It
maps one to one onto the WIT ``failure`` record: ``kind``, ``message``,
``details`` (any JSON value) and ``non_retryable``.

Subclasses give failures a type::

    class UnknownPlan(weft.Failure):
        non_retryable = True          # class defaults...

    raise UnknownPlan("no plan named 'gold'")   # ...kind is "UnknownPlan"

Every subclass registers its ``kind``, so a failure that comes back from the
host (from a Python or a Rust guest alike) is raised as the subclass that
declared that kind: ``except UnknownPlan`` works across components.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Type

__all__ = [
    "ActivityFailureInfo",
    "Failure",
    "Cancelled",
    "Timeout",
    "ActivityNotFound",
    "ActivityTrap",
    "InvalidInput",
    "InvalidOutput",
    "failure_class",
]

_KINDS: Dict[str, Type["Failure"]] = {}


@dataclasses.dataclass
class ActivityFailureInfo:
    """What a workflow learns of an activity's failure besides the failure:
    ``attempts`` that ran; ``retry_state``, why no other follows
    (``"maximum-attempts-reached"``, ``"non-retryable"``, ``"timeout"`` or
    ``"cancelled"``); and ``cause``, the last attempt's own failure (for a
    timeout the one before it fired, if any; None for a cancellation)."""

    attempts: int
    retry_state: str
    cause: "Optional[Failure]" = None


class Failure(Exception):
    """A failure with a machine-readable ``kind`` and a message for people.

    ``Failure(kind, message)`` on the base class; a subclass takes only the
    message (its kind is its ``kind`` attribute, or its class name)::

        raise weft.Failure("OutOfStock", "no more blue socks", non_retryable=True)
        raise OutOfStock("no more blue socks")

    ``details`` is any JSON-serializable value, kept with the failure.
    ``non_retryable`` tells the host not to retry an activity that raised it.
    """

    #: The kind of a subclass; None means "the class name".
    kind: str = "Error"
    #: The default of ``non_retryable`` for instances of this class.
    non_retryable: bool = False
    #: On an activity's failure as a workflow receives it: how many attempts
    #: ran, why no other follows, and the last attempt's own failure
    #: (:class:`ActivityFailureInfo`); None on any other failure.
    activity: "Optional[ActivityFailureInfo]" = None

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if "kind" not in cls.__dict__ or cls.__dict__["kind"] is None:
            cls.kind = cls.__name__
        _KINDS[cls.kind] = cls

    def __init__(
        self,
        *args: Any,
        details: Any = None,
        non_retryable: Optional[bool] = None,
        kind: Optional[str] = None,
    ) -> None:
        if type(self) is Failure and kind is None:
            if len(args) == 2:
                kind, message = args
            elif len(args) == 1:
                kind, message = "Error", args[0]
            else:
                raise TypeError("Failure(kind, message) takes two arguments")
        else:
            if len(args) > 1:
                raise TypeError(
                    f"{type(self).__name__}(message) takes one argument; its kind is "
                    f"{type(self).kind!r}"
                )
            message = args[0] if args else ""
        self.kind = str(kind) if kind is not None else type(self).kind
        self.message = str(message)
        self.details = details
        if non_retryable is not None:
            self.non_retryable = bool(non_retryable)
        super().__init__(self.message)

    @classmethod
    def new(cls, kind: str, message: str, details: Any = None, non_retryable: bool = False):
        """A failure of any kind, as the subclass registered for it if any."""
        klass = failure_class(kind)
        if klass is Failure:
            return Failure(kind, message, details=details, non_retryable=non_retryable)
        try:
            return klass(message, details=details, non_retryable=non_retryable, kind=kind)
        except Exception:
            # A subclass with a constructor of its own: build it the base way.
            f = klass.__new__(klass)
            Failure.__init__(f, message, details=details, non_retryable=non_retryable, kind=kind)
            return f

    @classmethod
    def cancelled(cls, what: str) -> "Cancelled":
        """The failure of a cancelled operation; raising it from a cancelled
        workflow ends the execution as ``cancelled``."""
        return Cancelled(f"{what} was cancelled")

    @property
    def is_cancelled(self) -> bool:
        return self.kind == "cancelled"

    def with_details(self, details: Any) -> "Failure":
        self.details = details
        return self

    def to_json(self) -> Dict[str, Any]:
        """The failure as the host's JSON shows it."""
        out: Dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.details is not None:
            out["details"] = self.details
        out["non_retryable"] = self.non_retryable
        return out

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"

    def __repr__(self) -> str:
        extra = f", details={self.details!r}" if self.details is not None else ""
        nr = ", non_retryable=True" if self.non_retryable else ""
        return f"{type(self).__name__}({self.kind!r}, {self.message!r}{extra}{nr})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Failure):
            return NotImplemented
        return (self.kind, self.message, self.details, self.non_retryable) == (
            other.kind,
            other.message,
            other.details,
            other.non_retryable,
        )

    __hash__ = Exception.__hash__


def failure_class(kind: str) -> Type[Failure]:
    """The Failure subclass registered for ``kind`` (Failure itself if none)."""
    return _KINDS.get(kind, Failure)


class Cancelled(Failure):
    """A cancelled timer, activity, child or workflow (kind ``cancelled``)."""

    kind = "cancelled"
    non_retryable = True


class Timeout(Failure):
    """An activity timed out (kind ``timeout``); ``timeout_type`` says which
    limit: ``start-to-close``, ``heartbeat``, ``schedule-to-close`` or
    ``schedule-to-start``."""

    kind = "timeout"

    @property
    def timeout_type(self) -> Optional[str]:
        return self.details.get("timeout") if isinstance(self.details, dict) else None


class ActivityNotFound(Failure):
    """No deployed activity component serves the name (kind ``activity-not-found``)."""

    kind = "activity-not-found"


class ActivityTrap(Failure):
    """The activity crashed (kind ``activity-trap``)."""

    kind = "activity-trap"


class InvalidInput(Failure):
    """An input that is not the JSON the code expects; never retried."""

    kind = "InvalidInput"
    non_retryable = True


class InvalidOutput(Failure):
    """An output that does not serialize to JSON."""

    kind = "InvalidOutput"
