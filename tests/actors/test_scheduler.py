"""The scheduler actor under a virtual clock: exact release times, independence of lanes, backpressure."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
import heapq
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from actors._breaker import CircuitBreaker
from actors._budget import ModelLimits, RateBudgets, RequestExceedsLimit
from actors._job import Job, JobHandle
from actors._ports import Verdict
from actors._retry import RetryPolicy
from actors._scheduler import MAX_OVERTAKES, Scheduler, _remove_at
from actors._supervisor import BreakerGate
from orchestrator._engine import ProductFailures
from orchestrator import CircuitOpenError, RequestTooLargeError

LIMITS = {
    "slow": ModelLimits(rpm=30, rpd=10_000, tpm=100_000, tpd=1_000_000),
    "tiny": ModelLimits(rpm=100, tpm=50),
    "tokens": ModelLimits(rpm=100, tpm=100),
}


def limits_for(model: str) -> ModelLimits:
    return LIMITS.get(model, ModelLimits(rpm=1_000, rpd=100_000, tpm=10**9, tpd=10**9))


class Harness:
    """A scheduler whose released jobs are recorded (with their release time) and settled at once."""

    def __init__(self, scheduler: Scheduler, gate: BreakerGate, released: list[tuple[float, Job]]) -> None:
        self.scheduler = scheduler
        self.gate = gate
        self.released = released

    def times(self, model: str | None = None) -> list[float]:
        return [time for time, job in self.released if model is None or job.model == model]


@asynccontextmanager
async def running_scheduler(
    *, max_pending: int = 100, fail_fast: bool = False, settle: bool = True, learned: Callable[[str], bool] = lambda m: True
) -> AsyncIterator[Harness]:
    released: list[tuple[float, Job]] = []
    send, receive = trio.open_memory_channel[Job](0)
    gate = BreakerGate(CircuitBreaker(minimum_calls=2, half_open_probes=1, open_seconds=30.0), fail_fast=fail_fast, base_url="x", failures=ProductFailures())

    def too_large(job: Job, exceeded: RequestExceedsLimit) -> RequestTooLargeError:
        return RequestTooLargeError(f"{exceeded.window} {exceeded.limit} < {exceeded.requested}")

    retry = RetryPolicy(max_retries=2, initial_backoff=1.0, multiplier=2.0, jitter=False)
    budgets = RateBudgets(limits_for)
    scheduler = Scheduler(
        budgets, gate, send, max_pending=max_pending, learned=learned, too_large=too_large, retry=retry
    )

    async def consume() -> None:
        """Plays the pool and an instant server: each released job's grant is confirmed at once."""
        async for job in receive:
            now = trio.current_time()
            released.append((now, job))
            if job.charge_pending and job.model is not None:
                budgets.get(job.model, now).confirm(job.cost, now, job.output_cost)
                job.charge_pending = False
            if settle:
                job.settle("ok")

    async with trio.open_nursery() as nursery:
        await nursery.start(scheduler.run)
        nursery.start_soon(consume)
        yield Harness(scheduler, gate, released)
        nursery.cancel_scope.cancel()


def job(model: str | None = "fast", *, cost: int = 1, priority: int = 0) -> Job:
    return Job(model=model, method="POST", path="/chat/completions", content=b"{}", cost=cost, priority=priority)


class TestScheduler:
    async def test_a_30_rpm_model_releases_the_31st_job_when_one_request_has_refilled(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """Thirty jobs go at once (the bucket starts full); the next ones go one per refill of a request, 60 / 30 = 2 s."""
        async with running_scheduler() as harness:
            start = trio.current_time()
            handles = [JobHandle(job("slow")) for _ in range(32)]
            for handle in handles:
                await harness.scheduler.submit(handle._job)
            for handle in handles:
                assert await handle.result() == "ok"
            times = [t - start for t in harness.times("slow")]
        assert times[:30] == [0.0] * 30
        assert times[30:] == [pytest.approx(2.0), pytest.approx(4.0)]

    async def test_a_throttled_model_does_not_delay_another(self, autojump_clock: trio.abc.Clock) -> None:
        """Jobs for a fast model are released at once while a slow model's lane waits for budget."""
        async with running_scheduler() as harness:
            start = trio.current_time()
            jobs = [job("slow") for _ in range(40)] + [job("fast") for _ in range(40)]
            for each in jobs:
                await harness.scheduler.submit(each)
            for each in jobs[40:]:
                await each.wait()
            fast_done = trio.current_time() - start
            stats = harness.scheduler.statistics()
            for each in jobs[:40]:
                await each.wait()
        assert fast_done == 0.0
        assert stats.waiting_for_budget == 10 and stats.lanes == 2

    async def test_a_lane_waiting_for_budget_wakes_when_tokens_come_back(self, autojump_clock: trio.abc.Clock) -> None:
        """When an over-estimate is given back, the waiting job goes at once, not when the minute is over."""
        async with running_scheduler(settle=False) as harness:
            start = trio.current_time()
            first, second = job("tokens", cost=80), job("tokens", cost=80)
            await harness.scheduler.submit(first)
            await harness.scheduler.submit(second)
            await trio.sleep(5)
            assert len(harness.released) == 1
            budget = harness.scheduler._budgets.get("tokens", trio.current_time())
            budget.reconcile(80, 10, trio.current_time(), granted_at=first.granted_at)
            harness.scheduler.wake("tokens")
            while len(harness.released) < 2:
                await trio.sleep(0.01)
        assert harness.times()[1] - start == pytest.approx(5.0)

    async def test_submit_waits_when_max_pending_jobs_are_unsettled(self, autojump_clock: trio.abc.Clock) -> None:
        """With every pending slot taken, submit_nowait raises WouldBlock; settling a job frees a slot."""
        async with running_scheduler(max_pending=2, settle=False) as harness:
            first, second = job(), job()
            await harness.scheduler.submit(first)
            await harness.scheduler.submit(second)
            with pytest.raises(trio.WouldBlock):
                harness.scheduler.submit_nowait(job())
            assert harness.scheduler.statistics().pending == 2
            first.settle("done")
            harness.scheduler.submit_nowait(job())
            assert "2/2 pending" in repr(harness.scheduler)

    async def test_a_retryable_failure_is_released_again_after_its_retry_after(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """A worker reports a 429 saying "retry after 7 s": the scheduler releases the job 7 s later, spending budget again."""
        async with running_scheduler(settle=False) as harness:
            retry = job()
            await harness.scheduler.submit(retry)
            await trio.testing.wait_all_tasks_blocked()
            retry.attempts = 1
            error = RuntimeError("429")
            harness.scheduler.attempt_failed(retry, error, Verdict(kind="rate_limited", retryable=True, retry_after=7.0))
            assert harness.scheduler.statistics().delayed_for_retry == 1
            assert retry.granted_at is None and not retry.settled
            while len(harness.released) < 2:
                await trio.sleep(0.5)
            assert harness.scheduler.statistics().retried == 1
        first, second = harness.times()
        assert second - first == pytest.approx(7.0)

    async def test_backoff_grows_with_the_attempts_until_the_retries_run_out(self, autojump_clock: trio.abc.Clock) -> None:
        """Backoffs of 1 s then 2 s (initial 1, multiplier 2); the third failure exceeds max_retries=2 and settles."""
        async with running_scheduler(settle=False) as harness:
            flaky = job()
            await harness.scheduler.submit(flaky)
            server_error = RuntimeError("503")
            reported: list[float] = []
            for attempt in (1, 2, 3):
                while len(harness.released) < attempt:
                    await trio.sleep(0.25)
                flaky.attempts = attempt
                reported.append(trio.current_time())
                harness.scheduler.attempt_failed(flaky, server_error, Verdict(kind="server", retryable=True))
            outcome = await flaky.wait()
            stats = harness.scheduler.statistics()
        assert outcome.error is server_error
        released_again = harness.times()[1:]
        assert [later - failed for failed, later in zip(reported, released_again)] == [pytest.approx(1.0), pytest.approx(2.0)]
        assert (stats.retried, stats.failed, stats.pending) == (2, 1, 0)

    async def test_a_failure_that_is_not_retryable_settles_at_once(self, autojump_clock: trio.abc.Clock) -> None:
        """A 400 (or a caller's own cancellation) is never tried again: the job settles with the error."""
        async with running_scheduler(settle=False) as harness:
            refused = job()
            await harness.scheduler.submit(refused)
            await trio.testing.wait_all_tasks_blocked()
            refused.attempts = 1
            bad_request = ValueError("400")
            harness.scheduler.attempt_failed(refused, bad_request, Verdict(kind="other", retryable=False))
            assert (await refused.wait()).error is bad_request
            assert harness.scheduler.statistics().failed == 1
            assert len(harness.released) == 1

    async def test_a_jobs_own_max_retries_overrides_the_policy(self, autojump_clock: trio.abc.Clock) -> None:
        """``max_retries=0`` on the job: its first retryable failure is final."""
        async with running_scheduler(settle=False) as harness:
            once = job()
            once.max_retries = 0
            await harness.scheduler.submit(once)
            await trio.testing.wait_all_tasks_blocked()
            once.attempts = 1
            harness.scheduler.attempt_failed(once, RuntimeError("503"), Verdict(kind="server", retryable=True))
            assert (await once.wait()).error is not None
            assert harness.scheduler.statistics().retried == 0

    async def test_priority_orders_jobs_waiting_for_budget(self, autojump_clock: trio.abc.Clock) -> None:
        """Among jobs waiting on a throttled model, the highest priority is released first, then FIFO."""
        async with running_scheduler() as harness:
            jobs = [job("slow") for _ in range(30)]
            for each in jobs:
                await harness.scheduler.submit(each)
            late = [job("slow", priority=0), job("slow", priority=0), job("slow", priority=5)]
            for each in late:
                await harness.scheduler.submit(each)
            for each in late:
                await each.wait()
        order = [released for _, released in harness.released][30:]
        assert order == [late[2], late[0], late[1]]

    async def test_a_request_larger_than_a_learned_window_is_refused(self, autojump_clock: trio.abc.Clock) -> None:
        """A job needing more tokens than the whole TPM limit settles with RequestTooLargeError, unsent."""
        async with running_scheduler() as harness:
            big = job("tiny", cost=51)
            await harness.scheduler.submit(big)
            with pytest.raises(RequestTooLargeError, match="TPM 50 < 51"):
                await JobHandle(big).result()
        assert harness.released == []

    async def test_a_request_larger_than_default_limits_is_sent_for_the_server_to_judge(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """While the limits are only defaults (not learned), an oversized job is still released."""
        async with running_scheduler(learned=lambda model: False) as harness:
            big = job("tiny", cost=51)
            await harness.scheduler.submit(big)
            assert await JobHandle(big).result() == "ok"

    async def test_an_open_breaker_fails_jobs_fast_in_fail_mode(self, autojump_clock: trio.abc.Clock) -> None:
        """With the breaker open and when_open='fail', a job settles with CircuitOpenError and is not sent."""
        async with running_scheduler(fail_fast=True) as harness:
            harness.gate.record_failure()
            harness.gate.record_failure()
            refused = job()
            await harness.scheduler.submit(refused)
            with pytest.raises(CircuitOpenError) as caught:
                await JobHandle(refused).result()
        assert caught.value.retry_after == pytest.approx(30.0)
        assert harness.released == []

    async def test_an_open_breaker_holds_jobs_in_wait_mode(self, autojump_clock: trio.abc.Clock) -> None:
        """With the breaker open and when_open='wait', the job is released when the breaker half-opens."""
        async with running_scheduler() as harness:
            harness.gate.record_failure()
            harness.gate.record_failure()
            start = trio.current_time()
            held = job()
            await harness.scheduler.submit(held)
            await held.wait()
        assert harness.times()[0] - start == pytest.approx(30.0)

    async def test_submit_outside_a_running_scheduler_is_a_clear_error(self) -> None:
        """Submitting before run() started says how to use the scheduler."""
        send, _ = trio.open_memory_channel[Job](0)
        gate = BreakerGate(CircuitBreaker(), fail_fast=False, base_url="x", failures=ProductFailures())
        scheduler = Scheduler(RateBudgets(limits_for), gate, send, max_pending=1, learned=bool, too_large=RuntimeError)
        with pytest.raises(RuntimeError, match="open_client"):
            await scheduler.submit(job())

    def test_max_pending_must_be_positive(self) -> None:
        """A scheduler with no room at all is refused at construction."""
        send, _ = trio.open_memory_channel[Job](0)
        with pytest.raises(ValueError, match="max_pending"):
            Scheduler(RateBudgets(limits_for), None, send, max_pending=0, learned=bool, too_large=RuntimeError)  # type: ignore[arg-type]


class TestJob:
    async def test_a_job_settles_once(self) -> None:
        """Settling twice is a bug and says so; the first outcome stands."""
        one = job()
        one.settle("first")
        with pytest.raises(RuntimeError, match="settled twice"):
            one.settle("second")
        assert (await one.wait()).unwrap() == "first"

    async def test_handle_reports_errors_without_raising_on_outcome(self) -> None:
        """outcome() returns the error; result() raises it."""
        failing = job()
        handle = JobHandle(failing)
        assert not handle.done
        failing.settle(error=CircuitOpenError("open"))
        assert handle.done
        assert isinstance((await handle.outcome()).error, CircuitOpenError)
        with pytest.raises(CircuitOpenError):
            await handle.result()
        assert "done=True" in repr(handle) and "settled" in repr(failing)


class TestOvertaking:
    async def test_a_small_job_goes_ahead_of_a_big_one_waiting_for_budget(self, autojump_clock: trio.abc.Clock) -> None:
        """TPM 100: 80 tokens go, a 90-token head must wait; 2-token jobs behind it go at once, but four at most,
        though ten would fit: then the head goes first."""
        async with running_scheduler() as harness:
            first, big = job("tokens", cost=80), job("tokens", cost=90)
            small = [job("tokens", cost=2) for _ in range(6)]
            for each in (first, big, *small):
                await harness.scheduler.submit(each)
            await trio.testing.wait_all_tasks_blocked()
            released_at_once = [released for time, released in harness.released if time == 0.0]
            for each in (big, *small):
                await each.wait()
        assert released_at_once == [first, *small[:MAX_OVERTAKES]]
        assert big.overtaken == MAX_OVERTAKES
        order = [released for _, released in harness.released]
        assert order.index(big) < order.index(small[MAX_OVERTAKES])  # then the big one goes first


@given(st.lists(st.integers(-3, 3), min_size=1, max_size=60), st.data())
def test_removing_any_job_keeps_the_heap_order(priorities: list[int], data: st.DataObject) -> None:
    heap: list[Job] = []
    for priority in priorities:
        heapq.heappush(heap, job(priority=priority))
    index = data.draw(st.integers(0, len(heap) - 1))
    removed = heap[index]
    expected = sorted(each for each in heap if each is not removed)
    _remove_at(heap, index)
    assert all(not heap[child] < heap[(child - 1) // 2] for child in range(1, len(heap)))
    assert [heapq.heappop(heap) for _ in range(len(heap))] == expected
