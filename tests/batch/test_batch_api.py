"""The batch runner through Groq's Batch API (``via="batch-api"``) and beside the live lanes (``via="auto"``),
end to end against the in-process emulator on a virtual clock, and SIGKILLed at each step in a subprocess."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
import trio

from orchestrator._config import ModelLimits
from orchestrator._prices import PriceTable
from orchestrator.batch._batch_state import state_path, work_dir
from orchestrator.batch._local import run_batch_async
from orchestrator.emulator import Emulator, EmulatorSettings, open_emulator_server

from .test_batch import chat, job, results, write

MODEL = "openai/gpt-oss-20b"
ROOT = Path(__file__).resolve().parents[2]


def emulator(**settings: Any) -> Emulator:
    settings.setdefault("latency", "instant")
    settings.setdefault("time_scale", 1000.0)
    return Emulator(EmulatorSettings(**settings))


async def run(source: Path, target: Path, served: Emulator, **options: Any) -> Any:
    options.setdefault("via", "batch-api")
    options.setdefault("environ", {})
    options.setdefault("quiet", True)
    options.setdefault("poll_interval", 1.0)
    return await run_batch_async(source, target, emulator_settings=served, **options)


def batch_cost(out: dict[str, dict[str, Any]], *, via_of: Any) -> float:
    """What the price table says the recorded successes cost, line by line."""
    table = PriceTable.load()
    total = 0.0
    for record in out.values():
        if record["error"] is not None:
            continue
        body = record["response"]["body"]
        usage = body["usage"]
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
        cost = table.cost(body["model"], prompt_tokens=usage["prompt_tokens"],
                          completion_tokens=usage["completion_tokens"], cached_tokens=cached, via=via_of(record))
        assert cost is not None
        total += cost
    return total


async def test_ten_thousand_lines_through_the_batch_api(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """Split into parts, submitted, polled, merged: one result per line, each line run once, priced at batch rates."""
    served = emulator()
    source = write(tmp_path / "jobs.jsonl", [job(f"q{i}", chat(f"Question {i}?")) for i in range(10_000)])
    target = tmp_path / "out.jsonl"
    summary = await run(source, target, served, batch_max_lines=4_000)
    out = results(target)
    assert (len(out), summary.succeeded, summary.failed, summary.not_run, summary.batches) == (10_000, 10_000, 0, 0, 3)
    assert all(record["response"]["body"]["object"] == "chat.completion" for record in out.values())
    stats = served.stats()
    assert (stats.batch_lines_run, stats.batch_duplicate_runs) == (10_000, 0)
    assert summary.cost_usd == pytest.approx(batch_cost(out, via_of=lambda record: "batch"))
    assert summary.live_cost_usd == pytest.approx(summary.cost_usd / (1 - PriceTable.load().batch_discount))
    assert not state_path(target).exists() and not work_dir(target).exists()


async def test_auto_splits_at_the_deadline_and_records_each_line_once(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """Live lanes take what 30 RPM finishes in two minutes; the Batch API takes the rest; no line twice."""
    served = emulator(time_scale=1.0)
    source = write(tmp_path / "jobs.jsonl", [job(f"q{i}", chat(f"Question {i}?")) for i in range(10_000)])
    target = tmp_path / "out.jsonl"
    summary = await run(source, target, served, via="auto", deadline=120.0,
                        limits={MODEL: ModelLimits(rpm=30, tpm=100_000)})
    out = results(target)
    live = [record for record in out.values() if not record["id"].startswith("batch_req_out_")]
    assert (len(out), summary.succeeded, summary.failed) == (10_000, 10_000, 0)
    assert 40 <= len(live) <= 200, len(live)  # 30 RPM x 2 min x the 80 % plan, plus what live took meanwhile
    assert summary.batches >= 1
    expected = batch_cost(out, via_of=lambda record: "live" if record in live else "batch")
    assert summary.cost_usd == pytest.approx(expected)
    assert summary.live_cost_usd > summary.cost_usd


async def test_an_expired_half_done_batch_keeps_its_lines_and_resubmits_the_rest(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """Each round expires halfway: 100 -> 50 answered, 25, then the last 25 recorded as expired."""
    served = emulator(batch_expire_fraction=0.5)
    source = write(tmp_path / "jobs.jsonl", [job(f"q{i}") for i in range(100)])
    target = tmp_path / "out.jsonl"
    summary = await run(source, target, served, batch_rounds=2)
    out = results(target)
    failed = [record for record in out.values() if record["error"] is not None]
    assert (len(out), summary.succeeded, summary.failed) == (100, 75, 25)
    assert {record["error"]["code"] for record in failed} == {"batch_expired"}
    assert all(record["error"]["attempts"] == 2 for record in failed)
    assert summary.batches == 2
    stats = served.stats()
    assert (stats.batch_lines_run, stats.batch_duplicate_runs) == (75, 0)


async def test_bad_lines_and_refused_requests_are_recorded_before_anything_is_sent(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    served = emulator()
    source = write(tmp_path / "jobs.jsonl", [
        job("ok"), "not json", job("retired", chat(model="llama-3.1-8b-instant")), json.dumps(chat("plain")),
    ])
    target = tmp_path / "out.jsonl"
    summary = await run(source, target, served)
    out = results(target)
    assert sorted(out) == ["line-2", "line-4", "ok", "retired"]
    assert out["line-2"]["error"]["code"] == "invalid_json"
    assert out["retired"]["error"]["code"] == "model_decommissioned"
    assert out["ok"]["error"] is None and out["line-4"]["error"] is None
    assert (summary.succeeded, summary.failed, served.stats().batch_lines_run) == (2, 2, 2)


async def test_a_line_the_server_refuses_is_recorded_with_its_response(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """A model the catalog does not know passes our checks but not Groq's: its 404 is kept, not resubmitted."""
    served = emulator()
    source = write(tmp_path / "jobs.jsonl", [job("ok"), job("nope", chat(model="acme/unknown-model"))])
    target = tmp_path / "out.jsonl"
    summary = await run(source, target, served)
    out = results(target)
    assert out["nope"]["response"]["status_code"] == 404
    assert out["nope"]["error"]["code"] == "model_not_found"
    assert (summary.succeeded, summary.failed, summary.batches) == (1, 1, 1)


async def test_a_rerun_after_completion_sends_nothing(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    served = emulator()
    source = write(tmp_path / "jobs.jsonl", [job(f"q{i}") for i in range(20)])
    target = tmp_path / "out.jsonl"
    await run(source, target, served)
    again = await run(source, target, served)
    assert (again.already_done, again.succeeded, again.batches) == (20, 0, 0)
    assert served.stats().batch_lines_run == 20


# ------------------------------------------------------------------ SIGKILL at each step, then a re-run


def _cli(source: Path, target: Path, base_url: str, failpoint: str | None) -> list[str]:
    return [sys.executable, "-m", "orchestrator", "batch", str(source), "-o", str(target), "--via", "batch-api",
            "--base-url", base_url, "--poll-interval", "0.02", "--batch-max-lines", "40", "--quiet"]


@pytest.mark.parametrize("failpoint", ["upload", "create", "poll", "download"])
async def test_sigkill_at_each_step_then_a_rerun_submits_no_line_twice(tmp_path: Path, failpoint: str) -> None:
    source = write(tmp_path / "jobs.jsonl", [job(f"q{i}") for i in range(100)])
    target = tmp_path / "out.jsonl"
    settings = EmulatorSettings(latency="instant", time_scale=1000.0)
    async with open_emulator_server(settings) as server:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "GROQ_API_KEY": "gsk_test"}
        env.pop("GROQ_ORCH_FAILPOINT", None)
        command = _cli(source, target, server.base_url, failpoint)
        killed = await trio.run_process(command, env={**env, "GROQ_ORCH_FAILPOINT": failpoint}, check=False,
                                        capture_stderr=True)
        assert killed.returncode == -9, killed.stderr.decode()[-2000:]
        assert state_path(target).exists()
        finished = await trio.run_process(command, env=env, check=False, capture_stderr=True)
        assert finished.returncode == 0, finished.stderr.decode()[-2000:]
        stats = server.emulator.stats()
    out = results(target)
    assert len(out) == 100 and all(record["error"] is None for record in out.values())
    assert (stats.batch_lines_run, stats.batch_duplicate_runs) == (100, 0)
    assert not state_path(target).exists()


async def test_a_batch_refused_by_validation_records_the_named_lines_and_resubmits_the_rest(
    tmp_path: Path, autojump_clock: trio.testing.MockClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Groq's validation fails the whole batch naming line 3: that line is recorded, the other four go again."""
    from orchestrator.emulator import _batches

    refuse = _batches._line_problem

    def picky(raw: bytes, endpoint: str, seen: dict[str, int], line_number: int) -> Any:
        if b'"custom_id":"bad"' in raw:
            return _batches._LineError("invalid_request", "this request is not allowed in a batch", "body")
        return refuse(raw, endpoint, seen, line_number)

    monkeypatch.setattr(_batches, "_line_problem", picky)
    served = emulator()
    source = write(tmp_path / "jobs.jsonl", [job(name) for name in ("a", "b", "bad", "c", "d")])
    target = tmp_path / "out.jsonl"
    summary = await run(source, target, served)
    out = results(target)
    assert (len(out), summary.succeeded, summary.failed, summary.batches) == (5, 4, 1, 2)
    assert out["bad"]["error"]["code"] == "invalid_request"
    assert "not allowed in a batch" in out["bad"]["error"]["message"]
    assert served.stats().batch_lines_run == 4
