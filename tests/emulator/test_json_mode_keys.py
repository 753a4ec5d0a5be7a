"""JSON mode follows the prompt: a ``json_object`` request that names keys gets an object with exactly those keys."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from orchestrator.emulator import EmulatorSettings
from orchestrator.emulator._fake_json import json_object_for, keys_named_in
from tests.emulator.conftest import MODEL, Harness, open_harness

JSON_MODE = {"type": "json_object"}


def body(*messages: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": list(messages), "response_format": JSON_MODE, "max_completion_tokens": 2000,
            **extra}


def user(text: str) -> dict[str, str]:
    return {"role": "user", "content": text}


async def answer(harness: Harness, payload: dict[str, Any]) -> dict[str, Any]:
    response = await harness.client.post("/chat/completions", json=payload)
    assert response.status_code == 200, response.text
    content = json.loads(response.json()["choices"][0]["message"]["content"])
    assert isinstance(content, dict)
    return content


@pytest.mark.parametrize(
    ("prompt", "keys"),
    [
        ("Reply in JSON with keys name and age.", ["name", "age"]),
        ("Give me a movie as JSON. fields: title, year", ["title", "year"]),
        ("return JSON with `name` and `age`", ["name", "age"]),
        ("Return a JSON object with keys name and age for a fictional person.", ["name", "age"]),
        ('Answer in json with the fields "first name", "last name" and email', ["first_name", "last_name", "email"]),
        ("json please: keys=city,population,is_capital", ["city", "population", "is_capital"]),
        ("Output JSON. The keys are id, title and tags", ["id", "title", "tags"]),
        ("Use the key `summary` in your JSON", ["summary"]),
    ],
)
async def test_named_keys_are_exactly_the_objects_keys(harness: Harness, prompt: str, keys: list[str]) -> None:
    content = await answer(harness, body(user(prompt)))
    assert list(content) == keys


async def test_values_are_plausible_for_their_names(harness: Harness) -> None:
    """Numbers for age, year and counts, strings for names and titles, a bool for is_ flags, a list for tags."""
    prompt = "Describe a book as JSON with keys title, author, year, page_count, price, is_available, tags, age"
    content = await answer(harness, body(user(prompt)))
    assert isinstance(content["title"], str) and isinstance(content["author"], str) and " " in content["author"]
    assert isinstance(content["year"], int) and 1900 < content["year"] <= 2100
    assert isinstance(content["page_count"], int) and not isinstance(content["page_count"], bool)
    assert isinstance(content["price"], float)
    assert isinstance(content["is_available"], bool)
    assert isinstance(content["tags"], list) and all(isinstance(tag, str) for tag in content["tags"])
    assert isinstance(content["age"], int) and 0 < content["age"] < 130


async def test_the_system_message_can_name_the_keys(harness: Harness) -> None:
    content = await answer(harness, body({"role": "system", "content": "Respond in JSON with keys answer, sources."},
                                         user("Why is the sky blue?")))
    assert list(content) == ["answer", "sources"]


async def test_the_latest_message_naming_keys_wins(harness: Harness) -> None:
    content = await answer(harness, body({"role": "system", "content": "Always answer in JSON with keys a, b."},
                                         user("This time use the fields: x, y, z")))
    assert list(content) == ["x", "y", "z"]


@pytest.mark.parametrize(
    "prompt",
    ["Answer in JSON.", "Give me the key facts as json", "Return json with the fields you think are relevant"],
)
async def test_no_named_keys_keeps_the_default_object(harness: Harness, prompt: str) -> None:
    content = await answer(harness, body(user(prompt)))
    assert set(content) == {"answer", "confidence", "tags"}


async def test_json_schema_is_still_honoured(harness: Harness) -> None:
    """A json_schema request follows its schema, whatever keys the prompt names."""
    schema = {"type": "object", "properties": {"score": {"type": "integer"}}, "required": ["score"],
              "additionalProperties": False}
    payload = {**body(user("Reply in JSON with keys name and age.")),
               "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}}
    content = await answer(harness, payload)
    assert list(content) == ["score"] and isinstance(content["score"], int)


async def test_deterministic_per_seed(transport_kind: str) -> None:
    payload = body(user("JSON with keys name, age, city and bio please"))
    seen = []
    for seed in (3, 3, 4):
        async with open_harness(transport_kind, EmulatorSettings(seed=seed)) as opened:
            seen.append(await answer(opened, payload))
    assert seen[0] == seen[1]
    assert list(seen[0]) == list(seen[2]) == ["name", "age", "city", "bio"]


async def test_streamed_json_mode_follows_the_prompt_too(harness: Harness) -> None:
    payload = body(user("Reply in JSON with keys name and age."), stream=True)
    async with harness.client.stream("POST", "/chat/completions", json=payload) as response:
        text = ""
        async for line in response.aiter_lines():
            if line.startswith("data: {"):
                chunk = json.loads(line[len("data: "):])
                for choice in chunk["choices"]:
                    text += choice["delta"].get("content") or ""
    assert list(json.loads(text)) == ["name", "age"]


class TestPureFunctions:
    def test_keys_named_in_scans_from_the_latest_text(self) -> None:
        assert keys_named_in(["fields: a, b", "nothing here"]) == ["a", "b"]
        assert keys_named_in(["fields: a, b", "keys: c"]) == ["c"]
        assert keys_named_in(["plain text"]) == []

    def test_json_object_for_draws_nothing_when_no_keys_are_named(self) -> None:
        rng = random.Random(1)
        state = rng.getstate()
        assert json_object_for(["Answer in JSON."], rng) is None and rng.getstate() == state

    def test_json_object_for_is_deterministic(self) -> None:
        texts = ["json with keys name, year, email, website, created_at"]
        first = json_object_for(texts, random.Random(9))
        assert first == json_object_for(texts, random.Random(9))
        assert first is not None and "@" in str(first["email"]) and str(first["website"]).startswith("https://")
