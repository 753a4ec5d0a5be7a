"""Issue 19, item 3: bench latencies do not depend on the emulator's clock: the default is real time, and the
report says which clock it used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import orchestrator._endpoint
from orchestrator._cli import main
from orchestrator.emulator import EmulatorSettings

TINY = ["--prompt-tokens", "16", "--output-tokens", "8"]


@pytest.fixture(autouse=True)
def instant_embedded_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, no base URL, and an embedded emulator with no latency (still on its usual x60 default clock),
    so the run is quick on the real clock."""
    for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "GROQ_TIMEOUT", "GROQ_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(orchestrator._endpoint, "embedded_emulator_settings",
                        lambda: EmulatorSettings(latency="instant", time_scale=60.0, seed=0))


class TestBenchClock:
    def test_the_default_clock_is_real_time_and_the_report_says_so(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Without --time-scale the embedded emulator runs at x1: summary.json and the header say clock x1."""
        code = main(["bench", "--concurrency", "1", "--requests", "2", *TINY, "--output-dir", str(tmp_path)])
        captured = capsys.readouterr()
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert (code, summary["clock"]["time_scale"], "clock x1: real seconds" in captured.out,
                "clock x1" in captured.err) == (0, 1.0, True, True)

    def test_a_compressed_clock_is_said_to_inflate_latencies(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With --time-scale 60 the header warns that latencies include the client's CPU time x60."""
        code = main(["bench", "--concurrency", "1", "--requests", "1", *TINY, "--time-scale", "60"])
        out = capsys.readouterr().out
        assert (code, "clock x60" in out, "--time-scale 1 to measure them" in out) == (0, True, True)

    def test_help_says_the_default_is_1(self, capsys: pytest.CaptureFixture[str]) -> None:
        """bench --help documents --time-scale's default of 1 and why."""
        with pytest.raises(SystemExit):
            main(["bench", "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "default 1, real time" in out


class TestBenchStartLine:
    def test_the_start_line_names_the_binding_limit(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A run larger than a minute's budget says, before it starts, which limit binds and how long it takes."""
        code = main(["bench", "--concurrency", "1", "--requests", "40", "--prompt-tokens", "16", "--output-tokens",
                     "8", "--time-scale", "600"])
        err = capsys.readouterr().err
        assert (code, "30 RPM on openai/gpt-oss-20b: 40 requests need about" in err, "clock x600" in err) == (
            0, True, True)
