"""A Developer-tier account, told nothing about its limits: the client must use them, not the free tier's (virtual time)."""

from __future__ import annotations

import math

import trio

from actors._budget import RateBudget
from orchestrator._account_limits import recognised_limits, starting_limits
from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._config import Config

from .helpers import client_for, make_emulator, user

MODEL = "openai/gpt-oss-20b"
#: Groq's Developer plan for gpt-oss-20b (orchestrator._tiers): RPM, RPD, TPM, TPD.
DEVELOPER = (1000, 500_000, 250_000, 100_000_000)
SCALE = 60.0  # one emulated minute per second


def jobs(count: int, max_tokens: int = 40):
    for index in range(count):
        yield index, {"model": MODEL, "messages": user(f"Question number {index}"), "max_completion_tokens": max_tokens}


async def run(count: int, *, max_tokens: int = 40, **emulator_settings: object) -> tuple[float, object, object]:
    """Run ``count`` jobs through a client given no limits; (emulated minutes taken, emulator stats, snapshot)."""
    emulator = make_emulator(time_scale=SCALE, limits={MODEL: DEVELOPER}, **emulator_settings)
    async with client_for(emulator, time_scale=SCALE, workers=64, queue_size=4096) as groq:
        started = trio.current_time()
        async with groq.map(jobs(count, max_tokens), max_in_flight=4096) as results:
            async for result in results:
                assert result.error is None, result.error
        minutes = (trio.current_time() - started) * SCALE / 60
        snapshot = groq.rate_limits()[MODEL]
    return minutes, emulator.stats(), snapshot


class TestDeveloperTierUntold:
    async def test_uses_at_least_90_percent_of_the_request_rate_with_under_1_percent_429s(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """3,000 small jobs against 1,000 RPM: a sliding minute admits 1,000 at once, so two minutes is the best
        possible; the free tier's 30 RPM would take 100."""
        minutes, stats, snapshot = await run(3000)
        best = math.ceil(3000 / DEVELOPER[0]) - 1
        assert minutes <= best / 0.9, minutes
        assert stats.rate_limited < 0.01 * stats.requests, stats
        assert snapshot.tier == "developer" and snapshot.limits.rpm == 1000
        assert snapshot.sources.rpm == "tier" and snapshot.sources.tpm == "headers"

    async def test_a_batch_past_the_free_tiers_daily_tokens_is_not_parked(self, autojump_clock: trio.abc.Clock) -> None:
        """600 jobs of about 1,000 tokens: 600K tokens, three times the free tier's 200K TPD, done in minutes."""
        minutes, stats, snapshot = await run(600, max_tokens=1000, completion_tokens=(1000, 1000))
        assert stats.rate_limited < 0.01 * stats.requests, stats
        assert minutes < 10, minutes
        assert snapshot.limits.tpd == DEVELOPER[3]


class TestUnpublishedPlan:
    async def test_an_unknown_rpm_is_probed_and_the_first_429_teaches_it(self, autojump_clock: trio.abc.Clock) -> None:
        """Limits no published table has (2,000 RPM): RPM is probed upward from the free tier's 30, one 429 body
        states the limit, and the run then goes at it: 6,000 jobs in the best possible two minutes."""
        emulator = make_emulator(time_scale=SCALE, limits={MODEL: (2000, 2_000_000, 1_000_000, 500_000_000)})
        async with client_for(emulator, time_scale=SCALE, workers=64, queue_size=8192) as groq:
            started = trio.current_time()
            async with groq.map(jobs(6000), max_in_flight=8192) as results:
                async for result in results:
                    assert result.error is None, result.error
            minutes = (trio.current_time() - started) * SCALE / 60
            snapshot = groq.rate_limits()[MODEL]
        stats = emulator.stats()
        assert (snapshot.limits.rpm, snapshot.sources.rpm) == (2000, "rate-limit")
        assert snapshot.tier is None and snapshot.sources.tpd == "probe"
        assert 1 <= stats.rate_limited < 0.01 * stats.requests, stats
        assert minutes <= 2 / 0.9, minutes


class TestTenMillionTokens:
    def test_a_ten_million_token_batch_flows_at_the_developer_tpm(self) -> None:
        """The budget alone on a virtual clock: 10M tokens in 2,000-token requests on a Developer account
        recognised from its headers take about 40 minutes (250K TPM), never a day's pause after 200K."""
        config = Config(api_key="gsk_test_ten_million")
        budget = RateBudget(
            starting_limits(config, DEFAULT_CATALOG, MODEL),
            0.0,
            recognise=lambda rpd, tpm: recognised_limits(config, DEFAULT_CATALOG, MODEL, rpd, tpm),
        )
        now, sent, longest_wait = 0.0, 0, 0.0
        headers = {"x-ratelimit-limit-requests": str(DEVELOPER[1]), "x-ratelimit-limit-tokens": str(DEVELOPER[2])}
        while sent < 10_000_000:
            wait = budget.try_acquire(2000, now, 1000)
            if wait:
                longest_wait = max(longest_wait, wait)
                now += wait
                continue
            budget.confirm(2000, now, 1000)
            budget.observe_headers(headers, now)
            budget.reconcile(2000, 2000, now, estimated_output=1000, actual_output=1000)
            sent += 2000
        assert longest_wait <= 60.0
        assert now / 60 <= 10_000_000 / DEVELOPER[2] + 1
