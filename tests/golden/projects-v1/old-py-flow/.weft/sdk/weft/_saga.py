"""The saga helper: undo completed steps when a later one fails."""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from ._failure import Failure
from ._options import ActivityOptions, activity_options

__all__ = ["Saga"]


class Saga:
    """Compensations registered after each successful step, run latest first
    (or all at once with ``parallel=True``) when a later step fails or the
    workflow is cancelled. Each compensation is an activity, retried under
    its options (by default until it succeeds) and recorded like any other,
    so a host killed in the middle of compensating finishes the job after the
    restart and runs none twice.

    ::

        saga = weft.Saga(ctx)
        try:
            flight = ctx.activity("book_flight", trip)
            saga.add("cancel_flight", flight)
            hotel = ctx.activity("book_hotel", trip)
            saga.add("cancel_hotel", hotel)
        except weft.Failure as e:
            raise saga.compensate_and_fail(e)

    or, the same, as a context manager: ``with weft.Saga(ctx) as saga: ...``
    compensates and re-raises when a Failure leaves the block.
    """

    def __init__(self, ctx: Any, *, parallel: bool = False):
        self._ctx = ctx
        self.parallel = parallel
        self._steps: List[Tuple[str, Any, ActivityOptions]] = []

    def add(
        self,
        activity: str,
        input: Any = None,
        *,
        options: Optional[ActivityOptions] = None,
        **option_overrides: Any,
    ) -> None:
        """Registers the activity that undoes the step just done."""
        self._steps.append((activity, input, activity_options(options, option_overrides)))

    def __len__(self) -> int:
        return len(self._steps)

    def compensate(self) -> List[Failure]:
        """Runs the registered compensations, latest first, and forgets them.
        Returns the failures of those that failed for good."""
        steps = list(reversed(self._steps))
        self._steps.clear()
        ctx = self._ctx
        if self.parallel:
            pending = [ctx.start_activity(n, i, options=o) for n, i, o in steps]
            results = ctx.join_all(pending, return_exceptions=True)
            return [r for r in results if isinstance(r, Failure)]
        failed: List[Failure] = []
        for n, i, o in steps:
            try:
                ctx.activity(n, i, options=o)
            except Failure as f:
                failed.append(f)
        return failed

    def compensate_and_fail(self, error: Failure) -> Failure:
        """Compensates, then hands back ``error`` to raise (with the
        compensations that failed in its details, as the Rust SDK does)."""
        failed = self.compensate()
        if failed:
            error.details = {"failed_compensations": [str(f) for f in failed]}
        return error

    def __enter__(self) -> "Saga":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if isinstance(exc, Failure):
            self.compensate_and_fail(exc)
        return False
