"""Node pod CIDRs from the cluster CIDR (kube-controller-manager's ``--allocate-node-cidrs``).

Each node gets one subnet of ``mask`` bits (default /24) of the cluster CIDR (default ``10.244.0.0/16``),
written to ``spec.podCIDR`` and ``spec.podCIDRs``; the node's agent hands out pod IPs from it.  Like the
range allocator (``pkg/controller/nodeipam/ipam/cidrset``), allocation goes round-robin from after the last
subnet handed out, so the CIDR of a deleted node is not given to the next node at once (other nodes may
still route it to the old node for a moment), and the node mask may be at most 16 bits longer than the
cluster's.  Pure functions and bookkeeping: the caller reads nodes and writes the assignments.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

from minikube_py.api import types
from minikube_py.errors import MinikubeError

DEFAULT_CLUSTER_CIDR = "10.244.0.0/16"
DEFAULT_NODE_MASK = 24
MAX_MASK_DIFFERENCE = 16  # kube's cidrset: at most 2^16 node CIDRs per cluster CIDR


class NodeCIDRError(MinikubeError):
    """Bad cluster CIDR or mask, or no free node CIDR left."""


class NodeCIDRExhausted(NodeCIDRError):
    """Every node CIDR of the cluster CIDR is in use."""


def _cluster(cluster_cidr: str, mask: int) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(cluster_cidr, strict=True)
    except ValueError as err:
        raise NodeCIDRError(f"invalid cluster CIDR {cluster_cidr!r}: {err}") from err
    if not isinstance(network, ipaddress.IPv4Network):
        raise NodeCIDRError(f"cluster CIDR {cluster_cidr} is not IPv4 (only IPv4 is supported)")
    if not network.prefixlen <= mask <= 30:
        raise NodeCIDRError(
            f"node CIDR mask /{mask} must be between the cluster CIDR's /{network.prefixlen} and /30 "
            "(a node needs a gateway and at least one pod address)"
        )
    if mask - network.prefixlen > MAX_MASK_DIFFERENCE:
        raise NodeCIDRError(
            f"node CIDR mask /{mask} is more than {MAX_MASK_DIFFERENCE} bits longer than the cluster CIDR "
            f"/{network.prefixlen}"
        )
    return network


def _taken_indexes(cluster: ipaddress.IPv4Network, mask: int, taken: Iterable[str]) -> set[int]:
    """Indexes of the /mask subnets of ``cluster`` that overlap any taken CIDR (unparsable ones are ignored)."""
    size = 1 << (32 - mask)
    base = int(cluster.network_address)
    count = 1 << (mask - cluster.prefixlen)
    out: set[int] = set()
    for text in taken:
        try:
            net = ipaddress.IPv4Network(text, strict=False)
        except ValueError:
            continue
        if not net.overlaps(cluster):
            continue
        first = max(int(net.network_address), base)
        last = min(int(net.broadcast_address), base + count * size - 1)
        out.update(range((first - base) // size, (last - base) // size + 1))
    return out


def allocate(cluster_cidr: str, mask: int, taken: set[str], *, after: str | None = None) -> str:
    """The first /``mask`` subnet of ``cluster_cidr`` overlapping none of ``taken``.

    With ``after`` (a subnet handed out earlier), the search starts just past it and wraps around.
    Raises :class:`NodeCIDRExhausted` when there is none.
    """
    cluster = _cluster(cluster_cidr, mask)
    size = 1 << (32 - mask)
    count = 1 << (mask - cluster.prefixlen)
    used = _taken_indexes(cluster, mask, taken)
    start = 0
    if after:
        try:
            previous = ipaddress.IPv4Network(after, strict=False)
        except ValueError:
            previous = None
        if previous is not None and previous.subnet_of(cluster):
            start = ((int(previous.network_address) - int(cluster.network_address)) // size + 1) % count
    for step in range(count):
        index = (start + step) % count
        if index not in used:
            return str(ipaddress.IPv4Network((int(cluster.network_address) + index * size, mask)))
    raise NodeCIDRExhausted(f"no free /{mask} node CIDR left in cluster CIDR {cluster}: all {count} are in use")


@dataclass(frozen=True)
class Assignment:
    """Write ``spec.podCIDR = cidr`` and ``spec.podCIDRs = [cidr]`` on node ``node``."""

    node: str
    cidr: str

    @property
    def pod_cidrs(self) -> list[str]:
        return [self.cidr]


class NodeCIDRAllocator:
    """Keeps every node with a pod CIDR.

    ``assign(nodes)`` takes the current node list and returns the assignments to write.  A node that already
    has a CIDR keeps it (and it counts as taken, wherever it is); one without gets the next free subnet, and
    keeps getting the same answer until the write shows up in the node list; CIDRs of nodes no longer in the
    list are released.  Not thread-safe: one caller (the controller's loop).
    """

    def __init__(self, cluster_cidr: str = DEFAULT_CLUSTER_CIDR, mask: int = DEFAULT_NODE_MASK) -> None:
        self.cluster = _cluster(cluster_cidr, mask)
        self.mask = mask
        self._pending: dict[str, str] = {}  # node -> CIDR handed out, not yet seen on the node
        self._last: str | None = None

    @property
    def cluster_cidr(self) -> str:
        return str(self.cluster)

    def assign(self, nodes: Iterable[types.Node]) -> list[Assignment]:
        node_list = list(nodes)
        names = {n.metadata.name for n in node_list}
        for name in list(self._pending):  # deleted before its assignment landed: release
            if name not in names:
                del self._pending[name]
        recorded: dict[str, str] = {}
        for node in node_list:
            cidr = node.spec.pod_cidr or (node.spec.pod_cidrs[0] if node.spec.pod_cidrs else "")
            if cidr:
                recorded[node.metadata.name] = cidr
                self._pending.pop(node.metadata.name, None)
        taken = set(recorded.values()) | set(self._pending.values())
        out: list[Assignment] = []
        for node in sorted(node_list, key=lambda n: n.metadata.name):
            name = node.metadata.name
            if name in recorded:
                if not node.spec.pod_cidr or not node.spec.pod_cidrs:  # only one of the two fields set
                    out.append(Assignment(name, recorded[name]))
                continue
            pending = self._pending.get(name)
            if pending is None:
                pending = allocate(self.cluster_cidr, self.mask, taken, after=self._last)
                self._pending[name] = pending
                self._last = pending
                taken.add(pending)
            out.append(Assignment(name, pending))
        return out

    def in_use(self, nodes: Iterable[types.Node]) -> dict[str, str]:
        """node -> CIDR, recorded or pending (for status and debugging)."""
        used = dict(self._pending)
        for node in nodes:
            if node.spec.pod_cidr:
                used[node.metadata.name] = node.spec.pod_cidr
        return used
