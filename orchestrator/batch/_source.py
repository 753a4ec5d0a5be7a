"""Where a batch's input comes from, and how a result line remembers which input line it answers.

Theory of operation
-------------------
The runner reads its input more than once: one pass counts the jobs, refuses duplicate custom_ids and
checks what a results file already answers; the next pass sends the jobs. That needs a file that can be
read again. A pipe cannot: ``groq-orch batch <(cat jobs.jsonl)`` or ``/dev/stdin`` gives its lines to the
first pass only, and the run would find no jobs. `readable_source` therefore copies any input that is not a
regular file, once and streamed (bounded memory), into a temporary file beside the results file, and the
run reads that copy.

Resume trusts a results file only as far as it can check it. Every result line carries ``input_sha256``,
`line_digest` of the input line it answers (the line's bytes without surrounding whitespace), so a resumed
run sees when a custom_id it would skip now names a different line: an edited line, lines inserted before a
plain body (whose id ``line-N`` is its line number), or a results file written for another input.

`check_distinct` refuses an output that *is* the input (the same inode, through a hard link or a symlink):
appending results to the jobs file would corrupt both. These helpers are shared by every runner (live,
Batch API, Ray); they hold no state.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from orchestrator._errors import ConfigError

__all__ = ["DIGEST_HEX", "OutputIsInputError", "check_distinct", "is_regular", "line_digest", "readable_source"]

#: Hex characters of a line digest (64 bits: a false "unchanged" needs a sha256 prefix collision).
DIGEST_HEX: Final = 16

_COPY_CHUNK = 1 << 20


def line_digest(raw: bytes) -> str:
    """The ``input_sha256`` of one input line: the first 16 hex digits of the sha256 of its bytes.

    ``raw`` is the line as the runner reads it (`orchestrator.batch._io.iter_input_lines`): without its
    newline and surrounding whitespace, so re-saving a file with CRLF line ends does not count as an edit.
    """
    return hashlib.sha256(raw).hexdigest()[:DIGEST_HEX]


def is_regular(path: Path) -> bool:
    """True when ``path`` exists and is a regular file (following symlinks), i.e. can be read twice and truncated."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


class OutputIsInputError(ConfigError):
    """The results file named is the input file itself (field ``output``); nothing was written."""

    def advice(self) -> str:
        return "Name a different results file with -o (output=...); nothing was written."


def check_distinct(source: Path, target: Path) -> None:
    """Refuse a results file that is the input file itself, before anything is written.

    "The same" means the same inode (``st_dev`` and ``st_ino``), so a hard link or a symlink to the input is
    caught as well as the same path. An output that does not exist yet, or is not a regular file (a device,
    a pipe), cannot be the input's file.

    Raises:
        OutputIsInputError: ``target`` is ``source`` (a `ConfigError` on field ``output``).
    """
    try:
        out = os.stat(target)
        into = os.stat(source)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISREG(out.st_mode) and (out.st_dev, out.st_ino) == (into.st_dev, into.st_ino):
        raise OutputIsInputError(
            f"The results file {target} is the input file {source} (the same file, perhaps through a hard link "
            "or symlink): results appended to the jobs would corrupt both, so they must go to a different file",
            field="output", value=str(target),
        )


@contextmanager
def readable_source(path: Path, *, spool_dir: Path) -> Iterator[Path]:
    """A path to the input that can be read as often as the run needs, for the body of the ``with``.

    A regular file (or a path that does not exist) is yielded as it is. Anything else (a pipe such as ``<(cat jobs.jsonl)``, ``/dev/stdin``,
    a FIFO, a character device) is read once, to its end, and copied in 1 MiB chunks into a temporary file in
    ``spool_dir`` (the results file's directory); that copy is yielded and deleted when the block exits. Its
    modification time is derived from its content, so a Batch API run that identifies its input by size and
    mtime recognises the same piped content on a re-run.

    Args:
        path: the input as the user named it.
        spool_dir: where a copy may be written (beside the results file, so it is on a disk the run uses).

    Raises:
        OSError: the input cannot be read, or the copy cannot be written (e.g. the disk is full).
    """
    if is_regular(path) or not os.path.exists(path):
        yield path  # a missing input is reported by whoever reads it, as for any path
        return
    descriptor, name = tempfile.mkstemp(dir=spool_dir, prefix=".groq-orch-input-", suffix=".jsonl")
    spool = Path(name)
    try:
        digest = hashlib.sha256()
        with open(descriptor, "wb") as out, open(path, "rb", buffering=0) as source:
            while chunk := source.read(_COPY_CHUNK):
                digest.update(chunk)
                out.write(chunk)
        stamp = int.from_bytes(digest.digest()[:6], "little")  # ns: within the first three days of 1970
        os.utime(spool, ns=(stamp, stamp))
        yield spool
    finally:
        spool.unlink(missing_ok=True)
