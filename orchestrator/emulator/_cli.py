"""``groq-orch emulate``: run the Groq emulator on loopback from the command line.

The main CLI registers this with ``add_arguments(subparser)`` and calls ``run(args)``. Bad values are
refused by argparse with the flag, the value and the expected form (exit status 2).

Example::

    groq-orch emulate --port 8000 --latency realistic --time-scale 60 \\
        --limits openai/gpt-oss-20b=30/1000/8000/200000 --faults 503:p=0.05 --faults drop-mid-stream:every=50

    groq-orch emulate --tier developer --limits openai/gpt-oss-120b=1000/500000/300000/100000000/250000/50000

    groq-orch emulate --time-scale 3600 --batch-expire-fraction 0.5 --upload-resets 1 --files-dir /tmp/groq-files
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable

from orchestrator._tiers import TIER_NAMES
from orchestrator.emulator._faults import parse_fault
from orchestrator.emulator._server import serve
from orchestrator.emulator._settings import EmulatorSettings, parse_limits

__all__ = ["add_arguments", "run"]

_FAULTS_HELP = (
    "inject faults: KIND[:key=value,...] with KIND one of 500, 502, 503, 498, reset, drop-mid-stream, "
    "malformed-sse, slow, and conditions p=PROB, every=N, after=K, burst=N, from=DUR, to=DUR, model=ID "
    "(plus chunks=N for drop-mid-stream, chunk=N for malformed-sse, bytes_per_s=N for slow); "
    "e.g. 503:p=0.1, 500:burst=5,after=20, 498:p=0.2,from=10s,to=20s (repeatable)"
)


def _argtype(parse, what: str):  # type: ignore[no-untyped-def]
    """Wrap a parser so argparse reports its ValueError message as the flag's error."""

    def convert(text: str):  # type: ignore[no-untyped-def]
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = what
    return convert


def _number(convert: Callable[[str], float], accept: Callable[[float], bool], rule: str) -> Callable[[str], float]:
    """A flag parser: ``convert`` the text, then check it with ``accept``; ValueError says ``rule``."""

    def parse(text: str) -> float:
        try:
            value = convert(text)
        except ValueError:
            value = math.nan
        if not accept(value):
            raise ValueError(f"{text!r} must be {rule}")
        return value

    return parse


_positive_float = _number(float, lambda v: math.isfinite(v) and v > 0, "a number > 0")
_seconds = _number(float, lambda v: math.isfinite(v) and v >= 0, "a number of seconds >= 0")
_port = _number(int, lambda v: 0 <= v <= 65_535, "a port number from 0 to 65535 (0 picks a free port)")
_positive_int = _number(int, lambda v: v >= 1, "an integer >= 1")
_count = _number(int, lambda v: v >= 0, "an integer >= 0")
_fraction = _number(float, lambda v: 0 <= v < 1, "a fraction with 0 <= f < 1")


def _token_range(text: str) -> tuple[int, int]:
    low, _, high = text.partition(",")
    try:
        bounds = (int(low), int(high or low))
    except ValueError:
        bounds = (0, 0)
    if not 1 <= bounds[0] <= bounds[1]:
        raise ValueError(f"{text!r} must be MIN,MAX (or N) with 1 <= MIN <= MAX tokens")
    return bounds


def _existing_file(text: str) -> str:
    if not os.path.isfile(text):
        raise ValueError(f"{text!r} is not a readable file")
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``emulate`` flags to ``parser``."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, loopback only)")
    parser.add_argument("--port", type=_argtype(_port, "port"), default=8000, help="port to bind (default: 8000)")
    parser.add_argument(
        "--latency",
        choices=("instant", "realistic"),
        default="realistic",
        help="latency profile: realistic (queue time, time to first token, ~600 tokens/s) or instant (default: realistic)",
    )
    parser.add_argument("--queue-time", type=_argtype(_seconds, "seconds"), help="override queue time (s)")
    parser.add_argument(
        "--time-to-first-token", type=_argtype(_seconds, "seconds"), help="override time to first token (s)"
    )
    parser.add_argument(
        "--tokens-per-second", type=_argtype(_positive_float, "rate"), help="override generation speed (tokens/s)"
    )
    parser.add_argument(
        "--time-scale",
        type=_argtype(_positive_float, "scale"),
        default=1.0,
        help="emulated seconds per real second: 60 makes a minute of rate limits pass in a second (default: 1)",
    )
    parser.add_argument(
        "--completion-tokens",
        type=_argtype(_token_range, "range"),
        default=(16, 160),
        metavar="MIN,MAX",
        help="natural completion length in tokens (a reasoning model's reasoning included) when max_completion_tokens "
        "does not cut it first (default: 16,160)",
    )
    parser.add_argument(
        "--tokens-per-chunk", type=_argtype(_positive_int, "count"), default=1, help="tokens per SSE chunk (default: 1)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for generated text, ids and faults (default: 0)")
    parser.add_argument(
        "--limits",
        action="append",
        type=_argtype(parse_limits, "limits"),
        default=[],
        metavar="MODEL=RPM/RPD/TPM/TPD[/ITPM/OTPM]",
        help="override a model's rate limits, optionally with separate input and output tokens per minute "
        "(repeatable; default: the --tier plan's published limits)",
    )
    parser.add_argument(
        "--tier",
        choices=TIER_NAMES,
        default="free",
        help="the organisation's plan, whose published limits each model starts from: free or developer "
        "(a model the Developer table does not list keeps its free limits; default: free)",
    )
    parser.add_argument(
        "--faults", action="append", type=_argtype(parse_fault, "fault"), default=[], metavar="SPEC", help=_FAULTS_HELP
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=None,
        metavar="KEY",
        help="accept only this key (repeatable; default: any key starting with gsk_)",
    )
    parser.add_argument("--tls-cert", type=_argtype(_existing_file, "file"), help="PEM certificate chain: serve https")
    parser.add_argument("--tls-key", type=_argtype(_existing_file, "file"), help="PEM private key for --tls-cert")
    _add_batch_arguments(parser)
    parser.add_argument(
        "--metrics-port",
        type=_argtype(_port, "port"),
        metavar="N",
        help="also serve the emulator's counters as Prometheus metrics at http://HOST:N/metrics (0 picks a free port)",
    )


def _add_batch_arguments(parser: argparse.ArgumentParser) -> None:
    """The Batch API's flags: where files live, the pace of batches (emulated seconds), and its two faults."""
    parser.add_argument(
        "--files-dir", metavar="DIR", help="store Batch API files here (default: a temporary directory, removed on exit)"
    )
    parser.add_argument(
        "--batch-validation-seconds",
        type=_argtype(_seconds, "seconds"),
        default=2.0,
        help="emulated seconds a batch stays validating (default: 2)",
    )
    parser.add_argument(
        "--batch-lines-per-second",
        type=_argtype(_positive_float, "rate"),
        default=1000.0,
        help="emulated pace of a batch's lines once in progress (default: 1000)",
    )
    parser.add_argument(
        "--batch-finalizing-seconds",
        type=_argtype(_seconds, "seconds"),
        default=1.0,
        help="emulated seconds a batch stays finalizing or cancelling (default: 1)",
    )
    parser.add_argument(
        "--batch-expire-fraction",
        type=_argtype(_fraction, "fraction"),
        metavar="F",
        help="fault: every batch expires once this fraction of its lines has run (0 <= F < 1; default: off)",
    )
    parser.add_argument(
        "--upload-resets",
        type=_argtype(_count, "count"),
        default=0,
        metavar="N",
        help="fault: close the connection on the first N file uploads, after reading them (default: 0)",
    )


def settings_from(args: argparse.Namespace) -> EmulatorSettings:
    """The :class:`EmulatorSettings` the parsed flags describe."""
    return EmulatorSettings(
        latency=args.latency,
        queue_time=args.queue_time,
        time_to_first_token=args.time_to_first_token,
        tokens_per_second=args.tokens_per_second,
        time_scale=args.time_scale,
        seed=args.seed,
        tier=args.tier,
        limits=dict(args.limits),
        faults=tuple(args.faults),
        api_keys=args.api_key,
        completion_tokens=args.completion_tokens,
        tokens_per_chunk=args.tokens_per_chunk,
        files_dir=args.files_dir,
        batch_validation_seconds=args.batch_validation_seconds,
        batch_lines_per_second=args.batch_lines_per_second,
        batch_finalizing_seconds=args.batch_finalizing_seconds,
        batch_expire_fraction=args.batch_expire_fraction,
        upload_resets=args.upload_resets,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; returns the exit status (2 for inconsistent flags)."""
    if (args.tls_cert is None) != (args.tls_key is None):
        print("groq-orch emulate: error: --tls-cert and --tls-key must be given together", file=sys.stderr)
        return 2
    try:
        settings = settings_from(args)
    except ValueError as exc:
        print(f"groq-orch emulate: error: {exc}", file=sys.stderr)
        return 2
    serve(
        settings,
        host=args.host,
        port=args.port,
        certfile=args.tls_cert,
        keyfile=args.tls_key,
        metrics_port=args.metrics_port,
    )
    return 0
