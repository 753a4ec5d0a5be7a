"""Scale: 1k / 10k / 50k queued jobs: memory per job, scheduler dispatch rate, growth with the job count.

A client must hold a large backlog cheaply and hand it out as fast as the transport takes
it, with the cost of each job independent of how many others wait. Each size runs in its own
Python process (this script re-runs itself with ``--child N``), so arenas from a bigger run
never flatter a smaller one:

1. open a client with ``queue_size=N``, generous limits and the default 64 workers, over an
   ``httpx.MockTransport`` whose handler waits behind a gate; warm it up with 20 jobs (few, so little freed memory is there for the queue to reuse) through
   an open gate, then close the gate;
2. **submit** N chat jobs (distinct ~160-byte bodies), keeping the handles: 64 reach the
   workers and wait at the gate, the rest stay queued in the scheduler's lane. RSS before and
   after (``VmRSS`` after ``gc.collect()``) gives the **memory per queued job**;
3. **release**: open the gate and await every handle in order (dropping each once answered);
   N / the time taken is the **dispatch rate**: jobs/s the scheduler releases, the budget
   grants and the workers complete against a transport that answers at once. The thread's
   CPU time over the same interval gives CPU per job;
4. RSS once everything is answered and dropped: what the client kept (**residue per job**;
   ~0, or the queue leaks).

Growth: for each cost (RSS of the queue, dispatch time, submit time) the slope of
log(cost) against log(N) from the smallest to the largest size; 1.0 is linear, below is
better. The check is "linear or better": slope <= 1.15 (the margin is the noise of a shared
machine), and the per-job cost at the largest size within 1.5x of that at the smallest.

Usage::

    python bench/scale.py [--sizes 1000,10000,50000] [--json bench/results/scale.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import subprocess
import sys
import time
from typing import Any

from _common import (
    API_KEY,
    BASE_URL,
    GENEROUS,
    MODEL,
    completion_handler,
    default_json,
    print_table,
    rss_bytes,
    write_json,
)

import httpx  # noqa: E402  (after _common, which puts the repository on sys.path)
import trio  # noqa: E402

import orchestrator  # noqa: E402

WARMUP_JOBS = 20
WORKERS = 64
#: "linear or better": a log-log slope up to this (the rest is a shared machine's noise) ...
MAX_SLOPE = 1.15
#: ... and the per-job cost at the largest size at most this many times that at the smallest.
MAX_PER_JOB_GROWTH = 1.5


class GatedHandler:
    """The MockTransport handler: the canned completion, once the gate is open.

    While the gate is closed every worker that sends a request waits here, so the rest of
    the jobs stay in the scheduler's queue; opening it lets them all through at once.
    """

    def __init__(self) -> None:
        self.gate = trio.Event()
        self.gate.set()
        self.requests = 0

    def close(self) -> None:
        """Make the next requests wait until :meth:`open`."""
        self.gate = trio.Event()

    def open(self) -> None:
        """Let every waiting and later request through."""
        self.gate.set()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if not self.gate.is_set():
            await self.gate.wait()
        return completion_handler(request)


def _job_request(index: int) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"Question {index:06d}: summarise the plot of a novel in two lines."}],
        "max_completion_tokens": 64,
    }


def _measure() -> tuple[int, int]:
    """``(VmRSS bytes, live Python memory blocks)`` after a full collection."""
    gc.collect()
    return rss_bytes(), sys.getallocatedblocks()


def child(jobs: int) -> dict[str, Any]:
    """One size, in this (fresh) process: submit ``jobs`` behind a closed gate, then release them."""

    async def session() -> dict[str, Any]:
        handler = GatedHandler()
        limits = {MODEL: orchestrator.ModelLimits(**GENEROUS)}
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            async with orchestrator.open_client(
                api_key=API_KEY, base_url=BASE_URL, http_client=http, limits=limits, queue_size=jobs, workers=WORKERS,
                refresh_catalog=False,  # the mock transport is not Groq: it serves no /models
            ) as client:
                warm = [await client.submit(_job_request(-index)) for index in range(1, WARMUP_JOBS + 1)]
                for handle in warm:
                    await handle.result()
                del warm, handle
                handler.close()
                rss_before = _measure()
                handles: list[orchestrator.JobHandle | None] = []
                started = time.perf_counter()
                for index in range(jobs):
                    handles.append(await client.submit(_job_request(index)))
                submit_seconds = time.perf_counter() - started
                await trio.sleep(0.01)  # the lane hands the first jobs to the workers, which wait at the gate
                queued = client.statistics()
                rss_queued = _measure()
                if queued.completed != WARMUP_JOBS or queued.queued + queued.in_flight < jobs - 1:
                    raise AssertionError(f"the jobs did not wait at the gate: {queued}")

                started, started_cpu = time.perf_counter(), time.thread_time()
                handler.open()
                for index, handle in enumerate(handles):
                    assert handle is not None
                    await handle.result()
                    handles[index] = None
                drain_seconds = time.perf_counter() - started
                drain_cpu = time.thread_time() - started_cpu
                done = client.statistics()
                del handles, handle
                rss_drained = _measure()
                if done.completed != WARMUP_JOBS + jobs or done.failed or done.retried:
                    raise AssertionError(f"not every job completed cleanly: {done}")
        return {
            "jobs": jobs,
            "queued_in_lane": queued.queued,
            "in_flight_at_gate": queued.in_flight,
            "submit_seconds": submit_seconds,
            "rss_queue": rss_queued[0] - rss_before[0],
            "blocks_queue": rss_queued[1] - rss_before[1],
            "drain_seconds": drain_seconds,
            "drain_cpu_seconds": drain_cpu,
            "rss_residue": rss_drained[0] - rss_before[0],
            "blocks_residue": rss_drained[1] - rss_before[1],
            "requests": handler.requests,
        }

    return trio.run(session)


def run_child(jobs: int) -> dict[str, Any]:
    """Run one size in a fresh interpreter and return its measurements."""
    command = [sys.executable, __file__, "--child", str(jobs), "--json", ""]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"the {jobs}-job run failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def _slope(small: tuple[int, float], large: tuple[int, float]) -> float:
    """d log(cost) / d log(jobs) between two sizes (nan if a cost is not positive)."""
    (n1, c1), (n2, c2) = small, large
    if c1 <= 0 or c2 <= 0:
        return math.nan
    return math.log(c2 / c1) / math.log(n2 / n1)


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"--sizes wants comma-separated job counts like 1000,10000, got {text!r}") from None
    if len(sizes) < 2 or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"--sizes wants at least two different positive job counts, got {text!r}")
    return sizes


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the scale suite; print its tables; write and return its results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_sizes, default=[1_000, 10_000, 50_000], help="job counts, comma-separated")
    parser.add_argument("--json", metavar="PATH", default=default_json("scale"), help="write the results here")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child)))
        return {}

    runs = []
    for jobs in args.sizes:
        run = run_child(jobs)
        run["queue_bytes_per_job"] = run["rss_queue"] / jobs
        run["residue_bytes_per_job"] = run["rss_residue"] / jobs
        run["queue_blocks_per_job"] = run["blocks_queue"] / jobs
        run["residue_blocks_per_job"] = run["blocks_residue"] / jobs
        run["submit_us_per_job"] = run["submit_seconds"] / jobs * 1e6
        run["dispatch_jobs_per_s"] = jobs / run["drain_seconds"]
        run["dispatch_us_per_job"] = run["drain_seconds"] / jobs * 1e6
        run["dispatch_cpu_us_per_job"] = run["drain_cpu_seconds"] / jobs * 1e6
        runs.append(run)
        print(
            f"{jobs:,} jobs: {run['queue_bytes_per_job']:,.0f} B/job queued, "
            f"dispatch {run['dispatch_jobs_per_s']:,.0f} jobs/s",
            flush=True,
        )

    print_table(
        f"Queued jobs ({WORKERS} workers held at a gate, the rest in the scheduler); each size in a fresh process",
        ["jobs", "RSS/job B", "blocks/job", "kept RSS/job B", "kept blocks/job", "submit us/job", "dispatch jobs/s",
         "dispatch us/job", "cpu us/job"],
        [
            [r["jobs"], r["queue_bytes_per_job"], r["queue_blocks_per_job"], r["residue_bytes_per_job"],
             r["residue_blocks_per_job"], r["submit_us_per_job"],
             r["dispatch_jobs_per_s"], r["dispatch_us_per_job"], r["dispatch_cpu_us_per_job"]]
            for r in runs
        ],
    )  # fmt: skip
    small, large = runs[0], runs[-1]
    growth = {}
    for cost, total, per_job in (
        ("queue_memory", "rss_queue", "queue_bytes_per_job"),
        ("dispatch_time", "drain_seconds", "dispatch_us_per_job"),
        ("submit_time", "submit_seconds", "submit_us_per_job"),
    ):
        slope = _slope((small["jobs"], small[total]), (large["jobs"], large[total]))
        per_job_ratio = large[per_job] / small[per_job] if small[per_job] > 0 else math.nan
        growth[cost] = {
            "slope": slope,
            "per_job_ratio": per_job_ratio,
            "linear_or_better": slope <= MAX_SLOPE and per_job_ratio <= MAX_PER_JOB_GROWTH,
        }
    print_table(
        f"Growth from {small['jobs']:,} to {large['jobs']:,} jobs (slope of log cost vs log jobs: 1 = linear; "
        f"per-job ratio = per-job cost at {large['jobs']:,} / at {small['jobs']:,})",
        ["cost", "slope", "per-job ratio", "linear or better"],
        [[name, g["slope"], g["per_job_ratio"], "yes" if g["linear_or_better"] else "NO"] for name, g in growth.items()],
    )
    met = all(g["linear_or_better"] for g in growth.values())
    targets = {
        "cost_grows_linearly_or_better": {
            "max_slope": MAX_SLOPE,
            "max_per_job_ratio": MAX_PER_JOB_GROWTH,
            "growth": growth,
            "met": met,
        }
    }
    print(
        f"\ntarget cost grows linearly or better (slope <= {MAX_SLOPE}, per-job ratio <= {MAX_PER_JOB_GROWTH}): "
        + ", ".join(f"{name} {g['slope']:.2f} / {g['per_job_ratio']:.2f}" for name, g in growth.items())
        + f" -> {'MET' if met else 'NOT MET'}"
    )
    result = {
        "benchmark": "scale",
        "parameters": {"sizes": args.sizes, "workers": WORKERS, "warmup_jobs": WARMUP_JOBS},
        "runs": runs,
        "growth": growth,
        "targets": targets,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
