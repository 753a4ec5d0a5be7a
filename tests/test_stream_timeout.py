"""A streamed call's timeout bounds the whole call, as it bounds one that is not streamed (issue 18).

Before, ``timeout`` bounded only the wait for the headers and each read: a server trickling tokens kept
a stream open for as long as it liked. The server's time is what is bounded; a slow reader is not the
server's fault, so the time the client waits for its reader does not count.
"""

from __future__ import annotations

import pytest
import trio

from orchestrator import TimeoutError as GroqTimeoutError

from .helpers import client_for, make_emulator, user

MODEL = "openai/gpt-oss-20b"


def _slow_server():  # 100 tokens at 10 a second: ten seconds of generation after the first token
    return make_emulator(tokens_per_chunk=1, tokens_per_second=10.0, completion_tokens=(100, 100))


async def _read_all(groq, *, timeout: float, pause: float = 0.0) -> int:
    seen = 0
    async with await groq.chat.completions.create(
        model=MODEL, messages=user("Write at length"), max_completion_tokens=100, stream=True, timeout=timeout
    ) as stream:
        async for _chunk in stream:
            seen += 1
            await trio.sleep(pause)
    return seen


async def test_a_stream_the_server_takes_longer_than_the_timeout_to_finish_fails(autojump_clock) -> None:
    async with client_for(_slow_server(), max_retries=0) as groq:
        started = trio.current_time()
        with pytest.raises(GroqTimeoutError, match="did not finish within 3 s"):
            await _read_all(groq, timeout=3.0)
        assert trio.current_time() - started < 5.0  # not the ten seconds the server would take


async def test_a_stream_within_its_timeout_completes(autojump_clock) -> None:
    async with client_for(_slow_server(), max_retries=0) as groq:
        assert await _read_all(groq, timeout=30.0) > 50


async def test_a_slow_reader_does_not_use_up_the_servers_time(autojump_clock) -> None:
    fast = make_emulator(tokens_per_chunk=1, tokens_per_second=1e9, completion_tokens=(100, 100))
    async with client_for(fast, max_retries=0) as groq:
        # 100 chunks read a second apart: 100 s of reading against a 5 s timeout, and the server was quick.
        assert await _read_all(groq, timeout=5.0, pause=1.0) > 50
