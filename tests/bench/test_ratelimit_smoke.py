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
#: Each workload's contenders: ``unknown`` is ours-with-limits-unknown against the peers, no (a).
WORKLOADS = {
    "base": CONTENDERS,
    "unknown": CONTENDERS - {"ours"},
    "two-models": CONTENDERS,
    "generous-caps": CONTENDERS,
    "developer": CONTENDERS,
}
METRICS = {
    "jobs",
    "succeeded",
    "failed",
    "wall_seconds_real",
    "wall_minutes_emulated",
    "tokens",
    "goodput_share_of_tpm",
    "physical_limit_tokens",
    "goodput_share_of_physical",
    "requests",
    "rate_limited",
    "rate_limited_share",
    "retries",
    "latency_p50_s",
    "latency_p95_s",
    "peak_tokens_per_minute",
}
JOBS = 20


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--jobs", str(JOBS), "--time-scale", "600", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, str]:
    """Run every workload with every contender on 20 jobs at time_scale 600; the JSON, the PNG path and the output."""
    folder = tmp_path_factory.mktemp("ratelimit")
    json_path = folder / "ratelimit.json"
    done = _run("--json", str(json_path))
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(json_path.read_text(encoding="utf-8")), folder / "ratelimit.png", done.stdout


class TestRateLimitSmoke:
    def test_json_has_every_workload_with_its_contenders_and_every_metric(self, run: tuple[dict, Path, str]) -> None:
        """By default all five workloads run; each entry carries its contenders' full set of metrics as numbers."""
        result, _, _ = run
        assert result["benchmark"] == "ratelimit"
        assert result["parameters"]["workloads"] == list(WORKLOADS)
        assert set(result["workloads"]) == set(WORKLOADS)
        for name, entry in result["workloads"].items():
            assert set(entry["contenders"]) == WORKLOADS[name], name
            for metrics in entry["contenders"].values():
                assert METRICS <= set(metrics)
                assert all(isinstance(metrics[key], int | float) for key in METRICS)

    def test_every_job_is_accounted_for(self, run: tuple[dict, Path, str]) -> None:
        """Succeeded plus failed is the job count for every contender, and the server saw each job."""
        result, _, _ = run
        for entry in result["workloads"].values():
            assert entry["parameters"]["jobs"] == JOBS
            for metrics in entry["contenders"].values():
                assert metrics["succeeded"] + metrics["failed"] == JOBS
                assert metrics["requests"] >= JOBS
                assert metrics["retries"] == metrics["requests"] - JOBS

    def test_workloads_serve_what_they_name(self, run: tuple[dict, Path, str]) -> None:
        """two-models serves both models' free limits (TPM summed), generous-caps caps at 2048, developer its plan."""
        workloads = run[0]["workloads"]
        free = {"rpm": 30, "rpd": 1_000, "tpm": 8_000, "tpd": 200_000}
        assert workloads["base"]["parameters"]["limits"] == {"openai/gpt-oss-20b": free}
        two = workloads["two-models"]["parameters"]
        assert two["limits"] == {"openai/gpt-oss-20b": free, "openai/gpt-oss-120b": free}
        assert two["tpm_total"] == 16_000
        assert set(two["token_ceiling"]) == {"openai/gpt-oss-20b", "openai/gpt-oss-120b"}
        assert workloads["generous-caps"]["parameters"]["max_completion_tokens"] == 2048
        assert workloads["base"]["parameters"]["max_completion_tokens"] is None
        developer = workloads["developer"]
        assert developer["parameters"]["tier"] == "developer"
        assert developer["parameters"]["limits"] == {
            "openai/gpt-oss-20b": {"rpm": 1000, "rpd": 500_000, "tpm": 250_000, "tpd": 100_000_000}
        }
        assert developer["labels"]["ours"] == "(a) ours, developer tier, limits not told"
        assert developer["contenders"]["ours"]["succeeded"] == JOBS

    def test_physical_limit_is_a_full_bucket_plus_its_refill(self, run: tuple[dict, Path, str]) -> None:
        """The physical limit is TPM times (wall minutes + 1) per model, and the share is the most loaded model's."""
        for entry in run[0]["workloads"].values():
            assert entry["parameters"]["tpd_binds"] == []  # 20 jobs cannot reach any TPD
            tpm = entry["parameters"]["tpm_total"]
            per_model = {model: row["tpm"] for model, row in entry["parameters"]["limits"].items()}
            for metrics in entry["contenders"].values():
                minutes = metrics["wall_minutes_emulated"] + 1
                assert metrics["physical_limit_tokens"] == pytest.approx(tpm * minutes)
                assert sum(metrics["tokens_by_model"].values()) == metrics["tokens"]
                binding = max(metrics["tokens_by_model"][model] / (limit * minutes) for model, limit in per_model.items())
                assert metrics["goodput_share_of_physical"] == pytest.approx(binding)
                assert 0 < metrics["goodput_share_of_physical"] <= 1

    def test_targets_and_series_are_well_formed(self, run: tuple[dict, Path, str]) -> None:
        """Each of our contenders a workload has gets the three verdicts, and every contender a tokens/min series."""
        result, _, _ = run
        goals = {
            "ours": ("goodput_at_least_97_percent_of_physical", "no_429s", "no_failed_job"),
            "ours-learning": ("goodput_at_least_97_percent_of_physical", "rate_limited_below_half_a_percent", "no_failed_job"),
        }
        assert set(result["targets"]) == set(WORKLOADS)
        for name, entry in result["workloads"].items():
            ours = {"ours", "ours-learning"} & WORKLOADS[name]
            assert set(entry["targets"]) == {f"{who}.{goal}" for who in ours for goal in goals[who]}
            assert result["targets"][name] == entry["targets"]
            assert all(isinstance(target["met"], bool) for target in entry["targets"].values())
            assert set(entry["series"]) == WORKLOADS[name]
            for points in entry["series"].values():
                assert points and all(len(point) == 2 and point[1] >= 0 for point in points)

    def test_png_is_written(self, run: tuple[dict, Path, str]) -> None:
        """The plot exists beside the JSON and is a PNG."""
        _, png, _ = run
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def test_table_is_printed(self, run: tuple[dict, Path, str]) -> None:
        """The output holds the table header, a row per workload and a verdict line for ours."""
        _, _, stdout = run
        assert "goodput/TPM" in stdout and "of physical" in stdout
        assert "target [base] (a) ours: goodput >= 97 % of the physical limit" in stdout
        assert "target [base] (a) ours: no 429 with the limits known" in stdout
        assert "target [unknown] (d) ours, limits unknown:" in stdout
        for name in WORKLOADS:
            assert f"[{name}]" in stdout and f"\n{name} " in stdout


def test_workload_tier_and_only_select_what_runs(tmp_path: Path) -> None:
    """``--tier developer`` is an alias of ``--workload developer``; ``--only`` picks contenders in each workload."""
    json_path = tmp_path / "ratelimit-selected.json"
    done = _run("--tier", "developer", "--workload", "unknown", "--only", "ours", "--only", "sdk",
                "--json", str(json_path), "--plot", "")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(json_path.read_text(encoding="utf-8"))
    assert result["parameters"]["workloads"] == ["unknown", "developer"]
    assert set(result["workloads"]["developer"]["contenders"]) == {"ours", "sdk"}
    assert set(result["workloads"]["unknown"]["contenders"]) == {"sdk"}  # unknown has no (a)
    assert result["workloads"]["developer"]["labels"]["ours"] == "(a) ours, developer tier, limits not told"
    assert result["plot"] is None
