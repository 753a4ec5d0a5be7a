"""What the rate limits let a bench run do: TPM use, 429s and 498s per 1,000 requests, and the highest
level that was sustainable. Pure: no IO, no clock.

A sweep pushes harder level by level, and past some point the account's limits push back: 429 answers,
or (with a client that budgets, like ours) requests held for rate budget until they miss their SLO. The
*max sustainable* level is the highest level run at which both stay acceptable, as a
:class:`Sustainability` defines it: fewer than ``max_429_per_1k`` 429 answers per 1,000 requests, and at
least ``min_good_share`` of the requests *good* (meeting the SLO; without an SLO, completing). It is a
verdict on the levels that were run, not an interpolation between them: run a finer sweep around it for a
sharper answer. Each level is judged on its own, so a noisy sweep can pass a level above one that failed;
every level's verdict is kept (``sustainable``) so that a reader sees it.

TPM use is the level's mean tokens per minute (prompt plus completion tokens of its completed requests,
over its duration) as a share of the TPM limit the client believed in during the level, the last one its
timeline sampled (from the configuration, the plan's table or the server's headers).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import msgspec

from orchestrator.loadtest._metrics import SLO, LevelSummary

if TYPE_CHECKING:
    from orchestrator.loadtest._run import TimelinePoint

__all__ = [
    "Assessment",
    "LevelCapacity",
    "SustainableLevel",
    "Sustainability",
    "assess",
    "level_tpm_limit",
    "per_thousand",
    "tpm_share",
]

def per_thousand(count: int, requests: int) -> float | None:
    """``count`` per 1,000 requests; None when there were no requests."""
    return 1000.0 * count / requests if requests > 0 else None


def tpm_share(tokens_per_second: float | None, tpm_limit: int | None) -> float | None:
    """Tokens per minute at ``tokens_per_second``, as a share of ``tpm_limit`` (None when either is unknown)."""
    if tokens_per_second is None or not tpm_limit:
        return None
    return tokens_per_second * 60.0 / tpm_limit


def level_tpm_limit(timeline: Sequence[TimelinePoint], level: int | float) -> int | None:
    """The last TPM limit the timeline saw while ``level`` ran (None if it never knew one)."""
    limit = None
    for point in timeline:
        if point.level == level and point.tpm_limit is not None:
            limit = point.tpm_limit
    return limit


class Sustainability(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """When a level counts as sustainable: few 429s, and most requests good (see the module docstring).

    Attributes:
        max_429_per_1k: 429 answers per 1,000 requests a level must stay under (the command's default: 10).
        min_good_share: the share of its requests that must be good, 0 to 1 (the command's default: 0.9).
    """

    max_429_per_1k: float
    min_good_share: float

    @staticmethod
    def good_share(summary: LevelSummary) -> float | None:
        """The share of the level's requests that are good: meeting the SLO, or without one, completed."""
        if summary.requests == 0:
            return None
        if summary.goodput is not None:
            return summary.goodput.share
        return summary.completed / summary.requests

    def holds(self, summary: LevelSummary) -> bool:
        """Whether ``summary``'s level was sustainable: 429s under the bound and enough good requests."""
        limited = per_thousand(summary.rate_limited, summary.requests)
        good = self.good_share(summary)
        return limited is not None and good is not None and limited < self.max_429_per_1k and (
            good >= self.min_good_share
        )

    def describe(self, slo: SLO | None) -> str:
        """``429s < 10 per 1,000 requests and >= 90% of requests meeting ttft<=500ms``."""
        good = f"meeting {slo.describe()}" if slo is not None else "completing"
        return (f"429s < {self.max_429_per_1k:g} per 1,000 requests and >= {self.min_good_share:.0%} of requests "
                f"{good}")


class LevelCapacity(msgspec.Struct, frozen=True, kw_only=True):
    """One level against the rate limits.

    Attributes:
        level: the concurrency or request rate.
        tpm_limit: the TPM limit the client believed in during the level (None while unknown).
        tpm_share: the level's mean tokens per minute as a share of ``tpm_limit``.
        rate_limited_per_1k: 429 answers per 1,000 requests.
        capacity_exceeded_per_1k: 498 answers per 1,000 requests.
        good_share: the share of requests that were good (see :class:`Sustainability`).
        sustainable: the level passed the :class:`Sustainability` test.
    """

    level: int | float
    tpm_limit: int | None
    tpm_share: float | None
    rate_limited_per_1k: float | None
    capacity_exceeded_per_1k: float | None
    good_share: float | None
    sustainable: bool


class SustainableLevel(msgspec.Struct, frozen=True, kw_only=True):
    """The answer of the max-sustainable search over the levels run.

    Attributes:
        mode: ``concurrency`` or ``rate``: what ``level`` counts.
        level: the highest sustainable level run, or None when no level was.
        request_throughput, request_goodput: that level's completed and good requests per second.
        levels_passed: every level that was sustainable, in the order run.
        criteria: the test, in words (:meth:`Sustainability.describe`).
        max_429_per_1k, min_good_share: the test's bounds.
    """

    mode: str
    level: int | float | None
    request_throughput: float | None
    request_goodput: float | None
    levels_passed: list[int | float]
    criteria: str
    max_429_per_1k: float
    min_good_share: float

    def describe(self, label: str) -> str:
        """One line for the text report; ``label`` is the level as the tables print it (``4``, ``2/s``)."""
        noun = "request rate" if self.mode == "rate" else "concurrency"
        if self.level is None:
            return f"max sustainable {noun}: none of the levels run ({self.criteria})"
        throughput = "" if self.request_throughput is None else f", {self.request_throughput:,.2f} req/s"
        return f"max sustainable {noun}: {label}{throughput} ({self.criteria})"


class Assessment(msgspec.Struct, frozen=True):
    """Every level against the rate limits, and the max sustainable one."""

    levels: list[LevelCapacity]
    sustainable: SustainableLevel


def assess(
    summaries: Sequence[LevelSummary],
    timeline: Sequence[TimelinePoint],
    *,
    mode: str,
    criteria: Sustainability,
    slo: SLO | None,
) -> Assessment:
    """Judge every level of a run (in the order run) and find the highest sustainable one."""
    levels = []
    for summary in summaries:
        limit = level_tpm_limit(timeline, summary.level)
        levels.append(LevelCapacity(
            level=summary.level,
            tpm_limit=limit,
            tpm_share=tpm_share(summary.total_token_throughput, limit),
            rate_limited_per_1k=per_thousand(summary.rate_limited, summary.requests),
            capacity_exceeded_per_1k=per_thousand(summary.capacity_exceeded, summary.requests),
            good_share=criteria.good_share(summary),
            sustainable=criteria.holds(summary),
        ))
    passed = [summary for summary, level in zip(summaries, levels, strict=True) if level.sustainable]
    best = max(passed, key=lambda summary: summary.level, default=None)
    return Assessment(levels, SustainableLevel(
        mode=mode,
        level=None if best is None else best.level,
        request_throughput=None if best is None else best.request_throughput,
        request_goodput=None if best is None or best.goodput is None else best.goodput.per_second,
        levels_passed=[summary.level for summary in passed],
        criteria=criteria.describe(slo),
        max_429_per_1k=criteria.max_429_per_1k,
        min_good_share=criteria.min_good_share,
    ))
