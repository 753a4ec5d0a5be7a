"""Per-call options (``priority``, ``timeout``, ``max_retries``, ``extra_headers``), checked up front.

A bad option must fail the one call that passed it, with a ``ValidationError`` naming it, and
never reach an actor: a string priority would otherwise break the scheduler's heap for every
job of the client.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from ._errors import ValidationError

__all__ = ["check_call_options"]

#: Headers the client owns; a call's extra_headers may not replace them.
_OWN_HEADERS: Final = frozenset({"authorization", "host", "content-length", "content-type", "user-agent"})


def check_call_options(
    *,
    priority: Any = 0,
    timeout: Any = None,
    max_retries: Any = None,
    extra_headers: Any = None,
) -> None:
    """Refuse bad per-call options before a job exists, naming the option and the value.

    Raises:
        ValidationError: ``priority`` not an int, ``timeout`` not a positive finite number of
            seconds, ``max_retries`` not an int >= 0, or ``extra_headers`` not str -> str ASCII
            (or trying to replace a header the client sets itself, such as Authorization).
    """
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise _option_error("priority", priority, "must be an int (higher runs sooner)")
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf
    ):
        raise _option_error("timeout", timeout, "must be a positive, finite number of seconds")
    if max_retries is not None and (not isinstance(max_retries, int) or isinstance(max_retries, bool) or max_retries < 0):
        raise _option_error("max_retries", max_retries, "must be an int >= 0")
    if extra_headers is None:
        return
    if not isinstance(extra_headers, Mapping):
        raise _option_error("extra_headers", extra_headers, "must be a mapping of header name to value")
    for name, value in extra_headers.items():
        if not isinstance(name, str) or not isinstance(value, str) or not (name + value).isascii():
            raise _option_error(f"extra_headers[{name!r}]", "<hidden>", "names and values must be ASCII str")
        if name.lower() in _OWN_HEADERS or any(ch in name + value for ch in "\r\n\0"):
            raise _option_error(f"extra_headers[{name!r}]", "<hidden>", "may not set or break a header the client owns")


def _option_error(field: str, value: Any, rule: str) -> ValidationError:
    return ValidationError(field=field, value=value, rule=rule)
