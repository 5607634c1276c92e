"""Options of an activity call and of a child workflow.

Durations are seconds (int or float) or ``datetime.timedelta``; they cross
the boundary in whole milliseconds.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from ._codec import millis

__all__ = ["RetryPolicy", "ActivityOptions", "ChildOptions", "ParentClosePolicy"]


@dataclass
class RetryPolicy:
    """How the host retries a failing activity: attempt ``n`` waits
    ``min(initial_interval * backoff_coefficient**(n-1), maximum_interval)``.
    The defaults are the host's: 1 s, doubling, capped at 100 s, no limit."""

    initial_interval: Any = 1.0
    backoff_coefficient: float = 2.0
    maximum_interval: Any = 100.0
    #: 0 means no limit.
    maximum_attempts: int = 0
    #: Failure kinds that end the activity at once.
    non_retryable_kinds: Sequence[str] = ()

    @classmethod
    def attempts(cls, n: int, **kw: Any) -> "RetryPolicy":
        """At most ``n`` attempts, otherwise the defaults."""
        return cls(maximum_attempts=n, **kw)

    def _to_wit(self, runtime: Any) -> Any:
        return runtime.RetryPolicy(
            initial_interval_ms=millis(self.initial_interval),
            backoff_coefficient=float(self.backoff_coefficient),
            maximum_interval_ms=millis(self.maximum_interval),
            maximum_attempts=int(self.maximum_attempts),
            non_retryable_kinds=[str(k) for k in self.non_retryable_kinds],
        )


@dataclass
class ActivityOptions:
    """Options of one activity call; None everywhere takes the host's
    defaults (retry forever with backoff, 5 minutes per attempt, run by the
    host's activity components)."""

    retry: Optional[RetryPolicy] = None
    #: Limit on one attempt; a timed-out attempt is retried.
    start_to_close_timeout: Any = None
    #: Limit on the whole activity, every attempt and backoff; ends it.
    schedule_to_close_timeout: Any = None
    #: Limit on the wait for a worker to take it (task queues); ends it.
    schedule_to_start_timeout: Any = None
    #: An attempt silent this long is lost and retried.
    heartbeat_timeout: Any = None
    #: Run it on the external workers polling this queue.
    task_queue: Optional[str] = None

    def replace(self, **changes: Any) -> "ActivityOptions":
        return dataclasses.replace(self, **changes)

    def _to_wit(self, runtime: Any) -> Any:
        def ms(d: Any) -> Optional[int]:
            return None if d is None else millis(d)

        return runtime.ActivityOptions(
            retry=None if self.retry is None else self.retry._to_wit(runtime),
            start_to_close_timeout_ms=ms(self.start_to_close_timeout),
            schedule_to_close_timeout_ms=ms(self.schedule_to_close_timeout),
            schedule_to_start_timeout_ms=ms(self.schedule_to_start_timeout),
            heartbeat_timeout_ms=ms(self.heartbeat_timeout),
            task_queue=self.task_queue,
        )


_OPTION_NAMES = {f.name for f in dataclasses.fields(ActivityOptions)}


def activity_options(options: Optional[ActivityOptions], kw: dict) -> ActivityOptions:
    """``options`` with the keyword overrides of an activity call applied."""
    unknown = set(kw) - _OPTION_NAMES
    if unknown:
        raise TypeError(
            f"unknown activity option(s) {', '.join(sorted(unknown))}; "
            f"the options are {', '.join(sorted(_OPTION_NAMES))}"
        )
    base = options if options is not None else ActivityOptions()
    return dataclasses.replace(base, **kw) if kw else base


class ParentClosePolicy(enum.Enum):
    """What happens to a child still running when its parent closes."""

    #: The child is terminated (the default).
    TERMINATE = "terminate"
    #: The child is asked to cancel.
    REQUEST_CANCEL = "request-cancel"
    #: The child runs on.
    ABANDON = "abandon"


@dataclass
class ChildOptions:
    """Options of a child workflow."""

    #: Its execution id; default ``<parent id>-<handle>``, the same on replay.
    id: Optional[str] = None
    parent_close_policy: ParentClosePolicy = ParentClosePolicy.TERMINATE
    #: Whether the child may take a closed execution's id:
    #: ``"allow-duplicate"`` (default), ``"allow-duplicate-failed-only"``,
    #: ``"reject-duplicate"``; a start it refuses fails ``already-started``.
    id_reuse_policy: str = "allow-duplicate"

    def _reuse_to_wit(self, runtime: Any) -> Any:
        try:
            return {
                "allow-duplicate-failed-only": runtime.IdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                "reject-duplicate": runtime.IdReusePolicy.REJECT_DUPLICATE,
            }[self.id_reuse_policy]
        except KeyError:
            raise ValueError(
                f"unknown id_reuse_policy {self.id_reuse_policy!r} (allow-duplicate, "
                "allow-duplicate-failed-only, reject-duplicate)"
            ) from None

    def _to_wit(self, runtime: Any) -> Any:
        policy = {
            ParentClosePolicy.TERMINATE: runtime.ParentClosePolicy.TERMINATE,
            ParentClosePolicy.REQUEST_CANCEL: runtime.ParentClosePolicy.REQUEST_CANCEL,
            ParentClosePolicy.ABANDON: runtime.ParentClosePolicy.ABANDON,
        }[ParentClosePolicy(self.parent_close_policy)]
        return runtime.ChildOptions(id=self.id, parent_close_policy=policy)
