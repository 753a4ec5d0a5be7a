"""A Groq-compatible API emulator: chat, models, audio and the Batch API with Groq's limits, latency and faults.

One core, two ways in: ``Emulator(settings).transport()`` for in-process tests (no socket, works under
trio's ``autojump_clock``), and :func:`open_emulator_server` / :func:`serve` (``groq-orch emulate``)
for real HTTP(S) on loopback, where the official ``groq`` SDK cannot tell it from Groq.
"""

from orchestrator.emulator._core import Emulator as Emulator
from orchestrator.emulator._server import EmulatorServer as EmulatorServer
from orchestrator.emulator._server import open_emulator_server as open_emulator_server
from orchestrator.emulator._server import serve as serve
from orchestrator.emulator._settings import EmulatorSettings as EmulatorSettings
from orchestrator.emulator._stats import EmulatorStats as EmulatorStats

__all__ = ["Emulator", "EmulatorServer", "EmulatorSettings", "EmulatorStats", "open_emulator_server", "serve"]

for _name in __all__:
    globals()[_name].__module__ = "orchestrator.emulator"
del _name
