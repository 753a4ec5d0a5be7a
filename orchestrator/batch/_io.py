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
* Resume is checked, not trusted: beside each answered id the set keeps the ``input_sha256`` its result
  line carries (8 more bytes), and the first pass over the input compares it with the line the id names
  now. An edited line, lines inserted before plain bodies (``line-N`` ids shift), or a results file written
  for another input is refused (`InputChangedError`) instead of silently skipped. Result lines written by
  older versions carry no hash: they are accepted, with one warning.

Crash safety of the output: every result is one ``write`` of a complete line on a file opened with
``O_APPEND``, so a SIGKILL at any moment leaves either nothing or a prefix of the last line. `open_results`
finds such an incomplete tail (no newline, or a final line that does not decode), truncates it away, and
reports how many bytes it removed; that job simply runs again. An undecodable line *before* the last is not
a crash artefact, so it is refused with its line number instead of being silently dropped; so is a last
line that is complete JSON but not a result (a jobs file given as the output is refused, never truncated).
A results "file" that is not a regular file (``/dev/null``, ``/dev/full``, a pipe) is never read or
truncated: there is nothing to resume from it.

All IO here is synchronous and line-sized; the trio runner calls it between checkpoints.
"""

from __future__ import annotations

import errno
import hashlib
import os
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import msgspec

from orchestrator.batch._records import identify
from orchestrator.batch._source import DIGEST_HEX, is_regular, line_digest
from orchestrator.observe._logging import get_logger

__all__ = [
    "AnsweredIds",
    "BatchFileError",
    "DuplicateCustomIdError",
    "DuplicateId",
    "InputChangedError",
    "InputScan",
    "ResultWriter",
    "ResumeState",
    "id_digest",
    "iter_input_lines",
    "open_results",
    "scan_input",
]

log = get_logger("orchestrator.batch")

_READ_BUFFER = 1 << 20
#: Stored for a result line with no (readable) ``input_sha256``: unknown, accepted.
_UNKNOWN_LINE = 0
_LOW_64 = (1 << 64) - 1
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


class InputChangedError(BatchFileError):
    """Result lines answer custom_ids whose input lines are not the ones they were written for; nothing was sent.

    Attributes:
        changed: ``(custom_id, line number)`` of the first few such lines.
        total: how many there are.
    """

    def __init__(self, path: Path, results: Path | None, changed: tuple[tuple[str, int], ...], total: int) -> None:
        self.changed = changed
        self.total = total
        shown = "; ".join(f"{cid!r} (line {line})" for cid, line in changed)
        more = f" (and {total - len(changed)} more)" if total > len(changed) else ""
        where = str(results) if results is not None else "the results file"
        super().__init__(
            f"{where} holds results for {total} custom_id(s) of {path} that were written for a different input "
            f"line: {shown}{more}. The input was edited, lines were inserted or removed (plain bodies are known "
            f"by their line number, line-N), or {where} belongs to another jobs file. Resuming would skip "
            "these jobs with answers to other requests. Restore the input, or write to a new results file (or "
            "delete those result lines to run the jobs again). Nothing was sent."
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
    """What the first pass learned: how many jobs the file holds, and how many are already answered.

    ``unverified`` counts answered jobs whose result line carries no ``input_sha256`` (written by an older
    version), so the scan could not check that it answers the line the input holds now.
    """

    jobs: int
    answered: int = 0
    unverified: int = 0


_MAX_REPORTED_CHANGES = 10


def scan_input(path: Path, answered: AnsweredIds | None = None, *, results: Path | None = None) -> InputScan:
    """Count the jobs, check what the results file answers, and refuse duplicate custom_ids, in O(jobs) * 8
    bytes of memory.

    Sorting the digests briefly needs a list of Python ints (about 40 bytes a job) on top of the 8-byte
    array; both are freed before this returns.

    Args:
        path: the input file.
        answered: ids a results file already holds; the scan counts how many input jobs are among them, and
            checks that each one's result line was written for the line the input holds now.
        results: the results file ``answered`` came from, named in the refusal.

    Raises:
        InputChangedError: result lines answer ids whose input lines changed (the first few listed).
        DuplicateCustomIdError: some custom_id occurs on more than one line (lines listed).
        OSError: the file cannot be read.
    """
    digests = array("Q")
    done = unverified = changed_total = 0
    changed: list[tuple[str, int]] = []
    for number, raw in iter_input_lines(path):
        custom_id = identify(raw, number)
        digest = id_digest(custom_id)
        digests.append(digest)
        if answered is not None and answered.has_digest(digest):
            done += 1
            match answered.line_matches(digest, line_digest(raw)):
                case None:
                    unverified += 1
                case False:
                    changed_total += 1
                    if len(changed) < _MAX_REPORTED_CHANGES:
                        changed.append((custom_id, number))
    if changed_total:
        raise InputChangedError(path, results, tuple(changed), changed_total)
    if unverified:
        log.warning("batch_results_unverified", results=str(results) if results else None, lines=unverified,
                    reason="written without input_sha256 (an older version); trusted as they are")
    jobs = len(digests)
    ordered = sorted(digests)  # a list of ints is transient; the array below is what stays
    del digests
    repeated = array("Q", {ordered[i] for i in range(1, jobs) if ordered[i] == ordered[i - 1]})
    del ordered
    if repeated:
        _refuse_duplicates(path, set(repeated))
    return InputScan(jobs, done, unverified)


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
    """The custom_ids already present in a results file, as sorted 64-bit digests (8 bytes each), with the
    input line digest each one's result line carries (8 bytes more, 0 when it carries none).

    Membership is a binary search. This is not a general set: it is built once by `open_results` and only
    read afterwards.
    """

    __slots__ = ("_digests", "_lines")

    def __init__(self, digests: array[int], lines: array[int] | None = None) -> None:
        if lines is None:
            self._digests = array("Q", sorted(digests))
            self._lines = array("Q", bytes(8 * len(digests)))
            return
        if len(lines) != len(digests):
            raise ValueError(f"{len(lines)} line digests for {len(digests)} ids; give one per id")
        # One transient list of 128-bit ints (id digest high, line digest low) sorts both arrays together.
        pairs = sorted((digest << 64) | line for digest, line in zip(digests, lines))
        self._digests = array("Q", (pair >> 64 for pair in pairs))
        self._lines = array("Q", (pair & _LOW_64 for pair in pairs))

    def __contains__(self, custom_id: object) -> bool:
        # A fresh run answers nothing: its every line is spared hashing the id.
        return bool(self._digests) and isinstance(custom_id, str) and self.has_digest(id_digest(custom_id))

    def has_digest(self, digest: int) -> bool:
        """Membership by digest (`id_digest`), for callers that already computed it."""
        index = bisect_left(self._digests, digest)
        return index < len(self._digests) and self._digests[index] == digest

    def line_matches(self, digest: int, line: str) -> bool | None:
        """Whether the result line of the id with ``digest`` was written for the input line with `line_digest`
        ``line``: True or False, or None when it carries no digest (an older version wrote it)."""
        wanted = int(line, 16)
        index = bisect_left(self._digests, digest)
        verdict: bool | None = False
        while index < len(self._digests) and self._digests[index] == digest:
            stored = self._lines[index]
            if stored == wanted:
                return True
            if stored == _UNKNOWN_LINE:
                verdict = None
            index += 1
        return verdict

    def __len__(self) -> int:
        return len(self._digests)

    def __repr__(self) -> str:
        size = self._digests.itemsize * len(self._digests)
        return f"<AnsweredIds {len(self)} ids, {size} bytes>"


class _ResultView(msgspec.Struct):
    """Decodes only what resume needs of a result line: its custom_id and input digest (the body is skipped
    unparsed), and which of the members telling a result from a job line it has."""

    custom_id: str
    response: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    error: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    body: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    messages: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    input_sha256: str | None = None


_decode_result_view = msgspec.json.Decoder(_ResultView).decode
_decode_any = msgspec.json.Decoder().decode


def _read_result(raw: bytes) -> tuple[_ResultView | None, str]:
    """The line as a result, or None and why not (in words)."""
    try:
        view = _decode_result_view(raw)
    except msgspec.DecodeError as exc:
        return None, str(exc)
    if view.response is msgspec.UNSET and view.error is msgspec.UNSET:
        if view.body is not msgspec.UNSET or view.messages is not msgspec.UNSET:
            return None, ("it has no response or error but a request: it is a line of a jobs file; is the output "
                          "the input, or a copy of it?")
        return None, "it has neither a response nor an error"
    return view, ""


def _line_value(view: _ResultView) -> int:
    text = view.input_sha256
    if text is None or len(text) != DIGEST_HEX:
        return _UNKNOWN_LINE
    try:
        return int(text, 16)
    except ValueError:
        return _UNKNOWN_LINE


def _is_json(raw: bytes) -> bool:
    try:
        _decode_any(raw)
    except msgspec.DecodeError:
        return False
    except RecursionError:
        return True  # too deep to decode, but written whole: not a torn write
    return True


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

    A missing file is an empty one, and so is one that is not a regular file (a device such as
    ``/dev/full``, a pipe): it is never read. The repair truncates the file in place and fsyncs it, so a
    second crash cannot resurrect the torn bytes.

    Raises:
        BatchFileError: a line other than the last is not a result record (the file is not ours, or was
            edited), or the last is whole JSON but not a result (a jobs file); the message names the line.
    """
    digests = array("Q")
    line_digests = array("Q")
    if not is_regular(path):
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
            if not raw.strip():
                if raw.endswith(b"\n"):
                    keep = offset
                continue
            result, reason = _read_result(raw)
            if result is None and _is_json(raw):
                raise BatchFileError(
                    f"{path}: line {number} is not a batch result ({reason}). Refusing to resume from, or "
                    "append to, a file that is not a results file; write results to a new file."
                )
            if not raw.endswith(b"\n"):
                break  # torn tail: truncated below
            if result is None:
                pending_error = (number, reason)
                continue
            digests.append(id_digest(result.custom_id))
            line_digests.append(_line_value(result))
            lines += 1
            keep = offset
        size = offset
    repaired = size - keep
    if repaired:
        with open(path, "r+b") as handle:
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())
    return ResumeState(AnsweredIds(digests, line_digests), lines, repaired)


class ResultWriter:
    """Appends result lines so that a crash at any instant leaves at most one torn last line.

    Each line goes down in one unbuffered ``write`` on an ``O_APPEND`` file (looping only if the kernel
    accepts part of it), so readers and `open_results` never see interleaved or reordered bytes. The page
    cache is fsynced every ``fsync_every`` lines and on close: a SIGKILL loses nothing written (the kernel
    has it), a power cut loses at most the lines since the last fsync, and resume redoes those jobs.

    A failed write (``ENOSPC``: the disk, or ``/dev/full``, is full) raises `OSError` naming the file at once:
    it is an error of the run, not of a job, and stops the batch.
    """

    __slots__ = ("_file", "_fsync_every", "_since_sync", "path", "written")

    def __init__(self, path: Path, *, fsync_every: int = 256) -> None:
        if fsync_every < 1:
            raise ValueError(f"fsync_every is {fsync_every!r}; it must be at least 1")
        self.path = path
        self._file: IO[bytes] = open(path, "ab", buffering=0)  # noqa: SIM115 - closed by close()
        self._fsync_every = fsync_every
        self._since_sync = 0
        self.written = 0

    def write(self, line: bytes) -> None:
        """Append one complete line (it must end with a newline).

        Raises:
            OSError: the write failed (its ``filename`` is the results file).
        """
        view = memoryview(line)
        try:
            while view:
                count = self._file.write(view)
                view = view[count or 0 :]
        except OSError as exc:
            raise OSError(exc.errno, f"cannot write results: {exc.strerror}", str(self.path)) from exc
        self.written += 1
        self._since_sync += 1
        if self._since_sync >= self._fsync_every:
            self.sync()

    def sync(self) -> None:
        """Force written lines to stable storage (a no-op for a file that cannot be synced: a device, a pipe)."""
        self._since_sync = 0
        try:
            os.fsync(self._file.fileno())
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EROFS):
                raise

    def close(self) -> None:
        """Sync and close; idempotent."""
        if not self._file.closed:
            try:
                self.sync()
            finally:
                self._file.close()

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
