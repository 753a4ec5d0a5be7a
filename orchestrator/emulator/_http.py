"""The emulator core's view of HTTP: one request in, one response out, plus Groq's error bodies.

The core never sees ASGI or httpx; both adapters translate to and from these two small classes, and
know the core only as a :class:`RequestHandler`, so the core builds them without their importing it. A
response body is either ``bytes`` or an async iterator of ``bytes`` (an SSE stream, or a slow drip).
Two exceptions stand for what HTTP cannot express as a response: :class:`ConnectionReset` (raised by
the core instead of answering) and :class:`ConnectionDropped` (raised by a body iterator midway).

A hostile body must get Groq's 400, never a crash: :func:`nesting_problem` measures how deep a JSON
body nests without parsing it (so no decoder or rule ever recurses on it), and
:func:`unreadable_response` is the 400 the core answers when reading or checking a body raised
something no rule anticipated.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import AsyncIterator, Mapping
from typing import Final, Protocol

import msgspec

from orchestrator._retired import decommissioned_message, retired_model

__all__ = [
    "MAX_JSON_DEPTH",
    "RequestRefused",
    "model_not_found",
    "model_refusal",
    "ConnectionDropped",
    "ConnectionReset",
    "EmulatorRequest",
    "EmulatorResponse",
    "RequestHandler",
    "error_response",
    "json_response",
    "nesting_problem",
    "unreadable_response",
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
        scheme: ``http`` or ``https``, as the client dialled it (for base URLs quoted in error messages).
    """

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes = b""
    client: tuple[str, int] | None = None
    oversized: bool = False
    scheme: str = "http"


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


def model_refusal(model: str, known: bool, kind: type[RequestRefused] = RequestRefused) -> RequestRefused | None:
    """Groq's refusal of a request naming a model it does not serve, as a ``kind``; None when it serves it.

    A model Groq shut down (`orchestrator._retired`) gets the 400 ``model_decommissioned``, whatever the catalog
    still says; one it never had (``known`` is False) the 404 ``model_not_found``. Every endpoint asks here, so
    the two answers and their order are the same on all of them.
    """
    if retired_model(model) is not None:
        return kind(400, decommissioned_message(model), code="model_decommissioned")
    if not known:
        return model_not_found(model, kind)
    return None


def model_not_found(model: str, kind: type[RequestRefused] = RequestRefused) -> RequestRefused:
    """Groq's 404 for a model id it has no model by (or none the key may use)."""
    return kind(404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found")


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


# --------------------------------------------------------------------------- hostile bodies

#: [I] Deepest nesting of arrays and objects a JSON body may have, the body itself being level 1. Groq documents
#: no limit; every parser has one (msgspec's decoder gives up near 1,000 levels, Python's recursion limit), and a
#: real request needs about 10. Deeper bodies are refused with a 400 before they are parsed.
MAX_JSON_DEPTH: Final = 64

#: A JSON string, escapes included (an unrolled loop: linear, no backtracking).
_JSON_STRING: Final = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
#: Every byte except the four brackets, for ``bytes.translate(None, delete)``.
_NOT_BRACKETS: Final = bytes(b for b in range(256) if b not in b"[]{}")
#: Opening brackets to +1, closing ones to -1 (as signed bytes).
_STEPS: Final = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


def nesting_depth(body: bytes) -> int:
    """How many levels of arrays and objects ``body`` nests (0 for a scalar), read without parsing it.

    Strings are cut out first, so brackets inside them do not count; the rest is counted in C
    (``translate`` and ``accumulate``), so even a body of megabytes of ``[`` costs a fraction of a second
    and no recursion. Malformed JSON gets a number too; the decoder refuses it afterwards.
    """
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(itertools.accumulate(memoryview(brackets.translate(_STEPS)).cast("b"))))


def nesting_problem(body: bytes, limit: int = MAX_JSON_DEPTH) -> str | None:
    """Groq-style words for a body nested deeper than ``limit`` levels, or None when it is not."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return None  # it cannot nest deeper than it has openers: most bodies are spared cutting out strings
    depth = nesting_depth(body)
    if depth <= limit:
        return None
    return (
        f"The request body nests arrays and objects {depth} levels deep; at most {limit} are allowed. "
        "Flatten the JSON."
    )


def unreadable_response(error: BaseException) -> EmulatorResponse:
    """Groq's 400 for a body whose reading or checking raised something no rule anticipated.

    The body is what is wrong (every well-formed request has a rule that answers it), so the answer is a
    client error naming the failure, never a 500; the core logs the traceback for whoever debugs the emulator.
    """
    text = str(error)
    if len(text) > 200:
        text = text[:200] + "..."
    return error_response(
        400,
        f"The request body could not be processed ({type(error).__name__}: {text}). "
        "Check it against the API reference: https://console.groq.com/docs/api-reference",
    )
