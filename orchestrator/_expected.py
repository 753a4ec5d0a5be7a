"""How long the rate limits make a run take, said before it starts; pure, no IO.

A batch of 5,000 jobs against Groq's free plan (or ``groq-orch emulate`` with its defaults) runs for hours,
and the first thing a new user sees should say so and why: ``1,000 RPD on openai/gpt-oss-20b: 5,000 jobs
need about 4 days``. :func:`expected_run_line` builds that line from what the run will send (jobs and
estimated tokens per model) and the limits the client starts from; ``groq-orch batch`` and
``groq-orch bench`` print it when they start.

Theory of operation
-------------------
Each limit is a bucket of capacity ``limit`` that refills at ``limit / period`` (as Groq's headers show, and
as ``actors._budget`` and the emulator keep them), starting full. Sending ``amount`` units (requests, or
tokens at admission: prompt estimate plus completion budget) through one takes
``max(0, amount - limit) / limit`` periods. A model is as slow as its slowest window, and models have separate
limits and run side by side, so the run takes as long as its slowest model: that window is the *binding
limit* the line names. Round trips, retries and the server's own speed come on top: the figure is what the
rate limits alone impose, a lower bound that dominates whenever a run is larger than one window's worth.
ITPM and OTPM (few organizations have them) are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Final, NamedTuple

from actors._budget import ModelLimits

if TYPE_CHECKING:
    from orchestrator._endpoint import Endpoint

__all__ = ["ModelWork", "RunExpectation", "expected_run", "expected_run_line", "format_span", "starting_point"]

_MINUTE: Final = 60.0
_DAY: Final = 86_400.0


class ModelWork(NamedTuple):
    """What a run sends one model: how many requests, and their tokens as the budget charges them."""

    jobs: int
    tokens: int


class RunExpectation(NamedTuple):
    """The rate limits' verdict on a run: seconds on the endpoint's clock, and the limit that binds (if any)."""

    seconds: float
    model: str | None = None
    window: str | None = None
    limit: int | None = None


def expected_run(
    work: Mapping[str, ModelWork], limits: Mapping[str, ModelLimits], *, kinds: tuple[str, ...] = ("requests", "tokens")
) -> RunExpectation:
    """The time the rate limits impose on ``work`` (endpoint seconds) and the window that binds.

    Args:
        work: per model, the requests and tokens the run will send.
        limits: per model, the limits the client starts from; a model missing here, or a window left
            None, is taken as unbounded.
        kinds: the windows to count: ``requests`` (RPM, RPD), ``tokens`` (TPM, TPD) or both.
    """
    slowest = RunExpectation(0.0)
    for model, (jobs, tokens) in sorted(work.items()):
        known = limits.get(model, ModelLimits())
        for kind, window, limit, period, amount in (
            ("requests", "RPM", known.rpm, _MINUTE, jobs),
            ("requests", "RPD", known.rpd, _DAY, jobs),
            ("tokens", "TPM", known.tpm, _MINUTE, tokens),
            ("tokens", "TPD", known.tpd, _DAY, tokens),
        ):
            if kind not in kinds or limit is None or limit <= 0 or amount <= limit:
                continue
            seconds = (amount - limit) / limit * period
            if seconds > slowest.seconds:
                slowest = RunExpectation(seconds, model, window, limit)
    return slowest


def format_span(seconds: float) -> str:
    """A duration in words a person reads at a glance: ``45 s``, ``3 min 20 s``, ``2 h 46 min``, ``4 days 2 h``."""
    if not math.isfinite(seconds):
        return "forever"
    if seconds < 1:
        return "under a second"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 10:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, mins = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    days, hrs = divmod(round(seconds / 3600), 24)
    return f"{days} days {hrs} h" if hrs else f"{days} days"


def expected_run_line(
    work: Mapping[str, ModelWork],
    limits: Mapping[str, ModelLimits],
    *,
    time_scale: float = 1.0,
    noun: str = "jobs",
    basis: str | None = None,
    exact_tokens: bool = False,
) -> str:
    """One line saying how long the run will take at the rate limits, and which limit decides it.

    ``30 RPM on openai/gpt-oss-20b: 5,000 jobs need about 2 h 46 min (...)``, or, when everything fits in
    the first window of every limit, that no wait for rate budget is expected.

    Requests are counted exactly; tokens are an upper bound unless ``exact_tokens`` (a job's tokens are its
    prompt estimate plus its whole completion budget, and most completions stop sooner). So when the token
    windows would take longer than the request windows, the line gives both: "about X (requests), up to Y if
    every completion uses its whole budget".

    Args:
        work: per model, the requests and tokens the run will send (see :func:`expected_run`).
        limits: per model, the limits the client starts from.
        time_scale: endpoint seconds per real second (an emulator's ``--time-scale``); the line gives real
            time, and the endpoint's too when they differ.
        noun: what the run's units are called (``jobs``, ``requests``).
        basis: where the limits come from, said in parentheses at the end (None: nothing said).
        exact_tokens: the tokens are what the run will use, not an upper bound (a benchmark that makes
            every request generate its whole budget).
    """
    total = sum(part.jobs for part in work.values())
    by_requests = expected_run(work, limits, kinds=("requests",))
    by_tokens = expected_run(work, limits, kinds=("tokens",))
    suffix = f"; limits: {basis}" if basis else ""
    if by_requests.model is None and by_tokens.model is None:
        which = "its model's" if len(work) == 1 else "every model's"
        return f"{total:,} {noun} fit within {which} rate limits: no wait for rate budget expected{suffix}"

    def span(expectation: RunExpectation, clock: bool = True) -> str:
        text = format_span(expectation.seconds / time_scale)
        if clock and time_scale != 1:
            text += f" ({format_span(expectation.seconds)} on the endpoint's x{time_scale:g} clock)"
        return text

    def named(expectation: RunExpectation) -> str:
        return f"{expectation.limit:,} {expectation.window} on {expectation.model}"

    budget = "if every completion uses its whole max_completion_tokens"
    if exact_tokens or by_tokens.seconds <= by_requests.seconds:
        binding = by_requests if by_requests.seconds >= by_tokens.seconds else by_tokens
        text = f"{named(binding)}: {total:,} {noun} need about {span(binding)}"
    elif by_requests.model is None:
        text = f"{named(by_tokens)}: {total:,} {noun} need up to about {span(by_tokens)}, {budget}"
    else:
        text = (f"{named(by_requests)}: {total:,} {noun} need about {span(by_requests)}, up to {span(by_tokens, False)} "
                f"{budget} ({named(by_tokens)})")
    return text + suffix


def starting_point(endpoint: Endpoint, models: Iterable[str]) -> tuple[dict[str, ModelLimits], str]:
    """The limits the client starts from for ``models`` at ``endpoint``, and where they come from, in words.

    For the ``limits`` and ``basis`` of :func:`expected_run_line`: configured limits, then the plan's table
    (`orchestrator._account_limits.starting_limits`); the server's headers may correct them during the run.
    """
    from orchestrator._account_limits import starting_limits
    from orchestrator._catalog import DEFAULT_CATALOG

    limits: dict[str, ModelLimits] = {}
    tiers = set()
    for model in models:
        start = starting_limits(endpoint.config, DEFAULT_CATALOG, model)
        limits[model] = start.limits
        tiers.add(start.tier)
    tier = next(iter(tiers)) if len(tiers) == 1 else None
    plan = f"the {tier} plan's" if tier else "those the client starts from"
    if endpoint.emulator is not None:
        basis = f"{plan}, as the bundled emulator enforces them"
    elif endpoint.config.tier is None:
        basis = f"{plan}, until the server's headers show your account's"
    else:
        basis = plan
    return limits, basis
