"""The budget on a paid account: plans recognised from headers, limits learned from 429/413 bodies, probes, ITPM/OTPM."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors._budget import (
    PROBE_GROWTH_AFTER_DECREASE,
    LimitSources,
    ModelLimits,
    RateBudget,
    RateBudgets,
    RequestExceedsLimit,
    StartingLimits,
)
from actors._worker import charged_tokens
from orchestrator._wire import PromptTokensDetails, Usage

FREE = StartingLimits(
    ModelLimits(rpm=30, rpd=1000, tpm=8000, tpd=200_000),
    LimitSources(rpm="tier", rpd="tier", tpm="tier", tpd="tier"),
    tier="free",
)
DEVELOPER = StartingLimits(
    ModelLimits(rpm=1000, rpd=500_000, tpm=250_000, tpd=100_000_000),
    LimitSources(rpm="tier", rpd="tier", tpm="tier", tpd="tier"),
    tier="developer",
)

def acquire(budget: RateBudget, tokens: int, now: float, output_tokens: int = 0) -> float:
    """``try_acquire``, and a grant confirmed at once, as by a server that answers instantly."""
    wait = budget.try_acquire(tokens, now, output_tokens)
    if wait == 0.0:
        budget.confirm(tokens, now, output_tokens)
    return wait



def headers(rpd: int, tpm: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(rpd),
        "x-ratelimit-limit-tokens": str(tpm),
        "x-ratelimit-remaining-requests": str(rpd),
        "x-ratelimit-remaining-tokens": str(tpm),
    }


def recognise_developer(rpd: int | None, tpm: int | None) -> StartingLimits | None:
    return DEVELOPER if (rpd, tpm) == (500_000, 250_000) else None


def grants(budget: RateBudget, now: float, tokens: int = 10, limit: int = 100_000) -> int:
    """How many requests of ``tokens`` the budget grants at ``now`` before it says wait."""
    count = 0
    while count < limit and acquire(budget, tokens, now) == 0.0:
        count += 1
    return count


class TestPlanRecognition:
    def test_a_developer_account_leaves_the_free_tier_behind_at_its_first_headers(self) -> None:
        """Headers with the Developer plan's RPD and TPM lift RPM and TPD to the Developer table's."""
        budget = RateBudget(FREE, 0.0, recognise=recognise_developer)
        assert grants(budget, 0.0) == 30
        budget.observe_headers(headers(500_000, 250_000), 0.1)
        assert budget.limits == ModelLimits(rpm=1000, rpd=500_000, tpm=250_000, tpd=100_000_000)
        assert budget.sources == LimitSources(rpm="tier", rpd="headers", tpm="headers", tpd="tier")
        assert budget.tier == "developer"
        # the 30 spent stay out of the bigger bucket (970 left); the 0.1 s before the headers refilled at
        # the rate then believed (30 / 60 * 0.1 = 0.05), short of the server's Developer rate: on the safe side
        assert grants(budget, 0.1) == 1000 - 30

    def test_headers_of_the_free_plan_change_nothing_else(self) -> None:
        budget = RateBudget(FREE, 0.0, recognise=recognise_developer)
        budget.observe_headers(headers(1000, 8000), 0.0)
        assert budget.limits.rpm == 30 and budget.sources.rpm == "tier" and budget.tier == "free"

    def test_recognition_runs_once_per_reported_pair(self) -> None:
        calls: list[tuple[int | None, int | None]] = []

        def recognise(rpd: int | None, tpm: int | None) -> StartingLimits | None:
            calls.append((rpd, tpm))
            return None

        budget = RateBudget(FREE, 0.0, recognise=recognise)
        for now in (0.0, 1.0, 2.0):
            budget.observe_headers(headers(500_000, 250_000), now)
        budget.observe_headers(headers(600_000, 250_000), 3.0)
        assert calls == [(500_000, 250_000), (600_000, 250_000)]

    def test_what_was_learned_or_configured_is_not_replaced_by_a_table(self) -> None:
        start = StartingLimits(
            ModelLimits(rpm=30, rpd=1000, tpm=8000, tpd=50),
            LimitSources(rpm="tier", rpd="tier", tpm="tier", tpd="configured"),
            tier="free",
        )
        budget = RateBudget(start, 0.0, recognise=recognise_developer)
        budget.observe_rate_limited(1.0, "RPM", 0.0, limit=400)
        budget.observe_headers(headers(500_000, 250_000), 0.5)
        assert budget.limits.rpm == 400 and budget.sources.rpm == "rate-limit"
        assert budget.limits.tpd == 50 and budget.sources.tpd == "configured"

    def test_an_unpublished_plan_probes_instead_of_holding_to_the_free_tier(self) -> None:
        """No table fits (e.g. an enterprise plan): RPM and TPD become probes from the free floor."""
        probe = StartingLimits(
            ModelLimits(rpm=30, rpd=1000, tpm=8000, tpd=200_000),
            LimitSources(rpm="probe", rpd="probe", tpm="probe", tpd="probe"),
        )
        budget = RateBudget(FREE, 0.0, recognise=lambda rpd, tpm: probe)
        budget.observe_headers(headers(2_000_000, 5_000_000), 0.0)
        assert budget.sources == LimitSources(rpm="probe", rpd="headers", tpm="headers", tpd="probe")
        assert budget.tier is None

    def test_rate_budgets_bind_the_model_for_recognition(self) -> None:
        seen: list[str] = []

        def recognise(model: str, rpd: int | None, tpm: int | None) -> StartingLimits | None:
            seen.append(model)
            return DEVELOPER

        budgets = RateBudgets(lambda model: FREE, recognise=recognise)
        budgets.get("openai/gpt-oss-20b", 0.0).observe_headers(headers(500_000, 250_000), 0.0)
        assert seen == ["openai/gpt-oss-20b"]
        assert budgets.snapshots(0.0)["openai/gpt-oss-20b"].tier == "developer"


class TestLearningFromBodies:
    def test_a_429_that_states_the_limit_is_believed_exactly(self) -> None:
        budget = RateBudget(FREE, 0.0)
        budget.observe_rate_limited(0.06, "RPM", 0.0, limit=1000)
        assert budget.limits.rpm == 1000 and budget.sources.rpm == "rate-limit"
        # the window is drained: it refills at the learned rate after the pause
        assert acquire(budget, 1, 0.06) > 0

    def test_a_413_teaches_the_window_it_names(self) -> None:
        budget = RateBudget(FREE, 0.0)
        budget.learn_limit("tpm", 6000, "request-too-large", 0.0)
        assert budget.limits.tpm == 6000 and budget.sources.tpm == "request-too-large"
        with pytest.raises(RequestExceedsLimit):
            acquire(budget, 7000, 0.0)

    def test_unknown_windows_and_nonsense_limits_are_ignored(self) -> None:
        budget = RateBudget(FREE, 0.0)
        budget.learn_limit("ASH", 10, "rate-limit", 0.0)
        budget.learn_limit("RPM", 0, "rate-limit", 0.0)
        assert budget.limits == FREE.limits

    def test_itpm_and_otpm_are_learned_and_enforced_with_their_parts(self) -> None:
        """An ITPM/OTPM a body named starts to count only the input or output part of each grant."""
        budget = RateBudget(FREE, 0.0)
        budget.learn_limit("OTPM", 300, "rate-limit", 0.0)
        budget.learn_limit("ITPM", 5000, "rate-limit", 0.0)
        assert acquire(budget, 1100, 1.0, output_tokens=100) == 0.0
        assert acquire(budget, 1100, 1.0, output_tokens=100) == 0.0
        assert acquire(budget, 1100, 1.0, output_tokens=100) == 0.0
        assert acquire(budget, 1100, 1.0, output_tokens=100) > 0  # OTPM 300 is full
        snapshot = budget.snapshot(1.0)
        assert snapshot.remaining_output_tokens_minute == 0
        assert snapshot.remaining_input_tokens_minute == 2000

    def test_a_429_on_otpm_drains_it(self) -> None:
        budget = RateBudget(FREE, 0.0)
        budget.observe_rate_limited(0.0, "OTPM", 0.0, limit=300)
        assert budget.snapshot(0.0).remaining_output_tokens_minute == 0
        assert acquire(budget, 100, 0.0, output_tokens=100) > 0

    def test_output_tokens_outside_the_total_are_refused(self) -> None:
        with pytest.raises(ValueError, match="output_tokens"):
            RateBudget(FREE, 0.0).try_acquire(10, 0.0, output_tokens=11)

    def test_reconcile_moves_each_part_to_what_was_charged(self) -> None:
        """ITPM gives back 100 - 50 and OTPM 500 - 200 at once, on top of 1.2 s of refill at 1000/60 (20 each)."""
        budget = RateBudget(StartingLimits.configured(ModelLimits(itpm=1000, otpm=1000)), 0.0)
        acquire(budget, 600, 0.0, output_tokens=500)
        budget.reconcile(600, 250, 1.2, granted_at=0.0, estimated_output=500, actual_output=200)
        snapshot = budget.snapshot(1.2)
        assert (snapshot.remaining_input_tokens_minute, snapshot.remaining_output_tokens_minute) == (900 + 20 + 50, 500 + 20 + 300)


class TestConfiguredCaps:
    def test_a_configured_limit_is_a_cap_the_server_may_only_lower(self) -> None:
        budget = RateBudget(ModelLimits(tpm=100_000, rpd=10), 0.0)
        budget.observe_headers(headers(500_000, 250_000), 0.0)
        assert budget.limits.tpm == 100_000 and budget.sources.tpm == "configured"
        assert budget.limits.rpd == 10 and budget.sources.rpd == "configured"
        budget.observe_headers(headers(5, 6000), 1.0)
        assert (budget.limits.rpd, budget.limits.tpm) == (5, 6000)
        assert budget.sources.tpm == "headers"
        budget.observe_rate_limited(1.0, "TPM", 2.0, limit=200_000)
        assert budget.limits.tpm == 100_000 and budget.sources.tpm == "configured"


class TestProbe:
    def probe(self, rpm: int = 30) -> RateBudget:
        return RateBudget(StartingLimits(ModelLimits(rpm=rpm), LimitSources(rpm="probe")), 0.0)

    def test_a_probe_grows_by_what_the_server_accepts(self) -> None:
        """Slow start: every accepted request raises the ceiling by one and comes back, so it doubles per round trip."""
        budget = self.probe()
        assert grants(budget, 0.0) == 30
        for _ in range(30):
            budget.reconcile(10, 10, 0.5, granted_at=0.0)
        assert budget.limits.rpm == 60
        assert grants(budget, 0.5) == 60

    def test_a_429_teaches_the_number_and_probing_ends(self) -> None:
        budget = self.probe()
        budget.observe_rate_limited(0.06, "rpm", 0.0, limit=1000)
        assert budget.sources.rpm == "rate-limit"
        budget.reconcile(10, 10, 0.5)
        assert budget.limits.rpm == 1000

    def test_a_429_without_a_number_halves_and_slows_the_probe(self) -> None:
        budget = self.probe(rpm=64)
        budget.observe_rate_limited(1.0, "RPM", 0.0)
        assert budget.limits.rpm == 32 and budget.sources.rpm == "probe"
        for _ in range(16):
            budget.reconcile(10, 10, 0.5)
        assert budget.limits.rpm == 32 + int(16 * PROBE_GROWTH_AFTER_DECREASE)

    def test_a_probe_never_refuses_a_request_bigger_than_its_guess(self) -> None:
        budget = RateBudget(StartingLimits(ModelLimits(tpm=100), LimitSources(tpm="probe")), 0.0)
        assert acquire(budget, 5000, 0.0) == 0.0
        assert budget.limits.tpm == 5000

    def test_configured_windows_do_not_grow(self) -> None:
        budget = RateBudget(ModelLimits(rpm=30), 0.0)
        for _ in range(10):
            budget.reconcile(10, 10, 0.5)
        assert budget.limits.rpm == 30

    @settings(max_examples=50, deadline=None)
    @given(true_limit=st.integers(min_value=1, max_value=5000), floor=st.integers(min_value=1, max_value=100))
    def test_answered_at_once_the_probe_never_waits_and_one_429_teaches_the_limit(self, true_limit: int, floor: int) -> None:
        """A server with an unknown RPM that answers each request at once: the probe does not throttle
        below it (everything is sent at time 0), the first 429 states the limit, and then it holds."""
        budget = self.probe(rpm=floor)
        accepted = rejected = 0
        while rejected == 0:
            assert acquire(budget, 1, 0.0) == 0.0
            if accepted == true_limit:
                rejected += 1
                budget.observe_rate_limited(1.0, "RPM", 0.0, limit=true_limit)
            else:
                accepted += 1
                budget.reconcile(1, 1, 0.0)
        assert budget.limits.rpm == true_limit and budget.sources.rpm == "rate-limit"
        assert grants(budget, 1.0) == 0  # the window is drained for the pause; no second 429


class TestTokenAccounting:
    def test_cached_prompt_tokens_are_not_charged(self) -> None:
        usage = Usage(
            prompt_tokens=1000,
            completion_tokens=50,
            total_tokens=1050,
            prompt_tokens_details=PromptTokensDetails(cached_tokens=800),
        )
        assert charged_tokens(usage) == 250

    def test_without_details_everything_is_charged(self) -> None:
        assert charged_tokens(Usage(prompt_tokens=10, completion_tokens=5, total_tokens=15)) == 15


class TestRemainingWithoutReset:
    def test_an_empty_day_without_a_reset_comes_back_at_the_refill_rate(self) -> None:
        """remaining-requests 0 and no reset: one request of a 1,000-a-day budget is back within one slot (6 min),
        not all of them after a day (a call retried twice must not take two days)."""
        budget = RateBudget(FREE, 0.0)
        budget.observe_headers({"x-ratelimit-remaining-requests": "0"}, 0.0)
        wait = acquire(budget, 10, 0.0)
        assert 0 < wait <= 86_400 / 240
        assert acquire(budget, 10, wait) == 0.0
