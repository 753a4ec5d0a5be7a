"""Crash drills: kill the process at a named step of a Batch API run, to prove a re-run resumes from it.

The steps that matter for "no line submitted twice, none lost" are the instants right after the server
acted and before the state file recorded it: after an upload (``upload``), after a batch was created
(``create``), after a poll (``poll``), and midway through merging a download (``download``). Setting
``GROQ_ORCH_FAILPOINT=create`` makes the process SIGKILL itself at that instant, exactly like a machine
that loses power there; the tests then run the same command again and count what the emulator ran.
This is how storage engines test recovery (FoundationDB's and TiKV's failpoints); unset, it costs one
environment lookup per step, a handful of times per batch.
"""

from __future__ import annotations

import os
import signal
from typing import Final, Literal

__all__ = ["FAILPOINT_ENV", "Failpoint", "failpoint"]

FAILPOINT_ENV: Final = "GROQ_ORCH_FAILPOINT"

Failpoint = Literal["upload", "create", "poll", "download"]


def failpoint(name: Failpoint) -> None:
    """SIGKILL this process if ``GROQ_ORCH_FAILPOINT`` names this step; otherwise do nothing."""
    if os.environ.get(FAILPOINT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
