"""Everything that shapes an emulator's behaviour, in one frozen value.

``EmulatorSettings()`` is an emulator for tests: instant, seed 0, the catalog's free-tier limits, no
faults, any ``gsk_`` key. The command line (``groq-orch emulate``) builds the same object from flags.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

from orchestrator._catalog import DEFAULT_CATALOG, ModelCatalog
from orchestrator.emulator._faults import FaultRule, parse_fault
from orchestrator.emulator._latency import LatencyModel
from orchestrator.emulator._limiter import LimitSpec

__all__ = ["EmulatorSettings", "parse_limits"]

#: Default cap on a request body: a 25 MB audio upload plus multipart overhead fits.
DEFAULT_MAX_BODY_SIZE = 32 * 1024 * 1024


def parse_limits(text: str) -> tuple[str, tuple[int, int, int, int]]:
    """Parse ``MODEL=RPM/RPD/TPM/TPD`` (the ``--limits`` flag) into ``(model, (rpm, rpd, tpm, tpd))``.

    Raises:
        ValueError: naming the text and the expected form.
    """
    model, eq, numbers = text.partition("=")
    parts = numbers.split("/")
    model = model.strip()
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if not eq or not model or len(values) != 4 or any(value <= 0 for value in values):
        raise ValueError(
            f"limits {text!r} must look like MODEL=RPM/RPD/TPM/TPD with four positive integers, "
            "e.g. llama-3.1-8b-instant=30/14400/6000/500000"
        )
    return model, values  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmulatorSettings:
    """How an :class:`~orchestrator.emulator.Emulator` behaves.

    Attributes:
        latency: ``instant`` (no delays, for tests) or ``realistic``; the three knobs below override
            the profile's values one by one.
        queue_time, time_to_first_token, tokens_per_second: latency knobs (emulated seconds).
        time_scale: how many emulated seconds pass per real second: with 60, a minute of rate limits
            passes in one real second, and delays, reset headers and ``retry-after`` shrink to match
            (headers report what a client must wait in real time).
        seed: seeds generated text, ids and fault draws; the same seed gives the same run.
        limits: per-model ``(rpm, rpd, tpm, tpd)`` overriding the catalog's free-tier limits.
        faults: fault rules, parsed or as ``--faults`` strings (see :mod:`._faults`).
        api_keys: accepted keys; ``None`` accepts any key that starts with ``gsk_``.
        max_body_size: larger request bodies get a 413.
        catalog: the models served by ``/models`` and accepted by chat and audio.
        tokens_per_chunk: generated tokens per SSE chunk (Groq sends about one).
        completion_tokens: (min, max) natural completion length in tokens, when no smaller
            ``max_completion_tokens`` cuts it first.
        max_tracked_pairs: how many (API key, model) rate-limit states to remember.
    """

    latency: Literal["instant", "realistic"] = "instant"
    queue_time: float | None = None
    time_to_first_token: float | None = None
    tokens_per_second: float | None = None
    time_scale: float = 1.0
    seed: int = 0
    limits: Mapping[str, tuple[int, int, int, int]] = dataclasses.field(default_factory=dict)
    faults: Iterable[FaultRule | str] = ()
    api_keys: Iterable[str] | None = None
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    catalog: ModelCatalog = DEFAULT_CATALOG
    tokens_per_chunk: int = 1
    completion_tokens: tuple[int, int] = (16, 160)
    max_tracked_pairs: int = 4096

    def __post_init__(self) -> None:
        if not (math.isfinite(self.time_scale) and self.time_scale > 0):
            raise ValueError(f"time_scale={self.time_scale!r} must be a finite number > 0 (1 = real time)")
        if self.max_body_size < 1024:
            raise ValueError(f"max_body_size={self.max_body_size!r} must be at least 1024 bytes")
        if self.tokens_per_chunk < 1:
            raise ValueError(f"tokens_per_chunk={self.tokens_per_chunk!r} must be at least 1")
        low, high = self.completion_tokens
        if not 1 <= low <= high:
            raise ValueError(
                f"completion_tokens={self.completion_tokens!r} must be (min, max) with 1 <= min <= max"
            )
        limits = {}
        for model, values in self.limits.items():
            values = tuple(values)
            if len(values) != 4:
                raise ValueError(f"limits[{model!r}]={values!r} must be (rpm, rpd, tpm, tpd)")
            LimitSpec(*values)  # validates the numbers
            limits[model] = values
        faults = tuple(parse_fault(rule) if isinstance(rule, str) else rule for rule in self.faults)
        keys = None if self.api_keys is None else frozenset(self.api_keys)
        if keys is not None and not all(keys):
            raise ValueError("api_keys must not contain an empty key")
        object.__setattr__(self, "limits", MappingProxyType(limits))
        object.__setattr__(self, "faults", faults)
        object.__setattr__(self, "api_keys", keys)
        self.latency_model()  # validates the profile and the knobs

    def latency_model(self) -> LatencyModel:
        """The latency profile with any knob overrides applied."""
        base = LatencyModel.profile(self.latency)
        return LatencyModel(
            queue_time=base.queue_time if self.queue_time is None else self.queue_time,
            time_to_first_token=(
                base.time_to_first_token if self.time_to_first_token is None else self.time_to_first_token
            ),
            tokens_per_second=base.tokens_per_second if self.tokens_per_second is None else self.tokens_per_second,
        )

    def limits_for(self, model: str) -> LimitSpec:
        """The rate limits of ``model`` for one key: an override, else the catalog's free tier."""
        info = self.catalog.get(model)
        override = self.limits.get(model)
        if override is not None:
            rpm, rpd, tpm, tpd = override
        else:
            rpm, rpd, tpm, tpd = info.rpm, info.rpd, info.tpm, info.tpd
        return LimitSpec(rpm=rpm, rpd=rpd, tpm=tpm, tpd=tpd, ash=info.ash, asd=info.asd)

    def accepts_key(self, key: str) -> bool:
        """Whether ``key`` is a valid API key for this emulator."""
        if self.api_keys is None:
            return key.startswith("gsk_") and len(key) > 4
        return key in self.api_keys  # type: ignore[operator]
