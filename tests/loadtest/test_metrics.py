"""The pure parts of ``groq-orch bench``: percentiles, TPOT, goodput, tokens per minute, flags and request shapes."""

from __future__ import annotations

import math
import random
from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.loadtest import _metrics as metrics
from orchestrator.loadtest._metrics import (
    EXACT_LIMIT,
    MAX_ERROR_KINDS,
    RELATIVE_ACCURACY,
    SLO,
    Distribution,
    Goodput,
    LevelStats,
    RequestRecord,
    per_minute,
    rate,
    time_per_output_token,
)
from orchestrator.loadtest._plan import (
    MIN_PROMPT_TOKENS,
    BenchPlan,
    LengthSpec,
    PlanError,
    build_prompt,
    interarrival,
    parse_length,
    parse_levels,
    parse_slo,
    parse_time,
)
from orchestrator._tokens import estimate_prompt_tokens
from orchestrator._wire import chat_request_from


def distribution(values: list[float]) -> Distribution:
    result = Distribution()
    for value in values:
        result.add(value)
    return result


def record(**fields: object) -> RequestRecord:
    base: dict[str, object] = {"level": 1, "index": 0, "start_s": 0.0, "ok": True}
    return RequestRecord(**{**base, **fields})  # type: ignore[arg-type]


def plan(**changes: object) -> BenchPlan:
    fields: dict[str, object] = {
        "model": "openai/gpt-oss-20b", "mode": "concurrency", "levels": (1, 2), "requests": 3, "duration": None,
        "prompt_tokens": LengthSpec(100, 30.0), "output_tokens": LengthSpec(50, 20.0),
        "context_window": 1000, "max_completion_tokens": 80,
    }
    return BenchPlan(**{**fields, **changes})  # type: ignore[arg-type]


class TestDistribution:
    def test_exact_percentiles_interpolate_like_numpy(self) -> None:
        """While exact, p50/p90/p99 interpolate linearly between closest ranks."""
        values = distribution([40.0, 0.0, 30.0, 10.0, 20.0])
        assert [values.quantile(q) for q in (0.0, 0.25, 0.5, 0.9, 0.99, 1.0)] == pytest.approx(
            [0.0, 10.0, 20.0, 36.0, 39.6, 40.0], rel=1e-12)

    def test_summary_has_exact_moments(self) -> None:
        """Count, mean, min, max and the three percentiles come out of one summary."""
        summary = distribution([1.0, 2.0, 3.0, 4.0]).summary()
        assert (summary.count, summary.mean, summary.min, summary.max, summary.p50) == (4, 2.5, 1.0, 4.0, 2.5)

    def test_empty_summary_is_all_none(self) -> None:
        """With no values every statistic but the count is None."""
        assert distribution([]).summary() == metrics.Percentiles(0, None, None, None, None, None, None)

    def test_switches_to_buckets_past_the_limit(self) -> None:
        """One value past EXACT_LIMIT, the distribution stops keeping values and stays within accuracy."""
        values = [float(i + 1) for i in range(EXACT_LIMIT + 1)]
        result = distribution(values)
        p50 = result.quantile(0.5)
        assert (result.exact, abs(p50 - 2049.0) <= RELATIVE_ACCURACY * 2049.0, result.mean) == (
            False, True, (EXACT_LIMIT + 2) / 2)

    def test_bucketed_constant_is_exact(self) -> None:
        """Clamping to the observed min and max makes a constant metric exact even in buckets."""
        result = distribution([0.03] * (EXACT_LIMIT + 5))
        assert (result.quantile(0.5), result.quantile(0.99)) == (0.03, 0.03)

    def test_bucketed_zeros_answer_zero(self) -> None:
        """Gaps of zero (chunks from one network read) fall in the zero bucket and answer 0."""
        result = distribution([0.0] * (EXACT_LIMIT + 1) + [1.0])
        assert (result.quantile(0.5), result.quantile(1.0)) == (0.0, 1.0)

    @given(st.lists(st.floats(min_value=1e-6, max_value=1e4), min_size=1, max_size=200),
           st.floats(min_value=0.0, max_value=1.0))
    def test_buckets_stay_within_relative_accuracy(self, values: list[float], q: float) -> None:
        """In bucket mode any quantile is within RELATIVE_ACCURACY of the value at that rank."""
        with mock.patch.object(metrics, "EXACT_LIMIT", 0):
            result = distribution(values)
        exact = sorted(values)[math.floor(q * (len(values) - 1))]
        answer = result.quantile(q)
        assert answer is not None and abs(answer - exact) <= exact * (RELATIVE_ACCURACY + 1e-9)

    @pytest.mark.parametrize("bad", [-1.0, math.inf, math.nan])
    def test_rejects_values_that_are_not_durations(self, bad: float) -> None:
        """Negative, infinite and NaN values raise, naming the value."""
        with pytest.raises(ValueError, match="finite number >= 0"):
            Distribution().add(bad)

    def test_rejects_q_outside_unit_interval(self) -> None:
        """A quantile outside [0, 1] is refused."""
        with pytest.raises(ValueError, match="between 0 and 1"):
            distribution([1.0]).quantile(1.5)

    def test_cdf_runs_from_min_to_max(self) -> None:
        """The CDF has the asked number of points, from (min, 0) to (max, 1)."""
        curve = distribution([3.0, 1.0, 2.0]).cdf(5)
        assert (len(curve), curve[0], curve[-1]) == (5, (1.0, 0.0), (3.0, 1.0))


class TestFormulas:
    def test_tpot_excludes_the_first_token(self) -> None:
        """TPOT is (e2e - ttft) / (tokens - 1)."""
        assert time_per_output_token(1.0, 0.2, 5) == pytest.approx(0.2, rel=1e-12)

    @pytest.mark.parametrize(("ttft", "tokens"), [(None, 10), (0.1, 1), (0.1, 0)])
    def test_tpot_undefined(self, ttft: float | None, tokens: int) -> None:
        """Without a first token, or with fewer than two tokens, TPOT is None."""
        assert time_per_output_token(1.0, ttft, tokens) is None

    def test_rate_and_empty_interval(self) -> None:
        """A rate divides by the seconds; an empty interval has none."""
        assert (rate(10, 4.0), rate(3, 0.0)) == (2.5, None)

    def test_per_minute_is_a_sliding_window(self) -> None:
        """Each sample counts what was added in the minute up to it (everything so far, early on)."""
        assert per_minute([0, 30, 60, 90, 120], [0, 100, 200, 300, 400]) == [0, 100, 200, 200, 200]

    def test_per_minute_scales_short_windows(self) -> None:
        """A 30 s window is scaled to a minute."""
        assert per_minute([0, 30, 60], [0, 100, 150], window=30) == [0, 200, 100]

    def test_per_minute_needs_matching_lengths(self) -> None:
        """Times and totals must pair up."""
        with pytest.raises(ValueError, match="same length"):
            per_minute([0, 1], [0])


class TestSLO:
    @pytest.mark.parametrize(("ok", "ttft", "tpot", "e2e", "met"), [
        (True, 0.4, 0.01, 4.0, True),
        (False, 0.4, 0.01, 4.0, False),
        (True, 0.6, 0.01, 4.0, False),
        (True, None, None, 4.0, False),
        (True, 0.4, 0.03, 4.0, False),
        (True, 0.4, None, 4.0, True),
        (True, 0.4, 0.01, 5.5, False),
    ])
    def test_met_by(self, ok: bool, ttft: float | None, tpot: float | None, e2e: float, met: bool) -> None:
        """Every set bound must hold, a failure never counts, and a missing TPOT is not held against it."""
        slo = SLO(ttft=0.5, tpot=0.02, e2e=5.0)
        assert slo.met_by(ok=ok, ttft=ttft, tpot=tpot, e2e=e2e) is met

    def test_describe_uses_flag_units(self) -> None:
        """Sub-second bounds print in ms, others in s."""
        assert SLO(ttft=0.5, e2e=5.0).describe() == "ttft<=500ms, e2e<=5s"


class TestLevelStats:
    def test_summary_counts_throughput_and_goodput(self) -> None:
        """Completed requests feed tokens and latencies; failures are counted by kind; goodput uses the SLO flags."""
        stats = LevelStats(4, SLO(ttft=1.0))
        stats.add(record(prompt_tokens=10, output_tokens=20, ttft_s=0.5, e2e_s=1.0, slo_met=True, rate_limited=1,
                         throttled_s=2.0))
        stats.add(record(prompt_tokens=10, output_tokens=40, ttft_s=1.5, e2e_s=2.0, slo_met=False, capacity_exceeded=2))
        stats.add(record(ok=False, error_kind="500 internal_server_error", slo_met=False, throttled_s=1.0))
        stats.add_itl(0.25)
        summary = stats.summary(duration=2.0, retries=3)
        assert (summary.completed, summary.failed, summary.errors, summary.input_tokens, summary.output_tokens,
                summary.request_throughput, summary.output_token_throughput, summary.total_token_throughput,
                summary.goodput, summary.rate_limited, summary.capacity_exceeded, summary.retries,
                summary.throttled_s, summary.ttft_s.p50, summary.itl_s.max) == (
            2, 1, {"500 internal_server_error": 1}, 20, 60, 1.0, 30.0, 40.0, Goodput(1, 1 / 3, 0.5), 1, 2, 3,
            3.0, 1.0, 0.25)

    def test_no_slo_no_goodput(self) -> None:
        """Without an SLO the summary has no goodput."""
        stats = LevelStats(1, None)
        stats.add(record())
        assert stats.summary(duration=1.0, retries=0).goodput is None

    def test_error_kinds_are_bounded(self) -> None:
        """Past MAX_ERROR_KINDS distinct kinds, the rest are counted as other."""
        stats = LevelStats(1, None)
        for number in range(MAX_ERROR_KINDS + 5):
            stats.add(record(ok=False, error_kind=f"kind {number}"))
        errors = stats.summary(duration=1.0, retries=0).errors
        assert (len(errors), errors["other"]) == (MAX_ERROR_KINDS + 1, 5)

    def test_failed_requests_stay_out_of_latency(self) -> None:
        """Only completed requests count in the latency distributions."""
        stats = LevelStats(1, None)
        stats.add(record(ok=False, error_kind="x", e2e_s=9.0))
        stats.add(record(e2e_s=1.0))
        assert stats.summary(duration=1.0, retries=0).e2e_s.max == 1.0


class TestFlagParsing:
    @pytest.mark.parametrize(("text", "expected"), [("256", LengthSpec(256)), ("256:64", LengthSpec(256, 64.0)),
                                                     (" 8 :0.5", LengthSpec(8, 0.5))])
    def test_length(self, text: str, expected: LengthSpec) -> None:
        """MEAN[:STD] parses into a LengthSpec."""
        assert parse_length(text) == expected

    @pytest.mark.parametrize(("text", "message"), [("abc", "MEAN"), ("0", ">= 1"), ("10:-1", "STD"),
                                                   ("10:nan", "STD"), ("1.5", "MEAN")])
    def test_bad_length(self, text: str, message: str) -> None:
        """A bad length names the text and the expected form."""
        with pytest.raises(ValueError, match=message):
            parse_length(text)

    def test_levels(self) -> None:
        """Concurrencies are integers, rates floats."""
        assert (parse_levels("1, 2,8", integer=True), parse_levels("0.5,2", integer=False)) == ((1, 2, 8), (0.5, 2.0))

    @pytest.mark.parametrize(("text", "integer"), [("1,x", True), ("0", True), ("1.5", True), ("20000", True),
                                                   ("-1", False), ("inf", False), ("", False)])
    def test_bad_levels(self, text: str, integer: bool) -> None:
        """A bad level is named in the error."""
        with pytest.raises(ValueError, match="is not"):
            parse_levels(text, integer=integer)

    @pytest.mark.parametrize(("text", "seconds"), [("500ms", 0.5), ("5s", 5.0), ("1.5s", 1.5), ("2m", 120.0),
                                                   (".25s", 0.25)])
    def test_time(self, text: str, seconds: float) -> None:
        """Durations need a unit: ms, s or m."""
        assert parse_time(text) == seconds

    @pytest.mark.parametrize("text", ["5", "5h", "fast", ""])
    def test_bad_time(self, text: str) -> None:
        """A duration without a known unit is refused with an example."""
        with pytest.raises(ValueError, match="500ms"):
            parse_time(text)

    def test_slo(self) -> None:
        """Any of ttft, tpot and e2e, each with a unit."""
        assert parse_slo("ttft=500ms, E2E=5s") == SLO(ttft=0.5, e2e=5.0)

    @pytest.mark.parametrize(("text", "message"), [("foo=1s", "'foo=1s'"), ("ttft=1s,ttft=2s", "twice"),
                                                   ("ttft=0ms", "more than 0"), ("ttft", "'ttft'"),
                                                   ("e2e=5", "unit")])
    def test_bad_slo(self, text: str, message: str) -> None:
        """A bad SLO part is named."""
        with pytest.raises(ValueError, match=message):
            parse_slo(text)


class TestRequests:
    @pytest.mark.parametrize("tokens", [MIN_PROMPT_TOKENS, 6, 30, 128, 4096])
    def test_prompt_has_exact_estimated_length(self, tokens: int) -> None:
        """A built prompt costs exactly the asked tokens in the client's (and emulator's) estimate."""
        request = chat_request_from({"model": "m", "messages": [{"role": "user", "content": build_prompt(tokens, "t")}]})
        assert estimate_prompt_tokens(request) == tokens

    def test_prompt_starts_with_its_tag(self) -> None:
        """The unique tag leads, so no prompt cache can serve two requests."""
        assert build_prompt(64, "bench 0-1-2").startswith("[bench 0-1-2] ")

    def test_prompt_below_minimum(self) -> None:
        """Fewer tokens than one message's overhead plus one is refused."""
        with pytest.raises(ValueError, match="at least"):
            build_prompt(MIN_PROMPT_TOKENS - 1, "t")

    def test_interarrival(self) -> None:
        """Constant gaps are 1/rate; Poisson gaps are the generator's exponential draws."""
        assert (interarrival(random.Random(1), 4.0, "constant"), interarrival(random.Random(1), 4.0, "poisson")) == (
            0.25, random.Random(1).expovariate(4.0))

    def test_shapes_are_reproducible_and_clamped(self) -> None:
        """The same (level, index) always draws the same lengths, within the model's limits."""
        shapes = [plan().shape(level, index) for level in (0, 1) for index in range(200)]
        assert (shapes[:5] == [plan().shape(0, index) for index in range(5)],
                all(1 <= out <= 80 and MIN_PROMPT_TOKENS <= prompt <= 1000 - out for prompt, out in shapes),
                len(set(shapes)) > 20) == (True, True, True)

    def test_body_is_a_streamed_request(self) -> None:
        """The request streams, asks for the drawn output length and carries a prompt of the drawn length."""
        request, prompt, output = plan().body(1, 7)
        parsed = chat_request_from(request)
        assert (request["stream"], request["max_completion_tokens"], estimate_prompt_tokens(parsed)) == (
            True, output, prompt)

    @pytest.mark.parametrize(("changes", "flag"), [
        ({"output_tokens": LengthSpec(100)}, "--output-tokens"),
        ({"prompt_tokens": LengthSpec(960)}, "--prompt-tokens"),
        ({"duration": 5.0}, "--requests"),
    ])
    def test_plan_refuses_what_cannot_run(self, changes: dict[str, object], flag: str) -> None:
        """Lengths beyond the model's limits, or both stop rules, are refused naming a flag."""
        with pytest.raises(PlanError) as info:
            plan(**changes)
        assert info.value.flag == flag

    def test_workers(self) -> None:
        """The client needs the largest concurrency, or the rate mode's cap, in flight."""
        assert (plan(levels=(1, 8, 2)).workers, plan(mode="rate", levels=(2.0,), max_concurrency=32).workers) == (8, 32)
