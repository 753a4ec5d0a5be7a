"""The emulator takes every chat field the groq SDK types, judges it by its own rules, and answers compound requests
with ``executed_tools`` and ``usage_breakdown``, on both transports and through the official SDK."""

from __future__ import annotations

import json
from typing import Any

import groq
import pytest
from groq.types.chat import ChatCompletion, ChatCompletionChunk

from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._wire import chat_request_from, decode_chat_response
from orchestrator.emulator import EmulatorSettings
from orchestrator.emulator._rules import chat_refusal
from tests.emulator.conftest import MODEL, Harness, chat, open_harness

COMPOUND = "groq/compound"
MINI = "groq/compound-mini"
USER = [{"role": "user", "content": "What is the weather in Tokyo?"}]


def refused_on(model: str = MODEL, **fields: Any) -> tuple[int, str | None] | None:
    """(status, param) of the emulator's refusal of a request, None if it may run."""
    request = chat_request_from({"model": model, "messages": USER, **fields})
    refusal = chat_refusal(request, DEFAULT_CATALOG.get(model), 10)
    return None if refusal is None else (refusal.status, refusal.param)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == "invalid_request_error"
    return body["error"]


# --------------------------------------------------------------------------- the fields are accepted (no "unsupported")


@pytest.mark.parametrize(
    "fields",
    [
        {"model": COMPOUND, "include_domains": ["en.wikipedia.org"]},
        {"model": COMPOUND, "exclude_domains": ["*.com"]},
        {"functions": [{"name": "get_weather", "parameters": {"type": "object"}}]},
        {"functions": [{"name": "get_weather"}], "function_call": "auto"},
        {"documents": [{"source": {"type": "text", "text": "Tokyo is sunny."}, "id": "d1"}], "citation_options": "enabled"},
        {"model": COMPOUND, "search_settings": {"include_domains": ["*.jp"], "country": "japan", "include_images": True}},
        {"model": COMPOUND, "compound_custom": {"tools": {"enabled_tools": ["web_search", "code_interpreter"]}}},
        {"service_tier": "flex"},
        {"metadata": {"k": "v"}, "store": False, "user": "u1"},
    ],
    ids=["include_domains", "exclude_domains", "functions", "function_call", "documents", "search_settings",
         "compound_custom", "service_tier", "metadata-store-user"],
)
async def test_fields_once_refused_as_unsupported_are_served(harness: Harness, fields: dict[str, Any]) -> None:
    """Fields the emulator used to answer "property 'x' is unsupported" now get a completion."""
    body = {**chat("What is the weather in Tokyo?"), **fields}
    response = await harness.client.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    assert "unsupported" not in response.text


# --------------------------------------------------------------------------- the emulator's rules


class TestRules:
    def test_plain_requests_with_the_new_fields_may_run(self) -> None:
        assert refused_on(COMPOUND, search_settings={"exclude_domains": ["a.com"]}) is None
        assert refused_on(MODEL, search_settings={"include_domains": ["a.com"]}, tools=[{"type": "browser_search"}]) is None
        assert refused_on(MODEL, documents=[{"source": {"type": "json", "data": {"a": 1}}}]) is None
        assert refused_on(MINI, compound_custom={"tools": {"enabled_tools": ["browser_automation", "web_search"]}}) is None

    @pytest.mark.parametrize(
        ("model", "fields", "param"),
        [
            (MODEL, {"search_settings": {"include_domains": ["a.com"]}}, "search_settings"),
            (MODEL, {"include_domains": ["a.com"]}, "include_domains"),
            (MODEL, {"exclude_domains": ["a.com"]}, "exclude_domains"),
            (COMPOUND, {"include_domains": ["https://a.com"]}, "include_domains[0]"),
            (COMPOUND, {"search_settings": {"exclude_domains": ["a..com"]}}, "search_settings.exclude_domains[0]"),
            (MODEL, {"compound_custom": {}}, "compound_custom"),
            (COMPOUND, {"compound_custom": {"tools": {"enabled_tools": ["teleport"]}}},
             "compound_custom.tools.enabled_tools[0]"),
            (COMPOUND, {"compound_custom": {"tools": {"enabled_tools": ["wolfram_alpha"]}}},
             "compound_custom.tools.wolfram_settings"),
            (COMPOUND, {"compound_custom": {"tools": {"enabled_tools": ["browser_automation"]}}},
             "compound_custom.tools.enabled_tools"),
            (MODEL, {"functions": [{"name": "f"}], "tools": [{"type": "function", "function": {"name": "g"}}]},
             "functions"),
            (MODEL, {"function_call": "auto"}, "function_call"),
            (MODEL, {"functions": [{"name": "f"}], "function_call": {"name": "g"}}, "function_call.name"),
            (MODEL, {"functions": [{"name": "bad name"}]}, "functions[0].name"),
            (MODEL, {"functions": [{"name": "f"}, {"name": "f"}]}, "functions[1].name"),
            (MODEL, {"functions": [{"name": "f", "parameters": {"type": 5}}]}, "functions[0].parameters.type"),
            (COMPOUND, {"functions": [{"name": "f"}]}, "functions"),
            (MODEL, {"documents": [{"source": {"type": "text", "text": "a"}, "id": "x"},
                                   {"source": {"type": "text", "text": "b"}, "id": "x"}]}, "documents[1].id"),
            (MODEL, {"service_tier": "premium"}, "service_tier"),
        ],
    )
    def test_refusals(self, model: str, fields: dict[str, Any], param: str) -> None:
        assert refused_on(model, **fields) == (400, param)

    async def test_a_refusal_over_http_is_groqs_400(self, harness: Harness) -> None:
        response = await harness.client.post("/chat/completions", json=chat(include_domains=["a.com"]))
        error = error_of(response)
        assert (response.status_code, error["param"]) == (400, "include_domains")
        assert "`include_domains`" in error["message"] and "compound" in error["message"]

    async def test_a_wrong_type_names_the_field(self, harness: Harness) -> None:
        response = await harness.client.post("/chat/completions", json=chat(documents=[{"source": {"type": "pdf"}}]))
        assert (response.status_code, error_of(response)["param"]) == (400, "documents[0].source.type")


# --------------------------------------------------------------------------- compound replies


class TestCompoundReplies:
    async def test_a_search_run_and_usage_breakdown(self, harness: Harness) -> None:
        """groq/compound with search on: executed_tools holds a search whose hits honour the domain filters."""
        body = {"model": COMPOUND, "messages": USER,
                "search_settings": {"include_domains": ["*.jp", "weather.example"], "exclude_domains": ["weather.example"]}}
        response = await harness.client.post("/chat/completions", json=body)
        assert response.status_code == 200
        data = response.json()
        message = data["choices"][0]["message"]
        (run,) = message["executed_tools"]
        assert (run["index"], run["type"], json.loads(run["arguments"])) == (0, "search", {"query": USER[0]["content"]})
        urls = [hit["url"] for hit in run["search_results"]["results"]]
        assert urls and all(url.split("/")[2].endswith(".jp") for url in urls)
        breakdown = data["usage_breakdown"]["models"]
        assert [entry["model"] for entry in breakdown] == ["openai/gpt-oss-120b"]
        assert breakdown[0]["usage"]["completion_tokens"] == data["usage"]["completion_tokens"]
        typed = decode_chat_response(response.content)
        assert typed.choices[0].message.executed_tools is not None and typed.usage_breakdown is not None

    async def test_search_off_means_no_executed_tools(self, harness: Harness) -> None:
        body = {"model": MINI, "messages": USER, "compound_custom": {"tools": {"enabled_tools": ["code_interpreter"]}}}
        data = (await harness.client.post("/chat/completions", json=body)).json()
        assert "executed_tools" not in data["choices"][0]["message"] and data["usage_breakdown"] is not None

    async def test_custom_models_split_the_breakdown(self, harness: Harness) -> None:
        body = {"model": COMPOUND, "messages": USER, "compound_custom": {
            "models": {"reasoning_model": "openai/gpt-oss-20b", "answering_model": "openai/gpt-oss-120b"}}}
        data = (await harness.client.post("/chat/completions", json=body)).json()
        models = data["usage_breakdown"]["models"]
        assert [m["model"] for m in models] == ["openai/gpt-oss-20b", "openai/gpt-oss-120b"]
        assert sum(m["usage"]["completion_tokens"] for m in models) == data["usage"]["completion_tokens"]

    async def test_other_models_have_no_compound_fields(self, harness: Harness) -> None:
        data = (await harness.client.post("/chat/completions", json=chat())).json()
        assert data["usage_breakdown"] is None and "executed_tools" not in data["choices"][0]["message"]

    async def test_the_same_seed_gives_the_same_search(self, transport_kind: str) -> None:
        body = {"model": COMPOUND, "messages": USER}
        runs = []
        for _ in range(2):
            async with open_harness(transport_kind, EmulatorSettings(seed=5)) as opened:
                runs.append((await opened.client.post("/chat/completions", json=body)).json()["choices"][0]["message"])
        assert runs[0]["executed_tools"] == runs[1]["executed_tools"]


# --------------------------------------------------------------------------- the official SDK


class TestOfficialSdk:
    async def test_compound_reply_in_the_sdks_types(self, harness: Harness) -> None:
        async with harness.sdk() as client:
            completion = await client.chat.completions.create(
                model=COMPOUND,
                messages=USER,  # type: ignore[arg-type]
                search_settings={"include_domains": ["*.edu"], "country": "japan", "include_images": True},
                compound_custom={"tools": {"enabled_tools": ["web_search", "visit_website"]},
                                 "models": {"answering_model": "openai/gpt-oss-120b"}},
                citation_options="enabled",
                service_tier="on_demand",
            )
        assert isinstance(completion, ChatCompletion)
        tools = completion.choices[0].message.executed_tools
        assert tools is not None and tools[0].search_results is not None and tools[0].search_results.results
        assert all((hit.url or "").split("/")[2].endswith(".edu") for hit in tools[0].search_results.results)
        assert tools[0].search_results.images
        assert completion.usage_breakdown is not None and completion.usage_breakdown.models[0].model
        assert completion.service_tier == "on_demand"

    async def test_compound_stream_in_the_sdks_types(self, harness: Harness) -> None:
        async with harness.sdk() as client:
            stream = await client.chat.completions.create(model=MINI, messages=USER, stream=True)  # type: ignore[arg-type]
            chunks: list[ChatCompletionChunk] = [chunk async for chunk in stream]
        executed = [tool for chunk in chunks for choice in chunk.choices for tool in choice.delta.executed_tools or []]
        assert len(executed) == 1 and executed[0].type == "search"
        final = next(chunk for chunk in chunks if chunk.x_groq is not None and chunk.x_groq.usage is not None)
        assert final.x_groq is not None and final.x_groq.usage_breakdown is not None
        assert final.x_groq.usage_breakdown.models[0].usage.completion_tokens == final.x_groq.usage.completion_tokens  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        ("fields", "tier"),
        [({"service_tier": "flex"}, "flex"), ({"service_tier": "auto"}, "on_demand"), ({}, "on_demand"),
         ({"service_tier": "performance"}, "performance")],
    )
    async def test_service_tier_is_reported(self, harness: Harness, fields: dict[str, Any], tier: str) -> None:
        async with harness.sdk() as client:
            completion = await client.chat.completions.create(model=MODEL, messages=USER, **fields)  # type: ignore[arg-type]
        assert completion.service_tier == tier

    async def test_documents_metadata_and_friends(self, harness: Harness) -> None:
        async with harness.sdk() as client:
            completion = await client.chat.completions.create(
                model=MODEL,
                messages=USER,  # type: ignore[arg-type]
                documents=[{"source": {"type": "text", "text": "Tokyo: sunny."}, "id": "w"},
                           {"source": {"type": "json", "data": {"city": "Tokyo"}}}],
                citation_options="disabled",
                metadata={"team": "qa"},
                store=False,
                user="u-1",
                logit_bias={"50256": -100},
                n=1,
                disable_tool_validation=False,
                max_completion_tokens=200,
            )
        assert completion.choices[0].finish_reason in ("stop", "length")

    async def test_deprecated_functions_answer_with_function_call(self, harness: Harness) -> None:
        function = {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                                          "required": ["city"]}}
        async with harness.sdk() as client:
            completion = await client.chat.completions.create(
                model=MODEL, messages=USER, functions=[function], function_call={"name": "get_weather"},  # type: ignore[arg-type]
            )
        choice = completion.choices[0]
        assert choice.finish_reason == "function_call" and choice.message.tool_calls is None
        assert choice.message.function_call is not None and choice.message.function_call.name == "get_weather"
        assert isinstance(json.loads(choice.message.function_call.arguments)["city"], str)

    async def test_deprecated_functions_stream(self, harness: Harness) -> None:
        async with harness.sdk() as client:
            stream = await client.chat.completions.create(
                model=MODEL, messages=USER, functions=[{"name": "f", "parameters": {"type": "object"}}],  # type: ignore[list-item]
                function_call={"name": "f"}, stream=True,
            )
            chunks = [chunk async for chunk in stream]
        name = "".join(c.choices[0].delta.function_call.name or "" for c in chunks
                       if c.choices and c.choices[0].delta.function_call)
        arguments = "".join(c.choices[0].delta.function_call.arguments or "" for c in chunks
                            if c.choices and c.choices[0].delta.function_call)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert (name, isinstance(json.loads(arguments), dict), finish) == ("f", True, ["function_call"])

    async def test_the_sdk_sees_the_emulators_refusal(self, harness: Harness) -> None:
        async with harness.sdk() as client:
            with pytest.raises(groq.BadRequestError) as caught:
                await client.chat.completions.create(
                    model=MODEL, messages=USER, exclude_domains=["a.com"],  # type: ignore[arg-type]
                )
        assert caught.value.status_code == 400 and "exclude_domains" in str(caught.value)
