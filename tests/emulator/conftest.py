"""Fixtures: the same emulator reached in-process (httpx transport) and over loopback (hypercorn)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import groq
import httpx
import pytest

from orchestrator.emulator import Emulator, EmulatorSettings, open_emulator_server

KEY = "gsk_test"
MODEL = "openai/gpt-oss-20b"
#: Llama 4 Scout is retired (orchestrator._retired); Qwen 3.6 27B is the catalog's vision chat model now.
VISION_MODEL = "qwen/qwen3.6-27b"


@dataclasses.dataclass
class Harness:
    """An emulator plus an httpx client whose base URL is ``.../openai/v1`` and that sends a valid key."""

    emulator: Emulator
    client: httpx.AsyncClient
    base_url: str
    kind: str

    def sdk(self, *, api_key: str = KEY) -> groq.AsyncGroq:
        """The official SDK pointed at this emulator (no retries, so every error surfaces)."""
        if self.kind == "in-process":
            http_client = httpx.AsyncClient(transport=self.emulator.transport())
        else:
            http_client = httpx.AsyncClient()
        return groq.AsyncGroq(
            api_key=api_key,
            base_url=self.base_url.removesuffix("/openai/v1"),
            max_retries=0,
            http_client=http_client,
        )


@asynccontextmanager
async def open_harness(kind: str, settings: EmulatorSettings | None = None) -> AsyncIterator[Harness]:
    """A :class:`Harness` of ``kind``: ``in-process`` (no socket) or ``hypercorn`` (a real server on 127.0.0.1)."""
    headers = {"authorization": f"Bearer {KEY}"}
    if kind == "in-process":
        emulator = Emulator(settings)
        base_url = "http://emulator.test/openai/v1"
        async with httpx.AsyncClient(transport=emulator.transport(), base_url=base_url, headers=headers) as client:
            yield Harness(emulator, client, base_url, kind)
        return
    async with open_emulator_server(settings) as server:
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as client:
            yield Harness(server.emulator, client, server.base_url, kind)


@pytest.fixture(params=["in-process", "hypercorn"])
def transport_kind(request: pytest.FixtureRequest) -> str:
    """Run the test once in-process and once against a real hypercorn server on 127.0.0.1."""
    return request.param


@pytest.fixture
def settings() -> EmulatorSettings:
    """Settings of the ``harness`` fixture; a test module overrides this fixture to change them."""
    return EmulatorSettings(seed=1)


@pytest.fixture
async def harness(transport_kind: str, settings: EmulatorSettings) -> AsyncIterator[Harness]:
    """An emulator with ``settings``, reached the way ``transport_kind`` says."""
    async with open_harness(transport_kind, settings) as opened:
        yield opened


def chat(content: str = "Hello there", **extra: object) -> dict[str, object]:
    """A minimal chat request body for the default model."""
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **extra}
