"""PNG plots of a ``groq-orch bench`` run (matplotlib, Agg backend, no pyplot state).

matplotlib is an optional dependency (``pip install 'groq-orchestrator[bench]'``): importing this module
raises ``ImportError`` without it, and the command then writes everything else and says how to get the
plots. Three figures:

* ``latency.png``: the distribution (CDF) of TTFT, ITL, TPOT and E2E, one line per level;
* ``throughput.png``: request and output-token throughput (and goodput) against the level;
* ``tokens_per_minute.png``: tokens per minute over the run against the TPM limit the client believed
  in, with each level shaded and every 429 marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from orchestrator.loadtest._metrics import LevelStats, LevelSummary
from orchestrator.loadtest._report import level_label
from orchestrator.loadtest._run import BenchResult, TimelinePoint

__all__ = ["PLOT_FILES", "write_plots"]

#: The files :func:`write_plots` writes, in order.
PLOT_FILES: Final = ("latency.png", "throughput.png", "tokens_per_minute.png")
_DPI: Final = 110


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.savefig(path, dpi=_DPI)
    return path


def _latency(stats: Sequence[LevelStats], mode: str, title: str) -> Figure:
    figure = Figure(figsize=(11, 8), layout="constrained")
    figure.suptitle(f"Latency distributions: {title}")
    metrics = (
        ("TTFT", lambda s: s.latency["ttft_s"]),
        ("ITL", lambda s: s.itl),
        ("TPOT", lambda s: s.latency["tpot_s"]),
        ("E2E", lambda s: s.latency["e2e_s"]),
    )
    for position, (name, pick) in enumerate(metrics, start=1):
        axes = figure.add_subplot(2, 2, position)
        for level in stats:
            curve = pick(level).cdf()
            if curve:
                axes.plot([value * 1000 for value, _ in curve], [share for _, share in curve],
                          label=level_label(level.level, mode))
        axes.set_title(name)
        values = [x for line in axes.lines for x in line.get_xdata() if x > 0]
        if values and max(values) > 20 * min(values):
            axes.set_xscale("log")  # waits for rate budget stretch the tail over decades
        axes.set_xlabel("ms")
        axes.set_ylabel("share of requests" if name != "ITL" else "share of gaps")
        axes.set_ylim(0, 1.02)
        axes.grid(alpha=0.3)
        if axes.lines:
            axes.legend(title="rate" if mode == "rate" else "concurrency", fontsize="small")
    return figure


def _throughput(summaries: Sequence[LevelSummary], mode: str, title: str) -> Figure:
    figure = Figure(figsize=(9, 5.5), layout="constrained")
    axes = figure.add_subplot()
    levels = [float(summary.level) for summary in summaries]
    requests = [summary.request_throughput or 0.0 for summary in summaries]
    axes.plot(levels, requests, marker="o", color="tab:blue", label="requests/s")
    if any(summary.goodput is not None for summary in summaries):
        goodput = [summary.goodput.per_second or 0.0 if summary.goodput else 0.0 for summary in summaries]
        axes.plot(levels, goodput, marker="o", linestyle="--", color="tab:green", label="goodput requests/s")
    axes.set_xlabel("requests per second offered" if mode == "rate" else "concurrent requests")
    axes.set_ylabel("requests/s")
    axes.set_xticks(levels, [level_label(summary.level, mode) for summary in summaries])
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    tokens = axes.twinx()
    tokens.plot(levels, [summary.output_token_throughput or 0.0 for summary in summaries], marker="s",
                color="tab:orange", label="output tokens/s")
    tokens.set_ylabel("output tokens/s")
    tokens.set_ylim(bottom=0)
    handles = axes.get_legend_handles_labels()
    more = tokens.get_legend_handles_labels()
    axes.legend(handles[0] + more[0], handles[1] + more[1], loc="upper left")
    axes.set_title(f"Throughput vs {'request rate' if mode == 'rate' else 'concurrency'}: {title}")
    return figure


def _level_spans(timeline: Sequence[TimelinePoint]) -> list[tuple[int | float, float, float]]:
    """``(level, first t, last t)`` for each run of consecutive samples at one level."""
    spans: list[tuple[int | float, float, float]] = []
    for point in timeline:
        if spans and spans[-1][0] == point.level:
            spans[-1] = (point.level, spans[-1][1], point.t_s)
        else:
            if spans:  # a level's span reaches the next one's first sample
                spans[-1] = (spans[-1][0], spans[-1][1], point.t_s)
            spans.append((point.level, point.t_s, point.t_s))
    return spans


def _tokens_per_minute(timeline: Sequence[TimelinePoint], mode: str, title: str) -> Figure:
    figure = Figure(figsize=(11, 5.5), layout="constrained")
    axes = figure.add_subplot()
    times = [point.t_s for point in timeline]
    axes.plot(times, [point.tokens_per_minute for point in timeline], color="tab:blue", label="tokens/min (last 60 s)")
    if any(point.tpm_limit is not None for point in timeline):
        axes.step(times, [point.tpm_limit if point.tpm_limit is not None else float("nan") for point in timeline],
                  where="post", color="tab:red", linestyle="--", label="TPM limit")
    limited = [(point.t_s, point.tokens_per_minute) for before, point in zip(timeline, timeline[1:])
               if point.rate_limited > before.rate_limited]
    if limited:
        axes.scatter([t for t, _ in limited], [v for _, v in limited], color="black", marker="x", zorder=3,
                     label="429 received")
    for number, (level, begin, end) in enumerate(_level_spans(timeline)):
        axes.axvspan(begin, end, alpha=0.16 if number % 2 == 0 else 0.08, color="tab:gray")
        axes.text(begin, 0.98, f" {level_label(level, mode)}", fontsize="small", va="top",
                  transform=axes.get_xaxis_transform())
    axes.set_xlabel("seconds since start (endpoint clock)")
    axes.set_ylabel("tokens per minute")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    axes.set_title(f"Tokens per minute vs the TPM limit: {title}")
    return figure


def write_plots(result: BenchResult, *, mode: str, directory: Path, title: str) -> list[Path]:
    """Write the three PNG files into ``directory`` and return their paths."""
    return [
        _save(_latency(result.stats, mode, title), directory / PLOT_FILES[0]),
        _save(_throughput(result.levels, mode, title), directory / PLOT_FILES[1]),
        _save(_tokens_per_minute(result.timeline, mode, title), directory / PLOT_FILES[2]),
    ]
