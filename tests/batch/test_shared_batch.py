"""A shared batch through a real Redis: the store's scripts, then worker processes on one emulator.

Workers are real subprocesses (``python -c WORKER``) working one batch against one emulator process on
loopback whose clock runs 60 times faster (a minute of rate limits per second), so killing a worker, or
Redis, is the real thing. Redis keeps real time, so the tests wait on it in short real polls.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import trio
from rich.console import Console

from orchestrator._prices import PriceTable
from orchestrator.batch._shared import collect_shared_batch_async, run_shared_batch_async
from orchestrator._endpoint import resolve_endpoint
from orchestrator.emulator import EmulatorSettings

from orchestrator.batch._shared_store import GROUP, BatchStore, LoadChunk, Record, SharedBatchError, redact_url

from ..redis_support import RedisServer, redis_server, redis_url  # noqa: F401 - fixtures

ROOT = Path(__file__).resolve().parents[2]
MODEL = "openai/gpt-oss-20b"
SCALE = 60.0
# Per emulated minute; at 60x that is 600 requests and 600k tokens a real second: limits that are real
# (the client learns and paces them) but leave the test time to the coordination, not to throttling.
LIMITS = f"{MODEL}=600/10000000/600000/100000000"
JOBS = 400

WORKER = """
import json, sys, trio
from orchestrator.batch._io import BatchFileError
from orchestrator.batch._shared import SharedBatchError, run_shared_batch_async
from orchestrator._config import ModelLimits
from orchestrator._endpoint import resolve_endpoint

source, target, redis_url, name, base_url, reclaim_after, backlog = sys.argv[1:8]
# The emulator's limits (its headers carry RPD and TPM, not RPM, which would default to the free tier's 30).
limits = {"%s": ModelLimits(rpm=600, rpd=10_000_000, tpm=600_000, tpd=100_000_000)}
endpoint = resolve_endpoint(environ={}, base_url=base_url, concurrency=4, limits=limits)

async def main():
    return await run_shared_batch_async(
        source, target, redis_url=redis_url, name=name, endpoint=endpoint, quiet=True, grace=5.0,
        reclaim_after=float(reclaim_after), backlog=int(backlog), time_scale=60.0)

try:
    summary = trio.run(main)
except (SharedBatchError, BatchFileError) as error:
    print(f"error: {error}", file=sys.stderr, flush=True)
    sys.exit(1)
print(json.dumps({"succeeded": summary.succeeded, "failed": summary.failed, "not_run": summary.not_run,
                  "interrupted_by": summary.interrupted_by}), flush=True)
sys.exit(summary.exit_code)
""" % MODEL


# ------------------------------------------------------------------------------------------- helpers


def write_jobs(path: Path, count: int = JOBS, *, duplicate: bool = False) -> Path:
    """``count`` small chat jobs in batch format (the last repeats the first id when ``duplicate``)."""
    body = {"model": MODEL, "max_completion_tokens": 16, "messages": [{"role": "user", "content": "Name a colour."}]}
    ids = [f"job-{index}" for index in range(count)]
    if duplicate:
        ids[-1] = ids[0]
    path.write_text("".join(json.dumps({"custom_id": cid, "body": body}) + "\n" for cid in ids))
    return path


def result_ids(path: Path) -> Counter[str]:
    """How many result lines each custom_id has in a results file."""
    return Counter(json.loads(line)["custom_id"] for line in path.read_text().splitlines())


def env() -> dict[str, str]:
    """The environment without GROQ_* settings, so nothing but the arguments decides where requests go."""
    return {key: value for key, value in os.environ.items() if not key.startswith("GROQ_")}


class Batch:
    """One shared batch under a fresh name: its files, its workers, and a peek into its Redis keys."""

    def __init__(self, tmp_path: Path, url: str, base_url: str = "", *, count: int = JOBS) -> None:
        self.name = f"test-{uuid.uuid4().hex[:12]}"
        self.url = url
        self.base_url = base_url
        self.source = write_jobs(tmp_path / "jobs.jsonl", count)
        self.target = tmp_path / "out.jsonl"
        self.count = count
        self.prefix = f"groq-orch:batch:{{{self.name}}}:"
        self.redis = redis.Redis.from_url(url)

    def start(self, *, reclaim_after: float = 1.0, backlog: int = 4096) -> subprocess.Popen[str]:
        """A worker process joining the batch."""
        return subprocess.Popen(
            [sys.executable, "-c", WORKER, str(self.source), str(self.target), self.url, self.name, self.base_url,
             str(reclaim_after), str(backlog)],
            cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def answered(self) -> int:
        """Results recorded in Redis so far."""
        return int(self.redis.hlen(self.prefix + "answered"))

    def unfinished(self) -> int:
        """Job entries in the stream (waiting or in flight)."""
        return int(self.redis.xlen(self.prefix + "jobs"))

    def loader(self) -> str | None:
        """The consumer name of the worker holding the loader lease, if any."""
        holder = self.redis.get(self.prefix + "loader")
        return holder.decode() if holder else None

    def cursor(self) -> int:
        """The last input line streamed in so far."""
        return int(self.redis.hget(self.prefix + "meta", "cursor") or 0)

    def pending_on(self, pid: int) -> int:
        """Jobs pending on the worker process ``pid`` (its consumer is named host-pid-suffix)."""
        for consumer in self.redis.xinfo_consumers(self.prefix + "jobs", GROUP):
            if f"-{pid}-" in consumer["name"].decode():
                return int(consumer["pending"])
        return 0

    def wait_for(self, condition: Callable[[], bool], workers: list[subprocess.Popen[str]], timeout: float = 60.0,
                 watch: Callable[[], None] | None = None) -> None:
        """Poll until ``condition`` holds; fail if a worker exits first or time runs out."""
        deadline = time.monotonic() + timeout
        while not condition():
            for worker in workers:
                assert worker.poll() is None, f"worker exited early: {worker.communicate()}"
            assert time.monotonic() < deadline, "the batch made no progress"
            if watch is not None:
                watch()
            time.sleep(0.005)

    def finish(self, worker: subprocess.Popen[str], timeout: float = 60.0) -> tuple[int, dict[str, Any] | None, str]:
        """Wait for a worker: (exit code, its summary line or None, stderr)."""
        out, err = worker.communicate(timeout=timeout)
        lines = out.strip().splitlines()
        return worker.returncode, json.loads(lines[-1]) if lines else None, err

    def assert_complete(self) -> None:
        """Every custom_id has exactly one result line in the output file, and one result in Redis."""
        assert result_ids(self.target) == Counter({f"job-{index}": 1 for index in range(self.count)})
        assert self.redis.xlen(self.prefix + "results") == self.count

    def delete(self) -> None:
        """Remove the batch's keys (the Redis is shared with other tests)."""
        keys = list(self.redis.scan_iter(match=self.prefix.replace("{", "\\{").replace("}", "\\}") + "*"))
        if keys:
            self.redis.delete(*keys)
        self.redis.close()


@pytest.fixture(scope="module")
def emulator_url() -> Iterator[str]:
    """One emulator process on loopback: 60x clock, limits above, 50 ms (3 emulated s) queue time per job."""
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.emulator", "--port", "0", "--latency", "instant", "--queue-time", "3",
         "--time-scale", str(SCALE), "--limits", LIMITS],
        cwd=ROOT, env=env(), stderr=subprocess.PIPE, text=True,
    )
    assert server.stderr is not None
    line = server.stderr.readline()
    assert line.startswith("Groq emulator listening on "), line
    try:
        yield line.rsplit(" ", 1)[1].strip()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def batch(tmp_path: Path, redis_url: str, emulator_url: str) -> Iterator[Batch]:  # noqa: F811 - fixture
    """A fresh shared batch on the session's Redis and the module's emulator."""
    shared = Batch(tmp_path, redis_url, emulator_url)
    try:
        yield shared
    finally:
        shared.delete()


# -------------------------------------------------------------------------------------- the store


@pytest.fixture
def stores(redis_url: str) -> Iterator[tuple[BatchStore, BatchStore]]:  # noqa: F811 - fixture
    """Two workers' stores on one fresh batch, joined with the same input fingerprint."""
    name = f"store-{uuid.uuid4().hex[:12]}"
    first, second = BatchStore(redis_url, name, consumer="a"), BatchStore(redis_url, name, consumer="b")
    first.join("fp")
    second.join("fp")
    try:
        yield first, second
    finally:
        client = redis.Redis.from_url(redis_url)
        client.delete(*(getattr(first, attr) for attr in dir(first) if attr.endswith("_key")))
        client.close()
        first.close()
        second.close()


def load(store: BatchStore, *custom_ids: str) -> None:
    """Stream ``custom_ids`` as jobs on lines 1..n (the store becomes the loader)."""
    assert store.claim_loader(5.0) == "won"
    chunk = LoadChunk(tuple((cid, line, b"{}") for line, cid in enumerate(custom_ids, start=1)), len(custom_ids), 0)
    assert store.append(chunk, 0, 5.0) == len(custom_ids)
    assert store.finish_load()


class TestStore:
    def test_a_custom_id_is_recorded_once_whoever_answers(self, stores: tuple[BatchStore, BatchStore]) -> None:
        """Two workers answering the same job: the first result is kept, the second dropped, the job acknowledged."""
        first, second = stores
        load(first, "q-1")
        (entry,) = first.read(10, 0.01)
        first.hand_back(60.0)
        _, (taken,) = second.reclaim(60.0, 10)
        assert first.record([Record(entry.entry_id, "q-1", b"one\n", "succeeded")]) == [True]
        assert second.record([Record(taken.entry_id, "q-1", b"two\n", "succeeded")]) == [False]
        assert [line for _, _, line in first.results(10)] == [b"one\n"]
        assert first.progress().finished and first.progress().succeeded == 1

    def test_a_retried_record_is_written_once(self, stores: tuple[BatchStore, BatchStore]) -> None:
        """The same attempt recorded twice (a lost reply, retried) is accepted both times and written once."""
        first, _ = stores
        load(first, "q-1")
        (entry,) = first.read(10, 0.01)
        record = Record(entry.entry_id, "q-1", b"one\n", "failed")
        assert first.record([record]) == [True] and first.record([record]) == [True]
        progress = first.progress()
        assert (len(first.results(10)), progress.failed, progress.succeeded) == (1, 1, 0)

    def test_the_loader_cursor_streams_each_line_once(self, stores: tuple[BatchStore, BatchStore]) -> None:
        """A repeated chunk is not streamed twice, a stale cursor and a lost lease are refused, answered ids skipped."""
        first, second = stores
        assert first.claim_loader(5.0) == "won" and second.claim_loader(5.0) == "held"
        chunk = LoadChunk((("a", 1, b"{}"), ("b", 2, b"{}")), 2, 0)
        assert first.append(chunk, 0, 5.0) == 2
        assert first.append(chunk, 0, 5.0) == 2  # a retry of the same call
        assert first.append(LoadChunk((("c", 3, b"{}"),), 3, 0), 1, 5.0) == -2  # not where it left off
        assert second.append(LoadChunk((("c", 3, b"{}"),), 3, 0), 2, 5.0) == -1  # not the loader
        entries = first.read(10, 0.01)
        first.record([Record(entries[0].entry_id, "a", b"a\n", "succeeded")])
        assert first.append(LoadChunk((("a", 3, b"{}"), ("d", 4, b"{}")), 4, 1), 2, 5.0) == 2  # 'a' answered
        progress = first.progress()
        assert (progress.skipped, progress.unfinished, first.cursor()) == (2, 2, 4)

    def test_touched_jobs_stay_and_handed_back_jobs_move(self, stores: tuple[BatchStore, BatchStore]) -> None:
        """Another worker can take a job only once it is idle: a touch keeps it, a hand-back frees it at once."""
        first, second = stores
        load(first, "q-1", "q-2")
        kept, freed = first.read(10, 0.01)
        assert second.reclaim(30.0, 10)[1] == []
        first.hand_back(30.0)
        first.touch([kept.entry_id])
        _, taken = second.reclaim(30.0, 10)
        assert [entry.custom_id for entry in taken] == [freed.custom_id]

    def test_another_input_under_the_same_name_is_refused(self, stores: tuple[BatchStore, BatchStore]) -> None:
        """Joining with a different input fingerprint raises, naming the batch and what to do."""
        first, _ = stores
        with pytest.raises(SharedBatchError, match="different input file.*another --workers-join name"):
            first.join("other")

    def test_a_refused_batch_starts_afresh_with_a_corrected_input(self, stores: tuple[BatchStore, BatchStore]) -> None:
        """After a duplicate-id refusal the same input stays refused, and a corrected one starts the batch over."""
        first, second = stores
        assert first.claim_loader(5.0) == "won" and first.refuse("duplicates on lines 1, 2")
        assert second.join("fp").refusal == "duplicates on lines 1, 2"
        assert second.join("fixed").status == "loading" and second.claim_loader(5.0) == "won"


def test_an_unreachable_redis_is_named_without_its_password() -> None:
    """With nothing listening, the first call says Redis cannot be reached, password masked, nothing sent."""
    port = _free_port()
    store = BatchStore(f"redis://:hunter2@127.0.0.1:{port}/0", "x")
    with pytest.raises(SharedBatchError) as caught:
        store.join("fp")
    message = str(caught.value)
    assert f"cannot reach Redis at redis://:***@127.0.0.1:{port}/0" in message and "hunter2" not in message
    assert redact_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert redact_url("redis://h/0") == "redis://h/0"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --------------------------------------------------------------------------- workers in one process


async def test_two_workers_in_one_process_record_lines_show_progress_and_collect(
    tmp_path: Path, redis_url: str  # noqa: F811 - fixture
) -> None:
    """Two workers (embedded emulators) finish a batch with a bad line; progress, summaries and collect agree."""
    shared = Batch(tmp_path, redis_url, count=40)
    with shared.source.open("a") as source:
        source.write("this is not json\n")
    endpoint = resolve_endpoint(
        environ={}, concurrency=4, emulator_settings=EmulatorSettings(latency="instant", time_scale=1000.0)
    )
    screens = [io.StringIO(), io.StringIO()]
    summaries = []

    async def worker(index: int) -> None:
        summaries.append(await run_shared_batch_async(
            shared.source, shared.target, redis_url=redis_url, name=shared.name, endpoint=endpoint,
            handle_signals=False, summary_json=tmp_path / f"summary-{index}.json",
            console=Console(file=screens[index], width=120),
        ))

    try:
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for index in range(2):
                    nursery.start_soon(worker, index)
            report = await collect_shared_batch_async(shared.name, tmp_path / "copy.jsonl", redis_url=redis_url,
                                                      quiet=True)
    finally:
        shared.delete()
    lines = [json.loads(line) for line in shared.target.read_text().splitlines()]
    assert sorted(line["custom_id"] for line in lines) == sorted([f"job-{i}" for i in range(40)] + ["line-41"])
    assert [line["error"]["code"] for line in lines if line["error"]] == ["invalid_json"]
    assert sum(summary.succeeded for summary in summaries) == 40 and sum(s.failed for s in summaries) == 1
    table = PriceTable.load()
    usages = [(line["response"]["body"]["model"], line["response"]["body"]["usage"]) for line in lines
              if line["error"] is None]
    expected = sum(
        table.cost(model, prompt_tokens=usage["prompt_tokens"], completion_tokens=usage["completion_tokens"],
                   cached_tokens=(usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0) or 0.0
        for model, usage in usages
    )
    assert sum(summary.cost_usd or 0.0 for summary in summaries) == pytest.approx(expected) and expected > 0
    assert all(summary.jobs == 41 and summary.not_run == 0 for summary in summaries)
    assert all(json.loads((tmp_path / f"summary-{i}.json").read_text())["jobs"] == 41 for i in range(2))
    assert all("Batch summary" in screen.getvalue() for screen in screens)
    assert (report.written, report.present, report.complete, report.failed, report.exit_code) == (41, 0, True, 1, 1)


# ------------------------------------------------------------------------------------ the workers


def test_three_workers_finish_one_batch_each_result_once(batch: Batch) -> None:
    """Three worker processes share the jobs, Redis never holds more than twice the backlog, every id ends once."""
    workers = [batch.start(backlog=40) for _ in range(3)]
    most = 0

    def watch() -> None:
        nonlocal most
        most = max(most, batch.unfinished())

    batch.wait_for(lambda: batch.answered() >= batch.count // 2, workers, watch=watch)
    outcomes = [batch.finish(worker) for worker in workers]
    assert [code for code, _, _ in outcomes] == [0, 0, 0], [err[-2000:] for _, _, err in outcomes]
    done = [summary["succeeded"] for _, summary, _ in outcomes if summary]
    assert sum(done) == batch.count and min(done) > 0, done
    assert 0 < most < 80, most
    batch.assert_complete()


def test_a_sigkilled_loader_is_replaced_and_its_jobs_reclaimed(batch: Batch) -> None:
    """SIGKILL the worker that is streaming the input in: another takes over the load, its jobs are taken over."""
    workers = [batch.start(reclaim_after=0.5, backlog=40) for _ in range(3)]
    batch.wait_for(lambda: batch.loader() is not None and batch.answered() >= 60, workers)
    victim = next(worker for worker in workers if f"-{worker.pid}-" in (batch.loader() or ""))
    batch.wait_for(lambda: batch.pending_on(victim.pid) > 0, workers)
    victim.kill()
    victim.wait()
    orphaned, cursor = batch.pending_on(victim.pid), batch.cursor()
    survivors = [worker for worker in workers if worker is not victim]
    outcomes = [batch.finish(worker) for worker in survivors]
    assert [code for code, _, _ in outcomes] == [0, 0], [err[-2000:] for _, _, err in outcomes]
    assert orphaned > 0 and batch.pending_on(victim.pid) == 0 and cursor < batch.count
    batch.assert_complete()


def test_a_sigtermed_worker_hands_its_jobs_back_at_once(batch: Batch) -> None:
    """SIGTERM: the worker exits 143 and its unfinished jobs go to the other worker at once, not after 30 s idle."""
    workers = [batch.start(reclaim_after=30.0) for _ in range(2)]
    batch.wait_for(lambda: batch.answered() >= 100 and batch.pending_on(workers[0].pid) > 0, workers)
    workers[0].send_signal(signal.SIGTERM)
    code, summary, err = batch.finish(workers[0])
    assert (code, summary and summary["interrupted_by"]) == (143, "SIGTERM"), err[-2000:]
    started = time.monotonic()
    code, summary, err = batch.finish(workers[1])
    assert code == 0 and time.monotonic() - started < 15, err[-2000:]
    batch.assert_complete()


def test_redis_going_away_stops_cleanly_and_a_rerun_resumes(
    tmp_path: Path, redis_server: RedisServer, emulator_url: str  # noqa: F811 - fixture
) -> None:
    """Redis SIGKILLed mid-run: workers stop with a clear error; back with its data, a re-run finishes, each id once."""
    admin = redis.Redis.from_url(redis_server.url)
    admin.config_set("appendonly", "yes")
    admin.config_set("appendfsync", "always")
    while admin.info("persistence")["aof_rewrite_in_progress"]:
        time.sleep(0.01)
    shared = Batch(tmp_path, redis_server.url, emulator_url)
    workers = [shared.start() for _ in range(2)]
    shared.wait_for(lambda: shared.answered() >= 100, workers)
    before = shared.answered()
    redis_server.kill()
    started = time.monotonic()
    for worker in workers:
        code, _, err = shared.finish(worker, timeout=30)
        assert code == 1 and f"lost Redis at {redis_server.url}" in err, err[-2000:]
        assert "re-run the same command" in err
    assert time.monotonic() - started < 15
    assert not shared.target.exists()  # nothing collected from a batch that did not finish
    restarted = _restart(redis_server, tmp_path)
    try:
        assert shared.answered() >= before  # appendfsync always: every acknowledged result survived
        workers = [shared.start() for _ in range(2)]
        outcomes = [shared.finish(worker) for worker in workers]
        assert [code for code, _, _ in outcomes] == [0, 0], [err[-2000:] for _, _, err in outcomes]
        shared.assert_complete()
    finally:
        shared.redis.close()
        admin.close()
        restarted.terminate()
        restarted.wait(timeout=10)


def _restart(server: RedisServer, tmp_path: Path) -> subprocess.Popen[bytes]:
    """Start redis-server again on the killed server's port and directory, loading its append-only file."""
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    process = subprocess.Popen(
        [binary, "--port", str(server.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
         "--dir", str(tmp_path / "redis"), "--logfile", str(tmp_path / "redis" / "restarted.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    client = redis.Redis.from_url(server.url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + 10
    while True:
        try:
            if not client.info("persistence")["loading"]:
                break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not come back"
            time.sleep(0.02)
    client.close()
    return process


# -------------------------------------------------------------------------------------- the CLI


def cli(*args: str) -> subprocess.Popen[str]:
    """``groq-orch`` in a subprocess: no key and no URL, so each process runs the embedded emulator."""
    return subprocess.Popen(
        [sys.executable, "-m", "orchestrator", *args], cwd=ROOT, env=env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_cli_workers_collect_and_resume(tmp_path: Path, redis_url: str) -> None:  # noqa: F811 - fixture
    """Two `batch --workers-join` processes fill -o once; `batch collect` copies it; re-runs add nothing."""
    shared = Batch(tmp_path, redis_url, count=60)
    try:
        run = ("batch", str(shared.source), "-o", str(shared.target), "--redis", redis_url,
               "--workers-join", shared.name, "--concurrency", "4", "-q")
        workers = [cli(*run) for _ in range(2)]
        for worker in workers:
            _, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err[-2000:]
        shared.assert_complete()
        copy = tmp_path / "copy.jsonl"
        collect = ("batch", "collect", shared.name, "-o", str(copy), "--redis", redis_url)
        first = subprocess.run([sys.executable, "-m", "orchestrator", *collect], cwd=ROOT, env=env(),
                               capture_output=True, text=True, timeout=60)
        again = subprocess.run([sys.executable, "-m", "orchestrator", *collect], cwd=ROOT, env=env(),
                               capture_output=True, text=True, timeout=60)
        assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
        assert "60 result lines written" in first.stderr and "0 result lines written" in again.stderr
        assert copy.read_bytes() == shared.target.read_bytes()  # both in the order results were recorded
        before = shared.target.read_bytes()
        rerun = cli(*run)
        _, err = rerun.communicate(timeout=60)
        assert rerun.returncode == 0 and shared.target.read_bytes() == before, err[-2000:]
    finally:
        shared.delete()


def test_cli_duplicate_ids_are_refused_before_sending(tmp_path: Path, redis_url: str) -> None:  # noqa: F811
    """An input with a repeated custom_id stops both workers with exit 2 and the lines named; nothing is streamed."""
    shared = Batch(tmp_path, redis_url, count=30)
    write_jobs(shared.source, 30, duplicate=True)
    try:
        run = ("batch", str(shared.source), "-o", str(shared.target), "--redis", redis_url,
               "--workers-join", shared.name, "-q")
        workers = [cli(*run) for _ in range(2)]
        for worker in workers:
            _, err = worker.communicate(timeout=60)
            assert worker.returncode == 2 and "'job-0' on lines 1, 30" in err, err[-2000:]
        assert (shared.unfinished(), shared.answered(), shared.target.exists()) == (0, 0, False)
    finally:
        shared.delete()


def test_cli_refuses_a_shared_batch_without_redis(tmp_path: Path) -> None:
    """--workers-join without --redis (or GROQ_ORCH_REDIS_URL) is a usage error naming the fix."""
    source = write_jobs(tmp_path / "jobs.jsonl", 1)
    process = cli("batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--workers-join", "x")
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2 and "add --redis redis://HOST:PORT/0" in err
