"""``client.embeddings``: ``POST /embeddings`` as the groq SDK types it, scheduled like every other call.

Why the client has it although Groq serves no embedding model today: the groq SDK has the call
(groq-python ``resources/embeddings.py``, snapshot 2026-08-18), so code ported from it keeps working and
gets Groq's own answer (today a 404) instead of an AttributeError; and the bundled emulator serves one
embedding model, so pipelines can be tested end to end. Which models embed is what ``GET /models``
says: the client knows the SDK's ``nomic-embed-text-v1_5`` (:data:`~orchestrator._catalog.EMBEDDING_MODELS`)
and leaves a model it knows nothing about for Groq to judge.

Facts the checks follow, with their sources:

* ``input`` is a string or an array of strings; it "cannot be an empty string, and any array must be
  2048 dimensions or less" (groq-python ``types/embedding_create_params.py``, snapshot 2026-08-18: the
  SDK types strings only, so token arrays are refused here).
* ``encoding_format`` "Can only be ``float`` or ``base64``" (same file); base64 is the little-endian
  float32 bytes of the vector, as OpenAI encodes it (openai-python ``resources/embeddings.py`` decodes
  it with ``np.frombuffer(..., dtype="float32")``).
* ``dimensions`` is not in Groq's SDK; it is OpenAI's field, and Nomic v1.5 is Matryoshka-trained down to
  64 dimensions (developers.llamaindex.ai Nomic Embedding page, stored copy 2026). [I] Groq's handling of it
  is unknown: the client checks it against the model's size and sends it only when it is set.
* An input may not exceed the model's input tokens: 8,192 for nomic-embed-text-v1.5 (fireworks.ai
  embeddings reference, stored copy 2026), estimated here with :func:`~orchestrator._tokens.estimate_text_tokens`.

Rate limits: the job is charged the inputs' estimated tokens (no completion) against the model's budget,
so a flood of embedding calls waits for the budget like chat does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal

import msgspec

from actors._job import Job

from ._catalog import EMBEDDING_MODELS, ModelCatalog, ModelInfo
from ._errors import ModelDecommissionedError, ValidationError
from ._options import check_call_options
from ._retired import retired_model
from ._runner import JobRunner
from ._tokens import estimate_text_tokens
from ._wire import short_repr

__all__ = [
    "MAX_EMBEDDING_INPUTS",
    "Embedding",
    "EmbeddingResponse",
    "EmbeddingUsage",
    "Embeddings",
    "decode_embedding_response",
    "embedding_model_info",
    "validate_embedding_request",
]

#: Most strings in one request ("any array must be 2048 dimensions or less", groq-python
#: types/embedding_create_params.py, snapshot 2026-08-18).
MAX_EMBEDDING_INPUTS: Final = 2048
_ENCODINGS: Final = ("float", "base64")
_JSON: Final = {"content-type": "application/json"}


class Embedding(msgspec.Struct, kw_only=True, gc=False):
    """One input's vector (groq-python ``types/embedding.py``).

    ``embedding`` is a list of floats, or with ``encoding_format="base64"`` the base64 of the vector's
    little-endian float32 bytes; ``index`` is the input's position in the request.
    """

    embedding: list[float] | str
    index: int
    object: Literal["embedding"] = "embedding"


class EmbeddingUsage(msgspec.Struct, kw_only=True, gc=False):
    """Tokens the request used (groq-python ``types/create_embedding_response.py``: ``Usage``)."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(msgspec.Struct, kw_only=True, gc=False):
    """The body of ``POST /embeddings`` (groq-python ``types/create_embedding_response.py``)."""

    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
    object: Literal["list"] = "list"


decode_embedding_response = msgspec.json.Decoder(EmbeddingResponse).decode
"""JSON bytes -> :class:`EmbeddingResponse`."""

_encode = msgspec.json.Encoder().encode


def _invalid(field: str, value: Any, rule: str, problem: str, fix: str) -> ValidationError:
    """A ValidationError naming the field, the (shortened) value, the rule and the fix (as `_validation` words them)."""
    return ValidationError(
        f"{field}: {problem} (got {short_repr(value)}); {fix} [rule: {rule}]", field=field, value=value, rule=rule
    )


def _embedding_ids() -> str:
    return ", ".join(repr(info.id) for info in EMBEDDING_MODELS)


def embedding_model_info(model: str, catalog: ModelCatalog) -> ModelInfo | None:
    """What the client knows of ``model`` as an embedding model; None when it knows nothing (Groq judges).

    Raises:
        ModelDecommissionedError: the model is one Groq has shut down (and the catalog does not list it).
        ValidationError: the catalog describes the model and it does not embed (a chat, speech or audio model).
    """
    if catalog.known(model):
        info = catalog.get(model)
        if info.embedding:
            return info
        if info.capabilities_known:
            raise _invalid(
                "model", model, "embedding_model", "is not an embedding model",
                f"use a model that embeds: {_embedding_ids()} (Groq serves what GET /models lists)",
            )
        return None  # first seen in /models: its capabilities are unknown
    if retired_model(model) is not None:
        raise ModelDecommissionedError(model=model)
    return EMBEDDING_MODELS.get(model) if EMBEDDING_MODELS.known(model) else None


def validate_embedding_request(
    *, model: Any, input: Any, encoding_format: Any, dimensions: Any, user: Any, catalog: ModelCatalog
) -> list[str]:
    """Check an embeddings request before it is sent; return its inputs as a list of strings.

    Raises:
        ModelDecommissionedError: the model is retired.
        ValidationError: naming the field, the value and the rule of the first broken rule.
    """
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model", model, "not_empty", "must name a model", "pass an embedding model id such as 'nomic-embed-text-v1_5'")
    info = embedding_model_info(model, catalog)
    if isinstance(input, str):
        inputs = [input]
    elif isinstance(input, Sequence) and not isinstance(input, (bytes, bytearray)):
        inputs = list(input)
    else:
        raise _invalid("input", input, "type", "must be a string or a list of strings", "pass the text to embed")
    if not inputs:
        raise _invalid("input", input, "not_empty", "must hold at least one string", "pass the text to embed")
    if len(inputs) > MAX_EMBEDDING_INPUTS:
        raise _invalid(
            "input", f"<{len(inputs)} strings>", "max_items", f"may hold at most {MAX_EMBEDDING_INPUTS} strings",
            "split the inputs over several requests",
        )
    limit = info.context_window if info is not None else None
    for index, text in enumerate(inputs):
        field = "input" if isinstance(input, str) else f"input[{index}]"
        if not isinstance(text, str):
            raise _invalid(field, text, "type", "must be a string (Groq takes text, not token arrays)", "pass text")
        if not text:
            raise _invalid(field, text, "not_empty", "cannot be an empty string", "drop it or pass some text")
        if limit is not None and (tokens := estimate_text_tokens(text)) > limit:
            raise _invalid(
                field, text, "max_input_tokens", f"is about {tokens} tokens, over the {limit} {model} embeds at once",
                "split the text into smaller pieces",
            )
    if encoding_format not in _ENCODINGS:
        raise _invalid("encoding_format", encoding_format, "allowed_values", "must be float or base64", "use 'float' or 'base64'")
    if dimensions is not None:
        most = info.dimensions if info is not None and info.dimensions else None
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1 or (most and dimensions > most):
            bound = f"between 1 and {most}" if most else "at least 1"
            raise _invalid("dimensions", dimensions, "range", f"must be an integer {bound}", "pass a smaller size or leave it unset")
    if user is not None and not isinstance(user, str):
        raise _invalid("user", user, "type", "must be a string", "pass an end-user id string or leave it unset")
    return inputs


class Embeddings:
    """``client.embeddings``: text to vectors (``POST /embeddings``)."""

    def __init__(self, client: JobRunner) -> None:
        self._client = client

    async def create(
        self,
        *,
        model: str,
        input: str | Sequence[str],  # noqa: A002 - the SDK's name
        encoding_format: Literal["float", "base64"] = "float",
        dimensions: int | None = None,
        user: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        priority: int = 0,
    ) -> EmbeddingResponse:
        """Embed one string or a list of strings; ``data[i]`` is the vector of ``input[i]``.

        The request is checked before anything is sent: a model the catalog knows not to embed (a chat
        model), an empty input or string, more than 2048 strings, a string over the model's input tokens,
        a bad ``encoding_format`` or ``dimensions`` raise ``ValidationError`` naming the field and value.
        It is then scheduled against the model's rate budget with the inputs' estimated tokens.
        """
        check_call_options(priority=priority, timeout=timeout, max_retries=max_retries)
        model = self._client.mapped_model(model)
        inputs = validate_embedding_request(
            model=model, input=input, encoding_format=encoding_format, dimensions=dimensions, user=user,
            catalog=self._client.catalog,
        )
        body: dict[str, Any] = {"model": model, "input": input if isinstance(input, str) else inputs}
        if encoding_format != "float":
            body["encoding_format"] = encoding_format
        if dimensions is not None:
            body["dimensions"] = dimensions
        if user is not None:
            body["user"] = user
        tokens = sum(estimate_text_tokens(text) for text in inputs)
        job = Job(
            model=model,
            method="POST",
            path="/embeddings",
            content=_encode(body),
            headers=dict(_JSON),
            cost=tokens,
            prompt_estimate=tokens,
            priority=priority,
            timeout=timeout,
            max_retries=max_retries,
            decode=decode_embedding_response,
        )
        result: EmbeddingResponse = await self._client.run_job(job)
        return result
