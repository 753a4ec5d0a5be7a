"""The Batch API's IO side: the file store (``/files``) and the batch runner (``/batches``).

Groq's Batch API (console.groq.com/docs/batch, stored copy; groq-python ``resources/files.py`` and
``resources/batches.py``, snapshot 2026-08-18): upload a ``.jsonl`` file of requests with purpose ``batch``,
create a batch from it, poll it, download its output and error files. Batches do not touch the account's
standard rate limits ("no impact to your standard rate limits", console.groq.com/docs/batch), so the lines
are never charged to the emulator's rate limiter.

How the emulator runs a batch: lazily, with no background task. Every ``/files`` and ``/batches`` request
first brings each unfinished batch up to emulated ``now`` (:meth:`BatchService.advance_all`): the pure
clock (:mod:`._batch_state`) says how many lines are due, the runner reads them from the input file at its
saved byte offset, renders each with the chat machinery (a :data:`LineRunner` given by the core: the same
parse, checks, reply plan and rendering as ``POST /chat/completions``, without rate limits, faults or
latency), and appends the results to the batch's output or error file on disk. Memory stays bounded: no
file is ever read whole (contents are streamed from disk in 64 KiB reads), a batch keeps only offsets and
counters, and validation keeps at most ``MAX_BATCH_LINES`` ids and ``MAX_LISTED_ERRORS`` errors.

Disk IO is synchronous: the files are local, the writes short, and a worker thread would let trio's
autojump clock jump while the emulator waits for the disk (tests run under it).

One lock serialises the advancing, so two concurrent requests never run a line twice, and ``now`` is read
inside it and never moves backwards, so statuses only move forward from one response to the next.
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
import shutil
import tempfile
import weakref
from collections.abc import Callable
from typing import BinaryIO, Final

import msgspec
import trio

from orchestrator.emulator._batch_state import TERMINAL, BatchPace, BatchState
from orchestrator.emulator._http import ConnectionReset, EmulatorRequest, EmulatorResponse, error_response, json_response
from orchestrator.emulator._multipart import MultipartError, MultipartTooLarge, parse_multipart
from orchestrator.emulator._stats import StatsRecorder

__all__ = [
    "BATCH_ENDPOINT",
    "BATCH_ENDPOINTS",
    "MAX_BATCH_FILE_BYTES",
    "MAX_BATCH_LINES",
    "BatchService",
    "LineRejected",
    "LineRunner",
    "audio_line_form",
    "parse_completion_window",
]

#: Largest batch input file: "The Batch API only supports `.jsonl` files up to 100 MB in size" (groq-python
#: src/groq/resources/files.py docstring, snapshot 2026-08-18; MB as 2**20 bytes, like the audio limit).
MAX_BATCH_FILE_BYTES: Final = 100 * 1024 * 1024
#: Most request lines in one batch. [I] OpenAI's documented per-batch cap (50,000 requests); Groq's is not
#: published in our sources.
MAX_BATCH_LINES: Final = 50_000
#: Validation errors listed in a failed batch's ``errors.data`` (the count of bad lines is not bounded).
MAX_LISTED_ERRORS: Final = 100
#: The chat endpoint, the one groq-python types for a batch (batch_create_params.py: ``Literal["/v1/chat/completions"]``).
BATCH_ENDPOINT: Final = "/v1/chat/completions"
#: Every endpoint a batch can target: chat and the two audio endpoints ("chat (text and vision) and audio
#: transcription/translation", console.groq.com/docs/batch as the Batch API brief quotes it, 2026; the client's
#: ``orchestrator._batch_wire.BATCH_ENDPOINTS`` lists the same three). An audio line's body is JSON with a ``url``:
#: a batch cannot upload a file (GROQ-API.md 1.8, "Batch API needs url").
BATCH_ENDPOINTS: Final = ("/v1/chat/completions", "/v1/audio/transcriptions", "/v1/audio/translations")
#: Completion windows from 24h to 7d (groq-python batch_create_params.py docstring, snapshot 2026-08-18).
_MIN_WINDOW_HOURS, _MAX_WINDOW_HOURS = 24, 7 * 24
_WINDOW = re.compile(r"([0-9]{1,4})([hd])")
_CHUNK_BYTES: Final = 64 * 1024
_CHECKPOINT_EVERY: Final = 256
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # lower-case Crockford base32, as in Groq's ids
_OCTET_STREAM = "application/octet-stream"
#: What a line that never ran says, by why (the error-file line shape follows groq-api-cookbook
#: tutorials/01-quickstart/batch-processing/batch_output.jsonl; the codes are OpenAI's, [I] for Groq).
_WRITE_OFF = {
    "expired": ("batch_expired", "This request could not be executed before the completion window expired."),
    "cancelled": ("batch_cancelled", "This request was not executed because the batch was cancelled."),
}

#: Runs one batch line's body for the batch's endpoint: ``(endpoint, body, request_id, rng) -> (status, body JSON)``.
LineRunner = Callable[[str, bytes, str, random.Random], tuple[int, bytes]]

_encode = msgspec.json.Encoder().encode


def _new_id(prefix: str, rng: random.Random) -> str:
    """``prefix`` + 26 lower-case base32 characters, the shape of Groq's ids (``file_01jpthgx92e3ts09bma0bfchmt``)."""
    return prefix + "".join(rng.choices(_ID_ALPHABET, k=26))


def parse_completion_window(text: object) -> float | None:
    """Seconds of a completion window (``24h`` to ``7d``, as ``<n>h`` or ``<n>d``); None when it is not one."""
    if not isinstance(text, str):
        return None
    match = _WINDOW.fullmatch(text)
    if match is None:
        return None
    hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
    if not _MIN_WINDOW_HOURS <= hours <= _MAX_WINDOW_HOURS:
        return None
    return hours * 3600.0


# --------------------------------------------------------------------------- the file store


class StoredFile(msgspec.Struct, kw_only=True):
    """One file's metadata; its bytes are on disk at ``path``."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int
    path: str

    def json(self) -> dict[str, object]:
        """Groq's file object (groq-python ``types/file_info_response.py``)."""
        return {
            "id": self.id,
            "object": "file",
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
        }


class _FileChunks:
    """An async iterator over an open file, 64 KiB at a time; ``aclose`` closes the file (both adapters call it)."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def __aiter__(self) -> _FileChunks:
        return self

    async def __anext__(self) -> bytes:
        await trio.lowlevel.checkpoint()
        data = self._handle.read(_CHUNK_BYTES)
        if not data:
            self._handle.close()
            raise StopAsyncIteration
        return data

    async def aclose(self) -> None:
        self._handle.close()


class FileStore:
    """Files on disk, their metadata in a dict.

    A file a running batch still reads (its input) is "pinned": deleting it removes its metadata at once
    but its bytes only when the batch is done with them.
    """

    def __init__(self, directory: str | None) -> None:
        self._wanted = directory
        self._directory: str | None = None
        self._files: dict[str, StoredFile] = {}
        self._pins: dict[str, int] = {}
        self._orphans: set[str] = set()

    def directory(self) -> str:
        """The directory holding the files, made on first use (a temporary one, removed with the store)."""
        if self._directory is None:
            if self._wanted is None:
                self._directory = tempfile.mkdtemp(prefix="groq-emulator-files-")
                weakref.finalize(self, shutil.rmtree, self._directory, ignore_errors=True)
            else:
                os.makedirs(self._wanted, exist_ok=True)
                self._directory = self._wanted
        return self._directory

    def path_for(self, name: str) -> str:
        """Where a file called ``name`` lives."""
        return os.path.join(self.directory(), name)

    def get(self, file_id: str) -> StoredFile | None:
        """A file's metadata, or None."""
        return self._files.get(file_id)

    def newest_first(self) -> list[StoredFile]:
        """Every file, the newest first."""
        return list(reversed(self._files.values()))

    def add(self, stored: StoredFile) -> None:
        """Register a file whose bytes are already at ``stored.path``."""
        self._files[stored.id] = stored

    def delete(self, file_id: str) -> bool:
        """Forget a file and remove its bytes (later, if a batch still reads them); False if unknown."""
        stored = self._files.pop(file_id, None)
        if stored is None:
            return False
        if self._pins.get(stored.path):
            self._orphans.add(stored.path)
        else:
            _remove(stored.path)
        return True

    def pin(self, path: str) -> None:
        """Keep ``path`` on disk until :meth:`unpin`, even if its file is deleted."""
        self._pins[path] = self._pins.get(path, 0) + 1

    def unpin(self, path: str) -> None:
        """Release a :meth:`pin`; the bytes of a deleted file go with the last one."""
        left = self._pins.get(path, 0) - 1
        if left > 0:
            self._pins[path] = left
            return
        self._pins.pop(path, None)
        if path in self._orphans:
            self._orphans.discard(path)
            _remove(path)


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


# --------------------------------------------------------------------------- input lines


class _Line(msgspec.Struct):
    """One input line, loosely typed so validation can say what is wrong in Groq's words."""

    custom_id: object = None
    method: object = None
    url: object = None
    body: msgspec.Raw = msgspec.Raw(b"")


_decode_line = msgspec.json.Decoder(_Line).decode


@dataclasses.dataclass(slots=True)
class _LineError:
    code: str
    message: str
    param: str | None = None

    def json(self, line: int | None) -> dict[str, object]:
        return {"code": self.code, "line": line, "message": self.message, "param": self.param}


def _line_problem(raw: bytes, endpoint: str, seen: dict[str, int], line_number: int) -> _LineError | None:
    """What is wrong with one non-blank input line, or None (then its ``custom_id`` is added to ``seen``).

    The codes ``invalid_json_line``, ``duplicate_custom_id`` and ``url_mismatch`` are OpenAI's documented
    ones (stdapi-ai/stdapi.ai issue #240 lists them); [I] Groq's are not published in our sources.
    """
    try:
        line = _decode_line(raw)
    except msgspec.ValidationError:
        return _LineError("invalid_request", "Each line must be a JSON object with custom_id, method, url and body.")
    except msgspec.DecodeError:
        return _LineError("invalid_json_line", "This line is not parseable as valid JSON.")
    custom_id = line.custom_id
    if not isinstance(custom_id, str) or not custom_id:
        return _LineError("invalid_request", f"custom_id must be a non-empty string, got {_shown(custom_id)}.", "custom_id")
    first = seen.get(custom_id)
    if first is not None:
        return _LineError(
            "duplicate_custom_id",
            f"custom_id {custom_id[:200]!r} is already used on line {first}; each request needs a unique custom_id.",
            "custom_id",
        )
    if line.method != "POST":
        return _LineError("invalid_request", f"method must be 'POST', got {_shown(line.method)}.", "method")
    if line.url != endpoint:
        return _LineError(
            "url_mismatch", f"url {_shown(line.url)} does not match the batch's endpoint {endpoint!r}.", "url"
        )
    if not bytes(line.body).lstrip().startswith(b"{"):
        return _LineError("invalid_request", "body must be a JSON object: the request for the batch's endpoint.", "body")
    if len(seen) < MAX_BATCH_LINES:
        seen[custom_id] = line_number
    return None


class LineRejected(Exception):
    """An audio line's body the audio endpoint could not even be asked about: Groq's 400 ``message`` and ``param``."""

    def __init__(self, message: str, param: str | None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


#: An audio line's text fields, as the audio endpoint's form takes them (groq-python transcription_create_params.py).
_AUDIO_TEXT_FIELDS: Final = ("model", "url", "language", "prompt", "response_format")


def audio_line_form(body: bytes) -> tuple[str, bytes]:
    """An audio line's JSON body ``{model, url, language?, prompt?, response_format?, temperature?,
    timestamp_granularities?}`` as the multipart form the audio endpoint reads: ``(content type, body)``.

    The form then goes through the endpoint's own checks (model, url, format, options), so a line is judged
    as the same request sent to ``/audio/...`` would be. Unknown fields are dropped, as the endpoint ignores
    them; a ``null`` is as good as absent.

    Raises:
        LineRejected: not a JSON object, a ``file`` (a batch cannot upload one: "Batch API needs url",
            GROQ-API.md 1.8), no ``url``, or a field of the wrong type.
    """
    try:
        payload = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise LineRejected(f"body is not valid JSON: {exc}", "body") from None
    if not isinstance(payload, dict):
        raise LineRejected("body must be a JSON object: the transcription or translation request", "body")
    if payload.get("file") is not None:
        raise LineRejected("file cannot be uploaded in a batch line; pass the audio's url instead", "file")
    if payload.get("url") is None:
        raise LineRejected("url is required in a batch line: name the audio by url (a batch cannot upload a file)", "url")
    fields: list[tuple[str, str]] = []
    for name in _AUDIO_TEXT_FIELDS:
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            raise LineRejected(f"{name} must be a string, got {_shown(value)}", name)
        if value is not None:
            fields.append((name, value))
    temperature = payload.get("temperature")
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            raise LineRejected(f"temperature must be a number between 0 and 1, got {_shown(temperature)}", "temperature")
        fields.append(("temperature", repr(temperature)))
    granularities = payload.get("timestamp_granularities")
    if granularities is not None:
        if not isinstance(granularities, list) or not all(isinstance(item, str) for item in granularities):
            raise LineRejected(
                f"timestamp_granularities must be an array of strings, got {_shown(granularities)}", "timestamp_granularities"
            )
        fields.extend(("timestamp_granularities[]", item) for item in granularities)
    boundary = "batch-line-" + os.urandom(12).hex()
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode("utf-8", "replace")
        for name, value in fields
    ]
    return f"multipart/form-data; boundary={boundary}", b"".join(parts) + f"--{boundary}--\r\n".encode()


def _shown(value: object) -> str:
    """A value as an error message shows it (short)."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# --------------------------------------------------------------------------- batches


class BatchJob(msgspec.Struct, kw_only=True):
    """One batch: its request fields, its clock and counters, and where the runner is in its files."""

    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None
    state: BatchState
    input_path: str
    output_path: str
    error_path: str
    offset: int = 0  # byte offset in the input file of the next line to read
    line_number: int = 0  # physical lines read so far
    errors: list[dict[str, object]] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    closed: bool = False


class BatchService:
    """The ``/files`` and ``/batches`` routes (the core checks the method, body size and key first).

    Args:
        store: where files live.
        pace: how fast batches move (:class:`~._batch_state.BatchPace`).
        run_line: renders one line's body for the batch's endpoint (the core's chat or audio machinery).
        stats: the emulator's counters.
        clock: emulated seconds since the emulator started.
        unix: turns emulated seconds into unix seconds.
        seed: the emulator seed (ids and generated text of the lines follow from it).
        upload_resets: the first N uploads are answered by closing the connection (the fault).
    """

    def __init__(
        self,
        *,
        store: FileStore,
        pace: BatchPace,
        run_line: LineRunner,
        stats: StatsRecorder,
        clock: Callable[[], float],
        unix: Callable[[float], int],
        seed: int,
        upload_resets: int = 0,
        max_upload_size: int,
    ) -> None:
        self._store = store
        self._pace = pace
        self._run_line = run_line
        self._stats = stats
        self._clock = clock
        self._unix = unix
        self._seed = seed
        self._resets_left = upload_resets
        self._max_upload_size = max_upload_size
        self._batches: dict[str, BatchJob] = {}
        self._unfinished: dict[str, BatchJob] = {}
        self._lock = trio.Lock()
        self._last_now = 0.0

    # ------------------------------------------------------------------ time

    async def advance_all(self) -> float:
        """Bring every unfinished batch up to now (call with the lock held); returns that ``now``."""
        now = self._last_now = max(self._last_now, self._clock())
        for job in list(self._unfinished.values()):
            await self._advance(job, now)
        return now

    async def _advance(self, job: BatchJob, now: float) -> None:
        """Validate, run the due lines, write off the lost ones, and hand out the files when it is over."""
        state = job.state
        if state.needs_validation(now):
            await self._validate(job)
        due = state.due(now)
        if due:
            await self._run_lines(job, due)
        lost = state.write_off_due(now)
        if lost:
            await self._write_off(job, lost, _WRITE_OFF[state.status(now)])
        if state.status(now) in TERMINAL:
            self._close(job, now)

    # ------------------------------------------------------------------ files

    async def upload(self, request: EmulatorRequest, rng: random.Random) -> EmulatorResponse:
        """``POST /files``: store a multipart upload (``purpose`` ``batch``, ``file``) and describe it.

        Raises:
            ConnectionReset: the ``upload_resets`` fault: the body was read, nothing is stored.
        """
        if self._resets_left > 0:
            self._resets_left -= 1
            self._stats.fault("upload-reset")
            raise ConnectionReset("upload reset fault: connection closed after the upload was read")
        content_type = request.headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() != "multipart/form-data":
            return error_response(
                400,
                f"Content-Type must be multipart/form-data for file uploads, got {content_type[:80]!r}; "
                "send the file and purpose as a multipart form",
            )
        try:
            form = parse_multipart(content_type, request.body, max_size=self._max_upload_size, max_parts=8)
        except MultipartTooLarge as error:
            return error_response(413, f"Request Entity Too Large: {error}", code="request_too_large")
        except MultipartError as error:
            return error_response(400, str(error))
        purpose = form.value("purpose")
        if purpose != "batch":
            shown = "missing" if purpose is None else repr(purpose[:80])
            return error_response(
                400, f"purpose is {shown}: files are uploaded with purpose 'batch'", param="purpose"
            )
        upload = form.files.get("file")
        if upload is None:
            return error_response(400, "file is required: send the .jsonl file as a file part named 'file'", param="file")
        if len(upload.data) > MAX_BATCH_FILE_BYTES:
            return error_response(
                413,
                f"Request Entity Too Large: the file is {len(upload.data)} bytes, over the 100 MB limit for batch files",
                code="request_too_large",
                param="file",
            )
        async with self._lock:
            now = await self.advance_all()
            stored = self._write_file(_new_id("file_", rng), upload.filename or "upload.jsonl", upload.data, now)
        self._stats.batch_files_uploaded += 1
        return json_response(200, stored.json())

    def _write_file(self, file_id: str, filename: str, data: bytes, now: float) -> StoredFile:
        """Write an upload to disk at once and register it."""
        path = self._store.path_for(file_id)
        with open(path, "wb") as sink:
            sink.write(data)
        stored = StoredFile(
            id=file_id, filename=filename, purpose="batch", bytes=len(data), created_at=self._unix(now), path=path
        )
        self._store.add(stored)
        return stored

    async def list_files(self) -> EmulatorResponse:
        """``GET /files``: every file, the newest first."""
        async with self._lock:
            await self.advance_all()
            return json_response(200, {"object": "list", "data": [f.json() for f in self._store.newest_first()]})

    async def file_info(self, file_id: str) -> EmulatorResponse:
        """``GET /files/{id}``."""
        async with self._lock:
            await self.advance_all()
            stored = self._store.get(file_id)
        return _file_not_found(file_id) if stored is None else json_response(200, stored.json())

    async def file_content(self, file_id: str) -> EmulatorResponse:
        """``GET /files/{id}/content``: the bytes, streamed from disk 64 KiB at a time."""
        async with self._lock:
            await self.advance_all()
            stored = self._store.get(file_id)
            if stored is None:
                return _file_not_found(file_id)
            handle = open(stored.path, "rb")  # opened now: a delete before the body is read cannot break it
        size = os.fstat(handle.fileno()).st_size
        headers = [("content-type", _OCTET_STREAM), ("content-length", str(size))]
        return EmulatorResponse(200, headers, _FileChunks(handle))  # type: ignore[arg-type]

    async def delete_file(self, file_id: str) -> EmulatorResponse:
        """``DELETE /files/{id}``."""
        async with self._lock:
            await self.advance_all()
            deleted = self._store.delete(file_id)
        if not deleted:
            return _file_not_found(file_id)
        return json_response(200, {"id": file_id, "object": "file", "deleted": True})

    # ------------------------------------------------------------------ batches

    async def create_batch(self, body: bytes, rng: random.Random) -> EmulatorResponse:
        """``POST /batches``: check the request, then start the batch ``validating``."""
        try:
            payload = msgspec.json.decode(body)
        except msgspec.DecodeError as exc:
            return error_response(400, f"The request body is not valid JSON: {exc}. Send a JSON object.")
        if not isinstance(payload, dict):
            return error_response(
                400, "The request body must be a JSON object with input_file_id, endpoint and completion_window."
            )
        refused = _refuse_batch_fields(payload)
        if refused is not None:
            return refused
        async with self._lock:
            now = await self.advance_all()
            stored = self._store.get(payload["input_file_id"])
            if stored is None or stored.purpose != "batch":
                why = "does not name an uploaded file" if stored is None else f"has purpose {stored.purpose!r}"
                return error_response(
                    400,
                    f"input_file_id {payload['input_file_id'][:80]!r} {why}; upload the requests with purpose 'batch' first",
                    param="input_file_id",
                )
            job = self._new_job(payload, stored, now, rng)
            return json_response(200, self._batch_json(job, now))

    def _new_job(self, payload: dict[str, object], stored: StoredFile, now: float, rng: random.Random) -> BatchJob:
        batch_id = _new_id("batch_", rng)
        window = payload["completion_window"]
        assert isinstance(window, str)
        job = BatchJob(
            id=batch_id,
            input_file_id=stored.id,
            endpoint=str(payload["endpoint"]),
            completion_window=window,
            metadata=payload.get("metadata"),  # type: ignore[arg-type]
            state=BatchState(created=now, window=parse_completion_window(window) or 0.0, pace=self._pace),
            input_path=stored.path,
            output_path=self._store.path_for(batch_id + ".output.jsonl"),
            error_path=self._store.path_for(batch_id + ".errors.jsonl"),
        )
        self._store.pin(stored.path)
        self._batches[batch_id] = job
        self._unfinished[batch_id] = job
        return job

    async def list_batches(self) -> EmulatorResponse:
        """``GET /batches``: every batch, the newest first (one page: ``has_more`` is false)."""
        async with self._lock:
            now = await self.advance_all()
            data = [self._batch_json(job, now) for job in reversed(self._batches.values())]
        return json_response(
            200,
            {
                "object": "list",
                "data": data,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
                "has_more": False,
            },
        )

    async def get_batch(self, batch_id: str) -> EmulatorResponse:
        """``GET /batches/{id}``."""
        async with self._lock:
            now = await self.advance_all()
            job = self._batches.get(batch_id)
            return _batch_not_found(batch_id) if job is None else json_response(200, self._batch_json(job, now))

    async def cancel_batch(self, batch_id: str) -> EmulatorResponse:
        """``POST /batches/{id}/cancel``: ``cancelling``, then ``cancelled``; the unrun lines are written off.

        [I] Cancelling a batch already cancelling or cancelled answers it as it is (a retried cancel must not
        fail); one that is finalizing or done is a 400, having nothing left to stop.
        """
        async with self._lock:
            now = await self.advance_all()
            job = self._batches.get(batch_id)
            if job is None:
                return _batch_not_found(batch_id)
            status = job.state.status(now)
            if status not in ("cancelling", "cancelled") and not job.state.cancel(now):
                return error_response(
                    400,
                    f"Batch `{batch_id}` is {status} and cannot be cancelled: only a validating or in_progress "
                    "batch can be",
                    param="batch_id",
                )
            await self._advance(job, now)  # with no cancelling time it is cancelled at once
            return json_response(200, self._batch_json(job, now))

    def _batch_json(self, job: BatchJob, now: float) -> dict[str, object]:
        """Groq's batch object (groq-python ``types/batch_retrieve_response.py``, snapshot 2026-08-18)."""
        state = job.state
        times = state.times(now)
        total, completed, failed = state.counts()

        def unix(moment: float | None) -> int | None:
            return None if moment is None else self._unix(moment)

        return {
            "id": job.id,
            "object": "batch",
            "endpoint": job.endpoint,
            "errors": None if job.errors is None else {"object": "list", "data": job.errors},
            "input_file_id": job.input_file_id,
            "completion_window": job.completion_window,
            "status": state.status(now),
            "output_file_id": job.output_file_id,
            "error_file_id": job.error_file_id,
            "created_at": self._unix(state.created),
            "in_progress_at": unix(times.in_progress_at),
            "expires_at": self._unix(state.expires_at),
            "finalizing_at": unix(times.finalizing_at),
            "completed_at": unix(times.completed_at),
            "failed_at": unix(times.failed_at),
            "expired_at": unix(times.expired_at),
            "cancelling_at": unix(times.cancelling_at),
            "cancelled_at": unix(times.cancelled_at),
            "request_counts": {"total": total, "completed": completed, "failed": failed},
            "metadata": job.metadata,
        }

    # ------------------------------------------------------------------ the runner

    async def _validate(self, job: BatchJob) -> None:
        """Read the whole input once, line by line: count the requests and list (some of) the bad lines."""
        seen: dict[str, int] = {}
        errors: list[dict[str, object]] = []
        total = bad = 0
        with open(job.input_path, "rb") as source:
            for number, raw in enumerate(source, start=1):
                if not raw.strip():
                    continue
                total += 1
                if total <= MAX_BATCH_LINES:
                    problem = _line_problem(raw, job.endpoint, seen, number)
                    if problem is not None:
                        bad += 1
                        if len(errors) < MAX_LISTED_ERRORS:
                            errors.append(problem.json(number))
                if total % _CHECKPOINT_EVERY == 0:
                    await trio.lowlevel.checkpoint()
        if total == 0:
            errors = [_LineError("empty_file", "The input file is empty: it has no request lines.").json(None)]
        elif total > MAX_BATCH_LINES:
            message = f"The input file has {total} requests, over the {MAX_BATCH_LINES} a batch can hold; split it."
            errors = [*errors[: MAX_LISTED_ERRORS - 1], _LineError("too_many_tasks", message).json(None)]
        job.errors = errors or None
        job.state.validated(total, not errors)

    def _line_rng(self, job: BatchJob) -> random.Random:
        return random.Random(f"{self._seed}:{job.id}:{job.line_number}")

    async def _run_lines(self, job: BatchJob, count: int) -> None:
        """Run the next ``count`` request lines, appending each result to the output or error file."""
        done = 0
        with (
            open(job.input_path, "rb") as source,
            open(job.output_path, "ab") as output,
            open(job.error_path, "ab") as failures,
        ):
            source.seek(job.offset)
            while done < count:
                raw = source.readline()
                if not raw:
                    break  # validation counted the lines of a file that never changes: not reached
                job.line_number += 1
                job.offset = source.tell()
                if not raw.strip():
                    continue
                line = _decode_line(raw)
                custom_id = str(line.custom_id)
                rng = self._line_rng(job)
                out_id, request_id = _new_id("batch_req_out_", rng), _new_id("req_", rng)
                status, body = self._run_line(job.endpoint, bytes(line.body), request_id, rng)
                record = _result_line(out_id, custom_id, status, request_id, body)
                (output if status == 200 else failures).write(record)
                job.state.record(status == 200)
                self._stats.batch_line_run(custom_id)
                done += 1
                if done % _CHECKPOINT_EVERY == 0:
                    await trio.lowlevel.checkpoint()

    async def _write_off(self, job: BatchJob, count: int, reason: tuple[str, str]) -> None:
        """Put the next ``count`` lines, which will never run, in the error file with ``reason``."""
        code, message = reason
        error = _encode({"code": code, "message": message})
        done = 0
        with open(job.input_path, "rb") as source, open(job.error_path, "ab") as failures:
            source.seek(job.offset)
            while done < count:
                raw = source.readline()
                if not raw:
                    break
                job.line_number += 1
                job.offset = source.tell()
                if not raw.strip():
                    continue
                out_id = _new_id("batch_req_out_", self._line_rng(job))
                failures.write(
                    b'{"id":' + _encode(out_id) + b',"custom_id":' + _encode(str(_decode_line(raw).custom_id))
                    + b',"response":null,"error":' + error + b"}\n"
                )
                job.state.record_written_off(1)
                done += 1
                if done % _CHECKPOINT_EVERY == 0:
                    await trio.lowlevel.checkpoint()

    def _close(self, job: BatchJob, now: float) -> None:
        """A batch is over: register its output and error files (those with lines) and release its input."""
        if job.closed:
            return
        job.closed = True
        self._unfinished.pop(job.id, None)
        self._store.unpin(job.input_path)
        times = job.state.times(now)
        ended = next((t for t in (times.completed_at, times.expired_at, times.cancelled_at) if t is not None), now)
        rng = random.Random(f"{self._seed}:{job.id}:files")
        job.output_file_id = self._register_output(job.output_path, job.id + "_output.jsonl", ended, rng)
        job.error_file_id = self._register_output(job.error_path, job.id + "_errors.jsonl", ended, rng)

    def _register_output(self, path: str, filename: str, now: float, rng: random.Random) -> str | None:
        file_id = _new_id("file_", rng)
        try:
            size = os.path.getsize(path)
        except FileNotFoundError:
            return None
        if size == 0:
            _remove(path)
            return None
        self._store.add(
            StoredFile(id=file_id, filename=filename, purpose="batch_output", bytes=size, created_at=self._unix(now), path=path)
        )
        return file_id


def _result_line(out_id: str, custom_id: str, status: int, request_id: str, body: bytes) -> bytes:
    """One output or error-file line, keys in Groq's order (groq-api-cookbook batch_output.jsonl)."""
    return (
        b'{"id":' + _encode(out_id) + b',"custom_id":' + _encode(custom_id)
        + b',"response":{"status_code":' + str(status).encode() + b',"request_id":' + _encode(request_id)
        + b',"body":' + body + b'},"error":null}\n'
    )


def _refuse_batch_fields(payload: dict[str, object]) -> EmulatorResponse | None:
    """Groq's 400 for a bad ``POST /batches`` field (named, with its value), or None."""
    file_id = payload.get("input_file_id")
    if not isinstance(file_id, str) or not file_id:
        return error_response(400, f"input_file_id must be a file id string, got {_shown(file_id)}", param="input_file_id")
    endpoint = payload.get("endpoint")
    if endpoint not in BATCH_ENDPOINTS:
        return error_response(
            400, f"endpoint {_shown(endpoint)} is not supported: a batch runs one of {', '.join(BATCH_ENDPOINTS)}",
            param="endpoint",
        )
    window = payload.get("completion_window")
    if parse_completion_window(window) is None:
        return error_response(
            400,
            f"completion_window {_shown(window)} is not supported: use a duration from 24h to 7d, as <n>h or <n>d "
            "(e.g. 24h, 48h, 7d)",
            param="completion_window",
        )
    metadata = payload.get("metadata")
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(value, str) for value in metadata.values())
    ):
        return error_response(
            400, f"metadata must be an object of string values, got {_shown(metadata)}", param="metadata"
        )
    return None


def _file_not_found(file_id: str) -> EmulatorResponse:
    return error_response(404, f"File `{file_id[:80]}` not found.")


def _batch_not_found(batch_id: str) -> EmulatorResponse:
    return error_response(404, f"Batch `{batch_id[:80]}` not found.")
