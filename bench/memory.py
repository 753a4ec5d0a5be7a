"""Memory: a 100,000-token stream, and 10,000 queued jobs, each measured in a clean subprocess.

Every scenario runs in its own Python process (this script re-runs itself with ``--child``),
so one scenario's arenas and caches never show up in another's numbers. RSS is ``VmRSS``
from ``/proc/self/status``; the peak is ``ru_maxrss``; both are read after ``gc.collect()``.

Scenarios:

- **stream-ours**: ``orchestrator`` under trio consumes a 1,000-token warm-up stream, then a
  100,000-token stream (about 27 MB of SSE, produced lazily by the transport in 64 KiB pieces,
  never held whole), then a second one. VmRSS is sampled every 5,000 chunks as well, so a
  transient buffer shows even if it is freed before the end.
- **stream-sdk**: the same with ``groq.AsyncGroq`` under asyncio, for comparison.
- **stream-body**: only the transport's body generator, iterated to the end: what the canned
  body itself costs (should be ~0: it is lazy).
- **queue-rss**: a client whose model allows 1 request per minute (``rpm=1``) and
  ``queue_size=10000``; one warm-up call spends the minute's request, then 10,000 chat jobs
  (each a distinct ~160-byte body) are submitted and their handles kept; they all stay queued.
  Cost per job = RSS delta / 10,000, minus the mean encoded body length.
- **queue-tracemalloc**: the same with ``tracemalloc`` on (in its own process, since tracing
  inflates RSS): bytes still allocated per job, and the source lines that hold them.

Targets (issue 5, "Performance"): the stream grows RSS by < 1 MB; a queued job costs < 2 KB
beyond its request body.

Usage::

    python bench/memory.py [--tokens 100000] [--jobs 10000] [--json bench/results/memory.json]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from typing import Any

from _common import (
    API_KEY,
    BASE_URL,
    GENEROUS,
    MODEL,
    ROOT,
    SDK_BASE_URL,
    StreamRecorder,
    completion_handler,
    default_json,
    iter_pieces,
    maxrss_bytes,
    print_table,
    rss_bytes,
    stream_chunk_count,
    write_json,
)

import groq  # noqa: E402  (after _common, which puts the repository on sys.path)
import httpx  # noqa: E402
import trio  # noqa: E402

import orchestrator  # noqa: E402
from orchestrator._wire import chat_request_from, encode  # noqa: E402

SAMPLE_EVERY = 5_000
WARMUP_TOKENS = 1_000
MB = 1024 * 1024


def _measure() -> tuple[int, int]:
    gc.collect()
    return rss_bytes(), maxrss_bytes()


def _stream_result(samples: list[tuple[str, int, int]], chunk_counts: list[int], peak_sampled: list[int]) -> dict[str, Any]:
    """Turn the (label, rss, maxrss) readings of a stream child into deltas."""
    readings = {label: (rss, peak) for label, rss, peak in samples}
    base_rss, base_peak = readings["after warm-up"]
    first_rss, first_peak = readings["after stream 1"]
    second_rss, second_peak = readings["after stream 2"]
    return {
        "rss_after_warmup": base_rss,
        "rss_delta_stream_1": first_rss - base_rss,
        "rss_delta_stream_2": second_rss - first_rss,
        "sampled_peak_over_warmup_stream_1": peak_sampled[0] - base_rss,
        "sampled_peak_over_warmup_stream_2": peak_sampled[1] - base_rss,
        "maxrss_delta_stream_1": first_peak - base_peak,
        "maxrss_delta_stream_2": second_peak - first_peak,
        "chunks": chunk_counts,
    }


# --------------------------------------------------------------------------- stream children


def child_stream_ours(tokens: int) -> dict[str, Any]:
    """Our client consumes a warm-up stream and two big ones; RSS around each."""

    async def consume(client: orchestrator.Client, recorder: StreamRecorder, size: int) -> tuple[int, int]:
        recorder.tokens = size
        chunks = 0
        peak = 0
        stream = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
        assert isinstance(stream, orchestrator.ChatStream)
        async with stream:
            async for chunk in stream:
                chunks += 1
                if chunk.choices:
                    chunk.choices[0].delta.content  # noqa: B018  (read it, as a caller would)
                if chunks % SAMPLE_EVERY == 0:
                    peak = max(peak, rss_bytes())
        return chunks, max(peak, rss_bytes())  # a stream shorter than SAMPLE_EVERY is sampled at its end

    async def main() -> dict[str, Any]:
        recorder = StreamRecorder(tokens)
        samples: list[tuple[str, int, int]] = []
        counts: list[int] = []
        peaks: list[int] = []
        limits = {MODEL: orchestrator.ModelLimits(**GENEROUS)}
        async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
            async with orchestrator.open_client(api_key=API_KEY, base_url=BASE_URL, http_client=http, limits=limits,
                                                refresh_catalog=False) as client:
                await consume(client, recorder, WARMUP_TOKENS)
                samples.append(("after warm-up", *_measure()))
                for number in (1, 2):
                    chunks, peak = await consume(client, recorder, tokens)
                    counts.append(chunks)
                    peaks.append(peak)
                    samples.append((f"after stream {number}", *_measure()))
        return _stream_result(samples, counts, peaks)

    return trio.run(main)


def child_stream_sdk(tokens: int) -> dict[str, Any]:
    """``groq.AsyncGroq`` consumes a warm-up stream and two big ones; RSS around each."""

    async def consume(client: groq.AsyncGroq, recorder: StreamRecorder, size: int) -> tuple[int, int]:
        recorder.tokens = size
        chunks = 0
        peak = 0
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True
        )
        async with stream:
            async for chunk in stream:
                chunks += 1
                if chunk.choices:
                    chunk.choices[0].delta.content  # noqa: B018
                if chunks % SAMPLE_EVERY == 0:
                    peak = max(peak, rss_bytes())
        return chunks, max(peak, rss_bytes())

    async def main() -> dict[str, Any]:
        recorder = StreamRecorder(tokens)
        samples: list[tuple[str, int, int]] = []
        counts: list[int] = []
        peaks: list[int] = []
        async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as http:
            client = groq.AsyncGroq(api_key=API_KEY, base_url=SDK_BASE_URL, http_client=http)
            await consume(client, recorder, WARMUP_TOKENS)
            samples.append(("after warm-up", *_measure()))
            for number in (1, 2):
                chunks, peak = await consume(client, recorder, tokens)
                counts.append(chunks)
                peaks.append(peak)
                samples.append((f"after stream {number}", *_measure()))
        return _stream_result(samples, counts, peaks)

    return asyncio.run(main())


def child_stream_body(tokens: int) -> dict[str, Any]:
    """Only the lazy body generator, iterated twice: what the canned body costs by itself."""
    samples: list[tuple[str, int, int]] = []
    counts: list[int] = []
    peaks: list[int] = []
    for _ in iter_pieces(WARMUP_TOKENS):
        pass
    samples.append(("after warm-up", *_measure()))
    for number in (1, 2):
        size = peak = 0
        for index, piece in enumerate(iter_pieces(tokens)):
            size += len(piece)
            if index % 20 == 0:
                peak = max(peak, rss_bytes())
        counts.append(size)
        peaks.append(peak)
        samples.append((f"after stream {number}", *_measure()))
    return {**_stream_result(samples, counts, peaks), "body_bytes": counts[0]}


# --------------------------------------------------------------------------- queue children


def _job_request(index: int) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": f"Question {index:05d}: summarise the plot of a novel in two lines."}],
        "max_completion_tokens": 64,
    }


def _body_bytes(jobs: int) -> int:
    return sum(len(encode(chat_request_from(_job_request(index)))) for index in range(jobs))


def child_queue(jobs: int, trace: bool) -> dict[str, Any]:
    """Submit ``jobs`` chat jobs to a client whose budget allows one request a minute."""

    async def main() -> dict[str, Any]:
        limits = {MODEL: orchestrator.ModelLimits(rpm=1, rpd=GENEROUS["rpd"], tpm=GENEROUS["tpm"], tpd=GENEROUS["tpd"])}
        async with httpx.AsyncClient(transport=httpx.MockTransport(completion_handler)) as http:
            async with orchestrator.open_client(
                api_key=API_KEY, base_url=BASE_URL, http_client=http, limits=limits, queue_size=jobs, refresh_catalog=False
            ) as client:
                warm = await client.submit(_job_request(-1))
                await warm.result()  # spends the one request this minute allows
                for _ in range(3):
                    await trio.lowlevel.checkpoint()
                handles: list[orchestrator.JobHandle] = []
                if trace:
                    tracemalloc.start(1)
                rss_before, _ = _measure()
                before = tracemalloc.take_snapshot() if trace else None
                started = time.perf_counter()
                for index in range(jobs):
                    handles.append(await client.submit(_job_request(index)))
                submit_seconds = time.perf_counter() - started
                await trio.sleep(0.05)  # let the lane take a look: it must go back to waiting for budget
                stats = client.statistics()
                rss_after, _ = _measure()
                after = tracemalloc.take_snapshot() if trace else None
                if trace:
                    tracemalloc.stop()
                if stats.queued + stats.waiting_for_budget < jobs or any(handle.done for handle in handles):
                    raise AssertionError(f"the jobs did not stay queued: {stats}")
                result: dict[str, Any] = {
                    "jobs": jobs,
                    "queued": stats.queued,
                    "submit_seconds": submit_seconds,
                    "rss_delta": rss_after - rss_before,
                }
                if before is not None and after is not None:
                    differences = after.compare_to(before, "lineno")
                    result["traced_delta"] = sum(stat.size_diff for stat in differences)
                    result["top_lines"] = [
                        {"where": str(stat.traceback), "bytes": stat.size_diff, "count": stat.count_diff}
                        for stat in differences[:12]
                    ]
                closing = time.perf_counter()
        result["close_seconds"] = time.perf_counter() - closing
        return result

    result = trio.run(main)
    result["body_bytes"] = _body_bytes(jobs)
    return result


# --------------------------------------------------------------------------- parent

CHILDREN = ("stream-ours", "stream-sdk", "stream-body", "queue-rss", "queue-tracemalloc")


def run_child(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one scenario in a fresh interpreter and return its JSON result."""
    command = [sys.executable, __file__, "--child", name, "--tokens", str(args.tokens), "--jobs", str(args.jobs)]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"scenario {name} failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def child_main(name: str, tokens: int, jobs: int) -> None:
    if name == "stream-ours":
        result = child_stream_ours(tokens)
    elif name == "stream-sdk":
        result = child_stream_sdk(tokens)
    elif name == "stream-body":
        result = child_stream_body(tokens)
    elif name == "queue-rss":
        result = child_queue(jobs, trace=False)
    else:
        result = child_queue(jobs, trace=True)
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the memory suite; print its tables; write and return its results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=100_000, help="tokens in each big stream")
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs to queue")
    parser.add_argument("--json", metavar="PATH", default=default_json("memory"), help="write the results here")
    parser.add_argument("--child", choices=CHILDREN, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args.child, args.tokens, args.jobs)
        return {}

    results = {}
    for name in CHILDREN:
        results[name] = run_child(name, args)
        print(f"{name}: done", flush=True)

    expected = stream_chunk_count(args.tokens)
    for name in ("stream-ours", "stream-sdk"):
        if results[name]["chunks"] != [expected, expected]:
            raise AssertionError(f"{name} delivered {results[name]['chunks']} chunks, expected {expected} twice")
    print_table(
        f"RSS growth consuming a {args.tokens:,}-token stream (MB; after a {WARMUP_TOKENS:,}-token warm-up stream)",
        ["scenario", "stream 1 delta", "stream 2 delta", "sampled peak 1", "sampled peak 2", "maxrss delta 1", "rss after warm-up"],
        [
            [
                name,
                results[name]["rss_delta_stream_1"] / MB,
                results[name]["rss_delta_stream_2"] / MB,
                results[name]["sampled_peak_over_warmup_stream_1"] / MB,
                results[name]["sampled_peak_over_warmup_stream_2"] / MB,
                results[name]["maxrss_delta_stream_1"] / MB,
                results[name]["rss_after_warmup"] / MB,
            ]
            for name in ("stream-ours", "stream-sdk", "stream-body")
        ],
    )
    queue_rss, queue_traced = results["queue-rss"], results["queue-tracemalloc"]
    body_mean = queue_rss["body_bytes"] / args.jobs
    per_job_rss = queue_rss["rss_delta"] / args.jobs
    per_job_traced = queue_traced["traced_delta"] / args.jobs
    print_table(
        f"{args.jobs:,} queued jobs (bytes per job)",
        ["measure", "per job", "mean body", "per job beyond body"],
        [
            ["RSS delta", per_job_rss, body_mean, per_job_rss - body_mean],
            ["tracemalloc", per_job_traced, body_mean, per_job_traced - body_mean],
        ],
    )
    print("\ntracemalloc: where the queued jobs' memory lives (bytes per job)")
    for line in queue_traced["top_lines"]:
        where = line["where"].replace(f"{ROOT}/", "")
        print(f"  {line['bytes'] / args.jobs:8.1f}  {line['count'] / args.jobs:5.2f} blocks  {where}")
    print(f"\nsubmitting {args.jobs:,} jobs took {queue_rss['submit_seconds']:.3f} s; closing the client with them queued "
          f"{queue_rss['close_seconds']:.3f} s")

    stream_delta = results["stream-ours"]["rss_delta_stream_1"]
    stream_peak = results["stream-ours"]["sampled_peak_over_warmup_stream_1"]
    second = results["stream-ours"]["rss_delta_stream_2"]
    beyond = max(per_job_rss, per_job_traced) - body_mean
    targets = {
        "stream_rss_below_1mb": {
            "value_bytes": stream_delta,
            "sampled_peak_bytes": stream_peak,
            "second_stream_bytes": second,
            "target_bytes": MB,
            "met": stream_delta < MB,
        },
        "queued_job_below_2kb": {
            "rss_beyond_body": per_job_rss - body_mean,
            "traced_beyond_body": per_job_traced - body_mean,
            "target_bytes": 2048,
            "met": beyond < 2048,
        },
    }
    print(
        f"\ntarget stream grows RSS < 1 MB: {stream_delta / MB:.3f} MB (sampled peak {stream_peak / MB:.3f} MB; "
        f"a second stream adds {second / MB:.3f} MB) "
        f"-> {'MET' if stream_delta < MB else 'NOT MET'}\n"
        f"target queued job < 2 KB beyond its body: RSS {per_job_rss - body_mean:.0f} B, tracemalloc "
        f"{per_job_traced - body_mean:.0f} B -> {'MET' if beyond < 2048 else 'NOT MET'}"
    )
    result = {
        "benchmark": "memory",
        "parameters": {"tokens": args.tokens, "jobs": args.jobs, "warmup_tokens": WARMUP_TOKENS},
        "scenarios": results,
        "per_job": {"rss": per_job_rss, "traced": per_job_traced, "body_mean": body_mean},
        "targets": targets,
    }
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
