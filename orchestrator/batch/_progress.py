"""What the batch runner draws: the live progress view and the final summary table (rich renderables).

Rendering is separate from the loop that drives it: these functions take plain values (a
`ProgressSample`, the client's statistics and rate-limit snapshots) and return rich renderables, so they
are tested by rendering to a string console, and the trio loop in `orchestrator.batch._local` only calls them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from actors._windows import WINDOWS
from orchestrator._prices import format_usd
from orchestrator.batch._summary import BatchSummary, ProgressSample

__all__ = ["format_duration", "render_headroom", "render_progress", "render_summary"]

# Rate-limit rows shown live; a batch rarely uses more models, and the view must fit a terminal.
_MAX_MODEL_ROWS = 10


def format_duration(seconds: float | None) -> str:
    """``h:mm:ss`` (or ``m:ss``) for an ETA or elapsed time; ``--:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _count(value: float | None) -> str:
    """A compact count: exact below 10,000, then one decimal at most (14.4k, 500k, 1.2M)."""
    if value is None:
        return "-"
    number = int(value)
    if abs(number) < 10_000:
        return f"{number:,}"
    divisor, suffix = next(pair for pair in ((10**9, "G"), (10**6, "M"), (10**3, "k")) if abs(number) >= pair[0])
    scaled = number / divisor
    text = f"{scaled:.1f}" if abs(scaled) < 100 else f"{scaled:.0f}"
    return text.removesuffix(".0") + suffix


def render_headroom(rate_limits: Mapping[str, Any]) -> Table:
    """One row per model: what the client believes is left in each window, and when it refills."""
    table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
    table.add_column("model", no_wrap=True)
    for spec in _LIVE_WINDOWS:
        table.add_column(f"{spec.name} left", justify="right", no_wrap=True)
    table.add_column("paused", justify="right", no_wrap=True)
    for model, snap in sorted(rate_limits.items())[:_MAX_MODEL_ROWS]:
        paused = snap.paused_for
        table.add_row(
            model,
            *(_pair(getattr(snap, spec.remaining), getattr(snap.limits, spec.field)) for spec in _LIVE_WINDOWS),
            f"{paused:.1f}s" if paused > 0 else "",
        )
    return table


#: The windows every account has (the live view leaves out ITPM and OTPM, which most do not).
_LIVE_WINDOWS: Final = tuple(spec for spec in WINDOWS if spec.kind in ("requests", "tokens"))


_SOURCE_WORDS: Final = {
    "configured": "configured",
    "headers": "response headers",
    "rate-limit": "429 body",
    "request-too-large": "413 body",
    "probe": "unknown: probing",
    "shared": "shared (another worker)",
    "unknown": "unknown",
}


def render_rate_limits(rate_limits: Mapping[str, Any]) -> RenderableType:
    """Per model, one row per window: the limit, what is left, when it is full again, and where the number came from."""
    parts: list[RenderableType] = []
    for model, snap in sorted(rate_limits.items())[:_MAX_MODEL_ROWS]:
        tier = f" (plan: {snap.tier})" if snap.tier else ""
        parts.append(Text(f"{model}{tier}", style="bold"))
        table = Table(box=None, pad_edge=False, header_style="bold", show_edge=False)
        for column, justify in (("window", "left"), ("limit", "right"), ("left", "right"), ("full in", "right")):
            table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
        table.add_column("from", overflow="fold")
        for spec in WINDOWS:
            window, field = spec.name, spec.field
            remaining = getattr(snap, spec.remaining)
            reset = getattr(snap, spec.reset) if spec.reset else None
            limit, source = getattr(snap.limits, field), getattr(snap.sources, field)
            if source == "tier":
                origin = f"{snap.tier or 'plan'} table"
            elif limit is None and source == "unknown" and window in ("ITPM", "OTPM"):
                origin = "unknown (most organizations have none)"
            else:
                origin = _SOURCE_WORDS.get(source, source)
            table.add_row(
                window,
                "-" if limit is None else _count(limit),
                "-" if remaining is None else _count(remaining),
                "" if not reset else f"{reset:.1f}s",
                origin,
            )
        parts.append(table)
    return Group(*parts)


def _pair(remaining: float | None, limit: int | None) -> str:
    if limit is None:
        return "learning" if remaining is None else _count(remaining)
    return f"{_count(remaining)}/{_count(limit)}"


def render_progress(
    sample: ProgressSample,
    stats: Any,
    rate_limits: Mapping[str, Any],
    *,
    input_path: str,
    output_path: str,
    endpoint: str,
    stopping: bool = False,
    note: str | None = None,
) -> RenderableType:
    """The live view: header, progress bar with ETA, counters, rates, and per-model headroom.

    Args:
        sample: the tally's current sample (`BatchTally.sample`).
        stats: ``client.statistics()`` (in flight, waiting for budget, retries, 429s).
        rate_limits: ``client.rate_limits()``, model -> budget snapshot.
        input_path, output_path, endpoint: shown in the header.
        stopping: a signal arrived; in-flight jobs are finishing.
        note: one more line under the header (a Batch API run's rounds and batch statuses).
    """
    header = Text.assemble(
        ("batch ", "bold"), input_path, " → ", output_path, ("  via ", "dim"), (endpoint, "cyan"),
    )
    if stopping:
        header.append("  stopping: finishing in-flight jobs", style="bold yellow")
    total = max(sample.jobs, 1)
    percent = 100.0 * sample.done / total
    bar = Table.grid(padding=(0, 1))
    bar.add_row(
        ProgressBar(total=total, completed=sample.done, width=40),
        Text(f"{sample.done:,}/{sample.jobs:,}  {percent:5.1f}%  ETA {format_duration(sample.eta_seconds)}"),
    )
    counters = Text.assemble(
        ("done ", "dim"), (f"{sample.succeeded:,}", "green"),
        ("  failed ", "dim"), (f"{sample.failed:,}", "red" if sample.failed else ""),
        ("  in flight ", "dim"), f"{stats.in_flight:,}",
        ("  waiting for budget ", "dim"), f"{stats.waiting_for_budget:,}",
        ("  queued ", "dim"), f"{stats.queued:,}",
        ("  retries ", "dim"), f"{stats.retried:,}",
        ("  429s ", "dim"), f"{stats.rate_limited:,}",
    )
    rates = Text.assemble(
        f"{sample.jobs_per_second:,.1f}", (" jobs/s  ", "dim"),
        f"{sample.tokens_per_second:,.0f}", (" tokens/s  ", "dim"),
        ("elapsed ", "dim"), format_duration(sample.elapsed_seconds),
    )
    parts: list[RenderableType] = [header, bar, counters, rates]
    if note:
        parts.insert(1, Text(note, style="cyan"))
    if rate_limits:
        parts.append(render_headroom(rate_limits))
    return Group(*parts)


def render_summary(summary: BatchSummary) -> RenderableType:
    """The final table: outcome counts, errors by code, tokens, throughput, and what to do next."""
    table = Table(title="Batch summary", show_header=False, box=None, title_justify="left", title_style="bold")
    table.add_column(style="dim")
    table.add_column(justify="right")
    table.add_column()
    table.add_row("jobs", f"{summary.jobs:,}", summary.input_path)
    if summary.already_done:
        table.add_row("already done", f"{summary.already_done:,}", "answered by an earlier run")
    table.add_row("succeeded", Text(f"{summary.succeeded:,}", style="green"), "")
    errors = ", ".join(f"{code} {count:,}" for code, count in summary.errors_by_code.items())
    table.add_row("failed", Text(f"{summary.failed:,}", style="red" if summary.failed else ""), errors)
    if summary.malformed:
        table.add_row("  malformed lines", f"{summary.malformed:,}", "")
    if summary.not_run:
        table.add_row("not run", Text(f"{summary.not_run:,}", style="yellow"), "re-run the same command to finish")
    table.add_row(
        "tokens", f"{summary.prompt_tokens + summary.completion_tokens:,}",
        f"prompt {summary.prompt_tokens:,}, completion {summary.completion_tokens:,}",
    )
    table.add_row(
        "throughput", f"{summary.jobs_per_second:,.1f} jobs/s", f"{summary.tokens_per_second:,.0f} tokens/s",
    )
    table.add_row("elapsed", format_duration(summary.elapsed_seconds), f"{summary.elapsed_seconds:.1f} s")
    table.add_row("retries / 429s", f"{summary.retries:,} / {summary.rate_limited:,}", "")
    table.add_row("endpoint", "", summary.endpoint)
    table.add_row("results", "", summary.output_path)
    if summary.repaired_bytes:
        table.add_row("repaired", f"{summary.repaired_bytes:,} B", "torn last line from an earlier crash, removed")
    if summary.stopped_by:
        table.add_row("stopped by", Text(summary.stopped_by, style="red"),
                      "an error about the run itself; jobs not run were not recorded, re-run to resume")
    if summary.interrupted_by:
        table.add_row("interrupted", summary.interrupted_by, "unfinished jobs were not recorded; re-run to resume")
    if summary.via != "live":
        table.add_row("via", summary.via, f"{summary.batches:,} Batch API batch(es) created")
    if summary.cost_usd is not None:
        note = "at the price table's rates"
        if summary.live_cost_usd is not None and summary.live_cost_usd > summary.cost_usd:
            saved = summary.live_cost_usd - summary.cost_usd
            note = f"live calls would cost {format_usd(summary.live_cost_usd)}: saved {format_usd(saved)}"
        done = max(summary.succeeded - summary.unpriced_jobs, 1)
        table.add_row("cost", format_usd(summary.cost_usd), f"{format_usd(summary.cost_usd / done)} a job; {note}")
    if summary.unpriced_jobs:
        table.add_row("  unpriced", f"{summary.unpriced_jobs:,}", "jobs whose model has no price in the table")
    return table

