"""End-to-end tests of the batch runner against the in-process emulator (virtual clock, no sockets)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import pytest
import trio
from rich.console import Console

from orchestrator.batch._local import run_batch_async
from orchestrator.batch._io import BatchFileError, DuplicateCustomIdError
from orchestrator.batch._records import bad_line_record, BadLine, encode_record
from orchestrator._config import Config
from orchestrator.emulator import EmulatorSettings

from ._hostile import MODEL, chat, job




def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def results(path: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    by_id = {line["custom_id"]: line for line in lines}
    assert len(by_id) == len(lines), "a custom_id has more than one result"
    return by_id


async def run(input_path: Path, output_path: Path, **options: Any) -> Any:
    options.setdefault("emulator_settings", EmulatorSettings(latency="instant", time_scale=1000.0))
    options.setdefault("environ", {})
    options.setdefault("quiet", True)
    return await run_batch_async(input_path, output_path, **options)


async def test_every_line_gets_one_result(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """A batch of valid jobs yields one successful result line per job, in batch output format."""
    source = write(tmp_path / "jobs.jsonl", [job(f"j{i}") for i in range(40)])
    summary = await run(source, tmp_path / "out.jsonl")
    out = results(tmp_path / "out.jsonl")
    first = out["j0"]
    assert (len(out), summary.succeeded, summary.failed, summary.exit_code, list(first),
            first["response"]["status_code"], first["error"]) == (
        40, 40, 0, 0, ["id", "custom_id", "response", "error", "input_sha256"], 200, None)
    assert first["id"].startswith("batch_req_") and first["response"]["body"]["object"] == "chat.completion"


async def test_plain_bodies_get_line_ids(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """Plain chat bodies are accepted and their results are keyed line-N."""
    source = write(tmp_path / "jobs.jsonl", [json.dumps(chat()), "", json.dumps(chat("Bye."))])
    await run(source, tmp_path / "out.jsonl")
    assert sorted(results(tmp_path / "out.jsonl")) == ["line-1", "line-3"]


async def test_malformed_lines_become_error_records(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """Broken JSON, non-objects, wrong url/method and invalid bodies each get an error record with line and code."""
    bad_body = {"model": MODEL, "messages": [{"role": "user", "content": 5}]}
    source = write(tmp_path / "jobs.jsonl", [
        job("ok"),
        '{"custom_id": "x", ',
        "[1, 2, 3]",
        job("get", method="GET"),
        job("emb", url="/v1/embeddings"),
        job("typed", bad_body),
        job("range", chat(temperature=7)),
    ])
    summary = await run(source, tmp_path / "out.jsonl")
    out = results(tmp_path / "out.jsonl")
    errors = {cid: (rec["error"]["code"], rec["error"].get("line"), rec["error"].get("param"))
              for cid, rec in out.items() if rec["error"]}
    assert errors == {
        "line-2": ("invalid_json", 2, None),
        "line-3": ("invalid_line", 3, None),
        "get": ("invalid_method", 4, None),
        "emb": ("invalid_url", 5, None),
        "typed": ("invalid_request", 6, "messages[0].content"),
        "range": ("invalid_request", 7, "temperature"),
    }
    assert (out["ok"]["error"], summary.malformed, summary.failed, summary.exit_code) == (None, 5, 6, 1)


async def test_unknown_model_gets_the_404(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """An unknown model is sent, and the emulator's 404 is recorded with status, code and request id."""
    source = write(tmp_path / "jobs.jsonl", [job("gone", chat(model="llama-9-imaginary"))])
    await run(source, tmp_path / "out.jsonl")
    record = results(tmp_path / "out.jsonl")["gone"]
    assert (record["response"]["status_code"], record["response"]["body"]["error"]["code"],
            record["error"]["code"], record["error"]["line"]) == (404, "model_not_found", "model_not_found", 1)
    assert record["response"]["request_id"].startswith("req_")


async def test_oversize_image_is_refused_with_field_path(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """A base64 image over Groq's 4 MB limit becomes an error record naming the image field."""
    blob = base64.b64encode(b"\x89PNG" + bytes(3_200_000)).decode()
    body = {"model": "qwen/qwen3.6-27b", "max_completion_tokens": 16, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{blob}"}}]}]}
    source = write(tmp_path / "jobs.jsonl", [job("big", body), job("fine")])
    await run(source, tmp_path / "out.jsonl")
    out = results(tmp_path / "out.jsonl")
    error = out["big"]["error"]
    assert (out["big"]["response"], error["code"], error["line"], out["fine"]["error"]) == (
        None, "invalid_request", 1, None)
    assert error["param"].startswith("messages[0].content[1].image_url") and len(json.dumps(error)) < 2000


async def test_duplicates_are_refused_before_sending(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """Duplicate custom_ids raise with their line numbers and no results file is written."""
    source = write(tmp_path / "jobs.jsonl", [job("a"), job("b"), job("a")])
    with pytest.raises(DuplicateCustomIdError, match=r"'a' on lines 1, 3"):
        await run(source, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


async def test_resume_skips_answered_and_repairs_torn_line(tmp_path: Path,
                                                            autojump_clock: trio.testing.MockClock) -> None:
    """A re-run repairs a torn last line, skips answered jobs and leaves exactly one result per job."""
    source = write(tmp_path / "jobs.jsonl", [job(f"j{i}") for i in range(10)])
    target = tmp_path / "out.jsonl"
    done = encode_record(bad_line_record(BadLine("j3", 4, "invalid_json", "from an earlier run")))
    target.write_bytes(done + b'{"id": "batch_req_x", "custom_id": "j5", "resp')
    summary = await run(source, target)
    out = results(target)
    assert (len(out), out["j3"]["error"]["message"], out["j5"]["error"], summary.already_done,
            summary.succeeded, summary.repaired_bytes > 0) == (10, "from an earlier run", None, 1, 9, True)


async def test_rerun_of_finished_batch_sends_nothing(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """Running a finished batch again writes nothing and reports everything already done."""
    source = write(tmp_path / "jobs.jsonl", [job(f"j{i}") for i in range(5)])
    target = tmp_path / "out.jsonl"
    await run(source, target)
    before = target.read_bytes()
    summary = await run(source, target)
    assert (target.read_bytes(), summary.already_done, summary.succeeded, summary.complete) == (before, 5, 0, True)


async def test_corrupt_results_file_is_refused(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """A results file with garbage before its last line is refused rather than appended to."""
    source = write(tmp_path / "jobs.jsonl", [job("a")])
    target = tmp_path / "out.jsonl"
    target.write_text("garbage\n" + encode_record(bad_line_record(BadLine("b", 1, "x", "y"))).decode())
    with pytest.raises(BatchFileError, match="line 1"):
        await run(source, target)


async def test_model_override(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """--model replaces every job's model."""
    source = write(tmp_path / "jobs.jsonl", [job("a", chat(model="llama-9-imaginary"))])
    await run(source, tmp_path / "out.jsonl", model="qwen/qwen3.6-27b")
    assert results(tmp_path / "out.jsonl")["a"]["response"]["body"]["model"] == "qwen/qwen3.6-27b"


async def test_priority_field_reorders_within_window(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """With one job in flight, higher-priority jobs in the read-ahead window run first."""
    source = write(tmp_path / "jobs.jsonl", [job("low", prio=1), job("high", prio=9), job("mid", prio=5)])
    await run(source, tmp_path / "out.jsonl", concurrency=1, priority_field="prio")
    order = [json.loads(line)["custom_id"] for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert order == ["high", "mid", "low"]


async def test_server_errors_are_recorded_after_retries(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """A job that keeps failing with 500 is recorded with the status and the number of attempts."""
    source = write(tmp_path / "jobs.jsonl", [job("doomed")])
    settings = EmulatorSettings(latency="instant", faults=["500:p=1"])
    await run(source, tmp_path / "out.jsonl", emulator_settings=settings, max_retries=2)
    record = results(tmp_path / "out.jsonl")["doomed"]
    assert (record["response"]["status_code"], record["error"]["attempts"]) == (500, 3)


async def test_summary_json_and_display(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """--summary-json writes the summary with derived figures, and the final table is printed."""
    source = write(tmp_path / "jobs.jsonl", [job("a"), "nope"])
    buffer = io.StringIO()
    console = Console(file=buffer, width=150, color_system=None)
    await run(source, tmp_path / "out.jsonl", quiet=False, console=console, summary_json=tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    assert (data["jobs"], data["succeeded"], data["failed"], data["exit_code"], data["complete"]) == (2, 1, 1, 1, True)
    assert "embedded emulator" in buffer.getvalue() and "Batch summary" in buffer.getvalue()


async def test_explicit_config_is_used(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """An explicit Config is used as given (here a closed loopback port: the job fails, its record says so)."""
    source = write(tmp_path / "jobs.jsonl", [job("a")])
    config = Config(api_key="gsk_test_key_123456", base_url="http://127.0.0.1:9/openai/v1")
    summary = await run(source, tmp_path / "out.jsonl", config=config, max_retries=0, timeout=5)
    record = results(tmp_path / "out.jsonl")["a"]
    assert (summary.endpoint, summary.failed, record["response"]) == ("http://127.0.0.1:9/openai/v1", 1, None)


async def test_refused_key_stops_the_batch_unrecorded(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """A 401 writes no result line (so resume retries the job) and stops the batch with the error."""
    from orchestrator._errors import AuthenticationError

    source = write(tmp_path / "jobs.jsonl", [job(f"j{i}") for i in range(20)])
    settings = EmulatorSettings(latency="instant", api_keys=["gsk_only_this_one"])
    with pytest.raises(AuthenticationError):
        await run(source, tmp_path / "out.jsonl", emulator_settings=settings)
    assert (tmp_path / "out.jsonl").read_text() == ""


async def test_explicit_config_takes_overrides_and_limits(tmp_path: Path,
                                                          autojump_clock: trio.testing.MockClock) -> None:
    """With an explicit Config, base_url, limits and retries given as arguments are applied over it."""
    from orchestrator._config import ModelLimits

    source = write(tmp_path / "jobs.jsonl", [job("a")])
    config = Config(api_key="gsk_test_key_123456")
    summary = await run(source, tmp_path / "out.jsonl", config=config, base_url="http://127.0.0.1:9/openai/v1",
                        limits={MODEL: ModelLimits(rpm=5)}, max_retries=0)
    assert (summary.endpoint, summary.failed) == ("http://127.0.0.1:9/openai/v1", 1)


@pytest.mark.parametrize(("options", "field"), [({"concurrency": 0}, "concurrency"), ({"grace": -1.0}, "grace")])
async def test_bad_options_are_refused(tmp_path: Path, options: dict[str, Any], field: str) -> None:
    """Out-of-range options raise a ConfigError naming the option before any file is touched."""
    from orchestrator._errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        await run(tmp_path / "in.jsonl", tmp_path / "out.jsonl", **options)


async def test_options_travel_as_one_struct(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """options=BatchOptions(...) runs the batch as the same keywords would; keywords beside it win."""
    from orchestrator.batch._options import BatchOptions

    source = write(tmp_path / "jobs.jsonl", [job("a"), job("b", chat(model="not/a-model"))])
    options = BatchOptions(model="nothing/such", concurrency=2, quiet=True)
    summary = await run(source, tmp_path / "out.jsonl", options=options, model=MODEL)
    assert (summary.succeeded, summary.failed) == (2, 0)


def test_blocking_run_batch(tmp_path: Path) -> None:
    """run_batch (blocking, trio.run inside) gives the same summary as the async form."""
    from orchestrator.batch._local import run_batch

    source = write(tmp_path / "jobs.jsonl", [job("a"), job("b")])
    summary = run_batch(source, tmp_path / "out.jsonl", quiet=True, environ={},
                        emulator_settings=EmulatorSettings(latency="instant", time_scale=1000.0))
    assert (summary.succeeded, summary.complete) == (2, True)


async def test_request_over_tpm_is_recorded_unsent(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """A job needing more tokens than the model's TPM is recorded as rate_limit_exceeded (413), never retried."""
    source = write(tmp_path / "jobs.jsonl", [job("huge", chat(max_completion_tokens=20_000)), job("fine")])
    await run(source, tmp_path / "out.jsonl")
    out = results(tmp_path / "out.jsonl")
    response = out["huge"]["response"]
    assert (response is None or response["status_code"] == 413, out["huge"]["error"]["code"],
            out["huge"]["error"].get("attempts"), out["fine"]["error"]) == (True, "rate_limit_exceeded", None, None)
