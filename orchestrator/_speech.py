"""``client.audio.speech``: Groq's text to speech (``POST /audio/speech``), and the facts it rests on.

Like every other call, a speech request becomes a :class:`~actors._job.Job` that the client runs against the
model's rate budget (one request, and the input's characters as the model's tokens), behind the breaker and
under the same retry policy. Two ways to get the audio:

- :meth:`Speech.create` returns the whole file as ``bytes``;
- :meth:`Speech.stream` is an async context manager (a ``raw_stream`` job, like ``files.content``) whose
  body is read in chunks as it arrives, and :meth:`Speech.stream_to_file` writes those chunks to a file
  (through a ``.partial`` file renamed at the end), so the audio is never all in memory::

      async with orchestrator.open_client() as groq:
          wav = await groq.audio.speech.create(
              model="canopylabs/orpheus-v1-english", voice="troy", input="Hello there"
          )
          await groq.audio.speech.stream_to_file("hello.wav", model=..., voice=..., input=...)

Everything that can be known locally is checked before sending, and each refusal is a ``ValidationError``
naming the field, the value and the rule: a model that does not speak (a chat or Whisper model), a voice the
model does not have, an empty input or one over the model's limit, a format the model does not produce, a
sample rate Groq does not offer, a speed that is not a positive number. A model this module has no facts for
(a TTS model Groq added after this table) is sent as is and Groq judges it.

Facts (each with its source and the date of the copy read):

- Endpoint ``POST https://api.groq.com/openai/v1/audio/speech``, JSON body ``model``, ``input``, ``voice``
  (required), ``response_format``, ``sample_rate``, ``speed``: console.groq.com/docs/text-to-speech (copy in
  Ravishka17/AskLab-AI-Bot ``Groq_Documentation/Core_Features/text-to-speech.md``, 2026) and groq-python
  ``src/groq/types/audio/speech_create_params.py`` (HEAD of the mirror read 2026-12).
- Models: ``canopylabs/orpheus-v1-english`` and ``canopylabs/orpheus-arabic-saudi``
  (console.groq.com/docs/text-to-speech/orpheus, "Supported Models"; same copy). ``playai-tts`` and
  ``playai-tts-arabic``, the SDK's literals, were replaced by Orpheus (orchestrator._retired leaves them out
  for want of a shutdown date; this table has no facts for them, so they are sent and Groq answers).
- Voices: English ``autumn diana hannah austin daniel troy``; Arabic ``fahad sultan lulwa noura`` on the
  Orpheus page's earlier copy (AskLab copy above), ``abdullah fahad sultan lulwa noura aisha`` as the page
  read on 2026-07-12 (jgravelle/GroqApiLibrary#13, "verified against ... /text-to-speech/orpheus as of
  2026-07-12"; the same six in barneyonline/ha-groq's wiki of 2026-07-06). The later, longer list is kept.
- ``input``: "max 200 characters" ("The input text length is limited to 200 characters", the Orpheus page,
  Limitations). Counted here as Python ``len()`` (code points) [I: Groq does not say how it counts].
- ``response_format``: the API's schema allows ``flac mp3 mulaw ogg wav`` (groq-python, same file), but for
  Orpheus "The only supported format is "wav"" and it defaults to wav (the Orpheus page, Quick Start); Groq
  answers any other ``400 {"message": "response_format must be one of [wav]"}``
  (EKKOLearnAI/hermes-studio#2328, 2026-08-02).
- ``sample_rate``: one of 8000 16000 22050 24000 32000 44100 48000 (groq-python ``Literal``); without it
  Orpheus returns 24 kHz mono 16-bit WAV (AreevAI/flowcat#10, 2026-06-15: "the WAV fmt chunk reports
  24000"; coval-ai/benchmarks#516, 2026-08-18, asks 24 kHz explicitly).
- ``speed``: a float (groq-python); no range is published, so only a positive finite number is required
  here and Groq has the last word.
- Limits: free plan RPM 10, RPD 100, TPM 1.2K, TPD 3.6K for both Orpheus models
  (console.groq.com/docs/rate-limits, orchestrator._tiers). Pricing is per character ($22 / $40 per million
  characters, the Orpheus page), so the input's characters are charged as the "tokens" of TPM/TPD
  [I: the rate-limits page does not define a TTS token]. Batch is "not supported at this time for Orpheus".
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

import msgspec

from actors._job import Job
from orchestrator._errors import ModelDecommissionedError, ValidationError
from orchestrator._options import check_call_options
from orchestrator._raw_body import RawBody
from orchestrator._retired import retired_model
from orchestrator._wire import short_repr

if TYPE_CHECKING:
    from orchestrator._catalog import ModelCatalog
    from orchestrator._runner import JobRunner

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "MAX_INPUT_CHARACTERS",
    "SAMPLE_RATES",
    "SPEECH_MODELS",
    "SPEECH_PATH",
    "Speech",
    "SpeechAudio",
    "SpeechModel",
    "speech_body",
    "validate_speech",
]

SPEECH_PATH: Final = "/audio/speech"
#: Orpheus's input limit, in characters (console.groq.com/docs/text-to-speech/orpheus, Limitations).
MAX_INPUT_CHARACTERS: Final = 200
#: The sample rates the API offers (groq-python ``speech_create_params.py``).
SAMPLE_RATES: Final = (8000, 16000, 22050, 24000, 32000, 44100, 48000)
#: What Orpheus returns without ``sample_rate`` (AreevAI/flowcat#10, 2026-06-15).
DEFAULT_SAMPLE_RATE: Final = 24_000
#: Every format the API's schema names (groq-python); a model produces a subset (Orpheus: wav only).
API_FORMATS: Final = ("flac", "mp3", "mulaw", "ogg", "wav")
_MEDIA_TYPES: Final = {
    "wav": "audio/wav", "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg", "mulaw": "audio/basic",
}


class SpeechModel(msgspec.Struct, frozen=True, kw_only=True):
    """What a text-to-speech model takes: its voices, output formats and input limit."""

    id: str
    voices: tuple[str, ...]
    formats: tuple[str, ...] = ("wav",)
    max_input_characters: int = MAX_INPUT_CHARACTERS
    #: Understands bracketed vocal directions such as ``[cheerful]`` (English only, the Orpheus page).
    vocal_directions: bool = False
    #: The voice ``groq-orch speak`` uses when none is given (the one Groq's own examples use).
    default_voice: str = ""


#: The TTS models Groq serves, by id (sources in the module docstring).
SPEECH_MODELS: Final[Mapping[str, SpeechModel]] = MappingProxyType({
    "canopylabs/orpheus-v1-english": SpeechModel(
        id="canopylabs/orpheus-v1-english",
        voices=("autumn", "diana", "hannah", "austin", "daniel", "troy"),
        vocal_directions=True,
        default_voice="troy",
    ),
    "canopylabs/orpheus-arabic-saudi": SpeechModel(
        id="canopylabs/orpheus-arabic-saudi",
        voices=("abdullah", "fahad", "sultan", "lulwa", "noura", "aisha"),
        default_voice="fahad",
    ),
})


def _refuse(field: str, value: Any, rule: str, problem: str, fix: str) -> ValidationError:
    """A ValidationError in the shape of orchestrator._validation's: field, shortened value, fix, rule."""
    return ValidationError(
        f"{field}: {problem} (got {short_repr(value)}); {fix} [rule: {rule}]", field=field, value=value, rule=rule
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_speech(
    *,
    model: Any,
    input: Any,
    voice: Any,
    response_format: Any,
    speed: Any,
    sample_rate: Any,
    catalog: ModelCatalog,
) -> None:
    """Check a speech request before it is sent; the first broken rule raises.

    Raises:
        ModelDecommissionedError: ``model`` is one Groq has shut down (and the catalog does not list it).
        ValidationError: naming ``field``, ``value`` and ``rule`` (``speech_model``, ``voice``,
            ``not_empty``, ``max_characters``, ``response_format``, ``sample_rate``, ``range``, ``type``).
    """
    if not isinstance(model, str) or not model.strip():
        raise _refuse("model", model, "not_empty", "must name a model",
                      "pass a text-to-speech model such as 'canopylabs/orpheus-v1-english'")
    if not catalog.known(model) and retired_model(model) is not None:
        raise ModelDecommissionedError(model=model)
    facts = SPEECH_MODELS.get(model)
    if facts is None and catalog.known(model):
        info = catalog.get(model)
        if info.capabilities_known and not info.speech:
            kind = "a speech-to-text model" if info.audio else "a chat model"
            raise _refuse("model", model, "speech_model", f"is {kind}, not a text-to-speech model",
                          "use " + " or ".join(repr(name) for name in SPEECH_MODELS))
    if not isinstance(input, str):
        raise _refuse("input", input, "type", "must be a string", "pass the text to speak")
    if not input.strip():
        raise _refuse("input", input, "not_empty", "must have text to speak", "pass a non-empty string")
    if facts is not None and len(input) > facts.max_input_characters:
        raise _refuse(
            "input", input, "max_characters",
            f"has {len(input)} characters; {model} takes at most {facts.max_input_characters}",
            "split the text into shorter pieces (at sentence ends) and speak each",
        )
    if not isinstance(voice, str) or not voice:
        raise _refuse("voice", voice, "not_empty", "must name a voice", "pass one of the model's voices")
    if facts is not None and voice not in facts.voices:
        raise _refuse("voice", voice, "voice", f"is not a voice of {model}", "use one of " + ", ".join(facts.voices))
    formats = facts.formats if facts is not None else API_FORMATS
    if response_format not in formats:
        owner = model if facts is not None else "the speech API"
        raise _refuse("response_format", response_format, "response_format", f"is not a format {owner} produces",
                      "use " + " or ".join(repr(name) for name in formats))
    if sample_rate is not None and (
        not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate not in SAMPLE_RATES
    ):
        raise _refuse("sample_rate", sample_rate, "sample_rate", "is not a sample rate Groq offers",
                      "use one of " + ", ".join(str(rate) for rate in SAMPLE_RATES))
    if speed is not None:
        if not _is_number(speed):
            raise _refuse("speed", speed, "type", "must be a number", "pass a positive number (1.0 is normal speed)")
        if not 0 < speed < math.inf:
            raise _refuse("speed", speed, "range", "must be a positive, finite number", "pass e.g. 0.5 to 2.0")


def speech_body(
    *, model: str, input: str, voice: str, response_format: str, speed: float | None, sample_rate: int | None
) -> bytes:
    """The JSON body Groq takes (optional fields left out when not given, as the SDK leaves them out)."""
    body: dict[str, Any] = {"model": model, "input": input, "voice": voice, "response_format": response_format}
    if speed is not None:
        body["speed"] = speed
    if sample_rate is not None:
        body["sample_rate"] = sample_rate
    return msgspec.json.encode(body)


class SpeechAudio(RawBody):
    """Generated audio, read as it arrives; an async context manager (``audio.speech.stream(...)``).

    The request is sent on entering (validated first, scheduled against the model's budget, retried on 429
    and 5xx before any byte arrives); the response stays open inside the ``async with`` and is closed on exit::

        async with groq.audio.speech.stream(model=..., voice="troy", input="Hi") as audio:
            async for chunk in audio.aiter_bytes():
                player.feed(chunk)

    The body can be iterated once. A connection that breaks midway raises ``StreamError`` (``TimeoutError``
    when no data came in time); nothing is retried once bytes were handed over.
    """

    _subject = "the speech audio"
    _usage = "async with client.audio.speech.stream(...) as audio:"

    def __init__(self, client: JobRunner, job: Job, *, timeout: float | None) -> None:
        super().__init__(client, timeout=timeout)
        self._prepared = job

    async def __aenter__(self) -> SpeechAudio:
        opened: SpeechAudio = await super().__aenter__()
        return opened

    def _job(self) -> Job:
        if self._prepared.settled:
            raise RuntimeError("this SpeechAudio was already opened; call audio.speech.stream() again")
        return self._prepared

    @property
    def content_type(self) -> str | None:
        """The audio's media type as Groq states it (``audio/wav``)."""
        return self._open().headers.get("content-type")


class Speech:
    """``client.audio.speech``: text to speech with Groq's Orpheus models (facts in the module docstring)."""

    def __init__(self, client: JobRunner) -> None:
        self._client = client

    def _job(
        self,
        *,
        model: str,
        input: str,
        voice: str,
        response_format: str,
        speed: float | None,
        sample_rate: int | None,
        timeout: float | None,
        max_retries: int | None,
        priority: int,
        raw_stream: bool,
    ) -> Job:
        check_call_options(priority=priority, timeout=timeout, max_retries=max_retries)
        model = self._client.mapped_model(model)  # Config.model_map, before validation
        validate_speech(
            model=model, input=input, voice=voice, response_format=response_format, speed=speed,
            sample_rate=sample_rate, catalog=self._client.catalog,
        )
        return Job(
            model=model,
            method="POST",
            path=SPEECH_PATH,
            content=speech_body(
                model=model, input=input, voice=voice, response_format=response_format, speed=speed,
                sample_rate=sample_rate,
            ),
            headers={"content-type": "application/json", "accept": _MEDIA_TYPES.get(response_format, "audio/wav")},
            raw_stream=raw_stream,
            cost=len(input),  # characters are what a TTS model's TPM/TPD count (module docstring)
            priority=priority,
            timeout=timeout,
            max_retries=max_retries,
        )

    async def create(
        self,
        *,
        model: str,
        input: str,
        voice: str,
        response_format: str = "wav",
        speed: float | None = None,
        sample_rate: int | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        priority: int = 0,
    ) -> bytes:
        """Speak ``input`` with ``voice`` and return the whole audio file (a WAV for Orpheus).

        ``speed`` (1.0 is normal) and ``sample_rate`` (default 24000 for Orpheus) are sent only when
        given. ``timeout`` and ``max_retries`` override the client's for this call; higher ``priority``
        goes first when the model's budget is short.

        Raises:
            ValidationError: before sending, naming the field (model, input, voice, response_format,
                sample_rate, speed) and its value; after sending, Groq's 400.
        """
        job = self._job(
            model=model, input=input, voice=voice, response_format=response_format, speed=speed,
            sample_rate=sample_rate, timeout=timeout, max_retries=max_retries, priority=priority, raw_stream=False,
        )
        audio: bytes = await self._client.run_job(job)
        return audio

    def stream(
        self,
        *,
        model: str,
        input: str,
        voice: str,
        response_format: str = "wav",
        speed: float | None = None,
        sample_rate: int | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        priority: int = 0,
    ) -> SpeechAudio:
        """The audio as a :class:`SpeechAudio` to read in chunks inside ``async with``.

        The request is validated here, at once (a bad voice raises before any ``async with``), and sent
        on entering the context.
        """
        job = self._job(
            model=model, input=input, voice=voice, response_format=response_format, speed=speed,
            sample_rate=sample_rate, timeout=timeout, max_retries=max_retries, priority=priority, raw_stream=True,
        )
        return SpeechAudio(self._client, job, timeout=timeout)

    async def stream_to_file(
        self,
        path: str | os.PathLike[str],
        *,
        model: str,
        input: str,
        voice: str,
        response_format: str = "wav",
        speed: float | None = None,
        sample_rate: int | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        priority: int = 0,
    ) -> int:
        """Write the audio to ``path`` chunk by chunk and return the number of bytes written.

        The chunks go to ``path`` + ``.partial``, renamed to ``path`` once the body is complete, so a broken
        download never leaves a truncated file under the real name (the ``.partial`` file is removed).
        """
        audio = self.stream(
            model=model, input=input, voice=voice, response_format=response_format, speed=speed,
            sample_rate=sample_rate, timeout=timeout, max_retries=max_retries, priority=priority,
        )
        async with audio:
            return await audio.save(path, suffix=".partial")
