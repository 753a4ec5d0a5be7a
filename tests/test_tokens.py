"""Prompt token estimate: the documented rule, determinism, and monotonicity."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator._tokens import (
    IMAGE_TOKENS_HIGH,
    IMAGE_TOKENS_LOW,
    MESSAGE_OVERHEAD_TOKENS,
    estimate_message_tokens,
    estimate_prompt_tokens,
    estimate_text_tokens,
)
from orchestrator._wire import (
    AssistantMessage,
    ChatRequest,
    FunctionCall,
    FunctionDefinition,
    ImageUrl,
    ImageUrlPart,
    JsonSchemaFormat,
    ResponseFormat,
    SystemMessage,
    TextPart,
    Tool,
    ToolCall,
    ToolMessage,
    UserMessage,
    encode,
)


def _request(*messages: object, **fields: object) -> ChatRequest:
    return ChatRequest(model="m", messages=list(messages), **fields)  # type: ignore[arg-type]


class TestTextTokens:
    @pytest.mark.parametrize(
        ("text", "tokens"),
        [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("a" * 400, 100), ("héllo wörld", 3), ("日本語", 1)],
    )
    def test_ceil_of_characters_over_four(self, text: str, tokens: int) -> None:
        """Text costs ceil(code points / 4) tokens."""
        assert estimate_text_tokens(text) == tokens


class TestMessageTokens:
    def test_string_message(self) -> None:
        """A message costs the overhead plus its text."""
        assert estimate_message_tokens(UserMessage(content="a" * 10)) == MESSAGE_OVERHEAD_TOKENS + 3

    def test_name_counts(self) -> None:
        """A participant name adds its text cost."""
        assert estimate_message_tokens(SystemMessage(content="abcd", name="bob")) == MESSAGE_OVERHEAD_TOKENS + 1 + 1

    def test_text_parts_count_separately(self) -> None:
        """Each text part is rounded up on its own."""
        message = UserMessage(content=[TextPart(text="a"), TextPart(text="b")])
        assert estimate_message_tokens(message) == MESSAGE_OVERHEAD_TOKENS + 2

    @pytest.mark.parametrize(
        ("detail", "cost"), [("low", IMAGE_TOKENS_LOW), ("high", IMAGE_TOKENS_HIGH), ("auto", IMAGE_TOKENS_HIGH), (None, IMAGE_TOKENS_HIGH)]
    )
    def test_images_cost_a_fixed_amount(self, detail: str | None, cost: int) -> None:
        """An image costs 85 tokens at low detail and 765 otherwise, whatever its URL length."""
        part = ImageUrlPart(image_url=ImageUrl(url="data:image/png;base64," + "A" * 4000, detail=detail))  # type: ignore[arg-type]
        assert estimate_message_tokens(UserMessage(content=[part])) == MESSAGE_OVERHEAD_TOKENS + cost

    def test_assistant_tool_calls_and_reasoning_count(self) -> None:
        """Assistant history costs its reasoning and each call's name plus arguments."""
        message = AssistantMessage(
            reasoning="abcdefgh",
            tool_calls=[ToolCall(id="c1", function=FunctionCall(name="get", arguments='{"a":1}'))],
        )
        assert estimate_message_tokens(message) == MESSAGE_OVERHEAD_TOKENS + 2 + 3

    def test_tool_message(self) -> None:
        """A tool result costs like any other message."""
        assert estimate_message_tokens(ToolMessage(content="12345678", tool_call_id="c1")) == MESSAGE_OVERHEAD_TOKENS + 2


class TestPromptTokens:
    def test_sum_of_messages(self) -> None:
        """Without tools or schema, the prompt estimate is the sum of the messages."""
        messages = (SystemMessage(content="be brief"), UserMessage(content="hello there"))
        assert estimate_prompt_tokens(_request(*messages)) == sum(estimate_message_tokens(m) for m in messages)

    def test_tools_cost_their_json(self) -> None:
        """Tools add ceil(len(JSON)/4) of their encoded definitions."""
        tools = [Tool(function=FunctionDefinition(name="f", parameters={"type": "object", "properties": {"x": {"type": "string"}}}))]
        base = estimate_prompt_tokens(_request(UserMessage(content="hi")))
        assert estimate_prompt_tokens(_request(UserMessage(content="hi"), tools=tools)) == base + estimate_text_tokens(encode(tools).decode())

    def test_json_schema_costs_its_json(self) -> None:
        """A json_schema response format adds its schema's JSON size."""
        schema = {"type": "object", "properties": {"answer": {"type": "string"}}}
        fmt = ResponseFormat(type="json_schema", json_schema=JsonSchemaFormat(name="a", schema=schema))
        base = estimate_prompt_tokens(_request(UserMessage(content="hi")))
        assert estimate_prompt_tokens(_request(UserMessage(content="hi"), response_format=fmt)) == base + estimate_text_tokens(
            encode(schema).decode()
        )

    @given(texts=st.lists(st.text(max_size=200), min_size=1, max_size=8), extra=st.text(max_size=200))
    def test_adding_a_message_never_lowers_the_estimate(self, texts: list[str], extra: str) -> None:
        """Appending a message raises the estimate by at least the per-message overhead."""
        messages = [UserMessage(content=t) for t in texts]
        before = estimate_prompt_tokens(_request(*messages))
        after = estimate_prompt_tokens(_request(*messages, UserMessage(content=extra)))
        assert after - before >= MESSAGE_OVERHEAD_TOKENS

    @given(texts=st.lists(st.text(max_size=200), min_size=1, max_size=8))
    def test_deterministic(self, texts: list[str]) -> None:
        """Equal requests always get equal estimates."""
        first = _request(*[UserMessage(content=t) for t in texts])
        second = _request(*[UserMessage(content=t) for t in texts])
        assert estimate_prompt_tokens(first) == estimate_prompt_tokens(second)
