"""Metric: per-pod network set-up and teardown, ``PodNetwork.add_pod`` / ``remove_pod``.

A throw-away node network namespace (``mkpyb<token>-node``) with a :class:`PodNetwork` on an event loop in a
thread that entered it (as the agent runs in its node's namespace), and N "pods": processes in fresh network
namespaces (``unshare --net sh -c 'read _' <token>``), killed by PID at the end.  Per pod:

* ``add_pod``: IP from the IPAM (state file replaced), veth pair with the host side enslaved and up and the
  peer created in the pod as ``eth0`` (pyroute2 ``AsyncIPRoute``), then in the pod -- from a short-lived
  thread that ``setns()``-ed there, no fork -- lo and eth0 up, the address and the default route (pyroute2
  ``IPRoute`` opened there).  Peer: the same steps with ``ip -batch`` (the fastest method in the measured anchors:
  ``ip -batch`` in the node, then ``nsenter -t PID -n ip -batch`` in the pod).
* ``remove_pod`` while the pod's namespace is alive: the veth deleted (the kernel's ``link del`` cost
  dominates), IP released.  Peer: ``ip link del``.
* ``remove_pod(delete_link=False)`` after the pod's namespace went away (the usual order in the agent:
  sandbox first): the kernel removes the pair itself; we only release the IP.

``run()`` prints the numbers and returns the report section; ``python -m bench.bench_network`` runs it alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.report_model import Section, row
from bench.session import TOKEN, log
from bench.stats import summarize
from minikube_py.node.network.nsutil import NetnsLoop, pid_netns_path
from minikube_py.node.network.podnet import PodNetwork

NAME = "network"
NODE_CIDR = "10.244.9.0/24"
PEER_CIDR = "10.244.10.0/24"  # the ip -batch peer gets its own bridge and subnet in the same node namespace
WARMUP = 3


@dataclass
class Samples:
    add: list[float] = field(default_factory=list)
    remove_live: list[float] = field(default_factory=list)
    remove_gone: list[float] = field(default_factory=list)
    peer_add: list[float] = field(default_factory=list)
    peer_remove: list[float] = field(default_factory=list)


def _ip(*args: str, stdin: str | None = None) -> None:
    result = subprocess.run(["ip", *args], input=stdin, capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


class Pods:
    """Processes each holding a fresh network namespace; every one is killed by PID on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> int:
        proc = subprocess.Popen(
            ["unshare", "--net", "sh", "-c", "read _", f"mkpy-bench-pod-{TOKEN}"], stdin=subprocess.PIPE
        )
        self.procs.append(proc)
        own = os.stat("/proc/thread-self/ns/net").st_ino  # the child starts in this thread's namespace
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if os.stat(pid_netns_path(proc.pid)).st_ino != own:
                    return proc.pid
            if proc.poll() is not None:
                raise RuntimeError("unshare --net failed")
            time.sleep(0.002)
        raise RuntimeError("the pod process did not get its own network namespace")

    def kill(self, pid: int) -> None:
        for proc in self.procs:
            if proc.pid == pid and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def node_namespace() -> Iterator[str]:
    name = f"mkpyb{TOKEN}-node"
    _ip("netns", "add", name)
    try:
        _ip("-n", name, "link", "set", "lo", "up")
        yield name
    finally:
        with contextlib.suppress(RuntimeError):
            _ip("netns", "del", name)
        if os.path.exists(f"/run/netns/{name}"):
            log.error("network bench: namespace %s left behind", name)


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


async def _ours(net: PodNetwork, pods: Pods, n: int, samples: Samples) -> None:
    await net.setup_node(NODE_CIDR)
    for i in range(n + WARMUP):
        pid = pods.start()
        uid = f"bench-{TOKEN}-{i}"
        t0 = time.perf_counter()
        await net.add_pod(uid, pid)
        add = _ms(t0)
        live = i % 2 == 0  # half removed while the pod runs, half after its namespace is gone
        if not live:
            pods.kill(pid)
        t0 = time.perf_counter()
        await net.remove_pod(uid, delete_link=live)
        remove = _ms(t0)
        if live:
            pods.kill(pid)
        if i >= WARMUP:
            samples.add.append(add)
            (samples.remove_live if live else samples.remove_gone).append(remove)
    await net.teardown_node()


async def _peer(pods: Pods, n: int, samples: Samples) -> None:
    """The anchors' `ip -batch` ×2 recipe, in the same node namespace (this coroutine's thread is in it)."""
    gateway = PEER_CIDR.replace(".0/24", ".1")
    _ip("-batch", "-", stdin=f"link add mkpyp0 type bridge\nlink set mkpyp0 up\naddr add {gateway}/24 dev mkpyp0\n")
    try:
        for i in range(n + WARMUP):
            pid = pods.start()
            veth = f"vethpeer{i}"
            address = PEER_CIDR.replace(".0/24", f".{2 + i % 250}")
            t0 = time.perf_counter()
            node_side = f"link add {veth} type veth peer name eth0 netns {pid}\nlink set {veth} master mkpyp0 up\n"
            _ip("-batch", "-", stdin=node_side)
            inside = subprocess.run(
                ["nsenter", "-t", str(pid), "-n", "ip", "-batch", "-"],
                input=f"addr add {address}/24 dev eth0\nlink set eth0 up\nlink set lo up\n"
                f"route add default via {gateway}\n",
                capture_output=True,
                text=True,
                timeout=30,
            )
            add = _ms(t0)
            if inside.returncode != 0:
                raise RuntimeError(f"ip -batch in the pod: {inside.stderr.strip()}")
            t0 = time.perf_counter()
            _ip("link", "del", veth)
            remove = _ms(t0)
            pods.kill(pid)
            if i >= WARMUP:
                samples.peer_add.append(add)
                samples.peer_remove.append(remove)
    finally:
        _ip("link", "del", "mkpyp0")


def _measure(n: int, with_peer: bool) -> Samples:
    samples = Samples()
    pods = Pods()
    with tempfile.TemporaryDirectory(prefix=f"mkpy-bench-net-{TOKEN}-") as state_dir, node_namespace() as ns:
        try:
            with NetnsLoop(f"/run/netns/{ns}", name=f"mkpy-bench-{TOKEN}") as loop:
                net = PodNetwork(state_dir)
                try:
                    loop.run(_ours(net, pods, n, samples), timeout=600)
                finally:
                    loop.run(net.close())
                if with_peer:
                    loop.run(_peer(pods, n, samples), timeout=600)
        finally:
            pods.kill_all()
    return samples


def _line(label: str, values: list[float]) -> str:
    s = summarize(values)
    if not s["n"]:
        return f"{label}: no samples"
    return f"{label}: median {s['median']:.2f} ms, p95 {s['p95']:.2f} ms, max {s['max']:.2f} ms (n={s['n']})"


async def run(quick: bool = False, pods: int | None = None, *, peer: bool = True) -> Section:
    n = pods or (15 if quick else 50)
    samples = await asyncio.to_thread(_measure, n, peer)
    lines = [
        _line("add_pod", samples.add),
        _line("remove_pod, pod netns alive (veth deleted)", samples.remove_live),
        _line("remove_pod(delete_link=False), pod netns gone", samples.remove_gone),
    ]
    if peer:
        lines += [_line("peer ip -batch x2 add", samples.peer_add), _line("peer ip link del", samples.peer_remove)]
    print("pod network, per pod:\n  " + "\n  ".join(lines), flush=True)
    return Section(
        name=NAME,
        title="Pod network: per-pod set-up and teardown",
        rows=[
            row(
                "add_pod",
                "ms",
                "ours: AsyncIPRoute + IPRoute in the pod's netns",
                samples.add,
                "ip -batch ×2 (node, then nsenter in the pod)",
                samples.peer_add or None,
            ),
            row(
                "remove_pod, netns alive",
                "ms",
                "ours: veth deleted + IP released",
                samples.remove_live,
                "ip link del",
                samples.peer_remove or None,
            ),
            row("remove_pod, netns gone", "ms", "ours: delete_link=False, IP released", samples.remove_gone),
        ],
        target="add_pod well under 20 ms (anchors: pyroute2 with netns= helpers 16.9 ms median)",
        notes=[
            f"{n} pods after {WARMUP} warm-ups, one at a time, in a node namespace of our own; "
            "half of the removals while the pod runs, half after its namespace is gone.",
            "The agent's order is sandbox teardown first, so remove_pod usually finds the pair already gone.",
        ],
        raw={"samples": samples.__dict__},
    )


def main() -> int:
    if os.geteuid() != 0:
        print("bench_network: needs root (network namespaces)", file=sys.stderr)
        return 2
    asyncio.run(run(quick="--quick" in sys.argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
