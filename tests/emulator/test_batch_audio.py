"""Audio transcription and translation lines in the Batch API: a batch whose endpoint is ``/v1/audio/transcriptions``
or ``/v1/audio/translations`` runs JSON lines with a ``url`` through the audio machinery. In-process, under trio's
autojump clock, so the batch's emulated hours pass instantly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import trio

from orchestrator.emulator import EmulatorSettings
from tests.emulator.conftest import MODEL, Harness, open_harness

TRANSCRIBE = "/v1/audio/transcriptions"
TRANSLATE = "/v1/audio/translations"
WHISPER = "whisper-large-v3"
TURBO = "whisper-large-v3-turbo"
URL = "https://example.com/talks/keynote.mp3"
LINE_ID = re.compile(r"batch_req_out_[0-9a-hjkmnp-tv-z]{26}")
REQUEST_ID = re.compile(r"req_[0-9a-hjkmnp-tv-z]{26}")
DONE = ("completed", "failed", "expired", "cancelled")


def settings_for(tmp_path: Path, **knobs: object) -> EmulatorSettings:
    """10 lines per emulated second, 2 s validation, 1 s finalizing (the emulator's defaults otherwise)."""
    return EmulatorSettings(seed=1, files_dir=str(tmp_path), batch_lines_per_second=10.0, **knobs)  # type: ignore[arg-type]


def audio_line(custom_id: str, endpoint: str = TRANSCRIBE, **body: object) -> dict[str, object]:
    return {"custom_id": custom_id, "method": "POST", "url": endpoint, "body": {"model": WHISPER, "url": URL, **body}}


def jsonl(lines: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


async def run(harness: Harness, lines: list[dict[str, object]], endpoint: str = TRANSCRIBE) -> dict[str, object]:
    """Upload the lines, create a batch for ``endpoint`` and poll (in emulated seconds) until it is over."""
    client = harness.client
    uploaded = await client.post("/files", files={"file": ("audio.jsonl", jsonl(lines))}, data={"purpose": "batch"})
    assert uploaded.status_code == 200, uploaded.text
    created = await client.post(
        "/batches", json={"input_file_id": uploaded.json()["id"], "endpoint": endpoint, "completion_window": "24h"}
    )
    assert created.status_code == 200, created.text
    batch = created.json()
    assert batch["endpoint"] == endpoint
    with trio.fail_after(3_600):
        while batch["status"] not in DONE:
            await trio.sleep(1.0)
            batch = (await client.get(f"/batches/{batch['id']}")).json()
    return batch


async def lines_of(client: httpx.AsyncClient, file_id: object) -> dict[str, dict[str, object]]:
    """An output or error file's lines by custom_id."""
    if file_id is None:
        return {}
    response = await client.get(f"/files/{file_id}/content")
    assert response.status_code == 200, response.text
    return {line["custom_id"]: line for line in map(json.loads, response.content.splitlines())}


async def direct(client: httpx.AsyncClient, kind: str, **fields: str) -> httpx.Response:
    """The same request sent to the audio endpoint itself (a multipart form of text fields)."""
    form = {name: (None, value) for name, value in {"model": WHISPER, "url": URL, **fields}.items()}
    return await client.post(f"/audio/{kind}", files=form)


class TestTranscriptionBatches:
    async def test_lines_run_and_match_the_endpoint(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """Each line's output is Groq's line shape with the transcription the endpoint gives for the same url."""
        async with open_harness("in-process", settings_for(tmp_path)) as harness:
            batch = await run(harness, [
                audio_line("plain"),
                audio_line("verbose", response_format="verbose_json", timestamp_granularities=["word"], language="en"),
                audio_line("turbo", model=TURBO, prompt="keynote", temperature=0),
            ])
            assert batch["status"] == "completed" and batch["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
            output = await lines_of(harness.client, batch["output_file_id"])
            expected = (await direct(harness.client, "transcriptions")).json()
            expected_turbo = (await direct(harness.client, "transcriptions", model=TURBO)).json()
        assert batch["error_file_id"] is None and set(output) == {"plain", "verbose", "turbo"}
        plain = output["plain"]
        assert list(plain) == ["id", "custom_id", "response", "error"] and plain["error"] is None
        assert LINE_ID.fullmatch(str(plain["id"]))
        response = plain["response"]
        assert isinstance(response, dict) and list(response) == ["status_code", "request_id", "body"]
        assert response["status_code"] == 200 and REQUEST_ID.fullmatch(response["request_id"])
        body = response["body"]
        assert body == {"text": expected["text"], "x_groq": {"id": response["request_id"]}}
        verbose = output["verbose"]["response"]["body"]  # type: ignore[index]
        assert (verbose["task"], verbose["language"], verbose["text"]) == ("transcribe", "english", expected["text"])
        assert verbose["words"] and verbose["duration"] > 0
        assert output["turbo"]["response"]["body"]["text"] == expected_turbo["text"]  # type: ignore[index]

    async def test_a_text_body_is_written_as_a_json_string(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        async with open_harness("in-process", settings_for(tmp_path)) as harness:
            batch = await run(harness, [audio_line("text", response_format="text")])
            output = await lines_of(harness.client, batch["output_file_id"])
            expected = (await direct(harness.client, "transcriptions", response_format="text")).text
        assert output["text"]["response"]["body"] == expected  # type: ignore[index]

    async def test_bad_lines_go_to_the_error_file(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """A line is judged as the endpoint judges its form, plus the batch rule that audio comes by url."""
        file_line = audio_line("file", file="@talk.mp3")
        no_url = {"custom_id": "no-url", "method": "POST", "url": TRANSCRIBE, "body": {"model": WHISPER}}
        async with open_harness("in-process", settings_for(tmp_path)) as harness:
            batch = await run(harness, [
                audio_line("good"),
                file_line,
                no_url,
                audio_line("ftp", url="ftp://example.com/a.mp3"),
                audio_line("chat-model", model=MODEL),
                audio_line("unknown-model", model="whisper-nano"),
                audio_line("warm", temperature="hot"),
                audio_line("format", response_format="srt-ish"),
                audio_line("language", language=7),
            ])
            errors = await lines_of(harness.client, batch["error_file_id"])
        assert batch["status"] == "completed" and batch["request_counts"] == {"total": 9, "completed": 1, "failed": 8}

        def status_param(custom_id: str) -> tuple[object, object]:
            response = errors[custom_id]["response"]
            assert isinstance(response, dict) and errors[custom_id]["error"] is None
            return response["status_code"], response["body"]["error"].get("param")

        assert {custom_id: status_param(custom_id) for custom_id in errors} == {
            "file": (400, "file"),
            "no-url": (400, "url"),
            "ftp": (400, "url"),
            "chat-model": (400, "model"),
            "unknown-model": (404, None),
            "warm": (400, "temperature"),
            "format": (400, "response_format"),
            "language": (400, "language"),
        }
        assert errors["unknown-model"]["response"]["body"]["error"]["code"] == "model_not_found"  # type: ignore[index]
        assert "batch" in errors["file"]["response"]["body"]["error"]["message"]  # type: ignore[index]

    async def test_a_chat_line_in_an_audio_batch_fails_validation(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        chat = {"custom_id": "chat", "method": "POST", "url": "/v1/chat/completions", "body": {"model": MODEL}}
        async with open_harness("in-process", settings_for(tmp_path)) as harness:
            batch = await run(harness, [audio_line("ok"), chat])
        assert batch["status"] == "failed"
        assert [(e["code"], e["line"], e["param"]) for e in batch["errors"]["data"]] == [("url_mismatch", 2, "url")]  # type: ignore[index]
        assert harness.emulator.stats().batch_lines_run == 0

    async def test_audio_lines_do_not_touch_the_rate_limits(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """With one request a day for Whisper, a 3-line batch still runs, and the day's request is still there."""
        settings = settings_for(tmp_path, limits={WHISPER: (1, 1, 10_000, 100_000)})
        async with open_harness("in-process", settings) as harness:
            batch = await run(harness, [audio_line(f"line-{n}") for n in range(3)])
            assert batch["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
            first = await direct(harness.client, "transcriptions")
            second = await direct(harness.client, "transcriptions")
        assert (first.status_code, second.status_code) == (200, 429)


class TestTranslationBatches:
    async def test_translation_lines(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """Translations run on whisper-large-v3; turbo cannot translate and a language is refused, as at the endpoint."""
        async with open_harness("in-process", settings_for(tmp_path)) as harness:
            batch = await run(harness, [
                audio_line("ok", TRANSLATE),
                audio_line("verbose", TRANSLATE, response_format="verbose_json"),
                audio_line("turbo", TRANSLATE, model=TURBO),
                audio_line("language", TRANSLATE, language="fr"),
            ], endpoint=TRANSLATE)
            output = await lines_of(harness.client, batch["output_file_id"])
            errors = await lines_of(harness.client, batch["error_file_id"])
            expected = (await direct(harness.client, "translations")).json()
        assert batch["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
        assert output["ok"]["response"]["body"]["text"] == expected["text"]  # type: ignore[index]
        assert output["verbose"]["response"]["body"]["task"] == "translate"  # type: ignore[index]
        assert {key: errors[key]["response"]["body"]["error"]["param"] for key in errors} == {  # type: ignore[index]
            "turbo": "model",
            "language": "language",
        }

    async def test_the_sdk_creates_an_audio_batch(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """The official SDK sends the audio endpoint (its type says chat only; the API takes all three)."""
        async with open_harness("in-process", settings_for(tmp_path)) as harness:
            async with harness.sdk() as sdk:
                uploaded = await sdk.files.create(file=("a.jsonl", jsonl([audio_line("one", TRANSLATE)])), purpose="batch")
                created = await sdk.batches.create(
                    completion_window="24h", endpoint=TRANSLATE, input_file_id=uploaded.id or ""  # type: ignore[arg-type]
                )
                await trio.sleep(10.0)
                done = await sdk.batches.retrieve(created.id)
        assert (created.endpoint, done.status, done.request_counts.completed if done.request_counts else None) == (
            TRANSLATE, "completed", 1
        )


class TestEndpoints:
    async def test_an_endpoint_outside_the_three_is_a_400(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        async with open_harness("in-process", settings_for(tmp_path)) as harness:
            uploaded = await harness.client.post("/files", files={"file": ("a.jsonl", jsonl([audio_line("x")]))}, data={"purpose": "batch"})
            refused = await harness.client.post(
                "/batches", json={"input_file_id": uploaded.json()["id"], "endpoint": "/v1/audio/speech", "completion_window": "24h"}
            )
        error = refused.json()["error"]
        assert (refused.status_code, error["param"]) == (400, "endpoint")
        assert TRANSCRIBE in error["message"] and TRANSLATE in error["message"]
