"""Any file of lines, however hostile, gives a summary and exactly one record per line (issue 18).

Hypothesis writes job files of arbitrary lines: random JSON of any depth (deep nesting built directly as a
string), random bytes, and valid jobs with one field replaced by any JSON value. Each file runs in-process
against the embedded emulator on a mock clock (autojump, so no real time passes), then runs again: the
first run must return a summary with one record per non-blank line under unique custom_ids, and the second
must find every line answered and append nothing.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import trio
import trio.testing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.batch._io import DuplicateCustomIdError
from tests.batch._hostile import chat, records, run

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=8,
)


@st.composite
def deep_lines(draw: st.DrawFn) -> bytes:
    depth = draw(st.integers(min_value=100, max_value=3000))
    shape = draw(st.sampled_from(["array", "object", "in_body", "unclosed"]))
    if shape == "array":
        return b"[" * depth + b"]" * depth
    if shape == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    if shape == "unclosed":
        return b'{"custom_id": "deep", "body": ' + b"[" * depth
    return b'{"custom_id": "deep-%d", "body": {"model": "openai/gpt-oss-20b", "messages": ' % depth + (
        b"[" * depth + b"]" * depth) + b"}}"


_BODY_FIELDS = ["model", "messages", "max_completion_tokens", "temperature", "top_p", "stream", "stream_options",
                "tools", "tool_choice", "response_format", "stop", "n", "seed", "logit_bias", "user", "reasoning_effort"]
_MESSAGE_FIELDS = ["role", "content", "name", "tool_calls", "tool_call_id"]
_ENVELOPE_FIELDS = ["custom_id", "method", "url", "body"]


@st.composite
def mutated_jobs(draw: st.DrawFn) -> bytes:
    """A valid batch job with one field (envelope, body or message) set to any JSON value."""
    value = draw(json_values)
    envelope: dict[str, Any] = {"custom_id": f"m-{draw(st.integers(0, 10**9))}", "method": "POST",
                                "url": "/v1/chat/completions", "body": chat()}
    where = draw(st.sampled_from(["envelope", "body", "message"]))
    if where == "envelope":
        envelope[draw(st.sampled_from(_ENVELOPE_FIELDS))] = value
    elif where == "body":
        envelope["body"][draw(st.sampled_from(_BODY_FIELDS))] = value
    else:
        envelope["body"]["messages"][0][draw(st.sampled_from(_MESSAGE_FIELDS))] = value
    return json.dumps(envelope).encode()


lines = st.one_of(
    json_values.map(lambda value: json.dumps(value).encode()),
    deep_lines(),
    st.binary(max_size=48),
    mutated_jobs(),
    mutated_jobs().map(lambda raw: raw[: len(raw) // 2]),  # a torn job line
    st.just(json.dumps({"custom_id": "plain", "body": chat()}).encode()),
)


def _non_blank(data: bytes) -> int:
    return sum(1 for line in data.split(b"\n") if line.strip())


def _run_twice(tmp_path: Path, batch: list[bytes], **options: Any) -> None:
    """Run ``batch`` twice: no exception escapes, one record per non-blank line with unique custom_ids,
    and the re-run appends nothing."""
    directory = Path(tempfile.mkdtemp(dir=tmp_path))
    source, target = directory / "jobs.jsonl", directory / "out.jsonl"
    data = b"".join(line + b"\n" for line in batch)
    source.write_bytes(data)
    expected = _non_blank(data)

    async def both() -> tuple[Any, Any]:
        try:
            first = await run(source, target, **options)
        except DuplicateCustomIdError:
            return None, None
        return first, await run(source, target, **options)

    first, second = trio.run(both, clock=trio.testing.MockClock(autojump_threshold=0))
    written = records(target)
    if first is None:  # two lines named the same custom_id: refused before anything was sent or written
        assert written == []
        return
    ids = [record["custom_id"] for record in written]
    assert (len(written), len(set(ids)), first.succeeded + first.failed, first.not_run) == (
        expected, expected, expected, 0)
    assert (second.already_done, second.succeeded + second.failed, len(records(target))) == (expected, 0, expected)


@given(st.lists(lines, min_size=1, max_size=6))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
def test_any_lines_get_one_record_each(tmp_path: Path, batch: list[bytes]) -> None:
    """No exception escapes; one record per non-blank line, unique custom_ids; a re-run appends nothing."""
    _run_twice(tmp_path, batch)


@given(st.lists(lines, min_size=1, max_size=5))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
def test_any_lines_through_the_batch_api(tmp_path: Path, batch: list[bytes]) -> None:
    """The same through the Batch API runner (which shares the line reading and recording)."""
    _run_twice(tmp_path, batch, via="batch-api", poll_interval=1.0)
