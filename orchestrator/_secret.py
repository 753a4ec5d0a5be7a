"""A string that refuses to show itself, and the one function that masks secrets in free text.

API keys end up in logs, tracebacks and bug reports through ``repr()`` far more often than
through deliberate printing: a ``Config`` in a local variable of a failing frame, a structlog
event with ``config=cfg``, a pickled job. :class:`SecretString` closes every one of those doors
(``repr``, ``str``, ``format``, pickling) and keeps exactly one open, on purpose and easy to grep
for: :meth:`SecretString.get_secret_value`.

A key can also arrive where no ``SecretString`` guards it: pasted into ``--model``, into
``GROQ_TIMEOUT``, into the password of ``--base-url https://user:KEY@host``. Every message built
from user input therefore goes through :func:`redact_text` (errors do it themselves, in
``GroqError``), and every value an error quotes through :func:`short_repr`. Both are the project's
only implementation of "what looks like a secret"; the log redactor
(``orchestrator.observe._redact``) uses the same function.
"""

from __future__ import annotations

import hmac
import re
import reprlib
from typing import Any, Final, NoReturn, final

import msgspec

__all__ = ["MASK", "SecretString", "redact_text", "short_repr"]

#: What a secret becomes wherever it is shown.
MASK: Final = "**********"
_MASK: Final = MASK
#: What the password of a URL becomes (``redis://user:***@host``), short so the URL stays readable.
URL_PASSWORD_MASK: Final = "***"
#: A hint of the last 4 characters is only shown for keys long enough that 4 of them reveal little.
_MIN_LENGTH_FOR_HINT: Final = 12


@final
class SecretString:
    """Holds a secret (an API key) so that printing, logging or pickling never reveals it.

    ``str``, ``repr`` and every ``format`` spec give ``**********``; pickling raises instead of
    writing the secret to disk or another process; equality is constant-time. Read the value with
    :meth:`get_secret_value` only where it must go on the wire.

    This is not encryption: the value is in process memory, readable by anyone with a debugger.
    It protects against accidents, not attackers.

    Args:
        value: the secret text.

    Raises:
        TypeError: if ``value`` is not a ``str``.
    """

    __slots__ = ("_secret",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"SecretString takes a str, not {type(value).__name__}")
        self._secret = value

    def get_secret_value(self) -> str:
        """The secret itself; call it only where the value must be sent."""
        return self._secret

    @property
    def hint(self) -> str | None:
        """The last four characters, to tell keys apart in logs; None for keys under 12 characters."""
        if len(self._secret) < _MIN_LENGTH_FOR_HINT:
            return None
        return self._secret[-4:]

    def __repr__(self) -> str:
        return f"SecretString('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, format_spec: str) -> str:
        return format(_MASK, format_spec)

    def __bool__(self) -> bool:
        return bool(self._secret)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretString):
            return NotImplemented
        return hmac.compare_digest(self._secret.encode(), other._secret.encode())

    def __hash__(self) -> int:
        return hash((SecretString, self._secret))

    def __copy__(self) -> SecretString:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SecretString:
        return self

    def __reduce_ex__(self, protocol: object) -> NoReturn:
        raise TypeError(
            "SecretString refuses to be pickled so the secret never lands on disk or in another "
            "process; pass the API key to the other side through its environment (GROQ_API_KEY)"
        )


# --------------------------------------------------------------------------- free text

# The credential forms, each masked whole:
# * ``keep`` then a value: an ``Authorization:`` / ``Authorization=`` header (optionally ``Bearer``/``Basic``/
#   ``Token``) or a bare ``Bearer <token>``; the header name and scheme are kept, the value masked;
# * a Groq key, ``gsk_`` and what follows (keys are 56 characters; any length is masked);
# * an OpenAI-style key, ``sk-`` and at least 8 more characters (``sk-proj-...``, ``sk-ant-...``), not inside a word;
# * the userinfo of a URL (``scheme://user:password@``): the password is masked, or the user when there is no
#   password (``https://TOKEN@host`` is how tokens travel in URLs).
_SECRET: Final = re.compile(
    r"(?P<keep>(?i:\b(?:proxy-)?authorization)[\"']?\s*[:=]\s*[\"']?(?:(?i:bearer|basic|token)\s+)?"
    r"|(?i:\bbearer)\s+)[^\s'\",;]+"
    r"|gsk_[A-Za-z0-9_]+"
    r"|(?<![A-Za-z0-9_-])sk-[A-Za-z0-9_-]{8,}"
    r"|(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s'\"<>@]*(?:@[^/?#\s'\"<>@]*)*)@"
)
#: A cheap first look: text with none of these cannot match :data:`_SECRET`.
_MAYBE_SECRET: Final = re.compile(r"gsk_|sk-|://|bearer|authorization", re.IGNORECASE)


def _mask(match: re.Match[str]) -> str:
    scheme = match.group("scheme")
    if scheme is not None:
        user, colon, _password = match.group("userinfo").partition(":")
        return f"{scheme}{user}:{URL_PASSWORD_MASK}@" if colon else f"{scheme}{URL_PASSWORD_MASK}@"
    return (match.group("keep") or "") + MASK


def redact_text(text: str) -> str:
    """``text`` with everything that looks like a credential masked; the same object when there is none.

    Masks Groq keys (``gsk_...``), OpenAI-style keys (``sk-...``), ``Authorization`` / ``Bearer`` values and
    URL passwords (``https://user:***@host``; a user with no password, usually a token, is masked whole). What
    it cannot catch: a key split, encoded or cut short before it got here, or one with no recognisable form
    (``orchestrator.observe._redact.register_secret`` covers those in logs).

    Args:
        text: any text; a non-``str`` is returned unchanged.
    """
    if not isinstance(text, str) or _MAYBE_SECRET.search(text) is None:
        return text
    clean = _SECRET.sub(_mask, text)
    return text if clean == text else clean


class _BoundedRepr(reprlib.Repr):
    """``reprlib`` with our limits: a few levels, a few items, strings redacted, Structs shown by their fields.

    ``reprlib`` stops at ``maxlevel``, so a value nested a million levels deep costs a few frames, not a
    ``RecursionError``; ``repr`` of anything else is cut short and a failing ``__repr__`` is survived.
    """

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxlist = self.maxtuple = self.maxset = self.maxfrozenset = self.maxdeque = self.maxarray = 8
        self.maxdict = 8
        self.maxstring = self.maxother = limit
        self.maxlong = 40

    def repr_str(self, x: str, level: int) -> str:
        # Redact before cutting, so a cut cannot leave half a key (or half a URL password) behind.
        return reprlib.Repr.repr_str(self, redact_text(x), level)

    def repr_instance(self, x: object, level: int) -> str:
        # A Struct with its own __repr__ (WolframSettings hides its key) is shown by that repr, the others by field.
        if isinstance(x, msgspec.Struct) and type(x).__repr__ is msgspec.Struct.__repr__:
            name = type(x).__name__
            if level <= 0:
                return f"{name}(...)"
            fields = ", ".join(
                f"{field}={self.repr1(getattr(x, field, None), level - 1)}" for field in x.__struct_fields__[:8]
            )
            return f"{name}({fields}{', ...' if len(x.__struct_fields__) > 8 else ''})"
        if isinstance(x, (bytes, bytearray)):
            return repr(bytes(x[: self.maxstring]))
        try:
            text = repr(x)
        except Exception:  # noqa: BLE001 - a broken (or endlessly recursive) __repr__ must not break an error message
            return f"<{type(x).__name__} object>"
        return redact_text(text)[: self.maxother]


def short_repr(value: object, limit: int = 120) -> str:
    """A ``repr`` of ``value`` for an error message: at most ``limit`` characters, secrets masked.

    Never quotes a whole base64 image, never recurses into a deeply nested value, never raises: a long
    string is cut (``'abc...'... (4194304 chars)``), containers show their first levels and items.
    """
    if isinstance(value, str):
        text = repr(redact_text(value))  # the whole string: a cut first could leave half a key unrecognised
        if len(text) <= limit:
            return text
        return f"{text[:limit]}... ({len(text)} chars)"
    text = _BoundedRepr(limit).repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}..."
