"""The runner port: what the SDK-shaped resources and ``Client.map`` need of whatever runs their jobs.

`orchestrator._resources` (``chat.completions``, ``audio.*``, ``models``) and `orchestrator._map` turn calls
into jobs and hand them over; they depend on this small Protocol, not on the client class. `Client`
satisfies it and builds them with itself, so the dependency runs one way: the client imports the
resources and the map, and neither imports the client back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from actors._job import Job
from orchestrator._catalog import ModelCatalog
from orchestrator._wire import ChatRequest

__all__ = ["JobRunner"]


class JobRunner(Protocol):
    """Makes jobs from requests, and queues or runs them against the rate budget (`orchestrator.Client`).

    Attributes:
        catalog: the models the runner validates against; ``models.list()`` replaces it with a refreshed one.
    """

    catalog: ModelCatalog

    def chat_job(
        self, request: ChatRequest | dict[str, Any], *, priority: int = 0, key: Any = None,
        timeout: float | None = None, max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None, on_settle: Any = None,
    ) -> Job:
        """Validate a chat request and make the job that carries it (not yet queued)."""
        ...

    def mapped_model(self, model: Any) -> Any:
        """The model a request naming ``model`` is sent to (``Config.model_map`` applied)."""
        ...

    async def submit_job(self, job: Job) -> None:
        """Queue a prepared job (waits only for queue space)."""
        ...

    async def run_job(self, job: Job) -> Any:
        """Run a prepared job, wait for it, and return its value or raise its error."""
        ...
