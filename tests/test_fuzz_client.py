"""Fuzzing the client's two edges: whatever a caller passes or a server answers, only GroqErrors come out, promptly.

Each example runs in its own ``trio.run`` under a ``MockClock`` that jumps ahead whenever every task
waits, so retries and backoff cost no wall time, and ``trio.fail_after`` (in that virtual time)
turns a hang into a failure. Example counts keep each test under a few seconds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orchestrator
from orchestrator._wire import ChatRequest, chat_request_from

from .helpers import EMULATOR_URL, KEY, make_emulator

MODEL = "openai/gpt-oss-20b"
#: Virtual seconds a call may take. A daily window may rightly park each attempt for up to a day (a server
#: that says its RPD is 1 and answers 429 makes every retry wait for the next day), and the retry policy caps
#: a server's retry-after at 10 minutes: the fuzzed calls make at most 3 attempts. Longer than that is a hang.
PATIENCE = 3 * (86_400.0 + 600.0) + 3600.0


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
_CHAT_MODELS = ["openai/gpt-oss-20b", "openai/gpt-oss-120b", "qwen/qwen3.6-27b", "groq/compound", "allam-2-7b"]
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
            drawn = draw(st.sampled_from(request["messages"]))
            if not isinstance(drawn, dict):  # "field" may have replaced messages with a list of anything
                continue
            message = dict(drawn)
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


# ------------------------------------------------------------------------- call options

_VALID_RESPONSE = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": MODEL,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}, "x_groq": {"id": "req_1"},
}


def transport_for(handler: Callable[[httpx.Request], httpx.Response]) -> httpx.AsyncClient:
    """An httpx client whose every request is answered by ``handler``, in process."""
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


_header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=10)
call_options = st.fixed_dictionaries({}, optional={
    "timeout": st.floats(0.001, 120) | _odd,
    "max_retries": st.integers(0, 5) | _odd,
    "priority": st.integers(-10, 10) | _odd,
    "extra_headers": st.dictionaries(st.from_regex(r"x-[a-z]{1,8}", fullmatch=True), _header_text, max_size=2) | _odd,
})


@fuzz(100)
@given(st.lists(call_options, min_size=1, max_size=3))
def test_any_call_options_end_in_a_response_or_a_groq_error(options: list[dict[str, Any]]) -> None:
    """Concurrent calls with any timeout, max_retries, priority and extra_headers, queued behind one worker on a
    server that fails every other attempt, each end in a response or a GroqError."""
    answered = 0

    def flaky(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        answered += 1
        if answered % 2:
            return httpx.Response(503, headers={"retry-after": "0.5"}, json={"error": {"message": "busy"}})
        return httpx.Response(200, json=_VALID_RESPONSE)

    async def calls() -> None:
        async with transport_for(flaky) as http, orchestrator.open_client(
            api_key=KEY, base_url=EMULATOR_URL, http_client=http, workers=1
        ) as groq:

            async def one(extra: dict[str, Any]) -> None:
                try:
                    await groq.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], **extra)
                except orchestrator.GroqError:
                    pass

            async with trio.open_nursery() as nursery:
                for extra in options:
                    nursery.start_soon(one, extra)

    run_virtual(calls)


# -------------------------------------------------------------------------- server side

_HEADER_NAMES = st.sampled_from([
    "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens", "retry-after",
    "retry-after-ms", "x-request-id", "content-type", "content-encoding", "x-groq-region",
])
_HEADER_VALUES = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=16),
    st.sampled_from(["0", "-1", "1e308", "nan", "inf", "2m59.56s", "7.66s", "940ms", "1h2m3s", "99999999999999999999",
                     "0.001", "gzip", "br", "deflate", "identity", "application/json", "text/event-stream"]),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)
#: A proxy may claim a compression the body does not have.
_encodings = st.sampled_from(["gzip", "deflate", "br", "zstd", "identity", "x-unknown", "gzip, deflate"])
headers = st.one_of(
    st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=6),
    st.tuples(st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=4), _encodings).map(
        lambda pair: {**pair[0], "content-encoding": pair[1]}
    ),
)
statuses = st.sampled_from([200, 201, 204, 301, 400, 401, 403, 404, 408, 413, 422, 429, 498, 499, 500, 502, 503]) | (
    st.integers(100, 599)
)

_ERROR_BODY = {"error": {"message": "Rate limit reached. Please try again in 1h2m3s.", "type": "tokens",
                         "code": "rate_limit_exceeded", "param": None, "status_code": 429}}


def _mutations(document: Any) -> st.SearchStrategy[Any]:
    """A JSON document with one value somewhere replaced by something arbitrary (or left alone)."""
    if isinstance(document, dict) and document:
        return st.one_of(
            st.just(document),
            st.sampled_from(sorted(document)).flatmap(
                lambda key: (_mutations(document[key]) | _json).map(lambda value: {**document, key: value})
            ),
            st.sampled_from(sorted(document)).map(lambda key: {k: v for k, v in document.items() if k != key}),
        )
    if isinstance(document, list) and document:
        return st.one_of(st.just(document), _mutations(document[0]).map(lambda item: [item, *document[1:]]))
    return st.one_of(st.just(document), _json)


bodies = st.one_of(
    _mutations(_VALID_RESPONSE).map(lambda d: json.dumps(d, allow_nan=True).encode()),
    _mutations(_ERROR_BODY).map(lambda d: json.dumps(d, allow_nan=True).encode()),
    _json.map(lambda d: json.dumps(d, allow_nan=True).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"<html>502 Bad Gateway</html>", b"null", b'{"error": "quota"}', b"\x1f\x8b\x08"]),
)


async def call_through(http: httpx.AsyncClient, *, stream: bool, max_retries: int) -> None:
    """One chat call through ``http``; a GroqError is an acceptable end, anything else fails the test."""
    async with http:
        async with orchestrator.open_client(
            api_key=KEY, base_url=EMULATOR_URL, http_client=http, max_retries=max_retries, workers=2
        ) as groq:
            try:
                await consume(await groq.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=stream
                ))
            except orchestrator.GroqError:
                pass


@fuzz(300)
@given(statuses, headers, bodies, st.integers(0, 2))
def test_any_response_ends_in_a_value_or_a_groq_error(status: int, head: dict[str, str], body: bytes, retries: int) -> None:
    """Whatever status, headers and body come back (and however often), a call ends in a response or a GroqError."""
    run_virtual(lambda: call_through(
        transport_for(lambda request: httpx.Response(status, headers=head, content=body)),
        stream=False, max_retries=retries,
    ))


def _chunk_event(document: Any) -> bytes:
    """One SSE ``data:`` event carrying ``document``."""
    return b"data: " + json.dumps(document, allow_nan=True).encode() + b"\n\n"


_CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
          "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}],
          "x_groq": {"id": "req_1", "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}}
_events = st.one_of(
    _mutations(_CHUNK).map(_chunk_event),
    _mutations(_ERROR_BODY).map(_chunk_event),
    st.sampled_from([b"data: [DONE]\n\n", b": keep-alive\n\n", b"event: error\ndata: {}\n\n", b"data: {\n\n",
                     b"retry: 10\n", b"id: 1\r\n", b"\r\n", b"data:", b"\n"]),
    st.binary(max_size=24),
)
#: What ends the body: nothing, or the connection failing the way httpx reports it.
_endings = st.sampled_from([None, httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout])


class _Body(httpx.AsyncByteStream):
    """A response body read piece by piece, ending normally or with a transport error."""

    def __init__(self, pieces: list[bytes], ending: type[httpx.TransportError] | None, request: httpx.Request) -> None:
        self._pieces = pieces
        self._ending = ending
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._pieces:
            await trio.lowlevel.checkpoint()
            yield piece
        if self._ending is not None:
            raise self._ending("the body broke off", request=self._request)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut after each length in ``cuts`` (network reads never respect event boundaries)."""
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(data[start:start + cut])
        start += cut
    return [piece for piece in [*pieces, data[start:]] if piece]


@fuzz(300)
@given(
    st.just(200) | statuses,
    headers.map(lambda h: {"content-type": "text/event-stream", **h}),
    st.lists(_events, max_size=8).flatmap(lambda events: st.lists(st.integers(1, 40), max_size=6).map(
        lambda cuts: _split(b"".join(events), cuts))),
    _endings,
    st.integers(0, 1),
)
def test_any_stream_ends_in_chunks_or_a_groq_error(
    status: int, head: dict[str, str], pieces: list[bytes], ending: Any, retries: int
) -> None:
    """Whatever an SSE body holds, however it is split or cut off, a streamed call ends in chunks or a GroqError."""
    run_virtual(lambda: call_through(
        transport_for(lambda request: httpx.Response(status, headers=head, stream=_Body(pieces, ending, request))),
        stream=True, max_retries=retries,
    ))
