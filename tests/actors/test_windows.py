"""The one window table: every part that names a window reads it, so the table must match the structs it indexes."""

from __future__ import annotations

from actors._budget import BudgetSnapshot, LimitSources, ModelLimits
from actors._shared_budget import WindowLevels
from actors._windows import SHARED_WINDOWS, WINDOWS, window_named


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
