"""Issue 19, item 7: error advice that is true at the moment it is read."""

from __future__ import annotations

import pytest
import trio

from orchestrator import RateLimitError, ServerError
from orchestrator._engine import ProductFailures
from orchestrator._errors import error_from_response
from tests.helpers import client_for, make_emulator, user

MODEL = "openai/gpt-oss-20b"
BODY_500 = b'{"error": {"message": "Internal Server Error", "type": "internal_server_error"}}'
BODY_429 = (b'{"error": {"message": "Rate limit reached for model `openai/gpt-oss-20b` on requests per minute (RPM): '
            b'Limit 1, Used 1, Requested 1. Please try again in 59.5s.", "type": "requests", '
            b'"code": "rate_limit_exceeded"}}')


class TestRateLimitAdvice:
    def test_while_retries_remain_it_says_they_happen(self) -> None:
        """A 429 that may still be retried says the orchestrator waits and retries."""
        error = error_from_response(429, {"retry-after": "60"}, BODY_429)
        assert "retries automatically" in str(error)

    def test_once_retries_ran_out_it_says_so_and_what_to_do(self) -> None:
        """The final error of a job says the retries ran out, after how many attempts, and what to change."""
        error = error_from_response(429, {"retry-after": "60"}, BODY_429)
        error.note_attempts(3)
        text = str(error)
        assert ("retries automatically" in text, "retries ran out after 3 attempts" in text, "ModelLimits" in text,
                "max_retries" in text) == (False, True, True, True)

    async def test_the_error_a_caller_gets_is_the_final_one(self, autojump_clock: trio.testing.MockClock) -> None:
        """Through the client (no retries allowed), the RateLimitError raised says its retries ran out."""
        emulator = make_emulator(limits={MODEL: (1, 1000, 100_000, 1_000_000)})
        async with client_for(emulator, max_retries=0) as client:
            await client.chat.completions.create(model=MODEL, messages=user("one"))
            with pytest.raises(RateLimitError) as info:
                await client.chat.completions.create(model=MODEL, messages=user("two"))
        assert (info.value.attempts, "retries ran out after 1 attempt." in str(info.value),
                "retries automatically" in str(info.value)) == (1, True, False)


class TestServerErrorAdvice:
    @pytest.mark.parametrize(("base_url", "groq", "status_page", "named_host"), [
        ("https://api.groq.com/openai/v1", True, True, False),
        ("https://llm-proxy.example.com/openai/v1", False, False, True),
        ("http://127.0.0.1:8000/openai/v1", False, False, True),
    ])
    def test_only_groqs_own_failures_point_at_groqstatus(
        self, base_url: str, groq: bool, status_page: bool, named_host: bool
    ) -> None:
        """A 500 is blamed on Groq, with its status page, only when the base URL is Groq's API."""
        error = ProductFailures(base_url=base_url).from_response(500, {}, BODY_500)
        assert isinstance(error, ServerError)
        text = str(error)
        host = base_url.split("/")[2]
        assert (error.groq_server, "groqstatus.com" in text, f"The server at {host}" in text,
                "Groq had" in text) == (groq, status_page, named_host, groq)

    def test_an_undecodable_body_from_a_proxy_is_not_blamed_on_groq(self) -> None:
        """The engine's 'unusable response' ServerError is placed the same way."""
        error = ProductFailures(base_url="https://gateway.internal/v1").server("the response body could not be decoded",
                                                                             status=200)
        assert ("groqstatus.com" in str(error), "gateway.internal" in str(error)) == (False, True)

    async def test_an_emulator_500_names_the_emulator(self, autojump_clock: trio.testing.MockClock) -> None:
        """Through the client, a 500 from the emulator (a loopback base URL) does not send the user to groqstatus.com."""
        async with client_for(make_emulator(faults=["500:p=1"]), max_retries=0) as client:
            with pytest.raises(ServerError) as info:
                await client.chat.completions.create(model=MODEL, messages=user("hi"))
        assert ("groqstatus.com" in str(info.value), "not Groq's API" in str(info.value)) == (False, True)
