"""The ASGI lifespan protocol, answered once for both of our ASGI apps (the emulator and ``/metrics``).

Neither app has anything to start or stop, but hypercorn sends ``lifespan.startup`` and waits for the
answer, so each must say "complete" to both messages and return on shutdown.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["Receive", "Send", "answer_lifespan"]

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def answer_lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown; return once shut down."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
