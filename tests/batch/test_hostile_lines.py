"""No poison line: whatever one input line holds, it gets one record and the other jobs run (issue 18).

Each trigger below used to escape `run_batch` as a traceback (TypeError, ValueError, AttributeError,
RecursionError), losing the jobs in flight, and every resume died at the same line. The client may come to
refuse some of them as a `ValidationError` itself; the runner must cope either way, so these tests accept
either code, and the monkeypatched ones force an exception that is not a `GroqError` at each stage.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trio

from orchestrator._errors import GroqError
from orchestrator._map import JobResult
from orchestrator.batch import _records
from orchestrator.batch._records import (
    BatchJob,
    InternalJobError,
    finished_line,
    identify,
    json_too_deep,
    parse_line,
)
from orchestrator.batch._source import line_digest
from orchestrator._wire import chat_request_from
from tests.batch._hostile import VISION_MODEL, by_id, chat, job, records, run, write

REFUSED = {"invalid_request", "internal_error"}


def image_body(url: str) -> dict[str, object]:
    return {"model": VISION_MODEL, "max_completion_tokens": 16, "messages": [
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": url}}]}]}


def tool_body(parameters: object) -> dict[str, object]:
    return chat(tools=[{"type": "function", "function": {"name": "f", "parameters": parameters}}])


class TestTriggers:
    async def test_streamed_body_is_answered_whole(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """A body with "stream": true (a ChatStream the record could not encode) is sent unstreamed and answered."""
        source = write(tmp_path / "jobs.jsonl", [job("s", chat(stream=True, stream_options={"include_usage": True})),
                                                 job("ok")])
        summary = await run(source, tmp_path / "out.jsonl")
        out = by_id(tmp_path / "out.jsonl")
        assert (summary.succeeded, out["s"]["error"], out["s"]["response"]["body"]["object"]) == (
            2, None, "chat.completion")

    async def test_unsplittable_image_url(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """An image URL urlsplit refuses (ValueError: Invalid IPv6 URL) becomes that job's error record."""
        source = write(tmp_path / "jobs.jsonl", [job("u", image_body("https://[x/a.png")), job("ok")])
        summary = await run(source, tmp_path / "out.jsonl")
        out = by_id(tmp_path / "out.jsonl")
        assert (out["u"]["error"]["code"] in REFUSED, out["ok"]["error"], summary.succeeded, summary.failed) == (
            True, None, 1, 1)

    async def test_schema_with_a_number_for_schema(self, tmp_path: Path,
                                                   autojump_clock: trio.testing.MockClock) -> None:
        """A tool schema {"$schema": 5} (AttributeError inside jsonschema) becomes that job's error record."""
        source = write(tmp_path / "jobs.jsonl", [job("t", tool_body({"$schema": 5})), job("ok")])
        summary = await run(source, tmp_path / "out.jsonl")
        out = by_id(tmp_path / "out.jsonl")
        assert (out["t"]["error"] is None or out["t"]["error"]["code"] in REFUSED, out["ok"]["error"],
                summary.succeeded + summary.failed, len(out)) == (True, None, 2, 2)

    async def test_deeply_nested_lines(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """Lines nested 1,000 levels (RecursionError in the decoder) become invalid_json records; resume agrees."""
        deep = "[" * 1000 + "]" * 1000
        source = write(tmp_path / "jobs.jsonl", [
            deep, '{"custom_id": "d", "body": ' + deep + "}", job("ok"), '{"a":' * 1000 + "1" + "}" * 1000,
        ])
        target = tmp_path / "out.jsonl"
        summary = await run(source, target)
        out = by_id(target)
        assert ({cid: rec["error"]["code"] for cid, rec in out.items() if rec["error"]}, summary.succeeded) == (
            {"line-1": "invalid_json", "line-2": "invalid_json", "line-4": "invalid_json"}, 1)
        again = await run(source, target)
        assert (len(records(target)), again.already_done, again.failed) == (4, 4, 0)


class TestAnyException:
    """Each stage of one job (reading, validating, recording) may raise anything: that job gets the record."""

    async def test_validation_raising_anything(self, tmp_path: Path, autojump_clock: trio.testing.MockClock,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
        """An unexpected exception from the client's validator becomes internal_error naming the type, key masked."""
        import orchestrator._client as client_module

        real = client_module.validate_chat_request

        def validate(request: object, catalog: object, **options: object) -> int:
            if "poison" in str(request):
                raise LookupError("gsk_SECRETSECRETSECRET leaked into a message " + "x" * 500)
            return real(request, catalog, **options)  # type: ignore[arg-type]

        monkeypatch.setattr(client_module, "validate_chat_request", validate)
        source = write(tmp_path / "jobs.jsonl", [job(f"ok{i}") for i in range(5)] + [job("p", chat("poison"))])
        summary = await run(source, tmp_path / "out.jsonl")
        out = by_id(tmp_path / "out.jsonl")
        error = out["p"]["error"]
        assert (summary.succeeded, summary.failed, error["code"], error["line"], out["p"]["response"]) == (
            5, 1, "internal_error", 6, None)
        assert "LookupError" in error["message"] and "SECRET" not in error["message"] and len(error["message"]) < 600
        assert out["p"]["input_sha256"] == line_digest(job("p", chat("poison")).encode())

    async def test_reading_raising_anything(self, tmp_path: Path, autojump_clock: trio.testing.MockClock,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
        """An unexpected exception while a line is parsed becomes that line's internal_error record."""
        real = _records.chat_request_from

        def convert(body: object, **options: bool) -> object:
            if "poison" in json.dumps(body):
                raise ZeroDivisionError("boom")
            return real(body, **options)  # type: ignore[arg-type]

        monkeypatch.setattr(_records, "chat_request_from", convert)
        source = write(tmp_path / "jobs.jsonl", [job("p", chat("poison")), job("ok")])
        summary = await run(source, tmp_path / "out.jsonl")
        out = by_id(tmp_path / "out.jsonl")
        assert (out["p"]["error"]["code"], "ZeroDivisionError" in out["p"]["error"]["message"],
                summary.succeeded, summary.malformed) == ("internal_error", True, 1, 1)

    async def test_recording_raising_anything(self, tmp_path: Path, autojump_clock: trio.testing.MockClock,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """An unexpected exception while a success is turned into its line becomes that job's internal_error."""
        real = _records.success_record

        def record(custom_id: str, *args: object, **keywords: object) -> object:
            if custom_id == "p":
                raise KeyError("no such thing")
            return real(custom_id, *args, **keywords)  # type: ignore[arg-type]

        monkeypatch.setattr(_records, "success_record", record)
        source = write(tmp_path / "jobs.jsonl", [job("p"), job("ok")])
        summary = await run(source, tmp_path / "out.jsonl")
        out = by_id(tmp_path / "out.jsonl")
        assert (out["p"]["error"]["code"], "KeyError" in out["p"]["error"]["message"], summary.succeeded,
                summary.failed, summary.exit_code) == ("internal_error", True, 1, 1, 1)

    async def test_memory_error_stops_the_run(self, tmp_path: Path, autojump_clock: trio.testing.MockClock,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """MemoryError is about the process, not the job: it is not recorded, it stops the run."""
        import orchestrator._client as client_module

        def validate(request: object, catalog: object, **options: object) -> None:
            raise MemoryError

        monkeypatch.setattr(client_module, "validate_chat_request", validate)
        source = write(tmp_path / "jobs.jsonl", [job("a")])
        with pytest.raises(MemoryError):
            await run(source, tmp_path / "out.jsonl")
        assert records(tmp_path / "out.jsonl") == []


class TestPieces:
    def test_identify_and_parse_line_never_raise_on_depth(self) -> None:
        """Depth is refused before decoding, so the answer does not depend on the stack's depth."""
        raw = b'{"custom_id": "d", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}"
        assert (json_too_deep(raw), identify(raw, 7), parse_line(raw, 7).code) == (True, "line-7", "invalid_json")
        assert not json_too_deep(b'{"s": "' + b"[" * 5000 + b'"}')

    def test_finished_line_with_no_completion(self) -> None:
        """A result that holds neither an error nor a chat completion is recorded as internal_error."""
        line = BatchJob("a", 3, chat_request_from(chat()), 0, "0123456789abcdef")
        finished = finished_line(line, JobResult(key=line, response=object(), attempts=1))
        record = json.loads(finished.line)
        assert (finished.error_code, record["error"]["code"], record["error"]["line"], record["input_sha256"]) == (
            "internal_error", "internal_error", 3, "0123456789abcdef")

    def test_internal_error_is_a_groq_error(self) -> None:
        """InternalJobError carries code internal_error, the exception type, and a bounded, masked message."""
        error = InternalJobError.from_exception(ValueError("gsk_abc123 " + "y" * 400), "validating")
        assert (isinstance(error, GroqError), error.code, error.exception_type, "gsk_abc123" in str(error),
                len(error.message) < 250) == (True, "internal_error", "ValueError", False, True)


class TestIdsOfUndecodableLines:
    """Item 3: a line whose custom_id can be read but whose body cannot be decoded is recorded under its id."""

    @pytest.mark.parametrize("raw", [
        b'{"custom_id": "utf", "body": {"model": "m", "messages": [{"role": "user", "content": "\xff"}]}}',
        b'{"custom_id": "inf", "body": {"model": "m", "messages": [], "temperature": 1e999}}',
    ])
    async def test_resume_does_not_append_a_second_record(self, tmp_path: Path, raw: bytes,
                                                         autojump_clock: trio.testing.MockClock) -> None:
        """The record is keyed by the line's custom_id, so a resume sees it answered and appends nothing."""
        source = write(tmp_path / "jobs.jsonl", [raw, job("ok")])
        target = tmp_path / "out.jsonl"
        await run(source, target)
        first = target.read_bytes()
        again = await run(source, target)
        out = by_id(target)
        expected = raw.split(b'"')[3].decode()
        assert (sorted(out), out[expected]["error"]["code"], target.read_bytes(), again.already_done) == (
            sorted([expected, "ok"]), "invalid_json", first, 2)
