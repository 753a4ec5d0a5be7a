"""Hostile bodies get Groq's 4xx error body from the emulator, never a 500 and never a crash of the transport.

Posted through the in-process transport (the emulator core behind httpx, no socket) to the three JSON endpoints
that parse request bodies: chat completions, the Responses API and embeddings. The bodies are valid requests with
one value, anywhere, replaced by any JSON value; nesting built directly (far past msgspec's and Python's limits);
NaN and Infinity literals; invalid UTF-8 and lone surrogate escapes; and random bytes.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.emulator import Emulator, EmulatorSettings
from orchestrator.emulator._http import MAX_JSON_DEPTH, EmulatorRequest, nesting_depth
from tests.emulator.conftest import KEY, MODEL, VISION_MODEL
from ..helpers import json_paths

EMBED = "nomic-embed-text-v1_5"
#: What Groq answers a request it refuses; 404 for an unknown model, 413 for a body too large, 422 its peers' 400.
GROQ_REFUSALS = frozenset({400, 404, 413, 422})

_VALID: dict[str, list[dict[str, Any]]] = {
    "/chat/completions": [
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 20},
        {
            "model": MODEL,
            "messages": [{"role": "system", "content": "Reply in json."}, {"role": "user", "content": "weather?"}],
            "tools": [{"type": "function", "function": {
                "name": "f", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }}],
            "response_format": {"type": "json_object"},
            "temperature": 0.2, "stop": ["x"], "seed": 3, "metadata": {"k": "v"},
        },
        {"model": VISION_MODEL, "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is it"},
            {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
        ]}]},
    ],
    "/responses": [
        {"model": MODEL, "input": "hi", "max_output_tokens": 20},
        {"model": MODEL, "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
         "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
         "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}},
    ],
    "/embeddings": [
        {"model": EMBED, "input": "hello"},
        {"model": EMBED, "input": ["a", "b"], "encoding_format": "float"},
    ],
}


def deep_list(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def deep_dict(levels: int, key: str = "not") -> Any:
    value: Any = {"type": "string"}
    for _ in range(levels):
        value = {key: value}
    return value


_strings = st.text(st.characters(codec=None, categories=None), max_size=10) | st.sampled_from(
    ["", "\ud800", "https://[x/a.png", "data:image/png;base64,!!", "gsk_" + "A" * 40, "\x00", "x" * 3000]
)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63, max_value=10**300),
    st.floats(allow_nan=True, allow_infinity=True), _strings,
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        _strings | st.sampled_from(["type", "role", "content", "$schema", "properties"]), inner, max_size=3
    ),
    max_leaves=10,
)
any_value = st.one_of(
    _json,
    st.integers(1, 2500).map(deep_list),
    st.integers(1, 400).map(deep_dict),
    st.integers(MAX_JSON_DEPTH - 8, MAX_JSON_DEPTH + 2).map(lambda n: deep_dict(n, "items")),
)


def _encode(value: Any) -> bytes:
    """JSON as a careless client writes it: NaN/Infinity literals, lone surrogates as raw (invalid) UTF-8."""
    try:
        return json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except (RecursionError, ValueError):  # json.dumps itself gave up on the depth: write the nesting by hand
        return b'{"model": "m", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@st.composite
def hostile_posts(draw: st.DrawFn) -> tuple[str, bytes]:
    """``(path, body)``: a valid body mutated at one place, or raw hostile bytes."""
    path = draw(st.sampled_from(sorted(_VALID)))
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "bytes", "deep"]))
    if kind == "bytes":
        return path, draw(st.binary(max_size=200))
    if kind == "deep":
        levels = draw(st.integers(MAX_JSON_DEPTH - 2, 200_000))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        return path, b'{"model": "%s", "input": ' % MODEL.encode() + opener * levels + b"1" + closer * levels + b"}"
    body = copy.deepcopy(draw(st.sampled_from(_VALID[path])))
    where = draw(st.sampled_from(json_paths(body)))
    target: Any = body
    for step in where[:-1]:
        target = target[step]
    target["x_hostile" if where[-1] == "__new__" else where[-1]] = draw(any_value)
    return path, _encode(body)


def assert_groq_answer(response: httpx.Response) -> None:
    """A success, or a refusal with Groq's status and error body; never a 5xx."""
    assert response.status_code < 500, response.text[:300]
    if response.status_code >= 400:
        assert response.status_code in GROQ_REFUSALS, response.text[:300]
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and isinstance(error["message"], str)
        assert set(error) <= {"message", "type", "param", "code", "failed_generation"}


@settings(
    max_examples=300, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(hostile_posts())
async def test_any_hostile_body_gets_a_groq_answer_never_a_500(post: tuple[str, bytes]) -> None:
    """Through the in-process transport, every hostile body to chat, responses or embeddings is answered with a
    2xx or Groq's 400/404/413/422 error body."""
    path, body = post
    emulator = Emulator(EmulatorSettings(seed=1))
    async with httpx.AsyncClient(
        transport=emulator.transport(), base_url="http://emulator.test/openai/v1",
        headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"},
    ) as client:
        response = await client.post(path, content=body)
        await response.aread()
    assert_groq_answer(response)


@pytest.mark.parametrize("path", sorted(_VALID))
@pytest.mark.parametrize("levels", [MAX_JSON_DEPTH + 1, 1_000, 1_000_000])
async def test_nesting_past_the_limit_is_a_400_naming_the_limit(path: str, levels: int) -> None:
    """A body nested deeper than the limit is refused before it is parsed, with the depth and the limit."""
    body = b"[" * (levels - 1) + b"]" * (levels - 1)
    emulator = Emulator(EmulatorSettings(seed=1))
    response = await emulator.handle(EmulatorRequest(
        "POST", f"/openai/v1{path}", {"authorization": f"Bearer {KEY}"}, b'{"x": ' + body + b"}"
    ))
    error = json.loads(response.body)["error"]  # type: ignore[arg-type]
    assert (response.status, error["type"]) == (400, "invalid_request_error")
    assert f"{levels} levels deep; at most {MAX_JSON_DEPTH} are allowed" in error["message"]


async def test_a_body_at_the_limit_is_parsed_as_usual() -> None:
    """At exactly the limit, the body is read and judged by the usual rules (here: an unknown field)."""
    inner = b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1)
    body = b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "x": %s}' % (MODEL.encode(), inner)
    assert nesting_depth(body) == MAX_JSON_DEPTH
    response = await Emulator().handle(EmulatorRequest("POST", "/openai/v1/chat/completions",
                                                       {"authorization": f"Bearer {KEY}"}, body))
    assert (response.status, json.loads(response.body)["error"]["param"]) == (400, "x")  # type: ignore[arg-type]


@pytest.mark.parametrize(("body", "fragment"), [
    (json.dumps({"model": VISION_MODEL, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://[x/a.png"}}]}]}).encode(), "is not a valid URL"),
    (json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                 "tools": [{"type": "function", "function": {"name": "f", "parameters": {"$schema": 5}}}]}).encode(),
     "is not a valid JSON Schema"),
    (b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "temperature": 1e999}' % MODEL.encode(),
     "not valid JSON"),
    (b'{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "temperature": NaN}' % MODEL.encode(),
     "not valid JSON"),
    (b'{"model": "%s", "messages": [{"role": "user", "content": "\\ud800"}]}' % MODEL.encode(), "not valid JSON"),
    (b'{"model": "%s", "messages": [{"role": "user", "content": "\xed\xa0\x80"}]}' % MODEL.encode(), "not valid JSON"),
])
async def test_each_known_trigger_is_a_400(body: bytes, fragment: str) -> None:
    """The bodies that used to end in a 500 (or an exception out of the transport) get a 400 saying why."""
    response = await Emulator().handle(EmulatorRequest("POST", "/openai/v1/chat/completions",
                                                       {"authorization": f"Bearer {KEY}"}, body))
    error = json.loads(response.body)["error"]  # type: ignore[arg-type]
    assert (response.status, error["type"]) == (400, "invalid_request_error") and fragment in error["message"]


class TestNestingDepth:
    @pytest.mark.parametrize(("body", "depth"), [
        (b"1", 0), (b"{}", 1), (b'[[1], {"a": [2]}]', 3), (b'{"a": "[[[[{{{{"}', 1), (b'{"a\\"[": "\\\\"}', 1),
        (b"[" * 100_000, 100_000),
    ])
    def test_counts_brackets_outside_strings(self, body: bytes, depth: int) -> None:
        """Brackets inside strings (escapes included) do not count; unbalanced ones do."""
        assert nesting_depth(body) == depth

    @given(_json)
    def test_agrees_with_the_decoded_value(self, value: Any) -> None:
        """For any JSON document, the byte count equals the depth of the decoded value."""

        def depth_of(item: Any) -> int:
            if isinstance(item, dict):
                return 1 + max(map(depth_of, item.values()), default=0)
            if isinstance(item, list):
                return 1 + max(map(depth_of, item), default=0)
            return 0

        try:
            body = json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")
        except ValueError:
            return
        assert nesting_depth(body) == depth_of(value)
