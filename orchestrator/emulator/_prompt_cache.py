"""Groq's prompt caching, emulated: which prompt prefixes were seen recently, and how many tokens they cover.

What Groq documents (console.groq.com/docs/prompt-caching, as read 2026-11):

- caching is automatic for the supported models (``openai/gpt-oss-20b``, ``openai/gpt-oss-120b``,
  ``openai/gpt-oss-safeguard-20b``; a copy of the page from 2025-09 also lists
  ``moonshotai/kimi-k2-instruct-0905``, where the changelog of 2025-08-20 says caching started);
- "Cache hits require exact matches of the beginning of your prompt"; tool definitions, ``tool_choice``,
  structured-output schemas and images are part of the prefix ("Changes to cached sections, including
  `tool_choice` and image usage, will invalidate the cache");
- "All cached data automatically expires after 2 hours without use", and is never "shared between
  organizations" (an API key stands for its organisation here, as in the rate limiter);
- "The minimum cacheable prompt length varies by model, ranging from 128 to 1024 tokens";
- the hit is reported as ``usage.prompt_tokens_details.cached_tokens``; the page's example has 4,608
  cached tokens of 4,641, which is 36 blocks of 128.

What the emulator does, where the page is silent: the prompt is cut into segments (the tool, tool-choice and
response-format header first, then one segment per message) and every prefix of whole segments of a served
prompt is remembered; a new prompt's cached tokens are those of its longest remembered prefix, rounded down
to a multiple of :data:`BLOCK_TOKENS` (so prefixes under 128 tokens are never cached; Groq's minimum for the
GPT-OSS models is not published, 128 is the page's lower bound). Token counts are the emulator's usual
estimate (:mod:`orchestrator._tokens`), so the segments add up to ``usage.prompt_tokens``. Only prompts
are cached, not the generated answer: a follow-up turn hits on the earlier prompt, not on the reply.

Rule 1: no IO, no clock: every method takes ``now`` (emulated seconds).
Rule 2: bounded: one :class:`PromptCache` holds at most ``max_entries`` prefixes of 16-byte digests; the
least recently used go first, and expired ones are dropped as they are met.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from orchestrator._tokens import estimate_message_tokens
from orchestrator._wire import ChatRequest, encode

__all__ = ["BLOCK_TOKENS", "PROMPT_CACHE_MODELS", "PROMPT_CACHE_TTL", "PromptCache", "prompt_prefixes"]

#: Models with prompt caching (console.groq.com/docs/prompt-caching, Supported Models, 2025-09 to 2026-11).
PROMPT_CACHE_MODELS: Final = frozenset(
    {
        "openai/gpt-oss-20b",
        "openai/gpt-oss-120b",
        "openai/gpt-oss-safeguard-20b",
        "moonshotai/kimi-k2-instruct-0905",
    }
)
#: "All cached data automatically expires after 2 hours without use" (same page).
PROMPT_CACHE_TTL: Final = 2 * 3_600.0
#: Cached tokens come in blocks of this many (the page's example: 4,608 = 36 x 128 of 4,641).
BLOCK_TOKENS: Final = 128

_DIGEST_SIZE = 16


def prompt_prefixes(request: ChatRequest) -> list[tuple[bytes, int]]:
    """``(digest, tokens)`` of every whole-segment prefix of the request's prompt, shortest first.

    The digest of a prefix chains the digests of its segments, so two prompts share a digest exactly
    when they share that prefix; ``tokens`` is the prefix's estimated token count (the last one equals
    :func:`~orchestrator._tokens.estimate_prompt_tokens`). The header segment (tools, ``tool_choice``,
    the JSON schema) comes first, as Groq puts tool definitions ahead of the conversation.
    """
    schema = None
    header_tokens = 0
    if request.tools:
        header_tokens += (len(encode(request.tools)) + 3) // 4  # as estimate_prompt_tokens counts them
    response_format = request.response_format
    if response_format is not None and response_format.json_schema is not None:
        schema = response_format.json_schema.schema
        header_tokens += (len(encode(schema)) + 3) // 4
    header = encode([request.model, request.tools, request.tool_choice, schema])
    digest = hashlib.blake2b(header, digest_size=_DIGEST_SIZE).digest()
    tokens = header_tokens
    prefixes = [(digest, tokens)]
    for message in request.messages:
        digest = hashlib.blake2b(digest + encode(message), digest_size=_DIGEST_SIZE).digest()
        tokens += estimate_message_tokens(message)
        prefixes.append((digest, tokens))
    return prefixes


class PromptCache:
    """Recently served prompt prefixes per (API key, model), with an expiry in emulated time.

    Args:
        ttl: emulated seconds a prefix lives after its last use.
        max_entries: how many prefixes to remember in all (least recently used beyond it are forgotten).
        block: cached tokens are reported in multiples of this.
    """

    __slots__ = ("_ttl", "_max_entries", "_block", "_entries")

    def __init__(self, *, ttl: float = PROMPT_CACHE_TTL, max_entries: int = 16_384, block: int = BLOCK_TOKENS) -> None:
        if not ttl > 0:
            raise ValueError(f"ttl={ttl!r} must be > 0 seconds")
        if max_entries < 1:
            raise ValueError(f"max_entries={max_entries!r} must be at least 1")
        if block < 1:
            raise ValueError(f"block={block!r} must be at least 1 token")
        self._ttl = ttl
        self._max_entries = max_entries
        self._block = block
        self._entries: OrderedDict[bytes, float] = OrderedDict()  # key digest -> expiry (emulated seconds)

    def __len__(self) -> int:
        return len(self._entries)

    def _key(self, owner: str, model: str, prefix: bytes) -> bytes:
        scoped = b"%s\0%s\0%s" % (owner.encode(), model.encode(), prefix)
        return hashlib.blake2b(scoped, digest_size=_DIGEST_SIZE).digest()

    def serve(self, owner: str, model: str, prefixes: Sequence[tuple[bytes, int]], now: float) -> int:
        """Look the prompt up, remember all its prefixes, and return its cached tokens.

        ``owner`` is the API key (the organisation); ``prefixes`` come from :func:`prompt_prefixes`. The
        answer is the token count of the longest unexpired remembered prefix, rounded down to a multiple
        of the block size (0 on a miss). Every prefix of this prompt is then remembered (or refreshed:
        the expiry counts from the last use).
        """
        entries = self._entries
        cached = 0
        keys = [self._key(owner, model, digest) for digest, _ in prefixes]
        for key, (_, tokens) in zip(reversed(keys), reversed(prefixes)):
            expiry = entries.get(key)
            if expiry is None:
                continue
            if expiry <= now:
                del entries[key]
                continue
            cached = tokens - tokens % self._block
            break
        expiry = now + self._ttl
        for key, (_, tokens) in zip(keys, prefixes):
            if tokens < self._block:
                continue  # too short to ever be reported as cached
            entries[key] = expiry
            entries.move_to_end(key)
        while len(entries) > self._max_entries:
            entries.popitem(last=False)
        return cached
