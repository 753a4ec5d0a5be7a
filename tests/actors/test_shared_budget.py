"""The shared budget's local half: leases granted from synchronously, and what flows back (no Redis)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors._budget import ModelLimits, RequestExceedsLimit
from actors._shared_budget import (
    MAX_LEASES,
    LeaseGrant,
    LeaseRelease,
    LimitObservation,
    PauseReport,
    SharedRateBudget,
    SyncReply,
    WindowLevels,
)
from orchestrator import Config, ConfigError

LIMITS = ModelLimits(rpm=160, rpd=10_000, tpm=16_000, tpd=1_000_000)
TTL = 3.0


def make(now: float = 0.0, limits: ModelLimits = LIMITS, **options: object) -> SharedRateBudget:
    """A budget with 3 s leases, as against Groq's real minute."""
    options.setdefault("lease_ttl", TTL)
    return SharedRateBudget("m", limits, now, owner="w1", **options)  # type: ignore[arg-type]


def lease(budget: SharedRateBudget, requests: int, tokens: int, *, sent_at: float = 0.0, now: float = 0.0) -> None:
    """Run one round trip whose reply grants the lease asked for, sized ``requests``/``tokens``."""
    request = budget.begin_sync(sent_at)
    assert request.ask is not None
    grant = LeaseGrant(id=request.ask.id, requests=requests, tokens=tokens, ttl=request.ask.ttl)
    budget.end_sync(request, SyncReply(grant=grant), sent_at=sent_at, now=now)


class TestLeases:
    def test_a_fresh_budget_asks_for_a_lease_and_polls(self) -> None:
        """With nothing leased, a request waits about one round trip and a lease of 1/16 of each minute limit is asked."""
        budget = make()
        assert 0 < budget.try_acquire(300, 0.0) < 0.01
        assert budget.wants_sync(0.0)
        ask = budget.begin_sync(0.0).ask
        assert ask is not None
        assert (ask.need_requests, ask.need_tokens, ask.want_requests, ask.want_tokens, ask.ttl) == (1, 300, 10, 1000, TTL)

    def test_grants_come_from_the_lease_without_a_round_trip(self) -> None:
        """Once leased, requests are granted at once until the lease runs out; the last one prefetches."""
        budget = make()
        budget.try_acquire(300, 0.0)
        lease(budget, 3, 900)
        assert [budget.try_acquire(300, 0.1) for _ in range(2)] == [0.0, 0.0]
        assert not budget.wants_sync(0.1)
        assert budget.try_acquire(300, 0.2) == 0.0
        assert budget.held(0.2) == (0, 0) and budget.wants_sync(0.2)

    def test_asking_again_while_a_lease_travels_asks_once(self) -> None:
        """Polls made while a lease is on its way do not send a second ask once it has arrived."""
        budget = make()
        budget.try_acquire(100, 0.0)
        request = budget.begin_sync(0.0)
        budget.try_acquire(100, 0.001)
        budget.try_acquire(100, 0.002)
        grant = LeaseGrant(id=request.ask.id, requests=10, tokens=1000, ttl=TTL)
        budget.end_sync(request, SyncReply(grant=grant), sent_at=0.0, now=0.003)
        assert not budget.wants_sync(0.003)
        assert budget.try_acquire(100, 0.004) == 0.0 and not budget.wants_sync(0.004)

    def test_only_the_missing_part_is_needed(self) -> None:
        """Holding 100 tokens and a request, a 250-token job asks the store for just 150 tokens and no request."""
        budget = make()
        budget.try_acquire(10, 0.0)
        lease(budget, 5, 110)
        assert budget.try_acquire(10, 0.0) == 0.0
        assert budget.try_acquire(250, 0.0) > 0
        ask = budget.begin_sync(0.0).ask
        assert ask is not None and (ask.need_requests, ask.need_tokens) == (0, 150)

    def test_a_lease_ends_ttl_after_it_was_asked_for(self) -> None:
        """A lease asked for at 1.0 and received at 1.2 grants until 4.0, then its rest is released."""
        budget = make()
        budget.try_acquire(100, 1.0)
        lease(budget, 10, 1000, sent_at=1.0, now=1.2)
        assert budget.try_acquire(100, 3.99) == 0.0
        assert budget.try_acquire(100, 4.0) > 0
        request = budget.begin_sync(4.0)
        assert request.releases == (LeaseRelease(id="w1:m:1", requests=9, tokens=900),)

    def test_a_denial_is_waited_out_without_asking_again(self) -> None:
        """A reply of wait=2.5 makes requests wait until then, with no round trips meanwhile."""
        budget = make()
        budget.try_acquire(100, 0.0)
        request = budget.begin_sync(0.0)
        budget.end_sync(request, SyncReply(wait=2.5), sent_at=0.0, now=0.0)
        assert budget.try_acquire(100, 1.5) == 1.0
        assert not budget.wants_sync(1.5)
        assert 0 < budget.try_acquire(100, 2.5) < 0.01 and budget.wants_sync(2.5)

    def test_a_long_denial_is_rechecked_every_half_lease(self) -> None:
        """During a 10 s denial the lane is told to look again after half a lease lifetime, not 10 s."""
        budget = make()
        budget.try_acquire(100, 0.0)
        budget.end_sync(budget.begin_sync(0.0), SyncReply(wait=10.0), sent_at=0.0, now=0.0)
        assert budget.try_acquire(100, 1.0) == TTL / 2
        assert budget.try_acquire(100, 9.0) == 1.0

    def test_room_seen_in_a_reply_lifts_a_denial(self) -> None:
        """A later reply showing room for the job (others returned leases) ends the denial: the next try asks at once."""
        budget = make()
        budget.try_acquire(300, 0.0)
        budget.end_sync(budget.begin_sync(0.0), SyncReply(wait=10.0), sent_at=0.0, now=0.0)
        budget.refund(50, 0.1, granted_at=0.0)
        flush = budget.begin_sync(1.0)
        budget.end_sync(flush, SyncReply(remaining=WindowLevels(rpm=5, rpd=50, tpm=299, tpd=5000)), sent_at=1.0, now=1.0)
        assert budget.try_acquire(300, 1.0) == TTL / 2  # 299 tokens are not room for 300
        budget.refund(50, 1.1, granted_at=0.0)
        flush = budget.begin_sync(2.0)
        budget.end_sync(flush, SyncReply(remaining=WindowLevels(rpm=5, rpd=50, tpm=300, tpd=5000)), sent_at=2.0, now=2.0)
        assert 0 < budget.try_acquire(300, 2.0) < 0.01 and budget.begin_sync(2.0).ask is not None

    def test_holding_too_many_leases_returns_the_oldest(self) -> None:
        """A lease beyond MAX_LEASES pushes the oldest one's rest into the next request's releases."""
        budget = make(lease_ttl=100.0)
        for index in range(MAX_LEASES + 1):
            assert budget.try_acquire(5000, float(index)) > 0  # never fits: each round trip leases 10 more tokens
            lease(budget, 1, 10, sent_at=float(index), now=float(index))
        assert budget.held(5.0) == (MAX_LEASES, 10 * MAX_LEASES)
        assert budget.begin_sync(5.0).releases == (LeaseRelease(id="w1:m:1", requests=1, tokens=10),)

    def test_a_request_over_the_shared_limit_is_refused(self) -> None:
        """When the store says TPM is 500, a 600-token request raises RequestExceedsLimit naming TPM."""
        budget = make()
        budget.try_acquire(600, 0.0)
        request = budget.begin_sync(0.0)
        budget.end_sync(request, SyncReply(limits=WindowLevels(tpm=500), exceeds="TPM"), sent_at=0.0, now=0.0)
        with pytest.raises(RequestExceedsLimit) as caught:
            budget.try_acquire(600, 0.1)
        assert (caught.value.window, caught.value.limit, caught.value.requested) == ("TPM", 500, 600)

    def test_the_actor_is_woken_once_per_need(self) -> None:
        """Repeated asks while one is pending wake the actor once; a new need after the reply wakes it again."""
        calls: list[None] = []
        budget = make(on_wants_sync=lambda: calls.append(None))
        budget.try_acquire(100, 0.0)
        budget.try_acquire(100, 0.001)
        assert len(calls) == 1
        request = budget.begin_sync(0.002)
        budget.try_acquire(100, 0.003)
        assert len(calls) == 1
        budget.end_sync(request, SyncReply(wait=0.0), sent_at=0.002, now=0.004)
        assert len(calls) == 2

    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.tuples(st.just("job"), st.integers(0, 2000)),
                st.tuples(st.just("lease"), st.integers(0, 20), st.integers(0, 5000)),
                st.tuples(st.just("tick"), st.floats(0.0, 2.0)),
            ),
            max_size=60,
        )
    )
    def test_never_grants_more_than_was_leased(self, steps: list[tuple]) -> None:
        """Whatever the interleaving, every leased request and token is either granted once or released, never both."""
        budget = make()
        now = 0.0
        leased = [0, 0]
        granted = [0, 0]
        released = [0, 0]
        for step in steps:
            if step[0] == "job":
                if budget.try_acquire(step[1], now) == 0.0:
                    granted[0] += 1
                    granted[1] += step[1]
            elif step[0] == "lease":
                request = budget.begin_sync(now)
                for rest in request.releases:
                    released[0] += rest.requests
                    released[1] += rest.tokens
                if request.ask is not None:
                    grant = LeaseGrant(id=request.ask.id, requests=step[1], tokens=step[2], ttl=TTL)
                    budget.end_sync(request, SyncReply(grant=grant), sent_at=now, now=now)
                    leased[0] += step[1]
                    leased[1] += step[2]
                else:
                    budget.end_sync(request, SyncReply(), sent_at=now, now=now)
            else:
                now += step[1]
        for rest in budget.close(now).releases:
            released[0] += rest.requests
            released[1] += rest.tokens
        assert [granted[0] + released[0], granted[1] + released[1]] == leased


class TestWhatFlowsBack:
    def test_refunds_and_over_estimates_are_given_back_lazily(self) -> None:
        """A refund and an over-estimate become give-backs, sent only once flush_after has passed."""
        budget = make(flush_after=0.5)
        budget.refund(300, 1.0, granted_at=0.9)
        budget.reconcile(300, 120, 1.1, granted_at=0.9)
        assert not budget.wants_sync(1.4)
        assert budget.next_deadline(1.4) == 1.5 and budget.wants_sync(1.5)
        request = budget.begin_sync(1.5)
        assert (request.give_back_requests, request.give_back_tokens, request.extra_tokens) == (1, 480, 0)
        assert not budget.wants_sync(1.6)

    def test_an_under_estimate_is_spent(self) -> None:
        """Usage above the estimate travels as extra tokens to spend in the shared windows."""
        budget = make()
        budget.reconcile(100, 250, 1.0, granted_at=0.5)
        assert budget.begin_sync(2.0).extra_tokens == 150

    def test_a_give_back_for_an_old_grant_is_dropped(self) -> None:
        """A refund of a grant half a minute old is dropped: that grant may already have come back by itself."""
        budget = make()
        budget.refund(300, 40.0, granted_at=5.0)
        budget.reconcile(300, 100, 40.0, granted_at=5.0)
        assert not budget.wants_sync(100.0, due_only=False)

    def test_headers_teach_limits_at_once_and_travel_with_their_age(self) -> None:
        """A new TPM limit in the headers applies here at once, wakes a round trip, and carries its age."""
        budget = make()
        headers = {"x-ratelimit-limit-tokens": "8000", "x-ratelimit-remaining-tokens": "7000", "x-ratelimit-reset-tokens": "7.5s"}
        budget.observe_headers(headers, 1.0)
        assert budget.limits.tpm == 8000 and budget.wants_sync(1.0)
        request = budget.begin_sync(1.25)
        assert request.observations == (LimitObservation(window="tpm", limit=8000, remaining=7000, age=0.25),)

    def test_unchanged_limits_wait_for_the_next_round_trip(self) -> None:
        """Headers that only report remaining room do not cause a round trip of their own before flush_after."""
        budget = make(flush_after=0.5)
        budget.observe_headers({"X-RateLimit-Limit-Tokens": "16000", "X-RateLimit-Remaining-Tokens": "9000"}, 1.0)
        assert not budget.wants_sync(1.2) and budget.wants_sync(1.5)

    def test_a_429_pauses_here_at_once_and_is_reported(self) -> None:
        """A 429 pauses this worker immediately and sends the pause, with its window, right away."""
        budget = make()
        budget.observe_rate_limited(2.0, "TPM", 1.0)
        assert budget.try_acquire(100, 1.5) == 1.5
        assert budget.begin_sync(1.1).pause == PauseReport(retry_after=2.0, window="tpm", age=pytest.approx(0.1))

    def test_a_shared_pause_reaches_other_workers(self) -> None:
        """A reply saying the model is paused for 2 s makes this worker wait 2 s although it saw no 429."""
        budget = make(lease_ttl=10.0)
        budget.try_acquire(100, 0.0)
        lease(budget, 10, 1000)
        request = budget.begin_sync(1.0)
        budget.end_sync(request, SyncReply(paused_for=2.0), sent_at=1.0, now=1.0)
        assert budget.try_acquire(100, 1.0) == 2.0
        assert budget.try_acquire(100, 3.0) == 0.0

    def test_shared_limits_and_levels_show_in_the_snapshot(self) -> None:
        """The snapshot shows the store's limits and remaining room, with resets counted down since the reply."""
        budget = make()
        request = budget.begin_sync(0.0)
        reply = SyncReply(
            limits=WindowLevels(rpm=100, rpd=1000, tpm=5000, tpd=90_000),
            remaining=WindowLevels(rpm=90, rpd=-3, tpm=4000, tpd=80_000),
            full_in=WindowLevels(rpm=10.0, rpd=100.0, tpm=20.0, tpd=200.0),
        )
        budget.end_sync(request, reply, sent_at=0.0, now=1.0)
        snapshot = budget.snapshot(3.0)
        assert snapshot.limits == ModelLimits(rpm=100, rpd=1000, tpm=5000, tpd=90_000)
        assert (snapshot.remaining_requests_minute, snapshot.remaining_requests_day, snapshot.remaining_tokens_minute) == (90, 0, 4000)
        assert (snapshot.reset_requests_minute, snapshot.reset_tokens_day, snapshot.paused_until) == (8.0, 198.0, None)

    def test_close_returns_every_lease_and_flushes(self) -> None:
        """Closing releases the rest of every held lease and sends pending give-backs, asking for nothing."""
        budget = make()
        budget.try_acquire(100, 0.0)
        lease(budget, 10, 1000)
        budget.try_acquire(100, 0.1)
        budget.refund(100, 0.2, granted_at=0.1)
        request = budget.close(0.3)
        assert request.ask is None and request.releases == (LeaseRelease(id="w1:m:1", requests=9, tokens=900),)
        assert (request.give_back_requests, request.give_back_tokens) == (1, 100)

    def test_idle_only_without_leases_or_news(self) -> None:
        """A budget is idle (safe to forget) only when it holds no lease and has nothing to tell the store."""
        budget = make()
        assert budget.idle(0.0)
        budget.try_acquire(100, 0.0)
        lease(budget, 10, 1000)
        assert not budget.idle(1.0)
        request = budget.close(1.0)
        assert not budget.idle(1.0)  # the releases are on their way
        budget.end_sync(request, SyncReply(), sent_at=1.0, now=1.0)
        assert budget.idle(1.0)

    def test_request_ids_are_unique_per_round_trip(self) -> None:
        """Every request carries a fresh id, so the store can tell a retry from a new request."""
        budget = make()
        first = budget.begin_sync(0.0)
        budget.end_sync(first, SyncReply(), sent_at=0.0, now=0.0)
        assert first.id != budget.begin_sync(0.0).id

    @pytest.mark.parametrize(
        ("options", "message"),
        [({"time_scale": 0.0}, "time_scale=0.0"), ({"lease_fraction": 1.5}, "lease_fraction=1.5"), ({"lease_ttl": math.inf}, "lease_ttl=inf")],
    )
    def test_bad_settings_are_named(self, options: dict[str, float], message: str) -> None:
        """Out-of-range settings raise ValueError naming the setting and its value."""
        with pytest.raises(ValueError, match=message):
            make(**options)

    def test_negative_tokens_are_refused(self) -> None:
        """A negative token count is a bug in the caller, reported as such."""
        with pytest.raises(ValueError, match="tokens=-1"):
            make().try_acquire(-1, 0.0)


class TestRedisUrlSetting:
    def test_a_password_never_shows_in_repr(self) -> None:
        """Config's repr masks the Redis password; the setting itself keeps it for the connection."""
        config = Config(api_key="gsk_test", redis_url="redis://user:s3cret@127.0.0.1:6379/0")
        assert "s3cret" not in repr(config) and "redis://user:***@127.0.0.1:6379/0" in repr(config)
        assert config.redis_url == "redis://user:s3cret@127.0.0.1:6379/0"

    @pytest.mark.parametrize(
        ("url", "rule"),
        [
            ("http://127.0.0.1:6379", "must start with redis://"),
            ("redis://", "must name a host"),
            ("redis://127.0.0.1:0", "port from 1 to 65535"),
            ("redis://127.0.0.1:70000", "not a valid URL"),
            ("redis://127.0.0.1:6379/zero", "must be a number"),
            ("redis://127.0.0.1:6379 ", "whitespace"),
        ],
    )
    def test_bad_urls_are_refused_with_the_rule(self, url: str, rule: str) -> None:
        """Each malformed Redis URL is a ConfigError naming redis_url and what is wrong."""
        with pytest.raises(ConfigError, match=rule) as caught:
            Config(api_key="gsk_test", redis_url=url)
        assert caught.value.field == "redis_url"

    def test_a_refused_url_does_not_echo_its_password(self) -> None:
        """The error for a bad URL with a password shows it masked."""
        with pytest.raises(ConfigError) as caught:
            Config(api_key="gsk_test", redis_url="redis://:hunter2@127.0.0.1:99999/0")
        assert "hunter2" not in str(caught.value) and ":***@" in str(caught.value)

    def test_the_environment_variable_is_read(self) -> None:
        """GROQ_ORCH_REDIS_URL sets redis_url; a bad one is blamed on the variable."""
        environ = {"GROQ_API_KEY": "gsk_test", "GROQ_ORCH_REDIS_URL": "rediss://cache.internal:6380/2"}
        assert Config.from_env(environ).redis_url == "rediss://cache.internal:6380/2"
        with pytest.raises(ConfigError) as caught:
            Config.from_env({**environ, "GROQ_ORCH_REDIS_URL": "localhost:6379"})
        assert caught.value.field == "GROQ_ORCH_REDIS_URL"
