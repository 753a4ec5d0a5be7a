"""The API key never appears on screen or in any file the CLI writes (real processes, real loopback server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOOD_KEY = "gsk_live_SECRET_good_4f9a8b7c6d5e"
BAD_KEY = "gsk_live_SECRET_wrong_0a1b2c3d4e5f"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """``groq-orch emulate`` on a free loopback port, accepting only GOOD_KEY."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "emulate", "--port", str(port), "--api-key", GOOD_KEY],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert process.poll() is None and time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/openai/v1"
    finally:
        process.terminate()
        process.wait(timeout=10)


def groq_orch(args: list[str], key: str, base_url: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("GROQ_")}
    env |= {"GROQ_API_KEY": key, "GROQ_BASE_URL": base_url, "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_key_never_printed_or_written(server: str, tmp_path: Path) -> None:
    """Across batch, chat, models, health, rate-limits and a rejected key, neither key is printed or written."""
    jobs = tmp_path / "jobs.jsonl"
    body = {"model": "openai/gpt-oss-20b", "max_completion_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    jobs.write_text("".join(json.dumps({"custom_id": f"j{i}", "body": body}) + "\n" for i in range(5)) + "oops\n")
    runs = [
        groq_orch(["batch", str(jobs), "-o", str(tmp_path / "out.jsonl"), "--summary-json",
                   str(tmp_path / "summary.json")], GOOD_KEY, server),
        groq_orch(["chat", "hello", "--max-tokens", "8"], GOOD_KEY, server),
        groq_orch(["chat", "hello", "--stream", "--json", "--max-tokens", "8"], GOOD_KEY, server),
        groq_orch(["models", "list"], GOOD_KEY, server),
        groq_orch(["health"], GOOD_KEY, server),
        groq_orch(["rate-limits"], GOOD_KEY, server),
        groq_orch(["chat", "hello", "--max-retries", "0"], BAD_KEY, server),
        groq_orch(["batch", str(jobs), "-o", str(tmp_path / "bad.jsonl"), "--max-retries", "0"], BAD_KEY, server),
    ]
    assert [run.returncode for run in runs] == [1, 0, 0, 0, 0, 0, 1, 1], [run.stderr[-500:] for run in runs]
    assert all("API key" in run.stderr for run in runs[6:])
    refused = [json.loads(line) for line in (tmp_path / "bad.jsonl").read_text().splitlines()]
    assert all(record["custom_id"] == "line-6" for record in refused)  # a 401 is not a job's result
    written = "".join(path.read_text() for path in tmp_path.iterdir())
    shown = "".join(run.stdout + run.stderr for run in runs)
    for key in (GOOD_KEY, BAD_KEY):
        for secret in (key, key[4:]):  # the whole key, and its body without the gsk_ prefix
            assert secret not in shown and secret not in written
