"""A real Redis for the tests that need one.

``redis_url`` (session-wide) is, in order: the server named by ``GROQ_ORCH_TEST_REDIS_URL`` (CI
sets it); a throwaway ``redis-server`` started on a free loopback port in a temporary directory, if
the binary is installed; otherwise the test is skipped, except when ``CI`` is set, where a missing
Redis is a failure (a skipped coordination test in CI would hide a broken pipeline).

``redis_server`` is a server of the test's own, which the test may kill: even in CI the shared
server must survive, so this one always starts ``redis-server`` (and fails or skips as above).

Tests share servers, so each must keep to its own keys: :func:`unique_namespace`.

Use them by importing: ``from .redis_support import ...`` (or ``..redis_support`` from a sub-folder).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import redis

from orchestrator._config import _redacted

__all__ = ["ENV_URL", "RedisServer", "redis_server", "redis_url", "start_redis_server", "unique_namespace"]

ENV_URL = "GROQ_ORCH_TEST_REDIS_URL"
_START_TIMEOUT = 10.0


def _unavailable(reason: str) -> NoReturn:
    """Skip outside CI; in CI, fail: the coordination tests must run there."""
    if os.environ.get("CI"):
        pytest.fail(
            f"{reason}. CI must provide Redis: set {ENV_URL}=redis://127.0.0.1:PORT/0 or install redis-server.",
            pytrace=False,
        )
    pytest.skip(f"{reason} (set {ENV_URL} or install redis-server to run this test)")


def unique_namespace() -> str:
    """A key prefix no other test (or test run sharing the server) uses."""
    return f"groq-orch-test:{uuid.uuid4().hex}"


class RedisServer:
    """A ``redis-server`` process started by the tests, on 127.0.0.1.

    Attributes:
        port: where it listens.
        url: ``redis://127.0.0.1:PORT/0``.
    """

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.log_path = log_path

    def kill(self) -> None:
        """SIGKILL the server and reap it (a crash, not a shutdown)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=_START_TIMEOUT)

    def stop(self) -> None:
        """Terminate the server and reap it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=_START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()

    def __repr__(self) -> str:
        return f"<RedisServer {self.url} pid {self.process.pid}>"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _ready(port: int) -> bool:
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return bool(client.ping())
    except redis.exceptions.RedisError:
        return False
    finally:
        client.close()


def start_redis_server(directory: Path) -> RedisServer:
    """Start ``redis-server`` on a free loopback port, without persistence; skip or fail if impossible."""
    binary = shutil.which("redis-server")
    if binary is None:
        _unavailable("redis-server is not installed")
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / "redis.log"
    for _ in range(5):  # another process may take the free port before redis-server binds it
        port = _free_port()
        process = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(directory), "--logfile", str(log_path), "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _ready(port):
                return RedisServer(process, port, log_path)
            time.sleep(0.02)
        if process.poll() is None:
            process.kill()
        process.wait()
    log = log_path.read_text(errors="replace")[-2000:] if log_path.exists() else "(no log)"
    pytest.fail(f"redis-server ({binary}) did not start on a free loopback port; its log ends:\n{log}", pytrace=False)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a Redis for this test session (CI's, or one started here)."""
    url = os.environ.get(ENV_URL, "").strip()
    if url:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        try:
            client.ping()
        except redis.exceptions.RedisError as error:
            pytest.fail(f"{ENV_URL}={_redacted(url)} is set but that Redis does not answer PING: {error!r}", pytrace=False)
        finally:
            client.close()
        yield url
        return
    server = start_redis_server(tmp_path_factory.mktemp("redis"))
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of this test's own, which it may kill or stop."""
    server = start_redis_server(tmp_path / "redis")
    try:
        yield server
    finally:
        server.stop()
