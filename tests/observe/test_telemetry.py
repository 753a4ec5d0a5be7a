"""Telemetry end to end against the in-process emulator: metrics, spans and audit events (virtual time)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import structlog
import trio
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

import orchestrator
from orchestrator import Telemetry
from orchestrator.emulator import Emulator

from ..helpers import EMULATOR_URL, KEY, make_emulator, silent_wav, user

MODEL = "openai/gpt-oss-20b"
#: The emulator allows 2 requests a minute; the client is told 100, so the third request meets a 429.
TIGHT = {MODEL: (2, 14_400, 60_000, 500_000)}
LOOSE = {MODEL: orchestrator.ModelLimits(rpm=100)}


@asynccontextmanager
async def observed(emulator: Emulator, telemetry: Telemetry, **overrides: Any) -> AsyncIterator[orchestrator.Client]:
    """``telemetry.open_client`` talking to ``emulator`` in-process."""
    async with httpx.AsyncClient(transport=emulator.transport()) as http:
        async with telemetry.open_client(api_key=KEY, base_url=EMULATOR_URL, http_client=http, **overrides) as client:
            yield client


def sample(telemetry: Telemetry, name: str, **labels: str) -> float:
    """A sample's value, 0 when the series does not exist (yet)."""
    return telemetry.registry.get_sample_value(name, labels) or 0.0


def scrape(telemetry: Telemetry) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """What Prometheus would read now, parsed back from the text format."""
    text = generate_latest(telemetry.registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    """Where the spans of a test's TracerProvider end up."""
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    """A TracerProvider of the test's own (the global one is never touched)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def audit_events(captured: list[dict[str, Any]], event: str | None = None) -> list[dict[str, Any]]:
    return [entry for entry in captured if entry.get("audit") and (event is None or entry["event"] == event)]


class TestMetrics:
    async def test_calls_are_counted_by_model_operation_and_status(self, autojump_clock: trio.abc.Clock) -> None:
        """Chats, a stream, a models list and a transcription each count under their own operation, with tokens."""
        telemetry = Telemetry()
        prompt = completion = 0
        async with observed(make_emulator(), telemetry) as groq:
            for _ in range(2):
                reply = await groq.chat.completions.create(model=MODEL, messages=user("hi"), max_completion_tokens=20)
                prompt += reply.usage.prompt_tokens
                completion += reply.usage.completion_tokens
            async with await groq.chat.completions.create(model=MODEL, messages=user("go"), stream=True) as stream:
                async for _ in stream:
                    pass
            prompt += stream.usage.prompt_tokens
            completion += stream.usage.completion_tokens
            await groq.models.list()
            await groq.audio.transcriptions.create(model="whisper-large-v3-turbo", file=silent_wav())
        assert sample(telemetry, "groq_requests_total", model=MODEL, operation="chat", status="200") == 2
        assert sample(telemetry, "groq_requests_total", model=MODEL, operation="chat_stream", status="200") == 1
        assert sample(telemetry, "groq_requests_total", model="", operation="models", status="200") == 1
        assert sample(
            telemetry, "groq_requests_total", model="whisper-large-v3-turbo", operation="transcription", status="200"
        ) == 1
        assert sample(telemetry, "groq_request_duration_seconds_count", model=MODEL, operation="chat") == 2
        assert sample(telemetry, "groq_tokens_total", model=MODEL, type="prompt") == prompt
        assert sample(telemetry, "groq_tokens_total", model=MODEL, type="completion") == completion
        assert sample(telemetry, "groq_time_to_first_token_seconds_count", model=MODEL) == 1
        assert sample(telemetry, "groq_operations_total", model=MODEL, operation="chat", outcome="success") == 2

    async def test_429s_are_counted_retried_and_audited(self, autojump_clock: trio.abc.Clock) -> None:
        """A 429 counts as a request and a rate-limit hit, its retry by reason, and it is audited with its window."""
        telemetry = Telemetry()
        with structlog.testing.capture_logs() as captured:
            async with observed(make_emulator(limits=TIGHT), telemetry, limits=LOOSE) as groq:
                for _ in range(3):
                    await groq.chat.completions.create(model=MODEL, messages=user("hi"), max_completion_tokens=5)
        hits = sample(telemetry, "groq_rate_limited_total", model=MODEL)
        assert hits >= 1
        assert sample(telemetry, "groq_requests_total", model=MODEL, operation="chat", status="429") == hits
        assert sample(telemetry, "groq_retries_total", model=MODEL, reason="rate_limit") == hits
        assert sample(telemetry, "groq_operations_total", model=MODEL, operation="chat", outcome="success") == 3
        events = audit_events(captured, "rate_limit_hit")
        assert len(events) == hits
        assert events[0]["window"] == "RPM" and events[0]["model"] == MODEL and events[0]["retried"] is True
        assert events[0]["retry_after"] > 0 and events[0]["request_id"].startswith("req_")

    async def test_timeouts_and_broken_connections_have_their_own_status(self, autojump_clock: trio.abc.Clock) -> None:
        """A request without a response counts as status timeout or error, and as a retry for that reason."""
        telemetry = Telemetry()
        async with observed(make_emulator(queue_time=5.0), telemetry, timeout=1.0, max_retries=0) as groq:
            with pytest.raises(orchestrator.TimeoutError):
                await groq.chat.completions.create(model=MODEL, messages=user("hi"))
        async with observed(make_emulator(faults=["reset:every=2"]), telemetry) as groq:
            for _ in range(2):
                await groq.chat.completions.create(model=MODEL, messages=user("hi"))
        assert sample(telemetry, "groq_requests_total", model=MODEL, operation="chat", status="timeout") == 1
        assert sample(telemetry, "groq_operations_total", model=MODEL, operation="chat", outcome="timeout") == 1
        assert sample(telemetry, "groq_requests_total", model=MODEL, operation="chat", status="error") == 1
        assert sample(telemetry, "groq_retries_total", model=MODEL, reason="network") == 1

    async def test_gauges_read_the_client_at_scrape_time(self, autojump_clock: trio.abc.Clock) -> None:
        """Queue depth, jobs waiting for budget and headroom are what the client reports at that moment."""
        telemetry = Telemetry()
        tight = {MODEL: orchestrator.ModelLimits(rpm=2)}
        async with observed(make_emulator(limits=TIGHT), telemetry, limits=tight) as groq:
            handles = [
                await groq.submit({"model": MODEL, "messages": user(f"q{i}"), "max_completion_tokens": 5})
                for i in range(6)
            ]
            await trio.sleep(1)
            found = scrape(telemetry)
            stats = groq.statistics()
            headroom = groq.rate_limits()[MODEL]
            for handle in handles:
                await handle.result()
        assert stats.waiting_for_budget > 0
        assert found[("groq_queue_waiting_for_budget", frozenset())] == stats.waiting_for_budget
        assert found[("groq_queue_depth", frozenset())] == stats.queued
        assert found[("groq_circuit_breaker_state", frozenset())] == 0
        minute = frozenset({("model", MODEL), ("kind", "requests"), ("window", "minute")})
        assert found[("groq_rate_limit_remaining", minute)] == headroom.remaining_requests_minute
        assert found[("groq_rate_limit_limit", minute)] == 2
        tokens = frozenset({("model", MODEL), ("kind", "tokens"), ("window", "minute")})
        assert found[("groq_rate_limit_remaining", tokens)] == headroom.remaining_tokens_minute

    async def test_breaker_state_gauge_and_audit_follow_the_breaker(self, autojump_clock: trio.abc.Clock) -> None:
        """The breaker gauge reads 2 while open and 1 when half-open; each change is an audit event."""
        telemetry = Telemetry()
        breaker = orchestrator.BreakerConfig(failure_threshold=3, reset_timeout=30.0, when_open="fail")
        with structlog.testing.capture_logs() as captured:
            async with observed(
                make_emulator(faults=["503:burst=3"]), telemetry, max_retries=0, circuit_breaker_config=breaker
            ) as groq:
                for _ in range(3):
                    with pytest.raises(orchestrator.ServerError):
                        await groq.chat.completions.create(model=MODEL, messages=user("hi"))
                opened = scrape(telemetry)[("groq_circuit_breaker_state", frozenset())]
                with pytest.raises(orchestrator.CircuitOpenError):
                    await groq.chat.completions.create(model=MODEL, messages=user("hi"))
                await trio.sleep(30)
                half_open = scrape(telemetry)[("groq_circuit_breaker_state", frozenset())]
        assert (opened, half_open) == (2, 1)
        assert sample(telemetry, "groq_operations_total", model=MODEL, operation="chat", outcome="circuit_open") == 1
        changes = [(e["old"], e["new"]) for e in audit_events(captured, "breaker_state_changed")]
        assert changes == [("closed", "open"), ("open", "half_open")]


class TestSpans:
    async def test_a_chat_call_has_one_client_span_with_the_spec_attributes(
        self, autojump_clock: trio.abc.Clock, provider: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """One groq.chat span carries model, operation, tokens, request id, latency and HTTP status."""
        telemetry = Telemetry(tracer_provider=provider)
        async with observed(make_emulator(latency="realistic"), telemetry) as groq:
            handle = await groq.submit({"model": MODEL, "messages": user("hi"), "max_completion_tokens": 20})
            outcome = await handle.outcome()
        (span,) = exporter.get_finished_spans()
        usage = outcome.value.usage
        assert span.name == "groq.chat" and span.kind is SpanKind.CLIENT
        assert dict(span.attributes or {}) == {
            "groq.model": MODEL,
            "groq.operation": "chat",
            "groq.tokens.prompt": usage.prompt_tokens,
            "groq.tokens.completion": usage.completion_tokens,
            "groq.request_id": outcome.request_id,
            "groq.latency_ms": pytest.approx(span.attributes["groq.latency_ms"]),
            "groq.attempts": 1,
            "http.status_code": 200,
        }
        assert span.attributes["groq.latency_ms"] > 0
        assert span.status.status_code is StatusCode.UNSET

    async def test_the_span_nests_under_the_callers_current_span(
        self, autojump_clock: trio.abc.Clock, provider: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """A call made inside an application span becomes its child, in the same trace."""
        telemetry = Telemetry(tracer_provider=provider)
        async with observed(make_emulator(), telemetry) as groq:
            with provider.get_tracer("app").start_as_current_span("handle-request"):
                await groq.chat.completions.create(model=MODEL, messages=user("hi"))
        spans: dict[str, ReadableSpan] = {span.name: span for span in exporter.get_finished_spans()}
        parent, child = spans["handle-request"], spans["groq.chat"]
        assert child.parent is not None and child.parent.span_id == parent.context.span_id
        assert child.context.trace_id == parent.context.trace_id

    async def test_429s_and_retries_are_events_on_the_one_span(
        self, autojump_clock: trio.abc.Clock, provider: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """A call that met a 429 keeps one span, with a rate_limited event and a retry event naming the window."""
        telemetry = Telemetry(tracer_provider=provider)
        async with observed(make_emulator(limits=TIGHT), telemetry, limits=LOOSE) as groq:
            for _ in range(3):
                await groq.chat.completions.create(model=MODEL, messages=user("hi"), max_completion_tokens=5)
        spans = exporter.get_finished_spans()
        assert len(spans) == 3
        retried = [span for span in spans if span.attributes["groq.attempts"] > 1]
        assert retried, "no call met a 429"
        events = [(event.name, dict(event.attributes or {})) for event in retried[0].events]
        assert events[0] == ("rate_limited", {"attempt": 1, "http.status_code": 429})
        name, retry = events[1]
        assert name == "retry" and retry["error.type"] == "RateLimitError" and retry["groq.rate_limit.window"] == "RPM"
        assert retry["http.status_code"] == 429 and retry["retry_after_s"] > 0 and retry["delay_s"] > 0
        assert retried[0].attributes["http.status_code"] == 200

    async def test_a_failed_call_ends_its_span_with_an_error(
        self, autojump_clock: trio.abc.Clock, provider: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """A call that fails for good has an ERROR status, the exception recorded, and its retries as events."""
        telemetry = Telemetry(tracer_provider=provider)
        async with observed(make_emulator(faults=["500"]), telemetry, max_retries=1) as groq:
            with pytest.raises(orchestrator.ServerError):
                await groq.chat.completions.create(model=MODEL, messages=user("hi"))
        (span,) = exporter.get_finished_spans()
        assert span.status.status_code is StatusCode.ERROR and span.status.description == "ServerError"
        assert [event.name for event in span.events] == ["retry", "exception"]
        assert span.events[1].attributes["exception.type"].endswith("ServerError")
        assert span.attributes["http.status_code"] == 500 and span.attributes["groq.attempts"] == 2

    async def test_a_stream_span_covers_the_whole_stream(
        self, autojump_clock: trio.abc.Clock, provider: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """A streamed call's groq.chat_stream span stays open until the stream ends, and carries its tokens."""
        telemetry = Telemetry(tracer_provider=provider)
        async with observed(make_emulator(), telemetry) as groq:
            async with await groq.chat.completions.create(model=MODEL, messages=user("go"), stream=True) as stream:
                assert exporter.get_finished_spans() == ()
                async for _ in stream:
                    pass
            await trio.testing.wait_all_tasks_blocked()
        (span,) = exporter.get_finished_spans()
        assert span.attributes["groq.operation"] == "chat_stream" and span.attributes["http.status_code"] == 200
        assert span.attributes["groq.tokens.completion"] == stream.usage.completion_tokens
        assert span.status.status_code is not StatusCode.ERROR

    async def test_a_broken_stream_marks_its_span_failed(
        self, autojump_clock: trio.abc.Clock, provider: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """A stream cut mid-way ends its span with an error status naming StreamError."""
        telemetry = Telemetry(tracer_provider=provider)
        emulator = make_emulator(faults=["drop-mid-stream:chunks=3"], tokens_per_second=1e9)
        async with observed(emulator, telemetry) as groq:
            with pytest.raises(orchestrator.StreamError):
                async with await groq.chat.completions.create(model=MODEL, messages=user("go"), stream=True) as stream:
                    async for _ in stream:
                        pass
            await trio.testing.wait_all_tasks_blocked()
        (span,) = exporter.get_finished_spans()
        assert span.status.status_code is StatusCode.ERROR and span.status.description == "StreamError"


class TestAudit:
    async def test_opening_a_client_audits_its_configuration_without_secrets(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """client_configured names base URL, workers, limits and header names; no key or header value appears."""
        telemetry = Telemetry()
        with structlog.testing.capture_logs() as captured:
            async with observed(
                make_emulator(), telemetry, workers=7, limits=LOOSE, default_headers={"x-proxy-token": "hunter2-secret"}
            ):
                pass
        opened, closed = audit_events(captured)
        assert opened["event"] == "client_configured" and closed["event"] == "client_closed"
        assert opened["base_url"] == EMULATOR_URL and opened["workers"] == 7
        assert opened["limits"] == {MODEL: "100/-/-/-"} and opened["extra_headers"] == ["x-proxy-token"]
        assert opened["api_key_hint"] == KEY[-4:]
        assert KEY not in repr(captured) and "hunter2-secret" not in repr(captured)

    async def test_an_authentication_failure_names_the_key_hint_never_the_key(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """A 401 is audited with status, model, request id and the key's last four characters only."""
        telemetry = Telemetry()
        with structlog.testing.capture_logs() as captured:
            async with observed(make_emulator(api_keys=["gsk_the_right_one_0000"]), telemetry) as groq:
                with pytest.raises(orchestrator.AuthenticationError):
                    await groq.chat.completions.create(model=MODEL, messages=user("hi"))
        (failure,) = audit_events(captured, "authentication_failed")
        assert failure["status"] == 401 and failure["model"] == MODEL and failure["operation"] == "chat"
        assert failure["api_key_hint"] == KEY[-4:] and failure["request_id"].startswith("req_")
        assert failure["base_url"] == EMULATOR_URL
        assert KEY not in repr(captured)
        assert sample(telemetry, "groq_requests_total", model=MODEL, operation="chat", status="401") == 1
