"""The budget's guarantee, against an independent server: with the limits known, it never causes a 429.

The server here is the emulator's own limiter (``orchestrator.emulator._limiter``: Groq's buckets,
written separately from the budget). A simulation sends jobs as the budget grants them; each reaches
the server after a delay, is admitted there (the property: always), finishes after a while, when the
server gives back the unused reservation, and its response (headers and usage) reaches the client
after another delay (then the budget confirms the grant, reads the headers and reconciles the usage,
as the worker does). Hypothesis picks the limits, the jobs, the delays and the estimates.
"""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from actors._budget import ModelLimits, RateBudget
from actors._ratelimit_headers import ReportedWindow, RateLimitReport, rate_limit_header_pairs
from orchestrator.emulator._limiter import Admitted, KeyModelLimiter, LimitSpec

MAX_PROMPT = 400
MAX_CAP = 600


@st.composite
def jobs(draw: st.DrawFn) -> list[dict[str, float | int]]:
    count = draw(st.integers(1, 40))
    result = []
    for _ in range(count):
        prompt = draw(st.integers(0, MAX_PROMPT))  # the server's count of the prompt at admission
        cap = draw(st.integers(0, MAX_CAP))
        result.append(
            {
                "arrival": draw(st.floats(0, 30)),
                "prompt": prompt,
                "over_estimate": draw(st.integers(0, 50)),  # the client counts the prompt no lower
                # No more than the server reserved: a request that turns out dearer puts both into a
                # debt the client cannot see before the response (no budget can foresee that).
                "true_prompt": draw(st.integers(0, prompt)),
                "cap": cap,
                "output": draw(st.integers(0, cap)),
                "send": draw(st.floats(0, 2)),
                "latency": draw(st.floats(0, 20)),
                "receive": draw(st.floats(0, 2)),
            }
        )
    return sorted(result, key=lambda job: job["arrival"])


limits = st.builds(
    dict,
    rpm=st.integers(1, 40),
    rpd=st.none() | st.integers(1, 200),
    tpm=st.integers(MAX_PROMPT + 50 + MAX_CAP, 6_000),
    tpd=st.none() | st.integers(MAX_PROMPT + 50 + MAX_CAP, 40_000),
    itpm=st.none() | st.integers(MAX_PROMPT + 50, 3_000),
    otpm=st.none() | st.integers(MAX_CAP, 3_000),
)


def headers_of(server: KeyModelLimiter, now: float) -> dict[str, str]:
    state = server.state(now)
    report = RateLimitReport(
        ReportedWindow(state.limit_requests, state.remaining_requests, state.reset_requests),
        ReportedWindow(state.limit_tokens, state.remaining_tokens, state.reset_tokens),
    )
    return dict(rate_limit_header_pairs(report))


@settings(max_examples=300, deadline=None)
@given(limits=limits, workload=jobs())
def test_what_the_budget_grants_the_server_admits(limits: dict[str, int | None], workload: list[dict]) -> None:
    budget = RateBudget(ModelLimits(**limits), 0.0)
    server = KeyModelLimiter(LimitSpec(**limits), 0.0)
    events: list[tuple[float, int, str, int, dict[str, str] | None]] = []
    seq = 0
    next_job, retry_at = 0, 0.0
    admitted = 0
    while next_job < len(workload) or events:
        attempt_at = max(workload[next_job]["arrival"], retry_at) if next_job < len(workload) else None
        if events and (attempt_at is None or events[0][0] <= attempt_at):
            now, _, kind, index, headers = heapq.heappop(events)
            job = workload[index]
            reserved = job["prompt"] + job["cap"]
            if kind == "arrives":
                decision = server.admit(
                    now, tokens=reserved, input_tokens=job["prompt"], output_tokens=job["cap"]
                )
                assert isinstance(decision, Admitted), (decision, now, budget)
                admitted += 1
                seq += 1
                heapq.heappush(events, (now + job["latency"], seq, "finishes", index, headers_of(server, now)))
            elif kind == "finishes":
                used = job["true_prompt"] + job["output"]
                server.charge(
                    now,
                    tokens=used - reserved,
                    input_tokens=job["true_prompt"] - job["prompt"],
                    output_tokens=job["output"] - job["cap"],
                )
                seq += 1
                heapq.heappush(events, (now + job["receive"], seq, "answered", index, headers))
            else:
                assert headers is not None
                budget.confirm(job["prompt"] + job["over_estimate"] + job["cap"], now, job["cap"])
                budget.observe_headers(headers, now)
                budget.reconcile(
                    job["prompt"] + job["over_estimate"] + job["cap"],
                    job["true_prompt"] + job["output"],
                    now,
                    estimated_output=job["cap"],
                    actual_output=job["output"],
                )
            continue
        assert attempt_at is not None
        job = workload[next_job]
        cost = job["prompt"] + job["over_estimate"] + job["cap"]
        wait = budget.try_acquire(cost, attempt_at, job["cap"])
        if wait == 0.0:
            seq += 1
            heapq.heappush(events, (attempt_at + job["send"], seq, "arrives", next_job, None))
            next_job += 1
            retry_at = attempt_at
        else:
            assert wait > 0
            retry_at = attempt_at + wait
    assert admitted == len(workload)
