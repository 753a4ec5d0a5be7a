"""Shared fixtures of the observability tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def default_structlog() -> Iterator[None]:
    """structlog at its defaults (every level passes), whatever an earlier test configured; restored after."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    yield
    structlog.configure(**saved)
