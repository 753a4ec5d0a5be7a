"""What the orchestrator knows about each model before it asks Groq anything.

The scheduler needs limits to start from (it learns the real ones from response headers), the
validator needs context windows and capabilities (does this model take images? tools? audio?),
and the emulator serves the same table from ``/models``. Groq adds and retires models often, so
this is data, not code: :data:`DEFAULT_CATALOG` is a snapshot of the models Groq served on
2026-12-01, :meth:`ModelCatalog.refreshed` folds in a live ``GET /models`` (the client does so
when it opens), and a model the catalog has never heard of gets conservative defaults instead of
an error. Models Groq has shut down are not here: they are in :mod:`orchestrator._retired`, with
their shutdown date and replacement, and a request naming one is refused before it is sent.

Sources, as read 2026-12-01:

- Ids, sizes and capabilities: console.groq.com/docs/models (production: ``openai/gpt-oss-120b``,
  ``openai/gpt-oss-20b``, ``whisper-large-v3``, ``whisper-large-v3-turbo``; systems:
  ``groq/compound``, ``groq/compound-mini``; preview: ``qwen/qwen3.6-27b``,
  ``openai/gpt-oss-safeguard-20b``, the Llama Guard / Prompt Guard models, the Orpheus TTS models),
  and GROQ-API.md 1.6 (a live ``/models`` capture) for context windows and completion caps.
  ``qwen/qwen3.6-27b``: console.groq.com/docs/model/qwen/qwen3.6-27b (text and image input,
  thinking and non-thinking modes, tool use, a 131K window, 16,384 completion tokens).
- Free-tier limits: :data:`orchestrator._tiers.TIERS` ``["free"]`` (console.groq.com/docs/rate-limits,
  Free Plan Limits, 2026-06), read from that one table so the numbers live in one place. A model
  that table does not list (``qwen/qwen3.6-27b``, added after it) starts from :class:`ModelInfo`'s
  conservative defaults, and the budget learns the real limits from the first response's headers.

Free-tier limits are per organization and per model: requests per minute and per day (RPM,
RPD), tokens per minute and per day (TPM, TPD), and for Whisper audio seconds per hour and per
day (ASH, ASD) instead of tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import msgspec

from orchestrator._tiers import TIERS

if TYPE_CHECKING:
    from orchestrator._wire import ModelList

__all__ = ["DEFAULT_CATALOG", "EMBEDDING_MODELS", "ModelCatalog", "ModelInfo", "unknown_model"]


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One model's limits and capabilities.

    Attributes:
        id: the id sent as ``model`` (e.g. ``openai/gpt-oss-120b``).
        context_window: prompt plus completion tokens the model accepts.
        max_completion_tokens: the largest ``max_completion_tokens`` Groq allows.
        vision: accepts ``image_url`` content parts.
        tools: accepts ``tools`` / ``tool_choice``.
        json_mode: accepts ``response_format`` ``json_object`` / ``json_schema``.
        audio: a speech-to-text model (``/audio/transcriptions``), not a chat model.
        speech: a text-to-speech model (``/audio/speech``, ``client.audio.speech``), not a chat model;
            the flag lets validation refuse such a model for chat and transcription. Voices, formats
            and the input limit are in :data:`orchestrator._speech.SPEECH_MODELS`.
        translation: also serves ``/audio/translations`` (only ``whisper-large-v3``).
        reasoning: accepts ``reasoning_format`` / ``reasoning_effort``.
        owned_by, created: as ``/models`` reports them.
        active: False once ``/models`` says the model is switched off.
        rpm, rpd: free-tier requests per minute / per day.
        tpm, tpd: free-tier tokens per minute / per day; None for audio models, which are
            limited by audio seconds instead.
        ash, asd: audio seconds per hour / per day; None for text models.
        capabilities_known: False for a model first seen in ``/models`` (which reports sizes,
            not capabilities): validation then leaves vision, tools, JSON mode, reasoning and
            audio for Groq to judge instead of refusing on guessed defaults.
        embedding: a text-embedding model (``/embeddings``), not a chat model; its
            ``context_window`` is the most tokens one input may have.
        dimensions: an embedding model's vector length (None for every other model).
    """

    id: str
    context_window: int
    max_completion_tokens: int
    vision: bool = False
    tools: bool = True
    json_mode: bool = True
    audio: bool = False
    speech: bool = False
    translation: bool = False
    reasoning: bool = False
    owned_by: str = "unknown"
    created: int = 0
    active: bool = True
    rpm: int = 30
    rpd: int = 1_000
    tpm: int | None = 6_000
    tpd: int | None = 100_000
    ash: int | None = None
    asd: int | None = None
    capabilities_known: bool = True
    embedding: bool = False
    dimensions: int | None = None


def unknown_model(model_id: str) -> ModelInfo:
    """Conservative defaults for a model id the catalog does not know.

    Small enough not to overrun a real limit (8K context, 4K completion, 30 RPM, 1K RPD, 6K TPM,
    100K TPD), permissive on capabilities (tools and JSON allowed, no vision) so that a new model
    works at once; the scheduler learns the real limits from the first response's headers.
    """
    return ModelInfo(id=model_id, context_window=8192, max_completion_tokens=4096, capabilities_known=False)


def _free_tier(model_id: str) -> dict[str, int | None]:
    """``model_id``'s limits from the free plan's published table (``_tiers.TIERS["free"]``).

    A ``None`` there is the page's "-" (no such limit, e.g. ``groq/compound``'s TPD) and is kept; a
    model the table does not list gets :class:`ModelInfo`'s conservative defaults (an empty dict).
    """
    row = TIERS["free"].models.get(model_id)
    if row is None:
        return {}
    limits: dict[str, int | None] = {"tpm": row.tpm, "tpd": row.tpd, "ash": row.ash, "asd": row.asd}
    if row.rpm is not None:
        limits["rpm"] = row.rpm
    if row.rpd is not None:
        limits["rpd"] = row.rpd
    return limits


def _chat(
    id: str,
    context: int,
    completion: int,
    *,
    owned_by: str,
    created: int,
    vision: bool = False,
    tools: bool = True,
    json_mode: bool = True,
    reasoning: bool = False,
) -> ModelInfo:
    return ModelInfo(
        id=id,
        context_window=context,
        max_completion_tokens=completion,
        vision=vision,
        tools=tools,
        json_mode=json_mode,
        reasoning=reasoning,
        owned_by=owned_by,
        created=created,
        **_free_tier(id),  # type: ignore[arg-type]
    )


def _whisper(id: str, *, translation: bool, created: int) -> ModelInfo:
    return ModelInfo(
        id=id,
        context_window=448,
        max_completion_tokens=448,
        tools=False,
        json_mode=False,
        audio=True,
        translation=translation,
        owned_by="OpenAI",
        created=created,
        **_free_tier(id),  # type: ignore[arg-type]
    )


def _speech(id: str) -> ModelInfo:
    # /models reports a 4,000 "context window" (the input text) and 50,000 "completion tokens"
    # (GROQ-API.md 1.6); for a TTS model neither is a chat window, and both are kept as listed.
    return ModelInfo(
        id=id,
        context_window=4_000,
        max_completion_tokens=50_000,
        tools=False,
        json_mode=False,
        speech=True,
        owned_by="Canopy Labs",
        **_free_tier(id),  # type: ignore[arg-type]
    )


_CTX: Final = 131_072

# The models Groq serves as of 2026-12-01 (console.groq.com/docs/models; sizes from GROQ-API.md 1.6
# unless noted). ``created`` is as /models reports it; 0 where no capture gives it.
_DEFAULT_MODELS: Final = (
    # Production models.
    _chat("openai/gpt-oss-120b", _CTX, 65_536, owned_by="OpenAI", created=1754408224, reasoning=True),
    _chat("openai/gpt-oss-20b", _CTX, 65_536, owned_by="OpenAI", created=1754407957, reasoning=True),
    # Systems: server-side tools (web search, code execution); they take no tools of the caller's.
    _chat("groq/compound", _CTX, 8_192, owned_by="Groq", created=1756949530, tools=False),
    _chat("groq/compound-mini", _CTX, 8_192, owned_by="Groq", created=0, tools=False),
    # Preview models. Qwen 3.6 27B: text and images in, thinking and non-thinking modes, tool use
    # (console.groq.com/docs/model/qwen/qwen3.6-27b, 2026-06 onwards).
    _chat("qwen/qwen3.6-27b", _CTX, 16_384, owned_by="Alibaba Cloud", created=0, vision=True, reasoning=True),
    _chat("allam-2-7b", 4_096, 4_096, owned_by="SDAIA", created=1737672203, tools=False),
    # Guard models classify content and take no tools; the Llama guards take no JSON mode either.
    _chat(
        "openai/gpt-oss-safeguard-20b", _CTX, 65_536, owned_by="OpenAI", created=1761708789, tools=False, reasoning=True
    ),
    _chat(
        "meta-llama/llama-guard-4-12b",
        _CTX,
        1_024,
        owned_by="Meta",
        created=1746743847,
        vision=True,
        tools=False,
        json_mode=False,
    ),
    _chat("meta-llama/llama-prompt-guard-2-22m", 512, 512, owned_by="Meta", created=1748632101, tools=False, json_mode=False),
    _chat("meta-llama/llama-prompt-guard-2-86m", 512, 512, owned_by="Meta", created=1748632165, tools=False, json_mode=False),
    # Speech to text.
    _whisper("whisper-large-v3", translation=True, created=1693721698),
    _whisper("whisper-large-v3-turbo", translation=False, created=1728413088),
    # Text to speech (/audio/speech: client.audio.speech; voices and limits in orchestrator._speech).
    _speech("canopylabs/orpheus-v1-english"),
    _speech("canopylabs/orpheus-arabic-saudi"),
)


class ModelCatalog:
    """An immutable table of :class:`ModelInfo` by id; lookups never fail.

    Immutable so one catalog can be shared by the scheduler, the validator and the emulator
    without locks; :meth:`refreshed` returns a new one. Iterating yields the :class:`ModelInfo`
    values in insertion order (like ``/models`` lists them), not the ids.
    """

    __slots__ = ("_models",)

    def __init__(self, models: Iterable[ModelInfo] = ()) -> None:
        table: dict[str, ModelInfo] = {}
        for info in models:
            table[info.id] = info
        self._models: Mapping[str, ModelInfo] = MappingProxyType(table)

    def get(self, model_id: str) -> ModelInfo:
        """The model's info, or :func:`unknown_model` defaults for an id it has never seen."""
        info = self._models.get(model_id)
        return info if info is not None else unknown_model(model_id)

    def known(self, model_id: str) -> bool:
        """Whether the catalog has real data for this id (rather than defaults)."""
        return model_id in self._models

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._models

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._models.values())

    def __len__(self) -> int:
        return len(self._models)

    def __repr__(self) -> str:
        return f"<ModelCatalog with {len(self._models)} models>"

    def with_model(self, info: ModelInfo) -> ModelCatalog:
        """A new catalog with ``info`` added, or replacing the entry with the same id."""
        return ModelCatalog([*self._models.values(), info])

    def refreshed(self, model_list: ModelList) -> ModelCatalog:
        """A new catalog updated from a ``GET /models`` answer.

        Known models take the list's ``context_window``, ``max_completion_tokens``, ``active``,
        ``owned_by`` and ``created`` where it states them (a missing field keeps the old value);
        their limits and capabilities stay, since ``/models`` does not report those. Ids the
        catalog did not know are added with :func:`unknown_model` defaults overlaid with what the
        list says. Models absent from the list are kept unchanged: ``/models`` answers for one
        key, and ``GET /models/{id}`` results may be passed one at a time.
        """
        table = dict(self._models)
        for model in model_list.data:
            base = table.get(model.id) or unknown_model(model.id)
            changes: dict[str, object] = {}
            if model.context_window is not None:
                changes["context_window"] = model.context_window
            if model.max_completion_tokens is not None:
                changes["max_completion_tokens"] = model.max_completion_tokens
            if model.active is not None:
                changes["active"] = model.active
            if model.owned_by is not None:
                changes["owned_by"] = model.owned_by
            if model.created is not None:
                changes["created"] = model.created
            table[model.id] = msgspec.structs.replace(base, **changes)
        return ModelCatalog(table.values())


#: The model list of 2026-12-01 with free-tier limits; ``open_client`` refreshes it from ``/models``.
DEFAULT_CATALOG: Final = ModelCatalog(_DEFAULT_MODELS)

#: Embedding models the client and the emulator know, kept apart from :data:`DEFAULT_CATALOG` because Groq
#: serves none today. ``nomic-embed-text-v1_5`` is the one id the groq SDK types for ``embeddings.create``
#: (groq-python src/groq/types/embedding_create_params.py, snapshot 2026-08-18), but Groq never switched it on:
#: "We are still working on embeddings support and it is not currently available" (Groq, groq/groq-python#96,
#: 2024-06-25), the id answered 404 "does not exist" (same thread, 2024-08-04), and "Groq does not expose a text
#: embeddings API at all (console.groq.com/docs/models)" (i-am-bee/beeai-framework#1536, 2026-06-29). What Groq
#: serves is what ``GET /models`` says. Sizes are Nomic's: 768 dimensions, Matryoshka-truncatable to 64
#: (developers.llamaindex.ai Nomic Embedding page, stored copy 2026), 8,192 input tokens (fireworks.ai embeddings
#: reference for nomic-ai/nomic-embed-text-v1.5, stored copy 2026). Limits: [I] the conservative defaults.
EMBEDDING_MODELS: Final = ModelCatalog(
    (
        ModelInfo(
            id="nomic-embed-text-v1_5",
            context_window=8_192,
            max_completion_tokens=0,
            tools=False,
            json_mode=False,
            embedding=True,
            dimensions=768,
            owned_by="Nomic AI",
        ),
    )
)
