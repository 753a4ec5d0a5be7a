"""The emulator's latency model: how long a completion "takes", and what ``usage`` says it took.

A Groq response spends ``queue_time`` waiting for capacity, ``prompt_time`` reading the prompt (until the
first token), then ``completion_time`` generating at a steady tokens-per-second rate. Groq's
``total_time`` is ``prompt_time + completion_time`` (queue time is reported separately), as in the real
capture ``0.464013927 = 0.000680594 + 0.463333333``.

The numbers here are emulated seconds, the ones reported in ``usage``; the emulator sleeps for them
divided by its time scale. The ``instant`` profile is all zeros, for tests and throughput benchmarks.
This module is pure (no clock, no trio).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

__all__ = ["LatencyModel", "Timing"]


@dataclasses.dataclass(frozen=True, slots=True)
class Timing:
    """The timing fields of one response's ``usage`` (emulated seconds)."""

    queue_time: float
    prompt_time: float
    completion_time: float

    @property
    def total_time(self) -> float:
        """Groq's ``total_time``: prompt plus completion time (queue time excluded)."""
        return self.prompt_time + self.completion_time

    def usage_fields(self) -> dict[str, float]:
        """The timing keys of Groq's ``usage`` object, rounded like Groq's (nanoseconds)."""
        return {
            "queue_time": round(self.queue_time, 9),
            "prompt_time": round(self.prompt_time, 9),
            "completion_time": round(self.completion_time, 9),
            "total_time": round(self.total_time, 9),
        }


@dataclasses.dataclass(frozen=True, slots=True)
class LatencyModel:
    """Queue time, time to first token and generation speed.

    Args:
        queue_time: seconds a request waits before the model starts on it.
        time_to_first_token: seconds spent on the prompt before the first token (``prompt_time``).
        tokens_per_second: generation speed; ``math.inf`` means completions take no time.
    """

    queue_time: float = 0.0
    time_to_first_token: float = 0.0
    tokens_per_second: float = math.inf

    def __post_init__(self) -> None:
        if not (self.queue_time >= 0.0 and math.isfinite(self.queue_time)):
            raise ValueError(f"queue_time={self.queue_time!r} must be a finite number of seconds >= 0")
        if not (self.time_to_first_token >= 0.0 and math.isfinite(self.time_to_first_token)):
            raise ValueError(
                f"time_to_first_token={self.time_to_first_token!r} must be a finite number of seconds >= 0"
            )
        if not self.tokens_per_second > 0.0:
            raise ValueError(f"tokens_per_second={self.tokens_per_second!r} must be > 0 (inf for instant)")

    @classmethod
    def profile(cls, name: Literal["instant", "realistic"]) -> LatencyModel:
        """A named profile: ``instant`` (all zero) or ``realistic`` (roughly a busy Groq 8B model)."""
        if name == "instant":
            return cls()
        if name == "realistic":
            return cls(queue_time=0.03, time_to_first_token=0.12, tokens_per_second=600.0)
        raise ValueError(f"latency profile {name!r} is unknown; use 'instant' or 'realistic'")

    @property
    def instant(self) -> bool:
        """Whether every delay is zero (the emulator then never sleeps)."""
        return self.queue_time == 0.0 and self.time_to_first_token == 0.0 and math.isinf(
            self.tokens_per_second
        )

    def per_token(self) -> float:
        """Seconds to generate one token."""
        return 0.0 if math.isinf(self.tokens_per_second) else 1.0 / self.tokens_per_second

    def timing(self, completion_tokens: int) -> Timing:
        """The usage timings of a response with ``completion_tokens`` generated tokens."""
        return Timing(
            queue_time=self.queue_time,
            prompt_time=self.time_to_first_token,
            completion_time=completion_tokens * self.per_token(),
        )
