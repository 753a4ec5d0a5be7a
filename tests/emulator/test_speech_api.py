"""``POST /openai/v1/audio/speech`` on the emulator: the official SDK, Groq's errors, limits and faults."""

from __future__ import annotations

import io
import json
import wave
from typing import Any

import groq
import httpx
import pytest

from orchestrator.emulator import EmulatorSettings
from orchestrator.emulator._speech import SpeechRequest, render_speech, spoken_seconds
from tests.emulator.conftest import Harness, open_harness

ENGLISH = "canopylabs/orpheus-v1-english"
ARABIC = "canopylabs/orpheus-arabic-saudi"


def duration(data: bytes) -> tuple[int, float]:
    """(sample rate, seconds) of a WAV, checking it is PCM 16-bit mono."""
    with wave.open(io.BytesIO(data)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getcomptype()) == (1, 2, "NONE")
        return audio.getframerate(), audio.getnframes() / audio.getframerate()


def body(**fields: Any) -> dict[str, Any]:
    return {"model": ENGLISH, "voice": "troy", "input": "Hello there", **fields}


class TestOfficialSdk:
    async def test_create_gives_a_wav_of_the_texts_length(self, harness: Harness) -> None:
        """``audio.speech.create(...).read()`` is a WAV at 24 kHz lasting the text (14 characters a second)."""
        async with harness.sdk() as sdk:
            response = await sdk.audio.speech.create(
                model=ENGLISH, voice="troy", input="Welcome to Orpheus text to speech.", response_format="wav"
            )
            data = await response.read()
        assert response.headers["content-type"] == "audio/wav"
        rate, seconds = duration(data)
        # Welcome(7) to(2) Orpheus(7) text(4) to(2) speech.(7): 29 letters + 6 spaces = 35 characters.
        assert (rate, seconds) == (24_000, pytest.approx(35 / 14, abs=0.001))

    async def test_every_sample_rate_and_a_speed(self, harness: Harness) -> None:
        """Each sample rate the SDK names gives a file at that rate; speed 0.5 doubles the length."""
        async with harness.sdk() as sdk:
            for rate in (8000, 16000, 22050, 24000, 32000, 44100, 48000):
                response = await sdk.audio.speech.create(
                    model=ARABIC, voice="aisha", input="مرحبا", sample_rate=rate, speed=0.5  # type: ignore[arg-type]
                )
                got_rate, seconds = duration(await response.read())
                assert (got_rate, seconds) == (rate, pytest.approx(6 / 14 / 0.5, abs=2 / rate))

    async def test_streaming_response(self, harness: Harness) -> None:
        """``with_streaming_response`` reads the audio in several pieces that join into the same file."""
        async with harness.sdk() as sdk:
            async with sdk.audio.speech.with_streaming_response.create(
                model=ENGLISH, voice="hannah", input="w " * 100
            ) as response:
                pieces = [piece async for piece in response.iter_bytes()]
        assert len(pieces) > 1
        assert duration(b"".join(pieces))[1] == pytest.approx(200 / 14, abs=0.01)

    @pytest.mark.parametrize(
        ("fields", "error", "param", "message"),
        [
            ({"response_format": "mp3"}, groq.BadRequestError, "response_format", "response_format must be one of [wav]"),
            ({"voice": "Fritz-PlayAI"}, groq.BadRequestError, "voice",
             "voice must be one of [autumn diana hannah austin daniel troy]"),
            ({"input": "a" * 201}, groq.BadRequestError, "input", "at most 200 characters"),
            ({"model": "openai/gpt-oss-20b"}, groq.BadRequestError, "model", "does not support text-to-speech"),
            ({"model": "playai-tts", "voice": "Fritz-PlayAI"}, groq.NotFoundError, None, "does not exist"),
        ],
    )
    async def test_errors(
        self, harness: Harness, fields: dict[str, Any], error: type[groq.APIStatusError], param: str | None, message: str
    ) -> None:
        """Groq's refusals reach the SDK as its own exceptions, naming the parameter."""
        async with harness.sdk() as sdk:
            with pytest.raises(error) as info:
                await sdk.audio.speech.create(**body(**fields))
        detail = info.value.body["error"]  # type: ignore[index]
        assert message in detail["message"] and detail.get("param") == param

    async def test_a_bad_key_is_401(self, harness: Harness) -> None:
        """A wrong key is the SDK's AuthenticationError."""
        async with harness.sdk(api_key="sk-not-groq") as sdk:
            with pytest.raises(groq.AuthenticationError):
                await sdk.audio.speech.create(**body())


class TestWire:
    async def test_rate_limit_headers_count_characters(self, harness: Harness) -> None:
        """A speech answer carries Groq's headers: RPD 100, TPM 1,200, less the input's characters."""
        response = await harness.client.post("/audio/speech", json=body(input="x" * 150))
        assert response.status_code == 200
        headers = response.headers
        assert (headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]) == ("100", "99")
        assert (headers["x-ratelimit-limit-tokens"], headers["x-ratelimit-remaining-tokens"]) == ("1200", "1050")
        assert headers["content-length"] == str(len(response.content))
        assert headers["x-request-id"].startswith("req_")

    async def test_a_refusal_on_a_known_model_carries_its_headers(self, harness: Harness) -> None:
        """A 400 for a speech model carries that model's limit headers and charges nothing."""
        response = await harness.client.post("/audio/speech", json=body(voice="nobody"))
        assert response.status_code == 400 and response.headers["x-ratelimit-remaining-tokens"] == "1200"

    @pytest.mark.parametrize(
        ("payload", "status", "param"),
        [
            (b"{not json", 400, None),
            (b"[1, 2]", 400, None),
            (json.dumps(body(instructions="calm")).encode(), 400, "instructions"),
            (json.dumps({"voice": "troy", "input": "Hi"}).encode(), 400, "model"),
            (json.dumps(body(model="distil-whisper-large-v3-en")).encode(), 400, None),
            (json.dumps(body(input=None)).encode(), 400, "input"),
            (json.dumps(body(input="")).encode(), 400, "input"),
            (json.dumps(body(voice=None)).encode(), 400, "voice"),
            (json.dumps(body(sample_rate=12345)).encode(), 400, "sample_rate"),
            (json.dumps(body(sample_rate="24000")).encode(), 400, "sample_rate"),
            (json.dumps(body(speed=0)).encode(), 400, "speed"),
            (json.dumps(body(speed=10)).encode(), 400, "speed"),
            (json.dumps(body(speed=True)).encode(), 400, "speed"),
            (json.dumps(body(model="whisper-large-v3")).encode(), 400, "model"),
        ],
    )
    async def test_bad_requests(self, harness: Harness, payload: bytes, status: int, param: str | None) -> None:
        """Each malformed request gets Groq's error envelope with the right status and param."""
        response = await harness.client.post(
            "/audio/speech", content=payload, headers={"content-type": "application/json"}
        )
        error = response.json()["error"]
        assert (response.status_code, error.get("param"), error["type"]) == (status, param, "invalid_request_error")

    async def test_a_retired_model_is_decommissioned(self, harness: Harness) -> None:
        """A model Groq has shut down gets the 400 model_decommissioned, like chat."""
        response = await harness.client.post("/audio/speech", json=body(model="distil-whisper-large-v3-en"))
        assert (response.status_code, response.json()["error"]["code"]) == (400, "model_decommissioned")

    async def test_get_is_405(self, harness: Harness) -> None:
        """The route takes POST only."""
        response = await harness.client.get("/audio/speech")
        assert response.status_code == 405


class TestLimits:
    async def test_tpm_counts_characters_then_429(self) -> None:
        """Six 200-character requests fill the 1,200 TPM; the seventh is a 429 naming TPM, with retry-after."""
        async with open_harness("in-process", EmulatorSettings(seed=1)) as harness:
            for _ in range(6):
                assert (await harness.client.post("/audio/speech", json=body(input="y" * 200))).status_code == 200
            refused = await harness.client.post("/audio/speech", json=body(input="y" * 200))
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert "tokens per minute (TPM)" in refused.json()["error"]["message"]

    @pytest.mark.parametrize("kind", ["in-process", "hypercorn"])
    async def test_a_fault_cuts_the_audio(self, kind: str) -> None:
        """A drop-mid-stream fault sends the first piece of the audio, then closes the connection."""
        settings = EmulatorSettings(seed=1, faults=["drop-mid-stream:chunks=1"])
        async with open_harness(kind, settings) as harness:
            with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
                await harness.client.post("/audio/speech", json=body(input="z " * 100))
            assert harness.emulator.stats().faults_injected == {"drop-mid-stream": 1}


def test_render_is_deterministic_and_follows_speed() -> None:
    """The renderer alone: same request, same bytes; the length is ``spoken_seconds``; the voice sets the pitch."""
    request = SpeechRequest(ENGLISH, "[whisper] one two three", "troy", "wav", 16_000, 1.25)
    audio = render_speech(request)
    assert audio == render_speech(request) and audio != render_speech(request._replace(voice="daniel"))
    assert spoken_seconds(request) == pytest.approx((4 + 4 + 6) / 14 / 1.25)
    assert duration(audio)[1] == pytest.approx(spoken_seconds(request), abs=3 / 16_000)
