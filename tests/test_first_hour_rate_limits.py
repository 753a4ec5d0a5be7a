"""Issue 19, item 6: ``rate_limits()`` reports the server's reset, and keeps no entry for a model that does not exist."""

from __future__ import annotations

import json

import pytest
import trio

from actors._budget import ModelLimits, RateBudget, RateBudgets
from orchestrator import ModelError
from orchestrator._cli import main
from tests.helpers import client_for, make_emulator, user

FREE_20B = ModelLimits(rpm=30, rpd=1_000, tpm=8_000, tpd=200_000)


def headers(remaining_requests: int, reset_requests: str, reset_tokens: str = "45ms") -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": "1000",
        "x-ratelimit-limit-tokens": "8000",
        "x-ratelimit-remaining-requests": str(remaining_requests),
        "x-ratelimit-remaining-tokens": "7990",
        "x-ratelimit-reset-requests": reset_requests,
        "x-ratelimit-reset-tokens": reset_tokens,
    }


class TestReportedReset:
    def test_after_a_429_drains_rpd_the_servers_reset_is_reported(self) -> None:
        """Why rate-limits said 86,712 s: a 429 naming RPD drains the bucket and pauses it (312 s here), so the
        bucket's own estimate is the pause plus a whole day; the server's next header (4m2.88s) is reported."""
        budget = RateBudget(FREE_20B, 0.0)
        assert budget.try_acquire(10, 0.0) == 0.0
        budget.refund(10, 0.0)  # a 429: the server counted nothing (the worker's order: refund, headers, pause)
        budget.observe_headers(headers(0, "5m12s"), 0.0)
        budget.observe_rate_limited(312.0, "RPD", 0.0)
        own = budget._rpd.full_at(70.0) - 70.0
        budget.observe_headers(headers(0, "4m2.88s"), 70.0)
        assert (round(own), budget.snapshot(70.0).reset_requests_day, budget.snapshot(100.0).reset_requests_day) == (
            86_642, pytest.approx(242.88), pytest.approx(212.88))

    def test_the_servers_token_reset_counts_down_to_zero(self) -> None:
        """TPM's reset is the server's too, counted down from when it was said, never below 0."""
        budget = RateBudget(FREE_20B, 0.0)
        budget.observe_headers(headers(999, "1m26.4s", reset_tokens="7.66s"), 10.0)
        assert (budget.snapshot(12.0).reset_tokens_minute, budget.snapshot(30.0).reset_tokens_minute) == (
            pytest.approx(5.66), 0.0)

    def test_before_any_header_the_budget_estimates(self) -> None:
        """With no response yet, the reset is the bucket's own: one request out of 1,000 a day is 86.4 s."""
        budget = RateBudget(FREE_20B, 0.0)
        budget.try_acquire(0, 0.0)
        budget.confirm(0, 0.0)
        assert budget.snapshot(0.0).reset_requests_day == pytest.approx(86.4)

    def test_the_cli_json_reports_the_servers_reset(self, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
        """`rate-limits --json` on the embedded emulator: the reset equals the header's (one request: 86.4 s / 60)."""
        for name in ("GROQ_API_KEY", "GROQ_BASE_URL"):
            monkeypatch.delenv(name, raising=False)
        assert main(["rate-limits", "--json"]) == 0
        snapshot = json.loads(capsys.readouterr().out)["openai/gpt-oss-20b"]
        assert snapshot["reset_requests_day"] == pytest.approx(86.4 / 60, abs=0.05)


class TestUnknownModel:
    def test_forget_drops_a_budget(self) -> None:
        """RateBudgets.forget removes the model's budget; others stay."""
        budgets = RateBudgets(lambda model: FREE_20B)
        budgets.get("a", 0.0)
        budgets.get("b", 0.0)
        budgets.forget("a", 0.0)
        budgets.forget("never-seen", 0.0)
        assert list(budgets) == ["b"]

    async def test_a_404_model_not_found_leaves_no_entry(self, autojump_clock: trio.testing.MockClock) -> None:
        """A chat to a model the server does not have fails with ModelError, and rate_limits() does not list it."""
        async with client_for(make_emulator()) as client:
            with pytest.raises(ModelError):
                await client.chat.completions.create(model="no-such-model", messages=user("hi"))
            await client.chat.completions.create(model="openai/gpt-oss-20b", messages=user("hi"))
            assert sorted(client.rate_limits()) == ["openai/gpt-oss-20b"]
