"""The batch runner: a JSONL file of chat jobs in, a JSONL file of results out, resumable, nothing lost.

Theory of operation
-------------------
0. **One run per results file.** The run holds an exclusive lock beside the results file
   (`orchestrator.batch._lock`) from start to end; a second run on the same file is refused, naming the
   first. An output that is the input itself (the same inode, even through a hard link) is refused before
   anything is written, and an input that cannot be read twice (a pipe, ``/dev/stdin``) is copied once to a
   temporary file beside the output (`orchestrator.batch._source`).
1. **Refuse before sending.** The results file is opened first: a torn last line from a crash is
   truncated, and the custom_ids already answered are collected (8 bytes each, and 8 more for the digest of
   the input line each answers). Then one streaming pass over the input counts the jobs, refuses duplicate
   custom_ids, naming their lines, and refuses a results file whose answers were written for other input
   lines (an edited input, shifted ``line-N`` ids, another job file's results). Nothing has been sent yet,
   so a refusal costs nothing.
2. **Stream.** A lazy generator reads the input line by line, skips answered ids, turns unusable lines
   into error records on the spot, and hands the rest to `Client.map`, which keeps at most
   ``max_in_flight`` jobs alive. Memory is bounded by that window, whatever the file size.
3. **Record as each finishes.** Every result becomes one line appended with a single write (see
   `ResultWriter`), so a SIGKILL leaves at most a torn last line, which step 1 repairs on the next run.
   Every input line ends up with exactly one result line: success, API error, validation error or bad line.
   No line can poison the run: an exception that is not a `GroqError`, raised while one job is read,
   validated, sent or recorded, becomes that job's ``internal_error`` record (`orchestrator.batch._records`,
   `orchestrator.batch._run.map_guarded`). Only errors of the run itself stop it: a failed write (a full
   disk), the lock, signals, cancellation, ``MemoryError``.
4. **Stop on run-level errors.** A refused API key (401/403), a fail-fast open breaker or a lost Redis
   of the shared rate budget says nothing about the job (`orchestrator.batch._run.ABORTS_RUN`), so it
   gets no result line (resume will retry it); the batch stops and raises it.
5. **Stop gracefully.** On SIGINT/SIGTERM the generator stops taking new jobs; jobs already in flight get
   ``grace`` seconds to finish and be recorded, then the rest are cancelled and *not* recorded, so the
   next run does them. A second signal cancels at once.

Priorities (``priority_field``): the client's map runs jobs in the order it receives them, so the
runner reorders a bounded read-ahead window (the size of the in-flight window) by priority, highest
first; across the whole file, order still follows the file.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import trio
from rich.console import Console

from orchestrator.batch._io import AnsweredIds, ResultWriter, iter_input_lines
from orchestrator.batch._lock import lock_output
from orchestrator.batch._options import BatchOptions, PathArg, batch_options
from orchestrator.batch._records import (
    BadLine,
    BatchJob,
    bad_line_record,
    encode_record,
    finished_line,
    identify,
    parse_line,
)
from orchestrator.batch._run import RunState, announce_start, finish_run, map_guarded, open_and_scan, open_run
from orchestrator.batch._source import check_distinct, readable_source
from orchestrator.batch._summary import BatchSummary, BatchTally
from orchestrator.batch._where import endpoint_for
from orchestrator._endpoint import Endpoint
from orchestrator.observe._logging import get_logger
from orchestrator._map import JobResult
from orchestrator._prices import CostTally, PriceTable

__all__ = ["run_batch", "run_batch_async"]

log = get_logger("orchestrator.batch")

# Checkpoint every this many input lines, so skipping a long answered prefix never starves trio.
_CHECKPOINT_EVERY = 256


class _Run(RunState):
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
        costs: CostTally,
    ) -> None:
        super().__init__(tally, costs)
        self.costs: CostTally = costs  # never None here
        self.input_path = input_path
        self.output_path = output_path
        self.writer = writer
        self.answered = answered
        self.model = model
        self.priority_field = priority_field
        self.window = window

    async def jobs(self) -> AsyncIterator[BatchJob]:
        """Unanswered jobs in file order; unusable lines are recorded here and never yielded."""
        for count, (number, raw) in enumerate(iter_input_lines(self.input_path), start=1):
            if count % _CHECKPOINT_EVERY == 0:
                await trio.lowlevel.checkpoint()
            if self.stopping:
                return
            custom_id = identify(raw, number)
            if custom_id in self.answered:
                continue
            parsed = parse_line(raw, number, model=self.model, priority_field=self.priority_field,
                                custom_id=custom_id)
            if isinstance(parsed, BadLine):
                self.writer.write(encode_record(bad_line_record(parsed)))
                self.tally.record_failure(parsed.code, malformed=True)
                continue
            yield parsed

    async def prioritized(self) -> AsyncIterator[BatchJob]:
        """`jobs` reordered by priority within a read-ahead window of ``window`` jobs (bounded heap)."""
        heap: list[tuple[int, int, BatchJob]] = []
        async for job in self.jobs():
            heapq.heappush(heap, (-job.priority, job.line, job))
            if len(heap) >= self.window:
                yield heapq.heappop(heap)[2]
        while heap and not self.stopping:
            yield heapq.heappop(heap)[2]

    async def pairs(self) -> AsyncIterator[tuple[BatchJob, Any]]:
        """The (key, request) pairs `Client.map` consumes; the key is the whole `BatchJob`."""
        source = self.prioritized() if self.priority_field else self.jobs()
        async for job in source:
            yield job, job.request

    def record(self, result: JobResult) -> bool:
        """Write the result line for one finished job and count it.

        Returns False, writing nothing, for an error that is about the run rather than the job (a refused
        API key, an open breaker in fail-fast mode): recording it would mark the job answered, and resume
        would never retry it. The caller stops the batch instead; `fatal` holds the error. A failed write
        raises `OSError`: that stops the run too.
        """
        job: BatchJob = result.key
        if self.aborts(result.error):
            return False
        finished = finished_line(job, result)
        self.writer.write(finished.line)
        if finished.error_code is None:
            self.tally.record_success(
                prompt_tokens=finished.prompt_tokens, completion_tokens=finished.completion_tokens
            )
            self.costs.add(finished.model or "", finished.prompt_tokens, finished.completion_tokens,
                           finished.cached_tokens, "live")
        else:
            self.tally.record_failure(finished.error_code)
        return True


async def run_batch_async(
    input_path: PathArg, output_path: PathArg, *, options: BatchOptions | None = None, **keywords: Any
) -> BatchSummary:
    """Run every chat job in ``input_path`` and append one result line per job to ``output_path`` (trio).

    Re-running the same call resumes: jobs already answered in ``output_path`` are skipped, and a torn
    last line left by a crash is repaired first. See the module docstring for the guarantees.

    Args:
        input_path: JSONL jobs, batch format or plain chat bodies.
        output_path: JSONL results (created, or appended to when resuming).
        options: the settings as one `BatchOptions`.
        keywords: the settings one by one, under the names of `BatchOptions`'s fields (documented there),
            e.g. ``concurrency=8, quiet=True``; given beside ``options``, they override it.

    Returns:
        The run's `BatchSummary`; ``summary.exit_code`` is what the CLI exits with.

    Raises:
        AuthenticationError, AuthorizationError, CircuitOpenError, CoordinationError: the endpoint (or the
            Redis of the shared rate budget) refused the run itself; the batch stopped, jobs already answered
            keep their lines, and the rest are left for a re-run.
        DuplicateCustomIdError: the input repeats custom_ids (nothing sent).
        InputChangedError: the results file answers custom_ids whose input lines changed (nothing sent).
        OutputLockedError: another run holds the results file (nothing sent or written).
        BatchFileError: the results file has a corrupt line before its last, or is not a results file.
        ConfigError: a setting is invalid, or the output is the input file.
        TypeError: a keyword that is not a `BatchOptions` field.
        OSError: a file cannot be read or written (a full disk stops the run at the first failed write).
    """
    options = batch_options(options, keywords)
    source, target = Path(input_path), Path(output_path)
    check_distinct(source, target)
    endpoint = endpoint_for(options)
    with lock_output(target), readable_source(source, spool_dir=target.parent.resolve()) as readable:
        if options.ray is not None:
            # Imported here, not at the top: Ray is an optional extra.
            from orchestrator.batch._ray import run_ray_batch_async

            return await run_ray_batch_async(source, readable, target, endpoint=endpoint, options=options)
        if options.via != "live":
            # Imported here, not at the top: a live batch never needs the Batch API runner.
            from orchestrator.batch._batch_api import run_batch_api_async

            return await run_batch_api_async(readable, target, endpoint=endpoint, options=options)
        return await _run_live(source, readable, target, endpoint, options)


async def _run_live(
    source: Path, readable: Path, target: Path, endpoint: Endpoint, options: BatchOptions
) -> BatchSummary:
    """The live run of `run_batch_async`, under its lock: ``readable`` is ``source`` or its spooled copy."""
    console = options.console or Console(stderr=True)
    resume, scan = open_and_scan(readable, target)
    if not options.quiet:
        announce_start(console, endpoint, resume, scan, readable, target, options)
    log.info("batch_started", input=str(source), output=str(target), jobs=scan.jobs, answered=scan.answered,
             endpoint=endpoint.description)
    # Jobs handed to the client at once (waiting for budget or in flight). Twice the workers keeps every
    # worker busy while bounding what a Ctrl-C has to wait for: these are the jobs the grace period covers.
    window = 2 * endpoint.config.workers
    with ResultWriter(target) as writer:
        run = _Run(
            input_path=readable, output_path=target, writer=writer,
            tally=BatchTally(jobs=scan.jobs, already_done=scan.answered, now=trio.current_time()),
            answered=resume.answered, model=options.model, priority_field=options.priority_field, window=window,
            costs=CostTally(PriceTable.load(options.prices)),
        )
        async with open_run(run, endpoint, options, console, where=endpoint.description, input_path=source,
                            output_path=target) as services:
            client, jobs_scope = services.client, services.jobs_scope
            with jobs_scope:
                async with map_guarded(client, run.pairs(), max_in_flight=window) as results:
                    async for result in results:
                        if not run.record(result):
                            jobs_scope.cancel()
            stats = client.statistics()
    summary = run.tally.summary(
        input_path=str(source), output_path=str(target), endpoint=endpoint.description, now=trio.current_time(),
        retries=stats.retried, rate_limited=stats.rate_limited, interrupted_by=run.interrupted_by,
        repaired_bytes=resume.repaired_bytes, costs=run.costs,
    )
    log.info("batch_finished", succeeded=summary.succeeded, failed=summary.failed, not_run=summary.not_run,
             interrupted_by=summary.interrupted_by)
    return finish_run(run, summary, options, console)


def run_batch(
    input_path: PathArg, output_path: PathArg, *, options: BatchOptions | None = None, **keywords: Any
) -> BatchSummary:
    """Blocking form of `run_batch_async` (it calls ``trio.run``); same arguments, same result.

    Use this from plain Python; from trio code, ``await run_batch_async(...)``.
    """
    options = batch_options(options, keywords)
    if options.ray is None:
        return trio.run(lambda: run_batch_async(input_path, output_path, options=options))
    # Ray is joined here, on the main thread, where it can install its signal handlers; the run finds it.
    from orchestrator.batch._ray import ray_session

    with ray_session(options):
        return trio.run(lambda: run_batch_async(input_path, output_path, options=options))
