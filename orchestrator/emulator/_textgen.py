"""Deterministic filler text for emulated completions, read lazily piece by piece.

A "token" here is one word with its leading space, a full stop, or a paragraph break, so counting
tokens is counting pieces. The same random generator (seeded by the emulator seed, the request's
``seed`` and a hash of the prompt) gives the same text, streamed or not.

Completions are read from one corpus generated once (:func:`corpus_pieces`): the request's generator
only picks the sentence to start at. Drawing three random numbers per token cost 14 % of a 10,000-job
batch's CPU on the instant emulator (measured 2026-12-01); a slice of the corpus costs almost nothing.

:class:`StopScanner` applies ``stop`` sequences incrementally: it holds back at most the length of the
longest stop sequence minus one character, so a 100,000-token stream needs no more memory than a short
one, and the output ends where the first completed stop sequence starts, as Groq's does.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator, Sequence

__all__ = ["StopScanner", "corpus_pieces", "corpus_pieces_from", "generate_tokens", "natural_length"]

_WORDS = (
    "the a an of to and in on for with by from as at about across after against along among around "
    "before behind below beside between beyond during inside into near over through toward under "
    "within model token stream request answer system latency budget window minute second limit rate "
    "queue worker client server signal packet channel buffer result error retry backoff header value "
    "field record batch job scheduler bucket breaker circuit response message prompt context vector "
    "fast slow quiet steady bright clear simple careful exact small large early late open closed "
    "ready busy calm warm cold green blue golden silver river mountain forest meadow harbor valley "
    "garden lantern bridge window engine compass journey morning evening winter summer autumn spring "
    "runs builds keeps sends reads writes waits learns counts moves holds finds makes takes brings "
    "shows turns starts ends grows falls rises flows carries measures balances"
).split()
_SENTENCE = (5, 14)


def natural_length(rng: random.Random, bounds: tuple[int, int]) -> int:
    """How many tokens a completion runs before it "stops naturally" (inclusive bounds)."""
    return rng.randint(bounds[0], bounds[1])


def generate_tokens(rng: random.Random, count: int) -> Iterator[str]:
    """Yield ``count`` tokens of sentence-shaped text (words, full stops, paragraph breaks)."""
    produced = 0
    capital = True
    left_in_sentence = rng.randint(*_SENTENCE)
    first = True
    words = _WORDS
    while produced < count:
        if left_in_sentence == 0:
            token = "."
            left_in_sentence = rng.randint(*_SENTENCE)
            capital = True
        elif capital and not first and rng.random() < 0.15:
            token = "\n\n"
            first = True
        else:
            word = words[rng.randrange(len(words))]
            if capital:
                word = word.capitalize()
                capital = False
            token = word if first else " " + word
            first = False
            left_in_sentence -= 1
        produced += 1
        yield token


#: Tokens in the corpus completions are read from (about 500 KB of text), cycled past its end.
_CORPUS_TOKENS = 1 << 16


@functools.cache
def _corpus() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The corpus, and the indices where its sentences start (built on first use)."""
    tokens = tuple(generate_tokens(random.Random("groq-orchestrator corpus"), _CORPUS_TOKENS))
    breaks = (".", "\n\n")
    starts = tuple(
        index
        for index in range(len(tokens))
        if tokens[index] not in breaks and (index == 0 or tokens[index - 1] in breaks)
    )
    return tokens, starts


def corpus_pieces(rng: random.Random, count: int, tokens_per_piece: int) -> Iterator[tuple[str, int]]:
    """``count`` tokens of the corpus from a sentence ``rng`` picks, ``tokens_per_piece`` to a (text, tokens) piece.

    The same ``rng`` state gives the same text, however it is cut into pieces; the last piece may be shorter.
    """
    return corpus_pieces_from(rng.getrandbits(32), count, tokens_per_piece)


def corpus_pieces_from(draw: int, count: int, tokens_per_piece: int) -> Iterator[tuple[str, int]]:
    """:func:`corpus_pieces` from the sentence a random ``draw`` (any int >= 0) picks.

    Each piece is joined from slices of the corpus, a loop in C, where yielding token by token cost a
    Python step per token (a tenth of the emulator's CPU in a 10,000-job batch, measured 2026-12-02).
    """
    if count <= 0:
        return
    tokens, starts = _corpus()
    size = len(tokens)
    position = starts[draw % len(starts)]
    for offset in range(0, count, tokens_per_piece):
        taken = min(tokens_per_piece, count - offset)
        text = "".join(_cyclic_slice(tokens, position, taken))
        position = (position + taken) % size
        yield (text.lstrip(" ") if offset == 0 else text), taken


def _cyclic_slice(tokens: tuple[str, ...], begin: int, count: int) -> list[str] | tuple[str, ...]:
    """``count`` tokens from ``begin``, going round past the end as often as needed."""
    if begin + count <= len(tokens):
        return tokens[begin : begin + count]
    parts: list[str] = []
    while count > 0:
        chunk = tokens[begin : begin + count]
        parts.extend(chunk)
        count -= len(chunk)
        begin = 0
    return parts


class StopScanner:
    """Cuts a text stream where the first completed stop sequence starts.

    Feed pieces in order; each call returns the text that is now safe to emit. After a stop sequence is
    found, :attr:`stopped` is true and nothing more is emitted; call :meth:`flush` at the end of the
    stream to release the held-back tail when no stop sequence came.
    """

    __slots__ = ("_stops", "_hold", "_pending", "stopped")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = tuple(s for s in stops if s)
        self._hold = max((len(s) for s in self._stops), default=1) - 1
        self._pending = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """Add a piece; return what can be emitted now (possibly empty)."""
        if self.stopped:
            return ""
        if not self._stops:
            return piece
        pending = self._pending + piece
        # The model stops when a stop sequence is complete, so the one that *ends* first wins (on a tie, the
        # longer one, which starts first); the answer is cut where it starts.
        cut = -1
        first_end = 0
        for stop in self._stops:
            index = pending.find(stop)
            if index != -1:
                end = index + len(stop)
                if cut == -1 or end < first_end or (end == first_end and index < cut):
                    cut, first_end = index, end
        if cut != -1:
            self.stopped = True
            self._pending = ""
            return pending[:cut]
        if self._hold and len(pending) > self._hold:
            self._pending = pending[-self._hold :]
            return pending[: -self._hold]
        if self._hold:
            self._pending = pending
            return ""
        return pending

    def flush(self) -> str:
        """The held-back tail (no stop sequence followed it)."""
        tail, self._pending = self._pending, ""
        return "" if self.stopped else tail
