"""How much of a batch the live lanes can finish before a deadline (``--via auto``); pure, no IO.

The account's rate limits bound what live calls can do in a given time: per model, at most
``rpm * minutes`` requests and ``tpm * minutes`` tokens (and no more than the day's RPD and TPD). Groq
counts a request's tokens at admission as its prompt plus its ``max_completion_tokens``, so a job's
charge is what the client's estimator reserves for it (`actors._job.Job.cost`). `LiveShare` walks the
jobs in file order and gives each to the live lanes while its model's capacity lasts; the rest go to the
Batch API, which does not count against those limits (console.groq.com/docs/batch, seen 2026-12).

Capacity is planned at ``safety`` (80 %) of the limits: the live lanes also wait for round trips and
retries, and a plan that overfills misses the deadline, which is the one thing ``auto`` promises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from actors._budget import ModelLimits

__all__ = ["DEFAULT_SAFETY", "LiveShare"]

DEFAULT_SAFETY: Final = 0.8


class _Capacity:
    __slots__ = ("requests", "tokens")

    def __init__(self, requests: float, tokens: float) -> None:
        self.requests = requests
        self.tokens = tokens


class LiveShare:
    """Decides, job by job, whether the live lanes take it (True) or the Batch API does (False).

    Args:
        limits_for: the rate limits the client starts from for a model (its plan's table, the user's
            ``--limits``); windows left None are taken as unbounded.
        deadline_seconds: how long the live lanes have.
        safety: the share of the limits the plan may use.
    """

    def __init__(
        self, limits_for: Callable[[str], ModelLimits], deadline_seconds: float, *, safety: float = DEFAULT_SAFETY
    ) -> None:
        if not deadline_seconds > 0:
            raise ValueError(f"deadline_seconds is {deadline_seconds!r}; it must be more than 0")
        if not 0 < safety <= 1:
            raise ValueError(f"safety is {safety!r}; it must be in (0, 1]")
        self._limits_for = limits_for
        self._minutes = deadline_seconds / 60.0
        self._days = deadline_seconds / 86_400.0
        self._safety = safety
        self._left: dict[str, _Capacity] = {}
        self.live = 0
        self.batch = 0

    def _capacity(self, model: str) -> _Capacity:
        left = self._left.get(model)
        if left is None:
            limits = self._limits_for(model)
            requests = _window(limits.rpm, self._minutes, limits.rpd, self._days)
            tokens = _window(limits.tpm, self._minutes, limits.tpd, self._days)
            left = self._left[model] = _Capacity(requests * self._safety, tokens * self._safety)
        return left

    def take(self, model: str, cost: int) -> bool:
        """True when the live lanes can still finish a job of ``model`` costing ``cost`` tokens in time."""
        left = self._capacity(model)
        if left.requests >= 1 and left.tokens >= cost:
            left.requests -= 1
            left.tokens -= cost
            self.live += 1
            return True
        self.batch += 1
        return False


def _window(per_minute: int | None, minutes: float, per_day: int | None, days: float) -> float:
    """What a minute window and a day window together allow over the deadline (inf when neither is known).

    Each window is counted as its limit per period, and at least one period's worth: a bucket may start
    full, but a planner that cannot see it must not count on what it holds beyond that.
    """
    allowed = float("inf")
    if per_minute is not None:
        allowed = per_minute * max(minutes, 1.0)
    if per_day is not None:
        allowed = min(allowed, per_day * max(1.0, days))
    return allowed
