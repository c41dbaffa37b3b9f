"""Pod QoS class, container oom_score_adj, and pod effective requests/limits.

Sources: ``pkg/apis/core/v1/helper/qos/qos.go`` (``ComputePodQOS``), ``pkg/kubelet/qos/policy.go``
(``GetContainerOOMScoreAdjust``), ``k8s.io/component-helpers/resource`` (``PodRequests``/``PodLimits``).
Apply these to a *defaulted* pod. Pure: no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from minikube_py.api import quantity, types


class QOSClass(enum.StrEnum):
    GUARANTEED = "Guaranteed"
    BURSTABLE = "Burstable"
    BEST_EFFORT = "BestEffort"


# Only these two resources decide the QoS class; extended resources and ephemeral-storage never do.
QOS_COMPUTE_RESOURCES = ("cpu", "memory")

GUARANTEED_OOM_SCORE_ADJ = -997
BEST_EFFORT_OOM_SCORE_ADJ = 1000
# The priority at and above which a pod is critical (scheduling.SystemCriticalPriority).
SYSTEM_CRITICAL_PRIORITY = 2_000_000_000
SYSTEM_NODE_CRITICAL = "system-node-critical"
# Static pods carry a config source other than "api"; mirror pods carry the mirror annotation.
CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source"
CONFIG_MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


def _all_containers(pod: types.Pod) -> list[types.Container]:
    return [*pod.spec.containers, *pod.spec.init_containers]


def pod_qos_class(pod: types.Pod) -> QOSClass:
    """``ComputePodQOS``: zero quantities count as unset; every container needs both cpu and memory limits."""
    requests: dict[str, quantity.Quantity] = {}
    limits: dict[str, quantity.Quantity] = {}
    guaranteed = True
    for container in _all_containers(pod):
        for name, value in container.resources.requests.items():
            if name in QOS_COMPUTE_RESOURCES and value.sign() > 0:
                requests[name] = requests[name] + value if name in requests else value
        found: set[str] = set()
        for name, value in container.resources.limits.items():
            if name in QOS_COMPUTE_RESOURCES and value.sign() > 0:
                found.add(name)
                limits[name] = limits[name] + value if name in limits else value
        if not set(QOS_COMPUTE_RESOURCES) <= found:
            guaranteed = False
    if not requests and not limits:
        return QOSClass.BEST_EFFORT
    if guaranteed:
        for name, request in requests.items():
            if name not in limits or limits[name] != request:
                guaranteed = False
                break
    if guaranteed and len(requests) == len(limits):
        return QOSClass.GUARANTEED
    return QOSClass.BURSTABLE


def is_static_pod(pod: types.Pod) -> bool:
    source = pod.metadata.annotations.get(CONFIG_SOURCE_ANNOTATION)
    return source is not None and source != "api"


def is_mirror_pod(pod: types.Pod) -> bool:
    return CONFIG_MIRROR_ANNOTATION in pod.metadata.annotations


def is_critical_pod(pod: types.Pod) -> bool:
    """Static, mirror, or priority >= 2000000000 (kubelet ``types.IsCriticalPod``)."""
    if is_static_pod(pod) or is_mirror_pod(pod):
        return True
    return pod.spec.priority is not None and pod.spec.priority >= SYSTEM_CRITICAL_PRIORITY


def is_node_critical_pod(pod: types.Pod) -> bool:
    """A critical pod whose class is ``system-node-critical`` (kubelet ``types.IsNodeCriticalPod``)."""
    return is_critical_pod(pod) and pod.spec.priority_class_name == SYSTEM_NODE_CRITICAL


def is_restartable_init_container(container: types.Container) -> bool:
    return container.restart_policy == "Always"


def _memory_request_bytes(container: types.Container) -> int:
    request = container.resources.requests.get("memory")
    return 0 if request is None else request.value()


def _is_sidecar(pod: types.Pod, container: types.Container) -> bool:
    return any(c is container for c in pod.spec.init_containers) and is_restartable_init_container(container)


def container_oom_score_adj(pod: types.Pod, container: types.Container, memory_capacity_bytes: int) -> int:
    """The oom_score_adj the kubelet gives ``container``'s processes (reference §5)."""
    if is_node_critical_pod(pod):
        return GUARANTEED_OOM_SCORE_ADJ
    qos_class = pod_qos_class(pod)
    if qos_class is QOSClass.GUARANTEED:
        return GUARANTEED_OOM_SCORE_ADJ
    if qos_class is QOSClass.BEST_EFFORT:
        return BEST_EFFORT_OOM_SCORE_ADJ
    if memory_capacity_bytes <= 0:
        raise ValueError("memory_capacity_bytes must be positive")
    adj = 1000 - (1000 * _memory_request_bytes(container)) // memory_capacity_bytes
    if _is_sidecar(pod, container) and pod.spec.containers:
        # A sidecar is killed no earlier than the regular container with the smallest memory request.
        smallest = min(_memory_request_bytes(c) for c in pod.spec.containers)
        adj = min(adj, 1000 - (1000 * smallest) // memory_capacity_bytes)
    # Keep Burstable strictly between Guaranteed (-997 -> floor 3) and BestEffort (1000 -> 999).
    if adj < 1000 + GUARANTEED_OOM_SCORE_ADJ:
        return 1000 + GUARANTEED_OOM_SCORE_ADJ
    if adj == BEST_EFFORT_OOM_SCORE_ADJ:
        return adj - 1
    return adj


def _add_into(total: dict[str, quantity.Quantity], extra: dict[str, quantity.Quantity]) -> None:
    for name, value in extra.items():
        total[name] = total[name] + value if name in total else value


def _max_into(total: dict[str, quantity.Quantity], candidate: dict[str, quantity.Quantity]) -> None:
    for name, value in candidate.items():
        if name not in total or value > total[name]:
            total[name] = value


ResourcePicker = Callable[[types.Container], dict[str, quantity.Quantity]]


def _effective(pod: types.Pod, pick: ResourcePicker) -> dict[str, quantity.Quantity]:
    """``resourcehelper.PodRequests``/``PodLimits`` (sidecar-aware), then the pod overhead on top."""
    total: dict[str, quantity.Quantity] = {}
    for container in pod.spec.containers:
        _add_into(total, pick(container))
    # Init containers run one at a time, each alongside the sidecars started before it; sidecars keep
    # running with the app containers.
    sidecars: dict[str, quantity.Quantity] = {}
    init_peak: dict[str, quantity.Quantity] = {}
    for container in pod.spec.init_containers:
        resources = pick(container)
        if is_restartable_init_container(container):
            _add_into(total, resources)
            _add_into(sidecars, resources)
            _max_into(init_peak, sidecars)
        else:
            during = dict(sidecars)
            _add_into(during, resources)
            _max_into(init_peak, during)
    _max_into(total, init_peak)
    _add_into(total, pod.spec.overhead)
    return total


def pod_effective_requests(pod: types.Pod) -> dict[str, quantity.Quantity]:
    """What the pod asks for: max(init containers, sum of app containers and sidecars) plus overhead."""
    return _effective(pod, lambda c: c.resources.requests)


def pod_effective_limits(pod: types.Pod) -> dict[str, quantity.Quantity]:
    """Same rule over limits; a resource no container limits is absent (unlimited)."""
    return _effective(pod, lambda c: c.resources.limits)
