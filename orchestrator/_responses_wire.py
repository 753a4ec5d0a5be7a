"""The Responses API's wire format (``POST /openai/v1/responses``) as msgspec Structs, and its token estimate.

Shared by the client (``orchestrator._responses``) and the emulator (``orchestrator.emulator._responses``),
like ``orchestrator._wire`` is for chat: the request body, the response object, the streamed events, and
the prompt estimate the client charges and the emulator reports as ``usage.input_tokens``.

Sources (stored copies read 2026-12-02; Groq's pages carry no date of their own):

* console.groq.com/docs/responses-api ("Responses API - GroqDocs"): Groq's Responses API is "fully
  compatible with OpenAI's Responses API" and "currently in beta"; base URL
  ``https://api.groq.com/openai/v1``; ``input`` is a string or a list of items (messages with
  ``input_text`` / ``input_image`` parts); built-in tools ``browser_search`` and ``code_interpreter``
  (``{"type": "code_interpreter", "container": {"type": "auto"}}``) only on ``openai/gpt-oss-20b`` and
  ``openai/gpt-oss-120b``; ``mcp`` tools; ``text.format`` ``json_schema``; ``reasoning.effort``; reasoning
  traces as output items of type ``reasoning`` with ``content: [{"type": "reasoning_text", ...}]`` and
  ``summary: []``; "Unsupported Features": ``previous_response_id``, ``store``, ``truncation``,
  ``include``, ``safety_identifier``, ``prompt_cache_key``, ``prompt``; "doesn't support stateful
  conversations yet".
* console.groq.com/docs/api-reference#responses-create: request fields ``input`` (required), ``model``
  (required), ``instructions``, ``max_output_tokens`` ("including visible output tokens and reasoning
  tokens"), ``metadata`` ("Maximum of 16 pairs"), ``parallel_tool_calls`` (default true), ``reasoning``,
  ``service_tier`` (``auto|default|flex``), ``store`` ("only supports false or null"), ``stream``,
  ``temperature`` (0-2, default 1), ``text``, ``tool_choice`` (``none|auto|required`` or a named function),
  ``tools`` ("Currently supports function definitions only. Maximum of 128 functions"), ``top_p`` (0-1),
  ``truncation`` (``auto|disabled``), ``user``; the response object's fields and its example (``id``
  ``resp_...``, ``object`` ``response``, ``status`` ``completed|failed|in_progress|incomplete``, message
  items ``msg_...`` with ``output_text`` parts and ``annotations``, ``usage`` with ``input_tokens``,
  ``input_tokens_details.cached_tokens``, ``output_tokens``, ``output_tokens_details.reasoning_tokens``,
  ``total_tokens``; ``previous_response_id`` "Not supported. Always null").
* The streamed events are OpenAI's (the ``openai`` SDK 3.57's ``types/responses``, and
  developers.openai.com/docs/guides/streaming-responses): ``response.created``, ``response.in_progress``,
  ``response.output_item.added``, ``response.content_part.added``, ``response.output_text.delta`` ...,
  ``response.output_text.done``, ``response.content_part.done``, ``response.output_item.done``, then
  ``response.completed`` (or ``response.incomplete`` / ``response.failed``); function calls stream
  ``response.function_call_arguments.delta`` / ``.done``; ``error`` events carry ``code``, ``message``,
  ``param``. [I] Groq's pages do not show a stream; the emulator and the client assume OpenAI's format,
  with ``event:`` lines, ending after the terminal event (a ``data: [DONE]`` is accepted too).

Decoding is deliberately loose: one flat Struct per kind (an output item, a content part, an event) with
every known field optional and unknown fields skipped, so an item type Groq adds tomorrow (an MCP call,
a built-in tool's trace) decodes instead of breaking the client. ``type`` says which fields apply.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from orchestrator._tokens import IMAGE_TOKENS_HIGH, IMAGE_TOKENS_LOW, MESSAGE_OVERHEAD_TOKENS, estimate_text_tokens

__all__ = [
    "TERMINAL_EVENTS",
    "InputTokensDetails",
    "OutputTokensDetails",
    "Response",
    "ResponseContent",
    "ResponseError",
    "ResponseEvent",
    "ResponseIncompleteDetails",
    "ResponseOutputItem",
    "ResponseRequest",
    "ResponseUsage",
    "decode_response",
    "decode_response_event",
    "decode_response_request",
    "estimate_response_tokens",
]

#: The events after which a Responses stream is over (OpenAI's: completed, incomplete, failed).
TERMINAL_EVENTS: Final = frozenset({"response.completed", "response.incomplete", "response.failed"})


class _In(msgspec.Struct, omit_defaults=True, kw_only=True, gc=False):
    """Base of what Groq sends back: unknown fields are skipped, never an error."""


# --------------------------------------------------------------------------- request


class ResponseRequest(msgspec.Struct, omit_defaults=True, kw_only=True, forbid_unknown_fields=True):
    """A ``POST /responses`` body: Groq's documented fields (API reference) plus the ones it names as unsupported.

    Items, tools and formats stay plain JSON (dicts): their shapes are many and checked by hand, by the
    client's validator and by the emulator's own rules, each naming the offending path.
    """

    model: str
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stream: bool | None = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    service_tier: str | None = None
    user: str | None = None
    # Documented by Groq as not supported yet ("Unsupported Features"); kept so a body naming them decodes
    # and is refused with a clear message rather than "unknown field".
    store: bool | None = None
    truncation: str | None = None
    previous_response_id: str | None = None
    include: list[Any] | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt: dict[str, Any] | None = None
    background: bool | None = None


# --------------------------------------------------------------------------- response object


class ResponseContent(_In):
    """One content part: ``output_text`` (``text``, ``annotations``), ``refusal``, ``reasoning_text``, ``summary_text``."""

    type: str
    text: str | None = None
    annotations: list[Any] | None = None
    logprobs: list[Any] | None = None
    refusal: str | None = None


class ResponseOutputItem(_In):
    """One output item; ``type`` says which fields apply.

    - ``message``: ``id`` (``msg_...``), ``role`` ``assistant``, ``status``, ``content`` (``output_text`` parts);
    - ``function_call``: ``id``, ``call_id``, ``name``, ``arguments`` (a JSON string), ``status``;
    - ``reasoning``: ``id``, ``status``, ``content`` (``reasoning_text`` parts), ``summary``;
    - anything else (a built-in tool's or an MCP call's trace): the common fields below, the rest skipped.

    Pass items back in the next request's ``input`` to continue a conversation (Groq keeps no state).
    """

    type: str
    id: str | None = None
    status: str | None = None
    role: str | None = None
    content: list[ResponseContent] | None = None
    call_id: str | None = None
    name: str | None = None
    arguments: str | None = None
    summary: list[ResponseContent] | None = None
    server_label: str | None = None
    output: Any = None
    error: Any = None

    @property
    def text(self) -> str:
        """The ``text`` of this item's ``output_text`` (or ``reasoning_text``) parts, joined."""
        return "".join(part.text or "" for part in self.content or () if part.text is not None)


class InputTokensDetails(_In):
    """``usage.input_tokens_details``: ``cached_tokens`` do not count toward rate limits."""

    cached_tokens: int = 0


class OutputTokensDetails(_In):
    """``usage.output_tokens_details``: ``reasoning_tokens`` are part of ``output_tokens``."""

    reasoning_tokens: int = 0


class ResponseUsage(_In):
    """Token counts of a response.

    It also reads as chat's usage (``prompt_tokens``, ``completion_tokens``, ``prompt_tokens_details``),
    which is what the rate budget reconciles with.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_tokens_details: InputTokensDetails | None = None
    output_tokens_details: OutputTokensDetails | None = None

    @property
    def prompt_tokens(self) -> int:
        """``input_tokens``, in chat's words."""
        return self.input_tokens

    @property
    def completion_tokens(self) -> int:
        """``output_tokens`` (reasoning included), in chat's words."""
        return self.output_tokens

    @property
    def prompt_tokens_details(self) -> InputTokensDetails | None:
        """``input_tokens_details`` (its ``cached_tokens``), in chat's words."""
        return self.input_tokens_details


class ResponseError(_In):
    """``response.error`` of a failed response."""

    code: str | None = None
    message: str | None = None


class ResponseIncompleteDetails(_In):
    """``response.incomplete_details``: why a response stopped early (``max_output_tokens``)."""

    reason: str | None = None


class Response(_In):
    """A model response (``object`` ``response``): its output items, status, echoed settings and usage."""

    id: str
    object: str = "response"
    created_at: float = 0
    status: str | None = None
    model: str = ""
    output: list[ResponseOutputItem] = []
    instructions: Any = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    metadata: dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    reasoning: dict[str, Any] | None = None
    service_tier: str | None = None
    store: bool | None = None
    temperature: float | None = None
    text: dict[str, Any] | None = None
    tool_choice: Any = None
    tools: list[dict[str, Any]] = []
    top_logprobs: int | None = None
    top_p: float | None = None
    truncation: str | None = None
    usage: ResponseUsage | None = None
    user: str | None = None
    background: bool | None = None
    error: ResponseError | None = None
    incomplete_details: ResponseIncompleteDetails | None = None

    @property
    def output_text(self) -> str:
        """The text of every ``message`` item's ``output_text`` parts, joined (the SDKs' ``output_text``)."""
        return "".join(
            part.text or ""
            for item in self.output
            if item.type == "message"
            for part in item.content or ()
            if part.type == "output_text"
        )

    @property
    def function_calls(self) -> list[ResponseOutputItem]:
        """The ``function_call`` items, in order (run them, then send ``function_call_output`` items back)."""
        return [item for item in self.output if item.type == "function_call"]


class ResponseEvent(_In):
    """One streamed event; ``type`` (``response.output_text.delta`` ...) says which fields apply.

    Lifecycle events (``response.created``, ``.in_progress``, ``.completed``, ``.incomplete``, ``.failed``)
    carry ``response``; item events ``output_index`` and ``item``; part events ``content_index`` and
    ``part``; deltas ``item_id`` and ``delta``; ``.done`` events ``text`` or ``arguments``; ``error``
    events ``code``, ``message`` and ``param``.
    """

    type: str
    sequence_number: int | None = None
    response: Response | None = None
    output_index: int | None = None
    item_id: str | None = None
    content_index: int | None = None
    summary_index: int | None = None
    item: ResponseOutputItem | None = None
    part: ResponseContent | None = None
    delta: str | None = None
    text: str | None = None
    arguments: str | None = None
    name: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None


decode_response = msgspec.json.Decoder(Response).decode
decode_response_event = msgspec.json.Decoder(ResponseEvent).decode
decode_response_request = msgspec.json.Decoder(ResponseRequest).decode
_encode = msgspec.json.Encoder().encode


# --------------------------------------------------------------------------- prompt estimate


def _content_tokens(content: object) -> int:
    if isinstance(content, str):
        return estimate_text_tokens(content)
    total = 0
    if isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "input_image":
                total += IMAGE_TOKENS_LOW if part.get("detail") == "low" else IMAGE_TOKENS_HIGH
            elif isinstance(part.get("text"), str):
                total += estimate_text_tokens(part["text"])
            elif isinstance(part.get("refusal"), str):
                total += estimate_text_tokens(part["refusal"])
    return total


def _item_tokens(item: object) -> int:
    """Tokens one input item adds: the message overhead, plus its text, images, call or call output."""
    if not isinstance(item, dict):
        return MESSAGE_OVERHEAD_TOKENS
    kind = item.get("type", "message")
    total = MESSAGE_OVERHEAD_TOKENS
    if kind == "message":
        total += _content_tokens(item.get("content"))
    elif kind == "function_call":
        total += estimate_text_tokens(str(item.get("name") or "") + str(item.get("arguments") or ""))
    elif kind == "function_call_output":
        output = item.get("output")
        total += estimate_text_tokens(output) if isinstance(output, str) else _content_tokens(output)
    elif kind == "reasoning":
        total += _content_tokens(item.get("content")) + _content_tokens(item.get("summary"))
    else:
        total += estimate_text_tokens(_encode(item).decode())
    return total


def estimate_response_tokens(
    input: object, *, instructions: object = None, tools: object = None, text: object = None
) -> int:
    """Estimated input tokens of a Responses request, by ``orchestrator._tokens``'s rule.

    ``instructions`` count as one system message, a string ``input`` as one user message, each input
    item as a message (its text and images; a function call's name and arguments; a call output's text);
    ``tools`` and a ``json_schema`` format's schema cost ``ceil(len(JSON) / 4)``. Pure and deterministic:
    the emulator reports this very number as ``usage.input_tokens``.
    """
    total = 0
    if isinstance(instructions, str):
        total += MESSAGE_OVERHEAD_TOKENS + estimate_text_tokens(instructions)
    if isinstance(input, str):
        total += MESSAGE_OVERHEAD_TOKENS + estimate_text_tokens(input)
    elif isinstance(input, list):
        for item in input:
            total += _item_tokens(item)
    if tools:
        total += (len(_encode(tools)) + 3) // 4
    fmt = text.get("format") if isinstance(text, dict) else None
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema" and fmt.get("schema") is not None:
        total += (len(_encode(fmt["schema"])) + 3) // 4
    return total
