"""Security: TLS 1.2+, certificates always checked, https only, and the API key never shown on any error path."""

from __future__ import annotations

import io
import json
import logging
import socket
import ssl
import traceback
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import structlog
import trio
import trustme
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve

import orchestrator
from orchestrator import _cli
from orchestrator._client import _ssl_context
from orchestrator.observe._logging import TRACE, configure_logging, get_logger
from orchestrator.emulator import EmulatorSettings, open_emulator_server

from .helpers import user

KEY = "gsk_live_SECRET_scan_9f8e7d6c5b4a3210"
MODEL = "openai/gpt-oss-20b"


@pytest.fixture(autouse=True)
def fresh_structlog() -> Iterator[None]:
    """structlog configuration is process-wide: start and end unconfigured."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


# ------------------------------------------------------------------------------------- TLS


class Pki:
    """A throwaway CA and files for a server certificate issued by it."""

    def __init__(self, directory: Path, *hosts: str) -> None:
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert(*hosts)
        self.ca_file = directory / "ca.pem"
        self.chain_file = directory / f"{hosts[0]}-chain.pem"
        self.key_file = directory / f"{hosts[0]}-key.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.cert.private_key_pem.write_to_path(str(self.key_file))
        for blob in self.cert.cert_chain_pems:
            blob.write_to_path(str(self.chain_file), append=True)

    def server(self) -> Any:
        """An emulator served over https with this certificate."""
        return open_emulator_server(
            EmulatorSettings(latency="instant"), certfile=str(self.chain_file), keyfile=str(self.key_file)
        )


class TestTlsContext:
    def test_the_client_context_requires_tls_1_2_and_checks_certificates_and_host_names(self) -> None:
        """The SSL context refuses TLS below 1.2 and verifies both the chain and the host name."""
        context = _ssl_context(True)
        assert (context.minimum_version, context.verify_mode, context.check_hostname) == (
            ssl.TLSVersion.TLSv1_2, ssl.CERT_REQUIRED, True,
        )

    @pytest.mark.parametrize("verify", [False, None, 0, b"/etc/ssl/cert.pem"])
    async def test_turning_verification_off_is_refused(self, verify: Any) -> None:
        """verify=False (or any non-path) is a ConfigError naming verify, never a silent downgrade."""
        with pytest.raises(orchestrator.ConfigError, match="cannot be turned off") as caught:
            async with orchestrator.open_client(api_key=KEY, base_url="https://api.groq.com/openai/v1", verify=verify):
                pass
        assert caught.value.field == "verify"

    @pytest.mark.parametrize("verify", [False, "missing.pem"])
    async def test_a_transport_of_ones_own_does_not_spare_the_check(self, verify: Any) -> None:
        """With a transport given, no TLS context is built for verify=True, but a bad verify is refused as ever."""
        emulator = orchestrator.emulator.Emulator(EmulatorSettings(latency="instant"))
        with pytest.raises(orchestrator.ConfigError) as caught:
            async with orchestrator.open_client(api_key=KEY, base_url="https://api.groq.com/openai/v1", verify=verify,
                                                transport=emulator.transport()):
                pass
        assert caught.value.field == "verify"

    async def test_a_ca_bundle_that_is_missing_or_not_pem_is_refused(self, tmp_path: Path) -> None:
        """A CA path must exist and hold PEM certificates; the error names the path."""
        (tmp_path / "empty.pem").write_text("not a certificate\n")
        for path, fragment in ((tmp_path / "missing.pem", "not an existing"), (tmp_path / "empty.pem", "PEM"),
                               (tmp_path, "is a directory")):
            with pytest.raises(orchestrator.ConfigError, match=fragment) as caught:
                async with orchestrator.open_client(api_key=KEY, base_url="https://api.groq.com/openai/v1", verify=path):
                    pass
            assert caught.value.field == "verify" and str(path) in str(caught.value)

    async def test_a_custom_ca_bundle_path_is_trusted(self, tmp_path: Path) -> None:
        """Given as str or Path, a CA bundle lets the client reach a server whose certificate it signed."""
        pki = Pki(tmp_path, "127.0.0.1")
        with trio.fail_after(30):
            async with pki.server() as server:
                for verify in (str(pki.ca_file), pki.ca_file):
                    async with orchestrator.open_client(api_key=KEY, base_url=server.base_url, verify=verify) as groq:
                        reply = await groq.chat.completions.create(model=MODEL, messages=user("over TLS"))
                    assert reply.choices[0].message.content

    async def test_a_certificate_for_another_host_is_rejected(self, tmp_path: Path) -> None:
        """A trusted CA's certificate for example.org, served on 127.0.0.1, fails host name verification."""
        pki = Pki(tmp_path, "example.org")
        with trio.fail_after(30):
            async with pki.server() as server:
                async with orchestrator.open_client(
                    api_key=KEY, base_url=server.base_url, verify=pki.ca_file, max_retries=0
                ) as groq:
                    with pytest.raises(orchestrator.NetworkError) as caught:
                        await groq.chat.completions.create(model=MODEL, messages=user("hi"))
                stats = server.emulator.stats()
        message = str(caught.value)
        assert "CERTIFICATE_VERIFY_FAILED" in message and "mismatch" in message and stats.requests == 0

    async def test_a_server_that_only_speaks_tls_1_1_is_refused(self, tmp_path: Path) -> None:
        """A TLS 1.1-only server completes a handshake with a permissive client, but never with ours."""
        pki = Pki(tmp_path, "127.0.0.1")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # naming TLS 1.0/1.1 is deprecated, on purpose
            server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_context.set_ciphers("DEFAULT:@SECLEVEL=0")
            server_context.minimum_version = ssl.TLSVersion.TLSv1
            server_context.maximum_version = ssl.TLSVersion.TLSv1_1
            old_client = ssl.create_default_context(cafile=str(pki.ca_file))
            old_client.set_ciphers("DEFAULT:@SECLEVEL=0")
            old_client.minimum_version = ssl.TLSVersion.TLSv1
        pki.cert.configure_cert(server_context)

        async def handshake_only(stream: trio.SocketStream) -> None:
            tls = trio.SSLStream(stream, server_context, server_side=True)
            try:
                await tls.do_handshake()
                await tls.aclose()
            except trio.BrokenResourceError:
                pass

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                [listener] = await nursery.start(partial(trio.serve_tcp, handshake_only, 0, host="127.0.0.1"))
                port = listener.socket.getsockname()[1]
                control = await trio.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=old_client)
                await control.do_handshake()
                negotiated = control.version()
                await control.aclose()
                async with orchestrator.open_client(
                    api_key=KEY, base_url=f"https://127.0.0.1:{port}/openai/v1", verify=pki.ca_file, max_retries=0
                ) as groq:
                    with pytest.raises(orchestrator.NetworkError) as caught:
                        await groq.chat.completions.create(model=MODEL, messages=user("hi"))
                nursery.cancel_scope.cancel()
        assert negotiated == "TLSv1.1"
        assert "PROTOCOL" in str(caught.value).upper()


class TestPlainHttp:
    @pytest.mark.parametrize(
        "url",
        ["http://127.0.0.1:8000/openai/v1", "http://localhost:1/v1", "http://[::1]:8000/v1", "http://127.9.9.9/v1",
         "https://api.groq.com/openai/v1", "https://example.org/v1"],
    )
    def test_https_anywhere_and_http_to_loopback_are_accepted(self, url: str) -> None:
        """https is always fine; plain http only to localhost, 127.0.0.0/8 or ::1."""
        assert orchestrator.Config(api_key=KEY, base_url=url).base_url == url

    @pytest.mark.parametrize(
        "url",
        ["http://api.groq.com/openai/v1", "http://localhost.example.org/v1", "http://127.0.0.1.nip.io/v1",
         "http://10.0.0.1/v1", "ftp://127.0.0.1/v1", "ws://127.0.0.1/v1"],
    )
    async def test_anything_else_is_refused_before_connecting(self, url: str) -> None:
        """Plain http to any other host, or another scheme, is a ConfigError naming base_url."""
        with pytest.raises(orchestrator.ConfigError) as caught:
            async with orchestrator.open_client(api_key=KEY, base_url=url):
                pass
        assert caught.value.field == "base_url" and "https" in str(caught.value)


# ------------------------------------------------------------- the key on every error path


def _error(status: int, message: str, type_: str, code: str, **extra: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"error": {"message": message, "type": type_, "code": code, **extra}}).encode()
    return status, {"content-type": "application/json", "x-request-id": f"req_{status}"}, body


_CHUNK = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
          "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}}], "x_groq": {"id": "req_s"}}
_BROKEN_STREAM = (
    b"data: " + json.dumps(_CHUNK).encode() + b"\n\n"
    b'data: {"error": {"message": "Internal error mid-stream", "type": "server_error", "code": "internal_error"}}\n\n'
)

#: The scripted server's answer to a chat whose first message is the key of this table.
SCRIPT: dict[str, tuple[int, dict[str, str], bytes]] = {
    "401": _error(401, "Invalid API Key", "invalid_request_error", "invalid_api_key"),
    "403": _error(403, "Access to this model is restricted for your organization", "permission_error", "forbidden"),
    "404": _error(404, f"The model `{MODEL}` does not exist or you do not have access to it.", "invalid_request_error",
                  "model_not_found"),
    "400": _error(400, "Please reduce the length of the messages or completion.", "invalid_request_error",
                  "context_length_exceeded", param="messages"),
    "413": _error(413, "Request too large on tokens per minute (TPM): Limit 6000, Requested 9000", "tokens",
                  "rate_limit_exceeded"),
    "429": (lambda s, h, b: (s, {**h, "retry-after": "0.01"}, b))(
        *_error(429, "Rate limit reached for model in organization. Please try again in 10ms.", "requests",
                "rate_limit_exceeded")),
    "500": _error(500, "Internal Server Error", "internal_server_error", "internal_server_error"),
    "502": _error(502, "Bad Gateway", "internal_server_error", "bad_gateway"),
    "503": _error(503, "Service Unavailable", "internal_server_error", "service_unavailable"),
    "stream": (200, {"content-type": "text/event-stream", "x-request-id": "req_s"}, _BROKEN_STREAM),
}

#: Every path, the error it must end in, and text its message must show (proof the path was taken).
PATHS: dict[str, tuple[type[orchestrator.GroqError], str]] = {
    "401": (orchestrator.AuthenticationError, "HTTP 401"),
    "403": (orchestrator.AuthorizationError, "HTTP 403"),
    "404": (orchestrator.ModelError, "HTTP 404"),
    "400": (orchestrator.ContextLengthError, "HTTP 400"),
    "413": (orchestrator.RequestTooLargeError, "HTTP 413"),
    "429": (orchestrator.RateLimitError, "HTTP 429"),
    "500": (orchestrator.ServerError, "HTTP 500"),
    "502": (orchestrator.ServerError, "HTTP 502"),
    "503": (orchestrator.ServerError, "HTTP 503"),
    "stream": (orchestrator.StreamError, "mid-stream"),
    "timeout": (orchestrator.TimeoutError, "timeout"),
    "network": (orchestrator.NetworkError, "connection failed"),
    "validation": (orchestrator.ValidationError, "temperature"),
    "config": (orchestrator.ConfigError, "base_url"),
}


async def scripted_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An ASGI server answering each chat with the SCRIPT entry its first message names."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = json.loads(body)["messages"][0]["content"]
    if path == "timeout":
        await trio.sleep_forever()
    status, headers, content = SCRIPT[path]
    raw_headers = [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": content})


@asynccontextmanager
async def scripted_server() -> AsyncIterator[str]:
    """SCRIPT served over loopback; yields the base URL."""
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 0.2
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(partial(hypercorn_serve, scripted_app, config, shutdown_trigger=stop.wait, mode="asgi"))
        try:
            yield binds[0] + "/openai/v1"
        finally:
            stop.set()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/openai/v1"


async def force(path: str, base_url: str) -> orchestrator.GroqError:
    """Drive one error path through the library and return the error it raised."""
    retry = orchestrator.RetryConfig(max_retries=1, initial_delay=0.01, max_delay=0.02)
    if path == "network":
        base_url = closed_port_url()
    try:
        async with orchestrator.open_client(
            api_key=KEY, base_url="http://example.org/v1" if path == "config" else base_url, retry_config=retry
        ) as groq:
            if path == "validation":
                await groq.chat.completions.create(model=MODEL, messages=user("hi"), temperature=5)
            elif path == "timeout":
                await groq.chat.completions.create(model=MODEL, messages=user(path), timeout=0.3, max_retries=0)
            elif path == "stream":
                async with await groq.chat.completions.create(model=MODEL, messages=user(path), stream=True) as stream:
                    async for _chunk in stream:
                        pass
            else:
                await groq.chat.completions.create(model=MODEL, messages=user(path))
    except orchestrator.GroqError as error:
        get_logger("orchestrator.test").exception("call_failed", error=error)
        return error
    raise AssertionError(f"path {path} raised nothing")


def shown_by(error: BaseException) -> str:
    """What an error shows a reader: its str and repr."""
    return f"{error}\n{error!r}"


def assert_hidden(text: str) -> None:
    assert KEY not in text and KEY[4:] not in text


class TestTheKeyNeverAppears:
    @pytest.mark.parametrize("path", list(PATHS))
    async def test_in_logs_and_error_messages_of_the_library(self, path: str, caplog: pytest.LogCaptureFixture) -> None:
        """Under stdlib logging, structlog capture and configure_logging at TRACE, no log or error text shows the key."""
        expected, fragment = PATHS[path]
        texts: list[str] = []
        with trio.fail_after(30):
            async with scripted_server() as base_url:
                with caplog.at_level(TRACE, logger="orchestrator"):
                    error = await force(path, base_url)
                texts += [record.getMessage() for record in caplog.records] + [shown_by(error)]
                with structlog.testing.capture_logs() as captured:
                    error = await force(path, base_url)
                texts += [repr(captured), shown_by(error)]
                out = io.StringIO()
                configure_logging("trace", "json", out)
                error = await force(path, base_url)
                texts += [out.getvalue(), shown_by(error)]
        assert isinstance(error, expected) and fragment in str(error)
        assert "call_failed" in out.getvalue() and captured and caplog.records
        for text in texts:
            assert_hidden(text)

    @pytest.mark.parametrize("path", list(PATHS))
    async def test_in_tracebacks_rendered_with_every_frames_locals(self, path: str) -> None:
        """TracebackException(..., capture_locals=True) of each path's error, its causes included, never shows the key."""
        with trio.fail_after(30):
            async with scripted_server() as base_url:
                error = await force(path, base_url)
        rendered = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
        assert isinstance(error, PATHS[path][0]) and "Traceback" in rendered
        assert_hidden(rendered)

    async def test_in_cli_output_on_every_path(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """groq-orch chat at --log-level trace (JSON and console logs) prints each failure without the key."""
        monkeypatch.setenv("GROQ_API_KEY", KEY)
        outcomes: list[tuple[str, int, str]] = []
        with trio.fail_after(60):
            async with scripted_server() as base_url:
                for index, path in enumerate(PATHS):
                    argv = ["--log-level", "trace", "--log-format", "json" if index % 2 else "console", "chat", path,
                            "--base-url", {"network": closed_port_url(), "config": "http://example.org/v1"}.get(
                                path, base_url),
                            "--max-retries", "0", "--timeout", "0.3"]
                    if path == "stream":
                        argv.append("--stream")
                    if path == "validation":
                        argv += ["--temperature", "5"]
                    status = await trio.to_thread.run_sync(_cli.main, argv)
                    captured = capsys.readouterr()
                    outcomes.append((path, status, captured.out + captured.err))
        for path, status, text in outcomes:
            assert status in (1, 2) and PATHS[path][1] in text, (path, status, text[-300:])
            assert_hidden(text)
