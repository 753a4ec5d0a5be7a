"""What every batch run does around its jobs (`orchestrator.batch._local`, `_batch_api`, `_ray`): which
errors stop the run, the stop flag that SIGINT/SIGTERM set, the client with its telemetry and metrics
endpoint, the live progress display, and the summary at the end.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import AsyncIterable, AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import trio
from rich.console import Console

from orchestrator.batch._expectation import expected_batch_line
from orchestrator.batch._io import InputScan, ResumeState, open_results, scan_input
from orchestrator.batch._options import BatchOptions
from orchestrator.batch._summary import BatchSummary, BatchTally
from orchestrator._endpoint import Endpoint, open_endpoint
from orchestrator._errors import AuthenticationError, AuthorizationError, CircuitOpenError, CoordinationError, GroqError
from orchestrator._map import JobResult, map_jobs
from orchestrator._prices import CostTally
from orchestrator.batch._records import RUN_ERRORS, InternalJobError
from orchestrator.observe._logging import get_logger
from orchestrator.batch._progress import render_progress, render_summary
from orchestrator.observe._telemetry import Telemetry
from orchestrator._live import redraw

if TYPE_CHECKING:
    from actors._job import Job
    from orchestrator._catalog import ModelCatalog
    from orchestrator._client import Client

__all__ = [
    "ABORTS_RUN", "RunServices", "RunState", "announce_start", "encode_summary", "finish_run", "map_guarded",
    "open_and_scan", "open_run", "watch_signals",
]

log = get_logger("orchestrator.batch")


#: Errors that condemn the whole run, not one job: no result line is written (resume retries the job) and
#: the batch stops and raises the error. A refused key (401/403) or a fail-fast open breaker says nothing
#: about the job. Neither does `CoordinationError`: the Redis holding the shared rate budget is gone, and
#: without it a worker cannot know what the others spend, so going on would overshoot the account's
#: limits; recording it per job would mark jobs answered that only need a working Redis.
ABORTS_RUN = (AuthenticationError, AuthorizationError, CircuitOpenError, CoordinationError)


class RunState:
    """The flags one run shares with its signal watcher and progress display.

    Attributes:
        tally: the run's counts, for the display and the summary.
        stopping: no new jobs are taken (a signal, or an error in `ABORTS_RUN`).
        interrupted_by: the name of the first signal, reported in the summary.
        fatal: the first `ABORTS_RUN` error, raised when the run ends.
        note: a line the progress display shows under its header (a Batch API run's batch statuses).
        costs: what the run's answers cost, printed with ``show_cost``.
    """

    def __init__(self, tally: BatchTally, costs: CostTally | None = None) -> None:
        self.tally = tally
        self.costs = costs
        self.stopping = False
        self.interrupted_by: str | None = None
        self.fatal: GroqError | None = None
        self.note: str | None = None

    def stop(self, signum: int) -> None:
        """Stop taking new jobs (first signal wins the name reported in the summary)."""
        if self.interrupted_by is None:
            self.interrupted_by = signal.Signals(signum).name
        self.stopping = True

    def aborts(self, error: GroqError | None) -> bool:
        """True, and the run stops with ``error`` kept as `fatal`, when ``error`` is about the run, not the job.

        The caller then writes nothing for the job: recording it would mark the job answered, and resume
        would never retry it.
        """
        if not isinstance(error, ABORTS_RUN):
            return False
        if self.fatal is None:
            self.fatal = error
        self.stopping = True
        return True


def open_and_scan(readable: Path, target: Path) -> tuple[ResumeState, InputScan]:
    """Step 1 of every live run: the results file opened (a torn last line repaired, answered ids read), then
    one pass over the input refusing duplicate custom_ids and results written for other input lines."""
    resume = open_results(target)
    return resume, scan_input(readable, resume.answered, results=target)


def announce_start(console: Console, endpoint: Endpoint, resume: ResumeState, scan: InputScan, readable: Path,
                   target: Path, options: BatchOptions) -> None:
    """The lines a run starts with: where it sends, what it resumes, how long the limits make it take."""
    if endpoint.notice:
        console.print(endpoint.notice, style="yellow", highlight=False, soft_wrap=True)
    if resume.lines:
        repaired = f", repaired a torn last line ({resume.repaired_bytes} bytes)" if resume.repaired_bytes else ""
        console.print(f"Resuming: {scan.answered} of {scan.jobs} jobs already in {target}{repaired}.",
                      highlight=False, soft_wrap=True)
    if expected := expected_batch_line(readable, scan.jobs - scan.answered, endpoint, options):
        console.print(expected, highlight=False, soft_wrap=True)
    if scan.unverified:
        console.print(
            f"{scan.unverified} result line(s) in {target} carry no input_sha256 (an older version wrote "
            "them), so they could not be checked against the input; they are trusted as they are.",
            style="yellow", highlight=False, soft_wrap=True,
        )


class RunServices(msgspec.Struct, frozen=True):
    """What `open_run` yields: the run's client, the nursery of its background tasks, and the scope the
    jobs loop runs in (a signal moves its deadline, a second signal or a fatal error cancels it)."""

    client: Client
    nursery: trio.Nursery
    jobs_scope: trio.CancelScope


@asynccontextmanager
async def open_run(
    run: RunState, endpoint: Endpoint, options: BatchOptions, console: Console, *,
    where: str, input_path: Path, output_path: Path, **client_options: Any,
) -> AsyncIterator[RunServices]:
    """Open the run's client on ``endpoint`` and start what watches it, for the body of the ``async with``.

    The client is observed by ``options.telemetry`` (one is made when ``options.metrics_port`` asks for an
    endpoint), SIGINT/SIGTERM are caught when ``options.handle_signals`` allows it in this thread, and the
    live display (headed ``where``) runs unless ``options.quiet``. On exit the background tasks are
    cancelled. ``client_options`` go to `open_endpoint`.
    """
    telemetry = options.telemetry
    if options.metrics_port is not None and telemetry is None:
        telemetry = Telemetry()
    async with open_endpoint(endpoint, observer=telemetry, **client_options) as client, _observed(
        client, telemetry, options.metrics_port, options.metrics_host, None if options.quiet else console
    ):
        async with trio.open_nursery() as nursery:
            jobs_scope = trio.CancelScope()
            await watch_signals(nursery, run, jobs_scope, options)
            if not options.quiet:
                nursery.start_soon(
                    partial(
                        _show_progress, run, client, console, input_path=str(input_path),
                        output_path=str(output_path), endpoint=where,
                    )
                )
            yield RunServices(client, nursery, jobs_scope)
            nursery.cancel_scope.cancel()


def finish_run(run: RunState, summary: BatchSummary, options: BatchOptions, console: Console) -> BatchSummary:
    """Write the summary JSON (when asked), print the summary table (unless quiet), and raise the run's
    fatal error if it has one; else return ``summary``.

    A fatal error is named in the summary (``stopped_by``), so its ``exit_code`` is the 1 the command exits
    with when the error is raised, in the JSON as on the console.
    """
    if run.fatal is not None and summary.stopped_by is None:
        summary = msgspec.structs.replace(summary, stopped_by=run.fatal.code or type(run.fatal).__name__)
    if options.summary_json is not None:
        Path(options.summary_json).write_bytes(encode_summary(summary))
    if options.report is not None:
        from orchestrator._report import write_batch_report  # the page's code loads only when asked for

        write_batch_report(Path(options.report), summary)
    if not options.quiet:
        console.print(render_summary(summary))
    if options.show_cost and run.costs is not None:
        console.print(run.costs.summary(), highlight=False, soft_wrap=True)
    if run.fatal is not None:
        raise run.fatal
    return summary


class _GuardedRunner:
    """A client as `map_jobs` sees it, except that making a job never raises anything but a `GroqError`.

    ``Client.chat_job`` validates and encodes the request; an exception that is not a `GroqError` there (a
    validator meeting a value it did not expect) would escape the map and stop the batch with every job in
    flight. Here it becomes that job's `InternalJobError`, which the map hands back as the job's result.
    """

    __slots__ = ("_client",)

    def __init__(self, client: Client) -> None:
        self._client = client

    @property
    def catalog(self) -> ModelCatalog:
        return self._client.catalog

    def chat_job(self, request: Any, *, key: Any, on_settle: Any) -> Job:
        try:
            # Every request here is a line's body that parse_line built with chat_request_from: walked once.
            return self._client._chat_job(
                request, walked=True, priority=0, key=key, timeout=None, max_retries=None, extra_headers=None,
                on_settle=on_settle,
            )
        except (GroqError, *RUN_ERRORS):
            raise
        except Exception as exc:
            raise InternalJobError.from_exception(exc, "validating") from exc

    def mapped_model(self, model: Any) -> Any:
        return self._client.mapped_model(model)

    async def submit_job(self, job: Job) -> None:
        await self._client.submit_job(job)

    async def run_job(self, job: Job) -> Any:
        return await self._client.run_job(job)


def map_guarded(
    client: Client, pairs: AsyncIterable[tuple[Any, Any]], *, max_in_flight: int
) -> AbstractAsyncContextManager[AsyncIterator[JobResult]]:
    """``client.map(pairs, max_in_flight=...)`` for a batch runner: a request whose validation raises an
    exception that is not a `GroqError` comes back as that job's result with an `InternalJobError`
    (code ``internal_error``) instead of stopping the run; every other job goes on. Each request must be
    a `BatchJob`'s, which `parse_line` built with ``chat_request_from``: it is not walked a second time."""
    return map_jobs(_GuardedRunner(client), pairs, max_in_flight)


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


async def watch_signals(nursery: trio.Nursery, run: RunState, jobs_scope: trio.CancelScope,
                        options: BatchOptions) -> None:
    """Catch SIGINT/SIGTERM for the run in ``nursery`` (see `_watch_signals`), when ``options.handle_signals``
    allows it and this is the main thread (the only one a signal handler can be installed from)."""
    if options.handle_signals and threading.current_thread() is threading.main_thread():
        await nursery.start(_watch_signals, run, jobs_scope, options.grace)


async def _watch_signals(run: RunState, jobs_scope: trio.CancelScope, grace: float,
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


async def _show_progress(run: RunState, client: Client, console: Console, *,
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
            note=run.note,
        )

    await redraw(console, frame)
