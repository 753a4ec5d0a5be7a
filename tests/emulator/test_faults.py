"""Fault specs: the rule language and the deterministic planner."""

from __future__ import annotations

import pytest

from orchestrator.emulator._faults import FaultPlan, FaultRule, parse_fault


def fired(plan: FaultPlan, count: int, *, model: str = "m", now: float = 0.0, streaming: bool = False) -> list[int]:
    """Request numbers (1-based) on which the plan injects a fault."""
    return [
        n
        for n in range(1, count + 1)
        if plan.decide(model=model, now=now, request_number=n, streaming=streaming) is not None
    ]


class TestParse:
    @pytest.mark.parametrize(
        ("spec", "rule"),
        [
            ("503:p=0.1", FaultRule(kind="503", probability=0.1)),
            (
                "reset:p=0.05,model=openai/gpt-oss-20b",
                FaultRule(kind="reset", probability=0.05, model="openai/gpt-oss-20b"),
            ),
            ("drop-mid-stream:every=10", FaultRule(kind="drop-mid-stream", every=10)),
            ("500:burst=5,after=20", FaultRule(kind="500", burst=5, after=20)),
            ("498:p=0.2,from=10s,to=20s", FaultRule(kind="498", probability=0.2, start=10.0, end=20.0)),
            ("malformed-sse:p=0.5,chunk=4", FaultRule(kind="malformed-sse", probability=0.5, chunk=4)),
            ("slow:p=1,bytes_per_s=50", FaultRule(kind="slow", probability=1.0, bytes_per_s=50.0)),
            ("drop-mid-stream:chunks=0", FaultRule(kind="drop-mid-stream", chunks=0)),
            ("502", FaultRule(kind="502")),
        ],
    )
    def test_valid(self, spec: str, rule: FaultRule) -> None:
        """Each documented example parses into the expected rule."""
        assert parse_fault(spec) == rule

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ("404:p=0.1", "unknown kind '404'"),
            ("503:p=2", "p='2' must be a number from 0 to 1"),
            ("503:every=0", "every='0' must be an integer >= 1"),
            ("503:bytes_per_s=10", "unknown parameter 'bytes_per_s' for 503"),
            ("503:p", "must look like key=value"),
            ("503:from=soon", "from='soon' is not a duration"),
            ("503:from=20s,to=10s", "'to' must be later than 'from'"),
            ("503:p=0.1,p=0.2", "'p' given twice"),
            ("slow:bytes_per_s=-1", "bytes_per_s='-1' must be a number > 0"),
        ],
    )
    def test_invalid_named(self, spec: str, message: str) -> None:
        """A bad spec is refused with a message naming the part at fault."""
        with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_fault(spec)


class TestPlan:
    def test_every(self) -> None:
        """every=3 fires on the 3rd, 6th and 9th requests."""
        assert fired(FaultPlan([parse_fault("503:every=3")]), 10) == [3, 6, 9]

    def test_burst_after(self) -> None:
        """burst=2,after=3 fires on requests 4 and 5 only."""
        assert fired(FaultPlan([parse_fault("500:burst=2,after=3")]), 10) == [4, 5]

    def test_probability_is_seeded(self) -> None:
        """The same seed gives the same draws, another seed different ones, at about the asked rate."""
        first = fired(FaultPlan([parse_fault("503:p=0.3")], seed=7), 1_000)
        again = fired(FaultPlan([parse_fault("503:p=0.3")], seed=7), 1_000)
        other = fired(FaultPlan([parse_fault("503:p=0.3")], seed=8), 1_000)
        assert (first == again, first != other, 240 < len(first) < 360) == (True, True, True)

    def test_model_filter(self) -> None:
        """A rule limited to a model neither fires on nor counts other models."""
        plan = FaultPlan([parse_fault("503:every=2,model=a")])
        assert fired(plan, 4, model="b") == [] and fired(plan, 4, model="a") == [2, 4]

    def test_time_window(self) -> None:
        """from/to restrict the rule to [from, to) of emulated time."""
        plan = FaultPlan([parse_fault("498:from=10s,to=20s")])
        hits = [now for now in (5.0, 10.0, 15.0, 20.0) if plan.decide(model="m", now=now, request_number=1, streaming=False)]
        assert hits == [10.0, 15.0]

    def test_malformed_sse_needs_stream(self) -> None:
        """malformed-sse only fires on streamed requests."""
        plan = FaultPlan([parse_fault("malformed-sse")])
        assert (fired(plan, 2), fired(plan, 2, streaming=True)) == ([], [1, 2])

    def test_first_rule_wins_and_rules_count_independently(self) -> None:
        """At most one fault per request; a later rule still counts the requests an earlier one took."""
        plan = FaultPlan([parse_fault("500:every=2"), parse_fault("503:every=3")])
        kinds = [
            getattr(plan.decide(model="m", now=0.0, request_number=n, streaming=False), "kind", None)
            for n in range(1, 7)
        ]
        assert kinds == [None, "500", "503", "500", None, "500"]

    def test_empty_plan_is_falsy(self) -> None:
        """A plan without rules says so, so the emulator can skip it."""
        assert not FaultPlan([])
