"""The rate budget: how much of a model's Groq rate limits we may spend, and when.

Theory of operation
-------------------
Groq limits each model by requests per minute and per day (RPM, RPD), tokens per minute and
per day (TPM, TPD) and, for some organizations, input and output tokens per minute (ITPM, OTPM).
A :class:`RateBudget` holds six *windows*, one per limit, and grants a request only when every
window has room for it (1 request, its estimated tokens, their prompt and completion parts),
spending from all at once or from none. A window whose limit is unknown is not enforced.

Each window is a token bucket whose tokens come back exactly one period after they were spent
(a sliding-window log). That is the continuously refilling bucket of the design card with one
difference that matters: a plain bucket of capacity ``limit`` that refills at ``limit/period``
can grant almost ``2 * limit`` within one period (a full bucket, then a period's refill), and we
promise that **in no window of one period does the budget grant more than the limit it believes
in**. Every sequence this log grants is also one Groq's own continuously refilling buckets
accept, so a budget that agrees with the server never causes a 429. Steady-state throughput is
the same, ``limit`` per period; only the very first burst is halved.

Memory is bounded: spends are kept per time slot of ``period / 240`` (0.25 s for per-minute
windows, 6 minutes for per-day ones), keyed by the slot in which they expire, rounded *up*, so
a token may come back up to one slot late and never early. A window therefore holds at most a
few hundred entries, however many jobs pass through.

Learning from the server:

- :meth:`RateBudget.observe_headers` reads ``x-ratelimit-*``: ``limit-requests`` is the RPD
  limit, ``limit-tokens`` the TPM limit (Groq's convention); they replace what we believed.
  ``remaining-*`` clamps our view: if we think a window has more room than the server says
  remains, the difference is spent now and comes back when the server says the window is full
  again (``reset-*``, a Go duration), but no sooner than a bucket refilling at
  ``limit/period`` could make up the deficit (without a ``reset``, it comes back at that refill
  rate, bit by bit). We never raise our view to the server's: our own
  requests in flight may not be counted there yet. Unparsable values are ignored.
  The headers report no other window, so the two reported limits also *reveal the plan*: a
  ``recognise`` callback maps them to a published table (TPM 250,000 where the free tier's is
  8,000 means the Developer plan), whose RPM and TPD then replace the free tier's, or to a
  *probe* where no table fits.
- :meth:`RateBudget.observe_rate_limited` handles a 429: the whole model pauses until
  ``retry-after`` (1 s if absent), and the named window is drained: its remaining room is spent
  and comes back at the window's refill rate after the pause, as Groq's bucket refills. Groq's
  429 body states the window's limit ("(RPM): Limit 1000, Used 999, Requested 1"), which is then
  believed exactly; a 413 body likewise (:meth:`RateBudget.learn_limit`).
- A *probed* window (limit unknown) must not throttle to a guess, nor flood the server: it starts
  from a floor no plan is below and grows by everything the server accepts (doubling per round
  trip, like TCP's slow start), so the first 429 teaches the number and almost none follow; a 429
  that names the window but no number halves it, and it grows slower after (AIMD).
- :meth:`RateBudget.reconcile` corrects a grant once ``usage`` is known (the estimate was too
  high: give back; too low: spend the rest now), and :meth:`RateBudget.refund` undoes a grant
  for a request that never reached the server.

Rule 1: no IO, no clock: every method takes ``now`` (trio's clock, from the actor).
Rule 2: :meth:`RateBudget.try_acquire` returns a decision, not a promise: ``0.0`` means spent;
otherwise the exact number of seconds after which the same call succeeds if nothing else
happens in between (the actor sleeps that long and asks again).

Giving back (refund, a lower actual usage) takes from the window's *earliest* expiring entries.
As long as the grant being corrected is younger than the window's period this never lets the
window admit more than its limit (a short proof is in ``_Window.give_back``); callers pass
``granted_at`` so that a correction of an older grant (a stream longer than a minute) is
recognised and does nothing where the grant's tokens have already come back.
"""

from __future__ import annotations

import functools
import math
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Literal, TypeVar

import msgspec

from ._ratelimit_headers import read_rate_limit_headers
from ._windows import WINDOWS, window_named

__all__ = [
    "DEFAULT_RATE_LIMIT_PAUSE",
    "PROBE_GROWTH_AFTER_DECREASE",
    "SLOTS_PER_PERIOD",
    "BudgetSnapshot",
    "LimitSource",
    "LimitSources",
    "ModelLimits",
    "RateBudget",
    "RateBudgets",
    "Recognise",
    "RequestExceedsLimit",
    "StartingLimits",
    "budget_for",
]

MINUTE: Final = 60.0
DAY: Final = 86_400.0
SLOTS_PER_PERIOD: Final = 240
"""Time resolution of a window: spends come back at most ``period / 240`` late."""
DEFAULT_RATE_LIMIT_PAUSE: Final = 1.0
#: The longest pause a 429's ``retry-after`` may impose (as RetryPolicy's cap): a broken header must
#: not park a model for days.
MAX_RATE_LIMIT_PAUSE: Final = 600.0
"""Seconds a model pauses after a 429 that gave no ``retry-after``."""

PROBE_GROWTH_AFTER_DECREASE: Final = 0.125
"""After a 429 that names a probed window without its number, the window grows this much slower."""

LimitSource = Literal["configured", "headers", "rate-limit", "request-too-large", "tier", "probe", "shared", "unknown"]
"""Where a window's limit came from.

- ``configured``: the user said so (``limits=``): a cap. The server's own number (headers, a
  429 or 413 body) replaces it only where lower, since Groq enforces that one anyway.
- ``headers``: ``x-ratelimit-limit-*`` (RPD and TPM only: the headers report no other window).
- ``rate-limit``: a 429 body named the window and its limit ("on requests per minute (RPM):
  Limit 1000, ..."); ``request-too-large``: a 413 body did.
- ``tier``: the published table of the account's plan (recognised from the headers or configured).
- ``probe``: not known: the window starts from a floor no plan is below and grows by whatever the
  server accepts, until a 429 teaches the number.
- ``shared``: learned by another process sharing the budget through Redis.
- ``unknown``: not known and not enforced (ITPM and OTPM, which most organizations do not have).
"""


class ModelLimits(msgspec.Struct, frozen=True):
    """One model's rate limits; None means unknown (treated as unlimited until learned).

    Attributes:
        rpm: requests per minute.
        rpd: requests per day (Groq's ``x-ratelimit-limit-requests``).
        tpm: tokens per minute (Groq's ``x-ratelimit-limit-tokens``).
        tpd: tokens per day.
        itpm: input (uncached prompt) tokens per minute, where the organization has it.
        otpm: output (completion, reasoning included) tokens per minute, likewise.
    """

    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None
    tpd: int | None = None
    itpm: int | None = None
    otpm: int | None = None


class LimitSources(msgspec.Struct, frozen=True):
    """Where each window's limit came from (see :data:`LimitSource`)."""

    rpm: LimitSource = "unknown"
    rpd: LimitSource = "unknown"
    tpm: LimitSource = "unknown"
    tpd: LimitSource = "unknown"
    itpm: LimitSource = "unknown"
    otpm: LimitSource = "unknown"


class StartingLimits(msgspec.Struct, frozen=True):
    """The limits a budget starts from, where each came from, and the plan they belong to.

    Attributes:
        limits: the numbers (for a ``probe`` window: the floor it starts probing from).
        sources: one :data:`LimitSource` per window.
        tier: the plan whose table the ``tier`` windows come from (``"free"``...), if any.
    """

    limits: ModelLimits
    sources: LimitSources = LimitSources()
    tier: str | None = None

    @classmethod
    def configured(cls, limits: ModelLimits) -> StartingLimits:
        """Limits the user gave: ``configured`` where set, ``unknown`` (unenforced) elsewhere."""
        return cls(
            limits,
            LimitSources(
                **{spec.field: "configured" if getattr(limits, spec.field) is not None else "unknown" for spec in WINDOWS}
            ),
        )


Recognise = Callable[[int | None, int | None], StartingLimits | None]
"""Given the RPD and TPM limits the headers reported, the limits of the plan they reveal (or None).

Only windows whose limit came from a ``tier`` table or a ``probe`` take the answer: what was
configured or learned from the server stays.
"""



class BudgetSnapshot(msgspec.Struct, frozen=True):
    """What a :class:`RateBudget` believes at one moment, for ``rate_limits()`` and progress views.

    ``remaining_*`` is None where the limit is unknown. ``reset_*`` is, like Groq's
    ``x-ratelimit-reset-*``, the seconds until that window is entirely full again.

    Attributes:
        limits: the limits believed in (configured, then learned from headers).
        remaining_requests_minute: room left in the RPM window.
        remaining_requests_day: room left in the RPD window.
        remaining_tokens_minute: room left in the TPM window.
        remaining_tokens_day: room left in the TPD window.
        reset_requests_minute: seconds until the RPM window is full.
        reset_requests_day: seconds until the RPD window is full.
        reset_tokens_minute: seconds until the TPM window is full.
        reset_tokens_day: seconds until the TPD window is full.
        paused_until: when a 429 pause ends, or None if the model is not paused.
        paused_for: seconds of pause left (0.0 if not paused).
        sources: where each window's limit came from.
        tier: the plan the ``tier`` limits belong to, if any.
        remaining_input_tokens_minute: room left in the ITPM window.
        remaining_output_tokens_minute: room left in the OTPM window.
    """

    limits: ModelLimits
    remaining_requests_minute: int | None
    remaining_requests_day: int | None
    remaining_tokens_minute: int | None
    remaining_tokens_day: int | None
    reset_requests_minute: float
    reset_requests_day: float
    reset_tokens_minute: float
    reset_tokens_day: float
    paused_until: float | None
    paused_for: float
    sources: LimitSources = LimitSources()
    tier: str | None = None
    remaining_input_tokens_minute: int | None = None
    remaining_output_tokens_minute: int | None = None


class RequestExceedsLimit(ValueError):
    """A request needs more than a window's whole limit, so no amount of waiting will let it through.

    Groq answers such a request with 413 ``rate_limit_exceeded``; the scheduler turns this into
    the same error without sending it.

    Attributes:
        window: ``"RPM"``, ``"RPD"``, ``"TPM"``, ``"TPD"``, ``"ITPM"`` or ``"OTPM"``.
        limit: that window's limit.
        requested: what the request needs from it.
    """

    def __init__(self, window: str, limit: int, requested: int) -> None:
        super().__init__(
            f"a request needing {requested} from the {window} window can never be granted: the {window} limit is "
            f"{limit}; shorten the prompt or lower max_completion_tokens (or raise the configured {window} limit)"
        )
        self.window = window
        self.limit = limit
        self.requested = requested


class _Window:
    """One limit's sliding-window log: spends keyed by the (slot-rounded) time they come back.

    A window whose ``source`` is ``probe`` treats ``limit`` as a ceiling that grows by what the
    server accepts (:meth:`grow`): by the full amount at first, so that it doubles every round
    trip as TCP's slow start does, and by :data:`PROBE_GROWTH_AFTER_DECREASE` of it after a 429
    halved it.
    """

    __slots__ = ("_amounts", "_credit", "_keys", "cap", "growth", "limit", "name", "period", "resolution", "source", "spent")

    def __init__(self, name: str, period: float, limit: int | None, source: LimitSource = "unknown") -> None:
        self.name = name
        self.period = period
        self.resolution = period / SLOTS_PER_PERIOD
        self.limit = limit
        self.source: LimitSource = source
        self.cap = limit if source == "configured" else None
        self.growth = 1.0
        self._credit = 0.0
        self._keys: list[float] = []  # sorted expiry times, on the slot grid
        self._amounts: list[int] = []  # what comes back at each key
        self.spent = 0  # sum(_amounts): what is out now

    def learn(self, limit: int | None, source: LimitSource) -> None:
        """Believe ``limit`` from now on, because of ``source`` (a ``probe`` starts growing again).

        A configured cap stays where it is lower.
        """
        if self.cap is not None and (limit is None or limit >= self.cap):
            limit, source = self.cap, "configured"
        self.limit = limit
        self.source = source
        self.growth = 1.0
        self._credit = 0.0

    def grow(self, accepted: int) -> None:
        """A probed window's ceiling rises by (a share of) what the server just accepted."""
        if self.source != "probe" or self.limit is None or accepted <= 0:
            return
        self._credit += accepted * self.growth
        whole = int(self._credit)
        if whole:
            self.limit += whole
            self._credit -= whole

    def decrease(self) -> None:
        """A 429 named this probed window without its number: halve it and grow slower from here."""
        if self.source == "probe" and self.limit is not None:
            self.limit = max(1, self.limit // 2)
            self.growth = PROBE_GROWTH_AFTER_DECREASE
            self._credit = 0.0

    def key_for(self, expiry: float) -> float:
        """The slot-grid time at or after ``expiry`` (never before it, despite float rounding)."""
        slot = math.ceil(expiry / self.resolution)
        key = slot * self.resolution
        return key if key >= expiry else (slot + 1) * self.resolution

    def expire(self, now: float) -> None:
        """Take back every spend whose time has come."""
        count = bisect_right(self._keys, now)
        if count:
            self.spent -= sum(self._amounts[:count])
            del self._keys[:count]
            del self._amounts[:count]

    def ready_at(self, cost: int, now: float) -> float:
        """The earliest time ``cost`` fits (``now`` if it fits now). Call :meth:`expire` first."""
        if self.limit is None:
            return now
        excess = self.spent + cost - self.limit
        if excess <= 0:
            return now
        freed = 0
        for key, amount in zip(self._keys, self._amounts):
            freed += amount
            if freed >= excess:
                return key
        raise AssertionError(f"{self.name}: cost {cost} over limit {self.limit} must be rejected before asking")

    def spend(self, amount: int, until: float) -> None:
        """Spend ``amount`` now, to come back at ``until`` (rounded up to the slot grid)."""
        if amount <= 0:
            return
        key = self.key_for(until)
        keys = self._keys
        if not keys or key > keys[-1]:
            keys.append(key)
            self._amounts.append(amount)
        else:
            index = bisect_left(keys, key)
            if keys[index] == key:
                self._amounts[index] += amount
            else:
                keys.insert(index, key)
                self._amounts.insert(index, amount)
        self.spent += amount

    def spend_gradually(self, amount: int, start: float) -> None:
        """Spend ``amount`` now, coming back from ``start`` on at the refill rate ``limit/period``."""
        if amount <= 0 or not self.limit:
            return
        rate = self.limit / self.period
        returned = 0
        step = 1
        while returned < amount:
            back = min(amount, math.floor(rate * self.resolution * step))
            if back > returned:
                self.spend(back - returned, start + self.resolution * step)
                returned = back
            step += 1

    def give_back(self, amount: int, until: float | None = None) -> None:
        """Undo ``amount`` of an earlier spend that has not come back yet.

        With ``until`` (when that spend was due back), the amount comes off the spend's own
        entry: exactly the truth, so the room returns now *and* the entry no longer returns it
        a second time later. Whatever that entry cannot cover (or all of it, without
        ``until``) comes off the earliest entries. Why earliest first is safe: say our log
        *dominates* the truth (for every future time, at least as much is out in our log as
        truly is). Truth removes ``amount`` from the grant's own entry at time ``g``, which
        holds at least ``amount``. We remove it from the front. For times before ``g`` both
        lose ``amount`` (we lose at most that). For a time ``t >= g`` we only lose anything if
        the whole front up to ``t`` is consumed, and then what is left out in our log is our
        total minus ``amount``, which is at least the truth's total minus the ``amount`` it
        holds at ``g <= t``: still dominating. (Safe, but wasteful: room taken off entries due
        soon was coming back soon anyway, which is why the own entry goes first.)
        """
        amounts = self._amounts
        remaining = min(amount, self.spent)
        self.spent -= remaining
        if until is not None and remaining:
            key = self.key_for(until)
            index = bisect_left(self._keys, key)
            if index < len(self._keys) and self._keys[index] == key:
                taken = min(remaining, amounts[index])
                amounts[index] -= taken
                remaining -= taken
                if amounts[index] == 0:
                    del self._keys[index]
                    del amounts[index]
        drop = 0
        while remaining:
            taken = min(remaining, amounts[drop])
            amounts[drop] -= taken
            remaining -= taken
            if amounts[drop] == 0:
                drop += 1
        if drop:
            del self._keys[:drop]
            del amounts[:drop]

    def full_at(self, now: float) -> float:
        """When everything spent has come back."""
        return self._keys[-1] if self._keys else now

    def level(self) -> int | None:
        """Room left (may be negative after an under-estimate); None if the limit is unknown."""
        return None if self.limit is None else self.limit - self.spent


class RateBudget:
    """One model's rate-limit windows, and the rule for spending from them.

    Args:
        limits: the limits to start from: a :class:`StartingLimits` (with where each came from),
            or plain :class:`ModelLimits` (taken as configured).
        now: the current time (the actor's clock).
        time_scale: how many times faster than real time the server's windows run (1.0 for
            Groq; the emulator's ``time_scale`` when it compresses a minute of limits).
        recognise: asked with the RPD and TPM limits the headers report, for the plan they reveal
            (see :data:`Recognise`); None keeps the starting limits of the other windows.
    """

    __slots__ = ("_itpm", "_otpm", "_paused_until", "_recognise", "_recognised", "_rpd", "_rpm", "_tier", "_tpd", "_tpm", "_windows")

    def __init__(
        self,
        limits: ModelLimits | StartingLimits,
        now: float,
        *,
        time_scale: float = 1.0,
        recognise: Recognise | None = None,
    ) -> None:
        if not time_scale > 0:
            raise ValueError(f"time_scale={time_scale!r} must be a positive factor (1.0 for the real Groq API)")
        start = limits if isinstance(limits, StartingLimits) else StartingLimits.configured(limits)
        periods = {"minute": MINUTE / time_scale, "day": DAY / time_scale}
        numbers, sources = start.limits, start.sources
        self._windows = tuple(
            _Window(spec.name, periods[spec.span], getattr(numbers, spec.field), getattr(sources, spec.field))
            for spec in WINDOWS
        )
        self._rpm, self._rpd, self._tpm, self._tpd, self._itpm, self._otpm = self._windows
        self._paused_until = now
        self._tier = start.tier
        self._recognise = recognise
        self._recognised: tuple[int | None, int | None] | None = None

    @property
    def limits(self) -> ModelLimits:
        """The limits currently believed in (for a probed window, its current ceiling)."""
        return ModelLimits(*(window.limit for window in self._windows))

    @property
    def sources(self) -> LimitSources:
        """Where each window's limit came from."""
        return LimitSources(*(window.source for window in self._windows))

    @property
    def tier(self) -> str | None:
        """The plan the ``tier`` windows come from, if any."""
        return self._tier

    def _costs(self, tokens: int, output_tokens: int) -> tuple[int, int, int, int, int, int]:
        return 1, 1, tokens, tokens, tokens - output_tokens, output_tokens

    def try_acquire(self, tokens: int, now: float, output_tokens: int = 0) -> float:
        """Spend one request and ``tokens`` tokens from every window, or say how long to wait.

        Args:
            tokens: the job's estimated token cost (prompt plus completion budget).
            now: the current time.
            output_tokens: the part of ``tokens`` that is completion (for OTPM; the rest is ITPM).

        Returns:
            ``0.0`` if granted (spent from all windows); otherwise the seconds until this same
            call would be granted if nothing else happens, with nothing spent.

        Raises:
            RequestExceedsLimit: the request exceeds a known window's whole limit.
            ValueError: ``tokens`` is negative, or ``output_tokens`` is not within it.
        """
        if tokens < 0 or not 0 <= output_tokens <= tokens:
            raise ValueError(f"tokens={tokens!r} must be >= 0 and output_tokens={output_tokens!r} within it")
        ready = self._paused_until
        costs = self._costs(tokens, output_tokens)
        for window, cost in zip(self._windows, costs):
            limit = window.limit
            if limit is None:
                continue
            if cost > limit:
                if window.source != "probe":
                    raise RequestExceedsLimit(window.name, limit, cost)
                window.limit = limit = cost  # a guess must not refuse what the server may accept
            window.expire(now)
            at = window.ready_at(cost, now)
            if at > ready:
                ready = at
        if ready > now:
            wait = ready - now
            while now + wait < ready:  # so that asking again at now + wait is granted
                wait = math.nextafter(wait, math.inf)
            return wait
        for window, cost in zip(self._windows, costs):
            window.spend(cost, now + window.period)
        return 0.0

    def refund(self, tokens: int, now: float, *, granted_at: float | None = None, output_tokens: int = 0) -> None:
        """Give back a grant whose request never reached the server (e.g. connection refused).

        Args:
            tokens: the tokens the grant spent.
            now: the current time.
            granted_at: when it was granted; windows where the grant has already come back are
                left alone. None means "less than a minute ago".
            output_tokens: the completion part of ``tokens`` the grant spent.
        """
        if tokens < 0:
            raise ValueError(f"tokens={tokens!r} must be >= 0")
        for window, amount in zip(self._windows, self._costs(tokens, output_tokens)):
            self._give_back(window, amount, now, granted_at)

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
        """Correct a grant's tokens once the response's ``usage`` is known.

        Args:
            estimated_tokens: what the grant spent.
            actual_tokens: what Groq charged: prompt tokens less the cached ones (which do not
                count toward limits), plus completion tokens (reasoning included).
            now: the current time.
            granted_at: when it was granted (see :meth:`refund`).
            estimated_output, actual_output: the completion parts of the two (for ITPM and OTPM).

        An over-estimate is given back. An under-estimate spends the difference now, for a
        full period, even if that overdraws a window (it then waits until it is back in credit).
        The server accepted the request, so every probed window grows by what it spent.
        """
        if estimated_tokens < 0 or actual_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got estimated_tokens={estimated_tokens!r}, actual_tokens={actual_tokens!r}"
            )
        estimated = self._costs(estimated_tokens, estimated_output)
        actual = self._costs(actual_tokens, actual_output)
        for window, before, after in zip(self._windows, estimated, actual):
            window.grow(after)
            difference = after - before
            if difference < 0:
                self._give_back(window, -difference, now, granted_at)
            elif difference > 0:
                window.expire(now)
                window.spend(difference, now + window.period)

    def observe_headers(self, headers: Mapping[str, str], now: float) -> None:
        """Learn limits and remaining room from a response's ``x-ratelimit-*`` headers.

        The two limits the headers report are exact (unless configured); the plan they reveal
        restarts the windows they do not report (see :data:`Recognise`). Never raises: a header
        that does not parse is ignored. Names are matched case-insensitively.
        """
        report = read_rate_limit_headers(headers)
        if report is None:
            return
        for window, seen in ((self._rpd, report.requests), (self._tpm, report.tokens)):
            if seen.limit is not None:
                window.learn(seen.limit, "headers")
            remaining = seen.remaining
            if remaining is None or window.limit is None:
                continue
            window.expire(now)
            excess = window.limit - window.spent - remaining
            if excess <= 0:
                continue
            reset = seen.reset
            if reset is None:
                # Without a reset, the deficit comes back as the server's bucket refills it
                # (limit/period), not all at once a whole refill later: one request of a day's
                # allowance is back in minutes, not after a day.
                window.spend_gradually(excess, now)
                continue
            # A bucket refills at limit/period at most, so the deficit cannot be gone sooner than
            # that, whatever ``reset`` says.
            refill = (window.limit - remaining) * window.period / window.limit if window.limit else window.period
            window.spend(excess, now + min(max(reset, refill), window.period))
        pair = (report.requests.limit, report.tokens.limit)
        if self._recognise is not None and pair != self._recognised and pair != (None, None):
            self._recognised = pair
            self._restart_from(self._recognise(*pair))

    def _restart_from(self, plan: StartingLimits | None) -> None:
        """Take the revealed plan's limits for the windows that only had a table's number or a guess."""
        if plan is None:
            return
        self._tier = plan.tier
        limits, sources = msgspec.structs.astuple(plan.limits), msgspec.structs.astuple(plan.sources)
        for window, limit, source in zip(self._windows, limits, sources):
            if window.source in ("tier", "probe") and source in ("tier", "probe", "unknown"):
                if source == "probe" and window.source == "probe" and window.limit is not None:
                    limit = max(limit or 0, window.limit)  # keep what probing has already shown
                window.learn(limit, source)

    def learn_limit(self, window: str, limit: int, source: LimitSource, now: float) -> None:
        """Believe a window's limit that a 429 or 413 body stated ("... (RPM): Limit 1000, ...").

        A configured limit stays where it is lower. ``window`` is matched case-insensitively; an
        unknown name or a non-positive limit is ignored.
        """
        named = self._window(window)
        if named is None or limit <= 0:
            return
        named.expire(now)
        named.learn(limit, source)

    def observe_rate_limited(
        self, retry_after: float | None, window: str | None, now: float, *, limit: int | None = None
    ) -> None:
        """Handle a 429: pause the model until ``now + retry_after`` and drain the named window.

        Args:
            retry_after: the server's ``retry-after`` in seconds, or None (then 1 s); at most
                ``MAX_RATE_LIMIT_PAUSE`` (10 minutes) is believed.
            window: ``"RPM"``, ``"RPD"``, ``"TPM"``, ``"TPD"``, ``"ITPM"``, ``"OTPM"`` (any case)
                or None if unknown.
            now: the current time.
            limit: the window's limit as the body stated it, if it did: learned exactly. Without
                it a probed window is halved (multiplicative decrease).
        """
        until = now + rate_limit_pause(retry_after)
        self._paused_until = max(self._paused_until, until)
        drained = None if window is None else self._window(window)
        if drained is None:
            return
        if limit is not None:
            self.learn_limit(window, limit, "rate-limit", now)  # type: ignore[arg-type]
        else:
            drained.decrease()
        if drained.limit is None:
            return
        drained.expire(now)
        drained.spend_gradually(drained.limit - drained.spent, until)

    def snapshot(self, now: float) -> BudgetSnapshot:
        """What this budget believes at ``now``."""
        for window in self._windows:
            window.expire(now)
        paused_for = max(0.0, self._paused_until - now)
        return BudgetSnapshot(
            limits=self.limits,
            remaining_requests_minute=_remaining(self._rpm),
            remaining_requests_day=_remaining(self._rpd),
            remaining_tokens_minute=_remaining(self._tpm),
            remaining_tokens_day=_remaining(self._tpd),
            reset_requests_minute=self._rpm.full_at(now) - now,
            reset_requests_day=self._rpd.full_at(now) - now,
            reset_tokens_minute=self._tpm.full_at(now) - now,
            reset_tokens_day=self._tpd.full_at(now) - now,
            paused_until=self._paused_until if paused_for > 0 else None,
            paused_for=paused_for,
            sources=self.sources,
            tier=self._tier,
            remaining_input_tokens_minute=_remaining(self._itpm),
            remaining_output_tokens_minute=_remaining(self._otpm),
        )

    def idle(self, now: float) -> bool:
        """True if nothing is spent and nothing paused: forgetting this budget would lose nothing but learned limits."""
        if self._paused_until > now:
            return False
        for window in self._windows:
            window.expire(now)
            if window.spent:
                return False
        return True

    def _window(self, name: str) -> _Window | None:
        spec = window_named(name)
        return None if spec is None else self._windows[WINDOWS.index(spec)]

    def _give_back(self, window: _Window, amount: int, now: float, granted_at: float | None) -> None:
        if amount <= 0:
            return
        window.expire(now)
        if granted_at is None:
            window.give_back(amount)
            return
        due = granted_at + window.period
        if window.key_for(due) <= now:
            return  # that grant has already come back in this window
        window.give_back(amount, due)

    def __repr__(self) -> str:
        parts = []
        for window in self._windows:
            if window.limit is None and window in (self._itpm, self._otpm):
                continue  # most organizations have neither
            level = window.level()
            parts.append(f"{window.name} {'?' if level is None else level}/{'?' if window.limit is None else window.limit}")
        return f"<RateBudget {', '.join(parts)}, paused until {self._paused_until:g}>"


class RateBudgets:
    """The budgets of every model in use, each created on first use from ``defaults(model)``.

    Args:
        defaults: the starting limits for a model id (configured, a plan's table, or a probe).
        recognise: ``recognise(model, rpd, tpm)``: the limits of the plan that the headers'
            RPD and TPM reveal for ``model`` (see :data:`Recognise`); None: no plan recognition.
        time_scale: passed to every :class:`RateBudget`.
        max_models: how many budgets to keep. Past it, the least recently used *idle* budget
            is forgotten (it would be recreated identical, minus learned limits).
    """

    __slots__ = ("_budgets", "_defaults", "_recognise", "max_models", "time_scale")

    def __init__(
        self,
        defaults: Callable[[str], ModelLimits | StartingLimits],
        *,
        recognise: Callable[[str, int | None, int | None], StartingLimits | None] | None = None,
        time_scale: float = 1.0,
        max_models: int = 1024,
    ) -> None:
        if max_models < 1:
            raise ValueError(f"max_models={max_models!r} must be at least 1")
        self._defaults = defaults
        self._recognise = recognise
        self.time_scale = time_scale
        self.max_models = max_models
        self._budgets: OrderedDict[str, RateBudget] = OrderedDict()

    def get(self, model: str, now: float) -> RateBudget:
        """The budget for ``model``, created from the defaults if it is new.

        Raises:
            RuntimeError: ``max_models`` budgets are all busy and ``model`` is new.
        """
        def create() -> RateBudget:
            recognise = None if self._recognise is None else functools.partial(self._recognise, model)
            return RateBudget(self._defaults(model), now, time_scale=self.time_scale, recognise=recognise)

        return budget_for(self._budgets, model, now, self.max_models, "RateBudgets", create)

    def snapshots(self, now: float) -> dict[str, BudgetSnapshot]:
        """A snapshot of every model's budget."""
        return {model: budget.snapshot(now) for model, budget in self._budgets.items()}

    def __contains__(self, model: object) -> bool:
        return model in self._budgets

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._budgets))

    def __len__(self) -> int:
        return len(self._budgets)

    def __repr__(self) -> str:
        return f"<RateBudgets {len(self._budgets)} models>"


def rate_limit_pause(retry_after: float | None) -> float:
    """The pause a 429 imposes: its ``retry-after`` (1 s if absent or garbled), at most ten minutes."""
    if retry_after is None or not (retry_after >= 0 and math.isfinite(retry_after)):
        return DEFAULT_RATE_LIMIT_PAUSE
    return min(retry_after, MAX_RATE_LIMIT_PAUSE)


_B = TypeVar("_B")


def budget_for(
    budgets: OrderedDict[str, _B], model: str, now: float, max_models: int, owner: str, create: Callable[[], _B]
) -> _B:
    """``model``'s budget in ``budgets`` (least recently used first), made by ``create`` if it is new.

    A new model takes the place of the least recently used idle budget once ``max_models`` are held.

    Raises:
        RuntimeError: all ``max_models`` budgets are busy.
    """
    budget = budgets.get(model)
    if budget is not None:
        budgets.move_to_end(model)
        return budget
    if len(budgets) >= max_models:
        _forget_an_idle_budget(budgets, model, now, max_models, owner)
    budget = budgets[model] = create()
    return budget


def _forget_an_idle_budget(budgets: OrderedDict[str, Any], model: str, now: float, max_models: int, owner: str) -> None:
    for name, candidate in budgets.items():
        if candidate.idle(now):
            del budgets[name]
            return
    raise RuntimeError(
        f"{owner} holds budgets for {max_models} models, all in use; model {model!r} cannot get one "
        f"(raise {owner}(max_models=...))"
    )


def _remaining(window: _Window) -> int | None:
    level = window.level()
    return None if level is None else max(0, level)


