"""The one window table: every part that names a window reads it, so the table must match the structs it indexes."""

from __future__ import annotations

from actors._budget import BudgetSnapshot, LimitSources, ModelLimits
from actors._shared_budget import WindowLevels
from actors._windows import LIMIT_TYPES, SHARED_WINDOWS, WINDOWS, window_named


def test_every_window_has_its_fields_in_the_structs() -> None:
    assert [spec.field for spec in WINDOWS] == list(ModelLimits.__struct_fields__)
    assert [spec.field for spec in WINDOWS] == list(LimitSources.__struct_fields__)
    for spec in WINDOWS:
        assert spec.remaining in BudgetSnapshot.__struct_fields__, spec
        assert spec.reset is None or spec.reset in BudgetSnapshot.__struct_fields__, spec
        assert spec.name.lower() == spec.field


def test_the_shared_windows_are_the_stores() -> None:
    assert SHARED_WINDOWS == ("rpm", "rpd", "tpm", "tpd") == WindowLevels.__struct_fields__


def test_windows_are_found_by_groqs_name_in_any_case() -> None:
    assert window_named("otpm") is window_named("OTPM") is WINDOWS[-1]
    assert window_named("ASH") is None


def test_every_limit_type_of_the_plans_is_in_the_table() -> None:
    from orchestrator._tiers import PlanLimits

    assert sorted(spec.field for spec in LIMIT_TYPES) == sorted(PlanLimits.__struct_fields__)
    assert WINDOWS == LIMIT_TYPES[:6]


def test_the_phrases_are_groqs_429_words() -> None:
    """As in a captured 429 body: "Rate limit reached ... on tokens per minute (TPM): Limit 6000, ..."."""
    phrases = {spec.name: (spec.phrase, spec.seconds) for spec in LIMIT_TYPES}
    assert phrases["TPM"] == ("tokens per minute (TPM)", 60.0)
    assert phrases["OTPM"] == ("output tokens per minute (OTPM)", 60.0)
    assert phrases["ASH"] == ("audio seconds per hour (ASH)", 3_600.0)
    assert phrases["RPD"] == ("requests per day (RPD)", 86_400.0)


def test_the_emulator_and_the_redis_script_speak_the_tables_words() -> None:
    from orchestrator._redis_budget import LEASE_SCRIPT
    from orchestrator.emulator._limiter import Window

    assert [(w.name, w.description, w.period) for w in Window] == [
        (spec.name, spec.phrase, spec.seconds) for spec in LIMIT_TYPES
    ]
    for field in SHARED_WINDOWS:
        assert f"name = '{field}'" in LEASE_SCRIPT
    assert "'rpm'" not in LEASE_SCRIPT.replace("name = 'rpm'", "")
