"""The product's adapters for the engine's ports: what an error means for scheduling."""

from __future__ import annotations

import pytest

from orchestrator._engine import ProductFailures
from orchestrator._errors import error_from_response

RATE_LIMITED = (
    b'{"error":{"message":"Rate limit reached for model `openai/gpt-oss-20b` in organization `org_x` service tier '
    b'`on_demand` on requests per minute (RPM): Limit 30, Used 30, Requested 1. Please try again in 2s.",'
    b'"type":"requests","code":"rate_limit_exceeded"}}'
)


def test_a_429_is_rate_limited_with_its_window_limit_and_wait() -> None:
    error = error_from_response(429, {"retry-after": "2"}, RATE_LIMITED)
    verdict = ProductFailures().verdict(error)
    assert (verdict.kind, verdict.retryable, verdict.window, verdict.limit) == ("rate_limited", True, "RPM", 30)
    assert verdict.retry_after == pytest.approx(2.0)


def test_the_wait_is_told_in_the_engines_seconds_when_the_server_runs_faster() -> None:
    """The emulator at time_scale 60 says "retry after 2 s" of its own time: 1/30 s of ours."""
    error = error_from_response(429, {"retry-after": "2"}, RATE_LIMITED)
    assert ProductFailures(time_scale=60.0).verdict(error).retry_after == pytest.approx(2 / 60)
