"""Groq's Files and Batch API bodies as msgspec Structs, plus their decoders.

The shapes follow the official ``groq`` SDK's types (groq-python ``src/groq/types/file_*.py`` and
``batch_*.py``, snapshot 2026-08-18), so code written against ``groq.batches.retrieve(...)`` reads
the same attributes here. The house rules of :mod:`orchestrator._wire` apply: responses are
decoded straight into these Structs, unknown fields are skipped (Groq adds fields; a new one must
never break a client), optional fields default to None, and the request body leaves unset fields out.

Two choices differ from a literal copy of the SDK, both for the same reason, a Groq change must
not break decoding: ``Batch.status`` is a plain ``str`` (the eight statuses of
:data:`BATCH_STATUSES` are what Groq sends today, and a ninth would otherwise fail every
``retrieve``), and ``FileObject.purpose`` is a ``str`` too.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec

__all__ = [
    "BATCH_ENDPOINTS",
    "BATCH_STATUSES",
    "FINISHED_STATUSES",
    "Batch",
    "BatchCreateRequest",
    "BatchErrorDetail",
    "BatchErrors",
    "BatchList",
    "BatchRequestCounts",
    "BatchStatus",
    "FileDeleted",
    "FileList",
    "FileObject",
    "decode_batch",
    "decode_batch_list",
    "decode_file",
    "decode_file_deleted",
    "decode_file_list",
]

BatchStatus = Literal["validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"]

#: Every status a batch passes through (groq-python src/groq/types/batch_retrieve_response.py, snapshot 2026-08-18).
BATCH_STATUSES: Final[frozenset[str]] = frozenset(
    {"validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"}
)
#: The statuses a batch never leaves: polling can stop.
FINISHED_STATUSES: Final[frozenset[str]] = frozenset({"completed", "failed", "expired", "cancelled"})

#: The endpoints a batch's lines may call. ``/v1/chat/completions`` is the one groq-python types
#: (src/groq/types/batch_create_params.py, snapshot 2026-08-18); the two audio endpoints are those
#: Groq's batch guide lists besides it (console.groq.com/docs/batch, as quoted in this feature's
#: brief, 2026; not re-checked against the live page).
BATCH_ENDPOINTS: Final[frozenset[str]] = frozenset(
    {"/v1/chat/completions", "/v1/audio/transcriptions", "/v1/audio/translations"}
)


class _Response(msgspec.Struct, omit_defaults=True, kw_only=True, gc=False):
    """Base of what Groq sends back: unknown fields are skipped, never an error."""


class FileObject(_Response):
    """An uploaded file (``POST /files``, ``GET /files/{id}``): a batch's input, output or error lines.

    ``purpose`` is ``"batch"`` for what you uploaded and ``"batch_output"`` for the output and
    error files Groq writes; ``bytes`` is the size and ``created_at`` a Unix time in seconds.
    """

    id: str
    object: str = "file"
    bytes: int | None = None
    created_at: int | None = None
    filename: str | None = None
    purpose: str | None = None


class FileList(_Response):
    """``GET /files``: the account's files."""

    data: list[FileObject] = msgspec.field(default_factory=list)
    object: str = "list"


class FileDeleted(_Response):
    """``DELETE /files/{id}``: whether the file is gone."""

    id: str
    object: str = "file"
    deleted: bool = False


class BatchRequestCounts(_Response):
    """How many of a batch's lines there are, and how many finished well or badly so far."""

    total: int = 0
    completed: int = 0
    failed: int = 0


class BatchErrorDetail(_Response):
    """One reason a batch's input was refused: the 1-based ``line`` of the input file, when known,
    and the request ``param`` at fault."""

    code: str | None = None
    message: str | None = None
    line: int | None = None
    param: str | None = None


class BatchErrors(_Response):
    """The input-file problems of a batch that failed validation."""

    object: str | None = "list"
    data: list[BatchErrorDetail] = msgspec.field(default_factory=list)


class Batch(_Response):
    """A batch job (``POST /batches``, ``GET /batches/{id}``, ``POST /batches/{id}/cancel``).

    ``status`` moves ``validating`` -> ``in_progress`` -> ``finalizing`` -> ``completed``, or ends
    ``failed`` (the input file was refused; see ``errors``), ``expired`` (the completion window
    ran out) or ``cancelled`` (through ``cancelling``). Results are files:
    ``output_file_id`` holds the lines that succeeded, ``error_file_id`` those that failed; a
    batch can be ``completed`` with some lines in the error file (``request_counts.failed``).
    The ``*_at`` fields are Unix times in seconds. :func:`orchestrator.batch_failure` turns a
    finished batch that did not complete into the matching error.
    """

    id: str
    status: str
    object: str = "batch"
    endpoint: str | None = None
    input_file_id: str | None = None
    completion_window: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: int | None = None
    in_progress_at: int | None = None
    expires_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    request_counts: BatchRequestCounts | None = None
    metadata: dict[str, Any] | None = None
    errors: BatchErrors | None = None

    @property
    def finished(self) -> bool:
        """True once the batch can change no more (completed, failed, expired or cancelled): stop polling."""
        return self.status in FINISHED_STATUSES


class BatchList(_Response):
    """``GET /batches``: a page of batches, newest first; pass ``last_id`` as ``after`` for the next page."""

    data: list[Batch] = msgspec.field(default_factory=list)
    object: str = "list"
    first_id: str | None = None
    last_id: str | None = None
    has_more: bool = False


class BatchCreateRequest(msgspec.Struct, omit_defaults=True, kw_only=True):
    """The body of ``POST /batches`` (``metadata`` left out when not given)."""

    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None = None


decode_file = msgspec.json.Decoder(FileObject).decode
decode_file_list = msgspec.json.Decoder(FileList).decode
decode_file_deleted = msgspec.json.Decoder(FileDeleted).decode
decode_batch = msgspec.json.Decoder(Batch).decode
decode_batch_list = msgspec.json.Decoder(BatchList).decode
