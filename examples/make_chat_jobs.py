"""Generate ``examples/chat-jobs.jsonl``: a thousand realistic, varied chat jobs in Groq batch format.

The mix is what a real batch looks like: one-shot questions, multi-turn conversations, tool calling (with and
without a finished tool round-trip), JSON mode (``json_object`` and ``json_schema``) and vision (an https image
URL and a small inline PNG data URL) across the current Groq models. Sampling parameters vary line to line.

Deterministic: the same seed writes byte-identical output, so the checked-in file can be regenerated and
diffed. Run from the repository root::

    python examples/make_chat_jobs.py                     # writes examples/chat-jobs.jsonl
    python examples/make_chat_jobs.py -n 10000 -o /tmp/big.jsonl --seed 7
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import struct
import sys
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# Groq's chat models as of 2026-12 (console.groq.com/docs/models); the retired ones are in
# orchestrator/_retired.py, and tests/test_examples_current.py fails if one comes back here.
# Qwen 3.6 27B has no published free-tier row yet, so the client starts it from conservative limits
# (100K tokens a day): it gets the vision jobs and a share of tool and JSON jobs, not the plain chat.
TEXT_MODELS = (
    "openai/gpt-oss-20b",
    "openai/gpt-oss-120b",
)
VISION_MODELS = ("qwen/qwen3.6-27b",)
TOOL_MODELS = (
    "openai/gpt-oss-20b",
    "openai/gpt-oss-120b",
    "qwen/qwen3.6-27b",
)
JSON_SCHEMA_MODELS = ("openai/gpt-oss-20b", "openai/gpt-oss-120b")

TOPICS = (
    "photosynthesis", "the French Revolution", "TCP congestion control", "compound interest", "black holes",
    "the Krebs cycle", "public-key cryptography", "the water cycle", "supply and demand", "plate tectonics",
    "binary search", "the Roman Republic", "vaccines", "inflation", "neural networks", "the printing press",
    "garbage collection", "climate feedback loops", "the immune system", "quantum entanglement",
    "sourdough fermentation", "the Silk Road", "RAID storage", "jazz improvisation", "coral reefs",
)
ASKS = (
    "Explain {topic} to a curious twelve-year-old in three short paragraphs.",
    "Give me five bullet points that summarise {topic}.",
    "What is a common misconception about {topic}, and what is the truth?",
    "Write a haiku about {topic}.",
    "Compare {topic} with something from everyday life, in under 100 words.",
    "List three good questions a student might ask about {topic}, with brief answers.",
    "Summarise {topic} in one sentence, then expand on it in one paragraph.",
)
SYSTEMS = (
    "You are a concise, friendly teacher.",
    "You are an expert technical writer. Prefer precise wording.",
    "You answer in plain English and avoid jargon.",
    "You are a helpful assistant.",
)
REVIEWS = (
    "The battery lasts two days and the screen is gorgeous, but the charger died after a week.",
    "Delivery was late and the box was crushed; the product itself works fine.",
    "Absolutely love it. Setup took five minutes and support answered within the hour.",
    "Overpriced for what it does. The app keeps logging me out.",
    "Solid build, quiet fan, but the manual is useless and the drivers are outdated.",
)
CITIES = ("Lisbon", "Nairobi", "Osaka", "Toronto", "Buenos Aires", "Oslo", "Hanoi", "Cape Town", "Denver", "Tbilisi")
IMAGE_URLS = (
    "https://upload.wikimedia.org/wikipedia/commons/f/f2/LPU-v1-die.jpg",
    "https://upload.wikimedia.org/wikipedia/commons/thumb/3/3a/Cat03.jpg/640px-Cat03.jpg",
    "https://upload.wikimedia.org/wikipedia/commons/thumb/a/a7/Camponotus_flavomarginatus_ant.jpg/640px-Camponotus_flavomarginatus_ant.jpg",
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Lisbon"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}
CURRENCY_TOOL = {
    "type": "function",
    "function": {
        "name": "convert_currency",
        "description": "Convert an amount between two ISO 4217 currencies at today's rate.",
        "parameters": {
            "type": "object",
            "properties": {
                "amount": {"type": "number", "minimum": 0},
                "from_currency": {"type": "string", "minLength": 3, "maxLength": 3},
                "to_currency": {"type": "string", "minLength": 3, "maxLength": 3},
            },
            "required": ["amount", "from_currency", "to_currency"],
        },
    },
}
SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search_docs",
        "description": "Search the product documentation and return the best matching passages.",
        "parameters": {
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "max_results": {"type": "integer", "minimum": 1, "maximum": 10},
            },
            "required": ["query"],
        },
    },
}
REVIEW_SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "negative", "mixed"]},
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "issues": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
    },
    "required": ["sentiment", "score", "issues"],
    "additionalProperties": False,
}


def tiny_png(rng: random.Random, size: int = 8) -> str:
    """A small deterministic RGB gradient PNG as a ``data:image/png;base64,...`` URL (a few hundred bytes)."""
    tint = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    rows = b"".join(
        b"\x00" + bytes(
            channel for x in range(size)
            for channel in ((tint[0] + 16 * x) % 256, (tint[1] + 16 * y) % 256, tint[2])
        )
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def sampling(rng: random.Random, model: str, *, structured: bool = False) -> dict[str, Any]:
    """Per-job sampling parameters, varied the way real callers vary them.

    Every current chat model reasons, and reasoning tokens come out of ``max_completion_tokens`` first,
    so tool calls and JSON (``structured``) get the headroom Groq's reasoning guide asks for: a small
    budget would be spent thinking and the call would fail with ``tool_use_failed`` /
    ``json_validate_failed``.
    """
    budgets = (512, 800, 1024) if structured else (64, 128, 200, 256, 400)
    params: dict[str, Any] = {"max_completion_tokens": rng.choice(budgets)}
    if rng.random() < 0.7:
        params["temperature"] = rng.choice((0.0, 0.2, 0.5, 0.7, 1.0))
    if rng.random() < 0.2:
        params["top_p"] = rng.choice((0.8, 0.9, 0.95))
    if rng.random() < 0.3:
        params["seed"] = rng.randrange(1, 10_000)
    if model.startswith("openai/gpt-oss") and rng.random() < 0.5:
        params["reasoning_effort"] = rng.choice(("low", "medium"))
    if model == "qwen/qwen3.6-27b" and rng.random() < 0.5:
        params["reasoning_format"] = rng.choice(("hidden", "parsed"))
    return params


def plain_chat(rng: random.Random) -> dict[str, Any]:
    """One question, sometimes with a system prompt."""
    model = rng.choice(TEXT_MODELS)
    messages: list[dict[str, Any]] = []
    if rng.random() < 0.5:
        messages.append({"role": "system", "content": rng.choice(SYSTEMS)})
    messages.append({"role": "user", "content": rng.choice(ASKS).format(topic=rng.choice(TOPICS))})
    body = {"model": model, "messages": messages, **sampling(rng, model)}
    if rng.random() < 0.1:
        body["stop"] = ["\n\n\n"]
    return body


def multi_turn(rng: random.Random) -> dict[str, Any]:
    """A short conversation: the model must answer the latest user turn in context."""
    model = rng.choice(TEXT_MODELS)
    topic, other = rng.sample(TOPICS, 2)
    messages = [
        {"role": "system", "content": rng.choice(SYSTEMS)},
        {"role": "user", "content": f"I'm studying {topic}. Where should I start?"},
        {"role": "assistant", "content": f"Start with the core idea of {topic}, then work through one concrete example."},
        {"role": "user", "content": f"Good. How does it relate to {other}?"},
    ]
    if rng.random() < 0.4:
        messages += [
            {"role": "assistant", "content": f"They share a few ideas; the clearest link is how each handles change over time."},
            {"role": "user", "content": "Give me one exercise to check my understanding."},
        ]
    return {"model": model, "messages": messages, **sampling(rng, model)}


def tool_use(rng: random.Random) -> dict[str, Any]:
    """Tool calling: either a fresh request that should produce a call, or a finished tool round-trip."""
    model = rng.choice(TOOL_MODELS)
    city = rng.choice(CITIES)
    tools = rng.sample([WEATHER_TOOL, CURRENCY_TOOL, SEARCH_TOOL], rng.randint(1, 3))
    names = [tool["function"]["name"] for tool in tools]
    asks = {
        "get_current_weather": f"What's the weather like in {city} right now? Use the tool.",
        "convert_currency": f"Call the converter: how much is {rng.randint(5, 500)} EUR in JPY today?",
        "search_docs": "Search the docs: how do I rotate my API key?",
    }
    first = names[0]
    messages: list[dict[str, Any]] = [{"role": "user", "content": asks[first]}]
    body: dict[str, Any] = {"model": model, "messages": messages, "tools": tools, **sampling(rng, model, structured=True)}
    if first == "get_current_weather" and rng.random() < 0.35:
        call_id = f"call_{rng.randrange(16**8):08x}"
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": call_id, "type": "function",
                 "function": {"name": first, "arguments": json.dumps({"city": city, "unit": "celsius"})}},
            ]},
            {"role": "tool", "tool_call_id": call_id,
             "content": json.dumps({"city": city, "temperature": rng.randint(-5, 35), "conditions": "clear"})},
        ]
        body["tool_choice"] = "auto"
    else:
        body["tool_choice"] = rng.choice(
            ("auto", "required", {"type": "function", "function": {"name": first}})
        )
        if len(tools) > 1 and rng.random() < 0.3:
            body["parallel_tool_calls"] = False
    return body


def json_mode(rng: random.Random) -> dict[str, Any]:
    """Structured output: ``json_object`` on any model, ``json_schema`` where Groq supports it."""
    review = rng.choice(REVIEWS)
    if rng.random() < 0.4:
        model = rng.choice(JSON_SCHEMA_MODELS)
        return {
            "model": model,
            "messages": [
                {"role": "system", "content": "Classify product reviews."},
                {"role": "user", "content": f"Review: {review}"},
            ],
            "response_format": {"type": "json_schema", "json_schema": {"name": "review", "schema": REVIEW_SCHEMA}},
            **sampling(rng, model, structured=True),
        }
    model = rng.choice(TEXT_MODELS[:2] + VISION_MODELS[:1])
    return {
        "model": model,
        "messages": [
            {"role": "system", "content": "Reply with a JSON object with keys sentiment, score (1-5) and issues (list)."},
            {"role": "user", "content": f"Review: {review}"},
        ],
        "response_format": {"type": "json_object"},
        **sampling(rng, model, structured=True),
    }


def vision(rng: random.Random) -> dict[str, Any]:
    """Image understanding on the vision model (Qwen 3.6 27B): an https URL or a small inline PNG."""
    model = rng.choice(VISION_MODELS)
    url = rng.choice(IMAGE_URLS) if rng.random() < 0.6 else tiny_png(rng)
    image: dict[str, Any] = {"url": url}
    if rng.random() < 0.3:
        image["detail"] = rng.choice(("low", "high", "auto"))
    question = rng.choice((
        "Describe this image in two sentences.",
        "What is the main subject of this picture?",
        "List the dominant colours in this image.",
        "Write a caption for this image suitable for a museum label.",
    ))
    return {
        "model": model,
        "messages": [{"role": "user", "content": [{"type": "text", "text": question},
                                                   {"type": "image_url", "image_url": image}]}],
        **sampling(rng, model),
    }


KINDS: tuple[tuple[str, float, Callable[[random.Random], dict[str, Any]]], ...] = (
    ("chat", 0.40, plain_chat),
    ("multi", 0.20, multi_turn),
    ("tools", 0.15, tool_use),
    ("json", 0.15, json_mode),
    ("vision", 0.10, vision),
)


def generate(count: int, seed: int) -> Iterator[dict[str, Any]]:
    """Yield ``count`` batch lines (custom_id, method, url, body), deterministically from ``seed``."""
    rng = random.Random(seed)
    names = [name for name, _, _ in KINDS]
    weights = [weight for _, weight, _ in KINDS]
    makers = {name: maker for name, _, maker in KINDS}
    for index in range(1, count + 1):
        kind = rng.choices(names, weights)[0]
        yield {
            "custom_id": f"{kind}-{index:05d}",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": makers[kind](rng),
        }


def main(argv: list[str] | None = None) -> int:
    """Write the job file; returns the process exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=1000, help="number of jobs (default 1000)")
    parser.add_argument("--seed", type=int, default=2025, help="random seed (default 2025)")
    parser.add_argument(
        "-o", "--output", type=Path, default=Path(__file__).with_name("chat-jobs.jsonl"),
        help="where to write (default examples/chat-jobs.jsonl; '-' for stdout)",
    )
    args = parser.parse_args(argv)
    if args.count < 1:
        parser.error(f"--count is {args.count}; it must be at least 1")
    lines = (json.dumps(job, separators=(",", ":"), ensure_ascii=False) + "\n" for job in generate(args.count, args.seed))
    if str(args.output) == "-":
        sys.stdout.writelines(lines)
    else:
        with open(args.output, "w", encoding="utf-8", newline="\n") as handle:
            handle.writelines(lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
