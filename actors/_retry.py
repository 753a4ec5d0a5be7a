"""The retry policy (spec NFR-REL-001): whether to try again, and after how long.

Theory of operation
-------------------
A transient failure (429, 498, 5xx, a timeout, a broken connection) is retried with exponential
backoff: ``initial_backoff * multiplier ** (attempt - 1)``, capped at ``max_backoff`` (1 s, 2 s,
4 s ... 60 s by default), with *full jitter*: the actual delay is drawn uniformly from
``[0, backoff)``, which spreads a thundering herd of concurrent retries far better than the
"+/- 25 %" jitter of the official SDKs (AWS Architecture Blog, "Exponential Backoff And Jitter").

A server that says how long to wait (``retry-after`` on a 429, or "try again in 5.289s") is
believed: its value is a *floor* under the jittered delay. Blind 1-2-4 s retries against a
tokens-per-minute limit are exactly the 429 storm users complain about (Aider-AI/aider#3265).
The floor is capped at ``max_retry_after`` (10 minutes) so a broken header cannot park a job for
a day; a day-quota exhaustion is better surfaced than silently waited out.

Rule 1: the policy is pure. The randomness is an argument (``random`` in ``[0, 1)``), so the
worker owns its RNG and tests pass literals. Whether an error is retryable at all is the error's
business (:attr:`orchestrator.GroqError.retryable`); the policy only counts attempts.

The policy is per job. What the whole client may afford (retries of server trouble as a share of
its recent first attempts, so a batch does not multiply the load on a failing server) is the
separate :class:`actors._retry_budget.RetryBudget`, which the scheduler consults after the policy.
"""

from __future__ import annotations

import math

import msgspec

__all__ = ["DEFAULT_MAX_RETRY_AFTER", "RetryPolicy"]

DEFAULT_MAX_RETRY_AFTER = 600.0
"""The longest server-requested wait we honour as a floor (10 minutes)."""


class RetryPolicy(msgspec.Struct, frozen=True):
    """How many times to retry a transient failure, and how long to wait before each retry.

    Attributes:
        max_retries: retries after the first attempt (3 means at most 4 attempts).
        initial_backoff: the backoff before the first retry, in seconds.
        max_backoff: the cap on the exponential backoff, in seconds.
        multiplier: the growth factor between consecutive backoffs.
        jitter: draw the delay uniformly from ``[0, backoff)`` (full jitter) instead of using
            the backoff itself.
        max_retry_after: the cap on a server's ``retry-after`` floor, in seconds.

    Raises:
        ValueError: a field is negative, a multiplier is below 1, or ``max_backoff`` is below
            ``initial_backoff``; the message names the field and value.
    """

    max_retries: int = 3
    initial_backoff: float = 1.0
    max_backoff: float = 60.0
    multiplier: float = 2.0
    jitter: bool = True
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER

    def __post_init__(self) -> None:
        for name in ("max_retries", "initial_backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if not (value >= 0 and math.isfinite(value)):
                raise ValueError(f"RetryPolicy.{name}={value!r} must be a finite number >= 0")
        if not (self.multiplier >= 1 and math.isfinite(self.multiplier)):
            raise ValueError(
                f"RetryPolicy.multiplier={self.multiplier!r} must be >= 1 (backoff must not shrink between retries)"
            )
        if self.max_backoff < self.initial_backoff:
            raise ValueError(
                f"RetryPolicy.max_backoff={self.max_backoff!r} is below initial_backoff={self.initial_backoff!r}; "
                "raise max_backoff or lower initial_backoff"
            )

    def should_retry(self, attempt: int, retryable: bool) -> bool:
        """Whether to try again after ``attempt`` attempts have failed.

        Args:
            attempt: attempts already made, counting the first (1 after the first failure).
            retryable: whether the last failure was transient (from the error's ``retryable``).

        Raises:
            ValueError: ``attempt`` is below 1.
        """
        _check_attempt(attempt)
        return retryable and attempt <= self.max_retries

    def backoff(self, attempt: int) -> float:
        """The un-jittered backoff after ``attempt`` failed attempts: ``initial * multiplier**(attempt-1)``, capped."""
        _check_attempt(attempt)
        if self.initial_backoff == 0:
            return 0.0
        exponent = attempt - 1
        if self.multiplier > 1 and exponent >= math.log(self.max_backoff / self.initial_backoff, self.multiplier):
            return self.max_backoff  # also avoids float overflow for huge attempt counts
        return min(self.max_backoff, self.initial_backoff * self.multiplier**exponent)

    def delay(self, attempt: int, retry_after: float | None, random: float) -> float:
        """Seconds to wait before the next attempt.

        Args:
            attempt: attempts already made (1 after the first failure).
            retry_after: the server's requested wait in seconds, or None; negative or non-finite
                values are ignored as nonsense.
            random: a uniform draw from ``[0, 1)`` used for jitter.

        Returns:
            ``max(jittered backoff, min(retry_after, max_retry_after))``.

        Raises:
            ValueError: ``attempt`` is below 1 or ``random`` is outside ``[0, 1)``.
        """
        if not 0.0 <= random < 1.0:
            raise ValueError(f"random={random!r} must be a uniform draw from [0, 1), e.g. random.random()")
        backoff = self.backoff(attempt)
        wait = backoff * random if self.jitter else backoff
        if retry_after is not None and retry_after >= 0 and math.isfinite(retry_after):
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait


def _check_attempt(attempt: int) -> None:
    if attempt < 1:
        raise ValueError(f"attempt={attempt!r} must count the attempts already made, starting at 1")
