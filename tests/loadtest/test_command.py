"""``groq-orch bench`` run in-process through ``main(argv)`` against the embedded emulator (files and fields, never timings)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator import ModelLimits
from orchestrator.loadtest._metrics import LevelSummary, RequestRecord
from orchestrator.loadtest._plan import BenchPlan, LengthSpec
from orchestrator.loadtest._run import BenchObserver, BenchRun
from orchestrator._cli import main
from tests.helpers import client_for, make_emulator

PNG = b"\x89PNG\r\n\x1a\n"
TINY = ["--prompt-tokens", "16", "--output-tokens", "8"]
#: The embedded emulator runs on the real clock by default (issue 19); these runs compress it to stay quick.
FAST = ["--time-scale", "60"]


def clear_groq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "GROQ_TIMEOUT", "GROQ_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def no_groq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with nothing set up: no key, no base URL, so the embedded emulator answers."""
    clear_groq_environment(monkeypatch)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, str, str]:
    """One tiny concurrency sweep (1 and 2, three requests each), shared by TestSweep's checks."""
    directory = tmp_path_factory.mktemp("bench")
    printed, notices = io.StringIO(), io.StringIO()  # capsys is per test; this run is shared
    with pytest.MonkeyPatch.context() as monkeypatch, contextlib.redirect_stdout(printed), \
            contextlib.redirect_stderr(notices):
        clear_groq_environment(monkeypatch)  # the autouse fixture is per test and runs after this one
        code = main(["bench", "--concurrency", "1,2", "--requests", "3", *TINY, "--slo", "ttft=10s,e2e=20s",
                     "--output-dir", str(directory), *FAST])
    return code, directory, printed.getvalue(), notices.getvalue()


class TestSweep:
    def test_exit_status_and_notice(self, run: tuple[int, Path, str, str]) -> None:
        """A run where requests complete exits 0 and says once that the embedded emulator answered."""
        code, _, _, notices = run
        assert (code, notices.count("bundled Groq emulator")) == (0, 1)

    def test_requests_jsonl_has_every_request_and_field(self, run: tuple[int, Path, str, str]) -> None:
        """requests.jsonl has one line per request, with every RequestRecord field, measured and consistent."""
        _, directory, _, _ = run
        records = lines(directory / "requests.jsonl")
        fields = set(RequestRecord.__struct_fields__)
        assert (
            len(records),
            sorted((r["level"], r["index"]) for r in records),
            all(set(r) == fields for r in records),
            {(r["ok"], r["prompt_tokens"], r["prompt_tokens_target"], r["output_tokens"], r["max_completion_tokens"],
              r["chunks"], r["attempts"], r["slo_met"], r["status"]) for r in records},
            all(r["ttft_s"] is not None and r["e2e_s"] >= r["ttft_s"] and r["tpot_s"] is not None
                and r["queue_time_s"] is not None and r["completion_time_s"] is not None for r in records),
        ) == (6, [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)], True, {(True, 16, 16, 8, 8, 8, 1, True, 200)}, True)

    def test_summary_json_levels_and_timeline(self, run: tuple[int, Path, str, str]) -> None:
        """summary.json has settings, a full LevelSummary per level, totals, and a timeline against the TPM limit."""
        _, directory, _, _ = run
        summary = json.loads((directory / "summary.json").read_text())
        level_fields = set(LevelSummary.__struct_fields__)
        first = summary["levels"][0]
        assert (
            summary["settings"]["levels"], summary["settings"]["slo"], summary["clock"]["time_scale"],
            [level["level"] for level in summary["levels"]], all(set(level) == level_fields for level in summary["levels"]),
            [level["completed"] for level in summary["levels"]], first["goodput"]["met"],
            set(first["ttft_s"]), summary["totals"]["completed"], summary["totals"]["output_tokens"],
            summary["timeline"][-1]["tokens"], summary["tokens_per_minute"]["tpm_limit"],
        ) == (
            [1, 2], {"ttft": 10.0, "tpot": None, "e2e": 20.0}, 60.0, [1, 2], True, [3, 3], 3,
            {"count", "mean", "min", "max", "p50", "p90", "p99"}, 6, 48, 6 * 24, 8000,
        )

    def test_plots_are_pngs(self, run: tuple[int, Path, str, str]) -> None:
        """The three plots are PNG files."""
        _, directory, _, _ = run
        names = ("latency.png", "throughput.png", "tokens_per_minute.png")
        assert [(directory / name).read_bytes()[:8] for name in names] == [PNG] * 3

    def test_tables_on_stdout(self, run: tuple[int, Path, str, str]) -> None:
        """The three tables are printed with a row per level."""
        _, _, printed, _ = run
        assert (printed.count("Latency, ms"), printed.count("Groq's usage timings"),
                printed.count("Throughput, goodput and rate limits"), "goodput (ttft<=10s, e2e<=20s)" in printed) == (
            1, 1, 1, True)


class TestModes:
    def test_rate_mode_with_duration(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--rate with constant arrivals for --duration sends exactly the arrivals that fit in it."""
        code = main(["bench", "--rate", "5", "--arrivals", "constant", "--duration", "1.9", *TINY,
                     "--output-dir", str(tmp_path), *FAST])
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert (code, len(lines(tmp_path / "requests.jsonl")), summary["settings"]["mode"],
                summary["settings"]["arrivals"], summary["levels"][0]["requests"]) == (0, 10, "rate", "constant", 10)

    def test_without_output_dir_writes_nothing(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
        """Without --output-dir the tables are printed, a hint says how to keep files, and nothing is written."""
        monkeypatch.chdir(tmp_path)
        code = main(["bench", "--concurrency", "1", "--requests", "1", *TINY])
        captured = capsys.readouterr()
        assert (code, "Latency, ms" in captured.out, "--output-dir" in captured.err, list(tmp_path.iterdir())) == (
            0, True, True, [])

    def test_without_matplotlib_writes_the_rest(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
        """With matplotlib missing, the JSON files are written and the message says how to install plots."""
        for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg", "orchestrator.loadtest._plots"):
            monkeypatch.setitem(sys.modules, name, None)
        code = main(["bench", "--concurrency", "1", "--requests", "1", *TINY, "--output-dir", str(tmp_path)])
        err = capsys.readouterr().err
        assert (code, sorted(path.name for path in tmp_path.iterdir()),
                "pip install 'groq-orchestrator[bench]'" in err) == (
            0, ["benchmark_serving.jsonl", "requests.jsonl", "summary.json"], True)

    def test_every_request_failing_exits_1(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """When no request completes (an unknown model), the records say why and the exit status is 1."""
        code = main(["bench", "--model", "no-such-model", "--concurrency", "1", "--requests", "2", *TINY,
                     "--output-dir", str(tmp_path)])
        records = lines(tmp_path / "requests.jsonl")
        assert (code, {(r["ok"], r["error_kind"], r["status"]) for r in records}, len(records),
                "2 x 404 model_not_found" in capsys.readouterr().err) == (
            1, {(False, "404 model_not_found", 404)}, 2, True)


class TestBadFlags:
    @pytest.mark.parametrize(("argv", "words"), [
        (["--concurrency", "1,x"], ["--concurrency", "'x'"]),
        (["--concurrency", "0"], ["--concurrency", "'0'"]),
        (["--rate", "-2"], ["--rate", "'-2'"]),
        (["--requests", "0"], ["--requests", "0"]),
        (["--duration", "soon"], ["--duration", "'soon'"]),
        (["--prompt-tokens", "abc"], ["--prompt-tokens", "'abc'"]),
        (["--output-tokens", "10:-1"], ["--output-tokens", "'-1'"]),
        (["--slo", "ttft=5"], ["--slo", "'5'"]),
        (["--slo", "speed=5s"], ["--slo", "'speed=5s'"]),
        (["--time-scale", "0"], ["--time-scale", "'0'"]),
        (["--concurrency", "1", "--rate", "2"], ["--rate", "not allowed"]),
        (["--requests", "1", "--duration", "2"], ["--duration", "not allowed"]),
    ])
    def test_parse_errors_name_flag_and_value(self, argv: list[str], words: list[str],
                                              capsys: pytest.CaptureFixture[str]) -> None:
        """A flag that cannot be parsed exits 2 with a message naming the flag and the value."""
        with pytest.raises(SystemExit) as info:
            main(["bench", *argv])
        err = capsys.readouterr().err
        assert (info.value.code, [word in err for word in words]) == (2, [True] * len(words))

    @pytest.mark.parametrize(("argv", "words"), [
        (["--arrivals", "constant"], ["--arrivals", "only with --rate"]),
        (["--max-concurrency", "4"], ["--max-concurrency", "only with --rate"]),
        (["--output-tokens", "999999"], ["--output-tokens", "999999", "65536"]),
        (["--prompt-tokens", "131000", "--output-tokens", "1000"], ["--prompt-tokens", "context window"]),
    ])
    def test_flags_that_do_not_fit_exit_2(self, argv: list[str], words: list[str],
                                          capsys: pytest.CaptureFixture[str]) -> None:
        """Flags that parse but do not fit together or the model exit 2 before any request, naming the flag."""
        code = main(["bench", *argv])
        err = capsys.readouterr().err
        assert (code, [word in err for word in words], "bundled Groq emulator" in err) == (
            2, [True] * len(words), False)

    def test_time_scale_refused_for_groq(self, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """--time-scale applies to emulators; against Groq itself it exits 2 before sending anything."""
        monkeypatch.setenv("GROQ_API_KEY", "gsk_test_not_used")
        code = main(["bench", "--time-scale", "60"])
        err = capsys.readouterr().err
        assert (code, "--time-scale" in err, "api.groq.com" in err) == (2, True, True)


class TestHelp:
    def test_bench_has_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        """bench --help shows its usage with the load, request and report flags, and exits 0."""
        with pytest.raises(SystemExit) as info:
            main(["bench", "--help"])
        out = capsys.readouterr().out
        assert (info.value.code, [flag in out for flag in ("--concurrency", "--rate", "--prompt-tokens", "--slo",
                                                           "--output-dir", "--base-url")]) == (0, [True] * 6)


class TestRateLimitCounting:
    async def test_429_and_498_are_counted_per_request(self, autojump_clock: object) -> None:
        """A 498 and the 429s of an emulator stricter than the client believes are counted and timed per request."""
        model = "openai/gpt-oss-20b"
        emulator = make_emulator(limits={model: (2, 14_400, 60_000, 500_000)}, faults=["498:burst=1"])
        plan = BenchPlan(model=model, mode="concurrency", levels=(1,), requests=4, duration=None,
                         prompt_tokens=LengthSpec(16), output_tokens=LengthSpec(8), context_window=131_072,
                         max_completion_tokens=131_072)
        records: list[RequestRecord] = []
        async with client_for(emulator, observer=BenchObserver(), limits={model: ModelLimits(rpm=1000)}) as client:
            result = await BenchRun(client, plan, scale=1.0, sink=records.append).run()
        level = result.levels[0]
        assert (
            [r.ok for r in records], sum(r.capacity_exceeded for r in records), records[0].attempts,
            level.rate_limited == sum(r.rate_limited for r in records) >= 1, level.capacity_exceeded,
            all(r.throttled_s > 0 for r in records if r.rate_limited), level.retries,
        ) == ([True] * 4, 1, 2, True, 1, True, level.rate_limited + 1)
