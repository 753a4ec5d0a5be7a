"""Counters the emulator keeps so tests and benchmarks can see what it served.

:class:`StatsRecorder` is the mutable tally the emulator updates; :class:`EmulatorStats` is the frozen
snapshot handed out by ``Emulator.stats()`` and served as JSON by ``GET /_emulator/stats``. Memory is
bounded: the set of client addresses used to count connections forgets the oldest entries.
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec

__all__ = ["EmulatorStats", "StatsRecorder"]


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
    """

    requests: int = 0
    responses_by_status: dict[int, int] = msgspec.field(default_factory=dict)
    rate_limited: int = 0
    faults_injected: dict[str, int] = msgspec.field(default_factory=dict)
    connections_opened: int = 0
    streams_started: int = 0
    streams_completed: int = 0
    streams_disconnected: int = 0


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
        "_clients",
        "_max_clients",
    )

    def __init__(self, *, max_clients: int = 65_536) -> None:
        self._max_clients = max_clients
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
        self._clients: OrderedDict[tuple[str, int], None] = OrderedDict()

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
        )
