"""CrashLoopBackOff timing with a fake clock (reference §6)."""

from __future__ import annotations

import pytest

from minikube_py.node.backoff import Backoff, backoff_message, should_restart
from minikube_py.util.clock import FakeClock

KEY = "default/web/uid-1/app"


def crash_and_restart(backoff: Backoff, clock: FakeClock) -> float:
    """One crash at ``now``: wait out the backoff (if any), restart, return how long we waited."""
    finished = clock.now()
    waited = backoff.remaining(KEY, finished)
    clock.step(waited)
    assert not backoff.is_in_backoff_since(KEY, finished)
    backoff.next(KEY)
    return waited


def test_sequence_is_immediate_then_10_20_40_80_160_300_300() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    waits = [crash_and_restart(backoff, clock) for _ in range(8)]
    assert waits == [0, 10, 20, 40, 80, 160, 300, 300]


def test_in_backoff_until_the_delay_has_passed_since_finished_at() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    backoff.next(KEY)  # first restart: immediate, records 10 s
    finished = clock.now()
    clock.step(9.9)
    assert backoff.is_in_backoff_since(KEY, finished)
    clock.step(0.2)
    assert not backoff.is_in_backoff_since(KEY, finished)


def test_reset_after_ten_quiet_minutes() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    for _ in range(5):
        crash_and_restart(backoff, clock)
    assert backoff.get(KEY) == 160
    clock.step(601)  # ran cleanly for more than 2 x 300 s
    assert crash_and_restart(backoff, clock) == 0  # forgiven: restarts at once
    assert backoff.get(KEY) == 10


def test_no_reset_just_under_ten_minutes() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    for _ in range(3):
        crash_and_restart(backoff, clock)
    assert backoff.get(KEY) == 40
    clock.step(599)
    finished = clock.now()
    assert not backoff.is_in_backoff_since(KEY, finished - 100)
    backoff.next(KEY)
    assert backoff.get(KEY) == 80


def test_gc_drops_expired_entries() -> None:
    clock = FakeClock()
    backoff = Backoff(clock)
    backoff.next(KEY)
    clock.step(601)
    backoff.gc()
    assert backoff.get(KEY) == 0


@pytest.mark.parametrize(
    ("policy", "code", "restart"),
    [
        ("Always", 0, True),
        ("Always", 1, True),
        ("Always", 137, True),
        ("OnFailure", 0, False),
        ("OnFailure", 1, True),
        ("OnFailure", 137, True),
        ("OnFailure", None, True),
        ("Never", 0, False),
        ("Never", 137, False),
    ],
)
def test_restart_policy(policy: str, code: int | None, restart: bool) -> None:
    assert should_restart(policy, code) is restart


def test_message_matches_the_kubelet() -> None:
    assert backoff_message(40, "app", "web", "default", "u1") == (
        "back-off 40s restarting failed container=app pod=web_default(u1)"
    )
    assert backoff_message(300, "app", "web", "default", "u1").startswith("back-off 5m0s ")
