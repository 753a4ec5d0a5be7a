"""Rate limits: realistic jobs through time-scaled Groq limits, ours vs the peer patterns, in five workloads.

One run covers several *workloads* (``--workload NAME``, repeatable; default all five), and in
each every contender runs the same jobs (``_ratelimit_workload``: five task kinds, prompts of
85-860 tokens, per-task ``max_completion_tokens``) against its own fresh emulator (same
settings, same seed) on a real loopback socket, with realistic latency (30 ms queue, 120 ms to
the first token, 600 tokens/s) and a ``time_scale``: at 60, a minute of limits passes in a real
second.

Workloads (the free tier of ``openai/gpt-oss-20b`` and ``openai/gpt-oss-120b`` is the same,
30 RPM, 1,000 RPD, 8,000 TPM, 200,000 TPD, ``orchestrator._tiers``):

- ``base``: 300 jobs on ``openai/gpt-oss-20b``, free tier: bound by TPM (about 17 jobs a minute).
- ``unknown``: the same jobs and server, run by (d) *ours with limits unknown* and the peers only.
  (d) is a contender in every workload; this one exists so the table has rows named for it. The
  design chosen: rather than every contender again, which would repeat ``base`` row for row, it
  runs (d) and the peers only, so what it compares is (d) against the peer patterns with no (a)
  beside it, and it costs one contender less.
- ``two-models``: 600 jobs alternating between ``openai/gpt-oss-20b`` and ``openai/gpt-oss-120b``
  (300 each, as many per model as ``base`` has); the emulator serves both models' free-tier limits and
  goodput is measured against the sum of both TPMs (16,000).
- ``generous-caps``: the ``base`` jobs with every ``max_completion_tokens`` at 2,048, about six
  times the tasks' own budgets (10-512, about 320 on average) and over 20 times the 90 or so
  tokens the model writes: each job reserves about 2,440 tokens to use about 480 (the cost of
  not sizing budgets).
- ``developer``: 2,000 jobs on ``openai/gpt-oss-20b`` with the Developer plan's limits served
  (1,000 RPM, 500K RPD, 250K TPM, 100M TPD) and (a) told nothing: it must recognise the plan
  from the headers instead of holding to the free tier's 30 RPM and 200K TPD (issue #12's
  "developer tier, limits not told" row). It runs at ``time_scale`` 8: at 60 a 2-core machine
  cannot generate 250K tokens a real second, and the run would measure the CPU.

Why 300 jobs, not more: 300 of these jobs use about 140,000 tokens and at most 162,000 (prompt
plus the emulator's longest completion, 160 tokens). With one TPM of reservations in flight that
stays below the 200,000 TPD, so TPD can never refuse a request and TPM alone binds. 600 jobs
would use about 280,000 tokens, past TPD: a perfect client would then need about ten emulated
hours, most of it waiting for the day's bucket to refill, and the run would measure TPD.

Contenders (every workload has all five but ``unknown``, which has no (a)):

- **(a) ours**: ``open_client(time_scale=...)`` + ``Client.map``, limits from the catalog;
- **(b) AsyncGroq**: ``groq.AsyncGroq`` with ``asyncio.Semaphore(--sdk-concurrency)`` and its
  own retries, ``max_retries=2`` (the default) and ``--sdk-retries-high`` (6);
- **(c) parallel processor**: the openai-cookbook pattern (fixed RPM/TPM budgets set to the
  published limits and refilled per loop, a 15 s pause after a 429, 5 attempts), see
  ``_ratelimit_cookbook``; it has one budget, so with two models it is given the sum of both
  models' limits (what a user with one script and one mixed job file would set);
- **(d) ours, limits unknown**: ours with limits so high (10^6 RPM, 10^9 TPM...) for every model
  that it must learn them from ``x-ratelimit-*`` headers and 429s.

Reported per workload and contender (``_ratelimit_report`` defines each): wall time (real, and
emulated minutes), goodput as a share of TPM, goodput as a share of the **physical limit** (the
most tokens the emulator's buckets let a perfect client through in the contender's wall time:
the sum over the workload's models of ``TPM * (minutes + 1)``, a full bucket plus its continuous
refill; see ``_ratelimit_report.physical_limit_tokens`` for why TPD, RPM and RPD do not enter),
429s (and share of requests), failed jobs; in the JSON also retries and p50/p95 job latency
(emulated seconds). A PNG with a row per workload: tokens per minute over emulated time against
the TPM limit. Issue #14's goals, for (a) and (d) in each workload: >= 97 % of the physical
limit, no failed job, and no 429 with the limits known ((a)), under 0.5 % of requests without ((d)).

A caveat of compressing time: the emulator's ``retry-after`` is whole seconds of its own
(emulated) clock, at least 1. Ours reads it on that clock (``open_client(time_scale=...)``);
AsyncGroq reads it as real seconds, so at ``time_scale`` 60 a "retry after 1 s" parks it for an
emulated minute, where against Groq it would wait one second. That costs it wall time and
spares it 429s.

Usage::

    python bench/ratelimit.py [--workload base --workload developer ...] [--jobs N] [--time-scale S]
                              [--seed 0] [--sdk-concurrency 16] [--sdk-retries-high 6]
                              [--only ours --only sdk ...] [--json bench/results/ratelimit.json]
                              [--plot PATH (default: the JSON path with .png)]
    python bench/ratelimit.py --tier developer    # the same as --workload developer (--tier free: base)
    python bench/ratelimit.py --quick             # small sizes: 100 jobs (200 with two models) at
                                                  # time_scale 120, developer 200 at 8 (a few minutes)

``--jobs`` and ``--time-scale`` override every selected workload's own (for ``two-models``,
``--jobs`` counts both models' jobs together).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any, Final

from _common import default_json, machine_line, write_json

import orchestrator  # noqa: E402  (after _common, which puts the repository on sys.path)
from orchestrator._tiers import TIER_NAMES, TierName, tier_limits  # noqa: E402
from orchestrator.emulator import EmulatorSettings  # noqa: E402

from _ratelimit_contenders import EmulatorThread, RunResult, run_ours, run_processor, run_sdk  # noqa: E402
from _ratelimit_report import (  # noqa: E402
    Limits,
    contender_metrics,
    daily_windows_that_can_bind,
    plot,
    print_results,
    series,
    token_ceiling,
    verdicts,
)
from _ratelimit_workload import MODEL, SECOND_MODEL, make_jobs  # noqa: E402

#: What contender (d) is told, for every model: nothing it could trust.
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
ALL: Final = tuple(LABELS)


@dataclasses.dataclass(frozen=True)
class Workload:
    """One workload: the plan the emulator serves, the models the jobs alternate between, who runs them.

    ``max_completion_tokens`` replaces every job's own budget (``None``: each task's). ``jobs`` and
    ``time_scale`` are the full sizes, ``quick_jobs`` and ``quick_time_scale`` those of ``--quick``.
    """

    name: str
    summary: str
    tier: TierName
    models: tuple[str, ...]
    contenders: tuple[str, ...]
    jobs: int
    time_scale: float
    quick_jobs: int
    quick_time_scale: float
    max_completion_tokens: int | None = None

    def limits(self) -> Limits:
        """Each model's ``(rpm, rpd, tpm, tpd)`` on the workload's plan (``orchestrator._tiers``)."""
        rows = {model: tier_limits(self.tier, model) for model in self.models}
        missing = [model for model, row in rows.items() if row is None]
        if missing:
            raise ValueError(f"the {self.tier} plan's table has no row for {', '.join(missing)}")
        return {model: (row.rpm, row.rpd, row.tpm, row.tpd) for model, row in rows.items()}  # type: ignore[union-attr]


WORKLOADS: Final = {
    workload.name: workload
    for workload in (
        Workload("base", "the realistic jobs, free tier", "free", (MODEL,), ALL, 300, 60.0, 100, 120.0),
        Workload(
            "unknown",
            "the base jobs, ours with limits unknown against the peers",
            "free",
            (MODEL,),
            tuple(name for name in ALL if name != "ours"),
            300,
            60.0,
            100,
            120.0,
        ),
        Workload(
            "two-models", "jobs alternating between two models, free tier", "free", (MODEL, SECOND_MODEL), ALL,
            600, 60.0, 200, 120.0,
        ),
        Workload(
            "generous-caps", "the base jobs with max_completion_tokens 2048 each", "free", (MODEL,), ALL,
            300, 60.0, 100, 120.0, max_completion_tokens=2048,
        ),
        Workload(
            "developer", "Developer plan limits served, ours told nothing", "developer", (MODEL,), ALL,
            2000, 8.0, 200, 8.0,
        ),
    )
}
#: ``--tier`` is kept as an alias: each plan selects the workload that used to be that plan's run.
TIER_WORKLOAD: Final = {"free": "base", "developer": "developer"}


def _run_one(
    name: str, workload: Workload, jobs: list[tuple[int, dict[str, Any]]], time_scale: float, args: argparse.Namespace
) -> RunResult:
    limits = workload.limits()
    settings = EmulatorSettings(latency="realistic", time_scale=time_scale, seed=args.seed, limits=dict(limits))
    with EmulatorThread(settings) as emulator:
        if name == "ours":
            result = run_ours(emulator.base_url, jobs, time_scale=time_scale)
        elif name == "ours-learning":
            absurd = {model: ABSURD for model in workload.models}
            result = run_ours(emulator.base_url, jobs, time_scale=time_scale, limits=absurd)
        elif name == "sdk":
            result = run_sdk(emulator.sdk_base_url, jobs, concurrency=args.sdk_concurrency, max_retries=2)
        elif name == "sdk-retries":
            result = run_sdk(
                emulator.sdk_base_url, jobs, concurrency=args.sdk_concurrency, max_retries=args.sdk_retries_high
            )
        elif name == "processor":
            rpm = sum(row[0] for row in limits.values())
            tpm = sum(row[2] for row in limits.values())
            result = run_processor(emulator.base_url, jobs, rpm=rpm, tpm=tpm, time_scale=time_scale)
        else:
            raise ValueError(f"unknown contender {name!r}; choose from {', '.join(LABELS)}")
        stats = emulator.stats()
    return dataclasses.replace(result, server=stats)


def _labels(workload: Workload, args: argparse.Namespace) -> dict[str, str]:
    labels = {**LABELS, "sdk-retries": LABELS["sdk-retries"].format(retries=args.sdk_retries_high)}
    if workload.tier != "free":
        labels["ours"] = f"(a) ours, {workload.tier} tier, limits not told"
    return labels


def _limits_text(limits: Limits) -> str:
    return "; ".join(
        f"{model} {rpm} RPM / {rpd:,} RPD / {tpm:,} TPM / {tpd:,} TPD" for model, (rpm, rpd, tpm, tpd) in limits.items()
    )


def run_workload(workload: Workload, args: argparse.Namespace, chosen: list[str]) -> dict[str, Any]:
    """Run ``chosen`` contenders (those the workload has) on ``workload``; its JSON entry."""
    count = args.jobs if args.jobs is not None else (workload.quick_jobs if args.quick else workload.jobs)
    time_scale = args.time_scale if args.time_scale is not None else (
        workload.quick_time_scale if args.quick else workload.time_scale
    )
    limits = workload.limits()
    tpm = sum(row[2] for row in limits.values())
    jobs = make_jobs(count, seed=args.seed, model=workload.models, max_completion_tokens=workload.max_completion_tokens)
    model_of = {key: request["model"] for key, request in jobs}
    ceiling = token_ceiling(jobs, EmulatorSettings().completion_tokens[1])
    daily = daily_windows_that_can_bind(ceiling, limits)
    labels = _labels(workload, args)
    names = [name for name in chosen if name in workload.contenders]
    print(
        f"\n[{workload.name}] {workload.summary}: {count} jobs, {_limits_text(limits)}, time_scale {time_scale:g}\n"
        f"  physical limit: {tpm:,} x (minutes + 1) tokens (TPM summed over {len(limits)} model(s): a full bucket "
        f"plus its refill); the jobs use at most {sum(ceiling.values()):,} tokens",
        flush=True,
    )
    if daily:
        print(
            f"  note: these jobs could empty the TPD bucket of {', '.join(daily)}: TPD bounds the physical limit "
            "there, and the run measures the daily limit more than the per-minute one",
            flush=True,
        )
    if not names:
        print(f"  (no chosen contender runs this workload; it has {', '.join(workload.contenders)})", flush=True)
    metrics: dict[str, dict[str, Any]] = {}
    curves: dict[str, list[tuple[float, int]]] = {}
    smooth: dict[str, list[tuple[float, int]]] = {}
    for name in names:
        started = time.perf_counter()
        result = _run_one(name, workload, jobs, time_scale, args)
        metrics[name] = contender_metrics(
            result, jobs=count, limits=limits, time_scale=time_scale, model_of=model_of, daily=daily
        )
        curves[name] = series(result, time_scale=time_scale)
        smooth[name] = series(result, time_scale=time_scale, minutes=5)
        values = metrics[name]
        print(
            f"  {labels[name]}: {time.perf_counter() - started:.1f} s real, {values['failed']} failed, "
            f"{values['rate_limited']} 429s, goodput {values['goodput_share_of_tpm'] * 100:.1f} % of TPM, "
            f"{values['goodput_share_of_physical'] * 100:.1f} % of the physical limit",
            flush=True,
        )
    peers = [name for name in PEERS if name in metrics]
    targets = {key: goal for name in OURS if name in metrics for key, goal in verdicts(metrics, name, peers).items()}
    return {
        "summary": workload.summary,
        "parameters": {
            "jobs": count,
            "time_scale": time_scale,
            "tier": workload.tier,
            "models": list(workload.models),
            "max_completion_tokens": workload.max_completion_tokens,
            "limits": {
                model: {"rpm": rpm, "rpd": rpd, "tpm": tpm_, "tpd": tpd}
                for model, (rpm, rpd, tpm_, tpd) in limits.items()
            },
            "tpm_total": tpm,
            "token_ceiling": ceiling,
            "tpd_binds": daily,
            "physical_limit": "sum over models of TPM * (emulated minutes + 1)"
            + ("; min with TPD * (1 + minutes / 1440) for the models in tpd_binds" if daily else ""),
        },
        "labels": {name: labels[name] for name in names},
        "contenders": metrics,
        "targets": targets,
        "series": {name: [[t, v] for t, v in points] for name, points in curves.items()},
        "series_5min": {name: [[t, v] for t, v in points] for name, points in smooth.items()},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the rate-limit suite; print its table; write its JSON and PNG and return the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", action="append", choices=list(WORKLOADS), metavar="NAME",
                        help=f"run these workloads ({', '.join(WORKLOADS)}; default: all)")
    parser.add_argument("--tier", choices=list(TIER_NAMES), default=None,
                        help="an alias kept from before the workloads: free selects base, developer selects developer "
                             "(the Developer plan's limits served, ours told nothing)")
    parser.add_argument("--jobs", type=int, default=None, help="jobs per workload (default: each workload's own)")
    parser.add_argument("--time-scale", type=float, default=None,
                        help="emulated seconds per real second (default: each workload's own, 60 or 8)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the workload and every emulator")
    parser.add_argument("--sdk-concurrency", type=int, default=16, help="AsyncGroq's semaphore size")
    parser.add_argument("--sdk-retries-high", type=int, default=6, help="max_retries of the second AsyncGroq run")
    parser.add_argument("--only", action="append", choices=list(LABELS), metavar="CONTENDER",
                        help=f"run only these contenders ({', '.join(LABELS)})")
    parser.add_argument("--quick", action="store_true", help="each workload's small sizes (a smoke check)")
    parser.add_argument("--json", metavar="PATH", default=default_json("ratelimit"), help="write the results here")
    parser.add_argument("--plot", metavar="PATH", default=None, help="the PNG (default: the JSON path with .png)")
    args = parser.parse_args(argv)
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if args.time_scale is not None and not args.time_scale > 0:
        parser.error(f"--time-scale must be > 0, got {args.time_scale}")
    if args.sdk_concurrency < 1 or args.sdk_retries_high < 0:
        parser.error("--sdk-concurrency must be >= 1 and --sdk-retries-high >= 0")
    selected = set(args.workload or ())
    if args.tier is not None:
        selected.add(TIER_WORKLOAD[args.tier])
    names = [name for name in WORKLOADS if name in selected] if selected else list(WORKLOADS)
    chosen = args.only or list(LABELS)
    plot_path = args.plot if args.plot is not None else (str(Path(args.json).with_suffix(".png")) if args.json else "")

    print(f"{machine_line()}\nworkloads {', '.join(names)}; contenders {', '.join(chosen)}; seed {args.seed}",
          flush=True)
    entries = {name: run_workload(WORKLOADS[name], args, chosen) for name in names}

    print_results({name: {"metrics": e["contenders"], "labels": e["labels"], "targets": e["targets"]}
                   for name, e in entries.items()})
    panels = [
        {
            "title": f"{name} ({e['parameters']['jobs']} jobs, {e['parameters']['tpm_total']:,} TPM, "
                     f"time_scale {e['parameters']['time_scale']:g})",
            "tpm": e["parameters"]["tpm_total"],
            "curves": e["series"],
            "smooth": e["series_5min"],
        }
        for name, e in entries.items()
        if e["series"]
    ]
    if plot_path and panels:
        Path(plot_path).parent.mkdir(parents=True, exist_ok=True)
        legend = {name: LABELS[name].format(retries=args.sdk_retries_high) for name in LABELS if name in chosen}
        plot(plot_path, panels, legend)
        print(f"\nwrote {plot_path}")
    result = {
        "benchmark": "ratelimit",
        "parameters": {
            "workloads": names,
            "contenders": chosen,
            "quick": args.quick,
            "jobs": args.jobs,
            "time_scale": args.time_scale,
            "seed": args.seed,
            "latency": "realistic",
            "sdk_concurrency": args.sdk_concurrency,
            "sdk_retries_high": args.sdk_retries_high,
            "units": "durations in emulated seconds/minutes unless named _real; jobs and time_scale are the "
                     "overrides given (null: each workload's own, under workloads.<name>.parameters)",
        },
        "workloads": entries,
        "targets": {name: e["targets"] for name, e in entries.items()},
        "plot": plot_path or None,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
