"""Library logging: follows the application's structlog setup, else stdlib logging, never stdout."""

from __future__ import annotations

import logging

import pytest
import structlog

from orchestrator._logging import get_logger


class TestLibraryLogger:
    def test_without_structlog_configuration_events_go_to_stdlib_logging(
        self, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Unconfigured, an event becomes a key=value record on the named stdlib logger, not stdout."""
        structlog.reset_defaults()
        with caplog.at_level(logging.INFO, logger="orchestrator.test"):
            get_logger("orchestrator.test").info("retrying", attempt=2, model="m")
        assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
            ("orchestrator.test", logging.INFO, "event='retrying' attempt=2 model='m'")
        ]
        assert capsys.readouterr().out == ""

    def test_with_structlog_configured_events_use_the_application_processors(self) -> None:
        """When the application configured structlog, events go through its processors."""
        with structlog.testing.capture_logs() as captured:
            get_logger("orchestrator.test").warning("breaker_state_changed", new="OPEN")
        assert captured == [{"event": "breaker_state_changed", "new": "OPEN", "log_level": "warning"}]
        assert "orchestrator.test" in repr(get_logger("orchestrator.test"))
