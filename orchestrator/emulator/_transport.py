"""The emulator as an in-process ``httpx`` transport: no socket, no server, same core.

``httpx.AsyncClient(transport=emulator.transport())`` talks to the emulator directly; the response body
streams from the core's async iterator (SSE is never buffered) and closing the response closes that
iterator, which the emulator counts as a client disconnect. Connection-level faults surface as the
exceptions httpx raises for the real thing: ``httpx.RemoteProtocolError`` for a reset before the
response and for a connection dropped mid-body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

import httpx

from orchestrator.emulator._http import ConnectionDropped, ConnectionReset, EmulatorRequest, RequestHandler

__all__ = ["EmulatorTransport"]


class _BodyStream(httpx.AsyncByteStream):
    """A response body read from the core's iterator; ``aclose`` closes the iterator."""

    def __init__(self, body: AsyncIterator[bytes], request: httpx.Request) -> None:
        self._body = body
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for piece in self._body:
                yield piece
        except ConnectionDropped:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body (incomplete chunked read)",
                request=self._request,
            ) from None

    async def aclose(self) -> None:
        await self._body.aclose()  # type: ignore[attr-defined]


class EmulatorTransport(httpx.AsyncBaseTransport):
    """Sends ``httpx`` requests straight to an :class:`~orchestrator.emulator.Emulator`.

    There are no connections, so the emulator's ``connections_opened`` counts one per request. Bodies
    over the limit reach the core empty, marked oversized: ``route_limits[(method, path)]`` for the routes
    listed there (large uploads), else ``max_body_size``.
    """

    def __init__(
        self, core: RequestHandler, max_body_size: int, route_limits: Mapping[tuple[str, str], int] | None = None
    ) -> None:
        self._core = core
        self._limit = max_body_size
        self._route_limits = dict(route_limits or {})

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Run the request through the emulator core and wrap its answer as an ``httpx.Response``."""
        body = await request.aread()
        oversized = len(body) > self._route_limits.get((request.method, request.url.path), self._limit)
        core_request = EmulatorRequest(
            method=request.method,
            path=request.url.path,
            headers={name.decode("latin-1").lower(): value.decode("latin-1") for name, value in request.headers.raw},
            body=b"" if oversized else body,
            oversized=oversized,
            scheme=request.url.scheme,
        )
        try:
            response = await self._core.handle(core_request)
        except ConnectionReset:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        if isinstance(response.body, bytes):
            return httpx.Response(response.status, headers=response.headers, content=response.body, request=request)
        return httpx.Response(
            response.status, headers=response.headers, stream=_BodyStream(response.body, request), request=request
        )
