"""Config, its builder and environment loading, validation of every setting, and SecretString."""

from __future__ import annotations

import copy
import datetime
import io
import json
import logging
import pickle
import traceback
import warnings
from typing import Any

import msgspec
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from orchestrator._config import (
    DEFAULT_BASE_URL,
    BreakerConfig,
    Config,
    ConfigBuilder,
    ModelLimits,
    RateLimitConfig,
    RetryConfig,
)
from orchestrator._errors import AuthenticationError, ConfigError, GroqError, ValidationError
from orchestrator._secret import SecretString

KEY = "gsk_live_0123456789abcdefSECRETwxyz"


def config(**changes: Any) -> Config:
    """A valid config with KEY, plus changes."""
    return Config(api_key=KEY, **changes)


class TestDefaults:
    def test_spec_defaults(self) -> None:
        """Base URL, timeout, retries, backoff, breaker and pool defaults follow the spec and design."""
        c = config()
        assert (c.base_url, c.timeout, c.max_retries, c.workers, c.queue_size, c.http2) == (DEFAULT_BASE_URL, 60.0, 3, 64, 1024, False)

    def test_retry_defaults(self) -> None:
        """Backoff defaults to 1 s -> 60 s, x2, full jitter, 3 retries, a 20 % + 10/s retry budget."""
        assert RetryConfig() == RetryConfig(
            max_retries=3, initial_delay=1.0, max_delay=60.0, multiplier=2.0, jitter=True, budget_ratio=0.2,
            budget_per_second=10.0,
        )

    def test_breaker_defaults(self) -> None:
        """The breaker opens at 50 % failures of 20+ of the last 100 requests, probes 5 after 30 s, holds jobs up to 60 s."""
        assert BreakerConfig() == BreakerConfig(
            failure_rate=0.5, minimum_calls=20, window_size=100, half_open_probes=5, reset_timeout=30.0, max_wait=60.0,
            when_open="wait",
        )

    def test_breaker_old_names_set_the_new_fields(self) -> None:
        """failure_threshold / success_threshold (the consecutive breaker's names) set minimum_calls / half_open_probes."""
        assert BreakerConfig(failure_threshold=5, success_threshold=3) == BreakerConfig(minimum_calls=5, half_open_probes=3)

    def test_no_limit_overrides_by_default(self) -> None:
        """Without overrides the scheduler starts from the catalog."""
        assert config().rate_limit_config.limits_for("openai/gpt-oss-20b") is None

    def test_frozen(self) -> None:
        """A Config cannot be changed in place."""
        with pytest.raises(AttributeError):
            config().timeout = 5  # type: ignore[misc]

    def test_headers_are_read_only(self) -> None:
        """default_headers cannot be mutated behind the validation's back."""
        with pytest.raises(TypeError):
            config(default_headers={"X-A": "1"}).default_headers["Authorization"] = "x"  # type: ignore[index]

    def test_http_headers(self) -> None:
        """http_headers holds the custom headers, the user agent and the bearer key."""
        assert config(default_headers={"X-Team": "search"}, user_agent="me/1").http_headers() == {
            "X-Team": "search",
            "User-Agent": "me/1",
            "Authorization": f"Bearer {KEY}",
        }


class TestApiKey:
    @pytest.mark.parametrize("key", ["gsk_abc", "emulator-key", "k", "x" * 500])
    def test_accepted_without_warning(self, key: str) -> None:
        """gsk_ keys and other non-empty keys (emulator keys) are accepted with no warning or log."""
        with warnings.catch_warnings(), structlog.testing.capture_logs() as logs:
            warnings.simplefilter("error")
            assert Config(api_key=key).api_key.get_secret_value() == key
        assert logs == []

    @pytest.mark.parametrize("key", ["", "gsk_abc\n", " gsk_abc", "gsk_a b", "gsk_\tx", "gsk_\x00x", "gsk_\u2028x"])
    def test_refused(self, key: str) -> None:
        """Empty keys and keys with whitespace or control characters are refused, naming api_key."""
        with pytest.raises(ConfigError) as info:
            Config(api_key=key)
        assert info.value.field == "api_key"

    def test_secret_string_accepted(self) -> None:
        """A SecretString is stored as given."""
        secret = SecretString(KEY)
        assert Config(api_key=secret).api_key is secret

    def test_wrong_type(self) -> None:
        """A non-text key is refused with the type named."""
        with pytest.raises(ConfigError, match="must be a str or SecretString"):
            Config(api_key=123)  # type: ignore[arg-type]


class TestBaseUrl:
    @pytest.mark.parametrize(
        ("url", "stored"),
        [
            ("https://api.groq.com/openai/v1", "https://api.groq.com/openai/v1"),
            ("https://api.groq.com/openai/v1/", "https://api.groq.com/openai/v1"),
            ("https://proxy.internal:8443/groq", "https://proxy.internal:8443/groq"),
            ("http://127.0.0.1:8000/openai/v1", "http://127.0.0.1:8000/openai/v1"),
            ("http://127.8.9.10/openai/v1", "http://127.8.9.10/openai/v1"),
            ("http://localhost:9/v1", "http://localhost:9/v1"),
            ("http://LOCALHOST/v1", "http://LOCALHOST/v1"),
            ("http://[::1]:8080/openai/v1", "http://[::1]:8080/openai/v1"),
        ],
    )
    def test_accepted(self, url: str, stored: str) -> None:
        """https anywhere and http to loopback hosts are accepted, without a trailing slash."""
        assert config(base_url=url).base_url == stored

    @pytest.mark.parametrize(
        ("url", "words"),
        [
            ("http://api.groq.com/openai/v1", "must use https"),
            ("http://10.0.0.1/v1", "must use https"),
            ("http://128.0.0.1/v1", "must use https"),
            ("http://localhost.evil.com/v1", "must use https"),
            ("http://[::2]/v1", "must use https"),
            ("ftp://api.groq.com", "absolute https://"),
            ("api.groq.com/openai/v1", "absolute https://"),
            ("https:///v1", "absolute https://"),
            ("https://user:pw@api.groq.com/v1", "credentials"),
            ("https://api.groq.com/v1?x=1", "query"),
            ("https://api.groq.com/v1#frag", "fragment"),
            ("https://api.groq.com/ v1", "whitespace"),
            ("https://api.groq.com:99999/v1", "not a valid URL"),
            ("", "must be a URL"),
        ],
    )
    def test_refused(self, url: str, words: str) -> None:
        """Non-https URLs (except loopback http) and malformed URLs fail, naming base_url and the value."""
        with pytest.raises(ConfigError) as info:
            config(base_url=url)
        assert (info.value.field, info.value.value) == ("base_url", url) and words in str(info.value)


# (setting, bad value, field named in the error)
BAD_VALUES = [
    ("timeout", 0, "timeout"),
    ("timeout", -1.5, "timeout"),
    ("timeout", float("nan"), "timeout"),
    ("timeout", float("inf"), "timeout"),
    ("timeout", 86_401, "timeout"),
    ("timeout", "60", "timeout"),
    ("timeout", True, "timeout"),
    ("max_retries", -1, "retry_config.max_retries"),
    ("max_retries", 101, "retry_config.max_retries"),
    ("max_retries", 2.0, "retry_config.max_retries"),
    ("workers", 0, "workers"),
    ("workers", 10_001, "workers"),
    ("workers", True, "workers"),
    ("queue_size", 0, "queue_size"),
    ("queue_size", 1.5, "queue_size"),
    ("http2", "yes", "http2"),
    ("user_agent", "", "user_agent"),
    ("user_agent", "a\r\nb", "user_agent"),
    ("retry_config", {"max_retries": 1}, "retry_config"),
    ("circuit_breaker_config", None, "circuit_breaker_config"),
    ("rate_limit_config", {}, "rate_limit_config"),
    ("default_headers", [("a", "b")], "default_headers"),
    ("default_headers", {"bad name": "x"}, "default_headers"),
    ("default_headers", {"X-A": 1}, "default_headers['X-A']"),
    ("default_headers", {"X-A": "a\nb"}, "default_headers['X-A']"),
    ("no_such_setting", 1, "no_such_setting"),
]

BAD_POLICIES = [
    (lambda: RetryConfig(initial_delay=0), "retry_config.initial_delay"),
    (lambda: RetryConfig(initial_delay=3601), "retry_config.initial_delay"),
    (lambda: RetryConfig(max_delay=0.5), "retry_config.max_delay"),
    (lambda: RetryConfig(budget_ratio=-0.1), "retry_config.budget_ratio"),
    (lambda: RetryConfig(budget_per_second=float("inf")), "retry_config.budget_per_second"),
    (lambda: RetryConfig(max_delay=-1), "retry_config.max_delay"),
    (lambda: RetryConfig(multiplier=0.5), "retry_config.multiplier"),
    (lambda: RetryConfig(multiplier=float("nan")), "retry_config.multiplier"),
    (lambda: RetryConfig(jitter=1), "retry_config.jitter"),  # type: ignore[arg-type]
    (lambda: BreakerConfig(failure_threshold=0), "circuit_breaker_config.failure_threshold"),
    (lambda: BreakerConfig(success_threshold=-3), "circuit_breaker_config.success_threshold"),
    (lambda: BreakerConfig(reset_timeout=0), "circuit_breaker_config.reset_timeout"),
    (lambda: BreakerConfig(when_open="panic"), "circuit_breaker_config.when_open"),  # type: ignore[arg-type]
    (lambda: BreakerConfig(failure_rate=0), "circuit_breaker_config.failure_rate"),
    (lambda: BreakerConfig(failure_rate=1.5), "circuit_breaker_config.failure_rate"),
    (lambda: BreakerConfig(minimum_calls=0), "circuit_breaker_config.minimum_calls"),
    (lambda: BreakerConfig(minimum_calls=50, window_size=10), "circuit_breaker_config.window_size"),
    (lambda: BreakerConfig(half_open_probes=0), "circuit_breaker_config.half_open_probes"),
    (lambda: BreakerConfig(max_wait=0), "circuit_breaker_config.max_wait"),
    (lambda: ModelLimits(rpm=0), "limits.rpm"),
    (lambda: ModelLimits(tpd=-5), "limits.tpd"),
    (lambda: ModelLimits(tpm=1.5), "limits.tpm"),  # type: ignore[arg-type]
    (lambda: RateLimitConfig(model_limits={"": ModelLimits()}), "rate_limit_config.model_limits"),
    (lambda: RateLimitConfig(model_limits={"m": (1, 2, 3, 4)}), "rate_limit_config.model_limits['m']"),  # type: ignore[dict-item]
]


class TestValidation:
    @pytest.mark.parametrize(("setting", "value", "field"), BAD_VALUES)
    def test_bad_setting_names_field(self, setting: str, value: object, field: str) -> None:
        """Every out-of-range or mistyped setting raises ConfigError naming the field."""
        with pytest.raises(ConfigError) as info:
            config().replace(**{setting: value})
        assert info.value.field == field and field in str(info.value)

    @pytest.mark.parametrize(("setting", "value", "field"), [row for row in BAD_VALUES if not row[1] == {} and "headers" not in row[0]])
    def test_bad_setting_names_value(self, setting: str, value: object, field: str) -> None:
        """The error quotes the rejected value."""
        with pytest.raises(ConfigError) as info:
            config().replace(**{setting: value})
        assert repr(value)[:20] in str(info.value)

    @pytest.mark.parametrize(("make", "field"), BAD_POLICIES)
    def test_bad_policy_names_field(self, make: Any, field: str) -> None:
        """Policy objects validate themselves on construction, naming the field."""
        with pytest.raises(ConfigError) as info:
            make()
        assert info.value.field == field

    @pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION", "User-Agent", "Host", "Content-Length"])
    def test_reserved_headers(self, name: str) -> None:
        """Authorization and other client-owned headers cannot be overridden, with a clear reason."""
        with pytest.raises(ConfigError, match="may not be overridden") as info:
            config(default_headers={name: "Bearer other"})
        assert "Bearer other" not in str(info.value)

    def test_header_values_never_quoted(self) -> None:
        """A rejected header value (perhaps a proxy token) is not repeated in the error."""
        with pytest.raises(ConfigError) as info:
            config(default_headers={"X-Proxy-Token": "tok_secret\n"})
        assert "tok_secret" not in str(info.value) and "tok_secret" not in repr(info.value)

    def test_model_limits_must_be_mapping(self) -> None:
        """model_limits that is not a mapping names the field."""
        with pytest.raises(ConfigError) as info:
            RateLimitConfig(model_limits=[("m", ModelLimits())])  # type: ignore[arg-type]
        assert info.value.field == "rate_limit_config.model_limits"

    def test_max_retries_needs_retry_config(self) -> None:
        """max_retries beside a retry_config that is not a RetryConfig names retry_config."""
        with pytest.raises(ConfigError) as info:
            config().replace(retry_config={"max_retries": 1}, max_retries=2)
        assert info.value.field == "retry_config"

    def test_builder_max_retries_needs_retry_config(self) -> None:
        """The builder reports a wrong retry_config even when max_retries is also set."""
        with pytest.raises(ConfigError) as info:
            ConfigBuilder().api_key(KEY).retry_config("fast").max_retries(2).build()  # type: ignore[arg-type]
        assert info.value.field == "retry_config"

    def test_config_error_is_validation_error(self) -> None:
        """ConfigError belongs to the GroqError hierarchy as a ValidationError, not retryable."""
        error = ConfigError(field="timeout", value=-1, rule="must be positive")
        assert isinstance(error, ValidationError) and isinstance(error, GroqError) and not error.retryable

    def test_timedelta_timeout(self) -> None:
        """Durations may be given as timedelta."""
        assert config(timeout=datetime.timedelta(minutes=2)).timeout == 120.0

    def test_model_limits_are_read_only(self) -> None:
        """The per-model limits mapping cannot be mutated after validation."""
        limits = RateLimitConfig(model_limits={"m": ModelLimits(rpm=5)})
        with pytest.raises(TypeError):
            limits.model_limits["n"] = ModelLimits()  # type: ignore[index]

    @given(timeout=st.floats(allow_nan=True, allow_infinity=True), workers=st.integers(min_value=-5, max_value=20_000))
    def test_valid_or_config_error(self, timeout: float, workers: int) -> None:
        """Any numeric input either builds a config within range or raises ConfigError, never anything else."""
        try:
            c = config(timeout=timeout, workers=workers)
        except ConfigError:
            return
        assert 0 < c.timeout <= 86_400 and 1 <= c.workers <= 10_000


class TestReplace:
    def test_returns_new_config(self) -> None:
        """replace returns a changed copy and leaves the original alone."""
        original = config()
        changed = original.replace(timeout=5, base_url="http://127.0.0.1:1/v1")
        assert (changed.timeout, changed.base_url, original.timeout, original.base_url) == (5.0, "http://127.0.0.1:1/v1", 60.0, DEFAULT_BASE_URL)

    def test_max_retries(self) -> None:
        """max_retries changes only retry_config.max_retries."""
        changed = config(retry_config=RetryConfig(initial_delay=2.0)).replace(max_retries=7)
        assert (changed.max_retries, changed.retry_config.initial_delay) == (7, 2.0)

    def test_max_retries_with_new_retry_config(self) -> None:
        """max_retries applies on top of a retry_config given in the same call."""
        changed = config().replace(retry_config=RetryConfig(max_delay=10.0), max_retries=0)
        assert (changed.max_retries, changed.retry_config.max_delay) == (0, 10.0)

    def test_api_key_str_is_wrapped(self) -> None:
        """A plain-text key passed to replace is wrapped in SecretString."""
        assert isinstance(config().replace(api_key="other-key").api_key, SecretString)

    def test_unknown_setting_lists_valid_ones(self) -> None:
        """An unknown name is refused, listing the real settings."""
        with pytest.raises(ConfigError, match="valid settings: api_key, base_url"):
            config().replace(timout=5)


class TestFromEnv:
    def test_reads_variables(self) -> None:
        """GROQ_API_KEY, GROQ_BASE_URL, GROQ_TIMEOUT and GROQ_MAX_RETRIES are read."""
        c = Config.from_env(
            {"GROQ_API_KEY": KEY, "GROQ_BASE_URL": "http://127.0.0.1:8000/openai/v1", "GROQ_TIMEOUT": "12.5", "GROQ_MAX_RETRIES": "5"}
        )
        assert (c.api_key.get_secret_value(), c.base_url, c.timeout, c.max_retries) == (KEY, "http://127.0.0.1:8000/openai/v1", 12.5, 5)

    def test_defaults_when_optional_unset_or_empty(self) -> None:
        """Only the key is required; empty optional variables count as unset."""
        c = Config.from_env({"GROQ_API_KEY": KEY, "GROQ_BASE_URL": "", "GROQ_TIMEOUT": " "})
        assert (c.base_url, c.timeout, c.max_retries) == (DEFAULT_BASE_URL, 60.0, 3)

    def test_reads_os_environ_by_default(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without an argument, os.environ is read."""
        monkeypatch.setenv("GROQ_API_KEY", "from-os-environ")
        monkeypatch.delenv("GROQ_BASE_URL", raising=False)
        assert Config.from_env().api_key.get_secret_value() == "from-os-environ"

    def test_overrides_win(self) -> None:
        """Keyword overrides apply over the environment, including the key."""
        c = Config.from_env({"GROQ_API_KEY": KEY, "GROQ_TIMEOUT": "5"}, timeout=9, api_key="override-key", workers=8)
        assert (c.timeout, c.api_key.get_secret_value(), c.workers) == (9.0, "override-key", 8)

    def test_override_key_without_env(self) -> None:
        """api_key passed as an override makes GROQ_API_KEY optional."""
        assert Config.from_env({}, api_key="k1").api_key.get_secret_value() == "k1"

    @pytest.mark.parametrize(
        ("environ", "field"),
        [
            ({}, "GROQ_API_KEY"),
            ({"GROQ_API_KEY": ""}, "GROQ_API_KEY"),
            ({"GROQ_API_KEY": "gsk_x\n"}, "GROQ_API_KEY"),
            ({"GROQ_API_KEY": KEY, "GROQ_TIMEOUT": "soon"}, "GROQ_TIMEOUT"),
            ({"GROQ_API_KEY": KEY, "GROQ_TIMEOUT": "-4"}, "GROQ_TIMEOUT"),
            ({"GROQ_API_KEY": KEY, "GROQ_MAX_RETRIES": "2.5"}, "GROQ_MAX_RETRIES"),
            ({"GROQ_API_KEY": KEY, "GROQ_MAX_RETRIES": "500"}, "GROQ_MAX_RETRIES"),
            ({"GROQ_API_KEY": KEY, "GROQ_BASE_URL": "http://example.com/v1"}, "GROQ_BASE_URL"),
        ],
    )
    def test_errors_name_the_variable(self, environ: dict[str, str], field: str) -> None:
        """A missing or bad variable raises ConfigError naming that variable."""
        with pytest.raises(ConfigError) as info:
            Config.from_env(environ)
        assert info.value.field == field and field in str(info.value)

    def test_bad_override_key_names_api_key(self) -> None:
        """A bad key passed as override is reported as api_key, not as the variable."""
        with pytest.raises(ConfigError) as info:
            Config.from_env({"GROQ_API_KEY": KEY}, api_key="a b")
        assert info.value.field == "api_key"


class TestBuilder:
    def test_chain(self) -> None:
        """Every builder method records its setting and build() validates them into a Config."""
        limits = ModelLimits(rpm=100, tpm=50_000)
        c = (
            ConfigBuilder()
            .api_key(KEY)
            .base_url("http://localhost:8000/openai/v1")
            .timeout(datetime.timedelta(seconds=30))
            .retry_config(RetryConfig(initial_delay=0.5))
            .max_retries(6)
            .circuit_breaker_config(BreakerConfig(when_open="fail"))
            .rate_limit_config(RateLimitConfig(model_limits={"a": ModelLimits(rpd=10)}))
            .model_limits("openai/gpt-oss-20b", limits)
            .default_header("X-Team", "search")
            .workers(8)
            .queue_size(16)
            .http2()
            .user_agent("pipeline/2")
            .build()
        )
        assert (c.base_url, c.timeout, c.max_retries, c.retry_config.initial_delay, c.circuit_breaker_config.when_open) == (
            "http://localhost:8000/openai/v1",
            30.0,
            6,
            0.5,
            "fail",
        )
        assert dict(c.rate_limit_config.model_limits) == {"a": ModelLimits(rpd=10), "openai/gpt-oss-20b": limits}
        assert (dict(c.default_headers), c.workers, c.queue_size, c.http2, c.user_agent) == ({"X-Team": "search"}, 8, 16, True, "pipeline/2")

    def test_requires_key(self) -> None:
        """build() without a key names api_key and how to set it."""
        with pytest.raises(ConfigError, match=r"\.api_key\('gsk_\.\.\.'\)") as info:
            ConfigBuilder().timeout(5).build()
        assert info.value.field == "api_key"

    def test_validates_on_build(self) -> None:
        """Bad values are reported by build(), naming the field."""
        with pytest.raises(ConfigError) as info:
            ConfigBuilder().api_key(KEY).default_header("authorization", "Bearer x").build()
        assert info.value.field == "default_headers['authorization']"

    def test_from_existing_config(self) -> None:
        """ConfigBuilder(config) starts from that config's settings."""
        base = config(timeout=7, default_headers={"X-A": "1"})
        c = ConfigBuilder(base).default_header("X-B", "2").build()
        assert (c.timeout, dict(c.default_headers), c.api_key == base.api_key) == (7.0, {"X-A": "1", "X-B": "2"}, True)

    def test_repr_hides_key(self) -> None:
        """The builder's repr says whether a key is set, never what it is."""
        text = repr(ConfigBuilder().api_key(KEY).timeout(3))
        assert "api_key=set" in text and KEY not in text


def _raise_with_config_local() -> None:
    cfg = config()
    limit = cfg.timeout  # noqa: F841 - a local for the traceback to capture
    raise RuntimeError("request failed")


class TestSecretString:
    @pytest.mark.parametrize(
        "render",
        [
            repr,
            str,
            lambda s: f"{s}",
            lambda s: f"{s!r}",
            lambda s: f"{s:>40}",
            lambda s: "{}".format(s),
            lambda s: "%s %r" % (s, s),
            lambda s: repr(Config(api_key=s)),
            lambda s: str(Config(api_key=s)),
            lambda s: repr([Config(api_key=s)]),
            lambda s: repr(RetryConfig()) + repr(s),
        ],
    )
    def test_never_rendered(self, render: Any) -> None:
        """repr, str, format and f-strings of the secret, or of a Config holding it, never show the value."""
        assert KEY not in render(SecretString(KEY))

    def test_get_secret_value(self) -> None:
        """get_secret_value returns the value itself."""
        assert SecretString(KEY).get_secret_value() == KEY

    @pytest.mark.parametrize(("value", "hint"), [(KEY, "wxyz"), ("short-key", None), ("", None)])
    def test_hint(self, value: str, hint: str | None) -> None:
        """The hint is at most the last 4 characters, and nothing for short keys."""
        assert SecretString(value).hint == hint

    def test_pickle_refused_without_value(self) -> None:
        """Pickling a secret (or a Config) raises, and the error does not contain the value."""
        for obj in (SecretString(KEY), config()):
            with pytest.raises(TypeError) as info:
                pickle.dumps(obj)
            assert KEY not in str(info.value) and "pickled" in str(info.value)

    def test_copy_keeps_value(self) -> None:
        """copy and deepcopy of an immutable Config give the same working value."""
        c = config(rate_limit_config=RateLimitConfig(model_limits={"m": ModelLimits(rpm=1)}))
        assert copy.deepcopy(c) == copy.copy(c) == c and copy.deepcopy(c).api_key.get_secret_value() == KEY
        assert copy.deepcopy(c.rate_limit_config) is copy.copy(c.rate_limit_config) is c.rate_limit_config

    def test_secret_copies_are_itself(self) -> None:
        """Copying a secret shares the same immutable object."""
        secret = SecretString(KEY)
        assert copy.copy(secret) is secret and copy.deepcopy(secret) is secret

    def test_equality(self) -> None:
        """Secrets compare by value, never equal to a plain string."""
        assert (SecretString(KEY) == SecretString(KEY), SecretString(KEY) == SecretString("x"), SecretString(KEY) == KEY) == (True, False, False)

    def test_hashable(self) -> None:
        """Equal secrets hash equally."""
        assert hash(SecretString(KEY)) == hash(SecretString(KEY))

    def test_bool(self) -> None:
        """Truthiness says whether the secret is non-empty."""
        assert (bool(SecretString("x")), bool(SecretString(""))) == (True, False)

    def test_requires_str(self) -> None:
        """Only text can be a secret."""
        with pytest.raises(TypeError):
            SecretString(b"bytes")  # type: ignore[arg-type]

    def test_serializers_refuse_without_value(self) -> None:
        """json and msgspec refuse to encode it, and their errors do not contain the value."""
        for encode in (json.dumps, msgspec.json.encode):
            with pytest.raises(TypeError) as info:
                encode({"key": SecretString(KEY)})
            assert KEY not in str(info.value)

    def test_stdlib_logging(self) -> None:
        """A logging call with a Config or the secret as argument renders no value."""
        stream = io.StringIO()
        logger = logging.getLogger("test_config.secret")
        handler = logging.StreamHandler(stream)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            logger.info("config %s key %r", config(), SecretString(KEY))
        finally:
            logger.removeHandler(handler)
        assert "SecretString('**********')" in stream.getvalue() and KEY not in stream.getvalue()

    @pytest.mark.parametrize(
        "renderer",
        [structlog.processors.JSONRenderer(), structlog.processors.KeyValueRenderer(), structlog.dev.ConsoleRenderer(colors=False)],
    )
    def test_structlog_renderers(self, renderer: Any) -> None:
        """structlog's JSON, key=value and console renderers show no value."""
        rendered = renderer(None, "info", {"event": "client_started", "config": config(), "api_key": SecretString(KEY)})
        assert KEY not in str(rendered)

    def test_exception_messages(self) -> None:
        """Validation errors about the key quote only the mask."""
        with pytest.raises(ConfigError) as info:
            Config(api_key=KEY + " ")
        assert KEY not in str(info.value) and KEY not in repr(info.value) and "**********" in str(info.value)

    def test_traceback_with_config_local(self) -> None:
        """A traceback rendered with captured locals shows the Config masked."""
        try:
            _raise_with_config_local()
        except RuntimeError as exc:
            rendered = "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
        assert "cfg = Config(api_key=SecretString('**********')" in rendered and KEY not in rendered

    @pytest.mark.parametrize(
        "fail",
        [
            lambda: Config.from_env({"GROQ_API_KEY": KEY, "GROQ_TIMEOUT": "-1"}),
            lambda: Config.from_env({"GROQ_API_KEY": KEY + "\n"}),
            lambda: Config.from_env({"GROQ_API_KEY": KEY}, api_key=KEY + " "),
            lambda: config().replace(api_key=KEY + "\t"),
            lambda: Config(api_key=KEY + "\n"),
            lambda: ConfigBuilder().api_key(KEY + " ").build(),
        ],
    )
    def test_library_frames_hold_no_raw_key(self, fail: Any) -> None:
        """When our own validation fails, no frame's captured locals reveal the key."""
        with pytest.raises(ConfigError) as info:
            fail()
        rendered = "".join(traceback.TracebackException.from_exception(info.value, capture_locals=True).format())
        assert "_config.py" in rendered and KEY not in rendered

    def test_authentication_error_uses_hint(self) -> None:
        """An AuthenticationError built with the hint shows 4 characters, not the key."""
        text = str(AuthenticationError("Invalid API Key", status=401, api_key_hint=SecretString(KEY).hint))
        assert "wxyz" in text and KEY not in text
