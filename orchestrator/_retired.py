"""Models Groq has shut down, with the date and Groq's suggested replacement, as data.

A request to a retired model can never succeed, so the client refuses it before sending
(:class:`~orchestrator.ModelDecommissionedError`), and the emulator answers it with Groq's own
400 ``model_decommissioned`` body.

Source: console.groq.com/docs/deprecations (the page lists each model with its shutdown date and
recommended replacement), as read 2026-12-01. The page itself is only partly stored where we can
read it, so every row below was checked against a copy that quotes it:

- 2026-08-16 ``llama-3.1-8b-instant`` -> ``openai/gpt-oss-20b`` and ``llama-3.3-70b-versatile`` ->
  ``openai/gpt-oss-120b`` (the page also names ``qwen/qwen3.6-27b``): DESIGN.md; Groq's notice of
  2026-06-17 quoted in scienceverse/metacheck#319 and karthink/gptel#1478; promptfoo/promptfoo#9933.
- 2026-07-17 ``qwen/qwen3-32b`` -> ``openai/gpt-oss-120b`` and
  ``meta-llama/llama-4-scout-17b-16e-instruct`` -> "``openai/gpt-oss-120b`` or ``qwen/qwen3.6-27b``"
  (we record ``qwen/qwen3.6-27b``, the one that also takes images, as Scout did): the page's section
  "July 17, 2026" quoted in MNeMoNiCuZ/ComfyUI-mnemic-nodes#39; groq/groq-changelog#20.
- 2026-04-15 ``moonshotai/kimi-k2-instruct-0905``, 2026-03-09
  ``meta-llama/llama-4-maverick-17b-128e-instruct``, 2025-10-10 ``moonshotai/kimi-k2-instruct``,
  2025-10-08 ``gemma2-9b-it``, 2025-10-02 ``deepseek-r1-distill-llama-70b``, 2025-08-30
  ``llama3-70b-8192`` / ``llama3-8b-8192``, 2025-07-30 ``mistral-saba-24b``, 2025-07-14
  ``qwen-qwq-32b``: the table in gsd-build/gsd-2#4273 ("Reference: console.groq.com/docs/deprecations").
- 2025-08-23 ``distil-whisper-large-v3-en`` -> ``whisper-large-v3-turbo``: Groq's notice quoted in
  fabio-garavini/ha-openai-whisper-stt-api#13. 2025-06-06 ``llama-guard-3-8b`` ->
  ``meta-llama/llama-guard-4-12b``: AstraBert/llama-4-researcher#10.
- 2025-04-14 and earlier (the Llama 3.2 previews, the specdec and tool-use previews, Qwen 2.5,
  Mixtral, Gemma 7B, LLaVA): a deprecation table copied from the page into a public chat UI's
  model service (shutdown dates and first-listed replacements as it gives them).

Left out for want of a shutdown date we could confirm: ``playai-tts`` and ``playai-tts-arabic``
(replaced by the Orpheus models), and ``groq/compound``, for which one user report
(accuguide/accuguide#248) gives 2026-09-21 while Groq's models page still lists it.

A recommended replacement may itself have been retired since (``gemma2-9b-it`` was sent to
``llama-3.1-8b-instant``); :func:`current_replacement` follows such chains to a model Groq serves.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import msgspec

__all__ = ["RETIRED_MODELS", "RetiredModel", "current_replacement", "decommissioned_message", "retired_model"]


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
            _retired("qwen/qwen3-32b", "2026-07-17", "openai/gpt-oss-120b"),
            _retired("meta-llama/llama-4-scout-17b-16e-instruct", "2026-07-17", "qwen/qwen3.6-27b"),
            _retired("moonshotai/kimi-k2-instruct-0905", "2026-04-15", "openai/gpt-oss-120b"),
            _retired("meta-llama/llama-4-maverick-17b-128e-instruct", "2026-03-09", "openai/gpt-oss-120b"),
            _retired("moonshotai/kimi-k2-instruct", "2025-10-10", "openai/gpt-oss-120b"),
            _retired("gemma2-9b-it", "2025-10-08", "llama-3.1-8b-instant"),
            _retired("deepseek-r1-distill-llama-70b", "2025-10-02", "llama-3.3-70b-versatile"),
            _retired("llama3-70b-8192", "2025-08-30", "llama-3.3-70b-versatile"),
            _retired("llama3-8b-8192", "2025-08-30", "llama-3.1-8b-instant"),
            _retired("distil-whisper-large-v3-en", "2025-08-23", "whisper-large-v3-turbo"),
            _retired("mistral-saba-24b", "2025-07-30", "qwen/qwen3-32b"),
            _retired("qwen-qwq-32b", "2025-07-14", "qwen/qwen3-32b"),
            _retired("llama-guard-3-8b", "2025-06-06", "meta-llama/llama-guard-4-12b"),
            _retired("llama-3.2-1b-preview", "2025-04-14", "llama-3.1-8b-instant"),
            _retired("llama-3.2-3b-preview", "2025-04-14", "llama-3.1-8b-instant"),
            _retired("llama-3.2-11b-vision-preview", "2025-04-14", "meta-llama/llama-4-scout-17b-16e-instruct"),
            _retired("llama-3.2-90b-vision-preview", "2025-04-14", "meta-llama/llama-4-scout-17b-16e-instruct"),
            _retired("deepseek-r1-distill-qwen-32b", "2025-04-14", "qwen-qwq-32b"),
            _retired("qwen-2.5-32b", "2025-04-14", "qwen-qwq-32b"),
            _retired("qwen-2.5-coder-32b", "2025-04-14", "qwen-qwq-32b"),
            _retired("llama-3.3-70b-specdec", "2025-04-14", "meta-llama/llama-4-scout-17b-16e-instruct"),
            _retired("deepseek-r1-distill-llama-70b-specdec", "2025-03-24", "deepseek-r1-distill-llama-70b"),
            _retired("mixtral-8x7b-32768", "2025-03-20", "mistral-saba-24b"),
            _retired("llama-3.1-70b-versatile", "2025-01-24", "llama-3.3-70b-versatile"),
            _retired("llama-3.1-70b-specdec", "2025-01-24", "llama-3.3-70b-specdec"),
            _retired("llama3-groq-8b-8192-tool-use-preview", "2025-01-06", "llama-3.3-70b-versatile"),
            _retired("llama3-groq-70b-8192-tool-use-preview", "2025-01-06", "llama-3.3-70b-versatile"),
            _retired("gemma-7b-it", "2024-12-18", "gemma2-9b-it"),
            _retired("llama-3.2-90b-text-preview", "2024-11-25", "llama-3.2-90b-vision-preview"),
            _retired("llava-v1.5-7b-4096-preview", "2024-10-28", "llama-3.2-11b-vision-preview"),
            _retired("llama-3.2-11b-text-preview", "2024-10-28", "llama-3.2-11b-vision-preview"),
        ]
    )
)


def retired_model(model: str) -> RetiredModel | None:
    """The retirement record of ``model``, or None if Groq still serves it (as far as we know)."""
    return RETIRED_MODELS.get(model)


def current_replacement(model: str) -> str | None:
    """What to use instead of a retired ``model`` today: its recommended replacement, followed
    through replacements that were retired in turn, or None if ``model`` is not retired (or Groq
    named no replacement)."""
    record = RETIRED_MODELS.get(model)
    seen = {model}
    while record is not None and record.replacement is not None:
        successor = record.replacement
        if successor in seen:  # a cycle in the table: stop at the last step rather than loop
            return successor
        seen.add(successor)
        record = RETIRED_MODELS.get(successor)
        if record is None:
            return successor
    return None


def decommissioned_message(model: str) -> str:
    """Groq's wording for a request to a retired model (the 400 ``model_decommissioned`` body)."""
    return (
        f"The model `{model}` has been decommissioned and is no longer supported. Please refer to "
        "https://console.groq.com/docs/deprecations for a recommendation on which model to use instead."
    )
