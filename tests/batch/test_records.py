"""Tests for the batch line parser and result record formats (pure, no IO)."""

from __future__ import annotations

import json
import re

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.batch._records import (
    BadLine,
    BatchJob,
    bad_line_record,
    encode_record,
    failure_record,
    identify,
    new_record_id,
    parse_line,
    success_record,
)
from orchestrator._errors import ModelError, NetworkError, ServerError, ValidationError
from orchestrator._wire import decode_chat_response

BODY = {"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "hi"}]}


def line(obj: object) -> bytes:
    return json.dumps(obj).encode()


class TestParseLine:
    def test_batch_format_line_becomes_a_job(self) -> None:
        """A batch-format line yields a BatchJob with its custom_id, line number and request."""
        job = parse_line(line({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": BODY}), 7)
        assert isinstance(job, BatchJob) and (job.custom_id, job.line, job.request.model) == ("a", 7, "openai/gpt-oss-20b")

    def test_openai_prefixed_url_is_accepted(self) -> None:
        """The /openai/v1 path prefix names the same endpoint."""
        assert isinstance(parse_line(line({"custom_id": "a", "url": "/openai/v1/chat/completions", "body": BODY}), 1), BatchJob)

    def test_plain_body_gets_id_from_line_number(self) -> None:
        """A plain chat body is a job whose custom_id is line-N."""
        job = parse_line(line(BODY), 17)
        assert isinstance(job, BatchJob) and job.custom_id == "line-17"

    def test_model_override_replaces_body_model(self) -> None:
        """--model replaces the model named in the body."""
        job = parse_line(line(BODY), 1, model="qwen/qwen3.6-27b")
        assert isinstance(job, BatchJob) and job.request.model == "qwen/qwen3.6-27b"

    def test_a_model_override_that_utf8_cannot_write_is_a_bad_line(self) -> None:
        """A --model read from a non-UTF-8 command line holds a lone surrogate: every line says so, none is sent."""
        bad = parse_line(line(BODY), 3, model="llama\udcff")
        assert isinstance(bad, BadLine) and bad.code == "invalid_request" and bad.param == "model"

    @settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
    @given(st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
                        max_leaves=12))
    def test_a_decoded_line_builds_the_request_a_walked_dict_builds(self, extra: object) -> None:
        """Lines are not walked (JSON text holds no NaN or lone surrogate): what they build matches the dict's."""
        from orchestrator._wire import chat_request_from

        body = {**BODY, "metadata": {"extra": json.dumps(extra)}, "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "default": extra}}}]}
        job = parse_line(line(body), 1)
        assert isinstance(job, BatchJob) and job.request == chat_request_from(body)

    def test_priority_field_is_read(self) -> None:
        """The priority field's integer becomes the job priority."""
        job = parse_line(line({"custom_id": "a", "body": BODY, "prio": 5}), 1, priority_field="prio")
        assert isinstance(job, BatchJob) and job.priority == 5

    def test_non_integer_priority_is_a_bad_line(self) -> None:
        """A priority that is not an integer is reported, naming the field."""
        bad = parse_line(line({"custom_id": "a", "body": BODY, "prio": "high"}), 2, priority_field="prio")
        assert isinstance(bad, BadLine) and (bad.code, bad.param) == ("invalid_priority", "prio")

    def test_invalid_json_is_a_bad_line(self) -> None:
        """Broken JSON becomes an invalid_json error carrying the line number."""
        bad = parse_line(b'{"custom_id": "a", ', 3)
        assert isinstance(bad, BadLine) and (bad.code, bad.line, bad.custom_id) == ("invalid_json", 3, "line-3")

    def test_non_object_is_a_bad_line(self) -> None:
        """A JSON value that is not an object is refused as invalid_line."""
        bad = parse_line(b"[1, 2]", 4)
        assert isinstance(bad, BadLine) and bad.code == "invalid_line" and "array" in bad.message

    def test_wrong_method_is_a_bad_line(self) -> None:
        """Only POST is accepted, and the bad line keeps its custom_id."""
        bad = parse_line(line({"custom_id": "x", "method": "GET", "body": BODY}), 1)
        assert isinstance(bad, BadLine) and (bad.code, bad.custom_id) == ("invalid_method", "x")

    def test_wrong_url_is_a_bad_line(self) -> None:
        """Only the chat completions path is accepted."""
        bad = parse_line(line({"custom_id": "x", "url": "/v1/embeddings", "body": BODY}), 1)
        assert isinstance(bad, BadLine) and bad.code == "invalid_url"

    def test_non_string_url_is_a_bad_line(self) -> None:
        """A url that is not a string (here an object) is refused, not crashed on."""
        bad = parse_line(line({"custom_id": "x", "url": {"a": 1}, "body": BODY}), 1)
        assert isinstance(bad, BadLine) and bad.code == "invalid_url"

    def test_missing_body_is_a_bad_line(self) -> None:
        """A batch line without an object body is refused as invalid_body."""
        bad = parse_line(line({"custom_id": "x"}), 1)
        assert isinstance(bad, BadLine) and bad.code == "invalid_body"

    def test_empty_custom_id_is_a_bad_line(self) -> None:
        """An empty custom_id is refused (and the line number stands in for it)."""
        bad = parse_line(line({"custom_id": "", "body": BODY}), 9)
        assert isinstance(bad, BadLine) and (bad.code, bad.custom_id) == ("invalid_custom_id", "line-9")

    def test_invalid_request_names_the_field_path(self) -> None:
        """A body with a wrongly typed field is refused with the field path in param."""
        body = {"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 5}]}
        bad = parse_line(line({"custom_id": "x", "body": body}), 1)
        assert isinstance(bad, BadLine) and (bad.code, bad.param) == ("invalid_request", "messages[1].content")


class TestIdentify:
    def test_explicit_id(self) -> None:
        """identify returns the line's custom_id when it has one."""
        assert identify(line({"custom_id": "q-1", "body": {}}), 5) == "q-1"

    @given(st.binary(max_size=64), st.integers(min_value=1, max_value=10**6))
    def test_agrees_with_parse_line_on_any_bytes(self, raw: bytes, number: int) -> None:
        """For any bytes, identify and parse_line agree on the custom_id."""
        assert identify(raw, number) == parse_line(raw, number).custom_id

    @given(
        st.dictionaries(
            st.sampled_from(["custom_id", "body", "method", "url", "model", "messages"]),
            st.one_of(st.none(), st.integers(), st.text(max_size=5), st.just(BODY)),
            max_size=4,
        ),
        st.integers(min_value=1, max_value=1000),
    )
    @settings(suppress_health_check=[HealthCheck.too_slow])
    def test_agrees_with_parse_line_on_objects(self, obj: dict[str, object], number: int) -> None:
        """For any JSON object, identify and parse_line agree on the custom_id."""
        raw = line(obj)
        assert identify(raw, number) == parse_line(raw, number).custom_id


RESPONSE = decode_chat_response(
    b'{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"openai/gpt-oss-20b",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4},"x_groq":{"id":"req_abc"}}'
)


class TestRecords:
    def test_record_id_shape(self) -> None:
        """Record ids look like Groq's: batch_req_ plus 26 lowercase base32 characters."""
        rid = new_record_id()
        assert rid.startswith("batch_req_") and len(rid) == 36 and rid[10:].isalnum() and rid == rid.lower()

    def test_record_ids_are_random_over_the_whole_base32_alphabet(self) -> None:
        """Two thousand ids: all distinct, each character base32's, and every one of its 32 characters used."""
        ids = {new_record_id() for _ in range(2_000)}
        assert len(ids) == 2_000
        assert all(re.fullmatch(r"batch_req_[a-z2-7]{26}", rid) for rid in ids)
        assert set("".join(rid[10:] for rid in ids)) == set("abcdefghijklmnopqrstuvwxyz234567")

    def test_success_line_is_batch_output_format(self) -> None:
        """A success line has id, custom_id, response{status_code, request_id, body} and error null, in order."""
        out = encode_record(success_record("a", RESPONSE, status_code=200, request_id=None))
        assert out.endswith(b"\n") and out.count(b"\n") == 1
        obj = json.loads(out)
        assert (list(obj), obj["response"]["request_id"], obj["response"]["body"]["choices"][0]["message"]["content"],
                obj["error"]) == (["id", "custom_id", "response", "error"], "req_abc", "hello", None)

    def test_bad_line_record(self) -> None:
        """A bad line's record has no response and an error with code, message and line."""
        obj = json.loads(encode_record(bad_line_record(BadLine("line-3", 3, "invalid_json", "broken"))))
        assert (obj["response"], obj["error"]) == (None, {"code": "invalid_json", "message": "broken", "line": 3})

    def test_api_error_keeps_status_and_server_body(self) -> None:
        """An API error keeps the status, request id and Groq's error body, and the error names the code."""
        body = b'{"error":{"message":"The model `nope` does not exist","type":"invalid_request_error","code":"model_not_found"}}'
        error = ModelError("The model `nope` does not exist", status=404, code="model_not_found", body=body, request_id="req_1")
        obj = json.loads(encode_record(failure_record("a", 4, error, status_code=None, request_id=None, attempts=1)))
        assert (obj["response"]["status_code"], obj["response"]["request_id"], obj["response"]["body"]["error"]["code"],
                obj["error"]["code"], obj["error"]["line"]) == (404, "req_1", "model_not_found", "model_not_found", 4)

    def test_unparseable_server_body_is_rebuilt(self) -> None:
        """A non-JSON error body is replaced by an error object built from the exception."""
        error = ServerError("bad gateway", status=502, body=b"<html>")
        obj = json.loads(encode_record(failure_record("a", 1, error, status_code=502, request_id=None, attempts=4)))
        assert (obj["response"]["body"], obj["error"]["attempts"]) == ({"error": {"message": "bad gateway"}}, 4)

    def test_validation_error_has_param_and_no_response(self) -> None:
        """A local validation failure has no response and puts the field path in param."""
        error = ValidationError(field="messages[0].content[1].image_url.url", value="x", rule="max_base64_size")
        obj = json.loads(encode_record(failure_record("a", 2, error, status_code=None, request_id=None, attempts=1)))
        assert (obj["response"], obj["error"]["code"], obj["error"]["param"]) == (
            None, "invalid_request", "messages[0].content[1].image_url.url")

    def test_network_error_code_names_the_kind(self) -> None:
        """A failure without a server code gets a code derived from its kind."""
        obj = json.loads(encode_record(failure_record("a", 2, NetworkError("refused"), status_code=None,
                                                      request_id=None, attempts=3)))
        assert obj["error"]["code"] == "network"

    def test_record_round_trips_through_msgspec(self) -> None:
        """Encoded records decode as JSON objects with the custom_id intact."""
        out = encode_record(bad_line_record(BadLine("ü-1", 1, "invalid_json", "x")))
        assert msgspec.json.decode(out)["custom_id"] == "ü-1"
