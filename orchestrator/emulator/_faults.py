"""Fault injection for the emulator: a small rule language and a deterministic planner.

Syntax (one rule per ``--faults`` flag, or a list of strings in ``EmulatorSettings.faults``)::

    KIND[:key=value[,key=value...]]

Kinds:

- ``500``, ``502``, ``503``: answer with that status and a Groq-style error body.
- ``498``: flex-tier "capacity exceeded" (status 498, code ``capacity_exceeded``). Groq answers it to
  ``service_tier: flex`` requests ("If flex capacity is unavailable, requests will fail quickly with status
  498 and error capacity_exceeded", console.groq.com/docs/flex-processing, read 2026-12); the planner does
  not see a request's tier, so the rule hits whatever request it fires on: bound it with ``burst``/``after``
  to let a client's fallback to ``on_demand`` through.
- ``reset``: close the connection before any response (the client sees "server disconnected").
- ``drop-mid-stream``: send part of the response, then close the connection (``chunks=N`` SSE events
  first, default 3; a non-streamed body is cut in half).
- ``malformed-sse``: on a streamed response, event number ``chunk=N`` (default 2) carries invalid JSON;
  the rest of the stream follows normally. Non-streamed requests are not affected.
- ``slow``: the response body trickles out at ``bytes_per_s=N`` (default 200) bytes per second of real
  time (a wire rate for testing read timeouts, so it is not time-scaled).

When a rule fires (all given conditions must hold; with none, it fires on every matching request):

- ``model=ID``: only requests for that model are counted or affected;
- ``from=DUR``, ``to=DUR``: only inside this window of emulated time since the emulator started
  (Go-style durations such as ``10s``, ``1m30s``; time-scaled like the rate limits);
- ``p=FLOAT``: with this probability (0..1), drawn from a deterministic per-request generator
  seeded by the emulator seed, the request number and the rule's position;
- ``every=N``: on every N-th request the rule sees (the N-th, 2N-th, ...);
- ``after=K``: only after the rule has seen K requests;
- ``burst=N``: only for N requests (right after ``after``, or from the first one).

Each rule counts the requests it "sees" (those passing ``model`` and the time window) itself. Rules are
tried in order and the first one that fires wins, so a request gets at most one fault.

Examples: ``503:p=0.1``, ``reset:p=0.05,model=openai/gpt-oss-20b``, ``drop-mid-stream:every=10``,
``500:burst=5,after=20``, ``498:p=0.2,from=10s,to=20s``, ``malformed-sse:p=0.5``,
``slow:p=0.1,bytes_per_s=50``.

This module is pure: no IO, no clock; the emulator passes emulated ``now`` and the request number.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from actors._duration import parse_go_duration

__all__ = ["FAULT_KINDS", "FaultPlan", "FaultRule", "parse_fault"]

#: Kinds that replace the response with an error status.
STATUS_KINDS = frozenset({"500", "502", "503", "498"})
#: Every kind the planner knows, with the extra parameters each one accepts.
FAULT_KINDS: dict[str, frozenset[str]] = {
    "500": frozenset(),
    "502": frozenset(),
    "503": frozenset(),
    "498": frozenset(),
    "reset": frozenset(),
    "drop-mid-stream": frozenset({"chunks"}),
    "malformed-sse": frozenset({"chunk"}),
    "slow": frozenset({"bytes_per_s"}),
}
_CONDITIONS = frozenset({"p", "every", "after", "burst", "from", "to", "model"})


@dataclasses.dataclass(frozen=True, slots=True)
class FaultRule:
    """One parsed fault rule (see the module docstring for what each field means)."""

    kind: str
    probability: float | None = None
    every: int | None = None
    after: int = 0
    burst: int | None = None
    start: float | None = None
    end: float | None = None
    model: str | None = None
    chunks: int = 3
    chunk: int = 2
    bytes_per_s: float = 200.0

    @property
    def streams_only(self) -> bool:
        """Whether the rule only makes sense for streamed (SSE) responses."""
        return self.kind == "malformed-sse"


def _positive_int(spec: str, key: str, text: str, *, minimum: int = 1) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(
            f"fault spec {spec!r}: {key}={text!r} must be an integer >= {minimum}"
        )
    return value


def _duration(spec: str, key: str, text: str) -> float:
    try:
        return parse_go_duration(text)
    except ValueError:
        raise ValueError(
            f"fault spec {spec!r}: {key}={text!r} is not a duration; write e.g. 10s, 1m30s or 500ms"
        ) from None


def parse_fault(spec: str) -> FaultRule:
    """Parse ``KIND[:key=value,...]`` into a :class:`FaultRule`.

    Raises:
        ValueError: naming the spec, the bad part and what is allowed.
    """
    kind, _, params = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in FAULT_KINDS:
        raise ValueError(
            f"fault spec {spec!r}: unknown kind {kind!r}; use one of {', '.join(FAULT_KINDS)}"
        )
    allowed = _CONDITIONS | FAULT_KINDS[kind]
    values: dict[str, object] = {}
    seen: set[str] = set()
    for item in filter(None, (part.strip() for part in params.split(","))):
        key, eq, text = item.partition("=")
        key, text = key.strip().lower(), text.strip()
        if not eq or not text:
            raise ValueError(f"fault spec {spec!r}: {item!r} must look like key=value")
        if key not in allowed:
            raise ValueError(
                f"fault spec {spec!r}: unknown parameter {key!r} for {kind}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        if key in seen:
            raise ValueError(f"fault spec {spec!r}: {key!r} given twice")
        seen.add(key)
        if key == "p":
            try:
                probability = float(text)
            except ValueError:
                probability = -1.0
            if not 0.0 <= probability <= 1.0:
                raise ValueError(f"fault spec {spec!r}: p={text!r} must be a number from 0 to 1")
            values["probability"] = probability
        elif key in ("every", "burst", "chunk"):
            values[key] = _positive_int(spec, key, text)
        elif key in ("after", "chunks"):
            values[key] = _positive_int(spec, key, text, minimum=0)
        elif key == "from":
            values["start"] = _duration(spec, key, text)
        elif key == "to":
            values["end"] = _duration(spec, key, text)
        elif key == "bytes_per_s":
            try:
                rate = float(text)
            except ValueError:
                rate = 0.0
            if not rate > 0.0:
                raise ValueError(f"fault spec {spec!r}: bytes_per_s={text!r} must be a number > 0")
            values["bytes_per_s"] = rate
        else:  # model
            values["model"] = text
    start, end = values.get("start"), values.get("end")
    if isinstance(start, float) and isinstance(end, float) and end <= start:
        raise ValueError(f"fault spec {spec!r}: 'to' must be later than 'from'")
    return FaultRule(kind=kind, **values)  # type: ignore[arg-type]


def _uniform(seed: int, request_number: int, rule_index: int) -> float:
    """A deterministic uniform draw in [0, 1) from three integers (splitmix64 finaliser)."""
    x = (seed * 0x9E3779B97F4A7C15 + request_number * 0xBF58476D1CE4E5B9 + rule_index) & (2**64 - 1)
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
    x ^= x >> 31
    return (x >> 11) / float(1 << 53)


class FaultPlan:
    """Decides, request by request, which fault (if any) to inject.

    The decision depends only on the seed, the rules, the request number and emulated time, so a run
    with the same seed and the same request order injects the same faults.
    """

    def __init__(self, rules: Iterable[FaultRule], seed: int = 0) -> None:
        self._rules = tuple(rules)
        self._seed = seed
        self._seen = [0] * len(self._rules)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def decide(
        self, *, model: str, now: float, request_number: int, streaming: bool
    ) -> FaultRule | None:
        """The rule that fires for this request, or ``None``.

        Args:
            model: the requested model id.
            now: emulated seconds since the emulator started.
            request_number: the emulator's running request counter (drives ``p``).
            streaming: whether the response will be SSE (``malformed-sse`` needs it).
        """
        chosen: FaultRule | None = None
        for index, rule in enumerate(self._rules):
            if rule.model is not None and rule.model != model:
                continue
            if rule.start is not None and now < rule.start:
                continue
            if rule.end is not None and now >= rule.end:
                continue
            if rule.streams_only and not streaming:
                continue
            self._seen[index] += 1
            if chosen is not None:
                continue
            seen = self._seen[index]
            if seen <= rule.after:
                continue
            if rule.burst is not None and seen > rule.after + rule.burst:
                continue
            if rule.every is not None and seen % rule.every:
                continue
            if rule.probability is not None and (
                _uniform(self._seed, request_number, index) >= rule.probability
            ):
                continue
            chosen = rule
        return chosen
