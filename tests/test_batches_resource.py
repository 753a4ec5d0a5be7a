"""``client.batches``, the Batch wire types, and the batch errors (``batch_failure``).

The wire is :class:`tests.test_files.FakeGroq` until the emulator serves ``/batches``; then the
end-to-end class at the bottom runs the same flow through the real in-process emulator.
"""

from __future__ import annotations

import json
import pickle
from typing import Any

import msgspec
import pytest
import trio

import orchestrator
from orchestrator import (
    Batch,
    BatchCancelledError,
    BatchError,
    BatchErrorDetail,
    BatchExpiredError,
    BatchList,
    BatchRequestCounts,
    BatchValidationError,
    GroqError,
    NotFoundError,
    ValidationError,
    batch_failure,
)
from orchestrator._batch_wire import BATCH_STATUSES, FINISHED_STATUSES, decode_batch, decode_batch_list

from .test_files import FakeGroq, fake_client


def batch(status: str, **fields: Any) -> Batch:
    """A batch as Groq would describe it, with ``status``."""
    base: dict[str, Any] = {
        "id": "batch_01", "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": "file_in",
        "completion_window": "24h", "status": status, "created_at": 1_700_000_000,
        "request_counts": {"total": 100, "completed": 80, "failed": 2},
    }
    base.update(fields)
    return decode_batch(json.dumps(base).encode())


class TestCreate:
    async def test_create_sends_the_parameters_and_decodes_a_batch(self) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            created = await groq.batches.create(input_file_id="file_01")
        (seen,) = fake.seen
        assert (seen.method, seen.path, seen.headers["content-type"]) == ("POST", "/batches", "application/json")
        assert json.loads(seen.body) == {
            "input_file_id": "file_01", "endpoint": "/v1/chat/completions", "completion_window": "24h",
        }
        assert isinstance(created, Batch) and created.status == "validating" and not created.finished
        assert created.request_counts == BatchRequestCounts(total=0, completed=0, failed=0)
        assert created.output_file_id is None and created.errors is None

    async def test_create_sends_metadata_endpoint_and_window(self) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            created = await groq.batches.create(
                input_file_id="file_01", endpoint="/v1/audio/transcriptions", completion_window="7d",
                metadata={"team": "search", "run": "42"},
            )
        assert json.loads(fake.seen[0].body) == {
            "input_file_id": "file_01", "endpoint": "/v1/audio/transcriptions", "completion_window": "7d",
            "metadata": {"team": "search", "run": "42"},
        }
        assert created.metadata == {"team": "search", "run": "42"} and created.completion_window == "7d"

    @pytest.mark.parametrize("window", ["24h", "25h", "48h", "168h", "1d", "2d", "7d"])
    async def test_windows_from_24h_to_7d_are_accepted(self, window: str) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            await groq.batches.create(input_file_id="file_01", completion_window=window)
        assert json.loads(fake.seen[0].body)["completion_window"] == window


class TestCreateValidation:
    @pytest.mark.parametrize(
        ("field", "kwargs"),
        [
            ("completion_window", {"completion_window": "12h"}),
            ("completion_window", {"completion_window": "23h"}),
            ("completion_window", {"completion_window": "8d"}),
            ("completion_window", {"completion_window": "169h"}),
            ("completion_window", {"completion_window": "abc"}),
            ("completion_window", {"completion_window": ""}),
            ("completion_window", {"completion_window": "0h"}),
            ("completion_window", {"completion_window": "24"}),
            ("completion_window", {"completion_window": "1w"}),
            ("completion_window", {"completion_window": " 24h"}),
            ("completion_window", {"completion_window": 24}),
            ("endpoint", {"endpoint": "/chat/completions"}),
            ("endpoint", {"endpoint": "/openai/v1/chat/completions"}),
            ("endpoint", {"endpoint": "/v1/embeddings"}),
            ("endpoint", {"endpoint": None}),
            ("metadata", {"metadata": [("team", "search")]}),
            ("metadata", {"metadata": "team=search"}),
            ("metadata['run']", {"metadata": {"run": 42}}),
            ("metadata[1]", {"metadata": {1: "one"}}),
            ("input_file_id", {"input_file_id": ""}),
            ("input_file_id", {"input_file_id": "file/../x"}),
            ("timeout", {"timeout": -1}),
        ],
        ids=lambda value: repr(value),
    )
    async def test_bad_parameters_are_refused_before_sending(self, field: str, kwargs: dict[str, Any]) -> None:
        """Each bad value raises ValidationError naming the field and quoting the value; nothing is sent."""
        fake = FakeGroq()
        kwargs = {"input_file_id": "file_01", **kwargs}
        async with fake_client(fake) as groq:
            with pytest.raises(ValidationError) as caught:
                await groq.batches.create(**kwargs)
        assert caught.value.field == field
        assert repr(caught.value.value)[:20] in str(caught.value)
        assert fake.seen == []

    async def test_the_window_message_says_what_is_supported(self) -> None:
        async with fake_client(FakeGroq()) as groq:
            with pytest.raises(ValidationError, match="shorter than 24h.*'24h' to '7d'"):
                await groq.batches.create(input_file_id="file_01", completion_window="12h")
            with pytest.raises(ValidationError, match="longer than 7d"):
                await groq.batches.create(input_file_id="file_01", completion_window="8d")
            with pytest.raises(ValidationError, match="'/v1/chat/completions'"):
                await groq.batches.create(input_file_id="file_01", endpoint="/chat/completions")


class TestRetrieveListCancel:
    async def test_retrieve_list_and_cancel_decode(self) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            first = await groq.batches.create(input_file_id="file_01")
            second = await groq.batches.create(input_file_id="file_02")
            found = await groq.batches.retrieve(first.id)
            page = await groq.batches.list()
            limited = await groq.batches.list(after=first.id, limit=10)
            cancelled = await groq.batches.cancel(second.id)
            with pytest.raises(NotFoundError, match="batch batch_99 not found"):
                await groq.batches.retrieve("batch_99")
        assert found == first
        assert isinstance(page, BatchList) and [b.id for b in page.data] == [first.id, second.id]
        assert (page.first_id, page.last_id, page.has_more) == (first.id, second.id, False)
        assert fake.seen[4].query == {"after": [first.id], "limit": ["10"]} and limited.data
        assert cancelled.status == "cancelling" and cancelled.cancelling_at == 1_700_000_100
        assert [(s.method, s.path) for s in fake.seen[2:]] == [
            ("GET", f"/batches/{first.id}"), ("GET", "/batches"), ("GET", "/batches"),
            ("POST", f"/batches/{second.id}/cancel"), ("GET", "/batches/batch_99"),
        ]

    async def test_a_500_is_retried(self) -> None:
        fake = FakeGroq(fail_first=[500])
        async with fake_client(fake) as groq:
            created = await groq.batches.create(input_file_id="file_01")
        assert len(fake.seen) == 2 and fake.seen[0].body == fake.seen[1].body and created.id == "batch_01"

    @pytest.mark.parametrize("batch_id", ["", " ", "a/b", "a?b", "a#b", "..", 7], ids=repr)
    async def test_a_malformed_batch_id_is_refused(self, batch_id: Any) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            for call in (groq.batches.retrieve, groq.batches.cancel):
                with pytest.raises(ValidationError) as caught:
                    await call(batch_id)
                assert caught.value.field == "batch_id" and caught.value.value == batch_id
            with pytest.raises(ValidationError) as caught:
                await groq.batches.list(after=batch_id)
            assert caught.value.field == "after"
        assert fake.seen == []

    @pytest.mark.parametrize("limit", [0, -1, True, "10", 2.5])
    async def test_a_bad_page_size_is_refused(self, limit: Any) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            with pytest.raises(ValidationError) as caught:
                await groq.batches.list(limit=limit)
        assert caught.value.field == "limit" and fake.seen == []


class TestWire:
    def test_a_full_batch_decodes_and_unknown_fields_are_ignored(self) -> None:
        raw = {
            "id": "batch_01", "object": "batch", "endpoint": "/v1/chat/completions", "input_file_id": "file_in",
            "completion_window": "24h", "status": "failed", "output_file_id": None, "error_file_id": "file_err",
            "created_at": 1, "in_progress_at": None, "expires_at": 86401, "finalizing_at": None, "completed_at": None,
            "failed_at": 2, "expired_at": None, "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": 3, "completed": 0, "failed": 3, "x_new": 1},
            "metadata": {"k": "v"},
            "errors": {"object": "list", "data": [{"code": "invalid", "message": "bad model", "line": 2,
                                                    "param": "body.model", "x_new": True}]},
            "x_groq": {"whatever": [1, 2]},
        }
        decoded = decode_batch(json.dumps(raw).encode())
        assert decoded.errors is not None
        assert decoded.errors.data == [BatchErrorDetail(code="invalid", message="bad model", line=2, param="body.model")]
        assert (decoded.failed_at, decoded.expires_at, decoded.error_file_id) == (2, 86401, "file_err")
        assert decoded.finished

    def test_a_minimal_batch_decodes_with_none_for_the_rest(self) -> None:
        minimal = decode_batch(b'{"id": "batch_1", "status": "in_progress"}')
        assert minimal.object == "batch" and minimal.request_counts is None and minimal.metadata is None
        assert not minimal.finished

    def test_a_new_status_does_not_break_decoding(self) -> None:
        assert decode_batch(b'{"id": "b", "status": "paused"}').status == "paused"

    def test_a_batch_without_an_id_is_a_decode_error(self) -> None:
        with pytest.raises(msgspec.ValidationError, match="id"):
            decode_batch(b'{"status": "completed"}')

    def test_a_batch_list_decodes(self) -> None:
        page = decode_batch_list(b'{"object": "list", "data": [{"id": "b1", "status": "completed"}]}')
        assert [b.id for b in page.data] == ["b1"] and page.has_more is False and page.last_id is None

    @pytest.mark.parametrize("status", sorted(BATCH_STATUSES))
    def test_finished_covers_exactly_the_terminal_statuses(self, status: str) -> None:
        assert batch(status).finished is (status in {"completed", "failed", "expired", "cancelled"})
        assert FINISHED_STATUSES <= BATCH_STATUSES


class TestBatchFailure:
    def test_completed_is_no_failure(self) -> None:
        assert batch_failure(batch("completed", output_file_id="file_out")) is None

    def test_failed_is_a_validation_error_naming_the_lines(self) -> None:
        errors = {"object": "list", "data": [
            {"code": "invalid_request", "message": "model is required", "line": 3, "param": "body.model"},
            {"message": "not JSON", "line": 7},
        ]}
        error = batch_failure(batch("failed", errors=errors, error_file_id="file_err"))
        assert isinstance(error, BatchValidationError) and isinstance(error, BatchError) and isinstance(error, GroqError)
        text = str(error)
        assert "line 3: model is required (body.model)" in text and "line 7: not JSON" in text
        assert "batch 'batch_01'" in text and "file_err" in text and "client.files.create" in text
        assert [e.line for e in error.errors] == [3, 7] and not error.retryable
        assert error.batch_status == "failed" and error.batch_id == "batch_01"

    def test_many_errors_are_summarised(self) -> None:
        data = [{"message": f"problem {n}", "line": n} for n in range(1, 13)]
        error = batch_failure(batch("failed", errors={"data": data}))
        assert isinstance(error, BatchValidationError)
        text = str(error)
        assert "line 5: problem 5" in text and "line 6:" not in text and "and 7 more" in text
        assert len(error.errors) == 12

    def test_failed_without_line_errors_still_explains(self) -> None:
        error = batch_failure(batch("failed"))
        assert isinstance(error, BatchValidationError) and error.errors == []
        assert "named no line" in str(error)

    def test_expired_points_at_the_output_and_says_to_resubmit_the_rest(self) -> None:
        error = batch_failure(batch("expired", output_file_id="file_out", error_file_id="file_err"))
        assert isinstance(error, BatchExpiredError)
        text = str(error)
        assert "expired" in text and "24h" in text and "80 of 100 lines done" in text
        assert "output_file_id 'file_out'" in text and "resubmit the rest" in text and "7d" in text
        assert error.retryable and error.output_file_id == "file_out"

    def test_expired_with_nothing_done_says_so(self) -> None:
        error = batch_failure(batch("expired", request_counts={"total": 5, "completed": 0, "failed": 0}))
        assert isinstance(error, BatchExpiredError) and "no line finished" in str(error).lower()

    def test_cancelled(self) -> None:
        error = batch_failure(batch("cancelled", output_file_id="file_out"))
        assert isinstance(error, BatchCancelledError) and not error.retryable
        assert "was cancelled with 80 of 100 lines done, 2 failed" in str(error) and "file_out" in str(error)

    @pytest.mark.parametrize("status", ["validating", "in_progress", "finalizing", "cancelling", "paused"])
    def test_an_unfinished_batch_is_a_value_error(self, status: str) -> None:
        with pytest.raises(ValueError, match=f"'{status}' is not a finished status.*batch.finished"):
            batch_failure(batch(status))

    def test_a_plain_dict_works_too(self) -> None:
        error = batch_failure({"id": "b", "status": "failed", "errors": {"data": [{"line": 1, "message": "x"}]}})
        assert isinstance(error, BatchValidationError) and "line 1: x" in str(error)

    @pytest.mark.parametrize("status", ["failed", "expired", "cancelled"])
    def test_batch_errors_pickle(self, status: str) -> None:
        error = batch_failure(batch(status, errors={"data": [{"line": 4, "message": "m"}]}))
        clone = pickle.loads(pickle.dumps(error))
        assert type(clone) is type(error) and str(clone) == str(error) and clone.batch_id == "batch_01"

    def test_the_errors_are_public(self) -> None:
        for name in ("BatchError", "BatchValidationError", "BatchExpiredError", "BatchCancelledError", "batch_failure"):
            assert name in orchestrator.__all__ and getattr(orchestrator, name).__doc__


MODEL = "openai/gpt-oss-20b"


def request_lines(count: int, *, broken: dict[int, bytes] | None = None) -> bytes:
    """A JSONL batch input of ``count`` chat requests; ``broken`` replaces 1-based lines."""
    lines = [
        json.dumps({"custom_id": f"req-{n}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": MODEL, "messages": [{"role": "user", "content": f"Say {n}"}],
                             "max_completion_tokens": 50}}).encode()
        for n in range(1, count + 1)
    ]
    for number, text in (broken or {}).items():
        lines[number - 1] = text
    return b"\n".join(lines) + b"\n"


async def wait_until_finished(groq: orchestrator.Client, batch_id: str) -> Batch:
    """Poll like a caller would, one (virtual) second apart."""
    for _ in range(600):
        current = await groq.batches.retrieve(batch_id)
        if current.finished:
            return current
        await trio.sleep(1)
    raise AssertionError(f"batch {batch_id} did not finish")


class TestThroughTheEmulator:
    """The whole Batch API flow against the real in-process emulator, on trio's virtual clock.

    Inputs are uploaded as bytes and results read with ``aiter_lines``: neither touches a thread,
    which the autojump clock would take for idle time.
    """

    async def test_a_batch_runs_to_completion(self, autojump_clock: trio.abc.Clock) -> None:
        from .helpers import client_for, make_emulator

        async with client_for(make_emulator()) as groq:
            uploaded = await groq.files.create(file=("requests.jsonl", request_lines(5)))
            created = await groq.batches.create(input_file_id=uploaded.id, metadata={"run": "e2e"})
            assert created.status == "validating" and created.metadata == {"run": "e2e"}
            listed = await groq.batches.list()
            done = await wait_until_finished(groq, created.id)
            assert done.output_file_id is not None
            async with groq.files.content(done.output_file_id) as content:
                results = [json.loads(line) async for line in content.aiter_lines()]
        assert created.id in [b.id for b in listed.data]
        assert done.status == "completed" and batch_failure(done) is None
        assert done.request_counts == BatchRequestCounts(total=5, completed=5, failed=0)
        assert done.completed_at is not None and done.in_progress_at is not None
        assert sorted(r["custom_id"] for r in results) == [f"req-{n}" for n in range(1, 6)]
        assert all(r["response"]["status_code"] == 200 for r in results)

    async def test_a_bad_line_fails_validation_naming_it(self, autojump_clock: trio.abc.Clock) -> None:
        from .helpers import client_for, make_emulator

        broken = {2: b"{not json", 4: json.dumps({"custom_id": "x", "method": "GET", "url": "/v1/chat/completions",
                                                     "body": {}}).encode()}
        async with client_for(make_emulator()) as groq:
            uploaded = await groq.files.create(file=request_lines(4, broken=broken))
            created = await groq.batches.create(input_file_id=uploaded.id)
            done = await wait_until_finished(groq, created.id)
        error = batch_failure(done)
        assert done.status == "failed" and isinstance(error, BatchValidationError)
        assert [detail.line for detail in error.errors] == [2, 4]
        assert "line 2:" in str(error) and "line 4:" in str(error) and "(method)" in str(error)

    async def test_an_expired_batch_keeps_its_finished_lines(self, autojump_clock: trio.abc.Clock) -> None:
        from .helpers import client_for, make_emulator

        async with client_for(make_emulator(batch_expire_fraction=0.5)) as groq:
            uploaded = await groq.files.create(file=request_lines(6))
            created = await groq.batches.create(input_file_id=uploaded.id)
            done = await wait_until_finished(groq, created.id)
            assert done.output_file_id is not None
            async with groq.files.content(done.output_file_id) as content:
                finished = [line async for line in content.aiter_lines()]
        error = batch_failure(done)
        assert isinstance(error, BatchExpiredError) and error.output_file_id == done.output_file_id
        assert len(finished) == 3 and "resubmit the rest" in str(error)

    async def test_a_cancelled_batch(self, autojump_clock: trio.abc.Clock) -> None:
        from .helpers import client_for, make_emulator

        async with client_for(make_emulator()) as groq:
            uploaded = await groq.files.create(file=request_lines(3))
            created = await groq.batches.create(input_file_id=uploaded.id)
            cancelling = await groq.batches.cancel(created.id)
            done = await wait_until_finished(groq, created.id)
        assert cancelling.status in ("cancelling", "cancelled")
        assert done.status == "cancelled" and isinstance(batch_failure(done), BatchCancelledError)

    async def test_an_audio_batch_is_accepted(self, autojump_clock: trio.abc.Clock) -> None:
        """An audio endpoint passes our check (Groq's docs list it) and the emulator's: the batch is created."""
        from .helpers import client_for, make_emulator

        async with client_for(make_emulator()) as groq:
            uploaded = await groq.files.create(file=request_lines(1))
            created = await groq.batches.create(input_file_id=uploaded.id, endpoint="/v1/audio/transcriptions")
        assert (created.endpoint, created.status) == ("/v1/audio/transcriptions", "validating")
