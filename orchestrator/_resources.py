"""The SDK-shaped resources of a :class:`Client`: ``chat.completions``, ``audio.*``, ``models``.

Each method turns its arguments into a job and lets the client run it, so every call (an
audio upload as much as a chat) is scheduled against the rate budget, guarded by the
breaker and retried by the same policy. The method names and keywords follow the
official ``groq`` / ``openai`` SDKs so code moves over with few changes. The resources
know the client only as a `JobRunner` (`orchestrator._runner`), so they never import it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO, Final, Literal

import httpx
import msgspec
import trio

from actors._job import Job
from actors._stream import ChatStream

from ._errors import CapacityExceededError, ValidationError
from ._options import check_call_options
from ._runner import JobRunner
from ._subtitles import to_srt, to_vtt
from ._validation import fallback_tier_list, validate_transcription
from ._wire import (
    ChatResponse,
    Model,
    ModelDeleted,
    ModelList,
    Transcription,
    VerboseTranscription,
    decode_model,
    decode_model_deleted,
    decode_model_list,
    decode_transcription,
    decode_verbose_transcription,
)

__all__ = ["Audio", "Chat", "Completions", "Models", "Transcriptions", "Translations"]

AudioFile = str | os.PathLike[str] | bytes | BinaryIO | tuple[str, bytes]
AudioFormat = Literal["json", "text", "verbose_json", "srt", "vtt"]


class Completions:
    """``client.chat.completions``."""

    def __init__(self, client: JobRunner) -> None:
        self._client = client

    async def create(
        self,
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        priority: int = 0,
        fallback_tiers: Sequence[str] | None = None,
        **params: Any,
    ) -> ChatResponse | ChatStream:
        """Create a chat completion; with ``stream=True`` return a :class:`ChatStream`.

        ``params`` are Groq's chat parameters (``model``, ``messages``, ``temperature``,
        ``tools``, ``response_format``, ``stream`` ...), as dicts or our Structs. The
        request is validated before anything is sent. ``timeout`` and ``max_retries``
        override the client's for this call; higher ``priority`` goes first when the
        model's budget is short.

        ``fallback_tiers`` (with ``service_tier="flex"``, e.g. ``["on_demand"]``): when the flex
        tier still answers 498 ``capacity_exceeded`` after this call's retries, the request is
        sent again with ``service_tier`` set to each fallback in turn. The response's
        ``service_tier`` says which tier answered.
        """
        tiers = fallback_tier_list(fallback_tiers, params.get("service_tier"))
        fallback: str | None = None
        while True:
            job = self._client.chat_job(
                params, priority=priority, timeout=timeout, max_retries=max_retries, extra_headers=extra_headers
            )
            try:
                result: ChatResponse | ChatStream = await self._client.run_job(job)
            except CapacityExceededError:
                if not tiers:
                    raise
                fallback = tiers.pop(0)
                params = {**params, "service_tier": fallback}
                continue
            if fallback is not None and isinstance(result, ChatResponse) and result.service_tier is None:
                # [I] Groq reports the tier that answered; a body without it is credited to the fallback sent.
                result = msgspec.structs.replace(result, service_tier=fallback)
            return result


class Chat:
    """``client.chat``: holds ``completions``."""

    def __init__(self, client: JobRunner) -> None:
        self.completions = Completions(client)


async def _read_audio(file: AudioFile) -> tuple[str, bytes]:
    """(filename, content) from a path, bytes, an open binary file, or a (name, bytes) pair."""
    if isinstance(file, tuple):
        name, content = file
        return name, content
    if isinstance(file, bytes):
        return "audio.wav", file
    if isinstance(file, (str, os.PathLike)):
        path = trio.Path(os.fspath(file))
        return path.name, await path.read_bytes()
    content = await trio.to_thread.run_sync(file.read)
    return os.path.basename(getattr(file, "name", "audio.wav")), content


class _AudioEndpoint:
    """Shared body of ``transcriptions`` and ``translations`` (they differ in path and fields)."""

    _path: str
    _translation: bool

    def __init__(self, client: JobRunner) -> None:
        self._client = client

    async def create(
        self,
        *,
        model: str,
        file: AudioFile | None = None,
        url: str | None = None,
        language: str | None = None,
        prompt: str | None = None,
        response_format: AudioFormat = "json",
        temperature: float | None = None,
        timestamp_granularities: Sequence[Literal["word", "segment"]] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Transcription | VerboseTranscription | str:
        """Send audio (a path, bytes, binary file, ``(name, bytes)``, or ``url=``) to Whisper.

        ``response_format`` ``json`` gives a :class:`Transcription`, ``verbose_json`` a
        :class:`VerboseTranscription`, ``text`` a string; ``srt`` and ``vtt`` are rendered
        locally from ``verbose_json`` segments (Groq itself does not produce them).
        """
        check_call_options(timeout=timeout, max_retries=max_retries)
        model = self._client.mapped_model(model)  # Config.model_map, before validation
        filename, content = await _read_audio(file) if file is not None else (None, None)
        validate_transcription(
            model=model,
            filename=filename,
            size=len(content) if content is not None else None,
            url=url,
            language=language,
            prompt=prompt,
            response_format=response_format,
            temperature=temperature,
            timestamp_granularities=list(timestamp_granularities) if timestamp_granularities else None,
            translation=self._translation,
            catalog=self._client.catalog,
        )
        wire_format = "verbose_json" if response_format in ("srt", "vtt") else response_format
        fields: dict[str, Any] = {"model": model, "response_format": wire_format}
        optional = {"url": url, "language": language, "prompt": prompt, "temperature": temperature}
        fields.update({name: str(value) for name, value in optional.items() if value is not None})
        if timestamp_granularities:
            fields["timestamp_granularities[]"] = list(timestamp_granularities)
        files = {"file": (filename, content)} if content is not None else _ALWAYS_MULTIPART
        encoded = httpx.Request("POST", "http://multipart.invalid/", data=fields, files=files)
        job = Job(
            model=model,
            method="POST",
            path=self._path,
            content=encoded.read(),
            headers={"content-type": encoded.headers["content-type"]},
            timeout=timeout,
            max_retries=max_retries,
            decode=_AUDIO_DECODERS[wire_format],
        )
        result = await self._client.run_job(job)
        if response_format == "srt":
            return to_srt(result.segments or [])
        if response_format == "vtt":
            return to_vtt(result.segments or [])
        return result  # type: ignore[no-any-return]


class _ForceMultipart(dict[str, Any]):
    """No files, yet a multipart body: httpx sends multipart only when ``files`` is truthy,
    and Groq accepts audio requests (``url=`` ones too) only as multipart/form-data."""

    def __bool__(self) -> bool:
        return True


_ALWAYS_MULTIPART: Final = _ForceMultipart()


def _decode_text(body: bytes) -> str:
    return body.decode("utf-8")


_AUDIO_DECODERS: Final = {
    "json": decode_transcription,
    "verbose_json": decode_verbose_transcription,
    "text": _decode_text,
}


class Transcriptions(_AudioEndpoint):
    """``client.audio.transcriptions``: speech to text in the spoken language."""

    _path = "/audio/transcriptions"
    _translation = False


class Translations(_AudioEndpoint):
    """``client.audio.translations``: speech to English text (``whisper-large-v3`` only)."""

    _path = "/audio/translations"
    _translation = True


class Audio:
    """``client.audio``: holds ``transcriptions``, ``translations`` and ``speech`` (text to speech)."""

    def __init__(self, client: JobRunner) -> None:
        from ._speech import Speech  # its own module (orchestrator._speech)

        self.transcriptions = Transcriptions(client)
        self.translations = Translations(client)
        self.speech = Speech(client)


class Models:
    """``client.models``: what models the account can use.

    ``list()`` also refreshes the client's model catalog, so context windows and
    capabilities follow what Groq serves today.
    """

    def __init__(self, client: JobRunner) -> None:
        self._client = client

    async def list(self, *, max_retries: int | None = None, timeout: float | None = None) -> ModelList:
        """All models (``GET /models``)."""
        check_call_options(timeout=timeout, max_retries=max_retries)
        job = Job(model=None, method="GET", path="/models", decode=decode_model_list, max_retries=max_retries, timeout=timeout)
        models: ModelList = await self._client.run_job(job)
        self._client.catalog = self._client.catalog.refreshed(models)
        return models

    async def retrieve(self, model: str, *, max_retries: int | None = None, timeout: float | None = None) -> Model:
        """One model (``GET /models/{id}``); ``ModelError`` if Groq does not know it.

        An unknown (or retired) id is Groq's 404 ``model_not_found`` ("The model `x` does not exist or
        you do not have access to it", GROQ-API.md 1.3, lobehub/lobehub#3367), raised as ``ModelError``.
        """
        check_call_options(timeout=timeout, max_retries=max_retries)
        _check_model_id(model)
        job = Job(
            model=None, method="GET", path=f"/models/{model}", decode=decode_model, max_retries=max_retries, timeout=timeout
        )
        result: Model = await self._client.run_job(job)
        return result

    async def delete(self, model: str, *, max_retries: int | None = None, timeout: float | None = None) -> ModelDeleted:
        """Delete a model the organization owns (``DELETE /models/{id}``, groq-python ``resources/models.py``).

        Only fine-tuned models can be deleted ([I] OpenAI's rule for the same endpoint; Groq documents
        none): deleting a base model such as ``openai/gpt-oss-20b`` is refused (the emulator answers 403,
        raised as ``AuthorizationError``), an unknown id is 404 ``model_not_found`` (``ModelError``).
        """
        check_call_options(timeout=timeout, max_retries=max_retries)
        _check_model_id(model)
        job = Job(
            model=None, method="DELETE", path=f"/models/{model}", decode=decode_model_deleted,
            max_retries=max_retries, timeout=timeout,
        )
        result: ModelDeleted = await self._client.run_job(job)
        return result


def _check_model_id(model: object) -> None:
    """Refuse what cannot be a model id in a path (empty, padded, or with ``? # %`` or spaces)."""
    if not isinstance(model, str) or not model or model.strip() != model or any(ch in model for ch in "?#% "):
        raise ValidationError(
            f"model: {model!r} is not a model id; ids look like 'openai/gpt-oss-120b' [rule: model_id]",
            field="model",
            value=model,
            rule="model_id",
        )
