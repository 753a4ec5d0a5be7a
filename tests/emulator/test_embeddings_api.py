"""``POST /embeddings`` and ``DELETE /models/{id}`` as a client sees them: raw HTTP and the official SDK,
in-process and over hypercorn."""

from __future__ import annotations

import base64
import math
import struct

import groq
import httpx
import pytest
from groq.types import CreateEmbeddingResponse, ModelDeleted

from orchestrator._catalog import DEFAULT_CATALOG, ModelInfo
from orchestrator._retired import RETIRED_MODELS
from orchestrator.emulator import EmulatorSettings
from orchestrator.emulator._embeddings import embedding_vector
from tests.emulator.conftest import MODEL, Harness, open_harness

EMBED = "nomic-embed-text-v1_5"


def error_of(response: httpx.Response) -> dict[str, str]:
    return response.json()["error"]


def norm(vector: list[float]) -> float:
    return math.sqrt(math.fsum(value * value for value in vector))


async def embed(harness: Harness, **body: object) -> httpx.Response:
    return await harness.client.post("/embeddings", json={"model": EMBED, **body})


class TestEmbeddings:
    async def test_the_body_and_headers(self, harness: Harness) -> None:
        """A list gives one unit vector per input in Groq's shape, with chat's rate-limit headers and a request id."""
        response = await embed(harness, input=["alpha", "beta"])
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"object", "data", "model", "usage"} and (body["object"], body["model"]) == ("list", EMBED)
        assert [set(item) for item in body["data"]] == [{"object", "embedding", "index"}] * 2
        assert [(item["object"], item["index"]) for item in body["data"]] == [("embedding", 0), ("embedding", 1)]
        assert all(len(item["embedding"]) == 768 and abs(norm(item["embedding"]) - 1) < 1e-5 for item in body["data"])
        assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}  # ceil(5 / 4) + ceil(4 / 4)
        headers = response.headers
        assert headers["content-type"] == "application/json" and headers["x-request-id"].startswith("req_")
        assert headers["x-ratelimit-remaining-tokens"] == str(int(headers["x-ratelimit-limit-tokens"]) - 3)

    async def test_same_text_same_vector_different_text_different_vector(self, harness: Harness) -> None:
        """Vectors depend on the text (and model) only: the same across requests and emulators."""
        first = (await embed(harness, input=["same", "other"])).json()["data"]
        second = (await embed(harness, input="same")).json()["data"]
        assert first[0]["embedding"] == second[0]["embedding"] != first[1]["embedding"]
        assert first[0]["embedding"] == embedding_vector(EMBED, "same", 768)

    async def test_base64_and_dimensions(self, harness: Harness) -> None:
        """base64 is the little-endian float32 vector; dimensions keeps a renormalised prefix."""
        floats = (await embed(harness, input="x", dimensions=256)).json()["data"][0]["embedding"]
        packed = (await embed(harness, input="x", dimensions=256, encoding_format="base64")).json()["data"][0]["embedding"]
        assert isinstance(packed, str) and list(struct.unpack("<256f", base64.b64decode(packed))) == floats
        assert len(floats) == 256 and abs(norm(floats) - 1) < 1e-5

    @pytest.mark.parametrize(
        ("body", "status", "param", "words"),
        [
            ({"model": MODEL, "input": "x"}, 400, "model", f"`{MODEL}` does not support embeddings"),
            ({"model": "acme/nothing", "input": "x"}, 404, None, "`acme/nothing` does not exist"),
            ({"model": None, "input": "x"}, 400, "model", "model is required"),
            ({"input": []}, 400, "input", "non-empty"),
            ({"input": ""}, 400, "input", "empty string"),
            ({"input": ["ok", ""]}, 400, "input", "input[1] is an empty string"),
            ({}, 400, "input", "non-empty"),
            ({"input": [[1, 2]]}, 400, "input", "must be a string"),
            ({"input": ["x"] * 2049}, 400, "input", "at most 2048"),
            ({"input": "a" * 40_000}, 400, "input", "over the 8192 input tokens"),
            ({"input": "x", "encoding_format": "int8"}, 400, "encoding_format", "float or base64"),
            ({"input": "x", "dimensions": 0}, 400, "dimensions", "from 1 to 768"),
            ({"input": "x", "dimensions": 769}, 400, "dimensions", "from 1 to 768"),
            ({"input": "x", "user": 1}, 400, "user", "user must be a string"),
        ],
    )
    async def test_refusals(self, harness: Harness, body: dict[str, object], status: int, param: str | None, words: str) -> None:
        response = await harness.client.post("/embeddings", json={"model": EMBED, **body})
        error = error_of(response)
        assert (response.status_code, error.get("param")) == (status, param) and words in error["message"]
        if status == 404:
            assert error["code"] == "model_not_found"

    async def test_a_retired_model_is_decommissioned(self, harness: Harness) -> None:
        response = await embed(harness, model=next(iter(RETIRED_MODELS)), input="x")
        assert (response.status_code, error_of(response)["code"]) == (400, "model_decommissioned")

    async def test_a_body_that_is_not_json_is_a_400(self, harness: Harness) -> None:
        response = await harness.client.post("/embeddings", content=b"{nope", headers={"content-type": "application/json"})
        assert response.status_code == 400 and "not valid JSON" in error_of(response)["message"]

    async def test_routes(self, harness: Harness) -> None:
        """Only POST /embeddings exists (other methods stay unknown URLs); DELETE /models (the list) is a 405."""
        assert (await harness.client.get("/embeddings")).status_code == 404
        listing = await harness.client.delete("/models")
        assert (listing.status_code, error_of(listing)["code"]) == (405, "method_not_allowed")
        assert "use GET" in error_of(listing)["message"]
        assert (await harness.client.post("/embeddings", json={"model": EMBED, "input": "x"}, headers={"authorization": "Bearer no"})).status_code == 401

    async def test_the_sdk_decodes_into_its_types(self, harness: Harness) -> None:
        """The official SDK's embeddings.create returns its CreateEmbeddingResponse, float and base64."""
        async with harness.sdk() as sdk:
            response = await sdk.embeddings.create(model=EMBED, input=["The quick brown fox", "jumped"])
            packed = await sdk.embeddings.create(model=EMBED, input="The quick brown fox", encoding_format="base64", user="u1")
        assert isinstance(response, CreateEmbeddingResponse) and response.object == "list" and response.model == EMBED
        first = response.data[0].embedding
        assert isinstance(first, list) and len(first) == 768 and [item.index for item in response.data] == [0, 1]
        assert (response.usage.prompt_tokens, response.usage.total_tokens) == (7, 7)
        assert isinstance(packed.data[0].embedding, str)
        assert list(struct.unpack("<768f", base64.b64decode(packed.data[0].embedding))) == first

    async def test_the_sdk_raises_its_errors(self, harness: Harness) -> None:
        async with harness.sdk() as sdk:
            with pytest.raises(groq.BadRequestError):
                await sdk.embeddings.create(model=MODEL, input="x")
            with pytest.raises(groq.NotFoundError):
                await sdk.embeddings.create(model="acme/nothing", input="x")


class TestEmbeddingLimits:
    @pytest.fixture
    def settings(self) -> EmulatorSettings:
        """One request a minute and 50 tokens a minute for the embedding model."""
        return EmulatorSettings(seed=1, limits={EMBED: (1, 100, 50, 10_000)})

    async def test_the_second_request_in_a_minute_is_a_429(self, harness: Harness) -> None:
        assert (await embed(harness, input="x")).status_code == 200
        refused = await embed(harness, input="x")
        error = error_of(refused)
        assert (refused.status_code, error["code"], error["type"]) == (429, "rate_limit_exceeded", "requests")
        assert f"model `{EMBED}`" in error["message"] and int(refused.headers["retry-after"]) >= 1
        assert "x-ratelimit-limit-requests" in refused.headers and harness.emulator.stats().rate_limited == 1

    async def test_more_tokens_than_the_tpm_is_a_413(self, harness: Harness) -> None:
        refused = await embed(harness, input="a" * 400)
        error = error_of(refused)
        assert (refused.status_code, error["code"], error["type"]) == (413, "rate_limit_exceeded", "tokens")
        assert "Limit 50, Requested 100" in error["message"]

    async def test_limits_are_per_key(self, harness: Harness) -> None:
        assert (await embed(harness, input="x")).status_code == 200
        other = await harness.client.post("/embeddings", json={"model": EMBED, "input": "x"}, headers={"authorization": "Bearer gsk_other"})
        assert other.status_code == 200


class TestCatalogEmbeddingModels:
    @pytest.fixture
    def settings(self) -> EmulatorSettings:
        """A catalog that lists the embedding model (so /models shows it) with a 256-dimension size."""
        small = ModelInfo(
            id="acme/embed-small", context_window=512, max_completion_tokens=0, embedding=True, dimensions=256
        )
        return EmulatorSettings(seed=1, catalog=DEFAULT_CATALOG.with_model(small))

    async def test_a_catalog_embedding_model_is_served_at_its_size(self, harness: Harness) -> None:
        response = await embed(harness, model="acme/embed-small", input="x")
        assert response.status_code == 200 and len(response.json()["data"][0]["embedding"]) == 256
        too_long = await embed(harness, model="acme/embed-small", input="a" * 4_000)
        assert too_long.status_code == 400 and "512 input tokens" in error_of(too_long)["message"]
        listed = [model["id"] for model in (await harness.client.get("/models")).json()["data"]]
        assert "acme/embed-small" in listed and EMBED not in listed


class TestDeleteModels:
    async def test_a_base_model_is_refused(self, harness: Harness) -> None:
        response = await harness.client.delete(f"/models/{MODEL}")
        error = error_of(response)
        assert (response.status_code, error["code"], error["param"]) == (403, "model_not_deletable", "model")
        assert f"`{MODEL}` is a base model and cannot be deleted" in error["message"]
        assert (await harness.client.get(f"/models/{MODEL}")).status_code == 200  # still there

    async def test_an_unknown_or_retired_model_is_model_not_found(self, harness: Harness) -> None:
        for model in ("nope", next(iter(RETIRED_MODELS))):
            response = await harness.client.delete(f"/models/{model}")
            assert (response.status_code, error_of(response)["code"]) == (404, "model_not_found")

    async def test_the_sdk_gets_the_refusal_and_the_404s(self, harness: Harness) -> None:
        async with harness.sdk() as sdk:
            with pytest.raises(groq.PermissionDeniedError) as refused:
                await sdk.models.delete(MODEL)
            with pytest.raises(groq.NotFoundError):
                await sdk.models.delete("nope")
            with pytest.raises(groq.NotFoundError) as missing:
                await sdk.models.retrieve("nope")
        assert refused.value.status_code == 403 and missing.value.status_code == 404
        assert isinstance(missing.value.body, dict) and missing.value.body["error"]["code"] == "model_not_found"
        assert ModelDeleted.model_fields.keys() == {"id", "deleted", "object"}  # the type a success would decode into


async def test_vectors_do_not_depend_on_the_emulator() -> None:
    """Two emulators with different seeds embed a text identically: the vector is a hash of model and text."""
    vectors = []
    for seed in (1, 2):
        async with open_harness("in-process", EmulatorSettings(seed=seed)) as harness:
            vectors.append((await embed(harness, input="x")).json()["data"][0]["embedding"])
    assert vectors[0] == vectors[1] != embedding_vector("other-model", "x", 768)
