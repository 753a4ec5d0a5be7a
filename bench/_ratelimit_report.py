"""The rate-limit benchmark's numbers, verdicts and plot, from each contender's :class:`RunResult`.

Units: the emulator compresses time by ``time_scale``, so every duration reported here is in
*emulated* seconds or minutes (real seconds times ``time_scale``), the time the rate limits
are defined in; the wall time is also given in real seconds.

- **goodput**: prompt + completion tokens of the jobs that succeeded, per emulated minute of
  wall time, as a share of the TPM limit. A fresh Groq bucket starts full, so a run of ``m``
  minutes can use at most ``(m + 1) * TPM`` tokens: short runs can exceed 100 %.
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
from typing import Any

from _common import percentile, print_table
from _ratelimit_contenders import RunResult

__all__ = ["contender_metrics", "plot", "print_results", "series", "verdicts"]


def contender_metrics(result: RunResult, *, jobs: int, tpm: int, time_scale: float) -> dict[str, Any]:
    """The per-contender numbers of the table and the JSON."""
    records = result.records
    ok = [record for record in records if record.ok]
    tokens = sum(record.tokens for record in ok)
    wall_min = result.wall_seconds * time_scale / 60.0
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
    """The issue's goals for ``ours``: >= 90 % of TPM, < 1 % 429s, fewer failed jobs than every peer.

    Keys are ``"<contender>.<goal>"``, each value has a boolean ``met``. Zero failed jobs is the
    floor: if a peer also fails none, ours cannot fail fewer, and the goal counts as met.
    """
    mine = metrics[ours]
    goodput = mine["goodput_share_of_tpm"]
    share = mine["rate_limited_share"]
    peer_failed = {peer: metrics[peer]["failed"] for peer in peers}
    fewer = mine["failed"] == 0 or all(mine["failed"] < failed for failed in peer_failed.values())
    return {
        f"{ours}.goodput_at_least_90_percent": {"value": goodput, "target": 0.90, "met": goodput >= 0.90},
        f"{ours}.rate_limited_below_1_percent": {"value": share, "target": 0.01, "met": share < 0.01},
        f"{ours}.fewer_failed_than_every_peer": {"value": mine["failed"], "peers": peer_failed, "met": fewer},
    }


def print_results(
    metrics: dict[str, dict[str, Any]], labels: dict[str, str], targets: dict[str, dict[str, Any]], *, tier: str = "free"
) -> None:
    """The table, then one MET / NOT MET line per goal."""
    rows = []
    for name, values in metrics.items():
        rows.append(
            [
                labels[name],
                values["wall_seconds_real"],
                values["wall_minutes_emulated"],
                f"{values['goodput_share_of_tpm'] * 100:.1f} %",
                values["rate_limited"],
                f"{values['rate_limited_share'] * 100:.1f} %",
                values["retries"],
                values["failed"],
                values["latency_p50_s"],
                values["latency_p95_s"],
            ]
        )
    print_table(
        f"Rate limits: N jobs against one emulator (fresh per contender), time-scaled {tier} tier",
        ["contender", "wall s", "wall min*", "goodput/TPM", "429s", "429 share", "retries", "failed", "p50 s*", "p95 s*"],
        rows,
    )
    print("* emulated time (real x time_scale); goodput = prompt+completion tokens of successful jobs per emulated minute")
    for key, target in targets.items():
        contender, goal = key.split(".", 1)
        verdict = "MET" if target["met"] else "NOT MET"
        if goal == "goodput_at_least_90_percent":
            text = f"goodput >= 90 % of TPM: {target['value'] * 100:.1f} %"
        elif goal == "rate_limited_below_1_percent":
            text = f"429s < 1 % of requests: {target['value'] * 100:.2f} %"
        else:
            text = f"fewer failed jobs than every peer: {target['value']} vs {target['peers']}"
        print(f"target {labels[contender]}: {text} -> {verdict}")


def plot(
    path: str,
    curves: dict[str, list[tuple[float, int]]],
    smooth: dict[str, list[tuple[float, int]]],
    labels: dict[str, str],
    *,
    tpm: int,
    title: str,
) -> None:
    """Tokens per minute over emulated time against the TPM limit, one line per contender.

    Two panels on one time axis: the trailing one-minute window (what the server's bucket
    sees, bursts and all) and the trailing five-minute average (the sustained rate).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), dpi=110, sharex=True)
    for axes, data, what in ((top, curves, "tokens in the trailing minute"), (bottom, smooth, "tokens/min, trailing 5 min")):
        for name, points in data.items():
            axes.plot([t for t, _ in points], [v for _, v in points], label=labels[name], linewidth=1.2)
        axes.axhline(tpm, color="black", linestyle="--", linewidth=1.2, label=f"TPM limit ({tpm:,})")
        axes.set_ylabel(what)
        axes.set_ylim(bottom=0)
        axes.grid(True, alpha=0.3)
    top.set_title(title)
    bottom.set_xlabel("emulated time (minutes)")
    handles, names = bottom.get_legend_handles_labels()
    figure.legend(handles, names, loc="lower center", ncol=3, fontsize="small", frameon=False)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    figure.savefig(path)
    plt.close(figure)
