"""The retry policy (attempt counting, capped exponential backoff, full jitter, retry-after floor) and the
client-wide retry budget (a share of recent first attempts plus a floor, in a bounded sliding window)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors._retry import RetryPolicy
from actors._retry_budget import RetryBudget, RetryBudgetStatistics


class TestShouldRetry:
    def test_default_allows_three_retries(self) -> None:
        """With max_retries=3 the attempts 1 to 3 may be retried and the 4th may not."""
        policy = RetryPolicy()
        assert [policy.should_retry(attempt, True) for attempt in range(1, 6)] == [True, True, True, False, False]

    def test_non_retryable_is_never_retried(self) -> None:
        """A non-retryable failure (a 400, a 401) is not retried, whatever the count."""
        assert not RetryPolicy().should_retry(1, False)

    def test_zero_retries(self) -> None:
        """max_retries=0 means a single attempt."""
        assert not RetryPolicy(max_retries=0).should_retry(1, True)

    def test_attempt_counts_from_one(self) -> None:
        """Attempt 0 is a caller bug and is named in the error."""
        with pytest.raises(ValueError, match="attempt=0"):
            RetryPolicy().should_retry(0, True)


class TestBackoff:
    def test_doubles_from_one_second_to_sixty(self) -> None:
        """The default backoff is 1, 2, 4, 8, 16, 32 s and then stays at 60 s."""
        policy = RetryPolicy()
        assert [policy.backoff(a) for a in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]

    def test_huge_attempts_do_not_overflow(self) -> None:
        """An absurd attempt number is simply capped."""
        assert RetryPolicy().backoff(10_000) == 60.0

    def test_multiplier_one_is_constant(self) -> None:
        """A multiplier of 1 gives a constant backoff."""
        assert RetryPolicy(initial_backoff=0.5, multiplier=1.0).backoff(50) == 0.5

    def test_zero_initial_backoff(self) -> None:
        """A zero initial backoff retries immediately (useful in tests)."""
        assert RetryPolicy(initial_backoff=0.0).delay(5, None, 0.9) == 0.0


class TestDelay:
    def test_full_jitter_scales_the_backoff(self) -> None:
        """With jitter the delay is random * backoff."""
        assert RetryPolicy().delay(3, None, 0.25) == 1.0

    def test_without_jitter_the_backoff_is_used(self) -> None:
        """With jitter off the delay is the backoff."""
        assert RetryPolicy(jitter=False).delay(3, None, 0.25) == 4.0

    def test_retry_after_is_a_floor(self) -> None:
        """A server retry-after longer than the jittered backoff wins."""
        assert RetryPolicy().delay(1, 5.289, 0.5) == 5.289

    def test_longer_backoff_beats_short_retry_after(self) -> None:
        """A retry-after shorter than the backoff does not shorten the wait."""
        assert RetryPolicy(jitter=False).delay(4, 2.0, 0.0) == 8.0

    def test_retry_after_is_capped(self) -> None:
        """An absurd retry-after is capped at max_retry_after (10 minutes by default)."""
        assert RetryPolicy().delay(1, 86_400.0, 0.0) == 600.0

    @pytest.mark.parametrize("retry_after", [-1.0, math.nan, math.inf])
    def test_nonsense_retry_after_is_ignored(self, retry_after: float) -> None:
        """Negative or non-finite retry-after values do not affect the delay."""
        assert RetryPolicy(jitter=False).delay(2, retry_after, 0.0) == 2.0

    @pytest.mark.parametrize("random", [-0.1, 1.0, math.nan])
    def test_random_must_be_a_unit_draw(self, random: float) -> None:
        """A random value outside [0, 1) is rejected with the value named."""
        with pytest.raises(ValueError, match="random="):
            RetryPolicy().delay(1, None, random)

    @given(
        attempt=st.integers(min_value=1, max_value=200),
        retry_after=st.none() | st.floats(min_value=0, max_value=1e6),
        random=st.floats(min_value=0, max_value=1, exclude_max=True),
        initial=st.floats(min_value=0, max_value=10),
        multiplier=st.floats(min_value=1, max_value=5),
    )
    def test_delay_bounds(
        self, attempt: int, retry_after: float | None, random: float, initial: float, multiplier: float
    ) -> None:
        """The delay is never below the capped retry-after nor above max(backoff, capped retry-after)."""
        policy = RetryPolicy(initial_backoff=initial, max_backoff=60.0, multiplier=multiplier)
        delay = policy.delay(attempt, retry_after, random)
        floor = 0.0 if retry_after is None else min(retry_after, 600.0)
        backoff = policy.backoff(attempt)
        assert floor <= delay <= max(backoff, floor)
        assert backoff <= 60.0
        assert backoff == pytest.approx(min(60.0, initial * multiplier ** (attempt - 1)), rel=1e-9)

    @given(attempt=st.integers(min_value=1, max_value=30))
    def test_backoff_never_shrinks(self, attempt: int) -> None:
        """Each retry waits at least as long (before jitter) as the previous one."""
        policy = RetryPolicy()
        assert policy.backoff(attempt + 1) >= policy.backoff(attempt)


class TestValidation:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"max_retries": -1}, "max_retries=-1"),
            ({"initial_backoff": -1.0}, "initial_backoff=-1.0"),
            ({"max_backoff": math.inf}, "max_backoff=inf"),
            ({"multiplier": 0.5}, "multiplier=0.5"),
            ({"initial_backoff": 10.0, "max_backoff": 5.0}, "max_backoff=5.0 is below initial_backoff=10.0"),
        ],
    )
    def test_bad_fields_are_named(self, kwargs: dict[str, float], message: str) -> None:
        """Invalid settings raise ValueError naming the field and the value."""
        with pytest.raises(ValueError, match=message):
            RetryPolicy(**kwargs)  # type: ignore[arg-type]

    def test_is_frozen(self) -> None:
        """A policy is an immutable value."""
        with pytest.raises(AttributeError):
            RetryPolicy().max_retries = 5  # type: ignore[misc]


def withdraw_all(budget: RetryBudget, now: float, limit: int = 100_000) -> int:
    """How many retries the budget grants at ``now`` before it refuses one."""
    granted = 0
    while granted < limit and budget.try_withdraw(now):
        granted += 1
    return granted


class TestRetryBudget:
    def test_the_floor_pays_for_a_few_retries_without_traffic(self) -> None:
        """With no first attempts, min_per_second * window retries (10/s over 10 s) are allowed, then none."""
        budget = RetryBudget()
        assert withdraw_all(budget, 0.0) == 100
        assert budget.statistics(0.0) == RetryBudgetStatistics(first_attempts=0, retries=100, balance=0.0, refused=1)

    def test_retries_are_a_share_of_first_attempts(self) -> None:
        """Without a floor, 10 first attempts pay for 2 retries at 20 %; the third is refused."""
        budget = RetryBudget(ratio=0.2, min_per_second=0.0)
        for _ in range(10):
            budget.deposit(0.0)
        assert [budget.try_withdraw(0.0) for _ in range(3)] == [True, True, False]

    def test_share_and_floor_add_up(self) -> None:
        """1,000 first attempts and the default floor allow 200 + 100 retries."""
        budget = RetryBudget()
        for _ in range(1000):
            budget.deposit(1.0)
        assert withdraw_all(budget, 1.0) == 300

    def test_a_fleet_failing_everything_adds_at_most_the_share(self) -> None:
        """Every first attempt failing and asking for 3 retries: the load is 1.2x plus the floor, not 4x."""
        budget = RetryBudget(min_per_second=0.0)
        sent = 0
        for second in range(100):
            for _ in range(100):
                budget.deposit(float(second))
                sent += 1
                sent += sum(budget.try_withdraw(float(second)) for _ in range(3))
        assert sent <= 100 * 100 * 1.2 + 1

    def test_old_first_attempts_stop_paying(self) -> None:
        """A first attempt counts for one window (10 s, in 1 s slots): at 9.99 s still, at 10 s no more."""
        budget = RetryBudget(ratio=1.0, min_per_second=0.0)
        budget.deposit(0.0)
        assert budget.balance(9.99) == 1.0
        assert budget.balance(10.0) == 0.0

    def test_spent_retries_are_forgotten_too(self) -> None:
        """Retries withdrawn leave the window like deposits, so the floor comes back."""
        budget = RetryBudget(min_per_second=1.0, window=10.0)
        assert withdraw_all(budget, 0.0) == 10
        assert not budget.try_withdraw(5.0)
        assert withdraw_all(budget, 10.0) == 10

    def test_a_long_pause_clears_everything(self) -> None:
        """After hours without calls the window is empty again, and the floor alone pays."""
        budget = RetryBudget(ratio=0.5, min_per_second=1.0)
        for _ in range(50):
            budget.deposit(0.0)
        assert budget.balance(3600.0) == 10.0

    def test_a_clock_that_goes_back_counts_in_the_newest_slot(self) -> None:
        """A caller with an older ``now`` (another task's stale reading) is counted, never in a forgotten slot."""
        budget = RetryBudget(ratio=1.0, min_per_second=0.0)
        budget.balance(5.0)
        budget.deposit(1.0)
        assert budget.balance(14.99) == 1.0 and budget.balance(15.0) == 0.0

    def test_memory_is_bounded(self) -> None:
        """A million deposits keep the same ``buckets`` slots."""
        budget = RetryBudget(buckets=10)
        for index in range(1_000_000):
            budget.deposit(index * 0.001)
        assert len(budget._deposits) == len(budget._withdrawals) == 10
        assert budget.statistics(1000.0).first_attempts == 9000

    def test_repr(self) -> None:
        """The repr shows what the window holds and what it allows."""
        budget = RetryBudget()
        budget.deposit(0.0)
        assert repr(budget) == "<RetryBudget 0 retries for 1 first attempts in 10 s (allows 20% + 10/s)>"

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"ratio": -0.1}, "ratio=-0.1"),
            ({"min_per_second": math.inf}, "min_per_second=inf"),
            ({"window": 0.0}, "window=0.0"),
            ({"buckets": 0}, "buckets=0"),
        ],
    )
    def test_bad_settings_are_named(self, kwargs: dict[str, float], message: str) -> None:
        """Invalid settings raise ValueError naming the argument and value."""
        with pytest.raises(ValueError, match=message):
            RetryBudget(**kwargs)  # type: ignore[arg-type]

    @given(
        steps=st.lists(
            st.tuples(st.sampled_from(["deposit", "withdraw"]), st.floats(min_value=0.0, max_value=3.0)),
            max_size=300,
        ),
        ratio=st.sampled_from([0.0, 0.1, 0.2, 1.0]),
        floor=st.sampled_from([0.0, 0.3, 1.0]),
    )
    def test_matches_a_reference_model(self, steps: list[tuple[str, float]], ratio: float, floor: float) -> None:
        """Against a plain list of events: a retry is granted exactly when share + floor - spent >= 1 in the
        window, where the window is the slots of the last 4 s (4 slots of 1 s)."""
        budget = RetryBudget(ratio=ratio, min_per_second=floor, window=4.0, buckets=4)
        events: list[tuple[int, str]] = []  # (slot, kind)
        now = 0.0
        for kind, dt in steps:
            now += dt
            slot = math.floor(now / 1.0)
            live = [(s, k) for s, k in events if s > slot - 4]
            deposits = sum(1 for _, k in live if k == "deposit")
            retries = sum(1 for _, k in live if k == "retry")
            if kind == "deposit":
                budget.deposit(now)
                events.append((slot, "deposit"))
            else:
                expected = ratio * deposits + floor * 4.0 - retries >= 1.0
                assert budget.try_withdraw(now) == expected
                if expected:
                    events.append((slot, "retry"))
            assert budget.statistics(now).retries == sum(1 for s, k in events if k == "retry" and s > slot - 4)
