"""``groq-orch bench``: how an endpoint (Groq, or the bundled emulator) behaves under load and rate limits.

A run is a sweep of *levels*: ``--concurrency 1,2,4,8`` keeps that many streamed requests in flight, each
starting as one ends; ``--rate 2,5`` lets requests arrive at that many per second (Poisson or constant
gaps), whatever is in flight. Each level lasts ``--requests N`` requests or ``--duration S`` seconds.
Prompts and completion budgets are drawn from ``--prompt-tokens MEAN[:STD]`` and ``--output-tokens
MEAN[:STD]``. Every request is streamed and measured (TTFT, ITL, TPOT, E2E; see
``orchestrator.loadtest._metrics``), beside Groq's own ``queue_time``/``prompt_time``/``completion_time``,
the 429 and 498 answers and the time the client held requests for rate budget. The result is three tables
on screen and a line naming the max sustainable level (``orchestrator.loadtest._capacity``: the highest level
with fewer than ``--sustainable-429s`` 429s per 1,000 requests and ``--sustainable-goodput`` of its requests
good); with ``--output-dir``, ``requests.jsonl`` (one line per request), ``summary.json``,
``benchmark_serving.jsonl`` (a line per level under vLLM's result keys, ``orchestrator.loadtest._serving``) and
PNG plots (when matplotlib is installed: ``pip install 'groq-orchestrator[bench]'``); with ``--report``, one
self-contained HTML page (``orchestrator.loadtest._html``). The goodput objective is ``--slo ttft=500ms`` or,
as vLLM and AIPerf spell it, ``--goodput ttft:500`` (milliseconds). On a terminal a live line follows the run
with an ETA from the binding limit (``orchestrator.loadtest._progress``); ``--quiet`` keeps stderr silent and
``--json`` prints the summary document instead of the tables, for scripts.

Where requests go follows ``orchestrator._endpoint``, like ``batch``: with no ``GROQ_API_KEY`` and no
``--base-url``, the emulator embedded in this process, on the real clock (``--time-scale 1``, the default;
unlike ``batch``, whose embedded emulator runs 60 times faster). Every time, duration and rate in the flags
and the results is on the endpoint's clock. ``--time-scale 60`` makes an emulated run read like a run
against Groq's free tier in a sixtieth of the time (``--duration 60`` lasts one real second and reports a
minute), but the client's and the emulator's own CPU time is multiplied too (a millisecond of Python per
request reads as 60 emulated ms of TTFT: E2E p50 804 ms instead of 366 ms at concurrency 1), so latencies
measured on a compressed clock are upper bounds, while rate-limit behaviour (throughput, 429s, holds)
stays faithful. That is why the default is 1, and why the report always states the clock. At the start the
run says how long the rate limits make it take (``orchestrator._expected``). The embedded emulator
generates exactly ``max_completion_tokens`` tokens per request (as benchmarks ask real servers to with
``ignore_eos``); Groq's models may stop sooner, and ``requests.jsonl`` records what they did.

Modules: ``_plan`` (flags -> what to send), ``_run`` (the trio load generator),
``_metrics`` (the pure arithmetic), ``_capacity`` (the run against the rate limits), ``_serving`` (vLLM's names),
``_report`` (tables, summary.json), ``_progress`` (the live line), ``_html`` (the HTML report), ``_plots``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import math
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from rich.console import Console

    from orchestrator.loadtest._capacity import Assessment
    from orchestrator.loadtest._metrics import LevelSummary
    from orchestrator.loadtest._plan import BenchPlan
    from orchestrator.loadtest._run import BenchResult
    from orchestrator._endpoint import Endpoint

__all__ = ["DEFAULT_LEVELS", "add_arguments", "run"]

#: The embedded emulator's clock unless ``--time-scale`` says otherwise: real time, so that latencies do not
#: include the client's own CPU time multiplied by the scale (``batch`` runs its embedded emulator at x60).
BENCH_TIME_SCALE: Final = 1.0
#: The concurrency sweep when neither ``--concurrency`` nor ``--rate`` is given.
DEFAULT_LEVELS: Final = "1,2,4,8"
DEFAULT_REQUESTS: Final = 20
DEFAULT_MODEL: Final = "openai/gpt-oss-20b"
_EXIT_OK: Final = 0
_EXIT_FAILED: Final = 1
_EXIT_USAGE: Final = 2
_PLOTS_HINT: Final = "pip install 'groq-orchestrator[bench]'"
#: A level is sustainable below this many 429 answers per 1,000 requests (``--sustainable-429s``) ...
DEFAULT_MAX_429_PER_1K: Final = 10.0
#: ... and with at least this share of its requests good (``--sustainable-goodput``).
DEFAULT_MIN_GOOD_SHARE: Final = 0.9


def _argument_type(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from a parser raising ValueError (argparse then names the flag)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__
    return convert


def _concurrencies(text: str) -> tuple[int | float, ...]:
    from orchestrator.loadtest._plan import parse_levels

    return parse_levels(text, integer=True)


def _rates(text: str) -> tuple[int | float, ...]:
    from orchestrator.loadtest._plan import parse_levels

    return parse_levels(text, integer=False)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an integer") from None
    if value < 1:
        raise ValueError(f"{value} must be at least 1")
    return value


def _seconds(text: str) -> float:
    """Seconds as a bare number (``30``) or with a unit (``500ms``, ``30s``, ``2m``), more than 0."""
    from orchestrator.loadtest._plan import parse_time

    try:
        value = float(text)
    except ValueError:
        value = parse_time(text)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{text!r} must be a finite duration of more than 0 seconds")
    return value


def _positive_number(text: str, what: str = "number") -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a {what}") from None
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{text!r} must be a finite {what}, more than 0")
    return value


def _prompt_length(text: str) -> Any:
    from orchestrator.loadtest._plan import MIN_PROMPT_TOKENS, parse_length

    return parse_length(text, low=MIN_PROMPT_TOKENS)


def _output_length(text: str) -> Any:
    from orchestrator.loadtest._plan import parse_length

    return parse_length(text)


def _slo(text: str) -> Any:
    from orchestrator.loadtest._plan import parse_slo

    return parse_slo(text)


def _goodput(text: str) -> Any:
    from orchestrator.loadtest._plan import parse_goodput

    return parse_goodput(text)


def _per_thousand(text: str) -> float:
    return _positive_number(text, "number of 429s per 1,000 requests")


def _percent(text: str) -> float:
    """A share given in percent (``90`` or ``90%``), more than 0 and at most 100, as a fraction."""
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise ValueError(f"{text!r} is not a percentage, e.g. 90 or 90%") from None
    if not 0 < value <= 100:
        raise ValueError(f"{text!r} must be a percentage more than 0 and at most 100")
    return value / 100.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``bench`` flags (the connection flags come from the CLI's shared parent parser)."""
    load = parser.add_argument_group("load (one mode; each value is a level, run in turn)")
    mode = load.add_mutually_exclusive_group()
    mode.add_argument("--concurrency", type=_argument_type(_concurrencies), metavar="N[,N...]",
                      help=f"requests in flight, a sweep (default {DEFAULT_LEVELS})")
    mode.add_argument("--rate", type=_argument_type(_rates), metavar="R[,R...]",
                      help="requests arriving per second, whatever is in flight")
    load.add_argument("--arrivals", choices=("poisson", "constant"),
                      help="with --rate: gaps between arrivals (default poisson)")
    load.add_argument("--max-concurrency", type=_argument_type(_count), metavar="N",
                      help="with --rate: most requests in flight; later arrivals wait (default 256)")
    length = load.add_mutually_exclusive_group()
    length.add_argument("--requests", type=_argument_type(_count), metavar="N",
                        help=f"requests per level (default {DEFAULT_REQUESTS})")
    length.add_argument("--duration", type=_argument_type(_seconds), metavar="S",
                        help="seconds per level (30, 30s, 2m); requests in flight at the end finish")
    shape = parser.add_argument_group("requests")
    shape.add_argument("--model", default=DEFAULT_MODEL, help=f"model id (default {DEFAULT_MODEL})")
    shape.add_argument("--prompt-tokens", type=_argument_type(_prompt_length), default="128", metavar="MEAN[:STD]",
                       help="prompt length in tokens, normally distributed (default 128)")
    shape.add_argument("--output-tokens", type=_argument_type(_output_length), default="128", metavar="MEAN[:STD]",
                       help="max_completion_tokens per request, normally distributed (default 128)")
    shape.add_argument("--seed", type=int, default=0, help="seeds lengths and arrivals (default 0)")
    report = parser.add_argument_group("report")
    objective = report.add_mutually_exclusive_group()
    objective.add_argument("--slo", type=_argument_type(_slo), metavar="BOUNDS",
                           help="goodput objective, e.g. ttft=500ms,tpot=50ms,e2e=5s")
    objective.add_argument("--goodput", type=_argument_type(_goodput), nargs="+", metavar="KEY:MS",
                           help="the goodput objective as vLLM and AIPerf spell it, in milliseconds: ttft:500 "
                                "tpot:50 e2el:5000 (or time_to_first_token, inter_token_latency, request_latency)")
    report.add_argument("--sustainable-429s", type=_argument_type(_per_thousand), metavar="N",
                        default=DEFAULT_MAX_429_PER_1K,
                        help="a level is sustainable below N 429 answers per 1,000 requests "
                             f"(default {DEFAULT_MAX_429_PER_1K:g}) ...")
    report.add_argument("--sustainable-goodput", type=_argument_type(_percent), metavar="PCT",
                        default=DEFAULT_MIN_GOOD_SHARE,
                        help="... and with at least PCT%% of its requests meeting the objective (without one, "
                             f"completing; default {DEFAULT_MIN_GOOD_SHARE * 100:g}%%): the report names the "
                             "highest sustainable level")
    report.add_argument("--output-dir", type=Path, metavar="DIR",
                        help="write requests.jsonl, summary.json, benchmark_serving.jsonl (vLLM's result keys, "
                             "a line per level) and PNG plots here")
    report.add_argument("--report", type=Path, metavar="PATH",
                        help="also write one self-contained HTML report (figures and tables, nothing fetched) here")
    output = parser.add_argument_group("output")
    output.add_argument("--quiet", "-q", action="store_true",
                        help="no notices, progress or per-level lines on stderr: only the result")
    output.add_argument("--json", action="store_true",
                        help="print the result as JSON on stdout (summary.json's document) instead of the tables")
    report.add_argument("--time-scale", type=_argument_type(_positive_number), metavar="X",
                        help="endpoint seconds per real second: the embedded emulator's speed, or that of an "
                             "emulator at --base-url started with --time-scale (default 1, real time: above 1 "
                             "the rate limits pass faster, but latencies include the client's own CPU time "
                             "multiplied by X)")
    parser.set_defaults(handler=run)


def _usage_error(flag: str, message: str) -> int:
    print(f"groq-orch bench: error: argument {flag}: {message}", file=sys.stderr)
    return _EXIT_USAGE


def _plan(args: argparse.Namespace) -> BenchPlan:
    from orchestrator.loadtest._plan import BenchPlan, LengthSpec, PlanError, goodput_slo
    from orchestrator._catalog import DEFAULT_CATALOG

    slo = args.slo
    if args.goodput is not None:
        try:
            slo = goodput_slo(args.goodput)
        except ValueError as exc:
            raise PlanError("--goodput", str(exc)) from None
    info = DEFAULT_CATALOG.get(args.model)
    rate_mode = args.rate is not None
    prompt: LengthSpec = args.prompt_tokens
    output: LengthSpec = args.output_tokens
    return BenchPlan(
        model=args.model,
        mode="rate" if rate_mode else "concurrency",
        levels=args.rate if rate_mode else (args.concurrency or _concurrencies(DEFAULT_LEVELS)),
        requests=None if args.duration is not None else (args.requests or DEFAULT_REQUESTS),
        duration=args.duration,
        arrivals=args.arrivals or "poisson",
        max_concurrency=args.max_concurrency or 256,
        prompt_tokens=prompt,
        output_tokens=output,
        slo=slo,
        seed=args.seed,
        context_window=info.context_window,
        max_completion_tokens=info.max_completion_tokens,
    )


def _endpoint(args: argparse.Namespace, plan: BenchPlan) -> Endpoint:
    from orchestrator._endpoint import embedded_emulator_settings, load_config_file, resolve_endpoint

    # Like ignore_eos: the emulator's natural reply is longer than any budget, so each request's
    # max_completion_tokens is what it generates.
    emulator = dataclasses.replace(
        embedded_emulator_settings(),
        time_scale=args.time_scale or BENCH_TIME_SCALE,
        completion_tokens=(plan.max_completion_tokens, plan.max_completion_tokens),
    )
    return resolve_endpoint(
        file=load_config_file(args.config) if args.config else None,
        base_url=args.base_url,
        timeout=args.timeout,
        max_retries=args.max_retries,
        concurrency=plan.workers,
        emulator_settings=emulator,
    )


def _level_line(summary: LevelSummary, mode: str) -> str:
    from orchestrator.loadtest._report import level_label

    name = "rate" if mode == "rate" else "concurrency"
    ttft = summary.ttft_s.p50
    line = (
        f"{name} {level_label(summary.level, mode)}: {summary.completed} ok, {summary.failed} failed "
        f"in {summary.duration_s:.1f} s"
        + (f", TTFT p50 {ttft * 1000:.0f} ms" if ttft is not None else "")
    )
    if summary.held_arrivals:
        line += f", {summary.held_arrivals} arrivals waited for --max-concurrency"
    if summary.errors:
        line += "; " + ", ".join(f"{count} x {kind}" for kind, count in summary.errors.items())
    return line


def _expected_line(plan: BenchPlan, endpoint: Endpoint, time_scale: float) -> str:
    """What the run will take, said before it starts: the rate limits' verdict, and the clock it runs on."""
    from orchestrator._expected import ModelWork, expected_run_line, format_span, starting_point

    clock = _clock_words(time_scale)
    if plan.requests is None:
        assert plan.duration is not None
        levels = len(plan.levels)
        total = levels * plan.duration
        return (f"{levels} level(s) of {format_span(plan.duration)} each: about {format_span(total / time_scale)} "
                f"in all ({clock})")
    requests = len(plan.levels) * plan.requests
    limits, basis = starting_point(endpoint, [plan.model])
    # The embedded emulator generates every request's whole budget, so its tokens are exact.
    line = expected_run_line({plan.model: ModelWork(requests, requests * plan.tokens_per_request)}, limits,
                             time_scale=time_scale, noun="requests", basis=basis,
                             exact_tokens=endpoint.emulator is not None)
    return f"{line} ({clock})"


def _clock_words(time_scale: float) -> str:
    """How to read the run's times: on the real clock, or on a compressed one (and what that costs)."""
    if time_scale == 1:
        return "clock x1: real seconds"
    return (f"clock x{time_scale:g}: times are endpoint seconds; latencies include the client's own CPU time "
            f"x{time_scale:g}, use --time-scale 1 to measure them")


def run(args: argparse.Namespace) -> int:
    """Run ``groq-orch bench`` with parsed flags; the exit status is 1 when no request completed."""
    import msgspec
    import trio
    from rich.console import Console

    from orchestrator import __version__
    from orchestrator.loadtest._capacity import Sustainability, assess
    from orchestrator.loadtest._plan import PlanError
    from orchestrator.loadtest._report import summary_document
    from orchestrator.loadtest._serving import SERVING_FILE
    from orchestrator._config import _loopback

    if args.rate is None and (args.arrivals is not None or args.max_concurrency is not None):
        return _usage_error("--arrivals" if args.arrivals is not None else "--max-concurrency",
                            "applies only with --rate")
    try:
        plan = _plan(args)
    except PlanError as exc:
        return _usage_error(exc.flag, exc.message)
    endpoint = _endpoint(args, plan)
    if endpoint.emulator is not None:
        time_scale = endpoint.emulator.time_scale
    else:
        time_scale = args.time_scale or 1.0
        if time_scale != 1.0 and not _loopback(urlsplit(endpoint.config.base_url).hostname or ""):
            return _usage_error("--time-scale", f"{args.time_scale:g} applies only to an emulator on loopback, "
                                f"not {endpoint.config.base_url}")
    # Everything but the result goes to stderr, and nothing at all with --quiet; markup off: messages name
    # extras like groq-orchestrator[bench].
    notes = Console(stderr=True, quiet=args.quiet, highlight=False, markup=False, soft_wrap=True)
    if endpoint.notice:
        notes.print(endpoint.notice)
    notes.print(_expected_line(plan, endpoint, time_scale))
    directory: Path | None = args.output_dir
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    encoder = msgspec.json.Encoder()
    started_at = datetime.datetime.now(datetime.timezone.utc)
    with (directory / "requests.jsonl").open("wb") if directory is not None else _Discard() as requests_file:

        def sink(record: Any) -> None:
            requests_file.write(encoder.encode(record) + b"\n")

        result = trio.run(_measure, endpoint, plan, time_scale, sink, notes)
    assessment = assess(result.levels, result.timeline, mode=plan.mode, slo=plan.slo, criteria=Sustainability(
        max_429_per_1k=args.sustainable_429s, min_good_share=args.sustainable_goodput))
    document = summary_document(result, plan, endpoint=endpoint.description, time_scale=time_scale,
                                started_at=started_at, version=__version__, assessment=assessment)
    if args.json:
        sys.stdout.buffer.write(msgspec.json.format(msgspec.json.encode(document)) + b"\n")
        sys.stdout.flush()
    else:
        _print_tables(result, plan, assessment, f"{plan.model} at {endpoint.description}", time_scale)
    if directory is not None:
        _write_files(directory, document, encoder)
        _plots(result, plan, directory, f"{plan.model} at {endpoint.description}", notes)
        notes.print(f"wrote {directory / 'requests.jsonl'}, {directory / 'summary.json'} and "
                    f"{directory / SERVING_FILE}")
    elif args.report is None:
        notes.print("add --output-dir DIR to keep requests.jsonl, summary.json and plots, or --report PATH for an "
                    "HTML report")
    if args.report is not None:
        from orchestrator.loadtest._html import bench_report

        args.report.write_text(bench_report(document, stats=result.stats), encoding="utf-8")
        notes.print(f"report: {args.report}")
    return _EXIT_OK if document["totals"]["completed"] else _EXIT_FAILED


async def _measure(endpoint: Endpoint, plan: BenchPlan, time_scale: float, sink: Callable[[Any], None],
                   notes: Console) -> BenchResult:
    """Run the sweep, a line on ``notes`` as each level ends and, on a terminal, the live progress line."""
    import trio

    from orchestrator.loadtest._progress import show_progress
    from orchestrator.loadtest._run import BenchObserver, BenchRun
    from orchestrator._endpoint import open_endpoint

    # The embedded emulator's clock is known to open_endpoint; an emulator at a URL's is ours to pass.
    options: dict[str, Any] = {} if endpoint.emulator is not None else {"time_scale": time_scale}
    async with open_endpoint(endpoint, observer=BenchObserver(), **options) as client:
        bench = BenchRun(client, plan, scale=time_scale, sink=sink,
                         on_level=lambda summary: notes.print(_level_line(summary, plan.mode)))
        if notes.quiet or not notes.is_terminal:
            return await bench.run()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(partial(show_progress, bench.progress, client, notes, model=plan.model,
                                       time_scale=time_scale))
            result = await bench.run()
            nursery.cancel_scope.cancel()
        return result


def _print_tables(result: BenchResult, plan: BenchPlan, assessment: Assessment, title: str, time_scale: float) -> None:
    """The text report on stdout: the clock, the three tables and the max sustainable level."""
    from rich.console import Console

    from orchestrator.loadtest._report import render_tables, sustainable_line

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    console.print(f"groq-orch bench: {title} ({_clock_words(time_scale)})")
    for table in render_tables(result.levels, mode=plan.mode, slo=plan.slo, assessment=assessment):
        console.print(table)
    console.print(sustainable_line(assessment))


def _write_files(directory: Path, document: dict[str, Any], encoder: Any) -> None:
    """``summary.json`` and ``benchmark_serving.jsonl`` (``requests.jsonl`` was written as the run went)."""
    import msgspec

    from orchestrator.loadtest._serving import SERVING_FILE

    (directory / "summary.json").write_bytes(msgspec.json.format(msgspec.json.encode(document)) + b"\n")
    (directory / SERVING_FILE).write_bytes(b"".join(
        encoder.encode(record) + b"\n" for record in document["benchmark_serving"]))


def _plots(result: BenchResult, plan: BenchPlan, directory: Path, title: str, notes: Console) -> None:
    try:
        from orchestrator.loadtest._plots import write_plots
    except ImportError:
        notes.print(f"plots skipped: matplotlib is not installed; {_PLOTS_HINT} to get them (or --report PATH "
                    "for an HTML report that needs no extra)")
        return
    paths = write_plots(result, mode=plan.mode, directory=directory, title=title)
    notes.print("plots: " + ", ".join(str(path) for path in paths))


class _Discard:
    """A write-only sink for runs without --output-dir (a context manager like an open file)."""

    def __enter__(self) -> _Discard:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def write(self, data: bytes) -> int:
        return len(data)

