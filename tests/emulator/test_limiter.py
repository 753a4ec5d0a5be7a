"""The emulator's pure rate limiter: Groq-style refilling buckets, admission, reconciliation, headers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from orchestrator.emulator._limiter import (
    Admitted,
    Denied,
    KeyModelLimiter,
    LimitSpec,
    RateLimiter,
    TooLarge,
    Window,
)

SPEC = LimitSpec(rpm=30, rpd=14_400, tpm=6_000, tpd=500_000)


class TestKeyModelLimiter:
    def test_admit_charges_every_window(self) -> None:
        """An admitted request spends one request and its tokens from the headers' buckets."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        assert limiter.admit(0.0, tokens=157) == Admitted()
        state = limiter.state(0.0)
        assert (state.remaining_requests, state.remaining_tokens) == (14_399, 5_843)

    def test_reset_times_match_groq_examples(self) -> None:
        """Reset is time-to-full: one request of 14,400/day is 6 s, 157 tokens of 6,000/min is 1.57 s."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        limiter.admit(0.0, tokens=157)
        state = limiter.state(0.0)
        assert (state.reset_requests, round(state.reset_tokens or 0, 6)) == (6.0, 1.57)

    def test_tokens_refill_continuously(self) -> None:
        """Half a minute after spending 6,000 TPM, 3,000 tokens are back."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        limiter.admit(0.0, tokens=6_000)
        assert limiter.state(30.0).remaining_tokens == 3_000

    def test_denied_names_the_slowest_window_and_exact_wait(self) -> None:
        """A request that does not fit is denied with the window, usage and the exact wait."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        limiter.admit(0.0, tokens=5_990)
        decision = limiter.admit(0.0, tokens=120)
        assert decision == Denied(window=Window.TPM, limit=6_000, used=5_990, requested=120, wait=pytest.approx(1.1))

    def test_denied_request_spends_nothing(self) -> None:
        """A denial leaves every bucket as it was."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        limiter.admit(0.0, tokens=5_990)
        before = limiter.state(0.0)
        limiter.admit(0.0, tokens=120)
        assert limiter.state(0.0) == before

    def test_admitted_exactly_after_wait(self) -> None:
        """Retrying at now + wait succeeds when nothing else happened."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        limiter.admit(0.0, tokens=5_990)
        decision = limiter.admit(0.0, tokens=120)
        assert isinstance(decision, Denied)
        assert limiter.admit(decision.wait, tokens=120) == Admitted()

    def test_rpm_exhaustion(self) -> None:
        """The 31st request in the same instant hits RPM and must wait 2 s (60 s / 30)."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        for _ in range(30):
            assert limiter.admit(0.0) == Admitted()
        decision = limiter.admit(0.0)
        assert isinstance(decision, Denied) and (decision.window, decision.wait) == (Window.RPM, 2.0)

    def test_too_large(self) -> None:
        """A request costing more than TPM's capacity can never be admitted."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        assert limiter.admit(0.0, tokens=12_328) == TooLarge(window=Window.TPM, limit=6_000, requested=12_328)

    def test_charge_gives_back_unused_budget(self) -> None:
        """Reconciling a 1,000-token reservation to 100 used tokens returns 900."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        limiter.admit(0.0, tokens=1_000)
        limiter.charge(0.0, tokens=-900)
        assert limiter.state(0.0).remaining_tokens == 5_900

    def test_charge_can_go_into_debt(self) -> None:
        """Extra tokens beyond the bucket drive it below zero: 0 remaining, reset includes the debt."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        limiter.admit(0.0, tokens=6_000)
        limiter.charge(0.0, tokens=600)
        state = limiter.state(0.0)
        assert (state.remaining_tokens, state.reset_tokens) == (0, pytest.approx(66.0))

    def test_give_back_never_overfills(self) -> None:
        """Refunds cap at the limit."""
        limiter = KeyModelLimiter(SPEC, now=0.0)
        limiter.charge(0.0, tokens=-500)
        assert limiter.state(0.0).remaining_tokens == 6_000

    def test_audio_windows(self) -> None:
        """Audio seconds count against ASH; an audio model has no token headers."""
        limiter = KeyModelLimiter(LimitSpec(rpm=20, rpd=2_000, ash=7_200, asd=28_800), now=0.0)
        limiter.admit(0.0)
        limiter.charge(0.0, audio_seconds=7_200)
        decision = limiter.admit(0.0, audio_seconds=10)
        assert isinstance(decision, Denied) and decision.window is Window.ASH
        assert limiter.state(0.0).limit_tokens is None

    def test_unlimited_spec_admits_everything(self) -> None:
        """With no limits at all nothing is ever denied."""
        limiter = KeyModelLimiter(LimitSpec(), now=0.0)
        assert all(limiter.admit(0.0, tokens=10**9) == Admitted() for _ in range(100))

    def test_invalid_limit_named(self) -> None:
        """A non-positive limit is refused with its name."""
        with pytest.raises(ValueError, match="tpm=0"):
            LimitSpec(tpm=0)


class TestRateLimiter:
    def test_pairs_are_independent(self) -> None:
        """Keys and models have separate budgets."""
        limiter = RateLimiter(lambda model: SPEC)
        limiter.get("gsk_a", "m", 0.0).admit(0.0, tokens=6_000)
        assert limiter.get("gsk_b", "m", 0.0).state(0.0).remaining_tokens == 6_000
        assert limiter.get("gsk_a", "n", 0.0).state(0.0).remaining_tokens == 6_000

    def test_bounded(self) -> None:
        """The least recently used pair is forgotten beyond max_pairs."""
        limiter = RateLimiter(lambda model: SPEC, max_pairs=2)
        first = limiter.get("k1", "m", 0.0)
        limiter.get("k2", "m", 0.0)
        limiter.get("k1", "m", 0.0)
        limiter.get("k3", "m", 0.0)
        assert (len(limiter), limiter.get("k1", "m", 0.0) is first) == (2, True)


@hypothesis_settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=0.0, max_value=5.0), st.integers(min_value=0, max_value=3_000)),
        min_size=1,
        max_size=80,
    )
)
def test_never_grants_more_than_the_limit_per_minute(steps: list[tuple[float, int]]) -> None:
    """In any 60 s span, admitted tokens never exceed TPM plus what refills in that span (which is TPM)."""
    limiter = KeyModelLimiter(LimitSpec(tpm=6_000), now=0.0)
    now = 0.0
    granted: list[tuple[float, int]] = []
    for delta, tokens in steps:
        now += delta
        if limiter.admit(now, tokens=tokens) == Admitted():
            granted.append((now, tokens))
    for start, _ in granted:
        in_window = sum(tokens for at, tokens in granted if start <= at < start + 60.0)
        assert in_window <= 6_000 + math.ceil(60.0 * 100)


@hypothesis_settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=6_000), st.integers(min_value=1, max_value=6_000))
def test_wait_is_exact(first: int, second: int) -> None:
    """Whenever a request is denied, it is admitted at exactly now + wait."""
    limiter = KeyModelLimiter(LimitSpec(tpm=6_000, rpm=30), now=0.0)
    limiter.admit(0.0, tokens=first)
    decision = limiter.admit(0.0, tokens=second)
    if isinstance(decision, Denied):
        assert limiter.admit(decision.wait, tokens=second) == Admitted()
    else:
        assert first + second <= 6_000
