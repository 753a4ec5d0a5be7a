"""Wire model: round trips for every Struct, real captured Groq bodies, and chat_request_from."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator import _wire as wire
from orchestrator._errors import ValidationError
from orchestrator._wire import (
    AssistantMessage,
    BrowserSearchTool,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    DeveloperMessage,
    ErrorBody,
    FunctionCall,
    FunctionDefinition,
    ImageUrl,
    ImageUrlPart,
    JsonSchemaFormat,
    Model,
    ModelList,
    ResponseFormat,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolChoiceFunction,
    ToolChoiceName,
    ToolMessage,
    Transcription,
    Usage,
    UserMessage,
    VerboseTranscription,
    chat_request_from,
    decode_chat_chunk,
    decode_chat_request,
    decode_chat_response,
    decode_error_body,
    decode_model,
    decode_model_list,
    decode_transcription,
    decode_verbose_transcription,
    encode,
    text_of,
)

# --------------------------------------------------------------------------- strategies from msgspec type info

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_FLOAT = st.floats(allow_nan=False, allow_infinity=False)
_TEXT = st.text(max_size=12)
_JSON = st.recursive(
    st.none() | st.booleans() | _INT64 | _FLOAT | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)


def _strategy(info: msgspec.inspect.Type) -> st.SearchStrategy[Any]:
    """A hypothesis strategy for any msgspec type, filling optional Struct fields sometimes."""
    mi = msgspec.inspect
    if isinstance(info, mi.NoneType):
        return st.none()
    if isinstance(info, mi.BoolType):
        return st.booleans()
    if isinstance(info, mi.IntType):
        return _INT64
    if isinstance(info, mi.FloatType):
        return _FLOAT
    if isinstance(info, mi.StrType):
        return _TEXT
    if isinstance(info, mi.LiteralType):
        return st.sampled_from(info.values)
    if isinstance(info, mi.AnyType):
        return _JSON
    if isinstance(info, mi.ListType):
        return st.lists(_strategy(info.item_type), max_size=3)
    if isinstance(info, mi.DictType):
        return st.dictionaries(_strategy(info.key_type), _strategy(info.value_type), max_size=3)
    if isinstance(info, mi.UnionType):
        return st.one_of([_strategy(t) for t in info.types])
    if isinstance(info, mi.StructType):
        required = {f.name: _strategy(f.type) for f in info.fields if f.required}
        optional = {f.name: _strategy(f.type) for f in info.fields if not f.required}
        cls = info.cls
        return st.fixed_dictionaries(required, optional=optional).map(lambda kw: cls(**kw))
    raise AssertionError(f"no strategy for {info!r}")


def structs_of(cls: type) -> st.SearchStrategy[Any]:
    """Instances of a wire Struct with arbitrary (JSON-representable) field values."""
    return _strategy(msgspec.inspect.type_info(cls))


_ALL_STRUCTS = sorted(
    (
        obj
        for name in wire.__all__
        if isinstance(obj := getattr(wire, name), type) and issubclass(obj, msgspec.Struct)
    ),
    key=lambda cls: cls.__name__,
)

_DECODERS = {
    ChatRequest: decode_chat_request,
    ChatResponse: decode_chat_response,
    ChatChunk: decode_chat_chunk,
    Model: decode_model,
    ModelList: decode_model_list,
    ErrorBody: decode_error_body,
    Transcription: decode_transcription,
    VerboseTranscription: decode_verbose_transcription,
}


class TestRoundTrip:
    def test_every_public_struct_is_covered(self) -> None:
        """The round-trip table covers every wire Struct, including the key request and response types."""
        names = {cls.__name__ for cls in _ALL_STRUCTS}
        assert {"ChatRequest", "ChatResponse", "ChatChunk", "VerboseTranscription", "ModelList", "ErrorBody"} <= names

    @pytest.mark.parametrize("cls", _ALL_STRUCTS, ids=lambda cls: cls.__name__)
    @settings(max_examples=40, deadline=None)
    @given(data=st.data())
    def test_encode_then_decode_is_identity(self, cls: type, data: st.DataObject) -> None:
        """Encoding any instance and decoding it as the same type gives back an equal value."""
        value = data.draw(structs_of(cls))
        decode = _DECODERS.get(cls) or msgspec.json.Decoder(cls).decode
        assert decode(encode(value)) == value

    @settings(max_examples=60, deadline=None)
    @given(request=structs_of(ChatRequest))
    def test_chat_request_from_accepts_its_own_builtins(self, request: ChatRequest) -> None:
        """A request written as plain dicts and lists (as SDK users write it) converts to an equal request."""
        assert chat_request_from(msgspec.to_builtins(request)) == request


# --------------------------------------------------------------------------- encoding rules


class TestEncoding:
    def test_unset_fields_are_omitted(self) -> None:
        """A minimal request encodes only model and messages, so Groq's defaults apply."""
        request = ChatRequest(model="m", messages=[UserMessage(content="hi")])
        assert encode(request) == b'{"model":"m","messages":[{"role":"user","content":"hi"}]}'

    def test_tool_and_tool_call_types_are_always_encoded(self) -> None:
        """``type: function`` is on the wire even though it is the only value, because Groq requires it."""
        request = ChatRequest(
            model="m",
            messages=[
                AssistantMessage(tool_calls=[ToolCall(id="c1", function=FunctionCall(name="f", arguments="{}"))]),
            ],
            tools=[Tool(function=FunctionDefinition(name="f"))],
            tool_choice=ToolChoiceFunction(function=ToolChoiceName(name="f")),
        )
        body = msgspec.json.decode(encode(request))
        assert (body["tools"][0]["type"], body["messages"][0]["tool_calls"][0]["type"], body["tool_choice"]["type"]) == (
            "function",
            "function",
            "function",
        )

    def test_response_object_and_role_are_always_encoded(self) -> None:
        """Responses carry ``object`` and the message ``role`` as OpenAI-style clients expect."""
        response = decode_chat_response(_CHAT_RESPONSE)
        body = msgspec.json.decode(encode(response))
        assert (body["object"], body["choices"][0]["message"]["role"]) == ("chat.completion", "assistant")

    def test_usage_always_encodes_its_counts(self) -> None:
        """Usage encodes zero counts too, since OpenAI-style clients require all three."""
        assert msgspec.json.decode(encode(Usage()))["completion_tokens"] == 0

    def test_tags_are_readable_attributes(self) -> None:
        """Tagged Structs expose their discriminator as an attribute of the same name."""
        tags = (
            DeveloperMessage(content="x").role,
            ToolMessage(content="x", tool_call_id="c").role,
            ImageUrlPart(image_url=ImageUrl(url="https://h/i.png")).type,
            BrowserSearchTool().type,
            ModelList(data=[]).object,
            wire.ResponseMessage().role,
        )
        assert tags == ("developer", "tool", "image_url", "browser_search", "list", "assistant")

    def test_developer_message_is_a_system_message(self) -> None:
        """A ``developer`` message is treated as a system message everywhere."""
        assert isinstance(chat_request_from({"model": "m", "messages": [{"role": "developer", "content": "x"}]}).messages[0], SystemMessage)

    def test_completion_budget_prefers_max_completion_tokens(self) -> None:
        """The completion budget is max_completion_tokens, falling back to max_tokens."""
        messages = [UserMessage(content="hi")]
        budgets = (
            ChatRequest(model="m", messages=messages, max_tokens=7).completion_budget,
            ChatRequest(model="m", messages=messages, max_tokens=7, max_completion_tokens=9).completion_budget,
            ChatRequest(model="m", messages=messages).completion_budget,
        )
        assert budgets == (7, 9, None)

    def test_text_of_joins_text_parts_and_skips_images(self) -> None:
        """text_of reads a string as is and joins text parts, ignoring images."""
        parts = [TextPart(text="a"), ImageUrlPart(image_url=ImageUrl(url="https://h/i.png")), TextPart(text="b")]
        assert (text_of("x"), text_of(parts), text_of(None)) == ("x", "a\nb", "")


# --------------------------------------------------------------------------- real captured bodies (GROQ-API.md)

_CHAT_RESPONSE = b"""{"id":"chatcmpl-f51b2cd2-bef7-417e-964e-a08f0b513c22","object":"chat.completion","created":1730241104,
 "model":"llama3-8b-8192",
 "choices":[{"index":0,"message":{"role":"assistant","content":"..."},"logprobs":null,"finish_reason":"stop"}],
 "usage":{"queue_time":0.037493756,"prompt_tokens":18,"prompt_time":0.000680594,"completion_tokens":556,
          "completion_time":0.463333333,"total_tokens":574,"total_time":0.464013927},
 "system_fingerprint":"fp_179b0f92c9","x_groq":{"id":"req_01jbd6g2qdfw2adyrt2az8hz4w"}}"""

_CHUNK_CONTENT = (
    b'{"id":"chatcmpl-814de58f-...","object":"chat.completion.chunk","created":1711681319,"model":"mixtral-8x7b-32768",'
    b' "system_fingerprint":"fp_1cc6d039b0","choices":[{"index":0,"delta":{"content":" soft"},"logprobs":null,"finish_reason":null}]}'
)
_CHUNK_FINAL = (
    b'{"id":"chatcmpl-814de58f-...","object":"chat.completion.chunk","created":1711681319,"model":"mixtral-8x7b-32768",'
    b' "system_fingerprint":"fp_1cc6d039b0","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],'
    b' "x_groq":{"id":"req_01ht42gbv3ev59x93kqrkbstnr","usage":{"queue_time":0.060529005,"prompt_tokens":12,"prompt_time":0.005,'
    b' "completion_tokens":164,"completion_time":0.289,"total_tokens":176,"total_time":0.294}}}'
)
_CHUNK_FIRST = (
    b'{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"openai/gpt-oss-120b",'
    b'"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],'
    b'"x_groq":{"id":"req_01","seed":1414499071}}'
)
_CHUNK_TOOL_FRAGMENTS = (
    b'{"id":"chatcmpl-2","object":"chat.completion.chunk","created":1,"model":"openai/gpt-oss-120b",'
    b'"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function",'
    b'"function":{"name":"get_weather","arguments":""}},{"index":1,"function":{"arguments":"{\\"city\\""}}]},'
    b'"logprobs":null,"finish_reason":null}]}'
)
_CHUNK_INCLUDE_USAGE = (
    b'{"id":"chatcmpl-3","object":"chat.completion.chunk","created":1,"model":"m","choices":[],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}'
)
_CHUNK_WITH_UNKNOWN_FIELDS = (
    b'{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","service_tier":"on_demand",'
    b'"choices":[{"index":0,"delta":{"content":"x","executed_tools":[{"type":"search"}],"annotations":[]},'
    b'"finish_reason":null}],"x_groq":{"id":"req_x","debug":{"input_token_ids":[1,2]},"usage_breakdown":{"models":[]}}}'
)

_ERROR_BODIES = {
    "401": b'{"error":{"message":"Invalid API Key","type":"invalid_request_error","code":"invalid_api_key"}}',
    "404": b'{"error":{"message":"The model `llama-3.1-405b-reasoning` does not exist or you do not have access to it.",'
    b'"type":"invalid_request_error","code":"model_not_found"}}',
    "400-context": b'{"error":{"message":"Please reduce the length of the messages or completion.",'
    b'"type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}',
    "400-json": b'{"error":{"message":"Failed to generate JSON. Please adjust your prompt. See \'failed_generation\' for more details.",'
    b'"type":"invalid_request_error","code":"json_validate_failed","failed_generation":"```json\\n{..."}}',
    "400-tools": b'{"error":{"message":"Failed to call a function. Please adjust your prompt. See \'failed_generation\' for more details.",'
    b'"type":"invalid_request_error","code":"tool_use_failed",'
    b'"failed_generation":"<function=brave_search>{\\"query\\": \\"Hello!\\"}</function>"}}',
    "413": b'{"error":{"message":"Request too large for model `openai/gpt-oss-20b` in organization `org_xxx` service tier '
    b"`on_demand` on tokens per minute (TPM): Limit 6000, Requested 12328, please reduce your message size and try again. "
    b'Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing","type":"tokens",'
    b'"code":"rate_limit_exceeded"}}',
    "429": b'{"error":{"message":"Rate limit reached for model `gemma2-9b-it` in organization `org_...` service tier `on_demand` '
    b"on tokens per minute (TPM): Limit 15000, Used 11972, Requested 4351. Please try again in 5.289s. Visit "
    b'https://console.groq.com/docs/rate-limits for more information.","type":"tokens","code":"rate_limit_exceeded"}}',
    "in-stream": b'{"error":{"message":"Failed to call a function. Please adjust your prompt. See \'failed_generation\' for more '
    b'details.","type":"invalid_request_error","code":"tool_use_failed","failed_generation":"...","status_code":400}}',
    "tool-missing": b'{"error":{"message":"requested tool does not exist","type":"invalid_request_error"}}',
}

_MODEL_LIST = (
    b'{"object":"list","data":[{"id":"openai/gpt-oss-120b","object":"model","created":1733447754,"owned_by":"Meta",'
    b'"active":true,"context_window":131072,"public_apps":null,"max_completion_tokens":32768},'
    b'{"id":"whisper-large-v3","object":"model","created":1693721698,"owned_by":"OpenAI","active":true,'
    b'"context_window":448,"public_apps":["chat"]}]}'
)


class TestCapturedBodies:
    def test_chat_response(self) -> None:
        """The API reference's chat completion decodes with content, usage timings and x_groq id."""
        r = decode_chat_response(_CHAT_RESPONSE)
        assert (r.choices[0].message.content, r.choices[0].finish_reason, r.usage, r.x_groq.id if r.x_groq else None) == (
            "...",
            "stop",
            Usage(
                prompt_tokens=18,
                completion_tokens=556,
                total_tokens=574,
                queue_time=0.037493756,
                prompt_time=0.000680594,
                completion_time=0.463333333,
                total_time=0.464013927,
            ),
            "req_01jbd6g2qdfw2adyrt2az8hz4w",
        )

    def test_content_chunk(self) -> None:
        """A mid-stream chunk carries its content delta and no finish reason."""
        c = decode_chat_chunk(_CHUNK_CONTENT)
        assert (c.choices[0].delta.content, c.choices[0].finish_reason, c.x_groq) == (" soft", None, None)

    def test_final_chunk_usage_is_in_x_groq(self) -> None:
        """The last chunk of a Groq stream has the finish reason and usage inside x_groq."""
        c = decode_chat_chunk(_CHUNK_FINAL)
        assert c.x_groq is not None and c.x_groq.usage is not None
        assert (c.choices[0].finish_reason, c.x_groq.usage.total_tokens, c.x_groq.usage.queue_time) == ("stop", 176, 0.060529005)

    def test_first_chunk_has_role_and_seed(self) -> None:
        """The first chunk carries the assistant role and x_groq id and seed."""
        c = decode_chat_chunk(_CHUNK_FIRST)
        assert (c.choices[0].delta.role, c.x_groq) == ("assistant", wire.XGroq(id="req_01", seed=1414499071))

    def test_streamed_tool_call_fragments(self) -> None:
        """Streamed tool-call fragments keep their index, id, name and partial arguments."""
        calls = decode_chat_chunk(_CHUNK_TOOL_FRAGMENTS).choices[0].delta.tool_calls
        assert calls is not None
        assert [(t.index, t.id, t.function.name if t.function else None, t.function.arguments if t.function else None) for t in calls] == [
            (0, "call_1", "get_weather", ""),
            (1, None, None, '{"city"'),
        ]

    def test_include_usage_chunk(self) -> None:
        """The include_usage chunk has no choices and a top-level usage."""
        c = decode_chat_chunk(_CHUNK_INCLUDE_USAGE)
        assert (c.choices, c.usage) == ([], Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7))

    def test_unknown_fields_are_ignored(self) -> None:
        """Vendor fields the model does not declare (x_groq.debug, chunk service_tier) never break decoding, and the
        compound fields it does declare (executed_tools, annotations, usage_breakdown) decode even when partial."""
        c = decode_chat_chunk(_CHUNK_WITH_UNKNOWN_FIELDS)
        assert (c.choices[0].delta.content, c.x_groq.id if c.x_groq else None) == ("x", "req_x")
        delta = c.choices[0].delta
        assert delta.executed_tools is not None and (delta.executed_tools[0].type, delta.annotations) == ("search", [])
        assert c.x_groq is not None and c.x_groq.usage_breakdown == wire.UsageBreakdown(models=[])

    @pytest.mark.parametrize("name", sorted(_ERROR_BODIES))
    def test_error_bodies(self, name: str) -> None:
        """Every captured Groq error body decodes, with its code and failed generation when present."""
        body = decode_error_body(_ERROR_BODIES[name])
        raw = msgspec.json.decode(_ERROR_BODIES[name])["error"]
        assert (body.error.message, body.error.code, body.error.failed_generation, body.error.param) == (
            raw["message"],
            raw.get("code"),
            raw.get("failed_generation"),
            raw.get("param"),
        )

    def test_model_list(self) -> None:
        """The /models list decodes, including null and list public_apps and a missing max_completion_tokens."""
        models = decode_model_list(_MODEL_LIST).data
        assert [(m.id, m.context_window, m.max_completion_tokens, m.public_apps) for m in models] == [
            ("openai/gpt-oss-120b", 131072, 32768, None),
            ("whisper-large-v3", 448, None, ["chat"]),
        ]

    def test_single_model_with_few_fields(self) -> None:
        """GET /models/{id} may return only id, object, created and owned_by."""
        m = decode_model(b'{"id":"openai/gpt-oss-20b","object":"model","created":1693721698,"owned_by":"Meta"}')
        assert (m.id, m.context_window, m.active) == ("openai/gpt-oss-20b", None, None)

    def test_spec_tool_call_response(self) -> None:
        """The spec's tool-call response decodes into a ToolCall with JSON arguments and null content."""
        body = (
            b'{"id":"chatcmpl-abc123","object":"chat.completion","created":1705312345,"model":"openai/gpt-oss-120b",'
            b'"choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123",'
            b'"type":"function","function":{"name":"get_weather","arguments":"{\\"location\\": \\"San Francisco\\"}"}}]},'
            b'"finish_reason":"tool_calls","logprobs":null}],"usage":{"prompt_tokens":50,"completion_tokens":25,"total_tokens":75}}'
        )
        message = decode_chat_response(body).choices[0].message
        assert (message.content, message.tool_calls) == (
            None,
            [ToolCall(id="call_abc123", function=FunctionCall(name="get_weather", arguments='{"location": "San Francisco"}'))],
        )

    def test_spec_x_groq_usage_with_timings_only(self) -> None:
        """An x_groq.usage holding only timings decodes with zero counts."""
        body = b'{"id":"req_abc123","usage":{"queue_time":0.0001,"prompt_time":0.001,"completion_time":0.008,"total_time":0.009}}'
        usage = msgspec.json.decode(body, type=wire.XGroq).usage
        assert usage == Usage(queue_time=0.0001, prompt_time=0.001, completion_time=0.008, total_time=0.009)

    def test_transcription_json(self) -> None:
        """A json transcription is text plus x_groq id."""
        t = decode_transcription(b'{"text":"Hello.","x_groq":{"id":"req_unique_id"}}')
        assert (t.text, t.x_groq) == ("Hello.", wire.XGroq(id="req_unique_id"))

    def test_verbose_transcription(self) -> None:
        """A verbose_json transcription has language, duration, segments and words."""
        body = (
            b'{"task":"transcribe","language":"english","duration":10.5,"text":"Hello, this is a test.",'
            b'"words":[{"word":"Hello","start":0.0,"end":0.5}],"segments":[{"id":0,"seek":0,"start":0.0,"end":2.5,'
            b'"text":"Hello, this is a test.","tokens":[50364,2425],"temperature":0.0,"avg_logprob":-0.25,'
            b'"compression_ratio":1.2,"no_speech_prob":0.01}],"x_groq":{"id":"req_1"}}'
        )
        t = decode_verbose_transcription(body)
        assert (t.language, t.duration, t.words, t.segments[0].tokens if t.segments else None) == (
            "english",
            10.5,
            [wire.Word(word="Hello", start=0.0, end=0.5)],
            [50364, 2425],
        )

    def test_sdk_request_body(self) -> None:
        """A body as the official SDK sends it decodes into typed messages, tools and formats."""
        body = (
            b'{"messages":[{"role":"system","content":"Answer in JSON."},{"role":"user","content":[{"type":"text","text":"hi"},'
            b'{"type":"image_url","image_url":{"url":"https://h/i.png","detail":"low"}}]}],"model":"m","stream":true,'
            b'"stream_options":{"include_usage":true},"response_format":{"type":"json_schema","json_schema":{"name":"a",'
            b'"schema":{"type":"object"},"strict":true}},"tool_choice":"auto","tools":[{"type":"function","function":'
            b'{"name":"f","parameters":{"type":"object"}}},{"type":"code_interpreter"}],"service_tier":"flex"}'
        )
        r = decode_chat_request(body)
        assert (r.messages[1].content[1], r.response_format, r.tools[1].type, r.stream_options.include_usage if r.stream_options else None) == (
            ImageUrlPart(image_url=ImageUrl(url="https://h/i.png", detail="low")),
            ResponseFormat(type="json_schema", json_schema=JsonSchemaFormat(name="a", schema={"type": "object"}, strict=True)),
            "code_interpreter",
            True,
        )


# --------------------------------------------------------------------------- chat_request_from


class TestChatRequestFrom:
    def test_sdk_style_dict(self) -> None:
        """What users write for the OpenAI/Groq SDK converts into typed Structs."""
        r = chat_request_from(
            {
                "model": "m",
                "messages": [{"role": "user", "content": "What's the weather? Answer in json."}],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                "tool_choice": {"type": "function", "function": {"name": "f"}},
                "response_format": {"type": "json_object"},
                "temperature": 1,
            }
        )
        assert (r.tools, r.tool_choice, r.response_format, r.temperature) == (
            [Tool(function=FunctionDefinition(name="f", parameters={"type": "object"}))],
            ToolChoiceFunction(function=ToolChoiceName(name="f")),
            ResponseFormat(type="json_object"),
            1.0,
        )

    def test_string_tool_choice(self) -> None:
        """A string tool_choice stays a string."""
        assert chat_request_from({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}).tool_choice == "required"

    def test_request_passes_through(self) -> None:
        """A ChatRequest is returned unchanged."""
        request = ChatRequest(model="m", messages=[UserMessage(content="hi")])
        assert chat_request_from(request) is request

    @pytest.mark.parametrize(
        ("body", "field", "rule", "value"),
        [
            ({"model": "m", "messages": [{"role": "user", "content": 3}]}, "messages[0].content", "type", 3),
            ({"model": "m", "messages": [], "temprature": 1}, "temprature", "unknown_field", 1),
            ({"messages": []}, "model", "required", None),
            ({"model": "m", "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role", "allowed_values", "bot"),
            ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id", "required", None),
            (
                {"model": "m", "messages": [], "tools": [{"type": "function", "function": {"name": 5}}]},
                "tools[0].function.name",
                "type",
                5,
            ),
            ({"model": "m", "messages": [], "seed": 1.5}, "seed", "type", 1.5),
            ({"model": "m", "messages": [], "temperature": "hot"}, "temperature", "type", "hot"),
            ({"model": "m", "messages": [], "tool_choice": "maybe"}, "tool_choice", "type", "maybe"),
            ({"model": "m", "messages": [], "logit_bias": {"a.b": "x"}}, "logit_bias[...]", "type", None),
            (
                {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 1}}]}]},
                "messages[0].content[0].image_url.url",
                "type",
                1,
            ),
        ],
        ids=["content-type", "unknown", "missing-model", "bad-role", "missing-tool-call-id", "tool-name", "seed", "temperature", "tool-choice", "dict-value", "image-url"],
    )
    def test_errors_name_the_field(self, body: dict[str, Any], field: str, rule: str, value: object) -> None:
        """A shape or type error becomes our ValidationError with the field path, rule and value."""
        with pytest.raises(ValidationError) as info:
            chat_request_from(body)
        assert (info.value.field, info.value.rule, info.value.value) == (field, rule, value)

    def test_error_message_truncates_long_values(self) -> None:
        """The error message quotes at most a short prefix of a huge value."""
        with pytest.raises(ValidationError) as info:
            chat_request_from({"model": "m", "messages": [], "user": ["A" * 100_000]})
        assert len(str(info.value)) < 600


def test_every_number_left_to_the_range_rules_is_a_ranged_field() -> None:
    """chat_request_from leaves a top-level NaN to the validator only for the fields it range-checks: ChatRequest's
    float fields, all of them (a new float field not in the set is walked, so NaN never reaches the encoder)."""
    import typing

    from orchestrator._wire import RANGED_NUMBERS

    floats = {name for name, hint in typing.get_type_hints(ChatRequest).items() if "float" in str(hint)}
    assert RANGED_NUMBERS == floats


@pytest.mark.parametrize("field", ["temperature", "top_p", "frequency_penalty", "presence_penalty"])
def test_a_nan_ranged_field_built_from_a_dict_is_refused_by_its_range_rule(field: str) -> None:
    """The dict walk skips these numbers and the validator (walked=True) does not walk again: the range rule
    still refuses NaN, naming the field."""
    from orchestrator._catalog import DEFAULT_CATALOG
    from orchestrator._validation import validate_chat_request

    request = chat_request_from({"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}],
                                 field: float("nan")})
    with pytest.raises(ValidationError) as info:
        validate_chat_request(request, DEFAULT_CATALOG, walked=True)
    assert info.value.field == field
