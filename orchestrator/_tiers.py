"""Groq's published rate limits per plan ("tier"), as data with their source and date.

Groq's limits belong to the organization and depend on its plan. The response headers report
only two windows (``x-ratelimit-limit-requests`` is the RPD limit, ``-tokens`` the TPM limit);
RPM, TPD, ASH and ASD must come from somewhere else. The plan's published table is the best
starting point, so the budget recognises the plan from the two windows the headers do report
(:func:`recognise_tier`) and starts the others from that plan's row (:func:`tier_limits`).

A row's ``None`` is the page's "-": that plan has no such limit for that model (a chat model has
no ASH; ``groq/compound`` has no TPD). A model missing from a plan's table is *unknown* on that
plan: the budget then probes instead of guessing.

Sources:

- Free plan: console.groq.com/docs/rate-limits, "Free Plan Limits" tab, as captured 2026-06
  (the same rows appear in copies of the page from 2025-12 through 2026-06; Orpheus TTS rows
  from the same page).
- Developer plan: console.groq.com/docs/rate-limits, "Developer Plan Limits" tab ("the base
  limits for the Developer plan"), as copied in public notes of 2025-12 (RPM, RPD and TPM for
  ``groq/compound``, ``openai/gpt-oss-120b`` and ``qwen/qwen3-32b``) and in issue #12 of this
  project for ``openai/gpt-oss-20b`` (1,000 RPM, 500K RPD, 250K TPM, 100M TPD). Where the copies
  give no TPD, the row says ``None`` only if the page shows "-"; otherwise the model is left out,
  so that the unknown window is probed rather than guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

import msgspec

__all__ = ["TIERS", "TIER_NAMES", "PlanLimits", "Tier", "TierName", "recognise_tier", "tier_limits"]

TierName = Literal["free", "developer"]
TIER_NAMES: Final[tuple[TierName, ...]] = ("free", "developer")


class PlanLimits(msgspec.Struct, frozen=True, kw_only=True):
    """One model's limits on one plan; None where the plan has no such limit (the page's "-").

    Every limit type Groq's page names (RPM, RPD, TPM, TPD, ASH, ASD, ITPM, OTPM); the published tables
    give no ITPM or OTPM, which only some organizations have. The emulator's limiter takes the same
    struct (``emulator._limiter.LimitSpec`` adds its checks).
    """

    rpm: int | None = None
    rpd: int | None = None
    tpm: int | None = None
    tpd: int | None = None
    ash: int | None = None
    asd: int | None = None
    itpm: int | None = None
    otpm: int | None = None


class Tier(msgspec.Struct, frozen=True):
    """A plan's name, where its numbers come from, and its rows by model id."""

    name: TierName
    source: str
    models: Mapping[str, PlanLimits]


def _chat(rpm: int, rpd: int, tpm: int, tpd: int | None) -> PlanLimits:
    return PlanLimits(rpm=rpm, rpd=rpd, tpm=tpm, tpd=tpd)


_K: Final = 1_000

_FREE: Final = {
    "allam-2-7b": _chat(30, 7 * _K, 6 * _K, 500 * _K),
    "canopylabs/orpheus-arabic-saudi": _chat(10, 100, 1_200, 3_600),
    "canopylabs/orpheus-v1-english": _chat(10, 100, 1_200, 3_600),
    "groq/compound": _chat(30, 250, 70 * _K, None),
    "groq/compound-mini": _chat(30, 250, 70 * _K, None),
    "llama-3.1-8b-instant": _chat(30, 14_400, 6 * _K, 500 * _K),
    "llama-3.3-70b-versatile": _chat(30, 1 * _K, 12 * _K, 100 * _K),
    "meta-llama/llama-4-maverick-17b-128e-instruct": _chat(30, 1 * _K, 6 * _K, 500 * _K),
    "meta-llama/llama-4-scout-17b-16e-instruct": _chat(30, 1 * _K, 30 * _K, 500 * _K),
    "meta-llama/llama-guard-4-12b": _chat(30, 14_400, 15 * _K, 500 * _K),
    "meta-llama/llama-prompt-guard-2-22m": _chat(30, 14_400, 15 * _K, 500 * _K),
    "meta-llama/llama-prompt-guard-2-86m": _chat(30, 14_400, 15 * _K, 500 * _K),
    "moonshotai/kimi-k2-instruct": _chat(60, 1 * _K, 10 * _K, 300 * _K),
    "moonshotai/kimi-k2-instruct-0905": _chat(60, 1 * _K, 10 * _K, 300 * _K),
    "openai/gpt-oss-120b": _chat(30, 1 * _K, 8 * _K, 200 * _K),
    "openai/gpt-oss-20b": _chat(30, 1 * _K, 8 * _K, 200 * _K),
    "openai/gpt-oss-safeguard-20b": _chat(30, 1 * _K, 8 * _K, 200 * _K),
    "qwen/qwen3-32b": _chat(60, 1 * _K, 6 * _K, 500 * _K),
    "whisper-large-v3": PlanLimits(rpm=20, rpd=2 * _K, ash=7_200, asd=28_800),
    "whisper-large-v3-turbo": PlanLimits(rpm=20, rpd=2 * _K, ash=7_200, asd=28_800),
}

_DEVELOPER: Final = {
    "groq/compound": _chat(200, 20 * _K, 200 * _K, None),
    "openai/gpt-oss-120b": _chat(1 * _K, 500 * _K, 300 * _K, None),
    "openai/gpt-oss-20b": _chat(1 * _K, 500 * _K, 250 * _K, 100_000 * _K),
    "qwen/qwen3-32b": _chat(1 * _K, 500 * _K, 300 * _K, None),
}

TIERS: Final[Mapping[TierName, Tier]] = MappingProxyType(
    {
        "free": Tier("free", "console.groq.com/docs/rate-limits, Free Plan Limits, 2026-06", MappingProxyType(_FREE)),
        "developer": Tier(
            "developer",
            "console.groq.com/docs/rate-limits, Developer Plan Limits (copies of 2025-12; issue #12)",
            MappingProxyType(_DEVELOPER),
        ),
    }
)


def tier_limits(tier: TierName, model: str) -> PlanLimits | None:
    """``model``'s row on ``tier``, or None if the plan's table does not list it."""
    return TIERS[tier].models.get(model)


def recognise_tier(model: str, requests_per_day: int | None, tokens_per_minute: int | None) -> TierName | None:
    """The plan whose row for ``model`` has exactly the RPD and TPM limits the headers reported.

    Both reported numbers must match (where the row has them); a number no table has means an
    unpublished plan (enterprise, or a raised limit) and gives None. Headers that report neither
    window give None too.
    """
    if requests_per_day is None and tokens_per_minute is None:
        return None
    for tier in TIERS.values():
        row = tier.models.get(model)
        if row is None:
            continue
        if requests_per_day is not None and row.rpd != requests_per_day:
            continue
        if tokens_per_minute is not None and row.tpm is not None and row.tpm != tokens_per_minute:
            continue
        return tier.name
    return None
