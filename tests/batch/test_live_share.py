"""The live lanes' share of an ``auto`` batch (`orchestrator.batch._live_share`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors._budget import ModelLimits
from orchestrator.batch._live_share import LiveShare


def limits(**windows: int) -> ModelLimits:
    return ModelLimits(**windows)


def test_requests_per_minute_bound_the_share() -> None:
    share = LiveShare(lambda model: limits(rpm=30), 10 * 60, safety=1.0)
    taken = [share.take("m", 10) for _ in range(400)]
    assert sum(taken) == 300  # 30 a minute for 10 minutes
    assert taken[:300] == [True] * 300 and not any(taken[300:])
    assert (share.live, share.batch) == (300, 100)


def test_tokens_per_minute_bound_the_share_and_a_smaller_job_still_fits() -> None:
    share = LiveShare(lambda model: limits(tpm=1_000), 60, safety=1.0)
    assert share.take("m", 900)
    assert not share.take("m", 200)  # 100 left
    assert share.take("m", 100)


def test_the_day_limit_caps_a_long_deadline() -> None:
    share = LiveShare(lambda model: limits(rpm=1_000, rpd=50), 6 * 3600, safety=1.0)
    assert sum(share.take("m", 1) for _ in range(100)) == 50


def test_models_have_their_own_capacity() -> None:
    table = {"a": limits(rpm=1), "b": limits(rpm=2)}
    share = LiveShare(table.__getitem__, 60, safety=1.0)
    assert [share.take("a", 1) for _ in range(2)] == [True, False]
    assert [share.take("b", 1) for _ in range(3)] == [True, True, False]


def test_unknown_limits_give_the_live_lanes_everything() -> None:
    share = LiveShare(lambda model: limits(), 60)
    assert all(share.take("m", 10**9) for _ in range(1_000))


def test_the_safety_margin_is_applied() -> None:
    share = LiveShare(lambda model: limits(rpm=100), 60)
    assert sum(share.take("m", 1) for _ in range(100)) == 80


@pytest.mark.parametrize(("deadline", "safety"), [(0, 0.8), (-1, 0.8), (60, 0), (60, 1.5)])
def test_bad_arguments_are_refused(deadline: float, safety: float) -> None:
    with pytest.raises(ValueError):
        LiveShare(lambda model: limits(), deadline, safety=safety)


@given(
    rpm=st.integers(1, 500), tpm=st.integers(1, 100_000), minutes=st.integers(1, 120),
    costs=st.lists(st.integers(0, 5_000), max_size=300),
)
def test_the_share_never_exceeds_the_limits(rpm: int, tpm: int, minutes: int, costs: list[int]) -> None:
    share = LiveShare(lambda model: limits(rpm=rpm, tpm=tpm), minutes * 60)
    taken = [cost for cost in costs if share.take("m", cost)]
    assert len(taken) <= rpm * minutes * 0.8
    assert sum(taken) <= tpm * minutes * 0.8
    assert share.live + share.batch == len(costs)
