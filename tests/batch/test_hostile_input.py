"""Piped inputs, and a resume that checks the results file instead of trusting it (issue 18, items 4 and 5)."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import trio
from rich.console import Console

from orchestrator._errors import ConfigError
from orchestrator.batch._io import BatchFileError, InputChangedError
from orchestrator.batch._source import check_distinct, line_digest, readable_source
from tests.batch._hostile import by_id, chat, job, records, run, write

LINES = [job(f"j{i}") for i in range(12)]


def feed(path: str | int, lines: list[str]) -> threading.Thread:
    """Write ``lines`` into a pipe or FIFO from a thread (opening a FIFO blocks until the reader opens it)."""

    def writer() -> None:
        with open(path, "wb") as handle:
            for line in lines:
                handle.write(line.encode() + b"\n")

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    return thread


def leftovers(directory: Path) -> list[str]:
    return sorted(name.name for name in directory.iterdir() if name.name.startswith(".groq-orch-input-"))


class TestPipedInput:
    async def test_os_pipe(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """An os.pipe read through /dev/fd/N (what <(cat jobs.jsonl) gives) runs every job, then the copy is gone."""
        read, write_end = os.pipe()
        thread = feed(write_end, LINES)
        try:
            summary = await run(Path(f"/dev/fd/{read}"), tmp_path / "out.jsonl")
        finally:
            os.close(read)
        thread.join(timeout=10)
        assert (summary.jobs, summary.succeeded, len(by_id(tmp_path / "out.jsonl")), leftovers(tmp_path)) == (
            12, 12, 12, [])

    async def test_fifo_and_resume(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """A FIFO is read once; fed the same lines again, the run resumes and appends nothing."""
        fifo = tmp_path / "jobs.fifo"
        os.mkfifo(fifo)
        target = tmp_path / "out.jsonl"
        thread = feed(str(fifo), LINES[:7])
        first = await run(fifo, target)
        thread.join(timeout=10)
        thread = feed(str(fifo), LINES)
        second = await run(fifo, target)
        thread.join(timeout=10)
        assert ((first.succeeded, second.already_done, second.succeeded), len(by_id(target)), leftovers(tmp_path)) == (
            (7, 7, 5), 12, [])

    async def test_subprocess_pipe(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """A subprocess's stdout pipe (cat jobs.jsonl) as the input."""
        source = write(tmp_path / "jobs.jsonl", LINES)
        with subprocess.Popen(["cat", str(source)], stdout=subprocess.PIPE) as cat:
            assert cat.stdout is not None
            summary = await run(Path(f"/dev/fd/{cat.stdout.fileno()}"), tmp_path / "out.jsonl")
        assert (summary.succeeded, len(records(tmp_path / "out.jsonl"))) == (12, 12)

    def test_regular_file_is_used_as_it_is(self, tmp_path: Path) -> None:
        """readable_source yields a regular file itself, and copies nothing."""
        source = write(tmp_path / "jobs.jsonl", LINES)
        with readable_source(source, spool_dir=tmp_path) as readable:
            assert readable == source and leftovers(tmp_path) == []


class TestResumeChecksTheInput:
    async def test_records_carry_the_line_digest(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """Every record ends with input_sha256: the first 16 hex digits of the sha256 of its input line."""
        lines = [job("a"), "not json", json.dumps(chat())]
        source = write(tmp_path / "jobs.jsonl", lines)
        await run(source, tmp_path / "out.jsonl")
        out = by_id(tmp_path / "out.jsonl")
        assert {cid: rec["input_sha256"] for cid, rec in out.items()} == {
            "a": line_digest(lines[0].encode()), "line-2": line_digest(b"not json"),
            "line-3": line_digest(lines[2].encode())}
        assert list(out["a"]) == ["id", "custom_id", "response", "error", "input_sha256"]

    async def test_edited_line_is_reported(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """A line edited since its result was written (same custom_id) is refused, not skipped; nothing is sent."""
        source = write(tmp_path / "jobs.jsonl", [job("a"), job("b")])
        target = tmp_path / "out.jsonl"
        await run(source, target)
        before = target.read_bytes()
        write(source, [job("a"), job("b", chat("Something else entirely."))])
        with pytest.raises(InputChangedError, match=r"'b' \(line 2\)") as refused:
            await run(source, target)
        assert (refused.value.total, target.read_bytes()) == (1, before)

    async def test_inserted_plain_body_shifts_line_ids(self, tmp_path: Path,
                                                       autojump_clock: trio.testing.MockClock) -> None:
        """Inserting a line before plain bodies shifts their line-N ids: that is detected, not mis-skipped."""
        source = write(tmp_path / "jobs.jsonl", [json.dumps(chat("one")), json.dumps(chat("two"))])
        target = tmp_path / "out.jsonl"
        await run(source, target)
        write(source, [json.dumps(chat("zero")), json.dumps(chat("one")), json.dumps(chat("two"))])
        with pytest.raises(InputChangedError, match="line-N") as refused:
            await run(source, target)
        assert refused.value.total == 2 and len(records(target)) == 2

    async def test_results_of_another_jobs_file(self, tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
        """A results file written for another jobs file with the same ids is refused."""
        first = write(tmp_path / "first.jsonl", [json.dumps(chat(f"first {i}")) for i in range(3)])
        other = write(tmp_path / "other.jsonl", [json.dumps(chat(f"other {i}")) for i in range(3)])
        target = tmp_path / "out.jsonl"
        await run(first, target)
        with pytest.raises(InputChangedError, match="another jobs file"):
            await run(other, target)

    @pytest.mark.parametrize("count", [1, 3])
    async def test_copy_of_the_jobs_file_as_output(self, tmp_path: Path, count: int,
                                                   autojump_clock: trio.testing.MockClock) -> None:
        """An output that is a copy of the jobs file is refused as not a results file, and left untouched."""
        source = write(tmp_path / "jobs.jsonl", LINES[:count])
        target = tmp_path / "out.jsonl"
        shutil.copyfile(source, target)
        before = target.read_bytes()
        with pytest.raises(BatchFileError, match="jobs file"):
            await run(source, target)
        assert target.read_bytes() == before

    async def test_copy_without_final_newline_is_not_truncated(self, tmp_path: Path,
                                                               autojump_clock: trio.testing.MockClock) -> None:
        """A one-line jobs file with no final newline is whole JSON, not a torn write: refused, never truncated."""
        source = write(tmp_path / "jobs.jsonl", LINES[:1])
        target = tmp_path / "out.jsonl"
        target.write_bytes(LINES[0].encode())
        with pytest.raises(BatchFileError):
            await run(source, target)
        assert target.read_bytes() == LINES[0].encode()

    @pytest.mark.parametrize("link", ["hard", "symbolic"])
    async def test_output_linked_to_the_input(self, tmp_path: Path, link: str,
                                              autojump_clock: trio.testing.MockClock) -> None:
        """An output that is the input through a hard link or symlink is refused before anything is written."""
        source = write(tmp_path / "jobs.jsonl", LINES[:2])
        target = tmp_path / "out.jsonl"
        (os.link if link == "hard" else os.symlink)(source, target)
        before = source.read_bytes()
        with pytest.raises(ConfigError, match="is the input file"):  # an OutputIsInputError
            await run(source, target)
        assert source.read_bytes() == before and not (tmp_path / "out.jsonl.lock").exists()

    def test_check_distinct_accepts_a_new_or_device_output(self, tmp_path: Path) -> None:
        """A missing output, or a device, is never the input."""
        source = write(tmp_path / "jobs.jsonl", LINES[:1])
        check_distinct(source, tmp_path / "new.jsonl")
        check_distinct(source, Path("/dev/null"))

    async def test_records_of_older_versions_are_trusted_with_a_warning(
        self, tmp_path: Path, autojump_clock: trio.testing.MockClock
    ) -> None:
        """Result lines without input_sha256 count as answered; the run says once that it could not check them."""
        source = write(tmp_path / "jobs.jsonl", LINES[:4])
        target = tmp_path / "out.jsonl"
        await run(source, target)
        old = [json.loads(line) for line in target.read_text().splitlines()[:3]]
        target.write_text("".join(json.dumps({k: v for k, v in rec.items() if k != "input_sha256"}) + "\n"
                                  for rec in old))
        buffer = io.StringIO()
        summary = await run(source, target, quiet=False, console=Console(file=buffer, width=200, color_system=None))
        shown = buffer.getvalue()
        assert (summary.already_done, summary.succeeded, len(by_id(target)), shown.count("no input_sha256")) == (
            3, 1, 4, 1)
