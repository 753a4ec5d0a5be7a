"""Test-only catalog entries, so tests of model-dependent behaviour do not hang on which real models Groq keeps.

``THINK_MODEL`` is a Qwen-style reasoning model (``<think>`` tags, ``none``/``default`` efforts, raw by
default), ``PLAIN_MODEL`` a chat model without reasoning or prompt caching, and ``CUSTOM_LIMITS_MODEL`` a
model in no published plan table (so it keeps the catalog's limits). The real GPT-OSS models come from
the default catalog.
"""

from __future__ import annotations

from orchestrator._catalog import DEFAULT_CATALOG, ModelInfo

THINK_MODEL = "qwen/qwen3-emulated"
PLAIN_MODEL = "emulator/plain-chat"
CUSTOM_LIMITS_MODEL = "emulator/custom-limits"

TEST_CATALOG = (
    DEFAULT_CATALOG.with_model(
        ModelInfo(
            id=THINK_MODEL, context_window=131_072, max_completion_tokens=40_960, reasoning=True,
            owned_by="Alibaba Cloud", rpm=60, rpd=1_000, tpm=6_000, tpd=500_000,
        )
    )
    .with_model(ModelInfo(id=PLAIN_MODEL, context_window=131_072, max_completion_tokens=8_192, owned_by="Emulator"))
    .with_model(
        ModelInfo(
            id=CUSTOM_LIMITS_MODEL, context_window=8_192, max_completion_tokens=4_096, owned_by="Emulator",
            rpm=7, rpd=70, tpm=700, tpd=7_000,
        )
    )
)
