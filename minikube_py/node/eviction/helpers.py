"""Pure eviction policy, one small function per step of the kubelet's ``synchronize`` (helpers.go).

Nothing here reads a clock or the OS: times come in as arguments and stats as a :class:`NodeStats` snapshot.
Reference: k8s-semantics.md §7; pitfalls 1 (hard grace is 1 s), 4 (defaults replaced), 6 (ranking ignores QoS).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from minikube_py.api import qos, quantity, types
from minikube_py.node.eviction import types as et

__all__ = [
    "IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS",
    "REASON",
    "AdmitResult",
    "Candidate",
    "FsStatsType",
    "Observation",
    "admit",
    "candidate_table",
    "eviction_grace_period",
    "eviction_message",
    "is_critical",
    "make_observations",
    "merge_thresholds",
    "node_conditions",
    "node_conditions_last_observed_at",
    "node_conditions_observed_since",
    "rank_disk_pressure",
    "rank_for_signal",
    "rank_memory_pressure",
    "rank_pid_pressure",
    "reclaimable_threshold",
    "sort_by_eviction_priority",
    "threshold_quantity",
    "thresholds_first_observed_at",
    "thresholds_met",
    "thresholds_met_grace_period",
    "thresholds_updated_stats",
]

# eviction_manager.go immediateEvictionGracePeriodSeconds. The docs say hard evictions use 0 s; the code
# passes 1 (and the pod worker floors any override at 1 anyway). Reference pitfall 1.
IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS = 1
REASON = "Evicted"
NODE_LOW_MESSAGE_FMT = "The node was low on resource: {}. "
THRESHOLD_MET_MESSAGE_FMT = "Threshold quantity: {}, available: {}. "
CONTAINER_MESSAGE_FMT = "Container {} was using {}, request is {}, has larger consumption of {}. "
NODE_CONDITION_MESSAGE_FMT = "The node had condition: {}. "
OFFENDING_CONTAINERS_KEY = "offending_containers"
OFFENDING_CONTAINERS_USAGE_KEY = "offending_containers_usage"
STARVED_RESOURCE_KEY = "starved_resource"
TAINT_NODE_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"

PodStatsFunc = Callable[[types.Pod], et.PodStats | None]
RankFunc = Callable[[Sequence[types.Pod], PodStatsFunc], list[types.Pod]]


# ----------------------------------------------------------------------------------------------------
# Observations


@dataclasses.dataclass(frozen=True, slots=True)
class Observation:
    """What one signal measured: ``available`` and the ``capacity`` percentages are taken of."""

    available: int
    capacity: int
    time: float | None = None
    format: quantity.Format = quantity.Format.BINARY_SI
    """How the kubelet prints it: BinarySI for bytes, DecimalSI for inodes and pids."""

    def available_quantity(self) -> quantity.Quantity:
        return quantity.Quantity.from_int(self.available, self.format)


def _fs_observations(
    fs: et.FsStats | None, snapshot_time: float | None, bytes_signal: et.Signal, inodes_signal: et.Signal
) -> dict[et.Signal, Observation]:
    result: dict[et.Signal, Observation] = {}
    if fs is None:
        return result
    when = fs.time if fs.time is not None else snapshot_time
    if fs.available_bytes is not None and fs.capacity_bytes is not None:
        result[bytes_signal] = Observation(fs.available_bytes, fs.capacity_bytes, when)
    if fs.inodes_free is not None and fs.inodes is not None:
        result[inodes_signal] = Observation(fs.inodes_free, fs.inodes, when, quantity.Format.DECIMAL_SI)
    return result


def make_observations(stats: et.NodeStats) -> dict[et.Signal, Observation]:
    """``makeSignalObservations``: one observation per signal the snapshot can answer."""
    result: dict[et.Signal, Observation] = {}
    if stats.memory_available_bytes is not None and stats.memory_working_set_bytes is not None:
        available = stats.memory_available_bytes
        result[et.Signal.MEMORY_AVAILABLE] = Observation(
            available, available + stats.memory_working_set_bytes, stats.time
        )
    if stats.allocatable_memory_available_bytes is not None and stats.allocatable_memory_working_set_bytes is not None:
        available = stats.allocatable_memory_available_bytes
        result[et.Signal.ALLOCATABLE_MEMORY_AVAILABLE] = Observation(
            available, available + stats.allocatable_memory_working_set_bytes, stats.time
        )
    result |= _fs_observations(stats.nodefs, stats.time, et.Signal.NODEFS_AVAILABLE, et.Signal.NODEFS_INODES_FREE)
    result |= _fs_observations(stats.imagefs, stats.time, et.Signal.IMAGEFS_AVAILABLE, et.Signal.IMAGEFS_INODES_FREE)
    if stats.max_pid is not None and stats.num_processes is not None:
        result[et.Signal.PID_AVAILABLE] = Observation(
            stats.max_pid - stats.num_processes, stats.max_pid, stats.time, quantity.Format.DECIMAL_SI
        )
    return result


def pod_stats_func(stats: et.NodeStats) -> PodStatsFunc:
    """``cachedStatsFunc``: pod -> its stats by UID, or ``None`` when the snapshot has none."""
    by_uid = {p.uid: p for p in stats.pods}
    return lambda pod: by_uid.get(pod.metadata.uid)


# ----------------------------------------------------------------------------------------------------
# Thresholds


def threshold_quantity(threshold: et.Threshold, observation: Observation, *, enforce_min_reclaim: bool = False) -> int:
    """The absolute amount below which ``threshold`` is met (plus its min-reclaim when enforcing it)."""
    amount = threshold.value.resolve(observation.capacity)
    if enforce_min_reclaim and threshold.min_reclaim is not None:
        amount += threshold.min_reclaim.resolve(observation.capacity)
    return amount


def thresholds_met(
    thresholds: Iterable[et.Threshold], observations: Mapping[et.Signal, Observation], enforce_min_reclaim: bool
) -> list[et.Threshold]:
    """``thresholdsMet``: met when the threshold quantity is strictly greater than what is available.
    A signal without an observation never meets its thresholds."""
    results: list[et.Threshold] = []
    for threshold in thresholds:
        observed = observations.get(threshold.signal)
        if observed is None:
            continue
        if threshold_quantity(threshold, observed, enforce_min_reclaim=enforce_min_reclaim) > observed.available:
            results.append(threshold)
    return results


def merge_thresholds(a: Iterable[et.Threshold], b: Iterable[et.Threshold]) -> list[et.Threshold]:
    """``mergeThresholds``: ``a`` then the members of ``b`` not already in it."""
    results = list(a)
    for threshold in b:
        if threshold not in results:
            results.append(threshold)
    return results


def thresholds_first_observed_at(
    thresholds: Iterable[et.Threshold], last_observed_at: Mapping[et.Threshold, float], now: float
) -> dict[et.Threshold, float]:
    """``thresholdsFirstObservedAt``: keep the old time for thresholds still met, ``now`` for new ones; a
    threshold no longer met is dropped, so its grace timer restarts the next time it is met."""
    return {t: last_observed_at.get(t, now) for t in thresholds}


def grace_remaining(threshold: et.Threshold, first_observed_at: float, now: float) -> float:
    return max(0.0, threshold.grace_period - (now - first_observed_at))


def thresholds_met_grace_period(observed_at: Mapping[et.Threshold, float], now: float) -> list[et.Threshold]:
    """``thresholdsMetGracePeriod``: the thresholds met for at least their grace period (hard: at once)."""
    return [t for t, at in observed_at.items() if now - at >= t.grace_period]


def thresholds_updated_stats(
    thresholds: Iterable[et.Threshold],
    observations: Mapping[et.Signal, Observation],
    last_observations: Mapping[et.Signal, Observation],
) -> list[et.Threshold]:
    """``thresholdsUpdatedStats``: act only on signals measured since the last pass (an untimed observation
    always counts as new), so one stale snapshot cannot evict twice."""
    results: list[et.Threshold] = []
    for threshold in thresholds:
        observed = observations.get(threshold.signal)
        if observed is None:
            continue
        last = last_observations.get(threshold.signal)
        if last is None or observed.time is None or last.time is None or observed.time > last.time:
            results.append(threshold)
    return results


_CONDITION_ORDER = list(et.NodeCondition)


def node_conditions(thresholds: Iterable[et.Threshold]) -> list[et.NodeCondition]:
    """``nodeConditions``: the pressure conditions the thresholds map to, once each, in a fixed order."""
    found = {et.SIGNAL_TO_NODE_CONDITION[t.signal] for t in thresholds}
    return [c for c in _CONDITION_ORDER if c in found]


def node_conditions_last_observed_at(
    conditions: Iterable[et.NodeCondition], last_observed_at: Mapping[et.NodeCondition, float], now: float
) -> dict[et.NodeCondition, float]:
    """``nodeConditionsLastObservedAt``: conditions seen now get ``now``; the others keep their old time."""
    result = dict(last_observed_at)
    result.update(dict.fromkeys(conditions, now))
    return result


def node_conditions_observed_since(
    observed_at: Mapping[et.NodeCondition, float], period: float, now: float
) -> list[et.NodeCondition]:
    """``nodeConditionsObservedSince``: a condition stays reported until unseen for ``period`` seconds."""
    return [c for c in _CONDITION_ORDER if c in observed_at and now - observed_at[c] < period]


def sort_by_eviction_priority(thresholds: Iterable[et.Threshold]) -> list[et.Threshold]:
    """``byEvictionPriority``: memory signals first, otherwise the given order (a stable sort; Go's is not)."""
    return sorted(thresholds, key=lambda t: t.signal not in et.MEMORY_SIGNALS)


def reclaimable_threshold(thresholds: Iterable[et.Threshold]) -> tuple[et.Threshold, str] | None:
    """``getReclaimableThreshold``: the first threshold with a resource to reclaim, and that resource."""
    for threshold in thresholds:
        resource = et.SIGNAL_TO_RESOURCE.get(threshold.signal)
        if resource is not None:
            return threshold, resource
    return None


# ----------------------------------------------------------------------------------------------------
# Pod measures


def is_critical(pod: types.Pod) -> bool:
    """Static, mirror or priority >= 2000000000: never evicted, always admitted."""
    return qos.is_critical_pod(pod)


def pod_priority(pod: types.Pod) -> int:
    """``corev1helpers.PodPriority``: unset counts as 0."""
    return pod.spec.priority if pod.spec.priority is not None else 0


def pod_request(pod: types.Pod, resource: str) -> int:
    """``GetResourceRequestQuantity``: the pod's effective request (init/sidecar aware, plus overhead), or 0."""
    request = qos.pod_effective_requests(pod).get(resource)
    return 0 if request is None else request.value()


class FsStatsType(enum.Enum):
    """Which parts of a pod's storage a disk ranking counts (helpers.go fsStatsType)."""

    ROOT = "root"  # container writable layers
    LOGS = "logs"
    LOCAL_VOLUME_SOURCE = "localVolumeSource"  # emptyDir on disk, hostPath, configMap, gitRepo


ALL_FS_STATS = frozenset(FsStatsType)


def _local_volume_names(pod: types.Pod) -> list[str]:
    """``localVolumeNames``: hostPath and local ephemeral volumes (disk-backed emptyDir, gitRepo, configMap)."""
    names: list[str] = []
    for volume in pod.spec.volumes:
        disk_empty_dir = volume.empty_dir is not None and volume.empty_dir.medium == ""
        if disk_empty_dir or any(k in volume.other_sources for k in ("hostPath", "gitRepo", "configMap")):
            names.append(volume.name)
    return names


def pod_disk_usage(pod_stats: et.PodStats, pod: types.Pod, measure: frozenset[FsStatsType]) -> tuple[int, int]:
    """``podDiskUsage``: (bytes, inodes) over the measured parts."""
    disk = inodes = 0
    for c in pod_stats.containers:
        if FsStatsType.ROOT in measure:
            disk += c.rootfs_used_bytes or 0
            inodes += c.rootfs_inodes_used or 0
        if FsStatsType.LOGS in measure:
            disk += c.logs_used_bytes or 0
            inodes += c.logs_inodes_used or 0
    if FsStatsType.LOCAL_VOLUME_SOURCE in measure:
        for name in _local_volume_names(pod):
            disk += pod_stats.volume_used_bytes.get(name, 0)
            inodes += pod_stats.volume_inodes_used.get(name, 0)
    return disk, inodes


@dataclasses.dataclass(frozen=True, slots=True)
class _Measure:
    """A pod's usage for one ranking: ``usage is None`` means no stats were found for it."""

    usage: int | None
    exceed_request: int  # compared with usage by the "exceeds requests" key
    overage_request: int  # subtracted from usage by the final key


Measurer = Callable[[types.Pod], _Measure]


def _memory_measurer(stats: PodStatsFunc) -> Measurer:
    def measure(pod: types.Pod) -> _Measure:
        pod_stats = stats(pod)
        request = pod_request(pod, et.RESOURCE_MEMORY)
        if pod_stats is None:
            return _Measure(None, request, request)
        return _Measure(pod_stats.memory_working_set_bytes or 0, request, request)

    return measure


def _disk_measurer(stats: PodStatsFunc, fs_measure: frozenset[FsStatsType], resource: str) -> Measurer:
    def measure(pod: types.Pod) -> _Measure:
        pod_stats = stats(pod)
        # Kubelet quirk kept on purpose: the "exceeds" key compares with the request for ``resource`` (none
        # exists for inodes, so any use exceeds), while the final key always subtracts the ephemeral-storage
        # request, also from an inode count.
        exceed = pod_request(pod, resource)
        overage = pod_request(pod, et.RESOURCE_EPHEMERAL_STORAGE)
        if pod_stats is None:
            return _Measure(None, exceed, overage)
        disk, inodes = pod_disk_usage(pod_stats, pod, fs_measure)
        return _Measure(inodes if resource == et.RESOURCE_INODES else disk, exceed, overage)

    return measure


def _process_measurer(stats: PodStatsFunc) -> Measurer:
    def measure(pod: types.Pod) -> _Measure:
        pod_stats = stats(pod)
        if pod_stats is None:
            return _Measure(None, 0, 0)
        return _Measure(pod_stats.process_count or 0, 0, 0)

    return measure


# Comparators: negative means "p1 is evicted first" (helpers.go cmpFunc).
Cmp = Callable[[types.Pod, types.Pod], int]


def _cmp_bool(a: bool, b: bool) -> int:
    """``cmpBool``: true sorts before false."""
    return 0 if a == b else (-1 if a else 1)


def _cmp_exceeds(measure: Measurer) -> Cmp:
    def cmp(p1: types.Pod, p2: types.Pod) -> int:
        m1, m2 = measure(p1), measure(p2)
        if m1.usage is None or m2.usage is None:
            return _cmp_bool(m1.usage is None, m2.usage is None)  # pods without stats go first
        return _cmp_bool(m1.usage > m1.exceed_request, m2.usage > m2.exceed_request)

    return cmp


def _cmp_priority(p1: types.Pod, p2: types.Pod) -> int:
    a, b = pod_priority(p1), pod_priority(p2)
    return (a > b) - (a < b)


def _cmp_overage(measure: Measurer) -> Cmp:
    def cmp(p1: types.Pod, p2: types.Pod) -> int:
        m1, m2 = measure(p1), measure(p2)
        if m1.usage is None or m2.usage is None:
            return _cmp_bool(m1.usage is None, m2.usage is None)
        a, b = m1.usage - m1.overage_request, m2.usage - m2.overage_request
        return (b > a) - (b < a)  # larger first

    return cmp


def _ordered_by(pods: Sequence[types.Pod], *cmps: Cmp) -> list[types.Pod]:
    """``orderedBy(...).Sort``: the first comparator that tells two pods apart decides."""

    def combined(p1: types.Pod, p2: types.Pod) -> int:
        for cmp in cmps:
            result = cmp(p1, p2)
            if result:
                return result
        return 0

    return sorted(pods, key=functools.cmp_to_key(combined))


def rank_memory_pressure(pods: Sequence[types.Pod], stats: PodStatsFunc) -> list[types.Pod]:
    """``orderedBy(exceedMemoryRequests, priority, memory)``: over-request first (no stats before all), then
    lower priority, then larger usage - request. QoS is not a key (reference pitfall 6)."""
    measure = _memory_measurer(stats)
    return _ordered_by(pods, _cmp_exceeds(measure), _cmp_priority, _cmp_overage(measure))


def rank_disk_pressure(
    pods: Sequence[types.Pod],
    stats: PodStatsFunc,
    fs_measure: frozenset[FsStatsType] = ALL_FS_STATS,
    resource: str = et.RESOURCE_EPHEMERAL_STORAGE,
) -> list[types.Pod]:
    """``orderedBy(exceedDiskRequests, priority, disk)`` over the measured parts of each pod's storage."""
    measure = _disk_measurer(stats, fs_measure, resource)
    return _ordered_by(pods, _cmp_exceeds(measure), _cmp_priority, _cmp_overage(measure))


def rank_pid_pressure(pods: Sequence[types.Pod], stats: PodStatsFunc) -> list[types.Pod]:
    """``orderedBy(priority, process)``: lower priority first, then more processes (no stats first)."""
    return _ordered_by(pods, _cmp_priority, _cmp_overage(_process_measurer(stats)))


def _disk_scope(signal: et.Signal, image_fs_dedicated: bool) -> frozenset[FsStatsType]:
    if not image_fs_dedicated:
        return ALL_FS_STATS  # one device: every part of a pod's storage counts
    if signal in (et.Signal.NODEFS_AVAILABLE, et.Signal.NODEFS_INODES_FREE):
        return frozenset({FsStatsType.LOGS, FsStatsType.LOCAL_VOLUME_SOURCE})
    return frozenset({FsStatsType.ROOT})


def measurer_for_signal(signal: et.Signal, stats: PodStatsFunc, image_fs_dedicated: bool) -> Measurer:
    if signal in et.MEMORY_SIGNALS:
        return _memory_measurer(stats)
    if signal is et.Signal.PID_AVAILABLE:
        return _process_measurer(stats)
    return _disk_measurer(stats, _disk_scope(signal, image_fs_dedicated), et.SIGNAL_TO_RESOURCE[signal])


def rank_for_signal(signal: et.Signal, image_fs_dedicated: bool = False) -> RankFunc:
    """``buildSignalToRankFunc`` (without the split container fs)."""
    if signal in et.MEMORY_SIGNALS:
        return rank_memory_pressure
    if signal is et.Signal.PID_AVAILABLE:
        return rank_pid_pressure
    scope = _disk_scope(signal, image_fs_dedicated)
    resource = et.SIGNAL_TO_RESOURCE[signal]
    return lambda pods, stats: rank_disk_pressure(pods, stats, scope, resource)


# ----------------------------------------------------------------------------------------------------
# The explanation table


def _fmt(value: int, resource: str) -> str:
    fmt = quantity.Format.BINARY_SI if resource in (et.RESOURCE_MEMORY, et.RESOURCE_EPHEMERAL_STORAGE) else None
    return quantity.Quantity.from_int(value, fmt or quantity.Format.DECIMAL_SI).canonical()


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """One row of the ranked table: why a pod sits where it does."""

    rank: int
    namespace: str
    name: str
    uid: str
    qos_class: str
    priority: int
    critical: bool
    resource: str
    usage: int | None
    """Bytes / inodes / processes; ``None`` when no stats were found (such pods rank first)."""
    request: int
    exceeds_request: bool | None
    overage: int | None
    """usage - request, the final ranking key."""

    def to_dict(self) -> dict[str, Any]:
        usage = None if self.usage is None else _fmt(self.usage, self.resource)
        return {
            "rank": self.rank,
            "pod": f"{self.namespace}/{self.name}",
            "uid": self.uid,
            "qosClass": self.qos_class,
            "priority": self.priority,
            "critical": self.critical,
            "resource": self.resource,
            "usage": self.usage,
            "usageText": usage,
            "request": self.request,
            "requestText": _fmt(self.request, self.resource),
            "exceedsRequest": self.exceeds_request,
            "overage": self.overage,
            "statsFound": self.usage is not None,
        }


def candidate_table(
    ranked: Sequence[types.Pod], signal: et.Signal, stats: PodStatsFunc, image_fs_dedicated: bool = False
) -> list[Candidate]:
    """Describe already-ranked pods with the numbers their ranking used."""
    measure = measurer_for_signal(signal, stats, image_fs_dedicated)
    resource = et.SIGNAL_TO_RESOURCE[signal]
    rows: list[Candidate] = []
    for index, pod in enumerate(ranked):
        m = measure(pod)
        pid = signal is et.Signal.PID_AVAILABLE
        rows.append(
            Candidate(
                rank=index + 1,
                namespace=pod.metadata.namespace,
                name=pod.metadata.name,
                uid=pod.metadata.uid,
                qos_class=qos.pod_qos_class(pod).value,
                priority=pod_priority(pod),
                critical=is_critical(pod),
                resource=resource,
                usage=m.usage,
                request=m.exceed_request,
                exceeds_request=None if m.usage is None or pid else m.usage > m.exceed_request,
                overage=None if m.usage is None else m.usage - m.overage_request,
            )
        )
    return rows


# ----------------------------------------------------------------------------------------------------
# Killing: grace period and message


def eviction_grace_period(threshold: et.Threshold, pod: types.Pod, max_pod_grace_period: int) -> int | None:
    """The grace period override for killing ``pod`` (``None``: use the pod's own).

    Hard: 1 s. Soft: ``evictionMaxPodGracePeriod`` capped by the pod's ``terminationGracePeriodSeconds`` when
    set, so the default 0 kills at once. A negative maximum defers to the pod, as the flag's help text says;
    the upstream code passes the negative value on instead (kubernetes#118172, open fixes).
    """
    if threshold.is_hard:
        return IMMEDIATE_EVICTION_GRACE_PERIOD_SECONDS
    if max_pod_grace_period < 0:
        return None
    own = pod.spec.termination_grace_period_seconds
    return max_pod_grace_period if own is None else min(max_pod_grace_period, own)


def threshold_met_info(
    resource: str, thresholds: Iterable[et.Threshold], observations: Mapping[et.Signal, Observation]
) -> tuple[quantity.Quantity, quantity.Quantity] | None:
    """``getThresholdMetInfo``: (threshold quantity, available) of the first threshold for ``resource``."""
    for threshold in thresholds:
        if et.SIGNAL_TO_RESOURCE.get(threshold.signal) != resource:
            continue
        observed = observations.get(threshold.signal)
        if observed is not None:
            return threshold.value.resolve_quantity(observed.capacity), observed.available_quantity()
    return None


def _container_usage(resource: str, stats: et.ContainerStats) -> int | None:
    if resource == et.RESOURCE_EPHEMERAL_STORAGE:
        if stats.rootfs_used_bytes is not None and stats.logs_used_bytes is not None:
            return stats.rootfs_used_bytes + stats.logs_used_bytes
        return None
    if resource == et.RESOURCE_MEMORY:
        return stats.memory_working_set_bytes
    return None


def eviction_message(
    resource: str,
    pod: types.Pod,
    stats: PodStatsFunc,
    thresholds: Iterable[et.Threshold],
    observations: Mapping[et.Signal, Observation],
) -> tuple[str, dict[str, str]]:
    """``evictionMessage``: the pod's status message (every fragment ends with a space) and event annotations."""
    message = NODE_LOW_MESSAGE_FMT.format(resource)
    info = threshold_met_info(resource, thresholds, observations)
    if info is not None:
        message += THRESHOLD_MET_MESSAGE_FMT.format(info[0].canonical(), info[1].canonical())
    pod_stats = stats(pod)
    if pod_stats is None:
        return message, {}
    containers = [*pod.spec.containers, *pod.spec.init_containers]
    offenders: list[str] = []
    usages: list[str] = []
    for container_stats in pod_stats.containers:
        container = next((c for c in containers if c.name == container_stats.name), None)
        if container is None:
            continue
        request = container.resources.requests.get(resource) or quantity.Quantity.from_int(0)
        used = _container_usage(resource, container_stats)
        if used is not None and used > request.value():
            usage = quantity.Quantity.from_int(used, quantity.Format.BINARY_SI).canonical()
            message += CONTAINER_MESSAGE_FMT.format(container.name, usage, request.canonical(), resource)
            offenders.append(container.name)
            usages.append(usage)
    annotations = {
        OFFENDING_CONTAINERS_KEY: ",".join(offenders),
        OFFENDING_CONTAINERS_USAGE_KEY: ",".join(usages),
        STARVED_RESOURCE_KEY: resource,
    }
    return message, annotations


# ----------------------------------------------------------------------------------------------------
# Admission


@dataclasses.dataclass(frozen=True, slots=True)
class AdmitResult:
    admit: bool
    reason: str = ""
    message: str = ""


def _tolerates(toleration: types.Toleration, key: str, effect: str) -> bool:
    """``Toleration.ToleratesTaint`` for a value-less taint."""
    if toleration.effect and toleration.effect != effect:
        return False
    if toleration.key and toleration.key != key:
        return False
    if toleration.operator in ("", "Equal"):
        return toleration.value == ""
    return toleration.operator == "Exists"


def admit(conditions: Sequence[et.NodeCondition], pod: types.Pod) -> AdmitResult:
    """``managerImpl.Admit``: under MemoryPressure alone only BestEffort pods are refused (unless they
    tolerate the memory-pressure taint); any other pressure refuses every pod. Critical pods always pass."""
    if not conditions or is_critical(pod):
        return AdmitResult(True)
    if list(conditions) == [et.NodeCondition.MEMORY_PRESSURE]:
        if qos.pod_qos_class(pod) is not qos.QOSClass.BEST_EFFORT:
            return AdmitResult(True)
        if any(_tolerates(t, TAINT_NODE_MEMORY_PRESSURE, "NoSchedule") for t in pod.spec.tolerations):
            return AdmitResult(True)
    listed = "[" + " ".join(c.value for c in conditions) + "]"  # Go's %v of a slice
    return AdmitResult(False, REASON, NODE_CONDITION_MESSAGE_FMT.format(listed))


# ----------------------------------------------------------------------------------------------------
# Local-storage limits (checked before the thresholds each pass; offenders go at once, grace 0)

POD_EPHEMERAL_STORAGE_MESSAGE_FMT = "Pod ephemeral local storage usage exceeds the total limit of containers {}. "


def _go_quote(text: str) -> str:
    """Go's %q of a plain string (what the kubelet's messages use)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclasses.dataclass(frozen=True, slots=True)
class LocalStorageViolation:
    """One pod over one of its local-storage limits: what was measured against what."""

    pod: types.Pod
    kind: str  # emptyDir | pod | container
    subject: str  # volume or container name; the pod's name for the pod total
    used_bytes: int
    limit: quantity.Quantity
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "pod": f"{self.pod.metadata.namespace}/{self.pod.metadata.name}",
            "kind": self.kind,
            "subject": self.subject,
            "usedBytes": self.used_bytes,
            "limit": self.limit.canonical(),
            "limitBytes": self.limit.value(),
        }


def local_storage_violation(pod: types.Pod, pod_stats: et.PodStats) -> LocalStorageViolation | None:
    """``localStorageEviction`` for one pod, in the kubelet's order: an emptyDir over its ``sizeLimit``, then
    the pod's total over the sum of its containers' ``ephemeral-storage`` limits, then a container over its
    own limit (writable layer + logs)."""
    for volume in pod.spec.volumes:
        if volume.empty_dir is None:
            continue
        limit = volume.empty_dir.size_limit
        used = pod_stats.volume_used_bytes.get(volume.name)
        if used is not None and limit is not None and limit.sign() > 0 and used > limit.value():
            message = (
                f"Usage of EmptyDir volume {_go_quote(volume.name)} exceeds the limit {_go_quote(limit.canonical())}. "
            )
            return LocalStorageViolation(pod, "emptyDir", volume.name, used, limit, message)
    pod_limit = qos.pod_effective_limits(pod).get("ephemeral-storage")
    if pod_limit is not None:
        used, _ = pod_disk_usage(pod_stats, pod, ALL_FS_STATS)
        if used > pod_limit.value():
            message = POD_EPHEMERAL_STORAGE_MESSAGE_FMT.format(pod_limit.canonical())
            return LocalStorageViolation(pod, "pod", pod.metadata.name, used, pod_limit, message)
    by_name = {c.name: c for c in pod_stats.containers}
    for container in pod.spec.containers:
        limit = container.resources.limits.get("ephemeral-storage")
        stats = by_name.get(container.name)
        if limit is None or stats is None:
            continue
        used = (stats.rootfs_used_bytes or 0) + (stats.logs_used_bytes or 0)
        if used > limit.value():
            quoted = _go_quote(limit.canonical())
            message = f"Container {container.name} exceeded its local ephemeral storage limit {quoted}. "
            return LocalStorageViolation(pod, "container", container.name, used, limit, message)
    return None


def has_local_storage_limits(pod: types.Pod) -> bool:
    """Whether :func:`local_storage_violation` can ever find something for this pod."""
    if any(v.empty_dir is not None and v.empty_dir.size_limit is not None for v in pod.spec.volumes):
        return True
    return any("ephemeral-storage" in c.resources.limits for c in pod.spec.containers)
