"""Prices as data: the bundled table, the cost arithmetic, user overrides, strict reading, and the tally."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator._catalog import DEFAULT_CATALOG
from orchestrator._errors import ConfigError
from orchestrator._prices import CostTally, ModelPrice, PriceTable, describe_cost
from orchestrator._retired import RETIRED_MODELS

ROOT = Path(__file__).resolve().parent.parent
BUNDLED = PriceTable.load()
MILLION = 1_000_000


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _table(**models: ModelPrice) -> PriceTable:
    return PriceTable(models, batch_discount=0.5)


class TestBundledTable:
    def test_it_ships_in_the_package(self) -> None:
        """The file is a resource of `orchestrator`, a package the wheel includes whole."""
        text = resources.files("orchestrator").joinpath("prices.toml").read_text(encoding="utf-8")
        assert set(tomllib.loads(text)) == {"batch", "models"}
        pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
        assert "orchestrator" in pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]

    def test_it_prices_every_model_it_lists(self) -> None:
        """Each listed model has a positive live cost: per token for chat models, per hour for Whisper."""
        assert len(BUNDLED) >= 9
        for model in BUNDLED:
            price = BUNDLED.price_for(model)
            assert price is not None
            if price.audio_hour is not None:
                cost = BUNDLED.audio_cost(model, seconds=3600)
            else:
                cost = BUNDLED.cost(model, prompt_tokens=1000, completion_tokens=1000)
            assert cost is not None and cost > 0, model

    def test_it_lists_only_models_groq_serves(self) -> None:
        """No retired model keeps a price, and every priced model is in the catalog."""
        for model in BUNDLED:
            assert model not in RETIRED_MODELS, model
            assert DEFAULT_CATALOG.known(model), model

    def test_the_main_models_are_priced(self) -> None:
        """The production models have the list prices the file cites."""
        assert BUNDLED.price_for("openai/gpt-oss-120b") == ModelPrice(input=0.15, output=0.60, cached_input=0.075)
        assert BUNDLED.price_for("openai/gpt-oss-20b") == ModelPrice(input=0.075, output=0.30, cached_input=0.0375)
        assert BUNDLED.price_for("whisper-large-v3") == ModelPrice(audio_hour=0.111)
        assert BUNDLED.price_for("whisper-large-v3-turbo") == ModelPrice(audio_hour=0.04)

    def test_models_without_a_published_price_are_left_out(self) -> None:
        """Compound systems and ALLaM have no per-token price: unknown, not free."""
        for model in ("groq/compound", "groq/compound-mini", "allam-2-7b"):
            assert BUNDLED.price_for(model) is None
            assert BUNDLED.cost(model, prompt_tokens=10, completion_tokens=10) is None

    def test_the_batch_discount_is_a_fraction(self) -> None:
        """The Batch API discount is between 0 and 1; the newest sources say half price."""
        assert 0 < BUNDLED.batch_discount < 1
        assert BUNDLED.batch_discount == 0.5

    def test_repr(self) -> None:
        """The repr says how many models and what discount."""
        assert repr(_table(m=ModelPrice(input=1, output=1))) == "<PriceTable: 1 models, batch discount 50%>"


class TestArithmetic:
    def test_live_cost(self) -> None:
        """gpt-oss-120b, 1M prompt + 1M completion tokens: $0.15 + $0.60."""
        cost = BUNDLED.cost("openai/gpt-oss-120b", prompt_tokens=MILLION, completion_tokens=MILLION)
        assert cost == pytest.approx(0.75)

    def test_small_job(self) -> None:
        """1,200 prompt and 300 completion tokens on gpt-oss-20b: (1200*0.075 + 300*0.30) / 1M = $0.00018."""
        cost = BUNDLED.cost("openai/gpt-oss-20b", prompt_tokens=1200, completion_tokens=300)
        assert cost == pytest.approx(0.00018)

    def test_cached_tokens_are_part_of_the_prompt(self) -> None:
        """1000 prompt tokens of which 200 cached, 500 completion on gpt-oss-120b: 800*0.15 + 200*0.075 + 500*0.6."""
        cost = BUNDLED.cost("openai/gpt-oss-120b", prompt_tokens=1000, completion_tokens=500, cached_tokens=200)
        assert cost == pytest.approx(435e-6)

    def test_batch_discounts_the_whole_cost(self) -> None:
        """The same job through the Batch API costs half: $0.0002175."""
        cost = BUNDLED.cost(
            "openai/gpt-oss-120b", prompt_tokens=1000, completion_tokens=500, cached_tokens=200, via="batch"
        )
        assert cost == pytest.approx(217.5e-6)

    def test_no_cache_price_means_full_input_price(self) -> None:
        """A model Groq does not discount for cache hits bills cached tokens at the input rate."""
        table = _table(m=ModelPrice(input=2.0, output=4.0))
        assert table.cost("m", prompt_tokens=MILLION, completion_tokens=0, cached_tokens=MILLION) == pytest.approx(2.0)

    def test_audio_cost(self) -> None:
        """Half an hour on whisper-large-v3 at $0.111/h is $0.0555; a minute on turbo via batch is $0.04/60/2."""
        assert BUNDLED.audio_cost("whisper-large-v3", seconds=1800) == pytest.approx(0.0555)
        assert BUNDLED.audio_cost("whisper-large-v3-turbo", seconds=60, via="batch") == pytest.approx(0.04 / 60 / 2)

    def test_a_chat_model_has_no_audio_price_and_whisper_no_token_price(self) -> None:
        """Asking the wrong way round is an unknown cost, not a zero."""
        assert BUNDLED.audio_cost("openai/gpt-oss-20b", seconds=60) is None
        assert BUNDLED.cost("whisper-large-v3", prompt_tokens=10, completion_tokens=10) is None

    def test_unknown_model(self) -> None:
        """A model with no price costs None, live or batch."""
        assert BUNDLED.price_for("nobody/model") is None
        assert BUNDLED.cost("nobody/model", prompt_tokens=1, completion_tokens=1) is None
        assert BUNDLED.cost("nobody/model", prompt_tokens=1, completion_tokens=1, via="batch") is None

    @pytest.mark.parametrize(
        ("prompt", "completion", "cached"), [(-1, 0, 0), (0, -1, 0), (0, 0, -1), (10, 0, 11)]
    )
    def test_impossible_usage_is_refused(self, prompt: int, completion: int, cached: int) -> None:
        """Negative counts, or more cached than prompt tokens, are a bug upstream, not a price."""
        with pytest.raises(ValueError):
            BUNDLED.cost("openai/gpt-oss-20b", prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)

    def test_an_unknown_via_is_refused(self) -> None:
        """Only 'live' and 'batch' are ways to reach Groq."""
        with pytest.raises(ValueError, match="via"):
            BUNDLED.cost("openai/gpt-oss-20b", prompt_tokens=1, completion_tokens=1, via="x")  # type: ignore[arg-type]

    def test_describe_cost(self) -> None:
        """A known cost is dollars with enough digits; an unknown one says so by name."""
        assert describe_cost(0.000123, "m") == "$0.000123"
        assert describe_cost(12.5, "m") == "$12.5000"
        assert describe_cost(None, "nobody/model") == "no price known for nobody/model"


_tokens = st.integers(min_value=0, max_value=10_000_000)
_CHAT_MODELS = [model for model in BUNDLED if getattr(BUNDLED.price_for(model), "input", None) is not None]
_models = st.sampled_from(_CHAT_MODELS)


class TestProperties:
    @given(_models, _tokens, _tokens, _tokens, st.integers(min_value=0, max_value=1_000_000))
    def test_cost_is_monotone_in_tokens(self, model: str, prompt: int, completion: int, extra: int, more: int) -> None:
        """More prompt or completion tokens never cost less; serving more of the prompt from cache never costs more."""
        cached = min(extra, prompt)

        def cost(p: int, c: int, k: int) -> float:
            value = BUNDLED.cost(model, prompt_tokens=p, completion_tokens=c, cached_tokens=k)
            assert value is not None
            return value

        base = cost(prompt, completion, cached)
        assert cost(prompt + more, completion, cached) >= base
        assert cost(prompt, completion + more, cached) >= base
        assert cost(prompt, completion, min(prompt, cached + more)) <= base
        assert base >= 0

    @given(_models, _tokens, _tokens, _tokens)
    def test_batch_never_costs_more_than_live(self, model: str, prompt: int, completion: int, cached: int) -> None:
        """Through the Batch API a job costs at most what it costs live, and exactly (1 - discount) times it."""
        cached = min(cached, prompt)
        usage = {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached}
        live = BUNDLED.cost(model, **usage)
        batch = BUNDLED.cost(model, **usage, via="batch")
        assert live is not None and batch is not None
        assert batch <= live
        assert batch == pytest.approx(live * (1 - BUNDLED.batch_discount))


class TestUserFile:
    def test_a_user_file_overrides_a_model_and_keeps_the_rest(self, tmp_path: Path) -> None:
        """The user's entry replaces the bundled one; models it does not name keep their bundled prices."""
        path = _write(tmp_path, '[models."openai/gpt-oss-120b"]\ninput = 0.10\noutput = 0.40\n')
        table = PriceTable.load(path)
        assert table.price_for("openai/gpt-oss-120b") == ModelPrice(input=0.10, output=0.40)
        assert table.cost("openai/gpt-oss-120b", prompt_tokens=MILLION, completion_tokens=MILLION) == pytest.approx(0.5)
        assert table.price_for("openai/gpt-oss-20b") == BUNDLED.price_for("openai/gpt-oss-20b")
        assert table.batch_discount == BUNDLED.batch_discount

    def test_a_user_file_adds_a_model_and_sets_the_discount(self, tmp_path: Path) -> None:
        """A model the bundle lacks gets a price; a [batch] table replaces the bundled discount."""
        path = _write(tmp_path, '[batch]\ndiscount = 0.25\n[models."acme/new-model"]\ninput = 1\noutput = 2\n')
        table = PriceTable.load(str(path))
        assert table.batch_discount == 0.25
        cost = table.cost("acme/new-model", prompt_tokens=MILLION, completion_tokens=MILLION, via="batch")
        assert cost == pytest.approx(2.25)

    @pytest.mark.parametrize(
        ("text", "field", "value"),
        [
            ('[models."x"]\ninput = -1\noutput = 1\n', 'models."x".input', -1),
            ('[models."x"]\ninput = "cheap"\noutput = 1\n', 'models."x".input', "cheap"),
            ('[models."x"]\ninput = true\noutput = 1\n', 'models."x".input', True),
            ('[models."x"]\ninput = nan\noutput = 1\n', 'models."x".input', None),
            ('[models."x"]\ninput = 1\noutput = 1\ncached = 0.5\n', 'models."x".cached', 0.5),
            ('[models."x"]\ninput = 1\n', 'models."x".output', None),
            ('[models."x"]\ninput = 1\noutput = 1\ncached_input = 2\n', 'models."x".cached_input', 2),
            ('[models."x"]\naudio_hour = 0.1\ncached_input = 0.05\n', 'models."x".cached_input', 0.05),
            ('[models."x"]\n', 'models."x"', {}),
            ('models = 3\n', "models", 3),
            ('[models]\nx = 3\n', 'models."x"', 3),
            ("[batch]\ndiscount = 1.5\n", "batch.discount", 1.5),
            ("[batch]\ndiscount = -0.1\n", "batch.discount", -0.1),
            ("[batch]\ndiscount = 1\n", "batch.discount", 1),
            ("[batch]\nrate = 0.5\n", "batch.rate", 0.5),
            ("[batch]\n", "batch.discount", None),
            ("[prices]\nx = 1\n", "prices", {"x": 1}),
        ],
    )
    def test_bad_values_name_the_key_and_the_value(self, tmp_path: Path, text: str, field: str, value: object) -> None:
        """A bad price raises ConfigError whose field is the TOML key path and whose message shows the value."""
        path = _write(tmp_path, text)
        with pytest.raises(ConfigError) as caught:
            PriceTable.load(path)
        assert caught.value.field == field
        assert field in str(caught.value)
        assert str(path) in str(caught.value)
        if value is not None:
            assert caught.value.value == value
            assert repr(value) in str(caught.value)

    def test_a_missing_file_is_a_config_error(self, tmp_path: Path) -> None:
        """An unreadable file names itself."""
        with pytest.raises(ConfigError, match="cannot be read"):
            PriceTable.load(tmp_path / "absent.toml")

    def test_a_malformed_file_is_a_config_error(self, tmp_path: Path) -> None:
        """Not TOML at all: the parser's complaint is kept."""
        with pytest.raises(ConfigError, match="not valid TOML"):
            PriceTable.load(_write(tmp_path, "[models\n"))

    def test_a_bad_discount_in_code_is_refused(self) -> None:
        """The constructor holds the same rule as the file."""
        with pytest.raises(ConfigError):
            PriceTable({}, batch_discount=1.0)


class TestCostTally:
    def test_live_and_batch_totals(self) -> None:
        """Live and batch jobs add up separately; the live-price total shows what the batch saved."""
        tally = CostTally(_table(m=ModelPrice(input=1.0, output=2.0)))
        assert tally.add("m", MILLION, 0, 0, "live") == pytest.approx(1.0)
        assert tally.add("m", 0, MILLION, 0, "batch") == pytest.approx(1.0)
        assert tally.jobs == 2 and tally.unpriced_jobs == 0
        assert tally.live_usd == pytest.approx(1.0)
        assert tally.batch_usd == pytest.approx(1.0)
        assert tally.what_live_would_cost_usd == pytest.approx(3.0)
        assert tally.total_usd == pytest.approx(2.0)
        assert tally.saved_usd == pytest.approx(1.0)

    def test_unpriced_jobs_are_counted_not_summed(self) -> None:
        """A job on an unknown model adds to jobs and unpriced_jobs but to no dollar total."""
        tally = CostTally(_table(m=ModelPrice(input=1.0, output=2.0)))
        assert tally.add("nobody/model", 100, 100, 0, "batch") is None
        tally.add("m", MILLION, 0)
        assert (tally.jobs, tally.unpriced_jobs) == (2, 1)
        assert tally.unpriced_models == frozenset({"nobody/model"})
        assert tally.total_usd == pytest.approx(1.0)
        assert tally.what_live_would_cost_usd == pytest.approx(1.0)

    def test_cached_tokens_and_audio(self) -> None:
        """The tally uses the same arithmetic as the table, for chat and audio jobs."""
        tally = CostTally(BUNDLED)
        tally.add("openai/gpt-oss-120b", 1000, 500, 200, "batch")
        tally.add_audio("whisper-large-v3", 1800)
        assert tally.batch_usd == pytest.approx(217.5e-6)
        assert tally.live_usd == pytest.approx(0.0555)
        assert tally.what_live_would_cost_usd == pytest.approx(435e-6 + 0.0555)

    def test_summary_says_what_was_saved_and_what_was_not_priced(self) -> None:
        """The closing line names the totals, the saving, and the models with no price."""
        tally = CostTally(_table(m=ModelPrice(input=1.0, output=2.0)))
        tally.add("m", MILLION, 0, 0, "batch")
        tally.add("nobody/model", 1, 1)
        assert tally.summary() == (
            "cost $0.5000 (live $0.000000, batch $0.5000); live prices would have cost $1.0000, saved $0.5000; "
            "1 of 2 jobs not counted: no price known for nobody/model"
        )

    def test_empty_summary_and_repr(self) -> None:
        """Nothing counted yet is zero dollars, with no saving or unpriced clause."""
        tally = CostTally(BUNDLED)
        assert tally.summary() == "cost $0.000000 (live $0.000000, batch $0.000000)"
        assert repr(tally) == "<CostTally 0 jobs, $0.000000, 0 unpriced>"
