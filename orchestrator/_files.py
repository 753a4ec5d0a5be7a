"""The Batch API's resources of a :class:`Client`: ``files`` (upload, list, read, delete) and ``batches``.

Groq's Batch API runs a JSONL file of requests within a completion window (24 hours to 7 days)
outside the account's synchronous rate limits: upload the file (``files.create``), start the batch
(``batches.create``), poll it (``batches.retrieve`` until ``batch.finished``), then download
``output_file_id`` and ``error_file_id`` (``files.download``). The method names and keywords follow
the official ``groq`` SDK (``files.info`` included), so code moves over with few changes.

Like every other call, each method becomes a :class:`~actors._job.Job` (``model=None``, like
``GET /models``) that the client runs through the scheduler, the breaker and the retry policy.
Input files reach 100 MB, so neither direction holds a file in memory:

* an upload from a path (or a seekable binary file) is a *body source*: the multipart body is
  produced chunk by chunk (the form preamble, the file in 1 MiB reads, the closing boundary), its
  exact ``content-length`` computed up front from the file's size, and a retry starts it afresh;
* a download is a *raw stream* job: the worker hands back the open response once its headers
  are in, and :class:`FileContent` reads it chunk by chunk; ``files.download`` writes to
  ``<path>.part`` and renames it into place only once the last byte is on disk.

The resources know the client only as a `JobRunner` (`orchestrator._runner`), so they never import it.
"""

from __future__ import annotations

import io
import os
import re
import stat
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal
from urllib.parse import urlencode

import msgspec
import trio

from actors._job import Job

from ._batch_wire import (
    BATCH_ENDPOINTS,
    Batch,
    BatchCreateRequest,
    BatchList,
    FileDeleted,
    FileList,
    FileObject,
    decode_batch,
    decode_batch_list,
    decode_file,
    decode_file_deleted,
    decode_file_list,
)
from ._errors import ValidationError
from ._options import check_call_options
from ._raw_body import RawBody
from ._runner import JobRunner
from ._wire import short_repr

__all__ = ["Batches", "FileContent", "Files", "completion_window_problem"]

FileInput = str | os.PathLike[str] | bytes | BinaryIO | tuple[str, bytes]

#: Groq: "The Batch API only supports .jsonl files up to 100 MB in size" (groq-python
#: src/groq/resources/files.py, snapshot 2026-08-18). Read as MiB, the larger reading, so that a
#: file Groq would take is never refused here; Groq itself refuses anything in between.
MAX_FILE_BYTES: Final = 100 * 1024 * 1024

#: Upload reads and download writes go to disk in pieces this size: memory stays flat for 100 MB.
_CHUNK: Final = 1024 * 1024

#: What ``files.create`` accepts; Groq uses ``batch_output`` only for the files it writes itself.
_UPLOAD_PURPOSES: Final = ("batch",)

#: ``completion_window``: whole hours or days. Groq: "Durations from 24h to 7d are supported"
#: (groq-python src/groq/types/batch_create_params.py, snapshot 2026-08-18).
_WINDOW: Final = re.compile(r"([1-9][0-9]{0,5})([hd])")
_MIN_WINDOW_HOURS: Final = 24
_MAX_WINDOW_HOURS: Final = 7 * 24

#: Characters that would change the URL an id lands in (path, query, fragment, escapes).
_ID_FORBIDDEN: Final = frozenset("/?#%\\")

_JSON: Final = {"content-type": "application/json"}
#: The SDK asks for file content as octet-stream; the dict is shared so the pool reuses its merge.
_OCTET: Final = {"accept": "application/octet-stream"}

# httpx's escaping of form parameter values (its _multipart._format_form_param): HTML5's rules.
_FORM_ESCAPES: Final = {'"': "%22", "\\": "\\\\", **{chr(c): f"%{c:02X}" for c in range(0x20) if c != 0x1B}}
_FORM_ESCAPE_RE: Final = re.compile("|".join(re.escape(char) for char in _FORM_ESCAPES))


def _invalid(field: str, value: Any, problem: str, fix: str, rule: str) -> ValidationError:
    """A ValidationError in the house wording: field, value, what is wrong, what to do, and the rule."""
    return ValidationError(
        f"{field}: {problem} (got {short_repr(value)}); {fix} [rule: {rule}]", field=field, value=value, rule=rule
    )


def _check_id(field: str, value: Any) -> str:
    """An id that is safe to put into a URL path, or a ValidationError naming the field.

    An empty id would silently call the list endpoint, and ``/``, ``?`` or ``#`` would send the
    request somewhere else entirely, so they are refused before anything is sent.
    """
    if (
        not isinstance(value, str)
        or not value
        or value in (".", "..")
        or any(ch.isspace() or ch in _ID_FORBIDDEN or not ch.isprintable() for ch in value)
    ):
        raise _invalid(
            field, value, "is not an id", "pass the id Groq returned, which has no spaces, '/', '?', '#' or '%'", "id"
        )
    return value


def _quote_form_value(value: str) -> bytes:
    return _FORM_ESCAPE_RE.sub(lambda match: _FORM_ESCAPES[match.group(0)], value).encode("utf-8")


def _form_parts(boundary: bytes, purpose: str, filename: str) -> tuple[bytes, bytes]:
    """The multipart body around the file's bytes: fields ``purpose`` then ``file``, then the closing boundary."""
    preamble = b"".join(
        [
            b"--", boundary, b"\r\n",
            b'Content-Disposition: form-data; name="purpose"\r\n\r\n',
            purpose.encode("utf-8"), b"\r\n",
            b"--", boundary, b"\r\n",
            b'Content-Disposition: form-data; name="file"; filename="', _quote_form_value(filename), b'"\r\n',
            b"Content-Type: application/octet-stream\r\n\r\n",
        ]
    )
    return preamble, b"\r\n--" + boundary + b"--\r\n"


def _too_large(name: str, size: int) -> ValidationError:
    return _invalid(
        "file",
        name,
        f"is {size} bytes ({size / 2**20:.1f} MiB), over Groq's 100 MB limit for Batch API files "
        f"({MAX_FILE_BYTES} bytes)",
        "split the requests over several files and run one batch per file",
        "max_file_size",
    )


class _StreamedUpload:
    """The multipart body of an upload read from disk (a path, or a seekable binary file): a body source.

    ``open()`` starts a new pass from the file's first byte, so each attempt (a retry after a 500)
    sends the whole body. The size is fixed when the upload is prepared, because ``content-length``
    went out with it: a file that grows or shrinks mid-upload fails that attempt with a
    ValidationError rather than sending a body that disagrees with its header.
    """

    __slots__ = ("_preamble", "_epilogue", "_name", "_path", "_file", "_start", "_size", "length")

    def __init__(
        self, *, preamble: bytes, epilogue: bytes, name: str, size: int, path: str | None = None,
        file: BinaryIO | None = None, start: int = 0,
    ) -> None:
        self._preamble = preamble
        self._epilogue = epilogue
        self._name = name
        self._path = path
        self._file = file
        self._start = start
        self._size = size
        #: The exact body length, sent as ``content-length``.
        self.length = len(preamble) + size + len(epilogue)

    def open(self) -> AsyncIterator[bytes]:
        """A fresh pass over the whole body."""
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        yield self._preamble
        sent = 0
        try:
            async with aclosing(self._read()) as chunks:  # closes the file at once when we stop early
                async for chunk in chunks:
                    sent += len(chunk)
                    if sent > self._size:
                        break
                    yield chunk
        except (OSError, ValueError) as error:  # ValueError: the caller closed its file object
            raise _invalid(
                "file", self._name, f"could not be read while uploading ({error})",
                "check the file is still there and readable, then upload again", "readable",
            ) from error
        if sent != self._size:
            raise _invalid(
                "file", self._name,
                f"changed size while uploading ({self._size} bytes when the upload began, "
                f"{'more' if sent > self._size else sent} read)",
                "upload it again once nothing is writing to it", "stable_size",
            )
        yield self._epilogue

    async def _read(self) -> AsyncIterator[bytes]:
        # Plain reads with a checkpoint between: a 1 MiB read from the page cache takes well under a
        # millisecond, like the batch runner's own file IO, and no worker thread means trio's clock (a
        # MockClock in tests) never mistakes an upload in progress for idle time.
        if self._path is not None:
            with open(self._path, "rb") as source:
                while chunk := source.read(_CHUNK):
                    yield chunk
                    await trio.lowlevel.checkpoint()
            return
        file = self._file
        assert file is not None
        file.seek(self._start)
        while chunk := file.read(_CHUNK):
            if not isinstance(chunk, bytes):
                raise _invalid("file", self._name, "is open in text mode", "open it with open(path, 'rb')", "binary")
            yield chunk
            await trio.lowlevel.checkpoint()

    def __repr__(self) -> str:
        return f"<multipart upload of {self._name!r}, {self.length} bytes>"


def _size_of(file: Any) -> tuple[int, int] | None:
    """``(start, size)`` of a seekable file object from its current position, or None if it cannot seek."""
    try:
        if not file.seekable():
            return None
        start = file.tell()
        end = file.seek(0, os.SEEK_END)
        file.seek(start)
    except (AttributeError, OSError, ValueError):
        return None
    return start, max(0, end - start)


async def _upload_body(file: Any, purpose: str) -> tuple[bytes | _StreamedUpload, dict[str, str]]:
    """The multipart body of ``file`` and its headers, refusing before anything is sent what Groq would refuse."""
    boundary = os.urandom(16).hex().encode("ascii")
    headers = {"content-type": "multipart/form-data; boundary=" + boundary.decode("ascii")}
    if isinstance(file, tuple):
        if len(file) != 2 or not isinstance(file[0], str) or not file[0] or not isinstance(file[1], (bytes, bytearray)):
            raise _invalid("file", file, "is not a (filename, bytes) pair", "pass e.g. ('requests.jsonl', data)", "file_type")
        name, data = file[0], bytes(file[1])
    elif isinstance(file, (bytes, bytearray)):
        name, data = "batch.jsonl", bytes(file)
    elif isinstance(file, (str, os.PathLike)):
        path = os.fspath(file)
        if not isinstance(path, str):
            raise _invalid("file", file, "is a bytes path", "pass the path as str or pathlib.Path", "file_type")
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise _invalid("file", path, "does not exist", "check the path of the JSONL file", "exists") from None
        except OSError as error:
            raise _invalid("file", path, f"cannot be read ({error})", "check the path and its permissions", "readable") from None
        if not stat.S_ISREG(info.st_mode):
            raise _invalid("file", path, "is not a regular file", "pass the path of a JSONL file", "regular_file")
        if info.st_size > MAX_FILE_BYTES:
            raise _too_large(path, info.st_size)
        preamble, epilogue = _form_parts(boundary, purpose, os.path.basename(path))
        body = _StreamedUpload(preamble=preamble, epilogue=epilogue, name=path, size=info.st_size, path=path)
        return body, {**headers, "content-length": str(body.length)}
    elif callable(getattr(file, "read", None)):
        if isinstance(file, io.TextIOBase):
            raise _invalid("file", file, "is open in text mode", "open it with open(path, 'rb')", "binary")
        raw_name = getattr(file, "name", None)
        name = os.path.basename(raw_name) if isinstance(raw_name, str) and raw_name else "batch.jsonl"
        position = _size_of(file)
        if position is not None:
            start, size = position
            if size > MAX_FILE_BYTES:
                raise _too_large(name, size)
            preamble, epilogue = _form_parts(boundary, purpose, name)
            body = _StreamedUpload(preamble=preamble, epilogue=epilogue, name=name, size=size, file=file, start=start)
            return body, {**headers, "content-length": str(body.length)}
        # A pipe or socket: its length is known only once read, and content-length must be exact.
        data = await trio.to_thread.run_sync(file.read, MAX_FILE_BYTES + 1)
        if not isinstance(data, bytes):
            raise _invalid("file", file, "is open in text mode", "open it with open(path, 'rb')", "binary")
    else:
        raise _invalid(
            "file", file, "is not a file", "pass a path, bytes, a (filename, bytes) pair or a file opened 'rb'", "file_type"
        )
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(name, len(data))
    preamble, epilogue = _form_parts(boundary, purpose, name)
    return preamble + data + epilogue, headers


class FileContent(RawBody):
    """A file's content, read as it arrives; an async context manager (``files.content(file_id)``).

    The response stays open inside the ``async with`` and is closed on exit, so a 100 MB output
    file passes through in chunks::

        async with client.files.content(batch.output_file_id) as content:
            async for line in content.aiter_lines():
                result = json.loads(line)

    The body can be iterated once. A connection that breaks midway raises ``StreamError``
    (``TimeoutError`` when no data came in time); nothing is retried once bytes were handed over.
    """

    _usage = "async with client.files.content(file_id) as content:"

    def __init__(self, client: JobRunner, file_id: str, *, timeout: float | None, max_retries: int | None) -> None:
        super().__init__(client, timeout=timeout)
        self.file_id = file_id
        self._subject = f"the content of file {file_id!r}"
        self._max_retries = max_retries

    async def __aenter__(self) -> FileContent:
        opened: FileContent = await super().__aenter__()
        return opened

    def _job(self) -> Job:
        return Job(
            model=None,
            method="GET",
            path=f"/files/{self.file_id}/content",
            headers=_OCTET,
            raw_stream=True,
            timeout=self._timeout,
            max_retries=self._max_retries,
        )

    async def aiter_lines(self) -> AsyncIterator[bytes]:
        """The body line by line as bytes, without the line ending (``\\n`` or ``\\r\\n``).

        A line split across chunks comes out whole; a blank line comes out as ``b""``; a last line
        without a newline is yielded too. A JSONL file's lines are each one ``json.loads`` away.
        """
        pending: list[bytes] = []  # the current line's pieces: a long line is joined once, not per chunk
        async for chunk in self.aiter_bytes():
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                piece = chunk[start:end]
                if pending:
                    pending.append(piece)
                    piece = b"".join(pending)
                    pending.clear()
                yield piece.removesuffix(b"\r")
                start = end + 1
            if start < len(chunk):
                pending.append(chunk[start:])
        if pending:
            yield b"".join(pending).removesuffix(b"\r")


class Files:
    """``client.files``: the files a batch reads and writes (``/files``)."""

    def __init__(self, client: JobRunner) -> None:
        self._client = client

    async def create(
        self,
        *,
        file: FileInput,
        purpose: Literal["batch"] = "batch",
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> FileObject:
        """Upload a Batch API input file (``POST /files``, multipart) and return its :class:`FileObject`.

        ``file`` is a path (streamed from disk, never read whole), bytes, a ``(filename, bytes)``
        pair, or a file opened ``'rb'`` (streamed when it can seek). A file over 100 MB, a path
        that does not exist, or a purpose other than ``"batch"`` is refused before sending. Give a
        large upload a ``timeout`` that covers sending it: the timeout bounds the whole request.
        """
        check_call_options(timeout=timeout, max_retries=max_retries)
        if purpose not in _UPLOAD_PURPOSES:
            raise _invalid(
                "purpose", purpose, "is not a purpose Groq accepts for uploads",
                "use purpose='batch' (the Batch API's input files)", "purpose",
            )
        content, headers = await _upload_body(file, purpose)
        job = Job(
            model=None,
            method="POST",
            path="/files",
            content=content,
            headers=headers,
            timeout=timeout,
            max_retries=max_retries,
            decode=decode_file,
        )
        uploaded: FileObject = await self._client.run_job(job)
        return uploaded

    async def list(
        self, *, purpose: str | None = None, timeout: float | None = None, max_retries: int | None = None
    ) -> FileList:
        """The account's files (``GET /files``), only those of ``purpose`` (``batch``, ``batch_output``) if given."""
        check_call_options(timeout=timeout, max_retries=max_retries)
        path = "/files"
        if purpose is not None:
            if not isinstance(purpose, str) or not purpose:
                raise _invalid("purpose", purpose, "is not a purpose", "pass 'batch' or 'batch_output', or None for all", "purpose")
            path += "?" + urlencode({"purpose": purpose})
        job = Job(model=None, method="GET", path=path, timeout=timeout, max_retries=max_retries, decode=decode_file_list)
        files: FileList = await self._client.run_job(job)
        return files

    async def retrieve(self, file_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> FileObject:
        """One file's metadata (``GET /files/{file_id}``); ``NotFoundError`` if Groq does not know it."""
        check_call_options(timeout=timeout, max_retries=max_retries)
        file_id = _check_id("file_id", file_id)
        job = Job(
            model=None, method="GET", path=f"/files/{file_id}", timeout=timeout, max_retries=max_retries, decode=decode_file
        )
        found: FileObject = await self._client.run_job(job)
        return found

    #: The groq SDK's name for :meth:`retrieve`.
    info = retrieve

    async def delete(self, file_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> FileDeleted:
        """Delete a file (``DELETE /files/{file_id}``)."""
        check_call_options(timeout=timeout, max_retries=max_retries)
        file_id = _check_id("file_id", file_id)
        job = Job(
            model=None, method="DELETE", path=f"/files/{file_id}", timeout=timeout, max_retries=max_retries,
            decode=decode_file_deleted,
        )
        deleted: FileDeleted = await self._client.run_job(job)
        return deleted

    def content(self, file_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> FileContent:
        """A file's content (``GET /files/{file_id}/content``), streamed: use it as ``async with``.

        The request is made on entering the block (retried like any call until the response
        headers arrive); the body is read inside it with ``aiter_bytes()`` or ``aiter_lines()``.
        ``timeout`` bounds the wait for the response and then each read, not the whole body.
        """
        check_call_options(timeout=timeout, max_retries=max_retries)
        return FileContent(self._client, _check_id("file_id", file_id), timeout=timeout, max_retries=max_retries)

    async def download(
        self,
        file_id: str,
        path: str | os.PathLike[str],
        *,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> int:
        """Save a file's content to ``path`` and return the bytes written.

        The content streams into ``<path>.part``, is flushed to disk, and only then renamed to
        ``path``; if the transfer breaks (or the process dies) no truncated file appears under
        the final name, and the ``.part`` file is removed when the failure is seen.
        """
        check_call_options(timeout=timeout, max_retries=max_retries)
        file_id = _check_id("file_id", file_id)
        if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str) or not os.fspath(path):
            raise _invalid("path", path, "is not a path", "pass where to save the file, as str or pathlib.Path", "path")
        target = Path(os.fspath(path))
        if target.is_dir():
            raise _invalid("path", os.fspath(path), "is a directory", "pass the path of the file to write", "path")
        if not target.parent.is_dir():
            raise _invalid(
                "path", os.fspath(path), "is in a directory that does not exist", "create the directory first", "path"
            )
        async with self.content(file_id, timeout=timeout, max_retries=max_retries) as content:
            return await content.save(target, suffix=".part")


def completion_window_problem(value: object) -> str | None:
    """Why ``value`` is not a Batch API completion window (``24h`` to ``7d``), or None when it is one."""
    match = _WINDOW.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return "is not a duration"
    hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
    if not _MIN_WINDOW_HOURS <= hours <= _MAX_WINDOW_HOURS:
        which = "shorter than 24h" if hours < _MIN_WINDOW_HOURS else "longer than 7d"
        return f"is {which}, outside what Groq supports"
    return None


def _check_window(value: Any) -> str:
    problem = completion_window_problem(value)
    if problem is not None:
        fix = "pass a duration from '24h' to '7d' (whole hours 'Nh' or days 'Nd')"
        raise _invalid("completion_window", value, problem, fix, "completion_window")
    return value


def _check_metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _invalid("metadata", value, "is not a mapping", "pass a dict of str keys to str values", "metadata")
    for key, item in value.items():
        if not isinstance(key, str) or not isinstance(item, str):
            raise _invalid(
                f"metadata[{key!r}]", item, "is not a str -> str entry", "give metadata keys and values as str", "metadata"
            )
    return dict(value)


class Batches:
    """``client.batches``: batch jobs over an uploaded file of requests (``/batches``)."""

    def __init__(self, client: JobRunner) -> None:
        self._client = client

    async def create(
        self,
        *,
        input_file_id: str,
        endpoint: str = "/v1/chat/completions",
        completion_window: str = "24h",
        metadata: Mapping[str, str] | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> Batch:
        """Start a batch over an uploaded JSONL file (``POST /batches``).

        ``endpoint`` is what every line calls (``/v1/chat/completions``, ``/v1/audio/transcriptions``,
        ``/v1/audio/translations``), ``completion_window`` how long Groq may take (``24h`` to ``7d``),
        ``metadata`` str -> str labels kept on the batch. All are checked before sending.
        """
        check_call_options(timeout=timeout, max_retries=max_retries)
        request = BatchCreateRequest(
            input_file_id=_check_id("input_file_id", input_file_id),
            endpoint=self._check_endpoint(endpoint),
            completion_window=_check_window(completion_window),
            metadata=_check_metadata(metadata),
        )
        job = Job(
            model=None,
            method="POST",
            path="/batches",
            content=msgspec.json.encode(request),
            headers=_JSON,
            timeout=timeout,
            max_retries=max_retries,
            decode=decode_batch,
        )
        batch: Batch = await self._client.run_job(job)
        return batch

    @staticmethod
    def _check_endpoint(value: Any) -> str:
        if value not in BATCH_ENDPOINTS:
            raise _invalid(
                "endpoint", value, "is not an endpoint a batch can call",
                "use one of " + ", ".join(repr(e) for e in sorted(BATCH_ENDPOINTS)) + " (note the /v1 prefix, no /openai)",
                "endpoint",
            )
        return str(value)

    async def retrieve(self, batch_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> Batch:
        """A batch's state now (``GET /batches/{batch_id}``); poll until ``batch.finished``."""
        check_call_options(timeout=timeout, max_retries=max_retries)
        batch_id = _check_id("batch_id", batch_id)
        job = Job(
            model=None, method="GET", path=f"/batches/{batch_id}", timeout=timeout, max_retries=max_retries,
            decode=decode_batch,
        )
        batch: Batch = await self._client.run_job(job)
        return batch

    async def list(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
    ) -> BatchList:
        """A page of the account's batches (``GET /batches``); ``after`` a batch id to page on, ``limit`` a page size."""
        check_call_options(timeout=timeout, max_retries=max_retries)
        query: dict[str, str] = {}
        if after is not None:
            query["after"] = _check_id("after", after)
        if limit is not None:
            if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
                raise _invalid("limit", limit, "is not a page size", "pass an int >= 1, or None for Groq's default", "limit")
            query["limit"] = str(limit)
        path = "/batches" + ("?" + urlencode(query) if query else "")
        job = Job(model=None, method="GET", path=path, timeout=timeout, max_retries=max_retries, decode=decode_batch_list)
        batches: BatchList = await self._client.run_job(job)
        return batches

    async def cancel(self, batch_id: str, *, timeout: float | None = None, max_retries: int | None = None) -> Batch:
        """Ask Groq to stop a batch (``POST /batches/{batch_id}/cancel``); it goes ``cancelling``, then ``cancelled``."""
        check_call_options(timeout=timeout, max_retries=max_retries)
        batch_id = _check_id("batch_id", batch_id)
        job = Job(
            model=None, method="POST", path=f"/batches/{batch_id}/cancel", timeout=timeout, max_retries=max_retries,
            decode=decode_batch,
        )
        batch: Batch = await self._client.run_job(job)
        return batch
