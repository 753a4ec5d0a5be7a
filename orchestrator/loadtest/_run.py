"""The load generator of ``groq-orch bench``: levels of streamed requests through one client, measured.

Theory of operation
-------------------
A :class:`BenchRun` drives one open :class:`~orchestrator.Client` through the plan's levels, one after
another. In ``concurrency`` mode a level starts that many *users*, each sending a request, reading its
stream to the end, and sending the next, until the level's request count or duration is used up. In
``rate`` mode requests *arrive* on a schedule (exponential or constant gaps) whatever is in flight, up to
``max_concurrency`` at once; an arrival beyond that waits and is counted as held.

Every request is a streamed chat completion built by the plan, made into a job with
``client.chat_job(..., key=tracker)`` and run with ``client.run_job`` (what ``chat.completions.create``
does), so the bench measures exactly what an application sees: TTFT includes the time the client holds a
request for rate budget. The ``tracker`` is how the :class:`BenchObserver`, plugged into the client's
observer port, tells requests apart: it counts each request's 429 and 498 answers and the time the
client held it before each send.

Clock: measurements are taken on trio's clock and multiplied by ``scale``, the endpoint's time scale (60
for the embedded emulator, whose rate-limit minutes pass in a real second), so every time and rate in the
results is on the endpoint's clock, the one its ``usage`` timings and rate limits are on. ``--duration``
and ``--rate`` are read on that clock too.

Memory: finished requests go to ``sink`` (the JSONL writer) and into per-level :class:`LevelStats`, which
are bounded; the timeline keeps at most :data:`MAX_TIMELINE_POINTS` samples, thinning itself as a long
run goes on.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from actors._job import Job
from actors._observer import NullObserver
from orchestrator.loadtest._metrics import (
    LevelStats,
    LevelSummary,
    RequestRecord,
    per_minute,
    time_per_output_token,
)
from orchestrator.loadtest._plan import BenchPlan, interarrival
from orchestrator.loadtest._progress import BenchProgress
from orchestrator._errors import GroqError
from orchestrator._wire import ChatChunk

if TYPE_CHECKING:
    from orchestrator._client import Client

__all__ = ["MAX_TIMELINE_POINTS", "BenchObserver", "BenchResult", "BenchRun", "TimelinePoint"]

#: Timeline samples kept; past this, every other one is dropped and the interval doubles.
MAX_TIMELINE_POINTS: Final = 2048

#: One timeline sample as taken: t, level, tokens, TPM limit, TPM room, in flight, 429s, RPM limit, RPM room
#: (the fields of :class:`TimelinePoint` but tokens_per_minute, which needs the whole series).
_Sample = tuple[float, int | float, int, int | None, int | None, int, int, int | None, int | None]


class _Tracker:
    """What the observer learns about one request while the client handles it."""

    __slots__ = ("ready_at", "throttled", "rate_limited", "capacity_exceeded")

    def __init__(self) -> None:
        self.ready_at: float | None = None
        self.throttled = 0.0
        self.rate_limited = 0
        self.capacity_exceeded = 0


class BenchObserver(NullObserver):
    """The client's observer during a bench: per-request 429/498 counts and time held before sends.

    "Held" is the time from when a job is ready to go (submitted, or put back for a retry) until a
    worker starts sending it: waiting for rate budget, out a ``retry-after``, or a backoff. Jobs whose
    ``key`` is not a bench tracker are ignored. Times here are trio's (real) seconds.
    """

    __slots__ = ()

    def job_submitted(self, job: Job) -> None:
        """The job is ready: the hold starts."""
        tracker = job.key
        if isinstance(tracker, _Tracker):
            tracker.ready_at = trio.current_time()

    def attempt_started(self, job: Job) -> None:
        """A send starts: the hold ends."""
        tracker = job.key
        if isinstance(tracker, _Tracker) and tracker.ready_at is not None:
            tracker.throttled += trio.current_time() - tracker.ready_at
            tracker.ready_at = None

    def response_received(self, job: Job, status: int, seconds: float) -> None:
        """Count 429 and 498 answers."""
        tracker = job.key
        if isinstance(tracker, _Tracker):
            if status == 429:
                tracker.rate_limited += 1
            elif status == 498:
                tracker.capacity_exceeded += 1

    def retry_scheduled(self, job: Job, error: GroqError, delay: float) -> None:
        """The job goes back for another attempt: a new hold starts now."""
        tracker = job.key
        if isinstance(tracker, _Tracker):
            tracker.ready_at = trio.current_time()


class TimelinePoint(msgspec.Struct, frozen=True, kw_only=True):
    """The run at one moment (endpoint seconds since the start), for the tokens-per-minute plot.

    Attributes:
        t_s: when.
        level: the level running then.
        tokens: prompt plus completion tokens of the requests finished so far.
        tokens_per_minute: tokens finished in the minute up to ``t_s`` (less at the start of a run).
        tpm_limit: the tokens-per-minute limit the client believes in (None while unknown).
        tokens_remaining: the room the client sees left in that minute.
        in_flight: requests being sent or streamed by the client.
        rate_limited: 429 answers so far.
        rpm_limit: the requests-per-minute limit the client believes in (None while unknown).
        requests_remaining: the requests the client sees left in that minute.
    """

    t_s: float
    level: int | float
    tokens: int
    tokens_per_minute: float
    tpm_limit: int | None
    tokens_remaining: int | None
    in_flight: int
    rate_limited: int
    rpm_limit: int | None = None
    requests_remaining: int | None = None


@dataclasses.dataclass
class BenchResult:
    """What a run produced: one summary and its live statistics per level, and the timeline."""

    levels: list[LevelSummary]
    stats: list[LevelStats]
    timeline: list[TimelinePoint]
    duration_s: float


def _has_text(chunk: ChatChunk) -> bool:
    return any(choice.delta.content or choice.delta.reasoning for choice in chunk.choices)


def _error_kind(error: GroqError) -> str:
    name = error.code or type(error).__name__
    return f"{error.status} {name}" if error.status is not None else name


class BenchRun:
    """One bench run over an open client (see the module docstring).

    Args:
        client: an open client whose observer is a :class:`BenchObserver`.
        plan: what to send.
        scale: the endpoint's time scale (endpoint seconds per real second).
        sink: called with every finished request, in finishing order.
        on_level: called with each level's summary as soon as the level ends.
    """

    def __init__(
        self,
        client: Client,
        plan: BenchPlan,
        *,
        scale: float,
        sink: Callable[[RequestRecord], None],
        on_level: Callable[[LevelSummary], None] | None = None,
    ) -> None:
        self._client = client
        self._plan = plan
        self._scale = scale
        self._sink = sink
        self._on_level = on_level
        self._origin = 0.0
        self._tokens = 0
        self._level: int | float = plan.levels[0]
        self._level_index = 0
        self._level_started = 0.0
        self._stats = LevelStats(self._level, plan.slo)  # the running level's
        self._finished = 0
        self._in_flight = 0
        self._samples: list[_Sample] = []
        self._interval = 1.0  # endpoint seconds between timeline samples

    def _endpoint_time(self) -> float:
        return (trio.current_time() - self._origin) * self._scale

    async def run(self) -> BenchResult:
        """Run every level and return the results.

        Raises:
            ValidationError: the plan's requests are invalid for this client (checked before sending).
        """
        plan = self._plan
        self._client.chat_job(plan.body(0, 0)[0])  # validates the request shape before anything is sent
        self._origin = trio.current_time()
        summaries: list[LevelSummary] = []
        all_stats: list[LevelStats] = []
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._sample_forever)
            for level_index, level in enumerate(plan.levels):
                stats = LevelStats(level, plan.slo)
                retried = self._client.statistics().retried
                started = trio.current_time()
                self._level, self._level_index, self._level_started, self._stats = level, level_index, started, stats
                held = 0
                if plan.mode == "concurrency":
                    await self._concurrency_level(level_index, int(level), stats)
                else:
                    held = await self._rate_level(level_index, float(level), stats)
                # Every level ends with a sample: a level shorter than the sampling interval would otherwise
                # have none taken after its first response, and no TPM limit to report.
                self._sample()
                duration = (trio.current_time() - started) * self._scale
                summary = stats.summary(
                    duration=duration, retries=self._client.statistics().retried - retried, held=held
                )
                summaries.append(summary)
                all_stats.append(stats)
                if self._on_level is not None:
                    self._on_level(summary)
            nursery.cancel_scope.cancel()
        return BenchResult(summaries, all_stats, self._timeline(), self._endpoint_time())

    def progress(self) -> BenchProgress:
        """Where the run is now, for the live progress line (``orchestrator.loadtest._progress``); meaningful
        while :meth:`run` runs."""
        plan, stats, statistics = self._plan, self._stats, self._client.statistics()
        now = trio.current_time()
        return BenchProgress(
            mode=plan.mode, level=self._level, level_index=self._level_index, levels=len(plan.levels),
            done=stats.requests, failed=stats.requests - stats.completed, requests_per_level=plan.requests,
            duration_per_level=plan.duration, finished=self._finished, elapsed_s=self._endpoint_time(),
            level_elapsed_s=(now - self._level_started) * self._scale,
            in_flight=self._in_flight, rate_limited=statistics.rate_limited,
            tokens_per_request=plan.tokens_per_request,
        )

    # -- the two ways of loading --------------------------------------------------------------

    def _deadline(self) -> float:
        duration = self._plan.duration
        return math.inf if duration is None else trio.current_time() + duration / self._scale

    async def _concurrency_level(self, level_index: int, users: int, stats: LevelStats) -> None:
        numbers = itertools.count()
        limit = self._plan.requests
        deadline = self._deadline()

        async def user() -> None:
            while trio.current_time() < deadline:
                index = next(numbers)
                if limit is not None and index >= limit:
                    return
                await self._one(level_index, index, stats)

        async with trio.open_nursery() as nursery:
            for _ in range(users):
                nursery.start_soon(user)

    async def _rate_level(self, level_index: int, rate: float, stats: LevelStats) -> int:
        plan = self._plan
        slots = trio.Semaphore(plan.max_concurrency)
        rng = plan.arrival_rng(level_index)
        deadline = self._deadline()
        arrival = trio.current_time()
        held = 0

        async def send(index: int) -> None:
            try:
                await self._one(level_index, index, stats)
            finally:
                slots.release()

        async with trio.open_nursery() as nursery:
            for index in itertools.count():
                if plan.requests is not None and index >= plan.requests:
                    break
                if arrival >= deadline:
                    break
                await trio.sleep_until(arrival)
                if slots.value == 0:
                    held += 1
                await slots.acquire()
                nursery.start_soon(send, index)
                arrival += interarrival(rng, rate, plan.arrivals) / self._scale
        return held

    # -- one request ----------------------------------------------------------------------------

    async def _one(self, level_index: int, index: int, stats: LevelStats) -> None:
        client, scale = self._client, self._scale
        request, prompt_target, max_tokens = self._plan.body(level_index, index)
        tracker = _Tracker()
        start_s = self._endpoint_time()
        started = trio.current_time()
        first: float | None = None
        last = 0.0
        chunks = 0
        gap_total = 0.0
        gap_max: float | None = None
        error: GroqError | None = None
        stream: Any = None
        job = client.chat_job(request, key=tracker)
        self._in_flight += 1
        try:
            stream = await client.run_job(job)
            async with stream:
                async for chunk in stream:
                    if not _has_text(chunk):
                        continue
                    now = trio.current_time()
                    if first is None:
                        first = now
                    else:
                        gap = (now - last) * scale
                        stats.add_itl(gap)
                        gap_total += gap
                        gap_max = gap if gap_max is None else max(gap_max, gap)
                    last = now
                    chunks += 1
        except GroqError as exc:
            error = exc
        finally:
            self._in_flight -= 1
        e2e = (trio.current_time() - started) * scale
        usage = stream.usage if stream is not None else None
        ttft = None if first is None else (first - started) * scale
        output = usage.completion_tokens if usage is not None else chunks
        tpot = time_per_output_token(e2e, ttft, output)
        ok = error is None
        slo = self._plan.slo
        record = RequestRecord(
            level=stats.level,
            index=index,
            start_s=start_s,
            ok=ok,
            error_kind=None if error is None else _error_kind(error),
            error=None if error is None else error.message,
            status=job.last_status,
            request_id=job.last_request_id,
            prompt_tokens_target=prompt_target,
            max_completion_tokens=max_tokens,
            prompt_tokens=None if usage is None else usage.prompt_tokens,
            output_tokens=output,
            chunks=chunks,
            ttft_s=ttft,
            itl_mean_s=None if chunks < 2 else gap_total / (chunks - 1),
            itl_max_s=gap_max,
            tpot_s=tpot,
            e2e_s=e2e,
            queue_time_s=None if usage is None else usage.queue_time,
            prompt_time_s=None if usage is None else usage.prompt_time,
            completion_time_s=None if usage is None else usage.completion_time,
            total_time_s=None if usage is None else usage.total_time,
            attempts=job.attempts,
            rate_limited=tracker.rate_limited,
            capacity_exceeded=tracker.capacity_exceeded,
            throttled_s=tracker.throttled * scale,
            slo_met=None if slo is None else slo.met_by(ok=ok, ttft=ttft, tpot=tpot, e2e=e2e),
        )
        if usage is not None:
            self._tokens += usage.total_tokens or (usage.prompt_tokens + usage.completion_tokens)
        stats.add(record)
        self._finished += 1
        self._sink(record)

    # -- the timeline ---------------------------------------------------------------------------

    async def _sample_forever(self) -> None:
        while True:
            self._sample()
            await trio.sleep(self._interval / self._scale)

    def _sample(self) -> None:
        snapshot = self._client.rate_limits().get(self._plan.model)
        statistics = self._client.statistics()
        self._samples.append((
            self._endpoint_time(),
            self._level,
            self._tokens,
            None if snapshot is None else snapshot.limits.tpm,
            None if snapshot is None else snapshot.remaining_tokens_minute,
            statistics.in_flight,
            statistics.rate_limited,
            None if snapshot is None else snapshot.limits.rpm,
            None if snapshot is None else snapshot.remaining_requests_minute,
        ))
        if len(self._samples) > MAX_TIMELINE_POINTS:
            self._samples = self._samples[::2]
            self._interval *= 2

    def _timeline(self) -> list[TimelinePoint]:
        times = [sample[0] for sample in self._samples]
        rates = per_minute(times, [float(sample[2]) for sample in self._samples])
        return [
            TimelinePoint(
                t_s=t, level=level, tokens=tokens, tokens_per_minute=tpm, tpm_limit=limit,
                tokens_remaining=remaining, in_flight=in_flight, rate_limited=limited,
                rpm_limit=rpm, requests_remaining=requests_left,
            )
            for (t, level, tokens, limit, remaining, in_flight, limited, rpm, requests_left), tpm
            in zip(self._samples, rates, strict=True)
        ]
