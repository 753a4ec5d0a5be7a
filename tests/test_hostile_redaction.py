"""A key pasted into the wrong place is never echoed: not in an error message, not on stderr, not in a results file.

The four ways it happens (issue 18, item 6): ``--base-url https://user:KEY@host``, ``GROQ_BASE_URL=$KEY``,
``GROQ_TIMEOUT=$KEY`` and ``--model $KEY`` (which a 404 quotes back). The CLI runs in-process through
``orchestrator._cli.main`` against the embedded emulator; nothing leaves the machine.
"""

from __future__ import annotations

import json
import traceback
from pathlib import Path

import pytest

from orchestrator._cli import main
from orchestrator._config import Config, _redacted
from orchestrator._errors import ConfigError, ModelError, ValidationError, error_from_response
from orchestrator._secret import MASK, redact_text, short_repr

KEY = "gsk_live_SECRET_9f8e7d6c5b4a39281706abcdef"
OTHER_KEY = "gsk_live_other_0123456789abcdefghij"
MODEL = "openai/gpt-oss-20b"


def leaks(text: str) -> bool:
    """Whether ``text`` shows the key, or its body without the ``gsk_`` prefix."""
    return KEY in text or KEY[4:] in text


@pytest.fixture(autouse=True)
def no_groq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with nothing set up: no key, no base URL, no timeout."""
    for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "GROQ_TIMEOUT", "GROQ_MAX_RETRIES", "GROQ_ORCH_REDIS_URL",
                 "GROQ_ORCH_TIER"):
        monkeypatch.delenv(name, raising=False)


class TestRedactText:
    @pytest.mark.parametrize(("text", "shown"), [
        (f"model {KEY} unknown", f"model {MASK} unknown"),
        (f"https://user:{KEY}@api.example.com/v1", "https://user:***@api.example.com/v1"),
        ("redis://:hunter2@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("https://ghp_token123@github.com/x", "https://***@github.com/x"),
        ("sent Authorization: Bearer abc.def.ghi", f"sent Authorization: Bearer {MASK}"),
        ("key sk-proj-abcdefgh12345678 here", f"key {MASK} here"),
    ])
    def test_credentials_are_masked_and_the_rest_kept(self, text: str, shown: str) -> None:
        """Groq and OpenAI-style keys, Bearer values and URL userinfo are masked; the text around them stays."""
        assert redact_text(text) == shown

    @pytest.mark.parametrize("text", [
        "plain words", "https://api.groq.com/openai/v1", "task-force-member-2024", "see a@b.com",
        "export GROQ_API_KEY=gsk_...",
    ])
    def test_text_without_credentials_comes_back_as_the_same_object(self, text: str) -> None:
        """Nothing to mask: the very same string (callers test identity to skip copies)."""
        assert redact_text(text) is text

    def test_the_url_redactor_of_the_config_is_the_same_function(self) -> None:
        """Config's URL redaction (Redis URLs, the budget's display URL) is redact_text, not a second copy."""
        assert _redacted("redis://user:pw@h:1/0") == "redis://user:***@h:1/0" == redact_text("redis://user:pw@h:1/0")

    def test_short_repr_masks_before_it_cuts(self) -> None:
        """A key past the cut, or inside a container, is masked, not half shown."""
        assert not leaks(short_repr("x" * 100 + KEY)) and not leaks(short_repr({"a": [KEY]}))


class TestErrorsRedactWhatTheyEcho:
    def test_a_validation_error_never_shows_the_key_it_quotes(self) -> None:
        """The composed message, str() and repr() mask a key given as the value, or inside the message."""
        composed = ValidationError(field="model", value=KEY, rule="not_a_model")
        written = ValidationError(f"model: {KEY} is not a model", field="model", value=KEY)
        shown = [text for error in (composed, written) for text in (error.message, str(error), repr(error))]
        assert not any(map(leaks, shown))

    def test_a_server_answer_quoting_the_key_is_masked_in_message_body_and_model(self) -> None:
        """Groq's 404 quotes the model it was sent; if that was a key, the error keeps no trace of it."""
        body = json.dumps({"error": {"message": f"The model `{KEY}` does not exist or you do not have access to it.",
                                     "type": "invalid_request_error", "code": "model_not_found"}}).encode()
        error = error_from_response(404, {}, body)
        assert isinstance(error, ModelError)
        assert not any(leaks(text) for text in (error.message, str(error), repr(error), error.body.decode(),
                                                str(error.model)))

    @pytest.mark.parametrize("url", [
        f"https://user:{KEY}@api.example.com/openai/v1", f"https://{KEY}@api.example.com/v1",
        f"https://api.example.com:{KEY}/v1",
    ])
    def test_a_base_url_holding_the_key_is_refused_without_showing_it(self, url: str) -> None:
        """Credentials or a key-shaped port in base_url: refused, and neither the message nor the traceback
        (chained exceptions included) shows the key."""
        with pytest.raises(ConfigError) as info:
            Config(api_key=OTHER_KEY, base_url=url)
        rendered = "".join(traceback.format_exception(info.value))
        assert info.value.field == "base_url" and not leaks(str(info.value)) and not leaks(rendered)

    @pytest.mark.parametrize("name", ["GROQ_BASE_URL", "GROQ_TIMEOUT", "GROQ_MAX_RETRIES", "GROQ_ORCH_TIER",
                                      "GROQ_ORCH_REDIS_URL"])
    def test_an_environment_variable_holding_the_key_is_refused_without_showing_it(self, name: str) -> None:
        """Config.from_env names the variable and masks the value it quotes."""
        with pytest.raises(ConfigError) as info:
            Config.from_env({"GROQ_API_KEY": OTHER_KEY, name: KEY})
        assert info.value.field == name and not leaks(str(info.value)) and MASK in str(info.value)


class TestTheCommandLine:
    @pytest.mark.parametrize(("argv", "environment"), [
        pytest.param(["chat", "hi", "--base-url", f"https://user:{KEY}@api.example.com/openai/v1"], {},
                     id="base-url-userinfo-no-key"),
        pytest.param(["chat", "hi", "--base-url", f"https://user:{KEY}@api.example.com/openai/v1"],
                     {"GROQ_API_KEY": OTHER_KEY}, id="base-url-userinfo"),
        pytest.param(["models", "list"], {"GROQ_BASE_URL": KEY}, id="GROQ_BASE_URL-no-key"),
        pytest.param(["chat", "hi"], {"GROQ_API_KEY": OTHER_KEY, "GROQ_BASE_URL": KEY}, id="GROQ_BASE_URL"),
        pytest.param(["chat", "hi"], {"GROQ_TIMEOUT": KEY}, id="GROQ_TIMEOUT"),
        pytest.param(["chat", "hi", "--model", KEY], {}, id="model"),
    ])
    def test_the_four_triggers_print_an_error_without_the_key(
        self, argv: list[str], environment: dict[str, str], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """Each trigger fails with an error line on stderr that names what is wrong and masks the key."""
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        code = main(argv)
        captured = capsys.readouterr()
        assert code != 0 and "error" in captured.err
        assert not leaks(captured.out + captured.err), captured.err

    @pytest.mark.parametrize("flag", ["--timeout", "--max-retries", "--tier", "--model-map"])
    def test_a_key_in_a_flag_argparse_refuses_is_masked_in_its_usage_error(
        self, flag: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """argparse quotes the value it refused; the key is masked there too (exit 2)."""
        with pytest.raises(SystemExit) as info:
            main(["chat", "hi", flag, KEY])
        err = capsys.readouterr().err
        assert info.value.code == 2 and flag in err and not leaks(err)

    def test_batch_with_the_key_as_model_writes_no_trace_of_it(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """``batch --model $KEY`` on the embedded emulator: the job fails with the 404, and neither the results
        file, the summary, nor the screen shows the key."""
        body = {"model": MODEL, "max_completion_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        jobs = tmp_path / "jobs.jsonl"
        jobs.write_text("".join(json.dumps({"custom_id": f"j{i}", "body": body}) + "\n" for i in range(3)))
        out, summary = tmp_path / "out.jsonl", tmp_path / "summary.json"
        code = main(["batch", str(jobs), "-o", str(out), "--model", KEY, "--summary-json", str(summary)])
        captured = capsys.readouterr()
        records = [json.loads(line) for line in out.read_text().splitlines()]
        assert code == 1 and [record["error"]["code"] for record in records] == ["model_not_found"] * 3
        assert not leaks(out.read_text() + summary.read_text() + captured.out + captured.err)

    def test_batch_api_with_the_key_as_model_writes_no_trace_of_it(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The same through ``--via batch-api``: the Batch API's error lines are masked before they are written."""
        body = {"model": MODEL, "max_completion_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        jobs = tmp_path / "jobs.jsonl"
        jobs.write_text(json.dumps({"custom_id": "j0", "body": body}) + "\n")
        out = tmp_path / "out.jsonl"
        main(["batch", str(jobs), "-o", str(out), "--model", KEY, "--via", "batch-api", "-q"])
        capsys.readouterr()
        assert not leaks(out.read_text())
