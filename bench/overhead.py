"""Per-call overhead of a non-streaming chat call: our client vs the official ``groq`` SDK.

Three contenders answer the same canned Groq completion through the same in-process
``httpx.MockTransport`` (the handler only builds a Response from constant bytes, so the time
of one call is the client's overhead):

- **ours**: ``orchestrator.open_client`` under ``trio.run``: validation, encoding, the
  scheduler lane, the rate budget, the breaker gate, a pool worker, header learning, decoding
  into msgspec Structs, and the hop back to the caller;
- **sdk**: ``groq.AsyncGroq`` under ``asyncio.run`` (pydantic models, Stainless retry loop);
- **bare**: ``httpx.AsyncClient.post`` plus ``msgspec`` decoding into the same ``ChatResponse``
  Struct, under trio: the floor any client on httpx can reach.

Each round runs ours, then the SDK, then bare, each in a fresh event loop with a fresh client
(so a fresh rate budget), ``--warmup`` calls first, then ``--calls`` sequential awaits timed one
by one. The machine is shared and noisy, so the comparison is made per round (ours / sdk)
and the median of the per-round ratios is what the target is checked against.

Targets (issue 5, "Performance"): median per-call time at most 1/3 of AsyncGroq's; p99 < 2 ms.

Usage::

    python bench/bench_client.py [--calls 5000] [--warmup 500] [--rounds 4] [--json out.json]
    python bench/bench_client.py --profile            # cProfile one run of ours, top functions
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _common import (
    API_KEY,
    BASE_URL,
    GENEROUS,
    MESSAGES,
    MODEL,
    SDK_BASE_URL,
    completion_handler,
    percentile,
    print_table,
    summarize,
    write_json,
)

import groq  # noqa: E402  (after _common, which puts the repository on sys.path)
import httpx  # noqa: E402
import msgspec  # noqa: E402
import trio  # noqa: E402

import orchestrator  # noqa: E402
from orchestrator._wire import ChatResponse, decode_chat_response  # noqa: E402

CONTENT_PREFIX = "Fast language models matter"


def _check(content: str | None) -> None:
    if not content or not content.startswith(CONTENT_PREFIX):
        raise AssertionError(f"unexpected reply content {content!r}: the benchmark is not measuring a real call")


# --------------------------------------------------------------------------- contenders

Timings = tuple[list[float], list[float]]


async def _time_calls(call: Callable[[], Awaitable[Any]], calls: int) -> Timings:
    """Await ``call()`` ``calls`` times; per call, wall seconds and this thread's CPU seconds.

    The CPU time excludes the moments another process had the core, so its tail shows what
    the client itself costs when the shared machine's scheduler is the noisy part.
    """
    wall = [0.0] * calls
    cpu = [0.0] * calls
    perf = time.perf_counter
    thread_time = time.thread_time
    for index in range(calls):
        started, started_cpu = perf(), thread_time()
        await call()
        wall[index] = perf() - started
        cpu[index] = thread_time() - started_cpu
    return wall, cpu


async def _ours(calls: int, warmup: int) -> Timings:
    limits = {MODEL: orchestrator.ModelLimits(**GENEROUS)}
    async with httpx.AsyncClient(transport=httpx.MockTransport(completion_handler)) as http:
        async with orchestrator.open_client(api_key=API_KEY, base_url=BASE_URL, http_client=http, limits=limits) as client:
            create = client.chat.completions.create

            async def call() -> Any:
                return await create(model=MODEL, messages=MESSAGES)

            for _ in range(warmup):
                await call()
            reply = await call()
            assert isinstance(reply, ChatResponse)
            _check(reply.choices[0].message.content)
            timings = await _time_calls(call, calls)
            stats = client.statistics()
            if stats.failed or stats.retried or stats.rate_limited:
                raise AssertionError(f"our client did not run clean: {stats}")
    return timings


async def _sdk(calls: int, warmup: int) -> Timings:
    async with httpx.AsyncClient(transport=httpx.MockTransport(completion_handler)) as http:
        client = groq.AsyncGroq(api_key=API_KEY, base_url=SDK_BASE_URL, http_client=http)
        create = client.chat.completions.create

        async def call() -> Any:
            return await create(model=MODEL, messages=MESSAGES)  # type: ignore[arg-type]

        for _ in range(warmup):
            await call()
        _check((await call()).choices[0].message.content)
        return await _time_calls(call, calls)


async def _bare(calls: int, warmup: int) -> Timings:
    url = BASE_URL + "/chat/completions"
    headers = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
    request = {"model": MODEL, "messages": MESSAGES}
    encode = msgspec.json.encode

    async with httpx.AsyncClient(transport=httpx.MockTransport(completion_handler)) as http:

        async def call() -> ChatResponse:
            response = await http.post(url, content=encode(request), headers=headers)
            return decode_chat_response(response.content)

        for _ in range(warmup):
            await call()
        _check((await call()).choices[0].message.content)
        return await _time_calls(call, calls)


def run_ours(calls: int, warmup: int) -> Timings:
    """Per-call seconds of our client (trio)."""
    gc.collect()
    return trio.run(_ours, calls, warmup)


def run_sdk(calls: int, warmup: int) -> Timings:
    """Per-call seconds of ``groq.AsyncGroq`` (asyncio)."""
    gc.collect()
    return asyncio.run(_sdk(calls, warmup))


def run_bare(calls: int, warmup: int) -> Timings:
    """Per-call seconds of bare httpx + msgspec (trio)."""
    gc.collect()
    return trio.run(_bare, calls, warmup)


def handler_cost(calls: int = 20_000) -> float:
    """Seconds the MockTransport handler itself takes per call (part of every contender's time)."""
    request = httpx.Request("POST", BASE_URL + "/chat/completions")
    started = time.perf_counter()
    for _ in range(calls):
        completion_handler(request)
    return (time.perf_counter() - started) / calls


# --------------------------------------------------------------------------- main


def profile_ours(calls: int, warmup: int, top: int) -> None:
    """Profile one run of our client: pyinstrument's call tree if it is installed, else cProfile's top functions."""
    try:
        import pyinstrument
    except ImportError:
        profiler = cProfile.Profile()
        profiler.enable()
        run_ours(calls, warmup)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        return
    sampler = pyinstrument.Profiler(interval=0.0002)
    sampler.start()
    run_ours(calls, warmup)
    sampler.stop()
    print(sampler.output_text(unicode=False, color=False))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000, help="timed calls per contender and round")
    parser.add_argument("--warmup", type=int, default=500, help="untimed calls before the timed ones")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of ours / sdk / bare")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON here")
    parser.add_argument("--profile", action="store_true", help="cProfile our client instead of comparing")
    parser.add_argument("--top", type=int, default=30, help="functions to list with --profile")
    args = parser.parse_args(argv)
    if args.profile:
        profile_ours(args.calls, args.warmup, args.top)
        return {}

    runners = {"ours": run_ours, "sdk": run_sdk, "bare": run_bare}
    rounds: list[dict[str, Any]] = []
    pooled: dict[str, list[float]] = {name: [] for name in runners}
    pooled_cpu: dict[str, list[float]] = {name: [] for name in runners}
    for number in range(1, args.rounds + 1):
        record: dict[str, Any] = {"round": number}
        for name, runner in runners.items():
            wall, cpu = runner(args.calls, args.warmup)
            pooled[name].extend(wall)
            pooled_cpu[name].extend(cpu)
            record[name] = summarize(wall)
            record[name]["cpu_p50_ms"] = percentile(cpu, 50) * 1e3
            record[name]["cpu_p99_ms"] = percentile(cpu, 99) * 1e3
        record["ratio_ours_sdk_p50"] = record["ours"]["p50_ms"] / record["sdk"]["p50_ms"]
        record["ratio_ours_bare_p50"] = record["ours"]["p50_ms"] / record["bare"]["p50_ms"]
        rounds.append(record)
        print(
            f"round {number}: ours p50 {record['ours']['p50_ms']:.3f} ms, sdk p50 {record['sdk']['p50_ms']:.3f} ms, "
            f"bare p50 {record['bare']['p50_ms']:.3f} ms, ours/sdk {record['ratio_ours_sdk_p50']:.3f}",
            flush=True,
        )

    print_table(
        f"Non-streaming call, per-call wall time in ms ({args.calls} sequential calls per contender and round, "
        f"{args.warmup} warm-up; cpu = this thread's CPU time per call)",
        [
            "round",
            "ours p50",
            "ours p99",
            "ours cpu p99",
            "sdk p50",
            "sdk p99",
            "bare p50",
            "bare p99",
            "ours/sdk p50",
            "ours/bare p50",
        ],
        [
            [
                r["round"],
                r["ours"]["p50_ms"],
                r["ours"]["p99_ms"],
                r["ours"]["cpu_p99_ms"],
                r["sdk"]["p50_ms"],
                r["sdk"]["p99_ms"],
                r["bare"]["p50_ms"],
                r["bare"]["p99_ms"],
                r["ratio_ours_sdk_p50"],
                r["ratio_ours_bare_p50"],
            ]
            for r in rounds
        ],
    )
    median_ratio = statistics.median(r["ratio_ours_sdk_p50"] for r in rounds)
    pooled_summary = {name: summarize(values) for name, values in pooled.items()}
    for name, values in pooled_cpu.items():
        pooled_summary[name]["cpu_p50_ms"] = percentile(values, 50) * 1e3
        pooled_summary[name]["cpu_p99_ms"] = percentile(values, 99) * 1e3
    ours_p99 = pooled_summary["ours"]["p99_ms"]
    worst_round_p99 = max(r["ours"]["p99_ms"] for r in rounds)
    median_round_p99 = statistics.median(r["ours"]["p99_ms"] for r in rounds)
    targets = {
        "median_ratio_at_most_one_third": {"value": median_ratio, "target": 1 / 3, "met": median_ratio <= 1 / 3},
        "p99_below_2ms": {
            "value_ms": ours_p99,
            "median_round_p99_ms": median_round_p99,
            "worst_round_p99_ms": worst_round_p99,
            "cpu_p99_ms": pooled_summary["ours"]["cpu_p99_ms"],
            "target_ms": 2.0,
            "met": ours_p99 < 2.0,
        },
    }
    print_table(
        "All rounds pooled, ms",
        ["contender", "calls", "mean", "p50", "p90", "p99", "max", "cpu p50", "cpu p99"],
        [
            [name, s["n"], s["mean_ms"], s["p50_ms"], s["p90_ms"], s["p99_ms"], s["max_ms"], s["cpu_p50_ms"], s["cpu_p99_ms"]]
            for name, s in pooled_summary.items()
        ],
    )
    handler_ms = handler_cost() * 1e3
    print(f"\nMockTransport handler alone: {handler_ms:.4f} ms per call (included in every contender's time)")
    print(
        f"target median ours/sdk <= 0.333: {median_ratio:.3f} -> {'MET' if median_ratio <= 1 / 3 else 'NOT MET'}\n"
        f"target ours p99 < 2 ms: pooled {ours_p99:.3f} ms (median round {median_round_p99:.3f}, "
        f"worst round {worst_round_p99:.3f}; cpu p99 {pooled_summary['ours']['cpu_p99_ms']:.3f}) "
        f"-> {'MET' if ours_p99 < 2.0 else 'NOT MET'}"
    )
    result = {
        "benchmark": "client",
        "parameters": {"calls": args.calls, "warmup": args.warmup, "rounds": args.rounds},
        "rounds": rounds,
        "pooled": pooled_summary,
        "median_ratio_ours_sdk_p50": median_ratio,
        "handler_ms": handler_ms,
        "targets": targets,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
