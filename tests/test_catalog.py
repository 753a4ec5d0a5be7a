"""The model catalog: current ids, free-tier limits, unknown-model defaults, refresh from /models."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator._catalog import DEFAULT_CATALOG, ModelCatalog, ModelInfo, unknown_model
from orchestrator._retired import RETIRED_MODELS, current_replacement
from orchestrator._tiers import TIERS
from orchestrator._wire import ModelList, decode_model_list

# The models Groq serves as of 2026-12-01 (console.groq.com/docs/models), id -> (context_window,
# max_completion_tokens) as GROQ-API.md 1.6 (a live /models capture) and the Qwen 3.6 model card give them.
WINDOWS = {
    "openai/gpt-oss-120b": (131072, 65536),
    "openai/gpt-oss-20b": (131072, 65536),
    "openai/gpt-oss-safeguard-20b": (131072, 65536),
    "groq/compound": (131072, 8192),
    "groq/compound-mini": (131072, 8192),
    "qwen/qwen3.6-27b": (131072, 16384),
    "meta-llama/llama-guard-4-12b": (131072, 1024),
    "meta-llama/llama-prompt-guard-2-22m": (512, 512),
    "meta-llama/llama-prompt-guard-2-86m": (512, 512),
    "allam-2-7b": (4096, 4096),
    "whisper-large-v3": (448, 448),
    "whisper-large-v3-turbo": (448, 448),
    "canopylabs/orpheus-v1-english": (4000, 50000),
    "canopylabs/orpheus-arabic-saudi": (4000, 50000),
}


def model_list(*models: dict[str, object]) -> ModelList:
    """A ModelList decoded from a /models body, exactly as the client would receive it."""
    return decode_model_list(json.dumps({"object": "list", "data": [{"object": "model", **m} for m in models]}).encode())


class TestDefaultCatalog:
    @pytest.mark.parametrize(("model_id", "sizes"), WINDOWS.items())
    def test_windows_match_live_list(self, model_id: str, sizes: tuple[int, int]) -> None:
        """Context window and completion cap match the live /models capture."""
        info = DEFAULT_CATALOG.get(model_id)
        assert (info.context_window, info.max_completion_tokens) == sizes

    def test_holds_exactly_the_listed_models(self) -> None:
        """The catalog lists the current ids and nothing retired."""
        assert sorted(info.id for info in DEFAULT_CATALOG) == sorted(WINDOWS)

    def test_no_retired_model_is_listed(self) -> None:
        """A model in the retired table never appears in the built-in catalog."""
        assert not [info.id for info in DEFAULT_CATALOG if info.id in RETIRED_MODELS]

    @pytest.mark.parametrize("model_id", sorted(RETIRED_MODELS))
    def test_every_retired_model_points_at_a_served_one(self, model_id: str) -> None:
        """Following Groq's replacements, every retired model leads to a model the catalog describes."""
        replacement = current_replacement(model_id)
        assert replacement is not None and DEFAULT_CATALOG.known(replacement) and replacement not in RETIRED_MODELS

    @pytest.mark.parametrize(
        ("model_id", "limits"),
        [
            ("openai/gpt-oss-20b", (30, 1_000, 8_000, 200_000)),
            ("openai/gpt-oss-120b", (30, 1_000, 8_000, 200_000)),
            ("groq/compound", (30, 250, 70_000, None)),
            ("allam-2-7b", (30, 7_000, 6_000, 500_000)),
            ("meta-llama/llama-guard-4-12b", (30, 14_400, 15_000, 500_000)),
            ("canopylabs/orpheus-v1-english", (10, 100, 1_200, 3_600)),
        ],
    )
    def test_free_tier_limits(self, model_id: str, limits: tuple[int, int, int, int | None]) -> None:
        """Text and speech models carry their free-tier RPM, RPD, TPM, TPD (None: the page's "-")."""
        info = DEFAULT_CATALOG.get(model_id)
        assert (info.rpm, info.rpd, info.tpm, info.tpd) == limits

    @pytest.mark.parametrize("info", list(DEFAULT_CATALOG), ids=lambda info: info.id)
    def test_limits_come_from_the_free_tier_table(self, info: ModelInfo) -> None:
        """Every limit is the free plan's row in _tiers.TIERS, or the conservative default where it has none."""
        row = TIERS["free"].models.get(info.id)
        defaults = unknown_model(info.id)
        if row is None:
            expected = (defaults.rpm, defaults.rpd, defaults.tpm, defaults.tpd, defaults.ash, defaults.asd)
        else:
            expected = (row.rpm, row.rpd, row.tpm, row.tpd, row.ash, row.asd)
        assert (info.rpm, info.rpd, info.tpm, info.tpd, info.ash, info.asd) == expected

    def test_a_model_without_a_free_row_starts_from_defaults(self) -> None:
        """qwen/qwen3.6-27b came after the free table was captured: it starts from the conservative defaults."""
        assert "qwen/qwen3.6-27b" not in TIERS["free"].models
        info = DEFAULT_CATALOG.get("qwen/qwen3.6-27b")
        assert (info.rpm, info.rpd, info.tpm, info.tpd) == (30, 1_000, 6_000, 100_000)

    @pytest.mark.parametrize("model_id", ["whisper-large-v3", "whisper-large-v3-turbo"])
    def test_whisper_limits_are_audio_seconds(self, model_id: str) -> None:
        """Whisper is limited by requests and audio seconds (ASH, ASD), not tokens."""
        info = DEFAULT_CATALOG.get(model_id)
        assert (info.rpm, info.rpd, info.ash, info.asd, info.tpm, info.tpd) == (20, 2_000, 7_200, 28_800, None, None)

    def test_text_models_have_no_audio_limits(self) -> None:
        """Only audio models carry ASH/ASD."""
        assert all((info.ash is None) == (not info.audio) for info in DEFAULT_CATALOG)

    def test_vision_models(self) -> None:
        """Qwen 3.6 27B (and the multimodal guard) take images; nothing else does."""
        assert {info.id for info in DEFAULT_CATALOG if info.vision} == {
            "qwen/qwen3.6-27b",
            "meta-llama/llama-guard-4-12b",
        }

    def test_qwen_has_tools_json_and_reasoning(self) -> None:
        """Qwen 3.6 27B supports tools and JSON mode beside vision, and is a reasoning model."""
        info = DEFAULT_CATALOG.get("qwen/qwen3.6-27b")
        assert (info.tools, info.json_mode, info.vision, info.reasoning) == (True, True, True, True)

    def test_gpt_oss_are_reasoning_models_with_tools_and_no_vision(self) -> None:
        """The default chat models reason, call tools, do JSON mode, and take no images."""
        infos = [DEFAULT_CATALOG.get(m) for m in ("openai/gpt-oss-20b", "openai/gpt-oss-120b")]
        assert all((i.reasoning, i.tools, i.json_mode, i.vision) == (True, True, True, False) for i in infos)

    def test_compound_takes_no_caller_tools(self) -> None:
        """Compound systems run their own server-side tools and accept none of the caller's."""
        assert not any(DEFAULT_CATALOG.get(m).tools for m in ("groq/compound", "groq/compound-mini"))

    def test_speech_models(self) -> None:
        """The Orpheus models are text-to-speech: flagged speech, neither chat-capable nor speech-to-text."""
        speech = {info.id for info in DEFAULT_CATALOG if info.speech}
        assert speech == {"canopylabs/orpheus-v1-english", "canopylabs/orpheus-arabic-saudi"}
        assert not any(DEFAULT_CATALOG.get(m).audio or DEFAULT_CATALOG.get(m).tools for m in speech)

    def test_audio_models(self) -> None:
        """Both Whisper models transcribe; only whisper-large-v3 translates."""
        audio = {info.id: info.translation for info in DEFAULT_CATALOG if info.audio}
        assert audio == {"whisper-large-v3": True, "whisper-large-v3-turbo": False}

    def test_audio_models_take_no_tools(self) -> None:
        """Audio models are not chat models: no tools, no JSON mode."""
        assert not any(info.tools or info.json_mode for info in DEFAULT_CATALOG if info.audio)

    def test_reasoning_models(self) -> None:
        """gpt-oss and Qwen 3.6 accept reasoning options."""
        assert {info.id for info in DEFAULT_CATALOG if info.reasoning} == {
            "openai/gpt-oss-20b",
            "openai/gpt-oss-120b",
            "openai/gpt-oss-safeguard-20b",
            "qwen/qwen3.6-27b",
        }

    def test_completion_never_exceeds_window(self) -> None:
        """No chat model promises more completion tokens than its context window holds (TTS sizes are not a window)."""
        assert all(info.max_completion_tokens <= info.context_window for info in DEFAULT_CATALOG if not info.speech)


class TestLookup:
    def test_unknown_model_gets_conservative_defaults(self) -> None:
        """An id the catalog never saw gets 8K/4K, tools and JSON, no vision, 30/1000/6000/100000."""
        info = DEFAULT_CATALOG.get("acme/new-model-9000")
        assert (info.id, info.context_window, info.max_completion_tokens, info.vision, info.tools, info.json_mode, info.audio) == (
            "acme/new-model-9000",
            8192,
            4096,
            False,
            True,
            True,
            False,
        )
        assert (info.rpm, info.rpd, info.tpm, info.tpd) == (30, 1_000, 6_000, 100_000)

    @given(st.text(max_size=80))
    def test_get_never_raises(self, model_id: str) -> None:
        """Any text is a valid lookup, answered with that id."""
        assert DEFAULT_CATALOG.get(model_id).id == model_id

    def test_known(self) -> None:
        """known() and ``in`` tell real entries from defaults."""
        assert (DEFAULT_CATALOG.known("qwen/qwen3.6-27b"), DEFAULT_CATALOG.known("nope"), "qwen/qwen3.6-27b" in DEFAULT_CATALOG) == (
            True,
            False,
            True,
        )

    def test_iterates_model_infos(self) -> None:
        """Iteration yields ModelInfo values, as many as len()."""
        infos = list(DEFAULT_CATALOG)
        assert all(isinstance(i, ModelInfo) for i in infos) and len(infos) == len(DEFAULT_CATALOG) == len(WINDOWS)

    def test_model_info_is_frozen(self) -> None:
        """A ModelInfo cannot be changed in place."""
        with pytest.raises(AttributeError):
            DEFAULT_CATALOG.get("openai/gpt-oss-20b").rpm = 1  # type: ignore[misc]

    def test_with_model_replaces_by_id(self) -> None:
        """with_model returns a new catalog with the entry replaced; the old one is unchanged."""
        bigger = msgspec.structs.replace(DEFAULT_CATALOG.get("openai/gpt-oss-20b"), tpm=250_000)
        catalog = DEFAULT_CATALOG.with_model(bigger)
        assert (catalog.get("openai/gpt-oss-20b").tpm, DEFAULT_CATALOG.get("openai/gpt-oss-20b").tpm, len(catalog)) == (
            250_000,
            8_000,
            len(DEFAULT_CATALOG),
        )

    def test_repr(self) -> None:
        """repr counts the models."""
        assert repr(ModelCatalog([unknown_model("a"), unknown_model("b")])) == "<ModelCatalog with 2 models>"


class TestRefreshed:
    def test_updates_known_model(self) -> None:
        """/models' context window, completion cap and active flag replace the catalog's; limits stay."""
        listing = model_list(
            {"id": "openai/gpt-oss-120b", "created": 1754408224, "owned_by": "OpenAI", "active": False, "context_window": 65536, "max_completion_tokens": 16384}
        )
        info = DEFAULT_CATALOG.refreshed(listing).get("openai/gpt-oss-120b")
        assert (info.context_window, info.max_completion_tokens, info.active, info.tpm, info.tools) == (65536, 16384, False, 8_000, True)

    def test_adds_unknown_model_with_defaults(self) -> None:
        """A new id is added with default limits and the list's sizes."""
        listing = model_list({"id": "acme/new-model", "created": 1780000000, "owned_by": "Acme", "active": True, "context_window": 131072, "max_completion_tokens": 8192})
        catalog = DEFAULT_CATALOG.refreshed(listing)
        info = catalog.get("acme/new-model")
        assert (catalog.known("acme/new-model"), info.context_window, info.max_completion_tokens, info.owned_by, info.rpm) == (
            True,
            131072,
            8192,
            "Acme",
            30,
        )

    def test_missing_fields_keep_old_values(self) -> None:
        """A GET /models/{id}-style entry with only id/created/owned_by leaves the sizes alone."""
        catalog = DEFAULT_CATALOG.refreshed(model_list({"id": "qwen/qwen3.6-27b", "created": 1, "owned_by": "Alibaba Cloud"}))
        info = catalog.get("qwen/qwen3.6-27b")
        assert (info.context_window, info.max_completion_tokens, info.active, info.created) == (131072, 16384, True, 1)

    def test_absent_models_are_kept(self) -> None:
        """Models not in the list stay in the new catalog unchanged."""
        catalog = DEFAULT_CATALOG.refreshed(model_list({"id": "x/y"}))
        assert catalog.get("whisper-large-v3") == DEFAULT_CATALOG.get("whisper-large-v3") and len(catalog) == len(WINDOWS) + 1

    def test_original_unchanged(self) -> None:
        """refreshed returns a new catalog and leaves the old one alone."""
        DEFAULT_CATALOG.refreshed(model_list({"id": "openai/gpt-oss-20b", "context_window": 1024}))
        assert DEFAULT_CATALOG.get("openai/gpt-oss-20b").context_window == 131072

    @given(
        st.lists(
            st.fixed_dictionaries(
                {"id": st.text(min_size=1, max_size=30)},
                optional={
                    "context_window": st.integers(min_value=1, max_value=2**31),
                    "max_completion_tokens": st.integers(min_value=1, max_value=2**31),
                    "active": st.booleans(),
                    "owned_by": st.text(max_size=10),
                    "created": st.integers(min_value=0, max_value=2**40),
                },
            ),
            max_size=8,
        )
    )
    def test_every_listed_model_becomes_known(self, models: list[dict[str, object]]) -> None:
        """After a refresh every listed id is known and carries the list's last stated sizes."""
        catalog = DEFAULT_CATALOG.refreshed(model_list(*models))
        last = {m["id"]: m for m in models}
        for model_id, entry in last.items():
            info = catalog.get(str(model_id))
            assert catalog.known(str(model_id))
            if "context_window" in entry:
                assert info.context_window == entry["context_window"]
