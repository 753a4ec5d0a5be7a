"""BlockingClient end to end against the in-process emulator: plain threads, asyncio, streams, map, close.

These tests run in real time (the client's trio loop lives in its own thread, so there is no
virtual clock), against an instant emulator with limits far above what the tests send.
"""

from __future__ import annotations

import asyncio
import faulthandler
import gc
import json
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import orchestrator
from orchestrator import ChatChunk, ChatResponse, JobResult, ModelError, ModelLimits, ValidationError
from orchestrator._blocking import BlockingChatStream, BlockingResults
from orchestrator.emulator import Emulator

from .helpers import EMULATOR_URL, KEY, make_emulator, user

MODEL = "openai/gpt-oss-20b"
#: Far above anything these tests send, on both sides, so no call waits for rate budget.
HIGH = (1_000_000, 10_000_000, 1_000_000_000, 10_000_000_000)
JOIN_TIMEOUT = 30.0


@pytest.fixture(autouse=True)
def _never_hang() -> Iterator[None]:
    """Kill the run with every thread's traceback if a test blocks for a minute."""
    faulthandler.dump_traceback_later(60, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture
def emulator() -> Emulator:
    """An instant emulator with very high limits for the test model."""
    return make_emulator(limits={MODEL: HIGH})


@pytest.fixture
def paced() -> Emulator:
    """An emulator that sends one SSE event per token (an instant one coalesces them into big writes)."""
    return make_emulator(limits={MODEL: HIGH}, tokens_per_second=1e9)


def blocking_client(emulator: Emulator, **overrides: Any) -> orchestrator.BlockingClient:
    """A BlockingClient whose HTTP client (made on the loop thread) talks to ``emulator``."""
    overrides.setdefault("api_key", KEY)
    overrides.setdefault("base_url", EMULATOR_URL)
    overrides.setdefault("limits", {MODEL: ModelLimits(rpm=HIGH[0], rpd=HIGH[1], tpm=HIGH[2], tpd=HIGH[3])})
    return orchestrator.BlockingClient(
        http_client_factory=lambda: httpx.AsyncClient(transport=emulator.transport()), **overrides
    )


def tagged(tag: str) -> dict[str, Any]:
    """Chat parameters whose reply is exactly ``{"tag": tag}``, so each reply names its request."""
    schema = {"type": "object", "properties": {"tag": {"const": tag}}, "required": ["tag"], "additionalProperties": False}
    return {
        "model": MODEL,
        "messages": user(f"Answer with the tag {tag} as JSON"),
        "response_format": {"type": "json_schema", "json_schema": {"name": "tagged", "schema": schema}},
    }


def loop_threads() -> list[threading.Thread]:
    """The BlockingClient loop threads alive now."""
    return [thread for thread in threading.enumerate() if thread.name == "orchestrator-blocking-client"]


def leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside ``error``, with exception groups flattened."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


def settle(groq: orchestrator.BlockingClient, done: Any) -> bool:
    """Let the loop thread run (one round trip per try, no sleeping) until ``done()`` holds."""
    for _ in range(200):
        if done():
            return True
        groq.statistics()
    return bool(done())


class TestCalls:
    def test_create_returns_a_chat_response(self, emulator: Emulator) -> None:
        """A blocking chat call returns the same typed ChatResponse as the async client."""
        with blocking_client(emulator) as groq:
            reply = groq.chat.completions.create(model=MODEL, messages=user("Hello"), max_completion_tokens=200)
        assert isinstance(reply, ChatResponse) and reply.choices[0].message.content

    def test_reply_belongs_to_its_request(self, emulator: Emulator) -> None:
        """A schema-constrained reply carries the tag its own request asked for."""
        with blocking_client(emulator) as groq:
            reply = groq.chat.completions.create(**tagged("solo"))
        assert json.loads(reply.choices[0].message.content) == {"tag": "solo"}

    def test_the_other_endpoints_block_too(self, emulator: Emulator, tmp_path: Any) -> None:
        """Responses, speech, embeddings, files and batches: the async calls' results, returned in this thread."""
        with blocking_client(emulator) as groq:
            response = groq.responses.create(model=MODEL, input="Hello", max_output_tokens=50)
            audio = groq.audio.speech.create(model="canopylabs/orpheus-v1-english", voice="troy", input="Hi there")
            vectors = groq.embeddings.create(model="nomic-embed-text-v1_5", input=["a", "b"])
            uploaded = groq.files.create(file=b'{"custom_id":"a","method":"POST","url":"/v1/chat/completions",'
                                              b'"body":{"model":"openai/gpt-oss-20b","messages":[]}}\n')
            batch = groq.batches.create(input_file_id=uploaded.id)
            listed = groq.batches.list()
        assert response.object == "response" and response.output_text
        assert audio[:4] == b"RIFF"
        assert [item.index for item in vectors.data] == [0, 1]
        assert batch.input_file_id == uploaded.id and batch.id in [item.id for item in listed.data]

    def test_streams_and_unknown_methods_are_refused_with_what_to_do(self, emulator: Emulator) -> None:
        with blocking_client(emulator) as groq:
            with pytest.raises(ValueError, match="use the async Client"):
                groq.responses.create(model=MODEL, input="Hello", stream=True)
            with pytest.raises(AttributeError, match="offers create, delete, download, info, list, retrieve"):
                groq.files.content  # noqa: B018 - the attribute access is the test

    def test_models_list_and_retrieve(self, emulator: Emulator) -> None:
        """models.list() and models.retrieve() block and return the catalog's models."""
        with blocking_client(emulator) as groq:
            listed = groq.models.list()
            one = groq.models.retrieve(MODEL)
        assert MODEL in {model.id for model in listed.data} and one.id == MODEL

    def test_introspection_reads_the_loop_threads_state(self, emulator: Emulator) -> None:
        """statistics(), rate_limits() and health_check() report what the loop thread knows."""
        with blocking_client(emulator) as groq:
            groq.chat.completions.create(model=MODEL, messages=user("Hi"), max_completion_tokens=5)
            stats = groq.statistics()
            limits = groq.rate_limits()
            health = groq.health_check()
        assert (stats.completed, stats.in_flight, MODEL in limits, health.reachable) == (1, 0, True, True)

    def test_submit_returns_a_handle_whose_result_blocks(self, emulator: Emulator) -> None:
        """submit() queues at once; handle.result() waits for the ChatResponse."""
        with blocking_client(emulator) as groq:
            handle = groq.submit(tagged("handle"), key="k1")
            reply = handle.result()
            outcome = handle.outcome()
        assert (handle.key, handle.done, outcome.attempts) == ("k1", True, 1)
        assert json.loads(reply.choices[0].message.content) == {"tag": "handle"}

    def test_audio_transcription(self, emulator: Emulator) -> None:
        """audio.transcriptions.create() with bytes returns a Transcription with text."""
        from .helpers import silent_wav

        with blocking_client(emulator) as groq:
            result = groq.audio.transcriptions.create(model="whisper-large-v3-turbo", file=("a.wav", silent_wav(1.5)))
        assert isinstance(result, orchestrator.Transcription) and result.text


class TestErrors:
    def test_unknown_model_raises_model_error_in_the_calling_thread(self, emulator: Emulator) -> None:
        """The server's 404 model_not_found arrives as the very ModelError class, with its status."""
        with blocking_client(emulator) as groq, pytest.raises(ModelError) as caught:
            groq.chat.completions.create(model="no-such-model", messages=user("Hi"))
        assert caught.value.status == 404

    def test_invalid_request_raises_validation_error_before_sending(self, emulator: Emulator) -> None:
        """A request refused by pre-send validation raises ValidationError naming the field."""
        with blocking_client(emulator) as groq, pytest.raises(ValidationError) as caught:
            groq.chat.completions.create(model=MODEL, messages=user("Hi"), temperature=9.0)
        assert caught.value.field == "temperature" and emulator.stats().requests == 0

    def test_bad_config_raises_in_the_constructor_and_leaves_no_thread(self, emulator: Emulator) -> None:
        """A startup error (an http:// URL to a non-loopback host) raises ConfigError from the constructor."""
        before = len(loop_threads())
        with pytest.raises(orchestrator.ConfigError):
            blocking_client(emulator, base_url="http://example.com/openai/v1")
        assert len(loop_threads()) == before


    def test_startup_error_traceback_does_not_hold_the_key(self, emulator: Emulator) -> None:
        """Rendering a startup error with every frame's locals never shows the raw API key."""
        secret = "gsk_do_not_print_me_0123456789"
        with pytest.raises(orchestrator.ConfigError) as caught:
            orchestrator.BlockingClient(api_key=secret, base_url="http://example.com/openai/v1")
        error = caught.value
        assert error.__traceback__ is not None
        library_frames = error.__traceback__.tb_next  # from BlockingClient.__init__ on; this test holds the key
        rendered = "".join(traceback.TracebackException(type(error), error, library_frames, capture_locals=True).format())
        assert "_run_loop" in rendered and "base_url" in rendered and secret not in rendered


class TestStreaming:
    def test_stream_yields_chunks_then_usage(self, emulator: Emulator) -> None:
        """A blocking stream yields ChatChunks whose text joins up, then exposes the final usage."""
        with blocking_client(emulator) as groq:
            with groq.chat.completions.create(
                model=MODEL, messages=user("Tell me a story"), max_completion_tokens=200, stream=True
            ) as stream:
                assert isinstance(stream, BlockingChatStream)
                chunks = list(stream)
            streams_open = groq.statistics().streams_open
        assert all(isinstance(chunk, ChatChunk) for chunk in chunks)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert stream.usage is not None and 0 < stream.usage.completion_tokens <= 200
        assert (streams_open, emulator.stats().streams_started) == (0, 1)

    def test_batches_cover_the_whole_stream(self, emulator: Emulator) -> None:
        """batches() yields lists of chunks that together hold the same text as plain iteration."""
        params = {"model": MODEL, "messages": user("Count"), "max_completion_tokens": 200, "seed": 7, "stream": True}
        with blocking_client(emulator) as groq:
            with groq.chat.completions.create(**params) as stream:
                first = next(stream)
                batched = [first] + [chunk for batch in stream.batches() for chunk in batch]
            with groq.chat.completions.create(**params) as again:
                plain = list(again)
        text = lambda chunks: "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)  # noqa: E731
        assert text(batched) == text(plain) and text(plain)

    def test_leaving_the_with_early_closes_the_http_stream(self, paced: Emulator) -> None:
        """Breaking out after one chunk closes the response: the emulator sees a disconnect, not a completion."""
        with blocking_client(paced) as groq:
            with groq.chat.completions.create(
                model=MODEL, messages=user("A long story"), max_completion_tokens=2000, stream=True
            ) as stream:
                next(stream)
            closed = settle(groq, lambda: groq.statistics().streams_open == 0)
            stats = paced.stats()
            stream.close()  # idempotent
        assert closed and (stats.streams_disconnected, stats.streams_completed) == (1, 0)

    def test_abandoned_stream_is_closed_when_collected(self, paced: Emulator) -> None:
        """A stream dropped without close() frees its connection when garbage collected."""
        with blocking_client(paced) as groq:
            stream = groq.chat.completions.create(
                model=MODEL, messages=user("A long story"), max_completion_tokens=2000, stream=True
            )
            next(stream)
            del stream
            gc.collect()
            closed = settle(groq, lambda: groq.statistics().streams_open == 0)
        assert closed and paced.stats().streams_disconnected == 1

    def test_a_slow_reader_holds_the_stream_back(self, paced: Emulator) -> None:
        """While the reader pauses, the loop thread reads at most a few batches ahead and the stream stays open."""
        with blocking_client(paced) as groq:
            with groq.chat.completions.create(
                model=MODEL, messages=user("A long story"), max_completion_tokens=2000, stream=True
            ) as stream:
                next(stream)
                for _ in range(50):
                    groq.statistics()  # round trips: give the loop thread every chance to run ahead
                buffered = len(stream._pipe)
                still_open = groq.statistics().streams_open
        assert buffered <= 16 and still_open == 1

    def test_a_broken_stream_raises_stream_error_with_partial_content(self) -> None:
        """A connection dropped mid-stream surfaces as StreamError from the loop, carrying the text so far."""
        broken = make_emulator(limits={MODEL: HIGH}, faults=["drop-mid-stream:chunks=5"])
        pieces: list[str] = []
        with blocking_client(broken, max_retries=0) as groq:
            stream = groq.chat.completions.create(
                model=MODEL, messages=user("A story"), max_completion_tokens=200, stream=True
            )
            with stream, pytest.raises(orchestrator.StreamError) as caught:
                for chunk in stream:
                    pieces.extend(choice.delta.content or "" for choice in chunk.choices)
        assert pieces and caught.value.partial_content == "".join(pieces)

    def test_iterating_after_close_stops(self, emulator: Emulator) -> None:
        """A closed stream yields nothing more."""
        with blocking_client(emulator) as groq:
            stream = groq.chat.completions.create(
                model=MODEL, messages=user("Story"), max_completion_tokens=500, stream=True
            )
            stream.close()
            rest = list(stream)
        assert rest == []


class TestThreads:
    def test_eight_threads_of_25_calls_each_get_their_own_replies(self, emulator: Emulator) -> None:
        """200 concurrent calls from 8 threads all succeed, each reply answering its own request."""
        failures: list[BaseException] = []
        seen: dict[str, str] = {}
        lock = threading.Lock()

        def work(groq: orchestrator.BlockingClient, thread: int) -> None:
            try:
                for call in range(25):
                    tag = f"t{thread}-c{call}"
                    reply = groq.chat.completions.create(**tagged(tag))
                    with lock:
                        seen[tag] = json.loads(reply.choices[0].message.content)["tag"]
            except BaseException as error:  # reported below; a thread must not die silently
                failures.append(error)

        with blocking_client(emulator) as groq:
            threads = [threading.Thread(target=work, args=(groq, n)) for n in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(JOIN_TIMEOUT)
            alive = [thread for thread in threads if thread.is_alive()]
            stats = groq.statistics()
        assert (failures, alive) == ([], [])
        assert len(seen) == 200 and all(tag == answer for tag, answer in seen.items())
        assert (stats.completed, stats.failed) == (200, 0)

    def test_from_asyncio_through_to_thread(self, emulator: Emulator) -> None:
        """An asyncio program runs calls concurrently with asyncio.to_thread and gets every reply."""

        async def main(groq: orchestrator.BlockingClient) -> list[ChatResponse]:
            calls = [asyncio.to_thread(groq.chat.completions.create, **tagged(f"a{n}")) for n in range(10)]
            return list(await asyncio.gather(*calls))

        with blocking_client(emulator) as groq:
            replies = asyncio.run(main(groq))
        assert [json.loads(r.choices[0].message.content)["tag"] for r in replies] == [f"a{n}" for n in range(10)]


class TestMap:
    def test_map_of_500_items_yields_one_result_per_key(self, emulator: Emulator) -> None:
        """Every one of 500 items comes back exactly once, successful, with its key."""
        items = ((n, {"model": MODEL, "messages": user(f"item {n}"), "max_completion_tokens": 8}) for n in range(500))
        with blocking_client(emulator) as groq:
            with groq.map(items, max_in_flight=32) as results:
                assert isinstance(results, BlockingResults)
                collected = list(results)
        assert all(isinstance(r, JobResult) and r.ok for r in collected)
        assert sorted(r.key for r in collected) == list(range(500))

    def test_map_keeps_at_most_max_in_flight_jobs_alive(self, emulator: Emulator) -> None:
        """While a consumer dawdles, queued plus running jobs never exceed max_in_flight."""
        items = [(n, {"model": MODEL, "messages": user(f"item {n}"), "max_completion_tokens": 4}) for n in range(60)]
        peaks = []
        with blocking_client(emulator) as groq:
            for result in groq.map(items, max_in_flight=5):
                stats = groq.statistics()
                peaks.append(stats.queued + stats.waiting_for_budget + stats.in_flight)
                assert result.ok
        assert len(peaks) == 60 and max(peaks) <= 5

    def test_max_in_flight_below_one_is_refused(self, emulator: Emulator) -> None:
        """max_in_flight=0 raises ValueError at the call, before anything runs."""
        with blocking_client(emulator) as groq, pytest.raises(ValueError, match="max_in_flight"):
            groq.map([], max_in_flight=0)

    def test_invalid_item_becomes_an_error_result(self, emulator: Emulator) -> None:
        """A request that fails validation comes back as its key's result with a ValidationError."""
        items = [("good", {"model": MODEL, "messages": user("hi")}), ("bad", {"model": MODEL, "messages": []})]
        with blocking_client(emulator) as groq:
            results = {r.key: r for r in groq.map(items)}
        assert results["good"].ok and isinstance(results["bad"].error, ValidationError)

    def test_closing_early_stops_the_feeder(self, emulator: Emulator) -> None:
        """Closing after five results ends the feeder task: few of the 500 requests were ever sent."""
        items = ((n, {"model": MODEL, "messages": user(f"item {n}")}) for n in range(500))
        with blocking_client(emulator) as groq:
            with groq.map(items, max_in_flight=4) as results:
                first = [next(results) for _ in range(5)]
            feeder_done = results._pipe._finished.is_set()
            rest = list(results)
        assert (len(first), rest, feeder_done) == (5, [], True)
        # At most: the five read, four waiting in the pipe, one the feeder holds while it waits for a pipe slot
        # (map gave its permit back when it yielded it), and four in flight on map's permits.
        assert emulator.stats().requests <= 5 + 4 + 1 + 4

    def test_several_threads_can_share_one_map(self, emulator: Emulator) -> None:
        """Four consumer threads split one map's results between them and all stop at the end."""
        items = [(n, {"model": MODEL, "messages": user(f"item {n}"), "max_completion_tokens": 4}) for n in range(100)]
        keys: list[int] = []
        lock = threading.Lock()
        with blocking_client(emulator) as groq:
            results = groq.map(items, max_in_flight=8)

            def consume() -> None:
                for result in results:
                    with lock:
                        keys.append(result.key)

            threads = [threading.Thread(target=consume) for _ in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(JOIN_TIMEOUT)
            alive = [thread for thread in threads if thread.is_alive()]
        assert alive == [] and sorted(keys) == list(range(100))

    def test_an_error_in_the_items_iterable_raises_from_the_iteration(self, emulator: Emulator) -> None:
        """If reading the items fails, the consumer's loop raises that error (as the async map does)."""

        def items() -> Iterator[tuple[int, dict[str, Any]]]:
            yield 0, {"model": MODEL, "messages": user("hi")}
            raise LookupError("the input file vanished")

        with blocking_client(emulator) as groq, pytest.raises(Exception) as caught:
            list(groq.map(items()))
        assert [type(error) for error in leaves(caught.value)] == [LookupError]


class TestClose:
    def test_close_is_idempotent_and_joins_the_thread(self, emulator: Emulator) -> None:
        """close() twice (and the with exit after it) is fine, and the loop thread is gone."""
        groq = blocking_client(emulator)
        with groq:
            groq.close()
            groq.close()
        assert groq.closed and not groq._thread.is_alive()

    def test_calls_after_close_raise_runtime_error(self, emulator: Emulator) -> None:
        """Calls and reads on a closed client raise RuntimeError saying it is closed."""
        with blocking_client(emulator) as groq:
            pass
        with pytest.raises(RuntimeError, match="closed"):
            groq.chat.completions.create(model=MODEL, messages=user("Hi"))
        with pytest.raises(RuntimeError, match="closed"):
            groq.statistics()
        assert repr(groq) == f"<orchestrator.BlockingClient {EMULATOR_URL} closed>"

    def test_an_error_during_shutdown_is_raised_by_close(self, emulator: Emulator) -> None:
        """If closing the connections fails, close() raises that error once, then is quiet."""

        class FailingClose(httpx.AsyncBaseTransport):
            def __init__(self) -> None:
                self._inner = emulator.transport()

            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                return await self._inner.handle_async_request(request)

            async def aclose(self) -> None:
                raise OSError("socket teardown failed")

        groq = orchestrator.BlockingClient(
            api_key=KEY, base_url=EMULATOR_URL, http_client_factory=lambda: httpx.AsyncClient(transport=FailingClose())
        )
        assert groq.models.retrieve(MODEL).id == MODEL
        with pytest.raises(OSError, match="teardown"):
            groq.close()
        groq.close()
        assert not groq._thread.is_alive()

    def test_closing_the_client_ends_a_running_map_with_an_error(self) -> None:
        """A reader waiting on a map whose client closes gets RuntimeError, not a silent short result."""
        slow = make_emulator(limits={MODEL: HIGH}, queue_time=600.0)
        outcome: list[BaseException | object] = []
        groq = blocking_client(slow)
        results = groq.map([(n, {"model": MODEL, "messages": user("Hi")}) for n in range(3)])

        def read() -> None:
            try:
                outcome.append(list(results))
            except BaseException as error:
                outcome.append(error)

        reader = threading.Thread(target=read)
        reader.start()
        groq.close()
        reader.join(JOIN_TIMEOUT)
        assert not reader.is_alive() and isinstance(outcome[0], RuntimeError) and "closed" in str(outcome[0])

    def test_reprs_describe_state(self, emulator: Emulator) -> None:
        """The client, a stream and a map describe themselves without blocking."""
        with blocking_client(emulator) as groq:
            client_repr = repr(groq)
            with groq.chat.completions.create(
                model=MODEL, messages=user("Story"), max_completion_tokens=50, stream=True
            ) as stream:
                stream_repr = repr(stream)
            with groq.map([]) as results:
                list(results)
                results_repr = repr(results)
        assert client_repr == f"<orchestrator.BlockingClient {EMULATOR_URL} open>"
        assert stream_repr.startswith(f"<BlockingChatStream request_id={stream.request_id!r} buffered=")
        assert stream.request_id and stream.headers["x-request-id"] == stream.request_id
        assert results_repr == "<BlockingResults ready=0 closed=False>"

    def test_close_releases_a_thread_waiting_for_a_result(self) -> None:
        """A thread blocked on a slow call gets RuntimeError when another thread closes the client."""
        slow = make_emulator(limits={MODEL: HIGH}, queue_time=600.0)
        outcome: list[BaseException | object] = []
        groq = blocking_client(slow)
        handle = groq.submit({"model": MODEL, "messages": user("Hi")})

        def wait() -> None:
            try:
                outcome.append(handle.result())
            except BaseException as error:
                outcome.append(error)

        waiter = threading.Thread(target=wait)
        waiter.start()
        groq.close()
        waiter.join(JOIN_TIMEOUT)
        assert not waiter.is_alive() and isinstance(outcome[0], RuntimeError) and "closed" in str(outcome[0])
