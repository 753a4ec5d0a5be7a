"""``POST /openai/v1/responses`` for the emulator: Groq's Responses API (beta), on top of the chat machinery.

The request passes the same gates as a chat completion, in the same order (see :mod:`._core`): decoding,
retired (400 ``model_decommissioned``) and unknown (404 ``model_not_found``) models, the rules, faults,
the rate limits per (key, model) with their ``x-ratelimit-*`` headers, 413/429 bodies and reconciliation,
then the latency model. What the "model" says is decided by chat's :func:`~._chat.plan_reply` on the
request translated to chat (``input`` items to messages, flat function tools to chat's, ``text.format``
to ``response_format``, ``reasoning.effort`` to ``reasoning_effort``), so tool calls, JSON output,
reasoning and filler text behave exactly as on ``/chat/completions``; only the rendering differs.

Rules, in the emulator's own words (it never imports the client's validator): first the Responses
API's own (below, each with its source), then chat's (:func:`~._chat.check_chat_request`) on the
translation, whose ``param`` is mapped back to the Responses field (``max_completion_tokens`` ->
``max_output_tokens``, ``response_format`` -> ``text.format``, ``messages`` -> ``input``).

Sources (stored copies read 2026-12-02): console.groq.com/docs/responses-api (built-in tools on the two
GPT-OSS models; "Unsupported Features" ``previous_response_id``, ``store``, ``truncation``, ``include``,
``safety_identifier``, ``prompt_cache_key``, ``prompt``; the reasoning item shape), the API reference's
responses-create (fields, ranges, "Maximum of 16 pairs" of metadata, 128 tools, ``store`` "only supports
false or null", the example response), and OpenAI's event stream as the ``openai`` SDK 3.57 types it. Groq
publishes no error bodies for this endpoint: the 400 wordings are the emulator's, in Groq's style [I].

Streams are ``event: <type>`` / ``data: {...}`` pairs with a ``sequence_number`` from 0, ending after
``response.completed`` (``response.incomplete`` when ``max_output_tokens`` cut the text) with no
``data: [DONE]`` [I] (OpenAI sends none for this API; Groq's pages show no stream).
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

import msgspec
import trio

from actors._sse import encode_event
from orchestrator._catalog import ModelInfo
from orchestrator._responses_wire import ResponseRequest, decode_response_request, estimate_response_tokens
from orchestrator._wire import (
    AssistantMessage,
    BrowserSearchTool,
    ChatRequest,
    CodeInterpreterTool,
    DeveloperMessage,
    FunctionCall,
    FunctionDefinition,
    ImageUrl,
    ImageUrlPart,
    JsonSchemaFormat,
    Message,
    ResponseFormat,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolChoiceFunction,
    ToolChoiceName,
    ToolMessage,
    UserMessage,
)
from orchestrator.emulator._chat import ChatRejected, Reply, check_chat_request, plan_reply, reasoning_plan, text_rng
from orchestrator.emulator._http import EmulatorRequest, EmulatorResponse, model_refusal
from orchestrator.emulator._latency import LatencyModel

if TYPE_CHECKING:
    from orchestrator.emulator._core import Emulator

__all__ = ["parse_responses_request", "responses_refusal", "serve_responses", "to_chat"]

_encode = msgspec.json.Encoder().encode
_UNKNOWN_FIELD: Final = re.compile(r"unknown field `([^`]+)`")
_AT_PATH: Final = re.compile(r" - at `\$\.?([^`]*)`")
_ID_ALPHABET: Final = "0123456789abcdefghjkmnpqrstvwxyz"
#: Characters per "token" when structured output (tool arguments, JSON) is streamed in pieces (as chat).
_CHARS_PER_TOKEN: Final = 4
_ANSWERING_KINDS: Final = frozenset({"500", "502", "503", "498", "reset"})
#: Groq's responses-api page, "Model Support": built-in tools only on these models.
_BUILTIN_MODELS: Final = ("openai/gpt-oss-20b", "openai/gpt-oss-120b")
_UNSUPPORTED: Final = ("previous_response_id", "include", "safety_identifier", "prompt_cache_key", "prompt")
_ROLES: Final = {"user": UserMessage, "assistant": AssistantMessage, "system": SystemMessage, "developer": DeveloperMessage}
_PARAM_NAMES: Final = (
    ("max_completion_tokens", "max_output_tokens"),
    ("response_format.json_schema", "text.format"),
    ("response_format", "text.format"),
    ("reasoning_effort", "reasoning.effort"),
    ("messages", "input"),
    ("tool_choice.function", "tool_choice"),  # OpenAI's flat {"type": "function", "name": ...}
)


def _reject(message: str, param: str | None = None, code: str | None = None) -> ChatRejected:
    return ChatRejected(400, message, param=param, code=code)


# --------------------------------------------------------------------------- parsing and rules


def parse_responses_request(body: bytes) -> ResponseRequest:
    """Decode the body; malformed JSON, wrong types and unknown top-level fields raise :class:`ChatRejected`."""
    try:
        return decode_response_request(body)
    except msgspec.ValidationError as exc:  # a subclass of DecodeError: first
        text = str(exc)
        unknown = _UNKNOWN_FIELD.search(text)
        if unknown is not None and " - at `$." not in text:
            name = unknown.group(1)
            raise _reject(f"property '{name}' is unsupported", param=name) from None
        at = _AT_PATH.search(text)
        param = at.group(1) if at else None
        raise _reject(f"`{param or 'body'}`: {text.split(' - at ')[0]}", param=param) from None
    except msgspec.DecodeError as exc:
        raise _reject(f"The request body is not valid JSON: {exc}. Send a JSON object.") from None


def _item_refusal(i: int, item: dict[str, Any]) -> ChatRejected | None:
    where = f"input[{i}]"
    kind = item.get("type", "message")
    if kind == "message":
        if item.get("role") not in _ROLES:
            return _reject(f"`{where}.role` must be one of `user`, `assistant`, `system`, or `developer`",
                           param=f"{where}.role")
        content = item.get("content")
        if not isinstance(content, (str, list)):
            return _reject(f"`{where}.content` must be a string or an array of content parts", param=f"{where}.content")
        for j, part in enumerate(content if isinstance(content, list) else ()):
            at = f"{where}.content[{j}]"
            if not isinstance(part, dict) or part.get("type") not in (
                "input_text", "input_image", "input_file", "output_text", "refusal"
            ):
                return _reject(f"`{at}.type` must be `input_text`, `input_image`, `input_file`, `output_text`, or "
                               "`refusal`", param=f"{at}.type")
            if part["type"] in ("input_text", "output_text") and not isinstance(part.get("text"), str):
                return _reject(f"`{at}.text` must be a string", param=f"{at}.text")
            if part["type"] == "input_image" and not isinstance(part.get("image_url"), str):
                return _reject(f"`{at}.image_url` must be a string", param=f"{at}.image_url")
    elif kind == "function_call":
        for key in ("call_id", "name", "arguments"):
            if not isinstance(item.get(key), str):
                return _reject(f"`{where}.{key}` is required and must be a string", param=f"{where}.{key}")
    elif kind == "function_call_output":
        if not isinstance(item.get("call_id"), str):
            return _reject(f"`{where}.call_id` is required and must be a string", param=f"{where}.call_id")
        if not isinstance(item.get("output"), (str, list)):
            return _reject(f"`{where}.output` is required and must be a string", param=f"{where}.output")
    return None


def _tool_refusal(request: ResponseRequest) -> ChatRejected | None:
    tools = request.tools or []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        kind = tool.get("type")
        if kind == "function":
            if "function" in tool:  # chat's nesting sent to the Responses API [I]
                return _reject(f"`{where}.function` is unsupported: Responses function tools are flat "
                               f"(`{where}.name`, `{where}.parameters`)", param=f"{where}.function")
            if not isinstance(tool.get("name"), str):
                return _reject(f"`{where}.name` is required and must be a string", param=f"{where}.name")
            if tool.get("parameters") is not None and not isinstance(tool["parameters"], dict):
                return _reject(f"`{where}.parameters` must be an object", param=f"{where}.parameters")
        elif kind in ("browser_search", "code_interpreter"):
            if request.model not in _BUILTIN_MODELS:
                return _reject(f"`{where}.type` `{kind}` is not supported with model `{request.model}`",
                               param=f"{where}.type")
        elif kind == "mcp":
            if not isinstance(tool.get("server_label"), str) or not isinstance(tool.get("server_url"), str):
                return _reject(f"`{where}` needs `server_label` and `server_url`", param=where)
        else:
            return _reject(f"`{where}.type` must be `function`, `browser_search`, `code_interpreter`, or `mcp`",
                           param=f"{where}.type")
    choice = request.tool_choice
    if isinstance(choice, str) and choice not in ("none", "auto", "required"):
        return _reject("`tool_choice` must be `none`, `auto`, `required`, or a function", param="tool_choice")
    if isinstance(choice, dict):
        nested = choice.get("function")
        name = nested.get("name") if isinstance(nested, dict) else choice.get("name")
        if choice.get("type") != "function" or not isinstance(name, str):
            return _reject("`tool_choice` must name a function: {\"type\": \"function\", \"name\": ...}",
                           param="tool_choice")
    return None


def responses_refusal(request: ResponseRequest, info: ModelInfo) -> ChatRejected | None:
    """The first Responses-specific rule ``request`` breaks (before chat's rules run on its translation)."""
    if info.capabilities_known and (info.audio or info.speech):
        kind = "speech-to-text" if info.audio else "text-to-speech"
        return _reject(f"The model `{info.id}` is a {kind} model and does not support responses.", param="model")
    for name in _UNSUPPORTED:  # "Unsupported Features"; the wording is the emulator's [I]
        if getattr(request, name) is not None:
            return _reject(f"`{name}` is not supported yet", param=name)
    if request.store:  # API reference: "Currently only supports false or null values."
        return _reject("`store` only supports `false` or `null`", param="store")
    if request.truncation is not None and request.truncation not in ("auto", "disabled"):
        return _reject("`truncation` must be `auto` or `disabled`", param="truncation")
    if request.truncation == "auto":  # the guide lists truncation as unsupported [I]
        return _reject("`truncation` is not supported yet", param="truncation")
    if request.background:
        return _reject("`background` is not supported", param="background")
    value = request.input
    if (isinstance(value, str) and not value.strip()) or (isinstance(value, list) and not value):
        return _reject("`input` must be a non-empty string or array of items", param="input")
    if isinstance(value, list):
        for i, item in enumerate(value):
            refusal = _item_refusal(i, item)
            if refusal is not None:
                return refusal
    if request.max_output_tokens is not None and request.max_output_tokens < 1:
        return _reject("`max_output_tokens` must be at least 1", param="max_output_tokens")
    if request.metadata is not None and len(request.metadata) > 16:  # "Maximum of 16 pairs."
        return _reject("`metadata` can have at most 16 pairs", param="metadata")
    if request.metadata is not None and not all(isinstance(v, str) for v in request.metadata.values()):
        return _reject("`metadata` values must be strings", param="metadata")
    if request.service_tier is not None and request.service_tier not in ("auto", "default", "flex"):
        return _reject("`service_tier` must be `auto`, `default`, or `flex`", param="service_tier")
    effort = (request.reasoning or {}).get("effort")
    if request.reasoning is not None and effort is not None and not isinstance(effort, str):
        return _reject("`reasoning.effort` must be a string", param="reasoning.effort")
    fmt = (request.text or {}).get("format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema")):
        return _reject("`text.format.type` must be `text`, `json_object`, or `json_schema`", param="text.format.type")
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        if not isinstance(fmt.get("name"), str) or not isinstance(fmt.get("schema"), dict):
            return _reject("`text.format` of type `json_schema` needs `name` and `schema`", param="text.format")
    return _tool_refusal(request)


# --------------------------------------------------------------------------- translation to chat


def _text_of_parts(content: object) -> str:
    if isinstance(content, str):
        return content
    return "".join(
        str(part.get("text") or part.get("refusal") or "") for part in content or () if isinstance(part, dict)
    )


def _user_content(content: object) -> str | list[TextPart | ImageUrlPart]:
    if isinstance(content, str):
        return content
    parts: list[TextPart | ImageUrlPart] = []
    for part in content or ():  # type: ignore[attr-defined]
        if part.get("type") == "input_image":
            parts.append(ImageUrlPart(image_url=ImageUrl(url=part["image_url"], detail=part.get("detail"))))
        elif isinstance(part.get("text"), str):
            parts.append(TextPart(text=part["text"]))
    return parts


def _messages(request: ResponseRequest) -> list[Message]:
    messages: list[Message] = []
    if request.instructions is not None:
        messages.append(SystemMessage(content=request.instructions))
    if isinstance(request.input, str):
        messages.append(UserMessage(content=request.input))
        return messages
    for item in request.input:
        kind = item.get("type", "message")
        if kind == "message":
            role = item["role"]
            if role == "user":
                messages.append(UserMessage(content=_user_content(item["content"])))
            elif role == "assistant":
                messages.append(AssistantMessage(content=_text_of_parts(item["content"])))
            else:
                messages.append(_ROLES[role](content=_text_of_parts(item["content"])))
        elif kind == "function_call":
            call = ToolCall(id=item["call_id"], function=FunctionCall(name=item["name"], arguments=item["arguments"]))
            last = messages[-1] if messages else None
            if isinstance(last, AssistantMessage) and last.tool_calls and not last.content:
                last.tool_calls.append(call)  # consecutive calls are one assistant turn
            else:
                messages.append(AssistantMessage(tool_calls=[call]))
        elif kind == "function_call_output":
            output = item["output"]
            messages.append(ToolMessage(tool_call_id=item["call_id"],
                                        content=output if isinstance(output, str) else _text_of_parts(output)))
        # reasoning items and built-in tool traces carry nothing chat's rules or the reply plan read
    return messages


def to_chat(request: ResponseRequest) -> ChatRequest:
    """The chat request that asks the same of the model (for chat's rules and reply plan)."""
    tools: list[Tool | BrowserSearchTool | CodeInterpreterTool] = []
    for tool in request.tools or ():
        kind = tool.get("type")
        if kind == "function":
            tools.append(Tool(function=FunctionDefinition(
                name=tool["name"], description=tool.get("description"), parameters=tool.get("parameters"),
                strict=tool.get("strict"),
            )))
        elif kind == "browser_search":
            tools.append(BrowserSearchTool())
        elif kind == "code_interpreter":
            tools.append(CodeInterpreterTool())
    choice: Any = request.tool_choice
    if isinstance(choice, dict):
        nested = choice.get("function")
        choice = ToolChoiceFunction(function=ToolChoiceName(
            name=nested["name"] if isinstance(nested, dict) else choice["name"]
        ))
    fmt = (request.text or {}).get("format")
    response_format = None
    if isinstance(fmt, dict) and fmt.get("type") == "json_object":
        response_format = ResponseFormat(type="json_object")
    elif isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        response_format = ResponseFormat(type="json_schema", json_schema=JsonSchemaFormat(
            name=fmt["name"], schema=fmt["schema"], strict=fmt.get("strict"), description=fmt.get("description"),
        ))
    return ChatRequest(
        model=request.model,
        messages=_messages(request),
        tools=tools or None,
        tool_choice=choice if tools else None,
        parallel_tool_calls=request.parallel_tool_calls if tools else None,
        max_completion_tokens=request.max_output_tokens,
        temperature=request.temperature,
        top_p=request.top_p,
        response_format=response_format,
        reasoning_effort=(request.reasoning or {}).get("effort"),
    )


def _mapped(exc: ChatRejected) -> ChatRejected:
    """Chat's refusal, with its ``param`` (and the message's backticked names) in the Responses API's words."""
    param = exc.fields.get("param")
    message = exc.message
    for chat_name, ours in _PARAM_NAMES:
        if param is not None and param.startswith(chat_name):
            param = ours + param[len(chat_name):] if chat_name != "messages" else "input"
        message = message.replace(f"`{chat_name}", f"`{ours}")
    if param is not None and param.startswith("tools[") and ".function" in param:
        param = param.replace(".function", "", 1)
    return ChatRejected(exc.status, message, **{**exc.fields, "param": param})


# --------------------------------------------------------------------------- rendering


def _ulid(rng: Any, prefix: str) -> str:
    return prefix + "".join(rng.choice(_ID_ALPHABET) for _ in range(26))


class _Render:
    """The facts of one response, and the JSON of its items in every state."""

    def __init__(self, request: ResponseRequest, reply: Reply, *, response_id: str, created: int,
                 input_tokens: int, rng: Any) -> None:
        self.request = request
        self.reply = reply
        self.response_id = response_id
        self.created = created
        self.input_tokens = input_tokens
        self.reasoning_id = _ulid(rng, "resp_")  # Groq's example gives reasoning items resp_ ids
        self.message_id = _ulid(rng, "msg_")
        self.call_ids = [_ulid(rng, "fc_") for _ in reply.tool_calls]
        self.shows_reasoning = reply.reasoning_tokens > 0 and reply.reasoning_mode in ("parsed", "raw")

    def reasoning_item(self, text: str | None) -> dict[str, object]:
        done = text is not None
        return {"type": "reasoning", "id": self.reasoning_id, "status": "completed" if done else "in_progress",
                "content": [{"type": "reasoning_text", "text": text}] if done else [], "summary": []}

    def message_item(self, text: str | None) -> dict[str, object]:
        done = text is not None
        status = ("incomplete" if self.reply.finish_reason == "length" else "completed") if done else "in_progress"
        return {"type": "message", "id": self.message_id, "status": status, "role": "assistant",
                "content": [self.text_part(text)] if done else []}

    @staticmethod
    def text_part(text: str | None) -> dict[str, object]:
        return {"type": "output_text", "text": text or "", "annotations": [], "logprobs": []}

    def call_item(self, index: int, done: bool) -> dict[str, object]:
        call_id, name, arguments = self.reply.tool_calls[index]
        return {"type": "function_call", "id": self.call_ids[index], "call_id": call_id, "name": name,
                "arguments": arguments if done else "", "status": "completed" if done else "in_progress"}

    def response(self, status: str, output: list[dict[str, object]], output_tokens: int | None) -> dict[str, Any]:
        request = self.request
        usage = None
        if output_tokens is not None:
            usage = {
                "input_tokens": self.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": self.reply.reasoning_tokens},
                "total_tokens": self.input_tokens + output_tokens,
            }
        incomplete = status == "incomplete"
        reasoning = request.reasoning or {}
        return {
            "id": self.response_id,
            "object": "response",
            "status": status,
            "created_at": self.created,
            "output": output,
            "previous_response_id": None,
            "model": request.model,
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "max_output_tokens": request.max_output_tokens,
            "instructions": request.instructions,
            "text": request.text if request.text and request.text.get("format") else {"format": {"type": "text"}},
            "tools": request.tools or [],
            "tool_choice": request.tool_choice if request.tool_choice is not None else "auto",
            "truncation": "disabled",
            "metadata": request.metadata or {},
            "temperature": request.temperature if request.temperature is not None else 1,
            "top_p": request.top_p if request.top_p is not None else 1,
            "user": request.user,
            "service_tier": "default",
            "error": None,
            "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
            "usage": usage,
            "parallel_tool_calls": request.parallel_tool_calls if request.parallel_tool_calls is not None else True,
            "store": False,
            "background": False,
            "top_logprobs": 0,
            "max_tool_calls": None,
        }

    def status(self) -> str:
        return "incomplete" if self.reply.finish_reason == "length" else "completed"


def render_response(render: _Render) -> bytes:
    """The non-streamed ``response`` object (generates the text of a text reply)."""
    reply = render.reply
    output: list[dict[str, object]] = []
    reasoning = "".join(text for text, _ in reply.reasoning_pieces(1 << 30))
    if render.shows_reasoning:
        output.append(render.reasoning_item(reasoning))
    if reply.kind == "tool_calls":
        output.extend(render.call_item(i, True) for i in range(len(reply.tool_calls)))
    else:
        text = reply.content if reply.kind == "json" else "".join(t for t, _ in reply.text_pieces(1 << 30))
        output.append(render.message_item(text))
    return _encode(render.response(render.status(), output, reply.completion_tokens))


def _structured_pieces(text: str, tokens_per_chunk: int) -> Iterator[tuple[str, int]]:
    step = _CHARS_PER_TOKEN * tokens_per_chunk
    for start in range(0, len(text), step):
        piece = text[start : start + step]
        yield piece, max(1, len(piece) // _CHARS_PER_TOKEN)


async def stream_response(
    render: _Render,
    latency: LatencyModel,
    time_scale: float,
    tokens_per_chunk: int,
    on_finish: Callable[[int, bool], None],
) -> AsyncIterator[bytes]:
    """Yield the SSE events of a streamed response, paced by the latency model.

    ``on_finish(output_tokens, completed)`` is called once when the generator ends: ``completed=True``
    after the terminal event, else with the tokens generated so far.
    """
    reply = render.reply
    sequence = 0
    produced = 0
    completed = False
    instant = latency.instant
    per_token = latency.per_token()
    start = trio.current_time()
    offset = latency.queue_time + latency.time_to_first_token

    def event(kind: str, **fields: object) -> bytes:
        nonlocal sequence
        data = _encode({"type": kind, "sequence_number": sequence, **fields})
        sequence += 1
        return encode_event(data, event=kind)

    async def pace(tokens: int) -> None:
        nonlocal offset, produced
        produced += tokens
        offset += tokens * per_token
        if not instant:
            await trio.sleep_until(start + offset / time_scale)

    output: list[dict[str, object]] = []
    try:
        yield event("response.created", response=render.response("in_progress", [], None))
        yield event("response.in_progress", response=render.response("in_progress", [], None))
        if not instant:
            await trio.sleep_until(start + offset / time_scale)
        index = 0
        if render.shows_reasoning:
            item_id = render.reasoning_id
            yield event("response.output_item.added", output_index=index, item=render.reasoning_item(None))
            part = {"type": "reasoning_text", "text": ""}
            yield event("response.content_part.added", item_id=item_id, output_index=index, content_index=0, part=part)
            pieces = []
            for piece, tokens in reply.reasoning_pieces(tokens_per_chunk):
                await pace(tokens)
                pieces.append(piece)
                yield event("response.reasoning_text.delta", item_id=item_id, output_index=index, content_index=0,
                            delta=piece)
            text = "".join(pieces)
            yield event("response.reasoning_text.done", item_id=item_id, output_index=index, content_index=0, text=text)
            yield event("response.content_part.done", item_id=item_id, output_index=index, content_index=0,
                        part={"type": "reasoning_text", "text": text})
            output.append(render.reasoning_item(text))
            yield event("response.output_item.done", output_index=index, item=output[-1])
            index += 1
        else:
            for _, tokens in reply.reasoning_pieces(tokens_per_chunk):  # hidden: it takes time all the same
                await pace(tokens)
        if reply.kind == "tool_calls":
            for i, (_, name, arguments) in enumerate(reply.tool_calls):
                item_id = render.call_ids[i]
                yield event("response.output_item.added", output_index=index, item=render.call_item(i, False))
                for piece, tokens in _structured_pieces(arguments, tokens_per_chunk):
                    await pace(tokens)
                    yield event("response.function_call_arguments.delta", item_id=item_id, output_index=index,
                                delta=piece)
                yield event("response.function_call_arguments.done", item_id=item_id, output_index=index,
                            name=name, arguments=arguments)
                output.append(render.call_item(i, True))
                yield event("response.output_item.done", output_index=index, item=output[-1])
                index += 1
        else:
            item_id = render.message_id
            yield event("response.output_item.added", output_index=index, item=render.message_item(None))
            yield event("response.content_part.added", item_id=item_id, output_index=index, content_index=0,
                        part=render.text_part(""))
            pieces = []
            source = (_structured_pieces(reply.content, tokens_per_chunk) if reply.kind == "json"
                      else reply.text_pieces(tokens_per_chunk))
            for piece, tokens in source:
                await pace(tokens)
                pieces.append(piece)
                yield event("response.output_text.delta", item_id=item_id, output_index=index, content_index=0,
                            delta=piece, logprobs=[])
            text = "".join(pieces)
            yield event("response.output_text.done", item_id=item_id, output_index=index, content_index=0,
                        text=text, logprobs=[])
            yield event("response.content_part.done", item_id=item_id, output_index=index, content_index=0,
                        part=render.text_part(text))
            output.append(render.message_item(text))
            yield event("response.output_item.done", output_index=index, item=output[-1])
        produced = reply.completion_tokens
        status = render.status()
        terminal = "response.completed" if status == "completed" else "response.incomplete"
        yield event(terminal, response=render.response(status, output, produced))
        completed = True
    finally:
        on_finish(produced, completed)


# --------------------------------------------------------------------------- the endpoint


async def serve_responses(
    emu: Emulator, http: EmulatorRequest, key: str, request_id: str, number: int, rng: Any
) -> EmulatorResponse:
    """Answer ``POST /responses`` with ``emu``'s limits, faults and latency (the core's gates, in its order)."""
    settings = emu.settings
    try:
        request = parse_responses_request(http.body)
    except ChatRejected as exc:
        return emu._rejected(exc, None)
    model = request.model
    if (refusal := model_refusal(model, settings.catalog.known(model))) is not None:
        return refusal.response()
    limiter = emu._limiter.get(key, model, emu.emulated_now())
    info = settings.catalog.get(model)
    refusal = responses_refusal(request, info)
    if refusal is not None:
        return emu._rejected(refusal, emu._headers_now(limiter))
    chat = to_chat(request)
    try:
        check_chat_request(chat, settings.catalog)
    except ChatRejected as exc:
        return emu._rejected(_mapped(exc), emu._headers_now(limiter))
    streaming = bool(request.stream)
    rule = emu._fault(model, number, streaming=streaming)
    if rule is not None and rule.kind in _ANSWERING_KINDS:
        return emu._fault_response(rule, emu._headers_now(limiter))
    input_tokens = estimate_response_tokens(
        request.input, instructions=request.instructions, tools=request.tools, text=request.text
    )
    budget = request.max_output_tokens or 0
    refused, headers = emu._admit(
        limiter, model, tokens=input_tokens + budget, input_tokens=input_tokens, output_tokens=budget
    )
    if refused is not None:
        return refused
    content_rng = text_rng(settings.seed, chat)
    try:
        reply = plan_reply(chat, content_rng, settings.completion_tokens, reasoning_plan(chat, info))
    except ChatRejected as exc:
        return emu._rejected(_mapped(exc), headers)
    render = _Render(request, reply, response_id=_ulid(rng, "resp_"), created=int(time.time()),
                     input_tokens=input_tokens, rng=rng)
    if streaming:
        settings = emu.settings

        def events(on_finish: Callable[[int, bool], None]) -> AsyncIterator[bytes]:
            return stream_response(render, emu._latency, settings.time_scale, settings.tokens_per_chunk, on_finish)

        return emu._event_stream(events, limiter, budget, 0, headers, rule)
    return await emu._whole_reply(render_response(render), reply.completion_tokens, limiter, budget, 0, headers, rule)


