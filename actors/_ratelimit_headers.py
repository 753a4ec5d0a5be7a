"""Groq's ``x-ratelimit-*`` headers, read and written in one place.

Groq reports two windows on every response (console.groq.com/docs/rate-limits, 2026):
``x-ratelimit-limit-requests`` / ``-remaining-requests`` / ``-reset-requests`` describe the
*requests per day* window, and the ``-tokens`` trio the *tokens per minute* window. The resets are
Go durations (``2m59.56s``, ``7.66s``, ``940ms``). No other window is ever reported.

:func:`read_rate_limit_headers` turns any mapping of headers into a :class:`RateLimitReport`
(names matched case-insensitively, unparsable values dropped, never raises); both budgets, local
and shared, learn from that report. :func:`rate_limit_header_pairs` writes the same headers, for
the emulator.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec

from ._duration import format_go_duration, parse_go_duration

__all__ = ["RateLimitReport", "ReportedWindow", "rate_limit_header_pairs", "read_rate_limit_headers"]

_PREFIX = "x-ratelimit-"


class ReportedWindow(msgspec.Struct, frozen=True):
    """What the headers said about one window; None where a value was absent or unparsable."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None

    @property
    def empty(self) -> bool:
        """Whether the headers said nothing usable about this window's limit or room."""
        return self.limit is None and self.remaining is None


class RateLimitReport(msgspec.Struct, frozen=True):
    """One response's rate-limit headers: ``requests`` is the RPD window, ``tokens`` the TPM window."""

    requests: ReportedWindow = ReportedWindow()
    tokens: ReportedWindow = ReportedWindow()

    def windows(self) -> tuple[tuple[str, ReportedWindow], tuple[str, ReportedWindow]]:
        """``(("rpd", requests), ("tpm", tokens))``: each reported window under its limit's name."""
        return ("rpd", self.requests), ("tpm", self.tokens)


def read_rate_limit_headers(headers: Mapping[str, str]) -> RateLimitReport | None:
    """The report in ``headers``, or None if they hold no ``x-ratelimit-*`` header at all."""
    values = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered.startswith(_PREFIX):
            values[lowered[len(_PREFIX) :]] = value
    if not values:
        return None
    return RateLimitReport(*(_window(values, kind) for kind in ("requests", "tokens")))


def rate_limit_header_pairs(report: RateLimitReport) -> list[tuple[str, str]]:
    """The ``x-ratelimit-*`` headers that say ``report`` (the values that are known), in Groq's order."""
    pairs = []
    for field in ("limit", "remaining", "reset"):
        for kind, window in (("requests", report.requests), ("tokens", report.tokens)):
            value = getattr(window, field)
            if value is not None:
                text = format_go_duration(value) if field == "reset" else str(value)
                pairs.append((f"{_PREFIX}{field}-{kind}", text))
    return pairs


def _window(values: Mapping[str, str], kind: str) -> ReportedWindow:
    return ReportedWindow(
        _count(values.get("limit-" + kind)), _count(values.get("remaining-" + kind)), _duration(values.get("reset-" + kind))
    )


def _count(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        count = int(value.strip())
    except ValueError:
        return None
    return count if count >= 0 else None


def _duration(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = parse_go_duration(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None
