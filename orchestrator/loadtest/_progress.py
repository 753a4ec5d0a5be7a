"""Live progress of ``groq-orch bench``: where the sweep is, and when it will end. Pure but :func:`show_progress`.

A sweep can run for minutes per level against Groq's free tier, so, like ``groq-orch batch``, it shows
a live line on a terminal: the level running (``2/4``), its requests done and failed, in flight, the
429s so far, and an ETA. :class:`BenchProgress` is the run's state at one moment
(``BenchRun.progress()``); :func:`eta` turns it into seconds left; :func:`progress_line` into the text;
:func:`show_progress` redraws it a few times a second (the only IO here).

The ETA of a ``--duration`` sweep is the time its levels have left. For a ``--requests`` sweep it is the
longer of two estimates: the pace so far (requests finished per second since the start), and what the
rate limits allow, which is the *binding limit*: for each window the client knows (RPM, RPD, TPM, TPD),
the requests or tokens still to send beyond the room it sees left now, at the window's refill rate
(``limit`` per window length), as ``orchestrator._expected`` reasons before the run starts. When the
limits give the longer answer, the line names the window that binds. All times are on the endpoint's
clock and are shown on the real one (divided by the time scale).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import msgspec
from rich.text import Text

from actors._windows import WINDOWS
from orchestrator.batch._progress import format_duration
from orchestrator._live import redraw

if TYPE_CHECKING:
    from rich.console import Console

    from orchestrator._client import Client

__all__ = ["BenchProgress", "Eta", "eta", "progress_line", "show_progress"]

#: Real seconds between redraws of the live line.
#: The windows an ETA weighs: those of requests and of tokens (ITPM/OTPM, rare, are left out).
_ETA_WINDOWS: Final = tuple(spec for spec in WINDOWS if spec.kind in ("requests", "tokens"))


class BenchProgress(msgspec.Struct, frozen=True, kw_only=True):
    """A bench run at one moment (times in endpoint seconds).

    Attributes:
        mode: ``concurrency`` or ``rate``; level: the level running; level_index: its position (0-based);
            levels: how many the sweep has.
        done, failed: requests of this level finished (failures included in ``done``), and failed.
        requests_per_level, duration_per_level: the plan's length of a level (one of them is None).
        finished: requests finished since the run started, every level.
        elapsed_s, level_elapsed_s: since the run, and the level, started.
        in_flight: requests the client is sending or streaming; rate_limited: 429 answers so far.
        tokens_per_request: prompt plus completion tokens one request is expected to use.
    """

    mode: str
    level: int | float
    level_index: int
    levels: int
    done: int
    failed: int
    requests_per_level: int | None
    duration_per_level: float | None
    finished: int
    elapsed_s: float
    level_elapsed_s: float
    in_flight: int
    rate_limited: int
    tokens_per_request: int


class Eta(NamedTuple):
    """Seconds left (endpoint clock; None while unknown) and the window that binds them (``"TPM 8,000"``), if any."""

    seconds: float | None
    binding: str | None = None


def _limits_eta(requests: int, tokens: int, snapshot: Any) -> Eta:
    """The time the rate-limit windows need for ``requests`` and ``tokens`` beyond the room left now."""
    worst = Eta(0.0)
    for spec in _ETA_WINDOWS:
        limit = getattr(snapshot.limits, spec.field)
        room = getattr(snapshot, spec.remaining)
        if not limit or room is None:
            continue
        amount = requests if spec.kind == "requests" else tokens
        seconds = max(0.0, amount - room) / limit * spec.seconds
        if seconds > (worst.seconds or 0.0):
            worst = Eta(seconds, f"{spec.name} {limit:,}")
    return worst


def eta(progress: BenchProgress, snapshot: Any = None) -> Eta:
    """Seconds left in the run (see the module docstring); ``snapshot`` is the client's rate-limit view of
    the model (``client.rate_limits()[model]``), or None when it has none yet."""
    later = progress.levels - progress.level_index - 1
    if progress.duration_per_level is not None:
        left = max(0.0, progress.duration_per_level - progress.level_elapsed_s)
        return Eta(later * progress.duration_per_level + left)
    assert progress.requests_per_level is not None
    requests = max(0, later * progress.requests_per_level + progress.requests_per_level - progress.done)
    pace = progress.finished / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
    by_pace = requests / pace if pace > 0 else (0.0 if requests == 0 else None)
    if snapshot is None:
        return Eta(by_pace)
    by_limits = _limits_eta(requests, requests * progress.tokens_per_request, snapshot)
    if by_pace is None or (by_limits.seconds or 0.0) > by_pace:
        return by_limits if by_limits.binding is not None else Eta(by_pace)
    return Eta(by_pace)


def progress_line(progress: BenchProgress, remaining: Eta, *, time_scale: float = 1.0) -> str:
    """``level 2/4 (concurrency 4): 12/20 done, ETA 0:10 (TPM 8,000 binds); 1 failed, 4 in flight, 0 429s,
    elapsed 0:03``: times on the real clock, the ETA early so that a narrow terminal keeps it."""
    name = "rate" if progress.mode == "rate" else "concurrency"
    label = f"{progress.level:g}/s" if progress.mode == "rate" else f"{progress.level:g}"
    if progress.requests_per_level is not None:
        done = f"{progress.done:,}/{progress.requests_per_level:,} done"
    else:
        done = (f"{progress.done:,} done, {format_duration(progress.level_elapsed_s / time_scale)} of "
                f"{format_duration((progress.duration_per_level or 0.0) / time_scale)}")
    seconds = None if remaining.seconds is None else remaining.seconds / time_scale
    binds = f" ({remaining.binding} binds)" if remaining.binding else ""
    return (f"level {progress.level_index + 1}/{progress.levels} ({name} {label}): {done}, ETA "
            f"{format_duration(seconds)}{binds}; {progress.failed:,} failed, {progress.in_flight:,} in flight, "
            f"{progress.rate_limited:,} 429s, elapsed {format_duration(progress.elapsed_s / time_scale)}")


async def show_progress(
    progress: Callable[[], BenchProgress], client: Client, console: Console, *, model: str, time_scale: float
) -> None:
    """Redraw the live line on ``console`` until cancelled; ``progress()`` returns the run's :class:`BenchProgress`."""

    def frame() -> Text:
        snapshots: Mapping[str, Any] = client.rate_limits()
        now = progress()
        return Text(progress_line(now, eta(now, snapshots.get(model)), time_scale=time_scale))

    await redraw(console, frame)
