"""Tests for the batch progress view and summary table (rendered to text)."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType

from actors._budget import BudgetSnapshot, ModelLimits
from orchestrator.batch._summary import BatchSummary, BatchTally
from orchestrator._client import ClientStatistics
from orchestrator.batch._progress import format_duration, render_headroom, render_progress, render_summary


def text(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=160, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


STATS = ClientStatistics(
    queued=3, waiting_for_budget=7, delayed_for_retry=0, in_flight=11, streams_open=0,
    completed=40, failed=2, retried=5, rate_limited=1, breaker="closed",
)


class TestFormatDuration:
    def test_minutes(self) -> None:
        """Under an hour shows m:ss."""
        assert format_duration(75.4) == "1:15"

    def test_hours(self) -> None:
        """An hour or more shows h:mm:ss."""
        assert format_duration(3 * 3600 + 62) == "3:01:02"

    def test_unknown(self) -> None:
        """An unknown or infinite duration shows --:--."""
        assert (format_duration(None), format_duration(float("inf"))) == ("--:--", "--:--")


class TestRenderProgress:
    def test_shows_counts_rates_and_eta(self) -> None:
        """The live view shows done/total, failures, in flight, waiting for budget, rates and the ETA."""
        tally = BatchTally(jobs=100, already_done=10, now=0.0)
        for _ in range(40):
            tally.record_success(prompt_tokens=10, completion_tokens=15)
        tally.record_failure("invalid_json")
        out = text(render_progress(tally.sample(5.0), STATS, {}, input_path="in.jsonl", output_path="out.jsonl",
                                   endpoint="embedded emulator"))
        for expected in ("in.jsonl", "out.jsonl", "embedded emulator", "51/100", "failed 1", "in flight 11",
                         "waiting for budget 7", "8.2 jobs/s", "200 tokens/s", "ETA 0:06", "429s 1"):
            assert expected in out, expected

    def test_stopping_is_announced(self) -> None:
        """After a signal the header says in-flight jobs are finishing."""
        sample = BatchTally(jobs=1, already_done=0, now=0.0).sample(1.0)
        out = text(render_progress(sample, STATS, {}, input_path="i", output_path="o", endpoint="e", stopping=True))
        assert "stopping" in out


class TestRenderSummary:
    def test_lists_outcomes_and_errors(self) -> None:
        """The summary shows succeeded, failed with codes, tokens, throughput and the results path."""
        summary = BatchSummary(
            input_path="jobs.jsonl", output_path="results.jsonl", endpoint="https://api.groq.com/openai/v1",
            jobs=10, succeeded=7, failed=3, malformed=1, prompt_tokens=100, completion_tokens=200,
            elapsed_seconds=2.0, errors_by_code={"model_not_found": 2, "invalid_json": 1},
        )
        out = text(render_summary(summary))
        for expected in ("succeeded", "model_not_found 2, invalid_json 1", "malformed", "300",
                         "5.0 jobs/s", "150 tokens/s", "results.jsonl"):
            assert expected in out, expected

    def test_interrupted_run_says_how_to_resume(self) -> None:
        """An interrupted summary shows what was not run and how to finish it."""
        summary = BatchSummary(input_path="i", output_path="o", endpoint="e", jobs=10, succeeded=4, not_run=6,
                               interrupted_by="SIGINT")
        out = text(render_summary(summary))
        assert "not run" in out and "re-run" in out and "SIGINT" in out


class TestRenderHeadroom:
    def test_rows_show_remaining_over_limit(self) -> None:
        """Each model row shows remaining/limit per window compactly, 'learning' for unknown limits, and pauses."""
        snapshot = BudgetSnapshot(
            limits=ModelLimits(rpm=30, rpd=14_400, tpm=6_000, tpd=None),
            remaining_requests_minute=29, remaining_requests_day=14_399, remaining_tokens_minute=5_994,
            remaining_tokens_day=None, reset_requests_minute=2.0, reset_requests_day=6.0,
            reset_tokens_minute=0.06, reset_tokens_day=0.0, paused_until=12.5, paused_for=2.5,
        )
        out = text(render_headroom({"openai/gpt-oss-20b": snapshot}))
        for expected in ("openai/gpt-oss-20b", "29/30", "14.4k/14.4k", "5,994/6,000", "learning", "2.5s"):
            assert expected in out, expected


def test_rate_limits_say_where_each_number_came_from() -> None:
    """groq-orch rate-limits: every window with its limit and its source, the plan named once per model."""
    from actors._budget import LimitSources
    from orchestrator.batch._progress import render_rate_limits

    snapshot = BudgetSnapshot(
        limits=ModelLimits(rpm=1000, rpd=500_000, tpm=250_000, tpd=None, otpm=9000),
        remaining_requests_minute=990,
        remaining_requests_day=499_990,
        remaining_tokens_minute=240_000,
        remaining_tokens_day=None,
        reset_requests_minute=0.6,
        reset_requests_day=86_000.0,
        reset_tokens_minute=2.4,
        reset_tokens_day=0.0,
        paused_until=None,
        paused_for=0.0,
        sources=LimitSources(rpm="tier", rpd="headers", tpm="rate-limit", tpd="probe", otpm="configured"),
        tier="developer",
        remaining_output_tokens_minute=8000,
    )
    out = text(render_rate_limits({"openai/gpt-oss-20b": snapshot}))
    assert "openai/gpt-oss-20b (plan: developer)" in out
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert "1,000" in lines["RPM"] and "developer table" in lines["RPM"]
    assert "response headers" in lines["RPD"]
    assert "250k" in lines["TPM"] and "429 body" in lines["TPM"]
    assert "unknown: probing" in lines["TPD"]
    assert "9,000" in lines["OTPM"] and "configured" in lines["OTPM"]
    assert "most organizations have none" in lines["ITPM"]
