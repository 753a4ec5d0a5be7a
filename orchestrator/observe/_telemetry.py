"""Telemetry: one observer that turns the life of every call into metrics, trace spans and audit events.

Theory of operation
-------------------
The actors report each job's life to an *observer port* (``actors._observer``): submitted,
response received, attempt failed, retry scheduled, first chunk, usage, settled, breaker
changed. :class:`Telemetry` is that observer. Each call fans out to three small parts, each in
its own module:

* :class:`orchestrator.observe._metrics.ClientMetrics`: Prometheus counters and histograms;
* :class:`orchestrator.observe._tracing.JobTracer`: one OpenTelemetry span per call;
* :class:`orchestrator.observe._audit.AuditLog`: security-relevant events on ``orchestrator.audit``.

Per-job state (the model label, the operation, the submission time and the open span) lives in
the job's own ``trace`` slot, so nothing here grows with the number of jobs. The gauges (queue
depth, rate-limit headroom, breaker state) are not fed by the port at all: they are read from
the *attached* clients' ``statistics()`` and ``rate_limits()`` at scrape time.

Observer methods run on the hot path of every request, so they do a few dict lookups and
locked adds and nothing else: a call's whole life (submitted, response, usage, settled) costs
about 6 µs of CPU with no OpenTelemetry SDK installed (the span is then a no-op); an SDK adds
its own cost per span (about 25 µs with a simple in-memory exporter).

Usage, the one line::

    telemetry = orchestrator.Telemetry()
    async with telemetry.serve(9464), telemetry.open_client() as groq:
        ...  # http://127.0.0.1:9464/metrics

or, with a client opened elsewhere, ``open_client(observer=telemetry)`` and then
``telemetry.attach(client)`` (and ``detach`` when it closes).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any, Final, final

import trio
from prometheus_client import CollectorRegistry

from actors._job import Outcome
from orchestrator.observe._audit import AuditLog, public_url
from orchestrator._errors import AuthenticationError, AuthorizationError, RateLimitError, TimeoutError
from orchestrator.observe._metrics import ClientMetrics, ClientStateCollector, MetricsServer, open_metrics_server
from orchestrator.observe._tracing import JobTracer

if TYPE_CHECKING:
    from opentelemetry.trace import Span, TracerProvider

    from actors._job import Job
    from orchestrator._client import Client
    from orchestrator._config import Config
    from orchestrator._errors import GroqError
    from orchestrator._wire import Usage

__all__ = ["Telemetry", "error_kind", "operation_of"]

_OPERATIONS: Final = {
    "/audio/transcriptions": "transcription",
    "/audio/translations": "translation",
    "/models": "models",
}
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_ERROR_KINDS: dict[type[BaseException], str] = {}


def operation_of(job: Job) -> str:
    """The ``operation`` label of a job: chat, chat_stream, transcription, translation, models (or other)."""
    path = job.path
    if path == "/chat/completions":
        return "chat_stream" if job.stream else "chat"
    operation = _OPERATIONS.get(path)
    if operation is not None:
        return operation
    return "models" if path.startswith("/models/") else "other"


def error_kind(error: BaseException) -> str:
    """A short label for an error class: ``RateLimitError`` -> ``rate_limit``, ``ServerError`` -> ``server``."""
    cls = type(error)
    kind = _ERROR_KINDS.get(cls)
    if kind is None:
        name = cls.__name__.removesuffix("Error") or cls.__name__
        kind = _ERROR_KINDS[cls] = _CAMEL.sub("_", name).lower()
    return kind


class _JobState:
    """What telemetry keeps about one job, in ``job.trace``."""

    __slots__ = ("model", "operation", "span", "submitted")

    def __init__(self, model: str, operation: str, submitted: float, span: Span | None) -> None:
        self.model = model
        self.operation = operation
        self.submitted = submitted
        self.span = span


@final
class Telemetry:
    """Metrics, trace spans and audit events for every call a client makes.

    One object serves as the client's observer (``open_client(observer=telemetry)``) and owns
    the Prometheus registry its metrics live on. It may observe several clients; counters add up
    and gauges are summed or reduced to the worst. Metric names and labels are listed in
    ``orchestrator.observe._metrics``; span attributes in ``orchestrator.observe._tracing``; audit events in
    ``orchestrator.observe._audit``.

    Args:
        registry: where the metrics are registered. By default a private
            ``CollectorRegistry`` (``telemetry.registry``), so two clients or a test never
            collide; pass ``prometheus_client.REGISTRY`` to export through an existing
            process-wide endpoint (then create only one ``Telemetry`` per process).
        tracer_provider: an OpenTelemetry ``TracerProvider``; by default the global one, which is
            a no-op until the application installs an SDK.

    Raises:
        ValueError: ``registry`` already holds the ``groq_*`` metrics (of another ``Telemetry``).
    """

    __slots__ = ("_audit", "_base_url", "_clients", "_key_hint", "_metrics", "_tracer", "registry")

    def __init__(
        self, *, registry: CollectorRegistry | None = None, tracer_provider: TracerProvider | None = None
    ) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        try:
            self._metrics = ClientMetrics(self.registry)
        except ValueError as exc:
            raise ValueError(
                f"registry {self.registry!r} already has the groq_* metrics ({exc}); create one Telemetry per "
                "registry and pass it to every client (or leave registry=None for a private one)"
            ) from None
        self._clients: list[Client] = []
        self.registry.register(ClientStateCollector(self._clients))
        self._tracer = JobTracer(tracer_provider)
        self._audit = AuditLog()
        self._key_hint: str | None = None
        self._base_url: str | None = None

    # -- lifetimes ------------------------------------------------------------------------

    @asynccontextmanager
    async def open_client(self, config: Config | None = None, **overrides: Any) -> AsyncIterator[Client]:
        """``orchestrator.open_client`` with this telemetry observing and attached: the one line to use.

        Takes the same arguments as :func:`orchestrator.open_client` (except ``observer``).
        """
        from orchestrator._client import open_client

        async with open_client(config, observer=self, **overrides) as client:
            self.attach(client)
            try:
                yield client
            finally:
                self.detach(client)

    def attach(self, client: Client) -> None:
        """Export ``client``'s queues, rate-limit headroom and breaker state, and audit its configuration.

        Needed only for a client opened with ``open_client(observer=telemetry)`` yourself;
        :meth:`open_client` does it. Call :meth:`detach` when the client closes.
        """
        if client in self._clients:
            return
        self._clients.append(client)
        self._refresh_context()
        self._audit.client_configured(client.config)

    def detach(self, client: Client) -> None:
        """Stop exporting ``client``'s state (counters it contributed stay)."""
        if client not in self._clients:
            return
        self._clients.remove(client)
        self._refresh_context()
        self._audit.client_closed(client.config)

    def serve(self, port: int, host: str = "127.0.0.1") -> AbstractAsyncContextManager[MetricsServer]:
        """Serve the metrics at ``http://host:port/metrics`` for the body of an ``async with``.

        Served on trio in this run (no thread); ``port=0`` picks a free port (``server.port``,
        ``server.url``). Binds to loopback unless told otherwise.

        Raises:
            OSError: the port cannot be bound.
        """
        return open_metrics_server(self.registry, port=port, host=host)

    def _refresh_context(self) -> None:
        """The key hint and base URL for audit events, when all attached clients agree on them."""
        hints = {client.config.api_key.hint for client in self._clients}
        urls = {public_url(client.config.base_url) for client in self._clients}
        self._key_hint = hints.pop() if len(hints) == 1 else None
        self._base_url = urls.pop() if len(urls) == 1 else None

    # -- the observer port (hot path) ---------------------------------------------------------

    def job_submitted(self, job: Job) -> None:
        """Open the job's span and remember its labels."""
        model = job.model or ""
        operation = operation_of(job)
        job.trace = _JobState(model, operation, trio.current_time(), self._tracer.start(operation, model))

    def attempt_started(self, job: Job) -> None:
        """Nothing to record: an attempt is counted when it ends (response or failure)."""

    def response_received(self, job: Job, status: int, seconds: float) -> None:
        """Count the request by status and time it; a 429 is also a rate-limit hit and a span event."""
        state: _JobState = job.trace
        self._metrics.request(state.model, state.operation, str(status), seconds)
        if status == 429 and state.span is not None:
            JobTracer.rate_limited(state.span, job.attempts)

    def attempt_failed(self, job: Job, error: GroqError, seconds: float) -> None:
        """Count a request that got no response, as ``timeout`` or ``error``."""
        state: _JobState = job.trace
        status = "timeout" if isinstance(error, TimeoutError) else "error"
        self._metrics.request(state.model, state.operation, status, seconds)
        if state.span is not None:
            JobTracer.attempt_failed(state.span, error, job.attempts, seconds)

    def retry_scheduled(self, job: Job, error: GroqError, delay: float) -> None:
        """Count the retry by reason, note it on the span, and audit a 429."""
        state: _JobState = job.trace
        self._metrics.retry(state.model, error_kind(error))
        if state.span is not None:
            JobTracer.retry(state.span, error, job.attempts, delay)
        if isinstance(error, RateLimitError):
            self._audit.rate_limit_hit(error, model=job.model, operation=state.operation, retried=True)

    def first_chunk(self, job: Job, seconds: float) -> None:
        """Time to first token of a stream."""
        self._metrics.first_token(job.trace.model, seconds)

    def usage_observed(self, job: Job, usage: Usage) -> None:
        """Count the tokens; put them on the span if it is still open."""
        state: _JobState = job.trace
        self._metrics.tokens(state.model, usage.prompt_tokens, usage.completion_tokens)
        if state.span is not None:
            JobTracer.usage(state.span, usage)

    def job_settled(self, job: Job) -> None:
        """Count the outcome, audit an authentication failure or a final 429, and end the span."""
        state: _JobState = job.trace
        outcome = job.outcome
        error = outcome.error if outcome is not None else None
        if error is None:
            self._metrics.operation(state.model, state.operation, "success")
        else:
            self._metrics.operation(state.model, state.operation, error_kind(error))
            if isinstance(error, (AuthenticationError, AuthorizationError)):
                self._audit.authentication_failed(
                    error, model=job.model, operation=state.operation, base_url=self._base_url,
                    api_key_hint=self._key_hint,
                )
            elif isinstance(error, RateLimitError):
                self._audit.rate_limit_hit(error, model=job.model, operation=state.operation, retried=False)
        if job.stream and error is None:
            return  # the span stays open until the stream itself ends (stream_finished)
        self._end_span(state, outcome)

    def stream_finished(self, job: Job, error: GroqError | None) -> None:
        """End a streamed call's span when its body ends, marked failed if the stream broke."""
        state: _JobState = job.trace
        outcome = job.outcome
        if error is not None and outcome is not None:
            outcome = Outcome(
                None, error, status_code=outcome.status_code, request_id=outcome.request_id, attempts=outcome.attempts
            )
        self._end_span(state, outcome)

    def _end_span(self, state: _JobState, outcome: Outcome | None) -> None:
        span = state.span
        if span is not None:
            state.span = None
            JobTracer.finish(span, outcome, trio.current_time() - state.submitted)

    def breaker_changed(self, base_url: str, old: str, new: str) -> None:
        """Audit the change (the state gauge is read from the clients at scrape time)."""
        self._audit.breaker_changed(base_url, old, new)

    def __repr__(self) -> str:
        return f"<orchestrator.Telemetry observing {len(self._clients)} client(s)>"
