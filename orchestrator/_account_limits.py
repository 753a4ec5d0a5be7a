"""Where a model's budget starts, and what the first response's headers reveal about the account.

The engine's budget (``actors._budget``) knows nothing of Groq's plans; this module is the adapter
that tells it, per model:

- :func:`starting_limits`: before any response. Configured limits win, window by window; the other
  windows come from the configured plan's table, or (no plan configured) from the free plan's, the
  one plan every account is at least on. A model no table lists is *probed* from the catalog's
  conservative defaults.
- :func:`recognised_limits`: once headers report RPD and TPM. If they match a plan's row, RPM and
  TPD come from that plan (a Developer account leaves the free tier's 30 RPM and 200K TPD behind at
  its first response); if no published row matches, the account is on a plan we have no table for,
  and RPM and TPD are probed upward from the free tier's numbers instead of being held to them.
  A configured plan is believed over the headers.
"""

from __future__ import annotations

from actors._budget import LimitSources, ModelLimits, StartingLimits
from actors._windows import WINDOWS

from ._catalog import ModelCatalog
from ._config import Config
from ._tiers import PlanLimits, recognise_tier, tier_limits

__all__ = ["recognised_limits", "starting_limits"]


def starting_limits(config: Config, catalog: ModelCatalog, model: str) -> StartingLimits:
    """The limits ``model``'s budget starts from, and where each came from."""
    tier = config.tier or "free"
    row = tier_limits(tier, model)  # type: ignore[arg-type]
    if row is not None:
        start = _from_row(row, tier)
    else:
        start = _probe(_floor(catalog, model))
    return _with_configured(start, config.rate_limit_config.limits_for(model))


def recognised_limits(
    config: Config, catalog: ModelCatalog, model: str, requests_per_day: int | None, tokens_per_minute: int | None
) -> StartingLimits | None:
    """What the headers' RPD and TPM reveal for ``model``; None where nothing should change.

    The budget applies the answer only to windows that still hold a table's number or a probe.
    """
    if config.tier is not None:
        return None  # the user named the plan
    tier = recognise_tier(model, requests_per_day, tokens_per_minute)
    if tier is not None:
        return _from_row(tier_limits(tier, model), tier)  # type: ignore[arg-type]
    return _probe(_floor(catalog, model))


def _from_row(row: PlanLimits, tier: str) -> StartingLimits:
    return StartingLimits(
        ModelLimits(rpm=row.rpm, rpd=row.rpd, tpm=row.tpm, tpd=row.tpd),
        LimitSources(rpm="tier", rpd="tier", tpm="tier", tpd="tier"),
        tier=tier,
    )


def _floor(catalog: ModelCatalog, model: str) -> ModelLimits:
    """Numbers no plan is below: the free plan's row, else the catalog's defaults for the model."""
    row = tier_limits("free", model)
    if row is not None:
        return ModelLimits(rpm=row.rpm, rpd=row.rpd, tpm=row.tpm, tpd=row.tpd)
    info = catalog.get(model)
    return ModelLimits(rpm=info.rpm, rpd=info.rpd, tpm=info.tpm, tpd=info.tpd)


def _probe(floor: ModelLimits) -> StartingLimits:
    """Every window probed upward from ``floor`` (headers then make RPD and TPM exact)."""
    return StartingLimits(
        floor,
        LimitSources(
            **{
                spec.field: "probe" if getattr(floor, spec.field) is not None else "unknown"
                for spec in WINDOWS
                if spec.kind in ("requests", "tokens")  # ITPM/OTPM: most organizations have none
            }
        ),
    )


def _with_configured(start: StartingLimits, configured: object) -> StartingLimits:
    """``start`` with every window the user configured replaced by that number.

    A configured number above what ``start`` believed (the plan's table, or a probe's floor) is
    held back in the first wave: until a response confirms it, no more than ``start``'s number may
    be in flight (``StartingLimits.first_wave``). A user who sets absurd limits to mean "none" would
    otherwise send a first wave the server refuses in part.
    """
    if configured is None:
        return start
    limits, sources, waves = {}, {}, {}
    for name in (spec.field for spec in WINDOWS):
        value = getattr(configured, name)
        if value is not None:
            limits[name], sources[name] = value, "configured"
            believed = getattr(start.limits, name)
            if believed is not None and value > believed:
                waves[name] = believed
        else:
            limits[name], sources[name] = getattr(start.limits, name), getattr(start.sources, name)
    return StartingLimits(
        ModelLimits(**limits),
        LimitSources(**sources),
        tier=start.tier,
        first_wave=ModelLimits(**waves) if waves else None,
    )
