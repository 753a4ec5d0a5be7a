"""What ``groq-orch bench`` shows and keeps: rich tables on screen and the ``summary.json`` document.

Rendering is kept apart from the run: these functions take the finished :class:`LevelSummary` values
(and the run's :class:`Assessment` against the rate limits) and return rich renderables or plain data, so
they are tested by rendering to a string console. The layout follows vLLM's "Serving Benchmark Result"
and GuideLLM's stats tables: one row per level, the client's view (TTFT, ITL, TPOT, E2E) beside Groq's
own (``queue_time``, ``prompt_time``, ``completion_time``), then throughput, goodput and what the rate
limits cost, and a last line naming the max sustainable level.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

import msgspec
from rich.table import Table

from orchestrator.loadtest._capacity import Assessment, per_thousand
from orchestrator.loadtest._metrics import SLO, LevelSummary, Percentiles
from orchestrator.loadtest._plan import BenchPlan
from orchestrator.loadtest._run import BenchResult
from orchestrator.loadtest._serving import serving_date, serving_record

__all__ = ["level_label", "render_tables", "summary_document", "sustainable_line"]


def level_label(level: int | float, mode: str) -> str:
    """``8`` for a concurrency, ``2.5/s`` for a request rate."""
    return f"{level:g}/s" if mode == "rate" else f"{level:g}"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    ms = seconds * 1000.0
    if ms < 10:
        return f"{ms:.2f}"
    if ms < 100:
        return f"{ms:.1f}"
    return f"{ms:,.0f}"


def _spread(percentiles: Percentiles) -> str:
    if percentiles.count == 0:
        return "-"
    return f"{_ms(percentiles.p50)} / {_ms(percentiles.p90)} / {_ms(percentiles.p99)}"


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}" if abs(value) < 1000 else f"{value:,.0f}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _goodput(summary: LevelSummary) -> str:
    goodput = summary.goodput
    if goodput is None or goodput.share is None:
        return "-"
    return f"{goodput.share:.0%} ({_number(goodput.per_second)}/s)"


def _table(title: str, level_header: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold", pad_edge=False)
    table.add_column(level_header, justify="right", no_wrap=True)
    return table


def render_tables(
    summaries: Sequence[LevelSummary], *, mode: str, slo: SLO | None, assessment: Assessment
) -> list[Table]:
    """Three tables, one row per level: client latencies; Groq's timings and client holds; throughput and
    rate limits (with 429s and 498s per 1,000 requests and TPM use from ``assessment``)."""
    header = "rate" if mode == "rate" else "concurrency"
    latency = _table("Latency, ms (p50 / p90 / p99)", header)
    for name in ("TTFT", "ITL", "TPOT", "E2E"):
        latency.add_column(name, justify="right", no_wrap=True)
    server = _table("Groq's usage timings, and time the client held requests, ms (p50 / p90 / p99)", header)
    for name in ("queue", "prompt", "completion", "held by client"):
        server.add_column(name, justify="right", no_wrap=True)
    goodput_title = f"goodput ({slo.describe()})" if slo is not None else "goodput"
    volume = _table("Throughput, goodput and rate limits", header)
    for name in ("ok", "failed", "req/s", "out tok/s", "tok/min", "TPM use", goodput_title, "429", "429/1k",
                 "498/1k", "retries", "held s", "sustainable"):
        volume.add_column(name, justify="right", no_wrap=name != goodput_title)
    for summary, capacity in zip(summaries, assessment.levels, strict=True):
        label = level_label(summary.level, mode)
        latency.add_row(
            label, _spread(summary.ttft_s), _spread(summary.itl_s), _spread(summary.tpot_s), _spread(summary.e2e_s)
        )
        server.add_row(
            label, _spread(summary.queue_time_s), _spread(summary.prompt_time_s),
            _spread(summary.completion_time_s), _spread(summary.throttled_per_request_s),
        )
        per_minute = None if summary.total_token_throughput is None else summary.total_token_throughput * 60
        volume.add_row(
            label, f"{summary.completed:,}", f"{summary.failed:,}", _number(summary.request_throughput),
            _number(summary.output_token_throughput, 1), _number(per_minute, 0), _share(capacity.tpm_share),
            _goodput(summary), f"{summary.rate_limited:,}", _number(capacity.rate_limited_per_1k, 1),
            _number(capacity.capacity_exceeded_per_1k, 1), f"{summary.retries:,}", _number(summary.throttled_s, 1),
            "yes" if capacity.sustainable else "no",
        )
    return [latency, server, volume]


def sustainable_line(assessment: Assessment) -> str:
    """The text report's verdict: the highest level run that was sustainable, and the test it passed."""
    sustainable = assessment.sustainable
    label = "" if sustainable.level is None else level_label(sustainable.level, sustainable.mode)
    return sustainable.describe(label)


def summary_document(
    result: BenchResult,
    plan: BenchPlan,
    *,
    endpoint: str,
    time_scale: float,
    started_at: datetime.datetime,
    version: str,
    assessment: Assessment,
) -> dict[str, Any]:
    """The ``summary.json`` content: settings, one result per level (ours, and under vLLM's names in
    ``benchmark_serving``), totals, the max sustainable level and the timeline.

    Every time is in seconds on the endpoint's clock (``clock.time_scale`` endpoint seconds per real
    second); rates are per endpoint second.
    """
    summaries = result.levels
    totals = {
        "requests": sum(s.requests for s in summaries),
        "completed": sum(s.completed for s in summaries),
        "failed": sum(s.failed for s in summaries),
        "input_tokens": sum(s.input_tokens for s in summaries),
        "output_tokens": sum(s.output_tokens for s in summaries),
        "rate_limited": sum(s.rate_limited for s in summaries),
        "capacity_exceeded": sum(s.capacity_exceeded for s in summaries),
        "retries": sum(s.retries for s in summaries),
        "throttled_s": sum(s.throttled_s for s in summaries),
        "duration_s": result.duration_s,
    }
    totals["rate_limited_per_1k"] = per_thousand(totals["rate_limited"], totals["requests"])
    totals["capacity_exceeded_per_1k"] = per_thousand(totals["capacity_exceeded"], totals["requests"])
    limits = [point.tpm_limit for point in result.timeline if point.tpm_limit is not None]
    peak = max((point.tokens_per_minute for point in result.timeline), default=None)
    limit = limits[-1] if limits else None
    date = serving_date(started_at)
    return {
        "tool": "groq-orch bench",
        "version": version,
        "started_at": started_at.isoformat(timespec="seconds"),
        "endpoint": endpoint,
        "clock": {
            "time_scale": time_scale,
            "note": "times are endpoint seconds (real seconds x time_scale); rates are per endpoint second",
        },
        "settings": plan.settings(),
        "levels": msgspec.to_builtins(summaries),
        "benchmark_serving": [
            serving_record(summary, capacity, plan, date=date)
            for summary, capacity in zip(summaries, assessment.levels, strict=True)
        ],
        "max_sustainable": msgspec.to_builtins(assessment.sustainable),
        "totals": totals,
        "tokens_per_minute": {
            "peak": peak, "tpm_limit": limit, "peak_share": peak / limit if peak is not None and limit else None,
        },
        "timeline": msgspec.to_builtins(result.timeline),
    }
