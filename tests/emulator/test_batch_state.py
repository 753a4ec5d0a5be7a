"""The Batch API's pure clock: statuses, timestamps and lines due, by plain calls and by hypothesis."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from orchestrator.emulator._batch_state import CANCELLABLE, TERMINAL, BatchPace, BatchState, BatchTimes

PACE = BatchPace(validation_seconds=2.0, lines_per_second=10.0, finalizing_seconds=1.0)
DAY = 86_400.0

#: Every status a status may become next (the one-way arrows of the module docstring).
NEXT = {
    "validating": {"failed", "in_progress", "expired", "cancelling", "finalizing", "completed", "cancelled"},
    "in_progress": {"finalizing", "completed", "expired", "cancelling", "cancelled"},
    "finalizing": {"completed"},
    "cancelling": {"cancelled"},
    "failed": set(),
    "completed": set(),
    "expired": set(),
    "cancelled": set(),
}


def catch_up(state: BatchState, now: float, *, total: int, valid: bool = True, ok: bool = True) -> None:
    """Do what the runner does at ``now``: validate, run the due lines, write off the lost ones."""
    if state.needs_validation(now):
        state.validated(total, valid)
    for _ in range(state.due(now)):
        state.record(ok)
    state.record_written_off(state.write_off_due(now))


class TestHappyPath:
    def test_validating_in_progress_finalizing_completed(self) -> None:
        """20 lines at 10/s: in progress at 2 s, finalizing at 4 s, completed at 5 s."""
        state = BatchState(created=100.0, window=DAY, pace=PACE)
        seen = []
        for now in (100.0, 101.9, 102.0, 103.0, 104.0, 104.5, 105.0, 1e9):
            catch_up(state, now, total=20)
            seen.append((state.status(now), state.counts()))
        assert seen == [
            ("validating", (0, 0, 0)),
            ("validating", (0, 0, 0)),
            ("in_progress", (20, 0, 0)),
            ("in_progress", (20, 10, 0)),
            ("finalizing", (20, 20, 0)),
            ("finalizing", (20, 20, 0)),
            ("completed", (20, 20, 0)),
            ("completed", (20, 20, 0)),
        ]
        assert state.times(1e9) == BatchTimes(in_progress_at=102.0, finalizing_at=104.0, completed_at=105.0)
        assert state.times(103.0) == BatchTimes(in_progress_at=102.0)

    def test_lines_follow_the_pace(self) -> None:
        """Line k runs at in_progress_at + k / rate, never before."""
        state = BatchState(created=0.0, window=DAY, pace=PACE)
        state.validated(100, True)
        assert [state.lines_by(t) for t in (1.0, 2.0, 2.05, 2.1, 3.0, 11.9, 12.0, 50.0)] == [0, 0, 0, 1, 10, 99, 100, 100]

    def test_errored_lines_are_failed_counts(self) -> None:
        """A line that ran and failed is a failed count; the batch still completes."""
        state = BatchState(created=0.0, window=DAY, pace=PACE)
        catch_up(state, 2.0, total=3)
        state.record(True)
        state.record(False)
        state.record(True)
        assert (state.status(10.0), state.counts()) == ("completed", (3, 2, 1))

    def test_validation_failure(self) -> None:
        """An invalid file fails at the end of validation; nothing runs, no timestamps but failed_at."""
        state = BatchState(created=0.0, window=DAY, pace=PACE)
        catch_up(state, 5.0, total=7, valid=False)
        assert (state.status(1.0), state.status(2.0), state.due(100.0), state.counts()) == ("validating", "failed", 0, (7, 0, 0))
        assert state.times(100.0) == BatchTimes(failed_at=2.0)

    def test_zero_seconds_of_finalizing(self) -> None:
        """With no finalizing time, the last line completes the batch."""
        state = BatchState(created=0.0, window=DAY, pace=BatchPace(validation_seconds=0, lines_per_second=1, finalizing_seconds=0))
        catch_up(state, 0.0, total=2)
        assert [state.status(t) for t in (0.0, 1.0, 2.0)] == ["in_progress", "in_progress", "completed"]


class TestExpiry:
    def test_window_runs_out(self) -> None:
        """A 10 s window with 100 lines at 10/s: 80 lines run from 2 s to 10 s, 20 are written off."""
        state = BatchState(created=0.0, window=10.0, pace=PACE)
        catch_up(state, 5.0, total=100)
        assert (state.status(5.0), state.counts()) == ("in_progress", (100, 30, 0))
        catch_up(state, 10.0, total=100)
        assert (state.status(10.0), state.ran, state.written_off, state.counts()) == ("expired", 80, 20, (100, 80, 20))
        assert state.times(10.0) == BatchTimes(in_progress_at=2.0, expired_at=10.0)

    def test_expire_fraction_half_done(self) -> None:
        """With expire_fraction 0.5 a 20-line batch expires right after its 10th line."""
        pace = BatchPace(validation_seconds=2.0, lines_per_second=10.0, finalizing_seconds=1.0, expire_fraction=0.5)
        state = BatchState(created=0.0, window=DAY, pace=pace)
        catch_up(state, 2.5, total=20)
        assert (state.status(2.5), state.ran) == ("in_progress", 5)
        catch_up(state, 3.0, total=20)
        assert (state.status(3.0), state.ran, state.written_off) == ("expired", 10, 10)

    def test_expire_fraction_zero_expires_at_start(self) -> None:
        """Fraction 0: the batch expires the moment it would start, with every line written off."""
        pace = BatchPace(validation_seconds=1.0, lines_per_second=10.0, finalizing_seconds=1.0, expire_fraction=0.0)
        state = BatchState(created=0.0, window=DAY, pace=pace)
        catch_up(state, 1.0, total=4)
        assert (state.status(0.5), state.status(1.0), state.counts()) == ("validating", "expired", (4, 0, 4))

    def test_expiry_during_validation(self) -> None:
        """A window shorter than validation expires the batch unvalidated, with nothing to count."""
        state = BatchState(created=0.0, window=1.0, pace=PACE)
        assert not state.needs_validation(5.0)
        assert (state.status(0.5), state.status(1.0), state.counts()) == ("validating", "expired", (0, 0, 0))


class TestCancel:
    def test_cancel_in_progress(self) -> None:
        """A cancel stops the lines: cancelling for the finalizing time, then cancelled, the rest written off."""
        state = BatchState(created=0.0, window=DAY, pace=PACE)
        catch_up(state, 3.0, total=50)
        assert state.cancel(3.0)
        catch_up(state, 3.5, total=50)
        assert (state.status(3.5), state.ran, state.written_off) == ("cancelling", 10, 0)
        catch_up(state, 4.0, total=50)
        assert (state.status(4.0), state.counts()) == ("cancelled", (50, 10, 40))
        assert state.times(4.0) == BatchTimes(in_progress_at=2.0, cancelling_at=3.0, cancelled_at=4.0)

    def test_cancel_while_validating(self) -> None:
        """A batch cancelled before validation ends is never validated and counts nothing."""
        state = BatchState(created=0.0, window=DAY, pace=PACE)
        assert state.cancel(1.0)
        assert not state.needs_validation(10.0)
        assert [state.status(t) for t in (0.5, 1.0, 2.0)] == ["validating", "cancelling", "cancelled"]
        assert state.counts() == (0, 0, 0)

    @pytest.mark.parametrize("now", [4.5, 10.0])
    def test_finalizing_and_done_batches_refuse(self, now: float) -> None:
        """Finalizing or completed: nothing left to stop, the cancel is refused and changes nothing."""
        state = BatchState(created=0.0, window=DAY, pace=PACE)
        catch_up(state, now, total=20)
        before = state.status(now)
        assert (state.cancel(now), state.status(now), state.cancel_at) == (False, before, None)

    def test_cancel_before_recording_validation_is_a_bug(self) -> None:
        """The runner must record a due validation before it cancels."""
        with pytest.raises(ValueError, match="validate the batch before cancelling"):
            BatchState(created=0.0, window=DAY, pace=PACE).cancel(3.0)


class TestMisuse:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"lines_per_second": 0.0}, "lines_per_second=0.0"),
            ({"validation_seconds": -1.0}, "validation_seconds=-1.0"),
            ({"finalizing_seconds": math.inf}, "finalizing_seconds=inf"),
            ({"expire_fraction": 1.0}, "expire_fraction=1.0"),
        ],
    )
    def test_pace_values_are_named(self, kwargs: dict[str, float], message: str) -> None:
        """Each bad pace value is refused with its name and value."""
        with pytest.raises(ValueError, match=message):
            BatchPace(**kwargs)

    def test_counts_cannot_overflow(self) -> None:
        """Recording more lines than the batch has, or validating twice, is refused."""
        state = BatchState(created=0.0, window=DAY, pace=PACE)
        state.validated(1, True)
        state.record(True)
        with pytest.raises(ValueError, match="no line left"):
            state.record(True)
        with pytest.raises(ValueError, match="already validated"):
            state.validated(1, True)
        with pytest.raises(ValueError, match="cannot write off"):
            state.record_written_off(1)

    def test_a_valid_batch_has_lines(self) -> None:
        with pytest.raises(ValueError, match="total=0"):
            BatchState(created=0.0, window=DAY, pace=PACE).validated(0, True)

    def test_window_must_be_positive(self) -> None:
        with pytest.raises(ValueError, match="window=0.0"):
            BatchState(created=0.0, window=0.0, pace=PACE)


# --------------------------------------------------------------------------- properties

paces = st.builds(
    BatchPace,
    validation_seconds=st.floats(0, 50),
    lines_per_second=st.floats(0.05, 500),
    finalizing_seconds=st.floats(0, 50),
    expire_fraction=st.none() | st.floats(0, 0.999),
)
#: One step of a run: how far time moves, whether to try a cancel then, and whether the due lines succeed.
steps = st.lists(st.tuples(st.floats(0, 40), st.booleans(), st.booleans()), max_size=30)


@hypothesis_settings(max_examples=400, deadline=None)
@given(
    pace=paces,
    window=st.floats(0.5, 2_000),
    total=st.integers(1, 300),
    valid=st.booleans(),
    created=st.floats(0, 1e6),
    plan=steps,
)
def test_any_run_adds_up_and_only_moves_forward(
    pace: BatchPace, window: float, total: int, valid: bool, created: float, plan: list[tuple[float, bool, bool]]
) -> None:
    """Whatever the pace, window, cancels and outcomes: counts add up, statuses and timestamps only move forward,
    and a finished batch accounts for every line."""
    state = BatchState(created=created, window=window, pace=pace)
    now = created
    status = state.status(now)
    reached: dict[str, float] = {}
    for delta, cancel, ok in [*plan, (1e7, False, True)]:
        now += delta
        catch_up(state, now, total=total, valid=valid, ok=ok)
        if cancel and state.status(now) in CANCELLABLE:
            assert state.cancel(now)
            catch_up(state, now, total=total, valid=valid, ok=ok)
        following = state.status(now)
        assert following == status or following in NEXT[status], (status, following)
        status = following
        counted, completed, failed = state.counts()
        assert completed + failed <= counted and state.ran <= state.lines_by(now) <= (state.total or 0)
        assert state.due(now) == 0 and state.write_off_due(now) == 0
        for name, moment in msgspec_items(state.times(now)):
            assert moment <= now and reached.setdefault(name, moment) == moment
        if status in ("completed", "expired", "cancelled"):
            assert completed + failed == counted
        if status == "completed":
            assert (state.ran, state.written_off) == (counted, 0)
        if status == "failed":
            assert (valid, completed, failed) == (False, 0, 0)
    assert status in TERMINAL  # 10 million seconds later, every batch is over
    expected = {"completed": "completed_at", "failed": "failed_at", "expired": "expired_at", "cancelled": "cancelled_at"}
    assert expected[status] in reached


def msgspec_items(times: BatchTimes) -> list[tuple[str, float]]:
    """The timestamps that are set."""
    return [(name, getattr(times, name)) for name in times.__struct_fields__ if getattr(times, name) is not None]


@hypothesis_settings(max_examples=200, deadline=None)
@given(pace=paces, total=st.integers(1, 500), times=st.lists(st.floats(0, 3_000), min_size=1, max_size=40))
def test_lines_by_never_decreases(pace: BatchPace, total: int, times: list[float]) -> None:
    """The lines due by ``now`` never go down as time goes on, and never pass the total."""
    state = BatchState(created=0.0, window=1_000.0, pace=pace)
    state.validated(total, True)
    counts = [state.lines_by(t) for t in sorted(times)]
    assert counts == sorted(counts) and all(0 <= count <= total for count in counts)


@hypothesis_settings(max_examples=200, deadline=None)
@given(total=st.integers(1, 1_000), fraction=st.floats(0, 0.999))
def test_expire_fraction_runs_that_fraction(total: int, fraction: float) -> None:
    """With a long window, a batch with expire_fraction f runs exactly floor(f * total) lines, then expires."""
    pace = BatchPace(validation_seconds=1.0, lines_per_second=100.0, finalizing_seconds=1.0, expire_fraction=fraction)
    state = BatchState(created=0.0, window=DAY, pace=pace)
    catch_up(state, DAY, total=total)
    assert (state.status(DAY), state.ran, state.written_off) == ("expired", math.floor(fraction * total), total - math.floor(fraction * total))
