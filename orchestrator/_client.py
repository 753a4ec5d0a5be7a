"""The client facade: ``open_client()`` wires the actors together and hands back a :class:`Client`.

General layout: the caller talks to :class:`Client` (and its ``chat``, ``audio`` and
``models`` resources); the client turns every call into a :class:`actors.Job` and hands it
to the scheduler, which releases it to the worker pool when the model's rate budget and
the circuit breaker allow. Everything runs in a tricycle service nursery owned by the
``async with``: no task outlives the client, and the facade keeps working inside the
block's ``finally``.
"""

from __future__ import annotations

import functools
import os
import random
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Final, final

import httpx
import msgspec
import trio
from tricycle import open_service_nursery

from actors._breaker import BreakerState, CircuitBreaker
from actors._budget import BudgetSnapshot, RateBudgets, RequestExceedsLimit
from actors._estimate import CostEstimator
from actors._job import Job, JobHandle, Outcome
from actors._observer import NullObserver, Observer
from actors._retry import RetryPolicy
from actors._retry_budget import RetryBudget
from actors._scheduler import Scheduler
from actors._supervisor import BreakerGate
from actors._worker import WorkerPool

from ._account_limits import recognised_limits, starting_limits
from ._catalog import DEFAULT_CATALOG, ModelCatalog
from ._engine import ProductChunks, ProductFailures
from .observe._logging import get_logger
from ._catalog_refresh import note_unlisted, refresh_catalog, should_refresh
from ._config import Config, RateLimitConfig
from ._secret import SecretString
from ._errors import CapacityExceededError, ConfigError, GroqError, RequestTooLargeError, unwrapped_errors
from ._map import JobResult, map_jobs
from ._options import check_call_options
from ._embeddings import Embeddings
from ._files import Batches, Files
from ._resources import Audio, Chat, Models
from ._responses import Responses
from ._validation import encode_chat_request, fallback_tier_list, validate_chat_request
from ._wire import ChatRequest, ChatResponse, chat_request_from, decode_chat_response

__all__ = ["Client", "ClientStatistics", "HealthStatus", "JobResult", "open_client"]

_JSON: Final = {"content-type": "application/json"}


class ClientStatistics(msgspec.Struct, frozen=True):
    """What the client is doing right now, and what it has done since it opened."""

    queued: int
    waiting_for_budget: int
    delayed_for_retry: int
    in_flight: int
    streams_open: int
    completed: int
    failed: int
    retried: int
    rate_limited: int
    breaker: str


class HealthStatus(msgspec.Struct, frozen=True):
    """The answer of :meth:`Client.health_check`."""

    reachable: bool
    latency_seconds: float | None
    breaker: str
    rate_limits: dict[str, BudgetSnapshot]
    error: str | None = None


@final
class Client:
    """A Groq client that schedules every call against the account's rate limits.

    Do not construct it directly: use ``async with orchestrator.open_client(...) as groq``.
    The shape follows the official SDKs (``groq.chat.completions.create``,
    ``groq.audio.transcriptions.create``, ``groq.models.list``); for volume, use
    :meth:`submit` and :meth:`map`.
    """

    def __init__(
        self,
        *,
        config: Config,
        catalog: ModelCatalog,
        scheduler: Scheduler,
        pool: WorkerPool,
        budgets: RateBudgets,
        gate: BreakerGate,
        estimator: CostEstimator,
    ) -> None:
        self.config = config
        self.catalog = catalog
        #: The model ids ``GET /models`` listed when the client opened, or None if it was not asked.
        self.listed_models: frozenset[str] | None = None
        #: Models already warned about as not listed (one ``model_not_listed`` event each).
        self.unlisted_warned: set[str] = set()
        self._scheduler = scheduler
        self._pool = pool
        self._budgets = budgets
        self._gate = gate
        self._estimator = estimator
        self.chat = Chat(self)
        self.audio = Audio(self)
        self.models = Models(self)
        self.files = Files(self)
        self.batches = Batches(self)
        #: Groq's Responses API (beta): ``await client.responses.create(model=..., input=...)``.
        self.responses = Responses(self, estimator)
        self.embeddings = Embeddings(self)

    # -- volume API ---------------------------------------------------------------------

    async def submit(
        self,
        request: ChatRequest | dict[str, Any],
        *,
        priority: int = 0,
        key: Any = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        fallback_tiers: Sequence[str] | None = None,
    ) -> JobHandle:
        """Queue one chat request and return its handle at once (waits only for queue space).

        The request is validated first, so a bad one raises ``ValidationError`` here and is
        never sent. ``await handle.result()`` gives the ``ChatResponse`` (or a ``ChatStream``
        for ``stream=True``). Higher ``priority`` jobs leave the queue first.

        ``fallback_tiers`` (with ``service_tier="flex"``, e.g. ``["on_demand"]``): a job whose flex
        attempts all end in 498 ``capacity_exceeded`` is queued again with ``service_tier`` set to
        the next fallback tier, when its handle is awaited; the response's ``service_tier`` says
        which tier answered.
        """
        options: dict[str, Any] = {
            "priority": priority, "key": key, "timeout": timeout, "max_retries": max_retries,
            "extra_headers": extra_headers,
        }
        job = self.chat_job(request, **options)
        asked = request.service_tier if isinstance(request, ChatRequest) else (
            request.get("service_tier") if isinstance(request, dict) else None
        )
        tiers = fallback_tier_list(fallback_tiers, asked)
        await self._scheduler.submit(job)
        if not tiers:
            return JobHandle(job)

        async def resend(tier: str) -> Job:
            again = (
                msgspec.structs.replace(request, service_tier=tier)
                if isinstance(request, ChatRequest)
                else {**request, "service_tier": tier}
            )
            retry_job = self.chat_job(again, **options)
            await self._scheduler.submit(retry_job)
            return retry_job

        return _TierFallbackHandle(job, resend, tiers)

    def chat_job(
        self,
        request: ChatRequest | dict[str, Any],
        *,
        priority: int = 0,
        key: Any = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        extra_headers: Mapping[str, str] | None = None,
        on_settle: Any = None,
    ) -> Job:
        """Validate a chat request and make the job that carries it (not yet queued).

        The model is first rewritten by ``Config.model_map``; a model Groq has shut down raises
        ``ModelDecommissionedError`` here, before anything is sent.
        """
        return self._chat_job(
            request, walked=not isinstance(request, ChatRequest), priority=priority, key=key, timeout=timeout,
            max_retries=max_retries, extra_headers=extra_headers, on_settle=on_settle,
        )

    def _chat_job(
        self,
        request: ChatRequest | dict[str, Any],
        *,
        walked: bool,
        priority: int,
        key: Any,
        timeout: float | None,
        max_retries: int | None,
        extra_headers: Mapping[str, str] | None,
        on_settle: Any,
    ) -> Job:
        """`chat_job`; ``walked``: ``chat_request_from`` built the request from a dict (the batch runner's
        lines are), having judged its depth, numbers and strings, so validation need not walk it again."""
        check_call_options(priority=priority, timeout=timeout, max_retries=max_retries, extra_headers=extra_headers)
        chat = chat_request_from(request)
        if (mapped := self.mapped_model(chat.model)) != chat.model:
            chat = msgspec.structs.replace(chat, model=mapped)
        prompt = validate_chat_request(chat, self.catalog, walked=walked)
        note_unlisted(self, chat.model)
        return Job(
            model=chat.model,
            method="POST",
            path="/chat/completions",
            content=encode_chat_request(chat),
            headers=_JSON if not extra_headers else {**_JSON, **extra_headers},
            stream=bool(chat.stream),
            cost=self._estimator.estimate(prompt, chat.completion_budget),
            output_cost=self._estimator.completion(chat.completion_budget),
            prompt_estimate=prompt,
            priority=priority,
            timeout=timeout,
            max_retries=max_retries,
            decode=None if chat.stream else decode_chat_response,
            key=key,
            on_settle=on_settle,
        )

    def mapped_model(self, model: Any) -> Any:
        """The model a request naming ``model`` is sent to: ``Config.model_map`` applied once."""
        return self.config.model_map.get(model, model) if isinstance(model, str) else model

    async def submit_job(self, job: Job) -> None:
        """Queue a prepared job (waits only for queue space)."""
        await self._scheduler.submit(job)

    async def run_job(self, job: Job) -> Any:
        """Run a prepared job, wait for it, and return its value or raise its error.

        When nothing is queued for the job's model and a worker is idle, the first attempt
        is made right here in the caller's task (the same budget and breaker checks apply).
        """
        if self._scheduler.try_direct(job, pool_idle=self._pool.has_idle_capacity):
            await self._pool.run_in_caller(job)
        else:
            await self._scheduler.submit(job)
        return (await job.wait()).unwrap()

    def map(
        self, items: Iterable[Any] | AsyncIterable[Any], *, max_in_flight: int | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[JobResult]]:
        """Run many chat requests, yielding :class:`JobResult` as each finishes.

        ``items`` is an iterable or async iterable of ``(key, request)`` pairs, or of plain
        requests (dicts or ``ChatRequest``, keyed by their position: 0, 1, ...), read lazily,
        so a generator over a huge file is fine; anything else raises ``TypeError`` saying what
        to pass. At most ``max_in_flight`` jobs (default:
        the config's queue size) are submitted and not yet consumed, which bounds memory.
        Invalid requests come back as results with a ``ValidationError``; nothing raises
        per job::

            async with groq.map(pairs) as results:
                async for result in results:
                    ...
        """
        return map_jobs(self, items, max_in_flight or self.config.queue_size)

    # -- introspection ----------------------------------------------------------------------

    def rate_limits(self) -> dict[str, BudgetSnapshot]:
        """What the client believes about each model's limits, remaining budget and resets."""
        return self._budgets.snapshots(trio.current_time())

    def statistics(self) -> ClientStatistics:
        """Queue, pool and outcome counters, for progress displays and metrics."""
        sched = self._scheduler.statistics()
        pool = self._pool.statistics()
        return ClientStatistics(
            queued=sched.queued,
            waiting_for_budget=sched.waiting_for_budget,
            delayed_for_retry=sched.delayed_for_retry,
            in_flight=pool.in_flight,
            streams_open=pool.streams_open,
            completed=pool.completed,
            failed=sched.failed,
            retried=sched.retried,
            rate_limited=pool.rate_limited,
            breaker=self._gate.state.name.lower(),
        )

    @property
    def breaker_state(self) -> BreakerState:
        """The circuit breaker's state now."""
        return self._gate.state

    async def health_check(self) -> HealthStatus:
        """Ask ``/models`` once (no retries) and report reachability, latency, breaker and budgets."""
        started = time.perf_counter()
        try:
            await self.models.list(max_retries=0)
        except GroqError as error:
            return HealthStatus(
                reachable=error.status is not None,
                latency_seconds=None,
                breaker=self._gate.state.name.lower(),
                rate_limits=self.rate_limits(),
                error=str(error),
            )
        return HealthStatus(
            reachable=True,
            latency_seconds=time.perf_counter() - started,
            breaker=self._gate.state.name.lower(),
            rate_limits=self.rate_limits(),
        )

    def __repr__(self) -> str:
        return f"<orchestrator.Client {self.config.base_url} {self._scheduler!r} {self._pool!r}>"


class _TierFallbackHandle(JobHandle):
    """The handle :meth:`Client.submit` returns with ``fallback_tiers``: a 498 outcome is sent on again.

    Kept in the client layer (the engine's jobs know nothing of tiers): when the current job ends in
    ``CapacityExceededError`` after its retries and a fallback tier is left, awaiting the handle queues
    the request again on that tier, and so on. Concurrent awaits share one fallback (a lock).
    """

    __slots__ = ("_resend", "_tiers", "_lock", "_fallback")

    def __init__(self, job: Job, resend: Callable[[str], Awaitable[Job]], tiers: list[str]) -> None:
        super().__init__(job)
        self._resend = resend
        self._tiers = tiers
        self._lock = trio.Lock()
        self._fallback: str | None = None

    @property
    def done(self) -> bool:
        """True once the job has its final outcome (a 498 with fallback tiers left is not final)."""
        outcome = self._job.outcome
        return outcome is not None and not (self._tiers and isinstance(outcome.error, CapacityExceededError))

    async def outcome(self) -> Outcome:
        """Wait for the job (falling back tier by tier on 498) and return its :class:`Outcome` without raising."""
        async with self._lock:
            outcome = await self._job.wait()
            while self._tiers and isinstance(outcome.error, CapacityExceededError):
                self._fallback = self._tiers.pop(0)
                self._job = await self._resend(self._fallback)
                outcome = await self._job.wait()
            value = outcome.value
            if self._fallback is not None and isinstance(value, ChatResponse) and value.service_tier is None:
                # [I] Groq reports the tier that answered; a body without it is credited to the fallback sent.
                outcome.value = msgspec.structs.replace(value, service_tier=self._fallback)
            return outcome

    async def result(self) -> Any:
        """Wait for the job (falling back tier by tier on 498) and return its response, or raise its error."""
        return (await self.outcome()).unwrap()


# ------------------------------------------------------------------------------- wiring


def _ssl_context(verify: bool | str | os.PathLike[str]) -> ssl.SSLContext:
    """TLS 1.2 or newer with certificate and host name checks, against a custom CA bundle when given.

    There is no way to switch the checks off (spec NFR-SEC-002): ``verify=False`` is refused
    rather than quietly sending the API key to whoever answers. A private or self-signed
    server is reached by trusting its CA (``verify="ca.pem"``); a local emulator by plain
    http on loopback, which ``Config.base_url`` allows.
    """
    if verify is True:
        cafile = None
    elif isinstance(verify, str | os.PathLike):
        cafile = os.fspath(verify)
        if not os.path.isfile(cafile):
            problem = "is a directory" if os.path.isdir(cafile) else "is not an existing file"
            raise ConfigError(field="verify", value=cafile, rule=f"{problem}; give the PEM file of the CA certificates")
    else:
        raise ConfigError(
            field="verify",
            value=verify,
            rule="must be True or the path of a CA bundle: certificate checks cannot be turned off; trust the "
            "server's CA with verify='ca.pem', or reach a local emulator over http://127.0.0.1",
        )
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (ssl.SSLError, OSError) as error:
        raise ConfigError(field="verify", value=verify, rule=f"cannot be read as PEM CA certificates ({error})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing.

    Groq authenticates with a bearer token and needs no cookies, and reading ``Set-Cookie`` costs
    httpx about 50 µs of a 200 µs call (it copies the URL and every header into urllib objects
    for each response), 10 % of a 10,000-job batch (measured 2026-12-01, ``bench/overhead.py``).
    """

    def extract_cookies(self, response: httpx.Response) -> None:
        """Nothing to keep."""


class _BearerClient(httpx.AsyncClient):
    """The client we own: httpx's, without a cookie jar (see :class:`_NoCookies`)."""

    _no_cookies: Final = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies


def _make_http_client(
    config: Config, verify: bool | str | os.PathLike[str], transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """One shared pool: a keep-alive connection per worker, room for open streams besides."""
    # Given a transport (the in-process emulator, a test's), httpx never uses its own TLS settings: the default
    # context and its 50 ms of loading the system's certificates are spared. A CA bundle is still read, so a
    # bad one is refused the same way whatever the transport.
    context = True if transport is not None and verify is True else _ssl_context(verify)
    return _BearerClient(
        transport=transport,
        http2=config.http2,
        verify=context,
        timeout=httpx.Timeout(config.timeout, connect=min(config.timeout, 10.0)),
        limits=httpx.Limits(
            max_connections=config.workers + config.queue_size,
            max_keepalive_connections=config.workers,
        ),
        follow_redirects=False,
        trust_env=False,
    )


@asynccontextmanager
async def open_client(config: Config | None = None, **overrides: Any) -> AsyncIterator[Client]:
    """Open a client: start its actors, yield it, and stop everything on exit.

    Args:
        config: a :class:`Config`; by default ``Config.from_env()`` (``GROQ_API_KEY``,
            ``GROQ_BASE_URL``), with ``overrides`` applied.
        **overrides: config fields to change (``api_key``, ``base_url``, ``timeout``,
            ``max_retries``, ``workers``, ``queue_size``, ``circuit_breaker_config`` ...), plus:

            - ``limits``: ``{model: ModelLimits(...)}``, your tier's limits where you know them;
            - ``http_client``: an ``httpx.AsyncClient`` to use instead of our own (not closed on
              exit), e.g. ``httpx.AsyncClient(transport=emulator.transport())``;
            - ``transport``: an ``httpx.AsyncBaseTransport`` for our own client to send through
              (httpx's seam for tests: ``emulator.transport()``, ``httpx.MockTransport``); unlike
              ``http_client`` it keeps our client's settings (no cookie jar, pool sizes);
            - ``verify``: a CA bundle path for the TLS check (certificates are always checked);
            - ``time_scale``: how much faster than real time the server's clock runs (the
              emulator's ``--time-scale``; 1.0 for Groq): rate-limit windows, retry backoff and
              the breaker's open time shrink by this factor;
            - ``catalog``: a :class:`ModelCatalog`; ``observer``: telemetry (see
              ``orchestrator.Telemetry``);
            - ``model_map``: ``{old: new}`` model ids rewritten on every request
              (``Config.model_map``); ``refresh_catalog``: ask ``GET /models`` at open
              (``Config.refresh_catalog``; by default only for a non-loopback base URL).

    Jobs still queued when the block exits are cancelled; use :meth:`Client.map` or await
    your handles inside the block.
    """
    if isinstance(overrides.get("api_key"), str):
        # Wrapped at once, so no frame of ours holds the raw key for a traceback to show.
        overrides["api_key"] = SecretString(overrides["api_key"])
    http_client: httpx.AsyncClient | None = overrides.pop("http_client", None)
    transport: httpx.AsyncBaseTransport | None = overrides.pop("transport", None)
    if http_client is not None and transport is not None:
        raise ConfigError(field="transport", value=transport, rule="give http_client or transport, not both")
    catalog: ModelCatalog = overrides.pop("catalog", None) or DEFAULT_CATALOG
    rng: random.Random | None = overrides.pop("rng", None)
    verify: bool | str = overrides.pop("verify", True)
    time_scale: float = overrides.pop("time_scale", 1.0)
    if isinstance(time_scale, bool) or not isinstance(time_scale, (int, float)) or not 0 < time_scale < float("inf"):
        raise ConfigError(field="time_scale", value=time_scale, rule="must be a positive, finite factor (1.0 for Groq)")
    observer: Observer = overrides.pop("observer", None) or NullObserver()
    limits = overrides.pop("limits", None)
    if limits:
        overrides["rate_limit_config"] = RateLimitConfig(model_limits=limits)
    if config is None:
        config = Config.from_env(**overrides)
    elif overrides:
        config = config.replace(**overrides)

    budgets: Any
    start = functools.partial(starting_limits, config, catalog)
    recognise = functools.partial(recognised_limits, config, catalog)
    if config.redis_url is None:
        budgets = RateBudgets(start, recognise=recognise, time_scale=time_scale)
    else:
        # Shared through Redis with every process using this API key; redis is imported only here.
        from ._redis_budget import RedisBudgets, budget_namespace

        budgets = RedisBudgets(
            config.redis_url,
            start,
            recognise=recognise,
            namespace=budget_namespace(config.api_key),
            time_scale=time_scale,
        )
    learned: set[str] = set()
    breaker_config = config.circuit_breaker_config
    breaker = CircuitBreaker(
        failure_rate=breaker_config.failure_rate,
        minimum_calls=breaker_config.minimum_calls,
        window_size=breaker_config.window_size,
        half_open_probes=breaker_config.half_open_probes,
        # Like the rate-limit windows, the server's recovery time runs on its (scaled) clock.
        open_seconds=breaker_config.reset_timeout / time_scale,
        # A probe to a server that hangs must time out before its permit lapses, or every lapse
        # sends more probes into the hang (and keeps held jobs from their max_wait).
        probe_timeout=max(breaker_config.reset_timeout / time_scale, config.timeout),
    )
    failures = ProductFailures(key_hint=config.api_key.hint, time_scale=time_scale, base_url=config.base_url)
    gate = BreakerGate(
        breaker,
        fail_fast=breaker_config.when_open == "fail",
        base_url=config.base_url,
        failures=failures,
        max_wait=None if breaker_config.max_wait is None else breaker_config.max_wait / time_scale,
        observer=observer,
        log=get_logger("orchestrator.breaker"),
    )
    dispatch_send, dispatch_receive = trio.open_memory_channel[Job](0)

    def too_large(job: Job, exceeded: RequestExceedsLimit) -> RequestTooLargeError:
        return RequestTooLargeError(
            f"request for model {job.model!r} needs {exceeded.requested} tokens but the {exceeded.window} "
            f"limit is {exceeded.limit}; shorten the prompt or lower max_completion_tokens",
            status=None,
            code="rate_limit_exceeded",
        )

    retry_config = config.retry_config
    retry = RetryPolicy(
        max_retries=retry_config.max_retries,
        initial_backoff=retry_config.initial_delay / time_scale,
        max_backoff=retry_config.max_delay / time_scale,
        multiplier=retry_config.multiplier,
        jitter=retry_config.jitter,
    )
    retry_budget = None if retry_config.budget_ratio is None else RetryBudget(
        ratio=retry_config.budget_ratio,
        min_per_second=retry_config.budget_per_second * time_scale,
        window=10.0 / time_scale,
    )
    scheduler = Scheduler(
        budgets,
        gate,
        dispatch_send,
        max_pending=config.queue_size + config.workers,
        learned=lambda model: model in learned or config.rate_limit_config.limits_for(model) is not None,
        too_large=too_large,
        retry=retry,
        retry_budget=retry_budget,
        rng=rng,
        observer=observer,
        log=get_logger("orchestrator.scheduler"),
    )
    estimator = CostEstimator()
    owned = http_client is None
    http = http_client if http_client is not None else _make_http_client(config, verify, transport)
    pool = WorkerPool(
        http=http,
        base_url=config.base_url,
        headers={**config.http_headers(), "accept": "application/json"},
        receive=dispatch_receive,
        scheduler=scheduler,
        budgets=budgets,
        gate=gate,
        estimator=estimator,
        workers=config.workers,
        default_timeout=config.timeout,
        on_headers=learned.add,
        observer=observer,
        failures=failures,
        chunks=ProductChunks(),
        log=get_logger("orchestrator.pool"),
    )
    try:
        with unwrapped_errors():
            async with open_service_nursery() as nursery:
                if config.redis_url is not None:
                    await nursery.start(budgets.run)  # the lease actor; fails fast if Redis is unreachable
                await nursery.start(scheduler.run)
                await nursery.start(pool.run)
                try:
                    client = Client(
                        config=config,
                        catalog=catalog,
                        scheduler=scheduler,
                        pool=pool,
                        budgets=budgets,
                        gate=gate,
                        estimator=estimator,
                    )
                    if should_refresh(config):
                        await refresh_catalog(client, http)
                    yield client
                finally:
                    nursery.cancel_scope.cancel()
    finally:
        if owned:
            with trio.CancelScope(shield=True):
                await http.aclose()
