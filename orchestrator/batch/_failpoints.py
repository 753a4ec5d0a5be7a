"""Crash drills: kill the process at a named step of a Batch API run, to prove a re-run resumes from it.

The steps that matter for "no line submitted twice, none lost" are the instants right after the server
acted and before the state file recorded it: after an upload (``upload``), after a batch was created
(``create``), after a poll (``poll``), and midway through merging a download (``download``). Setting
``GROQ_ORCH_FAILPOINT=create`` makes the process SIGKILL itself at that instant, exactly like a machine
that loses power there; the tests then run the same command again and count what the emulator ran.
This is how storage engines test recovery (FoundationDB's and TiKV's failpoints); unset, it costs one
environment lookup per step, a handful of times per batch.

A Ray actor is restarted with the same environment, so its drill (``ray-batch``: an actor dies after
its batch was sent and answered, before Ray has the rows) fires once per marker file
(``GROQ_ORCH_FAILPOINT_MARKER``): the first process to create the file dies, the others go on.
"""

from __future__ import annotations

import os
import signal
from typing import Final, Literal

__all__ = ["FAILPOINT_ENV", "MARKER_ENV", "Failpoint", "failpoint"]

FAILPOINT_ENV: Final = "GROQ_ORCH_FAILPOINT"
MARKER_ENV: Final = "GROQ_ORCH_FAILPOINT_MARKER"

Failpoint = Literal["upload", "create", "poll", "download", "ray-batch"]


def failpoint(name: Failpoint) -> None:
    """SIGKILL this process if ``GROQ_ORCH_FAILPOINT`` names this step; otherwise do nothing."""
    if os.environ.get(FAILPOINT_ENV) != name:
        return
    marker = os.environ.get(MARKER_ENV)
    if marker:
        try:
            os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return  # another process died here already
    os.kill(os.getpid(), signal.SIGKILL)
