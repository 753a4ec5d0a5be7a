"""Per-call overhead of a non-streaming chat call: ours vs AsyncGroq vs AsyncOpenAI vs the floor.

Five contenders answer the same canned Groq completion through the same in-process
``httpx.MockTransport`` (its handler builds a Response from constant bytes), so the time of a
call is the client's own work:

- **ours**: ``orchestrator.open_client`` under ``trio.run``: validation, encoding, the
  scheduler lane, the rate budget, the breaker gate, a worker (or the caller's task on the
  fast path), header learning, decoding into msgspec Structs;
- **groq**: ``groq.AsyncGroq`` under ``asyncio.run`` (pydantic models, Stainless retry loop);
- **openai**: ``openai.AsyncOpenAI`` under ``asyncio.run``, ``base_url`` at Groq's
  OpenAI-compatible prefix, so it posts ``.../openai/v1/chat/completions`` like ours;
- **bare**: ``httpx.AsyncClient.post`` plus ``msgspec`` decoding into our ``ChatResponse``,
  under trio: the floor any client built on httpx can reach;
- **transport**: only ``MockTransport.handle_async_request`` and reading the body, under trio:
  the part of every contender's time that is not the client's. "own" = median - this.

Each round runs every contender in a fresh event loop with a fresh client (so a fresh rate
budget): ``--warmup`` calls, then ``--calls`` sequential awaits timed one by one (wall and
the thread's CPU time), then ``--concurrent-calls`` calls from ``--concurrency`` tasks at once
(each call timed, and calls/s over the whole phase). The machine is shared and noisy, so the
ratios are taken per round and the targets checked against their median.

Targets: median per-call time at most 1/3 of AsyncGroq's and p99 < 2 ms (issue 5); at most 1/4 of
AsyncGroq's and 1.2x the bare floor (issue 14).

Usage::

    python bench/overhead.py [--calls 5000] [--warmup 500] [--rounds 4] [--concurrency 100]
                             [--concurrent-calls 10000] [--json bench/results/overhead.json]
    python bench/overhead.py --profile            # profile one run of ours
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from _common import (
    API_KEY,
    BASE_URL,
    GENEROUS,
    MESSAGES,
    MODEL,
    SDK_BASE_URL,
    completion_handler,
    default_json,
    percentile,
    print_table,
    profile_call,
    summarize,
    write_json,
)

import groq  # noqa: E402  (after _common, which puts the repository on sys.path)
import httpx  # noqa: E402
import msgspec  # noqa: E402
import openai  # noqa: E402
import trio  # noqa: E402

import orchestrator  # noqa: E402
from orchestrator._wire import ChatResponse, decode_chat_response  # noqa: E402

CONTENT_PREFIX = "Fast language models matter"
Call = Callable[[], Awaitable[Any]]


def _check(content: str | None) -> None:
    if not content or not content.startswith(CONTENT_PREFIX):
        raise AssertionError(f"unexpected reply content {content!r}: the benchmark is not measuring a real call")


# --------------------------------------------------------------------------- contenders
# Each is an async context manager yielding ``call`` (one awaited non-streaming chat call) and
# the handler its transport answers with.


class Handler:
    """The MockTransport handler: the canned completion, at once or after one turn of the event loop.

    Sequential calls get it at once (nothing else could run anyway). In the concurrent phase
    each call first gives the loop a turn, as a network read would: without that, an asyncio
    client that never really suspends runs its "concurrent" calls one after the other, and
    the latency of a call under load would compare different things.
    """

    def __init__(self, loop: str) -> None:
        self.yields = False
        self._loop = loop

    def __call__(self, request: httpx.Request) -> httpx.Response | Awaitable[httpx.Response]:
        if self.yields:
            return self._after_a_turn(request)
        return completion_handler(request)

    async def _after_a_turn(self, request: httpx.Request) -> httpx.Response:
        if self._loop == "trio":
            await trio.lowlevel.checkpoint()
        else:
            await asyncio.sleep(0)
        return completion_handler(request)


@asynccontextmanager
async def _ours(handler: Handler) -> AsyncIterator[Call]:
    limits = {MODEL: orchestrator.ModelLimits(**GENEROUS)}
    # Our own httpx client, as a user gets it, sending through the same transport as the others.
    async with orchestrator.open_client(
        api_key=API_KEY, base_url=BASE_URL, transport=httpx.MockTransport(handler), limits=limits,
        refresh_catalog=False,
    ) as client:
        create = client.chat.completions.create

        async def call() -> Any:
            return await create(model=MODEL, messages=MESSAGES)

        reply = await call()
        assert isinstance(reply, ChatResponse)
        _check(reply.choices[0].message.content)
        yield call
        stats = client.statistics()
        if stats.failed or stats.retried or stats.rate_limited:
            raise AssertionError(f"our client did not run clean: {stats}")


def _sdk(make_client: Callable[[httpx.AsyncClient], Any]) -> Callable[[Handler], AbstractAsyncContextManager[Call]]:
    """A contender for an official SDK (groq or openai): same transport, same call, its own client."""

    @asynccontextmanager
    async def contender(handler: Handler) -> AsyncIterator[Call]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            create = make_client(http).chat.completions.create

            async def call() -> Any:
                return await create(model=MODEL, messages=MESSAGES)

            _check((await call()).choices[0].message.content)
            yield call

    return contender


_groq = _sdk(lambda http: groq.AsyncGroq(api_key=API_KEY, base_url=SDK_BASE_URL, http_client=http))
_openai = _sdk(lambda http: openai.AsyncOpenAI(api_key=API_KEY, base_url=BASE_URL, http_client=http))


@asynccontextmanager
async def _bare(handler: Handler) -> AsyncIterator[Call]:
    url = BASE_URL + "/chat/completions"
    headers = {"authorization": f"Bearer {API_KEY}", "content-type": "application/json"}
    request = {"model": MODEL, "messages": MESSAGES}
    encode = msgspec.json.encode
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:

        async def call() -> ChatResponse:
            response = await http.post(url, content=encode(request), headers=headers)
            return decode_chat_response(response.content)

        _check((await call()).choices[0].message.content)
        yield call


@asynccontextmanager
async def _transport(handler: Handler) -> AsyncIterator[Call]:
    transport = httpx.MockTransport(handler)
    request = httpx.Request("POST", BASE_URL + "/chat/completions", content=b'{"model":"' + MODEL.encode() + b'"}')

    async def call() -> bytes:
        response = await transport.handle_async_request(request)
        return await response.aread()

    yield call


#: name -> (open the contender, event loop it runs under)
CONTENDERS: dict[str, tuple[Callable[[Handler], AbstractAsyncContextManager[Call]], str]] = {
    "ours": (_ours, "trio"),
    "groq": (_groq, "asyncio"),
    "openai": (_openai, "asyncio"),
    "bare": (_bare, "trio"),
    "transport": (_transport, "trio"),
}


# --------------------------------------------------------------------------- timing


async def _sequential(call: Call, warmup: int, calls: int) -> dict[str, Any]:
    """``warmup`` untimed calls, then ``calls`` timed ones: wall and CPU time per call."""
    for _ in range(warmup):
        await call()
    wall = [0.0] * calls
    cpu = [0.0] * calls
    perf, thread_time = time.perf_counter, time.thread_time
    phase_started = perf()
    for index in range(calls):
        started, started_cpu = perf(), thread_time()
        await call()
        wall[index] = perf() - started
        cpu[index] = thread_time() - started_cpu
    return {"wall": wall, "cpu": cpu, "seconds": perf() - phase_started}


async def _timed_worker(call: Call, count: int, latencies: list[float]) -> None:
    perf = time.perf_counter
    for _ in range(count):
        started = perf()
        await call()
        latencies.append(perf() - started)


def _shares(total: int, tasks: int) -> list[int]:
    return [total // tasks + (1 if index < total % tasks else 0) for index in range(tasks)]


async def _concurrent_trio(call: Call, concurrency: int, calls: int) -> dict[str, Any]:
    latencies: list[float] = []
    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for share in _shares(calls, concurrency):
            nursery.start_soon(_timed_worker, call, share, latencies)
    return {"wall": latencies, "seconds": time.perf_counter() - started}


async def _concurrent_asyncio(call: Call, concurrency: int, calls: int) -> dict[str, Any]:
    latencies: list[float] = []
    started = time.perf_counter()
    await asyncio.gather(*(_timed_worker(call, share, latencies) for share in _shares(calls, concurrency)))
    return {"wall": latencies, "seconds": time.perf_counter() - started}


def run_contender(name: str, args: argparse.Namespace, *, concurrent_phase: bool = True) -> dict[str, Any]:
    """One contender, one fresh event loop: the sequential phase, then (unless told not to) the concurrent one."""
    opener, loop = CONTENDERS[name]
    concurrent = _concurrent_trio if loop == "trio" else _concurrent_asyncio

    async def session() -> dict[str, Any]:
        handler = Handler(loop)
        async with opener(handler) as call:
            sequential = await _sequential(call, args.warmup, args.calls)
            if not concurrent_phase:
                return {"sequential": sequential}
            handler.yields = True
            for _ in range(min(args.warmup, args.concurrency)):
                await call()
            together = await concurrent(call, args.concurrency, args.concurrent_calls)
        return {"sequential": sequential, "concurrent": together}

    gc.collect()
    return trio.run(session) if loop == "trio" else asyncio.run(session())


# --------------------------------------------------------------------------- main


def _round(number: int, args: argparse.Namespace, pooled: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    record: dict[str, Any] = {"round": number}
    for name in CONTENDERS:
        raw = run_contender(name, args)
        sequential, together = raw["sequential"], raw["concurrent"]
        pooled[name]["wall"].extend(sequential["wall"])
        pooled[name]["cpu"].extend(sequential["cpu"])
        pooled[name]["concurrent"].extend(together["wall"])
        record[name] = {
            "sequential": {
                **summarize(sequential["wall"]),
                "cpu_p50_ms": percentile(sequential["cpu"], 50) * 1e3,
                "cpu_p99_ms": percentile(sequential["cpu"], 99) * 1e3,
                "calls_per_s": len(sequential["wall"]) / sequential["seconds"],
            },
            "concurrent": {**summarize(together["wall"]), "calls_per_s": len(together["wall"]) / together["seconds"]},
        }
    ours = record["ours"]
    record["ratios"] = {
        f"ours_{peer}": {
            "p50": ours["sequential"]["p50_ms"] / record[peer]["sequential"]["p50_ms"],
            "calls_per_s": ours["sequential"]["calls_per_s"] / record[peer]["sequential"]["calls_per_s"],
            "concurrent_calls_per_s": ours["concurrent"]["calls_per_s"] / record[peer]["concurrent"]["calls_per_s"],
        }
        for peer in ("groq", "openai", "bare")
    }
    print(
        f"round {number}: "
        + ", ".join(f"{name} p50 {record[name]['sequential']['p50_ms']:.3f} ms" for name in CONTENDERS)
        + f"; ours/groq {record['ratios']['ours_groq']['p50']:.3f}",
        flush=True,
    )
    return record


def _print_tables(args: argparse.Namespace, rounds: list[dict[str, Any]], pooled: dict[str, Any], transport_ms: float) -> None:
    print_table(
        f"Non-streaming call, sequential: per-call wall time, ms, all {len(rounds)} rounds pooled "
        f"({args.calls} calls per contender and round after {args.warmup} warm-up; own = p50 - transport p50; "
        "cpu = this thread's CPU time per call)",
        ["contender", "calls", "p50", "p90", "p99", "max", "cpu p99", "own p50", "calls/s", "ours/x p50"],
        [
            [
                name,
                s["n"],
                s["p50_ms"],
                s["p90_ms"],
                s["p99_ms"],
                s["max_ms"],
                s["cpu_p99_ms"],
                s["p50_ms"] - transport_ms,
                s["calls_per_s"],
                pooled["ours"]["sequential"]["p50_ms"] / s["p50_ms"],
            ]
            for name, s in ((name, pooled[name]["sequential"]) for name in CONTENDERS)
        ],
    )
    print_table(
        f"Non-streaming call, {args.concurrency} concurrent tasks: {args.concurrent_calls} calls per contender and "
        "round; latency of each call (ms) and calls/s over the whole phase",
        ["contender", "calls", "p50", "p99", "max", "calls/s", "ours/x calls/s"],
        [
            [name, c["n"], c["p50_ms"], c["p99_ms"], c["max_ms"], c["calls_per_s"], pooled["ours"]["concurrent"]["calls_per_s"] / c["calls_per_s"]]
            for name, c in ((name, pooled[name]["concurrent"]) for name in CONTENDERS)
        ],
    )  # fmt: skip
    print_table(
        "Per round (ratios of medians and of calls/s; the noise between rounds is the machine's)",
        ["round", "ours p50", "groq p50", "openai p50", "bare p50", "ours/groq", "ours/openai", "ours/bare",
         "ours/groq conc calls/s"],
        [
            [r["round"], r["ours"]["sequential"]["p50_ms"], r["groq"]["sequential"]["p50_ms"],
             r["openai"]["sequential"]["p50_ms"], r["bare"]["sequential"]["p50_ms"], r["ratios"]["ours_groq"]["p50"],
             r["ratios"]["ours_openai"]["p50"], r["ratios"]["ours_bare"]["p50"],
             r["ratios"]["ours_groq"]["concurrent_calls_per_s"]]
            for r in rounds
        ],
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the overhead suite; print its tables; write and return its results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=5000, help="timed sequential calls per contender and round")
    parser.add_argument("--warmup", type=int, default=500, help="untimed calls before the timed ones")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of every contender")
    parser.add_argument("--concurrency", type=int, default=100, help="tasks calling at once in the concurrent phase")
    parser.add_argument("--concurrent-calls", type=int, default=10_000, help="calls in the concurrent phase")
    parser.add_argument("--json", metavar="PATH", default=default_json("overhead"), help="write the results here")
    parser.add_argument("--profile", action="store_true", help="profile one sequential run of ours instead")
    parser.add_argument("--top", type=int, default=30, help="functions to list with --profile (cProfile)")
    args = parser.parse_args(argv)
    for option in ("calls", "rounds", "concurrency", "concurrent_calls"):
        if getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1, got {getattr(args, option)}")
    if args.profile:
        profile_call(lambda: run_contender("ours", args, concurrent_phase=False), args.top)
        return {}

    pooled_raw: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": [], "concurrent": []} for name in CONTENDERS}
    rounds = [_round(number, args, pooled_raw) for number in range(1, args.rounds + 1)]
    pooled: dict[str, Any] = {}
    for name, raw in pooled_raw.items():
        seconds = sum(r[name]["sequential"]["n"] / r[name]["sequential"]["calls_per_s"] for r in rounds)
        conc_seconds = sum(r[name]["concurrent"]["n"] / r[name]["concurrent"]["calls_per_s"] for r in rounds)
        pooled[name] = {
            "sequential": {
                **summarize(raw["wall"]),
                "cpu_p50_ms": percentile(raw["cpu"], 50) * 1e3,
                "cpu_p99_ms": percentile(raw["cpu"], 99) * 1e3,
                "calls_per_s": len(raw["wall"]) / seconds,
            },
            "concurrent": {**summarize(raw["concurrent"]), "calls_per_s": len(raw["concurrent"]) / conc_seconds},
        }
    transport_ms = pooled["transport"]["sequential"]["p50_ms"]
    for name in CONTENDERS:
        pooled[name]["sequential"]["own_p50_ms"] = pooled[name]["sequential"]["p50_ms"] - transport_ms
    _print_tables(args, rounds, pooled, transport_ms)

    median_ratio = statistics.median(r["ratios"]["ours_groq"]["p50"] for r in rounds)
    ratios = {
        peer: {
            key: statistics.median(r["ratios"][f"ours_{peer}"][key] for r in rounds)
            for key in ("p50", "calls_per_s", "concurrent_calls_per_s")
        }
        for peer in ("groq", "openai", "bare")
    }
    ours = pooled["ours"]["sequential"]
    targets = {
        "median_ratio_at_most_one_third": {"value": median_ratio, "target": 1 / 3, "met": median_ratio <= 1 / 3},
        "median_ratio_at_most_a_quarter": {"value": median_ratio, "target": 1 / 4, "met": median_ratio <= 1 / 4},
        "bare_ratio_at_most_1_2": {
            "value": ratios["bare"]["p50"], "target": 1.2, "met": ratios["bare"]["p50"] <= 1.2,
        },
        "p99_below_2ms": {
            "value_ms": ours["p99_ms"],
            "worst_round_p99_ms": max(r["ours"]["sequential"]["p99_ms"] for r in rounds),
            "cpu_p99_ms": ours["cpu_p99_ms"],
            "target_ms": 2.0,
            "met": ours["p99_ms"] < 2.0,
        },
    }
    print(
        "\nmedian of per-round ratios, ours/x: "
        + "; ".join(
            f"{peer} p50 {r['p50']:.3f}, calls/s {r['calls_per_s']:.2f}x, concurrent calls/s {r['concurrent_calls_per_s']:.2f}x"
            for peer, r in ratios.items()
        )
    )
    verdict = {name: "MET" if target["met"] else "NOT MET" for name, target in targets.items()}
    print(
        f"target median ours/groq <= 0.333: {median_ratio:.3f} -> {verdict['median_ratio_at_most_one_third']}\n"
        f"target median ours/groq <= 0.25 (issue 14): {median_ratio:.3f} -> {verdict['median_ratio_at_most_a_quarter']}\n"
        f"target median ours/bare <= 1.2 (issue 14): {ratios['bare']['p50']:.3f} -> {verdict['bare_ratio_at_most_1_2']}\n"
        f"target ours p99 < 2 ms: {ours['p99_ms']:.3f} ms pooled (worst round "
        f"{targets['p99_below_2ms']['worst_round_p99_ms']:.3f}, cpu p99 {ours['cpu_p99_ms']:.3f}) "
        f"-> {verdict['p99_below_2ms']}"
    )
    result = {
        "benchmark": "overhead",
        "parameters": {
            "calls": args.calls,
            "warmup": args.warmup,
            "rounds": args.rounds,
            "concurrency": args.concurrency,
            "concurrent_calls": args.concurrent_calls,
        },
        "contenders": list(CONTENDERS),
        "rounds": rounds,
        "pooled": pooled,
        "ratios": ratios,
        "transport_p50_ms": transport_ms,
        "targets": targets,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
