"""``groq-orch``: the command line (argparse tree, exit codes; the work happens in the library).

Commands::

    groq-orch batch JOBS.jsonl -o RESULTS.jsonl     run a file of chat jobs (resumable)
      ... --ray [ADDRESS]                           the same batch on a Ray cluster (local by default)
    groq-orch chat "PROMPT" [--stream]              one chat completion
    groq-orch models list | models show ID          the models the account can use
    groq-orch transcribe FILE | translate FILE      Whisper speech to text
    groq-orch speak "TEXT" -o OUT.wav [--voice V]   Orpheus text to speech
    groq-orch health                                can the endpoint be reached?
    groq-orch rate-limits                           what the client learns from one probe request
    groq-orch bench [--concurrency 1,2,4,8]         latency, throughput and rate limits under load
    groq-orch emulate                               serve the bundled Groq emulator

Where requests go is decided by `orchestrator._endpoint` (with no ``GROQ_API_KEY`` and no
``--base-url``, the embedded emulator). Exit codes: 0 success; 1 a request or job failed; 2 bad usage,
configuration or input; 130/143 interrupted by SIGINT/SIGTERM. Human output goes to stdout, notices and
errors to stderr; the API key is never printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Final, NoReturn

from orchestrator._tiers import TIER_NAMES

__all__ = ["build_parser", "main"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_SIGINT: Final = 130

DEFAULT_CHAT_MODEL: Final = "openai/gpt-oss-20b"
AUDIO_FORMATS: Final = ("json", "text", "verbose_json", "srt", "vtt")
DEFAULT_SPEECH_MODEL: Final = "canopylabs/orpheus-v1-english"


def _int_at_least(low: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``low``, with a message naming the bad value."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _port(text: str) -> int:
    """An argparse type: a TCP port number, 0 to 65535 (0 lets the system pick a free one)."""
    value = _non_negative_int(text)
    if value > 65_535:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (0 to 65535)")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a finite number of seconds, 0 or more")
    return value


def _duration(text: str) -> float:
    """``--deadline``: ``6h``, ``90m``, ``1h30m``, ``2d`` or plain seconds, more than 0."""
    from actors._duration import parse_go_duration

    days = text.strip().removesuffix("d")
    try:
        value = float(days) * 86_400 if days != text.strip() else parse_go_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write it like 6h, 90m, 1h30m, 2d or a number of seconds"
        ) from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text} must be a duration of more than 0 seconds")
    return value


def _limits(text: str) -> Any:
    from orchestrator._endpoint import parse_model_limits
    from orchestrator._errors import ConfigError

    try:
        return parse_model_limits(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _model_mapping(text: str) -> tuple[str, str]:
    from orchestrator._config import parse_model_mapping
    from orchestrator._errors import ConfigError

    try:
        return parse_model_mapping(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(f"{exc.message} ({exc.field}: {text!r})") from None


def _model_map(args: argparse.Namespace) -> dict[str, str] | None:
    """The repeated ``--model-map OLD=NEW`` flags as one mapping; the same OLD twice must agree."""
    from orchestrator._errors import ConfigError

    pairs = getattr(args, "model_map", None)
    if not pairs:
        return None
    mapping: dict[str, str] = {}
    for old, new in pairs:
        if mapping.get(old, new) != new:
            raise ConfigError(field="--model-map", value=f"{old}={new}",
                              rule=f"maps {old!r} a second time (already to {mapping[old]!r}); give each model once")
        mapping[old] = new
    return mapping


_MODEL_MAP_HELP: Final = ("send every request for model OLD to NEW instead, e.g. to move jobs off a retired model "
                          "(llama-3.1-8b-instant=openai/gpt-oss-20b); repeatable")


def _connection_options() -> argparse.ArgumentParser:
    """Options every command that talks to an endpoint shares."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("connection")
    group.add_argument("--config", type=Path, metavar="PATH",
                       help="TOML file with defaults (base_url, timeout, max_retries, concurrency, limits, "
                            "api_key_env); never the key itself")
    group.add_argument("--base-url", metavar="URL",
                       help="API endpoint (default: GROQ_BASE_URL, else Groq; with no key and no URL, the "
                            "embedded emulator)")
    group.add_argument("--timeout", type=_seconds, metavar="SECONDS", help="per-attempt timeout (default 60)")
    group.add_argument("--max-retries", type=_non_negative_int, metavar="N",
                       help="retries after the first attempt (default 3)")
    group.add_argument("--tier", choices=TIER_NAMES,
                       help="your Groq plan: RPM and TPD, which the headers do not report, start from its "
                            "published table (default: GROQ_ORCH_TIER, else recognised from the first response)")
    return parent


class _RedactingParser(argparse.ArgumentParser):
    """argparse quotes a rejected flag value (``--timeout gsk_...``); a key pasted into a flag is masked first.

    Subcommand parsers are made of the same class (``add_subparsers`` uses the parent's type).
    """

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        from orchestrator._secret import redact_text

        super().error(redact_text(message))


def build_parser() -> argparse.ArgumentParser:
    """The whole ``groq-orch`` argument tree."""
    from orchestrator import __version__

    parser = _RedactingParser(
        prog="groq-orch",
        description="Drive thousands of Groq chat jobs through the rate limits, losing none.",
        epilog="The API key comes from GROQ_API_KEY (never a flag). Without it and without --base-url, "
               "commands run against the bundled emulator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", choices=("trace", "debug", "info", "warning", "error"), default="warning",
                        help="log events at this level and above to stderr (default warning; trace adds request and "
                             "response bodies); keys and Authorization values are always masked")
    parser.add_argument("--log-format", choices=("console", "json"), default="console",
                        help="log lines for people (console, the default) or one JSON object per line (json)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    conn = _connection_options()

    batch = commands.add_parser(
        "batch", parents=[conn], help="run a JSONL file of chat jobs, resumably",
        description="Run every job in JOBS (Groq batch format or plain chat bodies) and append one result "
                    "line per job to the output, in Groq's batch output format. Re-run the same command to "
                    "resume after a crash or Ctrl-C.",
    )
    batch.add_argument("input", type=Path, metavar="JOBS.jsonl", help="input file of jobs (a pipe such as /dev/stdin is read once)")
    batch.add_argument("-o", "--output", type=Path, required=True, metavar="RESULTS.jsonl",
                       help="results file (appended to when resuming)")
    batch.add_argument("--model", help="use this model for every job, whatever the body says")
    batch.add_argument("--model-map", type=_model_mapping, action="append", metavar="OLD=NEW", help=_MODEL_MAP_HELP)
    batch.add_argument("--concurrency", type=_positive_int, metavar="N",
                       help="requests in flight at once (default 64, or the config file's)")
    batch.add_argument("--priority-field", metavar="FIELD",
                       help="top-level input field holding an integer priority (higher runs sooner)")
    batch.add_argument("--limits", type=_limits, action="append", metavar="MODEL=RPM/RPD/TPM/TPD",
                       help="rate limits for a model ('-' to learn one from headers); repeatable")
    batch.add_argument("--grace", type=_seconds, default=10.0, metavar="SECONDS",
                       help="after Ctrl-C/SIGTERM, how long in-flight jobs may finish (default 10)")
    batch.add_argument("--quiet", "-q", action="store_true", help="no progress display or summary table")
    batch.add_argument("--summary-json", type=Path, metavar="PATH", help="also write the summary as JSON")
    batch.add_argument("--report", type=Path, metavar="PATH",
                       help="also write a self-contained HTML report (figures and tables, nothing fetched) here")
    batch.add_argument("--metrics-port", type=_port, metavar="N",
                       help="serve Prometheus metrics at http://127.0.0.1:N/metrics while the batch runs (0: a free port)")
    via = batch.add_argument_group(
        "Groq's Batch API", "cheaper (a batch discount), outside the standard rate limits, answered within a "
        "completion window of 24h to 7d; the results file, resume and exactly-once guarantee are the same")
    via.add_argument("--via", choices=("live", "batch-api", "auto"), default="live",
                     help="live calls (default), the Batch API, or auto: live lanes take what the rate limits "
                          "can finish before --deadline, the Batch API the rest")
    via.add_argument("--deadline", type=_duration, metavar="DURATION",
                     help="with --via auto: how long the live lanes have, e.g. 6h, 90m, 1h30m")
    via.add_argument("--completion-window", default="24h", metavar="WINDOW",
                     help="the Batch API's completion window, 24h to 7d (default 24h)")
    via.add_argument("--batch-rounds", type=_positive_int, default=3, metavar="N",
                     help="times a line that expired or failed for a passing reason is resubmitted before it "
                          "is recorded as failed (default 3)")
    via.add_argument("--batch-max-lines", type=_positive_int, default=50_000, metavar="N",
                     help="lines per batch (default and most: 50,000)")
    via.add_argument("--poll-interval", type=_seconds, default=2.0, metavar="SECONDS",
                     help="first wait between status polls of a batch; it doubles up to 60 s (default 2)")
    via.add_argument("--prices", type=Path, metavar="PRICES.toml",
                     help="price table for the summary's cost (default: the bundled one, see --cost)")
    via.add_argument("--cost", action="store_true",
                     help="print the cost breakdown: live and batch spend, what live calls would have cost, "
                          "and jobs with no price")
    scale = batch.add_argument_group(
        "scale out on Ray",
        "run the batch on a Ray cluster (pip install 'groq-orchestrator[ray]'): one client per actor, one rate "
        "budget for all of them; the results file, resume and exactly-once guarantee are the same")
    scale.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                       help="run on Ray: alone, a local cluster (ray.init()); with ADDRESS, that cluster "
                            "(auto, ray://HOST:10001)")
    scale.add_argument("--ray-actors", type=_positive_int, default=4, metavar="N",
                       help="actors in the Ray stage, one client each (default 4)")
    scale.add_argument("--ray-batch-size", type=_positive_int, default=32, metavar="N",
                       help="rows one actor answers at a time (default 32)")
    scale.add_argument("--redis", metavar="URL", dest="redis_url",
                       help="Redis through which every process using the API key shares one rate budget, on "
                            "one machine or many, Ray or not: redis://HOST:PORT/DB (default: GROQ_ORCH_REDIS_URL; "
                            "with --ray and no Redis, a Ray actor holds the budget)")
    batch.set_defaults(handler=_cmd_batch)

    chat = commands.add_parser("chat", parents=[conn], help="send one prompt",
                               description="Send one prompt and print the reply.")
    chat.add_argument("prompt", metavar="PROMPT", help="the user message ('-' reads standard input)")
    chat.add_argument("--model", default=DEFAULT_CHAT_MODEL, help=f"model id (default {DEFAULT_CHAT_MODEL})")
    chat.add_argument("--model-map", type=_model_mapping, action="append", metavar="OLD=NEW", help=_MODEL_MAP_HELP)
    chat.add_argument("--system", metavar="TEXT", help="a system message")
    chat.add_argument("--max-tokens", type=_positive_int, metavar="N", help="max completion tokens")
    chat.add_argument("--temperature", type=float, metavar="T", help="sampling temperature 0-2")
    chat.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    chat.add_argument("--json", action="store_true",
                      help="print the whole response as JSON (with --stream: one chunk per line)")
    chat.add_argument("--json-mode", action="store_true",
                      help="ask for a JSON object reply (response_format json_object)")
    chat.set_defaults(handler=_async(_chat))

    models = commands.add_parser("models", help="list or show models",
                                 description="The models the endpoint serves.")
    model_commands = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    models_list = model_commands.add_parser("list", parents=[conn], help="list models")
    models_list.add_argument("--json", action="store_true", help="print the raw JSON")
    models_list.set_defaults(handler=_async(_models_list))
    models_show = model_commands.add_parser("show", parents=[conn], help="show one model")
    models_show.add_argument("model_id", metavar="ID", help="model id, e.g. openai/gpt-oss-20b")
    models_show.add_argument("--json", action="store_true", help="print the raw JSON")
    models_show.set_defaults(handler=_async(_models_show))

    for name, default_model, translation in (
        ("transcribe", "whisper-large-v3-turbo", False),
        ("translate", "whisper-large-v3", True),
    ):
        audio = commands.add_parser(
            name, parents=[conn],
            help="speech to English text" if translation else "speech to text",
            description=("Translate speech in FILE into English text." if translation
                         else "Transcribe speech in FILE into text in its language."),
        )
        audio.add_argument("file", metavar="FILE",
                           help="audio file (flac mp3 mp4 mpeg mpga m4a ogg wav webm, up to 25 MB) or an https URL")
        audio.add_argument("--model", default=default_model, help=f"Whisper model (default {default_model})")
        audio.add_argument("--response-format", choices=AUDIO_FORMATS, default="text",
                           help="output format (default text; srt/vtt are rendered from verbose_json)")
        audio.add_argument("--prompt", help="text to guide style or vocabulary")
        audio.add_argument("--temperature", type=float, metavar="T", help="sampling temperature 0-1")
        if not translation:
            audio.add_argument("--language", metavar="CODE", help="ISO-639-1 language of the audio, e.g. en")
            audio.add_argument("--timestamp-granularities", nargs="+", choices=("word", "segment"),
                               metavar="{word,segment}", help="with verbose_json: word and/or segment timestamps")
        audio.add_argument("-o", "--output", type=Path, metavar="PATH", help="write to a file instead of stdout")
        audio.set_defaults(handler=_async(_audio), translation=translation)

    speak = commands.add_parser("speak", parents=[conn], help="text to speech",
                                description="Speak TEXT with a Groq Orpheus voice and write the audio file.")
    speak.add_argument("text", metavar="TEXT", help="what to say (up to 200 characters); '-' reads stdin")
    speak.add_argument("-o", "--output", type=Path, metavar="PATH", required=True, help="audio file to write")
    speak.add_argument("--model", default=DEFAULT_SPEECH_MODEL, help=f"TTS model (default {DEFAULT_SPEECH_MODEL})")
    speak.add_argument("--voice", help="voice (default: troy for English, fahad for Arabic)")
    speak.add_argument("--format", default="wav", metavar="FMT", help="audio format (default wav, Orpheus's only one)")
    speak.add_argument("--speed", type=float, metavar="X", help="speaking speed (1.0 is normal)")
    speak.add_argument("--sample-rate", type=_positive_int, metavar="HZ", help="sample rate (default 24000)")
    speak.set_defaults(handler=_async(_speak))

    health = commands.add_parser("health", parents=[conn], help="check the endpoint is reachable",
                                 description="Ask /models once and report reachability, latency and breaker state.")
    health.set_defaults(handler=_async(_health))

    probe = commands.add_parser(
        "rate-limits", parents=[conn], help="show what the client learns about rate limits",
        description="Send one tiny request per model (1 completion token) and show the limits, remaining "
                    "budget and resets the client learned from the response headers.",
    )
    probe.add_argument("--model", action="append", metavar="ID",
                       help=f"model to probe; repeatable (default {DEFAULT_CHAT_MODEL})")
    probe.add_argument("--json", action="store_true", help="print the snapshots as JSON")
    probe.set_defaults(handler=_async(_rate_limits))

    bench = commands.add_parser(
        "bench", parents=[conn], help="measure latency, throughput and rate limits under load",
        description="Stream requests at a sweep of concurrencies (or request rates) and report TTFT, ITL, TPOT "
                    "and end-to-end latency (p50/p90/p99), throughput, goodput under an SLO, 429/498 answers "
                    "and time throttled, beside Groq's own usage timings.",
    )
    from orchestrator.loadtest import _command as loadtest

    loadtest.add_arguments(bench)

    emulate = commands.add_parser("emulate", help="serve the bundled Groq emulator",
                                  description="Serve a Groq-compatible emulator on loopback for tests and demos.")
    from orchestrator.emulator import _cli as emulator_cli

    emulator_cli.add_arguments(emulate)
    emulate.set_defaults(handler=emulator_cli.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``groq-orch`` with ``argv`` (default: the process arguments) and return the exit status."""
    from orchestrator.batch._io import BatchFileError
    from orchestrator._errors import ConfigError, GroqError, ValidationError

    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.log_level, args.log_format)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_SIGINT
    except (ConfigError, ValidationError, BatchFileError) as exc:
        _error(str(exc))
        return EXIT_USAGE
    except GroqError as exc:
        _error(str(exc))
        return EXIT_FAILED
    except OSError as exc:
        _error(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        return EXIT_USAGE


def _configure_logging(level: str, log_format: str) -> None:
    """Redacted log lines on stderr at ``level`` and above, so stdout carries only command output."""
    from orchestrator.observe._logging import configure_logging

    configure_logging(level, log_format)  # type: ignore[arg-type] - argparse checked the choices


def _error(message: str) -> None:
    print(f"groq-orch: error: {message}", file=sys.stderr)


# ------------------------------------------------------------------------------ batch


def _cmd_batch(args: argparse.Namespace) -> int:
    import os

    args.redis_url = args.redis_url or os.environ.get("GROQ_ORCH_REDIS_URL", "").strip() or None
    if args.ray is not None:
        import importlib.util

        if importlib.util.find_spec("ray") is None:
            _error("--ray needs Ray: pip install 'groq-orchestrator[ray]'")
            return EXIT_USAGE
    return _run_batch(args).exit_code


def _run_batch(args: argparse.Namespace) -> Any:
    """Run the batch the flags describe (on this machine, or on Ray with --ray)."""
    from orchestrator.batch._local import run_batch

    return run_batch(
        args.input,
        args.output,
        config_file=args.config,
        model=args.model,
        concurrency=args.concurrency,
        priority_field=args.priority_field,
        max_retries=args.max_retries,
        timeout=args.timeout,
        base_url=args.base_url,
        limits=dict(args.limits) if args.limits else None,
        grace=args.grace,
        quiet=args.quiet,
        summary_json=args.summary_json,
        report=args.report,
        metrics_port=args.metrics_port,
        redis_url=args.redis_url,
        ray=args.ray,
        ray_actors=args.ray_actors,
        ray_batch_size=args.ray_batch_size,
        tier=args.tier,
        model_map=_model_map(args),
        via=args.via,
        deadline=args.deadline,
        completion_window=args.completion_window,
        batch_rounds=args.batch_rounds,
        batch_max_lines=args.batch_max_lines,
        poll_interval=max(args.poll_interval, 0.001),
        prices=args.prices,
        show_cost=args.cost,
    )


# ------------------------------------------------------------------- one-call commands


def _async(command: Callable[[argparse.Namespace, Any], Awaitable[int]]) -> Callable[[argparse.Namespace], int]:
    """Wrap an async command: resolve the endpoint, say if it is the emulator, open a client, run it."""

    def handler(args: argparse.Namespace) -> int:
        import trio

        from orchestrator._endpoint import load_config_file, open_endpoint, resolve_endpoint

        endpoint = resolve_endpoint(
            file=load_config_file(args.config) if args.config else None,
            base_url=args.base_url,
            timeout=args.timeout,
            max_retries=args.max_retries,
            tier=args.tier,
        )
        if endpoint.notice:
            print(endpoint.notice, file=sys.stderr)
        model_map = _model_map(args)
        options = {"model_map": model_map} if model_map else {}

        async def run() -> int:
            async with open_endpoint(endpoint, **options) as client:
                return await command(args, client)

        return trio.run(run)

    return handler


def _stdout_console() -> Any:
    from rich.console import Console

    return Console(highlight=False)


async def _chat(args: argparse.Namespace, client: Any) -> int:
    import msgspec

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": prompt}
    ]
    params: dict[str, Any] = {"model": args.model, "messages": messages}
    if args.max_tokens is not None:
        params["max_completion_tokens"] = args.max_tokens
    if args.temperature is not None:
        params["temperature"] = args.temperature
    if args.json_mode:
        params["response_format"] = {"type": "json_object"}
    out = sys.stdout
    if args.stream:
        stream = await client.chat.completions.create(**params, stream=True)
        async with stream:
            async for chunk in stream:
                if args.json:
                    out.write(msgspec.json.encode(chunk).decode() + "\n")
                else:
                    for choice in chunk.choices:
                        if choice.delta.content:
                            out.write(choice.delta.content)
                out.flush()
        if not args.json:
            out.write("\n")
        return EXIT_OK
    response = await client.chat.completions.create(**params)
    if args.json:
        out.write(msgspec.json.format(msgspec.json.encode(response)).decode() + "\n")
    else:
        message = response.choices[0].message if response.choices else None
        if message is not None and message.tool_calls:
            for call in message.tool_calls:
                out.write(f"[tool call] {call.function.name}({call.function.arguments})\n")
        out.write((message.content if message is not None and message.content else "") + "\n")
    return EXIT_OK


async def _models_list(args: argparse.Namespace, client: Any) -> int:
    import msgspec
    from rich.table import Table

    models = await client.models.list()
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(models)).decode())
        return EXIT_OK
    table = Table("id", "owned by", "context", "max completion", "active", box=None, pad_edge=False)
    for model in sorted(models.data, key=lambda m: m.id):
        table.add_row(
            model.id, model.owned_by or "",
            f"{model.context_window:,}" if model.context_window else "",
            f"{model.max_completion_tokens:,}" if model.max_completion_tokens else "",
            "" if model.active is None else ("yes" if model.active else "no"),
        )
    _stdout_console().print(table)
    return EXIT_OK


async def _models_show(args: argparse.Namespace, client: Any) -> int:
    import msgspec

    model = await client.models.retrieve(args.model_id)
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(model)).decode())
        return EXIT_OK
    for name in model.__struct_fields__:
        value = getattr(model, name)
        if value is not None:
            print(f"{name:<22} {value}")
    return EXIT_OK


async def _audio(args: argparse.Namespace, client: Any) -> int:
    import msgspec

    source: dict[str, Any] = (
        {"url": args.file} if args.file.startswith(("https://", "http://")) else {"file": Path(args.file)}
    )
    options: dict[str, Any] = {
        "model": args.model,
        "response_format": args.response_format,
        "prompt": args.prompt,
        "temperature": args.temperature,
    }
    endpoint = client.audio.translations
    if not args.translation:
        endpoint = client.audio.transcriptions
        options["language"] = args.language
        options["timestamp_granularities"] = args.timestamp_granularities
    result = await endpoint.create(**source, **options)
    if isinstance(result, str):
        text = result if result.endswith("\n") else result + "\n"
    else:
        text = msgspec.json.format(msgspec.json.encode(result)).decode() + "\n"
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


async def _speak(args: argparse.Namespace, client: Any) -> int:
    from orchestrator._speech import SPEECH_MODELS

    text = sys.stdin.read().strip() if args.text == "-" else args.text
    model = client.mapped_model(args.model)
    facts = SPEECH_MODELS.get(model)
    voice = args.voice or (facts.default_voice if facts is not None else "")
    written = await client.audio.speech.stream_to_file(
        args.output, model=args.model, input=text, voice=voice, response_format=args.format,
        speed=args.speed, sample_rate=args.sample_rate,
    )
    print(f"wrote {args.output} ({written} bytes, {args.format}, voice {voice})")
    return EXIT_OK


async def _health(args: argparse.Namespace, client: Any) -> int:
    status = await client.health_check()
    latency = f"{status.latency_seconds * 1000:.0f} ms" if status.latency_seconds is not None else "-"
    print(f"endpoint   {client.config.base_url}")
    print(f"reachable  {'yes' if status.reachable else 'no'}")
    print(f"latency    {latency}")
    print(f"breaker    {status.breaker}")
    if status.error:
        print(f"error      {status.error}")
    return EXIT_OK if status.reachable and status.error is None else EXIT_FAILED


async def _rate_limits(args: argparse.Namespace, client: Any) -> int:
    import msgspec

    from orchestrator._errors import GroqError
    from orchestrator.batch._progress import render_rate_limits

    failed = False
    for model in args.model or [DEFAULT_CHAT_MODEL]:
        try:
            await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "ping"}], max_completion_tokens=1,
            )
        except GroqError as exc:
            failed = True
            _error(f"probe of {model} failed: {exc}")
    snapshots = client.rate_limits()
    if args.json:
        print(msgspec.json.format(msgspec.json.encode(snapshots)).decode())
    else:
        _stdout_console().print(render_rate_limits(snapshots))
    return EXIT_FAILED if failed else EXIT_OK
