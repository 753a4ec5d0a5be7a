"""Go durations, as Groq writes them in its ``x-ratelimit-reset-*`` headers.

Theory of operation
-------------------
Groq's servers are written in Go and print ``time.Duration`` values with Go's ``String()``
method, rounded to hundredths of a second: ``2m59.56s``, ``7.66s``, ``940ms``, ``6m0s``,
``1h2m3s``, ``0s``. A duration is a sequence of ``<decimal number><unit>`` terms with units
``h``, ``m``, ``s``, ``ms``, ``us`` (also ``µs`` and ``μs``) and ``ns``, optionally signed as a
whole. Go also accepts a bare ``0``; we accept any bare decimal number and read it as seconds,
because that is what a ``retry-after`` header carries.

Rule 1: no IO and no clock; both functions are pure and total on their domain.
Rule 2: :func:`parse_go_duration` never guesses: anything that is not a duration raises
:class:`ValueError` naming the text, so callers that must never fail (header parsing) catch it
and ignore the header instead of acting on a wrong number.

:func:`format_go_duration` is the inverse used by the emulator to write the same headers:
``parse_go_duration(format_go_duration(x))`` is within 5 ms of ``x``.
"""

from __future__ import annotations

import math
import re

__all__ = ["format_go_duration", "parse_go_duration"]

# Seconds per unit. "µs" is U+00B5 (micro sign) and "μs" U+03BC (Greek mu); Go accepts both.
_UNIT_SECONDS = {
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "\u00b5s": 1e-6,
    "\u03bcs": 1e-6,
    "ns": 1e-9,
}

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
# Longer units first so "ms" is not read as "m" followed by garbage.
_UNIT = r"(?:ms|us|\u00b5s|\u03bcs|ns|h|m|s)"
_TERM = re.compile(rf"({_NUMBER})({_UNIT})")
_DURATION = re.compile(rf"([+-]?)((?:{_NUMBER}{_UNIT})+)")
_BARE_SECONDS = re.compile(rf"[+-]?{_NUMBER}")


def parse_go_duration(text: str) -> float:
    """Read a Go duration (``"2m59.56s"``, ``"940ms"``, ``"1h2m3s"``) or bare seconds (``"2"``).

    Groq reports when a rate-limit window refills as a Go duration; this turns it into seconds
    the rate budget can add to ``now``. Surrounding whitespace is ignored.

    Args:
        text: the header value.

    Returns:
        The duration in seconds (negative only if the text has a leading ``-``).

    Raises:
        ValueError: ``text`` is not a Go duration or a decimal number; the message quotes it.
    """
    stripped = text.strip()
    # Groq's everyday forms ("7.66s", "86.4ms") without the regex: one unsigned term of digits and a dot.
    for unit in ("ms", "s"):
        if stripped.endswith(unit):
            number = stripped[: -len(unit)]
            digits = number.replace(".", "", 1)
            if digits.isascii() and digits.isdigit():
                return float(number) * _UNIT_SECONDS[unit]
            break
    match = _DURATION.fullmatch(stripped)
    if match is None:
        if _BARE_SECONDS.fullmatch(stripped):
            return float(stripped)
        raise ValueError(
            f"not a Go duration: {text!r}; expected terms like '2m59.56s', '940ms' or '1h2m3s' "
            "(units h, m, s, ms, us, ns) or a plain number of seconds"
        )
    seconds = math.fsum(float(number) * _UNIT_SECONDS[unit] for number, unit in _TERM.findall(match.group(2)))
    return -seconds if match.group(1) == "-" else seconds


def format_go_duration(seconds: float) -> str:
    """Write ``seconds`` the way Groq's headers do: ``"2m59.56s"``, ``"7.66s"``, ``"940ms"``, ``"0s"``.

    Durations of a second or more are rounded to hundredths of a second and written with Go's
    ``h``/``m``/``s`` terms (every smaller term is kept once a larger one appears: ``"6m0s"``,
    ``"1h0m0s"``); shorter ones in milliseconds with at most two decimals (``"940ms"``,
    ``"0.5ms"``). Trailing zeros of a fraction are dropped.

    Args:
        seconds: a finite number of seconds; negative values get a leading ``-`` like Go.

    Raises:
        ValueError: ``seconds`` is NaN or infinite.
    """
    if not math.isfinite(seconds):
        raise ValueError(f"cannot format {seconds!r} as a Go duration: it must be a finite number of seconds")
    if seconds < 0:
        formatted = format_go_duration(-seconds)
        return formatted if formatted == "0s" else "-" + formatted
    centiseconds = round(seconds * 100)
    if centiseconds < 100:
        # Below one second Go switches to milliseconds; keep two decimals so "0.5ms" survives.
        # (seconds < 0.995 here, so this never rounds up to 1000 ms.)
        hundredths_of_ms = round(seconds * 100_000)
        return _decimal(hundredths_of_ms) + "ms" if hundredths_of_ms else "0s"
    hours, rest = divmod(centiseconds, 360_000)
    minutes, rest = divmod(rest, 6_000)
    text = _decimal(rest) + "s"
    if hours:
        return f"{hours}h{minutes}m{text}"
    if minutes:
        return f"{minutes}m{text}"
    return text


def _decimal(hundredths: int) -> str:
    """``5956`` -> ``"59.56"``, ``5950`` -> ``"59.5"``, ``300`` -> ``"3"``."""
    whole, fraction = divmod(hundredths, 100)
    if not fraction:
        return str(whole)
    return f"{whole}.{fraction:02d}".rstrip("0")
