"""A full disk fails fast, and the summary's exit_code is the status the command exits with (issue 18, item 8)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
import trio

from orchestrator._cli import main
from orchestrator._errors import AuthenticationError
from orchestrator.batch._io import ResultWriter, open_results
from orchestrator.emulator import EmulatorSettings
from tests.batch._hostile import job, run, write

FULL = Path("/dev/full")
needs_dev_full = pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")


@needs_dev_full
class TestDiskFull:
    def test_a_device_is_never_read_for_resume(self) -> None:
        """open_results does not read (endlessly) or truncate an output that is not a regular file."""
        state = open_results(FULL)
        assert (len(state.answered), state.lines, state.repaired_bytes) == (0, 0, 0)

    def test_writer_raises_enospc_naming_the_file(self) -> None:
        """The first failed write raises OSError(ENOSPC) with the file's name; closing does not hide it."""
        with pytest.raises(OSError) as info:
            with ResultWriter(FULL) as writer:
                writer.write(b"{}\n")
        assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(FULL))

    async def test_run_stops_at_the_first_failed_write(self, tmp_path: Path,
                                                      autojump_clock: trio.testing.MockClock) -> None:
        """A batch writing to /dev/full stops with ENOSPC instead of hanging."""
        source = write(tmp_path / "jobs.jsonl", [job(f"j{i}") for i in range(50)])
        with pytest.raises(OSError) as info:
            await run(source, FULL)
        assert (info.value.errno, info.value.filename) == (errno.ENOSPC, str(FULL))

    def test_cli_exits_nonzero_with_a_disk_full_message(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        """groq-orch batch -o /dev/full exits non-zero at once, saying the disk is full."""
        monkeypatch.delenv("GROQ_API_KEY", raising=False)
        source = write(tmp_path / "jobs.jsonl", [job(f"j{i}") for i in range(5)])
        code = main(["batch", str(source), "-o", str(FULL), "-q"])
        err = capsys.readouterr().err
        assert (code != 0, "No space left on device" in err, "/dev/full" in err, "Traceback" in err) == (
            True, True, True, False)


class TestSummaryExitCode:
    async def test_summary_json_after_a_refused_key(self, tmp_path: Path,
                                                    autojump_clock: trio.testing.MockClock) -> None:
        """After a 401 stops the run, --summary-json says exit_code 1 and names what stopped it."""
        source = write(tmp_path / "jobs.jsonl", [job(f"j{i}") for i in range(5)])
        settings = EmulatorSettings(latency="instant", api_keys=["gsk_only_this_one"])
        with pytest.raises(AuthenticationError):
            await run(source, tmp_path / "out.jsonl", emulator_settings=settings, summary_json=tmp_path / "s.json")
        data = json.loads((tmp_path / "s.json").read_text())
        assert (data["exit_code"], data["stopped_by"], data["failed"]) == (1, "invalid_api_key", 0)

    def test_cli_status_matches_the_summary(self, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
        """The process exit status and the summary's exit_code agree, for a clean run and a run with failures."""
        monkeypatch.delenv("GROQ_API_KEY", raising=False)
        for lines, expected in (([job("a")], 0), ([job("a"), "nope"], 1)):
            source = write(tmp_path / "jobs.jsonl", lines)
            target = tmp_path / f"out{expected}.jsonl"
            code = main(["batch", str(source), "-o", str(target), "-q", "--summary-json", str(tmp_path / "s.json")])
            assert (code, json.loads((tmp_path / "s.json").read_text())["exit_code"]) == (expected, expected)
