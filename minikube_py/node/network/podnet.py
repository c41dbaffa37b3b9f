"""Pod networking on one node: a bridge, a veth per pod, routes to the other nodes' pod CIDRs.

Layout (like the CNI ``bridge`` + ``host-local`` plugins, with routes instead of an overlay)::

    node netns:  mkpy0 (bridge, <pod CIDR>.1/N, up)   ip_forward=1   <peer CIDR> via <peer node IP> proto 213
                   |-- veth<hash(uid)>  (host side, enslaved, up)
    pod netns:         eth0 <pod IP>/N, up; lo up; default via <pod CIDR>.1

:class:`PodNetwork` acts on the network namespace of the thread that runs its event loop (the agent's namespace: on
a VM the host's, under ``up --nodes`` or in tests a namespace made for the node) and never leaves it: the node-side
work is pyroute2's ``AsyncIPRoute`` on one socket, the in-pod part is pyroute2's ``IPRoute`` opened in a short-lived
thread that ``setns()``-ed into the pod's namespace (no forked helpers). Routes this module makes carry ``proto
213`` (:data:`ROUTE_PROTO`); it never changes others. Pod IPs come from
:class:`~minikube_py.node.network.ipam.PodIPAM`; ``<state_dir>/network.json`` keeps the node's CIDR and the
``ip_forward`` value found before set-up (restored by :meth:`PodNetwork.teardown_node`). Errors leave this module as
:class:`~minikube_py.node.network.errors.NetworkError` (with the step and the kernel's errno), never as pyroute2
exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno as errno_mod
import hashlib
import ipaddress
import json
import logging
import os
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from pyroute2 import AsyncIPRoute, IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from minikube_py.api import types
from minikube_py.node.network.errors import IPAMError, NetnsNotFound, NetworkError, NetworkNotReady
from minikube_py.node.network.ipam import PodIPAM
from minikube_py.node.network.nsutil import acall_in_netns, open_netns, pid_netns_path

log = logging.getLogger(__name__)

BRIDGE = "mkpy0"
POD_IFNAME = "eth0"
VETH_PREFIX = "veth"
ROUTE_PROTO = 213  # rtm_protocol of every route made here ("proto 213" in `ip route`); 0-4 are the kernel's
STATE_FILE = "network.json"
RT_TABLE_MAIN = 254
IP_FORWARD = "sys/net/ipv4/ip_forward"


def host_ifname(uid: str) -> str:
    """The node-side veth of pod ``uid``: ``veth`` + 11 hex digits of its hash (15 chars, IFNAMSIZ - 1)."""
    return VETH_PREFIX + hashlib.sha256(uid.encode()).hexdigest()[:11]


def peers_from_nodes(nodes: Iterable[types.Node], self_name: str) -> list[tuple[str, str]]:
    """``(node IP, pod CIDR)`` of every other node that has both (InternalIP first, else any address)."""
    peers: list[tuple[str, str]] = []
    for node in nodes:
        if node.metadata.name == self_name or not node.spec.pod_cidr:
            continue
        addresses = sorted(node.status.addresses, key=lambda a: a.type != "InternalIP")
        ip = next((a.address for a in addresses if _is_ipv4(a.address)), "")
        if ip:
            peers.append((ip, node.spec.pod_cidr))
    return peers


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


@dataclass
class RouteSync:
    """What one :meth:`PodNetwork.sync_routes` did, by pod CIDR."""

    added: list[str] = field(default_factory=list)  # new, or its gateway changed
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # CIDR -> why it was left alone (foreign route, ours...)
    failed: dict[str, str] = field(default_factory=dict)  # CIDR -> the kernel's error

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def _net_error(err: NetlinkError, what: str) -> NetworkError:
    code = int(err.code or 0)
    return NetworkError(f"{what}: {os.strerror(code) if code else err}", op=what, errno=code)


def _configure_pod_side(address: str, prefixlen: int, gateway: str, route_proto: int) -> None:
    """In the pod's namespace (called in a thread that entered it, so pyroute2's netlink socket, opened here,
    belongs to that namespace; no helper process is forked): lo and eth0 up, the address, the default route."""
    what = "configure the pod's eth0"
    try:
        with IPRoute() as ipr:
            found = ipr.link_lookup(ifname=POD_IFNAME)
            if not found:
                raise NetworkError(f"{what}: {os.strerror(errno_mod.ENODEV)}", op=what, errno=errno_mod.ENODEV)
            index = found[0]
            ipr.link("set", index=1, state="up")  # lo is always ifindex 1 in a new namespace
            ipr.link("set", index=index, state="up")
            ipr.addr("replace", index=index, address=address, prefixlen=prefixlen)
            ipr.route("replace", dst="0.0.0.0/0", gateway=gateway, oif=index, proto=route_proto)
    except NetlinkError as err:
        raise _net_error(err, what) from err


class PodNetwork:
    """The pod network of the node whose network namespace this event loop's thread is in."""

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        *,
        bridge: str = BRIDGE,
        route_proto: int = ROUTE_PROTO,
        mtu: int | None = None,
        procfs: str = "/proc",
    ) -> None:
        self.state_dir = os.fspath(state_dir)
        self.bridge = bridge
        self.route_proto = route_proto
        self.mtu = mtu
        self.procfs = procfs
        self._ipam: PodIPAM | None = None
        self._ipr: AsyncIPRoute | None = None
        self._bridge_index: int | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    # --- state

    @property
    def pod_cidr(self) -> str | None:
        return self._ipam.cidr if self._ipam is not None else None

    @property
    def gateway(self) -> str | None:
        return str(self._ipam.gateway) if self._ipam is not None else None

    def pod_ip(self, uid: str) -> str | None:
        return self._ipam.get(uid) if self._ipam is not None else None

    def allocations(self) -> dict[str, str]:
        return self._ipam.allocations() if self._ipam is not None else {}

    def _state_path(self) -> str:
        return os.path.join(self.state_dir, STATE_FILE)

    def _read_state(self) -> dict[str, Any]:
        try:
            with open(self._state_path(), encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            log.warning("ignoring unreadable %s: %s", self._state_path(), err)
            return {}
        return data if isinstance(data, dict) else {}

    def _write_state(self, data: dict[str, Any]) -> None:
        path = self._state_path()
        tmp = f"{path}.tmp.{os.getpid()}"
        try:
            os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
            os.replace(tmp, path)
        except OSError as err:
            raise NetworkError(f"cannot write {path}: {err.strerror}", op="state", errno=err.errno or 0) from err

    def _lock(self, uid: str) -> asyncio.Lock:
        lock = self._locks.get(uid)
        if lock is None:
            lock = self._locks[uid] = asyncio.Lock()
        return lock

    # --- netlink on the node's side

    async def _nl(self) -> AsyncIPRoute:
        # One socket for the node's side, opened (lazily, by pyroute2) in this loop's thread: the node's netns.
        if self._ipr is None:
            self._ipr = AsyncIPRoute()
        self._drop_unsolicited(self._ipr)
        return self._ipr

    @staticmethod
    def _drop_unsolicited(ipr: AsyncIPRoute) -> None:
        """pyroute2 (0.9) files each message that arrives for a request already answered on the socket's root
        queue, which only a reader of broadcasts drains: the trailing ACK of every ``get`` (NLM_F_ACK), one per
        call.  We subscribe to no broadcasts, so they are dropped here; kept, they were the agent's memory
        growth in the soak (each pins a 256 KiB receive buffer's heap chunk: 2.3 KiB of RSS per call)."""
        root = getattr(getattr(ipr, "msg_queue", None), "root", None)
        if isinstance(root, asyncio.Queue):
            while not root.empty():
                root.get_nowait()
                root.task_done()

    async def close(self) -> None:
        """Close the netlink socket (the network itself stays as it is)."""
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    async def _link_index(self, ifname: str) -> int | None:
        ipr = await self._nl()
        try:
            found = await ipr.link_lookup(ifname=ifname)
        except NetlinkError as err:
            raise _net_error(err, f"look up {ifname}") from err
        return int(found[0]) if found else None

    async def _links(self) -> AsyncIterator[Any]:
        ipr = await self._nl()
        try:
            async for msg in await ipr.link("dump"):
                yield msg
        except NetlinkError as err:
            raise _net_error(err, "list links") from err

    async def _delete_link(self, ifname: str) -> bool:
        """Delete a link by name; False if it was not there."""
        ipr = await self._nl()
        try:
            await ipr.link("del", ifname=ifname)
        except NetlinkError as err:
            if err.code == errno_mod.ENODEV:
                return False
            raise _net_error(err, f"delete link {ifname}") from err
        return True

    # --- node

    async def setup_node(self, pod_cidr: str) -> None:
        """Bridge with the gateway address, up; ``ip_forward=1`` in this namespace.  Idempotent.

        A different ``pod_cidr`` than last time is accepted only while no pod holds an address
        (:class:`~minikube_py.node.network.errors.IPAMError` otherwise); the old gateway address goes.
        """
        ipam = PodIPAM(self.state_dir, pod_cidr)
        ipr = await self._nl()
        gateway = str(ipam.gateway)
        try:
            index = await self._link_index(self.bridge)
            if index is None:
                extra = {"mtu": self.mtu} if self.mtu else {}
                await ipr.link("add", ifname=self.bridge, kind="bridge", state="up", **extra)
                index = await self._link_index(self.bridge)
                if index is None:
                    raise NetworkError(f"bridge {self.bridge} vanished after creation", op="add bridge")
            else:
                links = await ipr.link("get", index=index)
                info = links[0].get("linkinfo") if links else None
                kind = info.get("kind") if info is not None else None
                if kind != "bridge":
                    raise NetworkError(
                        f"{self.bridge} exists and is not a bridge (kind {kind!r}): not touching it", op="add bridge"
                    )
                await ipr.link("set", index=index, state="up")
            have_gateway = False
            async for msg in await ipr.addr("dump", family=socket.AF_INET):
                if msg["index"] != index:
                    continue
                address, prefixlen = msg.get("address"), msg["prefixlen"]
                if address == gateway and prefixlen == ipam.prefixlen:
                    have_gateway = True
                else:  # the gateway of an earlier pod CIDR: our bridge carries only the current one
                    await ipr.addr("del", index=index, address=address, prefixlen=prefixlen)
            if not have_gateway:
                await ipr.addr("add", index=index, address=gateway, prefixlen=ipam.prefixlen)
        except NetlinkError as err:
            raise _net_error(err, f"set up bridge {self.bridge}") from err
        state = self._read_state()
        if "ip_forward_before" not in state:
            state["ip_forward_before"] = self._read_ip_forward()
        self._write_ip_forward("1")
        state.update({"pod_cidr": ipam.cidr, "bridge": self.bridge, "route_proto": self.route_proto})
        self._write_state(state)
        self._ipam = ipam
        self._bridge_index = index

    def _ip_forward_path(self) -> str:
        # /proc/sys/net/* shows the namespace of the thread that opens it: ours, the node's.
        return os.path.join(self.procfs, IP_FORWARD)

    def _read_ip_forward(self) -> str:
        try:
            with open(self._ip_forward_path(), encoding="ascii") as f:
                return f.read().strip()
        except OSError as err:
            raise NetworkError(
                f"cannot read ip_forward: {err.strerror}", op="ip_forward", errno=err.errno or 0
            ) from err

    def _write_ip_forward(self, value: str) -> None:
        try:
            with open(self._ip_forward_path(), "w", encoding="ascii") as f:
                f.write(value)
        except OSError as err:
            raise NetworkError(f"cannot set ip_forward: {err.strerror}", op="ip_forward", errno=err.errno or 0) from err

    # --- pods

    async def add_pod(self, uid: str, netns_pid: int, *, netns_inode: int | None = None) -> str:
        """Connect pod ``uid`` (its network namespace is that of ``netns_pid``, the pause) and return its IP.

        ``netns_inode`` (the sandbox's recorded ``net`` namespace inode), if given, guards against a
        recycled pid: a namespace with another inode raises :class:`NetnsNotFound`.  Calling it again for a
        connected pod returns the same IP and changes nothing; a half-done earlier attempt is completed.
        """
        ipam = self._ipam
        if ipam is None or self._bridge_index is None:
            raise NetworkNotReady("the node's pod network is not set up (no pod CIDR yet)", op="add pod")
        async with self._lock(uid):
            ns_fd = open_netns(pid_netns_path(netns_pid, self.procfs))
            try:
                if netns_inode is not None and os.fstat(ns_fd).st_ino != netns_inode:
                    raise NetnsNotFound(
                        f"pid {netns_pid} is not in pod {uid}'s network namespace any more", op="add pod"
                    )
                fresh = ipam.get(uid) is None
                ip = ipam.allocate(uid)
                try:
                    await self._connect(uid, ns_fd, ip, ipam)
                except BaseException:
                    if fresh:
                        with contextlib.suppress(IPAMError):
                            ipam.release(uid)
                    raise
                return ip
            finally:
                os.close(ns_fd)

    async def _connect(self, uid: str, ns_fd: int, ip: str, ipam: PodIPAM) -> None:
        host = host_ifname(uid)
        configure = _ConfigurePod(ip, ipam.prefixlen, str(ipam.gateway), self.route_proto)
        created = await self._create_veth(host, ns_fd)
        try:
            try:
                await acall_in_netns(ns_fd, configure)
            except NetworkError as err:
                if created or err.errno != errno_mod.ENODEV:
                    raise
                # The host veth was there already but the pod has no eth0: a leftover of an earlier
                # sandbox of this pod (or a name clash).  Replace it.
                await self._delete_link(host)
                created = await self._create_veth(host, ns_fd)
                await acall_in_netns(ns_fd, configure)
        except BaseException:
            if created:
                with contextlib.suppress(NetworkError):
                    await self._delete_link(host)
            raise

    async def _create_veth(self, host: str, ns_fd: int) -> bool:
        """The veth pair, host side enslaved and up, peer ``eth0`` created in the pod.  False: it existed."""
        ipr = await self._nl()
        extra: dict[str, Any] = {"mtu": self.mtu} if self.mtu else {}
        peer: dict[str, Any] = {"ifname": POD_IFNAME, "net_ns_fd": ns_fd, **extra}
        try:
            await ipr.link("add", ifname=host, kind="veth", master=self._bridge_index, state="up", peer=peer, **extra)
        except NetlinkError as err:
            if err.code != errno_mod.EEXIST:
                raise _net_error(err, f"add veth {host}") from err
            return await self._adopt_veth(host)
        return True

    async def _adopt_veth(self, host: str) -> bool:
        """An existing ``host`` veth must be on our bridge (then it is this pod's); make sure it is up."""
        ipr = await self._nl()
        try:
            links = await ipr.link("get", ifname=host)
            master = links[0].get("master") if links else None
            if master != self._bridge_index:
                message = f"{host} exists and is not a port of {self.bridge}: not touching it"
                raise NetworkError(message, op=f"add veth {host}", errno=errno_mod.EEXIST)
            await ipr.link("set", index=links[0]["index"], state="up")
        except NetlinkError as err:
            raise _net_error(err, f"add veth {host}") from err
        return False

    async def remove_pod(self, uid: str, *, delete_link: bool = True) -> str | None:
        """Disconnect pod ``uid`` and release its IP (returned; None if it had none).

        Deletes the node-side veth if it is still there; the kernel then removes the pod's end.  That costs
        ~25 ms of kernel time (``synchronize_net``), awaited without blocking the loop.  A caller that knows
        the pod's network namespace is gone (its pause reaped, nothing else holding it) may pass
        ``delete_link=False``: the kernel removes the pair by itself as the namespace is destroyed, and only
        the IP is released (a leftover veth of that name is replaced if the pod comes back).
        """
        async with self._lock(uid):
            if delete_link:
                await self._delete_link(host_ifname(uid))
            ip = self._ipam.release(uid) if self._ipam is not None else None
        self._locks.pop(uid, None)
        return ip

    async def cleanup_stale(self, live_uids: Iterable[str]) -> dict[str, str]:
        """Release addresses (and delete veths) of pods not in ``live_uids``: run after an agent restart."""
        if self._ipam is None:
            return {}
        live = set(live_uids)
        stale = {uid: ip for uid, ip in self._ipam.allocations().items() if uid not in live}
        for uid in stale:
            await self.remove_pod(uid)
        return stale

    # --- routes to other nodes

    async def sync_routes(self, peers: Iterable[tuple[str, str]]) -> RouteSync:
        """Make our routes exactly ``<pod CIDR> via <node IP>`` for each peer; remove our stale ones.

        Only routes with our ``proto`` are changed.  A peer whose CIDR already has a route we did not make,
        or that overlaps this node's own CIDR, is skipped (reported in the result); a route the kernel
        refuses (e.g. the node IP is not on a connected network) is reported in ``failed``.
        """
        result = RouteSync()
        own = ipaddress.IPv4Network(self._ipam.cidr) if self._ipam is not None else None
        desired: dict[ipaddress.IPv4Network, ipaddress.IPv4Address] = {}
        for node_ip, cidr in peers:
            try:
                net = ipaddress.IPv4Network(cidr, strict=True)
                gw = ipaddress.IPv4Address(node_ip)
            except ValueError as err:
                result.failed[str(cidr)] = f"invalid peer ({node_ip}, {cidr}): {err}"
                continue
            if own is not None and net.overlaps(own):
                result.skipped[str(net)] = f"overlaps this node's pod CIDR {own}"
                continue
            if net in desired and desired[net] != gw:
                result.skipped[str(net)] = f"claimed by two nodes ({desired[net]} and {gw})"
                continue
            desired[net] = gw
        ipr = await self._nl()
        ours: dict[ipaddress.IPv4Network, str | None] = {}
        foreign: set[ipaddress.IPv4Network] = set()
        try:
            async for msg in await ipr.route("dump", family=socket.AF_INET):
                if msg.get("table") != RT_TABLE_MAIN or msg["dst_len"] == 0:
                    continue
                net = ipaddress.IPv4Network(f"{msg.get('dst')}/{msg['dst_len']}", strict=False)
                if msg["proto"] == self.route_proto:
                    ours[net] = msg.get("gateway")
                else:
                    foreign.add(net)
        except NetlinkError as err:
            raise _net_error(err, "list routes") from err
        for net, gw in sorted(desired.items()):
            if ours.get(net) == str(gw):
                result.unchanged.append(str(net))
                continue
            if net in foreign:
                result.skipped[str(net)] = "a route to it exists that minikube_py did not make: left alone"
                continue
            try:
                await ipr.route("replace", dst=str(net), gateway=str(gw), proto=self.route_proto, table=RT_TABLE_MAIN)
            except NetlinkError as err:
                result.failed[str(net)] = f"via {gw}: {os.strerror(err.code) if err.code else err}"
                continue
            result.added.append(str(net))
        for net, gateway in sorted(ours.items()):
            if net in desired:
                continue
            try:
                await self._delete_route(ipr, net, gateway)
            except NetlinkError as err:
                result.failed[str(net)] = f"delete: {os.strerror(err.code) if err.code else err}"
                continue
            result.removed.append(str(net))
        return result

    async def _delete_route(self, ipr: AsyncIPRoute, net: ipaddress.IPv4Network, gateway: str | None) -> None:
        spec: dict[str, Any] = {"dst": str(net), "proto": self.route_proto, "table": RT_TABLE_MAIN}
        if gateway:
            spec["gateway"] = gateway
        try:
            await ipr.route("del", **spec)
        except NetlinkError as err:
            if err.code != errno_mod.ESRCH:  # already gone
                raise

    # --- teardown

    async def teardown_node(self) -> None:
        """Remove our routes, the pods' veths, the bridge and the state; restore ``ip_forward``."""
        state = self._read_state()
        bridge = str(state.get("bridge") or self.bridge)
        ipr = await self._nl()
        try:
            async for msg in await ipr.route("dump", family=socket.AF_INET):
                if msg.get("table") == RT_TABLE_MAIN and msg["proto"] == self.route_proto and msg["dst_len"]:
                    net = ipaddress.IPv4Network(f"{msg.get('dst')}/{msg['dst_len']}", strict=False)
                    await self._delete_route(ipr, net, msg.get("gateway"))
        except NetlinkError as err:
            raise _net_error(err, "remove routes") from err
        index = await self._link_index(bridge)
        if index is not None:
            ports = [
                str(msg.get("ifname"))
                async for msg in self._links()
                if msg.get("master") == index and str(msg.get("ifname", "")).startswith(VETH_PREFIX)
            ]
            for port in ports:
                await self._delete_link(port)
            await self._delete_link(bridge)
        before = state.get("ip_forward_before")
        if before in ("0", "1"):
            self._write_ip_forward(str(before))
        if self._ipam is not None:
            self._ipam.destroy()
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.state_dir, "ipam.json"))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._state_path())
        self._ipam = None
        self._bridge_index = None
        await self.close()


@dataclass(frozen=True)
class _ConfigurePod:
    """The in-pod step as a printable callable (runs in the thread inside the pod's netns)."""

    address: str
    prefixlen: int
    gateway: str
    route_proto: int

    def __call__(self) -> None:
        _configure_pod_side(self.address, self.prefixlen, self.gateway, self.route_proto)
