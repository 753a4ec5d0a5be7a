"""The rate-limit windows a chat request spends from: one table, so every part uses the same words.

Groq's rate-limits page (console.groq.com/docs/rate-limits, 2026) names the limit types RPM, RPD,
TPM, TPD, ASH, ASD, ITPM and OTPM. A chat request spends from six of them (ASH and ASD are audio
seconds). The budget, the shared budget and its Redis keys, the metrics, the progress and
``rate-limits`` tables all read their rows from :data:`WINDOWS`.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

__all__ = ["SHARED_WINDOWS", "WINDOWS", "WindowSpec", "window_named"]


class WindowSpec(NamedTuple):
    """One window.

    Attributes:
        name: Groq's abbreviation, as 429 bodies write it (``"RPM"``).
        field: its field in ``ModelLimits``, ``LimitSources`` and the shared store (``"rpm"``).
        kind: what it counts: ``requests``, ``tokens``, ``input_tokens`` (uncached prompt) or
            ``output_tokens`` (completion, reasoning included).
        span: ``minute`` or ``day``.
        remaining: the ``BudgetSnapshot`` field with the room left in it.
        reset: the ``BudgetSnapshot`` field with the seconds until it is full, if the snapshot has one.
    """

    name: str
    field: str
    kind: Literal["requests", "tokens", "input_tokens", "output_tokens"]
    span: Literal["minute", "day"]
    remaining: str
    reset: str | None


WINDOWS: Final = (
    WindowSpec("RPM", "rpm", "requests", "minute", "remaining_requests_minute", "reset_requests_minute"),
    WindowSpec("RPD", "rpd", "requests", "day", "remaining_requests_day", "reset_requests_day"),
    WindowSpec("TPM", "tpm", "tokens", "minute", "remaining_tokens_minute", "reset_tokens_minute"),
    WindowSpec("TPD", "tpd", "tokens", "day", "remaining_tokens_day", "reset_tokens_day"),
    WindowSpec("ITPM", "itpm", "input_tokens", "minute", "remaining_input_tokens_minute", None),
    WindowSpec("OTPM", "otpm", "output_tokens", "minute", "remaining_output_tokens_minute", None),
)

SHARED_WINDOWS: Final = tuple(spec.field for spec in WINDOWS if spec.kind in ("requests", "tokens"))
"""The windows the Redis shared budget keeps (its script knows requests and tokens, not ITPM/OTPM)."""

_BY_NAME: Final = {spec.name: spec for spec in WINDOWS}


def window_named(name: str) -> WindowSpec | None:
    """The window Groq calls ``name`` (any case: ``"RPM"``, ``"rpm"``), or None."""
    return _BY_NAME.get(name.upper())
