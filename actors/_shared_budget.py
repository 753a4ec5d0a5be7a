"""The shared rate budget, local half: grant synchronously from budget leased out of a shared store.

Theory of operation
-------------------
Groq's limits belong to the organisation, so several processes that each run a
:class:`~actors._budget.RateBudget` would each believe they own the whole limit and together
overshoot it (LiteLLM's router has exactly this flaw). The windows must be shared; but asking
a shared store before every request would put a network round trip on the hot path.

So a worker *leases* a slice of budget: one atomic call to the store reserves ``r`` requests
and ``t`` tokens at once in the shared RPM, RPD, TPM and TPD windows (the store keeps Groq's
refilling buckets, see ``orchestrator._redis_budget``), and this object grants from the slice with plain
arithmetic, as :meth:`RateBudget.try_acquire` does. When a slice runs low it asks for the next
one in the background (prefetch); a job only waits for the store when no slice can hold it.

A lease is valid for ``ttl`` seconds, and nothing here grants from it after ``ttl`` (measured
from *before* the request left, so on the store's clock the local lease always ends first). The
store holds a lease apart (*pending*: out of every window's room, and not refilling) until it comes
back. A lease is returned as soon as it is used up, or when it expires with its unused rest; the
store then drops it from pending and charges the used part to the buckets from the return, which
refill it from then. Every request on it reached the server no later, so the server's bucket
refills those requests no later than the store's: the same guarantee as the local budget's. A
worker that dies returns nothing; a minute after its lease ended, the store counts it as all used.

Everything that flows back is aggregated into counters, so nothing here grows with the number of
jobs:

- :meth:`refund` (never sent, or a 429) and an over-estimate found by :meth:`reconcile` are
  *given back* to the shared windows: while leases are out, as a credit against the used part of
  the next one to come back (its grant may be in one of them); otherwise to the bucket, never past
  its limit. A give-back for a grant older than half a (scaled) minute is dropped: its lease has
  long been charged, and dropping it is the safe side.
- an under-estimate spends the difference in the shared windows, now;
- ``x-ratelimit-*`` headers teach the shared limits (``limit-requests`` is RPD, ``limit-tokens``
  TPM) and clamp the shared view to the server's ``remaining``; a 429 pauses the model for every
  worker (a shared ``paused_until``) and drains the named window.

These travel to the store in the next :class:`SyncRequest` (at once for a 429, a new limit or a
lease; within ``flush_after`` seconds for give-backs); the answer, :class:`SyncReply`, brings the
shared limits, levels and pause back, so every worker sees what any worker learned: the limits
headers report, the exact limits 429 and 413 bodies state (sent as observations too), and the plan
the headers reveal (its table's numbers become this worker's defaults).

Two things differ from the local budget. A window whose limit is unknown (a *probe* locally) is
not enforced in the shared windows at all until a 429 states its limit: a lease-based probe would
let each worker grow its own guess. And ITPM and OTPM are not kept in the shared windows (the
store's script knows RPM, RPD, TPM and TPD); a 429 on them still pauses every worker.

Rule 1: no IO and no clock: every method takes ``now`` (the actor's clock). The lease actor
calls :meth:`SharedRateBudget.begin_sync`, performs the round trip, and hands the answer to
:meth:`SharedRateBudget.end_sync`.
Rule 2: :meth:`SharedRateBudget.try_acquire` keeps the contract of :meth:`RateBudget.try_acquire`
(``0.0`` means granted; otherwise seconds to wait), except that a wait is a time to look again,
not a promise: the expected round trip while a lease is on its way, and at most half a ``ttl``
during a denial (a reply showing room freed by others lifts it early).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Final

import msgspec

from ._budget import (
    BudgetSnapshot,
    LimitSource,
    LimitSources,
    ModelLimits,
    Recognise,
    RequestExceedsLimit,
    StartingLimits,
    rate_limit_pause,
)
from ._ratelimit_headers import RateLimitReport, read_rate_limit_headers
from ._windows import SHARED_WINDOWS

__all__ = [
    "DEFAULT_LEASE_FRACTION",
    "DEFAULT_LEASE_PERIODS",
    "MAX_LEASES",
    "LeaseAsk",
    "LeaseGrant",
    "LeaseRelease",
    "LimitObservation",
    "PauseReport",
    "SharedRateBudget",
    "SyncReply",
    "SyncRequest",
    "WindowLevels",
]

MINUTE: Final = 60.0
DEFAULT_LEASE_FRACTION: Final = 1 / 16
"""A lease asks for this share of each per-minute limit (more if one job needs more)."""
DEFAULT_LEASE_PERIODS: Final = 1 / 20
"""A lease lives this fraction of a minute window (3 s against Groq): the most a lease can cost in throughput."""
MAX_LEASES: Final = 4
"""Leases held at once per model; asking for one more returns the oldest."""
_WINDOWS: Final = SHARED_WINDOWS
_FIRST_ROUND_TRIP: Final = 0.002
_MIN_POLL: Final = 0.0005


class LeaseAsk(msgspec.Struct, frozen=True, omit_defaults=True):
    """Ask the store for a lease: at least ``need_*`` (else say how long to wait), up to ``want_*``."""

    id: str
    need_requests: int
    need_tokens: int
    want_requests: int
    want_tokens: int
    ttl: float


class LeaseRelease(msgspec.Struct, frozen=True, omit_defaults=True):
    """A lease handed back with its unused rest (the store ignores a lease it no longer knows).

    The store stops holding the lease apart and charges its used part from now: a lease used up
    early is returned at once for that reason.
    """

    id: str
    requests: int
    tokens: int


class LimitObservation(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one response's headers said about one window (``"rpd"`` or ``"tpm"``), ``age`` seconds ago."""

    window: str
    limit: int | None = None
    remaining: int | None = None
    age: float = 0.0


class PauseReport(msgspec.Struct, frozen=True, omit_defaults=True):
    """A 429, ``age`` seconds ago: pause everyone ``retry_after`` seconds, drain ``window`` if named."""

    retry_after: float
    window: str | None = None
    age: float = 0.0


class SyncRequest(msgspec.Struct, frozen=True, omit_defaults=True):
    """Everything one model's budget has to tell the store, and possibly a lease to ask for.

    Attributes:
        id: unique per request: the store applies a request once, however often it is retried.
        scale: how much faster than real time the server's windows run (all workers must agree).
        defaults: this worker's starting limits (``rpm``...), used where nothing was learned.
        observations: the latest header observation per window.
        pause: the latest 429.
        give_back_requests, give_back_tokens: refunded and over-estimated budget.
        extra_tokens: under-estimated tokens to spend now.
        releases: unused rests of expired or returned leases.
        ask: a lease to grant, or None.
    """

    id: str
    scale: float
    defaults: dict[str, int] = {}
    observations: tuple[LimitObservation, ...] = ()
    pause: PauseReport | None = None
    give_back_requests: int = 0
    give_back_tokens: int = 0
    extra_tokens: int = 0
    releases: tuple[LeaseRelease, ...] = ()
    ask: LeaseAsk | None = None


class WindowLevels(msgspec.Struct, frozen=True):
    """One value per window; None where the window has no known limit."""

    rpm: float | None = None
    rpd: float | None = None
    tpm: float | None = None
    tpd: float | None = None


class LeaseGrant(msgspec.Struct, frozen=True):
    """A granted lease: ``requests`` and ``tokens`` to spend within ``ttl`` seconds."""

    id: str
    requests: int
    tokens: int
    ttl: float


class SyncReply(msgspec.Struct, frozen=True):
    """The store's answer: the shared state after the request was applied.

    Attributes:
        limits: the limits in force (learned by any worker, else this worker's defaults).
        remaining: room left in each shared window (leases held by workers count as spent).
        full_in: seconds until each shared window is entirely free again.
        paused_for: seconds left of a shared 429 pause (0 if none).
        grant: the lease granted, if one was asked for and fits.
        wait: if a lease was asked for and does not fit: seconds until it would.
        exceeds: if the lease's need exceeds a window's whole limit: that window's name.
    """

    limits: WindowLevels = WindowLevels()
    remaining: WindowLevels = WindowLevels()
    full_in: WindowLevels = WindowLevels()
    paused_for: float = 0.0
    grant: LeaseGrant | None = None
    wait: float | None = None
    exceeds: str | None = None


class _Lease:
    __slots__ = ("expires", "id", "requests", "tokens")

    def __init__(self, lease_id: str, requests: int, tokens: int, expires: float) -> None:
        self.id = lease_id
        self.requests = requests
        self.tokens = tokens
        self.expires = expires


def _enforced(start: StartingLimits) -> ModelLimits:
    """The numbers the shared windows enforce: probed windows are not (see the module docstring)."""
    return ModelLimits(
        **{
            name: None if getattr(start.sources, name) == "probe" else getattr(start.limits, name)
            for name in _WINDOWS
        }
    )


def _wait(until: float, now: float) -> float:
    """Seconds from ``now`` such that ``now + wait >= until`` despite float rounding."""
    wait = until - now
    while now + wait < until:
        wait = math.nextafter(wait, math.inf)
    return wait


class SharedRateBudget:
    """One model's share of rate limits held in a shared store, granted from leases.

    It has the methods of :class:`~actors._budget.RateBudget` (the scheduler and the workers
    cannot tell them apart) plus the three a lease actor uses: :meth:`wants_sync`,
    :meth:`begin_sync` and :meth:`end_sync`.

    Args:
        model: the model id (for lease ids and errors).
        defaults: the limits to assume until the store knows better (a :class:`StartingLimits`
            with where each came from, or plain :class:`ModelLimits`, taken as configured).
        recognise: as for :class:`~actors._budget.RateBudget`: the plan the headers reveal.
        now: the current time.
        owner: a name unique to this worker process (lease ids are ``owner:model:n``).
        time_scale: the server's windows run this much faster than real time.
        lease_fraction: the share of each per-minute limit one lease asks for.
        lease_ttl: seconds a lease may be granted from; default 1/20 of a (scaled) minute.
        flush_after: seconds give-backs and under-estimates may wait to travel with other news;
            default a quarter of ``lease_ttl``.
        on_wants_sync: called when something should reach the store at once (wakes the actor).
    """

    def __init__(
        self,
        model: str,
        defaults: ModelLimits | StartingLimits,
        now: float,
        *,
        owner: str,
        recognise: Recognise | None = None,
        time_scale: float = 1.0,
        lease_fraction: float = DEFAULT_LEASE_FRACTION,
        lease_ttl: float | None = None,
        flush_after: float | None = None,
        on_wants_sync: Callable[[], None] | None = None,
    ) -> None:
        if not (time_scale > 0 and math.isfinite(time_scale)):
            raise ValueError(f"time_scale={time_scale!r} must be a positive factor (1.0 for the real Groq API)")
        if not 0 < lease_fraction <= 1:
            raise ValueError(f"lease_fraction={lease_fraction!r} must be in (0, 1]: the share of a limit one lease takes")
        ttl = MINUTE / time_scale * DEFAULT_LEASE_PERIODS if lease_ttl is None else lease_ttl
        if not (ttl > 0 and math.isfinite(ttl)):
            raise ValueError(f"lease_ttl={lease_ttl!r} must be a positive number of seconds")
        self.model = model
        self.owner = owner
        self.time_scale = time_scale
        self.lease_fraction = lease_fraction
        self.lease_ttl = ttl
        self.flush_after = ttl / 4 if flush_after is None else flush_after
        self._on_wants_sync = on_wants_sync
        start = defaults if isinstance(defaults, StartingLimits) else StartingLimits.configured(defaults)
        self._sources: dict[str, LimitSource] = {name: getattr(start.sources, name) for name in _WINDOWS}
        self._caps = {name: getattr(start.limits, name) for name in _WINDOWS if self._sources[name] == "configured"}
        self._tier = start.tier
        self._recognise = recognise
        self._recognised: tuple[int | None, int | None] | None = None
        self._defaults = _enforced(start)
        self._limits = self._defaults
        self._leases: list[_Lease] = []
        self._lease_count = 0
        self._sync_count = 0
        self._last_cost = 0
        self._releases: list[LeaseRelease] = []
        self._paused_until = now
        self._denied_until = now
        self._need_requests = 0
        self._need_tokens = 0
        self._prefetch = False
        self._urgent = False
        self._in_flight = False
        self._give_back_requests = 0
        self._give_back_tokens = 0
        self._give_back_deadline = math.inf
        self._extra_tokens = 0
        self._flush_due = math.inf
        self._observations: dict[str, tuple[LimitObservation, float]] = {}
        self._pause: tuple[float, str | None, float] | None = None
        self._round_trip = _FIRST_ROUND_TRIP
        self._shared: SyncReply | None = None
        self._shared_at = now

    # -- the RateBudget interface ---------------------------------------------------------

    @property
    def limits(self) -> ModelLimits:
        """The limits currently believed in (shared, learned by any worker, else the defaults)."""
        return self._limits

    def try_acquire(self, tokens: int, now: float, output_tokens: int = 0) -> float:
        """Spend one request and ``tokens`` tokens from the leases held, or say how long to wait.

        Returns:
            ``0.0`` if granted; otherwise seconds to wait: until a shared pause or a denial
            ends, or (while a lease is being fetched) the expected round trip to the store.

        Raises:
            RequestExceedsLimit: the request exceeds a window's whole (shared) limit.
            ValueError: ``tokens`` is negative.
        """
        if tokens < 0:
            raise ValueError(f"tokens={tokens!r} must be >= 0")
        self._check_fits(tokens)
        self._expire(now)
        if self._paused_until > now:
            return _wait(self._paused_until, now)
        held_requests = sum(lease.requests for lease in self._leases)
        held_tokens = sum(lease.tokens for lease in self._leases)
        self._last_cost = tokens
        if held_requests >= 1 and held_tokens >= tokens:
            self._take(tokens)
            newest = self._leases[-1] if self._leases else None
            short_requests, short_tokens = 1 - (held_requests - 1), tokens - (held_tokens - tokens)
            if short_requests > 0 or short_tokens > 0 or newest is None or newest.expires - now < self.lease_ttl / 2:
                # Prefetch what one more job like this one would need (at least a little of each).
                self._need_requests = max(self._need_requests, short_requests)
                self._need_tokens = max(self._need_tokens, short_tokens)
                self._want(now, prefetch=True)
            return 0.0
        self._need_requests = max(self._need_requests, 1 - held_requests)
        self._need_tokens = max(self._need_tokens, tokens - held_tokens)
        if self._denied_until > now:
            # Look again within half a lease lifetime: a reply may show room freed meanwhile
            # (returned leases, refunds), which lifts the denial without a round trip of our own.
            return min(_wait(self._denied_until, now), self.lease_ttl / 2)
        self._want(now, prefetch=False)
        return max(self._round_trip, _MIN_POLL)

    def confirm(self, tokens: int, now: float, output_tokens: int = 0) -> None:
        """A response shows the server counted a grant: nothing to do, as the store's windows charged its lease already."""

    def refund(self, tokens: int, now: float, *, granted_at: float | None = None, output_tokens: int = 0) -> None:
        """Give back a grant the server never counted (never sent, or a 429) to the shared windows."""
        if tokens < 0:
            raise ValueError(f"tokens={tokens!r} must be >= 0")
        if self._still_counted(now, granted_at):
            self._give_back_requests += 1
            self._give_back_tokens += tokens
            self._note_give_back(now, granted_at)

    def reconcile(
        self,
        estimated_tokens: int,
        actual_tokens: int,
        now: float,
        *,
        granted_at: float | None = None,
        estimated_output: int = 0,
        actual_output: int = 0,
    ) -> None:
        """Correct a grant's tokens once ``usage`` is known: give back an over-estimate, spend an under-estimate.

        The output parts matter only for ITPM and OTPM, which the shared windows do not keep.
        """
        if estimated_tokens < 0 or actual_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got estimated_tokens={estimated_tokens!r}, actual_tokens={actual_tokens!r}"
            )
        difference = actual_tokens - estimated_tokens
        if difference > 0:
            self._extra_tokens += difference
            self._flush_due = min(self._flush_due, now + self.flush_after)
        elif difference < 0 and self._still_counted(now, granted_at):
            self._give_back_tokens -= difference
            self._note_give_back(now, granted_at)

    def observe_headers(self, headers: Mapping[str, str], now: float) -> None:
        """Learn limits and remaining room from ``x-ratelimit-*`` headers, for every worker.

        A new limit takes effect here at once and reaches the store in the next round trip
        (an immediate one if the limit changed); ``remaining`` travels with the next round trip
        and clamps the shared view there. Never raises.
        """
        report = read_rate_limit_headers(headers)
        if report is not None:
            self.observe_report(report, now)

    def observe_report(self, report: RateLimitReport, now: float) -> None:
        """:meth:`observe_headers` for headers already read (``read_rate_limit_pairs``, as the worker does)."""
        for window, seen in report.windows():
            if seen.empty:
                continue
            limit = self._capped(window, seen.limit, "headers")
            self._observations[window] = (LimitObservation(window, limit, seen.remaining), now)
            self._flush_due = min(self._flush_due, now + self.flush_after)
            if limit is not None:
                self._believe(window, limit, now)
        pair = (report.requests.limit, report.tokens.limit)
        if self._recognise is not None and pair != self._recognised and pair != (None, None):
            self._recognised = pair
            self._restart_from(self._recognise(*pair), now)

    def _restart_from(self, plan: StartingLimits | None, now: float) -> None:
        """Take the revealed plan's numbers as defaults for the windows that had only a table's or a guess."""
        if plan is None:
            return
        self._tier = plan.tier
        enforced = _enforced(plan)
        changes = {}
        for name in _WINDOWS:
            if self._sources[name] in ("tier", "probe") and getattr(plan.sources, name) in ("tier", "probe", "unknown"):
                self._sources[name] = getattr(plan.sources, name)
                changes[name] = getattr(enforced, name)
        if changes:
            self._defaults = msgspec.structs.replace(self._defaults, **changes)
            self._limits = msgspec.structs.replace(self._limits, **changes)
            self._want(now, prefetch=False)

    def _capped(self, window: str, limit: int | None, source: LimitSource) -> int | None:
        """The server's ``limit`` where it is below a configured cap (then from ``source``), else the cap."""
        if limit is None:
            return None
        cap = self._caps.get(window)
        if cap is not None and limit >= cap:
            return cap
        self._sources[window] = source
        return limit

    def _believe(self, window: str, limit: int, now: float) -> None:
        if getattr(self._limits, window) != limit:
            self._limits = msgspec.structs.replace(self._limits, **{window: limit})
            self._want(now, prefetch=False)

    def learn_limit(self, window: str, limit: int, source: LimitSource, now: float) -> None:
        """Believe, and tell every worker, a window's limit that a 429 or 413 body stated.

        A configured cap stays where lower; ITPM and OTPM (not kept in the shared windows) are ignored.
        """
        name = window.lower()
        if name not in _WINDOWS or limit <= 0:
            return
        capped = self._capped(name, limit, source)
        self._observations[name] = (LimitObservation(name, capped), now)
        self._believe(name, capped, now)  # type: ignore[arg-type]

    def observe_rate_limited(
        self, retry_after: float | None, window: str | None, now: float, *, limit: int | None = None
    ) -> None:
        """Handle a 429: pause this model here at once, and for every worker via the store.

        A ``limit`` the body stated for ``window`` is learned (and shared) exactly.
        """
        if window is not None and limit is not None:
            self.learn_limit(window, limit, "rate-limit", now)
        retry_after = rate_limit_pause(retry_after)
        until = now + retry_after
        self._paused_until = max(self._paused_until, until)
        if self._pause is None or until >= self._pause[0] + self._pause[2]:
            self._pause = (retry_after, None if window is None else window.lower(), now)
        self._want(now, prefetch=False)

    def snapshot(self, now: float) -> BudgetSnapshot:
        """The shared windows as of the last round trip (leases held by workers count as spent)."""
        shared = self._shared or SyncReply()
        age = now - self._shared_at
        remaining, full_in = shared.remaining, shared.full_in

        def left(value: float | None) -> int | None:
            return None if value is None else max(0, int(value))

        def reset(value: float | None) -> float:
            return 0.0 if value is None else max(0.0, value - age)

        paused_for = max(0.0, self._paused_until - now)
        return BudgetSnapshot(
            limits=self._limits,
            remaining_requests_minute=left(remaining.rpm),
            remaining_requests_day=left(remaining.rpd),
            remaining_tokens_minute=left(remaining.tpm),
            remaining_tokens_day=left(remaining.tpd),
            reset_requests_minute=reset(full_in.rpm),
            reset_requests_day=reset(full_in.rpd),
            reset_tokens_minute=reset(full_in.tpm),
            reset_tokens_day=reset(full_in.tpd),
            paused_until=self._paused_until if paused_for > 0 else None,
            paused_for=paused_for,
            sources=LimitSources(**self._sources),
            tier=self._tier,
        )

    def idle(self, now: float) -> bool:
        """True if no lease is held and nothing waits to reach the store: forgetting it loses nothing."""
        self._expire(now)
        return not (self._leases or self._in_flight or self._paused_until > now or self.wants_sync(now, due_only=False))

    # -- the lease actor's interface --------------------------------------------------------

    def held(self, now: float) -> tuple[int, int]:
        """(requests, tokens) held in unexpired leases."""
        self._expire(now)
        return sum(lease.requests for lease in self._leases), sum(lease.tokens for lease in self._leases)

    def wants_sync(self, now: float, *, due_only: bool = True) -> bool:
        """Whether a round trip is due now (``due_only=False``: whether anything at all is waiting)."""
        if self._in_flight:
            return False
        self._expire(now)
        if self._urgent or self._releases or self._pause is not None:
            return True
        if not (self._give_back_requests or self._give_back_tokens or self._extra_tokens or self._observations):
            return False
        return not due_only or now >= min(self._flush_due, self._give_back_deadline)

    def next_deadline(self, now: float) -> float:
        """When a round trip will be due without anything else happening (inf if never)."""
        if self._in_flight:
            return math.inf
        deadline = min((lease.expires for lease in self._leases), default=math.inf)
        if self._give_back_requests or self._give_back_tokens or self._extra_tokens or self._observations:
            deadline = min(deadline, self._flush_due, self._give_back_deadline)
        return max(deadline, now)

    def begin_sync(self, now: float) -> SyncRequest:
        """Collect what the store must learn (and a lease to ask for) into one request.

        The counters are handed over and reset; they accumulate again for the next round trip.
        """
        self._expire(now)
        ask = None
        if self._urgent and now >= self._denied_until and (self._need_requests or self._need_tokens or self._prefetch):
            ask = self._make_ask()
        give_back_requests = self._give_back_requests
        give_back_tokens = self._give_back_tokens
        if now >= self._give_back_deadline:  # those grants have come back by themselves
            give_back_requests = give_back_tokens = 0
        pause = None
        if self._pause is not None:
            retry_after, window, at = self._pause
            pause = PauseReport(retry_after=retry_after, window=window, age=now - at)
        self._sync_count += 1
        request = SyncRequest(
            id=f"{self.owner}:{self.model}:s{self._sync_count}",
            scale=self.time_scale,
            defaults={name: value for name in _WINDOWS if (value := getattr(self._defaults, name))},
            observations=tuple(
                msgspec.structs.replace(observation, age=now - at) for observation, at in self._observations.values()
            ),
            pause=pause,
            give_back_requests=give_back_requests,
            give_back_tokens=give_back_tokens,
            extra_tokens=self._extra_tokens,
            releases=tuple(self._releases),
            ask=ask,
        )
        self._observations.clear()
        self._pause = None
        self._releases.clear()
        self._give_back_requests = self._give_back_tokens = self._extra_tokens = 0
        self._give_back_deadline = self._flush_due = math.inf
        self._urgent = self._prefetch = False
        self._need_requests = self._need_tokens = 0
        self._in_flight = True
        return request

    def end_sync(self, request: SyncRequest, reply: SyncReply, *, sent_at: float, now: float) -> None:
        """Take in the store's answer to ``request`` (sent at ``sent_at``, received ``now``)."""
        self._in_flight = False
        self._round_trip = 0.8 * self._round_trip + 0.2 * max(0.0, now - sent_at)
        self._shared = reply
        self._shared_at = now
        shared = {
            name: min(int(limit), self._caps.get(name) or math.inf)  # type: ignore[type-var]
            for name in _WINDOWS
            if (limit := getattr(reply.limits, name)) is not None
        }
        for name, limit in shared.items():
            if limit != getattr(self._limits, name) and name not in self._caps:
                self._sources[name] = "shared"  # another worker learned it
        self._limits = msgspec.structs.replace(self._limits, **shared)
        if reply.paused_for > 0:
            self._paused_until = max(self._paused_until, now + reply.paused_for)
        if reply.grant is not None and request.ask is not None:
            grant = reply.grant
            # The lease began on the store's clock after we sent; ending it ``ttl`` after sending
            # makes it end here first.
            self._leases.append(_Lease(grant.id, grant.requests, grant.tokens, sent_at + grant.ttl))
            while len(self._leases) > MAX_LEASES:
                self._retire(self._leases.pop(0))
            # Whoever asked while this lease was on its way asked for what it brings; if it is
            # not enough, the next try_acquire says so.
            self._urgent = self._prefetch = False
            self._need_requests = self._need_tokens = 0
        elif reply.wait is not None:
            self._denied_until = max(self._denied_until, now + reply.wait)
        elif self._denied_until > now and self._room_for_need(reply):
            self._denied_until = now
        if self._urgent or self._releases or self._pause is not None:
            self._notify()

    def close(self, now: float) -> SyncRequest:
        """The last request: return every lease held and flush what is pending; ask for nothing."""
        for lease in self._leases:
            self._retire(lease)
        self._leases.clear()
        self._urgent = self._prefetch = False
        self._need_requests = self._need_tokens = 0
        self._in_flight = False
        return self.begin_sync(now)

    # -- internals ------------------------------------------------------------------------

    def _room_for_need(self, reply: SyncReply) -> bool:
        """Whether the shared windows, as the reply shows them, could grant what we are waiting for."""
        need_requests = max(1, self._need_requests)
        need_tokens = max(self._need_tokens, self._last_cost)
        remaining = reply.remaining
        return all(
            level is None or level >= need
            for level, need in (
                (remaining.rpm, need_requests),
                (remaining.rpd, need_requests),
                (remaining.tpm, need_tokens),
                (remaining.tpd, need_tokens),
            )
        ) and reply.paused_for <= 0

    def _check_fits(self, tokens: int) -> None:
        limits = self._limits
        for name, limit, cost in (
            ("RPM", limits.rpm, 1),
            ("RPD", limits.rpd, 1),
            ("TPM", limits.tpm, tokens),
            ("TPD", limits.tpd, tokens),
        ):
            if limit is not None and cost > limit:
                raise RequestExceedsLimit(name, limit, cost)

    def _take(self, tokens: int) -> None:
        """Spend 1 request and ``tokens`` from the oldest leases first (they expire first).

        A lease used up is returned at once: the store then counts what was used from it for a
        period from now, instead of until ``ttl`` plus a period after it was granted.
        """
        requests = 1
        for lease in self._leases:
            taken = min(requests, lease.requests)
            lease.requests -= taken
            requests -= taken
            taken = min(tokens, lease.tokens)
            lease.tokens -= taken
            tokens -= taken
            if not (requests or tokens):
                break
        if any(not (lease.requests or lease.tokens) for lease in self._leases):
            for lease in self._leases:
                if not (lease.requests or lease.tokens):
                    self._retire(lease)
            self._leases = [lease for lease in self._leases if lease.requests or lease.tokens]

    def _expire(self, now: float) -> None:
        if any(lease.expires <= now for lease in self._leases):
            kept = []
            for lease in self._leases:
                if lease.expires <= now:
                    self._retire(lease)
                else:
                    kept.append(lease)
            self._leases = kept

    def _retire(self, lease: _Lease) -> None:
        self._releases.append(LeaseRelease(lease.id, lease.requests, lease.tokens))

    def _make_ask(self) -> LeaseAsk:
        limits = self._limits
        fraction = self.lease_fraction
        need_requests = max(0, self._need_requests)
        need_tokens = max(0, self._need_tokens)
        request_limits = [limit for limit in (limits.rpm, limits.rpd) if limit is not None]
        token_limits = [limit for limit in (limits.tpm, limits.tpd) if limit is not None]
        share_requests = min((math.ceil(limit * fraction) for limit in request_limits), default=64)
        share_tokens = min((math.ceil(limit * fraction) for limit in token_limits), default=4 * max(need_tokens, 256))
        self._lease_count += 1
        return LeaseAsk(
            id=f"{self.owner}:{self.model}:{self._lease_count}",
            need_requests=need_requests,
            need_tokens=need_tokens,
            want_requests=max(need_requests, share_requests, 1),
            want_tokens=max(need_tokens, share_tokens, self._last_cost),
            ttl=self.lease_ttl,
        )

    def _want(self, now: float, *, prefetch: bool) -> None:
        if prefetch:
            if len(self._leases) >= MAX_LEASES or now < self._denied_until:
                return
            self._prefetch = True
        was = self._urgent
        self._urgent = True
        if not was and not self._in_flight:
            self._notify()

    def _notify(self) -> None:
        if self._on_wants_sync is not None:
            self._on_wants_sync()

    def _still_counted(self, now: float, granted_at: float | None) -> bool:
        """Whether a grant made at ``granted_at`` is surely still in the shared per-minute windows.

        Half a period of margin covers the time the give-back spends waiting and travelling.
        """
        return granted_at is None or now < granted_at + MINUTE / self.time_scale / 2

    def _note_give_back(self, now: float, granted_at: float | None) -> None:
        expiry = (now if granted_at is None else granted_at) + MINUTE / self.time_scale / 2
        self._give_back_deadline = min(self._give_back_deadline, expiry)
        self._flush_due = min(self._flush_due, now + self.flush_after)

    def __repr__(self) -> str:
        requests = sum(lease.requests for lease in self._leases)
        tokens = sum(lease.tokens for lease in self._leases)
        return (
            f"<SharedRateBudget {self.model} {len(self._leases)} leases holding {requests} requests, "
            f"{tokens} tokens, paused until {self._paused_until:g}>"
        )
