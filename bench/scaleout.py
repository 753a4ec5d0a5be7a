"""Scale-out: one shared batch worked by 1, 2 and 4 processes, with and without the shared rate budget.

Every run works the same batch as a **shared batch through Redis** (``groq-orch batch --workers-join``):
N worker processes, each ``run_shared_batch_async`` with its own client, against one fresh emulator process
on loopback with ``openai/gpt-oss-20b``'s free-tier limits (30 RPM, 8,000 TPM) and realistic latency on a
clock ``--time-scale`` times faster than real time. Each run uses a fresh API key, so it starts from full
emulator limits and an empty shared budget.

Two modes per worker count:

- **shared budget**: every worker's client also takes its rate budget from Redis (``Config.redis_url``):
  the processes spend one account's limits together;
- **own budget**: each worker paces itself alone, as separate processes would without coordination, so N
  of them together aim at N times the limit (LiteLLM's per-replica flaw) and the server answers 429.

Workloads: ``fixed`` (the default) is jobs of about 15 prompt tokens that always write their whole
200-token completion budget, so a job uses exactly what the budget reserves for it and the numbers show
the coordination alone; ``realistic`` is the ``ratelimit`` suite's jobs (85-860 prompt tokens, budgets far
above what is written), where the budget's up-front reservation of ``max_completion_tokens`` caps even
one process at about 60 % of TPM (see that suite).

Reported per run: wall time (real and emulated minutes), goodput (tokens of successful jobs per emulated
minute, as a share of the TPM limit), requests and 429s the emulator saw (and their share), retries,
failed jobs and jobs per worker. Targets (issue 9): with the shared budget, 429s under 1 % of requests
and goodput of at least 85 % of TPM, whatever the number of workers.

Workers start together (after their imports, at a common instant) and the run's time ends when the batch's
last result is recorded (Redis stamps it), so goodput includes joining, loading and every coordination
round trip, but not the workers' exit and the collect after the last result (reported as the exit tail).

Needs ``redis-server`` on the PATH (a throwaway one is started on a free loopback port), or ``--redis URL``.

Usage::

    python bench/scaleout.py [--jobs 240] [--workers 1,2,4] [--workload fixed|realistic] [--time-scale 60]
                             [--concurrency 16] [--json PATH]
    python bench/scaleout.py --quick        # 120 jobs at time_scale 120
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Final

from _common import ROOT, default_json, machine_line, print_table, write_json

import httpx  # noqa: E402  (after _common, which puts the repository on sys.path)
import redis  # noqa: E402

from _ratelimit_workload import MODEL, make_jobs  # noqa: E402

#: openai/gpt-oss-20b's free tier: (RPM, RPD, TPM, TPD), the emulator's default for it.
FREE_TIER: Final = (30, 1_000, 8_000, 200_000)
MODES: Final = ("shared", "own")
LABELS: Final = {"shared": "shared budget", "own": "own budget"}
#: The fixed workload's completion: the emulator writes exactly this much, all of the job's budget.
FIXED_COMPLETION: Final = 200


# ----------------------------------------------------------------------------------------- worker


def run_worker(args: argparse.Namespace) -> None:
    """One worker process: join the batch at ``--start-at`` and print its outcome as one JSON line."""
    import msgspec
    import trio

    from orchestrator.batch._shared import run_shared_batch_async
    from orchestrator._endpoint import resolve_endpoint

    endpoint = resolve_endpoint(
        environ={"GROQ_API_KEY": args.key}, base_url=args.base_url, concurrency=args.concurrency
    )
    if args.mode == "shared":
        endpoint = msgspec.structs.replace(endpoint, config=endpoint.config.replace(redis_url=args.redis))

    async def main() -> dict[str, Any]:
        await trio.sleep(max(0.0, args.start_at - time.time()))
        summary = await run_shared_batch_async(
            args.input, args.output, redis_url=args.redis, name=args.batch, endpoint=endpoint, quiet=True,
            handle_signals=False, time_scale=args.time_scale,
        )
        return {
            "succeeded": summary.succeeded,
            "failed": summary.failed,
            "tokens": summary.prompt_tokens + summary.completion_tokens,
            "retries": summary.retries,
            "rate_limited": summary.rate_limited,
            "not_run": summary.not_run,
            "ended": time.time(),
        }

    print(json.dumps(trio.run(main)), flush=True)


# ------------------------------------------------------------------------------------ conductor


def start_redis(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A throwaway ``redis-server`` on a free loopback port, without persistence."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("scaleout needs redis-server on the PATH (or --redis URL)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.RedisError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"redis-server did not start on port {port}") from None
            time.sleep(0.02)
    client.close()
    return server, url


def start_emulator(time_scale: float, seed: int, workload: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m orchestrator.emulator`` with free-tier limits and realistic latency; (process, base URL)."""
    lengths = ["--completion-tokens", f"{FIXED_COMPLETION},{FIXED_COMPLETION}"] if workload == "fixed" else []
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.emulator", "--port", "0", "--latency", "realistic",
         "--time-scale", str(time_scale), "--seed", str(seed), *lengths],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True,
    )
    line = server.stderr.readline() if server.stderr else ""
    if not line.startswith("Groq emulator listening on "):
        server.kill()
        raise SystemExit(f"the emulator did not start: {line!r}")
    return server, line.rsplit(" ", 1)[1].strip()


def emulator_stats(base_url: str) -> dict[str, Any]:
    """The emulator's counters (``GET /_emulator/stats``)."""
    root = base_url.removesuffix("/openai/v1")
    return dict(httpx.get(f"{root}/_emulator/stats", timeout=10).json())


def one_run(workers: int, mode: str, args: argparse.Namespace, jobs_file: Path, folder: Path) -> dict[str, Any]:
    """Run the batch with ``workers`` processes in ``mode``; the run's metrics."""
    emulator, base_url = start_emulator(args.time_scale, args.seed, args.workload)
    try:
        batch = f"scaleout-{uuid.uuid4().hex[:12]}"
        key = f"gsk_scaleout_{uuid.uuid4().hex}"
        output = folder / f"{batch}.jsonl"
        start_at = time.time() + args.start_delay
        command = [
            sys.executable, __file__, "--worker", "--mode", mode, "--input", str(jobs_file), "--output", str(output),
            "--redis", args.redis, "--batch", batch, "--base-url", base_url, "--key", key,
            "--time-scale", str(args.time_scale), "--concurrency", str(args.concurrency), "--start-at", str(start_at),
        ]
        processes = [
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(workers)
        ]
        reports = []
        for process in processes:
            out, err = process.communicate(timeout=args.timeout)
            lines = out.strip().splitlines()
            if process.returncode != 0 or not lines:
                raise SystemExit(f"a worker failed (exit {process.returncode}):\n{err[-3000:]}")
            reports.append(json.loads(lines[-1]))
        stats = emulator_stats(base_url)
        answered = sum(1 for _ in output.open()) if output.exists() else 0
        last_result_at = _last_result_at(args.redis, batch)
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        _delete_batch(args.redis, batch)
    # The batch's time runs from the common start to its last recorded result (Redis stamps each result
    # entry with its own clock, the same machine's); the workers' exit and the collect come after.
    real = last_result_at - start_at
    tail = max(report["ended"] for report in reports) - last_result_at
    emulated_minutes = real * args.time_scale / 60.0
    tokens = sum(report["tokens"] for report in reports)
    requests = int(stats["requests"]) - 1  # the stats request itself
    rate_limited = int(stats["rate_limited"])
    tpm = FREE_TIER[2]
    return {
        "workers": workers,
        "mode": mode,
        "jobs": args.jobs,
        "answered": answered,
        "succeeded": sum(report["succeeded"] for report in reports),
        "failed": sum(report["failed"] for report in reports),
        "per_worker": [report["succeeded"] + report["failed"] for report in reports],
        "real_seconds": real,
        "exit_tail_seconds": tail,
        "emulated_minutes": emulated_minutes,
        "tokens": tokens,
        "goodput_tokens_per_minute": tokens / emulated_minutes if emulated_minutes > 0 else 0.0,
        "goodput_share_of_tpm": tokens / emulated_minutes / tpm if emulated_minutes > 0 else 0.0,
        "requests": requests,
        "rate_limited": rate_limited,
        "rate_limited_share": rate_limited / requests if requests else 0.0,
        "retries": sum(report["retries"] for report in reports),
    }


def _last_result_at(url: str, batch: str) -> float:
    """When the batch's last result was recorded: the millisecond part of its results-stream entry id."""
    client = redis.Redis.from_url(url)
    try:
        (entry_id, _), = client.xrevrange(f"groq-orch:batch:{{{batch}}}:results", count=1)
    finally:
        client.close()
    return int(entry_id.split(b"-")[0]) / 1000.0


def _delete_batch(url: str, batch: str) -> None:
    """Remove a finished batch's keys, so a shared Redis does not keep the results."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"groq-orch:batch:\\{{{batch}\\}}:*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def write_input(path: Path, count: int, seed: int, workload: str) -> None:
    """The batch input: ``count`` jobs of the chosen workload, in batch format."""
    if workload == "realistic":
        jobs = make_jobs(count, seed=seed)
    else:
        jobs = [
            (index, {"model": MODEL, "max_completion_tokens": FIXED_COMPLETION,
                     "messages": [{"role": "user", "content": f"Question {index}: tell me about rate limits."}]})
            for index in range(count)
        ]
    with path.open("w") as out:
        for index, body in jobs:
            out.write(json.dumps({"custom_id": f"job-{index}", "body": body}) + "\n")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run every (workers, mode) pair; print the table; write and return the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=None, help="jobs in the batch (default 240; 120 with --quick)")
    parser.add_argument("--workers", default="1,2,4", help="worker process counts, comma-separated (default 1,2,4)")
    parser.add_argument("--time-scale", type=float, default=None, help="emulated seconds per real second (default 60)")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight per worker (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the jobs and the emulator")
    parser.add_argument("--workload", choices=("fixed", "realistic"), default="fixed",
                        help="fixed jobs that use exactly the tokens they reserve (default), or realistic ones")
    parser.add_argument("--start-delay", type=float, default=4.0,
                        help="seconds the workers get to import before their common start (default 4)")
    parser.add_argument("--redis", metavar="URL", help="use this Redis (default: start a throwaway redis-server)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a run may take before it fails")
    parser.add_argument("--quick", action="store_true", help="120 jobs at time_scale 120 (a smoke check)")
    parser.add_argument("--json", metavar="PATH", default=default_json("scaleout"), help="write the results here")
    # The worker side (this script runs itself in each worker process).
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for hidden in ("--mode", "--input", "--output", "--batch", "--base-url", "--key"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.time_scale = args.time_scale if args.time_scale is not None else (120.0 if args.quick else 60.0)
    if args.worker:
        run_worker(args)
        return {}
    args.jobs = args.jobs if args.jobs is not None else (120 if args.quick else 240)
    try:
        counts = [int(part) for part in args.workers.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--workers must be comma-separated counts such as 1,2,4, got {args.workers!r}")
    if args.jobs < 1 or not counts or min(counts) < 1 or args.concurrency < 1 or not args.time_scale > 0:
        parser.error("--jobs, --workers and --concurrency must be at least 1, --time-scale above 0")

    rpm, rpd, tpm, tpd = FREE_TIER
    print(
        f"{machine_line()}\n{args.jobs} {args.workload} jobs per run, {MODEL} free tier {rpm} RPM / {tpm:,} TPM, time_scale "
        f"{args.time_scale:g}, {args.concurrency} in flight per worker, seed {args.seed}",
        flush=True,
    )
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="scaleout-") as temporary:
        folder = Path(temporary)
        jobs_file = folder / "jobs.jsonl"
        write_input(jobs_file, args.jobs, args.seed, args.workload)
        redis_server = None
        if not args.redis:
            redis_server, args.redis = start_redis(folder)
        try:
            for mode in MODES:
                for workers in counts:
                    run = one_run(workers, mode, args, jobs_file, folder)
                    runs.append(run)
                    print(
                        f"  {workers} worker(s), {LABELS[mode]}: {run['real_seconds']:.1f} s real, "
                        f"goodput {run['goodput_share_of_tpm'] * 100:.1f} % of TPM, {run['rate_limited']} 429s "
                        f"of {run['requests']} requests",
                        flush=True,
                    )
        finally:
            if redis_server is not None:
                redis_server.terminate()
                redis_server.wait(timeout=10)

    print_table(
        "Scale-out: one shared batch, N worker processes (goodput = successful tokens per emulated minute / TPM)",
        ["workers", "budget", "real s", "exit tail s", "emul. min", "goodput % TPM", "requests", "429s", "429 %",
         "retries", "failed", "jobs per worker"],
        [
            [run["workers"], LABELS[run["mode"]], run["real_seconds"], run["exit_tail_seconds"], run["emulated_minutes"],
             run["goodput_share_of_tpm"] * 100, run["requests"], run["rate_limited"], run["rate_limited_share"] * 100,
             run["retries"], run["failed"], "/".join(map(str, run["per_worker"]))]
            for run in runs
        ],
    )
    shared = [run for run in runs if run["mode"] == "shared"]
    worst_share = max((run["rate_limited_share"] for run in shared), default=0.0)
    worst_goodput = min((run["goodput_share_of_tpm"] for run in shared), default=0.0)
    targets = {
        "every_run_answers_each_job_once": {
            "value": [run["answered"] for run in runs], "target": args.jobs,
            "met": all(run["answered"] == args.jobs for run in runs),
        },
        "shared_budget_rate_limited_below_1_percent": {
            "value": worst_share, "target": 0.01, "met": bool(shared) and worst_share < 0.01,
        },
        "shared_budget_goodput_at_least_85_percent": {
            "value": worst_goodput, "target": 0.85, "met": bool(shared) and worst_goodput >= 0.85,
        },
    }
    print()
    for name, goal in targets.items():
        print(f"{'MET    ' if goal['met'] else 'NOT MET'} {name}: {goal['value']} (target {goal['target']})")
    result = {
        "benchmark": "scaleout",
        "parameters": {
            "jobs": args.jobs,
            "workers": counts,
            "time_scale": args.time_scale,
            "concurrency_per_worker": args.concurrency,
            "seed": args.seed,
            "workload": args.workload,
            "model": MODEL,
            "limits": {"rpm": rpm, "rpd": rpd, "tpm": tpm, "tpd": tpd},
            "latency": "realistic",
        },
        "runs": runs,
        "targets": targets,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
