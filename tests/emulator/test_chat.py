"""Chat completions, JSON and SSE, in Groq's wire format: in-process and over real HTTP."""

from __future__ import annotations

import json
import re

import groq
import jsonschema
import msgspec
import pytest

from orchestrator._tokens import estimate_prompt_tokens
from orchestrator._wire import chat_request_from, decode_chat_chunk, decode_chat_response
from tests.emulator.conftest import MODEL, VISION_MODEL, Harness, chat

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 2},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "unit"],
            "additionalProperties": False,
        },
    },
}
TIME = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string", "enum": ["UTC", "CET", "PST"]}},
            "required": ["zone"],
        },
    },
}
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
}


async def events(harness: Harness, body: dict[str, object]) -> list[bytes]:
    """POST a streaming request and return the data payloads of its SSE events."""
    async with harness.client.stream("POST", "/chat/completions", json={**body, "stream": True}) as response:
        assert response.status_code == 200 and response.headers["content-type"] == "text/event-stream"
        text = (await response.aread()).decode()
    assert text.endswith("\n\n")
    return [block.removeprefix("data: ").encode() for block in text.split("\n\n") if block]


def chunks_of(payloads: list[bytes]) -> list[msgspec.Struct]:
    assert payloads[-1] == b"[DONE]"
    return [decode_chat_chunk(p) for p in payloads[:-1]]


def arguments_by_index(chunks: list) -> dict[int, dict[str, str]]:
    """Reassemble streamed tool-call fragments: index -> {id, name, arguments}."""
    calls: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                if delta.function is not None:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
    return calls


class TestNonStreamed:
    async def test_groq_shape(self, harness: Harness) -> None:
        """A completion has Groq's fields: chatcmpl id, usage with timings, x_groq.id equal to x-request-id."""
        response = await harness.client.post("/chat/completions", json=chat())
        body = response.json()
        assert response.status_code == 200
        assert re.fullmatch(r"chatcmpl-[0-9a-f-]{36}", body["id"]) and body["object"] == "chat.completion"
        assert body["x_groq"]["id"] == response.headers["x-request-id"]
        assert re.fullmatch(r"req_[0-9a-z]{26}", response.headers["x-request-id"])
        # The default model caches prompts and reasons, so both detail objects follow the timings.
        assert list(body["usage"]) == [
            "queue_time", "prompt_tokens", "prompt_time", "completion_tokens", "completion_time", "total_tokens",
            "total_time", "prompt_tokens_details", "completion_tokens_details",
        ]
        assert body["system_fingerprint"].startswith("fp_") and body["model"] == MODEL

    async def test_prompt_tokens_match_client_estimate(self, harness: Harness) -> None:
        """usage.prompt_tokens is exactly the client's estimate_prompt_tokens for the same request."""
        request = chat("Some words to count, and a few more of them." * 7, tools=[WEATHER], tool_choice="none")
        body = (await harness.client.post("/chat/completions", json=request)).json()
        assert body["usage"]["prompt_tokens"] == estimate_prompt_tokens(chat_request_from(request))

    async def test_budget_cuts_with_length(self, harness: Harness) -> None:
        """max_completion_tokens smaller than the natural length gives exactly that many tokens and 'length'."""
        body = (await harness.client.post("/chat/completions", json=chat(max_completion_tokens=7))).json()
        assert (body["usage"]["completion_tokens"], body["choices"][0]["finish_reason"]) == (7, "length")

    async def test_natural_stop(self, harness: Harness) -> None:
        """With a large budget the text stops on its own with 'stop'."""
        body = (await harness.client.post("/chat/completions", json=chat(max_tokens=5000))).json()
        assert body["choices"][0]["finish_reason"] == "stop"
        assert 16 <= body["usage"]["completion_tokens"] <= 160

    async def test_deterministic_per_prompt_and_seed(self, harness: Harness) -> None:
        """The same prompt gives the same text; another request seed gives another text."""
        first = (await harness.client.post("/chat/completions", json=chat(seed=3))).json()
        again = (await harness.client.post("/chat/completions", json=chat(seed=3))).json()
        other = (await harness.client.post("/chat/completions", json=chat(seed=4))).json()
        text = [b["choices"][0]["message"]["content"] for b in (first, again, other)]
        assert text[0] == text[1] != text[2]

    async def test_stop_sequence_truncates(self, harness: Harness) -> None:
        """Output ends right before the first stop sequence, which never appears in it."""
        full = (await harness.client.post("/chat/completions", json=chat(seed=9))).json()["choices"][0]["message"]["content"]
        word = full.split()[3]
        cut = (await harness.client.post("/chat/completions", json=chat(seed=9, stop=[word, "zzz"]))).json()
        content = cut["choices"][0]["message"]["content"]
        assert (content, cut["choices"][0]["finish_reason"]) == (full[: full.index(word)], "stop")

    async def test_sdk_parses_completion(self, harness: Harness) -> None:
        """The official SDK parses a completion, including Groq's usage timings."""
        async with harness.sdk() as sdk:
            completion = await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
        assert completion.choices[0].message.content and completion.usage.total_time == 0.0
        assert completion.x_groq.id.startswith("req_")

    async def test_our_decoder_parses_completion(self, harness: Harness) -> None:
        """Our own wire decoder reads the emulator's body into a ChatResponse."""
        response = await harness.client.post("/chat/completions", json=chat(max_tokens=3))
        parsed = decode_chat_response(response.content)
        assert (parsed.usage.completion_tokens, parsed.choices[0].finish_reason) == (3, "length")


class TestStreamed:
    async def test_event_sequence(self, harness: Harness) -> None:
        """Role chunk with x_groq.id first, reasoning then content chunks, finish chunk with x_groq.usage, usage chunk, [DONE]."""
        payloads = await events(harness, chat(max_tokens=60, stream_options={"include_usage": True}))
        chunks = chunks_of(payloads)
        first, *middle, last, usage_chunk = chunks
        assert (first.choices[0].delta.role, first.choices[0].delta.content) == ("assistant", "")
        assert first.x_groq.id.startswith("req_")
        kinds = ["reasoning" if c.choices[0].delta.reasoning else "content" for c in middle]
        assert all(bool(c.choices[0].delta.reasoning) != bool(c.choices[0].delta.content) for c in middle)
        assert kinds == sorted(kinds, key=lambda kind: kind != "reasoning") and {"reasoning", "content"} <= set(kinds)
        usage = last.x_groq.usage
        assert usage.completion_tokens == len(middle) and usage.completion_tokens_details.reasoning_tokens == kinds.count("reasoning")
        assert last.x_groq.id == first.x_groq.id and last.choices[0].finish_reason in ("stop", "length")
        assert usage_chunk.choices == [] and usage_chunk.usage == last.x_groq.usage
        assert len({c.id for c in chunks}) == 1

    async def test_stream_text_equals_non_stream_text(self, harness: Harness) -> None:
        """Streaming the same request yields the same text as the non-streamed answer."""
        whole = (await harness.client.post("/chat/completions", json=chat(seed=5, stop="."))).json()
        chunks = chunks_of(await events(harness, chat(seed=5, stop=".")))
        streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert streamed == whole["choices"][0]["message"]["content"]

    async def test_no_usage_chunk_unless_asked(self, harness: Harness) -> None:
        """Without include_usage every chunk has choices and no top-level usage."""
        chunks = chunks_of(await events(harness, chat(max_tokens=2)))
        assert all(c.choices and c.usage is None for c in chunks)

    async def test_sdk_streams_with_usage(self, harness: Harness) -> None:
        """The SDK reads the stream; usage arrives in x_groq of the finish chunk and in the usage chunk."""
        async with harness.sdk() as sdk:
            stream = await sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True, max_tokens=6,
                extra_body={"stream_options": {"include_usage": True}},  # this SDK has no stream_options argument
            )
            chunks = [chunk async for chunk in stream]
        assert chunks[-2].x_groq.usage.completion_tokens == 6 and chunks[-1].usage.completion_tokens == 6


class TestTools:
    async def test_required_calls_every_tool_in_parallel(self, harness: Harness) -> None:
        """tool_choice=required with two tools returns two calls whose arguments satisfy the schemas."""
        body = (await harness.client.post("/chat/completions", json=chat(tools=[WEATHER, TIME], tool_choice="required"))).json()
        choice = body["choices"][0]
        calls = choice["message"]["tool_calls"]
        assert choice["finish_reason"] == "tool_calls" and [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
        for call, tool in zip(calls, (WEATHER, TIME)):
            jsonschema.validate(json.loads(call["function"]["arguments"]), tool["function"]["parameters"])
            assert call["id"].startswith("call_") and call["type"] == "function"

    async def test_parallel_false_calls_one(self, harness: Harness) -> None:
        """parallel_tool_calls=false limits the answer to one call."""
        body = chat(tools=[WEATHER, TIME], tool_choice="required", parallel_tool_calls=False)
        calls = (await harness.client.post("/chat/completions", json=body)).json()["choices"][0]["message"]["tool_calls"]
        assert len(calls) == 1

    async def test_named_choice(self, harness: Harness) -> None:
        """A named tool_choice calls exactly that function."""
        body = chat(tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_time"}})
        calls = (await harness.client.post("/chat/completions", json=body)).json()["choices"][0]["message"]["tool_calls"]
        assert [c["function"]["name"] for c in calls] == ["get_time"]

    async def test_auto_calls_mentioned_tool(self, harness: Harness) -> None:
        """With auto, naming a tool in the last user message calls it; plain chat answers with text."""
        mentioned = chat("Please use get_weather for Paris", tools=[WEATHER, TIME])
        plain = chat("Tell me a story", tools=[WEATHER, TIME])
        calls = (await harness.client.post("/chat/completions", json=mentioned)).json()["choices"][0]["message"]["tool_calls"]
        text = (await harness.client.post("/chat/completions", json=plain)).json()["choices"][0]
        assert [c["function"]["name"] for c in calls] == ["get_weather"] and text["finish_reason"] != "tool_calls"

    async def test_streamed_tool_calls_come_in_fragments(self, harness: Harness) -> None:
        """Streamed calls start with id and name, then the arguments in several pieces that reassemble to valid JSON."""
        chunks = chunks_of(await events(harness, chat(tools=[WEATHER, TIME], tool_choice="required")))
        calls = arguments_by_index(chunks)
        pieces = sum(1 for c in chunks for ch in c.choices for d in ch.delta.tool_calls or () if d.id is None)
        assert sorted(c["name"] for c in calls.values()) == ["get_time", "get_weather"] and pieces > 2
        jsonschema.validate(json.loads(calls[0]["arguments"]), WEATHER["function"]["parameters"])
        assert chunks[-1].choices[0].finish_reason == "tool_calls"

    async def test_sdk_reads_streamed_tool_calls(self, harness: Harness) -> None:
        """The SDK parses streamed tool-call fragments."""
        async with harness.sdk() as sdk:
            stream = await sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "call get_time"}], tools=[TIME], stream=True
            )
            chunks = [chunk async for chunk in stream]
        names = [d.function.name for c in chunks for ch in c.choices for d in ch.delta.tool_calls or () if d.function.name]
        assert names == ["get_time"]

    async def test_structured_output_over_budget_is_tool_use_failed(self, harness: Harness) -> None:
        """Tool calls that do not fit max_completion_tokens give Groq's 400 tool_use_failed with failed_generation."""
        response = await harness.client.post(
            "/chat/completions", json=chat(tools=[WEATHER], tool_choice="required", max_completion_tokens=1)
        )
        error = response.json()["error"]
        assert (response.status_code, error["code"]) == (400, "tool_use_failed") and "failed_generation" in error


class TestJsonMode:
    async def test_json_object(self, harness: Harness) -> None:
        """json_object mode returns a JSON object."""
        body = chat("Answer in json please", response_format={"type": "json_object"})
        content = (await harness.client.post("/chat/completions", json=body)).json()["choices"][0]["message"]["content"]
        assert isinstance(json.loads(content), dict)

    async def test_json_schema(self, harness: Harness) -> None:
        """json_schema mode returns an instance of the schema, streamed or not."""
        fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
        content = (await harness.client.post("/chat/completions", json=chat(response_format=fmt))).json()
        jsonschema.validate(json.loads(content["choices"][0]["message"]["content"]), SCHEMA)
        chunks = chunks_of(await events(harness, chat(response_format=fmt)))
        jsonschema.validate(json.loads("".join(c.choices[0].delta.content or "" for c in chunks)), SCHEMA)

    async def test_sdk_json_mode(self, harness: Harness) -> None:
        """The SDK receives a JSON object in json_object mode."""
        async with harness.sdk() as sdk:
            completion = await sdk.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "json please"}], response_format={"type": "json_object"}
            )
        assert isinstance(json.loads(completion.choices[0].message.content), dict)


class TestModelRules:
    async def test_vision_model_accepts_images(self, harness: Harness) -> None:
        """An image part on a vision model is answered (through the SDK)."""
        content = [{"type": "text", "text": "What is this?"}, {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
        async with harness.sdk() as sdk:
            completion = await sdk.chat.completions.create(model=VISION_MODEL, messages=[{"role": "user", "content": content}])
        assert completion.usage.prompt_tokens >= 765

    async def test_image_on_text_model_is_400(self, harness: Harness) -> None:
        """An image part on a text-only model is a Groq-style 400 naming the part."""
        content = [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
        response = await harness.client.post("/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": content}]})
        error = response.json()["error"]
        assert (response.status_code, error["type"], error["param"]) == (400, "invalid_request_error", "messages[0].content[0]")

    async def test_context_length_exceeded(self, harness: Harness) -> None:
        """Prompt plus budget beyond the window is Groq's 400 context_length_exceeded on messages."""
        response = await harness.client.post(
            "/chat/completions", json={"model": "allam-2-7b", "messages": [{"role": "user", "content": "x" * 20_000}]}
        )
        assert response.status_code == 400
        assert response.json() == {
            "error": {
                "message": "Please reduce the length of the messages or completion.",
                "type": "invalid_request_error",
                "code": "context_length_exceeded",
                "param": "messages",
            }
        }

    async def test_unknown_model_is_404(self, harness: Harness) -> None:
        """An unknown model gets 404 model_not_found, which the SDK raises as NotFoundError."""
        async with harness.sdk() as sdk:
            with pytest.raises(groq.NotFoundError, match="model_not_found"):
                await sdk.chat.completions.create(model="llama-9000", messages=[{"role": "user", "content": "hi"}])
