"""Run the benchmark suites: every registered one, or ``--only`` some; full sizes, or ``--quick``.

Each suite is a script in ``bench/`` with a ``main(argv) -> dict`` that prints its tables and
writes its JSON to ``--json PATH``. This runner starts each in its own interpreter (so one
suite's memory, caches and event-loop state never colour another's numbers), passes it the
sizes of the chosen mode, shows its output as it comes, and keeps it:

- full sizes: ``bench/results/<suite>.json`` and ``<suite>.txt``, then ``bench/results/LATEST.md``
  is rebuilt from the latest full run of every suite, each section with the machine it ran on;
- ``--quick``: the same under ``bench/results/quick/`` (LATEST.md holds full runs only);
- ``--tiny``: the smallest sizes (what ``tests/bench`` runs), under ``bench/results/tiny/``.

``--results DIR`` puts all of it somewhere else.

``--quick`` is a smoke check of the whole suite (about three minutes on a 2-core machine); its
numbers are real but noisy, since the samples are small.

Adding a suite is one line in :data:`SUITES`.

Usage::

    python bench/run.py                       # every suite, full sizes
    python bench/run.py --quick               # every suite, small sizes
    python bench/run.py --only overhead --only stream
    python bench/run.py --list
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BENCH: Final = Path(__file__).resolve().parent
RESULTS: Final = BENCH / "results"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

from _common import machine_line  # noqa: E402


@dataclass(frozen=True)
class Suite:
    """One benchmark script and the arguments it takes at each size.

    ``script`` is a file in ``bench/`` whose ``main(argv)`` accepts ``--json PATH`` and returns
    the dict it writes there (with at least ``benchmark``, ``parameters`` and ``targets``).
    ``full`` is empty when the script's defaults are the full sizes. ``tiny`` is what the
    smoke test (``tests/bench``) runs: the smallest run that still exercises every path.
    """

    script: str
    summary: str
    quick: tuple[str, ...]
    tiny: tuple[str, ...]
    full: tuple[str, ...] = ()


#: Every suite, in the order they run. One line each.
SUITES: Final[dict[str, Suite]] = {
    "overhead": Suite(
        "overhead.py",
        "per-call overhead of a non-streaming call: ours vs AsyncGroq vs AsyncOpenAI vs httpx+msgspec vs the transport",
        quick=("--calls", "2000", "--warmup", "200", "--rounds", "1", "--concurrent-calls", "2000"),
        tiny=("--calls", "30", "--warmup", "5", "--rounds", "1", "--concurrency", "10", "--concurrent-calls", "40"),
    ),
    "stream": Suite(
        "stream.py",
        "a 100,000-token SSE stream: chunks/s, time from a chunk's bytes to the caller, peak RSS growth",
        quick=("--tokens", "20000", "--rounds", "1", "--probes", "5", "--rss-tokens", "20000"),
        tiny=("--tokens", "500", "--rounds", "1", "--probes", "2", "--rss-tokens", "1000"),
    ),
    "memory": Suite(
        "memory.py",
        "RSS of a 100,000-token stream and of 10,000 queued jobs, each in a fresh process",
        quick=("--tokens", "20000", "--jobs", "2000"),
        tiny=("--tokens", "1000", "--jobs", "50"),
    ),
    "scale": Suite(
        "scale.py",
        "1k / 10k / 50k queued jobs: memory per job, scheduler dispatch rate, growth with the number of jobs",
        quick=("--sizes", "1000,5000"),
        tiny=("--sizes", "100,200"),
    ),
    "emulator": Suite(
        "emulator.py",
        "load one emulator process takes: non-streaming requests/s and 500 concurrent streams",
        quick=("--duration", "2", "--streams", "100", "--stream-tokens", "100", "--paced-tokens", "25"),
        tiny=(
            "--duration", "0.3", "--load-procs", "1", "--connections", "2", "--streams", "4",
            "--stream-tokens", "10", "--paced-tps", "200", "--paced-tokens", "5", "--warmup", "5", "--start-delay", "1",
        ),
    ),
    "ratelimit": Suite("ratelimit.py", "five workloads (base, unknown limits, two models, generous caps, developer tier) through time-scaled limits on a loopback emulator: ours vs AsyncGroq vs the parallel processor vs ours learning the limits", quick=("--quick",), tiny=("--jobs", "20", "--time-scale", "600")),
}  # fmt: skip


SIZES: Final = ("full", "quick", "tiny")


def size_args(suite: Suite, size: str) -> tuple[str, ...]:
    """The arguments that run ``suite`` at ``size`` (one of :data:`SIZES`)."""
    return {"full": suite.full, "quick": suite.quick, "tiny": suite.tiny}[size]


def run_suite(name: str, suite: Suite, size: str, folder: Path) -> tuple[int, str, float]:
    """Run one suite in its own interpreter, echoing its output; ``(exit code, output, seconds)``.

    It writes ``<name>.json`` into ``folder`` and, if it succeeds, ``<name>.txt``: a header line
    (when, on what machine, how long) and the command, then everything it printed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    arguments = size_args(suite, size)
    command = [sys.executable, str(BENCH / suite.script), *arguments, "--json", str(folder / f"{name}.json")]
    started = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    seconds = time.perf_counter() - started
    output = "".join(line for line in lines if not line.startswith("wrote "))
    if process.returncode == 0:
        stamp = time.strftime("%Y-%m-%d %H:%M")
        shown = " ".join(("python", f"bench/{suite.script}", *arguments))
        (folder / f"{name}.txt").write_text(
            f"{stamp}; {machine_line()}; {seconds:.0f} s\n$ {shown}\n{output}", encoding="utf-8"
        )
    return process.returncode, output, seconds


def write_latest(folder: Path) -> Path:
    """Rebuild ``folder/LATEST.md`` from the latest full run of every registered suite there."""
    sections = [
        "# Latest full benchmark tables\n",
        "Written by `python bench/run.py` (full sizes) from the last full run of each suite; each section\n"
        "starts with when, on what machine, and with which command it ran. See `bench/README.md`.\n",
    ]
    for name in SUITES:
        text_path = folder / f"{name}.txt"
        if not text_path.exists():
            continue
        header, command, body = text_path.read_text(encoding="utf-8").split("\n", 2)
        sections.append(f"## {name}\n\n{header}\n\n```\n{command}\n{body.strip()}\n```\n")
    latest = folder / "LATEST.md"
    latest.write_text("\n".join(sections), encoding="utf-8")
    return latest


def main(argv: list[str] | None = None) -> int:
    """Run the chosen suites; the exit code is 1 if any of them failed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small sizes: a smoke check of every suite in ~3 min")
    sizes.add_argument("--tiny", action="store_true", help="the smallest sizes (the smoke test's); numbers meaningless")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where results go (default bench/results)")
    parser.add_argument("--only", action="append", choices=list(SUITES), metavar="SUITE", help="run only this suite (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the suites and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, suite in SUITES.items():
            print(f"{name:10} {suite.summary}")
        return 0

    chosen = args.only or list(SUITES)
    size = "quick" if args.quick else "tiny" if args.tiny else "full"
    folder = args.results if size == "full" else args.results / size
    print(f"{machine_line()}\nsuites: {', '.join(chosen)} ({size} sizes)", flush=True)
    outcomes: dict[str, tuple[int, float]] = {}
    started = time.perf_counter()
    for name in chosen:
        print(f"\n{'=' * 20} {name} {'=' * 20}", flush=True)
        code, _, seconds = run_suite(name, SUITES[name], size, folder)
        outcomes[name] = (code, seconds)
    if size == "full":
        print(f"\nupdated {write_latest(folder)}")
    print(f"\n{'=' * 20} summary {'=' * 20}")
    for name, (code, seconds) in outcomes.items():
        print(f"{name:10} {'ok' if code == 0 else f'FAILED (exit {code})':16} {seconds:6.1f} s")
    print(f"{'total':10} {'':16} {time.perf_counter() - started:6.1f} s")
    return 1 if any(code for code, _ in outcomes.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
