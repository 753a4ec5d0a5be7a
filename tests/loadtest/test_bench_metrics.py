"""Issue 19 item 8: vLLM's result keys, ``--goodput`` in vLLM's and AIPerf's spelling, 429s and 498s per 1,000
requests, TPM use, and the max sustainable level (pure functions, then the command end to end)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import ModelLimits
from orchestrator.loadtest._capacity import (
    Sustainability,
    assess,
    level_tpm_limit,
    per_thousand,
    tpm_share,
)
from orchestrator.loadtest._metrics import SLO, LevelStats, LevelSummary, RequestRecord
from orchestrator.loadtest._plan import BenchPlan, LengthSpec, goodput_slo, parse_goodput
from orchestrator.loadtest._run import BenchObserver, BenchRun, TimelinePoint
from orchestrator.loadtest._serving import SERVING_FILE, serving_metrics, serving_record
from orchestrator._cli import main
from tests.helpers import client_for, make_emulator
from tests.loadtest.test_command import FAST, TINY, clear_groq_environment, lines

#: The keys vLLM's ``benchmark_serving`` writes that every level record must carry.
VLLM_KEYS = {
    "date", "backend", "model_id", "num_prompts", "request_rate", "burstiness", "max_concurrency", "duration",
    "completed", "failed", "total_input_tokens", "total_output_tokens", "request_throughput", "request_goodput",
    "output_throughput", "total_token_throughput",
    *(f"{stat}_{metric}_ms" for stat in ("mean", "median", "p99") for metric in ("ttft", "tpot", "itl", "e2el")),
}
LENIENT = Sustainability(max_429_per_1k=10.0, min_good_share=0.9)


@pytest.fixture(autouse=True)
def no_groq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key and no base URL: the command runs against the embedded emulator."""
    clear_groq_environment(monkeypatch)


def record(**fields: Any) -> RequestRecord:
    base: dict[str, Any] = {"level": 1, "index": 0, "start_s": 0.0, "ok": True, "ttft_s": 0.1, "tpot_s": 0.01,
                            "e2e_s": 0.5, "prompt_tokens": 10, "output_tokens": 41}
    return RequestRecord(**{**base, **fields})


def summary(level: int | float = 1, *, requests: int = 100, ok: int | None = None, rate_limited: int = 0,
            met: int | None = None, slo: SLO | None = None, duration: float = 10.0) -> LevelSummary:
    """A level of ``requests`` requests, ``ok`` of them completed, ``met`` of those meeting ``slo``."""
    stats = LevelStats(level, slo)
    ok = requests if ok is None else ok
    met = ok if met is None else met
    for index in range(requests):
        stats.add(record(level=level, index=index, ok=index < ok, error_kind=None if index < ok else "500 boom",
                         rate_limited=1 if index < rate_limited else 0,
                         slo_met=None if slo is None else index < min(ok, met)))
    return stats.summary(duration=duration, retries=0)


def point(t: float, level: int | float, tpm_limit: int | None) -> TimelinePoint:
    return TimelinePoint(t_s=t, level=level, tokens=0, tokens_per_minute=0.0, tpm_limit=tpm_limit,
                         tokens_remaining=None, in_flight=0, rate_limited=0)


class TestParseGoodput:
    def test_vllm_spelling(self) -> None:
        """vLLM's ttft/tpot/e2el pairs are milliseconds, one SLO field each."""
        assert goodput_slo([parse_goodput("ttft:500"), parse_goodput("tpot:50"), parse_goodput("e2el:5000")]) == SLO(
            ttft=0.5, tpot=0.05, e2e=5.0)

    def test_aiperf_spelling_in_one_quoted_value(self) -> None:
        """AIPerf's names, several pairs in one space-separated value, mean the same three bounds."""
        pairs = parse_goodput("time_to_first_token:250 inter_token_latency:10 request_latency:3000")
        assert goodput_slo([pairs]) == SLO(ttft=0.25, tpot=0.01, e2e=3.0)

    @pytest.mark.parametrize(("text", "words"), [
        ("ttft", ["'ttft'", "KEY:MILLISECONDS"]),
        ("speed:5", ["'speed:5'", "time_to_first_token"]),
        ("ttft:soon", ["'soon'", "milliseconds"]),
        ("ttft:-1", ["'ttft:-1'", "more than 0"]),
        ("e2el:inf", ["'e2el:inf'", "finite"]),
        ("", ["''"]),
    ])
    def test_bad_pairs_name_the_value(self, text: str, words: list[str]) -> None:
        """A pair that is not KEY:MS with a known key and a positive number is refused, quoting it."""
        with pytest.raises(ValueError) as info:
            parse_goodput(text)
        assert [word in str(info.value) for word in words] == [True] * len(words)

    def test_one_metric_bounded_twice_is_refused(self) -> None:
        """ttft and time_to_first_token are one metric: bounding both is an error naming it."""
        with pytest.raises(ValueError, match="ttft is bounded twice"):
            goodput_slo([parse_goodput("ttft:500"), parse_goodput("time_to_first_token:400")])


class TestServingMetrics:
    def test_vllm_keys_in_milliseconds(self) -> None:
        """Every key vLLM writes is there, latencies in ms and throughputs per second."""
        result = serving_metrics(summary(requests=4, duration=2.0, slo=SLO(ttft=1.0)))
        assert (set(result) >= VLLM_KEYS - {"date", "backend", "model_id", "num_prompts", "request_rate",
                                           "burstiness", "max_concurrency"},
                result["mean_ttft_ms"], result["median_e2el_ms"], result["p99_tpot_ms"], result["completed"],
                result["total_output_tokens"], result["request_throughput"], result["request_goodput"],
                result["output_throughput"]) == (True, pytest.approx(100.0), pytest.approx(500.0),
                                                 pytest.approx(10.0), 4, 164, 2.0, 2.0, 82.0)

    def test_goodput_is_null_without_an_slo(self) -> None:
        """Without an objective request_goodput is null, as vLLM writes it without --goodput."""
        assert serving_metrics(summary(requests=2))["request_goodput"] is None

    def test_unmeasured_metric_is_null(self) -> None:
        """A level where nothing completed has null latencies, not zeros."""
        result = serving_metrics(summary(requests=2, ok=0))
        assert (result["completed"], result["mean_ttft_ms"], result["p99_itl_ms"]) == (0, None, None)

    def test_record_setup_keys_follow_the_mode(self) -> None:
        """A rate level records its rate and burstiness; a concurrency level request_rate "inf" and its concurrency."""
        base: dict[str, Any] = {"model": "m", "levels": (2,), "requests": 3, "duration": None,
                                "prompt_tokens": LengthSpec(16), "output_tokens": LengthSpec(8), "context_window": 100,
                                "max_completion_tokens": 50, "slo": SLO(ttft=0.5, e2e=5.0)}
        level = summary(2, requests=3)
        capacity = assess([level], [], mode="rate", criteria=LENIENT, slo=None).levels[0]
        rate = serving_record(level, capacity, BenchPlan(mode="rate", arrivals="constant", **base), date="d")
        users = serving_record(level, capacity, BenchPlan(mode="concurrency", **base), date="d")
        assert ((rate["request_rate"], rate["burstiness"], rate["max_concurrency"], rate["goodput_slo_ms"]),
                (users["request_rate"], users["burstiness"], users["max_concurrency"])) == (
            (2, "inf", 256, {"ttft": 500.0, "e2el": 5000.0}), ("inf", 1.0, 2))


class TestCapacity:
    def test_per_thousand(self) -> None:
        """Counts per 1,000 requests, None with no requests."""
        assert (per_thousand(3, 200), per_thousand(0, 5), per_thousand(1, 0)) == (15.0, 0.0, None)

    def test_tpm_share(self) -> None:
        """Tokens per second times 60 over the TPM limit; None when either is unknown."""
        assert (tpm_share(100.0, 12_000), tpm_share(None, 6000), tpm_share(1.0, None)) == (0.5, None, None)

    def test_level_tpm_limit_is_the_last_known_during_the_level(self) -> None:
        """The limit a level is measured against is the last one sampled while it ran."""
        timeline = [point(0, 1, None), point(1, 1, 6000), point(2, 2, 6000), point(3, 2, 8000), point(4, 4, None)]
        assert [level_tpm_limit(timeline, level) for level in (1, 2, 4, 8)] == [6000, 8000, None, None]

    def test_sustainable_needs_few_429s_and_enough_goodput(self) -> None:
        """A level passes below the 429 bound with enough good requests, and fails on either count."""
        slo = SLO(ttft=1.0)
        verdicts = [LENIENT.holds(level) for level in (
            summary(requests=100, rate_limited=0, slo=slo, met=95),
            summary(requests=200, rate_limited=1, slo=slo, met=180),
            summary(requests=200, rate_limited=1, slo=slo, met=179),
            summary(requests=100, rate_limited=10, slo=slo, met=100),
            summary(requests=100, ok=89),
            summary(requests=0),
        )]
        assert verdicts == [True, True, False, False, False, False]

    def test_max_sustainable_is_the_highest_level_passing(self) -> None:
        """The search answers the highest level that passed, with its throughput, and lists every level passing."""
        slo = SLO(ttft=1.0)
        levels = [summary(1, slo=slo), summary(2, slo=slo, rate_limited=30), summary(4, slo=slo),
                  summary(8, slo=slo, met=50, duration=5.0)]
        found = assess(levels, [], mode="concurrency", criteria=LENIENT, slo=slo).sustainable
        assert (found.level, found.request_throughput, found.request_goodput, found.levels_passed,
                "429s < 10 per 1,000 requests and >= 90% of requests meeting ttft<=1s" in found.describe("4")) == (
            4, 10.0, 10.0, [1, 4], True)

    def test_no_level_sustainable(self) -> None:
        """When every level fails, the answer is None and the line says so."""
        found = assess([summary(5, rate_limited=50)], [], mode="rate", criteria=LENIENT, slo=None).sustainable
        assert (found.level, found.levels_passed, found.describe("")) == (
            None, [], "max sustainable request rate: none of the levels run (429s < 10 per 1,000 requests and "
                      ">= 90% of requests completing)")

    @given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 20)), min_size=1, max_size=6))
    def test_answer_is_the_maximum_of_the_levels_that_hold(self, shapes: list[tuple[int, int]]) -> None:
        """For any sweep, the answer is the largest level whose own verdict holds (or None), and the verdicts agree."""
        levels = [summary(2**i, requests=20, rate_limited=limited, ok=20 - failed)
                  for i, (limited, failed) in enumerate(shapes)]
        result = assess(levels, [], mode="concurrency", criteria=LENIENT, slo=None)
        holding = [level.level for level in levels if LENIENT.holds(level)]
        assert (result.sustainable.level, result.sustainable.levels_passed,
                [capacity.sustainable for capacity in result.levels]) == (
            max(holding, default=None), holding, [LENIENT.holds(level) for level in levels])


class TestRateLimitedSweep:
    async def test_429s_per_thousand_make_a_level_unsustainable(self, autojump_clock: object) -> None:
        """Against an emulator stricter than the client believes, the 429s per 1,000 requests fail the level."""
        model = "openai/gpt-oss-20b"
        emulator = make_emulator(limits={model: (2, 14_400, 60_000, 500_000)})
        plan = BenchPlan(model=model, mode="concurrency", levels=(1,), requests=4, duration=None,
                         prompt_tokens=LengthSpec(16), output_tokens=LengthSpec(8), context_window=131_072,
                         max_completion_tokens=131_072)
        async with client_for(emulator, observer=BenchObserver(), limits={model: ModelLimits(rpm=1000)}) as client:
            result = await BenchRun(client, plan, scale=1.0, sink=lambda record: None).run()
        assessment = assess(result.levels, result.timeline, mode="concurrency", criteria=LENIENT, slo=None)
        level, capacity = result.levels[0], assessment.levels[0]
        assert (level.completed, capacity.rate_limited_per_1k == 1000 * level.rate_limited / 4 >= 250,
                capacity.sustainable, assessment.sustainable.level) == (4, True, False, None)


@pytest.fixture(scope="module")
def goodput_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``groq-orch bench`` against the embedded emulator, with AIPerf's goodput names, its files kept."""
    directory = tmp_path_factory.mktemp("serving")
    with pytest.MonkeyPatch.context() as monkeypatch:
        clear_groq_environment(monkeypatch)
        code = main(["bench", "--concurrency", "1,2", "--requests", "3", *TINY, "--goodput",
                     "time_to_first_token:10000 request_latency:20000", "--output-dir", str(directory), *FAST])
    assert code == 0
    return directory


class TestCommandEndToEnd:
    def test_summary_has_vllm_keys_per_level(self, goodput_run: Path) -> None:
        """summary.json holds a vLLM-named record per level, with measured, consistent values."""
        summary = json.loads((goodput_run / "summary.json").read_text())
        records = summary["benchmark_serving"]
        assert (
            len(records), all(set(r) >= VLLM_KEYS for r in records), [r["max_concurrency"] for r in records],
            {(r["completed"], r["failed"], r["total_input_tokens"], r["total_output_tokens"], r["request_rate"])
             for r in records},
            all(0 < r["median_ttft_ms"] <= r["p99_ttft_ms"] and r["mean_e2el_ms"] >= r["mean_ttft_ms"]
                and r["mean_tpot_ms"] > 0 and r["mean_itl_ms"] > 0 for r in records),
            all(0 < r["request_goodput"] <= r["request_throughput"] for r in records),
            all(r["output_throughput"] == pytest.approx(8 * r["request_throughput"]) for r in records),
            {r["goodput_slo_ms"]["ttft"] for r in records}, summary["settings"]["slo"]["e2e"],
        ) == (2, True, [1, 2], {(3, 0, 48, 24, "inf")}, True, True, True, {10000.0}, 20.0)

    def test_rate_limit_figures_and_max_sustainable(self, goodput_run: Path) -> None:
        """Each level has TPM use and 429s/498s per 1,000; the run names its max sustainable level."""
        summary = json.loads((goodput_run / "summary.json").read_text())
        records, best = summary["benchmark_serving"], summary["max_sustainable"]
        assert (
            {(r["rate_limited_per_1k"], r["capacity_exceeded_per_1k"], r["tpm_limit"], r["sustainable"])
             for r in records},
            all(0 < r["tpm_share"] < 1 for r in records),
            (best["mode"], best["level"], best["levels_passed"], best["max_429_per_1k"], best["min_good_share"]),
            best["request_throughput"] == records[-1]["request_throughput"],
            summary["totals"]["rate_limited_per_1k"], 0 < summary["tokens_per_minute"]["peak_share"] < 1,
        ) == ({(0.0, 0.0, 8000, True)}, True, ("concurrency", 2, [1, 2], 10.0, 0.9), True, 0.0, True)

    def test_jsonl_in_vllm_append_layout(self, goodput_run: Path) -> None:
        """benchmark_serving.jsonl has one flat JSON object per level, the same as summary.json's."""
        summary = json.loads((goodput_run / "summary.json").read_text())
        assert lines(goodput_run / SERVING_FILE) == summary["benchmark_serving"]

    def test_text_report_names_the_max_sustainable_level(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The tables show 429s per 1,000 and TPM use, and a last line names the max sustainable level."""
        code = main(["bench", "--concurrency", "1", "--requests", "2", *TINY, "--goodput", "ttft:10000", *FAST,
                     "--sustainable-429s", "5", "--sustainable-goodput", "50%"])
        out = capsys.readouterr().out
        assert (code, "429/1k" in out, "TPM use" in out,
                "max sustainable concurrency: 1" in out, "429s < 5 per 1,000 requests and >= 50%" in out) == (
            0, True, True, True, True)


class TestGoodputFlags:
    @pytest.mark.parametrize(("argv", "words"), [
        (["--goodput", "ttft:fast"], ["--goodput", "'fast'"]),
        (["--goodput", "latency:500"], ["--goodput", "'latency:500'"]),
        (["--goodput", "ttft:500", "--slo", "ttft=1s"], ["--slo", "not allowed"]),
        (["--sustainable-429s", "0"], ["--sustainable-429s", "'0'"]),
        (["--sustainable-goodput", "120"], ["--sustainable-goodput", "'120'"]),
    ])
    def test_bad_values_are_argparse_errors(self, argv: list[str], words: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
        """A --goodput pair or sustainability bound that cannot be right exits 2 naming the flag and value."""
        with pytest.raises(SystemExit) as info:
            main(["bench", *argv])
        err = capsys.readouterr().err
        assert (info.value.code, [word in err for word in words]) == (2, [True] * len(words))

    def test_twice_bounded_metric_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Both spellings of one metric exit 2 before any request, naming --goodput."""
        code = main(["bench", "--goodput", "ttft:500", "time_to_first_token:400"])
        err = capsys.readouterr().err
        assert (code, "--goodput" in err, "bounded twice" in err, "bundled Groq emulator" in err) == (
            2, True, True, False)
