"""Test harness: a client wired to an emulator, in-process (h11's ConnectionPair, for us)."""

from __future__ import annotations

import io
import wave

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


def silent_wav(seconds: float = 1.0, *, rate: int = 16_000, channels: int = 1, width: int = 2) -> bytes:
    """A PCM WAV of silence, ``seconds`` long, written by the standard library's ``wave`` module."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        silence = b"\x80" if width == 1 else b"\x00" * width  # 8-bit PCM is unsigned
        out.writeframes(silence * (round(seconds * rate) * channels))
    return buffer.getvalue()


def json_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a (small, valid) JSON value another value can be put: each key and index, and a new key
    per dict (``"__new__"``); for tests that mutate one field of a valid request."""
    found = [path] if path else []
    if isinstance(value, dict):
        found.append((*path, "__new__"))
        for key, child in value.items():
            found.extend(json_paths(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(json_paths(child, (*path, index)))
    return found
