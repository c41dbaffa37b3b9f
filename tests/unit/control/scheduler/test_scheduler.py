"""schedule_one: failure messages, the decision trace, tie-breaking, assume, node sampling, plugin errors."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

import pytest

from minikube_py.api import types
from minikube_py.control.scheduler.framework import Code, CycleState, Handle, Status
from minikube_py.control.scheduler.nodeinfo import NodeInfo
from minikube_py.control.scheduler.profile import Profile, default_profile
from minikube_py.control.scheduler.scheduler import (
    Scheduler,
    fit_error_message,
    num_feasible_nodes_to_find,
    select_host,
)
from minikube_py.util.clock import FakeClock

from .builders import node, node_info, pod, scheduler, taint


def test_unschedulable_message_for_three_nodes_with_mixed_reasons() -> None:
    sched = scheduler()
    sched.on_node_added(node("cordoned", unschedulable=True))
    sched.on_node_added(node("small", cpu="1", memory="8Gi"))
    sched.on_node_added(node("tiny", cpu="1", memory="1Gi"))
    result = sched.schedule_one(pod("big", cpu="2", memory="2Gi"))
    assert result.node_name is None
    assert result.status.code is Code.UNSCHEDULABLE
    # Reasons are counted, then the "<count> <reason>" strings are sorted as strings.
    assert result.message == (
        "0/3 nodes are available: 1 Insufficient memory, 1 node(s) were unschedulable, 2 Insufficient cpu."
    )
    assert result.rejected_by == {"NodeUnschedulable", "NodeResourcesFit"}
    assert result.evaluated_nodes == 3


def test_unschedulable_message_with_a_taint() -> None:
    sched = scheduler()
    sched.on_node_added(node("gpu", taints=[taint("dedicated", "gpu")]))
    sched.on_node_added(node("cp", taints=[taint("node-role.kubernetes.io/control-plane", "")]))
    sched.on_node_added(node("small", cpu="500m"))
    assert sched.schedule_one(pod("p", cpu="1")).message == (
        "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}, "
        "1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }."
    )


def test_fit_error_message_sorts_counts_as_strings() -> None:
    rejections = {f"n{i}": Status.new(Code.UNSCHEDULABLE, "Insufficient cpu") for i in range(10)}
    rejections["x"] = Status.new(Code.UNSCHEDULABLE, "Too many pods")
    rejections["y"] = Status.new(Code.UNSCHEDULABLE, "Too many pods")
    # "10 ..." sorts before "2 ..." (string order, as Go's sort.Strings)
    assert fit_error_message(12, rejections) == "0/12 nodes are available: 10 Insufficient cpu, 2 Too many pods."
    assert (
        fit_error_message(3, rejections, pre_filter_message="pod affinity terms conflict")
        == "0/3 nodes are available: pod affinity terms conflict."
    )
    assert fit_error_message(1, {"n": Status.new(Code.UNSCHEDULABLE, "Too many pods")}, post_filter_message="x.") == (
        "0/1 nodes are available: 1 Too many pods. x."
    )


def test_no_nodes() -> None:
    result = scheduler().schedule_one(pod("p"))
    assert result.node_name is None
    assert result.status.code is Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert result.message == "no nodes available to schedule pods"


def test_decision_trace_for_three_nodes() -> None:
    sched = scheduler()
    sched.on_node_added(node("a", cpu="4", memory="8Gi"))
    sched.on_node_added(node("b", cpu="4", memory="8Gi"))
    sched.on_node_added(node("c", cpu="2", memory="8Gi", taints=[taint("spot", "true", "PreferNoSchedule")]))
    sched.on_node_added(node("d", cpu="4", memory="8Gi", taints=[taint("dedicated", "db")]))
    sched.on_pod_added(pod("running", cpu="2", memory="2Gi", node_name="b"))
    result = sched.schedule_one(pod("web", cpu="1", memory="2Gi"))
    trace = result.trace.to_dict()
    json.dumps(trace)  # JSON-serializable
    assert result.node_name == "a"
    assert (trace["numAllNodes"], trace["evaluatedNodes"], trace["feasibleNodes"]) == (4, 4, 3)
    assert trace["pod"] == "default/web"
    assert trace["selected"] == "a"
    assert trace["tiedNodes"] == 1
    assert trace["preFilter"] == [
        {"plugin": "NodeName", "code": "Skip"},
        {"plugin": "NodeAffinity", "code": "Skip"},
        {"plugin": "NodeResourcesFit", "code": "Success"},
    ]
    assert trace["filterPlugins"] == ["NodeUnschedulable", "TaintToleration", "NodeResourcesFit"]
    assert trace["preScore"] == [
        {"plugin": "TaintToleration", "code": "Success"},
        {"plugin": "NodeAffinity", "code": "Skip"},
        {"plugin": "NodeResourcesFit", "code": "Success"},
        {"plugin": "NodeResourcesBalancedAllocation", "code": "Success"},
    ]
    assert trace["scorePlugins"] == [
        {"plugin": "TaintToleration", "weight": 3},
        {"plugin": "NodeResourcesFit", "weight": 1},
        {"plugin": "NodeResourcesBalancedAllocation", "weight": 1},
    ]
    nodes = {n["name"]: n for n in trace["nodes"]}
    assert list(nodes) == ["a", "b", "c", "d"]
    passed = [
        {"plugin": "NodeUnschedulable", "code": "Success"},
        {"plugin": "TaintToleration", "code": "Success"},
        {"plugin": "NodeResourcesFit", "code": "Success"},
    ]
    for name in "abc":
        assert nodes[name]["feasible"] is True
        assert nodes[name]["filters"] == passed
    # d: stopped at TaintToleration, NodeResourcesFit never ran.
    assert nodes["d"] == {
        "name": "d",
        "feasible": False,
        "filters": [
            {"plugin": "NodeUnschedulable", "code": "Success"},
            {
                "plugin": "TaintToleration",
                "code": "UnschedulableAndUnresolvable",
                "reasons": ["node(s) had untolerated taint {dedicated: db}"],
            },
        ],
    }

    def scores(name: str) -> list[tuple[str, int, int, int]]:
        return [(s["plugin"], s["raw"], s["normalized"], s["weighted"]) for s in nodes[name]["scores"]]

    # a: empty 4 CPU/8Gi, +1 CPU/2Gi: Fit (75+75)//2 = 75; Balanced 0.25 vs 0.25 -> 100; no taint -> 100*3
    assert scores("a") == [
        ("TaintToleration", 0, 100, 300),
        ("NodeResourcesFit", 75, 75, 75),
        ("NodeResourcesBalancedAllocation", 100, 100, 100),
    ]
    assert nodes["a"]["total"] == 475
    # b: 3 CPU/4Gi of 4/8: Fit (25+50)//2 = 37; Balanced 0.75 vs 0.5 -> std .125 -> 87
    assert scores("b") == [
        ("TaintToleration", 0, 100, 300),
        ("NodeResourcesFit", 37, 37, 37),
        ("NodeResourcesBalancedAllocation", 87, 87, 87),
    ]
    assert nodes["b"]["total"] == 424
    # c: 1 of 2 CPU, 2 of 8Gi: Fit (50+75)//2 = 62; Balanced 0.5 vs 0.25 -> 87; one PreferNoSchedule taint -> 0
    assert scores("c") == [
        ("TaintToleration", 1, 0, 0),
        ("NodeResourcesFit", 62, 62, 62),
        ("NodeResourcesBalancedAllocation", 87, 87, 87),
    ]
    assert nodes["c"]["total"] == 149
    assert result.trace.ranking() == [("a", 475), ("b", 424), ("c", 149)]


def test_trace_when_only_one_node_is_feasible_skips_scoring() -> None:
    sched = scheduler()
    sched.on_node_added(node("a"))
    sched.on_node_added(node("b", cpu="100m"))
    result = sched.schedule_one(pod("p", cpu="1"))
    trace = result.trace.to_dict()
    assert result.node_name == "a"
    assert trace["scoringSkipped"] == "only one feasible node"
    assert trace["preScore"] == []
    assert "scores" not in trace["nodes"][0]
    assert trace["nodes"][1]["filters"][-1] == {
        "plugin": "NodeResourcesFit",
        "code": "UnschedulableAndUnresolvable",
        "reasons": ["Insufficient cpu"],
    }


def test_select_host_reservoir_sampling_is_uniform_over_ties() -> None:
    rng = random.Random(42)
    totals = [5, 9, 9, 3, 9, 8]
    picks: Counter[int] = Counter()
    for _ in range(9000):
        index, tied = select_host(totals, rng)
        assert tied == 3
        picks[index] += 1
    assert set(picks) == {1, 2, 4}
    for index in (1, 2, 4):
        assert 2700 < picks[index] < 3300, picks  # 3000 expected each
    assert select_host([1, 7, 3], rng) == (1, 1)


def test_tie_breaking_between_identical_nodes_is_uniform_and_seeded() -> None:
    sched = scheduler(seed=2024)
    for name in ("n1", "n2", "n3", "n4"):
        sched.on_node_added(node(name))
    p = pod("p", cpu="1")
    picks = Counter(sched.schedule_one(p).node_name for _ in range(4000))
    assert set(picks) == {"n1", "n2", "n3", "n4"}
    assert all(850 < count < 1150 for count in picks.values()), picks
    # The injected rng makes it reproducible.
    first = [scheduler(seed=5) for _ in range(2)]
    for s in first:
        for name in ("n1", "n2", "n3", "n4"):
            s.on_node_added(node(name))
    runs = [[s.schedule_one(p).node_name for _ in range(20)] for s in first]
    assert runs[0] == runs[1]


def test_assume_makes_the_next_decision_see_the_first_pod() -> None:
    sched = scheduler()
    sched.on_node_added(node("a", cpu="1"))
    sched.on_node_added(node("b", cpu="1"))
    first = pod("first", cpu="600m")
    second = pod("second", cpu="600m")
    chosen = sched.schedule_one(first).node_name
    assert chosen in ("a", "b")
    sched.assume(first, chosen)
    other = "b" if chosen == "a" else "a"
    for _ in range(20):  # deterministic, not luck: the assumed pod leaves no room for another 600m
        result = sched.schedule_one(second)
        assert result.node_name == other
        assert result.trace.to_dict()["feasibleNodes"] == 1
    assert sched.cache.is_assumed(first)
    sched.forget(first)
    assert sched.cache.get(chosen).requested.get("cpu", 0) == 0  # type: ignore[union-attr]
    assert {sched.schedule_one(second).node_name for _ in range(30)} == {"a", "b"}


def test_assume_updates_the_node_infos_a_caller_already_holds() -> None:
    sched = scheduler()
    sched.on_node_added(node("a", cpu="1", pods="1"))
    nodes = sched.cache.node_infos()
    p = pod("p")
    assert sched.schedule_one(p, nodes).node_name == "a"
    sched.assume(p, "a")
    assert sched.schedule_one(pod("q"), nodes).message == "0/1 nodes are available: 1 Too many pods."


@pytest.mark.parametrize(
    ("num_nodes", "percentage", "expected"),
    [
        (50, 0, 50),
        (99, 10, 99),
        (100, 0, 100),  # 50 - 100//125 = 50% of 100 = 50 -> at least 100
        (1000, 0, 420),  # 50 - 8 = 42%
        (5000, 0, 500),  # 50 - 40 = 10%
        (6000, 0, 300),  # 50 - 48 = 2% -> floor of 5%
        (1000, 30, 300),
        (1000, 5, 100),  # 50 -> at least 100
        (1000, 100, 1000),
    ],
)
def test_num_feasible_nodes_to_find(num_nodes: int, percentage: int, expected: int) -> None:
    assert num_feasible_nodes_to_find(percentage, num_nodes) == expected


def test_large_cluster_filters_only_part_of_the_nodes_round_robin() -> None:
    sched = scheduler()
    nodes = [node_info(node(f"n{i:04d}")) for i in range(1000)]
    p = pod("p", cpu="1")
    first = sched.schedule_one(p, nodes)
    assert (first.evaluated_nodes, first.feasible_nodes) == (420, 420)
    assert first.trace.evaluated[0] == "n0000"
    second = sched.schedule_one(p, nodes)
    assert second.trace.evaluated[0] == "n0420"  # resumes where the previous cycle stopped
    third = sched.schedule_one(p, nodes)
    assert third.trace.evaluated[:2] == ["n0840", "n0841"]
    assert third.trace.evaluated[160] == "n0000"  # wrapped around


class Rejector:
    """A PreFilter plugin that rejects every pod."""

    NAME: ClassVar[str] = "Rejector"

    def pre_filter(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        return Status.new(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "pod affinity terms conflict")


class Broken:
    NAME: ClassVar[str] = "Broken"

    def filter(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> Status | None:
        raise RuntimeError("boom")


class OutOfRange:
    NAME: ClassVar[str] = "OutOfRange"

    def score(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> int:
        return 101


def custom(**points: object) -> Profile:
    base = default_profile(Handle())
    for key, value in points.items():
        setattr(base, key, value)
    return base


def test_pre_filter_rejection_names_only_its_message() -> None:
    prof = custom(pre_filter=(Rejector(),))
    sched = Scheduler([prof], rng=random.Random(1), clock=FakeClock())
    sched.on_node_added(node("a"))
    sched.on_node_added(node("b"))
    result = sched.schedule_one(pod("p"))
    assert result.message == "0/2 nodes are available: pod affinity terms conflict."
    assert result.rejected_by == {"Rejector"}
    entry = result.trace.to_dict()["nodes"][0]
    assert entry["filters"] == [
        {"plugin": "Rejector", "code": "UnschedulableAndUnresolvable", "reasons": ["pod affinity terms conflict"]}
    ]


def test_a_plugin_exception_becomes_an_error_status() -> None:
    sched = Scheduler([custom(filter=(Broken(),))], rng=random.Random(1), clock=FakeClock())
    sched.on_node_added(node("a"))
    result = sched.schedule_one(pod("p"))
    assert result.node_name is None
    assert result.status.code is Code.ERROR
    assert result.status.plugin == "Broken"
    assert result.message == "running plugin 'Broken': RuntimeError: boom"


def test_a_score_out_of_range_is_an_error() -> None:
    from minikube_py.control.scheduler.profile import ScorePluginEntry

    sched = Scheduler(
        [custom(score=(ScorePluginEntry(OutOfRange(), 1, None),))], rng=random.Random(1), clock=FakeClock()
    )
    sched.on_node_added(node("a"))
    sched.on_node_added(node("b"))
    result = sched.schedule_one(pod("p"))
    assert result.status.code is Code.ERROR
    assert "returns an invalid score 101" in result.message


def test_no_score_plugins_means_every_feasible_node_ties() -> None:
    sched = Scheduler([custom(score=())], rng=random.Random(3), clock=FakeClock())
    for name in ("a", "b", "c"):
        sched.on_node_added(node(name))
    result = sched.schedule_one(pod("p"))
    assert result.trace.tied_nodes == 3
    assert result.trace.totals == [0, 0, 0]


def test_column_wise_and_node_wise_filtering_agree() -> None:
    def cluster() -> Scheduler:
        sched = scheduler(seed=11)
        rng = random.Random(5)
        for i in range(40):
            taints = [taint("t", str(i % 3))] if i % 4 == 0 else []
            sched.on_node_added(
                node(
                    f"n{i:02d}",
                    cpu=str(rng.randint(1, 4)),
                    pods=str(rng.randint(1, 3)),
                    taints=taints,
                    unschedulable=i % 7 == 0,
                )
            )
        for i in range(30):
            sched.on_pod_added(pod(f"old{i}", cpu=f"{rng.randint(1, 9)}00m", node_name=f"n{rng.randint(0, 39):02d}"))
        return sched

    column, row = cluster(), cluster()
    row.column_wise_filters = False
    plugins_seen: set[str] = set()
    for i in range(20):
        p = pod(f"p{i}", cpu=f"{(i % 5) + 1}00m", tolerations=[types.Toleration(key="t", value="1")] if i % 2 else [])
        a, b = column.schedule_one(p), row.schedule_one(p)
        assert a.trace.to_dict() == b.trace.to_dict()
        assert (a.node_name, a.message) == (b.node_name, b.message)
        plugins_seen |= {status.plugin for status in a.trace.rejections.values()}
        if a.node_name is not None:
            column.assume(p, a.node_name)
            row.assume(p, a.node_name)
    assert plugins_seen == {"NodeUnschedulable", "TaintToleration", "NodeResourcesFit"}


async def test_from_config_builds_a_working_scheduler() -> None:
    bound: list[tuple[str, str]] = []
    sched = Scheduler.from_config(
        "podMaxBackoffSeconds: 20\nprofiles: [{schedulerName: default-scheduler}]",
        bind=lambda p, n: bound.append((p.metadata.name, n)),
        rng=random.Random(1),
        clock=FakeClock(),
    )
    assert sched.queue.max_backoff == 20.0
    sched.on_node_added(node("a"))
    sched.on_pod_added(pod("p"))
    outcome = await sched.schedule_next()
    assert outcome is not None and outcome.bound
    assert bound == [("p", "a")]
