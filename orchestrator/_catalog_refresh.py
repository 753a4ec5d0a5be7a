"""Keep the client's model catalog in step with what Groq serves: one ``GET /models`` at open.

The built-in catalog (:data:`orchestrator._catalog.DEFAULT_CATALOG`) is a dated snapshot. When a
client opens it asks ``/models`` once, bounded by :data:`REFRESH_TIMEOUT`, and folds the answer in
(:meth:`~orchestrator._catalog.ModelCatalog.refreshed`): a model Groq added after this release then
works at once with its real context window, and sizes Groq changed are corrected. The refresh is
never fatal: a failure or a timeout logs one ``catalog_refresh_failed`` event and the built-in
catalog stays.

Answers are cached per base URL and API key for :data:`LISTING_TTL` seconds in the process, so a
program that opens many short-lived clients asks once every ten minutes, not once per client.

``/models`` answers for one key, and a list may be incomplete, so a model it does not list is not
refused: :func:`note_unlisted` logs one ``model_not_listed`` warning per model and client, naming
the model and the models listed, and Groq has the last word (``ModelError`` if it really is gone).

Whether to refresh follows ``Config.refresh_catalog``: True or False decide; None (the default)
refreshes for a non-loopback base URL only. The bundled emulator (loopback) serves the built-in
catalog itself, so asking it would cost a request and tell nothing.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx
import trio

from ._catalog import ModelCatalog
from ._config import Config, _loopback
from ._errors import error_from_response
from .observe._logging import get_logger
from ._retired import retired_model
from ._wire import ModelList, decode_model_list

__all__ = ["LISTING_TTL", "REFRESH_TIMEOUT", "CatalogHolder", "note_unlisted", "refresh_catalog", "should_refresh"]

#: Seconds (on the trio clock) the open-time ``GET /models`` may take before the built-in catalog is kept.
REFRESH_TIMEOUT: Final = 2.0
#: Seconds a ``/models`` answer is reused by later clients with the same base URL and key.
LISTING_TTL: Final = 600.0
#: At most this many listed ids are named in a ``model_not_listed`` warning.
_NAMED: Final = 30

log = get_logger("orchestrator.catalog")

# (base URL, key fingerprint) -> (time.monotonic() of the answer, the answer).
_listings: dict[tuple[str, str], tuple[float, ModelList]] = {}


class CatalogHolder(Protocol):
    """What the refresh reads and updates on a client (`orchestrator.Client`): this module never imports the class.

    Attributes:
        config: the client's settings (base URL, key, ``refresh_catalog``).
        catalog: the catalog, replaced by the refreshed one.
        listed_models: the ids ``GET /models`` listed, or None if it was not asked.
        unlisted_warned: models already warned about as not listed.
    """

    config: Config
    catalog: ModelCatalog
    listed_models: frozenset[str] | None
    unlisted_warned: set[str]


def should_refresh(config: Config) -> bool:
    """Whether a client with ``config`` refreshes its catalog at open (see the module docstring)."""
    if config.refresh_catalog is not None:
        return config.refresh_catalog
    return not _loopback(urlsplit(config.base_url).hostname or "")


def _cache_key(config: Config) -> tuple[str, str]:
    fingerprint = hashlib.sha256(config.api_key.get_secret_value().encode()).hexdigest()[:16]
    return config.base_url, fingerprint


async def _fetch(config: Config, http: httpx.AsyncClient) -> ModelList:
    response = await http.get(f"{config.base_url}/models", headers={**config.http_headers(), "accept": "application/json"})
    if response.status_code != 200:
        raise error_from_response(response.status_code, response.headers, response.content)
    return decode_model_list(response.content)


async def refresh_catalog(client: CatalogHolder, http: httpx.AsyncClient) -> bool:
    """Refresh ``client.catalog`` from ``GET /models`` (or the process cache); True if it was refreshed.

    Never raises (but for cancellation): a failure, an unreadable answer or a timeout of
    :data:`REFRESH_TIMEOUT` logs one ``catalog_refresh_failed`` warning and leaves the catalog alone.
    """
    config = client.config
    key = _cache_key(config)
    cached = _listings.get(key)
    if cached is not None and time.monotonic() - cached[0] < LISTING_TTL:
        listing = cached[1]
    else:
        listing_or_none: ModelList | None = None
        problem: str | None = None
        try:
            with trio.move_on_after(REFRESH_TIMEOUT):
                listing_or_none = await _fetch(config, http)
            if listing_or_none is None:
                problem = f"no answer within {REFRESH_TIMEOUT:g} s"
        except Exception as error:  # noqa: BLE001 - any failure keeps the built-in catalog
            problem = _describe(error)
        if listing_or_none is None:
            log.warning(
                "catalog_refresh_failed",
                base_url=config.base_url,
                error=problem,
                consequence="using the built-in model catalog",
            )
            return False
        listing = listing_or_none
        _listings[key] = (time.monotonic(), listing)
    client.catalog = client.catalog.refreshed(listing)
    client.listed_models = frozenset(model.id for model in listing.data)
    log.debug("catalog_refreshed", base_url=config.base_url, models=len(listing.data))
    return True


def _describe(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text[:300]}"


def note_unlisted(client: CatalogHolder, model: Any) -> None:
    """Warn once per model when ``/models`` was read and does not list ``model`` (nor is it retired)."""
    listed = client.listed_models
    if listed is None or not isinstance(model, str) or model in listed or model in client.unlisted_warned:
        return
    if retired_model(model) is not None:
        return
    client.unlisted_warned.add(model)
    log.warning(
        "model_not_listed",
        model=model,
        listed=sorted(listed)[:_NAMED],
        advice="GET /models does not list this model for this API key; it is sent anyway, and Groq "
        "answers model_not_found if it is not served. Check the id (groq-orch models list).",
    )
