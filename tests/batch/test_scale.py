"""A 10,000-job batch against the emulator: every job answered once, memory bounded throughout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
JOBS = 10_000
RSS_LIMIT_MB = 150

# Instant latency and a clock 100,000 times faster than real time: the emulator still enforces the
# free-tier limits (and the client still schedules against them), but a minute of budget refills in
# under a millisecond, so the run measures the runner, not the limits.
RUNNER = """
import sys
from orchestrator.batch._local import run_batch
from orchestrator.emulator import EmulatorSettings

summary = run_batch(sys.argv[1], sys.argv[2], quiet=True, environ={}, concurrency=64,
                    emulator_settings=EmulatorSettings(latency="instant", time_scale=100_000.0))
print(summary.succeeded, summary.failed, f"{summary.elapsed_seconds:.1f}", flush=True)
sys.exit(summary.exit_code)
"""


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0


def test_ten_thousand_jobs_bounded_memory(tmp_path: Path) -> None:
    """10,000 mixed jobs finish with 10,000 result lines, each custom_id once, and RSS stays under 150 MB."""
    source, target = tmp_path / "jobs.jsonl", tmp_path / "out.jsonl"
    subprocess.run(
        [sys.executable, str(ROOT / "examples" / "make_chat_jobs.py"), "-n", str(JOBS), "-o", str(source)],
        check=True,
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("GROQ_")}
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(source), str(target)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    peak = 0.0
    deadline = time.monotonic() + 120
    while process.poll() is None:
        peak = max(peak, rss_mb(process.pid))
        assert time.monotonic() < deadline, "10,000-job batch took over two minutes"
        time.sleep(0.05)
    out, err = process.communicate()
    assert process.returncode == 0, err[-2000:]
    ids = [json.loads(line)["custom_id"] for line in target.read_text().splitlines()]
    assert (len(ids), len(set(ids)), out.splitlines()[-1].split()[:2]) == (JOBS, JOBS, [str(JOBS), "0"])
    assert 0 < peak < RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB"
