"""The rate-limit benchmark's contenders, and the emulator server each one runs against.

Every contender gets a fresh emulator (same settings, same seed) served on a real loopback
socket by :class:`EmulatorThread`: a trio event loop in a thread of its own, so that asyncio
clients (the ``groq`` SDK, the parallel processor) and our trio client all speak plain HTTP to
it from the main thread. Each contender returns a :class:`RunResult`: one :class:`JobRecord`
per job, times in real seconds since the contender's origin (converted to emulated time by the
report), plus what the client side counted.

Contenders:

- :func:`run_ours`: ``orchestrator.open_client`` + ``Client.map``, told the time scale; its
  limits are the catalog's (the free tier the emulator enforces) unless ``limits`` says
  otherwise (contender (d) passes absurdly high ones, so it must learn from headers and 429s);
- :func:`run_sdk`: ``groq.AsyncGroq`` with one ``asyncio.Semaphore(concurrency)`` around each
  call and the SDK's own retries (``max_retries``);
- :func:`run_processor`: the openai-cookbook parallel processor (``_ratelimit_cookbook``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections import Counter
from typing import Any

import groq
import httpx
import trio

import orchestrator
from actors._observer import NullObserver
from orchestrator.emulator import EmulatorSettings, EmulatorStats, open_emulator_server

from _ratelimit_cookbook import run_parallel_processor

__all__ = ["API_KEY", "EmulatorThread", "JobRecord", "RunResult", "run_ours", "run_processor", "run_sdk"]

API_KEY = "gsk_bench_ratelimit_0123456789abcdef"


@dataclasses.dataclass(frozen=True, slots=True)
class JobRecord:
    """One job's outcome: real seconds since the run's origin, tokens used (0 if it failed)."""

    key: Any
    ok: bool
    first_sent: float
    finished: float
    tokens: int


@dataclasses.dataclass(frozen=True, slots=True)
class RunResult:
    """A contender's run: its jobs, its real wall time, and what the client side counted.

    ``requests_sent`` and ``rate_limited_seen`` are the client's own counts (every HTTP attempt,
    and the 429s among them); ``reasons`` counts why attempts were retried and why jobs failed,
    as far as the client tells (``"retry: RateLimitError 429"``, ``"failed: RateLimitError"``);
    ``server`` is the emulator's tally of the same run.
    """

    records: list[JobRecord]
    wall_seconds: float
    requests_sent: int
    rate_limited_seen: int
    reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    server: EmulatorStats | None = None


class EmulatorThread:
    """An emulator on a loopback socket, served by trio in a thread of its own.

    Use as ``with EmulatorThread(settings) as emulator:``; ``emulator.base_url`` is the
    OpenAI-compatible base URL, :meth:`stats` the server's counters (read in its own thread).
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        self._settings = settings
        self._ready = threading.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._stop: trio.Event | None = None
        self._server: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="emulator", daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/openai/v1``."""
        return str(self._server.base_url)

    @property
    def sdk_base_url(self) -> str:
        """The base URL without ``/openai/v1``, which the ``groq`` SDK adds itself."""
        return self.base_url.removesuffix("/openai/v1")

    def _main(self) -> None:
        try:
            trio.run(self._serve)
        except BaseException as error:  # reported to the main thread by __enter__
            self._error = error
            self._ready.set()

    async def _serve(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        async with open_emulator_server(self._settings) as server:
            self._server = server
            self._ready.set()
            await self._stop.wait()

    def stats(self) -> EmulatorStats:
        """The server's counters now."""
        return trio.from_thread.run_sync(self._server.emulator.stats, trio_token=self._token)

    def __enter__(self) -> EmulatorThread:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the emulator server did not start within 30 s")
        if self._error is not None:
            raise RuntimeError(f"the emulator server failed to start: {self._error!r}") from self._error
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._stop is not None and self._thread.is_alive():
            trio.from_thread.run_sync(self._stop.set, trio_token=self._token)
        self._thread.join(30)


# --------------------------------------------------------------------------- (a), (d): ours


class _Timings(NullObserver):
    """Observer: when each job was first sent and when it settled; attempts, 429s, retry reasons."""

    __slots__ = ("origin", "first_sent", "settled", "requests", "rate_limited", "reasons")

    def __init__(self) -> None:
        self.origin = time.perf_counter()
        self.first_sent: dict[Any, float] = {}
        self.settled: dict[Any, float] = {}
        self.requests = 0
        self.rate_limited = 0
        self.reasons: Counter[str] = Counter()

    def attempt_started(self, job: Any) -> None:
        """Count the attempt; the first one starts the job's latency."""
        self.requests += 1
        self.first_sent.setdefault(job.key, time.perf_counter() - self.origin)

    def response_received(self, job: Any, status: int, seconds: float) -> None:
        """Count 429s."""
        if status == 429:
            self.rate_limited += 1

    def retry_scheduled(self, job: Any, error: Any, delay: float) -> None:
        """Count why an attempt is retried."""
        self.reasons[f"retry: {type(error).__name__} {error.status}"] += 1

    def job_settled(self, job: Any) -> None:
        """The job's latency ends here."""
        self.settled[job.key] = time.perf_counter() - self.origin


async def _ours(
    base_url: str, jobs: list[tuple[Any, dict[str, Any]]], time_scale: float, limits: dict[str, Any] | None
) -> RunResult:
    timings = _Timings()
    outcomes: list[tuple[Any, bool, int]] = []
    extra = {"limits": limits} if limits else {}
    async with orchestrator.open_client(
        api_key=API_KEY, base_url=base_url, time_scale=time_scale, observer=timings, **extra
    ) as client:
        timings.origin = time.perf_counter()
        async with client.map(jobs) as results:
            async for result in results:
                usage = getattr(result.response, "usage", None)
                tokens = usage.prompt_tokens + usage.completion_tokens if result.ok and usage is not None else 0
                outcomes.append((result.key, result.ok, tokens))
                if not result.ok:
                    timings.reasons[f"failed: {type(result.error).__name__} {result.status_code}"] += 1
        wall = time.perf_counter() - timings.origin
    records = [
        JobRecord(
            key,
            ok,
            timings.first_sent.get(key, timings.settled.get(key, wall)),
            timings.settled.get(key, wall),
            tokens,
        )
        for key, ok, tokens in outcomes
    ]
    return RunResult(records, wall, timings.requests, timings.rate_limited, dict(timings.reasons))


def run_ours(
    base_url: str,
    jobs: list[tuple[Any, dict[str, Any]]],
    *,
    time_scale: float,
    limits: dict[str, orchestrator.ModelLimits] | None = None,
) -> RunResult:
    """Contender (a) (``limits=None``: the catalog's free tier) or (d) (absurd ``limits``)."""
    return trio.run(_ours, base_url, jobs, time_scale, limits)


# --------------------------------------------------------------------------- (b): AsyncGroq


async def _sdk(base_url: str, jobs: list[tuple[Any, dict[str, Any]]], concurrency: int, max_retries: int) -> RunResult:
    counts = {"requests": 0, "rate_limited": 0}

    async def on_request(request: httpx.Request) -> None:
        counts["requests"] += 1

    async def on_response(response: httpx.Response) -> None:
        if response.status_code == 429:
            counts["rate_limited"] += 1

    http = groq.DefaultAsyncHttpxClient(event_hooks={"request": [on_request], "response": [on_response]})
    records: list[JobRecord] = []
    reasons: Counter[str] = Counter()
    semaphore = asyncio.Semaphore(concurrency)
    async with groq.AsyncGroq(api_key=API_KEY, base_url=base_url, max_retries=max_retries, http_client=http) as client:
        origin = time.perf_counter()

        async def one(key: Any, request: dict[str, Any]) -> None:
            async with semaphore:
                started = time.perf_counter() - origin
                try:
                    reply = await client.chat.completions.create(**request)
                except groq.APIError as error:
                    reasons[f"failed: {type(error).__name__} {getattr(error, 'status_code', None)}"] += 1
                    records.append(JobRecord(key, False, started, time.perf_counter() - origin, 0))
                    return
                usage = reply.usage
                tokens = usage.prompt_tokens + usage.completion_tokens if usage is not None else 0
                records.append(JobRecord(key, True, started, time.perf_counter() - origin, tokens))

        await asyncio.gather(*(one(key, request) for key, request in jobs))
        wall = time.perf_counter() - origin
    return RunResult(records, wall, counts["requests"], counts["rate_limited"], dict(reasons))


def run_sdk(
    sdk_base_url: str, jobs: list[tuple[Any, dict[str, Any]]], *, concurrency: int, max_retries: int
) -> RunResult:
    """Contender (b): ``AsyncGroq`` behind a semaphore of ``concurrency``, with its own retries."""
    return asyncio.run(_sdk(sdk_base_url, jobs, concurrency, max_retries))


# --------------------------------------------------------------------------- (c): parallel processor


def run_processor(
    base_url: str, jobs: list[tuple[Any, dict[str, Any]]], *, rpm: int, tpm: int, time_scale: float
) -> RunResult:
    """Contender (c): the cookbook's parallel processor with the published RPM/TPM as its budgets."""
    records, tracker, origin = asyncio.run(
        run_parallel_processor(
            jobs,
            base_url=base_url,
            api_key=API_KEY,
            max_requests_per_minute=rpm,
            max_tokens_per_minute=tpm,
            time_scale=time_scale,
        )
    )
    wall = time.perf_counter() - origin
    reasons = {
        "errors: rate limit": tracker.num_rate_limit_errors,
        "errors: other API": tracker.num_api_errors,
        "errors: exceptions": tracker.num_other_errors,
        "failed": tracker.num_tasks_failed,
    }
    return RunResult(
        [JobRecord(**dataclasses.asdict(record)) for record in records],
        wall,
        tracker.num_requests_sent,
        tracker.num_rate_limit_errors,
        {name: count for name, count in reasons.items() if count},
    )
