"""Bad requests get Groq-style 400/401/404/405/413 answers, never a 500, on both transports."""

from __future__ import annotations

import json

import groq
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from orchestrator.emulator import Emulator, EmulatorSettings
from orchestrator.emulator._http import EmulatorRequest
from tests.emulator.conftest import MODEL, VISION_MODEL, Harness, chat, open_harness


def error_of(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"} and body["error"]["type"] == "invalid_request_error"
    return body["error"]


@pytest.mark.parametrize(
    ("body", "status", "param", "fragment"),
    [
        (b"{not json", 400, None, "not valid JSON"),
        (b"", 400, None, "not valid JSON"),
        (b"[1, 2]", 400, None, "must be a JSON object"),
        (b'"text"', 400, None, "must be a JSON object"),
        (b"\xff\xfe", 400, None, "not valid JSON"),
        (b'{"model": "openai/gpt-oss-20b"}', 400, "messages", "property 'messages' is missing"),
        (b'{"model": 5, "messages": []}', 400, "model", "'model' : value must be a string"),
        (b'{"model": "openai/gpt-oss-20b", "messages": [{"role": "wizard", "content": "x"}]}', 400, "messages[0].role", "'wizard'"),
        (b'{"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": 5}]}', 400, "messages[0].content", "value must be a string"),
        (b'{"model": "openai/gpt-oss-20b", "messages": [], "temprature": 1}', 400, "temprature", "property 'temprature' is unsupported"),
        # Fields groq-python types are known (no "unsupported"); on a model without web search they get the rule's 400.
        (b'{"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "x"}], "include_domains": ["a.com"]}',
         400, "include_domains", "only supported with web search"),
        (b'{"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "x"}], "function_call": "auto"}',
         400, "function_call", "only allowed when `functions`"),
        (b'{"model": "openai/gpt-oss-20b", "messages": []}', 400, "messages", "non-empty"),
        (b'{"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "x"}], "temperature": 9}', 400, "temperature", "between"),
        (b'{"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "x"}], "n": 2}', 400, "n", "n=1"),
    ],
)
async def test_malformed_bodies(harness: Harness, body: bytes, status: int, param: str | None, fragment: str) -> None:
    """Each malformed body gets a 400 naming the parameter at fault (Groq's error body shape)."""
    response = await harness.client.post("/chat/completions", content=body, headers={"content-type": "application/json"})
    error = error_of(response)
    assert response.status_code == status and error.get("param") == param and fragment in error["message"]


async def test_huge_body_is_413(transport_kind: str) -> None:
    """A body over max_body_size is refused with 413 before it is parsed."""
    async with open_harness(transport_kind, EmulatorSettings(max_body_size=64 * 1024)) as harness:
        response = await harness.client.post("/chat/completions", json=chat("x" * 100_000))
    assert (response.status_code, error_of(response)["code"]) == (413, "request_too_large")


async def test_base64_images_over_4mb_are_413(harness: Harness) -> None:
    """Base64 images totalling over 4 MB on a vision model get Groq's 413."""
    url = "data:image/png;base64," + "A" * (4 * 1024 * 1024 + 4)
    content = [{"type": "image_url", "image_url": {"url": url}}]
    body = {"model": VISION_MODEL, "messages": [{"role": "user", "content": content}]}
    response = await harness.client.post("/chat/completions", json=body)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "headers",
    [{}, {"authorization": "Bearer"}, {"authorization": "Bearer sk-openai"}, {"authorization": "Basic gsk_test"}],
)
async def test_missing_or_bad_key_is_401(harness: Harness, headers: dict[str, str]) -> None:
    """Missing or malformed keys get Groq's 401 invalid_api_key, with a request id but no rate-limit headers."""
    request = harness.client.build_request("POST", "/chat/completions", json=chat())
    request.headers.pop("authorization")
    request.headers.update(headers)
    response = await harness.client.send(request)
    assert response.status_code == 401
    assert response.json() == {"error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}}
    assert response.headers["x-request-id"].startswith("req_")
    assert not any(name.startswith("x-ratelimit") for name in response.headers)


async def test_configured_keys_only(transport_kind: str) -> None:
    """With api_keys set, only those keys are accepted; the SDK raises AuthenticationError for others."""
    async with open_harness(transport_kind, EmulatorSettings(api_keys=["gsk_test"])) as harness:
        async with harness.sdk(api_key="gsk_someone_else") as sdk:
            with pytest.raises(groq.AuthenticationError):
                await sdk.chat.completions.create(**chat())
        async with harness.sdk() as sdk:
            await sdk.chat.completions.create(**chat())


async def test_sdk_bad_request(harness: Harness) -> None:
    """The SDK raises BadRequestError for a 400."""
    async with harness.sdk() as sdk:
        with pytest.raises(groq.BadRequestError):
            await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], temperature=7)


async def test_unknown_url_and_method(harness: Harness) -> None:
    """Unknown paths get 404 unknown_url; a wrong method gets 405."""
    missing = await harness.client.get("/embeddings")
    outside = await harness.client.get(harness.base_url.removesuffix("/openai/v1") + "/v2/things")
    wrong = await harness.client.get("/chat/completions")
    assert (missing.status_code, error_of(missing)["code"], outside.status_code) == (404, "unknown_url", 404)
    assert (wrong.status_code, error_of(wrong)["code"]) == (405, "method_not_allowed")


@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
            lambda children: st.lists(children, max_size=4) | st.dictionaries(
                st.sampled_from(["model", "messages", "role", "content", "stream", "tools", "max_tokens", "stop", "x"]),
                children,
                max_size=5,
            ),
            max_leaves=20,
        ).map(lambda value: json.dumps(value).encode()),
    )
)
async def test_no_body_makes_a_500(body: bytes) -> None:
    """Whatever the body, the answer is a 2xx or a 4xx with Groq's error shape, never a crash or a 500."""
    emulator = Emulator()
    response = await emulator.handle(
        EmulatorRequest("POST", "/openai/v1/chat/completions", {"authorization": "Bearer gsk_x"}, body)
    )
    assert response.status < 500
