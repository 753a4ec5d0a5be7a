"""The Batch API run's state file (`orchestrator.batch._batch_state`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.batch._batch_state import PartState, RunFile, load_state, save_state, state_path, work_dir
from orchestrator.batch._io import BatchFileError


def test_it_lives_beside_the_output(tmp_path: Path) -> None:
    output = tmp_path / "results.jsonl"
    assert state_path(output) == tmp_path / "results.jsonl.batch-api.json"
    assert work_dir(output) == tmp_path / "results.jsonl.batch-api"


def test_a_saved_state_loads_back(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    state = RunFile(run_id="r1", input_path="in.jsonl", input_size=10, input_mtime_ns=5, round=2,
                    parts=[PartState(index=0, path="p0", lines=3, phase="submitted", file_id="file_1",
                                     batch_id="batch_1")])
    save_state(path, state)
    loaded = load_state(path)
    assert loaded == state
    assert "1 submitted" in loaded.describe() and "round 2" in loaded.describe()
    assert not path.with_name("s.json.tmp").exists()


def test_no_file_is_no_state(tmp_path: Path) -> None:
    assert load_state(tmp_path / "missing.json") is None


@pytest.mark.parametrize("raw", [b"{", b"[]", b'{"run_id": 3}'])
def test_a_foreign_file_is_refused_with_what_to_do(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(raw)
    with pytest.raises(BatchFileError, match="delete it"):
        load_state(path)


def test_another_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    save_state(path, RunFile(version=99, run_id="r", input_path="i", input_size=0, input_mtime_ns=0))
    with pytest.raises(BatchFileError, match="version 99"):
        load_state(path)
