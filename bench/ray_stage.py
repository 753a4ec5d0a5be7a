"""Ray Data against Groq's free-tier limits: our stage vs Ray Data's own HTTP processor vs the groq SDK.

Why: on a Ray cluster every actor of a pool talks to Groq with the same key, so the account's limits
(30 requests and 8,000 tokens a minute for ``openai/gpt-oss-20b`` on the free plan, `orchestrator._tiers`)
are shared by all of them. A stage that does not know about its siblings either paces itself to a guessed
share or meets 429s. This measures how much of the account each approach gets, and what it costs.

Setup: a local cluster (``ray.init(num_cpus=2)``) and one emulator process on loopback per contender,
``groq-orch emulate --time-scale 60 --latency realistic --completion-tokens 200,200``: free-tier limits
on a clock 60 times real time (an emulated minute passes in a real second), and every job writes its
whole 200-token completion budget, so every job costs the same. Each contender gets a fresh emulator
and a fresh key (``gsk_bench_<uuid>``), so the limits start full. Every contender runs ``--actors``
actors (0.25 CPU each: a whole CPU per actor would leave none for the read task on two CPUs) and
answers ``--batch-size`` rows per call.

Contenders:

- **ours**: `orchestrator.ray.groq_chat` (one client per actor, one budget for all of them, held by a
  Ray actor), told the emulator's ``time_scale``.
- **ray-http**: Ray Data's ``HttpRequestProcessorConfig`` + ``build_processor`` (needs ``aiohttp``,
  which ``ray[llm]`` brings; skipped without it), configured as its docs show for an OpenAI-compatible
  endpoint: ``url=.../openai/v1/chat/completions``, an ``Authorization: Bearer`` header, a preprocess
  making the ``payload`` column, and ``qps`` set to the account's RPM split over the actors:
  30 RPM x 60 / 60 s = 30 requests a second, 30 / ACTORS per actor, rounded down because the field is
  an int (7 for 4 actors). ``concurrency=(ACTORS, ACTORS)``: the docs say an int ``n`` is a fixed pool
  of ``n``, but Ray 2.60 makes it an autoscaling pool of 1 to ``n``. ``max_retries=2`` (the groq SDK's
  default; the processor's own is 0) and ``base_retry_wait_time_in_s`` its default 1 s divided by the
  time scale, so that its backoff lasts what it would against Groq. Its preprocess and postprocess maps
  get 0.25 CPU too: with the default whole CPU, the one CPU the actors leave runs the preprocess on one
  of ``from_items``' 200 small blocks at a time, and that, not the stage, sets the pace. Two properties of the stage show
  in the numbers: ``qps`` paces the *creation* of a batch's requests, not their sending (aiohttp starts
  a request only when it is awaited, and the stage awaits them one after another once the whole batch
  is created), so each actor waits ``batch_size / qps`` seconds and then sends its batch back to back;
  and a row whose retries run out raises, which fails the whole dataset (``HttpRequestProcessorConfig``
  has no ``should_continue_on_error``).
- **groq-sdk**: ``map_batches`` over an async callable class holding one ``groq.AsyncGroq`` client
  (defaults: ``max_retries=2``), a batch's rows sent at once with ``asyncio.gather``: what a user
  writes without either. The SDK has no clock to scale: it honours ``retry-after``, which the emulator
  scales but rounds up to whole seconds, so each of its waits is at least an emulated minute.

Reported per contender, from the wall time ``T`` (seconds, from building the pipeline to the last row
in the driver; it includes starting the actors):

- **first request**: seconds from the start until the emulator saw the contender's first request
  (starting Ray actors; at time scale 60 each second of it is an emulated minute without requests);
- **TPM used** = ``tokens / (T * TIME_SCALE / 60) / 8000``, where ``tokens`` is the sum of
  ``prompt_tokens + completion_tokens`` over the rows answered with a 200, and ``T * TIME_SCALE / 60``
  the emulated minutes (at time scale 60, ``T`` itself); **once running**, the same over
  ``T - first request``, which leaves out the actors' start;
- **requests** and **429s**: the emulator's own counters (``GET /_emulator/stats``) over the run, the
  benchmark's readiness probe and stats requests taken out; the 429 share is ``429s / requests``;
- **failed rows**: rows without a successful answer, including rows a failed run never returned.

The requests limit binds first here: 30 requests of about 213 tokens a minute are about 6,400 tokens,
80 % of the TPM limit, so no contender can use much more than that once running (a little more over a
short run: the buckets start full). The requests-per-day (1,000) and tokens-per-day (200,000) limits
refill by only about 1/1,440 of themselves per real second: keep ``--rows`` under about 900.

Usage::

    python bench/ray_stage.py [--rows 600] [--quick] [--actors 4] [--batch-size 32] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import importlib
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import IO, Any, Final

from _common import MODEL, ROOT, write_json

from orchestrator._tiers import TIERS

TIME_SCALE: Final = 60.0
COMPLETION_TOKENS: Final = 200
LIMITS: Final = TIERS["free"].models[MODEL]
#: Ray CPUs per actor, for every contender (as `orchestrator.ray.ACTOR_CPUS`).
ACTOR_CPUS: Final = 0.25
STATS_PATH: Final = "/_emulator/stats"
PR_SET_PDEATHSIG: Final = 1  # <linux/prctl.h>


@dataclass
class Result:
    """One contender's run: what came back to the driver and what the emulator saw."""

    contender: str
    wall_s: float | None = None
    first_request_s: float | None = None
    rows: int = 0
    failed_rows: int = 0
    tokens: int = 0
    requests: int = 0
    rate_limited: int = 0
    tpm_share: float | None = None
    tpm_share_running: float | None = None
    note: str = ""


def make_rows(count: int) -> list[dict[str, Any]]:
    """``count`` rows, each a ``body`` column holding a chat body with a short prompt."""
    return [
        {"body": {"model": MODEL, "messages": [{"role": "user", "content": f"Write a short note about item {number}."}],
                  "max_completion_tokens": COMPLETION_TOKENS}}
        for number in range(count)
    ]


# --- the emulator --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get_json(url: str, key: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
        return json.load(response)


def _wait_ready(process: subprocess.Popen[bytes], root: str, log: IO[bytes], deadline: float = 30.0) -> None:
    """Return once the emulator answers ``GET /openai/v1/models``."""
    start = time.monotonic()
    while time.monotonic() - start < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"the emulator exited with status {process.returncode}:\n{log.read().decode()}")
        try:
            _get_json(root + "/openai/v1/models", key="gsk_bench_probe")
            return
        except OSError:  # not listening yet (URLError is an OSError)
            time.sleep(0.1)
    raise RuntimeError(f"the emulator did not answer within {deadline:.0f} s")


def _die_with_parent() -> Callable[[], None] | None:
    """What the emulator's process runs before it starts, on Linux: have the kernel send it SIGTERM if the
    benchmark dies first (a Ray fatal error ends the driver without running its ``finally`` blocks). The
    function is looked up here, in the parent: the child of a threaded process must not load anything."""
    if sys.platform != "linux":
        return None
    prctl = ctypes.CDLL(None).prctl
    return lambda: prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    """A fresh emulator process (``python -m orchestrator.emulator``, the same as ``groq-orch emulate``) with
    time-scaled free-tier limits; yields its root URL."""
    port = _free_port()
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator.emulator", "--port", str(port), "--time-scale", str(TIME_SCALE),
             "--latency", "realistic", "--completion-tokens", f"{COMPLETION_TOKENS},{COMPLETION_TOKENS}"],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
            preexec_fn=_die_with_parent(),
        )
        try:
            root = f"http://127.0.0.1:{port}"
            _wait_ready(process, root, log)
            yield root
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# --- the contenders: each returns (ok, tokens) per row it got back --------------------------------------------


def run_ours(ray: Any, rows: list[dict[str, Any]], root: str, key: str, actors: int,
             batch_size: int) -> list[tuple[bool, int]]:
    from orchestrator.ray import groq_chat

    answered = groq_chat(ray.data.from_items(rows), column="body", concurrency=actors, batch_size=batch_size,
                         api_key=key, base_url=root + "/openai/v1", time_scale=TIME_SCALE)
    return [(bool(row["ok"]), int(row["prompt_tokens"]) + int(row["completion_tokens"]))
            for row in answered.select_columns(["ok", "prompt_tokens", "completion_tokens"]).take_all()]


def _http_outcome(row: dict[str, Any]) -> dict[str, Any]:
    """The HTTP processor's postprocess: a row is answered when its response is a chat completion."""
    response = row["http_response"] or {}
    usage = response.get("usage") or {}
    ok = "choices" in response and "error" not in response
    return {"ok": ok, "tokens": usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0) if ok else 0}


def run_ray_http(ray: Any, rows: list[dict[str, Any]], root: str, key: str, actors: int,
                 batch_size: int) -> list[tuple[bool, int]]:
    from ray.data.llm import HttpRequestProcessorConfig, build_processor

    config = HttpRequestProcessorConfig(
        url=root + "/openai/v1/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        qps=int(LIMITS.rpm * TIME_SCALE / 60 / actors),
        concurrency=(actors, actors),
        batch_size=batch_size,
        max_retries=2,
        base_retry_wait_time_in_s=1.0 / TIME_SCALE,
        http_request_stage={"num_cpus": ACTOR_CPUS},
    )
    processor = build_processor(config, preprocess=lambda row: {"payload": row["body"]}, postprocess=_http_outcome,
                                preprocess_map_kwargs={"num_cpus": ACTOR_CPUS},
                                postprocess_map_kwargs={"num_cpus": ACTOR_CPUS})
    return [(bool(row["ok"]), int(row["tokens"])) for row in processor(ray.data.from_items(rows)).take_all()]


class GroqSDKChat:
    """A ``map_batches`` callable: one ``AsyncGroq`` client per actor, a batch's rows all at once."""

    def __init__(self, base_url: str, api_key: str) -> None:
        from groq import AsyncGroq

        self._client = AsyncGroq(api_key=api_key, base_url=base_url)

    async def __call__(self, batch: Any) -> dict[str, list[Any]]:
        outcomes = await asyncio.gather(*(self._answer(body) for body in batch.column("body").to_pylist()))
        return {"ok": [ok for ok, _ in outcomes], "tokens": [tokens for _, tokens in outcomes]}

    async def _answer(self, body: dict[str, Any]) -> tuple[bool, int]:
        import groq

        try:
            completion = await self._client.chat.completions.create(**body)
        except groq.APIError:
            return False, 0
        return True, completion.usage.prompt_tokens + completion.usage.completion_tokens


def run_groq_sdk(ray: Any, rows: list[dict[str, Any]], root: str, key: str, actors: int,
                 batch_size: int) -> list[tuple[bool, int]]:
    answered = ray.data.from_items(rows).map_batches(
        GroqSDKChat, fn_constructor_kwargs={"base_url": root, "api_key": key}, batch_size=batch_size,
        batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=actors), num_cpus=ACTOR_CPUS,
    )
    return [(bool(row["ok"]), int(row["tokens"])) for row in answered.take_all()]


def _http_processor_missing() -> str | None:
    """Why Ray Data's HTTP processor cannot run here, or None."""
    try:
        importlib.import_module("ray.data.llm")
    except ImportError as error:
        return f"skipped: ray.data.llm does not import ({error})"
    return None


Runner = Callable[[Any, list[dict[str, Any]], str, str, int, int], list[tuple[bool, int]]]
CONTENDERS: Final[dict[str, Runner]] = {"ours": run_ours, "ray-http": run_ray_http, "groq-sdk": run_groq_sdk}


# --- measuring ------------------------------------------------------------------------------------------------


def _failure(error: BaseException) -> str:
    """What made a run fail, in one line: the UDF's own error, which Ray passes on only as text."""
    text = str(error)
    found = re.search(r"^(\w+Error: .*)$", text, re.MULTILINE)
    return (found.group(1) if found else f"{type(error).__name__}: {text}".splitlines()[0])[:120]


class FirstRequest:
    """Polls the emulator's counters from a thread until the contender's first request has arrived.

    Each poll is a request too: ``polls`` says how many to take out of the emulator's count.
    """

    def __init__(self, root: str, before: int) -> None:
        self.polls = 0
        self.after_s: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(root, before, time.perf_counter()), daemon=True)
        self._thread.start()

    def _watch(self, root: str, before: int, started: float) -> None:
        while not self._stop.is_set():
            self.polls += 1
            try:
                seen = _get_json(root + STATS_PATH)["requests"] - before - self.polls
            except OSError:
                return
            if seen > 0:
                self.after_s = time.perf_counter() - started
                return
            self._stop.wait(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def measure(ray: Any, name: str, rows: list[dict[str, Any]], actors: int, batch_size: int) -> Result:
    """Run one contender against a fresh emulator with a fresh key."""
    result = Result(name, rows=len(rows))
    with emulator() as root:
        before = _get_json(root + STATS_PATH)
        started = time.perf_counter()
        watch = FirstRequest(root, before["requests"])
        try:
            outcomes = CONTENDERS[name](ray, rows, root, f"gsk_bench_{uuid.uuid4().hex}", actors, batch_size)
        except Exception as error:  # a failed run returns no rows: say why, and keep the emulator's counts
            outcomes = []
            result.note = f"run failed: {_failure(error)}"
        finally:
            result.wall_s = time.perf_counter() - started
            watch.stop()
        after = _get_json(root + STATS_PATH)
    result.first_request_s = watch.after_s
    result.failed_rows = len(rows) - sum(ok for ok, _ in outcomes)
    result.tokens = sum(tokens for ok, tokens in outcomes if ok)
    # Each stats request counts itself on arrival: ``before`` its own, ``after`` its own and the polls'.
    result.requests = after["requests"] - before["requests"] - watch.polls - 1
    result.rate_limited = after["rate_limited"] - before["rate_limited"]
    result.tpm_share = _tpm_share(result.tokens, result.wall_s)
    if watch.after_s is not None and result.wall_s > watch.after_s:
        result.tpm_share_running = _tpm_share(result.tokens, result.wall_s - watch.after_s)
    return result


def _tpm_share(tokens: int, seconds: float) -> float:
    """``tokens`` over ``seconds`` of wall time as a share of the TPM limit (per emulated minute)."""
    return tokens / (seconds * TIME_SCALE / 60) / LIMITS.tpm


def _cell(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(results: list[Result]) -> None:
    print("\n| contender | wall (s) | first request (s) | TPM used | TPM used once running | requests | 429s "
          "| 429 share | failed rows |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        if result.wall_s is None:
            print(f"| {result.contender} | {result.note} | | | | | | | |")
            continue
        share = result.rate_limited / result.requests if result.requests else None
        print(f"| {result.contender} | {result.wall_s:.1f} | {_cell(result.first_request_s, '.1f')} | "
              f"{_cell(result.tpm_share, '.1%')} | {_cell(result.tpm_share_running, '.1%')} | {result.requests} | "
              f"{result.rate_limited} | {_cell(share, '.1%')} | {result.failed_rows} |")
    for result in results:
        if result.wall_s is not None and result.note:
            print(f"\n{result.contender}: {result.note}")


def _warm_up(ray: Any) -> None:
    """One tiny dataset, so that the first contender does not pay for starting Ray Data."""
    ray.data.range(8).map_batches(lambda batch: batch).take_all()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=None, help="rows to answer (default 600; --quick 200)")
    parser.add_argument("--quick", action="store_true", help="200 rows")
    parser.add_argument("--actors", type=int, default=4, help="actors per contender (default 4)")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per actor call (default 32)")
    parser.add_argument("--json", default=None, metavar="PATH", help="write the numbers here")
    args = parser.parse_args(argv)
    rows = make_rows(args.rows or (200 if args.quick else 600))

    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "WARNING")
    import ray

    print(f"{len(rows)} rows, {args.actors} actors, batch size {args.batch_size}, {MODEL} free tier "
          f"({LIMITS.rpm} RPM, {LIMITS.tpm} TPM) at time scale {TIME_SCALE:g}")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    ray.data.DataContext.get_current().enable_progress_bars = False
    results = []
    try:
        _warm_up(ray)
        for name in CONTENDERS:
            skipped = _http_processor_missing() if name == "ray-http" else None
            result = Result(name, rows=len(rows), note=skipped) if skipped else measure(
                ray, name, rows, args.actors, args.batch_size)
            print(f"{name}: {result.note or f'{result.wall_s:.1f} s'}", flush=True)
            results.append(result)
    finally:
        ray.shutdown()
    print_table(results)
    payload = {
        "benchmark": "ray_stage",
        "parameters": {"rows": len(rows), "actors": args.actors, "batch_size": args.batch_size, "model": MODEL,
                       "time_scale": TIME_SCALE, "rpm": LIMITS.rpm, "tpm": LIMITS.tpm,
                       "completion_tokens": COMPLETION_TOKENS},
        "results": [asdict(result) for result in results],
    }
    write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
