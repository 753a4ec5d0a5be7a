"""Prometheus metrics: counters fed by the observer port, gauges read from ``statistics()`` at scrape time.

Theory of operation
-------------------
Two kinds of number, two mechanisms (STYLE rule 7):

* **What happened** (requests, their durations, tokens, retries, 429s, time to first token) is
  counted as it happens: :class:`ClientMetrics` turns the observer calls that
  :class:`orchestrator.Telemetry` forwards into ``inc()`` / ``observe()`` on labelled children.
  Children are looked up once per label set and cached in small dicts (the label sets are few:
  models x operations x statuses), so the hot path is a dict hit and one locked add.
* **What is true now** (queue depth, jobs waiting for budget, rate-limit headroom, breaker state)
  is never copied into a gauge: :class:`ClientStateCollector` asks each attached client's
  ``statistics()``, ``rate_limits()`` and ``breaker_state`` when Prometheus scrapes, so the
  numbers cannot go stale or drift from what the actors believe.

Everything lives on one ``CollectorRegistry`` that the :class:`orchestrator.Telemetry` owns;
the process-wide ``prometheus_client.REGISTRY`` is used only when the application passes it.
:func:`open_metrics_server` serves a registry at ``/metrics`` with hypercorn on trio, inside an
``async with``, so the scrape runs in the same trio run as the actors (no thread reads their
state) and nothing outlives the block. The emulator serves its own counters through the same
endpoint (`orchestrator.emulator._metrics`); nothing here knows the emulator.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, Final

import trio
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from actors._windows import WINDOWS
from orchestrator._asgi_lifespan import answer_lifespan

if TYPE_CHECKING:
    from orchestrator._client import Client

__all__ = [
    "BREAKER_STATE_VALUES",
    "ClientMetrics",
    "ClientStateCollector",
    "MetricsServer",
    "open_metrics_server",
]

#: Seconds: from a 10 ms emulator answer to a two-minute reasoning completion.
DURATION_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
#: Seconds: time to first token is usually well under a second on Groq.
FIRST_TOKEN_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: ``groq_circuit_breaker_state`` values: the higher, the worse.
BREAKER_STATE_VALUES: Final = {"closed": 0, "half_open": 1, "open": 2}


class ClientMetrics:
    """The counters and histograms of every job the observed clients run.

    Args:
        registry: where the metrics are registered (each name once per registry).

    Labels: ``model`` is the model id ("" for calls without one, such as ``/models``);
    ``operation`` is ``chat``, ``chat_stream``, ``transcription``, ``translation`` or ``models``;
    ``status`` an HTTP status, or ``timeout`` / ``error`` when no response came.
    """

    __slots__ = (
        "_durations",
        "_first_token",
        "_first_tokens",
        "_operations",
        "_operations_total",
        "_rate_limited",
        "_rate_limited_total",
        "_request_durations",
        "_requests",
        "_requests_total",
        "_retries",
        "_retries_total",
        "_tokens",
        "_tokens_total",
    )

    def __init__(self, registry: CollectorRegistry) -> None:
        self._requests_total = Counter(
            "groq_requests", "HTTP requests sent to Groq, by model, operation and response status "
            "(timeout/error when no response came).",
            ["model", "operation", "status"], registry=registry,
        )
        self._request_durations = Histogram(
            "groq_request_duration_seconds", "Seconds from sending a request to its response headers (or failure).",
            ["model", "operation"], registry=registry, buckets=DURATION_BUCKETS,
        )
        self._tokens_total = Counter(
            "groq_tokens", "Tokens Groq reported in usage, by model and type (prompt or completion).",
            ["model", "type"], registry=registry,
        )
        self._retries_total = Counter(
            "groq_retries", "Attempts scheduled again after a retryable failure, by model and reason.",
            ["model", "reason"], registry=registry,
        )
        self._rate_limited_total = Counter(
            "groq_rate_limited", "429 responses (a rate limit hit on Groq's side), by model.",
            ["model"], registry=registry,
        )
        self._first_token = Histogram(
            "groq_time_to_first_token_seconds", "Seconds from sending a streamed request to its first chunk.",
            ["model"], registry=registry, buckets=FIRST_TOKEN_BUCKETS,
        )
        self._operations_total = Counter(
            "groq_operations", "Calls (jobs) finished, after retries, by model, operation and outcome "
            "(success, or the error kind: rate_limit, server, timeout, authentication ...).",
            ["model", "operation", "outcome"], registry=registry,
        )
        self._requests: dict[tuple[str, str, str], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}
        self._tokens: dict[str, tuple[Any, Any]] = {}
        self._retries: dict[tuple[str, str], Any] = {}
        self._rate_limited: dict[str, Any] = {}
        self._first_tokens: dict[str, Any] = {}
        self._operations: dict[tuple[str, str, str], Any] = {}

    def request(self, model: str, operation: str, status: str, seconds: float) -> None:
        """One attempt ended with ``status`` (an HTTP status, ``timeout`` or ``error``) after ``seconds``."""
        key = (model, operation, status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = self._requests_total.labels(model, operation, status)
        counter.inc()
        pair = (model, operation)
        histogram = self._durations.get(pair)
        if histogram is None:
            histogram = self._durations[pair] = self._request_durations.labels(model, operation)
        histogram.observe(seconds)
        if status == "429":
            limited = self._rate_limited.get(model)
            if limited is None:
                limited = self._rate_limited[model] = self._rate_limited_total.labels(model)
            limited.inc()

    def tokens(self, model: str, prompt: int, completion: int) -> None:
        """Groq reported ``prompt`` and ``completion`` tokens for one call."""
        pair = self._tokens.get(model)
        if pair is None:
            pair = self._tokens[model] = (
                self._tokens_total.labels(model, "prompt"),
                self._tokens_total.labels(model, "completion"),
            )
        pair[0].inc(prompt)
        pair[1].inc(completion)

    def retry(self, model: str, reason: str) -> None:
        """An attempt failed for ``reason`` and will be made again."""
        key = (model, reason)
        counter = self._retries.get(key)
        if counter is None:
            counter = self._retries[key] = self._retries_total.labels(model, reason)
        counter.inc()

    def first_token(self, model: str, seconds: float) -> None:
        """A stream's first chunk arrived ``seconds`` after its request was sent."""
        histogram = self._first_tokens.get(model)
        if histogram is None:
            histogram = self._first_tokens[model] = self._first_token.labels(model)
        histogram.observe(seconds)

    def operation(self, model: str, operation: str, outcome: str) -> None:
        """A call finished for good with ``outcome`` (``success`` or an error kind)."""
        key = (model, operation, outcome)
        counter = self._operations.get(key)
        if counter is None:
            counter = self._operations[key] = self._operations_total.labels(model, operation, outcome)
        counter.inc()


# ------------------------------------------------------------------------- scrape-time state


def _client_families() -> dict[str, Metric]:
    """Empty families for every gauge :class:`ClientStateCollector` exports (also its ``describe``)."""
    return {
        "queued": GaugeMetricFamily(
            "groq_queue_depth", "Jobs ready to be sent, waiting in the scheduler for budget or a free worker."),
        "waiting_for_budget": GaugeMetricFamily(
            "groq_queue_waiting_for_budget", "Queued jobs whose model's rate budget is exhausted right now."),
        "delayed_for_retry": GaugeMetricFamily(
            "groq_queue_delayed_for_retry", "Jobs waiting out a retry backoff."),
        "in_flight": GaugeMetricFamily("groq_requests_in_flight", "Requests sent and not yet answered."),
        "streams_open": GaugeMetricFamily("groq_streams_open", "Streamed responses still being read."),
        "breaker": GaugeMetricFamily(
            "groq_circuit_breaker_state", "Circuit breaker state: 0 closed, 1 half-open, 2 open "
            "(the worst over the observed clients)."),
        "remaining": GaugeMetricFamily(
            "groq_rate_limit_remaining", "Rate-limit headroom the client believes in, by model, kind "
            "(requests, tokens, input_tokens or output_tokens) and window (minute or day); the least over the observed clients.",
            labels=["model", "kind", "window"]),
        "limit": GaugeMetricFamily(
            "groq_rate_limit_limit", "The rate limit the client believes in, by model, kind and window.",
            labels=["model", "kind", "window"]),
        "paused": GaugeMetricFamily(
            "groq_rate_limit_pause_seconds", "Seconds left in a model's pause after a 429 (0 when not paused).",
            labels=["model"]),
    }


_QUEUE_FIELDS: Final = ("queued", "waiting_for_budget", "delayed_for_retry", "in_flight", "streams_open")
#: (kind, window, BudgetSnapshot remaining field, ModelLimits field), from the one window table.
_WINDOWS: Final = tuple((spec.kind, spec.span, spec.remaining, spec.field) for spec in WINDOWS)


class ClientStateCollector(Collector):
    """Reads the clients' ``statistics()``, ``rate_limits()`` and breaker state at every scrape.

    Args:
        clients: the live list of attached clients (the :class:`orchestrator.Telemetry` adds and
            removes them); several clients are summed (queues) or reduced to the worst (breaker,
            least headroom).

    The clients' state belongs to their trio run, so a scrape must happen inside it (as
    :func:`open_metrics_server` does); scraped from anywhere else, this collector yields nothing.
    """

    def __init__(self, clients: Sequence[Client]) -> None:
        self._clients = clients

    def describe(self) -> Iterable[Metric]:
        """The families this collector exports (so registering it never reads a client)."""
        return list(_client_families().values())

    def collect(self) -> Iterable[Metric]:
        """The current gauges of every attached client."""
        if not self._clients or not trio.lowlevel.in_trio_run():
            return []
        families = _client_families()
        totals = dict.fromkeys(_QUEUE_FIELDS, 0)
        breaker = 0
        remaining: dict[tuple[str, str, str], int] = {}
        limits: dict[tuple[str, str, str], int] = {}
        paused: dict[str, float] = {}
        for client in self._clients:
            stats = client.statistics()
            for name in _QUEUE_FIELDS:
                totals[name] += getattr(stats, name)
            breaker = max(breaker, BREAKER_STATE_VALUES.get(stats.breaker, 2))
            for model, snapshot in client.rate_limits().items():
                paused[model] = max(paused.get(model, 0.0), snapshot.paused_for)
                for kind, window, field, limit_field in _WINDOWS:
                    value = getattr(snapshot, field)
                    if value is None:
                        continue
                    key = (model, kind, window)
                    remaining[key] = min(remaining.get(key, value), value)
                    limit = getattr(snapshot.limits, limit_field)
                    if limit is not None:
                        limits[key] = min(limits.get(key, limit), limit)
        for name in _QUEUE_FIELDS:
            families[name].add_metric([], totals[name])
        families["breaker"].add_metric([], breaker)
        for key, value in sorted(remaining.items()):
            families["remaining"].add_metric(list(key), value)
        for key, value in sorted(limits.items()):
            families["limit"].add_metric(list(key), value)
        for model, seconds in sorted(paused.items()):
            families["paused"].add_metric([model], seconds)
        return list(families.values())


# ------------------------------------------------------------------------------ /metrics


@dataclasses.dataclass(frozen=True)
class MetricsServer:
    """A running ``/metrics`` endpoint.

    Attributes:
        host, port: where it listens (``port`` is the bound one when 0 was asked for).
        url: ``http://HOST:PORT/metrics``, what to put in a Prometheus scrape config.
    """

    host: str
    port: int
    url: str


_TEXT: Final = [(b"content-type", b"text/plain; charset=utf-8")]


def _metrics_app(registry: CollectorRegistry) -> Callable[..., Any]:
    """A minimal ASGI app: ``GET``/``HEAD /metrics`` renders the registry; anything else is 404 or 405."""

    async def app(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] == "lifespan":
            await answer_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers: list[tuple[bytes, bytes]] = _TEXT
        if scope["path"] != "/metrics":
            status, body = 404, b"not found: metrics are at /metrics\n"
        elif scope["method"] not in ("GET", "HEAD"):
            status, body = 405, b"method not allowed: use GET /metrics\n"
            headers = [*_TEXT, (b"allow", b"GET, HEAD")]
        else:
            status, body = 200, generate_latest(registry)
            headers = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return app


def _host_in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _check_bindable(host: str, port: int) -> None:
    """Fail early, with a plain ``OSError`` naming the address, if ``host:port`` cannot be bound.

    Inside the server's nursery the same failure would surface wrapped in exception groups.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}); choose another port, or 0 for a free one",
            ) from None


@asynccontextmanager
async def open_metrics_server(
    registry: CollectorRegistry, *, port: int, host: str = "127.0.0.1"
) -> AsyncIterator[MetricsServer]:
    """Serve ``registry`` at ``http://host:port/metrics`` for the body of the ``async with``.

    Served by hypercorn on trio in this trio run: scrapes read the actors' state in the same
    thread, and when the block exits the server stops (open scrapes get a second to finish).
    Binds to loopback by default; pass ``host="0.0.0.0"`` only where the network is trusted.

    Args:
        registry: what to serve.
        port: TCP port; 0 picks a free one (read ``server.port``).
        host: interface to bind.

    Raises:
        OSError: the port cannot be bound (in use, or privileged).
    """
    from hypercorn.config import Config as HypercornConfig
    from hypercorn.trio import serve as hypercorn_serve

    _check_bindable(host, port)
    config = HypercornConfig()
    config.bind = [f"{_host_in_url(host)}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 1.0
    config.include_server_header = False
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(
            partial(hypercorn_serve, _metrics_app(registry), config, shutdown_trigger=stop.wait, mode="asgi")
        )
        bound = int(binds[0].rsplit(":", 1)[1])
        try:
            yield MetricsServer(host=host, port=bound, url=f"http://{_host_in_url(host)}:{bound}/metrics")
        finally:
            stop.set()

