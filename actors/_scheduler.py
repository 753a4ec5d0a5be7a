"""The scheduler actor: holds jobs until the rate budget and the breaker let them go.

Theory of operation
-------------------
Groq limits each model separately, so the scheduler keeps one *lane* per model. A lane is
a small priority heap of jobs and one trio task that loops::

    pick the most urgent ready job -> ask the model's RateBudget -> ask the breaker gate
    -> hand the job to the pool (a zero-buffer channel: it waits for a free worker)

A lane that must wait for budget sleeps exactly as long as the budget says, so a job for
a throttled model never delays jobs for another model. While the head job waits, a smaller
job among the next few that fits now may go ahead of it, a few times at most
(:data:`MAX_OVERTAKES`), so a big request cannot hold up small ones for long and is never
starved by them either. Retries come back to the lane
with a ``not_before`` time and spend budget like any request.

The workers only report: an attempt failed, with this verdict. The scheduler decides what
follows: another attempt after the backoff the pure :class:`~actors._retry.RetryPolicy`
computes (and never before a 429's ``retry-after``), or the job settles with the error.

Memory is bounded by one semaphore: a job takes a *pending slot* when it is submitted and
gives it back when it is settled. ``submit`` therefore waits (backpressure) once
``max_pending`` jobs are queued or in flight, and the heaps can never hold more than
that many jobs.

The decisions themselves (how long to wait, whether the breaker allows, how long to back
off) live in the pure machines ``actors._budget``, ``actors._breaker`` and ``actors._retry``;
this module only sleeps and moves jobs.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable

import msgspec
import trio

from ._budget import RateBudgets, RequestExceedsLimit
from ._job import Job
from ._observer import NullObserver, Observer
from ._ports import Log, NullLog, Verdict
from ._retry import RetryPolicy
from ._retry_budget import RetryBudget
from ._supervisor import BreakerGate

__all__ = ["LOOKAHEAD", "MAX_OVERTAKES", "Scheduler", "SchedulerStatistics"]

#: How many jobs behind a waiting head job are looked at for one that fits now.
LOOKAHEAD = 8
#: How many smaller jobs may go ahead of one waiting job: each delays it by its own cost's refill.
MAX_OVERTAKES = 4


class SchedulerStatistics(msgspec.Struct, frozen=True):
    """A snapshot of the scheduler: how many jobs wait, and why; how many attempts it retried or gave up."""

    pending: int
    queued: int
    waiting_for_budget: int
    delayed_for_retry: int
    lanes: int
    retried: int
    failed: int


class _Lane:
    """The jobs of one model, and the task that releases them."""

    __slots__ = ("model", "ready", "delayed", "wakeup", "waiting_for_budget")

    def __init__(self, model: str | None) -> None:
        self.model = model
        self.ready: list[Job] = []
        self.delayed: list[tuple[float, int, Job]] = []
        self.wakeup = trio.Event()
        self.waiting_for_budget = False

    def push(self, job: Job, now: float) -> None:
        if job.not_before > now:
            heapq.heappush(self.delayed, (job.not_before, job.seq, job))
        else:
            heapq.heappush(self.ready, job)
        self.wakeup.set()

    def promote(self, now: float) -> None:
        delayed = self.delayed
        while delayed and delayed[0][0] <= now:
            heapq.heappush(self.ready, heapq.heappop(delayed)[2])


class Scheduler:
    """Per-model lanes between ``submit`` and the worker pool.

    Args:
        budgets: the per-model rate budgets (pure state, shared with the workers, which feed
            it response headers).
        gate: the circuit-breaker gate in front of the pool.
        dispatch: where released jobs go; the pool's workers receive from the other end.
        max_pending: how many jobs may be queued or in flight at once.
        learned: tells whether a model's limits came from the server (then a request bigger
            than a whole window is refused locally) or are still defaults (then it is sent, and
            the server decides).
        too_large: the error a job gets when it can never fit its model's window.
        retry: how often, and after how long, a retryable failure is tried again.
        retry_budget: how many retries of server trouble the whole client may make (a share of its
            recent first attempts); None: as many as ``retry`` allows.
        rng: the jitter's source (seed it for reproducible backoffs).
        observer: telemetry, told about submissions, retries and settlements.
        log: where retries are logged.
    """

    def __init__(
        self,
        budgets: RateBudgets,
        gate: BreakerGate,
        dispatch: trio.MemorySendChannel[Job],
        *,
        max_pending: int,
        learned: Callable[[str], bool],
        too_large: Callable[[Job, RequestExceedsLimit], BaseException],
        retry: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        rng: random.Random | None = None,
        observer: Observer | None = None,
        log: Log | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending!r}")
        self._budgets = budgets
        self._gate = gate
        self._dispatch = dispatch
        self._pending = trio.Semaphore(max_pending)
        self._max_pending = max_pending
        self._learned = learned
        self._too_large = too_large
        self._retry = retry or RetryPolicy()
        self._retry_budget = retry_budget
        self._rng = rng or random.Random()
        self._observer = observer or NullObserver()
        self._log = log or NullLog()
        self._retried = 0
        self._failed = 0
        self._lanes: dict[str | None, _Lane] = {}
        self._nursery: trio.Nursery | None = None

    # -- submission ---------------------------------------------------------------------

    async def submit(self, job: Job) -> None:
        """Queue a job, waiting for a pending slot if ``max_pending`` jobs are under way."""
        await self._pending.acquire()
        self._admit(job)

    def submit_nowait(self, job: Job) -> None:
        """Queue a job now, or raise :class:`trio.WouldBlock` if no pending slot is free."""
        self._pending.acquire_nowait()
        self._admit(job)

    def try_direct(self, job: Job, *, pool_idle: bool) -> bool:
        """Take a pending slot and grant the job at once, if nothing could be overtaken by it.

        True only when the job's lane holds no other job, the pool has an idle worker, the
        budget grants now and the breaker is closed: then the caller may send the job
        itself (one task instead of three). Otherwise nothing changes and the job must go
        through :meth:`submit`.
        """
        if not pool_idle:
            return False
        lane = self._lanes.get(job.model)
        if (lane is not None and (lane.ready or lane.delayed)) or self._pending.value == 0:
            return False
        now = trio.current_time()
        if job.model is not None:
            try:
                if self._budgets.get(job.model, now).try_acquire(job.cost, now, job.output_cost) > 0:
                    return False
            except RequestExceedsLimit:
                return False  # the lane decides whether to refuse it or let the server judge
            job.granted_at = now
            job.charge_pending = True
        if self._gate.closed_for(now, job) is not None:
            self._refund(job, now)
            return False
        self._pending.acquire_nowait()
        self._bind_release(job)
        self._deposit(job, now)
        return True

    def _admit(self, job: Job) -> None:
        self._bind_release(job)
        self._lane(job.model).push(job, trio.current_time())

    def _bind_release(self, job: Job) -> None:
        """Free the job's pending slot, and tell the observer, once the job is settled."""
        release = self._pending.release
        observer = self._observer

        def settled(settled_job: Job) -> None:
            release()
            observer.job_settled(settled_job)

        job.call_first_on_settle(settled)
        observer.job_submitted(job)

    def wake(self, model: str | None) -> None:
        """Tell a model's lane that budget came back (a refund or an over-estimate), so it looks again now."""
        lane = self._lanes.get(model)
        if lane is not None:
            lane.wakeup.set()

    def attempt_failed(self, job: Job, error: Exception, verdict: Verdict) -> None:
        """A worker reports a failed attempt: queue the job again after a backoff, or settle it with ``error``.

        A retry keeps the pending slot the job already holds, so it never waits for one; it waits
        for budget like any new request.
        """
        max_retries = job.max_retries if job.max_retries is not None else self._retry.max_retries
        if not verdict.retryable or job.attempts > max_retries or not self._affords_retry(job, error, verdict):
            self._failed += 1
            job.settle(error=error)
            return
        delay = self._retry.delay(job.attempts, verdict.retry_after, self._rng.random())
        self._retried += 1
        self._observer.retry_scheduled(job, error, delay)
        self._log.info(
            "retrying",
            model=job.model,
            path=job.path,
            attempt=job.attempts,
            delay=round(delay, 3),
            error=type(error).__name__,
            status=getattr(error, "status", None),
            request_id=getattr(error, "request_id", None),
        )
        now = trio.current_time()
        job.not_before = now + delay
        job.granted_at = None
        self._lane(job.model).push(job, now)

    def _deposit(self, job: Job, now: float) -> None:
        """A job goes for its first attempt: it earns the client a share of a retry."""
        if self._retry_budget is not None and job.attempts == 0:
            self._retry_budget.deposit(now)

    def _affords_retry(self, job: Job, error: Exception, verdict: Verdict) -> bool:
        """Whether the retry budget pays for retrying ``job``; only server trouble spends it (a 429 never)."""
        budget = self._retry_budget
        if budget is None or verdict.kind != "server" or budget.try_withdraw(trio.current_time()):
            return True
        self._log.info(
            "retry_budget_spent",
            model=job.model,
            path=job.path,
            attempt=job.attempts,
            error=type(error).__name__,
            status=getattr(error, "status", None),
        )
        return False

    def _lane(self, model: str | None) -> _Lane:
        lane = self._lanes.get(model)
        if lane is None:
            if self._nursery is None:
                raise RuntimeError("the scheduler is not running; use it inside open_client()")
            lane = self._lanes[model] = _Lane(model)
            self._nursery.start_soon(self._run_lane, lane, name=f"scheduler lane {model}")
        return lane

    # -- the actor ------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the lanes until cancelled."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    async def _run_lane(self, lane: _Lane) -> None:
        while True:
            now = trio.current_time()
            lane.promote(now)
            if not lane.ready:
                lane.wakeup = trio.Event()
                if lane.delayed:
                    with trio.move_on_at(lane.delayed[0][0]):
                        await lane.wakeup.wait()
                else:
                    await lane.wakeup.wait()
                continue
            job, index = lane.ready[0], 0
            wait = self._acquire_budget(job, now)
            if job.settled:
                heapq.heappop(lane.ready)
                continue
            if wait > 0:
                overtaking = self._overtaking(lane, job, now)
                if overtaking is None:
                    # Sleep until the budget has room, or until something may have changed that:
                    # budget given back (wake), or a new job that may be cheaper or more urgent (push).
                    lane.waiting_for_budget = True
                    lane.wakeup = trio.Event()
                    with trio.move_on_after(wait):
                        await lane.wakeup.wait()
                    lane.waiting_for_budget = False
                    continue
                index = overtaking
                job = lane.ready[index]
            closed_for = self._gate.closed_for(now, job)
            if closed_for is not None:
                self._refund(job, now)
                if self._gate.fails_now(now):  # fail-fast mode, or held past max_wait
                    _remove_at(lane.ready, index)
                    job.settle(error=self._gate.open_error(closed_for, now))
                else:
                    await self._gate.wait(closed_for)  # wakes early when the breaker changes state
                continue
            _remove_at(lane.ready, index)
            self._deposit(job, now)
            await self._dispatch.send(job)

    def _overtaking(self, lane: _Lane, head: Job, now: float) -> int | None:
        """The heap index of a smaller job behind ``head`` that was just granted, if one fits now."""
        if head.overtaken >= MAX_OVERTAKES:
            return None
        ready = lane.ready
        for index in range(1, min(len(ready), 1 + LOOKAHEAD)):
            candidate = ready[index]
            if candidate.settled or candidate.cost >= head.cost:
                continue
            if self._acquire_budget(candidate, now) == 0.0 and not candidate.settled:
                head.overtaken += 1
                return index
        return None

    def _acquire_budget(self, job: Job, now: float) -> float:
        """Spend the job's budget, or say how long to wait; settles jobs that can never fit."""
        if job.model is None or job.granted_at is not None:
            return 0.0
        budget = self._budgets.get(job.model, now)
        try:
            wait = budget.try_acquire(job.cost, now, job.output_cost)
        except RequestExceedsLimit as exceeded:
            if self._learned(job.model):
                job.settle(error=self._too_large(job, exceeded))
                return 0.0
            # The limits are still defaults: let the server be the judge.
            return 0.0
        if wait == 0.0:
            job.granted_at = now
            job.charge_pending = True
        return wait

    def _refund(self, job: Job, now: float) -> None:
        if job.model is not None and job.granted_at is not None:
            self._budgets.get(job.model, now).refund(
                job.cost, now, granted_at=job.granted_at, output_tokens=job.output_cost
            )
            job.granted_at = None
            job.charge_pending = False

    def statistics(self) -> SchedulerStatistics:
        """How many jobs are pending, queued, throttled and delayed for a retry."""
        queued = sum(len(lane.ready) for lane in self._lanes.values())
        delayed = sum(len(lane.delayed) for lane in self._lanes.values())
        waiting = sum(len(lane.ready) for lane in self._lanes.values() if lane.waiting_for_budget)
        return SchedulerStatistics(
            pending=self._max_pending - self._pending.value,
            queued=queued,
            waiting_for_budget=waiting,
            delayed_for_retry=delayed,
            lanes=len(self._lanes),
            retried=self._retried,
            failed=self._failed,
        )

    def __repr__(self) -> str:
        stats = self.statistics()
        return (
            f"<Scheduler {stats.pending}/{self._max_pending} pending, {stats.queued} queued, "
            f"{stats.waiting_for_budget} waiting for budget, {stats.lanes} lanes>"
        )


def _remove_at(heap: list[Job], index: int) -> None:
    """Remove ``heap[index]``, keeping the heap order (the head when ``index`` is 0)."""
    if index == 0:
        heapq.heappop(heap)
        return
    last = heap.pop()
    if index < len(heap):
        heap[index] = last
        _sift(heap, index)


def _sift(heap: list[Job], index: int) -> None:
    """Restore the heap order around ``index`` after its item was replaced."""
    item = heap[index]
    while index > 0 and item < heap[(parent := (index - 1) // 2)]:
        heap[index] = heap[parent]
        index = parent
    heap[index] = item
    size = len(heap)
    while (child := 2 * index + 1) < size:
        if child + 1 < size and heap[child + 1] < heap[child]:
            child += 1
        if not heap[child] < item:
            break
        heap[index] = heap[child]
        index = child
    heap[index] = item
