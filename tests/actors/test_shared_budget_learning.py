"""The shared budget on a paid account: what 429 and 413 bodies teach travels to every worker, plans are recognised."""

from __future__ import annotations

from actors._budget import LimitSources, ModelLimits, StartingLimits
from actors._shared_budget import LimitObservation, SharedRateBudget, SyncReply, WindowLevels

FREE = StartingLimits(
    ModelLimits(rpm=30, rpd=1000, tpm=8000, tpd=200_000),
    LimitSources(rpm="tier", rpd="tier", tpm="tier", tpd="tier"),
    tier="free",
)
DEVELOPER = StartingLimits(
    ModelLimits(rpm=1000, rpd=500_000, tpm=250_000, tpd=None),
    LimitSources(rpm="tier", rpd="tier", tpm="tier", tpd="tier"),
    tier="developer",
)
PROBED = StartingLimits(ModelLimits(rpm=30, rpd=1000, tpm=8000, tpd=200_000), LimitSources(rpm="probe", rpd="probe", tpm="probe", tpd="probe"))


def make(start: StartingLimits = FREE, **options: object) -> SharedRateBudget:
    return SharedRateBudget("m", start, 0.0, owner="w1", lease_ttl=3.0, **options)  # type: ignore[arg-type]


class TestLearnedLimitsAreShared:
    def test_a_429_that_states_its_limit_travels_as_an_observation(self) -> None:
        budget = make()
        budget.observe_rate_limited(0.06, "RPM", 1.0, limit=1000)
        assert budget.limits.rpm == 1000 and budget.snapshot(1.0).sources.rpm == "rate-limit"
        request = budget.begin_sync(1.0)
        assert LimitObservation(window="rpm", limit=1000) in request.observations
        assert request.pause is not None and request.pause.window == "rpm"

    def test_a_413_teaches_every_worker(self) -> None:
        budget = make()
        budget.learn_limit("TPM", 6000, "request-too-large", 0.0)
        assert budget.begin_sync(0.0).observations == (LimitObservation(window="tpm", limit=6000),)
        assert budget.snapshot(0.0).sources.tpm == "request-too-large"

    def test_itpm_and_otpm_are_not_kept_in_the_shared_windows(self) -> None:
        budget = make()
        budget.learn_limit("OTPM", 300, "rate-limit", 0.0)
        assert budget.begin_sync(0.0).observations == ()

    def test_a_limit_another_worker_learned_is_marked_shared(self) -> None:
        budget = make()
        request = budget.begin_sync(0.0)
        budget.end_sync(request, SyncReply(limits=WindowLevels(rpm=1000, rpd=1000, tpm=8000, tpd=200_000)), sent_at=0.0, now=0.0)
        snapshot = budget.snapshot(0.0)
        assert snapshot.limits.rpm == 1000 and snapshot.sources.rpm == "shared"
        assert snapshot.sources.tpm == "tier"


class TestPlansAndProbes:
    def test_developer_headers_become_this_workers_defaults(self) -> None:
        budget = make(recognise=lambda rpd, tpm: DEVELOPER if (rpd, tpm) == (500_000, 250_000) else None)
        budget.observe_headers({"x-ratelimit-limit-requests": "500000", "x-ratelimit-limit-tokens": "250000"}, 0.0)
        request = budget.begin_sync(0.0)
        assert request.defaults == {"rpm": 1000, "rpd": 1000, "tpm": 8000}  # TPD: the table has none
        assert budget.limits.rpm == 1000 and budget.snapshot(0.0).tier == "developer"

    def test_probed_windows_are_not_enforced_in_the_shared_windows(self) -> None:
        """A lease-based probe would let each worker grow its own guess: until a 429 states it, there is no limit."""
        budget = make(PROBED)
        assert budget.limits == ModelLimits()
        assert budget.begin_sync(0.0).defaults == {}
        assert budget.snapshot(0.0).sources == LimitSources(rpm="probe", rpd="probe", tpm="probe", tpd="probe")

    def test_a_configured_cap_is_kept_against_the_store(self) -> None:
        budget = make(StartingLimits.configured(ModelLimits(rpm=100)))
        request = budget.begin_sync(0.0)
        budget.end_sync(request, SyncReply(limits=WindowLevels(rpm=1000)), sent_at=0.0, now=0.0)
        assert budget.limits.rpm == 100 and budget.snapshot(0.0).sources.rpm == "configured"
