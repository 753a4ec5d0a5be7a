"""The rate-limit windows a chat request spends from: one table, so every part uses the same words.

Groq's rate-limits page (console.groq.com/docs/rate-limits, 2026) names the limit types RPM, RPD,
TPM, TPD, ASH, ASD, ITPM and OTPM: :data:`LIMIT_TYPES` lists them all, and the emulator's limiter
reads its windows (period, and the words of its 429 bodies) from it. A chat request spends from six of
them (ASH and ASD are audio seconds): the budget, the shared budget and its Redis keys, the metrics,
the progress and ``rate-limits`` tables all read their rows from :data:`WINDOWS`.
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

__all__ = ["LIMIT_TYPES", "SHARED_WINDOWS", "WINDOWS", "WindowSpec", "window_named"]

_SECONDS: Final = {"minute": 60.0, "hour": 3_600.0, "day": 86_400.0}


class WindowSpec(NamedTuple):
    """One window.

    Attributes:
        name: Groq's abbreviation, as 429 bodies write it (``"RPM"``).
        field: its field in ``ModelLimits``, ``LimitSources`` and the shared store (``"rpm"``).
        kind: what it counts: ``requests``, ``tokens``, ``input_tokens`` (uncached prompt),
            ``output_tokens`` (completion, reasoning included) or ``audio_seconds``.
        span: ``minute``, ``hour`` or ``day``.
        remaining: the ``BudgetSnapshot`` field with the room left in it (None: the client does not
            budget it; audio seconds are the server's business).
        reset: the ``BudgetSnapshot`` field with the seconds until it is full, if the snapshot has one.
    """

    name: str
    field: str
    kind: Literal["requests", "tokens", "input_tokens", "output_tokens", "audio_seconds"]
    span: Literal["minute", "hour", "day"]
    remaining: str | None
    reset: str | None

    @property
    def seconds(self) -> float:
        """The window's length."""
        return _SECONDS[self.span]

    @property
    def phrase(self) -> str:
        """Groq's words for the window in 429 and 413 bodies: ``"requests per minute (RPM)"``."""
        return f"{self.kind.replace('_', ' ')} per {self.span} ({self.name})"


LIMIT_TYPES: Final = (
    WindowSpec("RPM", "rpm", "requests", "minute", "remaining_requests_minute", "reset_requests_minute"),
    WindowSpec("RPD", "rpd", "requests", "day", "remaining_requests_day", "reset_requests_day"),
    WindowSpec("TPM", "tpm", "tokens", "minute", "remaining_tokens_minute", "reset_tokens_minute"),
    WindowSpec("TPD", "tpd", "tokens", "day", "remaining_tokens_day", "reset_tokens_day"),
    WindowSpec("ITPM", "itpm", "input_tokens", "minute", "remaining_input_tokens_minute", None),
    WindowSpec("OTPM", "otpm", "output_tokens", "minute", "remaining_output_tokens_minute", None),
    WindowSpec("ASH", "ash", "audio_seconds", "hour", None, None),
    WindowSpec("ASD", "asd", "audio_seconds", "day", None, None),
)
"""Every limit type of Groq's rate-limits page, in its order."""

WINDOWS: Final = tuple(spec for spec in LIMIT_TYPES if spec.remaining is not None)
"""The windows a chat request spends from, which the client budgets."""

SHARED_WINDOWS: Final = tuple(spec.field for spec in WINDOWS if spec.kind in ("requests", "tokens"))
"""The windows the Redis shared budget keeps (its script knows requests and tokens, not ITPM/OTPM)."""

_BY_NAME: Final = {spec.name: spec for spec in WINDOWS}


def window_named(name: str) -> WindowSpec | None:
    """The window Groq calls ``name`` (any case: ``"RPM"``, ``"rpm"``), or None."""
    return _BY_NAME.get(name.upper())
