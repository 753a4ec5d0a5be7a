"""Injected faults as a client sees them, in-process and over real HTTP."""

from __future__ import annotations

import groq
import httpx
import msgspec
import pytest
import trio

from orchestrator.emulator import EmulatorSettings
from tests.emulator.conftest import Harness, chat, open_harness


async def statuses(harness: Harness, count: int, body: dict[str, object] | None = None) -> list[int]:
    return [(await harness.client.post("/chat/completions", json=body or chat())).status_code for _ in range(count)]


class TestStatusFaults:
    @pytest.fixture
    def settings(self) -> EmulatorSettings:
        """A burst of two 500s after the first request, and a 503 on every 4th."""
        return EmulatorSettings(faults=["500:burst=2,after=1", "503:every=4"])

    async def test_burst_and_every(self, harness: Harness) -> None:
        """Requests 2-3 get 500, request 4 gets 503, the rest succeed; stats count each kind."""
        assert await statuses(harness, 6) == [200, 500, 500, 503, 200, 200]
        stats = harness.emulator.stats()
        assert (stats.faults_injected, stats.responses_by_status) == ({"500": 2, "503": 1}, {200: 3, 500: 2, 503: 1})

    async def test_error_body_and_sdk_exception(self, harness: Harness) -> None:
        """A 500 has Groq's error body and rate-limit headers; the SDK raises InternalServerError."""
        await harness.client.post("/chat/completions", json=chat())
        response = await harness.client.post("/chat/completions", json=chat())
        assert response.json()["error"]["type"] == "internal_server_error"
        assert "x-ratelimit-remaining-tokens" in response.headers
        async with harness.sdk() as sdk:
            with pytest.raises(groq.InternalServerError):
                await sdk.chat.completions.create(**chat())


async def test_capacity_exceeded_498(transport_kind: str) -> None:
    """The 498 fault answers flex-tier capacity exceeded."""
    async with open_harness(transport_kind, EmulatorSettings(faults=["498"])) as harness:
        response = await harness.client.post("/chat/completions", json=chat())
    assert (response.status_code, response.json()["error"]["code"]) == (498, "capacity_exceeded")


async def test_model_filter(transport_kind: str) -> None:
    """A fault limited to one model leaves the others alone."""
    settings = EmulatorSettings(faults=["502:model=openai/gpt-oss-120b"])
    async with open_harness(transport_kind, settings) as harness:
        other = await statuses(harness, 1)
        hit = await statuses(harness, 1, {**chat(), "model": "openai/gpt-oss-120b"})
    assert (other, hit) == ([200], [502])


async def test_reset_before_response(transport_kind: str) -> None:
    """A reset closes the connection with no response: httpx raises RemoteProtocolError, the SDK a connection error."""
    async with open_harness(transport_kind, EmulatorSettings(faults=["reset:every=2"])) as harness:
        assert await statuses(harness, 1) == [200]
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            await harness.client.post("/chat/completions", json=chat())
        async with harness.sdk() as sdk:
            await sdk.chat.completions.create(**chat())
            with pytest.raises(groq.APIConnectionError):
                await sdk.chat.completions.create(**chat())
        stats = harness.emulator.stats()
    assert (stats.faults_injected, stats.responses_by_status) == ({"reset": 2}, {200: 2})


async def test_drop_mid_stream(transport_kind: str) -> None:
    """drop-mid-stream sends the first events then cuts the connection; it is not counted as a client disconnect."""
    async with open_harness(transport_kind, EmulatorSettings(faults=["drop-mid-stream:chunks=3"])) as harness:
        received = []
        with pytest.raises(httpx.RemoteProtocolError):
            async with harness.client.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        received.append(line)
        stats = harness.emulator.stats()
    assert len(received) == 3
    assert (stats.streams_started, stats.streams_completed, stats.streams_disconnected) == (1, 0, 0)


async def test_drop_mid_body(transport_kind: str) -> None:
    """A non-streamed body is cut in half: reading it fails."""
    async with open_harness(transport_kind, EmulatorSettings(faults=["drop-mid-stream"])) as harness:
        with pytest.raises(httpx.RemoteProtocolError):
            await harness.client.post("/chat/completions", json=chat())


async def test_malformed_sse(transport_kind: str) -> None:
    """malformed-sse corrupts exactly one event's JSON; the stream then goes on to [DONE]."""
    async with open_harness(transport_kind, EmulatorSettings(faults=["malformed-sse:chunk=3"])) as harness:
        async with harness.client.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            payloads = [line[6:] async for line in response.aiter_lines() if line.startswith("data: ")]
    bad = []
    for index, payload in enumerate(payloads[:-1]):
        try:
            msgspec.json.decode(payload)
        except msgspec.DecodeError:
            bad.append(index)
    assert bad == [2] and payloads[-1] == "[DONE]"


async def test_malformed_sse_leaves_plain_requests_alone() -> None:
    """A non-streamed request is never hit (or counted) by malformed-sse."""
    async with open_harness("in-process", EmulatorSettings(faults=["malformed-sse"])) as harness:
        response = await harness.client.post("/chat/completions", json=chat())
    assert (response.status_code, harness.emulator.stats().faults_injected) == (200, {})


async def test_slow_drip(autojump_clock: trio.testing.MockClock) -> None:
    """slow sends the body at the given byte rate: 100 bytes/s takes len(body)/100 seconds."""
    async with open_harness("in-process", EmulatorSettings(faults=["slow:bytes_per_s=100"])) as harness:
        start = trio.current_time()
        response = await harness.client.post("/chat/completions", json=chat())
        elapsed = trio.current_time() - start
    assert response.status_code == 200 and elapsed == pytest.approx(len(response.content) / 100)


async def test_time_window(autojump_clock: trio.testing.MockClock) -> None:
    """A fault with from/to fires only inside that window of emulated time."""
    async with open_harness("in-process", EmulatorSettings(faults=["503:from=10s,to=20s"])) as harness:
        seen = []
        for _ in range(3):
            seen += await statuses(harness, 1)
            await trio.sleep(10.0)
    assert seen == [200, 503, 200]


async def test_same_seed_same_faults() -> None:
    """Probabilistic faults repeat exactly with the same seed."""
    runs = []
    for _ in range(2):
        async with open_harness("in-process", EmulatorSettings(seed=3, faults=["503:p=0.3"])) as harness:
            runs.append(await statuses(harness, 30))
    assert runs[0] == runs[1] and 503 in runs[0] and 200 in runs[0]
