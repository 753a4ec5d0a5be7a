"""The options of one batch run, as one frozen struct checked once.

`run_batch` / `run_batch_async` take their settings as keywords and build a `BatchOptions` from them
straight away; from there on the one value travels (to endpoint resolution, to the Batch API and Ray
runners, to the signal watcher and the progress display) instead of each function re-listing the
keywords it forwards. A setting that cannot be right whatever else is set is refused here, as a
`ConfigError` naming the keyword, before any file is opened or request sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from typing import TYPE_CHECKING, Any, Final, Literal

import msgspec

from orchestrator._errors import ConfigError
from orchestrator._files import completion_window_problem

if TYPE_CHECKING:
    from rich.console import Console

    from orchestrator._config import Config, ModelLimits
    from orchestrator._endpoint import FileSettings
    from orchestrator.observe._telemetry import Telemetry

__all__ = ["BatchOptions", "PathArg", "Via", "batch_options"]

PathArg = str | PathLike[str]

#: Seconds a job may sit untouched on a worker before another takes it over (the worker is presumed dead).

#: How jobs reach Groq: live calls, the Batch API, or both against a deadline.
Via = Literal["live", "batch-api", "auto"]
_VIAS: Final = ("live", "batch-api", "auto")


class BatchOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Every setting of a batch run; the keywords of `run_batch` / `run_batch_async` are its fields.

    Attributes:
        config: a client `Config`; by default one is built from ``config_file`` and the environment, and
            with no API key and no base URL the embedded emulator is used (one line says so).
        config_file: a TOML file (or parsed `FileSettings`) with defaults; never the API key.
        model: replace every job's model.
        concurrency: requests in flight at once (the worker pool size; default: the config file's, else
            the config's ``workers``, 64). Twice as many jobs are handed to the client at a time, which
            bounds memory and what a Ctrl-C waits for.
        priority_field: top-level input field with an integer priority; higher runs sooner.
        max_retries, timeout, base_url, limits: override the config (``limits`` per model).
        grace: seconds in-flight jobs get to finish after SIGINT/SIGTERM before they are cancelled.
        quiet: no progress display, notice or summary table.
        summary_json: also write the `BatchSummary` as JSON here.
        report: also write a self-contained HTML report of the run here (`orchestrator._report`), also when
            an error of the run stops it.
        console: where progress and the summary are drawn (default: stderr).
        emulator_settings: settings for the embedded emulator, when it is used (or an `Emulator`, to look at what
            it served afterwards).
        environ: environment to read instead of ``os.environ``.
        handle_signals: catch SIGINT/SIGTERM (only possible in the main thread; ignored elsewhere).
        telemetry: observe the run's client with this `Telemetry` (metrics, spans, audit events).
        metrics_port: serve the metrics at ``http://metrics_host:metrics_port/metrics`` while the batch
            runs (0 picks a free port; the URL is logged, and printed unless ``quiet``); a `Telemetry` is
            created if none is given.
        metrics_host: the interface the metrics endpoint binds (loopback by default).
        redis_url: a Redis (``redis://HOST:PORT/DB``) through which every process using the API key shares
            one rate budget (``Config.redis_url``), with ``ray`` too (without it, a Ray actor holds the budget).
        tier: the account's Groq plan (``Config.tier``): RPM and TPD start from its published table.
        model_map: ``{old: new}`` model ids (``Config.model_map``, merged over the config's): every job
            naming ``old`` is sent to ``new``, e.g. to move a file of jobs off a retired model
            (``--model-map OLD=NEW``). Jobs are still recorded under their custom_id. A job whose model
            Groq has shut down, and that no mapping moves, gets one ``model_decommissioned`` error record.
        via: ``live`` (default) sends every job as a live call; ``batch-api`` submits them through Groq's
            Batch API (cheaper, outside the standard rate limits, answered within ``completion_window``);
            ``auto`` gives the live lanes what the rate limits can finish within ``deadline`` and the Batch
            API the rest (see `orchestrator.batch._batch_api`).
        deadline: seconds the live lanes of ``via="auto"`` have (required there).
        completion_window: the Batch API's window, ``24h`` to ``7d``.
        batch_rounds: how many times the Batch API is given a line that expired, was cancelled or failed
            for a passing reason (429, 5xx) before it is recorded as failed.
        batch_max_lines: lines per batch (Groq's limit by default; lower it to split finer).
        poll_interval, poll_max: seconds between status polls of a batch, doubling from the first to the
            second.
        upload_timeout: seconds one upload of a batch file may take.
        prices: a price table TOML replacing the bundled one (`orchestrator._prices`), for the summary's cost.
        show_cost: also print the cost breakdown after the summary (live and batch spend, what live calls
            would have cost, jobs with no price).
        ray: run the jobs on a Ray cluster (`orchestrator.batch._ray`): ``"local"`` starts one here
            (``ray.init()``), anything else is the address of a cluster to join (``ray://HOST:10001``,
            ``auto``). Needs the ``ray`` extra: ``pip install 'groq-orchestrator[ray]'``.
        ray_actors: actors in the Ray stage's pool (one client each, one shared budget).
        ray_batch_size: rows one actor answers at a time.

    Raises:
        ConfigError: on construction, for a setting that is wrong whatever else is set (its ``field``
            names the keyword).
    """

    config: Config | None = None
    config_file: PathArg | FileSettings | None = None
    model: str | None = None
    concurrency: int | None = None
    priority_field: str | None = None
    max_retries: int | None = None
    timeout: float | None = None
    base_url: str | None = None
    limits: Mapping[str, ModelLimits] | None = None
    grace: float = 10.0
    quiet: bool = False
    summary_json: PathArg | None = None
    report: PathArg | None = None
    console: Console | None = None
    emulator_settings: Any = None
    environ: Mapping[str, str] | None = None
    handle_signals: bool = True
    telemetry: Telemetry | None = None
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    redis_url: str | None = None
    tier: str | None = None
    model_map: Mapping[str, str] | None = None
    via: Via = "live"
    deadline: float | None = None
    completion_window: str = "24h"
    batch_rounds: int = 3
    batch_max_lines: int = 50_000
    poll_interval: float = 2.0
    poll_max: float = 60.0
    upload_timeout: float = 900.0
    prices: PathArg | None = None
    show_cost: bool = False
    ray: str | None = None
    ray_actors: int = 4
    ray_batch_size: int = 32

    def __post_init__(self) -> None:
        self._check_via()
        self._check_ray()
        if self.concurrency is not None and self.concurrency < 1:
            raise ConfigError(field="concurrency", value=self.concurrency, rule="must be at least 1")
        if self.grace < 0:
            raise ConfigError(field="grace", value=self.grace, rule="must be zero or more seconds")

    def _check_ray(self) -> None:
        if self.ray is None:
            return
        if self.ray_actors < 1:
            raise ConfigError(field="ray_actors", value=self.ray_actors, rule="must be at least 1")
        if self.ray_batch_size < 1:
            raise ConfigError(field="ray_batch_size", value=self.ray_batch_size, rule="must be at least 1")
        for name, clash in (("via", self.via != "live"), ("priority_field", self.priority_field is not None)):
            if clash:
                raise ConfigError(field=name, value=getattr(self, name),
                                  rule="cannot be used with ray: the Ray stage sends every job live, in Ray's order")

    def _check_via(self) -> None:
        if self.via not in _VIAS:
            raise ConfigError(field="via", value=self.via, rule=f"must be one of {', '.join(_VIAS)}")
        if self.via == "auto" and self.deadline is None:
            raise ConfigError(field="deadline", value=None,
                              rule="is required with via='auto' (--deadline 6h): it is what splits live from batch")
        if self.deadline is not None and not self.deadline > 0:
            raise ConfigError(field="deadline", value=self.deadline, rule="must be more than 0 seconds")
        problem = completion_window_problem(self.completion_window)
        if problem is not None:
            raise ConfigError(field="completion_window", value=self.completion_window,
                              rule=f"{problem}; Groq's Batch API takes 24h to 7d, e.g. '24h' or '7d'")
        if self.batch_rounds < 1:
            raise ConfigError(field="batch_rounds", value=self.batch_rounds, rule="must be at least 1")
        if not 1 <= self.batch_max_lines <= 50_000:
            raise ConfigError(field="batch_max_lines", value=self.batch_max_lines,
                              rule="must be from 1 to 50,000 (the most lines one batch may hold)")
        for name in ("poll_interval", "poll_max", "upload_timeout"):
            if not getattr(self, name) > 0:
                raise ConfigError(field=name, value=getattr(self, name), rule="must be more than 0 seconds")
        if self.via != "live" and self.priority_field is not None:
            raise ConfigError(field="priority_field", value=self.priority_field,
                              rule=f"works with via='live' only; via={self.via!r} leaves the order to Groq")


def batch_options(options: BatchOptions | None, keywords: Mapping[str, Any]) -> BatchOptions:
    """The options of a call: ``options`` (or the defaults) with the keywords given beside it applied over.

    Raises:
        TypeError: a keyword that is not a `BatchOptions` field.
        ConfigError: the result breaks a rule (see `BatchOptions`).
    """
    if options is None:
        return BatchOptions(**keywords)
    return msgspec.structs.replace(options, **keywords) if keywords else options
