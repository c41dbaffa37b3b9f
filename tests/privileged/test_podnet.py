"""Pod networking on the real kernel: three nodes in network namespaces, pods in their own, TCP across.

Topology (all of it inside namespaces this test creates; the machine's own namespace is never touched):

    netns <tok>-sw:  bridge <tok>br (no address) -- veth <tok>pI -- netns <tok>-nI: eth0 10.77.0.1I/24  (I = 1..3)
    in each node netns: PodNetwork (mkpy0 = <node CIDR>.1, veth per pod, routes to the other nodes' CIDRs)
    pods: `unshare --net sleep` processes, each in a fresh network namespace

Each node's PodNetwork runs on an event loop in a thread that entered the node's namespace (``NetnsLoop``),
as the agent does in its own.  Node CIDRs come from the control plane's allocator.  Everything is removed
in ``finally`` blocks (pods by PID, then the namespaces, which takes their links along), also on failure,
and the test checks that nothing is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from minikube_py.api import types
from minikube_py.control.nodeipam import NodeCIDRAllocator
from minikube_py.node.network import podnet
from minikube_py.node.network.errors import NetnsNotFound, NetworkError, NetworkNotReady
from minikube_py.node.network.ipam import STATE_FILE as IPAM_FILE
from minikube_py.node.network.nsutil import NetnsLoop, open_netns, pid_netns_path, socket_in_netns
from minikube_py.node.network.podnet import ROUTE_PROTO, PodNetwork, host_ifname, peers_from_nodes

pytestmark = pytest.mark.root

TCP_TIMEOUT_S = 15.0  # for exchanges that must succeed (a loaded machine); those expected to fail pass less
T = TypeVar("T")


def ip(*args: str, check: bool = True) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise AssertionError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def link_names(netns: str | None = None) -> set[str]:
    out = ip(*(["-n", netns] if netns else []), "-o", "link")
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if line.strip()}


def netns_names() -> set[str]:
    return {line.split()[0] for line in ip("netns", "list").splitlines() if line.strip()}


@dataclass
class Pod:
    uid: str
    proc: subprocess.Popen[bytes]
    ip: str = ""

    @property
    def pid(self) -> int:
        return self.proc.pid


@dataclass
class Node:
    name: str
    netns: str
    address: str
    state_dir: Path
    loop: NetnsLoop | None = None
    net: PodNetwork | None = None
    cidr: str = ""
    pods: list[Pod] = field(default_factory=list)

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert self.loop is not None
        return self.loop.run(coro)

    def ip(self, *args: str) -> str:
        return ip("-n", self.netns, *args)


@dataclass
class Lab:
    token: str
    switch: str
    nodes: list[Node]
    pods: list[Pod] = field(default_factory=list)

    def new_pod(self) -> Pod:
        """A process holding a fresh network namespace (`unshare --net sleep`), killed by PID at the end."""
        proc = subprocess.Popen(["unshare", "--net", "sleep", "600"], stdin=subprocess.DEVNULL)
        pod = Pod(uid=f"{self.token}-{uuid.uuid4()}", proc=proc)
        self.pods.append(pod)
        own = os.stat("/proc/thread-self/ns/net").st_ino  # the child starts in this thread's namespace
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until unshare has made the namespace and exec'd sleep
            with contextlib.suppress(OSError):
                if os.stat(pid_netns_path(pod.pid)).st_ino != own and os.readlink(f"/proc/{pod.pid}/exe").endswith(
                    "sleep"
                ):
                    return pod
            assert proc.poll() is None, "unshare --net failed"
            time.sleep(0.005)
        raise AssertionError("the pod process did not get its own network namespace")


def kill(pod: Pod) -> None:
    if pod.proc.poll() is None:
        pod.proc.kill()
    pod.proc.wait(timeout=10)


def ours_in_root(token: str, pods: list[Pod] | None = None) -> set[str]:
    """Links in the machine's own namespace that this test could have made (there must be none)."""
    mine = {"mkpy0", *(host_ifname(p.uid) for p in pods or [])}
    return {n for n in link_names() if n in mine or token in n}


@contextlib.contextmanager
def netlab(tmp_path: Path, count: int) -> Iterator[Lab]:
    """``count`` node namespaces joined by a bridge in a switch namespace; all removed afterwards."""
    token = f"mkpyt{uuid.uuid4().hex[:6]}"
    # Other sessions may change the machine's own namespace meanwhile: compare only what could be ours.
    root_links, root_routes = ours_in_root(token), ip("route", "show", "table", "all")
    lab = Lab(token=token, switch=f"{token}-sw", nodes=[])
    created: list[str] = []
    try:
        ip("netns", "add", lab.switch)
        created.append(lab.switch)
        ip("-n", lab.switch, "link", "add", f"{token}br", "type", "bridge")
        ip("-n", lab.switch, "link", "set", f"{token}br", "up")
        for i in range(1, count + 1):
            node = Node(
                name=f"node{i}", netns=f"{token}-n{i}", address=f"10.77.0.{10 + i}", state_dir=tmp_path / f"node{i}"
            )
            ip("netns", "add", node.netns)
            created.append(node.netns)
            # both ends are created inside namespaces: the switch port stays in sw, eth0 goes to the node
            port = f"{token}p{i}"
            ip("-n", lab.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", node.netns)
            ip("-n", lab.switch, "link", "set", port, "master", f"{token}br", "up")
            node.ip("addr", "add", f"{node.address}/24", "dev", "eth0")
            node.ip("link", "set", "eth0", "up")
            node.ip("link", "set", "lo", "up")
            node.loop = NetnsLoop(node.netns_path, name=f"{token}-{node.name}")
            node.net = PodNetwork(node.state_dir)
            lab.nodes.append(node)
        yield lab
    finally:
        for pod in lab.pods:
            kill(pod)
        for node in lab.nodes:
            if node.loop is not None:
                if node.net is not None:
                    with contextlib.suppress(Exception):
                        node.run(node.net.close())
                node.loop.close()
        for name in reversed(created):
            ip("netns", "del", name, check=False)
        assert not {n for n in netns_names() if token in n}, "namespaces left behind"
        for name in created:
            assert not os.path.exists(f"/run/netns/{name}")
        assert not ours_in_root(token, lab.pods) - root_links, "links of ours in the machine's namespace"
        new_routes = set(ip("route", "show", "table", "all").splitlines()) - set(root_routes.splitlines())
        assert not {r for r in new_routes if "10.244." in r or "proto 213" in r}  # 10.77.x: the VM test may run


# --- TCP between pods: a socket created in a namespace stays there, so no process has to move


def tcp_exchange(*, server_pod: Pod, client_pod: Pod, timeout: float = TCP_TIMEOUT_S) -> str:
    """Listen in the server pod's netns on its IP, connect from the client pod's netns; return the peer IP
    the server saw (no NAT anywhere: it must be the client pod's own address)."""
    server_fd, client_fd = open_netns(pid_netns_path(server_pod.pid)), open_netns(pid_netns_path(client_pod.pid))
    try:
        server = socket_in_netns(server_fd, socket.AF_INET, socket.SOCK_STREAM)
        client = socket_in_netns(client_fd, socket.AF_INET, socket.SOCK_STREAM)
    finally:
        os.close(server_fd)
        os.close(client_fd)
    seen: list[str] = []
    with server, client:
        server.settimeout(timeout)
        server.bind((server_pod.ip, 0))
        server.listen(1)
        port = server.getsockname()[1]

        def serve() -> None:
            with contextlib.suppress(OSError):
                conn, peer = server.accept()
                with conn:
                    seen.append(peer[0])
                    conn.sendall(b"pong " + conn.recv(64))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        client.settimeout(timeout)
        client.connect((server_pod.ip, port))
        client.sendall(b"ping")
        reply = client.recv(64)
        thread.join(timeout)
    assert reply == b"pong ping"
    return seen[0]


def routes_of(node: Node, proto: int = ROUTE_PROTO) -> dict[str, str]:
    out = node.ip("-4", "route", "show", "proto", str(proto))
    return {line.split()[0]: line.split()[2] for line in out.splitlines() if " via " in line}


def k8s_node(node: Node) -> types.Node:
    return types.Node(
        metadata=types.ObjectMeta(name=node.name),
        spec=types.NodeSpec(pod_cidr=node.cidr, pod_cidrs=[node.cidr] if node.cidr else []),
        status=types.NodeStatus(addresses=[types.NodeAddress(type="InternalIP", address=node.address)]),
    )


async def unsolicited_before_and_after(net: podnet.PodNetwork) -> tuple[int, int]:
    """In the node's loop thread (pyroute2's queues are per thread): one `get`, then the next use of the socket."""
    ipr = await net._nl()
    await ipr.link("get", index=1)
    deadline = time.monotonic() + 10  # the trailing ACK arrives after the answer
    while ipr.msg_queue.root.qsize() == 0 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    before = ipr.msg_queue.root.qsize()
    await net._nl()
    return before, ipr.msg_queue.root.qsize()


def test_three_nodes_pod_to_pod_tcp_and_clean_teardown(tmp_path: Path) -> None:
    root_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    with netlab(tmp_path, 3) as lab:
        n1, n2, n3 = lab.nodes
        # the control plane's allocator gives the node CIDRs
        for assignment in NodeCIDRAllocator().assign([k8s_node(n) for n in lab.nodes]):
            next(n for n in lab.nodes if n.name == assignment.node).cidr = assignment.cidr
        assert [n.cidr for n in lab.nodes] == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]

        for node in lab.nodes:
            assert node.net is not None
            node.run(node.net.setup_node(node.cidr))
            node.run(node.net.setup_node(node.cidr))  # idempotent
            assert "mkpy0" in link_names(node.netns)
            assert f"inet {node.cidr.replace('.0/', '.1/')}" in node.ip("-4", "-o", "addr", "show", "dev", "mkpy0")
            forward = subprocess.run(
                ["ip", "netns", "exec", node.netns, "cat", "/proc/sys/net/ipv4/ip_forward"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert forward.strip() == "1"
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == root_forward  # only the nodes' namespaces

        # pods: two on node 1, one on each other node
        placement = [n1, n1, n2, n3]
        for node in placement:
            pod = lab.new_pod()
            assert node.net is not None
            pod.ip = node.run(node.net.add_pod(pod.uid, pod.pid, netns_inode=os.stat(pid_netns_path(pod.pid)).st_ino))
            node.pods.append(pod)
        p1a, p1b = n1.pods
        (p2,) = n2.pods
        (p3,) = n3.pods
        assert (p1a.ip, p1b.ip, p2.ip, p3.ip) == ("10.244.0.2", "10.244.0.3", "10.244.1.2", "10.244.2.2")
        for node in lab.nodes:
            for pod in node.pods:
                inside = ["nsenter", "-t", str(pod.pid), "-n", "ip"]
                addr = subprocess.run(
                    [*inside, "-4", "-o", "addr", "show", "dev", "eth0"], capture_output=True, text=True
                )
                assert f"inet {pod.ip}/24" in addr.stdout
                route = subprocess.run([*inside, "route", "show", "default"], capture_output=True, text=True)
                assert route.stdout.startswith(f"default via {node.cidr.replace('.0/24', '.1')} dev eth0")
                host = node.ip("-o", "link", "show", host_ifname(pod.uid))
                assert "master mkpy0" in host and "UP" in host
        assert n1.net is not None and n2.net is not None and n3.net is not None

        # pyroute2 files the trailing ACK of each `get` on its socket's root queue; PodNetwork drops them
        assert n1.run(unsolicited_before_and_after(n1.net)) == (1, 0)

        # same node, over the bridge
        assert tcp_exchange(server_pod=p1b, client_pod=p1a) == p1a.ip
        # across nodes: nothing routes there yet
        with pytest.raises(OSError) as no_route:
            tcp_exchange(server_pod=p3, client_pod=p1a, timeout=2.0)
        assert no_route.value.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) or isinstance(
            no_route.value, TimeoutError
        )

        # a route none of ours, in node 1: sync_routes must leave it alone
        n1.ip("route", "add", "10.244.200.0/24", "via", "10.77.0.12", "proto", "static")
        nodes = [k8s_node(n) for n in lab.nodes]
        for node in lab.nodes:
            assert node.net is not None
            result = node.run(node.net.sync_routes(peers_from_nodes(nodes, node.name)))
            assert sorted(result.added) == sorted(n.cidr for n in lab.nodes if n is not node)
            assert not result.failed and not result.removed
        assert routes_of(n1) == {"10.244.1.0/24": "10.77.0.12", "10.244.2.0/24": "10.77.0.13"}
        assert routes_of(n3) == {"10.244.0.0/24": "10.77.0.11", "10.244.1.0/24": "10.77.0.12"}
        again = n1.run(n1.net.sync_routes(peers_from_nodes(nodes, n1.name)))
        assert again.unchanged == ["10.244.1.0/24", "10.244.2.0/24"] and not again.changed

        # the must-show: a pod on node 1 reaches a pod on node 3 over TCP (and back, and node 2)
        assert tcp_exchange(server_pod=p3, client_pod=p1a) == p1a.ip
        assert tcp_exchange(server_pod=p1b, client_pod=p3) == p3.ip
        assert tcp_exchange(server_pod=p2, client_pod=p3) == p3.ip

        # node 3 leaves: its route goes, the foreign one stays; a peer claiming node 1's own CIDR is skipped
        peers = [*peers_from_nodes(nodes[:2], n1.name), ("10.77.0.99", "10.244.0.0/24")]
        result = n1.run(n1.net.sync_routes(peers))
        assert result.removed == ["10.244.2.0/24"] and result.unchanged == ["10.244.1.0/24"]
        assert "10.244.0.0/24" in result.skipped
        assert routes_of(n1) == {"10.244.1.0/24": "10.77.0.12"}
        assert "10.244.200.0/24 via 10.77.0.12 dev eth0 proto static" in n1.ip("-4", "route")
        # a peer whose CIDR has a foreign route is skipped, not taken over
        clash = n1.run(n1.net.sync_routes([*peers_from_nodes(nodes[:2], n1.name), ("10.77.0.13", "10.244.200.0/24")]))
        assert "10.244.200.0/24" in clash.skipped and "proto static" in n1.ip("-4", "route", "show", "10.244.200.0/24")
        with pytest.raises(OSError):
            tcp_exchange(server_pod=p3, client_pod=p1a, timeout=1.0)

        # an agent restart: a new PodNetwork on the same state keeps every pod's address
        n1.run(n1.net.close())
        n1.net = PodNetwork(n1.state_dir)
        n1.run(n1.net.setup_node(n1.cidr))
        assert n1.net.pod_ip(p1a.uid) == p1a.ip
        assert n1.run(n1.net.add_pod(p1a.uid, p1a.pid)) == p1a.ip  # idempotent: nothing disturbed
        assert tcp_exchange(server_pod=p1b, client_pod=p1a) == p1a.ip

        # remove a pod while it runs (its veth goes), and one whose namespace is already gone
        assert n1.run(n1.net.remove_pod(p1a.uid)) == p1a.ip
        assert host_ifname(p1a.uid) not in link_names(n1.netns)
        kill(p1b)  # the pause is gone: the kernel removes the pair by itself, only the IP needs releasing
        assert n1.run(n1.net.remove_pod(p1b.uid, delete_link=False)) == p1b.ip
        assert n1.net.allocations() == {}
        deadline = time.monotonic() + 10
        while host_ifname(p1b.uid) in link_names(n1.netns):
            assert time.monotonic() < deadline, "the kernel did not remove the veth of a dead namespace"
            time.sleep(0.05)
        assert n1.run(n1.net.remove_pod(p1b.uid)) is None  # twice is fine

        # teardown: nothing of ours stays in the nodes' namespaces
        for node in lab.nodes:
            assert node.net is not None
            node.run(node.net.teardown_node())
            names = link_names(node.netns)
            assert names == {"lo", "eth0"}, names
            assert routes_of(node) == {}
            assert not (node.state_dir / IPAM_FILE).exists() and not (node.state_dir / podnet.STATE_FILE).exists()
            forward = subprocess.run(
                ["ip", "netns", "exec", node.netns, "cat", "/proc/sys/net/ipv4/ip_forward"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert forward.strip() == "0"  # restored to what a fresh namespace has
        assert "10.244.200.0/24" in n1.ip("-4", "route")  # still not ours to remove


def test_errors_and_leftover_recovery(tmp_path: Path) -> None:
    with netlab(tmp_path, 1) as lab:
        (node,) = lab.nodes
        assert node.net is not None
        net = node.net
        pod = lab.new_pod()
        with pytest.raises(NetworkNotReady):
            node.run(net.add_pod(pod.uid, pod.pid))
        node.run(net.setup_node("10.244.4.0/24"))

        # a recycled pid: the namespace is not the sandbox's
        wrong = os.stat("/proc/self/ns/net").st_ino
        with pytest.raises(NetnsNotFound):
            node.run(net.add_pod(pod.uid, pod.pid, netns_inode=wrong))
        assert net.allocations() == {}

        # the pause is gone: typed error, no address kept, no veth left
        gone = lab.new_pod()
        kill(gone)
        with pytest.raises(NetnsNotFound) as info:
            node.run(net.add_pod(gone.uid, gone.pid))
        assert isinstance(info.value, NetworkError)
        assert net.allocations() == {} and host_ifname(gone.uid) not in link_names(node.netns)

        # a host veth left from an earlier sandbox of the same pod (its peer elsewhere) is replaced
        ip("-n", node.netns, "link", "add", host_ifname(pod.uid), "type", "veth", "peer", "name", f"{lab.token}s")
        ip("-n", node.netns, "link", "set", host_ifname(pod.uid), "master", "mkpy0")
        pod.ip = node.run(net.add_pod(pod.uid, pod.pid))
        assert f"{lab.token}s" not in link_names(node.netns)
        assert pod.ip == "10.244.4.2"

        # a link of that name that is not on our bridge is not ours: refused, and the address is released
        other = lab.new_pod()
        ip("-n", node.netns, "link", "add", host_ifname(other.uid), "type", "veth", "peer", "name", f"{lab.token}f")
        with pytest.raises(NetworkError, match="not a port of mkpy0"):
            node.run(net.add_pod(other.uid, other.pid))
        assert net.pod_ip(other.uid) is None
        assert {host_ifname(other.uid), f"{lab.token}f"} <= link_names(node.netns)
        ip("-n", node.netns, "link", "del", host_ifname(other.uid))

        # a different CIDR while a pod holds an address is refused
        with pytest.raises(NetworkError, match=r"changed from 10\.244\.4\.0/24"):
            node.run(net.setup_node("10.244.5.0/24"))

        # pods gone while the agent was down: their addresses come back
        assert node.run(net.cleanup_stale([])) == {pod.uid: pod.ip}
        assert net.allocations() == {} and host_ifname(pod.uid) not in link_names(node.netns)
        node.run(net.setup_node("10.244.5.0/24"))  # now allowed: the old gateway goes, the new one comes
        addrs = node.ip("-4", "-o", "addr", "show", "dev", "mkpy0")
        assert "10.244.5.1/24" in addrs and "10.244.4.1" not in addrs
        node.run(net.teardown_node())
        assert link_names(node.netns) == {"lo", "eth0"}
