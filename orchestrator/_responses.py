"""``client.responses``: Groq's Responses API (beta), scheduled like chat.

``await client.responses.create(model=..., input=...)`` validates the request, turns it into an
``actors`` :class:`~actors._job.Job` for ``POST /responses`` and runs it through the same scheduler, rate
budget, circuit breaker and retry policy as a chat completion. The job's cost is the prompt estimate of
``input`` + ``instructions`` (+ tools and a JSON schema, :func:`~orchestrator._responses_wire.estimate_response_tokens`)
plus ``max_output_tokens`` (or the estimator's typical completion when it is unset, as for chat), and the
budget is reconciled with the ``usage`` Groq reports.

With ``stream=True`` the result is a :class:`ResponseStream` of :class:`~orchestrator._responses_wire.ResponseEvent`.
The worker's SSE path carries it unchanged: the job brings its own ``Chunks`` port
(:class:`ResponsesChunks`), which decodes Responses events instead of chat chunks, finds the usage on the
terminal event, and tells the pump that a stream ending after ``response.completed`` is complete without
``data: [DONE]``.

What Groq supports is documented in :mod:`orchestrator._responses_wire` (sources there). Validation
here is the client's: the emulator judges requests with its own rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import msgspec

from actors._estimate import CostEstimator
from actors._job import Job
from actors._ports import TokenUsage

from ._catalog_refresh import note_unlisted
from ._errors import ContextLengthError, ModelDecommissionedError, StreamError
from ._options import check_call_options
from ._responses_wire import (
    TERMINAL_EVENTS,
    Response,
    ResponseEvent,
    ResponseRequest,
    decode_response,
    decode_response_event,
    estimate_response_tokens,
)
from ._retired import retired_model
from ._validation import MAX_TOOLS
from ._validation import _check_range, _invalid
from ._validation import _check_schema as check_schema

if TYPE_CHECKING:
    from actors._stream import ChatStream

    from ._catalog import ModelCatalog, ModelInfo
    from ._client import Client

__all__ = ["ResponseStream", "Responses", "ResponsesChunks", "validate_response_request"]

_JSON: Final = {"content-type": "application/json"}
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_ROLES: Final = frozenset({"user", "assistant", "system", "developer"})
_PART_TYPES: Final = frozenset({"input_text", "input_image", "input_file", "output_text", "refusal"})
_IMAGE_DETAILS: Final = frozenset({"low", "high", "auto"})
_TOOL_CHOICES: Final = frozenset({"none", "auto", "required"})
# Groq's reasoning page lists low/medium/high (GPT-OSS) and none/default (Qwen); the model decides which.
_EFFORTS: Final = frozenset({"none", "default", "low", "medium", "high"})
_SERVICE_TIERS: Final = frozenset({"auto", "default", "flex"})  # API reference, responses-create
_FORMATS: Final = frozenset({"text", "json_object", "json_schema"})
#: Built-in tools of the Responses API and the models that have them (console.groq.com/docs/responses-api,
#: "Model Support", read 2026-12-02).
_BUILTIN_TOOLS: Final = frozenset({"browser_search", "code_interpreter"})
_BUILTIN_MODELS: Final = frozenset({"openai/gpt-oss-20b", "openai/gpt-oss-120b"})
_MAX_METADATA: Final = 16  # API reference: "Maximum of 16 pairs"
#: Fields Groq's Responses guide lists under "Unsupported Features" (read 2026-12-02).
_UNSUPPORTED: Final = ("previous_response_id", "include", "safety_identifier", "prompt_cache_key", "prompt")


# --------------------------------------------------------------------------- validation


def _check_type(field: str, value: object, kind: type, what: str) -> None:
    if value is not None and not isinstance(value, kind):
        raise _invalid(field, value, "type", f"must be {what}", f"pass {what}")


def _good_name(name: object) -> bool:
    return isinstance(name, str) and 0 < len(name) <= 64 and all(ch in _NAME_CHARS for ch in name)


def _check_input(value: object, info: ModelInfo | None) -> None:
    if value is None:
        raise _invalid("input", value, "required", "is required", "pass a string or a list of input items")
    if isinstance(value, str):
        if not value.strip():
            raise _invalid("input", value, "not_empty", "must not be empty", "say something to the model")
        return
    if not isinstance(value, list):
        raise _invalid("input", value, "type", "must be a string or a list of items", "pass text or a list")
    if not value:
        raise _invalid("input", value, "not_empty", "must not be an empty list", "add a message")
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise _invalid(where, item, "type", "must be an input item (an object)", "pass {'role': 'user', 'content': ...}")
        kind = item.get("type", "message")
        if kind == "message":
            _check_message(where, item, info)
        elif kind == "function_call":
            for key in ("call_id", "name", "arguments"):
                if not isinstance(item.get(key), str):
                    raise _invalid(f"{where}.{key}", item.get(key), "type", "must be a string",
                                   "pass the function_call item the model returned")
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise _invalid(f"{where}.call_id", item.get("call_id"), "type", "must be a string",
                               "pass the call_id of the function_call this answers")
            if not isinstance(item.get("output"), (str, list)):
                raise _invalid(f"{where}.output", item.get("output"), "type", "must be a string",
                               "pass the function's result as text (e.g. JSON)")
        elif not isinstance(kind, str):
            raise _invalid(f"{where}.type", kind, "type", "must be a string", "name the item's type")
        # Other item types (reasoning, built-in tool and MCP traces passed back) are Groq's to judge.


def _check_message(where: str, item: dict[str, Any], info: ModelInfo | None) -> None:
    role = item.get("role")
    if role not in _ROLES:
        raise _invalid(f"{where}.role", role, "allowed_values", f"must be one of {', '.join(sorted(_ROLES))}",
                       "use one of those roles")
    content = item.get("content")
    if isinstance(content, str):
        if not content and role != "assistant":
            raise _invalid(f"{where}.content", content, "not_empty", "must not be empty", "pass some text")
        return
    if not isinstance(content, list) or not content:
        raise _invalid(f"{where}.content", content, "type", "must be a string or a non-empty list of parts",
                       "pass text or [{'type': 'input_text', 'text': ...}]")
    for j, part in enumerate(content):
        at = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _PART_TYPES:
            raise _invalid(f"{at}.type", kind, "allowed_values", f"must be one of {', '.join(sorted(_PART_TYPES))}",
                           "use input_text or input_image parts")
        if kind in ("input_text", "output_text") and not isinstance(part.get("text"), str):
            raise _invalid(f"{at}.text", part.get("text"), "type", "must be a string", "pass the text")
        if kind == "input_image":
            if info is not None and info.capabilities_known and not info.vision:
                raise _invalid(f"{at}", "input_image", "model_lacks_vision", f"model {info.id} does not take images",
                               "choose a vision model, or drop the image")
            if not isinstance(part.get("image_url"), str) and not isinstance(part.get("file_id"), str):
                raise _invalid(f"{at}.image_url", part.get("image_url"), "type", "must be a URL string",
                               "pass an https or data: URL")
            if part.get("detail") is not None and part.get("detail") not in _IMAGE_DETAILS:
                raise _invalid(f"{at}.detail", part.get("detail"), "allowed_values", "must be low, high or auto",
                               "use one of those")


def _check_tools(tools: object, choice: object, parallel: object, model: str, info: ModelInfo | None) -> None:
    if tools is None or tools == []:
        if choice is not None and choice != "none":
            raise _invalid("tool_choice", choice, "tool_choice_without_tools", "is set but no tools are given",
                           "add tools or drop tool_choice")
        if parallel is not None:
            raise _invalid("parallel_tool_calls", parallel, "needs_tools", "only applies when tools are given",
                           "add tools or drop parallel_tool_calls")
        return
    if not isinstance(tools, list):
        raise _invalid("tools", tools, "type", "must be a list of tools", "pass a list")
    if len(tools) > MAX_TOOLS:
        raise _invalid("tools", f"{len(tools)} tools", "max_tools", f"at most {MAX_TOOLS} tools are allowed",
                       "offer fewer tools")
    capable = info if info is not None and info.capabilities_known else None
    names: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        kind = tool.get("type") if isinstance(tool, dict) else None
        if kind == "function":
            assert isinstance(tool, dict)
            if "function" in tool:
                raise _invalid(f"{where}.function", tool["function"], "flat_function_tool",
                               "is chat's nesting; Responses function tools are flat",
                               "pass {'type': 'function', 'name': ..., 'parameters': {...}}")
            if capable is not None and not capable.tools:
                raise _invalid("tools", f"{len(tools)} tools", "model_lacks_tools",
                               f"model {model} does not support tool use", "choose a model with tool use, or drop tools")
            name = tool.get("name")
            if not _good_name(name):
                raise _invalid(f"{where}.name", name, "tool_name_pattern",
                               "must be 1-64 characters of a-z, A-Z, 0-9, _ or -", "rename the function")
            if name in names:
                raise _invalid(f"{where}.name", name, "tool_name_unique", "is already used by an earlier tool",
                               "give every tool a distinct name")
            names.add(name)  # type: ignore[arg-type]
            _check_type(f"{where}.description", tool.get("description"), str, "a string")
            _check_type(f"{where}.strict", tool.get("strict"), bool, "true or false")
            if tool.get("parameters") is not None:
                check_schema(f"{where}.parameters", tool["parameters"])
        elif kind in _BUILTIN_TOOLS:
            if info is not None and model not in _BUILTIN_MODELS:
                raise _invalid(f"{where}.type", kind, "model_lacks_builtin_tool",
                               f"is a built-in tool only {' and '.join(sorted(_BUILTIN_MODELS))} have",
                               "use one of those models, or drop the tool")
        elif kind == "mcp":
            assert isinstance(tool, dict)
            for key in ("server_label", "server_url"):
                if not isinstance(tool.get(key), str) or not tool[key]:
                    raise _invalid(f"{where}.{key}", tool.get(key), "required", "must be a non-empty string",
                                   "name the MCP server and give its URL")
        else:
            raise _invalid(f"{where}.type", kind, "allowed_values",
                           "must be function, browser_search, code_interpreter or mcp", "use one of those")
    if choice is None or (isinstance(choice, str) and choice in _TOOL_CHOICES):
        return
    if isinstance(choice, dict) and choice.get("type") == "function":
        # OpenAI's flat form {"type": "function", "name": ...}; Groq's reference shows chat's nested one.
        nested = choice.get("function")
        name = nested.get("name") if isinstance(nested, dict) else choice.get("name")
        if name not in names:
            raise _invalid("tool_choice.name", name, "tool_choice_unknown_function", "names no function in tools",
                           f"use one of: {', '.join(sorted(names)) or '(none)'}")
        return
    raise _invalid("tool_choice", choice, "allowed_values",
                   "must be none, auto, required or {'type': 'function', 'name': ...}", "pass one of those")


def _check_text(text: object, info: ModelInfo | None) -> None:
    if text is None:
        return
    if not isinstance(text, dict) or set(text) - {"format"}:
        raise _invalid("text", text, "type", "must be {'format': {...}}", "pass text={'format': {'type': 'json_schema', ...}}")
    fmt = text.get("format")
    if fmt is None:
        return
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in _FORMATS:
        raise _invalid("text.format.type", kind, "allowed_values", "must be text, json_object or json_schema",
                       "use one of those")
    if kind == "text":
        return
    if info is not None and info.capabilities_known and not info.json_mode:
        raise _invalid("text.format.type", kind, "model_lacks_json_mode", f"model {info.id} does not support JSON mode",
                       "choose a model with JSON mode, or drop it")
    if kind == "json_schema":
        assert isinstance(fmt, dict)
        if not _good_name(fmt.get("name")):
            raise _invalid("text.format.name", fmt.get("name"), "schema_name_pattern",
                           "must be 1-64 characters of a-z, A-Z, 0-9, _ or -", "name the schema")
        check_schema("text.format.schema", fmt.get("schema"))
        _check_type("text.format.strict", fmt.get("strict"), bool, "true or false")


def _check_reasoning(reasoning: object, info: ModelInfo | None) -> None:
    if reasoning is None:
        return
    if not isinstance(reasoning, dict) or set(reasoning) - {"effort", "summary"}:
        raise _invalid("reasoning", reasoning, "type", "must be {'effort': ...}", "pass reasoning={'effort': 'low'}")
    if info is not None and info.capabilities_known and not info.reasoning:
        raise _invalid("reasoning", reasoning, "model_lacks_reasoning", f"model {info.id} is not a reasoning model",
                       "drop reasoning")
    effort = reasoning.get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise _invalid("reasoning.effort", effort, "allowed_values", f"must be one of {', '.join(sorted(_EFFORTS))}",
                       "use low, medium or high (GPT-OSS) or none/default (Qwen)")


def validate_response_request(request: ResponseRequest, catalog: ModelCatalog) -> None:
    """Check a Responses request against Groq's documented rules and the model's capabilities.

    A model the catalog does not know is sent (Groq answers ``model_not_found`` if it serves no such
    model), as for chat; a retired one is refused here.

    Raises:
        ModelDecommissionedError: the model is one Groq has shut down.
        ContextLengthError: the estimated input plus ``max_output_tokens`` exceed the context window.
        ValidationError: any other broken rule; ``field``, ``value`` and ``rule`` say which.
    """
    model = request.model
    if not isinstance(model, str) or not model.strip():
        raise _invalid("model", model, "not_empty", "must name a model", "pass a model id such as 'openai/gpt-oss-20b'")
    if not catalog.known(model) and retired_model(model) is not None:
        raise ModelDecommissionedError(model=model)
    info = catalog.get(model) if catalog.known(model) else None
    if info is not None and info.capabilities_known and (info.audio or info.speech):
        kind = "speech-to-text" if info.audio else "text-to-speech"
        raise _invalid("model", model, "responses_model", f"is a {kind} model, not a text model",
                       "use a text model such as 'openai/gpt-oss-20b'")
    for name in _UNSUPPORTED:
        if getattr(request, name) is not None:
            raise _invalid(name, getattr(request, name), "unsupported_on_groq",
                           "is not supported by Groq's Responses API yet (docs: Unsupported Features)",
                           "drop it; Groq keeps no state, so send the whole conversation in input")
    if request.store not in (None, False):
        raise _invalid("store", request.store, "unsupported_on_groq", "Groq only supports store=false",
                       "drop store; keep the conversation yourself")
    if request.truncation not in (None, "disabled"):
        raise _invalid("truncation", request.truncation, "unsupported_on_groq",
                       "is listed as unsupported by Groq's Responses guide", "drop truncation")
    if request.background not in (None, False):
        raise _invalid("background", request.background, "unsupported_on_groq", "background responses need stored state",
                       "drop background")
    _check_input(request.input, info)
    _check_type("instructions", request.instructions, str, "a string")
    max_output = request.max_output_tokens
    if max_output is not None:
        if not isinstance(max_output, int) or isinstance(max_output, bool):
            raise _invalid("max_output_tokens", max_output, "type", "must be an integer", "pass a whole number")
        if max_output < 1:
            raise _invalid("max_output_tokens", max_output, "range", "must be at least 1", "pass a positive number")
        if info is not None and max_output > info.max_completion_tokens:
            raise _invalid("max_output_tokens", max_output, "model_max_completion_tokens",
                           f"exceeds the {info.max_completion_tokens} output tokens {info.id} allows",
                           f"ask for at most {info.max_completion_tokens}")
    _check_range("temperature", request.temperature, 0, 2)
    _check_range("top_p", request.top_p, 0, 1)
    _check_type("stream", request.stream, bool, "true or false")
    _check_type("parallel_tool_calls", request.parallel_tool_calls, bool, "true or false")
    _check_type("user", request.user, str, "a string")
    if request.service_tier is not None and request.service_tier not in _SERVICE_TIERS:
        raise _invalid("service_tier", request.service_tier, "allowed_values", "must be auto, default or flex",
                       "use one of those")
    metadata = request.metadata
    if metadata is not None:
        if not isinstance(metadata, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise _invalid("metadata", metadata, "type", "must map strings to strings", "pass {'key': 'value'}")
        if len(metadata) > _MAX_METADATA:
            raise _invalid("metadata", f"{len(metadata)} pairs", "max_metadata", f"allows at most {_MAX_METADATA} pairs",
                           "keep the ones that matter")
    _check_tools(request.tools, request.tool_choice, request.parallel_tool_calls, model, info)
    _check_text(request.text, info)
    _check_reasoning(request.reasoning, info)
    if info is not None:
        prompt = _estimate(request)
        requested = prompt + (max_output or 0)
        if requested > info.context_window:
            raise ContextLengthError(
                f"input: about {prompt} input tokens + {max_output or 0} output tokens exceed the "
                f"{info.context_window}-token context window of {info.id} (got {requested} tokens) [rule: context_window]",
                field="input", value=requested, rule="context_window", max_context=info.context_window,
                requested=requested,
            )


def _estimate(request: ResponseRequest) -> int:
    return estimate_response_tokens(request.input, instructions=request.instructions, tools=request.tools, text=request.text)


def _plain(value: Any) -> Any:
    """Input items given as our Structs (a previous response's ``output``) become plain JSON."""
    if isinstance(value, msgspec.Struct):
        return msgspec.to_builtins(value)
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# --------------------------------------------------------------------------- streams


class ResponsesChunks:
    """The ``Chunks`` port of a Responses job: events are :class:`ResponseEvent`, usage rides on the terminal one."""

    decode_errors: tuple[type[Exception], ...] = (msgspec.DecodeError, msgspec.ValidationError)

    def __init__(self) -> None:
        self.decode = decode_response_event

    def usage(self, chunk_or_response: Any) -> TokenUsage | None:
        response = chunk_or_response.response if isinstance(chunk_or_response, ResponseEvent) else chunk_or_response
        usage = getattr(response, "usage", None) if isinstance(response, Response) else None
        return usage  # type: ignore[no-any-return]

    def text(self, chunks: Sequence[Any]) -> str:
        return "".join([c.delta or "" for c in chunks if c.type == "response.output_text.delta"])

    def ends_stream(self, chunk: Any) -> bool:
        return isinstance(chunk, ResponseEvent) and chunk.type in TERMINAL_EVENTS


_CHUNKS: Final = ResponsesChunks()


class ResponseStream:
    """The events of one streamed response, as an async iterator of :class:`ResponseEvent`.

    ::

        async with await groq.responses.create(model=..., input=..., stream=True) as stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    print(event.delta, end="")
        print(stream.response.usage)

    ``text`` is the output text received so far; ``response`` the final :class:`Response` once a
    terminal event (``response.completed`` / ``.incomplete``) arrived; :meth:`final` reads the rest and
    returns it. A ``response.failed`` event raises :class:`~orchestrator.StreamError`.
    """

    def __init__(self, inner: ChatStream) -> None:
        self._inner = inner
        self._text: list[str] = []
        self.response: Response | None = None
        self.request_id = inner.request_id
        self.headers = inner.headers

    async def __aenter__(self) -> ResponseStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading: closes the HTTP response and frees the connection."""
        await self._inner.aclose()

    def __aiter__(self) -> ResponseStream:
        return self

    async def __anext__(self) -> ResponseEvent:
        event: ResponseEvent = await self._inner.__anext__()
        kind = event.type
        if kind == "response.output_text.delta":
            self._text.append(event.delta or "")
        elif event.response is not None:
            self.response = event.response
            if kind == "response.failed":
                error = event.response.error
                raise StreamError(
                    f"the response failed: {error.message if error else 'no reason given'}",
                    code=error.code if error else None,
                    request_id=self.request_id,
                    partial_content=self.text,
                )
        return event

    @property
    def text(self) -> str:
        """The output text received so far (the ``response.output_text.delta`` events joined)."""
        return "".join(self._text)

    @property
    def usage(self) -> TokenUsage | None:
        """The final usage, once the terminal event arrived."""
        return self.response.usage if self.response is not None else None

    async def final(self) -> Response:
        """Read the rest of the stream and return the final :class:`Response`.

        Raises:
            StreamError: the stream failed, or ended without a terminal event carrying the response.
        """
        async for _ in self:
            pass
        if self.response is None or self.response.status == "in_progress":
            raise StreamError("the stream ended without its final response", request_id=self.request_id,
                              partial_content=self.text)
        return self.response

    def __repr__(self) -> str:
        return f"<ResponseStream request_id={self.request_id!r}>"


# --------------------------------------------------------------------------- the resource


class Responses:
    """``client.responses``: ``create`` a model response (Groq's Responses API, OpenAI-compatible, beta)."""

    def __init__(self, client: Client, estimator: CostEstimator) -> None:
        self._client = client
        self._estimator = estimator

    def job(
        self,
        request: ResponseRequest,
        *,
        priority: int = 0,
        key: Any = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
    ) -> Job:
        """Validate a request and make the job that carries it (not yet queued)."""
        check_call_options(priority=priority, timeout=timeout, max_retries=max_retries, extra_headers=extra_headers)
        client = self._client
        if (mapped := client.mapped_model(request.model)) != request.model:
            request = msgspec.structs.replace(request, model=mapped)
        validate_response_request(request, client.catalog)
        note_unlisted(client, request.model)
        prompt = _estimate(request)
        stream = bool(request.stream)
        return Job(
            model=request.model,
            method="POST",
            path="/responses",
            content=msgspec.json.encode(request),
            headers=_JSON if not extra_headers else {**_JSON, **extra_headers},
            stream=stream,
            cost=self._estimator.estimate(prompt, request.max_output_tokens),
            output_cost=self._estimator.completion(request.max_output_tokens),
            prompt_estimate=prompt,
            priority=priority,
            timeout=timeout,
            max_retries=max_retries,
            decode=None if stream else decode_response,
            key=key,
            chunks=_CHUNKS,
        )

    async def create(
        self,
        *,
        model: str,
        input: str | list[Any],
        instructions: str | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
        max_output_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        stream: bool = False,
        reasoning: dict[str, Any] | None = None,
        text: dict[str, Any] | None = None,
        metadata: dict[str, str] | None = None,
        parallel_tool_calls: bool | None = None,
        service_tier: str | None = None,
        user: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        priority: int = 0,
        **unsupported: Any,
    ) -> Response | ResponseStream:
        """Create a model response; with ``stream=True`` return a :class:`ResponseStream` of events.

        ``input`` is a string or a list of items (``{"role": "user", "content": ...}`` messages,
        ``function_call`` / ``function_call_output`` items, or a previous response's ``output`` items:
        Groq keeps no state, so a conversation is sent whole every time). ``tools`` are flat function
        tools (``{"type": "function", "name": ..., "parameters": {...}}``) or Groq's built-in
        ``browser_search`` / ``code_interpreter`` (GPT-OSS models) and ``mcp`` tools. The request is
        validated before anything is sent, then scheduled against the model's rate budget like chat.

        ``previous_response_id``, ``store=True``, ``truncation``, ``include``, ``safety_identifier``,
        ``prompt_cache_key`` and ``prompt`` are refused: Groq documents them as unsupported.
        """
        fields: dict[str, Any] = {
            "model": model, "input": _plain(input), "instructions": instructions, "tools": _plain(tools),
            "tool_choice": tool_choice, "max_output_tokens": max_output_tokens, "temperature": temperature,
            "top_p": top_p, "stream": True if stream else None, "reasoning": reasoning, "text": text,
            "metadata": metadata, "parallel_tool_calls": parallel_tool_calls, "service_tier": service_tier, "user": user,
        }
        for name, value in unsupported.items():
            if name not in ResponseRequest.__struct_fields__:
                raise _invalid(name, value, "unknown_parameter", "is not a Responses API parameter",
                               "check the spelling (see console.groq.com/docs/api-reference#responses-create)")
            fields[name] = value
        if not isinstance(stream, bool):
            raise _invalid("stream", stream, "type", "must be true or false", "pass a bool")
        job = self.job(
            ResponseRequest(**fields), priority=priority, timeout=timeout, max_retries=max_retries,
            extra_headers=extra_headers,
        )
        result = await self._client.run_job(job)
        if stream:
            return ResponseStream(result)
        return result  # type: ignore[no-any-return]

