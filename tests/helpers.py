"""Test harness: a client wired to an emulator, in-process (h11's ConnectionPair, for us)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

import orchestrator
from orchestrator.emulator import Emulator, EmulatorSettings

#: The in-process transport ignores the host; any loopback URL passes the config's https rule.
EMULATOR_URL = "http://127.0.0.1:9/openai/v1"
KEY = "gsk_test_key_0123456789"


def make_emulator(**settings: Any) -> Emulator:
    """An emulator with instant latency unless the test says otherwise."""
    settings.setdefault("latency", "instant")
    return Emulator(EmulatorSettings(**settings))


@asynccontextmanager
async def client_for(emulator: Emulator, **overrides: Any) -> AsyncIterator[orchestrator.Client]:
    """``open_client`` talking to ``emulator`` through its in-process transport."""
    overrides.setdefault("api_key", KEY)
    overrides.setdefault("base_url", EMULATOR_URL)
    async with httpx.AsyncClient(transport=emulator.transport()) as http:
        async with orchestrator.open_client(http_client=http, **overrides) as client:
            yield client


def user(text: str) -> list[dict[str, str]]:
    """A one-message conversation."""
    return [{"role": "user", "content": text}]
