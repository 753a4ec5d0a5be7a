"""Groq's ``/audio/transcriptions`` and ``/audio/translations``, emulated.

Why the emulator has them: the client's audio path (multipart upload, response formats, audio-second
rate limits) must be testable without a key and without real speech, and the official ``groq`` SDK must
not notice the difference.  No audio is decoded: the transcript is deterministic filler text, seeded by a
hash of the audio, timed across the audio's real duration (read from its headers where the container
allows, see :mod:`orchestrator._audio_formats`), so the same file always gives the same transcript.

Theory of operation
-------------------
Two steps, so the server can rate-limit between them:

1. :func:`parse_audio_request` checks the upload the way Groq does and returns an :class:`AudioRequest`
   (model, response format, duration, billed seconds) or raises :class:`AudioError` carrying the status and
   Groq-style error body.  The server learns the model (for per-model limits) and the billed audio seconds
   (``max(10, duration)``, Groq's minimum, for ASH/ASD) before any transcript is generated.
2. :func:`render_audio` turns an :class:`AudioRequest` into the response: ``json`` (``{"text", "x_groq"}``),
   ``text`` (text/plain), ``verbose_json`` (task, language, duration, text, segments, and words when
   ``timestamp_granularities[]=word``), or ``srt``/``vtt`` rendered from the segments with
   :mod:`orchestrator._subtitles` (Groq itself has no srt/vtt; the spec asks for them).

:func:`handle_audio` does both in one call and returns an :class:`AudioResult`
``(status, headers, body, audio_seconds, model)``; ``audio_seconds`` is what to charge (0 for errors).

Checks, in order (status, ``param``): body over ``MAX_BODY_BYTES`` (413); malformed multipart (400);
``model`` missing (400), unknown (404 ``model_not_found``), not a speech model (400), translation on a
model without translation, i.e. anything but ``whisper-large-v3`` (400); neither or both of ``file`` and
``url`` (400); a ``file`` sent as a text field (400); an empty file (400); a file over 25 MB (413
``request_too_large``); a format that is neither a supported extension (flac mp3 mp4 mpeg mpga m4a ogg wav
webm) nor recognisable bytes (400); a ``url`` that is not http(s) or a base64 ``data:`` URL, or whose path
names an unsupported extension (400); audio shorter than 0.01 s (400); ``response_format`` not one of json
text verbose_json srt vtt (400); ``temperature`` not a number in [0, 1] (400); ``language`` not a Whisper
language code (400); granularities other than word/segment, or without verbose_json (400); translations
with ``language`` or granularities (400).  Unknown form fields are ignored, as Groq ignores them.

An http(s) ``url`` is never fetched (the emulator has no network): its duration is derived from a hash of
the URL (30 to 600 s), so it is stable per URL.  A ``data:`` URL is decoded and treated like an upload.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import random
import zlib
from collections.abc import Sequence
from typing import Final, NamedTuple
from urllib.parse import unquote_to_bytes, urlsplit

import trio

from orchestrator._audio_formats import estimate_duration, extension_of, sniff_format
from orchestrator._catalog import ModelCatalog
from orchestrator._subtitles import to_srt, to_vtt
from orchestrator._wire import ErrorBody, ErrorDetail, Segment, Transcription, VerboseTranscription, Word, XGroq, encode
from orchestrator.emulator._http import RequestRefused, model_refusal
from orchestrator.emulator._multipart import MultipartError, MultipartForm, MultipartTooLarge, parse_multipart
from orchestrator.emulator._rules import AUDIO_EXTENSIONS, AUDIO_RESPONSE_FORMATS, MAX_AUDIO_FILE_BYTES

__all__ = [
    "KINDS",
    "MAX_BODY_BYTES",
    "MIN_BILLED_SECONDS",
    "AudioError",
    "AudioRequest",
    "AudioResult",
    "handle_audio",
    "parse_audio_request",
    "render_audio",
]

#: The two audio endpoints, by the last segment of their path.
KINDS: Final = frozenset({"transcriptions", "translations"})
#: Largest multipart body read: a 25 MB file plus room for the other fields and the multipart framing.
MAX_BODY_BYTES: Final = MAX_AUDIO_FILE_BYTES + 1024 * 1024
#: Groq bills every request as at least this many seconds of audio.
MIN_BILLED_SECONDS: Final = 10.0
#: Groq refuses audio shorter than this.
MIN_DURATION_SECONDS: Final = 0.01

_WORDS_PER_SECOND = (2.2, 2.8)
_MAX_WORDS = 5_000  # bounds the response for any declared duration
_URL_DURATION = (30, 600)
_ALLOWED_FORMATS = "[" + " ".join(("flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm")) + "]"
_MEDIA_SUBTYPES = {
    "wav": "wav", "x-wav": "wav", "wave": "wav", "vnd.wave": "wav", "mpeg": "mp3", "mp3": "mp3", "mpga": "mpga",
    "mp4": "mp4", "x-m4a": "m4a", "m4a": "m4a", "ogg": "ogg", "opus": "ogg", "webm": "webm", "flac": "flac", "x-flac": "flac",
}
# A monologue, one sentence per entry; a transcript reads consecutive sentences from a seeded starting point.
_SPOKEN = tuple(
    sentence.split()
    for sentence in (
        "so we started the project last spring",
        "the first thing we noticed was how quickly the team could move once the data was in one place",
        "I think that is the real lesson here",
        "when people talk about speed they usually mean the model",
        "but honestly it is everything around it the queue the retries and the limits",
        "we measured it every week and the numbers kept getting better",
        "that was great for morale",
        "anyway let me walk you through the next part because this is where it gets interesting",
        "we had a small problem with the audio pipeline",
        "it took a while to find",
        "it turned out the files were fine and the issue was the network",
        "so we added a retry with a bit of backoff",
        "after that the errors went away almost completely",
        "the lesson is to measure first and change one thing at a time",
        "any questions before we move on",
        "okay then let us look at the results",
    )
)
_CONJUNCTIONS = frozenset({"and", "but", "because", "which", "so", "anyway", "when"})
_CODES = (
    "en zh de es ru ko fr ja pt tr pl ca nl ar sv it id hi fi vi he uk el ms cs ro da hu ta no th ur hr bg lt la "
    "mi ml cy sk te fa lv bn sr az sl kn et mk br eu is hy ne mn bs kk sq sw gl mr pa si km sn yo so af oc ka be "
    "tg sd gu am yi lo uz fo ht ps tk nn mt sa lb my bo tl mg as tt haw ln ha ba jv su yue"
).split()
_NAMES = (
    "english chinese german spanish russian korean french japanese portuguese turkish polish catalan dutch "
    "arabic swedish italian indonesian hindi finnish vietnamese hebrew ukrainian greek malay czech romanian "
    "danish hungarian tamil norwegian thai urdu croatian bulgarian lithuanian latin maori malayalam welsh "
    "slovak telugu persian latvian bengali serbian azerbaijani slovenian kannada estonian macedonian breton "
    "basque icelandic armenian nepali mongolian bosnian kazakh albanian swahili galician marathi punjabi "
    "sinhala khmer shona yoruba somali afrikaans occitan georgian belarusian tajik sindhi gujarati amharic "
    "yiddish lao uzbek faroese haitian_creole pashto turkmen nynorsk maltese sanskrit luxembourgish myanmar "
    "tibetan tagalog malagasy assamese tatar hawaiian lingala hausa bashkir javanese sundanese cantonese"
).split()
#: Whisper's language codes (as the groq SDK lists them) and the names verbose_json reports.
LANGUAGES: Final = {code: name.replace("_", " ") for code, name in zip(_CODES, _NAMES, strict=True)}


class AudioError(RequestRefused):
    """An audio request Groq would refuse, raised by :func:`parse_audio_request`; :meth:`result` renders it."""

    def result(self) -> AudioResult:
        """The error response: ``{"error": {"message", "type", "code"?, "param"?}}`` as JSON, nothing billed."""
        body = ErrorBody(error=ErrorDetail(message=self.message, type="invalid_request_error", code=self.code, param=self.param))
        return AudioResult(self.status, [("content-type", "application/json")], encode(body), 0.0, self.model)


class AudioRequest(NamedTuple):
    """A checked transcription or translation request: everything needed to answer it.

    Attributes:
        kind: ``transcriptions`` or ``translations``.
        model: the Whisper model id.
        digest: SHA-256 of the audio bytes (or of the URL when it cannot be read); seeds the transcript.
        duration: seconds of audio, from the container's headers, else estimated from the size or URL.
        duration_exact: whether ``duration`` came from the headers.
        language: the ISO-639-1 code given, if any.
        prompt: the style/spelling prompt, if any.
        response_format: json, text, verbose_json, srt or vtt.
        temperature: sampling temperature in [0, 1].
        granularities: ``word`` and/or ``segment`` timestamps asked for (verbose_json only).
    """

    kind: str
    model: str
    digest: bytes
    duration: float
    duration_exact: bool
    language: str | None
    prompt: str | None
    response_format: str
    temperature: float
    granularities: tuple[str, ...]

    @property
    def billed_seconds(self) -> float:
        """Audio seconds Groq charges (ASH/ASD): the duration, but never less than 10 s."""
        return max(MIN_BILLED_SECONDS, self.duration)


class AudioResult(NamedTuple):
    """The response to send, plus what the server needs for billing and limits.

    Attributes:
        status: HTTP status.
        headers: response headers (content-type); the server adds rate-limit headers and x-request-id.
        body: the response body.
        audio_seconds: audio seconds to charge against ASH/ASD (``max(10, duration)``; 0 for errors).
        model: the model named by the request, when it got that far (for per-model limits), else None.
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    audio_seconds: float
    model: str | None


async def handle_audio(
    kind: str, content_type: str, body: bytes, *, catalog: ModelCatalog, rng: random.Random, request_id: str
) -> AudioResult:
    """Answer one audio request (parse, check, render) as Groq would.

    Args:
        kind: ``transcriptions`` or ``translations`` (the endpoint's last path segment).
        content_type: the request's Content-Type header (multipart/form-data with a boundary).
        body: the whole request body.
        catalog: which models exist and which can transcribe or translate.
        rng: per-request randomness; used only when ``temperature > 0`` (sampling varies between calls).
        request_id: the ``req_...`` id reported in ``x_groq.id``.

    Returns:
        The response; errors are responses too (never raised).
    """
    await trio.lowlevel.checkpoint()
    try:
        request = parse_audio_request(kind, content_type, body, catalog=catalog)
    except AudioError as error:
        return error.result()
    return render_audio(request, rng=rng, request_id=request_id)


def parse_audio_request(kind: str, content_type: str, body: bytes, *, catalog: ModelCatalog) -> AudioRequest:
    """Check an audio upload as Groq does (see the module docstring for the rules, in order).

    Raises:
        AudioError: the request is refused; carries status, message and ``param``.
        ValueError: ``kind`` is not an audio endpoint (a bug in the caller, not bad input).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    translation = kind == "translations"
    try:
        form = parse_multipart(content_type, body, max_size=MAX_BODY_BYTES)
    except MultipartTooLarge as error:
        raise AudioError(413, f"Request Entity Too Large: {error}", code="request_too_large") from None
    except MultipartError as error:
        raise AudioError(400, str(error)) from None
    model = _check_model(form.value("model"), translation, catalog)
    try:
        return _checked(kind, model, form)
    except AudioError as error:
        error.model = model
        raise


def _checked(kind: str, model: str, form: MultipartForm) -> AudioRequest:
    """The checks after the model: audio source, duration, format and options."""
    translation = kind == "translations"
    audio, digest, fmt_hint = _audio_source(form.files.get("file"), form.value("file"), form.value("url"))
    if audio is None:
        low, high = _URL_DURATION
        duration, exact = float(low + int.from_bytes(digest[:4], "big") % (high - low + 1)), False
    else:
        duration, exact = estimate_duration(audio, fmt_hint)
        if duration < MIN_DURATION_SECONDS:
            raise AudioError(
                400, f"audio file is too short: {duration:.3f} seconds; the minimum length is 0.01 seconds", param="file"
            )
    response_format = form.value("response_format") or "json"
    if response_format not in AUDIO_RESPONSE_FORMATS:
        raise AudioError(
            400, f"response_format must be one of json, text, verbose_json, srt, vtt; got {response_format!r}",
            param="response_format",
        )
    language = form.value("language") or None
    granularities = tuple(form.values("timestamp_granularities[]") + form.values("timestamp_granularities"))
    _check_options(translation, language, granularities, response_format)
    return AudioRequest(
        kind=kind, model=model, digest=digest, duration=duration, duration_exact=exact, language=language,
        prompt=form.value("prompt") or None, response_format=response_format,
        temperature=_temperature(form.value("temperature")), granularities=tuple(dict.fromkeys(granularities)),
    )


def _check_model(model: str | None, translation: bool, catalog: ModelCatalog) -> str:
    """The model id, if it exists and can serve this endpoint."""
    if not model:
        raise AudioError(400, "model is required: pass whisper-large-v3 or whisper-large-v3-turbo", param="model")
    if (refusal := model_refusal(model, catalog.known(model), AudioError)) is not None:
        raise refusal
    info = catalog.get(model)
    endpoint = "translations" if translation else "transcriptions"
    if not info.audio:
        raise AudioError(
            400, f"model `{model}` does not support audio {endpoint}; use whisper-large-v3 or whisper-large-v3-turbo",
            param="model",
        )
    if translation and not info.translation:
        raise AudioError(400, f"model `{model}` does not support translations; use whisper-large-v3", param="model")
    return model


def _audio_source(upload: tuple[str, str | None, bytes] | None, file_field: str | None, url: str | None
                  ) -> tuple[bytes | None, bytes, str | None]:
    """``(audio bytes or None for a remote URL, digest, format hint)`` from the ``file`` or ``url`` field."""
    if file_field is not None and upload is None:
        raise AudioError(400, "file must be uploaded as a file part with a filename, not as a text field", param="file")
    if upload is None and not url:
        raise AudioError(400, "either file or url must be provided", param="file")
    if upload is not None and url:
        raise AudioError(400, "provide either file or url, not both", param="url")
    if upload is not None:
        filename, _content_type, data = upload
        if not data:
            raise AudioError(400, "file is empty: upload audio of at least 0.01 seconds", param="file")
        if len(data) > MAX_AUDIO_FILE_BYTES:
            raise AudioError(
                413, f"Request Entity Too Large: the file is {len(data)} bytes, over the 25 MB upload limit; "
                "pass a `url` for larger files", code="request_too_large",
            )
        return data, hashlib.sha256(data).digest(), _format_of(data, extension_of(filename), "file")
    assert url is not None
    if url.lower().startswith("data:"):
        data, subtype = _data_url(url)
        hint = _MEDIA_SUBTYPES.get(subtype) if subtype else None
        return data, hashlib.sha256(data).digest(), _format_of(data, hint, "url")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise AudioError(400, f"url must be an http(s) URL or a base64 data: URL, got {url[:80]!r}", param="url")
    extension = extension_of(parts.path)
    if extension is not None and extension not in AUDIO_EXTENSIONS:
        raise AudioError(400, f"url must point to one of the following types: {_ALLOWED_FORMATS}", param="url")
    return None, hashlib.sha256(url.encode()).digest(), extension


def _format_of(data: bytes, hint: str | None, param: str) -> str | None:
    """A supported format named by the extension/media type, else recognised from the bytes, else 400."""
    if hint in AUDIO_EXTENSIONS:
        return hint
    sniffed = sniff_format(data)
    if sniffed is None:
        raise AudioError(400, f"{param} must be one of the following types: {_ALLOWED_FORMATS}", param=param)
    return sniffed


def _data_url(url: str) -> tuple[bytes, str | None]:
    """Decode ``data:audio/wav;base64,....`` into bytes and the media subtype (``wav``)."""
    header, comma, payload = url[5:].partition(",")
    if not comma or not header.lower().endswith(";base64"):
        raise AudioError(400, "a data: url must be base64 encoded (data:audio/<type>;base64,<data>)", param="url")
    media = header[: -len(";base64")].split(";", 1)[0].strip().lower()
    try:
        raw = unquote_to_bytes(payload).strip()
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), altchars=b"-_" if b"-" in raw or b"_" in raw else None,
                                validate=True)
    except (binascii.Error, ValueError):
        raise AudioError(400, "the data: url does not contain valid base64", param="url") from None
    if not data:
        raise AudioError(400, "the data: url holds no audio", param="url")
    return data, media.split("/", 1)[1] if "/" in media else None


def _check_options(translation: bool, language: str | None, granularities: Sequence[str], response_format: str) -> None:
    """language and timestamp_granularities rules (translations take neither)."""
    if translation and language is not None:
        raise AudioError(400, "language is not supported for translations: they always produce English; drop it",
                         param="language")
    if translation and granularities:
        raise AudioError(400, "timestamp_granularities are not supported for translations; drop them",
                         param="timestamp_granularities[]")
    if language is not None and language not in LANGUAGES:
        raise AudioError(400, f"language {language[:20]!r} is not a supported ISO-639-1 code such as 'en'; "
                         "leave it unset to detect the language", param="language")
    for granularity in granularities:
        if granularity not in ("word", "segment"):
            raise AudioError(400, f"timestamp_granularities[] must be word or segment, got {granularity[:20]!r}",
                             param="timestamp_granularities[]")
    if granularities and response_format != "verbose_json":
        raise AudioError(400, "timestamp_granularities[] need response_format=verbose_json, got "
                         f"{response_format!r}", param="timestamp_granularities[]")


def _temperature(text: str | None) -> float:
    """The temperature field as a float in [0, 1] (default 0)."""
    if text is None or text == "":
        return 0.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 <= value <= 1.0:
        raise AudioError(400, f"temperature must be a number between 0 and 1, got {text[:20]!r}", param="temperature")
    return value


# -- rendering --------------------------------------------------------------------------------------------


def render_audio(request: AudioRequest, *, rng: random.Random, request_id: str) -> AudioResult:
    """The 200 response for a checked request, in its ``response_format``.

    The transcript depends only on the audio (its digest) and the model when ``temperature`` is 0; with a
    positive temperature a draw from ``rng`` is mixed in, so repeated calls differ as sampling would.
    """
    seed = int.from_bytes(hashlib.sha256(request.digest + request.model.encode()).digest()[:8], "big")
    if request.temperature > 0:
        seed ^= rng.getrandbits(64)
    segments, words = _transcript(random.Random(seed), request.duration, request.temperature)
    text = "".join(segment.text for segment in segments)
    billed = request.billed_seconds
    fmt = request.response_format
    if fmt == "json":
        body = encode(Transcription(text=text, x_groq=XGroq(id=request_id)))
        return AudioResult(200, [("content-type", "application/json")], body, billed, request.model)
    if fmt == "verbose_json":
        wants_words = "word" in request.granularities
        wants_segments = "segment" in request.granularities or not request.granularities
        verbose = VerboseTranscription(
            task="translate" if request.kind == "translations" else "transcribe",
            language=LANGUAGES.get(request.language or "en", "english") if request.kind == "transcriptions" else "english",
            duration=round(request.duration, 3),
            text=text,
            segments=segments if wants_segments else None,
            words=words if wants_words else None,
            x_groq=XGroq(id=request_id),
        )
        return AudioResult(200, [("content-type", "application/json")], encode(verbose), billed, request.model)
    if fmt == "srt":
        return AudioResult(200, [("content-type", "text/plain; charset=utf-8")], to_srt(segments).encode(), billed, request.model)
    if fmt == "vtt":
        return AudioResult(200, [("content-type", "text/vtt; charset=utf-8")], to_vtt(segments).encode(), billed, request.model)
    return AudioResult(200, [("content-type", "text/plain; charset=utf-8")], text.encode(), billed, request.model)


def _transcript(rng: random.Random, duration: float, temperature: float) -> tuple[list[Segment], list[Word]]:
    """Sentences of a monologue spread evenly over ``duration``: one segment per sentence, every word timed.

    The number of words follows a speaking rate of about 2.5 words per second (capped at ``_MAX_WORDS``);
    the last sentence is cut short where the audio ends.
    """
    rate = min(rng.uniform(*_WORDS_PER_SECOND), _MAX_WORDS / duration)
    count = max(1, round(duration * rate))
    lead = rng.uniform(0.0, min(0.4, duration * 0.1))
    slot = (duration - lead - rng.uniform(0.0, min(0.4, duration * 0.1))) / count
    segments: list[Segment] = []
    words: list[Word] = []
    index = 0
    sentence_number = rng.randrange(len(_SPOKEN))
    while index < count:
        source = _SPOKEN[sentence_number % len(_SPOKEN)]
        sentence_number += 1
        size = min(len(source), count - index)
        spoken: list[str] = []
        timed: list[Word] = []
        for k, word in enumerate(source[:size]):
            start = lead + (index + k) * slot
            end = min(start + slot * rng.uniform(0.7, 0.95), duration)
            timed.append(Word(word=word, start=_centiseconds(start), end=_centiseconds(max(end, start))))
            spoken.append(word[0].upper() + word[1:] if k == 0 else word)
        for k in range(2, size):  # a spoken pause before a conjunction, as Whisper punctuates it
            if spoken[k] in _CONJUNCTIONS and rng.random() < 0.6:
                spoken[k - 1] += ","
        sentence = " " + " ".join(spoken) + "."
        start, end = timed[0].start, timed[-1].end
        segments.append(
            Segment(
                id=len(segments), seek=int(start // 30) * 3000, start=start, end=end, text=sentence,
                tokens=_tokens(spoken, start), temperature=temperature,
                avg_logprob=round(rng.uniform(-0.45, -0.1), 6), compression_ratio=round(rng.uniform(1.2, 1.8), 6),
                no_speech_prob=round(rng.uniform(0.0, 0.03), 6),
            )
        )
        words.extend(timed)
        index += size
    return segments, words


def _centiseconds(seconds: float) -> float:
    """Round down to Whisper's 10 ms timestamp grid (down, so no time passes the audio's end or the next word)."""
    return math.floor(seconds * 100) / 100


def _tokens(spoken: list[str], start: float) -> list[int]:
    """Whisper-like token ids: a timestamp token for the segment start, then 1-2 ids per word, then '.'."""
    ids = [50365 + min(1500, round((start % 30) / 0.02))]
    for word in spoken:
        stem = word.rstrip(",")
        checksum = zlib.crc32(stem.encode())
        ids.append(220 + checksum % 50_000)
        if len(stem) > 6:
            ids.append(220 + (checksum >> 16) % 50_000)
        if word.endswith(","):
            ids.append(11)
    ids.append(13)
    return ids
