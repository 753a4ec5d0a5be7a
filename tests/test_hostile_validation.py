"""Hostile input to the client's validation: whatever a caller or a batch line holds, only ValidationError comes out.

The door is what ``Client.chat_job`` runs (``chat_request_from``, ``validate_chat_request``, ``encode_chat_request``)
and what the batch runner runs on a line (``orchestrator.batch._records.parse_line``, which decodes the JSON and
calls ``chat_request_from``). Valid requests are mutated at one place, any depth, into any JSON value: deep nesting
built directly (far past Python's recursion limit), NaN and the infinities, huge integers, lone surrogates and other
odd strings. Each must be accepted or refused with a ``ValidationError``; a ``RecursionError``, ``ValueError`` or
``TypeError`` is a bug.
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any

import httpx
import pytest
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orchestrator
from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._errors import ValidationError
from orchestrator._validation import encode_chat_request, validate_chat_request
from orchestrator._wire import MAX_JSON_DEPTH, chat_request_from, json_problem
from orchestrator.batch._records import BadLine, BatchJob, parse_line

from .helpers import EMULATOR_URL, KEY, json_paths, make_emulator

TEXT = "openai/gpt-oss-20b"
VISION = "qwen/qwen3.6-27b"


def hostile(examples: int) -> settings:
    """No deadline (deep values take a moment to build), a fixed budget, big examples allowed."""
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# ----------------------------------------------------------------------------- values


def deep_list(levels: int, leaf: Any = "x") -> Any:
    """``[[[...leaf...]]]`` ``levels`` deep, built in a loop (no recursion)."""
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


def deep_dict(levels: int, key: str = "a", leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(levels):
        value = {key: value}
    return value


def deep_schema(levels: int, keyword: str) -> Any:
    """A JSON Schema nested ``levels`` deep through ``not``, ``items``, ``allOf`` or ``properties``."""
    value: Any = {"type": "string"}
    for _ in range(levels):
        if keyword == "properties":
            value = {"type": "object", "properties": {"a": value}}
        elif keyword == "allOf":
            value = {"allOf": [value]}
        else:
            value = {keyword: value}
    return value


_ODD_STRINGS = [
    "", "\x00", "\ud800", "a\udfffb", "\u2028\u2029", "\ufeff", "😀" * 3, "https://[x/a.png", "http://:80", "data:,",
    "data:image/png;base64,@@@@", "gsk_" + "A" * 40, "${jndi:ldap://x}", "' OR 1=1 --", "\\u0000", "NaN", "Infinity",
    "x" * 5000,
]
_strings = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF, categories=None), max_size=12) | (
    st.sampled_from(_ODD_STRINGS)
)
_numbers = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**63 + 2) | st.integers(min_value=-(2**63) - 2, max_value=-(2**63) + 2),
    st.integers(min_value=2**64, max_value=10**400) | st.integers(min_value=-(10**400), max_value=-(2**64)),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -0.0, 5e-324]),
)
_scalars = st.none() | st.booleans() | _numbers | _strings
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        _strings | st.sampled_from(["type", "role", "content", "url", "$schema", "properties", "items"]), inner,
        max_size=4,
    ),
    max_leaves=12,
)
_deep = st.one_of(
    st.integers(1, 3000).map(deep_list),
    st.integers(1, 3000).map(deep_dict),
    st.tuples(st.integers(1, 400), st.sampled_from(["not", "items", "allOf", "properties"])).map(
        lambda args: deep_schema(*args)
    ),
    st.just(deep_list(100_000)),
    st.integers(MAX_JSON_DEPTH - 6, MAX_JSON_DEPTH + 2).map(deep_dict),
)
#: Anything a JSON body can hold, and a few things it cannot (NaN, surrogates).
any_value = st.one_of(_json, _deep)


# ----------------------------------------------------------------------------- valid requests

_BASE: list[dict[str, Any]] = [
    {"model": TEXT, "messages": [{"role": "user", "content": "hi"}]},
    {
        "model": TEXT,
        "messages": [
            {"role": "system", "content": "Answer in json."},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                                                  "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "f", "description": "d",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }}],
        "tool_choice": "auto",
        "temperature": 0.5,
        "top_p": 0.9,
        "max_completion_tokens": 100,
        "stop": ["END"],
        "seed": 7,
        "metadata": {"k": "v"},
        "logit_bias": {"50256": -1},
        "user": "u1",
    },
    {
        "model": TEXT,
        "messages": [{"role": "user", "content": "Reply in json"}],
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "array", "items": {}}}},
        }},
        "documents": [{"id": "d1", "source": {"type": "json", "data": {"x": [1, 2, {"y": "z"}]}}},
                      {"source": {"type": "text", "text": "t"}}],
    },
    {
        "model": VISION,
        "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ]}],
    },
]


def _put(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = copy.deepcopy(body)
    target: Any = body
    for step in path[:-1]:
        target = target[step]
    last = path[-1]
    target["x_hostile" if last == "__new__" else last] = value
    return body


@st.composite
def mutated_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A valid request with one value, anywhere in it, replaced by any JSON value (or a new key added)."""
    base = draw(st.sampled_from(_BASE))
    path = draw(st.sampled_from(json_paths(base)))
    return _put(base, path, draw(any_value))


def client_validation(body: Any) -> None:
    """What ``Client.chat_job`` runs before anything is queued: shape, rules, then the wire bytes."""
    request = chat_request_from(body)
    validate_chat_request(request, DEFAULT_CATALOG)
    encode_chat_request(request)


class TestClientValidation:
    @hostile(400)
    @given(mutated_requests())
    def test_any_mutated_request_is_accepted_or_a_validation_error(self, body: dict[str, Any]) -> None:
        """A request with any one value replaced by any JSON value passes, or raises ValidationError only."""
        try:
            client_validation(body)
        except ValidationError as error:
            assert error.rule and str(error)

    @hostile(60)
    @given(st.sampled_from(_BASE), any_value)
    def test_a_hand_built_struct_with_any_free_form_value_is_accepted_or_refused(
        self, base: dict[str, Any], value: Any
    ) -> None:
        """Structs built by hand skip msgspec's checks: any value in their free-form fields still ends in
        acceptance or a ValidationError, never in an encoder or jsonschema crash."""
        import msgspec

        request = chat_request_from(base)
        for changes in ({"metadata": value}, {"logit_bias": value}, {"stop": value}, {"user": value}):
            try:
                validate_chat_request(msgspec.structs.replace(request, **changes), DEFAULT_CATALOG)
                encode_chat_request(msgspec.structs.replace(request, **changes))
            except ValidationError:
                pass

    @pytest.mark.parametrize(("body", "field", "rule"), [
        pytest.param(_put(_BASE[3], ("messages", 0, "content", 1, "image_url", "url"), "https://[x/a.png"),
                     "messages[0].content[1].image_url.url", "image_url_format", id="ipv6-url"),
        pytest.param(_put(_BASE[1], ("tools", 0, "function", "parameters"), {"$schema": 5}),
                     "tools[0].function.parameters.$schema", "json_schema_invalid", id="schema-5"),
        pytest.param(_put(_BASE[1], ("tools", 0, "function", "parameters"), deep_schema(300, "not")),
                     "tools[0].function.parameters", "max_depth", id="schema-300-deep"),
        pytest.param(_put(_BASE[0], ("messages", 0, "content"), deep_list(1000)),
                     "messages[0].content[0]", "max_depth", id="content-1000-deep"),
        pytest.param(_put(_BASE[2], ("documents", 0, "source", "data"), deep_dict(1_000_000)),
                     "documents[0].source.data", "max_depth", id="document-million-deep"),
        pytest.param(_put(_BASE[0], ("temperature",), 1e999), "temperature", "range", id="temperature-inf"),
        pytest.param(_put(_BASE[0], ("temperature",), math.nan), "temperature", "range", id="temperature-nan"),
        pytest.param(_put(_BASE[2], ("documents", 0, "source", "data"), {"x": math.nan}),
                     "documents[0].source.data.x", "finite_number", id="nan-in-document"),
        pytest.param(_put(_BASE[0], ("messages", 0, "content"), "hi \ud800"), "messages[0].content", "utf8",
                     id="lone-surrogate"),
        pytest.param(_put(_BASE[0], ("metadata",), {"\udc80": "v"}), "metadata", "utf8", id="surrogate-key"),
    ])
    def test_each_known_trigger_is_a_validation_error_naming_the_field(
        self, body: dict[str, Any], field: str, rule: str
    ) -> None:
        """The inputs that used to raise ValueError, AttributeError, RecursionError or UnicodeEncodeError now
        raise ValidationError naming the field and the rule."""
        with pytest.raises(ValidationError) as info:
            client_validation(body)
        assert (info.value.field, info.value.rule) == (field, rule)

    def test_the_depth_limit_is_named_in_the_message(self) -> None:
        """A too-deep value says where and how deep is allowed."""
        with pytest.raises(ValidationError) as info:
            client_validation(_put(_BASE[0], ("messages", 0, "content"), deep_list(300)))
        assert f"messages[0].content[0]: is nested deeper than {MAX_JSON_DEPTH} levels" in str(info.value)

    def test_nesting_at_the_limit_is_accepted(self) -> None:
        """Depth is counted from the body (level 1): a document nested exactly to the limit passes."""
        body = _put(_BASE[2], ("documents", 0, "source", "data"), deep_dict(MAX_JSON_DEPTH - 4))
        client_validation(body)
        deeper = _put(_BASE[2], ("documents", 0, "source", "data"), deep_dict(MAX_JSON_DEPTH - 3))
        with pytest.raises(ValidationError):
            client_validation(deeper)

    def test_json_problem_walks_a_million_levels_without_recursion(self) -> None:
        """The walker itself is iterative: a million levels cost a few frames."""
        problem = json_problem({"a": deep_list(1_000_000)})
        assert problem is not None and (problem.field, problem.rule) == ("a[0][0][0]", "max_depth")


# ----------------------------------------------------------------------------- the batch runner's door


def _line(body: Any) -> bytes:
    return json.dumps({"custom_id": "job", "body": body}, allow_nan=True).encode("utf-8", "surrogatepass")


class TestBatchLines:
    @hostile(200)
    @given(mutated_requests())
    def test_any_mutated_line_becomes_a_job_or_a_bad_line(self, body: dict[str, Any]) -> None:
        """The batch runner's parse_line turns any line into a BatchJob whose request then validates or is
        refused with ValidationError, or into a BadLine; it never raises."""
        try:
            raw = _line(body)
        except (RecursionError, ValueError):
            raw = b'{"body": ' + b"[" * 5000 + b"]" * 5000 + b"}"  # json.dumps itself recursed: send it raw
        parsed = parse_line(raw, 1)
        assert isinstance(parsed, (BatchJob, BadLine))
        if isinstance(parsed, BatchJob):
            try:
                validate_chat_request(parsed.request, DEFAULT_CATALOG)
                encode_chat_request(parsed.request)
            except ValidationError:
                pass

    @hostile(100)
    @given(st.binary(max_size=300) | st.sampled_from([
        b"\xff\xfe", b'{"model": "\xed\xa0\x80"}', b'{"body": "\\ud800"}', b"[" * 100_000, b"{" * 50_000,
        b'{"model": 1e999}', b'{"model": NaN}', b'{"messages": [' + b"[" * 3000 + b"]" * 3000 + b"]}",
    ]))
    def test_any_bytes_become_a_job_or_a_bad_line(self, raw: bytes) -> None:
        """Invalid UTF-8, lone surrogate escapes, NaN literals and nesting past msgspec's limit are BadLines."""
        assert isinstance(parse_line(raw, 1), (BatchJob, BadLine))


# ----------------------------------------------------------------------------- through a client


async def test_map_refuses_a_stream_with_a_clear_validation_error(autojump_clock: trio.testing.MockClock) -> None:
    """Client.map (what the batch runner runs on) answers whole replies: a stream=True body becomes a result
    with a ValidationError on ``stream``, not a ChatStream nobody reads (nor a TypeError when it is written)."""
    body = {"model": TEXT, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with httpx.AsyncClient(transport=make_emulator().transport()) as http:
        async with orchestrator.open_client(api_key=KEY, base_url=EMULATOR_URL, http_client=http) as groq:
            async with groq.map([("a", body), ("b", {**body, "stream": False})]) as results:
                got = {result.key: result async for result in results}
    error = got["a"].error
    assert isinstance(error, ValidationError) and (error.field, error.rule) == ("stream", "stream_not_supported")
    assert "streaming is not supported" in str(error) and got["b"].ok


async def test_chat_job_raises_only_validation_errors_for_the_triggers(autojump_clock: trio.testing.MockClock) -> None:
    """The client's own entry point (create / submit / map all go through chat_job) refuses each trigger with
    ValidationError before anything is queued or sent."""
    triggers = [
        _put(_BASE[3], ("messages", 0, "content", 1, "image_url", "url"), "https://[x/a.png"),
        _put(_BASE[1], ("tools", 0, "function", "parameters"), {"$schema": 5}),
        _put(_BASE[1], ("tools", 0, "function", "parameters"), deep_schema(300, "properties")),
        _put(_BASE[0], ("messages", 0, "content"), deep_list(1000)),
        _put(_BASE[0], ("temperature",), 1e999),
        _put(_BASE[0], ("top_p",), math.nan),
        _put(_BASE[0], ("messages", 0, "content"), "\ud800"),
    ]
    emulator = make_emulator()
    async with httpx.AsyncClient(transport=emulator.transport()) as http:
        async with orchestrator.open_client(api_key=KEY, base_url=EMULATOR_URL, http_client=http) as groq:
            for body in triggers:
                with pytest.raises(ValidationError):
                    await groq.chat.completions.create(**body)
    assert emulator.stats().requests == 0
