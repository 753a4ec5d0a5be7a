"""Issue 19, item 5: ``map`` takes plain requests too, and says what to pass when given something else."""

from __future__ import annotations

import pytest
import trio

from orchestrator import ChatRequest, UserMessage
from tests.helpers import client_for, make_emulator, user

MODEL = "openai/gpt-oss-20b"


def request(text: str) -> dict[str, object]:
    return {"model": MODEL, "messages": user(text), "max_completion_tokens": 8}


class TestPlainRequests:
    async def test_plain_dicts_are_keyed_by_position(self, autojump_clock: trio.testing.MockClock) -> None:
        """A list of request dicts runs; each result's key is the request's position."""
        async with client_for(make_emulator()) as client:
            async with client.map([request(f"fact {i}") for i in range(5)]) as results:
                got = sorted([(result.key, result.ok) async for result in results])
        assert got == [(i, True) for i in range(5)]

    async def test_chat_requests_and_pairs_still_work(self, autojump_clock: trio.testing.MockClock) -> None:
        """ChatRequest structs are plain requests too; (key, request) pairs keep their keys."""
        typed = ChatRequest(model=MODEL, messages=[UserMessage(content="hi")], max_completion_tokens=8)

        async def pairs():  # type: ignore[no-untyped-def]
            yield "a", request("a")
            yield ["b", request("b")]

        async with client_for(make_emulator()) as client:
            async with client.map([typed]) as results:
                first = [(result.key, result.ok) async for result in results]
            async with client.map(pairs()) as results:
                second = sorted([(result.key, result.ok) async for result in results])
        assert (first, second) == ([(0, True)], [("a", True), ("b", True)])


async def test_something_else_is_a_type_error_saying_what_to_pass(autojump_clock: trio.testing.MockClock) -> None:
    """An item that is neither a pair nor a request raises TypeError naming it and the two accepted forms."""
    async with client_for(make_emulator()) as client:
        with pytest.raises(TypeError) as info:
            async with client.map(["just a prompt"]) as results:
                async for _ in results:
                    pass
    message = str(info.value)
    assert ("(key, request) pairs or plain requests" in message, "item 0 is str 'just a prompt'" in message,
            "enumerate(requests)" in message) == (True, True, True)
