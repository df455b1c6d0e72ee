"""serving.polling: the one way every wait in serving/ waits. A fake clock that only the pauses move: looks and
pauses are counted, never timed."""

from __future__ import annotations

import math

import pytest

from serving.declared import DeclaredEntity, Expectation, ReadinessError
from serving.model import ServingEndpoint
from serving.polling import Cancelled, Done, Pending, PollPolicy, WaitTimedOut, poll
from serving.verification import Readiness, watch_deployment


class FakeTime:
    """A clock that stands still except when `sleep` is called; every pause is recorded."""

    def __init__(self) -> None:
        self.now = 100.0
        self.pauses: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def states(*seen: str, then: str = "done"):
    """A look that reports `seen` one by one, then is Done with `then`; records the attempt numbers it was given."""
    attempts: list[int] = []

    def look(attempt: int) -> Done[str] | Pending[str]:
        attempts.append(attempt)
        return Pending(seen[attempt - 1]) if attempt <= len(seen) else Done(then)

    return look, attempts


def test_returns_the_value_and_how_many_looks_it_took():
    time = FakeTime()
    look, attempts = states("creating", "creating", "updating")
    polled = poll(
        look, awaited="ready", deadline=math.inf, backoff=lambda n, _: 1.0, clock=time.clock, sleep=time.sleep
    )
    assert (polled.value, polled.attempts) == ("done", 4)
    assert attempts == [1, 2, 3, 4]
    assert time.pauses == [1.0, 1.0, 1.0]  # one pause between two looks, none after the last


def test_done_at_the_first_look_does_not_pause():
    time = FakeTime()
    look, _ = states()
    polled = poll(
        look, awaited="ready", deadline=time.now, backoff=lambda n, _: 5.0, clock=time.clock, sleep=time.sleep
    )
    assert polled.attempts == 1 and time.pauses == []


def test_the_backoff_gets_the_attempt_and_the_state_the_look_saw():
    time = FakeTime()
    look, _ = states("a", "bb", "ccc")
    calls: list[tuple[int, str]] = []

    def backoff(attempt: int, state: str) -> float:
        calls.append((attempt, state))
        return attempt * len(state)

    poll(look, awaited="x", deadline=math.inf, backoff=backoff, clock=time.clock, sleep=time.sleep)
    assert calls == [(1, "a"), (2, "bb"), (3, "ccc")]
    assert time.pauses == [1, 4, 9]


def test_gives_up_when_the_next_look_would_come_after_the_deadline_naming_what_and_the_last_state():
    time = FakeTime()
    look, attempts = states("IN_PROGRESS 0 of 2", "IN_PROGRESS 1 of 2", "IN_PROGRESS 1 of 2", "READY")
    with pytest.raises(WaitTimedOut) as caught:
        poll(
            look,
            awaited="endpoint risk ready",
            deadline=time.now + 5.0,
            backoff=lambda n, _: 2.0,
            clock=time.clock,
            sleep=time.sleep,
        )
    # Looks at +0, +2, +4; a pause to +6 would pass the deadline at +5: no fourth look, no sleep past it.
    assert attempts == [1, 2, 3]
    assert time.pauses == [2.0, 2.0]
    timeout = caught.value
    assert (timeout.awaited, timeout.last, timeout.attempts, timeout.waited) == (
        "endpoint risk ready",
        "IN_PROGRESS 1 of 2",
        3,
        4.0,
    )
    assert str(timeout) == (
        "endpoint risk ready: not reached within 4.0s after 3 look(s); last state: IN_PROGRESS 1 of 2"
    )


def test_a_look_at_exactly_the_deadline_is_still_made():
    time = FakeTime()
    look, attempts = states("waiting", "waiting")
    polled = poll(
        look, awaited="x", deadline=time.now + 2.0, backoff=lambda n, _: 1.0, clock=time.clock, sleep=time.sleep
    )
    assert polled.attempts == 3 and attempts == [1, 2, 3]


def test_a_zero_pause_still_goes_through_sleep_so_it_is_a_cancellation_point():
    time = FakeTime()
    look, _ = states("other entity answered", "other entity answered")
    poll(look, awaited="x", deadline=math.inf, backoff=lambda n, _: 0.0, clock=time.clock, sleep=time.sleep)
    assert time.pauses == [0.0, 0.0]


def test_a_sleep_that_raises_cancelled_ends_the_wait_at_that_pause():
    looks: list[int] = []

    def look(attempt: int) -> Done[str] | Pending[str]:
        looks.append(attempt)
        return Pending("updating")

    def stopped_after_two(seconds: float) -> None:
        if len(looks) >= 2:
            raise Cancelled()

    with pytest.raises(Cancelled):
        poll(look, awaited="x", deadline=math.inf, backoff=lambda n, _: 1.0, clock=lambda: 0.0, sleep=stopped_after_two)
    assert looks == [1, 2]


def test_a_failure_the_look_raises_halts_the_wait_at_once():
    time = FakeTime()

    def look(attempt: int) -> Done[str] | Pending[str]:
        if attempt == 2:
            raise ValueError("DEPLOYMENT_FAILED")
        return Pending("creating")

    with pytest.raises(ValueError, match="DEPLOYMENT_FAILED"):
        poll(look, awaited="x", deadline=math.inf, backoff=lambda n, _: 1.0, clock=time.clock, sleep=time.sleep)
    assert time.pauses == [1.0]


def test_the_policy_backs_off_linearly_to_its_cap_like_the_sdk_waiter_and_honours_retry_after():
    policy = PollPolicy(first_delay=1.0, max_delay=10.0, jitter=0.0)
    assert [policy.backoff(attempt) for attempt in (1, 2, 5, 10, 11, 50)] == [1.0, 2.0, 5.0, 10.0, 10.0, 10.0]
    assert policy.delay(3, retry_after=0.5) == 0.5


def test_the_policys_jitter_adds_at_most_its_fraction():
    policy = PollPolicy(first_delay=1.0, max_delay=10.0, jitter=0.1)
    delays = [policy.delay(4) for _ in range(200)]
    assert all(4.0 <= delay <= 4.4 for delay in delays)
    assert len(set(delays)) > 1


# --- the waits of serving/ go through it: their clock and sleep are the poll's --------------------------------

UPDATING = {
    "name": "risk",
    "id": "e-1",
    "state": {"ready": "NOT_READY", "config_update": "IN_PROGRESS"},
    "pending_config": {
        "served_entities": [{"name": "risk-3", "entity_name": "main.risk.m", "entity_version": "3"}],
        "traffic_config": {"routes": [{"served_entity_name": "risk-3", "traffic_percentage": 100}]},
    },
}


class StuckWorkspace:
    """A workspace whose endpoint stays IN_PROGRESS: counts the GETs."""

    def __init__(self) -> None:
        self.gets = 0

    def get_serving_endpoint(self, name: str) -> ServingEndpoint:
        self.gets += 1
        return ServingEndpoint.from_dict(UPDATING)


def declared(timeout: float) -> Expectation:
    return Expectation("risk", (DeclaredEntity("risk-3", "main.risk.m", "3"),), {"risk-3": 100}, timeout)


def test_readiness_looks_as_often_as_its_policy_allows_before_the_deadline_and_says_what_it_saw():
    time, workspace = FakeTime(), StuckWorkspace()
    policy = PollPolicy(first_delay=1.0, max_delay=10.0, jitter=0.0)
    readiness = Readiness(workspace, declared(timeout=12.0), policy, clock=time.clock, sleep=time.sleep)  # type: ignore[arg-type]
    with pytest.raises(ReadinessError) as caught:
        readiness.run()
    # Looks at +0, +1, +3, +6, +10; the next pause (5 s) would end after +12.
    assert workspace.gets == 5 and time.pauses == [1.0, 2.0, 3.0, 4.0]
    assert str(caught.value).startswith(
        "endpoint risk was not ready within 12s (IN_PROGRESS, NOT_READY, 0 of 1 served entities ready); "
        "it serves nothing, the stack declares risk-3 v3 100%."
    )


def test_the_deployment_watch_looks_quickly_first_then_at_its_interval():
    time, workspace = FakeTime(), StuckWorkspace()
    outcome = watch_deployment(workspace, declared(timeout=5.0), clock=time.clock, sleep=time.sleep, interval=1.0)  # type: ignore[arg-type]
    assert time.pauses == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert workspace.gets == 7
    assert outcome == "still deploying after 5s; readiness waits for it"
