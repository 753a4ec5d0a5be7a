"""Stream pumps and ChatStream against scripted SSE bodies (httpx.MockTransport, no emulator)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import trio

import orchestrator
from actors._stream import PARTIAL_CONTENT_LIMIT

from ..helpers import EMULATOR_URL, KEY, user

MODEL = "openai/gpt-oss-20b"
HEADERS = {"content-type": "text/event-stream", "x-request-id": "req_scripted"}


def chunk(content: str | None = None, *, finish: str | None = None, usage: dict | None = None, choices: bool = True) -> bytes:
    body: dict = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL}
    body["choices"] = (
        [{"index": 0, "delta": {} if content is None else {"content": content}, "finish_reason": finish}] if choices else []
    )
    if usage is not None:
        body["x_groq"] = {"id": "req_scripted", "usage": usage}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8, "queue_time": 0.01}


class Pieces(httpx.AsyncByteStream):
    """A response body that yields the given byte pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def scripted(*responses: tuple[int, list[bytes]]) -> Callable[[httpx.Request], httpx.Response]:
    """A MockTransport handler answering successive requests with the given (status, body pieces)."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        status, pieces = queue.pop(0)
        headers = HEADERS if status == 200 else {"content-type": "application/json", "x-request-id": "req_err"}
        return httpx.Response(status, headers=headers, stream=Pieces(pieces))

    return handler


async def stream_text(handler: Callable[[httpx.Request], httpx.Response], **overrides: object) -> tuple[str, object]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        async with orchestrator.open_client(api_key=KEY, base_url=EMULATOR_URL, http_client=http, **overrides) as groq:
            async with await groq.chat.completions.create(model=MODEL, messages=user("hi"), stream=True) as stream:
                text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    return text, stream.usage


class TestPump:
    async def test_events_split_anywhere_with_comments_and_crlf(self, autojump_clock: trio.abc.Clock) -> None:
        """Events cut across reads, CRLF line ends and keep-alive comments decode to the same text."""
        body = b": keep-alive\r\n\r\n" + chunk("Hel").replace(b"\n", b"\r\n") + chunk("lo") + chunk(finish="stop", usage=USAGE)
        body += b"data: [DONE]\n\n"
        pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
        text, usage = await stream_text(scripted((200, pieces)))
        assert text == "Hello"
        assert usage.total_tokens == 8

    async def test_include_usage_chunk_with_empty_choices(self, autojump_clock: trio.abc.Clock) -> None:
        """A final chunk with no choices and a top-level usage sets the stream's usage."""
        final = json.dumps(
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL, "choices": [], "usage": USAGE}
        ).encode()
        text, usage = await stream_text(scripted((200, [chunk("x"), b"data: " + final + b"\n\n", b"data: [DONE]\n\n"])))
        assert text == "x" and usage.prompt_tokens == 5

    async def test_error_event_carries_groq_fields(self, autojump_clock: trio.abc.Clock) -> None:
        """An `event: error` mid-stream raises StreamError with Groq's code and failed_generation."""
        error = {
            "error": {
                "message": "Failed to call a function.",
                "type": "invalid_request_error",
                "code": "tool_use_failed",
                "failed_generation": "<function=f>{}</function>",
                "status_code": 400,
            }
        }
        body = [chunk("partial "), b"event: error\ndata: " + json.dumps(error).encode() + b"\n\n"]
        with pytest.raises(orchestrator.StreamError) as caught:
            await stream_text(scripted((200, body)))
        assert caught.value.code == "tool_use_failed" and caught.value.status == 400
        assert caught.value.failed_generation == "<function=f>{}</function>"
        assert caught.value.partial_content == "partial "
        assert not caught.value.retryable

    async def test_data_error_object_is_an_error(self, autojump_clock: trio.abc.Clock) -> None:
        """A `data: {"error": ...}` event raises StreamError naming the server's message."""
        body = [b'data: {"error": {"message": "overloaded", "type": "server_error"}}\n\n']
        with pytest.raises(orchestrator.StreamError, match="overloaded"):
            await stream_text(scripted((200, body)))

    async def test_a_stream_that_ends_without_done_is_an_error(self, autojump_clock: trio.abc.Clock) -> None:
        """A body that stops before `data: [DONE]` raises StreamError, keeping the text."""
        with pytest.raises(orchestrator.StreamError, match=r"before \[DONE\]") as caught:
            await stream_text(scripted((200, [chunk("abc")])))
        assert caught.value.partial_content == "abc"

    async def test_an_error_status_before_the_stream_is_retried(self, autojump_clock: trio.abc.Clock) -> None:
        """A 503 answered before any event is retried like any request; the retry streams normally."""
        unavailable = (503, [b'{"error": {"message": "busy", "type": "server_error"}}'])
        ok = (200, [chunk("fine"), chunk(finish="stop", usage=USAGE), b"data: [DONE]\n\n"])
        text, _ = await stream_text(scripted(unavailable, ok))
        assert text == "fine"

    async def test_partial_content_is_bounded(self, autojump_clock: trio.abc.Clock) -> None:
        """However long the stream, a StreamError keeps at most the last 64 KiB of text."""
        pieces = [chunk("x" * 1000) for _ in range(200)] + [chunk("END")]
        with pytest.raises(orchestrator.StreamError) as caught:
            await stream_text(scripted((200, pieces)))
        kept = caught.value.partial_content
        assert len(kept) == PARTIAL_CONTENT_LIMIT and kept.endswith("xEND")

    async def test_batches_hand_over_one_list_per_read(self, autojump_clock: trio.abc.Clock) -> None:
        """batches() yields the chunks of each network read together (the very first chunk goes ahead alone)."""
        first = chunk("a") + chunk("b") + chunk("c")
        second = chunk("d") + chunk(finish="stop", usage=USAGE) + b"data: [DONE]\n\n"
        async with httpx.AsyncClient(transport=httpx.MockTransport(scripted((200, [first, second])))) as http:
            async with orchestrator.open_client(api_key=KEY, base_url=EMULATOR_URL, http_client=http) as groq:
                async with await groq.chat.completions.create(model=MODEL, messages=user("hi"), stream=True) as stream:
                    sizes = [len(batch) async for batch in stream.batches()]
        assert sizes == [1, 2, 2]
        assert repr(stream) == "<ChatStream request_id='req_scripted'>"
