"""The batch runner through Groq's Batch API (``--via batch-api``), and beside the live lanes (``--via auto``).

Theory of operation
-------------------
The results file is the one source of truth, exactly as for a live batch: a line is done when the results
file holds its custom_id, and every input line ends with exactly one result line. A Batch API run is a
sequence of *rounds*; each round takes every input line the results file does not answer yet:

1. **Prepare.** Stream the input; unusable lines and requests the client refuses (a retired model, a bad
   field) get their error record at once, like a live run. The rest are written as Groq batch lines into
   part files of at most Groq's per-batch limits (50,000 lines [I], 100 MB; see `MAX_PART_LINES`).
2. **Submit.** Upload each part (streamed from disk), then create its batch. The state file
   (`orchestrator.batch._batch_state`) is saved before and after every step that reaches the server, so a
   SIGKILL anywhere resumes without submitting a line twice: a part caught between "create the batch" and
   "remember its id" is looked up by its input file before a batch is created for it.
3. **Poll** each batch (backing off up to ``poll_max`` seconds) and show its status and counts.
4. **Merge.** Stream the output and error files: successes are copied into the results file as they are
   (it uses Groq's batch output format), errors the server gave for the request itself are recorded, and
   lines that never ran (expired, cancelled) or failed for a passing reason (429, 5xx) are left unanswered.
   A line the results file already answers is skipped, so merging again after a crash is harmless.
5. **Next round** resubmits what is still unanswered, up to ``batch_rounds`` rounds; the last round
   records whatever is left as an error, so nothing is lost and nothing is silently dropped.

``--via auto --deadline D`` runs the live lanes and the Batch API at once. `LiveShare` gives the live
lanes, in file order, the jobs the account's rate limits can finish within ``D``; everything else is
submitted as batches. Live lanes that finish early go on to the batch side's lines until the deadline.
Whichever answer arrives first is recorded (one task writes; it checks the custom_id before each write);
the later one is ignored, and batches whose every line is answered are cancelled.

Memory: the answered set is 8 bytes per custom_id (`orchestrator.batch._io`); ids written during a
round are kept as 64-bit digests in a set until the round ends; every file is streamed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import msgspec
import trio
from rich.console import Console

from actors._job import Job
from orchestrator._account_limits import starting_limits
from orchestrator._errors import GroqError
from orchestrator._map import JobResult
from orchestrator._prices import CostTally, PriceTable
from orchestrator.batch._batch_lines import (
    OutputLine,
    decode_output_line,
    error_line,
    not_returned_line,
    verdict,
)
from orchestrator.batch._batch_state import (
    PartState,
    RunFile,
    load_state,
    new_run_id,
    save_state,
    state_path,
    work_dir,
)
from orchestrator.batch._failpoints import failpoint
from orchestrator.batch._io import (
    AnsweredIds,
    BatchFileError,
    ResultWriter,
    id_digest,
    iter_input_lines,
    open_results,
    scan_input,
)
from orchestrator.batch._live_share import LiveShare
from orchestrator.batch._options import BatchOptions
from orchestrator.batch._records import (
    RUN_ERRORS,
    BadLine,
    BatchJob,
    bad_line_record,
    encode_record,
    failure_record,
    finished_line,
    identify,
    job_error,
    parse_line,
)
from orchestrator.batch._run import RunState, finish_run, open_run
from orchestrator.batch._summary import BatchSummary, BatchTally
from orchestrator.observe._logging import get_logger

if TYPE_CHECKING:
    from orchestrator._batch_wire import Batch
    from orchestrator._client import Client
    from orchestrator._endpoint import Endpoint

__all__ = ["MAX_PART_BYTES", "MAX_PART_LINES", "run_batch_api_async"]

log = get_logger("orchestrator.batch")

#: Lines per batch. Groq's docs give no per-batch line cap in our sources; 50,000 is OpenAI's documented
#: one, which Groq's OpenAI-compatible Batch API is assumed to share [I] (checked 2026-12).
MAX_PART_LINES: Final = 50_000
#: Bytes per uploaded file: "The Batch API only supports .jsonl files up to 100 MB in size"
#: (groq-python src/groq/resources/files.py, snapshot 2026-08-18). Decimal megabytes, the stricter reading.
MAX_PART_BYTES: Final = 100_000_000

_CHAT_ENDPOINT: Final = "/v1/chat/completions"
_CHECKPOINT_EVERY: Final = 256
_MAX_LIST_PAGES: Final = 100
_encode = msgspec.json.Encoder().encode


def _batch_line(custom_id: str, body: bytes) -> bytes:
    """One input line of a Groq batch file, with the already-encoded request as its body."""
    return _encode({"custom_id": custom_id, "method": "POST", "url": _CHAT_ENDPOINT, "body": msgspec.Raw(body)}) + b"\n"


def _unstreamed(job: BatchJob) -> Any:
    """The job's request without ``stream``: a batch line is answered whole, never as a stream."""
    request = job.request
    if request.stream or request.stream_options is not None:
        request = msgspec.structs.replace(request, stream=None, stream_options=None)
    return request


class _PartWriter:
    """Writes one round's part files, starting a new part at Groq's per-batch line and byte limits."""

    def __init__(self, directory: Path, round_number: int, *, max_lines: int, max_bytes: int) -> None:
        self._directory = directory
        self._round = round_number
        self._max_lines = max_lines
        self._max_bytes = max_bytes
        self._handle: IO[bytes] | None = None
        self._lines = 0
        self._bytes = 0
        self.parts: list[PartState] = []

    def add(self, line: bytes) -> None:
        if self._handle is None or self._lines >= self._max_lines or self._bytes + len(line) > self._max_bytes:
            self._close()
            path = self._directory / f"round{self._round}-part{len(self.parts)}.jsonl"
            self._handle = open(path, "wb")  # noqa: SIM115 - closed by _close()
            self.parts.append(PartState(index=len(self.parts), path=str(path), lines=0))
        assert self._handle is not None
        self._handle.write(line)
        self._lines += 1
        self._bytes += len(line)
        self.parts[-1].lines = self._lines

    def _close(self) -> None:
        if self._handle is not None:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None
            self._lines = self._bytes = 0

    def finish(self) -> list[PartState]:
        self._close()
        return self.parts


class _BatchApiRun(RunState):
    """One ``--via batch-api`` or ``--via auto`` run: its files, state, tally and the one writer."""

    def __init__(
        self,
        *,
        source: Path,
        target: Path,
        writer: ResultWriter,
        tally: BatchTally,
        answered: AnsweredIds,
        state: RunFile,
        options: BatchOptions,
        costs: CostTally,
    ) -> None:
        super().__init__(tally, costs)
        self.source = source
        self.target = target
        self.writer = writer
        self.answered = answered
        self.state = state
        self.state_file = state_path(target)
        self.work = work_dir(target)
        self.options = options
        self.costs: CostTally = costs  # never None here
        self.client: Client | None = None
        self._written: set[int] = set()
        self._status: dict[int, str] = {}
        self.batches_created = 0
        self.deadline: float | None = None
        #: ``--via auto``: bit n set when input line n is the live lanes' (one bit per line).
        self.live_lines: bytearray | None = None
        self.jobs_scope: trio.CancelScope | None = None
        self.time_scale = 1.0

    # ------------------------------------------------------------------ recording (the one writer)

    def is_answered(self, custom_id: str) -> bool:
        return custom_id in self.answered or id_digest(custom_id) in self._written

    def _write(self, custom_id: str, line: bytes) -> bool:
        """Append ``line`` unless ``custom_id`` is already answered; True when it was written."""
        digest = id_digest(custom_id)
        if digest in self._written or custom_id in self.answered:
            return False
        self.writer.write(line)
        self._written.add(digest)
        return True

    def _record_error(self, custom_id: str, line: bytes, code: str, *, malformed: bool = False) -> None:
        if self._write(custom_id, line):
            self.tally.record_failure(code, malformed=malformed)

    def _record_bad(self, bad: BadLine) -> None:
        self._record_error(bad.custom_id, encode_record(bad_line_record(bad)), bad.code, malformed=True)

    def _record_refused(self, job: BatchJob, error: GroqError) -> None:
        record = failure_record(job.custom_id, job.line, error, status_code=None, request_id=None, attempts=0,
                                input_sha256=job.input_sha256)
        assert record.error is not None
        self._record_error(job.custom_id, encode_record(record), record.error.code)

    def _record_success(self, custom_id: str, line: bytes, *, model: str | None, prompt_tokens: int,
                        completion_tokens: int, cached_tokens: int, via: str) -> None:
        if self._write(custom_id, line):
            self.tally.record_success(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
            self.costs.add(model or "", prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                           cached_tokens=cached_tokens, via=via)  # type: ignore[arg-type]

    def record_live(self, result: JobResult) -> None:
        """Record a live lane's result (``--via auto``), unless the Batch API answered the line first."""
        job: BatchJob = result.key
        if self.aborts(result.error):
            return
        finished = finished_line(job, result)
        if finished.error_code is not None:
            self._record_error(job.custom_id, finished.line, finished.error_code)
            return
        self._record_success(
            job.custom_id, finished.line, model=finished.model, prompt_tokens=finished.prompt_tokens,
            completion_tokens=finished.completion_tokens, cached_tokens=finished.cached_tokens, via="live",
        )

    # ------------------------------------------------------------------ the input, as jobs

    def _is_live(self, line: int) -> bool:
        plan = self.live_lines
        return plan is not None and line < len(plan) * 8 and bool(plan[line >> 3] & (1 << (line & 7)))

    async def _jobs(self, *, live: bool | None = False) -> AsyncIterator[tuple[BatchJob, Job]]:
        """Unanswered, usable jobs in file order with the client's job for each (validated, model mapped).

        ``live`` picks the live lanes' share of the jobs (True), the Batch API's (False), or all (None).
        Bad lines and refused requests are recorded here: neither a batch nor a live lane could run them.
        """
        assert self.client is not None
        for count, (number, raw) in enumerate(iter_input_lines(self.source), start=1):
            if count % _CHECKPOINT_EVERY == 0:
                await trio.lowlevel.checkpoint()
            if self.stopping:
                return
            custom_id = identify(raw, number)
            if (live is not None and self._is_live(number) != live) or self.is_answered(custom_id):
                continue
            parsed = parse_line(raw, number, model=self.options.model, custom_id=custom_id)
            if isinstance(parsed, BadLine):
                self._record_bad(parsed)
                continue
            try:
                job = self.client.chat_job(_unstreamed(parsed))
            except RUN_ERRORS:
                raise
            except Exception as error:  # a GroqError, or an unexpected one: it costs this job only
                self._record_refused(parsed, job_error(error, "validating"))
                continue
            yield parsed, job

    # ------------------------------------------------------------------ live lanes (auto)

    async def plan_live(self) -> None:
        """Mark the jobs the live lanes can finish before the deadline (`LiveShare`), once, before both start.

        The plan is a bitmap over line numbers, so both sides read the same split however the results file
        grows meanwhile.
        """
        assert self.client is not None and self.options.deadline is not None
        client = self.client
        # Rate limits are per emulated minute on the embedded emulator's compressed clock.
        share = LiveShare(lambda model: starting_limits(client.config, client.catalog, model).limits,
                          self.options.deadline * self.time_scale)
        plan = bytearray()
        async for parsed, job in self._jobs(live=None):
            assert job.model is not None
            if share.take(job.model, job.cost):
                needed = (parsed.line >> 3) + 1
                if len(plan) < needed:
                    plan.extend(bytes(needed - len(plan)))
                plan[parsed.line >> 3] |= 1 << (parsed.line & 7)
        self.live_lines = plan
        log.info("auto_planned", live=share.live, batch_api=share.batch, deadline_seconds=self.options.deadline)

    async def _live_pairs(self) -> AsyncIterator[tuple[BatchJob, Any]]:
        """The live share of the jobs, then (until the deadline) batch-side lines nobody has answered yet."""
        async for parsed, _job in self._jobs(live=True):
            yield parsed, _unstreamed(parsed)
        assert self.deadline is not None
        async for parsed, _job in self._jobs(live=False):
            if trio.current_time() >= self.deadline:
                return
            yield parsed, _unstreamed(parsed)

    async def run_live(self) -> None:
        """The live lanes of ``--via auto``: their share, then whatever the batches have not answered yet."""
        assert self.client is not None
        window = 2 * self.client.config.workers
        async with self.client.map(self._live_pairs(), max_in_flight=window) as results:
            async for result in results:
                self.record_live(result)
                if self.fatal is not None and self.jobs_scope is not None:
                    self.jobs_scope.cancel()

    # ------------------------------------------------------------------ rounds

    def _save(self) -> None:
        save_state(self.state_file, self.state)

    @property
    def _final_round(self) -> bool:
        return self.state.round >= self.options.batch_rounds

    async def _prepare_round(self) -> bool:
        """Cut the round's part files from every unanswered line; False when there is nothing left to send."""
        self.work.mkdir(exist_ok=True)
        parts = _PartWriter(self.work, self.state.round, max_lines=self.options.batch_max_lines,
                            max_bytes=MAX_PART_BYTES)
        async for parsed, job in self._jobs():
            assert isinstance(job.content, bytes)
            parts.add(_batch_line(parsed.custom_id, job.content))
        if self.stopping:
            parts.finish()
            return False
        self.state.parts = parts.finish()
        if not self.state.parts:
            return False
        self._save()
        log.info("batch_api_round_prepared", round=self.state.round, parts=len(self.state.parts),
                 lines=sum(part.lines for part in self.state.parts))
        return True

    async def run_batches(self) -> None:
        """Rounds until every line is answered (or recorded as failed after the last round)."""
        while not self.stopping:
            if not self.state.parts and not await self._prepare_round():
                return
            await self._submit_parts()
            await self._poll_parts()
            if self.stopping:
                return
            await self._finish_round()

    async def _submit_parts(self) -> None:
        assert self.client is not None
        for part in self.state.parts:
            if self.stopping:
                return
            if part.phase == "prepared":
                uploaded = await self.client.files.create(
                    file=Path(part.path), purpose="batch", timeout=self.options.upload_timeout
                )
                failpoint("upload")
                part.file_id, part.phase = uploaded.id, "uploaded"
                self._save()
            if part.phase == "uploaded":
                part.phase = "creating"
                self._save()
                batch = None
            elif part.phase == "creating":
                batch = await self._find_batch(part)  # a crash may have hidden a batch created for it
            else:
                continue
            if batch is None:
                assert part.file_id is not None
                batch = await self.client.batches.create(
                    input_file_id=part.file_id, endpoint=_CHAT_ENDPOINT,
                    completion_window=self.options.completion_window,
                    metadata={"groq_orch_run": self.state.run_id, "groq_orch_part": f"{self.state.round}.{part.index}"},
                )
                self.batches_created += 1
                failpoint("create")
            part.batch_id, part.phase = batch.id, "submitted"
            self._save()
            log.info("batch_api_submitted", batch_id=batch.id, round=self.state.round, part=part.index,
                     lines=part.lines)

    async def _find_batch(self, part: PartState) -> Batch | None:
        """The batch already made from ``part``'s uploaded file, if the server has one."""
        assert self.client is not None
        after: str | None = None
        for _ in range(_MAX_LIST_PAGES):
            listing = await self.client.batches.list(after=after)
            for batch in listing.data:
                if batch.input_file_id == part.file_id:
                    log.info("batch_api_adopted", batch_id=batch.id, part=part.index)
                    return batch
            if not listing.has_more or not listing.data:
                return None
            after = listing.data[-1].id
        return None

    async def _poll_parts(self) -> None:
        assert self.client is not None
        delay = self.options.poll_interval
        while not self.stopping:
            pending = [part for part in self.state.parts if part.phase == "submitted"]
            if not pending:
                return
            if self.tally.remaining == 0:
                await self._cancel(pending)  # the live lanes answered every line (auto)
                return
            for part in pending:
                assert part.batch_id is not None
                batch = await self.client.batches.retrieve(part.batch_id)
                self._show(part, batch)
                if batch.finished:
                    await self._merge(part, batch)
                    part.phase = "merged"
                    self._save()
            failpoint("poll")
            if any(part.phase == "submitted" for part in self.state.parts):
                await trio.sleep(delay)
                delay = min(delay * 2, self.options.poll_max)

    async def _cancel(self, parts: list[PartState]) -> None:
        assert self.client is not None
        for part in parts:
            assert part.batch_id is not None
            try:
                await self.client.batches.cancel(part.batch_id)
            except GroqError as error:  # it may have finished meanwhile; nothing depends on the cancel
                log.warning("batch_api_cancel_failed", batch_id=part.batch_id, error=str(error))
            part.phase = "merged"
            log.info("batch_api_cancelled", batch_id=part.batch_id, reason="every line answered")
        self._save()

    def _show(self, part: PartState, batch: Batch) -> None:
        counts = batch.request_counts
        done = (counts.completed + counts.failed) if counts is not None else 0
        if self._status.get(part.index) != batch.status:
            self._status[part.index] = batch.status
            log.info("batch_api_status", batch_id=batch.id, status=batch.status, done=done, lines=part.lines)
            if not self.options.quiet and self.options.console is not None:
                self.options.console.print(
                    f"batch {batch.id} (round {self.state.round}, part {part.index + 1}/{len(self.state.parts)}): "
                    f"{batch.status}, {done:,}/{part.lines:,} lines", highlight=False, soft_wrap=True,
                )
        self.note = f"Batch API round {self.state.round}: " + ", ".join(
            f"{self._status.get(p.index, p.phase)}" for p in self.state.parts
        )

    # ------------------------------------------------------------------ merging

    async def _merge(self, part: PartState, batch: Batch) -> None:
        """Copy a finished batch's answers into the results file (idempotent: answered ids are skipped)."""
        if batch.status == "failed":
            await self._merge_refused(part, batch)
            return
        for file_id in (batch.output_file_id, batch.error_file_id):
            if file_id:
                await self._merge_file(file_id)

    async def _merge_file(self, file_id: str) -> None:
        assert self.client is not None
        final = self._final_round
        async with self.client.files.content(file_id) as content:
            count = 0
            async for raw in content.aiter_lines():
                count += 1
                if count % _CHECKPOINT_EVERY == 0:
                    await trio.lowlevel.checkpoint()
                line = decode_output_line(raw)
                if line is None:
                    if raw.strip():
                        log.warning("batch_api_unreadable_line", file_id=file_id, line=count)
                    continue
                if self.is_answered(line.custom_id):
                    continue
                self._merge_line(line, raw, final=final)
                if count == 1:
                    failpoint("download")

    def _merge_line(self, line: OutputLine, raw: bytes, *, final: bool) -> None:
        decision = verdict(line, final_round=final)
        if decision == "success":
            body = line.body()
            usage = body.usage
            cached = 0
            if usage is not None and usage.prompt_tokens_details:
                cached = int(usage.prompt_tokens_details.get("cached_tokens") or 0)
            self._record_success(
                line.custom_id, raw + b"\n", model=body.model,
                prompt_tokens=usage.prompt_tokens if usage else 0,
                completion_tokens=usage.completion_tokens if usage else 0, cached_tokens=cached, via="batch",
            )
        elif decision == "record":
            encoded, code = error_line(line, attempts=self.state.round)
            self._record_error(line.custom_id, encoded, code)

    async def _merge_refused(self, part: PartState, batch: Batch) -> None:
        """A batch that failed validation: record the lines Groq named; the rest go again next round."""
        by_line: dict[int, Any] = {}
        general = None
        for detail in (batch.errors.data if batch.errors is not None and batch.errors.data else []):
            if detail.line is not None:
                by_line[detail.line] = detail
            elif general is None:
                general = detail
        log.warning("batch_api_refused", batch_id=batch.id, lines_named=len(by_line),
                    error=getattr(general, "message", None))
        if not by_line and not self._final_round:
            return
        with open(part.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                detail = by_line.get(number) or (general if self._final_round else None)
                if detail is None:
                    continue
                custom_id = identify(raw.strip(), number)
                code = detail.code or "batch_validation_failed"
                message = f"the Batch API refused this request: {detail.message or code}"
                encoded = not_returned_line(custom_id, None, code=code, message=message, attempts=self.state.round)
                self._record_error(custom_id, encoded, code)

    async def _finish_round(self) -> None:
        """After every part merged: on the last round record what is still unanswered; then the next round."""
        assert self.client is not None
        if self._final_round:
            async for parsed, _job in self._jobs():
                encoded = not_returned_line(
                    parsed.custom_id, parsed.line, code="batch_not_returned",
                    message=f"the Batch API did not return this line in {self.state.round} round(s) "
                            "(expired, cancelled, or failed each time); run the batch again to retry it",
                    attempts=self.state.round,
                )
                self._record_error(parsed.custom_id, encoded, "batch_not_returned")
        for part in self.state.parts:
            Path(part.path).unlink(missing_ok=True)
            if part.file_id is not None:
                try:
                    await self.client.files.delete(part.file_id)
                except GroqError as error:  # tidiness only: an input file left on Groq costs nothing
                    log.warning("batch_api_file_not_deleted", file_id=part.file_id, error=str(error))
        self.answered = open_results(self.target).answered
        self._written.clear()
        self.state.round += 1
        self.state.parts = []
        self._save()


def _identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _load_or_start(state_file: Path, source: Path) -> RunFile:
    size, mtime = _identity(source)
    state = load_state(state_file)
    if state is None:
        return RunFile(run_id=new_run_id(), input_path=str(source), input_size=size, input_mtime_ns=mtime)
    if (state.input_size, state.input_mtime_ns) != (size, mtime):
        raise BatchFileError(
            f"{source} changed since the Batch API run recorded in {state_file} began (it was "
            f"{state.input_size:,} bytes, now {size:,}). Its batches were cut from the old file, so they "
            "cannot be merged with this one. Restore the old input to finish that run, or delete "
            f"{state_file} to start over (the results already written are kept)."
        )
    return state


async def run_batch_api_async(source: Path, target: Path, *, endpoint: Endpoint, options: BatchOptions) -> BatchSummary:
    """Run ``source`` through Groq's Batch API (``options.via == "batch-api"``) or beside the live lanes
    (``"auto"``), appending one result line per input line to ``target``; a re-run resumes.

    See the module docstring for the guarantees; `orchestrator.batch.run_batch_async` documents the rest.
    """
    console = options.console or Console(stderr=True)
    if options.console is None:
        options = msgspec.structs.replace(options, console=console)
    resume = open_results(target)
    scan = scan_input(source, resume.answered, results=target)
    state = _load_or_start(state_path(target), source)
    prices = PriceTable.load(options.prices)
    where = f"{endpoint.description}, via {options.via}"
    if not options.quiet:
        if endpoint.notice:
            console.print(endpoint.notice, style="yellow", highlight=False, soft_wrap=True)
        if state.parts:
            console.print(f"Resuming the Batch API run in {state_path(target)}: {state.describe()}.",
                          highlight=False, soft_wrap=True)
    log.info("batch_started", input=str(source), output=str(target), jobs=scan.jobs, answered=scan.answered,
             endpoint=endpoint.description, via=options.via)
    with ResultWriter(target) as writer:
        run = _BatchApiRun(
            source=source, target=target, writer=writer,
            tally=BatchTally(jobs=scan.jobs, already_done=scan.answered, now=trio.current_time()),
            answered=resume.answered, state=state, options=options, costs=CostTally(prices),
        )
        async with open_run(run, endpoint, options, console, where=where, input_path=source,
                            output_path=target) as services:
            run.client, run.jobs_scope, run.time_scale = services.client, services.jobs_scope, endpoint.time_scale
            with services.jobs_scope:
                if options.via == "auto":
                    assert options.deadline is not None
                    run.deadline = trio.current_time() + options.deadline
                    await run.plan_live()
                    async with trio.open_nursery() as lanes:
                        lanes.start_soon(run.run_live)
                        lanes.start_soon(run.run_batches)
                else:
                    await run.run_batches()
            stats = services.client.statistics()
    summary = run.tally.summary(
        input_path=str(source), output_path=str(target), endpoint=where, now=trio.current_time(),
        retries=stats.retried, rate_limited=stats.rate_limited, interrupted_by=run.interrupted_by,
        repaired_bytes=resume.repaired_bytes, via=options.via, costs=run.costs, batches=run.batches_created,
    )
    if summary.complete and run.fatal is None:
        state_path(target).unlink(missing_ok=True)
        shutil.rmtree(work_dir(target), ignore_errors=True)
    log.info("batch_finished", succeeded=summary.succeeded, failed=summary.failed, not_run=summary.not_run,
             interrupted_by=summary.interrupted_by, via=options.via)
    return finish_run(run, summary, options, console)
