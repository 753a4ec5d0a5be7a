"""Audit events (NFR-SEC-004): the security-relevant moments, on their own logger ``orchestrator.audit``.

An operator answering "who used which key, against what, and when did it stop working" needs
a short, dependable record, separate from the chatty operational log. So these events go to
their own logger (route or filter it by that name with stdlib logging, or by ``audit=True``
in a structlog pipeline) and there are only four kinds:

* ``client_configured`` / ``client_closed``: a client opened with this configuration (base URL
  without credentials, workers, queue, timeout, retry and breaker policy, configured limits,
  the *names* of extra headers, the API key's hint) and when it stopped;
* ``authentication_failed``: a 401 or 403, with the status, model, request id and the key's
  hint (its last four characters, ``SecretString.hint``), never the key;
* ``rate_limit_hit``: a 429, with model, window (RPM/RPD/TPM/TPD), ``retry_after`` and whether
  the call will be retried;
* ``breaker_state_changed``: the circuit breaker moved, with the base URL.

No message content, header value or secret is ever part of an event: each is built from an
explicit list of fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit, urlunsplit

from orchestrator.observe._logging import get_logger

if TYPE_CHECKING:
    from orchestrator._config import Config
    from orchestrator._errors import GroqError

__all__ = ["AUDIT_LOGGER", "AuditLog", "public_url"]

#: The logger name every audit event is emitted on.
AUDIT_LOGGER: Final = "orchestrator.audit"

log = get_logger(AUDIT_LOGGER)


def public_url(url: str) -> str:
    """``url`` without user info, query or fragment (where credentials could hide)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _limits_text(limits: Any) -> str:
    return "/".join("-" if value is None else str(value) for value in (limits.rpm, limits.rpd, limits.tpm, limits.tpd))


class AuditLog:
    """Emits the audit events; one per :class:`orchestrator.Telemetry`. Stateless and cheap when quiet."""

    __slots__ = ()

    @staticmethod
    def client_configured(config: Config) -> None:
        """A client opened with ``config`` (no secret, no header value is logged)."""
        retry = config.retry_config
        breaker = config.circuit_breaker_config
        log.info(
            "client_configured",
            audit=True,
            base_url=public_url(config.base_url),
            api_key_hint=config.api_key.hint,
            workers=config.workers,
            queue_size=config.queue_size,
            timeout=config.timeout,
            http2=config.http2,
            max_retries=retry.max_retries,
            retry_delay=[retry.initial_delay, retry.max_delay],
            breaker_failure_rate=breaker.failure_rate,
            breaker_minimum_calls=breaker.minimum_calls,
            breaker_reset_timeout=breaker.reset_timeout,
            breaker_max_wait=breaker.max_wait,
            breaker_when_open=breaker.when_open,
            limits={model: _limits_text(limits) for model, limits in sorted(config.rate_limit_config.model_limits.items())},
            extra_headers=sorted(config.default_headers),
        )

    @staticmethod
    def client_closed(config: Config) -> None:
        """The client opened with ``config`` is no longer observed."""
        log.info("client_closed", audit=True, base_url=public_url(config.base_url), api_key_hint=config.api_key.hint)

    @staticmethod
    def authentication_failed(
        error: GroqError, *, model: str | None, operation: str, base_url: str | None, api_key_hint: str | None
    ) -> None:
        """A call was refused with 401 (bad key) or 403 (key lacks access)."""
        log.warning(
            "authentication_failed",
            audit=True,
            status=error.status,
            code=error.code,
            model=model,
            operation=operation,
            request_id=error.request_id,
            base_url=base_url,
            api_key_hint=api_key_hint,
        )

    @staticmethod
    def rate_limit_hit(error: GroqError, *, model: str | None, operation: str, retried: bool) -> None:
        """Groq answered 429: which window, how long to wait, and whether the call goes again."""
        log.warning(
            "rate_limit_hit",
            audit=True,
            model=model,
            operation=operation,
            window=getattr(error, "window", None),
            limit_type=getattr(error, "limit_type", None),
            retry_after=error.retry_after,
            request_id=error.request_id,
            retried=retried,
        )

    @staticmethod
    def breaker_changed(base_url: str, old: str, new: str) -> None:
        """The circuit breaker in front of ``base_url`` moved from ``old`` to ``new``."""
        log.warning("breaker_state_changed", audit=True, base_url=public_url(base_url), old=old, new=new)
