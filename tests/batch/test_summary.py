"""Tests for the batch tally: counts, recent rates, ETA and the frozen summary."""

from __future__ import annotations

import msgspec

from orchestrator.batch._summary import BatchSummary, BatchTally


def summary(**changes: object) -> BatchSummary:
    base = BatchSummary(input_path="in", output_path="out", endpoint="e", jobs=10)
    return msgspec.structs.replace(base, **changes)


class TestBatchTally:
    def test_counts_and_remaining(self) -> None:
        """Successes and failures add up, and remaining excludes jobs answered earlier."""
        tally = BatchTally(jobs=10, already_done=3, now=0.0)
        tally.record_success(prompt_tokens=5, completion_tokens=7)
        tally.record_failure("invalid_json", malformed=True)
        tally.record_failure("model_not_found")
        assert (tally.succeeded, tally.failed, tally.malformed, tally.remaining) == (1, 2, 1, 4)

    def test_rates_use_recent_window(self) -> None:
        """Rates reflect the last few seconds, not the average since start."""
        tally = BatchTally(jobs=1000, already_done=0, now=0.0)
        tally.sample(0.0)
        for _ in range(10):
            tally.record_success(prompt_tokens=1, completion_tokens=1)
        tally.sample(10.0)  # 10 jobs in the first 10 s
        for _ in range(50):
            tally.record_success(prompt_tokens=1, completion_tokens=1)
        sample = tally.sample(15.0)  # 50 jobs in the last 5 s
        assert (sample.jobs_per_second, sample.tokens_per_second) == (10.0, 20.0)

    def test_eta_from_recent_rate(self) -> None:
        """ETA is the remaining jobs divided by the recent job rate."""
        tally = BatchTally(jobs=100, already_done=0, now=0.0)
        for _ in range(20):
            tally.record_success(prompt_tokens=0, completion_tokens=0)
        assert tally.sample(4.0).eta_seconds == 16.0

    def test_eta_unknown_before_any_progress(self) -> None:
        """With nothing done yet there is no ETA."""
        assert BatchTally(jobs=5, already_done=0, now=0.0).sample(1.0).eta_seconds is None

    def test_eta_zero_when_nothing_remains(self) -> None:
        """A fully resumed batch has an ETA of zero."""
        assert BatchTally(jobs=5, already_done=5, now=0.0).sample(1.0).eta_seconds == 0.0

    def test_sample_done_counts_earlier_runs(self) -> None:
        """The sample's done count includes jobs answered by an earlier run."""
        tally = BatchTally(jobs=5, already_done=2, now=0.0)
        tally.record_failure("x")
        assert tally.sample(1.0).done == 3

    def test_error_codes_are_bounded(self) -> None:
        """Beyond 50 distinct error codes the rest are counted as other."""
        tally = BatchTally(jobs=100, already_done=0, now=0.0)
        for i in range(60):
            tally.record_failure(f"code_{i}")
        errors = tally.summary(input_path="i", output_path="o", endpoint="e", now=1.0).errors_by_code
        assert (len(errors), errors["other"]) == (51, 10)

    def test_summary_freezes_counts(self) -> None:
        """The summary carries counts, tokens, not_run and elapsed time, errors sorted by frequency."""
        tally = BatchTally(jobs=6, already_done=1, now=10.0)
        tally.record_success(prompt_tokens=10, completion_tokens=30)
        tally.record_failure("b")
        tally.record_failure("a")
        tally.record_failure("a")
        result = tally.summary(input_path="i", output_path="o", endpoint="e", now=12.0, retries=2)
        assert (result.succeeded, result.failed, result.not_run, result.elapsed_seconds, result.tokens_per_second,
                list(result.errors_by_code.items()), result.retries) == (1, 3, 1, 2.0, 20.0, [("a", 2), ("b", 1)], 2)


class TestBatchSummary:
    def test_exit_code_success(self) -> None:
        """A clean batch exits 0."""
        assert summary(succeeded=10).exit_code == 0

    def test_exit_code_failures(self) -> None:
        """A batch with failed jobs exits 1."""
        assert summary(succeeded=9, failed=1).exit_code == 1

    def test_exit_code_signals(self) -> None:
        """Interrupted batches exit 128 + the signal number."""
        assert (summary(interrupted_by="SIGINT").exit_code, summary(interrupted_by="SIGTERM").exit_code) == (130, 143)

    def test_complete_and_rates(self) -> None:
        """complete means nothing left to run; jobs_per_second counts this run's results."""
        done = summary(succeeded=8, failed=2, elapsed_seconds=5.0)
        assert (done.complete, summary(not_run=1).complete, done.jobs_per_second) == (True, False, 2.0)

    def test_json_round_trip(self) -> None:
        """The summary encodes to JSON and back unchanged (what --summary-json writes)."""
        original = summary(errors_by_code={"x": 1}, interrupted_by="SIGTERM")
        assert msgspec.json.decode(msgspec.json.encode(original), type=BatchSummary) == original
