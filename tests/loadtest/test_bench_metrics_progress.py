"""Issue 19 item 10: ``groq-orch bench`` shows live progress with an ETA from the binding limit, and has
``--quiet`` and ``--json`` for scripts."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
import trio
from rich.console import Console

from orchestrator import BudgetSnapshot, ModelLimits
from orchestrator.loadtest._plan import BenchPlan, LengthSpec
from orchestrator.loadtest._progress import BenchProgress, Eta, eta, progress_line, show_progress
from orchestrator.loadtest._run import BenchObserver, BenchRun
from orchestrator._cli import main
from tests.helpers import client_for, make_emulator
from tests.loadtest.test_command import FAST, TINY, clear_groq_environment

MODEL = "openai/gpt-oss-20b"


@pytest.fixture(autouse=True)
def no_groq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key and no base URL: the command runs against the embedded emulator."""
    clear_groq_environment(monkeypatch)


def progress(**changes: Any) -> BenchProgress:
    fields: dict[str, Any] = {
        "mode": "concurrency", "level": 4, "level_index": 0, "levels": 2, "done": 4, "failed": 0,
        "requests_per_level": 10, "duration_per_level": None, "finished": 4, "elapsed_s": 2.0,
        "level_elapsed_s": 2.0, "in_flight": 4, "rate_limited": 0, "tokens_per_request": 500,
    }
    return BenchProgress(**{**fields, **changes})


def snapshot(*, tpm: int | None = None, tokens_left: int | None = None, rpm: int | None = None,
             requests_left: int | None = None) -> BudgetSnapshot:
    return BudgetSnapshot(
        limits=ModelLimits(rpm=rpm, tpm=tpm), remaining_requests_minute=requests_left, remaining_requests_day=None,
        remaining_tokens_minute=tokens_left, remaining_tokens_day=None, reset_requests_minute=0.0,
        reset_requests_day=0.0, reset_tokens_minute=0.0, reset_tokens_day=0.0, paused_until=None, paused_for=0.0,
    )


class TestEta:
    def test_duration_sweep_is_the_time_its_levels_have_left(self) -> None:
        """With --duration, the ETA is the rest of this level plus every later level."""
        assert eta(progress(levels=3, level_index=1, requests_per_level=None, duration_per_level=10.0,
                            level_elapsed_s=4.0)) == Eta(16.0)

    def test_pace_without_limits(self) -> None:
        """With --requests and no known limits, the ETA is the requests left at the pace so far."""
        assert eta(progress()) == Eta(8.0)

    def test_the_binding_limit_wins_when_slower(self) -> None:
        """When the TPM window needs longer than the pace says, the ETA is its time, and it is named."""
        assert eta(progress(), snapshot(tpm=8000, tokens_left=0, rpm=1000, requests_left=1000)) == Eta(
            60.0, "TPM 8,000")

    def test_room_left_counts(self) -> None:
        """Room left in the window is sent at once: only what is beyond it waits for the refill."""
        assert eta(progress(), snapshot(rpm=4, requests_left=0)) == Eta(240.0, "RPM 4")

    def test_pace_wins_when_the_limits_allow_more(self) -> None:
        """When every window has room for what is left, the pace decides and no limit is named."""
        assert eta(progress(), snapshot(tpm=1_000_000, tokens_left=1_000_000)) == Eta(8.0)

    def test_unknown_before_the_first_answer(self) -> None:
        """Nothing finished and no limits known: no ETA yet."""
        assert eta(progress(done=0, finished=0, elapsed_s=0.0)) == Eta(None)


class TestProgressLine:
    def test_requests_sweep(self) -> None:
        """The line names the level, its progress, the ETA and what binds it, on the real clock."""
        line = progress_line(progress(level_index=1, done=12, requests_per_level=20, failed=1, rate_limited=3,
                                      elapsed_s=120.0), Eta(600.0, "TPM 8,000"), time_scale=60.0)
        assert line == ("level 2/2 (concurrency 4): 12/20 done, ETA 0:10 (TPM 8,000 binds); 1 failed, 4 in flight, "
                        "3 429s, elapsed 0:02")

    def test_duration_sweep_at_a_rate(self) -> None:
        """A rate level over --duration shows its time done of its length."""
        line = progress_line(progress(mode="rate", level=2.5, requests_per_level=None, duration_per_level=60.0,
                                      level_elapsed_s=15.0), Eta(45.0))
        assert line.startswith("level 1/2 (rate 2.5/s): 4 done, 0:15 of 1:00, ETA 0:45; ")


def plan(requests: int) -> BenchPlan:
    return BenchPlan(model=MODEL, mode="concurrency", levels=(1, 2), requests=requests, duration=None,
                     prompt_tokens=LengthSpec(16), output_tokens=LengthSpec(8), context_window=131_072,
                     max_completion_tokens=131_072)


class TestLiveProgress:
    async def test_progress_follows_the_run(self, autojump_clock: object) -> None:
        """BenchRun.progress() counts each level's finished requests, and the whole run's."""
        seen: list[tuple[int, int, int]] = []
        async with client_for(make_emulator(), observer=BenchObserver()) as client:
            bench = BenchRun(client, plan(2), scale=1.0, sink=lambda record: seen.append(
                (bench.progress().level_index, bench.progress().done, bench.progress().finished)))
            await bench.run()
        assert seen == [(0, 1, 1), (0, 2, 2), (1, 1, 3), (1, 2, 4)]

    async def test_live_line_on_a_terminal(self, autojump_clock: object) -> None:
        """On a terminal the live line shows the level and an ETA while the run goes on."""
        screen = io.StringIO()
        console = Console(file=screen, force_terminal=True, width=200)
        async with client_for(make_emulator(time_to_first_token=0.4), observer=BenchObserver()) as client:
            bench = BenchRun(client, plan(3), scale=1.0, sink=lambda record: None)
            async with trio.open_nursery() as nursery:
                nursery.start_soon(lambda: show_progress(bench.progress, client, console, model=MODEL, time_scale=1.0))
                await bench.run()
                nursery.cancel_scope.cancel()
        text = screen.getvalue()
        assert ("level 1/2 (concurrency 1)" in text, "level 2/2 (concurrency 2)" in text, "ETA 0:0" in text) == (
            True, True, True)


class TestScriptModes:
    def test_quiet_prints_only_the_tables(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--quiet leaves stderr empty (no notice, expected time, level lines or hints); the tables still print."""
        code = main(["bench", "--concurrency", "1", "--requests", "2", *TINY, *FAST, "--quiet"])
        captured = capsys.readouterr()
        assert (code, captured.err, "Latency, ms" in captured.out) == (0, "", True)

    def test_json_prints_the_result_document(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--json puts the summary document, and only it, on stdout; the notices stay on stderr."""
        code = main(["bench", "--concurrency", "1,2", "--requests", "2", *TINY, *FAST, "--json"])
        captured = capsys.readouterr()
        document = json.loads(captured.out)
        assert (code, [r["completed"] for r in document["benchmark_serving"]], document["max_sustainable"]["level"],
                "bundled Groq emulator" in captured.err, "concurrency 2: 2 ok" in captured.err) == (
            0, [2, 2], 2, True, True)

    def test_json_and_quiet_for_scripts(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--json --quiet: JSON on stdout, nothing on stderr."""
        code = main(["bench", "--concurrency", "1", "--requests", "1", *TINY, *FAST, "--json", "--quiet"])
        captured = capsys.readouterr()
        assert (code, captured.err, json.loads(captured.out)["totals"]["completed"]) == (0, "", 1)
