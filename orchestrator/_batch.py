"""The batch runner: a JSONL file of chat jobs in, a JSONL file of results out, resumable, nothing lost.

Theory of operation
-------------------
1. **Refuse before sending.** The results file is opened first: a torn last line from a crash is
   truncated, and the custom_ids already answered are collected (8 bytes each). Then one streaming pass
   over the input counts the jobs and refuses duplicate custom_ids, naming their lines. Nothing has been
   sent yet, so a refusal costs nothing.
2. **Stream.** A lazy generator reads the input line by line, skips answered ids, turns unusable lines
   into error records on the spot, and hands the rest to `Client.map`, which keeps at most
   ``max_in_flight`` jobs alive. Memory is bounded by that window, whatever the file size.
3. **Record as each finishes.** Every result becomes one line appended with a single write (see
   `ResultWriter`), so a SIGKILL leaves at most a torn last line, which step 1 repairs on the next run.
   Every input line ends up with exactly one result line: success, API error, validation error or bad line.
4. **Stop on run-level errors.** A refused API key (401/403) or a fail-fast open breaker says nothing
   about the job, so it gets no result line (resume will retry it); the batch stops and raises it.
5. **Stop gracefully.** On SIGINT/SIGTERM the generator stops taking new jobs; jobs already in flight get
   ``grace`` seconds to finish and be recorded, then the rest are cancelled and *not* recorded, so the
   next run does them. A second signal cancels at once.

Priorities (``priority_field``): the client's map runs jobs in the order it receives them, so the
runner reorders a bounded read-ahead window (the size of the in-flight window) by priority, highest
first; across the whole file, order still follows the file.
"""

from __future__ import annotations

import heapq
from functools import partial
import signal
import threading
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from os import PathLike
from pathlib import Path
from typing import Any, Protocol

import msgspec
import trio
from rich.console import Console
from rich.live import Live

from orchestrator._batch_io import AnsweredIds, ResultWriter, iter_input_lines, open_results, scan_input
from orchestrator._batch_records import (
    BadLine,
    Job,
    bad_line_record,
    encode_record,
    failure_record,
    identify,
    parse_line,
    success_record,
)
from orchestrator._batch_summary import BatchSummary, BatchTally
from orchestrator._client import Client
from orchestrator._config import Config, ModelLimits, RateLimitConfig
from orchestrator._endpoint import Endpoint, FileSettings, load_config_file, open_endpoint, resolve_endpoint
from orchestrator._errors import AuthenticationError, AuthorizationError, CircuitOpenError, ConfigError, GroqError
from orchestrator._logging import get_logger
from orchestrator._map import JobResult
from orchestrator._progress import render_progress, render_summary
from orchestrator._telemetry import Telemetry

__all__ = ["run_batch", "run_batch_async"]

log = get_logger("orchestrator.batch")

_REFRESH_SECONDS = 0.25
# Checkpoint every this many input lines, so skipping a long answered prefix never starves trio.
_CHECKPOINT_EVERY = 256

PathArg = str | PathLike[str]

# Errors that condemn the whole run, not one job: no result line is written and the batch stops.
_ABORTS_RUN = (AuthenticationError, AuthorizationError, CircuitOpenError)


class _Run:
    """The state of one batch run: files, tally, and the stop flag the signal handler sets."""

    def __init__(
        self,
        *,
        input_path: Path,
        output_path: Path,
        writer: ResultWriter,
        tally: BatchTally,
        answered: AnsweredIds,
        model: str | None,
        priority_field: str | None,
        window: int,
    ) -> None:
        self.input_path = input_path
        self.output_path = output_path
        self.writer = writer
        self.tally = tally
        self.answered = answered
        self.model = model
        self.priority_field = priority_field
        self.window = window
        self.stopping = False
        self.interrupted_by: str | None = None
        self.fatal: GroqError | None = None

    async def jobs(self) -> AsyncIterator[Job]:
        """Unanswered jobs in file order; unusable lines are recorded here and never yielded."""
        for count, (number, raw) in enumerate(iter_input_lines(self.input_path), start=1):
            if count % _CHECKPOINT_EVERY == 0:
                await trio.lowlevel.checkpoint()
            if self.stopping:
                return
            if identify(raw, number) in self.answered:
                continue
            parsed = parse_line(raw, number, model=self.model, priority_field=self.priority_field)
            if isinstance(parsed, BadLine):
                self.writer.write(encode_record(bad_line_record(parsed)))
                self.tally.record_failure(parsed.code, malformed=True)
                continue
            yield parsed

    async def prioritized(self) -> AsyncIterator[Job]:
        """`jobs` reordered by priority within a read-ahead window of ``window`` jobs (bounded heap)."""
        heap: list[tuple[int, int, Job]] = []
        async for job in self.jobs():
            heapq.heappush(heap, (-job.priority, job.line, job))
            if len(heap) >= self.window:
                yield heapq.heappop(heap)[2]
        while heap and not self.stopping:
            yield heapq.heappop(heap)[2]

    async def pairs(self) -> AsyncIterator[tuple[Job, Any]]:
        """The (key, request) pairs `Client.map` consumes; the key is the whole `Job`."""
        source = self.prioritized() if self.priority_field else self.jobs()
        async for job in source:
            yield job, job.request

    def record(self, result: JobResult) -> bool:
        """Write the result line for one finished job and count it.

        Returns False, writing nothing, for an error that is about the run rather than the job (a refused
        API key, an open breaker in fail-fast mode): recording it would mark the job answered, and resume
        would never retry it. The caller stops the batch instead; `fatal` holds the error.
        """
        job: Job = result.key
        if isinstance(result.error, _ABORTS_RUN):
            if self.fatal is None:
                self.fatal = result.error
            self.stopping = True
            return False
        if result.error is None:
            response = result.response
            self.writer.write(
                encode_record(
                    success_record(
                        job.custom_id, response, status_code=result.status_code or 200, request_id=result.request_id
                    )
                )
            )
            usage = response.usage
            self.tally.record_success(
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0,
            )
            return True
        record = failure_record(
            job.custom_id,
            job.line,
            result.error,
            status_code=result.status_code,
            request_id=result.request_id,
            attempts=result.attempts,
        )
        self.writer.write(encode_record(record))
        assert record.error is not None
        self.tally.record_failure(record.error.code)
        return True

    def stop(self, signum: int) -> None:
        """Stop taking new jobs (first signal wins the name reported in the summary)."""
        if self.interrupted_by is None:
            self.interrupted_by = signal.Signals(signum).name
        self.stopping = True


def _resolve(
    *,
    config: Config | None,
    config_file: PathArg | FileSettings | None,
    base_url: str | None,
    timeout: float | None,
    max_retries: int | None,
    concurrency: int | None,
    limits: Mapping[str, ModelLimits] | None,
    emulator_settings: Any,
    environ: Mapping[str, str] | None,
) -> Endpoint:
    if config is not None:
        changes: dict[str, Any] = {}
        for name, value in (
            ("base_url", base_url), ("timeout", timeout), ("max_retries", max_retries), ("workers", concurrency),
        ):
            if value is not None:
                changes[name] = value
        if limits:
            merged = {**config.rate_limit_config.model_limits, **limits}
            changes["rate_limit_config"] = RateLimitConfig(model_limits=merged)
        return Endpoint(config.replace(**changes))
    file = config_file if isinstance(config_file, FileSettings) or config_file is None else load_config_file(Path(config_file))
    return resolve_endpoint(
        environ=environ,
        file=file,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        concurrency=concurrency,
        limits=limits,
        emulator_settings=emulator_settings,
    )


async def run_batch_async(
    input_path: PathArg,
    output_path: PathArg,
    *,
    config: Config | None = None,
    config_file: PathArg | FileSettings | None = None,
    model: str | None = None,
    concurrency: int | None = None,
    priority_field: str | None = None,
    max_retries: int | None = None,
    timeout: float | None = None,
    base_url: str | None = None,
    limits: Mapping[str, ModelLimits] | None = None,
    grace: float = 10.0,
    quiet: bool = False,
    summary_json: PathArg | None = None,
    console: Console | None = None,
    emulator_settings: Any = None,
    environ: Mapping[str, str] | None = None,
    handle_signals: bool = True,
    telemetry: Telemetry | None = None,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    redis_url: str | None = None,
    workers_join: str | None = None,
    reclaim_after: float = 30.0,
    tier: str | None = None,
    model_map: Mapping[str, str] | None = None,
) -> BatchSummary:
    """Run every chat job in ``input_path`` and append one result line per job to ``output_path`` (trio).

    Re-running the same call resumes: jobs already answered in ``output_path`` are skipped, and a torn
    last line left by a crash is repaired first. See the module docstring for the guarantees.

    Args:
        input_path: JSONL jobs, batch format or plain chat bodies.
        output_path: JSONL results (created, or appended to when resuming).
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
        console: where progress and the summary are drawn (default: stderr).
        emulator_settings: settings for the embedded emulator, when it is used.
        environ: environment to read instead of ``os.environ``.
        handle_signals: catch SIGINT/SIGTERM (only possible in the main thread; ignored elsewhere).
        telemetry: observe the run's client with this `Telemetry` (metrics, spans, audit events).
        metrics_port: serve the metrics at ``http://metrics_host:metrics_port/metrics`` while the batch
            runs (0 picks a free port; the URL is logged, and printed unless ``quiet``); a `Telemetry` is
            created if none is given.
        metrics_host: the interface the metrics endpoint binds (loopback by default).
        redis_url: a Redis (``redis://HOST:PORT/DB``) through which every process using the API key shares
            one rate budget (``Config.redis_url``); it also holds a shared batch (``workers_join``).
        workers_join: work shared batch NAME together with every process, on any machine, that joins it
            with the same input (see `orchestrator._batch_redis`); the results reach ``output_path`` when
            the batch is finished, or on ``groq-orch batch collect``.
        reclaim_after: in a shared batch, seconds a job may sit untouched on a worker before another
            worker takes it over (the first is presumed dead).
        tier: the account's Groq plan (``Config.tier``): RPM and TPD start from its published table.
        model_map: ``{old: new}`` model ids (``Config.model_map``, merged over the config's): every job
            naming ``old`` is sent to ``new``, e.g. to move a file of jobs off a retired model
            (``--model-map OLD=NEW``). Jobs are still recorded under their custom_id. A job whose model
            Groq has shut down, and that no mapping moves, gets one ``model_decommissioned`` error record.

    Returns:
        The run's `BatchSummary`; ``summary.exit_code`` is what the CLI exits with.

    Raises:
        AuthenticationError, AuthorizationError, CircuitOpenError: the endpoint refused the run itself; the
            batch stopped, jobs already answered keep their lines, and the rest are left for a re-run.
        DuplicateCustomIdError: the input repeats custom_ids (nothing sent).
        BatchFileError: the results file has a corrupt line before its last.
        ConfigError: a setting is invalid.
        OSError: a file cannot be read or written.
    """
    if concurrency is not None and concurrency < 1:
        raise ConfigError(field="concurrency", value=concurrency, rule="must be at least 1")
    if grace < 0:
        raise ConfigError(field="grace", value=grace, rule="must be zero or more seconds")
    source, target = Path(input_path), Path(output_path)
    if target.exists() and source.exists() and source.resolve() == target.resolve():
        raise ConfigError(field="output", value=str(target), rule="must differ from the input file")
    endpoint = _resolve(
        config=config, config_file=config_file, base_url=base_url, timeout=timeout, max_retries=max_retries,
        concurrency=concurrency, limits=limits, emulator_settings=emulator_settings, environ=environ,
    )
    console = console or Console(stderr=True)
    if tier is not None:
        endpoint = msgspec.structs.replace(endpoint, config=endpoint.config.replace(tier=tier))
    if model_map:
        merged_map = {**endpoint.config.model_map, **model_map}
        endpoint = msgspec.structs.replace(endpoint, config=endpoint.config.replace(model_map=merged_map))
    if redis_url and endpoint.config.redis_url != redis_url:
        # The Redis of a shared batch also carries the shared rate budget of every process using the key.
        endpoint = msgspec.structs.replace(endpoint, config=endpoint.config.replace(redis_url=redis_url))
    if workers_join is not None:
        from orchestrator._batch_redis import run_shared_batch_async
        from orchestrator._batch_redis_store import batch_name_problem

        shared_url = redis_url or endpoint.config.redis_url
        if not shared_url:
            raise ConfigError(field="redis_url", value=redis_url,
                              rule="is required with workers_join (--redis URL): the shared batch lives in Redis")
        if priority_field is not None:
            raise ConfigError(field="priority_field", value=priority_field,
                              rule="cannot order a shared batch (--workers-join): workers take jobs as they come")
        problem = batch_name_problem(workers_join)
        if problem is not None:
            raise ConfigError(problem, field="workers_join")
        return await run_shared_batch_async(
            source, target, redis_url=shared_url, name=workers_join, endpoint=endpoint, model=model, grace=grace,
            quiet=quiet, summary_json=summary_json, console=console, handle_signals=handle_signals,
            reclaim_after=reclaim_after, telemetry=telemetry, metrics_port=metrics_port, metrics_host=metrics_host,
        )
    resume = open_results(target)
    scan = scan_input(source, resume.answered)
    if not quiet:
        if endpoint.notice:
            console.print(endpoint.notice, style="yellow", highlight=False, soft_wrap=True)
        if resume.lines:
            repaired = f", repaired a torn last line ({resume.repaired_bytes} bytes)" if resume.repaired_bytes else ""
            console.print(
                f"Resuming: {scan.answered} of {scan.jobs} jobs already in {target}{repaired}.",
                highlight=False, soft_wrap=True,
            )
    log.info("batch_started", input=str(source), output=str(target), jobs=scan.jobs, answered=scan.answered,
             endpoint=endpoint.description)
    # Jobs handed to the client at once (waiting for budget or in flight). Twice the workers keeps every
    # worker busy while bounding what a Ctrl-C has to wait for: these are the jobs the grace period covers.
    window = 2 * endpoint.config.workers
    with ResultWriter(target) as writer:
        run = _Run(
            input_path=source, output_path=target, writer=writer,
            tally=BatchTally(jobs=scan.jobs, already_done=scan.answered, now=trio.current_time()),
            answered=resume.answered, model=model, priority_field=priority_field, window=window,
        )
        retries = rate_limited = 0
        if metrics_port is not None and telemetry is None:
            telemetry = Telemetry()
        async with open_endpoint(endpoint, observer=telemetry) as client, _observed(
            client, telemetry, metrics_port, metrics_host, None if quiet else console
        ):
            async with trio.open_nursery() as nursery:
                jobs_scope = trio.CancelScope()
                if handle_signals and threading.current_thread() is threading.main_thread():
                    await nursery.start(watch_signals, run, jobs_scope, grace)
                if not quiet:
                    nursery.start_soon(
                        partial(
                            show_progress, run, client, console, input_path=str(run.input_path),
                            output_path=str(run.output_path), endpoint=endpoint.description,
                        )
                    )
                with jobs_scope:
                    async with client.map(run.pairs(), max_in_flight=window) as results:
                        async for result in results:
                            if not run.record(result):
                                jobs_scope.cancel()
                stats = client.statistics()
                retries, rate_limited = stats.retried, stats.rate_limited
                nursery.cancel_scope.cancel()
    summary = run.tally.summary(
        input_path=str(source), output_path=str(target), endpoint=endpoint.description, now=trio.current_time(),
        retries=retries, rate_limited=rate_limited, interrupted_by=run.interrupted_by,
        repaired_bytes=resume.repaired_bytes,
    )
    log.info("batch_finished", succeeded=summary.succeeded, failed=summary.failed, not_run=summary.not_run,
             interrupted_by=summary.interrupted_by)
    if summary_json is not None:
        Path(summary_json).write_bytes(encode_summary(summary))
    if not quiet:
        console.print(render_summary(summary))
    if run.fatal is not None:
        raise run.fatal
    return summary


@asynccontextmanager
async def _observed(
    client: Client, telemetry: Telemetry | None, port: int | None, host: str, console: Console | None
) -> AsyncIterator[None]:
    """Attach the client to ``telemetry`` and serve its metrics on ``port`` (when given) for the run."""
    if telemetry is None:
        yield
        return
    telemetry.attach(client)
    try:
        if port is None:
            yield
            return
        async with telemetry.serve(port, host) as server:
            log.info("metrics_serving", url=server.url)
            if console is not None:
                console.print(f"Metrics at {server.url}", highlight=False, soft_wrap=True)
            yield
    finally:
        telemetry.detach(client)


def encode_summary(summary: BatchSummary) -> bytes:
    """The summary as pretty JSON, with the derived figures (rates, exit code) added for machines."""
    data = msgspec.structs.asdict(summary) | {
        "complete": summary.complete,
        "exit_code": summary.exit_code,
        "jobs_per_second": round(summary.jobs_per_second, 3),
        "tokens_per_second": round(summary.tokens_per_second, 3),
    }
    return msgspec.json.format(msgspec.json.encode(data)) + b"\n"


class Stoppable(Protocol):
    """What the signal watcher and the progress display need of a run (one machine or shared)."""

    tally: BatchTally
    stopping: bool
    interrupted_by: str | None

    def stop(self, signum: int) -> None: ...


async def watch_signals(run: Stoppable, jobs_scope: trio.CancelScope, grace: float,
                        *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """First SIGINT/SIGTERM: stop feeding, give in-flight jobs ``grace`` seconds. Second: cancel now."""
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        task_status.started()
        async for signum in signals:
            if run.stopping:
                log.warning("batch_cancelled", signal=signal.Signals(signum).name)
                jobs_scope.cancel()
                continue
            run.stop(signum)
            log.warning("batch_stopping", signal=run.interrupted_by, grace_seconds=grace)
            jobs_scope.deadline = min(jobs_scope.deadline, trio.current_time() + grace)


async def show_progress(run: Stoppable, client: Client, console: Console, *,
                        input_path: str, output_path: str, endpoint: str) -> None:
    """Redraw the live display a few times a second until cancelled."""
    def frame() -> Any:
        return render_progress(
            run.tally.sample(trio.current_time()),
            client.statistics(),
            client.rate_limits(),
            input_path=input_path,
            output_path=output_path,
            endpoint=endpoint,
            stopping=run.stopping,
        )

    with Live(frame(), console=console, auto_refresh=False, transient=True, redirect_stdout=False,
              redirect_stderr=False) as live:
        while True:
            await trio.sleep(_REFRESH_SECONDS)
            live.update(frame(), refresh=True)


def run_batch(input_path: PathArg, output_path: PathArg, **options: Any) -> BatchSummary:
    """Blocking form of `run_batch_async` (it calls ``trio.run``); same arguments, same result.

    Use this from plain Python; from trio code, ``await run_batch_async(...)``.
    """
    return trio.run(lambda: run_batch_async(input_path, output_path, **options))
