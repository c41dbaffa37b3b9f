"""The scheduling queue on a fake clock, and whole cycles through schedule_next with a fake binder."""

from __future__ import annotations

import asyncio
import random
from typing import ClassVar

import pytest

from minikube_py.api import types
from minikube_py.control.scheduler.framework import ClusterEvent, Code, CycleState, Handle, QueuedPodInfo, Status
from minikube_py.control.scheduler.plugins.queuesort import PrioritySort
from minikube_py.control.scheduler.profile import default_profile, load_profiles
from minikube_py.control.scheduler.queue import SchedulingQueue
from minikube_py.control.scheduler.scheduler import Scheduler
from minikube_py.util.clock import FakeClock

from .builders import node, pod, taint


def fit_events(plugin: str) -> ClusterEvent:
    return default_profile(Handle()).events_for(plugin)


def new_queue(clock: FakeClock) -> SchedulingQueue:
    return SchedulingQueue(PrioritySort().less, clock, events_for=fit_events)


def test_active_queue_orders_by_priority_then_queue_time() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    for name, priority in (("low", 1), ("high", 100), ("none", None), ("mid-1", 10), ("mid-2", 10)):
        queue.add(pod(name, priority=priority))
        clock.step(1)
    popped = []
    while (info := queue.pop()) is not None:
        popped.append(info.pod.metadata.name)
    assert popped == ["high", "mid-1", "mid-2", "low", "none"]


def test_priority_change_reorders_a_queued_pod() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(pod("a", priority=5))
    queue.add(pod("b", priority=1))
    queue.update(pod("b", priority=50))
    first = queue.pop()
    assert first is not None and first.pod.metadata.name == "b"


@pytest.mark.parametrize(
    ("attempts", "backoff"), [(0, 0.0), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (6, 10.0), (40, 10.0)]
)
def test_backoff_duration(attempts: int, backoff: float) -> None:
    queue = new_queue(FakeClock())
    assert queue.backoff_duration(QueuedPodInfo(pod("x"), "x", 0.0, attempts=attempts)) == backoff


def test_backoff_timings_with_repeated_failures_on_the_fake_clock() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(pod("p"))
    info = queue.pop()
    observed: list[float] = []
    while info is not None and len(observed) < 6:
        queue.add_unschedulable(info, set())
        start = clock.now()
        while (nxt := queue.pop()) is None:
            clock.step(0.25)
        observed.append(clock.now() - start)
        info = nxt
    assert observed == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_unschedulable_pool_moves_only_on_events_its_rejectors_registered() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(pod("p"))
    info = queue.pop()
    assert info is not None
    assert queue.add_unschedulable(info, {"NodeResourcesFit"}) == "unschedulable"
    clock.step(5)
    assert queue.pop() is None
    assert queue.move_all(ClusterEvent.NODE_LABEL) == 0  # NodeResourcesFit does not care about labels
    assert queue.where(pod("p")) == "unschedulable"
    assert queue.move_all(ClusterEvent.ASSIGNED_POD_DELETE) == 1
    assert queue.where(pod("p")) == "active"  # backoff (1 s) already over


def test_moved_pod_still_in_backoff_goes_to_the_backoff_queue() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(pod("p"))
    info = queue.pop()
    assert info is not None
    queue.add_unschedulable(info, {"TaintToleration"})
    clock.step(0.5)
    assert queue.move_all(ClusterEvent.NODE_TAINT) == 1
    assert queue.where(pod("p")) == "backoff"
    assert queue.pop() is None
    clock.step(0.5)
    assert queue.pop() is not None


def test_event_during_the_attempt_requeues_at_once() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(pod("p"))
    info = queue.pop()
    assert info is not None
    queue.move_all(ClusterEvent.NODE_ADD)  # arrives while the pod is being scheduled
    assert queue.add_unschedulable(info, {"NodeResourcesFit"}) == "backoff"


def test_leftovers_are_flushed_after_five_minutes() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(pod("p"))
    info = queue.pop()
    assert info is not None
    queue.add_unschedulable(info, {"NodeAffinity"})
    clock.step(300)
    assert queue.pop() is None
    assert queue.next_wakeup() == clock.now()
    clock.step(0.001)
    again = queue.pop()
    assert again is not None and again.attempts == 2


def test_delete_removes_a_pod_from_every_sub_queue() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(pod("a"))
    queue.add(pod("b"))
    queue.delete(pod("a"))
    assert len(queue) == 1
    info = queue.pop()
    assert info is not None and info.pod.metadata.name == "b"
    queue.add_unschedulable(info, {"NodeResourcesFit"})
    queue.delete(pod("b"))
    assert len(queue) == 0
    assert queue.pending() == {"active": [], "backoff": [], "unschedulable": []}


def test_a_pod_deleted_during_its_attempt_is_not_requeued() -> None:
    clock = FakeClock()
    queue = new_queue(clock)
    queue.add(pod("p"))
    info = queue.pop()
    assert info is not None
    queue.delete(pod("p"))
    assert queue.add_unschedulable(info, {"NodeResourcesFit"}) == "gone"
    assert len(queue) == 0


# ---- whole cycles -------------------------------------------------------------------------------


class Binder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    async def __call__(self, p: types.Pod, node_name: str) -> None:
        await asyncio.sleep(0)
        self.calls.append((p.metadata.name, node_name))
        if self.fail:
            raise RuntimeError("conflict")


def make(binder: object, clock: FakeClock | None = None) -> Scheduler:
    profiles = load_profiles(None, handle=Handle(bind=binder))  # type: ignore[arg-type]
    return Scheduler(profiles, rng=random.Random(1), clock=clock or FakeClock())


async def test_schedule_next_binds_and_the_watch_confirms() -> None:
    binder = Binder()
    sched = make(binder)
    sched.on_node_added(node("a"))
    p = pod("p", cpu="1")
    sched.on_pod_added(p)
    outcome = await sched.schedule_next()
    assert outcome is not None and outcome.bound and outcome.node_name == "a"
    assert outcome.reason == "Scheduled"
    assert binder.calls == [("p", "a")]
    assert sched.cache.is_assumed(p)
    bound = pod("p", cpu="1", node_name="a")
    sched.on_pod_updated(p, bound)
    assert not sched.cache.is_assumed(bound)
    assert sched.cache.get("a").requested["cpu"] == 1000  # type: ignore[union-attr]
    assert await sched.schedule_next() is None


async def test_sync_bind_function_is_accepted() -> None:
    calls: list[str] = []
    sched = make(lambda p, n: calls.append(n))
    sched.on_node_added(node("a"))
    sched.on_pod_added(pod("p"))
    outcome = await sched.schedule_next()
    assert outcome is not None and outcome.bound
    assert calls == ["a"]


async def test_bind_failure_forgets_and_backs_off() -> None:
    clock = FakeClock()
    binder = Binder(fail=True)
    sched = make(binder, clock)
    sched.on_node_added(node("a"))
    p = pod("p", cpu="1")
    sched.on_pod_added(p)
    outcome = await sched.schedule_next()
    assert outcome is not None and not outcome.bound
    assert outcome.status.code is Code.ERROR
    assert outcome.reason == "SchedulerError"
    assert outcome.status.message() == "running Bind plugin 'DefaultBinder': binding rejected: conflict"
    assert outcome.queue == "backoff"
    assert not sched.cache.is_assumed(p)
    assert sched.cache.get("a").requested.get("cpu", 0) == 0  # type: ignore[union-attr]
    assert await sched.schedule_next() is None
    clock.step(1)
    binder.fail = False
    retried = await sched.schedule_next()
    assert retried is not None and retried.bound


async def test_unschedulable_pod_waits_for_a_node_then_binds() -> None:
    clock = FakeClock()
    binder = Binder()
    sched = make(binder, clock)
    sched.on_node_added(node("small", cpu="1"))
    sched.on_pod_added(pod("big", cpu="2"))
    outcome = await sched.schedule_next()
    assert outcome is not None and not outcome.bound
    assert outcome.reason == "Unschedulable"
    assert outcome.status.message() == "0/1 nodes are available: 1 Insufficient cpu."
    assert outcome.queue == "unschedulable"
    clock.step(60)
    # A heartbeat-only node update changes nothing the scheduler cares about: the pod stays put.
    old = node("small", cpu="1")
    beat = node("small", cpu="1")
    beat.status.conditions.append(types.NodeCondition(type="Ready", status="True", last_heartbeat_time="t"))
    sched.on_node_updated(beat, beat)
    assert await sched.schedule_next() is None
    # A label change is not an event NodeResourcesFit registered for.
    relabeled = node("small", cpu="1", labels={"x": "y"})
    sched.on_node_updated(old, relabeled)
    assert await sched.schedule_next() is None
    sched.on_node_added(node("large", cpu="4"))
    outcome = await sched.schedule_next()
    assert outcome is not None and outcome.bound and outcome.node_name == "large"


async def test_deleting_a_bound_pod_requeues_pods_waiting_for_room() -> None:
    clock = FakeClock()
    sched = make(Binder(), clock)
    sched.on_node_added(node("a", cpu="1"))
    running = pod("running", cpu="1", node_name="a")
    sched.on_pod_added(running)
    sched.on_pod_added(pod("waiting", cpu="1"))
    outcome = await sched.schedule_next()
    assert outcome is not None and outcome.queue == "unschedulable"
    clock.step(2)
    sched.on_pod_deleted(running)
    outcome = await sched.schedule_next()
    assert outcome is not None and outcome.bound and outcome.node_name == "a"


async def test_taint_removal_requeues_pods_rejected_by_the_taint() -> None:
    clock = FakeClock()
    sched = make(Binder(), clock)
    tainted = node("a", taints=[taint("maintenance", "true")])
    sched.on_node_added(tainted)
    sched.on_pod_added(pod("p"))
    outcome = await sched.schedule_next()
    assert outcome is not None and outcome.status.message() == (
        "0/1 nodes are available: 1 node(s) had untolerated taint {maintenance: true}."
    )
    clock.step(2)
    sched.on_node_updated(tainted, node("a"))
    outcome = await sched.schedule_next()
    assert outcome is not None and outcome.bound


class DenyPermit:
    NAME: ClassVar[str] = "DenyPermit"

    def __init__(self) -> None:
        self.unreserved: list[str] = []

    def reserve(self, state: CycleState, pod: types.Pod, node_name: str) -> Status | None:
        return None

    def unreserve(self, state: CycleState, pod: types.Pod, node_name: str) -> None:
        self.unreserved.append(node_name)

    def permit(self, state: CycleState, pod: types.Pod, node_name: str) -> Status | None:
        return Status.new(Code.UNSCHEDULABLE, "quota window closed")


async def test_permit_rejection_unreserves_and_forgets() -> None:
    binder = Binder()
    prof = load_profiles(None, handle=Handle(bind=binder))[0]
    plugin = DenyPermit()
    prof.reserve = (plugin,)
    prof.permit = (plugin,)
    prof.plugins[plugin.NAME] = plugin
    sched = Scheduler([prof], rng=random.Random(1), clock=FakeClock())
    sched.on_node_added(node("a"))
    p = pod("p")
    sched.on_pod_added(p)
    outcome = await sched.schedule_next()
    assert outcome is not None and not outcome.bound
    assert outcome.status == Status(
        Code.UNSCHEDULABLE, ("0/1 nodes are available: 1 quota window closed.",), "DenyPermit"
    )
    assert outcome.reason == "Unschedulable"
    assert plugin.unreserved == ["a"]
    assert binder.calls == []
    assert not sched.cache.is_assumed(p)
    assert outcome.queue == "unschedulable"


async def test_run_loop_schedules_until_stopped() -> None:
    binder = Binder()
    sched = make(binder)
    sched.on_node_added(node("a"))
    stop = asyncio.Event()
    outcomes = []

    def record(outcome: object) -> None:
        outcomes.append(outcome)
        if len(outcomes) == 2:
            stop.set()

    task = asyncio.create_task(sched.run(stop, on_outcome=record))
    await asyncio.sleep(0)
    sched.on_pod_added(pod("one"))
    sched.on_pod_added(pod("two"))
    await asyncio.wait_for(task, timeout=5)
    assert sorted(name for name, _ in binder.calls) == ["one", "two"]


@pytest.mark.parametrize("phase", ["Succeeded", "Failed"])
def test_finished_pods_free_their_node(phase: str) -> None:
    sched = make(Binder())
    sched.on_node_added(node("a", cpu="1"))
    running = pod("r", cpu="1", node_name="a")
    sched.on_pod_added(running)
    assert sched.schedule_one(pod("p", cpu="1")).node_name is None
    done = pod("r", cpu="1", node_name="a")
    done.status.phase = phase
    sched.on_pod_updated(running, done)
    assert sched.schedule_one(pod("p", cpu="1")).node_name == "a"
