"""How much load one emulator process takes: non-streaming requests/s and 500 concurrent streams.

The emulator runs exactly as ``groq-orch emulate`` runs it (``python -m orchestrator.emulator``, hypercorn's
trio worker, instant latency, rate limits lifted) in its own process; load comes from separate processes:

- **httpx**: ``--load-procs`` processes, each an ``httpx.AsyncClient`` under trio with ``--connections``
  keep-alive connections and one task per connection posting non-streaming chat requests for
  ``--duration`` seconds (16 completion tokens each). httpx's pool scans its connections on every
  request, so a few connections per client go faster than many; more load comes from more processes.
- **raw**: the same, but each connection is a bare trio socket driven by ``h11`` (no pool, no
  ``httpx.Request``). This is the server's capacity with a client that costs little, so the number
  says what the server can do rather than what the load generator can.
- **streams**: one process opens ``--streams`` streaming requests at once (one connection each), waits until
  every stream has delivered its first token (a barrier: all of them are open together), asks the
  emulator's ``/_emulator/stats`` how many streams it is serving at that moment, then reads every stream to
  ``data: [DONE]``. Twice: against the instant server (which writes whole streams into the socket buffers
  at once, so it has usually finished generating by the barrier), and against a second server pacing
  tokens at ``--paced-tps`` (``--latency realistic``), which really holds every stream open together.

Besides throughput it reports the CPU each side spent per request (from ``/proc``), because this 2-core
machine is shared: the wall-clock rate moves with other people's load, CPU per request much less, and
``1000 / server_cpu_ms`` is the rate one free core would sustain.

Usage::

    python bench/emulator.py [--duration 8] [--load-procs 2] [--connections 8] [--streams 500]
                             [--stream-tokens 400] [--paced-tps 25] [--paced-tokens 100]
                             [--json bench/results/emulator.json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import ROOT, default_json, percentile, print_table, summarize, write_json

import h11  # noqa: E402  (after _common, which puts the repository on sys.path)
import httpx  # noqa: E402
import msgspec  # noqa: E402
import trio  # noqa: E402

MODEL = "openai/gpt-oss-20b"
KEY = "gsk_bench"
HUGE_LIMITS = f"{MODEL}=1000000000/1000000000/1000000000000/1000000000000"
REQUEST = msgspec.json.encode(
    {"model": MODEL, "messages": [{"role": "user", "content": "Say something short."}], "max_completion_tokens": 16}
)
SAMPLE_SIZE = 20_000  # latencies kept per worker (reservoir sample), so memory does not grow with the run


class Reservoir:
    """A uniform sample of at most ``size`` values from a stream of any length."""

    def __init__(self, size: int = SAMPLE_SIZE) -> None:
        self.size = size
        self.seen = 0
        self.values: list[float] = []
        self._rng = random.Random(0)

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < self.size:
            self.values.append(value)
        else:
            slot = self._rng.randrange(self.seen)
            if slot < self.size:
                self.values[slot] = value


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux ``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- workers (run in their own processes)


async def _wait_until(start_at: float) -> None:
    await trio.sleep(max(0.0, start_at - time.time()))


async def httpx_worker(url: str, connections: int, duration: float, start_at: float) -> dict[str, Any]:
    """Non-streaming load through one httpx.AsyncClient with ``connections`` connections."""
    latencies = Reservoir()
    counts = {"ok": 0, "errors": 0}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as client:
        await client.post(url, content=REQUEST)  # open one connection before the clock starts
        await _wait_until(start_at)
        end = time.perf_counter() + duration

        async def loop() -> None:
            while (now := time.perf_counter()) < end:
                response = await client.post(url, content=REQUEST)
                latencies.add(time.perf_counter() - now)
                counts["ok" if response.status_code == 200 else "errors"] += 1

        started = time.perf_counter()
        async with trio.open_nursery() as nursery:
            for _ in range(connections):
                nursery.start_soon(loop)
        elapsed = time.perf_counter() - started
    return {**counts, "elapsed": elapsed, "latencies": latencies.values}


async def raw_worker(url: str, connections: int, duration: float, start_at: float) -> dict[str, Any]:
    """Non-streaming load over bare keep-alive sockets parsed with h11 (a client that costs little)."""
    parsed = httpx.URL(url)
    latencies = Reservoir()
    counts = {"ok": 0, "errors": 0}
    request = h11.Request(
        method="POST",
        target=parsed.raw_path,
        headers=[
            ("host", f"{parsed.host}:{parsed.port}"),
            ("authorization", f"Bearer {KEY}"),
            ("content-type", "application/json"),
            ("content-length", str(len(REQUEST))),
        ],
    )
    streams = [await trio.open_tcp_stream(parsed.host, parsed.port) for _ in range(connections)]
    await _wait_until(start_at)
    end = time.perf_counter() + duration

    async def loop(stream: trio.SocketStream) -> None:
        connection = h11.Connection(h11.CLIENT)
        while (now := time.perf_counter()) < end:
            await stream.send_all(connection.send(request) + connection.send(h11.Data(data=REQUEST)) + connection.send(h11.EndOfMessage()))
            status = 0
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.EndOfMessage):
                    break
            latencies.add(time.perf_counter() - now)
            counts["ok" if status == 200 else "errors"] += 1
            connection.start_next_cycle()
        await stream.aclose()

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for stream in streams:
            nursery.start_soon(loop, stream)
    return {**counts, "elapsed": time.perf_counter() - started, "latencies": latencies.values}


async def streams_worker(url: str, streams: int, tokens: int) -> dict[str, Any]:
    """Open ``streams`` streams at once, hold them until all have a first token, then drain them."""
    body = msgspec.json.encode(
        {"model": MODEL, "messages": [{"role": "user", "content": "Tell me a long story."}], "stream": True,
         "max_completion_tokens": tokens}
    )
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}
    limits = httpx.Limits(max_connections=streams, max_keepalive_connections=streams)
    first_token: list[float] = []
    events = {"total": 0, "errors": 0, "complete": 0}
    all_open = trio.Event()
    stats_url = url.split("/openai/v1")[0] + "/_emulator/stats"
    started = time.perf_counter()

    async def one(client: httpx.AsyncClient) -> None:
        sent = time.perf_counter()
        try:
            async with client.stream("POST", url, content=body) as response:
                seen_first = False
                async for line in response.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    events["total"] += 1
                    if not seen_first and '"content":"' in line and '"role"' not in line:
                        seen_first = True
                        first_token.append(time.perf_counter() - sent)
                        if len(first_token) == streams:
                            all_open.set()
                        await all_open.wait()
                    if line == "data: [DONE]":
                        events["complete"] += 1
        except httpx.HTTPError:
            events["errors"] += 1

    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=120) as client, httpx.AsyncClient(timeout=120) as probe:
        await probe.get(stats_url)  # connect now: at the barrier this process is too busy to connect in time
        async with trio.open_nursery() as nursery:
            for _ in range(streams):
                nursery.start_soon(one, client)
            with trio.move_on_after(60):
                await all_open.wait()
            all_open_at = time.perf_counter() - started
            stats = (await probe.get(stats_url)).json()
            all_open.set()
        elapsed = time.perf_counter() - started
    return {
        **events,
        "streams": streams,
        "all_open_s": all_open_at,
        "server_streams_open_at_barrier": stats["streams_started"] - stats["streams_completed"] - stats["streams_disconnected"],
        "elapsed": elapsed,
        "first_token": first_token,
    }


def run_worker(args: argparse.Namespace) -> None:
    """Entry point of a load process: run one worker, print its result as one JSON line."""
    cpu_before = time.process_time()
    if args.worker == "httpx":
        result = trio.run(httpx_worker, args.url, args.connections, args.duration, args.start_at)
    elif args.worker == "raw":
        result = trio.run(raw_worker, args.url, args.connections, args.duration, args.start_at)
    else:
        result = trio.run(streams_worker, args.url, args.streams, args.stream_tokens)
    result["cpu_s"] = time.process_time() - cpu_before
    print(json.dumps(result))


# --------------------------------------------------------------------------- the conductor


def start_server(stream_tokens: int, *pacing: str) -> tuple[subprocess.Popen[str], str]:
    """Start ``python -m orchestrator.emulator`` (what ``groq-orch emulate`` runs) and return it with its base URL.

    Without ``pacing`` flags it runs the instant profile; with them (e.g. ``--latency realistic ...``) streams
    take time, so the server really holds them all open at once.
    """
    command = [
        sys.executable, "-m", "orchestrator.emulator", "--port", "0", "--latency", "instant",
        "--limits", HUGE_LIMITS, "--completion-tokens", f"{stream_tokens},{stream_tokens}", *pacing,
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True
    )
    line = server.stderr.readline() if server.stderr else ""
    if not line.startswith("Groq emulator listening on "):
        server.kill()
        raise SystemExit(f"the emulator did not start: {line!r}")
    return server, line.rsplit(" ", 1)[1].strip()


def spawn(kind: str, url: str, args: argparse.Namespace, start_at: float) -> subprocess.Popen[str]:
    command = [
        sys.executable, __file__, "--worker", kind, "--url", url, "--connections", str(args.connections),
        "--duration", str(args.duration), "--start-at", str(start_at), "--streams", str(args.streams),
        "--stream-tokens", str(args.stream_tokens),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result_of(worker: subprocess.Popen[str]) -> dict[str, Any]:
    """The JSON line a worker printed; its stderr if it printed none."""
    out, err = worker.communicate()
    if not out.strip():
        raise SystemExit(f"a load worker failed (exit {worker.returncode}):\n{err}")
    return json.loads(out)


def load_phase(kind: str, url: str, processes: int, args: argparse.Namespace, server_pid: int) -> dict[str, Any]:
    """Run ``processes`` load processes of ``kind`` together; aggregate their results with the server's CPU."""
    start_at = time.time() + args.start_delay  # every process is connected and waiting before the clock starts
    workers = [spawn(kind, url, args, start_at) for _ in range(processes)]
    time.sleep(max(0.0, start_at - time.time()))
    server_cpu = process_cpu_seconds(server_pid)
    results = [result_of(worker) for worker in workers]
    server_cpu = process_cpu_seconds(server_pid) - server_cpu
    ok = sum(r["ok"] for r in results)
    latencies = [value for r in results for value in r["latencies"]]
    return {
        "load": kind,
        "processes": processes,
        "connections": processes * args.connections,
        "requests": ok,
        "errors": sum(r["errors"] for r in results),
        "requests_per_s": sum(r["ok"] / r["elapsed"] for r in results),
        "latency": summarize(latencies) if latencies else {},
        "server_cpu_ms_per_request": 1e3 * server_cpu / ok if ok else float("nan"),
        "client_cpu_ms_per_request": 1e3 * sum(r["cpu_s"] for r in results) / ok if ok else float("nan"),
    }


def stream_phase(profile: str, url: str, args: argparse.Namespace, server_pid: int) -> dict[str, Any]:
    server_cpu = process_cpu_seconds(server_pid)
    result = result_of(spawn("streams", url, args, 0.0))
    result["profile"] = profile
    result["server_cpu_s"] = process_cpu_seconds(server_pid) - server_cpu
    first = result.pop("first_token")
    result["first_token_p50_ms"] = percentile(first, 50) * 1e3
    result["first_token_p99_ms"] = percentile(first, 99) * 1e3
    result["events_per_s"] = result["total"] / result["elapsed"]
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the emulator suite; print its tables; write and return its results."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8.0, help="seconds of load per phase (default 8)")
    parser.add_argument("--load-procs", type=int, default=2, help="httpx load processes (default 2)")
    parser.add_argument("--raw-procs", type=int, default=1, help="raw-socket load processes (default 1)")
    parser.add_argument("--connections", type=int, default=8, help="connections per load process (default 8)")
    parser.add_argument("--streams", type=int, default=500, help="concurrent streams (default 500)")
    parser.add_argument("--stream-tokens", type=int, default=400, help="tokens per stream (default 400)")
    parser.add_argument(
        "--paced-tps", type=float, default=25.0, help="generation speed of the paced stream run (default 25 tokens/s)"
    )
    parser.add_argument("--paced-tokens", type=int, default=100, help="tokens per paced stream (default 100)")
    parser.add_argument("--warmup", type=int, default=200, help="requests before the first phase (default 200)")
    parser.add_argument(
        "--start-delay", type=float, default=2.0, help="seconds the load processes get to connect before the clock starts"
    )
    parser.add_argument("--json", dest="json_path", default=default_json("emulator"), help="write the results here")
    parser.add_argument("--worker", choices=("httpx", "raw", "streams"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--start-at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_worker(args)
        return {}

    server, base_url = start_server(args.stream_tokens)
    url = base_url + "/chat/completions"
    try:
        with httpx.Client(headers={"authorization": f"Bearer {KEY}", "content-type": "application/json"}) as warm:
            for _ in range(args.warmup):
                warm.post(url, content=REQUEST).raise_for_status()
        phases = [
            load_phase("httpx", url, args.load_procs, args, server.pid),
            load_phase("raw", url, args.raw_procs, args, server.pid),
        ]
        streams = [stream_phase("instant", url, args, server.pid)]
    finally:
        server.terminate()
        server.wait(timeout=10)
    pacing = ("--latency", "realistic", "--tokens-per-second", str(args.paced_tps), "--tokens-per-chunk", "5")
    server, base_url = start_server(args.paced_tokens, *pacing)
    paced = argparse.Namespace(**{**vars(args), "stream_tokens": args.paced_tokens})
    try:
        streams.append(
            stream_phase(f"{args.paced_tps:g} tok/s, 5 per event", base_url + "/chat/completions", paced, server.pid)
        )
    finally:
        server.terminate()
        server.wait(timeout=10)

    print_table(
        f"Non-streaming chat completions, instant latency, {args.duration:g} s per row (emulator: 1 process, hypercorn/trio)",
        ["load", "procs", "conns", "requests", "errors", "req/s", "p50 ms", "p99 ms", "server CPU ms/req", "client CPU ms/req"],
        [
            [p["load"], p["processes"], p["connections"], p["requests"], p["errors"], p["requests_per_s"],
             p["latency"].get("p50_ms", float("nan")), p["latency"].get("p99_ms", float("nan")),
             p["server_cpu_ms_per_request"], p["client_cpu_ms_per_request"]]
            for p in phases
        ],
    )
    print_table(
        f"{args.streams} concurrent streams ({args.stream_tokens} tokens instant, {args.paced_tokens} paced), "
        "held open until every one has its first token",
        ["latency", "streams", "all open after s", "server open at barrier", "completed", "errors", "events",
         "events/s", "first token p50 ms", "first token p99 ms", "total s"],
        [[row["profile"], row["streams"], row["all_open_s"], row["server_streams_open_at_barrier"], row["complete"],
          row["errors"], row["total"], row["events_per_s"], row["first_token_p50_ms"], row["first_token_p99_ms"],
          row["elapsed"]] for row in streams],
    )
    best = max(p["requests_per_s"] for p in phases)
    capacity = min(1e3 / p["server_cpu_ms_per_request"] for p in phases)
    print(f"\nbest measured: {best:,.0f} req/s; server CPU per request implies about {capacity:,.0f} req/s per free core")
    parameters = {key: value for key, value in vars(args).items() if key not in ("worker", "url", "start_at", "json_path")}
    result = {
        "benchmark": "emulator",
        "parameters": parameters,
        "phases": phases,
        "streams": streams,
        "best_requests_per_s": best,
        "capacity_per_core_estimate": capacity,
        "targets": {},
    }
    write_json(args.json_path, result)
    return result


if __name__ == "__main__":
    main()
