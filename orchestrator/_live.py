"""The one live display loop: a frame redrawn a few times a second on a rich console until cancelled.

The batch runners (one machine, Ray) and ``groq-orch bench`` each draw their own frame; how it reaches
the terminal (transient, no stdout/stderr capture, redrawn on our clock rather than rich's thread) is
the same for all, so it lives here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import trio
from rich.console import Console, RenderableType
from rich.live import Live

__all__ = ["REFRESH_SECONDS", "redraw"]

REFRESH_SECONDS: Final = 0.25


async def redraw(console: Console, frame: Callable[[], RenderableType], *, every: float = REFRESH_SECONDS) -> None:
    """Show ``frame()`` on ``console`` and redraw it every ``every`` seconds until cancelled (then it vanishes)."""
    with Live(frame(), console=console, auto_refresh=False, transient=True, redirect_stdout=False,
              redirect_stderr=False) as live:
        while True:
            await trio.sleep(every)
            live.update(frame(), refresh=True)
