"""``client.files``: streamed multipart uploads, streamed content and downloads, validation.

Until the emulator serves ``/files``, :class:`FakeGroq` stands in for Groq: an httpx transport
that implements just enough of the Files and Batch API wire (it parses the multipart upload with
the emulator's strict parser, answers JSON, and streams file content in small pieces). It reads
request bodies chunk by chunk, so a test can see how an upload was streamed.

Uploads read the file in worker threads; trio's autojump clock would take a thread wait for idle
time and jump to the request deadline, so these tests run on the real clock with retries that do
wait (``RetryConfig(initial_delay=1e-6)``): nothing here sleeps.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import trio

import orchestrator
from orchestrator import FileContent, FileDeleted, FileList, FileObject, NotFoundError, StreamError, ValidationError
from orchestrator._files import MAX_FILE_BYTES, _StreamedUpload, _upload_body
from orchestrator.emulator._multipart import parse_multipart

from .helpers import EMULATOR_URL, KEY

PREFIX = "/openai/v1"
MiB = 1024 * 1024


class Pieces(httpx.AsyncByteStream):
    """A response body yielded ``size`` bytes at a time (or from a generator); records its closing."""

    def __init__(self, data: bytes | Callable[[], AsyncIterator[bytes]], size: int, owner: FakeGroq) -> None:
        self.data = data
        self.size = size
        self.owner = owner
        owner.open_streams += 1

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if callable(self.data):
            async for piece in self.data():
                yield piece
            return
        for start in range(0, len(self.data), self.size):
            yield self.data[start : start + self.size]

    async def aclose(self) -> None:
        self.owner.open_streams -= 1


class Seen:
    """One request as the fake received it: the body's chunks (or only their sizes and hash)."""

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: httpx.Headers) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.sizes: list[int] = []
        self.body = b""
        self.length = 0
        self.sha256 = ""


class FakeGroq(httpx.AsyncBaseTransport):
    """Just enough of Groq's ``/files`` and ``/batches`` for the client.

    Args:
        fail_first: statuses to answer the first requests with (a 500 then success, say).
        keep_bodies: keep each body (False: only its length and hash, for the memory tests).
        piece_size: how many bytes each chunk of file content carries.
    """

    def __init__(self, *, fail_first: list[int] | None = None, keep_bodies: bool = True, piece_size: int = 64 * 1024) -> None:
        self.fail_first = list(fail_first or [])
        self.keep_bodies = keep_bodies
        self.piece_size = piece_size
        self.files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.seen: list[Seen] = []
        self.open_streams = 0
        #: ``file_id -> body generator`` serving content instead of the stored bytes.
        self.content_streams: dict[str, Callable[[], AsyncIterator[bytes]]] = {}
        #: ``file_id -> headers`` sent with its content.
        self.content_headers: dict[str, dict[str, str]] = {}

    def add_file(self, data: bytes, *, file_id: str | None = None, purpose: str = "batch_output") -> str:
        file_id = file_id or f"file_{len(self.files) + 1:02d}"
        record = {"id": file_id, "object": "file", "bytes": len(data), "created_at": 1_700_000_000,
                  "filename": f"{file_id}.jsonl", "purpose": purpose, "x_vendor_field": {"new": True}}
        self.files[file_id] = (record, data)
        return file_id

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        seen = Seen(request.method, request.url.path.removeprefix(PREFIX), parse_qs(request.url.query.decode()), request.headers)
        hasher = hashlib.sha256()
        parts = []
        async for chunk in request.stream:  # type: ignore[union-attr]
            seen.sizes.append(len(chunk))
            seen.length += len(chunk)
            hasher.update(chunk)
            if self.keep_bodies:
                parts.append(chunk)
        seen.body = b"".join(parts)
        seen.sha256 = hasher.hexdigest()
        self.seen.append(seen)
        if self.fail_first:
            status = self.fail_first.pop(0)
            return self._json(status, {"error": {"message": f"scripted {status}", "type": "server_error"}})
        return self._route(seen, request)

    def _json(self, status: int, body: Any) -> httpx.Response:
        return httpx.Response(status, json=body, headers={"x-request-id": f"req_{len(self.seen)}"})

    def _missing(self, what: str, ident: str) -> httpx.Response:
        return self._json(404, {"error": {"message": f"{what} {ident} not found", "type": "invalid_request_error",
                                          "code": "not_found"}})

    def _route(self, seen: Seen, request: httpx.Request) -> httpx.Response:
        parts = seen.path.strip("/").split("/")
        match (seen.method, parts):
            case ("POST", ["files"]):
                if not self.keep_bodies:
                    return self._json(200, {"id": "file_big", "object": "file", "bytes": seen.length, "purpose": "batch"})
                form = parse_multipart(request.headers["content-type"], seen.body, max_size=2 * MAX_FILE_BYTES)
                upload = form.files["file"]
                file_id = self.add_file(upload.data, purpose=form.value("purpose") or "")
                record = self.files[file_id][0]
                record["filename"] = upload.filename
                return self._json(200, record)
            case ("GET", ["files"]):
                wanted = seen.query.get("purpose", [None])[0]
                data = [record for record, _ in self.files.values() if wanted in (None, record["purpose"])]
                return self._json(200, {"object": "list", "data": data})
            case ("GET", ["files", file_id]):
                return self._json(200, self.files[file_id][0]) if file_id in self.files else self._missing("file", file_id)
            case ("DELETE", ["files", file_id]):
                if self.files.pop(file_id, None) is None:
                    return self._missing("file", file_id)
                return self._json(200, {"id": file_id, "object": "file", "deleted": True})
            case ("GET", ["files", file_id, "content"]):
                if file_id in self.content_streams:
                    body: bytes | Callable[[], AsyncIterator[bytes]] = self.content_streams[file_id]
                elif file_id in self.files:
                    body = self.files[file_id][1]
                else:
                    return self._missing("file", file_id)
                headers = {"content-type": "application/octet-stream", "x-request-id": "req_content",
                           **self.content_headers.get(file_id, {})}
                return httpx.Response(200, headers=headers, stream=Pieces(body, self.piece_size, self))
            case ("POST", ["batches"]):
                params = json.loads(seen.body)
                batch_id = f"batch_{len(self.batches) + 1:02d}"
                self.batches[batch_id] = {
                    "id": batch_id, "object": "batch", "status": "validating", "created_at": 1_700_000_000,
                    "request_counts": {"total": 0, "completed": 0, "failed": 0}, "x_groq_new": 1, **params,
                }
                return self._json(200, self.batches[batch_id])
            case ("GET", ["batches"]):
                data = list(self.batches.values())
                return self._json(200, {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                                        "last_id": data[-1]["id"] if data else None, "has_more": False})
            case ("GET", ["batches", batch_id]):
                found = self.batches.get(batch_id)
                return self._json(200, found) if found else self._missing("batch", batch_id)
            case ("POST", ["batches", batch_id, "cancel"]):
                if batch_id not in self.batches:
                    return self._missing("batch", batch_id)
                self.batches[batch_id].update(status="cancelling", cancelling_at=1_700_000_100)
                return self._json(200, self.batches[batch_id])
        return self._json(404, {"error": {"message": f"no route {seen.method} {seen.path}"}})


#: Retries after a microsecond: no backoff to wait through (and nothing that needs a mock clock).
NO_WAIT = orchestrator.RetryConfig(initial_delay=1e-6, max_delay=1e-6, jitter=False)


@asynccontextmanager
async def fake_client(fake: FakeGroq, **overrides: Any) -> AsyncIterator[orchestrator.Client]:
    """``open_client`` sending through ``fake`` (our own httpx client, its transport swapped)."""
    overrides.setdefault("retry_config", NO_WAIT)
    async with orchestrator.open_client(api_key=KEY, base_url=EMULATOR_URL, transport=fake, **overrides) as client:
        yield client


def jsonl(lines: int, width: int = 80) -> bytes:
    """A JSONL file of ``lines`` requests, each about ``width`` bytes, all different."""
    return b"".join(
        json.dumps({"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"pad": "x" * (width - 70)}}).encode() + b"\n"
        for i in range(lines)
    )


def form_of(seen: Seen) -> Any:
    return parse_multipart(seen.headers["content-type"], seen.body, max_size=2 * MAX_FILE_BYTES)


class TestUpload:
    async def test_a_path_is_streamed_as_multipart_with_its_exact_length(self, tmp_path: Path) -> None:
        """A 3.5 MiB file on disk goes out as valid multipart (purpose, then file) in reads of at most 1 MiB."""
        data = jsonl(45_000)
        assert len(data) > 3 * MiB
        path = tmp_path / "requests.jsonl"
        path.write_bytes(data)
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            uploaded = await groq.files.create(file=path, purpose="batch")
        (seen,) = fake.seen
        assert seen.method == "POST" and seen.path == "/files"
        assert int(seen.headers["content-length"]) == len(seen.body) and "transfer-encoding" not in seen.headers
        form = form_of(seen)
        assert form.value("purpose") == "batch"
        assert form.files["file"].filename == "requests.jsonl" and form.files["file"].data == data
        assert seen.body.index(b'name="purpose"') < seen.body.index(b'name="file"')
        assert max(seen.sizes) <= MiB and len(seen.sizes) >= 6  # preamble, four reads, closing boundary
        assert isinstance(uploaded, FileObject) and uploaded.bytes == len(data) and uploaded.filename == "requests.jsonl"

    async def test_a_retry_after_a_500_sends_the_whole_file_again(self, tmp_path: Path) -> None:
        """The body stream restarts from the first byte on every attempt."""
        data = jsonl(20_000)
        path = tmp_path / "requests.jsonl"
        path.write_bytes(data)
        fake = FakeGroq(fail_first=[500])
        async with fake_client(fake) as groq:
            uploaded = await groq.files.create(file=str(path))
        first, second = fake.seen
        assert first.body == second.body and form_of(second).files["file"].data == data
        assert first.length == int(first.headers["content-length"]) == second.length
        assert uploaded.id in fake.files

    async def test_a_seekable_file_is_resent_from_where_it_stood(self, tmp_path: Path) -> None:
        """An open binary file streams from its position at the call, again on the retry."""
        path = tmp_path / "with-header.jsonl"
        path.write_bytes(b"HEADER\n" + jsonl(100))
        fake = FakeGroq(fail_first=[503])
        with path.open("rb") as file:
            file.readline()  # the caller skipped a header line
            async with fake_client(fake) as groq:
                await groq.files.create(file=file)
        for seen in fake.seen:
            assert form_of(seen).files["file"] == ("with-header.jsonl", "application/octet-stream", jsonl(100))

    @pytest.mark.parametrize(
        ("make", "filename"),
        [
            (lambda data: data, "batch.jsonl"),
            (lambda data: ("mine.jsonl", data), "mine.jsonl"),
            (lambda data: io.BytesIO(data), "batch.jsonl"),
        ],
        ids=["bytes", "pair", "bytesio"],
    )
    async def test_bytes_pairs_and_binary_files(self, make: Callable[[bytes], Any], filename: str) -> None:
        """Every input shape arrives as the same valid multipart upload."""
        data = jsonl(50)
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            uploaded = await groq.files.create(file=make(data))
        form = form_of(fake.seen[0])
        assert form.files["file"].filename == filename and form.files["file"].data == data
        assert form.value("purpose") == "batch" and uploaded.purpose == "batch"

    async def test_an_open_file_keeps_its_name(self, tmp_path: Path) -> None:
        """``open(path, 'rb')`` uploads under the file's base name."""
        path = tmp_path / "named.jsonl"
        path.write_bytes(jsonl(3))
        fake = FakeGroq()
        with path.open("rb") as file:
            async with fake_client(fake) as groq:
                await groq.files.create(file=file)
        assert form_of(fake.seen[0]).files["file"].filename == "named.jsonl"

    async def test_an_odd_filename_is_escaped_like_httpx_does(self) -> None:
        """Quotes and line breaks in a filename cannot break the part's headers."""
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            await groq.files.create(file=('we "quote"\r\nX-Evil: 1.jsonl', b"{}\n"))
        assert b'filename="we %22quote%22%0D%0AX-Evil: 1.jsonl"' in fake.seen[0].body
        assert form_of(fake.seen[0]).files["file"].data == b"{}\n"

    async def test_memory_stays_flat_for_a_big_upload(self, tmp_path: Path) -> None:
        """A 48 MiB upload from disk never holds more than a few MiB at once."""
        path = tmp_path / "big.jsonl"
        with path.open("wb") as file:
            file.truncate(48 * MiB)
        fake = FakeGroq(keep_bodies=False)
        async with fake_client(fake) as groq:
            tracemalloc.start()
            try:
                await groq.files.create(file=path)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        (seen,) = fake.seen
        assert seen.length == int(seen.headers["content-length"]) > 48 * MiB
        assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"

    async def test_the_body_source_yields_the_preamble_the_file_and_the_end(self, tmp_path: Path) -> None:
        """The body source itself: a fresh iterator per open(), its pieces adding up to the declared length."""
        path = tmp_path / "x.jsonl"
        path.write_bytes(b"a" * (2 * MiB + 5))
        body, headers = await _upload_body(path, "batch")
        assert isinstance(body, _StreamedUpload) and "x.jsonl" in repr(body)
        for _ in range(2):
            pieces = [piece async for piece in body.open()]
            assert [len(piece) for piece in pieces[1:-1]] == [MiB, MiB, 5]
            assert sum(map(len, pieces)) == body.length == int(headers["content-length"])
            assert pieces[-1].startswith(b"\r\n--") and pieces[-1].endswith(b"--\r\n")

    async def test_a_file_that_changes_size_mid_upload_is_refused(self, tmp_path: Path) -> None:
        """The declared length is a promise: a file that grew since is refused, not sent long."""
        path = tmp_path / "growing.jsonl"
        path.write_bytes(b"a" * 100)
        body, _ = await _upload_body(path, "batch")
        assert isinstance(body, _StreamedUpload)
        path.write_bytes(b"a" * 200)
        with pytest.raises(ValidationError, match="changed size") as caught:
            _ = [piece async for piece in body.open()]
        assert caught.value.field == "file"


    async def test_a_file_object_closed_before_a_retry_fails_as_a_validation_error(self) -> None:
        """A caller's file closed under the upload is the product's error, never a stray ValueError."""
        file = io.BytesIO(b"{}\n")
        body, _ = await _upload_body(file, "batch")
        assert isinstance(body, _StreamedUpload)
        file.close()
        with pytest.raises(ValidationError, match="could not be read") as caught:
            _ = [piece async for piece in body.open()]
        assert caught.value.field == "file"


class TestUploadValidation:
    async def test_a_purpose_other_than_batch_is_refused(self) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            with pytest.raises(ValidationError) as caught:
                await groq.files.create(file=b"{}\n", purpose="fine-tune")  # type: ignore[arg-type]
        assert caught.value.field == "purpose" and caught.value.value == "fine-tune"
        assert "'fine-tune'" in str(caught.value) and "batch" in str(caught.value)
        assert fake.seen == []

    async def test_a_missing_file_is_refused(self, tmp_path: Path) -> None:
        fake = FakeGroq()
        missing = tmp_path / "nope.jsonl"
        async with fake_client(fake) as groq:
            with pytest.raises(ValidationError, match="does not exist") as caught:
                await groq.files.create(file=missing)
            with pytest.raises(ValidationError, match="not a regular file"):
                await groq.files.create(file=tmp_path)
        assert caught.value.field == "file" and caught.value.value == str(missing)
        assert fake.seen == []

    async def test_a_file_over_100_mb_is_refused_naming_size_and_limit(self, tmp_path: Path) -> None:
        """A sparse 101 MiB file: refused before a byte is sent, with its size and Groq's limit."""
        path = tmp_path / "huge.jsonl"
        with path.open("wb") as file:
            file.truncate(101 * MiB)
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            with pytest.raises(ValidationError) as caught:
                await groq.files.create(file=path)
            with path.open("rb") as file, pytest.raises(ValidationError, match="100 MB"):
                await groq.files.create(file=file)
        text = str(caught.value)
        assert str(101 * MiB) in text and str(MAX_FILE_BYTES) in text and "100 MB" in text
        assert caught.value.field == "file" and fake.seen == []

    async def test_exactly_100_mib_is_allowed_by_the_check(self, tmp_path: Path) -> None:
        """The limit is inclusive: the body is prepared for a file of exactly the limit."""
        path = tmp_path / "limit.jsonl"
        with path.open("wb") as file:
            file.truncate(MAX_FILE_BYTES)
        body, headers = await _upload_body(path, "batch")
        assert isinstance(body, _StreamedUpload) and int(headers["content-length"]) > MAX_FILE_BYTES

    @pytest.mark.parametrize(
        "file",
        [42, None, ("only-a-name",), ("", b"x"), ("name.jsonl", "text, not bytes"), io.StringIO("text mode")],
        ids=["int", "none", "short-pair", "empty-name", "str-data", "text-file"],
    )
    async def test_what_is_not_a_file_is_refused(self, file: Any) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            with pytest.raises(ValidationError) as caught:
                await groq.files.create(file=file)
        assert caught.value.field == "file" and fake.seen == []


BAD_IDS = ["", " ", "file 1", " file_1", "file_1\n", "a/b", "../x", "a?b", "a#b", "a%2Fb", "..", 42, None]


class TestIds:
    @pytest.mark.parametrize("file_id", BAD_IDS, ids=repr)
    async def test_a_malformed_file_id_is_refused_before_sending(self, file_id: Any, tmp_path: Path) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            calls = [
                lambda: groq.files.retrieve(file_id),
                lambda: groq.files.info(file_id),
                lambda: groq.files.delete(file_id),
                lambda: groq.files.download(file_id, tmp_path / "out.jsonl"),
            ]
            for call in calls:
                with pytest.raises(ValidationError) as caught:
                    await call()
                assert caught.value.field == "file_id" and caught.value.value == file_id
            with pytest.raises(ValidationError, match="file_id"):
                groq.files.content(file_id)
        assert fake.seen == []


class TestMetadata:
    async def test_list_retrieve_info_delete_decode(self) -> None:
        """Each call decodes into its Struct; Groq's extra fields are ignored."""
        fake = FakeGroq()
        first = fake.add_file(b"a\n", purpose="batch")
        second = fake.add_file(b"b\n", purpose="batch_output")
        async with fake_client(fake) as groq:
            listed = await groq.files.list()
            outputs = await groq.files.list(purpose="batch_output")
            found = await groq.files.retrieve(first)
            info = await groq.files.info(second)
            deleted = await groq.files.delete(first)
            with pytest.raises(NotFoundError, match="not found"):
                await groq.files.retrieve(first)
        assert isinstance(listed, FileList) and [f.id for f in listed.data] == [first, second]
        assert [f.id for f in outputs.data] == [second] and fake.seen[1].query == {"purpose": ["batch_output"]}
        assert isinstance(found, FileObject) and (found.id, found.bytes, found.object, found.purpose) == (first, 2, "file", "batch")
        assert info.id == second and info.purpose == "batch_output"
        assert isinstance(deleted, FileDeleted) and deleted.deleted and deleted.id == first
        assert [(s.method, s.path) for s in fake.seen] == [
            ("GET", "/files"), ("GET", "/files"), ("GET", f"/files/{first}"), ("GET", f"/files/{second}"),
            ("DELETE", f"/files/{first}"), ("GET", f"/files/{first}"),
        ]

    async def test_a_file_object_with_only_an_id_decodes(self) -> None:
        """Every field but the id is optional."""
        from orchestrator._batch_wire import decode_file

        assert decode_file(b'{"id": "file_1"}') == FileObject(id="file_1")


class TestContent:
    async def test_aiter_bytes_streams_the_body_chunk_by_chunk(self) -> None:
        """The content arrives in the pieces the server sent, and the response is closed on exit."""
        fake = FakeGroq(piece_size=7)
        file_id = fake.add_file(jsonl(10))
        async with fake_client(fake) as groq:
            async with groq.files.content(file_id) as content:
                assert isinstance(content, FileContent) and fake.open_streams == 1
                assert content.request_id == "req_content" and content.headers["content-type"] == "application/octet-stream"
                chunks = [chunk async for chunk in content.aiter_bytes()]
            assert fake.open_streams == 0
        assert b"".join(chunks) == jsonl(10) and len(chunks) == -(-len(jsonl(10)) // 7)
        assert fake.seen[0].headers["accept"] == "application/octet-stream"

    @pytest.mark.parametrize("piece_size", [1, 2, 3, 5, 8, 1000])
    async def test_aiter_lines_yields_whole_lines_across_chunk_boundaries(self, piece_size: int) -> None:
        """Lines split anywhere, CRLF split between chunks, blank lines and a last line without newline."""
        body = b'{"a": 1}\n{"b": 2}\r\n\n' + b"x" * 50 + b'\n{"c": 3}'
        fake = FakeGroq(piece_size=piece_size)
        file_id = fake.add_file(body)
        async with fake_client(fake) as groq:
            async with groq.files.content(file_id) as content:
                lines = [line async for line in content.aiter_lines()]
        assert lines == [b'{"a": 1}', b'{"b": 2}', b"", b"x" * 50, b'{"c": 3}']

    async def test_a_trailing_newline_adds_no_empty_line(self) -> None:
        fake = FakeGroq(piece_size=4)
        file_id = fake.add_file(b"one\ntwo\n")
        async with fake_client(fake) as groq:
            async with groq.files.content(file_id) as content:
                assert [line async for line in content.aiter_lines()] == [b"one", b"two"]

    async def test_reading_outside_the_block_is_refused(self) -> None:
        fake = FakeGroq()
        file_id = fake.add_file(b"x\n")
        async with fake_client(fake) as groq:
            content = groq.files.content(file_id)
            with pytest.raises(RuntimeError, match="async with"):
                _ = [chunk async for chunk in content.aiter_bytes()]
        assert fake.seen == []

    async def test_an_unknown_file_raises_not_found_and_leaves_nothing_open(self) -> None:
        fake = FakeGroq()
        async with fake_client(fake) as groq:
            with pytest.raises(NotFoundError, match="file file_nope not found"):
                async with groq.files.content("file_nope"):
                    pass
        assert fake.open_streams == 0

    async def test_a_500_before_the_body_is_retried(self) -> None:
        fake = FakeGroq(fail_first=[500, 502])
        file_id = fake.add_file(b"ok\n")
        async with fake_client(fake) as groq:
            async with groq.files.content(file_id) as content:
                assert [line async for line in content.aiter_lines()] == [b"ok"]
        assert len(fake.seen) == 3


def breaking_body(good: bytes) -> Callable[[], AsyncIterator[bytes]]:
    """A body that yields ``good`` in two pieces, then drops the connection."""

    async def pieces() -> AsyncIterator[bytes]:
        yield good[: len(good) // 2]
        yield good[len(good) // 2 :]
        raise httpx.ReadError("connection reset by peer")

    return pieces


class TestDownload:
    async def test_download_streams_into_place(self, tmp_path: Path) -> None:
        """The bytes land under the final name, the count is returned, no .part is left."""
        data = jsonl(30_000)
        fake = FakeGroq()
        file_id = fake.add_file(data)
        target = tmp_path / "out.jsonl"
        async with fake_client(fake) as groq:
            written = await groq.files.download(file_id, target)
        assert written == len(data) and target.read_bytes() == data
        assert not (tmp_path / "out.jsonl.part").exists() and fake.open_streams == 0

    async def test_a_stream_that_breaks_midway_leaves_no_file(self, tmp_path: Path) -> None:
        """httpx.MockTransport whose body raises mid-way: StreamError, no final file, no .part."""

        def handler(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, stream=_Generated(breaking_body(b"line\n" * 1000)))

        target = tmp_path / "out.jsonl"
        async with orchestrator.open_client(
            api_key=KEY, base_url=EMULATOR_URL, transport=httpx.MockTransport(handler), retry_config=NO_WAIT
        ) as groq:
            with pytest.raises(StreamError, match="broke off after 5000 bytes") as caught:
                await groq.files.download("file_1", target)
        assert "ReadError" in str(caught.value)
        assert list(tmp_path.iterdir()) == []

    async def test_a_failed_download_keeps_an_older_file_intact(self, tmp_path: Path) -> None:
        """What was under the final name before survives a broken transfer."""
        fake = FakeGroq()
        fake.content_streams["file_1"] = breaking_body(b"new\n" * 100)
        target = tmp_path / "out.jsonl"
        target.write_bytes(b"old\n")
        async with fake_client(fake) as groq:
            with pytest.raises(StreamError):
                await groq.files.download("file_1", target)
        assert target.read_bytes() == b"old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl"]

    async def test_a_body_shorter_than_its_content_length_is_a_broken_stream(self, tmp_path: Path) -> None:
        fake = FakeGroq()
        file_id = fake.add_file(b"x" * 100)
        fake.content_headers[file_id] = {"content-length": "150"}
        async with fake_client(fake) as groq:
            with pytest.raises(StreamError, match="100 of 150 bytes"):
                await groq.files.download(file_id, tmp_path / "out.jsonl")
        assert list(tmp_path.iterdir()) == []

    async def test_a_bad_path_is_refused_before_sending(self, tmp_path: Path) -> None:
        fake = FakeGroq()
        file_id = fake.add_file(b"x\n")
        async with fake_client(fake) as groq:
            for path in (tmp_path, tmp_path / "no-such-dir" / "out.jsonl", 42):
                with pytest.raises(ValidationError) as caught:
                    await groq.files.download(file_id, path)  # type: ignore[arg-type]
                assert caught.value.field == "path"
        assert fake.seen == []

    async def test_memory_stays_flat_for_a_big_download(self, tmp_path: Path) -> None:
        """48 MiB streamed in 64 KiB pieces never holds more than a few MiB at once."""
        piece = b"y" * (64 * 1024)

        async def body() -> AsyncIterator[bytes]:
            for _ in range(48 * 16):
                yield piece

        fake = FakeGroq()
        fake.content_streams["file_big"] = body
        target = tmp_path / "big.jsonl"
        async with fake_client(fake) as groq:
            tracemalloc.start()
            try:
                written = await groq.files.download("file_big", target)
                _, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
        assert written == 48 * MiB == os.path.getsize(target)
        assert peak < 8 * MiB, f"peak {peak / MiB:.1f} MiB"

    async def test_a_cancelled_download_removes_its_part_file(self, tmp_path: Path) -> None:
        """Cancelled mid-transfer: the .part file is removed and nothing appears under the final name."""
        started = trio.Event()

        async def body() -> AsyncIterator[bytes]:
            yield b"first\n" * 10
            started.set()
            await trio.sleep_forever()
            yield b""  # pragma: no cover

        fake = FakeGroq()
        fake.content_streams["file_1"] = body
        async with fake_client(fake) as groq:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(groq.files.download, "file_1", tmp_path / "out.jsonl")
                await started.wait()
                await trio.testing.wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
        assert list(tmp_path.iterdir()) == [] and fake.open_streams == 0


class _Generated(httpx.AsyncByteStream):
    def __init__(self, make: Callable[[], AsyncIterator[bytes]]) -> None:
        self.make = make

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for piece in self.make():
            yield piece


async def test_the_client_has_files_and_batches() -> None:
    """The resources hang off the client like chat, audio and models do; ``info`` is the SDK's name for retrieve."""
    from orchestrator._files import Batches, Files

    async with fake_client(FakeGroq()) as groq:
        assert isinstance(groq.files, Files) and isinstance(groq.batches, Batches)
    assert Files.info is Files.retrieve


class TestThroughTheEmulator:
    """The same calls against the real in-process emulator's ``/files`` (real clock: uploads read in threads)."""

    async def test_upload_info_list_content_download_delete(self, tmp_path: Path) -> None:
        """A file from disk survives a connection reset mid-upload (the retry streams it again) and comes back intact."""
        from .helpers import client_for, make_emulator

        data = jsonl(2_000)
        path = tmp_path / "requests.jsonl"
        path.write_bytes(data)
        emulator = make_emulator(upload_resets=1)
        async with client_for(emulator, retry_config=NO_WAIT) as groq:
            uploaded = await groq.files.create(file=path)
            info = await groq.files.info(uploaded.id)
            listed = await groq.files.list()
            async with groq.files.content(uploaded.id) as content:
                lines = [line async for line in content.aiter_lines()]
            written = await groq.files.download(uploaded.id, tmp_path / "copy.jsonl")
            deleted = await groq.files.delete(uploaded.id)
            with pytest.raises(NotFoundError):
                await groq.files.retrieve(uploaded.id)
            stats = groq.statistics()
        assert stats.retried == 1  # the reset upload was sent again, whole
        assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == ("requests.jsonl", len(data), "batch")
        assert info == uploaded and uploaded.id in [f.id for f in listed.data]
        assert lines == data.splitlines()
        assert written == len(data) and (tmp_path / "copy.jsonl").read_bytes() == data
        assert deleted.deleted and deleted.id == uploaded.id
