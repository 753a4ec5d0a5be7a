"""The circuit-breaker supervisor: one breaker in front of the pool, per base URL.

The breaker's logic (closed -> open -> half-open -> closed) is the pure
:class:`actors._breaker.CircuitBreaker`; this gate only adds what the actors need around
it: the trio clock, the ``when_open`` policy (hold jobs, or fail them fast), and a log
line on every state change so an operator can see why traffic stopped.

Only server trouble counts as failure (5xx, 498, timeouts, broken connections). A 4xx
or a 429 is the server answering clearly, which is evidence that it is alive.
"""

from __future__ import annotations

import trio

from ._breaker import BreakerState, CircuitBreaker
from ._observer import NullObserver, Observer
from ._ports import Failures, Log, NullLog

__all__ = ["BreakerGate"]


class BreakerGate:
    """Decides whether the pool may send now, and learns from every outcome.

    Args:
        breaker: the pure state machine.
        fail_fast: when open, fail jobs with the product's circuit-open error instead of holding them.
        base_url: named in log events and errors.
        failures: the product's error factory (its circuit-open error).
        observer: telemetry, told about every state change.
        log: where state changes are logged (a warning each, so an operator sees why traffic stopped).
    """

    def __init__(
        self,
        breaker: CircuitBreaker,
        *,
        fail_fast: bool,
        base_url: str,
        failures: Failures,
        observer: Observer | None = None,
        log: Log | None = None,
    ) -> None:
        self._breaker = breaker
        self._failures = failures
        self._log = log or NullLog()
        self._observer = observer or NullObserver()
        self.fail_fast = fail_fast
        self._base_url = base_url
        self._last_state = breaker.state_at(trio.current_time())

    @property
    def state(self) -> BreakerState:
        """The breaker's state now."""
        return self._note(trio.current_time())

    def closed_for(self, now: float) -> float | None:
        """None if a request may go now; otherwise the seconds until the breaker lets one try."""
        if self._breaker.allow(now):
            self._note(now)
            return None
        self._note(now)
        return self._breaker.seconds_until_retry(now)

    def open_error(self, seconds: float) -> Exception:
        """The error a job gets when the breaker is open and ``when_open="fail"``."""
        return self._failures.circuit_open(
            f"circuit breaker for {self._base_url} is open after repeated server failures",
            retry_after=seconds,
        )

    def record_success(self) -> None:
        """The server answered (any status that is not server trouble)."""
        now = trio.current_time()
        self._breaker.record_success(now)
        self._note(now)

    def record_failure(self) -> None:
        """The server failed: 5xx, 498, timeout or a broken connection."""
        now = trio.current_time()
        self._breaker.record_failure(now)
        self._note(now)

    def _note(self, now: float) -> BreakerState:
        state = self._breaker.state_at(now)
        if state is not self._last_state:
            old, new = self._last_state.name.lower(), state.name.lower()
            self._log.warning("breaker_state_changed", base_url=self._base_url, old=old, new=new)
            self._observer.breaker_changed(self._base_url, old, new)
            self._last_state = state
        return state
