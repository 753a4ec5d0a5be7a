"""Crash and signal safety of the batch runner, tested on real subprocesses.

Each run is ``python -c RUNNER`` with the embedded emulator (instant latency, 20 ms queue time, so a run
lasts long enough to be interrupted); the test kills or signals it part-way and checks that re-running
the same command leaves exactly one result per job.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JOBS = 300

RUNNER = """
import sys
from orchestrator.batch._local import run_batch
from orchestrator.emulator import EmulatorSettings

settings = EmulatorSettings(latency="instant", queue_time=0.02, time_scale=1000.0)
summary = run_batch(sys.argv[1], sys.argv[2], quiet=True, environ={}, concurrency=8,
                    grace=float(sys.argv[3]), emulator_settings=settings)
print(summary.succeeded, summary.already_done, summary.not_run, summary.interrupted_by, flush=True)
sys.exit(summary.exit_code)
"""


def write_jobs(path: Path) -> Path:
    body = {"model": "openai/gpt-oss-20b", "max_completion_tokens": 16,
            "messages": [{"role": "user", "content": "Name a colour."}]}
    path.write_text("".join(json.dumps({"custom_id": f"job-{i}", "body": body}) + "\n" for i in range(JOBS)))
    return path


def start(source: Path, target: Path, grace: float = 10.0) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GROQ_")}
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(source), str(target), str(grace)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def complete_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_for_lines(process: subprocess.Popen[str], path: Path, lines: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while complete_lines(path) < lines:
        assert process.poll() is None, f"runner exited early: {process.communicate()}"
        assert time.monotonic() < deadline, "runner made no progress"
        time.sleep(0.005)


def assert_one_result_per_job(path: Path) -> None:
    ids = [json.loads(line)["custom_id"] for line in path.read_text().splitlines()]
    assert sorted(ids) == sorted(f"job-{i}" for i in range(JOBS))


def test_sigkill_at_random_points_then_resume(tmp_path: Path) -> None:
    """SIGKILL at several random points, then a re-run: every job has exactly one result line."""
    source, target = write_jobs(tmp_path / "jobs.jsonl"), tmp_path / "out.jsonl"
    rng = random.Random(20251125)
    points = sorted(rng.sample(range(10, JOBS - 10), 3))
    for point in points:
        process = start(source, target)
        wait_for_lines(process, target, point)
        time.sleep(rng.random() * 0.02)  # land anywhere, including mid-write
        process.kill()
        process.wait()
    final = start(source, target)
    out, err = final.communicate(timeout=120)
    assert final.returncode == 0, err
    assert_one_result_per_job(target)


def test_sigint_finishes_in_flight_and_exits_130(tmp_path: Path) -> None:
    """SIGINT stops taking jobs, records the in-flight ones, exits 130, and a re-run completes the batch."""
    source, target = write_jobs(tmp_path / "jobs.jsonl"), tmp_path / "out.jsonl"
    process = start(source, target)
    wait_for_lines(process, target, 40)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    succeeded, _, not_run, interrupted = out.splitlines()[-1].split()
    assert (process.returncode, interrupted, int(not_run) > 0) == (130, "SIGINT", True), err
    assert complete_lines(target) == int(succeeded) and target.read_bytes().endswith(b"\n")
    final = start(source, target)
    out, err = final.communicate(timeout=120)
    assert (final.returncode, out.splitlines()[-1].split()[1]) == (0, succeeded), err
    assert_one_result_per_job(target)


def test_sigterm_without_grace_cancels_and_exits_143(tmp_path: Path) -> None:
    """SIGTERM with --grace 0 cancels in-flight jobs without recording them; resume redoes them."""
    source, target = write_jobs(tmp_path / "jobs.jsonl"), tmp_path / "out.jsonl"
    process = start(source, target, grace=0.0)
    wait_for_lines(process, target, 40)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert (process.returncode, out.splitlines()[-1].split()[3]) == (143, "SIGTERM"), err
    final = start(source, target)
    final.communicate(timeout=120)
    assert final.returncode == 0
    assert_one_result_per_job(target)
