"""The latency model: delays in virtual time, scaled by time_scale, reported truthfully in usage."""

from __future__ import annotations

import pytest
import trio

from orchestrator.emulator import EmulatorSettings
from orchestrator.emulator._latency import LatencyModel
from tests.emulator.conftest import MODEL, open_harness

BODY = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
SLOW = EmulatorSettings(
    latency="realistic", queue_time=0.5, time_to_first_token=0.25, tokens_per_second=100.0, completion_tokens=(50, 50)
)


async def test_non_streamed_takes_the_modelled_time(autojump_clock: trio.testing.MockClock) -> None:
    """50 tokens at 100/s after 0.5 s queue and 0.25 s to first token take 1.25 s, and usage says so."""
    async with open_harness("in-process", SLOW) as harness:
        start = trio.current_time()
        usage = (await harness.client.post("/chat/completions", json=BODY)).json()["usage"]
        elapsed = trio.current_time() - start
    assert elapsed == pytest.approx(1.25)
    assert (usage["queue_time"], usage["prompt_time"], usage["completion_time"], usage["total_time"]) == (0.5, 0.25, 0.5, 0.75)


async def test_time_scale_shrinks_delays_not_usage(autojump_clock: trio.testing.MockClock) -> None:
    """With time_scale=5 the same request takes 0.25 s of real time but reports the same usage timings."""
    settings = EmulatorSettings(
        latency="realistic", queue_time=0.5, time_to_first_token=0.25, tokens_per_second=100.0,
        completion_tokens=(50, 50), time_scale=5.0,
    )
    async with open_harness("in-process", settings) as harness:
        start = trio.current_time()
        usage = (await harness.client.post("/chat/completions", json=BODY)).json()["usage"]
        elapsed = trio.current_time() - start
    assert (elapsed, usage["total_time"]) == (pytest.approx(0.25), 0.75)


async def test_stream_is_paced_token_by_token(autojump_clock: trio.testing.MockClock) -> None:
    """The role chunk arrives after queue + first-token time, then one token every 10 ms."""
    async with open_harness("in-process", SLOW) as harness:
        start = trio.current_time()
        arrivals = []
        async with harness.client.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    arrivals.append(round(trio.current_time() - start, 6))
    assert arrivals[0] == 0.75 and arrivals[1] == 0.76 and arrivals[50] == 1.25
    assert arrivals[-1] == 1.25 and len(arrivals) == 53  # role, 50 tokens, finish chunk, [DONE]


async def test_instant_profile_takes_no_time(autojump_clock: trio.testing.MockClock) -> None:
    """The instant profile answers without any virtual time passing."""
    async with open_harness("in-process", EmulatorSettings()) as harness:
        start = trio.current_time()
        await harness.client.post("/chat/completions", json={**BODY, "stream": True})
    assert trio.current_time() == start


def test_profiles_and_knobs() -> None:
    """Knobs override the profile one by one; invalid knobs are refused by name."""
    assert EmulatorSettings(latency="realistic", tokens_per_second=50.0).latency_model() == LatencyModel(
        queue_time=0.03, time_to_first_token=0.12, tokens_per_second=50.0
    )
    with pytest.raises(ValueError, match="tokens_per_second=0"):
        EmulatorSettings(tokens_per_second=0.0)
    with pytest.raises(ValueError, match="queue_time=-1"):
        LatencyModel(queue_time=-1.0)


async def test_instant_streams_are_written_in_batches() -> None:
    """With no delays, SSE events go out in writes of about 16 KiB instead of one write per event."""
    settings = EmulatorSettings(completion_tokens=(1_000, 1_000))
    async with open_harness("in-process", settings) as harness:
        async with harness.client.stream("POST", "/chat/completions", json={**BODY, "stream": True}) as response:
            pieces = [piece async for piece in response.aiter_raw()]
    body = b"".join(pieces)
    assert body.count(b"data: ") == 1_003 and len(pieces) == -(-len(body) // (16 * 1024))
