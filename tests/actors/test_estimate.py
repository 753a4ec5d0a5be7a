"""The token cost estimator: calibrated prompt plus completion budget, learning from usage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors._estimate import CostEstimator


class TestEstimate:
    def test_uncalibrated_is_prompt_plus_budget(self) -> None:
        """Before any observation the estimate is the prompt estimate plus the completion budget."""
        assert CostEstimator().estimate(120, 1000) == 1120

    def test_no_budget_uses_the_default(self) -> None:
        """A job without a completion budget is charged the default completion (256)."""
        assert CostEstimator().estimate(120, None) == 376

    def test_zero_budget_is_respected(self) -> None:
        """An explicit budget of zero adds nothing."""
        assert CostEstimator().estimate(50, 0) == 50

    def test_calibrated_prompt_rounds_up(self) -> None:
        """The calibrated prompt part is rounded up, never down."""
        estimator = CostEstimator(smoothing=1.0)
        estimator.observe(3, 4, 0)
        assert estimator.estimate(10, 0) == 14  # 10 * 4/3 = 13.33 -> 14

    def test_exact_products_are_not_bumped(self) -> None:
        """Float noise does not add a token: 100 * 1.1 is 110."""
        estimator = CostEstimator(smoothing=1.0)
        estimator.observe(10, 11, 0)
        assert estimator.estimate(100, 0) == 110

    def test_negative_counts_are_rejected(self) -> None:
        """Negative counts raise ValueError naming them."""
        with pytest.raises(ValueError, match="prompt_estimate=-1"):
            CostEstimator().estimate(-1, None)
        with pytest.raises(ValueError, match="completion_budget=-5"):
            CostEstimator().estimate(1, -5)


class TestObserve:
    def test_ratio_is_a_moving_average(self) -> None:
        """Each observation moves the ratio a fifth of the way to the observed ratio."""
        estimator = CostEstimator()
        estimator.observe(100, 200, 10)
        assert estimator.ratio == pytest.approx(1.2)
        estimator.observe(100, 200, 10)
        assert estimator.ratio == pytest.approx(1.36)
        assert estimator.observations == 2

    def test_ratio_is_clamped(self) -> None:
        """Absurd observations cannot push the ratio outside [0.25, 4]."""
        high, low = CostEstimator(smoothing=1.0), CostEstimator(smoothing=1.0)
        high.observe(1, 1000, 0)
        low.observe(1000, 1, 0)
        assert (high.ratio, low.ratio) == (4.0, 0.25)

    def test_zero_prompt_estimate_does_not_touch_the_ratio(self) -> None:
        """A job with a zero prompt estimate teaches nothing about the prompt ratio."""
        estimator = CostEstimator()
        estimator.observe(0, 50, 10)
        assert estimator.ratio == 1.0

    def test_typical_completion_follows_observations(self) -> None:
        """The first completion replaces the default; later ones are averaged in."""
        estimator = CostEstimator()
        estimator.observe(10, 10, 100)
        assert estimator.typical_completion == 100
        estimator.observe(10, 10, 200)
        assert estimator.typical_completion == 120
        assert estimator.estimate(10, None) == 130

    def test_negative_observations_are_rejected(self) -> None:
        """Negative usage counts raise ValueError naming them."""
        with pytest.raises(ValueError, match="actual_completion_tokens=-3"):
            CostEstimator().observe(10, 10, -3)

    def test_repr(self) -> None:
        """The repr shows the calibration."""
        assert repr(CostEstimator()) == "<CostEstimator ratio 1.000, typical completion 256, 0 observations>"

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"default_completion": -1}, "default_completion=-1"),
            ({"smoothing": 0.0}, "smoothing=0.0"),
            ({"min_ratio": 2.0}, "min_ratio=2.0"),
            ({"max_ratio": 0.5}, "max_ratio=0.5"),
        ],
    )
    def test_bad_settings_are_named(self, kwargs: dict[str, float], message: str) -> None:
        """Invalid settings raise ValueError naming the argument."""
        with pytest.raises(ValueError, match=message):
            CostEstimator(**kwargs)  # type: ignore[arg-type]

    @given(
        st.lists(
            st.tuples(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(0, 10_000)), min_size=1, max_size=30
        )
    )
    def test_ratio_stays_in_bounds(self, observations: list[tuple[int, int, int]]) -> None:
        """Whatever is observed, the ratio stays within [0.25, 4] and estimates stay non-negative."""
        estimator = CostEstimator()
        for prompt_estimate, prompt, completion in observations:
            estimator.observe(prompt_estimate, prompt, completion)
            assert 0.25 <= estimator.ratio <= 4.0
            assert estimator.estimate(prompt_estimate, None) >= 0

    @given(st.integers(1, 10_000), st.integers(1, 10_000))
    def test_converges_to_a_steady_ratio(self, prompt_estimate: int, actual: int) -> None:
        """Repeating the same observation converges on its (clamped) ratio."""
        estimator = CostEstimator()
        for _ in range(200):
            estimator.observe(prompt_estimate, actual, 0)
        assert estimator.ratio == pytest.approx(min(4.0, max(0.25, actual / prompt_estimate)), rel=1e-6)
