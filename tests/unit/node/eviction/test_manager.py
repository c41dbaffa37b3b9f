"""EvictionManager step by step with a fake clock, fake stats and a recording killer
(kubelet eviction_manager_test.go TestMemoryPressure / TestDiskPressure / TestMinReclaim style)."""

from __future__ import annotations

import asyncio
import json

import pytest

from minikube_py.api import types
from minikube_py.node.eviction import types as et
from minikube_py.node.eviction.manager import EvictionManager, Outcome
from minikube_py.node.eviction.types import EvictionConfig, NodeCondition
from minikube_py.util.clock import FakeClock

from .fakes import (
    FakeStats,
    Gi,
    Mi,
    PodKiller,
    best_effort,
    burstable,
    disk_stats,
    guaranteed,
    make_pod,
    mem_stats,
    memory_summary,
)

MP, DP = NodeCondition.MEMORY_PRESSURE, NodeCondition.DISK_PRESSURE


class Rig:
    def __init__(self, config: EvictionConfig, pods: list[types.Pod]) -> None:
        self.clock = FakeClock()
        self.stats = FakeStats(self.clock)
        self.killer = PodKiller()
        self.pods = pods
        self.manager = EvictionManager(
            config, clock=self.clock, stats=self.stats, active_pods=self.active_pods, kill_pod=self.killer
        )

    def active_pods(self) -> list[types.Pod]:
        """Killed pods leave the active set, as they do in the kubelet."""
        return [p for p in self.pods if all(p is not k.pod for k in self.killer.kills)]

    def memory(self, available: int, usage: dict[str, int] | None = None) -> None:
        by_name = {p.metadata.name: p for p in self.pods}
        pods = tuple(mem_stats(by_name[n], u) for n, u in (usage or {}).items())
        self.stats.result = memory_summary(available, 4 * Gi, pods)


MEMORY_CONFIG = EvictionConfig(
    eviction_hard={"memory.available": "1Gi"},
    eviction_soft={"memory.available": "2Gi"},
    eviction_soft_grace_period={"memory.available": "1m30s"},
    eviction_max_pod_grace_period=5,
    eviction_pressure_transition_period=300.0,
)


def memory_rig() -> Rig:
    rig = Rig(
        MEMORY_CONFIG,
        [
            guaranteed("guaranteed", "1Gi", grace=30),
            burstable("burstable", "100Mi", grace=2),
            best_effort("besteffort", grace=30),
        ],
    )
    rig.memory(3 * Gi, {"guaranteed": 500 * Mi, "burstable": 200 * Mi, "besteffort": 300 * Mi})
    return rig


async def test_memory_pressure_soft_then_hard() -> None:
    rig = memory_rig()
    m = rig.manager
    be, burst = best_effort("new-be"), burstable("new-burstable", "1Mi")

    # no pressure
    assert await m.synchronize() is None
    assert m.node_conditions() == []
    assert m.admit(be) == (True, "", "")

    # below the soft threshold: MemoryPressure at once, but nobody is killed before the grace period
    rig.clock.step(10)
    rig.memory(1500 * Mi, {"guaranteed": 500 * Mi, "burstable": 200 * Mi, "besteffort": 300 * Mi})
    assert await m.synchronize() is None
    assert m.node_conditions() == [MP]
    assert m.is_under_memory_pressure()
    assert m.admit(be) == (False, "Evicted", "The node had condition: [MemoryPressure]. ")
    assert m.admit(burst) == (True, "", "")
    rig.clock.step(60)
    assert await m.synchronize() is None
    assert m.last_thresholds[0].to_dict()["graceRemainingSeconds"] == 30.0
    assert rig.killer.kills == []

    # grace period over: besteffort (+300Mi over its request) goes before burstable (+100Mi), with
    # min(evictionMaxPodGracePeriod 5, its own 30) = 5
    rig.clock.step(30)
    result = await m.synchronize()
    assert result is not None and result.outcome == Outcome.EVICTED
    assert rig.killer.names == ["besteffort"]
    kill = rig.killer.kills[0]
    assert (kill.grace, kill.reason) == (5, "Evicted")
    assert kill.message == (
        "The node was low on resource: memory. Threshold quantity: 2Gi, available: 1500Mi. "
        "Container app was using 300Mi, request is 0, has larger consumption of memory. "
    )
    assert result.threshold.threshold.is_hard is False
    assert result.kill_succeeded is True

    # the next pass (same pressure) evicts the next pod; its own grace (2) is below the maximum
    rig.clock.step(10)
    rig.memory(1500 * Mi, {"guaranteed": 500 * Mi, "burstable": 200 * Mi})
    rig.pods = rig.pods[:2]
    await m.synchronize()
    assert rig.killer.names == ["besteffort", "burstable"]
    assert rig.killer.kills[1].grace == 2

    # pressure relieved: the condition stays for the transition period, then clears
    rig.clock.step(10)
    rig.pods = rig.pods[:1]
    rig.memory(3 * Gi, {"guaranteed": 500 * Mi})
    assert await m.synchronize() is None
    assert m.node_conditions() == [MP]
    assert m.admit(be)[0] is False
    rig.clock.step(289)  # 299 s since pressure was last observed
    assert await m.synchronize() is None
    assert m.node_conditions() == [MP]
    rig.clock.step(1)
    assert await m.synchronize() is None
    assert m.node_conditions() == []
    assert m.admit(be) == (True, "", "")

    # hard threshold: eviction at once with grace 1, one pod per pass
    rig.clock.step(10)
    rig.memory(500 * Mi, {"guaranteed": 500 * Mi})
    result = await m.synchronize()
    assert result is not None and result.threshold.threshold.is_hard
    assert rig.killer.names[-1] == "guaranteed"
    assert rig.killer.kills[-1].grace == 1
    assert m.node_conditions() == [MP]


async def test_hard_threshold_evicts_exactly_one_pod_per_pass() -> None:
    rig = memory_rig()
    rig.memory(500 * Mi, {"guaranteed": 500 * Mi, "burstable": 200 * Mi, "besteffort": 300 * Mi})
    result = await rig.manager.synchronize()
    assert rig.killer.names == ["besteffort"]
    assert rig.killer.kills[0].grace == 1
    assert result is not None and result.evicted is rig.pods[2]
    assert [c.name for c in result.candidates] == ["besteffort", "burstable", "guaranteed"]


async def test_stale_stats_do_not_evict_twice() -> None:
    rig = memory_rig()
    rig.memory(500 * Mi, {"guaranteed": 500 * Mi, "burstable": 200 * Mi, "besteffort": 300 * Mi})
    await rig.manager.synchronize()
    assert await rig.manager.synchronize() is None  # same clock, same stats time
    rig.clock.step(1)
    await rig.manager.synchronize()
    assert rig.killer.names == ["besteffort", "burstable"]


async def test_soft_grace_restarts_when_the_threshold_clears() -> None:
    rig = memory_rig()
    rig.memory(1500 * Mi)
    await rig.manager.synchronize()
    rig.clock.step(80)
    rig.memory(3 * Gi)
    await rig.manager.synchronize()
    rig.clock.step(10)
    rig.memory(1500 * Mi)
    assert await rig.manager.synchronize() is None  # timer restarted: 0 of 90 s
    rig.clock.step(89)
    assert await rig.manager.synchronize() is None
    rig.clock.step(1)
    assert await rig.manager.synchronize() is not None
    assert len(rig.killer.kills) == 1


async def test_min_reclaim_keeps_evicting_until_threshold_plus_min_reclaim() -> None:
    config = EvictionConfig(
        eviction_hard={"memory.available": "1Gi"},
        eviction_minimum_reclaim={"memory.available": "500Mi"},
        enforce_node_allocatable=(),
    )
    rig = Rig(config, [best_effort("a"), best_effort("b"), best_effort("c")])
    m = rig.manager
    rig.memory(500 * Mi, {"a": 300 * Mi, "b": 200 * Mi, "c": 100 * Mi})
    await m.synchronize()
    assert rig.killer.names == ["a"]
    # above the threshold, below threshold + minReclaim (1524Mi): keep going
    rig.clock.step(10)
    rig.memory(1200 * Mi, {"b": 200 * Mi, "c": 100 * Mi})
    result = await m.synchronize()
    assert result is not None and result.threshold.reclaim_pending
    assert result.threshold.to_dict()["reclaimTarget"] == 1524 * Mi
    assert rig.killer.names == ["a", "b"]
    # reclaimed: stop
    rig.clock.step(10)
    rig.memory(1600 * Mi, {"c": 100 * Mi})
    assert await m.synchronize() is None
    assert rig.killer.names == ["a", "b"]
    assert m.node_conditions() == [MP]  # still within the transition period
    # a later rise to between 1Gi and 1.5Gi does not start evicting again
    rig.clock.step(10)
    rig.memory(1200 * Mi, {"c": 100 * Mi})
    assert await m.synchronize() is None


async def test_critical_pods_are_never_evicted() -> None:
    static = best_effort("static", annotations={"kubernetes.io/config.source": "file"})
    system = best_effort("system", priority=2_000_000_000)
    rig = Rig(EvictionConfig(eviction_hard={"memory.available": "1Gi"}), [static, system])
    rig.memory(100 * Mi, {"static": 1 * Gi, "system": 2 * Gi})
    result = await rig.manager.synchronize()
    assert rig.killer.kills == []
    assert result is not None
    assert result.outcome == Outcome.ONLY_CRITICAL_PODS
    assert result.evicted is None
    assert result.skipped_critical == ("default/static", "default/system")  # priority 0 ranks first
    assert [c.critical for c in result.candidates] == [True, True]


async def test_critical_pods_are_skipped_for_the_next_candidate() -> None:
    system = best_effort("system", priority=2_000_000_000)
    g = guaranteed("g", "1Gi")
    rig = Rig(EvictionConfig(eviction_hard={"memory.available": "1Gi"}), [system, g])
    rig.memory(100 * Mi, {"system": 2 * Gi, "g": 10 * Mi})
    result = await rig.manager.synchronize()
    assert rig.killer.names == ["g"]
    assert result is not None and result.skipped_critical == ("default/system",)


async def test_no_active_pods() -> None:
    rig = Rig(EvictionConfig(eviction_hard={"memory.available": "1Gi"}), [])
    rig.memory(100 * Mi)
    result = await rig.manager.synchronize()
    assert result is not None and result.outcome == Outcome.NO_ACTIVE_PODS
    assert rig.manager.node_conditions() == [MP]


async def test_disk_pressure() -> None:
    config = EvictionConfig(eviction_hard={"nodefs.available": "10%"}, enforce_node_allocatable=())
    small = make_pod("small", requests={"ephemeral-storage": "1Gi"})
    hog = make_pod("hog")
    rig = Rig(config, [small, hog])
    rig.stats.result = et.NodeStats(
        nodefs=et.FsStats(available_bytes=512 * Mi, capacity_bytes=10 * Gi),
        pods=(disk_stats(small, 100 * Mi), disk_stats(hog, 2 * Gi, logs=1 * Mi)),
    )
    result = await rig.manager.synchronize()
    assert rig.manager.node_conditions() == [DP]
    assert rig.killer.names == ["hog"]
    assert rig.killer.kills[0].grace == 1
    assert rig.killer.kills[0].message == (
        "The node was low on resource: ephemeral-storage. Threshold quantity: 1073741840, available: 512Mi. "
        "Container app was using 2049Mi, request is 0, has larger consumption of ephemeral-storage. "
    )
    assert result is not None and result.resource == "ephemeral-storage"
    # DiskPressure refuses every non-critical pod
    assert rig.manager.admit(guaranteed("new", "1Mi")) == (False, "Evicted", "The node had condition: [DiskPressure]. ")
    assert rig.manager.admit(best_effort("mirror", annotations={"kubernetes.io/config.mirror": "x"}))[0] is True


async def test_memory_is_reclaimed_before_disk() -> None:
    config = EvictionConfig(eviction_hard={"nodefs.available": "1Gi", "memory.available": "1Gi"})
    pod = best_effort("p")
    rig = Rig(config, [pod])
    rig.stats.result = et.NodeStats(
        memory_available_bytes=100 * Mi,
        memory_working_set_bytes=3 * Gi,
        nodefs=et.FsStats(available_bytes=100 * Mi, capacity_bytes=10 * Gi),
        pods=(mem_stats(pod, 1 * Gi),),
    )
    result = await rig.manager.synchronize()
    assert result is not None and result.signal is et.Signal.MEMORY_AVAILABLE
    assert rig.manager.node_conditions() == [MP, DP]
    assert [s.threshold.signal.value for s in result.thresholds] == ["nodefs.available", "memory.available"]


async def test_stats_failure_skips_the_pass() -> None:
    rig = memory_rig()
    rig.stats.fail = True
    assert await rig.manager.synchronize() is None
    assert rig.killer.kills == []


async def test_kill_failure_is_reported() -> None:
    rig = memory_rig()
    rig.killer.result = False
    rig.memory(100 * Mi, {"besteffort": 1 * Gi})
    result = await rig.manager.synchronize()
    assert result is not None and result.kill_succeeded is False


async def test_no_thresholds_means_no_work() -> None:
    rig = Rig(EvictionConfig(eviction_hard={}), [best_effort("x")])
    rig.memory(1)
    assert await rig.manager.synchronize() is None
    assert rig.stats.calls == 0


async def test_explanation_is_json_and_complete() -> None:
    rig = memory_rig()
    rig.memory(500 * Mi, {"guaranteed": 500 * Mi, "burstable": 200 * Mi, "besteffort": 300 * Mi})
    result = await rig.manager.synchronize()
    assert result is not None
    data = json.loads(json.dumps(result.to_dict()))
    assert data["outcome"] == "evicted"
    assert data["evicted"] == "default/besteffort"
    assert data["gracePeriodSeconds"] == 1
    assert data["signal"] == "memory.available"
    assert data["threshold"]["threshold"] == "1Gi"
    assert data["threshold"]["hard"] is True
    assert data["threshold"]["available"] == 500 * Mi
    assert data["threshold"]["availableText"] == "500Mi"
    assert data["threshold"]["graceMet"] is True
    assert data["nodeConditions"] == ["MemoryPressure"]
    # both the hard and (not yet graced) soft thresholds are met
    assert [(t["threshold"], t["graceMet"]) for t in data["thresholdsMet"]] == [("1Gi", True), ("2Gi", False)]
    table = [
        (c["pod"], c["qosClass"], c["usageText"], c["requestText"], c["exceedsRequest"]) for c in data["candidates"]
    ]
    assert table == [
        ("default/besteffort", "BestEffort", "300Mi", "0", True),
        ("default/burstable", "Burstable", "200Mi", "100Mi", True),
        ("default/guaranteed", "Guaranteed", "500Mi", "1Gi", False),
    ]


async def test_plan_is_a_dry_run() -> None:
    rig = memory_rig()
    assert (await rig.manager.plan())["outcome"] == "none"
    rig.memory(500 * Mi, {"guaranteed": 500 * Mi, "burstable": 200 * Mi, "besteffort": 300 * Mi})
    plan = await rig.manager.plan()
    assert plan["dryRun"] is True
    assert plan["evicted"] == "default/besteffort"
    assert rig.killer.kills == []
    assert rig.manager.node_conditions() == []  # state untouched
    await rig.manager.synchronize()
    assert rig.killer.names == ["besteffort"]


async def test_plan_reports_the_soft_grace_timer() -> None:
    rig = memory_rig()
    rig.memory(1500 * Mi, {"besteffort": 300 * Mi})
    await rig.manager.synchronize()
    rig.clock.step(40)
    plan = await rig.manager.plan()
    assert plan["outcome"] == "none"
    assert plan["nodeConditions"] == ["MemoryPressure"]
    (soft,) = plan["thresholdsMet"]
    assert (soft["hard"], soft["metForSeconds"], soft["graceRemainingSeconds"]) == (False, 40.0, 50.0)


async def test_run_loop_wakes_and_stops() -> None:
    config = EvictionConfig(eviction_hard={"memory.available": "1Gi"}, housekeeping_interval=3600)
    rig = Rig(config, [best_effort("a"), best_effort("b")])
    rig.memory(3 * Gi)
    stop = asyncio.Event()
    task = asyncio.create_task(rig.manager.run(stop))
    await asyncio.sleep(0.01)
    assert rig.stats.calls == 1  # first pass, then a long sleep
    rig.clock.step(1)
    rig.memory(100 * Mi, {"a": 10 * Mi})
    rig.manager.wake()  # e.g. a memory.events notification
    for _ in range(100):
        await asyncio.sleep(0.001)
        if rig.killer.kills:
            break
    assert rig.killer.names == ["b"]  # no stats: ranked first
    stop.set()
    await asyncio.wait_for(task, 1)


@pytest.mark.parametrize("available", [1 * Gi - 1, 1 * Gi])
async def test_allocatable_threshold_is_a_hard_memory_copy(available: int) -> None:
    rig = Rig(EvictionConfig(eviction_hard={"memory.available": "1Gi"}), [best_effort("a")])
    rig.stats.result = et.NodeStats(
        allocatable_memory_available_bytes=available, allocatable_memory_working_set_bytes=1 * Gi
    )
    result = await rig.manager.synchronize()
    if available < 1 * Gi:
        assert result is not None and result.signal is et.Signal.ALLOCATABLE_MEMORY_AVAILABLE
        assert rig.manager.node_conditions() == [MP]
    else:
        assert result is None


async def test_the_decision_is_published_before_the_pod_is_killed() -> None:
    # The agent writes the pod's Evicted status inside the kill: whoever then reads the node's /eviction must
    # find the decision that explains it (pending while the kill runs), not the previous one or none.
    rig = memory_rig()
    seen_during_kill: list[tuple[str | None, bool | None]] = []
    record = rig.killer

    async def killer(pod: types.Pod, grace: int | None, reason: str, message: str) -> bool:
        last = rig.manager.last_result
        evicted = last.evicted.metadata.name if last is not None and last.evicted is not None else None
        seen_during_kill.append((evicted, None if last is None else last.kill_succeeded))
        return await record(pod, grace, reason, message)

    rig.manager._kill_pod = killer
    rig.memory(500 * Mi, {"guaranteed": 500 * Mi, "burstable": 200 * Mi, "besteffort": 300 * Mi})
    result = await rig.manager.synchronize()
    assert seen_during_kill == [("besteffort", None)]
    assert result is not None and result.kill_succeeded is True and rig.manager.last_result is result
