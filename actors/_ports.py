"""The engine's ports: what the actors need from the product, as small interfaces the product implements.

The engine (``actors/``) decides *when* to send, retry, pause and give up; the product
(``orchestrator/``) owns what a user sees: the error hierarchy, the wire types, the logs. So the
engine never imports the product. It asks through these ports, and ``orchestrator._engine`` is the
adapter that answers them (the hexagonal shape: the engine at the centre, its edges plugged in).

- :class:`Failures`: the error factory. It turns what went wrong (a status and body, a timeout, a
  broken connection, a broken stream, an open breaker) into the product's exception, and says what
  an exception means for scheduling (:class:`Verdict`).
- :class:`Chunks`: how a streamed event's bytes become a chunk, and what the engine must read from
  chunks and responses (their token usage, their text).
- :class:`Log`: key/value events, with a ``trace`` level only built when enabled.
- :class:`TokenUsage`: the fields of a usage report the budget reconciles with.

Every method must be cheap and must not raise except as documented.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

import msgspec

__all__ = ["Chunks", "Failures", "FailureKind", "Lanes", "Log", "NullLog", "TokenUsage", "Verdict"]

FailureKind = Literal["rate_limited", "too_large", "server", "refused", "misconfigured", "other"]
"""What an error means to the engine.

- ``rate_limited``: a 429; the model pauses and the named window learns.
- ``too_large``: a 413; the named window learns its limit.
- ``server``: server trouble (5xx, 498, timeouts, broken connections); the breaker counts it.
- ``refused``: the key was refused (401); the error carries the key's hint.
- ``misconfigured``: the connection can never work as configured (an untrusted certificate, no common
  TLS version): neither retried nor counted by the breaker, since the server is not at fault.
- ``other``: the server answered clearly (a 4xx); evidence it is alive.
"""


class Verdict(msgspec.Struct, frozen=True):
    """What an error means for scheduling: its kind, whether to retry, and what it teaches the budget.

    ``unknown_model``: the server says the job's model does not exist (404 ``model_not_found``), so the
    budget kept for it describes nothing and is forgotten.
    """

    kind: FailureKind
    retryable: bool
    retry_after: float | None = None
    window: str | None = None
    limit: int | None = None
    unknown_model: bool = False


class TokenUsage(Protocol):
    """A finished request's token counts, as Groq reports them."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: Any


class Failures(Protocol):
    """The product's error factory and classifier."""

    #: The product's error classes: an exception of one of these passes through the engine as it is.
    errors: tuple[type[Exception], ...]

    def from_response(self, status: int, headers: Mapping[str, str], body: bytes) -> Exception:
        """The error for an HTTP error response."""

    def timeout(self, message: str, *, timeout: float | None, operation: str, request_id: str | None = None) -> Exception:
        """No response (or no stream data) in time."""

    def network(self, message: str, *, cause: str, permanent: bool = False) -> Exception:
        """The connection failed, or the request was cancelled by its caller.

        ``permanent``: it will fail the same way every time (an untrusted certificate, no common TLS
        version), so it must not be retried nor blamed on the server.
        """

    def server(self, message: str, *, status: int | None = None, request_id: str | None = None, body: bytes | None = None) -> Exception:
        """The server answered with something unusable (a body that does not decode)."""

    def stream(self, message: str, *, request_id: str | None) -> Exception:
        """A stream broke (cut before ``[DONE]``, malformed event or SSE)."""

    def stream_event(self, data: bytes, *, request_id: str | None) -> Exception:
        """A stream's in-band ``{"error": ...}`` event."""

    def circuit_open(self, message: str, *, retry_after: float, waited: float | None = None) -> Exception:
        """The breaker refuses the job: it is open and jobs fail fast, or it has refused for ``waited`` s (max_wait)."""

    def verdict(self, error: Exception) -> Verdict:
        """What ``error`` (one of :attr:`errors`) means for scheduling."""

    def broke_stream(self, error: Exception, partial_content: str) -> None:
        """Attach the text received so far to a stream's error, if it is a broken-stream error."""


class Chunks(Protocol):
    """Decoding streamed events and reading what the engine needs from chunks and responses."""

    #: Exceptions :meth:`decode` raises for an event that is not a valid chunk.
    decode_errors: tuple[type[Exception], ...]

    def decode(self, data: bytes) -> Any:
        """One SSE event's data as a chunk."""

    def usage(self, chunk_or_response: Any) -> TokenUsage | None:
        """The usage a chunk or a whole response carries, if any."""

    def text(self, chunks: Sequence[Any]) -> str:
        """The generated text in ``chunks``, in order."""

    def ends_stream(self, chunk: Any) -> bool:
        """Whether a body that ends right after ``chunk`` ended cleanly without ``[DONE]`` (asked once, at its end)."""


class Lanes(Protocol):
    """What a worker reports back to whoever schedules (the scheduler decides what follows).

    The worker only says what happened: an attempt failed, with this error and this verdict; budget
    came back for a model. Whether the job is tried again, after how long, and which lane looks
    again, is the scheduler's business.
    """

    def attempt_failed(self, job: Any, error: Exception, verdict: Verdict) -> None:
        """An attempt of ``job`` failed with ``error``: queue it again after a backoff, or settle it with ``error``."""

    def wake(self, model: str | None) -> None:
        """Budget came back for ``model`` (a refund, an over-estimate): its lane may look again now."""


class Log(Protocol):
    """Key/value events (structlog style: an event name, then fields)."""

    def trace_enabled(self) -> bool: ...
    def trace(self, event: str, **fields: Any) -> None: ...
    def debug(self, event: str, **fields: Any) -> None: ...
    def info(self, event: str, **fields: Any) -> None: ...
    def warning(self, event: str, **fields: Any) -> None: ...
    def error(self, event: str, **fields: Any) -> None: ...


class NullLog:
    """Logs nothing: for an engine assembled without the product (tests of the actors alone)."""

    __slots__ = ()

    def trace_enabled(self) -> bool:
        return False

    def trace(self, event: str, **fields: Any) -> None:
        """Dropped."""

    def debug(self, event: str, **fields: Any) -> None:
        """Dropped."""

    def info(self, event: str, **fields: Any) -> None:
        """Dropped."""

    def warning(self, event: str, **fields: Any) -> None:
        """Dropped."""

    def error(self, event: str, **fields: Any) -> None:
        """Dropped."""
