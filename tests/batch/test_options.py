"""The batch options struct and the run state both runners share, checked directly (no files, no client)."""

from __future__ import annotations

import signal
from typing import Any

import msgspec
import pytest

from orchestrator.batch._options import BatchOptions, batch_options
from orchestrator.batch._run import ABORTS_RUN, RunState
from orchestrator.batch._summary import BatchTally
from orchestrator._errors import (
    AuthenticationError,
    CircuitOpenError,
    ConfigError,
    CoordinationError,
    RateLimitError,
)


class TestBatchOptions:
    def test_the_defaults_are_run_batchs(self) -> None:
        """An empty BatchOptions is what run_batch with no keywords always meant."""
        options = BatchOptions()
        assert (options.grace, options.quiet, options.handle_signals, options.metrics_host, options.concurrency,
                options.ray, options.ray_actors) == (10.0, False, True, "127.0.0.1", None, None, 4)

    def test_it_is_frozen(self) -> None:
        """Once built, the options cannot drift while they travel."""
        with pytest.raises(AttributeError):
            BatchOptions().grace = 1.0  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("keywords", "field", "words"),
        [
            ({"concurrency": 0}, "concurrency", "at least 1"),
            ({"grace": -1.0}, "grace", "zero or more"),
            ({"ray": "local", "priority_field": "p"}, "priority_field", "cannot be used with ray"),
            ({"ray": "local", "via": "batch-api"}, "via", "cannot be used with ray"),
            ({"ray": "local", "ray_actors": 0}, "ray_actors", "at least 1"),
            ({"ray": "local", "ray_batch_size": 0}, "ray_batch_size", "at least 1"),
            ({"via": "carrier-pigeon"}, "via", "live, batch-api, auto"),
            ({"via": "auto"}, "deadline", "required with via='auto'"),
            ({"via": "auto", "deadline": 0.0}, "deadline", "more than 0"),
            ({"completion_window": "12h"}, "completion_window", "24h to 7d"),
            ({"completion_window": "8d"}, "completion_window", "24h to 7d"),
            ({"completion_window": "1 day"}, "completion_window", "is not a duration"),
            ({"batch_rounds": 0}, "batch_rounds", "at least 1"),
            ({"batch_max_lines": 50_001}, "batch_max_lines", "50,000"),
            ({"poll_interval": 0.0}, "poll_interval", "more than 0"),
            ({"via": "batch-api", "priority_field": "p"}, "priority_field", "via='live' only"),
        ],
    )
    def test_a_bad_setting_is_a_config_error_naming_it(self, keywords: dict[str, Any], field: str, words: str) -> None:
        """Each rule that needs nothing but the options refuses on construction, naming the keyword."""
        with pytest.raises(ConfigError, match=words) as caught:
            BatchOptions(**keywords)
        assert caught.value.field == field

    @pytest.mark.parametrize("window", ["24h", "36h", "1d", "7d", "168h"])
    def test_every_completion_window_groq_accepts_is_accepted(self, window: str) -> None:
        assert BatchOptions(via="batch-api", completion_window=window).completion_window == window

    def test_keywords_apply_over_given_options_and_are_checked_again(self) -> None:
        """batch_options: the keywords beside ``options`` override it, and the result is validated."""
        base = BatchOptions(quiet=True, concurrency=4)
        assert batch_options(base, {}) is base
        assert batch_options(None, {"grace": 2.0}) == BatchOptions(grace=2.0)
        assert batch_options(base, {"concurrency": 8}) == msgspec.structs.replace(base, concurrency=8)
        with pytest.raises(ConfigError, match="concurrency"):
            batch_options(base, {"concurrency": 0})

    def test_an_unknown_keyword_is_a_type_error(self) -> None:
        """A misspelt keyword fails as it would on a function with that signature."""
        with pytest.raises(TypeError, match="concurency"):
            batch_options(None, {"concurency": 4})


class TestRunState:
    def state(self) -> RunState:
        return RunState(BatchTally(jobs=1, already_done=0, now=0.0))

    @pytest.mark.parametrize("error", [AuthenticationError("no"), CircuitOpenError("open"), CoordinationError("gone")])
    def test_a_run_level_error_stops_the_run_and_is_kept(self, error: Exception) -> None:
        """Both runners share one ABORTS_RUN: a lost Redis stops a one-machine batch as it stops a shared one."""
        state = self.state()
        assert isinstance(error, ABORTS_RUN)
        assert state.aborts(error)  # type: ignore[arg-type]
        assert state.aborts(AuthenticationError("later"))
        assert (state.stopping, state.fatal) == (True, error)

    def test_a_job_level_error_is_recorded_not_raised(self) -> None:
        """A 429 or no error at all is about the job: the run goes on."""
        state = self.state()
        assert not state.aborts(RateLimitError("slow down"))
        assert not state.aborts(None)
        assert (state.stopping, state.fatal) == (False, None)

    def test_the_first_signal_names_the_interruption(self) -> None:
        """stop() sets the flag; the first signal's name is the one the summary reports."""
        state = self.state()
        state.stop(signal.SIGTERM)
        state.stop(signal.SIGINT)
        assert (state.stopping, state.interrupted_by) == (True, "SIGTERM")
