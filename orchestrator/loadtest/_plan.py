"""What ``groq-orch bench`` sends: levels, request shapes, prompts and arrival gaps. Pure: no IO, no clock.

The flags are parsed here into a frozen :class:`BenchPlan`, and the plan decides everything about a
request before it is sent: its prompt length and ``max_completion_tokens`` (drawn from the
``--prompt-tokens`` / ``--output-tokens`` distributions), its prompt text, and, in rate mode, when it
arrives. Each request draws from its own generator seeded by ``(seed, level, index)``, so the same flags
send the same requests whatever the timing, and two levels differ only in how hard they push.

Prompt lengths are exact in the client's own token estimate (``orchestrator._tokens``: 4 tokens per
message plus a token per 4 characters), which the emulator also uses for ``usage.prompt_tokens``; a real
tokenizer will count a few percent differently, and ``requests.jsonl`` records both the target and what
Groq reported. Every prompt starts with a tag unique to the request, so no prompt cache can serve it.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from typing import Any, Final, Literal

import msgspec

from orchestrator.loadtest._metrics import SLO
from orchestrator._tokens import MESSAGE_OVERHEAD_TOKENS

__all__ = [
    "GOODPUT_NAMES",
    "MAX_CONCURRENCY",
    "MIN_PROMPT_TOKENS",
    "BenchPlan",
    "LengthSpec",
    "PlanError",
    "build_prompt",
    "interarrival",
    "parse_length",
    "goodput_slo",
    "parse_goodput",
    "parse_levels",
    "parse_slo",
    "parse_time",
]

#: The shortest prompt: one message's overhead plus one token of text.
MIN_PROMPT_TOKENS: Final = MESSAGE_OVERHEAD_TOKENS + 1
#: The most requests in flight the bench allows (the client's worker limit).
MAX_CONCURRENCY: Final = 10_000

_INSTRUCTION: Final = "Write a long, detailed story about a lighthouse keeper and a storm. Context: "
_FILLER: Final = (
    "the tide rolls over grey stones while gulls circle the old tower and the keeper trims the lamp; "
    "ships pass far out beyond the reef, their lights small and steady against the dark water; "
)
_TIME: Final = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|s|m)\s*$")
_UNITS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0}
#: ``--goodput`` metric names -> :class:`SLO` fields. vLLM's ``vllm bench serve --goodput ttft:500 tpot:50
#: e2el:1000`` (``parse_goodput`` / ``check_goodput_args`` in ``vllm/benchmarks/serve.py``) and AIPerf's
#: ``--goodput "time_to_first_token:500 inter_token_latency:10 request_latency:3000"`` (its goodput tutorial;
#: AIPerf's inter-token latency is (latency - TTFT) / (output tokens - 1), which is our TPOT). Values in ms.
GOODPUT_NAMES: Final = {
    "ttft": "ttft", "time_to_first_token": "ttft",
    "tpot": "tpot", "inter_token_latency": "tpot",
    "e2el": "e2e", "request_latency": "e2e",
}


class LengthSpec(msgspec.Struct, frozen=True):
    """A token-length distribution: a normal with this mean and standard deviation (0: always the mean)."""

    mean: int
    std: float = 0.0

    def sample(self, rng: random.Random, low: int, high: int) -> int:
        """One length, rounded and clamped to ``[low, high]``."""
        value = self.mean if self.std == 0 else round(rng.gauss(self.mean, self.std))
        return max(low, min(high, value))

    def describe(self) -> str:
        """The flag's own form: ``MEAN`` or ``MEAN:STD``."""
        return f"{self.mean}" if self.std == 0 else f"{self.mean}:{self.std:g}"


def parse_length(text: str, *, low: int = 1) -> LengthSpec:
    """Parse ``MEAN[:STD]`` (tokens): an integer mean of at least ``low``, a finite std >= 0.

    Raises:
        ValueError: naming the text and the expected form.
    """
    mean_text, colon, std_text = text.partition(":")
    form = f"must be MEAN[:STD] in tokens, e.g. 256 or 256:64, with MEAN an integer >= {low}"
    try:
        mean = int(mean_text.strip())
        std = float(std_text) if colon else 0.0
    except ValueError:
        raise ValueError(f"{text!r} {form}") from None
    if mean < low:
        raise ValueError(f"{text!r} {form}")
    if not (std >= 0.0 and math.isfinite(std)):
        raise ValueError(f"{text!r}: STD {std_text!r} must be a finite number >= 0")
    return LengthSpec(mean, std)


def parse_levels(text: str, *, integer: bool) -> tuple[int | float, ...]:
    """Parse a comma-separated list of levels: concurrencies (``integer``) or request rates per second.

    Raises:
        ValueError: naming the bad item and the expected form.
    """
    what = f"an integer from 1 to {MAX_CONCURRENCY}" if integer else "a number of requests per second > 0"
    levels: list[int | float] = []
    for item in text.split(","):
        item = item.strip()
        try:
            value: int | float = int(item) if integer else float(item)
        except ValueError:
            raise ValueError(f"{item!r} in {text!r} is not {what}; give a list like 1,2,4,8") from None
        if not (0 < value <= MAX_CONCURRENCY if integer else 0 < value < math.inf):
            raise ValueError(f"{item!r} in {text!r} is not {what}")
        levels.append(value)
    return tuple(levels)


def parse_time(text: str) -> float:
    """Parse a duration with its unit: ``500ms``, ``5s``, ``1.5s``, ``2m`` -> seconds.

    Raises:
        ValueError: no unit, an unknown unit, or not a number.
    """
    match = _TIME.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration with a unit; write e.g. 500ms, 5s or 2m")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_slo(text: str) -> SLO:
    """Parse ``ttft=500ms,tpot=20ms,e2e=5s`` (any of the three, each once) into an :class:`SLO`.

    Raises:
        ValueError: naming the bad part.
    """
    bounds: dict[str, float] = {}
    for part in text.split(","):
        name, eq, value = part.partition("=")
        name = name.strip().lower()
        if not eq or name not in ("ttft", "tpot", "e2e"):
            raise ValueError(f"{part.strip()!r} in {text!r} must be ttft=, tpot= or e2e= with a duration, e.g. ttft=500ms")
        if name in bounds:
            raise ValueError(f"{name} appears twice in {text!r}")
        seconds = parse_time(value)
        if seconds <= 0:
            raise ValueError(f"{part.strip()!r} in {text!r}: the bound must be more than 0")
        bounds[name] = seconds
    return SLO(**bounds)


def parse_goodput(text: str) -> tuple[tuple[str, float], ...]:
    """Parse one ``--goodput`` value: ``KEY:MS`` pairs separated by spaces -> ``((slo field, seconds), ...)``.

    Keys are vLLM's (``ttft``, ``tpot``, ``e2el``) or AIPerf's (``time_to_first_token``,
    ``inter_token_latency``, ``request_latency``); values are milliseconds, more than 0.

    Raises:
        ValueError: naming the bad pair and the expected form.
    """
    pairs = []
    names = ", ".join(GOODPUT_NAMES)
    for pair in text.split() or [text]:
        key, colon, value = pair.partition(":")
        field = GOODPUT_NAMES.get(key.strip().lower())
        if not colon or field is None:
            raise ValueError(f"{pair!r} must be KEY:MILLISECONDS with KEY one of {names}, e.g. ttft:500")
        try:
            milliseconds = float(value)
        except ValueError:
            raise ValueError(f"{pair!r}: {value!r} is not a number of milliseconds") from None
        if not (milliseconds > 0 and math.isfinite(milliseconds)):
            raise ValueError(f"{pair!r}: the bound must be a finite number of milliseconds more than 0")
        pairs.append((field, milliseconds / 1000.0))
    return tuple(pairs)


def goodput_slo(values: Sequence[tuple[tuple[str, float], ...]]) -> SLO:
    """The :class:`SLO` of every ``--goodput`` value (each as :func:`parse_goodput` returns it).

    Raises:
        ValueError: a metric bounded twice (``ttft`` and ``time_to_first_token`` are one metric).
    """
    bounds: dict[str, float] = {}
    for pairs in values:
        for field, seconds in pairs:
            if field in bounds:
                raise ValueError(f"{field} is bounded twice; give each metric once")
            bounds[field] = seconds
    return SLO(**bounds)


def build_prompt(tokens: int, tag: str) -> str:
    """A user message of exactly ``tokens`` estimated prompt tokens (at least :data:`MIN_PROMPT_TOKENS`).

    It starts with ``tag`` (unique per request, against prompt caching), then asks for a long story, then
    filler text; short prompts are cut from the end.
    """
    if tokens < MIN_PROMPT_TOKENS:
        raise ValueError(f"a prompt needs at least {MIN_PROMPT_TOKENS} tokens, not {tokens}")
    characters = 4 * (tokens - MESSAGE_OVERHEAD_TOKENS)
    head = f"[{tag}] {_INSTRUCTION}"
    if characters <= len(head):
        return head[:characters]
    body = _FILLER * (1 + (characters - len(head)) // len(_FILLER))
    return head + body[: characters - len(head)]


def interarrival(rng: random.Random, rate: float, arrivals: Literal["poisson", "constant"]) -> float:
    """Seconds until the next arrival at ``rate`` per second: exponential (Poisson) or exactly ``1/rate``."""
    return rng.expovariate(rate) if arrivals == "poisson" else 1.0 / rate


class PlanError(ValueError):
    """Flags that parse one by one but do not fit together or do not fit the model; ``flag`` names one."""

    def __init__(self, flag: str, message: str) -> None:
        super().__init__(f"{flag}: {message}")
        self.flag = flag
        self.message = message


class BenchPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Everything a bench run sends, decided before the first request.

    Attributes:
        model: the model every request asks for.
        mode: ``concurrency`` (a fixed number of requests in flight, each starting when one ends) or
            ``rate`` (requests arrive at a fixed rate, whatever is in flight, up to ``max_concurrency``).
        levels: the concurrencies or rates, run one after another.
        requests: requests per level, or None to run each level for ``duration`` seconds.
        duration: seconds per level (no request starts after it; those in flight finish).
        arrivals: in rate mode, ``poisson`` or ``constant`` gaps between arrivals.
        max_concurrency: in rate mode, requests in flight at most (arrivals wait beyond it).
        prompt_tokens, output_tokens: length distributions; output lengths become ``max_completion_tokens``.
        slo: the objective goodput is measured against, or None.
        seed: seeds every draw (lengths, arrivals).
        context_window, max_completion_tokens: the model's limits, which clamp the drawn lengths.
    """

    model: str
    mode: Literal["concurrency", "rate"]
    levels: tuple[int | float, ...]
    requests: int | None
    duration: float | None
    arrivals: Literal["poisson", "constant"] = "poisson"
    max_concurrency: int = 256
    prompt_tokens: LengthSpec
    output_tokens: LengthSpec
    slo: SLO | None = None
    seed: int = 0
    context_window: int
    max_completion_tokens: int

    def __post_init__(self) -> None:
        if (self.requests is None) == (self.duration is None):
            raise PlanError("--requests", "give exactly one of --requests and --duration")
        if self.output_tokens.mean > self.max_completion_tokens:
            raise PlanError(
                "--output-tokens",
                f"{self.output_tokens.describe()} is more than the {self.max_completion_tokens} completion "
                f"tokens {self.model} allows; lower the mean",
            )
        if self.prompt_tokens.mean + self.output_tokens.mean > self.context_window:
            raise PlanError(
                "--prompt-tokens",
                f"{self.prompt_tokens.describe()} plus --output-tokens {self.output_tokens.describe()} exceed "
                f"{self.model}'s context window of {self.context_window} tokens; lower either mean",
            )

    @property
    def tokens_per_request(self) -> int:
        """Prompt plus completion tokens a request is expected to use: the two means (the completion's capped at
        the model's limit), as the rate budget counts them."""
        return self.prompt_tokens.mean + min(self.output_tokens.mean, self.max_completion_tokens)

    @property
    def workers(self) -> int:
        """Requests the client must be able to have in flight at once."""
        if self.mode == "concurrency":
            return int(max(self.levels))
        return self.max_concurrency

    def shape(self, level_index: int, index: int) -> tuple[int, int]:
        """``(prompt_tokens, max_completion_tokens)`` of request ``index`` of level ``level_index``."""
        rng = random.Random(f"{self.seed}:{level_index}:{index}")
        output = self.output_tokens.sample(rng, 1, self.max_completion_tokens)
        prompt = self.prompt_tokens.sample(rng, MIN_PROMPT_TOKENS, max(MIN_PROMPT_TOKENS, self.context_window - output))
        return prompt, output

    def body(self, level_index: int, index: int) -> tuple[dict[str, Any], int, int]:
        """The streamed chat request for request ``index`` of level ``level_index``, and its two lengths."""
        prompt, output = self.shape(level_index, index)
        text = build_prompt(prompt, f"bench {self.seed}-{level_index}-{index}")
        request = {
            "model": self.model,
            "messages": [{"role": "user", "content": text}],
            "max_completion_tokens": output,
            "stream": True,
        }
        return request, prompt, output

    def arrival_rng(self, level_index: int) -> random.Random:
        """The generator of one level's arrival gaps."""
        return random.Random(f"{self.seed}:arrivals:{level_index}")

    def settings(self) -> dict[str, Any]:
        """The plan as the summary's ``settings`` block (flag forms for lengths and the SLO)."""
        return {
            "model": self.model,
            "mode": self.mode,
            "levels": list(self.levels),
            "requests_per_level": self.requests,
            "duration_per_level_s": self.duration,
            "arrivals": self.arrivals if self.mode == "rate" else None,
            "max_concurrency": self.max_concurrency if self.mode == "rate" else None,
            "prompt_tokens": self.prompt_tokens.describe(),
            "output_tokens": self.output_tokens.describe(),
            "slo": None if self.slo is None else msgspec.to_builtins(self.slo),
            "seed": self.seed,
        }
