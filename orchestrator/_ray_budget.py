"""One account's rate budget on a Ray cluster that has no Redis: a Ray actor that speaks Redis.

Theory of operation
-------------------
Every client actor of a Ray stage must draw on *one* budget, or N actors each spend the account's
whole limit (Ray's own HTTP processor has exactly this flaw: requests per second per actor, tokens
ignored). With a Redis URL the clients share the budget of ``orchestrator._redis_budget``, which is
also what every other process of the account (Ray or not) draws on.

Without one, the budget lives in a single named Ray actor, :class:`BudgetStore`. It does not
reimplement the store: it serves the Redis protocol (fakeredis's ``TcpFakeServer``, with Lua through
``lupa``), so the clients run the very same lease script (``LEASE_SCRIPT``) against it that they run
against a real Redis, with one clock (the actor's) for every client. The stage's actors only see a
``redis://`` URL.

The actor is named (:data:`BUDGET_ACTOR_NAME` in :data:`RAY_NAMESPACE`), so every stage of every driver
in that namespace finds the same one while it lives. It is not restarted when it dies: a new one would
start empty on another port, and the clients, still holding the old URL, stop with a
``CoordinationError`` rather than spend budget nobody else can see (the batch then resumes).
"""

from __future__ import annotations

import threading
from typing import Any, Final

__all__ = ["BUDGET_ACTOR_NAME", "RAY_NAMESPACE", "BudgetStore", "shared_budget_url"]

BUDGET_ACTOR_NAME: Final = "groq-orchestrator-budget"
RAY_NAMESPACE: Final = "groq-orchestrator"

# The driver's handle keeps the named actor alive for as long as the driver runs (a named actor that is
# not detached is collected when its last handle goes).
_handles: dict[str, Any] = {}


class BudgetStore:
    """The shared budget's store: a Redis-protocol server on this node, on a free port.

    Bound to the node's IP (not loopback) so that actors on other nodes reach it; like Redis without a
    password, it trusts its network, which on a Ray cluster is the cluster's own.
    """

    def __init__(self) -> None:
        import ray
        from fakeredis import TcpFakeServer

        host = ray.util.get_node_ip_address()
        self._server = TcpFakeServer((host, 0), server_type="redis")
        self._thread = threading.Thread(target=self._server.serve_forever, name="groq-orch-budget", daemon=True)
        self._thread.start()
        bound_host, port = self._server.server_address[:2]
        self._url = f"redis://{bound_host}:{port}/0"

    def url(self) -> str:
        """The ``redis://`` URL clients give as ``redis_url``."""
        return self._url


def shared_budget_url() -> str:
    """The URL of the cluster's shared budget, starting its actor on first use (``ray.init`` first).

    Call it on the driver; pass the URL to the stage (``redis_url=``). Every call in the same Ray
    namespace returns the same store while it lives.
    """
    import ray

    job = ray.get_runtime_context().get_job_id()  # a handle from before a ray.shutdown() is void
    actor = _handles.get(job)
    if actor is None:
        remote = ray.remote(num_cpus=0, max_restarts=0)(BudgetStore)
        actor = remote.options(name=BUDGET_ACTOR_NAME, namespace=RAY_NAMESPACE, get_if_exists=True).remote()
        _handles.clear()
        _handles[job] = actor
    return str(ray.get(actor.url.remote()))
