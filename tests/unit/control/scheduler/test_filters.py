"""Each Filter plugin: pass, or fail with the exact Kubernetes reason and code."""

from __future__ import annotations

import pytest

from minikube_py.api import types
from minikube_py.control.scheduler.framework import Code, CycleState, Handle, InvalidArgs, Status
from minikube_py.control.scheduler.nodeinfo import NodeInfo
from minikube_py.control.scheduler.plugins import (
    nodeaffinity,
    nodename,
    noderesources,
    nodeunschedulable,
    tainttoleration,
)

from .builders import node, node_info, pod, taint, toleration

UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def run_filter(plugin: object, p: types.Pod, ni: NodeInfo) -> Status | None:
    """PreFilter (when the plugin has one) then Filter; a PreFilter Skip means the filter passes."""
    state = CycleState()
    pre_filter = getattr(plugin, "pre_filter", None)
    if pre_filter is not None:
        status = pre_filter(state, p, [ni])
        if status is not None:
            assert status.code is Code.SKIP
            return None
    result: Status | None = plugin.filter(state, p, ni)  # type: ignore[attr-defined]
    return result


def verdict(status: Status | None) -> tuple[str, tuple[str, ...]] | None:
    return None if status is None else (status.code.value, status.reasons)


# ---- NodeUnschedulable --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("unschedulable", "tolerations", "expected"),
    [
        (False, [], None),
        (True, [], ("UnschedulableAndUnresolvable", ("node(s) were unschedulable",))),
        (True, [toleration("node.kubernetes.io/unschedulable", "Exists", effect="NoSchedule")], None),
        (True, [toleration(operator="Exists")], None),  # tolerates everything
        (
            True,
            [toleration("node.kubernetes.io/unschedulable", "Exists", effect="NoExecute")],
            ("UnschedulableAndUnresolvable", ("node(s) were unschedulable",)),
        ),
    ],
)
def test_node_unschedulable(
    unschedulable: bool, tolerations: list[types.Toleration], expected: tuple[str, tuple[str, ...]] | None
) -> None:
    plugin = nodeunschedulable.new(None, Handle())
    status = run_filter(plugin, pod("p", tolerations=tolerations), node_info(node("n", unschedulable=unschedulable)))
    assert verdict(status) == expected


# ---- NodeName -----------------------------------------------------------------------------------


def test_node_name() -> None:
    plugin = nodename.new(None, Handle())
    ni = node_info(node("node-a"))
    assert run_filter(plugin, pod("p", node_name="node-a"), ni) is None
    assert verdict(run_filter(plugin, pod("p", node_name="node-b"), ni)) == (
        "UnschedulableAndUnresolvable",
        ("node(s) didn't match the requested node name",),
    )
    state = CycleState()
    skip = plugin.pre_filter(state, pod("p"), [ni])
    assert skip is not None and skip.code is Code.SKIP


# ---- TaintToleration ----------------------------------------------------------------------------

K_V = "node(s) had untolerated taint {k: v}"


@pytest.mark.parametrize(
    ("node_taint", "tolerations", "rejected"),
    [
        (taint("k", "v", "NoSchedule"), [], K_V),
        (taint("k", "v", "NoSchedule"), [toleration("k", "Equal", "v", "NoSchedule")], None),
        (taint("k", "v", "NoSchedule"), [toleration("k", "", "v", "NoSchedule")], None),  # "" means Equal
        (taint("k", "v", "NoSchedule"), [toleration("k", "Equal", "w", "NoSchedule")], K_V),
        (taint("k", "v", "NoSchedule"), [toleration("k", "Exists", effect="NoSchedule")], None),
        (taint("k", "v", "NoSchedule"), [toleration("k", "Exists")], None),  # empty effect: all effects
        (taint("k", "v", "NoSchedule"), [toleration(operator="Exists")], None),  # empty key + Exists: all
        (taint("k", "v", "NoSchedule"), [toleration("k", "Equal", "v", "NoExecute")], K_V),  # other effect
        (taint("k", "v", "NoSchedule"), [toleration("other", "Exists")], K_V),
        (taint("k", "v", "NoSchedule"), [toleration("k", "Gt", "v")], K_V),  # unknown operator
        (taint("k", "v", "NoExecute"), [], K_V),
        (taint("k", "v", "NoExecute"), [toleration("k", "Equal", "v", "NoExecute")], None),
        (taint("k", "v", "PreferNoSchedule"), [], None),  # only scoring looks at it
        (taint("k", "", "NoSchedule"), [], "node(s) had untolerated taint {k: }"),
        (taint("k", "", "NoSchedule"), [toleration("k", "Equal", "")], None),
    ],
)
def test_taint_toleration_matrix(
    node_taint: types.Taint, tolerations: list[types.Toleration], rejected: str | None
) -> None:
    plugin = tainttoleration.new(None, Handle())
    status = run_filter(plugin, pod("p", tolerations=tolerations), node_info(node("n", taints=[node_taint])))
    if rejected is None:
        assert status is None
    else:
        assert verdict(status) == ("UnschedulableAndUnresolvable", (rejected,))


def test_taint_toleration_reports_the_first_untolerated_taint_in_node_order() -> None:
    plugin = tainttoleration.new(None, Handle())
    n = node("n", taints=[taint("a", "1"), taint("b", "2", "NoExecute"), taint("c", "3")])
    status = run_filter(plugin, pod("p", tolerations=[toleration("a", "Exists")]), node_info(n))
    assert verdict(status) == ("UnschedulableAndUnresolvable", ("node(s) had untolerated taint {b: 2}",))


# ---- NodeAffinity -------------------------------------------------------------------------------

LABELS = {"zone": "a", "gpu": "2", "disk": "ssd"}
AFFINITY_REASON = "node(s) didn't match Pod's node affinity/selector"


def req(key: str, operator: str, *values: str) -> types.NodeSelectorRequirement:
    return types.NodeSelectorRequirement(key=key, operator=operator, values=list(values))


def required(*terms: types.NodeSelectorTerm) -> types.NodeAffinity:
    return types.NodeAffinity(
        required_during_scheduling_ignored_during_execution=types.NodeSelector(node_selector_terms=list(terms))
    )


def term(
    *expressions: types.NodeSelectorRequirement, fields: tuple[types.NodeSelectorRequirement, ...] = ()
) -> types.NodeSelectorTerm:
    return types.NodeSelectorTerm(match_expressions=list(expressions), match_fields=list(fields))


@pytest.mark.parametrize(
    ("requirement", "matches"),
    [
        (req("zone", "In", "a", "b"), True),
        (req("zone", "In", "b"), False),
        (req("missing", "In", "a"), False),
        (req("zone", "NotIn", "b"), True),
        (req("zone", "NotIn", "a"), False),
        (req("missing", "NotIn", "a"), True),  # a missing label is "not in" any set
        (req("gpu", "Exists"), True),
        (req("missing", "Exists"), False),
        (req("missing", "DoesNotExist"), True),
        (req("gpu", "DoesNotExist"), False),
        (req("gpu", "Gt", "1"), True),
        (req("gpu", "Gt", "2"), False),
        (req("gpu", "Lt", "3"), True),
        (req("gpu", "Lt", "2"), False),
        (req("gpu", "Gt", "-1"), True),
        (req("disk", "Gt", "1"), False),  # label is not an integer
        (req("gpu", "Gt", "x"), False),  # invalid requirement: never matches
        (req("gpu", "Gt", "1", "2"), False),  # Gt takes exactly one value
        (req("zone", "In"), False),  # In needs values
        (req("gpu", "Exists", "2"), False),  # Exists takes none
        (req("zone", "Equals", "a"), False),  # unknown operator
    ],
)
def test_node_affinity_operators(requirement: types.NodeSelectorRequirement, matches: bool) -> None:
    plugin = nodeaffinity.new(None, Handle())
    status = run_filter(
        plugin, pod("p", affinity=required(term(requirement))), node_info(node("node-1", labels=LABELS))
    )
    assert verdict(status) == (None if matches else ("UnschedulableAndUnresolvable", (AFFINITY_REASON,)))


@pytest.mark.parametrize(
    ("affinity", "matches"),
    [
        (required(term(fields=(req("metadata.name", "In", "node-1"),))), True),
        (required(term(fields=(req("metadata.name", "In", "node-2"),))), False),
        (required(term(fields=(req("metadata.name", "NotIn", "node-1"),))), False),
        (required(term(fields=(req("metadata.name", "NotIn", "node-2"),))), True),
        (required(term(fields=(req("metadata.name", "In", "node-1", "node-2"),))), False),  # one value only
        (required(term(fields=(req("metadata.labels", "In", "node-1"),))), False),  # only metadata.name
        # terms are ORed
        (required(term(req("zone", "In", "b")), term(req("gpu", "Exists"))), True),
        # expressions (and fields) in one term are ANDed
        (required(term(req("zone", "In", "a"), req("gpu", "Gt", "5"))), False),
        (required(term(req("zone", "In", "a"), fields=(req("metadata.name", "In", "node-2"),))), False),
        (required(term()), False),  # an empty term matches nothing
        (required(), False),  # no terms: nothing matches
    ],
)
def test_node_affinity_terms_and_fields(affinity: types.NodeAffinity, matches: bool) -> None:
    plugin = nodeaffinity.new(None, Handle())
    status = run_filter(plugin, pod("p", affinity=affinity), node_info(node("node-1", labels=LABELS)))
    assert (status is None) is matches


def test_node_selector_and_affinity_must_both_match() -> None:
    plugin = nodeaffinity.new(None, Handle())
    ni = node_info(node("node-1", labels=LABELS))
    assert run_filter(plugin, pod("p", node_selector={"zone": "a", "disk": "ssd"}), ni) is None
    assert verdict(run_filter(plugin, pod("p", node_selector={"zone": "b"}), ni)) == (
        "UnschedulableAndUnresolvable",
        (AFFINITY_REASON,),
    )
    both = pod("p", node_selector={"zone": "a"}, affinity=required(term(req("gpu", "DoesNotExist"))))
    assert run_filter(plugin, both, ni) is not None
    # Neither selector nor affinity: PreFilter skips the plugin.
    assert plugin.pre_filter(CycleState(), pod("p"), [ni]) == Status(Code.SKIP, (), "NodeAffinity")


def test_node_affinity_added_affinity_from_args() -> None:
    args = {
        "addedAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [{"key": "pool", "operator": "In", "values": ["batch"]}]}]
            }
        }
    }
    plugin = nodeaffinity.new(args, Handle())
    assert run_filter(plugin, pod("p"), node_info(node("n", labels={"pool": "batch"}))) is None
    assert verdict(run_filter(plugin, pod("p"), node_info(node("n", labels={"pool": "web"})))) == (
        "UnschedulableAndUnresolvable",
        ("node(s) didn't match scheduler-enforced node affinity",),
    )
    with pytest.raises(InvalidArgs, match="unknown field"):
        nodeaffinity.new({"addedAffinty": {}}, Handle())


def test_node_affinity_preferred_score() -> None:
    plugin = nodeaffinity.new(None, Handle())
    preferred = types.NodeAffinity(
        preferred_during_scheduling_ignored_during_execution=[
            types.PreferredSchedulingTerm(weight=5, preference=term(req("zone", "In", "a"))),
            types.PreferredSchedulingTerm(weight=3, preference=term(req("gpu", "Exists"))),
            types.PreferredSchedulingTerm(weight=7, preference=term()),  # empty: matches nothing
        ]
    )
    p = pod("p", affinity=preferred)
    nodes = [
        node_info(node("both", labels=LABELS)),
        node_info(node("gpu", labels={"gpu": "1"})),
        node_info(node("none")),
    ]
    state = CycleState()
    assert plugin.pre_score(state, p, nodes) is None
    scores = [plugin.score(state, p, ni) for ni in nodes]
    assert scores == [8, 3, 0]
    plugin.normalize_score(state, p, scores)
    assert scores == [100, 37, 0]  # 100*3//8 = 37
    skip = plugin.pre_score(CycleState(), pod("plain"), nodes)
    assert skip is not None and skip.code is Code.SKIP


# ---- NodeResourcesFit ---------------------------------------------------------------------------


def fit(args: dict[str, object] | None = None) -> noderesources.Fit:
    return noderesources.new_fit(args, Handle())


@pytest.mark.parametrize(
    ("incoming", "expected"),
    [
        # node: 4 CPU / 8Gi, 1 CPU / 2Gi used
        (pod("p", cpu="3", memory="6Gi"), None),  # exactly fits
        (pod("p", cpu="3100m", memory="1Gi"), ("Unschedulable", ("Insufficient cpu",))),
        (pod("p", cpu="1", memory="7Gi"), ("Unschedulable", ("Insufficient memory",))),
        (pod("p", cpu="4", memory="7Gi"), ("Unschedulable", ("Insufficient cpu", "Insufficient memory"))),
        # more than the whole node: preemption cannot help
        (pod("p", cpu="5", memory="1Gi"), ("UnschedulableAndUnresolvable", ("Insufficient cpu",))),
        (
            pod("p", requests={"cpu": "1", "ephemeral-storage": "2Gi"}),
            ("Unschedulable", ("Insufficient ephemeral-storage",)),
        ),
        (
            pod("p", requests={"example.com/gpu": "1"}),
            ("UnschedulableAndUnresolvable", ("Insufficient example.com/gpu",)),
        ),
        (pod("p"), None),  # requests nothing: only the pod count matters
    ],
)
def test_fit_filter(incoming: types.Pod, expected: tuple[str, tuple[str, ...]] | None) -> None:
    n = node("n", cpu="4", memory="8Gi", extra={"ephemeral-storage": "3Gi"})
    ni = node_info(n, pod("old", requests={"cpu": "1", "memory": "2Gi", "ephemeral-storage": "2Gi"}))
    assert verdict(run_filter(fit(), incoming, ni)) == expected


def test_fit_too_many_pods_is_reported_with_the_other_reasons() -> None:
    ni = node_info(node("n", cpu="1", memory="1Gi", pods="1"), pod("old", cpu="500m"))
    assert verdict(run_filter(fit(), pod("p", cpu="600m"), ni)) == (
        "Unschedulable",
        ("Too many pods", "Insufficient cpu"),
    )
    assert verdict(run_filter(fit(), pod("p"), ni)) == ("Unschedulable", ("Too many pods",))
    # A node that does not report allocatable pods takes none.
    assert verdict(run_filter(fit(), pod("p"), node_info(node("n", pods=None)))) == (
        "Unschedulable",
        ("Too many pods",),
    )


def test_fit_zero_request_passes_on_an_overcommitted_node() -> None:
    # Allocatable shrank below what is already requested: a pod asking no cpu still fits.
    ni = node_info(node("n", cpu="1", memory="4Gi"), pod("old", cpu="2"))
    assert run_filter(fit(), pod("p", memory="1Gi"), ni) is None
    assert verdict(run_filter(fit(), pod("p", cpu="1m"), ni)) == ("Unschedulable", ("Insufficient cpu",))


def test_fit_ignored_extended_resources() -> None:
    ni = node_info(node("n"))
    gpu = pod("p", requests={"example.com/gpu": "1"})
    assert run_filter(fit({"ignoredResources": ["example.com/gpu"]}), gpu, ni) is None
    assert run_filter(fit({"ignoredResourceGroups": ["example.com"]}), gpu, ni) is None
    assert run_filter(fit({"ignoredResourceGroups": ["other.io"]}), gpu, ni) is not None
    # hugepages are not extended resources: never ignored
    huge = pod("p", requests={"hugepages-2Mi": "2Mi"})
    assert run_filter(fit({"ignoredResourceGroups": ["hugepages-2Mi"]}), huge, ni) is not None


def test_fit_extended_resource_available() -> None:
    ni = node_info(node("n", extra={"example.com/gpu": "2"}), pod("old", requests={"example.com/gpu": "1"}))
    assert run_filter(fit(), pod("p", requests={"example.com/gpu": "1"}), ni) is None
    assert verdict(run_filter(fit(), pod("p", requests={"example.com/gpu": "2"}), ni)) == (
        "Unschedulable",
        ("Insufficient example.com/gpu",),
    )
