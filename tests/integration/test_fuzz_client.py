"""Fuzzing the client's request edge: whatever a caller passes, only GroqErrors come out, promptly.

Each example runs in its own ``trio.run`` under a ``MockClock`` that jumps ahead whenever every task
waits, so retries and backoff cost no wall time, and ``trio.fail_after`` (in that virtual time)
turns a hang into a failure. Example counts keep each test under a few seconds.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orchestrator
from orchestrator._wire import ChatRequest, chat_request_from

from ..helpers import EMULATOR_URL, KEY, make_emulator

MODEL = "llama-3.1-8b-instant"
#: Virtual seconds a call may take. A daily window may rightly park a job for up to a day (and the retry
#: policy caps a server's retry-after at 10 minutes); waiting longer than that is a hang.
PATIENCE = 25 * 3600.0


def fuzz(examples: int) -> settings:
    """Hypothesis settings for a fuzz test: no per-example deadline (trio runs vary), a fixed budget."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        report_multiple_bugs=False,  # one shrunk failure at a time keeps a failing run short
    )


def run_virtual(body: Callable[[], Awaitable[None]]) -> None:
    """Run ``body`` in a fresh trio run whose clock skips ahead whenever all tasks wait."""

    async def bounded() -> None:
        with trio.fail_after(PATIENCE):
            await body()

    trio.run(bounded, clock=trio.testing.MockClock(autojump_threshold=0))


async def consume(result: Any) -> None:
    """Read a stream to its end (a ChatResponse needs nothing)."""
    if isinstance(result, orchestrator.ChatStream):
        async with result:
            async for _chunk in result:
                pass


# ------------------------------------------------------------------------- request side

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12)
)
_json = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
#: Anything a caller might pass by mistake, JSON or not.
_odd = st.one_of(
    _json,
    st.binary(max_size=8),
    st.integers(min_value=2**63, max_value=2**80) | st.integers(min_value=-(2**80), max_value=-(2**63)),
    st.tuples(_scalars),
    st.frozensets(st.integers(), max_size=2),
    st.just(object()),
    st.just(b"\xff" * 3),
)
_CHAT_MODELS = ["llama-3.1-8b-instant", "llama-3.3-70b-versatile", "openai/gpt-oss-20b", "qwen/qwen3-32b",
                "meta-llama/llama-4-scout-17b-16e-instruct"]
_text_part = st.fixed_dictionaries({"type": st.just("text"), "text": st.text(min_size=1, max_size=20)})
_image_part = st.fixed_dictionaries({"type": st.just("image_url"), "image_url": st.fixed_dictionaries(
    {"url": st.sampled_from(["https://example.org/a.png", "data:image/png;base64,iVBORw0KGgo="])})})
_valid_message = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]),
                           "content": st.text(min_size=1, max_size=40)}),
    st.fixed_dictionaries({"role": st.just("user"),
                           "content": st.lists(_text_part | _image_part, min_size=1, max_size=3)}),
)
_valid_tool = st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
    {"name": st.from_regex(r"[a-z_]{1,10}", fullmatch=True)},
    optional={"description": st.text(max_size=10),
              "parameters": st.just({"type": "object", "properties": {"x": {"type": "string"}}})},
)})
#: Fields with values Groq accepts, so a good share of examples reach the server.
_VALID_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "temperature": st.floats(0, 2),
    "top_p": st.floats(0, 1),
    "max_completion_tokens": st.integers(1, 4000),
    "stop": st.text(min_size=1, max_size=5) | st.lists(st.text(min_size=1, max_size=5), max_size=4),
    "seed": st.integers(0, 2**31),
    "n": st.just(1),
    "frequency_penalty": st.floats(-2, 2),
    "presence_penalty": st.floats(-2, 2),
    "tools": st.lists(_valid_tool, min_size=1, max_size=2, unique_by=lambda t: t["function"]["name"]),
    "tool_choice": st.sampled_from(["auto", "none"]),
    "stream": st.booleans(),
    "user": st.text(max_size=10),
}
valid_requests = st.fixed_dictionaries(
    {"model": st.sampled_from(_CHAT_MODELS), "messages": st.lists(_valid_message, min_size=1, max_size=3)},
    optional=_VALID_FIELDS,
)
_FIELDS = [*ChatRequest.__struct_fields__, "not_a_field", "Model", ""]


@st.composite
def chat_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request, or one with a few fields (or a message, or a content part) replaced by anything."""
    request = draw(valid_requests)
    for _ in range(draw(st.integers(0, 3))):
        where = draw(st.sampled_from(["field", "drop", "message", "part"]))
        if where == "field":
            request[draw(st.sampled_from(_FIELDS))] = draw(_odd)
        elif where == "drop" and request:
            del request[draw(st.sampled_from(sorted(request)))]
        elif where == "message" and isinstance(request.get("messages"), list) and request["messages"]:
            message = dict(draw(st.sampled_from(request["messages"])))
            message[draw(st.sampled_from(["role", "content", "name", "tool_calls", "tool_call_id"]))] = draw(_odd)
            request["messages"] = [*request["messages"], message]
        elif where == "part":
            request["messages"] = [{"role": "user", "content": [draw(_odd), draw(_text_part)]}]
    return request


@fuzz(300)
@given(chat_requests())
def test_chat_request_from_raises_only_validation_errors(request: dict[str, Any]) -> None:
    """Any dict becomes a ChatRequest or a ValidationError naming what is wrong, nothing else."""
    try:
        chat_request_from(request)
    except orchestrator.ValidationError as error:
        assert error.field is not None or error.message
    except orchestrator.GroqError:
        pass


@fuzz(120)
@given(chat_requests())
def test_any_request_dict_ends_in_a_response_or_a_groq_error(request: dict[str, Any]) -> None:
    """Through create(**request) against the emulator, every dict yields a response, a stream or a GroqError."""

    async def call() -> None:
        async with httpx.AsyncClient(transport=make_emulator().transport()) as http:
            async with orchestrator.open_client(
                api_key=KEY, base_url=EMULATOR_URL, http_client=http, workers=2, queue_size=4
            ) as groq:
                try:
                    await consume(await groq.chat.completions.create(**request))
                except orchestrator.GroqError:
                    pass

    run_virtual(call)
