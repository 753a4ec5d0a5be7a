"""Memory of a Batch API run: a ~100 MB input uploaded and a ~100 MB output downloaded, RSS sampled throughout.

The emulator runs in its own process (``python -m orchestrator.emulator``), so only the client's memory is
measured. This process runs ``run_batch_async(..., via="batch-api")`` as a user would: it cuts the input into
one part file, uploads it (a streamed multipart body read from disk), creates the batch, polls it, and merges
the output file (streamed) into the results file. A task samples ``VmRSS`` every 50 ms; the table shows the
baseline (after imports and a warm-up), the peak, and the growth.

Goal (issue 15): RSS growth under 50 MB.

Usage::

    python bench/batch_api_memory.py [--lines 45000] [--prompt-bytes 2000] [--json bench/results/batch_api_memory.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

from _common import MODEL, ROOT, default_json, print_table, rss_bytes, write_json

from orchestrator.batch._local import run_batch_async


def write_input(path: Path, lines: int, prompt_bytes: int) -> int:
    """A batch input of ``lines`` jobs whose prompts make it about ``lines * prompt_bytes`` bytes."""
    filler = ("lorem ipsum dolor sit amet " * (prompt_bytes // 27 + 1))[:prompt_bytes]
    with open(path, "w", encoding="utf-8") as handle:
        for number in range(lines):
            body = {"model": MODEL, "messages": [{"role": "user", "content": f"{number} {filler}"}],
                    "max_completion_tokens": 500}
            handle.write(json.dumps({"custom_id": f"q{number}", "method": "POST", "url": "/v1/chat/completions",
                                     "body": body}) + "\n")
    return path.stat().st_size


def start_emulator(files_dir: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.emulator", "--port", "0", "--latency", "instant", "--time-scale", "100",
         "--batch-lines-per-second", "100000", "--files-dir", str(files_dir), "--completion-tokens", "400"],
        cwd=ROOT, stderr=subprocess.PIPE, text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    if not line.startswith("Groq emulator listening on "):
        process.kill()
        raise RuntimeError(f"the emulator did not start: {line}{process.stderr.read()}")
    return process, line.rsplit(" ", 1)[1].strip()


async def measure(source: Path, target: Path, base_url: str) -> dict[str, float]:
    gc.collect()
    baseline = rss_bytes()
    peak = baseline
    done = trio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            await trio.sleep(0.05)

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(sample)
        summary = await run_batch_async(
            source, target, via="batch-api", base_url=base_url, environ={"GROQ_API_KEY": "gsk_bench"},
            quiet=True, poll_interval=0.5, handle_signals=False,
        )
        done.set()
    elapsed = time.perf_counter() - started
    peak = max(peak, rss_bytes())
    if summary.succeeded != summary.jobs:
        raise RuntimeError(f"the batch did not finish: {summary}")
    return {"baseline_mb": baseline / 1e6, "peak_mb": peak / 1e6, "growth_mb": (peak - baseline) / 1e6,
            "seconds": elapsed, "jobs": float(summary.jobs)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=45_000)
    parser.add_argument("--prompt-bytes", type=int, default=2_000)
    parser.add_argument("--json", default=default_json("batch_api_memory"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="batch-api-memory-") as scratch:
        folder = Path(scratch)
        source, target = folder / "jobs.jsonl", folder / "results.jsonl"
        input_bytes = write_input(source, args.lines, args.prompt_bytes)
        process, base_url = start_emulator(folder / "server-files")
        try:
            numbers = trio.run(measure, source, target, base_url)
        finally:
            process.terminate()
            process.wait(timeout=30)
        numbers["input_mb"] = input_bytes / 1e6
        numbers["output_mb"] = target.stat().st_size / 1e6
    print_table(
        "Batch API run: client RSS while a file uploads and the output downloads",
        ["input MB", "output MB", "jobs", "seconds", "RSS baseline MB", "RSS peak MB", "growth MB", "goal"],
        [[numbers["input_mb"], numbers["output_mb"], int(numbers["jobs"]), numbers["seconds"],
          numbers["baseline_mb"], numbers["peak_mb"], numbers["growth_mb"], "< 50 MB"]],
    )
    write_json(args.json, {"suite": "batch_api_memory", "results": numbers})


if __name__ == "__main__":
    main()
