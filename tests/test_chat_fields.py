"""Every chat field the groq SDK types: the client accepts it, validates it as Groq does, and decodes compound replies.

One table row per rule (the field path and rule it must name), one per accepted shape, and a captured-shape
compound response (``executed_tools``, ``annotations``, ``usage_breakdown``, ``mcp_list_tools``,
``x_groq.usage``) decoded into the wire Structs.
"""

from __future__ import annotations

import typing
from typing import Any

import msgspec
import pytest

from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._errors import ValidationError
from orchestrator._validation import fallback_tier_list, validate_chat_request
from orchestrator._wire import (
    ChatRequest,
    CompoundCustom,
    CompoundTools,
    Document,
    DocumentJson,
    DocumentText,
    FunctionDefinition,
    SearchSettings,
    ToolChoiceName,
    WolframSettings,
    chat_request_from,
    decode_chat_chunk,
    decode_chat_response,
    encode,
    short_repr,
)

TEXT = "openai/gpt-oss-20b"  # tools, a reasoning model, no web search of its own
COMPOUND = "groq/compound"
MINI = "groq/compound-mini"
SMALL = "allam-2-7b"  # no tools


def chat(model: str = TEXT, **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hi"}], **fields}


def check(body: dict[str, Any]) -> None:
    validate_chat_request(chat_request_from(body), DEFAULT_CATALOG)


def refusal_of(body: dict[str, Any]) -> tuple[str | None, str | None]:
    with pytest.raises(ValidationError) as caught:
        check(body)
    return caught.value.field, caught.value.rule


def fn(name: str = "f", **extra: Any) -> dict[str, Any]:
    return {"name": name, **extra}


# --------------------------------------------------------------------------- the SDK's fields, all of them


def test_every_field_the_sdk_types_is_a_chat_request_field() -> None:
    """groq-python's CompletionCreateParams (installed SDK) has no field ChatRequest would refuse as unknown."""
    from groq.types.chat import completion_create_params

    sdk_fields = set(typing.get_type_hints(completion_create_params.CompletionCreateParams, include_extras=False))
    ours = set(ChatRequest.__struct_fields__)
    assert sdk_fields - ours == set()


VALID = [
    ("citation", chat(citation_options="enabled")),
    ("citation-off", chat(citation_options="disabled")),
    ("documents-text", chat(documents=[{"source": {"type": "text", "text": "Paris is in France."}, "id": "d1"}])),
    ("documents-json", chat(documents=[{"source": {"type": "json", "data": {"city": "Paris"}}}])),
    ("documents-ids", chat(documents=[{"source": {"type": "text", "text": "a"}, "id": "a"},
                                      {"source": {"type": "text", "text": "b"}, "id": "b"}])),
    ("search-compound", chat(COMPOUND, search_settings={"include_domains": ["*.edu", "arxiv.org"],
                                                        "exclude_domains": ["example.com"], "country": "germany",
                                                        "include_images": True})),
    ("search-mini", chat(MINI, search_settings={"exclude_domains": ["wikipedia.org"]})),
    ("search-browser-tool", chat(search_settings={"include_domains": ["docs.python.org"]},
                                 tools=[{"type": "browser_search"}])),
    ("deprecated-domains", chat(COMPOUND, include_domains=["en.wikipedia.org"], exclude_domains=["*.com"])),
    ("compound-custom", chat(COMPOUND, compound_custom={
        "models": {"answering_model": "openai/gpt-oss-120b", "reasoning_model": "openai/gpt-oss-20b"},
        "tools": {"enabled_tools": ["web_search", "code_interpreter", "visit_website"]}})),
    ("compound-wolfram", chat(COMPOUND, compound_custom={
        "tools": {"enabled_tools": ["wolfram_alpha"], "wolfram_settings": {"authorization": "wa-key"}}})),
    ("compound-browser", chat(MINI, compound_custom={"tools": {"enabled_tools": ["browser_automation", "web_search"]}})),
    ("compound-new-tool", chat(COMPOUND, compound_custom={"tools": {"enabled_tools": ["tomorrows_tool"]}})),
    ("functions", chat(functions=[fn("get_weather", parameters={"type": "object"})])),
    ("functions-call-auto", chat(functions=[fn()], function_call="auto")),
    ("functions-call-none", chat(functions=[fn()], function_call="none")),
    ("functions-call-named", chat(functions=[fn("a"), fn("b")], function_call={"name": "b"})),
    ("disable-tool-validation", chat(tools=[{"type": "function", "function": fn()}], tool_choice="required",
                                     disable_tool_validation=True)),
    ("service-tier-flex", chat(service_tier="flex")),
    ("service-tier-auto", chat(service_tier="auto")),
    ("service-tier-performance", chat(service_tier="performance")),
    ("service-tier-on-demand", chat(service_tier="on_demand")),
    ("metadata-store-user", chat(metadata={"team": "search"}, store=False, user="user-42")),
    ("logit-bias-logprobs", chat(logit_bias={"1234": -100}, logprobs=True, top_logprobs=2)),
    ("reasoning", chat(reasoning_effort="low", reasoning_format="parsed")),
    ("n-parallel", chat(n=1, tools=[{"type": "function", "function": fn()}], parallel_tool_calls=False)),
]


@pytest.mark.parametrize("body", [body for _, body in VALID], ids=[name for name, _ in VALID])
def test_valid_requests_pass(body: dict[str, Any]) -> None:
    check(body)


REFUSED = [
    ("citation-enum", chat(citation_options="sometimes"), "citation_options", "type"),
    ("documents-type", chat(documents={"text": "a"}), "documents", "type"),
    ("documents-source-type", chat(documents=[{"source": {"type": "pdf", "url": "x"}}]), "documents[0].source.type",
     "allowed_values"),
    ("documents-missing-source", chat(documents=[{"id": "a"}]), "documents[0].source", "required"),
    ("documents-duplicate-id", chat(documents=[{"source": {"type": "text", "text": "a"}, "id": "x"},
                                               {"source": {"type": "json", "data": {}}, "id": "x"}]),
     "documents[1].id", "document_id_unique"),
    ("documents-empty-id", chat(documents=[{"source": {"type": "text", "text": "a"}, "id": ""}]), "documents[0].id",
     "not_empty"),
    ("search-on-plain-model", chat(search_settings={"include_domains": ["a.com"]}), "search_settings", "compound_only"),
    ("include-domains-on-plain-model", chat(include_domains=["a.com"]), "include_domains", "compound_only"),
    ("exclude-domains-on-plain-model", chat(exclude_domains=["a.com"]), "exclude_domains", "compound_only"),
    ("domain-with-scheme", chat(COMPOUND, include_domains=["https://a.com"]), "include_domains[0]", "domain"),
    ("domain-with-path", chat(COMPOUND, search_settings={"exclude_domains": ["a.com", "b.com/x"]}),
     "search_settings.exclude_domains[1]", "domain"),
    ("domain-empty", chat(COMPOUND, exclude_domains=[""]), "exclude_domains[0]", "domain"),
    ("domain-not-string", chat(COMPOUND, include_domains=[5]), "include_domains[0]", "type"),
    ("search-unknown-key", chat(COMPOUND, search_settings={"countries": ["fr"]}), None, None),
    ("country-empty", chat(COMPOUND, search_settings={"country": " "}), "search_settings.country", "type"),
    ("custom-on-plain-model", chat(compound_custom={"tools": {"enabled_tools": ["web_search"]}}), "compound_custom",
     "compound_only"),
    ("wolfram-without-key", chat(COMPOUND, compound_custom={"tools": {"enabled_tools": ["wolfram_alpha"]}}),
     "compound_custom.tools.wolfram_settings.authorization", "wolfram_needs_authorization"),
    ("browser-without-search", chat(COMPOUND, compound_custom={"tools": {"enabled_tools": ["browser_automation"]}}),
     "compound_custom.tools.enabled_tools", "browser_automation_needs_web_search"),
    ("enabled-tools-type", chat(COMPOUND, compound_custom={"tools": {"enabled_tools": "web_search"}}),
     "compound_custom.tools.enabled_tools", "type"),
    ("answering-model-empty", chat(COMPOUND, compound_custom={"models": {"answering_model": ""}}),
     "compound_custom.models.answering_model", "not_empty"),
    ("functions-with-tools", chat(functions=[fn()], tools=[{"type": "function", "function": fn("g")}]), "functions",
     "functions_with_tools"),
    ("function-call-without-functions", chat(function_call="auto"), "function_call",
     "function_call_without_functions"),
    ("function-call-unknown", chat(functions=[fn("a")], function_call={"name": "b"}), "function_call.name",
     "function_call_unknown_function"),
    ("function-call-enum", chat(functions=[fn("a")], function_call="always"), "function_call", "type"),
    ("function-name", chat(functions=[fn("has space")]), "functions[0].name", "tool_name_pattern"),
    ("function-duplicate", chat(functions=[fn("a"), fn("a")]), "functions[1].name", "tool_name_unique"),
    ("function-schema", chat(functions=[fn("a", parameters={"type": "objekt"})]), "functions[0].parameters.type",
     "json_schema_invalid"),
    ("functions-too-many", chat(functions=[fn(f"f{i}") for i in range(129)]), "functions", "max_tools"),
    ("functions-model-lacks-tools", chat(SMALL, functions=[fn()]), "functions", "model_lacks_tools"),
    ("disable-validation-named", chat(tools=[{"type": "function", "function": fn()}],
                                      tool_choice={"type": "function", "function": {"name": "f"}},
                                      disable_tool_validation=True), "tool_choice",
     "disable_tool_validation_named_choice"),
    ("disable-validation-type", chat(disable_tool_validation="yes"), "disable_tool_validation", "type"),
    ("service-tier-enum", chat(service_tier="premium"), "service_tier", "allowed_values"),
    ("metadata-values", chat(metadata={"a": 1}), "metadata[...]", "type"),
    ("store-type", chat(store="no"), "store", "type"),
    ("user-type", chat(user=42), "user", "type"),
]


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [(body, field, rule) for _, body, field, rule in REFUSED],
    ids=[name for name, *_ in REFUSED],
)
def test_refusals_name_field_and_rule(body: dict[str, Any], field: str | None, rule: str | None) -> None:
    if field is None:  # search_settings' sub-keys are not forbidden: unknown ones are dropped, as Groq's SDK types allow
        check(body)
        assert "countries" not in encode(chat_request_from(body)).decode()
        return
    assert refusal_of(body) == (field, rule)


def test_refusal_message_quotes_the_value() -> None:
    """The message names the field, the (shortened) value and the rule."""
    with pytest.raises(ValidationError) as caught:
        check(chat(COMPOUND, include_domains=["https://a.com"]))
    message = str(caught.value)
    assert "include_domains[0]" in message and "'https://a.com'" in message and "[rule: domain]" in message


def test_an_unknown_model_is_not_refused_compound_fields() -> None:
    """A model the catalog does not know: Groq has the last word (no compound_only refusal)."""
    check(chat("vendor/new-model", search_settings={"include_domains": ["a.com"]}, compound_custom={}))


def test_the_wolfram_key_never_shows_in_a_repr() -> None:
    """compound_custom's Wolfram|Alpha key is a secret: error messages quote the struct without it."""
    request = chat_request_from(chat(COMPOUND, compound_custom={
        "tools": {"enabled_tools": ["web_search"], "wolfram_settings": {"authorization": "wa-secret-key"}}}))
    assert "wa-secret-key" not in repr(request.compound_custom) and "wa-secret-key" not in short_repr(request)
    assert b"wa-secret-key" in encode(request)  # it is still sent


class TestHandBuiltStructs:
    """A ChatRequest built by hand skips msgspec's type checks: the validator checks what it relies on."""

    @staticmethod
    def refused(**fields: Any) -> tuple[str | None, str | None]:
        from orchestrator._wire import UserMessage

        request = ChatRequest(model=fields.pop("model", TEXT), messages=[UserMessage(content="hi")], **fields)
        with pytest.raises(ValidationError) as caught:
            validate_chat_request(request, DEFAULT_CATALOG)
        return caught.value.field, caught.value.rule

    @pytest.mark.parametrize(
        ("fields", "field", "rule"),
        [
            ({"store": "no"}, "store", "type"),
            ({"disable_tool_validation": 1}, "disable_tool_validation", "type"),
            ({"user": 42}, "user", "type"),
            ({"metadata": {"a": 1}}, "metadata", "type"),
            ({"citation_options": "sometimes"}, "citation_options", "allowed_values"),
            ({"model": COMPOUND, "search_settings": {"include_domains": ["a.com"]}}, "search_settings", "type"),
            ({"model": COMPOUND, "compound_custom": {"tools": {}}}, "compound_custom", "type"),
            ({"documents": [{"source": {"type": "text", "text": "a"}}]}, "documents[0]", "type"),
            ({"documents": [Document(source=DocumentText(text=5))]}, "documents[0].source.text", "type"),  # type: ignore[arg-type]
            ({"functions": [{"name": "f"}]}, "functions[0]", "type"),
            ({"functions": [FunctionDefinition(name="f")], "function_call": {"name": "f"}}, "function_call",
             "allowed_values"),
            ({"model": COMPOUND, "include_domains": "a.com"}, "include_domains", "type"),
        ],
    )
    def test_wrong_types(self, fields: dict[str, Any], field: str, rule: str) -> None:
        assert self.refused(**fields) == (field, rule)


class TestWireShapes:
    def test_nested_fields_decode_into_structs(self) -> None:
        request = chat_request_from(chat(
            COMPOUND,
            search_settings={"include_domains": ["*.edu"], "include_images": False},
            documents=[{"source": {"type": "text", "text": "t"}, "id": "d"}, {"source": {"type": "json", "data": {"k": 1}}}],
            compound_custom={"tools": {"enabled_tools": ["web_search"], "wolfram_settings": {"authorization": "k"}}},
        ))
        assert request.search_settings == SearchSettings(include_domains=["*.edu"], include_images=False)
        assert request.documents == [Document(source=DocumentText(text="t"), id="d"),
                                     Document(source=DocumentJson(data={"k": 1}))]
        assert request.compound_custom == CompoundCustom(tools=CompoundTools(
            enabled_tools=["web_search"], wolfram_settings=WolframSettings(authorization="k")))

    def test_deprecated_functions_are_sent_as_given(self) -> None:
        """functions / function_call pass through unchanged: not rewritten into tools."""
        body = chat(functions=[fn("a", parameters={"type": "object"})], function_call={"name": "a"})
        request = chat_request_from(body)
        assert request.functions == [FunctionDefinition(name="a", parameters={"type": "object"})]
        assert request.function_call == ToolChoiceName(name="a") and request.tools is None
        sent = msgspec.json.decode(encode(request))
        assert (sent["functions"], sent["function_call"], "tools" in sent) == (body["functions"], {"name": "a"}, False)

    def test_unset_fields_stay_off_the_wire(self) -> None:
        assert msgspec.json.decode(encode(chat_request_from(chat()))) == chat()


# --------------------------------------------------------------------------- fallback_tiers (the client's option)


class TestFallbackTiers:
    @pytest.mark.parametrize(
        ("tiers", "asked", "expected"),
        [(None, "flex", []), ([], "flex", []), (["on_demand"], "flex", ["on_demand"]),
         (("on_demand", "performance"), "flex", ["on_demand", "performance"]), (["on_demand", "flex"], "auto",
                                                                               ["on_demand", "flex"])],
    )
    def test_accepted(self, tiers: Any, asked: str, expected: list[str]) -> None:
        assert fallback_tier_list(tiers, asked) == expected

    @pytest.mark.parametrize(
        ("tiers", "asked", "field", "rule"),
        [
            ("on_demand", "flex", "fallback_tiers", "type"),
            (["on_demand"], None, "fallback_tiers", "fallback_needs_flex"),
            (["on_demand"], "on_demand", "fallback_tiers", "fallback_needs_flex"),
            (["slow"], "flex", "fallback_tiers[0]", "allowed_values"),
            (["on_demand", 3], "flex", "fallback_tiers[1]", "allowed_values"),
            (["flex"], "flex", "fallback_tiers[0]", "fallback_tier_repeated"),
            (["on_demand", "on_demand"], "flex", "fallback_tiers[1]", "fallback_tier_repeated"),
        ],
    )
    def test_refused(self, tiers: Any, asked: Any, field: str, rule: str) -> None:
        with pytest.raises(ValidationError) as caught:
            fallback_tier_list(tiers, asked)
        assert (caught.value.field, caught.value.rule) == (field, rule)
        assert field in str(caught.value)


# --------------------------------------------------------------------------- compound responses decode

#: The shape of a groq/compound reply (fields and nesting of groq-python's ChatCompletion, chat_completion.py and
#: chat_completion_message.py), values invented.
COMPOUND_RESPONSE = b"""{
  "id": "chatcmpl-7f1c", "object": "chat.completion", "created": 1760000000, "model": "groq/compound",
  "choices": [{"index": 0, "finish_reason": "stop", "logprobs": null, "message": {
    "role": "assistant", "content": "Tokyo is sunny today [1].", "reasoning": "I searched the weather.",
    "executed_tools": [
      {"index": 0, "type": "search", "arguments": "{\\"query\\": \\"weather Tokyo\\"}", "output": "Title: ...",
       "search_results": {"results": [{"title": "Tokyo weather", "url": "https://weather.example/tokyo",
                                        "content": "Sunny, 24C", "score": 0.91}], "images": []}},
      {"index": 1, "type": "python", "arguments": "{\\"code\\": \\"print(1)\\"}", "output": "1",
       "code_results": [{"text": "1", "png": "iVBORw0KGgo=", "chart": {"type": "bar", "elements": []}}]},
      {"index": 2, "type": "visit", "arguments": "{}", "browser_results": [{"title": "Page", "url": "https://a.example",
                                                                          "content": "text", "live_view_url": null}],
       "future_field": {"nested": true}}
    ],
    "annotations": [
      {"type": "document_citation", "document_citation": {"document_id": "d1", "start_index": 0, "end_index": 5}},
      {"type": "function_citation", "function_citation": {"tool_call_id": "t0", "start_index": 6, "end_index": 9}}
    ]}}],
  "usage": {"queue_time": 0.01, "prompt_tokens": 100, "prompt_time": 0.002, "completion_tokens": 40,
            "completion_time": 0.1, "total_tokens": 140, "total_time": 0.102},
  "usage_breakdown": {"models": [
    {"model": "openai/gpt-oss-120b", "usage": {"prompt_tokens": 60, "completion_tokens": 30, "total_tokens": 90}},
    {"model": "meta-llama/llama-4-scout-17b-16e-instruct",
     "usage": {"prompt_tokens": 40, "completion_tokens": 10, "total_tokens": 50}}]},
  "mcp_list_tools": [{"id": "mcp_1", "server_label": "docs", "type": "mcp_list_tools",
                      "tools": [{"name": "search_docs", "description": "Search", "input_schema": {"type": "object"},
                                 "annotations": {"readOnly": true}}]}],
  "system_fingerprint": "fp_abc", "service_tier": "on_demand",
  "x_groq": {"id": "req_01abc", "seed": 7, "usage": {"dram_cached_tokens": 12, "sram_cached_tokens": 3},
             "debug": {"input_token_ids": [1]}}
}"""


class TestCompoundResponses:
    def test_compound_fields_decode(self) -> None:
        response = decode_chat_response(COMPOUND_RESPONSE)
        message = response.choices[0].message
        assert message.executed_tools is not None and len(message.executed_tools) == 3
        search, code, visit = message.executed_tools
        assert (search.index, search.type, search.arguments) == (0, "search", '{"query": "weather Tokyo"}')
        assert search.search_results is not None and search.search_results.results is not None
        hit = search.search_results.results[0]
        assert (hit.title, hit.url, hit.content, hit.score) == ("Tokyo weather", "https://weather.example/tokyo",
                                                                "Sunny, 24C", 0.91)
        assert code.code_results is not None and (code.code_results[0].text, code.code_results[0].chart) == (
            "1", {"type": "bar", "elements": []})
        assert visit.browser_results is not None and visit.browser_results[0].url == "https://a.example"
        assert message.annotations is not None
        first, second = message.annotations
        assert first.type == "document_citation" and first.document_citation is not None
        assert (first.document_citation.document_id, first.document_citation.end_index) == ("d1", 5)
        assert second.function_citation is not None and second.function_citation.tool_call_id == "t0"

    def test_usage_breakdown_mcp_and_x_groq_usage_decode(self) -> None:
        response = decode_chat_response(COMPOUND_RESPONSE)
        assert response.usage_breakdown is not None and response.usage_breakdown.models is not None
        models = [(m.model, m.usage.total_tokens if m.usage else None) for m in response.usage_breakdown.models]
        assert models == [("openai/gpt-oss-120b", 90), ("meta-llama/llama-4-scout-17b-16e-instruct", 50)]
        assert response.mcp_list_tools is not None
        server = response.mcp_list_tools[0]
        assert (server.server_label, server.tools[0].name if server.tools else None) == ("docs", "search_docs")
        assert response.x_groq is not None and response.x_groq.usage is not None
        assert (response.x_groq.usage.dram_cached_tokens, response.x_groq.usage.sram_cached_tokens) == (12, 3)
        assert response.service_tier == "on_demand"

    def test_a_partial_executed_tool_still_decodes(self) -> None:
        """Every sub-field is optional: a body with less (or more) than the SDK types decodes."""
        chunk = decode_chat_chunk(
            b'{"id":"c","object":"chat.completion.chunk","created":1,"model":"groq/compound-mini","choices":[{"index":0,'
            b'"delta":{"executed_tools":[{"type":"search","surprise":1}],"annotations":[{"type":"new_kind"}]}}],'
            b'"x_groq":{"id":"r","usage_breakdown":{"models":[{"model":"m","usage":{"total_tokens":3}}]}}}'
        )
        delta = chunk.choices[0].delta
        assert delta.executed_tools is not None and delta.executed_tools[0].type == "search"
        assert delta.annotations is not None and delta.annotations[0].type == "new_kind"
        assert chunk.x_groq is not None and chunk.x_groq.usage_breakdown is not None

    def test_a_deprecated_function_call_decodes(self) -> None:
        body = (b'{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
                b'"finish_reason":"function_call","message":{"role":"assistant","content":null,'
                b'"function_call":{"name":"f","arguments":"{}"}}}]}')
        message = decode_chat_response(body).choices[0].message
        assert message.function_call is not None and (message.function_call.name, message.function_call.arguments) == (
            "f", "{}")

    def test_the_sdk_reads_what_we_decode_the_same_way(self) -> None:
        """groq-python's own ChatCompletion parses the captured shape; our decode agrees on the compound fields."""
        from groq.types.chat import ChatCompletion

        theirs = ChatCompletion.model_validate_json(COMPOUND_RESPONSE)
        ours = decode_chat_response(COMPOUND_RESPONSE)
        their_tools = theirs.choices[0].message.executed_tools or []
        our_tools = ours.choices[0].message.executed_tools or []
        assert [(t.index, t.type, t.arguments) for t in their_tools] == [(t.index, t.type, t.arguments) for t in our_tools]
        assert theirs.usage_breakdown is not None and ours.usage_breakdown is not None
        assert [m.model for m in theirs.usage_breakdown.models] == [m.model for m in ours.usage_breakdown.models or []]
