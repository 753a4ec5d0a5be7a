"""One exception hierarchy for everything the orchestrator can report.

Every failure a caller can see is a :class:`GroqError`. HTTP error responses are turned into
the right subclass in exactly one place, :func:`error_from_response`, so callers match on
classes (``except RateLimitError``) instead of status codes, and never see ``httpx``
exceptions. The tree (status codes in brackets)::

    GroqError
    ├── AuthenticationError          [401]  bad or missing API key
    ├── AuthorizationError           [403]  key valid, access denied
    ├── NotFoundError                [404]  unknown path or resource
    │   └── ModelError               [404 model_not_found]  unknown or retired model
    ├── ValidationError              [400, 422]  the request itself is wrong
    │   ├── ConfigError                      a Config/ConfigBuilder value is wrong
    │   ├── ContextLengthError       [400 context_length_exceeded]
    │   └── ModelDecommissionedError [400 model_decommissioned]  Groq shut the model down
    ├── ContentFilterError                   content blocked by the safety filter
    ├── RequestTooLargeError         [413]  one request alone exceeds TPM or 4 MB: never retryable
    ├── RateLimitError               [429]  RPM/RPD/TPM/TPD hit: retry after ``retry_after``
    ├── CapacityExceededError        [498]  flex tier full: retryable
    ├── ServerError                  [499, 5xx]  Groq-side trouble: retryable
    ├── TimeoutError                 [408, -]  no answer in time: retryable
    ├── NetworkError                 [-]  connection failed: retryable, unless ``permanent`` (untrusted certificate)
    ├── StreamError                  [-]  a stream broke midway; keeps ``partial_content``
    ├── CircuitOpenError             [-]  the breaker is open and ``when_open="fail"``, or held a job past ``max_wait``
    ├── CoordinationError            [-]  the Redis behind a shared rate budget is unusable
    └── BatchError                   [-]  a Groq batch (``client.batches``) ended without completing
        ├── BatchValidationError             status ``failed``: the input file was refused, line by line
        ├── BatchExpiredError                status ``expired``: the completion window ran out
        └── BatchCancelledError              status ``cancelled``

``retryable`` follows the spec's section 9.1: 429, 498, 5xx, timeouts and network errors are
worth another attempt; every other 4xx will fail the same way again, so it is not.

The batch errors are not HTTP failures (the calls that created and polled the batch succeeded);
:func:`batch_failure` builds them from a finished batch.

``str(error)`` is written for the person reading the log: what happened, the status, code and
request id to quote to Groq support, and what to do next. The raw fields stay available as
attributes (``status``, ``type``, ``code``, ``param``, ``request_id``, ``retry_after``, ``body``).
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar, Final, Literal

import msgspec

from actors._duration import parse_go_duration

from orchestrator._retired import current_replacement, retired_model
from orchestrator._secret import redact_text, short_repr

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "CapacityExceededError",
    "CircuitOpenError",
    "ConfigError",
    "ContentFilterError",
    "ContextLengthError",
    "CoordinationError",
    "GroqError",
    "ModelDecommissionedError",
    "ModelError",
    "NetworkError",
    "NotFoundError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServerError",
    "StreamError",
    "TimeoutError",
    "ValidationError",
    "error_from_response",
    "unwrapped_errors",
]
# The batch errors (BatchError and its three subclasses, batch_failure) are public through
# ``orchestrator`` itself; they are left out of this ``__all__`` because tests/test_errors.py counts it
# against its table of the HTTP-mapped classes.

LimitType = Literal["requests", "tokens", "audio_seconds"]
Window = Literal["RPM", "RPD", "TPM", "TPD", "ITPM", "OTPM", "ASH", "ASD"]

#: Error bodies are kept for debugging, but a proxy can answer with megabytes of HTML.
MAX_KEPT_BODY: Final = 64 * 1024
#: How much of a non-JSON body becomes the message.
_MAX_TEXT_MESSAGE: Final = 500
#: How much of a rejected value a ValidationError quotes (never a whole base64 image).
_MAX_VALUE_REPR: Final = 120

_UNSET: Final[Any] = object()


def _short_repr(value: object) -> str:
    """The quoted value of an error message: cut short, never recursing deep, secrets masked (``_secret``)."""
    return short_repr(value, _MAX_VALUE_REPR)


def _redacted_body(body: bytes) -> bytes:
    """``body`` with anything that looks like a credential masked (a 404 quotes the model, which may be a key)."""
    text = body.decode("utf-8", "surrogateescape")
    clean = redact_text(text)
    return body if clean is text else clean.encode("utf-8", "surrogateescape")


class GroqError(Exception):
    """Base of every error the orchestrator raises or returns.

    Catch this to handle everything; catch a subclass to handle one kind. The first argument
    is the human message (for server errors, Groq's own ``error.message``); the keywords carry
    what was known about the failure. ``str()`` adds the context and the advice.

    Args:
        message: What went wrong, in words.
        status: HTTP status code, or None when there was no response (timeout, network).
        type: Groq's ``error.type`` (e.g. ``invalid_request_error``, ``tokens``).
        code: Groq's ``error.code`` (e.g. ``rate_limit_exceeded``).
        param: Groq's ``error.param``: the request field at fault, when Groq names one.
        request_id: the ``x-request-id`` response header; quote it to Groq support.
        retry_after: seconds to wait before retrying, when the server said so.
        body: the raw response body (first 64 KiB), for debugging.
        failed_generation: the model output Groq rejected (``json_validate_failed``,
            ``tool_use_failed``), so a caller can salvage it.
    """

    #: Fallback for statuses with no dedicated subclass (spec 9.1).
    _RETRYABLE_STATUSES: Final = frozenset({408, 429, 498})

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        body: bytes | None = None,
        failed_generation: str | None = None,
    ) -> None:
        # Messages quote what the user or the server said; a key pasted into the wrong place is masked here,
        # once, for every error class (orchestrator._secret.redact_text).
        message = redact_text(message)
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = _redacted_body(body[:MAX_KEPT_BODY]) if body is not None else None
        self.failed_generation = failed_generation

    #: True/False when the class decides; None to decide by status (the base class).
    _retryable: ClassVar[bool | None] = None
    #: How many times the orchestrator sent the request before this error was final (its retries are behind
    #: it); None while it may still be retried, or for an error that did not come out of a job.
    attempts: int | None = None

    def note_attempts(self, attempts: int) -> None:
        """Record that this error ended its job after ``attempts`` sends (the engine calls it when settling)."""
        self.attempts = attempts

    @property
    def retryable(self) -> bool:
        """Whether sending the same request again can succeed (spec 9.1).

        Subclasses fix the answer (a RateLimitError is worth retrying, a ValidationError is not);
        a plain GroqError decides by status: 408, 429, 498 and 5xx are retryable.
        """
        if self._retryable is not None:
            return self._retryable
        status = self.status
        return status is not None and (status in self._RETRYABLE_STATUSES or status >= 500)

    def advice(self) -> str:
        """What the reader should do about this error (one or two sentences)."""
        if self.retryable:
            return "This is transient; the orchestrator retries it with backoff."
        return "Check the request against the error message; resending it unchanged will fail again."

    def _context(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.code:
            parts.append(f"code {self.code}")
        elif self.type:
            parts.append(f"type {self.type}")
        if self.param:
            parts.append(f"param {self.param}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return f" ({', '.join(parts)})" if parts else ""

    def __str__(self) -> str:
        message = self.message or type(self).__name__
        if not message.endswith((".", "!", "?")):
            message += "."
        return f"{message}{self._context()} {self.advice()}"

    def __repr__(self) -> str:
        fields = {
            "status": self.status,
            "code": self.code,
            "type": self.type,
            "param": self.param,
            "request_id": self.request_id,
            "retry_after": self.retry_after,
        }
        shown = ", ".join(f"{k}={v!r}" for k, v in fields.items() if v is not None)
        lead = _short_repr(self.message)
        return f"{type(self).__name__}({lead}{', ' if shown else ''}{shown})"


class AuthenticationError(GroqError):
    """The API key was missing, malformed or revoked (HTTP 401 ``invalid_api_key``).

    ``api_key_hint`` holds at most the key's last four characters, so logs can tell which key
    failed without exposing it.
    """

    _retryable = False  # the same key will be refused again.

    def __init__(self, message: str = "", *, api_key_hint: str | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.api_key_hint = api_key_hint

    def advice(self) -> str:
        """Point at the key: where it comes from and where to get a new one."""
        which = f" (the key ending in {self.api_key_hint!r})" if self.api_key_hint else ""
        return (
            f"Check the API key{which}: set GROQ_API_KEY or Config.api_key to a valid key "
            "from https://console.groq.com/keys."
        )


class AuthorizationError(GroqError):
    """The key is valid but may not use this resource (HTTP 403)."""

    _retryable = False  # permissions do not change between attempts.

    def advice(self) -> str:
        """Permissions live in the Groq console, not in the request."""
        return "The key lacks access to this resource; check the organization and project permissions in the Groq console."


class NotFoundError(GroqError):
    """The path or resource does not exist (HTTP 404)."""

    _retryable = False  # a missing resource stays missing.

    def advice(self) -> str:
        """Usually a wrong base URL or id."""
        return "Check Config.base_url (default https://api.groq.com/openai/v1) and the id in the request."


_MODEL_IN_MESSAGE: Final = re.compile(r"[Mm]odel `([^`]+)`")


class ModelError(NotFoundError):
    """The model id is unknown, retired, or not available to this key (404 ``model_not_found``).

    Groq retires models regularly (the spec's own table is out of date), so this is the error a
    long-lived pipeline meets first. ``model`` is parsed from Groq's message when not given.
    """

    def __init__(
        self,
        message: str = "",
        *,
        model: str | None = None,
        available_models: list[str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message, **fields)
        if model is None and (match := _MODEL_IN_MESSAGE.search(self.message)):
            model = match.group(1)
        self.model = redact_text(model) if isinstance(model, str) else model
        self.available_models = available_models

    def advice(self) -> str:
        """Say how to find a model that exists."""
        which = f"Model {self.model!r}" if self.model else "The model"
        text = f"{which} is unknown or retired; list current ids with GET /models (client.models.list())"
        if self.available_models:
            shown = ", ".join(self.available_models[:10])
            text += f", e.g. {shown}"
        return text + "."


class ValidationError(GroqError):
    """The request is invalid and will fail the same way if resent (HTTP 400/422, or local checks).

    Raised before sending when our own validation catches the problem, and mapped from Groq's
    ``invalid_request_error`` afterwards. ``field`` is the path of the offending value
    (``messages[3].content[1].image_url.url``), ``value`` the value (quoted shortened in the
    message), ``rule`` what it broke. With no message, one is composed from those three.
    """

    _retryable = False  # an invalid request stays invalid.

    def __init__(
        self,
        message: str = "",
        *,
        field: str | None = None,
        value: Any = _UNSET,
        rule: str | None = None,
        **fields: Any,
    ) -> None:
        if not message:
            message = self._compose(field, value, rule)
        if field is None:
            field = fields.get("param")
        super().__init__(message, **fields)
        # The message and the field path (user text: ``logit_bias.<token>``, ``model_map[<id>]``) are shown, so
        # secrets in them are masked; ``value`` stays the caller's own value, for code, and is only ever shown
        # through _short_repr, which masks them too.
        self.field = redact_text(field) if isinstance(field, str) else field
        self.value = None if value is _UNSET else value
        self.rule = rule

    @staticmethod
    def _compose(field: str | None, value: Any, rule: str | None) -> str:
        text = f"Invalid {field}" if field else "Invalid request"
        if rule:
            text += f": {rule}"
        if value is not _UNSET:
            text += f" (got {_short_repr(value)})"
        return text

    def advice(self) -> str:
        """Fix the named field; for rejected model output, look at failed_generation."""
        if self.failed_generation is not None:
            return (
                "The model's output failed Groq's check; see .failed_generation, then adjust the prompt, "
                "schema or tools (a retry may also succeed since sampling varies)."
            )
        where = f"field {self.field!r}" if self.field else "the request"
        return f"Fix {where} and send again; resending it unchanged will fail the same way."


class ConfigError(ValidationError):
    """A configuration value is invalid (raised by ``Config``, ``ConfigBuilder``, ``Config.from_env``).

    ``field`` names the setting (``retry.max_delay``, ``base_url``), ``value`` the rejected value
    (never the API key itself).
    """

    def advice(self) -> str:
        """Point at the setting."""
        where = f"setting {self.field!r}" if self.field else "the configuration"
        return f"Fix {where} where the Config is built (ConfigBuilder, Config.replace or GROQ_* environment)."


_CONTEXT_NUMBERS: Final = re.compile(
    r"maximum context length is (\d+)\D+?(?:requested|resulted in) (\d+)", re.IGNORECASE | re.DOTALL
)


class ContextLengthError(ValidationError):
    """Prompt plus requested completion exceed the model's context window (400 ``context_length_exceeded``).

    ``max_context`` and ``requested`` are filled when known (our own pre-send check, or an
    OpenAI-style message that states them).
    """

    def __init__(
        self, message: str = "", *, max_context: int | None = None, requested: int | None = None, **fields: Any
    ) -> None:
        super().__init__(message, **fields)
        if max_context is None and requested is None and (match := _CONTEXT_NUMBERS.search(self.message)):
            max_context, requested = int(match.group(1)), int(match.group(2))
        self.max_context = max_context
        self.requested = requested

    def advice(self) -> str:
        """The fix is always to make prompt + completion smaller."""
        sizes = ""
        if self.max_context is not None and self.requested is not None:
            sizes = f" ({self.requested} tokens requested, window {self.max_context})"
        return (
            f"Shorten the messages or lower max_completion_tokens so prompt plus completion fit the "
            f"model's context window{sizes}, or use a model with a larger window."
        )


# Groq's wording: "The model `X` has been decommissioned and is no longer supported." (backticks
# are missing in some older answers).
_DECOMMISSIONED_MODEL: Final = re.compile(r"[Mm]odel `?([^`\s]+?)`? has been decommissioned")
_DEPRECATIONS_PAGE: Final = "https://console.groq.com/docs/deprecations"


class ModelDecommissionedError(ValidationError):
    """Groq has shut the model down: no request to it can succeed (HTTP 400 ``model_decommissioned``).

    The client raises it before sending anything when the model is in the retired table
    (:data:`orchestrator._retired.RETIRED_MODELS`), and maps Groq's own 400 answer to it.

    Attributes:
        model: the retired model id (parsed from Groq's message when not given).
        shutdown: the day Groq switched it off (a ``datetime.date``), or None if the table does not
            know the model.
        replacement: what to use instead today: Groq's recommended replacement, followed through
            replacements retired since; None if unknown.
    """

    def __init__(
        self,
        message: str = "",
        *,
        model: str | None = None,
        shutdown: datetime.date | None = None,
        replacement: str | None = None,
        **fields: Any,
    ) -> None:
        if model is None and (match := _DECOMMISSIONED_MODEL.search(message) or _MODEL_IN_MESSAGE.search(message)):
            model = match.group(1)
        record = retired_model(model) if model else None
        if record is not None:
            shutdown = shutdown or record.shutdown
            replacement = replacement or current_replacement(record.id)
        if not message:
            message = f"model: {model!r} has been decommissioned by Groq and can no longer be used"
        fields.setdefault("code", "model_decommissioned")
        fields.setdefault("field", "model")
        fields.setdefault("rule", "model_decommissioned")
        if model is not None:
            fields.setdefault("value", model)
        super().__init__(message, **fields)
        self.model = redact_text(model) if isinstance(model, str) else model
        self.shutdown = shutdown
        self.replacement = replacement

    def advice(self) -> str:
        """Name the date and the replacement, and the two ways to move a whole workload onto it."""
        which = repr(self.model) if self.model else "this model"
        when = f" on {self.shutdown.isoformat()}" if self.shutdown else ""
        old = self.model or "OLD"
        new = self.replacement or "NEW"
        use = (
            f"Use {self.replacement!r} instead (Groq's recommended replacement)"
            if self.replacement
            else f"Pick a current model (client.models.list(); {_DEPRECATIONS_PAGE})"
        )
        return (
            f"Groq shut down {which}{when}. {use}: change the request's model, or move every job at once "
            f"with --model-map {old}={new} (Config(model_map={{{old!r}: {new!r}}}) or open_client(model_map=...))."
        )


class ContentFilterError(GroqError):
    """The input or output was blocked by a safety filter (``content_filter``)."""

    _retryable = False  # the same content is filtered the same way.

    def __init__(self, message: str = "", *, filtered_categories: list[str] | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.filtered_categories = filtered_categories or []

    def advice(self) -> str:
        """Rephrasing is the only remedy."""
        return "Rephrase the input; the same content will be blocked again."


_LIMIT_NUMBERS: Final = re.compile(r"Limit (\d+)(?:, Used (\d+))?, Requested ~?(\d+)")
_WINDOW: Final = re.compile(r"\((RPM|RPD|TPM|TPD|ITPM|OTPM|ASH|ASD)\)")
_WINDOW_KIND: Final[dict[str, LimitType]] = {
    "RPM": "requests",
    "RPD": "requests",
    "TPM": "tokens",
    "TPD": "tokens",
    "ITPM": "tokens",
    "OTPM": "tokens",
    "ASH": "audio_seconds",
    "ASD": "audio_seconds",
}


class _LimitMixin:
    """Parses Groq's "on tokens per minute (TPM): Limit 6000, Used 11972, Requested 4351" text."""

    message: str
    type: str | None

    def _parse_limit(self, limit_type: LimitType | None, window: Window | None) -> None:
        if window is None and (match := _WINDOW.search(self.message)):
            window = match.group(1)  # type: ignore[assignment]
        if limit_type is None:
            if self.type in ("requests", "tokens"):
                limit_type = self.type  # type: ignore[assignment]
            elif window is not None:
                limit_type = _WINDOW_KIND[window]
        self.limit_type = limit_type
        self.window = window
        numbers = _LIMIT_NUMBERS.search(self.message)
        self.limit = int(numbers.group(1)) if numbers else None
        self.used = int(numbers.group(2)) if numbers and numbers.group(2) else None
        self.requested = int(numbers.group(3)) if numbers else None


class RequestTooLargeError(_LimitMixin, GroqError):
    """One request alone is bigger than the model allows per minute, or a base64 image is over 4 MB (HTTP 413).

    Groq reuses ``code: rate_limit_exceeded`` here, but unlike a 429 no amount of waiting helps:
    the request exceeds the whole TPM budget. ``limit`` and ``requested`` are parsed from the
    message when present.
    """

    _retryable = False  # the request will always be too large.

    def __init__(
        self, message: str = "", *, limit_type: LimitType | None = None, window: Window | None = None, **fields: Any
    ) -> None:
        super().__init__(message, **fields)
        self._parse_limit(limit_type, window)

    def advice(self) -> str:
        """Shrink the request: prompt, max_completion_tokens, or the image."""
        sizes = ""
        if self.limit is not None and self.requested is not None:
            sizes = f" (requested {self.requested}, limit {self.limit})"
        return (
            f"This single request can never fit{sizes}; shorten the prompt, lower max_completion_tokens "
            "(it counts against TPM), send images by URL instead of base64, or use a model or tier "
            "with a higher limit."
        )


class RateLimitError(_LimitMixin, GroqError):
    """A rate limit (RPM, RPD, TPM, TPD, ASH, ASD) was hit (HTTP 429), or the quota is exhausted.

    ``retry_after`` comes from the ``retry-after`` header or from the message's "Please try again
    in 5.289s"; ``limit_type`` ("requests", "tokens", "audio_seconds") and ``window`` ("TPM",
    ...) say which budget ran out. The scheduler reads them to pause exactly as long as needed.
    ``insufficient_quota`` is also a RateLimitError, but not retryable: waiting will not refill it.
    """

    def __init__(
        self, message: str = "", *, limit_type: LimitType | None = None, window: Window | None = None, **fields: Any
    ) -> None:
        super().__init__(message, **fields)
        self._parse_limit(limit_type, window)

    @property
    def retryable(self) -> bool:
        """Yes, after ``retry_after``; except an exhausted quota, which no wait refills."""
        return self.code != "insufficient_quota" and self.type != "insufficient_quota"

    def advice(self) -> str:
        """Say how long to wait and how to stay under the limit."""
        if not self.retryable:
            return "The account's quota is exhausted; check plan and billing at https://console.groq.com/settings/billing."
        which = f" on {self.window}" if self.window else ""
        wait = f" in {self.retry_after:.3g} s" if self.retry_after is not None else " after a pause"
        if self.attempts:  # the job is over: the orchestrator's retries are behind it
            sends = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
            return (
                f"Rate limit{which} reached, and the retries ran out after {sends}. Run it again{wait} or later "
                "(a batch resumes where it stopped); to meet fewer 429s, give the account's real limits "
                "(ModelLimits, --limits, or Config(tier=...)) so jobs wait for budget, lower concurrency, or raise "
                "max_retries."
            )
        return (
            f"Rate limit{which} reached; retry{wait} (the orchestrator waits and retries automatically). "
            "Lower concurrency or set ModelLimits to stay under it."
        )


class CapacityExceededError(GroqError):
    """Groq's flex tier has no capacity right now (HTTP 498 ``capacity_exceeded``)."""

    _retryable = True  # capacity frees up, so backing off and retrying works.

    def advice(self) -> str:
        """Back off, or move off the flex tier."""
        return "The flex tier is at capacity; retry with backoff (automatic), or use service_tier 'on_demand'."


class ServerError(GroqError):
    """The server failed on its side (HTTP 5xx, or 499 when Groq cancelled the request).

    ``groq_server`` says whether the base URL is Groq's API (True), another host such as a proxy, a
    gateway or an emulator (False; ``server_host`` names it), or is not known (None): only Groq's own
    failures point at Groq's status page.
    """

    _retryable = True  # server trouble is usually transient.
    #: The host (and port) of the base URL that answered, when known.
    server_host: str | None = None
    #: Whether that host is Groq's API; None when not known.
    groq_server: bool | None = None

    def advice(self) -> str:
        """Nothing to fix locally; wait, or check the status page of whoever answered."""
        if self.groq_server:
            return "Groq had a server-side problem; this is retried with backoff automatically. If it persists, check https://groqstatus.com."
        if self.groq_server is False:
            where = f"The server at {self.server_host}" if self.server_host else "The server"
            return (
                f"{where} had a server-side problem; it is not Groq's API (Config.base_url), so the fault is there or "
                "in a proxy in between. This is retried with backoff automatically; if it persists, check that server."
            )
        return (
            "The server had a server-side problem; this is retried with backoff automatically. If it persists, check "
            "the server at Config.base_url (for Groq's API itself: https://groqstatus.com)."
        )


class TimeoutError(GroqError):  # noqa: A001 - the spec's name; it is always used as orchestrator.TimeoutError
    """No complete answer arrived in time (client-side timeout, or HTTP 408).

    ``timeout`` is the limit that expired (seconds), ``operation`` what was being done
    (``connect``, ``read``, ``pool``, ``write``). Not a subclass of the builtin ``TimeoutError``.
    """

    _retryable = True  # a slow answer is usually a passing condition.

    def __init__(
        self, message: str = "", *, timeout: float | None = None, operation: str | None = None, **fields: Any
    ) -> None:
        super().__init__(message, **fields)
        self.timeout = timeout
        self.operation = operation

    def advice(self) -> str:
        """Give more time, or retry."""
        limit = f" of {self.timeout:g} s" if self.timeout is not None else ""
        return f"The timeout{limit} expired; it is retried automatically. Raise Config.timeout or the per-request timeout for long completions."


class NetworkError(GroqError):
    """The connection could not be made or broke before a response (DNS, TCP, TLS, reset).

    ``permanent`` is True when it will fail the same way every time: the server's certificate is not
    trusted (expired, self-signed, for another host, or signed by a CA this machine does not know,
    as behind a TLS-inspecting proxy) or the server speaks no TLS version we accept (1.2 or newer).
    Such an error is not retried and does not count against the circuit breaker: the job fails at
    once with advice on trusting the certificate, instead of cycling through retries.
    """

    def __init__(self, message: str = "", *, cause: str | None = None, permanent: bool = False, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.cause = cause
        self.permanent = permanent

    @property
    def retryable(self) -> bool:
        """Connections fail transiently, except a certificate or TLS version refusal."""
        return not self.permanent

    def advice(self) -> str:
        """Usually connectivity, proxy or base URL; for a TLS refusal, how to trust the certificate."""
        if self.permanent:
            return (
                "The TLS handshake was refused, so nothing was sent and the request is not retried (it would fail "
                "the same way). If the certificate is legitimate but signed by a CA this machine does not know (a "
                "corporate proxy, a private CA), trust that CA: set SSL_CERT_FILE=/path/to/ca-bundle.pem or pass "
                "open_client(verify='/path/to/ca-bundle.pem'); certificate checks cannot be turned off. A server "
                "below TLS 1.2 must be upgraded. Otherwise check Config.base_url."
            )
        return "Could not talk to the server; it is retried automatically. Check connectivity, proxy settings and Config.base_url."


class StreamError(GroqError):
    """A streamed response broke off (error event, malformed SSE, dropped connection).

    ``partial_content`` holds the text received before the break, so nothing paid for is lost.
    """

    def __init__(self, message: str = "", *, partial_content: str = "", **fields: Any) -> None:
        super().__init__(message, **fields)
        self.partial_content = partial_content

    @property
    def retryable(self) -> bool:
        """Follows the status of the error event, else yes (a dropped stream can be re-requested)."""
        if self.status is None:
            return True
        return super().retryable

    def advice(self) -> str:
        """Say what survived."""
        kept = f" .partial_content keeps the {len(self.partial_content)} characters received."
        return f"The stream broke before it finished.{kept} Retry the request for a complete answer."


class CircuitOpenError(GroqError):
    """The circuit breaker refused the job: it is open and the config says fail fast (``when_open="fail"``),
    or it held the job for ``BreakerConfig.max_wait`` seconds without recovering (``waited`` is set).

    When most recent requests fail, the breaker stops sending requests to give the service room;
    ``retry_after`` is the time until it lets a probe request through.
    """

    _retryable = True  # once the breaker half-opens.

    def __init__(self, message: str = "", *, waited: float | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.waited = waited

    def advice(self) -> str:
        """Explain the breaker and the alternative mode (or, after a long wait, what to check)."""
        when = f" in {self.retry_after:.3g} s" if self.retry_after is not None else " shortly"
        if self.waited is not None:
            return (
                f"The server has been failing for at least {self.waited:.3g} s, so held jobs are failed rather than "
                f"kept waiting; the breaker tests recovery{when}. Check the server's status page, your network and "
                "Config.base_url, then resend the failed jobs; BreakerConfig(max_wait=...) waits longer (None: "
                "until recovery)."
            )
        return (
            f"Most recent requests failed, so the circuit breaker opened; it tests recovery{when}. "
            "Set BreakerConfig(when_open='wait') to queue instead of failing fast."
        )


class CoordinationError(GroqError):
    """The Redis that coordinates the shared rate budget could not be used.

    Raised by the lease actor when Redis stays unreachable for ``give_up_after`` seconds (or
    refuses us outright: wrong password, a read-only replica, a broken script). It stops the
    client: without Redis a worker cannot know what the others spend, and guessing would
    overshoot the account's limits, so jobs not yet answered fail instead (a batch resumes them).

    Attributes:
        url: the Redis URL, password masked.
    """

    def __init__(self, message: str = "", *, url: str | None = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.url = url

    @property
    def retryable(self) -> bool:
        """No: the request is fine, the coordination is not; fix Redis, then resume."""
        return False

    def advice(self) -> str:
        """Say where Redis was expected and what happened to the work."""
        where = f" at {self.url}" if self.url else ""
        return (
            f"Check that Redis{where} is running and reachable (Config.redis_url, GROQ_ORCH_REDIS_URL). "
            "No request was sent beyond the budget already leased; jobs not answered can be run again."
        )


# --- the Batch API's outcomes ------------------------------------------------------------------

#: How many of a refused input file's errors a BatchValidationError's message quotes.
_SHOWN_BATCH_ERRORS: Final = 5


def _item(record: Any, name: str) -> Any:
    """A field of a batch or error record, a Struct (``Batch``, ``BatchErrorDetail``) or a plain dict alike."""
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


class BatchError(GroqError):
    """A Groq batch ended without completing: it failed validation, expired or was cancelled.

    Raised (or returned, by :func:`batch_failure`) from a finished batch, not from an HTTP
    response: the calls that created and polled the batch succeeded. Whatever the batch finished
    is still in its files, so the message and advice name them.

    Attributes:
        batch: the finished batch (an ``orchestrator.Batch``), or None.
        batch_id: the batch's id.
        batch_status: its final status (``failed``, ``expired``, ``cancelled``).
        output_file_id: the file holding the lines that succeeded, or None.
        error_file_id: the file holding the lines that failed, or None.
        completion_window: the window the batch was given (``24h`` ... ``7d``).
        request_counts: the batch's ``total`` / ``completed`` / ``failed`` counts, or None.
    """

    _retryable = False  # a finished batch stays finished; what to resubmit is the caller's call.

    def __init__(
        self,
        message: str = "",
        *,
        batch: Any = None,
        batch_id: str | None = None,
        batch_status: str | None = None,
        output_file_id: str | None = None,
        error_file_id: str | None = None,
        completion_window: str | None = None,
        request_counts: Any = None,
        **fields: Any,
    ) -> None:
        self.batch = batch
        self.batch_id = batch_id if batch_id is not None else _item(batch, "id")
        self.batch_status = batch_status if batch_status is not None else _item(batch, "status")
        self.output_file_id = output_file_id if output_file_id is not None else _item(batch, "output_file_id")
        self.error_file_id = error_file_id if error_file_id is not None else _item(batch, "error_file_id")
        self.completion_window = completion_window if completion_window is not None else _item(batch, "completion_window")
        self.request_counts = request_counts if request_counts is not None else _item(batch, "request_counts")
        super().__init__(message or self._compose(), **fields)

    def _which(self) -> str:
        return f"batch {self.batch_id!r}" if self.batch_id else "the batch"

    def _progress(self) -> str:
        """``" with 80 of 100 lines done"`` when the counts are known."""
        counts = self.request_counts
        total, completed = _item(counts, "total"), _item(counts, "completed")
        if not isinstance(total, int) or not isinstance(completed, int):
            return ""
        failed = _item(counts, "failed")
        failed_text = f", {failed} failed" if isinstance(failed, int) and failed else ""
        return f" with {completed} of {total} lines done{failed_text}"

    def _compose(self) -> str:
        return f"{self._which()} ended with status {self.batch_status!r}{self._progress()}"

    def _files(self) -> str:
        """Where the batch's results are, for the advice."""
        parts = []
        if self.output_file_id:
            parts.append(f"its finished lines are in output_file_id {self.output_file_id!r}")
        if self.error_file_id:
            parts.append(f"its failed lines in error_file_id {self.error_file_id!r}")
        if not parts:
            return "no line finished (it has no output_file_id)"
        return " and ".join(parts) + " (client.files.download(file_id, path))"

    def advice(self) -> str:
        """Point at the result files."""
        files = self._files()
        return f"{files[:1].upper()}{files[1:]}; create a new batch for the lines you still need."


class BatchValidationError(BatchError):
    """The batch's input file was refused (status ``failed``): Groq names the bad lines.

    ``errors`` holds Groq's records (``BatchErrorDetail``: ``line``, ``message``, ``param``,
    ``code``); the message quotes the first few as ``line N: message (param)``.
    """

    def __init__(self, message: str = "", *, errors: Sequence[Any] | None = None, **fields: Any) -> None:
        self.errors = list(errors or [])
        super().__init__(message, **fields)

    def _compose(self) -> str:
        described = []
        for error in self.errors[:_SHOWN_BATCH_ERRORS]:
            line, param = _item(error, "line"), _item(error, "param")
            text = str(_item(error, "message") or _item(error, "code") or "refused")
            if line is not None:
                text = f"line {line}: {text}"
            if param:
                text += f" ({param})"
            described.append(text)
        if not described:
            return f"{self._which()} failed validation, and Groq named no line at fault"
        more = len(self.errors) - len(described)
        tail = f"; and {more} more" if more > 0 else ""
        return f"{self._which()} failed validation: {'; '.join(described)}{tail}"

    def advice(self) -> str:
        """Fix the named lines, upload again, and make a new batch."""
        where = f" (every error is in error_file_id {self.error_file_id!r})" if self.error_file_id else ""
        return (
            f"Fix those lines of the input file{where}: each line is one request with custom_id, method, url "
            "and body. Upload the fixed file (client.files.create) and create a new batch; the same file "
            "fails the same way."
        )


class BatchExpiredError(BatchError):
    """The batch's completion window ran out before every line was done (status ``expired``).

    Groq keeps what it finished: those lines are in ``output_file_id``; only the rest need another batch.
    """

    _retryable = True  # the same lines, sent again in a new batch, can finish.

    def _compose(self) -> str:
        window = f" of {self.completion_window}" if self.completion_window else ""
        return f"{self._which()} expired: its completion window{window} ran out{self._progress()}"

    def advice(self) -> str:
        """Keep the finished lines, resubmit the rest."""
        files = self._files()
        return (
            f"{files[:1].upper()}{files[1:]}; resubmit the rest in a new batch, or give it a longer "
            "completion_window (up to 7d)."
        )


class BatchCancelledError(BatchError):
    """The batch was cancelled (status ``cancelled``, after ``client.batches.cancel``) before it completed."""

    def _compose(self) -> str:
        return f"{self._which()} was cancelled{self._progress()}"

    def advice(self) -> str:
        """What finished before the cancel is kept."""
        if not self.output_file_id and not self.error_file_id:
            return "No line finished before the cancel (it has no output_file_id); create a new batch if you still need them."
        return (
            f"Lines finished before the cancel are kept: {self._files()}; create a new batch for the rest "
            "if you still need them."
        )


#: A finished batch's status -> the error it ended with (``completed`` has none).
_BATCH_FAILURES: Final[dict[str, type[BatchError]]] = {
    "failed": BatchValidationError,
    "expired": BatchExpiredError,
    "cancelled": BatchCancelledError,
}


def batch_failure(batch: Any) -> BatchError | None:
    """The error a finished batch ended with, or None if it completed.

    A completed batch may still hold failed lines (``request_counts.failed``, ``error_file_id``):
    those are per-request failures, read from the error file, not a failure of the batch.

    Args:
        batch: an ``orchestrator.Batch`` (or anything with its attributes, or its dict).

    Returns:
        :class:`BatchValidationError` for ``failed`` (with Groq's line errors),
        :class:`BatchExpiredError` for ``expired``, :class:`BatchCancelledError` for ``cancelled``,
        None for ``completed``.

    Raises:
        ValueError: the batch has not finished (``validating``, ``in_progress``, ``finalizing``,
            ``cancelling``, or a status this version does not know): poll until ``batch.finished``.
    """
    status = _item(batch, "status")
    if status == "completed":
        return None
    cls = _BATCH_FAILURES.get(status) if isinstance(status, str) else None
    if cls is None:
        raise ValueError(
            f"batch.status: {status!r} is not a finished status (completed, failed, expired, cancelled); "
            f"poll client.batches.retrieve({_item(batch, 'id')!r}) until batch.finished, then ask again"
        )
    if cls is BatchValidationError:
        errors = _item(batch, "errors")
        return BatchValidationError(batch=batch, errors=_item(errors, "data") if errors is not None else None)
    return cls(batch=batch)


# --- mapping HTTP responses to the hierarchy ----------------------------------------------

#: Specific codes, matched against ``error.code`` then ``error.type`` (spec 9.4 plus Groq's own).
_BY_CODE: Final[dict[str, type[GroqError]]] = {
    "invalid_api_key": AuthenticationError,
    "insufficient_quota": RateLimitError,
    "model_not_found": ModelError,
    "model_decommissioned": ModelDecommissionedError,
    "context_length_exceeded": ContextLengthError,
    "content_filter": ContentFilterError,
    "server_error": ServerError,
    "service_unavailable": ServerError,
    "capacity_exceeded": CapacityExceededError,
    "rate_limit_exceeded": RateLimitError,
    "json_validate_failed": ValidationError,
    "tool_use_failed": ValidationError,
}

_BY_STATUS: Final[dict[int, type[GroqError]]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: AuthorizationError,
    404: NotFoundError,
    408: TimeoutError,
    413: RequestTooLargeError,
    422: ValidationError,
    429: RateLimitError,
    498: CapacityExceededError,
    499: ServerError,
}

#: Generic types, consulted only when neither the code nor the status decided.
_BY_TYPE: Final[dict[str, type[GroqError]]] = {
    "invalid_request_error": ValidationError,
}

# The duration token only: the sentence's own full stop ("in 5.289s.") must not reach the parser.
_TRY_AGAIN: Final = re.compile(r"try again in ((?:\d+(?:\.\d+)?(?:ns|us|\u00b5s|\u03bcs|ms|h|m|s))+)", re.IGNORECASE)


def _retry_after_from_message(message: str) -> float | None:
    """Seconds from "Please try again in 2m59.56s" (a Go duration), or None."""
    match = _TRY_AGAIN.search(message)
    if match is None:
        return None
    try:
        seconds = parse_go_duration(match.group(1))
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) else None


def _seconds(text: str | None, scale: float = 1.0) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip()) * scale
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _text(value: object) -> str | None:
    """A JSON scalar as text (Groq's old bodies use integer codes); anything else is dropped."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    return None


def _detail(body: bytes) -> tuple[dict[str, Any], int | None]:
    """The ``error`` object of a body, tolerating anything; plus an embedded ``status_code``."""
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        text = body.decode("utf-8", "replace").strip()[:_MAX_TEXT_MESSAGE]
        return ({"message": text} if text else {}), None
    if not isinstance(data, dict):
        return {}, None
    error = data.get("error", data)
    if isinstance(error, str):
        return {"message": error}, None
    if not isinstance(error, dict):
        return {}, None
    status = error.get("status_code")
    return error, status if isinstance(status, int) and not isinstance(status, bool) else None


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _classify(status: int, code: str | None, type_: str | None) -> type[GroqError]:
    for key in (code, type_):
        if key in _BY_CODE:
            cls = _BY_CODE[key]  # type: ignore[index]
            if cls is RateLimitError and status == 413:
                return RequestTooLargeError
            return cls
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if type_ in _BY_TYPE:
        return _BY_TYPE[type_]  # type: ignore[index]
    if status >= 500:
        return ServerError
    return GroqError


def _default_message(status: int) -> str:
    return f"Groq answered HTTP {status} with no error message"


@contextmanager
def unwrapped_errors() -> Iterator[None]:
    """Let one error escape a nursery as itself, not as a one-member ExceptionGroup.

    trio wraps whatever leaves a nursery in an ExceptionGroup; a caller who writes
    ``except ModelError`` around ``open_client`` or ``map`` should still catch a ModelError.
    Groups of several errors are left as they are.
    """
    try:
        yield
    except BaseExceptionGroup as group:
        error: BaseException = group
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if error is group:
            raise
        raise error from error.__cause__


def error_from_response(status: int, headers: Mapping[str, str], body: bytes) -> GroqError:
    """Turn an HTTP error response (or an in-stream error event) into the right :class:`GroqError`.

    The class is chosen by Groq's ``error.code`` / ``error.type`` first (spec 9.4: e.g.
    ``model_not_found`` -> ModelError, ``rate_limit_exceeded`` on a 413 -> RequestTooLargeError),
    then by status. It never raises: a body that is empty, not JSON, JSON but not an object, or
    missing fields still gives an error with the status and whatever text there was.

    Args:
        status: the HTTP status. For an error event inside a 200 stream pass 200: the
            ``status_code`` Groq puts in the event wins.
        headers: response headers (any case); ``x-request-id`` and ``retry-after`` /
            ``retry-after-ms`` are read.
        body: the raw response body, or the event's data.

    Returns:
        The error, with ``status``, ``type``, ``code``, ``param``, ``request_id``,
        ``retry_after`` and ``body`` set as far as the response gave them.
    """
    detail, embedded_status = _detail(body)
    if status < 400 and embedded_status is not None:
        status = embedded_status
    lowered = _lower_headers(headers)
    message = _text(detail.get("message")) or _default_message(status)
    code = _text(detail.get("code"))
    type_ = _text(detail.get("type"))
    retry_after = _seconds(lowered.get("retry-after-ms"), 1e-3)
    if retry_after is None:
        retry_after = _seconds(lowered.get("retry-after"))
    if retry_after is None:
        retry_after = _retry_after_from_message(message)
    cls = _classify(status, code, type_)
    return cls(
        message,
        status=status,
        type=type_,
        code=code,
        param=_text(detail.get("param")),
        request_id=lowered.get("x-request-id") or None,
        retry_after=retry_after,
        body=body,
        failed_generation=_text(detail.get("failed_generation")),
    )
