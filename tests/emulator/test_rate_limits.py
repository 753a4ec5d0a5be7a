"""Groq-style rate limits end to end: headers, 429 and 413 bodies, time scale, recovery (in-process, virtual time)."""

from __future__ import annotations

import groq
import pytest
import trio

from orchestrator._errors import RateLimitError, RequestTooLargeError, error_from_response
from orchestrator.emulator import EmulatorSettings
from tests.emulator.conftest import MODEL, open_harness

# Prompt "hi" costs 5 tokens (4 per message + 1); with max_completion_tokens=100 and natural length 200 each request is
# charged exactly 105 tokens at admission and uses exactly 105.
SCALED = EmulatorSettings(time_scale=60.0, limits={MODEL: (1_000, 100_000, 600, 1_000_000)}, completion_tokens=(200, 200))
BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 100}


def limits_of(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {k: v for k, v in response.headers.items() if k.startswith("x-ratelimit-") or k == "retry-after"}


async def test_tpm_counts_down_then_429_then_recovers(autojump_clock: trio.testing.MockClock) -> None:
    """Remaining tokens fall by 105 per request, the 6th gets a 429 with a scaled retry-after, and a wait restores it."""
    async with open_harness("in-process", SCALED) as harness:
        remaining = []
        for _ in range(5):
            response = await harness.client.post("/chat/completions", json=BODY)
            assert response.status_code == 200
            remaining.append(int(response.headers["x-ratelimit-remaining-tokens"]))
        assert remaining == [495, 390, 285, 180, 75]
        assert limits_of(response) == {
            "x-ratelimit-limit-requests": "100000",
            "x-ratelimit-limit-tokens": "600",
            "x-ratelimit-remaining-requests": "99995",
            "x-ratelimit-remaining-tokens": "75",
            "x-ratelimit-reset-requests": "72ms",  # 5 requests at 100,000/day = 4.32 s emulated, /60
            "x-ratelimit-reset-tokens": "875ms",  # 525 tokens at 10/s emulated = 52.5 s, /60
        }
        refused = await harness.client.post("/chat/completions", json=BODY)
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
        assert refused.json() == {
            "error": {
                "message": "Rate limit reached for model `openai/gpt-oss-20b` in organization `org_emulator` service tier "
                "`on_demand` on tokens per minute (TPM): Limit 600, Used 525, Requested 105. Please try again in 50ms. "
                "Visit https://console.groq.com/docs/rate-limits for more information.",
                "type": "tokens",
                "code": "rate_limit_exceeded",
            }
        }
        await trio.sleep(0.05)  # 3 emulated seconds: exactly the 30 missing tokens
        assert (await harness.client.post("/chat/completions", json=BODY)).status_code == 200
        await trio.sleep(1.0)  # a whole emulated minute
        after = await harness.client.post("/chat/completions", json=BODY)
        assert after.headers["x-ratelimit-remaining-tokens"] == "495"
        assert harness.emulator.stats().rate_limited == 1


async def test_our_error_mapping_reads_the_429(autojump_clock: trio.testing.MockClock) -> None:
    """error_from_response turns the emulator's 429 into a RateLimitError for TPM with its retry-after."""
    async with open_harness("in-process", SCALED) as harness:
        for _ in range(5):
            await harness.client.post("/chat/completions", json=BODY)
        refused = await harness.client.post("/chat/completions", json=BODY)
    error = error_from_response(refused.status_code, refused.headers, refused.content)
    assert isinstance(error, RateLimitError)
    assert (error.window, error.limit_type, error.retry_after) == ("TPM", "tokens", 1.0)


async def test_rpm_limit_names_requests(autojump_clock: trio.testing.MockClock) -> None:
    """The third request against 2 RPM is refused on requests per minute, to retry in 30 s."""
    settings = EmulatorSettings(limits={MODEL: (2, 1_000, 100_000, 1_000_000)})
    async with open_harness("in-process", settings) as harness:
        statuses = [(await harness.client.post("/chat/completions", json=BODY)).status_code for _ in range(3)]
        refused = await harness.client.post("/chat/completions", json=BODY)
    assert statuses == [200, 200, 429]
    error = refused.json()["error"]
    assert (error["type"], refused.headers["retry-after"]) == ("requests", "30")
    assert "on requests per minute (RPM): Limit 2, Used 2, Requested 1. Please try again in 30s." in error["message"]


async def test_request_over_tpm_is_413(autojump_clock: trio.testing.MockClock) -> None:
    """A request whose prompt plus budget exceeds TPM on its own gets Groq's 413 (never a 429)."""
    async with open_harness("in-process", SCALED) as harness:
        response = await harness.client.post("/chat/completions", json={**BODY, "max_completion_tokens": 1_000})
    assert response.status_code == 413
    assert response.json()["error"] == {
        "message": "Request too large for model `openai/gpt-oss-20b` in organization `org_emulator` service tier "
        "`on_demand` on tokens per minute (TPM): Limit 600, Requested 1005, please reduce your message size and try "
        "again. Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing",
        "type": "tokens",
        "code": "rate_limit_exceeded",
    }
    assert isinstance(error_from_response(413, response.headers, response.content), RequestTooLargeError)
    assert response.headers["x-ratelimit-remaining-tokens"] == "600"


async def test_unused_budget_is_given_back(autojump_clock: trio.testing.MockClock) -> None:
    """A request charged 5 + 1000 tokens that stops naturally after 20 is reconciled to 25."""
    settings = EmulatorSettings(limits={MODEL: (100, 1_000, 100_000, 1_000_000)}, completion_tokens=(20, 20))
    async with open_harness("in-process", settings) as harness:
        await harness.client.post("/chat/completions", json={**BODY, "max_completion_tokens": 1_000})
        probe = await harness.client.post("/chat/completions", json={**BODY, "max_completion_tokens": 1})
    assert probe.headers["x-ratelimit-remaining-tokens"] == str(100_000 - 25 - 6)


async def test_keys_are_limited_separately(autojump_clock: trio.testing.MockClock) -> None:
    """Another API key has its own budget."""
    settings = EmulatorSettings(limits={MODEL: (1, 1_000, 100_000, 1_000_000)})
    async with open_harness("in-process", settings) as harness:
        await harness.client.post("/chat/completions", json=BODY)
        same = await harness.client.post("/chat/completions", json=BODY)
        other = await harness.client.post("/chat/completions", json=BODY, headers={"authorization": "Bearer gsk_other"})
    assert (same.status_code, other.status_code) == (429, 200)


async def test_400_carries_headers_but_is_not_charged(autojump_clock: trio.testing.MockClock) -> None:
    """A request refused by validation carries the rate-limit headers and spends nothing."""
    async with open_harness("in-process", SCALED) as harness:
        bad = await harness.client.post("/chat/completions", json={**BODY, "temperature": 5})
    assert (bad.status_code, bad.headers["x-ratelimit-remaining-tokens"]) == (400, "600")


async def test_streamed_disconnect_reconciles_tokens(autojump_clock: trio.testing.MockClock) -> None:
    """A stream closed after a few chunks is charged the prompt plus the tokens generated so far."""
    # Nearly instant but paced (not the instant profile, whose events are written in batches).
    settings = EmulatorSettings(
        latency="realistic", queue_time=0.0, time_to_first_token=0.0, tokens_per_second=1e9,
        limits={MODEL: (100, 1_000, 100_000, 1_000_000)}, completion_tokens=(200, 200),
    )
    async with open_harness("in-process", settings) as harness:
        async with harness.client.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as response:
            lines = response.aiter_lines()
            seen = 0
            async for line in lines:
                seen += line.startswith("data: ")
                if seen == 4:
                    break
        probe = await harness.client.post("/chat/completions", json={**BODY, "max_completion_tokens": 1})
        stats = harness.emulator.stats()
    # role chunk + 3 one-token chunks: 5 prompt + 3 generated tokens; the probe charges 5 + 1 more.
    assert probe.headers["x-ratelimit-remaining-tokens"] == str(100_000 - 8 - 6)
    assert (stats.streams_started, stats.streams_disconnected, stats.streams_completed) == (1, 1, 0)


async def test_sdk_raises_rate_limit_error(autojump_clock: trio.testing.MockClock) -> None:
    """The official SDK raises RateLimitError on the emulator's 429 and APIStatusError(413) on a request over TPM."""
    async with open_harness("in-process", SCALED) as harness:
        async with harness.sdk() as sdk:
            for _ in range(5):
                await sdk.chat.completions.create(**BODY)
            with pytest.raises(groq.RateLimitError):
                await sdk.chat.completions.create(**BODY)
            with pytest.raises(groq.APIStatusError) as too_large:
                await sdk.chat.completions.create(**{**BODY, "max_completion_tokens": 5_000})
    assert too_large.value.status_code == 413
