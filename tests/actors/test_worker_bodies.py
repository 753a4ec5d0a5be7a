"""The worker's two body shapes: streamed request bodies (body sources) and raw streamed responses.

A pool is assembled by hand around a recording transport and run one attempt at a time with
``run_in_caller``; a recording ``Lanes`` stands in for the scheduler, so a test sees exactly what
each attempt sent and what it reported.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import trio

from actors._breaker import BreakerState, CircuitBreaker
from actors._budget import RateBudgets
from actors._estimate import CostEstimator
from actors._job import Job
from actors._ports import Verdict
from actors._supervisor import BreakerGate
from actors._worker import WorkerPool
from orchestrator._engine import ProductChunks, ProductFailures
from orchestrator._errors import NotFoundError, ServerError, ValidationError

URL = "http://127.0.0.1:9/openai/v1"


class Sent(msgspec.Struct):
    """One request as the transport received it."""

    headers: dict[str, str]
    chunks: list[bytes]

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


class Recorder(httpx.AsyncBaseTransport):
    """Reads each request body chunk by chunk, and answers with the next scripted response."""

    def __init__(self, *answers: tuple[int, list[bytes]]) -> None:
        self.answers = list(answers)
        self.sent: list[Sent] = []
        self.closed = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        chunks = [chunk async for chunk in request.stream]  # type: ignore[union-attr]
        self.sent.append(Sent(headers={k.lower(): v for k, v in request.headers.items()}, chunks=chunks))
        status, pieces = self.answers.pop(0)
        return httpx.Response(status, headers={"x-request-id": f"req_{len(self.sent)}"}, stream=Body(pieces, self))


class Body(httpx.AsyncByteStream):
    """A response body yielded in pieces; counts its closing."""

    def __init__(self, pieces: list[bytes], owner: Recorder) -> None:
        self.pieces = pieces
        self.owner = owner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece

    async def aclose(self) -> None:
        self.owner.closed += 1


class Source:
    """A body source: the pieces again on every ``open()``; ``fail_after`` raises mid-body."""

    def __init__(self, pieces: list[bytes], *, fail_after: int | None = None) -> None:
        self.pieces = pieces
        self.fail_after = fail_after
        self.opened = 0

    def open(self) -> AsyncIterator[bytes]:
        self.opened += 1
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        for index, piece in enumerate(self.pieces):
            if index == self.fail_after:
                raise ValidationError("file: vanished mid-upload", field="file")
            yield piece

    def __repr__(self) -> str:
        return "<Source of 3 pieces>"


class Lanes:
    """Records failed attempts instead of scheduling them."""

    def __init__(self) -> None:
        self.failed: list[tuple[Job, Exception, Verdict]] = []

    def attempt_failed(self, job: Any, error: Exception, verdict: Verdict) -> None:
        self.failed.append((job, error, verdict))

    def wake(self, model: str | None) -> None:
        """Nothing waits on budget here."""


class TraceLog:
    """A log with tracing on, keeping every trace event."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def trace_enabled(self) -> bool:
        return True

    def trace(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    def debug(self, event: str, **fields: Any) -> None: ...
    def info(self, event: str, **fields: Any) -> None: ...
    def warning(self, event: str, **fields: Any) -> None: ...
    def error(self, event: str, **fields: Any) -> None: ...


def _no_limits(model: str) -> Any:
    raise AssertionError(f"a model=None job asked for the budget of {model!r}")


def make_pool(transport: Recorder, lanes: Lanes, *, log: TraceLog | None = None, breaker: CircuitBreaker | None = None) -> tuple[WorkerPool, BreakerGate]:
    failures = ProductFailures()
    gate = BreakerGate(breaker or CircuitBreaker(), fail_fast=False, base_url=URL, failures=failures)
    _, receive = trio.open_memory_channel[Job](0)
    pool = WorkerPool(
        http=httpx.AsyncClient(transport=transport),
        base_url=URL,
        headers={"authorization": "Bearer gsk_test"},
        receive=receive,
        scheduler=lanes,
        budgets=RateBudgets(_no_limits),
        gate=gate,
        estimator=CostEstimator(),
        workers=1,
        default_timeout=30.0,
        failures=failures,
        chunks=ProductChunks(),
        log=log,
    )
    return pool, gate


def upload_job(source: Source, length: int) -> Job:
    return Job(
        model=None,
        method="POST",
        path="/files",
        content=source,
        headers={"content-type": "application/octet-stream", "content-length": str(length)},
        decode=msgspec.json.decode,
    )


class TestBodySources:
    async def test_each_attempt_opens_the_source_afresh_and_sends_it_whole(self) -> None:
        """A 500 then a 200: the source is opened twice and both attempts carry every byte, at the stated length."""
        transport = Recorder((500, [b'{"error": {"message": "boom"}}']), (200, [b'{"id": "file_1"}']))
        lanes = Lanes()
        pool, _ = make_pool(transport, lanes)
        source = Source([b"ab", b"cd", b"ef"])
        job = upload_job(source, 6)
        await pool.run_in_caller(job)
        ((_, error, verdict),) = lanes.failed
        assert isinstance(error, ServerError) and verdict.retryable and not job.settled
        await pool.run_in_caller(job)  # what the scheduler does with a retryable failure
        assert source.opened == 2 and job.outcome is not None and job.outcome.unwrap() == {"id": "file_1"}
        for sent in transport.sent:
            assert sent.body == b"abcdef" and sent.chunks == [b"ab", b"cd", b"ef"]
            assert sent.headers["content-length"] == "6" and "transfer-encoding" not in sent.headers

    async def test_bytes_bodies_go_out_as_before(self) -> None:
        """A bytes body is sent as is, its length set by httpx."""
        transport = Recorder((200, [b"{}"]))
        pool, _ = make_pool(transport, Lanes())
        job = Job(model=None, method="POST", path="/batches", content=b'{"a": 1}', decode=msgspec.json.decode)
        await pool.run_in_caller(job)
        assert job.outcome is not None and job.outcome.unwrap() == {}
        assert transport.sent[0].body == b'{"a": 1}' and transport.sent[0].headers["content-length"] == "8"

    async def test_a_sources_own_error_fails_the_attempt_but_not_the_breaker(self) -> None:
        """A source that raises the product's error mid-body fails that attempt; the server is not blamed."""
        transport = Recorder()
        lanes = Lanes()
        pool, gate = make_pool(transport, lanes, breaker=CircuitBreaker(minimum_calls=1))
        await pool.run_in_caller(upload_job(Source([b"ab", b"cd", b"ef"], fail_after=1), 6))
        ((_, error, verdict),) = lanes.failed
        assert isinstance(error, ValidationError) and not verdict.retryable
        assert gate.state is BreakerState.CLOSED

    async def test_trace_names_the_source_never_its_bytes(self) -> None:
        """With tracing on, a source is logged by its repr; a bytes body is logged as it is."""
        transport = Recorder((200, [b"{}"]), (200, [b"{}"]))
        log = TraceLog()
        pool, _ = make_pool(transport, Lanes(), log=log)
        await pool.run_in_caller(upload_job(Source([b"ab", b"cd", b"ef"]), 6))
        await pool.run_in_caller(Job(model=None, method="POST", path="/batches", content=b"{}", decode=msgspec.json.decode))
        bodies = [fields["body"] for event, fields in log.events if event == "request"]
        assert bodies == ["<Source of 3 pieces>", b"{}"]


class TestRawStreams:
    async def test_a_success_settles_with_the_open_unread_response(self) -> None:
        """raw_stream=True: the job's value is the httpx.Response, body not yet read; the caller reads and closes it."""
        transport = Recorder((200, [b"line 1\n", b"line 2\n"]))
        log = TraceLog()
        pool, _ = make_pool(transport, Lanes(), log=log)
        job = Job(model=None, method="GET", path="/files/file_1/content", raw_stream=True, timeout=7.0)
        await pool.run_in_caller(job)
        assert job.outcome is not None
        response = job.outcome.unwrap()
        assert isinstance(response, httpx.Response) and not response.is_stream_consumed and transport.closed == 0
        assert [piece async for piece in response.aiter_raw()] == [b"line 1\n", b"line 2\n"]
        await response.aclose()
        assert transport.closed == 1
        assert [fields["body"] for event, fields in log.events if event == "response"] == [None]

    async def test_the_timeout_extension_bounds_each_read(self) -> None:
        """The per-request timeout goes to httpx as its read timeout, which applies to every body read."""
        seen: list[httpx.Request] = []

        def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, content=b"data")

        pool, _ = make_pool(Recorder(), Lanes())
        pool._http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        job = Job(model=None, method="GET", path="/files/file_1/content", raw_stream=True, timeout=7.0)
        await pool.run_in_caller(job)
        assert seen[0].extensions["timeout"]["read"] == 7.0
        assert job.outcome is not None
        await job.outcome.unwrap().aclose()

    async def test_an_error_response_is_read_closed_and_mapped(self) -> None:
        """A 404 on a raw stream becomes NotFoundError, its body read and the response closed."""
        transport = Recorder((404, [b'{"error": {"message": "file not found", "type": "invalid_request_error"}}']))
        lanes = Lanes()
        pool, _ = make_pool(transport, lanes)
        job = Job(model=None, method="GET", path="/files/nope/content", raw_stream=True)
        await pool.run_in_caller(job)
        ((_, error, verdict),) = lanes.failed
        assert isinstance(error, NotFoundError) and "file not found" in str(error) and not verdict.retryable
        assert transport.closed == 1

    async def test_a_500_on_a_raw_stream_is_retryable(self) -> None:
        """Server trouble before the body starts is retried like any call, and the retry gets the stream."""
        transport = Recorder((503, [b"{}"]), (200, [b"ok"]))
        lanes = Lanes()
        pool, _ = make_pool(transport, lanes)
        job = Job(model=None, method="GET", path="/files/file_1/content", raw_stream=True)
        await pool.run_in_caller(job)
        assert lanes.failed[0][2].retryable and transport.closed == 1
        await pool.run_in_caller(job)
        assert job.outcome is not None
        response = job.outcome.unwrap()
        assert await response.aread() == b"ok"
        await response.aclose()
