"""The batch runner's file IO: streaming the input, refusing duplicate ids, repairing and resuming the output.

Theory of operation
-------------------
Memory must not grow with the size of the job file, except for one deliberate, small per-job cost:
**8 bytes per custom_id**. Two questions need "every id in the file": *does any custom_id repeat?* (asked
before anything is sent, because two results under one id make a results file ambiguous) and *which ids
have already been answered?* (asked when resuming). Both are answered with 64-bit blake2b digests stored in
an ``array('Q')`` (exactly 8 bytes each, no per-object overhead), sorted once and searched with bisect:
10,000 jobs cost 80 KB, a million cost 8 MB. The strings themselves are never kept.

* Duplicates: pass 1 collects the digests of every line's id; sorting them makes equal digests adjacent.
  Only when some digest repeats does pass 2 re-read the file to collect the line numbers (and the real
  strings, so a digest collision between *different* ids is recognised and ignored, not reported).
* Resume: the answered set is the sorted digests of the results file's custom_ids. A digest collision
  here would skip a job that has not run; with 64-bit digests that needs about 4 billion jobs to become
  likely (n*m / 2**64 for n answered and m input ids), which we accept and document.

Crash safety of the output: every result is one ``write`` of a complete line on a file opened with
``O_APPEND``, so a SIGKILL at any moment leaves either nothing or a prefix of the last line. `open_results`
finds such an incomplete tail (no newline, or a final line that does not decode), truncates it away, and
reports how many bytes it removed; that job simply runs again. An undecodable line *before* the last is not
a crash artefact, so it is refused with its line number instead of being silently dropped.

All IO here is synchronous and line-sized; the trio runner calls it between checkpoints.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import msgspec

from orchestrator.batch._records import identify

__all__ = [
    "AnsweredIds",
    "BatchFileError",
    "DuplicateCustomIdError",
    "DuplicateId",
    "InputScan",
    "ResultWriter",
    "ResumeState",
    "id_digest",
    "iter_input_lines",
    "open_results",
    "scan_input",
]

_READ_BUFFER = 1 << 20
# Duplicates reported in full; beyond this the refusal says how many more there are.
_MAX_REPORTED_DUPLICATES = 20
_MAX_REPORTED_LINES = 10


class BatchFileError(Exception):
    """An input or results file that the runner refuses to use; the message says which line and what to do."""


class DuplicateId(msgspec.Struct, frozen=True):
    """One custom_id that occurs more than once, with the line numbers where it does (first few)."""

    custom_id: str
    lines: tuple[int, ...]


class DuplicateCustomIdError(BatchFileError):
    """The input repeats custom_ids; nothing was sent.

    Attributes:
        duplicates: the repeated ids and their line numbers (at most 20 listed).
        total: how many distinct ids repeat.
    """

    def __init__(self, path: Path, duplicates: tuple[DuplicateId, ...], total: int) -> None:
        self.duplicates = duplicates
        self.total = total
        shown = "; ".join(
            f"{dup.custom_id!r} on lines {', '.join(map(str, dup.lines))}" for dup in duplicates
        )
        more = f" (and {total - len(duplicates)} more)" if total > len(duplicates) else ""
        super().__init__(
            f"{path}: {total} custom_id(s) occur more than once: {shown}{more}. "
            "Each job needs a unique custom_id so its result can be found (and resumed); "
            "rename or remove the repeats. Nothing was sent."
        )


def id_digest(custom_id: str) -> int:
    """The 64-bit blake2b digest of a custom_id, as an unsigned int (what the id sets store)."""
    return int.from_bytes(hashlib.blake2b(custom_id.encode("utf-8"), digest_size=8).digest(), "little")


def iter_input_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, raw_line)`` for every non-blank line, streaming (never loading the file whole).

    Line numbers are 1-based and count blank lines too, so they match what an editor shows. Trailing
    ``\\r\\n``/``\\n`` and surrounding whitespace are stripped; blank lines are not jobs and are skipped.
    """
    with open(path, "rb", buffering=_READ_BUFFER) as handle:
        for number, raw in enumerate(handle, start=1):
            stripped = raw.strip()
            if stripped:
                yield number, stripped


class InputScan(msgspec.Struct, frozen=True):
    """What the first pass learned: how many jobs the file holds, and how many are already answered."""

    jobs: int
    answered: int = 0


def scan_input(path: Path, answered: AnsweredIds | None = None) -> InputScan:
    """Count the jobs and refuse duplicate custom_ids, in O(jobs) * 8 bytes of memory.

    Sorting the digests briefly needs a list of Python ints (about 40 bytes a job) on top of the 8-byte
    array; both are freed before this returns.

    Args:
        path: the input file.
        answered: ids a results file already holds; the scan counts how many input jobs are among them.

    Raises:
        DuplicateCustomIdError: some custom_id occurs on more than one line (lines listed).
        OSError: the file cannot be read.
    """
    digests = array("Q")
    done = 0
    for number, raw in iter_input_lines(path):
        digest = id_digest(identify(raw, number))
        digests.append(digest)
        if answered is not None and answered.has_digest(digest):
            done += 1
    jobs = len(digests)
    ordered = sorted(digests)  # a list of ints is transient; the array below is what stays
    del digests
    repeated = array("Q", {ordered[i] for i in range(1, jobs) if ordered[i] == ordered[i - 1]})
    del ordered
    if repeated:
        _refuse_duplicates(path, set(repeated))
    return InputScan(jobs, done)


def _refuse_duplicates(path: Path, repeated: set[int]) -> None:
    """Second pass: find the lines behind the repeated digests and raise if real strings repeat."""
    lines_by_id: dict[str, list[int]] = {}
    for number, raw in iter_input_lines(path):
        custom_id = identify(raw, number)
        if id_digest(custom_id) in repeated:
            lines_by_id.setdefault(custom_id, []).append(number)
    real = [(cid, lines) for cid, lines in lines_by_id.items() if len(lines) > 1]
    if not real:
        return  # only digest collisions between different ids: not duplicates
    real.sort(key=lambda item: item[1][0])
    shown = tuple(
        DuplicateId(cid, tuple(lines[:_MAX_REPORTED_LINES])) for cid, lines in real[:_MAX_REPORTED_DUPLICATES]
    )
    raise DuplicateCustomIdError(path, shown, len(real))


class AnsweredIds:
    """The custom_ids already present in a results file, as sorted 64-bit digests (8 bytes each).

    Membership is a binary search. This is not a general set: it is built once by `open_results` and only
    read afterwards.
    """

    __slots__ = ("_digests",)

    def __init__(self, digests: array[int]) -> None:
        self._digests = array("Q", sorted(digests))

    def __contains__(self, custom_id: object) -> bool:
        return isinstance(custom_id, str) and self.has_digest(id_digest(custom_id))

    def has_digest(self, digest: int) -> bool:
        """Membership by digest (`id_digest`), for callers that already computed it."""
        index = bisect_left(self._digests, digest)
        return index < len(self._digests) and self._digests[index] == digest

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        return f"<AnsweredIds {len(self)} ids, {self._digests.itemsize * len(self)} bytes>"


class _ResultView(msgspec.Struct):
    """Decodes only the custom_id of a result line (the body is skipped unparsed)."""

    custom_id: str


_decode_result_view = msgspec.json.Decoder(_ResultView).decode


class ResumeState(msgspec.Struct, frozen=True):
    """What was found in an existing results file before appending to it.

    Attributes:
        answered: ids that already have a result line (skipped on this run).
        lines: complete result lines kept.
        repaired_bytes: bytes of an incomplete last line that were truncated away (0 if none).
    """

    answered: AnsweredIds
    lines: int
    repaired_bytes: int


def open_results(path: Path) -> ResumeState:
    """Read an existing results file (if any), repair a torn last line, and return what is already done.

    A missing file is an empty one. The repair truncates the file in place and fsyncs it, so a second
    crash cannot resurrect the torn bytes.

    Raises:
        BatchFileError: a line other than the last is not a result record (the file is not ours, or was
            edited); the message names the line.
    """
    digests = array("Q")
    if not path.exists():
        return ResumeState(AnsweredIds(digests), 0, 0)
    keep = 0  # byte offset just past the last good line
    lines = 0
    with open(path, "rb", buffering=_READ_BUFFER) as handle:
        pending_error: tuple[int, str] | None = None
        offset = 0
        for number, raw in enumerate(handle, start=1):
            offset += len(raw)
            if pending_error is not None:
                bad_line, reason = pending_error
                raise BatchFileError(
                    f"{path}: line {bad_line} is not a batch result ({reason}); it is not the last line, so it is "
                    "not a torn write from a crash. Fix or remove it, or write results to a new file."
                )
            if not raw.endswith(b"\n"):
                break  # torn tail: truncated below
            if not raw.strip():
                keep = offset
                continue
            try:
                result = _decode_result_view(raw)
            except msgspec.DecodeError as exc:
                pending_error = (number, str(exc))
                continue
            digests.append(id_digest(result.custom_id))
            lines += 1
            keep = offset
        size = offset
    repaired = size - keep
    if repaired:
        with open(path, "r+b") as handle:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
    return ResumeState(AnsweredIds(digests), lines, repaired)


class ResultWriter:
    """Appends result lines so that a crash at any instant leaves at most one torn last line.

    Each line goes down in one unbuffered ``write`` on an ``O_APPEND`` file (looping only if the kernel
    accepts part of it), so readers and `open_results` never see interleaved or reordered bytes. The page
    cache is fsynced every ``fsync_every`` lines and on close: a SIGKILL loses nothing written (the kernel
    has it), a power cut loses at most the lines since the last fsync, and resume redoes those jobs.
    """

    __slots__ = ("_file", "_fsync_every", "_since_sync", "written")

    def __init__(self, path: Path, *, fsync_every: int = 256) -> None:
        if fsync_every < 1:
            raise ValueError(f"fsync_every is {fsync_every!r}; it must be at least 1")
        self._file: IO[bytes] = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        self._fsync_every = fsync_every
        self._since_sync = 0
        self.written = 0

    def write(self, line: bytes) -> None:
        """Append one complete line (it must end with a newline)."""
        view = memoryview(line)
        while view:
            count = self._file.write(view)
            view = view[count or 0 :]
        self.written += 1
        self._since_sync += 1
        if self._since_sync >= self._fsync_every:
            self.sync()

    def sync(self) -> None:
        """Force written lines to stable storage."""
        os.fsync(self._file.fileno())
        self._since_sync = 0

    def close(self) -> None:
        """Sync and close; idempotent."""
        if not self._file.closed:
            self.sync()
            self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
