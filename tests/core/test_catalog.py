"""The model catalog: current ids, free-tier limits, unknown-model defaults, refresh from /models."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator._catalog import DEFAULT_CATALOG, ModelCatalog, ModelInfo, unknown_model
from orchestrator._wire import ModelList, decode_model_list

# GROQ-API.md 1.6: id -> (context_window, max_completion_tokens).
WINDOWS = {
    "llama-3.1-8b-instant": (131072, 131072),
    "llama-3.3-70b-versatile": (131072, 32768),
    "openai/gpt-oss-120b": (131072, 65536),
    "openai/gpt-oss-20b": (131072, 65536),
    "openai/gpt-oss-safeguard-20b": (131072, 65536),
    "meta-llama/llama-4-scout-17b-16e-instruct": (131072, 8192),
    "meta-llama/llama-4-maverick-17b-128e-instruct": (131072, 8192),
    "qwen/qwen3-32b": (131072, 40960),
    "moonshotai/kimi-k2-instruct-0905": (262144, 16384),
    "moonshotai/kimi-k2-instruct": (131072, 16384),
    "meta-llama/llama-guard-4-12b": (131072, 1024),
    "meta-llama/llama-prompt-guard-2-22m": (512, 512),
    "meta-llama/llama-prompt-guard-2-86m": (512, 512),
    "allam-2-7b": (4096, 4096),
    "whisper-large-v3": (448, 448),
    "whisper-large-v3-turbo": (448, 448),
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

    @pytest.mark.parametrize(
        ("model_id", "limits"),
        [
            ("llama-3.1-8b-instant", (30, 14_400, 6_000, 500_000)),
            ("llama-3.3-70b-versatile", (30, 1_000, 12_000, 100_000)),
            ("meta-llama/llama-4-scout-17b-16e-instruct", (30, 1_000, 30_000, 500_000)),
            ("openai/gpt-oss-120b", (30, 1_000, 8_000, 200_000)),
            ("qwen/qwen3-32b", (60, 1_000, 6_000, 500_000)),
            ("moonshotai/kimi-k2-instruct-0905", (60, 1_000, 10_000, 300_000)),
        ],
    )
    def test_free_tier_limits(self, model_id: str, limits: tuple[int, int, int, int]) -> None:
        """Text models carry their free-tier RPM, RPD, TPM, TPD."""
        info = DEFAULT_CATALOG.get(model_id)
        assert (info.rpm, info.rpd, info.tpm, info.tpd) == limits

    @pytest.mark.parametrize("model_id", ["whisper-large-v3", "whisper-large-v3-turbo"])
    def test_whisper_limits_are_audio_seconds(self, model_id: str) -> None:
        """Whisper is limited by requests and audio seconds (ASH, ASD), not tokens."""
        info = DEFAULT_CATALOG.get(model_id)
        assert (info.rpm, info.rpd, info.ash, info.asd, info.tpm, info.tpd) == (20, 2_000, 7_200, 28_800, None, None)

    def test_text_models_have_no_audio_limits(self) -> None:
        """Only audio models carry ASH/ASD."""
        assert all((info.ash is None) == (not info.audio) for info in DEFAULT_CATALOG)

    def test_vision_models(self) -> None:
        """Llama 4 Scout and Maverick (and the multimodal guard) take images; nothing else does."""
        assert {info.id for info in DEFAULT_CATALOG if info.vision} == {
            "meta-llama/llama-4-scout-17b-16e-instruct",
            "meta-llama/llama-4-maverick-17b-128e-instruct",
            "meta-llama/llama-guard-4-12b",
        }

    def test_llama4_has_tools_and_json(self) -> None:
        """Scout and Maverick support tools and JSON mode beside vision."""
        infos = [DEFAULT_CATALOG.get(m) for m in WINDOWS if "llama-4" in m]
        assert len(infos) == 2 and all(i.tools and i.json_mode for i in infos)

    def test_audio_models(self) -> None:
        """Both Whisper models transcribe; only whisper-large-v3 translates."""
        audio = {info.id: info.translation for info in DEFAULT_CATALOG if info.audio}
        assert audio == {"whisper-large-v3": True, "whisper-large-v3-turbo": False}

    def test_audio_models_take_no_tools(self) -> None:
        """Audio models are not chat models: no tools, no JSON mode."""
        assert not any(info.tools or info.json_mode for info in DEFAULT_CATALOG if info.audio)

    def test_reasoning_models(self) -> None:
        """gpt-oss and qwen3 accept reasoning options."""
        assert {info.id for info in DEFAULT_CATALOG if info.reasoning} == {
            "openai/gpt-oss-20b",
            "openai/gpt-oss-120b",
            "openai/gpt-oss-safeguard-20b",
            "qwen/qwen3-32b",
        }

    def test_completion_never_exceeds_window(self) -> None:
        """No model promises more completion tokens than its context window holds."""
        assert all(info.max_completion_tokens <= info.context_window for info in DEFAULT_CATALOG)


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
        assert (DEFAULT_CATALOG.known("qwen/qwen3-32b"), DEFAULT_CATALOG.known("nope"), "qwen/qwen3-32b" in DEFAULT_CATALOG) == (
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
            DEFAULT_CATALOG.get("llama-3.1-8b-instant").rpm = 1  # type: ignore[misc]

    def test_with_model_replaces_by_id(self) -> None:
        """with_model returns a new catalog with the entry replaced; the old one is unchanged."""
        bigger = msgspec.structs.replace(DEFAULT_CATALOG.get("llama-3.1-8b-instant"), tpm=250_000)
        catalog = DEFAULT_CATALOG.with_model(bigger)
        assert (catalog.get("llama-3.1-8b-instant").tpm, DEFAULT_CATALOG.get("llama-3.1-8b-instant").tpm, len(catalog)) == (
            250_000,
            6_000,
            len(DEFAULT_CATALOG),
        )

    def test_repr(self) -> None:
        """repr counts the models."""
        assert repr(ModelCatalog([unknown_model("a"), unknown_model("b")])) == "<ModelCatalog with 2 models>"


class TestRefreshed:
    def test_updates_known_model(self) -> None:
        """/models' context window, completion cap and active flag replace the catalog's; limits stay."""
        listing = model_list(
            {"id": "llama-3.3-70b-versatile", "created": 1733447754, "owned_by": "Meta", "active": False, "context_window": 65536, "max_completion_tokens": 16384}
        )
        info = DEFAULT_CATALOG.refreshed(listing).get("llama-3.3-70b-versatile")
        assert (info.context_window, info.max_completion_tokens, info.active, info.tpm, info.tools) == (65536, 16384, False, 12_000, True)

    def test_adds_unknown_model_with_defaults(self) -> None:
        """A new id is added with default limits and the list's sizes."""
        listing = model_list({"id": "groq/compound", "created": 1756949530, "owned_by": "Groq", "active": True, "context_window": 131072, "max_completion_tokens": 8192})
        catalog = DEFAULT_CATALOG.refreshed(listing)
        info = catalog.get("groq/compound")
        assert (catalog.known("groq/compound"), info.context_window, info.max_completion_tokens, info.owned_by, info.rpm) == (
            True,
            131072,
            8192,
            "Groq",
            30,
        )

    def test_missing_fields_keep_old_values(self) -> None:
        """A GET /models/{id}-style entry with only id/created/owned_by leaves the sizes alone."""
        catalog = DEFAULT_CATALOG.refreshed(model_list({"id": "qwen/qwen3-32b", "created": 1, "owned_by": "Alibaba Cloud"}))
        info = catalog.get("qwen/qwen3-32b")
        assert (info.context_window, info.max_completion_tokens, info.active, info.created) == (131072, 40960, True, 1)

    def test_absent_models_are_kept(self) -> None:
        """Models not in the list stay in the new catalog unchanged."""
        catalog = DEFAULT_CATALOG.refreshed(model_list({"id": "x/y"}))
        assert catalog.get("whisper-large-v3") == DEFAULT_CATALOG.get("whisper-large-v3") and len(catalog) == len(WINDOWS) + 1

    def test_original_unchanged(self) -> None:
        """refreshed returns a new catalog and leaves the old one alone."""
        DEFAULT_CATALOG.refreshed(model_list({"id": "llama-3.1-8b-instant", "context_window": 1024}))
        assert DEFAULT_CATALOG.get("llama-3.1-8b-instant").context_window == 131072

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
