"""Models Groq has shut down, with the date and Groq's suggested replacement, as data.

A request to a retired model can never succeed, so the client refuses it before sending
(:class:`~orchestrator.ModelDecommissionedError`), and the emulator answers it with Groq's own
400 ``model_decommissioned`` body.

Source: console.groq.com/docs/deprecations (the page lists each model with its shutdown date and
recommended replacement), as read 2026-12; DESIGN.md for the 2026-08-16 shutdown of
``llama-3.1-8b-instant`` and ``llama-3.3-70b-versatile``.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import msgspec

__all__ = ["RETIRED_MODELS", "RetiredModel", "decommissioned_message", "retired_model"]


class RetiredModel(msgspec.Struct, frozen=True):
    """One shut-down model: its id, the day Groq switched it off, and what Groq suggests instead."""

    id: str
    shutdown: datetime.date
    replacement: str | None = None


def _retired(model: str, shutdown: str, replacement: str | None) -> tuple[str, RetiredModel]:
    return model, RetiredModel(model, datetime.date.fromisoformat(shutdown), replacement)


RETIRED_MODELS: Final[Mapping[str, RetiredModel]] = MappingProxyType(
    dict(
        [
            _retired("llama-3.1-8b-instant", "2026-08-16", "openai/gpt-oss-20b"),
            _retired("llama-3.3-70b-versatile", "2026-08-16", "openai/gpt-oss-120b"),
        ]
    )
)


def retired_model(model: str) -> RetiredModel | None:
    """The retirement record of ``model``, or None if Groq still serves it (as far as we know)."""
    return RETIRED_MODELS.get(model)


def decommissioned_message(model: str) -> str:
    """Groq's wording for a request to a retired model (the 400 ``model_decommissioned`` body)."""
    return (
        f"The model `{model}` has been decommissioned and is no longer supported. Please refer to "
        "https://console.groq.com/docs/deprecations for a recommendation on which model to use instead."
    )
