"""The small state file that lets a Batch API run survive a SIGKILL at any instant.

A run through Groq's Batch API lives mostly on the server: files uploaded, batches validating and running
for hours. What the client must remember between its own restarts is which of *its* parts have reached the
server, so that a re-run neither submits a line twice nor loses one. That is this file:
``RESULTS.jsonl.batch-api.json`` beside the results file, rewritten atomically (a temporary file, fsync,
rename) after every step, so it always holds one complete state.

Each round uploads every input line the results file does not answer yet, split into parts that respect
Groq's per-batch limits. A part moves through these phases, and the state is saved *before* each step
whose effect a crash could hide:

=============  ============================================  =============================================
phase          what is known                                 what a resumed run does
=============  ============================================  =============================================
``prepared``   the part's JSONL file is on disk              uploads it (an upload cut short leaves at most
                                                             an orphan file on the server, never a batch)
``uploaded``   the server's ``file_id``                      saves ``creating``, then creates the batch
``creating``   a batch may or may not exist for ``file_id``  looks for a batch whose ``input_file_id`` is
                                                             the part's file before creating one: this is
                                                             the step that could submit lines twice
``submitted``  the ``batch_id``                              polls it, then downloads and merges its output
``merged``     its lines are in the results file            nothing
=============  ============================================  =============================================

Merging is idempotent by construction: a line whose custom_id the results file already holds is skipped,
so a crash midway through a download is repaired by downloading again.

This module is pure apart from `load_state` / `save_state`; the runner (`orchestrator.batch._batch_api`)
drives the transitions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import msgspec

from orchestrator.batch._io import BatchFileError

__all__ = ["PartState", "Phase", "RunFile", "load_state", "new_run_id", "save_state", "state_path", "work_dir"]

Phase = Literal["prepared", "uploaded", "creating", "submitted", "merged"]

_VERSION = 1


class PartState(msgspec.Struct, kw_only=True):
    """One part of a round: a file of at most Groq's per-batch limit of lines, and the batch running it."""

    index: int
    path: str
    lines: int
    phase: Phase = "prepared"
    file_id: str | None = None
    batch_id: str | None = None


class RunFile(msgspec.Struct, kw_only=True):
    """Everything a resumed Batch API run needs: which input, which round, and each part's phase.

    ``input_size`` and ``input_mtime_ns`` identify the input the parts were cut from; a changed input is
    refused rather than merged with batches made from the old one.
    """

    version: int = _VERSION
    run_id: str
    input_path: str
    input_size: int
    input_mtime_ns: int
    round: int = 1
    parts: list[PartState] = msgspec.field(default_factory=list)

    def describe(self) -> str:
        """One line for the console: round and parts by phase."""
        phases: dict[str, int] = {}
        for part in self.parts:
            phases[part.phase] = phases.get(part.phase, 0) + 1
        shown = ", ".join(f"{count} {phase}" for phase, count in sorted(phases.items()))
        return f"round {self.round}: {shown or 'no parts'}"


_decode_run = msgspec.json.Decoder(RunFile).decode
_encode = msgspec.json.Encoder().encode


def state_path(output: Path) -> Path:
    """Where the state of a Batch API run writing ``output`` is kept: beside it, with a suffix."""
    return output.with_name(output.name + ".batch-api.json")


def work_dir(output: Path) -> Path:
    """The directory holding the part files of a run writing ``output`` (removed when the run is complete)."""
    return output.with_name(output.name + ".batch-api")


def new_run_id() -> str:
    """A random id for one run; it tags the run's batches (``metadata``) so they can be found again."""
    return os.urandom(8).hex()


def load_state(path: Path) -> RunFile | None:
    """The saved state, or None when there is none.

    Raises:
        BatchFileError: the file exists but is not a state this version wrote; the message says how to
            start over.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        state = _decode_run(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BatchFileError(
            f"{path} is not a Batch API run state ({exc}). It is rewritten atomically, so it was edited or "
            "written by something else; delete it (and its .batch-api directory) to start the Batch API run "
            "over. Results already in the output file are kept either way."
        ) from exc
    if state.version != _VERSION:
        raise BatchFileError(f"{path} has state version {state.version}; this groq-orchestrator writes {_VERSION}. "
                             "Finish the run with the version that started it, or delete the file to start over.")
    return state


def save_state(path: Path, state: RunFile) -> None:
    """Replace the state file atomically: a crash leaves the old state or the new, never a torn one."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(_encode(state))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
