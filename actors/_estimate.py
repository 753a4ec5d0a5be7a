"""What a chat job will cost in tokens, estimated before it is sent.

Theory of operation
-------------------
The rate budget must charge a job's tokens *before* the request goes out (that is the point of
a budget), but the true cost is only known from the response's ``usage``. So we guess, charge
the guess, and reconcile afterwards (:meth:`actors._budget.RateBudget.reconcile`):

    estimate = ceil(prompt_estimate * ratio) + completion

- ``prompt_estimate`` is the cheap character-count heuristic of ``orchestrator._tokens``. Real
  tokenizers differ from it by a roughly constant factor for a given workload (code, prose,
  CJK text), so we learn that factor: ``ratio`` is an exponential moving average of
  ``actual_prompt_tokens / prompt_estimate``, clamped to ``[0.25, 4]`` so one odd response
  cannot make the estimate absurd.
- ``completion`` is the request's own budget (``max_completion_tokens``/``max_tokens``) when it
  has one: Groq counts that against TPM up front, and it is a hard upper bound. Without one, we
  use a moving average of observed completions, starting from ``default_completion`` (256).

Rule 1: pure and deterministic: no clock, no IO, no randomness.
Rule 2: estimates round up; guessing a little high wastes budget for a moment (reconcile gives
it back), guessing low risks a 429.
"""

from __future__ import annotations

import math

__all__ = ["CostEstimator"]


class CostEstimator:
    """Estimates a chat job's token cost and learns from the usage of finished jobs.

    One estimator is shared by all jobs of a client: the ratio describes the workload's text
    (and the tokenizers behind it), not one model's limits.

    Args:
        default_completion: completion tokens assumed for a job with no completion budget,
            until completions have been observed.
        smoothing: weight of each new observation in the moving averages (0 < smoothing <= 1).
        min_ratio: the lowest prompt calibration ratio allowed.
        max_ratio: the highest prompt calibration ratio allowed.

    Raises:
        ValueError: an argument is out of range; the message names it.
    """

    __slots__ = ("_completion", "_observations", "_ratio", "default_completion", "max_ratio", "min_ratio", "smoothing")

    def __init__(
        self,
        default_completion: int = 256,
        *,
        smoothing: float = 0.2,
        min_ratio: float = 0.25,
        max_ratio: float = 4.0,
    ) -> None:
        if default_completion < 0:
            raise ValueError(f"CostEstimator default_completion={default_completion!r} must be >= 0")
        if not 0 < smoothing <= 1:
            raise ValueError(f"CostEstimator smoothing={smoothing!r} must be in (0, 1]")
        if not 0 < min_ratio <= 1 <= max_ratio < math.inf:
            raise ValueError(
                f"CostEstimator min_ratio={min_ratio!r} and max_ratio={max_ratio!r} must satisfy 0 < min <= 1 <= max"
            )
        self.default_completion = default_completion
        self.smoothing = smoothing
        self.min_ratio = min_ratio
        self.max_ratio = max_ratio
        self._ratio = 1.0
        self._completion: float | None = None
        self._observations = 0

    @property
    def ratio(self) -> float:
        """The learned factor from our prompt estimate to the server's ``prompt_tokens``."""
        return self._ratio

    @property
    def typical_completion(self) -> int:
        """Completion tokens assumed for a job without a completion budget."""
        return self.default_completion if self._completion is None else math.ceil(self._completion)

    @property
    def observations(self) -> int:
        """How many responses have calibrated this estimator."""
        return self._observations

    def estimate(self, prompt_estimate: int, completion_budget: int | None) -> int:
        """The tokens to charge for a job before sending it.

        Args:
            prompt_estimate: the heuristic prompt token count of the request.
            completion_budget: the request's ``max_completion_tokens``/``max_tokens``, or None.

        Raises:
            ValueError: a count is negative.
        """
        if prompt_estimate < 0 or (completion_budget is not None and completion_budget < 0):
            raise ValueError(
                f"token counts must be >= 0, got prompt_estimate={prompt_estimate!r}, "
                f"completion_budget={completion_budget!r}"
            )
        # round() first so 100 * 1.1 (= 110.00000000000001) does not become 111.
        prompt = math.ceil(round(prompt_estimate * self._ratio, 6))
        return prompt + self.completion(completion_budget)

    def completion(self, completion_budget: int | None) -> int:
        """The completion tokens to charge (for OTPM): the request's own budget, else the typical length."""
        return self.typical_completion if completion_budget is None else completion_budget

    def observe(self, prompt_estimate: int, actual_prompt_tokens: int, actual_completion_tokens: int) -> None:
        """Learn from a finished job's ``usage``.

        Args:
            prompt_estimate: the heuristic prompt estimate the job was charged with.
            actual_prompt_tokens: ``usage.prompt_tokens``.
            actual_completion_tokens: ``usage.completion_tokens``.

        Raises:
            ValueError: a count is negative.
        """
        if min(prompt_estimate, actual_prompt_tokens, actual_completion_tokens) < 0:
            raise ValueError(
                f"token counts must be >= 0, got prompt_estimate={prompt_estimate!r}, "
                f"actual_prompt_tokens={actual_prompt_tokens!r}, actual_completion_tokens={actual_completion_tokens!r}"
            )
        alpha = self.smoothing
        if prompt_estimate > 0:
            sample = actual_prompt_tokens / prompt_estimate
            ratio = self._ratio + alpha * (sample - self._ratio)
            self._ratio = min(self.max_ratio, max(self.min_ratio, ratio))
        if self._completion is None:
            self._completion = float(actual_completion_tokens)
        else:
            self._completion += alpha * (actual_completion_tokens - self._completion)
        self._observations += 1

    def __repr__(self) -> str:
        return (
            f"<CostEstimator ratio {self._ratio:.3f}, typical completion {self.typical_completion}, "
            f"{self._observations} observations>"
        )
