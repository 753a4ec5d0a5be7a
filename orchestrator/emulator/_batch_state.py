"""Where one Batch API batch stands at emulated time ``now``: status, timestamps, lines due (pure: no IO, no trio).

Groq's batch statuses (groq-python ``src/groq/types/batch_retrieve_response.py``, snapshot 2026-08-18) move
one way only::

    validating -> in_progress -> finalizing -> completed
    validating -> failed                       (a line of the input file is invalid)
    validating | in_progress -> expired        (the completion window ran out before every line ran)
    validating | in_progress -> cancelling -> cancelled

The emulator's pace, from its settings (all emulated seconds):

- the batch is ``validating`` for ``validation_seconds`` after creation, then ``failed`` or ``in_progress``;
- in progress, line ``k`` (1-based) runs at ``in_progress_at + k / lines_per_second``;
- when the last line has run the batch is ``finalizing`` for ``finalizing_seconds``, then ``completed``;
- if the window (``expires_at = created + window``) ends first, the batch is ``expired`` at that moment: the
  lines that ran are kept, the others are written off (the runner puts them in the error file). With
  ``expire_fraction`` set, the batch expires as soon as ``floor(fraction * total)`` lines have run instead
  (a fault knob: "a batch that expires half done"); ``floor`` keeps at least one line unrun for any fraction < 1;
- a cancel (allowed while ``validating`` or ``in_progress``) stops the lines at once: ``cancelling`` for
  ``finalizing_seconds``, then ``cancelled``, the unrun lines written off.

Everything follows from the creation time, the pace, the validation result and the cancel time, so the
record is a value the emulator advances lazily: on any request it asks :meth:`BatchState.due` how many
lines may run by now, runs them, records each outcome, writes off what :meth:`BatchState.write_off_due`
says, and reads :meth:`BatchState.status`. Time must never go backwards between calls.
"""

from __future__ import annotations

import math
from typing import Final, Literal

import msgspec

__all__ = ["CANCELLABLE", "TERMINAL", "BatchPace", "BatchState", "BatchTimes", "Status"]

Status = Literal["validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"]
#: Statuses a batch never leaves.
TERMINAL: Final = frozenset({"failed", "completed", "expired", "cancelled"})
#: Statuses in which a cancel is accepted (later ones have nothing left to stop).
CANCELLABLE: Final = frozenset({"validating", "in_progress"})

_Outcome = Literal["completed", "expired", "cancelled", "failed", "undecided"]


class BatchPace(msgspec.Struct, frozen=True, kw_only=True):
    """How fast the emulator moves a batch along (emulated seconds; see the module docstring)."""

    validation_seconds: float = 2.0
    lines_per_second: float = 1000.0
    finalizing_seconds: float = 1.0
    expire_fraction: float | None = None

    def __post_init__(self) -> None:
        for name in ("validation_seconds", "finalizing_seconds"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}={value!r} must be a finite number of seconds >= 0")
        if not (math.isfinite(self.lines_per_second) and self.lines_per_second > 0):
            raise ValueError(f"lines_per_second={self.lines_per_second!r} must be a finite number > 0")
        fraction = self.expire_fraction
        if fraction is not None and not (math.isfinite(fraction) and 0 <= fraction < 1):
            raise ValueError(f"expire_fraction={fraction!r} must be None or a number with 0 <= fraction < 1")


class BatchTimes(msgspec.Struct, frozen=True, kw_only=True):
    """The moments (emulated seconds) a batch has reached by some ``now``; None for those still ahead."""

    in_progress_at: float | None = None
    finalizing_at: float | None = None
    completed_at: float | None = None
    failed_at: float | None = None
    expired_at: float | None = None
    cancelling_at: float | None = None
    cancelled_at: float | None = None


class _Plan(msgspec.Struct, frozen=True):
    """The whole life of a batch as far as it is decided: when lines start and stop, and how it ends."""

    outcome: _Outcome
    start: float | None  # in_progress_at
    stop: float  # when lines stop running (the end of in_progress; the failure or cancel time)
    stop_count: int  # lines run by ``stop``
    end: float  # when the outcome is reached (after finalizing / cancelling)


class BatchState(msgspec.Struct, kw_only=True):
    """One batch's clock and counters.

    Attributes:
        created: emulated creation time.
        window: the completion window in seconds (``expires_at = created + window``).
        pace: validation, line and finalizing pace, and the expiry fault.
        total: request lines in the input file, once validated (None before).
        valid: the validation result (None until :meth:`validated`).
        cancel_at: when a cancel was accepted, if one was.
        cancel_count: lines that had run at ``cancel_at`` (the cancel freezes that number).
        succeeded, errored: lines run, by outcome (output file and error file).
        written_off: lines never run (expired or cancelled), reported in the error file.
    """

    created: float
    window: float
    pace: BatchPace
    total: int | None = None
    valid: bool | None = None
    cancel_at: float | None = None
    cancel_count: int = 0
    succeeded: int = 0
    errored: int = 0
    written_off: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.window) and self.window > 0):
            raise ValueError(f"window={self.window!r} must be a finite number of seconds > 0")

    # ------------------------------------------------------------------ fixed moments

    @property
    def expires_at(self) -> float:
        """When the completion window ends."""
        return self.created + self.window

    @property
    def validated_at(self) -> float:
        """When validation ends (the batch is then failed or in progress, unless it expired or was cancelled)."""
        return self.created + self.pace.validation_seconds

    @property
    def ran(self) -> int:
        """Lines run so far (succeeded or errored)."""
        return self.succeeded + self.errored

    # ------------------------------------------------------------------ what the runner does

    def needs_validation(self, now: float) -> bool:
        """Whether validation is due by ``now`` and not yet done (then call :meth:`validated` first)."""
        if self.valid is not None or now < self.validated_at or self.validated_at >= self.expires_at:
            return False
        return self.cancel_at is None or self.cancel_at >= self.validated_at

    def validated(self, total: int, valid: bool) -> None:
        """Record the validation result: ``total`` request lines, and whether all were well formed.

        Raises:
            ValueError: validated twice, or a valid batch of no lines (an empty file fails validation).
        """
        if self.valid is not None:
            raise ValueError("the batch is already validated")
        if total < 0 or (valid and total < 1):
            raise ValueError(f"total={total!r} must be >= 1 for a valid batch (>= 0 for an invalid one)")
        self.total, self.valid = total, valid

    def due(self, now: float) -> int:
        """How many more lines may run by ``now``."""
        return max(0, self.lines_by(now) - self.ran)

    def record(self, ok: bool) -> None:
        """Record one line run: ``ok`` for the output file, else the error file.

        Raises:
            ValueError: more lines than the batch has.
        """
        if self.total is None or self.ran + self.written_off >= self.total:
            raise ValueError(f"no line left to run: {self.ran} run of {self.total}")
        if ok:
            self.succeeded += 1
        else:
            self.errored += 1

    def write_off_due(self, now: float) -> int:
        """Lines to write off now: those that will never run, once the batch is expired or cancelled."""
        if self.status(now) not in ("expired", "cancelled") or self.total is None:
            return 0
        return max(0, self.total - self._plan().stop_count - self.written_off)

    def record_written_off(self, count: int) -> None:
        """Record ``count`` lines written off (the runner put them in the error file); 0 is a no-op."""
        if count == 0:
            return
        if count < 0 or self.total is None or self.ran + self.written_off + count > self.total:
            raise ValueError(f"cannot write off {count} lines: {self.ran} run, {self.written_off} written off of {self.total}")
        self.written_off += count

    def cancel(self, now: float) -> bool:
        """Cancel at ``now`` if the batch is still cancellable; False (and no change) otherwise.

        Raises:
            ValueError: validation is due and was not recorded first.
        """
        if self.needs_validation(now):
            raise ValueError("validate the batch before cancelling it")
        if self.status(now) not in CANCELLABLE:
            return False
        self.cancel_count = self.lines_by(now)
        self.cancel_at = now
        return True

    # ------------------------------------------------------------------ where it stands

    def lines_by(self, now: float) -> int:
        """Lines that have run by ``now``, by the pace (the runner catches up to this number)."""
        plan = self._plan()
        if plan.start is None or now < plan.start:
            return 0
        if now >= plan.stop:
            return plan.stop_count
        return min(plan.stop_count, max(0, math.floor((now - plan.start) * self.pace.lines_per_second)))

    def status(self, now: float) -> Status:
        """The status at ``now``."""
        plan = self._plan()
        if plan.outcome == "undecided":
            return "validating"
        if plan.start is None:  # failed, expired or cancelled while validating
            first = plan.end if plan.outcome != "cancelled" else plan.stop
            if now < first:
                return "validating"
        elif now < plan.start:
            return "validating"
        if now < plan.stop:
            return "in_progress"
        if now >= plan.end:
            return plan.outcome  # type: ignore[return-value]
        return "finalizing" if plan.outcome == "completed" else "cancelling"

    def times(self, now: float) -> BatchTimes:
        """The moments reached by ``now``."""
        plan = self._plan()
        if plan.outcome == "undecided":
            return BatchTimes()

        def reached(moment: float | None) -> float | None:
            return moment if moment is not None and moment <= now else None

        start = reached(plan.start)
        if plan.outcome == "completed":
            return BatchTimes(in_progress_at=start, finalizing_at=reached(plan.stop), completed_at=reached(plan.end))
        if plan.outcome == "failed":
            return BatchTimes(failed_at=reached(plan.end))
        if plan.outcome == "expired":
            return BatchTimes(in_progress_at=start, expired_at=reached(plan.end))
        return BatchTimes(in_progress_at=start, cancelling_at=reached(plan.stop), cancelled_at=reached(plan.end))

    def counts(self) -> tuple[int, int, int]:
        """``(total, completed, failed)`` as Groq's ``request_counts`` reports them (total 0 until validated)."""
        return self.total or 0, self.succeeded, self.errored + self.written_off

    def _plan(self) -> _Plan:
        """The batch's life as decided so far (validation result and cancel included)."""
        validated, expires, cancel = self.validated_at, self.expires_at, self.cancel_at
        finalizing = self.pace.finalizing_seconds
        if cancel is not None and cancel < validated and cancel < expires:
            return _Plan("cancelled", None, cancel, 0, cancel + finalizing)
        if expires <= validated:
            return _Plan("expired", None, expires, 0, expires)
        if self.valid is None or self.total is None:
            return _Plan("undecided", None, math.inf, 0, math.inf)
        if not self.valid:
            return _Plan("failed", None, validated, 0, validated)
        return self._running_plan(validated)

    def _running_plan(self, start: float) -> _Plan:
        """The plan of a valid batch that starts at ``start``: completed, expired or cancelled."""
        total = self.total or 0
        rate = self.pace.lines_per_second
        stop, count, outcome = start + total / rate, total, "completed"
        fraction = self.pace.expire_fraction
        if fraction is not None:
            expire_count = math.floor(fraction * total)  # < total for fraction < 1
            stop, count, outcome = start + expire_count / rate, expire_count, "expired"
        if self.expires_at < stop:
            by_window = min(count, max(0, math.floor((self.expires_at - start) * rate)))
            stop, count, outcome = self.expires_at, min(by_window, total - 1), "expired"
        if self.cancel_at is not None and self.cancel_at < stop:
            return _Plan("cancelled", start, self.cancel_at, self.cancel_count, self.cancel_at + self.pace.finalizing_seconds)
        end = stop + self.pace.finalizing_seconds if outcome == "completed" else stop
        return _Plan(outcome, start, stop, count, end)  # type: ignore[arg-type]
