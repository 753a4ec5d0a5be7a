"""The circuit breaker: a failure *rate* over a send-ordered window, probe rounds, full state asserted."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from actors._breaker import (
    PROBE,
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


def tripped(now: float = 0.0, **settings: object) -> CircuitBreaker:
    """A breaker (defaults unless told) opened at ``now`` by ``minimum_calls`` failures."""
    breaker = CircuitBreaker(**settings)  # type: ignore[arg-type]
    for _ in range(breaker.minimum_calls):
        breaker.record_failure(now)
    assert breaker.state_at(now) is OPEN
    return breaker


def run(breaker: CircuitBreaker, pattern: str, now: float = 0.0) -> None:
    """Feed outcomes without tickets: ``s`` a success, ``f`` a failure."""
    for outcome in pattern:
        (breaker.record_success if outcome == "s" else breaker.record_failure)(now)


class TestTransitionTable:
    def test_legal_moves(self) -> None:
        """The table encodes closed -> open -> half-open -> closed, and half-open -> open on a failed round."""
        assert next_state(CLOSED, BreakerEvent.TRIP) is OPEN
        assert next_state(OPEN, BreakerEvent.COOL_DOWN) is HALF_OPEN
        assert next_state(HALF_OPEN, BreakerEvent.RECOVER) is CLOSED
        assert next_state(HALF_OPEN, BreakerEvent.RELAPSE) is OPEN

    def test_a_single_half_open_failure_is_not_a_transition(self) -> None:
        """Unlike the old breaker, a probe failure that does not settle the round keeps it half-open."""
        assert next_state(HALF_OPEN, BreakerEvent.FAILURE) is HALF_OPEN

    @pytest.mark.parametrize(
        ("state", "event"),
        [(s, e) for s in BreakerState for e in BreakerEvent if (s, e) not in TRANSITIONS],
    )
    def test_illegal_moves_raise(self, state: BreakerState, event: BreakerEvent) -> None:
        """Every pair missing from the table raises "can't handle X in state Y"."""
        with pytest.raises(BreakerProtocolError, match=f"can't handle {event.name} in state {state.name}"):
            next_state(state, event)

    def test_illegal_pairs_exist(self) -> None:
        """The table is not total: e.g. a cool-down while closed, or a trip while open, is a bug."""
        assert (CLOSED, BreakerEvent.COOL_DOWN) not in TRANSITIONS
        assert (OPEN, BreakerEvent.TRIP) not in TRANSITIONS


class TestClosed:
    def test_starts_closed(self) -> None:
        """A new breaker is closed, with nothing counted."""
        breaker = CircuitBreaker()
        assert breaker.statistics() == stats()
        assert breaker.allow(0.0)
        assert breaker.seconds_until_retry(0.0) == 0.0

    def test_fewer_than_minimum_calls_never_open_it(self) -> None:
        """Nineteen failures in a row are not judged; the twentieth opens it at that time."""
        breaker = CircuitBreaker()
        run(breaker, "f" * 19)
        assert breaker.statistics() == stats(window_calls=19, window_failures=19, total_failures=19)
        breaker.record_failure(5.0)
        assert breaker.statistics() == stats(
            OPEN, window_calls=20, window_failures=20, opened_at=5.0, outage_started_at=5.0, times_opened=1,
            total_failures=20,
        )  # fmt: skip

    def test_consecutive_failures_do_not_open_it(self) -> None:
        """Eight failures in a row after 80 successes are 9 % of the window: the old breaker tripped at five."""
        breaker = CircuitBreaker()
        run(breaker, "s" * 80 + "f" * 8)
        assert breaker.statistics() == stats(window_calls=88, window_failures=8, total_failures=8, total_successes=80)

    def test_it_opens_when_half_the_window_failed(self) -> None:
        """Ten successes then ten failures: the twentieth outcome makes it 50 % of 20, and it opens."""
        breaker = CircuitBreaker()
        run(breaker, "s" * 10 + "f" * 9)
        assert breaker.state_at(0.0) is CLOSED
        breaker.record_failure(1.0)
        assert breaker.statistics().state is OPEN

    def test_a_success_never_opens_it(self) -> None:
        """Nineteen failures then a success (95 % of 20) stay closed; the next failure (20 of 21) opens it."""
        breaker = CircuitBreaker()
        run(breaker, "f" * 19 + "s")
        assert breaker.state_at(0.0) is CLOSED
        breaker.record_failure(0.0)
        assert breaker.state_at(0.0) is OPEN

    def test_a_steady_ten_percent_never_opens_it(self) -> None:
        """Every tenth request failing, for 10,000 requests, leaves it closed with 10 % in the window."""
        breaker = CircuitBreaker()
        for index in range(10_000):
            ticket = breaker.admit(float(index))
            (breaker.record_failure if index % 10 == 9 else breaker.record_success)(float(index), ticket)
        assert breaker.statistics() == stats(
            window_calls=100, window_failures=10, total_failures=1000, total_successes=9000
        )

    def test_the_window_forgets_the_oldest_outcomes(self) -> None:
        """Memory is bounded: 100 slots, and 40 old failures leave the window as new outcomes push in."""
        breaker = CircuitBreaker()
        run(breaker, "s" * 60 + "f" * 40 + "s" * 100)
        assert breaker.statistics() == stats(window_calls=100, total_failures=40, total_successes=160)
        assert len(breaker._slot_ticket) == len(breaker._slot_state) == 100

    def test_failures_are_judged_in_the_order_requests_were_sent(self) -> None:
        """64 requests sent, 27 quick failures sent after them fail first: 27 of 91 sent is 30 %, no trip."""
        breaker = CircuitBreaker()
        slow = [breaker.admit(0.0) for _ in range(64)]
        for _ in range(27):
            breaker.record_failure(0.01, breaker.admit(0.01))
        assert breaker.statistics() == stats(window_calls=27, window_failures=27, window_pending=64, total_failures=27)
        for ticket in slow:
            breaker.record_success(0.3, ticket)
        assert breaker.statistics() == stats(window_calls=91, window_failures=27, total_failures=27, total_successes=64)

    def test_the_same_burst_judged_by_arrival_would_trip(self) -> None:
        """Without tickets those 27 failures come first and look like an outage (why tickets exist)."""
        breaker = CircuitBreaker()
        run(breaker, "f" * 27)
        assert breaker.state_at(0.0) is OPEN

    def test_requests_in_flight_count_as_not_failed(self) -> None:
        """With 64 requests sent together and every answer a failure, it opens when 32 of the 64 have failed."""
        breaker = CircuitBreaker()
        pending = [breaker.admit(0.0) for _ in range(64)]
        for index, ticket in enumerate(pending):
            breaker.record_failure(1.0, ticket)
            if breaker.state_at(1.0) is OPEN:
                break
        assert index + 1 == 32  # 32 failed of 64 sent: 50 %

    def test_an_unknown_or_stale_ticket_counts_as_sent_now(self) -> None:
        """A ticket that left the window (100 sends later), or a repeated one, is a new entry, not a lost one."""
        breaker = CircuitBreaker()
        old = breaker.admit(0.0)
        for _ in range(100):
            breaker.record_success(0.0, breaker.admit(0.0))
        breaker.record_failure(0.0, old)
        assert breaker.statistics() == stats(window_calls=100, window_failures=1, total_failures=1, total_successes=100)
        fresh = breaker.admit(0.0)
        breaker.record_success(0.0, fresh)
        breaker.record_success(0.0, fresh)
        assert breaker.statistics() == stats(window_calls=100, window_failures=1, total_failures=1, total_successes=102)

    def test_a_lost_ticket_leaves_the_window_in_its_turn(self) -> None:
        """A request whose outcome never comes is pending until 100 later requests push it out."""
        breaker = CircuitBreaker()
        breaker.admit(0.0)
        assert breaker.statistics().window_pending == 1
        for _ in range(100):
            breaker.record_success(0.0, breaker.admit(0.0))
        assert breaker.statistics() == stats(window_calls=100, total_successes=100)


class TestOpen:
    def test_refuses_and_says_how_long(self) -> None:
        """While open, admit() says no and seconds_until_retry counts down the open period."""
        breaker = tripped(10.0)
        assert breaker.admit(20.0) is None
        assert breaker.seconds_until_retry(20.0) == 20.0
        assert breaker.statistics() == stats(
            OPEN, window_calls=20, window_failures=20, opened_at=10.0, outage_started_at=10.0, times_opened=1,
            total_failures=20, rejected=1,
        )  # fmt: skip

    def test_late_results_change_nothing(self) -> None:
        """Outcomes of requests sent before the trip are counted but neither close nor extend the open period."""
        breaker = tripped(0.0)
        breaker.record_success(1.0)
        breaker.record_failure(2.0)
        assert breaker.statistics() == stats(
            OPEN, window_calls=20, window_failures=20, opened_at=0.0, outage_started_at=0.0, times_opened=1,
            total_failures=21, total_successes=1,
        )  # fmt: skip
        assert breaker.seconds_until_retry(2.0) == 28.0

    def test_becomes_half_open_after_open_seconds(self) -> None:
        """Exactly open_seconds after opening, the breaker is half-open."""
        breaker = tripped(0.0)
        assert breaker.state_at(29.999) is OPEN
        assert breaker.state_at(30.0) is HALF_OPEN
        assert breaker.seconds_until_retry(30.0) == 0.0


class TestHalfOpen:
    def test_probes_are_limited_to_half_open_probes(self) -> None:
        """Five probe permits per round; the sixth request is refused until a permit lapses."""
        breaker = tripped(0.0)
        assert [breaker.admit(30.0) for _ in range(6)] == [PROBE] * 5 + [None]
        assert breaker.statistics() == stats(
            HALF_OPEN, window_calls=20, window_failures=20, probes_in_flight=5, opened_at=0.0, outage_started_at=0.0,
            times_opened=1, total_failures=20, rejected=1,
        )  # fmt: skip
        assert breaker.seconds_until_retry(31.0) == 29.0

    def test_a_settled_probe_does_not_free_another_permit(self) -> None:
        """A round is five probes in all, not five at a time: a settled probe leaves four to judge."""
        breaker = tripped(0.0)
        for _ in range(5):
            breaker.admit(30.0)
        breaker.record_success(31.0)
        assert breaker.admit(31.0) is None

    def test_one_failed_probe_of_five_does_not_reopen_it(self) -> None:
        """A failure then three successes: 1 of 5 can at most become 2 of 5, below 50 %, so it closes."""
        breaker = tripped(0.0)
        for _ in range(5):
            breaker.admit(30.0)
        breaker.record_failure(31.0)
        breaker.record_success(31.0)
        breaker.record_success(31.0)
        assert breaker.statistics() == stats(
            HALF_OPEN, window_calls=20, window_failures=20, probe_successes=2, probe_failures=1, probes_in_flight=2,
            opened_at=0.0, outage_started_at=0.0, times_opened=1, total_failures=21, total_successes=2,
        )  # fmt: skip
        breaker.record_success(32.0)
        assert breaker.statistics() == stats(opened_at=0.0, times_opened=1, total_failures=21, total_successes=3)
        assert breaker.admit(32.0) == 20  # a clean window; tickets keep counting

    def test_three_failed_probes_of_five_reopen_it_for_a_full_period(self) -> None:
        """At the third failure the round cannot be below 50 %: open again from that moment, same outage."""
        breaker = tripped(0.0)
        for _ in range(5):
            breaker.admit(30.0)
        run(breaker, "fsf", now=31.0)
        assert breaker.statistics().state is HALF_OPEN
        breaker.record_failure(35.0)
        assert breaker.statistics() == stats(
            OPEN, window_calls=20, window_failures=20, opened_at=35.0, outage_started_at=0.0, times_opened=2,
            total_failures=23, total_successes=1,
        )  # fmt: skip
        assert breaker.seconds_until_retry(35.0) == 30.0
        assert breaker.state_at(65.0) is HALF_OPEN

    def test_a_single_probe_decides_alone(self) -> None:
        """With half_open_probes=1 the first probe's failure re-opens it and its success closes it."""
        breaker = tripped(0.0, minimum_calls=2, half_open_probes=1)
        assert breaker.admit(30.0) == PROBE and breaker.admit(30.0) is None
        breaker.record_failure(30.5)
        assert breaker.statistics().state is OPEN
        breaker.record_success(60.5)
        assert breaker.statistics().state is CLOSED

    def test_lost_probes_lapse(self) -> None:
        """A probe whose outcome never comes gives its permit back after probe_timeout."""
        breaker = tripped(0.0, minimum_calls=1, half_open_probes=1, open_seconds=10.0, probe_timeout=5.0)
        assert breaker.allow(10.0)
        assert not breaker.allow(14.0)
        assert breaker.seconds_until_retry(14.0) == 1.0
        assert breaker.allow(15.0)

    def test_closing_ends_the_outage(self) -> None:
        """outage_started_at spans re-opens and clears when the breaker closes."""
        breaker = tripped(0.0, half_open_probes=1)
        breaker.record_failure(30.0)
        assert breaker.outage_started_at == 0.0
        breaker.record_success(60.0)
        assert breaker.outage_started_at is None


class TestMisc:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"minimum_calls": 0}, "minimum_calls=0"),
            ({"window_size": 10}, "window_size=10 must be at least minimum_calls=20"),
            ({"half_open_probes": 0}, "half_open_probes=0"),
            ({"failure_rate": 0.0}, "failure_rate=0.0"),
            ({"failure_rate": 1.5}, "failure_rate=1.5"),
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

    def test_failure_share_counts_pending_requests_as_not_failed(self) -> None:
        """The share is failures over requests sent (answered or not)."""
        assert stats(window_calls=2, window_failures=1, window_pending=2).failure_share == 0.25
        assert stats().failure_share == 0.0

    def test_repr(self) -> None:
        """The repr names the state and its progress."""
        breaker = CircuitBreaker()
        breaker.record_failure(0.0)
        breaker.admit(0.0)
        assert repr(breaker) == "<CircuitBreaker CLOSED, 1 of 2 failed, 1 pending (opens at 50% once 20 answered)>"
        assert repr(tripped(3.0)) == "<CircuitBreaker OPEN, opened at 3, for 30 s>"
        half = tripped(0.0)
        half.allow(30.0)
        assert repr(half) == "<CircuitBreaker HALF_OPEN, 0 ok, 0 failed of 5 probes, 1 in flight>"


@given(st.lists(st.booleans(), min_size=1, max_size=400))
def test_it_opens_exactly_when_the_rule_says(outcomes: list[bool]) -> None:
    """Fed untagged outcomes, the breaker opens on the first failure after which >= 20 of the last
    100 are in and at least half of them failed; never on a success."""
    breaker = CircuitBreaker()
    window: list[bool] = []
    for failed in outcomes:
        (breaker.record_failure if failed else breaker.record_success)(0.0)
        window = (window + [failed])[-100:]
        expected = failed and len(window) >= 20 and sum(window) / len(window) >= 0.5
        assert (breaker.state_at(0.0) is OPEN) == expected
        if expected:
            return


class BreakerMachine(RuleBasedStateMachine):
    """Drives a small breaker with tickets, outcomes and clock steps, against a plain reference model."""

    RATE, MINIMUM, SIZE, PROBES, OPEN_FOR, LAPSE = 0.5, 3, 5, 3, 10.0, 4.0

    def __init__(self) -> None:
        super().__init__()
        self.breaker = CircuitBreaker(
            failure_rate=self.RATE, minimum_calls=self.MINIMUM, window_size=self.SIZE,
            half_open_probes=self.PROBES, open_seconds=self.OPEN_FOR, probe_timeout=self.LAPSE,
        )  # fmt: skip
        self.now = 0.0
        self.tickets: list[int] = []  # tickets handed out, for outcomes to pick from
        # the reference model
        self.state = CLOSED
        self.next_ticket = 0
        self.window: list[list[int]] = []  # [ticket, 0 pending / 1 ok / 2 failed], oldest first, at most SIZE
        self.probes: list[float] = []
        self.ok = self.failed = 0
        self.opened_at: float | None = None
        self.outage: float | None = None
        self.times_opened = 0

    def _cool_down(self) -> None:
        if self.state is OPEN and self.opened_at is not None and self.now >= self.opened_at + self.OPEN_FOR:
            self.state, self.probes, self.ok, self.failed = HALF_OPEN, [], 0, 0
        if self.state is HALF_OPEN:
            self.probes = [t for t in self.probes if t + self.LAPSE > self.now]

    def _open(self) -> None:
        if self.state is CLOSED:
            self.outage = self.now
        self.state, self.opened_at, self.probes, self.ok, self.failed = OPEN, self.now, [], 0, 0
        self.times_opened += 1

    def _send(self) -> int:
        ticket = self.next_ticket
        self.next_ticket += 1
        self.window = (self.window + [[ticket, 0]])[-self.SIZE:]
        return ticket

    def _resolve(self, ticket: int | None, outcome: int) -> None:
        slot = next((s for s in self.window if s[0] == ticket and s[1] == 0), None)
        if slot is None:
            self._send()
            slot = self.window[-1]
        slot[1] = outcome

    def _settle(self, outcome: int) -> None:
        self.probes = self.probes[1:]
        if outcome == 1:
            self.ok += 1
            if (self.PROBES - self.ok) / self.PROBES < self.RATE:
                self.state, self.window, self.probes, self.ok, self.failed, self.outage = CLOSED, [], [], 0, 0, None
        else:
            self.failed += 1
            if self.failed / self.PROBES >= self.RATE:
                self._open()

    @rule(dt=st.sampled_from([0.0, 0.5, 1.0, 3.999, 4.0, 9.999, 10.0, 25.0]))
    def advance(self, dt: float) -> None:
        self.now += dt

    @rule()
    def admit(self) -> None:
        self._cool_down()
        got = self.breaker.admit(self.now)
        if self.state is CLOSED:
            assert got == self._send()
            self.tickets.append(got)
        elif self.state is HALF_OPEN and self.PROBES - self.ok - self.failed - len(self.probes) > 0:
            self.probes.append(self.now)
            assert got == PROBE
        else:
            assert got is None

    @rule(outcome=st.sampled_from([1, 2]), pick=st.integers(min_value=-1, max_value=30))
    def record(self, outcome: int, pick: int) -> None:
        """An outcome with one of the tickets handed out (or none, for pick -1 or past the list)."""
        self._cool_down()
        ticket = self.tickets[pick] if 0 <= pick < len(self.tickets) else None
        (self.breaker.record_success if outcome == 1 else self.breaker.record_failure)(self.now, ticket)
        if self.state is CLOSED:
            self._resolve(ticket, outcome)
            calls = sum(1 for s in self.window if s[1])
            failures = sum(1 for s in self.window if s[1] == 2)
            if outcome == 2 and calls >= self.MINIMUM and failures / len(self.window) >= self.RATE:
                self._open()
        elif self.state is HALF_OPEN:
            self._settle(outcome)

    @invariant()
    def matches_the_model(self) -> None:
        self._cool_down()
        got = self.breaker.statistics(self.now)
        assert got == BreakerStatistics(
            state=self.state,
            window_calls=sum(1 for s in self.window if s[1]),
            window_failures=sum(1 for s in self.window if s[1] == 2),
            window_pending=sum(1 for s in self.window if not s[1]),
            probe_successes=self.ok,
            probe_failures=self.failed,
            probes_in_flight=len(self.probes),
            opened_at=self.opened_at,
            outage_started_at=self.outage,
            times_opened=self.times_opened,
            total_successes=got.total_successes,
            total_failures=got.total_failures,
            rejected=got.rejected,
        )
        assert got.window_calls + got.window_pending <= self.SIZE
        assert got.probes_in_flight + got.probe_successes + got.probe_failures <= self.PROBES


TestBreakerMachine = BreakerMachine.TestCase
TestBreakerMachine.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
