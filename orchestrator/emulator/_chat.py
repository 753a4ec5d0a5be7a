"""Chat completions for the emulator: read the request, decide what the "model" says, write it Groq's way.

Three steps, each a plain function or small class so the core can put rate limits and faults between them:

1. :func:`parse_chat_request` turns the body into a :class:`~orchestrator._wire.ChatRequest`, and
   :func:`check_chat_request` applies Groq's rules (the emulator's own, :mod:`._rules`, written from Groq's
   docs: an oracle never shares the client's validator); problems become :class:`ChatRejected` with Groq's
   status, type, code and param.
2. :func:`plan_reply` decides the answer: tool calls (``tool_choice`` required or named, or ``auto`` when
   the last user message mentions a tool by name or says "tool"/"call"), a JSON object (``json_object``) or
   schema instance (``json_schema``), else filler text whose length follows the completion budget.
3. :func:`render_completion` writes the non-streamed body; :func:`stream_completion` yields SSE events
   (role chunk with ``x_groq.id`` first, then content or tool-call fragments, then the finish chunk with
   ``x_groq.usage``, the ``include_usage`` chunk if asked, and ``data: [DONE]``), paced by the latency model.

Reasoning models (catalog ``reasoning=True``) think first: :func:`check_reasoning` applies Groq's rules (in
:mod:`._rules`) for ``reasoning_format``, ``include_reasoning`` and ``reasoning_effort``, :func:`reasoning_plan`
decides where the reasoning goes, and the reasoning tokens (part of ``completion_tokens``, reported as
``completion_tokens_details.reasoning_tokens``) come before the answer, streamed as ``delta.reasoning``.

Unknown top-level request fields are refused like Groq does (400 ``property 'x' is unsupported``); every field
groq-python types is known (the deprecated ``functions`` are answered with a ``function_call``). A compound
system (``groq/compound``, ``groq/compound-mini``) answers with its search run in ``message.executed_tools``
(``delta.executed_tools`` when streamed) and ``usage_breakdown`` (``x_groq.usage_breakdown`` when streamed);
every reply names the tier that answered (``service_tier``).
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

from actors._sse import DONE, encode_event
from orchestrator._catalog import ModelCatalog, ModelInfo
from orchestrator._tokens import estimate_prompt_tokens, estimate_text_tokens
from orchestrator._wire import (
    ChatRequest,
    FunctionDefinition,
    Tool,
    ToolChoiceFunction,
    ToolChoiceName,
    UserMessage,
    decode_chat_request,
    encode,
    text_of,
)
from orchestrator.emulator._groq_words import groq_schema_message
from orchestrator.emulator._http import nesting_problem
from orchestrator.emulator._fake_json import WORDS as _WORDS
from orchestrator.emulator._fake_json import UnsatisfiableSchemaError, fake_instance, json_object_for
from orchestrator.emulator._latency import LatencyModel
from orchestrator.emulator._rules import GPT_OSS_PREFIX as _GPT_OSS
from orchestrator.emulator._rules import COMPOUND_PREFIX, search_enabled
from orchestrator.emulator._rules import chat_refusal, reasoning_efforts, reasoning_refusal
from orchestrator.emulator._rules import json_or_tools as _json_or_tools
from orchestrator.emulator._textgen import (
    StopScanner,
    corpus_pieces,
    corpus_pieces_from,
    generate_tokens,
    natural_length,
)

__all__ = [
    "ChatContext",
    "ChatRejected",
    "ReasoningPlan",
    "Reply",
    "check_chat_request",
    "check_reasoning",
    "parse_chat_request",
    "plan_reply",
    "reasoning_efforts",
    "reasoning_plan",
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


def parse_chat_request(body: bytes, *, depth_checked: bool = False) -> ChatRequest:
    """Decode a chat request body; malformed JSON, wrong types and unknown fields raise :class:`ChatRejected`.

    So do bodies nested deeper than :data:`~orchestrator.emulator._http.MAX_JSON_DEPTH` levels (measured before
    any decoder sees them, unless ``depth_checked``: the core measures every JSON body it routes) and bodies
    whose decoding fails in a way no rule names: every body gets Groq's 400.
    """
    deep = None if depth_checked else nesting_problem(body)
    if deep is not None:
        raise ChatRejected(400, deep)
    try:
        return _decoded(body)
    except ChatRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - a decoder's surprise is the body's fault: Groq answers 400
        raise ChatRejected(400, f"The request body could not be read ({type(exc).__name__}: {str(exc)[:200]}). "
                           "Send a JSON object with 'model' and 'messages'.") from None


def _decoded(body: bytes) -> ChatRequest:
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
    # The fast decoder only says what is wrong; converting the plain values names the path, which is
    # then said in Groq's words (orchestrator.emulator._groq_words), not the client validator's.
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:  # typed decoding can fail on the type before it sees bad JSON later on
        raise ChatRejected(400, f"The request body is not valid JSON: {exc}. Send a JSON object.") from None
    try:
        msgspec.convert(payload, ChatRequest)
    except msgspec.ValidationError as exc:
        message, param = groq_schema_message(str(exc), payload)
        raise ChatRejected(400, message, param=param) from None
    raise ChatRejected(400, "The request body must be a JSON object with 'model' and 'messages'.")


def check_chat_request(request: ChatRequest, catalog: ModelCatalog) -> int:
    """Apply Groq's request rules; raise :class:`ChatRejected` (400, or 413 for oversized base64 images).

    The rules are the emulator's own (:func:`~orchestrator.emulator._rules.chat_refusal`); the context
    window is judged on the prompt tokens the emulator reports as ``usage.prompt_tokens``, which this returns.
    """
    try:
        prompt_tokens = estimate_prompt_tokens(request)
        refusal = chat_refusal(request, catalog.get(request.model), prompt_tokens)
    except Exception as exc:  # noqa: BLE001 - a rule tripped by an odd value: the value is at fault, a 400
        raise ChatRejected(400, f"The request could not be checked ({type(exc).__name__}: {str(exc)[:200]}). "
                           "Check its fields against the API reference.") from None
    if refusal is not None:
        raise ChatRejected(refusal.status, refusal.message, param=refusal.param, code=refusal.code)
    return prompt_tokens


# --------------------------------------------------------------------------- reasoning
#
# Which reasoning parameters Groq accepts, and its 400s for the others, are rules: see the reasoning section
# of orchestrator.emulator._rules (with their sources). Where the reasoning goes, from
# console.groq.com/docs/reasoning: parsed, raw (<think> tags) or hidden; raw by default, but parsed by
# default for GPT-OSS and when JSON mode or tool use are enabled (the docs allow raw or parsed there; parsed
# is the emulator's choice); include_reasoning false is hidden.
#
# How many tokens: reasoning tokens are completion tokens (groq-python CompletionTokensDetails). The
# natural completion length (EmulatorSettings.completion_tokens) is the whole output, reasoning included;
# the effort decides the reasoning share of it (low 1/4, medium and default 1/2, high 3/4), so for one
# request more effort means more reasoning tokens. Reasoning comes first and spends the completion budget
# first: a small max_completion_tokens can leave no room for the answer (finish_reason "length"), as on Groq.

_REASONING_SHARE = {"none": 0.0, "low": 0.25, "default": 0.5, "medium": 0.5, "high": 0.75}
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"


@dataclasses.dataclass(frozen=True, slots=True)
class ReasoningPlan:
    """How a reasoning model reasons for one request: where the reasoning goes, and its share of the output.

    ``mode`` is ``parsed`` (``message.reasoning``, ``delta.reasoning`` when streamed), ``raw``
    (``<think>...</think>`` ahead of the content) or ``hidden`` (generated and counted, never shown).
    """

    mode: Literal["parsed", "raw", "hidden"]
    share: float


def check_reasoning(request: ChatRequest, info: ModelInfo) -> None:
    """Refuse reasoning parameters the way Groq does (``_rules.reasoning_refusal``); raise :class:`ChatRejected`."""
    refusal = reasoning_refusal(request, info)
    if refusal is not None:
        raise ChatRejected(refusal.status, refusal.message, param=refusal.param, code=refusal.code)


def reasoning_plan(request: ChatRequest, info: ModelInfo) -> ReasoningPlan | None:
    """How ``info``'s model reasons for this (checked) request; None for a model that does not reason."""
    if not info.reasoning:
        return None
    gpt_oss = info.id.startswith(_GPT_OSS)
    effort = request.reasoning_effort or ("medium" if gpt_oss else "default")
    mode: Literal["parsed", "raw", "hidden"]
    if request.include_reasoning is not None:
        mode = "parsed" if request.include_reasoning else "hidden"
    elif request.reasoning_format is not None:
        mode = request.reasoning_format
    elif gpt_oss or _json_or_tools(request):
        mode = "parsed"
    else:
        mode = "raw"
    return ReasoningPlan(mode=mode, share=_REASONING_SHARE.get(effort, 0.5))


# --------------------------------------------------------------------------- what the model says


@dataclasses.dataclass(slots=True)
class Reply:
    """What the emulated model answers.

    ``kind`` is ``text`` (lazy filler text, ``text_tokens`` long unless a stop sequence cuts it),
    ``json`` (``content`` holds the JSON text) or ``tool_calls`` (``tool_calls`` holds (id, name,
    arguments) triples). ``completion_tokens`` and ``finish_reason`` are final for ``json`` and
    ``tool_calls``, and filled in by :meth:`text_pieces` for text.

    A reasoning model first reasons ``reasoning_tokens`` tokens of filler (from ``reasoning_draw``, shown as
    ``reasoning_mode`` says); they are part of ``completion_tokens``, and stop sequences never cut them.
    """

    kind: Literal["text", "json", "tool_calls"]
    rng: random.Random
    content: str = ""
    tool_calls: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)
    text_tokens: int = 0
    stops: tuple[str, ...] = ()
    completion_tokens: int = 0
    finish_reason: str = "stop"
    reasoning_tokens: int = 0
    reasoning_mode: Literal["parsed", "raw", "hidden"] | None = None
    reasoning_draw: int | None = None
    #: The call answers the deprecated ``functions``: rendered as ``message.function_call``.
    legacy_function: bool = False
    #: The tier that answers: ``flex`` and ``performance`` as asked, else ``on_demand`` (``auto`` included).
    service_tier: str = "on_demand"
    #: A compound system's server-side tool runs (``message.executed_tools``), JSON-ready.
    executed_tools: list[dict[str, object]] | None = None
    #: A compound system's models, for ``usage_breakdown`` (empty for any other model).
    usage_models: tuple[str, ...] = ()

    def reasoning_pieces(self, tokens_per_piece: int) -> Iterator[tuple[str, int]]:
        """Yield (text, tokens) pieces of the reasoning (the same text every time it is called)."""
        if not self.reasoning_tokens or self.reasoning_draw is None:
            return
        yield from corpus_pieces_from(self.reasoning_draw, self.reasoning_tokens, tokens_per_piece)

    def text_pieces(self, tokens_per_piece: int) -> Iterator[tuple[str, int]]:
        """Yield (text, tokens) pieces of a text reply, then set ``completion_tokens`` and ``finish_reason``."""
        scanner = StopScanner(self.stops)
        produced = self.reasoning_tokens
        last, last_tokens = "", 0
        for piece, tokens in corpus_pieces(self.rng, self.text_tokens, tokens_per_piece):
            produced += tokens
            if tokens < tokens_per_piece:  # the shorter last piece: fed with the scanner's flush below
                last, last_tokens = piece, tokens
                break
            text = scanner.feed(piece)
            self.completion_tokens = produced
            if text:
                yield text, tokens
            if scanner.stopped:
                self.finish_reason = "stop"
                return
        text = (scanner.feed(last) if last_tokens else "") + scanner.flush()
        self.completion_tokens = produced
        if text:
            yield text, last_tokens


def text_rng(seed: int, request: ChatRequest) -> random.Random:
    """The generator for a request's content: emulator seed, request ``seed`` and a hash of the prompt."""
    digest = hashlib.blake2b(encode(request.messages), digest_size=16).hexdigest()
    return random.Random(f"{seed}:{request.seed}:{request.model}:{digest}")


def _random_id(rng: random.Random, alphabet: str, length: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(length))


def _chosen_tools(request: ChatRequest, rng: random.Random) -> list[FunctionDefinition]:
    """Which functions the model calls (empty: it answers with text or JSON).

    The deprecated ``functions`` / ``function_call`` pair is served like ``tools`` / ``tool_choice``, with
    one call at most (a ``message.function_call`` holds one).
    """
    functions = [tool.function for tool in request.tools or () if isinstance(tool, Tool)]
    choice: object = request.tool_choice
    legacy = not functions and bool(request.functions)
    if legacy:
        functions = list(request.functions or ())
        choice = request.function_call
        if isinstance(choice, ToolChoiceName):
            return [f for f in functions if f.name == choice.name][:1]
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
    if legacy or request.parallel_tool_calls is False:
        return [chosen[0] if mentioned else rng.choice(chosen)]
    return chosen[:_MAX_PARALLEL_CALLS]


def _json_object(rng: random.Random) -> dict[str, object]:
    """A small JSON object for ``json_object`` mode."""
    answer = "".join(generate_tokens(rng, rng.randint(6, 24))).strip()
    tags = ["".join(generate_tokens(rng, 1)).strip().lower() for _ in range(rng.randint(1, 3))]
    return {"answer": answer, "confidence": round(rng.random(), 2), "tags": tags}


def _structured_tokens(text: str) -> int:
    return max(1, estimate_text_tokens(text))


def _reasoning(
    rng: random.Random, bounds: tuple[int, int], plan: ReasoningPlan | None, budget: int | None
) -> tuple[int, int | None]:
    """(reasoning tokens, the draw that picks their text): the plan's share of a natural length, within the budget."""
    if plan is None or plan.share <= 0:
        return 0, None
    tokens = round(natural_length(rng, bounds) * plan.share)
    if budget is not None:
        tokens = min(tokens, budget)
    return tokens, rng.getrandbits(64)


def plan_reply(
    request: ChatRequest,
    rng: random.Random,
    completion_bounds: tuple[int, int],
    reasoning: ReasoningPlan | None = None,
) -> Reply:
    """Decide the reply to ``request`` (with ``reasoning``, a reasoning model's thinking comes first).

    Besides what the model says: the tier that answers (``service_tier``), a call of the deprecated
    ``functions`` rendered as ``function_call``, and for a compound system its search run (when
    ``web_search`` is enabled: every tool is, unless ``compound_custom.tools.enabled_tools`` lists them)
    and the models of its ``usage_breakdown``.

    Raises:
        ChatRejected: as :func:`_plan_reply`.
    """
    reply = _plan_reply(request, rng, completion_bounds, reasoning)
    reply.service_tier = _ANSWERING_TIER.get(request.service_tier or "", "on_demand")
    if reply.kind == "tool_calls" and request.functions and not any(isinstance(t, Tool) for t in request.tools or ()):
        reply.legacy_function = True
        reply.finish_reason = "function_call"
    if request.model.startswith(COMPOUND_PREFIX):
        models = request.compound_custom.models if request.compound_custom else None
        reasoning_model = (models.reasoning_model if models else None) or _COMPOUND_DEFAULT_MODEL
        answering_model = (models.answering_model if models else None) or _COMPOUND_DEFAULT_MODEL
        reply.usage_models = tuple(dict.fromkeys((reasoning_model, answering_model)))
        if search_enabled(request):
            reply.executed_tools = [_search_run(request, random.Random(rng.getrandbits(64)))]
    return reply


#: ``service_tier`` asked -> the tier reported. ``auto`` "First uses on_demand rate limits, then falls back to
#: flex tier if exceeded" (console.groq.com/docs/flex-processing, read 2026-12): the emulator's limits are
#: on_demand's, so auto answers on_demand [I].
_ANSWERING_TIER = {"flex": "flex", "performance": "performance", "on_demand": "on_demand", "auto": "on_demand"}
#: [I] The compound page names GPT-OSS 120B first among the models it runs; the emulator reports it for both roles.
_COMPOUND_DEFAULT_MODEL = "openai/gpt-oss-120b"
_SEARCH_HOSTS = ("example.com", "example.org", "docs.example.net", "news.example.io", "wiki.example.edu")


def _domain_matches(host: str, pattern: str) -> bool:
    """Whether ``host`` is ``pattern``, below it, or matched by its ``*.`` wildcard."""
    base = pattern[2:] if pattern.startswith("*.") else pattern
    return host == base or host.endswith("." + base)


def _search_run(request: ChatRequest, rng: random.Random) -> dict[str, object]:
    """One ``web_search`` run of a compound system, in the shape of groq-python's ``ExecutedTool``.

    The hits honour the domain filters: from ``include_domains`` (``*.edu`` becomes a host under ``.edu``) when
    given, never from an excluded domain. ``type`` "search" is [I]: the SDK types it as a plain string.
    """
    settings = request.search_settings
    include = [*(request.include_domains or ()), *((settings.include_domains or ()) if settings else ())]
    exclude = [*(request.exclude_domains or ()), *((settings.exclude_domains or ()) if settings else ())]
    if include:
        hosts = [f"{rng.choice(_WORDS)}.{d[2:]}" if d.startswith("*.") else d for d in include]
    else:
        hosts = list(_SEARCH_HOSTS)
    hosts = [h for h in hosts if not any(_domain_matches(h, e) for e in exclude)] or ["search.example"]
    last = next((m for m in reversed(request.messages) if isinstance(m, UserMessage)), None)
    query = " ".join(text_of(last.content).split()[:12]) if last is not None else "search"
    results = []
    score = 0.95
    for _ in range(3):
        title = " ".join(word.capitalize() for word in rng.sample(_WORDS, 3))
        host = rng.choice(hosts)
        url = f"https://{host}/{title.lower().replace(' ', '-')}"
        content = "".join(generate_tokens(rng, rng.randint(12, 30))).strip()
        results.append({"title": title, "url": url, "content": content, "score": round(score, 2)})
        score -= round(rng.uniform(0.05, 0.2), 2)
    search: dict[str, object] = {"results": results}
    if settings is not None and settings.include_images:
        search["images"] = [f"https://{hosts[0]}/images/{rng.randint(1, 999)}.png"]
    output = "\n\n".join(f"Title: {r['title']}\nURL: {r['url']}\nContent: {r['content']}\nScore: {r['score']}"
                         for r in results)
    return {"index": 0, "type": "search", "arguments": _encode({"query": query}).decode(), "output": output,
            "search_results": search}


def _plan_reply(
    request: ChatRequest,
    rng: random.Random,
    completion_bounds: tuple[int, int],
    reasoning: ReasoningPlan | None = None,
) -> Reply:
    """Decide what the model says (with ``reasoning``, a reasoning model's thinking comes first).

    Raises:
        ChatRejected: structured output that does not fit the completion budget (Groq's
            ``json_validate_failed`` / ``tool_use_failed`` with ``failed_generation``), or a schema
            no value satisfies.
    """
    budget = request.completion_budget
    mode = reasoning.mode if reasoning is not None else None
    functions = _chosen_tools(request, rng)
    try:
        if functions:
            calls = []
            for function in functions:
                arguments = fake_instance(function.parameters or {"type": "object"}, rng)
                calls.append(("call_" + _random_id(rng, "abcdefghijklmnopqrstuvwxyz0123456789", 24),
                              function.name, _encode(arguments).decode()))
            tokens = sum(_structured_tokens(name + arguments) for _, name, arguments in calls)
            thinking, thinking_draw = _reasoning(rng, completion_bounds, reasoning, budget)
            reply = Reply(
                "tool_calls", rng, tool_calls=calls, completion_tokens=thinking + tokens, finish_reason="tool_calls",
                reasoning_tokens=thinking, reasoning_mode=mode, reasoning_draw=thinking_draw,
            )
            if budget is not None and thinking + tokens > budget:
                generation = "".join(f"<function={name}>{arguments}</function>" for _, name, arguments in calls)
                raise ChatRejected(
                    400,
                    "Failed to call a function. Please adjust your prompt. See 'failed_generation' for more details.",
                    code="tool_use_failed",
                    failed_generation=generation[: (budget - thinking) * _CHARS_PER_TOKEN],
                )
            return reply
        fmt = request.response_format
        if fmt is not None and fmt.type in ("json_object", "json_schema"):
            if fmt.type == "json_schema" and fmt.json_schema is not None:
                value = fake_instance(fmt.json_schema.schema, rng)
            else:  # the keys the prompt names, if it names any
                named = json_object_for([text_of(message.content) for message in request.messages], rng)
                value = named if named is not None else _json_object(rng)
            content = _encode(value).decode()
            tokens = _structured_tokens(content)
            thinking, thinking_draw = _reasoning(rng, completion_bounds, reasoning, budget)
            if budget is not None and thinking + tokens > budget:
                raise ChatRejected(
                    400,
                    "Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.",
                    code="json_validate_failed",
                    failed_generation=content[: (budget - thinking) * _CHARS_PER_TOKEN],
                )
            return Reply(
                "json", rng, content=content, completion_tokens=thinking + tokens,
                reasoning_tokens=thinking, reasoning_mode=mode, reasoning_draw=thinking_draw,
            )
    except UnsatisfiableSchemaError as exc:
        raise ChatRejected(400, str(exc), code="json_schema_invalid") from None
    natural = natural_length(rng, completion_bounds)
    thinking, thinking_draw = 0, None
    if reasoning is not None and reasoning.share > 0:
        thinking = round(natural * reasoning.share)
        if budget is not None:
            thinking = min(thinking, budget)
        thinking_draw = rng.getrandbits(64)
    answer = natural - thinking
    room = None if budget is None else budget - thinking
    cut = room is not None and room < answer
    stop = request.stop
    stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
    return Reply(
        "text",
        rng,
        text_tokens=room if cut else answer,  # type: ignore[arg-type]
        stops=stops,
        finish_reason="length" if cut else "stop",
        completion_tokens=thinking,
        reasoning_tokens=thinking,
        reasoning_mode=mode,
        reasoning_draw=thinking_draw,
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
    #: Prompt tokens served from the prompt cache; None for a model without prompt caching (no details).
    cached_tokens: int | None = None
    #: Whether the model reasons (its usage then reports ``completion_tokens_details.reasoning_tokens``).
    reasoning: bool = False


def _usage(ctx: ChatContext, completion_tokens: int, reasoning_tokens: int = 0) -> dict[str, object]:
    """Groq's usage object; the detail objects follow the timings, as in the prompt-caching page's example."""
    timing = ctx.latency.timing(completion_tokens).usage_fields()
    usage: dict[str, object] = {
        "queue_time": timing["queue_time"],
        "prompt_tokens": ctx.prompt_tokens,
        "prompt_time": timing["prompt_time"],
        "completion_tokens": completion_tokens,
        "completion_time": timing["completion_time"],
        "total_tokens": ctx.prompt_tokens + completion_tokens,
        "total_time": timing["total_time"],
    }
    if ctx.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": ctx.cached_tokens}
    if ctx.reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return usage


def _tool_calls_json(reply: Reply) -> list[dict[str, object]]:
    return [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        for call_id, name, arguments in reply.tool_calls
    ]


def render_completion(ctx: ChatContext, reply: Reply) -> bytes:
    """The non-streamed ``chat.completion`` body (generates the text of a text reply)."""
    message: dict[str, object] = {"role": "assistant"}
    reasoning = "".join(text for text, _ in reply.reasoning_pieces(1 << 30))
    if reply.kind == "tool_calls" and reply.legacy_function:
        _, name, arguments = reply.tool_calls[0]
        message["function_call"] = {"name": name, "arguments": arguments}
    elif reply.kind == "tool_calls":
        message["tool_calls"] = _tool_calls_json(reply)
    elif reply.kind == "json":
        message["content"] = reply.content
    else:
        message["content"] = "".join(text for text, _ in reply.text_pieces(1 << 30))
    if reasoning and reply.reasoning_mode == "parsed":
        message["reasoning"] = reasoning
    elif reasoning and reply.reasoning_mode == "raw":
        message["content"] = _THINK_OPEN + reasoning + _THINK_CLOSE + str(message.get("content") or "")
    if reply.executed_tools:
        message["executed_tools"] = reply.executed_tools
    return _encode(
        {
            "id": ctx.chat_id,
            "object": "chat.completion",
            "created": ctx.created,
            "model": ctx.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}],
            "usage": _usage(ctx, reply.completion_tokens, reply.reasoning_tokens),
            "usage_breakdown": _usage_breakdown(ctx, reply, reply.completion_tokens),
            "system_fingerprint": ctx.fingerprint,
            "x_groq": {"id": ctx.request_id},
            "service_tier": reply.service_tier,
        }
    )


def _usage_breakdown(ctx: ChatContext, reply: Reply, completion_tokens: int) -> dict[str, object] | None:
    """A compound system's ``usage_breakdown``: each model's usage (the completion split between two) [I]."""
    models = reply.usage_models
    if not models:
        return None
    shares = [completion_tokens // len(models)] * len(models)
    shares[-1] += completion_tokens - sum(shares)
    return {"models": [{"model": model, "usage": _usage(ctx, share)} for model, share in zip(models, shares)]}


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
    # Every event is one chunk's JSON, assembled from pre-encoded pieces and framed by encode_event.
    head = (
        b'{"id":"' + ctx.chat_id.encode() + b'","object":"chat.completion.chunk","created":'
        + str(ctx.created).encode() + b',"model":' + _encode(ctx.model)
        + b',"system_fingerprint":"' + ctx.fingerprint.encode() + b'","choices":['
    )
    delta_head = head + b'{"index":0,"delta":'
    delta_tail = b',"logprobs":null,"finish_reason":null}]}'
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
        yield encode_event(
            delta_head + b'{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"x_groq":{"id":"'
            + ctx.request_id.encode() + b'","seed":' + str(ctx.seed).encode() + b"}}"
        )
        if reply.executed_tools:  # a compound system's search ran before it answers (delta.executed_tools)
            yield encode_event(delta_head + b'{"executed_tools":' + _encode(reply.executed_tools) + b"}" + delta_tail)
        # Reasoning first: delta.reasoning (parsed), <think>...</think> content (raw), or nothing but the
        # time it takes (hidden). Its tokens count as generated either way.
        mode = reply.reasoning_mode
        field = b'{"reasoning":' if mode == "parsed" else b'{"content":'
        opened = False
        for piece, tokens in reply.reasoning_pieces(ctx.tokens_per_chunk):
            produced += tokens
            offset += tokens * per_token
            if not instant:
                await trio.sleep_until(start + offset / scale)
            if mode == "hidden":
                continue
            if mode == "raw" and not opened:
                opened = True
                piece = _THINK_OPEN + piece
            yield encode_event(delta_head + field + _encode(piece) + b"}" + delta_tail)
        if opened:
            yield encode_event(delta_head + b'{"content":' + _encode(_THINK_CLOSE) + b"}" + delta_tail)
        if reply.kind == "tool_calls" and reply.legacy_function:
            _, name, arguments = reply.tool_calls[0]
            yield encode_event(delta_head + b'{"function_call":' + _encode({"name": name, "arguments": ""}) + b"}"
                               + delta_tail)
            for piece, tokens in _structured_pieces(arguments, ctx.tokens_per_chunk):
                produced += tokens
                offset += tokens * per_token
                if not instant:
                    await trio.sleep_until(start + offset / scale)
                yield encode_event(delta_head + b'{"function_call":' + _encode({"arguments": piece}) + b"}" + delta_tail)
            produced = reply.completion_tokens
        elif reply.kind == "tool_calls":
            for index, (call_id, name, arguments) in enumerate(reply.tool_calls):
                first = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                yield encode_event(delta_head + b'{"tool_calls":[' + _encode(first) + b"]}" + delta_tail)
                for piece, tokens in _structured_pieces(arguments, ctx.tokens_per_chunk):
                    produced += tokens
                    offset += tokens * per_token
                    if not instant:
                        await trio.sleep_until(start + offset / scale)
                    fragment = {"index": index, "function": {"arguments": piece}}
                    yield encode_event(delta_head + b'{"tool_calls":[' + _encode(fragment) + b"]}" + delta_tail)
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
                yield encode_event(delta_head + b'{"content":' + _encode(piece) + b"}" + delta_tail)
            produced = reply.completion_tokens
        usage = _encode(_usage(ctx, produced, reply.reasoning_tokens))
        breakdown = _usage_breakdown(ctx, reply, produced)
        extra = b',"usage_breakdown":' + _encode(breakdown) if breakdown is not None else b""
        yield encode_event(
            delta_head + b'{},"logprobs":null,"finish_reason":"' + reply.finish_reason.encode()
            + b'"}],"x_groq":{"id":"' + ctx.request_id.encode() + b'","usage":' + usage + extra + b"}}"
        )
        if ctx.include_usage:
            yield encode_event(head + b'],"usage":' + usage + b"}")
        yield DONE
        completed = True
    finally:
        on_finish(produced, completed)
