"""The error hierarchy and error_from_response: every mapping row, real Groq bodies, odd bodies."""

from __future__ import annotations

import json
import pickle

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import _errors
from orchestrator._errors import (
    MAX_KEPT_BODY,
    AuthenticationError,
    AuthorizationError,
    CapacityExceededError,
    CircuitOpenError,
    CoordinationError,
    ConfigError,
    ContentFilterError,
    ContextLengthError,
    GroqError,
    ModelDecommissionedError,
    ModelError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    RequestTooLargeError,
    ServerError,
    StreamError,
    TimeoutError,
    ValidationError,
    error_from_response,
)


def body(**error: object) -> bytes:
    """A Groq error body with the given ``error`` fields."""
    return json.dumps({"error": error}).encode()


RATE_LIMIT_TPM = (
    "Rate limit reached for model `gemma2-9b-it` in organization `org_01` service tier `on_demand` on tokens per "
    "minute (TPM): Limit 15000, Used 11972, Requested 4351. Please try again in 5.289s. "
    "Visit https://console.groq.com/docs/rate-limits for more information."
)
TOO_LARGE_TPM = (
    "Request too large for model `openai/gpt-oss-20b` in organization `org_xxx` service tier `on_demand` on tokens "
    "per minute (TPM): Limit 6000, Requested 12328, please reduce your message size and try again. Need more tokens? "
    "Upgrade to Dev Tier today at https://console.groq.com/settings/billing"
)

# (status, body, expected class): spec 9.4's table, then Groq's real bodies (GROQ-API.md 1.3), then status fallbacks.
MAPPING = [
    (401, body(message="Invalid API Key", type="invalid_request_error", code="invalid_api_key"), AuthenticationError),
    (429, body(message="You exceeded your quota", type="insufficient_quota", code="insufficient_quota"), RateLimitError),
    (400, body(message="bad", type="invalid_request_error"), ValidationError),
    (
        404,
        body(
            message="The model `llama-3.1-405b-reasoning` does not exist or you do not have access to it.",
            type="invalid_request_error",
            code="model_not_found",
        ),
        ModelError,
    ),
    (
        400,
        body(
            message="The model `llama-3.3-70b-versatile` has been decommissioned and is no longer supported. Please "
            "refer to https://console.groq.com/docs/deprecations for a recommendation on which model to use instead.",
            type="invalid_request_error",
            code="model_decommissioned",
        ),
        ModelDecommissionedError,
    ),
    (
        400,
        body(
            message="Please reduce the length of the messages or completion.",
            type="invalid_request_error",
            param="messages",
            code="context_length_exceeded",
        ),
        ContextLengthError,
    ),
    (400, body(message="blocked", type="invalid_request_error", code="content_filter"), ContentFilterError),
    (500, body(message="Internal error", type="server_error"), ServerError),
    (503, body(message="Unavailable", type="service_unavailable"), ServerError),
    (
        400,
        body(
            message="Failed to generate JSON. Please adjust your prompt. See 'failed_generation' for more details.",
            type="invalid_request_error",
            code="json_validate_failed",
            failed_generation='```json\n{"a": ',
        ),
        ValidationError,
    ),
    (
        400,
        body(
            message="Failed to call a function. Please adjust your prompt. See 'failed_generation' for more details.",
            type="invalid_request_error",
            code="tool_use_failed",
            failed_generation='<function=brave_search>{"query": "Hello!"}</function>',
        ),
        ValidationError,
    ),
    (413, body(message=TOO_LARGE_TPM, type="tokens", code="rate_limit_exceeded"), RequestTooLargeError),
    (429, body(message=RATE_LIMIT_TPM, type="tokens", code="rate_limit_exceeded"), RateLimitError),
    (498, body(message="`flex` tier capacity exceeded", type="capacity", code="capacity_exceeded"), CapacityExceededError),
    (499, body(message="Request Cancelled", type="invalid_request_error"), ServerError),
    (500, body(message="Internal Server Error", type="internal_server_error"), ServerError),
    (502, b"<html>Bad Gateway</html>", ServerError),
    (503, b"", ServerError),
    (504, body(message="Gateway Timeout"), ServerError),
    (403, body(message="Forbidden", type="permission_error"), AuthorizationError),
    (404, body(message="Unknown request URL: GET /openai/v1/nope", type="invalid_request_error"), NotFoundError),
    (408, body(message="Request Timeout"), TimeoutError),
    (413, b"", RequestTooLargeError),
    (422, body(message="semantic error", type="invalid_request_error"), ValidationError),
    (429, b"", RateLimitError),
    (424, body(message="Failed Dependency", type="invalid_request_error"), ValidationError),
    (418, b"I'm a teapot", GroqError),
    (507, b"{}", ServerError),
]

RETRYABLE = {
    AuthenticationError: False,
    AuthorizationError: False,
    NotFoundError: False,
    ModelError: False,
    ValidationError: False,
    ConfigError: False,
    ContextLengthError: False,
    ModelDecommissionedError: False,
    ContentFilterError: False,
    RequestTooLargeError: False,
    RateLimitError: True,
    CapacityExceededError: True,
    ServerError: True,
    TimeoutError: True,
    NetworkError: True,
    StreamError: True,
    CircuitOpenError: True,
    CoordinationError: False,
}


class TestMapping:
    @pytest.mark.parametrize(("status", "raw", "expected"), MAPPING)
    def test_row_maps_to_class(self, status: int, raw: bytes, expected: type[GroqError]) -> None:
        """Each status/code/type row of the mapping table gives exactly the expected class."""
        assert type(error_from_response(status, {}, raw)) is expected

    @pytest.mark.parametrize(("status", "raw", "expected"), MAPPING)
    def test_row_keeps_status_and_body(self, status: int, raw: bytes, expected: type[GroqError]) -> None:
        """Every mapped error carries the HTTP status and the raw body."""
        error = error_from_response(status, {}, raw)
        assert (error.status, error.body) == (status, raw)

    def test_fields_are_copied(self) -> None:
        """type, code, param and message come from the body, the request id from the header."""
        raw = body(message="Please reduce.", type="invalid_request_error", param="messages", code="context_length_exceeded")
        error = error_from_response(400, {"x-request-id": "req_01abc"}, raw)
        assert (error.message, error.type, error.code, error.param, error.request_id) == (
            "Please reduce.",
            "invalid_request_error",
            "context_length_exceeded",
            "messages",
            "req_01abc",
        )

    def test_empty_request_id_is_none(self) -> None:
        """An empty x-request-id header counts as absent."""
        assert error_from_response(500, {"x-request-id": ""}, b"").request_id is None

    def test_failed_generation_is_kept(self) -> None:
        """tool_use_failed keeps Groq's failed_generation so the caller can salvage it."""
        raw = body(message="Failed to call a function.", type="invalid_request_error", code="tool_use_failed", failed_generation="<f>")
        assert error_from_response(400, {}, raw).failed_generation == "<f>"

    def test_code_beats_status(self) -> None:
        """A model_not_found code gives ModelError even on a 400."""
        raw = body(message="The model `x` does not exist", code="model_not_found")
        assert type(error_from_response(400, {}, raw)) is ModelError

    def test_generic_type_does_not_beat_status(self) -> None:
        """invalid_request_error on a 401 is still an AuthenticationError, not a ValidationError."""
        assert type(error_from_response(401, {}, body(message="no", type="invalid_request_error"))) is AuthenticationError

    def test_insufficient_quota_is_not_retryable(self) -> None:
        """An exhausted quota is a RateLimitError that no wait refills."""
        error = error_from_response(429, {}, body(message="quota", type="insufficient_quota", code="insufficient_quota"))
        assert error.retryable is False

    def test_stream_error_event_uses_embedded_status(self) -> None:
        """An error event inside a 200 stream takes its status from the event's status_code."""
        raw = body(message="Failed to call a function.", type="invalid_request_error", code="tool_use_failed", status_code=400)
        error = error_from_response(200, {}, raw)
        assert (type(error), error.status) == (ValidationError, 400)

    def test_real_status_beats_embedded_status(self) -> None:
        """On a real error response the HTTP status wins over a status_code in the body."""
        assert error_from_response(503, {}, body(message="x", status_code=400)).status == 503

    def test_integer_code_of_old_bodies(self) -> None:
        """The deprecated {"code": 14} shape still gives a usable error with the code as text."""
        error = error_from_response(503, {}, b'{"error":{"code":14,"message":"ErrorQueueFull","details":[]}}')
        assert (type(error), error.code, error.message) == (ServerError, "14", "ErrorQueueFull")

    def test_body_is_capped(self) -> None:
        """A huge error page is kept only up to MAX_KEPT_BODY bytes."""
        assert len(error_from_response(502, {}, b"x" * (MAX_KEPT_BODY + 10)).body or b"") == MAX_KEPT_BODY

    def test_non_json_body_becomes_message(self) -> None:
        """A plain-text body is the message, so the reader sees what the proxy said."""
        assert error_from_response(502, {}, b"upstream connect error").message == "upstream connect error"

    def test_empty_body_message_names_status(self) -> None:
        """An empty body still gives a message naming the status."""
        assert "HTTP 503" in error_from_response(503, {}, b"").message


class TestRetryAfter:
    def test_header_seconds(self) -> None:
        """retry-after in (fractional) seconds becomes retry_after."""
        assert error_from_response(429, {"retry-after": "2.5"}, b"").retry_after == 2.5

    def test_header_is_case_insensitive(self) -> None:
        """Headers are matched in any case, plain dict or httpx.Headers."""
        headers = httpx.Headers({"Retry-After": "3", "X-Request-Id": "req_9"})
        error = error_from_response(429, headers, b"")
        assert (error.retry_after, error.request_id) == (3.0, "req_9")

    def test_header_milliseconds(self) -> None:
        """retry-after-ms is read in milliseconds and preferred over retry-after."""
        assert error_from_response(429, {"retry-after-ms": "1500", "retry-after": "9"}, b"").retry_after == 1.5

    def test_header_beats_message(self) -> None:
        """The retry-after header wins over the message's hint."""
        raw = body(message=RATE_LIMIT_TPM, type="tokens", code="rate_limit_exceeded")
        assert error_from_response(429, {"retry-after": "6"}, raw).retry_after == 6.0

    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("Please try again in 5.289s.", 5.289),
            ("Please try again in 2m59.56s. Visit", 179.56),
            ("Requested ~12903. Please try again in 50.597142857s", 50.597142857),
            ("Please try again in 940ms.", 0.94),
            ("Please try again in 1h2m3s.", 3723.0),
        ],
    )
    def test_message_hint(self, text: str, seconds: float) -> None:
        """Without a header, "try again in <Go duration>" in the message gives retry_after."""
        error = error_from_response(429, {}, body(message=text, code="rate_limit_exceeded"))
        assert error.retry_after == pytest.approx(seconds)

    @pytest.mark.parametrize("value", ["soon", "-1", "nan", "inf", "Wed, 21 Oct 2015 07:28:00 GMT"])
    def test_unusable_header_falls_back_to_message(self, value: str) -> None:
        """A retry-after that is not a finite non-negative number is ignored in favour of the message."""
        raw = body(message="Please try again in 7.66s.", code="rate_limit_exceeded")
        assert error_from_response(429, {"retry-after": value}, raw).retry_after == pytest.approx(7.66)

    def test_no_hint_at_all(self) -> None:
        """No header and no hint leaves retry_after None."""
        assert error_from_response(429, {}, body(message="slow down")).retry_after is None


class TestRateLimitDetails:
    def test_tpm_message(self) -> None:
        """Groq's TPM 429 gives window TPM, limit type tokens and the three numbers."""
        error = error_from_response(429, {}, body(message=RATE_LIMIT_TPM, type="tokens", code="rate_limit_exceeded"))
        assert isinstance(error, RateLimitError)
        assert (error.window, error.limit_type, error.limit, error.used, error.requested) == ("TPM", "tokens", 15000, 11972, 4351)

    @pytest.mark.parametrize(
        ("phrase", "window", "kind"),
        [
            ("requests per minute (RPM)", "RPM", "requests"),
            ("requests per day (RPD)", "RPD", "requests"),
            ("tokens per day (TPD)", "TPD", "tokens"),
            ("audio seconds per hour (ASH)", "ASH", "audio_seconds"),
        ],
    )
    def test_window_from_message(self, phrase: str, window: str, kind: str) -> None:
        """The window in parentheses decides window and limit type when the body's type does not."""
        message = f"Rate limit reached for model `m` on {phrase}: Limit 10, Used 10, Requested 1. Please try again in 1s."
        error = error_from_response(429, {}, body(message=message, code="rate_limit_exceeded"))
        assert (error.window, error.limit_type) == (window, kind)

    def test_request_too_large_numbers(self) -> None:
        """The 413 reports limit and requested size, and is never retryable."""
        error = error_from_response(413, {}, body(message=TOO_LARGE_TPM, type="tokens", code="rate_limit_exceeded"))
        assert isinstance(error, RequestTooLargeError)
        assert (error.limit, error.requested, error.used, error.window, error.retryable) == (6000, 12328, None, "TPM", False)

    def test_str_says_how_long_to_wait(self) -> None:
        """str() of a 429 tells the wait and that retries are automatic."""
        error = error_from_response(429, {"x-request-id": "req_1"}, body(message=RATE_LIMIT_TPM, type="tokens", code="rate_limit_exceeded"))
        text = str(error)
        assert all(part in text for part in ("HTTP 429", "req_1", "TPM", "5.29 s", "automatically"))


class TestOddBodies:
    @pytest.mark.parametrize(
        "raw",
        [
            b"",
            b"null",
            b"[1, 2]",
            b'"just a string"',
            b"42",
            b"true",
            b"{}",
            b'{"error": null}',
            b'{"error": "plain text error"}',
            b'{"error": 5}',
            b'{"error": {"message": 5, "type": [], "code": {}, "param": true}}',
            b'{"error": {"message": "x", "status_code": true}}',
            b"\xff\xfe\x00garbage",
            b"[" * 10_000,
            b'{"error": {"message": "unterminated',
        ],
    )
    @pytest.mark.parametrize("status", [200, 400, 429, 500, 999])
    def test_never_raises(self, raw: bytes, status: int) -> None:
        """Odd bodies at any status give a GroqError whose str() works."""
        error = error_from_response(status, {}, raw)
        assert isinstance(error, GroqError) and str(error) and repr(error)

    def test_string_error_is_message(self) -> None:
        """{"error": "text"} uses the text as message."""
        assert error_from_response(500, {}, b'{"error": "plain text error"}').message == "plain text error"

    @given(status=st.integers(min_value=100, max_value=999), raw=st.binary(max_size=512))
    def test_arbitrary_bytes(self, status: int, raw: bytes) -> None:
        """Arbitrary bytes never crash the mapping."""
        error = error_from_response(status, {"retry-after": "1"}, raw)
        assert isinstance(error, GroqError) and isinstance(str(error), str)

    @given(
        status=st.integers(min_value=100, max_value=999),
        value=st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
            lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
            max_leaves=20,
        ),
        headers=st.dictionaries(st.sampled_from(["retry-after", "Retry-After-Ms", "x-request-id", "other"]), st.text(max_size=20)),
    )
    def test_arbitrary_json(self, status: int, value: object, headers: dict[str, str]) -> None:
        """Any JSON value, bare or under "error", with any header text, never crashes the mapping."""
        for raw in (json.dumps(value).encode(), json.dumps({"error": value}).encode()):
            error = error_from_response(status, headers, raw)
            assert isinstance(str(error), str)
            assert error.retry_after is None or error.retry_after >= 0


class TestErrors:
    @pytest.mark.parametrize(("cls", "retryable"), RETRYABLE.items(), ids=lambda v: getattr(v, "__name__", str(v)))
    def test_retryable(self, cls: type[GroqError], retryable: bool) -> None:
        """retryable follows spec 9.1: 429, 498, 5xx, timeout, network yes; other 4xx no."""
        assert cls("x").retryable is retryable

    @pytest.mark.parametrize(("status", "retryable"), [(None, False), (409, False), (408, True), (429, True), (498, True), (500, True), (599, True)])
    def test_base_retryable_by_status(self, status: int | None, retryable: bool) -> None:
        """A plain GroqError is retryable for 408, 429, 498 and 5xx only."""
        assert GroqError("x", status=status).retryable is retryable

    def test_stream_error_follows_event_status(self) -> None:
        """A StreamError carrying a 400 event is not retryable; one with no status is."""
        assert (StreamError("x", status=400).retryable, StreamError("x").retryable) == (False, True)

    @pytest.mark.parametrize("cls", list(RETRYABLE), ids=lambda c: c.__name__)
    def test_str_is_actionable(self, cls: type[GroqError]) -> None:
        """str() holds the message, the status and request id, and advice beyond the message."""
        error = cls("Something failed", status=400, request_id="req_42")
        text = str(error)
        assert text.startswith("Something failed.") and "HTTP 400" in text and "req_42" in text and len(text) > 60

    @pytest.mark.parametrize("cls", list(RETRYABLE), ids=lambda c: c.__name__)
    def test_pickle_round_trip(self, cls: type[GroqError]) -> None:
        """Errors survive pickling (for process pools) with their attributes."""
        error = cls("boom", status=500, code="c", request_id="req_1", retry_after=1.5)
        clone = pickle.loads(pickle.dumps(error))
        assert (type(clone), clone.message, clone.status, clone.code, clone.request_id, clone.retry_after) == (
            cls,
            "boom",
            500,
            "c",
            "req_1",
            1.5,
        )

    def test_repr_shows_fields(self) -> None:
        """repr names the class and the known fields."""
        assert repr(RateLimitError("slow", status=429, retry_after=2.0)) == "RateLimitError('slow', status=429, retry_after=2.0)"

    def test_every_export_is_a_groq_error(self) -> None:
        """Every exported class belongs to the one hierarchy."""
        classes = [getattr(_errors, name) for name in _errors.__all__ if name not in ("error_from_response", "unwrapped_errors")]
        assert all(issubclass(cls, GroqError) for cls in classes) and len(classes) == len(RETRYABLE) + 1

    def test_hierarchy_shape(self) -> None:
        """The subclass relations drawn in the module docstring hold."""
        assert all(
            (
                issubclass(ModelError, NotFoundError),
                issubclass(ContextLengthError, ValidationError),
                issubclass(ConfigError, ValidationError),
                not issubclass(RequestTooLargeError, RateLimitError),
            )
        )

    def test_validation_error_composes_message(self) -> None:
        """With no message, ValidationError names the path, rule and value."""
        error = ValidationError(field="messages[3].content[1].image_url.url", value="ftp://x", rule="must be http(s) or data URL")
        assert error.message == "Invalid messages[3].content[1].image_url.url: must be http(s) or data URL (got 'ftp://x')"

    def test_validation_error_truncates_value(self) -> None:
        """A long value (a base64 image) is quoted shortened, never whole."""
        error = ValidationError(field="f", value="A" * 100_000, rule="too big")
        assert len(str(error)) < 500 and "100002 chars" in error.message

    def test_validation_error_field_defaults_to_param(self) -> None:
        """A server-side validation error uses Groq's param as the field."""
        assert ValidationError("bad", param="messages").field == "messages"

    def test_model_error_reads_model(self) -> None:
        """ModelError finds the model id in Groq's message and names it in the advice."""
        error = ModelError("The model `llama-3.1-405b-reasoning` does not exist or you do not have access to it.")
        assert error.model == "llama-3.1-405b-reasoning" and "/models" in str(error)

    def test_context_length_numbers(self) -> None:
        """An OpenAI-style context message fills max_context and requested."""
        error = ContextLengthError("This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.")
        assert (error.max_context, error.requested) == (8192, 9000)

    def test_authentication_hint(self) -> None:
        """AuthenticationError shows only the key hint it was given, and where to get a key."""
        text = str(AuthenticationError("Invalid API Key", api_key_hint="wxyz"))
        assert "wxyz" in text and "console.groq.com/keys" in text

    def test_circuit_open_advice(self) -> None:
        """CircuitOpenError tells when the breaker probes and how to queue instead."""
        text = str(CircuitOpenError("Circuit open", retry_after=12.0))
        assert "12 s" in text and "when_open='wait'" in text


class TestAdvice:
    def test_generic_retryable(self) -> None:
        """A plain retryable GroqError says it is transient and retried."""
        assert "transient" in str(GroqError("x", status=509))

    def test_type_shown_without_code(self) -> None:
        """Without a code, the context names the type and the param."""
        assert "(HTTP 400, type invalid_request_error, param messages)" in str(GroqError("x", status=400, type="invalid_request_error", param="messages"))

    def test_available_models_listed(self) -> None:
        """ModelError suggests up to ten available models."""
        text = str(ModelError("gone", model="old", available_models=[f"m{i}" for i in range(12)]))
        assert "e.g. m0, m1" in text and "m9" in text and "m10" not in text

    def test_failed_generation_advice(self) -> None:
        """A rejected generation points at failed_generation instead of a field."""
        assert ".failed_generation" in str(ValidationError("Failed to generate JSON.", failed_generation="{"))

    def test_context_sizes_in_advice(self) -> None:
        """ContextLengthError states requested tokens and the window when known."""
        assert "(9000 tokens requested, window 8192)" in str(ContextLengthError("too long", max_context=8192, requested=9000))

    def test_quota_advice(self) -> None:
        """An exhausted quota points at billing, not at waiting."""
        assert "billing" in str(RateLimitError("quota", code="insufficient_quota"))

    def test_timeout_advice_names_limit(self) -> None:
        """TimeoutError names the limit that expired."""
        assert "timeout of 30 s" in str(TimeoutError("read timed out", timeout=30.0, operation="read"))

    def test_stream_advice_counts_partial(self) -> None:
        """StreamError says how much partial content survived."""
        assert "keeps the 5 characters" in str(StreamError("dropped", partial_content="hello"))


class TestUnwrappedErrors:
    def test_a_single_error_escapes_as_itself(self) -> None:
        """One error inside (nested) one-member groups comes out unwrapped."""
        with pytest.raises(KeyError):
            with _errors.unwrapped_errors():
                raise ExceptionGroup("outer", [ExceptionGroup("inner", [KeyError("k")])])

    def test_several_errors_stay_grouped(self) -> None:
        """A group of two errors is re-raised as the group."""
        with pytest.raises(ExceptionGroup) as caught:
            with _errors.unwrapped_errors():
                raise ExceptionGroup("two", [KeyError("a"), ValueError("b")])
        assert len(caught.value.exceptions) == 2
