"""The emulator's own request rules, written from Groq's documented behaviour (never the client's validator).

Why its own: the emulator is the test oracle. If it judged requests with ``orchestrator._validation``, a
wrong rule there would be wrong on both sides and every test would still pass. So the rules here are
written again, from Groq's pages and captured error bodies, and a test (``tests/emulator/test_rules.py``)
fails if any emulator module imports the client's validator. Shared *data* is fine: the catalog (context
window, completion cap, capabilities), the retired-model table, the wire Structs that decode the body, and
the token estimate the emulator also reports as ``usage.prompt_tokens``.

Everything here is pure (no IO, no clock): :func:`chat_refusal` takes a decoded
:class:`~orchestrator._wire.ChatRequest`, the model's :class:`~orchestrator._catalog.ModelInfo` and the
prompt's token count, and returns the first :class:`Refusal` Groq would answer, or None. The checks run in
this order: chat model, reasoning fields, sampling and length parameters, messages, tools, the deprecated
``functions``, the compound systems' fields (search settings, ``compound_custom``) and documents, response
format, images, context window.

Sources (each rule below names its own), as stored copies read in 2026-12:

* **API reference**: console.groq.com/docs/api-reference (chat create), the same text as groq-python's
  ``src/groq/types/chat/completion_create_params.py`` (1.7.0, generated from Groq's OpenAPI spec): ranges
  of temperature 0-2, top_p, the penalties -2..2; "only n=1 is supported. Other values will result in a
  400 response"; stop "Up to 4 sequences"; tools "A max of 128 functions"; function and schema names "a-z,
  A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64"; top_logprobs "between 0 and
  20 ... logprobs must be set to true"; service_tier ``auto|on_demand|flex|performance``;
  ``disable_tool_validation`` "the request cannot require a specific tool be used".
* **Captured Groq answers** (GitHub issues, cited where used): the ``max_completion_tokens`` cap, JSON
  mode's "json" word, the context-length 400, the reasoning 400s.
* **Vision** (console.groq.com/docs/vision, as summarised in ``GROQ-API.md`` §1.7): base64 requests over
  4 MB are a 413, images over 33,177,600 pixels a 400, at most 5 images per request (that count is
  third-party [I]).
* **Structured outputs** (console.groq.com/docs/structured-outputs, 2026): ``strict: true`` needs every
  property ``required`` and every object ``additionalProperties: false``.
* **Reasoning** (console.groq.com/docs/reasoning, 2025-09 and 2026 copies), see the reasoning section.

Rules marked [I] are inferred: Groq's behaviour is plausible (OpenAI's API, which Groq mirrors, has the
same rule) but no Groq page or capture states it, so the wording is the emulator's, in Groq's style
(backticked names, ``invalid_request_error``, a ``param`` naming the field).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import re
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from orchestrator._catalog import ModelInfo
from orchestrator._wire import (
    AssistantMessage,
    BrowserSearchTool,
    ChatRequest,
    ImageUrlPart,
    Tool,
    ToolChoiceFunction,
    ToolMessage,
    UserMessage,
    text_of,
)

__all__ = [
    "AUDIO_EXTENSIONS",
    "AUDIO_RESPONSE_FORMATS",
    "COMPOUND_PREFIX",
    "COMPOUND_TOOLS",
    "GPT_OSS_PREFIX",
    "MAX_AUDIO_FILE_BYTES",
    "MAX_BASE64_REQUEST_BYTES",
    "MAX_IMAGES",
    "MAX_IMAGE_PIXELS",
    "MAX_STOP_SEQUENCES",
    "MAX_TOOLS",
    "Refusal",
    "chat_refusal",
    "image_dimensions",
    "json_or_tools",
    "one_of",
    "reasoning_efforts",
    "reasoning_refusal",
    "schema_problem",
    "search_enabled",
]

# --------------------------------------------------------------------------- limits

#: "A max of 128 functions are supported" (API reference, ``tools``).
MAX_TOOLS: Final = 128
#: "Up to 4 sequences where the API will stop generating further tokens" (API reference, ``stop``).
MAX_STOP_SEQUENCES: Final = 4
#: ``top_logprobs`` is "An integer between 0 and 20" (API reference).
MAX_TOP_LOGPROBS: Final = 20
#: Images per request on the vision models (GROQ-API.md §1.7: a third-party copy of the vision page [I]).
MAX_IMAGES: Final = 5
#: "Maximum allowed size for a request containing a base64 encoded image is 4MB. Requests larger than
#: this limit will return a 413 error" (console.groq.com/docs/vision).
MAX_BASE64_REQUEST_BYTES: Final = 4 * 1024 * 1024
#: Resolution over 33 megapixels per image is a 400 (console.groq.com/docs/vision, GROQ-API.md §1.7).
MAX_IMAGE_PIXELS: Final = 33_177_600
#: Largest audio upload (free tier: "Max attachment size 25 MB. Use `url` parameter for larger files",
#: Groq's speech-to-text page, GROQ-API.md §1.8).
MAX_AUDIO_FILE_BYTES: Final = 25 * 1024 * 1024
#: Audio containers Groq decodes, by extension (speech-to-text page, GROQ-API.md §1.8).
AUDIO_EXTENSIONS: Final = frozenset({"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"})
#: Groq's ``response_format`` values (json, text, verbose_json), plus srt and vtt, which Groq does not
#: serve but the emulator renders from the segments because the product spec asks for them.
AUDIO_RESPONSE_FORMATS: Final = frozenset({"json", "text", "verbose_json", "srt", "vtt"})

#: ``service_tier`` values (groq-python completion_create_params.py, a Literal from the OpenAPI spec).
_SERVICE_TIERS: Final = ("auto", "on_demand", "flex", "performance")
#: Every ``reasoning_effort`` any model takes (same file); per-model sets are in :func:`reasoning_efforts`.
_ALL_EFFORTS: Final = ("none", "default", "low", "medium", "high")
#: Names of functions and of ``json_schema`` formats (API reference).
_NAME: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")
#: Image types of the data URLs the vision models take [I: the four formats every OpenAI-style API lists].
_IMAGE_TYPES: Final = ("image/jpeg", "image/png", "image/gif", "image/webp")
_DATA_URL: Final = re.compile(r"data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),")
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}")
#: Base64 characters decoded to find an image's size (64 KB of bytes: past any JPEG's EXIF block).
_HEADER_CHARS: Final = 4 * 64 * 1024 // 3


@dataclasses.dataclass(frozen=True, slots=True)
class Refusal:
    """One answer Groq gives instead of a completion: the status and the fields of its error body.

    ``type`` is always ``invalid_request_error`` for these (the emulator's error response adds it).
    """

    status: int
    message: str
    param: str | None = None
    code: str | None = None


def one_of(values: tuple[str, ...]) -> str:
    """Groq's enumeration: "`a` or `b`", "`a`, `b`, or `c`"."""
    quoted = [f"`{value}`" for value in values]
    if len(quoted) <= 2:
        return " or ".join(quoted)
    return ", ".join(quoted[:-1]) + ", or " + quoted[-1]


def json_or_tools(request: ChatRequest) -> bool:
    """Whether the request uses tools or JSON mode / structured outputs (both change reasoning defaults)."""
    fmt = request.response_format
    return bool(request.tools) or (fmt is not None and fmt.type in ("json_object", "json_schema"))


# --------------------------------------------------------------------------- the whole request


def chat_refusal(request: ChatRequest, info: ModelInfo, prompt_tokens: int) -> Refusal | None:
    """The first rule ``request`` breaks on ``info``'s model, as Groq would answer it; None if it may run.

    Args:
        request: a decoded request (types already checked by the wire Structs).
        info: the catalog's entry for ``request.model`` (the caller has already answered a retired model
            with 400 ``model_decommissioned`` and an unknown one with 404 ``model_not_found``). When
            ``info.capabilities_known`` is False (a model first seen in ``/models``) the capability rules
            (vision, tools, JSON mode, reasoning) are left out: the emulator does not guess.
        prompt_tokens: the prompt's size in tokens, as the emulator reports it in ``usage.prompt_tokens``.
    """
    return (
        _model_refusal(info)
        or reasoning_refusal(request, info)
        or _parameter_refusal(request, info)
        or _message_refusal(request)
        or _tool_refusal(request, info)
        or _functions_refusal(request, info)
        or _compound_refusal(request, info)
        or _format_refusal(request, info)
        or _image_refusal(request, info)
        or _context_refusal(request, info, prompt_tokens)
    )


def _model_refusal(info: ModelInfo) -> Refusal | None:
    # [I] Groq's wording for a speech model sent to chat is not captured; its models page lists the
    # Whisper and Orpheus models under their own endpoints only.
    if info.capabilities_known and (info.audio or info.speech):
        kind = "speech-to-text" if info.audio else "text-to-speech"
        return Refusal(400, f"The model `{info.id}` is a {kind} model and does not support chat completions.",
                       param="model")
    return None


# --------------------------------------------------------------------------- reasoning
#
# Groq's rules, from console.groq.com/docs/reasoning (copies of 2025-09 and 2026) unless noted:
# - reasoning_format: parsed ("a dedicated message.reasoning field"), raw ("reasoning within <think> tags in
#   the main text content"), hidden ("only the final answer"); its default is raw, and "defaults to raw or
#   parsed when JSON mode or tool use are enabled ... If reasoning is explicitly set to raw with JSON mode or
#   tool use enabled, we will return a 400 error";
# - "With openai/gpt-oss-20b and openai/gpt-oss-120b, the reasoning_format parameter is not supported. By
#   default, these models will include reasoning content in the reasoning field"; in practice Groq accepts
#   parsed and hidden for them and refuses raw (user reports of 2026-09, the GPT-OSS models have no <think>
#   tags); the wording of that 400 is not published, the emulator's is a guess in Groq's style;
# - include_reasoning: true (the default: message.reasoning) or false; "cannot be used together with
#   reasoning_format", answered "cannot specify both `include_reasoning` and `reasoning_format`" (the live
#   API, 2026-09-02); groq-python 1.7.0 says "This field is mutually exclusive with `reasoning_format`";
# - reasoning_effort: GPT-OSS low|medium|high (medium is the default, groq-python
#   completion_create_params.py); Qwen none|default ("none: Disable reasoning"); qwen/qwen3.8-27b takes
#   none|default|low|medium|high (same file, 1.7.0). Wrong values get "`reasoning_effort` must be one of
#   `none` or `default`" (Qwen) or "... `low`, `medium`, or `high`" (GPT-OSS), as users quoted in 2026;
# - a model without reasoning answers "`reasoning_format` is not supported with this model" (param
#   reasoning_format; 0xPlaygrounds/rig#1134, 2025-12) and the same for reasoning_effort
#   (iamsrikanthnani/pluely#242, 2026-04). For include_reasoning the changelog (2025-08-19) says "now
#   supported for all models", meaning GPT-OSS too; the emulator refuses it on a model without reasoning
#   the same way (a guess: no capture shows either answer).

#: Model ids starting with this are OpenAI's GPT-OSS models (reasoning field, low/medium/high efforts).
GPT_OSS_PREFIX: Final = "openai/gpt-oss"
_GPT_OSS_EFFORTS: Final = ("low", "medium", "high")
_QWEN_EFFORTS: Final = ("none", "default")
_EFFORTS_BY_MODEL: Final = {"qwen/qwen3.8-27b": ("none", "default", "low", "medium", "high")}


def reasoning_efforts(model: str) -> tuple[str, ...]:
    """The ``reasoning_effort`` values Groq accepts for a reasoning model (GPT-OSS, or Qwen-style)."""
    if model.startswith(GPT_OSS_PREFIX):
        return _GPT_OSS_EFFORTS
    return _EFFORTS_BY_MODEL.get(model, _QWEN_EFFORTS)


def reasoning_refusal(request: ChatRequest, info: ModelInfo) -> Refusal | None:
    """Groq's answer to reasoning parameters ``info``'s model cannot take (the rules above), or None."""
    if request.include_reasoning is not None and request.reasoning_format is not None:
        return Refusal(400, "cannot specify both `include_reasoning` and `reasoning_format`")
    effort = request.reasoning_effort
    if not info.capabilities_known:
        # A model first seen in /models: only the values no model takes (groq-python's Literal).
        if effort is not None and effort not in _ALL_EFFORTS:
            return Refusal(400, f"`reasoning_effort` must be one of {one_of(_ALL_EFFORTS)}", param="reasoning_effort")
        return None
    if not info.reasoning:
        for name in ("reasoning_format", "reasoning_effort", "include_reasoning"):
            if getattr(request, name) is not None:
                return Refusal(400, f"`{name}` is not supported with this model", param=name)
        return None
    efforts = reasoning_efforts(info.id)
    if effort is not None and effort not in efforts:
        return Refusal(400, f"`reasoning_effort` must be one of {one_of(efforts)}")
    if request.reasoning_format == "raw":
        if info.id.startswith(GPT_OSS_PREFIX):
            return Refusal(400, "`reasoning_format` `raw` is not supported with this model; use `parsed` or `hidden`",
                           param="reasoning_format")
        if json_or_tools(request):
            return Refusal(
                400, "`reasoning_format` `raw` is not supported with JSON mode or tool use; use `parsed` or `hidden`",
                param="reasoning_format",
            )
    return None


# --------------------------------------------------------------------------- parameters


def _outside(value: float | None, low: float, high: float) -> bool:
    return value is not None and not low <= value <= high  # NaN is outside too


def _parameter_refusal(request: ChatRequest, info: ModelInfo) -> Refusal | None:
    # Ranges: API reference ("between 0 and 2", "Number between -2.0 and 2.0"; top_p is a probability mass).
    for name, low, high in (
        ("temperature", 0, 2), ("top_p", 0, 1), ("frequency_penalty", -2, 2), ("presence_penalty", -2, 2),
    ):
        value = getattr(request, name)
        if _outside(value, low, high):
            return Refusal(400, f"`{name}` must be between {low} and {high}, got {value}", param=name)
    for name in ("max_completion_tokens", "max_tokens"):
        value = getattr(request, name)
        if value is None:
            continue
        if value < 1:  # [I] a completion of no tokens
            return Refusal(400, f"`{name}` must be at least 1, got {value}", param=name)
        if value > info.max_completion_tokens:
            # Verbatim, param included: Alishahryar1/free-claude-code#1354 (2026-08-07, qwen/qwen3.6-27b);
            # the max_tokens form in musistudio/claude-code-router#189 (2025-07-15).
            cap = info.max_completion_tokens
            return Refusal(
                400,
                f"`{name}` must be less than or equal to `{cap}`, the maximum value for `{name}` is less than "
                "the `context_window` for this model",
                param=name,
            )
    if request.n is not None and request.n != 1:
        # "Note that the current moment, only n=1 is supported. Other values will result in a 400 response."
        return Refusal(400, f"`n` must be 1: only n=1 is supported, got {request.n}", param="n")
    if request.seed is not None and not -(2**63) <= request.seed < 2**63:  # [I] a 64-bit seed
        return Refusal(400, "`seed` must fit in a signed 64-bit integer", param="seed")
    stop = request.stop
    if isinstance(stop, list) and len(stop) > MAX_STOP_SEQUENCES:
        return Refusal(400, f"`stop` takes up to {MAX_STOP_SEQUENCES} sequences, got {len(stop)}", param="stop")
    top = request.top_logprobs
    if top is not None:
        if not 0 <= top <= MAX_TOP_LOGPROBS:
            return Refusal(400, f"`top_logprobs` must be between 0 and {MAX_TOP_LOGPROBS}, got {top}",
                           param="top_logprobs")
        if request.logprobs is not True:
            return Refusal(400, "`logprobs` must be set to `true` to use `top_logprobs`", param="top_logprobs")
    if request.service_tier is not None and request.service_tier not in _SERVICE_TIERS:
        return Refusal(400, f"`service_tier` must be one of {one_of(_SERVICE_TIERS)}", param="service_tier")
    if request.stream_options is not None and request.stream is not True:
        # [I] OpenAI: "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        return Refusal(400, "`stream_options` is only allowed when `stream` is true", param="stream_options")
    return None


# --------------------------------------------------------------------------- messages


def _message_refusal(request: ChatRequest) -> Refusal | None:
    # Which parts each role may carry (images only from users) is the wire Structs' job: decoding already
    # refused an image in a system, assistant or tool message.
    messages = request.messages
    if not messages:  # [I] "A list of messages comprising the conversation so far" (required)
        return Refusal(400, "`messages` must be a non-empty array", param="messages")
    answered: set[str] = set()
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        content = message.content
        if isinstance(content, list) and not content:  # [I]
            return Refusal(400, f"`{where}.content` must be a string or a non-empty array of parts",
                           param=f"{where}.content")
        if isinstance(message, AssistantMessage):
            if content is None and not message.tool_calls:  # [I] an assistant turn that said nothing
                return Refusal(400, f"`{where}` must have `content` or `tool_calls`", param=where)
            answered.update(call.id for call in message.tool_calls or ())
        elif isinstance(message, ToolMessage) and message.tool_call_id not in answered:
            # [I] OpenAI: "messages with role 'tool' must be a response to a preceeding message with 'tool_calls'".
            return Refusal(
                400, f"`{where}.tool_call_id` `{message.tool_call_id[:64]}` answers no tool call of an earlier "
                "assistant message", param=f"{where}.tool_call_id",
            )
    return None


# --------------------------------------------------------------------------- tools


def _tool_refusal(request: ChatRequest, info: ModelInfo) -> Refusal | None:
    tools = request.tools or []
    choice = request.tool_choice
    if not tools:
        # [I] OpenAI: "'tool_choice' is only allowed when 'tools' are specified", and the same for
        # parallel_tool_calls.
        if choice is not None:
            return Refusal(400, "`tool_choice` is only allowed when `tools` are specified", param="tool_choice")
        if request.parallel_tool_calls is not None:
            return Refusal(400, "`parallel_tool_calls` is only allowed when `tools` are specified",
                           param="parallel_tool_calls")
        return None
    if info.capabilities_known and not info.tools:  # [I] in the wording of the reasoning 400s
        return Refusal(400, "`tools` is not supported with this model", param="tools")
    if len(tools) > MAX_TOOLS:
        return Refusal(400, f"`tools` takes at most {MAX_TOOLS} functions, got {len(tools)}", param="tools")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, Tool):
            continue  # Groq's built-in tools (browser_search, code_interpreter) have no definition to check
        function = tool.function
        where = f"tools[{i}].function"
        if not _NAME.fullmatch(function.name):
            # "Must be a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64."
            return Refusal(400, f"`{where}.name` must be a-z, A-Z, 0-9, underscores and dashes, at most 64 "
                           f"characters, got {function.name[:80]!r}", param=f"{where}.name")
        if function.name in names:  # [I] two functions the model could not tell apart
            return Refusal(400, f"`{where}.name` `{function.name}` is used by an earlier tool", param=f"{where}.name")
        names.add(function.name)
        if function.parameters is not None:
            problem = schema_problem(function.parameters)
            if problem is not None:
                path, reason = problem
                return Refusal(400, f"`{where}.parameters` is not a valid JSON Schema: {reason}",
                               param=f"{where}.parameters{path}")
    if isinstance(choice, ToolChoiceFunction):
        if request.disable_tool_validation:
            # groq-python 1.7.0: with disable_tool_validation "the request cannot require a specific tool be used".
            return Refusal(400, "`tool_choice` cannot name a function when `disable_tool_validation` is true",
                           param="tool_choice")
        if choice.function.name not in names:  # [I]
            return Refusal(400, f"`tool_choice` names the function `{choice.function.name[:64]}`, which is not in "
                           "`tools`", param="tool_choice.function.name")
    return None


def schema_problem(schema: dict[str, Any]) -> tuple[str, str] | None:
    """Why ``schema`` is not a JSON Schema (``(path suffix, reason)``, the path like ``.properties.a``), or None.

    Function ``parameters`` and ``json_schema.schema`` are "described as a JSON Schema object" (API
    reference); a schema its own meta-schema (``$schema``, else draft 2020-12) rejects is refused [I].
    """
    try:
        key = msgspec.json.encode(schema, order="sorted")
    except (TypeError, msgspec.EncodeError) as exc:  # decoded JSON always encodes; a hand-built dict may not
        return "", f"not JSON ({exc})"
    return _schema_problem(key)


@functools.lru_cache(maxsize=256)
def _schema_problem(schema_json: bytes) -> tuple[str, str] | None:
    """Cached by the schema's JSON: a batch repeats the same tools thousands of times."""
    from jsonschema.exceptions import SchemaError  # imported on first use: slow, and most requests have no tools
    from jsonschema.validators import Draft202012Validator, validator_for

    schema = msgspec.json.decode(schema_json)
    declared = schema.get("$schema")
    validator = Draft202012Validator
    if isinstance(declared, str):
        validator = validator_for(schema, default=Draft202012Validator)
    try:
        validator.check_schema(schema)
    except SchemaError as exc:
        return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path), exc.message
    except (RecursionError, TypeError, ValueError, LookupError) as exc:  # a schema too odd to even check
        return "", f"{type(exc).__name__}: {exc}"
    return None


# --------------------------------------------------------------------------- deprecated functions
#
# API reference (chat create) and groq-python 1.7.0 completion_create_params.py (read 2026-12): ``functions`` is
# "Deprecated in favor of `tools`", ``function_call`` "Deprecated in favor of `tool_choice`" and takes `none`,
# `auto`, `required` or {"name": ...}; function names follow the tools' naming rule. The emulator serves them as
# the tools they stand for (the reply is then a ``message.function_call``). [I] everything else: both lists in
# one request, a function_call without functions or naming an unknown one, and the 128 cap, in the wording of
# the tools' refusals (OpenAI, which Groq mirrors, refuses the same).


def _functions_refusal(request: ChatRequest, info: ModelInfo) -> Refusal | None:
    functions = request.functions or []
    call = request.function_call
    if not functions:
        if call is not None:
            return Refusal(400, "`function_call` is only allowed when `functions` are specified", param="function_call")
        return None
    if request.tools:
        return Refusal(400, "`functions` and `tools` cannot be used together; `functions` is deprecated, use `tools`",
                       param="functions")
    if info.capabilities_known and not info.tools:
        return Refusal(400, "`functions` is not supported with this model", param="functions")
    if len(functions) > MAX_TOOLS:
        return Refusal(400, f"`functions` takes at most {MAX_TOOLS} functions, got {len(functions)}", param="functions")
    seen: set[str] = set()
    for i, function in enumerate(functions):
        where = f"functions[{i}]"
        if not _NAME.fullmatch(function.name):
            return Refusal(400, f"`{where}.name` must be a-z, A-Z, 0-9, underscores and dashes, at most 64 "
                           f"characters, got {function.name[:80]!r}", param=f"{where}.name")
        if function.name in seen:
            return Refusal(400, f"`{where}.name` `{function.name}` is used by an earlier function",
                           param=f"{where}.name")
        seen.add(function.name)
        if function.parameters is not None:
            problem = schema_problem(function.parameters)
            if problem is not None:
                return Refusal(400, f"`{where}.parameters` is not a valid JSON Schema: {problem[1]}",
                               param=f"{where}.parameters{problem[0]}")
    if call is not None and not isinstance(call, str) and call.name not in seen:
        return Refusal(400, f"`function_call` names the function `{call.name[:64]}`, which is not in `functions`",
                       param="function_call.name")
    return None


# --------------------------------------------------------------------------- compound systems and documents
#
# Pages (stored copies read 2026-12):
# - console.groq.com/docs/compound: the systems are ``groq/compound`` and ``groq/compound-mini``.
# - console.groq.com/docs/compound/search-settings: ``search_settings`` (``exclude_domains``, ``include_domains``
#   with wildcards such as "*.com", ``country``) is "supported for both compound-beta and compound-beta-mini";
#   the changelog (2025-05) deprecates the top-level ``exclude_domains``/``include_domains`` in its favour. The
#   API reference: "Settings for web search functionality when the model uses a web search tool", so a request
#   giving a model Groq's ``browser_search`` tool may carry them as well.
# - console.groq.com/docs/compound/built-in-tools: the tool identifiers ``web_search``, ``visit_website``,
#   ``browser_automation``, ``code_interpreter``, ``wolfram_alpha``; wolfram-alpha page: "you must provide your
#   own Wolfram-Alpha API key in the wolfram_settings configuration"; browser-automation page: "you must enable
#   both browser_automation and web_search".
# - ``documents`` and ``citation_options`` are not tied to compound systems in the API reference: any model.
# [I] the refusals' wording, refusing the search fields and ``compound_custom`` on other (catalogued) models, a
# domain that is not a bare (wildcard) domain, an unknown tool name, and two documents with one id.

COMPOUND_PREFIX: Final = "groq/compound"
#: The built-in tools of the compound systems (built-in-tools page).
COMPOUND_TOOLS: Final = ("web_search", "visit_website", "browser_automation", "code_interpreter", "wolfram_alpha")
_LABEL: Final = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?", re.IGNORECASE)


def _domain_problem(domain: str) -> bool:
    """Whether ``domain`` is not a bare domain such as ``example.com`` or ``*.edu``."""
    name = domain[2:] if domain.startswith("*.") else domain
    labels = name.split(".")
    return not name or len(name) > 253 or any(len(label) > 63 or not _LABEL.fullmatch(label) for label in labels)


def _compound_refusal(request: ChatRequest, info: ModelInfo) -> Refusal | None:
    compound = info.id.startswith(COMPOUND_PREFIX)
    search = compound or any(isinstance(tool, BrowserSearchTool) for tool in request.tools or ())
    settings = request.search_settings
    lists = {
        "include_domains": request.include_domains,
        "exclude_domains": request.exclude_domains,
        "search_settings.include_domains": settings.include_domains if settings else None,
        "search_settings.exclude_domains": settings.exclude_domains if settings else None,
    }
    if info.capabilities_known and not search:
        for name in ("search_settings", "include_domains", "exclude_domains"):
            if getattr(request, name) is not None:
                return Refusal(400, f"`{name}` is only supported with web search: the compound systems "
                               "(`groq/compound`, `groq/compound-mini`) or the `browser_search` tool", param=name)
    for name, domains in lists.items():
        for k, domain in enumerate(domains or ()):
            if _domain_problem(domain):
                return Refusal(400, f"`{name}[{k}]` must be a domain such as `example.com` or `*.edu`, got "
                               f"{domain[:80]!r}", param=f"{name}[{k}]")
    custom = request.compound_custom
    if custom is not None:
        if info.capabilities_known and not compound:
            return Refusal(400, "`compound_custom` is only supported with the compound systems (`groq/compound`, "
                           "`groq/compound-mini`)", param="compound_custom")
        enabled = custom.tools.enabled_tools if custom.tools else None
        for k, tool in enumerate(enabled or ()):
            if tool not in COMPOUND_TOOLS:
                return Refusal(400, f"`compound_custom.tools.enabled_tools[{k}]` must be one of {one_of(COMPOUND_TOOLS)}"
                               f", got {tool[:64]!r}", param=f"compound_custom.tools.enabled_tools[{k}]")
        if enabled and "wolfram_alpha" in enabled:
            wolfram = custom.tools.wolfram_settings if custom.tools else None
            if wolfram is None or not wolfram.authorization:
                return Refusal(400, "`wolfram_alpha` needs your Wolfram|Alpha API key in "
                               "`compound_custom.tools.wolfram_settings.authorization`",
                               param="compound_custom.tools.wolfram_settings")
        if enabled and "browser_automation" in enabled and "web_search" not in enabled:
            return Refusal(400, "`browser_automation` must be enabled together with `web_search`",
                           param="compound_custom.tools.enabled_tools")
    ids: set[str] = set()
    for i, document in enumerate(request.documents or ()):
        if document.id is None:
            continue
        if document.id in ids:
            return Refusal(400, f"`documents[{i}].id` `{document.id[:64]}` is used by an earlier document",
                           param=f"documents[{i}].id")
        ids.add(document.id)
    return None


def search_enabled(request: ChatRequest) -> bool:
    """Whether a compound system may search the web for ``request`` (every tool is on unless the caller lists them)."""
    if not request.model.startswith(COMPOUND_PREFIX):
        return False
    tools = request.compound_custom.tools if request.compound_custom else None
    return tools is None or tools.enabled_tools is None or "web_search" in tools.enabled_tools


# --------------------------------------------------------------------------- response format


def _format_refusal(request: ChatRequest, info: ModelInfo) -> Refusal | None:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return None
    if info.capabilities_known and not info.json_mode:  # [I] in the wording of the reasoning 400s
        return Refusal(400, f"`response_format` `{fmt.type}` is not supported with this model",
                       param="response_format")
    if fmt.type == "json_object":
        if not any("json" in text_of(message.content).lower() for message in request.messages):
            # Verbatim: mem0ai/mem0#4161 (2026-02-28) quotes Groq's 400; the param is the emulator's [I].
            return Refusal(400, "'messages' must contain the word 'json' in some form, to use 'response_format' "
                           "of type 'json_object'.", param="messages")
        return None
    spec = fmt.json_schema
    where = "response_format.json_schema"
    if spec is None:  # "json_schema: Required" (groq-python ResponseFormatResponseFormatJsonSchema)
        return Refusal(400, f"`{where}` is required when `response_format.type` is `json_schema`", param=where)
    if not _NAME.fullmatch(spec.name):  # the same naming rule as functions (API reference)
        return Refusal(400, f"`{where}.name` must be a-z, A-Z, 0-9, underscores and dashes, at most 64 characters, "
                       f"got {spec.name[:80]!r}", param=f"{where}.name")
    problem = schema_problem(spec.schema)
    if problem is not None:
        path, reason = problem
        return Refusal(400, f"`{where}.schema` is not a valid JSON Schema: {reason}", param=f"{where}.schema{path}")
    if spec.strict:
        loose = _strict_problem(spec.schema, "")
        if loose is not None:
            path, reason = loose
            return Refusal(400, f"`{where}.schema` cannot be used with `strict: true`: {reason}",
                           param=f"{where}.schema{path}")
    return None


_SUBSCHEMA_MAPS: Final = ("properties", "$defs", "definitions", "patternProperties", "dependentSchemas")
_SUBSCHEMA_LISTS: Final = ("anyOf", "allOf", "oneOf", "prefixItems")
_SUBSCHEMAS: Final = ("items", "additionalItems", "contains", "not", "if", "then", "else")


def _strict_problem(schema: object, path: str) -> tuple[str, str] | None:
    """Where a strict-mode schema breaks "all fields must be required and objects must set
    additionalProperties: false" (console.groq.com/docs/structured-outputs, 2026), or None."""
    if not isinstance(schema, dict):
        return None
    properties = schema.get("properties")
    if schema.get("type") == "object" or isinstance(properties, dict):
        if schema.get("additionalProperties") is not False:
            return path, "every object must set `additionalProperties: false`"
        required = schema.get("required")
        if isinstance(properties, dict):
            missing = sorted(set(properties) - set(required if isinstance(required, list) else ()))
            if missing:
                return path, f"every property must be `required`, missing {missing[:5]}"
    for key in _SUBSCHEMA_MAPS:
        children = schema.get(key)
        if isinstance(children, dict):
            for name, child in children.items():
                found = _strict_problem(child, f"{path}.{key}.{name}")
                if found is not None:
                    return found
    for key in _SUBSCHEMA_LISTS:
        children = schema.get(key)
        if isinstance(children, list):
            for k, child in enumerate(children):
                found = _strict_problem(child, f"{path}.{key}[{k}]")
                if found is not None:
                    return found
    for key in _SUBSCHEMAS:
        found = _strict_problem(schema.get(key), f"{path}.{key}")
        if found is not None:
            return found
    return None


# --------------------------------------------------------------------------- images


def _image_refusal(request: ChatRequest, info: ModelInfo) -> Refusal | None:
    count = 0
    base64_bytes = 0
    for i, message in enumerate(request.messages):
        if not isinstance(message, UserMessage) or isinstance(message.content, str):
            continue
        for j, part in enumerate(message.content):
            if not isinstance(part, ImageUrlPart):
                continue
            where = f"messages[{i}].content[{j}]"
            if info.capabilities_known and not info.vision:
                # [I] vercel/ai#2837 (2024-08) saw "messages[0].content must be a string" from a text model.
                return Refusal(400, f"`{where}`: image input is not supported with this model; use a vision model",
                               param=where)
            count += 1
            if count > MAX_IMAGES:
                return Refusal(400, f"at most {MAX_IMAGES} images are allowed per request, got image #{count}",
                               param=where)
            url = part.image_url.url
            field = f"{where}.image_url.url"
            if url[:5].lower() == "data:":
                problem = _data_url_problem(url)
                if problem is not None:
                    return Refusal(400, f"`{field}` {problem}", param=field)
                base64_bytes += len(url)
                if base64_bytes > MAX_BASE64_REQUEST_BYTES:
                    # 413 for base64 images over 4 MB (vision page); the body is the emulator's [I].
                    return Refusal(413, "Request Entity Too Large: base64 images may total at most 4 MB per request",
                                   code="request_too_large")
                size = image_dimensions(_head_bytes(url))
                if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
                    return Refusal(400, f"`{field}`: the image is {size[0]}x{size[1]} = {size[0] * size[1]} pixels, "
                                   f"over the {MAX_IMAGE_PIXELS}-pixel (33 megapixel) limit", param=field)
            elif url[:8].lower().startswith(("http://", "https://")):
                try:
                    host = urlsplit(url).hostname
                except ValueError as exc:  # [I] "Invalid IPv6 URL", a bad port
                    return Refusal(400, f"`{field}` is not a valid URL: {exc}", param=field)
                if not host:  # [I]
                    return Refusal(400, f"`{field}` has no host", param=field)
            else:  # [I] "an image URL" or a base64 data URL are the two documented inputs
                return Refusal(400, f"`{field}` must be an http(s) URL or a base64 `data:` URL", param=field)
    return None


def _data_url_problem(url: str) -> str | None:
    """What is wrong with an image ``data:`` URL (``data:image/png;base64,...``), or None [I]."""
    head = _DATA_URL.match(url)
    if head is None or ";base64" not in head.group("params").lower():
        return "must be a base64 data URL: data:<image type>;base64,<data>"
    if head.group("mime").lower() not in _IMAGE_TYPES:
        return f"must hold one of {', '.join(_IMAGE_TYPES)}, got {head.group('mime')[:40]!r}"
    payload = len(url) - head.end()
    if payload == 0 or payload % 4 or not _BASE64.fullmatch(url, head.end()):
        return "does not hold valid base64 data"
    return None


def _head_bytes(url: str) -> bytes:
    """The first bytes of a (checked) base64 data URL's image: enough to read its size."""
    start = url.index(",") + 1
    chunk = url[start : start + _HEADER_CHARS]
    chunk = chunk[: len(chunk) - len(chunk) % 4]
    try:
        return base64.b64decode(chunk)
    except (binascii.Error, ValueError):
        return b""


def image_dimensions(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the header of a PNG, GIF, WebP or JPEG image, or None if it cannot be read."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_dimensions(data)
    if data[:2] == b"\xff\xd8":
        return _jpeg_dimensions(data)
    return None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:  # extended: 24-bit width-1 and height-1
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":  # lossy key frame
        return int.from_bytes(data[26:28], "little") & 0x3FFF, int.from_bytes(data[28:30], "little") & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:  # lossless: 14-bit width-1, height-1
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


_JPEG_FRAMES: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOF0..SOF15 but DHT, JPG, DAC


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """The frame size from the first start-of-frame segment (markers walked from the start)."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # stand-alone markers
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _JPEG_FRAMES:
            if at + 9 > len(data):
                return None
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        if length < 2:
            return None
        at += 2 + length
    return None


# --------------------------------------------------------------------------- context window


def _context_refusal(request: ChatRequest, info: ModelInfo, prompt_tokens: int) -> Refusal | None:
    # "The total length of input tokens and generated tokens is limited by the model's context length"
    # (API reference); the body is verbatim from OpenHands/OpenHands#1902 (2024-05) and
    # thepersonalaicompany/amurex-backend#51 (2025-03).
    if prompt_tokens + (request.completion_budget or 0) > info.context_window:
        return Refusal(400, "Please reduce the length of the messages or completion.", param="messages",
                       code="context_length_exceeded")
    return None
