"""Groq-style rate limits for the emulator: continuously refilling buckets per (API key, model).

Theory of operation
-------------------
Groq enforces, per organisation and model, requests per minute (RPM), requests per day (RPD), tokens per
minute (TPM) and tokens per day (TPD), plus audio seconds per hour/day (ASH/ASD) on whisper models, and for
some organisations input and output tokens per minute (ITPM, OTPM: "some organizations are also subject to
separate per-minute limits on input tokens (ITPM) and output tokens (OTPM)", console.groq.com/docs/rate-limits,
as read 2026-11). Its headers show continuously refilling buckets, not fixed windows: after one request
against a 14,400 RPD limit, ``x-ratelimit-reset-requests`` says ``6s`` (86,400 s / 14,400), and after 157
tokens against a 6,000 TPM limit, ``x-ratelimit-reset-tokens`` says ``1.57s``. So each limit here is a
bucket of capacity ``limit`` that refills at ``limit / period`` per second, and "reset" means "seconds
until the bucket is full again".

Rule 1: this module does no IO and reads no clock. Every method takes ``now`` (emulated seconds; the
emulator multiplies trio's clock by its time scale) and returns decisions as values.

Rule 2: a decision is all-or-nothing. :meth:`KeyModelLimiter.admit` either spends from every bucket or
from none, so a denied request leaves no trace.

How tokens are counted
----------------------
- At admission a chat request is charged 1 request (RPM and RPD) and
  ``estimate_prompt_tokens(request) + completion budget`` tokens (TPM and TPD), where the completion
  budget is ``max_completion_tokens`` or ``max_tokens`` if the request gives one, else 0. This mirrors
  Groq, which counts the requested ``max_tokens`` against TPM before the request runs.
- ITPM is charged the prompt estimate and OTPM the completion budget at admission, each reconciled like TPM
  (ITPM to the uncached prompt tokens, OTPM to the completion tokens, reasoning included: reasoning tokens
  are output).
- When the response is finished (or the client disconnects) the charge is reconciled to what was really
  used, ``prompt_tokens - cached_tokens + completion_tokens``: Groq says "Cached tokens do not count towards
  your rate limits. However, cached tokens are subtracted from your limits after processing"
  (console.groq.com/docs/prompt-caching, as read 2026-11), so a cache hit is charged in full at admission
  and given back afterwards. An unused budget is given back, tokens generated beyond the
  reservation (possible only when no budget was given) are taken, even if that drives a bucket into debt.
  A bucket in debt reports 0 remaining and a reset time that includes the debt. A request refused after
  admission because of its output (``json_validate_failed``, ``tool_use_failed``) keeps its charge: the
  tokens were generated. The ``x-ratelimit-*`` headers of a response show the state right after its
  admission charge.
- Requests refused before admission (bad requests, unknown models, injected faults) cost nothing.
- A request whose admission cost is larger than a bucket's whole capacity can never run: it gets
  :class:`TooLarge` (the emulator answers 413, as Groq does for a request over TPM on its own).
- Audio requests are charged 1 request at admission and their billed audio seconds (ASH, ASD) once the
  upload has been parsed.

The number of (key, model) pairs tracked is bounded (least recently used pairs are forgotten, which
refills them); real deployments have a handful of keys and models.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections import OrderedDict
from collections.abc import Callable

from actors._windows import LIMIT_TYPES, WindowSpec
from orchestrator._tiers import PlanLimits

__all__ = [
    "Admitted",
    "Denied",
    "KeyModelLimiter",
    "LimitSpec",
    "RateLimiter",
    "RateLimitState",
    "TooLarge",
    "Window",
]

# Grant when a bucket is short by less than this: float rounding must not make "try again in 1.2 s"
# fail at exactly now + 1.2 s.
_EPSILON = 1e-6


def _limit_type(name: str) -> WindowSpec:
    return next(spec for spec in LIMIT_TYPES if spec.name == name)


class Window(enum.Enum):
    """One of Groq's rate-limit windows: what it counts, over what period, and how Groq names it.

    The words come from the one window table (``actors._windows.LIMIT_TYPES``). ``unit`` is the amount a
    request is charged in (``admit``'s keyword), ``description`` the words Groq's 429 and 413 bodies use
    for the window, and ``kind`` the error body's ``type`` (Groq sends ``requests`` or ``tokens``; the input
    and output token windows are token limits too).
    """

    RPM = _limit_type("RPM")
    RPD = _limit_type("RPD")
    TPM = _limit_type("TPM")
    TPD = _limit_type("TPD")
    ITPM = _limit_type("ITPM")
    OTPM = _limit_type("OTPM")
    ASH = _limit_type("ASH")
    ASD = _limit_type("ASD")

    def __init__(self, *fields: object) -> None:
        spec = WindowSpec(*fields)  # type: ignore[arg-type]
        self.field = spec.field
        self.unit = spec.kind
        self.period = spec.seconds
        self.description = spec.phrase
        self.kind = "tokens" if spec.kind in ("input_tokens", "output_tokens") else spec.kind


class LimitSpec(PlanLimits, frozen=True):
    """The limits of one model for one key; ``None`` means "not limited".

    The fields are the plan tables' (``orchestrator._tiers.PlanLimits``: one list of Groq's limit types);
    this adds the check that each is a positive integer. ``itpm`` and ``otpm`` are the separate input
    and output token limits some organisations have besides TPM; Groq's headers never report them.
    """

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ValueError(f"limit {name}={value!r} must be a positive integer (or None for unlimited)")


@dataclasses.dataclass(frozen=True, slots=True)
class Admitted:
    """The request was admitted and charged."""


@dataclasses.dataclass(frozen=True, slots=True)
class Denied:
    """Not enough budget now: retry in ``wait`` seconds (emulated) if nothing else is admitted meanwhile.

    ``window`` is the limit that is furthest from allowing the request (the one a 429 names);
    ``used`` is how much of that window's capacity is currently spent.
    """

    window: Window
    limit: int
    used: int
    requested: int
    wait: float


@dataclasses.dataclass(frozen=True, slots=True)
class TooLarge:
    """The request alone costs more than a window's capacity: it can never be admitted (a 413)."""

    window: Window
    limit: int
    requested: int


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimitState:
    """What the ``x-ratelimit-*`` headers report: requests are per day, tokens per minute.

    Reset times are emulated seconds until the bucket is full again; ``None`` fields mean the model has
    no such limit (the emulator then omits the header).
    """

    limit_requests: int | None
    remaining_requests: int | None
    reset_requests: float | None
    limit_tokens: int | None
    remaining_tokens: int | None
    reset_tokens: float | None


class _Bucket:
    """A token bucket of capacity ``limit`` refilling at ``limit / period`` per second (may go into debt)."""

    __slots__ = ("limit", "rate", "level", "stamp")

    def __init__(self, limit: int, period: float, now: float) -> None:
        self.limit = limit
        self.rate = limit / period
        self.level = float(limit)
        self.stamp = now

    def refill(self, now: float) -> float:
        """Bring the level up to ``now`` and return it (time never runs backwards here)."""
        if now > self.stamp:
            self.level = min(float(self.limit), self.level + (now - self.stamp) * self.rate)
            self.stamp = now
        return self.level

    def wait_for(self, amount: float) -> float:
        """Seconds until the (refilled) level reaches ``amount``; 0 if it already does."""
        short = amount - self.level
        return 0.0 if short <= _EPSILON else short / self.rate

    def reset_in(self) -> float:
        """Seconds until the bucket is full again."""
        return max(0.0, (self.limit - self.level) / self.rate)


class KeyModelLimiter:
    """The buckets of one (API key, model) pair: admission, reconciliation and header state.

    Unlike ``trio.CapacityLimiter`` nothing is "released" when a request finishes: spent budget comes back
    only by refilling over time (or by :meth:`charge` with a negative amount when a reservation was too big).
    """

    __slots__ = ("_buckets",)

    def __init__(self, spec: LimitSpec, now: float) -> None:
        limits = {window: getattr(spec, window.field) for window in Window}
        self._buckets = {
            window: _Bucket(limit, window.period, now)
            for window, limit in limits.items()
            if limit is not None
        }

    def admit(
        self,
        now: float,
        *,
        requests: int = 1,
        tokens: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        audio_seconds: int = 0,
    ) -> Admitted | Denied | TooLarge:
        """Charge one request's cost to every bucket at once, or to none.

        ``tokens`` goes to TPM and TPD, ``input_tokens`` to ITPM, ``output_tokens`` to OTPM: the caller
        says what each window counts (a chat request's ``tokens`` is its input plus output estimate).

        Returns :class:`Admitted` (charged), :class:`Denied` (nothing charged; wait and retry) or
        :class:`TooLarge` (nothing charged; never admissible).
        """
        amounts = {
            "requests": requests,
            "tokens": tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "audio_seconds": audio_seconds,
        }
        worst: Denied | None = None
        for window, bucket in self._buckets.items():
            amount = amounts[window.unit]
            if amount > bucket.limit:
                return TooLarge(window=window, limit=bucket.limit, requested=amount)
            bucket.refill(now)
            wait = bucket.wait_for(amount) if amount else 0.0
            if wait > 0.0 and (worst is None or wait > worst.wait):
                used = max(0, math.ceil(bucket.limit - bucket.level))
                worst = Denied(window=window, limit=bucket.limit, used=used, requested=amount, wait=wait)
        if worst is not None:
            return worst
        for window, bucket in self._buckets.items():
            bucket.level -= amounts[window.unit]
        return Admitted()

    def charge(
        self,
        now: float,
        *,
        tokens: int = 0,
        input_tokens: int = 0,
        output_tokens: int = 0,
        audio_seconds: int = 0,
    ) -> None:
        """Add (or give back, if negative) tokens or audio seconds after admission; debt is allowed."""
        amounts = {
            "requests": 0,
            "tokens": tokens,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "audio_seconds": audio_seconds,
        }
        for window, bucket in self._buckets.items():
            amount = amounts[window.unit]
            if amount:
                bucket.refill(now)
                bucket.level = min(float(bucket.limit), bucket.level - amount)

    def state(self, now: float) -> RateLimitState:
        """The values for the ``x-ratelimit-*`` headers: RPD for requests, TPM for tokens (as Groq)."""
        rpd = self._buckets.get(Window.RPD)
        tpm = self._buckets.get(Window.TPM)
        if rpd is not None:
            rpd.refill(now)
        if tpm is not None:
            tpm.refill(now)
        return RateLimitState(
            limit_requests=rpd.limit if rpd else None,
            remaining_requests=max(0, math.floor(rpd.level + _EPSILON)) if rpd else None,
            reset_requests=rpd.reset_in() if rpd else None,
            limit_tokens=tpm.limit if tpm else None,
            remaining_tokens=max(0, math.floor(tpm.level + _EPSILON)) if tpm else None,
            reset_tokens=tpm.reset_in() if tpm else None,
        )


class RateLimiter:
    """All (API key, model) limiters, created on first use from ``limits_for(model)``.

    Args:
        limits_for: the limits of a model (per key); called once per new (key, model) pair.
        max_pairs: how many pairs to remember; the least recently used pair beyond it is forgotten
            (so memory stays bounded however many keys a client invents).
    """

    def __init__(self, limits_for: Callable[[str], LimitSpec], *, max_pairs: int = 4096) -> None:
        if max_pairs < 1:
            raise ValueError(f"max_pairs={max_pairs!r} must be at least 1")
        self._limits_for = limits_for
        self._max_pairs = max_pairs
        self._pairs: OrderedDict[tuple[str, str], KeyModelLimiter] = OrderedDict()

    def get(self, key: str, model: str, now: float) -> KeyModelLimiter:
        """The limiter for ``(key, model)``, full if it is new (or was forgotten)."""
        pair = (key, model)
        limiter = self._pairs.get(pair)
        if limiter is None:
            limiter = KeyModelLimiter(self._limits_for(model), now)
            self._pairs[pair] = limiter
            if len(self._pairs) > self._max_pairs:
                self._pairs.popitem(last=False)
        else:
            self._pairs.move_to_end(pair)
        return limiter

    def __len__(self) -> int:
        return len(self._pairs)
