"""The rate-limit benchmark's numbers, verdicts and plot, from each contender's :class:`RunResult`.

Units: the emulator compresses time by ``time_scale``, so every duration reported here is in
*emulated* seconds or minutes (real seconds times ``time_scale``), the time the rate limits
are defined in; the wall time is also given in real seconds.

- **goodput**: prompt + completion tokens (what ``usage`` reports) of the jobs that succeeded,
  per emulated minute of wall time, as a share of the TPM limit (of the *sum* of the TPM limits
  when a workload uses several models: each model has buckets of its own). A fresh Groq bucket
  starts full, so a run of ``m`` minutes can use up to ``(m + 1) * TPM`` tokens: short runs can
  exceed 100 %.
- **physical limit** (:func:`physical_limit_tokens`): the most used tokens a perfect client
  could get through the emulator's buckets in the contender's wall time, and the goodput as a
  share of it, ``goodput_share_of_physical``: 100 % means nothing was left on the table.
- **429s**: the emulator's count, and as a share of all requests it received.
- **retries**: requests sent beyond each job's first.
- **job latency**: from a job's first request to its final outcome (success, or giving up),
  retries and their waits included; time spent queued before the first send is not included.
- **tokens/min series**: tokens of the responses that finished within the trailing emulated
  minute (and, smoothed, the trailing five minutes divided by five), sampled every ``step``
  emulated seconds; the plot draws both.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any, Final

from _common import percentile, print_table
from _ratelimit_contenders import RunResult

from orchestrator._tokens import MESSAGE_OVERHEAD_TOKENS, estimate_text_tokens

__all__ = [
    "Limits",
    "contender_metrics",
    "daily_windows_that_can_bind",
    "physical_limit_tokens",
    "plot",
    "print_results",
    "series",
    "token_ceiling",
    "verdicts",
]

#: Per model, ``(rpm, rpd, tpm, tpd)``: what the emulator serves (``EmulatorSettings(limits=...)``).
Limits = Mapping[str, tuple[int, int, int, int]]

_MINUTES_PER_DAY: Final = 24 * 60


def physical_limit_tokens(limits: Limits, minutes: float, *, daily: Collection[str] = ()) -> float:
    """The most used tokens a perfect client could get through ``limits`` in ``minutes``: the physical limit.

    Summed over the models (each has buckets of its own), per model::

        TPM * (minutes + 1)                              # and, for a model in ``daily``:
        min(TPM * (minutes + 1), TPD * (1 + minutes / 1440))

    Why: the emulator's token windows are buckets of capacity ``limit`` that start full and refill
    continuously at ``limit / period``, never above the capacity. It charges a request its prompt
    plus its ``max_completion_tokens`` at admission (all or nothing: a denied request costs
    nothing) and gives the unused budget back when the request finishes, so what a finished
    request keeps charged is what it used (``prompt_tokens - cached_tokens + completion_tokens``).
    Admission needs the whole reservation in the bucket, so the level never goes below zero, and
    at the end of a run (every request finished) the tokens used come to at most the one full
    bucket it started with plus everything that refilled: ``capacity + rate * duration``, in TPM's
    terms ``TPM + TPM * minutes``. The reservation changes *when* tokens can be spent, not how many:
    a perfect client keeps the bucket from ever sitting full (refill above the capacity is lost)
    and ends within one job's unused budget of the limit, since the last job's reservation had to
    fit before it ran (a few hundred tokens; about 2,000 with 2,048-token budgets).

    What the limit leaves out, and why it may:

    - **TPD** is a bucket like TPM, but it binds a workload only if the workload can empty it, and
      it cannot when all the tokens these jobs could ever use, plus one TPM of reservations in
      flight, fit in it. So TPD enters only for the models in ``daily``, those for which
      :func:`daily_windows_that_can_bind` says it can bind. Counting it anyway would be wrong the
      other way: on the free tier its bound (200,000 + 139 tokens a minute) falls below TPM's
      (8,000 + 8,000 a minute) after about 24 emulated minutes, so a slow run would be measured
      against a lower limit than a fast one, and look better for being slow.
    - **RPM and RPD** count requests: at the TPM bound the jobs need about 17 requests a
      minute against 30 RPM on the free tier (535 against 1,000 RPM on the Developer plan), and
      the runs stay well under RPD (denied requests are not charged).
    - **Cached prompt tokens** are given back after the response (Groq does the same) and
      ``usage`` still counts them, so cache hits could lift goodput above the limit. This
      workload's prompts share no cacheable prefix (the shared system prompts are below the
      emulator's 128-token block), so ``cached_tokens`` is 0 throughout.

    ``minutes`` is the contender's wall time in emulated minutes, from before its first request to
    after its last response; the buckets are created by the first request, so they are no older.
    """
    total = 0.0
    for model, (_, _, tpm, tpd) in limits.items():
        bound = tpm * (minutes + 1.0)
        if model in daily:
            bound = min(bound, tpd * (1.0 + minutes / _MINUTES_PER_DAY))
        total += bound
    return total


def token_ceiling(jobs: list[tuple[Any, dict[str, Any]]], completion_max: int) -> dict[str, int]:
    """Per model, the most tokens the jobs can use: prompt estimate + ``min(budget, completion_max)`` each.

    ``completion_max`` is the emulator's longest natural completion (``EmulatorSettings.completion_tokens``,
    reasoning included), so no job uses more; the prompt estimate is the emulator's own (4 tokens per
    message plus ``ceil(chars / 4)``, ``orchestrator._tokens``), which is what ``usage`` reports.
    """
    ceiling: dict[str, int] = {}
    for _, request in jobs:
        prompt = sum(MESSAGE_OVERHEAD_TOKENS + estimate_text_tokens(m["content"]) for m in request["messages"])
        used = prompt + min(request["max_completion_tokens"], completion_max)
        ceiling[request["model"]] = ceiling.get(request["model"], 0) + used
    return ceiling


def daily_windows_that_can_bind(ceiling: Mapping[str, int], limits: Limits) -> list[str]:
    """The models whose TPD bucket these jobs could empty: ``ceiling + TPM > TPD``.

    The TPD bucket starts full and is charged every admitted request's reservation until the request
    finishes, then what it used. At any moment that is at most what the finished jobs used plus the
    reservations in flight, and those are admitted by the TPM bucket as well, so they come to at most
    about one TPM's worth. If the jobs' whole ceiling plus one TPM fits in TPD, TPD never refuses
    any request of the run.
    """
    return [model for model, (_, _, tpm, tpd) in limits.items() if ceiling.get(model, 0) + tpm > tpd]


def contender_metrics(
    result: RunResult,
    *,
    jobs: int,
    limits: Limits,
    time_scale: float,
    model_of: Mapping[Any, str],
    daily: Collection[str] = (),
) -> dict[str, Any]:
    """The per-contender numbers of the table and the JSON.

    ``limits`` are every model's limits the workload uses (goodput is measured against the sum of
    their TPMs); ``model_of`` maps a job's key to its model; ``daily`` the models whose TPD enters the
    physical limit (:func:`physical_limit_tokens`).

    ``goodput_share_of_physical`` is that of the *binding* model: the largest, over the models, of the
    tokens its jobs used over its own physical limit. One model's buckets cannot serve another's jobs,
    so a perfect client finishes when the most loaded model's jobs do, and that model is then at 100 %
    (with one model it is simply the tokens over the physical limit).
    """
    records = result.records
    ok = [record for record in records if record.ok]
    tokens = sum(record.tokens for record in ok)
    by_model = {model: 0 for model in limits}
    for record in ok:
        by_model[model_of[record.key]] += record.tokens
    wall_min = result.wall_seconds * time_scale / 60.0
    tpm = sum(row[2] for row in limits.values())
    per_model = {model: physical_limit_tokens({model: row}, wall_min, daily=daily) for model, row in limits.items()}
    physical = sum(per_model.values())
    binding = max(by_model[model] / limit for model, limit in per_model.items())
    latencies = [(record.finished - record.first_sent) * time_scale for record in records]
    server = result.server
    requests = sum(server.responses_by_status.values()) if server is not None else result.requests_sent
    rate_limited = server.rate_limited if server is not None else result.rate_limited_seen
    return {
        "jobs": jobs,
        "succeeded": len(ok),
        "failed": jobs - len(ok),
        "wall_seconds_real": result.wall_seconds,
        "wall_minutes_emulated": wall_min,
        "tokens": tokens,
        "tokens_per_minute": tokens / wall_min if wall_min > 0 else math.nan,
        "goodput_share_of_tpm": tokens / wall_min / tpm if wall_min > 0 else math.nan,
        "tpm_limit": tpm,
        "physical_limit_tokens": physical,
        "tokens_by_model": by_model,
        "goodput_share_of_physical": binding,
        "requests": requests,
        "requests_client_counted": result.requests_sent,
        "rate_limited": rate_limited,
        "rate_limited_client_counted": result.rate_limited_seen,
        "rate_limited_share": rate_limited / requests if requests else 0.0,
        "retries": max(0, requests - jobs),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "peak_tokens_per_minute": max((value for _, value in series(result, time_scale=time_scale)), default=0),
        "server_responses_by_status": dict(server.responses_by_status) if server is not None else {},
        "reasons": dict(result.reasons),
    }


def series(
    result: RunResult, *, time_scale: float, step: float = 5.0, minutes: int = 1
) -> list[tuple[float, int]]:
    """``(emulated minute, tokens per minute)`` every ``step`` emulated seconds.

    The rate is the tokens of the responses that finished in the trailing ``minutes`` emulated
    minutes, divided by ``minutes`` (by the time elapsed, if less, but at least one minute):
    1 shows bursts as the server's bucket sees them, 5 the sustained rate.
    """
    span = 60.0 * minutes
    events = sorted((record.finished * time_scale, record.tokens) for record in result.records if record.ok)
    end = result.wall_seconds * time_scale
    points: list[tuple[float, int]] = []
    window = 0
    head = tail = 0
    at = 0.0
    while True:
        while head < len(events) and events[head][0] <= at:
            window += events[head][1]
            head += 1
        while tail < head and events[tail][0] <= at - span:
            window -= events[tail][1]
            tail += 1
        # Before ``minutes`` have passed, average over the time elapsed (but at least a minute).
        points.append((round(at / 60.0, 4), round(window * 60.0 / max(60.0, min(span, at)))))
        if at >= end:
            return points
        at = min(end, at + step)


def verdicts(metrics: dict[str, dict[str, Any]], ours: str, peers: list[str]) -> dict[str, dict[str, Any]]:
    """Issue #14's goals for ``ours``: >= 97 % of the physical limit, 429s under 0.5 % of requests
    (none at all when the limits are known, contender ``ours``), and no failed job.

    Keys are ``"<contender>.<goal>"``, each value has a boolean ``met``; the peers' failed jobs are
    kept beside the last for the table's reader.
    """
    mine = metrics[ours]
    physical = mine["goodput_share_of_physical"]
    share = mine["rate_limited_share"]
    known = ours == "ours"
    rate_goal = (
        {"value": mine["rate_limited"], "target": 0, "met": mine["rate_limited"] == 0}
        if known
        else {"value": share, "target": 0.005, "met": share < 0.005}
    )
    return {
        f"{ours}.goodput_at_least_97_percent_of_physical": {"value": physical, "target": 0.97, "met": physical >= 0.97},
        f"{ours}.{'no_429s' if known else 'rate_limited_below_half_a_percent'}": rate_goal,
        f"{ours}.no_failed_job": {
            "value": mine["failed"],
            "peers": {peer: metrics[peer]["failed"] for peer in peers},
            "met": mine["failed"] == 0,
        },
    }


def print_results(workloads: Mapping[str, Mapping[str, Any]]) -> None:
    """One table of every workload's contenders, then one MET / NOT MET line per goal.

    ``workloads`` maps a workload's name to its ``metrics`` (per contender), ``labels`` and ``targets``.
    """
    rows = []
    for workload, entry in workloads.items():
        for name, values in entry["metrics"].items():
            rows.append(
                [
                    workload,
                    entry["labels"][name],
                    values["wall_seconds_real"],
                    values["wall_minutes_emulated"],
                    f"{values['goodput_share_of_tpm'] * 100:.1f} %",
                    f"{values['goodput_share_of_physical'] * 100:.1f} %",
                    values["rate_limited"],
                    f"{values['rate_limited_share'] * 100:.1f} %",
                    values["failed"],
                ]
            )
    print_table(
        "Rate limits: each workload's jobs against one emulator per contender (fresh, same seed), time-scaled",
        ["workload", "contender", "wall s", "wall min*", "goodput/TPM", "of physical", "429s", "429 share", "failed"],
        rows,
    )
    print(
        "* emulated time (real x time_scale); goodput = prompt+completion tokens of successful jobs per emulated\n"
        "  minute, against the sum of the workload's TPM limits; of physical = tokens over the most the buckets\n"
        "  let through in the contender's wall time, TPM x (minutes + 1), for the most loaded model"
    )
    for workload, entry in workloads.items():
        labels = entry["labels"]
        for key, target in entry["targets"].items():
            contender, goal = key.split(".", 1)
            verdict = "MET" if target["met"] else "NOT MET"
            if goal == "goodput_at_least_97_percent_of_physical":
                text = f"goodput >= 97 % of the physical limit: {target['value'] * 100:.1f} %"
            elif goal == "no_429s":
                text = f"no 429 with the limits known: {target['value']}"
            elif goal == "rate_limited_below_half_a_percent":
                text = f"429s < 0.5 % of requests: {target['value'] * 100:.2f} %"
            else:
                text = f"no failed job: {target['value']} (peers {target['peers']})"
            print(f"target [{workload}] {labels[contender]}: {text} -> {verdict}")


def plot(path: str, panels: list[dict[str, Any]], legend: Mapping[str, str]) -> None:
    """Tokens per minute over emulated time against the TPM limit: a row per workload, a line per contender.

    Each panel is a dict with ``title``, ``tpm`` (the line to draw: the sum of the workload's TPMs),
    ``curves`` and ``smooth`` (contender -> ``series`` points). Per row, two panels: the trailing
    one-minute window (what the server's bucket sees, bursts and all) and the trailing five-minute
    average (the sustained rate). A contender has the same colour in every row; ``legend`` names them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {name: f"C{index}" for index, name in enumerate(legend)}
    figure, grid = plt.subplots(len(panels), 2, figsize=(13, 3.3 * len(panels) + 0.8), dpi=100, squeeze=False)
    for row, panel in zip(grid, panels, strict=True):
        views = ((row[0], panel["curves"], "trailing minute"), (row[1], panel["smooth"], "trailing 5 min"))
        for axes, data, what in views:
            for name, points in data.items():
                axes.plot([t for t, _ in points], [v for _, v in points], color=colours[name], linewidth=1.1)
            axes.axhline(panel["tpm"], color="black", linestyle="--", linewidth=1.1)
            axes.set_title(f"{panel['title']}: {what}", fontsize="small")
            axes.set_ylabel("tokens/min")
            axes.set_ylim(bottom=0)
            axes.grid(True, alpha=0.3)
        for axes in row:
            axes.set_xlabel("emulated time (minutes)", fontsize="small")
    handles = [plt.Line2D([], [], color=colours[name], linewidth=1.5) for name in legend]
    handles.append(plt.Line2D([], [], color="black", linestyle="--", linewidth=1.1))
    figure.legend(handles, [*legend.values(), "TPM limit (sum over the workload's models)"], loc="lower center",
                  ncol=3, fontsize="small", frameon=False)
    figure.tight_layout(rect=(0, 0.8 / (3.3 * len(panels) + 0.8) + 0.02, 1, 1))
    figure.savefig(path)
    plt.close(figure)
