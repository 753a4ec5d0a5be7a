"""Library logging: structlog key/value events that never print unasked and never crash a worker.

A library must not decide where its logs go. So every logger here asks, at each event:

* has the application configured structlog (``structlog.is_configured()``)? Then the event
  goes through the application's processors, exactly like its own events;
* otherwise the event is rendered as ``key=value`` pairs and handed to the standard
  ``logging`` module under the logger's name (``orchestrator.pool``, ...), where the
  application's logging configuration applies. With none, only warnings and errors reach
  stderr (``logging.lastResort``), and a failing handler is logging's problem, not the
  worker's.

Events are rare (retries, breaker changes, batch milestones), so the check costs nothing
that matters.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

__all__ = ["get_logger"]

_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.processors.KeyValueRenderer(key_order=["event"], sort_keys=False),
]


class _LibraryLogger:
    """A logger that follows the application's structlog setup, or falls back to stdlib logging."""

    __slots__ = ("_fallback", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._fallback: Any = None

    def _target(self) -> Any:
        if structlog.is_configured():
            return structlog.get_logger(self._name)
        if self._fallback is None:
            self._fallback = structlog.wrap_logger(
                logging.getLogger(self._name),
                processors=_PROCESSORS,
                wrapper_class=structlog.stdlib.BoundLogger,
            )
        return self._fallback

    def __getattr__(self, method: str) -> Any:
        return getattr(self._target(), method)

    def __repr__(self) -> str:
        return f"<orchestrator logger {self._name}>"


def get_logger(name: str) -> Any:
    """A key/value logger for ``name``; see the module docstring for where its events go."""
    return _LibraryLogger(name)
