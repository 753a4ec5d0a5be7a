"""Tests for batch file IO: streaming input, duplicate refusal, results repair and resume, the writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.batch._io import (
    AnsweredIds,
    BatchFileError,
    DuplicateCustomIdError,
    InputScan,
    ResultWriter,
    id_digest,
    iter_input_lines,
    open_results,
    scan_input,
)
from orchestrator.batch._records import BadLine, bad_line_record, encode_record


def write_jobs(path: Path, ids: list[str]) -> None:
    path.write_text("".join(json.dumps({"custom_id": cid, "body": {}}) + "\n" for cid in ids))


def result_line(custom_id: str) -> bytes:
    return encode_record(bad_line_record(BadLine(custom_id, 1, "invalid_json", "x")))


class TestInput:
    def test_lines_are_numbered_and_blank_lines_skipped(self, tmp_path: Path) -> None:
        """Input lines keep editor line numbers; blank lines are not jobs."""
        path = tmp_path / "in.jsonl"
        path.write_bytes(b'{"a":1}\r\n\n   \n{"b":2}')
        assert list(iter_input_lines(path)) == [(1, b'{"a":1}'), (4, b'{"b":2}')]

    def test_scan_counts_jobs(self, tmp_path: Path) -> None:
        """scan_input counts the non-blank lines."""
        path = tmp_path / "in.jsonl"
        write_jobs(path, [f"j{i}" for i in range(50)])
        assert scan_input(path).jobs == 50

    def test_duplicates_are_refused_with_line_numbers(self, tmp_path: Path) -> None:
        """Repeated custom_ids raise, listing each id with the lines it occurs on."""
        path = tmp_path / "in.jsonl"
        write_jobs(path, ["a", "b", "a", "c", "b", "a"])
        with pytest.raises(DuplicateCustomIdError) as info:
            scan_input(path)
        assert [(d.custom_id, d.lines) for d in info.value.duplicates] == [("a", (1, 3, 6)), ("b", (2, 5))]

    def test_implicit_ids_collide_with_explicit_ones(self, tmp_path: Path) -> None:
        """A plain body on line 2 (id line-2) clashes with an explicit custom_id 'line-2'."""
        path = tmp_path / "in.jsonl"
        path.write_text('{"custom_id": "line-2", "body": {}}\n{"model": "m", "messages": []}\n')
        with pytest.raises(DuplicateCustomIdError, match="line-2"):
            scan_input(path)

    def test_refusal_message_is_bounded(self, tmp_path: Path) -> None:
        """With many duplicates the refusal lists 20 and says how many more."""
        path = tmp_path / "in.jsonl"
        write_jobs(path, [f"d{i}" for i in range(30)] * 2)
        with pytest.raises(DuplicateCustomIdError, match="and 10 more") as info:
            scan_input(path)
        assert (len(info.value.duplicates), info.value.total) == (20, 30)

    @given(st.lists(st.text(alphabet="abc", min_size=1, max_size=3), max_size=40))
    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=50)
    def test_duplicate_detection_matches_a_naive_count(self, tmp_path: Path, ids: list[str]) -> None:
        """scan_input refuses exactly when some id repeats."""
        path = tmp_path / "in.jsonl"
        write_jobs(path, ids)
        if len(set(ids)) == len(ids):
            assert scan_input(path).jobs == len(ids)
        else:
            with pytest.raises(DuplicateCustomIdError):
                scan_input(path)


class TestAnsweredIds:
    def test_membership(self) -> None:
        """AnsweredIds answers membership for the ids it was built from and no others."""
        from array import array

        ids = AnsweredIds(array("Q", [id_digest(c) for c in ("x", "y", "z")]))
        assert ("y" in ids, "w" in ids, 3 in ids, len(ids)) == (True, False, False, 3)

    def test_repr_shows_bytes(self) -> None:
        """The repr states its size at 8 bytes per id."""
        from array import array

        assert repr(AnsweredIds(array("Q", [1, 2]))) == "<AnsweredIds 2 ids, 16 bytes>"


class TestResume:
    def test_missing_file_is_empty(self, tmp_path: Path) -> None:
        """A results file that does not exist yet means nothing is answered."""
        state = open_results(tmp_path / "out.jsonl")
        assert (len(state.answered), state.lines, state.repaired_bytes) == (0, 0, 0)

    def test_complete_file_is_read_untouched(self, tmp_path: Path) -> None:
        """Complete result lines are all answered and the file is unchanged."""
        path = tmp_path / "out.jsonl"
        data = result_line("a") + result_line("b")
        path.write_bytes(data)
        state = open_results(path)
        assert ("a" in state.answered, "b" in state.answered, state.lines, path.read_bytes()) == (True, True, 2, data)

    def test_torn_last_line_is_truncated(self, tmp_path: Path) -> None:
        """An incomplete last line (no newline) is cut off and its job is not answered."""
        path = tmp_path / "out.jsonl"
        good = result_line("a")
        path.write_bytes(good + result_line("b")[:17])
        state = open_results(path)
        assert ("b" in state.answered, state.repaired_bytes, path.read_bytes()) == (False, 17, good)

    def test_undecodable_last_line_is_truncated(self, tmp_path: Path) -> None:
        """A final line that ends in a newline but is not a record (crash garbage) is cut off."""
        path = tmp_path / "out.jsonl"
        good = result_line("a")
        path.write_bytes(good + b"\x00\x00\x00\n")
        state = open_results(path)
        assert (state.lines, path.read_bytes()) == (1, good)

    def test_corrupt_middle_line_is_refused(self, tmp_path: Path) -> None:
        """A bad line that is not the last one is refused with its line number, and nothing is truncated."""
        path = tmp_path / "out.jsonl"
        data = result_line("a") + b"not json\n" + result_line("b")
        path.write_bytes(data)
        with pytest.raises(BatchFileError, match="line 2"):
            open_results(path)
        assert path.read_bytes() == data

    @given(st.integers(min_value=0, max_value=10_000))
    @settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
    def test_any_crash_point_repairs_to_whole_lines(self, tmp_path: Path, cut: int) -> None:
        """Cutting the file at any byte leaves, after repair, exactly the whole lines before the cut."""
        path = tmp_path / "out.jsonl"
        lines = [result_line(f"job-{i}") for i in range(40)]
        data = b"".join(lines)
        cut = cut % (len(data) + 1)
        path.write_bytes(data[:cut])
        state = open_results(path)
        kept = path.read_bytes()
        whole = data[:cut].count(b"\n")
        assert (kept, state.lines, [f"job-{i}" in state.answered for i in range(40)]) == (
            b"".join(lines[:whole]), whole, [i < whole for i in range(40)])


class TestWriter:
    def test_lines_are_appended(self, tmp_path: Path) -> None:
        """The writer appends after existing content and counts what it wrote."""
        path = tmp_path / "out.jsonl"
        path.write_bytes(b"first\n")
        with ResultWriter(path, fsync_every=2) as writer:
            for text in (b"a\n", b"b\n", b"c\n"):
                writer.write(text)
        assert (path.read_bytes(), writer.written) == (b"first\na\nb\nc\n", 3)

    def test_fsync_every_must_be_positive(self, tmp_path: Path) -> None:
        """A zero fsync interval is refused with the value named."""
        with pytest.raises(ValueError, match="fsync_every is 0"):
            ResultWriter(tmp_path / "out.jsonl", fsync_every=0)

    def test_close_is_idempotent(self, tmp_path: Path) -> None:
        """Closing twice is harmless."""
        writer = ResultWriter(tmp_path / "out.jsonl")
        writer.close()
        writer.close()
        assert (tmp_path / "out.jsonl").read_bytes() == b""


class TestScanWithResume:
    def test_counts_answered_jobs(self, tmp_path: Path) -> None:
        """scan_input counts how many input jobs a results file already answers (ids not in the input don't count)."""
        path, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
        write_jobs(path, ["a", "b", "c"])
        out.write_bytes(result_line("a") + result_line("c") + result_line("stranger"))
        # These result lines carry no input_sha256 (as older versions wrote them): answered, unverified.
        assert scan_input(path, open_results(out).answered) == InputScan(3, 2, 2)
