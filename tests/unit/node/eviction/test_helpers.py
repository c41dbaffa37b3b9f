"""The pure eviction helpers, table-driven (helpers_test.go style)."""

from __future__ import annotations

import pytest

from minikube_py.api import types
from minikube_py.node.eviction import helpers
from minikube_py.node.eviction import types as et
from minikube_py.node.eviction.helpers import Observation
from minikube_py.node.eviction.types import NodeCondition, Signal, Threshold, ThresholdValue

from .fakes import Gi, Mi, best_effort, burstable, disk_stats, guaranteed, make_pod, mem_stats, q


def hard(signal: Signal, value: str, min_reclaim: str | None = None) -> Threshold:
    mr = None if min_reclaim is None else ThresholdValue(quantity=q(min_reclaim))
    return Threshold(signal, ThresholdValue(quantity=q(value)), 0.0, mr)


def stats_of(*pod_stats: et.PodStats) -> helpers.PodStatsFunc:
    return helpers.pod_stats_func(et.NodeStats(pods=pod_stats))


# ---- observations and thresholds -----------------------------------------------------------------


def test_make_observations() -> None:
    stats = et.NodeStats(
        time=5.0,
        memory_available_bytes=1 * Gi,
        memory_working_set_bytes=3 * Gi,
        nodefs=et.FsStats(available_bytes=2 * Gi, capacity_bytes=20 * Gi, inodes_free=900, inodes=1000),
        imagefs=et.FsStats(available_bytes=1 * Gi, capacity_bytes=10 * Gi, time=4.0),
        max_pid=4194304,
        num_processes=400,
    )
    obs = helpers.make_observations(stats)
    assert obs[Signal.MEMORY_AVAILABLE] == Observation(1 * Gi, 4 * Gi, 5.0)
    assert obs[Signal.NODEFS_AVAILABLE] == Observation(2 * Gi, 20 * Gi, 5.0)
    assert obs[Signal.NODEFS_INODES_FREE].available == 900
    assert obs[Signal.IMAGEFS_AVAILABLE].time == 4.0
    assert Signal.IMAGEFS_INODES_FREE not in obs  # no inode numbers: no observation
    assert Signal.ALLOCATABLE_MEMORY_AVAILABLE not in obs
    assert obs[Signal.PID_AVAILABLE].available == 4194304 - 400
    assert obs[Signal.PID_AVAILABLE].available_quantity().canonical() == "4193904"


@pytest.mark.parametrize(
    ("available", "met"),
    [(100 * Mi - 1, True), (100 * Mi, False), (100 * Mi + 1, False)],
)
def test_threshold_met_is_strictly_less_than(available: int, met: bool) -> None:
    threshold = hard(Signal.MEMORY_AVAILABLE, "100Mi")
    obs = {Signal.MEMORY_AVAILABLE: Observation(available, 4 * Gi)}
    assert helpers.thresholds_met([threshold], obs, False) == ([threshold] if met else [])


def test_percentage_threshold_is_taken_of_capacity() -> None:
    (threshold,) = et.EvictionConfig(eviction_hard={"nodefs.available": "10%"}).thresholds
    # 10% of 10Gi is 1Gi + 16 bytes (float32 percentage, truncated)
    at = {Signal.NODEFS_AVAILABLE: Observation(1 * Gi + 16, 10 * Gi)}
    below = {Signal.NODEFS_AVAILABLE: Observation(1 * Gi + 15, 10 * Gi)}
    assert helpers.thresholds_met([threshold], at, False) == []
    assert helpers.thresholds_met([threshold], below, False) == [threshold]


def test_min_reclaim_raises_the_bar_only_when_enforced() -> None:
    threshold = hard(Signal.MEMORY_AVAILABLE, "1Gi", min_reclaim="500Mi")
    obs = {Signal.MEMORY_AVAILABLE: Observation(1200 * Mi, 4 * Gi)}
    assert helpers.thresholds_met([threshold], obs, False) == []
    assert helpers.thresholds_met([threshold], obs, True) == [threshold]
    done = {Signal.MEMORY_AVAILABLE: Observation(1524 * Mi, 4 * Gi)}
    assert helpers.thresholds_met([threshold], done, True) == []


def test_missing_observation_never_meets() -> None:
    assert helpers.thresholds_met([hard(Signal.PID_AVAILABLE, "100")], {}, False) == []


def test_first_observed_and_grace_period() -> None:
    soft = Threshold(Signal.MEMORY_AVAILABLE, ThresholdValue(quantity=q("2Gi")), 90.0)
    h = hard(Signal.MEMORY_AVAILABLE, "1Gi")
    first = helpers.thresholds_first_observed_at([soft, h], {soft: 10.0}, 50.0)
    assert first == {soft: 10.0, h: 50.0}
    assert helpers.thresholds_met_grace_period(first, 50.0) == [h]
    assert helpers.thresholds_met_grace_period(first, 100.0) == [soft, h]
    assert helpers.grace_remaining(soft, 10.0, 50.0) == 50.0


def test_thresholds_updated_stats_needs_newer_observations() -> None:
    h = hard(Signal.MEMORY_AVAILABLE, "1Gi")
    now = {Signal.MEMORY_AVAILABLE: Observation(1, 2, 10.0)}
    assert helpers.thresholds_updated_stats([h], now, {}) == [h]
    assert helpers.thresholds_updated_stats([h], now, {Signal.MEMORY_AVAILABLE: Observation(1, 2, 10.0)}) == []
    assert helpers.thresholds_updated_stats([h], now, {Signal.MEMORY_AVAILABLE: Observation(1, 2, 9.0)}) == [h]


def test_node_conditions_and_transition_period() -> None:
    thresholds = [
        hard(Signal.PID_AVAILABLE, "10"),
        hard(Signal.NODEFS_AVAILABLE, "1Gi"),
        hard(Signal.MEMORY_AVAILABLE, "1Gi"),
    ]
    assert helpers.node_conditions(thresholds) == [
        NodeCondition.MEMORY_PRESSURE,
        NodeCondition.DISK_PRESSURE,
        NodeCondition.PID_PRESSURE,
    ]
    seen = helpers.node_conditions_last_observed_at(
        [NodeCondition.MEMORY_PRESSURE], {NodeCondition.DISK_PRESSURE: 0.0}, 100.0
    )
    assert seen == {NodeCondition.DISK_PRESSURE: 0.0, NodeCondition.MEMORY_PRESSURE: 100.0}
    assert helpers.node_conditions_observed_since(seen, 300.0, 299.0) == [
        NodeCondition.MEMORY_PRESSURE,
        NodeCondition.DISK_PRESSURE,
    ]
    assert helpers.node_conditions_observed_since(seen, 300.0, 300.0) == [NodeCondition.MEMORY_PRESSURE]


def test_memory_signals_are_reclaimed_first() -> None:
    disk, mem = hard(Signal.NODEFS_AVAILABLE, "1Gi"), hard(Signal.MEMORY_AVAILABLE, "1Gi")
    ordered = helpers.sort_by_eviction_priority([disk, mem])
    assert ordered == [mem, disk]
    assert helpers.reclaimable_threshold(ordered) == (mem, "memory")


# ---- ranking --------------------------------------------------------------------------------------


def names(pods: list[types.Pod]) -> list[str]:
    return [p.metadata.name for p in pods]


def test_memory_ranking_kubelet_example() -> None:
    """A low-priority Burstable over its request goes before a high-priority BestEffort (pitfall 6)."""
    low_burstable = burstable("low-burstable", "100Mi", priority=0)
    high_best_effort = best_effort("high-besteffort", priority=1000)
    stats = stats_of(mem_stats(low_burstable, 200 * Mi), mem_stats(high_best_effort, 50 * Mi))
    assert names(helpers.rank_memory_pressure([high_best_effort, low_burstable], stats)) == [
        "low-burstable",
        "high-besteffort",
    ]


def test_memory_ranking_table() -> None:
    be = best_effort("besteffort")  # request 0: always exceeds
    over = burstable("burstable-over", "100Mi")  # 300Mi used
    under = burstable("burstable-under", "500Mi")  # 200Mi used
    g = guaranteed("guaranteed", "1Gi")  # 900Mi used, can't exceed
    nostats = burstable("no-stats", "1Gi")
    stats = stats_of(
        mem_stats(be, 100 * Mi), mem_stats(over, 300 * Mi), mem_stats(under, 200 * Mi), mem_stats(g, 900 * Mi)
    )
    ranked = helpers.rank_memory_pressure([g, under, over, be, nostats], stats)
    # no stats first; then the over-request pods by overage (over: +200Mi, be: +100Mi); then the rest by
    # overage (under: -300Mi, guaranteed: -124Mi -> guaranteed first)
    assert names(ranked) == ["no-stats", "burstable-over", "besteffort", "guaranteed", "burstable-under"]


def test_besteffort_first_when_priorities_are_equal() -> None:
    be = best_effort("besteffort")
    b = burstable("burstable", "100Mi")
    g = guaranteed("guaranteed", "100Mi")
    stats = stats_of(mem_stats(be, 10 * Mi), mem_stats(b, 50 * Mi), mem_stats(g, 90 * Mi))
    assert names(helpers.rank_memory_pressure([g, b, be], stats)) == ["besteffort", "guaranteed", "burstable"]


def test_priority_before_usage() -> None:
    big = best_effort("big", priority=100)
    small = best_effort("small", priority=10)
    stats = stats_of(mem_stats(big, 900 * Mi), mem_stats(small, 10 * Mi))
    assert names(helpers.rank_memory_pressure([big, small], stats)) == ["small", "big"]


def test_disk_ranking_uses_ephemeral_storage_requests() -> None:
    a = make_pod("a", requests={"ephemeral-storage": "1Gi"})
    b = make_pod("b")
    c = make_pod("c", requests={"ephemeral-storage": "100Mi"})
    stats = stats_of(
        disk_stats(a, 900 * Mi), disk_stats(b, 10 * Mi, logs=5 * Mi), disk_stats(c, 300 * Mi, logs=100 * Mi)
    )
    ranked = helpers.rank_disk_pressure([a, b, c], stats)
    assert names(ranked) == ["c", "b", "a"]  # c exceeds by 300Mi, b by 15Mi; a is under its request
    # with a dedicated imagefs, nodefs ranking counts logs (+ local volumes) only
    scope = frozenset({helpers.FsStatsType.LOGS, helpers.FsStatsType.LOCAL_VOLUME_SOURCE})
    assert names(helpers.rank_disk_pressure([a, b, c], stats, scope)) == ["b", "c", "a"]


def test_disk_ranking_counts_local_volumes() -> None:
    pod = make_pod("vol")
    pod.spec.volumes = [
        types.Volume(name="scratch", empty_dir=types.EmptyDirVolumeSource()),
        types.Volume(name="tmpfs", empty_dir=types.EmptyDirVolumeSource(medium="Memory")),
    ]
    ps = et.PodStats(uid=pod.metadata.uid, volume_used_bytes={"scratch": 7 * Mi, "tmpfs": 100 * Mi})
    assert helpers.pod_disk_usage(ps, pod, helpers.ALL_FS_STATS) == (7 * Mi, 0)


def test_pid_ranking_priority_then_process_count() -> None:
    a, b, c = make_pod("a", priority=5), make_pod("b"), make_pod("c")
    pstats = [et.PodStats(uid=p.metadata.uid, process_count=n) for p, n in ((a, 1000), (b, 10), (c, 20))]
    assert names(helpers.rank_pid_pressure([a, b, c], stats_of(*pstats))) == ["c", "b", "a"]


def test_candidate_table() -> None:
    be = best_effort("be")
    g = guaranteed("g", "256Mi", priority=7)
    stats = stats_of(mem_stats(be, 64 * Mi), mem_stats(g, 200 * Mi))
    ranked = helpers.rank_memory_pressure([g, be], stats)
    rows = [c.to_dict() for c in helpers.candidate_table(ranked, Signal.MEMORY_AVAILABLE, stats)]
    assert rows == [
        {
            "rank": 1, "pod": "default/be", "uid": "uid-be", "qosClass": "BestEffort", "priority": 0,
            "critical": False, "resource": "memory", "usage": 64 * Mi, "usageText": "64Mi", "request": 0,
            "requestText": "0", "exceedsRequest": True, "overage": 64 * Mi, "statsFound": True,
        },
        {
            "rank": 2, "pod": "default/g", "uid": "uid-g", "qosClass": "Guaranteed", "priority": 7,
            "critical": False, "resource": "memory", "usage": 200 * Mi, "usageText": "200Mi", "request": 256 * Mi,
            "requestText": "256Mi", "exceedsRequest": False, "overage": -56 * Mi, "statsFound": True,
        },
    ]  # fmt: skip


# ---- messages, grace, admission -------------------------------------------------------------------


def test_eviction_message_memory() -> None:
    pod = burstable("web", "64Mi")
    stats = stats_of(mem_stats(pod, 300 * Mi))
    thresholds = [hard(Signal.MEMORY_AVAILABLE, "128Mi")]
    obs = {Signal.MEMORY_AVAILABLE: Observation(100 * Mi, 2 * Gi)}
    message, annotations = helpers.eviction_message("memory", pod, stats, thresholds, obs)
    assert message == (
        "The node was low on resource: memory. Threshold quantity: 128Mi, available: 100Mi. "
        "Container app was using 300Mi, request is 64Mi, has larger consumption of memory. "
    )
    assert annotations == {
        "offending_containers": "app",
        "offending_containers_usage": "300Mi",
        "starved_resource": "memory",
    }


def test_eviction_message_ephemeral_storage_and_percent_threshold() -> None:
    pod = make_pod("logger", requests={"ephemeral-storage": "1Mi"})
    stats = stats_of(disk_stats(pod, rootfs=3 * Mi, logs=2 * Mi))
    thresholds = list(et.EvictionConfig(eviction_hard={"nodefs.available": "10%"}).thresholds)
    obs = {Signal.NODEFS_AVAILABLE: Observation(512 * Mi, 10 * Gi)}
    message, _ = helpers.eviction_message("ephemeral-storage", pod, stats, thresholds, obs)
    assert message == (
        "The node was low on resource: ephemeral-storage. Threshold quantity: 1073741840, available: 512Mi. "
        "Container app was using 5Mi, request is 1Mi, has larger consumption of ephemeral-storage. "
    )


def test_eviction_message_container_under_request_and_pod_without_stats() -> None:
    pod = burstable("calm", "1Gi")
    thresholds = [hard(Signal.MEMORY_AVAILABLE, "128Mi")]
    obs = {Signal.MEMORY_AVAILABLE: Observation(100 * Mi, 2 * Gi)}
    base = "The node was low on resource: memory. Threshold quantity: 128Mi, available: 100Mi. "
    assert helpers.eviction_message("memory", pod, stats_of(mem_stats(pod, 10 * Mi)), thresholds, obs)[0] == base
    assert helpers.eviction_message("memory", pod, stats_of(), thresholds, obs) == (base, {})


@pytest.mark.parametrize(
    ("grace_period", "max_pod", "own", "expected"),
    [
        (0.0, 30, 60, 1),  # hard: immediateEvictionGracePeriodSeconds
        (90.0, 30, 60, 30),  # soft: capped by evictionMaxPodGracePeriod
        (90.0, 30, 10, 10),  # ... and by the pod's own
        (90.0, 30, None, 30),
        (90.0, 0, 60, 0),  # the default 0 kills at once
        (90.0, -1, 60, None),  # negative: the pod's own (flag help text)
    ],
)
def test_eviction_grace_period(grace_period: float, max_pod: int, own: int | None, expected: int | None) -> None:
    threshold = Threshold(Signal.MEMORY_AVAILABLE, ThresholdValue(quantity=q("1Gi")), grace_period)
    assert helpers.eviction_grace_period(threshold, make_pod("p", grace=own), max_pod) == expected


MP, DP, PP = NodeCondition.MEMORY_PRESSURE, NodeCondition.DISK_PRESSURE, NodeCondition.PID_PRESSURE
TOLERATE_MP = [types.Toleration(key="node.kubernetes.io/memory-pressure", operator="Exists", effect="NoSchedule")]


@pytest.mark.parametrize(
    ("conditions", "pod", "admitted", "message"),
    [
        ([], best_effort("be"), True, ""),
        ([MP], best_effort("be"), False, "The node had condition: [MemoryPressure]. "),
        ([MP], burstable("b", "1Mi"), True, ""),
        ([MP], best_effort("tolerant", tolerations=TOLERATE_MP), True, ""),
        ([MP], best_effort("critical", priority=2_000_000_000), True, ""),
        ([DP], guaranteed("g", "1Gi"), False, "The node had condition: [DiskPressure]. "),
        ([PP], burstable("b", "1Mi"), False, "The node had condition: [PIDPressure]. "),
        ([MP, DP], burstable("b", "1Mi"), False, "The node had condition: [MemoryPressure DiskPressure]. "),
        (
            [MP, DP],
            best_effort("tolerant", tolerations=TOLERATE_MP),
            False,
            "The node had condition: [MemoryPressure DiskPressure]. ",
        ),
        ([DP], best_effort("static", annotations={"kubernetes.io/config.source": "file"}), True, ""),
    ],
)
def test_admit(conditions: list[NodeCondition], pod: types.Pod, admitted: bool, message: str) -> None:
    result = helpers.admit(conditions, pod)
    assert (result.admit, result.message) == (admitted, message)
    assert result.reason == ("" if admitted else "Evicted")
