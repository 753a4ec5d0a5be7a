"""Retired models end to end: refused before sending (client, CLI, batch), --model-map, and the /models refresh."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import trio
from structlog.testing import capture_logs

import orchestrator
from orchestrator import _catalog_refresh
from orchestrator.batch._local import run_batch_async
from orchestrator._catalog import DEFAULT_CATALOG, ModelCatalog, ModelInfo
from orchestrator._cli import main
from orchestrator.emulator import EmulatorSettings

from .helpers import client_for, make_emulator, silent_wav, user

RETIRED = "llama-3.1-8b-instant"
CURRENT = "openai/gpt-oss-20b"
GROQ_URL = "https://api.groq.com/openai/v1"


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No /models answers cached from another test, no key or URL in the environment, structlog unconfigured."""
    _catalog_refresh._listings.clear()
    for name in ("GROQ_API_KEY", "GROQ_BASE_URL", "GROQ_TIMEOUT", "GROQ_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    structlog.reset_defaults()
    yield
    _catalog_refresh._listings.clear()
    structlog.reset_defaults()


def events(logs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [entry for entry in logs if entry.get("event") == name]


# ------------------------------------------------------------------------------ the client


class TestClientRefusesBeforeSending:
    async def test_create_raises_and_sends_nothing(self, autojump_clock: trio.testing.MockClock) -> None:
        """chat.completions.create to a retired model raises ModelDecommissionedError; the server sees no request."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            with pytest.raises(orchestrator.ModelDecommissionedError) as caught:
                await groq.chat.completions.create(model=RETIRED, messages=user("hi"))
        assert (caught.value.model, caught.value.replacement, str(caught.value.shutdown)) == (
            RETIRED, CURRENT, "2026-08-16")
        assert emulator.stats().requests == 0

    async def test_submit_raises_at_once(self, autojump_clock: trio.testing.MockClock) -> None:
        """submit validates before queueing: the error comes from submit itself."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            with pytest.raises(orchestrator.ModelDecommissionedError):
                await groq.submit({"model": "llama-3.3-70b-versatile", "messages": user("hi")})
        assert emulator.stats().requests == 0

    async def test_map_carries_the_error_per_job(self, autojump_clock: trio.testing.MockClock) -> None:
        """In map, the retired job's result holds the error; the other jobs run."""
        emulator = make_emulator()
        pairs = [(0, {"model": CURRENT, "messages": user("a")}), (1, {"model": RETIRED, "messages": user("b")}),
                 (2, {"model": CURRENT, "messages": user("c")})]
        async with client_for(emulator) as groq, groq.map(pairs) as results:
            outcome = {result.key: type(result.error).__name__ if result.error else "ok" async for result in results}
        assert outcome == {0: "ok", 1: "ModelDecommissionedError", 2: "ok"}
        assert emulator.stats().requests == 2

    async def test_audio_to_a_retired_model_is_refused(self, autojump_clock: trio.testing.MockClock) -> None:
        """A transcription with distil-whisper-large-v3-en is refused before the upload."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            with pytest.raises(orchestrator.ModelDecommissionedError) as caught:
                await groq.audio.transcriptions.create(model="distil-whisper-large-v3-en", file=("a.wav", silent_wav()))
        assert (caught.value.replacement, emulator.stats().requests) == ("whisper-large-v3-turbo", 0)


class TestModelMap:
    async def test_requests_are_rewritten_before_validation(self, autojump_clock: trio.testing.MockClock) -> None:
        """With model_map, a request for the retired model is sent to the new one and succeeds."""
        emulator = make_emulator()
        async with client_for(emulator, model_map={RETIRED: CURRENT}) as groq:
            reply = await groq.chat.completions.create(model=RETIRED, messages=user("hi"))
        assert reply.model == CURRENT

    async def test_audio_requests_are_rewritten_too(self, autojump_clock: trio.testing.MockClock) -> None:
        """model_map applies to transcriptions as well."""
        emulator = make_emulator()
        async with client_for(emulator, model_map={"distil-whisper-large-v3-en": "whisper-large-v3-turbo"}) as groq:
            result = await groq.audio.transcriptions.create(model="distil-whisper-large-v3-en", file=("a.wav", silent_wav()))
        assert isinstance(result, orchestrator.Transcription) and emulator.stats().requests == 1

    async def test_open_client_refuses_a_bad_map(self) -> None:
        """A self-mapping is a ConfigError naming the field, before anything opens."""
        with pytest.raises(orchestrator.ConfigError) as caught:
            async with client_for(make_emulator(), model_map={CURRENT: CURRENT}):
                pass
        assert caught.value.field == f"model_map[{CURRENT!r}]"


# ------------------------------------------------------------------------------ CLI and batch


def jobs(path: Path, models: dict[str, str]) -> Path:
    lines = [json.dumps({"custom_id": cid, "body": {"model": model, "max_completion_tokens": 64,
                                                     "messages": [{"role": "user", "content": "Hi"}]}})
             for cid, model in models.items()]
    path.write_text("".join(line + "\n" for line in lines))
    return path


def results(path: Path) -> dict[str, dict[str, Any]]:
    return {record["custom_id"]: record for record in map(json.loads, path.read_text().splitlines())}


class TestCli:
    def test_chat_prints_one_line_and_exits_non_zero(self, capsys: pytest.CaptureFixture[str]) -> None:
        """groq-orch chat --model RETIRED: one clear error line naming date, replacement and --model-map; exit 2."""
        code = main(["chat", "Say hi", "--model", RETIRED])
        err = capsys.readouterr().err.strip().splitlines()
        line = err[-1]
        assert code == 2 and line.startswith("groq-orch: error: ")
        for part in (RETIRED, "2026-08-16", CURRENT, f"--model-map {RETIRED}={CURRENT}"):
            assert part in line, part
        assert not [other for other in err[:-1] if "error" in other]

    def test_chat_with_a_model_map_succeeds(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--model-map moves the one chat onto the replacement."""
        code = main(["chat", "Say hi", "--model", RETIRED, "--model-map", f"{RETIRED}={CURRENT}", "--max-tokens", "64"])
        assert (code, capsys.readouterr().out.strip() != "") == (0, True)

    @pytest.mark.parametrize("value", ["no-equals-sign", f"={CURRENT}", f"{RETIRED}=", f"{CURRENT}={CURRENT}"])
    def test_bad_model_map_is_a_usage_error(self, value: str, capsys: pytest.CaptureFixture[str]) -> None:
        """A malformed --model-map exits 2 naming the flag, the field and the value."""
        with pytest.raises(SystemExit) as info:
            main(["batch", "jobs.jsonl", "-o", "out.jsonl", "--model-map", value])
        err = capsys.readouterr().err
        assert (info.value.code, "--model-map" in err, "model_map" in err, repr(value) in err) == (2, True, True, True)

    def test_the_same_model_mapped_twice_differently_is_refused(self, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
        """Two --model-map flags for one model must agree."""
        source = jobs(tmp_path / "jobs.jsonl", {"a": RETIRED})
        code = main(["batch", str(source), "-o", str(tmp_path / "out.jsonl"), "-q",
                     "--model-map", f"{RETIRED}={CURRENT}", "--model-map", f"{RETIRED}=openai/gpt-oss-120b"])
        assert (code, "--model-map" in capsys.readouterr().err) == (2, True)

    def test_batch_model_map_moves_every_job(self, tmp_path: Path) -> None:
        """groq-orch batch --model-map OLD=NEW runs a file of retired-model jobs on NEW, under their custom_ids."""
        source = jobs(tmp_path / "jobs.jsonl", {"a": RETIRED, "b": "llama-3.3-70b-versatile", "c": CURRENT})
        target = tmp_path / "out.jsonl"
        code = main(["batch", str(source), "-o", str(target), "-q", "--model-map", f"{RETIRED}={CURRENT}",
                     "--model-map", "llama-3.3-70b-versatile=openai/gpt-oss-120b"])
        out = results(target)
        assert code == 0 and {cid: record["response"]["body"]["model"] for cid, record in out.items()} == {
            "a": CURRENT, "b": "openai/gpt-oss-120b", "c": CURRENT}


async def test_batch_records_one_error_per_retired_job(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """Each retired-model job gets one error record (code model_decommissioned, nothing sent); the rest succeed."""
    source = jobs(tmp_path / "jobs.jsonl", {"a": CURRENT, "b": RETIRED, "c": CURRENT, "d": "qwen/qwen3-32b"})
    target = tmp_path / "out.jsonl"
    summary = await run_batch_async(source, target, environ={}, quiet=True,
                                    emulator_settings=EmulatorSettings(latency="instant", time_scale=1000.0))
    out = results(target)
    assert (summary.succeeded, summary.failed, len(target.read_text().splitlines())) == (2, 2, 4)
    for cid, replacement in (("b", CURRENT), ("d", "openai/gpt-oss-120b")):
        record = out[cid]
        assert (record["response"], record["error"]["code"], record["error"]["param"]) == (
            None, "model_decommissioned", "model")
        assert replacement in record["error"]["message"] and "--model-map" in record["error"]["message"]
    assert out["a"]["error"] is None and out["c"]["error"] is None


async def test_run_batch_model_map_argument(tmp_path: Path, autojump_clock: trio.testing.MockClock) -> None:
    """run_batch_async(model_map=...) moves the jobs; they are recorded under their custom_ids."""
    source = jobs(tmp_path / "jobs.jsonl", {"x": RETIRED, "y": RETIRED})
    target = tmp_path / "out.jsonl"
    summary = await run_batch_async(source, target, environ={}, quiet=True, model_map={RETIRED: CURRENT},
                                    emulator_settings=EmulatorSettings(latency="instant", time_scale=1000.0))
    assert (summary.succeeded, sorted(results(target))) == (2, ["x", "y"])


# ------------------------------------------------------------------------------ the /models refresh


def with_models(*infos: ModelInfo) -> ModelCatalog:
    catalog = DEFAULT_CATALOG
    for info in infos:
        catalog = catalog.with_model(info)
    return catalog


class TestRefreshAgainstTheEmulator:
    async def test_default_does_not_ask_a_loopback_emulator(self, autojump_clock: trio.testing.MockClock) -> None:
        """With refresh_catalog unset, a loopback base URL (the emulator) is not asked for /models."""
        emulator = make_emulator()
        async with client_for(emulator) as groq:
            listed = groq.listed_models
        assert (listed, emulator.stats().requests) == (None, 0)

    async def test_a_new_model_becomes_known_with_its_sizes(self, autojump_clock: trio.testing.MockClock) -> None:
        """A model /models lists and the built-in catalog lacks is added with its sizes, which are then enforced."""
        new = ModelInfo(id="acme/new-model", context_window=4096, max_completion_tokens=512, owned_by="Acme")
        emulator = make_emulator(catalog=with_models(new))
        async with client_for(emulator, refresh_catalog=True) as groq:
            assert emulator.stats().requests == 1 and "acme/new-model" in (groq.listed_models or ())
            info = groq.catalog.get("acme/new-model")
            assert (groq.catalog.known("acme/new-model"), info.max_completion_tokens) == (True, 512)
            with pytest.raises(orchestrator.ValidationError) as caught:
                await groq.chat.completions.create(model="acme/new-model", messages=user("hi"), max_completion_tokens=600)
            assert caught.value.field == "max_completion_tokens" and emulator.stats().requests == 1
            reply = await groq.chat.completions.create(model="acme/new-model", messages=user("hi"), max_completion_tokens=64)
        assert reply.model == "acme/new-model"

    async def test_an_unlisted_model_is_sent_with_one_warning(self, autojump_clock: trio.testing.MockClock) -> None:
        """A model /models does not list: one model_not_listed warning naming it and the listed ones; Groq decides."""
        emulator = make_emulator(catalog=ModelCatalog([DEFAULT_CATALOG.get(CURRENT)]))
        with capture_logs() as logs:
            async with client_for(emulator, refresh_catalog=True) as groq:
                for _ in range(2):
                    with pytest.raises(orchestrator.ModelError):
                        await groq.chat.completions.create(model="openai/gpt-oss-120b", messages=user("hi"))
        (warning,) = events(logs, "model_not_listed")
        assert (warning["model"], warning["listed"], warning["log_level"]) == ("openai/gpt-oss-120b", [CURRENT], "warning")


Handler = Callable[[httpx.Request], Any]

CHAT_REPLY = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": CURRENT,
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}, "x_groq": {"id": "req_1"},
}
MODEL_LIST = {"object": "list", "data": [
    {"id": CURRENT, "object": "model", "created": 1, "owned_by": "OpenAI", "active": True,
     "context_window": 131072, "max_completion_tokens": 65536},
    {"id": "acme/tomorrow", "object": "model", "created": 2, "owned_by": "Acme", "active": True,
     "context_window": 32768, "max_completion_tokens": 8192},
]}


def groq_like(models: Callable[[], Any]) -> tuple[Handler, list[str]]:
    """A MockTransport handler standing in for Groq: chat answers, /models answers ``models()``; paths seen."""
    seen: list[str] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url.path}")
        if request.url.path.endswith("/models"):
            return await models()
        return httpx.Response(200, json=CHAT_REPLY, headers={"x-request-id": "req_1"})

    return handler, seen


async def open_mocked(handler: Handler, key: str, **overrides: Any) -> Any:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return http, orchestrator.open_client(api_key=key, base_url=GROQ_URL, http_client=http, **overrides)


class TestRefreshAgainstGroq:
    async def test_groq_is_asked_once_at_open(self, autojump_clock: trio.testing.MockClock) -> None:
        """A non-loopback base URL refreshes by default: one GET /models, the new model known, chat unaffected."""
        async def models() -> httpx.Response:
            return httpx.Response(200, json=MODEL_LIST)

        handler, seen = groq_like(models)
        http, opening = await open_mocked(handler, f"gsk_{uuid.uuid4().hex}")
        async with http, opening as groq:
            assert groq.catalog.get("acme/tomorrow").context_window == 32768
            await groq.chat.completions.create(model=CURRENT, messages=user("hi"))
        assert seen == ["GET /openai/v1/models", "POST /openai/v1/chat/completions"]

    async def test_a_failure_logs_one_event_and_keeps_the_catalog(self, autojump_clock: trio.testing.MockClock) -> None:
        """A /models the server does not serve (404): one catalog_refresh_failed event, built-in catalog, chat works."""
        async def models() -> httpx.Response:
            return httpx.Response(404, json={"error": {"message": "Unknown request URL", "type": "invalid_request_error"}})

        handler, _ = groq_like(models)
        http, opening = await open_mocked(handler, f"gsk_{uuid.uuid4().hex}")
        with capture_logs() as logs:
            async with http, opening as groq:
                assert (groq.listed_models, groq.catalog) == (None, DEFAULT_CATALOG)
                await groq.chat.completions.create(model=CURRENT, messages=user("hi"))
        (failed,) = events(logs, "catalog_refresh_failed")
        assert "NotFoundError" in failed["error"] and failed["log_level"] == "warning"

    async def test_a_hanging_models_endpoint_costs_at_most_the_timeout(
        self, autojump_clock: trio.testing.MockClock
    ) -> None:
        """/models that never answers is abandoned after REFRESH_TIMEOUT; the client opens and works."""
        async def models() -> httpx.Response:
            await trio.sleep_forever()
            raise AssertionError("unreachable")

        handler, _ = groq_like(models)
        http, opening = await open_mocked(handler, f"gsk_{uuid.uuid4().hex}")
        started = trio.current_time()
        with capture_logs() as logs, trio.fail_after(60):  # a refresh without its timeout would fail, not hang
            async with http, opening as groq:
                opened = trio.current_time() - started
                await groq.chat.completions.create(model=CURRENT, messages=user("hi"))
        assert opened == pytest.approx(_catalog_refresh.REFRESH_TIMEOUT)
        (failed,) = events(logs, "catalog_refresh_failed")
        assert "no answer within 2 s" in failed["error"]

    async def test_a_retired_model_the_key_still_lists_is_allowed(self, autojump_clock: trio.testing.MockClock) -> None:
        """A key /models still lists a retired model for (an enterprise contract) may use it; unrefreshed, it is refused."""
        kept = {"id": "llama-3.3-70b-versatile", "object": "model", "created": 1733447754, "owned_by": "Meta",
                "active": True, "context_window": 131072, "max_completion_tokens": 32768}

        async def models() -> httpx.Response:
            return httpx.Response(200, json={"object": "list", "data": [*MODEL_LIST["data"], kept]})

        handler, seen = groq_like(models)
        key = f"gsk_{uuid.uuid4().hex}"
        http, opening = await open_mocked(handler, key)
        async with http, opening as groq:
            await groq.chat.completions.create(model="llama-3.3-70b-versatile", messages=user("hi"))
        http, opening = await open_mocked(handler, key, refresh_catalog=False)
        async with http, opening as groq:
            with pytest.raises(orchestrator.ModelDecommissionedError):
                await groq.chat.completions.create(model="llama-3.3-70b-versatile", messages=user("hi"))
        assert seen == ["GET /openai/v1/models", "POST /openai/v1/chat/completions"]

    async def test_switched_off_it_never_asks(self, autojump_clock: trio.testing.MockClock) -> None:
        """refresh_catalog=False: no GET /models even to Groq."""
        async def models() -> httpx.Response:
            raise AssertionError("/models must not be asked")

        handler, seen = groq_like(models)
        http, opening = await open_mocked(handler, f"gsk_{uuid.uuid4().hex}", refresh_catalog=False)
        async with http, opening as groq:
            await groq.chat.completions.create(model=CURRENT, messages=user("hi"))
        assert seen == ["POST /openai/v1/chat/completions"]

    async def test_the_answer_is_cached_per_key_for_the_process(self, autojump_clock: trio.testing.MockClock) -> None:
        """A second client with the same URL and key reuses the answer; another key asks again."""
        async def models() -> httpx.Response:
            return httpx.Response(200, json=MODEL_LIST)

        handler, seen = groq_like(models)
        key = f"gsk_{uuid.uuid4().hex}"
        for use in (key, key, f"gsk_{uuid.uuid4().hex}"):
            http, opening = await open_mocked(handler, use)
            async with http, opening as groq:
                assert groq.catalog.known("acme/tomorrow")
        assert seen.count("GET /openai/v1/models") == 2
