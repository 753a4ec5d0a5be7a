"""Logging: configure_logging's chain (levels, TRACE, context, redaction, formats) and the library's loggers."""

from __future__ import annotations

import datetime
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from orchestrator import _cli
from orchestrator._errors import ConfigError
from orchestrator.observe._logging import TRACE, configure_logging, get_logger
from orchestrator.observe._redact import OMITTED, REDACTED
from orchestrator._secret import SecretString

KEY = "gsk_live_SECRET_logging_0123456789"


@pytest.fixture(autouse=True)
def fresh_structlog() -> Iterator[None]:
    """Every test starts and ends with structlog unconfigured (configuration is process-wide)."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


class TestConfigureLogging:
    def test_json_lines_carry_level_logger_iso_timestamp_and_bound_context(self) -> None:
        """A JSON line has the event, level, logger name, a UTC ISO timestamp and the bound contextvars."""
        out = io.StringIO()
        configure_logging("info", "json", out)
        with structlog.contextvars.bound_contextvars(job_id=7, model="m", request_id="req_1"):
            structlog.get_logger("orchestrator.pool").info("retrying", attempt=2)
        [line] = json_lines(out)
        stamp = datetime.datetime.fromisoformat(line.pop("timestamp"))
        assert stamp.utcoffset() == datetime.timedelta(0)
        assert line == {
            "event": "retrying", "attempt": 2, "level": "info", "logger": "orchestrator.pool",
            "job_id": 7, "model": "m", "request_id": "req_1",
        }

    def test_events_below_the_level_are_not_written(self) -> None:
        """At info, debug and trace events vanish and trace is a declared no-op."""
        out = io.StringIO()
        configure_logging("INFO", "json", out)
        log = structlog.get_logger()
        log.debug("hidden")
        log.trace("hidden")
        log.log(TRACE, "hidden")
        log.warning("shown")
        assert [line["event"] for line in json_lines(out)] == ["shown"]
        assert structlog.get_config()["wrapper_class"].trace_enabled is False

    def test_trace_level_writes_trace_events_with_their_contents(self) -> None:
        """At trace, trace events are written with the message contents other levels drop."""
        out = io.StringIO()
        configure_logging("trace", "json", out)
        log = structlog.get_logger()
        log.trace("request", messages=[{"role": "user", "content": "hello"}])
        log.log(TRACE, "again", prompt="p")
        log.debug("summary", messages=[{"role": "user", "content": "hello"}])
        lines = json_lines(out)
        assert [(line["level"], line.get("messages", line.get("prompt"))) for line in lines] == [
            ("trace", [{"role": "user", "content": "hello"}]),
            ("trace", "p"),
            ("debug", OMITTED),
        ]

    def test_secrets_are_masked_in_rendered_lines(self) -> None:
        """Keys, Authorization values, SecretStrings and configured exact secrets never reach the stream."""
        out = io.StringIO()
        configure_logging("trace", "json", out, secrets=["emulator-secret-99"])
        structlog.get_logger().trace(
            "sent",
            headers={"Authorization": f"Bearer {KEY}"},
            key=SecretString("emulator-secret-99"),
            body=f'{{"note": "{KEY} and emulator-secret-99"}}',
        )
        text = out.getvalue()
        assert KEY not in text and "emulator-secret-99" not in text and text.count(REDACTED) == 4

    def test_exception_tracebacks_are_rendered_then_redacted(self) -> None:
        """log.exception renders the traceback as text and masks the key quoted in it."""
        out = io.StringIO()
        configure_logging("info", "json", out)
        try:
            raise ValueError(f"refused {KEY}")
        except ValueError:
            structlog.get_logger().exception("failed")
        [line] = json_lines(out)
        assert line["exception"].endswith(f"ValueError: refused {REDACTED}") and KEY not in out.getvalue()

    def test_console_format_is_one_readable_line_without_colours_off_a_terminal(self) -> None:
        """The console renderer writes level, event and key=value pairs, no ANSI codes into a file."""
        out = io.StringIO()
        configure_logging("debug", "console", out)
        structlog.get_logger().debug("breaker_state_changed", new="open")
        text = out.getvalue()
        assert "[debug" in text and "breaker_state_changed" in text and "new=open" in text and "\x1b[" not in text

    def test_without_a_stream_lines_go_to_the_current_stderr(self, capsys: pytest.CaptureFixture[str]) -> None:
        """By default events go to sys.stderr as it is at each event, never to stdout."""
        configure_logging("info", "json")
        structlog.get_logger().info("to_stderr")
        captured = capsys.readouterr()
        assert captured.out == "" and json.loads(captured.err)["event"] == "to_stderr"

    @pytest.mark.parametrize(("level", "fmt", "field"), [("verbose", "json", "level"), (25, "json", "level"),
                                                          ("info", "xml", "format")])
    def test_an_unknown_level_or_format_is_a_config_error(self, level: Any, fmt: Any, field: str) -> None:
        """A bad level or format names the setting and the accepted values."""
        with pytest.raises(ConfigError) as caught:
            configure_logging(level, fmt)
        assert caught.value.field == field


class TestCli:
    def test_log_level_and_format_options_configure_the_chain(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--log-level trace --log-format json makes library trace events JSON lines on stderr."""
        args = _cli.build_parser().parse_args(["--log-level", "trace", "--log-format", "json", "health"])
        _cli._configure_logging(args.log_level, args.log_format)
        get_logger("orchestrator.pool").trace("response", body={"content": "hi", "api_key": KEY})
        line = json.loads(capsys.readouterr().err)
        assert (line["level"], line["body"]) == ("trace", {"content": "hi", "api_key": REDACTED})

    def test_unknown_log_options_are_usage_errors(self, capsys: pytest.CaptureFixture[str]) -> None:
        """argparse refuses a level or format outside the choices."""
        for argv in (["--log-level", "verbose", "health"], ["--log-format", "xml", "health"]):
            with pytest.raises(SystemExit) as caught:
                _cli.build_parser().parse_args(argv)
            assert caught.value.code == 2
        assert "invalid choice" in capsys.readouterr().err


class TestLibraryLogger:
    def test_without_structlog_configuration_events_go_to_stdlib_logging(
        self, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Unconfigured, an event becomes a key=value record on the named stdlib logger, not stdout."""
        with caplog.at_level(logging.INFO, logger="orchestrator.test"):
            get_logger("orchestrator.test").info("retrying", attempt=2, model="m")
        assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
            ("orchestrator.test", logging.INFO, "event='retrying' attempt=2 model='m'")
        ]
        assert capsys.readouterr().out == ""

    def test_the_stdlib_fallback_redacts_merges_context_and_renders_exceptions(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Fallback records are redacted, carry the bound context and hold the traceback as text."""
        with caplog.at_level(logging.INFO, logger="orchestrator.test"), structlog.contextvars.bound_contextvars(job_id=4):
            try:
                raise RuntimeError(f"boom {KEY}")
            except RuntimeError:
                get_logger("orchestrator.test").exception("failed", headers={"authorization": KEY}, prompt="p")
        [record] = caplog.records
        message = record.getMessage()
        assert record.levelno == logging.ERROR and record.exc_info is None
        assert KEY not in message and f"RuntimeError: boom {REDACTED}" in message
        assert f"'authorization': '{REDACTED}'" in message and f"prompt='{OMITTED}'" in message and "job_id=4" in message

    def test_stdlib_trace_records_only_when_the_logger_allows_level_5(self, caplog: pytest.LogCaptureFixture) -> None:
        """Trace events reach stdlib logging at level 5 (named TRACE), with contents, only when enabled."""
        log = get_logger("orchestrator.test")
        with caplog.at_level(logging.DEBUG, logger="orchestrator.test"):
            log.trace("request", messages=["hi"])
        with caplog.at_level(TRACE, logger="orchestrator.test"):
            log.trace("request", messages=["hi"])
        assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("TRACE", "event='request' messages=['hi']")]

    def test_with_structlog_configured_events_use_the_application_processors(self) -> None:
        """When the application configured structlog, events go through its processors."""
        with structlog.testing.capture_logs() as captured:
            get_logger("orchestrator.test").warning("breaker_state_changed", new="OPEN")
        assert captured == [{"event": "breaker_state_changed", "new": "OPEN", "log_level": "warning"}]
        assert "orchestrator.test" in repr(get_logger("orchestrator.test"))

    def test_events_reach_an_application_chain_already_redacted(self) -> None:
        """Even a chain without a redactor never receives a key or (below TRACE) a message from the library."""
        with structlog.testing.capture_logs() as captured:
            get_logger("orchestrator.test").bind(api_key=SecretString(KEY)).info(
                "sent", url=f"https://h/{KEY}", messages=["hi"]
            )
        assert captured == [
            {"event": "sent", "api_key": REDACTED, "url": f"https://h/{REDACTED}", "messages": OMITTED, "log_level": "info"}
        ]

    def test_trace_events_are_dropped_when_the_application_has_no_trace_level(self) -> None:
        """An application chain without TRACE gets no trace events; one set up by configure_logging does."""
        with structlog.testing.capture_logs() as captured:
            get_logger("orchestrator.test").trace("request", messages=["hi"])
        assert captured == []
        configure_logging("trace", "json", io.StringIO())
        with structlog.testing.capture_logs() as captured:
            get_logger("orchestrator.test").trace("request", messages=["hi"])
        assert captured == [{"event": "request", "messages": ["hi"], "log_level": "trace"}]


class TestPayloadTracing:
    async def test_bodies_are_logged_at_trace_only(self, autojump_clock, capsys) -> None:
        """At TRACE the pool logs request and response bodies with the job's id and model; at INFO it does not."""
        from orchestrator import configure_logging

        from ..helpers import client_for, make_emulator, user

        def run_at(level: str) -> str:
            configure_logging(level=level, format="json")
            return level

        try:
            for level, expect in (("info", False), ("trace", True)):
                run_at(level)
                async with client_for(make_emulator()) as groq:
                    await groq.chat.completions.create(model="openai/gpt-oss-20b", messages=user("trace me"))
                err = capsys.readouterr().err
                assert ('"event": "request"' in err and '"job_id"' in err and "openai/gpt-oss-20b" in err) is expect
        finally:
            structlog.reset_defaults()
