"""Audio endpoints through the server: the official SDK in every response format, limits and faults around them."""

from __future__ import annotations


import groq
import pytest
import trio

from orchestrator.emulator import EmulatorSettings
from tests.emulator.conftest import Harness, open_harness
from tests.helpers import silent_wav


@pytest.mark.parametrize("response_format", ["json", "text", "verbose_json", "srt", "vtt"])
async def test_sdk_transcribes_in_every_format(harness: Harness, response_format: str) -> None:
    """The SDK parses each response format: objects for json/verbose_json, text for text/srt/vtt."""
    extra = {"timestamp_granularities": ["word", "segment"]} if response_format == "verbose_json" else {}
    async with harness.sdk() as sdk:
        result = await sdk.audio.transcriptions.create(
            file=("speech.wav", silent_wav(3.0, width=1)), model="whisper-large-v3-turbo", response_format=response_format, **extra
        )
    if response_format == "json":
        assert result.text and result.x_groq["id"].startswith("req_")
    elif response_format == "verbose_json":
        assert result.duration == 3.0 and result.segments and result.words
    elif response_format == "srt":
        assert result.startswith("1\n00:00:")
    elif response_format == "vtt":
        assert result.startswith("WEBVTT\n")
    else:
        assert isinstance(result, str) and result.strip()


async def test_sdk_translation_and_its_model_rule(harness: Harness) -> None:
    """Translations work on whisper-large-v3 and are a 400 on the turbo model."""
    async with harness.sdk() as sdk:
        translated = await sdk.audio.translations.create(file=("speech.wav", silent_wav(1.0, width=1)), model="whisper-large-v3")
        with pytest.raises(groq.BadRequestError):
            await sdk.audio.translations.create(file=("speech.wav", silent_wav(1.0, width=1)), model="whisper-large-v3-turbo")
    assert translated.text


async def test_audio_carries_request_limit_headers(harness: Harness) -> None:
    """An audio answer carries the request headers (no token headers: whisper is limited by audio seconds)."""
    response = await harness.client.post(
        "/audio/transcriptions", files={"file": ("a.wav", silent_wav(1.0, width=1))}, data={"model": "whisper-large-v3"}
    )
    assert response.headers["x-ratelimit-limit-requests"] == "2000"
    assert response.headers["x-ratelimit-remaining-requests"] == "1999"
    assert "x-ratelimit-limit-tokens" not in response.headers


async def test_unknown_audio_model_is_404(harness: Harness) -> None:
    """An unknown audio model is 404 model_not_found (the SDK's NotFoundError)."""
    async with harness.sdk() as sdk:
        with pytest.raises(groq.NotFoundError):
            await sdk.audio.transcriptions.create(file=("a.wav", silent_wav(1.0, width=1)), model="whisper-tiny")


async def test_audio_seconds_per_hour_limit(autojump_clock: trio.testing.MockClock) -> None:
    """Two 4,000 s files exceed whisper's 7,200 audio seconds per hour: the second gets a 429 naming ASH."""
    long_file = silent_wav(4_000.0, rate=8, width=1)
    async with open_harness("in-process") as harness:
        first = await harness.client.post(
            "/audio/transcriptions", files={"file": ("a.wav", long_file)}, data={"model": "whisper-large-v3"}
        )
        second = await harness.client.post(
            "/audio/transcriptions", files={"file": ("a.wav", long_file)}, data={"model": "whisper-large-v3"}
        )
    assert (first.status_code, second.status_code) == (200, 429)
    error = second.json()["error"]
    assert error["type"] == "audio_seconds" and "audio seconds per hour (ASH): Limit 7200, Used 4000, Requested 4000" in error["message"]


async def test_status_fault_on_audio(transport_kind: str) -> None:
    """A 503 fault limited to a whisper model hits audio requests; the SDK raises InternalServerError."""
    settings = EmulatorSettings(faults=["503:model=whisper-large-v3"])
    async with open_harness(transport_kind, settings) as harness:
        async with harness.sdk() as sdk:
            with pytest.raises(groq.InternalServerError):
                await sdk.audio.transcriptions.create(file=("a.wav", silent_wav(1.0, width=1)), model="whisper-large-v3")
        assert harness.emulator.stats().faults_injected == {"503": 1}
