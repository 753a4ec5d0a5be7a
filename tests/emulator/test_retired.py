"""Retired models: Groq's 400 model_decommissioned for chat and audio, before any limit, and absent from /models.

The real table (orchestrator._retired.RETIRED_MODELS) is read at run time and grows; tests that need a
retired model the catalog still lists patch the table, so they do not depend on its current rows.
"""

from __future__ import annotations

import datetime

import groq
import httpx
import pytest
import trio

from orchestrator import _retired
from orchestrator._retired import RETIRED_MODELS, RetiredModel, decommissioned_message
from orchestrator.emulator import EmulatorSettings
from tests.emulator.conftest import MODEL, Harness, chat, open_harness
from tests.helpers import silent_wav


def decommissioned(model: str) -> dict[str, object]:
    return {"error": {"message": decommissioned_message(model), "type": "invalid_request_error", "code": "model_decommissioned"}}


@pytest.fixture
def retire_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retire the default chat model and whisper-large-v3 for one test (the catalog still lists both)."""
    table = dict(RETIRED_MODELS)
    for model in (MODEL, "whisper-large-v3"):
        table[model] = RetiredModel(model, datetime.date(2026, 1, 1), None)
    monkeypatch.setattr(_retired, "RETIRED_MODELS", table)


@pytest.mark.parametrize("model", sorted(RETIRED_MODELS))
async def test_every_retired_model_is_decommissioned(harness: Harness, model: str) -> None:
    """Each model in the retired table gets Groq's 400, with no rate-limit headers."""
    response = await harness.client.post("/chat/completions", json={**chat(), "model": model})
    assert (response.status_code, response.json()) == (400, decommissioned(model))
    assert not [name for name in response.headers if name.startswith("x-ratelimit-")]


async def test_checked_before_rate_limits(autojump_clock: trio.testing.MockClock, retire_model: None) -> None:
    """However many are sent against 1 RPM, a retired model is a 400, never a 429, and nothing is charged."""
    async with open_harness("in-process", EmulatorSettings(limits={MODEL: (1, 1, 100, 100)})) as harness:
        responses = [await harness.client.post("/chat/completions", json=chat()) for _ in range(3)]
        stats = harness.emulator.stats()
    assert [r.status_code for r in responses] == [400, 400, 400] and stats.rate_limited == 0
    assert responses[-1].json() == decommissioned(MODEL)


async def test_sdk_raises_bad_request(harness: Harness, retire_model: None) -> None:
    """The official SDK raises BadRequestError carrying the code."""
    async with harness.sdk() as sdk:
        with pytest.raises(groq.BadRequestError, match="model_decommissioned"):
            await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])


async def test_audio_to_a_retired_model(harness: Harness, retire_model: None) -> None:
    """A transcription for a retired Whisper model gets the same 400."""
    files = {"file": ("speech.wav", silent_wav(2.0), "audio/wav")}
    request = httpx.Request("POST", "http://x.test/", data={"model": "whisper-large-v3"}, files=files)
    response = await harness.client.post(
        "/audio/transcriptions", content=request.read(), headers={"content-type": request.headers["content-type"]}
    )
    assert (response.status_code, response.json()) == (400, decommissioned("whisper-large-v3"))


async def test_models_do_not_list_retired_ones(harness: Harness, retire_model: None) -> None:
    """/models leaves retired models out and /models/{id} answers them 404 model_not_found, like unknown ids."""
    listed = [m["id"] for m in (await harness.client.get("/models")).json()["data"]]
    single = await harness.client.get(f"/models/{MODEL}")
    assert MODEL not in listed and "whisper-large-v3" not in listed and "whisper-large-v3-turbo" in listed
    assert (single.status_code, single.json()["error"]["code"]) == (404, "model_not_found")
