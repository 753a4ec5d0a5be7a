"""The circuit breaker (spec NFR-REL-002): stop sending to a server that keeps failing.

Theory of operation
-------------------
Three states, as in the spec and in every circuit breaker since Nygard's *Release It!*:

- ``CLOSED``: normal operation. Failures are counted; a success resets the count. When
  ``failure_threshold`` (5) *consecutive* failures have been seen, the breaker trips to OPEN.
- ``OPEN``: requests are refused (the gate holds jobs or fails them fast, by configuration)
  for ``open_seconds`` (30 s). Results of requests sent before the trip may still arrive; they
  are counted in the totals but change nothing.
- ``HALF_OPEN``: after the open period, a few probe requests may go (at most
  ``success_threshold`` in flight at once). ``success_threshold`` (3) consecutive successes
  close the breaker; any failure re-opens it for another full period.

Rule 1: everything that affects the state lives here. The caller decides what counts as a
failure: only server trouble (5xx, 498, timeouts, broken connections). A 429 or a 4xx is the
server answering clearly, so it is reported as a success or not at all.

Rule 2: transitions are data. :data:`TRANSITIONS` maps ``(state, event)`` to the next state,
like h11's ``EVENT_TRIGGERED_TRANSITIONS``; the counting methods only decide *which* event
happened (a failure, or the failure that reaches the threshold: ``TRIP``). A pair that is not in
the table raises :class:`BreakerProtocolError` ("can't handle X in state Y"): that is a bug.

Rule 3: no clock and no IO. Every method takes ``now``. The OPEN -> HALF_OPEN move happens
lazily, the first time the breaker is consulted after the open period (``COOL_DOWN``).

A probe permit is taken by :meth:`CircuitBreaker.allow` and given back by the next
``record_*`` call. A probe whose outcome never arrives (its job was cancelled) would hold its
permit forever, so permits lapse after ``probe_timeout`` seconds (default: ``open_seconds``).
"""

from __future__ import annotations

import enum
from typing import Final

import msgspec

__all__ = [
    "TRANSITIONS",
    "BreakerEvent",
    "BreakerProtocolError",
    "BreakerState",
    "BreakerStatistics",
    "CircuitBreaker",
    "next_state",
]


class BreakerState(enum.Enum):
    """Where the breaker is: letting traffic through, refusing it, or probing."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class BreakerEvent(enum.Enum):
    """What happened, as the transition table sees it."""

    SUCCESS = "success"  # a request succeeded (not the one that reaches success_threshold)
    FAILURE = "failure"  # a request failed (not the one that reaches failure_threshold)
    TRIP = "trip"  # the failure that reaches failure_threshold consecutive failures
    COOL_DOWN = "cool_down"  # open_seconds have passed since the breaker opened
    RECOVER = "recover"  # the success that reaches success_threshold consecutive successes


CLOSED: Final = BreakerState.CLOSED
OPEN: Final = BreakerState.OPEN
HALF_OPEN: Final = BreakerState.HALF_OPEN

TRANSITIONS: Final[dict[tuple[BreakerState, BreakerEvent], BreakerState]] = {
    (CLOSED, BreakerEvent.SUCCESS): CLOSED,
    (CLOSED, BreakerEvent.FAILURE): CLOSED,
    (CLOSED, BreakerEvent.TRIP): OPEN,
    # Late results of requests sent before the trip: noted, no effect (the open period is not extended).
    (OPEN, BreakerEvent.SUCCESS): OPEN,
    (OPEN, BreakerEvent.FAILURE): OPEN,
    (OPEN, BreakerEvent.COOL_DOWN): HALF_OPEN,
    (HALF_OPEN, BreakerEvent.SUCCESS): HALF_OPEN,
    (HALF_OPEN, BreakerEvent.RECOVER): CLOSED,
    (HALF_OPEN, BreakerEvent.FAILURE): OPEN,
}
"""Every legal move; anything else is a bug in the counting code."""


class BreakerProtocolError(RuntimeError):
    """An event arrived in a state that cannot handle it (a bug, never a server problem)."""


def next_state(state: BreakerState, event: BreakerEvent) -> BreakerState:
    """Look up the state that ``event`` leads to from ``state``.

    Raises:
        BreakerProtocolError: the pair is not in :data:`TRANSITIONS`.
    """
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise BreakerProtocolError(f"can't handle {event.name} in state {state.name}") from None


class BreakerStatistics(msgspec.Struct, frozen=True):
    """A snapshot of a :class:`CircuitBreaker`, for logs, metrics, health checks and tests.

    Attributes:
        state: the state (as of the last call that passed ``now``).
        consecutive_failures: failures since the last success, while CLOSED.
        consecutive_successes: successes since entering HALF_OPEN.
        probes_in_flight: HALF_OPEN permits handed out and not yet settled or lapsed.
        opened_at: when the breaker last opened, or None if it never did.
        times_opened: how many times it has opened (including re-opens from HALF_OPEN).
        total_successes: every success recorded.
        total_failures: every failure recorded.
        rejected: how many times :meth:`CircuitBreaker.allow` said no.
    """

    state: BreakerState
    consecutive_failures: int = 0
    consecutive_successes: int = 0
    probes_in_flight: int = 0
    opened_at: float | None = None
    times_opened: int = 0
    total_successes: int = 0
    total_failures: int = 0
    rejected: int = 0


class CircuitBreaker:
    """Decides whether requests may go to a server, from the recent history of its failures.

    Unlike a rate limit, which is about *our* pace, a breaker is about *the server's* health:
    after repeated server failures, hammering it with retries only deepens the outage and
    burns the retry budget of every job; the breaker pauses traffic and then probes gently.

    Args:
        failure_threshold: consecutive failures that open a closed breaker.
        success_threshold: consecutive half-open successes that close it again; also the
            number of probes allowed in flight at once.
        open_seconds: how long the breaker stays open before probing.
        probe_timeout: after how long an unsettled probe permit lapses (default ``open_seconds``).

    Raises:
        ValueError: a threshold is below 1 or a duration is not positive; the message names it.
    """

    __slots__ = (
        "_consecutive_failures",
        "_consecutive_successes",
        "_opened_at",
        "_probes",
        "_rejected",
        "_state",
        "_times_opened",
        "_total_failures",
        "_total_successes",
        "failure_threshold",
        "open_seconds",
        "probe_timeout",
        "success_threshold",
    )

    def __init__(
        self,
        failure_threshold: int = 5,
        success_threshold: int = 3,
        open_seconds: float = 30.0,
        probe_timeout: float | None = None,
    ) -> None:
        for name, value in (("failure_threshold", failure_threshold), ("success_threshold", success_threshold)):
            if value < 1:
                raise ValueError(f"CircuitBreaker {name}={value!r} must be at least 1")
        if not open_seconds > 0:
            raise ValueError(f"CircuitBreaker open_seconds={open_seconds!r} must be a positive number of seconds")
        if probe_timeout is not None and not probe_timeout > 0:
            raise ValueError(f"CircuitBreaker probe_timeout={probe_timeout!r} must be a positive number of seconds")
        self.failure_threshold = failure_threshold
        self.success_threshold = success_threshold
        self.open_seconds = open_seconds
        self.probe_timeout = open_seconds if probe_timeout is None else probe_timeout
        self._state = CLOSED
        self._consecutive_failures = 0
        self._consecutive_successes = 0
        self._opened_at: float | None = None
        self._probes: list[float] = []  # when each HALF_OPEN permit was taken; at most success_threshold
        self._times_opened = 0
        self._total_successes = 0
        self._total_failures = 0
        self._rejected = 0

    # -- queries ------------------------------------------------------------------------------

    def state_at(self, now: float) -> BreakerState:
        """The state at ``now``: an OPEN breaker whose open period has passed becomes HALF_OPEN."""
        if self._state is OPEN and self._opened_at is not None and now >= self._opened_at + self.open_seconds:
            self._fire(BreakerEvent.COOL_DOWN, now)
        return self._state

    def allow(self, now: float) -> bool:
        """Whether a request may be sent now; in HALF_OPEN a True is a probe permit.

        Every True in HALF_OPEN must be followed by a :meth:`record_success` or
        :meth:`record_failure` for that request (or the permit lapses after ``probe_timeout``).
        """
        state = self.state_at(now)
        if state is CLOSED:
            return True
        if state is HALF_OPEN:
            self._lapse_probes(now)
            if len(self._probes) < self.success_threshold:
                self._probes.append(now)
                return True
        self._rejected += 1
        return False

    def seconds_until_retry(self, now: float) -> float:
        """How long until :meth:`allow` could say yes without any outcome arriving first.

        0.0 when it would say yes now. While OPEN, the rest of the open period. While HALF_OPEN
        with every probe permit taken, the time until the oldest permit lapses; a probe's outcome
        may free a permit sooner, so a caller waiting on this should also wake on outcomes.
        """
        state = self.state_at(now)
        if state is OPEN:
            assert self._opened_at is not None
            return max(0.0, self._opened_at + self.open_seconds - now)
        if state is HALF_OPEN:
            self._lapse_probes(now)
            if len(self._probes) >= self.success_threshold:
                return max(0.0, self._probes[0] + self.probe_timeout - now)
        return 0.0

    def statistics(self, now: float | None = None) -> BreakerStatistics:
        """A snapshot of the counters; with ``now``, the state is brought up to date first."""
        if now is not None:
            self.state_at(now)
            if self._state is HALF_OPEN:
                self._lapse_probes(now)
        return BreakerStatistics(
            state=self._state,
            consecutive_failures=self._consecutive_failures,
            consecutive_successes=self._consecutive_successes,
            probes_in_flight=len(self._probes),
            opened_at=self._opened_at,
            times_opened=self._times_opened,
            total_successes=self._total_successes,
            total_failures=self._total_failures,
            rejected=self._rejected,
        )

    # -- outcomes -----------------------------------------------------------------------------

    def record_success(self, now: float) -> None:
        """A request finished without server trouble."""
        state = self.state_at(now)
        self._total_successes += 1
        if state is CLOSED:
            self._consecutive_failures = 0
            self._fire(BreakerEvent.SUCCESS, now)
        elif state is HALF_OPEN:
            self._settle_probe()
            self._consecutive_successes += 1
            if self._consecutive_successes >= self.success_threshold:
                self._fire(BreakerEvent.RECOVER, now)
            else:
                self._fire(BreakerEvent.SUCCESS, now)
        else:
            self._fire(BreakerEvent.SUCCESS, now)

    def record_failure(self, now: float) -> None:
        """A request failed because of the server (5xx, 498, timeout, broken connection)."""
        state = self.state_at(now)
        self._total_failures += 1
        if state is CLOSED:
            self._consecutive_failures += 1
            if self._consecutive_failures >= self.failure_threshold:
                self._fire(BreakerEvent.TRIP, now)
            else:
                self._fire(BreakerEvent.FAILURE, now)
        else:
            if state is HALF_OPEN:
                self._settle_probe()
            self._fire(BreakerEvent.FAILURE, now)

    # -- internals ----------------------------------------------------------------------------

    def _fire(self, event: BreakerEvent, now: float) -> None:
        """Apply ``event`` through the table, then the entry actions of a new state."""
        old = self._state
        new = next_state(old, event)
        self._state = new
        if new is old:
            return
        if new is OPEN:
            self._opened_at = now
            self._times_opened += 1
            self._probes.clear()
            self._consecutive_successes = 0
        elif new is HALF_OPEN:
            self._consecutive_successes = 0
            self._probes.clear()
        else:  # CLOSED, from HALF_OPEN
            self._consecutive_failures = 0
            self._consecutive_successes = 0
            self._probes.clear()

    def _settle_probe(self) -> None:
        if self._probes:
            self._probes.pop(0)

    def _lapse_probes(self, now: float) -> None:
        probes = self._probes
        while probes and probes[0] + self.probe_timeout <= now:
            probes.pop(0)

    def __repr__(self) -> str:
        if self._state is CLOSED:
            detail = f"{self._consecutive_failures}/{self.failure_threshold} failures"
        elif self._state is OPEN:
            detail = f"opened at {self._opened_at:g}, for {self.open_seconds:g} s"
        else:
            detail = f"{self._consecutive_successes}/{self.success_threshold} successes, {len(self._probes)} probes"
        return f"<CircuitBreaker {self._state.name}, {detail}>"
