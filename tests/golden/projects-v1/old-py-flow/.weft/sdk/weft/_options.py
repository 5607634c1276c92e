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

__all__ = [
    "RetryPolicy",
    "ActivityOptions",
    "ChildOptions",
    "ParentClosePolicy",
    "CancellationType",
]


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


class CancellationType(enum.Enum):
    """What ``ctx.cancel`` (or cancelling the workflow) does to an activity
    or a child and to the code waiting on it: Temporal's cancellation
    types."""

    #: Joining it raises ``weft.Cancelled`` at once; the activity learns of
    #: the request at its next heartbeat and gets a grace period (its
    #: heartbeat timeout, or 10 s) to clean up, and the history records how
    #: it ended (``activity_cancel_ended``); a child is asked to cancel. The
    #: activity default.
    TRY_CANCEL = "try-cancel"
    #: The activity learns of it at its next heartbeat (a child is asked to
    #: cancel), and joining it waits until it has ended: its output if it
    #: completed anyway, its failure (``weft.Cancelled`` when it
    #: acknowledged), or ``weft.Cancelled`` when its grace period ran out.
    #: The child default.
    WAIT_CANCELLATION_COMPLETED = "wait-cancellation-completed"
    #: Joining it raises ``weft.Cancelled`` at once; the activity is not told
    #: and runs on until it ends or the run closes; a child is not asked and
    #: runs on (no parent-close policy applies to it any more).
    ABANDON = "abandon"

    def _to_wit(self, runtime: Any) -> Any:
        return {
            CancellationType.TRY_CANCEL: runtime.CancellationType.TRY_CANCEL,
            CancellationType.WAIT_CANCELLATION_COMPLETED: (
                runtime.CancellationType.WAIT_CANCELLATION_COMPLETED
            ),
            CancellationType.ABANDON: runtime.CancellationType.ABANDON,
        }[self]


def cancellation_type(value: Any) -> Optional[CancellationType]:
    """``value`` (an enum member, its string, or None) as a member."""
    if value is None:
        return None
    try:
        return CancellationType(value)
    except ValueError:
        raise ValueError(
            f"unknown cancellation_type {value!r} (try-cancel, "
            "wait-cancellation-completed, abandon)"
        ) from None


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
    #: What ``ctx.cancel`` does to it (None: ``CancellationType.TRY_CANCEL``).
    cancellation_type: Optional[CancellationType] = None

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
    #: What ``ctx.cancel`` does to it (None:
    #: ``CancellationType.WAIT_CANCELLATION_COMPLETED``).
    cancellation_type: Optional[CancellationType] = None

    def _reuse_to_wit(self, runtime: Any) -> Any:
        try:
            return {
                "allow-duplicate": runtime.IdReusePolicy.ALLOW_DUPLICATE,
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
