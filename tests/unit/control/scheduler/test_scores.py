"""Score plugins against hand-computed values from the reference formulas (k8s-semantics §9)."""

from __future__ import annotations

import random

import pytest

from minikube_py.api import types
from minikube_py.control.scheduler.framework import Code, CycleState, Handle
from minikube_py.control.scheduler.nodeinfo import NodeInfo, PodResources
from minikube_py.control.scheduler.plugins import tainttoleration
from minikube_py.control.scheduler.plugins.helpers import default_normalize_score, trunc_div
from minikube_py.control.scheduler.plugins.noderesources import (
    BalancedAllocation,
    Fit,
    ResourceSpec,
    ShapePoint,
    balanced_resource_scorer,
    broken_linear,
    least_allocated_scorer,
    most_allocated_scorer,
    requested_to_capacity_ratio_scorer,
)

from .builders import GI, MI, container, node, node_info, pod, taint, toleration


def fit_score(plugin: Fit, p: types.Pod, ni: NodeInfo) -> int:
    state = CycleState()
    assert plugin.pre_score(state, p, [ni]) is None
    score = plugin.score(state, p, ni)
    assert plugin.score_nodes(state, p, [ni]) == [score]
    return score


def balanced_score(p: types.Pod, ni: NodeInfo, plugin: BalancedAllocation | None = None) -> int | None:
    plugin = plugin or BalancedAllocation()
    state = CycleState()
    status = plugin.pre_score(state, p, [ni])
    if status is not None:
        assert status.code is Code.SKIP
        return None
    score = plugin.score(state, p, ni)
    assert plugin.score_nodes(state, p, [ni]) == [score]
    return score


# Node: 4 CPU, 10000 bytes of memory, one pod already requesting 500m / 1000.
# Incoming pod: 1000m / 2500.  So requested = 1500m of 4000m and 3500 of 10000.
def busy_node() -> NodeInfo:
    return node_info(node("n", cpu="4", memory="10000"), pod("old", cpu="500m", memory="1000"))


INCOMING = pod("new", cpu="1", memory="2500")


@pytest.mark.parametrize(
    ("strategy", "weights", "expected"),
    [
        # cpu (4000-1500)*100//4000 = 62, memory (10000-3500)*100//10000 = 65; (62+65)//2 = 63
        ("LeastAllocated", (1, 1), 63),
        # weights 3:1 -> (62*3 + 65)//4 = 251//4 = 62
        ("LeastAllocated", (3, 1), 62),
        # cpu 1500*100//4000 = 37, memory 3500*100//10000 = 35; (37+35)//2 = 36
        ("MostAllocated", (1, 1), 36),
        # (37*3 + 35)//4 = 146//4 = 36 ; (37 + 35*3)//4 = 142//4 = 35
        ("MostAllocated", (3, 1), 36),
        ("MostAllocated", (1, 3), 35),
    ],
)
def test_least_and_most_allocated(strategy: str, weights: tuple[int, int], expected: int) -> None:
    resources = (ResourceSpec("cpu", weights[0]), ResourceSpec("memory", weights[1]))
    assert fit_score(Fit(strategy=strategy, resources=resources), INCOMING, busy_node()) == expected


def test_least_allocated_non_zero_defaults_for_containers_without_requests() -> None:
    # A pod without requests counts 100m / 200Mi: on an empty 2 CPU / 1Gi node,
    # cpu (2000-100)*100//2000 = 95, memory (1Gi-200Mi)*100//1Gi = 80 (80.47); (95+80)//2 = 87.
    empty = node_info(node("n", cpu="2", memory="1Gi"))
    assert fit_score(Fit(), pod("besteffort"), empty) == 87
    # The node's BestEffort pod counts 100m/200Mi too: incoming 500m/256Mi gives
    # cpu 2000-600 -> 70, memory 1Gi-456Mi -> 55 (55.47); (70+55)//2 = 62.
    with_besteffort = node_info(node("n", cpu="2", memory="1Gi"), pod("old"))
    assert fit_score(Fit(), pod("new", cpu="500m", memory="256Mi"), with_besteffort) == 62


def test_most_allocated_caps_requested_at_allocatable() -> None:
    # 3 CPU requested on a 2 CPU node (possible with the non-zero defaults): cpu counts 100, memory 50 -> 75.
    ni = node_info(node("n", cpu="2", memory="2Gi"), pod("old", cpu="2", memory="512Mi"))
    assert fit_score(Fit(strategy="MostAllocated"), pod("new", cpu="1", memory="512Mi"), ni) == 75


def test_least_allocated_over_capacity_scores_zero_for_that_resource() -> None:
    ni = node_info(node("n", cpu="1", memory="1000"), pod("old", cpu="900m", memory="100"))
    # cpu 900+200 > 1000 -> 0; memory 100+100 of 1000 -> 80; (0+80)//2 = 40
    assert fit_score(Fit(), pod("new", cpu="200m", memory="100"), ni) == 40


def test_extended_resource_scored_only_when_requested() -> None:
    resources = (ResourceSpec("cpu", 1), ResourceSpec("memory", 1), ResourceSpec("example.com/gpu", 2))
    ni = node_info(
        node("n", cpu="4", memory="10000", extra={"example.com/gpu": "4"}), pod("old", cpu="500m", memory="1000")
    )
    plugin = Fit(resources=resources)
    # Not requested: the gpu entry is left out entirely -> same as cpu+memory: 63.
    assert fit_score(plugin, INCOMING, ni) == 63
    # Requesting 1 of 4 GPUs: gpu (4-1)*100//4 = 75 with weight 2 -> (62 + 65 + 150)//4 = 277//4 = 69.
    gpu_pod = pod("gpu", requests={"cpu": "1", "memory": "2500", "example.com/gpu": "1"})
    assert fit_score(plugin, gpu_pod, ni) == 69


def test_resource_missing_from_node_is_left_out() -> None:
    # A node reporting no memory: only cpu counts.  cpu (4000-1500)*100//4000 = 62.
    ni = node_info(node("n", cpu="4", memory="0"), pod("old", cpu="500m", memory="1000"))
    assert fit_score(Fit(), INCOMING, ni) == 62


def test_broken_linear_truncates_toward_zero_like_go() -> None:
    shape = (ShapePoint(0, 100), ShapePoint(30, 0))
    # 100 + (0-100)*(10-0)/30 = 100 - 33.3 -> Go truncates the quotient to -33: 67 (flooring would give 66).
    assert broken_linear(shape, 10) == 67
    assert broken_linear(shape, 0) == 100
    assert broken_linear(shape, 30) == 0
    assert broken_linear(shape, 31) == 0  # past the last point: its score
    assert trunc_div(-1000, 30) == -33
    assert trunc_div(1000, 30) == 33


@pytest.mark.parametrize(
    ("shape", "weights", "expected"),
    [
        # util cpu = 1500*100//4000 = 37, memory = 3500*100//10000 = 35; shape 0->0, 100->10 (x10)
        # scores 37 and 35, (37+35)/2 = 36
        (((0, 0), (100, 10)), (1, 1), 36),
        # cpu weight 2: (74+35)/3 = 36.33 -> 36
        (((0, 0), (100, 10)), (2, 1), 36),
        # cpu weight 1, memory 2: (37+70)/3 = 35.67 -> 36 (math.Round)
        (((0, 0), (100, 10)), (1, 2), 36),
        # shape 0->10, 50->5, 100->0: cpu 100 + (50-100)*37//50 = 63, memory 100 - 35 = 65 -> 64
        (((0, 10), (50, 5), (100, 0)), (1, 1), 64),
        # 0->10, 30->0: cpu util 37 -> 0 (left out of the average), memory util 35 -> 0 -> all zero: 0
        (((0, 10), (30, 0)), (1, 1), 0),
    ],
)
def test_requested_to_capacity_ratio(
    shape: tuple[tuple[int, int], ...], weights: tuple[int, int], expected: int
) -> None:
    resources = (ResourceSpec("cpu", weights[0]), ResourceSpec("memory", weights[1]))
    points = tuple(ShapePoint(u, s) for u, s in shape)
    plugin = Fit(strategy="RequestedToCapacityRatio", resources=resources, shape=points)
    assert fit_score(plugin, INCOMING, busy_node()) == expected


def test_requested_to_capacity_ratio_rounding_and_zero_exclusion() -> None:
    scorer = requested_to_capacity_ratio_scorer((ShapePoint(0, 10), ShapePoint(30, 0)))
    # (allocatable, requested, weight): util 10 -> 67, util 40 -> 0 (excluded) => 67, not 33.
    assert scorer([(100, 10, 1), (100, 40, 1)]) == 67
    # util 10 -> 67 and util 12 -> 100 - 40 = 60: (67 + 60)/2 = 63.5 -> 64 (half away from zero)
    assert scorer([(100, 10, 1), (100, 12, 1)]) == 64
    # requested above allocatable counts as 100% utilization
    bin_packing = requested_to_capacity_ratio_scorer((ShapePoint(0, 0), ShapePoint(100, 10)))
    assert bin_packing([(100, 250, 1)]) == 100


@pytest.mark.parametrize(
    ("existing", "incoming", "expected"),
    [
        # f_cpu = 1500/4000 = 0.375, f_mem = 3500/10000 = 0.35: std 0.0125 -> 98.75 -> 98
        (("500m", "1000"), ("1", "2500"), 98),
        # f_cpu = 0.5, f_mem = 0.1: std 0.2 -> 80
        (("1", "500"), ("1", "500"), 80),
        # both over capacity are capped at 1: std 0 -> 100
        (("4", "10000"), ("1", "2500"), 100),
    ],
)
def test_balanced_allocation(existing: tuple[str, str], incoming: tuple[str, str], expected: int) -> None:
    ni = node_info(node("n", cpu="4", memory="10000"), pod("old", cpu=existing[0], memory=existing[1]))
    assert balanced_score(pod("new", cpu=incoming[0], memory=incoming[1]), ni) == expected


def test_balanced_allocation_uses_plain_requests_not_the_non_zero_defaults() -> None:
    # The node's BestEffort pod adds nothing here (it would add 100m/200Mi for NodeResourcesFit).
    ni = node_info(node("n", cpu="2", memory="1Gi"), pod("old"))
    # f_cpu = 500/2000 = 0.25, f_mem = 256Mi/1Gi = 0.25 -> 100
    assert balanced_score(pod("new", cpu="500m", memory="256Mi"), ni) == 100
    # With the defaults it would have been 0.3 vs ~0.445 -> 92; make sure that is not what we compute.
    assert balanced_score(pod("new", cpu="500m", memory="256Mi"), ni) != 92


def test_balanced_allocation_skips_best_effort_pods() -> None:
    ni = node_info(node("n", cpu="2", memory="1Gi"))
    assert balanced_score(pod("besteffort"), ni) is None


def test_balanced_allocation_three_resources_population_std() -> None:
    plugin = BalancedAllocation((ResourceSpec("cpu"), ResourceSpec("memory"), ResourceSpec("ephemeral-storage")))
    ni = node_info(node("n", cpu="4", memory="1000", extra={"ephemeral-storage": "1000"}))
    p = pod("new", requests={"cpu": "2", "memory": "250", "ephemeral-storage": "750"})
    # fractions 0.5, 0.25, 0.75; mean 0.5; std = sqrt((0 + 0.0625 + 0.0625)/3) = 0.2041 -> 79.58 -> 79
    assert balanced_score(p, ni, plugin) == 79
    assert balanced_resource_scorer([(4000, 2000, 1), (1000, 250, 1), (1000, 750, 1)]) == 79


def test_specialized_cpu_memory_scorers_match_the_generic_formulas() -> None:
    rng = random.Random(3)
    for _ in range(300):
        n = node("n", cpu=str(rng.randint(1, 64)), memory=str(rng.randint(1, 64) * GI))
        existing = [
            pod(
                f"old{i}",
                cpu=f"{rng.randint(0, 4000)}m" if rng.random() < 0.8 else None,
                memory=str(rng.randint(0, 8) * GI) if rng.random() < 0.8 else None,
            )
            for i in range(rng.randint(0, 4))
        ]
        ni = node_info(n, *existing)
        p = pod(
            "new",
            cpu=f"{rng.randint(0, 8000)}m" if rng.random() < 0.8 else None,
            memory=str(rng.randint(0, 16) * GI) if rng.random() < 0.8 else None,
        )
        weights = (rng.randint(1, 5), rng.randint(1, 5))
        resources = (ResourceSpec("cpu", weights[0]), ResourceSpec("memory", weights[1]))
        for strategy, generic in (("LeastAllocated", least_allocated_scorer), ("MostAllocated", most_allocated_scorer)):
            gathered = [
                (ni.alloc_cpu, ni.non_zero_cpu + PodResources.of(p).non_zero_cpu, weights[0]),
                (ni.alloc_memory, ni.non_zero_memory + PodResources.of(p).non_zero_memory, weights[1]),
            ]
            assert fit_score(Fit(strategy=strategy, resources=resources), p, ni) == generic(gathered)
        plain = PodResources.of(p).requests
        if plain.get("cpu", 0) or plain.get("memory", 0):
            gathered = [
                (ni.alloc_cpu, ni.req_cpu + plain.get("cpu", 0), 1),
                (ni.alloc_memory, ni.req_memory + plain.get("memory", 0), 1),
            ]
            assert balanced_score(p, ni) == balanced_resource_scorer(gathered)


@pytest.mark.parametrize(
    ("scores", "reverse", "expected"),
    [
        ([0, 2, 4], False, [0, 50, 100]),
        ([1, 3, 3], False, [33, 100, 100]),
        ([0, 2, 4], True, [100, 50, 0]),
        ([0, 0, 0], False, [0, 0, 0]),
        ([0, 0, 0], True, [100, 100, 100]),
    ],
)
def test_default_normalize_score(scores: list[int], reverse: bool, expected: list[int]) -> None:
    default_normalize_score(scores, reverse=reverse)
    assert scores == expected


def test_taint_toleration_score_counts_untolerated_prefer_no_schedule_then_reverses() -> None:
    plugin = tainttoleration.new(None, Handle())
    nodes = [
        node_info(node("clean")),
        node_info(node("one", taints=[taint("a", "1", "PreferNoSchedule"), taint("x", "", "NoSchedule")])),
        node_info(node("two", taints=[taint("a", "1", "PreferNoSchedule"), taint("b", "2", "PreferNoSchedule")])),
        node_info(node("tolerated", taints=[taint("b", "2", "PreferNoSchedule")])),
    ]
    # Tolerates b=2 with an empty effect (all effects); the NoSchedule-only toleration does not count.
    p = pod("p", tolerations=[toleration("b", "Equal", "2"), toleration("a", "Equal", "1", "NoSchedule")])
    state = CycleState()
    plugin.pre_score(state, p, nodes)
    raw = [plugin.score(state, p, ni) for ni in nodes]
    assert raw == [0, 1, 1, 0]
    assert plugin.score_nodes(state, p, nodes) == raw
    plugin.normalize_score(state, p, raw)
    assert raw == [100, 0, 0, 100]


def test_fit_scores_a_pod_with_an_init_container_by_its_effective_request() -> None:
    # init 2 CPU > app 500m: the pod counts 2 CPU (and 200Mi memory by default for the init container,
    # 64Mi for the app) -> effective non-zero memory = max(64Mi, 200Mi) = 200Mi.
    p = pod("p", containers=[container(cpu="500m", memory="64Mi")], init_containers=[container("init", cpu="2")])
    ni = node_info(node("n", cpu="4", memory="1000Mi"))
    # cpu (4000-2000)*100//4000 = 50; memory (1000-200)*100//1000 = 80 -> 65
    assert fit_score(Fit(), p, ni) == 65
    assert PodResources.of(p).non_zero_memory == 200 * MI
