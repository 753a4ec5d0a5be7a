"""The models endpoints and the emulator's introspection (stats accessor and /_emulator/stats)."""

from __future__ import annotations

import groq
import pytest
import trio

from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._retired import RETIRED_MODELS
from orchestrator._wire import decode_model_list
from orchestrator.emulator import EmulatorSettings, EmulatorStats
from tests.emulator.conftest import Harness, chat, open_harness

#: What /models serves: the catalog minus the models Groq has shut down (read at run time: the table grows).
SERVED = [info.id for info in DEFAULT_CATALOG if info.id not in RETIRED_MODELS]


class TestModels:
    async def test_list_is_the_catalog(self, harness: Harness) -> None:
        """GET /models lists every catalog model that is not retired, with Groq's fields, and our decoder reads it."""
        response = await harness.client.get("/models")
        listed = decode_model_list(response.content)
        assert [m.id for m in listed.data] == SERVED and SERVED
        assert set(response.json()["data"][0]) == {
            "id", "object", "created", "owned_by", "active", "context_window", "public_apps", "max_completion_tokens"
        }

    async def test_sdk_list_and_retrieve_with_slash(self, harness: Harness) -> None:
        """The SDK lists models and retrieves an id containing a slash."""
        async with harness.sdk() as sdk:
            listed = await sdk.models.list()
            model = await sdk.models.retrieve("openai/gpt-oss-20b")
        assert len(listed.data) == len(SERVED) and (model.id, model.owned_by) == ("openai/gpt-oss-20b", "OpenAI")

    async def test_unknown_model_404(self, harness: Harness) -> None:
        """An unknown id is 404 model_not_found; the SDK raises NotFoundError."""
        response = await harness.client.get("/models/gemma-1b")
        assert (response.status_code, response.json()["error"]["code"]) == (404, "model_not_found")
        async with harness.sdk() as sdk:
            with pytest.raises(groq.NotFoundError):
                await sdk.models.retrieve("gemma-1b")

    async def test_models_need_a_key(self, harness: Harness) -> None:
        """The models list requires a valid key."""
        response = await harness.client.get("/models", headers={"authorization": "Bearer nope"})
        assert response.status_code == 401


class TestStats:
    async def test_counts(self, harness: Harness) -> None:
        """Requests, statuses, 429s and streams are counted; the stats route serves the same numbers without a key."""
        await harness.client.post("/chat/completions", json=chat())
        await harness.client.post("/chat/completions", json=chat(stream=True))
        await harness.client.get("/models/nope")
        accessor = harness.emulator.stats()
        served = await harness.client.get(harness.base_url.removesuffix("/openai/v1") + "/_emulator/stats", headers={"authorization": ""})
        assert accessor == EmulatorStats(
            requests=3,
            responses_by_status={200: 2, 404: 1},
            connections_opened=accessor.connections_opened,
            streams_started=1,
            streams_completed=1,
        )
        assert served.json() == {
            "requests": 4,
            "responses_by_status": {"200": 2, "404": 1},
            "rate_limited": 0,
            "faults_injected": {},
            "connections_opened": served.json()["connections_opened"],
            "streams_started": 1,
            "streams_completed": 1,
            "streams_disconnected": 0,
            "batch_files_uploaded": 0,
            "batch_lines_run": 0,
            "batch_duplicate_runs": 0,
        }

    async def test_reset(self, harness: Harness) -> None:
        """reset_stats zeroes every counter."""
        await harness.client.post("/chat/completions", json=chat())
        harness.emulator.reset_stats()
        assert harness.emulator.stats() == EmulatorStats()

    async def test_connections(self, transport_kind: str) -> None:
        """Over HTTP, keep-alive requests share one connection; in-process every request counts as one."""
        async with open_harness(transport_kind) as harness:
            for _ in range(3):
                await harness.client.get("/models")
            opened = harness.emulator.stats().connections_opened
        assert opened == (1 if transport_kind == "hypercorn" else 3)

    async def test_client_disconnect_is_counted(self, transport_kind: str) -> None:
        """A client that closes a stream midway is counted as a disconnect, and generation stops."""
        settings = EmulatorSettings(latency="realistic", tokens_per_second=200.0, completion_tokens=(2_000, 2_000))
        async with open_harness(transport_kind, settings) as harness:
            async with harness.client.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
                async for line in response.aiter_lines():
                    if line.startswith('data: {"id"') and '"content":"' in line and '"role"' not in line:
                        break
            with trio.fail_after(5):
                while harness.emulator.stats().streams_disconnected == 0:
                    await trio.sleep(0)
            stats = harness.emulator.stats()
        assert (stats.streams_started, stats.streams_completed, stats.streams_disconnected) == (1, 0, 1)
