"""The retry policy: attempt counting, capped exponential backoff, full jitter, retry-after floor."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors._retry import RetryPolicy


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
