"""The shared rate budget in Redis: many processes, one account's limits.

Theory of operation
-------------------
Each worker process keeps one :class:`~actors._shared_budget.SharedRateBudget` per model, which
grants synchronously from leased slices of budget (the scheduler never waits on the network);
:class:`RedisBudgets` holds them, presents the same ``get(model, now)`` as
:class:`~actors._budget.RateBudgets`, and runs the *lease actor* (:meth:`RedisBudgets.run`), which
performs the round trips the budgets ask for.

The shared state of one model lives under ``NAMESPACE:{MODEL}:*`` (one hash tag, so one Redis
Cluster slot): a state hash with, per window (RPM, RPD, TPM, TPD), the limit learned from headers,
the bucket's level and when it was true (it refills at limit/period, as Groq's does), what
outstanding leases hold apart, and the credit given back for their grants; the shared
``paused_until``; and a hash of outstanding leases. All of it expires by itself.

One round trip is one ``EVALSHA`` of :data:`LEASE_SCRIPT` per model (the models with news go in
one pipeline). The script reads Redis's own clock (``TIME``: one clock for all machines), then
atomically: learns limits, lowers the room to what headers said remains, settles returned leases
(no longer held apart; their used part, less any credit, charged from now), applies refunds and
over-estimates (as credit while leases are out), spends under-estimates, applies a 429 (shared
pause, drained window), settles leases nobody returned a minute after they ended (as used up),
and finally grants a lease if every window has room for its *need* (giving up to its *want*), or
answers how long to wait. Each request carries an id,
and the script records it for a while: a request retried after a lost reply is not applied twice,
and a lease granted to the lost reply is handed out again rather than leaked.

Why this client: the ``redis`` package's synchronous client, called through
``trio.to_thread.run_sync`` on one thread at a time. redis-py's asyncio client needs an asyncio
loop and trio has no maintained native Redis client; the lease design keeps round trips rare (one
per slice of budget, not per request), so a thread hop per round trip costs nothing that matters.

When Redis goes away
--------------------
The actor retries for ``give_up_after`` seconds, meanwhile the budgets grant only from leases
they already hold (and those expire after ``lease_ttl``). Then it raises
:class:`CoordinationError`, naming the Redis URL (password masked); the error stops the client,
so jobs not yet answered fail with it instead of being sent on a budget nobody else can see.
There is no silent fallback to a local budget: that is exactly the overshoot this module exists
to prevent. A Redis that comes back *empty* (restarted without persistence) forgets the shared
windows; the headers' ``remaining`` clamp then corrects the view within a round trip or two.
"""

from __future__ import annotations

import functools
import hashlib
import math
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import msgspec
import redis
import trio
from redis.backoff import NoBackoff
from redis.retry import Retry

from actors._budget import BudgetSnapshot, ModelLimits, StartingLimits, budget_for
from actors._shared_budget import DEFAULT_LEASE_FRACTION, SharedRateBudget, SyncReply, SyncRequest
from actors._windows import SHARED_WINDOWS, WINDOWS

from ._config import _redacted
from ._errors import CoordinationError
from .observe._logging import get_logger
from ._secret import SecretString

__all__ = ["LEASE_SCRIPT", "CoordinationError", "RedisBudgetStatistics", "RedisBudgets", "budget_namespace"]

log = get_logger("orchestrator.redis_budget")

_WINDOWS: Final = tuple(spec for spec in WINDOWS if spec.field in SHARED_WINDOWS)  # the script's windows, in order
_decode_reply = msgspec.json.Decoder(SyncReply).decode
_encode = msgspec.json.Encoder().encode

_SCRIPT_WINDOWS: Final = "\n".join(
    f"  {{name = '{spec.field}', kind = '{spec.kind}', seconds = {spec.seconds:g}}},"
    for spec in _WINDOWS
)

LEASE_SCRIPT: Final = r"""
-- One model's shared budget, Groq's buckets kept in Redis. KEYS: 1 state, 2 leases, 3 this request's
-- replay marker. ARGV: 1 the request (JSON), 2 replay marker ttl (ms).
-- Per window the state hash holds its learned limit (<name>), its bucket level and when that was
-- true (<name>:level, <name>:stamp), what outstanding leases hold apart (<name>:pending), and what was
-- given back for grants of leases not yet settled (<name>:credit).
local WINDOWS = {
""" + _SCRIPT_WINDOWS + r"""
}
local request = cjson.decode(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local scale = tonumber(request.scale)
local minute, day = 60 / scale, 86400 / scale
local EPSILON = 1e-7
local state, LEASES, REPLAY = KEYS[1], KEYS[2], KEYS[3]

local function num(value)
  if value == nil or value == false or value == cjson.null then return nil end
  return tonumber(value)
end

local FIELDS = {'', ':level', ':stamp', ':pending', ':credit'}
local fields = {}
for _, spec in ipairs(WINDOWS) do
  for _, suffix in ipairs(FIELDS) do fields[#fields + 1] = spec.name .. suffix end
end
fields[#fields + 1] = 'paused_until'
local stored = redis.call('HMGET', state, unpack(fields))
local defaults = request.defaults
if type(defaults) ~= 'table' then defaults = {} end

-- A bucket refills at limit/period up to its limit, never before its stamp (a 429's pause).
local function refill(w)
  if w.limit and now > w.stamp then
    if w.level < w.limit then w.level = math.min(w.limit, w.level + (now - w.stamp) * w.limit / w.period) end
    w.stamp = now
  end
end

-- A new limit keeps the deficit: what is out stays out.
local function set_limit(w, limit)
  if w.limit then w.level = w.level + (limit - w.limit) else w.level = limit end
  w.limit = limit
end

local windows = {}
for i, spec in ipairs(WINDOWS) do
  local base = #FIELDS * (i - 1)
  local w = {name = spec.name, kind = spec.kind, period = spec.seconds / scale}
  w.limit = num(stored[base + 1]) or num(defaults[spec.name])
  w.level = num(stored[base + 2]) or w.limit or 0
  w.stamp = num(stored[base + 3]) or now
  w.pending = num(stored[base + 4]) or 0
  w.credit = num(stored[base + 5]) or 0
  refill(w)
  windows[i] = w
  windows[spec.name] = w
end
local paused_until = num(stored[#fields]) or 0

local function amount_for(w, requests, tokens)
  if w.kind == 'tokens' then return tokens end
  return requests
end

local function room(w)
  return w.level - w.pending
end

-- A refund or an over-estimate. While leases are outstanding it may belong to one of them: it is
-- kept as credit and taken off the used part of the next lease to settle (a bucket full while they
-- are held apart would otherwise cap it away); with none outstanding it goes to the level.
local function give_back(w, amount)
  if not w.limit or amount <= 0 then return end
  if w.pending > 0 then
    w.credit = math.min(w.credit + amount, w.pending)
  else
    w.level = math.min(w.limit, w.level + amount)
  end
end

local function ready_at(w, cost)
  if w.limit == nil or cost <= 0 then return now end
  local start = math.max(now, w.stamp)
  local short = cost - room(w)
  if short <= EPSILON then return start end
  -- Exact while nothing is pending; otherwise a lease must come back first, and the worker asks again.
  return start + short * w.period / w.limit
end

-- A lease comes back: what it held apart leaves pending, and what was used is charged from now (its
-- requests reached the server no later, so the server's bucket refills them no later than ours).
local function settle(record, back_requests, back_tokens)
  local requests, tokens = string.match(record, '^(%S+) (%S+) ')
  requests, tokens = tonumber(requests), tonumber(tokens)
  local unused_requests = math.min(math.max(0, back_requests), requests)
  local unused_tokens = math.min(math.max(0, back_tokens), tokens)
  for _, w in ipairs(windows) do
    local leased = amount_for(w, requests, tokens)
    local used = leased - amount_for(w, unused_requests, unused_tokens)
    w.pending = math.max(0, w.pending - leased)
    if w.limit then
      local offset = math.min(w.credit, used)
      w.credit = w.credit - offset
      w.level = w.level - (used - offset)
      if w.pending <= 0 and w.credit > 0 then
        w.level = math.min(w.limit, w.level + w.credit)
        w.credit = 0
      end
    end
  end
end

local fresh = redis.call('SET', REPLAY, '1', 'NX', 'PX', tonumber(ARGV[2])) ~= false
local state_ttl = math.max(1000, math.ceil(day * 1000))

if fresh then
  -- What headers taught: limits (shared by all), and the server's remaining room: where we believe in
  -- more, ours becomes the server's (the used part of outstanding leases is counted there already).
  for _, seen in ipairs(request.observations or {}) do
    local w = windows[seen.window]
    if w then
      local limit = num(seen.limit)
      if limit and limit > 0 then
        set_limit(w, limit)
        redis.call('HSET', state, w.name, string.format('%d', limit))
      end
      local remaining = num(seen.remaining)
      if remaining and w.limit then
        local age = math.max(0, num(seen.age) or 0)
        remaining = math.min(w.limit, remaining + age * w.limit / w.period)
        if room(w) > remaining then w.level = remaining + w.pending end
      end
    end
  end

  for _, back in ipairs(request.releases or {}) do
    local record = redis.call('HGET', LEASES, back.id)
    if record then
      settle(record, num(back.requests) or 0, num(back.tokens) or 0)
      redis.call('HDEL', LEASES, back.id)
    end
  end

  local requests_back = num(request.give_back_requests) or 0
  local tokens_back = num(request.give_back_tokens) or 0
  local extra = num(request.extra_tokens) or 0
  for _, w in ipairs(windows) do
    give_back(w, amount_for(w, requests_back, tokens_back))
    if w.limit and w.kind == 'tokens' then w.level = w.level - math.max(0, extra) end
  end

  local pause = request.pause
  if type(pause) == 'table' then
    local age = math.max(0, num(pause.age) or 0)
    local until_time = now + math.max(0, (num(pause.retry_after) or 1) - age)
    if until_time > paused_until then paused_until = until_time end
    local w = pause.window and windows[pause.window]
    if type(w) == 'table' and w.limit then
      -- Drained: no room, and no refill before the pause ends.
      w.level = math.min(w.level, w.pending)
      w.stamp = math.max(w.stamp, until_time)
    end
  end
end

-- Leases nobody returned a minute after they ended (a worker died): counted as all used.
local leases = redis.call('HGETALL', LEASES)
for i = 1, #leases, 2 do
  local granted, ttl = string.match(leases[i + 1], '(%S+) (%S+)$')
  if tonumber(granted) + tonumber(ttl) + minute <= now then
    settle(leases[i + 1], 0, 0)
    redis.call('HDEL', LEASES, leases[i])
  end
end

local reply = {}
local ask = request.ask
if type(ask) == 'table' then
  local record = redis.call('HGET', LEASES, ask.id)
  if record then
    -- A replay of a request whose reply was lost: hand out the same lease.
    local requests, tokens = string.match(record, '^(%S+) (%S+) ')
    reply.grant = {id = ask.id, requests = tonumber(requests), tokens = tonumber(tokens), ttl = ask.ttl}
  else
    local need_requests, need_tokens = ask.need_requests, ask.need_tokens
    if need_requests + need_tokens == 0 then
      -- A prefetch: worth a lease only with some of each in it.
      need_requests, need_tokens = math.min(1, ask.want_requests), math.min(1, ask.want_tokens)
    end
    for _, w in ipairs(windows) do
      if w.limit and amount_for(w, need_requests, need_tokens) > w.limit then reply.exceeds = string.upper(w.name) end
    end
    if reply.exceeds == nil then
      local ready = math.max(now, paused_until)
      for _, w in ipairs(windows) do ready = math.max(ready, ready_at(w, amount_for(w, need_requests, need_tokens))) end
      if ready > now then
        reply.wait = ready - now
      else
        local r, t = ask.want_requests, ask.want_tokens
        for _, w in ipairs(windows) do
          if w.limit then
            local fits = math.max(amount_for(w, need_requests, need_tokens), math.floor(room(w) + EPSILON))
            if w.kind == 'tokens' then t = math.min(t, fits) else r = math.min(r, fits) end
          end
        end
        r, t = math.floor(r), math.floor(t)
        local ttl = tonumber(ask.ttl)
        for _, w in ipairs(windows) do w.pending = w.pending + amount_for(w, r, t) end
        redis.call('HSET', LEASES, ask.id, string.format('%d %d %.6f %.6f', r, t, now, ttl))
        redis.call('PEXPIRE', LEASES, math.ceil((ttl + minute) * 1000) + 1000)
        reply.grant = {id = ask.id, requests = r, tokens = t, ttl = ttl}
      end
    end
  end
end

local values = {}
for _, w in ipairs(windows) do
  if w.limit then
    values[#values + 1] = w.name .. ':level'
    values[#values + 1] = string.format('%.6f', w.level)
    values[#values + 1] = w.name .. ':stamp'
    values[#values + 1] = string.format('%.6f', w.stamp)
  end
  values[#values + 1] = w.name .. ':pending'
  values[#values + 1] = string.format('%.6f', w.pending)
  values[#values + 1] = w.name .. ':credit'
  values[#values + 1] = string.format('%.6f', w.credit)
end
values[#values + 1] = 'paused_until'
values[#values + 1] = string.format('%.6f', paused_until)
redis.call('HSET', state, unpack(values))
redis.call('PEXPIRE', state, state_ttl)

reply.limits, reply.remaining, reply.full_in = {}, {}, {}
for _, w in ipairs(windows) do
  if w.limit then
    reply.limits[w.name] = w.limit
    reply.remaining[w.name] = math.max(0, math.floor(room(w) + EPSILON))
    local short = w.limit - room(w)
    reply.full_in[w.name] = (short > EPSILON) and (math.max(now, w.stamp) - now + short * w.period / w.limit) or 0
  else
    -- An explicit null, so that no table is empty: cjson dialects disagree on how {} encodes ({} or []).
    reply.limits[w.name], reply.remaining[w.name] = cjson.null, cjson.null
    reply.full_in[w.name] = 0
  end
end
reply.paused_for = math.max(0, paused_until - now)
return cjson.encode(reply)
"""


class RedisBudgetStatistics(msgspec.Struct, frozen=True):
    """What the lease actor has done since the client opened."""

    models: int
    round_trips: int
    leases_granted: int
    leases_denied: int
    retries: int


def budget_namespace(api_key: SecretString) -> str:
    """The key prefix for an API key's shared budgets: workers with the same key share, others do not.

    Uses a short SHA-256 digest: the key itself never reaches Redis.
    """
    digest = hashlib.sha256(api_key.get_secret_value().encode()).hexdigest()[:16]
    return f"groq-orch:budget:{digest}"


class _Transient(Exception):
    """A Redis failure worth retrying (the connection, not the request)."""


class RedisBudgets:
    """Every model's shared budget, and the lease actor that keeps them supplied from Redis.

    Drop-in for :class:`~actors._budget.RateBudgets` (``get``, ``snapshots``), plus :meth:`run`,
    which must run for as long as the budgets are used (``open_client`` starts it in its service
    nursery).

    Args:
        url: ``redis://`` or ``rediss://`` URL of the coordinating Redis.
        defaults: the starting limits for a model id (configured, a plan's table, or a probe).
        recognise: ``recognise(model, rpd, tpm)``, the plan the headers reveal (see ``RateBudgets``).
        namespace: the key prefix (see :func:`budget_namespace`); processes sharing it share budgets.
        time_scale: how much faster than real time the server's windows run (every worker must agree).
        lease_fraction: the share of each per-minute limit one lease asks for.
        lease_ttl: seconds a lease may be granted from (default: 1/20 of a scaled minute).
        give_up_after: seconds Redis may stay unreachable before :class:`CoordinationError`.
        io_timeout: seconds for one connect or one reply.
        max_models: budgets kept; past it the least recently used idle one is forgotten.
        owner: this process's name in lease ids (default: a random one).
    """

    def __init__(
        self,
        url: str,
        defaults: Callable[[str], ModelLimits | StartingLimits],
        *,
        namespace: str,
        recognise: Callable[[str, int | None, int | None], StartingLimits | None] | None = None,
        time_scale: float = 1.0,
        lease_fraction: float = DEFAULT_LEASE_FRACTION,
        lease_ttl: float | None = None,
        give_up_after: float = 5.0,
        io_timeout: float = 2.0,
        max_models: int = 1024,
        owner: str | None = None,
    ) -> None:
        if not (give_up_after >= 0 and math.isfinite(give_up_after)):
            raise ValueError(f"give_up_after={give_up_after!r} must be a finite number of seconds >= 0")
        if not (io_timeout > 0 and math.isfinite(io_timeout)):
            raise ValueError(f"io_timeout={io_timeout!r} must be a positive number of seconds")
        if max_models < 1:
            raise ValueError(f"max_models={max_models!r} must be at least 1")
        self.url = url
        self.display_url = _redacted(url)
        self.namespace = namespace
        self.time_scale = time_scale
        self.lease_fraction = lease_fraction
        self.lease_ttl = lease_ttl
        self.give_up_after = give_up_after
        self.io_timeout = io_timeout
        self.max_models = max_models
        self.owner = owner or uuid.uuid4().hex[:12]
        self._defaults = defaults
        self._recognise = recognise
        self._budgets: OrderedDict[str, SharedRateBudget] = OrderedDict()
        self._wakeup = trio.Event()
        self._limiter = trio.CapacityLimiter(1)
        self._sha: str | None = None
        self._round_trips = self._granted = self._denied = self._retries = 0
        # Replay markers must outlive every retry of their request.
        self._replay_ms = math.ceil((give_up_after + 4 * io_timeout + 5.0) * 1000)

    # -- the RateBudgets interface ----------------------------------------------------------

    def get(self, model: str, now: float) -> SharedRateBudget:
        """The budget for ``model``, created from the defaults if it is new.

        Raises:
            RuntimeError: ``max_models`` budgets are all busy and ``model`` is new.
        """
        def create() -> SharedRateBudget:
            return SharedRateBudget(
                model,
                self._defaults(model),
                now,
                owner=self.owner,
                time_scale=self.time_scale,
                lease_fraction=self.lease_fraction,
                lease_ttl=self.lease_ttl,
                on_wants_sync=self._wake,
                recognise=None if self._recognise is None else functools.partial(self._recognise, model),
            )

        return budget_for(self._budgets, model, now, self.max_models, "RedisBudgets", create)

    def snapshots(self, now: float) -> dict[str, BudgetSnapshot]:
        """A snapshot of every model's shared budget (as of its last round trip)."""
        return {model: budget.snapshot(now) for model, budget in self._budgets.items()}

    def forget(self, model: str, now: float) -> None:
        """Drop ``model``'s budget, which the server says does not exist, once it holds no lease.

        A budget still holding leases keeps them until they are handed back or expire, as any budget does.
        """
        budget = self._budgets.get(model)
        if budget is not None and budget.idle(now):
            del self._budgets[model]

    def statistics(self) -> RedisBudgetStatistics:
        """Round trips, leases and retries since the client opened."""
        return RedisBudgetStatistics(
            models=len(self._budgets),
            round_trips=self._round_trips,
            leases_granted=self._granted,
            leases_denied=self._denied,
            retries=self._retries,
        )

    def __contains__(self, model: object) -> bool:
        return model in self._budgets

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._budgets))

    def __len__(self) -> int:
        return len(self._budgets)

    def __repr__(self) -> str:
        return f"<RedisBudgets {self.display_url} {self.namespace} {len(self._budgets)} models>"

    # -- the lease actor --------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve the budgets' round trips until cancelled; on exit, return every unused lease.

        Raises:
            CoordinationError: Redis is unreachable at start, or for ``give_up_after`` seconds later.
        """
        client = redis.Redis.from_url(
            self.url,
            socket_timeout=self.io_timeout,
            socket_connect_timeout=self.io_timeout,
            retry=Retry(NoBackoff(), 0),
            max_connections=2,
        )
        reachable = False
        try:
            self._sha = await self._call(lambda: client.script_load(LEASE_SCRIPT), retry=False)
            reachable = True
            log.info("shared_budget_started", redis=self.display_url, namespace=self.namespace, owner=self.owner)
            task_status.started()
            while True:
                self._wakeup = trio.Event()
                now = trio.current_time()
                due = [(model, budget) for model, budget in self._budgets.items() if budget.wants_sync(now)]
                if not due:
                    deadline = min((budget.next_deadline(now) for budget in self._budgets.values()), default=math.inf)
                    with trio.move_on_at(deadline):
                        await self._wakeup.wait()
                    continue
                requests = [(model, budget, budget.begin_sync(now)) for model, budget in due]
                try:
                    replies = await self._call(lambda: self._exchange(client, requests), retry=True)
                except CoordinationError:
                    reachable = False
                    raise
                received = trio.current_time()
                self._round_trips += 1
                for (_, budget, request), reply in zip(requests, replies):
                    if request.ask is not None:
                        if reply.grant is not None:
                            self._granted += 1
                        else:
                            self._denied += 1
                    budget.end_sync(request, reply, sent_at=now, now=received)
        finally:
            if reachable:
                with trio.CancelScope(shield=True):
                    await self._return_leases(client)
            client.close()

    async def _return_leases(self, client: redis.Redis) -> None:
        """Give back what every budget holds, once, briefly (a dead Redis must not hold up the exit)."""
        now = trio.current_time()
        requests = [(model, budget, budget.close(now)) for model, budget in self._budgets.items()]
        requests = [entry for entry in requests if entry[2].releases or entry[2].give_back_tokens or entry[2].extra_tokens]
        if not requests:
            return
        try:
            await self._call(lambda: self._exchange(client, requests), retry=False)
        except CoordinationError as error:
            log.warning("shared_budget_leases_not_returned", redis=self.display_url, error=str(error.__cause__))

    def _wake(self) -> None:
        self._wakeup.set()

    def _keys(self, model: str, request_id: str) -> list[str]:
        base = f"{self.namespace}:{{{model}}}"
        return [f"{base}:state", f"{base}:leases", f"{base}:replay:{request_id}"]

    def _exchange(
        self, client: redis.Redis, requests: Sequence[tuple[str, SharedRateBudget, SyncRequest]]
    ) -> list[SyncReply]:
        """One pipelined round trip (runs in a worker thread)."""
        for attempt in range(2):
            pipe = client.pipeline(transaction=False)
            for model, _, request in requests:
                keys = self._keys(model, request.id)
                pipe.evalsha(self._sha, len(keys), *keys, _encode(request), self._replay_ms)
            try:
                raw = pipe.execute()
            except redis.exceptions.NoScriptError:
                if attempt:
                    raise
                self._sha = client.script_load(LEASE_SCRIPT)  # Redis restarted: its script cache is empty
                continue
            return [_decode_reply(item) for item in raw]
        raise AssertionError("unreachable")

    async def _call(self, work: Callable[[], Any], *, retry: bool) -> Any:
        """Run ``work`` in a thread; retry connection trouble for ``give_up_after`` seconds, then give up."""
        first_failure: float | None = None
        attempt = 0
        while True:
            try:
                try:
                    return await trio.to_thread.run_sync(work, limiter=self._limiter)
                except (redis.exceptions.AuthenticationError, redis.exceptions.ReadOnlyError):
                    raise
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as error:
                    raise _Transient() from error
            except _Transient as transient:
                error = transient.__cause__
                now = trio.current_time()
                if first_failure is None:
                    first_failure = now
                    log.warning("shared_budget_redis_unreachable", redis=self.display_url, error=repr(error))
                if not retry or now - first_failure >= self.give_up_after:
                    raise self._error(error, now - first_failure) from error
                self._retries += 1
                await trio.sleep(min(0.05 * 2**attempt, 1.0, self.give_up_after - (now - first_failure)))
                attempt += 1
            except (redis.exceptions.RedisError, msgspec.DecodeError) as error:
                raise self._error(error, None) from error

    def _error(self, error: BaseException | None, unreachable_for: float | None) -> CoordinationError:
        if unreachable_for is None:
            what = f"Redis at {self.display_url} refused the shared rate budget: {error!r}"
        else:
            what = (
                f"Redis at {self.display_url} is unreachable ({error!r}); gave up after {unreachable_for:.3g} s "
                "rather than spend rate limits the other workers cannot see"
            )
        return CoordinationError(what, url=self.display_url)
