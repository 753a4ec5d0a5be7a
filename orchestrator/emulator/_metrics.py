"""The emulator's own counters as Prometheus metrics, for ``groq-orch emulate --metrics-port``.

:class:`EmulatorCollector` reads ``Emulator.stats()`` at every scrape, the way the client's state
collector reads ``statistics()``: nothing is copied into a gauge, so nothing goes stale. It belongs to
the emulator, not to the client's `orchestrator.observe._metrics`; the server borrows only that module's
``/metrics`` endpoint (`orchestrator.observe._metrics.open_metrics_server`), so the dependency runs one way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from orchestrator.emulator._stats import EmulatorStats

__all__ = ["EmulatorCollector"]


class EmulatorCollector(Collector):
    """The emulator's own counters (``Emulator.stats()``), read at every scrape.

    Args:
        stats: returns a fresh :class:`orchestrator.emulator.EmulatorStats` snapshot.
    """

    def __init__(self, stats: Callable[[], EmulatorStats]) -> None:
        self._stats = stats

    @staticmethod
    def _families() -> dict[str, CounterMetricFamily]:
        return {
            "requests": CounterMetricFamily("groq_emulator_requests", "HTTP requests the emulator received."),
            "responses": CounterMetricFamily(
                "groq_emulator_responses", "Responses the emulator sent, by status.", labels=["status"]),
            "rate_limited": CounterMetricFamily("groq_emulator_rate_limited", "429 responses the emulator sent."),
            "faults": CounterMetricFamily(
                "groq_emulator_faults_injected", "Faults the emulator injected, by kind.", labels=["kind"]),
            "connections": CounterMetricFamily(
                "groq_emulator_connections_opened", "Distinct client connections the emulator saw."),
            "streams": CounterMetricFamily(
                "groq_emulator_streams", "SSE responses by what became of them (started, completed, "
                "disconnected by the client).", labels=["event"]),
        }

    def describe(self) -> Iterable[Metric]:
        """The families this collector exports."""
        return list(self._families().values())

    def collect(self) -> Iterable[Metric]:
        """The emulator's counters now."""
        stats = self._stats()
        families = self._families()
        families["requests"].add_metric([], stats.requests)
        for status, count in stats.responses_by_status.items():
            families["responses"].add_metric([str(status)], count)
        families["rate_limited"].add_metric([], stats.rate_limited)
        for kind, count in stats.faults_injected.items():
            families["faults"].add_metric([kind], count)
        families["connections"].add_metric([], stats.connections_opened)
        for event, count in (
            ("started", stats.streams_started),
            ("completed", stats.streams_completed),
            ("disconnected", stats.streams_disconnected),
        ):
            families["streams"].add_metric([event], count)
        return list(families.values())
