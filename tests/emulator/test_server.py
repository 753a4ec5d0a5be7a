"""The real server: loopback URL, https with trustme certificates, the CLI flags and the process entry point."""

from __future__ import annotations

import argparse
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import groq
import httpx
import pytest
import trio
import trustme

from orchestrator.emulator import EmulatorSettings, open_emulator_server
from orchestrator.emulator._cli import add_arguments, run, settings_from
from orchestrator.emulator._faults import FaultRule
from tests.emulator.conftest import KEY, MODEL, chat

ROOT = Path(__file__).resolve().parents[2]


async def test_base_url_is_loopback_with_a_free_port() -> None:
    """The server binds 127.0.0.1 on a free port and its base URL ends in /openai/v1."""
    async with open_emulator_server() as server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/openai/v1" and server.port > 0
        async with httpx.AsyncClient() as client:
            response = await client.get(server.base_url + "/models", headers={"authorization": f"Bearer {KEY}"})
    assert response.status_code == 200


async def test_shutdown_with_a_stream_open() -> None:
    """Leaving the server's block while a slow stream is open shuts down cleanly."""
    settings = EmulatorSettings(latency="realistic", tokens_per_second=10.0, completion_tokens=(1_000, 1_000))
    with trio.fail_after(10):
        async with open_emulator_server(settings) as server:
            client = httpx.AsyncClient(base_url=server.base_url, headers={"authorization": f"Bearer {KEY}"})
            request = client.build_request("POST", "/chat/completions", json=chat(stream=True))
            response = await client.send(request, stream=True)
            assert response.status_code == 200
        await response.aclose()
        await client.aclose()


class TestTLS:
    @pytest.fixture
    def pki(self, tmp_path: Path) -> tuple[trustme.CA, Path, Path]:
        """A trustme CA and a certificate for 127.0.0.1 written to PEM files."""
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
        cert.cert_chain_pems[0].write_to_path(str(certfile))
        for pem in cert.cert_chain_pems[1:]:
            pem.write_to_path(str(certfile), append=True)
        cert.private_key_pem.write_to_path(str(keyfile))
        return ca, certfile, keyfile

    async def test_https_with_trusted_ca(self, pki: tuple[trustme.CA, Path, Path]) -> None:
        """A client trusting the CA talks https to the emulator, the official SDK included."""
        ca, certfile, keyfile = pki
        context = ssl.create_default_context()
        ca.configure_trust(context)
        async with open_emulator_server(certfile=str(certfile), keyfile=str(keyfile)) as server:
            assert server.base_url.startswith("https://127.0.0.1:")
            sdk = groq.AsyncGroq(
                api_key=KEY,
                base_url=server.base_url.removesuffix("/openai/v1"),
                max_retries=0,
                http_client=httpx.AsyncClient(verify=context),
            )
            async with sdk:
                completion = await sdk.chat.completions.create(**chat())
        assert completion.choices[0].message.content

    async def test_untrusted_ca_fails(self, pki: tuple[trustme.CA, Path, Path]) -> None:
        """A client that trusts another CA refuses the emulator's certificate."""
        _, certfile, keyfile = pki
        context = ssl.create_default_context()
        trustme.CA().configure_trust(context)
        async with open_emulator_server(certfile=str(certfile), keyfile=str(keyfile)) as server:
            async with httpx.AsyncClient(verify=context) as client:
                with pytest.raises(httpx.ConnectError) as failure:
                    await client.get(server.base_url + "/models")
        causes = []
        error: BaseException | None = failure.value
        while error is not None:
            causes.append(error)
            error = error.__cause__ or error.__context__
        assert any(isinstance(cause, ssl.SSLCertVerificationError) for cause in causes)

    async def test_cert_without_key_is_refused(self, pki: tuple[trustme.CA, Path, Path]) -> None:
        """Half a TLS configuration is an error, not a plain-http server."""
        _, certfile, _ = pki
        with pytest.raises(ValueError, match="both a certificate file and a key file"):
            async with open_emulator_server(certfile=str(certfile)):
                pass


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="groq-orch emulate")
    add_arguments(parser)
    return parser.parse_args(argv)


class TestCLI:
    def test_flags_become_settings(self) -> None:
        """Every flag lands in EmulatorSettings."""
        args = parse(
            ["--latency", "instant", "--time-scale", "60", "--seed", "7", "--limits", f"{MODEL}=30/14400/6000/500000",
             "--faults", "503:p=0.1", "--faults", "drop-mid-stream:every=10", "--api-key", "gsk_a", "--api-key", "gsk_b",
             "--tokens-per-second", "900", "--completion-tokens", "5,9", "--tokens-per-chunk", "3"]
        )
        settings = settings_from(args)
        assert (settings.latency, settings.time_scale, settings.seed) == ("instant", 60.0, 7)
        assert dict(settings.limits) == {MODEL: (30, 14_400, 6_000, 500_000)}
        assert settings.faults == (FaultRule(kind="503", probability=0.1), FaultRule(kind="drop-mid-stream", every=10))
        assert settings.api_keys == frozenset({"gsk_a", "gsk_b"}) and settings.latency_model().tokens_per_second == 900.0
        assert (settings.completion_tokens, settings.tokens_per_chunk) == ((5, 9), 3)

    def test_batch_flags_become_settings(self, tmp_path: Path) -> None:
        """The Batch API's flags land in EmulatorSettings."""
        args = parse(
            ["--files-dir", str(tmp_path), "--batch-validation-seconds", "0", "--batch-lines-per-second", "50",
             "--batch-finalizing-seconds", "0.5", "--batch-expire-fraction", "0.5", "--upload-resets", "2"]
        )
        settings = settings_from(args)
        assert (settings.files_dir, settings.upload_resets) == (str(tmp_path), 2)
        assert (settings.batch_validation_seconds, settings.batch_lines_per_second, settings.batch_finalizing_seconds) == (
            0.0, 50.0, 0.5
        )
        assert settings.batch_expire_fraction == 0.5
        defaults = settings_from(parse([]))
        assert (defaults.files_dir, defaults.batch_expire_fraction, defaults.upload_resets) == (None, None, 0)

    def test_defaults(self) -> None:
        """Defaults: loopback, port 8000, realistic latency, real time, any gsk_ key."""
        args = parse([])
        assert (args.host, args.port, args.latency, args.time_scale, settings_from(args).api_keys) == (
            "127.0.0.1", 8000, "realistic", 1.0, None
        )

    @pytest.mark.parametrize(
        ("argv", "message"),
        [
            (["--limits", "llama=30/14400"], "must look like MODEL=RPM/RPD/TPM/TPD"),
            (["--faults", "teapot:p=1"], "unknown kind 'teapot'"),
            (["--time-scale", "0"], "'0' must be a number > 0"),
            (["--port", "70000"], "must be a port number"),
            (["--latency", "sluggish"], "invalid choice: 'sluggish'"),
            (["--completion-tokens", "9,5"], "must be MIN,MAX"),
            (["--tokens-per-chunk", "0"], "must be an integer >= 1"),
            (["--tls-cert", "/nonexistent.pem"], "is not a readable file"),
            (["--batch-expire-fraction", "1"], "'1' must be a fraction with 0 <= f < 1"),
            (["--batch-lines-per-second", "0"], "'0' must be a number > 0"),
            (["--batch-validation-seconds", "-2"], "'-2' must be a number of seconds >= 0"),
            (["--upload-resets", "-1"], "'-1' must be an integer >= 0"),
        ],
    )
    def test_bad_values_are_explained(self, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A bad flag value exits with status 2 and a message naming the flag and the expected form."""
        with pytest.raises(SystemExit) as exit_info:
            parse(argv)
        assert exit_info.value.code == 2 and message in capsys.readouterr().err

    def test_tls_needs_both_files(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """--tls-cert without --tls-key is refused with status 2."""
        cert = tmp_path / "c.pem"
        cert.write_text("x")
        assert run(parse(["--tls-cert", str(cert)])) == 2
        assert "--tls-cert and --tls-key must be given together" in capsys.readouterr().err


def test_process_serves_until_sigterm() -> None:
    """`python -m orchestrator.emulator` serves on a free port, answers, and exits 0 on SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.emulator", "--port", "0", "--latency", "instant"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        assert line.startswith("Groq emulator listening on http://127.0.0.1:")
        base_url = line.rsplit(" ", 1)[1].strip()
        response = httpx.post(base_url + "/chat/completions", json=chat(), headers={"authorization": f"Bearer {KEY}"})
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
