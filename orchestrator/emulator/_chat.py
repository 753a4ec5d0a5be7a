"""Chat completions for the emulator: read the request, decide what the "model" says, write it Groq's way.

Three steps, each a plain function or small class so the core can put rate limits and faults between them:

1. :func:`parse_chat_request` turns the body into a :class:`~orchestrator._wire.ChatRequest`, and
   :func:`check_chat_request` applies Groq's rules (the same :func:`validate_chat_request` the client
   uses, so both agree); problems become :class:`ChatRejected` with Groq's status, type, code and param.
2. :func:`plan_reply` decides the answer: tool calls (``tool_choice`` required or named, or ``auto`` when
   the last user message mentions a tool by name or says "tool"/"call"), a JSON object (``json_object``) or
   schema instance (``json_schema``), else filler text whose length follows the completion budget.
3. :func:`render_completion` writes the non-streamed body; :func:`stream_completion` yields SSE events
   (role chunk with ``x_groq.id`` first, then content or tool-call fragments, then the finish chunk with
   ``x_groq.usage``, the ``include_usage`` chunk if asked, and ``data: [DONE]``), paced by the latency model.

Unknown top-level request fields are refused like Groq does (400 ``property 'x' is unsupported``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Literal

import msgspec
import trio

from orchestrator._catalog import ModelCatalog
from orchestrator._errors import ContextLengthError, ValidationError
from orchestrator._tokens import estimate_text_tokens
from orchestrator._validation import validate_chat_request
from orchestrator._wire import (
    ChatRequest,
    FunctionDefinition,
    Tool,
    ToolChoiceFunction,
    UserMessage,
    chat_request_from,
    decode_chat_request,
    encode,
    text_of,
)
from orchestrator.emulator._fake_json import UnsatisfiableSchemaError, fake_instance
from orchestrator.emulator._latency import LatencyModel
from orchestrator.emulator._textgen import StopScanner, generate_tokens, natural_length

__all__ = [
    "ChatContext",
    "ChatRejected",
    "Reply",
    "check_chat_request",
    "parse_chat_request",
    "plan_reply",
    "render_completion",
    "stream_completion",
]

_encode = msgspec.json.Encoder().encode
_UNKNOWN_FIELD = re.compile(r"unknown field `([^`]+)`")
_ASKS_FOR_TOOL = re.compile(r"\b(tools?|call)\b", re.IGNORECASE)
#: At most this many tool calls in one reply.
_MAX_PARALLEL_CALLS = 8
#: Characters per "token" when structured output (JSON, tool arguments) is streamed in pieces.
_CHARS_PER_TOKEN = 4


class ChatRejected(Exception):
    """A request Groq would refuse: the status, the message, and the other fields of Groq's error body.

    ``fields`` holds ``type``, ``code``, ``param`` and ``failed_generation`` as keywords for
    :func:`~orchestrator.emulator._http.error_response`.
    """

    def __init__(self, status: int, message: str, **fields: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields


def parse_chat_request(body: bytes) -> ChatRequest:
    """Decode a chat request body; malformed JSON, wrong types and unknown fields raise :class:`ChatRejected`."""
    try:
        return decode_chat_request(body)
    except msgspec.ValidationError as exc:  # (a subclass of DecodeError: catch it first)
        text = str(exc)
        unknown = _UNKNOWN_FIELD.search(text)
        if unknown is not None and " - at `$." not in text:  # an unknown top-level key
            name = unknown.group(1)
            raise ChatRejected(400, f"property '{name}' is unsupported", param=name) from None
    except msgspec.DecodeError as exc:
        raise ChatRejected(400, f"The request body is not valid JSON: {exc}. Send a JSON object.") from None
    # The fast decoder only says what is wrong; the dict path names the field the way users write it.
    try:
        chat_request_from(msgspec.json.decode(body))
    except msgspec.DecodeError as exc:  # typed decoding can fail on the type before it sees bad JSON later on
        raise ChatRejected(400, f"The request body is not valid JSON: {exc}. Send a JSON object.") from None
    except ValidationError as exc:
        raise ChatRejected(400, exc.message, param=exc.field) from None
    raise ChatRejected(400, "The request body must be a JSON object with 'model' and 'messages'.")


def check_chat_request(request: ChatRequest, catalog: ModelCatalog) -> None:
    """Apply Groq's request rules; raise :class:`ChatRejected` (400, or 413 for oversized base64 images)."""
    try:
        validate_chat_request(request, catalog)
    except ContextLengthError:
        raise ChatRejected(
            400,
            "Please reduce the length of the messages or completion.",
            param="messages",
            code="context_length_exceeded",
        ) from None
    except ValidationError as exc:
        if exc.rule == "max_base64_request_size":
            raise ChatRejected(
                413, "Request Entity Too Large: base64 images may total at most 4 MB", code="request_too_large"
            ) from None
        raise ChatRejected(400, exc.message, param=exc.field) from None


# --------------------------------------------------------------------------- what the model says


@dataclasses.dataclass(slots=True)
class Reply:
    """What the emulated model answers.

    ``kind`` is ``text`` (lazy filler text, ``text_tokens`` long unless a stop sequence cuts it),
    ``json`` (``content`` holds the JSON text) or ``tool_calls`` (``tool_calls`` holds (id, name,
    arguments) triples). ``completion_tokens`` and ``finish_reason`` are final for ``json`` and
    ``tool_calls``, and filled in by :meth:`text_pieces` for text.
    """

    kind: Literal["text", "json", "tool_calls"]
    rng: random.Random
    content: str = ""
    tool_calls: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    text_tokens: int = 0
    stops: tuple[str, ...] = ()
    completion_tokens: int = 0
    finish_reason: str = "stop"

    def text_pieces(self, tokens_per_piece: int) -> Iterator[tuple[str, int]]:
        """Yield (text, tokens) pieces of a text reply, then set ``completion_tokens`` and ``finish_reason``."""
        scanner = StopScanner(self.stops)
        produced = 0
        batch: list[str] = []
        for token in generate_tokens(self.rng, self.text_tokens):
            produced += 1
            batch.append(token)
            if len(batch) < tokens_per_piece:
                continue
            text = scanner.feed("".join(batch))
            tokens, batch = len(batch), []
            self.completion_tokens = produced
            if text:
                yield text, tokens
            if scanner.stopped:
                self.finish_reason = "stop"
                return
        text = scanner.feed("".join(batch)) if batch else ""
        text += scanner.flush()
        self.completion_tokens = produced
        if text:
            yield text, len(batch)


def text_rng(seed: int, request: ChatRequest) -> random.Random:
    """The generator for a request's content: emulator seed, request ``seed`` and a hash of the prompt."""
    digest = hashlib.blake2b(encode(request.messages), digest_size=16).hexdigest()
    return random.Random(f"{seed}:{request.seed}:{request.model}:{digest}")


def _random_id(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _chosen_tools(request: ChatRequest, rng: random.Random) -> list[FunctionDefinition]:
    """Which functions the model calls (empty: it answers with text or JSON)."""
    functions = [tool.function for tool in request.tools or () if isinstance(tool, Tool)]
    choice = request.tool_choice
    if not functions or choice == "none":
        return []
    if isinstance(choice, ToolChoiceFunction):
        return [f for f in functions if f.name == choice.function.name][:1]
    last = request.messages[-1]
    said = text_of(last.content).lower() if isinstance(last, UserMessage) else ""
    mentioned = [f for f in functions if f.name.lower() in said]
    if choice == "required":
        chosen = mentioned or functions
    elif mentioned:
        chosen = mentioned
    elif said and _ASKS_FOR_TOOL.search(said):
        chosen = functions
    else:
        return []
    if request.parallel_tool_calls is False:
        return [chosen[0] if mentioned else rng.choice(chosen)]
    return chosen[:_MAX_PARALLEL_CALLS]


def _json_object(rng: random.Random) -> dict[str, object]:
    """A small JSON object for ``json_object`` mode."""
    answer = "".join(generate_tokens(rng, rng.randint(6, 24))).strip()
    tags = ["".join(generate_tokens(rng, 1)).strip().lower() for _ in range(rng.randint(1, 3))]
    return {"answer": answer, "confidence": round(rng.random(), 2), "tags": tags}


def _structured_tokens(text: str) -> int:
    return max(1, estimate_text_tokens(text))


def plan_reply(request: ChatRequest, rng: random.Random, completion_bounds: tuple[int, int]) -> Reply:
    """Decide the reply to ``request``.

    Raises:
        ChatRejected: structured output that does not fit the completion budget (Groq's
            ``json_validate_failed`` / ``tool_use_failed`` with ``failed_generation``), or a schema
            no value satisfies.
    """
    budget = request.completion_budget
    functions = _chosen_tools(request, rng)
    try:
        if functions:
            calls = []
            for function in functions:
                arguments = fake_instance(function.parameters or {"type": "object"}, rng)
                calls.append(("call_" + _random_id(rng, "abcdefghijklmnopqrstuvwxyz0123456789", 24),
                              function.name, _encode(arguments).decode()))
            tokens = sum(_structured_tokens(name + arguments) for _, name, arguments in calls)
            reply = Reply("tool_calls", rng, tool_calls=calls, completion_tokens=tokens, finish_reason="tool_calls")
            if budget is not None and tokens > budget:
                generation = "".join(f"<function={name}>{arguments}</function>" for _, name, arguments in calls)
                raise ChatRejected(
                    400,
                    "Failed to call a function. Please adjust your prompt. See 'failed_generation' for more details.",
                    code="tool_use_failed",
                    failed_generation=generation[: budget * _CHARS_PER_TOKEN],
                )
            return reply
        fmt = request.response_format
        if fmt is not None and fmt.type in ("json_object", "json_schema"):
            if fmt.type == "json_schema" and fmt.json_schema is not None:
                value = fake_instance(fmt.json_schema.schema, rng)
            else:
                value = _json_object(rng)
            content = _encode(value).decode()
            tokens = _structured_tokens(content)
            if budget is not None and tokens > budget:
                raise ChatRejected(
                    400,
                    "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.",
                    code="json_validate_failed",
                    failed_generation=content[: budget * _CHARS_PER_TOKEN],
                )
            return Reply("json", rng, content=content, completion_tokens=tokens)
    except UnsatisfiableSchemaError as exc:
        raise ChatRejected(400, str(exc), code="json_schema_invalid") from None
    natural = natural_length(rng, completion_bounds)
    stop = request.stop
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    cut = budget is not None and budget < natural
    return Reply(
        "text",
        rng,
        text_tokens=budget if cut else natural,  # type: ignore[arg-type]
        stops=stops,
        finish_reason="length" if cut else "stop",
    )


# --------------------------------------------------------------------------- rendering


@dataclasses.dataclass(slots=True)
class ChatContext:
    """The per-response facts every rendered chunk repeats, plus the timing inputs."""

    request_id: str
    chat_id: str
    created: int
    model: str
    fingerprint: str
    prompt_tokens: int
    seed: int
    latency: LatencyModel
    time_scale: float
    tokens_per_chunk: int
    include_usage: bool


def _usage(ctx: ChatContext, completion_tokens: int) -> dict[str, object]:
    timing = ctx.latency.timing(completion_tokens).usage_fields()
    return {
        "queue_time": timing["queue_time"],
        "prompt_tokens": ctx.prompt_tokens,
        "prompt_time": timing["prompt_time"],
        "completion_tokens": completion_tokens,
        "completion_time": timing["completion_time"],
        "total_tokens": ctx.prompt_tokens + completion_tokens,
        "total_time": timing["total_time"],
    }


def _tool_calls_json(reply: Reply) -> list[dict[str, object]]:
    return [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        for call_id, name, arguments in reply.tool_calls
    ]


def render_completion(ctx: ChatContext, reply: Reply) -> bytes:
    """The non-streamed ``chat.completion`` body (generates the text of a text reply)."""
    message: dict[str, object] = {"role": "assistant"}
    if reply.kind == "tool_calls":
        message["tool_calls"] = _tool_calls_json(reply)
    elif reply.kind == "json":
        message["content"] = reply.content
    else:
        message["content"] = "".join(text for text, _ in reply.text_pieces(1 << 30))
    return _encode(
        {
            "id": ctx.chat_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
            "usage": _usage(ctx, reply.completion_tokens),
            "usage_breakdown": None,
            "system_fingerprint": ctx.fingerprint,
            "x_groq": {"id": ctx.request_id},
            "service_tier": "on_demand",
        }
    )


def _structured_pieces(text: str, tokens_per_chunk: int) -> Iterator[tuple[str, int]]:
    step = _CHARS_PER_TOKEN * tokens_per_chunk
    for start in range(0, len(text), step):
        piece = text[start : start + step]
        yield piece, max(1, len(piece) // _CHARS_PER_TOKEN)


async def stream_completion(
    ctx: ChatContext,
    reply: Reply,
    on_finish: Callable[[int, bool], None],
) -> AsyncIterator[bytes]:
    """Yield the SSE events of a streamed completion, paced by the latency model.

    ``on_finish(completion_tokens, completed)`` is called exactly once when the generator ends: with
    ``completed=True`` after ``data: [DONE]``, else with the tokens generated so far (the client went
    away or the stream was cut).
    """
    head = (
        b'data: {"id":"' + ctx.chat_id.encode() + b'","object":"chat.completion.chunk","created":'
        + str(ctx.created).encode() + b',"model":' + _encode(ctx.model)
        + b',"system_fingerprint":"' + ctx.fingerprint.encode() + b'","choices":['
    )
    delta_head = head + b'{"index":0,"delta":'
    delta_tail = b',"logprobs":null,"finish_reason":null}]}\n\n'
    latency = ctx.latency
    instant = latency.instant
    per_token = latency.per_token()
    scale = ctx.time_scale
    start = trio.current_time()
    offset = latency.queue_time + latency.time_to_first_token  # emulated seconds since the request arrived
    produced = 0
    completed = False
    try:
        if not instant:
            await trio.sleep_until(start + offset / scale)
        yield (
            delta_head + b'{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"x_groq":{"id":"'
            + ctx.request_id.encode() + b'","seed":' + str(ctx.seed).encode() + b"}}\n\n"
        )
        if reply.kind == "tool_calls":
            for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
                first = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                yield delta_head + b'{"tool_calls":[' + _encode(first) + b"]}" + delta_tail
                for piece, tokens in _structured_pieces(arguments, ctx.tokens_per_chunk):
                    produced += tokens
                    offset += tokens * per_token
                    if not instant:
                        await trio.sleep_until(start + offset / scale)
                    fragment = {"index": index, "function": {"arguments": piece}}
                    yield delta_head + b'{"tool_calls":[' + _encode(fragment) + b"]}" + delta_tail
            produced = reply.completion_tokens
        else:
            if reply.kind == "json":
                pieces = _structured_pieces(reply.content, ctx.tokens_per_chunk)
            else:
                pieces = reply.text_pieces(ctx.tokens_per_chunk)
            for piece, tokens in pieces:
                produced += tokens
                offset += tokens * per_token
                if not instant:
                    await trio.sleep_until(start + offset / scale)
                yield delta_head + b'{"content":' + _encode(piece) + b"}" + delta_tail
            produced = reply.completion_tokens
        usage = _encode(_usage(ctx, produced))
        yield (
            delta_head + b'{},"logprobs":null,"finish_reason":"' + reply.finish_reason.encode()
            + b'"}],"x_groq":{"id":"' + ctx.request_id.encode() + b'","usage":' + usage + b"}}\n\n"
        )
        if ctx.include_usage:
            yield head + b'],"usage":' + usage + b"}\n\n"
        yield b"data: [DONE]\n\n"
        completed = True
    finally:
        on_finish(produced, completed)
