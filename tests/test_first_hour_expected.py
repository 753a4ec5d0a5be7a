"""Issue 19, item 4: a run says at its start how long the rate limits make it take, and which limit binds."""

from __future__ import annotations

import io
import json
from pathlib import Path

import trio
from rich.console import Console

from actors._budget import ModelLimits
from orchestrator._expected import ModelWork, expected_run, expected_run_line, format_span
from orchestrator.batch._local import run_batch_async
from orchestrator.emulator import EmulatorSettings

FREE_20B = ModelLimits(rpm=30, rpd=1_000, tpm=8_000, tpd=200_000)
FREE_8B = ModelLimits(rpm=30, rpd=14_400, tpm=6_000, tpd=500_000)
LIMITS = {"openai/gpt-oss-20b": FREE_20B, "llama-3.1-8b-instant": FREE_8B}


class TestFormatSpan:
    def test_spans_read_at_a_glance(self) -> None:
        """Seconds, minutes, hours and days each get the two largest units that matter."""
        assert [format_span(s) for s in (0.2, 45, 200, 600, 9_960, 7_200, 4 * 86_400, 4.5 * 86_400)] == [
            "under a second", "45 s", "3 min 20 s", "10 min", "2 h 46 min", "2 h", "4 days", "4 days 12 h"]


class TestExpectedRun:
    def test_a_bucket_starts_full(self) -> None:
        """What fits in a window's first fill costs no time; each further fill costs one period."""
        assert (expected_run({"m": ModelWork(30, 0)}, {"m": ModelLimits(rpm=30)}).seconds,
                expected_run({"m": ModelWork(90, 0)}, {"m": ModelLimits(rpm=30)}).seconds) == (0.0, 120.0)

    def test_the_slowest_window_of_the_slowest_model_binds(self) -> None:
        """Across models and windows, the one that takes longest is named."""
        work = {"openai/gpt-oss-20b": ModelWork(100, 100), "llama-3.1-8b-instant": ModelWork(3_000, 3_000)}
        assert expected_run(work, LIMITS)[1:] == ("llama-3.1-8b-instant", "RPM", 30)

    def test_unknown_limits_do_not_bind(self) -> None:
        """A model with no known limits, or a window left None, adds no time."""
        assert expected_run({"x": ModelWork(10**6, 10**9)}, {}).seconds == 0.0


class TestExpectedRunLine:
    def test_the_issue_example(self) -> None:
        """5,000 jobs at 30 RPM: the line names the limit, the model and the time."""
        line = expected_run_line({"llama-3.1-8b-instant": ModelWork(5_000, 5_000 * 100)}, LIMITS)
        assert line == "30 RPM on llama-3.1-8b-instant: 5,000 jobs need about 2 h 46 min"

    def test_a_daily_limit_binds_for_days(self) -> None:
        """The README's map example on the free plan: 1,000 RPD makes 5,000 jobs take days, not hours."""
        line = expected_run_line({"openai/gpt-oss-20b": ModelWork(5_000, 5_000 * 20)}, LIMITS,
                                 basis="the free plan's")
        assert line == "1,000 RPD on openai/gpt-oss-20b: 5,000 jobs need about 4 days; limits: the free plan's"

    def test_token_bounds_are_upper_bounds_unless_exact(self) -> None:
        """Estimated tokens use whole completion budgets: they give an 'up to', exact ones a plain 'about'."""
        work = {"openai/gpt-oss-20b": ModelWork(60, 60 * 1_000)}
        assert (expected_run_line(work, LIMITS), expected_run_line(work, LIMITS, exact_tokens=True)) == (
            "30 RPM on openai/gpt-oss-20b: 60 jobs need about 1 min, up to 6 min 30 s if every completion uses "
            "its whole max_completion_tokens (8,000 TPM on openai/gpt-oss-20b)",
            "8,000 TPM on openai/gpt-oss-20b: 60 jobs need about 6 min 30 s",
        )

    def test_a_compressed_clock_gives_both_times(self) -> None:
        """On an emulator's x60 clock the line gives real time first, then the endpoint's."""
        line = expected_run_line({"openai/gpt-oss-20b": ModelWork(930, 0)}, LIMITS, time_scale=60, noun="requests")
        assert line == "30 RPM on openai/gpt-oss-20b: 930 requests need about 30 s (30 min on the endpoint's x60 clock)"

    def test_a_run_within_the_limits_says_so(self) -> None:
        """Nothing past a first fill: no wait expected."""
        assert expected_run_line({"openai/gpt-oss-20b": ModelWork(5, 500)}, LIMITS) == (
            "5 jobs fit within its model's rate limits: no wait for rate budget expected")


async def test_a_batch_prints_its_expected_time(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """`batch` prints the expected time and the binding limit at its start, before the jobs run."""
    body = {"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 8}
    source = tmp_path / "jobs.jsonl"
    source.write_text("".join(json.dumps({"custom_id": f"j{i}", "body": body}) + "\n" for i in range(60)))
    buffer = io.StringIO()
    summary = await run_batch_async(
        source, tmp_path / "out.jsonl", environ={}, quiet=False,
        console=Console(file=buffer, width=400, color_system=None),
        emulator_settings=EmulatorSettings(latency="instant", time_scale=60.0),
    )
    text = buffer.getvalue()
    assert (summary.succeeded, "30 RPM on openai/gpt-oss-20b: 60 jobs need about 1 s (1 min on the endpoint's x60 "
            "clock); limits: the free plan's, as the bundled emulator enforces them" in text) == (60, True), text
