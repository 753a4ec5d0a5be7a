"""The circuit breaker: table-driven transitions, probe permits, full state asserted after every call."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors._breaker import (
    TRANSITIONS,
    BreakerEvent,
    BreakerProtocolError,
    BreakerState,
    BreakerStatistics,
    CircuitBreaker,
    next_state,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def stats(state: BreakerState = CLOSED, **fields: object) -> BreakerStatistics:
    """The expected full state, with zero/None defaults for everything not named."""
    return BreakerStatistics(state=state, **fields)  # type: ignore[arg-type]


def tripped(now: float = 0.0) -> CircuitBreaker:
    """A default breaker opened at ``now`` by five failures."""
    breaker = CircuitBreaker()
    for _ in range(5):
        breaker.record_failure(now)
    return breaker


class TestTransitionTable:
    def test_legal_moves(self) -> None:
        """The table encodes the spec's closed -> open -> half-open -> closed cycle."""
        assert next_state(CLOSED, BreakerEvent.TRIP) is OPEN
        assert next_state(OPEN, BreakerEvent.COOL_DOWN) is HALF_OPEN
        assert next_state(HALF_OPEN, BreakerEvent.RECOVER) is CLOSED
        assert next_state(HALF_OPEN, BreakerEvent.FAILURE) is OPEN

    @pytest.mark.parametrize(
        ("state", "event"),
        [(s, e) for s in BreakerState for e in BreakerEvent if (s, e) not in TRANSITIONS],
    )
    def test_illegal_moves_raise(self, state: BreakerState, event: BreakerEvent) -> None:
        """Every pair missing from the table raises "can't handle X in state Y"."""
        with pytest.raises(BreakerProtocolError, match=f"can't handle {event.name} in state {state.name}"):
            next_state(state, event)

    def test_illegal_pairs_exist(self) -> None:
        """The table is not total: e.g. a cool-down while closed is a bug."""
        assert (CLOSED, BreakerEvent.COOL_DOWN) not in TRANSITIONS


class TestClosed:
    def test_starts_closed(self) -> None:
        """A new breaker is closed, with nothing counted."""
        breaker = CircuitBreaker()
        assert breaker.statistics() == stats()
        assert breaker.allow(0.0)
        assert breaker.seconds_until_retry(0.0) == 0.0

    def test_five_consecutive_failures_open_it(self) -> None:
        """Failures count up and the fifth trips the breaker at that time."""
        breaker = CircuitBreaker()
        for count in range(1, 5):
            breaker.record_failure(float(count))
            assert breaker.statistics() == stats(consecutive_failures=count, total_failures=count)
        breaker.record_failure(5.0)
        assert breaker.statistics() == stats(
            OPEN, consecutive_failures=5, opened_at=5.0, times_opened=1, total_failures=5
        )

    def test_a_success_resets_the_count(self) -> None:
        """Only consecutive failures count: a success in between starts over."""
        breaker = CircuitBreaker()
        for _ in range(4):
            breaker.record_failure(0.0)
        breaker.record_success(1.0)
        assert breaker.statistics() == stats(total_failures=4, total_successes=1)
        for _ in range(4):
            breaker.record_failure(2.0)
        assert breaker.statistics() == stats(consecutive_failures=4, total_failures=8, total_successes=1)


class TestOpen:
    def test_refuses_and_says_how_long(self) -> None:
        """While open, allow() says no and seconds_until_retry counts down the open period."""
        breaker = tripped(10.0)
        assert not breaker.allow(20.0)
        assert breaker.seconds_until_retry(20.0) == 20.0
        assert breaker.statistics() == stats(
            OPEN, consecutive_failures=5, opened_at=10.0, times_opened=1, total_failures=5, rejected=1
        )

    def test_late_results_change_nothing(self) -> None:
        """Outcomes of requests sent before the trip are counted but neither close nor extend the open period."""
        breaker = tripped(0.0)
        breaker.record_success(1.0)
        breaker.record_failure(2.0)
        assert breaker.statistics() == stats(
            OPEN, consecutive_failures=5, opened_at=0.0, times_opened=1, total_failures=6, total_successes=1
        )
        assert breaker.seconds_until_retry(2.0) == 28.0

    def test_becomes_half_open_after_open_seconds(self) -> None:
        """Exactly open_seconds after opening, the breaker is half-open."""
        breaker = tripped(0.0)
        assert breaker.state_at(29.999) is OPEN
        assert breaker.state_at(30.0) is HALF_OPEN
        assert breaker.seconds_until_retry(30.0) == 0.0


class TestHalfOpen:
    def test_probes_are_limited_to_success_threshold(self) -> None:
        """At most success_threshold probes may be in flight; the fourth is refused."""
        breaker = tripped(0.0)
        assert [breaker.allow(30.0) for _ in range(4)] == [True, True, True, False]
        assert breaker.statistics() == stats(
            HALF_OPEN, consecutive_failures=5, probes_in_flight=3, opened_at=0.0, times_opened=1,
            total_failures=5, rejected=1,
        )  # fmt: skip
        assert breaker.seconds_until_retry(31.0) == 29.0

    def test_three_successes_close_it(self) -> None:
        """Three consecutive probe successes close the breaker and clear the counters."""
        breaker = tripped(0.0)
        for _ in range(3):
            assert breaker.allow(30.0)
        breaker.record_success(31.0)
        breaker.record_success(31.0)
        assert breaker.statistics() == stats(
            HALF_OPEN, consecutive_failures=5, consecutive_successes=2, probes_in_flight=1, opened_at=0.0,
            times_opened=1, total_failures=5, total_successes=2,
        )  # fmt: skip
        breaker.record_success(32.0)
        assert breaker.statistics() == stats(opened_at=0.0, times_opened=1, total_failures=5, total_successes=3)
        assert breaker.allow(32.0)

    def test_a_settled_probe_frees_a_permit(self) -> None:
        """When one probe succeeds, another may go."""
        breaker = tripped(0.0)
        for _ in range(3):
            breaker.allow(30.0)
        breaker.record_success(31.0)
        assert breaker.allow(31.0)
        assert not breaker.allow(31.0)

    def test_any_failure_reopens_for_a_full_period(self) -> None:
        """A probe failure re-opens the breaker from that moment."""
        breaker = tripped(0.0)
        breaker.allow(30.0)
        breaker.record_success(31.0)
        breaker.allow(31.0)
        breaker.record_failure(35.0)
        assert breaker.statistics() == stats(
            OPEN, consecutive_failures=5, opened_at=35.0, times_opened=2, total_failures=6, total_successes=1
        )
        assert breaker.seconds_until_retry(35.0) == 30.0
        assert breaker.state_at(65.0) is HALF_OPEN

    def test_lost_probes_lapse(self) -> None:
        """A probe whose outcome never comes gives its permit back after probe_timeout."""
        breaker = CircuitBreaker(failure_threshold=1, success_threshold=1, open_seconds=10.0, probe_timeout=5.0)
        breaker.record_failure(0.0)
        assert breaker.allow(10.0)
        assert not breaker.allow(14.0)
        assert breaker.seconds_until_retry(14.0) == 1.0
        assert breaker.allow(15.0)

    def test_success_after_the_open_period_counts_as_probe_success(self) -> None:
        """A result arriving after the open period is judged in HALF_OPEN even if nobody asked allow()."""
        breaker = CircuitBreaker(success_threshold=1)
        for _ in range(5):
            breaker.record_failure(0.0)
        breaker.record_success(30.0)
        assert breaker.statistics().state is CLOSED


class TestMisc:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"failure_threshold": 0}, "failure_threshold=0"),
            ({"success_threshold": 0}, "success_threshold=0"),
            ({"open_seconds": 0.0}, "open_seconds=0.0"),
            ({"probe_timeout": -1.0}, "probe_timeout=-1.0"),
        ],
    )
    def test_bad_settings_are_named(self, kwargs: dict[str, float], message: str) -> None:
        """Invalid settings raise ValueError naming the argument and value."""
        with pytest.raises(ValueError, match=message):
            CircuitBreaker(**kwargs)  # type: ignore[arg-type]

    def test_statistics_with_now_updates_the_state(self) -> None:
        """statistics(now) reports HALF_OPEN once the open period has passed."""
        assert tripped(0.0).statistics(30.0).state is HALF_OPEN

    def test_repr(self) -> None:
        """The repr names the state and its progress."""
        breaker = CircuitBreaker()
        breaker.record_failure(0.0)
        assert repr(breaker) == "<CircuitBreaker CLOSED, 1/5 failures>"
        assert repr(tripped(3.0)) == "<CircuitBreaker OPEN, opened at 3, for 30 s>"
        half = tripped(0.0)
        half.allow(30.0)
        assert repr(half) == "<CircuitBreaker HALF_OPEN, 0/3 successes, 1 probes>"


class BreakerMachine(RuleBasedStateMachine):
    """Drives a breaker with random outcomes and clock steps, against a plain reference model."""

    def __init__(self) -> None:
        super().__init__()
        self.breaker = CircuitBreaker(failure_threshold=3, success_threshold=2, open_seconds=10.0, probe_timeout=4.0)
        self.now = 0.0
        # the reference model
        self.state = CLOSED
        self.failures = 0
        self.successes = 0
        self.opened_at: float | None = None
        self.probes: list[float] = []
        self.times_opened = 0

    def _cool_down(self) -> None:
        if self.state is OPEN and self.opened_at is not None and self.now >= self.opened_at + 10.0:
            self.state, self.successes, self.probes = HALF_OPEN, 0, []
        if self.state is HALF_OPEN:
            self.probes = [t for t in self.probes if t + 4.0 > self.now]

    def _open(self) -> None:
        self.state, self.opened_at, self.successes, self.probes = OPEN, self.now, 0, []
        self.times_opened += 1

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, 3.999, 4.0, 9.999, 10.0, 25.0]))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule()
    def allow(self) -> None:
        self._cool_down()
        expected = self.state is CLOSED or (self.state is HALF_OPEN and len(self.probes) < 2)
        if self.state is HALF_OPEN and expected:
            self.probes.append(self.now)
        assert self.breaker.allow(self.now) == expected

    @rule()
    def success(self) -> None:
        self._cool_down()
        self.breaker.record_success(self.now)
        if self.state is CLOSED:
            self.failures = 0
        elif self.state is HALF_OPEN:
            self.probes = self.probes[1:]
            self.successes += 1
            if self.successes >= 2:
                self.state, self.failures, self.successes, self.probes = CLOSED, 0, 0, []

    @rule()
    def failure(self) -> None:
        self._cool_down()
        self.breaker.record_failure(self.now)
        if self.state is CLOSED:
            self.failures += 1
            if self.failures >= 3:
                self._open()
        elif self.state is HALF_OPEN:
            self._open()

    @precondition(lambda self: self.state is OPEN)
    @rule()
    def open_counts_down(self) -> None:
        self._cool_down()
        wait = self.breaker.seconds_until_retry(self.now)
        if self.state is OPEN:
            assert self.opened_at is not None
            assert wait == self.opened_at + 10.0 - self.now
        else:
            assert wait == 0.0

    @invariant()
    def matches_the_model(self) -> None:
        self._cool_down()
        got = self.breaker.statistics(self.now)

        assert (got.state, got.consecutive_failures, got.consecutive_successes, got.probes_in_flight) == (
            self.state,
            self.failures,
            self.successes,
            len(self.probes),
        )
        assert (got.opened_at, got.times_opened) == (self.opened_at, self.times_opened)
        assert got.probes_in_flight <= 2
        if got.state is CLOSED:
            assert got.consecutive_failures < 3


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
