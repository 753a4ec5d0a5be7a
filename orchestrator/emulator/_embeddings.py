"""Groq's ``POST /embeddings``, emulated (the parse, the checks and the vectors; the core adds limits and faults).

Why the emulator has it although Groq serves no embedding model today (see
:data:`orchestrator._catalog.EMBEDDING_MODELS` for the sources): the groq SDK has the call, and a pipeline
that embeds must be testable without a key. The emulator serves the embedding models of its catalog
(``EmulatorSettings.catalog``) and, when the catalog names none of that id, those of ``EMBEDDING_MODELS``;
``/models`` lists only the catalog, so by default it does not list ``nomic-embed-text-v1_5``, as Groq does not.

Vectors are deterministic and carry no meaning: a model's full vector for a text is read from SHAKE-256 of
``model NUL text`` (one uniform value in (-1, 1) per dimension), rounded to float32 and scaled to unit
length. The same text always gives the same vector, different texts different ones. ``dimensions=d`` keeps
the first ``d`` values and scales them to unit length again, as a Matryoshka model is truncated. With
``encoding_format="base64"`` the vector is the base64 of its little-endian float32 bytes, as OpenAI encodes
it (openai-python decodes it with ``np.frombuffer(base64.b64decode(e), dtype="float32")``).

``usage.prompt_tokens`` is the emulator's token estimate (:func:`~orchestrator._tokens.estimate_text_tokens`,
summed over the inputs), the number the client charges its budget with.

Checks, in order (status, ``param``); the messages are [I], Groq's are not captured: a body that is not a JSON
object (400); ``model`` missing (400), retired (400 ``model_decommissioned``), unknown (404 ``model_not_found``),
not an embedding model (400, naming it); ``input`` missing, empty, over 2048 strings, not strings, an empty
string, or a string over the model's input tokens (400); ``encoding_format`` not float/base64 (400);
``dimensions`` not an integer from 1 to the model's size (400); ``user`` not a string (400). Other fields are
ignored.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Final, NamedTuple

import msgspec

from orchestrator._catalog import EMBEDDING_MODELS, ModelCatalog, ModelInfo
from orchestrator._embeddings import (
    MAX_EMBEDDING_INPUTS,
    Embedding,
    EmbeddingResponse,
    EmbeddingUsage,
)
from orchestrator._tokens import estimate_text_tokens
from orchestrator.emulator._http import RequestRefused, model_refusal

__all__ = [
    "EmbeddingRejected",
    "EmbeddingRequest",
    "embedding_vector",
    "parse_embedding_request",
    "render_embeddings",
]

_encode = msgspec.json.Encoder().encode
_HALF: Final = 2.0**31


class EmbeddingRejected(RequestRefused):
    """An embeddings request Groq would refuse."""


class EmbeddingRequest(NamedTuple):
    """A checked request: what to embed, how, and what it costs."""

    model: str
    inputs: tuple[str, ...]
    encoding_format: str
    dimensions: int
    prompt_tokens: int


def _model_info(model: object, catalog: ModelCatalog) -> ModelInfo:
    if not isinstance(model, str) or not model:
        raise EmbeddingRejected(400, "model is required: pass an embedding model such as nomic-embed-text-v1_5", param="model")
    known = catalog.known(model) or EMBEDDING_MODELS.known(model)
    if (refusal := model_refusal(model, known, EmbeddingRejected)) is not None:
        raise refusal
    if catalog.known(model):
        info = catalog.get(model)
        if not info.embedding:
            raise EmbeddingRejected(
                400,
                f"The model `{model}` does not support embeddings; use an embedding model such as "
                f"`{next(iter(EMBEDDING_MODELS)).id}`.",
                param="model",
                model=model,
            )
        return info
    return EMBEDDING_MODELS.get(model)


def parse_embedding_request(body: bytes, catalog: ModelCatalog) -> EmbeddingRequest:
    """Check a ``POST /embeddings`` body (the module docstring lists the rules, in order).

    Raises:
        EmbeddingRejected: the request is refused.
    """
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise EmbeddingRejected(400, f"The request body is not valid JSON: {exc}. Send a JSON object.") from None
    if not isinstance(payload, dict):
        raise EmbeddingRejected(400, "The request body must be a JSON object with model and input.")
    info = _model_info(payload.get("model"), catalog)
    try:
        return _checked(payload, info)
    except EmbeddingRejected as exc:
        exc.model = info.id
        raise


def _checked(payload: dict[str, object], info: ModelInfo) -> EmbeddingRequest:
    raw = payload.get("input")
    inputs = [raw] if isinstance(raw, str) else raw
    if not isinstance(inputs, list) or not inputs:
        raise EmbeddingRejected(400, "input must be a non-empty string or a non-empty array of strings", param="input")
    if len(inputs) > MAX_EMBEDDING_INPUTS:
        raise EmbeddingRejected(
            400, f"input has {len(inputs)} items; an array may hold at most {MAX_EMBEDDING_INPUTS}", param="input"
        )
    tokens = 0
    for index, text in enumerate(inputs):
        if not isinstance(text, str):
            raise EmbeddingRejected(400, f"input[{index}] must be a string, got {type(text).__name__}", param="input")
        if not text:
            raise EmbeddingRejected(400, f"input[{index}] is an empty string; the input cannot be empty", param="input")
        count = estimate_text_tokens(text)
        if count > info.context_window:
            raise EmbeddingRejected(
                400,
                f"input[{index}] has {count} tokens, over the {info.context_window} input tokens of `{info.id}`",
                param="input",
            )
        tokens += count
    encoding = payload.get("encoding_format", "float")
    if encoding is None:
        encoding = "float"
    if encoding not in ("float", "base64"):
        raise EmbeddingRejected(400, f"encoding_format must be float or base64, got {encoding!r:.40}", param="encoding_format")
    size = info.dimensions or 768
    dimensions = payload.get("dimensions")
    if dimensions is None:
        dimensions = size
    elif not isinstance(dimensions, int) or isinstance(dimensions, bool) or not 1 <= dimensions <= size:
        raise EmbeddingRejected(
            400, f"dimensions must be an integer from 1 to {size} for `{info.id}`, got {dimensions!r:.40}", param="dimensions"
        )
    user = payload.get("user")
    if user is not None and not isinstance(user, str):
        raise EmbeddingRejected(400, "user must be a string", param="user")
    return EmbeddingRequest(info.id, tuple(inputs), str(encoding), dimensions, tokens)


def _float32(value: float) -> float:
    return struct.unpack("<f", struct.pack("<f", value))[0]  # type: ignore[no-any-return]


def embedding_vector(model: str, text: str, size: int, dimensions: int | None = None) -> list[float]:
    """The unit-length vector of ``text`` under ``model``: ``size`` values, or its first ``dimensions`` rescaled.

    Every value is a float32 (so the float and base64 encodings carry the same numbers).
    """
    digest = hashlib.shake_256(model.encode() + b"\0" + text.encode("utf-8", "surrogatepass")).digest(4 * size)
    full = [(word + 0.5) / _HALF - 1.0 for word in struct.unpack(f"<{size}I", digest)]
    kept = full[: dimensions or size]
    norm = math.sqrt(math.fsum(value * value for value in kept)) or 1.0
    return [_float32(value / norm) for value in kept]


def _base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


def render_embeddings(request: EmbeddingRequest, catalog: ModelCatalog) -> bytes:
    """The 200 body: one :class:`~orchestrator._embeddings.Embedding` per input, in order, and the usage."""
    info = catalog.get(request.model) if catalog.known(request.model) else EMBEDDING_MODELS.get(request.model)
    size = info.dimensions or 768
    data = []
    for index, text in enumerate(request.inputs):
        vector = embedding_vector(request.model, text, size, request.dimensions)
        data.append(Embedding(embedding=_base64(vector) if request.encoding_format == "base64" else vector, index=index))
    usage = EmbeddingUsage(prompt_tokens=request.prompt_tokens, total_tokens=request.prompt_tokens)
    return _encode(EmbeddingResponse(data=data, model=request.model, usage=usage))
