"""The circuit breaker (spec NFR-REL-002, issue 18): stop sending to a server that is *failing*, not noisy.

Theory of operation
-------------------
Three states, as in every circuit breaker since Nygard's *Release It!*, judged by a failure
*rate* as resilience4j does (``failureRateThreshold``, ``minimumNumberOfCalls``,
``slidingWindowSize``, ``permittedNumberOfCallsInHalfOpenState``):

- ``CLOSED``: normal operation. The last ``window_size`` (100) requests *sent* are kept in a fixed
  ring, each pending until its outcome arrives. Once at least ``minimum_calls`` (20) outcomes are
  in it, a failure that brings the failure share of the window's requests to ``failure_rate``
  (50 %) or above trips the breaker.
- ``OPEN``: requests are refused (the gate holds jobs or fails them fast, by configuration)
  for ``open_seconds`` (30 s). Results of requests sent before the trip may still arrive; they
  are counted in the totals but change nothing.
- ``HALF_OPEN``: after the open period, ``half_open_probes`` (5) probe requests may go. The round
  closes the breaker if the probes' failure share is below ``failure_rate`` and re-opens it
  (for another full period) otherwise. The verdict is given as soon as the remaining probes
  cannot change it: with 5 probes and 50 %, at the third success or the third failure. So one
  failed probe of five does not re-open the breaker; with ``half_open_probes=1`` it does.

Why a rate and not consecutive failures: with 64 requests in flight and a server answering 10 %
of them with a 500, five failures in a row are common; a consecutive-failure breaker freezes a
healthy batch over and over (issue 18: 215 of 3,000 jobs in 150 s). A rate does not move on
noise: at 10 % errors, the chance that 20 outcomes hold 50 % failures is 7 x 10^-6.

Why in the order requests were *sent*: an error comes back at once, a success only after the
model has generated its answer. When 64 requests go out together (a batch starts, the breaker
closes again) and 30 % of them fail, the first 27 outcomes or so are all failures while the
successes sent with them are still in flight. Judged in the order outcomes *arrive*, that burst
looks like an outage and trips the breaker again and again (measured with
``bench/breaker_faults.py``: at 30 % 500s it opened 10 times in a 3,000-job run, and in 3 of 5
runs even with ``minimum_calls`` 100). In the order of sending, the window holds those 27 failures among 91 requests: 30 %. A
request still in flight counts as "not failed" until its outcome arrives, so a server that
fails everything at once is judged within ``minimum_calls`` outcomes, and one that hangs (every
request times out) once its requests have timed out.

A request's place in the window is its *ticket*, from :meth:`CircuitBreaker.admit`; its outcome
is recorded with that ticket. An outcome without a ticket, or whose ticket has left the window
(a request that outlived ``window_size`` later ones, or one sent before the breaker last
closed), is counted as a request sent and answered now. A ticket whose outcome never arrives
(a cancelled job) simply leaves the window in its turn.

Rule 1: everything that affects the state lives here. The caller decides what counts as a
failure: only server trouble (5xx, 498, timeouts, broken connections). A 429 or a 4xx is the
server answering clearly, so it is reported as a success or not at all; an untrusted
certificate is the client's configuration, so it is not reported at all.

Rule 2: transitions are data. :data:`TRANSITIONS` maps ``(state, event)`` to the next state,
like h11's ``EVENT_TRIGGERED_TRANSITIONS``; the counting methods only decide *which* event
happened (an outcome that decides nothing, the failure that trips: ``TRIP``, the probe outcome
that settles the round: ``RECOVER`` or ``RELAPSE``). A pair that is not in the table raises
:class:`BreakerProtocolError` ("can't handle X in state Y"): that is a bug.

Rule 3: no clock and no IO. Every method takes ``now``. The OPEN -> HALF_OPEN move happens
lazily, the first time the breaker is consulted after the open period (``COOL_DOWN``).

Rule 4: bounded memory. The window is a ring of ``window_size`` tickets and states, the probe
permits a list of at most ``half_open_probes`` times, whatever the number of requests.

The window is cleared when the breaker closes again, so a recovered server starts with a clean
record; while OPEN and HALF_OPEN it keeps the requests that tripped it (for statistics and the
error a waiting job gets). :attr:`CircuitBreaker.outage_started_at` remembers when the breaker
last left CLOSED, across re-opens: the gate uses it to bound how long jobs wait for recovery.

A probe permit is taken by :meth:`CircuitBreaker.admit` (or :meth:`~CircuitBreaker.allow`) and
given back by the next ``record_*`` call. A probe whose outcome never arrives would hold its
permit forever, so permits lapse after ``probe_timeout`` seconds (default: ``open_seconds``).
"""

from __future__ import annotations

import enum
import math
from typing import Final

import msgspec

__all__ = [
    "PROBE",
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

    SUCCESS = "success"  # a request succeeded and decided nothing
    FAILURE = "failure"  # a request failed and decided nothing
    TRIP = "trip"  # the failure that takes a judged window's failure share to failure_rate
    COOL_DOWN = "cool_down"  # open_seconds have passed since the breaker opened
    RECOVER = "recover"  # the probe success after which the round's failure share is surely below failure_rate
    RELAPSE = "relapse"  # the probe failure after which it is surely at or above failure_rate


CLOSED: Final = BreakerState.CLOSED
OPEN: Final = BreakerState.OPEN
HALF_OPEN: Final = BreakerState.HALF_OPEN

#: The ticket of a half-open probe: its outcome counts for the probe round, not for a window slot.
PROBE: Final = -1

TRANSITIONS: Final[dict[tuple[BreakerState, BreakerEvent], BreakerState]] = {
    (CLOSED, BreakerEvent.SUCCESS): CLOSED,
    (CLOSED, BreakerEvent.FAILURE): CLOSED,
    (CLOSED, BreakerEvent.TRIP): OPEN,
    # Late results of requests sent before the trip: noted, no effect (the open period is not extended).
    (OPEN, BreakerEvent.SUCCESS): OPEN,
    (OPEN, BreakerEvent.FAILURE): OPEN,
    (OPEN, BreakerEvent.COOL_DOWN): HALF_OPEN,
    (HALF_OPEN, BreakerEvent.SUCCESS): HALF_OPEN,
    (HALF_OPEN, BreakerEvent.FAILURE): HALF_OPEN,
    (HALF_OPEN, BreakerEvent.RECOVER): CLOSED,
    (HALF_OPEN, BreakerEvent.RELAPSE): OPEN,
}
"""Every legal move; anything else is a bug in the counting code."""

#: A window slot's state.
_PENDING, _SUCCEEDED, _FAILED = 0, 1, 2


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
        window_calls: requests in the window whose outcome arrived.
        window_failures: failures among them.
        window_pending: requests in the window still waiting for their outcome.
        probe_successes: probe successes in the current HALF_OPEN round.
        probe_failures: probe failures in the current HALF_OPEN round.
        probes_in_flight: HALF_OPEN permits handed out and not yet settled or lapsed.
        opened_at: when the breaker last opened (or re-opened), or None if it never did.
        outage_started_at: when it last left CLOSED, or None while CLOSED.
        times_opened: how many times it has opened (including re-opens from HALF_OPEN).
        total_successes: every success recorded.
        total_failures: every failure recorded.
        rejected: how many times the breaker refused a request.
    """

    state: BreakerState
    window_calls: int = 0
    window_failures: int = 0
    window_pending: int = 0
    probe_successes: int = 0
    probe_failures: int = 0
    probes_in_flight: int = 0
    opened_at: float | None = None
    outage_started_at: float | None = None
    times_opened: int = 0
    total_successes: int = 0
    total_failures: int = 0
    rejected: int = 0

    @property
    def failure_share(self) -> float:
        """Failures among the window's requests, pending ones counted as not failed (0.0 when empty)."""
        sent = self.window_calls + self.window_pending
        return self.window_failures / sent if sent else 0.0


class CircuitBreaker:
    """Decides whether requests may go to a server, from the share of its recent requests that failed.

    Unlike a rate limit, which is about *our* pace, a breaker is about *the server's* health:
    when most requests fail, hammering the server with retries only deepens the outage and
    burns the retry budget of every job; the breaker pauses traffic and then probes gently.
    It is *not* tripped by a steady trickle of errors: as long as most requests succeed, the
    batch is better served by retrying the few that fail.

    Args:
        failure_rate: the failure share (0 < rate <= 1) at or above which the breaker opens, and
            at or above which a half-open round re-opens it.
        minimum_calls: outcomes the window must hold before its share is judged.
        window_size: how many recently sent requests the window keeps (at least ``minimum_calls``).
        half_open_probes: probe requests per half-open round; also the most in flight at once.
        open_seconds: how long the breaker stays open before probing.
        probe_timeout: after how long an unsettled probe permit lapses (default ``open_seconds``).

    Raises:
        ValueError: a count is below 1, ``window_size`` is below ``minimum_calls``, the rate is not
            in (0, 1], or a duration is not positive; the message names it.
    """

    __slots__ = (
        "_calls",
        "_failures",
        "_first_ticket",
        "_next_ticket",
        "_opened_at",
        "_outage_started_at",
        "_probe_failures",
        "_probe_successes",
        "_probes",
        "_rejected",
        "_slot_state",
        "_slot_ticket",
        "_state",
        "_times_opened",
        "_total_failures",
        "_total_successes",
        "failure_rate",
        "half_open_probes",
        "minimum_calls",
        "open_seconds",
        "probe_timeout",
        "window_size",
    )

    def __init__(
        self,
        failure_rate: float = 0.5,
        minimum_calls: int = 20,
        window_size: int = 100,
        half_open_probes: int = 5,
        open_seconds: float = 30.0,
        probe_timeout: float | None = None,
    ) -> None:
        for name, value in (
            ("minimum_calls", minimum_calls),
            ("window_size", window_size),
            ("half_open_probes", half_open_probes),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CircuitBreaker {name}={value!r} must be an int of at least 1")
        if window_size < minimum_calls:
            raise ValueError(
                f"CircuitBreaker window_size={window_size!r} must be at least minimum_calls={minimum_calls!r} "
                "(the window could never hold enough outcomes to be judged)"
            )
        if isinstance(failure_rate, bool) or not (isinstance(failure_rate, (int, float)) and 0.0 < failure_rate <= 1.0):
            raise ValueError(f"CircuitBreaker failure_rate={failure_rate!r} must be a share in (0, 1], e.g. 0.5")
        if not (open_seconds > 0 and math.isfinite(open_seconds)):
            raise ValueError(f"CircuitBreaker open_seconds={open_seconds!r} must be a positive number of seconds")
        if probe_timeout is not None and not (probe_timeout > 0 and math.isfinite(probe_timeout)):
            raise ValueError(f"CircuitBreaker probe_timeout={probe_timeout!r} must be a positive number of seconds")
        self.failure_rate = float(failure_rate)
        self.minimum_calls = minimum_calls
        self.window_size = window_size
        self.half_open_probes = half_open_probes
        self.open_seconds = open_seconds
        self.probe_timeout = open_seconds if probe_timeout is None else probe_timeout
        self._state = CLOSED
        # The window: ticket t lives in slot t % window_size while t >= max(_first_ticket, _next_ticket - size).
        self._slot_ticket = [-1] * window_size
        self._slot_state = bytearray(window_size)
        self._next_ticket = 0
        self._first_ticket = 0  # tickets below it were issued before the window was last cleared
        self._calls = 0  # outcomes (succeeded + failed) in the window
        self._failures = 0
        self._probe_successes = 0
        self._probe_failures = 0
        self._probes: list[float] = []  # when each unsettled HALF_OPEN permit was taken, oldest first
        self._opened_at: float | None = None
        self._outage_started_at: float | None = None
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

    @property
    def outage_started_at(self) -> float | None:
        """When the breaker last left CLOSED (re-opens from HALF_OPEN do not move it); None while CLOSED."""
        return self._outage_started_at

    def admit(self, now: float) -> int | None:
        """Let a request go: its ticket, to pass to ``record_*`` with its outcome; None if refused.

        While CLOSED the ticket is the request's place in the window (an int >= 0). While
        HALF_OPEN it is :data:`PROBE`, a probe permit: every one must be followed by a
        ``record_*`` for that request (or it lapses after ``probe_timeout``).
        """
        state = self.state_at(now)
        if state is CLOSED:
            return self._send()
        if state is HALF_OPEN:
            self._lapse_probes(now)
            if self._permits_left() > 0:
                self._probes.append(now)
                return PROBE
        self._rejected += 1
        return None

    def allow(self, now: float) -> bool:
        """Whether a request may be sent now (:meth:`admit` without keeping the ticket)."""
        return self.admit(now) is not None

    def seconds_until_retry(self, now: float) -> float:
        """How long until :meth:`admit` could say yes without any outcome arriving first.

        0.0 when it would say yes now. While OPEN, the rest of the open period. While HALF_OPEN
        with every probe permit taken, the time until the oldest permit lapses; a probe's outcome
        may settle the round sooner, so a caller waiting on this should also wake on outcomes.
        """
        state = self.state_at(now)
        if state is OPEN:
            assert self._opened_at is not None
            return max(0.0, self._opened_at + self.open_seconds - now)
        if state is HALF_OPEN:
            self._lapse_probes(now)
            if self._permits_left() <= 0 and self._probes:
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
            window_calls=self._calls,
            window_failures=self._failures,
            window_pending=self._sent() - self._calls,
            probe_successes=self._probe_successes,
            probe_failures=self._probe_failures,
            probes_in_flight=len(self._probes),
            opened_at=self._opened_at,
            outage_started_at=self._outage_started_at,
            times_opened=self._times_opened,
            total_successes=self._total_successes,
            total_failures=self._total_failures,
            rejected=self._rejected,
        )

    # -- outcomes -----------------------------------------------------------------------------

    def record_success(self, now: float, ticket: int | None = None) -> None:
        """A request finished without server trouble (``ticket``: what :meth:`admit` gave it)."""
        state = self.state_at(now)
        self._total_successes += 1
        if state is CLOSED:
            self._resolve(ticket, _SUCCEEDED)
            self._fire(BreakerEvent.SUCCESS, now)
        elif state is HALF_OPEN:
            self._settle_probe()
            self._probe_successes += 1
            # Settled if even every probe still to come failing would leave the share below the rate.
            recovered = (self.half_open_probes - self._probe_successes) / self.half_open_probes < self.failure_rate
            self._fire(BreakerEvent.RECOVER if recovered else BreakerEvent.SUCCESS, now)
        else:
            self._fire(BreakerEvent.SUCCESS, now)

    def record_failure(self, now: float, ticket: int | None = None) -> None:
        """A request failed because of the server (5xx, 498, timeout, broken connection)."""
        state = self.state_at(now)
        self._total_failures += 1
        if state is CLOSED:
            self._resolve(ticket, _FAILED)
            tripped = self._calls >= self.minimum_calls and self._failures / self._sent() >= self.failure_rate
            self._fire(BreakerEvent.TRIP if tripped else BreakerEvent.FAILURE, now)
        elif state is HALF_OPEN:
            self._settle_probe()
            self._probe_failures += 1
            relapsed = self._probe_failures / self.half_open_probes >= self.failure_rate
            self._fire(BreakerEvent.RELAPSE if relapsed else BreakerEvent.FAILURE, now)
        else:
            self._fire(BreakerEvent.FAILURE, now)

    # -- internals ----------------------------------------------------------------------------

    def _fire(self, event: BreakerEvent, now: float) -> None:
        """Apply ``event`` through the table, then the entry actions of a new state."""
        old = self._state
        new = next_state(old, event)
        self._state = new
        if new is old:
            return
        self._probes.clear()
        self._probe_successes = self._probe_failures = 0
        if new is OPEN:
            self._opened_at = now
            self._times_opened += 1
            if old is CLOSED:
                self._outage_started_at = now
        elif new is CLOSED:  # from HALF_OPEN: a clean record for the recovered server
            self._first_ticket = self._next_ticket
            self._calls = self._failures = 0
            self._outage_started_at = None

    def _sent(self) -> int:
        """Requests in the window: tickets issued since it was cleared, at most ``window_size``."""
        return min(self._next_ticket - self._first_ticket, self.window_size)

    def _send(self) -> int:
        """Issue the next ticket, pushing the oldest request out of a full window."""
        ticket = self._next_ticket
        slot = ticket % self.window_size
        if ticket - self.window_size >= self._first_ticket:  # the slot holds a live request: evict it
            state = self._slot_state[slot]
            if state != _PENDING:
                self._calls -= 1
                self._failures -= state == _FAILED
        self._slot_ticket[slot] = ticket
        self._slot_state[slot] = _PENDING
        self._next_ticket = ticket + 1
        return ticket

    def _resolve(self, ticket: int | None, state: int) -> None:
        """Record an outcome in its request's slot; one without a live pending slot as a request sent now."""
        live = (
            ticket is not None
            and ticket >= max(self._first_ticket, self._next_ticket - self.window_size)
            and self._slot_ticket[ticket % self.window_size] == ticket
            and self._slot_state[ticket % self.window_size] == _PENDING
        )
        if not live:
            ticket = self._send()
        self._slot_state[ticket % self.window_size] = state
        self._calls += 1
        self._failures += state == _FAILED

    def _permits_left(self) -> int:
        return self.half_open_probes - self._probe_successes - self._probe_failures - len(self._probes)

    def _settle_probe(self) -> None:
        if self._probes:
            self._probes.pop(0)

    def _lapse_probes(self, now: float) -> None:
        probes = self._probes
        while probes and probes[0] + self.probe_timeout <= now:
            probes.pop(0)

    def __repr__(self) -> str:
        if self._state is CLOSED:
            detail = (
                f"{self._failures} of {self._sent()} failed, {self._sent() - self._calls} pending "
                f"(opens at {self.failure_rate:.0%} once {self.minimum_calls} answered)"
            )
        elif self._state is OPEN:
            detail = f"opened at {self._opened_at:g}, for {self.open_seconds:g} s"
        else:
            detail = (
                f"{self._probe_successes} ok, {self._probe_failures} failed of {self.half_open_probes} probes, "
                f"{len(self._probes)} in flight"
            )
        return f"<CircuitBreaker {self._state.name}, {detail}>"
