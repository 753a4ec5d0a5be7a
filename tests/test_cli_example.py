"""README's first command: ``groq-orch batch examples/chat-jobs.jsonl -o results.jsonl`` with nothing set up."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "chat-jobs.jsonl"


def test_example_file_is_what_the_generator_writes() -> None:
    """The checked-in example file is exactly the deterministic generator's output."""
    generated = subprocess.run([sys.executable, str(ROOT / "examples" / "make_chat_jobs.py"), "-o", "-"],
                               check=True, capture_output=True).stdout
    assert generated == EXAMPLE.read_bytes()


def test_example_batch_runs_with_nothing_set_up(tmp_path: Path) -> None:
    """The example's 1,000 jobs all succeed on the embedded emulator within a minute, which says so once."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("GROQ_")}
    env["PYTHONPATH"] = str(ROOT)  # run from a scratch directory, as a user would
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "orchestrator", "batch", str(EXAMPLE), "-o", "results.jsonl"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-3000:]
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert (len(lines), len({line["custom_id"] for line in lines}), sum(line["error"] is None for line in lines)) == (
        1000, 1000, 1000)
    assert run.stderr.count("bundled Groq emulator") == 1 and "Batch summary" in run.stderr
    assert elapsed < 60, f"took {elapsed:.1f} s"
