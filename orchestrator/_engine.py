"""The product's side of the engine's ports (``actors._ports``): errors, chunks and logs as the user sees them.

The engine never imports the product; the client builds one :class:`ProductFailures` and one
:class:`ProductChunks` and hands them to the actors. This is where an HTTP status becomes a
``RateLimitError`` and a streamed event becomes a ``ChatChunk``, so the engine's decisions (retry,
pause, learn a limit, count a breaker failure) rest on a :class:`~actors._ports.Verdict` instead of
on the product's class tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec

from actors._ports import TokenUsage, Verdict

from ._errors import (
    AuthenticationError,
    CapacityExceededError,
    CircuitOpenError,
    GroqError,
    ModelError,
    NetworkError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    StreamError,
    TimeoutError,
    error_from_response,
)
from ._wire import ChatChunk, Usage, decode_chat_chunk

__all__ = ["ProductChunks", "ProductFailures"]


class ProductFailures:
    """Builds the product's errors for the engine and tells it what each means.

    Args:
        key_hint: the API key's last characters, put on authentication errors so a user can tell
            which key was refused (never the key itself).
        time_scale: how many times faster than real time the server's clock runs (the emulator's
            ``--time-scale``): a ``retry-after`` is in the server's seconds, the engine waits in ours.
        base_url: where requests go; a server error from a host that is not Groq's (a proxy, a gateway,
            an emulator) is not blamed on Groq (``ServerError.groq_server``). None: not known.
    """

    errors: tuple[type[Exception], ...] = (GroqError,)

    def __init__(self, *, key_hint: str | None = None, time_scale: float = 1.0, base_url: str | None = None) -> None:
        self._key_hint = key_hint
        self._time_scale = time_scale
        parts = urlsplit(base_url) if base_url else None
        host = parts.hostname if parts is not None else None
        self._host = (parts.netloc or None) if parts is not None else None
        self._groq = None if host is None else (host == "api.groq.com" or host.endswith(".groq.com"))

    def _placed(self, error: GroqError) -> GroqError:
        """A server error told whose server answered it (Groq's API, or another host)."""
        if isinstance(error, ServerError):
            error.server_host, error.groq_server = self._host, self._groq
        return error

    def from_response(self, status: int, headers: Mapping[str, str], body: bytes) -> Exception:
        error = error_from_response(status, headers, body)
        if isinstance(error, AuthenticationError):
            error.api_key_hint = self._key_hint
        return self._placed(error)

    def timeout(self, message: str, *, timeout: float | None, operation: str, request_id: str | None = None) -> Exception:
        return TimeoutError(message, timeout=timeout, operation=operation, request_id=request_id)

    def network(self, message: str, *, cause: str, permanent: bool = False) -> Exception:
        return NetworkError(message, cause=cause, permanent=permanent)

    def server(
        self, message: str, *, status: int | None = None, request_id: str | None = None, body: bytes | None = None
    ) -> Exception:
        return self._placed(ServerError(message, status=status, request_id=request_id, body=body))

    def stream(self, message: str, *, request_id: str | None) -> Exception:
        return StreamError(message, request_id=request_id)

    def stream_event(self, data: bytes, *, request_id: str | None) -> Exception:
        """A StreamError with the fields of Groq's in-stream error event (its ``status_code``, else 500)."""
        status = 500
        try:
            status_code = msgspec.json.decode(data).get("error", {}).get("status_code")
            if isinstance(status_code, int):
                status = status_code
        except (msgspec.DecodeError, AttributeError):
            pass
        mapped = error_from_response(status, {"x-request-id": request_id or ""}, data)
        return StreamError(
            f"the server reported an error mid-stream: {mapped.message}",
            status=mapped.status,
            type=mapped.type,
            code=mapped.code,
            param=mapped.param,
            request_id=request_id,
            body=mapped.body,
            failed_generation=mapped.failed_generation,
        )

    def circuit_open(self, message: str, *, retry_after: float, waited: float | None = None) -> Exception:
        return CircuitOpenError(message, retry_after=retry_after, waited=waited)

    def verdict(self, error: Exception) -> Verdict:
        if not isinstance(error, GroqError):
            return Verdict("other", retryable=False)
        if isinstance(error, RateLimitError):
            kind = "rate_limited"
        elif isinstance(error, RequestTooLargeError):
            kind = "too_large"
        elif isinstance(error, NetworkError) and error.permanent:
            kind = "misconfigured"  # an untrusted certificate: the server is not at fault, retrying cannot help
        elif isinstance(error, (ServerError, CapacityExceededError, TimeoutError, NetworkError)):
            kind = "server"
        elif isinstance(error, AuthenticationError):
            kind = "refused"
        else:
            kind = "other"
        return Verdict(
            kind,  # type: ignore[arg-type]
            retryable=error.retryable,
            retry_after=None if error.retry_after is None else error.retry_after / self._time_scale,
            window=getattr(error, "window", None),
            limit=getattr(error, "limit", None),
            unknown_model=isinstance(error, ModelError),
        )

    def broke_stream(self, error: Exception, partial_content: str) -> None:
        if isinstance(error, StreamError):
            error.partial_content = partial_content


class ProductChunks:
    """Streamed events decode into :class:`~orchestrator._wire.ChatChunk`; usage is a ``Usage``."""

    decode_errors: tuple[type[Exception], ...] = (msgspec.DecodeError, msgspec.ValidationError)

    def __init__(self) -> None:
        self.decode = decode_chat_chunk  # the hot path: a plain function, no method indirection

    def usage(self, chunk_or_response: Any) -> TokenUsage | None:
        x_groq = getattr(chunk_or_response, "x_groq", None)
        usage = getattr(x_groq, "usage", None) if x_groq is not None else None
        if not isinstance(usage, Usage):
            usage = getattr(chunk_or_response, "usage", None)
        return usage if isinstance(usage, Usage) else None

    def text(self, chunks: Sequence[ChatChunk]) -> str:
        return "".join([choice.delta.content or "" for chunk in chunks for choice in chunk.choices])

    def ends_stream(self, chunk: Any) -> bool:
        """Never: a chat stream ends with ``data: [DONE]``, and one cut before it is broken."""
        return False
