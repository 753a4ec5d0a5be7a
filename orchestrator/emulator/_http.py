"""The emulator core's view of HTTP: one request in, one response out, plus Groq's error bodies.

The core never sees ASGI or httpx; both adapters translate to and from these two small classes, and
know the core only as a :class:`RequestHandler`, so the core builds them without their importing it. A
response body is either ``bytes`` or an async iterator of ``bytes`` (an SSE stream, or a slow drip).
Two exceptions stand for what HTTP cannot express as a response: :class:`ConnectionReset` (raised by
the core instead of answering) and :class:`ConnectionDropped` (raised by a body iterator midway).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import msgspec

__all__ = [
    "RequestRefused",
    "ConnectionDropped",
    "ConnectionReset",
    "EmulatorRequest",
    "EmulatorResponse",
    "RequestHandler",
    "error_response",
    "json_response",
]

_encode = msgspec.json.Encoder().encode
JSON_CONTENT_TYPE = "application/json"


@dataclasses.dataclass(slots=True)
class EmulatorRequest:
    """An HTTP request as the core sees it.

    Attributes:
        method: upper-case method (``GET``, ``POST``).
        path: the URL path, percent-decoded (``/openai/v1/models/openai/gpt-oss-20b``).
        headers: lower-case header names to values (the last value wins for repeated names).
        body: the whole request body, or empty when it was too large.
        client: the client's (host, port), when the transport knows it.
        oversized: the adapter stopped reading because the body exceeded the size limit (the core
            answers 413 without looking at it).
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    client: tuple[str, int] | None = None
    oversized: bool = False


@dataclasses.dataclass(slots=True)
class EmulatorResponse:
    """An HTTP response from the core: status, headers, and bytes or an async iterator of bytes."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | AsyncIterator[bytes] = b""


class RequestHandler(Protocol):
    """What the ASGI app and the in-process transport need of the core (:class:`~orchestrator.emulator.Emulator`)."""

    async def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer one request; raise :class:`ConnectionReset` to close the connection with no response."""
        ...


class RequestRefused(Exception):
    """A request Groq would refuse: the HTTP status and the fields of Groq's error body.

    ``model`` is set once the request's model is known to exist, so the refusal carries that model's
    rate-limit headers, as Groq's do.
    """

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None, model: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.model = model

    def response(self, headers: list[tuple[str, str]] | None = None) -> EmulatorResponse:
        """Groq's error response: ``{"error": {"message", "type", "code"?, "param"?}}``."""
        return error_response(self.status, self.message, code=self.code, param=self.param, headers=headers)


class ConnectionReset(Exception):
    """The core wants the connection closed with no response at all (the ``reset`` fault)."""


class ConnectionDropped(Exception):
    """A body iterator wants the connection closed midway (the ``drop-mid-stream`` fault)."""


def json_response(status: int, obj: object, headers: list[tuple[str, str]] | None = None) -> EmulatorResponse:
    """A JSON response (``obj`` encoded with msgspec)."""
    out = [("content-type", JSON_CONTENT_TYPE)]
    if headers:
        out.extend(headers)
    return EmulatorResponse(status, out, _encode(obj))


def error_response(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    failed_generation: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> EmulatorResponse:
    """A response with Groq's error body: ``{"error": {"message", "type", "code"?, "param"?, ...}}``."""
    detail: dict[str, str] = {"message": message, "type": type}
    if code is not None:
        detail["code"] = code
    if param is not None:
        detail["param"] = param
    if failed_generation is not None:
        detail["failed_generation"] = failed_generation
    return json_response(status, {"error": detail}, headers)
