"""The rate-limit benchmark runs end to end at a tiny size and writes well-formed output (never timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "ratelimit.py"
CONTENDERS = {"ours", "sdk", "sdk-retries", "processor", "ours-learning"}
METRICS = {
    "jobs",
    "succeeded",
    "failed",
    "wall_seconds_real",
    "wall_minutes_emulated",
    "tokens",
    "goodput_share_of_tpm",
    "requests",
    "rate_limited",
    "rate_limited_share",
    "retries",
    "latency_p50_s",
    "latency_p95_s",
    "peak_tokens_per_minute",
}
JOBS = 20


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    """Run every contender once on 20 jobs at time_scale 600; the JSON, the PNG path and the output."""
    folder = tmp_path_factory.mktemp("ratelimit")
    json_path = folder / "ratelimit.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--jobs", str(JOBS), "--time-scale", "600", "--json", str(json_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(json_path.read_text(encoding="utf-8")), folder / "ratelimit.png", done.stdout


class TestRateLimitSmoke:
    def test_json_has_every_contender_with_every_metric(self, run: tuple[dict, Path, str]) -> None:
        """Each contender's entry carries the full set of metrics as numbers."""
        result, _, _ = run
        assert result["benchmark"] == "ratelimit"
        assert set(result["contenders"]) == CONTENDERS
        for metrics in result["contenders"].values():
            assert METRICS <= set(metrics)
            assert all(isinstance(metrics[name], int | float) for name in METRICS)

    def test_every_job_is_accounted_for(self, run: tuple[dict, Path, str]) -> None:
        """Succeeded plus failed is the job count for every contender, and the server saw each job."""
        result, _, _ = run
        assert result["parameters"]["jobs"] == JOBS
        for metrics in result["contenders"].values():
            assert metrics["succeeded"] + metrics["failed"] == JOBS
            assert metrics["requests"] >= JOBS
            assert metrics["retries"] == metrics["requests"] - JOBS

    def test_targets_and_series_are_well_formed(self, run: tuple[dict, Path, str]) -> None:
        """Both of our contenders get the three verdicts, and every contender a tokens/min series."""
        result, _, _ = run
        goals = ("goodput_at_least_90_percent", "rate_limited_below_1_percent", "fewer_failed_than_every_peer")
        assert set(result["targets"]) == {f"{who}.{goal}" for who in ("ours", "ours-learning") for goal in goals}
        assert all(isinstance(target["met"], bool) for target in result["targets"].values())
        assert set(result["series"]) == CONTENDERS
        for points in result["series"].values():
            assert points and all(len(point) == 2 and point[1] >= 0 for point in points)

    def test_png_is_written(self, run: tuple[dict, Path, str]) -> None:
        """The plot exists beside the JSON and is a PNG."""
        _, png, _ = run
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_table_is_printed(self, run: tuple[dict, Path, str]) -> None:
        """The output holds the table header and a verdict line for ours."""
        _, _, stdout = run
        assert "goodput/TPM" in stdout and "target (a) ours: goodput >= 90 % of TPM" in stdout


def test_the_developer_tier_row_runs_with_ours_told_nothing(tmp_path: Path) -> None:
    """``--tier developer``: the emulator serves the Developer plan's limits and the JSON records the tier."""
    json_path = tmp_path / "ratelimit-developer.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tier", "developer", "--jobs", str(JOBS), "--time-scale", "600",
         "--only", "ours", "--only", "sdk", "--json", str(json_path), "--plot", ""],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(json_path.read_text(encoding="utf-8"))
    assert result["parameters"]["tier"] == "developer"
    assert result["parameters"]["limits"] == {"rpm": 1000, "rpd": 500_000, "tpm": 250_000, "tpd": 100_000_000}
    assert set(result["contenders"]) == {"ours", "sdk"}
    assert result["labels"]["ours"] == "(a) ours, developer tier, limits not told"
    assert result["contenders"]["ours"]["succeeded"] == JOBS
    assert "time-scaled developer tier" in done.stdout
