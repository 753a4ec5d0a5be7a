"""Groq's ``POST /openai/v1/audio/speech`` (text to speech), emulated.

Why the emulator has it: the client's speech path (JSON request, binary answer read whole or in chunks,
per-model limits counted in characters) and the official ``groq`` SDK's ``audio.speech.create`` must be
testable without a key and without a speech model. The answer is a real, playable file: a RIFF/WAVE,
PCM 16-bit mono, at the requested ``sample_rate`` (24000 by default, as Orpheus answers), whose length
follows the text and whose content is deterministic and audible: one tone per word, its pitch drawn from a
hash of the voice and the word, each word lasting its characters plus one (the space) at
:data:`CHARACTERS_PER_SECOND` characters a second, divided by ``speed``. Orpheus's bracketed vocal directions
(``[cheerful]``) are not spoken, so they take no time on the English model. The same request always gives
the same bytes.

Theory of operation
-------------------
Two steps, so the server can rate-limit between them (as :mod:`._audio` does):

1. :func:`parse_speech_request` checks the JSON body the way Groq does and returns a :class:`SpeechRequest`
   or raises :class:`SpeechError` carrying the status and Groq's error fields;
2. :func:`render_speech` makes the WAV file; :func:`audio_chunks` hands it out in pieces, so a client reads
   it as a stream (the response also states its ``content-length``).

The core charges one request and the input's characters as the model's tokens (TPM/TPD; Groq prices TTS
per character, see :mod:`orchestrator._speech`) and answers with Groq's ``x-ratelimit-*`` headers.

Checks, in order (status, ``param``): a body that is not JSON or not an object (400); an unknown top-level
property (400, "property 'x' is unsupported" [I: chat's wording]); ``model`` missing (400); retired (400
``model_decommissioned``); unknown (404 ``model_not_found``); not a text-to-speech model (400); ``input``
missing, not a string or empty (400), over the model's 200 characters (400); ``voice`` missing (400) or not
one of the model's (400 "voice must be one of [...]"); ``response_format`` other than the model's formats
(400 "response_format must be one of [wav]", Groq's words, hermes-studio#2328); ``sample_rate`` not one of
8000 16000 22050 24000 32000 44100 48000 (400); ``speed`` not a number in [0.25, 4.0] (400). The wordings
marked nowhere are the emulator's in Groq's style [I]; the ``speed`` range is OpenAI's, as Groq publishes
none [I].

Formats: the API's schema names flac, mp3, mulaw, ogg and wav, but Orpheus produces only wav and Groq
refuses the others with the 400 above; the emulator refuses them the same way, so it never needs an
encoder. A model given more formats in :data:`orchestrator._speech.SPEECH_MODELS` would still be answered
with a WAV, so the table keeps Orpheus at wav only.
"""

from __future__ import annotations

import array
import hashlib
import io
import itertools
import math
import re
import sys
import wave
from collections.abc import AsyncIterator
from typing import Any, Final, NamedTuple

import msgspec

from orchestrator._catalog import ModelCatalog
from orchestrator._speech import DEFAULT_SAMPLE_RATE, SAMPLE_RATES, SPEECH_MODELS
from orchestrator.emulator._http import RequestRefused, model_refusal

__all__ = [
    "CHARACTERS_PER_SECOND",
    "SpeechError",
    "SpeechRequest",
    "audio_chunks",
    "parse_speech_request",
    "render_speech",
    "spoken_seconds",
]

#: Speaking rate at speed 1.0: about 14 characters (some 2.5 words) a second.
CHARACTERS_PER_SECOND: Final = 14.0
#: The ``speed`` the emulator accepts [I: OpenAI's range; Groq publishes none].
SPEED_RANGE: Final = (0.25, 4.0)
#: Size of the pieces the audio is sent in.
CHUNK_BYTES: Final = 32 * 1024
_FIELDS: Final = frozenset({"model", "input", "voice", "response_format", "sample_rate", "speed"})
_DIRECTION = re.compile(r"\[[^\]]*\]")
_AMPLITUDE = 0.35 * 32767
_FADE_SECONDS = 0.005
_TONE_SHARE = 0.8  # of each word's time; the rest is the pause after it


class SpeechError(RequestRefused):
    """A speech request Groq would refuse."""


class SpeechRequest(NamedTuple):
    """A checked speech request: everything needed to answer it."""

    model: str
    input: str
    voice: str
    response_format: str
    sample_rate: int
    speed: float

    @property
    def characters(self) -> int:
        """What the request costs the model's TPM/TPD: its input's characters."""
        return len(self.input)


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one_of(values: tuple[object, ...]) -> str:
    return "[" + " ".join(str(value) for value in values) + "]"


def parse_speech_request(body: bytes, catalog: ModelCatalog) -> SpeechRequest:
    """Check a speech request body as Groq does (order in the module docstring).

    Raises:
        SpeechError: the first rule the request breaks.
    """
    try:
        fields = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise SpeechError(400, f"The request body is not valid JSON: {exc}. Send a JSON object.") from None
    if not isinstance(fields, dict):
        raise SpeechError(400, "The request body must be a JSON object with 'model', 'input' and 'voice'.")
    for name in fields:
        if name not in _FIELDS:
            raise SpeechError(400, f"property '{name}' is unsupported", param=name)
    model = fields.get("model")
    if not isinstance(model, str) or not model:
        raise SpeechError(400, "`model` is required and must be a string", param="model")
    if (refusal := model_refusal(model, catalog.known(model), SpeechError)) is not None:
        raise refusal
    facts = SPEECH_MODELS.get(model)
    info = catalog.get(model)
    if facts is None or (info.capabilities_known and not info.speech):
        raise SpeechError(400, f"The model `{model}` does not support text-to-speech.", param="model", model=model)
    return _checked(fields, model, facts.voices, facts.formats, facts.max_input_characters)


def _checked(
    fields: dict[str, Any], model: str, voices: tuple[str, ...], formats: tuple[str, ...], limit: int
) -> SpeechRequest:
    def refuse(message: str, param: str) -> SpeechError:
        return SpeechError(400, message, param=param, model=model)

    text = fields.get("input")
    if not isinstance(text, str):
        raise refuse("`input` is required and must be a string", "input")
    if not text.strip():
        raise refuse("`input` must not be empty", "input")
    if len(text) > limit:
        raise refuse(f"`input` must be at most {limit} characters, but it has {len(text)} characters", "input")
    voice = fields.get("voice")
    if not isinstance(voice, str) or not voice:
        raise refuse("`voice` is required and must be a string", "voice")
    if voice not in voices:
        raise refuse(f"voice must be one of {_one_of(voices)}", "voice")
    response_format = fields.get("response_format", "wav")
    if response_format not in formats:
        raise refuse(f"response_format must be one of {_one_of(formats)}", "response_format")
    sample_rate = fields.get("sample_rate", DEFAULT_SAMPLE_RATE)
    if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate not in SAMPLE_RATES:
        raise refuse(f"sample_rate must be one of {_one_of(SAMPLE_RATES)}", "sample_rate")
    speed = fields.get("speed", 1.0)
    low, high = SPEED_RANGE
    if not _number(speed) or not low <= speed <= high:
        raise refuse(f"speed must be a number between {low} and {high}", "speed")
    return SpeechRequest(model, text, voice, response_format, sample_rate, float(speed))


def _spoken_words(request: SpeechRequest) -> list[str]:
    """The words that take time: vocal directions are dropped on a model that reads them as directions."""
    facts = SPEECH_MODELS.get(request.model)
    text = _DIRECTION.sub(" ", request.input) if facts is not None and facts.vocal_directions else request.input
    return text.split() or [request.input.strip()]  # directions alone still make a short sound


def spoken_seconds(request: SpeechRequest) -> float:
    """How long the audio lasts: each word's characters plus one, at :data:`CHARACTERS_PER_SECOND`, over ``speed``."""
    return sum(len(word) + 1 for word in _spoken_words(request)) / CHARACTERS_PER_SECOND / request.speed


def _tone(word: str, voice: str) -> float:
    """A word's pitch in Hz (140 to 620), the same for the same voice and word (rounded to whole-sample cycles)."""
    digest = hashlib.blake2b(f"{voice}\x00{word}".encode(), digest_size=4).digest()
    return 140.0 + int.from_bytes(digest, "big") % 480


def render_speech(request: SpeechRequest) -> bytes:
    """The WAV file for ``request``: PCM 16-bit mono at its sample rate, one faded tone per word."""
    rate = request.sample_rate
    samples = array.array("h")
    fade = max(1, int(_FADE_SECONDS * rate))
    for word in _spoken_words(request):
        frames = max(1, round((len(word) + 1) / CHARACTERS_PER_SECOND / request.speed * rate))
        sounding = max(1, int(frames * _TONE_SHARE))
        # A whole number of samples per cycle, so one cycle repeated is the tone (fast for 30 s at 48 kHz).
        period = max(2, round(rate / _tone(word, request.voice)))
        cycle = array.array("h", (int(_AMPLITUDE * math.sin(2 * math.pi * i / period)) for i in range(period)))
        tone = (cycle * (sounding // period + 1))[:sounding]
        for i in itertools.chain(range(min(fade, sounding)), range(max(fade, sounding - fade), sounding)):
            tone[i] = int(tone[i] * min(1.0, i / fade, (sounding - i) / fade))  # fade in and out: no clicks
        samples.extend(tone)
        samples.frombytes(bytes(2 * (frames - sounding)))  # the pause after the word
    if sys.byteorder == "big":
        samples.byteswap()  # WAV is little-endian
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()


async def audio_chunks(audio: bytes, size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """``audio`` in pieces of ``size`` bytes, as Groq streams its answer (the last piece may be shorter)."""
    for start in range(0, len(audio), size):
        yield audio[start : start + size]
