"""Network namespaces for the node agents of a one-machine multi-node cluster (``up --nodes N``).

Node i gets a network namespace ``mkpy-<cluster>-<node>`` joined to the host by a veth pair on a /30 of
10.213.0.0/16: the host side (the control plane listens there too) is 10.213.<i>.1, the node is 10.213.<i>.2.
Addresses exist only in namespaces this code creates.  Deleting the namespace deletes the veth pair too.
``ip`` (iproute2) does the work: a handful of commands per node, run once at start.
"""

from __future__ import annotations

import contextlib
import subprocess
from dataclasses import dataclass


class NodeNetError(RuntimeError):
    pass


@dataclass(frozen=True)
class NodeNet:
    netns: str
    host_if: str
    host_ip: str
    node_ip: str

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise NodeNetError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def create(cluster_id: str, index: int) -> NodeNet:
    if not 1 <= index <= 250:
        raise NodeNetError(f"node index {index} out of range")
    net = NodeNet(
        netns=f"mkpy-{cluster_id}-n{index}",
        host_if=f"mkpy{cluster_id[:6]}n{index}",
        host_ip=f"10.213.{index}.1",
        node_ip=f"10.213.{index}.2",
    )
    _ip("netns", "add", net.netns)
    try:
        _ip("link", "add", net.host_if, "type", "veth", "peer", "name", "eth0", "netns", net.netns)
        _ip("addr", "add", f"{net.host_ip}/30", "dev", net.host_if)
        _ip("link", "set", net.host_if, "up")
        _ip("-n", net.netns, "addr", "add", f"{net.node_ip}/30", "dev", "eth0")
        _ip("-n", net.netns, "link", "set", "eth0", "up")
        _ip("-n", net.netns, "link", "set", "lo", "up")
    except NodeNetError:
        delete(net)
        raise
    return net


def delete(net: NodeNet) -> None:
    """Remove the namespace (the kernel then removes the veth pair) and the host end if it lingers."""
    with contextlib.suppress(NodeNetError):
        _ip("netns", "del", net.netns)
    with contextlib.suppress(NodeNetError):
        _ip("link", "del", net.host_if)
