"""Issue 18 end to end: noise does not stall a batch, an outage ends every job in bounded time, and an
untrusted certificate fails at once. The in-process emulator on a virtual clock, except for TLS (a socket)."""

from __future__ import annotations

import functools
import random
import ssl
import warnings
from pathlib import Path
from typing import Any

import httpx
import trio
import trustme

import orchestrator
from actors._observer import NullObserver
from orchestrator.emulator import EmulatorSettings, open_emulator_server

from .helpers import EMULATOR_URL, KEY, client_for, make_emulator, user

MODEL = "openai/gpt-oss-20b"
HUGE = (10**7, 10**9, 10**11, 10**12)
LIFTED = {MODEL: orchestrator.ModelLimits(rpm=HUGE[0], rpd=HUGE[1], tpm=HUGE[2], tpd=HUGE[3])}

#: The stated bound for a server that fails everything: the breaker's max_wait (60 s) after it opened, plus
#: the retry backoffs of attempts already under way (full jitter below 1 + 2 + 4 s), plus slack.
OUTAGE_BOUND = 60.0 + 7.0 + 3.0


class Openings(NullObserver):
    """Counts how often the breaker opened."""

    def __init__(self) -> None:
        self.opened = 0

    def breaker_changed(self, base_url: str, old: str, new: str) -> None:
        if new == "open":
            self.opened += 1


def requests(count: int) -> list[tuple[int, dict[str, Any]]]:
    return [(index, {"model": MODEL, "messages": user(f"job {index}"), "max_completion_tokens": 200}) for index in range(count)]


async def run_all(groq: orchestrator.Client, count: int) -> tuple[list[orchestrator.JobResult], float]:
    """Map ``count`` jobs; their results and the emulated seconds the batch took."""
    start = trio.current_time()
    results = []
    async with groq.map(requests(count)) as stream:
        async for result in stream:
            results.append(result)
    return results, trio.current_time() - start


class Dead(httpx.AsyncBaseTransport):
    """A server gone for good: every connection is refused."""

    def __init__(self) -> None:
        self.attempts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        await trio.lowlevel.checkpoint()
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)


class Hang(httpx.AsyncBaseTransport):
    """A server that accepts requests and never answers."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError("unreachable")


class TestNoise:
    async def test_ten_percent_of_500s_do_not_stall_a_batch(self, autojump_clock: trio.abc.Clock) -> None:
        """500 jobs at realistic latency with 10 % 500s: the breaker never opens, all succeed, close to the
        fault-free time (2.4 s); the consecutive-failure breaker opened within the first second and held
        the batch for 30 s at a time."""
        emulator = make_emulator(latency="realistic", faults=["500:p=0.1"], limits={MODEL: HUGE})
        openings = Openings()
        async with client_for(emulator, limits=LIFTED, observer=openings, rng=random.Random(0)) as groq:
            results, seconds = await run_all(groq, 500)
        assert len(results) == 500 and sum(result.ok for result in results) >= 495
        assert openings.opened == 0
        assert seconds < 10.0
        assert emulator.stats().faults_injected.get("500", 0) > 30  # the noise was there

    async def test_a_burst_of_fast_errors_at_the_start_is_not_an_outage(self, autojump_clock: trio.abc.Clock) -> None:
        """30 % of 500s: the errors of the first requests arrive long before their successes, yet the breaker,
        judging in the order requests were sent, does not open; every job ends."""
        emulator = make_emulator(latency="realistic", faults=["500:p=0.3"], limits={MODEL: HUGE})
        openings = Openings()
        async with client_for(emulator, limits=LIFTED, observer=openings, rng=random.Random(0)) as groq:
            results, seconds = await run_all(groq, 500)
        assert len(results) == 500 and openings.opened == 0 and seconds < 15.0
        assert sum(result.ok for result in results) >= 400  # the retry budget makes a few failures final


class TestOutage:
    async def test_with_the_server_always_failing_every_job_ends_within_the_bound(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """Every request a 500: every one of 300 jobs ends, failed, within max_wait + backoffs of the start."""
        emulator = make_emulator(faults=["500"], limits={MODEL: HUGE})
        async with client_for(emulator, limits=LIFTED, rng=random.Random(0)) as groq:
            results, seconds = await run_all(groq, 300)
            assert groq.statistics().breaker != "closed"
        assert len(results) == 300 and not any(result.ok for result in results)
        assert seconds <= OUTAGE_BOUND
        kinds = {type(result.error) for result in results}
        assert kinds <= {orchestrator.ServerError, orchestrator.CircuitOpenError}
        # The breaker and the retry budget keep the load near one attempt per job, not four.
        assert emulator.stats().requests < 300 * 1.5

    async def test_with_the_server_gone_for_good_every_job_ends_within_the_bound(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """Connections refused from the first request: 1,000 jobs (more than the queue holds) all fail in bounded time,
        the held ones with a CircuitOpenError that says what to check."""
        dead = Dead()
        async with orchestrator.open_client(
            api_key=KEY, base_url=EMULATOR_URL, transport=dead, limits=LIFTED, rng=random.Random(0)
        ) as groq:
            results, seconds = await run_all(groq, 1000)
        assert len(results) == 1000 and not any(result.ok for result in results)
        assert seconds <= OUTAGE_BOUND
        held = [result.error for result in results if isinstance(result.error, orchestrator.CircuitOpenError)]
        assert len(held) > 900 and dead.attempts < 200
        text = str(held[-1])
        assert "NetworkError" in text and "max_wait" in text and "Config.base_url" in text

    async def test_with_the_server_hanging_every_job_ends_within_two_timeouts_and_max_wait(
        self, autojump_clock: trio.abc.Clock
    ) -> None:
        """No answer ever (60 s timeouts): the breaker opens when the first requests time out, held jobs fail
        max_wait later, and the probes' own timeout (plus a retry backoff) ends the rest: 300 jobs in
        60 + 30 + 60 s and a few."""
        async with orchestrator.open_client(
            api_key=KEY, base_url=EMULATOR_URL, transport=Hang(), limits=LIFTED, rng=random.Random(0)
        ) as groq:
            results, seconds = await run_all(groq, 300)
        assert len(results) == 300 and not any(result.ok for result in results)
        assert seconds <= 60.0 + 30.0 + 60.0 + 7.0

    async def test_a_timeout_every_request_hits_ends_every_job(self, autojump_clock: trio.abc.Clock) -> None:
        """timeout=0.0001 against realistic latency: all 20 jobs fail in bounded time (the old breaker cycled
        forever: 0 of 20 in 69 s), and the breaker's error names the timeout as the last failure."""
        emulator = make_emulator(latency="realistic", limits={MODEL: HUGE})
        async with client_for(emulator, limits=LIFTED, timeout=0.0001, rng=random.Random(0)) as groq:
            results, seconds = await run_all(groq, 20)
        assert len(results) == 20 and not any(result.ok for result in results)
        assert seconds <= OUTAGE_BOUND
        errors = [result.error for result in results]
        assert {type(error) for error in errors} <= {orchestrator.TimeoutError, orchestrator.CircuitOpenError}
        opened = [error for error in errors if isinstance(error, orchestrator.CircuitOpenError)]
        assert all("TimeoutError" in str(error) for error in opened)

    async def test_a_server_that_comes_back_is_found(self, autojump_clock: trio.abc.Clock) -> None:
        """A 20 s outage (every request a 503) opens the breaker; held jobs wait (less than max_wait), the
        probes at 30 s find the server back, and every held job succeeds."""
        emulator = make_emulator(faults=["503:to=20s"], limits={MODEL: HUGE})
        openings = Openings()
        async with client_for(
            emulator, limits=LIFTED, rng=random.Random(0), max_retries=0, observer=openings
        ) as groq:
            results, seconds = await run_all(groq, 300)
            assert groq.statistics().breaker == "closed"
        failed = [result for result in results if not result.ok]
        assert openings.opened == 1 and 20 <= len(failed) <= 100
        assert all(isinstance(result.error, orchestrator.ServerError) for result in failed)
        assert 30.0 <= seconds < 31.0


# ------------------------------------------------------------------------------------- TLS


def _pki(directory: Path) -> tuple[Path, Path, Path]:
    """(CA file, chain file, key file) of a throwaway CA and a certificate for 127.0.0.1 it issued."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca_file, chain, key = directory / "ca.pem", directory / "chain.pem", directory / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    cert.private_key_pem.write_to_path(str(key))
    for blob in cert.cert_chain_pems:
        blob.write_to_path(str(chain), append=True)
    return ca_file, chain, key


class TestUntrustedCertificate:
    async def test_an_untrusted_certificate_fails_at_once_with_advice(self, tmp_path: Path) -> None:
        """A server whose CA this machine does not trust: each job fails on its first attempt (no retries),
        the error says the certificate was not trusted and how to trust it, and the breaker stays closed."""
        _, chain, key = _pki(tmp_path)
        settings = EmulatorSettings(latency="instant")
        with trio.fail_after(30):
            async with open_emulator_server(settings, certfile=str(chain), keyfile=str(key)) as server:
                async with orchestrator.open_client(api_key=KEY, base_url=server.base_url, max_retries=3) as groq:
                    started = trio.current_time()
                    results, _ = await run_all(groq, 30)
                    elapsed = trio.current_time() - started
                    breaker = groq.statistics().breaker
                served = server.emulator.stats().requests
        assert len(results) == 30 and elapsed < 5.0  # no backoff was waited (1 s, 2 s, 4 s)
        assert all(result.attempts == 1 for result in results)
        error = results[0].error
        assert isinstance(error, orchestrator.NetworkError) and error.permanent and not error.retryable
        text = str(error)
        assert "certificate was not trusted" in text and "CERTIFICATE_VERIFY_FAILED" in text
        assert "SSL_CERT_FILE" in text and "verify=" in text
        assert breaker == "closed" and served == 0

    async def test_trusting_the_ca_makes_it_work(self, tmp_path: Path) -> None:
        """The advice works: the same server, with verify= pointing at its CA, answers."""
        ca_file, chain, key = _pki(tmp_path)
        with trio.fail_after(30):
            async with open_emulator_server(EmulatorSettings(), certfile=str(chain), keyfile=str(key)) as server:
                async with orchestrator.open_client(api_key=KEY, base_url=server.base_url, verify=ca_file) as groq:
                    results, _ = await run_all(groq, 3)
        assert all(result.ok for result in results)

    async def test_no_common_tls_version_is_permanent_too(self, tmp_path: Path) -> None:
        """A TLS 1.1-only server is refused once, not retried, and not blamed on the server."""
        ca_file, chain, key = _pki(tmp_path)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # naming TLS 1.0/1.1 is deprecated, on purpose
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.load_cert_chain(str(chain), str(key))

        async def handshake_only(stream: trio.SocketStream) -> None:
            """A server-side handshake over memory BIOs, so the refusal's alert reaches the client."""
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = context.wrap_bio(incoming, outgoing, server_side=True)
            try:
                while data := await stream.receive_some(65536):
                    incoming.write(data)
                    try:
                        tls.do_handshake()
                        break
                    except ssl.SSLWantReadError:
                        pass
                    finally:
                        if outgoing.pending:
                            await stream.send_all(outgoing.read())
            except ssl.SSLError:
                if outgoing.pending:
                    await stream.send_all(outgoing.read())
            await stream.aclose()

        with trio.fail_after(30):
            async with trio.open_nursery() as nursery:
                [listener] = await nursery.start(functools.partial(trio.serve_tcp, handshake_only, 0, host="127.0.0.1"))
                port = listener.socket.getsockname()[1]
                async with orchestrator.open_client(
                    api_key=KEY, base_url=f"https://127.0.0.1:{port}/openai/v1", verify=ca_file, max_retries=3
                ) as groq:
                    results, _ = await run_all(groq, 3)
                nursery.cancel_scope.cancel()
        assert all(result.attempts == 1 for result in results)
        error = results[0].error
        assert isinstance(error, orchestrator.NetworkError) and error.permanent
        assert "TLS version" in str(error) and "TLSV1_ALERT_PROTOCOL_VERSION" in str(error)
