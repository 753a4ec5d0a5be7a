"""The client over real sockets to the emulator on 127.0.0.1: keep-alive, TLS, cancellation."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trustme

import orchestrator
from orchestrator.emulator import EmulatorSettings, open_emulator_server

from .helpers import KEY, user

MODEL = "openai/gpt-oss-20b"


@pytest.fixture
def pki(tmp_path: Path) -> tuple[str, str, str]:
    """(CA bundle, certificate chain, key) files for 127.0.0.1 from a throwaway trustme CA."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file, chain_file, key_file = tmp_path / "ca.pem", tmp_path / "chain.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key_file))
    for blob in cert.cert_chain_pems:
        blob.write_to_path(str(chain_file), append=True)
    return str(ca_file), str(chain_file), str(key_file)


async def test_sequential_requests_reuse_one_connection() -> None:
    """Ten calls in a row travel over a single keep-alive connection."""
    with trio.fail_after(30):
        async with open_emulator_server(EmulatorSettings(latency="instant")) as server:
            async with orchestrator.open_client(api_key=KEY, base_url=server.base_url) as groq:
                for index in range(10):
                    await groq.chat.completions.create(model=MODEL, messages=user(f"call {index}"))
            stats = server.emulator.stats()
    assert stats.requests == 10
    assert stats.connections_opened == 1


async def test_https_with_a_trusted_certificate(pki: tuple[str, str, str]) -> None:
    """Against an https emulator whose CA the client trusts, calls succeed over TLS."""
    ca_file, chain_file, key_file = pki
    with trio.fail_after(30):
        async with open_emulator_server(
            EmulatorSettings(latency="instant"), certfile=chain_file, keyfile=key_file
        ) as server:
            assert server.base_url.startswith("https://127.0.0.1:")
            async with orchestrator.open_client(api_key=KEY, base_url=server.base_url, verify=ca_file) as groq:
                reply = await groq.chat.completions.create(model=MODEL, messages=user("over TLS"))
    assert reply.choices[0].message.content


async def test_https_with_an_untrusted_certificate_fails_as_network_error(pki: tuple[str, str, str]) -> None:
    """With the system trust store, the throwaway CA is refused: a NetworkError, after the retries."""
    _, chain_file, key_file = pki
    with trio.fail_after(30):
        async with open_emulator_server(
            EmulatorSettings(latency="instant"), certfile=chain_file, keyfile=key_file
        ) as server:
            async with orchestrator.open_client(api_key=KEY, base_url=server.base_url, max_retries=0) as groq:
                with pytest.raises(orchestrator.NetworkError) as caught:
                    await groq.chat.completions.create(model=MODEL, messages=user("hi"))
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


async def test_plain_http_to_a_remote_host_is_refused() -> None:
    """A non-loopback http:// base URL is a configuration error, before any connection."""
    with pytest.raises(orchestrator.ConfigError, match="https"):
        async with orchestrator.open_client(api_key=KEY, base_url="http://api.groq.com/openai/v1"):
            pass


async def test_cancelling_a_stream_closes_the_socket() -> None:
    """Closing a stream after a few chunks makes the server see a disconnect, promptly."""
    settings = EmulatorSettings(latency="realistic", tokens_per_second=200.0, tokens_per_chunk=1)
    with trio.fail_after(30):
        async with open_emulator_server(settings) as server:
            async with orchestrator.open_client(api_key=KEY, base_url=server.base_url) as groq:
                async with await groq.chat.completions.create(
                    model=MODEL, messages=user("a very long answer please"), max_completion_tokens=2000, stream=True
                ) as stream:
                    count = 0
                    async for _chunk in stream:
                        count += 1
                        if count == 3:
                            break
                with trio.fail_after(5):
                    while server.emulator.stats().streams_disconnected == 0:
                        await trio.sleep(0.01)
            stats = server.emulator.stats()
    assert stats.streams_started == 1 and stats.streams_completed == 0
