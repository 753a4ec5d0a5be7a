"""A cheap, deterministic estimate of how many tokens a chat request's prompt will cost.

Why estimate at all: Groq charges ``prompt + max_completion_tokens`` against the
tokens-per-minute budget *before* a request runs, so the scheduler must know a job's
cost before sending it, and the validator must know whether it fits the model's
context window. A real tokenizer is model-specific, large, and slow; the budget only
needs to be roughly right, because the scheduler reconciles every estimate with the
``usage`` Groq reports afterwards.

The rule (the same everywhere, including the emulator, which counts ``usage.prompt_tokens``
with :func:`estimate_prompt_tokens` so client estimates and server usage agree):

* text costs ``ceil(characters / 4)`` tokens (the usual English average for BPE
  tokenizers; counted in Unicode code points, not bytes);
* each message adds a fixed overhead of 4 tokens (role and separators), plus its
  ``name``, and for assistant history its ``reasoning`` and each tool call's name and
  arguments;
* tool definitions cost ``ceil(len(JSON) / 4)`` of their encoded JSON, as does a
  ``json_schema`` response format's schema (Groq puts both in the prompt);
* each image costs a fixed 85 tokens with ``detail="low"`` and 765 otherwise (OpenAI's
  figures for a 512 px tile budget; images never cost their URL's length).

It is not a tokenizer: it over-counts code and under-counts some non-Latin scripts.
It is pure (no IO, no clock) and costs a few microseconds per message.
"""

from __future__ import annotations

from typing import Final

from orchestrator._wire import (
    AssistantMessage,
    ChatRequest,
    ImageUrlPart,
    Message,
    TextPart,
    encode,
)

__all__ = [
    "IMAGE_TOKENS_HIGH",
    "IMAGE_TOKENS_LOW",
    "MESSAGE_OVERHEAD_TOKENS",
    "estimate_message_tokens",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
]

#: Tokens added per message for the role and the separators around it.
MESSAGE_OVERHEAD_TOKENS: Final = 4
#: Cost of an image part with ``detail="low"``.
IMAGE_TOKENS_LOW: Final = 85
#: Cost of an image part with ``detail="high"``, ``"auto"`` or unset.
IMAGE_TOKENS_HIGH: Final = 765


def estimate_text_tokens(text: str) -> int:
    """Tokens for a piece of text: ``ceil(len(text) / 4)``; 0 for the empty string."""
    return (len(text) + 3) // 4


def estimate_message_tokens(message: Message) -> int:
    """Tokens one message adds to the prompt (overhead, text, images, name, tool calls, reasoning)."""
    total = MESSAGE_OVERHEAD_TOKENS
    content = message.content
    if isinstance(content, str):
        total += (len(content) + 3) // 4
    elif content is not None:
        for part in content:
            if isinstance(part, TextPart):
                total += (len(part.text) + 3) // 4
            elif isinstance(part, ImageUrlPart):
                total += IMAGE_TOKENS_LOW if part.image_url.detail == "low" else IMAGE_TOKENS_HIGH
    if message.name:
        total += (len(message.name) + 3) // 4
    if isinstance(message, AssistantMessage):
        if message.reasoning:
            total += (len(message.reasoning) + 3) // 4
        if message.tool_calls:
            for call in message.tool_calls:
                total += (len(call.function.name) + len(call.function.arguments) + 3) // 4
    return total


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """Estimated prompt tokens of a whole request: its messages, tools and JSON schema.

    Deterministic: the same request always gives the same number, on every machine,
    in the client and in the emulator. Add ``request.completion_budget`` for the cost
    Groq charges against TPM before the request runs.
    """
    total = 0
    for message in request.messages:
        total += estimate_message_tokens(message)
    if request.tools:
        total += (len(encode(request.tools)) + 3) // 4
    response_format = request.response_format
    if response_format is not None and response_format.json_schema is not None:
        total += (len(encode(response_format.json_schema.schema)) + 3) // 4
    return total
