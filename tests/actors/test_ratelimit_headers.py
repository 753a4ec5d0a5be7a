"""Groq's x-ratelimit-* headers: one reader (both budgets) and one writer (the emulator), round-tripping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors._ratelimit_headers import RateLimitReport, ReportedWindow, rate_limit_header_pairs, read_rate_limit_headers


def test_groqs_headers_are_read_by_window() -> None:
    report = read_rate_limit_headers({
        "X-RateLimit-Limit-Requests": "14400",
        "x-ratelimit-limit-tokens": "18000",
        "x-ratelimit-remaining-requests": "14370",
        "x-ratelimit-remaining-tokens": "17997",
        "x-ratelimit-reset-requests": "2m59.56s",
        "x-ratelimit-reset-tokens": "7.66s",
        "x-request-id": "req_1",
    })
    assert report == RateLimitReport(ReportedWindow(14400, 14370, 179.56), ReportedWindow(18000, 17997, 7.66))
    assert report.windows() == (("rpd", report.requests), ("tpm", report.tokens))


def test_garbage_is_dropped_not_raised() -> None:
    report = read_rate_limit_headers({"x-ratelimit-limit-tokens": "lots", "x-ratelimit-remaining-tokens": "-3",
                                      "x-ratelimit-reset-tokens": "soon", "x-ratelimit-limit-requests": " 7 "})
    assert report == RateLimitReport(ReportedWindow(limit=7), ReportedWindow())
    assert report.tokens.empty and not report.requests.empty


def test_no_ratelimit_header_means_no_report() -> None:
    assert read_rate_limit_headers({"content-type": "application/json"}) is None


counts = st.none() | st.integers(0, 10**9)
resets = st.none() | st.integers(0, 10**6).map(lambda ms: ms / 1000)
windows = st.builds(ReportedWindow, counts, counts, resets)


@given(st.builds(RateLimitReport, windows, windows))
def test_what_the_writer_says_the_reader_reads(report: RateLimitReport) -> None:
    pairs = rate_limit_header_pairs(report)
    read = read_rate_limit_headers(dict(pairs))
    if not pairs:
        assert read is None
        return
    assert read is not None
    for mine, theirs in zip((report.requests, report.tokens), (read.requests, read.tokens)):
        assert (theirs.limit, theirs.remaining) == (mine.limit, mine.remaining)
        assert (theirs.reset is None) == (mine.reset is None)
        if mine.reset is not None:
            assert abs(theirs.reset - mine.reset) <= 0.01  # Go durations are written to the hundredth


def test_the_writer_keeps_groqs_order() -> None:
    pairs = rate_limit_header_pairs(RateLimitReport(ReportedWindow(1, 2, 3.0), ReportedWindow(4, 5, 0.5)))
    assert [name for name, _ in pairs] == [
        "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-requests",
        "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests", "x-ratelimit-reset-tokens",
    ]
    assert dict(pairs)["x-ratelimit-reset-tokens"] == "500ms"
