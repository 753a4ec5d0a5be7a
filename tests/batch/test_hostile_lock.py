"""Two runs on one results file: the second is refused, naming the first, and nothing is written twice (issue 18)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from orchestrator._cli import main
from orchestrator.batch._lock import LockInfo, OutputLockedError, lock_output, lock_path
from orchestrator.emulator import EmulatorSettings
from tests.batch._hostile import by_id, job, records, run, write

_HOLDER = """
import sys, time
from pathlib import Path
from orchestrator.batch._lock import lock_output
with lock_output(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.readline()
"""


class TestLock:
    def test_lock_file_names_the_holder_and_goes_away(self, tmp_path: Path) -> None:
        """While held, the lock file says pid, host and start time; a second taker is refused; then it is removed."""
        target = tmp_path / "out.jsonl"
        with lock_output(target) as lock:
            assert lock == lock_path(target)
            import msgspec

            info = msgspec.json.decode(lock.read_bytes(), type=LockInfo)
            assert (info.pid, info.host, info.started.endswith("Z")) == (os.getpid(), socket.gethostname(), True)
            with pytest.raises(OutputLockedError) as refused:
                with lock_output(target):
                    pass  # pragma: no cover
            assert f"pid {os.getpid()} on {socket.gethostname()}" in str(refused.value)
        assert not lock_path(target).exists()
        with lock_output(target):  # free again
            pass

    def test_stale_lock_file_does_not_block(self, tmp_path: Path) -> None:
        """A lock file left by a killed run (no process holds it) is taken over at once."""
        target = tmp_path / "out.jsonl"
        lock_path(target).write_text('{"pid": 1, "host": "gone", "started": "2020-01-01T00:00:00Z"}')
        with lock_output(target) as lock:
            assert lock is not None and str(os.getpid()) in lock.read_text()

    def test_a_device_is_not_locked(self) -> None:
        """An output that is not a regular file gets no lock file beside it."""
        with lock_output(Path("/dev/null")) as lock:
            assert lock is None and not Path("/dev/null.lock").exists()


class TestTwoRuns:
    async def test_second_run_while_the_first_holds_the_lock(self, tmp_path: Path,
                                                            autojump_clock: trio.testing.MockClock) -> None:
        """A run started while another runs on the same output is refused; the first writes one line per job."""
        source = write(tmp_path / "jobs.jsonl", [job(f"j{i}") for i in range(30)])
        target = tmp_path / "out.jsonl"
        slow = EmulatorSettings(latency="realistic", time_scale=1.0)
        refused: list[BaseException] = []
        summaries = []

        async def first() -> None:
            summaries.append(await run(source, target, emulator_settings=slow, concurrency=2))

        async def second() -> None:
            try:
                await run(source, target)
            except OutputLockedError as error:
                refused.append(error)
                # The first run is still going: jobs remain, and the refused run added nothing.
                assert len(records(target)) < 30

        async with trio.open_nursery() as nursery:
            nursery.start_soon(first)
            await trio.sleep(0.5)
            assert lock_path(target).exists()
            nursery.start_soon(second)
        assert (len(refused), f"pid {os.getpid()}" in str(refused[0]), summaries[0].succeeded) == (1, True, 30)
        assert len(by_id(target)) == 30 and not lock_path(target).exists()

    def test_cli_refuses_while_another_process_holds_it(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
        """groq-orch batch exits non-zero, naming the other process's pid, and writes nothing."""
        monkeypatch.delenv("GROQ_API_KEY", raising=False)
        source = write(tmp_path / "jobs.jsonl", [job("a"), job("b")])
        target = tmp_path / "out.jsonl"
        holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(target)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2])
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            code = main(["batch", str(source), "-o", str(target), "-q"])
            err = capsys.readouterr().err
            assert (code != 0, f"pid {holder.pid}" in err, "another run" in err, target.exists()) == (
                True, True, True, False)
        finally:
            assert holder.stdin is not None
            holder.stdin.write("\n")
            holder.stdin.flush()
            holder.wait(timeout=30)
        assert main(["batch", str(source), "-o", str(target), "-q"]) == 0
        assert sorted(by_id(target)) == ["a", "b"]
