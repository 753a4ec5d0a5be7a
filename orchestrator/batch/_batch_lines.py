"""What one line of a Groq batch output or error file means for the results file (pure: no IO).

Groq writes each batch's results to two files (groq-api-cookbook
``tutorials/01-quickstart/batch-processing/batch_output.jsonl``, seen 2026-12):

* the output file: ``{"id", "custom_id", "response": {"status_code": 200, "request_id", "body": {chat
  completion}}, "error": null}`` per line that succeeded;
* the error file: the same shape for lines that ran and failed (``response.status_code`` 4xx/5xx with
  Groq's error envelope as the body), or ``"response": null, "error": {"code": "batch_expired" | ...}``
  for lines that never ran.

A success line already *is* a results-file line (our results file uses Groq's batch output format), so it
is copied byte for byte. For every other line `verdict` decides: record it now (the server refused the
request itself: resubmitting cannot help), or leave it unanswered so the next round resubmits it (it never
ran, or it failed for a reason that passes: 429, 5xx). On the last round everything is recorded.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from orchestrator._secret import redact_text
from orchestrator.batch._records import ErrorRecord, ResponseRecord, ResultRecord, encode_record, new_record_id

__all__ = ["OutputLine", "Verdict", "decode_output_line", "error_line", "not_returned_line", "verdict"]

Verdict = Literal["success", "record", "resubmit"]

#: Error codes of lines that never ran: the batch ended (expired, cancelled) before reaching them.
NEVER_RAN = frozenset({"batch_expired", "batch_cancelled"})


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: dict[str, Any] | None = None


class _Body(msgspec.Struct):
    """The parts of a response body the runner needs: usage and model for a success, error for a failure."""

    model: str | None = None
    usage: _Usage | None = None
    error: dict[str, Any] | None = None


class _Response(msgspec.Struct):
    status_code: int
    request_id: str | None = None
    body: msgspec.Raw = msgspec.Raw(b"null")


class _Error(msgspec.Struct):
    code: str | None = None
    message: str | None = None
    param: str | None = None
    line: int | None = None


class OutputLine(msgspec.Struct):
    """One decoded line of a batch output or error file (the body is kept raw until it is needed)."""

    custom_id: str
    response: _Response | None = None
    error: _Error | None = None

    def body(self) -> _Body:
        """The response body's usage, model and error (empty when there is no response)."""
        if self.response is None:
            return _Body()
        try:
            return _decode_body(self.response.body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return _Body()

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.response is not None and self.response.status_code < 400


_decode_line = msgspec.json.Decoder(OutputLine).decode
_decode_body = msgspec.json.Decoder(_Body).decode
_decode_any = msgspec.json.Decoder().decode


def decode_output_line(raw: bytes) -> OutputLine | None:
    """The line, or None when it is not a batch result (blank, not JSON, or no custom_id)."""
    try:
        return _decode_line(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def verdict(line: OutputLine, *, final_round: bool) -> Verdict:
    """What to do with one returned line: copy it (success), record its error, or leave it for resubmission."""
    if line.succeeded:
        return "success"
    if final_round:
        return "record"
    if line.response is None:
        return "resubmit"  # never ran (expired, cancelled) or the server said nothing about it
    status = line.response.status_code
    return "resubmit" if status == 429 or status >= 500 else "record"


def _error_code(line: OutputLine, body: _Body) -> str:
    if line.error is not None and line.error.code:
        return line.error.code
    detail = body.error or {}
    code = detail.get("code") or detail.get("type")
    if isinstance(code, str) and code:
        return code
    return f"http_{line.response.status_code}" if line.response is not None else "batch_error"


def error_line(line: OutputLine, *, attempts: int) -> tuple[bytes, str]:
    """The results-file line (and its error code) for a returned line that did not succeed.

    ``response`` keeps what the server said (status, request id, error body); ``error`` carries a code and a
    message, like every failure the live runner records, and ``attempts`` the rounds it was submitted in.
    """
    body = line.body()
    code = _error_code(line, body)
    detail = body.error or {}
    message = (line.error.message if line.error is not None else None) or detail.get("message") or code
    param = (line.error.param if line.error is not None else None) or detail.get("param")
    response = None
    if line.response is not None:
        response = ResponseRecord(line.response.status_code, line.response.request_id,
                                  _decode_any(line.response.body))
    error = ErrorRecord(code, str(message), None, param if isinstance(param, str) else None,
                        attempts if attempts > 1 else None)
    # The server's words may quote what the job sent (a model id that was a pasted key): masked before
    # they are written, as every error the live runner records is.
    record = encode_record(ResultRecord(new_record_id(), line.custom_id, response, error))
    return redact_text(record.decode()).encode(), code


def not_returned_line(custom_id: str, line: int | None, *, code: str, message: str, attempts: int) -> bytes:
    """The results-file line for an input line the Batch API did not answer (``line``: its input line, if known)."""
    error = ErrorRecord(code, message, line, None, attempts if attempts > 1 else None)
    return encode_record(ResultRecord(new_record_id(), custom_id, None, error))
