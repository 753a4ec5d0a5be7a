"""The Batch API (``/files``, ``/batches``) as a client sees it: raw HTTP and the official SDK, in-process and over
hypercorn; the time-driven lifecycle in-process under trio's autojump clock, so hours pass instantly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import groq
import httpx
import pytest
import trio
from groq.types import (
    BatchCancelResponse,
    BatchCreateResponse,
    BatchListResponse,
    BatchRetrieveResponse,
    FileCreateResponse,
    FileDeleteResponse,
    FileInfoResponse,
    FileListResponse,
)

from orchestrator.emulator import EmulatorSettings
from tests.emulator.conftest import KEY, MODEL, Harness, open_harness

FILE_ID = re.compile(r"file_[0-9a-hjkmnp-tv-z]{26}")
BATCH_ID = re.compile(r"batch_[0-9a-hjkmnp-tv-z]{26}")
LINE_ID = re.compile(r"batch_req_out_[0-9a-hjkmnp-tv-z]{26}")
REQUEST_ID = re.compile(r"req_[0-9a-hjkmnp-tv-z]{26}")
DONE = ("completed", "failed", "expired", "cancelled")
BATCH_KEYS = [
    "id", "object", "endpoint", "errors", "input_file_id", "completion_window", "status", "output_file_id",
    "error_file_id", "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at",
    "expired_at", "cancelling_at", "cancelled_at", "request_counts", "metadata",
]


def request_line(custom_id: str, content: str = "Hello there", **body: object) -> dict[str, object]:
    """One input line: a chat request for the default model."""
    chat = {"model": MODEL, "messages": [{"role": "user", "content": content}], **body}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": chat}


def jsonl(lines: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


def chat_lines(count: int, prefix: str = "request-") -> bytes:
    return jsonl([request_line(f"{prefix}{number}", f"question {number}") for number in range(1, count + 1)])


async def upload(client: httpx.AsyncClient, data: bytes, filename: str = "batch.jsonl") -> dict[str, object]:
    response = await client.post("/files", files={"file": (filename, data)}, data={"purpose": "batch"})
    assert response.status_code == 200, response.text
    return response.json()


async def create(client: httpx.AsyncClient, file_id: object, window: str = "24h", **extra: object) -> dict[str, object]:
    response = await client.post(
        "/batches",
        json={"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": window, **extra},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def run_batch(client: httpx.AsyncClient, data: bytes, **extra: object) -> dict[str, object]:
    """Upload ``data``, create a batch of it and poll until it is over (instant under the fast settings)."""
    stored = await upload(client, data)
    batch = await create(client, stored["id"], **extra)
    with trio.fail_after(10):
        while batch["status"] not in DONE:
            await trio.sleep(0)
            batch = (await client.get(f"/batches/{batch['id']}")).json()
    return batch


async def retrieve(client: httpx.AsyncClient, batch_id: object) -> dict[str, object]:
    response = await client.get(f"/batches/{batch_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def lines_of(client: httpx.AsyncClient, file_id: object) -> list[dict[str, object]]:
    response = await client.get(f"/files/{file_id}/content")
    assert response.status_code == 200, response.text
    return [json.loads(line) for line in response.content.splitlines()]


def error_of(response: httpx.Response) -> dict[str, str]:
    return response.json()["error"]


@pytest.fixture
def settings(tmp_path: Path) -> EmulatorSettings:
    """Batches that are over by the next request: no validation or finalizing time, 10,000x time."""
    return EmulatorSettings(
        seed=1, files_dir=str(tmp_path), time_scale=10_000.0, batch_validation_seconds=0.0, batch_finalizing_seconds=0.0
    )


def timed(tmp_path: Path, **knobs: object) -> EmulatorSettings:
    """In-process lifecycle settings: 10 lines per emulated second, 2 s validation, 1 s finalizing."""
    return EmulatorSettings(seed=1, files_dir=str(tmp_path), batch_lines_per_second=10.0, **knobs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- files


class TestFiles:
    async def test_upload_list_info_content_round_trip(self, harness: Harness) -> None:
        """An upload is described Groq's way, listed, and its bytes come back exactly, streamed in 64 KiB reads."""
        data = chat_lines(1_500)  # ~200 KB: several chunks
        stored = await upload(harness.client, data, "my requests.jsonl")
        assert FILE_ID.fullmatch(str(stored["id"]))
        assert list(stored) == ["id", "object", "bytes", "created_at", "filename", "purpose"]
        assert (stored["object"], stored["bytes"], stored["filename"], stored["purpose"]) == (
            "file", len(data), "my requests.jsonl", "batch"
        )
        assert isinstance(stored["created_at"], int) and stored["created_at"] > 1_700_000_000
        listed = (await harness.client.get("/files")).json()
        assert listed == {"object": "list", "data": [stored]}
        assert (await harness.client.get(f"/files/{stored['id']}")).json() == stored
        content = await harness.client.get(f"/files/{stored['id']}/content")
        assert (content.status_code, content.content) == (200, data)
        assert content.headers["content-type"] == "application/octet-stream"
        assert harness.emulator.stats().batch_files_uploaded == 1

    async def test_list_is_newest_first(self, harness: Harness) -> None:
        first = await upload(harness.client, chat_lines(1))
        second = await upload(harness.client, chat_lines(2))
        listed = (await harness.client.get("/files")).json()["data"]
        assert [entry["id"] for entry in listed] == [second["id"], first["id"]]

    async def test_delete(self, harness: Harness) -> None:
        """A deleted file is gone from info, content and the list; a second delete is a 404."""
        stored = await upload(harness.client, chat_lines(2))
        deleted = await harness.client.delete(f"/files/{stored['id']}")
        assert deleted.json() == {"id": stored["id"], "object": "file", "deleted": True}
        for response in (
            await harness.client.get(f"/files/{stored['id']}"),
            await harness.client.get(f"/files/{stored['id']}/content"),
            await harness.client.delete(f"/files/{stored['id']}"),
        ):
            assert response.status_code == 404 and stored["id"] in error_of(response)["message"]
        assert (await harness.client.get("/files")).json()["data"] == []

    async def test_unknown_ids_are_404s_naming_the_id(self, harness: Harness) -> None:
        for response in (
            await harness.client.get("/files/file_nope"),
            await harness.client.get("/files/file_nope/content"),
            await harness.client.get("/batches/batch_nope"),
            await harness.client.post("/batches/batch_nope/cancel"),
        ):
            assert response.status_code == 404
            assert error_of(response)["type"] == "invalid_request_error" and "_nope" in error_of(response)["message"]

    @pytest.mark.parametrize(
        ("data", "files", "param", "words"),
        [
            ({}, {"file": ("b.jsonl", b"x")}, "purpose", "purpose is missing"),
            ({"purpose": "fine-tune"}, {"file": ("b.jsonl", b"x")}, "purpose", "'fine-tune'"),
            ({"purpose": "batch_output"}, {"file": ("b.jsonl", b"x")}, "purpose", "'batch_output'"),
            ({"purpose": "batch", "file": "not a file"}, {}, "file", "file is required"),
        ],
    )
    async def test_bad_uploads_are_400s(
        self, harness: Harness, data: dict[str, str], files: dict[str, object], param: str, words: str
    ) -> None:
        """Only purpose "batch" with a file part is stored; the 400 names the field and the value."""
        response = await harness.client.post("/files", data=data, files=files or {"other": ("x", b"y")})
        assert (response.status_code, error_of(response).get("param")) == (400, param)
        assert words in error_of(response)["message"]
        assert (await harness.client.get("/files")).json()["data"] == []

    async def test_an_upload_must_be_multipart(self, harness: Harness) -> None:
        response = await harness.client.post("/files", json={"purpose": "batch"})
        assert response.status_code == 400 and "multipart/form-data" in error_of(response)["message"]

    async def test_a_file_over_100_mb_is_a_413(self, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
        """Groq's 100 MB cap on batch files (lowered here to 1 KB, so the test moves kilobytes, not megabytes)."""
        monkeypatch.setattr("orchestrator.emulator._batches.MAX_BATCH_FILE_BYTES", 1_000)
        response = await harness.client.post("/files", data={"purpose": "batch"}, files={"file": ("b.jsonl", b"x" * 1_001)})
        assert (response.status_code, error_of(response)["code"]) == (413, "request_too_large")
        assert "1001 bytes" in error_of(response)["message"]


class TestBodyLimits:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> EmulatorSettings:
        """A 4 KiB cap on ordinary bodies and a 64 KiB cap on uploads."""
        return EmulatorSettings(files_dir=str(tmp_path), max_body_size=4_096, max_upload_size=65_536)

    async def test_uploads_have_their_own_limit(self, harness: Harness) -> None:
        """A 20 KB upload passes the upload limit though it is over the ordinary one, which still holds elsewhere."""
        stored = await upload(harness.client, chat_lines(150))
        assert stored["bytes"] > 4_096
        chat = await harness.client.post("/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "x" * 5_000}]})
        assert chat.status_code == 413 and "4096 bytes" in error_of(chat)["message"]

    async def test_an_upload_over_its_limit_is_a_413(self, harness: Harness) -> None:
        response = await harness.client.post("/files", data={"purpose": "batch"}, files={"file": ("b.jsonl", b"x" * 70_000)})
        assert (response.status_code, error_of(response)["code"]) == (413, "request_too_large")
        assert "65536 bytes" in error_of(response)["message"]
        assert (await harness.client.get("/files")).json()["data"] == []


class TestRoutes:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("DELETE", "/batches"),
            ("PUT", "/files"),
            ("POST", "/files/file_x"),
            ("GET", "/batches/batch_x/cancel"),
            ("DELETE", "/batches/batch_x"),
            ("POST", "/files/file_x/content"),
        ],
    )
    async def test_wrong_methods_are_405s(self, harness: Harness, method: str, path: str) -> None:
        response = await harness.client.request(method, path)
        assert (response.status_code, error_of(response)["code"]) == (405, "method_not_allowed")

    @pytest.mark.parametrize("path", ["/files/file_x/raw", "/batches/batch_x/pause", "/files/a/b/c", "/batches//cancel"])
    async def test_unknown_paths_are_404s(self, harness: Harness, path: str) -> None:
        response = await harness.client.get(path)
        assert (response.status_code, error_of(response)["code"]) == (404, "unknown_url")

    @pytest.mark.parametrize(("method", "path"), [("GET", "/files"), ("POST", "/files"), ("GET", "/batches"), ("POST", "/batches")])
    async def test_a_bad_key_is_a_401(self, harness: Harness, method: str, path: str) -> None:
        response = await harness.client.request(method, path, headers={"authorization": "Bearer nope"})
        assert (response.status_code, error_of(response)["code"]) == (401, "invalid_api_key")


class TestUploadReset:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> EmulatorSettings:
        return EmulatorSettings(files_dir=str(tmp_path), upload_resets=1)

    async def test_the_first_upload_is_reset_and_not_stored(self, harness: Harness) -> None:
        """The connection closes with no response; nothing is stored; the retry goes through."""
        with pytest.raises(httpx.RemoteProtocolError):
            await harness.client.post("/files", data={"purpose": "batch"}, files={"file": ("b.jsonl", chat_lines(3))})
        assert (await harness.client.get("/files")).json()["data"] == []
        stored = await upload(harness.client, chat_lines(3))
        assert [entry["id"] for entry in (await harness.client.get("/files")).json()["data"]] == [stored["id"]]
        stats = harness.emulator.stats()
        assert (stats.faults_injected, stats.batch_files_uploaded) == ({"upload-reset": 1}, 1)


# --------------------------------------------------------------------------- creating batches


class TestCreate:
    @pytest.mark.parametrize("window", ["12h", "23h", "169h", "8d", "1w", "24", "h", "24 h", "", 24, None])
    async def test_completion_window_out_of_range_is_a_400(self, harness: Harness, window: object) -> None:
        stored = await upload(harness.client, chat_lines(1))
        response = await harness.client.post(
            "/batches", json={"input_file_id": stored["id"], "endpoint": "/v1/chat/completions", "completion_window": window}
        )
        assert (response.status_code, error_of(response)["param"]) == (400, "completion_window")
        assert repr(window) in error_of(response)["message"] and "24h to 7d" in error_of(response)["message"]

    @pytest.mark.parametrize(("window", "hours"), [("24h", 24), ("48h", 48), ("2d", 48), ("7d", 168), ("168h", 168)])
    async def test_windows_from_24h_to_7d(self, harness: Harness, window: str, hours: int) -> None:
        stored = await upload(harness.client, chat_lines(1))
        batch = await create(harness.client, stored["id"], window)
        assert batch["completion_window"] == window
        assert batch["expires_at"] - batch["created_at"] == hours * 3_600  # type: ignore[operator]

    async def test_the_batch_object(self, harness: Harness) -> None:
        """A new batch: Groq's fields in order, its input file and metadata, counts at zero."""
        stored = await upload(harness.client, chat_lines(2))
        batch = await create(harness.client, stored["id"], metadata={"job": "nightly"})
        assert list(batch) == BATCH_KEYS and BATCH_ID.fullmatch(str(batch["id"]))
        assert (batch["object"], batch["endpoint"], batch["input_file_id"], batch["metadata"]) == (
            "batch", "/v1/chat/completions", stored["id"], {"job": "nightly"}
        )

    @pytest.mark.parametrize(
        ("fields", "param", "words"),
        [
            ({"endpoint": "/v1/embeddings"}, "endpoint", "'/v1/embeddings'"),
            ({"input_file_id": "file_missing"}, "input_file_id", "'file_missing' does not name an uploaded file"),
            ({"input_file_id": 7}, "input_file_id", "got 7"),
            ({"metadata": {"n": 1}}, "metadata", "string values"),
        ],
    )
    async def test_bad_fields_are_400s(self, harness: Harness, fields: dict[str, object], param: str, words: str) -> None:
        stored = await upload(harness.client, chat_lines(1))
        body = {"input_file_id": stored["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h", **fields}
        response = await harness.client.post("/batches", json=body)
        assert (response.status_code, error_of(response)["param"]) == (400, param)
        assert words in error_of(response)["message"]

    async def test_an_output_file_is_not_an_input(self, harness: Harness) -> None:
        done = await run_batch(harness.client, chat_lines(2))
        response = await harness.client.post(
            "/batches",
            json={"input_file_id": done["output_file_id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"},
        )
        assert response.status_code == 400 and "purpose 'batch_output'" in error_of(response)["message"]

    async def test_a_body_that_is_not_json_is_a_400(self, harness: Harness) -> None:
        response = await harness.client.post("/batches", content=b"{nope", headers={"content-type": "application/json"})
        assert response.status_code == 400 and "not valid JSON" in error_of(response)["message"]


# --------------------------------------------------------------------------- running batches (fast settings)


class TestRun:
    async def test_every_line_has_one_output_line(self, harness: Harness) -> None:
        """20 lines: 20 output lines, one per custom_id, each a chat.completion with usage, in Groq's line shape."""
        batch = await run_batch(harness.client, chat_lines(20))
        assert (batch["status"], batch["request_counts"], batch["error_file_id"]) == (
            "completed", {"total": 20, "completed": 20, "failed": 0}, None
        )
        output = await lines_of(harness.client, batch["output_file_id"])
        assert sorted(line["custom_id"] for line in output) == sorted(f"request-{n}" for n in range(1, 21))
        for line in output:
            assert list(line) == ["id", "custom_id", "response", "error"] and line["error"] is None
            assert LINE_ID.fullmatch(line["id"])
            response = line["response"]
            assert list(response) == ["status_code", "request_id", "body"] and response["status_code"] == 200
            assert REQUEST_ID.fullmatch(response["request_id"])
            body = response["body"]
            assert (body["object"], body["model"], body["x_groq"]["id"]) == ("chat.completion", MODEL, response["request_id"])
            assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] > 0
        info = (await harness.client.get(f"/files/{batch['output_file_id']}")).json()
        assert (info["purpose"], info["bytes"]) == ("batch_output", len((await harness.client.get(f"/files/{batch['output_file_id']}/content")).content))

    async def test_a_line_renders_as_the_chat_endpoint_does(self, harness: Harness) -> None:
        """The body of an output line is the chat endpoint's completion for the same request (same text, same usage)."""
        line = request_line("only", "What is 2+2?", max_completion_tokens=40)
        batch = await run_batch(harness.client, jsonl([line]))
        body = (await lines_of(harness.client, batch["output_file_id"]))[0]["response"]["body"]
        direct = (await harness.client.post("/chat/completions", json=line["body"])).json()
        assert list(body) == list(direct)
        assert (body["choices"], body["usage"], body["system_fingerprint"]) == (
            direct["choices"], direct["usage"], direct["system_fingerprint"]
        )

    async def test_failing_lines_go_to_the_error_file(self, harness: Harness) -> None:
        """An unknown model is a 404 line, a request the chat rules refuse a 400 line; the others complete."""
        lines = [
            request_line("good-1"),
            {**request_line("unknown-model"), "body": {"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}},
            request_line("refused", foo=1),
            request_line("good-2"),
        ]
        batch = await run_batch(harness.client, jsonl(lines))
        assert (batch["status"], batch["request_counts"]) == ("completed", {"total": 4, "completed": 2, "failed": 2})
        output = await lines_of(harness.client, batch["output_file_id"])
        errors = {line["custom_id"]: line for line in await lines_of(harness.client, batch["error_file_id"])}
        assert sorted(line["custom_id"] for line in output) == ["good-1", "good-2"]
        missing, refused = errors["unknown-model"], errors["refused"]
        assert list(missing) == ["id", "custom_id", "response", "error"] and missing["error"] is None
        assert missing["response"]["status_code"] == 404
        assert missing["response"]["body"]["error"]["code"] == "model_not_found"
        assert "no-such-model" in missing["response"]["body"]["error"]["message"]
        assert refused["response"]["status_code"] == 400
        assert refused["response"]["body"]["error"]["message"] == "property 'foo' is unsupported"

    async def test_validation_failure_names_the_lines(self, harness: Harness) -> None:
        """A duplicate custom_id on line 3 and a wrong url on line 5 fail the batch with both lines listed."""
        lines = [request_line(f"request-{n}") for n in range(1, 7)]
        lines[2]["custom_id"] = "request-1"
        lines[4]["url"] = "/v1/embeddings"
        batch = await run_batch(harness.client, jsonl(lines))
        assert (batch["status"], batch["output_file_id"], batch["error_file_id"]) == ("failed", None, None)
        assert batch["request_counts"] == {"total": 6, "completed": 0, "failed": 0}
        assert batch["failed_at"] is not None and batch["in_progress_at"] is None
        errors = batch["errors"]
        assert errors["object"] == "list"  # type: ignore[index]
        assert [(e["code"], e["line"], e["param"]) for e in errors["data"]] == [  # type: ignore[index]
            ("duplicate_custom_id", 3, "custom_id"),
            ("url_mismatch", 5, "url"),
        ]
        assert "line 1" in errors["data"][0]["message"] and "/v1/embeddings" in errors["data"][1]["message"]  # type: ignore[index]
        assert harness.emulator.stats().batch_lines_run == 0

    @pytest.mark.parametrize(
        ("raw", "code", "param"),
        [
            (b"{not json", "invalid_json_line", None),
            (b"[1, 2]", "invalid_request", None),
            (json.dumps({**request_line("x"), "custom_id": ""}).encode(), "invalid_request", "custom_id"),
            (json.dumps({**request_line("x"), "custom_id": 5}).encode(), "invalid_request", "custom_id"),
            (json.dumps({**request_line("x"), "method": "GET"}).encode(), "invalid_request", "method"),
            (json.dumps({**request_line("x"), "body": "hello"}).encode(), "invalid_request", "body"),
            (json.dumps({"custom_id": "x", "method": "POST", "url": "/v1/chat/completions"}).encode(), "invalid_request", "body"),
        ],
    )
    async def test_each_bad_line_is_reported(self, harness: Harness, raw: bytes, code: str, param: str | None) -> None:
        """A bad line (here line 3, after a blank line 2) is named by its physical line number."""
        data = jsonl([request_line("first")]) + b"\n" + raw + b"\n"
        batch = await run_batch(harness.client, data)
        assert batch["status"] == "failed"
        assert [(e["code"], e["line"], e["param"]) for e in batch["errors"]["data"]] == [(code, 3, param)]  # type: ignore[index]

    async def test_an_empty_file_fails(self, harness: Harness) -> None:
        batch = await run_batch(harness.client, b"\n  \n")
        assert batch["status"] == "failed"
        assert [(e["code"], e["line"]) for e in batch["errors"]["data"]] == [("empty_file", None)]  # type: ignore[index]

    async def test_too_many_lines_fail(self, harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
        """Over the per-batch line cap (lowered here from 50,000 to 5) the batch fails with one error."""
        monkeypatch.setattr("orchestrator.emulator._batches.MAX_BATCH_LINES", 5)
        batch = await run_batch(harness.client, chat_lines(6))
        assert (batch["status"], batch["request_counts"]["total"]) == ("failed", 6)  # type: ignore[index]
        assert [e["code"] for e in batch["errors"]["data"]] == ["too_many_tasks"]  # type: ignore[index]

    async def test_listed_newest_first(self, harness: Harness) -> None:
        first = await run_batch(harness.client, chat_lines(1))
        second = await run_batch(harness.client, chat_lines(1, "other-"))
        listed = (await harness.client.get("/batches")).json()
        assert [entry["id"] for entry in listed["data"]] == [second["id"], first["id"]]
        assert (listed["object"], listed["first_id"], listed["last_id"], listed["has_more"]) == (
            "list", second["id"], first["id"], False
        )
        assert listed["data"][0] == await retrieve(harness.client, second["id"])

    async def test_no_line_runs_twice_unless_submitted_twice(self, harness: Harness) -> None:
        """Each custom_id runs once per batch it is in; resubmitting one is a counted duplicate."""
        await run_batch(harness.client, chat_lines(5))
        await run_batch(harness.client, chat_lines(5, "other-"))
        stats = harness.emulator.stats()
        assert (stats.batch_lines_run, stats.batch_duplicate_runs) == (10, 0)
        assert harness.emulator.batch_line_runs("request-3") == 1 and harness.emulator.batch_line_runs("never") == 0
        await run_batch(harness.client, chat_lines(2))
        stats = harness.emulator.stats()
        assert (stats.batch_lines_run, stats.batch_duplicate_runs) == (12, 2)
        assert (harness.emulator.batch_line_runs("request-1"), harness.emulator.batch_line_runs("request-3")) == (2, 1)
        served = (await harness.client.get(harness.base_url.removesuffix("/openai/v1") + "/_emulator/stats")).json()
        assert (served["batch_files_uploaded"], served["batch_lines_run"], served["batch_duplicate_runs"]) == (3, 12, 2)

    async def test_files_default_to_a_temporary_directory(self, transport_kind: str) -> None:
        """Without files_dir the files live in a temporary directory made on first use."""
        async with open_harness(transport_kind, EmulatorSettings()) as harness:
            stored = await upload(harness.client, chat_lines(1))
            directory = harness.emulator._batches._store.directory()
            assert Path(directory).name.startswith("groq-emulator-files-")
            assert (Path(directory) / str(stored["id"])).read_bytes() == chat_lines(1)


# --------------------------------------------------------------------------- the lifecycle in emulated time


class TestLifecycle:
    async def test_validating_in_progress_finalizing_completed(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """20 lines at 10 per second: validating for 2 s, in progress to 4 s, finalizing to 5 s, then completed."""
        async with open_harness("in-process", timed(tmp_path)) as harness:
            stored = await upload(harness.client, chat_lines(20))
            batch = await create(harness.client, stored["id"])
            seen = []
            for wait in (1.0, 1.5, 1.0, 0.5, 1.0, 10.0):
                await trio.sleep(wait)
                batch = await retrieve(harness.client, batch["id"])
                seen.append((batch["status"], batch["request_counts"]["completed"], batch["output_file_id"] is not None))  # type: ignore[index]
            assert seen == [
                ("validating", 0, False),
                ("in_progress", 5, False),
                ("in_progress", 15, False),
                ("finalizing", 20, False),
                ("completed", 20, True),
                ("completed", 20, True),
            ]
            created = batch["created_at"]
            assert [batch[name] - created for name in ("in_progress_at", "finalizing_at", "completed_at", "expires_at")] == [  # type: ignore[operator]
                2, 4, 5, 86_400
            ]
            assert (batch["failed_at"], batch["expired_at"], batch["cancelling_at"], batch["cancelled_at"]) == (None,) * 4
            output = await lines_of(harness.client, batch["output_file_id"])
            assert len(output) == 20 and len({line["custom_id"] for line in output}) == 20

    async def test_expired_half_done(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """With batch_expire_fraction 0.5, 10 of 20 lines run; the other 10 are written off as batch_expired."""
        async with open_harness("in-process", timed(tmp_path, batch_expire_fraction=0.5)) as harness:
            stored = await upload(harness.client, chat_lines(20))
            batch = await create(harness.client, stored["id"])
            await trio.sleep(60)
            batch = await retrieve(harness.client, batch["id"])
            assert (batch["status"], batch["request_counts"]) == ("expired", {"total": 20, "completed": 10, "failed": 10})
            assert batch["expired_at"] - batch["created_at"] == 3 and batch["completed_at"] is None  # type: ignore[operator]
            output = await lines_of(harness.client, batch["output_file_id"])
            errors = await lines_of(harness.client, batch["error_file_id"])
            ran, lost = {line["custom_id"] for line in output}, {line["custom_id"] for line in errors}
            assert (len(ran), len(lost), ran | lost) == (10, 10, {f"request-{n}" for n in range(1, 21)})
            for line in errors:
                assert list(line) == ["id", "custom_id", "response", "error"] and line["response"] is None
                assert line["error"] == {
                    "code": "batch_expired",
                    "message": "This request could not be executed before the completion window expired.",
                }
            assert harness.emulator.stats().batch_lines_run == 10

    async def test_the_window_runs_out(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """At 3600x a 24 h window passes in 24 s: a batch too slow for it expires at created + 24 h, part done."""
        settings = EmulatorSettings(files_dir=str(tmp_path), time_scale=3_600.0, batch_lines_per_second=0.0001)
        async with open_harness("in-process", settings) as harness:
            stored = await upload(harness.client, chat_lines(20))
            batch = await create(harness.client, stored["id"])
            await trio.sleep(23.9)
            assert (await retrieve(harness.client, batch["id"]))["status"] == "in_progress"
            await trio.sleep(0.2)
            batch = await retrieve(harness.client, batch["id"])
        # 86,398 s of running at 0.0001 lines/s: 8 lines.
        assert (batch["status"], batch["request_counts"]) == ("expired", {"total": 20, "completed": 8, "failed": 12})
        assert batch["expired_at"] == batch["expires_at"] == batch["created_at"] + 86_400  # type: ignore[operator]

    async def test_cancel(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """A cancel at 2.5 s stops the lines (5 ran): cancelling for 1 s, then cancelled, 15 written off."""
        async with open_harness("in-process", timed(tmp_path)) as harness:
            stored = await upload(harness.client, chat_lines(20))
            batch = await create(harness.client, stored["id"])
            await trio.sleep(2.5)
            cancelling = (await harness.client.post(f"/batches/{batch['id']}/cancel")).json()
            assert (cancelling["status"], cancelling["request_counts"]["completed"]) == ("cancelling", 5)
            assert cancelling["cancelling_at"] - cancelling["created_at"] == 2  # type: ignore[operator]  # int(2.5)
            await trio.sleep(1.0)
            batch = await retrieve(harness.client, batch["id"])
            assert (batch["status"], batch["request_counts"]) == ("cancelled", {"total": 20, "completed": 5, "failed": 15})
            errors = await lines_of(harness.client, batch["error_file_id"])
            assert len(errors) == 15 and {line["error"]["code"] for line in errors} == {"batch_cancelled"}
            again = await harness.client.post(f"/batches/{batch['id']}/cancel")
            assert (again.status_code, again.json()) == (200, batch)
            assert harness.emulator.stats().batch_lines_run == 5

    async def test_a_deleted_input_still_runs(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """Deleting the input file of a running batch removes it from the store at once; the batch still reads it,
        and its bytes go when the batch is over."""
        async with open_harness("in-process", timed(tmp_path)) as harness:
            stored = await upload(harness.client, chat_lines(3))
            batch = await create(harness.client, stored["id"])
            assert (await harness.client.delete(f"/files/{stored['id']}")).status_code == 200
            assert (await harness.client.get(f"/files/{stored['id']}")).status_code == 404
            assert (tmp_path / str(stored["id"])).exists()
            await trio.sleep(10)
            batch = await retrieve(harness.client, batch["id"])
            assert (batch["status"], batch["request_counts"]["completed"]) == ("completed", 3)  # type: ignore[index]
            assert not (tmp_path / str(stored["id"])).exists()

    async def test_a_done_batch_cannot_be_cancelled(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        async with open_harness("in-process", timed(tmp_path)) as harness:
            stored = await upload(harness.client, chat_lines(2))
            batch = await create(harness.client, stored["id"])
            await trio.sleep(10)
            refused = await harness.client.post(f"/batches/{batch['id']}/cancel")
            assert refused.status_code == 400 and "is completed and cannot be cancelled" in error_of(refused)["message"]

    async def test_concurrent_polls_run_each_line_once(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """Ten polls at once, with 600 lines due: every line runs exactly once."""
        async with open_harness("in-process", EmulatorSettings(files_dir=str(tmp_path))) as harness:
            stored = await upload(harness.client, chat_lines(600))
            batch = await create(harness.client, stored["id"])
            await trio.sleep(10)
            statuses = []

            async def poll() -> None:
                statuses.append((await retrieve(harness.client, batch["id"]))["status"])

            async with trio.open_nursery() as nursery:
                for _ in range(10):
                    nursery.start_soon(poll)
            stats = harness.emulator.stats()
            assert (statuses, stats.batch_lines_run, stats.batch_duplicate_runs) == (["completed"] * 10, 600, 0)
            assert len(await lines_of(harness.client, (await retrieve(harness.client, batch["id"]))["output_file_id"])) == 600

    async def test_batches_do_not_touch_the_rate_limits(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """Limits of 5 requests a day and 2,000 tokens a minute, and a 500-line batch still completes; the day's
        requests are all left for the standard API."""
        settings = EmulatorSettings(files_dir=str(tmp_path), limits={MODEL: (5, 5, 2_000, 10_000)})
        async with open_harness("in-process", settings) as harness:
            stored = await upload(harness.client, chat_lines(500))
            batch = await create(harness.client, stored["id"])
            await trio.sleep(5)
            batch = await retrieve(harness.client, batch["id"])
            assert (batch["status"], batch["request_counts"]) == ("completed", {"total": 500, "completed": 500, "failed": 0})
            direct = await harness.client.post("/chat/completions", json=request_line("x")["body"])
            assert (direct.status_code, direct.headers["x-ratelimit-remaining-requests"]) == (200, "4")
            assert harness.emulator.stats().rate_limited == 0


# --------------------------------------------------------------------------- the official SDK


class TestSDK:
    async def test_files(self, harness: Harness) -> None:
        """files.create/list/info/content/delete parse into the SDK's own types (groq-python test_files.py)."""
        data = chat_lines(3)
        async with harness.sdk() as sdk:
            created = await sdk.files.create(file=("batch.jsonl", data), purpose="batch")
            assert isinstance(created, FileCreateResponse) and FILE_ID.fullmatch(created.id or "")
            assert (created.bytes, created.filename, created.purpose, created.object) == (len(data), "batch.jsonl", "batch", "file")
            listed = await sdk.files.list()
            assert isinstance(listed, FileListResponse) and [entry.id for entry in listed.data] == [created.id]
            info = await sdk.files.info(created.id or "")
            assert isinstance(info, FileInfoResponse) and info.model_dump() == created.model_dump()
            content = await sdk.files.content(created.id or "")
            assert await content.read() == data
            deleted = await sdk.files.delete(created.id or "")
            assert isinstance(deleted, FileDeleteResponse) and (deleted.id, deleted.deleted) == (created.id, True)
            with pytest.raises(groq.NotFoundError):
                await sdk.files.info(created.id or "")

    async def test_batches(self, harness: Harness) -> None:
        """batches.create/retrieve/list parse into the SDK's types, and the output downloads (groq-python test_batches.py)."""
        async with harness.sdk() as sdk:
            uploaded = await sdk.files.create(file=("batch.jsonl", chat_lines(4)), purpose="batch")
            created = await sdk.batches.create(
                completion_window="24h", endpoint="/v1/chat/completions", input_file_id=uploaded.id or "", metadata={"k": "v"}
            )
            assert isinstance(created, BatchCreateResponse) and BATCH_ID.fullmatch(created.id)
            assert (created.input_file_id, created.metadata) == (uploaded.id, {"k": "v"})
            with trio.fail_after(10):
                retrieved = await sdk.batches.retrieve(created.id)
                while retrieved.status != "completed":
                    await trio.sleep(0)
                    retrieved = await sdk.batches.retrieve(created.id)
            assert isinstance(retrieved, BatchRetrieveResponse) and retrieved.request_counts is not None
            assert (retrieved.request_counts.total, retrieved.request_counts.completed) == (4, 4)
            listed = await sdk.batches.list()
            assert isinstance(listed, BatchListResponse) and [entry.id for entry in listed.data] == [created.id]
            output = await (await sdk.files.content(retrieved.output_file_id or "")).read()
            assert len(output.splitlines()) == 4
            with pytest.raises(groq.BadRequestError):
                await sdk.batches.create(completion_window="1h", endpoint="/v1/chat/completions", input_file_id=uploaded.id or "")

    async def test_cancel(self, transport_kind: str, tmp_path: Path) -> None:
        """batches.cancel parses into BatchCancelResponse (a batch validating for an hour, cancelled at once)."""
        settings = EmulatorSettings(files_dir=str(tmp_path), batch_validation_seconds=3_600.0, batch_finalizing_seconds=0.0)
        async with open_harness(transport_kind, settings) as harness, harness.sdk(api_key=KEY) as sdk:
            uploaded = await sdk.files.create(file=("batch.jsonl", chat_lines(2)), purpose="batch")
            created = await sdk.batches.create(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=uploaded.id or "")
            assert created.status == "validating"
            cancelled = await sdk.batches.cancel(created.id)
            assert isinstance(cancelled, BatchCancelResponse) and cancelled.status == "cancelled"
            assert cancelled.cancelling_at is not None and cancelled.cancelled_at is not None
            with pytest.raises(groq.NotFoundError):
                await sdk.batches.cancel("batch_nope")
