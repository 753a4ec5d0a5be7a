"""Counting a batch as it runs: the live numbers behind the progress display and the final summary.

`BatchTally` is a pure accumulator (no IO, no trio; the caller passes ``now``). The runner feeds it one
call per finished job; the progress display samples it a few times a second to get recent rates and an
ETA; at the end it freezes into a `BatchSummary`, which is what `run_batch` returns, what the final table
shows and what ``--summary-json`` writes.

Rates are computed over a short sliding window of samples (bounded: the last 64) so the display reflects the
current pace rather than the average since start, which matters when the rate limiter throttles mid-run.
"""

from __future__ import annotations

import signal
from collections import deque
from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from orchestrator._prices import CostTally

__all__ = ["BatchSummary", "BatchTally", "ProgressSample"]

_WINDOW_SECONDS = 5.0
_MAX_SAMPLES = 64
_MAX_ERROR_CODES = 50


class BatchSummary(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one `run_batch` call.

    Attributes:
        input_path / output_path: the files used.
        endpoint: where jobs went (a base URL, or ``embedded emulator``).
        jobs: jobs in the input file (non-blank lines).
        already_done: jobs skipped because the results file already answered them (resume).
        succeeded / failed: result lines written by this run (failed includes malformed lines).
        malformed: input lines that could not become a request (a subset of failed).
        not_run: jobs with no result yet (interrupted); re-running the same command does them.
        prompt_tokens / completion_tokens: usage reported by the server for this run's successes.
        retries / rate_limited: retried attempts and 429s the client absorbed.
        elapsed_seconds: wall time of this run.
        errors_by_code: failures per error code (``model_not_found``, ``invalid_json``, ...).
        interrupted_by: ``SIGINT``/``SIGTERM`` when a signal stopped the run, else None.
        stopped_by: the code (or class) of the error about the run itself that stopped it (a refused API key:
            ``invalid_api_key``), else None; the command then exits 1.
        repaired_bytes: bytes of a torn last results line removed before resuming.
        via: how the jobs went: ``live``, ``batch-api`` or ``auto``.
        batches: Batch API batches this run created.
        cost_usd: what this run's successes cost at the price table's rates (live, batch discount and
            cached-token rates applied); None when the run had no priced success.
        live_cost_usd: what the same successes would have cost as live calls (so ``live_cost_usd -
            cost_usd`` is what the Batch API saved).
        unpriced_jobs: successes whose model has no price in the table (in neither sum).
    """

    input_path: str
    output_path: str
    endpoint: str
    jobs: int
    already_done: int = 0
    succeeded: int = 0
    failed: int = 0
    malformed: int = 0
    not_run: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    rate_limited: int = 0
    elapsed_seconds: float = 0.0
    errors_by_code: dict[str, int] = msgspec.field(default_factory=dict)
    interrupted_by: str | None = None
    stopped_by: str | None = None
    repaired_bytes: int = 0
    via: str = "live"
    batches: int = 0
    cost_usd: float | None = None
    live_cost_usd: float | None = None
    unpriced_jobs: int = 0

    @property
    def complete(self) -> bool:
        """True when every job in the input now has exactly one result line."""
        return self.not_run == 0

    @property
    def tokens_per_second(self) -> float:
        """Prompt plus completion tokens per wall-clock second, this run."""
        total = self.prompt_tokens + self.completion_tokens
        return total / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def jobs_per_second(self) -> float:
        """Results written per wall-clock second, this run."""
        done = self.succeeded + self.failed
        return done / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """The CLI's exit status: 1 when an error about the run stopped it (``stopped_by``), 130/143 when
        interrupted by SIGINT/SIGTERM, 1 if any job failed, else 0.

        Failed jobs still have their result lines; the non-zero status tells scripts to look at them.
        """
        if self.stopped_by is not None:
            return 1
        if self.interrupted_by is not None:
            return 128 + int(getattr(signal, self.interrupted_by, signal.SIGINT))
        return 1 if self.failed else 0


class ProgressSample(msgspec.Struct, frozen=True):
    """A point-in-time view of the tally with recent rates, for the progress display."""

    jobs: int
    already_done: int
    succeeded: int
    failed: int
    tokens: int
    jobs_per_second: float
    tokens_per_second: float
    eta_seconds: float | None
    elapsed_seconds: float

    @property
    def done(self) -> int:
        """Jobs with a result line, counting ones answered by an earlier run."""
        return self.already_done + self.succeeded + self.failed


class BatchTally:
    """Running counts for one batch; pure, so the display math is tested with literal clocks.

    Not thread-safe and not a trio object: the runner calls it from one task at a time.
    """

    __slots__ = (
        "_errors",
        "_samples",
        "_started",
        "already_done",
        "completion_tokens",
        "failed",
        "jobs",
        "malformed",
        "prompt_tokens",
        "succeeded",
    )

    def __init__(self, *, jobs: int, already_done: int, now: float) -> None:
        self.jobs = jobs
        self.already_done = already_done
        self.succeeded = 0
        self.failed = 0
        self.malformed = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self._errors: dict[str, int] = {}
        self._started = now
        self._samples: deque[tuple[float, int, int]] = deque([(now, 0, 0)], maxlen=_MAX_SAMPLES)

    @property
    def remaining(self) -> int:
        """Jobs with no result line yet."""
        return max(0, self.jobs - self.already_done - self.succeeded - self.failed)

    def record_success(self, *, prompt_tokens: int, completion_tokens: int) -> None:
        """Count a job whose result line holds a completion."""
        self.succeeded += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens

    def record_failure(self, code: str, *, malformed: bool = False) -> None:
        """Count a job whose result line holds an error with this code."""
        self.failed += 1
        if malformed:
            self.malformed += 1
        if code not in self._errors and len(self._errors) >= _MAX_ERROR_CODES:
            code = "other"
        self._errors[code] = self._errors.get(code, 0) + 1

    def sample(self, now: float) -> ProgressSample:
        """Record a sample at ``now`` and return current counts, recent rates and an ETA."""
        done = self.succeeded + self.failed
        tokens = self.prompt_tokens + self.completion_tokens
        self._samples.append((now, done, tokens))
        base_time, base_done, base_tokens = self._samples[0]
        # The base is the newest sample at least a window old (or the oldest kept, early on).
        for when, was_done, was_tokens in self._samples:
            if now - when < _WINDOW_SECONDS:
                break
            base_time, base_done, base_tokens = when, was_done, was_tokens
        span = now - base_time
        jobs_rate = (done - base_done) / span if span > 0 else 0.0
        tokens_rate = (tokens - base_tokens) / span if span > 0 else 0.0
        eta = self.remaining / jobs_rate if jobs_rate > 0 else (0.0 if not self.remaining else None)
        return ProgressSample(
            self.jobs, self.already_done, self.succeeded, self.failed, tokens,
            jobs_rate, tokens_rate, eta, now - self._started,
        )

    def summary(
        self,
        *,
        input_path: str,
        output_path: str,
        endpoint: str,
        now: float,
        retries: int = 0,
        rate_limited: int = 0,
        interrupted_by: str | None = None,
        repaired_bytes: int = 0,
        via: str = "live",
        batches: int = 0,
        costs: CostTally | None = None,
    ) -> BatchSummary:
        """Freeze the counts into the summary `run_batch` returns."""
        priced = costs is not None and costs.jobs > costs.unpriced_jobs
        return BatchSummary(
            input_path=input_path,
            output_path=output_path,
            endpoint=endpoint,
            jobs=self.jobs,
            already_done=self.already_done,
            succeeded=self.succeeded,
            failed=self.failed,
            malformed=self.malformed,
            not_run=self.remaining,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            retries=retries,
            rate_limited=rate_limited,
            elapsed_seconds=now - self._started,
            errors_by_code=dict(sorted(self._errors.items(), key=lambda item: (-item[1], item[0]))),
            interrupted_by=interrupted_by,
            repaired_bytes=repaired_bytes,
            via=via,
            batches=batches,
            cost_usd=costs.total_usd if priced and costs is not None else None,
            live_cost_usd=costs.what_live_would_cost_usd if priced and costs is not None else None,
            unpriced_jobs=costs.unpriced_jobs if costs is not None else 0,
        )
