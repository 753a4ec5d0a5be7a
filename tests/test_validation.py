"""Pre-send validation: one table row per rule, asserting the field path and rule; valid requests pass."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._errors import ContextLengthError, ValidationError
from orchestrator._tokens import estimate_prompt_tokens
from orchestrator._validation import MAX_AUDIO_FILE_BYTES, validate_chat_request, validate_transcription
from orchestrator._wire import (
    AssistantMessage,
    ChatRequest,
    FunctionCall,
    FunctionDefinition,
    ImageUrl,
    ImageUrlPart,
    ResponseFormat,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    UserMessage,
    chat_request_from,
)

TEXT = "openai/gpt-oss-20b"  # tools, JSON mode, no vision (a reasoning model)
VISION = "qwen/qwen3.6-27b"  # images; max_completion_tokens 16384
SMALL = "allam-2-7b"  # 4096-token window, no tools
GUARD = "meta-llama/llama-guard-4-12b"  # no JSON mode
REASONING = "openai/gpt-oss-20b"

PNG = "data:image/png;base64,iVBORw0KGgo="
HTTPS_IMAGE = "https://example.com/cat.png"


def user(content: Any = "hi") -> dict[str, Any]:
    return {"role": "user", "content": content}


def image(url: str = PNG, **extra: Any) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url, **extra}}


def fn(name: str = "f", **extra: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, **extra}}


def call(call_id: str = "c1") -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}


def chat(model: str = TEXT, messages: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [user()] if messages is None else messages, **fields}


def check(body: dict[str, Any]) -> None:
    validate_chat_request(chat_request_from(body), DEFAULT_CATALOG)


_BIG_BASE64 = "data:image/png;base64," + "A" * (2_500_000 // 4 * 4)

CHAT_ROWS: list[tuple[str, dict[str, Any], str, str]] = [
    ("empty-model", chat(model=""), "model", "not_empty"),
    ("audio-model", chat(model="whisper-large-v3"), "model", "chat_model"),
    ("temperature-high", chat(temperature=2.5), "temperature", "range"),
    ("temperature-low", chat(temperature=-0.1), "temperature", "range"),
    ("top-p", chat(top_p=1.5), "top_p", "range"),
    ("frequency-penalty", chat(frequency_penalty=-3), "frequency_penalty", "range"),
    ("presence-penalty", chat(presence_penalty=2.1), "presence_penalty", "range"),
    ("max-completion-zero", chat(max_completion_tokens=0), "max_completion_tokens", "range"),
    ("max-tokens-zero", chat(max_tokens=0), "max_tokens", "range"),
    ("max-completion-over-cap", chat(model=VISION, max_completion_tokens=16_385), "max_completion_tokens", "model_max_completion_tokens"),
    ("n", chat(n=2), "n", "n_must_be_1"),
    ("stop-count", chat(stop=["a", "b", "c", "d", "e"]), "stop", "max_stop_sequences"),
    ("top-logprobs-range", chat(top_logprobs=21, logprobs=True), "top_logprobs", "range"),
    ("top-logprobs-alone", chat(top_logprobs=2), "top_logprobs", "needs_logprobs"),
    ("logit-bias", chat(logit_bias={"50256": 200}), "logit_bias.50256", "range"),
    ("reasoning-effort", chat(model=REASONING, reasoning_effort="extreme"), "reasoning_effort", "allowed_values"),
    ("service-tier", chat(service_tier="gold"), "service_tier", "allowed_values"),
    ("reasoning-on-plain-model", chat(model=SMALL, reasoning_format="parsed"), "reasoning_format", "model_lacks_reasoning"),
    (
        "include-reasoning-with-format",
        chat(model=REASONING, reasoning_format="hidden", include_reasoning=True),
        "include_reasoning",
        "exclusive_with_reasoning_format",
    ),
    ("stream-options-without-stream", chat(stream_options={"include_usage": True}), "stream_options", "needs_stream"),
    ("no-messages", chat(messages=[]), "messages", "not_empty"),
    (
        "tool-answers-nothing",
        chat(messages=[user(), {"role": "tool", "tool_call_id": "c9", "content": "42"}]),
        "messages[1].tool_call_id",
        "tool_call_id_unknown",
    ),
    (
        "tool-answers-later-call",
        chat(messages=[user(), {"role": "tool", "tool_call_id": "c1", "content": "42"}, {"role": "assistant", "tool_calls": [call()]}]),
        "messages[1].tool_call_id",
        "tool_call_id_unknown",
    ),
    ("empty-assistant", chat(messages=[user(), {"role": "assistant"}]), "messages[1]", "assistant_needs_content_or_tool_calls"),
    ("empty-parts", chat(messages=[user([])]), "messages[0].content", "not_empty"),
    ("tool-name-chars", chat(tools=[fn("get weather")]), "tools[0].function.name", "tool_name_pattern"),
    ("tool-name-length", chat(tools=[fn("f" * 65)]), "tools[0].function.name", "tool_name_pattern"),
    ("tool-name-duplicate", chat(tools=[fn("f"), fn("f")]), "tools[1].function.name", "tool_name_unique"),
    ("too-many-tools", chat(tools=[fn(f"f{i}") for i in range(129)]), "tools", "max_tools"),
    ("schema-type", chat(tools=[fn(parameters={"type": 5})]), "tools[0].function.parameters.type", "json_schema_invalid"),
    (
        "schema-nested",
        chat(tools=[fn(parameters={"type": "object", "properties": {"x": {"minimum": "zero"}}})]),
        "tools[0].function.parameters.properties.x.minimum",
        "json_schema_invalid",
    ),
    ("tools-unsupported", chat(model=SMALL, tools=[fn()]), "tools", "model_lacks_tools"),
    (
        "tool-choice-unknown",
        chat(tools=[fn("f")], tool_choice={"type": "function", "function": {"name": "g"}}),
        "tool_choice.function.name",
        "tool_choice_unknown_function",
    ),
    ("tool-choice-without-tools", chat(tool_choice="auto"), "tool_choice", "tool_choice_without_tools"),
    ("parallel-without-tools", chat(parallel_tool_calls=True), "parallel_tool_calls", "needs_tools"),
    (
        "json-unsupported",
        chat(model=GUARD, messages=[user("json please")], response_format={"type": "json_object"}),
        "response_format.type",
        "model_lacks_json_mode",
    ),
    ("json-without-word", chat(response_format={"type": "json_object"}), "response_format.type", "json_object_needs_word_json"),
    ("json-schema-missing", chat(response_format={"type": "json_schema"}), "response_format.json_schema", "json_schema_required"),
    (
        "json-schema-invalid",
        chat(response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "thing"}}}),
        "response_format.json_schema.schema.type",
        "json_schema_invalid",
    ),
    (
        "json-schema-name",
        chat(response_format={"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}),
        "response_format.json_schema.name",
        "schema_name_pattern",
    ),
    ("vision-unsupported", chat(messages=[user([{"type": "text", "text": "?"}, image()])]), "messages[0].content[1]", "model_lacks_vision"),
    ("too-many-images", chat(model=VISION, messages=[user([image()] * 6)]), "messages[0].content[5]", "max_images"),
    ("image-scheme", chat(model=VISION, messages=[user([image("ftp://h/i.png")])]), "messages[0].content[0].image_url.url", "image_url_scheme"),
    (
        "image-mime",
        chat(model=VISION, messages=[user([image("data:image/bmp;base64,AAAA")])]),
        "messages[0].content[0].image_url.url",
        "data_url_mime",
    ),
    (
        "image-not-base64-url",
        chat(model=VISION, messages=[user([image("data:image/png,AAAA")])]),
        "messages[0].content[0].image_url.url",
        "data_url_format",
    ),
    (
        "image-bad-base64",
        chat(model=VISION, messages=[user([image("data:image/png;base64,@@@@")])]),
        "messages[0].content[0].image_url.url",
        "data_url_base64",
    ),
    (
        "base64-total",
        chat(model=VISION, messages=[user([image(_BIG_BASE64), image(_BIG_BASE64)])]),
        "messages[0].content[1].image_url.url",
        "max_base64_request_size",
    ),
    (
        "image-url-length",
        chat(model=VISION, messages=[user([image("https://h/" + "a" * 9000)])]),
        "messages[0].content[0].image_url.url",
        "image_url_length",
    ),
    ("image-url-host", chat(model=VISION, messages=[user([image("https:///i.png")])]), "messages[0].content[0].image_url.url", "image_url_host"),
    ("context-prompt", chat(model=SMALL, messages=[user("word " * 4000)]), "messages", "context_window"),
    ("context-budget", chat(model=SMALL, max_completion_tokens=4096), "messages", "context_window"),
]


class TestChatRules:
    @pytest.mark.parametrize(("body", "field", "rule"), [row[1:] for row in CHAT_ROWS], ids=[row[0] for row in CHAT_ROWS])
    def test_rule(self, body: dict[str, Any], field: str, rule: str) -> None:
        """Each broken rule raises a ValidationError naming its field path and rule."""
        with pytest.raises(ValidationError) as info:
            check(body)
        assert (info.value.field, info.value.rule) == (field, rule)

    def test_context_error_is_context_length_error(self) -> None:
        """A request over the context window raises ContextLengthError with the window and the request size."""
        with pytest.raises(ContextLengthError) as info:
            check(chat(model=SMALL, max_completion_tokens=4096))
        assert (info.value.max_context, info.value.requested) == (4096, 4096 + 5)

    def test_message_quotes_field_value_and_rule(self) -> None:
        """The message names the field, the value and the rule."""
        with pytest.raises(ValidationError) as info:
            check(chat(temperature=2.5))
        assert all(text in str(info.value) for text in ("temperature", "2.5", "range"))

    def test_base64_blob_is_never_quoted_whole(self) -> None:
        """An error about a megabyte-sized data URL quotes only a short prefix of it."""
        blob = "data:image/bmp;base64," + "A" * 1_000_000
        with pytest.raises(ValidationError) as info:
            check(chat(model=VISION, messages=[user([image(blob)])]))
        assert len(str(info.value)) < 1000


HAND_BUILT_ROWS: list[tuple[str, dict[str, Any], str, str]] = [
    ("temperature-type", {"temperature": "hot"}, "temperature", "type"),
    ("temperature-nan", {"temperature": float("nan")}, "temperature", "range"),
    ("seed-float", {"seed": 1.5}, "seed", "type"),
    ("seed-bool", {"seed": True}, "seed", "type"),
    ("stop-type", {"stop": [1]}, "stop", "type"),
    ("message-dict", {"messages": [{"role": "user", "content": "x"}]}, "messages[0]", "type"),
    (
        "image-in-system",
        {"messages": [SystemMessage(content=[ImageUrlPart(image_url=ImageUrl(url=HTTPS_IMAGE))])]},  # type: ignore[list-item]
        "messages[0].content[0]",
        "images_only_in_user_messages",
    ),
    (
        "image-in-assistant",
        {"messages": [AssistantMessage(content=[ImageUrlPart(image_url=ImageUrl(url=HTTPS_IMAGE))])]},  # type: ignore[list-item]
        "messages[0].content[0]",
        "images_only_in_user_messages",
    ),
    ("tool-dict", {"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools[0]", "type"),
    ("part-dict", {"messages": [UserMessage(content=[{"type": "text", "text": "x"}])]}, "messages[0].content[0]", "type"),  # type: ignore[list-item]
    ("content-type", {"messages": [UserMessage(content=5)]}, "messages[0].content", "type"),  # type: ignore[arg-type]
    ("text-type", {"messages": [UserMessage(content=[TextPart(text=5)])]}, "messages[0].content[0].text", "type"),  # type: ignore[arg-type]
    (
        "arguments-type",
        {"messages": [AssistantMessage(tool_calls=[ToolCall(id="c", function=FunctionCall(name="f", arguments={}))])]},  # type: ignore[arg-type]
        "messages[0].tool_calls[0].function.arguments",
        "type",
    ),
    ("tools-type", {"tools": "f"}, "tools", "type"),
    ("tool-choice-value", {"tools": [Tool(function=FunctionDefinition(name="f"))], "tool_choice": "maybe"}, "tool_choice", "allowed_values"),
    ("schema-not-object", {"tools": [Tool(function=FunctionDefinition(name="f", parameters=[]))]}, "tools[0].function.parameters", "json_schema_invalid"),  # type: ignore[arg-type]
    (
        "schema-not-json",
        {"tools": [Tool(function=FunctionDefinition(name="f", parameters={"default": object()}))]},
        "tools[0].function.parameters",
        "json_schema_invalid",
    ),
    ("format-type", {"response_format": ResponseFormat(type="xml")}, "response_format.type", "allowed_values"),  # type: ignore[arg-type]
    ("image-url-type", {"messages": [UserMessage(content=[ImageUrlPart(image_url="https://h/i.png")])]}, "messages[0].content[0].image_url", "type"),  # type: ignore[arg-type]
]


class TestHandBuiltStructs:
    @pytest.mark.parametrize(("fields", "field", "rule"), [row[1:] for row in HAND_BUILT_ROWS], ids=[row[0] for row in HAND_BUILT_ROWS])
    def test_rule(self, fields: dict[str, Any], field: str, rule: str) -> None:
        """Structs built by hand skip msgspec's type checks, so validation checks the types it relies on."""
        request = ChatRequest(**{"model": VISION, "messages": [UserMessage(content="hi")], **fields})
        with pytest.raises(ValidationError) as info:
            validate_chat_request(request, DEFAULT_CATALOG)
        assert (info.value.field, info.value.rule) == (field, rule)

    def test_not_a_request(self) -> None:
        """A plain dict is refused with advice to convert it first."""
        with pytest.raises(ValidationError) as info:
            validate_chat_request({"model": TEXT}, DEFAULT_CATALOG)  # type: ignore[arg-type]
        assert info.value.rule == "type"


VALID_ROWS: list[tuple[str, dict[str, Any]]] = [
    ("minimal", chat()),
    (
        "edges",
        chat(
            temperature=2,
            top_p=1,
            frequency_penalty=-2,
            presence_penalty=2,
            max_completion_tokens=65_536,  # the model's completion cap
            n=1,
            seed=-5,
            stop=["a", "b", "c", "d"],
            logprobs=True,
            top_logprobs=20,
            service_tier="flex",
            stream=True,
            stream_options={"include_usage": True},
            user="u-1",
        ),
    ),
    (
        "vision",
        chat(
            model=VISION,
            messages=[
                {"role": "developer", "content": "Describe images."},
                user([{"type": "text", "text": "what is this?"}, image(detail="low"), image(HTTPS_IMAGE, detail="high")] + [image()] * 3),
            ],
        ),
    ),
    (
        "tool-conversation",
        chat(
            messages=[
                {"role": "system", "content": "Use tools."},
                user("weather?"),
                {"role": "assistant", "content": None, "tool_calls": [call("c1"), call("c2")]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
                {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "warm"}]},
                {"role": "assistant", "content": "Sunny and warm."},
                user("thanks"),
            ],
            tools=[fn("f", parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}), fn("g")],
            tool_choice={"type": "function", "function": {"name": "g"}},
            parallel_tool_calls=False,
        ),
    ),
    ("tool-choice-none", chat(tools=[fn()], tool_choice="none")),
    ("json-object", chat(messages=[{"role": "system", "content": "Reply in JSON."}, user()], response_format={"type": "json_object"})),
    (
        "json-schema",
        chat(
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}, "strict": True},
            }
        ),
    ),
    ("draft-7-schema", chat(tools=[fn(parameters={"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"})])),
    ("reasoning", chat(model=REASONING, reasoning_effort="low", reasoning_format="parsed", tools=[{"type": "browser_search"}])),
    (
        "unknown-model",
        chat(model="newco/next-model", messages=[user([image()])], tools=[fn()], max_completion_tokens=1_000_000, reasoning_format="raw"),
    ),
]


class TestValidRequests:
    @pytest.mark.parametrize("body", [row[1] for row in VALID_ROWS], ids=[row[0] for row in VALID_ROWS])
    def test_passes(self, body: dict[str, Any]) -> None:
        """A request that follows every rule passes validation."""
        assert check(body) is None


_AUDIO: dict[str, Any] = {
    "model": "whisper-large-v3-turbo",
    "filename": "clip.wav",
    "size": 1000,
    "url": None,
    "language": None,
    "prompt": None,
    "response_format": None,
    "temperature": None,
    "timestamp_granularities": None,
    "translation": False,
}

AUDIO_ROWS: list[tuple[str, dict[str, Any], str, str]] = [
    ("empty-model", {"model": ""}, "model", "not_empty"),
    ("chat-model", {"model": TEXT}, "model", "audio_model"),
    ("turbo-translation", {"translation": True}, "model", "translation_model"),
    ("file-and-url", {"url": "https://h/a.mp3"}, "file", "file_or_url"),
    ("neither", {"filename": None, "size": None}, "file", "file_or_url"),
    ("extension", {"filename": "notes.txt"}, "file", "audio_format"),
    ("no-extension", {"filename": "clip"}, "file", "audio_format"),
    ("empty-file", {"size": 0}, "file", "not_empty"),
    ("too-large", {"size": MAX_AUDIO_FILE_BYTES + 1}, "file", "max_file_size"),
    ("url-scheme", {"filename": None, "size": None, "url": "ftp://h/a.mp3"}, "url", "audio_url_scheme"),
    ("response-format", {"response_format": "xml"}, "response_format", "allowed_values"),
    ("temperature", {"temperature": 1.5}, "temperature", "range"),
    (
        "granularity-value",
        {"response_format": "verbose_json", "timestamp_granularities": ["char"]},
        "timestamp_granularities[0]",
        "allowed_values",
    ),
    ("granularity-format", {"response_format": "json", "timestamp_granularities": ["word"]}, "timestamp_granularities", "needs_verbose_json"),
    ("language-name", {"language": "english"}, "language", "iso_639_1"),
    ("language-case", {"language": "EN"}, "language", "iso_639_1"),
    ("language-long", {"language": "engl"}, "language", "iso_639_1"),
    ("translation-language", {"model": "whisper-large-v3", "translation": True, "language": "fr"}, "language", "translation_no_language"),
    (
        "translation-granularities",
        {"model": "whisper-large-v3", "translation": True, "timestamp_granularities": ["segment"]},
        "timestamp_granularities",
        "translation_no_granularities",
    ),
    ("prompt-type", {"prompt": 5}, "prompt", "type"),
]

AUDIO_VALID: list[tuple[str, dict[str, Any]]] = [
    ("file", {}),
    ("url", {"filename": None, "size": None, "url": "https://example.com/a.mp3"}),
    ("verbose", {"response_format": "verbose_json", "timestamp_granularities": ["word", "segment"], "language": "en", "temperature": 1}),
    ("hawaiian", {"language": "haw"}),
    ("translation", {"model": "whisper-large-v3", "translation": True, "response_format": "text", "prompt": "names"}),
    ("srt", {"response_format": "srt", "filename": "dir.v2/clip.MP3", "timestamp_granularities": ["segment"]}),
    ("unknown-model", {"model": "whisper-next"}),
]


class TestTranscriptionRules:
    @pytest.mark.parametrize(("overrides", "field", "rule"), [row[1:] for row in AUDIO_ROWS], ids=[row[0] for row in AUDIO_ROWS])
    def test_rule(self, overrides: dict[str, Any], field: str, rule: str) -> None:
        """Each broken audio rule raises a ValidationError naming its field and rule."""
        with pytest.raises(ValidationError) as info:
            validate_transcription(**{**_AUDIO, **overrides}, catalog=DEFAULT_CATALOG)
        assert (info.value.field, info.value.rule) == (field, rule)

    @pytest.mark.parametrize("overrides", [row[1] for row in AUDIO_VALID], ids=[row[0] for row in AUDIO_VALID])
    def test_valid(self, overrides: dict[str, Any]) -> None:
        """Parameters that follow every rule pass."""
        assert validate_transcription(**{**_AUDIO, **overrides}, catalog=DEFAULT_CATALOG) is None


def test_jsonschema_is_imported_lazily() -> None:
    """Importing the validator does not import jsonschema, keeping ``import orchestrator`` fast."""
    code = "import sys, orchestrator._validation; print('jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=_repo_root())
    assert out.stdout.strip() == "False"


def _repo_root() -> str:
    import pathlib

    return str(pathlib.Path(__file__).resolve().parents[1])


def test_text_part_with_json_word_enables_json_mode() -> None:
    """The word "json" is found inside text parts as well as plain strings."""
    body = chat(messages=[user([{"type": "text", "text": "Give me JSON"}])], response_format={"type": "json_object"})
    assert check(body) is None


def test_hand_built_valid_request_passes() -> None:
    """A request assembled from Structs passes like its dict form."""
    request = ChatRequest(model=TEXT, messages=[UserMessage(content=[TextPart(text="hi")])], temperature=0.5)
    assert validate_chat_request(request, DEFAULT_CATALOG) == estimate_prompt_tokens(request)


class TestRefreshedCatalog:
    def test_a_model_first_seen_in_models_list_is_not_refused_on_guessed_capabilities(self) -> None:
        """A new id from /models accepts images and tools (Groq judges), but its reported context window holds."""
        from orchestrator._catalog import DEFAULT_CATALOG
        from orchestrator._errors import ContextLengthError
        from orchestrator._validation import validate_chat_request
        from orchestrator._wire import Model, ModelList, chat_request_from

        catalog = DEFAULT_CATALOG.refreshed(ModelList(data=[Model(id="new/vision-model", context_window=1000)]))
        image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
        request = chat_request_from(
            {"model": "new/vision-model", "messages": [{"role": "user", "content": [image]}], "tools": [{"type": "function", "function": {"name": "f"}}]}
        )
        validate_chat_request(request, catalog)
        too_long = chat_request_from({"model": "new/vision-model", "messages": [{"role": "user", "content": "x" * 8000}]})
        with pytest.raises(ContextLengthError):
            validate_chat_request(too_long, catalog)
