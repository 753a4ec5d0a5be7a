"""The connection-pool worker set: N workers sharing one ``httpx.AsyncClient``.

Theory of operation
-------------------
Each worker loops: receive a job the scheduler released -> send it -> read the outcome.
The outcome teaches the shared state (rate-limit headers to the job's budget, server
health to the breaker, real token usage to the estimator). A success settles the job; a
failure is reported to the scheduler with its :class:`~actors._ports.Verdict`, and the
scheduler decides whether it is retried (a retry waits for budget like any new request,
which is what keeps a 429 from turning into a 429 storm) or settled with the error.

``httpx`` exceptions are translated into the product's errors in exactly one place,
:func:`translate_transport_errors`, through the :class:`~actors._ports.Failures` port; callers
never see ``httpx.*``, and the engine never sees the product's error classes: it acts on the
port's :class:`~actors._ports.Verdict`.

Streamed requests hold a worker only until the response headers arrive; a ``200`` hands
the open response to a per-stream :func:`actors._stream.pump` task, so a thousand slow
readers do not starve the pool. A raw-stream job (a file download) settles with the open
response itself and its caller reads it; the per-request timeout extension then bounds
each read, not the whole body, so a slow but steady 100 MB download is not cut off.

A job's body is bytes (sent as they are) or a :class:`~actors._job.BodySource` (a big
upload streamed from disk), which is asked for a fresh iterator on every attempt.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
import msgspec
import trio

from ._budget import RateBudgets
from ._estimate import CostEstimator
from ._job import Job
from ._observer import NullObserver, Observer
from ._ratelimit_headers import read_rate_limit_pairs
from ._ports import Chunks, Failures, Lanes, Log, NullLog, TokenUsage, Verdict
from ._stream import ChatStream, open_stream_channel, pump
from ._supervisor import BreakerGate

__all__ = ["PoolStatistics", "WorkerPool", "translate_transport_errors"]

#: Distinct endpoint URLs (and timeouts) kept parsed; ``/models/{id}`` is the only open-ended path.
_URL_CACHE_SIZE = 256

#: Errors raised before a single byte reached the server: the budget is given back.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

#: What a job body is when it is not a ``BodySource``: checked with one ``isinstance`` per attempt.
_PLAIN_BODY = (bytes, type(None))
#: Methods that httpx gives a ``Content-Length: 0`` when they carry no body.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: Headers that ``framed_request`` writes itself, unless the caller already has.
_FRAMING_HEADERS = frozenset({b"host", b"content-length", b"transfer-encoding"})

#: OpenSSL reasons for a handshake that fails the same way on every attempt: no TLS version both
#: sides accept (ours is 1.2 or newer), or an https URL whose port speaks plain HTTP.
_NO_COMMON_VERSION = "the server and this client share no TLS version (1.2 or newer is required)"
_TLS_REFUSALS = {
    "UNSUPPORTED_PROTOCOL": _NO_COMMON_VERSION,
    "TLSV1_ALERT_PROTOCOL_VERSION": _NO_COMMON_VERSION,
    "NO_PROTOCOLS_AVAILABLE": _NO_COMMON_VERSION,
    "WRONG_SSL_VERSION": _NO_COMMON_VERSION,
    "WRONG_VERSION_NUMBER": "the server did not answer in TLS (is the https:// URL a plain http port?)",
}

#: A caller that cancels its own request does not want it tried again.
_CANCELLED = Verdict(kind="other", retryable=False)


class PoolStatistics(msgspec.Struct, frozen=True):
    """Counters of the pool since the client opened."""

    workers: int
    in_flight: int
    completed: int
    rate_limited: int
    streams_open: int


def charged_tokens(usage: TokenUsage) -> int:
    """The tokens Groq counts toward rate limits for a finished request.

    Cached prompt tokens do not count (console.groq.com/docs/rate-limits: "Cached tokens do not
    count towards your rate limits", 2026); reasoning tokens are part of ``completion_tokens`` and
    count as output.
    """
    details = usage.prompt_tokens_details
    cached = getattr(details, "cached_tokens", None) or 0
    return max(0, usage.prompt_tokens - cached) + usage.completion_tokens


@contextmanager
def translate_transport_errors(failures: Failures, timeout: float | None) -> Iterator[None]:
    """Turn httpx's exceptions into the product's timeout, server and network errors."""
    try:
        yield
    except httpx.RequestError as error:
        raise transport_error(failures, timeout, error) from error


def framed_request(
    method: str, url: httpx.URL, headers: httpx.Headers, body: bytes | None, extensions: dict[str, Any]
) -> httpx.Request:
    """``httpx.Request(method, url, content=body, headers=headers)`` with the same headers, in the same order,
    built a quarter as fast.

    Given ``content``, httpx looks up Host and Content-Length one by one, each lookup decoding every header,
    and copies the headers twice (25 us of a 1 ms batch job). Here the framing headers are written where
    httpx writes them (Host first; Content-Length last, or right after Host when it is 0; none for an empty
    GET) and the body is handed over as the stream httpx would have made of it. Headers that already set
    the framing go the long way.
    """
    raw = headers.raw
    if any(key.lower() in _FRAMING_HEADERS for key, _ in raw):
        return httpx.Request(method, url, content=body, headers=headers, extensions=extensions)
    framing = [(b"Host", url.netloc)] if url.host else []
    if not body and method in _BODY_METHODS:
        framing.append((b"Content-Length", b"0"))
    framing += raw
    if body:
        framing.append((b"Content-Length", b"%d" % len(body)))
    request = httpx.Request(method, url, headers=framing, stream=httpx.ByteStream(body or b""), extensions=extensions)
    request.read()  # as httpx does for ``content``: ``request.content`` is there for event hooks and transports
    return request


def transport_error(failures: Failures, timeout: float | None, error: httpx.RequestError) -> Exception:
    """The product's timeout, server or network error for one of httpx's (the one place they are mapped)."""
    if isinstance(error, httpx.TimeoutException):
        operation = type(error).__name__.removesuffix("Timeout").lower() or "request"
        return failures.timeout(f"no response in time ({error!r})", timeout=timeout, operation=operation)
    if isinstance(error, httpx.DecodingError):
        return failures.server(f"the response body could not be decoded: {_describe(error)}")
    refusal = _tls_refusal(error)
    if refusal is not None:
        # Every attempt would fail the same way, and the server is not at fault: fail now, blame nobody.
        return failures.network(f"{refusal}: {_describe(error)}", cause=type(error).__name__, permanent=True)
    return failures.network(f"the connection failed: {_describe(error)}", cause=type(error).__name__)


def _tls_refusal(error: BaseException) -> str | None:
    """What a TLS refusal that repeats on every attempt was, if ``error`` (or what caused it) is one.

    An untrusted certificate (expired, self-signed, another host's, an unknown CA) or no common TLS
    version. DNS and connection failures are *not* permanent: a resolver or a route can come back.
    """
    seen: set[int] = set()
    node: BaseException | None = error
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, ssl.SSLCertVerificationError):
            return "the server's TLS certificate was not trusted"
        if isinstance(node, ssl.SSLError) and (refusal := _TLS_REFUSALS.get(getattr(node, "reason", None) or "")):
            return refusal
        node = node.__cause__ or node.__context__
    return None


def _describe(error: BaseException) -> str:
    """The error and its root cause (httpx often wraps an SSL or socket error with an empty message)."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    root = error
    seen = {id(root)}
    while (nxt := root.__cause__ or root.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        root = nxt
    if root is not error and str(root):
        text += f" (caused by {type(root).__name__}: {root})"
    return text


class WorkerPool:
    """Runs jobs over HTTP and reports what each outcome means.

    Args:
        http: the shared client (keep-alive pool sized to the worker count).
        base_url: prefix for every job's path, e.g. ``https://api.groq.com/openai/v1``.
        headers: sent with every request (authorization, user agent, custom headers).
        receive: where the scheduler's released jobs arrive.
        scheduler: where outcomes are reported (a failed attempt, budget that came back), through
            the narrow ``actors._ports.Lanes`` interface: the scheduler decides what follows.
        workers: how many requests may be in flight (excluding streams being read).
        default_timeout: seconds, when a job has none of its own.
        on_headers: told the model whenever a response carried rate-limit headers (the
            scheduler then trusts that model's limits as learned).
        observer: telemetry, told about every attempt (see ``actors._observer``).
        failures: the product's error factory and classifier (``actors._ports.Failures``).
        chunks: how streamed events and usage are read (``actors._ports.Chunks``).
        log: where requests and responses are traced.
    """

    def __init__(
        self,
        *,
        http: httpx.AsyncClient,
        base_url: str,
        headers: Mapping[str, str],
        receive: trio.MemoryReceiveChannel[Job],
        scheduler: Lanes,
        budgets: RateBudgets,
        gate: BreakerGate,
        estimator: CostEstimator,
        workers: int,
        default_timeout: float,
        on_headers: Callable[[str], None] | None = None,
        observer: Observer | None = None,
        failures: Failures,
        chunks: Chunks,
        log: Log | None = None,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        # httpx.Headers, not a dict: its repr masks Authorization, so no traceback rendered with
        # its frames' locals can show the key. The client's own defaults (accept-encoding, ...)
        # are merged once here, because requests are built directly rather than through
        # ``build_request``, which would parse the URL and merge headers on every call.
        self._headers = httpx.Headers(http.headers)
        self._headers.update(headers)
        self._urls: dict[str, httpx.URL] = {}
        self._timeouts: dict[float, dict[str, float | None]] = {}
        self._receive = receive
        self._scheduler = scheduler
        self._budgets = budgets
        self._gate = gate
        self._estimator = estimator
        self._workers = workers
        self._default_timeout = default_timeout
        self._on_headers = on_headers
        self._observer = observer or NullObserver()
        self._failures = failures
        self._chunks = chunks
        self._log = log or NullLog()
        self._merged_from: dict[str, str] | None = None
        self._merged = self._headers
        self._nursery: trio.Nursery | None = None
        self._in_flight = 0
        self._completed = 0
        self._rate_limited = 0
        self._streams_open = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the workers (and the stream pumps they start) until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            async with self._receive:
                for index in range(self._workers):
                    nursery.start_soon(self._work, self._receive.clone(), name=f"pool worker {index}")
            task_status.started()

    async def _work(self, receive: trio.MemoryReceiveChannel[Job]) -> None:
        async with receive:
            async for job in receive:
                self._in_flight += 1
                try:
                    await self._attempt(job)
                finally:
                    self._in_flight -= 1
                    self._confirm(job)  # cancelled mid-request: it may have reached the server
                    # An idle worker must not keep its last job (and a stream's buffers) alive.
                    del job

    @property
    def has_idle_capacity(self) -> bool:
        """True while fewer than ``workers`` requests are in flight."""
        return self._in_flight < self._workers

    async def run_in_caller(self, job: Job) -> None:
        """Make the first attempt of a job in the caller's own task (the scheduler's fast path).

        It saves two task switches per call when nothing is queued. A retry goes back
        through the scheduler like any other. If the caller is cancelled mid-request the job
        is reported failed (not retryable) with the product's network error, so its slot is freed
        and nobody is left waiting for it.
        """
        self._in_flight += 1
        try:
            await self._attempt(job)
        except BaseException:
            self._confirm(job)  # it may have reached the server
            if not job.settled:
                error = self._failures.network("the request was cancelled by its caller", cause="Cancelled")
                self._scheduler.attempt_failed(job, error, _CANCELLED)
            raise
        finally:
            self._in_flight -= 1

    # -- one attempt --------------------------------------------------------------------

    async def _attempt(self, job: Job) -> None:
        job.attempts += 1
        timeout = job.timeout if job.timeout is not None else self._default_timeout
        headers = self._headers_for(job.headers)
        content = job.content
        url = self._url_for(job.path)
        extensions = {"timeout": self._timeout_for(timeout)}
        if isinstance(content, _PLAIN_BODY):
            request = framed_request(job.method, url, headers, content, extensions)
        else:
            content = content.open()  # a BodySource: every attempt sends the whole body from its start
            request = httpx.Request(job.method, url, content=content, headers=headers, extensions=extensions)
        streamed = job.stream or job.raw_stream
        response: httpx.Response | None = None
        log = self._log
        tracing = log.trace_enabled()
        if tracing:
            # A source's bytes are read by httpx as they go out; the trace names the source instead.
            log.trace("request", job_id=job.seq, model=job.model, method=job.method, path=job.path,
                      attempt=job.attempts, body=content if content is job.content else repr(job.content))
        self._observer.attempt_started(job)
        started = trio.current_time()
        try:
            try:
                with trio.move_on_after(timeout) as deadline:
                    response = await self._http.send(request, stream=streamed)
            except httpx.RequestError as error:  # translated here, not by a context manager: every call passes
                raise transport_error(self._failures, timeout, error) from error
            if deadline.cancelled_caught:
                raise self._failures.timeout(f"no response within {timeout:g} s", timeout=timeout, operation="request")
        except self._failures.errors as error:
            if isinstance(error.__cause__, _NEVER_SENT):
                self._refund(job)
            else:
                self._confirm(job)  # it may have reached the server: count it, to be safe
            verdict = self._failures.verdict(error)
            if verdict.kind == "server":
                # Every transport failure is, but a TLS refusal; a body source's own error (a file
                # that vanished mid-upload) says nothing about the server's health.
                self._gate.record_failure(error, job)
            self._observer.attempt_failed(job, error, trio.current_time() - started)
            self._scheduler.attempt_failed(job, error, verdict)
            return
        if tracing:
            log.trace("response", job_id=job.seq, model=job.model, status=response.status_code,
                      request_id=response.headers.get("x-request-id"),
                      body=None if streamed else response.content)
        await self._handle_response(job, response, timeout, started)

    def _url_for(self, path: str) -> httpx.URL:
        """The parsed URL of an endpoint path, parsed once (a few paths, so the cache stays small)."""
        url = self._urls.get(path)
        if url is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()
            url = self._urls[path] = httpx.URL(self._base_url + path)
        return url

    def _timeout_for(self, seconds: float) -> dict[str, float | None]:
        """httpx's per-request timeout extension for ``seconds``, built once per distinct value."""
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            if len(self._timeouts) >= _URL_CACHE_SIZE:
                self._timeouts.clear()
            timeout = self._timeouts[seconds] = httpx.Timeout(seconds).as_dict()
        return timeout

    def _headers_for(self, extra: dict[str, str] | None) -> httpx.Headers:
        """The pool's headers plus a job's own; the last merge is reused (most jobs share one dict)."""
        if not extra:
            return self._headers
        if extra is not self._merged_from:
            merged = self._headers.copy()
            merged.update(extra)
            self._merged_from, self._merged = extra, merged
        return self._merged

    async def _handle_response(self, job: Job, response: httpx.Response, timeout: float, started: float) -> None:
        now = trio.current_time()
        if response.status_code == 429:
            self._refund(job)  # refused: the server counted nothing
        else:
            self._confirm(job, now)
        self._observer.response_received(job, response.status_code, now - started)
        headers = response.headers
        job.last_status = response.status_code
        job.last_request_id = _request_id(headers.raw)
        if response.status_code < 400:
            self._gate.record_success(job, now)
            if job.stream:
                self._observe_headers(job, headers, now)
                self._start_stream(job, response, started, timeout)
                return
            if job.raw_stream:
                self._observe_headers(job, headers, now)
                self._completed += 1
                job.settle(response)  # open: the caller reads the body and closes it
                return
            # Headers first: they show the server's bucket right after it admitted the request, before it gave
            # back the unused reservation; lowering to them after our own give-back would throw that away.
            self._observe_headers(job, headers, now)
            try:
                value = job.decode(response.content) if job.decode is not None else response.content
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as error:
                self._report_failure(
                    job,
                    self._failures.server(
                        f"the response body could not be decoded: {error}",
                        status=response.status_code,
                        request_id=job.last_request_id,
                        body=response.content,
                    ),
                )
                return
            usage = (job.chunks or self._chunks).usage(value)
            if usage is not None:
                self._reconcile(job, usage, now)
            self._completed += 1
            job.settle(value)
            return
        if job.stream or job.raw_stream:
            try:
                with translate_transport_errors(self._failures, timeout):
                    await response.aread()
            except self._failures.errors as read_error:
                self._gate.record_failure(read_error, job)
                self._report_failure(job, read_error)
                return
            finally:
                await response.aclose()
        error = self._failures.from_response(response.status_code, headers, response.content)
        self._observe_headers(job, headers, now)
        verdict = self._failures.verdict(error)
        if verdict.unknown_model and job.model is not None:
            self._budgets.forget(job.model, now)  # a model the server does not have: its budget describes nothing
        if verdict.kind == "rate_limited":
            self._rate_limited += 1
            if job.model is not None:
                self._budgets.get(job.model, now).observe_rate_limited(
                    verdict.retry_after, verdict.window, now, limit=verdict.limit
                )
            self._gate.record_success(job)
        elif verdict.kind == "too_large":
            if job.model is not None and verdict.window is not None and verdict.limit is not None:
                self._budgets.get(job.model, now).learn_limit(verdict.window, verdict.limit, "request-too-large", now)
            self._gate.record_success(job)
        elif verdict.kind == "server":
            self._gate.record_failure(error, job)
        else:
            self._gate.record_success(job)
        self._scheduler.attempt_failed(job, error, verdict)

    def _report_failure(self, job: Job, error: Exception) -> None:
        self._scheduler.attempt_failed(job, error, self._failures.verdict(error))

    # -- what outcomes teach ----------------------------------------------------------------

    def _observe_headers(self, job: Job, headers: httpx.Headers, now: float) -> None:
        if job.model is None:
            return
        # Straight from the raw bytes: httpx.Headers would decode all ~15 headers on every lookup.
        report = read_rate_limit_pairs(headers.raw)
        if report is not None:
            self._budgets.get(job.model, now).observe_report(report, now)
            if self._on_headers is not None:
                self._on_headers(job.model)

    def _reconcile(self, job: Job, usage: TokenUsage, now: float | None = None) -> None:
        self._observer.usage_observed(job, usage)
        if job.model is None:
            return
        self._estimator.observe(job.prompt_estimate, usage.prompt_tokens, usage.completion_tokens)
        if job.granted_at is not None:
            now = trio.current_time() if now is None else now
            charged = charged_tokens(usage)
            self._budgets.get(job.model, now).reconcile(
                job.cost,
                charged,
                now,
                granted_at=job.granted_at,
                estimated_output=job.output_cost,
                actual_output=usage.completion_tokens,
            )
            if charged < job.cost:
                self._scheduler.wake(job.model)

    def _confirm(self, job: Job, now: float | None = None) -> None:
        """The server has (or may have) counted the job's grant: the budget charges it from now."""
        if job.charge_pending and job.model is not None:
            now = trio.current_time() if now is None else now
            self._budgets.get(job.model, now).confirm(job.cost, now, job.output_cost)
            job.charge_pending = False
            self._scheduler.wake(job.model)

    def _refund(self, job: Job) -> None:
        """The server counted nothing of the job's grant: the budget withdraws it."""
        if job.charge_pending and job.model is not None:
            now = trio.current_time()
            self._budgets.get(job.model, now).refund(
                job.cost, now, granted_at=job.granted_at, output_tokens=job.output_cost
            )
            job.granted_at = None
            job.charge_pending = False
            self._scheduler.wake(job.model)

    def _start_stream(self, job: Job, response: httpx.Response, started: float, timeout: float) -> None:
        assert self._nursery is not None
        send, receive = open_stream_channel()
        cancel_scope = trio.CancelScope()
        # A job may bring its own port (another endpoint's events): one lookup per stream, not per chunk.
        chunks = job.chunks or self._chunks
        stream = ChatStream(
            receive,
            cancel_scope,
            request_id=job.last_request_id,
            headers=response.headers,
            chunks=chunks,
            failures=self._failures,
        )
        self._streams_open += 1

        def on_usage(usage: TokenUsage) -> None:
            self._reconcile(job, usage)

        def on_first_chunk() -> None:
            self._observer.first_chunk(job, trio.current_time() - started)

        async def run_pump() -> None:
            error: Exception | None = None
            try:
                error = await pump(
                    response, send, cancel_scope, on_usage, on_first_chunk, chunks=chunks, failures=self._failures,
                    timeout=timeout, started=started,
                )
            finally:
                self._streams_open -= 1
                self._observer.stream_finished(job, error)

        self._nursery.start_soon(run_pump, name=f"stream {job.last_request_id}")
        self._completed += 1
        job.settle(stream)

    def statistics(self) -> PoolStatistics:
        """Counters since the client opened."""
        return PoolStatistics(
            workers=self._workers,
            in_flight=self._in_flight,
            completed=self._completed,
            rate_limited=self._rate_limited,
            streams_open=self._streams_open,
        )

    def __repr__(self) -> str:
        return f"<WorkerPool {self._in_flight}/{self._workers} busy, {self._streams_open} streams open>"


def _request_id(raw: list[tuple[bytes, bytes]]) -> str | None:
    """``x-request-id`` from the raw headers: ``httpx.Headers.get`` decodes every header to find one."""
    for name, value in raw:
        if len(name) == 12 and name.lower() == b"x-request-id":
            return value.decode("latin-1")
    return None
