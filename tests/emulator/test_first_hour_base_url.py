"""Issue 19, item 1: which base URL each client wants, said at startup and by the emulator's 404."""

from __future__ import annotations

import groq
import httpx
import pytest

from orchestrator.emulator import Emulator
from orchestrator.emulator._server import EmulatorServer, listening_line
from tests.emulator.conftest import KEY, MODEL, Harness


def sdk_at(harness: Harness, base_url: str) -> groq.AsyncGroq:
    """The official SDK at ``base_url`` on the harness's transport, no retries."""
    if harness.kind == "in-process":
        http_client = httpx.AsyncClient(transport=harness.emulator.transport())
    else:
        http_client = httpx.AsyncClient()
    return groq.AsyncGroq(api_key=KEY, base_url=base_url, max_retries=0, http_client=http_client)


class TestGroqSdkBaseUrl:
    async def test_the_server_root_works(self, harness: Harness) -> None:
        """The groq SDK given the server root (no /openai/v1) gets its answer."""
        root = harness.base_url.removesuffix("/openai/v1")
        async with sdk_at(harness, root) as client:
            reply = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content

    async def test_a_doubled_prefix_gets_a_404_naming_the_root(self, harness: Harness) -> None:
        """The groq SDK given .../openai/v1 asks for /openai/v1/openai/v1/...; the 404 says to use the root."""
        root = harness.base_url.removesuffix("/openai/v1")
        async with sdk_at(harness, harness.base_url) as client:
            with pytest.raises(groq.NotFoundError) as info:
                await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        body = info.value.body
        assert isinstance(body, dict)
        error = body.get("error", body)  # the SDK keeps the whole body (older versions: its "error" object)
        message = error["message"]
        assert (info.value.status_code, error["code"], error["type"], "repeats /openai/v1" in message,
                f"({root})" in message, f"({root}/openai/v1)" in message) == (
            404, "unknown_url", "invalid_request_error", True, True, True)


async def test_a_missing_prefix_names_the_openai_style_base_url() -> None:
    """An OpenAI-style client given the bare root asks for /chat/completions; the 404 names .../openai/v1."""
    emulator = Emulator()
    async with httpx.AsyncClient(transport=emulator.transport(), base_url="http://emulator.test") as client:
        response = await client.post("/chat/completions", json={}, headers={"authorization": f"Bearer {KEY}"})
    message = response.json()["error"]["message"]
    assert (response.status_code, "lacks /openai/v1" in message, "http://emulator.test/openai/v1" in message) == (
        404, True, True)


def test_the_startup_line_names_both_base_urls() -> None:
    """The startup line names the root (groq SDK, LangChain) and ends with the OpenAI-style base URL."""
    server = EmulatorServer(base_url="http://127.0.0.1:8000/openai/v1", host="127.0.0.1", port=8000,
                            emulator=Emulator())
    line = listening_line(server)
    assert (line.startswith("Groq emulator listening on http://127.0.0.1:8000 "), "groq SDK" in line,
            "ChatGroq" in line, "openai SDK" in line, line.rsplit(" ", 1)[1], server.root_url) == (
        True, True, True, True, "http://127.0.0.1:8000/openai/v1", "http://127.0.0.1:8000")
