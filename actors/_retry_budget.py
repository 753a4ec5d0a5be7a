"""The retry budget (issue 18): retries may add at most a fixed share to the load a client puts on a server.

Theory of operation
-------------------
A retry policy alone is per job: "try each failed request up to 3 more times". Against a server in
trouble, a fleet of jobs each following it multiplies the load by up to four at the worst moment,
which is how a brown-out becomes an outage. A *budget* caps the retries of the whole client
instead, as Finagle's ``RetryBudget`` and gRPC's retry throttling do: over the last ``window``
seconds, retries may be at most ``ratio`` (20 %) of the first attempts, plus a small floor of
``min_per_second`` retries per second so that a client sending little can still retry its few
failures::

    retries in window + 1  <=  ratio * first attempts in window  +  min_per_second * window

When the budget is spent, a retryable failure is final: the job fails with its own error. So a
server answering 10 % of requests with a 500 still gets every one of them retried (10 % < 20 %),
while a server failing everything sees at most 1.2 times the first attempts, not 4 times.

Rule 1: pure state, no clock and no IO: every method takes ``now``. Rule 2: bounded memory: the
window is ``buckets`` fixed slots of ``window / buckets`` seconds each (a ring indexed by the slot
number), so the budget forgets exactly one slot at a time and never grows with the number of
requests. A slot that is more than ``buckets - 1`` slots old counts for nothing.

The budget does not decide *whether* a failure is worth retrying (that is the error's
``retryable`` and the policy's ``max_retries``), only whether the client can afford it now. The
scheduler spends it only on server trouble: a 429 is the server asking us to wait, which the rate
budget already honours, and it is not an outage to protect.
"""

from __future__ import annotations

import math

import msgspec

__all__ = ["RetryBudget", "RetryBudgetStatistics"]


class RetryBudgetStatistics(msgspec.Struct, frozen=True):
    """A snapshot of a :class:`RetryBudget` (counts are those of the current window).

    Attributes:
        first_attempts: first attempts deposited in the window.
        retries: retries withdrawn in the window.
        balance: retries that could still be withdrawn now.
        refused: every retry the budget refused since it was made.
    """

    first_attempts: int
    retries: int
    balance: float
    refused: int


class RetryBudget:
    """How many retries the client can afford now, from its recent first attempts.

    Think of a jar: every first attempt drops ``ratio`` of a token in, every retry takes a whole
    token out, and the jar starts each window with ``min_per_second * window`` tokens. Unlike a
    token bucket, what was dropped in evaporates after ``window`` seconds, so a burst of successes
    an hour ago does not pay for a storm of retries now.

    Args:
        ratio: retries allowed per first attempt (0.2: at most 20 % extra load).
        min_per_second: retries per second allowed regardless of traffic (the floor).
        window: how many seconds of history count.
        buckets: how many slots the window is cut into (its time resolution).

    Raises:
        ValueError: a rate is negative or not finite, the window is not positive, or ``buckets``
            is below 1; the message names it.
    """

    __slots__ = (
        "_deposits",
        "_epoch",
        "_first_attempts",
        "_refused",
        "_retries",
        "_width",
        "_withdrawals",
        "buckets",
        "min_per_second",
        "ratio",
        "window",
    )

    def __init__(self, ratio: float = 0.2, min_per_second: float = 10.0, window: float = 10.0, buckets: int = 10) -> None:
        for name, value in (("ratio", ratio), ("min_per_second", min_per_second)):
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ValueError(f"RetryBudget {name}={value!r} must be a finite number >= 0")
        if not (isinstance(window, (int, float)) and window > 0 and math.isfinite(window)):
            raise ValueError(f"RetryBudget window={window!r} must be a positive number of seconds")
        if isinstance(buckets, bool) or not isinstance(buckets, int) or buckets < 1:
            raise ValueError(f"RetryBudget buckets={buckets!r} must be an int of at least 1")
        self.ratio = float(ratio)
        self.min_per_second = float(min_per_second)
        self.window = float(window)
        self.buckets = buckets
        self._width = self.window / buckets
        self._deposits = [0] * buckets  # first attempts per slot; slot = epoch % buckets
        self._withdrawals = [0] * buckets  # retries per slot
        self._epoch: int | None = None  # the slot number of the newest slot in use
        self._first_attempts = 0  # sums over the live slots
        self._retries = 0
        self._refused = 0

    def deposit(self, now: float) -> None:
        """A first attempt was sent: it earns ``ratio`` of a retry for the next ``window`` seconds."""
        slot = self._advance(now)
        self._deposits[slot] += 1
        self._first_attempts += 1

    def balance(self, now: float) -> float:
        """How many retries could be withdrawn at ``now`` (may be fractional; below 1 means none)."""
        self._advance(now)
        return self.ratio * self._first_attempts + self.min_per_second * self.window - self._retries

    def try_withdraw(self, now: float) -> bool:
        """Spend one retry if the budget affords it; False (and nothing spent) if it does not."""
        if self.balance(now) >= 1.0:
            slot = self._advance(now)
            self._withdrawals[slot] += 1
            self._retries += 1
            return True
        self._refused += 1
        return False

    def statistics(self, now: float) -> RetryBudgetStatistics:
        """The window's counts as of ``now``."""
        balance = self.balance(now)
        return RetryBudgetStatistics(
            first_attempts=self._first_attempts, retries=self._retries, balance=balance, refused=self._refused
        )

    def _advance(self, now: float) -> int:
        """Forget the slots that fell out of the window at ``now``; the index of ``now``'s slot."""
        epoch = math.floor(now / self._width)
        last = self._epoch
        if last is None:
            self._epoch = epoch
        elif epoch > last:
            # Clear every slot between the newest one in use and now's (all of them after a long pause).
            for stale in range(last + 1, last + 1 + min(epoch - last, self.buckets)):
                index = stale % self.buckets
                self._first_attempts -= self._deposits[index]
                self._retries -= self._withdrawals[index]
                self._deposits[index] = self._withdrawals[index] = 0
            self._epoch = epoch
        elif epoch < last:
            epoch = last  # the clock never goes back; a late caller is counted in the newest slot
        return epoch % self.buckets

    def __repr__(self) -> str:
        return (
            f"<RetryBudget {self._retries} retries for {self._first_attempts} first attempts in {self.window:g} s "
            f"(allows {self.ratio:.0%} + {self.min_per_second:g}/s)>"
        )
