"""Rate limits: N realistic jobs through time-scaled free-tier limits, ours vs the peer patterns.

Every contender runs the same jobs (``_ratelimit_workload``: five task kinds, prompts of
85-860 tokens, per-task ``max_completion_tokens``) against its own fresh emulator (same
settings, same seed) on a real loopback socket, with the free-tier limits of
``openai/gpt-oss-20b`` (30 RPM, 1,000 RPD, 8,000 TPM, 200,000 TPD), realistic latency
(30 ms queue, 120 ms to the first token, 600 tokens/s) and ``time_scale`` 60: a minute of
limits passes in a real second. The workload is bound by TPM (about 17 jobs a minute).

Contenders:

- **(a) ours**: ``open_client(time_scale=...)`` + ``Client.map``, limits from the catalog;
- **(b) AsyncGroq**: ``groq.AsyncGroq`` with ``asyncio.Semaphore(--sdk-concurrency)`` and its
  own retries, ``max_retries=2`` (the default) and ``--sdk-retries-high`` (6);
- **(c) parallel processor**: the openai-cookbook pattern (fixed RPM/TPM budgets set to the
  published limits and refilled per loop, a 15 s pause after a 429, 5 attempts), see
  ``_ratelimit_cookbook``;
- **(d) ours, limits unknown**: ours with limits so high (10^6 RPM, 10^9 TPM...) that it must
  learn them from ``x-ratelimit-*`` headers and 429s.

Reported per contender (``_ratelimit_report`` defines each): wall time (real, and emulated
minutes), goodput as a share of TPM, 429s (and share of requests), retries, failed jobs,
p50/p95 job latency (emulated seconds); a PNG of tokens per minute over emulated time against
the TPM limit; the issue's goals for (a) and (d): >= 90 % of TPM, < 1 % 429s, fewer failed jobs
than every peer pattern.

A caveat of compressing time: the emulator's ``retry-after`` is whole real seconds, at least 1,
so at ``time_scale`` 60 it always says "wait at least a minute" in emulated time, where real
Groq would say a few seconds. Clients that honour it (AsyncGroq; ours after a 429) wait longer
than they would against Groq, which costs them wall time and spares them 429s.

With ``--tier developer`` the emulator serves the Developer plan's limits (1,000 RPM, 500K RPD,
250K TPM, 100M TPD) and (a) is still told nothing: it must recognise the plan from the headers
instead of holding to the free tier's 30 RPM and 200K TPD (issue #12's "developer tier, limits not
told" row).

Usage::

    python bench/ratelimit.py [--tier developer] [--jobs 600] [--time-scale 60] [--seed 0] [--sdk-concurrency 16]
                              [--only ours --only sdk ...] [--json bench/results/ratelimit.json]
                              [--plot PATH (default: the JSON path with .png)]
    python bench/ratelimit.py --quick        # 100 jobs at time_scale 120 (about 30 s)
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any, Final

from _common import default_json, machine_line, write_json

import orchestrator  # noqa: E402  (after _common, which puts the repository on sys.path)
from orchestrator._tiers import tier_limits  # noqa: E402
from orchestrator.emulator import EmulatorSettings  # noqa: E402

from _ratelimit_contenders import EmulatorThread, RunResult, run_ours, run_processor, run_sdk  # noqa: E402
from _ratelimit_report import contender_metrics, plot, print_results, series, verdicts  # noqa: E402
from _ratelimit_workload import MODEL, make_jobs  # noqa: E402

#: openai/gpt-oss-20b's limits on each plan: (RPM, RPD, TPM, TPD), from orchestrator._tiers (Groq's
#: rate-limits page). The contenders are told none of them but (c), which needs its budgets set.
PLAN_LIMITS: Final = {
    plan: (row.rpm, row.rpd, row.tpm, row.tpd)
    for plan in ("free", "developer")
    if (row := tier_limits(plan, MODEL)) is not None  # type: ignore[arg-type]
}
#: What contender (d) is told: nothing it could trust.
ABSURD: Final = orchestrator.ModelLimits(rpm=10**6, rpd=10**9, tpm=10**9, tpd=10**12)

LABELS: Final = {
    "ours": "(a) ours",
    "sdk": "(b) AsyncGroq, max_retries=2",
    "sdk-retries": "(b) AsyncGroq, max_retries={retries}",
    "processor": "(c) parallel processor",
    "ours-learning": "(d) ours, limits unknown",
}
OURS: Final = ("ours", "ours-learning")
PEERS: Final = ("sdk", "sdk-retries", "processor")


def _run_one(name: str, args: argparse.Namespace, jobs: list[tuple[int, dict[str, Any]]]) -> RunResult:
    rpm, rpd, tpm, tpd = limits = PLAN_LIMITS[args.tier]
    settings = EmulatorSettings(
        latency="realistic", time_scale=args.time_scale, seed=args.seed, limits={MODEL: limits}
    )
    with EmulatorThread(settings) as emulator:
        if name == "ours":
            result = run_ours(emulator.base_url, jobs, time_scale=args.time_scale)
        elif name == "ours-learning":
            result = run_ours(emulator.base_url, jobs, time_scale=args.time_scale, limits={MODEL: ABSURD})
        elif name == "sdk":
            result = run_sdk(emulator.sdk_base_url, jobs, concurrency=args.sdk_concurrency, max_retries=2)
        elif name == "sdk-retries":
            result = run_sdk(
                emulator.sdk_base_url, jobs, concurrency=args.sdk_concurrency, max_retries=args.sdk_retries_high
            )
        elif name == "processor":
            result = run_processor(emulator.base_url, jobs, rpm=rpm, tpm=tpm, time_scale=args.time_scale)
        else:
            raise ValueError(f"unknown contender {name!r}; choose from {', '.join(LABELS)}")
        stats = emulator.stats()
    return dataclasses.replace(result, server=stats)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the rate-limit suite; print its table; write its JSON and PNG and return the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=None, help="jobs per contender (default 600; 100 with --quick)")
    parser.add_argument("--time-scale", type=float, default=None, help="emulated seconds per real second (default 60)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the workload and every emulator")
    parser.add_argument("--tier", choices=sorted(PLAN_LIMITS), default="free",
                        help="the account's plan the emulator serves (default free); with developer, ours is told "
                             "nothing and must leave the free tier's numbers behind on its own")
    parser.add_argument("--sdk-concurrency", type=int, default=16, help="AsyncGroq's semaphore size")
    parser.add_argument("--sdk-retries-high", type=int, default=6, help="max_retries of the second AsyncGroq run")
    parser.add_argument("--only", action="append", choices=list(LABELS), metavar="CONTENDER", help="run only these")
    parser.add_argument("--quick", action="store_true", help="100 jobs at time_scale 120 (a smoke check)")
    parser.add_argument("--json", metavar="PATH", default=default_json("ratelimit"), help="write the results here")
    parser.add_argument("--plot", metavar="PATH", default=None, help="the PNG (default: the JSON path with .png)")
    args = parser.parse_args(argv)
    args.jobs = args.jobs if args.jobs is not None else (100 if args.quick else 600)
    args.time_scale = args.time_scale if args.time_scale is not None else (120.0 if args.quick else 60.0)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if not args.time_scale > 0:
        parser.error(f"--time-scale must be > 0, got {args.time_scale}")
    if args.sdk_concurrency < 1 or args.sdk_retries_high < 0:
        parser.error("--sdk-concurrency must be >= 1 and --sdk-retries-high >= 0")
    plot_path = args.plot or (str(Path(args.json).with_suffix(".png")) if args.json else "")
    labels = {**LABELS, "sdk-retries": LABELS["sdk-retries"].format(retries=args.sdk_retries_high)}
    if args.tier != "free":
        labels["ours"] = f"(a) ours, {args.tier} tier, limits not told"
    chosen = args.only or list(LABELS)
    rpm, rpd, tpm, tpd = PLAN_LIMITS[args.tier]

    jobs = make_jobs(args.jobs, seed=args.seed)
    print(
        f"{machine_line()}\n{args.jobs} jobs per contender, {MODEL} limits {rpm} RPM / {rpd:,} RPD / {tpm:,} TPM / "
        f"{tpd:,} TPD, time_scale {args.time_scale:g}, seed {args.seed}",
        flush=True,
    )
    metrics: dict[str, dict[str, Any]] = {}
    curves: dict[str, list[tuple[float, int]]] = {}
    smooth: dict[str, list[tuple[float, int]]] = {}
    for name in chosen:
        started = time.perf_counter()
        result = _run_one(name, args, jobs)
        metrics[name] = contender_metrics(result, jobs=args.jobs, tpm=tpm, time_scale=args.time_scale)
        curves[name] = series(result, time_scale=args.time_scale)
        smooth[name] = series(result, time_scale=args.time_scale, minutes=5)
        values = metrics[name]
        print(
            f"  {labels[name]}: {time.perf_counter() - started:.1f} s real, {values['failed']} failed, "
            f"{values['rate_limited']} 429s, goodput {values['goodput_share_of_tpm'] * 100:.1f} % of TPM",
            flush=True,
        )

    peers = [name for name in PEERS if name in metrics]
    targets = {key: goal for name in OURS if name in metrics for key, goal in verdicts(metrics, name, peers).items()}
    print_results(metrics, labels, targets, tier=args.tier)
    if plot_path:
        Path(plot_path).parent.mkdir(parents=True, exist_ok=True)
        plot(
            plot_path,
            curves,
            smooth,
            labels,
            tpm=tpm,
            title=f"{args.jobs} jobs, {MODEL} {args.tier} tier ({tpm:,} TPM), time_scale {args.time_scale:g}",
        )
        print(f"\nwrote {plot_path}")
    result = {
        "benchmark": "ratelimit",
        "parameters": {
            "jobs": args.jobs,
            "time_scale": args.time_scale,
            "seed": args.seed,
            "model": MODEL,
            "tier": args.tier,
            "limits": {"rpm": rpm, "rpd": rpd, "tpm": tpm, "tpd": tpd},
            "latency": "realistic",
            "sdk_concurrency": args.sdk_concurrency,
            "sdk_retries_high": args.sdk_retries_high,
            "units": "durations in emulated seconds/minutes unless named _real",
        },
        "labels": {name: labels[name] for name in chosen},
        "contenders": metrics,
        "targets": targets,
        "series": {name: [[t, v] for t, v in points] for name, points in curves.items()},
        "series_5min": {name: [[t, v] for t, v in points] for name, points in smooth.items()},
        "plot": plot_path or None,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
