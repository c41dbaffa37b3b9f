"""Integer views of pods' requests and nodes' capacity, precomputed once for the hot path.

``PodResources`` is what a pod asks for, in the units kube-scheduler uses (``framework.Resource``): CPU in
millicores (``MilliValue``), everything else in whole units (``Value``, rounded up).  ``NodeInfo`` is a node
plus the pods assigned (or assumed) to it, with their requests summed, so that Filter and Score never parse a
Quantity.  Adding or removing a pod updates the sums incrementally.

Facts (kube-scheduler ``framework/types.go``, ``component-helpers/resource``, ``scheduler/util``):

* a pod's request is ``max(sum(app containers and sidecars), max over init containers of (that init container
  + the sidecars started before it)) + overhead``, per resource (the project's ``qos.pod_effective_requests``);
* the *non-zero* request used for scoring counts a container that does not request cpu (memory) at all as
  100m (200Mi) -- ``DefaultMilliCPURequest`` / ``DefaultMemoryRequest``.  An explicit ``0`` stays 0;
* only cpu, memory, ephemeral-storage and "scalar" resources are tracked: extended resources
  (``example.com/foo``), ``hugepages-*``, ``attachable-volumes-*`` and ``kubernetes.io/``-prefixed ones.
  Anything else (``pods``, unprefixed unknown names) is ignored;
* ``allocatable["pods"]`` is the number of pods the node takes; a node that does not report it takes none.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from minikube_py.api import quantity, types
from minikube_py.control.scheduler.framework import pod_key

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

# schedutil.DefaultMilliCPURequest / DefaultMemoryRequest.
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

# v1.ResourceDefaultNamespacePrefix: a name containing it is a (prefixed) native resource.
_NATIVE_PREFIX = "kubernetes.io/"
_HUGEPAGES_PREFIX = "hugepages-"
_ATTACHABLE_VOLUMES_PREFIX = "attachable-volumes-"
_REQUESTS_PREFIX = "requests."


def is_native_resource(name: str) -> bool:
    """``v1helper.IsNativeResource``: no domain, or a ``kubernetes.io/`` one."""
    return "/" not in name or _NATIVE_PREFIX in name


def is_extended_resource_name(name: str) -> bool:
    """``v1helper.IsExtendedResourceName``: a domain-prefixed name outside ``kubernetes.io/``."""
    return not is_native_resource(name) and not name.startswith(_REQUESTS_PREFIX)


def is_scalar_resource_name(name: str) -> bool:
    """``v1helper.IsScalarResourceName``: the resources tracked beside cpu/memory/ephemeral-storage."""
    return (
        is_extended_resource_name(name)
        or name.startswith(_HUGEPAGES_PREFIX)
        or _NATIVE_PREFIX in name
        or name.startswith(_ATTACHABLE_VOLUMES_PREFIX)
    )


def is_tracked_resource(name: str) -> bool:
    return name in (CPU, MEMORY, EPHEMERAL_STORAGE) or is_scalar_resource_name(name)


def _milli(q: quantity.Quantity) -> int:
    return q.milli_value()


def _to_units(name: str, milli: int) -> int:
    """CPU stays in millicores; everything else becomes whole units rounded up (``Quantity.Value``)."""
    if name == CPU:
        return milli
    return -((-milli) // 1000)


def _container_millis(requests: Mapping[str, quantity.Quantity]) -> dict[str, int]:
    return {name: _milli(q) for name, q in requests.items() if is_tracked_resource(name)}


def _non_missing(millis: dict[str, int], requests: Mapping[str, quantity.Quantity]) -> dict[str, int]:
    """``applyNonMissing``: only a resource the container does not mention gets the default."""
    if CPU in requests and MEMORY in requests:
        return millis
    out = dict(millis)
    if CPU not in requests:
        out[CPU] = DEFAULT_MILLI_CPU_REQUEST
    if MEMORY not in requests:
        out[MEMORY] = DEFAULT_MEMORY_REQUEST * 1000
    return out


def _add(total: dict[str, int], extra: Mapping[str, int]) -> None:
    for name, value in extra.items():
        total[name] = total.get(name, 0) + value


def _max(total: dict[str, int], candidate: Mapping[str, int]) -> None:
    for name, value in candidate.items():
        if value > total.get(name, 0):
            total[name] = value


def _combine(
    app: list[dict[str, int]], init: list[tuple[dict[str, int], bool]], overhead: dict[str, int]
) -> dict[str, int]:
    total: dict[str, int] = {}
    for requests in app:
        _add(total, requests)
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for requests, restartable in init:
        if restartable:
            _add(total, requests)
            _add(sidecars, requests)
            _max(init_peak, sidecars)
        else:
            during = dict(sidecars)
            _add(during, requests)
            _max(init_peak, during)
    _max(total, init_peak)
    _add(total, overhead)
    return {name: _to_units(name, milli) for name, milli in total.items()}


def pod_requests_both(pod: types.Pod) -> tuple[dict[str, int], dict[str, int]]:
    """``resourcehelper.PodRequests`` in integer units (cpu: millicores, others: units), plain and with the
    non-zero defaults (every container, app, init or sidecar, lacking a cpu/memory request counts 100m /
    200Mi), each Quantity parsed once."""
    app: list[dict[str, int]] = []
    app_non_zero: list[dict[str, int]] = []
    for container in pod.spec.containers:
        requests = container.resources.requests
        millis = _container_millis(requests)
        app.append(millis)
        app_non_zero.append(_non_missing(millis, requests))
    init: list[tuple[dict[str, int], bool]] = []
    init_non_zero: list[tuple[dict[str, int], bool]] = []
    for container in pod.spec.init_containers:
        requests = container.resources.requests
        millis = _container_millis(requests)
        restartable = container.restart_policy == "Always"
        init.append((millis, restartable))
        init_non_zero.append((_non_missing(millis, requests), restartable))
    overhead = _container_millis(pod.spec.overhead)
    return _combine(app, init, overhead), _combine(app_non_zero, init_non_zero, overhead)


def pod_requests(pod: types.Pod, *, non_missing: bool = False) -> dict[str, int]:
    """One of :func:`pod_requests_both`."""
    return pod_requests_both(pod)[1 if non_missing else 0]


@dataclass(frozen=True, slots=True)
class PodResources:
    """A pod's requests as integers, computed once per pod."""

    # cpu (milli), memory, ephemeral-storage and scalar resources; resources the pod does not request are
    # absent.  What Filter checks and what the Requested sums of a node add up.
    requests: Mapping[str, int]
    # cpu/memory with the 100m / 200Mi defaults for containers that request nothing (NonZeroRequested).
    non_zero_cpu: int
    non_zero_memory: int

    @classmethod
    def of(cls, pod: types.Pod) -> PodResources:
        requests, non_zero = pod_requests_both(pod)
        return cls(requests, non_zero.get(CPU, 0), non_zero.get(MEMORY, 0))


@dataclass(frozen=True, slots=True)
class PodInfo:
    pod: types.Pod
    key: str
    resources: PodResources

    @classmethod
    def of(cls, pod: types.Pod, resources: PodResources | None = None) -> PodInfo:
        return cls(pod, pod_key(pod), resources if resources is not None else PodResources.of(pod))


def node_allocatable(node: types.Node) -> tuple[dict[str, int], int]:
    """(tracked allocatable resources as integers, allowed pod count)."""
    allocatable: dict[str, int] = {}
    pods = 0
    for name, q in node.status.allocatable.items():
        if name == PODS:
            pods = q.value()
        elif is_tracked_resource(name):
            allocatable[name] = q.milli_value() if name == CPU else q.value()
    return allocatable, pods


class NodeInfo:
    """A node and the pods assigned or assumed on it (``framework.NodeInfo``).

    Mutable: the cache updates it in place as pods come and go, and bumps ``generation``.  Plugins only read.
    ``node`` is ``None`` for a placeholder that holds pods whose node the cache has not seen yet.
    """

    __slots__ = (
        "alloc_cpu",
        "alloc_memory",
        "allocatable",
        "allowed_pod_number",
        "generation",
        "labels",
        "name",
        "no_schedule_taints",
        "node",
        "non_zero_cpu",
        "non_zero_memory",
        "pods",
        "prefer_no_schedule_taints",
        "req_cpu",
        "req_memory",
        "requested",
        "taints",
        "unschedulable",
    )

    def __init__(self, node: types.Node | None = None, pods: Iterable[PodInfo] = ()) -> None:
        self.node: types.Node | None = None
        self.name = ""
        self.labels: Mapping[str, str] = {}
        self.unschedulable = False
        self.taints: tuple[types.Taint, ...] = ()
        # The NoSchedule and NoExecute taints (what the TaintToleration filter looks at), in node order.
        self.no_schedule_taints: tuple[types.Taint, ...] = ()
        self.prefer_no_schedule_taints: tuple[types.Taint, ...] = ()
        self.allocatable: dict[str, int] = {}
        self.allowed_pod_number = 0
        # Sum of the pods' requests (cpu in millicores), and of their non-zero cpu/memory requests.
        self.requested: dict[str, int] = {}
        # cpu and memory of ``allocatable`` / ``requested`` again as attributes, for the hot path.
        self.alloc_cpu = 0
        self.alloc_memory = 0
        self.req_cpu = 0
        self.req_memory = 0
        self.non_zero_cpu = 0
        self.non_zero_memory = 0
        self.pods: dict[str, PodInfo] = {}
        self.generation = 0
        if node is not None:
            self.set_node(node)
        for pod_info in pods:
            self.add_pod(pod_info)

    def set_node(self, node: types.Node) -> None:
        self.node = node
        self.name = node.metadata.name
        self.labels = node.metadata.labels
        self.unschedulable = node.spec.unschedulable
        self.taints = tuple(node.spec.taints)
        self.no_schedule_taints = tuple(t for t in self.taints if t.effect in (NO_SCHEDULE, NO_EXECUTE))
        self.prefer_no_schedule_taints = tuple(t for t in self.taints if t.effect == PREFER_NO_SCHEDULE)
        self.allocatable, self.allowed_pod_number = node_allocatable(node)
        self.alloc_cpu = self.allocatable.get(CPU, 0)
        self.alloc_memory = self.allocatable.get(MEMORY, 0)
        self.generation += 1

    def remove_node(self) -> None:
        self.node = None
        self.generation += 1

    @property
    def pod_count(self) -> int:
        return len(self.pods)

    def add_pod(self, pod_info: PodInfo) -> None:
        self._account(pod_info, 1)
        self.pods[pod_info.key] = pod_info
        self.generation += 1

    def remove_pod(self, key: str) -> PodInfo | None:
        pod_info = self.pods.pop(key, None)
        if pod_info is not None:
            self._account(pod_info, -1)
            self.generation += 1
        return pod_info

    def _account(self, pod_info: PodInfo, sign: int) -> None:
        resources = pod_info.resources
        requested = self.requested
        for name, value in resources.requests.items():
            requested[name] = requested.get(name, 0) + sign * value
        self.req_cpu = requested.get(CPU, 0)
        self.req_memory = requested.get(MEMORY, 0)
        self.non_zero_cpu += sign * resources.non_zero_cpu
        self.non_zero_memory += sign * resources.non_zero_memory

    def __repr__(self) -> str:
        return f"NodeInfo({self.name!r}, pods={len(self.pods)}, requested={self.requested})"
