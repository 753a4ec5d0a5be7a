"""What the orchestrator knows about each model before it asks Groq anything.

The scheduler needs limits to start from (it learns the real ones from response headers), the
validator needs context windows and capabilities (does this model take images? tools? audio?),
and the emulator serves the same table from ``/models``. Groq adds and retires models often, so
this is data, not code: :data:`DEFAULT_CATALOG` is a snapshot of the late-2025 model list and
free-tier limits, :meth:`ModelCatalog.refreshed` folds in a live ``GET /models``, and a model the
catalog has never heard of gets conservative defaults instead of an error.

Free-tier limits are per organization and per model: requests per minute and per day (RPM,
RPD), tokens per minute and per day (TPM, TPD), and for Whisper audio seconds per hour and per
day (ASH, ASD) instead of tokens.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

import msgspec

if TYPE_CHECKING:
    from orchestrator._wire import ModelList

__all__ = ["DEFAULT_CATALOG", "ModelCatalog", "ModelInfo", "unknown_model"]


class ModelInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One model's limits and capabilities.

    Attributes:
        id: the id sent as ``model`` (e.g. ``meta-llama/llama-4-scout-17b-16e-instruct``).
        context_window: prompt plus completion tokens the model accepts.
        max_completion_tokens: the largest ``max_completion_tokens`` Groq allows.
        vision: accepts ``image_url`` content parts.
        tools: accepts ``tools`` / ``tool_choice``.
        json_mode: accepts ``response_format`` ``json_object`` / ``json_schema``.
        audio: a speech-to-text model (``/audio/transcriptions``), not a chat model.
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
    """

    id: str
    context_window: int
    max_completion_tokens: int
    vision: bool = False
    tools: bool = True
    json_mode: bool = True
    audio: bool = False
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


def unknown_model(model_id: str) -> ModelInfo:
    """Conservative defaults for a model id the catalog does not know.

    Small enough not to overrun a real limit (8K context, 4K completion, 30 RPM, 1K RPD, 6K TPM,
    100K TPD), permissive on capabilities (tools and JSON allowed, no vision) so that a new model
    works at once; the scheduler learns the real limits from the first response's headers.
    """
    return ModelInfo(id=model_id, context_window=8192, max_completion_tokens=4096, capabilities_known=False)


def _chat(
    id: str,
    context: int,
    completion: int,
    limits: tuple[int, int, int, int],
    *,
    owned_by: str,
    created: int,
    vision: bool = False,
    tools: bool = True,
    json_mode: bool = True,
    reasoning: bool = False,
) -> ModelInfo:
    rpm, rpd, tpm, tpd = limits
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
        rpm=rpm,
        rpd=rpd,
        tpm=tpm,
        tpd=tpd,
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
        rpm=20,
        rpd=2_000,
        tpm=None,
        tpd=None,
        ash=7_200,
        asd=28_800,
    )


_K: Final = 1_000
_CTX: Final = 131_072

# Context windows and completion caps: GROQ-API.md 1.6 (live /models capture).
# Free-tier limits (RPM, RPD, TPM, TPD): console.groq.com/docs/rate-limits, late 2025.
_DEFAULT_MODELS: Final = (
    _chat("llama-3.1-8b-instant", _CTX, 131_072, (30, 14_400, 6 * _K, 500 * _K), owned_by="Meta", created=1693721698),
    _chat("llama-3.3-70b-versatile", _CTX, 32_768, (30, 1 * _K, 12 * _K, 100 * _K), owned_by="Meta", created=1733447754),
    _chat(
        "meta-llama/llama-4-scout-17b-16e-instruct",
        _CTX,
        8_192,
        (30, 1 * _K, 30 * _K, 500 * _K),
        owned_by="Meta",
        created=1743874824,
        vision=True,
    ),
    _chat(
        "meta-llama/llama-4-maverick-17b-128e-instruct",
        _CTX,
        8_192,
        (30, 1 * _K, 6 * _K, 500 * _K),
        owned_by="Meta",
        created=1743877158,
        vision=True,
    ),
    _chat(
        "openai/gpt-oss-20b", _CTX, 65_536, (30, 1 * _K, 8 * _K, 200 * _K), owned_by="OpenAI", created=1754407957, reasoning=True
    ),
    _chat(
        "openai/gpt-oss-120b", _CTX, 65_536, (30, 1 * _K, 8 * _K, 200 * _K), owned_by="OpenAI", created=1754408224, reasoning=True
    ),
    _chat(
        "qwen/qwen3-32b", _CTX, 40_960, (60, 1 * _K, 6 * _K, 500 * _K), owned_by="Alibaba Cloud", created=1748396646, reasoning=True
    ),
    _chat("moonshotai/kimi-k2-instruct", _CTX, 16_384, (60, 1 * _K, 10 * _K, 300 * _K), owned_by="Moonshot AI", created=1752435491),
    _chat(
        "moonshotai/kimi-k2-instruct-0905", 262_144, 16_384, (60, 1 * _K, 10 * _K, 300 * _K), owned_by="Moonshot AI", created=1757046093
    ),
    _chat("allam-2-7b", 4_096, 4_096, (30, 7 * _K, 6 * _K, 500 * _K), owned_by="SDAIA", created=1737672203, tools=False),
    # Guard models classify content; they take neither tools nor JSON mode.
    _chat(
        "openai/gpt-oss-safeguard-20b",
        _CTX,
        65_536,
        (30, 1 * _K, 8 * _K, 200 * _K),
        owned_by="OpenAI",
        created=1761708789,
        tools=False,
        reasoning=True,
    ),
    _chat(
        "meta-llama/llama-guard-4-12b",
        _CTX,
        1_024,
        (30, 14_400, 15 * _K, 500 * _K),
        owned_by="Meta",
        created=1746743847,
        vision=True,
        tools=False,
        json_mode=False,
    ),
    _chat(
        "meta-llama/llama-prompt-guard-2-22m",
        512,
        512,
        (30, 14_400, 15 * _K, 500 * _K),
        owned_by="Meta",
        created=1748632101,
        tools=False,
        json_mode=False,
    ),
    _chat(
        "meta-llama/llama-prompt-guard-2-86m",
        512,
        512,
        (30, 14_400, 15 * _K, 500 * _K),
        owned_by="Meta",
        created=1748632165,
        tools=False,
        json_mode=False,
    ),
    _whisper("whisper-large-v3", translation=True, created=1693721698),
    _whisper("whisper-large-v3-turbo", translation=False, created=1728413088),
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


#: The late-2025 model list with free-tier limits; refresh from ``/models`` for the live one.
DEFAULT_CATALOG: Final = ModelCatalog(_DEFAULT_MODELS)
