"""Client configuration: immutable, validated once, built three ways.

A :class:`Config` is a frozen value checked completely when it is made, so a bad setting fails
at start-up with an error naming the setting and the value, not deep inside a worker an hour into
a batch. Make one with keywords (``Config(api_key=...)``), fluently with :class:`ConfigBuilder`
(spec 7.6), or from ``GROQ_*`` environment variables with :meth:`Config.from_env`; derive
variants with :meth:`Config.replace`. The policies it carries are separate values so each can be
passed to the machine that uses it:

- :class:`RetryConfig`: how often and how long to back off (1 s -> 60 s, x2, full jitter), and the
  client-wide retry budget (20 % of recent first attempts);
- :class:`BreakerConfig`: when the circuit opens (half of 20+ recent requests failing), probes (30 s),
  closes (3 of 5 probes), and how long jobs wait for it (60 s);
- :class:`RateLimitConfig`: per-model :class:`ModelLimits` overrides of the catalog's defaults.

The API key lives in a :class:`~orchestrator._secret.SecretString`, so a ``Config`` can be
logged, printed or shown in a traceback without leaking it.
"""

from __future__ import annotations

import datetime
import ipaddress
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final, Literal, NoReturn
from urllib.parse import urlsplit

import msgspec

from actors._budget import ModelLimits as BudgetLimits
from orchestrator._errors import ConfigError
from orchestrator.observe._redact import register_secret
from orchestrator._secret import SecretString, redact_text
from orchestrator._tiers import TIER_NAMES

__all__ = [
    "DEFAULT_BASE_URL",
    "BreakerConfig",
    "Config",
    "ConfigBuilder",
    "ModelLimits",
    "RateLimitConfig",
    "RetryConfig",
    "SecretString",
    "parse_model_mapping",
]

DEFAULT_BASE_URL: Final = "https://api.groq.com/openai/v1"
DEFAULT_USER_AGENT: Final = "groq-orchestrator/0.1.0"

_DAY: Final = 86_400.0
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: Headers the client sets itself; a default header may not replace them.
_RESERVED_HEADERS: Final = {
    "authorization": "the API key is sent as Authorization; set Config.api_key instead",
    "user-agent": "set Config.user_agent instead",
    "content-length": "httpx computes it per request",
    "host": "it follows from Config.base_url",
}


def _fail(field: str, value: Any, rule: str, *, show_value: bool = True) -> NoReturn:
    if show_value:
        raise ConfigError(field=field, value=value, rule=rule)
    raise ConfigError(field=field, rule=rule)


def _seconds(field: str, value: Any, *, low: float, high: float) -> float:
    """A duration in seconds (a number or a ``timedelta``) in (low, high]."""
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(field, value, "must be a number of seconds")
    seconds = float(value)
    if not (math.isfinite(seconds) and low < seconds <= high):
        _fail(field, value, f"must be more than {low:g} and at most {high:g} seconds")
    return seconds


def _number(field: str, value: Any, *, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        _fail(field, value, "must be a finite number")
    if not low <= value <= high:
        _fail(field, value, f"must be between {low:g} and {high:g}")
    return float(value)


def _integer(field: str, value: Any, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(field, value, "must be an integer")
    if not low <= value <= high:
        _fail(field, value, f"must be between {low} and {high}")
    return value


def _boolean(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        _fail(field, value, "must be True or False")
    return value


class ModelLimits(BudgetLimits, frozen=True, forbid_unknown_fields=True):
    """Rate limits to assume for one model, overriding the plan's published ones.

    Set the ones you know (your numbers from console.groq.com/settings/limits); leave the rest
    None and the budget starts from your plan's table and learns from Groq's headers and bodies.
    The fields are the engine's own (``actors._budget.ModelLimits``, one definition of the
    windows); this class adds the validation a user's input needs.

    Attributes:
        rpm, rpd: requests per minute / per day.
        tpm, tpd: tokens per minute / per day.
        itpm, otpm: input / output tokens per minute, if your organization has them (the Limits
            page shows TPM as "X in / Y out").
    """

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if value is not None:
                _integer(f"limits.{name}", value, low=1, high=10**12)


class RetryConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How failed attempts are retried (spec NFR-REL-001).

    The n-th retry waits ``min(max_delay, initial_delay * multiplier**n)``, drawn uniformly from
    zero up to that when ``jitter`` is on ("full jitter": thousands of clients that failed
    together do not retry together). A server's ``retry-after`` takes precedence. Only retryable
    errors (429, 498, 5xx, timeouts, network) are retried, never a 4xx that would fail again.

    In a batch the last jobs to fail wait out their backoff alone, so ``initial_delay`` sets the
    batch's tail: measured (``bench/breaker_faults.py``, 3,000 jobs, 10 % of 500s, 10 seeds), the
    batch ran at 0.80-0.93 of its fault-free speed with the spec's 1 s and 0.88-1.0 with 0.5 s
    (the official groq and openai SDKs' first delay).

    A *retry budget* caps the retries of the whole client, so that a batch does not multiply the
    load on a failing server (Finagle's and gRPC's retry budgets): over the last 10 s, retries of
    server trouble may be at most ``budget_ratio`` of the first attempts, plus ``budget_per_second``
    retries a second. Past it, a retryable failure is final. A 429 never spends it.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        initial_delay: seconds before the first retry (the upper end of its jitter).
        max_delay: cap on any single wait.
        multiplier: growth factor per retry.
        jitter: full jitter on (True) or exact delays (False, for reproducible tests).
        budget_ratio: retries allowed per recent first attempt (0.2: at most 20 % extra load);
            None switches the budget off (every job gets its ``max_retries``).
        budget_per_second: retries a second allowed whatever the traffic (the floor).
    """

    max_retries: int = 3
    initial_delay: float = 1.0
    max_delay: float = 60.0
    multiplier: float = 2.0
    jitter: bool = True
    budget_ratio: float | None = 0.2
    budget_per_second: float = 10.0

    def __post_init__(self) -> None:
        _integer("retry_config.max_retries", self.max_retries, low=0, high=100)
        initial = _seconds("retry_config.initial_delay", self.initial_delay, low=0.0, high=3600.0)
        _seconds("retry_config.max_delay", self.max_delay, low=0.0, high=_DAY)
        if self.max_delay < initial:
            _fail("retry_config.max_delay", self.max_delay, f"must be at least initial_delay ({initial:g} s)")
        _number("retry_config.multiplier", self.multiplier, low=1.0, high=100.0)
        _boolean("retry_config.jitter", self.jitter)
        if self.budget_ratio is not None:
            _number("retry_config.budget_ratio", self.budget_ratio, low=0.0, high=100.0)
        _number("retry_config.budget_per_second", self.budget_per_second, low=0.0, high=1e6)


class BreakerConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When the circuit breaker stops traffic and how it recovers (spec NFR-REL-002, issue 18).

    The breaker judges the share of failures (5xx, 498, timeouts, broken connections) among the
    last ``window_size`` requests sent (in the order they were sent; one still in flight counts as
    not failed): once at least ``minimum_calls`` of them have answered and ``failure_rate`` or more
    failed, the circuit opens. A steady trickle of errors (10 % of 500s, measured with
    ``bench/breaker_faults.py``: never opened in 3,000-job batches, nor at 30 %) therefore never
    opens it; a server failing everything does within ``minimum_calls`` requests. After ``reset_timeout`` seconds it half-opens and lets ``half_open_probes`` probe
    requests through: it closes if fewer than ``failure_rate`` of them fail, and re-opens otherwise.

    While open, ``when_open`` decides what happens to new work: ``"wait"`` holds it until the
    circuit closes, but for at most ``max_wait`` seconds after the outage began (None: no bound),
    then fails it with :class:`~orchestrator._errors.CircuitOpenError`, so a batch against a server
    that is gone ends instead of waiting forever; ``"fail"`` raises that error at once.

    ``failure_threshold`` and ``success_threshold`` are the names of an older, consecutive-count
    breaker; given, they set ``minimum_calls`` and ``half_open_probes`` (so ``failure_threshold=5``
    still opens a fresh breaker after five failures in a row).
    """

    failure_rate: float = 0.5
    minimum_calls: int = 20
    window_size: int = 100
    half_open_probes: int = 5
    reset_timeout: float = 30.0
    max_wait: float | None = 60.0
    when_open: Literal["wait", "fail"] = "wait"
    failure_threshold: int | None = None
    success_threshold: int | None = None

    def __post_init__(self) -> None:
        prefix = "circuit_breaker_config."
        aliased = self.failure_threshold is not None
        if self.failure_threshold is not None:
            _integer(prefix + "failure_threshold", self.failure_threshold, low=1, high=1_000_000)
            msgspec.structs.force_setattr(self, "minimum_calls", self.failure_threshold)
            msgspec.structs.force_setattr(self, "failure_threshold", None)
        if self.success_threshold is not None:
            _integer(prefix + "success_threshold", self.success_threshold, low=1, high=1_000_000)
            msgspec.structs.force_setattr(self, "half_open_probes", self.success_threshold)
            msgspec.structs.force_setattr(self, "success_threshold", None)
        _number(prefix + "failure_rate", self.failure_rate, low=0.0, high=1.0)
        if self.failure_rate == 0:
            _fail(prefix + "failure_rate", self.failure_rate, "must be more than 0 (a share such as 0.5)")
        _integer(prefix + "minimum_calls", self.minimum_calls, low=1, high=1_000_000)
        _integer(prefix + "window_size", self.window_size, low=1, high=1_000_000)
        if self.window_size < self.minimum_calls:
            if not aliased:
                _fail(prefix + "window_size", self.window_size, f"must be at least minimum_calls ({self.minimum_calls})")
            msgspec.structs.force_setattr(self, "window_size", self.minimum_calls)  # an old config: make room
        _integer(prefix + "half_open_probes", self.half_open_probes, low=1, high=1_000_000)
        _seconds(prefix + "reset_timeout", self.reset_timeout, low=0.0, high=_DAY)
        if self.max_wait is not None:
            _seconds(prefix + "max_wait", self.max_wait, low=0.0, high=_DAY)
        if self.when_open not in ("wait", "fail"):
            _fail(prefix + "when_open", self.when_open, "must be 'wait' or 'fail'")


class RateLimitConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rate-limit settings: per-model limits that replace the catalog's defaults.

    ``model_limits`` maps a model id to :class:`ModelLimits`; models not listed start from the
    catalog (or conservative defaults for unknown ones) and learn from headers either way.
    """

    model_limits: Mapping[str, ModelLimits] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.model_limits, Mapping):
            _fail("rate_limit_config.model_limits", self.model_limits, "must be a mapping of model id to ModelLimits")
        for model, limits in self.model_limits.items():
            if not isinstance(model, str) or not model.strip():
                _fail("rate_limit_config.model_limits", model, "keys must be non-empty model ids")
            if not isinstance(limits, ModelLimits):
                _fail(f"rate_limit_config.model_limits[{model!r}]", limits, "must be a ModelLimits")
        msgspec.structs.force_setattr(self, "model_limits", MappingProxyType(dict(self.model_limits)))

    def __copy__(self) -> RateLimitConfig:
        return self  # immutable, and its read-only mapping cannot be copied field by field

    def __deepcopy__(self, memo: dict[int, Any]) -> RateLimitConfig:
        return self

    def limits_for(self, model_id: str) -> ModelLimits | None:
        """The configured override for a model, or None to use the catalog."""
        return self.model_limits.get(model_id)


def _api_key_problem(secret: SecretString) -> str | None:
    """Why the key is unusable, or None. Kept apart so no frame that raises holds the raw key."""
    if not secret:
        return "must not be empty; set GROQ_API_KEY or pass api_key (keys start with 'gsk_')"
    if any(ch.isspace() or not ch.isprintable() for ch in secret.get_secret_value()):
        return "contains whitespace or control characters (a stray newline from a file or shell?); strip it"
    return None


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _checked_base_url(value: Any) -> str:
    field = "base_url"
    if not isinstance(value, str) or not value.strip():
        _fail(field, value, "must be a URL such as https://api.groq.com/openai/v1")
    if value != value.strip() or any(ch.isspace() for ch in value):
        _fail(field, value, "must not contain whitespace")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError on a bad port
        problem = None
    except ValueError as exc:
        # Failed outside the handler: urlsplit's own message may quote the URL, and a chained
        # traceback would print it unredacted.
        problem = f"is not a valid URL ({exc})"
    if problem is not None:
        _fail(field, value, problem)
    if parts.scheme not in ("https", "http") or not host:
        _fail(field, value, "must be an absolute https:// URL such as https://api.groq.com/openai/v1")
    if parts.scheme == "http" and not _loopback(host):
        _fail(
            field,
            value,
            "must use https (TLS); plain http is only allowed to a loopback emulator "
            "(localhost, 127.0.0.0/8, ::1)",
        )
    if parts.username is not None or parts.password is not None:
        _fail(field, value, "must not contain credentials; use Config.api_key")
    if parts.query or parts.fragment:
        _fail(field, value, "must not have a query or fragment; endpoint paths are appended to it")
    return value.rstrip("/")


class _RedisURL(str):
    """A Redis URL whose ``repr`` masks the password, so a printed or logged ``Config`` does not leak it."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(_redacted(self))


def _redacted(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, as a plain ``str`` (``_secret.redact_text``)."""
    return redact_text(str.__str__(url))


def _checked_redis_url(value: Any) -> str | None:
    """``redis://`` or ``rediss://``, a host, a sane port, an optional database number."""
    field = "redis_url"
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        _fail(field, value, "must be a URL such as redis://127.0.0.1:6379/0 (or None for an in-process budget)")
    shown = _redacted(value)
    if any(ch.isspace() for ch in value):
        _fail(field, shown, "must not contain whitespace")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        port = parts.port
        problem = None
    except ValueError as exc:
        problem = f"is not a valid URL ({exc}); the port must be 1-65535"
    if problem is not None:
        _fail(field, shown, problem)
    if parts.scheme not in ("redis", "rediss"):
        _fail(field, shown, "must start with redis:// (or rediss:// for TLS), e.g. redis://127.0.0.1:6379/0")
    if not host:
        _fail(field, shown, "must name a host, e.g. redis://127.0.0.1:6379/0")
    if port == 0:
        _fail(field, shown, "must have a port from 1 to 65535 (6379 is Redis's default)")
    database = parts.path.strip("/")
    if database and not (database.isdigit() and int(database) < 1_000_000):
        _fail(field, shown, f"database {database!r} must be a number, e.g. redis://127.0.0.1:6379/0")
    if parts.fragment:
        _fail(field, shown, "must not have a #fragment")
    return _RedisURL(value)


def _checked_headers(value: Any) -> MappingProxyType[str, str]:
    if not isinstance(value, Mapping):
        _fail("default_headers", value, "must be a mapping of header name to value")
    headers: dict[str, str] = {}
    for name, text in value.items():
        if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
            _fail("default_headers", name, "header names must be non-empty HTTP tokens")
        if (reason := _RESERVED_HEADERS.get(name.lower())) is not None:
            _fail(f"default_headers[{name!r}]", text, f"may not be overridden: {reason}", show_value=False)
        if not isinstance(text, str) or any(ch in text for ch in "\r\n\0"):
            # Header values can be credentials (proxy tokens), so the value is never quoted.
            _fail(f"default_headers[{name!r}]", text, "must be a str without CR, LF or NUL", show_value=False)
        headers[name] = text
    return MappingProxyType(headers)


def _model_id_problem(model: Any) -> str | None:
    if not isinstance(model, str) or not model.strip():
        return "model ids must be non-empty strings"
    if any(ch.isspace() for ch in model):
        return "model ids contain no whitespace"
    return None


def _checked_model_map(value: Any) -> MappingProxyType[str, str]:
    """``{old: new}`` with two different, non-empty model ids on every entry."""
    if not isinstance(value, Mapping):
        _fail("model_map", value, "must be a mapping of old model id to new model id, e.g. "
              "{'llama-3.1-8b-instant': 'openai/gpt-oss-20b'}")
    checked: dict[str, str] = {}
    for old, new in value.items():
        if (problem := _model_id_problem(old)) is not None:
            _fail("model_map", old, f"keys: {problem}")
        if (problem := _model_id_problem(new)) is not None:
            _fail(f"model_map[{old!r}]", new, problem)
        if old == new:
            _fail(f"model_map[{old!r}]", new, "maps the model to itself; map it to a different model")
        checked[old] = new
    return MappingProxyType(checked)


def parse_model_mapping(text: str) -> tuple[str, str]:
    """``"OLD=NEW"`` (the ``--model-map`` flag) as ``(old, new)``.

    Raises:
        ConfigError: naming ``model_map`` and the text, when there is no ``=``, a side is empty, or
            both sides are the same model.
    """
    old, eq, new = (text if isinstance(text, str) else "").partition("=")
    old, new = old.strip(), new.strip()
    if not eq:
        _fail("model_map", text, "must look like OLD=NEW, e.g. llama-3.1-8b-instant=openai/gpt-oss-20b")
    if not old or not new:
        side = "old (left of '=')" if not old else "new (right of '=')"
        _fail("model_map", text, f"has an empty {side} model; write OLD=NEW")
    if any(ch.isspace() for ch in old + new):
        _fail("model_map", text, "model ids contain no whitespace; write OLD=NEW")
    if old == new:
        _fail("model_map", text, "maps a model to itself; map it to a different model")
    return old, new


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a client needs to reach Groq: credentials, endpoint, timeouts, and policies.

    Immutable and validated on construction: a ``Config`` that exists is usable. Every field but
    ``api_key`` has a default matching the spec (FR-CLIENT-001, NFR-REL-001/002).

    Attributes:
        api_key: the Groq key (``gsk_...``; emulator keys may be any text without whitespace);
            a plain ``str`` is wrapped in :class:`SecretString`.
        base_url: ``https://`` endpoint; ``http://`` only to a loopback host (the emulator).
        timeout: seconds to wait for a response (per attempt; per-request overrides exist).
        retry_config, circuit_breaker_config, rate_limit_config: the policies, see their classes.
        default_headers: extra headers on every request (not Authorization, User-Agent, Host,
            Content-Length).
        workers: concurrent HTTP requests in flight (the connection pool size).
        queue_size: jobs that may wait in the submit queue before ``submit`` blocks.
        http2: negotiate HTTP/2 (multiplexes many requests over few connections).
        user_agent: the ``User-Agent`` header.
        redis_url: ``redis://`` or ``rediss://`` URL of a Redis through which every process using
            the same API key shares one rate budget (``GROQ_ORCH_REDIS_URL``); None keeps the
            budget in this process. Its password never shows in ``repr``.
        tier: your Groq plan, ``"free"`` or ``"developer"`` (``GROQ_ORCH_TIER``): limits the
            headers do not report (RPM, TPD) start from that plan's published table. None (the
            default) recognises the plan from the first response's headers; ``limits`` still win.
        model_map: ``{old: new}`` model ids: every chat and audio request naming ``old`` is sent to
            ``new`` instead, rewritten before validation (applied once, not chained). Moves a whole
            workload off a retired model without editing it (``--model-map OLD=NEW``).
        refresh_catalog: refresh the model catalog from ``GET /models`` when the client opens (one
            request, bounded by a 2 s timeout, never fatal), so models Groq added since this release
            work with their real sizes. None (the default) refreshes only for a non-loopback
            ``base_url`` (Groq, a proxy), not for the bundled emulator, which serves the built-in
            catalog; True or False force it on or off.

    Raises:
        ConfigError: naming the field and value, when any setting is out of range.
    """

    api_key: SecretString
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 60.0
    retry_config: RetryConfig = msgspec.field(default_factory=RetryConfig)
    circuit_breaker_config: BreakerConfig = msgspec.field(default_factory=BreakerConfig)
    rate_limit_config: RateLimitConfig = msgspec.field(default_factory=RateLimitConfig)
    default_headers: Mapping[str, str] = msgspec.field(default_factory=dict)
    workers: int = 64
    queue_size: int = 1024
    http2: bool = False
    user_agent: str = DEFAULT_USER_AGENT
    redis_url: str | None = None
    tier: str | None = None
    model_map: Mapping[str, str] = msgspec.field(default_factory=dict)
    refresh_catalog: bool | None = None

    def __post_init__(self) -> None:
        if isinstance(self.api_key, str):
            msgspec.structs.force_setattr(self, "api_key", SecretString(self.api_key))
        if not isinstance(self.api_key, SecretString):
            _fail("api_key", type(self.api_key).__name__, "must be a str or SecretString")
        if (problem := _api_key_problem(self.api_key)) is not None:
            _fail("api_key", self.api_key, problem)
        register_secret(self.api_key)  # so log redaction also hides keys without the gsk_ prefix
        msgspec.structs.force_setattr(self, "base_url", _checked_base_url(self.base_url))
        msgspec.structs.force_setattr(self, "timeout", _seconds("timeout", self.timeout, low=0.0, high=_DAY))
        for name, cls in (
            ("retry_config", RetryConfig),
            ("circuit_breaker_config", BreakerConfig),
            ("rate_limit_config", RateLimitConfig),
        ):
            if not isinstance(getattr(self, name), cls):
                _fail(name, getattr(self, name), f"must be a {cls.__name__}")
        msgspec.structs.force_setattr(self, "default_headers", _checked_headers(self.default_headers))
        _integer("workers", self.workers, low=1, high=10_000)
        _integer("queue_size", self.queue_size, low=1, high=10_000_000)
        _boolean("http2", self.http2)
        if not isinstance(self.user_agent, str) or not self.user_agent or any(ch in self.user_agent for ch in "\r\n\0"):
            _fail("user_agent", self.user_agent, "must be a non-empty str without CR, LF or NUL")
        msgspec.structs.force_setattr(self, "redis_url", _checked_redis_url(self.redis_url))
        if self.tier is not None and self.tier not in TIER_NAMES:
            _fail("tier", self.tier, f"must be one of {', '.join(TIER_NAMES)} (or None to recognise it from the headers)")
        msgspec.structs.force_setattr(self, "model_map", _checked_model_map(self.model_map))
        if self.refresh_catalog is not None:
            _boolean("refresh_catalog", self.refresh_catalog)

    def __copy__(self) -> Config:
        return self  # immutable: a copy would be indistinguishable

    def __deepcopy__(self, memo: dict[int, Any]) -> Config:
        return self

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt (``retry_config.max_retries``)."""
        return self.retry_config.max_retries

    def http_headers(self) -> dict[str, str]:
        """The headers for every request, including ``Authorization: Bearer <key>``.

        The returned dict holds the key in clear text: hand it straight to httpx (whose
        ``Headers`` repr masks Authorization) and do not log it.
        """
        headers = dict(self.default_headers)
        headers["User-Agent"] = self.user_agent
        headers["Authorization"] = f"Bearer {self.api_key.get_secret_value()}"
        return headers

    def replace(self, **changes: Any) -> Config:
        """A new, validated ``Config`` with some settings changed.

        Accepts every field name, plus ``max_retries`` (sets ``retry_config.max_retries``).

        Raises:
            ConfigError: for an unknown setting or an invalid value.
        """
        if isinstance(changes.get("api_key"), str):
            changes["api_key"] = SecretString(changes["api_key"])
        if "max_retries" in changes:
            retry = changes.get("retry_config", self.retry_config)
            if not isinstance(retry, RetryConfig):
                _fail("retry_config", retry, "must be a RetryConfig")
            changes["retry_config"] = msgspec.structs.replace(retry, max_retries=changes.pop("max_retries"))
        unknown = sorted(set(changes) - set(self.__struct_fields__))
        if unknown:
            valid = ", ".join((*self.__struct_fields__, "max_retries"))
            _fail(unknown[0], changes[unknown[0]], f"is not a Config setting; valid settings: {valid}")
        return msgspec.structs.replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """A ``Config`` from ``GROQ_*`` environment variables, then keyword overrides.

        Reads ``GROQ_API_KEY`` (required unless ``api_key`` is passed), ``GROQ_BASE_URL``,
        ``GROQ_TIMEOUT`` (seconds), ``GROQ_MAX_RETRIES``, ``GROQ_ORCH_REDIS_URL`` and ``GROQ_ORCH_TIER``; an empty
        variable counts as unset.

        Args:
            environ: the variables to read; ``os.environ`` by default.
            overrides: any :meth:`replace` setting, applied over the environment.

        Raises:
            ConfigError: naming the variable (``GROQ_TIMEOUT``) or setting at fault.
        """
        values = _read_environment(environ)
        # The environment (and with it the raw key) must not be a local of a frame that raises,
        # or a traceback rendered with capture_locals=True would print it.
        del environ
        if isinstance(overrides.get("api_key"), str):
            overrides["api_key"] = SecretString(overrides["api_key"])
        key_source = "api_key" if "api_key" in overrides else "GROQ_API_KEY"
        api_key = overrides.pop("api_key", values.get("GROQ_API_KEY"))
        if api_key is None:
            _fail("GROQ_API_KEY", None, "is not set; export GROQ_API_KEY=gsk_... or pass api_key", show_value=False)
        try:
            config = cls(api_key=api_key)
        except ConfigError as exc:
            raise _renamed(exc, key_source) from None
        for name, setting, kind in _ENV_SETTINGS:
            if name not in values:
                continue
            value = values[name] if kind is str else _parse_env_number(name, values[name], kind)
            try:
                config = config.replace(**{setting: value})
            except ConfigError as exc:
                raise _renamed(exc, name) from None
        return config.replace(**overrides) if overrides else config


#: (variable, setting, type) for the optional variables.
_ENV_SETTINGS: Final[tuple[tuple[str, str, type], ...]] = (
    ("GROQ_BASE_URL", "base_url", str),
    ("GROQ_TIMEOUT", "timeout", float),
    ("GROQ_MAX_RETRIES", "max_retries", int),
    ("GROQ_ORCH_REDIS_URL", "redis_url", str),
    ("GROQ_ORCH_TIER", "tier", str),
)


def _read_environment(environ: Mapping[str, str] | None) -> dict[str, Any]:
    """The GROQ_* values that are set and non-empty, with the key already wrapped. Never raises."""
    if environ is None:
        import os

        environ = os.environ
    values: dict[str, Any] = {name: environ[name].strip() for name, _, _ in _ENV_SETTINGS if environ.get(name, "").strip()}
    if environ.get("GROQ_API_KEY"):
        values["GROQ_API_KEY"] = SecretString(environ["GROQ_API_KEY"])
    return values


def _renamed(error: ConfigError, field: str) -> ConfigError:
    """The same complaint, attributed to the environment variable the value came from."""
    return ConfigError(field=field, value=error.value, rule=error.rule)


def _parse_env_number(name: str, text: str, kind: type[int] | type[float]) -> Any:
    try:
        return kind(text)
    except ValueError:
        pass
    _fail(name, text, "must be an integer" if kind is int else "must be a number of seconds")


class ConfigBuilder:
    """Builds a :class:`Config` step by step (spec 7.6), validating everything in :meth:`build`.

    Each method records one setting and returns the builder, so calls chain::

        config = (
            ConfigBuilder()
            .api_key(os.environ["GROQ_API_KEY"])
            .timeout(30)
            .max_retries(5)
            .default_header("X-Team", "search")
            .build()
        )

    Start from an existing config with ``ConfigBuilder(config)``.
    """

    __slots__ = ("_changes", "_headers", "_model_limits", "_retry_changes")

    def __init__(self, base: Config | None = None) -> None:
        self._changes: dict[str, Any] = {}
        self._retry_changes: dict[str, Any] = {}
        self._headers: dict[str, str] = dict(base.default_headers) if base else {}
        self._model_limits: dict[str, ModelLimits] = dict(base.rate_limit_config.model_limits) if base else {}
        if base is not None:
            self._changes = {name: getattr(base, name) for name in base.__struct_fields__}

    def __repr__(self) -> str:
        shown = {k: v for k, v in self._changes.items() if k != "api_key"}
        key = "set" if "api_key" in self._changes else "missing"
        return f"<ConfigBuilder api_key={key} settings={shown!r}>"

    def api_key(self, key: str | SecretString) -> ConfigBuilder:
        """The Groq API key (``gsk_...``)."""
        self._changes["api_key"] = SecretString(key) if isinstance(key, str) else key
        return self

    def base_url(self, url: str) -> ConfigBuilder:
        """The API root; https, or http to a loopback emulator."""
        self._changes["base_url"] = url
        return self

    def timeout(self, duration: float | datetime.timedelta) -> ConfigBuilder:
        """Per-attempt timeout, in seconds or as a ``timedelta``."""
        self._changes["timeout"] = duration
        return self

    def max_retries(self, count: int) -> ConfigBuilder:
        """Retries after the first attempt; applied on top of :meth:`retry_config`."""
        self._retry_changes["max_retries"] = count
        return self

    def retry_config(self, config: RetryConfig) -> ConfigBuilder:
        """The whole retry policy."""
        self._changes["retry_config"] = config
        return self

    def circuit_breaker_config(self, config: BreakerConfig) -> ConfigBuilder:
        """The circuit-breaker policy."""
        self._changes["circuit_breaker_config"] = config
        return self

    def rate_limit_config(self, config: RateLimitConfig) -> ConfigBuilder:
        """The rate-limit settings; later :meth:`model_limits` calls add to them."""
        self._changes["rate_limit_config"] = config
        self._model_limits = dict(config.model_limits) if isinstance(config, RateLimitConfig) else {}
        return self

    def model_limits(self, model_id: str, limits: ModelLimits) -> ConfigBuilder:
        """Override one model's rate limits."""
        self._model_limits[model_id] = limits
        return self

    def default_header(self, name: str, value: str) -> ConfigBuilder:
        """Add a header sent with every request (not Authorization: use :meth:`api_key`)."""
        self._headers[name] = value
        return self

    def workers(self, count: int) -> ConfigBuilder:
        """Concurrent requests in flight."""
        self._changes["workers"] = count
        return self

    def queue_size(self, size: int) -> ConfigBuilder:
        """Jobs that may wait before ``submit`` applies backpressure."""
        self._changes["queue_size"] = size
        return self

    def http2(self, enabled: bool = True) -> ConfigBuilder:
        """Negotiate HTTP/2."""
        self._changes["http2"] = enabled
        return self

    def user_agent(self, value: str) -> ConfigBuilder:
        """The User-Agent header."""
        self._changes["user_agent"] = value
        return self

    def build(self) -> Config:
        """The validated :class:`Config`.

        Raises:
            ConfigError: naming the first invalid or missing setting.
        """
        settings = dict(self._changes)
        if "api_key" not in settings:
            _fail("api_key", None, "is required; call .api_key('gsk_...') or use Config.from_env()", show_value=False)
        if self._retry_changes:
            retry = settings.get("retry_config", RetryConfig())
            if not isinstance(retry, RetryConfig):
                _fail("retry_config", retry, "must be a RetryConfig")
            settings["retry_config"] = msgspec.structs.replace(retry, **self._retry_changes)
        if self._model_limits:
            settings["rate_limit_config"] = RateLimitConfig(model_limits=self._model_limits)
        settings["default_headers"] = self._headers
        return Config(**settings)
