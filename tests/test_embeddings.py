"""``client.embeddings.create`` and ``client.models.delete`` / ``retrieve`` against the in-process emulator."""

from __future__ import annotations

import base64
import math
import struct

import pytest
import trio

import orchestrator
from orchestrator import (
    AuthorizationError,
    EmbeddingResponse,
    ModelDecommissionedError,
    ModelDeleted,
    ModelError,
    RequestTooLargeError,
    ValidationError,
)
from orchestrator._catalog import EMBEDDING_MODELS
from orchestrator._embeddings import MAX_EMBEDDING_INPUTS, validate_embedding_request
from orchestrator._retired import RETIRED_MODELS
from orchestrator._tokens import estimate_text_tokens
from orchestrator.emulator import Emulator

from .helpers import client_for, make_emulator

EMBED = "nomic-embed-text-v1_5"
CHAT = "openai/gpt-oss-20b"


def norm(vector: list[float]) -> float:
    return math.sqrt(math.fsum(value * value for value in vector))


def embedding_requests(emulator: Emulator) -> int:
    """Requests the emulator has answered (every call in these tests is an embeddings or models call)."""
    return emulator.stats().requests


class TestCreate:
    async def test_vectors_are_typed_unit_length_and_deterministic(self) -> None:
        """A list gives one 768-float unit vector per input, in order; the same text always the same vector."""
        texts = ["the quick brown fox", "jumped over the lazy dog", "the quick brown fox"]
        async with client_for(make_emulator()) as client:
            response = await client.embeddings.create(model=EMBED, input=texts)
            again = await client.embeddings.create(model=EMBED, input="the quick brown fox")
        assert isinstance(response, EmbeddingResponse) and (response.object, response.model) == ("list", EMBED)
        assert [(item.object, item.index) for item in response.data] == [("embedding", 0), ("embedding", 1), ("embedding", 2)]
        vectors = [item.embedding for item in response.data]
        assert all(isinstance(v, list) and len(v) == 768 and abs(norm(v) - 1.0) < 1e-5 for v in vectors)  # type: ignore[arg-type]
        assert vectors[0] == vectors[2] == again.data[0].embedding and vectors[0] != vectors[1]
        tokens = sum(estimate_text_tokens(text) for text in texts)
        assert (response.usage.prompt_tokens, response.usage.total_tokens) == (tokens, tokens)

    async def test_base64_is_the_little_endian_float32_vector(self) -> None:
        """encoding_format=base64 carries the same numbers as float, as little-endian float32 bytes."""
        async with client_for(make_emulator()) as client:
            floats = await client.embeddings.create(model=EMBED, input=["hello"])
            packed = await client.embeddings.create(model=EMBED, input=["hello"], encoding_format="base64")
        encoded = packed.data[0].embedding
        assert isinstance(encoded, str)
        raw = base64.b64decode(encoded)
        assert len(raw) == 768 * 4 and list(struct.unpack("<768f", raw)) == floats.data[0].embedding

    async def test_dimensions_truncate_and_renormalise(self) -> None:
        """dimensions=64 keeps the first 64 values of the full vector, scaled back to unit length."""
        async with client_for(make_emulator()) as client:
            full = (await client.embeddings.create(model=EMBED, input="matryoshka")).data[0].embedding
            short = (await client.embeddings.create(model=EMBED, input="matryoshka", dimensions=64)).data[0].embedding
        assert isinstance(full, list) and isinstance(short, list) and len(short) == 64
        scale = norm(full[:64])
        assert abs(norm(short) - 1.0) < 1e-5 and all(abs(s - f / scale) < 1e-6 for s, f in zip(short, full[:64], strict=True))

    async def test_the_call_is_charged_to_the_model_budget(self) -> None:
        """The inputs' estimated tokens come off the model's TPM budget (here the emulator's headers agree)."""
        async with client_for(make_emulator()) as client:
            response = await client.embeddings.create(model=EMBED, input=["a" * 40, "b" * 8])
            budget = client.rate_limits()[EMBED]
        assert response.usage.prompt_tokens == 12
        assert budget.limits.tpm is not None and budget.remaining_tokens_minute == budget.limits.tpm - 12

    async def test_a_short_budget_makes_the_next_call_wait_instead_of_a_429(self, autojump_clock: trio.testing.MockClock) -> None:
        """With a 100-token TPM, a second 80-token call waits for the window; the emulator never answers 429."""
        emulator = make_emulator(limits={EMBED: (30, 1_000, 100, 100_000)})
        async with client_for(emulator) as client:
            await client.embeddings.create(model=EMBED, input="x" * 320)
            started = trio.current_time()
            await client.embeddings.create(model=EMBED, input="y" * 320)
            waited = trio.current_time() - started
        assert waited > 1.0 and emulator.stats().rate_limited == 0

    async def test_over_the_tpm_limit_is_refused_before_sending(self) -> None:
        """Once the model's TPM is known (the first call probes it), an input whose estimate can never fit is a
        RequestTooLargeError, not a request."""
        emulator = make_emulator()
        async with client_for(emulator) as client:
            await client.embeddings.create(model=EMBED, input="learn the limits")
            before = embedding_requests(emulator)
            with pytest.raises(RequestTooLargeError):
                await client.embeddings.create(model=EMBED, input="a" * 28_000)
            assert embedding_requests(emulator) == before

    async def test_an_unknown_model_is_left_to_groq(self) -> None:
        """A model the client knows nothing about is sent; the emulator's 404 comes back as ModelError."""
        async with client_for(make_emulator()) as client:
            with pytest.raises(ModelError):
                await client.embeddings.create(model="acme/embedder-9000", input="hi")

    async def test_the_resource_is_attached_and_its_types_exported(self) -> None:
        """``client.embeddings`` exists, and the response types are public."""
        async with client_for(make_emulator()) as client:
            assert hasattr(client.embeddings, "create")
        assert {"Embedding", "EmbeddingResponse", "EmbeddingUsage", "ModelDeleted"} <= set(orchestrator.__all__)


class TestValidation:
    async def test_a_chat_model_is_refused_before_sending(self) -> None:
        """A chat model is a ValidationError naming ``model`` and the value, saying which models embed."""
        emulator = make_emulator()
        async with client_for(emulator) as client:
            before = embedding_requests(emulator)
            with pytest.raises(ValidationError) as caught:
                await client.embeddings.create(model=CHAT, input="hi")
            assert embedding_requests(emulator) == before
        error = caught.value
        assert (error.field, error.value) == ("model", CHAT) and EMBED in str(error) and "not an embedding model" in str(error)

    async def test_a_retired_model_is_refused(self) -> None:
        retired = next(iter(RETIRED_MODELS))
        async with client_for(make_emulator()) as client:
            with pytest.raises(ModelDecommissionedError):
                await client.embeddings.create(model=retired, input="hi")

    @pytest.mark.parametrize(
        ("kwargs", "field", "rule"),
        [
            ({"input": []}, "input", "not_empty"),
            ({"input": ""}, "input", "not_empty"),
            ({"input": ["ok", ""]}, "input[1]", "not_empty"),
            ({"input": ["ok", 7]}, "input[1]", "type"),
            ({"input": [[1, 2, 3]]}, "input[0]", "type"),
            ({"input": 42}, "input", "type"),
            ({"input": b"bytes"}, "input", "type"),
            ({"input": ["x"] * (MAX_EMBEDDING_INPUTS + 1)}, "input", "max_items"),
            ({"input": "a" * (4 * 8_192 + 4)}, "input", "max_input_tokens"),
            ({"input": "x", "encoding_format": "int8"}, "encoding_format", "allowed_values"),
            ({"input": "x", "dimensions": 0}, "dimensions", "range"),
            ({"input": "x", "dimensions": 769}, "dimensions", "range"),
            ({"input": "x", "dimensions": True}, "dimensions", "range"),
            ({"input": "x", "user": 5}, "user", "type"),
            ({"model": "", "input": "x"}, "model", "not_empty"),
        ],
    )
    async def test_bad_requests_name_the_field(self, kwargs: dict[str, object], field: str, rule: str) -> None:
        """Each broken rule is a ValidationError naming the field and rule; nothing reaches the emulator."""
        emulator = make_emulator()
        async with client_for(emulator) as client:
            before = embedding_requests(emulator)
            with pytest.raises(ValidationError) as caught:
                await client.embeddings.create(**{"model": EMBED, **kwargs})  # type: ignore[arg-type]
            assert embedding_requests(emulator) == before
        assert (caught.value.field, caught.value.rule) == (field, rule)

    def test_the_inputs_come_back_as_a_list(self) -> None:
        catalog = orchestrator.DEFAULT_CATALOG
        assert validate_embedding_request(
            model=EMBED, input=("a", "b"), encoding_format="float", dimensions=None, user=None, catalog=catalog
        ) == ["a", "b"]
        assert EMBEDDING_MODELS.get(EMBED).dimensions == 768 and not orchestrator.DEFAULT_CATALOG.known(EMBED)


class TestModels:
    async def test_deleting_a_base_model_is_refused(self) -> None:
        """DELETE of a catalog model is the emulator's 403 refusal, raised as AuthorizationError."""
        async with client_for(make_emulator()) as client:
            with pytest.raises(AuthorizationError) as caught:
                await client.models.delete(CHAT)
        assert caught.value.status == 403 and "cannot be deleted" in str(caught.value)

    async def test_deleting_or_retrieving_an_unknown_model_is_model_not_found(self) -> None:
        async with client_for(make_emulator()) as client:
            with pytest.raises(ModelError):
                await client.models.delete("nope")
            with pytest.raises(ModelError) as caught:
                await client.models.retrieve("nope")
        assert caught.value.status == 404

    @pytest.mark.parametrize("model", ["", " x", "a?b", "a b", 7])
    async def test_a_bad_id_is_refused(self, model: object) -> None:
        emulator = make_emulator()
        async with client_for(emulator) as client:
            before = embedding_requests(emulator)
            with pytest.raises(ValidationError):
                await client.models.delete(model)  # type: ignore[arg-type]
            assert embedding_requests(emulator) == before

    def test_model_deleted_decodes_the_sdk_shape(self) -> None:
        from orchestrator._wire import decode_model_deleted

        deleted = decode_model_deleted(b'{"id":"ft:x","object":"model","deleted":true,"extra":1}')
        assert isinstance(deleted, ModelDeleted) and (deleted.id, deleted.object, deleted.deleted) == ("ft:x", "model", True)
