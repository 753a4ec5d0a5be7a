"""Serving the emulator over real HTTP(S) with hypercorn's trio worker.

:func:`open_emulator_server` is for tests and programs (``async with``: a free port, a base URL, clean
shutdown); :func:`serve` is the blocking entry point behind ``groq-orch emulate``. Both bind to loopback
unless told otherwise, since the emulator accepts any ``gsk_`` key by default.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING

import trio

from orchestrator.emulator._core import API_PREFIX, Emulator
from orchestrator.emulator._settings import EmulatorSettings

if TYPE_CHECKING:
    from hypercorn.config import Config as HypercornConfig

__all__ = ["EmulatorServer", "listening_line", "open_emulator_server", "serve"]


@dataclasses.dataclass(frozen=True)
class EmulatorServer:
    """A running emulator server.

    Attributes:
        base_url: the OpenAI-compatible base URL, ``http://127.0.0.1:PORT/openai/v1`` (https with TLS), for
            OpenAI-style clients (the ``openai`` SDK, this package's client); the official ``groq`` SDK and
            LangChain's ``ChatGroq`` add ``/openai/v1`` themselves and want :attr:`root_url` instead.
        host, port: where it listens.
        emulator: the core, for ``stats()`` and ``reset_stats()``.
        metrics_url: where the emulator's counters are served for Prometheus
            (``http://HOST:PORT/metrics``), or None when no metrics port was asked for.
    """

    base_url: str
    host: str
    port: int
    emulator: Emulator
    metrics_url: str | None = None

    @property
    def root_url(self) -> str:
        """The server root, ``http://127.0.0.1:PORT``: the base URL for the ``groq`` SDK and LangChain's ``ChatGroq``."""
        return self.base_url.removesuffix(API_PREFIX)


def listening_line(server: EmulatorServer) -> str:
    """The startup line: both base URLs, the OpenAI-style one last (scripts read the line's last word)."""
    return (
        f"Groq emulator listening on {server.root_url} (base URL for the groq SDK and LangChain's ChatGroq, "
        f"which add {API_PREFIX} themselves); OpenAI-style clients (the openai SDK, groq-orch --base-url, "
        f"GROQ_BASE_URL) use {server.base_url}"
    )


def _hypercorn_config(host: str, port: int, certfile: str | None, keyfile: str | None) -> HypercornConfig:
    if (certfile is None) != (keyfile is None):
        raise ValueError("TLS needs both a certificate file and a key file (--tls-cert and --tls-key)")
    # hypercorn is imported when a server starts: a tenth of a second that the in-process emulator (a
    # batch run without a key, every test on the transport) never needs.
    from hypercorn.config import Config as HypercornConfig

    config = HypercornConfig()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.certfile = certfile
    config.keyfile = keyfile
    config.accesslog = None
    # Through stdlib logging (quiet below WARNING unless the application configures it), not raw stderr.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.backlog = 2048
    config.graceful_timeout = 1.0
    config.keep_alive_max_requests = 100_000
    config.include_server_header = False
    return config


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback interface (so binding to it exposes nothing)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@asynccontextmanager
async def open_emulator_server(
    settings: EmulatorSettings | Emulator | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    certfile: str | None = None,
    keyfile: str | None = None,
    metrics_port: int | None = None,
) -> AsyncIterator[EmulatorServer]:
    """Run an emulator on a real socket for the body of the ``async with``.

    Args:
        settings: the emulator's behaviour (default: instant, free-tier limits, no faults), or an
            `Emulator` to serve (so the caller can look at what it served).
        host: interface to bind (loopback by default).
        port: port to bind; 0 picks a free one (read it from ``server.port`` or ``server.base_url``).
        certfile, keyfile: PEM certificate chain and key: serve https instead of http.
        metrics_port: also serve the emulator's counters (``stats()``) as Prometheus metrics at
            ``http://host:metrics_port/metrics`` (0 picks a free port; see ``server.metrics_url``).

    Yields:
        :class:`EmulatorServer` with ``base_url`` and the ``emulator``; on exit the server stops
        accepting, gives open requests a second to finish, and closes.
    """
    emulator = settings if isinstance(settings, Emulator) else Emulator(settings)
    config = _hypercorn_config(host, port, certfile, keyfile)
    from hypercorn.trio import serve as hypercorn_serve

    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(
            partial(hypercorn_serve, emulator.asgi_app, config, shutdown_trigger=stop.wait, mode="asgi")
        )
        bound_port = int(binds[0].rsplit(":", 1)[1])
        emulator.emulated_now()  # emulated time (fault windows, limits) starts with the server
        scheme = "https" if certfile else "http"
        try:
            async with _metrics_endpoint(emulator, host, metrics_port) as metrics_url:
                yield EmulatorServer(
                    base_url=f"{scheme}://{_url_host(host)}:{bound_port}{API_PREFIX}",
                    host=host,
                    port=bound_port,
                    emulator=emulator,
                    metrics_url=metrics_url,
                )
        finally:
            stop.set()


@asynccontextmanager
async def _metrics_endpoint(emulator: Emulator, host: str, port: int | None) -> AsyncIterator[str | None]:
    """Serve ``emulator.stats()`` as Prometheus metrics on ``port``; yields the URL (None: no port asked)."""
    if port is None:
        yield None
        return
    # Imported here: prometheus_client loads only when a metrics port is asked for.
    from prometheus_client import CollectorRegistry

    from orchestrator.observe._metrics import open_metrics_server
    from orchestrator.emulator._metrics import EmulatorCollector

    registry = CollectorRegistry()
    registry.register(EmulatorCollector(emulator.stats))
    async with open_metrics_server(registry, port=port, host=host) as server:
        yield server.url


async def _serve_until_signal(
    settings: EmulatorSettings,
    host: str,
    port: int,
    certfile: str | None,
    keyfile: str | None,
    metrics_port: int | None = None,
) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with open_emulator_server(
            settings, host=host, port=port, certfile=certfile, keyfile=keyfile, metrics_port=metrics_port
        ) as server:
            print(listening_line(server), file=sys.stderr, flush=True)
            if server.metrics_url is not None:
                print(f"Emulator metrics at {server.metrics_url}", file=sys.stderr, flush=True)
            if not is_loopback(host):
                print(
                    f"warning: {host} is not a loopback address; anyone who can reach it can use the emulator",
                    file=sys.stderr,
                    flush=True,
                )
            async for _ in signals:
                break
        print("Groq emulator stopped", file=sys.stderr, flush=True)


def serve(
    settings: EmulatorSettings | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    certfile: str | None = None,
    keyfile: str | None = None,
    metrics_port: int | None = None,
) -> None:
    """Serve the emulator until SIGINT or SIGTERM (blocking; the ``groq-orch emulate`` entry point).

    With ``metrics_port``, the emulator's counters are also served for Prometheus on that port.
    """
    trio.run(_serve_until_signal, settings or EmulatorSettings(), host, port, certfile, keyfile, metrics_port)
