"""The client API end to end against the in-process emulator (virtual time, no sockets)."""

from __future__ import annotations

import json
import re

import httpx
import pytest
import trio

import orchestrator
from orchestrator import ChatResponse, ChatStream

from .helpers import client_for, make_emulator, silent_wav, user

MODEL = "openai/gpt-oss-20b"
VISION = "qwen/qwen3.6-27b"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city", "unit"],
        },
    },
}


class TestChat:
    async def test_create_returns_a_typed_response_with_usage(self, autojump_clock: trio.abc.Clock) -> None:
        """A plain chat call returns a ChatResponse with content, usage and Groq's x_groq id."""
        async with client_for(make_emulator()) as groq:
            # gpt-oss reasons first: the budget must leave room for an answer after the reasoning.
            reply = await groq.chat.completions.create(model=MODEL, messages=user("Hello there"), max_completion_tokens=200)
        assert isinstance(reply, ChatResponse)
        assert reply.choices[0].message.content
        assert reply.usage is not None and reply.usage.completion_tokens <= 200
        assert reply.x_groq is not None and reply.x_groq.id.startswith("req_")

    async def test_stream_yields_chunks_and_final_usage(self, autojump_clock: trio.abc.Clock) -> None:
        """A streamed call yields content deltas whose join is the text, then exposes the final usage."""
        async with client_for(make_emulator()) as groq:
            stream = await groq.chat.completions.create(
                model=MODEL, messages=user("Tell me a story"), max_completion_tokens=200, stream=True
            )
            assert isinstance(stream, ChatStream)
            async with stream:
                pieces = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]
        assert "".join(pieces)
        assert stream.usage is not None and 0 < stream.usage.completion_tokens <= 200

    async def test_streamed_tool_calls_assemble_into_valid_arguments(self, autojump_clock: trio.abc.Clock) -> None:
        """Tool-call fragments streamed across chunks join into JSON arguments that match the schema."""
        async with client_for(make_emulator()) as groq:
            async with await groq.chat.completions.create(
                model=MODEL,
                messages=user("What's the weather in Paris?"),
                tools=[WEATHER_TOOL],
                tool_choice="required",
                stream=True,
            ) as stream:
                names: dict[int, str] = {}
                arguments: dict[int, str] = {}
                finish = None
                async for chunk in stream:
                    for choice in chunk.choices:
                        finish = choice.finish_reason or finish
                        for call in choice.delta.tool_calls or []:
                            if call.function and call.function.name:
                                names[call.index] = call.function.name
                            if call.function and call.function.arguments:
                                arguments[call.index] = arguments.get(call.index, "") + call.function.arguments
        assert finish == "tool_calls"
        assert set(names.values()) == {"get_weather"}
        for text in arguments.values():
            args = json.loads(text)
            assert isinstance(args["city"], str) and args["unit"] in ("c", "f")

    async def test_json_mode_returns_a_json_object(self, autojump_clock: trio.abc.Clock) -> None:
        """response_format json_object yields content that parses as a JSON object."""
        async with client_for(make_emulator()) as groq:
            reply = await groq.chat.completions.create(
                model=MODEL,
                messages=user("Reply in json with a name and an age"),
                response_format={"type": "json_object"},
            )
        assert isinstance(json.loads(reply.choices[0].message.content), dict)

    async def test_vision_request_reaches_a_vision_model(self, autojump_clock: trio.abc.Clock) -> None:
        """An image part is accepted by a vision model and answered."""
        async with client_for(make_emulator()) as groq:
            reply = await groq.chat.completions.create(
                model=VISION,
                messages=[
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "What is in this picture?"},
                            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                        ],
                    }
                ],
            )
        assert reply.choices[0].message.content

    async def test_invalid_request_is_refused_before_sending(self, autojump_clock: trio.abc.Clock) -> None:
        """An image sent to a text-only model fails validation locally; the server sees nothing."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            with pytest.raises(orchestrator.ValidationError) as caught:
                await groq.chat.completions.create(
                    model=MODEL,
                    messages=[
                        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x.org/a.png"}}]}
                    ],
                )
        assert "messages[0].content[0]" in str(caught.value)
        assert emulator.stats().requests == 0

    async def test_unknown_model_raises_model_error_without_retries(self, autojump_clock: trio.abc.Clock) -> None:
        """A 404 model_not_found becomes ModelError after exactly one attempt."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            with pytest.raises(orchestrator.ModelError) as caught:
                await groq.chat.completions.create(model="no-such-model", messages=user("hi"))
        assert caught.value.status == 404 and caught.value.request_id
        assert emulator.stats().requests == 1


class TestStreamCancellation:
    async def test_closing_a_stream_midway_disconnects_the_server(self, autojump_clock: trio.abc.Clock) -> None:
        """Leaving the stream's block after two chunks closes the response; the emulator counts a disconnect."""
        emulator = make_emulator(tokens_per_chunk=1, tokens_per_second=1e9, completion_tokens=(400, 500))
        async with client_for(emulator) as groq:
            async with await groq.chat.completions.create(
                model=MODEL, messages=user("Write at length"), max_completion_tokens=500, stream=True
            ) as stream:
                seen = 0
                async for _chunk in stream:
                    seen += 1
                    if seen == 2:
                        break
            await trio.sleep(0.1)
            stats = emulator.stats()
        assert stats.streams_started == 1
        assert stats.streams_disconnected == 1
        assert stats.streams_completed == 0


class TestWire:
    async def test_requests_carry_the_http_clients_defaults_and_ours(self, autojump_clock: trio.abc.Clock) -> None:
        """A supplied httpx client's default headers still go out, beside our key, agent and content type."""
        import httpx

        from .helpers import EMULATOR_URL, KEY

        seen: list[httpx.Request] = []
        emulator_transport = make_emulator().transport()

        async def handler(request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return await emulator_transport.handle_async_request(request)

        transport = httpx.MockTransport(handler)
        async with httpx.AsyncClient(transport=transport, headers={"x-team": "search"}) as http:
            async with orchestrator.open_client(api_key=KEY, base_url=EMULATOR_URL, http_client=http) as groq:
                await groq.chat.completions.create(model=MODEL, messages=user("hi"), timeout=7.5)
        (request,) = seen
        assert request.url == EMULATOR_URL + "/chat/completions"
        assert request.headers["x-team"] == "search" and request.headers["authorization"] == f"Bearer {KEY}"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["user-agent"].startswith("groq-orchestrator/")
        assert request.extensions["timeout"] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}


class TestOptions:
    @pytest.mark.parametrize(
        ("option", "value"),
        [("priority", "high"), ("timeout", -1), ("timeout", float("nan")), ("max_retries", -2),
         ("extra_headers", {"Authorization": "Bearer other"})],
    )
    async def test_a_bad_call_option_fails_that_call_only(self, option: str, value: object, autojump_clock: trio.abc.Clock) -> None:
        """A bad per-call option raises ValidationError naming it; the client keeps working."""
        async with client_for(make_emulator()) as groq:
            with pytest.raises(orchestrator.ValidationError) as caught:
                await groq.chat.completions.create(model=MODEL, messages=user("hi"), **{option: value})
            assert caught.value.field.startswith(option)
            assert (await groq.chat.completions.create(model=MODEL, messages=user("hi"))).choices

    async def test_time_scale_must_be_positive(self) -> None:
        """open_client refuses a time scale of zero with a ConfigError naming it."""
        with pytest.raises(orchestrator.ConfigError, match="time_scale"):
            async with client_for(make_emulator(), time_scale=0):
                pass


class TestCallerCancellation:
    async def test_a_cancelled_call_frees_its_slot_and_the_client_goes_on(self, autojump_clock: trio.abc.Clock) -> None:
        """A call cancelled mid-request (sent from the caller's own task) leaves no pending slot behind."""
        emulator = make_emulator(latency="realistic", queue_time=5.0)
        async with client_for(emulator, queue_size=1, workers=1) as groq:
            with trio.move_on_after(1.0) as scope:
                await groq.chat.completions.create(model=MODEL, messages=user("slow"))
            assert scope.cancelled_caught
            assert groq.statistics().in_flight == 0
            assert groq._scheduler.statistics().pending == 0
            with trio.fail_after(60):
                reply = await groq.chat.completions.create(model=MODEL, messages=user("next"))
        assert reply.choices[0].message.content


class TestModelsAudioHealth:
    async def test_models_list_and_retrieve(self, autojump_clock: trio.abc.Clock) -> None:
        """models.list() returns the catalog, retrieve() one model with a slash in its id."""
        async with client_for(make_emulator()) as groq:
            models = await groq.models.list()
            model = await groq.models.retrieve("openai/gpt-oss-20b")
        assert MODEL in {m.id for m in models.data}
        assert model.id == "openai/gpt-oss-20b"

    @pytest.mark.parametrize("fmt", ["json", "text", "verbose_json", "srt", "vtt"])
    async def test_transcription_in_every_format(self, fmt: str, autojump_clock: trio.abc.Clock) -> None:
        """A WAV transcription comes back in the asked format; srt/vtt are rendered locally."""
        async with client_for(make_emulator()) as groq:
            result = await groq.audio.transcriptions.create(
                model="whisper-large-v3-turbo", file=("clip.wav", silent_wav(1.5)), response_format=fmt
            )
        if fmt == "json":
            assert isinstance(result, orchestrator.Transcription) and result.text
        elif fmt == "verbose_json":
            assert isinstance(result, orchestrator.VerboseTranscription)
            assert result.duration == pytest.approx(1.5, abs=0.01) and result.segments
        elif fmt == "srt":
            assert re.search(r"^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n\S", result)
        elif fmt == "vtt":
            assert re.search(r"^WEBVTT\n\n\d\d:\d\d:\d\d\.\d{3} --> \d\d:\d\d:\d\d\.\d{3}\n\S", result)
        else:
            assert isinstance(result, str) and result.strip()

    async def test_transcription_by_url_is_sent_as_multipart(self, autojump_clock: trio.abc.Clock) -> None:
        """A url= transcription (no file) still goes out as multipart/form-data and is answered."""
        async with client_for(make_emulator()) as groq:
            result = await groq.audio.transcriptions.create(
                model="whisper-large-v3", url="https://example.com/talk.mp3", response_format="verbose_json"
            )
        assert result.text and result.duration > 0

    async def test_translation_needs_a_translation_model(self, autojump_clock: trio.abc.Clock) -> None:
        """Translation on whisper-large-v3 works; on the turbo model it is refused before sending."""
        async with client_for(make_emulator()) as groq:
            result = await groq.audio.translations.create(model="whisper-large-v3", file=("a.wav", silent_wav(1.5)))
            with pytest.raises(orchestrator.ValidationError):
                await groq.audio.translations.create(model="whisper-large-v3-turbo", file=("a.wav", silent_wav(1.5)))
        assert result.text

    async def test_health_check_reports_reachability_and_breaker(self, autojump_clock: trio.abc.Clock) -> None:
        """health_check() says reachable, with a latency and a closed breaker."""
        async with client_for(make_emulator()) as groq:
            health = await groq.health_check()
        assert health.reachable and health.latency_seconds is not None
        assert health.breaker == "closed" and health.error is None

    async def test_health_check_reports_a_bad_key(self, autojump_clock: trio.abc.Clock) -> None:
        """With a key the server refuses, health_check() is reachable but carries the auth error."""
        async with client_for(make_emulator(api_keys=["gsk_other"])) as groq:
            health = await groq.health_check()
        assert health.reachable and health.error is not None and "401" in health.error

    async def test_an_authentication_error_names_the_key_by_its_hint_only(self, autojump_clock: trio.abc.Clock) -> None:
        """A refused key is reported with its last four characters, never in full."""
        async with client_for(make_emulator(api_keys=["gsk_other"])) as groq:
            with pytest.raises(orchestrator.AuthenticationError) as caught:
                await groq.chat.completions.create(model=MODEL, messages=user("hi"))
        assert caught.value.api_key_hint == "6789"
        assert "gsk_test_key_0123456789" not in str(caught.value) + repr(caught.value)


class TestSubmit:
    async def test_higher_priority_leaves_the_queue_first(self, autojump_clock: trio.abc.Clock) -> None:
        """On a model allowed one request a minute, a later high-priority job overtakes queued ones."""
        order: list[str] = []
        async with client_for(make_emulator(), limits={MODEL: orchestrator.ModelLimits(rpm=1)}) as groq:
            handles = []
            for name, priority in [("a", 0), ("b", 0), ("c", 0), ("urgent", 10)]:
                handles.append(await groq.submit({"model": MODEL, "messages": user(name)}, priority=priority, key=name))
            async with trio.open_nursery() as nursery:
                for handle in handles:

                    async def wait(h=handle) -> None:
                        await h.result()
                        order.append(h.key)

                    nursery.start_soon(wait)
        assert order == ["a", "urgent", "b", "c"]
        assert trio.current_time() >= 180  # three waits of a minute each: the budget held them


class TestOwnedHttpClient:
    async def test_the_client_we_own_keeps_no_cookies(self) -> None:
        """A Set-Cookie from the server is not kept, so it is never sent back (and never parsed)."""
        from orchestrator._client import _make_http_client

        sent_cookies: list[str | None] = []

        def handler(request: httpx.Request) -> httpx.Response:
            sent_cookies.append(request.headers.get("cookie"))
            return httpx.Response(200, headers={"set-cookie": "session=abc; Path=/"}, json={})

        owned = _make_http_client(orchestrator.Config(api_key="gsk_" + "x" * 52), True, httpx.MockTransport(handler))
        async with owned:
            for _ in range(2):
                request = owned.build_request("GET", "https://api.groq.com/openai/v1/models")
                await owned.send(request)
            assert dict(owned.cookies) == {}
        assert sent_cookies == [None, None]

    async def test_our_client_sends_through_a_given_transport(self, autojump_clock: trio.abc.Clock) -> None:
        emulator = make_emulator()
        async with orchestrator.open_client(
            api_key="gsk_" + "t" * 52, base_url="http://127.0.0.1:9/openai/v1", transport=emulator.transport(),
            refresh_catalog=False,
        ) as groq:
            reply = await groq.chat.completions.create(model=MODEL, messages=user("hi"))
        assert reply.choices[0].message.content

    async def test_a_transport_and_an_http_client_together_are_refused(self) -> None:
        with pytest.raises(orchestrator.ConfigError, match="transport"):
            async with orchestrator.open_client(
                api_key="gsk_" + "t" * 52, transport=httpx.MockTransport(lambda r: httpx.Response(200)),
                http_client=httpx.AsyncClient(),
            ):
                pass
