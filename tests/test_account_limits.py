"""Where a model's budget starts, and what the first headers reveal: the adapter between Groq's plans and the budget."""

from __future__ import annotations

import pytest

from actors._budget import LimitSources, ModelLimits
from orchestrator import Config, ConfigError
from orchestrator import ModelLimits as ConfiguredLimits
from orchestrator._account_limits import recognised_limits, starting_limits
from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._config import RateLimitConfig
from orchestrator._tiers import TIERS, recognise_tier, tier_limits

KEY = "gsk_test_account_limits"
MODEL = "openai/gpt-oss-20b"


def config(**changes: object) -> Config:
    return Config(api_key=KEY, **changes)  # type: ignore[arg-type]


class TestTables:
    def test_every_row_is_sane(self) -> None:
        for tier in TIERS.values():
            assert tier.source
            for model, row in tier.models.items():
                for value in (row.rpm, row.rpd, row.tpm, row.tpd, row.ash, row.asd):
                    assert value is None or value > 0, (tier.name, model)

    def test_a_paid_plan_is_never_below_the_free_plan(self) -> None:
        for model, row in TIERS["developer"].models.items():
            free = tier_limits("free", model)
            assert free is not None, model
            for name in ("rpm", "rpd", "tpm"):
                assert getattr(row, name) >= getattr(free, name), (model, name)

    @pytest.mark.parametrize(
        ("rpd", "tpm", "tier"),
        [(1000, 8000, "free"), (500_000, 250_000, "developer"), (500_000, None, "developer"), (2_000_000, 250_000, None), (None, None, None)],
    )
    def test_recognise_tier(self, rpd: int | None, tpm: int | None, tier: str | None) -> None:
        assert recognise_tier(MODEL, rpd, tpm) == tier

    def test_a_model_no_table_lists_is_recognised_as_nothing(self) -> None:
        assert recognise_tier("acme/new-model", 1000, 8000) is None


class TestStartingLimits:
    def test_no_tier_configured_starts_from_the_free_plan(self) -> None:
        start = starting_limits(config(), DEFAULT_CATALOG, MODEL)
        assert start.limits == ModelLimits(rpm=30, rpd=1000, tpm=8000, tpd=200_000)
        assert start.sources == LimitSources(rpm="tier", rpd="tier", tpm="tier", tpd="tier")
        assert start.tier == "free"

    def test_a_configured_tier_starts_from_its_table(self) -> None:
        start = starting_limits(config(tier="developer"), DEFAULT_CATALOG, MODEL)
        assert (start.limits.rpm, start.limits.tpm, start.tier) == (1000, 250_000, "developer")

    def test_a_model_missing_from_the_table_is_probed_from_the_catalog(self) -> None:
        start = starting_limits(config(), DEFAULT_CATALOG, "acme/new-model")
        info = DEFAULT_CATALOG.get("acme/new-model")
        assert start.limits.rpm == info.rpm and start.sources.rpm == "probe" and start.tier is None

    def test_configured_limits_win_window_by_window(self) -> None:
        limits = RateLimitConfig(model_limits={MODEL: ConfiguredLimits(rpm=500, otpm=9000)})
        start = starting_limits(config(tier="developer", rate_limit_config=limits), DEFAULT_CATALOG, MODEL)
        assert (start.limits.rpm, start.sources.rpm) == (500, "configured")
        assert (start.limits.otpm, start.sources.otpm) == (9000, "configured")
        assert (start.limits.tpm, start.sources.tpm) == (250_000, "tier")

    def test_a_bad_tier_is_refused_naming_the_field(self) -> None:
        with pytest.raises(ConfigError, match="tier") as caught:
            config(tier="platinum")
        assert "platinum" in str(caught.value) and "developer" in str(caught.value)

    def test_the_tier_comes_from_the_environment(self) -> None:
        assert Config.from_env({"GROQ_API_KEY": KEY, "GROQ_ORCH_TIER": "developer"}).tier == "developer"


class TestRecognisedLimits:
    def test_developer_headers_reveal_the_developer_table(self) -> None:
        plan = recognised_limits(config(), DEFAULT_CATALOG, MODEL, 500_000, 250_000)
        assert plan is not None and plan.tier == "developer"
        assert (plan.limits.rpm, plan.limits.tpd) == (1000, 100_000_000)

    def test_free_headers_keep_the_free_table(self) -> None:
        plan = recognised_limits(config(), DEFAULT_CATALOG, MODEL, 1000, 8000)
        assert plan is not None and plan.tier == "free" and plan.limits.rpm == 30

    def test_an_unpublished_plan_is_probed_from_the_free_floor(self) -> None:
        plan = recognised_limits(config(), DEFAULT_CATALOG, MODEL, 2_000_000, 1_000_000)
        assert plan is not None and plan.tier is None
        assert (plan.limits.rpm, plan.sources.rpm) == (30, "probe")
        assert (plan.limits.tpd, plan.sources.tpd) == (200_000, "probe")

    def test_a_configured_tier_is_believed_over_the_headers(self) -> None:
        assert recognised_limits(config(tier="free"), DEFAULT_CATALOG, MODEL, 500_000, 250_000) is None
