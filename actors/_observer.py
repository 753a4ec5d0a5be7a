"""The observer port: what the actors tell telemetry (metrics, spans, audit) about each job.

The actors call these methods at the moments that matter and never look at what is done
with them, so metrics, tracing and audit logging live in one place
(``orchestrator.observe._telemetry``) instead of being sprinkled through the logic. Every method
must be cheap and must not raise; :class:`NullObserver` is the default and does nothing.

A job carries one opaque slot, ``job.trace``, that an observer may use for per-job state
(a span, a start time); the actors never touch it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ._job import Job
    from ._ports import TokenUsage

__all__ = ["NullObserver", "Observer"]


class Observer(Protocol):
    """Receives the life of every job; see :class:`NullObserver` for each moment's meaning."""

    def job_submitted(self, job: Job) -> None: ...
    def attempt_started(self, job: Job) -> None: ...
    def response_received(self, job: Job, status: int, seconds: float) -> None: ...
    def attempt_failed(self, job: Job, error: Exception, seconds: float) -> None: ...
    def retry_scheduled(self, job: Job, error: Exception, delay: float) -> None: ...
    def first_chunk(self, job: Job, seconds: float) -> None: ...
    def usage_observed(self, job: Job, usage: TokenUsage) -> None: ...
    def job_settled(self, job: Job) -> None: ...
    def stream_finished(self, job: Job, error: Exception | None) -> None: ...
    def breaker_changed(self, base_url: str, old: str, new: str) -> None: ...


class NullObserver:
    """Observes nothing: the default when no telemetry is configured."""

    __slots__ = ()

    def job_submitted(self, job: Job) -> None:
        """A job entered the scheduler (or the caller's fast path)."""

    def attempt_started(self, job: Job) -> None:
        """A worker is about to send the job (``job.attempts`` counts this attempt)."""

    def response_received(self, job: Job, status: int, seconds: float) -> None:
        """Response headers arrived ``seconds`` after the attempt started."""

    def attempt_failed(self, job: Job, error: Exception, seconds: float) -> None:
        """No response: timeout or network error, after ``seconds``."""

    def retry_scheduled(self, job: Job, error: Exception, delay: float) -> None:
        """The job goes back to the scheduler, to be sent again after ``delay`` seconds."""

    def first_chunk(self, job: Job, seconds: float) -> None:
        """A stream's first chunk reached the caller's channel ``seconds`` after the attempt started."""

    def usage_observed(self, job: Job, usage: TokenUsage) -> None:
        """The server reported the job's real token usage."""

    def job_settled(self, job: Job) -> None:
        """The job has its outcome (``job.outcome``): success or final failure."""

    def stream_finished(self, job: Job, error: Exception | None) -> None:
        """A streamed job's body is done: read to ``[DONE]``, closed by its reader, or broken (``error``).

        A streamed job settles (with its ``ChatStream``) when the headers arrive; this is the
        stream's real end, after its usage was observed.
        """

    def breaker_changed(self, base_url: str, old: str, new: str) -> None:
        """The circuit breaker moved between ``closed``, ``open`` and ``half_open``."""
