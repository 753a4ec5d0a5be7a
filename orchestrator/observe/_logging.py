"""Logging: structlog key/value events that never print unasked, never leak a key, never crash a worker.

Two halves:

* :func:`configure_logging` is for applications and the CLI: one call sets structlog up with
  bound context (``structlog.contextvars``), level, ISO timestamp, exception text,
  :class:`~orchestrator.observe._redact.Redactor` and a console or JSON renderer, plus a ``TRACE``
  level below ``DEBUG`` for full request and response bodies.
* :func:`get_logger` is what the library itself logs through. A library must not decide
  where its logs go, so at each event it asks: has the application configured structlog
  (``structlog.is_configured()``)? Then the event goes through the application's processors,
  like its own events. Otherwise it is rendered as ``key=value`` pairs and handed to the
  standard ``logging`` module under the logger's name (``orchestrator.pool``, ...), where the
  application's logging configuration applies; with none, nothing is printed (the package
  puts a ``logging.NullHandler`` on ``orchestrator``, so ``logging.lastResort`` never writes
  our warnings to stderr), and a failing handler is logging's problem, not the worker's. Either way the library redacts its own events first, so even an application
  chain without a redactor never receives a key from us, and ``trace`` events are only
  built when a TRACE level is really enabled (bodies are big).

Library events are rare (retries, breaker changes, batch milestones) except ``trace``, whose
cost when disabled is one check.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any, Final, Literal, TextIO

import structlog

from .._errors import ConfigError
from ._redact import Redactor
from .._secret import SecretString

__all__ = ["TRACE", "configure_logging", "get_logger"]

#: Below ``logging.DEBUG``: full request and response bodies.
TRACE: Final = 5
logging.addLevelName(TRACE, "TRACE")

#: Level names the library and the CLI accept, lowest first.
LEVELS: Final[dict[str, int]] = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
_METHOD_LEVELS: Final[dict[str, int]] = {**LEVELS, "exception": logging.ERROR}

_library_redactor = Redactor()
_fallback_renderer = structlog.processors.KeyValueRenderer(key_order=["event"], sort_keys=False)


# ------------------------------------------------------------------------ configure_logging


def _level_number(level: str | int) -> int:
    if isinstance(level, str) and level.lower() in LEVELS:
        return LEVELS[level.lower()]
    if isinstance(level, int) and not isinstance(level, bool) and level in LEVELS.values():
        return level
    raise ConfigError(field="level", value=level, rule=f"must be one of {', '.join(LEVELS)}")


class _PrintLogger(structlog.PrintLogger):
    """structlog's PrintLogger with a ``trace`` method (structlog calls the level's name on it) and a name."""

    trace = structlog.PrintLogger.msg

    def __init__(self, file: TextIO, name: str | None) -> None:
        super().__init__(file)
        self.name = name


def _add_logger_name(logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """``logger="orchestrator.pool"``: which part of the library (or application) spoke."""
    name = getattr(logger, "name", None)
    if isinstance(name, str) and name:
        event_dict.setdefault("logger", name)
    return event_dict


def _named(args: tuple[Any, ...]) -> str | None:
    return args[0] if args and isinstance(args[0], str) else None


_bound_logger_classes: dict[int, type] = {}


def _bound_logger_class(min_level: int) -> type:
    """structlog's filtering bound logger for ``min_level``, plus a ``trace`` method.

    structlog's levels stop at DEBUG; TRACE is added the way structlog builds its own: the
    decision is made once, here, so a disabled ``trace`` call is a bare ``return None``.
    """
    if min_level in _bound_logger_classes:
        return _bound_logger_classes[min_level]
    enabled = min_level <= TRACE
    base: type = structlog.make_filtering_bound_logger(logging.NOTSET if enabled else min_level)

    if enabled:

        def trace(self: Any, event: str, *args: Any, **kw: Any) -> Any:
            return self._proxy_to_logger("trace", event % args if args else event, **kw)
    else:

        def trace(self: Any, event: str, *args: Any, **kw: Any) -> Any:
            return None

    def log(self: Any, level: int, event: str, *args: Any, **kw: Any) -> Any:
        if level == TRACE:
            return self.trace(event, *args, **kw)
        return base.log(self, level, event, *args, **kw)

    cls = type(
        f"{base.__name__}WithTrace",
        (base,),
        {"trace": trace, "log": log, "trace_enabled": enabled, "__module__": __name__},
    )
    _bound_logger_classes[min_level] = cls
    return cls


def configure_logging(
    level: str | int = "INFO",
    format: Literal["console", "json"] = "console",  # noqa: A002 - the CLI's --log-format
    stream: TextIO | None = None,
    *,
    secrets: Iterable[str | SecretString] = (),
) -> None:
    """Set structlog up for an application (or the CLI): leveled, timestamped, redacted events.

    Every event gets the bound context (``structlog.contextvars.bound_contextvars(job_id=...,
    model=..., request_id=...)``), its ``level``, the ``logger`` name given to
    ``structlog.get_logger(name)`` (the library's are ``orchestrator.*``, audit events
    ``orchestrator.audit``) and an ISO-8601 UTC ``timestamp``; exceptions
    become text; then :class:`~orchestrator.observe._redact.Redactor` masks API keys, Authorization
    values and ``SecretString`` values, and drops message contents from every event below
    TRACE; then the event is rendered, one line per event.

    Args:
        level: the lowest level written: ``trace`` (request and response bodies too),
            ``debug``, ``info``, ``warning``, ``error`` or ``critical`` (or the ``logging``
            number of one of them).
        format: ``"console"`` (aligned, human-readable, coloured on a terminal) or ``"json"``
            (one JSON object per line, for log shippers).
        stream: where lines go; by default ``sys.stderr``, looked up at every event so a
            replaced ``sys.stderr`` (tests, daemons) is honoured and stdout stays clean.
        secrets: exact values to mask besides ``gsk_...`` keys, ``GROQ_API_KEY`` and keys
            given to :func:`~orchestrator.observe._redact.register_secret`.

    Raises:
        ConfigError: for an unknown level or format.

    This replaces any structlog configuration the process had; it does not touch the
    standard ``logging`` module.
    """
    min_level = _level_number(level)
    if format == "json":
        renderer: Any = structlog.processors.JSONRenderer()
    elif format == "console":
        target = stream if stream is not None else sys.stderr
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(getattr(target, "isatty", lambda: False)()),
            exception_formatter=structlog.dev.plain_traceback,
        )
    else:
        raise ConfigError(field="format", value=format, rule="must be 'console' or 'json'")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            Redactor(secrets),
            renderer,
        ],
        wrapper_class=_bound_logger_class(min_level),
        logger_factory=(
            (lambda *args: _PrintLogger(sys.stderr, _named(args)))
            if stream is None
            else (lambda *args: _PrintLogger(stream, _named(args)))
        ),
        cache_logger_on_first_use=False,
    )


# ------------------------------------------------------------------------- library loggers


class _LibraryLogger:
    """A logger that follows the application's structlog setup, or falls back to stdlib logging."""

    __slots__ = ("_context", "_name")

    def __init__(self, name: str, context: dict[str, Any] | None = None) -> None:
        self._name = name
        self._context = context or {}

    def bind(self, **context: Any) -> _LibraryLogger:
        """The same logger with ``context`` added to every event."""
        return _LibraryLogger(self._name, {**self._context, **context})

    def trace(self, event: str, **kw: Any) -> None:
        """Full payloads; built only when a TRACE level is enabled."""
        self._emit("trace", event, kw)

    def trace_enabled(self) -> bool:
        """Whether a ``trace`` event would be written, so a hot path builds payloads only then."""
        if structlog.is_configured():
            return bool(getattr(structlog.get_config()["wrapper_class"], "trace_enabled", False))
        return logging.getLogger(self._name).isEnabledFor(TRACE)

    def debug(self, event: str, **kw: Any) -> None:
        """Detail for whoever debugs the library."""
        self._emit("debug", event, kw)

    def info(self, event: str, **kw: Any) -> None:
        """Milestones and recoveries (a retry, a batch started)."""
        self._emit("info", event, kw)

    def warning(self, event: str, **kw: Any) -> None:
        """Trouble the library handles but an operator should see (breaker opened)."""
        self._emit("warning", event, kw)

    def error(self, event: str, **kw: Any) -> None:
        """A failure the library could not handle."""
        self._emit("error", event, kw)

    def exception(self, event: str, **kw: Any) -> None:
        """An error event with the current exception's traceback."""
        kw.setdefault("exc_info", True)
        self._emit("exception", event, kw)

    def critical(self, event: str, **kw: Any) -> None:
        """The library cannot go on."""
        self._emit("critical", event, kw)

    def _emit(self, method: str, event: str, kw: dict[str, Any]) -> None:
        if self._context:
            kw = {**self._context, **kw}
        if structlog.is_configured():
            self._emit_structlog(method, event, kw)
        else:
            self._emit_stdlib(method, event, kw)

    def _emit_structlog(self, method: str, event: str, kw: dict[str, Any]) -> None:
        if method == "trace" and not getattr(structlog.get_config()["wrapper_class"], "trace_enabled", False):
            return  # the application has no TRACE level: payloads stay unbuilt and unlogged
        passthrough = {key: kw.pop(key) for key in ("exc_info", "stack_info") if key in kw}
        clean = _library_redactor(None, method, {"event": event, **kw})
        getattr(structlog.get_logger(self._name), method)(**clean, **passthrough)

    def _emit_stdlib(self, method: str, event: str, kw: dict[str, Any]) -> None:
        logger = logging.getLogger(self._name)
        level = _METHOD_LEVELS[method]
        if not logger.isEnabledFor(level):
            return
        event_dict = structlog.contextvars.merge_contextvars(None, method, {"event": event, **kw})
        event_dict = structlog.processors.format_exc_info(None, method, event_dict)
        event_dict = _library_redactor(None, method, event_dict)
        logger.log(level, _fallback_renderer(None, method, event_dict))

    def __repr__(self) -> str:
        return f"<orchestrator logger {self._name}>"


def get_logger(name: str) -> _LibraryLogger:
    """A key/value logger for ``name``; see the module docstring for where its events go."""
    return _LibraryLogger(name)
