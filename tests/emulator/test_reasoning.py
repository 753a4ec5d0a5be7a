"""Reasoning models: reasoning_format / include_reasoning / reasoning_effort, Groq's 400s, tokens, streams, SDK."""

from __future__ import annotations

import json

import pytest

from orchestrator._wire import chat_request_from
from orchestrator.emulator import EmulatorSettings
from orchestrator.emulator._chat import ReasoningPlan, reasoning_efforts, reasoning_plan
from tests.emulator._models import PLAIN_MODEL, TEST_CATALOG, THINK_MODEL
from tests.emulator.conftest import MODEL, Harness

GPT_OSS = MODEL  # openai/gpt-oss-20b


@pytest.fixture
def settings() -> EmulatorSettings:
    """Every completion is 200 tokens long (unless cut), so reasoning shares are exact."""
    return EmulatorSettings(seed=1, catalog=TEST_CATALOG, completion_tokens=(200, 200))


def ask(model: str = GPT_OSS, content: str = "How do airplanes fly? Be concise.", **extra: object) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


async def complete(harness: Harness, body: dict[str, object]) -> dict[str, object]:
    response = await harness.client.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def refusal(harness: Harness, body: dict[str, object]) -> dict[str, object]:
    response = await harness.client.post("/chat/completions", json=body)
    assert response.status_code == 400, response.text
    return response.json()["error"]


async def stream_deltas(harness: Harness, body: dict[str, object]) -> tuple[list[dict[str, object]], dict[str, object]]:
    """The deltas of a streamed request (role chunk excluded) and the final x_groq.usage."""
    async with harness.client.stream("POST", "/chat/completions", json={**body, "stream": True}) as response:
        lines = [line async for line in response.aiter_lines() if line.startswith("data: {")]
    chunks = [json.loads(line[6:]) for line in lines]
    deltas = [c["choices"][0]["delta"] for c in chunks[1:] if c["choices"] and c["choices"][0]["delta"]]
    return deltas, chunks[-1]["x_groq"]["usage"]


def message_of(body: dict[str, object]) -> dict[str, object]:
    return body["choices"][0]["message"]  # type: ignore[index]


def reasoning_tokens(body: dict[str, object]) -> int:
    return body["usage"]["completion_tokens_details"]["reasoning_tokens"]  # type: ignore[index]


class TestGptOss:
    async def test_reasoning_field_by_default(self, harness: Harness) -> None:
        """GPT-OSS puts its reasoning in message.reasoning by default; reasoning tokens are completion tokens."""
        body = await complete(harness, ask())
        message = message_of(body)
        assert message["reasoning"] and message["content"] and "<think>" not in message["content"]
        assert (body["usage"]["completion_tokens"], reasoning_tokens(body)) == (200, 100)  # medium: half

    @pytest.mark.parametrize("extra", [{"include_reasoning": False}, {"reasoning_format": "hidden"}])
    async def test_hidden_reasoning_is_still_counted(self, harness: Harness, extra: dict[str, object]) -> None:
        """include_reasoning=false (or format hidden) drops the text, not the tokens; the answer is unchanged."""
        shown = await complete(harness, ask())
        hidden = await complete(harness, ask(**extra))
        assert "reasoning" not in message_of(hidden) and message_of(hidden)["content"] == message_of(shown)["content"]
        assert hidden["usage"]["completion_tokens"] == shown["usage"]["completion_tokens"]
        assert reasoning_tokens(hidden) == reasoning_tokens(shown)

    @pytest.mark.parametrize("extra", [{"include_reasoning": True}, {"reasoning_format": "parsed"}])
    async def test_explicitly_shown(self, harness: Harness, extra: dict[str, object]) -> None:
        """include_reasoning=true and format parsed are the default behaviour."""
        assert message_of(await complete(harness, ask(**extra)))["reasoning"] == message_of(await complete(harness, ask()))["reasoning"]

    async def test_more_effort_more_reasoning(self, harness: Harness) -> None:
        """low < medium < high reasoning tokens for the same request."""
        counts = [reasoning_tokens(await complete(harness, ask(reasoning_effort=e))) for e in ("low", "medium", "high")]
        assert counts == [50, 100, 150]

    async def test_raw_is_refused(self, harness: Harness) -> None:
        """GPT-OSS has no <think> tags: raw is a 400 on reasoning_format."""
        error = await refusal(harness, ask(reasoning_format="raw"))
        assert (error["type"], error["param"]) == ("invalid_request_error", "reasoning_format") and "`raw`" in error["message"]

    @pytest.mark.parametrize("effort", ["none", "default", "xhigh"])
    async def test_effort_vocabulary(self, harness: Harness, effort: str) -> None:
        """GPT-OSS accepts low, medium and high only, in Groq's words."""
        assert await refusal(harness, ask(reasoning_effort=effort)) == {
            "message": "`reasoning_effort` must be one of `low`, `medium`, or `high`",
            "type": "invalid_request_error",
        }

    async def test_budget_spent_on_reasoning_first(self, harness: Harness) -> None:
        """A budget smaller than the reasoning leaves no answer: all reasoning, finish_reason length."""
        body = await complete(harness, ask(max_completion_tokens=30))
        assert (body["usage"]["completion_tokens"], reasoning_tokens(body)) == (30, 30)
        assert (message_of(body)["content"], body["choices"][0]["finish_reason"]) == ("", "length")

    async def test_deterministic_under_the_seed(self, harness: Harness) -> None:
        """The same request reasons the same; another request seed reasons otherwise."""
        runs = [message_of(await complete(harness, ask(seed=s)))["reasoning"] for s in (7, 7, 8)]
        assert runs[0] == runs[1] != runs[2]

    async def test_json_mode_reasons_too(self, harness: Harness) -> None:
        """JSON mode keeps reasoning in its field; the content stays valid JSON; too small a budget fails."""
        body = await complete(harness, ask(content="json please", response_format={"type": "json_object"}))
        assert isinstance(json.loads(message_of(body)["content"]), dict) and message_of(body)["reasoning"]
        error = await refusal(harness, ask(content="json please", response_format={"type": "json_object"}, max_completion_tokens=100))
        assert error["code"] == "json_validate_failed"


class TestQwenStyle:
    async def test_raw_by_default(self, harness: Harness) -> None:
        """Without a format, the reasoning comes inside <think>...</think> ahead of the answer."""
        body = await complete(harness, ask(THINK_MODEL))
        content = message_of(body)["content"]
        assert content.startswith("<think>") and "</think>" in content and "reasoning" not in message_of(body)
        assert content.index("</think>") < len(content) - len("</think>") and reasoning_tokens(body) == 100

    async def test_parsed_and_hidden(self, harness: Harness) -> None:
        """parsed moves the same reasoning into its field; hidden returns only the answer."""
        raw = message_of(await complete(harness, ask(THINK_MODEL)))["content"]
        parsed = message_of(await complete(harness, ask(THINK_MODEL, reasoning_format="parsed")))
        hidden = message_of(await complete(harness, ask(THINK_MODEL, reasoning_format="hidden")))
        assert raw == f"<think>{parsed['reasoning']}</think>{parsed['content']}"
        assert hidden == {"role": "assistant", "content": parsed["content"]}

    async def test_effort_none_disables_reasoning(self, harness: Harness) -> None:
        """reasoning_effort=none: no reasoning tokens, no tags, the whole completion is the answer."""
        body = await complete(harness, ask(THINK_MODEL, reasoning_effort="none"))
        assert (reasoning_tokens(body), body["usage"]["completion_tokens"]) == (0, 200)
        assert "<think>" not in message_of(body)["content"]

    async def test_effort_vocabulary(self, harness: Harness) -> None:
        """Qwen accepts none and default only, in Groq's words."""
        assert (await refusal(harness, ask(THINK_MODEL, reasoning_effort="low")))["message"] == (
            "`reasoning_effort` must be one of `none` or `default`"
        )

    async def test_json_mode_defaults_to_parsed_and_refuses_raw(self, harness: Harness) -> None:
        """JSON mode cannot carry <think> tags: parsed by default, a 400 when raw is asked for."""
        json_mode = {"response_format": {"type": "json_object"}}
        body = await complete(harness, ask(THINK_MODEL, "json please", **json_mode))
        assert isinstance(json.loads(message_of(body)["content"]), dict) and message_of(body)["reasoning"]
        error = await refusal(harness, ask(THINK_MODEL, "json please", reasoning_format="raw", **json_mode))
        assert error["param"] == "reasoning_format" and "JSON mode or tool use" in error["message"]


class TestRefusals:
    async def test_format_and_include_are_exclusive(self, harness: Harness) -> None:
        """Both at once is Groq's 400, on any reasoning model."""
        for model in (GPT_OSS, THINK_MODEL):
            assert await refusal(harness, ask(model, reasoning_format="parsed", include_reasoning=True)) == {
                "message": "cannot specify both `include_reasoning` and `reasoning_format`",
                "type": "invalid_request_error",
            }

    @pytest.mark.parametrize(
        ("field", "value"), [("reasoning_format", "parsed"), ("reasoning_effort", "low"), ("include_reasoning", False)]
    )
    async def test_model_without_reasoning(self, harness: Harness, field: str, value: object) -> None:
        """A model that does not reason refuses each reasoning field, named in message and param."""
        assert await refusal(harness, ask(PLAIN_MODEL, **{field: value})) == {
            "message": f"`{field}` is not supported with this model",
            "type": "invalid_request_error",
            "param": field,
        }

    async def test_model_without_reasoning_reports_no_reasoning_tokens(self, harness: Harness) -> None:
        """No completion_tokens_details, no reasoning field, for a model that does not reason."""
        body = await complete(harness, ask(PLAIN_MODEL))
        assert "completion_tokens_details" not in body["usage"] and "reasoning" not in message_of(body)


class TestStreaming:
    async def test_reasoning_deltas_come_first(self, harness: Harness) -> None:
        """delta.reasoning chunks precede the content, and add up to the non-streamed reasoning and answer."""
        whole = message_of(await complete(harness, ask()))
        deltas, usage = await stream_deltas(harness, ask())
        kinds = [next(iter(d)) for d in deltas]
        assert kinds == ["reasoning"] * kinds.count("reasoning") + ["content"] * kinds.count("content")
        assert "".join(d.get("reasoning", "") for d in deltas) == whole["reasoning"]
        assert "".join(d.get("content", "") for d in deltas) == whole["content"]
        assert usage["completion_tokens_details"] == {"reasoning_tokens": 100}

    async def test_raw_streams_think_tags_in_content(self, harness: Harness) -> None:
        """A raw stream's content is the non-streamed content, tags included."""
        whole = message_of(await complete(harness, ask(THINK_MODEL)))["content"]
        deltas, _ = await stream_deltas(harness, ask(THINK_MODEL))
        assert all("reasoning" not in d for d in deltas) and "".join(d["content"] for d in deltas) == whole

    async def test_hidden_streams_only_the_answer(self, harness: Harness) -> None:
        """Hidden reasoning sends no reasoning chunks but still reports its tokens."""
        deltas, usage = await stream_deltas(harness, ask(include_reasoning=False))
        assert all(list(d) == ["content"] for d in deltas) and usage["completion_tokens_details"]["reasoning_tokens"] == 100


class TestSdk:
    async def test_sdk_reads_reasoning(self, harness: Harness) -> None:
        """The official SDK parses message.reasoning, reasoning_tokens, and streamed delta.reasoning."""
        async with harness.sdk() as sdk:
            completion = await sdk.chat.completions.create(
                model=GPT_OSS, messages=[{"role": "user", "content": "hi"}], reasoning_effort="high"
            )
            stream = await sdk.chat.completions.create(model=GPT_OSS, messages=[{"role": "user", "content": "hi"}], stream=True)
            chunks = [chunk async for chunk in stream]
        assert completion.choices[0].message.reasoning and completion.usage.completion_tokens_details.reasoning_tokens == 150
        assert any(c.choices and c.choices[0].delta.reasoning for c in chunks)
        assert chunks[-1].x_groq.usage.completion_tokens_details.reasoning_tokens == 100


class TestPlan:
    def test_efforts_per_family(self) -> None:
        """GPT-OSS low/medium/high; Qwen-style none/default, except Qwen 3.8 (the 2026 page's five values)."""
        assert reasoning_efforts("openai/gpt-oss-120b") == ("low", "medium", "high")
        assert reasoning_efforts(THINK_MODEL) == ("none", "default")
        assert reasoning_efforts("qwen/qwen3.8-27b") == ("none", "default", "low", "medium", "high")

    def test_plans(self) -> None:
        """Where the reasoning goes and its share, from the request."""
        gpt, think, plain = (TEST_CATALOG.get(m) for m in (GPT_OSS, THINK_MODEL, PLAIN_MODEL))

        def plan(info, **extra):  # type: ignore[no-untyped-def]
            return reasoning_plan(chat_request_from(ask(info.id, **extra)), info)

        assert plan(gpt) == ReasoningPlan(mode="parsed", share=0.5)
        assert plan(gpt, reasoning_effort="high", include_reasoning=False) == ReasoningPlan(mode="hidden", share=0.75)
        assert plan(think) == ReasoningPlan(mode="raw", share=0.5)
        assert plan(think, tools=[{"type": "function", "function": {"name": "f"}}]) == ReasoningPlan(mode="parsed", share=0.5)
        assert plan(think, reasoning_effort="none") == ReasoningPlan(mode="raw", share=0.0)
        assert plan(plain) is None
