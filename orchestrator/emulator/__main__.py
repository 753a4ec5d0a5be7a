"""``python -m orchestrator.emulator [flags]``: the same as ``groq-orch emulate [flags]``."""

from __future__ import annotations

import argparse
import sys

from orchestrator.emulator._cli import add_arguments, run


def main(argv: list[str] | None = None) -> int:
    """Parse the ``emulate`` flags and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m orchestrator.emulator", description="Run the Groq emulator.")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
