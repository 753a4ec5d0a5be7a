"""A 10,000-job batch on the instant emulator: this tree against other checkouts, side by side.

Why: issue 14 asks for the batch to run 20 % faster than the tree it was filed against. On a shared
machine a time is only a number beside another measured in the same run, so this script runs the same
job file through this tree and through each ``--against`` checkout (a ``git worktree`` of an older
commit), alternating them round by round, and reports the medians and their ratio.

Each run is a fresh interpreter: ``run_batch`` (``orchestrator.batch._local``, or ``orchestrator._batch``
in trees before the batch package) with the embedded emulator at instant latency, a clock 100,000 times
real time and the Developer plan on both sides (the client told ``tier="developer"``), so neither rate
limits nor latency bind and the run measures the CPU of both the client and the emulator. The job file
is made once by this tree's ``examples/make_chat_jobs.py``; ``--drop-model`` leaves out the lines of a
model an older tree does not know (it would answer them 404 at once, and do less work).

Options: ``--jobs 10000 --rounds 3 --against PATH (repeatable) --drop-model MODEL (repeatable)
--json PATH``. Prints per tree the median wall time, CPU time (user + system of the run's process) and
peak RSS, each round's numbers, and each tree's medians as a ratio of this tree's. No targets: the ratio
is the result.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import ROOT, write_json

#: Run in a fresh interpreter per round, with the measured tree first on ``sys.path``.
RUNNER = """
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
try:
    from orchestrator.batch._local import run_batch
except ImportError:
    from orchestrator._batch import run_batch
from orchestrator.emulator import EmulatorSettings

started = time.perf_counter()
summary = run_batch(sys.argv[2], sys.argv[3], quiet=True, environ={}, concurrency=64, tier="developer",
                    emulator_settings=EmulatorSettings(latency="instant", time_scale=100_000.0, tier="developer"))
wall = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
                  "succeeded": summary.succeeded, "failed": summary.failed}))
"""


def make_jobs(count: int, drop: set[str], directory: Path) -> tuple[Path, int]:
    """``count`` jobs from this tree's generator, less the lines of the ``drop`` models; the file and its lines."""
    made = directory / "made.jsonl"
    subprocess.run([sys.executable, str(ROOT / "examples" / "make_chat_jobs.py"), "-n", str(count), "-o", str(made)],
                   check=True)
    kept, lines = directory / "jobs.jsonl", 0
    with made.open("rb") as source, kept.open("wb") as target:
        for line in source:
            if json.loads(line)["body"]["model"] not in drop:
                target.write(line)
                lines += 1
    return kept, lines


def run_once(tree: Path, jobs: Path, directory: Path) -> dict[str, Any]:
    """One batch of ``jobs`` through ``tree``'s code; its numbers."""
    output = directory / "results.jsonl"
    output.unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-c", RUNNER, str(tree), str(jobs), str(output)], cwd=tree,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the batch through {tree} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", type=Path, action="append", default=[], metavar="PATH",
                        help="another checkout of the project (e.g. a git worktree of an older commit)")
    parser.add_argument("--drop-model", action="append", default=[], metavar="MODEL",
                        help="leave out the jobs of this model (one an older tree does not know)")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "batch_cpu.json"),
                        help='where the numbers are written ("" writes nothing)')
    args = parser.parse_args()
    trees = [ROOT, *(path.resolve() for path in args.against)]
    with tempfile.TemporaryDirectory(prefix="batch-cpu-") as scratch:
        directory = Path(scratch)
        jobs, lines = make_jobs(args.jobs, set(args.drop_model), directory)
        print(f"{lines:,} jobs, {args.rounds} rounds, trees: {', '.join(map(str, trees))}", flush=True)
        runs: dict[str, list[dict[str, Any]]] = {str(tree): [] for tree in trees}
        for round_number in range(1, args.rounds + 1):
            for tree in trees:
                result = run_once(tree, jobs, directory)
                runs[str(tree)].append(result)
                print(f"round {round_number}: {tree}: wall {result['wall']:.2f} s, cpu {result['cpu']:.2f} s, "
                      f"rss {result['rss_mb']:.0f} MB, {result['succeeded']} ok, {result['failed']} failed", flush=True)
    medians = {tree: {key: statistics.median(run[key] for run in results) for key in ("wall", "cpu", "rss_mb")}
               for tree, results in runs.items()}
    mine = medians[str(ROOT)]
    print("\ntree                                        wall s   cpu s  rss MB  wall/this  cpu/this")
    for tree, median in medians.items():
        print(f"{tree[-42:]:42}  {median['wall']:7.2f} {median['cpu']:7.2f} {median['rss_mb']:7.0f} "
              f"{median['wall'] / mine['wall']:10.3f} {median['cpu'] / mine['cpu']:9.3f}")
    write_json(args.json, {"jobs": lines, "rounds": args.rounds, "runs": runs, "medians": medians})


if __name__ == "__main__":
    main()
