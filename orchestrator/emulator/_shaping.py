"""Shaping a response body on its way out: faults (a cut connection, a corrupt SSE event, a slow drip)
and write batching.

Each wrapper takes a body (bytes or an async iterator of bytes) and returns an async iterator, closing
the wrapped iterator whatever happens (``aclosing``), so the inner stream's bookkeeping always runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

import trio

from actors._sse import SSEDecoder, encode_event
from orchestrator.emulator._http import ConnectionDropped

__all__ = ["as_iterator", "coalesce", "drip", "drop_after", "malform_event"]


async def as_iterator(body: bytes | AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Any body as an async iterator (bytes become a single piece)."""
    if isinstance(body, bytes):
        yield body
        return
    async with aclosing(body):
        async for piece in body:
            yield piece


async def drop_after(
    body: bytes | AsyncIterator[bytes], pieces: int, on_drop: Callable[[], None]
) -> AsyncIterator[bytes]:
    """Send ``pieces`` pieces (SSE events), then cut the connection; a bytes body is cut in half.

    ``on_drop`` runs just before the cut, so the stream's bookkeeping can tell a server-side drop from a
    client that went away.
    """
    if isinstance(body, bytes):
        half = len(body) // 2
        if half:
            yield body[:half]
        on_drop()
        raise ConnectionDropped("drop-mid-stream fault: connection closed mid-body")
    sent = 0
    async with aclosing(body):
        async for piece in body:
            if sent >= pieces:
                on_drop()
                raise ConnectionDropped(f"drop-mid-stream fault: connection closed after {sent} events")
            yield piece
            sent += 1


async def malform_event(body: AsyncIterator[bytes], number: int) -> AsyncIterator[bytes]:
    """Pass an SSE stream through, replacing event ``number`` (1-based) with truncated, invalid JSON."""
    seen = 0
    async with aclosing(body):
        async for piece in body:
            seen += 1
            if seen == number:
                piece = _truncate_json_event(piece)
            yield piece


def _truncate_json_event(piece: bytes) -> bytes:
    """The event ``piece`` holds with its JSON data cut in half; any other piece unchanged."""
    events = SSEDecoder().feed(piece)
    if len(events) != 1 or not events[0].data.startswith(b"{"):
        return piece
    event = events[0]
    payload = event.data[: max(1, len(event.data) // 2)]
    return encode_event(payload, event=None if event.event == "message" else event.event)


async def drip(body: bytes | AsyncIterator[bytes], bytes_per_s: float) -> AsyncIterator[bytes]:
    """Send the body in small slices at ``bytes_per_s`` (real time: it is a wire rate, not emulated)."""
    size = max(1, int(bytes_per_s / 10))
    async with aclosing(as_iterator(body)) as pieces:
        async for piece in pieces:
            for start in range(0, len(piece), size):
                part = piece[start : start + size]
                await trio.sleep(len(part) / bytes_per_s)
                yield part


async def coalesce(body: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """Join consecutive pieces into writes of at least ``limit`` bytes (the last one may be shorter).

    For streams produced with no delay between events (the ``instant`` latency profile): one write per
    SSE event costs a send system call each, which is most of the server's work. The bytes, and so the
    events a client parses, are the same. Pieces already produced when the stream is cut are sent first.
    """
    pending: list[bytes] = []
    size = 0
    async with aclosing(body):
        try:
            async for piece in body:
                pending.append(piece)
                size += len(piece)
                if size >= limit:
                    yield b"".join(pending)
                    pending.clear()
                    size = 0
        except ConnectionDropped:
            if pending:
                yield b"".join(pending)
            raise
    if pending:
        yield b"".join(pending)
