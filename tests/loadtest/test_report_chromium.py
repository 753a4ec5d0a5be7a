"""Issue 19 item 9: the HTML reports of ``groq-orch bench --report`` and ``groq-orch batch --report``, rendered by
headless Chromium, show their figures (SVG laid out, with the run's data points) and tables (rows with its numbers).

Chromium is Debian's ``chromium`` package. Under CI (the ``CI`` variable set, as ``.ci/run`` does) a missing
browser fails these tests, so they never skip there; elsewhere they skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from orchestrator._cli import main
from tests.loadtest.test_command import FAST, TINY, clear_groq_environment

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync")
#: Added to a copy of the report before rendering (the report itself has no script): it writes what the
#: browser laid out into attributes, so the dumped DOM shows the drawing, not just the markup.
PROBE = """<script>
for (const svg of document.querySelectorAll("svg")) {
  const box = svg.getBoundingClientRect();
  svg.setAttribute("data-rendered", Math.round(box.width) + "x" + Math.round(box.height));
}
for (const mark of document.querySelectorAll("circle.point, rect.bar")) {
  mark.setAttribute("data-drawn", mark.getBoundingClientRect().width > 0 ? "yes" : "no");
}
</script>"""


@pytest.fixture(autouse=True)
def no_groq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key and no base URL: the commands run against the embedded emulator."""
    clear_groq_environment(monkeypatch)


def chromium() -> str:
    """The browser's path; fails under CI when it is missing, skips elsewhere."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it (apt-get install -y chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    return found


class Dom(HTMLParser):
    """The rendered DOM as the tests read it: every element with its attributes and enclosing data-series,
    and every table row's cell texts."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str], str | None]] = []
        self.rows: list[list[str]] = []
        self.text: list[str] = []
        self._series: list[str | None] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "g":
            self._series.append(attributes.get("data-series"))
        current = next((name for name in reversed(self._series) if name), None)
        self.elements.append((tag, attributes, current))
        if tag == "tr":
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "g" and self._series:
            self._series.pop()
        elif tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def find(self, tag: str, **attributes: str) -> list[tuple[dict[str, str], str | None]]:
        """Elements named ``tag`` whose attributes include ``attributes`` (``class_`` for class, ``_`` for ``-``)."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in attributes.items()}
        return [(attrs, series) for name, attrs, series in self.elements
                if name == tag and all(attrs.get(key) == value for key, value in wanted.items())]


def render(report: Path, tmp_path: Path) -> Dom:
    """The report as headless Chromium lays it out (with :data:`PROBE` added to a copy)."""
    browser = chromium()
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [browser, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return Dom(done.stdout)


def self_contained(text: str) -> bool:
    """Nothing to fetch: no script, stylesheet link, image source or URL but the SVG namespace."""
    stripped = text.replace('xmlns="http://www.w3.org/2000/svg"', "")
    return not any(marker in stripped for marker in ("<script", "<link", "src=", "url(", "@import", "http:", "https:"))


def drawn_svgs(dom: Dom) -> list[str]:
    """The laid-out sizes of the charts Chromium drew (at least 300 px wide)."""
    sizes = [attrs.get("data-rendered", "0x0") for attrs, _ in dom.find("svg")]
    return [size for size in sizes if int(size.split("x")[0]) >= 300 and int(size.split("x")[1]) >= 100]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A two-level sweep with --report and --output-dir: the report and the summary it was drawn from."""
    directory = tmp_path_factory.mktemp("bench-report")
    with pytest.MonkeyPatch.context() as monkeypatch:
        clear_groq_environment(monkeypatch)
        code = main(["bench", "--concurrency", "1,2", "--requests", "3", *TINY, "--slo", "ttft=10s", "--output-dir",
                     str(directory), "--report", str(directory / "report.html"), *FAST])
    assert code == 0
    return directory / "report.html", json.loads((directory / "summary.json").read_text())


class TestBenchReport:
    def test_is_self_contained(self, bench_run: tuple[Path, dict[str, Any]]) -> None:
        """The report fetches nothing: no script, link, image source or URL."""
        report, _ = bench_run
        assert self_contained(report.read_text(encoding="utf-8"))

    def test_chromium_draws_every_figure(self, bench_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
        """Chromium lays out the eight charts (throughput, latency, distributions, rate limits), every marker drawn."""
        report, _ = bench_run
        dom = render(report, tmp_path)
        marks = dom.find("circle")
        assert (len(drawn_svgs(dom)), len(marks) > 20, {attrs.get("data-drawn") for attrs, _ in marks}) == (
            8, True, {"yes"})

    def test_points_carry_the_runs_numbers(self, bench_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
        """The throughput chart's points are the levels' request_throughput and goodput from summary.json."""
        report, summary = bench_run
        dom = render(report, tmp_path)
        records = summary["benchmark_serving"]
        plotted = {series: [float(attrs["data-y"]) for attrs, name in dom.find("circle") if name == series]
                   for series in ("requests/s", "goodput requests/s")}
        assert plotted == {
            "requests/s": pytest.approx([r["request_throughput"] for r in records], rel=1e-5),
            "goodput requests/s": pytest.approx([r["request_goodput"] for r in records], rel=1e-5),
        }

    def test_tables_and_verdict_show_the_numbers(self, bench_run: tuple[Path, dict[str, Any]], tmp_path: Path) -> None:
        """The per-level table has a row per level with its requests and completions; the verdict names level 2."""
        report, summary = bench_run
        dom = render(report, tmp_path)
        header = next(row for row in dom.rows if row[:3] == ["level", "requests", "completed"])
        levels = [row for row in dom.rows if len(row) == len(header) and row[0] in ("1", "2")]
        ttft = header.index("median TTFT ms")
        assert ([row[:4] for row in levels], [float(row[ttft].replace(",", "")) for row in levels] == pytest.approx(
            [r["median_ttft_ms"] for r in summary["benchmark_serving"]], rel=0.01),
            "max sustainable concurrency: 2" in "".join(dom.text)) == (
            [["1", "3", "3", "0"], ["2", "3", "3", "0"]], True, True)


class TestBatchReport:
    def test_chromium_draws_the_batch(self, tmp_path: Path) -> None:
        """A finished batch's report shows jobs over time and by outcome, and its summary table with the counts."""
        body = {"model": "openai/gpt-oss-20b", "max_completion_tokens": 8,
                "messages": [{"role": "user", "content": "Hi"}]}
        source = tmp_path / "jobs.jsonl"
        source.write_text("".join(json.dumps({"custom_id": f"j{i}", "body": body}) + "\n" for i in range(6)))
        report = tmp_path / "batch.html"
        code = main(["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--quiet", "--report", str(report)])
        dom = render(report, tmp_path)
        bars = {attrs["data-label"]: float(attrs["data-y"]) for attrs, _ in dom.find("rect", class_="bar")}
        rows = {row[0]: row[1] for row in dom.rows if len(row) == 2}
        assert (code, self_contained(report.read_text(encoding="utf-8")), len(drawn_svgs(dom)),
                bars["succeeded"], bars["failed"], rows["jobs"], rows["succeeded"], rows["exit status"],
                dom.find("circle")[-1][0].get("data-y")) == (0, True, 3, 6.0, 0.0, "6", "6", "0", "6")
