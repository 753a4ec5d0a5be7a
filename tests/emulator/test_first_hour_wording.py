"""Issue 19, item 7: the emulator's 400s for a body of the wrong shape are in Groq's words, not the client's."""

from __future__ import annotations

import pytest

from orchestrator.emulator._groq_words import groq_schema_message
from tests.emulator.conftest import MODEL, Harness


@pytest.mark.parametrize(("body", "message", "param"), [
    ({"model": MODEL, "messages": [{"role": "system", "content": 5}]},
     "'messages.0' : for 'role:system' the following must be satisfied[('messages.0.content' : one of the following "
     "must be satisfied[('messages.0.content' : value must be a string) OR ('messages.0.content' : value must be an "
     "array)])]", "messages[0].content"),
    ({"model": MODEL, "messages": [{"role": "tool", "content": "x"}]},
     "'messages.0' : for 'role:tool' the following must be satisfied[('messages.0' : property 'tool_call_id' is "
     "missing)]", "messages[0].tool_call_id"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "property 'model' is missing", "model"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "seed": "x"},
     "'seed' : value must be an integer", "seed"),
    ({"model": MODEL, "messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"},
     "'tool_choice' : value 'sometimes' is not one of the allowed values", "tool_choice"),
])
async def test_shape_errors_read_like_groqs(harness: Harness, body: dict[str, object], message: str, param: str) -> None:
    """Each wrong-shape body gets Groq's 400 shape and wording: no client-validator ``[rule: ...]`` tag."""
    response = await harness.client.post("/chat/completions", json=body)
    error = response.json()["error"]
    assert (response.status_code, error["type"], error["message"], error.get("param"), "[rule:" in response.text) == (
        400, "invalid_request_error", message, param, False)


class TestGroqSchemaMessage:
    def test_a_nested_unknown_property_is_unsupported(self) -> None:
        """msgspec's unknown field inside a message becomes Groq's 'property ... is unsupported' under its role."""
        payload = {"messages": [{"role": "assistant", "content": "x"}]}
        assert groq_schema_message("Object contains unknown field `status` - at `$.messages[0]`", payload) == (
            "'messages.0' : for 'role:assistant' the following must be satisfied[('messages.0' : property 'status' "
            "is unsupported)]", "messages[0].status")

    def test_a_body_that_is_not_an_object(self) -> None:
        """A JSON array for a body is refused as not an object, with no param."""
        assert groq_schema_message("Expected `object`, got `array`", [1, 2]) == (
            "The request body must be a JSON object with 'model' and 'messages', not an array.", None)
