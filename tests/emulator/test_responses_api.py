"""The emulator's ``POST /openai/v1/responses``: Groq's shape, OpenAI's event stream, the chat gates; read by the openai SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx
import jsonschema
import openai
import pytest
import trio
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseReasoningItem,
    ResponseTextDeltaEvent,
)

from orchestrator.emulator import EmulatorSettings
from tests.emulator.conftest import KEY, MODEL, Harness, open_harness

PLAIN = "qwen/qwen3.6-27b"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def sdk(harness: Harness) -> openai.AsyncOpenAI:
    """The official openai SDK pointed at the emulator (Groq's docs configure it this way), without retries."""
    if harness.kind == "in-process":
        http_client = httpx.AsyncClient(transport=harness.emulator.transport())
    else:
        http_client = httpx.AsyncClient()
    return openai.AsyncOpenAI(base_url=harness.base_url, api_key=KEY, http_client=http_client, max_retries=0)


def sse_events(body: str) -> list[tuple[str, dict[str, Any]]]:
    """(event name, data) of each block of an event-stream body."""
    events = []
    for block in body.split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


class TestWire:
    async def test_create_answers_in_groqs_shape_with_the_chat_headers(self, harness: Harness) -> None:
        """A response object like Groq's example, with x-request-id and the x-ratelimit-* headers of chat."""
        reply = await harness.client.post("/responses", json={"model": MODEL, "input": "Tell me a fun fact"})
        assert reply.status_code == 200 and reply.headers["content-type"] == "application/json"
        assert reply.headers["x-request-id"].startswith("req_")
        assert {"x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests"} <= set(reply.headers)
        body = reply.json()
        assert body["id"].startswith("resp_") and body["object"] == "response" and body["status"] == "completed"
        assert body["previous_response_id"] is None and body["store"] is False and body["truncation"] == "disabled"
        assert [item["type"] for item in body["output"]] == ["reasoning", "message"]
        reasoning, message = body["output"]
        assert reasoning["content"][0]["type"] == "reasoning_text" and reasoning["summary"] == []
        assert message["role"] == "assistant" and message["id"].startswith("msg_")
        assert message["content"][0]["type"] == "output_text" and message["content"][0]["annotations"] == []
        usage = body["usage"]
        assert usage["input_tokens_details"] == {"cached_tokens": 0}
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert usage["output_tokens_details"]["reasoning_tokens"] > 0

    async def test_stream_sends_named_events_in_openais_order(self, harness: Harness) -> None:
        """``event:`` lines name each event, sequence numbers count up, deltas join into the done text; no [DONE]."""
        body = {"model": PLAIN, "input": "Tell me a story", "reasoning": {"effort": "none"}, "stream": True}
        reply = await harness.client.post("/responses", json=body)
        assert reply.status_code == 200 and reply.headers["content-type"] == "text/event-stream"
        assert "[DONE]" not in reply.text
        events = sse_events(reply.text)
        assert all(name == data["type"] for name, data in events)
        assert [data["sequence_number"] for _, data in events] == list(range(len(events)))
        names = [name for name, _ in events]
        deltas = [data["delta"] for name, data in events if name == "response.output_text.delta"]
        assert names == [
            "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
            *["response.output_text.delta"] * len(deltas),
            "response.output_text.done", "response.content_part.done", "response.output_item.done",
            "response.completed",
        ]
        done = events[-4][1]
        completed = events[-1][1]["response"]
        assert "".join(deltas) == done["text"] == completed["output"][0]["content"][0]["text"]
        assert events[2][1]["item"]["id"] == done["item_id"] == completed["output"][0]["id"]
        assert completed["usage"]["output_tokens"] > 0 and events[0][1]["response"]["usage"] is None
        assert harness.emulator.stats().streams_completed == 1

    async def test_required_tool_choice_streams_a_function_call(self, harness: Harness) -> None:
        """A function_call item; its argument deltas join into the done arguments, which fit the schema."""
        body = {"model": MODEL, "input": "weather in Paris", "tools": [WEATHER], "tool_choice": "required", "stream": True}
        events = sse_events((await harness.client.post("/responses", json=body)).text)
        added = [data["item"] for name, data in events if name == "response.output_item.added"]
        assert added[-1]["type"] == "function_call" and added[-1]["arguments"] == ""
        pieces = [data["delta"] for name, data in events if name == "response.function_call_arguments.delta"]
        (done,) = [data for name, data in events if name == "response.function_call_arguments.done"]
        assert "".join(pieces) == done["arguments"] and done["name"] == "get_weather"
        jsonschema.validate(json.loads(done["arguments"]), WEATHER["parameters"])
        assert events[-1][1]["response"]["output"][-1]["call_id"].startswith("call_")


class TestOpenAISdk:
    async def test_create_parses_into_the_sdks_types(self, harness: Harness) -> None:
        """responses.create (non-stream) gives the SDK's Response, its items typed, output_text filled."""
        async with sdk(harness) as client:
            reply = await client.responses.create(model=MODEL, input="Hello", instructions="Be brief",
                                                  max_output_tokens=300)
        assert isinstance(reply, Response) and reply.status == "completed"
        assert isinstance(reply.output[0], ResponseReasoningItem) and isinstance(reply.output[1], ResponseOutputMessage)
        assert reply.output_text and reply.usage is not None and reply.usage.input_tokens > 0
        assert reply.instructions == "Be brief" and reply.max_output_tokens == 300

    async def test_stream_parses_into_the_sdks_events(self, harness: Harness) -> None:
        """stream=True yields the SDK's typed events; the deltas join into the completed response's text."""
        async with sdk(harness) as client:
            stream = await client.responses.create(model=MODEL, input="Tell me a story", stream=True)
            events = [event async for event in stream]
        deltas = [event.delta for event in events if isinstance(event, ResponseTextDeltaEvent)]
        assert deltas and isinstance(events[-1], ResponseCompletedEvent)
        assert "".join(deltas) == events[-1].response.output_text

    async def test_the_sdks_stream_helper_accumulates_the_response(self, harness: Harness) -> None:
        """responses.stream() rebuilds the response from the events (it checks indices, ids and item order)."""
        async with sdk(harness) as client:
            async with client.responses.stream(model=MODEL, input="weather?", tools=[WEATHER],  # type: ignore[list-item]
                                               tool_choice="required") as stream:
                async for _ in stream:
                    pass
                final = await stream.get_final_response()
        calls = [item for item in final.output if isinstance(item, ResponseFunctionToolCall)]
        assert len(calls) == 1 and calls[0].name == "get_weather" and json.loads(calls[0].arguments)["city"]

    async def test_sdk_errors_carry_the_status_and_param(self, harness: Harness) -> None:
        """Our 400 reaches the SDK as BadRequestError naming the param; an unknown model is NotFoundError."""
        async with sdk(harness) as client:
            with pytest.raises(openai.BadRequestError) as caught:
                await client.responses.create(model=MODEL, input="hi", previous_response_id="resp_123")
            assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]
            with pytest.raises(openai.NotFoundError):
                await client.responses.create(model="acme/none", input="hi")


class TestRules:
    @pytest.mark.parametrize(
        ("extra", "param"),
        [
            ({"input": ""}, "input"),
            ({"input": 5}, "input"),
            ({"input": [{"role": "robot", "content": "hi"}]}, "input[0].role"),
            ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0].function"),
            ({"tools": [{"type": "browser_search"}], "model": PLAIN}, "tools[0].type"),
            ({"max_output_tokens": 0}, "max_output_tokens"),
            ({"max_output_tokens": 100_000}, "max_output_tokens"),  # chat's rule, its param mapped back
            ({"temperature": 3}, "temperature"),
            ({"store": True}, "store"),
            ({"truncation": "auto"}, "truncation"),
            ({"include": ["reasoning.encrypted_content"]}, "include"),
            ({"metadata": {str(i): "v" for i in range(17)}}, "metadata"),
            ({"text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format"),
            ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice.name"),
            ({"temprature": 1}, "temprature"),
        ],
    )
    async def test_bad_requests_are_400s_naming_the_param(self, harness: Harness, extra: dict[str, Any], param: str) -> None:
        """Each broken rule is Groq's 400 invalid_request_error with the Responses field as ``param``."""
        reply = await harness.client.post("/responses", json={"model": MODEL, "input": "hi", **extra})
        assert reply.status_code == 400, reply.text
        error = reply.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param

    async def test_models_and_keys_pass_the_chat_gates(self, harness: Harness) -> None:
        """404 for an unknown model, 400 model_decommissioned for a retired one, 400 for Whisper, 401 without a key."""
        unknown = await harness.client.post("/responses", json={"model": "acme/none", "input": "hi"})
        assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "model_not_found")
        retired = await harness.client.post("/responses", json={"model": "llama-3.3-70b-versatile", "input": "hi"})
        assert (retired.status_code, retired.json()["error"]["code"]) == (400, "model_decommissioned")
        audio = await harness.client.post("/responses", json={"model": "whisper-large-v3", "input": "hi"})
        assert (audio.status_code, audio.json()["error"]["param"]) == (400, "model")
        anonymous = await harness.client.post("/responses", json={"model": MODEL, "input": "hi"},
                                              headers={"authorization": "Bearer nope"})
        assert anonymous.status_code == 401
        get = await harness.client.get("/responses")
        assert get.status_code == 405


# --------------------------------------------------------------------------- limits and faults (virtual time)

SCALED = EmulatorSettings(time_scale=60.0, limits={MODEL: (1_000, 100_000, 600, 1_000_000)}, completion_tokens=(200, 200))
# Input "hi" costs 5 tokens (4 per message + 1): with max_output_tokens=100 each request is charged 105, uses 105.
BODY = {"model": MODEL, "input": "hi", "max_output_tokens": 100}


async def test_responses_share_chats_rate_limits(autojump_clock: trio.testing.MockClock) -> None:
    """The 6th 105-token request against 600 TPM is a 429 with retry-after, and chat and responses share the budget."""
    async with open_harness("in-process", SCALED) as harness:
        remaining = []
        for _ in range(4):
            reply = await harness.client.post("/responses", json=BODY)
            assert reply.status_code == 200
            remaining.append(int(reply.headers["x-ratelimit-remaining-tokens"]))
        assert remaining == [495, 390, 285, 180]
        chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 100}
        assert (await harness.client.post("/chat/completions", json=chat)).headers["x-ratelimit-remaining-tokens"] == "75"
        refused = await harness.client.post("/responses", json=BODY)
        assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        too_large = await harness.client.post("/responses", json={**BODY, "max_output_tokens": 1_000})
        assert too_large.status_code == 413
        assert harness.emulator.stats().rate_limited == 1


async def test_unused_output_budget_is_given_back(autojump_clock: trio.testing.MockClock) -> None:
    """Charged 5 + 1000 at admission, a 20-token answer is reconciled to 25 (streamed or not)."""
    settings = EmulatorSettings(limits={PLAIN: (100, 1_000, 100_000, 1_000_000)}, completion_tokens=(20, 20))
    async with open_harness("in-process", settings) as harness:
        body = {"model": PLAIN, "input": "hi", "max_output_tokens": 1_000, "reasoning": {"effort": "none"}}
        await harness.client.post("/responses", json=body)
        await harness.client.post("/responses", json={**body, "stream": True})
        after = await harness.client.post("/responses", json={**body, "max_output_tokens": 1})
        assert after.headers["x-ratelimit-remaining-tokens"] == str(100_000 - 25 - 25 - 6)


async def test_faults_apply_to_responses(autojump_clock: trio.testing.MockClock) -> None:
    """Status faults answer /responses like chat; a mid-stream drop cuts the event stream before its end."""
    async with open_harness("in-process", EmulatorSettings(faults=["503:every=2"])) as harness:
        statuses = [(await harness.client.post("/responses", json=BODY)).status_code for _ in range(2)]
    assert statuses == [200, 503]
    async with open_harness("in-process", EmulatorSettings(faults=["drop-mid-stream:chunks=3"])) as harness:
        with pytest.raises(httpx.RemoteProtocolError):
            await harness.client.post("/responses", json={**BODY, "stream": True})
        assert harness.emulator.stats().streams_completed == 0
