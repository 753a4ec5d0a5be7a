"""The rate budget: how much of a model's Groq rate limits we may spend, and when.

Theory of operation
-------------------
Groq limits each model by requests per minute and per day (RPM, RPD), tokens per minute and
per day (TPM, TPD) and, for some organizations, input and output tokens per minute (ITPM, OTPM).
A :class:`RateBudget` holds six *windows*, one per limit, and grants a request only when every
window has room for it (1 request, its estimated tokens, their prompt and completion parts),
spending from all at once or from none. A window whose limit is unknown is not enforced.

Each window is the bucket Groq keeps (console.groq.com/docs/rate-limits, 2026: limits are
enforced "on a per-model basis"; the reset headers count down as a continuously refilling bucket
would: after one request of a 14,400 RPD allowance, ``x-ratelimit-reset-requests`` says ``6s``):
capacity ``limit``, refilled at ``limit / period``. A request is charged at admission what Groq
charges (1 request, and its prompt estimate plus its completion budget), and the difference is
given back the moment ``usage`` says what it really cost, as Groq gives back an unused
reservation when the request finishes.

**The guarantee**: against a server that keeps the same buckets, a budget that knows the limits
never causes a 429. Our room never exceeds the server's: both start full; a grant is held apart
(*pending*, not refilling) from the moment we grant it until a response shows the server counted
it, so each charge is no smaller than the server's and starts refilling no sooner (the request
reached the server between the two); we give back no more and no sooner (the server reconciled
before its response reached us); and both refill at the same rate. So whatever we grant, the
server admits (``tests/actors/test_budget_guarantee.py`` checks this with
hypothesis against the emulator's own limiter). A bucket grants a full period's limit at once and
then its refill: that is Groq's behaviour, and using it is what takes the whole limit.

Memory is constant: a window is a few numbers, however many jobs pass through.

Learning from the server:

- :meth:`RateBudget.observe_headers` reads ``x-ratelimit-*``: ``limit-requests`` is the RPD
  limit, ``limit-tokens`` the TPM limit (Groq's convention); they replace what we believed
  (a new limit keeps the bucket's deficit). ``remaining-*`` is the server's level right after it
  admitted that request: where we believe in more room, we lower ours to it (another client on
  the same key, a prompt the server counts higher), and from there it refills at the bucket's
  rate, as the server's does. We never raise our level to the server's: our own requests in
  flight may not be counted there yet. Unparsable values are ignored.
  The headers report no other window, so the two reported limits also *reveal the plan*: a
  ``recognise`` callback maps them to a published table (TPM 250,000 where the free tier's is
  8,000 means the Developer plan), whose RPM and TPD then replace the free tier's, or to a
  *probe* where no table fits.
- :meth:`RateBudget.observe_rate_limited` handles a 429: the whole model pauses until
  ``retry-after`` (1 s if absent), and the named window is drained: it is emptied and refills
  at its rate from the end of the pause, as Groq's bucket does. Groq's
  429 body states the window's limit ("(RPM): Limit 1000, Used 999, Requested 1"), which is then
  believed exactly; a 413 body likewise (:meth:`RateBudget.learn_limit`).
- A *probed* window (limit unknown) must not throttle to a guess, nor flood the server: it starts
  from a floor no plan is below and grows by everything the server accepts (doubling per round
  trip, like TCP's slow start), so the first 429 teaches the number and almost none follow; a 429
  that names the window but no number halves it, and it grows slower after (AIMD).
- A configured limit above the plan's table is a cap, not yet a fact: until the first response,
  no more than the table's number may be in flight (``StartingLimits.first_wave``), so a user who
  writes 10**9 TPM to mean "no limit" does not send a first wave the server refuses in part.
- :meth:`RateBudget.confirm` charges a grant to the buckets when its response arrives;
  :meth:`RateBudget.reconcile` corrects it once ``usage`` is known (the estimate was too high:
  give back; too low: spend the rest now), and :meth:`RateBudget.refund` withdraws a grant the
  server never counted (never sent, or answered with a 429).

Rule 1: no IO, no clock: every method takes ``now`` (trio's clock, from the actor).
Rule 2: :meth:`RateBudget.try_acquire` returns a decision, not a promise: ``0.0`` means spent;
otherwise the exact number of seconds after which the same call succeeds if nothing else
happens in between (the actor sleeps that long and asks again).

"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Literal, TypeVar

import msgspec

from ._ratelimit_headers import RateLimitReport, read_rate_limit_headers
from ._windows import WINDOWS, window_named

__all__ = [
    "DEFAULT_RATE_LIMIT_PAUSE",
    "PROBE_GROWTH_AFTER_DECREASE",
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
_EPSILON: Final = 1e-7
"""Room a bucket may be short by and still grant: float rounding must not turn "ready at t" into a wait at t
(the emulator forgives 1e-6, so a grant here is one there)."""
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
        first_wave: per window, the most that may be in flight before any response has confirmed
            the limit (None: no bound beyond the limit). Set where a configured limit is above
            what the plan's table (or a probe's floor) says: a limit the server has not confirmed
            may be a guess ("no limits", 10**9 TPM), and a first wave sized by it would be refused
            in part. The table's number is what the account is granted at once; the first response
            lifts the bound, and its headers say the truth.
    """

    limits: ModelLimits
    sources: LimitSources = LimitSources()
    tier: str | None = None
    first_wave: ModelLimits | None = None

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
    """One limit as Groq keeps it: a bucket of capacity ``limit`` that refills at ``limit / period``.

    ``level`` is the bucket's level as of ``stamp`` (a float, negative while in debt after an
    under-estimate); :meth:`refill` brings it up to ``now``. ``pending`` is what grants have
    charged that no response has confirmed yet: it is held apart and does not refill, because the
    server's bucket starts refilling a charge only once the request reaches it, which may be later
    than our grant. The room is ``level - pending``. A window whose limit is unknown keeps no level
    and is not enforced.

    A window whose ``source`` is ``probe`` treats ``limit`` as a ceiling that grows by what the
    server accepts (:meth:`grow`): by the full amount at first, so that it doubles every round
    trip as TCP's slow start does, and by :data:`PROBE_GROWTH_AFTER_DECREASE` of it after a 429
    halved it. A new limit keeps the window's deficit (``limit - level``): what is out stays out.
    """

    __slots__ = (
        "_credit", "cap", "first_wave", "growth", "level", "limit", "name", "pending", "period", "rate", "source", "stamp"
    )

    def __init__(
        self,
        name: str,
        period: float,
        limit: int | None,
        now: float,
        source: LimitSource = "unknown",
        first_wave: int | None = None,
    ) -> None:
        self.name = name
        self.period = period
        self.limit = limit
        self.rate = 0.0 if limit is None else limit / period
        self.level = 0.0 if limit is None else float(limit)
        self.pending = 0.0
        self.stamp = now
        self.source: LimitSource = source
        self.cap = limit if source == "configured" else None
        #: Until a response confirms the limit: the most that may be pending at once (see StartingLimits).
        self.first_wave = first_wave if limit is not None and first_wave is not None and first_wave < limit else None
        self.growth = 1.0
        self._credit = 0.0

    def learn(self, limit: int | None, source: LimitSource) -> None:
        """Believe ``limit`` from now on, because of ``source`` (a ``probe`` starts growing again).

        A configured cap stays where it is lower.
        """
        if self.cap is not None and (limit is None or limit >= self.cap):
            limit, source = self.cap, "configured"
        if limit == self.limit and source == self.source and source != "probe" and self.first_wave is None:
            return  # every response repeats its headers: nothing new (a probe, though, starts growing again)
        self.resize(limit)
        self.source = source
        self.first_wave = None
        self.growth = 1.0
        self._credit = 0.0

    def resize(self, limit: int | None) -> None:
        """Take ``limit`` as the capacity, keeping the deficit (what is out stays out)."""
        if limit is None:
            self.level = 0.0
        elif self.limit is None:
            self.level = float(limit)  # nothing was counted while the limit was unknown
        else:
            self.level += limit - self.limit
        self.limit = limit
        self.rate = 0.0 if limit is None else limit / self.period

    def grow(self, accepted: int) -> None:
        """A probed window's ceiling rises by (a share of) what the server just accepted.

        The accepted charge itself comes back too: a probe bounds what is in flight, not a rate it
        cannot know yet, so that its room doubles every round trip (TCP's slow start) until a 429
        states the limit.
        """
        if self.source != "probe" or self.limit is None or accepted <= 0:
            return
        self._credit += accepted * self.growth
        whole = int(self._credit)
        if whole:
            self.resize(self.limit + whole)
            self._credit -= whole
        self.give_back(accepted)

    def decrease(self) -> None:
        """A 429 named this probed window without its number: halve it and grow slower from here."""
        if self.source == "probe" and self.limit is not None:
            self.resize(max(1, self.limit // 2))
            self.growth = PROBE_GROWTH_AFTER_DECREASE
            self._credit = 0.0

    def refill(self, now: float) -> None:
        """Bring the level up to ``now`` (never past the limit; not before a pause's end)."""
        if now > self.stamp:
            if self.limit is not None and self.level < self.limit:
                self.level = min(float(self.limit), self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def ready_at(self, cost: int, now: float) -> float:
        """The earliest time ``cost`` fits (``now`` if it fits now). Call :meth:`refill` first."""
        if self.limit is None:
            return now
        start = max(now, self.stamp)
        if self.first_wave is not None and self.pending and self.pending + cost > self.first_wave + _EPSILON:
            return math.inf  # until a response confirms the limit (or withdraws a grant); the actor is woken then
        short = cost - (self.level - self.pending)
        if short <= _EPSILON:
            return start
        # Exact if nothing is pending; otherwise a confirmation may be needed first, and the
        # actor is woken by it.
        return start + short / self.rate

    def reserve(self, amount: float) -> None:
        """A grant: hold ``amount`` apart until a response confirms it (or it is withdrawn)."""
        if amount > 0 and self.limit is not None:
            self.pending += amount

    def confirm(self, amount: float) -> None:
        """The server has counted a grant: it leaves ``pending`` and is charged to the bucket, refilling from now."""
        if amount > 0 and self.limit is not None:
            self.pending = max(0.0, self.pending - amount)
            self.level -= amount

    def withdraw(self, amount: float) -> None:
        """A grant the server never counted (never sent, or refused with a 429): nothing is charged."""
        if amount > 0 and self.limit is not None:
            self.pending = max(0.0, self.pending - amount)

    def spend(self, amount: float) -> None:
        """Charge ``amount`` to the bucket now (into debt if need be): an under-estimate."""
        if amount > 0 and self.limit is not None:
            self.level -= amount

    def lower_to(self, level: float) -> None:
        """The server had at most ``level`` left after counting a request: believe it where we thought more.

        Called once that request is confirmed, so what is still pending is subtracted from it, as
        the server may not have counted those yet.
        """
        if self.limit is not None and level < self.level:
            self.level = level

    def drain(self, until: float) -> None:
        """Empty the bucket, refilling only from ``until`` on (a 429's pause)."""
        if self.limit is not None:
            self.level = min(self.level, self.pending)
            self.stamp = max(self.stamp, until)

    def give_back(self, amount: float) -> None:
        """Return ``amount`` of an earlier charge (never past the limit).

        Safe against a server that keeps the same bucket: it gave the same amount back when the
        request finished, before we could learn of it.
        """
        if amount > 0 and self.limit is not None:
            self.level = min(float(self.limit), self.level + amount)

    def full_at(self, now: float) -> float:
        """When the room is the whole limit again, if nothing more is granted and what is pending is confirmed now."""
        room = self.level - self.pending
        if self.limit is None or room >= self.limit:
            return now
        return max(now, self.stamp) + (self.limit - room) / self.rate

    @property
    def full(self) -> bool:
        """Nothing is out or pending (as of the last refill)."""
        return self.limit is None or (self.level >= self.limit and not self.pending)

    def room(self) -> int | None:
        """Whole units of room left (0 in debt); None if the limit is unknown."""
        return None if self.limit is None else max(0, math.floor(self.level - self.pending + _EPSILON))


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

    __slots__ = (
        "_itpm", "_otpm", "_paused_until", "_recognise", "_recognised", "_rpd", "_rpm", "_server_resets", "_tier",
        "_tpd", "_tpm", "_windows",
    )

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
        waves = start.first_wave or ModelLimits()
        self._windows = tuple(
            _Window(
                spec.name,
                periods[spec.span],
                getattr(numbers, spec.field),
                now,
                getattr(sources, spec.field),
                getattr(waves, spec.field),
            )
            for spec in WINDOWS
        )
        self._rpm, self._rpd, self._tpm, self._tpd, self._itpm, self._otpm = self._windows
        self._paused_until = now
        self._tier = start.tier
        self._recognise = recognise
        self._recognised: tuple[int | None, int | None] | None = None
        #: The server's last ``x-ratelimit-reset-*`` per reported window ("rpd", "tpm"): (seconds, when seen).
        self._server_resets: dict[str, tuple[float, float]] = {}

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
                window.resize(cost)  # a guess must not refuse what the server may accept
                limit = cost
            window.refill(now)
            at = window.ready_at(cost, now)
            if at > ready:
                ready = at
        if ready > now:
            wait = ready - now
            while now + wait < ready:  # so that asking again at now + wait is granted
                wait = math.nextafter(wait, math.inf)
            return wait
        for window, cost in zip(self._windows, costs):
            window.reserve(cost)
        return 0.0

    def confirm(self, tokens: int, now: float, output_tokens: int = 0) -> None:
        """A response (any status but a 429) shows the server counted a grant: charge it to the buckets.

        Until now it was held apart, without refilling (see :class:`_Window`). Call it before
        :meth:`observe_headers` for that response, and before :meth:`reconcile`.
        """
        for window, amount in zip(self._windows, self._costs(tokens, output_tokens)):
            if window.limit is None:
                continue  # not enforced (every call passes here: skip what would do nothing)
            window.refill(now)
            window.confirm(amount)
            window.first_wave = None  # the server answered: the limits are confirmed, or its headers will correct them

    def refund(self, tokens: int, now: float, *, granted_at: float | None = None, output_tokens: int = 0) -> None:
        """Withdraw a grant the server never counted: never sent (connection refused), or refused with a 429.

        Args:
            tokens: the tokens the grant spent.
            now: the current time.
            granted_at: when it was granted. A bucket does not need it (what comes back is
                capped at the limit, whatever the grant's age); the shared budget's leases do.
            output_tokens: the completion part of ``tokens`` the grant spent.
        """
        if tokens < 0:
            raise ValueError(f"tokens={tokens!r} must be >= 0")
        for window, amount in zip(self._windows, self._costs(tokens, output_tokens)):
            window.withdraw(amount)

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
        """Correct a confirmed grant's tokens once the response's ``usage`` is known.

        Args:
            estimated_tokens: what the grant spent.
            actual_tokens: what Groq charged: prompt tokens less the cached ones (which do not
                count toward limits), plus completion tokens (reasoning included).
            now: the current time.
            granted_at: when it was granted (see :meth:`refund`).
            estimated_output, actual_output: the completion parts of the two (for ITPM and OTPM).

        An over-estimate is given back at once, as Groq gives back an unused reservation when the
        request finishes. An under-estimate spends the difference now, even if that overdraws a
        window (it then waits until it is back in credit). The server accepted the request, so
        every probed window grows by what it spent.
        """
        if estimated_tokens < 0 or actual_tokens < 0:
            raise ValueError(
                f"token counts must be >= 0, got estimated_tokens={estimated_tokens!r}, actual_tokens={actual_tokens!r}"
            )
        estimated = self._costs(estimated_tokens, estimated_output)
        actual = self._costs(actual_tokens, actual_output)
        for window, before, after in zip(self._windows, estimated, actual):
            if window.limit is None:
                continue
            window.refill(now)
            if window.source == "probe":
                window.grow(after)
            if after < before:
                window.give_back(before - after)
            elif after > before:
                window.spend(after - before)

    def observe_headers(self, headers: Mapping[str, str], now: float) -> None:
        """Learn limits and remaining room from a response's ``x-ratelimit-*`` headers.

        The two limits the headers report are exact (unless configured); the plan they reveal
        restarts the windows they do not report (see :data:`Recognise`). Never raises: a header
        that does not parse is ignored. Names are matched case-insensitively.
        """
        report = read_rate_limit_headers(headers)
        if report is not None:
            self.observe_report(report, now)

    def observe_report(self, report: RateLimitReport, now: float) -> None:
        """:meth:`observe_headers` for headers already read (``read_rate_limit_pairs``, as the worker does)."""
        for name, seen in report.windows():
            if seen.reset is not None and seen.reset >= 0:
                self._server_resets[name] = (seen.reset, now)
        for window, seen in ((self._rpd, report.requests), (self._tpm, report.tokens)):
            window.refill(now)
            if seen.limit is not None:
                window.learn(seen.limit, "headers")
            if seen.remaining is not None:
                # The server's level right after it admitted this request. Never raise ours to it:
                # requests we sent since may not be counted there yet.
                window.lower_to(seen.remaining)
        pair = (report.requests.limit, report.tokens.limit)
        if self._recognise is not None and pair != self._recognised and pair != (None, None):
            self._recognised = pair
            self._restart_from(self._recognise(*pair), now)

    def _restart_from(self, plan: StartingLimits | None, now: float) -> None:
        """Take the revealed plan's limits for the windows that only had a table's number or a guess."""
        if plan is None:
            return
        self._tier = plan.tier
        limits, sources = msgspec.structs.astuple(plan.limits), msgspec.structs.astuple(plan.sources)
        for window, limit, source in zip(self._windows, limits, sources):
            if window.source in ("tier", "probe") and source in ("tier", "probe", "unknown"):
                if source == "probe" and window.source == "probe" and window.limit is not None:
                    limit = max(limit or 0, window.limit)  # keep what probing has already shown
                window.refill(now)
                window.learn(limit, source)

    def learn_limit(self, window: str, limit: int, source: LimitSource, now: float) -> None:
        """Believe a window's limit that a 429 or 413 body stated ("... (RPM): Limit 1000, ...").

        A configured limit stays where it is lower. ``window`` is matched case-insensitively; an
        unknown name or a non-positive limit is ignored.
        """
        named = self._window(window)
        if named is None or limit <= 0:
            return
        named.refill(now)
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
        drained.refill(now)
        drained.drain(until)

    def snapshot(self, now: float) -> BudgetSnapshot:
        """What this budget believes at ``now``.

        The resets of the two windows the headers report (RPD, TPM) are the server's, as its last response
        said, counted down since; the budget's own estimate stands only until a response says. The budget
        schedules by its own buckets, whose guess can be far off the server's: after a 429 drains a window
        and pauses it, they say "the pause, then a whole period to refill" (86,400 s and more for RPD) while
        the server may be full again in minutes.
        """
        for window in self._windows:
            window.refill(now)
        paused_for = max(0.0, self._paused_until - now)
        return BudgetSnapshot(
            limits=self.limits,
            remaining_requests_minute=self._rpm.room(),
            remaining_requests_day=self._rpd.room(),
            remaining_tokens_minute=self._tpm.room(),
            remaining_tokens_day=self._tpd.room(),
            reset_requests_minute=self._rpm.full_at(now) - now,
            reset_requests_day=self._reported_reset("rpd", self._rpd, now),
            reset_tokens_minute=self._reported_reset("tpm", self._tpm, now),
            reset_tokens_day=self._tpd.full_at(now) - now,
            paused_until=self._paused_until if paused_for > 0 else None,
            paused_for=paused_for,
            sources=self.sources,
            tier=self._tier,
            remaining_input_tokens_minute=self._itpm.room(),
            remaining_output_tokens_minute=self._otpm.room(),
        )

    def _reported_reset(self, name: str, window: _Window, now: float) -> float:
        """Seconds until ``window`` is full: the server's last word on it, counted down, else our bucket's."""
        reported = self._server_resets.get(name)
        if reported is None:
            return window.full_at(now) - now
        reset, seen = reported
        return max(0.0, reset - (now - seen))

    def idle(self, now: float) -> bool:
        """True if nothing is spent and nothing paused: forgetting this budget would lose nothing but learned limits."""
        if self._paused_until > now:
            return False
        for window in self._windows:
            window.refill(now)
            if not window.full:
                return False
        return True

    def _window(self, name: str) -> _Window | None:
        spec = window_named(name)
        return None if spec is None else self._windows[WINDOWS.index(spec)]

    def __repr__(self) -> str:
        parts = []
        for window in self._windows:
            if window.limit is None and window in (self._itpm, self._otpm):
                continue  # most organizations have neither
            level = window.room()
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

    __slots__ = ("_budgets", "_defaults", "_latest", "_recognise", "max_models", "time_scale")

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
        #: The model asked for last and its budget: already the most recently used, so asking again moves nothing.
        self._latest: tuple[str, RateBudget] | None = None

    def get(self, model: str, now: float) -> RateBudget:
        """The budget for ``model``, created from the defaults if it is new.

        Raises:
            RuntimeError: ``max_models`` budgets are all busy and ``model`` is new.
        """
        latest = self._latest
        if latest is not None and latest[0] == model:
            return latest[1]

        def create() -> RateBudget:
            recognise = None if self._recognise is None else functools.partial(self._recognise, model)
            return RateBudget(self._defaults(model), now, time_scale=self.time_scale, recognise=recognise)

        budget = budget_for(self._budgets, model, now, self.max_models, "RateBudgets", create)
        self._latest = (model, budget)
        return budget

    def snapshots(self, now: float) -> dict[str, BudgetSnapshot]:
        """A snapshot of every model's budget."""
        return {model: budget.snapshot(now) for model, budget in self._budgets.items()}

    def forget(self, model: str, now: float) -> None:
        """Drop ``model``'s budget: the server says the model does not exist (404 ``model_not_found``).

        Such a request costs nothing on the server, and a budget would only show a model that is not there
        in ``rate_limits()``. A sibling job still in flight recreates it on its way back; its own 404 drops
        it again.
        """
        self._budgets.pop(model, None)
        if self._latest is not None and self._latest[0] == model:
            self._latest = None

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
