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

Two results outlive the call that made them. Each gets a *feeder* task in the loop thread
that reads it natively (async) and puts what it reads on a ``queue.Queue``, where the
calling thread picks it up with a plain ``get()``; a trio semaphore, released by the reader
through ``TrioToken.run_sync_soon`` (cheap, never blocks), stops the feeder before the queue
holds more than its capacity, so the loop thread never blocks and memory stays bounded:

* a stream (``create(..., stream=True)``) is a :class:`BlockingChatStream`, fed whole
  batches of chunks (one network read each), at most a few ahead of the reader, so a slow
  reader slows the socket read exactly as the async stream does;
* :meth:`BlockingClient.map` returns a :class:`BlockingResults` fed by the async ``map``,
  at most ``max_in_flight`` results ahead of its readers.

Closing either early cancels its feeder in the loop thread; closing the client
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
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Any, Final, Generic, TypeVar, final

import httpx
import trio

from actors._budget import BudgetSnapshot
from actors._job import JobHandle, Outcome
from actors._stream import ChatStream

from ._client import Client, ClientStatistics, HealthStatus, open_client
from ._config import Config
from ._map import JobResult
from ._secret import SecretString
from ._wire import ChatChunk, Model, ModelList, Transcription, Usage, VerboseTranscription

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
                model="openai/gpt-oss-20b",
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
        if isinstance(overrides.get("api_key"), str):
            # Wrapped at once, so no frame of either thread holds the raw key in a traceback.
            overrides["api_key"] = SecretString(overrides["api_key"])
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
        self.embeddings: Final = BlockingResource(self, "embeddings", ("create",))
        self.responses: Final = BlockingResource(self, "responses", ("create",))
        self.files: Final = BlockingResource(self, "files", ("create", "list", "retrieve", "info", "delete", "download"))
        self.batches: Final = BlockingResource(self, "batches", ("create", "retrieve", "list", "cancel"))

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

        ``items`` is an iterable of ``(key, request)`` pairs or of plain requests (keyed by
        their position), read lazily *on the loop
        thread* (so keep producing an item cheap: a list, or a generator over a file, is
        fine; a database cursor bound to the calling thread is not). At most
        ``max_in_flight`` (default: the config's ``queue_size``) jobs are queued, running
        or waiting to be read at once, whatever the number of items. Invalid requests come
        back as results carrying a ``ValidationError``::

            with groq.map(pairs, max_in_flight=200) as results:
                for result in results:
                    ...

        Leaving the ``with`` (or :meth:`BlockingResults.close`) before the end stops the
        map: no further item is read or submitted, and the results of the jobs already
        under way (at most ``max_in_flight``) are discarded.
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
        if not self._loop.started:
            return "<orchestrator.BlockingClient not started>"
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
        return self._owner._run(_call, self._owner, self._owner._loop.client.chat.completions.create, params)


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


class BlockingResource:
    """Blocking twins of the methods of one async resource that return a whole value.

    ``groq.embeddings.create(...)`` runs ``client.embeddings.create(...)`` on the loop thread with the same
    arguments. Calls that hand back something still being read (``stream=True``, ``files.content``) are not
    offered: its reads would have to cross threads chunk by chunk; use the async client for those.
    """

    def __init__(self, owner: BlockingClient, path: str, methods: tuple[str, ...]) -> None:
        self._owner = owner
        self._path = path
        self._methods = frozenset(methods)

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("_") or name not in self._methods:
            raise AttributeError(
                f"BlockingClient.{self._path} has no {name!r}; it offers {', '.join(sorted(self._methods))} "
                "(streamed results need the async Client)"
            )
        owner, path = self._owner, self._path

        def call(*args: Any, **kwargs: Any) -> Any:
            if kwargs.get("stream"):
                raise ValueError(f"BlockingClient.{path}.{name}(stream=True) is not offered: a stream is read on "
                                 "the loop thread; use the async Client (orchestrator.open_client) to stream")
            resource = functools.reduce(getattr, path.split("."), owner._loop.client)
            return owner._run(getattr(resource, name), *args, **kwargs)

        call.__name__ = name
        call.__doc__ = f"Blocking ``{path}.{name}``: the same arguments and result as the async call."
        return call


class BlockingAudio:
    """``groq.audio``: holds ``transcriptions``, ``translations`` and ``speech``."""

    def __init__(self, owner: BlockingClient) -> None:
        self.transcriptions = BlockingTranscriptions(owner)
        self.translations = BlockingTranslations(owner)
        self.speech = BlockingResource(owner, "audio.speech", ("create", "stream_to_file"))


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

    def delete(self, model: str, **options: Any) -> Any:
        """Delete a model (``DELETE /models/{id}``): a fine-tuned one; Groq refuses base models."""
        return self._owner._run(self._owner._loop.client.models.delete, model, **options)


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
        return self._owner._run(_call, self._owner, self._handle.result, {})

    def outcome(self) -> Outcome:
        """Wait for the job and return its outcome (value or error, attempts, status) without raising.

        For a ``stream=True`` job use :meth:`result`, which wraps the stream for blocking reads.
        """
        return self._owner._run(self._handle.outcome)

    def __repr__(self) -> str:
        return f"<BlockingJobHandle key={self.key!r} done={self.done}>"


# ---------------------------------------------------------------------------------- pipes

#: Batches (network reads) a stream may hold between the loop thread and its reader.
_STREAM_BATCHES: Final = 16


class _Shutdown:
    """Marks a feeder ended by the client's shutdown (its reader gets a "closed" error)."""


class _End:
    """The last item on a pipe: iteration ends, or raises ``error``."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException | None) -> None:
        self.error = error


class _Pipe(Generic[T]):
    """A bounded conveyor from a feeder task in the loop thread to blocking readers.

    The feeder ``await put(item)``s: it first takes one of ``capacity`` slots of a trio
    semaphore, so the ``queue.Queue`` below never fills and the loop thread never blocks.
    A reader ``get()``s from the queue and gives the slot back with ``run_sync_soon``. The
    feeder ends with :meth:`finish`, whose :class:`_End` marker has a slot of its own.
    """

    def __init__(self, owner: BlockingClient, capacity: int) -> None:
        self._owner = owner
        self._queue: queue.Queue[T | _End] = queue.Queue(maxsize=capacity + 1)
        self._slots = trio.Semaphore(capacity)
        self.cancel_scope = trio.CancelScope()
        self._finished = trio.Event()
        self._ended = False
        # Readers give slots back in bunches (one loop wake-up per bunch, not per item), and
        # always before they wait on an empty queue, so the feeder can never starve them.
        self._unreturned = 0
        self._return_every = max(1, capacity // 4)
        self._lock = threading.Lock()

    # loop thread

    async def put(self, item: T) -> None:
        await self._slots.acquire()
        self._queue.put_nowait(item)

    def finish(self, error: BaseException | _Shutdown | None) -> None:
        if isinstance(error, _Shutdown):
            error = self._owner._closed_error()
        self._queue.put_nowait(_End(error))
        self._ended = True
        self._finished.set()

    async def _cancel_and_wait(self) -> None:
        self.cancel_scope.cancel()
        await self._finished.wait()

    # reader threads

    def get(self) -> T | _End:
        """The next item, or the end marker (left in the queue for any other reader)."""
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            self._return_slots(0)
            item = self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(item)
        else:
            self._return_slots(self._return_every)
        return item

    def _return_slots(self, threshold: int) -> None:
        """Count one consumed item and return the slots owed once ``threshold`` is reached."""
        with self._lock:
            self._unreturned += 1 if threshold else 0
            owed = self._unreturned if self._unreturned >= threshold else 0
            self._unreturned -= owed
        if owed:
            self._owner._soon(self._release, owed)

    def _release(self, count: int) -> None:
        for _ in range(count):
            self._slots.release()

    def close(self) -> None:
        """Cancel the feeder and wait until it has stopped (a no-op once the client closed)."""
        if self._owner.closed:
            return
        try:
            self._owner._run(self._cancel_and_wait)
        except RuntimeError:
            if not self._owner.closed:
                raise

    def cancel_soon(self) -> None:
        """Cancel the feeder without waiting (safe from a finalizer on any thread)."""
        self._owner._soon(self.cancel_scope.cancel)

    def __len__(self) -> int:
        """Items waiting for a reader (not counting the end marker)."""
        return self._queue.qsize() - self._ended


# -------------------------------------------------------------------------------- streams


async def _call(owner: BlockingClient, afn: Callable[..., Awaitable[Any]], kwargs: dict[str, Any]) -> Any:
    """Await ``afn(**kwargs)`` in the loop thread; a ChatStream result gets its feeder started."""
    value = await afn(**kwargs)
    if not isinstance(value, ChatStream):
        return value
    pipe: _Pipe[list[ChatChunk]] = _Pipe(owner, _STREAM_BATCHES)

    async def feed(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        error: BaseException | _Shutdown | None = _Shutdown()
        try:
            with pipe.cancel_scope:
                async with value:
                    task_status.started()
                    async for batch in value.batches():
                        await pipe.put(batch)
            error = None  # the stream ended, or the reader closed it early
        except Exception as failure:  # a StreamError (or TimeoutError) goes to the reader
            error = failure
        finally:
            pipe.finish(error)

    try:
        await owner._loop.nursery.start(feed, name=f"blocking stream {value.request_id}")
    except BaseException:
        with trio.CancelScope(shield=True):
            await value.aclose()
        raise
    return BlockingChatStream(value, pipe)


@final
class BlockingChatStream:
    """The chunks of one streamed chat completion, as a blocking iterator and context manager.

    Use it in a ``with`` so the HTTP response is closed however the loop ends (it is also
    closed at the end of the stream and, as a last resort, when the object is garbage
    collected)::

        with groq.chat.completions.create(..., stream=True) as stream:
            for chunk in stream:
                print(chunk.choices[0].delta.content or "", end="")
        print(stream.usage)

    A task in the client's loop thread reads the stream ahead by at most a few network
    reads; a slow reader therefore slows the socket read, and memory stays flat. A broken
    stream raises ``StreamError`` (with ``partial_content``) from the iteration.
    """

    def __init__(self, stream: ChatStream, pipe: _Pipe[list[ChatChunk]]) -> None:
        self._stream = stream
        self._pipe = pipe
        self._batch: list[ChatChunk] = []
        self._index = 0
        self._lock = threading.Lock()
        self._done = False

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
                self._batch, self._index = self._next_batch(), 0
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
                else:
                    try:
                        batch = self._next_batch()
                    except StopIteration:
                        return
            yield batch

    def _next_batch(self) -> list[ChatChunk]:
        """Wait for the next batch; StopIteration at the end (under the lock)."""
        if self._done:
            raise StopIteration
        item = self._pipe.get()
        if isinstance(item, _End):
            self._done = True
            if item.error is not None:
                raise item.error
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop reading: closes the HTTP response and frees the connection. Idempotent."""
        self._pipe.close()  # first: a reader blocked under the lock wakes up on the end marker
        with self._lock:
            self._done = True
            self._batch, self._index = [], 0

    def __enter__(self) -> BlockingChatStream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Last resort for `for chunk in stream: break` without a `with`: free the connection
        # now rather than when the client closes. Never blocks (GC may run on any thread).
        pipe = getattr(self, "_pipe", None)
        if pipe is not None:
            pipe.cancel_soon()

    def __repr__(self) -> str:
        return f"<BlockingChatStream request_id={self.request_id!r} buffered={len(self._pipe)} done={self._done}>"


# ------------------------------------------------------------------------------------ map


async def _start_map(owner: BlockingClient, items: Iterable[tuple[Any, Any]], limit: int) -> BlockingResults:
    """Start a map's feeder task in the loop thread and return the readers' iterator."""
    pipe: _Pipe[JobResult] = _Pipe(owner, limit)
    client = owner._loop.client

    async def feed(task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        error: BaseException | _Shutdown | None = _Shutdown()
        started = False
        try:
            with pipe.cancel_scope:
                async with client.map(items, max_in_flight=limit) as results:
                    task_status.started()
                    started = True
                    async for result in results:
                        await pipe.put(result)
            error = None  # every item has its result, or the reader closed early
        except Exception as failure:
            if not started:
                raise  # e.g. a bad argument: nursery.start() raises it in the caller
            error = failure
        finally:
            if started:
                pipe.finish(error)

    await owner._loop.nursery.start(feed, name="blocking map feeder")
    return BlockingResults(pipe)


@final
class BlockingResults:
    """The results of :meth:`BlockingClient.map`, as a blocking iterator and context manager.

    Several threads may read one instance: each result goes to exactly one of them, and all
    of them stop at the end. Leaving the ``with`` or :meth:`close` before the end stops the
    map (no further item is read or submitted) and discards the results still to come.
    """

    def __init__(self, pipe: _Pipe[JobResult]) -> None:
        self._pipe = pipe
        self._closed = False

    def __iter__(self) -> BlockingResults:
        return self

    def __next__(self) -> JobResult:
        if self._closed:
            raise StopIteration
        item = self._pipe.get()
        if isinstance(item, _End):
            if item.error is not None:
                raise item.error
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the map and wait until its feeder task has ended. Idempotent."""
        if not self._closed:
            self._closed = True
            self._pipe.close()

    def __enter__(self) -> BlockingResults:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __del__(self) -> None:
        # Results nobody will read: stop submitting jobs for them.
        pipe = getattr(self, "_pipe", None)
        if pipe is not None and not self._closed:
            pipe.cancel_soon()

    def __repr__(self) -> str:
        return f"<BlockingResults ready={len(self._pipe)} closed={self._closed}>"
