"""``BlockingClient``: the whole client for code that is not async, safe to share between threads.

Theory of operation
-------------------
A :class:`BlockingClient` owns one daemon thread, *the loop thread*, which runs ``trio.run``.
There, :meth:`_Loop.serve` opens an ordinary async :class:`~orchestrator.Client` with
:func:`~orchestrator.open_client` (actors, worker pool, rate budgets and all), reports the
run's :class:`trio.lowlevel.TrioToken` back to the constructor through a one-slot queue, and
sleeps until :meth:`BlockingClient.close`.

Every blocking method is ``trio.from_thread.run(<the async method>, trio_token=token)``: the
call becomes a task in the loop thread, the calling thread waits for its outcome, and that
outcome comes back as it was, the same value or the very same exception object (a
``ModelError`` stays a ``ModelError``). Each call is its own trio task, so any number of
threads can call at once without interfering; what they share is what should be shared:
one connection pool and one rate budget per model, so ten threads together stay under the
account's limits instead of each believing it has them all.

Two results outlive the call that made them, and both keep memory bounded:

* a stream (``create(..., stream=True)``) is a :class:`BlockingChatStream`; each time its
  local batch runs out it fetches the next *batch* of chunks (one network read's worth)
  from the loop thread, so a long stream costs one thread hop per read, not per token, and
  a slow reader slows the socket read exactly as the async stream does;
* :meth:`BlockingClient.map` starts a feeder task in the loop thread that runs the async
  ``map`` and puts each result on a ``queue.Queue``; a trio semaphore, released by the
  consumer through ``TrioToken.run_sync_soon`` (cheap, never blocks), stops the feeder
  before the queue holds more than ``max_in_flight`` results, so the loop thread never
  blocks on a full queue.

Closing either early cancels the work behind it in the loop thread; closing the client
cancels everything still running, ends the run and joins the thread.

Using it from asyncio: every method blocks the calling thread, and called on the asyncio
event loop's own thread it blocks that loop. Run calls in a worker thread instead::

    reply = await asyncio.to_thread(groq.chat.completions.create, model=..., messages=[...])

Inside a trio program use :func:`~orchestrator.open_client` directly (a blocking call made
on a trio thread raises ``RuntimeError``).
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Final, TypeVar, final

import httpx
import trio

from actors._budget import BudgetSnapshot
from actors._job import JobHandle, Outcome
from actors._stream import ChatStream

from ._client import Client, ClientStatistics, HealthStatus, open_client
from ._config import Config
from ._map import JobResult
from ._wire import ChatChunk, ChatResponse, Model, ModelList, Transcription, Usage, VerboseTranscription

__all__ = ["BlockingChatStream", "BlockingClient", "BlockingJobHandle", "BlockingResults"]

T = TypeVar("T")


class _Loop:
    """The loop thread's side: the async client, a nursery for map feeders, the stop signal.

    Its attributes are written once in the loop thread before the token is reported, and
    only read by other threads after that, so they need no lock.
    """

    client: Client
    nursery: trio.Nursery
    stop: trio.Event

    def __init__(self) -> None:
        #: set (in the loop thread) just before the token is reported to the constructor.
        self.started = False
        #: why the run ended, if it ended with an error after startup (reported by close()).
        self.crash: BaseException | None = None

    async def serve(
        self,
        config: Config | None,
        overrides: dict[str, Any],
        http_client_factory: Callable[[], httpx.AsyncClient] | None,
        ready: queue.SimpleQueue[trio.lowlevel.TrioToken | BaseException],
    ) -> None:
        """Open the client, report the token, and wait for the stop signal."""
        async with AsyncExitStack() as stack:
            if http_client_factory is not None:
                overrides["http_client"] = await stack.enter_async_context(http_client_factory())
            self.client = await stack.enter_async_context(open_client(config, **overrides))
            self.nursery = await stack.enter_async_context(trio.open_nursery())
            self.stop = trio.Event()
            self.started = True
            ready.put(trio.lowlevel.current_trio_token())
            await self.stop.wait()
            self.nursery.cancel_scope.cancel()


@final
class BlockingClient:
    """A Groq client with blocking methods, for scripts, notebooks and threaded servers.

    It has the async :class:`~orchestrator.Client`'s shape (``chat.completions.create``,
    ``audio.transcriptions.create``, ``models.list``, ``submit``, ``map``, ``health_check``,
    ``rate_limits``, ``statistics``) and runs the very same machinery (scheduler, breaker,
    retries) on its own background thread. One instance is meant to be shared by every
    thread of a program: calls from many threads run concurrently and are scheduled
    against one rate budget::

        with orchestrator.BlockingClient() as groq:
            reply = groq.chat.completions.create(
                model="llama-3.1-8b-instant",
                messages=[{"role": "user", "content": "Hello"}],
            )

    Args:
        config: a :class:`Config`; by default ``Config.from_env()``.
        **overrides: as for :func:`~orchestrator.open_client` (``api_key``, ``base_url``,
            ``timeout``, ``limits``, ``catalog`` ...), plus ``http_client_factory``: a
            function returning a fresh ``httpx.AsyncClient``, called on the loop thread
            (the client is closed with the BlockingClient). That is how tests plug in the
            in-process emulator: ``http_client_factory=lambda:
            httpx.AsyncClient(transport=emulator.transport())``.

    Raises:
        ConfigError: (and any other error of ``open_client``) from the constructor itself,
            when the client cannot start; no thread is left behind.

    From asyncio, call the methods through ``asyncio.to_thread``: called on the event
    loop's thread, a method blocks that loop until Groq answers.
    """

    def __init__(self, config: Config | None = None, **overrides: Any) -> None:
        factory: Callable[[], httpx.AsyncClient] | None = overrides.pop("http_client_factory", None)
        self._loop = _Loop()
        self._close_lock = threading.Lock()
        self._closed = False
        ready: queue.SimpleQueue[trio.lowlevel.TrioToken | BaseException] = queue.SimpleQueue()
        self._thread = threading.Thread(
            target=self._run_loop,
            args=(config, overrides, factory, ready),
            name="orchestrator-blocking-client",
            daemon=True,
        )
        self._thread.start()
        started = ready.get()
        if isinstance(started, BaseException):
            self._closed = True
            self._thread.join()
            raise started
        self._token: Final = started
        self.chat: Final = BlockingChat(self)
        self.audio: Final = BlockingAudio(self)
        self.models: Final = BlockingModels(self)

    def _run_loop(
        self,
        config: Config | None,
        overrides: dict[str, Any],
        factory: Callable[[], httpx.AsyncClient] | None,
        ready: queue.SimpleQueue[trio.lowlevel.TrioToken | BaseException],
    ) -> None:
        loop = self._loop
        try:
            trio.run(loop.serve, config, overrides, factory, ready)
        except BaseException as error:  # reported to the constructor or to close(), never lost
            if loop.started:
                loop.crash = error
            else:
                ready.put(error)

    # -- plumbing shared by the resources ------------------------------------------------

    def _closed_error(self) -> RuntimeError:
        if self._loop.crash is not None:
            return RuntimeError(f"the BlockingClient's event loop stopped after an error: {self._loop.crash!r}")
        return RuntimeError("the BlockingClient is closed; create a new one (or call from inside its 'with' block)")

    def _run(self, afn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run ``afn`` in the loop thread and return its value or raise its exception."""
        if self._closed:
            raise self._closed_error()
        try:
            return trio.from_thread.run(functools.partial(afn, *args, **kwargs), trio_token=self._token)
        except (trio.RunFinishedError, trio.Cancelled):
            # The loop ended (close() from another thread, or a crash) while this call waited.
            raise self._closed_error() from None

    def _run_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a synchronous ``fn`` in the loop thread (for reads of trio-side state)."""
        if self._closed:
            raise self._closed_error()
        try:
            return trio.from_thread.run_sync(fn, *args, trio_token=self._token)
        except trio.RunFinishedError:
            raise self._closed_error() from None

    def _soon(self, fn: Callable[..., object], *args: Any) -> None:
        """Schedule ``fn(*args)`` in the loop thread without waiting; a no-op once it ended."""
        try:
            self._token.run_sync_soon(fn, *args)
        except trio.RunFinishedError:
            pass

    # -- volume API ---------------------------------------------------------------------

    def submit(self, request: Any, *, priority: int = 0, key: Any = None, **options: Any) -> BlockingJobHandle:
        """Queue one chat request and return its handle at once (waits only for queue space).

        The request is validated first (``ValidationError`` raises here). See
        :meth:`Client.submit <orchestrator.Client.submit>` for ``options``.
        """
        handle = self._run(self._loop.client.submit, request, priority=priority, key=key, **options)
        return BlockingJobHandle(self, handle)

    def map(self, items: Iterable[tuple[Any, Any]], *, max_in_flight: int | None = None) -> BlockingResults:
        """Run many chat requests, yielding :class:`JobResult` as each finishes.

        ``items`` is an iterable of ``(key, request)`` pairs, read lazily *on the loop
        thread* (so keep producing an item cheap: a list, or a generator over a file, is
        fine; a database cursor bound to the calling thread is not). At most
        ``max_in_flight`` (default: the config's ``queue_size``) jobs are queued, running
        or waiting to be read at once, whatever the number of items. Invalid requests come
        back as results carrying a ``ValidationError``::

            with groq.map(pairs, max_in_flight=200) as results:
                for result in results:
                    ...

        Leaving the ``with`` (or :meth:`BlockingResults.close`) before the end cancels the
        jobs not yet finished.
        """
        limit = max_in_flight if max_in_flight is not None else self._loop.client.config.queue_size
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"max_in_flight must be an integer of at least 1, got {max_in_flight!r}")
        return self._run(_start_map, self, items, limit)

    # -- introspection ------------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The client's effective :class:`Config` (after environment and overrides)."""
        return self._loop.client.config

    def rate_limits(self) -> dict[str, BudgetSnapshot]:
        """What the client believes about each model's limits, remaining budget and resets."""
        return self._run_sync(self._loop.client.rate_limits)

    def statistics(self) -> ClientStatistics:
        """Queue, pool and outcome counters, for progress displays and metrics."""
        return self._run_sync(self._loop.client.statistics)

    def health_check(self) -> HealthStatus:
        """Ask ``/models`` once (no retries) and report reachability, latency, breaker and budgets."""
        return self._run(self._loop.client.health_check)

    # -- lifetime -----------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (or the client failed to start)."""
        return self._closed

    def close(self) -> None:
        """Cancel whatever is still running, close the connections and join the loop thread.

        Safe to call more than once and from any thread but the loop thread. Calls still
        waiting in other threads raise ``RuntimeError`` (the client is closed).

        Raises:
            BaseException: the error that stopped the event loop, if one did (once).
        """
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._soon(self._loop.stop.set)
        self._thread.join()
        crash, self._loop.crash = self._loop.crash, None
        if crash is not None:
            raise crash

    def __enter__(self) -> BlockingClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<orchestrator.BlockingClient {self._loop.client.config.base_url} {state}>"


# ----------------------------------------------------------------------------- resources


class BlockingCompletions:
    """``groq.chat.completions``."""

    def __init__(self, owner: BlockingClient) -> None:
        self._owner = owner

    def create(self, **params: Any) -> Any:
        """Create a chat completion: a ``ChatResponse``, or with ``stream=True`` a :class:`BlockingChatStream`.

        Takes exactly the keywords of the async ``chat.completions.create`` (Groq's chat
        parameters plus ``timeout``, ``max_retries``, ``extra_headers``, ``priority``).
        """
        result: ChatResponse | ChatStream = self._owner._run(self._owner._loop.client.chat.completions.create, **params)
        if isinstance(result, ChatStream):
            return BlockingChatStream(self._owner, result)
        return result


class BlockingChat:
    """``groq.chat``: holds ``completions``."""

    def __init__(self, owner: BlockingClient) -> None:
        self.completions = BlockingCompletions(owner)


class _BlockingAudioEndpoint:
    """Blocking ``transcriptions`` / ``translations``: same keywords as the async ``create``."""

    _attribute: str

    def __init__(self, owner: BlockingClient) -> None:
        self._owner = owner

    def create(self, **params: Any) -> Transcription | VerboseTranscription | str:
        """Send audio (a path, bytes, binary file, ``(name, bytes)``, or ``url=``) to Whisper.

        ``response_format`` ``json`` gives a ``Transcription``, ``verbose_json`` a
        ``VerboseTranscription``, ``text``, ``srt`` and ``vtt`` a string.
        """
        endpoint = getattr(self._owner._loop.client.audio, self._attribute)
        result: Transcription | VerboseTranscription | str = self._owner._run(endpoint.create, **params)
        return result


class BlockingTranscriptions(_BlockingAudioEndpoint):
    """``groq.audio.transcriptions``: speech to text in the spoken language."""

    _attribute = "transcriptions"


class BlockingTranslations(_BlockingAudioEndpoint):
    """``groq.audio.translations``: speech to English text (``whisper-large-v3`` only)."""

    _attribute = "translations"


class BlockingAudio:
    """``groq.audio``: holds ``transcriptions`` and ``translations``."""

    def __init__(self, owner: BlockingClient) -> None:
        self.transcriptions = BlockingTranscriptions(owner)
        self.translations = BlockingTranslations(owner)


class BlockingModels:
    """``groq.models``; ``list()`` also refreshes the client's model catalog."""

    def __init__(self, owner: BlockingClient) -> None:
        self._owner = owner

    def list(self, **options: Any) -> ModelList:
        """All models (``GET /models``); options: ``max_retries``, ``timeout``."""
        return self._owner._run(self._owner._loop.client.models.list, **options)

    def retrieve(self, model: str, **options: Any) -> Model:
        """One model (``GET /models/{id}``); ``ModelError`` if Groq does not know it."""
        return self._owner._run(self._owner._loop.client.models.retrieve, model, **options)


@final
class BlockingJobHandle:
    """A submitted job seen from a plain thread: ``result()`` blocks until it is done."""

    __slots__ = ("_owner", "_handle")

    def __init__(self, owner: BlockingClient, handle: JobHandle) -> None:
        self._owner = owner
        self._handle = handle

    @property
    def key(self) -> Any:
        """The key given at submission."""
        return self._handle.key

    @property
    def done(self) -> bool:
        """True once the job has succeeded or failed for good."""
        return self._handle.done

    def result(self) -> Any:
        """Wait for the job and return its ``ChatResponse``, or raise its ``GroqError``."""
        value = self._owner._run(self._handle.result)
        return BlockingChatStream(self._owner, value) if isinstance(value, ChatStream) else value

    def outcome(self) -> Outcome:
        """Wait for the job and return its outcome (value or error, attempts, status) without raising."""
        return self._owner._run(self._handle.outcome)

    def __repr__(self) -> str:
        return f"<BlockingJobHandle key={self.key!r} done={self.done}>"


# ------------------------------------------------------------------------------- streams


async def _next_batch(batches: AsyncIterator[list[ChatChunk]]) -> list[ChatChunk] | None:
    """The next batch of a stream, or None at its end (runs in the loop thread)."""
    try:
        return await batches.__anext__()
    except StopAsyncIteration:
        return None


async def _close_stream(batches: Any, stream: ChatStream) -> None:
    """Stop a stream's reader and release its connection (runs in the loop thread)."""
    try:
        await batches.aclose()
    finally:
        await stream.aclose()


def _spawn_close(nursery: trio.Nursery, batches: Any, stream: ChatStream) -> None:
    """Start closing a stream from a ``run_sync_soon`` callback, where raising would crash the run."""
    try:
        nursery.start_soon(_close_stream, batches, stream)
    except RuntimeError:
        pass  # the nursery is closing: the client's shutdown closes the stream anyway


@final
class BlockingChatStream:
    """The chunks of one streamed chat completion, as a blocking iterator and context manager.

    Use it in a ``with`` so the HTTP response is closed however the loop ends (it is also
    closed at the end of the stream, and, as a last resort, when the object is garbage
    collected)::

        with groq.chat.completions.create(..., stream=True) as stream:
            for chunk in stream:
                print(chunk.choices[0].delta.content or "", end="")
        print(stream.usage)

    A broken stream raises ``StreamError`` (with ``partial_content``) from the iteration.
    One stream is read by one thread at a time (a lock enforces it).
    """

    def __init__(self, owner: BlockingClient, stream: ChatStream) -> None:
        self._owner = owner
        self._stream = stream
        self._batches = stream.batches()
        self._batch: list[ChatChunk] = []
        self._index = 0
        self._lock = threading.Lock()
        self._closed = False

    @property
    def usage(self) -> Usage | None:
        """The final usage, once the stream has ended."""
        return self._stream.usage

    @property
    def request_id(self) -> str | None:
        """Groq's ``x-request-id`` for this stream."""
        return self._stream.request_id

    @property
    def headers(self) -> httpx.Headers:
        """The response headers (rate-limit headers included)."""
        return self._stream.headers

    @property
    def partial_content(self) -> str:
        """The text received so far (at most the last 64 KiB of it)."""
        return self._stream.partial_content

    def __iter__(self) -> BlockingChatStream:
        return self

    def __next__(self) -> ChatChunk:
        with self._lock:
            if self._index >= len(self._batch):
                if self._closed:
                    raise StopIteration
                batch = self._owner._run(_next_batch, self._batches)
                if batch is None:
                    self._close_locked()
                    raise StopIteration
                self._batch, self._index = batch, 0
            chunk = self._batch[self._index]
            self._index += 1
            return chunk

    def batches(self) -> Iterator[list[ChatChunk]]:
        """Yield the chunks a list at a time (one list per network read), for throughput."""
        while True:
            with self._lock:
                if self._index < len(self._batch):
                    batch = self._batch[self._index :]
                    self._batch, self._index = [], 0
                elif self._closed:
                    return
                else:
                    next_batch = self._owner._run(_next_batch, self._batches)
                    if next_batch is None:
                        self._close_locked()
                        return
                    batch = next_batch
            yield batch

    def close(self) -> None:
        """Stop reading: closes the HTTP response and frees the connection. Idempotent."""
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._batch, self._index = [], 0
        if self._owner.closed:
            return  # the client's shutdown already closed every stream
        try:
            self._owner._run(_close_stream, self._batches, self._stream)
        except RuntimeError:
            if not self._owner.closed:
                raise

    def __enter__(self) -> BlockingChatStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Last resort for `for chunk in stream: break` without a `with`: free the connection
        # now rather than when the client closes. Never blocks (GC may run on any thread).
        if getattr(self, "_closed", True) or self._owner.closed:
            return
        self._closed = True
        self._owner._soon(_spawn_close, self._owner._loop.nursery, self._batches, self._stream)

    def __repr__(self) -> str:
        return f"<BlockingChatStream request_id={self.request_id!r} closed={self._closed}>"


# ----------------------------------------------------------------------------------- map


class _End:
    """The last item on a map's queue: iteration ends, or raises ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


async def _start_map(owner: BlockingClient, items: Iterable[tuple[Any, Any]], limit: int) -> BlockingResults:
    """Start a map's feeder task in the loop thread and return the consumer's iterator."""
    # One slot more than the semaphore allows, for the _End marker: put_nowait never fails.
    results: queue.Queue[JobResult | _End] = queue.Queue(maxsize=limit + 1)
    slots = trio.Semaphore(limit)
    cancel_scope = trio.CancelScope()
    finished = trio.Event()
    client = owner._loop.client

    async def feed(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        end = _End(owner._closed_error())  # kept only if the client's shutdown cancels the feeder
        started = False
        try:
            with cancel_scope:
                async with client.map(items, max_in_flight=limit) as stream:
                    task_status.started()
                    started = True
                    async for result in stream:
                        await slots.acquire()
                        results.put_nowait(result)
            end = _End(None)  # every item has its result, or the consumer closed early
        except Exception as error:
            if not started:
                raise
            end = _End(error)
        finally:
            results.put_nowait(end)
            finished.set()

    async def cancel_and_wait() -> None:
        cancel_scope.cancel()
        await finished.wait()

    await owner._loop.nursery.start(feed, name="blocking map feeder")
    return BlockingResults(owner, results, slots.release, cancel_and_wait)


@final
class BlockingResults:
    """The results of :meth:`BlockingClient.map`, as a blocking iterator and context manager.

    Several threads may consume one instance: each result goes to exactly one of them, and
    all of them stop at the end. Leaving the ``with`` or :meth:`close` before the end
    cancels the jobs not yet finished and discards their results.
    """

    def __init__(
        self,
        owner: BlockingClient,
        results: queue.Queue[JobResult | _End],
        release: Callable[[], None],
        cancel_and_wait: Callable[[], Awaitable[None]],
    ) -> None:
        self._owner = owner
        self._results = results
        self._release = release
        self._cancel_and_wait = cancel_and_wait
        self._closed = False

    def __iter__(self) -> BlockingResults:
        return self

    def __next__(self) -> JobResult:
        if self._closed:
            raise StopIteration
        item = self._results.get()
        if isinstance(item, _End):
            self._results.put_nowait(item)  # so every other consuming thread stops too
            if item.error is not None:
                raise item.error
            raise StopIteration
        self._owner._soon(self._release)
        return item

    def close(self) -> None:
        """Cancel the jobs not yet finished and wait until they are. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owner.closed:
            return
        try:
            self._owner._run(self._cancel_and_wait)
        except RuntimeError:
            if not self._owner.closed:
                raise

    def __enter__(self) -> BlockingResults:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<BlockingResults ready={self._results.qsize()} closed={self._closed}>"
