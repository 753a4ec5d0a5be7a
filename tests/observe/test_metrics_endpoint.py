"""``/metrics`` over loopback: the telemetry endpoint, a batch serving its metrics, and ``emulate --metrics-port``."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import trio
import trio.testing
from prometheus_client.parser import text_string_to_metric_families

import orchestrator
from orchestrator import Telemetry
from orchestrator.batch._local import run_batch_async
from orchestrator._cli import main
from orchestrator.emulator import EmulatorSettings

ROOT = Path(__file__).resolve().parents[2]
MODEL = "openai/gpt-oss-20b"
KEY = "gsk_test_key_0123456789"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def jobs_file(path: Path, count: int) -> Path:
    body = {"model": MODEL, "max_completion_tokens": 16, "messages": [{"role": "user", "content": "Name a colour."}]}
    path.write_text("".join(json.dumps({"custom_id": f"job-{i}", "body": body}) + "\n" for i in range(count)))
    return path


async def scrape(url: str) -> tuple[httpx.Response, Samples]:
    """GET the endpoint and parse it with prometheus_client's own parser."""
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    return response, samples


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(value for (sample, found), value in samples.items() if sample == name and wanted <= found)


def lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


class TestEndpoint:
    async def test_metrics_are_served_in_the_prometheus_text_format(self) -> None:
        """GET /metrics answers 200 with the text format, which parses back to the groq_ families."""
        telemetry = Telemetry()
        async with telemetry.serve(0) as server:
            assert server.url == f"http://127.0.0.1:{server.port}/metrics"
            response, samples = await scrape(server.url)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        families = {family.name for family in text_string_to_metric_families(response.text)}
        assert {"groq_requests", "groq_request_duration_seconds", "groq_tokens", "groq_retries"} <= families

    async def test_other_paths_and_methods_are_refused(self) -> None:
        """Only GET and HEAD of /metrics are served: other paths get 404, other methods 405 with Allow."""
        async with Telemetry().serve(0) as server:
            async with httpx.AsyncClient() as http:
                missing = await http.get(server.url.replace("/metrics", "/"))
                posted = await http.post(server.url)
                head = await http.head(server.url)
        assert missing.status_code == 404
        assert (posted.status_code, posted.headers["allow"]) == (405, "GET, HEAD")
        assert (head.status_code, head.content) == (200, b"")

    async def test_a_port_in_use_is_a_plain_os_error_naming_it(self) -> None:
        """Serving on a taken port raises OSError with the address and what to do, not an exception group."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{port} .*or 0 for a free one"):
                async with Telemetry().serve(port):
                    pass

    async def test_the_server_stops_with_its_block(self) -> None:
        """After the async with, nothing listens on the port any more."""
        async with Telemetry().serve(0) as server:
            pass
        with pytest.raises(httpx.ConnectError):
            await scrape(server.url)


class TestBatch:
    async def test_a_finished_batch_has_sane_counters(self, tmp_path: Path) -> None:
        """After a small batch, the scrape shows every job as one 200 request with its duration and tokens."""
        telemetry = Telemetry()
        summary = await run_batch_async(
            jobs_file(tmp_path / "jobs.jsonl", 20), tmp_path / "out.jsonl", quiet=True, environ={},
            handle_signals=False, telemetry=telemetry,
            emulator_settings=EmulatorSettings(latency="instant", time_scale=1000.0),
        )
        async with telemetry.serve(0) as server:
            _, samples = await scrape(server.url)
        assert summary.succeeded == 20
        assert total(samples, "groq_requests_total", model=MODEL, operation="chat", status="200") == 20
        assert total(samples, "groq_requests_total") == 20 + summary.rate_limited
        assert total(samples, "groq_request_duration_seconds_count", model=MODEL) == total(samples, "groq_requests_total")
        assert total(samples, "groq_operations_total", outcome="success") == 20
        assert total(samples, "groq_tokens_total", type="prompt") == summary.prompt_tokens
        assert total(samples, "groq_tokens_total", type="completion") == summary.completion_tokens
        buckets = total(samples, "groq_request_duration_seconds_bucket", model=MODEL, le="+Inf")
        assert buckets == total(samples, "groq_request_duration_seconds_count")

    async def test_a_running_batch_serves_its_metrics(self, tmp_path: Path, mock_clock: trio.testing.MockClock) -> None:
        """While a batch waits for rate budget, its /metrics shows the finished jobs, the queue and no headroom."""
        source, target = jobs_file(tmp_path / "jobs.jsonl", 12), tmp_path / "out.jsonl"
        finished: list[Any] = []

        async def batch() -> None:
            finished.append(await run_batch_async(
                source, target, quiet=True, environ={}, handle_signals=False, metrics_port=0, concurrency=4,
                limits={MODEL: orchestrator.ModelLimits(rpm=4)}, emulator_settings=EmulatorSettings(latency="instant"),
            ))

        with structlog.testing.capture_logs() as captured:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(batch)
                # The clock stands still: the batch runs until the budget makes it wait, then everything blocks.
                await trio.testing.wait_all_tasks_blocked()
                (url,) = [entry["url"] for entry in captured if entry["event"] == "metrics_serving"]
                _, samples = await scrape(url)
                answered = lines(target)
                mock_clock.autojump_threshold = 0  # now let virtual time run the batch to its end
        assert finished[0].succeeded == 12
        done = total(samples, "groq_requests_total", model=MODEL, operation="chat", status="200")
        assert 1 <= done == answered < 12
        assert total(samples, "groq_operations_total", outcome="success") == done
        assert total(samples, "groq_request_duration_seconds_count") == done
        assert total(samples, "groq_tokens_total", type="prompt") > 0
        assert total(samples, "groq_queue_waiting_for_budget") >= 1
        assert total(samples, "groq_requests_in_flight") == 0
        assert total(samples, "groq_circuit_breaker_state") == 0
        minute = {"model": MODEL, "kind": "requests", "window": "minute"}
        assert total(samples, "groq_rate_limit_remaining", **minute) == 0
        assert total(samples, "groq_rate_limit_limit", **minute) == 4
        assert total(samples, "groq_rate_limit_remaining", model=MODEL, kind="tokens", window="minute") > 0


class TestCommandLine:
    @pytest.fixture(autouse=True)
    def no_groq_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The batch runs on the embedded emulator: no key, no base URL."""
        for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "GROQ_TIMEOUT", "GROQ_MAX_RETRIES"):
            monkeypatch.delenv(name, raising=False)

    def test_batch_metrics_port_serves_during_the_run(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """`groq-orch batch --metrics-port 0` says where its metrics are and still completes every job."""
        source, target = jobs_file(tmp_path / "jobs.jsonl", 5), tmp_path / "out.jsonl"
        assert main(["batch", str(source), "-o", str(target), "--metrics-port", "0"]) == 0
        assert re.search(r"Metrics at http://127\.0\.0\.1:\d+/metrics", capsys.readouterr().err)
        assert lines(target) == 5

    def test_batch_metrics_port_must_be_a_port(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """A port out of range is a usage error naming the value."""
        source = jobs_file(tmp_path / "jobs.jsonl", 1)
        with pytest.raises(SystemExit) as info:
            main(["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "--metrics-port", "70000"])
        assert info.value.code == 2 and "70000 is not a port number" in capsys.readouterr().err

    def test_emulate_metrics_port_exports_the_emulator_counters(self) -> None:
        """`groq-orch emulate --metrics-port 0` prints both URLs; the emulator's counters follow its traffic."""
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestrator", "emulate", "--port", "0", "--latency", "instant", "--metrics-port", "0"],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert process.stderr is not None
            base_url = process.stderr.readline().rsplit(" ", 1)[1].strip()
            metrics_line = process.stderr.readline()
            assert metrics_line.startswith("Emulator metrics at http://127.0.0.1:")
            metrics_url = metrics_line.rsplit(" ", 1)[1].strip()
            chat = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
            for _ in range(3):
                reply = httpx.post(f"{base_url}/chat/completions", json=chat, headers={"authorization": f"Bearer {KEY}"})
                assert reply.status_code == 200
            text = httpx.get(metrics_url).text
            samples = {
                (s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
            assert total(samples, "groq_emulator_requests_total") == 3
            assert total(samples, "groq_emulator_responses_total", status="200") == 3
            assert total(samples, "groq_emulator_rate_limited_total") == 0
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=10) == 0
        finally:
            if process.poll() is None:
                process.kill()
            if process.stderr is not None:
                process.stderr.close()
