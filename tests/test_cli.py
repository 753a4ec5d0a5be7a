"""The ``groq-orch`` command line, run in-process through ``main(argv)`` against the embedded emulator."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import pytest

from orchestrator._cli import main

MODEL = "openai/gpt-oss-20b"


@pytest.fixture(autouse=True)
def no_groq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts with nothing set up: no key, no base URL."""
    for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "GROQ_TIMEOUT", "GROQ_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)


def jobs_file(path: Path, ids: list[str]) -> Path:
    body = {"model": MODEL, "max_completion_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}
    path.write_text("".join(json.dumps({"custom_id": cid, "body": body}) + "\n" for cid in ids))
    return path


def wav(path: Path, seconds: float = 1.0) -> Path:
    """A silent 16 kHz mono PCM WAV file."""
    frames = int(16_000 * seconds)
    data = bytes(2 * frames)
    header = b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVEfmt " + struct.pack(
        "<IHHIIHH", 16, 1, 1, 16_000, 32_000, 2, 16) + b"data" + struct.pack("<I", len(data))
    path.write_bytes(header + data)
    return path


class TestHelp:
    @pytest.mark.parametrize("argv", [
        [], ["batch"], ["chat"], ["models"], ["models", "list"], ["models", "show"], ["transcribe"],
        ["translate"], ["health"], ["rate-limits"], ["emulate"],
    ])
    def test_every_command_has_help(self, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
        """Each command and subcommand answers --help with its usage and exits 0."""
        with pytest.raises(SystemExit) as info:
            main([*argv, "--help"])
        assert (info.value.code, "usage: groq-orch" in capsys.readouterr().out) == (0, True)

    def test_missing_command_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """No command at all is a usage error (exit 2) naming what is required."""
        with pytest.raises(SystemExit) as info:
            main([])
        assert (info.value.code, "required" in capsys.readouterr().err) == (2, True)


class TestBatch:
    def test_runs_against_embedded_emulator(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """With nothing set up, batch runs on the embedded emulator, says so once, and writes every result."""
        source = jobs_file(tmp_path / "jobs.jsonl", [f"j{i}" for i in range(20)])
        code = main(["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--summary-json",
                     str(tmp_path / "s.json")])
        err = capsys.readouterr().err
        assert (code, err.count("bundled Groq emulator"), len((tmp_path / "out.jsonl").read_text().splitlines()),
                json.loads((tmp_path / "s.json").read_text())["succeeded"]) == (0, 1, 20, 20)

    def test_quiet_prints_nothing(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--quiet suppresses the notice, the progress view and the summary."""
        source = jobs_file(tmp_path / "jobs.jsonl", ["a"])
        code = main(["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--quiet"])
        captured = capsys.readouterr()
        assert (code, captured.out, captured.err) == (0, "", "")

    def test_duplicates_exit_2_with_lines(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Duplicate ids are refused with exit 2 and the line numbers, and nothing is written."""
        source = jobs_file(tmp_path / "jobs.jsonl", ["a", "b", "a"])
        code = main(["batch", str(source), "-o", str(tmp_path / "out.jsonl")])
        err = capsys.readouterr().err
        assert (code, "'a' on lines 1, 3" in err, (tmp_path / "out.jsonl").exists()) == (2, True, False)

    def test_failed_jobs_exit_1(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A batch with an error record exits 1."""
        source = tmp_path / "jobs.jsonl"
        source.write_text("not json\n")
        assert main(["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "-q"]) == 1

    def test_missing_input_is_a_clear_error(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing input file exits 2 naming the file."""
        code = main(["batch", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "out.jsonl")])
        assert (code, "nope.jsonl" in capsys.readouterr().err) == (2, True)

    def test_via_batch_api_with_cost(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--via batch-api runs on the embedded emulator's Batch API; --cost prints what it saved."""
        source = jobs_file(tmp_path / "jobs.jsonl", [f"j{i}" for i in range(30)])
        code = main(["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--via", "batch-api", "--cost",
                     "--poll-interval", "0.05", "--summary-json", str(tmp_path / "s.json")])
        err = capsys.readouterr().err
        summary = json.loads((tmp_path / "s.json").read_text())
        assert (code, summary["succeeded"], summary["via"], summary["batches"]) == (0, 30, "batch-api", 1)
        assert summary["live_cost_usd"] == pytest.approx(2 * summary["cost_usd"])
        assert "saved" in err

    @pytest.mark.parametrize(("argv", "words"), [
        (["--via", "auto"], "required with via='auto'"),
        (["--via", "auto", "--deadline", "soon"], "not a duration"),
        (["--via", "auto", "--deadline", "0"], "more than 0 seconds"),
        (["--via", "batch-api", "--completion-window", "2h"], "24h to 7d"),
        (["--via", "post"], "invalid choice"),
    ])
    def test_bad_batch_api_flags(self, tmp_path: Path, argv: list[str], words: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
        """Bad --via, --deadline or --completion-window values are usage errors (exit 2) that say why."""
        source = jobs_file(tmp_path / "jobs.jsonl", ["a"])
        try:
            code = main(["batch", str(source), "-o", str(tmp_path / "out.jsonl"), *argv])
        except SystemExit as exit_:
            code = exit_.code
        assert (code, words in capsys.readouterr().err) == (2, True)
        assert not (tmp_path / "out.jsonl").exists()

    @pytest.mark.parametrize(("text", "seconds"), [("6h", 21_600), ("90m", 5_400), ("1h30m", 5_400), ("2d", 172_800),
                                                   ("45", 45)])
    def test_deadline_durations(self, text: str, seconds: float) -> None:
        from orchestrator._cli import _duration

        assert _duration(text) == seconds

    def test_bad_limits_flag(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A malformed --limits value is a usage error that shows the expected form."""
        with pytest.raises(SystemExit) as info:
            main(["batch", "in.jsonl", "-o", "out.jsonl", "--limits", "llama=30/x"])
        assert (info.value.code, "RPM/RPD/TPM/TPD" in capsys.readouterr().err) == (2, True)

    def test_limits_and_model_flags(self, tmp_path: Path) -> None:
        """--limits and --model are accepted and applied."""
        source = jobs_file(tmp_path / "jobs.jsonl", ["a", "b"])
        code = main(["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "-q", "--model", "qwen/qwen3.6-27b",
                     "--limits", "qwen/qwen3.6-27b=600/-/60000/-", "--concurrency", "2"])
        models = {json.loads(line)["response"]["body"]["model"] for line in (tmp_path / "out.jsonl").open()}
        assert (code, models) == (0, {"qwen/qwen3.6-27b"})


class TestConfigFile:
    def test_api_key_in_file_is_refused(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A config file holding api_key is refused (exit 2) and the key is not echoed."""
        config = tmp_path / "groq.toml"
        config.write_text('api_key = "gsk_do_not_print_me"\n')
        code = main(["health", "--config", str(config)])
        err = capsys.readouterr().err
        assert (code, "api_key_env" in err, "gsk_do_not_print_me" in err) == (2, True, False)

    def test_unknown_setting_is_refused(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown config key is refused with its name."""
        config = tmp_path / "groq.toml"
        config.write_text("concurency = 3\n")
        assert (main(["health", "--config", str(config)]), "concurency" in capsys.readouterr().err) == (2, True)

    def test_settings_are_used(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Limits and concurrency from the file are accepted by a batch."""
        config = tmp_path / "groq.toml"
        config.write_text('concurrency = 4\ntimeout = 20\n[limits]\n"openai/gpt-oss-20b" = "600/-/60000/-"\n')
        source = jobs_file(tmp_path / "jobs.jsonl", ["a"])
        assert main(["batch", str(source), "-o", str(tmp_path / "o.jsonl"), "-q", "--config", str(config)]) == 0

    def test_remote_url_without_key(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A remote base URL without a key is a clear configuration error."""
        code = main(["health", "--base-url", "https://api.groq.com/openai/v1"])
        assert (code, "GROQ_API_KEY" in capsys.readouterr().err) == (2, True)


class TestChat:
    def test_prints_reply(self, capsys: pytest.CaptureFixture[str]) -> None:
        """chat prints the assistant's reply text."""
        code = main(["chat", "Say hi", "--max-tokens", "200", "--system", "Be brief."])  # room to answer after reasoning
        out = capsys.readouterr().out
        assert (code, bool(out.strip())) == (0, True)

    def test_stream_prints_tokens(self, capsys: pytest.CaptureFixture[str]) -> None:
        """chat --stream prints the streamed text followed by a newline."""
        code = main(["chat", "Say hi", "--stream", "--max-tokens", "200"])
        out = capsys.readouterr().out
        assert (code, out.endswith("\n"), len(out.strip()) > 0) == (0, True, True)

    def test_stream_json_is_one_chunk_per_line(self, capsys: pytest.CaptureFixture[str]) -> None:
        """chat --stream --json prints each chunk as one JSON line."""
        code = main(["chat", "Say hi", "--stream", "--json", "--max-tokens", "4"])
        chunks = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert (code, {c["object"] for c in chunks}) == (0, {"chat.completion.chunk"})

    def test_json_prints_response(self, capsys: pytest.CaptureFixture[str]) -> None:
        """chat --json --json-mode prints the whole response whose content is a JSON object."""
        code = main(["chat", "Reply in json", "--json", "--json-mode", "--model", "openai/gpt-oss-20b"])
        response = json.loads(capsys.readouterr().out)
        assert (code, isinstance(json.loads(response["choices"][0]["message"]["content"]), dict)) == (0, True)

    def test_unknown_model_exits_1(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown model gets the API's 404 as a one-line error and exit 1."""
        code = main(["chat", "hi", "--model", "no-such-model", "--max-retries", "0"])
        err = capsys.readouterr().err
        assert (code, "404" in err, "Traceback" in err) == (1, True, False)

    def test_invalid_parameter_exits_2(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A locally invalid request exits 2 naming the field."""
        code = main(["chat", "hi", "--temperature", "9"])
        assert (code, "temperature" in capsys.readouterr().err) == (2, True)

    def test_prompt_from_stdin(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        """A prompt of '-' is read from standard input."""
        monkeypatch.setattr("sys.stdin", io.StringIO("Hello from stdin"))
        assert main(["chat", "-", "--max-tokens", "4"]) == 0


class TestModels:
    def test_list(self, capsys: pytest.CaptureFixture[str]) -> None:
        """models list shows the catalog's ids."""
        code = main(["models", "list"])
        assert (code, "openai/gpt-oss-20b" in capsys.readouterr().out) == (0, True)

    def test_list_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        """models list --json prints the raw model list."""
        code = main(["models", "list", "--json"])
        assert (code, json.loads(capsys.readouterr().out)["object"]) == (0, "list")

    def test_show(self, capsys: pytest.CaptureFixture[str]) -> None:
        """models show prints one model's fields."""
        code = main(["models", "show", "openai/gpt-oss-20b"])
        assert (code, "context_window" in capsys.readouterr().out) == (0, True)

    def test_show_unknown(self, capsys: pytest.CaptureFixture[str]) -> None:
        """models show of an unknown id exits 1 with the 404."""
        assert (main(["models", "show", "nope"]), "404" in capsys.readouterr().err) == (1, True)


class TestAudio:
    def test_transcribe_text(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """transcribe prints the text of a WAV file."""
        code = main(["transcribe", str(wav(tmp_path / "a.wav"))])
        assert (code, bool(capsys.readouterr().out.strip())) == (0, True)

    @pytest.mark.parametrize(("fmt", "marker"), [("srt", "-->"), ("vtt", "WEBVTT"), ("verbose_json", '"segments"'),
                                                 ("json", '"text"')])
    def test_transcribe_formats(self, fmt: str, marker: str, tmp_path: Path) -> None:
        """Every response format is written to -o."""
        out = tmp_path / f"a.{fmt}"
        code = main(["transcribe", str(wav(tmp_path / "a.wav", 3.0)), "--response-format", fmt, "-o", str(out)])
        assert (code, marker in out.read_text()) == (0, True)

    def test_translate(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """translate prints English text."""
        assert main(["translate", str(wav(tmp_path / "a.wav"))]) == 0

    def test_translate_on_turbo_is_refused(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Translation on whisper-large-v3-turbo is refused before sending, naming the model."""
        code = main(["translate", str(wav(tmp_path / "a.wav")), "--model", "whisper-large-v3-turbo"])
        assert (code, "whisper-large-v3" in capsys.readouterr().err) == (2, True)

    def test_missing_file(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A missing audio file exits 2 naming it."""
        code = main(["transcribe", str(tmp_path / "missing.wav")])
        assert (code, "missing.wav" in capsys.readouterr().err) == (2, True)


class TestHealthAndLimits:
    def test_health(self, capsys: pytest.CaptureFixture[str]) -> None:
        """health reports the embedded emulator reachable."""
        code = main(["health"])
        assert (code, "reachable  yes" in capsys.readouterr().out) == (0, True)

    def test_rate_limits_after_probe(self, capsys: pytest.CaptureFixture[str]) -> None:
        """rate-limits probes the model and shows what the headers taught."""
        code = main(["rate-limits", "--model", MODEL])
        assert (code, MODEL in capsys.readouterr().out) == (0, True)

    def test_rate_limits_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        """rate-limits --json prints one snapshot per probed model."""
        code = main(["rate-limits", "--json", "--model", MODEL, "--model", "qwen/qwen3.6-27b"])
        assert (code, sorted(json.loads(capsys.readouterr().out))) == (0, sorted([MODEL, "qwen/qwen3.6-27b"]))


class TestArgumentErrors:
    @pytest.mark.parametrize(("argv", "message"), [
        (["batch", "i", "-o", "o", "--concurrency", "0"], "must be at least 1"),
        (["batch", "i", "-o", "o", "--concurrency", "many"], "is not an integer"),
        (["batch", "i", "-o", "o", "--grace", "-1"], "finite number of seconds"),
        (["batch", "i", "-o", "o", "--grace", "soon"], "not a number of seconds"),
        (["chat", "hi", "--max-retries", "-2"], "must be at least 0"),
        (["transcribe", "a.wav", "--response-format", "mp3"], "invalid choice"),
    ])
    def test_bad_values_are_usage_errors(self, argv: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
        """Out-of-range or malformed option values exit 2 with a message naming the problem."""
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert (info.value.code, message in capsys.readouterr().err) == (2, True)

    def test_output_must_differ_from_input(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Writing results over the input file is refused."""
        source = jobs_file(tmp_path / "jobs.jsonl", ["a"])
        assert (main(["batch", str(source), "-o", str(source)]), "differ" in capsys.readouterr().err) == (2, True)


class TestSpeak:
    @staticmethod
    def seconds(path: Path) -> tuple[int, float]:
        import wave

        with wave.open(str(path)) as audio:
            return audio.getframerate(), audio.getnframes() / audio.getframerate()

    def test_speaks_on_the_embedded_emulator(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """With no key, speak runs on the emulator, says so, and writes a WAV as long as the text."""
        out = tmp_path / "hello.wav"
        code = main(["speak", "Hello from the command line", "-o", str(out)])
        captured = capsys.readouterr()
        assert (code, "emulator" in captured.err, "voice troy" in captured.out) == (0, True, True)
        # Hello(5) from(4) the(3) command(7) line(4): 23 letters + 5 spaces, at 14 characters a second.
        assert self.seconds(out) == (24_000, pytest.approx(28 / 14, abs=0.001))

    def test_voice_speed_rate_and_model(self, tmp_path: Path) -> None:
        """--model, --voice, --speed and --sample-rate reach the request."""
        out = tmp_path / "ar.wav"
        code = main(["speak", "مرحبا بكم", "-o", str(out), "--model", "canopylabs/orpheus-arabic-saudi",
                     "--voice", "lulwa", "--speed", "2", "--sample-rate", "16000"])
        # مرحبا (5 letters) بكم (3): 8 letters + 2 spaces, at 14 characters a second, twice as fast.
        assert (code, self.seconds(out)) == (0, (16_000, pytest.approx(10 / 14 / 2, abs=0.001)))

    def test_reads_stdin(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """TEXT '-' reads the text from stdin."""
        monkeypatch.setattr("sys.stdin", io.StringIO("From stdin\n"))
        out = tmp_path / "stdin.wav"
        assert (main(["speak", "-", "-o", str(out)]), self.seconds(out)[1]) == (0, pytest.approx(11 / 14, abs=0.001))

    @pytest.mark.parametrize(("extra", "message"), [
        (["--format", "mp3"], "response_format"),
        (["--voice", "tara"], "voice"),
        (["--model", MODEL], "not a text-to-speech model"),
        (["--sample-rate", "12345"], "sample_rate"),
        (["--speed", "0"], "speed"),
    ])
    def test_bad_requests_exit_2_and_write_nothing(self, extra: list[str], message: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
        """A request refused before sending exits 2 naming the field, and no file is written."""
        out = tmp_path / "x.wav"
        code = main(["speak", "Hello", "-o", str(out), *extra])
        assert (code, message in capsys.readouterr().err, out.exists()) == (2, True, False)

    def test_too_long_text_exits_2(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """Over 200 characters is refused, saying how many the model takes."""
        code = main(["speak", "a" * 201, "-o", str(tmp_path / "x.wav")])
        assert (code, "at most 200" in capsys.readouterr().err) == (2, True)

    def test_output_is_required(self, capsys: pytest.CaptureFixture[str]) -> None:
        """speak without -o is a usage error."""
        with pytest.raises(SystemExit) as info:
            main(["speak", "Hello"])
        assert (info.value.code, "--output" in capsys.readouterr().err) == (2, True)

    def test_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        """speak answers --help."""
        with pytest.raises(SystemExit) as info:
            main(["speak", "--help"])
        assert (info.value.code, "--voice" in capsys.readouterr().out) == (0, True)
