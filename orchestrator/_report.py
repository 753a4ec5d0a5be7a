"""Self-contained HTML reports: one file holding its figures (inline SVG drawn here) and tables.

A report is something to attach to an issue or keep beside the results, and open years later, offline, on
a machine without this package. So it carries everything itself: no script, no stylesheet or font to
fetch, no CDN, no image files; the figures are SVG drawn by :func:`line_chart` and :func:`bar_chart`
rather than matplotlib PNGs, so that they need no optional extra, stay sharp at any zoom, and their
numbers remain in the document (every plotted point is an element with its values in ``data-x`` /
``data-y`` and a ``<title>`` the browser shows on hover).

Layout: :func:`page` wraps ``<section>`` blocks (:func:`section`) made of figures (:func:`figure`), tables
(:func:`table`) and paragraphs. ``groq-orch bench --report`` builds its page in
``orchestrator.loadtest._html``; ``groq-orch batch --report`` builds its own with :func:`batch_report`.
Every text that reaches the page goes through :func:`html.escape`. Everything here is pure but
:func:`write_batch_report`, which reads the batch's results file for its timeline and writes the page.
"""

from __future__ import annotations

import collections
import html
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final, NamedTuple

import msgspec

if TYPE_CHECKING:
    from orchestrator.batch._summary import BatchSummary

__all__ = [
    "Series",
    "bar_chart",
    "batch_report",
    "completion_times",
    "completions_by_second",
    "figure",
    "format_number",
    "line_chart",
    "nice_ticks",
    "page",
    "section",
    "table",
    "write_batch_report",
]

#: Colour-blind-safe series colours (Okabe & Ito), in the order series get them.
PALETTE: Final = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#f0e442", "#000000")
#: Past this many points a series is drawn as a bare line: markers would hide it (a long timeline).
MAX_MARKERS: Final = 200
_WIDTH: Final = 760
_HEIGHT: Final = 330
_MARGIN: Final = (46, 20, 52, 72)  # top, right, bottom, left
_STYLE: Final = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       color: #1f2328; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 2em; }
p.lead { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; margin: 0.8em 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #d1d9e0; padding: 0.3em 0.7em; text-align: right; white-space: nowrap; }
th:first-child, td:first-child { text-align: left; } th { background: #f6f8fa; }
div.wide { overflow-x: auto; } figure.chart { margin: 1em 0; } figure.chart svg { max-width: 100%; height: auto; }
figcaption { color: #59636e; font-size: 0.9em; }
.verdict { font-size: 1.1em; padding: 0.6em 0.9em; background: #f6f8fa; border-left: 4px solid #0072b2; }
"""


class Series(NamedTuple):
    """One plotted line: ``(x, y)`` points in order; a None ``y`` breaks the line (nothing known there).

    ``step`` draws it as a staircase (a limit that holds until it changes); ``markers`` marks every
    point (automatic: when the series has at most :data:`MAX_MARKERS` points); ``dashed`` for references;
    ``connect=False`` draws the markers alone (events, such as the 429s of a run); ``colour`` picks a
    :data:`PALETTE` index (default: the series' position), so that related lines share one.
    """

    name: str
    points: Sequence[tuple[float, float | None]]
    step: bool = False
    dashed: bool = False
    markers: bool | None = None
    connect: bool = True
    colour: int | None = None


def format_number(value: float | None, digits: int = 2) -> str:
    """``1,234``, ``3``, ``12.35``, ``0.0042``: whole numbers bare, others to ``digits`` places (or significant
    digits below 1); ``-`` for None."""
    if value is None or not math.isfinite(value):
        return "-"
    if isinstance(value, int) or abs(value) >= 1000 or float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.{digits}f}"
    return f"{value:.{digits}g}"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2 or 5 times a power of ten) covering ``[low, high]``."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in (1, 2, 5, 10) if factor * power >= raw)
    first = math.floor(low / step) * step
    count = math.ceil((high - first) / step - 1e-9)
    return [round(first + index * step, 12) for index in range(count + 1)]


class _Scale(NamedTuple):
    """Maps data values to pixels along one axis (linear, or log10 for a wide range)."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value: float) -> float:
        low, high, value = (
            (math.log10(self.low), math.log10(self.high), math.log10(max(value, self.low)))
            if self.log else (self.low, self.high, value)
        )
        share = 0.5 if high == low else (value - low) / (high - low)
        return self.start + share * (self.end - self.start)


def _log_ticks(low: float, high: float) -> list[float]:
    ticks = []
    for power in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for factor in (1, 2, 5):
            tick = factor * 10.0**power
            if low <= tick <= high:
                ticks.append(tick)
    return ticks or [low, high]


def _attribute(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _frame(title: str, x_label: str, y_label: str) -> list[str]:
    top, right, bottom, left = _MARGIN
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
        f'width="{_WIDTH}" height="{_HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        f"<title>{html.escape(title)}</title>",
        f'<rect x="0" y="0" width="{_WIDTH}" height="{_HEIGHT}" fill="#ffffff"/>',
        f'<text x="{left}" y="22" font-size="15" font-weight="600">{html.escape(title)}</text>',
        f'<text x="{(left + _WIDTH - right) / 2}" y="{_HEIGHT - 10}" font-size="12" text-anchor="middle">'
        f"{html.escape(x_label)}</text>",
        f'<text transform="translate(16 {(top + _HEIGHT - bottom) / 2}) rotate(-90)" font-size="12" '
        f'text-anchor="middle">{html.escape(y_label)}</text>',
    ]


def _axes(x: _Scale, y: _Scale, x_ticks: Iterable[tuple[float, str]], y_ticks: Iterable[float]) -> list[str]:
    parts = ['<g class="axes" font-size="11" fill="#59636e" stroke-width="1">']
    for value in y_ticks:
        pixel = _attribute(y(value))
        parts.append(f'<line x1="{x.start}" x2="{x.end}" y1="{pixel}" y2="{pixel}" stroke="#e6eaef"/>')
        parts.append(f'<text x="{x.start - 6}" y="{pixel}" dy="0.32em" text-anchor="end">'
                     f"{html.escape(format_number(value))}</text>")
    for value, label in x_ticks:
        pixel = _attribute(x(value))
        parts.append(f'<line x1="{pixel}" x2="{pixel}" y1="{y.start}" y2="{y.start + 5}" stroke="#59636e"/>')
        parts.append(f'<text x="{pixel}" y="{y.start + 18}" text-anchor="middle">{html.escape(label)}</text>')
    parts.append(f'<line x1="{x.start}" x2="{x.end}" y1="{y.start}" y2="{y.start}" stroke="#59636e"/>')
    parts.append(f'<line x1="{x.start}" x2="{x.start}" y1="{y.start}" y2="{y.end}" stroke="#59636e"/>')
    parts.append("</g>")
    return parts


def _segments(series: Series) -> list[list[tuple[float, float]]]:
    """The runs of known points (a None ``y`` ends one), stepped when the series is a staircase."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x_value, y_value in series.points:
        if y_value is None or not math.isfinite(y_value):
            if runs[-1]:
                runs.append([])
            continue
        run = runs[-1]
        if series.step and run:
            run.append((x_value, run[-1][1]))
        run.append((x_value, y_value))
    return [run for run in runs if run]


def _colour(series: Series, index: int) -> str:
    return PALETTE[(index if series.colour is None else series.colour) % len(PALETTE)]


def _legend(series: Sequence[Series], right_edge: float) -> list[str]:
    parts = ['<g class="legend" font-size="11">']
    x = right_edge
    for index in reversed(range(len(series))):
        line = series[index]
        x -= 32 + 6.4 * len(line.name)
        dash = ' stroke-dasharray="4 3"' if line.dashed else ""
        parts.append(f'<line x1="{_attribute(x)}" x2="{_attribute(x + 14)}" y1="33" y2="33" stroke-width="3" '
                     f'stroke="{_colour(line, index)}"{dash}/>')
        parts.append(f'<text x="{_attribute(x + 18)}" y="37">{html.escape(line.name)}</text>')
    parts.append("</g>")
    return parts


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_ticks: Sequence[tuple[float, str]] | None = None,
    log_x: bool = False,
) -> str:
    """An SVG line chart of ``series`` (y from 0 up, unless values are negative).

    Args:
        series: the lines, coloured from :data:`PALETTE` in order.
        title, x_label, y_label: the texts around the plot.
        x_ticks: ``(x, label)`` ticks to use (categories: levels of a sweep); default round numbers.
        log_x: a log10 x axis (positive x only), for values spread over decades such as latency CDFs.
    """
    top, right, bottom, left = _MARGIN
    xs = [x for line in series for x, y in line.points if y is not None and (not log_x or x > 0)]
    ys = [y for line in series for _, y in line.points if y is not None and math.isfinite(y)]
    parts = _frame(title, x_label, y_label)
    if not xs or not ys:
        parts.append(f'<text x="{_WIDTH / 2}" y="{_HEIGHT / 2}" text-anchor="middle" fill="#59636e">'
                     "nothing measured</text></svg>")
        return "\n".join(parts)
    x_low, x_high = min(xs), max(xs)
    if x_ticks:
        x_low, x_high = min(x_low, *(tick for tick, _ in x_ticks)), max(x_high, *(tick for tick, _ in x_ticks))
    if x_low == x_high:
        x_low, x_high = (x_low / 2, x_high * 2) if log_x else (x_low - 1, x_high + 1)
    y_values = nice_ticks(min(0.0, min(ys)), max(ys) * 1.05 if max(ys) > 0 else 1.0)
    x = _Scale(x_low, x_high, left, _WIDTH - right, log=log_x)
    y = _Scale(y_values[0], y_values[-1], _HEIGHT - bottom, top)
    ticks = list(x_ticks) if x_ticks else [
        (value, format_number(value)) for value in (_log_ticks(x_low, x_high) if log_x else nice_ticks(x_low, x_high))
        if x_low <= value <= x_high
    ]
    parts.extend(_axes(x, y, ticks, y_values))
    for index, line in enumerate(series):
        colour = _colour(line, index)
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        parts.append(f'<g class="series" data-series="{html.escape(line.name)}">')
        for run in _segments(line) if line.connect else ():
            coordinates = " ".join(f"{_attribute(x(px))},{_attribute(y(py))}" for px, py in run)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{coordinates}"/>')
        known = [(px, py) for px, py in line.points if py is not None and math.isfinite(py)]
        markers = line.markers if line.markers is not None else len(known) <= MAX_MARKERS
        if markers or not line.connect:
            for px, py in known:
                parts.append(
                    f'<circle class="point" cx="{_attribute(x(px))}" cy="{_attribute(y(py))}" r="3.5" '
                    f'fill="{colour}" data-x="{px:.10g}" data-y="{py:.10g}"><title>{html.escape(line.name)}: '
                    f"{html.escape(format_number(px))}, {html.escape(format_number(py))}</title></circle>"
                )
        parts.append("</g>")
    parts.extend(_legend(series, _WIDTH - right))
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(bars: Sequence[tuple[str, float]], *, title: str, y_label: str) -> str:
    """An SVG bar chart: one labelled bar per ``(label, value)``, values 0 or more."""
    top, right, bottom, left = _MARGIN
    parts = _frame(title, "", y_label)
    y_values = nice_ticks(0.0, max((value for _, value in bars), default=1.0) * 1.05 or 1.0)
    y = _Scale(y_values[0], y_values[-1], _HEIGHT - bottom, top)
    slot = (_WIDTH - right - left) / max(len(bars), 1)
    x = _Scale(0.0, float(len(bars)), left, _WIDTH - right)
    parts.extend(_axes(x, y, [(index + 0.5, label) for index, (label, _) in enumerate(bars)], y_values))
    for index, (label, value) in enumerate(bars):
        height = y.start - y(value)
        parts.append(
            f'<rect class="bar" x="{_attribute(left + slot * (index + 0.2))}" y="{_attribute(y(value))}" '
            f'width="{_attribute(slot * 0.6)}" height="{_attribute(height)}" fill="{PALETTE[index % len(PALETTE)]}" '
            f'data-label="{html.escape(label)}" data-y="{value:.10g}"><title>{html.escape(label)}: '
            f"{html.escape(format_number(value))}</title></rect>"
        )
    parts.append("</svg>")
    return "\n".join(parts)


def figure(svg: str, caption: str) -> str:
    """A chart with its caption."""
    return f'<figure class="chart">\n{svg}\n<figcaption>{html.escape(caption)}</figcaption>\n</figure>'


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return format_number(value)
    return str(value)


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, caption: str | None = None) -> str:
    """An HTML table; cells are formatted with :func:`format_number` when numbers, escaped always."""
    head = "".join(f"<th>{html.escape(header)}</th>" for header in headers)
    body = ["<tr>" + "".join(f"<td>{html.escape(_cell(cell))}</td>" for cell in row) + "</tr>" for row in rows]
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'<div class="wide"><table>{title}<thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table></div>")


def section(title: str, *parts: str) -> str:
    """A titled block of the page: figures, tables and paragraphs (already HTML)."""
    return f"<section>\n<h2>{html.escape(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def page(title: str, lead: str, sections: Sequence[str]) -> str:
    """The whole document: a title, a lead line under it, then the sections; styles inline, nothing fetched."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p class=\"lead\">{html.escape(lead)}</p>\n"
        + "\n".join(sections)
        + "\n</body>\n</html>\n"
    )


# ------------------------------------------------------------------------------ batch


class _CreatedView(msgspec.Struct):
    """Decodes only ``response.body.created`` of a result line (the completion's Unix time), nothing else."""

    response: _ResponseView | None = None


class _ResponseView(msgspec.Struct):
    body: _BodyView | None = None


class _BodyView(msgspec.Struct):
    created: int | None = None


def completion_times(results: Path, count: int) -> list[int]:
    """The ``created`` times (Unix seconds, the server's clock) of the completions among the last ``count``
    lines of a results file: this run's, since a run appends to what earlier runs wrote. Failed lines have
    none. Memory is bounded by ``count``."""
    decode = msgspec.json.Decoder(_CreatedView).decode
    tail: collections.deque[bytes] = collections.deque(maxlen=max(count, 0))
    with results.open("rb") as lines:
        tail.extend(line for line in lines if line.strip())
    times = []
    for line in tail:
        try:
            view = decode(line)
        except msgspec.DecodeError:
            continue
        body = None if view.response is None else view.response.body
        if body is not None and body.created is not None:
            times.append(body.created)
    return sorted(times)


def completions_by_second(times: Sequence[int]) -> list[tuple[float, int]]:
    """``(seconds since the first completion, completions so far)`` at each second a completion has."""
    counts = collections.Counter(times)
    start = min(counts, default=0)
    done = 0
    points = []
    for second in sorted(counts):
        done += counts[second]
        points.append((float(second - start), done))
    return points


def write_batch_report(path: Path, summary: BatchSummary) -> None:
    """Write the report of a finished batch to ``path``, its timeline read from the results file.

    The run's tally keeps only a few seconds of samples (what the live rates need), so the timeline comes
    from what every runner (live, Batch API, Ray) writes anyway: the ``created`` stamp the server puts on each
    completion, to the second, on its own clock.
    """
    this_run = summary.succeeded + summary.failed
    timeline = completions_by_second(completion_times(Path(summary.output_path), this_run)) if this_run else []
    path.write_text(batch_report(summary, done_over_time=timeline), encoding="utf-8")


def batch_report(summary: BatchSummary, *, done_over_time: Sequence[tuple[float, int]] = ()) -> str:
    """The page of a finished ``groq-orch batch``: outcome and token figures, the summary table, errors.

    Args:
        summary: the run's `BatchSummary`.
        done_over_time: ``(seconds, completions so far)`` points (:func:`completions_by_second`); without them the
            page has no timeline, and the figures and summary table say what happened.
    """
    outcome = [("succeeded", summary.succeeded), ("failed", summary.failed)]
    if summary.already_done:
        outcome.insert(0, ("already done", summary.already_done))
    if summary.not_run:
        outcome.append(("not run", summary.not_run))
    figures = [
        figure(bar_chart([(label, float(count)) for label, count in outcome], title="Jobs by outcome",
                         y_label="jobs"),
               f"{summary.jobs:,} jobs in {summary.input_path}; this run wrote {summary.succeeded + summary.failed:,} "
               "result lines."),
        figure(bar_chart([("prompt", float(summary.prompt_tokens)), ("completion", float(summary.completion_tokens))],
                         title="Tokens used by this run", y_label="tokens"),
               "Usage the server reported for this run's successes."),
    ]
    if done_over_time:
        figures.insert(0, figure(
            line_chart([Series("completions", [(t, float(done)) for t, done in done_over_time], step=True)],
                       title="Jobs done over time", x_label="seconds since the first completion (server clock)",
                       y_label="completed jobs"),
            "This run's completions by the time the server stamped on each (its created field, to the second)."))
    rows: list[tuple[str, object]] = [
        ("jobs", summary.jobs), ("already done", summary.already_done), ("succeeded", summary.succeeded),
        ("failed", summary.failed), ("malformed lines", summary.malformed), ("not run", summary.not_run),
        ("prompt tokens", summary.prompt_tokens), ("completion tokens", summary.completion_tokens),
        ("jobs per second", summary.jobs_per_second), ("tokens per second", summary.tokens_per_second),
        ("elapsed seconds", summary.elapsed_seconds), ("retries", summary.retries), ("429s", summary.rate_limited),
        ("via", summary.via), ("Batch API batches", summary.batches), ("cost (USD)", summary.cost_usd),
        ("as live calls (USD)", summary.live_cost_usd), ("interrupted by", summary.interrupted_by),
        ("stopped by", summary.stopped_by), ("exit status", summary.exit_code),
    ]
    sections = [
        section("Outcome", *figures),
        section("Summary", table(("", "value"), rows)),
    ]
    if summary.errors_by_code:
        sections.append(section("Errors by code", table(("code", "jobs"), summary.errors_by_code.items())))
    state = "complete" if summary.complete else f"{summary.not_run:,} jobs not run yet: re-run the same command"
    lead = f"{summary.input_path} -> {summary.output_path} via {summary.endpoint}: {state}."
    return page("groq-orch batch report", lead, sections)
