"""Prompt caching: the pure cache (prefixes, blocks, expiry, bounds) and what usage and the limits show."""

from __future__ import annotations

import json

import pytest
import trio

from orchestrator._tokens import estimate_prompt_tokens
from orchestrator._wire import chat_request_from
from orchestrator.emulator import EmulatorSettings
from orchestrator.emulator._prompt_cache import BLOCK_TOKENS, PROMPT_CACHE_MODELS, PROMPT_CACHE_TTL, PromptCache, prompt_prefixes
from tests.emulator._models import PLAIN_MODEL, TEST_CATALOG
from tests.emulator.conftest import MODEL, open_harness

SYSTEM = {"role": "system", "content": "You answer questions about the emulator. " * 48}  # 496 tokens with overhead


def ask(question: str, **extra: object) -> dict[str, object]:
    """A request with the long shared system prompt and a short question (501 prompt tokens for 'q1')."""
    return {"model": MODEL, "messages": [SYSTEM, {"role": "user", "content": question}], "max_completion_tokens": 100, **extra}


def details(usage: dict[str, object]) -> int:
    return usage["prompt_tokens_details"]["cached_tokens"]  # type: ignore[index]


class TestPrefixes:
    def test_prefix_tokens_add_up_to_the_prompt(self) -> None:
        """The last prefix covers the whole prompt: exactly the emulator's prompt_tokens."""
        tool = {"type": "function", "function": {"name": "lookup", "description": "Look a word up, ünïcode"}}
        request = chat_request_from(ask("q1", tools=[tool], tool_choice="auto"))
        prefixes = prompt_prefixes(request)
        assert len(prefixes) == 3 and prefixes[-1][1] == estimate_prompt_tokens(request)
        assert [tokens for _, tokens in prefixes] == sorted(tokens for _, tokens in prefixes)

    def test_header_changes_invalidate_everything(self) -> None:
        """Another tool_choice or schema changes every prefix digest; another last message only the last."""
        base = prompt_prefixes(chat_request_from(ask("q1")))
        other_question = prompt_prefixes(chat_request_from(ask("q2")))
        other_choice = prompt_prefixes(chat_request_from(ask("q1", tool_choice="none")))
        assert base[:2] == other_question[:2] and base[2] != other_question[2]
        assert not {digest for digest, _ in base} & {digest for digest, _ in other_choice}


class TestPromptCache:
    PREFIXES = [(b"h", 0), (b"s", 300), (b"u", 310)]

    def test_miss_then_hit_in_whole_blocks(self) -> None:
        """The first sight is a miss; the same prompt again is cached in blocks of 128 tokens."""
        cache = PromptCache()
        assert cache.serve("k", "m", self.PREFIXES, 0.0) == 0
        assert cache.serve("k", "m", self.PREFIXES, 1.0) == 310 - 310 % BLOCK_TOKENS == 256

    def test_longest_shared_prefix(self) -> None:
        """A prompt that shares only the first two segments hits on those."""
        cache = PromptCache()
        cache.serve("k", "m", self.PREFIXES, 0.0)
        assert cache.serve("k", "m", [(b"h", 0), (b"s", 300), (b"other", 320)], 1.0) == 256

    def test_short_prefixes_are_never_cached(self) -> None:
        """Under one block nothing is remembered or reported."""
        cache = PromptCache()
        short = [(b"h", 0), (b"x", 100)]
        assert (cache.serve("k", "m", short, 0.0), cache.serve("k", "m", short, 1.0), len(cache)) == (0, 0, 0)

    def test_scoped_by_key_and_model(self) -> None:
        """Another organisation (key) or model sees nothing of it."""
        cache = PromptCache()
        cache.serve("k", "m", self.PREFIXES, 0.0)
        assert (cache.serve("other", "m", self.PREFIXES, 1.0), cache.serve("k", "n", self.PREFIXES, 1.0)) == (0, 0)

    def test_expires_two_hours_after_last_use(self) -> None:
        """A use refreshes the expiry; two hours without one forgets the prefix."""
        cache = PromptCache()
        cache.serve("k", "m", self.PREFIXES, 0.0)
        assert cache.serve("k", "m", self.PREFIXES, PROMPT_CACHE_TTL - 1) == 256
        assert cache.serve("k", "m", self.PREFIXES, 2 * PROMPT_CACHE_TTL - 2) == 256
        assert cache.serve("k", "m", self.PREFIXES, 3 * PROMPT_CACHE_TTL) == 0

    def test_bounded(self) -> None:
        """However many prompts arrive, at most max_entries prefixes are kept; the oldest go first."""
        cache = PromptCache(max_entries=4)
        for n in range(100):
            cache.serve("k", "m", [(b"h%d" % n, 0), (b"s%d" % n, 200), (b"u%d" % n, 300)], float(n))
        assert len(cache) == 4
        assert cache.serve("k", "m", [(b"h99", 0), (b"s99", 200), (b"u99", 300)], 100.0) == 256
        assert cache.serve("k", "m", [(b"h0", 0), (b"s0", 200), (b"u0", 300)], 100.0) == 0

    @pytest.mark.parametrize("kwargs", [{"ttl": 0}, {"max_entries": 0}, {"block": 0}])
    def test_bad_settings(self, kwargs: dict[str, float]) -> None:
        with pytest.raises(ValueError):
            PromptCache(**kwargs)  # type: ignore[arg-type]


class TestOverTheWire:
    async def test_cached_tokens_in_every_usage(self, autojump_clock: trio.testing.MockClock) -> None:
        """A repeated prefix shows as cached_tokens: non-streamed, in x_groq.usage and in the include_usage chunk."""
        assert MODEL in PROMPT_CACHE_MODELS
        async with open_harness("in-process") as harness:
            first = (await harness.client.post("/chat/completions", json=ask("q1"))).json()["usage"]
            second = (await harness.client.post("/chat/completions", json=ask("q2"))).json()["usage"]
            stream = ask("q3", stream=True, stream_options={"include_usage": True})
            async with harness.client.stream("POST", "/chat/completions", json=stream) as response:
                events = [json.loads(line[6:]) for line in [l async for l in response.aiter_lines()] if line.startswith("data: {")]
        assert (first["prompt_tokens"], details(first)) == (501, 0)
        assert (second["prompt_tokens"], details(second)) == (501, 384)  # the 496-token prefix, in 128-token blocks
        assert details(events[-2]["x_groq"]["usage"]) == details(events[-1]["usage"]) == 384

    async def test_no_details_for_a_model_without_caching(self, autojump_clock: trio.testing.MockClock) -> None:
        """A model without prompt caching reports no prompt_tokens_details at all."""
        async with open_harness("in-process", EmulatorSettings(catalog=TEST_CATALOG)) as harness:
            for _ in range(2):
                usage = (await harness.client.post("/chat/completions", json={**ask("q1"), "model": PLAIN_MODEL})).json()["usage"]
        assert "prompt_tokens_details" not in usage

    async def test_cached_tokens_do_not_count_against_tpm(self, autojump_clock: trio.testing.MockClock) -> None:
        """The second request is charged 501 - 384 + 100 tokens, not 601."""
        settings = EmulatorSettings(limits={MODEL: (1_000, 100_000, 100_000, 1_000_000)}, completion_tokens=(200, 200))
        async with open_harness("in-process", settings) as harness:
            await harness.client.post("/chat/completions", json=ask("q1"))
            await harness.client.post("/chat/completions", json=ask("q2"))
            probe = await harness.client.post("/chat/completions", json=ask("q3"))
        # Headers show the state right after the probe's own admission charge (501 + 100).
        assert probe.headers["x-ratelimit-remaining-tokens"] == str(100_000 - 601 - (501 - 384 + 100) - 601)

    async def test_cached_tokens_are_given_back_to_itpm_after_processing(self, autojump_clock: trio.testing.MockClock) -> None:
        """ITPM is charged the whole prompt at admission and refunded the cached part afterwards."""
        settings = EmulatorSettings(limits={MODEL: (1_000, 100_000, 100_000, 1_000_000, 1_100, 100_000)})
        async with open_harness("in-process", settings) as harness:
            statuses = [(await harness.client.post("/chat/completions", json=ask(q))).status_code for q in ("q1", "q2")]
            refused = await harness.client.post("/chat/completions", json=ask("q3"))
        assert statuses == [200, 200]
        # Without the refund 1,002 would be used; with it 501 + (501 - 384) = 618.
        assert "input tokens per minute (ITPM): Limit 1100, Used 618, Requested 501." in refused.json()["error"]["message"]

    async def test_expiry_is_in_emulated_time(self, autojump_clock: trio.testing.MockClock) -> None:
        """Two emulated hours without use forget the prefix (an hour is one real second at time_scale 3600)."""
        async with open_harness("in-process", EmulatorSettings(time_scale=3_600.0)) as harness:
            await harness.client.post("/chat/completions", json=ask("q1"))
            await trio.sleep(1.5)
            kept = (await harness.client.post("/chat/completions", json=ask("q2"))).json()["usage"]
            await trio.sleep(2.5)
            gone = (await harness.client.post("/chat/completions", json=ask("q3"))).json()["usage"]
        assert (details(kept), details(gone)) == (384, 0)

    async def test_other_key_and_changed_tools_miss(self, autojump_clock: trio.testing.MockClock) -> None:
        """The cache is per organisation (key), and a different tool_choice invalidates the prefix."""
        tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
        async with open_harness("in-process") as harness:
            await harness.client.post("/chat/completions", json=ask("q1", tools=[tool], tool_choice="none"))
            other_key = await harness.client.post(
                "/chat/completions", json=ask("q2", tools=[tool], tool_choice="none"), headers={"authorization": "Bearer gsk_other"}
            )
            other_choice = await harness.client.post("/chat/completions", json=ask("q2", tools=[tool], tool_choice="auto"))
            same = await harness.client.post("/chat/completions", json=ask("q2", tools=[tool], tool_choice="none"))
        shared = prompt_prefixes(chat_request_from(ask("q2", tools=[tool], tool_choice="none")))[1][1]  # tools + system
        assert [details(r.json()["usage"]) for r in (other_key, other_choice, same)] == [0, 0, shared - shared % BLOCK_TOKENS]

    async def test_sdk_reads_cached_tokens(self, autojump_clock: trio.testing.MockClock) -> None:
        """The official SDK parses prompt_tokens_details.cached_tokens."""
        async with open_harness("in-process") as harness:
            async with harness.sdk() as sdk:
                await sdk.chat.completions.create(**ask("q1"))  # type: ignore[arg-type]
                completion = await sdk.chat.completions.create(**ask("q2"))  # type: ignore[arg-type]
        assert completion.usage.prompt_tokens_details.cached_tokens == 384

    def test_settings_validate_the_cache_knobs(self) -> None:
        with pytest.raises(ValueError, match="prompt_cache_ttl"):
            EmulatorSettings(prompt_cache_ttl=0.0)
        with pytest.raises(ValueError, match="prompt_cache_entries"):
            EmulatorSettings(prompt_cache_entries=0)
