"""Groq's OpenAI-compatible wire format as msgspec Structs, plus the codec singletons.

Every body that crosses the wire (chat requests, responses and stream chunks, audio
responses, models, error bodies) is declared here once, as annotated fields with
defaults, so the client, the emulator and the batch runner all read and write the
same shapes.

Rules of the house, and why:

* **Encoding omits unset fields** (``omit_defaults=True``): a request carries only
  what the caller set, so Groq applies its own defaults and the body stays small.
  Records whose fields are always on the wire (``Usage``, ``Segment``, ``Word``)
  encode every field instead, because OpenAI-style clients expect them.
* **Decoding ignores unknown fields** on every response type: Groq keeps adding
  vendor fields (``x_groq.debug`` is one) and a new field must never break a client. The
  compound systems' fields (``executed_tools``, ``annotations``, ``usage_breakdown``,
  ``mcp_list_tools``) are decoded, every one of their sub-fields optional, so a partial
  body still decodes. Only :class:`ChatRequest` forbids unknown
  top-level keys, so a typo such as ``temprature`` is an error instead of a silently
  ignored setting.
* **Constant discriminators are msgspec tags** (``role`` on messages, ``type`` on
  parts, tools and tool calls, ``object`` on responses and models). A tag is always
  encoded, even with ``omit_defaults``, and selects the class on decode; each tagged
  class exposes it as a read-only attribute of the same name (``msg.role``).
* **Response types are not tracked by the garbage collector** (``gc=False``): they
  never form reference cycles, and skipping GC tracking makes the hot path of
  streaming (one :class:`ChatChunk` per SSE event) cheaper.
* **Codecs are module-level singletons** (``decode_chat_chunk = Decoder(ChatChunk).decode``):
  building a decoder is the expensive part, using one is cheap.

:func:`chat_request_from` is the door for user input: it accepts what people write for
the OpenAI/Groq SDKs (plain dicts) and reports a type error as our ``ValidationError``
with a readable field path (``messages[0].content``). Before any recursive code (msgspec's
conversion, a ``repr``) sees the input, :func:`json_problem` walks it without recursion and
refuses nesting deeper than :data:`MAX_JSON_DEPTH` levels, so a hostile body ends in a
``ValidationError``, never a ``RecursionError``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection
from typing import Any, Final, Literal, NamedTuple

import msgspec

from orchestrator._secret import short_repr as _bounded_repr

__all__ = [
    "Annotation",
    "AnyTool",
    "AssistantMessage",
    "BrowserResult",
    "BrowserSearchTool",
    "ChatChunk",
    "ChatRequest",
    "ChatResponse",
    "Choice",
    "ChoiceLogprobs",
    "ChunkChoice",
    "CodeInterpreterTool",
    "CodeResult",
    "CompletionTokensDetails",
    "CompoundCustom",
    "CompoundModels",
    "CompoundTools",
    "Delta",
    "DeveloperMessage",
    "Document",
    "DocumentCitation",
    "DocumentJson",
    "DocumentText",
    "ErrorBody",
    "ErrorDetail",
    "ExecutedTool",
    "FunctionCall",
    "FunctionCitation",
    "FunctionCallDelta",
    "FunctionDefinition",
    "ImageUrl",
    "ImageUrlPart",
    "JsonProblem",
    "JsonSchemaFormat",
    "MAX_JSON_DEPTH",
    "McpListTools",
    "McpTool",
    "Message",
    "Model",
    "ModelDeleted",
    "ModelList",
    "ModelUsage",
    "PromptTokensDetails",
    "ResponseFormat",
    "ResponseMessage",
    "SearchResult",
    "SearchResults",
    "SearchSettings",
    "Segment",
    "StreamOptions",
    "SystemMessage",
    "TextPart",
    "TokenLogprob",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoiceFunction",
    "ToolChoiceName",
    "ToolMessage",
    "TopLogprob",
    "Transcription",
    "Usage",
    "UsageBreakdown",
    "UserMessage",
    "VerboseTranscription",
    "WolframSettings",
    "Word",
    "XGroq",
    "chat_request_from",
    "decode_chat_chunk",
    "decode_chat_request",
    "decode_chat_response",
    "decode_error_body",
    "decode_model",
    "decode_model_deleted",
    "decode_model_list",
    "decode_transcription",
    "decode_verbose_transcription",
    "encode",
    "json_problem",
    "short_repr",
    "text_of",
]


# --------------------------------------------------------------------------- bases


class _Request(msgspec.Struct, omit_defaults=True, kw_only=True):
    """Base of everything a client sends: unset (default) fields are left out of the body."""


class _Response(msgspec.Struct, omit_defaults=True, kw_only=True, gc=False):
    """Base of everything Groq sends back: unknown fields are skipped, never an error."""


class _Record(msgspec.Struct, kw_only=True, gc=False):
    """Base of response records whose every field is always on the wire (even zeros and nulls)."""


class _RoleTagged(_Request, tag_field="role"):
    """A message: the ``role`` key selects the class, and is readable as ``message.role``."""

    @property
    def role(self) -> str:
        """The message role on the wire (``system``, ``developer``, ``user``, ``assistant``, ``tool``)."""
        return self.__struct_config__.tag  # type: ignore[return-value]


class _TypeTagged(_Request, tag_field="type"):
    """A request object discriminated by ``type`` (content parts, tools, tool choice)."""

    @property
    def type(self) -> str:
        """The ``type`` value on the wire."""
        return self.__struct_config__.tag  # type: ignore[return-value]


class _ObjectTagged(_Response, tag_field="object"):
    """A response discriminated by ``object`` (``chat.completion``, ``model``, ``list``...)."""

    @property
    def object(self) -> str:
        """The ``object`` value on the wire."""
        return self.__struct_config__.tag  # type: ignore[return-value]


# --------------------------------------------------------------------------- content parts


class TextPart(_TypeTagged, tag="text"):
    """A text content part: ``{"type": "text", "text": ...}``."""

    text: str


class ImageUrl(_Request):
    """Where an image lives: an ``https://`` URL or a ``data:image/...;base64,...`` URL.

    ``detail`` trades cost for fidelity (``low`` is a fixed small token cost).
    """

    url: str
    detail: Literal["low", "high", "auto"] | None = None


class ImageUrlPart(_TypeTagged, tag="image_url"):
    """An image content part (vision models only): ``{"type": "image_url", "image_url": {...}}``."""

    image_url: ImageUrl


# --------------------------------------------------------------------------- tools


class FunctionDefinition(_Request):
    """A function the model may call; ``parameters`` is a JSON Schema for its arguments."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_TypeTagged, tag="function"):
    """A caller-defined function offered to the model: ``{"type": "function", "function": {...}}``."""

    function: FunctionDefinition


class BrowserSearchTool(_TypeTagged, tag="browser_search"):
    """Groq's built-in web search tool (gpt-oss models): ``{"type": "browser_search"}``."""


class CodeInterpreterTool(_TypeTagged, tag="code_interpreter"):
    """Groq's built-in code execution tool (gpt-oss models): ``{"type": "code_interpreter"}``."""


AnyTool = Tool | BrowserSearchTool | CodeInterpreterTool
"""Any entry of ``tools``; decoding picks the class from ``type``."""


class FunctionCall(_Request):
    """The function a model called: its name and its arguments as a JSON string."""

    name: str
    arguments: str


class ToolCall(_TypeTagged, tag="function"):
    """One tool call in an assistant message (response, or history sent back)."""

    id: str
    function: FunctionCall


class ToolChoiceName(_Request):
    """Names the function in a forced tool choice."""

    name: str


class ToolChoiceFunction(_TypeTagged, tag="function"):
    """Forces the model to call one named function: ``{"type": "function", "function": {"name": ...}}``."""

    function: ToolChoiceName


# --------------------------------------------------------------------------- messages


class SystemMessage(_RoleTagged, tag="system"):
    """Instructions for the model."""

    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(SystemMessage, tag="developer"):
    """OpenAI's newer name for a system message; Groq accepts it and treats it the same."""


class UserMessage(_RoleTagged, tag="user"):
    """What the user says: text, or a list of text and image parts."""

    content: str | list[TextPart | ImageUrlPart]
    name: str | None = None


class AssistantMessage(_RoleTagged, tag="assistant"):
    """A previous model turn sent back as history; needs ``content`` or ``tool_calls``."""

    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning: str | None = None


class ToolMessage(_RoleTagged, tag="tool"):
    """The result of a tool call, answering the assistant's ``tool_calls[].id``."""

    content: str | list[TextPart]
    tool_call_id: str
    name: str | None = None


Message = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage
"""Any chat message; decoding picks the class from ``role``."""


# --------------------------------------------------------------------------- request


class JsonSchemaFormat(_Request):
    """Structured Outputs: the JSON Schema (wire key ``schema``) the answer must match."""

    name: str
    schema: dict[str, Any]
    description: str | None = None
    strict: bool | None = None


class ResponseFormat(_Request):
    """Output format: ``text``, ``json_object`` (JSON mode) or ``json_schema`` (structured outputs)."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(_Request):
    """Streaming options; ``include_usage`` adds a final chunk with a top-level ``usage``."""

    include_usage: bool | None = None


class SearchSettings(_Request):
    """Web search settings of the compound systems (groq-python ``SearchSettings``).

    ``include_domains`` / ``exclude_domains`` take domains, with wildcards such as ``*.edu``
    (console.groq.com/docs/compound/search-settings); ``country`` boosts one country's results.
    """

    country: str | None = None
    exclude_domains: list[str] | None = None
    include_domains: list[str] | None = None
    include_images: bool | None = None


class DocumentText(_TypeTagged, tag="text"):
    """A document given inline as text: ``{"type": "text", "text": ...}``."""

    text: str


class DocumentJson(_TypeTagged, tag="json"):
    """A document given inline as JSON data: ``{"type": "json", "data": {...}}``."""

    data: dict[str, Any]


class Document(_Request):
    """A document the model may read and cite (``documents``); ``id`` is what a citation names."""

    source: DocumentText | DocumentJson
    id: str | None = None


class CompoundModels(_Request):
    """The models a compound system reasons and answers with (``compound_custom.models``)."""

    answering_model: str | None = None
    reasoning_model: str | None = None


class WolframSettings(_Request):
    """The caller's own Wolfram|Alpha key (``compound_custom.tools.wolfram_settings``)."""

    authorization: str | None = None

    def __repr__(self) -> str:
        return "WolframSettings(authorization=<hidden>)" if self.authorization else "WolframSettings()"


class CompoundTools(_Request):
    """Which built-in tools a compound system may use (``web_search``, ``code_interpreter``...)."""

    enabled_tools: list[str] | None = None
    wolfram_settings: WolframSettings | None = None


class CompoundCustom(_Request):
    """``compound_custom``: the models and tools of a compound system (``groq/compound``)."""

    models: CompoundModels | None = None
    tools: CompoundTools | None = None


class ChatRequest(_Request, forbid_unknown_fields=True):
    """A chat completion request with every parameter Groq accepts.

    All optional fields default to ``None`` and are left out of the encoded body, so
    Groq's own defaults apply. Unknown top-level keys are refused on decode (a typo
    is an error, not a silently ignored setting). Ranges and cross-field rules are
    checked by :func:`orchestrator._validation.validate_chat_request`, not here.
    """

    model: str
    messages: list[Message]
    temperature: float | None = None
    top_p: float | None = None
    max_completion_tokens: int | None = None
    max_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    response_format: ResponseFormat | None = None
    tools: list[AnyTool] | None = None
    tool_choice: Literal["auto", "none", "required"] | ToolChoiceFunction | None = None
    parallel_tool_calls: bool | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    user: str | None = None
    reasoning_format: Literal["hidden", "raw", "parsed"] | None = None
    reasoning_effort: str | None = None
    include_reasoning: bool | None = None
    service_tier: str | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    logit_bias: dict[str, int] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None
    disable_tool_validation: bool | None = None
    citation_options: Literal["enabled", "disabled"] | None = None
    documents: list[Document] | None = None
    search_settings: SearchSettings | None = None
    compound_custom: CompoundCustom | None = None
    #: Deprecated by Groq in favour of ``search_settings.include_domains`` / ``exclude_domains``.
    include_domains: list[str] | None = None
    exclude_domains: list[str] | None = None
    #: Deprecated by Groq in favour of ``tools`` / ``tool_choice``; sent as given, never converted.
    functions: list[FunctionDefinition] | None = None
    function_call: Literal["none", "auto", "required"] | ToolChoiceName | None = None

    @property
    def completion_budget(self) -> int | None:
        """The completion-token cap the caller asked for (``max_completion_tokens``, else ``max_tokens``).

        The scheduler charges prompt estimate + this budget against the token buckets
        before sending, as Groq does against TPM.
        """
        if self.max_completion_tokens is not None:
            return self.max_completion_tokens
        return self.max_tokens


# --------------------------------------------------------------------------- usage and metadata


class PromptTokensDetails(_Response):
    """Breakdown of prompt tokens; ``cached_tokens`` do not count against rate limits."""

    cached_tokens: int | None = None


class CompletionTokensDetails(_Response):
    """Breakdown of completion tokens (reasoning models report ``reasoning_tokens``)."""

    reasoning_tokens: int | None = None


class Usage(_Record):
    """Token counts and Groq's server-side timings (seconds).

    Every field is always encoded: OpenAI-style clients require the three counts,
    and ``null`` timings are valid. Counts default to 0 because some Groq bodies
    (``x_groq.usage`` on non-stream responses) carry only part of them: there groq-python's
    ``XGroqUsage`` has the hardware cache counts ``dram_cached_tokens`` / ``sram_cached_tokens``
    (kept here, one type for every usage, so a stream's ``x_groq.usage`` equals its top-level one).
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    queue_time: float | None = None
    prompt_time: float | None = None
    completion_time: float | None = None
    total_time: float | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    dram_cached_tokens: int | None = None
    sram_cached_tokens: int | None = None


class ModelUsage(_Response):
    """One model's share of a compound request (``usage_breakdown.models[]``)."""

    model: str | None = None
    usage: Usage | None = None


class UsageBreakdown(_Response):
    """Per-model usage of a compound system's request (``usage_breakdown``)."""

    models: list[ModelUsage] | None = None


class XGroq(_Response):
    """Groq's own metadata: request id (first and last chunk), final-chunk usage, seed, stream error.

    A compound system's stream puts ``usage_breakdown`` here, in its final chunk.
    """

    id: str | None = None
    usage: Usage | None = None
    seed: int | None = None
    error: str | None = None
    usage_breakdown: UsageBreakdown | None = None


# --------------------------------------------------------------------------- chat response


class TopLogprob(_Response):
    """One alternative token and its log probability."""

    token: str
    logprob: float
    bytes: list[int] | None = None


class TokenLogprob(_Response):
    """The log probability of one generated token, with the most likely alternatives."""

    token: str
    logprob: float
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] | None = None


class ChoiceLogprobs(_Response):
    """Per-token log probabilities of a choice (when ``logprobs=true`` was requested)."""

    content: list[TokenLogprob] | None = None


class SearchResult(_Response):
    """One web search hit of a compound system's search tool."""

    title: str | None = None
    url: str | None = None
    content: str | None = None
    score: float | None = None


class SearchResults(_Response):
    """What a search tool found (``executed_tools[].search_results``)."""

    results: list[SearchResult] | None = None
    images: list[str] | None = None


class BrowserResult(_Response):
    """A page a browser tool visited (``executed_tools[].browser_results[]``)."""

    title: str | None = None
    url: str | None = None
    content: str | None = None
    live_view_url: str | None = None


class CodeResult(_Response):
    """A code execution's output: text, a base64 PNG, charts (kept as plain JSON)."""

    text: str | None = None
    png: str | None = None
    chart: dict[str, Any] | None = None
    charts: list[dict[str, Any]] | None = None


class ExecutedTool(_Response):
    """A built-in tool a compound system ran on Groq's side (``message.executed_tools[]``)."""

    index: int | None = None
    type: str | None = None
    arguments: str | None = None
    output: str | None = None
    search_results: SearchResults | None = None
    browser_results: list[BrowserResult] | None = None
    code_results: list[CodeResult] | None = None


class DocumentCitation(_Response):
    """A span of the content that cites a request ``documents[]`` entry by id."""

    document_id: str | None = None
    start_index: int | None = None
    end_index: int | None = None


class FunctionCitation(_Response):
    """A span of the content that cites a tool call's result."""

    tool_call_id: str | None = None
    start_index: int | None = None
    end_index: int | None = None


class Annotation(_Response):
    """A citation in the message (``type`` ``document_citation`` or ``function_citation``)."""

    type: str | None = None
    document_citation: DocumentCitation | None = None
    function_citation: FunctionCitation | None = None


class McpTool(_Response):
    """A tool an MCP server offers (``mcp_list_tools[].tools[]``)."""

    name: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    annotations: Any = None


class McpListTools(_Response):
    """The tools discovered on one connected MCP server."""

    id: str | None = None
    server_label: str | None = None
    type: str | None = None
    tools: list[McpTool] | None = None


class ResponseMessage(_Response, tag_field="role", tag="assistant"):
    """The generated message: text, tool calls, and (with ``reasoning_format=parsed``) reasoning.

    Compound systems add ``executed_tools`` (their server-side tool runs); ``annotations`` are
    citations; ``function_call`` is the deprecated form of a tool call (with ``functions``).
    """

    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning: str | None = None
    executed_tools: list[ExecutedTool] | None = None
    annotations: list[Annotation] | None = None
    function_call: FunctionCall | None = None

    @property
    def role(self) -> str:
        """Always ``"assistant"``."""
        return "assistant"


class Choice(_Response):
    """One completion choice; ``finish_reason`` is stop, length, tool_calls or content_filter."""

    index: int
    message: ResponseMessage
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatResponse(_ObjectTagged, tag="chat.completion"):
    """A non-streamed chat completion; ``x_groq.id`` is Groq's request id."""

    id: str
    created: int
    model: str
    choices: list[Choice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    x_groq: XGroq | None = None
    #: The tier that answered (``on_demand``, ``flex``...); after a tier fallback, the fallback's.
    service_tier: str | None = None
    usage_breakdown: UsageBreakdown | None = None
    mcp_list_tools: list[McpListTools] | None = None


# --------------------------------------------------------------------------- streaming


class FunctionCallDelta(_Response):
    """A fragment of a streamed function call: the name arrives first, arguments in pieces."""

    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(_Response):
    """A fragment of a streamed tool call; fragments with the same ``index`` belong together."""

    index: int
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


class Delta(_Response):
    """What one chunk adds to the message (``role`` only in the first chunk)."""

    role: str | None = None
    content: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    reasoning: str | None = None
    executed_tools: list[ExecutedTool] | None = None
    annotations: list[Annotation] | None = None
    function_call: FunctionCallDelta | None = None


class ChunkChoice(_Response):
    """One choice in a stream chunk; ``finish_reason`` is set on the last content chunk."""

    index: int
    delta: Delta
    finish_reason: str | None = None
    logprobs: ChoiceLogprobs | None = None


class ChatChunk(_ObjectTagged, tag="chat.completion.chunk"):
    """One SSE event of a streamed completion.

    Groq puts usage in ``x_groq.usage`` of the last content chunk; with
    ``stream_options.include_usage`` a final chunk with empty ``choices`` and a
    top-level ``usage`` follows.
    """

    id: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
    x_groq: XGroq | None = None


# --------------------------------------------------------------------------- audio


class Transcription(_Response):
    """``response_format=json`` transcription or translation: just the text."""

    text: str
    x_groq: XGroq | None = None


class Segment(_Record):
    """A timed segment of a ``verbose_json`` transcription (also the source of srt/vtt)."""

    id: int = 0
    seek: int = 0
    start: float = 0.0
    end: float = 0.0
    text: str = ""
    tokens: list[int] = []
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0


class Word(_Record):
    """A word with its start and end time (``timestamp_granularities=["word"]``)."""

    word: str
    start: float
    end: float


class VerboseTranscription(_Response):
    """``response_format=verbose_json``: text plus language, duration, segments and words."""

    text: str
    task: str | None = None
    language: str | None = None
    duration: float | None = None
    segments: list[Segment] | None = None
    words: list[Word] | None = None
    x_groq: XGroq | None = None


# --------------------------------------------------------------------------- models and errors


class Model(_ObjectTagged, tag="model"):
    """A model as ``GET /models`` describes it (``GET /models/{id}`` may carry fewer fields)."""

    id: str
    created: int | None = None
    owned_by: str | None = None
    active: bool | None = None
    context_window: int | None = None
    public_apps: list[str] | None = None
    max_completion_tokens: int | None = None


class ModelList(_ObjectTagged, tag="list"):
    """The body of ``GET /models``."""

    data: list[Model]


class ModelDeleted(_Response):
    """The body of ``DELETE /models/{id}`` (groq-python ``types/model_deleted.py``): ``{id, object, deleted}``."""

    id: str
    object: str = "model"
    deleted: bool = False


class ErrorDetail(_Response):
    """What went wrong: message, type, code (``rate_limit_exceeded``...), and the rejected model output.

    ``failed_generation`` comes with ``json_validate_failed`` and ``tool_use_failed``;
    ``status_code`` with in-stream errors.
    """

    message: str
    type: str | None = None
    code: str | None = None
    param: str | None = None
    failed_generation: str | None = None
    status_code: int | None = None


class ErrorBody(_Response):
    """An error response (or an in-stream error event): ``{"error": {...}}``."""

    error: ErrorDetail


# --------------------------------------------------------------------------- codecs

encode = msgspec.json.Encoder().encode
"""Encode any wire Struct to JSON bytes (unset fields omitted)."""

decode_chat_request = msgspec.json.Decoder(ChatRequest).decode
"""JSON bytes -> :class:`ChatRequest` (raises ``msgspec.ValidationError``)."""
decode_chat_response = msgspec.json.Decoder(ChatResponse).decode
"""JSON bytes -> :class:`ChatResponse`."""
decode_chat_chunk = msgspec.json.Decoder(ChatChunk).decode
"""JSON bytes (one SSE ``data:`` payload) -> :class:`ChatChunk`; the streaming hot path."""
decode_model = msgspec.json.Decoder(Model).decode
"""JSON bytes -> :class:`Model`."""
decode_model_list = msgspec.json.Decoder(ModelList).decode
"""JSON bytes -> :class:`ModelList`."""
decode_model_deleted = msgspec.json.Decoder(ModelDeleted).decode
"""JSON bytes -> :class:`ModelDeleted`."""
decode_error_body = msgspec.json.Decoder(ErrorBody).decode
"""JSON bytes -> :class:`ErrorBody`."""
decode_transcription = msgspec.json.Decoder(Transcription).decode
"""JSON bytes -> :class:`Transcription`."""
decode_verbose_transcription = msgspec.json.Decoder(VerboseTranscription).decode
"""JSON bytes -> :class:`VerboseTranscription`."""


def text_of(content: str | list[Any] | None) -> str:
    """The plain text of a message ``content``: the string itself, or its text parts joined by newlines.

    Image parts contribute nothing. Used wherever the words matter (token estimates,
    the JSON-mode "json" rule, the emulator's echo), so all agree on one reading.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(part.text for part in content if isinstance(part, TextPart))


# --------------------------------------------------------------------------- user input

_PATH_SUFFIX = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_NAMED_FIELD = re.compile(r"field `(?P<name>[^`]+)`")
_PATH_TOKEN = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


#: ChatRequest's number fields, each checked against its range by the validator (which also refuses NaN).
RANGED_NUMBERS: Final = frozenset({"temperature", "top_p", "frequency_penalty", "presence_penalty"})


def chat_request_from(obj: ChatRequest | dict[str, Any], *, decoded_json: bool = False) -> ChatRequest:
    """Turn what a user wrote for the OpenAI/Groq SDK into a :class:`ChatRequest`.

    Accepts a ``ChatRequest`` (returned as is) or a plain dict with messages, tools,
    ``response_format`` and ``tool_choice`` as dicts. Only types and shapes are
    checked here; ranges and model rules are :mod:`orchestrator._validation`'s job.

    ``decoded_json``: ``obj`` is what ``msgspec.json`` decoded from text whose nesting the caller has
    measured against ``MAX_JSON_DEPTH`` (a batch file's line). Such a value cannot hold what the walk looks
    for (msgspec refuses NaN, infinities and lone surrogates in JSON text), so it is not walked.

    Raises:
        ValidationError: a field has the wrong type, is missing, or is unknown; the
            error names the field path (``messages[0].content``) and the value.
    """
    if isinstance(obj, ChatRequest):
        return obj
    # Depth before any recursive code, lone surrogates before msgspec (which chokes on them); a NaN temperature
    # is left to the validator, whose range rules name it better. A request built here is walked whole, so the
    # validator need not walk it again (validate_chat_request(walked=True)).
    deep = None if decoded_json else json_problem(obj, ranged_elsewhere=RANGED_NUMBERS)
    if deep is not None:
        from orchestrator._errors import ValidationError

        raise ValidationError(deep.message(), field=deep.field or None, value=deep.value, rule=deep.rule)
    try:
        return msgspec.convert(obj, ChatRequest)
    except msgspec.ValidationError as exc:
        raise _translate(exc, obj) from None


def _translate(exc: msgspec.ValidationError, obj: object) -> Exception:
    """Rewrite msgspec's ``... - at `$.messages[0].content``` into our ValidationError."""
    from orchestrator._errors import ValidationError

    text = str(exc)
    match = _PATH_SUFFIX.search(text)
    raw_path = match.group("path") if match else ""
    reason = text[: match.start()] if match else text
    field = raw_path.lstrip(".")
    value = _value_at(obj, raw_path)
    named = _NAMED_FIELD.search(reason)
    if "unknown field" in reason and named:
        rule = "unknown_field"
        # msgspec points at the enclosing object; point at the field itself.
        field = f"{field}.{named.group('name')}" if field else named.group("name")
        value = _value_at(value, "." + named.group("name"))
        hint = "remove it or check its spelling against the OpenAI/Groq chat parameters"
    elif "missing required field" in reason and named:
        rule = "required"
        field = f"{field}.{named.group('name')}" if field else named.group("name")
        value = None
        hint = "add it"
    elif reason.startswith("Invalid value"):
        rule = "allowed_values"
        hint = "use one of the values the OpenAI/Groq chat schema allows here"
    else:
        rule = "type"
        hint = "give it the type the OpenAI/Groq chat schema expects"
    where = field or "<request>"
    return ValidationError(
        f"{where}: {reason} (got {'nothing' if rule == 'required' else short_repr(value)}); {hint} [rule: {rule}]",
        field=field or None,
        value=value,
        rule=rule,
    )


_MAX_REPR = 120


def short_repr(value: object) -> str:
    """``repr(value)`` cut to 120 characters, so an error never quotes a whole base64 image.

    Bounded in depth too (a value nested 1,000 levels shows its first few), and anything that looks like
    a credential is masked (:func:`orchestrator._secret.short_repr`).
    """
    return _bounded_repr(value, _MAX_REPR)


# --------------------------------------------------------------------------- JSON values

#: Deepest nesting of arrays and objects a request may have, counting the body itself as level 1.
#: A chat request needs about 10 (a JSON Schema of nested objects costs 2 per object); 64 leaves room for
#: any real schema or document while keeping every recursive consumer (msgspec, jsonschema, ``repr``) far
#: from Python's recursion limit.
MAX_JSON_DEPTH: Final = 64
#: How many leading path components name a too-deep value (``messages[0].content[0]``, not 64 of them).
_DEPTH_PATH_PARTS: Final = 4
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


class JsonProblem(NamedTuple):
    """What :func:`json_problem` found: where (a field path), the value there, the rule, and the words."""

    field: str
    value: Any
    rule: str
    problem: str
    fix: str

    def __repr__(self) -> str:
        return f"JsonProblem(field={self.field!r}, rule={self.rule!r}, value={short_repr(self.value)})"

    def message(self) -> str:
        """The ValidationError message: field, problem, the (shortened) value, fix and rule."""
        where = self.field or "<request>"
        return f"{where}: {self.problem} (got {short_repr(self.value)}); {self.fix} [rule: {self.rule}]"


def _path_text(parts: list[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _path_of(node: tuple[Any, ...] | None) -> list[str | int]:
    parts: list[str | int] = []
    while node is not None:
        node, key = node
        parts.append(key)
    parts.reverse()
    return parts


def json_problem(
    value: object,
    *,
    max_depth: int = MAX_JSON_DEPTH,
    finite: bool = True,
    text: bool = True,
    ranged_elsewhere: Collection[str] = (),
) -> JsonProblem | None:
    """Something in ``value`` that no JSON request body may carry (the first one met), or None; never recurses.

    Walks dicts, lists, tuples and msgspec Structs (their fields) with an explicit stack, so it is safe on
    values nested a million levels deep, and checks:

    * nesting: arrays and objects more than ``max_depth`` levels deep, ``value`` itself being level 1
      (rule ``max_depth``; the field named is the first four steps of the path);
    * numbers, with ``finite``: NaN and the infinities, which JSON cannot write (rule ``finite_number``);
    * strings, with ``text``: lone surrogates (``"\\ud800"``), which UTF-8 cannot encode (rule ``utf8``),
      in values and in object keys.

    Types are not judged here (msgspec and the validator do that); a value of any other type is skipped.
    A number right under ``value`` whose key is in ``ranged_elsewhere`` is not judged either: the caller's
    range rule names it better ("temperature must be between 0 and 2" says more than "not finite").
    """
    leaf = _leaf_problem(value, None, finite, text)
    if leaf is not None or not isinstance(value, _CONTAINERS):
        return leaf
    # Each entry: (container, depth, path node); a path node is (parent node, key), built only on failure.
    # Strings and numbers are judged as they are met, never stacked: most of a request is strings.
    stack: list[tuple[Any, int, tuple[Any, ...] | None]] = [(value, 1, None)]
    while stack:
        item, depth, node = stack.pop()
        if depth > max_depth:
            parts = _path_of(node)[:_DEPTH_PATH_PARTS]
            return JsonProblem(
                _path_text(parts), _value_along(value, parts), "max_depth",
                f"is nested deeper than {max_depth} levels of arrays and objects",
                "flatten it; no chat request needs that much nesting",
            )
        if isinstance(item, dict):
            children: Any = item.items()
            keys_are_text = True
        elif isinstance(item, (list, tuple)):
            children = enumerate(item)
            keys_are_text = False
        else:
            children = zip(item.__struct_fields__, msgspec.structs.astuple(item))
            keys_are_text = False  # field names are identifiers
        for key, child in children:
            if keys_are_text and text and isinstance(key, str) and not key.isascii() and _SURROGATE.search(key):
                return JsonProblem(_path_text(_path_of(node)), key, "utf8", "has a key holding a lone surrogate, "
                                   "which is not valid UTF-8", "remove the stray \\ud800-\\udfff characters")
            if child is None:
                continue
            kind = type(child)
            if kind is str:
                if text and not child.isascii() and _SURROGATE.search(child):
                    return _leaf_problem(child, (node, key), finite, text)
            elif kind is int or kind is bool or (kind is float and node is None and key in ranged_elsewhere):
                pass
            elif isinstance(child, _CONTAINERS):
                stack.append((child, depth + 1, (node, key)))
            else:
                leaf = _leaf_problem(child, (node, key), finite, text)
                if leaf is not None:
                    return leaf
    return None


_CONTAINERS: Final = (dict, list, tuple, msgspec.Struct)


def _leaf_problem(item: object, node: tuple[Any, ...] | None, finite: bool, text: bool) -> JsonProblem | None:
    """What is wrong with one string or number at ``node`` (None if nothing, or if it is neither)."""
    if isinstance(item, str):
        if text and not item.isascii() and _SURROGATE.search(item):
            return JsonProblem(_path_text(_path_of(node)), item, "utf8", "holds a lone surrogate, which is not "
                               "valid UTF-8 and cannot be sent", "decode the text with errors='replace', or "
                               "remove the stray \\ud800-\\udfff characters")
    elif isinstance(item, float):
        if finite and not math.isfinite(item):
            return JsonProblem(_path_text(_path_of(node)), item, "finite_number", "must be a finite number "
                               "(NaN and Infinity are not JSON)", "pass a finite number, or leave it out")
    return None


def _value_along(value: object, parts: list[str | int]) -> object:
    """Follow ``parts`` (keys, indexes, Struct fields) from ``value``; None where the path breaks."""
    current = value
    for part in parts:
        if isinstance(current, msgspec.Struct) and isinstance(part, str):
            current = getattr(current, part, None)
            continue
        try:
            current = current[part]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return None
    return current


def _value_at(obj: object, raw_path: str) -> object:
    """Follow a msgspec path (``.messages[0].content``) into the user's input; None if it is not there."""
    current = obj
    for key, index in _PATH_TOKEN.findall(raw_path):
        try:
            current = current[int(index)] if index else current[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return current
