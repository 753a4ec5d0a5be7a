"""Helpers of the hostile-input batch tests (tests/batch/test_hostile_*.py): jobs, files and one in-process run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from orchestrator.batch._local import run_batch_async
from orchestrator.emulator import EmulatorSettings

MODEL = "openai/gpt-oss-20b"
VISION_MODEL = "qwen/qwen3.6-27b"


def chat(content: str = "Say hello.", model: str = MODEL, **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], "max_completion_tokens": 32, **extra}


def job(custom_id: str, body: dict[str, Any] | None = None, **extra: Any) -> str:
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions",
                       "body": body or chat(), **extra})


def write(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((line.encode() if isinstance(line, str) else line) + b"\n" for line in lines))
    return path


def records(path: Path) -> list[dict[str, Any]]:
    """Every line of a results file, decoded (a missing file has none)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def by_id(path: Path) -> dict[str, dict[str, Any]]:
    """The records by custom_id, checking that no custom_id has two."""
    lines = records(path)
    out = {line["custom_id"]: line for line in lines}
    assert len(out) == len(lines), "a custom_id has more than one result"
    return out


async def run(input_path: Path, output_path: Path, **options: Any) -> Any:
    """One batch against the embedded emulator (instant latency, compressed clock), quiet, no signals."""
    options.setdefault("emulator_settings", EmulatorSettings(latency="instant", time_scale=1000.0))
    options.setdefault("environ", {})
    options.setdefault("quiet", True)
    options.setdefault("handle_signals", False)
    return await run_batch_async(input_path, output_path, **options)
