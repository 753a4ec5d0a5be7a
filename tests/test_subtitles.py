"""Tests for SubRip and WebVTT rendering of verbose_json segments."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator._subtitles import format_timestamp, to_srt, to_vtt
from orchestrator._wire import Segment

SEGMENTS = [
    Segment(id=0, start=0.0, end=1.5, text=" Hello there."),
    Segment(id=1, start=1.5, end=3723.0456, text=" General Kenobi."),
]


class TestFormatTimestamp:
    @pytest.mark.parametrize(
        ("seconds", "srt", "vtt"),
        [
            (0, "00:00:00,000", "00:00:00.000"),
            (1.5, "00:00:01,500", "00:00:01.500"),
            (59.9996, "00:01:00,000", "00:01:00.000"),
            (3723.0456, "01:02:03,046", "01:02:03.046"),
            (100 * 3600 + 0.001, "100:00:00,001", "100:00:00.001"),
        ],
    )
    def test_exact_formatting(self, seconds: float, srt: str, vtt: str) -> None:
        """Timestamps round to the millisecond and carry the format's decimal marker."""
        assert (format_timestamp(seconds, decimal_marker=","), format_timestamp(seconds, decimal_marker=".")) == (srt, vtt)

    @pytest.mark.parametrize("bad", [-0.001, math.nan, math.inf])
    def test_rejects_impossible_times(self, bad: float) -> None:
        """Negative and non-finite times raise ValueError naming the value."""
        with pytest.raises(ValueError, match="finite, non-negative"):
            format_timestamp(bad, decimal_marker=",")


class TestSrt:
    def test_exact_file(self) -> None:
        """Two segments render as two numbered SubRip cues with comma milliseconds."""
        assert to_srt(SEGMENTS) == (
            "1\n00:00:00,000 --> 00:00:01,500\nHello there.\n\n"
            "2\n00:00:01,500 --> 01:02:03,046\nGeneral Kenobi.\n"
        )

    def test_accepts_decoded_dicts(self) -> None:
        """Plain dicts from decoded JSON render like Segment structs."""
        assert to_srt([{"start": 0.0, "end": 1.5, "text": " Hello there."}]) == to_srt(SEGMENTS[:1])

    def test_blank_segments_are_skipped_and_numbering_stays_dense(self) -> None:
        """A whitespace-only segment writes no cue and the next cue is numbered 2, not 3."""
        segments = [SEGMENTS[0], Segment(start=1.5, end=2.0, text="   "), SEGMENTS[1]]
        assert to_srt(segments) == to_srt(SEGMENTS)

    def test_blank_lines_inside_text_collapse(self) -> None:
        """Blank lines inside a segment's text are dropped so the cue is not cut short."""
        assert to_srt([Segment(start=0, end=1, text="one\r\n\r\n two \n")]) == "1\n00:00:00,000 --> 00:00:01,000\none\ntwo\n"

    def test_empty_input_gives_empty_file(self) -> None:
        """No segments give an empty SubRip file."""
        assert to_srt([]) == ""

    def test_end_before_start_names_the_segment(self) -> None:
        """A segment ending before it starts raises ValueError with its index."""
        with pytest.raises(ValueError, match="segment 1: end=1.0 is before start=2.0"):
            to_srt([SEGMENTS[0], Segment(start=2.0, end=1.0, text="x")])

    def test_missing_time_in_dict_names_the_segment(self) -> None:
        """A dict segment without ``end`` raises ValueError naming the segment and the key."""
        with pytest.raises(ValueError, match="segment 0: has no 'end' time"):
            to_srt([{"start": 0.0, "text": "x"}])

    def test_non_numeric_time_is_refused(self) -> None:
        """A string time raises ValueError rather than rendering garbage."""
        with pytest.raises(ValueError, match="must be numbers"):
            to_srt([{"start": "0", "end": 1.0, "text": "x"}])

    def test_negative_time_is_refused(self) -> None:
        """A negative start raises ValueError naming the field."""
        with pytest.raises(ValueError, match="start=-1"):
            to_vtt([{"start": -1, "end": 1.0, "text": "x"}])


class TestVtt:
    def test_exact_file(self) -> None:
        """Two segments render under a WEBVTT header with dot milliseconds and no cue numbers."""
        assert to_vtt(SEGMENTS) == (
            "WEBVTT\n\n"
            "00:00:00.000 --> 00:00:01.500\nHello there.\n\n"
            "00:00:01.500 --> 01:02:03.046\nGeneral Kenobi.\n"
        )

    def test_escapes_markup_and_arrows(self) -> None:
        """Ampersands, angle brackets and ``-->`` in cue text are escaped."""
        out = to_vtt([Segment(start=0, end=1, text="a < b & c --> d")])
        assert out.endswith("a &lt; b &amp; c --&gt; d\n") and out.count("-->") == 1

    def test_empty_input_is_just_the_header(self) -> None:
        """No segments give a file with only the WEBVTT header."""
        assert to_vtt([]) == "WEBVTT\n"


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30).filter(
    lambda t: t.strip() != ""
)
_TIMES = st.lists(st.tuples(st.floats(0, 360_000, allow_nan=False), st.floats(0, 60, allow_nan=False), _TEXT), max_size=8)
_SRT_TIME = re.compile(r"(\d{2,}):(\d{2}):(\d{2}),(\d{3}) --> (\d{2,}):(\d{2}):(\d{2}),(\d{3})")


def _seconds(h: str, m: str, s: str, ms: str) -> int:
    return ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


@given(_TIMES)
def test_srt_times_round_trip_to_the_millisecond(rows: list[tuple[float, float, str]]) -> None:
    """Parsing the SubRip time lines back gives every segment's times rounded to the millisecond."""
    segments = [Segment(start=start, end=start + length, text=text) for start, length, text in rows]
    parsed = [m.groups() for m in _SRT_TIME.finditer(to_srt(segments))]
    assert [(_seconds(*g[:4]), _seconds(*g[4:])) for g in parsed] == [
        (round(s.start * 1000), round(s.end * 1000)) for s in segments
    ]


@given(_TIMES)
def test_vtt_has_one_cue_per_segment(rows: list[tuple[float, float, str]]) -> None:
    """Every non-blank segment becomes exactly one WebVTT cue, in order, and cues never contain a blank line."""
    segments = [Segment(start=start, end=start + length, text=text) for start, length, text in rows]
    body = to_vtt(segments)
    cues = body.split("\n\n")[1:]
    assert body.startswith("WEBVTT\n") and len(cues) == len(segments)
    assert all(cue.count("-->") == 1 for cue in cues)
