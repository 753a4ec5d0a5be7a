"""The emulator as an ASGI 3 application (served by hypercorn's trio worker).

Translates ASGI messages to the core's :class:`EmulatorRequest` and back. Two things HTTP responses
cannot say are done with the connection itself:

- a **reset before the response** sends an informational ``103`` head and ends the app: hypercorn then
  closes the connection with no final response, and an HTTP client reports "server disconnected without
  sending a response", exactly what it reports for a real reset before the response;
- a **drop mid-stream** ends the app without the final ``more_body=False`` message: hypercorn closes the
  connection and the client sees an incomplete body.

While a streamed body is being sent, a watcher task waits for ``http.disconnect`` and cancels the
stream, so a client that closes early stops generation (and is counted as a disconnect).

The body is read whole before the core sees it, up to a size limit that depends on the route: most
routes take ``max_body_size``, and ``route_limits`` raises it for the routes that take large uploads
(``POST /openai/v1/files``: Groq's 100 MB batch files).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from contextlib import aclosing
from typing import Any

import trio

from orchestrator._asgi_lifespan import Receive, Send, answer_lifespan
from orchestrator.emulator._http import ConnectionDropped, ConnectionReset, EmulatorRequest, RequestHandler

__all__ = ["asgi_app_for"]

Scope = MutableMapping[str, Any]


async def _read_body(receive: Receive, limit: int) -> tuple[bytes, bool, bool]:
    """Read the request body: (body, oversized, disconnected). An oversized body is drained, not kept."""
    parts: list[bytes] = []
    size = 0
    oversized = False
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", oversized, True
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            oversized = True
            parts.clear()
        elif chunk:
            parts.append(chunk)
        if not message.get("more_body", False):
            return b"".join(parts), oversized, False


def asgi_app_for(
    core: RequestHandler, max_body_size: int, route_limits: Mapping[tuple[str, str], int] | None = None
) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """Build the ASGI application for ``core`` (the emulator); bodies over the limit are not kept.

    The limit is ``route_limits[(method, path)]`` for the routes listed there, else ``max_body_size``.
    """
    limits = dict(route_limits or {})

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        limit = limits.get((scope["method"], scope["path"]), max_body_size)
        body, oversized, gone = await _read_body(receive, limit)
        if gone:
            return
        client = scope.get("client")
        request = EmulatorRequest(
            method=scope["method"],
            path=scope["path"],
            headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]},
            body=body,
            client=(client[0], client[1]) if client else None,
            oversized=oversized,
            scheme=scope.get("scheme", "http"),
        )
        try:
            response = await core.handle(request)
        except ConnectionReset:
            await send({"type": "http.response.start", "status": 103, "headers": []})
            return
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
        payload = response.body
        if isinstance(payload, bytes):
            headers.append((b"content-length", str(len(payload)).encode()))
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        async with trio.open_nursery() as nursery:

            async def watch_disconnect() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch_disconnect)
            try:
                async with aclosing(payload):
                    async for piece in payload:
                        await send({"type": "http.response.body", "body": piece, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            except ConnectionDropped:
                pass  # returning without the final message makes the server close the connection
            nursery.cancel_scope.cancel()

    return app
