"""Where a batch run sends: the endpoint its options describe (every runner, and each Ray actor, asks here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from orchestrator._config import RateLimitConfig
from orchestrator._endpoint import Endpoint, FileSettings, load_config_file, resolve_endpoint
from orchestrator.batch._options import BatchOptions

__all__ = ["endpoint_for"]


def endpoint_for(options: BatchOptions) -> Endpoint:
    """The endpoint the options describe: an explicit config with the options applied over it, or one
    resolved from the config file and the environment; then the plan, model map and Redis URL."""
    config = options.config
    if config is not None:
        changes: dict[str, Any] = {}
        for name, value in (
            ("base_url", options.base_url), ("timeout", options.timeout), ("max_retries", options.max_retries),
            ("workers", options.concurrency),
        ):
            if value is not None:
                changes[name] = value
        if options.limits:
            merged = {**config.rate_limit_config.model_limits, **options.limits}
            changes["rate_limit_config"] = RateLimitConfig(model_limits=merged)
        endpoint = Endpoint(config.replace(**changes))
    else:
        file = options.config_file
        if file is not None and not isinstance(file, FileSettings):
            file = load_config_file(Path(file))
        endpoint = resolve_endpoint(
            environ=options.environ,
            file=file,
            base_url=options.base_url,
            timeout=options.timeout,
            max_retries=options.max_retries,
            concurrency=options.concurrency,
            limits=options.limits,
            emulator_settings=options.emulator_settings,
        )
    if options.tier is not None:
        endpoint = msgspec.structs.replace(endpoint, config=endpoint.config.replace(tier=options.tier))
    if options.model_map:
        merged_map = {**endpoint.config.model_map, **options.model_map}
        endpoint = msgspec.structs.replace(endpoint, config=endpoint.config.replace(model_map=merged_map))
    if options.redis_url and endpoint.config.redis_url != options.redis_url:
        endpoint = msgspec.structs.replace(endpoint, config=endpoint.config.replace(redis_url=options.redis_url))
    return endpoint
