"""Issue 14: the budget keeps what the server gives back, and a first wave never outruns an unconfirmed limit."""

from __future__ import annotations

import math

import httpx
import trio
import trio.testing

import orchestrator

from actors._budget import LimitSources, ModelLimits, RateBudget, StartingLimits
from orchestrator import Config, ModelLimits as PublicModelLimits
from orchestrator._account_limits import starting_limits
from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._config import RateLimitConfig
from tests.helpers import EMULATOR_URL, KEY, client_for, make_emulator, user

MODEL = "openai/gpt-oss-20b"
ABSURD = PublicModelLimits(rpm=10**6, rpd=10**9, tpm=10**9, tpd=10**12)
#: What a job of ``generous-caps`` reserves: a prompt and a 2,048-token completion budget.
RESERVATION = 2_440


class TestTheGiveBackIsKept:
    async def test_a_response_leaves_the_budget_at_what_the_job_used(self, mock_clock: trio.testing.MockClock) -> None:
        """The headers show the server's bucket right after admission, before it gave back the unused budget.

        Lowering to them after our own give-back kept the whole 2,048-token reservation out: every response of a
        generous-caps run threw its give-back away, and the run sat ~2,300 tokens under the server's level.
        The clock stands still, so no refill blurs the number.
        """
        async with client_for(make_emulator()) as client:
            response = await client.chat.completions.create(
                model=MODEL, messages=user("Name one colour."), max_completion_tokens=2048
            )
            used = response.usage.prompt_tokens + response.usage.completion_tokens
            assert used < 200
            assert client.rate_limits()[MODEL].remaining_tokens_minute == 8_000 - used

    async def test_a_stream_leaves_the_budget_at_what_it_used(self, mock_clock: trio.testing.MockClock) -> None:
        """A stream's headers come first and its usage last, so its give-back was always kept: the same number."""
        async with client_for(make_emulator()) as client:
            stream = await client.chat.completions.create(
                model=MODEL, messages=user("Name one colour."), max_completion_tokens=2048, stream=True
            )
            async with stream:
                async for _ in stream:
                    pass
            await trio.testing.wait_all_tasks_blocked()
            usage = stream.usage
            assert client.rate_limits()[MODEL].remaining_tokens_minute == 8_000 - (
                usage.prompt_tokens + usage.completion_tokens)


def told_no_limits(first_wave: ModelLimits | None = ModelLimits(rpm=30, tpm=8_000)) -> RateBudget:
    limits = ModelLimits(rpm=10**6, tpm=10**9)
    return RateBudget(StartingLimits(limits, LimitSources(rpm="configured", tpm="configured"), first_wave=first_wave), 0.0)


class TestFirstWave:
    def test_before_any_response_no_more_than_the_lowest_plan_is_in_flight(self) -> None:
        """Told 10**9 TPM, the budget grants three 2,440-token jobs (7,320 of the free tier's 8,000), not a fourth."""
        budget = told_no_limits()
        assert [budget.try_acquire(RESERVATION, 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
        assert budget.try_acquire(RESERVATION, 0.0) == math.inf  # not by waiting: a response is needed

    def test_the_first_response_lifts_the_bound(self) -> None:
        """A confirmed grant shows the server answered: the configured limit is believed from then on."""
        budget = told_no_limits()
        for _ in range(3):
            budget.try_acquire(RESERVATION, 0.0)
        budget.confirm(RESERVATION, 0.1)
        assert [budget.try_acquire(RESERVATION, 0.1) for _ in range(10)] == [0.0] * 10

    def test_a_refused_grant_frees_its_place_but_keeps_the_bound(self) -> None:
        """A 429 (refunded) says nothing about the configured limit being right: the bound stays, the place is free."""
        budget = told_no_limits()
        for _ in range(3):
            budget.try_acquire(RESERVATION, 0.0)
        budget.refund(RESERVATION, 0.1)
        assert (budget.try_acquire(RESERVATION, 0.1), budget.try_acquire(RESERVATION, 0.1)) == (0.0, math.inf)

    def test_a_limit_the_server_states_lifts_the_bound(self) -> None:
        """A 429 body that states the limit makes it known: no first-wave bound is needed any more."""
        budget = told_no_limits()
        budget.try_acquire(RESERVATION, 0.0)
        budget.refund(RESERVATION, 0.0)
        budget.learn_limit("TPM", 50_000, "rate-limit", 0.0)
        assert [budget.try_acquire(RESERVATION, 0.0) for _ in range(20)] == [0.0] * 20

    def test_one_request_larger_than_the_bound_still_goes_alone(self) -> None:
        """The bound limits what is in flight together; a single large request is the server's to judge."""
        budget = told_no_limits()
        assert (budget.try_acquire(9_000, 0.0), budget.try_acquire(10, 0.0)) == (0.0, math.inf)

    def test_without_a_bound_the_configured_limit_is_used_at_once(self) -> None:
        """Limits at or below the lowest plan's are believed from the first request."""
        budget = told_no_limits(first_wave=None)
        assert [budget.try_acquire(RESERVATION, 0.0) for _ in range(10)] == [0.0] * 10


def configured(limits: PublicModelLimits, **changes: object) -> Config:
    return Config(api_key="gsk_test", rate_limit_config=RateLimitConfig(model_limits={MODEL: limits}), **changes)


class TestStartingLimits:
    def test_absurd_configured_limits_get_the_free_tiers_first_wave(self) -> None:
        config = configured(ABSURD)
        start = starting_limits(config, DEFAULT_CATALOG, MODEL)
        assert (start.limits.tpm, start.first_wave) == (10**9, ModelLimits(rpm=30, rpd=1_000, tpm=8_000, tpd=200_000))

    def test_limits_within_the_free_tier_need_no_first_wave(self) -> None:
        config = configured(PublicModelLimits(rpm=20, tpm=6_000))
        start = starting_limits(config, DEFAULT_CATALOG, MODEL)
        assert (start.limits.rpm, start.limits.tpm, start.first_wave) == (20, 6_000, None)

    def test_only_the_windows_above_the_free_tier_are_bounded(self) -> None:
        config = configured(PublicModelLimits(rpm=20, tpm=250_000))
        start = starting_limits(config, DEFAULT_CATALOG, MODEL)
        assert start.first_wave == ModelLimits(tpm=8_000)

    def test_a_configured_plan_bounds_the_first_wave_by_its_own_table(self) -> None:
        """With the Developer plan named, a configured 2,000 RPM first sends at most the plan's 1,000."""
        config = configured(PublicModelLimits(rpm=2_000), tier="developer")
        start = starting_limits(config, DEFAULT_CATALOG, MODEL)
        assert start.first_wave == ModelLimits(rpm=1_000)


class _Network(httpx.AsyncBaseTransport):
    """The emulator behind a 0.5 s network: counts the requests sent before the first response came back."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.answered = 0
        self.sent_before_first_answer = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not self.answered:
            self.sent_before_first_answer += 1
        await trio.sleep(0.5)
        response = await self.inner.handle_async_request(request)
        self.answered += 1
        return response


async def test_a_client_told_no_limits_sends_a_first_wave_the_free_tier_admits(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Twelve generous-cap jobs at once, the limits told absurd: three go out (what 8,000 TPM admits), then the rest."""
    emulator = make_emulator()
    network = _Network(emulator.transport())
    jobs = [(key, {"model": MODEL, "messages": user(f"Summarize ticket {key}."), "max_completion_tokens": 2048})
            for key in range(12)]
    async with httpx.AsyncClient(transport=network) as http:
        async with orchestrator.open_client(
            http_client=http, api_key=KEY, base_url=EMULATOR_URL, limits={MODEL: ABSURD}
        ) as client:
            async with client.map(jobs) as results:
                outcomes = [result.ok async for result in results]
    assert (outcomes, emulator.stats().rate_limited, network.sent_before_first_answer) == ([True] * 12, 0, 3)
