"""Issue 19, item 2: the library prints nothing unasked, and the CLI's own log lines still appear."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)


class TestNoUnaskedOutput:
    def test_a_library_warning_prints_nothing(self) -> None:
        """With no logging configured, a warning from a library logger reaches neither stderr nor stdout."""
        result = run_python(
            "import orchestrator\n"
            "from orchestrator.observe._logging import get_logger\n"
            "get_logger('orchestrator.breaker').warning('breaker_state_changed', old='closed', new='open')\n"
            "get_logger('orchestrator.pool').error('something_failed', detail=1)\n"
        )
        assert (result.returncode, result.stderr, result.stdout) == (0, "", "")

    def test_an_application_logging_setup_still_receives_the_warning(self) -> None:
        """The NullHandler silences nothing an application asked for: basicConfig's handler gets the event."""
        result = run_python(
            "import logging, sys\n"
            "logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format='%(name)s %(message)s')\n"
            "from orchestrator.observe._logging import get_logger\n"
            "get_logger('orchestrator.breaker').warning('breaker_state_changed', new='open')\n"
        )
        assert (result.returncode, result.stderr, result.stdout.strip()) == (
            0, "", "orchestrator.breaker event='breaker_state_changed' new='open'")

    def test_the_cli_still_writes_its_log_lines(self) -> None:
        """The CLI configures its own logging: a warning-level event is written to stderr as before."""
        result = run_python(
            "import sys\n"
            "from orchestrator._cli import _configure_logging\n"
            "_configure_logging('warning', 'json')\n"
            "from orchestrator.observe._logging import get_logger\n"
            "get_logger('orchestrator.breaker').warning('breaker_state_changed', new='open')\n"
        )
        assert (result.returncode, result.stdout, '"event": "breaker_state_changed"' in result.stderr) == (0, "", True)
