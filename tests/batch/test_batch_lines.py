"""What a returned Batch API line becomes in the results file (`orchestrator.batch._batch_lines`)."""

from __future__ import annotations

import msgspec
import pytest

from orchestrator.batch._batch_lines import decode_output_line, error_line, not_returned_line, verdict

SUCCESS = (
    b'{"id":"batch_req_out_01jpthgypde739skmk9d2p7frc","custom_id":"request-2","response":{"status_code":200,'
    b'"request_id":"req_01","body":{"id":"chatcmpl-1","object":"chat.completion","created":1742500035,'
    b'"model":"openai/gpt-oss-20b","choices":[{"index":0,"message":{"role":"assistant","content":"Hola"},'
    b'"logprobs":null,"finish_reason":"stop"}],"usage":{"queue_time":0.27,"prompt_tokens":55,"prompt_time":0.003,'
    b'"completion_tokens":76,"completion_time":0.1,"total_tokens":131,"total_time":0.1,'
    b'"prompt_tokens_details":{"cached_tokens":20}}}},"error":null}'
)
EXPIRED = (b'{"id":"batch_req_out_2","custom_id":"q-9","response":null,"error":{"code":"batch_expired",'
           b'"message":"This request could not be executed before the completion window expired."}}')


def refused(status: int) -> bytes:
    return (b'{"id":"batch_req_out_3","custom_id":"q-4","response":{"status_code":' + str(status).encode()
            + b',"request_id":"req_9","body":{"error":{"message":"The model `nope` does not exist",'
            b'"type":"invalid_request_error","code":"model_not_found","param":"model"}}},"error":null}')


def test_a_success_is_copied_and_its_usage_read() -> None:
    line = decode_output_line(SUCCESS)
    assert line is not None and line.custom_id == "request-2"
    assert verdict(line, final_round=False) == "success"
    body = line.body()
    assert body.model == "openai/gpt-oss-20b"
    assert body.usage is not None and (body.usage.prompt_tokens, body.usage.completion_tokens) == (55, 76)
    assert body.usage.prompt_tokens_details == {"cached_tokens": 20}


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_a_refused_request_is_recorded_at_once(status: int) -> None:
    line = decode_output_line(refused(status))
    assert line is not None
    assert verdict(line, final_round=False) == "record"
    encoded, code = error_line(line, attempts=1)
    record = msgspec.json.decode(encoded)
    assert code == "model_not_found"
    assert record["custom_id"] == "q-4"
    assert record["response"]["status_code"] == status
    assert record["response"]["body"]["error"]["code"] == "model_not_found"
    assert record["error"]["code"] == "model_not_found" and record["error"]["param"] == "model"
    assert "attempts" not in record["error"]
    assert encoded.endswith(b"\n") and encoded.count(b"\n") == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_passing_failure_is_resubmitted_until_the_last_round(status: int) -> None:
    line = decode_output_line(refused(status))
    assert line is not None
    assert verdict(line, final_round=False) == "resubmit"
    assert verdict(line, final_round=True) == "record"


def test_an_expired_line_is_resubmitted_then_recorded_with_its_code() -> None:
    line = decode_output_line(EXPIRED)
    assert line is not None
    assert verdict(line, final_round=False) == "resubmit"
    encoded, code = error_line(line, attempts=3)
    record = msgspec.json.decode(encoded)
    assert code == "batch_expired"
    assert record["response"] is None
    assert record["error"]["attempts"] == 3
    assert "completion window" in record["error"]["message"]


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1,2]", b'{"id":"x"}', b'{"custom_id":7}'])
def test_lines_that_are_not_results_are_none(raw: bytes) -> None:
    assert decode_output_line(raw) is None


def test_a_body_that_is_not_an_object_reads_as_empty() -> None:
    line = decode_output_line(b'{"custom_id":"a","response":{"status_code":500,"body":"oops"},"error":null}')
    assert line is not None
    assert line.body().usage is None
    _, code = error_line(line, attempts=1)
    assert code == "http_500"


def test_not_returned_names_the_line_and_the_rounds() -> None:
    record = msgspec.json.decode(not_returned_line("q-1", 17, code="batch_not_returned", message="m", attempts=2))
    assert record["custom_id"] == "q-1"
    assert record["response"] is None
    assert record["error"] == {"code": "batch_not_returned", "message": "m", "line": 17, "attempts": 2}
