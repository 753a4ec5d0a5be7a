"""The circuit-breaker supervisor: one breaker in front of the pool, per base URL.

The breaker's logic (closed -> open -> half-open -> closed, judged by the failure share of
recent requests) is the pure :class:`actors._breaker.CircuitBreaker`; this gate only adds what
the actors need around it: the trio clock, the ``when_open`` policy (hold jobs, or fail them
fast), the bound on how long a held job waits (``max_wait``), a wake-up for the lanes that
wait when the breaker changes state, and a log line on every change so an operator can see
why traffic stopped.

Why a bound on waiting: holding jobs while the breaker is open loses nothing when the server
comes back within seconds, but a server that is gone for good (a dead proxy, a revoked
network route) would hold every job of a batch forever, probing every 30 s (issue 18: 8 of
3,000 jobs resolved in 300 s). Once the breaker has refused traffic for ``max_wait`` seconds
since it last left CLOSED, the gate fails held jobs, and new ones at once, with the product's
circuit-open error, until it closes again. No job therefore waits for the breaker longer than
``max_wait``, and a batch against a dead server ends about ``max_wait`` after the outage
began, however many jobs it has. Probes still go in half-open, so a server that comes back
is found.

Only server trouble counts as failure (5xx, 498, timeouts, broken connections). A 4xx
or a 429 is the server answering clearly, which is evidence that it is alive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import trio

from ._breaker import BreakerState, CircuitBreaker
from ._observer import NullObserver, Observer
from ._ports import Failures, Log, NullLog

if TYPE_CHECKING:
    from ._job import Job

__all__ = ["BreakerGate"]

#: How much of a failure's message is kept for the circuit-open error and the log.
_MAX_DESCRIPTION = 240


class BreakerGate:
    """Decides whether the pool may send now, and learns from every outcome.

    Args:
        breaker: the pure state machine.
        fail_fast: when open, fail jobs with the product's circuit-open error instead of holding them.
        base_url: named in log events and errors.
        failures: the product's error factory (its circuit-open error).
        max_wait: seconds after the breaker left CLOSED from which held jobs fail instead of
            waiting on; None holds them until it closes, however long that takes.
        observer: telemetry, told about every state change.
        log: where state changes are logged (a warning each, so an operator sees why traffic stopped).

    Raises:
        ValueError: ``max_wait`` is negative.
    """

    def __init__(
        self,
        breaker: CircuitBreaker,
        *,
        fail_fast: bool,
        base_url: str,
        failures: Failures,
        max_wait: float | None = None,
        observer: Observer | None = None,
        log: Log | None = None,
    ) -> None:
        if max_wait is not None and not max_wait >= 0:
            raise ValueError(f"BreakerGate max_wait={max_wait!r} must be a number of seconds >= 0, or None")
        self._breaker = breaker
        self._failures = failures
        self._log = log or NullLog()
        self._observer = observer or NullObserver()
        self.fail_fast = fail_fast
        self.max_wait = max_wait
        self._base_url = base_url
        self._last_state = breaker.state_at(trio.current_time())
        self._last_failure: str | None = None
        self._changed: trio.Event | None = None  # made by the first waiter, set on the next state change
        self._gave_up_for: float | None = None  # the outage whose give-up was logged

    @property
    def state(self) -> BreakerState:
        """The breaker's state now."""
        return self._note(trio.current_time())

    def closed_for(self, now: float, job: Job | None = None) -> float | None:
        """None if a request may go now; otherwise the seconds until the breaker lets one try.

        With ``job``, a request let through carries its breaker ticket (``job.breaker_ticket``),
        so its outcome is judged in the order it was sent (see :mod:`actors._breaker`).
        """
        ticket = self._breaker.admit(now)
        self._note(now)
        if ticket is not None:
            if job is not None:
                job.breaker_ticket = ticket
            return None
        return self._breaker.seconds_until_retry(now)

    def fails_now(self, now: float) -> bool:
        """Whether a job the breaker refuses at ``now`` fails instead of waiting.

        True in fail-fast mode, and once the breaker has refused traffic for ``max_wait``
        seconds since it last left CLOSED (until it closes again).
        """
        if self.fail_fast:
            return True
        deadline = self._give_up_at()
        if deadline is None or now < deadline:
            return False
        since = self._breaker.outage_started_at
        if since != self._gave_up_for:
            self._gave_up_for = since
            self._log.warning(
                "breaker_wait_exceeded", base_url=self._base_url, max_wait=self.max_wait,
                last_failure=self._last_failure,
            )
        return True

    async def wait(self, seconds: float) -> None:
        """Sleep until the breaker may let a request through.

        At most ``seconds`` (what :meth:`closed_for` said); less when the breaker changes state
        first (a probe round ended) or when ``max_wait`` runs out, so a waiting lane never
        oversleeps a recovery or its jobs' bound.
        """
        deadline = self._give_up_at()
        if deadline is not None:
            seconds = min(seconds, deadline - trio.current_time())
        if self._changed is None:
            self._changed = trio.Event()
        with trio.move_on_after(max(seconds, 0.001)):
            await self._changed.wait()

    def open_error(self, seconds: float, now: float | None = None) -> Exception:
        """The error a job gets when the breaker refuses it and it may not wait (see :meth:`fails_now`).

        Args:
            seconds: until the breaker lets a probe through (:meth:`closed_for`).
            now: when the job was refused; with it, a job refused because ``max_wait`` ran out
                gets an error that says so.
        """
        stats = self._breaker.statistics()
        why = f"{stats.window_failures} of the last {stats.window_calls} answered requests failed"
        if self._last_failure is not None:
            why += f" (last: {self._last_failure})"
        since = stats.outage_started_at
        if not self.fail_fast and now is not None and since is not None and self.max_wait is not None:
            return self._failures.circuit_open(
                f"the circuit breaker for {self._base_url} has refused requests for {now - since:.3g} s "
                f"(max_wait {self.max_wait:g} s), so the job was not sent: {why}",
                retry_after=seconds,
                waited=now - since,
            )
        return self._failures.circuit_open(
            f"the circuit breaker for {self._base_url} is open: {why}", retry_after=seconds
        )

    def record_success(self, job: Job | None = None, now: float | None = None) -> None:
        """The server answered (any status that is not server trouble) the request ``job`` sent (at ``now``)."""
        now = trio.current_time() if now is None else now
        self._breaker.record_success(now, None if job is None else job.breaker_ticket)
        self._note(now)

    def record_failure(self, error: BaseException | None = None, job: Job | None = None) -> None:
        """The server failed ``job``'s request: 5xx, 498, timeout or a broken connection (``error``, for the messages)."""
        now = trio.current_time()
        if error is not None:
            message = getattr(error, "message", None) or str(error)
            self._last_failure = f"{type(error).__name__}: {message}"[:_MAX_DESCRIPTION]
        self._breaker.record_failure(now, None if job is None else job.breaker_ticket)
        self._note(now)

    def _give_up_at(self) -> float | None:
        since = self._breaker.outage_started_at
        if since is None or self.max_wait is None:
            return None
        return since + self.max_wait

    def _note(self, now: float) -> BreakerState:
        state = self._breaker.state_at(now)
        if state is not self._last_state:
            old, new = self._last_state.name.lower(), state.name.lower()
            stats = self._breaker.statistics()
            self._log.warning(
                "breaker_state_changed", base_url=self._base_url, old=old, new=new,
                window_failures=stats.window_failures, window_calls=stats.window_calls,
                last_failure=self._last_failure,
            )
            self._observer.breaker_changed(self._base_url, old, new)
            self._last_state = state
            if self._changed is not None:
                self._changed.set()
                self._changed = None
        return state

    def __repr__(self) -> str:
        mode = "fail fast" if self.fail_fast else f"hold up to {self.max_wait:g} s" if self.max_wait is not None else "hold"
        return f"<BreakerGate {self._base_url} {mode}: {self._breaker!r}>"
