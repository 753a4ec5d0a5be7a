"""Breaker under faults (issue 18): a 3,000-job batch through 500s and through an outage that never ends.

Every scenario runs the same batch (``--jobs``, 3,000 short chat jobs on ``openai/gpt-oss-20b``) through
``Client.map`` with the client's default breaker, retry policy and retry budget, 64 workers, against a
fresh emulator with realistic latency (30 ms queue, 120 ms to the first token, 600 tokens/s) and rate
limits lifted on both sides, so what is measured is the reaction to server trouble, not rate limiting:

- ``none``: no fault, the reference;
- ``p=0.1`` / ``p=0.3``: the emulator answers 500 to that share of requests (``--faults 500:p=...``);
- ``gone``: the emulator is stopped for good once a tenth of the jobs have finished.

Two clocks (``--clock``):

- ``scaled`` (the default, as the other suites): the emulator served on a loopback socket by its own
  process (``python -m orchestrator.emulator``, so the two do not share a GIL), on a clock
  ``--time-scale`` times faster than real time (default 1: at 2 a 2-core machine measures its CPU);
  the client is told the scale (``open_client(time_scale=...)``), so its breaker, retry and budget
  times shrink to match. Stopping the server closes its socket: new connections are refused,
  kept-alive ones are dropped. On a loaded machine the times move with the load.
- ``virtual``: the in-process emulator transport under trio's ``MockClock`` (autojump): emulated time
  exactly, whatever the CPU is doing (a 3,000-job scenario takes about 2 s); the outage is a transport
  that refuses every connection. Use it with ``--repeat`` to see the spread over seeds.

Reported per scenario and seed: jobs answered, jobs failed, jobs still unresolved when ``--cap``
emulated seconds ran out (the old breaker never finished some scenarios), emulated seconds, real
seconds, the speed ratio against ``none`` with the same seed (``none``'s time divided by the
scenario's: 1.0 is as fast), requests the server saw, retries, how often the breaker opened; for
``gone``, the emulated seconds from the stop to the last job's end: the bound an outage puts on a
batch. The jitter of retries is seeded too (``open_client(rng=...)``), so a seed repeats exactly on
the virtual clock.

Targets (issue 18): at p=0.1 the batch finishes at least 85 % as fast as without faults; at p=0.3 and
with the server gone, every job ends (answered or failed) before the cap.

Usage::

    python bench/breaker_faults.py [--jobs 3000] [--clock scaled|virtual] [--time-scale 1] [--seed 0] [--repeat 1]
                                   [--scenario none --scenario p=0.1 ...] [--cap 600]
                                   [--breaker minimum_calls=20 --breaker max_wait=60 ...]
                                   [--retry budget_ratio=None --retry initial_delay=0.5 ...]
                                   [--json bench/results/breaker_faults.json]
    python bench/breaker_faults.py --quick       # 600 jobs, virtual clock: a smoke check (seconds); in a
                                                 # 3 s batch the retry tail dominates the speed ratio
    python bench/breaker_faults.py --clock virtual --repeat 10   # the numbers in bench/README.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import subprocess
import sys
import time
from typing import Any, Final

from _common import ROOT, default_json, machine_line, print_table, write_json

import httpx  # noqa: E402  (after _common, which puts the repository on sys.path)
import trio  # noqa: E402
import trio.testing  # noqa: E402

import orchestrator  # noqa: E402
from actors._observer import NullObserver  # noqa: E402
from orchestrator.emulator import Emulator, EmulatorSettings  # noqa: E402

MODEL: Final = "openai/gpt-oss-20b"
API_KEY: Final = "gsk_bench_breaker_0123456789abcdef"
#: The in-process transport ignores the host; any loopback URL passes the config's https rule.
IN_PROCESS_URL: Final = "http://127.0.0.1:9/openai/v1"
#: RPM / RPD / TPM / TPD far above what 3,000 jobs use, on the server and in the client's budget.
HUGE: Final = (10**7, 10**9, 10**11, 10**12)
WORKERS: Final = 64


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One run: the emulator's fault rules, and whether (after how many finished jobs) the server goes away."""

    name: str
    faults: tuple[str, ...] = ()
    gone_after: bool = False


SCENARIOS: Final = {
    s.name: s
    for s in (
        Scenario("none"),
        Scenario("p=0.1", ("500:p=0.1",)),
        Scenario("p=0.3", ("500:p=0.3",)),
        Scenario("gone", gone_after=True),
    )
}


@dataclasses.dataclass
class Run:
    """What one scenario measured (times in emulated seconds unless named real)."""

    scenario: str
    seed: int = 0
    ok: int = 0
    failed: int = 0
    unresolved: int = 0
    emulated_seconds: float = 0.0
    real_seconds: float = 0.0
    stopped_at: float | None = None
    last_end_after_stop: float | None = None
    errors: dict[str, int] = dataclasses.field(default_factory=dict)
    requests: int = 0
    retries: int = 0
    opened: int = 0
    p99_seconds: float = 0.0


def jobs(count: int) -> list[tuple[int, dict[str, Any]]]:
    """``count`` short chat jobs (the emulator writes 16-160 tokens each)."""
    return [
        (index, {"model": MODEL, "messages": [{"role": "user", "content": f"Say something short ({index})."}],
                 "max_completion_tokens": 200})
        for index in range(count)
    ]


def client_options(args: argparse.Namespace, time_scale: float, run: Run) -> dict[str, Any]:
    """The client's settings: defaults, 64 workers, limits lifted, and any ``--breaker`` overrides."""
    options: dict[str, Any] = {
        "api_key": API_KEY,
        "workers": WORKERS,
        "time_scale": time_scale,
        "observer": _Tally(run),
        "rng": random.Random(args.seed),  # the retry jitter: the same seed gives the same backoffs
        "limits": {MODEL: orchestrator.ModelLimits(rpm=HUGE[0], rpd=HUGE[1], tpm=HUGE[2], tpd=HUGE[3])},
    }
    if args.breaker:
        values = dict(_field(item) for item in args.breaker)
        options["circuit_breaker_config"] = orchestrator.BreakerConfig(**values)
    if args.retry:
        options["retry_config"] = orchestrator.RetryConfig(**dict(_field(item) for item in args.retry))
    return options


class _Tally(NullObserver):
    """Counts what the breaker and the scheduler did: retries scheduled, times the breaker opened."""

    __slots__ = ("run",)

    def __init__(self, run: Run) -> None:
        self.run = run

    def retry_scheduled(self, job: Any, error: Any, delay: float) -> None:
        """One more retry."""
        self.run.retries += 1

    def breaker_changed(self, base_url: str, old: str, new: str) -> None:
        """Count openings (from closed and re-openings from half-open)."""
        if new == "open":
            self.run.opened += 1


def _field(item: str) -> tuple[str, Any]:
    """``FIELD=VALUE`` as a keyword: ``None``, an int, a float, or the text itself (``wait``, ``fail``)."""
    key, _, text = item.partition("=")
    if text == "None":
        return key, None
    for kind in (int, float):
        try:
            return key, kind(text)
        except ValueError:
            pass
    return key, text


class _Counting(httpx.AsyncBaseTransport):
    """Counts requests; once ``dead``, refuses every connection like a stopped server (virtual clock)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.dead = False
        self.requests = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.dead:
            await trio.lowlevel.checkpoint()
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return await self.inner.handle_async_request(request)


async def _batch(client: orchestrator.Client, run: Run, count: int, cap: float, scale: float,
                 stop: Any) -> None:
    """Map the batch, tallying results; ``stop()`` is called once a tenth of the jobs finished (gone)."""
    gone_after = max(1, count // 10)
    origin = trio.current_time()
    real_origin = time.perf_counter()
    last = origin
    with trio.move_on_after(cap / scale):
        async with client.map(jobs(count)) as results:
            async for result in results:
                last = trio.current_time()
                if run.ok + run.failed == (count * 99) // 100:
                    run.p99_seconds = (last - origin) * scale
                if result.ok:
                    run.ok += 1
                else:
                    run.failed += 1
                    name = type(result.error).__name__
                    run.errors[name] = run.errors.get(name, 0) + 1
                if stop is not None and run.stopped_at is None and run.ok + run.failed >= gone_after:
                    stop()
                    run.stopped_at = (trio.current_time() - origin) * scale
    run.unresolved = count - run.ok - run.failed
    end = trio.current_time() if run.unresolved else last
    run.emulated_seconds = (end - origin) * scale
    run.real_seconds = time.perf_counter() - real_origin
    if run.stopped_at is not None:
        run.last_end_after_stop = (last - origin) * scale - run.stopped_at


def run_virtual(scenario: Scenario, args: argparse.Namespace) -> Run:
    """The batch through the in-process emulator under a ``MockClock`` (emulated time is trio's time)."""
    run = Run(scenario.name)

    async def main() -> None:
        emulator = Emulator(EmulatorSettings(
            latency="realistic", seed=args.seed, faults=scenario.faults, limits={MODEL: HUGE}
        ))
        transport = _Counting(emulator.transport())

        def stop() -> None:
            transport.dead = True

        async with orchestrator.open_client(
            base_url=IN_PROCESS_URL, transport=transport, **client_options(args, 1.0, run)
        ) as client:
            await _batch(client, run, args.jobs, args.cap, 1.0, stop if scenario.gone_after else None)
        run.requests = transport.requests

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    return run


class ServerProcess:
    """``python -m orchestrator.emulator`` (what ``groq-orch emulate`` runs) in a process of its own.

    A process, not a thread: in one interpreter the server and the client share the GIL and a 2-core
    machine measures its CPU instead of the breaker. :meth:`stop` ends it for good: its socket
    closes, new connections are refused and kept-alive ones are dropped.
    """

    def __init__(self, scenario: Scenario, args: argparse.Namespace) -> None:
        command = [
            sys.executable, "-m", "orchestrator.emulator", "--port", "0", "--latency", "realistic",
            "--time-scale", str(args.time_scale), "--seed", str(args.seed),
            "--limits", f"{MODEL}={'/'.join(str(value) for value in HUGE)}",
        ]
        for rule in scenario.faults:
            command += ["--faults", rule]
        self._command = command
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self.requests = 0
        self._stopped = False

    def __enter__(self) -> ServerProcess:
        self._process = process = subprocess.Popen(
            self._command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True
        )
        line = process.stderr.readline() if process.stderr else ""
        if not line.startswith("Groq emulator listening on "):
            process.kill()
            raise SystemExit(f"the emulator did not start: {line!r}")
        self.base_url = line.rsplit(" ", 1)[1].strip()
        return self

    def count_requests(self) -> None:
        """Read the server's request counter (minus this request) while it is up."""
        if self._process is not None and self._process.poll() is None:
            root = self.base_url.removesuffix("/openai/v1")
            try:
                self.requests = httpx.get(root + "/_emulator/stats", timeout=10).json()["requests"] - 1
            except httpx.HTTPError as error:
                print(f"  (could not read the server's counters: {error!r})", flush=True)

    def stop(self) -> None:
        """Stop the server for good (idempotent)."""
        if self._process is not None and not self._stopped:
            self._stopped = True
            self.count_requests()
            self._process.terminate()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
        if self._process is not None:
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()


def run_scaled(scenario: Scenario, args: argparse.Namespace) -> Run:
    """The batch through a loopback emulator process on a clock ``--time-scale`` times faster than real time."""
    run = Run(scenario.name)
    scale = args.time_scale
    with ServerProcess(scenario, args) as server:

        async def main() -> None:
            async with orchestrator.open_client(base_url=server.base_url, **client_options(args, scale, run)) as client:
                await _batch(client, run, args.jobs, args.cap, scale, server.stop if scenario.gone_after else None)

        trio.run(main)
        server.stop()
    run.requests = server.requests
    return run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the scenarios; print the table and the targets; write the JSON and return it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=3000, help="jobs per scenario")
    parser.add_argument("--clock", choices=("scaled", "virtual"), default="scaled",
                        help="a loopback server on a scaled clock, or the in-process emulator on a MockClock")
    parser.add_argument("--time-scale", type=float, default=1.0, help="emulated seconds per real second (scaled)")
    parser.add_argument("--seed", type=int, default=0, help="seeds the emulator's fault draws and the retry jitter")
    parser.add_argument("--repeat", type=int, default=1, help="run every scenario with this many seeds from --seed")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS), help="run these (default: all)")
    parser.add_argument("--cap", type=float, default=600.0, help="emulated seconds after which a scenario is cut off")
    parser.add_argument("--breaker", action="append", metavar="FIELD=VALUE",
                        help="a BreakerConfig field to set instead of its default (repeatable)")
    parser.add_argument("--retry", action="append", metavar="FIELD=VALUE",
                        help="a RetryConfig field to set instead of its default (repeatable), e.g. budget_ratio=None")
    parser.add_argument("--log-level", default="warning",
                        help="the client's log level (warning: breaker changes only; info adds every retry)")
    parser.add_argument("--quick", action="store_true", help="600 jobs on the virtual clock")
    parser.add_argument("--json", metavar="PATH", default=default_json("breaker_faults"), help="write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.clock = min(args.jobs, 600), "virtual"
    if args.jobs < 10 or not args.time_scale > 0 or not args.cap > 0 or args.repeat < 1:
        parser.error("--jobs must be at least 10, --repeat at least 1, --time-scale and --cap positive")
    orchestrator.configure_logging(args.log_level)
    names = args.scenario or list(SCENARIOS)
    scale = args.time_scale if args.clock == "scaled" else 1.0
    seeds = list(range(args.seed, args.seed + args.repeat))
    print(f"{machine_line()}\n{args.jobs} jobs per scenario, {WORKERS} workers, clock {args.clock}"
          f"{f' (time_scale {scale:g})' if args.clock == 'scaled' else ''}, seeds {seeds}, "
          f"breaker {args.breaker or 'defaults'}, retry {args.retry or 'defaults'}", flush=True)
    runner = run_scaled if args.clock == "scaled" else run_virtual
    runs: dict[str, list[Run]] = {name: [] for name in names}
    for seed in seeds:
        for name in names:
            run = runner(SCENARIOS[name], argparse.Namespace(**{**vars(args), "seed": seed}))
            run.seed = seed
            runs[name].append(run)
            print(f"  seed {seed} {name}: {run.ok} ok, {run.failed} failed, {run.unresolved} unresolved in "
                  f"{run.emulated_seconds:.1f} emulated s ({run.real_seconds:.1f} real s), {run.requests} requests, "
                  f"{run.retries} retries, breaker opened {run.opened} times, 99 % done at {run.p99_seconds:.1f} s",
                  flush=True)
    references = {run.seed: run.emulated_seconds for run in runs.get("none", []) if not run.unresolved}

    def ratio(run: Run) -> float:
        reference = references.get(run.seed)
        if reference is None or run.unresolved or not run.emulated_seconds:
            return float("nan")
        return reference / run.emulated_seconds

    rows = [
        [run.scenario, run.seed, run.ok, run.failed, run.unresolved, run.emulated_seconds, run.real_seconds,
         ratio(run), run.last_end_after_stop if run.last_end_after_stop is not None else float("nan"),
         run.requests, run.retries, run.opened, ", ".join(f"{k} {v}" for k, v in sorted(run.errors.items())) or "-"]
        for name in names for run in runs[name]
    ]
    print_table("breaker under faults (times in emulated seconds)",
                ["scenario", "seed", "ok", "failed", "unresolved", "emulated s", "real s", "speed vs none",
                 "ended after stop", "requests", "retries", "opened", "errors"], rows)
    targets: dict[str, dict[str, Any]] = {}
    if runs.get("p=0.1") and references:
        worst = min(ratio(run) for run in runs["p=0.1"])
        targets["p=0.1 at least 85 % as fast as none (worst seed)"] = {"value": worst, "met": worst >= 0.85}
    for name in ("p=0.3", "gone"):
        if runs.get(name):
            left = max(run.unresolved for run in runs[name])
            slowest = max(run.emulated_seconds for run in runs[name])
            targets[f"{name}: every job ends (most left unresolved; slowest batch {slowest:.0f} s)"] = {
                "value": left, "met": left == 0, "slowest_seconds": slowest,
            }
    for label, target in targets.items():
        print(f"{'MET' if target['met'] else 'NOT MET'}: {label} ({target['value']:.3g})")
    payload = {
        "benchmark": "breaker_faults",
        "parameters": {"jobs": args.jobs, "clock": args.clock, "time_scale": scale, "seeds": seeds,
                       "workers": WORKERS, "cap": args.cap, "breaker": args.breaker or "defaults",
                       "retry": args.retry or "defaults"},
        "runs": {name: [{**dataclasses.asdict(run), "speed_vs_none": ratio(run)} for run in runs[name]]
                 for name in names},
        "targets": targets,
    }
    write_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
