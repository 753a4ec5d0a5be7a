"""Tests for endpoint resolution: embedded emulator by default, flags over environment over config file."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator._config import ModelLimits
from orchestrator._endpoint import (
    EMBEDDED_BASE_URL,
    FileSettings,
    load_config_file,
    parse_model_limits,
    resolve_endpoint,
)
from orchestrator._errors import ConfigError

KEY = "gsk_unit_test_key_abcdef"


class TestParseModelLimits:
    def test_four_numbers(self) -> None:
        """MODEL=RPM/RPD/TPM/TPD gives the model and its four limits."""
        assert parse_model_limits("openai/gpt-oss-20b=30/1000/8000/200000") == (
            "openai/gpt-oss-20b", ModelLimits(rpm=30, rpd=1000, tpm=8000, tpd=200000))

    def test_dash_leaves_a_window_to_learn(self) -> None:
        """A dash leaves that window unset (learned from headers)."""
        assert parse_model_limits("openai/gpt-oss-20b=30/-/8000/-")[1] == ModelLimits(rpm=30, tpm=8000)

    @pytest.mark.parametrize("text", ["llama", "=1/2/3/4", "m=1/2/3", "m=1/2/x/4", "m=0/1/1/1"])
    def test_bad_forms(self, text: str) -> None:
        """Malformed limits raise a ConfigError that shows the expected form."""
        with pytest.raises(ConfigError, match="RPM/RPD/TPM/TPD"):
            parse_model_limits(text)


class TestResolveEndpoint:
    def test_nothing_set_means_embedded(self) -> None:
        """No key and no base URL: the embedded emulator, announced in one line."""
        endpoint = resolve_endpoint(environ={})
        assert (endpoint.emulator is not None, endpoint.config.base_url, endpoint.description) == (
            True, EMBEDDED_BASE_URL, "embedded emulator")
        assert endpoint.notice is not None and "\n" not in endpoint.notice

    def test_key_means_groq(self) -> None:
        """A key and no URL: Groq itself, no notice."""
        endpoint = resolve_endpoint(environ={"GROQ_API_KEY": KEY})
        assert (endpoint.emulator, endpoint.notice, endpoint.config.base_url) == (
            None, None, "https://api.groq.com/openai/v1")

    def test_loopback_url_without_key_gets_placeholder(self) -> None:
        """A loopback URL without a key is used with a placeholder gsk_ key."""
        endpoint = resolve_endpoint(environ={}, base_url="http://127.0.0.1:8000/openai/v1")
        assert (endpoint.emulator, endpoint.config.api_key.get_secret_value().startswith("gsk_")) == (None, True)

    def test_remote_url_without_key_is_refused(self) -> None:
        """A remote URL without a key is a ConfigError naming the variable to set."""
        with pytest.raises(ConfigError, match="GROQ_API_KEY"):
            resolve_endpoint(environ={}, base_url="https://api.groq.com/openai/v1")

    def test_precedence_flag_env_file(self) -> None:
        """Flags beat the environment, which beats the config file."""
        file = FileSettings(timeout=11.0, max_retries=7, base_url="http://127.0.0.1:1/openai/v1")
        env = {"GROQ_API_KEY": KEY, "GROQ_TIMEOUT": "22"}
        endpoint = resolve_endpoint(environ=env, file=file, max_retries=1)
        assert (endpoint.config.timeout, endpoint.config.max_retries, endpoint.config.base_url) == (
            22.0, 1, "http://127.0.0.1:1/openai/v1")

    def test_api_key_env_names_the_variable(self) -> None:
        """api_key_env in the file picks the variable that holds the key."""
        endpoint = resolve_endpoint(environ={"MY_KEY": KEY}, file=FileSettings(api_key_env="MY_KEY"))
        assert (endpoint.emulator, endpoint.config.api_key.get_secret_value()) == (None, KEY)

    def test_limits_merge_file_then_flags(self) -> None:
        """Per-model limits from flags override the file's for the same model and keep the others."""
        file = FileSettings(limits={"a": "1/2/3/4", "b": {"rpm": 5}})
        endpoint = resolve_endpoint(environ={"GROQ_API_KEY": KEY}, file=file, limits={"a": ModelLimits(rpm=9)})
        assert dict(endpoint.config.rate_limit_config.model_limits) == {
            "a": ModelLimits(rpm=9), "b": ModelLimits(rpm=5)}

    def test_concurrency_sets_workers(self) -> None:
        """concurrency becomes the client's worker count."""
        assert resolve_endpoint(environ={}, concurrency=7).config.workers == 7


class TestConfigFile:
    def test_reads_settings(self, tmp_path: Path) -> None:
        """A TOML file's settings are read."""
        path = tmp_path / "c.toml"
        path.write_text('timeout = 5\nconcurrency = 3\n[limits]\n"m" = "1/-/3/-"\n')
        assert load_config_file(path) == FileSettings(timeout=5.0, concurrency=3, limits={"m": "1/-/3/-"})

    def test_api_key_refused(self, tmp_path: Path) -> None:
        """A file holding api_key is refused without repeating the key."""
        path = tmp_path / "c.toml"
        path.write_text('api_key = "gsk_secret_in_file_123"\n')
        with pytest.raises(ConfigError) as info:
            load_config_file(path)
        assert "api_key_env" in str(info.value) and "gsk_secret_in_file_123" not in str(info.value)

    def test_unknown_key_refused(self, tmp_path: Path) -> None:
        """An unknown key is refused by name."""
        path = tmp_path / "c.toml"
        path.write_text("workers = 3\n")
        with pytest.raises(ConfigError, match="workers"):
            load_config_file(path)

    def test_not_toml(self, tmp_path: Path) -> None:
        """A file that is not TOML is refused, naming the file."""
        path = tmp_path / "c.toml"
        path.write_text("= nope")
        with pytest.raises(ConfigError, match="TOML"):
            load_config_file(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        """A missing file is refused, naming it."""
        with pytest.raises(ConfigError, match="missing.toml"):
            load_config_file(tmp_path / "missing.toml")
