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
from collections.abc import Iterable, Mapping

import msgspec

from ._duration import format_go_duration, parse_go_duration

__all__ = [
    "RateLimitReport",
    "ReportedWindow",
    "rate_limit_header_pairs",
    "read_rate_limit_headers",
    "read_rate_limit_pairs",
]

_PREFIX = "x-ratelimit-"
#: Where each ``x-ratelimit-*`` header's value goes: the RPD window's limit, remaining and reset, then TPM's.
_SLOTS = {
    f"{_PREFIX}{field}-{kind}": index
    for index, (kind, field) in enumerate(
        (kind, field) for kind in ("requests", "tokens") for field in ("limit", "remaining", "reset")
    )
}
_RAW_SLOTS = {name.encode(): index for name, index in _SLOTS.items()}


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
    """The report in ``headers``, or None if they hold none of Groq's six ``x-ratelimit-*`` headers."""
    values: list[str | None] = [None] * len(_SLOTS)
    for name, value in headers.items():
        slot = _SLOTS.get(name.lower())
        if slot is not None:
            values[slot] = value
    return _report(values)


def read_rate_limit_pairs(raw: Iterable[tuple[bytes, bytes]]) -> RateLimitReport | None:
    """The same report from raw ``(name, value)`` byte pairs (``httpx.Headers.raw``).

    Every response passes through here, so it reads the bytes once instead of decoding every header
    into a mapping first.
    """
    values: list[bytes | None] = [None] * len(_SLOTS)
    slots = _RAW_SLOTS
    for name, value in raw:
        slot = slots.get(name.lower())
        if slot is not None:
            values[slot] = value
    return _report([None if value is None else value.decode("latin-1") for value in values])


def _report(values: list[str | None]) -> RateLimitReport | None:
    """The report from the six values in ``_SLOTS`` order (None where absent)."""
    if values.count(None) == len(values):
        return None
    windows = [
        ReportedWindow(_count(values[start]), _count(values[start + 1]), _duration(values[start + 2]))
        for start in (0, 3)
    ]
    return RateLimitReport(*windows)


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
