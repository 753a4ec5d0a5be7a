"""Volume, faults and the breaker: the orchestrator's promises under load (in-process, virtual time)."""

from __future__ import annotations

from collections import Counter

import pytest
import trio

import orchestrator

from .helpers import client_for, make_emulator, user

MODEL = "openai/gpt-oss-20b"


def jobs(count: int, model: str = MODEL, max_tokens: int = 40):
    """(key, request) pairs, generated lazily."""
    for index in range(count):
        yield index, {"model": model, "messages": user(f"Question number {index}"), "max_completion_tokens": max_tokens}


class TestVolume:
    async def test_two_thousand_jobs_complete_once_with_few_429s(self, autojump_clock: trio.abc.Clock) -> None:
        """2,000 jobs under time-scaled free-tier limits: all answered once, 429s at most 1 % of requests."""
        emulator = make_emulator(time_scale=60.0)
        keys: Counter[int] = Counter()
        with trio.fail_after(24 * 3600):
            async with client_for(emulator, time_scale=60.0, workers=64, queue_size=2000) as groq:
                # gpt-oss reasons before it answers: 200 tokens leave room for both.
                async with groq.map(jobs(2000, max_tokens=200), max_in_flight=2000) as results:
                    async for result in results:
                        assert result.error is None, result.error
                        assert result.response.choices[0].message.content
                        keys[result.key] += 1
        stats = emulator.stats()
        assert set(keys) == set(range(2000)) and set(keys.values()) == {1}
        assert stats.rate_limited <= 0.01 * stats.requests, stats

    async def test_map_turns_bad_requests_into_error_results(self, autojump_clock: trio.abc.Clock) -> None:
        """A malformed request in a map comes back as a ValidationError result; the others succeed."""
        items = [
            ("good", {"model": MODEL, "messages": user("hi")}),
            ("bad", {"model": MODEL, "messages": []}),
            ("typo", {"model": MODEL, "messages": user("hi"), "temprature": 1}),
        ]
        async with client_for(make_emulator()) as groq:
            async with groq.map(items) as results:
                outcomes = {result.key: result async for result in results}
        assert outcomes["good"].ok and outcomes["good"].attempts == 1
        assert isinstance(outcomes["bad"].error, orchestrator.ValidationError)
        assert outcomes["bad"].error.field == "messages"
        assert isinstance(outcomes["typo"].error, orchestrator.ValidationError)
        assert outcomes["typo"].error.field == "temprature"

    async def test_an_error_in_the_items_reaches_the_caller_as_itself(self, autojump_clock: trio.abc.Clock) -> None:
        """If the caller's item iterator fails, map raises that error, not an ExceptionGroup."""

        def broken():
            yield 0, {"model": MODEL, "messages": user("hi")}
            raise KeyError("input file vanished")

        async with client_for(make_emulator()) as groq:
            with pytest.raises(KeyError, match="vanished"):
                async with groq.map(broken()) as results:
                    async for _ in results:
                        pass

    async def test_map_memory_is_bounded_by_max_in_flight(self, autojump_clock: trio.abc.Clock) -> None:
        """A slow consumer never has more than max_in_flight jobs alive in the client."""
        peak = 0
        async with client_for(make_emulator()) as groq:
            async with groq.map(jobs(200), max_in_flight=8) as results:
                async for _ in results:
                    stats = groq.statistics()
                    peak = max(peak, stats.queued + stats.in_flight + stats.delayed_for_retry)
                    await trio.sleep(1)
        assert 0 < peak <= 8


class TestFaults:
    async def test_server_error_bursts_are_retried(self, autojump_clock: trio.abc.Clock) -> None:
        """A burst of 503s is absorbed by retries: every job succeeds, some needed several attempts."""
        emulator = make_emulator(faults=["503:burst=6"])
        async with client_for(emulator, max_retries=5) as groq:
            async with groq.map(jobs(10)) as results:
                outcomes = [result async for result in results]
        assert all(result.ok for result in outcomes)
        assert sum(result.attempts for result in outcomes) == 10 + 6
        assert emulator.stats().responses_by_status.get(503) == 6

    async def test_connection_resets_are_retried(self, autojump_clock: trio.abc.Clock) -> None:
        """Connections reset before any response are network errors, retried to success."""
        emulator = make_emulator(faults=["reset:every=3"])
        async with client_for(emulator) as groq:
            async with groq.map(jobs(12)) as results:
                outcomes = [result async for result in results]
        assert all(result.ok for result in outcomes)
        assert emulator.stats().faults_injected.get("reset", 0) >= 4

    async def test_retries_exhausted_surface_the_last_error(self, autojump_clock: trio.abc.Clock) -> None:
        """When every attempt fails, the job fails with ServerError after 1 + max_retries attempts."""
        emulator = make_emulator(faults=["500"])
        async with client_for(emulator, max_retries=2) as groq:
            with pytest.raises(orchestrator.ServerError) as caught:
                await groq.chat.completions.create(model=MODEL, messages=user("hi"))
        assert caught.value.status == 500
        assert emulator.stats().requests == 3

    async def test_a_stream_dropped_midway_raises_stream_error_with_partial_content(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """A connection cut mid-stream raises StreamError carrying the text received so far."""
        emulator = make_emulator(faults=["drop-mid-stream:chunks=4"], tokens_per_chunk=1)
        received = []
        async with client_for(emulator) as groq:
            with pytest.raises(orchestrator.StreamError) as caught:
                async with await groq.chat.completions.create(
                    model=MODEL, messages=user("long story"), max_completion_tokens=100, stream=True,
                    reasoning_format="hidden",  # no reasoning deltas: the first chunks carry the answer's text
                ) as stream:
                    async for chunk in stream:
                        if chunk.choices and chunk.choices[0].delta.content:
                            received.append(chunk.choices[0].delta.content)
        assert received and caught.value.partial_content == "".join(received)

    async def test_malformed_sse_raises_stream_error(self, autojump_clock: trio.abc.Clock) -> None:
        """An event with invalid JSON ends the stream with StreamError, not a crash."""
        emulator = make_emulator(faults=["malformed-sse:chunk=2"])
        async with client_for(emulator) as groq:
            with pytest.raises(orchestrator.StreamError, match="malformed"):
                async with await groq.chat.completions.create(
                    model=MODEL, messages=user("hi"), stream=True
                ) as stream:
                    async for _ in stream:
                        pass


class TestBreaker:
    async def test_breaker_opens_fails_fast_and_recovers(self, autojump_clock: trio.abc.Clock) -> None:
        """Five straight failures open the breaker; jobs then fail fast; after 30 s probes close it again."""
        emulator = make_emulator(faults=["503:burst=5"])
        breaker = orchestrator.BreakerConfig(failure_threshold=5, success_threshold=3, reset_timeout=30.0, when_open="fail")
        async with client_for(emulator, max_retries=0, circuit_breaker_config=breaker) as groq:
            for _ in range(5):
                with pytest.raises(orchestrator.ServerError):
                    await groq.chat.completions.create(model=MODEL, messages=user("hi"))
            assert groq.statistics().breaker == "open"
            with pytest.raises(orchestrator.CircuitOpenError) as caught:
                await groq.chat.completions.create(model=MODEL, messages=user("hi"))
            assert caught.value.retry_after == pytest.approx(30.0, abs=1.0)
            assert emulator.stats().requests == 5  # failing fast sent nothing
            await trio.sleep(30)
            for _ in range(3):
                await groq.chat.completions.create(model=MODEL, messages=user("hi"))
            assert groq.statistics().breaker == "closed"

    async def test_breaker_in_wait_mode_holds_jobs_until_recovery(self, autojump_clock: trio.abc.Clock) -> None:
        """With when_open='wait', a job submitted while open waits for the half-open probe and succeeds."""
        emulator = make_emulator(faults=["503:burst=5"])
        breaker = orchestrator.BreakerConfig(failure_threshold=5, reset_timeout=30.0, when_open="wait")
        async with client_for(emulator, max_retries=0, circuit_breaker_config=breaker) as groq:
            for _ in range(5):
                with pytest.raises(orchestrator.ServerError):
                    await groq.chat.completions.create(model=MODEL, messages=user("hi"))
            started = trio.current_time()
            reply = await groq.chat.completions.create(model=MODEL, messages=user("hi"))
            assert reply.choices[0].message.content
            assert trio.current_time() - started == pytest.approx(30.0, abs=1.0)
