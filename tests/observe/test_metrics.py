"""Metrics bookkeeping: labels, counters, scrape-time collectors and audit URL scrubbing, called directly."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

import msgspec
import prometheus_client
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

import orchestrator
from actors._budget import BudgetSnapshot, ModelLimits
from actors._job import Job
from orchestrator.observe._audit import public_url
from orchestrator.observe._metrics import ClientMetrics, ClientStateCollector
from orchestrator.observe._telemetry import Telemetry, error_kind, operation_of

MODEL = "openai/gpt-oss-20b"


def job(path: str, *, stream: bool = False, model: str | None = MODEL) -> Job:
    return Job(model=model, method="POST", path=path, stream=stream)


class TestOperationOf:
    @pytest.mark.parametrize(
        ("path", "stream", "operation"),
        [
            ("/chat/completions", False, "chat"),
            ("/chat/completions", True, "chat_stream"),
            ("/audio/transcriptions", False, "transcription"),
            ("/audio/translations", False, "translation"),
            ("/models", False, "models"),
            ("/models/openai/gpt-oss-20b", False, "models"),
            ("/files", False, "other"),
        ],
    )
    def test_each_endpoint_has_its_operation(self, path: str, stream: bool, operation: str) -> None:
        """The operation label follows the path, and streaming splits chat in two."""
        assert operation_of(job(path, stream=stream)) == operation


class TestErrorKind:
    @pytest.mark.parametrize(
        ("error", "kind"),
        [
            (orchestrator.RateLimitError("slow down"), "rate_limit"),
            (orchestrator.ServerError("boom"), "server"),
            (orchestrator.CapacityExceededError("full"), "capacity_exceeded"),
            (orchestrator.TimeoutError("late"), "timeout"),
            (orchestrator.NetworkError("cut"), "network"),
            (orchestrator.AuthenticationError("who"), "authentication"),
            (orchestrator.CircuitOpenError("open"), "circuit_open"),
        ],
    )
    def test_error_classes_become_short_labels(self, error: BaseException, kind: str) -> None:
        """An error class name becomes a snake_case label without the Error suffix."""
        assert error_kind(error) == kind

    def test_acronyms_stay_together(self) -> None:
        """An acronym in a class name is one word of the label."""

        class SSEDecodeError(Exception):
            pass

        assert error_kind(SSEDecodeError()) == "sse_decode"


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


class TestClientMetrics:
    def test_a_response_counts_a_request_and_times_it(self) -> None:
        """One response adds one request under its status and one duration observation."""
        registry = CollectorRegistry()
        metrics = ClientMetrics(registry)
        metrics.request(MODEL, "chat", "200", 0.3)
        assert value(registry, "groq_requests_total", model=MODEL, operation="chat", status="200") == 1
        assert value(registry, "groq_request_duration_seconds_count", model=MODEL, operation="chat") == 1
        assert value(registry, "groq_request_duration_seconds_sum", model=MODEL, operation="chat") == pytest.approx(0.3)
        assert value(registry, "groq_request_duration_seconds_bucket", model=MODEL, operation="chat", le="0.25") == 0
        assert value(registry, "groq_request_duration_seconds_bucket", model=MODEL, operation="chat", le="0.5") == 1

    def test_a_429_is_also_a_rate_limit_hit(self) -> None:
        """A 429 response counts in groq_rate_limited_total for its model; a 200 does not."""
        registry = CollectorRegistry()
        metrics = ClientMetrics(registry)
        metrics.request(MODEL, "chat", "429", 0.01)
        metrics.request(MODEL, "chat", "200", 0.01)
        assert value(registry, "groq_rate_limited_total", model=MODEL) == 1

    def test_tokens_retries_first_token_and_outcomes(self) -> None:
        """Tokens add up by type, retries by reason, first tokens in their histogram, outcomes by kind."""
        registry = CollectorRegistry()
        metrics = ClientMetrics(registry)
        metrics.tokens(MODEL, 10, 20)
        metrics.tokens(MODEL, 5, 7)
        metrics.retry(MODEL, "rate_limit")
        metrics.first_token(MODEL, 0.2)
        metrics.operation(MODEL, "chat", "success")
        metrics.operation(MODEL, "chat", "server")
        assert value(registry, "groq_tokens_total", model=MODEL, type="prompt") == 15
        assert value(registry, "groq_tokens_total", model=MODEL, type="completion") == 27
        assert value(registry, "groq_retries_total", model=MODEL, reason="rate_limit") == 1
        assert value(registry, "groq_time_to_first_token_seconds_count", model=MODEL) == 1
        assert value(registry, "groq_operations_total", model=MODEL, operation="chat", outcome="server") == 1

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["a", "b", ""]),
                st.sampled_from(["chat", "chat_stream", "models"]),
                st.sampled_from(["200", "429", "503", "timeout", "error"]),
                st.floats(min_value=0, max_value=500, allow_nan=False),
            ),
            max_size=40,
        )
    )
    def test_counts_match_any_sequence_of_requests(self, calls: list[tuple[str, str, str, float]]) -> None:
        """Whatever the calls, each label set counts exactly its requests, and durations and 429s agree."""
        registry = CollectorRegistry()
        metrics = ClientMetrics(registry)
        for model, operation, status, seconds in calls:
            metrics.request(model, operation, status, seconds)
        by_labels = Counter((model, operation, status) for model, operation, status, _ in calls)
        for (model, operation, status), count in by_labels.items():
            assert value(registry, "groq_requests_total", model=model, operation=operation, status=status) == count
        by_pair = Counter((model, operation) for model, operation, _, _ in calls)
        for (model, operation), count in by_pair.items():
            assert value(registry, "groq_request_duration_seconds_count", model=model, operation=operation) == count
        for model, count in Counter(model for model, _, status, _ in calls if status == "429").items():
            assert value(registry, "groq_rate_limited_total", model=model) == count


def snapshot(remaining_rpm: int, remaining_tpm: int, *, paused_for: float = 0.0) -> BudgetSnapshot:
    return BudgetSnapshot(
        limits=ModelLimits(rpm=30, rpd=None, tpm=6000, tpd=None),
        remaining_requests_minute=remaining_rpm,
        remaining_requests_day=None,
        remaining_tokens_minute=remaining_tpm,
        remaining_tokens_day=None,
        reset_requests_minute=0.0,
        reset_requests_day=0.0,
        reset_tokens_minute=0.0,
        reset_tokens_day=0.0,
        paused_until=None,
        paused_for=paused_for,
    )


class FakeClient:
    """Just the introspection a collector reads."""

    def __init__(self, breaker: str, queued: int, limits: dict[str, BudgetSnapshot]) -> None:
        self._stats = SimpleNamespace(
            queued=queued, waiting_for_budget=queued, delayed_for_retry=1, in_flight=2, streams_open=0, breaker=breaker
        )
        self._limits = limits

    def statistics(self) -> Any:
        return self._stats

    def rate_limits(self) -> dict[str, BudgetSnapshot]:
        return self._limits


def samples(collector: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in collector.collect()
        for sample in family.samples
    }


class TestClientStateCollector:
    async def test_clients_are_summed_and_reduced_to_the_worst(self) -> None:
        """Queues add up over clients; the breaker and the headroom report the worst of them."""
        clients = [
            FakeClient("closed", 3, {MODEL: snapshot(10, 4000)}),
            FakeClient("half_open", 4, {MODEL: snapshot(20, 1000, paused_for=2.5), "other": snapshot(1, 1)}),
        ]
        found = samples(ClientStateCollector(clients))
        assert found[("groq_queue_depth", ())] == 7
        assert found[("groq_queue_waiting_for_budget", ())] == 7
        assert found[("groq_requests_in_flight", ())] == 4
        assert found[("groq_circuit_breaker_state", ())] == 1
        assert found[("groq_rate_limit_remaining", (("kind", "requests"), ("model", MODEL), ("window", "minute")))] == 10
        assert found[("groq_rate_limit_remaining", (("kind", "tokens"), ("model", MODEL), ("window", "minute")))] == 1000
        assert found[("groq_rate_limit_limit", (("kind", "tokens"), ("model", MODEL), ("window", "minute")))] == 6000
        assert found[("groq_rate_limit_pause_seconds", (("model", MODEL),))] == 2.5
        assert not any(labels == (("kind", "requests"), ("model", MODEL), ("window", "day")) for _, labels in found)

    async def test_itpm_and_otpm_are_exported_once_known(self) -> None:
        """An organization's input/output token windows show as their own kinds."""
        known = msgspec.structs.replace(
            snapshot(10, 4000),
            limits=ModelLimits(rpm=30, tpm=6000, itpm=5000, otpm=900),
            remaining_input_tokens_minute=4500,
            remaining_output_tokens_minute=800,
        )
        found = samples(ClientStateCollector([FakeClient("closed", 0, {MODEL: known})]))
        assert found[("groq_rate_limit_remaining", (("kind", "input_tokens"), ("model", MODEL), ("window", "minute")))] == 4500
        assert found[("groq_rate_limit_limit", (("kind", "output_tokens"), ("model", MODEL), ("window", "minute")))] == 900

    def test_outside_trio_nothing_is_read(self) -> None:
        """Scraped outside the clients' trio run, the collector yields nothing instead of failing."""
        assert list(ClientStateCollector([FakeClient("open", 1, {})]).collect()) == []

    async def test_registering_never_reads_a_client(self) -> None:
        """describe() names the families without touching the clients, so registering never reads one."""
        registry = CollectorRegistry(auto_describe=True)
        registry.register(ClientStateCollector([object()]))  # type: ignore[list-item]
        names = {family.name for family in ClientStateCollector([]).describe()}
        assert {"groq_queue_waiting_for_budget", "groq_rate_limit_remaining", "groq_circuit_breaker_state"} <= names


class TestTelemetryRegistry:
    def test_each_telemetry_has_a_private_registry(self) -> None:
        """Two Telemetry objects never collide, and neither touches the process-wide registry."""
        first, second = Telemetry(), Telemetry()
        assert first.registry is not second.registry
        assert not [family.name for family in prometheus_client.REGISTRY.collect() if family.name.startswith("groq_")]

    def test_a_second_telemetry_on_the_same_registry_is_refused_with_advice(self) -> None:
        """Sharing a registry between two Telemetry objects fails with a message saying what to do."""
        registry = CollectorRegistry()
        Telemetry(registry=registry)
        with pytest.raises(ValueError, match="one Telemetry per registry"):
            Telemetry(registry=registry)


class TestPublicUrl:
    @pytest.mark.parametrize(
        ("url", "public"),
        [
            ("https://user:hunter2@proxy.example:8443/openai/v1?token=abc#x", "https://proxy.example:8443/openai/v1"),
            ("https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1"),
            ("http://[::1]:9/openai/v1", "http://[::1]:9/openai/v1"),
        ],
    )
    def test_credentials_query_and_fragment_are_dropped(self, url: str, public: str) -> None:
        """Audit events name the endpoint without anything that could hold a credential."""
        assert public_url(url) == public
