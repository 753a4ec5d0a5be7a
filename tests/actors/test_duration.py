"""Go durations as Groq writes them in x-ratelimit-reset-* headers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors._duration import _DURATION, _TERM, _UNIT_SECONDS, format_go_duration, parse_go_duration


class TestParse:
    @pytest.mark.parametrize(
        ("text", "seconds"),
        [
            ("2m59.56s", 179.56),
            ("7.66s", 7.66),
            ("940ms", 0.94),
            ("1h2m3s", 3723.0),
            ("6m0s", 360.0),
            ("0s", 0.0),
            ("100us", 1e-4),
            ("100\u00b5s", 1e-4),
            ("100\u03bcs", 1e-4),
            ("250ns", 2.5e-7),
            ("1.5h", 5400.0),
            ("1h0m0.5s", 3600.5),
            ("50.597142857s", 50.597142857),
            (".5s", 0.5),
            ("3.s", 3.0),
            ("-1m30s", -90.0),
            ("+2s", 2.0),
        ],
    )
    def test_go_durations(self, text: str, seconds: float) -> None:
        """Every unit Go prints, alone or combined, is read as seconds."""
        assert parse_go_duration(text) == pytest.approx(seconds, abs=1e-12)

    @pytest.mark.parametrize(("text", "seconds"), [("2", 2.0), ("0", 0.0), ("1.25", 1.25), (" 7.66s ", 7.66)])
    def test_bare_numbers_are_seconds(self, text: str, seconds: float) -> None:
        """A bare number (as in retry-after) means seconds, and surrounding spaces are ignored."""
        assert parse_go_duration(text) == seconds

    @pytest.mark.parametrize(
        "text",
        ["", "s", "abc", "5x", "1h 2m", "1.2.3s", "inf", "nan", "1e3s", "m5", "--1s", "5 s", "1hh", "ms",
         "infs", "nanms", "1_0s", "\u00b2s", "1.2.3ms", ".ms"],
    )
    def test_garbage_raises_naming_the_text(self, text: str) -> None:
        """Anything that is not a duration raises ValueError quoting the text."""
        with pytest.raises(ValueError, match="not a Go duration") as info:
            parse_go_duration(text)
        assert repr(text) in str(info.value)


    @given(
        st.from_regex(r"\A[+-]?(\d{1,6}(\.\d{0,4})?|\.\d{1,4})(ms|s)\Z", fullmatch=True)
        | st.from_regex(r"\A[0-9.]{1,6}(ms|s|m)\Z", fullmatch=True)
    )
    def test_the_shortcut_for_one_term_agrees_with_the_grammar(self, text: str) -> None:
        """"7.66s" and "86.4ms" skip the regex: whatever such a text is, the answer is the grammar's."""
        match = _DURATION.fullmatch(text)
        if match is None:
            with pytest.raises(ValueError):
                parse_go_duration(text)
            return
        seconds = math.fsum(float(number) * _UNIT_SECONDS[unit] for number, unit in _TERM.findall(match.group(2)))
        assert parse_go_duration(text) == (-seconds if match.group(1) == "-" else seconds)


class TestFormat:
    @pytest.mark.parametrize(
        ("seconds", "text"),
        [
            (179.56, "2m59.56s"),
            (7.66, "7.66s"),
            (0.94, "940ms"),
            (3723.0, "1h2m3s"),
            (360.0, "6m0s"),
            (3600.0, "1h0m0s"),
            (0.0, "0s"),
            (1.5, "1.5s"),
            (59.5, "59.5s"),
            (3.0, "3s"),
            (0.0005, "0.5ms"),
            (0.00001, "0.01ms"),
            (0.000001, "0s"),
            (0.999999, "1s"),
            (0.99499, "994.99ms"),
            (0.995, "1s"),
            (59.999, "1m0s"),
            (-90.0, "-1m30s"),
            (-0.000001, "0s"),
            (86400.0, "24h0m0s"),
        ],
    )
    def test_groq_style(self, seconds: float, text: str) -> None:
        """Seconds are written with Groq's units, two decimals at most, trailing zeros stripped."""
        assert format_go_duration(seconds) == text

    @pytest.mark.parametrize("seconds", [float("nan"), float("inf"), float("-inf")])
    def test_non_finite_raises(self, seconds: float) -> None:
        """NaN and infinities are not durations."""
        with pytest.raises(ValueError, match="finite"):
            format_go_duration(seconds)

    @given(st.floats(min_value=0, max_value=1e6, allow_nan=False))
    def test_round_trip_within_10_ms(self, seconds: float) -> None:
        """Parsing a formatted duration gives back the seconds to within 10 ms."""
        assert abs(parse_go_duration(format_go_duration(seconds)) - seconds) <= 0.01

    @given(st.integers(min_value=0, max_value=10**8))
    def test_hundredths_round_trip_exactly(self, hundredths: int) -> None:
        """Whole hundredths of a second survive format-then-parse to float precision."""
        seconds = hundredths / 100
        assert parse_go_duration(format_go_duration(seconds)) == pytest.approx(seconds, abs=1e-9)
