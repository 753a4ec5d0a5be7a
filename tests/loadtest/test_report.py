"""The pure parts of the HTML reports (``orchestrator._report``, ``orchestrator.loadtest._html``): ticks, charts,
tables, the batch timeline read from a results file, and pages drawn from documents alone."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from orchestrator._report import (
    Series,
    bar_chart,
    batch_report,
    completion_times,
    completions_by_second,
    format_number,
    line_chart,
    nice_ticks,
    table,
)
from orchestrator.batch._summary import BatchSummary
from orchestrator.loadtest._html import bench_report


class TestNiceTicks:
    def test_round_steps(self) -> None:
        """Ticks are round numbers covering the range."""
        assert (nice_ticks(0, 9.3), nice_ticks(0, 0.27), nice_ticks(0, 8000)) == (
            [0, 2, 4, 6, 8, 10], [0, 0.1, 0.2, 0.3], [0, 2000, 4000, 6000, 8000])

    @given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6))
    def test_cover_any_range_in_steps_of_1_2_or_5(self, low: float, span: float) -> None:
        """For any range, the ticks start at or below it, end at or above it, in equal 1/2/5 x 10^k steps."""
        ticks = nice_ticks(low, low + span)
        step = ticks[1] - ticks[0]
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert (ticks[0] <= low, ticks[-1] >= low + span - step * 1e-9, 2 <= len(ticks) <= 12,
                min(abs(mantissa - m) for m in (1, 2, 5, 10)) < 1e-6) == (True, True, True, True)


class TestCharts:
    def test_a_missing_value_breaks_the_line(self) -> None:
        """A None y splits the series into two polylines, and only known points get markers."""
        svg = line_chart([Series("s", [(0, 1.0), (1, None), (2, 3.0), (3, 4.0)])], title="t", x_label="x",
                         y_label="y")
        assert (svg.count("<polyline"), svg.count('class="point"'), 'data-x="2" data-y="3"' in svg) == (2, 3, True)

    def test_texts_are_escaped(self) -> None:
        """Names and titles reach the SVG escaped."""
        svg = line_chart([Series("<b>&", [(1, 1.0)])], title="a<script>", x_label="x", y_label="y")
        assert ("<script>" in svg, "a&lt;script&gt;" in svg, "&lt;b&gt;&amp;" in svg) == (False, True, True)

    def test_nothing_measured(self) -> None:
        """A chart with no known point says so instead of drawing axes."""
        svg = line_chart([Series("s", [(0, None)])], title="t", x_label="x", y_label="y")
        assert ("nothing measured" in svg, "<polyline" in svg) == (True, False)

    def test_events_are_markers_without_a_line(self) -> None:
        """A series with connect=False is drawn as markers only."""
        svg = line_chart([Series("429", [(1, 5.0), (2, 6.0)], connect=False)], title="t", x_label="x", y_label="y")
        assert (svg.count("<polyline"), svg.count('class="point"')) == (0, 2)

    def test_bars_carry_their_values(self) -> None:
        """Each bar is a rect with its label and value."""
        svg = bar_chart([("ok", 5.0), ("failed", 0.0)], title="t", y_label="jobs")
        assert ('data-label="ok" data-y="5"' in svg, 'data-label="failed" data-y="0"' in svg) == (True, True)

    def test_table_formats_cells(self) -> None:
        """Numbers get thousands separators, None a dash, booleans yes/no, text is escaped."""
        html = table(("a", "b"), [("x<y", 12345), (None, 0.5), (True, 2.0)])
        cells = ("x&lt;y", "12,345", "<td>-</td>", "<td>0.5</td>", "yes", "<td>2</td>")
        assert [cell in html for cell in cells] == [True] * 6

    def test_format_number(self) -> None:
        """Integers without decimals, small values to two significant digits, None a dash."""
        assert [format_number(v) for v in (1234, 12.345, 0.00421, None, 3.0, 0.0)] == [
            "1,234", "12.35", "0.0042", "-", "3", "0"]


def result_line(custom_id: str, created: int | None) -> str:
    if created is None:
        return json.dumps({"id": "r", "custom_id": custom_id, "response": None,
                           "error": {"code": "invalid_json", "message": "bad"}})
    return json.dumps({"id": "r", "custom_id": custom_id, "response": {"status_code": 200, "request_id": "q",
                                                                        "body": {"created": created, "id": "c"}},
                       "error": None})


class TestBatchTimeline:
    def test_reads_this_runs_completions(self, tmp_path: Path) -> None:
        """Only the last lines (this run's) count; failures have no time; the curve is cumulative per second."""
        results = tmp_path / "out.jsonl"
        results.write_text("\n".join([result_line("old", 50), result_line("a", 102), result_line("b", 100),
                                      result_line("c", None), result_line("d", 102)]) + "\n")
        times = completion_times(results, 4)
        assert (times, completions_by_second(times)) == ([100, 102, 102], [(0.0, 1), (2.0, 3)])

    def test_report_without_timeline(self) -> None:
        """Without completion times the page has the two outcome figures, the summary and the errors."""
        summary = BatchSummary(input_path="in.jsonl", output_path="out.jsonl", endpoint="e", jobs=3, succeeded=2,
                               failed=1, errors_by_code={"model_not_found": 1})
        page = batch_report(summary)
        assert (page.count("<svg"), "Jobs done over time" in page, "<td>model_not_found</td><td>1</td>" in page,
                "out.jsonl" in page) == (2, False, True, True)


def document(levels: list[int], *, tpm: list[float]) -> dict[str, Any]:
    """A summary.json document as small as bench_report needs."""
    records = [{"level": level, "num_prompts": 4, "completed": 4, "failed": 0, "request_throughput": 1.0 * level,
                "request_goodput": None, "output_throughput": 8.0 * level, "total_token_throughput": 24.0 * level,
                **{f"{s}_{m}_ms": 10.0 * level for s in ("mean", "median", "p90", "p99")
                   for m in ("ttft", "tpot", "itl", "e2el")},
                "rate_limited_per_1k": 0.0, "capacity_exceeded_per_1k": 0.0, "tpm_share": 0.25, "sustainable": True}
               for level in levels]
    timeline = [{"t_s": float(t), "level": levels[0], "tokens": 0, "tokens_per_minute": value, "tpm_limit": 8000,
                 "tokens_remaining": 8000 - value, "in_flight": 1, "rate_limited": t, "rpm_limit": 30,
                 "requests_remaining": 29} for t, value in enumerate(tpm)]
    return {
        "tool": "groq-orch bench", "version": "0", "started_at": "2026-12-02T00:00:00+00:00", "endpoint": "e",
        "clock": {"time_scale": 1.0},
        "settings": {"model": "m", "mode": "concurrency", "levels": levels, "slo": None},
        "benchmark_serving": records, "timeline": timeline,
        "max_sustainable": {"mode": "concurrency", "level": levels[-1], "request_throughput": 2.0,
                            "request_goodput": None, "levels_passed": levels, "criteria": "c",
                            "max_429_per_1k": 10.0, "min_good_share": 0.9},
    }


class TestBenchReportFromDocument:
    def test_a_saved_summary_draws_without_distributions(self) -> None:
        """From summary.json alone: six charts (no CDFs), the 429 markers, the verdict and a row per level."""
        page = bench_report(document([1, 2], tpm=[0.0, 100.0, 200.0]))
        assert (page.count("<svg"), page.count('data-series="429 received"'), "distribution" in page,
                "max sustainable concurrency: 2, 2.00 req/s (c)" in page, page.count("<tr><td>2</td>")) == (
            6, 1, False, True, 1)
