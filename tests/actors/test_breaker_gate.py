"""The breaker gate and the scheduler around it, under a virtual clock: bounded waits, wake-ups, the retry budget."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from actors._breaker import BreakerState, CircuitBreaker
from actors._budget import ModelLimits, RateBudgets, RequestExceedsLimit
from actors._job import Job
from actors._ports import Verdict
from actors._retry import RetryPolicy
from actors._retry_budget import RetryBudget
from actors._scheduler import Scheduler
from actors._supervisor import BreakerGate
from orchestrator import CircuitOpenError, RequestTooLargeError
from orchestrator._engine import ProductFailures


def limits_for(model: str) -> ModelLimits:
    return ModelLimits(rpm=10**6, rpd=10**9, tpm=10**9, tpd=10**9)


def job() -> Job:
    return Job(model="fast", method="POST", path="/chat/completions", content=b"{}", cost=1)


class Harness:
    """A scheduler whose released jobs are recorded (time, job); the test settles them or reports failures."""

    def __init__(self, scheduler: Scheduler, gate: BreakerGate, released: list[tuple[float, Job]]) -> None:
        self.scheduler = scheduler
        self.gate = gate
        self.released = released


@asynccontextmanager
async def running(
    *, max_wait: float | None = 60.0, fail_fast: bool = False, budget: RetryBudget | None = None, probes: int = 1
) -> AsyncIterator[Harness]:
    released: list[tuple[float, Job]] = []
    send, receive = trio.open_memory_channel[Job](0)
    breaker = CircuitBreaker(minimum_calls=2, half_open_probes=probes, open_seconds=30.0)
    gate = BreakerGate(breaker, fail_fast=fail_fast, base_url="https://x.test", failures=ProductFailures(), max_wait=max_wait)

    def too_large(job: Job, exceeded: RequestExceedsLimit) -> RequestTooLargeError:
        return RequestTooLargeError("too large")

    scheduler = Scheduler(
        RateBudgets(limits_for), gate, send, max_pending=100, learned=lambda m: True, too_large=too_large,
        retry=RetryPolicy(max_retries=3, initial_backoff=1.0, jitter=False), retry_budget=budget,
    )  # fmt: skip

    async def consume() -> None:
        async for each in receive:
            released.append((trio.current_time(), each))

    with trio.fail_after(3600):  # virtual seconds: a test that would hang fails instead
        async with trio.open_nursery() as nursery:
            await nursery.start(scheduler.run)
            nursery.start_soon(consume)
            yield Harness(scheduler, gate, released)
            nursery.cancel_scope.cancel()


def trip(gate: BreakerGate) -> None:
    gate.record_failure(RuntimeError("HTTP 503 from upstream"))
    gate.record_failure(RuntimeError("HTTP 503 from upstream"))
    assert gate.state is BreakerState.OPEN


class TestMaxWait:
    async def test_a_held_job_fails_once_the_outage_lasted_max_wait(self, autojump_clock: trio.abc.Clock) -> None:
        """Held in wait mode, a job fails with CircuitOpenError exactly max_wait (45 s) after the breaker opened."""
        async with running(max_wait=45.0) as harness:
            start = trio.current_time()
            trip(harness.gate)
            probe, held = job(), job()
            await harness.scheduler.submit(probe)
            await harness.scheduler.submit(held)
            outcome = await held.wait()
            waited = trio.current_time() - start
        assert isinstance(outcome.error, CircuitOpenError)
        assert waited == pytest.approx(45.0)
        assert outcome.error.waited == pytest.approx(45.0)
        # The half-open probe went at 30 s (its outcome never came); the other job was held, then failed.
        assert [(t - start, each) for t, each in harness.released] == [(pytest.approx(30.0), probe)]

    async def test_after_max_wait_new_jobs_fail_at_once_until_the_breaker_closes(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """Once the outage outlasted max_wait, a new job fails without waiting; after recovery jobs flow again."""
        async with running(max_wait=10.0) as harness:
            trip(harness.gate)
            await trio.sleep(11.0)
            late = job()
            await harness.scheduler.submit(late)
            before = trio.current_time()
            outcome = await late.wait()
            assert isinstance(outcome.error, CircuitOpenError) and trio.current_time() == before
            await trio.sleep(20.0)  # half-open at 30 s
            probe = job()
            await harness.scheduler.submit(probe)
            await trio.testing.wait_all_tasks_blocked()
            assert harness.released[-1][1] is probe
            harness.gate.record_success(probe)
            assert harness.gate.state is BreakerState.CLOSED
            after = job()
            await harness.scheduler.submit(after)
            await trio.testing.wait_all_tasks_blocked()
            assert harness.released[-1][1] is after

    async def test_without_max_wait_jobs_wait_for_recovery(self, autojump_clock: trio.abc.Clock) -> None:
        """max_wait=None keeps the old behaviour: held jobs are never failed, however long the outage lasts."""
        async with running(max_wait=None, probes=1) as harness:
            trip(harness.gate)
            for _ in range(10):
                await harness.scheduler.submit(job())
            for _ in range(10):  # every probe fails: the outage goes on for 10 rounds
                await trio.sleep(30.0)
                await trio.testing.wait_all_tasks_blocked()
                harness.gate.record_failure(RuntimeError("503"), harness.released[-1][1])
            assert len(harness.released) == 10
            assert not any(each.settled for _, each in harness.released)

    async def test_the_error_says_what_failed_and_what_to_do(self, autojump_clock: trio.abc.Clock) -> None:
        """The message names the base URL, the failure share and the last failure; the advice names max_wait."""
        async with running(max_wait=5.0) as harness:
            trip(harness.gate)
            held = job()
            await harness.scheduler.submit(held)
            error = (await held.wait()).error
        text = str(error)
        assert "https://x.test" in text and "2 of the last 2 answered requests failed" in text
        assert "HTTP 503 from upstream" in text and "max_wait" in text and "status page" in text
        assert error.retryable  # resending later can work

    async def test_the_give_up_is_logged_once_per_outage(self, autojump_clock: trio.abc.Clock) -> None:
        """An operator sees one breaker_wait_exceeded event however many jobs fail because of it."""
        log_events: list[tuple[str, dict[str, object]]] = []

        class Log:
            def trace_enabled(self) -> bool:
                return False

            def __getattr__(self, level: str):  # type: ignore[no-untyped-def]
                return lambda event, **fields: log_events.append((event, fields))

        gate = BreakerGate(
            CircuitBreaker(minimum_calls=2), fail_fast=False, base_url="u", failures=ProductFailures(), max_wait=1.0,
            log=Log(),  # type: ignore[arg-type]
        )  # fmt: skip
        trip(gate)
        now = trio.current_time() + 2.0
        assert [gate.fails_now(now) for _ in range(5)] == [True] * 5
        assert [event for event, _ in log_events].count("breaker_wait_exceeded") == 1


class TestWakeUps:
    async def test_a_waiting_lane_wakes_when_the_probe_round_closes_the_breaker(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """With every probe permit out, a held job goes as soon as the probes close the breaker, not 30 s later."""
        async with running(max_wait=None, probes=1) as harness:
            start = trio.current_time()
            trip(harness.gate)
            probe, held = job(), job()
            await harness.scheduler.submit(probe)
            await harness.scheduler.submit(held)
            await trio.sleep(31.0)
            assert [each for _, each in harness.released] == [probe]
            harness.gate.record_success(probe)
            await trio.testing.wait_all_tasks_blocked()
            assert [each for _, each in harness.released] == [probe, held]
            assert harness.released[1][0] - start == pytest.approx(31.0)

    async def test_fail_fast_is_unchanged(self, autojump_clock: trio.abc.Clock) -> None:
        """when_open='fail' still fails a job at once, with the plain open-breaker advice."""
        async with running(fail_fast=True) as harness:
            trip(harness.gate)
            refused = job()
            await harness.scheduler.submit(refused)
            error = (await refused.wait()).error
        assert isinstance(error, CircuitOpenError) and error.waited is None
        assert "when_open='wait'" in str(error) and error.retry_after == pytest.approx(30.0)


class TestRetryBudgetInTheScheduler:
    async def test_a_spent_budget_makes_a_server_failure_final(self, autojump_clock: trio.abc.Clock) -> None:
        """With no budget left, a retryable 503 settles with its own error instead of going back to the lane."""
        async with running(budget=RetryBudget(ratio=0.0, min_per_second=0.0)) as harness:
            failing = job()
            await harness.scheduler.submit(failing)
            await trio.testing.wait_all_tasks_blocked()
            failing.attempts = 1
            error = RuntimeError("503")
            harness.scheduler.attempt_failed(failing, error, Verdict(kind="server", retryable=True))
            assert (await failing.wait()).error is error
            assert harness.scheduler.statistics().retried == 0

    async def test_a_429_never_spends_the_budget(self, autojump_clock: trio.abc.Clock) -> None:
        """A rate-limited job is retried whatever the budget says: waiting out a 429 is not an outage."""
        async with running(budget=RetryBudget(ratio=0.0, min_per_second=0.0)) as harness:
            limited = job()
            await harness.scheduler.submit(limited)
            await trio.testing.wait_all_tasks_blocked()
            limited.attempts = 1
            harness.scheduler.attempt_failed(
                limited, RuntimeError("429"), Verdict(kind="rate_limited", retryable=True, retry_after=2.0)
            )
            await trio.sleep(3.0)
            assert len(harness.released) == 2 and not limited.settled

    async def test_first_attempts_earn_retries(self, autojump_clock: trio.abc.Clock) -> None:
        """Ten jobs sent earn two retries at 20 % (no floor): the third failure is final."""
        budget = RetryBudget(ratio=0.2, min_per_second=0.0)
        async with running(budget=budget) as harness:
            jobs = [job() for _ in range(10)]
            for each in jobs:
                await harness.scheduler.submit(each)
            await trio.testing.wait_all_tasks_blocked()
            assert budget.statistics(trio.current_time()).first_attempts == 10
            for each in jobs[:3]:
                each.attempts = 1
                harness.scheduler.attempt_failed(each, RuntimeError("500"), Verdict(kind="server", retryable=True))
            assert [each.settled for each in jobs[:3]] == [False, False, True]
