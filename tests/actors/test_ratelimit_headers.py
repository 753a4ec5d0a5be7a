"""Groq's x-ratelimit-* headers: one reader (both budgets) and one writer (the emulator), round-tripping."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors._ratelimit_headers import (
    RateLimitReport,
    ReportedWindow,
    rate_limit_header_pairs,
    read_rate_limit_headers,
    read_rate_limit_pairs,
)


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
    assert read_rate_limit_headers({"x-ratelimit-limit-audio-seconds": "7200"}) is None  # none of Groq's six
    assert read_rate_limit_pairs([(b"content-type", b"application/json")]) is None


names = st.sampled_from([
    f"x-ratelimit-{field}-{kind}" for field in ("limit", "remaining", "reset") for kind in ("requests", "tokens")
] + ["x-request-id", "x-ratelimit-limit-audio-seconds", "content-type"])
values = st.one_of(st.integers(-5, 10**12).map(str), st.sampled_from(["7.66s", "2m59.56s", "940ms", " 12 ", "soon", ""]))


@given(st.dictionaries(names, st.tuples(values, st.sampled_from([str.lower, str.upper, str.title]))))
def test_raw_pairs_read_as_the_mapping_does(headers: dict[str, tuple[str, object]]) -> None:
    """The worker's reader of httpx's raw bytes and the Mapping reader agree, whatever the names' case."""
    pairs = [(spell(name), value) for name, (value, spell) in headers.items()]  # type: ignore[operator]
    raw = [(name.encode(), value.encode()) for name, value in pairs]
    assert read_rate_limit_pairs(raw) == read_rate_limit_headers(dict(pairs))
