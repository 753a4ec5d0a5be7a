"""Every benchmark suite runs at a tiny size and writes well-formed JSON with its expected keys.

The suites are scripts, not tests, and nothing else runs them: without this they would rot
when the client's API moves. Only shape is checked, never timings (the numbers of a tiny run
on a shared machine mean nothing). Each suite is loaded from its file and its ``main(argv)``
called in this process, with the arguments ``bench/run.py`` registers as its tiny size.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(stem: str) -> ModuleType:
    """Import ``bench/<stem>.py`` under a private name (bench/ is not a package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    name = f"_bench_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{stem}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


run = _load("run")


def _strict_json(path: Path) -> dict[str, Any]:
    """Parse ``path`` as strict JSON (NaN and Infinity are not JSON)."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{path} holds {constant}, which is not JSON")

    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    return document


def _verdicts(targets: Any) -> list[Any]:
    """Every ``met`` value in a suite's targets, however they are nested (per goal, or per contender and goal)."""
    if not isinstance(targets, dict):
        return []
    found = [targets["met"]] if "met" in targets else []
    return found + [verdict for key, value in targets.items() if key != "met" for verdict in _verdicts(value)]


def _numbers(*values: Any) -> bool:
    return all(isinstance(value, (int, float)) and math.isfinite(value) for value in values)


def _check_overhead(result: dict[str, Any], argv: list[str]) -> None:
    contenders = ["ours", "groq", "openai", "bare", "transport"]
    assert result["contenders"] == contenders
    calls = int(argv[argv.index("--calls") + 1])
    for name in contenders:
        sequential, concurrent = result["pooled"][name]["sequential"], result["pooled"][name]["concurrent"]
        assert sequential["n"] == calls * result["parameters"]["rounds"]
        assert _numbers(sequential["p50_ms"], sequential["p99_ms"], sequential["calls_per_s"], sequential["own_p50_ms"])
        assert _numbers(concurrent["p50_ms"], concurrent["p99_ms"], concurrent["calls_per_s"])
    assert set(result["ratios"]) == {"groq", "openai", "bare"}
    assert set(result["targets"]) == {
        "median_ratio_at_most_one_third", "median_ratio_at_most_a_quarter", "bare_ratio_at_most_1_2", "p99_below_2ms"
    }


def _check_stream(result: dict[str, Any], argv: list[str]) -> None:
    contenders = ["ours/iter", "ours/batches", "groq", "openai", "bare"]
    assert result["contenders"] == contenders
    assert all(_numbers(result["chunks_per_s"][name]) for name in contenders)
    for name in contenders:
        latency = result["chunk_latency"][name]
        assert latency["chunks"] == result["parameters"]["probes"] * (result["parameters"]["probe_tokens"] + 2)
        assert _numbers(latency["p50_ms"], latency["p99_ms"], latency["first_p50_ms"])
    assert set(result["rss"]) == {"ours/iter", "groq", "openai"}
    assert all(isinstance(rss["peak_growth"], int) for rss in result["rss"].values())
    assert {"iter_at_least_15x_groq", "batches_at_least_15x_groq", "stream_rss_below_1mb"} <= set(result["targets"])


def _check_memory(result: dict[str, Any], argv: list[str]) -> None:
    assert set(result["scenarios"]) == {"stream-ours", "stream-sdk", "stream-body", "queue-rss", "queue-tracemalloc"}
    assert result["scenarios"]["queue-rss"]["jobs"] == result["parameters"]["jobs"]
    assert _numbers(result["per_job"]["rss"], result["per_job"]["traced"], result["per_job"]["body_mean"])
    assert set(result["targets"]) == {"stream_rss_below_1mb", "queued_job_below_2kb"}


def _check_scale(result: dict[str, Any], argv: list[str]) -> None:
    sizes = [int(size) for size in argv[argv.index("--sizes") + 1].split(",")]
    assert [run["jobs"] for run in result["runs"]] == sizes
    for measured in result["runs"]:
        assert measured["requests"] == measured["jobs"] + result["parameters"]["warmup_jobs"]
        assert _numbers(measured["queue_bytes_per_job"], measured["dispatch_jobs_per_s"], measured["submit_us_per_job"])
    assert set(result["growth"]) == {"queue_memory", "dispatch_time", "submit_time"}
    assert set(result["targets"]) == {"cost_grows_linearly_or_better"}


def _check_emulator(result: dict[str, Any], argv: list[str]) -> None:
    assert [phase["load"] for phase in result["phases"]] == ["httpx", "raw"]
    assert all(phase["requests"] > 0 and phase["errors"] == 0 for phase in result["phases"])
    streams = result["parameters"]["streams"]
    assert [(row["complete"], row["errors"]) for row in result["streams"]] == [(streams, 0), (streams, 0)]


#: Suite -> what its results must hold beyond the common keys (a suite added to the registry
#: without an entry here is still run and checked for the common keys).
CHECKS = {
    "overhead": _check_overhead,
    "stream": _check_stream,
    "memory": _check_memory,
    "scale": _check_scale,
    "emulator": _check_emulator,
}


@pytest.mark.parametrize("name", list(run.SUITES))
def test_suite_runs_at_a_tiny_size_and_writes_its_results(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The suite's main(argv) prints a table and writes strict JSON holding what it returned."""
    suite = run.SUITES[name]
    path = tmp_path / f"{name}.json"
    argv = [*suite.tiny, "--json", str(path)]
    returned = _load(Path(suite.script).stem).main(argv)
    out = capsys.readouterr().out
    assert "\n---" in out and f"wrote {path}" in out
    written = _strict_json(path)
    assert written["benchmark"] == returned["benchmark"] == name
    assert {"python", "cpu", "cpus", "versions", "time"} <= set(written["environment"])
    assert set(returned) <= set(written)
    assert isinstance(written["parameters"], dict)
    assert isinstance(written["targets"], dict)
    assert all(isinstance(verdict, bool) for verdict in _verdicts(written["targets"]))
    if name in CHECKS:
        CHECKS[name](written, argv)


def test_runner_runs_a_suite_in_its_own_process_and_keeps_its_output(tmp_path: Path) -> None:
    """run.py --tiny --only scale writes the suite's JSON and a text copy headed by the machine and command."""
    assert run.main(["--tiny", "--only", "scale", "--results", str(tmp_path)]) == 0
    folder = tmp_path / "tiny"
    assert _strict_json(folder / "scale.json")["benchmark"] == "scale"
    header, command, body = (folder / "scale.txt").read_text(encoding="utf-8").split("\n", 2)
    assert "cores" in header and "Python" in header
    assert command == "$ python bench/scale.py " + " ".join(run.SUITES["scale"].tiny)
    assert "dispatch jobs/s" in body
    assert not (tmp_path / "LATEST.md").exists()


def test_latest_md_gathers_the_full_runs_in_registry_order(tmp_path: Path) -> None:
    """LATEST.md has a section per suite with a full run, in the registry's order, each table fenced."""
    for name in reversed(list(run.SUITES)[:2]):
        (tmp_path / f"{name}.txt").write_text(f"when; machine\n$ python bench/{name}.py\ntable of {name}\n")
    text = run.write_latest(tmp_path).read_text(encoding="utf-8")
    first, second = list(run.SUITES)[:2]
    assert text.index(f"## {first}") < text.index(f"## {second}")
    assert f"```\n$ python bench/{first}.py\ntable of {first}\n```" in text
    assert "## " + list(run.SUITES)[2] not in text


def test_list_names_every_suite(capsys: pytest.CaptureFixture[str]) -> None:
    """run.py --list prints one line per registered suite."""
    assert run.main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(run.SUITES)


def test_the_batch_api_memory_run_merges_every_job(tmp_path: Path) -> None:
    """bench/batch_api_memory.py at a tiny size: the whole Batch API run finishes and reports its RSS."""
    out = tmp_path / "batch_api_memory.json"
    _load("batch_api_memory").main(["--lines", "200", "--prompt-bytes", "100", "--json", str(out)])
    results = _strict_json(out)["results"]
    assert results["jobs"] == 200
    assert _numbers(results["growth_mb"], results["peak_mb"], results["input_mb"], results["output_mb"])
    assert results["output_mb"] > 0
