"""Paid tiers, the ITPM/OTPM windows, and Groq's 429/413 bodies for every window (in-process, virtual time)."""

from __future__ import annotations

import argparse

import msgspec
import pytest
import trio

from orchestrator._tiers import TIERS, tier_limits
from orchestrator.emulator import EmulatorSettings
from orchestrator.emulator._cli import add_arguments, settings_from
from orchestrator.emulator._limiter import Admitted, Denied, KeyModelLimiter, LimitSpec, TooLarge, Window
from orchestrator.emulator._settings import parse_limits
from tests.emulator._models import CUSTOM_LIMITS_MODEL, TEST_CATALOG
from tests.emulator.conftest import MODEL, open_harness

# "hi" costs 5 prompt tokens; with max_completion_tokens=100 and a natural length of 200 every request is
# charged 105 tokens (100 of them output) at admission and uses exactly that.
HI = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 100}
ORG = "in organization `org_emulator` service tier `on_demand`"
DOCS = "Visit https://console.groq.com/docs/rate-limits for more information."
UPSELL = " Need more tokens? Upgrade to Dev Tier today at https://console.groq.com/settings/billing"


def spec_of(row: object) -> LimitSpec:
    return LimitSpec(**msgspec.structs.asdict(row))  # type: ignore[arg-type]


class TestTierLimits:
    def test_free_is_the_default(self) -> None:
        """Without a tier the free plan's row applies."""
        assert EmulatorSettings().limits_for(MODEL) == spec_of(tier_limits("free", MODEL))

    def test_developer_row(self) -> None:
        """The Developer plan's row of a listed model, including its "-" (no such limit) as None."""
        settings = EmulatorSettings(tier="developer")
        for model, row in TIERS["developer"].models.items():
            assert settings.limits_for(model) == spec_of(row)
        assert settings.limits_for("openai/gpt-oss-20b") == LimitSpec(rpm=1_000, rpd=500_000, tpm=250_000, tpd=100_000_000)

    def test_developer_falls_back_to_free_row(self) -> None:
        """A model the Developer table does not list keeps its free row."""
        model = next(m for m in TIERS["free"].models if m not in TIERS["developer"].models)
        assert EmulatorSettings(tier="developer").limits_for(model) == spec_of(tier_limits("free", model))

    def test_model_in_no_table_keeps_the_catalog_limits(self) -> None:
        """A model no plan lists has the catalog's limits, on either tier."""
        for tier in ("free", "developer"):
            settings = EmulatorSettings(tier=tier, catalog=TEST_CATALOG)  # type: ignore[arg-type]
            assert settings.limits_for(CUSTOM_LIMITS_MODEL) == LimitSpec(rpm=7, rpd=70, tpm=700, tpd=7_000)

    def test_override_wins_and_may_add_itpm_otpm(self) -> None:
        """An explicit limits entry replaces the tier's numbers; six numbers add ITPM and OTPM."""
        settings = EmulatorSettings(tier="developer", limits={MODEL: (1, 2, 3, 4, 5, 6)})
        assert settings.limits_for(MODEL) == LimitSpec(rpm=1, rpd=2, tpm=3, tpd=4, itpm=5, otpm=6)

    def test_unknown_tier_is_refused(self) -> None:
        """Only the published plans exist."""
        with pytest.raises(ValueError, match="tier='enterprise' must be one of free, developer"):
            EmulatorSettings(tier="enterprise")  # type: ignore[arg-type]

    @pytest.mark.parametrize("values", [(1, 2, 3, 4, 5), (1, 2, 3, 4, 5, 0)])
    def test_bad_override_is_refused(self, values: tuple[int, ...]) -> None:
        """Five numbers, or a zero ITPM/OTPM, are refused with the model named."""
        with pytest.raises(ValueError, match=r"limits\['m'\]|otpm=0"):
            EmulatorSettings(limits={"m": values})

    async def test_developer_headers(self, autojump_clock: trio.testing.MockClock) -> None:
        """A Developer organisation's headers report the Developer row's RPD and TPM."""
        row = tier_limits("developer", MODEL)
        assert row is not None
        async with open_harness("in-process", EmulatorSettings(tier="developer")) as harness:
            response = await harness.client.post("/chat/completions", json=HI)
        assert (response.headers["x-ratelimit-limit-requests"], response.headers["x-ratelimit-limit-tokens"]) == (
            str(row.rpd), str(row.tpm)
        )

    async def test_developer_413_has_no_upgrade_line(self, autojump_clock: trio.testing.MockClock) -> None:
        """Groq's "Upgrade to Dev Tier" line is only told to free organisations."""
        settings = EmulatorSettings(tier="developer", limits={MODEL: (1_000, 100_000, 600, 1_000_000)})
        async with open_harness("in-process", settings) as harness:
            response = await harness.client.post("/chat/completions", json={**HI, "max_completion_tokens": 1_000})
        assert response.status_code == 413
        assert response.json()["error"]["message"].endswith("Limit 600, Requested 1005, please reduce your message size and try again.")


class TestParseLimits:
    def test_four_and_six_numbers(self) -> None:
        """Both forms parse, in flag order."""
        assert parse_limits("m=1/2/3/4") == ("m", (1, 2, 3, 4))
        assert parse_limits("openai/gpt-oss-20b=1/2/3/4/5/6") == ("openai/gpt-oss-20b", (1, 2, 3, 4, 5, 6))

    @pytest.mark.parametrize("text", ["m=1/2/3/4/5", "m=1/2/3/4/5/6/7", "m=1/2/3/4/x/6", "m=1/2/3/4/5/0", "=1/2/3/4", "m"])
    def test_other_forms_are_named(self, text: str) -> None:
        """Anything else is a ValueError quoting the text and both forms."""
        with pytest.raises(ValueError) as refused:
            parse_limits(text)
        assert repr(text) in str(refused.value) and "MODEL=RPM/RPD/TPM/TPD/ITPM/OTPM" in str(refused.value)

    def test_cli_tier_and_six_number_limits(self) -> None:
        """--tier and the six-number --limits land in EmulatorSettings; a bad tier is refused by argparse."""
        parser = argparse.ArgumentParser(prog="groq-orch emulate")
        add_arguments(parser)
        settings = settings_from(parser.parse_args(["--tier", "developer", "--limits", f"{MODEL}=1/2/3/4/5/6"]))
        assert (settings.tier, dict(settings.limits)) == ("developer", {MODEL: (1, 2, 3, 4, 5, 6)})
        assert settings_from(parser.parse_args([])).tier == "free"
        with pytest.raises(SystemExit):
            parser.parse_args(["--tier", "platinum"])


class TestLimiterWindows:
    def test_itpm_and_otpm_count_their_own_amounts(self) -> None:
        """ITPM counts input tokens, OTPM output tokens; TPM counts what it is given."""
        limiter = KeyModelLimiter(LimitSpec(tpm=1_000, itpm=100, otpm=50), now=0.0)
        assert limiter.admit(0.0, tokens=130, input_tokens=90, output_tokens=40) == Admitted()
        denied = limiter.admit(0.0, tokens=20, input_tokens=20, output_tokens=0)
        assert denied == Denied(window=Window.ITPM, limit=100, used=90, requested=20, wait=pytest.approx(6.0))
        denied = limiter.admit(0.0, tokens=20, input_tokens=0, output_tokens=20)
        assert isinstance(denied, Denied) and (denied.window, denied.used) == (Window.OTPM, 40)
        assert limiter.state(0.0).remaining_tokens == 870  # the headers still show TPM only

    def test_too_large_for_itpm_and_otpm(self) -> None:
        """One request over a whole input or output window can never run."""
        limiter = KeyModelLimiter(LimitSpec(itpm=100, otpm=50), now=0.0)
        assert limiter.admit(0.0, input_tokens=101) == TooLarge(window=Window.ITPM, limit=100, requested=101)
        assert limiter.admit(0.0, output_tokens=51) == TooLarge(window=Window.OTPM, limit=50, requested=51)

    def test_charge_reconciles_each_window(self) -> None:
        """A refund of cached input tokens goes back to ITPM; extra output goes into OTPM debt."""
        limiter = KeyModelLimiter(LimitSpec(itpm=100, otpm=50), now=0.0)
        limiter.admit(0.0, input_tokens=100, output_tokens=0)
        limiter.charge(0.0, input_tokens=-60, output_tokens=80)
        assert limiter.admit(0.0, input_tokens=60) == Admitted()
        denied = limiter.admit(0.0, output_tokens=1)
        assert isinstance(denied, Denied) and (denied.window, denied.used) == (Window.OTPM, 80)

    def test_window_names_and_types(self) -> None:
        """Groq's words for every window, and the error type its bodies carry."""
        assert [(w.description, w.kind) for w in Window] == [
            ("requests per minute (RPM)", "requests"),
            ("requests per day (RPD)", "requests"),
            ("tokens per minute (TPM)", "tokens"),
            ("tokens per day (TPD)", "tokens"),
            ("input tokens per minute (ITPM)", "tokens"),
            ("output tokens per minute (OTPM)", "tokens"),
            ("audio seconds per hour (ASH)", "audio_seconds"),
            ("audio seconds per day (ASD)", "audio_seconds"),
        ]


# (limits, requests before the refused one, window words, limit, used, requested, wait text, retry-after)
REFUSALS = [
    ((2, 1_000, 100_000, 1_000_000), 2, "requests per minute (RPM)", 2, 2, 1, "30s", "30"),
    ((1_000, 2, 100_000, 1_000_000), 2, "requests per day (RPD)", 2, 2, 1, "12h0m0s", "43200"),
    ((1_000, 100_000, 300, 1_000_000), 2, "tokens per minute (TPM)", 300, 210, 105, "3s", "3"),
    ((1_000, 100_000, 100_000, 300), 2, "tokens per day (TPD)", 300, 210, 105, "1h12m0s", "4320"),
    ((1_000, 100_000, 100_000, 1_000_000, 10, 100_000), 2, "input tokens per minute (ITPM)", 10, 10, 5, "30s", "30"),
    ((1_000, 100_000, 100_000, 1_000_000, 100_000, 150), 1, "output tokens per minute (OTPM)", 150, 100, 100, "20s", "20"),
]


@pytest.mark.parametrize(("limits", "before", "words", "limit", "used", "requested", "wait", "retry"), REFUSALS)
async def test_429_names_every_window(
    autojump_clock: trio.testing.MockClock,
    limits: tuple[int, ...], before: int, words: str, limit: int, used: int, requested: int, wait: str, retry: str,
) -> None:
    """The refused request gets Groq's 429 body for its window, with the numbers and a matching retry-after."""
    settings = EmulatorSettings(limits={MODEL: limits}, completion_tokens=(200, 200))
    async with open_harness("in-process", settings) as harness:
        for _ in range(before):
            assert (await harness.client.post("/chat/completions", json=HI)).status_code == 200
        refused = await harness.client.post("/chat/completions", json=HI)
    kind = "requests" if "requests" in words else "tokens"
    assert (refused.status_code, refused.headers["retry-after"]) == (429, retry)
    assert refused.json() == {
        "error": {
            "message": f"Rate limit reached for model `{MODEL}` {ORG} on {words}: Limit {limit}, Used {used}, "
            f"Requested {requested}. Please try again in {wait}. {DOCS}",
            "type": kind,
            "code": "rate_limit_exceeded",
        }
    }
    # The headers still report only RPD and TPM, as Groq's do.
    assert refused.headers["x-ratelimit-limit-requests"] == str(limits[1])
    assert refused.headers["x-ratelimit-limit-tokens"] == str(limits[2])


@pytest.mark.parametrize(
    ("limits", "body", "words", "limit", "requested"),
    [
        ((1_000, 100_000, 600, 1_000_000), {**HI, "max_completion_tokens": 1_000}, "tokens per minute (TPM)", 600, 1_005),
        ((1_000, 100_000, 100_000, 1_000_000, 10, 100_000), {**HI, "messages": [{"role": "user", "content": "x" * 100}]},
         "input tokens per minute (ITPM)", 10, 29),
        ((1_000, 100_000, 100_000, 1_000_000, 100_000, 150), {**HI, "max_completion_tokens": 151},
         "output tokens per minute (OTPM)", 150, 151),
    ],
)
async def test_413_when_one_request_exceeds_a_token_window(
    autojump_clock: trio.testing.MockClock, limits: tuple[int, ...], body: dict[str, object], words: str, limit: int,
    requested: int,
) -> None:
    """A request over a per-minute token window's whole limit gets Groq's 413, never a 429, and costs nothing."""
    async with open_harness("in-process", EmulatorSettings(limits={MODEL: limits})) as harness:
        response = await harness.client.post("/chat/completions", json=body)
    assert response.status_code == 413 and "retry-after" not in response.headers
    assert response.json()["error"] == {
        "message": f"Request too large for model `{MODEL}` {ORG} on {words}: Limit {limit}, Requested {requested}, "
        f"please reduce your message size and try again.{UPSELL}",
        "type": "tokens",
        "code": "rate_limit_exceeded",
    }
    assert response.headers["x-ratelimit-remaining-tokens"] == str(limits[2])


async def test_reasoning_tokens_count_as_output(autojump_clock: trio.testing.MockClock) -> None:
    """Hidden reasoning is still output: after one 200-token answer (half of it hidden reasoning) OTPM has 200 used."""
    settings = EmulatorSettings(limits={MODEL: (1_000, 100_000, 100_000, 1_000_000, 100_000, 250)}, completion_tokens=(200, 200))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "include_reasoning": False}
    async with open_harness("in-process", settings) as harness:
        first = (await harness.client.post("/chat/completions", json=body)).json()
        refused = await harness.client.post("/chat/completions", json={**body, "max_completion_tokens": 100})
    assert first["usage"]["completion_tokens"] == 200 and first["usage"]["completion_tokens_details"]["reasoning_tokens"] == 100
    assert "output tokens per minute (OTPM): Limit 250, Used 200, Requested 100." in refused.json()["error"]["message"]
