"""The redaction processor: keys, Authorization values, SecretStrings and contents never survive an event."""

from __future__ import annotations

import json
import string
from typing import Any

import msgspec
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestrator.observe._redact import OMITTED, REDACTED, Redactor, register_secret
from orchestrator._secret import SecretString

KEY = "gsk_live_SECRET_4f9a8b7c6d5e0011"
NO_ENV: dict[str, str] = {}


def redact(event: dict[str, Any], method: str = "info", **options: Any) -> dict[str, Any]:
    options.setdefault("environ", NO_ENV)
    return Redactor(**options)(None, method, event)


class _Leaky:
    """An object whose repr shows a key, the way a careless __repr__ would."""

    def __repr__(self) -> str:
        return f"<Leaky token={KEY}>"


class _Broken:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


class _Request(msgspec.Struct):
    model: str
    messages: list[dict[str, str]]


class TestKeys:
    def test_a_groq_key_inside_text_is_masked(self) -> None:
        """A gsk_ key is masked wherever it sits in a string, the text around it kept."""
        assert redact({"event": "x", "note": f"sent with {KEY}."})["note"] == f"sent with {REDACTED}."

    def test_an_exact_secret_without_the_gsk_prefix_is_masked(self) -> None:
        """A key passed as a secret is masked even though no pattern would recognise it."""
        assert redact({"event": "x", "url": "https://h/?k=emulator-key-42"}, secrets=["emulator-key-42"])["url"] == (
            f"https://h/?k={REDACTED}"
        )

    def test_a_secretstring_secret_and_groq_api_key_from_the_environment_are_masked(self) -> None:
        """Exact values come from SecretString secrets and GROQ_API_KEY alike."""
        out = redact(
            {"event": "x", "a": "one local-key-0001", "b": "two env-key-00002"},
            secrets=[SecretString("local-key-0001")],
            environ={"GROQ_API_KEY": "env-key-00002"},
        )
        assert (out["a"], out["b"]) == (f"one {REDACTED}", f"two {REDACTED}")

    def test_registered_secrets_reach_redactors_made_earlier(self) -> None:
        """register_secret() teaches every redactor, including ones built before the call."""
        redactor = Redactor(environ=NO_ENV)
        assert redactor(None, "info", {"event": "late-registered-key-77"})["event"] == "late-registered-key-77"
        register_secret(SecretString("late-registered-key-77"))
        assert redactor(None, "info", {"event": "late-registered-key-77"})["event"] == REDACTED

    def test_short_exact_values_are_not_matched_in_text(self) -> None:
        """A secret under eight characters would mangle ordinary words, so it is left to the patterns."""
        assert redact({"event": "the key is short"}, secrets=["key"])["event"] == "the key is short"

    def test_a_secretstring_value_becomes_the_mask(self) -> None:
        """A SecretString anywhere in an event is replaced by the mask."""
        assert redact({"event": "x", "cfg": {"keys": [SecretString(KEY)]}})["cfg"] == {"keys": [REDACTED]}


class TestAuthorization:
    @pytest.mark.parametrize("name", ["Authorization", "authorization", "Proxy-Authorization", "x-api-key", "api_key"])
    def test_a_credential_entry_loses_its_whole_value(self, name: str) -> None:
        """Mapping entries named like credentials are masked whatever their value looks like."""
        out = redact({"event": "x", "headers": {name: "Basic dXNlcjpwYXNz", "accept": "json"}})
        assert out["headers"] == {name: REDACTED, "accept": "json"}

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Authorization: Bearer abc.def-ghi", f"Authorization: Bearer {REDACTED}"),
            ("authorization='Basic dXNlcjpwYXNz'", f"authorization='Basic {REDACTED}'"),
            ("[('authorization', 'bearer tok123')]", f"[('authorization', 'bearer {REDACTED}')]"),
            ('{"Authorization": "token xyz"}', f'{{"Authorization": "token {REDACTED}"}}'),
        ],
    )
    def test_credentials_in_free_text_are_masked_after_the_scheme(self, text: str, expected: str) -> None:
        """Header text keeps the header name and scheme and loses the credential."""
        assert redact({"event": text})["event"] == expected


class TestContents:
    def test_message_contents_are_omitted_below_trace(self) -> None:
        """messages, content and prompt are replaced by a marker at any depth below TRACE."""
        event = {"event": "x", "request": {"messages": [{"role": "user", "content": "hi"}], "prompt": "p"}, "content": "c"}
        assert redact(event, "debug") == {"event": "x", "request": {"messages": OMITTED, "prompt": OMITTED}, "content": OMITTED}

    def test_message_contents_are_kept_at_trace_but_keys_are_not(self) -> None:
        """At TRACE contents stay, and secrets inside them are still masked."""
        event = {"event": "x", "messages": [{"role": "user", "content": f"my key is {KEY}"}]}
        assert redact(event, "trace")["messages"] == [{"role": "user", "content": f"my key is {REDACTED}"}]

    def test_a_struct_with_messages_is_shown_without_them_below_trace(self) -> None:
        """A msgspec Struct becomes a dict when something inside it had to go."""
        out = redact({"event": "x", "request": _Request(model="m", messages=[{"role": "user", "content": "hi"}])})
        assert out["request"] == {"model": "m", "messages": OMITTED}


class TestValues:
    def test_a_clean_event_keeps_its_very_objects(self) -> None:
        """Nothing to redact means nothing is copied: the same objects come back."""
        payload = {"a": [1, ("b", b"c")], "d": {1.5, None}, "e": ValueError("fine"), "f": _Request(model="m", messages=[])}
        out = redact({"event": "x", "payload": payload}, "trace")
        assert out["payload"] is payload

    def test_nested_containers_keep_their_types(self) -> None:
        """Lists, tuples, sets, frozensets and bytes are rebuilt as themselves, keys in dict keys masked."""
        event = {"event": "x", "v": [(KEY,), {KEY}, frozenset([KEY]), KEY.encode(), {KEY: 1}]}
        assert redact(event)["v"] == [(REDACTED,), {REDACTED}, frozenset([REDACTED]), REDACTED.encode(), {REDACTED: 1}]

    def test_an_exception_quoting_a_key_becomes_redacted_text(self) -> None:
        """An exception whose message holds a key is replaced by its type and redacted message."""
        assert redact({"event": "x", "error": ValueError(f"bad {KEY}")})["error"] == f"ValueError: bad {REDACTED}"

    def test_an_object_whose_repr_leaks_becomes_redacted_text(self) -> None:
        """Any other object is judged by its repr and str."""
        assert redact({"event": "x", "obj": _Leaky()})["obj"] == f"<Leaky token={REDACTED}>"

    def test_an_object_with_a_broken_repr_does_not_break_logging(self) -> None:
        """A repr that raises gives a placeholder, not an exception in the logging call."""
        assert redact({"event": "x", "obj": _Broken()})["obj"] == "<unrepresentable _Broken>"

    def test_deep_and_cyclic_values_are_cut_off_and_still_redacted(self) -> None:
        """Past the depth limit values are rendered as text, which is redacted too."""
        deep: Any = KEY
        for _ in range(200):
            deep = [deep]
        cycle: list[Any] = [KEY]
        cycle.append(cycle)
        out = redact({"event": "x", "deep": deep, "cycle": cycle})
        assert KEY not in repr(out) and REDACTED in repr(out)


# -- the property: a key planted anywhere never comes out -------------------------------------

_KEY_CHARS = string.ascii_letters + string.digits + "_"
# Exact (emulator-style) keys: printable, no whitespace (Config refuses it), no '*' (the mask itself).
_EXACT_CHARS = "".join(ch for ch in string.printable if not ch.isspace() and ch != "*")


@st.composite
def planted_events(draw: st.DrawFn) -> tuple[str, list[str], dict[str, Any]]:
    """(key, extra secrets for the redactor, an event with the key planted at several depths)."""
    if draw(st.booleans()):
        key = "gsk_" + draw(st.text(_KEY_CHARS, min_size=1, max_size=40))
        secrets: list[str] = []
    else:
        key = draw(st.text(_EXACT_CHARS, min_size=8, max_size=40))
        secrets = [key]
    around = st.text(max_size=8)
    planted_text = st.builds(lambda a, b: a + key + b, around, around)
    planted = st.one_of(
        planted_text,
        planted_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
        planted_text.map(ValueError),
        planted_text.map(lambda t: f"Authorization: Bearer {t}"),
        st.just(SecretString(key)),
    )
    leaves = st.one_of(st.text(max_size=8), st.integers(), st.none(), st.binary(max_size=8), planted)
    keys = st.one_of(st.text(max_size=6), planted_text)
    tree = st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.lists(inner, max_size=4).map(tuple),
            st.dictionaries(keys, inner, max_size=4),
        ),
        max_leaves=20,
    )
    event = {"event": draw(st.one_of(st.text(max_size=8), planted_text)), "payload": draw(tree), "also": draw(planted)}
    return key, secrets, event


@settings(max_examples=300, deadline=None)
@given(planted_events(), st.sampled_from(["trace", "debug", "info", "error"]))
def test_a_key_planted_anywhere_never_survives(case: tuple[str, list[str], dict[str, Any]], method: str) -> None:
    """Whatever the nesting, the event after redaction shows the key in neither repr, JSON nor key=value form."""
    key, secrets, event = case
    out = redact(event, method, secrets=secrets)
    shown = [
        repr(out),
        structlog.processors.JSONRenderer()(None, method, dict(out)),
        structlog.processors.KeyValueRenderer()(None, method, dict(out)),
        json.dumps(out, default=str, ensure_ascii=False),
    ]
    assert not any(key in text for text in shown)
