"""The HTML report of a ``groq-orch bench`` run (``--report report.html``): one self-contained file.

It is drawn from the ``summary.json`` document (``orchestrator.loadtest._report.summary_document``), so it
shows exactly what the JSON says: the verdict (the max sustainable level), throughput and goodput by
level, latency percentiles by level, the rate limits over the run (tokens per minute against the TPM
limit, the room left in the TPM and RPM windows, requests in flight, every 429), one table row per level
under vLLM's metric names, and the settings. The per-level statistics, when given, add the latency
distributions (CDFs), which the JSON keeps only as percentiles. The drawing is ``orchestrator._report``'s
inline SVG: no matplotlib, no script, nothing fetched.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

from orchestrator._report import Series, figure, line_chart, page, section, table
from orchestrator.loadtest._capacity import SustainableLevel
from orchestrator.loadtest._metrics import LevelStats
from orchestrator.loadtest._report import level_label

__all__ = ["bench_report"]

#: Points per latency CDF curve: enough for a smooth line, few enough to keep the file small.
_CDF_POINTS: Final = 60
#: A latency spread wider than this (max over min) is drawn on a log axis.
_LOG_SPREAD: Final = 20.0


def _levels_axis(records: Sequence[Mapping[str, Any]], mode: str) -> list[tuple[float, str]]:
    """Levels as evenly spaced categories (a sweep of 1, 2, 4, 8 reads better than on a linear axis)."""
    return [(float(index), level_label(record["level"], mode)) for index, record in enumerate(records)]


def _by_level(records: Sequence[Mapping[str, Any]], key: str) -> list[tuple[float, float | None]]:
    return [(float(index), record.get(key)) for index, record in enumerate(records)]


def _throughput(records: Sequence[Mapping[str, Any]], mode: str, axis_label: str) -> list[str]:
    axis = _levels_axis(records, mode)
    requests = [Series("requests/s", _by_level(records, "request_throughput"))]
    if any(record["request_goodput"] is not None for record in records):
        requests.append(Series("goodput requests/s", _by_level(records, "request_goodput"), dashed=True))
    return [
        figure(line_chart(requests, title="Request throughput and goodput", x_label=axis_label,
                          y_label="requests per second", x_ticks=axis),
               "Completed requests, and those meeting every bound of the objective, per second of each level."),
        figure(line_chart([Series("output tokens/s", _by_level(records, "output_throughput")),
                           Series("total tokens/s", _by_level(records, "total_token_throughput"))],
                          title="Token throughput", x_label=axis_label, y_label="tokens per second", x_ticks=axis),
               "Completion tokens, and prompt plus completion tokens, per second of each level."),
    ]


def _latency(records: Sequence[Mapping[str, Any]], mode: str, axis_label: str) -> list[str]:
    axis = _levels_axis(records, mode)

    def percentiles(*metrics: tuple[str, str]) -> list[Series]:
        """p50 solid and p99 dashed, one colour per metric."""
        return [Series(f"{name} {stat}", _by_level(records, f"{key}_{metric}_ms"), dashed=stat == "p99", colour=index)
                for index, (metric, name) in enumerate(metrics) for stat, key in (("p50", "median"), ("p99", "p99"))]

    first = percentiles(("ttft", "TTFT"), ("e2el", "E2E"))
    tokens = percentiles(("tpot", "TPOT"), ("itl", "ITL"))
    return [
        figure(line_chart(first, title="Time to first token and end-to-end latency", x_label=axis_label,
                          y_label="ms", x_ticks=axis),
               "Median and 99th percentile per level; TTFT includes the time the client held a request for budget."),
        figure(line_chart(tokens, title="Time per output token and inter-token latency", x_label=axis_label,
                          y_label="ms", x_ticks=axis),
               "TPOT excludes the first token; ITL is the gap between streamed chunks."),
    ]


def _distributions(stats: Sequence[LevelStats], mode: str) -> list[str]:
    charts = []
    for title, pick in (("TTFT", lambda level: level.latency["ttft_s"]), ("E2E", lambda level: level.latency["e2e_s"])):
        series = [Series(level_label(level.level, mode),
                         [(value * 1000, share) for value, share in pick(level).cdf(_CDF_POINTS)], markers=False)
                  for level in stats]
        values = [x for line in series for x, _ in line.points if x > 0]
        wide = bool(values) and max(values) > _LOG_SPREAD * min(values)
        charts.append(figure(
            line_chart(series, title=f"{title} distribution by level", x_label="ms" + (" (log scale)" if wide else ""),
                       y_label="share of requests", log_x=wide),
            f"The share of a level's completed requests whose {title} is at most x."))
    return charts


def _timeline(timeline: Sequence[Mapping[str, Any]]) -> list[str]:
    def pick(key: str) -> list[tuple[float, float | None]]:
        return [(point["t_s"], point.get(key)) for point in timeline]

    limited = [(point["t_s"], point["tokens_per_minute"]) for before, point in zip(timeline, timeline[1:])
               if point["rate_limited"] > before["rate_limited"]]
    tokens = [Series("tokens/min (last 60 s)", pick("tokens_per_minute")),
              Series("TPM limit", pick("tpm_limit"), step=True, dashed=True),
              Series("TPM room left", pick("tokens_remaining"))]
    if limited:
        tokens.append(Series("429 received", limited, connect=False))
    requests = [Series("RPM room left", pick("requests_remaining")),
                Series("RPM limit", pick("rpm_limit"), step=True, dashed=True),
                Series("requests in flight", pick("in_flight"))]
    label = "seconds since the start (endpoint clock)"
    return [
        figure(line_chart(tokens, title="Tokens per minute against the TPM limit", x_label=label, y_label="tokens"),
               "Tokens of finished requests over the last minute, the limit the client believed in, and the room "
               "it saw left in the TPM window; markers show 429 answers."),
        figure(line_chart(requests, title="Requests: RPM room left and requests in flight", x_label=label,
                          y_label="requests"),
               "The room the client saw left in the RPM window, the RPM limit, and the requests it had in flight."),
    ]


def _level_table(records: Sequence[Mapping[str, Any]], mode: str) -> str:
    columns = (
        ("level", None), ("requests", "num_prompts"), ("completed", "completed"), ("failed", "failed"),
        ("req/s", "request_throughput"), ("goodput req/s", "request_goodput"), ("output tok/s", "output_throughput"),
        ("mean TTFT ms", "mean_ttft_ms"), ("median TTFT ms", "median_ttft_ms"), ("p99 TTFT ms", "p99_ttft_ms"),
        ("median TPOT ms", "median_tpot_ms"), ("median ITL ms", "median_itl_ms"), ("median E2EL ms", "median_e2el_ms"),
        ("p99 E2EL ms", "p99_e2el_ms"), ("429/1k", "rate_limited_per_1k"), ("498/1k", "capacity_exceeded_per_1k"),
        ("TPM use", "tpm_share"), ("sustainable", "sustainable"),
    )
    rows = []
    for record in records:
        cells: list[object] = [level_label(record["level"], mode)]
        for _, key in columns[1:]:
            value = record.get(key)
            cells.append(f"{value:.0%}" if key == "tpm_share" and value is not None else value)
        rows.append(cells)
    return table([name for name, _ in columns], rows)


def _setting(value: Any) -> object:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{key}={item}" for key, item in value.items() if item is not None)
    return value


def bench_report(document: Mapping[str, Any], *, stats: Sequence[LevelStats] = ()) -> str:
    """The report page of one run.

    Args:
        document: the run's ``summary.json`` content.
        stats: the run's per-level statistics, for the latency distributions (left out when empty, as for
            a report drawn from a saved ``summary.json``).
    """
    settings = document["settings"]
    mode = settings["mode"]
    records = document["benchmark_serving"]
    axis_label = "requests per second offered" if mode == "rate" else "concurrent requests"
    best = msgspec.convert(document["max_sustainable"], SustainableLevel)
    verdict = best.describe("" if best.level is None else level_label(best.level, mode))
    sections = [
        f'<p class="verdict">{html.escape(verdict)}</p>',
        section("Throughput and goodput", *_throughput(records, mode, axis_label)),
        section("Latency", *_latency(records, mode, axis_label), *(_distributions(stats, mode) if stats else ())),
        section("Rate limits over the run", *_timeline(document["timeline"])),
        section("Results by level (vLLM benchmark_serving names)", _level_table(records, mode)),
        section("Settings", table(("setting", "value"), [(name, _setting(value)) for name, value in settings.items()])),
    ]
    clock = document["clock"]["time_scale"]
    lead = (f"{settings['model']} at {document['endpoint']}, started {document['started_at']}, "
            f"{document['tool']} {document['version']}; clock x{clock:g}"
            + (" (times are endpoint seconds)" if clock != 1 else " (real seconds)") + ".")
    return page(f"groq-orch bench: {settings['model']}", lead, sections)
