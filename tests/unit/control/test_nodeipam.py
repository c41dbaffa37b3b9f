"""Node pod CIDR allocation from the cluster CIDR (kube-controller-manager's --allocate-node-cidrs)."""

from __future__ import annotations

import pytest

from minikube_py.api import types
from minikube_py.control import nodeipam
from minikube_py.control.nodeipam import Assignment, NodeCIDRAllocator, NodeCIDRError, NodeCIDRExhausted, allocate
from minikube_py.errors import MinikubeError


def node(name: str, cidr: str = "", cidrs: list[str] | None = None) -> types.Node:
    return types.Node(
        metadata=types.ObjectMeta(name=name),
        spec=types.NodeSpec(pod_cidr=cidr, pod_cidrs=cidrs if cidrs is not None else ([cidr] if cidr else [])),
    )


def test_allocate_first_free() -> None:
    assert allocate("10.244.0.0/16", 24, set()) == "10.244.0.0/24"
    assert allocate("10.244.0.0/16", 24, {"10.244.0.0/24", "10.244.1.0/24"}) == "10.244.2.0/24"
    assert allocate("10.244.0.0/16", 24, {"10.244.1.0/24"}) == "10.244.0.0/24"


def test_allocate_respects_overlapping_and_ignores_foreign_taken() -> None:
    # a bigger block covers two /24s; one outside the cluster CIDR and garbage change nothing
    taken = {"10.244.0.0/23", "192.168.0.0/24", "not-a-cidr"}
    assert allocate("10.244.0.0/16", 24, taken) == "10.244.2.0/24"
    # a smaller block inside a /24 makes the whole /24 unusable
    assert allocate("10.244.0.0/16", 24, {"10.244.0.128/25"}) == "10.244.1.0/24"
    # a block covering the whole cluster CIDR leaves nothing
    with pytest.raises(NodeCIDRExhausted):
        allocate("10.244.0.0/16", 24, {"10.0.0.0/8"})


def test_allocate_round_robin_after() -> None:
    assert allocate("10.244.0.0/16", 24, set(), after="10.244.5.0/24") == "10.244.6.0/24"
    assert allocate("10.244.0.0/22", 24, {"10.244.0.0/24"}, after="10.244.3.0/24") == "10.244.1.0/24"  # wraps
    assert allocate("10.244.0.0/16", 24, set(), after="172.16.0.0/24") == "10.244.0.0/24"  # foreign: ignored


def test_exhaustion_has_a_clear_message() -> None:
    taken = {f"10.244.{i}.0/24" for i in range(4)}
    with pytest.raises(NodeCIDRExhausted, match=r"no free /24 node CIDR left in cluster CIDR 10\.244\.0\.0/22") as info:
        allocate("10.244.0.0/22", 24, taken)
    assert isinstance(info.value, MinikubeError)


@pytest.mark.parametrize(
    ("cluster", "mask", "message"),
    [
        ("10.244.0.0/16", 8, "must be between"),
        ("10.244.0.0/16", 31, "must be between"),
        ("10.0.0.0/8", 25, "more than 16 bits longer"),
        ("10.244.1.0/16", 24, "invalid cluster CIDR"),  # host bits
        ("fd00::/48", 64, "not IPv4"),
    ],
)
def test_bad_parameters(cluster: str, mask: int, message: str) -> None:
    with pytest.raises(NodeCIDRError, match=message):
        allocate(cluster, mask, set())
    with pytest.raises(NodeCIDRError, match=message):
        NodeCIDRAllocator(cluster, mask)


def test_other_masks() -> None:
    assert allocate("10.244.0.0/16", 26, {"10.244.0.0/26"}) == "10.244.0.64/26"
    assert allocate("10.244.0.0/24", 24, set()) == "10.244.0.0/24"  # a one-node cluster CIDR


def test_allocator_assigns_distinct_cidrs_and_both_fields() -> None:
    alloc = NodeCIDRAllocator()
    assert alloc.cluster_cidr == nodeipam.DEFAULT_CLUSTER_CIDR
    out = alloc.assign([node("n2"), node("n1"), node("n3")])
    assert out == [
        Assignment("n1", "10.244.0.0/24"),
        Assignment("n2", "10.244.1.0/24"),
        Assignment("n3", "10.244.2.0/24"),
    ]
    assert out[0].pod_cidrs == ["10.244.0.0/24"]


def test_pending_assignment_is_stable_until_it_lands() -> None:
    alloc = NodeCIDRAllocator()
    first = alloc.assign([node("n1")])
    assert alloc.assign([node("n1")]) == first  # the write has not shown up yet: same answer, no new CIDR
    assert alloc.assign([node("n1", first[0].cidr)]) == []  # landed: nothing to do
    assert alloc.in_use([node("n1", first[0].cidr)]) == {"n1": "10.244.0.0/24"}


def test_existing_cidrs_are_kept_and_taken() -> None:
    alloc = NodeCIDRAllocator()
    out = alloc.assign([node("a", "10.244.0.0/24"), node("b", "10.244.7.0/24"), node("c")])
    assert out == [Assignment("c", "10.244.1.0/24")]


def test_deleted_node_releases_its_cidr_round_robin() -> None:
    alloc = NodeCIDRAllocator("10.244.0.0/22", 24)  # 4 node CIDRs
    nodes = [node(n, c.cidr) for n, c in zip("abcd", alloc.assign([node(n) for n in "abcd"]), strict=True)]
    assert [n.spec.pod_cidr for n in nodes] == [f"10.244.{i}.0/24" for i in range(4)]
    with pytest.raises(NodeCIDRExhausted):
        alloc.assign([*nodes, node("e")])
    survivors = [n for n in nodes if n.metadata.name != "b"]  # b deleted: 10.244.1.0/24 free again
    assert alloc.assign([*survivors, node("e")]) == [Assignment("e", "10.244.1.0/24")]


def test_released_cidr_is_not_handed_out_first() -> None:
    alloc = NodeCIDRAllocator()
    (a,) = alloc.assign([node("a")])
    (b,) = alloc.assign([node("a", a.cidr), node("b")])
    # a is deleted; the next node gets a fresh CIDR after the last one handed out, not a's
    assert alloc.assign([node("b", b.cidr), node("c")]) == [Assignment("c", "10.244.2.0/24")]


def test_pending_of_a_deleted_node_is_released() -> None:
    alloc = NodeCIDRAllocator("10.244.0.0/23", 24)  # 2 node CIDRs
    assert alloc.assign([node("a"), node("b")]) == [
        Assignment("a", "10.244.0.0/24"),
        Assignment("b", "10.244.1.0/24"),
    ]
    # b vanished before its CIDR was written: c can have it
    assert alloc.assign([node("a"), node("c")]) == [
        Assignment("a", "10.244.0.0/24"),
        Assignment("c", "10.244.1.0/24"),
    ]


def test_half_written_node_gets_both_fields() -> None:
    alloc = NodeCIDRAllocator()
    out = alloc.assign([node("a", "10.244.4.0/24", cidrs=[]), node("b", "", cidrs=["10.244.5.0/24"])])
    assert out == [Assignment("a", "10.244.4.0/24"), Assignment("b", "10.244.5.0/24")]
