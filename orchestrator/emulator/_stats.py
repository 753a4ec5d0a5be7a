"""Counters the emulator keeps so tests and benchmarks can see what it served.

:class:`StatsRecorder` is the mutable tally the emulator updates; :class:`EmulatorStats` is the frozen
snapshot handed out by ``Emulator.stats()`` and served as JSON by ``GET /_emulator/stats``. Memory is
bounded: the set of client addresses used to count connections forgets the oldest entries, and the
per-``custom_id`` tally of batch lines stops taking new ids at ``max_line_ids``.

Batch lines (the Batch API's requests, run inside the emulator) are not HTTP requests: they are counted
by ``batch_lines_run``, never by ``requests`` or ``responses_by_status``. To prove a client never submits
a line twice, ``batch_duplicate_runs`` counts runs of a ``custom_id`` that had already run (in any batch),
and ``Emulator.batch_line_runs(custom_id)`` tells how many times one id ran.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import msgspec

__all__ = ["EmulatorStats", "StatsRecorder", "served_stats"]

class EmulatorStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of the emulator's counters.

    Attributes:
        requests: HTTP requests received (every route, including the stats route).
        responses_by_status: responses sent, by status code (resets and mid-stream drops count under
            the status they would have had; a reset before the response has none and is not counted).
        rate_limited: 429 responses.
        faults_injected: faults injected, by kind (``"503"``, ``"reset"``, ``"drop-mid-stream"``...).
        connections_opened: distinct client connections seen (by (host, port) over HTTP; the in-process
            transport has no connections and counts each request as one).
        streams_started: SSE responses whose body started.
        streams_completed: SSE responses sent to the end (``data: [DONE]``).
        streams_disconnected: SSE responses the client closed before the end.
        batch_files_uploaded: files stored by ``POST /files`` (purpose ``batch``).
        batch_lines_run: batch lines executed (succeeded or failed; not the expired or cancelled ones).
        batch_duplicate_runs: runs of a batch line whose ``custom_id`` had already run before, in this
            batch or another (ids past the tally's cap are not tracked, so their repeats are missed).
    """

    requests: int = 0
    responses_by_status: dict[int, int] = msgspec.field(default_factory=dict)
    rate_limited: int = 0
    faults_injected: dict[str, int] = msgspec.field(default_factory=dict)
    connections_opened: int = 0
    streams_started: int = 0
    streams_completed: int = 0
    streams_disconnected: int = 0
    batch_files_uploaded: int = 0
    batch_lines_run: int = 0
    batch_duplicate_runs: int = 0


def served_stats(stats: EmulatorStats) -> dict[str, object]:
    """The JSON document of ``GET /_emulator/stats``: every counter, by its field name."""
    return msgspec.structs.asdict(stats)


def _line_key(custom_id: str) -> int:
    """A 64-bit digest of a ``custom_id``: the tally keeps this, not the (unbounded) string."""
    return int.from_bytes(hashlib.blake2b(custom_id.encode(), digest_size=8).digest(), "big")


class StatsRecorder:
    """The mutable counters behind :class:`EmulatorStats` (single-threaded: trio runs one task at a time)."""

    __slots__ = (
        "requests",
        "responses_by_status",
        "rate_limited",
        "faults_injected",
        "connections_opened",
        "streams_started",
        "streams_completed",
        "streams_disconnected",
        "batch_files_uploaded",
        "batch_lines_run",
        "batch_duplicate_runs",
        "_clients",
        "_max_clients",
        "_line_runs",
        "_max_line_ids",
    )

    def __init__(self, *, max_clients: int = 65_536, max_line_ids: int = 1_000_000) -> None:
        self._max_clients = max_clients
        self._max_line_ids = max_line_ids
        self.reset()

    def reset(self) -> None:
        """Zero every counter (the connection tracker forgets its clients too)."""
        self.requests = 0
        self.responses_by_status: dict[int, int] = {}
        self.rate_limited = 0
        self.faults_injected: dict[str, int] = {}
        self.connections_opened = 0
        self.streams_started = 0
        self.streams_completed = 0
        self.streams_disconnected = 0
        self.batch_files_uploaded = 0
        self.batch_lines_run = 0
        self.batch_duplicate_runs = 0
        self._clients: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._line_runs: dict[int, int] = {}

    def saw_client(self, client: tuple[str, int] | None) -> None:
        """Count a connection the first time a client (host, port) pair shows up; ``None`` = a new one."""
        if client is None:
            self.connections_opened += 1
            return
        if client in self._clients:
            self._clients.move_to_end(client)
            return
        self._clients[client] = None
        self.connections_opened += 1
        if len(self._clients) > self._max_clients:
            self._clients.popitem(last=False)

    def responded(self, status: int) -> None:
        """Count a response by status (429s also count as rate limited)."""
        self.responses_by_status[status] = self.responses_by_status.get(status, 0) + 1
        if status == 429:
            self.rate_limited += 1

    def fault(self, kind: str) -> None:
        """Count an injected fault."""
        self.faults_injected[kind] = self.faults_injected.get(kind, 0) + 1

    def batch_line_run(self, custom_id: str) -> None:
        """Count one batch line run, and a duplicate run when its ``custom_id`` ran before.

        The tally keeps one 64-bit digest per id (a collision among a million ids has odds near 3e-8) and
        takes no new ids past ``max_line_ids``, so memory stays bounded however many lines run.
        """
        self.batch_lines_run += 1
        key = _line_key(custom_id)
        runs = self._line_runs.get(key)
        if runs is not None:
            self._line_runs[key] = runs + 1
            self.batch_duplicate_runs += 1
        elif len(self._line_runs) < self._max_line_ids:
            self._line_runs[key] = 1

    def batch_line_runs(self, custom_id: str) -> int:
        """How many times a batch line with this ``custom_id`` has run (0 for an id the tally never took)."""
        return self._line_runs.get(_line_key(custom_id), 0)

    def snapshot(self) -> EmulatorStats:
        """A frozen copy of the counters."""
        return EmulatorStats(
            requests=self.requests,
            responses_by_status=dict(sorted(self.responses_by_status.items())),
            rate_limited=self.rate_limited,
            faults_injected=dict(sorted(self.faults_injected.items())),
            connections_opened=self.connections_opened,
            streams_started=self.streams_started,
            streams_completed=self.streams_completed,
            streams_disconnected=self.streams_disconnected,
            batch_files_uploaded=self.batch_files_uploaded,
            batch_lines_run=self.batch_lines_run,
            batch_duplicate_runs=self.batch_duplicate_runs,
        )
