"""The Redis side of a shared batch: key layout, atomic scripts, one method per round trip.

Theory of operation
-------------------
Several worker processes, on one machine or many, run one batch together. Everything they must agree on
lives in Redis under one prefix, ``groq-orch:batch:{NAME}:`` (the braces are a Redis Cluster hash tag, so
every key of a batch lives on one shard and the scripts below may touch them together):

``meta`` (hash)
    ``fingerprint`` of the input file (every worker must be given the same one), ``status``
    (``loading`` | ``loaded`` | ``refused``), ``refusal`` (the duplicate-id message), ``jobs`` (lines in
    the input), ``cursor`` (the last input line number streamed), ``skipped`` (jobs found already answered
    when loading), and the counters ``succeeded`` / ``failed`` / ``malformed``.
``jobs`` (stream, consumer group ``workers``)
    One entry per job still to run: ``c`` custom_id, ``l`` line number, ``r`` the raw input line. Workers
    read new entries with ``XREADGROUP``; an entry stays *pending* on its reader until its result is
    recorded, and is then acknowledged and deleted, so the stream holds only unfinished work and
    ``XLEN jobs == 0`` with status ``loaded`` means the batch is done.
``answered`` (hash)
    custom_id -> the token of the attempt that recorded it. ``HSETNX`` semantics make "one result per
    custom_id" a property of Redis, not of worker timing.
``results`` (stream)
    One entry per result: ``c`` custom_id, ``r`` the complete result line in the batch output format. The
    ``collect`` step appends them to the output file.
``loader`` / ``collector`` (strings with a lease)
    Who is streaming the input in, and who is writing an output file. Leases expire, so a worker that dies
    holding one only delays the next taker.
``collected`` (hash)
    ``host:path`` of an output file -> the last ``results`` entry it holds, so finishing workers do not
    collect the same file twice.

Every state change is one Lua script (atomic in Redis, and replayed atomically from the append-only file):

* ``record``: if the custom_id is unanswered, mark it, append the result line and count it; then, in every
  case, acknowledge and delete the job entry. A crash before the script leaves the job pending (it is
  reclaimed and run again); a crash after leaves it answered. Nothing in between exists, so a result is
  never lost and never recorded twice. A reply lost to a network blip is retried by the client; the
  attempt token makes that retry report success instead of a duplicate.
* ``append``: the loader streams a chunk of input lines only if it still holds the loader lease and the
  cursor is where it left it (compare-and-set), so a stale loader, or a retried call, never streams a
  line twice; lines already answered are skipped inside the script.
* ``claim_loader``, ``finish_load``, ``refuse``, ``join``: the loader lease and the batch's life cycle.

Dead workers: an entry pending on a consumer that stops touching it is taken over with ``XAUTOCLAIM``
after ``reclaim_after`` seconds of idleness. Live workers touch their entries (``XCLAIM ... JUSTID``,
which resets the idle time) well within that, so only the entries of dead or cut-off workers move.

This module is synchronous (redis-py's blocking client, which is thread-safe through its connection
pool); the trio runner calls it through ``trio.to_thread``. Every Redis failure surfaces as
:class:`SharedBatchError` naming the (password-redacted) URL and what to do.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import msgspec
import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

__all__ = [
    "GROUP",
    "BatchProgress",
    "BatchStore",
    "JobEntry",
    "Joined",
    "LoadChunk",
    "Record",
    "SharedBatchError",
    "batch_name_problem",
    "redact_url",
]

#: The consumer group every worker of a batch reads the jobs stream through.
GROUP: Final = "workers"
_KEY_PREFIX: Final = "groq-orch:batch:"
# redis-py retries a command that failed on a dropped connection this often (backoff 50 ms .. 1 s),
# which rides out a Redis restart of a second or two; a longer outage stops the run with a clear error.
_RETRIES: Final = 3
_CONNECT_TIMEOUT: Final = 2.0
# Replies wait at most this long beyond a command's own blocking time.
_SOCKET_TIMEOUT: Final = 10.0


class SharedBatchError(Exception):
    """Redis, or the shared batch's state in it, stopped this worker; the message says what to do.

    Raised when Redis cannot be reached (the worker stops cleanly: results it recorded are safe in Redis,
    jobs it had in flight were not recorded and run again on resume) and when the batch in Redis does not
    match this worker (another input file under the same name).
    """


def redact_url(url: str) -> str:
    """The Redis URL without its password, for messages and the progress display."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:" if parts.username else ":"
    return urlunsplit((parts.scheme, f"{user}***@{host}", parts.path, parts.query, parts.fragment))


def batch_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a shared batch (it becomes part of Redis keys), or None when it can."""
    if not name or len(name) > 200 or any(ch in name for ch in "{}*?[]\\") or not name.isprintable() or " " in name:
        return (
            f"batch name {name!r} must be 1 to 200 printable characters without spaces, braces, * ? [ ] or "
            "backslashes, e.g. --workers-join nightly-2025-11-25"
        )
    return None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class JobEntry(msgspec.Struct, frozen=True):
    """One job as it travels through the jobs stream: where it came from and its raw input line."""

    entry_id: str
    custom_id: str
    line: int
    raw: bytes


class Record(msgspec.Struct, frozen=True):
    """A result ready to be recorded: the job entry it answers and its complete output line.

    ``kind`` is ``succeeded``, ``failed`` or ``malformed`` (the counter the script increments).
    """

    entry_id: str
    custom_id: str
    line: bytes
    kind: str


class Joined(msgspec.Struct, frozen=True):
    """What a worker learns when it joins: the batch's status, and the refusal message if refused."""

    status: str
    refusal: str | None


class LoadChunk(msgspec.Struct, frozen=True):
    """Input lines to stream in one ``append``: ``(custom_id, line number, raw)`` triples and the cursor.

    ``last_line`` is the last input line number the chunk covers (including lines skipped locally because
    the output file already answers them, which ``local_skipped`` counts).
    """

    jobs: tuple[tuple[str, int, bytes], ...]
    last_line: int
    local_skipped: int


class BatchProgress(msgspec.Struct, frozen=True):
    """The batch as a whole, as Redis sees it.

    Attributes:
        status: ``loading``, ``loaded`` or ``refused``.
        jobs: lines in the input file (None until the loader has scanned it).
        answered: jobs with a result recorded in Redis.
        skipped: jobs the loader found already answered (in the loader's output file or in Redis).
        unfinished: job entries still in the stream (waiting or in flight).
        succeeded, failed, malformed: result counters over every worker.
    """

    status: str
    jobs: int | None
    answered: int
    skipped: int
    unfinished: int
    succeeded: int
    failed: int
    malformed: int

    @property
    def done(self) -> int:
        """Jobs that have a result somewhere (recorded in Redis, or already in the output file)."""
        return self.answered + self.skipped

    @property
    def finished(self) -> bool:
        """True when the whole input is streamed and every streamed job has its result."""
        return self.status == "loaded" and self.unfinished == 0


# ----------------------------------------------------------------------------------------- scripts
# KEYS are always passed in full (Redis Cluster routes on them); all share the batch's hash tag.

_JOIN = """
local meta, loader = KEYS[1], KEYS[3]
local fingerprint = redis.call('HGET', meta, 'fingerprint')
if fingerprint and fingerprint ~= ARGV[1] then
  if redis.call('HGET', meta, 'status') ~= 'refused' then
    return {'mismatch', fingerprint}
  end
  -- A refused batch never sent anything: a corrected input starts it afresh.
  redis.call('DEL', meta, loader)
  fingerprint = false
end
if not fingerprint then
  redis.call('HSET', meta, 'fingerprint', ARGV[1], 'status', 'loading', 'cursor', '0')
end
redis.pcall('XGROUP', 'CREATE', KEYS[2], ARGV[2], '0', 'MKSTREAM')
return {redis.call('HGET', meta, 'status'), redis.call('HGET', meta, 'refusal') or ''}
"""

_CLAIM_LEASE = """
local status = redis.call('HGET', KEYS[1], 'status')
if status == 'loaded' or status == 'refused' then return status end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 'held' end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 'won'
"""

_RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

_APPEND = """
local meta, jobs, loader, answered = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
if redis.call('GET', loader) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', loader, ARGV[2])
local cursor = redis.call('HGET', meta, 'cursor') or '0'
if cursor == ARGV[4] then return redis.call('XLEN', jobs) end
if cursor ~= ARGV[3] then return -2 end
local skipped = tonumber(ARGV[5])
for i = 6, #ARGV, 3 do
  if redis.call('HEXISTS', answered, ARGV[i]) == 1 then
    skipped = skipped + 1
  else
    redis.call('XADD', jobs, '*', 'c', ARGV[i], 'l', ARGV[i + 1], 'r', ARGV[i + 2])
  end
end
redis.call('HSET', meta, 'cursor', ARGV[4])
if skipped > 0 then redis.call('HINCRBY', meta, 'skipped', skipped) end
return redis.call('XLEN', jobs)
"""

_SET_TOTAL = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'jobs', ARGV[2])
return 1
"""

_FINISH_LOAD = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'loaded')
redis.call('DEL', KEYS[2])
return 1
"""

_REFUSE = """
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'status', 'refused', 'refusal', ARGV[2])
redis.call('DEL', KEYS[2])
return 1
"""

_RECORD = """
local answered, results, jobs, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local previous = redis.call('HGET', answered, ARGV[3])
local fresh = 0
if not previous then
  redis.call('HSET', answered, ARGV[3], ARGV[4])
  redis.call('XADD', results, '*', 'c', ARGV[3], 'r', ARGV[5])
  redis.call('HINCRBY', meta, ARGV[6], 1)
  if ARGV[6] == 'malformed' then redis.call('HINCRBY', meta, 'failed', 1) end
  fresh = 1
elseif previous == ARGV[4] then
  fresh = 1
end
redis.call('XACK', jobs, ARGV[1], ARGV[2])
redis.call('XDEL', jobs, ARGV[2])
return fresh
"""


class BatchStore:
    """One worker's view of one shared batch in Redis: every method is one round trip.

    Not a trio object: methods block, and the runner calls them with ``trio.to_thread.run_sync``. The
    redis-py client underneath is thread-safe (each call borrows a pooled connection), so calls from
    several threads may overlap.

    Args:
        url: ``redis://[:password@]host:port/db`` (``rediss://`` for TLS).
        name: the batch name every worker joins with (``--workers-join``).
        consumer: this worker's consumer name in the group (default: host, pid and a random suffix).
        client: a ready redis-py client to use instead of one built from ``url`` (not closed by `close`).
    """

    def __init__(self, url: str, name: str, *, consumer: str | None = None, client: redis.Redis | None = None) -> None:
        problem = batch_name_problem(name)
        if problem is not None:
            raise ValueError(problem)
        self.url = url
        self.name = name
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"
        self._owns_client = client is None
        if client is None:
            try:
                client = redis.Redis.from_url(
                    url,
                    socket_connect_timeout=_CONNECT_TIMEOUT,
                    socket_timeout=_SOCKET_TIMEOUT,
                    retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), _RETRIES),
                    retry_on_timeout=True,
                )
            except ValueError as exc:
                raise SharedBatchError(
                    f"--redis {redact_url(url)!r} is not a Redis URL ({exc}); write redis://HOST:PORT/DB"
                ) from None
        self._redis = client
        self._reached = False  # no command has succeeded yet: a failure means "cannot reach", not "lost"
        prefix = f"{_KEY_PREFIX}{{{name}}}:"
        self.meta_key = prefix + "meta"
        self.jobs_key = prefix + "jobs"
        self.answered_key = prefix + "answered"
        self.results_key = prefix + "results"
        self.loader_key = prefix + "loader"
        self.collector_key = prefix + "collector"
        self.collected_key = prefix + "collected"
        register = self._redis.register_script
        self._join = register(_JOIN)
        self._claim_lease = register(_CLAIM_LEASE)
        self._renew = register(_RENEW)
        self._release = register(_RELEASE)
        self._append = register(_APPEND)
        self._set_total = register(_SET_TOTAL)
        self._finish_load = register(_FINISH_LOAD)
        self._refuse = register(_REFUSE)
        self._record = register(_RECORD)

    def __repr__(self) -> str:
        return f"<BatchStore {self.name!r} at {redact_url(self.url)} as {self.consumer!r}>"

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        """Turn redis-py's exceptions into a `SharedBatchError` that names the URL and the way out."""
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if not self._reached:
                raise SharedBatchError(
                    f"cannot reach Redis at {redact_url(self.url)} ({exc}); start it there or fix --redis. "
                    "Nothing was sent."
                ) from None
            raise SharedBatchError(
                f"lost Redis at {redact_url(self.url)} while {doing} ({exc}). This worker stopped: results already "
                "recorded stay in Redis, jobs in flight were not recorded and will run again. Bring Redis back (with "
                f"its data: run it with appendonly yes) and re-run the same command to resume batch {self.name!r}; "
                "if Redis lost its data, the re-run redoes what was lost, still one result per job."
            ) from None
        except redis.ResponseError as exc:
            raise SharedBatchError(
                f"Redis at {redact_url(self.url)} refused a command while {doing} ({exc}); shared batches need "
                "Redis 6.2 or newer (XAUTOCLAIM) with scripting enabled"
            ) from None
        except redis.RedisError as exc:
            raise SharedBatchError(f"Redis at {redact_url(self.url)} failed while {doing}: {exc}") from None
        self._reached = True

    def close(self) -> None:
        """Close the connection pool (only when this store built the client)."""
        if self._owns_client:
            self._redis.close()

    # -------------------------------------------------------------------------------- life cycle

    def join(self, fingerprint: str) -> Joined:
        """Register for the batch: set (or check) the input fingerprint and create the consumer group.

        Raises:
            SharedBatchError: Redis is unreachable, or the batch was started from a different input file.
        """
        with self._errors("joining the batch"):
            status, detail = self._join(
                keys=[self.meta_key, self.jobs_key, self.loader_key], args=[fingerprint, GROUP]
            )
        if _text(status) == "mismatch":
            raise SharedBatchError(
                f"batch {self.name!r} in Redis at {redact_url(self.url)} was started from a different input file "
                f"(fingerprint {_text(detail)}, this one {fingerprint}). Give every worker the same JOBS file, or "
                "start a new batch under another --workers-join name."
            )
        return Joined(_text(status), _text(detail) or None)

    def claim_loader(self, lease: float) -> str:
        """Try to become the loader: ``won`` (lease taken or renewed), ``held``, ``loaded`` or ``refused``."""
        with self._errors("claiming the loader lease"):
            return _text(
                self._claim_lease(keys=[self.meta_key, self.loader_key], args=[self.consumer, _ms(lease)])
            )

    def set_total(self, jobs: int) -> bool:
        """Record how many jobs the input holds (loader only); False if the loader lease was lost."""
        with self._errors("recording the job count"):
            return bool(self._set_total(keys=[self.meta_key, self.loader_key], args=[self.consumer, jobs]))

    def append(self, chunk: LoadChunk, after_line: int, lease: float) -> int:
        """Stream a chunk of input lines, if still the loader and the cursor is at ``after_line``.

        Returns:
            The number of job entries now waiting in the stream (for backpressure), or -1 when the loader
            lease was lost, -2 when another loader moved the cursor (this one must stop).
        """
        args: list[Any] = [self.consumer, _ms(lease), after_line, chunk.last_line, chunk.local_skipped]
        for custom_id, line, raw in chunk.jobs:
            args += [custom_id, line, raw]
        with self._errors("streaming jobs in"):
            return int(
                self._append(keys=[self.meta_key, self.jobs_key, self.loader_key, self.answered_key], args=args)
            )

    def cursor(self) -> int:
        """The last input line number already streamed (0 before any)."""
        with self._errors("reading the load cursor"):
            return int(self._redis.hget(self.meta_key, "cursor") or 0)

    def finish_load(self) -> bool:
        """Mark the whole input streamed and drop the loader lease (loader only)."""
        with self._errors("finishing the load"):
            return bool(self._finish_load(keys=[self.meta_key, self.loader_key], args=[self.consumer]))

    def refuse(self, message: str) -> bool:
        """Mark the batch refused (duplicate custom_ids) so every worker stops with ``message``."""
        with self._errors("refusing the input"):
            return bool(self._refuse(keys=[self.meta_key, self.loader_key], args=[self.consumer, message]))

    def renew(self, key: str, lease: float) -> bool:
        """Extend a lease this worker holds on ``key``; False if it is no longer ours."""
        with self._errors("renewing a lease"):
            return bool(self._renew(keys=[key], args=[self.consumer, _ms(lease)]))

    def try_collector(self, lease: float) -> bool:
        """Take the collector lease (one output writer at a time per batch); False if another holds it."""
        with self._errors("claiming the collector lease"):
            return bool(self._redis.set(self.collector_key, self.consumer, nx=True, px=_ms(lease)))

    def release(self, key: str) -> None:
        """Give up a lease this worker holds on ``key`` (no-op if it is not ours)."""
        with self._errors("releasing a lease"):
            self._release(keys=[key], args=[self.consumer])

    def progress(self) -> BatchProgress:
        """The batch's status and counts in one pipelined round trip."""
        with self._errors("reading the batch's progress"):
            pipe = self._redis.pipeline(transaction=False)
            pipe.hgetall(self.meta_key)
            pipe.hlen(self.answered_key)
            pipe.xlen(self.jobs_key)
            meta, answered, unfinished = pipe.execute()
        fields = {_text(key): _text(value) for key, value in meta.items()}
        jobs = fields.get("jobs")
        return BatchProgress(
            status=fields.get("status", "loading"),
            jobs=int(jobs) if jobs is not None else None,
            answered=int(answered),
            skipped=int(fields.get("skipped", 0)),
            unfinished=int(unfinished),
            succeeded=int(fields.get("succeeded", 0)),
            failed=int(fields.get("failed", 0)),
            malformed=int(fields.get("malformed", 0)),
        )

    def refusal(self) -> str | None:
        """The refusal message of a refused batch, else None."""
        with self._errors("reading the batch's status"):
            value = self._redis.hget(self.meta_key, "refusal")
        return _text(value) if value else None

    # ------------------------------------------------------------------------------------- jobs

    def read(self, count: int, block: float) -> list[JobEntry]:
        """Up to ``count`` never-delivered jobs for this worker, waiting at most ``block`` seconds for one."""
        with self._errors("reading jobs"):
            reply = self._redis.xreadgroup(
                GROUP, self.consumer, {self.jobs_key: ">"}, count=count, block=max(1, _ms(block))
            )
        return [_entry(entry_id, fields) for _, entries in reply or () for entry_id, fields in entries]

    def reclaim(self, idle: float, count: int, start: str = "0-0") -> tuple[str, list[JobEntry]]:
        """Take over up to ``count`` jobs pending for at least ``idle`` seconds on any consumer (a dead worker).

        Returns ``(next_start, entries)``; pass ``next_start`` back to continue the scan (``0-0`` when a full
        pass is complete).
        """
        with self._errors("reclaiming jobs of stopped workers"):
            reply = self._redis.xautoclaim(self.jobs_key, GROUP, self.consumer, _ms(idle), start, count=count)
        next_start, entries = reply[0], reply[1]
        return _text(next_start), [_entry(entry_id, fields) for entry_id, fields in entries if fields]

    def touch(self, entry_ids: Sequence[str]) -> None:
        """Reset the idle time of jobs this worker is still working on, so nobody reclaims them."""
        if not entry_ids:
            return
        with self._errors("keeping in-flight jobs claimed"):
            self._redis.xclaim(self.jobs_key, GROUP, self.consumer, 0, list(entry_ids), justid=True)

    def hand_back(self, idle: float) -> int:
        """Make every job still pending on this worker claimable by the others at once (a graceful stop).

        Redis has no "un-read": the entries stay pending, but with their idle time set to ``idle`` seconds,
        so the next ``XAUTOCLAIM`` by another worker takes them without waiting. Returns how many.
        """
        handed = 0
        with self._errors("handing back unfinished jobs"):
            while True:
                pending = self._redis.xpending_range(
                    self.jobs_key, GROUP, min="-", max="+", count=500, consumername=self.consumer
                )
                ids = [item["message_id"] for item in pending if int(item["time_since_delivered"]) < _ms(idle)]
                if not ids:
                    return handed
                self._redis.xclaim(self.jobs_key, GROUP, self.consumer, 0, ids, idle=_ms(idle), justid=True)
                handed += len(ids)

    def leave(self) -> None:
        """Remove this worker's consumer from the group, if nothing is pending on it (tidy XINFO)."""
        with self._errors("leaving the group"):
            pending = self._redis.xpending_range(
                self.jobs_key, GROUP, min="-", max="+", count=1, consumername=self.consumer
            )
            if not pending:
                self._redis.xgroup_delconsumer(self.jobs_key, GROUP, self.consumer)

    def record(self, records: Sequence[Record]) -> list[bool]:
        """Record results, each exactly once, and acknowledge their jobs; one pipelined round trip.

        Returns, per record, True when it is the custom_id's result (new, or this very attempt's whose reply
        was lost), False when another worker had already answered the custom_id (the duplicate is dropped).
        """
        if not records:
            return []
        keys = [self.answered_key, self.results_key, self.jobs_key, self.meta_key]
        with self._errors("recording results"):
            pipe = self._redis.pipeline(transaction=False)
            for record in records:
                token = f"{self.consumer}|{record.entry_id}"
                self._record(
                    keys=keys,
                    args=[GROUP, record.entry_id, record.custom_id, token, record.line, record.kind],
                    client=pipe,
                )
            return [bool(fresh) for fresh in pipe.execute()]

    # ---------------------------------------------------------------------------------- results

    def results(self, count: int, after: str = "-") -> list[tuple[str, str, bytes]]:
        """Up to ``count`` recorded results after entry ``after`` (exclusive; ``-`` for the start).

        Each is ``(entry_id, custom_id, result line)``.
        """
        start = after if after == "-" else f"({after}"
        with self._errors("reading results"):
            reply = self._redis.xrange(self.results_key, min=start, max="+", count=count)
        return [(_text(entry_id), _text(fields[b"c"]), bytes(fields[b"r"])) for entry_id, fields in reply]

    def last_result(self) -> str | None:
        """The id of the newest result entry, or None when there is none."""
        with self._errors("reading results"):
            reply = self._redis.xrevrange(self.results_key, count=1)
        return _text(reply[0][0]) if reply else None

    def collected(self, target: str) -> str | None:
        """The last result entry already collected into ``target`` (``host:path``), or None."""
        with self._errors("reading the collect marker"):
            value = self._redis.hget(self.collected_key, target)
        return _text(value) if value else None

    def mark_collected(self, target: str, last: str) -> None:
        """Remember that ``target`` holds every result up to entry ``last``."""
        with self._errors("writing the collect marker"):
            self._redis.hset(self.collected_key, target, last)


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _entry(entry_id: Any, fields: dict[bytes, bytes]) -> JobEntry:
    return JobEntry(_text(entry_id), _text(fields[b"c"]), int(fields[b"l"]), bytes(fields[b"r"]))
