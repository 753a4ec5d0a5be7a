"""Where requests go: Groq, an emulator on a URL, or the emulator embedded in this process.

The command line and `run_batch` share one rule, so a first run needs no setup at all:

* an API key (``GROQ_API_KEY``, or the variable a config file names in ``api_key_env``) and no base URL:
  Groq itself, ``https://api.groq.com/openai/v1``;
* a base URL (flag, ``GROQ_BASE_URL`` or config file): that endpoint. A loopback URL without a key gets a
  placeholder ``gsk_`` key, since an emulator accepts any;
* **neither**: the bundled emulator, started inside this process (no socket: an httpx transport calls it
  directly) with Groq free-tier-like limits on a clock running 60 times faster, so the rate limiter
  visibly works and a thousand jobs finish in well under a minute. One line on stderr says so.

Settings come from, in increasing precedence: an optional TOML config file, the environment
(``GROQ_BASE_URL``, ``GROQ_TIMEOUT``, ``GROQ_MAX_RETRIES``), and explicit arguments (command-line flags).
The API key is never read from the config file: a file is too easily committed or shared. The file may
instead name the environment variable that holds it (``api_key_env = "MY_GROQ_KEY"``).

Config file keys (all optional)::

    base_url = "https://api.groq.com/openai/v1"
    timeout = 30            # seconds per attempt
    max_retries = 5
    concurrency = 64        # requests in flight
    api_key_env = "GROQ_API_KEY"
    [limits]                # per model: "RPM/RPD/TPM/TPD" or a table; "-" / missing = learn from headers
    "openai/gpt-oss-20b" = "30/1000/8000/200000"
    "openai/gpt-oss-120b" = { rpm = 30, tpm = 8000 }
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

import msgspec

from orchestrator._config import Config, ModelLimits, RateLimitConfig, _loopback
from orchestrator._errors import ConfigError
from orchestrator._secret import SecretString

if TYPE_CHECKING:
    from orchestrator._client import Client

__all__ = [
    "EMBEDDED_BASE_URL",
    "EMBEDDED_TIME_SCALE",
    "Endpoint",
    "FileSettings",
    "embedded_emulator_settings",
    "load_config_file",
    "open_endpoint",
    "parse_model_limits",
    "resolve_endpoint",
]

#: The base URL the embedded emulator answers on. Never dialled: requests go through an in-process
#: transport, and a loopback host keeps the config's plain-http rule satisfied.
EMBEDDED_BASE_URL: Final = "http://127.0.0.1/openai/v1"
_PLACEHOLDER_KEY: Final = "gsk_local_emulator"
#: How much faster than real time the embedded emulator's clock runs (a minute of limits per second).
EMBEDDED_TIME_SCALE: Final = 60.0


def embedded_emulator_settings() -> Any:
    """The embedded emulator's settings: Groq free-tier limits, realistic latency, 60x clock.

    Realistic latency divided by the time scale is a few milliseconds per request; the free-tier limits
    (30 RPM, 8,000 TPM for openai/gpt-oss-20b...) become 1,800 RPM and 480,000 TPM of real time, so a
    thousand mixed jobs spread over a few models take seconds and still meet the rate limiter.
    """
    from orchestrator.emulator import EmulatorSettings

    return EmulatorSettings(latency="realistic", time_scale=EMBEDDED_TIME_SCALE, seed=0)


class FileSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The settings a TOML config file may hold (see the module docstring). Unknown keys are refused."""

    base_url: str | None = None
    timeout: float | None = None
    max_retries: int | None = None
    concurrency: int | None = None
    api_key_env: str | None = None
    limits: dict[str, str | dict[str, int | None]] = msgspec.field(default_factory=dict)


def parse_model_limits(text: str) -> tuple[str, ModelLimits]:
    """Parse ``MODEL=RPM/RPD/TPM/TPD`` (``-`` for a window to learn from headers) into a model and limits.

    Raises:
        ConfigError: naming the text and the expected form.
    """
    model, eq, numbers = text.partition("=")
    model = model.strip()
    parts = [part.strip() for part in numbers.split("/")]
    form = "MODEL=RPM/RPD/TPM/TPD, e.g. openai/gpt-oss-20b=30/1000/8000/200000 ('-' leaves one to learn)"
    if not eq or not model or len(parts) != 4:
        raise ConfigError(field="limits", value=text, rule=f"must look like {form}")
    values: list[int | None] = []
    for name, part in zip(("rpm", "rpd", "tpm", "tpd"), parts, strict=True):
        if part in ("-", ""):
            values.append(None)
            continue
        try:
            number = int(part.replace("_", "").replace(",", ""))
        except ValueError:
            number = 0
        if number < 1:
            raise ConfigError(field=f"limits[{model}].{name}", value=part, rule=f"must be a positive integer in {form}")
        values.append(number)
    rpm, rpd, tpm, tpd = values
    return model, ModelLimits(rpm=rpm, rpd=rpd, tpm=tpm, tpd=tpd)


def load_config_file(path: Path) -> FileSettings:
    """Read a TOML config file.

    Raises:
        ConfigError: the file is missing, is not TOML, holds an API key, or has an unknown or mistyped key
            (the message names it).
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(field="--config", value=str(path), rule=f"cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(field="--config", value=str(path), rule=f"is not valid TOML ({exc})") from None
    if "api_key" in data:
        raise ConfigError(
            f"{path}: the config file may not hold the API key (files get committed and shared); "
            'export it as GROQ_API_KEY, or name the variable that holds it with api_key_env = "NAME"',
            field="api_key",
        )
    try:
        return msgspec.convert(data, FileSettings)
    except msgspec.ValidationError as exc:
        raise ConfigError(field="--config", value=str(path), rule=f"has a bad setting: {exc}") from None


def _file_limits(settings: FileSettings) -> dict[str, ModelLimits]:
    limits: dict[str, ModelLimits] = {}
    for model, value in settings.limits.items():
        if isinstance(value, str):
            limits[model] = parse_model_limits(f"{model}={value}")[1]
        else:
            try:
                limits[model] = ModelLimits(**value)
            except TypeError as exc:
                raise ConfigError(field=f"limits[{model}]", value=value, rule=f"keys are rpm, rpd, tpm, tpd ({exc})") from None
    return limits


class Endpoint(msgspec.Struct, frozen=True):
    """A resolved destination: the client config, and emulator settings when it is the embedded one.

    Attributes:
        config: what `open_client` gets.
        emulator: settings of the in-process emulator (or an `Emulator` itself, so a caller can look at
            what it served), or None for a real URL.
    """

    config: Config
    emulator: Any = None  # EmulatorSettings (a dataclass, which msgspec cannot type here)

    @property
    def description(self) -> str:
        """Where requests go, for the progress header and the summary."""
        return "embedded emulator" if self.emulator is not None else self.config.base_url

    @property
    def _emulator_settings(self) -> Any:
        return getattr(self.emulator, "settings", self.emulator)

    @property
    def time_scale(self) -> float:
        """Emulated seconds per real second at this endpoint: the embedded emulator's clock, else 1."""
        return self._emulator_settings.time_scale if self.emulator is not None else 1.0

    @property
    def notice(self) -> str | None:
        """The one line telling the user no real API is being used, or None for a real endpoint."""
        if self.emulator is None:
            return None
        return (
            "No GROQ_API_KEY and no --base-url: running against the bundled Groq emulator in-process "
            f"(free-tier limits, clock x{self._emulator_settings.time_scale:g}). Set GROQ_API_KEY to call Groq."
        )


def resolve_endpoint(
    *,
    environ: Mapping[str, str] | None = None,
    file: FileSettings | None = None,
    base_url: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    concurrency: int | None = None,
    limits: Mapping[str, ModelLimits] | None = None,
    emulator_settings: Any = None,
    tier: str | None = None,
) -> Endpoint:
    """Decide where requests go and build the config, by the rule in the module docstring.

    Args:
        environ: the environment to read (``os.environ`` by default).
        file: settings from a config file, lowest precedence.
        base_url, timeout, max_retries, concurrency, limits: explicit settings, highest precedence
            (``limits`` are merged over the file's, model by model).
        emulator_settings: settings for the embedded emulator when it is used (default:
            `embedded_emulator_settings`).
        tier: the account's Groq plan (``Config.tier``; else ``GROQ_ORCH_TIER``, else recognised).

    Raises:
        ConfigError: a setting is invalid (named), or a non-loopback URL is given without a key.
    """
    env = os.environ if environ is None else environ
    file = file or FileSettings()
    key_var = file.api_key_env or "GROQ_API_KEY"
    raw_key = env.get(key_var, "").strip() or env.get("GROQ_API_KEY", "").strip()
    api_key = SecretString(raw_key) if raw_key else None
    del raw_key
    # Flags beat the environment, which beats the file; from_env applies the environment itself.
    overrides: dict[str, Any] = {}
    for name, flag, env_name in (
        ("base_url", base_url, "GROQ_BASE_URL"),
        ("timeout", timeout, "GROQ_TIMEOUT"),
        ("max_retries", max_retries, "GROQ_MAX_RETRIES"),
    ):
        if flag is not None:
            overrides[name] = flag
        elif not env.get(env_name, "").strip() and getattr(file, name) is not None:
            overrides[name] = getattr(file, name)
    if tier is not None:
        overrides["tier"] = tier
    workers = concurrency if concurrency is not None else file.concurrency
    if workers is not None:
        overrides["workers"] = workers
    merged = {**_file_limits(file), **(limits or {})}
    if merged:
        overrides["rate_limit_config"] = RateLimitConfig(model_limits=merged)
    chosen_url = overrides.get("base_url") or env.get("GROQ_BASE_URL", "").strip() or None
    embedded = api_key is None and chosen_url is None
    if embedded:
        overrides["base_url"] = EMBEDDED_BASE_URL
        api_key = SecretString(_PLACEHOLDER_KEY)
    elif api_key is None:
        assert chosen_url is not None
        try:
            host = urlsplit(chosen_url).hostname or ""
        except ValueError:  # a malformed URL ("https://[x"): Config below refuses it, naming base_url
            host = "localhost"
        if not _loopback(host):
            raise ConfigError(
                field=key_var,
                value=None,
                rule=f"is not set; {chosen_url} needs an API key: export {key_var}=gsk_... "
                "(or unset the base URL to run against the embedded emulator)",
            )
        api_key = SecretString(_PLACEHOLDER_KEY)
    config = Config.from_env(environ=env, api_key=api_key, **overrides)
    if embedded:
        return Endpoint(config, emulator_settings or embedded_emulator_settings())
    return Endpoint(config)


@asynccontextmanager
async def open_endpoint(endpoint: Endpoint, **client_options: Any) -> AsyncIterator[Client]:
    """Open a client on the endpoint, starting the embedded emulator first when that is the destination.

    ``client_options`` go to `open_client` as they are (e.g. ``observer=telemetry``).
    """
    from orchestrator._client import open_client

    if endpoint.emulator is None:
        async with open_client(endpoint.config, **client_options) as client:
            yield client
        return
    from orchestrator.emulator import Emulator

    emulator = endpoint.emulator if isinstance(endpoint.emulator, Emulator) else Emulator(endpoint.emulator)
    # Our own client over the emulator's transport; its budget runs on the emulator's compressed
    # clock, or it would wait out real minutes.
    async with open_client(
        endpoint.config, transport=emulator.transport(), time_scale=emulator.settings.time_scale, **client_options
    ) as client:
        yield client
