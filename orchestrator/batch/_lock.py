"""One run per results file: an exclusive lock held for the whole run.

Two runs appending to one results file would both find the same jobs unanswered, send them twice, pay twice,
and write two result lines per custom_id. So a run first takes ``RESULTS.jsonl.lock`` beside the results file
with ``flock(LOCK_EX | LOCK_NB)``: the second run is refused at once, with a message naming the process that
holds the lock (its pid, host and start time, which the holder writes into the lock file), and exits non-zero
having written nothing.

Theory of operation
-------------------
``flock`` belongs to the open file and dies with the process, so a run killed by SIGKILL never leaves a stale
lock: the file may remain, but the next run locks it at once. The holder deletes the lock file on the way out,
*while still holding the lock*. A run that opened the file just before that deletion may then win the lock
on the deleted inode, so after locking it checks that the path still names the file it locked, and otherwise
tries again on the new one: two runs can never both believe they hold it.

A results "file" that is not a regular file (``/dev/null``, ``/dev/full``, a pipe) is not locked: it cannot be
resumed, so there is nothing two runs could both skip, and no lock file is created beside a device.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import msgspec

from orchestrator.batch._io import BatchFileError

__all__ = ["LockInfo", "OutputLockedError", "lock_output", "lock_path"]

_ATTEMPTS: Final = 16


class LockInfo(msgspec.Struct, frozen=True):
    """What the holder of a lock writes into it: who and since when."""

    pid: int
    host: str
    started: str  # ISO 8601, UTC
    command: str = ""

    def describe(self) -> str:
        """``pid 4242 on host-a, started 2026-12-01T10:00:00Z`` (what a refused run prints)."""
        return f"pid {self.pid} on {self.host}, started {self.started}"


class OutputLockedError(BatchFileError):
    """Another run holds the results file; nothing was sent or written.

    Attributes:
        holder: what the holder wrote into the lock file, or None if it could not be read.
    """

    def __init__(self, path: Path, lock: Path, holder: LockInfo | None) -> None:
        self.holder = holder
        who = holder.describe() if holder is not None else "another process (its lock file says nothing readable)"
        super().__init__(
            f"{path} is being written by another run: {who} holds {lock}. Two runs on one results file would "
            "send the same jobs twice; wait for it to finish (or stop it), or write to a different results file. "
            "Nothing was sent."
        )


_decode_info = msgspec.json.Decoder(LockInfo).decode
_encode = msgspec.json.Encoder().encode


def lock_path(path: Path) -> Path:
    """The lock file of results file ``path``: ``RESULTS.jsonl.lock`` beside it."""
    return path.with_name(path.name + ".lock")


def _read_holder(descriptor: int) -> LockInfo | None:
    try:
        raw = os.pread(descriptor, 4096, 0)
        return _decode_info(raw)
    except (OSError, msgspec.DecodeError):
        return None


@contextmanager
def lock_output(path: Path) -> Iterator[Path | None]:
    """Hold the exclusive lock on results file ``path`` for the body of the ``with`` (non-blocking).

    Yields the lock file's path (None when ``path`` exists and is not a regular file, which is not locked).
    The lock file holds this process's `LockInfo` while the block runs and is removed when it exits.

    Raises:
        OutputLockedError: another process (or another open of it in this process) holds the lock; the
            message names it from what it wrote.
        OSError: the lock file cannot be created (e.g. the directory is not writable).
    """
    if path.exists() and not path.is_file():
        yield None
        return
    lock = lock_path(path)
    descriptor = _acquire(path, lock)
    try:
        info = LockInfo(
            pid=os.getpid(), host=socket.gethostname(),
            started=datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
            command=" ".join(sys.argv)[:500],
        )
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, _encode(info) + b"\n", 0)
        yield lock
    finally:
        try:
            # Delete while still holding the lock; see the module docstring.
            if _same_file(descriptor, lock):
                lock.unlink()
        finally:
            os.close(descriptor)


def _acquire(path: Path, lock: Path) -> int:
    for _ in range(_ATTEMPTS):
        try:
            descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except FileNotFoundError:
            raise FileNotFoundError(errno.ENOENT, "the results file's directory does not exist", str(path)) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise OutputLockedError(path, lock, holder) from None
            raise
        if _same_file(descriptor, lock):
            return descriptor
        os.close(descriptor)  # the holder deleted it just before we locked: lock the new one
    raise OutputLockedError(path, lock, None)


def _same_file(descriptor: int, path: Path) -> bool:
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(descriptor)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)
