"""What a job cost, in US dollars: Groq's price list as data, and the arithmetic on top of it.

Groq changes prices and adds models more often than we release, so the prices live in a TOML
file (``orchestrator/prices.toml``, shipped in the wheel) with the page and date each one came
from, and a user can layer a file of their own on top (a negotiated price, a new model) without
waiting for us. This module only reads that file and multiplies.

Rule 1: a model with no known price has an *unknown* cost (``None``), never ``0.0``. A summary
that adds zeros for the models it cannot price looks cheaper than the bill; one that says
"no price known for MODEL" is honest. :class:`CostTally` counts those jobs separately.

Theory of operation:

- Chat models are priced per million tokens: ``input`` for prompt tokens, ``output`` for
  completion tokens, and ``cached_input`` for the prompt tokens Groq served from its prompt
  cache (``usage.prompt_tokens_details.cached_tokens``). Cached tokens are *part of*
  ``prompt_tokens``: the uncached rest is billed at ``input``. A model with no ``cached_input``
  bills cached tokens at ``input`` (Groq discounts only the models it lists).
- Whisper models are priced per hour of audio (``audio_hour``).
- A job sent through the Batch API costs ``(1 - discount)`` times the live price, the discount
  applying to the whole cost (``[batch] discount``).

Reading the file is strict: an unknown key, a negative or non-numeric price, a discount outside
``[0, 1)`` raise :class:`~orchestrator.ConfigError` naming the TOML key path and the value, e.g.
``models."x".input``, since a typo in a price file silently misreports money.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from os import PathLike, fspath
from types import MappingProxyType
from typing import Any, Final, Literal

import msgspec

from orchestrator._errors import ConfigError

__all__ = ["CostTally", "ModelPrice", "PriceTable", "Via", "describe_cost", "format_usd"]

#: How a job reached Groq: the live endpoints, or the Batch API (discounted).
Via = Literal["live", "batch"]

_PER_TOKEN: Final = 1e-6  # prices are per million tokens
_PER_SECOND: Final = 1 / 3600  # audio prices are per hour
_PRICE_KEYS: Final = ("input", "output", "cached_input", "audio_hour")
_BUNDLED: Final = "prices.toml"


class ModelPrice(msgspec.Struct, frozen=True, kw_only=True):
    """One model's list prices, in USD; a field is None when Groq does not price that way.

    Attributes:
        input: per million uncached prompt tokens.
        output: per million completion tokens.
        cached_input: per million prompt tokens served from Groq's prompt cache; None means
            cached tokens cost the same as ``input``.
        audio_hour: per hour of audio, for the Whisper models.
    """

    input: float | None = None
    output: float | None = None
    cached_input: float | None = None
    audio_hour: float | None = None

    def token_cost(self, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> float | None:
        """The live cost of a chat completion, or None if this model is not priced per token."""
        if self.input is None or self.output is None:
            return None
        # Written as "every prompt token at input, less the cache discount on the cached ones" so that
        # each step is monotone in the counts even in floating point (a model without a cache price
        # subtracts exactly 0), which the tests check with hypothesis.
        cache_saving = 0.0 if self.cached_input is None else self.input - self.cached_input
        prompt = prompt_tokens * self.input - cached_tokens * cache_saving
        return (prompt + completion_tokens * self.output) * _PER_TOKEN

    def audio_cost(self, seconds: float) -> float | None:
        """The live cost of transcribing ``seconds`` of audio, or None if not priced per hour."""
        if self.audio_hour is None:
            return None
        return seconds * _PER_SECOND * self.audio_hour


def _check_tokens(prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> None:
    """Refuse impossible usage: a negative count, or more cached tokens than prompt tokens."""
    if min(prompt_tokens, completion_tokens, cached_tokens) < 0:
        counts = f"prompt {prompt_tokens}, completion {completion_tokens}, cached {cached_tokens}"
        raise ValueError(f"token counts must be >= 0 ({counts})")
    if cached_tokens > prompt_tokens:
        raise ValueError(f"cached_tokens ({cached_tokens}) are part of prompt_tokens ({prompt_tokens}), not more")


# --- reading the TOML ---------------------------------------------------------------------------


def _bad(field: str, value: object, rule: str, source: str) -> ConfigError:
    """A ConfigError naming the key path and value, and which file said so."""
    return ConfigError(field=field, value=value, rule=f"{rule} (in {source})")


def _model_key(model: str, key: str | None = None) -> str:
    """The TOML key path of a model's entry, ``models."openai/gpt-oss-20b".input``."""
    path = f'models."{model}"'
    return f"{path}.{key}" if key else path


def _number(value: object, *, field: str, source: str) -> float:
    """A finite price ``>= 0``; booleans and strings are refused, not coerced."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise _bad(field, value, "must be a number >= 0", source)
    return float(value)


def _parse_model(model: str, entry: object, source: str) -> ModelPrice:
    """One ``[models."id"]`` table, checked key by key and for a coherent set of prices."""
    if not isinstance(entry, dict):
        raise _bad(_model_key(model), entry, "must be a table of prices", source)
    for key, value in entry.items():
        if key not in _PRICE_KEYS:
            known = ", ".join(_PRICE_KEYS)
            raise _bad(_model_key(model, key), value, f"is not a price this table knows ({known})", source)
    prices = {key: _number(value, field=_model_key(model, key), source=source) for key, value in entry.items()}
    price = ModelPrice(**prices)
    _check_coherent(model, price, source)
    return price


def _check_coherent(model: str, price: ModelPrice, source: str) -> None:
    """Input and output come as a pair, a cache price needs the price it discounts, and something is priced."""
    if (price.input is None) != (price.output is None):
        missing = "output" if price.output is None else "input"
        raise _bad(_model_key(model, missing), None, "is required with the other token price", source)
    if price.cached_input is not None and price.input is None:
        raise _bad(_model_key(model, "cached_input"), price.cached_input, "needs input and output prices", source)
    if price.cached_input is not None and price.input is not None and price.cached_input > price.input:
        rule = f"must not exceed input ({price.input:g}): a cache hit is a discount"
        raise _bad(_model_key(model, "cached_input"), price.cached_input, rule, source)
    if price.input is None and price.audio_hour is None:
        raise _bad(_model_key(model), {}, "has no price: give input and output, or audio_hour", source)


def _parse_discount(batch: object, source: str) -> float:
    """``[batch] discount``: the fraction taken off a Batch API job, at least 0 and below 1."""
    if not isinstance(batch, dict):
        raise _bad("batch", batch, "must be a table holding discount = 0.5 or similar", source)
    for key, value in batch.items():
        if key != "discount":
            raise _bad(f"batch.{key}", value, "is not known; [batch] holds only discount", source)
    if "discount" not in batch:
        raise _bad("batch.discount", None, "is required in [batch]", source)
    discount = _number(batch["discount"], field="batch.discount", source=source)
    if discount >= 1:
        raise _bad("batch.discount", batch["discount"], "must be below 1 (0.5 is half price)", source)
    return discount


def _parse(data: Mapping[str, Any], source: str) -> tuple[float | None, dict[str, ModelPrice]]:
    """A whole price file: its batch discount (None if it has no ``[batch]``) and its models."""
    for key, value in data.items():
        if key not in ("batch", "models"):
            raise _bad(key, value, 'is not known; a price file holds [batch] and [models."id"] tables', source)
    discount = _parse_discount(data["batch"], source) if "batch" in data else None
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise _bad("models", models, 'must hold one [models."id"] table per model', source)
    return discount, {model: _parse_model(model, entry, source) for model, entry in models.items()}


def _read_user_file(path: str | PathLike[str]) -> dict[str, Any]:
    """Parse a user's TOML, turning an unreadable or malformed file into a ConfigError."""
    name = fspath(path)
    try:
        with open(name, "rb") as file:
            return tomllib.load(file)
    except OSError as exc:
        raise ConfigError(field="prices", value=name, rule=f"cannot be read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(field="prices", value=name, rule=f"is not valid TOML ({exc})") from None


def _read_bundled() -> dict[str, Any]:
    """The price file shipped inside the package (read through importlib.resources, so zips work)."""
    return tomllib.loads(resources.files("orchestrator").joinpath(_BUNDLED).read_text(encoding="utf-8"))


# --- the table ----------------------------------------------------------------------------------


class PriceTable:
    """Model prices and the Batch API discount; immutable, so one table serves every task.

    Build it with :meth:`load`. ``price_for`` and ``cost`` never fail for an unknown model:
    they answer None, and the caller reports the cost as unknown.
    """

    __slots__ = ("_discount", "_models")

    def __init__(self, models: Mapping[str, ModelPrice], *, batch_discount: float) -> None:
        if not 0 <= batch_discount < 1:
            raise ConfigError(field="batch.discount", value=batch_discount, rule="must be at least 0 and below 1")
        self._models: Mapping[str, ModelPrice] = MappingProxyType(dict(models))
        self._discount = float(batch_discount)

    @classmethod
    def load(cls, path: str | PathLike[str] | None = None) -> PriceTable:
        """The bundled prices, with the file at ``path`` (if given) laid over them.

        A user file has the bundled file's shape, every part optional: each ``[models."id"]``
        it lists replaces that model's bundled prices (or adds a model), and its ``[batch]``
        discount, if any, replaces the bundled one.

        Raises:
            ConfigError: a file cannot be read, is not TOML, or holds a bad key or value (the
                message names the key path, e.g. ``models."x".input``, and the value).
        """
        discount, models = _parse(_read_bundled(), f"bundled {_BUNDLED}")
        if discount is None:  # pragma: no cover - the shipped file is tested to have one
            raise ConfigError(field="batch.discount", value=None, rule=f"is missing from the bundled {_BUNDLED}")
        if path is not None:
            user_discount, user_models = _parse(_read_user_file(path), fspath(path))
            models.update(user_models)
            discount = discount if user_discount is None else user_discount
        return cls(models, batch_discount=discount)

    @property
    def batch_discount(self) -> float:
        """The fraction of the live price the Batch API takes off (0.5: half price)."""
        return self._discount

    def price_for(self, model: str) -> ModelPrice | None:
        """The model's prices, or None when the table has none."""
        return self._models.get(model)

    def cost(
        self, model: str, *, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0, via: Via = "live"
    ) -> float | None:
        """What a chat completion cost in USD, or None when ``model`` has no token price.

        Args:
            prompt_tokens: ``usage.prompt_tokens``, cached ones included.
            completion_tokens: ``usage.completion_tokens`` (reasoning tokens are part of them).
            cached_tokens: ``usage.prompt_tokens_details.cached_tokens``, priced at the cached rate.
            via: ``"batch"`` applies the Batch API discount to the whole cost.

        Raises:
            ValueError: a negative count, or more cached tokens than prompt tokens.
        """
        _check_tokens(prompt_tokens, completion_tokens, cached_tokens)
        price = self._models.get(model)
        live = price.token_cost(prompt_tokens, completion_tokens, cached_tokens) if price is not None else None
        return self.billed(live, via)

    def audio_cost(self, model: str, *, seconds: float, via: Via = "live") -> float | None:
        """What transcribing ``seconds`` of audio cost in USD, or None when ``model`` has no audio price."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"seconds must be a finite number >= 0, not {seconds!r}")
        price = self._models.get(model)
        return self.billed(price.audio_cost(seconds) if price is not None else None, via)

    def billed(self, live_cost: float | None, via: Via) -> float | None:
        """A live cost as billed ``via`` the live endpoints (unchanged) or the Batch API (discounted)."""
        if via not in ("live", "batch"):
            raise ValueError(f"via must be 'live' or 'batch', not {via!r}")
        if live_cost is None or via == "live":
            return live_cost
        return live_cost * (1 - self._discount)

    def __iter__(self) -> Iterator[str]:
        """The model ids the table prices."""
        return iter(self._models)

    def __contains__(self, model: object) -> bool:
        return model in self._models

    def __len__(self) -> int:
        return len(self._models)

    def __repr__(self) -> str:
        return f"<PriceTable: {len(self._models)} models, batch discount {self._discount:.0%}>"


def format_usd(amount: float) -> str:
    """Dollars with enough digits that a one-job cost (often well under a cent) is not shown as $0.00."""
    return f"${amount:.6f}" if abs(amount) < 0.01 else f"${amount:,.4f}"


def describe_cost(cost: float | None, model: str) -> str:
    """``$0.000123`` for a known cost, ``no price known for MODEL`` for an unknown one."""
    return f"no price known for {model}" if cost is None else format_usd(cost)


class CostTally:
    """Running totals for a batch: what it cost, what the same work would cost live, and what had no price.

    O(1) memory: a handful of sums, whatever the number of jobs (plus the ids of the models
    that had no price, at most one entry per model). ``what_live_would_cost_usd`` prices every
    priced job at live rates, so ``saved_usd`` is what ``--via batch-api`` or ``auto`` saved.
    Unpriced jobs are in ``jobs`` and ``unpriced_jobs`` but in none of the dollar sums.
    """

    __slots__ = (
        "_table",
        "_unpriced_models",
        "batch_usd",
        "jobs",
        "live_usd",
        "unpriced_jobs",
        "what_live_would_cost_usd",
    )

    def __init__(self, table: PriceTable) -> None:
        self._table = table
        self._unpriced_models: set[str] = set()
        self.jobs = 0
        self.unpriced_jobs = 0
        self.live_usd = 0.0
        self.batch_usd = 0.0
        self.what_live_would_cost_usd = 0.0

    def add(
        self, model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0, via: Via = "live"
    ) -> float | None:
        """Count one chat job; returns its cost (None if unpriced), for a per-job line."""
        live = self._table.cost(
            model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, cached_tokens=cached_tokens
        )
        cost = self._table.billed(live, via)
        self._count(model, cost, live, via)
        return cost

    def add_audio(self, model: str, seconds: float, via: Via = "live") -> float | None:
        """Count one transcription job; returns its cost (None if unpriced)."""
        live = self._table.audio_cost(model, seconds=seconds)
        cost = self._table.billed(live, via)
        self._count(model, cost, live, via)
        return cost

    def _count(self, model: str, cost: float | None, live: float | None, via: Via) -> None:
        self.jobs += 1
        if cost is None or live is None:
            self.unpriced_jobs += 1
            self._unpriced_models.add(model)
            return
        if via == "batch":
            self.batch_usd += cost
        else:
            self.live_usd += cost
        self.what_live_would_cost_usd += live

    @property
    def total_usd(self) -> float:
        """What the priced jobs cost, live and batch together."""
        return self.live_usd + self.batch_usd

    @property
    def saved_usd(self) -> float:
        """What the Batch API saved against sending the same jobs live."""
        return self.what_live_would_cost_usd - self.total_usd

    @property
    def unpriced_models(self) -> frozenset[str]:
        """The models that had jobs but no price."""
        return frozenset(self._unpriced_models)

    def summary(self) -> str:
        """One line for the end of a batch, e.g. ``cost $1.2300 (live $0.2000, batch $1.0300); ...``."""
        text = f"cost {format_usd(self.total_usd)} (live {format_usd(self.live_usd)}, batch {format_usd(self.batch_usd)})"
        if self.batch_usd:
            text += f"; live prices would have cost {format_usd(self.what_live_would_cost_usd)}, saved {format_usd(self.saved_usd)}"
        if self.unpriced_jobs:
            names = ", ".join(sorted(self._unpriced_models))
            text += f"; {self.unpriced_jobs} of {self.jobs} jobs not counted: no price known for {names}"
        return text

    def __repr__(self) -> str:
        return f"<CostTally {self.jobs} jobs, ${self.total_usd:.6f}, {self.unpriced_jobs} unpriced>"
