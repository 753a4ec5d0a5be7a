"""``client.audio.speech``: text to speech through the client, against the in-process emulator."""

from __future__ import annotations

import io
import math
import wave
from pathlib import Path
from typing import Any

import pytest
import trio

import orchestrator
from orchestrator import ModelDecommissionedError, NotFoundError, StreamError, ValidationError
from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._speech import MAX_INPUT_CHARACTERS, SPEECH_MODELS, validate_speech
from tests.helpers import client_for, make_emulator

ENGLISH = "canopylabs/orpheus-v1-english"
ARABIC = "canopylabs/orpheus-arabic-saudi"
#: The emulator speaks 14 characters a second: each word's letters plus one for the space after it.
RATE = 14.0


def read_wav(data: bytes) -> tuple[wave._wave_params, bytes]:
    """The parameters and frames of a WAV file, parsed by the standard library."""
    with wave.open(io.BytesIO(data)) as audio:
        return audio.getparams(), audio.readframes(audio.getnframes())


def seconds(text: str, speed: float = 1.0) -> float:
    return sum(len(word) + 1 for word in text.split()) / RATE / speed


def loudest(frames: bytes) -> int:
    samples = memoryview(frames).cast("h")
    return max(abs(sample) for sample in samples)


async def speak(**overrides: Any) -> bytes:
    request: dict[str, Any] = {"model": ENGLISH, "voice": "troy", "input": "Hello there, how are you today?"}
    request.update(overrides)
    async with client_for(make_emulator()) as client:
        audio: bytes = await client.audio.speech.create(**request)
        return audio


class TestCreate:
    async def test_returns_a_playable_wav_as_long_as_the_text(self) -> None:
        """The answer parses as PCM 16-bit mono WAV at Orpheus's 24 kHz, its length following the text, and it is not silent."""
        text = "Hello there, how are you today?"
        params, frames = read_wav(await speak(input=text))
        assert (params.nchannels, params.sampwidth, params.framerate, params.comptype) == (1, 2, 24_000, "NONE")
        assert params.nframes / params.framerate == pytest.approx(seconds(text), abs=0.01)
        assert loudest(frames) > 5_000

    async def test_sample_rate_and_speed_are_sent(self) -> None:
        """``sample_rate`` sets the file's rate and ``speed`` 2.0 halves its length."""
        text = "Speed it up a little, please."
        params, _ = read_wav(await speak(input=text, sample_rate=8_000, speed=2.0))
        assert params.framerate == 8_000
        assert params.nframes / 8_000 == pytest.approx(seconds(text, 2.0), abs=0.01)

    async def test_same_request_same_audio_other_voice_other_audio(self) -> None:
        """The audio is deterministic per request, and the voice changes it (not its length)."""
        first, again, other = await speak(), await speak(), await speak(voice="hannah")
        assert first == again and first != other and len(first) == len(other)

    async def test_vocal_directions_take_no_time_in_english(self) -> None:
        """``[cheerful]`` is a direction on the English model, not words to speak."""
        plain, directed = await speak(input="Good morning everyone"), await speak(input="[cheerful] Good morning everyone")
        assert len(plain) == len(directed)

    async def test_the_arabic_model_and_its_voices(self) -> None:
        """The Arabic model speaks with its own voices."""
        params, frames = read_wav(await speak(model=ARABIC, voice="noura", input="مرحبا بكم في تطبيقنا"))
        assert params.nframes > 0 and loudest(frames) > 5_000

    async def test_an_input_of_exactly_the_limit_is_accepted(self) -> None:
        """200 characters is allowed; the refusal starts at 201."""
        params, _ = read_wav(await speak(input="a" * MAX_INPUT_CHARACTERS))
        assert params.nframes / params.framerate == pytest.approx(201 / RATE, abs=0.01)

    async def test_model_map_applies(self) -> None:
        """``Config.model_map`` rewrites the speech model like any other."""
        async with client_for(make_emulator(), model_map={"tts": ENGLISH}) as client:
            audio = await client.audio.speech.create(model="tts", voice="troy", input="Mapped")
        assert read_wav(audio)[0].nframes > 0


class TestBudget:
    async def test_characters_are_charged_as_the_models_tokens(self) -> None:
        """After one call the budget has learnt the TTS limits and counts the input's characters."""
        text = "x" * 150
        async with client_for(make_emulator()) as client:
            await client.audio.speech.create(model=ENGLISH, voice="troy", input=text)
            snapshot = client.rate_limits()[ENGLISH]
        assert (snapshot.limits.tpm, snapshot.remaining_tokens_minute) == (1_200, 1_200 - len(text))

    async def test_the_client_waits_for_budget_instead_of_hitting_429(self, autojump_clock: trio.abc.Clock) -> None:
        """Seven 200-character requests exceed Orpheus's 1,200 TPM (not its 10 RPM): the client spaces them, no 429."""
        emulator = make_emulator()
        started = trio.current_time()
        async with client_for(emulator) as client:
            async with trio.open_nursery() as nursery:
                for number in range(7):
                    nursery.start_soon(
                        lambda n=number: client.audio.speech.create(model=ENGLISH, voice="troy", input=f"{n:03d}" + "y" * 197)
                    )
        assert emulator.stats().rate_limited == 0
        # 7 x 200 = 1,400 characters at 1,200 a minute: the seventh waits for 200 to refill (10 s).
        assert trio.current_time() - started >= 5


class TestStreaming:
    async def test_stream_to_file_writes_the_same_audio_in_pieces(self, tmp_path: Path) -> None:
        """``stream_to_file`` writes what ``create`` returns, leaves no partial file, and says how many bytes."""
        request = {"model": ENGLISH, "voice": "austin", "input": "A longer sentence, so that the file comes in several pieces."}
        target = tmp_path / "out.wav"
        async with client_for(make_emulator()) as client:
            whole = await client.audio.speech.create(**request)
            written = await client.audio.speech.stream_to_file(target, **request)
        assert written == len(whole) and target.read_bytes() == whole
        assert not (tmp_path / "out.wav.partial").exists()

    async def test_stream_reads_chunk_by_chunk(self) -> None:
        """``stream()`` is a context manager whose body arrives in several chunks, with Groq's headers."""
        async with client_for(make_emulator()) as client:
            async with client.audio.speech.stream(model=ENGLISH, voice="diana", input="w " * 100) as audio:
                chunks = [chunk async for chunk in audio.aiter_bytes()]
                assert audio.content_type == "audio/wav"
                assert (audio.request_id or "").startswith("req_")
                assert audio.headers["x-ratelimit-limit-tokens"] == "1200"
        assert len(chunks) > 1 and read_wav(b"".join(chunks))[0].nframes > 0

    async def test_reading_outside_the_context_is_an_error(self) -> None:
        """A SpeechAudio is read inside ``async with``; it cannot be entered twice."""
        async with client_for(make_emulator()) as client:
            audio = client.audio.speech.stream(model=ENGLISH, voice="troy", input="Hi")
            with pytest.raises(RuntimeError, match="async with"):
                audio.headers  # noqa: B018
            async with audio:
                pass
            with pytest.raises(RuntimeError, match="already opened"):
                async with audio:
                    pass

    async def test_a_broken_download_raises_and_leaves_no_file(self, tmp_path: Path) -> None:
        """The connection dropping midway is a StreamError; neither the file nor its .partial is left."""
        target = tmp_path / "broken.wav"
        async with client_for(make_emulator(faults=["drop-mid-stream:chunks=1"])) as client:
            with pytest.raises(StreamError, match="broke off"):
                await client.audio.speech.stream_to_file(target, model=ENGLISH, voice="troy", input="z " * 100)
        assert list(tmp_path.iterdir()) == []


INVALID = [
    ({"model": "openai/gpt-oss-20b"}, "model", "speech_model"),
    ({"model": "whisper-large-v3"}, "model", "speech_model"),
    ({"model": ""}, "model", "not_empty"),
    ({"voice": "tara"}, "voice", "voice"),
    ({"voice": "fahad"}, "voice", "voice"),  # an Arabic voice on the English model
    ({"model": ARABIC, "voice": "troy"}, "voice", "voice"),
    ({"voice": ""}, "voice", "not_empty"),
    ({"input": ""}, "input", "not_empty"),
    ({"input": "   "}, "input", "not_empty"),
    ({"input": "a" * (MAX_INPUT_CHARACTERS + 1)}, "input", "max_characters"),
    ({"input": 42}, "input", "type"),
    ({"response_format": "mp3"}, "response_format", "response_format"),
    ({"response_format": "flac"}, "response_format", "response_format"),
    ({"sample_rate": 12_345}, "sample_rate", "sample_rate"),
    ({"sample_rate": True}, "sample_rate", "sample_rate"),
    ({"speed": 0}, "speed", "range"),
    ({"speed": -1.0}, "speed", "range"),
    ({"speed": math.nan}, "speed", "range"),
    ({"speed": math.inf}, "speed", "range"),
    ({"speed": "fast"}, "speed", "type"),
]


class TestValidation:
    @pytest.mark.parametrize(("change", "field", "rule"), INVALID)
    async def test_refused_before_sending(self, change: dict[str, Any], field: str, rule: str) -> None:
        """Each bad request raises a ValidationError naming the field, value and rule, and sends nothing."""
        request: dict[str, Any] = {"model": ENGLISH, "voice": "troy", "input": "Hello", **change}
        emulator = make_emulator()
        async with client_for(emulator) as client:
            before = emulator.stats().requests
            with pytest.raises(ValidationError) as info:
                await client.audio.speech.create(**request)
            assert emulator.stats().requests == before
        error = info.value
        assert (error.field, error.rule) == (field, rule)
        assert field in str(error) and (error.value == change.get(field) or error.value != error.value)  # NaN

    async def test_the_message_lists_what_would_do(self) -> None:
        """An unknown voice is answered with the model's voices."""
        with pytest.raises(ValidationError, match="autumn, diana, hannah, austin, daniel, troy"):
            await speak(voice="Fritz-PlayAI")

    async def test_stream_validates_at_once(self) -> None:
        """``stream()`` refuses a bad request when called, before any ``async with``."""
        async with client_for(make_emulator()) as client:
            with pytest.raises(ValidationError, match="voice"):
                client.audio.speech.stream(model=ENGLISH, voice="nobody", input="Hi")

    async def test_a_retired_model_is_refused(self) -> None:
        """A model Groq has shut down is refused as decommissioned, before sending."""
        with pytest.raises(ModelDecommissionedError):
            await speak(model="distil-whisper-large-v3-en")

    async def test_an_unknown_model_is_left_for_groq_to_judge(self) -> None:
        """A model with no facts here is sent as is; the emulator (like Groq) answers 404."""
        with pytest.raises(NotFoundError):
            await speak(model="playai-tts", voice="Fritz-PlayAI")

    def test_every_speech_model_is_in_the_catalog_as_speech(self) -> None:
        """The speech table and the catalog agree on which models speak."""
        assert {info.id for info in DEFAULT_CATALOG if info.speech} == set(SPEECH_MODELS)
        for facts in SPEECH_MODELS.values():
            assert facts.default_voice in facts.voices and facts.formats == ("wav",)
            validate_speech(model=facts.id, input="Hi", voice=facts.default_voice, response_format="wav",
                            speed=None, sample_rate=None, catalog=DEFAULT_CATALOG)

    def test_the_speech_names_are_exported(self) -> None:
        """SpeechAudio, SpeechModel and SPEECH_MODELS are public."""
        from orchestrator import _speech

        for name in ("SpeechAudio", "SpeechModel", "SPEECH_MODELS"):
            assert getattr(orchestrator, name) is getattr(_speech, name)
