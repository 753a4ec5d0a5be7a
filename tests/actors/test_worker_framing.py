"""``framed_request`` builds the request httpx builds from ``content=``: same headers, same order, same body.

The worker sends every plain (bytes or empty) body through it, so a header httpx would have written and it
did not (a missing Content-Length, Host in another place) would reach every server; these compare the two
field by field, over methods, bodies, URLs and header sets.
"""

from __future__ import annotations

import httpx
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

from actors._worker import framed_request

_HEADERS = st.dictionaries(
    st.sampled_from(["authorization", "content-type", "user-agent", "x-custom", "Accept", "Content-Length", "host",
                     "Transfer-Encoding"]),
    st.text(alphabet="abcdefghij0123456789 /-", max_size=12),
    max_size=5,
)
_URLS = st.sampled_from([
    "http://127.0.0.1:8000/openai/v1/chat/completions",
    "https://api.groq.com/openai/v1/models",
    "http://[::1]:9/openai/v1/files?purpose=batch",
    "http://emulator.local/openai/v1/batches/batch_01",
])


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
    url=_URLS,
    headers=_HEADERS,
    body=st.one_of(st.none(), st.binary(max_size=64)),
)
def test_framed_request_matches_httpx(method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
    expected = httpx.Request(method, url, content=body, headers=headers, extensions={"timeout": {"read": 1.0}})
    built = framed_request(method, httpx.URL(url), httpx.Headers(headers), body, {"timeout": {"read": 1.0}})
    assert built.method == expected.method and built.url == expected.url
    assert built.headers.raw == expected.headers.raw
    assert built.extensions == expected.extensions
    assert built.content == expected.content == (body or b"")  # readable at once, as httpx's own


@pytest.mark.parametrize("body", [b"", b'{"model":"m"}'])
def test_framed_body_reads_as_a_stream_on_every_attempt(body: bytes) -> None:
    """A transport reads the body asynchronously, as the emulator and httpcore do; a retry reads it again."""

    async def read_twice() -> list[bytes]:
        request = framed_request("POST", httpx.URL("http://127.0.0.1:9/x"), httpx.Headers(), body, {})
        first = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        second = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
        return [first, second, await request.aread()]

    assert trio.run(read_twice) == [body, body, body]
