"""The arithmetic of ``groq-orch bench``: percentiles, TPOT, goodput, tokens per minute. No IO, no clock.

Vocabulary, shared with llmperf, GuideLLM, genai-perf and vLLM's serving benchmark (``GROQ-API.md`` §4):

* **TTFT**, time to first token: from the moment the request is handed to the client until the first
  chunk with non-empty text arrives. It includes everything the user waits for: the client holding the
  request for rate budget, Groq's queue, prefill and the network.
* **ITL**, inter-token latency: the gaps between consecutive text chunks after the first.
* **TPOT**, time per output token: ``(E2E - TTFT) / (output_tokens - 1)``. Groq may pack several tokens
  into one chunk, so ITL and TPOT can disagree (vllm-project/vllm#6531); the bench reports both.
* **E2E**: from handing the request over to the end of its stream.
* **Goodput**: the requests that meet every bound of a service-level objective (:class:`SLO`), as a share
  of all requests and per second.

Theory of operation: the bench feeds every finished request (a :class:`RequestRecord`) and every ITL gap
into one :class:`LevelStats` per concurrency or rate level, which keeps counters and one
:class:`Distribution` per metric and produces a :class:`LevelSummary` at the end. Nothing here grows with
the number of requests or the length of a stream: a :class:`Distribution` keeps exact samples up to
:data:`EXACT_LIMIT` (so a typical run reports exact percentiles, interpolated like numpy's default) and
beyond that folds them into logarithmic buckets whose answers are within :data:`RELATIVE_ACCURACY` of the
truth (the DDSketch idea), in memory bounded by the range of values, not their number.

Times are seconds on the endpoint's clock throughout (see ``orchestrator.loadtest._command``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import msgspec

__all__ = [
    "EXACT_LIMIT",
    "LATENCY_FIELDS",
    "MAX_ERROR_KINDS",
    "RELATIVE_ACCURACY",
    "SLO",
    "Distribution",
    "Goodput",
    "LevelStats",
    "LevelSummary",
    "Percentiles",
    "RequestRecord",
    "per_minute",
    "rate",
    "time_per_output_token",
]

#: Samples a :class:`Distribution` keeps exactly before it switches to buckets.
EXACT_LIMIT: Final = 4096
#: Worst relative error of a percentile once a :class:`Distribution` has switched to buckets.
RELATIVE_ACCURACY: Final = 0.005
#: Distinct error kinds a level counts by name; the rest are counted as ``other``.
MAX_ERROR_KINDS: Final = 50

_GAMMA: Final = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA: Final = math.log(_GAMMA)
#: Values below this (a nanosecond) share the zero bucket: two chunks of one network read.
_ZERO: Final = 1e-9


class Percentiles(msgspec.Struct, frozen=True):
    """The shape of one metric over a level's requests (seconds, or None when nothing was measured)."""

    count: int
    mean: float | None
    min: float | None
    max: float | None
    p50: float | None
    p90: float | None
    p99: float | None


class Distribution:
    """The values of one metric, in bounded memory, answering percentiles.

    Up to :data:`EXACT_LIMIT` values are kept as they are and percentiles are exact (linear
    interpolation between closest ranks, numpy's default). Past that, every value is counted in a
    logarithmic bucket ``(gamma**(i-1), gamma**i]`` and a percentile is the bucket's midpoint (clamped to
    the observed min and max), at most :data:`RELATIVE_ACCURACY` away from the exact answer; the lowest
    and highest ranks answer the exact min and max. Count, mean,
    min and max stay exact either way. Values must be finite and non-negative (durations).
    """

    __slots__ = ("count", "total", "minimum", "maximum", "_exact", "_sorted", "_buckets", "_zeros")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.minimum = math.inf
        self.maximum = -math.inf
        self._exact: list[float] | None = []
        self._sorted = True
        self._buckets: dict[int, int] = {}
        self._zeros = 0

    @property
    def exact(self) -> bool:
        """Whether percentiles are still computed from every value."""
        return self._exact is not None

    def add(self, value: float) -> None:
        """Count one value.

        Raises:
            ValueError: the value is negative, infinite or NaN.
        """
        if not (value >= 0.0 and math.isfinite(value)):
            raise ValueError(f"a metric value must be a finite number >= 0, got {value!r}")
        self.count += 1
        self.total += value
        self.minimum = min(self.minimum, value)
        self.maximum = max(self.maximum, value)
        exact = self._exact
        if exact is None:
            self._bucket(value)
            return
        exact.append(value)
        self._sorted = False
        if len(exact) > EXACT_LIMIT:
            for kept in exact:
                self._bucket(kept)
            self._exact = None

    def _bucket(self, value: float) -> None:
        if value < _ZERO:
            self._zeros += 1
            return
        index = math.ceil(math.log(value) / _LOG_GAMMA)
        self._buckets[index] = self._buckets.get(index, 0) + 1

    def quantile(self, q: float) -> float | None:
        """The ``q``-quantile (``0 <= q <= 1``), or None when there are no values.

        Raises:
            ValueError: ``q`` is outside [0, 1].
        """
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"quantile q={q!r} must be between 0 and 1")
        if self.count == 0:
            return None
        exact = self._exact
        if exact is not None:
            if not self._sorted:
                exact.sort()
                self._sorted = True
            position = q * (len(exact) - 1)
            low = math.floor(position)
            high = min(low + 1, len(exact) - 1)
            return exact[low] + (exact[high] - exact[low]) * (position - low)
        rank = math.floor(q * (self.count - 1))  # 0-based rank of the value asked for
        if rank == self.count - 1:
            return self.maximum
        seen = self._zeros
        if rank < seen or rank == 0:
            return self.minimum
        for index in sorted(self._buckets):
            seen += self._buckets[index]
            if rank < seen:
                middle = 2.0 * _GAMMA**index / (_GAMMA + 1.0)
                return min(max(middle, self.minimum), self.maximum)
        return self.maximum  # unreachable: the buckets hold every counted value

    @property
    def mean(self) -> float | None:
        """The exact mean, or None when there are no values."""
        return self.total / self.count if self.count else None

    def summary(self) -> Percentiles:
        """Count, mean, min, max, p50, p90 and p99."""
        if self.count == 0:
            return Percentiles(0, None, None, None, None, None, None)
        return Percentiles(
            self.count, self.mean, self.minimum, self.maximum,
            self.quantile(0.5), self.quantile(0.9), self.quantile(0.99),
        )

    def cdf(self, points: int = 100) -> list[tuple[float, float]]:
        """``points`` (value, cumulative share) pairs from the smallest value to the largest, for plots."""
        if self.count == 0 or points < 2:
            return []
        curve = []
        for step in range(points):
            share = step / (points - 1)
            value = self.quantile(share)
            assert value is not None
            curve.append((value, share))
        return curve

    def __repr__(self) -> str:
        mode = "exact" if self.exact else f"{len(self._buckets)} buckets"
        return f"<Distribution {self.count} values, {mode}>"


def time_per_output_token(e2e: float, ttft: float | None, output_tokens: int) -> float | None:
    """TPOT: ``(e2e - ttft) / (output_tokens - 1)``, the mean time per token after the first.

    None when it is undefined: no first token, or fewer than two output tokens.
    """
    if ttft is None or output_tokens < 2:
        return None
    return max(0.0, e2e - ttft) / (output_tokens - 1)


def rate(count: float, seconds: float) -> float | None:
    """``count`` per second over ``seconds``; None for an empty interval."""
    return count / seconds if seconds > 0 else None


def per_minute(times: Sequence[float], cumulative: Sequence[float], window: float = 60.0) -> list[float]:
    """Tokens per minute at each sample: what was added in the ``window`` seconds up to it, scaled to 60 s.

    ``cumulative[i]`` is the running total at ``times[i]`` (ascending). The amount before the window is
    the total of the last sample at or before ``times[i] - window`` (0 when there is none), so early
    samples count everything since the start: the sliding window a per-minute rate limit applies.
    """
    if len(times) != len(cumulative):
        raise ValueError(f"times ({len(times)}) and cumulative ({len(cumulative)}) must have the same length")
    if not window > 0:
        raise ValueError(f"window={window!r} must be > 0 seconds")
    rates = []
    before = 0  # samples at or before the current window's start
    for now, total in zip(times, cumulative, strict=True):
        while before < len(times) and times[before] <= now - window:
            before += 1
        base = cumulative[before - 1] if before else 0.0
        rates.append((total - base) * 60.0 / window)
    return rates


class SLO(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A service-level objective: upper bounds (seconds) a request must meet to count as goodput.

    Unset bounds are not checked. A failed request never meets an SLO; a request with a single output
    token has no TPOT and is not held to that bound.
    """

    ttft: float | None = None
    tpot: float | None = None
    e2e: float | None = None

    def met_by(self, *, ok: bool, ttft: float | None, tpot: float | None, e2e: float) -> bool:
        """Whether a request with these measurements meets every bound."""
        if not ok:
            return False
        if self.ttft is not None and (ttft is None or ttft > self.ttft):
            return False
        if self.tpot is not None and tpot is not None and tpot > self.tpot:
            return False
        return self.e2e is None or e2e <= self.e2e

    def describe(self) -> str:
        """``ttft<=500ms, e2e<=5s``: the bounds in the flag's own units."""
        parts = []
        for name in ("ttft", "tpot", "e2e"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}<={value * 1000:g}ms" if value < 1 else f"{name}<={value:g}s")
        return ", ".join(parts)


class RequestRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One request of a bench run: a line of ``requests.jsonl``.

    Attributes:
        level: the concurrency (or request rate) the request ran at.
        index: its number within the level (0-based).
        start_s: when it was handed to the client, seconds since the run started.
        ok: it streamed to the end.
        error_kind: for a failure, ``"<status> <code or error type>"`` (e.g. ``"429 rate_limit_exceeded"``).
        error: the failure's message.
        status: the HTTP status of the last response (None if none arrived).
        request_id: Groq's ``x-request-id`` of the last response.
        prompt_tokens_target, max_completion_tokens: what was asked for.
        prompt_tokens, output_tokens: what ``usage`` says (output falls back to the text chunks counted).
        chunks: text chunks received.
        ttft_s, itl_mean_s, itl_max_s, tpot_s, e2e_s: client-side latencies (see the module docstring).
        queue_time_s, prompt_time_s, completion_time_s, total_time_s: Groq's own timings from ``usage``.
        attempts: sends, retries included.
        rate_limited: 429 answers it got; capacity_exceeded: 498 answers.
        throttled_s: time the client held it before a send (rate budget, backoff after 429/498/5xx).
        slo_met: whether it met the SLO (None when no SLO was given).
    """

    level: int | float
    index: int
    start_s: float
    ok: bool
    error_kind: str | None = None
    error: str | None = None
    status: int | None = None
    request_id: str | None = None
    prompt_tokens_target: int = 0
    max_completion_tokens: int = 0
    prompt_tokens: int | None = None
    output_tokens: int = 0
    chunks: int = 0
    ttft_s: float | None = None
    itl_mean_s: float | None = None
    itl_max_s: float | None = None
    tpot_s: float | None = None
    e2e_s: float = 0.0
    queue_time_s: float | None = None
    prompt_time_s: float | None = None
    completion_time_s: float | None = None
    total_time_s: float | None = None
    attempts: int = 0
    rate_limited: int = 0
    capacity_exceeded: int = 0
    throttled_s: float = 0.0
    slo_met: bool | None = None


class Goodput(msgspec.Struct, frozen=True):
    """Requests meeting the SLO: how many, their share of all requests, and how many per second."""

    met: int
    share: float | None
    per_second: float | None


class LevelSummary(msgspec.Struct, frozen=True, kw_only=True):
    """One level's results: counts, throughput, goodput, rate-limit trouble and latency percentiles.

    Throughputs are per second of the level's duration (from its start until its last request ended).
    ``retries`` comes from the client's statistics; ``rate_limited`` and ``capacity_exceeded`` count the
    429 and 498 answers the level's requests got, and ``throttled_s`` the total time they were held.
    ``held_arrivals`` (rate mode) counts arrivals that had to wait for ``--max-concurrency``.
    """

    level: int | float
    requests: int
    completed: int
    failed: int
    errors: dict[str, int]
    duration_s: float
    input_tokens: int
    output_tokens: int
    request_throughput: float | None
    output_token_throughput: float | None
    total_token_throughput: float | None
    goodput: Goodput | None
    rate_limited: int
    capacity_exceeded: int
    retries: int
    throttled_s: float
    held_arrivals: int
    ttft_s: Percentiles
    itl_s: Percentiles
    tpot_s: Percentiles
    e2e_s: Percentiles
    queue_time_s: Percentiles
    prompt_time_s: Percentiles
    completion_time_s: Percentiles
    throttled_per_request_s: Percentiles


#: The latency distributions a level keeps, by the attribute of :class:`RequestRecord` they read.
LATENCY_FIELDS: Final = ("ttft_s", "tpot_s", "e2e_s", "queue_time_s", "prompt_time_s", "completion_time_s")


class LevelStats:
    """Accumulates one level's requests into counters and distributions, then summarises them.

    Latency distributions (and token counts) cover completed requests only, as vLLM's do; failed
    requests are counted by kind. ITL gaps are fed one by one with :meth:`add_itl` while streams run,
    so no request ever holds its gaps in a list (a stream that breaks later has already given its gaps).
    """

    def __init__(self, level: int | float, slo: SLO | None) -> None:
        self.level = level
        self.slo = slo
        self.requests = 0
        self.completed = 0
        self.input_tokens = 0
        self.output_tokens = 0
        self.slo_met = 0
        self.rate_limited = 0
        self.capacity_exceeded = 0
        self.throttled = 0.0
        self.errors: dict[str, int] = {}
        self.itl = Distribution()
        self.throttled_per_request = Distribution()
        self.latency = {name: Distribution() for name in LATENCY_FIELDS}

    def add_itl(self, seconds: float) -> None:
        """One gap between text chunks of a stream at this level."""
        self.itl.add(seconds)

    def add(self, record: RequestRecord) -> None:
        """Count one finished request (completed or failed)."""
        self.requests += 1
        self.rate_limited += record.rate_limited
        self.capacity_exceeded += record.capacity_exceeded
        self.throttled += record.throttled_s
        self.throttled_per_request.add(record.throttled_s)
        if record.slo_met:
            self.slo_met += 1
        if not record.ok:
            kind = record.error_kind or "error"
            if kind not in self.errors and len(self.errors) >= MAX_ERROR_KINDS:
                kind = "other"
            self.errors[kind] = self.errors.get(kind, 0) + 1
            return
        self.completed += 1
        self.input_tokens += record.prompt_tokens or 0
        self.output_tokens += record.output_tokens
        for name, distribution in self.latency.items():
            value = getattr(record, name)
            if value is not None:
                distribution.add(value)

    def summary(self, *, duration: float, retries: int, held: int = 0) -> LevelSummary:
        """The level's :class:`LevelSummary`, over ``duration`` seconds with ``retries`` retries and ``held``
        arrivals that waited for a free slot."""
        goodput = None
        if self.slo is not None:
            share = self.slo_met / self.requests if self.requests else None
            goodput = Goodput(self.slo_met, share, rate(self.slo_met, duration))
        latency = {name: dist.summary() for name, dist in self.latency.items()}
        return LevelSummary(
            level=self.level,
            requests=self.requests,
            completed=self.completed,
            failed=self.requests - self.completed,
            errors=dict(sorted(self.errors.items(), key=lambda item: (-item[1], item[0]))),
            duration_s=duration,
            input_tokens=self.input_tokens,
            output_tokens=self.output_tokens,
            request_throughput=rate(self.completed, duration),
            output_token_throughput=rate(self.output_tokens, duration),
            total_token_throughput=rate(self.input_tokens + self.output_tokens, duration),
            goodput=goodput,
            rate_limited=self.rate_limited,
            capacity_exceeded=self.capacity_exceeded,
            retries=retries,
            throttled_s=self.throttled,
            held_arrivals=held,
            itl_s=self.itl.summary(),
            throttled_per_request_s=self.throttled_per_request.summary(),
            **latency,
        )
