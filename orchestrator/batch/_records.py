"""What one line of a batch file means, and what one line of a results file says.

Theory of operation
-------------------
A batch input file is JSON Lines. Each non-blank line is one job, in one of two shapes:

* the Groq/OpenAI batch format::

      {"custom_id": "q-1", "method": "POST", "url": "/v1/chat/completions", "body": {...chat request...}}

  (``url`` may also be ``/openai/v1/chat/completions``; a missing ``method``/``url`` means these defaults);
* a plain chat request body, exactly what you would pass to ``chat.completions.create`` as JSON.
  Its custom_id is taken from its line number: ``line-17``.

`parse_line` turns one raw line into a `BatchJob` or, when the line is unusable, a `BadLine` that says why
(line number, a stable ``code``, and for request validation the field path in ``param``). Bad input never
raises here: in a batch it becomes that line's error record, because losing a job silently is the one thing a
batch runner must never do.

A results file is JSON Lines in the batch *output* format, one line per job::

    {"id": "batch_req_...", "custom_id": "q-1",
     "response": {"status_code": 200, "request_id": "req_...", "body": {...chat.completion...}},
     "error": null}

A failure keeps the same shape: ``"response"`` holds the status and the API's error body when the server
answered (``null`` when it never did: bad line, local validation, network, timeout), and ``"error"`` holds
``{"code", "message", "line", "param"?, "attempts"?}``. Each line the runner writes ends with
``"input_sha256"``, the `line_digest` of the input line it answers, so a resumed run can tell that the line
behind a custom_id changed (see `orchestrator.batch._source`); lines written before that field existed lack it.

No poison lines: nothing one line holds may stop a run. `identify` and `parse_line` never raise on any
bytes (JSON nested deeper than `MAX_JSON_DEPTH` is refused before decoding, so the answer does not depend
on how deep the Python stack is), and `finished_line` turns any exception that is not a `GroqError`, raised
while recording a job, into that job's ``internal_error`` record (`InternalJobError`). Only `RUN_ERRORS`
(which are about the process, not the job) pass through. A batch job is answered whole, so ``stream`` and
``stream_options`` are dropped from its request, as Groq's Batch API does.

This module is pure: no IO, no trio, no httpx. The runner (`orchestrator.batch._local`) reads and writes.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any, Final

import msgspec

from orchestrator._errors import GroqError, ValidationError
from orchestrator._wire import MAX_JSON_DEPTH as WIRE_MAX_DEPTH, ChatRequest, ChatResponse, chat_request_from
from orchestrator.batch._source import line_digest

if TYPE_CHECKING:
    from orchestrator._map import JobResult

__all__ = [
    "CHAT_URLS",
    "INTERNAL_ERROR",
    "MAX_JSON_DEPTH",
    "RUN_ERRORS",
    "BadLine",
    "ErrorRecord",
    "BatchJob",
    "InternalJobError",
    "ResponseRecord",
    "ResultRecord",
    "bad_line_record",
    "encode_record",
    "failure_record",
    "identify",
    "job_error",
    "json_too_deep",
    "line_custom_id",
    "new_record_id",
    "parse_line",
    "success_record",
]

#: The request paths a batch line may name; both address the one endpoint we drive.
CHAT_URLS = frozenset({"/v1/chat/completions", "/openai/v1/chat/completions"})

# Keys that mark a line as batch-format rather than a plain chat body.
_BATCH_KEYS = ("custom_id", "body", "method", "url")

#: Deepest JSON nesting a line may have. Decoders recurse once per level and fail past Python's recursion
#: limit *minus the current stack depth*, so without a fixed bound a line near the limit could decode in one
#: pass and not in the next. The client refuses deeper bodies too (`orchestrator._wire.MAX_JSON_DEPTH`), so
#: one number holds for a line and a body; it is far beyond any chat request (a tool's JSON schema included).
MAX_JSON_DEPTH: Final = WIRE_MAX_DEPTH

#: The error code of a job the runner failed on with an exception that is not a `GroqError` (a bug, or a
#: request no code path expected): the job gets this record, the run goes on.
INTERNAL_ERROR: Final = "internal_error"

#: Exceptions that are about the process, not the job, and so stop a run even when raised inside one job's
#: code. (Cancellation, KeyboardInterrupt and SystemExit are not `Exception`s and are never caught at all;
#: a full disk or a lost lock is an `OSError` of the runner's own writes, outside any job's code.)
RUN_ERRORS: Final = (MemoryError,)

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
_SECRETS = re.compile(r"gsk_[A-Za-z0-9]+")
_MAX_DETAIL = 160


def json_too_deep(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when ``raw`` (JSON or not) nests brackets more than ``limit`` deep outside strings.

    Cheap for ordinary lines: only a line with more than ``limit`` opening brackets in all is scanned.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", raw)):
        if bracket in b"[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


class InternalJobError(GroqError):
    """An exception that is not a `GroqError`, raised while the runner read, validated, sent or recorded one
    job, as that job's error: code ``internal_error``, and a message naming the exception's type.

    The message keeps at most the first 160 characters of the exception's own text, with anything shaped
    like an API key masked, never the request body.
    """

    def __init__(self, message: str, *, exception_type: str) -> None:
        super().__init__(message, code=INTERNAL_ERROR)
        self.exception_type = exception_type

    @classmethod
    def from_exception(cls, exc: BaseException, stage: str) -> InternalJobError:
        """The error for ``exc``, raised while ``stage`` (``reading``, ``validating``, ``recording``) the job."""
        name = type(exc).__name__
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        text = _SECRETS.sub("gsk_***", text)
        if len(text) > _MAX_DETAIL:
            text = text[:_MAX_DETAIL] + "..."
        detail = f": {text}" if text else ""
        return cls(f"internal error while {stage} this job: {name}{detail}", exception_type=name)

    def advice(self) -> str:
        return ("The other jobs went on. This is a bug in groq-orchestrator, or a request it cannot handle: "
                "please report it with the exception type.")


def job_error(exc: Exception, stage: str) -> GroqError:
    """``exc`` as the error of the job it was raised for: itself when it is a `GroqError`, else an
    `InternalJobError`. Callers re-raise `RUN_ERRORS` before calling this."""
    return exc if isinstance(exc, GroqError) else InternalJobError.from_exception(exc, stage)


class BatchJob(msgspec.Struct, frozen=True):
    """One runnable job: a validated-shape chat request plus where it came from.

    ``line`` is the 1-based line number in the input file, kept so error records can point back at it.
    ``priority`` comes from ``--priority-field`` (0 when unused); higher runs sooner among queued jobs.
    ``input_sha256`` is the line's `line_digest`, written into its result line.
    """

    custom_id: str
    line: int
    request: ChatRequest
    priority: int = 0
    input_sha256: str | None = None


class BadLine(msgspec.Struct, frozen=True):
    """A line that cannot become a request, and why.

    ``code`` is stable and machine-readable (``invalid_json``, ``invalid_line``, ``invalid_custom_id``,
    ``invalid_method``, ``invalid_url``, ``invalid_body``, ``invalid_request``, ``invalid_priority``,
    ``internal_error``); ``param`` is the offending field path for request validation failures.
    """

    custom_id: str
    line: int
    code: str
    message: str
    param: str | None = None
    input_sha256: str | None = None


class ResponseRecord(msgspec.Struct):
    """The ``response`` member of a result line: what the server said (status, request id, JSON body)."""

    status_code: int
    request_id: str | None
    body: Any


class ErrorRecord(msgspec.Struct, omit_defaults=True):
    """The ``error`` member of a result line: a stable code, a human message, and where to look."""

    code: str
    message: str
    line: int | None = None
    param: str | None = None
    attempts: int | None = None


class ResultRecord(msgspec.Struct, omit_defaults=True):
    """One line of the results file, in the batch output format (field order as Groq writes it), plus
    ``input_sha256``: the `line_digest` of the input line it answers (left out when unknown)."""

    id: str
    custom_id: str
    response: ResponseRecord | None
    error: ErrorRecord | None
    input_sha256: str | None = None


class _IdView(msgspec.Struct):
    """Decodes only ``custom_id`` from a line, skipping the (possibly large) body."""

    custom_id: Any = None


_decode_id_view = msgspec.json.Decoder(_IdView).decode
_decode_any = msgspec.json.Decoder().decode
_encoder = msgspec.json.Encoder()


def line_custom_id(line: int) -> str:
    """The custom_id given to a job that does not name one: ``line-<n>`` (1-based line number)."""
    return f"line-{line}"


def _explicit_id(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def identify(raw: bytes, line: int) -> str:
    """The custom_id a raw line will carry, decoding as little as possible.

    This is what the duplicate check and resume key on, and `parse_line` uses it for every outcome of the
    line, so the two agree by construction. A line whose ``custom_id`` can be read is known by it even when
    the rest of the line cannot be decoded (invalid UTF-8 inside the body, a number out of range): its error
    record is then found on resume. A line that is not a JSON object, has no usable ``custom_id``, or nests
    deeper than `MAX_JSON_DEPTH` is ``line-<n>``. Never raises on any bytes.
    """
    if json_too_deep(raw):
        return line_custom_id(line)
    try:
        view = _decode_id_view(raw)
    except RUN_ERRORS:
        raise
    except Exception:  # a DecodeError, or anything else a hostile line provokes: no id can be read
        return line_custom_id(line)
    return _explicit_id(view.custom_id) or line_custom_id(line)


def _json_kind(value: Any) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return type(value).__name__


def parse_line(
    raw: bytes,
    line: int,
    *,
    model: str | None = None,
    priority_field: str | None = None,
    custom_id: str | None = None,
) -> BatchJob | BadLine:
    """Turn one raw input line into a `BatchJob`, or a `BadLine` that explains what is wrong.

    Args:
        raw: the line's bytes, without its newline.
        line: its 1-based line number.
        model: when given, replaces the body's ``model`` (the ``--model`` option).
        priority_field: when given, the top-level field holding an integer priority (absent means 0).
        custom_id: ``identify(raw, line)`` when the caller already has it (saves decoding the id twice).

    Never raises on any bytes (only `RUN_ERRORS` pass): every problem becomes a `BadLine`, one that nothing
    expected (an exception that is not a `ValidationError`) with code ``internal_error``. Both carry the
    line's custom_id as `identify` reads it, and its `line_digest`.
    """
    digest = line_digest(raw)
    if custom_id is None:
        custom_id = identify(raw, line)
    try:
        return _parse(raw, line, custom_id, digest, model=model, priority_field=priority_field)
    except RUN_ERRORS:
        raise
    except Exception as exc:
        error = InternalJobError.from_exception(exc, "reading")
        return BadLine(custom_id, line, INTERNAL_ERROR, f"line {line}: {error}", input_sha256=digest)


def _parse(
    raw: bytes, line: int, custom_id: str, digest: str, *, model: str | None, priority_field: str | None
) -> BatchJob | BadLine:
    if json_too_deep(raw):
        return BadLine(
            custom_id, line, "invalid_json",
            f"line {line} nests JSON more than {MAX_JSON_DEPTH} levels deep; no chat request needs that many",
            input_sha256=digest,
        )
    try:
        obj = _decode_any(raw)
    except msgspec.DecodeError as exc:
        return BadLine(
            custom_id, line, "invalid_json",
            f"line {line} is not valid JSON ({exc}); each line must be one JSON object", input_sha256=digest,
        )
    if not isinstance(obj, dict):
        return BadLine(
            custom_id, line, "invalid_line",
            f"line {line} is {_json_kind(obj)}, not a JSON object; write one job object per line",
            input_sha256=digest,
        )
    if any(key in obj for key in _BATCH_KEYS):
        problem = _check_envelope(obj, line)
        if problem is not None:
            code, message = problem
            return BadLine(custom_id, line, code, message, input_sha256=digest)
        body = obj["body"]
    else:
        body = obj
    priority = 0
    if priority_field is not None and priority_field in obj:
        value = obj[priority_field]
        if isinstance(value, bool) or not isinstance(value, int):
            return BadLine(
                custom_id, line, "invalid_priority",
                f"line {line}: priority field {priority_field!r} is {value!r}; it must be an integer",
                param=priority_field, input_sha256=digest,
            )
        priority = value
    if model is not None:
        body = {**body, "model": model}
    try:
        # The line's body as decoded (json_too_deep measured the line) need not be walked; a --model from the
        # command line is not JSON and might hold a lone surrogate, so a body given one is.
        request = chat_request_from(body, decoded_json=model is None)
    except ValidationError as exc:
        return BadLine(custom_id, line, "invalid_request", f"line {line}: {exc}", param=exc.field,
                       input_sha256=digest)
    if request.stream or request.stream_options is not None:
        # A result line holds a whole completion: the job is sent unstreamed, as the Batch API would.
        request = msgspec.structs.replace(request, stream=None, stream_options=None)
    return BatchJob(custom_id, line, request, priority, digest)


def _check_envelope(obj: dict[str, Any], line: int) -> tuple[str, str] | None:
    """The (code, message) of the first thing wrong with a batch-format envelope, or None."""
    if "custom_id" in obj and _explicit_id(obj["custom_id"]) is None:
        return "invalid_custom_id", (
            f"line {line}: custom_id is {obj['custom_id']!r}; it must be a non-empty string "
            "(or leave it out to use the line number)"
        )
    method = obj.get("method", "POST")
    if method != "POST":
        return "invalid_method", f"line {line}: method is {method!r}; only \"POST\" is supported"
    url = obj.get("url", "/v1/chat/completions")
    if not isinstance(url, str) or url not in CHAT_URLS:
        return "invalid_url", (
            f"line {line}: url is {url!r}; only chat completions are supported "
            f"({' or '.join(sorted(CHAT_URLS))})"
        )
    if not isinstance(obj.get("body"), dict):
        return "invalid_body", (
            f"line {line}: body is {_json_kind(obj.get('body'))}; it must be a chat request object "
            "with model and messages"
        )
    return None


#: Each byte to one of base32's 32 lowercase characters (256 is 8 x 32, so every character is as likely).
_BASE32_OF_BYTE: Final = bytes(b"abcdefghijklmnopqrstuvwxyz234567"[byte % 32] for byte in range(256))


def new_record_id() -> str:
    """A fresh result id, ``batch_req_`` plus 26 random lowercase base32 characters (Groq's shape; 130 bits).

    Mapped in C with ``bytes.translate``: ``base64.b32encode`` is a Python loop, and cost 1.5 % of a
    10,000-job batch's CPU (measured 2026-12-02).
    """
    return "batch_req_" + os.urandom(26).translate(_BASE32_OF_BYTE).decode("ascii")


def success_record(
    custom_id: str, response: ChatResponse, *, status_code: int, request_id: str | None,
    input_sha256: str | None = None,
) -> ResultRecord:
    """The result line for a completed job: the chat completion as the body, ``error: null``."""
    if request_id is None and response.x_groq is not None:
        request_id = response.x_groq.id
    return ResultRecord(
        new_record_id(), custom_id, ResponseRecord(status_code, request_id, response), None, input_sha256
    )


def bad_line_record(bad: BadLine) -> ResultRecord:
    """The result line for an unusable input line: no response, and an error naming line and reason."""
    return ResultRecord(
        new_record_id(), bad.custom_id, None, ErrorRecord(bad.code, bad.message, bad.line, bad.param),
        bad.input_sha256,
    )


def _error_code(error: GroqError) -> str:
    if error.code:
        return error.code
    if isinstance(error, ValidationError):
        return "invalid_request"
    if error.status is not None:
        return error.type or f"http_{error.status}"
    # Local failures (timeout, network, breaker) have no server code: name the kind.
    name = type(error).__name__.removesuffix("Error")
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_") or "error"


def _error_body(error: GroqError) -> Any:
    """The server's JSON error body when it sent one, else the same shape rebuilt from the error."""
    if error.body:
        try:
            body = _decode_any(error.body)
        except msgspec.DecodeError:
            body = None
        if isinstance(body, dict):
            return body
    detail = {"message": error.message, "type": error.type, "code": error.code}
    return {"error": {key: value for key, value in detail.items() if value is not None}}


def failure_record(
    custom_id: str,
    line: int,
    error: GroqError,
    *,
    status_code: int | None,
    request_id: str | None,
    attempts: int,
    input_sha256: str | None = None,
) -> ResultRecord:
    """The result line for a job that ran but did not succeed.

    When the server answered, ``response`` keeps its status, request id and error body, so nothing the API
    said is lost; ``error`` always carries a code and message, the input line, the field path (``param``) for
    validation errors, and the attempt count when the job was retried.
    """
    status = status_code if status_code is not None else error.status
    rid = request_id or error.request_id
    response = ResponseRecord(status, rid, _error_body(error)) if status is not None else None
    param = error.param
    if param is None and isinstance(error, ValidationError):
        param = error.field
    return ResultRecord(
        new_record_id(),
        custom_id,
        response,
        ErrorRecord(_error_code(error), str(error), line, param, attempts if attempts > 1 else None),
        input_sha256,
    )


def encode_record(record: ResultRecord) -> bytes:
    """One result as a complete JSONL line, newline included (one ``write`` puts it all down)."""
    buffer = bytearray()
    _encoder.encode_into(record, buffer)
    buffer.extend(b"\n")
    return bytes(buffer)


class FinishedLine(msgspec.Struct, frozen=True):
    """A finished job's result line, and what a tally counts for it.

    ``error_code`` is None for a success; then the token counts and model are the response's (what a
    price table needs: cached tokens are part of the prompt tokens, billed at the cached rate).
    """

    line: bytes
    error_code: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    model: str | None = None


def finished_line(job: BatchJob, result: JobResult) -> FinishedLine:
    """The result line of one finished job (success or failure), as every batch runner writes it.

    Never raises for the job's sake: an exception that is not a `GroqError` (a response the record cannot
    hold, say) makes the line the job's ``internal_error`` record instead; only `RUN_ERRORS` pass.
    """
    try:
        return _finished_line(job, result)
    except RUN_ERRORS:
        raise
    except Exception as exc:
        error = InternalJobError.from_exception(exc, "recording")
        record = failure_record(job.custom_id, job.line, error, status_code=None, request_id=result.request_id,
                                attempts=result.attempts, input_sha256=job.input_sha256)
        return FinishedLine(encode_record(record), error_code=INTERNAL_ERROR)


def _finished_line(job: BatchJob, result: JobResult) -> FinishedLine:
    if result.error is None:
        response = result.response
        if not isinstance(response, ChatResponse):
            raise TypeError(f"the client returned {type(response).__name__}, not a chat completion")
        usage = response.usage
        record = success_record(
            job.custom_id, response, status_code=result.status_code or 200, request_id=result.request_id,
            input_sha256=job.input_sha256,
        )
        details = usage.prompt_tokens_details if usage else None
        return FinishedLine(
            encode_record(record),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=(details.cached_tokens or 0) if details is not None else 0,
            model=response.model,
        )
    record = failure_record(
        job.custom_id,
        job.line,
        result.error,
        status_code=result.status_code,
        request_id=result.request_id,
        attempts=result.attempts,
        input_sha256=job.input_sha256,
    )
    assert record.error is not None
    return FinishedLine(encode_record(record), error_code=record.error.code)
