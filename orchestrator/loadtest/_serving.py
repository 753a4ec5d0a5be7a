"""A bench run in the names other tools read: vLLM's ``benchmark_serving`` result keys. Pure: no IO.

Dashboards and scripts written for vLLM's serving benchmark (and GuideLLM and AIPerf, which report the
same metrics under the same abbreviations) read one flat JSON object per run. :func:`serving_record`
builds that object for one level of a sweep, and ``groq-orch bench --output-dir`` writes one per line to
``benchmark_serving.jsonl``, the layout ``vllm bench serve --save-result --append-result`` writes, as well
as into ``summary.json`` under ``benchmark_serving``.

Where the names come from: vLLM's ``vllm/benchmarks/serve.py`` (formerly
``benchmarks/benchmark_serving.py``). ``benchmark()`` returns ``duration``, ``completed``, ``failed``,
``total_input_tokens``, ``total_output_tokens``, ``request_throughput``, ``request_goodput`` (None without
``--goodput``), ``output_throughput`` and ``total_token_throughput``, and its ``process_one_metric`` adds
``mean_<m>_ms``, ``median_<m>_ms``, ``std_<m>_ms`` and ``p<P>_<m>_ms`` for ``m`` in ``ttft``, ``tpot``,
``itl`` and ``e2el``; ``main_async`` puts ``date`` (``%Y%m%d-%H%M%S``), ``backend``, ``model_id``,
``tokenizer_id``, ``num_prompts``, ``request_rate`` (``"inf"`` when unpaced), ``burstiness`` and
``max_concurrency`` in front. The definitions match ours (``orchestrator.loadtest._metrics``): TPOT
excludes the first token and is taken over requests with at least two, ITL is the gaps between streamed
chunks, goodput counts completed requests meeting every SLO per second of the run. Two differences: we
have no ``std_*`` (the distributions keep no second moment) but add ``p90_*``, and a metric nothing
measured is ``null`` where vLLM writes 0. Keys vLLM does not have (the rate-limit figures of
``orchestrator.loadtest._capacity``) follow them, under names of our own.
"""

from __future__ import annotations

import datetime
from typing import Any, Final

import msgspec

from orchestrator.loadtest._capacity import LevelCapacity
from orchestrator.loadtest._metrics import LevelSummary, Percentiles
from orchestrator.loadtest._plan import BenchPlan

__all__ = ["SERVING_FILE", "SERVING_METRICS", "serving_date", "serving_metrics", "serving_record"]

#: The file of ``--output-dir`` holding one :func:`serving_record` per level.
SERVING_FILE: Final = "benchmark_serving.jsonl"
#: vLLM's metric abbreviations, and the :class:`LevelSummary` distribution each is read from.
SERVING_METRICS: Final = (("ttft", "ttft_s"), ("tpot", "tpot_s"), ("itl", "itl_s"), ("e2el", "e2e_s"))
#: vLLM's statistic prefixes, and the :class:`Percentiles` field each is read from.
_STATISTICS: Final = (("mean", "mean"), ("median", "p50"), ("p90", "p90"), ("p99", "p99"))
#: What vLLM calls an OpenAI-compatible chat endpoint (``--backend openai-chat``).
_BACKEND: Final = "openai-chat"


def _milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def serving_date(moment: datetime.datetime) -> str:
    """``20261202-061500``: the ``date`` field as vLLM formats it."""
    return moment.strftime("%Y%m%d-%H%M%S")


def serving_metrics(summary: LevelSummary) -> dict[str, Any]:
    """One level's results under vLLM's keys (see the module docstring); times in ms, rates per second."""
    result: dict[str, Any] = {
        "duration": summary.duration_s,
        "completed": summary.completed,
        "failed": summary.failed,
        "total_input_tokens": summary.input_tokens,
        "total_output_tokens": summary.output_tokens,
        "request_throughput": summary.request_throughput,
        "request_goodput": None if summary.goodput is None else summary.goodput.per_second,
        "output_throughput": summary.output_token_throughput,
        "total_token_throughput": summary.total_token_throughput,
    }
    for metric, field in SERVING_METRICS:
        percentiles: Percentiles = getattr(summary, field)
        for prefix, statistic in _STATISTICS:
            result[f"{prefix}_{metric}_ms"] = _milliseconds(getattr(percentiles, statistic))
    return result


def serving_record(summary: LevelSummary, capacity: LevelCapacity, plan: BenchPlan, *, date: str) -> dict[str, Any]:
    """The whole flat object for one level: vLLM's setup keys, its results, then our rate-limit figures."""
    rate_mode = plan.mode == "rate"
    setup: dict[str, Any] = {
        "date": date,
        "backend": _BACKEND,
        "model_id": plan.model,
        "tokenizer_id": None,
        "num_prompts": summary.requests,
        "request_rate": summary.level if rate_mode else "inf",
        # vLLM's burstiness: 1 is a Poisson process, infinity constant gaps.
        "burstiness": 1.0 if plan.arrivals == "poisson" or not rate_mode else "inf",
        "max_concurrency": plan.max_concurrency if rate_mode else summary.level,
    }
    slo = plan.slo
    goodput = None if slo is None else {
        name: _milliseconds(bound)
        for name, bound in (("ttft", slo.ttft), ("tpot", slo.tpot), ("e2el", slo.e2e))
        if bound is not None
    }
    ours = msgspec.to_builtins(capacity) | {
        "goodput_slo_ms": goodput,
        "rate_limited": summary.rate_limited,
        "capacity_exceeded": summary.capacity_exceeded,
    }
    return setup | serving_metrics(summary) | ours
