"""The emulator's Prometheus collector: its own counters, read at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from orchestrator.emulator import EmulatorStats
from orchestrator.emulator._metrics import EmulatorCollector


class TestEmulatorCollector:
    def test_the_emulator_counters_become_metrics(self) -> None:
        """Every EmulatorStats counter is exported under a groq_emulator_ name."""
        stats = EmulatorStats(
            requests=12, responses_by_status={200: 10, 429: 2}, rate_limited=2, faults_injected={"503": 1},
            connections_opened=3, streams_started=4, streams_completed=3, streams_disconnected=1,
        )
        registry = CollectorRegistry()
        registry.register(EmulatorCollector(lambda: stats))
        value = registry.get_sample_value
        assert value("groq_emulator_requests_total") == 12
        assert value("groq_emulator_responses_total", {"status": "429"}) == 2
        assert value("groq_emulator_rate_limited_total") == 2
        assert value("groq_emulator_faults_injected_total", {"kind": "503"}) == 1
        assert value("groq_emulator_connections_opened_total") == 3
        assert value("groq_emulator_streams_total", {"event": "disconnected"}) == 1
