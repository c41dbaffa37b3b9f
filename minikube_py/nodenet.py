"""Network namespaces for the node agents of a one-machine cluster (``minikube-py up``).

One "switch" namespace ``mkpy-<cluster>-sw`` holds a bridge; each node i gets a namespace ``mkpy-<cluster>-n<i>``
whose ``eth0`` (10.213.<k>.<i>/24) is plugged into that bridge, and the machine gets one veth end
``mkpy<cluster>h`` at 10.213.<k>.254/24 plugged into it too, where the control plane listens.  ``k`` is the
first subnet no other cluster on the machine uses (chosen under a lock), so clusters can run side by side.
Nodes reach each other directly on the bridge, so their pod CIDRs route via their node IPs (the agents keep
those routes in their own namespaces); nothing is routed through, or configured on, the machine's other
interfaces.  Addresses exist only on links this code creates.  Deleting a namespace deletes its veth pairs too.
``ip`` (iproute2) does the work: a handful of commands per node, run once at start.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from dataclasses import dataclass

SUBNETS = "10.213"  # 10.213.<k>.0/24 per cluster
CONTROL_PLANE_HOST = 254
BRIDGE = "br0"
LOCK_FILE = "/run/lock/minikube-py-nodenet.lock"


class NodeNetError(RuntimeError):
    pass


@dataclass(frozen=True)
class ClusterNet:
    cluster_id: str
    subnet: str  # "10.213.<k>"

    @property
    def switch(self) -> str:
        return f"mkpy-{self.cluster_id}-sw"

    @property
    def host_if(self) -> str:
        return f"mkpy{self.cluster_id[:6]}h"

    @property
    def host_ip(self) -> str:
        """The machine's address on the cluster network: the control plane listens here."""
        return f"{self.subnet}.{CONTROL_PLANE_HOST}"


@dataclass(frozen=True)
class NodeNet:
    netns: str
    host_ip: str  # the control plane, as the node sees it
    node_ip: str

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise NodeNetError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def _subnets_in_use() -> set[str]:
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    used = set()
    for line in out.split("\n"):
        for word in line.split():
            if word.startswith(f"{SUBNETS}."):
                used.add(".".join(word.split("/")[0].split(".")[:3]))
    return used


def create_cluster(cluster_id: str) -> ClusterNet:
    os.makedirs(os.path.dirname(LOCK_FILE), exist_ok=True)
    with open(LOCK_FILE, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two clusters starting at once must not pick the same subnet
        used = _subnets_in_use()
        free = next((f"{SUBNETS}.{k}" for k in range(256) if f"{SUBNETS}.{k}" not in used), None)
        if free is None:
            raise NodeNetError(f"every {SUBNETS}.<k>.0/24 subnet is in use on this machine")
        return _create_cluster(ClusterNet(cluster_id, free))


def _create_cluster(net: ClusterNet) -> ClusterNet:
    _ip("netns", "add", net.switch)
    try:
        _ip("-n", net.switch, "link", "add", BRIDGE, "type", "bridge")
        _ip("-n", net.switch, "link", "set", BRIDGE, "up")
        _ip("link", "add", net.host_if, "type", "veth", "peer", "name", "cp", "netns", net.switch)
        _ip("-n", net.switch, "link", "set", "cp", "master", BRIDGE, "up")
        _ip("addr", "add", f"{net.host_ip}/24", "dev", net.host_if)
        _ip("link", "set", net.host_if, "up")
    except NodeNetError:
        delete_cluster(net)
        raise
    return net


def add_node(cluster: ClusterNet, index: int) -> NodeNet:
    if not 1 <= index < CONTROL_PLANE_HOST:
        raise NodeNetError(f"node index {index} out of range")
    node = NodeNet(
        netns=f"mkpy-{cluster.cluster_id}-n{index}", host_ip=cluster.host_ip, node_ip=f"{cluster.subnet}.{index}"
    )
    _ip("netns", "add", node.netns)
    try:
        port = f"n{index}"
        _ip("-n", cluster.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
        _ip("-n", cluster.switch, "link", "set", port, "master", BRIDGE, "up")
        _ip("-n", node.netns, "addr", "add", f"{node.node_ip}/24", "dev", "eth0")
        _ip("-n", node.netns, "link", "set", "eth0", "up")
        _ip("-n", node.netns, "link", "set", "lo", "up")
    except NodeNetError:
        delete_node(node)
        raise
    return node


def delete_node(node: NodeNet) -> None:
    """Remove the node's namespace; the kernel removes its veth pair (and the pods' veths inside) with it."""
    with contextlib.suppress(NodeNetError):
        _ip("netns", "del", node.netns)


def delete_cluster(net: ClusterNet) -> None:
    with contextlib.suppress(NodeNetError):
        _ip("netns", "del", net.switch)
    with contextlib.suppress(NodeNetError):
        _ip("link", "del", net.host_if)
