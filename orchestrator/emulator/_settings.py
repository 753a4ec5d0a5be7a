"""Everything that shapes an emulator's behaviour, in one frozen value.

``EmulatorSettings()`` is an emulator for tests: instant, seed 0, the free plan's limits, no faults,
any ``gsk_`` key. The command line (``groq-orch emulate``) builds the same object from flags.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

from orchestrator._catalog import DEFAULT_CATALOG, ModelCatalog
from orchestrator._tiers import TIER_NAMES, TierName, tier_limits
from orchestrator.emulator._batch_state import BatchPace
from orchestrator.emulator._faults import FaultRule, parse_fault
from orchestrator.emulator._latency import LatencyModel
from orchestrator.emulator._limiter import LimitSpec
from orchestrator.emulator._prompt_cache import PROMPT_CACHE_MODELS, PROMPT_CACHE_TTL

__all__ = ["EmulatorSettings", "parse_limits"]

#: Default cap on a request body: a 25 MB audio upload plus multipart overhead fits.
DEFAULT_MAX_BODY_SIZE = 32 * 1024 * 1024
#: Default cap on a ``POST /files`` body: Groq takes batch files "up to 100 MB" (groq-python
#: src/groq/resources/files.py docstring, snapshot 2026-08-18), plus 1 MiB for the multipart framing.
DEFAULT_MAX_UPLOAD_SIZE = 100 * 1024 * 1024 + 1024 * 1024


def parse_limits(text: str) -> tuple[str, tuple[int, ...]]:
    """Parse the ``--limits`` flag: ``MODEL=RPM/RPD/TPM/TPD`` or ``MODEL=RPM/RPD/TPM/TPD/ITPM/OTPM``.

    Returns ``(model, numbers)`` with four or six numbers, in that order (the last two are the separate
    input and output tokens-per-minute limits some organisations have).

    Raises:
        ValueError: naming the text and the expected forms.
    """
    model, eq, numbers = text.partition("=")
    parts = numbers.split("/")
    model = model.strip()
    try:
        values = tuple(int(part) for part in parts)
    except ValueError:
        values = ()
    if not eq or not model or len(values) not in (4, 6) or any(value <= 0 for value in values):
        raise ValueError(
            f"limits {text!r} must look like MODEL=RPM/RPD/TPM/TPD or MODEL=RPM/RPD/TPM/TPD/ITPM/OTPM with "
            "positive integers, e.g. openai/gpt-oss-20b=30/1000/8000/200000 or "
            "openai/gpt-oss-20b=1000/500000/250000/100000000/200000/50000"
        )
    return model, values


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
        tier: the organisation's plan, ``free`` or ``developer``: a model's limits are its row in that
            plan's published table (:mod:`orchestrator._tiers`); a model the Developer table does not list
            has its free row, and a model in neither table the catalog's limits.
        limits: per-model ``(rpm, rpd, tpm, tpd)`` or ``(rpm, rpd, tpm, tpd, itpm, otpm)``, overriding the
            tier's numbers (audio seconds still come from the tier or the catalog).
        faults: fault rules, parsed or as ``--faults`` strings (see :mod:`._faults`).
        api_keys: accepted keys; ``None`` accepts any key that starts with ``gsk_``.
        max_body_size: larger request bodies get a 413.
        catalog: the models served by ``/models`` and accepted by chat and audio (minus the retired
            ones in :mod:`orchestrator._retired`, which get Groq's 400 ``model_decommissioned``).
        tokens_per_chunk: generated tokens per SSE chunk (Groq sends about one).
        completion_tokens: (min, max) natural completion length in tokens, when no smaller
            ``max_completion_tokens`` cuts it first; for a reasoning model it includes the reasoning
            (its share depends on ``reasoning_effort``), as Groq's ``completion_tokens`` does.
        max_tracked_pairs: how many (API key, model) rate-limit states to remember.
        prompt_cache_models: the models whose prompt prefixes are cached (``cached_tokens`` in usage).
        prompt_cache_ttl: emulated seconds a cached prefix lives without use (Groq: two hours).
        prompt_cache_entries: how many cached prefixes to remember in all; the least recently used
            are forgotten first, so memory stays bounded however many prompts arrive.
        files_dir: where the Batch API's files (uploads, outputs, error files) are stored; None: a
            temporary directory made on first use and removed with the emulator.
        max_upload_size: larger ``POST /files`` bodies get a 413 (the other routes keep ``max_body_size``).
        batch_validation_seconds: emulated seconds a batch stays ``validating``.
        batch_lines_per_second: emulated pace of a batch's lines once ``in_progress``.
        batch_finalizing_seconds: emulated seconds a batch stays ``finalizing`` (or ``cancelling``).
        batch_expire_fraction: a fault: when set (0 <= f < 1), every batch expires as soon as
            ``floor(f * lines)`` of its lines have run, the rest written off as ``batch_expired``.
        upload_resets: a fault: the first N ``POST /files`` uploads are answered by closing the connection
            once the body is read (nothing is stored).
    """

    latency: Literal["instant", "realistic"] = "instant"
    queue_time: float | None = None
    time_to_first_token: float | None = None
    tokens_per_second: float | None = None
    time_scale: float = 1.0
    seed: int = 0
    tier: TierName = "free"
    limits: Mapping[str, tuple[int, ...]] = dataclasses.field(default_factory=dict)
    faults: Iterable[FaultRule | str] = ()
    api_keys: Iterable[str] | None = None
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    catalog: ModelCatalog = DEFAULT_CATALOG
    tokens_per_chunk: int = 1
    completion_tokens: tuple[int, int] = (16, 160)
    max_tracked_pairs: int = 4096
    prompt_cache_models: Iterable[str] = PROMPT_CACHE_MODELS
    prompt_cache_ttl: float = PROMPT_CACHE_TTL
    prompt_cache_entries: int = 16_384
    files_dir: str | None = None
    max_upload_size: int = DEFAULT_MAX_UPLOAD_SIZE
    batch_validation_seconds: float = 2.0
    batch_lines_per_second: float = 1000.0
    batch_finalizing_seconds: float = 1.0
    batch_expire_fraction: float | None = None
    upload_resets: int = 0

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
        if self.tier not in TIER_NAMES:
            raise ValueError(f"tier={self.tier!r} must be one of {', '.join(TIER_NAMES)}")
        if not (math.isfinite(self.prompt_cache_ttl) and self.prompt_cache_ttl > 0):
            raise ValueError(f"prompt_cache_ttl={self.prompt_cache_ttl!r} must be a number of seconds > 0")
        if self.prompt_cache_entries < 1:
            raise ValueError(f"prompt_cache_entries={self.prompt_cache_entries!r} must be at least 1")
        self._check_batch_settings()
        limits = {}
        for model, values in self.limits.items():
            values = tuple(values)
            if len(values) not in (4, 6):
                raise ValueError(
                    f"limits[{model!r}]={values!r} must be (rpm, rpd, tpm, tpd) or (rpm, rpd, tpm, tpd, itpm, otpm)"
                )
            LimitSpec(**dict(zip(("rpm", "rpd", "tpm", "tpd", "itpm", "otpm"), values)))  # validates the numbers
            limits[model] = values
        faults = tuple(parse_fault(rule) if isinstance(rule, str) else rule for rule in self.faults)
        keys = None if self.api_keys is None else frozenset(self.api_keys)
        if keys is not None and not all(keys):
            raise ValueError("api_keys must not contain an empty key")
        object.__setattr__(self, "limits", MappingProxyType(limits))
        object.__setattr__(self, "faults", faults)
        object.__setattr__(self, "api_keys", keys)
        object.__setattr__(self, "prompt_cache_models", frozenset(self.prompt_cache_models))
        self.latency_model()  # validates the profile and the knobs

    def _check_batch_settings(self) -> None:
        """Refuse a bad Batch API knob with its name and value."""
        if self.max_upload_size < 1024:
            raise ValueError(f"max_upload_size={self.max_upload_size!r} must be at least 1024 bytes")
        if self.upload_resets < 0:
            raise ValueError(f"upload_resets={self.upload_resets!r} must be an integer >= 0")
        if self.files_dir is not None and not self.files_dir:
            raise ValueError("files_dir='' must be a directory path, or None for a temporary directory")
        try:
            self.batch_pace()
        except ValueError as exc:
            raise ValueError("batch_" + str(exc)) from None

    def batch_pace(self) -> BatchPace:
        """The Batch API's pace (validation, lines, finalizing) and expiry fault, from the ``batch_*`` knobs."""
        return BatchPace(
            validation_seconds=self.batch_validation_seconds,
            lines_per_second=self.batch_lines_per_second,
            finalizing_seconds=self.batch_finalizing_seconds,
            expire_fraction=self.batch_expire_fraction,
        )

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
        """The rate limits of ``model`` for one key (Groq's limits are the organisation's; a key stands for one).

        An explicit ``limits`` override wins; else the tier's row (a model missing from the Developer
        table keeps its free row: the Developer page lists only a few models, and a paid plan is never
        below the free one); else the catalog's limits. ``None`` in a row is the page's "-": no such limit.
        """
        row = tier_limits(self.tier, model)
        if row is None and self.tier != "free":
            row = tier_limits("free", model)
        info = self.catalog.get(model)
        if row is not None:
            base = (row.rpm, row.rpd, row.tpm, row.tpd, row.ash, row.asd)
        else:
            base = (info.rpm, info.rpd, info.tpm, info.tpd, info.ash, info.asd)
        rpm, rpd, tpm, tpd, ash, asd = base
        itpm = otpm = None
        override = self.limits.get(model)
        if override is not None:
            rpm, rpd, tpm, tpd = override[:4]
            if len(override) == 6:
                itpm, otpm = override[4:]
        return LimitSpec(rpm=rpm, rpd=rpd, tpm=tpm, tpd=tpd, ash=ash, asd=asd, itpm=itpm, otpm=otpm)

    def accepts_key(self, key: str) -> bool:
        """Whether ``key`` is a valid API key for this emulator."""
        if self.api_keys is None:
            return key.startswith("gsk_") and len(key) > 4
        return key in self.api_keys  # type: ignore[operator]
