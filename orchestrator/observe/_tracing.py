"""Trace spans with opentelemetry-api: one span per call, from submission to its outcome (NFR-OBS-001).

Theory of operation
-------------------
A call (a :class:`actors.Job`) gets a ``CLIENT`` span when it is submitted, in the caller's task,
so an application span that is current there becomes its parent. The span lives as long as the
job: every attempt, 429 and retry is an *event* on it (one span, however many HTTP requests it
took, is what a trace reader wants to see), and it ends when the job settles, with:

* ``groq.model``, ``groq.operation`` (``chat``, ``chat_stream``, ``transcription``,
  ``translation``, ``models``), ``groq.request_id``, ``groq.latency_ms`` (submission to outcome),
  ``groq.attempts``, ``http.status_code`` (the last response's);
* ``groq.tokens.prompt`` / ``groq.tokens.completion`` when Groq reported usage before the end;
* an ``ERROR`` status and a recorded exception when the call failed for good.

A streamed call settles when its response headers arrive, so its span covers the wait and the
request, not the reading of the stream (its usage arrives after the span has ended).

Only the API is used: without an SDK installed by the application every span is a free no-op;
with one, spans go wherever the application exports them. A ``TracerProvider`` may be passed
instead of the global one (tests pass one with an in-memory exporter).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

if TYPE_CHECKING:
    from actors._job import Outcome
    from orchestrator._errors import GroqError
    from orchestrator._wire import Usage

__all__ = ["JobTracer"]

_TRACER_NAME: Final = "orchestrator"


class JobTracer:
    """Starts, annotates and ends the span of each call.

    Args:
        provider: where spans go; None follows the global provider (a no-op until the
            application installs an SDK, and whatever it installs afterwards).
    """

    __slots__ = ("_names", "_tracer")

    def __init__(self, provider: TracerProvider | None = None) -> None:
        from orchestrator import __version__

        self._tracer = trace.get_tracer(_TRACER_NAME, __version__, tracer_provider=provider)
        self._names: dict[str, str] = {}

    def start(self, operation: str, model: str) -> Span:
        """Open the span of a call just submitted (in the caller's context, so it nests there)."""
        name = self._names.get(operation)
        if name is None:
            name = self._names[operation] = f"groq.{operation}"
        attributes: dict[str, str] = {"groq.operation": operation}
        if model:
            attributes["groq.model"] = model
        return self._tracer.start_span(name, kind=SpanKind.CLIENT, attributes=attributes)

    @staticmethod
    def rate_limited(span: Span, attempt: int) -> None:
        """An attempt was answered 429 (whether or not it is retried, a ``rate_limited`` event)."""
        span.add_event("rate_limited", {"attempt": attempt, "http.status_code": 429})

    @staticmethod
    def attempt_failed(span: Span, error: GroqError, attempt: int, seconds: float) -> None:
        """An attempt got no response (timeout, network error)."""
        span.add_event(
            "attempt_failed",
            {"attempt": attempt, "error.type": type(error).__name__, "duration_ms": seconds * 1000.0},
        )

    @staticmethod
    def retry(span: Span, error: GroqError, attempt: int, delay: float) -> None:
        """The call will be sent again after ``delay`` seconds."""
        attributes: dict[str, str | int | float] = {
            "attempt": attempt,
            "delay_s": delay,
            "error.type": type(error).__name__,
        }
        if error.status is not None:
            attributes["http.status_code"] = error.status
        if error.retry_after is not None:
            attributes["retry_after_s"] = error.retry_after
        window = getattr(error, "window", None)
        if window is not None:
            attributes["groq.rate_limit.window"] = window
        span.add_event("retry", attributes)

    @staticmethod
    def usage(span: Span, usage: Usage) -> None:
        """Groq reported the call's token usage."""
        span.set_attribute("groq.tokens.prompt", usage.prompt_tokens)
        span.set_attribute("groq.tokens.completion", usage.completion_tokens)

    @staticmethod
    def finish(span: Span, outcome: Outcome | None, latency: float) -> None:
        """The call has its outcome: record it and end the span."""
        span.set_attribute("groq.latency_ms", latency * 1000.0)
        if outcome is not None:
            span.set_attribute("groq.attempts", outcome.attempts)
            if outcome.request_id is not None:
                span.set_attribute("groq.request_id", outcome.request_id)
            if outcome.status_code is not None:
                span.set_attribute("http.status_code", outcome.status_code)
            error = outcome.error
            if error is not None:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()
