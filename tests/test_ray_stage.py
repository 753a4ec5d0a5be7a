"""The Ray Data stage against a served emulator: rows in, rows out, one budget for every actor."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from orchestrator.emulator import EmulatorSettings

from .ray_support import ray_cluster, served_emulator, unique_key
from .redis_support import redis_url

pytestmark = pytest.mark.usefixtures("ray_cluster")

__all__ = ["ray_cluster", "redis_url"]  # fixtures, imported for the tests here

MODEL = "openai/gpt-oss-20b"
# Free-tier limits (30 RPM, 8K TPM for this model) on a clock 60x real time: 30 requests a second for the
# whole account, which four actors with 64 requests in flight each would overshoot many times over alone.
SETTINGS = EmulatorSettings(latency="instant", time_scale=60.0, seed=3)


def _rows(count: int) -> list[dict[str, str]]:
    rows = [
        {"custom_id": f"q{i}", "body": json.dumps(
            {"model": MODEL, "messages": [{"role": "user", "content": f"question {i}"}], "max_completion_tokens": 16})}
        for i in range(count)
    ]
    rows.insert(count // 2, {"custom_id": "broken", "body": "{not json"})
    rows.insert(count // 3, {"custom_id": "too-hot", "body": json.dumps(
        {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "temperature": 7})})
    # Poison: lines that once raised out of the runner (issue 18) and must be error rows like any other.
    rows.insert(count // 4, {"custom_id": "bad-url", "body": json.dumps({"model": MODEL, "messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://[x/a.png"}}]}]})})
    rows.insert(count // 5, {"custom_id": "deep", "body": "[" * 1000 + "]" * 1000})
    return rows


def _answer(ray, server, rows, **settings):
    from orchestrator.ray import groq_chat

    dataset = ray.data.from_items(rows)
    return groq_chat(dataset, concurrency=4, batch_size=32, api_key=unique_key(), base_url=server.base_url,
                     time_scale=SETTINGS.time_scale, **settings).take_all()


def _check_answers(out, rows, server) -> None:
    ids = Counter(row["custom_id"] for row in out)
    assert len(out) == len(rows) and set(ids) == {row["custom_id"] for row in rows}
    assert max(ids.values()) == 1, "a row came out twice"
    by_id = {row["custom_id"]: row for row in out}
    assert by_id["broken"]["error_code"] == "invalid_json" and by_id["broken"]["response"] is None
    assert by_id["too-hot"]["error_code"] == "invalid_request" and "temperature" in by_id["too-hot"]["error"]
    assert by_id["bad-url"]["error_code"] == "invalid_request" and by_id["deep"]["error_code"] == "invalid_json"
    good = [row for row in out if row["custom_id"] not in ("broken", "too-hot", "bad-url", "deep")]
    assert all(row["ok"] and row["status_code"] == 200 and row["request_id"] for row in good)
    assert all(json.loads(row["response"])["object"] == "chat.completion" for row in good)
    assert all(row["total_tokens"] == row["prompt_tokens"] + row["completion_tokens"] > 0 for row in good)
    stats = server.emulator.stats()
    assert stats.rate_limited < 0.01 * stats.requests, stats


def test_four_actors_on_the_ray_held_budget_answer_every_row_once(ray_cluster) -> None:
    rows = _rows(300)
    with served_emulator(SETTINGS) as server:
        out = _answer(ray_cluster, server, rows)
        _check_answers(out, rows, server)
        assert server.emulator.stats().requests == 300  # the bad rows never left their actor


def test_four_actors_on_a_redis_budget(ray_cluster, redis_url: str) -> None:
    rows = _rows(200)
    with served_emulator(SETTINGS) as server:
        _check_answers(_answer(ray_cluster, server, rows, redis_url=redis_url), rows, server)


def test_a_killed_actor_s_rows_are_run_again_and_answered_once(ray_cluster, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    marker = tmp_path / "died"
    monkeypatch.setenv("GROQ_ORCH_FAILPOINT", "ray-batch")
    monkeypatch.setenv("GROQ_ORCH_FAILPOINT_MARKER", str(marker))
    rows = _rows(150)
    with served_emulator(SETTINGS) as server:
        out = _answer(ray_cluster, server, rows)
        assert marker.exists(), "no actor died: the drill did not fire"
        _check_answers(out, rows, server)
        # The dead actor's batch was sent, answered and lost with it: Ray ran it again, so the emulator
        # saw more requests than rows, yet every row came out once.
        assert server.emulator.stats().requests > 150


def test_a_dict_body_column_and_rows_without_custom_id(ray_cluster) -> None:
    rows = [{"body": {"model": MODEL, "messages": [{"role": "user", "content": f"hi {i}"}]}, "tag": i}
            for i in range(10)]
    with served_emulator(SETTINGS) as server:
        out = _answer(ray_cluster, server, rows)
    assert sorted(row["tag"] for row in out) == list(range(10))  # the row's other columns pass through
    assert all(row["ok"] for row in out)


def test_raw_lines_read_with_read_text_as_the_readme_shows(ray_cluster, tmp_path) -> None:
    """The README's example: the example job file (several models, some with no limit the client knows)."""
    lines = (Path(__file__).resolve().parents[1] / "examples" / "chat-jobs.jsonl").read_text().splitlines()[:40]
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with served_emulator(SETTINGS) as server:
        from orchestrator.ray import groq_chat

        out = groq_chat(ray_cluster.data.read_text(str(path)), column="text", concurrency=2, api_key=unique_key(),
                        base_url=server.base_url, time_scale=SETTINGS.time_scale).take_all()
    assert sorted(row["custom_id"] for row in out) == sorted(json.loads(line)["custom_id"] for line in lines)
    assert all(row["ok"] for row in out), [row["error"] for row in out if not row["ok"]][:3]


def test_a_missing_column_is_named(ray_cluster) -> None:
    from orchestrator.ray import groq_chat

    with served_emulator(SETTINGS) as server:
        dataset = ray_cluster.data.from_items([{"prompt": "x"}])
        with pytest.raises(Exception, match="column"):
            groq_chat(dataset, concurrency=1, api_key=unique_key(), base_url=server.base_url).take_all()
