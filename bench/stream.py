"""Streaming throughput and time to first chunk: our client vs the official ``groq`` SDK.

One 100,000-token completion is streamed through an in-process ``httpx.MockTransport``: a
Groq-shaped SSE body (role chunk, one chunk per token, finish chunk with ``x_groq.usage``,
``data: [DONE]``; about 27 MB) produced lazily and handed over in 64 KiB pieces, as socket
reads would. Contenders, each in a fresh event loop with a fresh client:

- **ours/iter**: ``orchestrator`` under trio, ``async for chunk in stream``;
- **ours/batches**: the same, ``async for batch in stream.batches()``;
- **sdk**: ``groq.AsyncGroq`` under asyncio, ``async for chunk in stream``;
- **bare**: no HTTP at all: split the same pieces into SSE events by hand and decode each
  with ``msgspec`` into the same ``ChatChunk`` Struct (the ceiling).

Every consumer reads ``choices[0].delta.content`` of every chunk and the totals are checked,
so nothing is skipped. Chunks per second = chunks delivered / (time from the ``create`` call
to the last chunk).

Time to first chunk: the body stamps the moment it yields its first piece (inside the
transport's byte iterator); the consumer stamps the moment it holds the first chunk; the
difference is reported for every big stream and for ``--probes`` short streams (2,000 tokens,
so the first piece is a full 64 KiB read) per contender and round.

Targets (issue 5, "Performance"): chunks/s at least 15x AsyncGroq's (both ways of iterating);
first chunk handed to the caller < 1 ms after its bytes are yielded by the transport.

Usage::

    python bench/bench_stream.py [--tokens 100000] [--rounds 3] [--probes 30] [--json out.json]
    python bench/bench_stream.py --profile             # cProfile one ours/iter stream
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

from _common import (
    API_KEY,
    BASE_URL,
    GENEROUS,
    MESSAGES,
    MODEL,
    PIECE_SIZE,
    SDK_BASE_URL,
    StreamRecorder,
    iter_pieces,
    percentile,
    print_table,
    stream_chunk_count,
    write_json,
)

import groq  # noqa: E402  (after _common, which puts the repository on sys.path)
import httpx  # noqa: E402
import trio  # noqa: E402

import orchestrator  # noqa: E402
from orchestrator._wire import decode_chat_chunk  # noqa: E402

WARMUP_TOKENS = 1_000
PROBE_TOKENS = 2_000


class Run:
    """One consumed stream: chunks, content characters, and the three timestamps."""

    __slots__ = ("chunks", "chars", "started", "first_at", "first_cpu", "ended", "first_yield_at", "first_yield_cpu")

    def __init__(self) -> None:
        self.chunks = 0
        self.chars = 0
        self.started = 0.0
        self.first_at = 0.0
        self.first_cpu = 0.0
        self.ended = 0.0
        self.first_yield_at = 0.0
        self.first_yield_cpu = 0.0

    @property
    def rate(self) -> float:
        """Chunks per second, from the create call to the last chunk."""
        return self.chunks / (self.ended - self.started)

    @property
    def first_chunk_ms(self) -> float:
        """Milliseconds from the transport yielding the first piece to the caller holding the first chunk."""
        return (self.first_at - self.first_yield_at) * 1e3

    @property
    def first_chunk_cpu_ms(self) -> float:
        """The same interval in CPU time of the event loop's thread (preemption by other processes excluded)."""
        return (self.first_cpu - self.first_yield_cpu) * 1e3


# --------------------------------------------------------------------------- ours


async def _ours_consume(client: orchestrator.Client, recorder: StreamRecorder, tokens: int, batches: bool) -> Run:
    recorder.tokens = tokens
    run = Run()
    perf = time.perf_counter
    run.started = perf()
    stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    assert isinstance(stream, orchestrator.ChatStream)
    chunks = chars = 0
    async with stream:
        if batches:
            async for batch in stream.batches():
                if not chunks:
                    run.first_at = perf()
                    run.first_cpu = time.thread_time()
                chunks += len(batch)
                for chunk in batch:
                    if chunk.choices:
                        chars += len(chunk.choices[0].delta.content or "")
        else:
            async for chunk in stream:
                if not chunks:
                    run.first_at = perf()
                    run.first_cpu = time.thread_time()
                chunks += 1
                if chunk.choices:
                    chars += len(chunk.choices[0].delta.content or "")
    run.ended = perf()
    if stream.usage is None or stream.usage.completion_tokens != tokens:
        raise AssertionError(f"our stream ended without the final usage: {stream.usage!r}")
    run.chunks, run.chars = chunks, chars
    assert recorder.last is not None and recorder.last.first_yield_at is not None
    run.first_yield_at = recorder.last.first_yield_at
    run.first_yield_cpu = recorder.last.first_yield_cpu or 0.0
    return run


async def _ours(tokens: int, batches: bool, probes: int) -> tuple[Run, list[Run]]:
    recorder = StreamRecorder(tokens)
    limits = {MODEL: orchestrator.ModelLimits(**GENEROUS)}
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        async with orchestrator.open_client(api_key=API_KEY, base_url=BASE_URL, http_client=http, limits=limits) as client:
            await _ours_consume(client, recorder, WARMUP_TOKENS, batches)
            gc.collect()
            main = await _ours_consume(client, recorder, tokens, batches)
            probe_runs = [await _ours_consume(client, recorder, PROBE_TOKENS, batches) for _ in range(probes)]
    return main, probe_runs


def run_ours(tokens: int, probes: int, *, batches: bool) -> tuple[Run, list[Run]]:
    """Our client under trio: the big stream, then the first-chunk probes."""
    gc.collect()
    return trio.run(_ours, tokens, batches, probes)


# --------------------------------------------------------------------------- the SDK


async def _sdk_consume(client: groq.AsyncGroq, recorder: StreamRecorder, tokens: int) -> Run:
    recorder.tokens = tokens
    run = Run()
    perf = time.perf_counter
    run.started = perf()
    stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
    chunks = chars = 0
    usage = None
    async with stream:
        async for chunk in stream:
            if not chunks:
                run.first_at = perf()
                run.first_cpu = time.thread_time()
            chunks += 1
            if chunk.choices:
                chars += len(chunk.choices[0].delta.content or "")
            if chunk.x_groq is not None and chunk.x_groq.usage is not None:
                usage = chunk.x_groq.usage
    run.ended = perf()
    if usage is None or usage.completion_tokens != tokens:
        raise AssertionError(f"the SDK stream ended without the final usage: {usage!r}")
    run.chunks, run.chars = chunks, chars
    assert recorder.last is not None and recorder.last.first_yield_at is not None
    run.first_yield_at = recorder.last.first_yield_at
    run.first_yield_cpu = recorder.last.first_yield_cpu or 0.0
    return run


async def _sdk(tokens: int, probes: int) -> tuple[Run, list[Run]]:
    recorder = StreamRecorder(tokens)
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        client = groq.AsyncGroq(api_key=API_KEY, base_url=SDK_BASE_URL, http_client=http)
        await _sdk_consume(client, recorder, WARMUP_TOKENS)
        gc.collect()
        main = await _sdk_consume(client, recorder, tokens)
        probe_runs = [await _sdk_consume(client, recorder, PROBE_TOKENS) for _ in range(probes)]
    return main, probe_runs


def run_sdk(tokens: int, probes: int) -> tuple[Run, list[Run]]:
    """``groq.AsyncGroq`` under asyncio: the big stream, then the first-chunk probes."""
    gc.collect()
    return asyncio.run(_sdk(tokens, probes))


# --------------------------------------------------------------------------- bare


def _bare_consume(tokens: int) -> Run:
    run = Run()
    perf = time.perf_counter
    decode = decode_chat_chunk
    chunks = chars = 0
    buffer = b""
    run.started = perf()
    for piece in iter_pieces(tokens, PIECE_SIZE):
        if not run.first_yield_at:
            run.first_yield_cpu = time.thread_time()
            run.first_yield_at = perf()
        events = (buffer + piece).split(b"\n\n")
        buffer = events.pop()
        for event in events:
            data = event[6:]  # b"data: "
            if data == b"[DONE]":
                break
            chunk = decode(data)
            if not chunks:
                run.first_at = perf()
                run.first_cpu = time.thread_time()
            chunks += 1
            if chunk.choices:
                chars += len(chunk.choices[0].delta.content or "")
    run.ended = perf()
    run.chunks, run.chars = chunks, chars
    return run


def run_bare(tokens: int, probes: int) -> tuple[Run, list[Run]]:
    """Hand-split SSE + msgspec decode of the same pieces (no HTTP, no event loop)."""
    gc.collect()
    _bare_consume(WARMUP_TOKENS)
    main = _bare_consume(tokens)
    return main, [_bare_consume(PROBE_TOKENS) for _ in range(probes)]


# --------------------------------------------------------------------------- main


def profile_ours(tokens: int, batches: bool, top: int) -> None:
    """Profile one run of our client: pyinstrument's call tree if it is installed, else cProfile's top functions."""
    try:
        import pyinstrument
    except ImportError:
        profiler = cProfile.Profile()
        profiler.enable()
        run_ours(tokens, 0, batches=batches)
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        return
    sampler = pyinstrument.Profiler(interval=0.0002)
    sampler.start()
    run_ours(tokens, 0, batches=batches)
    sampler.stop()
    print(sampler.output_text(unicode=False, color=False))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=100_000, help="tokens (chunks) in the big stream")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of ours/iter, ours/batches, sdk, bare")
    parser.add_argument("--probes", type=int, default=30, help="short streams per contender and round for first-chunk latency")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON here")
    parser.add_argument("--profile", choices=["iter", "batches"], help="cProfile our client instead of comparing")
    parser.add_argument("--top", type=int, default=30, help="functions to list with --profile")
    args = parser.parse_args(argv)
    if args.profile:
        profile_ours(args.tokens, args.profile == "batches", args.top)
        return {}

    runners: dict[str, Callable[[int, int], tuple[Run, list[Run]]]] = {
        "ours/iter": lambda tokens, probes: run_ours(tokens, probes, batches=False),
        "ours/batches": lambda tokens, probes: run_ours(tokens, probes, batches=True),
        "sdk": run_sdk,
        "bare": run_bare,
    }
    expected_chunks = stream_chunk_count(args.tokens)
    rounds: list[dict[str, Any]] = []
    probe_ms: dict[str, list[float]] = {name: [] for name in runners}
    probe_cpu_ms: dict[str, list[float]] = {name: [] for name in runners}
    for number in range(1, args.rounds + 1):
        record: dict[str, Any] = {"round": number}
        chars: dict[str, int] = {}
        for name, runner in runners.items():
            main_run, probe_runs = runner(args.tokens, args.probes)
            if main_run.chunks != expected_chunks:
                raise AssertionError(f"{name} delivered {main_run.chunks} chunks, expected {expected_chunks}")
            chars[name] = main_run.chars
            probes = [probe.first_chunk_ms for probe in probe_runs]
            probe_ms[name].extend(probes)
            probe_cpu_ms[name].extend(probe.first_chunk_cpu_ms for probe in probe_runs)
            record[name] = {
                "chunks": main_run.chunks,
                "seconds": main_run.ended - main_run.started,
                "chunks_per_s": main_run.rate,
                "first_chunk_ms": main_run.first_chunk_ms,
                "first_chunk_cpu_ms": main_run.first_chunk_cpu_ms,
                "probe_first_chunk_p50_ms": percentile(probes, 50),
                "probe_first_chunk_p99_ms": percentile(probes, 99),
            }
        if len(set(chars.values())) != 1:
            raise AssertionError(f"the contenders saw different content: {chars}")
        sdk_rate = record["sdk"]["chunks_per_s"]
        record["ratio_iter_sdk"] = record["ours/iter"]["chunks_per_s"] / sdk_rate
        record["ratio_batches_sdk"] = record["ours/batches"]["chunks_per_s"] / sdk_rate
        rounds.append(record)
        print(
            f"round {number}: "
            + ", ".join(f"{name} {record[name]['chunks_per_s']:,.0f}/s" for name in runners)
            + f"; iter/sdk {record['ratio_iter_sdk']:.1f}x, batches/sdk {record['ratio_batches_sdk']:.1f}x",
            flush=True,
        )

    print_table(
        f"Streaming {args.tokens:,} tokens ({expected_chunks:,} chunks, {PIECE_SIZE // 1024} KiB reads): chunks/s per round",
        ["round", *runners, "iter/sdk", "batches/sdk"],
        [
            [r["round"], *(r[name]["chunks_per_s"] for name in runners), r["ratio_iter_sdk"], r["ratio_batches_sdk"]]
            for r in rounds
        ],
    )
    first_chunk = {
        name: {
            "big_stream_median_ms": statistics.median(r[name]["first_chunk_ms"] for r in rounds),
            "big_stream_max_ms": max(r[name]["first_chunk_ms"] for r in rounds),
            "probes": len(probe_ms[name]),
            "probe_p50_ms": percentile(probe_ms[name], 50),
            "probe_p90_ms": percentile(probe_ms[name], 90),
            "probe_p99_ms": percentile(probe_ms[name], 99),
            "probe_max_ms": max(probe_ms[name]) if probe_ms[name] else float("nan"),
            "probe_cpu_p50_ms": percentile(probe_cpu_ms[name], 50),
            "probe_cpu_p99_ms": percentile(probe_cpu_ms[name], 99),
        }
        for name in runners
    }
    print_table(
        "Time to first chunk, ms (transport yields its first 64 KiB piece -> the caller holds chunk 1; "
        "cpu = the event loop thread's CPU time over the same interval)",
        [
            "contender",
            "big stream median",
            "big stream max",
            "probes",
            "probe p50",
            "probe p90",
            "probe p99",
            "probe max",
            "cpu p50",
            "cpu p99",
        ],
        [
            [
                name,
                f["big_stream_median_ms"],
                f["big_stream_max_ms"],
                f["probes"],
                f["probe_p50_ms"],
                f["probe_p90_ms"],
                f["probe_p99_ms"],
                f["probe_max_ms"],
                f["probe_cpu_p50_ms"],
                f["probe_cpu_p99_ms"],
            ]
            for name, f in first_chunk.items()
        ],
    )
    median_iter = statistics.median(r["ratio_iter_sdk"] for r in rounds)
    median_batches = statistics.median(r["ratio_batches_sdk"] for r in rounds)
    first_ms = max(first_chunk["ours/iter"]["probe_p50_ms"], first_chunk["ours/batches"]["probe_p50_ms"])
    targets = {
        "iter_at_least_15x_sdk": {"value": median_iter, "target": 15.0, "met": median_iter >= 15.0},
        "batches_at_least_15x_sdk": {"value": median_batches, "target": 15.0, "met": median_batches >= 15.0},
        "first_chunk_below_1ms": {
            "probe_p50_ms": first_ms,
            "probe_p99_ms": max(first_chunk["ours/iter"]["probe_p99_ms"], first_chunk["ours/batches"]["probe_p99_ms"]),
            "probe_cpu_p99_ms": max(
                first_chunk["ours/iter"]["probe_cpu_p99_ms"], first_chunk["ours/batches"]["probe_cpu_p99_ms"]
            ),
            "big_stream_median_ms": max(
                first_chunk["ours/iter"]["big_stream_median_ms"], first_chunk["ours/batches"]["big_stream_median_ms"]
            ),
            "target_ms": 1.0,
            "met": first_ms < 1.0,
        },
    }
    print(
        f"\ntarget chunks/s >= 15x sdk: iter {median_iter:.1f}x -> {'MET' if median_iter >= 15 else 'NOT MET'}, "
        f"batches {median_batches:.1f}x -> {'MET' if median_batches >= 15 else 'NOT MET'}\n"
        f"target first chunk < 1 ms: median probe {first_ms:.3f} ms (p99 "
        f"{targets['first_chunk_below_1ms']['probe_p99_ms']:.3f} ms, cpu p99 "
        f"{targets['first_chunk_below_1ms']['probe_cpu_p99_ms']:.3f} ms) -> {'MET' if first_ms < 1.0 else 'NOT MET'}"
    )
    result = {
        "benchmark": "stream",
        "parameters": {
            "tokens": args.tokens,
            "chunks": expected_chunks,
            "piece_bytes": PIECE_SIZE,
            "rounds": args.rounds,
            "probes": args.probes,
            "probe_tokens": PROBE_TOKENS,
        },
        "rounds": rounds,
        "first_chunk": first_chunk,
        "median_ratio_iter_sdk": median_iter,
        "median_ratio_batches_sdk": median_batches,
        "targets": targets,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
