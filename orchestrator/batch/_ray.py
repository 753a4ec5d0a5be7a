"""``groq-orch batch JOBS.jsonl -o RESULTS.jsonl --ray [ADDRESS]``: the same batch, on a Ray cluster.

Theory of operation
-------------------
The driver keeps everything a one-machine batch guarantees about files, and gives Ray the rest:

1. **Refuse before sending**, as `orchestrator.batch._local` does: the lock on the results file, the torn
   last line repaired, duplicate custom_ids and changed input lines refused (`open_results`, `scan_input`).
2. **Spool what is left.** The lines no result answers yet are copied to a spool file beside the results,
   each as ``{"line": N, "raw": BASE64}``: the line number keeps ``line-N`` ids right, and base64 keeps
   every byte of a line (invalid UTF-8 included) for the stage to judge, so a bad line still gets its
   error record. Memory stays flat: the copy streams.
3. **Ray answers.** ``ray.data.read_json(spool)`` feeds `orchestrator.ray.groq_chat` (``--ray-actors``
   actors, one client each, one shared budget: ``--redis`` or the cluster's `BudgetStore`). Ray restarts
   a killed actor and runs its batch again; a batch's rows come out once, when it completes.
4. **Record as rows arrive.** The driver streams the output (``iter_batches``) and appends each row's
   ``record`` (the very line the local runner writes) with `ResultWriter`, counting it in the tally and
   the cost. A row whose error is about the run (a refused key: ``aborts_run``) is not written, so a
   resume retries it, and the run stops and raises it. SIGINT/SIGTERM stop the run between batches;
   whatever was not written is done by the next run.

Without an API key or base URL the driver serves the bundled emulator on loopback for the actors (a Ray
actor is another process: the in-process emulator cannot reach it), on the embedded emulator's clock.
"""

from __future__ import annotations

import base64
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import msgspec
import trio
from rich.console import Console

from orchestrator._client import ClientStatistics
from orchestrator._endpoint import Endpoint
from orchestrator._errors import AuthenticationError, AuthorizationError, GroqError
from orchestrator._prices import CostTally, PriceTable
from orchestrator.batch._io import AnsweredIds, ResultWriter, iter_input_lines
from orchestrator.batch._options import BatchOptions
from orchestrator.batch._progress import render_progress
from orchestrator.batch._records import identify
from orchestrator.batch._run import RunState, announce_start, finish_run, open_and_scan, watch_signals
from orchestrator.batch._summary import BatchSummary, BatchTally
from orchestrator.observe._logging import get_logger
from orchestrator._live import redraw

__all__ = ["run_ray_batch_async"]

log = get_logger("orchestrator.batch.ray")

_encode = msgspec.json.Encoder().encode


async def run_ray_batch_async(
    source: Path, readable: Path, target: Path, *, endpoint: Endpoint, options: BatchOptions
) -> BatchSummary:
    """Run the batch on Ray (see the module docstring); the caller holds the lock on ``target``."""
    console = options.console or Console(stderr=True)
    resume, scan = open_and_scan(readable, target)
    if not options.quiet:
        announce_start(console, endpoint, resume, scan, readable, target, options)
    log.info("batch_started", input=str(source), output=str(target), jobs=scan.jobs, answered=scan.answered,
             endpoint=endpoint.description, ray=options.ray or "local")
    costs = CostTally(PriceTable.load(options.prices))
    run = RunState(BatchTally(jobs=scan.jobs, already_done=scan.answered, now=trio.current_time()), costs)
    totals = {"retries": 0, "rate_limited": 0}
    with _spooled(readable, resume.answered, target.parent.resolve()) as (spool, pending):
        async with _actor_settings(endpoint, options) as (settings, where):
            started_ray = await trio.to_thread.run_sync(_init_ray, options.ray, options.quiet)
            try:
                with ResultWriter(target) as writer:
                    async with trio.open_nursery() as nursery:
                        jobs_scope = trio.CancelScope()
                        await watch_signals(nursery, run, jobs_scope, options)
                        if not options.quiet:
                            nursery.start_soon(_show_progress, run, totals, console, str(source), str(target),
                                               where)
                        with jobs_scope:
                            if pending:
                                await _record_rows(run, writer, costs, totals, spool, settings, options)
                        nursery.cancel_scope.cancel()
            finally:
                if started_ray:
                    await trio.to_thread.run_sync(_shutdown_ray)
    summary = run.tally.summary(
        input_path=str(source), output_path=str(target), endpoint=where, now=trio.current_time(),
        retries=totals["retries"], rate_limited=totals["rate_limited"], interrupted_by=run.interrupted_by,
        repaired_bytes=resume.repaired_bytes, costs=costs,
    )
    log.info("batch_finished", succeeded=summary.succeeded, failed=summary.failed, not_run=summary.not_run,
             interrupted_by=summary.interrupted_by)
    return finish_run(run, summary, options, console)


async def _record_rows(run: RunState, writer: ResultWriter, costs: CostTally, totals: dict[str, int],
                       spool: Path, settings: dict[str, Any], options: BatchOptions) -> None:
    """Stream the stage's output into the results file until it ends, a signal, or a run-level error."""
    from orchestrator.ray import groq_chat

    def batches() -> Iterator[dict[str, Any]]:
        import ray

        dataset = groq_chat(ray.data.read_json(str(spool)), column="raw", raw_base64=True,
                            concurrency=options.ray_actors, batch_size=options.ray_batch_size, **settings)
        return iter(dataset.iter_batches(batch_size=None, batch_format="numpy"))

    rows = await trio.to_thread.run_sync(batches)
    while not run.stopping:
        batch = await trio.to_thread.run_sync(next, rows, None, abandon_on_cancel=True)
        if batch is None:
            return
        totals["retries"] += int(batch["retries"].sum())
        totals["rate_limited"] += int(batch["rate_limited"].sum())
        for index in range(len(batch["record"])):
            if batch["aborts_run"][index]:
                run.aborts(_run_error(batch["error_code"][index], batch["error"][index]))
                return
            writer.write(str(batch["record"][index]).encode())  # a whole line, its newline included
            if batch["ok"][index]:
                run.tally.record_success(prompt_tokens=int(batch["prompt_tokens"][index]),
                                         completion_tokens=int(batch["completion_tokens"][index]))
                costs.add(_present(batch["model"][index]) or "", int(batch["prompt_tokens"][index]),
                          int(batch["completion_tokens"][index]), int(batch["cached_tokens"][index]), "live")
            else:
                run.tally.record_failure(str(batch["error_code"][index]), malformed=bool(batch["malformed"][index]))
        await trio.lowlevel.checkpoint()


def _present(value: Any) -> Any:
    """A nullable column's value, None where it is null (a missing string comes back as NaN)."""
    return None if value is None or (isinstance(value, float) and value != value) else value


def _run_error(code: Any, message: Any) -> GroqError:
    """The run-level error an actor met, rebuilt on the driver (the actor's exception stays there)."""
    kind = {"invalid_api_key": AuthenticationError, "permission_denied": AuthorizationError}.get(str(code))
    if kind is not None:
        return kind(str(message), code=str(code))
    return GroqError(str(message), code=None if code is None else str(code))


@contextmanager
def _spooled(readable: Path, answered: AnsweredIds, folder: Path) -> Iterator[tuple[Path, int]]:
    """A temporary JSONL of the lines not answered yet, as ``{"line", "raw"}``, and how many there are."""
    handle, name = tempfile.mkstemp(prefix=".groq-orch-ray-", suffix=".jsonl", dir=folder)
    path = Path(name)
    pending = 0
    try:
        with os.fdopen(handle, "wb") as spool:
            for number, raw in iter_input_lines(readable):
                if identify(raw, number) in answered:
                    continue
                spool.write(_encode({"line": number, "raw": base64.b64encode(raw).decode()}) + b"\n")
                pending += 1
        yield path, pending
    finally:
        path.unlink(missing_ok=True)


@asynccontextmanager
async def _actor_settings(endpoint: Endpoint, options: BatchOptions) -> AsyncIterator[tuple[dict[str, Any], str]]:
    """The `StageSettings` fields the actors need, and where they send: the configured endpoint, or the
    bundled emulator served on loopback for the body of the ``async with``."""
    config = endpoint.config
    settings: dict[str, Any] = {
        "timeout": config.timeout, "max_retries": config.retry_config.max_retries,
        "workers": options.concurrency, "limits": dict(config.rate_limit_config.model_limits) or None,
        "tier": config.tier, "model_map": dict(config.model_map) or None, "redis_url": config.redis_url,
        "model": options.model, "api_key": config.api_key.get_secret_value(),
    }
    if endpoint.emulator is None:
        settings["base_url"] = config.base_url
        yield settings, config.base_url
        return
    from orchestrator.emulator import Emulator
    from orchestrator.emulator._server import open_emulator_server

    emulator = endpoint.emulator if isinstance(endpoint.emulator, Emulator) else Emulator(endpoint.emulator)
    async with open_emulator_server(emulator) as server:
        settings["base_url"] = server.base_url
        settings["time_scale"] = emulator.settings.time_scale
        yield settings, f"emulator at {server.base_url}"


def _init_ray(address: str | None, quiet: bool) -> bool:
    """Connect to the cluster at ``address``, or start a local one; True if this call started Ray.

    Ray's own progress bars and INFO lines would fight our display for the terminal: ours shows the
    batch, Ray's logs keep to warnings (errors only with ``quiet``).
    """
    import ray

    if ray.is_initialized():
        return False
    ray.data.DataContext.get_current().enable_progress_bars = False
    level = logging.ERROR if quiet else logging.WARNING
    ray.init(address=None if address in (None, "", "local") else address, include_dashboard=False,
             logging_level=level, log_to_driver=not quiet)
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(level)
    return True


def _shutdown_ray() -> None:
    import ray

    ray.shutdown()


@contextmanager
def ray_session(options: BatchOptions) -> Iterator[None]:
    """Ray joined (or started) for the body of the ``with``, and left again if this started it."""
    started = _init_ray(options.ray, options.quiet)
    try:
        yield
    finally:
        if started:
            _shutdown_ray()


async def _show_progress(run: RunState, totals: dict[str, int], console: Console, input_path: str,
                         output_path: str, where: str) -> None:
    """The batch's live display. The clients are on the cluster: "in flight" counts the jobs Ray holds, and
    retries and 429s are those of the batches answered so far."""
    def frame() -> Any:
        sample = run.tally.sample(trio.current_time())
        on_cluster = max(0, sample.jobs - sample.done)
        stats = ClientStatistics(queued=0, waiting_for_budget=0, delayed_for_retry=0, in_flight=on_cluster,
                                 streams_open=0, completed=sample.succeeded, failed=sample.failed,
                                 retried=totals["retries"], rate_limited=totals["rate_limited"], breaker="closed")
        return render_progress(sample, stats, {}, input_path=input_path, output_path=output_path,
                               endpoint=f"Ray: {where}", stopping=run.stopping)

    await redraw(console, frame)
