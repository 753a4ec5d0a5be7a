"""A local Ray cluster and an emulator on a real loopback socket, for the Ray stage's tests.

Use them by importing: ``from .ray_support import ray_cluster, served_emulator, unique_key`` (or
``..ray_support`` from a sub-folder).

Ray actors are other processes, so the emulator must listen on a port (the in-process transport cannot
reach them): `served_emulator` runs one on a thread of its own. The cluster is started once per session
(``ray.init(num_cpus=2)``), or joined when ``RAY_ADDRESS`` names one (CI starts a local cluster with
``ray start --head --num-cpus=2``); in CI a missing Ray is a failure, never a skip.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import trio

from orchestrator.emulator import Emulator, EmulatorSettings
from orchestrator.emulator._server import EmulatorServer, open_emulator_server

__all__ = ["ray_cluster", "served_emulator", "unique_key"]



@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    try:
        import ray
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must run the Ray tests: install the extra, pip install -e '.[test,ray]'", pytrace=False)
        pytest.skip("Ray is not installed (pip install -e '.[ray]')")
    if ray.is_initialized():  # the fixture imported into another module got there first
        yield ray
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # nothing reaches the internet
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    if os.environ.get("RAY_ADDRESS"):  # CI's cluster (.ci/run starts it)
        ray.init(log_to_driver=False, logging_level="ERROR")
    else:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    try:
        yield ray
    finally:
        ray.shutdown()


def unique_key() -> str:
    """An API key no other test uses: the shared budgets are keyed by the key, and outlive a test."""
    return f"gsk_test_{uuid.uuid4().hex}"


@contextmanager
def served_emulator(settings: EmulatorSettings) -> Iterator[EmulatorServer]:
    """An emulator serving on 127.0.0.1 from a thread of its own, for the body of the ``with``."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        async with open_emulator_server(Emulator(settings)) as server:
            box["server"], box["token"], box["stop"] = server, trio.lowlevel.current_trio_token(), trio.Event()
            ready.set()
            await box["stop"].wait()

    def run() -> None:
        try:
            trio.run(main)
        finally:
            ready.set()

    thread = threading.Thread(target=run, name="emulator", daemon=True)
    thread.start()
    assert ready.wait(30) and "server" in box, "the emulator did not start"
    try:
        yield box["server"]
    finally:
        trio.from_thread.run_sync(box["stop"].set, trio_token=box["token"])
        thread.join(30)
