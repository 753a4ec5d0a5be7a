"""A job: one HTTP call to Groq, carried between the actors until it has an outcome.

Theory of operation
-------------------
A caller's request is encoded once, at submission, into a :class:`Job`. The job then
travels: scheduler lane (waits for rate budget and the breaker) -> a pool worker (sends
it) -> back to the lane if the worker decides to retry -> finally an outcome is
*settled* exactly once, through :meth:`Job.settle`. Settling wakes whoever waits on the
job (a :class:`JobHandle`) and runs the completion callback that ``map`` uses to feed
its result channel. Nothing else ever completes a job, so a job can neither be lost
nor answered twice.

Streaming jobs settle with a *stream* (the response is open and a decoder task owns it)
instead of a parsed body; the chunks then travel on the stream's own channel. A *raw
stream* job (``raw_stream=True``, a file download) settles with the open
``httpx.Response`` itself, which its caller reads and closes.

A body is usually bytes, encoded once. A body too large to hold in memory (a 100 MB
upload) is a :class:`BodySource` instead: the worker asks it for a fresh iterator on every
attempt, so a retry sends the whole body again from its first byte.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any, Protocol

import trio

if TYPE_CHECKING:
    from ._ports import Chunks

__all__ = ["BodySource", "Job", "JobHandle", "Outcome"]

_sequence = itertools.count()


class BodySource(Protocol):
    """A request body produced chunk by chunk, restartable: what a job sends instead of bytes when the body is big.

    The job must also carry the body's exact ``content-length`` header, so httpx sends it
    as is (not chunked) and the server can refuse an oversized upload before reading it.
    The iterator may raise only the errors of the pool's ``Failures`` port (the product's
    errors): anything else would escape the worker.
    """

    def open(self) -> AsyncIterator[bytes]:
        """A new iterator over the whole body, from its first byte (called once per attempt)."""
        ...


class Outcome:
    """What became of a job: a value (response or stream) or an error, plus wire facts.

    ``status_code`` and ``request_id`` are those of the last HTTP response seen (None when
    the job never reached the server), and ``attempts`` counts every send.
    """

    __slots__ = ("value", "error", "status_code", "request_id", "attempts")

    def __init__(
        self,
        value: Any = None,
        error: BaseException | None = None,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        attempts: int = 0,
    ) -> None:
        self.value = value
        self.error = error
        self.status_code = status_code
        self.request_id = request_id
        self.attempts = attempts

    def unwrap(self) -> Any:
        """Return the value, or raise the error the job ended with."""
        if self.error is not None:
            raise self.error
        return self.value


class Job:
    """One request on its way through scheduler, breaker and pool.

    A job is deliberately small (``__slots__``, the body encoded once) because ten
    thousand of them may wait in the scheduler at once.
    """

    __slots__ = (
        "seq",
        "model",
        "method",
        "path",
        "content",
        "headers",
        "stream",
        "raw_stream",
        "cost",
        "output_cost",
        "prompt_estimate",
        "priority",
        "timeout",
        "max_retries",
        "decode",
        "key",
        "attempts",
        "not_before",
        "granted_at",
        "charge_pending",
        "overtaken",
        "last_status",
        "last_request_id",
        "breaker_ticket",
        "trace",
        "chunks",
        "_done",
        "_outcome",
        "_on_settle",
    )

    def __init__(
        self,
        *,
        model: str | None,
        method: str,
        path: str,
        content: bytes | BodySource | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        raw_stream: bool = False,
        cost: int = 0,
        output_cost: int = 0,
        prompt_estimate: int = 0,
        priority: int = 0,
        timeout: float | None = None,
        max_retries: int | None = None,
        decode: Callable[[bytes], Any] | None = None,
        key: Any = None,
        on_settle: Callable[[Job], None] | None = None,
        chunks: Chunks | None = None,
    ) -> None:
        self.seq = next(_sequence)
        self.model = model
        self.method = method
        self.path = path
        self.content = content
        self.headers = headers
        self.stream = stream
        #: Settle with the open ``httpx.Response`` (not decoded, not an SSE stream); its caller closes it.
        self.raw_stream = raw_stream
        self.cost = cost
        self.output_cost = output_cost
        self.prompt_estimate = prompt_estimate
        self.priority = priority
        self.timeout = timeout
        self.max_retries = max_retries
        self.decode = decode
        self.key = key
        self.attempts = 0
        self.not_before = 0.0
        self.granted_at: float | None = None
        #: The budget holds this job's grant apart until a response confirms it (``RateBudget.confirm``).
        self.charge_pending = False
        #: How many smaller jobs went ahead of this one while it waited for budget (bounded).
        self.overtaken = 0
        self.last_status: int | None = None
        self.last_request_id: str | None = None
        #: The breaker's ticket for the attempt in flight (its place in the breaker's window).
        self.breaker_ticket: int | None = None
        #: Per-job state of the telemetry observer (a span, a start time); the actors never read it.
        self.trace: Any = None
        #: The ``Chunks`` port that reads this job's stream events and usage, when they are not the pool's
        #: (another endpoint's event format, e.g. the Responses API's); None: the pool's own (chat).
        self.chunks = chunks
        self._done: trio.Event | None = None
        self._outcome: Outcome | None = None
        self._on_settle = on_settle

    @property
    def settled(self) -> bool:
        """True once the job has its outcome."""
        return self._outcome is not None

    @property
    def outcome(self) -> Outcome | None:
        """The outcome, or None while the job is still under way."""
        return self._outcome

    def settle(self, value: Any = None, error: BaseException | None = None) -> None:
        """Give the job its one and only outcome and wake its waiter.

        Raises:
            RuntimeError: if the job was already settled; that would be a bug in an actor.
        """
        if self._outcome is not None:
            raise RuntimeError(f"job {self.seq} settled twice")
        # An error that wants to know how many sends came before it was final (the product's errors: once
        # the retries have run out, their advice is no longer "this is retried") has ``note_attempts``.
        note_attempts = getattr(error, "note_attempts", None)
        if note_attempts is not None:
            note_attempts(self.attempts)
        self._outcome = Outcome(
            value,
            error,
            status_code=self.last_status,
            request_id=self.last_request_id,
            attempts=self.attempts,
        )
        if self._done is not None:
            self._done.set()
        if self._on_settle is not None:
            self._on_settle(self)

    def call_first_on_settle(self, callback: Callable[[Job], None]) -> None:
        """Call ``callback(job)`` once the job is settled, before the callbacks already registered.

        The scheduler frees the job's pending slot this way, ahead of the caller's own
        ``on_settle``, without reaching into the job's private state.
        """
        later = self._on_settle
        if later is None:
            self._on_settle = callback
            return

        def both(job: Job) -> None:
            callback(job)
            later(job)

        self._on_settle = both

    async def wait(self) -> Outcome:
        """Wait until the job is settled and return its outcome."""
        if self._outcome is None:
            if self._done is None:
                self._done = trio.Event()
            await self._done.wait()
        else:
            await trio.lowlevel.checkpoint()
        assert self._outcome is not None
        return self._outcome

    def __lt__(self, other: Job) -> bool:
        # Higher priority first, then first come first served.
        return (-self.priority, self.seq) < (-other.priority, other.seq)

    def __repr__(self) -> str:
        state = "settled" if self.settled else f"attempts={self.attempts}"
        return f"<Job {self.seq} {self.method} {self.path} model={self.model} {state}>"


class JobHandle:
    """The caller's side of a submitted job: await its result, or read its stream.

    ``await handle.result()`` returns the parsed response (a ``ChatResponse``, or a
    ``ChatStream`` for ``stream=True`` requests) or raises the ``GroqError`` the job ended
    with, after retries. ``handle.key`` is whatever the caller attached at submission.
    """

    __slots__ = ("_job",)

    def __init__(self, job: Job) -> None:
        self._job = job

    @property
    def key(self) -> Any:
        """The caller's key for this job (``map`` uses it to pair results with inputs)."""
        return self._job.key

    @property
    def done(self) -> bool:
        """True once the job has succeeded or failed for good."""
        return self._job.settled

    async def result(self) -> Any:
        """Wait for the job and return its response, or raise its error."""
        outcome = await self._job.wait()
        return outcome.unwrap()

    async def outcome(self) -> Outcome:
        """Wait for the job and return its :class:`Outcome` without raising."""
        return await self._job.wait()

    def __repr__(self) -> str:
        return f"<JobHandle key={self._job.key!r} done={self.done}>"
