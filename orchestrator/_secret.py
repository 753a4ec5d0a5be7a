"""A string that refuses to show itself.

API keys end up in logs, tracebacks and bug reports through ``repr()`` far more often than
through deliberate printing: a ``Config`` in a local variable of a failing frame, a structlog
event with ``config=cfg``, a pickled job. :class:`SecretString` closes every one of those doors
(``repr``, ``str``, ``format``, pickling) and keeps exactly one open, on purpose and easy to grep
for: :meth:`SecretString.get_secret_value`.
"""

from __future__ import annotations

import hmac
from typing import Any, Final, NoReturn, final

__all__ = ["SecretString"]

_MASK: Final = "**********"
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
