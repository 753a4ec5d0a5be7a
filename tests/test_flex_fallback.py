"""``service_tier="flex"``: a 498 ``capacity_exceeded`` is retried with jitter within the retry budget, and with
``fallback_tiers`` the request is then sent again on the next tier (virtual time: no real sleeps)."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import trio

import orchestrator
from orchestrator import ChatResponse, ChatStream
from orchestrator._errors import CapacityExceededError, ValidationError
from orchestrator.emulator import Emulator

from .helpers import EMULATOR_URL, KEY, make_emulator, user

MODEL = "openai/gpt-oss-20b"


class FixedDraw(random.Random):
    """A jitter source whose every draw is ``value`` (so the backoff is exactly ``value`` x the un-jittered one)."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value
        self.draws = 0

    def random(self) -> float:
        self.draws += 1
        return self.value


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the emulator and keeps the ``service_tier`` of every chat body sent."""

    def __init__(self, emulator: Emulator) -> None:
        self.inner = emulator.transport()
        self.tiers: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/chat/completions"):
            self.tiers.append(json.loads(request.content).get("service_tier"))
        return await self.inner.handle_async_request(request)


@asynccontextmanager
async def flex_client(emulator: Emulator, **overrides: Any) -> AsyncIterator[tuple[orchestrator.Client, Recorder]]:
    recorder = Recorder(emulator)
    async with httpx.AsyncClient(transport=recorder) as http:
        async with orchestrator.open_client(
            http_client=http, api_key=KEY, base_url=EMULATOR_URL, **overrides
        ) as client:
            yield client, recorder


def request(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": user("Hello"), "max_completion_tokens": 100, "service_tier": "flex", **extra}


class TestRetries:
    async def test_a_498_is_retried_with_jitter_within_the_budget(self, autojump_clock: trio.abc.Clock) -> None:
        """Two 498s then a success: two retries, each waiting its jittered backoff (0.5 x 1 s, 0.5 x 2 s)."""
        emulator = make_emulator(faults=["498:burst=2"])
        jitter = FixedDraw(0.5)
        async with flex_client(emulator, max_retries=3, rng=jitter) as (groq, recorder):
            started = trio.current_time()
            reply = await groq.chat.completions.create(**request())
            elapsed = trio.current_time() - started
            retried = groq.statistics().retried
        assert isinstance(reply, ChatResponse) and reply.service_tier == "flex"
        assert (recorder.tiers, retried, jitter.draws) == (["flex"] * 3, 2, 2)
        assert elapsed == pytest.approx(1.5, abs=0.05)  # full jitter: without it the waits would be 1 s + 2 s

    async def test_past_the_budget_the_498_is_raised(self, autojump_clock: trio.abc.Clock) -> None:
        emulator = make_emulator(faults=["498:burst=10"])
        async with flex_client(emulator, max_retries=2) as (groq, recorder):
            with pytest.raises(CapacityExceededError) as caught:
                await groq.chat.completions.create(**request())
        assert caught.value.status == 498 and caught.value.code == "capacity_exceeded"
        assert recorder.tiers == ["flex"] * 3

    async def test_the_call_option_max_retries_is_the_budget(self, autojump_clock: trio.abc.Clock) -> None:
        emulator = make_emulator(faults=["498:burst=10"])
        async with flex_client(emulator, max_retries=3) as (groq, recorder):
            with pytest.raises(CapacityExceededError):
                await groq.chat.completions.create(max_retries=0, **request())
        assert recorder.tiers == ["flex"]


class TestFallback:
    async def test_spent_flex_attempts_fall_back_to_on_demand(self, autojump_clock: trio.abc.Clock) -> None:
        """Three flex attempts (1 + 2 retries) all 498: the fourth send is on_demand, and the reply says so."""
        emulator = make_emulator(faults=["498:burst=3"])
        async with flex_client(emulator, max_retries=2) as (groq, recorder):
            reply = await groq.chat.completions.create(fallback_tiers=["on_demand"], **request())
        assert isinstance(reply, ChatResponse) and reply.choices[0].message
        assert (recorder.tiers, reply.service_tier) == (["flex", "flex", "flex", "on_demand"], "on_demand")

    async def test_no_fallback_when_flex_answers(self, autojump_clock: trio.abc.Clock) -> None:
        emulator = make_emulator(faults=["498:burst=1"])
        async with flex_client(emulator, max_retries=2) as (groq, recorder):
            reply = await groq.chat.completions.create(fallback_tiers=["on_demand"], **request())
        assert (recorder.tiers, reply.service_tier) == (["flex", "flex"], "flex")  # type: ignore[union-attr]

    async def test_each_fallback_tier_in_turn_then_the_error(self, autojump_clock: trio.abc.Clock) -> None:
        emulator = make_emulator(faults=["498:burst=20"])
        async with flex_client(emulator, max_retries=0) as (groq, recorder):
            with pytest.raises(CapacityExceededError):
                await groq.chat.completions.create(fallback_tiers=["performance", "on_demand"], **request())
        assert recorder.tiers == ["flex", "performance", "on_demand"]

    async def test_a_stream_falls_back_too(self, autojump_clock: trio.abc.Clock) -> None:
        emulator = make_emulator(faults=["498:burst=2"])
        async with flex_client(emulator, max_retries=1) as (groq, recorder):
            stream = await groq.chat.completions.create(fallback_tiers=["on_demand"], **request(stream=True))
            assert isinstance(stream, ChatStream)
            async with stream:
                text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])
        assert text and recorder.tiers == ["flex", "flex", "on_demand"]

    async def test_submit_falls_back_when_the_handle_is_awaited(self, autojump_clock: trio.abc.Clock) -> None:
        emulator = make_emulator(faults=["498:burst=2"])
        async with flex_client(emulator, max_retries=1) as (groq, recorder):
            handle = await groq.submit(request(), key="k1", fallback_tiers=["on_demand"])
            reply = await handle.result()
            outcome = await handle.outcome()
        assert (reply.service_tier, handle.done, handle.key, outcome.value is reply) == ("on_demand", True, "k1", True)
        assert recorder.tiers == ["flex", "flex", "on_demand"]

    async def test_submit_without_fallback_keeps_the_498(self, autojump_clock: trio.abc.Clock) -> None:
        emulator = make_emulator(faults=["498:burst=5"])
        async with flex_client(emulator, max_retries=1) as (groq, recorder):
            handle = await groq.submit(request())
            with pytest.raises(CapacityExceededError):
                await handle.result()
        assert recorder.tiers == ["flex", "flex"]


class TestValidation:
    @pytest.mark.parametrize(
        ("fallback", "extra", "field", "rule"),
        [
            (["slow"], {}, "fallback_tiers[0]", "allowed_values"),
            ("on_demand", {}, "fallback_tiers", "type"),
            (["on_demand"], {"service_tier": "on_demand"}, "fallback_tiers", "fallback_needs_flex"),
            (["flex"], {}, "fallback_tiers[0]", "fallback_tier_repeated"),
        ],
    )
    async def test_bad_fallback_tiers_are_refused_before_sending(
        self, fallback: Any, extra: dict[str, Any], field: str, rule: str, autojump_clock: trio.abc.Clock
    ) -> None:
        emulator = make_emulator()
        async with flex_client(emulator) as (groq, recorder):
            with pytest.raises(ValidationError) as by_create:
                await groq.chat.completions.create(fallback_tiers=fallback, **request(**extra))
            with pytest.raises(ValidationError) as by_submit:
                await groq.submit(request(**extra), fallback_tiers=fallback)
        for caught in (by_create, by_submit):
            assert (caught.value.field, caught.value.rule) == (field, rule)
            assert field in str(caught.value) and repr(caught.value.value) in str(caught.value)
        assert recorder.tiers == []
