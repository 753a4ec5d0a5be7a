"""``client.responses`` (Groq's Responses API) end to end against the in-process emulator, plus scripted streams."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import jsonschema
import pytest
import trio

import orchestrator
from orchestrator import ModelDecommissionedError, ModelError, StreamError, ValidationError
from actors._job import Job
from actors._observer import NullObserver
from orchestrator._responses import ResponseStream
from orchestrator._responses_wire import Response, ResponseEvent, estimate_response_tokens

from .helpers import EMULATOR_URL, KEY, client_for, make_emulator

MODEL = "openai/gpt-oss-20b"
PLAIN = "qwen/qwen3.6-27b"  # a catalogued model without Groq's built-in tools
#: Qwen reasons unless told not to (efforts none/default): these tests want the answer alone.
NO_THINKING = {"effort": "none"}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
        "required": ["city", "unit"],
    },
}


class TestCreate:
    async def test_create_returns_a_typed_response_with_usage(self, autojump_clock: trio.abc.Clock) -> None:
        """A plain call gives a Response: resp_ id, a message item with output_text, and usage in Groq's shape."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            reply = await groq.responses.create(
                model=MODEL, input="Tell me a fun fact about the moon.", instructions="Be brief.", max_output_tokens=200
            )
        assert isinstance(reply, Response)
        assert reply.id.startswith("resp_") and reply.object == "response" and reply.status == "completed"
        messages = [item for item in reply.output if item.type == "message"]
        assert len(messages) == 1 and messages[0].role == "assistant" and messages[0].id.startswith("msg_")
        assert reply.output_text and reply.output_text == messages[0].text
        assert reply.usage is not None and 0 < reply.usage.output_tokens <= 200
        # The emulator reports the client's own estimate as input_tokens: both use one rule.
        expected = estimate_response_tokens("Tell me a fun fact about the moon.", instructions="Be brief.")
        assert reply.usage.input_tokens == expected
        assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens
        # gpt-oss reasons: a reasoning item comes first, and its tokens are part of output_tokens.
        assert reply.output[0].type == "reasoning" and reply.output[0].text
        assert reply.usage.output_tokens_details is not None and reply.usage.output_tokens_details.reasoning_tokens > 0
        assert emulator.stats().responses_by_status == {200: 1}

    async def test_a_small_max_output_tokens_makes_an_incomplete_response(self, autojump_clock: trio.abc.Clock) -> None:
        """When max_output_tokens cuts the answer, status is incomplete with reason max_output_tokens."""
        async with client_for(make_emulator(completion_tokens=(400, 400))) as groq:
            reply = await groq.responses.create(
                model=PLAIN, input="Write a long essay", max_output_tokens=20, reasoning=NO_THINKING
            )
        assert reply.status == "incomplete"
        assert reply.incomplete_details is not None and reply.incomplete_details.reason == "max_output_tokens"
        assert reply.usage is not None and reply.usage.output_tokens == 20

    async def test_json_schema_format_returns_an_instance(self, autojump_clock: trio.abc.Clock) -> None:
        """text.format json_schema gives output_text that parses and validates against the schema."""
        schema = {
            "type": "object",
            "properties": {"product": {"type": "string"}, "rating": {"type": "number"}},
            "required": ["product", "rating"],
            "additionalProperties": False,
        }
        async with client_for(make_emulator()) as groq:
            reply = await groq.responses.create(
                model=MODEL, input="I love these headphones, 4.5 stars",
                text={"format": {"type": "json_schema", "name": "review", "schema": schema}}, max_output_tokens=2000,
            )
        jsonschema.validate(json.loads(reply.output_text), schema)


class TestStream:
    async def test_events_come_in_order_and_the_deltas_join_into_the_text(self, autojump_clock: trio.abc.Clock) -> None:
        """created, in_progress, item/part added, deltas, done events, completed; sequence numbers count from 0."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            stream = await groq.responses.create(
                model=PLAIN, input="Tell me a story", max_output_tokens=300, reasoning=NO_THINKING, stream=True
            )
            assert isinstance(stream, ResponseStream)
            async with stream:
                events = [event async for event in stream]
        assert all(isinstance(event, ResponseEvent) for event in events)
        assert [event.sequence_number for event in events] == list(range(len(events)))
        kinds = [event.type for event in events]
        deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
        assert deltas
        assert kinds[:4] == [
            "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        ]
        assert kinds[4 : 4 + len(deltas)] == ["response.output_text.delta"] * len(deltas)
        assert kinds[4 + len(deltas) :] == [
            "response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed",
        ]
        text = "".join(delta or "" for delta in deltas)
        assert text == stream.text == events[-4].text == events[-2].item.text
        final = events[-1].response
        assert final is not None and final.status == "completed" and final.output_text == text
        assert stream.response is final and stream.usage is final.usage and final.usage.output_tokens > 0
        assert events[0].response is not None and events[0].response.status == "in_progress"
        assert emulator.stats().streams_completed == 1

    async def test_final_reads_the_rest_and_returns_the_response(self, autojump_clock: trio.abc.Clock) -> None:
        """final() consumes the stream and returns the completed Response, reasoning item included."""
        async with client_for(make_emulator()) as groq:
            async with await groq.responses.create(model=MODEL, input="Hi", stream=True) as stream:
                final = await stream.final()
        assert final.status == "completed"
        assert [item.type for item in final.output] == ["reasoning", "message"]
        assert final.output_text == stream.text

    async def test_a_stream_cut_midway_is_a_stream_error(self, autojump_clock: trio.abc.Clock) -> None:
        """Without its terminal event the stream is broken: StreamError, carrying the text received so far."""
        async with client_for(make_emulator(faults=["drop-mid-stream:chunks=8"]), max_retries=0) as groq:
            with pytest.raises(StreamError) as caught:
                async with await groq.responses.create(model=PLAIN, input="Tell me a story", stream=True) as stream:
                    async for _ in stream:
                        pass
        assert caught.value.partial_content == stream.text


class TestTools:
    async def test_required_tool_choice_returns_a_function_call(self, autojump_clock: trio.abc.Clock) -> None:
        """tool_choice=required: a function_call item whose arguments match the tool's schema."""
        async with client_for(make_emulator()) as groq:
            reply = await groq.responses.create(
                model=MODEL, input="What's the weather in Paris?", tools=[WEATHER], tool_choice="required"
            )
        (call,) = reply.function_calls
        assert call.name == "get_weather" and call.call_id and call.status == "completed"
        jsonschema.validate(json.loads(call.arguments or ""), WEATHER["parameters"])

    async def test_streamed_arguments_join_into_the_done_arguments(self, autojump_clock: trio.abc.Clock) -> None:
        """function_call_arguments.delta events join into the .done event's arguments and the item's."""
        async with client_for(make_emulator()) as groq:
            async with await groq.responses.create(
                model=MODEL, input="weather?", tools=[WEATHER], tool_choice={"type": "function", "name": "get_weather"},
                stream=True,
            ) as stream:
                events = [event async for event in stream]
        pieces = [e.delta for e in events if e.type == "response.function_call_arguments.delta"]
        (done,) = [e for e in events if e.type == "response.function_call_arguments.done"]
        assert pieces and "".join(p or "" for p in pieces) == done.arguments
        assert stream.response is not None and stream.response.function_calls[0].arguments == done.arguments

    async def test_a_conversation_goes_on_with_the_output_items_sent_back(self, autojump_clock: trio.abc.Clock) -> None:
        """Groq keeps no state: the previous output (our Structs) plus a function_call_output is the next input."""
        async with client_for(make_emulator()) as groq:
            first = await groq.responses.create(model=MODEL, input="weather in Paris?", tools=[WEATHER],
                                                tool_choice="required")
            call = first.function_calls[0]
            history: list[Any] = [{"role": "user", "content": "weather in Paris?"}, *first.output]
            history.append({"type": "function_call_output", "call_id": call.call_id, "output": '{"temp": 21}'})
            second = await groq.responses.create(model=MODEL, input=history, tools=[WEATHER], tool_choice="none",
                                                 max_output_tokens=300)
        assert second.output_text and not second.function_calls


class TestValidation:
    @pytest.mark.parametrize(
        ("params", "field", "rule"),
        [
            ({"input": "  "}, "input", "not_empty"),
            ({"input": []}, "input", "not_empty"),
            ({"input": [{"role": "robot", "content": "hi"}]}, "input[0].role", "allowed_values"),
            ({"max_output_tokens": 0}, "max_output_tokens", "range"),
            ({"max_output_tokens": 65_537}, "max_output_tokens", "model_max_completion_tokens"),
            ({"temperature": 2.5}, "temperature", "range"),
            ({"top_p": -0.1}, "top_p", "range"),
            ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0].function", "flat_function_tool"),
            ({"tools": [{"type": "function", "name": "bad name"}]}, "tools[0].name", "tool_name_pattern"),
            ({"tools": [{"type": "web_search"}]}, "tools[0].type", "allowed_values"),
            ({"tools": [WEATHER], "tool_choice": {"type": "function", "name": "nope"}}, "tool_choice.name",
             "tool_choice_unknown_function"),
            ({"tool_choice": "required"}, "tool_choice", "tool_choice_without_tools"),
            ({"previous_response_id": "resp_1"}, "previous_response_id", "unsupported_on_groq"),
            ({"store": True}, "store", "unsupported_on_groq"),
            ({"truncation": "auto"}, "truncation", "unsupported_on_groq"),
            ({"metadata": {str(i): "v" for i in range(17)}}, "metadata", "max_metadata"),
            ({"reasoning": {"effort": "extreme"}}, "reasoning.effort", "allowed_values"),
            ({"text": {"format": {"type": "xml"}}}, "text.format.type", "allowed_values"),
            ({"temprature": 1}, "temprature", "unknown_parameter"),
        ],
    )
    async def test_a_bad_request_is_refused_before_sending(
        self, params: dict[str, Any], field: str, rule: str, autojump_clock: trio.abc.Clock
    ) -> None:
        """Each broken rule is a ValidationError naming the field, its value and the rule; nothing is sent."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            with pytest.raises(ValidationError) as caught:
                await groq.responses.create(**{"model": MODEL, "input": "hi", **params})
        assert (caught.value.field, caught.value.rule) == (field, rule)
        assert field in str(caught.value)
        assert emulator.stats().requests == 0

    async def test_model_rules(self, autojump_clock: trio.abc.Clock) -> None:
        """Audio models and built-in tools on the wrong model are refused locally; retired ones name their end."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            with pytest.raises(ValidationError) as caught:
                await groq.responses.create(model="whisper-large-v3", input="hi")
            assert (caught.value.field, caught.value.rule) == ("model", "responses_model")
            with pytest.raises(ValidationError) as caught:
                await groq.responses.create(model=PLAIN, input="hi", tools=[{"type": "browser_search"}])
            assert caught.value.rule == "model_lacks_builtin_tool"
            with pytest.raises(ModelDecommissionedError):
                await groq.responses.create(model="llama-3.3-70b-versatile", input="hi")
        assert emulator.stats().requests == 0

    async def test_an_unknown_model_is_groqs_404_without_retries(self, autojump_clock: trio.abc.Clock) -> None:
        """A model the catalog does not know is sent (as for chat) and Groq's 404 comes back as ModelError."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            with pytest.raises(ModelError) as caught:
                await groq.responses.create(model="acme/unknown-model", input="hi")
        assert caught.value.status == 404 and "acme/unknown-model" in str(caught.value)
        assert emulator.stats().requests == 1


class TestScheduling:
    async def test_a_tiny_tpm_limit_makes_the_client_wait_not_get_429s(self, autojump_clock: trio.abc.Clock) -> None:
        """With 600 TPM, four 207-token calls do not fit at once: the budget holds some back; the server refuses none."""
        limits = (1_000, 100_000, 600, 1_000_000)
        emulator = make_emulator(limits={MODEL: limits}, completion_tokens=(200, 200))
        client_limits = {MODEL: orchestrator.ModelLimits(rpm=1_000, rpd=100_000, tpm=600, tpd=1_000_000)}
        replies: list[Response] = []
        async with client_for(emulator, limits=client_limits) as groq:

            async def one(i: int) -> None:
                replies.append(await groq.responses.create(model=MODEL, input=f"question {i}", max_output_tokens=200))

            async with trio.open_nursery() as nursery:
                for i in range(4):
                    nursery.start_soon(one, i)
            statistics = groq.statistics()
        assert len(replies) == 4 and all(reply.status == "completed" for reply in replies)
        assert emulator.stats().rate_limited == 0 and statistics.rate_limited == 0
        # 4 x 207 tokens against a 600-token minute refilling 10 a second: the last ones waited ~23 s for tokens.
        assert trio.current_time() >= 20

    async def test_usage_reaches_the_budget_reconciliation(self, autojump_clock: trio.abc.Clock) -> None:
        """The usage of a response and of a stream's terminal event is handed to reconcile (the observer sees it)."""
        seen: list[tuple[str, int, int]] = []

        class Recorder(NullObserver):
            def usage_observed(self, job: Job, usage: Any) -> None:
                seen.append((job.path, usage.prompt_tokens, usage.completion_tokens))

        async with client_for(make_emulator(completion_tokens=(20, 20)), observer=Recorder()) as groq:
            reply = await groq.responses.create(model=PLAIN, input="hi", max_output_tokens=4_000, reasoning=NO_THINKING)
            async with await groq.responses.create(model=PLAIN, input="hi", reasoning=NO_THINKING, stream=True) as stream:
                final = await stream.final()
        assert reply.usage is not None and final.usage is not None
        assert seen == [
            ("/responses", reply.usage.input_tokens, reply.usage.output_tokens),
            ("/responses", final.usage.input_tokens, final.usage.output_tokens),
        ]
        assert reply.usage.output_tokens == 20  # reconciled down from the 4,000 charged up front


# --------------------------------------------------------------------------- scripted streams (no emulator)


def _event(kind: str, **fields: Any) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **fields})}\n\n".encode()


_RESPONSE = {"id": "resp_1", "object": "response", "status": "in_progress", "model": MODEL, "output": []}
_USAGE = {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7, "input_tokens_details": {"cached_tokens": 0}}


class _Pieces(httpx.AsyncByteStream):
    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.pieces:
            yield piece


def _scripted(pieces: list[bytes]) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/responses")
        headers = {"content-type": "text/event-stream", "x-request-id": "req_scripted"}
        return httpx.Response(200, headers=headers, stream=_Pieces(pieces))

    return handler


async def _read(pieces: list[bytes]) -> tuple[ResponseStream, list[ResponseEvent]]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(_scripted(pieces))) as http:
        async with orchestrator.open_client(api_key=KEY, base_url=EMULATOR_URL, http_client=http, max_retries=0) as groq:
            async with await groq.responses.create(model=MODEL, input="hi", stream=True) as stream:
                return stream, [event async for event in stream]


class TestScriptedStreams:
    async def test_done_after_the_terminal_event_is_accepted(self, autojump_clock: trio.abc.Clock) -> None:
        """A server that also sends data: [DONE] (as for chat) ends the stream cleanly too."""
        completed = {**_RESPONSE, "status": "completed", "usage": _USAGE}
        stream, events = await _read([
            _event("response.created", sequence_number=0, response=_RESPONSE),
            _event("response.output_text.delta", sequence_number=1, item_id="msg_1", output_index=0, content_index=0,
                   delta="Hi"),
            _event("response.completed", sequence_number=2, response=completed),
            b"data: [DONE]\n\n",
        ])
        assert [event.type for event in events][-1] == "response.completed" and stream.text == "Hi"
        assert stream.usage is not None and stream.usage.input_tokens == 5

    async def test_a_failed_response_raises(self, autojump_clock: trio.abc.Clock) -> None:
        """response.failed surfaces as StreamError with the server's code and message."""
        failed = {**_RESPONSE, "status": "failed", "error": {"code": "server_error", "message": "model crashed"}}
        with pytest.raises(StreamError, match="model crashed") as caught:
            await _read([
                _event("response.created", sequence_number=0, response=_RESPONSE),
                _event("response.failed", sequence_number=1, response=failed),
            ])
        assert caught.value.code == "server_error"

    async def test_an_error_event_raises(self, autojump_clock: trio.abc.Clock) -> None:
        """An ``event: error`` mid-stream is a StreamError carrying the message."""
        with pytest.raises(StreamError, match="overloaded"):
            await _read([
                _event("response.created", sequence_number=0, response=_RESPONSE),
                _event("error", sequence_number=1, code="server_error", message="overloaded", param=None),
            ])

    async def test_a_body_ending_before_the_terminal_event_is_broken(self, autojump_clock: trio.abc.Clock) -> None:
        """The body ends after a delta: not a clean end (no terminal event, no [DONE])."""
        with pytest.raises(StreamError, match="before"):
            await _read([
                _event("response.created", sequence_number=0, response=_RESPONSE),
                _event("response.output_text.delta", sequence_number=1, item_id="m", output_index=0, content_index=0,
                       delta="x"),
            ])
