"""Groq work on a Ray cluster: a Ray Data stage whose actors share one account's rate limits.

Install with ``pip install 'groq-orchestrator[ray]'``. The stage::

    import ray
    from orchestrator.ray import groq_chat

    ray.init()
    jobs = ray.data.read_text("jobs.jsonl")           # a "text" column: one batch line or chat body each
    answered = groq_chat(jobs, column="text", concurrency=4)
    answered.write_json("answers/")                   # response, error, request_id, usage columns

Every actor holds one client; all draw on one budget: the Redis budget when ``redis_url`` is given
(shared with every process using the key, Ray or not), else one held by a single Ray actor. A row that
fails is a row with an error (``error``, ``error_code``), never a dropped row; a killed actor's rows are
run again by Ray. ``groq-orch batch JOBS.jsonl -o RESULTS.jsonl --ray`` runs a job file this way.
"""

from __future__ import annotations

import os
from typing import Any

from orchestrator._ray_budget import BudgetStore, shared_budget_url
from orchestrator._ray_stage import OUTPUT_COLUMNS, GroqChat, StageSettings

__all__ = ["OUTPUT_COLUMNS", "BudgetStore", "GroqChat", "StageSettings", "groq_chat", "shared_budget_url"]

#: The driver's settings the actors get in their environment: the crash drills of
#: `orchestrator.batch._failpoints`, so that a drill set on the driver fires on the cluster.
_FORWARDED = ("GROQ_ORCH_FAILPOINT", "GROQ_ORCH_FAILPOINT_MARKER")

#: Ray CPUs one actor asks for: it waits on the network, so four fit on a core.
ACTOR_CPUS = 0.25


def groq_chat(dataset: Any, *, column: str = "body", concurrency: int = 4, batch_size: int = 32,
              api_key: str | None = None, raw_base64: bool = False, **settings: Any) -> Any:
    """``dataset`` with every row answered by Groq: `GroqChat` over ``concurrency`` actors.

    Args:
        dataset: a ``ray.data.Dataset`` with ``column``.
        column: a chat body or Groq batch line per row (dict or JSON text).
        concurrency: actors in the pool (each one client).
        batch_size: rows an actor answers at a time (all concurrently, within its client's limits).
        api_key: the Groq key; default ``GROQ_API_KEY``. It reaches the actors in their environment.
        raw_base64: see `GroqChat`.
        settings: `StageSettings` fields (``base_url``, ``model``, ``redis_url``, ``time_scale``, ``limits``...).

    Without ``redis_url`` the cluster's `BudgetStore` is started here, on the driver, so every actor of
    this and later stages finds the same one.
    """
    import ray

    stage = StageSettings(**settings)
    if stage.redis_url is None:
        stage = StageSettings(**{**settings, "redis_url": shared_budget_url()})
    key = api_key if api_key is not None else os.environ.get("GROQ_API_KEY")
    env_vars = {name: os.environ[name] for name in _FORWARDED if name in os.environ}
    if key:
        env_vars["GROQ_API_KEY"] = key
    # Ray Data restarts a dead actor of a pool and runs its batch again (max_restarts=-1 and
    # max_task_retries=-1 are its defaults for actor pools): a killed actor's rows are answered once.
    return dataset.map_batches(
        GroqChat,
        fn_constructor_kwargs={"column": column, "settings": stage, "raw_base64": raw_base64},
        batch_size=batch_size,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=concurrency),
        num_cpus=ACTOR_CPUS,
        runtime_env={"env_vars": env_vars} if env_vars else None,
    )
