"""The shared rate budget in Redis: many processes, one account's limits.

Theory of operation
-------------------
Each worker process keeps one :class:`~actors._shared_budget.SharedRateBudget` per model, which
grants synchronously from leased slices of budget (the scheduler never waits on the network);
:class:`RedisBudgets` holds them, presents the same ``get(model, now)`` as
:class:`~actors._budget.RateBudgets`, and runs the *lease actor* (:meth:`RedisBudgets.run`), which
performs the round trips the budgets ask for.

The shared state of one model lives under ``NAMESPACE:{MODEL}:*`` (one hash tag, so one Redis
Cluster slot): a sliding-window log per window (RPM, RPD, TPM, TPD) kept as a sorted set of
time slots plus a hash of what comes back in each slot (``period / 240`` wide, rounded up: budget
comes back at most one slot late, never early), a state hash with the limits learned from headers
and the shared ``paused_until``, and a hash of outstanding leases. All of it expires by itself.

One round trip is one ``EVALSHA`` of :data:`LEASE_SCRIPT` per model (the models with news go in
one pipeline). The script reads Redis's own clock (``TIME``: one clock for all machines), then
atomically: learns limits, takes back returned leases (their unused rest from the earliest
entries; their used part, all granted by now, re-timed to come back one period from now instead of
``ttl`` plus a period after the grant), refunds and over-estimates (from the earliest entries),
spends under-estimates, clamps the windows to what headers said remains,
applies a 429 (shared pause, drained window), and finally grants a lease if every window has room
for its *need* (giving up to its *want*), or answers how long to wait. Each request carries an id,
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

_WINDOWS: Final = tuple(spec for spec in WINDOWS if spec.field in SHARED_WINDOWS)  # the script's KEYS order
_decode_reply = msgspec.json.Decoder(SyncReply).decode
_encode = msgspec.json.Encoder().encode

_SCRIPT_WINDOWS: Final = "\n".join(
    f"  {{name = '{spec.field}', kind = '{spec.kind}', seconds = {spec.seconds:g}}},"
    for spec in _WINDOWS
)

LEASE_SCRIPT: Final = r"""
-- One model's shared budget. KEYS: 1 state, then per window (in WINDOWS' order) its slot set, then
-- per window its slot amounts, then the leases, then this request's replay marker.
-- ARGV: 1 the request (JSON), 2 replay marker ttl (ms).
local WINDOWS = {
""" + _SCRIPT_WINDOWS + r"""
}
local request = cjson.decode(ARGV[1])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local scale = tonumber(request.scale)
local minute, day = 60 / scale, 86400 / scale
local SLOTS = 240
local CHUNK = 500
local N = #WINDOWS
local LEASES, REPLAY = KEYS[2 + 2 * N], KEYS[3 + 2 * N]

local function num(value)
  if value == nil or value == false or value == cjson.null then return nil end
  return tonumber(value)
end

local state = KEYS[1]
local fields = {}
for i, spec in ipairs(WINDOWS) do fields[i] = spec.name end
fields[N + 1] = 'paused_until'
local stored = redis.call('HMGET', state, unpack(fields))
local defaults = request.defaults
if type(defaults) ~= 'table' then defaults = {} end
local windows = {}
for i, spec in ipairs(WINDOWS) do
  local name = spec.name
  local w = {name = name, kind = spec.kind, z = KEYS[1 + i], h = KEYS[1 + N + i], period = spec.seconds / scale, dirty = false}
  w.res = w.period / SLOTS
  w.limit = num(stored[i]) or num(defaults[name])
  w.spent = num(redis.call('HGET', w.h, '_spent')) or 0
  windows[i] = w
  windows[name] = w
end
local paused_until = num(stored[N + 1]) or 0

local function amounts_of(w, slots, first, last)
  local chunk = {}
  for j = first, last do chunk[#chunk + 1] = slots[j] end
  return chunk, redis.call('HMGET', w.h, unpack(chunk))
end

local function expire(w)
  local cutoff = now / w.res
  local gone = redis.call('ZRANGEBYSCORE', w.z, '-inf', cutoff)
  if #gone == 0 then return end
  local freed = 0
  for first = 1, #gone, CHUNK do
    local chunk, amounts = amounts_of(w, gone, first, math.min(first + CHUNK - 1, #gone))
    for _, amount in ipairs(amounts) do freed = freed + (num(amount) or 0) end
    redis.call('HDEL', w.h, unpack(chunk))
  end
  redis.call('ZREMRANGEBYSCORE', w.z, '-inf', cutoff)
  w.spent = w.spent - freed
  w.dirty = true
end

local function slot_for(w, t)
  local slot = math.ceil(t / w.res)
  if slot * w.res < t then slot = slot + 1 end
  return slot
end

local function spend(w, amount, until_time)
  amount = math.floor(amount)
  if amount <= 0 then return end
  local slot = slot_for(w, until_time)
  local field = string.format('%.0f', slot)
  redis.call('ZADD', w.z, slot, field)
  redis.call('HINCRBY', w.h, field, amount)
  w.spent = w.spent + amount
  w.dirty = true
end

-- Earliest entries first: never frees room the truth has not freed (see actors._budget).
local function give_back(w, amount)
  local remaining = math.min(math.floor(amount), w.spent)
  if remaining <= 0 then return end
  local slots = redis.call('ZRANGE', w.z, 0, -1)
  local taken = 0
  for _, field in ipairs(slots) do
    local held = num(redis.call('HGET', w.h, field)) or 0
    local take = math.min(remaining - taken, held)
    if take >= held then
      redis.call('HDEL', w.h, field)
      redis.call('ZREM', w.z, field)
    else
      redis.call('HINCRBY', w.h, field, -take)
    end
    taken = taken + take
    if taken >= remaining then break end
  end
  w.spent = w.spent - remaining
  w.dirty = true
end

-- Spent now, coming back from start on at the refill rate limit/period (a drained bucket).
local function spend_gradually(w, amount, start)
  if amount <= 0 or not w.limit then return end
  local per_slot = w.limit / w.period * w.res
  local returned, step = 0, 1
  while returned < amount do
    local back = math.min(amount, math.floor(per_slot * step))
    if back > returned then
      spend(w, back - returned, start + w.res * step)
      returned = back
    end
    step = step + 1
  end
end

-- Move up to amount from the entry coming back at from_time to to_time (earlier). Safe once every
-- request of that amount has been sent: they all come back by to_time in truth.
local function retime(w, amount, from_time, to_time)
  amount = math.floor(amount)
  local from_slot = slot_for(w, from_time)
  if amount <= 0 or slot_for(w, to_time) >= from_slot then return end
  local field = string.format('%.0f', from_slot)
  local held = num(redis.call('HGET', w.h, field)) or 0
  local moved = math.min(amount, held)
  if moved <= 0 then return end
  if moved >= held then
    redis.call('HDEL', w.h, field)
    redis.call('ZREM', w.z, field)
  else
    redis.call('HINCRBY', w.h, field, -moved)
  end
  w.spent = w.spent - moved
  spend(w, moved, to_time)
end

local function ready_at(w, cost)
  if w.limit == nil or cost <= 0 then return now end
  local excess = w.spent + cost - w.limit
  if excess <= 0 then return now end
  local slots = redis.call('ZRANGE', w.z, 0, -1)
  local freed = 0
  for first = 1, #slots, CHUNK do
    local chunk, amounts = amounts_of(w, slots, first, math.min(first + CHUNK - 1, #slots))
    for j, amount in ipairs(amounts) do
      freed = freed + (num(amount) or 0)
      if freed >= excess then return tonumber(chunk[j]) * w.res end
    end
  end
  return now + w.period
end

for _, w in ipairs(windows) do expire(w) end

local fresh = redis.call('SET', REPLAY, '1', 'NX', 'PX', tonumber(ARGV[2])) ~= false
local state_ttl = math.max(1000, math.ceil(day * 1000))

if fresh then
  -- What headers taught: limits (shared by all), and the server's remaining room (a clamp).
  for _, seen in ipairs(request.observations or {}) do
    local w = windows[seen.window]
    if w then
      local limit = num(seen.limit)
      if limit and limit > 0 then
        w.limit = limit
        redis.call('HSET', state, w.name, string.format('%d', limit))
        redis.call('PEXPIRE', state, state_ttl)
      end
      local remaining = num(seen.remaining)
      if remaining and w.limit then
        local age = math.max(0, num(seen.age) or 0)
        local rate = w.limit / w.period
        remaining = math.min(w.limit, remaining + age * rate)
        local excess = w.limit - w.spent - remaining
        if excess >= 1 then
          local until_full = (w.limit - remaining) / rate
          local reset = num(seen.reset)
          if reset then until_full = math.max(reset - age, until_full) end
          spend(w, excess, now + math.min(until_full, w.period))
        end
      end
    end
  end

  -- Returned leases: the unused rest goes back (earliest entries first); the used part was all
  -- granted by now, so it comes back a period from now rather than ttl + a period after the grant.
  -- Only while the lease's per-minute entries can still hold it.
  for _, back in ipairs(request.releases or {}) do
    local record = redis.call('HGET', LEASES, back.id)
    if record then
      local requests, tokens, granted, ttl = string.match(record, '^(%S+) (%S+) (%S+) (%S+)$')
      requests, tokens, granted, ttl = tonumber(requests), tonumber(tokens), tonumber(granted), tonumber(ttl)
      if granted + ttl + minute > now then
        local r = math.min(math.max(0, num(back.requests) or 0), requests)
        local t = math.min(math.max(0, num(back.tokens) or 0), tokens)
        local used_until = math.min(now, granted + ttl)
        for _, w in ipairs(windows) do
          local leased, unused = requests, r
          if w.kind == 'tokens' then leased, unused = tokens, t end
          give_back(w, unused)
          retime(w, leased - unused, granted + ttl + w.period, used_until + w.period)
        end
      end
      redis.call('HDEL', LEASES, back.id)
    end
  end

  local requests_back = num(request.give_back_requests) or 0
  local tokens_back = num(request.give_back_tokens) or 0
  local extra = num(request.extra_tokens) or 0
  for _, w in ipairs(windows) do
    if w.kind == 'tokens' then
      give_back(w, tokens_back)
      spend(w, extra, now + w.period)
    else
      give_back(w, requests_back)
    end
  end

  local pause = request.pause
  if type(pause) == 'table' then
    local age = math.max(0, num(pause.age) or 0)
    local until_time = now + math.max(0, (num(pause.retry_after) or 1) - age)
    if until_time > paused_until then
      paused_until = until_time
      redis.call('HSET', state, 'paused_until', string.format('%.6f', until_time))
      redis.call('PEXPIRE', state, state_ttl)
    end
    local w = pause.window and windows[pause.window]
    if type(w) == 'table' and w.limit then spend_gradually(w, w.limit - w.spent, until_time) end
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
    local need = {requests = need_requests, tokens = need_tokens}
    for _, w in ipairs(windows) do
      if w.limit and need[w.kind] > w.limit then reply.exceeds = string.upper(w.name) end
    end
    if reply.exceeds == nil then
      local ready = math.max(now, paused_until)
      for _, w in ipairs(windows) do ready = math.max(ready, ready_at(w, need[w.kind])) end
      if ready > now then
        reply.wait = ready - now
      else
        local grant = {requests = ask.want_requests, tokens = ask.want_tokens}
        for _, w in ipairs(windows) do
          if w.limit then grant[w.kind] = math.min(grant[w.kind], math.max(need[w.kind], w.limit - w.spent)) end
        end
        grant.requests, grant.tokens = math.floor(grant.requests), math.floor(grant.tokens)
        local r, t = grant.requests, grant.tokens
        local ttl = tonumber(ask.ttl)
        for _, w in ipairs(windows) do spend(w, grant[w.kind], now + ttl + w.period) end
        redis.call('HSET', LEASES, ask.id, string.format('%d %d %.6f %.6f', r, t, now, ttl))
        redis.call('PEXPIRE', LEASES, math.ceil((ttl + minute) * 1000) + 1000)
        reply.grant = {id = ask.id, requests = r, tokens = t, ttl = ttl}
      end
    end
  end
end

-- Forget leases whose per-minute entries are gone.
local leases = redis.call('HGETALL', LEASES)
for i = 1, #leases, 2 do
  local granted, ttl = string.match(leases[i + 1], '(%S+) (%S+)$')
  if tonumber(granted) + tonumber(ttl) + minute <= now then redis.call('HDEL', LEASES, leases[i]) end
end

reply.limits, reply.remaining, reply.full_in = {}, {}, {}
for _, w in ipairs(windows) do
  local last = redis.call('ZRANGE', w.z, -1, -1, 'WITHSCORES')
  if w.dirty then
    if #last == 0 then
      w.spent = 0
      redis.call('DEL', w.z, w.h)
    else
      if w.spent < 0 then w.spent = 0 end
      redis.call('HSET', w.h, '_spent', string.format('%d', w.spent))
      local ttl = math.ceil((tonumber(last[2]) * w.res - now) * 1000) + 1000
      redis.call('PEXPIRE', w.z, ttl)
      redis.call('PEXPIRE', w.h, ttl)
    end
  end
  if w.limit then
    reply.limits[w.name] = w.limit
    reply.remaining[w.name] = w.limit - w.spent
  end
  reply.full_in[w.name] = (#last > 0) and math.max(0, tonumber(last[2]) * w.res - now) or 0
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
        return [
            f"{base}:state",
            *(f"{base}:slots:{spec.field}" for spec in _WINDOWS),
            *(f"{base}:amounts:{spec.field}" for spec in _WINDOWS),
            f"{base}:leases",
            f"{base}:replay:{request_id}",
        ]

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
