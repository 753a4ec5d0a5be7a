"""Retired models: the dated table, ModelDecommissionedError, refusal before sending, and model_map."""

from __future__ import annotations

import datetime
import json
import pickle

import pytest

import orchestrator
from orchestrator._catalog import DEFAULT_CATALOG, ModelInfo
from orchestrator._config import Config, parse_model_mapping
from orchestrator._errors import ConfigError, ModelDecommissionedError, ValidationError, error_from_response
from orchestrator._retired import RETIRED_MODELS, RetiredModel, current_replacement, decommissioned_message, retired_model
from orchestrator._validation import validate_chat_request, validate_transcription
from orchestrator._wire import chat_request_from

KEY = "gsk_test_key_0123456789"


def chat(model: str) -> object:
    return chat_request_from({"model": model, "messages": [{"role": "user", "content": "hi"}]})


def transcription(model: str) -> None:
    validate_transcription(
        model=model, filename="a.wav", size=100, url=None, language=None, prompt=None, response_format="json",
        temperature=None, timestamp_granularities=None, translation=False, catalog=DEFAULT_CATALOG,
    )


def groq_body(model: str) -> bytes:
    """Groq's own answer to a request for a shut-down model."""
    return json.dumps({"error": {"message": decommissioned_message(model), "type": "invalid_request_error",
                                 "code": "model_decommissioned"}}).encode()


class TestTable:
    @pytest.mark.parametrize(
        ("model", "shutdown", "replacement"),
        [
            ("llama-3.1-8b-instant", "2026-08-16", "openai/gpt-oss-20b"),
            ("llama-3.3-70b-versatile", "2026-08-16", "openai/gpt-oss-120b"),
            ("qwen/qwen3-32b", "2026-07-17", "openai/gpt-oss-120b"),
            ("meta-llama/llama-4-scout-17b-16e-instruct", "2026-07-17", "qwen/qwen3.6-27b"),
            ("moonshotai/kimi-k2-instruct-0905", "2026-04-15", "openai/gpt-oss-120b"),
            ("meta-llama/llama-4-maverick-17b-128e-instruct", "2026-03-09", "openai/gpt-oss-120b"),
            ("gemma2-9b-it", "2025-10-08", "llama-3.1-8b-instant"),
            ("distil-whisper-large-v3-en", "2025-08-23", "whisper-large-v3-turbo"),
            ("mixtral-8x7b-32768", "2025-03-20", "mistral-saba-24b"),
        ],
    )
    def test_rows_from_the_deprecations_page(self, model: str, shutdown: str, replacement: str) -> None:
        """Each row holds the page's shutdown date and recommended replacement."""
        assert retired_model(model) == RetiredModel(model, datetime.date.fromisoformat(shutdown), replacement)

    def test_served_models_are_not_retired(self) -> None:
        """A model Groq serves has no retirement record."""
        assert [m for m in ("openai/gpt-oss-20b", "qwen/qwen3.6-27b", "whisper-large-v3") if retired_model(m)] == []

    def test_every_row_is_keyed_by_its_own_id_and_dated_in_the_past(self) -> None:
        """The table's keys are the records' ids, and every shutdown happened before this table was written."""
        assert all(key == record.id and record.shutdown <= datetime.date(2026, 12, 1)
                   for key, record in RETIRED_MODELS.items())

    def test_current_replacement_follows_retired_replacements(self) -> None:
        """gemma2-9b-it was sent to llama-3.1-8b-instant, itself retired since: today's answer is gpt-oss-20b."""
        assert (current_replacement("gemma2-9b-it"), current_replacement("gemma-7b-it"),
                current_replacement("openai/gpt-oss-20b")) == ("openai/gpt-oss-20b", "openai/gpt-oss-20b", None)

    def test_groq_wording(self) -> None:
        """The message is Groq's own, naming the model and the deprecations page."""
        text = decommissioned_message("llama-3.1-8b-instant")
        assert text.startswith("The model `llama-3.1-8b-instant` has been decommissioned") and "docs/deprecations" in text


class TestError:
    def test_is_a_non_retryable_validation_error(self) -> None:
        """It sits under ValidationError (a 400 invalid request) and is never retried."""
        error = ModelDecommissionedError(model="llama-3.3-70b-versatile")
        assert isinstance(error, ValidationError) and not error.retryable

    def test_attributes_come_from_the_table(self) -> None:
        """model, shutdown and replacement are filled from the retired table."""
        error = ModelDecommissionedError(model="llama-3.3-70b-versatile")
        assert (error.model, error.shutdown, error.replacement, error.code, error.field) == (
            "llama-3.3-70b-versatile", datetime.date(2026, 8, 16), "openai/gpt-oss-120b", "model_decommissioned", "model")

    def test_message_names_model_date_replacement_and_how_to_move(self) -> None:
        """str() says which model, when, what instead, and both ways to move: --model-map and model_map."""
        text = str(ModelDecommissionedError(model="llama-3.1-8b-instant"))
        for part in ("'llama-3.1-8b-instant'", "2026-08-16", "'openai/gpt-oss-20b'",
                     "--model-map llama-3.1-8b-instant=openai/gpt-oss-20b", "model_map"):
            assert part in text, part
        assert "\n" not in text

    def test_unknown_model_still_gives_advice(self) -> None:
        """A model the table does not know gets None for date and replacement and a pointer to /models."""
        error = ModelDecommissionedError("The model `acme-1` has been decommissioned and is no longer supported.")
        assert (error.model, error.shutdown, error.replacement) == ("acme-1", None, None)
        assert "client.models.list()" in str(error) and "--model-map acme-1=NEW" in str(error)

    def test_groq_400_maps_to_it_with_the_table_filled_in(self) -> None:
        """Groq's 400 model_decommissioned body becomes this error, model parsed from the message."""
        error = error_from_response(400, {"x-request-id": "req_9"}, groq_body("llama-3.1-8b-instant"))
        assert type(error) is ModelDecommissionedError
        assert (error.status, error.request_id, error.model, error.shutdown, error.replacement) == (
            400, "req_9", "llama-3.1-8b-instant", datetime.date(2026, 8, 16), "openai/gpt-oss-20b")

    def test_message_without_backticks_still_names_the_model(self) -> None:
        """Older answers wrote the id bare: 'The model gemma2-9b-it has been decommissioned'."""
        body = json.dumps({"error": {"message": "The model gemma2-9b-it has been decommissioned and is no longer "
                                                "supported.", "code": "model_decommissioned"}}).encode()
        error = error_from_response(400, {}, body)
        assert (type(error), error.model, error.replacement) == (ModelDecommissionedError, "gemma2-9b-it",
                                                                 "openai/gpt-oss-20b")

    def test_pickles_with_its_attributes(self) -> None:
        """It survives a process pool."""
        clone = pickle.loads(pickle.dumps(ModelDecommissionedError(model="qwen/qwen3-32b")))
        assert (clone.model, clone.shutdown, clone.replacement) == ("qwen/qwen3-32b", datetime.date(2026, 7, 17),
                                                                    "openai/gpt-oss-120b")

    def test_exported(self) -> None:
        """orchestrator.ModelDecommissionedError is the class, in __all__."""
        assert orchestrator.ModelDecommissionedError is ModelDecommissionedError
        assert "ModelDecommissionedError" in orchestrator.__all__


class TestValidation:
    @pytest.mark.parametrize("model", ["llama-3.1-8b-instant", "llama-3.3-70b-versatile", "qwen/qwen3-32b"])
    def test_chat_to_a_retired_model_is_refused(self, model: str) -> None:
        """validate_chat_request raises ModelDecommissionedError for every retired chat model."""
        with pytest.raises(ModelDecommissionedError) as caught:
            validate_chat_request(chat(model), DEFAULT_CATALOG)  # type: ignore[arg-type]
        assert caught.value.model == model and caught.value.replacement is not None

    def test_transcription_to_a_retired_model_is_refused(self) -> None:
        """distil-whisper-large-v3-en is refused before the upload."""
        with pytest.raises(ModelDecommissionedError) as caught:
            transcription("distil-whisper-large-v3-en")
        assert caught.value.replacement == "whisper-large-v3-turbo"

    def test_a_catalog_that_lists_the_model_wins(self) -> None:
        """When /models lists a retired id (kept for an enterprise contract), the request is allowed."""
        listed = DEFAULT_CATALOG.with_model(ModelInfo(id="llama-3.3-70b-versatile", context_window=131072,
                                                      max_completion_tokens=32768))
        validate_chat_request(chat("llama-3.3-70b-versatile"), listed)  # type: ignore[arg-type]

    def test_unknown_models_are_still_let_through(self) -> None:
        """A model neither catalogued nor retired is not refused: Groq has the last word."""
        validate_chat_request(chat("acme/brand-new-model"), DEFAULT_CATALOG)  # type: ignore[arg-type]

    def test_speech_models_are_not_chat_models(self) -> None:
        """An Orpheus TTS model is refused for chat, naming the model field."""
        with pytest.raises(ValidationError) as caught:
            validate_chat_request(chat("canopylabs/orpheus-v1-english"), DEFAULT_CATALOG)  # type: ignore[arg-type]
        assert (caught.value.field, caught.value.rule) == ("model", "chat_model")


class TestModelMap:
    def test_config_keeps_the_mapping_read_only(self) -> None:
        """Config(model_map=...) validates and freezes the mapping."""
        config = Config(api_key=KEY, model_map={"llama-3.1-8b-instant": "openai/gpt-oss-20b"})
        assert dict(config.model_map) == {"llama-3.1-8b-instant": "openai/gpt-oss-20b"}
        with pytest.raises(TypeError):
            config.model_map["x"] = "y"  # type: ignore[index]

    @pytest.mark.parametrize(
        ("mapping", "field", "fragment"),
        [
            ({"a": "a"}, "model_map['a']", "itself"),
            ({"": "b"}, "model_map", "non-empty"),
            ({"a": ""}, "model_map['a']", "non-empty"),
            ({"a b": "c"}, "model_map", "whitespace"),
            ({"a": 5}, "model_map['a']", "non-empty strings"),
            (["a=b"], "model_map", "mapping"),
        ],
    )
    def test_bad_mappings_are_config_errors(self, mapping: object, field: str, fragment: str) -> None:
        """Each bad entry is a ConfigError naming the field, with the value."""
        with pytest.raises(ConfigError) as caught:
            Config(api_key=KEY, model_map=mapping)  # type: ignore[arg-type]
        assert (caught.value.field, fragment in str(caught.value)) == (field, True)

    def test_parse_old_equals_new(self) -> None:
        """--model-map OLD=NEW parses to the pair, spaces around the ids ignored."""
        assert parse_model_mapping(" llama-3.1-8b-instant = openai/gpt-oss-20b ") == (
            "llama-3.1-8b-instant", "openai/gpt-oss-20b")

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [("llama-3.1-8b-instant", "OLD=NEW"), ("=openai/gpt-oss-20b", "empty old"), ("a=", "empty new"),
         ("a=a", "itself"), ("a b=c", "whitespace")],
    )
    def test_parse_refuses_bad_text(self, text: str, fragment: str) -> None:
        """No '=', an empty side or a self-mapping is a ConfigError naming model_map and the text."""
        with pytest.raises(ConfigError) as caught:
            parse_model_mapping(text)
        assert (caught.value.field, caught.value.value, fragment in str(caught.value)) == ("model_map", text, True)

    def test_refresh_catalog_must_be_a_boolean_or_none(self) -> None:
        """refresh_catalog takes True, False or None (automatic) only."""
        assert Config(api_key=KEY).refresh_catalog is None
        with pytest.raises(ConfigError) as caught:
            Config(api_key=KEY, refresh_catalog="yes")  # type: ignore[arg-type]
        assert caught.value.field == "refresh_catalog"
