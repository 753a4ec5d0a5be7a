"""A shared batch: several worker processes, on one machine or many, run one job file together via Redis.

``groq-orch batch JOBS.jsonl -o OUT --redis URL --workers-join NAME`` on every machine; each process is a
worker. The Redis side (keys, atomic scripts) is described in `orchestrator.batch._shared_store`; this
module is the trio worker around it.

Theory of operation
-------------------
1. **Join.** The worker hashes its input file and joins batch NAME: the first worker fixes the fingerprint,
   later ones must match it (so two different files never mix under one name).
2. **Load once.** Whichever worker wins the *loader* lease streams the input into the jobs stream, while it
   also works jobs like everyone else. Before it streams anything it runs the same duplicate check as a
   one-machine batch: repeated custom_ids mark the batch *refused* and every worker stops with the same
   message, nothing sent. It skips ids already answered in its output file (resume) or in Redis, streams in
   chunks under a compare-and-set cursor (a loader that dies is replaced and the next one continues where
   it stopped, never streaming a line twice), and pauses while the stream holds ``backlog`` unfinished
   jobs, so neither Redis nor any worker ever holds the whole file.
3. **Work.** Each worker reads a few jobs at a time through the consumer group and feeds them to
   `Client.map`, the same bounded window as on one machine. Jobs pending on a dead worker are taken over
   (``XAUTOCLAIM``) once idle for ``reclaim_after`` seconds; a live worker touches its own jobs every
   third of that, so they are never taken from it.
4. **Record exactly once.** A recorder task writes finished results to Redis in pipelined batches; each
   is one atomic script that records the result only if the custom_id has none, then acknowledges and
   deletes the job. If two workers ever ran the same job (one was cut off, not dead), the second result is
   dropped and logged.
5. **Finish and collect.** A worker leaves when the input is fully streamed and no job is unfinished. It
   then takes the *collector* lease and appends every result to its output file, skipping custom_ids the
   file already holds: the normal batch output format, torn-tail repair and all. ``groq-orch batch
   collect NAME -o OUT`` does the same on demand (any machine, any time; re-running it is harmless).
6. **Stop.** SIGINT/SIGTERM as on one machine (stop taking jobs, ``grace`` seconds for those in flight);
   jobs it had not finished are handed back so the other workers take them at once. Losing Redis stops the
   worker with `SharedBatchError`; nothing half-recorded can exist, so re-running resumes cleanly.

Resume is the same as on one machine: re-run the command. Answered ids are skipped (Redis remembers every
recorded result; the output file covers results collected before Redis was emptied), unfinished jobs are
taken over, and an interrupted load continues from its cursor.

Memory: a worker holds its window of jobs, one read batch, one recorder batch and the 8-byte-per-id
answered set of its output file while loading or collecting (as on one machine). Redis holds the
unfinished jobs (at most about ``backlog``), the results until you delete the batch's keys, and one hash
field per answered custom_id.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec
import trio
from rich.console import Console

from orchestrator._prices import CostTally, PriceTable
from orchestrator.batch._io import (
    AnsweredIds,
    BatchFileError,
    DuplicateCustomIdError,
    ResultWriter,
    iter_input_lines,
    open_results,
    scan_input,
)
from orchestrator.batch._options import DEFAULT_RECLAIM_AFTER, BatchOptions, PathArg, batch_options
from orchestrator.batch._records import (
    BadLine,
    BatchJob,
    bad_line_record,
    encode_record,
    finished_line,
    identify,
    parse_line,
)
from orchestrator.batch._shared_store import (
    BatchProgress,
    BatchStore,
    JobEntry,
    LoadChunk,
    Record,
    SharedBatchError,
    redact_url,
)
from orchestrator.batch._run import RunState, finish_run, open_run
from orchestrator.batch._summary import BatchSummary, BatchTally
from orchestrator._endpoint import Endpoint
from orchestrator.observe._logging import get_logger
from orchestrator._map import JobResult

__all__ = [
    "CollectReport",
    "SharedBatchError",
    "collect_shared_batch",
    "collect_shared_batch_async",
    "fingerprint_file",
    "run_shared_batch_async",
]

log = get_logger("orchestrator.batch.shared")

T = TypeVar("T")

#: Unfinished jobs the loader lets accumulate in Redis before it pauses.
DEFAULT_BACKLOG: Final = 4096
_LOAD_CHUNK_JOBS = 256
_LOAD_CHUNK_BYTES = 4 << 20
_READ_AT_MOST = 64
_RECORD_AT_MOST = 64
_BLOCK_SECONDS = 0.25
_REFRESH_SECONDS = 0.5
_COLLECT_PAGE = 512


def fingerprint_file(path: Path) -> str:
    """A digest of the whole input file (size and blake2b), streamed: every worker must see the same one."""
    digest = hashlib.blake2b(digest_size=16)
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return f"{size}:{digest.hexdigest()}"


async def _call(function: Callable[..., T], *args: Any) -> T:
    """Run one blocking Redis or file call in a worker thread (redis-py is not trio-aware)."""
    return await trio.to_thread.run_sync(partial(function, *args), abandon_on_cancel=True)


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The error to report from a nursery's group: the first that is not a cancellation."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            inner = _first_error(error)
            if inner is not None:
                return inner
        elif not isinstance(error, trio.Cancelled):
            return error
    return None


class _InputChunks:
    """Reads the input after a cursor, chunk by chunk, skipping ids the output file already answers.

    Synchronous: each `next_chunk` runs in a worker thread. Nothing is kept between chunks but the line
    iterator and the cursor.
    """

    def __init__(self, path: Path, answered: AnsweredIds, after_line: int) -> None:
        self._lines = iter_input_lines(path)
        self._answered = answered
        self._after = after_line

    def next_chunk(self, at_most: int) -> LoadChunk | None:
        """The next chunk of at most ``at_most`` jobs (or 4 MB of lines); None when the file is exhausted."""
        jobs: list[tuple[str, int, bytes]] = []
        size = skipped = 0
        last = self._after
        for number, raw in self._lines:
            if number <= self._after:
                continue
            last = number
            custom_id = identify(raw, number)
            if custom_id in self._answered:
                skipped += 1
                continue
            jobs.append((custom_id, number, raw))
            size += len(raw)
            if len(jobs) >= at_most or size >= _LOAD_CHUNK_BYTES:
                break
        if last == self._after:
            return None
        self._after = last
        return LoadChunk(tuple(jobs), last, skipped)


class _Finished(msgspec.Struct):
    """One result waiting for the recorder, with what the tally needs once Redis accepts it."""

    record: Record
    code: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    model: str | None = None


class _Worker(RunState):
    """One worker's run: its store, window, in-flight entries, tally and stop flags."""

    def __init__(
        self,
        store: BatchStore,
        *,
        source: Path,
        target: Path,
        model: str | None,
        window: int,
        reclaim_after: float,
        backlog: int,
        tally: BatchTally,
        costs: CostTally,
    ) -> None:
        super().__init__(tally)
        #: What this worker's recorded successes cost (each worker prices the lines it recorded).
        self.costs = costs
        self.store = store
        self.source = source
        self.target = target
        self.model = model
        self.window = window
        self.reclaim_after = reclaim_after
        self.lease = max(3.0, reclaim_after)
        self.backlog = backlog
        self.in_flight: dict[str, None] = {}  # entry ids read and not yet recorded (touched to keep them)
        self.finished = False
        self.duplicates = 0
        self.reclaimed = 0
        send, receive = trio.open_memory_channel[_Finished](window)
        self.record_send, self.record_receive = send, receive

    # -------------------------------------------------------------------------------- loading

    async def load(self) -> None:
        """Stream the input in whenever the loader lease is free; return once the batch is loaded."""
        while not self.stopping:
            claim = await _call(self.store.claim_loader, self.lease)
            if claim in ("loaded", "refused"):
                return
            if claim == "held":
                await trio.sleep(min(1.0, self.lease / 3))
                continue
            if await self._stream_input():
                return
        await _call(self.store.release, self.store.loader_key)

    async def _stream_input(self) -> bool:
        """Holding the lease: scan, then stream from the cursor. False if the lease was lost midway."""
        log.info("shared_batch_loading", batch=self.store.name, input=str(self.source))
        async with trio.open_nursery() as nursery:
            # Scanning a big file can outlast the lease: keep it while the scan runs.
            nursery.start_soon(self._keep_lease)
            resume = await _call(open_results, self.target)
            try:
                scan = await _call(scan_input, self.source, resume.answered)
            except DuplicateCustomIdError as refusal:
                await _call(self.store.refuse, str(refusal))
                raise
            nursery.cancel_scope.cancel()
        if not await _call(self.store.set_total, scan.jobs):
            return False
        after = await _call(self.store.cursor)
        chunks = _InputChunks(self.source, resume.answered, after)
        while not self.stopping:
            chunk = await _call(chunks.next_chunk, min(_LOAD_CHUNK_JOBS, self.backlog))
            if chunk is None:
                loaded = await _call(self.store.finish_load)
                log.info("shared_batch_loaded", batch=self.store.name, jobs=scan.jobs, loaded=loaded)
                return loaded
            waiting = await _call(self.store.append, chunk, after, self.lease)
            if waiting < 0:
                log.warning("shared_batch_loader_replaced", batch=self.store.name, reason=waiting)
                return False
            after = chunk.last_line
            while waiting >= self.backlog and not self.stopping:
                await trio.sleep(_BLOCK_SECONDS)
                waiting = await _call(self.store.append, LoadChunk((), after, 0), after, self.lease)
                if waiting < 0:
                    return False
        return False

    async def _keep_lease(self) -> None:
        """Renew the loader lease every third of its length until cancelled (or lost)."""
        while await _call(self.store.renew, self.store.loader_key, self.lease):
            await trio.sleep(self.lease / 3)

    # -------------------------------------------------------------------------------- working

    async def entries(self) -> AsyncIterator[tuple[tuple[JobEntry, BatchJob], Any]]:
        """The (key, request) pairs `Client.map` runs: new jobs, and jobs taken over from dead workers."""
        claim_from = "0-0"
        next_claim = trio.current_time()
        # A quarter window per read: enough to keep the window full, small enough that one worker does not
        # take jobs the others could start sooner.
        count = min(_READ_AT_MOST, max(1, self.window // 4))
        while not self.stopping:
            entries: list[JobEntry] = []
            if trio.current_time() >= next_claim:
                claim_from, claimed = await _call(self.store.reclaim, self.reclaim_after, count, claim_from)
                # One of our own, idle because a touch came late, is already running here: not twice.
                entries = [entry for entry in claimed if entry.entry_id not in self.in_flight]
                if claim_from == "0-0":
                    next_claim = trio.current_time() + min(5.0, max(0.05, self.reclaim_after / 4))
                if entries:
                    self.reclaimed += len(entries)
                    log.info("shared_batch_reclaimed", batch=self.store.name, jobs=len(entries))
            if not entries:
                entries = await _call(self.store.read, count, _BLOCK_SECONDS)
            if not entries:
                progress = await _call(self.store.progress)
                if progress.status == "refused":
                    refusal = await _call(self.store.refusal)
                    raise BatchFileError(refusal or f"batch {self.store.name!r} was refused by its loader")
                if progress.finished:
                    self.finished = True
                    return
                continue
            for entry in entries:
                self.in_flight[entry.entry_id] = None
            for entry in entries:
                if self.stopping:
                    return  # the rest stay pending on us; `hand_back` releases them
                parsed = parse_line(entry.raw, entry.line, model=self.model)
                if isinstance(parsed, BadLine):
                    line = encode_record(bad_line_record(parsed))
                    await self.record_send.send(
                        _Finished(Record(entry.entry_id, entry.custom_id, line, "malformed"), code=parsed.code)
                    )
                    continue
                yield (entry, parsed), parsed.request

    async def finish(self, result: JobResult) -> bool:
        """Queue one finished job for recording; False (nothing queued) for an error about the whole run."""
        entry, job = result.key
        if self.aborts(result.error):
            return False
        finished = finished_line(job, result)
        kind = "succeeded" if finished.error_code is None else "failed"
        await self.record_send.send(
            _Finished(
                Record(entry.entry_id, job.custom_id, finished.line, kind),
                code=finished.error_code,
                prompt_tokens=finished.prompt_tokens,
                completion_tokens=finished.completion_tokens,
                cached_tokens=finished.cached_tokens,
                model=finished.model,
            )
        )
        return True

    async def record(self) -> None:
        """Write queued results to Redis in pipelined batches until the channel closes."""
        async with self.record_receive:
            async for first in self.record_receive:
                batch = [first]
                while len(batch) < _RECORD_AT_MOST:
                    try:
                        batch.append(self.record_receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                fresh = await trio.to_thread.run_sync(self.store.record, [item.record for item in batch])
                for item, accepted in zip(batch, fresh, strict=True):
                    self.in_flight.pop(item.record.entry_id, None)
                    if not accepted:
                        self.duplicates += 1
                        log.warning("shared_batch_duplicate_dropped", batch=self.store.name,
                                    custom_id=item.record.custom_id)
                    elif item.code is None:
                        self.tally.record_success(prompt_tokens=item.prompt_tokens,
                                                  completion_tokens=item.completion_tokens)
                        self.costs.add(item.model or "", item.prompt_tokens, item.completion_tokens,
                                       item.cached_tokens, "live")
                    else:
                        self.tally.record_failure(item.code, malformed=item.record.kind == "malformed")

    async def touch(self) -> None:
        """Keep this worker's jobs from looking abandoned: reset their idle time every third of the limit."""
        while True:
            await trio.sleep(self.reclaim_after / 3)
            await _call(self.store.touch, list(self.in_flight))

    async def refresh(self) -> None:
        """Keep the tally's batch-wide numbers (total jobs, done by others) current for the display."""
        while True:
            self.update_tally(await _call(self.store.progress))
            await trio.sleep(_REFRESH_SECONDS)

    def update_tally(self, progress: BatchProgress) -> None:
        """Fold Redis's batch-wide counts into the tally: its own counts stay this worker's."""
        if progress.jobs is not None:
            self.tally.jobs = progress.jobs
        mine = self.tally.succeeded + self.tally.failed
        self.tally.already_done = max(0, progress.done - mine)


async def run_shared_batch_async(
    input_path: PathArg,
    output_path: PathArg,
    *,
    redis_url: str,
    name: str,
    endpoint: Endpoint,
    options: BatchOptions | None = None,
    backlog: int = DEFAULT_BACKLOG,
    time_scale: float = 1.0,
    **keywords: Any,
) -> BatchSummary:
    """Work batch ``name`` in Redis together with every other worker that joins it (trio).

    Normally reached through ``run_batch(..., redis_url=..., workers_join=...)``; see the module docstring
    for the guarantees.

    Args:
        input_path: the JSONL jobs; every worker must be given the same file.
        output_path: where this worker collects the results when the batch finishes (appended to, as a
            one-machine batch's output is).
        redis_url: ``redis://HOST:PORT/DB``.
        name: the batch's name in Redis (``--workers-join``).
        endpoint: where requests go (`orchestrator._endpoint.resolve_endpoint`).
        options: the run's `BatchOptions`, of which a worker reads ``model``, ``grace``, ``quiet``,
            ``summary_json``, ``console``, ``handle_signals``, ``reclaim_after``, ``telemetry``,
            ``metrics_port`` and ``metrics_host``; what shapes the endpoint (``config``, ``base_url``,
            ``concurrency``...) is already in ``endpoint``.
        backlog: unfinished jobs the loader lets wait in Redis before pausing.
        time_scale: the emulator's clock factor when ``endpoint`` is an emulator on a URL (1.0 for Groq).
        keywords: `BatchOptions` fields one by one (``quiet=True, grace=5.0``), over ``options``.

    Returns:
        This worker's `BatchSummary`: ``succeeded``/``failed`` count the results it recorded,
        ``already_done`` those recorded by other workers or earlier runs, ``not_run`` what the batch still
        lacks when the worker left (0 once finished).

    Raises:
        SharedBatchError: Redis failed or holds another input under ``name``; the worker stopped cleanly.
        DuplicateCustomIdError: the input repeats custom_ids (nothing sent, by any worker).
        BatchFileError: the batch was refused, or an output file line is corrupt.
        AuthenticationError, AuthorizationError, CircuitOpenError, CoordinationError: the endpoint (or the
            Redis of the shared rate budget) refused the run.
    """
    options = batch_options(options, keywords)
    if options.reclaim_after <= 0:
        raise ValueError(f"reclaim_after={options.reclaim_after!r} must be a positive number of seconds")
    if backlog < 1:
        raise ValueError(f"backlog={backlog!r} must be at least 1")
    source, target = Path(input_path), Path(output_path)
    store = BatchStore(redis_url, name)
    try:
        return await _run(store, source, target, endpoint=endpoint, options=options, backlog=backlog,
                          time_scale=time_scale)
    finally:
        store.close()


async def _run(
    store: BatchStore, source: Path, target: Path, *, endpoint: Endpoint, options: BatchOptions, backlog: int,
    time_scale: float,
) -> BatchSummary:
    console = options.console or Console(stderr=True)
    fingerprint = await _call(fingerprint_file, source)
    joined = await _call(store.join, fingerprint)
    if joined.status == "refused":
        raise BatchFileError(joined.refusal or f"batch {store.name!r} was refused by its loader")
    where = f"{endpoint.description} · batch {store.name} on {redact_url(store.url)}"
    if not options.quiet and endpoint.notice:
        console.print(endpoint.notice, style="yellow", highlight=False, soft_wrap=True)
    log.info("shared_batch_joined", batch=store.name, consumer=store.consumer, status=joined.status,
             redis=redact_url(store.url), endpoint=endpoint.description)
    worker = _Worker(
        store, source=source, target=target, model=options.model, window=2 * endpoint.config.workers,
        reclaim_after=options.reclaim_after, backlog=backlog,
        tally=BatchTally(jobs=0, already_done=0, now=trio.current_time()),
        costs=CostTally(PriceTable.load(options.prices)),
    )
    try:
        # An emulator on a URL with a compressed clock: the client's budget must run on that clock too.
        scaled = {} if endpoint.emulator is not None or time_scale == 1.0 else {"time_scale": time_scale}
        async with open_run(worker, endpoint, options, console, where=where, input_path=source,
                            output_path=target, **scaled) as services:
            services.nursery.start_soon(worker.load)
            services.nursery.start_soon(worker.touch)
            if not options.quiet:
                services.nursery.start_soon(worker.refresh)
            client, jobs_scope = services.client, services.jobs_scope
            async with trio.open_nursery() as recording:
                recording.start_soon(worker.record)
                async with worker.record_send:
                    with jobs_scope:
                        async with client.map(worker.entries(), max_in_flight=worker.window) as results:
                            async for result in results:
                                if not await worker.finish(result):
                                    jobs_scope.cancel()
            stats = client.statistics()
    except BaseExceptionGroup as group:
        error = _first_error(group)
        if error is None:
            raise
        raise error from None
    if worker.finished:
        await _call(store.leave)
        await _collect_when_done(store, target, worker.lease, quiet=options.quiet, console=console)
    else:
        await _call(store.release, store.loader_key)
        handed = await _call(store.hand_back, options.reclaim_after)
        log.info("shared_batch_handed_back", batch=store.name, jobs=handed)
    worker.update_tally(await _call(store.progress))
    summary = worker.tally.summary(
        input_path=str(source), output_path=str(target), endpoint=where, now=trio.current_time(),
        retries=stats.retried, rate_limited=stats.rate_limited, interrupted_by=worker.interrupted_by,
        costs=worker.costs,
    )
    log.info("shared_batch_left", batch=store.name, succeeded=summary.succeeded, failed=summary.failed,
             not_run=summary.not_run, reclaimed=worker.reclaimed, duplicates_dropped=worker.duplicates)
    return finish_run(worker, summary, options, console)


# -------------------------------------------------------------------------------------- collect


class CollectReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a collect step did.

    Attributes:
        name: the batch.
        output_path: the file written.
        written: result lines appended now.
        present: results in Redis the file already held (skipped).
        skipped: True when this file was already known to hold every result (nothing read).
        jobs: jobs in the batch's input (None if the loader has not counted them yet).
        done: jobs with a result (in Redis or already in a loader's output file).
        failed: results that are errors (batch-wide).
        complete: the input is fully streamed and every job has its result.
    """

    name: str
    output_path: str
    written: int
    present: int
    skipped: bool
    jobs: int | None
    done: int
    failed: int
    complete: bool

    @property
    def exit_code(self) -> int:
        """0 when the batch is complete without failures, else 1 (incomplete, or some jobs failed)."""
        return 0 if self.complete and not self.failed else 1


def _target(path: Path) -> str:
    return f"{socket.gethostname()}:{path.resolve()}"


def _collect(store: BatchStore, target: Path, lease: float, *, always: bool) -> tuple[int, int, bool]:
    """Append every recorded result the file lacks (synchronous; holds the collector lease).

    Returns ``(written, present, skipped)``.
    """
    key = _target(target)
    last = store.last_result()
    if not always and target.exists() and last is not None and store.collected(key) == last:
        return 0, 0, True
    resume = open_results(target)
    written = present = 0
    after = "-"
    with ResultWriter(target) as writer:
        while page := store.results(_COLLECT_PAGE, after):
            for entry_id, custom_id, line in page:
                after = entry_id
                if custom_id in resume.answered:
                    present += 1
                else:
                    writer.write(line)
                    written += 1
            store.renew(store.collector_key, lease)
    if after != "-":
        store.mark_collected(key, after)
    return written, present, False


async def _collect_when_done(store: BatchStore, target: Path, lease: float, *, quiet: bool,
                             console: Console, always: bool = False) -> tuple[int, int, bool]:
    """Take the collector lease (waiting while another worker holds it) and collect into ``target``."""
    while not await _call(store.try_collector, lease):
        await trio.sleep(0.1)
    try:
        written, present, skipped = await trio.to_thread.run_sync(
            partial(_collect, store, target, lease, always=always)
        )
    finally:
        await _call(store.release, store.collector_key)
    log.info("shared_batch_collected", batch=store.name, output=str(target), written=written, present=present,
             skipped=skipped)
    if not quiet and not skipped:
        console.print(f"Collected {written} new result lines of batch {store.name} into {target}.",
                      highlight=False, soft_wrap=True)
    return written, present, skipped


async def collect_shared_batch_async(
    name: str,
    output_path: PathArg,
    *,
    redis_url: str,
    quiet: bool = False,
    console: Console | None = None,
) -> CollectReport:
    """Append the results of shared batch ``name`` to ``output_path`` (trio); safe to repeat at any time.

    The file gets every result recorded so far that it does not hold yet, in the batch output format; a
    torn last line is repaired first, as on resume. While the batch runs this writes what exists; once
    it is complete, the file answers every job.

    Raises:
        SharedBatchError: Redis is unreachable.
        BatchFileError: the output file has a corrupt line before its last.
    """
    target = Path(output_path)
    console = console or Console(stderr=True)
    store = BatchStore(redis_url, name)
    try:
        written, present, skipped = await _collect_when_done(
            store, target, max(3.0, DEFAULT_RECLAIM_AFTER), quiet=True, console=console, always=True
        )
        progress = await _call(store.progress)
    finally:
        store.close()
    report = CollectReport(
        name=name, output_path=str(target), written=written, present=present, skipped=skipped,
        jobs=progress.jobs, done=progress.done, failed=progress.failed, complete=progress.finished,
    )
    if not quiet:
        state = "complete" if report.complete else f"not finished: {report.done} of {report.jobs or '?'} jobs done"
        console.print(
            f"Batch {name}: {written} result lines written to {target} ({present} already there); "
            f"{state}, {report.failed} failed.",
            highlight=False, soft_wrap=True,
        )
    return report


def collect_shared_batch(name: str, output_path: PathArg, **options: Any) -> CollectReport:
    """Blocking form of `collect_shared_batch_async` (it calls ``trio.run``)."""
    return trio.run(lambda: collect_shared_batch_async(name, output_path, **options))

