"""``Client.map``: many requests in, results out as they finish, memory bounded throughout.

Theory of operation
-------------------
A feeder task reads the caller's ``(key, request)`` pairs (or plain requests, keyed by their
position) lazily and submits each as a job. Before submitting, it takes one of ``max_in_flight`` *permits*; the caller gives a
permit back each time it receives a result. Every job settles into a result channel
whose buffer holds ``max_in_flight`` results, so settling never blocks a worker and the
number of jobs alive at once (queued, in flight, or finished but unread) never exceeds
``max_in_flight``, whatever the number of items.

The channel is closed when the feeder has run out of items *and* every submitted job has
settled: that is the caller's end of iteration, and it means every item got exactly one
result.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import trio

from actors._job import Job

from ._errors import GroqError, unwrapped_errors
from ._runner import JobRunner
from ._secret import short_repr
from ._validation import check_not_streamed

__all__ = ["JobResult", "map_jobs"]


class JobResult(msgspec.Struct, frozen=True):
    """The outcome of one job from :meth:`Client.map`.

    Exactly one of ``response`` and ``error`` is set. ``status_code`` and ``request_id``
    are those of the last HTTP response (None if none arrived), ``attempts`` counts sends
    (0 for a request refused by validation).
    """

    key: Any
    response: Any = None
    error: GroqError | None = None
    request_id: str | None = None
    status_code: int | None = None
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """True when the job succeeded."""
        return self.error is None


class _Results:
    """The caller's async iterator; each received result returns a permit."""

    __slots__ = ("_receive", "_permits")

    def __init__(self, receive: trio.MemoryReceiveChannel[JobResult], permits: trio.Semaphore) -> None:
        self._receive = receive
        self._permits = permits

    def __aiter__(self) -> _Results:
        return self

    async def __anext__(self) -> JobResult:
        try:
            result = await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None
        self._permits.release()
        return result


def _pair(item: Any, position: int) -> tuple[Any, Any]:
    """``item`` as a ``(key, request)`` pair: a pair as it is, a plain request keyed by its position.

    Raises:
        TypeError: ``item`` is neither, saying what to pass.
    """
    if isinstance(item, (Mapping, msgspec.Struct)):
        return position, item
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return item[0], item[1]
    raise TypeError(
        f"Client.map takes (key, request) pairs or plain requests (dicts or ChatRequest); item {position} is "
        f"{type(item).__name__} {short_repr(item)}. Pass requests as they are (results are keyed by position), "
        "or pairs such as ((i, request) for i, request in enumerate(requests))"
    )


async def _pairs(items: Iterable[Any] | AsyncIterable[Any]) -> AsyncIterator[tuple[Any, Any]]:
    position = 0
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield _pair(item, position)
            position += 1
    else:
        for item in items:
            yield _pair(item, position)
            position += 1


@asynccontextmanager
async def map_jobs(
    client: JobRunner,
    items: Iterable[Any] | AsyncIterable[Any],
    max_in_flight: int,
) -> AsyncIterator[AsyncIterator[JobResult]]:
    """Run ``items`` through ``client``; see :meth:`Client.map`."""
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight!r}")
    send, receive = trio.open_memory_channel[JobResult](max_in_flight)
    permits = trio.Semaphore(max_in_flight)
    outstanding = 0
    feeding = True

    def deliver(result: JobResult) -> None:
        try:
            send.send_nowait(result)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass  # the caller left the block early; nobody wants this result

    def finish_if_done() -> None:
        if not feeding and outstanding == 0:
            send.close()

    def settled(job: Job) -> None:
        nonlocal outstanding
        outcome = job.outcome
        assert outcome is not None
        deliver(
            JobResult(
                key=job.key,
                response=outcome.value,
                error=outcome.error if isinstance(outcome.error, GroqError) else None,
                request_id=outcome.request_id,
                status_code=outcome.status_code,
                attempts=outcome.attempts,
            )
        )
        outstanding -= 1
        finish_if_done()

    async def feed() -> None:
        nonlocal outstanding, feeding
        try:
            async for key, request in _pairs(items):
                await permits.acquire()
                try:
                    job = client.chat_job(request, key=key, on_settle=settled)
                    check_not_streamed(job.stream, "Client.map and the batch runner")
                except GroqError as error:
                    deliver(JobResult(key=key, error=error))
                    continue
                outstanding += 1
                await client.submit_job(job)
        finally:
            feeding = False
            finish_if_done()

    with unwrapped_errors():
        async with receive, trio.open_nursery() as nursery:
            nursery.start_soon(feed, name="map feeder")
            try:
                yield _Results(receive, permits)
            finally:
                nursery.cancel_scope.cancel()
