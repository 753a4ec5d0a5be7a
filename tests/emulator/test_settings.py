"""EmulatorSettings validation and the package's public names."""

from __future__ import annotations

import pytest

import orchestrator.emulator as emulator_package
from orchestrator.emulator import EmulatorSettings
from orchestrator.emulator._faults import FaultRule
from orchestrator.emulator._limiter import LimitSpec
from orchestrator.emulator._settings import parse_limits


class TestEmulatorSettings:
    def test_defaults_are_for_tests(self) -> None:
        """The default emulator is instant, real time, seed 0, no faults, any gsk_ key."""
        settings = EmulatorSettings()
        assert (settings.latency_model().instant, settings.time_scale, settings.seed, settings.faults, settings.api_keys) == (
            True, 1.0, 0, (), None
        )

    def test_fault_strings_are_parsed(self) -> None:
        """Faults given as --faults strings become rules."""
        assert EmulatorSettings(faults=["503:every=2"]).faults == (FaultRule(kind="503", every=2),)

    def test_limits_override_catalog_but_keep_audio_seconds(self) -> None:
        """An override replaces RPM/RPD/TPM/TPD; ASH/ASD still come from the catalog."""
        settings = EmulatorSettings(limits={"whisper-large-v3": (1, 2, 3, 4)})
        assert settings.limits_for("whisper-large-v3") == LimitSpec(rpm=1, rpd=2, tpm=3, tpd=4, ash=7_200, asd=28_800)
        assert settings.limits_for("openai/gpt-oss-20b") == LimitSpec(rpm=30, rpd=1_000, tpm=8_000, tpd=200_000)

    def test_keys(self) -> None:
        """Without api_keys any gsk_ key passes; with them, only those."""
        assert (EmulatorSettings().accepts_key("gsk_x"), EmulatorSettings().accepts_key("gsk_")) == (True, False)
        assert EmulatorSettings(api_keys=["k1"]).accepts_key("gsk_x") is False

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"time_scale": 0.0}, "time_scale=0.0"),
            ({"latency": "fast"}, "latency profile 'fast' is unknown"),
            ({"limits": {"m": (1, 2, 3)}}, r"limits\['m'\]"),
            ({"limits": {"m": (1, 2, 3, 0)}}, "tpd=0"),
            ({"faults": ["nope"]}, "unknown kind 'nope'"),
            ({"completion_tokens": (5, 1)}, "completion_tokens"),
            ({"tokens_per_chunk": 0}, "tokens_per_chunk=0"),
            ({"max_body_size": 10}, "max_body_size=10"),
            ({"api_keys": [""]}, "empty key"),
            ({"max_upload_size": 100}, "max_upload_size=100"),
            ({"batch_validation_seconds": -1.0}, "batch_validation_seconds=-1.0"),
            ({"batch_lines_per_second": 0.0}, "batch_lines_per_second=0.0"),
            ({"batch_finalizing_seconds": float("nan")}, "batch_finalizing_seconds=nan"),
            ({"batch_expire_fraction": 1.0}, "batch_expire_fraction=1.0"),
            ({"batch_expire_fraction": -0.1}, "batch_expire_fraction=-0.1"),
            ({"upload_resets": -1}, "upload_resets=-1"),
            ({"files_dir": ""}, "files_dir=''"),
        ],
    )
    def test_invalid_values_are_named(self, kwargs: dict[str, object], message: str) -> None:
        """Each invalid setting is refused with its name and value."""
        with pytest.raises(ValueError, match=message):
            EmulatorSettings(**kwargs)  # type: ignore[arg-type]

    def test_batch_defaults(self) -> None:
        """The Batch API's defaults: a temporary files directory, 100 MB uploads plus framing, 2 s validation,
        1,000 lines a second, 1 s finalizing, no faults."""
        settings = EmulatorSettings()
        assert (settings.files_dir, settings.max_upload_size, settings.upload_resets) == (None, 101 * 1024 * 1024, 0)
        pace = settings.batch_pace()
        assert (pace.validation_seconds, pace.lines_per_second, pace.finalizing_seconds, pace.expire_fraction) == (
            2.0, 1000.0, 1.0, None
        )

    def test_parse_limits(self) -> None:
        """--limits text parses into a model and four numbers."""
        assert parse_limits("openai/gpt-oss-20b=30/1000/8000/200000") == ("openai/gpt-oss-20b", (30, 1_000, 8_000, 200_000))


def test_public_names() -> None:
    """The package exports its documented names, each presented as orchestrator.emulator's."""
    assert sorted(emulator_package.__all__) == [
        "Emulator", "EmulatorServer", "EmulatorSettings", "EmulatorStats", "open_emulator_server", "serve"
    ]
    assert all(getattr(emulator_package, name).__module__ == "orchestrator.emulator" for name in emulator_package.__all__)
