"""The shared rate budget against a real Redis: the lease script, four clients on one limit, Redis dying, workers dying.

Redis keeps real time, so these tests run on the real clock, with the emulator's ``time_scale`` making a
minute of rate limits pass in a second or two. The four-client runs use a 2 s minute: on a loaded machine a
round trip can stall for a quarter of a second, which would distort a 1 s window but not a 2 s one.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
import redis
import trio

import orchestrator
from actors._budget import ModelLimits
from actors._shared_budget import (
    LeaseAsk, LeaseRelease, LimitObservation, PauseReport, SyncReply, SyncRequest, WindowLevels,
)
from orchestrator.batch._local import run_batch_async
from orchestrator._redis_budget import LEASE_SCRIPT, CoordinationError, RedisBudgets, budget_namespace
from orchestrator._secret import SecretString
from orchestrator.emulator import EmulatorSettings, open_emulator_server

from .helpers import client_for, make_emulator, user
from .redis_support import RedisServer, redis_server, redis_url, unique_namespace  # noqa: F401 - fixtures

MODEL = "openai/gpt-oss-20b"
ROOT = Path(__file__).resolve().parents[1]


class Store:
    """Calls the lease script directly, as one worker (``owner``) would."""

    def __init__(self, url: str, namespace: str, owner: str, *, scale: float = 1.0) -> None:
        self.client = redis.Redis.from_url(url)
        self.keys = RedisBudgets(url, lambda model: ModelLimits(), namespace=namespace)._keys
        self.owner = owner
        self.scale = scale
        self.count = 0

    def sync(self, request_id: str | None = None, **fields: object) -> SyncReply:
        """Send one request (a fresh id unless given) and decode the reply."""
        self.count += 1
        request = SyncRequest(id=request_id or f"{self.owner}:s{self.count}", scale=self.scale, **fields)  # type: ignore[arg-type]
        keys = self.keys(MODEL, request.id)
        raw = self.client.eval(LEASE_SCRIPT, len(keys), *keys, msgspec.json.encode(request), 60_000)
        return msgspec.json.decode(raw, type=SyncReply)

    def ask(self, need_tokens: int, want_tokens: int, *, ttl: float = 1.0, **fields: object) -> SyncReply:
        """Ask for a lease of one request and ``need_tokens``..``want_tokens`` tokens."""
        ask = LeaseAsk(id=f"{self.owner}:lease{self.count}", need_requests=1, need_tokens=need_tokens,
                       want_requests=1, want_tokens=want_tokens, ttl=ttl)
        return self.sync(ask=ask, **fields)


@pytest.fixture
def namespace() -> str:
    """Keys of this test alone."""
    return unique_namespace()


DEFAULTS = {"rpm": 100, "rpd": 10_000, "tpm": 1000, "tpd": 100_000}


@pytest.fixture
def fake_redis_url() -> Iterator[str]:
    """fakeredis serving the Redis protocol, as the Ray-held budget (`orchestrator._ray_budget`) does."""
    import threading

    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0), server_type="redis")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "redis://{}:{}/0".format(*server.server_address[:2])
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("store", ["redis", "fakeredis"])
def test_a_model_with_no_known_limit_gets_a_reply_that_decodes(store: str, request: pytest.FixtureRequest,
                                                                namespace: str) -> None:
    """No window with a limit leaves no table empty in the reply: lua-cjson dialects encode ``{}`` as ``{}`` or as
    ``[]`` (fakeredis's does), and an array where the reply has an object failed every client of the Ray-held
    budget on such a model."""
    url = request.getfixturevalue("redis_url" if store == "redis" else "fake_redis_url")
    reply = Store(url, namespace, "w0").ask(10, 100)
    assert reply.limits == reply.remaining == WindowLevels()
    assert reply.grant is not None and reply.grant.tokens == 100


class TestLeaseScript:
    def test_leases_across_workers_never_exceed_a_limit(self, redis_url: str, namespace: str) -> None:
        """Three workers asking for 300 tokens at a time get 1,000 in all (the last a partial lease); then they wait."""
        stores = [Store(redis_url, namespace, f"w{index}") for index in range(3)]
        granted = []
        for store in stores + stores:
            reply = store.ask(100, 300, defaults=DEFAULTS)
            granted.append(reply.grant.tokens if reply.grant else None)
        assert granted == [300, 300, 300, 100, None, None]
        denied = stores[0].ask(100, 300, defaults=DEFAULTS)
        # Leases are held apart until they come back; the answer is when 100 tokens would have refilled
        # (6 s at 1,000 a minute), after which the worker asks again.
        assert denied.grant is None and denied.wait == pytest.approx(6.0, abs=0.05)
        assert denied.remaining.tpm == 0 and denied.remaining.rpm == 96

    def test_returned_and_refunded_budget_can_be_leased_again(self, redis_url: str, namespace: str) -> None:
        """An unused lease rest and a refund go back to the shared windows at once."""
        first, second = Store(redis_url, namespace, "a"), Store(redis_url, namespace, "b")
        lease = first.ask(1000, 1000, defaults=DEFAULTS).grant
        assert lease is not None and second.ask(1, 1, defaults=DEFAULTS).wait is not None
        reply = first.sync(defaults=DEFAULTS, releases=(LeaseRelease(lease.id, 0, 400),), give_back_tokens=100)
        assert reply.remaining.tpm == 500
        assert second.ask(500, 500, defaults=DEFAULTS).grant.tokens == 500

    def test_a_release_returns_no_more_than_was_leased(self, redis_url: str, namespace: str) -> None:
        """Releasing more than a lease held (or the same lease twice) gives back only what it held, once."""
        store = Store(redis_url, namespace, "a")
        store.ask(200, 200, defaults=DEFAULTS)
        lease = store.ask(300, 300, defaults=DEFAULTS).grant
        assert lease is not None
        store.sync(defaults=DEFAULTS, releases=(LeaseRelease(lease.id, 5, 5000),))
        reply = store.sync(defaults=DEFAULTS, releases=(LeaseRelease(lease.id, 5, 5000),))
        assert (reply.remaining.tpm, reply.remaining.rpm) == (800, 99)

    def test_a_used_up_lease_is_charged_at_its_return_and_refills_from_then(self, redis_url: str, namespace: str) -> None:
        """A 30 s lease is held apart while out; used up and returned, it is charged then, full a minute later.

        Its requests reached the server no later than the return, so the server's bucket refills them no
        later than the shared one does.
        """
        first, second = Store(redis_url, namespace, "a"), Store(redis_url, namespace, "b")
        lease = first.ask(1000, 1000, ttl=30.0, defaults=DEFAULTS).grant
        assert lease is not None
        before = second.ask(1, 1, defaults=DEFAULTS)
        first.sync(defaults=DEFAULTS, releases=(LeaseRelease(lease.id, 0, 0),))
        after = second.ask(1, 1, defaults=DEFAULTS)
        assert before.grant is None and before.remaining.tpm == 0
        assert after.grant is None and after.remaining.tpm == 0
        assert 59.9 <= after.full_in.tpm <= 60.0 and after.wait == pytest.approx(0.06, abs=0.01)

    def test_a_replayed_request_is_applied_once(self, redis_url: str, namespace: str) -> None:
        """A request retried after a lost reply gets the same lease, and its give-backs count once.

        While leases are out, a give-back waits as credit against the used part of the next to come back.
        """
        store = Store(redis_url, namespace, "a")
        lease = store.ask(600, 600, defaults=DEFAULTS).grant
        assert lease is not None
        ask = LeaseAsk(id="a:again", need_requests=1, need_tokens=100, want_requests=1, want_tokens=100, ttl=1.0)
        first = store.sync("a:replayed", defaults=DEFAULTS, ask=ask, give_back_tokens=200)
        second = store.sync("a:replayed", defaults=DEFAULTS, ask=ask, give_back_tokens=200)
        assert first.grant == second.grant and first.grant is not None
        assert first.remaining.tpm == second.remaining.tpm == 300  # 600 + 100 held apart
        # The 600-token lease comes back used up: 600 charged less the 200 given back, once.
        settled = store.sync(defaults=DEFAULTS, releases=(LeaseRelease(lease.id, 0, 0),))
        assert settled.remaining.tpm == 500

    def test_what_one_worker_learns_every_worker_sees(self, redis_url: str, namespace: str) -> None:
        """A learned TPM limit and a 429 pause reported by one worker reach another's reply and block its lease."""
        teller, listener = Store(redis_url, namespace, "a"), Store(redis_url, namespace, "b")
        teller.sync(
            defaults=DEFAULTS,
            observations=(LimitObservation(window="tpm", limit=500),),
            pause=PauseReport(retry_after=5.0, window="tpm"),
        )
        reply = listener.ask(100, 100, defaults=DEFAULTS)
        assert reply.limits.tpm == 500 and 4.5 < reply.paused_for <= 5.0
        assert reply.grant is None and reply.wait >= reply.paused_for and reply.remaining.tpm == 0

    def test_headers_clamp_the_shared_view(self, redis_url: str, namespace: str) -> None:
        """When the server says 100 of 1,000 tokens remain, the shared window believes it until a refill could make up 900 (54 s)."""
        store = Store(redis_url, namespace, "a")
        reply = store.sync(defaults=DEFAULTS, observations=(LimitObservation(window="tpm", limit=1000, remaining=100),))
        assert reply.remaining.tpm == 100 and 53.5 < reply.full_in.tpm <= 54.25

    def test_a_need_over_the_limit_is_refused_not_waited_for(self, redis_url: str, namespace: str) -> None:
        """A lease whose need exceeds the whole TPM limit is answered 'exceeds TPM', not with a wait."""
        reply = Store(redis_url, namespace, "a").ask(1001, 1001, defaults=DEFAULTS)
        assert (reply.exceeds, reply.grant, reply.wait) == ("TPM", None, None)


# --- four clients, one emulator, one limit ----------------------------------------------------

SCALE = 30.0
TPM, RPM = 12_000, 1_000
JOBS_PER_CLIENT = 60


def jobs(client: int) -> Iterator[tuple[tuple[int, int], dict[str, object]]]:
    """``JOBS_PER_CLIENT`` jobs of about 215 tokens each."""
    for index in range(JOBS_PER_CLIENT):
        yield (client, index), {
            "model": MODEL,
            "messages": [{"role": "user", "content": f"client {client} question {index}"}],
            "max_completion_tokens": 200,
        }


class Outcome(msgspec.Struct, frozen=True):
    """What four clients did together: the share of the TPM limit used, requests, 429s, jobs failed."""

    used: float
    requests: int
    rate_limited: int
    failed: int


async def four_clients(redis_url: str | None) -> Outcome:
    """Run 4 clients against one loopback emulator, sharing a budget through ``redis_url`` if given."""
    settings = EmulatorSettings(
        latency="instant", time_scale=SCALE, limits={MODEL: (RPM, 10_000_000, TPM, 100_000_000)}, completion_tokens=(200, 200)
    )
    key = f"gsk_{uuid.uuid4().hex}"  # a fresh key: a fresh emulator limit and a fresh shared namespace
    limits = {MODEL: orchestrator.ModelLimits(rpm=RPM, rpd=10_000_000, tpm=TPM, tpd=100_000_000)}
    tokens = failed = 0
    answered: Counter[tuple[int, int]] = Counter()
    opened: list[float] = []  # the limit is measured from the first open client on (start-up is not the budget's)
    async with open_emulator_server(settings) as server:

        async def client(index: int) -> None:
            nonlocal tokens, failed
            options = {"redis_url": redis_url} if redis_url else {}
            async with orchestrator.open_client(
                api_key=key, base_url=server.base_url, time_scale=SCALE, workers=16, limits=limits, **options
            ) as groq:
                opened.append(time.monotonic())
                async with groq.map(jobs(index)) as results:
                    async for result in results:
                        answered[result.key] += 1
                        if result.error is None:
                            tokens += result.response.usage.total_tokens
                        else:
                            assert isinstance(result.error, orchestrator.RateLimitError), result.error
                            failed += 1

        with trio.fail_after(40):
            async with trio.open_nursery() as nursery:
                for index in range(4):
                    nursery.start_soon(client, index)
        elapsed = time.monotonic() - min(opened)
        stats = server.emulator.stats()
    assert set(answered.values()) == {1} and len(answered) == 4 * JOBS_PER_CLIENT
    return Outcome(tokens / (TPM * SCALE / 60.0 * elapsed), stats.requests, stats.rate_limited, failed)


class TestFourClients:
    async def test_sharing_a_budget_they_stay_within_the_limit_and_use_it(self, redis_url: str) -> None:
        """Four clients sharing one budget through Redis: under 1 % 429s, and at least 85 % of the TPM limit used together."""
        outcome = await four_clients(redis_url)
        assert outcome.failed == 0 and outcome.rate_limited < 0.01 * outcome.requests, outcome
        assert outcome.used >= 0.85, outcome

    async def test_without_the_shared_budget_they_overshoot(self) -> None:
        """The same four clients, each with its own in-process budget, together overshoot: many 429s (LiteLLM's flaw)."""
        outcome = await four_clients(None)
        assert outcome.rate_limited > 0.10 * outcome.requests, outcome


async def test_closing_a_client_returns_its_unused_lease(redis_url: str) -> None:
    """After one call, closing the client gives back the rest of its 750-token lease: only what was used stays spent."""
    key = f"gsk_{uuid.uuid4().hex}"
    limits = {MODEL: orchestrator.ModelLimits(rpm=RPM, rpd=10_000_000, tpm=TPM, tpd=100_000_000)}
    emulator = make_emulator(limits={MODEL: (RPM, 10_000_000, TPM, 100_000_000)})
    async with client_for(emulator, api_key=key, redis_url=redis_url, limits=limits) as groq:
        reply = await groq.chat.completions.create(model=MODEL, messages=user("hi"), max_completion_tokens=40)
        held = groq.rate_limits()[MODEL].remaining_tokens_minute
        closing = time.monotonic()
    store = Store(redis_url, budget_namespace(SecretString(key)), "observer")
    after = store.sync(defaults={"tpm": TPM, "rpm": RPM}).remaining
    # What refilled (at the limit per minute, real time) between the return and this look.
    refilled = (time.monotonic() - closing) / 60
    assert held <= TPM - 750  # while open, the whole lease counted as spent
    assert 0 <= after.tpm - (TPM - reply.usage.total_tokens) <= TPM * refilled + 1
    assert 0 <= after.rpm - (RPM - 1) <= RPM * refilled + 1


# --- failures ---------------------------------------------------------------------------------


async def test_an_unreachable_redis_fails_at_start_naming_it() -> None:
    """With nothing listening at the Redis URL, open_client raises CoordinationError naming the URL, password masked."""
    with trio.socket.socket() as probe:
        await probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"redis://:hunter2@127.0.0.1:{port}/0"
    with pytest.raises(CoordinationError) as caught:
        async with orchestrator.open_client(api_key="gsk_test", base_url="http://127.0.0.1:9/openai/v1", redis_url=url):
            pass
    message = str(caught.value)
    assert f"redis://:***@127.0.0.1:{port}/0" in message and "hunter2" not in message
    assert caught.value.url == f"redis://:***@127.0.0.1:{port}/0" and not caught.value.retryable


def write_jobs(path: Path, count: int) -> None:
    """A batch input of ``count`` small jobs."""
    with path.open("w") as out:
        for index in range(count):
            body = {"model": MODEL, "messages": [{"role": "user", "content": f"job {index}"}], "max_completion_tokens": 20}
            out.write(msgspec.json.encode({"custom_id": f"job-{index}", "body": body}).decode() + "\n")


def answered_ids(path: Path) -> Counter[str]:
    """How many result lines each custom_id has."""
    return Counter(msgspec.json.decode(line)["custom_id"] for line in path.read_bytes().splitlines() if line.strip())


async def test_redis_killed_mid_batch_stops_cleanly_and_resume_finishes(
    tmp_path: Path, redis_server: RedisServer, redis_url: str
) -> None:
    """SIGKILLing Redis mid-batch stops it with CoordinationError; results so far are kept once each, and a resume does the rest."""
    source, target = tmp_path / "jobs.jsonl", tmp_path / "out.jsonl"
    write_jobs(source, 300)
    # Limits the batch never reaches (this is about Redis, not throttling), but small enough that leases
    # are small (38 requests) and a worker keeps coming back for more.
    settings = EmulatorSettings(latency="instant", queue_time=0.05, limits={MODEL: (600, 1_000_000, 1_000_000, 100_000_000)})
    limits = {MODEL: orchestrator.ModelLimits(rpm=600, rpd=1_000_000, tpm=1_000_000, tpd=100_000_000)}
    failure: list[CoordinationError] = []
    async with open_emulator_server(settings) as server:

        def config(url: str) -> orchestrator.Config:
            return orchestrator.Config(api_key=f"gsk_{uuid.uuid4().hex}", base_url=server.base_url, workers=4, redis_url=url)

        async def batch() -> None:
            try:
                await run_batch_async(source, target, config=config(redis_server.url), limits=limits, quiet=True, handle_signals=False)
            except CoordinationError as error:
                failure.append(error)

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(batch)
                while not (target.exists() and len(answered_ids(target)) >= 40):
                    await trio.sleep(0.02)
                redis_server.kill()
            killed_at = len(answered_ids(target))
            assert failure and redis_server.url in str(failure[0]) and "unreachable" in str(failure[0])
            first_run = answered_ids(target)
            assert set(first_run.values()) == {1} and killed_at <= len(first_run) < 300
            summary = await run_batch_async(source, target, config=config(redis_url), limits=limits, quiet=True, handle_signals=False)
    final = answered_ids(target)
    assert summary.complete and len(final) == 300 and set(final.values()) == {1}


DYING_WORKER = """
import sys, trio
from actors._budget import ModelLimits
from orchestrator._redis_budget import RedisBudgets

async def main(url, namespace):
    budgets = RedisBudgets(url, lambda model: ModelLimits(rpm=100, tpm=1000), namespace=namespace,
                           time_scale=60.0, lease_fraction=0.9, lease_ttl=2.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(budgets.run)
        budget = budgets.get(sys.argv[3], trio.current_time())
        while budget.try_acquire(100, trio.current_time()) != 0.0:
            await trio.sleep(0.001)
        print("leased", *budget.held(trio.current_time()), flush=True)
        await trio.sleep_forever()

trio.run(main, sys.argv[1], sys.argv[2])
"""


async def test_a_killed_workers_lease_comes_back_when_it_expires(redis_url: str, namespace: str) -> None:
    """A worker SIGKILLed while holding 90 % of TPM loses only its lease: the budget is back ttl + one period after the lease."""
    worker = subprocess.Popen(
        [sys.executable, "-c", DYING_WORKER, redis_url, namespace, MODEL], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        line = await trio.to_thread.run_sync(worker.stdout.readline)
        leased_at = time.monotonic()
    finally:
        worker.kill()
        worker.wait()
    assert line.split() == ["leased", "89", "800"]  # 90 requests and 900 tokens leased, one job of 100 granted
    store = Store(redis_url, namespace, "survivor", scale=60.0)
    denied = store.ask(500, 500, defaults={"rpm": 100, "tpm": 1000})
    assert denied.remaining.tpm == 100 and denied.grant is None
    # The lease is held apart until its ttl (2 s) plus a scaled minute (1 s) after it was granted, then
    # counted as used up, and the window refills at 1,000 tokens a scaled minute: 400 more in 0.4 s.
    while (answer := store.ask(500, 500, defaults={"rpm": 100, "tpm": 1000})).grant is None:
        await trio.sleep(min(max(answer.wait or 0.0, 0.01), 0.1))
    assert answer.grant.tokens == 500
    assert 3.3 <= time.monotonic() - leased_at < 4.0


class TestLearnedLimitsTravel:
    def test_a_limit_one_worker_learned_from_a_429_body_reaches_another(self, redis_url: str, namespace: str) -> None:
        """Worker 1 reports RPM 1000 from a 429 body (as an observation); worker 2, which only knows the free
        tier's 30, is told 1000 in its very next reply, and grants accordingly."""
        first, second = Store(redis_url, namespace, "w1"), Store(redis_url, namespace, "w2")
        free = {"rpm": 30, "rpd": 1000, "tpm": 8000, "tpd": 200_000}
        first.sync(defaults=free, observations=(LimitObservation(window="rpm", limit=1000),))
        reply = second.sync(defaults=free)
        assert reply.limits.rpm == 1000
        assert reply.limits.tpm == 8000  # nothing learned there: the asker's default
