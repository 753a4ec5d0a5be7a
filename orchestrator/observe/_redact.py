"""Redaction: API keys, credentials and message contents never reach a log line.

Theory of operation
-------------------
A secret reaches a log through a value nobody thought about: a header dict bound for
debugging, an exception whose message quotes a request, a ``repr`` of some object in an
event. So :class:`Redactor` does not trust field names alone; it walks every value of an
event (dict keys and values, lists, tuples, sets, msgspec Structs, exceptions, and the
``repr`` of anything else) and rewrites the text it finds:

* ``gsk_...`` (a Groq API key, whatever else surrounds it);
* the exact values of the keys the process knows about (:func:`register_secret`, the
  ``GROQ_API_KEY`` environment variable, the ``secrets`` given to the redactor), so an
  emulator key without the ``gsk_`` prefix is caught as well;
* the credential after ``Bearer`` / ``Authorization:``, an ``sk-...`` key, a URL's password
  (these patterns are :func:`orchestrator._secret.redact_text`'s, shared with error messages),
  and the whole value of a mapping entry named ``authorization``, ``proxy-authorization``,
  ``api_key`` or ``x-api-key``;
* any :class:`~orchestrator._secret.SecretString`.

Message contents (``messages``, ``content``, ``prompt``, at any depth) are replaced by a
marker in every event below TRACE: request and response bodies belong to TRACE alone.

Values that need no change come back as the very same objects, so a clean event costs a
walk and a regex search per string. What the redactor cannot do: catch a key that was
split, encoded (base64, URL-quoting) or truncated before it was logged. Exact values
shorter than :data:`MIN_EXACT_SECRET` characters are not matched (they would mangle
ordinary words); real Groq keys are 56 characters long.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, Final

import msgspec

from .._secret import SecretString, redact_text

__all__ = ["MIN_EXACT_SECRET", "REDACTED", "Redactor", "register_secret"]

#: What a secret becomes (the same mask ``SecretString`` prints).
REDACTED: Final = "**********"
#: What message contents become below TRACE.
OMITTED: Final = "[omitted below TRACE]"
#: Exact secret values shorter than this are not matched in free text.
MIN_EXACT_SECRET: Final = 8
#: Nesting deeper than this is rendered with ``repr`` and redacted as text.
_MAX_DEPTH: Final = 24

#: Mapping keys (lower case, ``-`` read as ``_``) whose whole value is a credential.
_CREDENTIAL_KEYS: Final = frozenset(
    {"authorization", "proxy_authorization", "api_key", "apikey", "x_api_key", "groq_api_key"}
)
#: Mapping keys (lower case) holding what users wrote to or read from a model.
_CONTENT_KEYS: Final = frozenset({"messages", "content", "prompt"})
#: Scalars that cannot hold text.
_INERT: Final = (bool, int, float, complex, type(None))

# The patterns (gsk_ and sk- keys, Authorization / Bearer values, URL passwords) live in one place,
# orchestrator._secret.redact_text, which error messages use too.

_lock = threading.Lock()
_registered: set[str] = set()
_generation = 0


def register_secret(secret: str | SecretString) -> None:
    """Remember a secret's exact value so every :class:`Redactor` hides it from now on.

    Call it for any key that does not start with ``gsk_`` (those are caught by pattern);
    ``Config`` keys are the intended use. The set grows with the number of distinct keys
    a process has seen, which is small; values under :data:`MIN_EXACT_SECRET` characters
    are ignored.
    """
    global _generation
    value = secret.get_secret_value() if isinstance(secret, SecretString) else secret
    if not isinstance(value, str) or len(value) < MIN_EXACT_SECRET:
        return
    with _lock:
        if value not in _registered:
            _registered.add(value)
            _generation += 1


def _exact_pattern(values: Iterable[str]) -> re.Pattern[str] | None:
    usable = sorted({v for v in values if len(v) >= MIN_EXACT_SECRET}, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, usable))) if usable else None


class Redactor:
    """A structlog processor that removes secrets, and message contents below TRACE, from events.

    Use it after any exception formatter (``format_exc_info``) and before the renderer, so
    tracebacks are text by the time it reads them; :func:`orchestrator.configure_logging`
    does so, and the library's fallback logging applies it too. Applications with their own
    structlog setup can add it to their chain::

        structlog.configure(processors=[..., structlog.processors.format_exc_info,
                                        Redactor(), structlog.processors.JSONRenderer()])

    Args:
        secrets: exact values to hide besides the registered ones and ``GROQ_API_KEY``.
        environ: read ``GROQ_API_KEY`` from this mapping (default ``os.environ``), once.
    """

    __slots__ = ("_exact", "_fixed", "_generation")

    def __init__(
        self, secrets: Iterable[str | SecretString] = (), *, environ: Mapping[str, str] | None = None
    ) -> None:
        environ = os.environ if environ is None else environ
        fixed = {s.get_secret_value() if isinstance(s, SecretString) else s for s in secrets}
        if environ.get("GROQ_API_KEY"):
            fixed.add(environ["GROQ_API_KEY"].strip())
        del environ
        self._fixed = frozenset(fixed)
        self._generation = -1
        self._exact: re.Pattern[str] | None = None

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        """Return a copy of the event with every secret masked (contents dropped below TRACE)."""
        if self._generation != _generation:
            self._refresh()
        keep_contents = method_name == "trace"
        return {
            self._value(key, 0, keep_contents): self._entry(key, value, keep_contents)
            for key, value in event_dict.items()
        }

    def __repr__(self) -> str:
        return f"<Redactor {len(self._fixed)} fixed secret(s), {len(_registered)} registered>"

    def _refresh(self) -> None:
        """Rebuild the exact-value pattern after :func:`register_secret` added a value."""
        with _lock:
            self._exact = _exact_pattern(self._fixed | _registered)
            self._generation = _generation

    # -- walking values -------------------------------------------------------------------

    def _entry(self, key: Any, value: Any, keep_contents: bool, depth: int = 0) -> Any:
        if isinstance(key, str):
            name = key.lower().replace("-", "_")
            if name in _CREDENTIAL_KEYS and value is not None:
                return REDACTED
            if not keep_contents and name in _CONTENT_KEYS and value is not None:
                return OMITTED
        return self._value(value, depth, keep_contents)

    def _value(self, value: Any, depth: int, keep_contents: bool) -> Any:
        if isinstance(value, str):
            return self._text(value)
        if isinstance(value, _INERT):
            return value
        if isinstance(value, SecretString):
            return REDACTED
        if isinstance(value, bytes | bytearray):
            text = bytes(value).decode("utf-8", "surrogateescape")
            clean = self._text(text)
            return value if clean is text else clean.encode("utf-8", "surrogateescape")
        if depth >= _MAX_DEPTH:
            return self._represented(value)
        depth += 1
        if isinstance(value, Mapping):
            items = [(k, v, self._value(k, depth, keep_contents), self._entry(k, v, keep_contents, depth))
                     for k, v in value.items()]
            if all(nk is k and nv is v for k, v, nk, nv in items) and isinstance(value, dict):
                return value
            return {nk: nv for _, _, nk, nv in items}
        if isinstance(value, msgspec.Struct):
            fields = {name: getattr(value, name) for name in value.__struct_fields__}
            clean = self._value(fields, depth, keep_contents)
            return value if all(clean[k] is v for k, v in fields.items()) else clean
        if type(value) in (list, tuple, set, frozenset):
            items = [self._value(item, depth, keep_contents) for item in value]
            if all(new is old for new, old in zip(items, value, strict=True)):
                return value
            return type(value)(items)
        return self._represented(value)

    def _represented(self, value: Any) -> Any:
        """Anything else (exceptions, objects) is kept unless its text shows a secret."""
        try:
            shown = repr(value)
            told = str(value)
        except Exception:  # noqa: BLE001 - a broken __repr__ must not break logging
            return f"<unrepresentable {type(value).__name__}>"
        clean_told = self._text(told)
        if clean_told is not told:
            # str() is the raw text; repr() may hold the secret escaped (quotes, backslashes).
            return f"{type(value).__name__}: {clean_told}" if told != shown else clean_told
        clean = self._text(shown)
        return value if clean is shown else clean

    def _text(self, text: str) -> str:
        exact = self._exact
        if exact is not None and exact.search(text):
            text = exact.sub(REDACTED, text)
        return redact_text(text)
