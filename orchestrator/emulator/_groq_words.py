"""Groq's words for a request body of the wrong shape: the emulator's 400 messages for schema violations.

The emulator decodes a chat request into the wire types with msgspec, whose complaints read like
``Expected `str | array`, got `int` - at `$.messages[0].content```. Groq's own validator says the same thing
in its own shape, and clients match on it, so the emulator answers in that shape (never in the client
validator's ``... [rule: type]`` wording: an oracle must not speak with the voice of the code it judges).

Groq's shape, from real 400 bodies (``type: invalid_request_error``, no ``code``):

- ``'messages.0' : for 'role:system' the following must be satisfied[('messages.0.content' : value must be a
  string)]`` (OpenHands/OpenHands#4643, livekit/agents#1790);
- ``'messages.2' : for 'role:assistant' the following must be satisfied[('messages.2' : property 'status' is
  unsupported, did you mean 'name'?)]`` (run-llama/llama_index#14701);
- top level: ``property 'store' is unsupported, did you mean 'stop'?`` (fanenr/chatbot#21).

Paths use dots and bare indices (``messages.0.content``). [I] The wording for a missing property
(``property 'model' is missing``), a value outside an enumeration and a union of types (``one of the following
must be satisfied[(...) OR (...)]``) follows the same validator's style; no captured body shows them.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["groq_schema_message"]

_AT: Final = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_EXPECTED: Final = re.compile(r"^Expected `(?P<types>[^`]+)`, got `(?P<got>[^`]+)`")
_MISSING: Final = re.compile(r"^Object missing required field `(?P<name>[^`]+)`")
_UNKNOWN: Final = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`")
_INVALID: Final = re.compile(r"^Invalid (?:enum )?value (?P<value>.+)$")
_INDEX: Final = re.compile(r"\[(\d+)\]")
_MESSAGE: Final = re.compile(r"^messages\.(\d+)(?:\.|$)")
_ROLES: Final = frozenset({"system", "user", "assistant", "tool", "developer", "function"})
_TYPE_WORDS: Final = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "array": "an array",
    "object": "an object",
}


def _dotted(path: str) -> str:
    """msgspec's ``.messages[0].content`` as Groq writes it: ``messages.0.content``."""
    return _INDEX.sub(r".\1", path).lstrip(".")


def _bracketed(path: str) -> str:
    """msgspec's ``.messages[0].content`` as the ``param`` field carries it: ``messages[0].content``."""
    return path.lstrip(".")


def _joined(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def groq_schema_message(complaint: str, payload: Any) -> tuple[str, str | None]:
    """Groq's message for msgspec's ``complaint`` about ``payload`` (the decoded body), and the ``param``.

    Args:
        complaint: ``str(msgspec.ValidationError)``.
        payload: the body as plain JSON values, to name a message's role as Groq does.

    Returns:
        The message and the offending field's path in bracket form (None for the body itself).
    """
    match = _AT.search(complaint)
    raw_path = match.group("path") if match else ""
    reason = complaint[: match.start()] if match else complaint
    where, param = _dotted(raw_path), _bracketed(raw_path)
    if missing := _MISSING.match(reason):
        name = missing.group("name")
        inner = f"'{where}' : property '{name}' is missing" if where else f"property '{name}' is missing"
        param = _joined(param, name)
    elif unknown := _UNKNOWN.match(reason):
        name = unknown.group("name")
        inner = f"'{where}' : property '{name}' is unsupported" if where else f"property '{name}' is unsupported"
        param = _joined(param, name)
    elif expected := _EXPECTED.match(reason):
        kinds = [_TYPE_WORDS.get(kind.strip(), kind.strip()) for kind in expected.group("types").split("|")
                 if kind.strip() != "null"]
        if not where:
            got = _TYPE_WORDS.get(expected.group("got"), expected.group("got"))
            return f"The request body must be a JSON object with 'model' and 'messages', not {got}.", None
        if len(kinds) == 1:
            inner = f"'{where}' : value must be {kinds[0]}"
        else:
            inner = ("'" + where + "' : one of the following must be satisfied["
                     + " OR ".join(f"('{where}' : value must be {kind})" for kind in kinds) + "]")
    elif invalid := _INVALID.match(reason):
        inner = f"'{where}' : value {invalid.group('value')} is not one of the allowed values"
    else:
        inner = f"'{where}' : {reason}" if where else reason
    return _within_message(inner, where, payload), param or None


def _within_message(inner: str, where: str, payload: Any) -> str:
    """Groq names the role of the message a problem lies in: ``'messages.0' : for 'role:user' ...[(inner)]``."""
    match = _MESSAGE.match(where)
    if match is None or not isinstance(payload, dict):
        return inner
    messages = payload.get("messages")
    index = int(match.group(1))
    if not isinstance(messages, list) or index >= len(messages) or not isinstance(messages[index], dict):
        return inner
    role = messages[index].get("role")
    if not isinstance(role, str) or role not in _ROLES:
        return inner
    return f"'messages.{index}' : for 'role:{role}' the following must be satisfied[({inner})]"
