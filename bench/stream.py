"""Streaming a 100,000-token completion: ours vs AsyncGroq vs AsyncOpenAI (chunks/s, chunk latency, RSS).

The stream goes through an in-process ``httpx.MockTransport``: a Groq-shaped SSE body (role
chunk, one chunk per token, finish chunk with ``x_groq.usage``, ``data: [DONE]``; about
27 MB for 100,000 tokens) produced lazily and handed over in 64 KiB pieces, as socket reads
would. Contenders, each in a fresh event loop with a fresh client:

- **ours/iter**: ``orchestrator`` under trio, ``async for chunk in stream``;
- **ours/batches**: the same, ``async for batch in stream.batches()``;
- **groq**: ``groq.AsyncGroq`` under asyncio, ``async for chunk in stream``;
- **openai**: ``openai.AsyncOpenAI`` under asyncio, the same (Groq's usage arrives as the
  ``x_groq`` extra field of the last chunk);
- **bare**: no HTTP and no event loop: split the same pieces into events by hand and decode
  each with ``msgspec`` into our ``ChatChunk`` Struct (the ceiling).

Every consumer reads ``choices[0].delta.content`` of every chunk; chunk counts, content
length and the final usage are checked, so nothing is skipped.

Measured, per contender and round:

- **chunks/s**: chunks delivered / (time from the ``create`` call to the last chunk), over a
  ``--tokens`` stream;
- **chunk latency**: over ``--probes`` streams of 2,000 tokens the consumer stamps every
  chunk; a chunk's latency is the time from the transport handing out the piece holding its
  last byte to the caller holding the chunk. The first chunk's is reported apart (it has no
  earlier chunk to hide behind).
- **peak RSS growth** (once per contender, each in a fresh process): after a 1,000-token
  warm-up stream, a ``--rss-tokens`` stream; VmRSS is sampled every 1,000 chunks and
  ``ru_maxrss`` read at the end, so a transient buffer shows even if it is freed.

Targets (issue 5): chunks/s at least 15x AsyncGroq's (both ways of iterating); a
100,000-token stream grows RSS by < 1 MB (peak); first chunk < 1 ms after its bytes.

Usage::

    python bench/stream.py [--tokens 100000] [--rounds 3] [--probes 30] [--rss-tokens 100000]
                           [--json bench/results/stream.json]
    python bench/stream.py --profile iter        # profile one big stream of ours
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import statistics
import subprocess
import sys
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
    PIECE_SIZE,
    SDK_BASE_URL,
    SSEBody,
    StreamRecorder,
    default_json,
    maxrss_bytes,
    percentile,
    print_table,
    profile_call,
    rss_bytes,
    stream_chunk_count,
    write_json,
)

import groq  # noqa: E402  (after _common, which puts the repository on sys.path)
import httpx  # noqa: E402
import openai  # noqa: E402
import trio  # noqa: E402

import orchestrator  # noqa: E402
from orchestrator._wire import decode_chat_chunk  # noqa: E402

WARMUP_TOKENS = 1_000
PROBE_TOKENS = 2_000
RSS_SAMPLE_EVERY = 1_000
#: The contenders whose peak RSS is measured (ours/batches holds the same buffers as ours/iter).
RSS_CONTENDERS = ("ours/iter", "groq", "openai")
MB = 1024 * 1024


class Run:
    """One consumed stream: chunks, content characters, timestamps, and the body it came from."""

    __slots__ = ("body", "chars", "chunks", "ended", "first_at", "first_cpu", "stamps", "started")

    def __init__(self) -> None:
        self.chunks = 0
        self.chars = 0
        self.started = 0.0
        self.first_at = 0.0
        self.first_cpu = 0.0
        self.ended = 0.0
        self.stamps: list[float] | None = None
        self.body: SSEBody | None = None

    @property
    def rate(self) -> float:
        """Chunks per second, from the create call to the last chunk."""
        return self.chunks / (self.ended - self.started)

    @property
    def first_chunk_ms(self) -> float:
        """Milliseconds from the transport handing out the first piece to the caller holding chunk 1."""
        assert self.body is not None and self.body.first_yield_at is not None
        return (self.first_at - self.body.first_yield_at) * 1e3

    @property
    def first_chunk_cpu_ms(self) -> float:
        """The same interval in the event loop thread's CPU time (preemption by other processes excluded)."""
        assert self.body is not None and self.body.first_yield_cpu is not None
        return (self.first_cpu - self.body.first_yield_cpu) * 1e3

    def chunk_latencies_ms(self) -> list[float]:
        """Every chunk's latency from its bytes to the caller, in ms (stamped runs only)."""
        assert self.body is not None and self.stamps is not None
        return [seconds * 1e3 for seconds in self.body.chunk_latencies(self.stamps)]


# --------------------------------------------------------------------------- contenders
# Each opens a client over ``recorder`` and yields ``open_stream``: it starts one streaming
# call and returns (the stream to close, what to iterate, the completion tokens the stream
# reported given its last chunk).

Opened = tuple[Any, Any, Callable[[Any], int | None]]
OpenStream = Callable[[], Awaitable[Opened]]


@asynccontextmanager
async def _ours(recorder: StreamRecorder, batches: bool) -> AsyncIterator[OpenStream]:
    limits = {MODEL: orchestrator.ModelLimits(**GENEROUS)}
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        async with orchestrator.open_client(
            api_key=API_KEY, base_url=BASE_URL, http_client=http, limits=limits, refresh_catalog=False
        ) as client:

            async def open_stream() -> Opened:
                stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
                assert isinstance(stream, orchestrator.ChatStream)

                def usage(last: Any) -> int | None:
                    return stream.usage.completion_tokens if stream.usage else None

                return stream, stream.batches() if batches else stream, usage

            yield open_stream


def _groq_usage(last: Any) -> int | None:
    x_groq = getattr(last, "x_groq", None)
    return x_groq.usage.completion_tokens if x_groq is not None and x_groq.usage is not None else None


def _openai_usage(last: Any) -> int | None:
    x_groq = (last.model_extra or {}).get("x_groq") or {}
    usage = x_groq.get("usage") or {}
    return usage.get("completion_tokens")


@asynccontextmanager
async def _groq(recorder: StreamRecorder, batches: bool) -> AsyncIterator[OpenStream]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        client = groq.AsyncGroq(api_key=API_KEY, base_url=SDK_BASE_URL, http_client=http)

        async def open_stream() -> Opened:
            stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
            return stream, stream, _groq_usage

        yield open_stream


@asynccontextmanager
async def _openai(recorder: StreamRecorder, batches: bool) -> AsyncIterator[OpenStream]:
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
        client = openai.AsyncOpenAI(api_key=API_KEY, base_url=BASE_URL, http_client=http)

        async def open_stream() -> Opened:
            stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
            return stream, stream, _openai_usage

        yield open_stream


#: name -> (open the contender, event loop, iterate in batches)
CLIENTS: dict[str, tuple[Callable[[StreamRecorder, bool], AbstractAsyncContextManager[OpenStream]], str, bool]] = {
    "ours/iter": (_ours, "trio", False),
    "ours/batches": (_ours, "trio", True),
    "groq": (_groq, "asyncio", False),
    "openai": (_openai, "asyncio", False),
}
CONTENDERS = (*CLIENTS, "bare")


async def _consume(open_stream: OpenStream, recorder: StreamRecorder, tokens: int, batches: bool, stamped: bool) -> Run:
    """One streaming call, read to the end; with ``stamped``, the moment every chunk arrives."""
    recorder.tokens = tokens
    run = Run()
    perf = time.perf_counter
    chunks = chars = 0
    last: Any = None
    stamps: list[float] = []
    run.started = perf()
    stream, iterable, usage = await open_stream()
    async with stream:
        if batches:
            async for batch in iterable:
                now = perf()
                if not chunks:
                    run.first_at, run.first_cpu = now, time.thread_time()
                if stamped:
                    stamps.extend([now] * len(batch))
                chunks += len(batch)
                for chunk in batch:
                    if chunk.choices:
                        chars += len(chunk.choices[0].delta.content or "")
                last = batch[-1]
        elif stamped:
            async for chunk in iterable:
                stamps.append(perf())
                chunks += 1
                if chunk.choices:
                    chars += len(chunk.choices[0].delta.content or "")
                last = chunk
            run.first_at, run.first_cpu = stamps[0], 0.0
        else:
            async for chunk in iterable:
                if not chunks:
                    run.first_at, run.first_cpu = perf(), time.thread_time()
                chunks += 1
                if chunk.choices:
                    chars += len(chunk.choices[0].delta.content or "")
                last = chunk
    run.ended = perf()
    if usage(last) != tokens:
        raise AssertionError(f"the stream ended without the final usage ({usage(last)!r}, expected {tokens})")
    run.chunks, run.chars, run.body = chunks, chars, recorder.last
    run.stamps = stamps if stamped else None
    return run


def run_client(name: str, tokens: int, probes: int) -> tuple[Run, list[Run]]:
    """One client contender in a fresh event loop: a warm-up, the big stream, then the stamped probes."""
    opener, loop, batches = CLIENTS[name]

    async def session() -> tuple[Run, list[Run]]:
        recorder = StreamRecorder(tokens, track=True)
        async with opener(recorder, batches) as open_stream:
            await _consume(open_stream, recorder, WARMUP_TOKENS, batches, stamped=False)
            gc.collect()
            main = await _consume(open_stream, recorder, tokens, batches, stamped=False)
            probe_runs = [await _consume(open_stream, recorder, PROBE_TOKENS, batches, stamped=True) for _ in range(probes)]
        return main, probe_runs

    gc.collect()
    return trio.run(session) if loop == "trio" else asyncio.run(session())


def _bare_consume(tokens: int, stamped: bool) -> Run:
    run = Run()
    body = SSEBody(tokens, PIECE_SIZE, track=True)
    perf = time.perf_counter
    decode = decode_chat_chunk
    chunks = chars = 0
    stamps: list[float] = []
    buffer = b""
    run.started = perf()
    for piece in body.iter_pieces():
        events = (buffer + piece).split(b"\n\n")
        buffer = events.pop()
        for event in events:
            data = event[6:]  # b"data: "
            if data == b"[DONE]":
                break
            chunk = decode(data)
            if stamped:
                stamps.append(perf())
            elif not chunks:
                run.first_at, run.first_cpu = perf(), time.thread_time()
            chunks += 1
            if chunk.choices:
                chars += len(chunk.choices[0].delta.content or "")
    run.ended = perf()
    if stamped:
        run.first_at = stamps[0]
    run.chunks, run.chars, run.body = chunks, chars, body
    run.stamps = stamps if stamped else None
    return run


def run_bare(tokens: int, probes: int) -> tuple[Run, list[Run]]:
    """Hand-split SSE + msgspec decode of the same pieces (no HTTP, no event loop)."""
    gc.collect()
    _bare_consume(WARMUP_TOKENS, stamped=False)
    main = _bare_consume(tokens, stamped=False)
    return main, [_bare_consume(PROBE_TOKENS, stamped=True) for _ in range(probes)]


# --------------------------------------------------------------------------- peak RSS (child processes)


def child_rss(name: str, tokens: int) -> dict[str, Any]:
    """In a fresh process: a warm-up stream, then one ``tokens`` stream with VmRSS sampled; growth in bytes."""
    opener, loop, _ = CLIENTS[name]

    async def session() -> dict[str, Any]:
        recorder = StreamRecorder(tokens)
        async with opener(recorder, False) as open_stream:
            await _consume(open_stream, recorder, WARMUP_TOKENS, False, stamped=False)
            gc.collect()
            rss_before, maxrss_before = rss_bytes(), maxrss_bytes()
            recorder.tokens = tokens
            sampled = rss_before
            chunks = 0
            stream, iterable, _ = await open_stream()
            async with stream:
                async for chunk in iterable:
                    chunks += 1
                    if chunk.choices:
                        chunk.choices[0].delta.content  # noqa: B018  (read it, as a caller would)
                    if chunks % RSS_SAMPLE_EVERY == 0:
                        sampled = max(sampled, rss_bytes())
            sampled = max(sampled, rss_bytes())
            maxrss_after = maxrss_bytes()
            gc.collect()
            rss_after = rss_bytes()
        # ru_maxrss is the process's peak: if the stream raised it, that is the stream's peak;
        # if not, the stream stayed below an earlier peak, and the samples are the best we know.
        peak = maxrss_after if maxrss_after > maxrss_before else sampled
        return {
            "chunks": chunks,
            "rss_before": rss_before,
            "peak_growth": max(0, peak - rss_before),
            "sampled_peak_growth": sampled - rss_before,
            "maxrss_growth": maxrss_after - maxrss_before,
            "end_growth": rss_after - rss_before,
        }

    return trio.run(session) if loop == "trio" else asyncio.run(session())


def run_rss(name: str, tokens: int) -> dict[str, Any]:
    """Run :func:`child_rss` for one contender in a fresh interpreter."""
    command = [sys.executable, __file__, "--rss-child", name, "--rss-tokens", str(tokens), "--json", ""]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"the RSS run of {name} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


# --------------------------------------------------------------------------- main


def _round(number: int, args: argparse.Namespace, latencies: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    expected = stream_chunk_count(args.tokens)
    record: dict[str, Any] = {"round": number}
    chars: dict[str, int] = {}
    for name in CONTENDERS:
        main_run, probe_runs = run_bare(args.tokens, args.probes) if name == "bare" else run_client(name, args.tokens, args.probes)
        if main_run.chunks != expected:
            raise AssertionError(f"{name} delivered {main_run.chunks} chunks, expected {expected}")
        if any(probe.chunks != stream_chunk_count(PROBE_TOKENS) for probe in probe_runs):
            raise AssertionError(f"{name} lost chunks in a probe stream")
        chars[name] = main_run.chars
        firsts = [probe.chunk_latencies_ms()[0] for probe in probe_runs]
        latencies[name]["first"].extend(firsts)
        latencies[name]["all"].extend(value for probe in probe_runs for value in probe.chunk_latencies_ms())
        record[name] = {
            "chunks": main_run.chunks,
            "seconds": main_run.ended - main_run.started,
            "chunks_per_s": main_run.rate,
            "big_stream_first_chunk_ms": main_run.first_chunk_ms,
            "big_stream_first_chunk_cpu_ms": main_run.first_chunk_cpu_ms,
            "probe_first_chunk_p50_ms": percentile(firsts, 50),
        }
    if len(set(chars.values())) != 1:
        raise AssertionError(f"the contenders saw different content: {chars}")
    record["ratios"] = {
        f"{ours}/{peer}": record[ours]["chunks_per_s"] / record[peer]["chunks_per_s"]
        for ours in ("ours/iter", "ours/batches")
        for peer in ("groq", "openai")
    }
    print(
        f"round {number}: "
        + ", ".join(f"{name} {record[name]['chunks_per_s']:,.0f}/s" for name in CONTENDERS)
        + f"; iter/groq {record['ratios']['ours/iter/groq']:.1f}x, batches/groq {record['ratios']['ours/batches/groq']:.1f}x",
        flush=True,
    )
    return record


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the stream suite; print its tables; write and return its results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=100_000, help="tokens in the throughput stream (a multiple of 100)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every contender")
    parser.add_argument("--probes", type=int, default=30, help="stamped 2,000-token streams per contender and round")
    parser.add_argument("--rss-tokens", type=int, default=100_000, help="tokens in the peak-RSS stream (0: skip)")
    parser.add_argument("--json", metavar="PATH", default=default_json("stream"), help="write the results here")
    parser.add_argument("--profile", choices=["iter", "batches"], help="profile one big stream of ours instead")
    parser.add_argument("--top", type=int, default=30, help="functions to list with --profile (cProfile)")
    parser.add_argument("--rss-child", choices=RSS_CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        print(json.dumps(child_rss(args.rss_child, args.rss_tokens)))
        return {}
    if args.tokens < 100 or args.tokens % 100 or args.rss_tokens % 100 or args.rounds < 1 or args.probes < 1:
        parser.error("--tokens and --rss-tokens must be multiples of 100 (--tokens at least 100); --rounds and --probes at least 1")
    if args.profile:
        profile_call(lambda: run_client(f"ours/{args.profile}", args.tokens, 0), args.top)
        return {}

    latencies: dict[str, dict[str, list[float]]] = {name: {"first": [], "all": []} for name in CONTENDERS}
    rounds = [_round(number, args, latencies) for number in range(1, args.rounds + 1)]
    rss = {name: run_rss(name, args.rss_tokens) for name in RSS_CONTENDERS} if args.rss_tokens else {}
    for name, measured in rss.items():
        if measured["chunks"] != stream_chunk_count(args.rss_tokens):
            raise AssertionError(f"{name} delivered {measured['chunks']} chunks in the RSS run")

    rates = {name: statistics.median(r[name]["chunks_per_s"] for r in rounds) for name in CONTENDERS}
    ratios = {key: statistics.median(r["ratios"][key] for r in rounds) for key in rounds[0]["ratios"]}
    chunk_latency = {
        name: {
            "chunks": len(values["all"]),
            "p50_ms": percentile(values["all"], 50),
            "p90_ms": percentile(values["all"], 90),
            "p99_ms": percentile(values["all"], 99),
            "max_ms": max(values["all"]),
            "first_p50_ms": percentile(values["first"], 50),
            "first_p99_ms": percentile(values["first"], 99),
        }
        for name, values in latencies.items()
    }
    expected = stream_chunk_count(args.tokens)
    print_table(
        f"Streaming {args.tokens:,} tokens ({expected:,} chunks, {PIECE_SIZE // 1024} KiB reads); "
        f"chunks/s is the median of {args.rounds} round(s); chunk latency over {args.probes} stamped "
        f"{PROBE_TOKENS:,}-token streams per round, ms; peak RSS growth over one {args.rss_tokens:,}-token stream, MB",
        ["contender", "chunks/s", "x groq", "x openai", "chunk p50", "chunk p99", "chunk max", "first p50",
         "first p99", "peak RSS", "RSS at end"],
        [
            [name, rates[name], rates[name] / rates["groq"], rates[name] / rates["openai"],
             chunk_latency[name]["p50_ms"], chunk_latency[name]["p99_ms"], chunk_latency[name]["max_ms"],
             chunk_latency[name]["first_p50_ms"], chunk_latency[name]["first_p99_ms"],
             rss[name]["peak_growth"] / MB if name in rss else math.nan,
             rss[name]["end_growth"] / MB if name in rss else math.nan]
            for name in CONTENDERS
        ],
    )  # fmt: skip
    if args.rounds > 1:
        print_table(
            "chunks/s per round",
            ["round", *CONTENDERS, "iter/groq", "batches/groq"],
            [[r["round"], *(r[name]["chunks_per_s"] for name in CONTENDERS), r["ratios"]["ours/iter/groq"],
              r["ratios"]["ours/batches/groq"]] for r in rounds],
        )  # fmt: skip

    first_ms = max(chunk_latency["ours/iter"]["first_p50_ms"], chunk_latency["ours/batches"]["first_p50_ms"])
    targets: dict[str, Any] = {
        "iter_at_least_15x_groq": {"value": ratios["ours/iter/groq"], "target": 15.0, "met": ratios["ours/iter/groq"] >= 15},
        "batches_at_least_15x_groq": {
            "value": ratios["ours/batches/groq"],
            "target": 15.0,
            "met": ratios["ours/batches/groq"] >= 15,
        },
        "first_chunk_below_1ms": {"value_ms": first_ms, "target_ms": 1.0, "met": first_ms < 1.0},
    }
    if rss:
        peak = rss["ours/iter"]["peak_growth"]
        targets["stream_rss_below_1mb"] = {"value_bytes": peak, "tokens": args.rss_tokens, "target_bytes": MB, "met": peak < MB}
    verdict = {True: "MET", False: "NOT MET"}
    print(
        f"\ntarget chunks/s >= 15x groq (median of per-round ratios): iter {ratios['ours/iter/groq']:.1f}x, "
        f"batches {ratios['ours/batches/groq']:.1f}x -> "
        f"{verdict[targets['iter_at_least_15x_groq']['met'] and targets['batches_at_least_15x_groq']['met']]}\n"
        f"target first chunk < 1 ms after its bytes: p50 {first_ms:.3f} ms -> {verdict[first_ms < 1.0]}"
    )
    if rss:
        print(
            f"target {args.rss_tokens:,}-token stream peak RSS growth < 1 MB: "
            f"{rss['ours/iter']['peak_growth'] / MB:.3f} MB -> {verdict[targets['stream_rss_below_1mb']['met']]}"
        )
    result = {
        "benchmark": "stream",
        "parameters": {
            "tokens": args.tokens,
            "chunks": expected,
            "piece_bytes": PIECE_SIZE,
            "rounds": args.rounds,
            "probes": args.probes,
            "probe_tokens": PROBE_TOKENS,
            "rss_tokens": args.rss_tokens,
        },
        "contenders": list(CONTENDERS),
        "rounds": rounds,
        "chunks_per_s": rates,
        "ratios": ratios,
        "chunk_latency": chunk_latency,
        "rss": rss,
        "targets": targets,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
