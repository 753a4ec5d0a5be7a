"""The rate budget: continuously refilling buckets per model (capacity the limit, refilled at limit / period),
learning from headers and 429s."""

from __future__ import annotations

import copy
import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from actors._budget import (
    _EPSILON,
    DAY,
    MINUTE,
    BudgetSnapshot,
    LimitSources,
    ModelLimits,
    RateBudget,
    RateBudgets,
    RequestExceedsLimit,
)

def budget(rpm: int | None = None, rpd: int | None = None, tpm: int | None = None, tpd: int | None = None) -> RateBudget:
    """A budget created at time 0 with the given limits."""
    return RateBudget(ModelLimits(rpm=rpm, rpd=rpd, tpm=tpm, tpd=tpd), 0.0)

def acquire(budget: RateBudget, tokens: int, now: float, output_tokens: int = 0) -> float:
    """``try_acquire``, and a grant confirmed at once, as by a server that answers instantly."""
    wait = budget.try_acquire(tokens, now, output_tokens)
    if wait == 0.0:
        budget.confirm(tokens, now, output_tokens)
    return wait



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
    def test_grants_the_whole_limit_then_one_request_per_refill(self) -> None:
        """RPM=3 refills 3/60 = 0.05 request/s: three grants at 0, 1, 2 s (the bucket starts full), then
        by 10 s only 10 * 0.05 = 0.5 of a request is back, so the fourth waits (1 - 0.5) / 0.05 = 10 s,
        and from then on one request every 20 s."""
        b = budget(rpm=3)
        assert [acquire(b, 0, t) for t in (0.0, 1.0, 2.0)] == [0.0, 0.0, 0.0]
        assert acquire(b, 0, 10.0) == pytest.approx(10.0)
        assert acquire(b, 0, 19.99) > 0
        assert acquire(b, 0, 20.0) == 0.0
        assert acquire(b, 0, 20.0) == pytest.approx(20.0)

    def test_tokens_and_requests_are_spent_together(self) -> None:
        """A grant spends one request and its tokens from every window."""
        b = budget(rpm=10, rpd=100, tpm=1000, tpd=5000)
        assert acquire(b, 300, 0.0) == 0.0
        snap = b.snapshot(0.0)
        assert (snap.remaining_requests_minute, snap.remaining_requests_day) == (9, 99)
        assert (snap.remaining_tokens_minute, snap.remaining_tokens_day) == (700, 4700)

    def test_denial_spends_nothing(self) -> None:
        """A request refused by one window leaves every window untouched."""
        b = budget(rpm=10, tpm=100)
        acquire(b, 90, 0.0)
        before = b.snapshot(1.0)
        assert acquire(b, 20, 1.0) > 0
        assert b.snapshot(1.0) == before

    def test_wait_is_the_latest_window(self) -> None:
        """The wait is set by whichever window frees up last."""
        b = budget(rpm=1, tpm=100)
        acquire(b, 100, 0.0)
        b2 = copy.deepcopy(b)
        assert acquire(b, 1, 30.0) == 30.0
        b2.observe_rate_limited(45.0, None, 30.0)
        assert acquire(b2, 1, 30.0) == 45.0

    def test_unknown_limits_never_wait(self) -> None:
        """With no known limits every request is granted at once."""
        b = budget()
        assert all(acquire(b, 10**6, float(t)) == 0.0 for t in range(100))

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

    def test_a_spend_at_an_odd_time_is_back_exactly_cost_over_rate_later(self) -> None:
        """TPM=600 refills 10 tokens/s: after emptying it at 0.1 s, 250 tokens are back at 0.1 + 250 / 10 = 25.1 s
        exactly, not a moment earlier (no grid, no rounding up)."""
        b = budget(tpm=600)
        assert acquire(b, 600, 0.1) == 0.0
        assert acquire(b, 250, 0.1) == pytest.approx(25.0)
        assert acquire(b, 250, 25.1 - 1e-6) > 0
        assert acquire(b, 250, 25.1) == 0.0
        assert acquire(b, 1, 25.1) == pytest.approx(0.1)  # it took everything that was back

    def test_wait_is_exact_for_awkward_floats(self) -> None:
        """Asking again at now + wait succeeds even when the float sum rounds badly."""
        b = budget()
        b.observe_rate_limited(7.287932695041561, None, 0.0)
        now = 3.2153831177070935  # here now + (7.287932695041561 - now) rounds below 7.287932695041561
        wait = acquire(b, 0, now)
        assert acquire(b, 0, now + wait) == 0.0


class TestRefundAndReconcile:
    def test_refund_gives_everything_back(self) -> None:
        """A grant the server never counted (never sent, or a 429), withdrawn, leaves the budget as if it never happened."""
        b = budget(rpm=5, rpd=50, tpm=500, tpd=5000)
        fresh = b.snapshot(1.0)
        assert b.try_acquire(200, 1.0) == 0.0
        assert b.snapshot(1.0).remaining_tokens_minute == 300  # pending: held apart
        b.refund(200, 1.0, granted_at=1.0)
        assert b.snapshot(1.0) == fresh

    def test_a_pending_grant_does_not_refill_until_confirmed(self) -> None:
        """The server may count a request later than we granted it, so its charge refills only from the confirmation."""
        b = budget(tpm=600)
        assert b.try_acquire(600, 0.0) == 0.0
        assert b.snapshot(30.0).remaining_tokens_minute == 0  # 30 s later: still pending, nothing refilled
        b.confirm(600, 30.0)
        assert b.snapshot(30.0).remaining_tokens_minute == 0
        assert b.snapshot(36.0).remaining_tokens_minute == 60  # refilling at 10 tokens/s from the confirmation
        assert not b.idle(36.0) and b.idle(90.0)

    def test_a_give_back_never_lifts_a_window_past_its_limit(self) -> None:
        """An over-estimate found after the minute windows have refilled fills them to the limit, not beyond;
        the day windows, still short, take the whole give-back."""
        b = budget(rpm=5, rpd=50, tpm=500, tpd=5000)
        acquire(b, 200, 0.0)
        acquire(b, 100, 70.0)  # the minute windows were full again: 4 requests and 400 tokens left
        b.reconcile(200, 0, 70.0, granted_at=0.0)
        snap = b.snapshot(70.0)
        assert (snap.remaining_requests_minute, snap.remaining_tokens_minute) == (4, 500)
        assert snap.reset_tokens_minute == 0.0
        # TPD: 5000 - 200 - 100 + 70 * 5000/86,400 (4.05) + 200 = 4904.05
        assert (snap.remaining_requests_day, snap.remaining_tokens_day) == (48, 4904)
        # exactly the limit: 500 tokens go, the next one waits for its refill (1 / (500 / 60) = 0.12 s)
        assert acquire(b, 500, 70.0) == 0.0
        assert acquire(b, 1, 70.0) == pytest.approx(0.12)

    def test_reconcile_gives_back_an_over_estimate(self) -> None:
        """When usage is lower than the estimate, the difference is available again at once:
        100 left + 3 s at 1000/60 per s (50) + the 750 over-estimated = 900."""
        b = budget(tpm=1000)
        acquire(b, 900, 0.0)
        b.reconcile(900, 150, 3.0, granted_at=0.0)
        assert b.snapshot(3.0).remaining_tokens_minute == 900
        assert acquire(b, 900, 3.0) == 0.0
        assert acquire(b, 1, 3.0) == pytest.approx(0.06)  # and no more than that: 1 token's refill

    def test_reconcile_of_a_later_grant_leaves_only_the_real_cost_to_refill(self) -> None:
        """After two grants, giving back the second's over-estimate leaves out only what is really used,
        which refills at the bucket's rate: 500 + 166.67 (10 s) - 400 + 166.67 (10 s) + 300 = 733.33 at 20 s,
        full (1000 - 733.33) / 16.67 = 16 s later."""
        b = budget(tpm=1000)
        acquire(b, 500, 0.0)
        acquire(b, 400, 10.0)
        b.reconcile(400, 100, 20.0, granted_at=10.0)
        assert b.snapshot(20.0).remaining_tokens_minute == 733
        assert b.snapshot(20.0).reset_tokens_minute == pytest.approx(16.0)
        assert acquire(b, 1000, 20.0) == pytest.approx(16.0)
        assert acquire(b, 1000, 36.0) == 0.0

    def test_reconcile_takes_an_under_estimate_now(self) -> None:
        """When usage is higher than the estimate, the extra is spent now, overdrawing if needed: at 10 s the
        level is 100 + 166.67 - 400 = -133.33 (a debt), so 100 tokens wait (100 + 133.33) / 16.67 = 14 s and
        the bucket is full (1000 + 133.33) / 16.67 = 68 s later."""
        b = budget(tpm=1000)
        acquire(b, 900, 0.0)
        b.reconcile(900, 1300, 10.0)
        snap = b.snapshot(10.0)
        assert (snap.remaining_tokens_minute, snap.reset_tokens_minute) == (0, pytest.approx(68.0))
        assert acquire(b, 100, 10.0) == pytest.approx(14.0)
        assert acquire(b, 100, 23.9) > 0
        assert acquire(b, 100, 24.0) == 0.0
        assert acquire(b, 400, 24.0) == pytest.approx(24.0)  # the debt is paid: the bucket was at 0

    @pytest.mark.parametrize("granted_at", [None, 0.0, 3.0, -1e6])
    def test_reconcile_ignores_the_grant_time(self, granted_at: float | None) -> None:
        """A bucket gives the difference back whatever granted_at says: 500 left + 50 refilled in 3 s + 400 = 950."""
        b = budget(tpm=1000)
        acquire(b, 500, 0.0)
        b.reconcile(500, 100, 3.0, granted_at=granted_at)
        assert b.snapshot(3.0).remaining_tokens_minute == 950
        assert b.snapshot(3.0).reset_tokens_minute == pytest.approx(3.0)  # the 50 left out: 50 / (1000 / 60)

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

    @pytest.mark.parametrize("reset_tokens", ["7.66s", "0s", "2m0s"])
    def test_a_clamp_refills_at_the_bucket_rate_whatever_the_reset_header(self, reset_tokens: str) -> None:
        """Room taken away by a clamp returns at 6000/60 = 100 tokens/s: the 100 missing in 1 s (reset-* is not used)."""
        b = budget(tpm=6000)
        b.observe_headers(groq_headers(remaining_tokens="5900", reset_tokens=reset_tokens), 0.0)
        assert acquire(b, 6000, 0.0) == pytest.approx(1.0)
        assert b.snapshot(0.5).remaining_tokens_minute == 5950
        assert b.snapshot(1.0).remaining_tokens_minute == 6000

    def test_clamp_lasts_at_least_the_refill_time(self) -> None:
        """A reset shorter than a bucket could refill the deficit (here 0s) is not believed."""
        b = budget(tpm=6000)
        b.observe_headers(groq_headers(remaining_tokens="3000", reset_tokens="0s"), 0.0)
        assert acquire(b, 6000, 0.0) == 30.0

    def test_missing_reset_uses_the_refill_time(self) -> None:
        """Without a reset header, a clamp lasts as long as a bucket takes to refill that much."""
        b = budget(tpm=6000)
        headers = groq_headers(remaining_tokens="3000")
        del headers["x-ratelimit-reset-tokens"]
        b.observe_headers(headers, 0.0)
        assert acquire(b, 6000, 0.0) == 30.0

    def test_never_raises_our_view(self) -> None:
        """A server reporting more room than we think does not give us more: 1000 left + 100 refilled in 1 s."""
        b = budget(tpm=6000)
        acquire(b, 5000, 0.0)
        b.observe_headers(groq_headers(remaining_tokens="6000"), 1.0)
        assert b.snapshot(1.0).remaining_tokens_minute == 1100

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
        assert acquire(b, 1, 10.0) == pytest.approx(5.289)
        assert b.snapshot(12.0).paused_for == pytest.approx(3.289)
        assert acquire(b, 1, 15.289) == 0.0

    def test_default_pause_is_one_second(self) -> None:
        """Without retry-after the model pauses for one second."""
        b = budget()
        b.observe_rate_limited(None, None, 0.0)
        assert acquire(b, 0, 0.0) == 1.0

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
        """reset_* is the seconds until the bucket is full at its refill rate: three requests out at 0 s, at 2 s
        RPM (0.5/s) has 1 back and 2 to go (4 s); RPD (1000 a day, one per 86.4 s) has 3 * 86.4 - 2 s to go."""
        b = budget(rpm=30, rpd=1000)
        for _ in range(3):
            acquire(b, 0, 0.0)
        snap = b.snapshot(2.0)
        assert snap.remaining_requests_minute == 28
        assert (snap.reset_requests_minute, snap.reset_requests_day) == (pytest.approx(4.0), pytest.approx(3 * 86.4 - 2.0))
        assert b.snapshot(6.0).reset_requests_minute == 0.0

    def test_repr(self) -> None:
        """The repr shows each window's room and limit."""
        b = budget(rpm=30)
        acquire(b, 5, 0.0)
        assert repr(b) == "<RateBudget RPM 29/30, RPD ?/?, TPM ?/?, TPD ?/?, paused until 0>"

    def test_time_scale_shrinks_the_periods(self) -> None:
        """With time_scale=60 a per-minute window refills in one second (for a scaled emulator)."""
        b = RateBudget(ModelLimits(rpm=1), 0.0, time_scale=60.0)
        acquire(b, 0, 0.0)
        assert acquire(b, 0, 0.0) == pytest.approx(1.0)

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


# -- the guarantee: never a 429 against a server that keeps the same buckets ---------------------

LIMITS = ModelLimits(rpm=4, rpd=12, tpm=100, tpd=300)
WINDOW_NAMES = ("RPM", "RPD", "TPM", "TPD")
WINDOW_LIMITS = (LIMITS.rpm, LIMITS.rpd, LIMITS.tpm, LIMITS.tpd)
WINDOW_PERIODS = (MINUTE, DAY, MINUTE, DAY)
EARLY = 1e-6 + _EPSILON / min(limit / period for limit, period in zip(WINDOW_LIMITS, WINDOW_PERIODS))  # type: ignore[operator]
"""How much before the end of a wait the same request must still be refused: 1 µs, plus the refill time of the
shortfall the budget forgives for float rounding (_EPSILON), 0.72 ms at RPD's 12 a day."""


class ServerBucket:
    """The server's side of one window, written here independently of the budget.

    Capacity ``limit``, refilled continuously at ``limit / period``, full at the start; charged what
    each request costs, given back what is returned (never past the limit); a drain (a 429 the server
    sent) empties it, and it refills only from the pause's end.
    """

    def __init__(self, limit: int, period: float, now: float) -> None:
        self.limit = limit
        self.rate = limit / period
        self.level = float(limit)
        self.stamp = now

    def at(self, now: float) -> float:
        """The level at ``now``."""
        if now > self.stamp:
            self.level = min(float(self.limit), self.level + (now - self.stamp) * self.rate)
            self.stamp = now
        return self.level

    def charge(self, amount: int, now: float) -> None:
        self.at(now)
        self.level -= amount

    def give_back(self, amount: int, now: float) -> None:
        self.at(now)
        self.level = min(float(self.limit), self.level + amount)

    def lower_to(self, level: int, now: float) -> None:
        self.at(now)
        self.level = min(self.level, float(level))

    def drain(self, now: float, until: float) -> None:
        self.at(now)
        self.level = min(self.level, 0.0)
        self.stamp = max(self.stamp, until)


class BudgetMachine(RuleBasedStateMachine):
    """Random grants, refunds, reconciles, headers and 429s against a reference model of the server's buckets.

    The reference is charged the same costs at each grant, given back the same amounts on refunds and
    downward reconciles, lowered to what headers report (another client spent it) and drained by the
    429s. The guarantee: every grant the budget makes, the server admits (its bucket holds the cost),
    so a budget that knows the limits never causes a 429; and the budget never believes in more room
    than the server has.
    """

    @initialize(start=st.sampled_from([0.0, 0.1, 1234.567, 1e6 + 0.3]))
    def start(self, start: float) -> None:
        self.now = start
        self.budget = RateBudget(LIMITS, start)
        self.server = [ServerBucket(limit, period, start) for limit, period in zip(WINDOW_LIMITS, WINDOW_PERIODS)]  # type: ignore[arg-type]
        self.grants: list[list[float]] = []  # [time, requests, tokens, reconciled]

    def _costs(self, requests: int, tokens: int) -> tuple[int, int, int, int]:
        return requests, requests, tokens, tokens

    @rule(dt=st.sampled_from([0.0, 0.001, 0.1, 0.25, 1.0, 7.3, 15.0, 30.0, 59.9, 60.0, 60.25, 3600.0, 7200.0, 40_000.0]))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule(tokens=st.integers(min_value=0, max_value=110))
    def acquire(self, tokens: int) -> None:
        if tokens > LIMITS.tpm:  # type: ignore[operator]
            with pytest.raises(RequestExceedsLimit):
                acquire(self.budget, tokens, self.now)
            return
        probe = copy.deepcopy(self.budget)
        wait = acquire(self.budget, tokens, self.now)
        if wait == 0.0:
            for name, bucket, cost in zip(WINDOW_NAMES, self.server, self._costs(1, tokens)):
                level = bucket.at(self.now)
                assert level >= cost - 1e-6, f"{name}: granted {cost} where the server has {level}: a 429"
                bucket.charge(cost, self.now)
            self.grants.append([self.now, 1, tokens, 0])
            return
        assert wait > 0
        assert acquire(probe, tokens, self.now + wait) == 0.0, "the wait is long enough"
        if wait > EARLY:
            early = copy.deepcopy(self.budget)
            assert acquire(early, tokens, self.now + wait - EARLY) > 0, "the wait is not longer than needed"

    def _young(self, index: int) -> list[float] | None:
        live = [g for g in self.grants if g[1] and not g[3]]
        return live[index % len(live)] if live else None

    @precondition(lambda self: any(g[1] and not g[3] for g in self.grants))
    @rule(index=st.integers(min_value=0, max_value=100), pass_time=st.booleans())
    def refund(self, index: int, pass_time: bool) -> None:
        grant = self._young(index)
        assert grant is not None
        self.budget.refund(int(grant[2]), self.now, granted_at=grant[0] if pass_time else None)
        for bucket, amount in zip(self.server, self._costs(1, int(grant[2]))):
            bucket.give_back(amount, self.now)
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
        actual = math.floor(grant[2] * fraction)
        self.budget.reconcile(int(grant[2]), actual, self.now, granted_at=grant[0] if pass_time else None)
        for bucket, amount in zip(self.server, self._costs(0, int(grant[2]) - actual)):
            bucket.give_back(amount, self.now)
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
        """The server reports what remains (others on the key may have spent it); reset-* must not matter."""
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
        self.server[1].lower_to(remaining_requests, self.now)
        self.server[2].lower_to(remaining_tokens, self.now)

    @rule(
        retry_after=st.none() | st.sampled_from([0.0, 0.5, 2.0, 5.289, 61.0]),
        window=st.sampled_from([None, "RPM", "RPD", "TPM", "tpd", "bogus"]),
    )
    def rate_limited(self, retry_after: float | None, window: str | None) -> None:
        self.budget.observe_rate_limited(retry_after, window, self.now)
        if window is not None and window.upper() in WINDOW_NAMES:
            until = self.now + (1.0 if retry_after is None else retry_after)
            self.server[WINDOW_NAMES.index(window.upper())].drain(self.now, until)

    @rule()
    def eventually_grants_anything_that_fits(self) -> None:
        later = copy.deepcopy(self.budget)
        assert acquire(later, LIMITS.tpm, self.now + 2 * DAY + 1000) == 0.0  # type: ignore[arg-type]

    def _remaining(self) -> tuple[int | None, int | None, int | None, int | None]:
        snap = self.budget.snapshot(self.now)
        return (
            snap.remaining_requests_minute,
            snap.remaining_requests_day,
            snap.remaining_tokens_minute,
            snap.remaining_tokens_day,
        )

    @invariant()
    def never_more_room_than_the_server(self) -> None:
        for name, bucket, remaining in zip(WINDOW_NAMES, self.server, self._remaining()):
            server_room = max(0, math.floor(bucket.at(self.now) + 1e-6))
            assert remaining is not None and remaining <= server_room, f"{name}: we see {remaining}, the server {server_room}"

    @invariant()
    def snapshot_is_sane(self) -> None:
        snap = self.budget.snapshot(self.now)
        for remaining, limit in zip(self._remaining(), WINDOW_LIMITS):
            assert remaining is not None and limit is not None and 0 <= remaining <= limit
        # an empty bucket is full one period later, or a period after a drain's pause (at most 61 s)
        for reset, period in zip(
            (snap.reset_requests_minute, snap.reset_requests_day, snap.reset_tokens_minute, snap.reset_tokens_day),
            WINDOW_PERIODS,
        ):
            assert 0 <= reset <= period + 61.0 + 1e-6


TestBudgetMachine = BudgetMachine.TestCase
TestBudgetMachine.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
