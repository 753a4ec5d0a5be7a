"""The rate budget: four sliding windows per model, learning from headers and 429s."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from actors._budget import (
    DAY,
    MINUTE,
    BudgetSnapshot,
    LimitSources,
    ModelLimits,
    RateBudget,
    RateBudgets,
    RequestExceedsLimit,
)

SLOT_MINUTE = MINUTE / 240  # 0.25 s
SLOT_DAY = DAY / 240  # 360 s


def budget(rpm: int | None = None, rpd: int | None = None, tpm: int | None = None, tpd: int | None = None) -> RateBudget:
    """A budget created at time 0 with the given limits."""
    return RateBudget(ModelLimits(rpm=rpm, rpd=rpd, tpm=tpm, tpd=tpd), 0.0)


def groq_headers(
    limit_requests: str = "14400",
    limit_tokens: str = "6000",
    remaining_requests: str = "14399",
    remaining_tokens: str = "6000",
    reset_requests: str = "6s",
    reset_tokens: str = "0s",
) -> dict[str, str]:
    """Rate-limit headers shaped like Groq's."""
    return {
        "x-ratelimit-limit-requests": limit_requests,
        "x-ratelimit-limit-tokens": limit_tokens,
        "x-ratelimit-remaining-requests": remaining_requests,
        "x-ratelimit-remaining-tokens": remaining_tokens,
        "x-ratelimit-reset-requests": reset_requests,
        "x-ratelimit-reset-tokens": reset_tokens,
    }


class TestTryAcquire:
    def test_grants_up_to_the_limit_then_waits_a_period(self) -> None:
        """Three RPM grants in a row, then the fourth waits until the first comes back 60 s later."""
        b = budget(rpm=3)
        assert [b.try_acquire(0, t) for t in (0.0, 1.0, 2.0)] == [0.0, 0.0, 0.0]
        assert b.try_acquire(0, 10.0) == 50.0
        assert b.try_acquire(0, 60.0) == 0.0

    def test_tokens_and_requests_are_spent_together(self) -> None:
        """A grant spends one request and its tokens from every window."""
        b = budget(rpm=10, rpd=100, tpm=1000, tpd=5000)
        assert b.try_acquire(300, 0.0) == 0.0
        snap = b.snapshot(0.0)
        assert (snap.remaining_requests_minute, snap.remaining_requests_day) == (9, 99)
        assert (snap.remaining_tokens_minute, snap.remaining_tokens_day) == (700, 4700)

    def test_denial_spends_nothing(self) -> None:
        """A request refused by one window leaves every window untouched."""
        b = budget(rpm=10, tpm=100)
        b.try_acquire(90, 0.0)
        before = b.snapshot(1.0)
        assert b.try_acquire(20, 1.0) > 0
        assert b.snapshot(1.0) == before

    def test_wait_is_the_latest_window(self) -> None:
        """The wait is set by whichever window frees up last."""
        b = budget(rpm=1, tpm=100)
        b.try_acquire(100, 0.0)
        b2 = copy.deepcopy(b)
        assert b.try_acquire(1, 30.0) == 30.0
        b2.observe_rate_limited(45.0, None, 30.0)
        assert b2.try_acquire(1, 30.0) == 45.0

    def test_unknown_limits_never_wait(self) -> None:
        """With no known limits every request is granted at once."""
        b = budget()
        assert all(b.try_acquire(10**6, float(t)) == 0.0 for t in range(100))

    def test_request_over_a_whole_limit_raises(self) -> None:
        """A request needing more tokens than TPM can never be granted: RequestExceedsLimit names the window."""
        with pytest.raises(RequestExceedsLimit, match="TPM limit is 6000") as info:
            budget(tpm=6000).try_acquire(12_328, 0.0)
        assert (info.value.window, info.value.limit, info.value.requested) == ("TPM", 6000, 12_328)

    def test_exactly_the_limit_is_grantable(self) -> None:
        """A request equal to the limit fits in an empty window."""
        assert budget(tpm=6000).try_acquire(6000, 0.0) == 0.0

    def test_zero_limit_raises_for_requests(self) -> None:
        """A zero request limit makes every request impossible."""
        with pytest.raises(RequestExceedsLimit, match="RPD"):
            budget(rpd=0).try_acquire(1, 0.0)

    def test_negative_tokens_rejected(self) -> None:
        """A negative cost is a caller bug."""
        with pytest.raises(ValueError, match="tokens=-1"):
            budget().try_acquire(-1, 0.0)

    def test_spends_come_back_on_the_slot_grid(self) -> None:
        """A spend at an odd time comes back at the next quarter second after one minute, never earlier."""
        b = budget(rpm=1)
        b.try_acquire(0, 0.1)
        wait = b.try_acquire(0, 0.1)
        assert 0.1 + wait == pytest.approx(60.25)
        assert b.try_acquire(0, 60.2) > 0
        assert b.try_acquire(0, 60.25) == 0.0

    def test_wait_is_exact_for_awkward_floats(self) -> None:
        """Asking again at now + wait succeeds even when the float sum rounds badly."""
        b = budget()
        b.observe_rate_limited(7.287932695041561, None, 0.0)
        now = 3.2153831177070935  # here now + (7.287932695041561 - now) rounds below 7.287932695041561
        wait = b.try_acquire(0, now)
        assert b.try_acquire(0, now + wait) == 0.0


class TestRefundAndReconcile:
    def test_refund_gives_everything_back(self) -> None:
        """A refunded grant leaves the budget as if it never happened."""
        b = budget(rpm=5, rpd=50, tpm=500, tpd=5000)
        fresh = b.snapshot(1.0)
        b.try_acquire(200, 1.0)
        b.refund(200, 1.0, granted_at=1.0)
        assert b.snapshot(1.0) == fresh

    def test_refund_of_a_grant_already_back_does_nothing(self) -> None:
        """Refunding a grant older than the minute windows touches only the day windows."""
        b = budget(rpm=5, rpd=50, tpm=500, tpd=5000)
        b.try_acquire(200, 0.0)
        b.try_acquire(100, 70.0)
        b.refund(200, 70.0, granted_at=0.0)
        snap = b.snapshot(70.0)
        assert (snap.remaining_requests_minute, snap.remaining_tokens_minute) == (4, 400)
        assert (snap.remaining_requests_day, snap.remaining_tokens_day) == (49, 4900)

    def test_reconcile_gives_back_an_over_estimate(self) -> None:
        """When usage is lower than the estimate, the difference is available again at once."""
        b = budget(tpm=1000)
        b.try_acquire(900, 0.0)
        b.reconcile(900, 150, 2.0, granted_at=0.0)
        assert b.snapshot(2.0).remaining_tokens_minute == 850
        assert b.try_acquire(850, 2.0) == 0.0

    def test_reconcile_takes_the_over_estimate_off_the_grants_own_entry(self) -> None:
        """Given back tokens leave the grant's own entry, so earlier grants still return in full on time."""
        b = budget(tpm=1000)
        b.try_acquire(500, 0.0)  # back at 60 s
        b.try_acquire(400, 10.0)  # back at 70 s
        b.reconcile(400, 100, 20.0, granted_at=10.0)
        assert b.snapshot(20.0).remaining_tokens_minute == 400
        # At 61 s the first 500 are back in full; only the 100 really used at 10 s are still out.
        assert b.try_acquire(900, 61.0) == 0.0

    def test_reconcile_takes_an_under_estimate_now(self) -> None:
        """When usage is higher than the estimate, the extra is spent now for a full minute, overdrawing if needed."""
        b = budget(tpm=1000)
        b.try_acquire(900, 0.0)
        b.reconcile(900, 1300, 10.0)
        assert b.snapshot(10.0).remaining_tokens_minute == 0
        assert b.try_acquire(100, 10.0) == 50.0  # the first 900 come back at 60 s, the extra 400 at 70 s
        assert b.try_acquire(600, 60.0) == 0.0
        assert b.try_acquire(401, 70.0) > 0  # the 600 granted at 60 s are out until 120 s
        assert b.try_acquire(400, 70.0) == 0.0

    def test_reconcile_without_grant_time_assumes_a_recent_grant(self) -> None:
        """Without granted_at the correction applies to the windows as if the grant were recent."""
        b = budget(tpm=1000)
        b.try_acquire(500, 0.0)
        b.reconcile(500, 100, 5.0)
        assert b.snapshot(5.0).remaining_tokens_minute == 900

    def test_negative_counts_rejected(self) -> None:
        """Negative token counts are caller bugs and are named."""
        with pytest.raises(ValueError, match="actual_tokens=-1"):
            budget().reconcile(5, -1, 0.0)
        with pytest.raises(ValueError, match="tokens=-2"):
            budget().refund(-2, 0.0)


class TestHeaders:
    def test_learns_rpd_and_tpm_limits(self) -> None:
        """limit-requests is the day's request limit and limit-tokens the minute's token limit."""
        b = budget(rpm=30)
        b.observe_headers(groq_headers(), 0.0)
        assert b.limits == ModelLimits(rpm=30, rpd=14400, tpm=6000, tpd=None)

    def test_clamps_to_what_the_server_says_remains(self) -> None:
        """If the server has less room than we think, our view drops to the server's."""
        b = budget(rpd=14400, tpm=6000)
        b.observe_headers(groq_headers(remaining_requests="14370", remaining_tokens="5000", reset_tokens="10s"), 0.0)
        snap = b.snapshot(0.0)
        assert (snap.remaining_requests_day, snap.remaining_tokens_minute) == (14370, 5000)

    def test_clamp_comes_back_at_the_server_reset(self) -> None:
        """Room taken away by a clamp returns when the server says the window is full again."""
        b = budget(tpm=6000)
        b.observe_headers(groq_headers(remaining_tokens="5900", reset_tokens="7.66s"), 0.0)
        assert b.try_acquire(6000, 0.0) == pytest.approx(7.75)  # 7.66 s rounded up to the slot grid
        assert b.snapshot(7.75).remaining_tokens_minute == 6000

    def test_clamp_lasts_at_least_the_refill_time(self) -> None:
        """A reset shorter than a bucket could refill the deficit (here 0s) is not believed."""
        b = budget(tpm=6000)
        b.observe_headers(groq_headers(remaining_tokens="3000", reset_tokens="0s"), 0.0)
        assert b.try_acquire(6000, 0.0) == 30.0

    def test_missing_reset_uses_the_refill_time(self) -> None:
        """Without a reset header, a clamp lasts as long as a bucket takes to refill that much."""
        b = budget(tpm=6000)
        headers = groq_headers(remaining_tokens="3000")
        del headers["x-ratelimit-reset-tokens"]
        b.observe_headers(headers, 0.0)
        assert b.try_acquire(6000, 0.0) == 30.0

    def test_never_raises_our_view(self) -> None:
        """A server reporting more room than we think does not give us more."""
        b = budget(tpm=6000)
        b.try_acquire(5000, 0.0)
        b.observe_headers(groq_headers(remaining_tokens="6000"), 1.0)
        assert b.snapshot(1.0).remaining_tokens_minute == 1000

    def test_header_names_are_case_insensitive(self) -> None:
        """Mixed-case header names are understood."""
        b = budget()
        b.observe_headers({"X-RateLimit-Limit-Tokens": "6000", "X-RATELIMIT-REMAINING-TOKENS": "10"}, 0.0)
        assert (b.limits.tpm, b.snapshot(0.0).remaining_tokens_minute) == (6000, 10)

    @pytest.mark.parametrize(
        "bad",
        [
            {"x-ratelimit-limit-tokens": "lots"},
            {"x-ratelimit-limit-tokens": "-5"},
            {"x-ratelimit-remaining-tokens": "1.5"},
            {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "soon"},
            {"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "-3s"},
            {"content-type": "application/json"},
            {},
        ],
    )
    def test_bad_values_are_ignored(self, bad: dict[str, str]) -> None:
        """Unparsable values never raise; a bad reset falls back to a safe duration."""
        b = budget(tpm=100)
        b.observe_headers(bad, 0.0)
        assert b.limits.tpm == 100
        assert b.snapshot(60.0).remaining_tokens_minute == 100

    def test_works_with_httpx_headers(self) -> None:
        """httpx.Headers (the worker's type) is a fine Mapping."""
        import httpx

        b = budget()
        b.observe_headers(httpx.Headers(groq_headers(remaining_tokens="17")), 0.0)
        assert b.snapshot(0.0).remaining_tokens_minute == 17


class TestRateLimited:
    def test_pauses_the_model(self) -> None:
        """After a 429 nothing is granted until retry-after has passed."""
        b = budget()
        b.observe_rate_limited(5.289, None, 10.0)
        assert b.try_acquire(1, 10.0) == pytest.approx(5.289)
        assert b.snapshot(12.0).paused_for == pytest.approx(3.289)
        assert b.try_acquire(1, 15.289) == 0.0

    def test_default_pause_is_one_second(self) -> None:
        """Without retry-after the model pauses for one second."""
        b = budget()
        b.observe_rate_limited(None, None, 0.0)
        assert b.try_acquire(0, 0.0) == 1.0

    def test_pause_is_never_shortened(self) -> None:
        """A later 429 with a shorter retry-after does not end an existing pause early."""
        b = budget()
        b.observe_rate_limited(30.0, None, 0.0)
        b.observe_rate_limited(1.0, None, 5.0)
        assert b.snapshot(5.0).paused_until == 30.0

    def test_drains_the_named_window_gradually(self) -> None:
        """The named window is emptied and refills at its rate after the pause, not all at once."""
        b = budget(rpm=60, tpm=6000)
        b.observe_rate_limited(2.0, "tpm", 0.0)
        assert b.snapshot(2.0).remaining_tokens_minute == 0
        assert b.snapshot(2.0).remaining_requests_minute == 60
        assert b.snapshot(12.0).remaining_tokens_minute == 1000
        assert b.snapshot(62.0).remaining_tokens_minute == 6000

    def test_unknown_window_only_pauses(self) -> None:
        """An unknown window name or an unknown limit only pauses."""
        b = budget(tpm=100)
        b.observe_rate_limited(1.0, "ASH", 0.0)
        b.observe_rate_limited(1.0, "RPM", 0.0)
        assert b.snapshot(1.0).remaining_tokens_minute == 100


class TestSnapshot:
    def test_fresh_budget(self) -> None:
        """A new budget is full, unpaused, and unknown windows report None."""
        assert budget(rpm=30, tpm=6000).snapshot(0.0) == BudgetSnapshot(
            limits=ModelLimits(rpm=30, tpm=6000),
            remaining_requests_minute=30,
            remaining_requests_day=None,
            remaining_tokens_minute=6000,
            remaining_tokens_day=None,
            reset_requests_minute=0.0,
            reset_requests_day=0.0,
            reset_tokens_minute=0.0,
            reset_tokens_day=0.0,
            paused_until=None,
            paused_for=0.0,
            sources=LimitSources(rpm="configured", tpm="configured"),
        )

    def test_reset_is_time_until_full(self) -> None:
        """reset_* counts down to when every spend in that window has come back."""
        b = budget(rpm=30, rpd=1000)
        b.try_acquire(0, 0.0)
        b.try_acquire(0, 10.0)
        snap = b.snapshot(20.0)
        assert (snap.reset_requests_minute, snap.reset_requests_day) == (50.0, 86760.0 - 20.0)

    def test_repr(self) -> None:
        """The repr shows each window's room and limit."""
        b = budget(rpm=30)
        b.try_acquire(5, 0.0)
        assert repr(b) == "<RateBudget RPM 29/30, RPD ?/?, TPM ?/?, TPD ?/?, paused until 0>"

    def test_time_scale_shrinks_the_periods(self) -> None:
        """With time_scale=60 a per-minute window refills in one second (for a scaled emulator)."""
        b = RateBudget(ModelLimits(rpm=1), 0.0, time_scale=60.0)
        b.try_acquire(0, 0.0)
        assert b.try_acquire(0, 0.0) == pytest.approx(1.0)

    def test_time_scale_must_be_positive(self) -> None:
        """A zero time scale is rejected with the value named."""
        with pytest.raises(ValueError, match="time_scale=0"):
            RateBudget(ModelLimits(), 0.0, time_scale=0)


class TestRateBudgets:
    def test_creates_on_first_use_from_defaults(self) -> None:
        """Each model gets its own budget from the defaults callable, once."""
        asked: list[str] = []

        def defaults(model: str) -> ModelLimits:
            asked.append(model)
            return ModelLimits(rpm=len(model))

        budgets = RateBudgets(defaults)
        a = budgets.get("abc", 0.0)
        assert budgets.get("abc", 1.0) is a
        assert budgets.get("de", 1.0).limits.rpm == 2
        assert (asked, len(budgets), "abc" in budgets, list(budgets)) == (["abc", "de"], 2, True, ["abc", "de"])
        assert set(budgets.snapshots(1.0)) == {"abc", "de"}

    def test_evicts_idle_budgets_past_the_bound(self) -> None:
        """Past max_models the least recently used idle budget is forgotten."""
        budgets = RateBudgets(lambda model: ModelLimits(rpm=10), max_models=2)
        budgets.get("a", 0.0).try_acquire(1, 0.0)
        budgets.get("b", 0.0)
        budgets.get("c", 1.0)
        assert list(budgets) == ["a", "c"]

    def test_paused_budgets_are_not_idle(self) -> None:
        """A budget paused by a 429 is kept even with nothing spent, and the repr counts models."""
        budgets = RateBudgets(lambda model: ModelLimits(), max_models=2)
        budgets.get("a", 0.0).observe_rate_limited(10.0, None, 0.0)
        budgets.get("b", 0.0)
        budgets.get("c", 1.0)
        assert (list(budgets), repr(budgets)) == (["a", "c"], "<RateBudgets 2 models>")

    def test_max_models_must_be_positive(self) -> None:
        """A zero bound is rejected with the value named."""
        with pytest.raises(ValueError, match="max_models=0"):
            RateBudgets(lambda model: ModelLimits(), max_models=0)

    def test_refuses_when_every_budget_is_busy(self) -> None:
        """If no budget is idle, a new model gets a clear error instead of unbounded growth."""
        budgets = RateBudgets(lambda model: ModelLimits(rpm=10), max_models=1)
        budgets.get("a", 0.0).try_acquire(1, 0.0)
        with pytest.raises(RuntimeError, match="max_models"):
            budgets.get("b", 0.0)


# -- the window property -------------------------------------------------------------------------

LIMITS = ModelLimits(rpm=4, rpd=12, tpm=100, tpd=300)


class BudgetMachine(RuleBasedStateMachine):
    """Random grants, refunds, reconciles, headers and 429s against a ledger of what was granted.

    The ledger records, per grant, its time and what it still counts for (after refunds and
    downward reconciles). The invariant: no half-open interval of one period holds more
    granted requests or tokens than the fixed limit.
    """

    @initialize(start=st.sampled_from([0.0, 0.1, 1234.567, 1e6 + 0.3]))
    def start(self, start: float) -> None:
        self.now = start
        self.budget = RateBudget(LIMITS, start)
        self.grants: list[list[float]] = []  # [time, requests, tokens, reconciled]

    @rule(dt=st.sampled_from([0.0, 0.001, 0.1, 0.25, 1.0, 7.3, 30.0, 59.9, 60.0, 60.25, 3600.0, 40_000.0]))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule(tokens=st.integers(min_value=0, max_value=110))
    def acquire(self, tokens: int) -> None:
        if tokens > LIMITS.tpm:  # type: ignore[operator]
            with pytest.raises(RequestExceedsLimit):
                self.budget.try_acquire(tokens, self.now)
            return
        probe = copy.deepcopy(self.budget)
        wait = self.budget.try_acquire(tokens, self.now)
        if wait == 0.0:
            self.grants.append([self.now, 1, tokens, 0])
            return
        assert wait > 0
        assert probe.try_acquire(tokens, self.now + wait) == 0.0, "the wait is long enough"
        if wait > 1e-6:
            early = copy.deepcopy(self.budget)
            assert early.try_acquire(tokens, self.now + wait - 1e-6) > 0, "the wait is not longer than needed"

    def _young(self, index: int) -> list[float] | None:
        live = [g for g in self.grants if g[1] and not g[3]]
        return live[index % len(live)] if live else None

    @precondition(lambda self: any(g[1] and not g[3] for g in self.grants))
    @rule(index=st.integers(min_value=0, max_value=100), pass_time=st.booleans())
    def refund(self, index: int, pass_time: bool) -> None:
        grant = self._young(index)
        assert grant is not None
        if not pass_time:
            assume(self.now - grant[0] < MINUTE)  # without granted_at the grant must be recent
        self.budget.refund(int(grant[2]), self.now, granted_at=grant[0] if pass_time else None)
        grant[1], grant[2] = 0, 0

    @precondition(lambda self: any(g[1] and not g[3] for g in self.grants))
    @rule(
        index=st.integers(min_value=0, max_value=100),
        fraction=st.floats(min_value=0, max_value=1),
        pass_time=st.booleans(),
    )
    def reconcile_down(self, index: int, fraction: float, pass_time: bool) -> None:
        grant = self._young(index)
        assert grant is not None
        if not pass_time:
            assume(self.now - grant[0] < MINUTE)
        actual = math.floor(grant[2] * fraction)
        self.budget.reconcile(int(grant[2]), actual, self.now, granted_at=grant[0] if pass_time else None)
        grant[2], grant[3] = actual, 1

    @rule(
        remaining_requests=st.integers(min_value=0, max_value=12),
        remaining_tokens=st.integers(min_value=0, max_value=100),
        reset_tokens=st.sampled_from(["0s", "940ms", "7.66s", "59.99s", "2m0s", "garbage", None]),
        reset_requests=st.sampled_from(["6s", "2m59.56s", "1h2m3s", None]),
    )
    def headers(
        self, remaining_requests: int, remaining_tokens: int, reset_tokens: str | None, reset_requests: str | None
    ) -> None:
        headers = {
            "x-ratelimit-limit-requests": str(LIMITS.rpd),
            "x-ratelimit-limit-tokens": str(LIMITS.tpm),
            "x-ratelimit-remaining-requests": str(remaining_requests),
            "x-ratelimit-remaining-tokens": str(remaining_tokens),
        }
        if reset_tokens is not None:
            headers["x-ratelimit-reset-tokens"] = reset_tokens
        if reset_requests is not None:
            headers["x-ratelimit-reset-requests"] = reset_requests
        self.budget.observe_headers(headers, self.now)

    @rule(
        retry_after=st.none() | st.sampled_from([0.0, 0.5, 2.0, 5.289, 61.0]),
        window=st.sampled_from([None, "RPM", "RPD", "TPM", "tpd", "bogus"]),
    )
    def rate_limited(self, retry_after: float | None, window: str | None) -> None:
        self.budget.observe_rate_limited(retry_after, window, self.now)

    @rule()
    def eventually_grants_anything_that_fits(self) -> None:
        later = copy.deepcopy(self.budget)
        assert later.try_acquire(LIMITS.tpm, self.now + 2 * DAY + 1000) == 0.0  # type: ignore[arg-type]

    @invariant()
    def no_period_exceeds_its_limit(self) -> None:
        for period, column, limit in (
            (MINUTE, 1, LIMITS.rpm),
            (DAY, 1, LIMITS.rpd),
            (MINUTE, 2, LIMITS.tpm),
            (DAY, 2, LIMITS.tpd),
        ):
            for start, *_ in self.grants:
                inside = sum(g[column] for g in self.grants if start <= g[0] < start + period)
                assert inside <= limit, f"{inside} > {limit} in [{start}, {start + period})"

    @invariant()
    def snapshot_is_sane(self) -> None:
        snap = self.budget.snapshot(self.now)
        for remaining, limit in (
            (snap.remaining_requests_minute, LIMITS.rpm),
            (snap.remaining_requests_day, LIMITS.rpd),
            (snap.remaining_tokens_minute, LIMITS.tpm),
            (snap.remaining_tokens_day, LIMITS.tpd),
        ):
            assert remaining is not None and limit is not None and 0 <= remaining <= limit
        assert 0 <= snap.reset_tokens_minute <= MINUTE + SLOT_MINUTE + 61.0  # a drain refills after the pause
        assert 0 <= snap.reset_requests_day <= DAY + SLOT_DAY + 61.0


TestBudgetMachine = BudgetMachine.TestCase
TestBudgetMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
