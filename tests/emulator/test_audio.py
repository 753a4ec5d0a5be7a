"""Tests for the emulated audio endpoints, called directly (no server) with httpx- and SDK-built uploads."""

from __future__ import annotations

import base64
import json
import random
import re
from typing import Any

import groq
import httpx
import pytest
import trio

from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._wire import decode_error_body, decode_transcription, decode_verbose_transcription
from orchestrator.emulator._audio import (
    MAX_BODY_BYTES,
    AudioError,
    AudioResult,
    handle_audio,
    parse_audio_request,
)
from tests.emulator.test_audio_formats import make_flac, make_mp3
from tests.helpers import silent_wav

WAV = silent_wav(7.3)
FORMATS = ["json", "text", "verbose_json", "srt", "vtt"]


class ForceMultipart(dict):  # type: ignore[type-arg]
    """A truthy empty ``files`` so httpx sends multipart without a file (as the groq SDK does for ``url``)."""

    def __bool__(self) -> bool:
        return True


def form(fields: dict[str, Any] | None = None, files: Any = None) -> tuple[str, bytes]:
    """Content-Type and body of a multipart form as httpx builds it."""
    request = httpx.Request("POST", "http://emulator.test/", data=fields, files=files or ForceMultipart())
    return request.headers["content-type"], request.read()


async def call(
    kind: str = "transcriptions",
    fields: dict[str, Any] | None = None,
    files: Any = None,
    *,
    rng: random.Random | None = None,
) -> AudioResult:
    """handle_audio on a form; by default whisper-large-v3 with the 7.3 s WAV."""
    fields = {"model": "whisper-large-v3", **(fields or {})}
    if files is None and "url" not in fields:
        files = {"file": ("speech.wav", WAV, "audio/wav")}
    content_type, body = form(fields, files)
    return await handle_audio(
        kind, content_type, body, catalog=DEFAULT_CATALOG, rng=rng or random.Random(0), request_id="req_test"
    )


def error_of(result: AudioResult) -> tuple[int, str | None, str | None, str]:
    """(status, code, param, message) of an error result, after checking it is Groq's JSON error body."""
    assert result.headers == [("content-type", "application/json")] and result.audio_seconds == 0
    detail = decode_error_body(result.body).error
    assert detail.type == "invalid_request_error"
    return result.status, detail.code, detail.param, detail.message


class TestResponseFormats:
    @pytest.mark.parametrize("kind", ["transcriptions", "translations"])
    async def test_json(self, kind: str) -> None:
        """json is ``{"text", "x_groq": {"id"}}`` with the request id."""
        result = await call(kind, {"response_format": "json"})
        body = decode_transcription(result.body)
        assert (result.status, result.headers) == (200, [("content-type", "application/json")])
        assert body.text.startswith(" ") and len(body.text.split()) >= 10 and body.x_groq is not None
        assert body.x_groq.id == "req_test" and set(json.loads(result.body)) == {"text", "x_groq"}

    @pytest.mark.parametrize("kind", ["transcriptions", "translations"])
    async def test_default_format_is_json(self, kind: str) -> None:
        """Without response_format the answer is the json format."""
        assert (await call(kind)).body == (await call(kind, {"response_format": "json"})).body

    @pytest.mark.parametrize("kind", ["transcriptions", "translations"])
    async def test_text(self, kind: str) -> None:
        """text is the same transcript as json, as text/plain."""
        result = await call(kind, {"response_format": "text"})
        assert result.headers == [("content-type", "text/plain; charset=utf-8")]
        assert result.body.decode() == decode_transcription((await call(kind)).body).text

    @pytest.mark.parametrize(("kind", "task"), [("transcriptions", "transcribe"), ("translations", "translate")])
    async def test_verbose_json_defaults_to_segments(self, kind: str, task: str) -> None:
        """verbose_json carries task, language, the WAV's duration, text and timed segments but no words."""
        result = await call(kind, {"response_format": "verbose_json"})
        body = decode_verbose_transcription(result.body)
        assert (body.task, body.language, body.duration, body.words) == (task, "english", 7.3, None)
        assert body.segments and body.text == "".join(s.text for s in body.segments)
        assert body.x_groq is not None and body.x_groq.id == "req_test"
        previous_end = 0.0
        for index, segment in enumerate(body.segments):
            assert segment.id == index and previous_end <= segment.start <= segment.end <= 7.3
            assert segment.seek == int(segment.start // 30) * 3000 and segment.tokens and segment.temperature == 0.0
            assert -1 < segment.avg_logprob < 0 and segment.compression_ratio > 1 and 0 <= segment.no_speech_prob < 0.05
            previous_end = segment.end

    async def test_verbose_json_words_only(self) -> None:
        """Word granularity alone gives words (no segments), each within the audio, in order."""
        body = decode_verbose_transcription(
            (await call(fields={"response_format": "verbose_json", "timestamp_granularities[]": "word"})).body
        )
        assert body.segments is None and body.words
        starts = [w.start for w in body.words]
        assert starts == sorted(starts) and all(0 <= w.start <= w.end <= 7.3 for w in body.words)
        assert [w.word for w in body.words] == re.findall(r"[a-z]+", body.text.lower())

    async def test_verbose_json_words_and_segments(self) -> None:
        """Both granularities give words and segments, and every word lies inside a segment."""
        body = decode_verbose_transcription(
            (await call(fields={"response_format": "verbose_json", "timestamp_granularities[]": ["word", "segment"]})).body
        )
        assert body.words and body.segments
        for word in body.words:
            assert any(s.start <= word.start <= word.end <= s.end for s in body.segments)

    async def test_language_name_is_reported(self) -> None:
        """A transcription's language code is reported by its Whisper name."""
        body = decode_verbose_transcription((await call(fields={"response_format": "verbose_json", "language": "de"})).body)
        assert body.language == "german"

    @pytest.mark.parametrize("kind", ["transcriptions", "translations"])
    async def test_srt(self, kind: str) -> None:
        """srt has one numbered cue per verbose_json segment with that segment's times."""
        result = await call(kind, {"response_format": "srt"})
        segments = decode_verbose_transcription((await call(kind, {"response_format": "verbose_json"})).body).segments
        assert result.headers == [("content-type", "text/plain; charset=utf-8")] and segments
        cues = result.body.decode().split("\n\n")
        assert len(cues) == len(segments)
        first = cues[0].split("\n")
        start, end = segments[0].start, segments[0].end
        assert first[0] == "1" and first[1] == f"00:00:{int(start):02d},{round(start * 1000) % 1000:03d} --> " \
            f"00:00:{int(end):02d},{round(end * 1000) % 1000:03d}" and first[2] == segments[0].text.strip()

    @pytest.mark.parametrize("kind", ["transcriptions", "translations"])
    async def test_vtt(self, kind: str) -> None:
        """vtt starts with WEBVTT and has a dot-millisecond cue per segment."""
        result = await call(kind, {"response_format": "vtt"})
        text = result.body.decode()
        assert result.headers == [("content-type", "text/vtt; charset=utf-8")] and text.startswith("WEBVTT\n\n")
        segments = decode_verbose_transcription((await call(kind, {"response_format": "verbose_json"})).body).segments
        assert segments and len(re.findall(r"\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}", text)) == len(segments)


class TestDeterminismAndBilling:
    async def test_same_audio_same_transcript(self) -> None:
        """The transcript depends on the audio, not on the request's rng, at temperature 0."""
        assert (await call(rng=random.Random(1))).body == (await call(rng=random.Random(2))).body

    async def test_different_audio_different_transcript(self) -> None:
        """Two different files give different transcripts."""
        other = {"file": ("b.wav", silent_wav(7.3, rate=8000), "audio/wav")}
        assert (await call()).body != (await call(files=other)).body

    async def test_positive_temperature_samples(self) -> None:
        """With temperature > 0 the rng is mixed in, so calls vary like sampling does."""
        results = {(await call(fields={"temperature": "0.7"}, rng=random.Random(seed))).body for seed in range(3)}
        assert len(results) == 3

    async def test_short_audio_bills_ten_seconds(self) -> None:
        """Groq bills at least 10 s: a 7.3 s file is charged 10."""
        result = await call()
        assert (result.audio_seconds, result.model) == (10.0, "whisper-large-v3")

    async def test_long_audio_bills_its_duration(self) -> None:
        """A 75 s file is charged 75 s and reports duration 75."""
        files = {"file": ("long.wav", silent_wav(75, rate=8000, width=1), "audio/wav")}
        result = await call(fields={"response_format": "verbose_json"}, files=files)
        assert result.audio_seconds == 75.0 and decode_verbose_transcription(result.body).duration == 75.0

    async def test_header_duration_for_flac(self) -> None:
        """FLAC STREAMINFO sets the duration even though the file is tiny."""
        files = {"file": ("x.flac", make_flac(44_100 * 42), "audio/flac")}
        result = await call(fields={"response_format": "verbose_json"}, files=files)
        assert decode_verbose_transcription(result.body).duration == 42.0 and result.audio_seconds == 42.0

    async def test_size_estimate_when_headers_say_nothing(self) -> None:
        """A file whose bytes give no duration is timed at 16 kB/s."""
        files = {"file": ("raw.mp3", b"\x00" * 320_000, "audio/mpeg")}
        result = await call(fields={"response_format": "verbose_json"}, files=files)
        assert decode_verbose_transcription(result.body).duration == 20.0

    async def test_remote_url_duration_is_stable(self) -> None:
        """A remote url gets a duration between 30 and 600 s derived from the URL, the same every time."""
        fields = {"url": "https://cdn.example.com/talk.m4a", "response_format": "verbose_json"}
        first, second = await call(fields=fields), await call(fields=fields)
        duration = decode_verbose_transcription(first.body).duration
        assert first.body == second.body and duration is not None and 30 <= duration <= 600
        assert first.audio_seconds == duration

    async def test_data_url_is_decoded(self) -> None:
        """A base64 data: URL is decoded and timed like an upload."""
        url = "data:audio/wav;base64," + base64.b64encode(silent_wav(12.5)).decode()
        result = await call(fields={"url": url, "response_format": "verbose_json"})
        assert decode_verbose_transcription(result.body).duration == 12.5

    async def test_transcript_is_bounded_for_huge_durations(self) -> None:
        """A header claiming days of audio still yields a bounded number of words."""
        files = {"file": ("x.flac", make_flac(44_100 * 86_400 * 3), "audio/flac")}
        body = decode_verbose_transcription(
            (await call(fields={"response_format": "verbose_json", "timestamp_granularities[]": "word"}, files=files)).body
        )
        assert body.words is not None and len(body.words) <= 5_000 and body.duration == 86_400 * 3


class TestFormatsAccepted:
    @pytest.mark.parametrize("extension", ["flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"])
    async def test_every_supported_extension(self, extension: str) -> None:
        """Each spec format is accepted by its extension, whatever the bytes."""
        result = await call(files={"file": (f"clip.{extension.upper()}", b"\x01" * 4000, "application/octet-stream")})
        assert result.status == 200

    async def test_content_sniffed_without_extension(self) -> None:
        """Raw bytes uploaded without a usable name (httpx calls them 'upload') are recognised by content."""
        assert (await call(files={"file": make_mp3(20)})).status == 200

    async def test_wrong_extension_but_audio_bytes(self) -> None:
        """A WAV named .txt is accepted because its bytes are audio."""
        assert (await call(files={"file": ("notes.txt", WAV, "text/plain")})).status == 200


class TestErrors:
    @pytest.mark.parametrize(
        ("kind", "fields", "files", "expected"),
        [
            ("transcriptions", {}, ForceMultipart(), (400, None, "file", "either file or url")),
            ("transcriptions", {"url": "https://x.test/a.wav"}, {"file": ("a.wav", WAV)}, (400, None, "url", "not both")),
            ("transcriptions", {"file": "not a file part"}, ForceMultipart(), (400, None, "file", "file part")),
            ("transcriptions", {}, {"file": ("a.wav", b"")}, (400, None, "file", "file is empty")),
            ("transcriptions", {}, {"file": ("a.txt", b"hello, world")}, (400, None, "file", "must be one of the following types")),
            ("transcriptions", {}, {"file": ("a.wav", silent_wav(0.0))}, (400, None, "file", "too short")),
            ("transcriptions", {"response_format": "verbose_json", "timestamp_granularities[]": "word"}, None, (200, None, None, "")),
            ("transcriptions", {"timestamp_granularities[]": "word"}, None, (400, None, "timestamp_granularities[]", "verbose_json")),
            ("transcriptions", {"response_format": "srt", "timestamp_granularities[]": "segment"}, None,
             (400, None, "timestamp_granularities[]", "verbose_json")),
            ("transcriptions", {"response_format": "verbose_json", "timestamp_granularities[]": "sentence"}, None,
             (400, None, "timestamp_granularities[]", "word or segment")),
            ("transcriptions", {"response_format": "xml"}, None, (400, None, "response_format", "must be one of")),
            ("transcriptions", {"temperature": "1.5"}, None, (400, None, "temperature", "between 0 and 1")),
            ("transcriptions", {"temperature": "warm"}, None, (400, None, "temperature", "between 0 and 1")),
            ("transcriptions", {"temperature": "nan"}, None, (400, None, "temperature", "between 0 and 1")),
            ("transcriptions", {"language": "english"}, None, (400, None, "language", "ISO-639-1")),
            ("translations", {"model": "whisper-large-v3-turbo"}, None, (400, None, "model", "does not support translations")),
            ("translations", {"language": "fr"}, None, (400, None, "language", "not supported for translations")),
            ("translations", {"response_format": "verbose_json", "timestamp_granularities[]": "word"}, None,
             (400, None, "timestamp_granularities[]", "not supported for translations")),
            ("transcriptions", {"model": ""}, None, (400, None, "model", "model is required")),
            ("transcriptions", {"model": "whisper-tiny"}, None, (404, "model_not_found", None, "`whisper-tiny` does not exist")),
            ("transcriptions", {"model": "openai/gpt-oss-20b"}, None, (400, None, "model", "does not support audio")),
            ("transcriptions", {"url": "ftp://x.test/a.wav"}, ForceMultipart(), (400, None, "url", "http(s) URL")),
            ("transcriptions", {"url": "https://x.test/readme.txt"}, ForceMultipart(), (400, None, "url", "following types")),
            ("transcriptions", {"url": "data:audio/wav,plain"}, ForceMultipart(), (400, None, "url", "base64")),
            ("transcriptions", {"url": "data:audio/wav;base64,@@@@"}, ForceMultipart(), (400, None, "url", "valid base64")),
            ("transcriptions", {"url": "data:audio/wav;base64,"}, ForceMultipart(), (400, None, "url", "holds no audio")),
            ("transcriptions", {"url": "data:;base64,aGVsbG8gd29ybGQ="}, ForceMultipart(), (400, None, "url", "following types")),
        ],
    )
    async def test_refusals(self, kind: str, fields: dict[str, Any], files: Any, expected: tuple[int, Any, Any, str]) -> None:
        """Each bad request gets Groq's error body with the right status, code, param and a telling message."""
        result = await call(kind, fields, files)
        if expected[0] == 200:
            assert result.status == 200
            return
        status, code, param, message = error_of(result)
        assert (status, code, param) == expected[:3] and expected[3] in message

    async def test_file_over_25_mb_is_413(self) -> None:
        """A file one byte over 25 MB is refused with 413 request_too_large, pointing at ``url``."""
        files = {"file": ("big.wav", b"\x00" * (25 * 1024 * 1024 + 1), "audio/wav")}
        status, code, _param, message = error_of(await call(files=files))
        assert (status, code) == (413, "request_too_large") and "url" in message

    async def test_body_over_limit_is_413_before_parsing(self) -> None:
        """A body larger than MAX_BODY_BYTES is refused without being parsed."""
        result = await handle_audio(
            "transcriptions", "multipart/form-data; boundary=x", b"\x00" * (MAX_BODY_BYTES + 1),
            catalog=DEFAULT_CATALOG, rng=random.Random(0), request_id="req_test",
        )
        assert error_of(result)[:2] == (413, "request_too_large") and result.model is None

    @pytest.mark.parametrize(
        ("content_type", "body", "fragment"),
        [
            ("application/json", b'{"model": "whisper-large-v3"}', "must be multipart/form-data"),
            ("multipart/form-data; boundary=abc", b"--abc\r\nno headers end", "headers are not ended"),
        ],
    )
    async def test_malformed_uploads_are_400(self, content_type: str, body: bytes, fragment: str) -> None:
        """Non-multipart and malformed bodies are 400s naming the problem, never crashes."""
        result = await handle_audio(
            "transcriptions", content_type, body, catalog=DEFAULT_CATALOG, rng=random.Random(0), request_id="req_test"
        )
        status, _code, _param, message = error_of(result)
        assert status == 400 and fragment in message

    async def test_errors_after_the_model_name_it(self) -> None:
        """Errors found after the model was read carry it, so the server can add that model's limit headers."""
        assert (await call(fields={"response_format": "xml"})).model == "whisper-large-v3"

    def test_parse_rejects_unknown_kind(self) -> None:
        """A kind other than transcriptions/translations is a programming error (ValueError), not a 400."""
        content_type, body = form({"model": "whisper-large-v3"}, {"file": ("a.wav", WAV)})
        with pytest.raises(ValueError, match="kind must be one of"):
            parse_audio_request("speech", content_type, body, catalog=DEFAULT_CATALOG)

    def test_parse_returns_billing_facts(self) -> None:
        """parse_audio_request alone exposes model, duration and billed seconds before any rendering."""
        content_type, body = form({"model": "whisper-large-v3-turbo", "language": "haw"}, {"file": ("a.wav", silent_wav(11.5))})
        request = parse_audio_request("transcriptions", content_type, body, catalog=DEFAULT_CATALOG)
        assert (request.model, request.duration, request.duration_exact, request.billed_seconds) == (
            "whisper-large-v3-turbo", 11.5, True, 11.5,
        )

    def test_audio_error_result_is_groq_shaped(self) -> None:
        """AudioError.result renders ``{"error": {...}}`` with its status, code and param."""
        result = AudioError(404, "nope", code="model_not_found").result()
        assert (result.status, json.loads(result.body)) == (
            404, {"error": {"message": "nope", "type": "invalid_request_error", "code": "model_not_found"}},
        )


class TestOfficialSdk:
    """The groq SDK builds the upload and parses the answer; handle_audio sits behind an httpx MockTransport."""

    @staticmethod
    def client() -> groq.Groq:
        def handler(request: httpx.Request) -> httpx.Response:
            kind = request.url.path.rsplit("/", 1)[-1]
            body = request.read()

            async def run() -> AudioResult:
                return await handle_audio(
                    kind, request.headers["content-type"], body, catalog=DEFAULT_CATALOG,
                    rng=random.Random(0), request_id="req_sdk",
                )

            result = trio.run(run)
            return httpx.Response(result.status, headers=result.headers, content=result.body)

        return groq.Groq(
            api_key="gsk_test", base_url="http://emulator.test", max_retries=0,
            http_client=httpx.Client(transport=httpx.MockTransport(handler)),
        )

    def test_transcription_json(self) -> None:
        """The SDK's Transcription model parses the json answer."""
        result = self.client().audio.transcriptions.create(file=("a.wav", WAV), model="whisper-large-v3-turbo")
        assert result.text.strip() and result.x_groq == {"id": "req_sdk"}  # type: ignore[attr-defined]

    def test_transcription_verbose_json_with_words(self) -> None:
        """verbose_json with word timestamps arrives through the SDK with segments and words."""
        result = self.client().audio.transcriptions.create(
            file=("a.wav", WAV), model="whisper-large-v3", response_format="verbose_json",
            timestamp_granularities=["word", "segment"], language="en",
        )
        extra: Any = result
        assert extra.duration == 7.3 and extra.segments and extra.words and extra.language == "english"

    def test_translation_text(self) -> None:
        """A text-format translation comes back from the SDK as a plain string."""
        result = self.client().audio.translations.create(file=("a.mp3", make_mp3(50)), model="whisper-large-v3",
                                                         response_format="text")
        assert isinstance(result, str) and result.strip()

    def test_translation_on_turbo_raises_bad_request(self) -> None:
        """Translating with the turbo model raises the SDK's BadRequestError (400)."""
        with pytest.raises(groq.BadRequestError, match="does not support translations"):
            self.client().audio.translations.create(file=("a.wav", WAV), model="whisper-large-v3-turbo")

    def test_unknown_model_raises_not_found(self) -> None:
        """An unknown model raises the SDK's NotFoundError (404)."""
        with pytest.raises(groq.NotFoundError):
            self.client().audio.transcriptions.create(file=("a.wav", WAV), model="whisper-small")

    def test_oversized_file_raises_413(self) -> None:
        """A file over 25 MB raises the SDK's APIStatusError with status 413."""
        with pytest.raises(groq.APIStatusError) as caught:
            self.client().audio.transcriptions.create(file=("a.wav", b"\x00" * (25 * 1024 * 1024 + 10)), model="whisper-large-v3")
        assert caught.value.status_code == 413
