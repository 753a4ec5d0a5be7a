"""Streams: one SSE decoder task per streamed response, and the caller's :class:`ChatStream`.

Theory of operation
-------------------
When a streamed chat request gets its ``200``, the worker hands the open response to
:func:`pump`, which runs in the client's service nursery: it reads the body, feeds the
bytes to the pure :class:`SSEDecoder`, decodes every event straight into the product's chunk
type (a msgspec ``ChatChunk``, through the :class:`~actors._ports.Chunks` port), and sends the
chunks of one network read *as one batch* on a channel with a tiny buffer. Two consequences:

* a slow consumer makes ``send`` wait, so the socket is read no faster than the caller
  reads chunks: memory stays flat however long the stream;
* a fast consumer pays one channel hop per network read, not one per token.

Closing the :class:`ChatStream` (leaving its ``async with``, ``aclose()``, or breaking out
of the loop and letting the context exit) cancels the pump, which closes the HTTP
response: the connection is given back or dropped at once, and the server sees it.

A stream that breaks (an ``error`` event, malformed JSON, the connection cut before
``[DONE]``) surfaces as the product's ``StreamError`` (made by the :class:`~actors._ports.Failures`
port) on the caller's next read, carrying the text received so far (its last 64 KiB, so memory
stays bounded on a runaway stream).
"""

from __future__ import annotations

import math

from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

import httpx
import trio

from ._ports import Chunks, Failures, TokenUsage
from ._sse import SSEDecoder, SSEProtocolError

__all__ = ["PARTIAL_CONTENT_LIMIT", "ChatStream", "open_stream_channel", "pump"]

#: Chunks of one network read travel together; a few batches of slack is enough.
_BATCH_BUFFER: Final = 2
#: How much received text a StreamError keeps (bounded memory on any stream length).
PARTIAL_CONTENT_LIMIT: Final = 64 * 1024


class _Failure:
    """The last item on a broken stream's channel."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


Batch = list[Any] | _Failure


def open_stream_channel() -> tuple[trio.MemorySendChannel[Batch], trio.MemoryReceiveChannel[Batch]]:
    """The small channel between a pump and its ChatStream."""
    return trio.open_memory_channel[Batch](_BATCH_BUFFER)


async def pump(
    response: httpx.Response,
    send: trio.MemorySendChannel[Batch],
    cancel_scope: trio.CancelScope,
    on_usage: Callable[[TokenUsage], None],
    on_first_chunk: Callable[[], None] | None = None,
    *,
    chunks: Chunks,
    failures: Failures,
    timeout: float | None = None,
    started: float | None = None,
) -> Exception | None:
    """Decode ``response``'s SSE body into batches of chunks on ``send`` until ``[DONE]``.

    ``timeout`` bounds the whole call, as it bounds a call that is not streamed: the server has
    ``timeout`` seconds from ``started`` (when the request left; default now) to finish the
    stream, or the stream ends with a timeout error. Time spent waiting for a slow reader does
    not count against the server: the clock stops while a ``send`` blocks.

    Always closes the response. ``on_usage`` is called once with the final usage (Groq's
    ``x_groq.usage``, or the top-level ``usage`` of ``stream_options.include_usage``), so
    the rate budget can be reconciled; ``on_first_chunk`` once the first chunk is handed over
    (time to first token, for telemetry). Returns the error the stream broke with, if any
    (None when it ended with ``[DONE]`` or its reader closed it). ``chunks`` decodes each event
    and finds its usage; ``failures`` makes the product's error when the stream breaks.
    """
    decoder = SSEDecoder()
    decode, usage_of = chunks.decode, chunks.usage
    failure: Exception | None = None
    first = True
    chunk: Any = None
    usage: TokenUsage | None = None
    request_id = response.headers.get("x-request-id")
    server_time = trio.CancelScope()
    if timeout is not None:
        server_time.deadline = (trio.current_time() if started is None else started) + timeout

    async def hand_over(batch: list[Any]) -> None:
        left = server_time.deadline - trio.current_time()
        server_time.deadline = math.inf  # the reader's pace is not the server's
        await send.send(batch)
        server_time.deadline = trio.current_time() + left

    try:
        with cancel_scope:
            async with send:
                try:
                    with server_time:
                        async for raw in response.aiter_raw():
                            batch: list[Any] = []
                            for event in decoder.feed(raw):
                                data = event.data
                                if data == b"[DONE]":
                                    if batch:
                                        await hand_over(batch)
                                    return None
                                if event.event == "error" or data.startswith(b'{"error"'):
                                    raise failures.stream_event(data, request_id=request_id)
                                chunk = decode(data)
                                usage = usage_of(chunk) or usage
                                batch.append(chunk)
                                if first:
                                    # The first token goes out alone, before the rest of its read is decoded.
                                    first = False
                                    await hand_over(batch)
                                    batch = []
                                    if on_first_chunk is not None:
                                        on_first_chunk()
                            if batch:
                                await hand_over(batch)
                        # Checked once, at the end of the body: a format whose last event says it is the last
                        # (the Responses API's response.completed) needs no [DONE].
                        if chunk is not None and chunks.ends_stream(chunk):
                            return None
                        raise failures.stream("the stream ended before [DONE]", request_id=request_id)
                    raise failures.timeout(
                        f"the stream did not finish within {timeout:g} s", timeout=timeout, operation="stream",
                        request_id=request_id,
                    )
                except trio.BrokenResourceError:
                    return None  # the consumer closed the stream; cancel_scope exit closes the response
                except failures.errors as error:
                    failure = error
                except chunks.decode_errors as error:
                    failure = failures.stream(f"malformed stream event: {error}", request_id=request_id)
                except SSEProtocolError as error:
                    failure = failures.stream(f"malformed SSE: {error}", request_id=request_id)
                except httpx.TimeoutException as error:
                    failure = failures.timeout(
                        f"stream stalled: {error!r}", timeout=None, operation="read", request_id=request_id
                    )
                except httpx.RequestError as error:
                    failure = failures.stream(f"the connection broke mid-stream: {error!r}", request_id=request_id)
                await _send_failure(send, failure)
    finally:
        with trio.CancelScope(shield=True):
            await response.aclose()
        if usage is not None:
            on_usage(usage)
    return failure


async def _send_failure(send: trio.MemorySendChannel[Batch], error: Exception) -> None:
    try:
        await send.send(_Failure(error))
    except trio.BrokenResourceError:
        pass


class ChatStream:
    """The chunks of one streamed chat completion, as an async iterator.

    Use it as ``async with stream:`` so the connection is released however the loop ends::

        async with await groq.chat.completions.create(..., stream=True) as stream:
            async for chunk in stream:
                print(chunk.choices[0].delta.content or "", end="")
        print(stream.usage)

    ``batches()`` yields whole batches (lists of chunks, one per network read) for callers
    that want the highest throughput. ``usage`` holds the final usage once the stream ended.
    """

    def __init__(
        self,
        receive: trio.MemoryReceiveChannel[Batch],
        cancel_scope: trio.CancelScope,
        *,
        request_id: str | None,
        headers: httpx.Headers,
        chunks: Chunks,
        failures: Failures,
    ) -> None:
        self._receive = receive
        self._cancel_scope = cancel_scope
        self._chunks = chunks
        self._failures = failures
        self._batch: list[Any] = []
        self._index = 0
        self._tail: deque[str] = deque()
        self._tail_length = 0
        self.request_id = request_id
        self.headers = headers
        self.usage: TokenUsage | None = None

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading: closes the HTTP response and frees the connection."""
        self._receive.close()
        self._cancel_scope.cancel()
        await trio.lowlevel.checkpoint()

    def __aiter__(self) -> ChatStream:
        return self

    async def __anext__(self) -> Any:
        if self._index >= len(self._batch):
            batch = await self._next_batch()
            if batch is None:
                raise StopAsyncIteration
            self._batch = batch
            self._index = 0
        chunk = self._batch[self._index]
        self._index += 1
        return chunk

    async def batches(self) -> AsyncIterator[list[Any]]:
        """Yield the chunks a list at a time (one list per network read)."""
        if self._index < len(self._batch):
            rest = self._batch[self._index :]
            self._batch, self._index = [], 0
            yield rest
        while (batch := await self._next_batch()) is not None:
            yield batch

    async def _next_batch(self) -> list[Any] | None:
        try:
            item = await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            return None
        if isinstance(item, _Failure):
            error = item.error
            self._failures.broke_stream(error, self.partial_content)
            raise error
        self._remember(item)
        return item

    def _remember(self, batch: list[Any]) -> None:
        # Usage rides on the last chunks of a stream; checking each batch's last chunk
        # (and the one before, for include_usage's extra chunk) is enough.
        for chunk in batch[-2:]:
            usage = self._chunks.usage(chunk)
            if usage is not None:
                self.usage = usage
        text = self._chunks.text(batch)
        if not text:
            return
        tail = self._tail
        tail.append(text)
        self._tail_length += len(text)
        # Drop whole pieces while what stays still covers the limit.
        while len(tail) > 1 and self._tail_length - len(tail[0]) >= PARTIAL_CONTENT_LIMIT:
            self._tail_length -= len(tail.popleft())

    @property
    def partial_content(self) -> str:
        """The text received so far (at most the last 64 KiB of it)."""
        return "".join(self._tail)[-PARTIAL_CONTENT_LIMIT:]

    def __repr__(self) -> str:
        return f"<ChatStream request_id={self.request_id!r}>"

