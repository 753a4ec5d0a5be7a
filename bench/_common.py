"""Shared pieces of the benchmarks: canned Groq bodies, mock transports, percentiles, tables, JSON.

Every benchmark drives the clients through the same in-process ``httpx.MockTransport``, so the
only work measured is the client's own: building the request, the HTTP plumbing above the
socket, decoding, and (for ours) the scheduler, budget and worker hops. The bodies are
Groq-shaped: the non-stream body is the chat.completion captured in the Groq API reference
(``GROQ-API.md`` section 1.1, with a current model id), and the stream is made of chunks shaped
like the real capture in section 1.2 (role chunk with ``x_groq.id``, content chunks, a finish
chunk with ``x_groq.usage``, then ``data: [DONE]``).

The rate-limit headers carry Groq's real names and formats, but generous values: our client
*learns* ``x-ratelimit-limit-*`` from every response, and the free-tier numbers of a real
capture would make it throttle itself, which is correct behaviour but not what a CPU benchmark
measures.

A 100,000-token stream is about 23 MB of SSE. :class:`SSEBody` never holds it: it produces the
body lazily, 64 KiB at a time, from a 100-chunk block that repeats, so building a piece costs
a few microseconds and the memory benchmark sees no 23 MB object. It also stamps the moment
it yields its first piece, which is where "time to first chunk" starts.

Importing this module puts the repository root on ``sys.path`` (the project is not installed;
the scripts run as ``python bench/bench_x.py`` from the repository root or anywhere else).
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from actors._sse import DONE, encode_event  # noqa: E402

__all__ = [
    "API_KEY",
    "BASE_URL",
    "COMPLETION_BODY",
    "COMPLETION_HEADERS",
    "GENEROUS",
    "MESSAGES",
    "MODEL",
    "PIECE_SIZE",
    "ROOT",
    "SDK_BASE_URL",
    "STREAM_HEADERS",
    "SSEBody",
    "StreamRecorder",
    "completion_handler",
    "default_json",
    "environment",
    "iter_pieces",
    "percentile",
    "print_table",
    "profile_call",
    "machine_line",
    "maxrss_bytes",
    "rss_bytes",
    "stream_chunk_count",
    "stream_parts",
    "summarize",
    "write_json",
]

MODEL: Final = "openai/gpt-oss-20b"
#: Our client's base URL (the OpenAI-compatible prefix is part of it, as in Groq's docs).
BASE_URL: Final = "https://api.groq.com/openai/v1"
#: The groq SDK adds ``/openai/v1`` itself.
SDK_BASE_URL: Final = "https://api.groq.com"
API_KEY: Final = "gsk_bench_0123456789abcdefghijklmnopqrstuvwxyz"
MESSAGES: Final = [{"role": "user", "content": "Explain the importance of fast language models in one paragraph."}]
#: The piece size the transport yields stream bodies in (a typical socket read).
PIECE_SIZE: Final = 64 * 1024

_CONTENT: Final = (
    "Fast language models matter because latency shapes what people build: an answer that "
    "arrives in a fraction of a second can sit inside an interactive loop, a voice assistant or "
    "an agent that calls tools many times per task, while a slow one forces batching, caching "
    "and user interfaces built around waiting. Throughput lowers the cost per token, which makes "
    "retrieval-heavy prompts, long documents and many parallel drafts affordable."
)

#: GROQ-API.md 1.1 (console.groq.com API reference, create-chat example), current model id.
COMPLETION_BODY: Final = json.dumps(
    {
        "id": "chatcmpl-f51b2cd2-bef7-417e-964e-a08f0b513c22",
        "object": "chat.completion",
        "created": 1730241104,
        "model": MODEL,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": _CONTENT}, "logprobs": None, "finish_reason": "stop"}
        ],
        "usage": {
            "queue_time": 0.037493756,
            "prompt_tokens": 18,
            "prompt_time": 0.000680594,
            "completion_tokens": 556,
            "completion_time": 0.463333333,
            "total_tokens": 574,
            "total_time": 0.464013927,
        },
        "system_fingerprint": "fp_179b0f92c9",
        "x_groq": {"id": "req_01jbd6g2qdfw2adyrt2az8hz4w"},
    },
    separators=(",", ":"),
).encode()

#: Limits so high that neither the configured budget nor what it learns from headers ever waits.
GENEROUS: Final = {"rpm": 10**9, "rpd": 10**9, "tpm": 10**12, "tpd": 10**12}

_RATE_HEADERS: Final = [
    ("x-ratelimit-limit-requests", str(GENEROUS["rpd"])),
    ("x-ratelimit-limit-tokens", str(GENEROUS["tpm"])),
    ("x-ratelimit-remaining-requests", str(GENEROUS["rpd"] - 1)),
    ("x-ratelimit-remaining-tokens", str(GENEROUS["tpm"] - 574)),
    ("x-ratelimit-reset-requests", "86.4ms"),
    ("x-ratelimit-reset-tokens", "1.57ms"),
    ("x-request-id", "req_01hxnxvkfjf6ttkqzfpw23ng08"),
    ("x-groq-region", "us-west-1"),
    ("server", "cloudflare"),
    ("cache-control", "private, max-age=0, no-store, no-cache, must-revalidate"),
    ("vary", "Origin"),
    ("via", "1.1 google"),
    ("alt-svc", 'h3=":443"; ma=86400'),
    ("cf-ray", "8e9c1f2a3b4c5d6e-SJC"),
]
COMPLETION_HEADERS: Final = [("content-type", "application/json"), *_RATE_HEADERS]
STREAM_HEADERS: Final = [("content-type", "text/event-stream"), *_RATE_HEADERS]


def completion_handler(request: httpx.Request) -> httpx.Response:
    """The MockTransport handler for non-stream calls: the canned completion, nothing else."""
    return httpx.Response(200, headers=COMPLETION_HEADERS, content=COMPLETION_BODY)


# --------------------------------------------------------------------------- stream bodies

_CHUNK_ID: Final = "chatcmpl-814de58f-7a1c-4a86-b8b9-3b8bb8c2e01d"
_CHUNK_HEAD: Final = (
    '{"id":"' + _CHUNK_ID + '","object":"chat.completion.chunk","created":1711681319,"model":"' + MODEL + '",'
    '"system_fingerprint":"fp_1cc6d039b0","choices":[{"index":0,"delta":'
)
_TOKENS: Final = (
    " soft", " light", " falls", " on", " the", " quiet", " hills", ",", " and", " the",
    " river", " carries", " it", " down", " to", " the", " sea", ".", " Every", " morning",
    " the", " fisher", "men", " wake", " before", " dawn", " to", " mend", " their", " nets",
    " and", " watch", " the", " tide", " turn", ";", " they", " speak", " little", ",",
    " because", " the", " work", " speaks", " for", " them", ".", "\\n\\n", "In", " the",
    " after", "noon", " children", " run", " along", " the", " harbour", " wall", ",", " count",
    "ing", " boats", " and", " gulls", ",", " while", " old", " women", " sell", " bread",
    " that", " is", " still", " warm", " from", " the", " ovens", ".", " Nobody", " hurries",
    ";", " the", " town", " has", " kept", " the", " same", " pace", " for", " three",
    " hundred", " years", " and", " sees", " no", " reason", " to", " change", " now", ".",
)  # fmt: skip


def _chunk_line(delta: str, finish: str = "null", tail: str = "") -> bytes:
    return encode_event(f'{_CHUNK_HEAD}{delta},"logprobs":null,"finish_reason":{finish}}}]{tail}}}'.encode())


def stream_parts(tokens: int) -> tuple[bytes, bytes, int, bytes]:
    """``(head, unit, count, tail)``: the stream body is ``head + unit * count + tail``.

    ``head`` is the role chunk (``delta.role``, empty content, ``x_groq.id`` and ``seed``),
    ``unit`` is 100 content chunks of one token each, ``tail`` is the finish chunk with
    ``x_groq.usage`` and ``data: [DONE]``. ``tokens`` must be a multiple of 100.
    """
    if tokens % len(_TOKENS):
        raise ValueError(f"tokens must be a multiple of {len(_TOKENS)}, got {tokens!r}")
    head = _chunk_line(
        '{"role":"assistant","content":""}', tail=',"x_groq":{"id":"req_01ht42gbv3ev59x93kqrkbstnr","seed":1414499071}'
    )
    unit = b"".join(_chunk_line('{"content":"' + token + '"}') for token in _TOKENS)
    usage = (
        '"usage":{"queue_time":0.060529005,"prompt_tokens":12,"prompt_time":0.005,'
        f'"completion_tokens":{tokens},"completion_time":0.289,"total_tokens":{tokens + 12},"total_time":0.294}}'
    )
    tail = _chunk_line("{}", finish='"stop"', tail=',"x_groq":{"id":"req_01ht42gbv3ev59x93kqrkbstnr",' + usage + "}")
    return head, unit, tokens // len(_TOKENS), tail + DONE


def iter_pieces(tokens: int, piece_size: int = PIECE_SIZE) -> Iterator[bytes]:
    """The SSE body of a ``tokens``-token stream, in pieces of exactly ``piece_size`` bytes (the last shorter).

    Pieces split events anywhere, as network reads do. Memory stays at about one piece plus
    one 100-chunk unit, whatever ``tokens`` is.
    """
    head, unit, count, tail = stream_parts(tokens)
    buffer = bytearray(head)
    while True:
        while len(buffer) < piece_size and count:
            buffer += unit
            count -= 1
        if len(buffer) < piece_size:
            buffer += tail
            while buffer:
                yield bytes(buffer[:piece_size])
                del buffer[:piece_size]
            return
        yield bytes(buffer[:piece_size])
        del buffer[:piece_size]


def stream_chunk_count(tokens: int) -> int:
    """How many ``chat.completion.chunk`` events a ``tokens``-token body holds (role + content + finish)."""
    return tokens + 2


class SSEBody(httpx.AsyncByteStream):
    """A lazily generated stream body that remembers when it handed out its pieces.

    ``first_yield_at`` is ``time.perf_counter()`` and ``first_yield_cpu`` is
    ``time.thread_time()`` when the first piece is handed out (the event loop's thread: its
    CPU time excludes the moments another process had the core). With ``track``, it also
    keeps, per piece, the moment it was handed out (``yielded_at``) and how many SSE events
    are complete once it has been read (``events_through``), so a consumer that stamps every
    chunk can tell how long each chunk took from its last byte to the caller
    (:meth:`chunk_latencies`); that is one entry per 64 KiB, about 420 for 100,000 tokens.
    It awaits nothing, so it works the same under trio and asyncio.
    """

    def __init__(self, tokens: int, piece_size: int = PIECE_SIZE, *, track: bool = False) -> None:
        self.tokens = tokens
        self.piece_size = piece_size
        self.track = track
        self.first_yield_at: float | None = None
        self.first_yield_cpu: float | None = None
        self.pieces = 0
        self.yielded_at: list[float] = []
        self.events_through: list[int] = []

    def iter_pieces(self) -> Iterator[bytes]:
        """The body's pieces, stamped as they are handed out (a plain iterator, for consumers without HTTP)."""
        events = 0
        last = b""
        for piece in iter_pieces(self.tokens, self.piece_size):
            if self.track:
                # An event ends at a blank line; one split across two pieces is counted with the second.
                events += (last + piece).count(b"\n\n")
                last = piece[-1:]
                self.events_through.append(events)
                self.yielded_at.append(time.perf_counter())
            if self.first_yield_at is None:
                self.first_yield_cpu = time.thread_time()
                self.first_yield_at = time.perf_counter()
            self.pieces += 1
            yield piece

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self.iter_pieces():
            yield piece

    def chunk_latencies(self, stamps: Sequence[float]) -> list[float]:
        """Seconds from the piece completing chunk ``i`` being handed out to ``stamps[i]`` (the caller holding it)."""
        if not self.track:
            raise ValueError("chunk_latencies needs a body made with track=True")
        latencies = []
        piece = 0
        for index, stamp in enumerate(stamps):
            while self.events_through[piece] <= index:
                piece += 1
            latencies.append(stamp - self.yielded_at[piece])
        return latencies


class StreamRecorder:
    """A MockTransport handler serving ``tokens``-token streams; keeps the last body it served."""

    def __init__(self, tokens: int, piece_size: int = PIECE_SIZE, *, track: bool = False) -> None:
        self.tokens = tokens
        self.piece_size = piece_size
        self.track = track
        self.last: SSEBody | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.last = SSEBody(self.tokens, self.piece_size, track=self.track)
        return httpx.Response(200, headers=STREAM_HEADERS, stream=self.last)


# --------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summarize(seconds: Sequence[float]) -> dict[str, float]:
    """Per-call times in seconds -> ``{n, mean_ms, p50_ms, p90_ms, p99_ms, max_ms}``."""
    return {
        "n": len(seconds),
        "mean_ms": statistics.fmean(seconds) * 1e3,
        "p50_ms": percentile(seconds, 50) * 1e3,
        "p90_ms": percentile(seconds, 90) * 1e3,
        "p99_ms": percentile(seconds, 99) * 1e3,
        "max_ms": max(seconds) * 1e3,
    }


# --------------------------------------------------------------------------- memory


def rss_bytes() -> int:
    """The process's resident set size now (``VmRSS`` from ``/proc/self/status``)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS line in /proc/self/status; this benchmark needs Linux")


def maxrss_bytes() -> int:
    """The process's peak resident set size so far (``ru_maxrss``, KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# --------------------------------------------------------------------------- output


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a plain fixed-width table (numbers right-aligned, text left-aligned)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            if math.isnan(value):
                return "-"
            return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    text = [[cell(value) for value in row] for row in rows]
    widths = [max(len(header[i]), *(len(row[i]) for row in text)) for i in range(len(header))]
    numeric = [all(isinstance(row[i], (int, float)) for row in rows) for i in range(len(header))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))

    print(f"\n{title}")
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in text:
        print(line(row))


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo`` (``platform.processor()`` is often empty on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """One line for a results table: CPU, cores, OS, Python and the load average when it was read."""
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, load average {load}"
    )


def environment() -> dict[str, Any]:
    """What the numbers were measured on (versions, CPU, load)."""
    versions = {}
    for package in ("trio", "httpx", "msgspec", "groq", "openai", "pydantic", "tricycle"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "versions": versions,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def default_json(suite: str) -> str:
    """Where a suite writes its JSON unless told otherwise: ``bench/results/<suite>.json``."""
    return str(ROOT / "bench" / "results" / f"{suite}.json")


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by ``None``: JSON has no spelling for them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def write_json(path: str | None, payload: dict[str, Any]) -> None:
    """Write the results (with :func:`environment`) to ``path`` (its folder is made); ``""`` writes nothing."""
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    document = _finite({"environment": environment(), **payload})
    Path(path).write_text(json.dumps(document, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    print(f"\nwrote {path}")


def profile_call(function: Callable[[], Any], top: int = 30) -> None:
    """Profile one call of ``function``: pyinstrument's call tree if installed, else cProfile's top functions."""
    try:
        import pyinstrument
    except ImportError:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        function()
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top)
        return
    sampler = pyinstrument.Profiler(interval=0.0002)
    sampler.start()
    function()
    sampler.stop()
    print(sampler.output_text(unicode=False, color=False))
