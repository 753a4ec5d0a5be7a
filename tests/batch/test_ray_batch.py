"""``groq-orch batch --ray``: the job file on a Ray cluster, with the batch runner's guarantees.

These replace the Redis-stream shared batch's tests: several workers (four actors), a killed worker's
jobs done by another (an actor killed after its batch was answered; the driver killed mid-run), exactly
one result per custom_id, and resume.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from orchestrator._cli import main

from ..ray_support import ray_cluster

pytestmark = pytest.mark.usefixtures("ray_cluster")

__all__ = ["ray_cluster"]  # a fixture, imported for the tests here

MODEL = "openai/gpt-oss-20b"


def _write_jobs(path: Path, count: int, *, bad_at: int | None = None) -> list[str]:
    ids = []
    with path.open("w") as jobs:
        for i in range(count):
            if i == bad_at:
                jobs.write('{"custom_id": "bad", "body": \n')
                ids.append(f"line-{i + 1}")  # too broken for its custom_id to be read
                continue
            body = {"model": MODEL, "messages": [{"role": "user", "content": f"job {i}"}], "max_completion_tokens": 12}
            jobs.write(json.dumps({"custom_id": f"job-{i}", "body": body}) + "\n")
            ids.append(f"job-{i}")
    return ids


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "GROQ_ORCH_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_key")
def test_a_job_file_on_ray_gets_one_record_per_line_and_resumes(tmp_path: Path) -> None:
    jobs, out, summary = tmp_path / "jobs.jsonl", tmp_path / "out.jsonl", tmp_path / "summary.json"
    ids = _write_jobs(jobs, 160, bad_at=40)
    head = tmp_path / "head.jsonl"
    head.write_text("".join(jobs.read_text().splitlines(keepends=True)[:60]))

    assert main(["batch", str(head), "-o", str(out), "--ray", "--quiet"]) == 1  # the bad line failed
    assert len(_records(out)) == 60
    # The same results file, the whole job file: the 60 answered are skipped, the rest run.
    code = main(["batch", str(jobs), "-o", str(out), "--ray", "--ray-actors", "4", "--quiet",
                 "--summary-json", str(summary)])
    assert code == 0  # the failed line was recorded by the first run; this one only succeeds
    records = _records(out)
    counts = Counter(record["custom_id"] for record in records)
    assert sorted(counts) == sorted(ids) and max(counts.values()) == 1
    by_id = {record["custom_id"]: record for record in records}
    assert by_id["line-41"]["error"]["code"] == "invalid_json" and by_id["line-41"]["error"]["line"] == 41
    assert all(by_id[i]["response"]["status_code"] == 200 for i in ids if i != "line-41")
    assert all(record["input_sha256"] for record in records)
    facts = json.loads(summary.read_text())
    assert (facts["already_done"], facts["succeeded"], facts["failed"], facts["exit_code"]) == (60, 100, 0, 0)
    assert facts["endpoint"].startswith("emulator at http://127.0.0.1:")


@pytest.mark.usefixtures("no_key")
def test_a_killed_actor_s_jobs_are_answered_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    jobs, out = tmp_path / "jobs.jsonl", tmp_path / "out.jsonl"
    ids = _write_jobs(jobs, 120)
    marker = tmp_path / "an-actor-died"
    monkeypatch.setenv("GROQ_ORCH_FAILPOINT", "ray-batch")
    monkeypatch.setenv("GROQ_ORCH_FAILPOINT_MARKER", str(marker))
    assert main(["batch", str(jobs), "-o", str(out), "--ray", "--quiet"]) == 0
    assert marker.exists()
    counts = Counter(record["custom_id"] for record in _records(out))
    assert sorted(counts) == sorted(ids) and max(counts.values()) == 1


@pytest.mark.usefixtures("no_key")
def test_a_driver_killed_mid_run_resumes_with_one_record_per_job(tmp_path: Path, ray_cluster) -> None:
    jobs, out, log = tmp_path / "jobs.jsonl", tmp_path / "out.jsonl", tmp_path / "driver.log"
    ids = _write_jobs(jobs, 400)
    # The driver joins this session's cluster by its address ("auto" would take whichever started last).
    address = ray_cluster.get_runtime_context().gcs_address
    command = [sys.executable, "-m", "orchestrator", "batch", str(jobs), "-o", str(out), "--ray", address,
               "--quiet", "--ray-batch-size", "16"]
    env = {key: value for key, value in os.environ.items() if key not in ("GROQ_API_KEY", "GROQ_BASE_URL")}
    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 50:
                break
            time.sleep(0.05)  # a real process on a real cluster: its progress can only be watched
        assert driver.poll() is None, "the driver finished before it could be killed: " + log.read_text()[-2000:]
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.wait(30)
    written = out.read_bytes().count(b"\n")
    assert 50 <= written < 400
    assert main(["batch", str(jobs), "-o", str(out), "--ray", "--quiet"]) == 0
    counts = Counter(record["custom_id"] for record in _records(out))
    assert sorted(counts) == sorted(ids) and max(counts.values()) == 1


def test_ray_refuses_options_it_cannot_honour(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = tmp_path / "jobs.jsonl"
    _write_jobs(jobs, 1)
    assert main(["batch", str(jobs), "-o", str(tmp_path / "out.jsonl"), "--ray", "--via", "batch-api"]) == 2
    assert "ray" in capsys.readouterr().err
