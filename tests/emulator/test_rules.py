"""The emulator's own request rules (orchestrator.emulator._rules): plain calls, hypothesis, and over HTTP.

Also the guard that keeps the oracle independent: no emulator module may import the client's validator.
"""

from __future__ import annotations

import ast
import base64
import struct
import zlib
from pathlib import Path
from typing import Any

import groq
import pytest
from hypothesis import given
from hypothesis import strategies as st

import orchestrator.emulator
from orchestrator._catalog import DEFAULT_CATALOG, ModelInfo, unknown_model
from orchestrator._errors import ValidationError
from orchestrator._wire import ChatRequest, chat_request_from
from orchestrator.emulator._rules import (
    MAX_BASE64_REQUEST_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_IMAGES,
    MAX_STOP_SEQUENCES,
    MAX_TOOLS,
    Refusal,
    _strict_problem,
    chat_refusal,
    image_dimensions,
    one_of,
    reasoning_efforts,
    schema_problem,
)
from tests.emulator._models import PLAIN_MODEL, TEST_CATALOG, THINK_MODEL
from tests.emulator.conftest import MODEL, VISION_MODEL, Harness

EMULATOR_DIR = Path(orchestrator.emulator.__file__).parent
FORBIDDEN = "orchestrator._validation"


# --------------------------------------------------------------------------- the oracle stays independent


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``from ... import`` names, resolving ``from .. import x`` against ``module``."""
    if not node.level:
        return node.module or ""
    package = module.split(".")[: -node.level]
    return ".".join([*package, node.module] if node.module else package)


def forbidden_imports(source: str, module: str) -> list[int]:
    """Lines of ``source`` (the module ``module``) that import orchestrator._validation, at any depth.

    Counts ``import orchestrator._validation``, ``from orchestrator._validation import ...``,
    ``from orchestrator import _validation``, their relative forms, and ``importlib.import_module`` /
    ``__import__`` with the name as a string literal; module level, in functions, classes, ``try`` and
    ``if TYPE_CHECKING`` alike.
    """
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            if any(alias.name == FORBIDDEN or alias.name.startswith(FORBIDDEN + ".") for alias in node.names):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            if base == FORBIDDEN or base.startswith(FORBIDDEN + ".") or (
                base == "orchestrator" and any(alias.name == "_validation" for alias in node.names)
            ):
                lines.append(node.lineno)
        elif isinstance(node, ast.Call) and any(
            isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith(FORBIDDEN)
            for arg in node.args
        ):
            lines.append(node.lineno)
    return lines


def test_no_emulator_module_imports_the_client_validator() -> None:
    """The oracle judges requests by its own rules: nothing under orchestrator/emulator/ imports _validation."""
    files = sorted(EMULATOR_DIR.rglob("*.py"))
    assert len(files) > 10  # the scan really looked at the package
    offenders = {}
    for path in files:
        # A package's __init__ keeps its last part, so one leading dot resolves to the package itself.
        module = ".".join(path.relative_to(EMULATOR_DIR.parent.parent).with_suffix("").parts)
        found = forbidden_imports(path.read_text(encoding="utf-8"), module)
        if found:
            offenders[str(path.relative_to(EMULATOR_DIR))] = found
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "import orchestrator._validation",
        "import orchestrator._validation as v",
        "from orchestrator._validation import validate_chat_request",
        "from orchestrator import _validation",
        "from orchestrator import _errors, _validation as v",
        "from .._validation import MAX_IMAGES",
        "from .. import _validation",
        "def f():\n    from orchestrator._validation import validate_transcription\n    return 1",
        "class C:\n    def m(self):\n        import orchestrator._validation",
        "try:\n    pass\nfinally:\n    from orchestrator._validation import MAX_TOOLS",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from orchestrator._validation import MAX_TOOLS",
        "import importlib\nv = importlib.import_module('orchestrator._validation')",
        "v = __import__('orchestrator._validation')",
    ],
)
def test_the_scan_finds_every_form(source: str) -> None:
    """The guard is not vacuous: each way of importing the validator is caught."""
    assert forbidden_imports(source, "orchestrator.emulator._example")


@pytest.mark.parametrize(
    "source",
    [
        "from orchestrator._wire import ChatRequest",
        "from orchestrator import _catalog",
        "from orchestrator.emulator import _rules",
        "from . import _validation_notes",  # orchestrator.emulator._validation_notes: not the client's
        "x = 'orchestrator._validation is not imported by a string in a comment or a plain value'",
    ],
)
def test_the_scan_lets_other_imports_be(source: str) -> None:
    assert forbidden_imports(source, "orchestrator.emulator._example") == []


# --------------------------------------------------------------------------- helpers

GPT_OSS = DEFAULT_CATALOG.get(MODEL)
VISION = DEFAULT_CATALOG.get(VISION_MODEL)
PLAIN = TEST_CATALOG.get(PLAIN_MODEL)
THINK = TEST_CATALOG.get(THINK_MODEL)
COMPOUND = DEFAULT_CATALOG.get("groq/compound")  # no tools, no vision
FUNCTION = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}


def request(model: str = MODEL, content: Any = "Hello there", **extra: Any) -> ChatRequest:
    return chat_request_from({"model": model, "messages": [{"role": "user", "content": content}], **extra})


def refusal(info: ModelInfo = GPT_OSS, *, prompt_tokens: int = 10, content: Any = "Hello there", **extra: Any) -> Refusal | None:
    return chat_refusal(request(info.id, content, **extra), info, prompt_tokens)


def refused_on(result: Refusal | None) -> tuple[int, str | None, str | None] | None:
    """(status, param, code) of a refusal, None if the request may run."""
    return None if result is None else (result.status, result.param, result.code)


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00"


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof0 = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof0 + b"\xff\xd9"


def webp_extended(width: int, height: int) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (
        height - 1
    ).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + bits.to_bytes(4, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def data_url(image: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(image).decode()


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


# --------------------------------------------------------------------------- parameters


class TestParameters:
    def test_a_plain_request_may_run(self) -> None:
        assert refusal() is None

    @pytest.mark.parametrize(
        ("name", "low", "high"),
        [("temperature", 0, 2), ("top_p", 0, 1), ("frequency_penalty", -2, 2), ("presence_penalty", -2, 2)],
    )
    def test_ranges_are_inclusive(self, name: str, low: float, high: float) -> None:
        """The API reference's ranges: both ends allowed, anything past them a 400 naming the parameter."""
        assert refusal(**{name: low}) is None and refusal(**{name: high}) is None
        for outside in (low - 0.01, high + 0.01, float("inf")):
            result = refusal(**{name: outside})
            assert refused_on(result) == (400, name, None) and "between" in result.message  # type: ignore[union-attr]

    @given(st.floats(allow_nan=True))
    def test_temperature_is_refused_exactly_outside_0_to_2(self, value: float) -> None:
        result = refusal(temperature=value)
        assert (result is None) == (0 <= value <= 2)
        assert result is None or result.param == "temperature"

    @pytest.mark.parametrize("name", ["max_completion_tokens", "max_tokens"])
    def test_completion_cap_is_the_models(self, name: str) -> None:
        """Up to the model's max_completion_tokens is fine; above is Groq's 400 (verbatim wording)."""
        cap = VISION.max_completion_tokens
        assert refusal(VISION, **{name: cap}) is None
        result = refusal(VISION, **{name: cap + 1})
        assert refused_on(result) == (400, name, None)
        assert result.message == (  # type: ignore[union-attr]
            f"`{name}` must be less than or equal to `{cap}`, the maximum value for `{name}` is less than the "
            "`context_window` for this model"
        )
        assert refused_on(refusal(**{name: 0})) == (400, name, None)

    @given(st.integers(-5, 50))
    def test_only_n_1(self, n: int) -> None:
        """ "only n=1 is supported. Other values will result in a 400 response." """
        result = refusal(n=n)
        assert (result is None) == (n == 1)
        assert result is None or ("n=1" in result.message and result.param == "n")

    @given(st.lists(st.text(min_size=1, max_size=3), max_size=8))
    def test_up_to_four_stop_sequences(self, stop: list[str]) -> None:
        result = refusal(stop=stop)
        assert (result is None) == (len(stop) <= MAX_STOP_SEQUENCES)
        assert refusal(stop="only one") is None

    def test_top_logprobs_needs_logprobs_and_a_range(self) -> None:
        assert refusal(top_logprobs=20, logprobs=True) is None
        assert refused_on(refusal(top_logprobs=21, logprobs=True)) == (400, "top_logprobs", None)
        assert refused_on(refusal(top_logprobs=3)) == (400, "top_logprobs", None)

    def test_seed_is_64_bit(self) -> None:
        assert refusal(seed=2**63 - 1) is None and refusal(seed=-(2**63)) is None
        assert refused_on(refusal(seed=2**63)) == (400, "seed", None)

    @pytest.mark.parametrize("tier", ["auto", "on_demand", "flex", "performance"])
    def test_service_tiers(self, tier: str) -> None:
        assert refusal(service_tier=tier) is None

    def test_unknown_service_tier(self) -> None:
        result = refusal(service_tier="turbo")
        assert refused_on(result) == (400, "service_tier", None)
        assert result is not None
        assert result.message == "`service_tier` must be one of `auto`, `on_demand`, `flex`, or `performance`"

    def test_stream_options_need_a_stream(self) -> None:
        assert refusal(stream=True, stream_options={"include_usage": True}) is None
        assert refused_on(refusal(stream_options={"include_usage": True})) == (400, "stream_options", None)

    def test_logit_bias_is_not_range_checked(self) -> None:
        """Groq documents logit_bias as unsupported, with no range: the emulator does not invent one."""
        assert refusal(logit_bias={"50256": 1000}) is None


# --------------------------------------------------------------------------- messages, model


class TestMessages:
    def test_messages_must_not_be_empty(self) -> None:
        result = chat_refusal(chat_request_from({"model": MODEL, "messages": []}), GPT_OSS, 0)
        assert refused_on(result) == (400, "messages", None) and "non-empty" in result.message  # type: ignore[union-attr]

    def test_empty_content_list(self) -> None:
        assert refused_on(refusal(content=[])) == (400, "messages[0].content", None)

    def test_assistant_needs_content_or_tool_calls(self) -> None:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]}
        assert refused_on(chat_refusal(chat_request_from(body), GPT_OSS, 0)) == (400, "messages[1]", None)

    def test_tool_message_must_answer_an_earlier_call(self) -> None:
        call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
        history = [
            {"role": "user", "content": "weather?"},
            {"role": "assistant", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ]
        ok = chat_request_from({"model": MODEL, "messages": history, "tools": [FUNCTION]})
        assert chat_refusal(ok, GPT_OSS, 0) is None
        stray = chat_request_from({"model": MODEL, "messages": [*history, {"role": "tool", "tool_call_id": "call_9",
                                                                           "content": "?"}]})
        assert refused_on(chat_refusal(stray, GPT_OSS, 0)) == (400, "messages[3].tool_call_id", None)

    @pytest.mark.parametrize("model", ["whisper-large-v3", "canopylabs/orpheus-v1-english"])
    def test_speech_models_do_not_chat(self, model: str) -> None:
        result = refusal(DEFAULT_CATALOG.get(model))
        assert refused_on(result) == (400, "model", None) and model in result.message  # type: ignore[union-attr]

    def test_context_window(self) -> None:
        """Prompt plus budget over the window: Groq's captured 400, verbatim."""
        window = GPT_OSS.context_window
        assert refusal(prompt_tokens=window - 100, max_completion_tokens=100) is None
        assert refusal(prompt_tokens=window - 100, max_completion_tokens=101) == Refusal(
            400, "Please reduce the length of the messages or completion.", param="messages",
            code="context_length_exceeded",
        )

    @given(prompt=st.integers(0, 140_000), budget=st.none() | st.integers(1, 65_536))
    def test_context_is_prompt_plus_budget(self, prompt: int, budget: int | None) -> None:
        result = refusal(prompt_tokens=prompt, max_completion_tokens=budget)
        over = prompt + (budget or 0) > GPT_OSS.context_window
        assert (result is not None and result.code == "context_length_exceeded") == over


# --------------------------------------------------------------------------- tools


class TestTools:
    def test_a_function_may_be_offered(self) -> None:
        assert refusal(tools=[FUNCTION], tool_choice="required", parallel_tool_calls=False) is None

    def test_tool_choice_and_parallel_calls_need_tools(self) -> None:
        assert refused_on(refusal(tool_choice="auto")) == (400, "tool_choice", None)
        assert refused_on(refusal(parallel_tool_calls=True)) == (400, "parallel_tool_calls", None)

    def test_model_without_tools(self) -> None:
        assert refused_on(refusal(COMPOUND, tools=[FUNCTION])) == (400, "tools", None)

    def test_model_first_seen_in_models_is_not_judged(self) -> None:
        """Capabilities unknown: Groq has the last word, the emulator does not guess."""
        fresh = unknown_model("vendor/new-model")
        assert refusal(fresh, tools=[FUNCTION], content=[{"type": "text", "text": "x"}, image("https://x.test/a.png")]) is None

    def test_at_most_128_functions(self) -> None:
        def tools(count: int) -> list[dict[str, Any]]:
            return [{"type": "function", "function": {"name": f"f{i}"}} for i in range(count)]

        assert refusal(tools=tools(MAX_TOOLS)) is None
        assert refused_on(refusal(tools=tools(MAX_TOOLS + 1))) == (400, "tools", None)

    @given(st.text(max_size=70))
    def test_function_names(self, name: str) -> None:
        """"a-z, A-Z, 0-9, or contain underscores and dashes, with a maximum length of 64" """
        valid = 1 <= len(name) <= 64 and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
        result = refusal(tools=[{"type": "function", "function": {"name": name}}])
        assert (result is None) == valid
        assert result is None or result.param == "tools[0].function.name"

    def test_duplicate_names(self) -> None:
        assert refused_on(refusal(tools=[FUNCTION, FUNCTION])) == (400, "tools[1].function.name", None)

    def test_parameters_must_be_a_json_schema(self) -> None:
        bad = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": 5}}}
        result = refusal(tools=[bad])
        assert refused_on(result) == (400, "tools[0].function.parameters.properties", None)

    def test_named_tool_choice(self) -> None:
        named = {"type": "function", "function": {"name": "get_weather"}}
        assert refusal(tools=[FUNCTION], tool_choice=named) is None
        other = {"type": "function", "function": {"name": "get_time"}}
        assert refused_on(refusal(tools=[FUNCTION], tool_choice=other)) == (400, "tool_choice.function.name", None)

    def test_disable_tool_validation_cannot_require_a_tool(self) -> None:
        """groq-python: with disable_tool_validation "the request cannot require a specific tool be used"."""
        named = {"type": "function", "function": {"name": "get_weather"}}
        assert refusal(tools=[FUNCTION], tool_choice="required", disable_tool_validation=True) is None
        result = refusal(tools=[FUNCTION], tool_choice=named, disable_tool_validation=True)
        assert refused_on(result) == (400, "tool_choice", None)

    def test_search_fields_only_where_search_runs(self) -> None:
        """search_settings and the deprecated domain lists: compound systems, or a browser_search tool (search-settings page)."""
        settings = {"include_domains": ["*.edu"]}
        assert refusal(COMPOUND, search_settings=settings, include_domains=["a.org"]) is None
        assert refusal(search_settings=settings, tools=[{"type": "browser_search"}]) is None
        assert refused_on(refusal(search_settings=settings)) == (400, "search_settings", None)
        assert refused_on(refusal(COMPOUND, compound_custom={"tools": {"enabled_tools": ["wolfram_alpha"]}})) == (
            400, "compound_custom.tools.wolfram_settings", None)
        fresh = unknown_model("vendor/new-model")
        assert refusal(fresh, search_settings=settings, compound_custom={}) is None  # capabilities unknown: not judged

    def test_built_in_tools_are_not_function_checked(self) -> None:
        assert refusal(tools=[{"type": "browser_search"}, {"type": "code_interpreter"}]) is None


# --------------------------------------------------------------------------- response format


SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
          "additionalProperties": False}


class TestResponseFormat:
    def test_json_object_needs_the_word_json(self) -> None:
        """Groq's wording, as mem0ai/mem0#4161 quotes it."""
        fmt = {"type": "json_object"}
        assert refusal(content="answer in JSON", response_format=fmt) is None
        assert refusal(content="hello", response_format=fmt) == Refusal(
            400, "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            param="messages",
        )

    def test_model_without_json_mode(self) -> None:
        assert refused_on(refusal(DEFAULT_CATALOG.get("meta-llama/llama-guard-4-12b"), content="json",
                                  response_format={"type": "json_object"})) == (400, "response_format", None)

    def test_json_schema(self) -> None:
        ok = {"type": "json_schema", "json_schema": {"name": "weather", "schema": SCHEMA, "strict": True}}
        assert refusal(response_format=ok) is None
        missing = {"type": "json_schema"}
        assert refused_on(refusal(response_format=missing)) == (400, "response_format.json_schema", None)
        badly_named = {"type": "json_schema", "json_schema": {"name": "the weather", "schema": SCHEMA}}
        assert refused_on(refusal(response_format=badly_named)) == (400, "response_format.json_schema.name", None)
        invalid = {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "nothing"}}}
        result = refusal(response_format=invalid)
        assert result is not None and (result.status, result.param) == (400, "response_format.json_schema.schema.type")

    def test_strict_needs_required_and_closed_objects(self) -> None:
        """structured-outputs: strict mode needs every field required and additionalProperties: false."""
        open_schema = {**SCHEMA, "additionalProperties": True}
        optional = {**SCHEMA, "required": []}
        for schema in (open_schema, optional):
            strict = {"type": "json_schema", "json_schema": {"name": "w", "schema": schema, "strict": True}}
            assert refused_on(refusal(response_format=strict)) == (400, "response_format.json_schema.schema", None)
            best_effort = {"type": "json_schema", "json_schema": {"name": "w", "schema": schema}}
            assert refusal(response_format=best_effort) is None

    def test_strict_looks_inside(self) -> None:
        nested = {"type": "object", "additionalProperties": False, "required": ["items"], "properties": {
            "items": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}}}}
        assert _strict_problem(nested, "") == (".properties.items.items", "every object must set `additionalProperties: false`")

    @given(st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), st.sampled_from(["string", "integer"]),
                           max_size=5))
    def test_a_closed_fully_required_schema_is_strict(self, fields: dict[str, str]) -> None:
        schema = {"type": "object", "properties": {k: {"type": v} for k, v in fields.items()},
                  "required": sorted(fields), "additionalProperties": False}
        assert _strict_problem(schema, "") is None and schema_problem(schema) is None
        if fields:
            assert _strict_problem({**schema, "required": sorted(fields)[1:]}, "") is not None


# --------------------------------------------------------------------------- images


class TestImages:
    def test_images_on_a_vision_model(self) -> None:
        content = [{"type": "text", "text": "what is it?"}, image("https://example.com/cat.png"), image(data_url(png(64, 64)))]
        assert refusal(VISION, content=content) is None

    def test_images_on_a_text_model(self) -> None:
        result = refusal(content=[image("https://example.com/cat.png")])
        assert refused_on(result) == (400, "messages[0].content[0]", None)

    def test_at_most_five_images(self) -> None:
        assert refusal(VISION, content=[image("https://x.test/a.png")] * MAX_IMAGES) is None
        result = refusal(VISION, content=[image("https://x.test/a.png")] * (MAX_IMAGES + 1))
        assert refused_on(result) == (400, f"messages[0].content[{MAX_IMAGES}]", None)

    def test_base64_over_4_mb_is_413(self) -> None:
        url = "data:image/png;base64," + "A" * (MAX_BASE64_REQUEST_BYTES + 4)
        assert refused_on(refusal(VISION, content=[image(url)])) == (413, None, "request_too_large")

    @pytest.mark.parametrize(
        ("url", "fragment"),
        [
            ("data:image/png,notbase64", "base64 data URL"),
            ("data:image/bmp;base64,AAAA", "must hold one of"),
            ("data:image/png;base64,AAA", "valid base64"),
            ("data:image/png;base64,", "valid base64"),
            ("ftp://example.com/a.png", "http(s) URL"),
            ("https:///a.png", "no host"),
        ],
    )
    def test_image_urls(self, url: str, fragment: str) -> None:
        result = refusal(VISION, content=[image(url)])
        assert refused_on(result) == (400, "messages[0].content[0].image_url.url", None)
        assert fragment in result.message  # type: ignore[union-attr]

    @pytest.mark.parametrize("make", [png, gif, jpeg, webp_extended, webp_lossless])
    def test_over_33_megapixels(self, make: Any) -> None:
        """console.groq.com/docs/vision: images over 33,177,600 pixels are a 400."""
        mime = {png: "image/png", gif: "image/gif", jpeg: "image/jpeg"}.get(make, "image/webp")
        assert refusal(VISION, content=[image(data_url(make(7680, 4320), mime))]) is None  # exactly the limit
        result = refusal(VISION, content=[image(data_url(make(7681, 4320), mime))])
        assert refused_on(result) == (400, "messages[0].content[0].image_url.url", None)
        assert "33 megapixel" in result.message  # type: ignore[union-attr]

    def test_unreadable_image_is_not_judged_by_size(self) -> None:
        """A header the emulator cannot read (a bare PNG signature) is not refused for its size."""
        assert refusal(VISION, content=[image("data:image/png;base64,iVBORw0KGgo=")]) is None

    @given(st.integers(1, 16_383), st.integers(1, 16_383), st.sampled_from([png, gif, jpeg, webp_extended, webp_lossless]))
    def test_dimensions_round_trip(self, width: int, height: int, make: Any) -> None:
        assert image_dimensions(make(width, height)) == (width, height)

    @given(st.binary(max_size=64))
    def test_dimensions_of_any_bytes(self, data: bytes) -> None:
        """Garbage, truncated or otherwise, is None or a pair, never an exception."""
        for prefix in (b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8X", b"\xff\xd8"):
            size = image_dimensions(prefix + data)
            assert size is None or (len(size) == 2 and min(size) >= 0)


# --------------------------------------------------------------------------- reasoning


class TestReasoning:
    def test_efforts(self) -> None:
        assert reasoning_efforts("openai/gpt-oss-120b") == ("low", "medium", "high")
        assert reasoning_efforts(THINK_MODEL) == ("none", "default")
        assert reasoning_efforts("qwen/qwen3.8-27b") == ("none", "default", "low", "medium", "high")

    def test_one_of(self) -> None:
        assert one_of(("a",)) == "`a`"
        assert one_of(("a", "b")) == "`a` or `b`"
        assert one_of(("a", "b", "c")) == "`a`, `b`, or `c`"

    def test_wrong_effort(self) -> None:
        assert refusal(THINK, reasoning_effort="high") == Refusal(400, "`reasoning_effort` must be one of `none` or `default`")

    def test_unknown_model_takes_only_known_efforts(self) -> None:
        fresh = unknown_model("vendor/new-model")
        assert refusal(fresh, reasoning_effort="high") is None
        assert refused_on(refusal(fresh, reasoning_effort="max")) == (400, "reasoning_effort", None)

    def test_reasoning_fields_on_a_plain_model(self) -> None:
        assert refusal(PLAIN, reasoning_format="parsed") == Refusal(
            400, "`reasoning_format` is not supported with this model", param="reasoning_format"
        )

    def test_reasoning_comes_first(self) -> None:
        """Both reasoning fields and a bad temperature: the reasoning 400 is the one answered."""
        result = refusal(include_reasoning=True, reasoning_format="parsed", temperature=9)
        assert result == Refusal(400, "cannot specify both `include_reasoning` and `reasoning_format`")


# --------------------------------------------------------------------------- any request


_values = st.one_of(st.none(), st.booleans(), st.integers(-3, 200), st.floats(-3, 3), st.text(max_size=6))
_fields = st.fixed_dictionaries({}, optional={
    "temperature": st.floats(-1, 3), "top_p": st.floats(-1, 2), "n": st.integers(0, 3),
    "max_completion_tokens": st.integers(-1, 200_000), "stop": st.lists(st.text(max_size=3), max_size=6),
    "tools": st.lists(st.fixed_dictionaries({"type": st.just("function"), "function": st.fixed_dictionaries(
        {"name": st.text(max_size=8)}, optional={"parameters": st.dictionaries(st.sampled_from(
            ["type", "properties", "required", "items", "$schema"]), _values, max_size=3)})}), max_size=3),
    "tool_choice": st.sampled_from(["auto", "none", "required"]), "parallel_tool_calls": st.booleans(),
    "response_format": st.sampled_from([{"type": "json_object"}, {"type": "text"}]),
    "reasoning_effort": st.sampled_from(["low", "none", "max"]), "include_reasoning": st.booleans(),
    "stream": st.booleans(), "stream_options": st.just({"include_usage": True}), "seed": st.integers(),
    "top_logprobs": st.integers(-1, 30), "logprobs": st.booleans(), "service_tier": st.text(max_size=10),
})
_contents = st.one_of(st.text(max_size=20), st.lists(st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=10)}),
    st.fixed_dictionaries({"type": st.just("image_url"), "image_url": st.fixed_dictionaries(
        {"url": st.sampled_from(["https://x.test/a.png", "data:image/png;base64,AAAA", "data:,", "x", ""])})}),
), max_size=7))


@given(
    model=st.sampled_from([info.id for info in TEST_CATALOG]),
    contents=st.lists(_contents, min_size=0, max_size=3),
    fields=_fields,
    prompt_tokens=st.integers(0, 200_000),
)
def test_any_request_gets_an_answer_or_a_groq_shaped_refusal(
    model: str, contents: list[Any], fields: dict[str, Any], prompt_tokens: int
) -> None:
    """Whatever a decodable request holds, the rules return None or a 400/413 with a message, never raise."""
    try:
        decoded = chat_request_from({"model": model, "messages": [{"role": "user", "content": c} for c in contents],
                                     **fields})
    except ValidationError:
        return
    result = chat_refusal(decoded, TEST_CATALOG.get(model), prompt_tokens)
    assert result is None or (result.status in (400, 413) and result.message)


# --------------------------------------------------------------------------- over HTTP


async def answer(harness: Harness, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = await harness.client.post("/chat/completions", json=body)
    return response.status_code, response.json()


async def test_new_rules_answer_in_groqs_error_shape(harness: Harness) -> None:
    """Rules the client's validator never had reach the wire as Groq-shaped errors."""
    big = data_url(png(10_000, 10_000))
    status, body = await answer(harness, {"model": VISION_MODEL, "messages": [{"role": "user", "content": [image(big)]}]})
    assert status == 400 and body["error"]["param"] == "messages[0].content[0].image_url.url"
    assert body["error"]["type"] == "invalid_request_error"
    named = {"type": "function", "function": {"name": "get_weather"}}
    status, body = await answer(harness, {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                          "tools": [FUNCTION], "tool_choice": named, "disable_tool_validation": True})
    assert (status, body["error"]["param"]) == (400, "tool_choice")


async def test_json_word_and_completion_cap_over_http(harness: Harness) -> None:
    status, body = await answer(harness, {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                          "response_format": {"type": "json_object"}})
    assert (status, body["error"]["param"]) == (400, "messages") and "word 'json'" in body["error"]["message"]
    status, body = await answer(harness, {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                                          "max_completion_tokens": 65_537})
    assert status == 400 and body["error"] == {
        "message": "`max_completion_tokens` must be less than or equal to `65536`, the maximum value for "
        "`max_completion_tokens` is less than the `context_window` for this model",
        "type": "invalid_request_error",
        "param": "max_completion_tokens",
    }


async def test_sdk_sees_a_bad_request(harness: Harness) -> None:
    """The official SDK raises BadRequestError for a rule the emulator enforces on its own."""
    async with harness.sdk() as sdk:
        with pytest.raises(groq.BadRequestError):
            await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                              stop=["a", "b", "c", "d", "e"])
