"""ProbeWorker.do_probe() step by step on a fake clock with a scripted prober (kubelet worker_test.go style)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from minikube_py.api import types
from minikube_py.node.prober.results import Kind, Outcome, Result
from minikube_py.node.prober.runners import Target
from minikube_py.node.prober.testing import FakeProber
from minikube_py.node.prober.worker import ContainerView, ProbeWorker
from minikube_py.util.clock import FakeClock

S, F, U, W = Result.SUCCESS, Result.FAILURE, Result.UNKNOWN, Result.WARNING


def _probe(**kw: Any) -> types.Probe:
    fields = {"period_seconds": 1, "timeout_seconds": 1, "success_threshold": 1, "failure_threshold": 3, **kw}
    return types.Probe(exec=types.ExecAction(command=["true"]), **fields)


class Harness:
    def __init__(self, kind: Kind, **probe: Any) -> None:
        self.clock = FakeClock()
        self.prober = FakeProber()
        self.view: ContainerView | None = ContainerView(
            container_id="c1",
            running=True,
            terminated=False,
            started_at=self.clock.now(),
            started=True,
            target=Target(pod=types.Pod(), spec=types.Container(name="c"), container=None, sandbox=None),
        )
        self.changes: list[Result | None] = []
        self.events: list[tuple[str, str, str]] = []
        self.worker = ProbeWorker(
            kind=kind,
            probe=_probe(**probe),
            container_name="c",
            clock=self.clock,
            prober=self.prober,
            view=lambda: self.view,
            on_change=lambda w: self.changes.append(w.result),
            on_event=lambda *e: self.events.append(e),
        )

    def set(self, **changes: Any) -> None:
        assert self.view is not None
        self.view = dataclasses.replace(self.view, **changes)

    async def run(self, outcomes: list[Result]) -> list[Result]:
        """One do_probe() per scripted outcome; returns the stored state after each."""
        states = []
        for outcome in outcomes:
            self.prober.script([outcome])
            assert await self.worker.do_probe()
            states.append(self.worker.current("c1"))
        return states


@pytest.mark.parametrize(
    ("kind", "probe", "outcomes", "expected"),
    [
        # Failure threshold 3: the state flips on the third consecutive failure only.
        (Kind.LIVENESS, {}, [F, F, F], [S, S, F]),
        (Kind.READINESS, {}, [F, F, S, F, F, F], [F, F, S, S, S, F]),
        # Success threshold 2 (readiness only).
        (Kind.READINESS, {"success_threshold": 2}, [S, F, S, S], [F, F, F, S]),
        # Warning counts as success; Unknown is thrown away and does not break a run.
        (Kind.READINESS, {"failure_threshold": 1}, [W], [S]),
        (Kind.READINESS, {"success_threshold": 2}, [S, U, S], [F, F, S]),
        (Kind.LIVENESS, {"failure_threshold": 2}, [F, U, F], [S, S, F]),
    ],
)
async def test_thresholds(kind: Kind, probe: dict[str, Any], outcomes: list[Result], expected: list[Result]) -> None:
    h = Harness(kind, **probe)
    assert await h.run(outcomes) == expected


@pytest.mark.parametrize(("kind", "initial"), [(Kind.READINESS, F), (Kind.LIVENESS, S), (Kind.STARTUP, U)])
async def test_initial_values(kind: Kind, initial: Result) -> None:
    h = Harness(kind)
    assert h.worker.current("c1") is initial  # before any step
    h.set(started=kind is not Kind.STARTUP)
    h.prober.default = Outcome(F)
    await h.worker.do_probe()
    assert h.worker.current("c1") is initial  # one failure of three changes nothing
    assert h.changes == [initial]  # the new container was set to the initial value once


async def test_liveness_failure_holds_until_a_new_container() -> None:
    h = Harness(Kind.LIVENESS, failure_threshold=1)
    assert await h.run([F]) == [F]
    assert h.worker.on_hold and h.changes == [S, F]
    calls = len(h.prober.calls)
    await h.worker.do_probe()
    assert len(h.prober.calls) == calls  # on hold: no probe
    h.set(container_id="c2")
    h.prober.script([S])
    await h.worker.do_probe()
    assert not h.worker.on_hold and h.worker.current("c2") is S and len(h.prober.calls) == calls + 1
    assert h.worker.current("c1") is S  # another instance's id: the initial value


async def test_readiness_failure_does_not_hold() -> None:
    h = Harness(Kind.READINESS, failure_threshold=1)
    assert await h.run([F, S]) == [F, S]
    assert not h.worker.on_hold


async def test_startup_gates_liveness_and_readiness_and_rests_once_started() -> None:
    for kind in (Kind.LIVENESS, Kind.READINESS):
        h = Harness(kind)
        h.set(started=False)
        assert await h.worker.do_probe()
        assert h.prober.calls == []
    h = Harness(Kind.STARTUP, failure_threshold=2)
    h.set(started=False)
    assert await h.run([F, S]) == [U, S]
    h.set(started=True)
    await h.worker.do_probe()
    assert len(h.prober.calls) == 2  # started: the startup probe no longer runs


async def test_initial_delay_counts_whole_seconds_from_start() -> None:
    h = Harness(Kind.READINESS, initial_delay_seconds=5, failure_threshold=1)
    h.clock.step(4.9)
    await h.worker.do_probe()
    assert h.prober.calls == []
    h.clock.step(0.1)
    await h.worker.do_probe()
    assert len(h.prober.calls) == 1


async def test_not_running_container() -> None:
    h = Harness(Kind.READINESS, failure_threshold=1)
    assert await h.run([S]) == [S]
    h.set(running=False, terminated=True, started_at=None)
    assert await h.worker.do_probe()  # restartPolicy Always: keep going
    assert h.worker.current("c1") is F and len(h.prober.calls) == 1
    h.set(restart_policy="Never")
    assert not await h.worker.do_probe()  # ended for good: stop


async def test_no_view_or_no_container_yet_waits_and_finished_pod_stops() -> None:
    h = Harness(Kind.READINESS)
    h.view = None
    assert await h.worker.do_probe()
    h.view = ContainerView("", False, False, None, False, Target(types.Pod(), types.Container(), None, None))
    assert await h.worker.do_probe() and h.worker.container_id == ""
    h.set(pod_finished=True)
    assert not await h.worker.do_probe()
    assert h.prober.calls == []


@pytest.mark.parametrize("kind", [Kind.LIVENESS, Kind.STARTUP])
async def test_deleting_pod_forces_success_and_stops(kind: Kind) -> None:
    h = Harness(kind, failure_threshold=1)
    h.set(pod_terminating=True, started=kind is Kind.LIVENESS)
    assert not await h.worker.do_probe()
    assert h.worker.current("c1") is S and h.prober.calls == []


async def test_readiness_keeps_probing_while_the_pod_is_deleting() -> None:
    h = Harness(Kind.READINESS, failure_threshold=1)
    h.set(pod_terminating=True)
    assert await h.worker.do_probe() and len(h.prober.calls) == 1


async def test_events_and_history() -> None:
    h = Harness(Kind.LIVENESS, failure_threshold=5)
    h.prober.script(
        [
            Outcome(F, "HTTP probe failed with statuscode: 500"),
            Outcome(W, "Probe terminated redirects"),
            Outcome(U, "x"),
        ]
    )
    for _ in range(3):
        await h.worker.do_probe()
        h.clock.step(1)
    assert h.events == [
        ("Warning", "Unhealthy", "Liveness probe failed: HTTP probe failed with statuscode: 500"),
        ("Warning", "ProbeWarning", "Liveness probe warning: Probe terminated redirects"),
        ("Warning", "Unhealthy", "Liveness probe errored: x"),
    ]
    entries = [e.to_dict() for e in h.worker.history]
    assert [e["result"] for e in entries] == ["Failure", "Warning", "Unknown"]
    assert [e["time"] - entries[0]["time"] for e in entries] == [0, 1, 2]
    assert all(e["containerID"] == "c1" and e["latencyMs"] >= 0 for e in entries)
    h.prober.default = Outcome(S, "y" * 500)
    for _ in range(12):
        await h.worker.do_probe()
    assert len(h.worker.history) == 10 and len(h.worker.history[-1].output) == 200
    snap = h.worker.snapshot()
    # The Warning counted as a Success and the Unknown did not break the run: 1 + 12.
    assert snap["state"] == "Success" and snap["consecutive"] == {"result": "Success", "count": 13}


async def test_run_loop_ticks_every_period_on_the_clock_and_stops() -> None:
    h = Harness(Kind.READINESS, period_seconds=2)
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        h.clock.step(seconds)
        if len(slept) == 4:
            h.worker.stop()
            h.worker.stop()  # idempotent

    h.worker._sleep = sleep
    await h.worker.run()
    assert slept == [2, 2, 2, 2] and len(h.prober.calls) == 4


async def test_run_loop_random_initial_delay_after_an_agent_restart() -> None:
    h = Harness(Kind.READINESS, period_seconds=10)
    h.worker._rand = lambda: 0.25
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        h.clock.step(seconds)
        h.worker.stop()

    h.worker._sleep = sleep
    await h.worker.run(initial_jitter=True)
    assert slept == [2.5] and h.prober.calls == []


async def test_run_loop_drops_ticks_missed_by_a_slow_probe_and_stops_when_told() -> None:
    h = Harness(Kind.READINESS, period_seconds=1)
    slept: list[float] = []

    class Slow(FakeProber):
        async def probe(self, kind: Kind, probe: types.Probe, target: Target) -> Outcome:
            h.clock.step(2.5)  # the probe takes two and a half periods
            return await super().probe(kind, probe, target)

    h.worker._prober = Slow()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        h.clock.step(seconds)
        h.set(pod_finished=True)

    h.worker._sleep = sleep
    await h.worker.run()
    assert slept == [pytest.approx(0.5)]


async def test_trigger_probes_before_the_next_tick() -> None:
    h = Harness(Kind.READINESS, period_seconds=10)
    h.worker.trigger()
    await h.worker._wait(10)  # returns at once: a trigger was pending
    assert not h.worker._wake.is_set()
