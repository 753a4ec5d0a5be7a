"""Checks a request against Groq's rules before anything is sent.

Why check locally: a request Groq will refuse costs a round trip, a slot in the
requests-per-minute budget, and in a batch of thousands the same mistake repeated
thousands of times. Everything that can be known without asking Groq is checked
here, and each failure is a :class:`~orchestrator._errors.ValidationError` that names

* ``field``: the path of the offending value, written the way you would index the
  request (``messages[3].content[1].image_url.url``);
* ``value``: the value itself (the message quotes at most 120 characters, never a
  whole base64 image);
* ``rule``: a short identifier of the rule it broke (``range``, ``max_images``,
  ``json_object_needs_word_json``...), stable enough to match on.

The first failure found is raised; checks run in request order (parameters, then
messages, tools, response format, images, context window).

Model capabilities (vision, tools, JSON mode, audio, translation) and limits (context
window, completion cap) come from the :class:`~orchestrator._catalog.ModelCatalog`. A
model the catalog does not know is not refused: the model-dependent checks are
skipped and Groq has the last word, so a model released yesterday works today.

Requests built from dicts with :func:`orchestrator._wire.chat_request_from` are
already type-checked by msgspec; Structs built by hand are not, so the checks here
also verify the types they rely on.

Whatever the input, the only exception these checks raise is ``ValidationError`` (or its
subclasses): the request is walked without recursion first (:func:`orchestrator._wire.json_problem`:
nesting deeper than 64 levels, NaN and Infinity, lone surrogates), before any recursive code
(jsonschema, msgspec's encoder, the token estimate) sees it, and third-party code that judges a
user's JSON Schema is fenced so its surprises become a ``json_schema_invalid`` refusal.
:func:`encode_chat_request` is the one place a checked request becomes bytes, and
:func:`check_not_streamed` refuses ``stream`` where a call answers whole (``Client.map``, batches).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import msgspec

from orchestrator._errors import ContextLengthError, ModelDecommissionedError, ValidationError
from orchestrator._retired import retired_model
from orchestrator._tokens import estimate_prompt_tokens
from orchestrator._wire import (
    AssistantMessage,
    BrowserSearchTool,
    ChatRequest,
    CodeInterpreterTool,
    CompoundCustom,
    CompoundModels,
    CompoundTools,
    DeveloperMessage,
    Document,
    DocumentJson,
    DocumentText,
    FunctionDefinition,
    ImageUrl,
    ImageUrlPart,
    JsonSchemaFormat,
    SearchSettings,
    SystemMessage,
    TextPart,
    Tool,
    ToolChoiceFunction,
    ToolChoiceName,
    ToolMessage,
    UserMessage,
    WolframSettings,
    encode,
    json_problem,
    short_repr,
    text_of,
)

if TYPE_CHECKING:
    from orchestrator._catalog import ModelCatalog, ModelInfo

__all__ = [
    "AUDIO_EXTENSIONS",
    "AUDIO_RESPONSE_FORMATS",
    "MAX_AUDIO_FILE_BYTES",
    "MAX_BASE64_REQUEST_BYTES",
    "MAX_IMAGES",
    "MAX_TOOLS",
    "check_not_streamed",
    "encode_chat_request",
    "fallback_tier_list",
    "validate_chat_request",
    "validate_transcription",
]

#: Groq accepts at most this many tools in one request.
MAX_TOOLS: Final = 128
#: Images per request on Groq's vision models.
MAX_IMAGES: Final = 5
#: Groq answers 413 when the base64 images of one request exceed 4 MB.
MAX_BASE64_REQUEST_BYTES: Final = 4 * 1024 * 1024
#: Longest http(s) image URL we send; longer ones are almost always a pasted blob.
MAX_IMAGE_URL_CHARS: Final = 8192
#: Largest audio upload on the free tier; bigger files go by ``url``.
MAX_AUDIO_FILE_BYTES: Final = 25 * 1024 * 1024
#: Audio container formats Groq decodes, by file extension.
AUDIO_EXTENSIONS: Final = frozenset({"flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm"})
#: ``srt`` and ``vtt`` are rendered locally from ``verbose_json``; Groq itself returns the others.
AUDIO_RESPONSE_FORMATS: Final = frozenset({"json", "text", "verbose_json", "srt", "vtt"})

_IMAGE_MIME_TYPES: Final = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
_REASONING_EFFORTS: Final = frozenset({"none", "default", "low", "medium", "high"})
_REASONING_FORMATS: Final = frozenset({"hidden", "raw", "parsed"})
_SERVICE_TIERS: Final = frozenset({"auto", "on_demand", "flex", "performance"})
_TOOL_CHOICES: Final = frozenset({"auto", "none", "required"})
_CITATION_OPTIONS: Final = frozenset({"enabled", "disabled"})
_BOOL_FIELDS: Final = (
    "stream", "logprobs", "parallel_tool_calls", "include_reasoning", "store", "disable_tool_validation",
)
#: Model ids of Groq's compound systems (groq/compound, groq/compound-mini; console.groq.com/docs/compound).
_COMPOUND_PREFIX: Final = "groq/compound"
#: A domain for web search filters: labels of letters, digits and hyphens, optionally behind a "*."
#: wildcard ("Supports wildcards (e.g., "*.com")", console.groq.com/docs/compound/search-settings).
_DOMAIN: Final = re.compile(
    r"(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
_GRANULARITIES: Final = frozenset({"word", "segment"})
#: Formats that carry timestamps: ``verbose_json``, and srt/vtt which are rendered locally from it.
_TIMESTAMPED_FORMATS: Final = frozenset({"verbose_json", "srt", "vtt"})
_MAX_STOP: Final = 4
_MAX_TOP_LOGPROBS: Final = 20

_NAME: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_DATA_URL_HEAD: Final = re.compile(r"data:(?P<mime>[^;,]*)(?P<params>(?:;[^;,]*)*),")
_BASE64: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}")


def _invalid(field: str, value: Any, rule: str, problem: str, fix: str) -> ValidationError:
    """A ValidationError whose message names the field, the (shortened) value, the rule and the fix."""
    return ValidationError(
        f"{field}: {problem} (got {short_repr(value)}); {fix} [rule: {rule}]",
        field=field,
        value=value,
        rule=rule,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_range(field: str, value: object, low: float, high: float) -> None:
    if value is None:
        return
    if not _is_number(value):
        raise _invalid(field, value, "type", "must be a number", f"pass a number between {low} and {high}")
    if not low <= value <= high:  # type: ignore[operator]  # also refuses NaN
        raise _invalid(field, value, "range", f"must be between {low} and {high}", "pass a value inside the range")


def _check_int(field: str, value: object, low: int, high: int | None = None) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise _invalid(field, value, "type", "must be an integer", "pass a whole number")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _invalid(field, value, "range", f"must be {bound}", "pass a value inside the range")


def _check_choice(field: str, value: object, allowed: frozenset[str]) -> None:
    if value is not None and not (isinstance(value, str) and value in allowed):
        raise _invalid(
            field,
            value,
            "allowed_values",
            f"must be one of {', '.join(sorted(allowed))}",
            "use one of the allowed values",
        )


# --------------------------------------------------------------------------- chat


def validate_chat_request(request: ChatRequest, catalog: ModelCatalog, *, walked: bool = False) -> int:
    """Check a chat request against Groq's rules and the model's capabilities.

    Returns:
        Its estimated prompt tokens (:func:`orchestrator._tokens.estimate_prompt_tokens`): the request may be
        sent, and a caller that charges them need not estimate again (the context window was judged by them).

    Args:
        request: the request to check (build it from a dict with ``chat_request_from``).
        catalog: where the model's context window, completion cap and capabilities come from.
        walked: ``chat_request_from`` built it from a dict, whose walk (depth, lone surrogates, NaN
            below the top level) the request need not repeat.

    Raises:
        ModelDecommissionedError: the model is one Groq has shut down (and the catalog does not
            list it); it names the shutdown date and the replacement.
        ContextLengthError: the estimated prompt plus the completion budget exceed the
            model's context window.
        ValidationError: any other broken rule; ``field``, ``value`` and ``rule`` say which.
    """
    if not isinstance(request, ChatRequest):
        raise _invalid("<request>", request, "type", "must be a ChatRequest", "build it with chat_request_from(dict)")
    model = request.model
    if not isinstance(model, str) or not model.strip():
        raise _invalid(
            "model",
            model,
            "not_empty",
            "must name a model",
            "pass a model id such as 'openai/gpt-oss-20b'",
        )
    _check_not_retired(model, catalog)
    info = catalog.get(model) if catalog.known(model) else None
    # Sizes (context window, completion cap) are known for every catalogued model; capabilities
    # only for models we describe ourselves, not ones first seen in /models.
    capable = info if info is not None and info.capabilities_known else None
    if capable is not None and capable.audio:
        raise _invalid(
            "model",
            model,
            "chat_model",
            "is a speech-to-text model, not a chat model",
            "use a chat model, or the audio API",
        )
    if capable is not None and capable.speech:
        raise _invalid(
            "model",
            model,
            "chat_model",
            "is a text-to-speech model, not a chat model",
            "use a chat model such as 'openai/gpt-oss-20b'",
        )
    _check_parameters(request, info)
    # Everything below may recurse (jsonschema, encoders, the token estimate): walk the request first.
    problem = None if walked else json_problem(request)
    if problem is not None:
        raise _invalid(problem.field or "<request>", problem.value, problem.rule, problem.problem, problem.fix)
    _check_messages(request.messages)
    _check_tools(request, capable)
    _check_functions(request, capable)
    _check_compound_fields(request, capable)
    _check_response_format(request, capable)
    _check_images(request, capable)
    prompt = estimate_prompt_tokens(request)
    if info is not None:
        _check_context(request, info, prompt)
    return prompt


def encode_chat_request(request: ChatRequest) -> bytes:
    """The JSON body of a checked request: the one place a chat request becomes bytes.

    :func:`validate_chat_request` has walked the request, so this fails only on a value of a type JSON
    has no form for (an ``object()`` inside a hand-built schema or document); that too is a
    ``ValidationError``, naming the top-level field that holds it.

    Raises:
        ValidationError: rule ``json_value``, naming the field.
    """
    try:
        return encode(request)
    except (TypeError, ValueError, OverflowError, RecursionError, msgspec.EncodeError) as exc:
        failure = exc
    field = "<request>"
    for name in request.__struct_fields__:
        try:
            encode(getattr(request, name))
        except (TypeError, ValueError, OverflowError, RecursionError, msgspec.EncodeError):
            field = name
            break
    raise _invalid(
        field,
        getattr(request, field, request),
        "json_value",
        f"cannot be written as JSON ({failure})",
        "use only JSON values: dicts, lists, strings, finite numbers, booleans and None",
    )


def check_not_streamed(stream: object, caller: str) -> None:
    """Refuse ``stream: true`` in a call that answers each request whole (``Client.map``, the batch runners).

    A stream is read chunk by chunk while its connection stays open; a whole-reply call keeps results
    for later, so a stream there would hold a connection for a reader that never comes.

    Raises:
        ValidationError: rule ``stream_not_supported``, naming ``stream``.
    """
    if stream is True:
        raise _invalid(
            "stream",
            stream,
            "stream_not_supported",
            f"streaming is not supported by {caller}, which answers each request with the whole reply",
            "drop stream (or set it to false); to stream, call chat.completions.create(stream=True) per request",
        )


def _check_not_retired(model: str, catalog: ModelCatalog) -> None:
    """Refuse a model Groq has shut down (the retired table), unless the catalog lists it.

    A catalog that knows the model wins: the built-in one never lists a retired model, so it does
    only when ``/models`` did (Groq keeps some models for enterprise contracts) or the caller put
    it there on purpose.
    """
    if catalog.known(model):
        return
    if retired_model(model) is not None:
        raise ModelDecommissionedError(model=model)


def _check_parameters(request: ChatRequest, info: ModelInfo | None) -> None:
    _check_range("temperature", request.temperature, 0, 2)
    _check_range("top_p", request.top_p, 0, 1)
    _check_range("frequency_penalty", request.frequency_penalty, -2, 2)
    _check_range("presence_penalty", request.presence_penalty, -2, 2)
    for name in ("max_completion_tokens", "max_tokens"):
        value = getattr(request, name)
        _check_int(name, value, 1)
        if info is not None and value is not None and value > info.max_completion_tokens:
            raise _invalid(
                name,
                value,
                "model_max_completion_tokens",
                f"exceeds the {info.max_completion_tokens} completion tokens {info.id} allows",
                f"ask for at most {info.max_completion_tokens}",
            )
    n = request.n
    if n is not None and n != 1:
        raise _invalid("n", n, "n_must_be_1", "Groq only supports n=1", "leave n unset or send n separate requests")
    _check_int("seed", request.seed, -(2**63), 2**63 - 1)
    stop = request.stop
    if stop is not None and not isinstance(stop, str):
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise _invalid("stop", stop, "type", "must be a string or a list of strings", "pass up to 4 strings")
        if len(stop) > _MAX_STOP:
            raise _invalid("stop", stop, "max_stop_sequences", "allows at most 4 sequences", "keep the 4 that matter")
    _check_int("top_logprobs", request.top_logprobs, 0, _MAX_TOP_LOGPROBS)
    if request.top_logprobs is not None and request.logprobs is not True:
        raise _invalid(
            "top_logprobs",
            request.top_logprobs,
            "needs_logprobs",
            "requires logprobs=true",
            "set logprobs=true as well",
        )
    if request.logit_bias is not None:
        if not isinstance(request.logit_bias, dict):
            raise _invalid("logit_bias", request.logit_bias, "type", "must map token ids to biases",
                           "pass {'50256': -100}")
        for token, bias in request.logit_bias.items():
            _check_range(f"logit_bias.{token}", bias, -100, 100)
    _check_choice("reasoning_effort", request.reasoning_effort, _REASONING_EFFORTS)
    _check_choice("reasoning_format", request.reasoning_format, _REASONING_FORMATS)
    _check_choice("service_tier", request.service_tier, _SERVICE_TIERS)
    if request.reasoning_format is not None and request.include_reasoning is not None:
        raise _invalid(
            "include_reasoning",
            request.include_reasoning,
            "exclusive_with_reasoning_format",
            "cannot be combined with reasoning_format",
            "set only one of them",
        )
    if info is not None and info.capabilities_known and not info.reasoning:
        for name in ("reasoning_format", "reasoning_effort", "include_reasoning"):
            value = getattr(request, name)
            if value is not None:
                raise _invalid(
                    name,
                    value,
                    "model_lacks_reasoning",
                    f"model {info.id} is not a reasoning model",
                    f"drop {name}",
                )
    if request.stream_options is not None and request.stream is not True:
        raise _invalid(
            "stream_options",
            request.stream_options,
            "needs_stream",
            "only applies to streams",
            "set stream=true or drop it",
        )
    # Types a hand-built ChatRequest may get wrong (the dict path has msgspec check them).
    for name in _BOOL_FIELDS:
        value = getattr(request, name)
        if value is not None and not isinstance(value, bool):
            raise _invalid(name, value, "type", "must be true or false", "pass a bool")
    if request.user is not None and not isinstance(request.user, str):
        raise _invalid("user", request.user, "type", "must be a string", "pass your end-user's id as a string")
    metadata = request.metadata
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
    ):
        raise _invalid("metadata", metadata, "type", "must map strings to strings", "pass {'key': 'value'}")
    _check_choice("citation_options", request.citation_options, _CITATION_OPTIONS)


def _check_content(field: str, content: object, allow_images: bool) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _invalid(field, content, "type", "must be a string or a list of content parts", "pass text or parts")
    if not content:
        raise _invalid(field, content, "not_empty", "must not be an empty list", "add a text part or pass a string")
    for j, part in enumerate(content):
        where = f"{field}[{j}]"
        if isinstance(part, TextPart):
            if not isinstance(part.text, str):
                raise _invalid(f"{where}.text", part.text, "type", "must be a string", "pass text")
        elif isinstance(part, ImageUrlPart):
            if not allow_images:
                raise _invalid(
                    where,
                    part,
                    "images_only_in_user_messages",
                    "image parts are only allowed in user messages",
                    "move the image into a user message",
                )
        else:
            raise _invalid(
                where,
                part,
                "type",
                "must be a TextPart or ImageUrlPart",
                "build parts with chat_request_from",
            )


def _check_messages(messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise _invalid("messages", messages, "not_empty", "must be a non-empty list", "add at least one user message")
    tool_call_ids: set[str] = set()
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if isinstance(message, (SystemMessage, DeveloperMessage)):
            _check_content(f"{where}.content", message.content, allow_images=False)
        elif isinstance(message, UserMessage):
            _check_content(f"{where}.content", message.content, allow_images=True)
        elif isinstance(message, AssistantMessage):
            calls = message.tool_calls
            content = message.content
            if (content is None or content == []) and not calls:
                raise _invalid(
                    where,
                    message,
                    "assistant_needs_content_or_tool_calls",
                    "an assistant message needs content or tool_calls",
                    "give it the text or the tool calls it made",
                )
            if content is not None:
                _check_content(f"{where}.content", content, allow_images=False)
            for k, call in enumerate(calls or ()):
                tool_call_ids.add(call.id)
                if not isinstance(call.function.arguments, str):
                    raise _invalid(
                        f"{where}.tool_calls[{k}].function.arguments",
                        call.function.arguments,
                        "type",
                        "must be a JSON string",
                        "encode the arguments with json.dumps",
                    )
        elif isinstance(message, ToolMessage):
            _check_content(f"{where}.content", message.content, allow_images=False)
            if message.tool_call_id not in tool_call_ids:
                raise _invalid(
                    f"{where}.tool_call_id",
                    message.tool_call_id,
                    "tool_call_id_unknown",
                    "answers no tool call of an earlier assistant message",
                    "use the id of a tool_calls entry from the assistant message before it",
                )
        else:
            raise _invalid(
                where,
                message,
                "type",
                "must be a system, user, assistant or tool message",
                "build messages with chat_request_from(dict) or the message Structs",
            )


# --------------------------------------------------------------------------- tools


def _check_tools(request: ChatRequest, info: ModelInfo | None) -> None:
    tools = request.tools
    choice = request.tool_choice
    if tools is None or (isinstance(tools, list) and not tools):
        if choice is not None:
            raise _invalid(
                "tool_choice",
                choice,
                "tool_choice_without_tools",
                "is set but no tools are given",
                "add tools or drop tool_choice",
            )
        if request.parallel_tool_calls is not None:
            raise _invalid(
                "parallel_tool_calls",
                request.parallel_tool_calls,
                "needs_tools",
                "only applies when tools are given",
                "add tools or drop parallel_tool_calls",
            )
        return
    if not isinstance(tools, list):
        raise _invalid("tools", tools, "type", "must be a list of tools", "pass a list")
    if info is not None and not info.tools:
        raise _invalid(
            "tools",
            f"{len(tools)} tools",
            "model_lacks_tools",
            f"model {info.id} does not support tool use",
            "choose a model with tool use, or drop tools",
        )
    if len(tools) > MAX_TOOLS:
        raise _invalid(
            "tools",
            f"{len(tools)} tools",
            "max_tools",
            f"at most {MAX_TOOLS} tools are allowed",
            "offer fewer tools",
        )
    names: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if isinstance(tool, (BrowserSearchTool, CodeInterpreterTool)):
            continue
        if not isinstance(tool, Tool) or not isinstance(tool.function, FunctionDefinition):
            raise _invalid(
                where,
                tool,
                "type",
                "must be a function tool",
                "pass {'type': 'function', 'function': {...}}",
            )
        name = tool.function.name
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _invalid(
                f"{where}.function.name",
                name,
                "tool_name_pattern",
                "must be 1-64 characters of a-z, A-Z, 0-9, _ or -",
                "rename the function",
            )
        if name in names:
            raise _invalid(
                f"{where}.function.name",
                name,
                "tool_name_unique",
                "is already used by an earlier tool",
                "give every tool a distinct name",
            )
        names.add(name)
        if tool.function.parameters is not None:
            _check_schema(f"{where}.function.parameters", tool.function.parameters)
    if choice is None or (isinstance(choice, str) and choice in _TOOL_CHOICES):
        return
    if isinstance(choice, ToolChoiceFunction) and isinstance(choice.function, ToolChoiceName):
        if choice.function.name not in names:
            raise _invalid(
                "tool_choice.function.name",
                choice.function.name,
                "tool_choice_unknown_function",
                "names no function in tools",
                f"use one of: {', '.join(sorted(names)) or '(none)'}",
            )
        return
    raise _invalid(
        "tool_choice",
        choice,
        "allowed_values",
        "must be auto, none, required or a named function",
        "pass one of those",
    )


# --------------------------------------------------------------------------- deprecated functions
#
# ``functions`` / ``function_call`` are "Deprecated in favor of `tools`" / "`tool_choice`" (API reference,
# console.groq.com/docs/api-reference#chat-create, and groq-python completion_create_params.py, read 2026-12);
# Groq still lists them, so they are sent as given, never rewritten into tools. Their entries follow the
# function rules of ``tools`` (names "a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length
# of 64", parameters a JSON Schema). [I] the rest: both lists in one request are refused (OpenAI's API, which
# Groq mirrors, treats them as two spellings of one setting), a ``function_call`` needs ``functions`` and must
# name one of them (as ``tool_choice`` does with ``tools``), and at most 128 of them (the tools cap).


def _check_functions(request: ChatRequest, info: ModelInfo | None) -> None:
    functions = request.functions
    call = request.function_call
    if not functions:
        if call is not None:
            raise _invalid(
                "function_call",
                call,
                "function_call_without_functions",
                "is set but no functions are given",
                "add functions, or use tools and tool_choice instead",
            )
        return
    if not isinstance(functions, list):
        raise _invalid("functions", functions, "type", "must be a list of function definitions", "pass a list")
    if request.tools:
        raise _invalid(
            "functions",
            f"{len(functions)} functions",
            "functions_with_tools",
            "cannot be combined with tools (functions is the deprecated form of tools)",
            "move the functions into tools as {'type': 'function', 'function': {...}}",
        )
    if info is not None and not info.tools:
        raise _invalid(
            "functions",
            f"{len(functions)} functions",
            "model_lacks_tools",
            f"model {info.id} does not support tool use",
            "choose a model with tool use, or drop functions",
        )
    if len(functions) > MAX_TOOLS:
        raise _invalid(
            "functions", f"{len(functions)} functions", "max_tools", f"at most {MAX_TOOLS} functions are allowed",
            "offer fewer functions",
        )
    names: set[str] = set()
    for i, function in enumerate(functions):
        where = f"functions[{i}]"
        if not isinstance(function, FunctionDefinition):
            raise _invalid(where, function, "type", "must be a function definition", "pass {'name': ..., 'parameters': {...}}")
        name = function.name
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise _invalid(
                f"{where}.name", name, "tool_name_pattern", "must be 1-64 characters of a-z, A-Z, 0-9, _ or -",
                "rename the function",
            )
        if name in names:
            raise _invalid(
                f"{where}.name", name, "tool_name_unique", "is already used by an earlier function",
                "give every function a distinct name",
            )
        names.add(name)
        if function.parameters is not None:
            _check_schema(f"{where}.parameters", function.parameters)
    if call is None or (isinstance(call, str) and call in _TOOL_CHOICES):
        return
    if isinstance(call, ToolChoiceName) and isinstance(call.name, str):
        if call.name not in names:
            raise _invalid(
                "function_call.name",
                call.name,
                "function_call_unknown_function",
                "names no function in functions",
                f"use one of: {', '.join(sorted(names))}",
            )
        return
    raise _invalid(
        "function_call", call, "allowed_values", "must be auto, none, required or {'name': ...}", "pass one of those"
    )


# --------------------------------------------------------------------------- compound systems and documents
#
# Rules, from the pages named (stored copies read 2026-12):
# - search_settings, include_domains, exclude_domains: "These parameters are supported for both compound-beta
#   and compound-beta-mini" (console.groq.com/docs/compound/search-settings); the top-level pair is "Deprecated:
#   Use search_settings.include_domains instead" (API reference; changelog 2025-05). The API reference calls
#   search_settings "Settings for web search functionality when the model uses a web search tool", so a request
#   that gives a model the browser_search tool may carry them too. [I] on any other catalogued model they are
#   refused: Groq's answer is not captured, and there they could only be ignored.
# - Domains: "Supports wildcards (e.g., "*.com")" (search-settings page). [I] a scheme, path, port or
#   non-ASCII name is refused: the page's examples are bare domains.
# - compound_custom: "Custom configuration of models and tools for Compound" (API reference). [I] refused on a
#   catalogued model that is not a compound system.
# - compound_custom.tools: Wolfram|Alpha needs "your own Wolfram-Alpha API key in the wolfram_settings
#   configuration" (console.groq.com/docs/wolfram-alpha); browser automation needs "both browser_automation and
#   web_search" enabled (console.groq.com/docs/browser-automation). Tool names are left to Groq (new ones come).
# - documents and citation_options are not tied to compound systems ("A list of documents to provide context
#   for the conversation", API reference): every model may take them. [I] document ids are unique (a citation
#   names its document by id).
# - disable_tool_validation: "tool_choice=required/none will still be enforced, but the request cannot require
#   a specific tool be used" (API reference / groq-python completion_create_params.py).


def fallback_tier_list(tiers: object, service_tier: object) -> list[str]:
    """Check a call's ``fallback_tiers`` (the client's own option, not a Groq field) and return them as a list.

    Groq's flex tier "will succeed or fail quickly" (groq-python ``service_tier``) and, out of capacity,
    answers "498 and error capacity_exceeded" (console.groq.com/docs/flex-processing, read 2026-12). After
    the call's retries of that 498 are spent, the request is sent again on each fallback tier in turn.
    So the request must ask for ``flex`` (or ``auto``, which "falls back to flex tier" when on-demand
    limits are exceeded, same page), and each fallback is a known tier other than the one asked for.

    Raises:
        ValidationError: naming ``fallback_tiers`` (or ``fallback_tiers[i]``), the value and the rule.
    """
    if tiers is None:
        return []
    if isinstance(tiers, str) or not isinstance(tiers, (list, tuple)):
        raise _invalid(
            "fallback_tiers", tiers, "type", "must be a list of service tiers", "pass e.g. ['on_demand']"
        )
    if not tiers:
        return []
    if service_tier not in ("flex", "auto"):
        raise _invalid(
            "fallback_tiers",
            list(tiers),
            "fallback_needs_flex",
            f"only applies to service_tier 'flex' (or 'auto'), the tiers that answer 498; got service_tier "
            f"{short_repr(service_tier)}",
            "set service_tier='flex', or drop fallback_tiers",
        )
    seen: list[str] = [service_tier]
    for i, tier in enumerate(tiers):
        _check_choice(f"fallback_tiers[{i}]", tier, _SERVICE_TIERS)
        if tier in seen:
            raise _invalid(
                f"fallback_tiers[{i}]",
                tier,
                "fallback_tier_repeated",
                "is the tier asked for or an earlier fallback",
                "list each other tier once, e.g. ['on_demand']",
            )
        seen.append(tier)
    return list(tiers)


def _is_compound(model: str) -> bool:
    """Whether ``model`` is one of Groq's compound systems (``groq/compound``, ``groq/compound-mini``)."""
    return model.startswith(_COMPOUND_PREFIX)


def _check_domains(field: str, domains: object) -> None:
    if domains is None:
        return
    if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
        raise _invalid(field, domains, "type", "must be a list of domain strings", "pass ['example.com', '*.edu']")
    for k, domain in enumerate(domains):
        if len(domain) > 253 or not _DOMAIN.fullmatch(domain):
            raise _invalid(
                f"{field}[{k}]",
                domain,
                "domain",
                "is not a domain (letters, digits, hyphens and dots, optionally behind '*.')",
                "give the bare domain, e.g. 'example.com' or '*.edu', without scheme, path or port",
            )


def _check_compound_fields(request: ChatRequest, info: ModelInfo | None) -> None:
    if request.disable_tool_validation and isinstance(request.tool_choice, ToolChoiceFunction):
        raise _invalid(
            "tool_choice",
            request.tool_choice,
            "disable_tool_validation_named_choice",
            "cannot name a function when disable_tool_validation is true",
            "use tool_choice 'required' or 'auto', or drop disable_tool_validation",
        )
    compound = _is_compound(request.model)
    searching = compound or any(isinstance(tool, BrowserSearchTool) for tool in request.tools or ())
    settings = request.search_settings
    for name in ("search_settings", "include_domains", "exclude_domains"):
        value = getattr(request, name)
        if value is not None and info is not None and not searching:
            raise _invalid(
                name,
                value,
                "compound_only",
                f"applies to web search, which model {info.id} does not run",
                "use groq/compound or groq/compound-mini, give a browser_search tool, or drop it",
            )
    _check_domains("include_domains", request.include_domains)
    _check_domains("exclude_domains", request.exclude_domains)
    if settings is not None:
        if not isinstance(settings, SearchSettings):
            raise _invalid("search_settings", settings, "type", "must be a search settings object", "pass a dict")
        _check_domains("search_settings.include_domains", settings.include_domains)
        _check_domains("search_settings.exclude_domains", settings.exclude_domains)
        if settings.country is not None and (not isinstance(settings.country, str) or not settings.country.strip()):
            raise _invalid(
                "search_settings.country", settings.country, "type", "must name a country",
                "pass a country name such as 'germany'",
            )
        if settings.include_images is not None and not isinstance(settings.include_images, bool):
            raise _invalid("search_settings.include_images", settings.include_images, "type", "must be true or false",
                           "pass a bool")
    custom = request.compound_custom
    if custom is not None:
        if info is not None and not compound:
            raise _invalid(
                "compound_custom",
                custom,
                "compound_only",
                f"configures a compound system, and model {info.id} is not one",
                "use groq/compound or groq/compound-mini, or drop compound_custom",
            )
        _check_compound_custom(custom)
    _check_documents(request.documents)


def _check_compound_custom(custom: object) -> None:
    if not isinstance(custom, CompoundCustom):
        raise _invalid("compound_custom", custom, "type", "must be a compound_custom object", "pass a dict")
    models = custom.models
    if models is not None:
        if not isinstance(models, CompoundModels):
            raise _invalid("compound_custom.models", models, "type", "must be an object", "pass a dict")
        for name in ("answering_model", "reasoning_model"):
            value = getattr(models, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise _invalid(f"compound_custom.models.{name}", value, "not_empty", "must name a model",
                               "pass a model id such as 'openai/gpt-oss-120b'")
    tools = custom.tools
    if tools is None:
        return
    if not isinstance(tools, CompoundTools):
        raise _invalid("compound_custom.tools", tools, "type", "must be an object", "pass a dict")
    enabled = tools.enabled_tools
    if enabled is None:
        return
    if not isinstance(enabled, list) or not all(isinstance(t, str) and t for t in enabled):
        raise _invalid("compound_custom.tools.enabled_tools", enabled, "type", "must be a list of tool names",
                       "pass e.g. ['web_search', 'code_interpreter']")
    if "wolfram_alpha" in enabled:
        settings = tools.wolfram_settings
        if not isinstance(settings, WolframSettings) or not settings.authorization:
            raise _invalid(
                "compound_custom.tools.wolfram_settings.authorization",
                None,
                "wolfram_needs_authorization",
                "wolfram_alpha needs your own Wolfram|Alpha API key",
                "set compound_custom.tools.wolfram_settings.authorization",
            )
    if "browser_automation" in enabled and "web_search" not in enabled:
        raise _invalid(
            "compound_custom.tools.enabled_tools",
            enabled,
            "browser_automation_needs_web_search",
            "browser_automation works only together with web_search",
            "add 'web_search' to enabled_tools",
        )


def _check_documents(documents: object) -> None:
    if documents is None:
        return
    if not isinstance(documents, list):
        raise _invalid("documents", documents, "type", "must be a list of documents", "pass a list")
    ids: set[str] = set()
    for i, document in enumerate(documents):
        where = f"documents[{i}]"
        if not isinstance(document, Document):
            raise _invalid(where, document, "type", "must be a document", "pass {'source': {'type': 'text', ...}}")
        source = document.source
        if isinstance(source, DocumentText):
            if not isinstance(source.text, str):
                raise _invalid(f"{where}.source.text", source.text, "type", "must be a string", "pass the text")
        elif isinstance(source, DocumentJson):
            if not isinstance(source.data, dict):
                raise _invalid(f"{where}.source.data", source.data, "type", "must be a JSON object", "pass a dict")
        else:
            raise _invalid(f"{where}.source", source, "type", "must be a text or json source",
                           "pass {'type': 'text', 'text': ...} or {'type': 'json', 'data': {...}}")
        if document.id is not None:
            if not isinstance(document.id, str) or not document.id:
                raise _invalid(f"{where}.id", document.id, "not_empty", "must be a non-empty string",
                               "give the document an id, or leave it unset")
            if document.id in ids:
                raise _invalid(f"{where}.id", document.id, "document_id_unique", "is used by an earlier document",
                               "give every document a distinct id")
            ids.add(document.id)


def _check_schema(field: str, schema: object) -> None:
    """Refuse a JSON Schema that the 2020-12 (or its own ``$schema``) meta-schema rejects."""
    if not isinstance(schema, dict):
        raise _invalid(field, schema, "json_schema_invalid", "must be a JSON Schema object", "pass a dict")
    declared = schema.get("$schema")
    if declared is not None and not isinstance(declared, str):
        raise _invalid(
            f"{field}.$schema",
            declared,
            "json_schema_invalid",
            "must be the URI of a JSON Schema dialect",
            "drop $schema, or set it to 'https://json-schema.org/draft/2020-12/schema'",
        )
    try:
        key = encode(schema)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
        raise _invalid(field, schema, "json_schema_invalid", f"is not JSON ({exc})", "use only JSON values") from None
    try:
        problem = _schema_problem(key)
    except Exception as exc:  # noqa: BLE001 - jsonschema's surprise on a hostile schema is the schema's fault
        # Raised, not returned, inside the cached function: a RecursionError on a deep stack is not cached.
        problem = "", f"jsonschema cannot check it ({type(exc).__name__}: {exc})", schema
    if problem is not None:
        suffix, message, offending = problem
        raise _invalid(
            field + suffix,
            offending,
            "json_schema_invalid",
            f"is not a valid JSON Schema: {message}",
            "fix the schema (https://json-schema.org/understanding-json-schema/)",
        )


@functools.lru_cache(maxsize=512)
def _schema_problem(schema_json: bytes) -> tuple[str, str, Any] | None:
    """Where, why and on which sub-value a schema is invalid, or None; cached because batches repeat the same tools."""
    # jsonschema is imported on first use: it is slow to import and most requests carry no tools.
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import Draft202012Validator, validator_for

    schema = msgspec.json.decode(schema_json)
    try:
        validator = validator_for(schema, default=Draft202012Validator)
        validator.check_schema(schema)
    except SchemaError as exc:
        suffix = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
        return suffix, exc.message, exc.instance
    return None


# --------------------------------------------------------------------------- JSON mode


def _check_response_format(request: ChatRequest, info: ModelInfo | None) -> None:
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return
    if fmt.type not in ("json_object", "json_schema"):
        raise _invalid(
            "response_format.type",
            fmt.type,
            "allowed_values",
            "must be text, json_object or json_schema",
            "use one of those",
        )
    if info is not None and not info.json_mode:
        raise _invalid(
            "response_format.type",
            fmt.type,
            "model_lacks_json_mode",
            f"model {info.id} does not support JSON mode",
            "choose a model with JSON mode, or drop it",
        )
    if fmt.type == "json_schema":
        spec = fmt.json_schema
        if not isinstance(spec, JsonSchemaFormat):
            raise _invalid(
                "response_format.json_schema",
                spec,
                "json_schema_required",
                "json_schema mode needs a json_schema object",
                "pass {'name': ..., 'schema': {...}}",
            )
        if not isinstance(spec.name, str) or not _NAME.fullmatch(spec.name):
            raise _invalid(
                "response_format.json_schema.name",
                spec.name,
                "schema_name_pattern",
                "must be 1-64 characters of a-z, A-Z, 0-9, _ or -",
                "rename the schema",
            )
        _check_schema("response_format.json_schema.schema", spec.schema)
        return
    for message in request.messages:
        if "json" in text_of(message.content).lower():
            return
    raise _invalid(
        "response_format.type",
        fmt.type,
        "json_object_needs_word_json",
        "JSON mode requires the word 'json' somewhere in the messages",
        "say in the system or user message that the answer must be JSON",
    )


# --------------------------------------------------------------------------- images


def _check_images(request: ChatRequest, info: ModelInfo | None) -> None:
    count = 0
    base64_bytes = 0
    for i, message in enumerate(request.messages):
        if not isinstance(message, UserMessage) or isinstance(message.content, str):
            continue
        for j, part in enumerate(message.content):
            if not isinstance(part, ImageUrlPart):
                continue
            where = f"messages[{i}].content[{j}]"
            if info is not None and not info.vision:
                raise _invalid(
                    where,
                    part.image_url.url if isinstance(part.image_url, ImageUrl) else part,
                    "model_lacks_vision",
                    f"model {info.id} does not accept images",
                    "use a vision model such as qwen/qwen3.6-27b",
                )
            count += 1
            if count > MAX_IMAGES:
                raise _invalid(
                    where,
                    f"image #{count}",
                    "max_images",
                    f"at most {MAX_IMAGES} images per request",
                    "split the images over several requests",
                )
            base64_bytes += _check_image_url(f"{where}.image_url", part.image_url)
            if base64_bytes > MAX_BASE64_REQUEST_BYTES:
                raise _invalid(
                    f"{where}.image_url.url",
                    f"{base64_bytes} bytes of base64 so far",
                    "max_base64_request_size",
                    "base64 images may total at most 4 MB per request",
                    "shrink the images, or pass them by https URL",
                )


def _check_image_url(field: str, image: object) -> int:
    """Check one image URL; return how many base64 characters it adds to the request."""
    if not isinstance(image, ImageUrl) or not isinstance(image.url, str):
        raise _invalid(field, image, "type", "must be an object with a url string", "pass {'url': 'https://...'}")
    _check_choice(f"{field}.detail", image.detail, frozenset({"low", "high", "auto"}))
    url = image.url
    where = f"{field}.url"
    scheme = url[:8].lower()
    if scheme.startswith("data:"):
        head = _DATA_URL_HEAD.match(url)
        if head is None or ";base64" not in head.group("params").lower():
            raise _invalid(
                where,
                url,
                "data_url_format",
                "must be data:<mime>;base64,<data>",
                "encode the image as data:image/png;base64,...",
            )
        mime = head.group("mime").lower()
        if mime not in _IMAGE_MIME_TYPES:
            raise _invalid(
                where,
                url,
                "data_url_mime",
                "must be image/jpeg, image/png, image/gif or image/webp",
                "convert the image to one of those formats",
            )
        payload_length = len(url) - head.end()
        if payload_length == 0 or payload_length % 4 or not _BASE64.fullmatch(url, head.end()):
            raise _invalid(
                where,
                url,
                "data_url_base64",
                "the data is not valid base64",
                "encode the bytes with base64.b64encode",
            )
        return len(url)
    if scheme.startswith(("http://", "https://")):
        if len(url) > MAX_IMAGE_URL_CHARS:
            raise _invalid(
                where,
                url,
                "image_url_length",
                f"is longer than {MAX_IMAGE_URL_CHARS} characters",
                "host the image at a shorter URL, or send it as a data URL",
            )
        try:
            host = urlsplit(url).hostname
        except ValueError as exc:  # "Invalid IPv6 URL", a bad port...
            raise _invalid(
                where,
                url,
                "image_url_format",
                f"is not a valid URL ({exc})",
                "pass a full URL such as https://host/image.png",
            ) from None
        if not host:
            raise _invalid(
                where,
                url,
                "image_url_host",
                "has no host",
                "pass a full URL such as https://host/image.png",
            )
        return 0
    raise _invalid(
        where,
        url,
        "image_url_scheme",
        "must be an https://, http:// or data: URL",
        "pass a web URL or a base64 data URL",
    )


# --------------------------------------------------------------------------- context window


def _check_context(request: ChatRequest, info: ModelInfo, prompt: int) -> None:
    budget = request.completion_budget or 0
    requested = prompt + budget
    if requested > info.context_window:
        raise ContextLengthError(
            f"messages: about {prompt} prompt tokens + {budget} completion tokens exceed the "
            f"{info.context_window}-token context window of {info.id} (got {requested} tokens) [rule: context_window]",
            field="messages",
            value=requested,
            rule="context_window",
            max_context=info.context_window,
            requested=requested,
        )


# --------------------------------------------------------------------------- audio


def validate_transcription(
    *,
    model: str,
    filename: str | None,
    size: int | None,
    url: str | None,
    language: str | None,
    prompt: str | None,
    response_format: str | None,
    temperature: float | None,
    timestamp_granularities: list[str] | None,
    translation: bool,
    catalog: ModelCatalog,
) -> None:
    """Check transcription (or, with ``translation=True``, translation) parameters before uploading.

    Args:
        model: a Whisper model id; translation needs one with translation support.
        filename: the audio file's name (its extension says the format); None when sending ``url``.
        size: the file's size in bytes; None when sending ``url``.
        url: where Groq should fetch the audio; None when uploading a file.
        language: ISO-639-1 code (two lowercase letters; Whisper also knows 'haw' and 'yue'); transcription only.
        prompt: text that guides spelling and style.
        response_format: json, text, verbose_json, srt or vtt (the last two rendered locally).
        temperature: sampling temperature, 0 to 1.
        timestamp_granularities: subset of ``word`` and ``segment``; needs verbose_json.
        translation: whether this is a translation (to English) rather than a transcription.
        catalog: where the model's audio capabilities come from.

    Raises:
        ModelDecommissionedError: the model is one Groq has shut down (``distil-whisper-large-v3-en``).
        ValidationError: naming the field, value and rule of the first broken rule.
    """
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model", model, "not_empty", "must name a model", "pass a model id such as 'whisper-large-v3'")
    _check_not_retired(model, catalog)
    if catalog.known(model) and catalog.get(model).capabilities_known:
        info = catalog.get(model)
        if not info.audio:
            raise _invalid(
                "model",
                model,
                "audio_model",
                "is not a speech-to-text model",
                "use whisper-large-v3 or whisper-large-v3-turbo",
            )
        if translation and not info.translation:
            raise _invalid(
                "model",
                model,
                "translation_model",
                "cannot translate",
                "use whisper-large-v3 for translations",
            )
    has_file = filename is not None or size is not None
    if has_file == (url is not None):
        raise _invalid(
            "file",
            filename if has_file else None,
            "file_or_url",
            "exactly one of file and url must be given",
            "pass either a file or a url",
        )
    if has_file:
        base = re.split(r"[\\/]", filename or "")[-1]
        extension = base.rsplit(".", 1)[-1].lower() if "." in base else ""
        if extension not in AUDIO_EXTENSIONS:
            raise _invalid(
                "file",
                filename,
                "audio_format",
                f"must be one of {', '.join(sorted(AUDIO_EXTENSIONS))}",
                "convert the audio, or name the file with its real extension",
            )
        if size is not None:
            if size <= 0:
                raise _invalid("file", size, "not_empty", "the audio file is empty", "pass a file with audio in it")
            if size > MAX_AUDIO_FILE_BYTES:
                raise _invalid(
                    "file",
                    size,
                    "max_file_size",
                    "is larger than 25 MB",
                    "pass the audio by url instead, or split it",
                )
    elif not isinstance(url, str) or not url.lower().startswith(("https://", "http://", "data:")):
        raise _invalid("url", url, "audio_url_scheme", "must be an https://, http:// or data: URL", "pass a web URL")
    _check_choice("response_format", response_format, AUDIO_RESPONSE_FORMATS)
    _check_range("temperature", temperature, 0, 1)
    if prompt is not None and not isinstance(prompt, str):
        raise _invalid("prompt", prompt, "type", "must be a string", "pass text")
    if translation:
        if language is not None:
            raise _invalid(
                "language",
                language,
                "translation_no_language",
                "translations always produce English",
                "drop language",
            )
        if timestamp_granularities is not None:
            raise _invalid(
                "timestamp_granularities",
                timestamp_granularities,
                "translation_no_granularities",
                "translations take no timestamp granularities",
                "drop timestamp_granularities",
            )
        return
    if language is not None and (not isinstance(language, str) or not _LANGUAGE.fullmatch(language)):
        raise _invalid(
            "language",
            language,
            "iso_639_1",
            "must be a Whisper language code: ISO-639-1 such as 'en' (or the three-letter 'haw', 'yue')",
            "pass the code in lowercase, or leave it unset to detect the language",
        )
    if timestamp_granularities is not None:
        for k, granularity in enumerate(timestamp_granularities):
            if granularity not in _GRANULARITIES:
                raise _invalid(
                    f"timestamp_granularities[{k}]",
                    granularity,
                    "allowed_values",
                    "must be word or segment",
                    "use word and/or segment",
                )
        if timestamp_granularities and response_format not in _TIMESTAMPED_FORMATS:
            raise _invalid(
                "timestamp_granularities",
                timestamp_granularities,
                "needs_verbose_json",
                "timestamps come only with response_format=verbose_json (or srt/vtt, rendered from it)",
                "set response_format='verbose_json'",
            )

