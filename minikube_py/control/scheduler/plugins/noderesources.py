"""NodeResourcesFit and NodeResourcesBalancedAllocation (``plugins/noderesources``).

**Fit filter** (``fit.go`` ``fitsRequest``): ``pods on node + 1 > allocatable pods`` -> ``Too many pods``; a pod
requesting nothing is checked for the pod count only; otherwise each requested resource (cpu, memory,
ephemeral-storage, then extended/scalar ones sorted by name) must satisfy
``request <= allocatable - sum(requests of the node's pods)`` or gives ``Insufficient <name>``.  All reasons are
kept.  The code is Unschedulable, or UnschedulableAndUnresolvable when some request exceeds the node's whole
allocatable (preemption cannot help).  Extended resources listed in ``ignoredResources`` (or whose domain is in
``ignoredResourceGroups``) are not checked.

**Fit score** (``resource_allocation.go``), per configured resource with ``allocatable > 0`` (and, for a scalar
resource, a non-zero pod request); "requested" = the node's requests + this pod's, with the 100m/200Mi
defaults for containers without cpu/memory requests (``NonZeroRequested``):

* LeastAllocated (default): ``(alloc - req) * 100 // alloc`` (0 if ``req > alloc``), then
  ``sum(score * w) // sum(w)``;
* MostAllocated: ``min(req, alloc) * 100 // alloc``, same weighted average;
* RequestedToCapacityRatio: ``util = req * 100 // alloc`` (100 if ``req > alloc``) through a piecewise-linear
  ``shape`` whose 0-10 scores are scaled x10; resources scoring 0 are left out of the weighted average, which
  is rounded half away from zero (Go ``math.Round``).

**BalancedAllocation** (``balanced_allocation.go``): plain requests (no 100m/200Mi defaults), fraction
``req / alloc`` capped at 1 per resource; two resources: ``std = |f1 - f2| / 2``; more: population standard
deviation; ``score = int((1 - std) * 100)``.  Skipped (PreScore Skip) for a pod requesting none of the
resources, so BestEffort pods are not all packed onto one node (kubernetes#129138).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from minikube_py.api import types
from minikube_py.control.scheduler.framework import (
    MAX_NODE_SCORE,
    ClusterEvent,
    Code,
    CycleState,
    Handle,
    InvalidArgs,
    Status,
)
from minikube_py.control.scheduler.nodeinfo import (
    CPU,
    EPHEMERAL_STORAGE,
    MEMORY,
    NodeInfo,
    PodResources,
    is_extended_resource_name,
    is_scalar_resource_name,
)
from minikube_py.control.scheduler.plugins.args import (
    check_fields,
    expect_int,
    expect_list,
    expect_mapping,
    expect_str,
)
from minikube_py.control.scheduler.plugins.helpers import trunc_div

LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
SCORING_STRATEGIES = (LEAST_ALLOCATED, MOST_ALLOCATED, REQUESTED_TO_CAPACITY_RATIO)

# config.MaxCustomPriorityScore: RequestedToCapacityRatio shape scores are 0..10 and scaled to 0..100.
MAX_CUSTOM_PRIORITY_SCORE = 10
MAX_UTILIZATION = 100
MAX_RESOURCE_WEIGHT = 100

TOO_MANY_PODS = "Too many pods"
PRE_FILTER_KEY = "PreFilterNodeResourcesFit"
PRE_SCORE_KEY = "PreScoreNodeResourcesFit"
BALANCED_PRE_SCORE_KEY = "PreScoreNodeResourcesBalancedAllocation"


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    name: str
    weight: int = 1


@dataclass(frozen=True, slots=True)
class ShapePoint:
    utilization: int
    score: int


DEFAULT_RESOURCES = (ResourceSpec(CPU, 1), ResourceSpec(MEMORY, 1))
# Only for building a RequestedToCapacityRatio Fit by hand; a config must give its shape (there is no default).
DEFAULT_SHAPE = (ShapePoint(0, 0), ShapePoint(100, 10))


def pod_resources(state: CycleState, pod: types.Pod) -> PodResources:
    """The pod's integer requests, computed once per cycle and shared by every plugin that needs them."""
    resources: PodResources | None = state.get(POD_RESOURCES_KEY)
    if resources is None:
        resources = PodResources.of(pod)
        state.write(POD_RESOURCES_KEY, resources)
    return resources


POD_RESOURCES_KEY = "PodResources"


# ----------------------------------------------------------------------------------------------------
# Per-resource scoring functions: (requested, allocatable) -> 0..100, allocatable > 0.


def least_requested_score(requested: int, allocatable: int) -> int:
    if requested > allocatable:
        return 0
    return (allocatable - requested) * MAX_NODE_SCORE // allocatable


def most_requested_score(requested: int, allocatable: int) -> int:
    # requested may exceed allocatable because of the non-zero defaults.
    return min(requested, allocatable) * MAX_NODE_SCORE // allocatable


def broken_linear(shape: Sequence[ShapePoint], p: int) -> int:
    """``helper.BuildBrokenLinearFunction`` over already-scaled points (Go integer arithmetic)."""
    for i, point in enumerate(shape):
        if p <= point.utilization:
            if i == 0:
                return shape[0].score
            prev = shape[i - 1]
            return prev.score + trunc_div(
                (point.score - prev.score) * (p - prev.utilization), point.utilization - prev.utilization
            )
    return shape[-1].score


# One resource as the scorers see it: (allocatable, requested incl. the pod, weight).
_Gathered = list[tuple[int, int, int]]
Scorer = Callable[[_Gathered], int]


def least_allocated_scorer(resources: _Gathered) -> int:
    node_score = weight_sum = 0
    for alloc, req, weight in resources:
        node_score += least_requested_score(req, alloc) * weight
        weight_sum += weight
    return node_score // weight_sum if weight_sum else 0


def most_allocated_scorer(resources: _Gathered) -> int:
    node_score = weight_sum = 0
    for alloc, req, weight in resources:
        node_score += most_requested_score(req, alloc) * weight
        weight_sum += weight
    return node_score // weight_sum if weight_sum else 0


def requested_to_capacity_ratio_scorer(shape: Sequence[ShapePoint]) -> Scorer:
    scale = MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE
    scaled = tuple(ShapePoint(p.utilization, p.score * scale) for p in shape)

    def scorer(resources: _Gathered) -> int:
        node_score = weight_sum = 0
        for alloc, req, weight in resources:
            util = MAX_UTILIZATION if req > alloc else req * MAX_UTILIZATION // alloc
            score = broken_linear(scaled, util)
            if score > 0:
                node_score += score * weight
                weight_sum += weight
        if weight_sum == 0:
            return 0
        # math.Round(nodeScore / weightSum) for non-negative values, exactly.
        return (2 * node_score + weight_sum) // (2 * weight_sum)

    return scorer


def balanced_resource_scorer(resources: _Gathered) -> int:
    """``balancedResourceScorer`` with Go's float64 operations in the same order."""
    fractions: list[float] = []
    total = 0.0
    for alloc, req, _weight in resources:
        fraction = float(req) / float(alloc)
        if fraction > 1:
            fraction = 1.0
        total += fraction
        fractions.append(fraction)
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = total / float(len(fractions))
        acc = 0.0
        for fraction in fractions:
            acc = acc + (fraction - mean) * (fraction - mean)
        std = math.sqrt(acc / float(len(fractions)))
    return int((1 - std) * float(MAX_NODE_SCORE))


# ----------------------------------------------------------------------------------------------------
# Gathering (allocatable, requested) per configured resource.

_KIND_CPU = 0
_KIND_MEMORY = 1
_KIND_OTHER = 2

# (kind, name, weight, pod request) for each configured resource that takes part for this pod.
_Entry = tuple[int, str, int, int]


def _entries(resources: Sequence[ResourceSpec], pod_requests: Mapping[str, int]) -> tuple[_Entry, ...]:
    out: list[_Entry] = []
    for spec in resources:
        request = pod_requests.get(spec.name, 0)
        if request == 0 and is_scalar_resource_name(spec.name):
            continue  # a scalar resource the pod does not request is not scored
        kind = _KIND_CPU if spec.name == CPU else _KIND_MEMORY if spec.name == MEMORY else _KIND_OTHER
        out.append((kind, spec.name, spec.weight, request))
    return tuple(out)


def _gather(node: NodeInfo, entries: tuple[_Entry, ...], non_zero: bool) -> _Gathered:
    allocatable = node.allocatable
    requested = node.requested
    out: _Gathered = []
    for kind, name, weight, request in entries:
        alloc = allocatable.get(name, 0)
        if alloc == 0:
            continue
        if non_zero and kind == _KIND_CPU:
            used = node.non_zero_cpu
        elif non_zero and kind == _KIND_MEMORY:
            used = node.non_zero_memory
        else:
            used = requested.get(name, 0)
        out.append((alloc, used + request, weight))
    return out


# Per-cycle scorers over a list of nodes.  The specialized ones cover the usual resource list (cpu and memory,
# any weights) with the arithmetic inlined; they compute exactly what the generic scorers compute over
# ``_gather`` (the tests compare both).  Python's int / int is the correctly rounded quotient, the same as Go's
# float64(a) / float64(b) for values below 2**53.

NodesScorer = Callable[[Sequence[NodeInfo]], list[int]]


def _cpu_memory_pair(entries: tuple[_Entry, ...]) -> tuple[int, int, int, int] | None:
    """(cpu request, cpu weight, memory request, memory weight) if the entries are exactly cpu and memory."""
    if len(entries) != 2 or {entries[0][0], entries[1][0]} != {_KIND_CPU, _KIND_MEMORY}:
        return None
    cpu, memory = (entries[0], entries[1]) if entries[0][0] == _KIND_CPU else (entries[1], entries[0])
    return cpu[3], cpu[2], memory[3], memory[2]


def _fit_nodes_scorer(strategy: str, scorer: Scorer, entries: tuple[_Entry, ...]) -> NodesScorer:
    pair = _cpu_memory_pair(entries)
    if pair is None or strategy not in (LEAST_ALLOCATED, MOST_ALLOCATED):
        return lambda nodes: [scorer(_gather(node, entries, True)) for node in nodes]
    pod_cpu, w_cpu, pod_mem, w_mem = pair
    most = strategy == MOST_ALLOCATED

    def score_all(nodes: Sequence[NodeInfo]) -> list[int]:
        out: list[int] = []
        for node in nodes:
            total = weights = 0
            alloc = node.alloc_cpu
            if alloc:
                req = node.non_zero_cpu + pod_cpu
                if most:
                    total += (req if req < alloc else alloc) * MAX_NODE_SCORE // alloc * w_cpu
                elif req <= alloc:
                    total += (alloc - req) * MAX_NODE_SCORE // alloc * w_cpu
                weights += w_cpu
            alloc = node.alloc_memory
            if alloc:
                req = node.non_zero_memory + pod_mem
                if most:
                    total += (req if req < alloc else alloc) * MAX_NODE_SCORE // alloc * w_mem
                elif req <= alloc:
                    total += (alloc - req) * MAX_NODE_SCORE // alloc * w_mem
                weights += w_mem
            out.append(total // weights if weights else 0)
        return out

    return score_all


def _balanced_nodes_scorer(entries: tuple[_Entry, ...]) -> NodesScorer:
    pair = _cpu_memory_pair(entries)
    if pair is None:
        return lambda nodes: [balanced_resource_scorer(_gather(node, entries, False)) for node in nodes]
    pod_cpu, _, pod_mem, _ = pair

    def score_all(nodes: Sequence[NodeInfo]) -> list[int]:
        out: list[int] = []
        for node in nodes:
            alloc_cpu = node.alloc_cpu
            alloc_mem = node.alloc_memory
            if alloc_cpu and alloc_mem:
                f_cpu = (node.req_cpu + pod_cpu) / alloc_cpu
                f_mem = (node.req_memory + pod_mem) / alloc_mem
                if f_cpu > 1:
                    f_cpu = 1.0
                if f_mem > 1:
                    f_mem = 1.0
                half = (f_cpu - f_mem) / 2
                out.append(int((1 - (half if half >= 0 else -half)) * 100.0))
            else:
                out.append(balanced_resource_scorer(_gather(node, entries, False)))
        return out

    return score_all


# ----------------------------------------------------------------------------------------------------
# NodeResourcesFit


@dataclass(frozen=True, slots=True)
class _FitState:
    # (resource, request, reason) for every resource the pod requests (> 0) that the filter checks.
    checks: tuple[tuple[str, int, str], ...]
    # For the quick "fits for sure" test: the cpu and memory requests, and whether anything else is checked.
    cpu: int
    memory: int
    others: bool


class Fit:
    NAME: ClassVar[str] = "NodeResourcesFit"

    def __init__(
        self,
        *,
        strategy: str = LEAST_ALLOCATED,
        resources: Sequence[ResourceSpec] = DEFAULT_RESOURCES,
        shape: Sequence[ShapePoint] = DEFAULT_SHAPE,
        ignored_resources: frozenset[str] = frozenset(),
        ignored_resource_groups: frozenset[str] = frozenset(),
    ) -> None:
        self.strategy = strategy
        self.resources = tuple(resources)
        self.ignored_resources = ignored_resources
        self.ignored_resource_groups = ignored_resource_groups
        if strategy == LEAST_ALLOCATED:
            self._scorer: Scorer = least_allocated_scorer
        elif strategy == MOST_ALLOCATED:
            self._scorer = most_allocated_scorer
        elif strategy == REQUESTED_TO_CAPACITY_RATIO:
            self._scorer = requested_to_capacity_ratio_scorer(shape)
        else:
            raise InvalidArgs([f"scoringStrategy.type: Unsupported value: {strategy!r}"])

    def _ignored(self, name: str) -> bool:
        if not is_extended_resource_name(name):
            return False
        return name in self.ignored_resources or name.split("/", 1)[0] in self.ignored_resource_groups

    def pre_filter(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        requests = pod_resources(state, pod).requests
        checks = [
            (name, requests[name], f"Insufficient {name}")
            for name in (CPU, MEMORY, EPHEMERAL_STORAGE)
            if requests.get(name, 0) > 0
        ]
        for name in sorted(requests):
            if is_scalar_resource_name(name) and requests[name] > 0 and not self._ignored(name):
                checks.append((name, requests[name], f"Insufficient {name}"))
        others = any(name not in (CPU, MEMORY) for name, _, _ in checks)
        state.write(PRE_FILTER_KEY, _FitState(tuple(checks), requests.get(CPU, 0), requests.get(MEMORY, 0), others))
        return None

    def filter(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> Status | None:
        fit: _FitState = state.read(PRE_FILTER_KEY)
        # Hot path: room for one more pod, cpu and memory fit, nothing else to check.  (A zero request may
        # "fail" this quick test on an overcommitted node; the full check below then decides.)
        if (
            len(node.pods) < node.allowed_pod_number
            and fit.cpu <= node.alloc_cpu - node.req_cpu
            and fit.memory <= node.alloc_memory - node.req_memory
            and not fit.others
        ):
            return None
        return self._full_filter(fit, node)

    def filter_nodes(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> list[Status | None]:
        fit: _FitState = state.read(PRE_FILTER_KEY)
        if fit.others:
            return [self._full_filter(fit, node) for node in nodes]
        cpu, memory, full = fit.cpu, fit.memory, self._full_filter
        return [
            None
            if len(node.pods) < node.allowed_pod_number
            and cpu <= node.alloc_cpu - node.req_cpu
            and memory <= node.alloc_memory - node.req_memory
            else full(fit, node)
            for node in nodes
        ]

    def _full_filter(self, fit: _FitState, node: NodeInfo) -> Status | None:
        reasons: list[str] = []
        if len(node.pods) + 1 > node.allowed_pod_number:
            reasons.append(TOO_MANY_PODS)
        unresolvable = False
        if fit.checks:
            allocatable = node.allocatable
            requested = node.requested
            for name, request, reason in fit.checks:
                alloc = allocatable.get(name, 0)
                if request > alloc - requested.get(name, 0):
                    reasons.append(reason)
                    unresolvable = unresolvable or request > alloc
        if not reasons:
            return None
        code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if unresolvable else Code.UNSCHEDULABLE
        return Status(code, tuple(reasons), self.NAME)

    def pre_score(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        resources = pod_resources(state, pod)
        requests = dict(resources.requests)
        requests[CPU] = resources.non_zero_cpu
        requests[MEMORY] = resources.non_zero_memory
        state.write(PRE_SCORE_KEY, _fit_nodes_scorer(self.strategy, self._scorer, _entries(self.resources, requests)))
        return None

    def score(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, (node,))[0]

    def score_nodes(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> list[int]:
        score_all: NodesScorer = state.read(PRE_SCORE_KEY)
        return score_all(nodes)

    def events_to_register(self) -> ClusterEvent:
        return ClusterEvent.NODE_ADD | ClusterEvent.NODE_ALLOCATABLE | ClusterEvent.ASSIGNED_POD_DELETE


class BalancedAllocation:
    NAME: ClassVar[str] = "NodeResourcesBalancedAllocation"

    def __init__(self, resources: Sequence[ResourceSpec] = DEFAULT_RESOURCES) -> None:
        self.resources = tuple(resources)
        self._skip = Status(Code.SKIP, (), self.NAME)

    def pre_score(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        requests = pod_resources(state, pod).requests
        if all(requests.get(spec.name, 0) == 0 for spec in self.resources):
            return self._skip
        state.write(BALANCED_PRE_SCORE_KEY, _balanced_nodes_scorer(_entries(self.resources, requests)))
        return None

    def score(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> int:
        return self.score_nodes(state, pod, (node,))[0]

    def score_nodes(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> list[int]:
        score_all: NodesScorer = state.read(BALANCED_PRE_SCORE_KEY)
        return score_all(nodes)


# ----------------------------------------------------------------------------------------------------
# Factories with args validation (validation_pluginargs.go).


def _parse_resources(value: Any, path: str, errors: list[str], *, balanced: bool) -> tuple[ResourceSpec, ...]:
    items = expect_list(value, path, errors)
    out: list[ResourceSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        entry = expect_mapping(item, item_path, errors)
        errors.extend(check_fields(entry, ["name", "weight"], item_path))
        name = expect_str(entry.get("name"), f"{item_path}.name", errors)
        raw_weight = entry.get("weight", 0)
        weight = expect_int(raw_weight, f"{item_path}.weight", errors)
        if name is None or weight is None:
            continue
        if weight == 0:
            weight = 1  # SetDefaults: an unset weight is 1
        if balanced:
            if name in seen:
                errors.append(f'{item_path}.name: Duplicate value: "{name}"')
            if weight != 1:
                errors.append(f"{item_path}.weight: Invalid value: {weight}: must be 1")
        elif not 0 < weight <= MAX_RESOURCE_WEIGHT:
            errors.append(
                f"{item_path}.weight: Invalid value: {weight}: "
                f"resource weight of {name} not in valid range (0, {MAX_RESOURCE_WEIGHT}]"
            )
        seen.add(name)
        out.append(ResourceSpec(name, weight))
    return tuple(out) or DEFAULT_RESOURCES


def _parse_shape(value: Any, path: str, errors: list[str]) -> tuple[ShapePoint, ...]:
    items = expect_list(value, path, errors)
    if not items:
        errors.append(f"{path}: Required value: at least one point must be specified")
        return ()
    points: list[ShapePoint] = []
    for i, item in enumerate(items):
        item_path = f"{path}[{i}]"
        entry = expect_mapping(item, item_path, errors)
        errors.extend(check_fields(entry, ["utilization", "score"], item_path))
        utilization = expect_int(entry.get("utilization", 0), f"{item_path}.utilization", errors)
        score = expect_int(entry.get("score", 0), f"{item_path}.score", errors)
        if utilization is None or score is None:
            continue
        if not 0 <= utilization <= MAX_UTILIZATION:
            errors.append(f"{item_path}.utilization: Invalid value: {utilization}: not in valid range [0, 100]")
        if not 0 <= score <= MAX_CUSTOM_PRIORITY_SCORE:
            errors.append(f"{item_path}.score: Invalid value: {score}: not in valid range [0, 10]")
        points.append(ShapePoint(utilization, score))
    for i in range(1, len(points)):
        if points[i - 1].utilization >= points[i].utilization:
            errors.append(
                f"{path}[{i}].utilization: Invalid value: {points[i].utilization}: "
                "utilization values must be sorted in increasing order"
            )
            break
    return tuple(points)


def _label_name_ok(name: str) -> bool:
    # A simplified ValidateLabelName: non-empty, no whitespace, at most one '/'.
    return bool(name) and not any(c.isspace() for c in name) and name.count("/") <= 1


def new_fit(args: Mapping[str, Any] | None, handle: Handle) -> Fit:
    """Args (``NodeResourcesFitArgs``): ``ignoredResources``, ``ignoredResourceGroups``, ``scoringStrategy``
    ``{type, resources: [{name, weight}], requestedToCapacityRatio: {shape: [{utilization, score}]}}``."""
    args = args or {}
    errors = check_fields(args, ["ignoredResources", "ignoredResourceGroups", "scoringStrategy"])
    ignored: set[str] = set()
    for i, item in enumerate(expect_list(args.get("ignoredResources"), "ignoredResources", errors)):
        name = expect_str(item, f"ignoredResources[{i}]", errors)
        if name is not None:
            if not _label_name_ok(name):
                errors.append(f"ignoredResources[{i}]: Invalid value: {name!r}: not a valid resource name")
            ignored.add(name)
    groups: set[str] = set()
    for i, item in enumerate(expect_list(args.get("ignoredResourceGroups"), "ignoredResourceGroups", errors)):
        name = expect_str(item, f"ignoredResourceGroups[{i}]", errors)
        if name is not None:
            if "/" in name:
                errors.append(
                    f"ignoredResourceGroups[{i}]: Invalid value: {name!r}: resource group name can't contain '/'"
                )
            elif not _label_name_ok(name):
                errors.append(f"ignoredResourceGroups[{i}]: Invalid value: {name!r}: not a valid resource group")
            groups.add(name)
    strategy_args = expect_mapping(args.get("scoringStrategy"), "scoringStrategy", errors)
    errors.extend(check_fields(strategy_args, ["type", "resources", "requestedToCapacityRatio"], "scoringStrategy"))
    strategy = LEAST_ALLOCATED
    resources: tuple[ResourceSpec, ...] = DEFAULT_RESOURCES
    shape: tuple[ShapePoint, ...] = DEFAULT_SHAPE
    if strategy_args:
        raw_type = strategy_args.get("type")
        if raw_type not in SCORING_STRATEGIES:
            supported = ", ".join(f'"{s}"' for s in SCORING_STRATEGIES)
            errors.append(f"scoringStrategy.type: Unsupported value: {raw_type!r}: supported values: {supported}")
        else:
            strategy = raw_type
        resources = _parse_resources(
            strategy_args.get("resources"), "scoringStrategy.resources", errors, balanced=False
        )
        ratio = expect_mapping(
            strategy_args.get("requestedToCapacityRatio"), "scoringStrategy.requestedToCapacityRatio", errors
        )
        errors.extend(check_fields(ratio, ["shape"], "scoringStrategy.requestedToCapacityRatio"))
        if strategy == REQUESTED_TO_CAPACITY_RATIO:
            shape = _parse_shape(ratio.get("shape"), "scoringStrategy.requestedToCapacityRatio.shape", errors)
    if errors:
        raise InvalidArgs(errors)
    return Fit(
        strategy=strategy,
        resources=resources,
        shape=shape,
        ignored_resources=frozenset(ignored),
        ignored_resource_groups=frozenset(groups),
    )


def new_balanced_allocation(args: Mapping[str, Any] | None, handle: Handle) -> BalancedAllocation:
    """Args (``NodeResourcesBalancedAllocationArgs``): ``resources: [{name, weight}]``, weights must be 1."""
    args = args or {}
    errors = check_fields(args, ["resources"])
    resources = _parse_resources(args.get("resources"), "resources", errors, balanced=True)
    if errors:
        raise InvalidArgs(errors)
    return BalancedAllocation(resources)
