"""Filler text generation and incremental stop-sequence cutting."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from orchestrator.emulator._textgen import StopScanner, _corpus, corpus_pieces, corpus_pieces_from, generate_tokens


def corpus_tokens(rng: random.Random, count: int) -> list[str]:
    """The corpus read one token to a piece."""
    return [piece for piece, _ in corpus_pieces(rng, count, 1)]


def cut(text: str, stops: list[str]) -> str:
    """The reference answer: text up to the start of the stop sequence completed first (longer one on a tie)."""
    hits = [(text.find(stop) + len(stop), text.find(stop)) for stop in stops if stop and stop in text]
    return text[: min(hits)[1]] if hits else text


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet="ab .\n", max_size=60),
    stops=st.lists(st.text(alphabet="ab .\n", max_size=4), max_size=4),
    splits=st.lists(st.integers(min_value=0, max_value=60), max_size=10),
)
def test_any_split_cuts_before_the_first_stop(text: str, stops: list[str], splits: list[int]) -> None:
    """However the text is split into pieces, the output is cut where the first completed stop sequence starts."""
    bounds = sorted({0, len(text), *(min(s, len(text)) for s in splits)})
    scanner = StopScanner(stops)
    out = "".join(scanner.feed(text[a:b]) for a, b in zip(bounds, bounds[1:]))
    out += scanner.flush()
    assert out == cut(text, stops)


def test_stopped_scanner_emits_nothing_more() -> None:
    """After a stop sequence, feeding more text and flushing yield nothing."""
    scanner = StopScanner(["END"])
    assert (scanner.feed("abcEN"), scanner.feed("Dxyz"), scanner.feed("more"), scanner.flush()) == ("abc", "", "", "")
    assert scanner.stopped


def test_tokens_are_deterministic_and_counted() -> None:
    """The same seed gives the same tokens, exactly as many as asked, forming sentences."""
    first = list(generate_tokens(random.Random(5), 200))
    again = list(generate_tokens(random.Random(5), 200))
    assert first == again and len(first) == 200 and "." in first and first[0][0].isupper()


class TestCorpus:
    def test_a_completion_is_count_tokens_from_the_start_of_a_sentence(self) -> None:
        for seed in range(50):
            tokens = list(corpus_tokens(random.Random(seed), 40))
            assert len(tokens) == 40
            assert tokens[0][0].isupper() and not tokens[0].startswith((" ", "\n"))

    def test_the_same_generator_state_gives_the_same_text(self) -> None:
        assert list(corpus_tokens(random.Random("a"), 500)) == list(corpus_tokens(random.Random("a"), 500))
        assert list(corpus_tokens(random.Random("a"), 500)) != list(corpus_tokens(random.Random("b"), 500))

    def test_a_completion_longer_than_the_corpus_cycles_through_it(self) -> None:
        tokens = list(corpus_tokens(random.Random(7), 150_000))
        assert len(tokens) == 150_000
        assert tokens[1 + 65_536 : 1 + 65_536 + 100] == tokens[1:101]

    def test_nothing_is_asked_for_nothing(self) -> None:
        assert list(corpus_tokens(random.Random(0), 0)) == []


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    draw=st.integers(min_value=0, max_value=2**32),
    count=st.integers(min_value=0, max_value=140_000),
    per_piece=st.sampled_from([1, 2, 5, 64, 1_000, 65_535, 65_536, 70_000, 1 << 30]),
)
def test_pieces_are_the_corpus_read_token_by_token(draw: int, count: int, per_piece: int) -> None:
    """Joined slices give exactly the corpus's tokens from the drawn sentence, round its end, first one unspaced."""
    tokens, starts = _corpus()
    start = starts[draw % len(starts)]
    pieces = list(corpus_pieces_from(draw, count, per_piece))
    assert [size for _, size in pieces] == [min(per_piece, count - at) for at in range(0, count, per_piece)]
    for index, (text, size) in enumerate(pieces[:3]):
        offset = index * per_piece
        expected = "".join(tokens[(start + offset + k) % len(tokens)] for k in range(size))
        assert text == (expected.lstrip(" ") if index == 0 else expected)
    if pieces:
        last_offset = (len(pieces) - 1) * per_piece
        last = "".join(tokens[(start + last_offset + k) % len(tokens)] for k in range(pieces[-1][1]))
        assert pieces[-1][0] == (last.lstrip(" ") if len(pieces) == 1 else last)
