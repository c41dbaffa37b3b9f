"""Metric 2: memory per pod of the pause process, and what the agent and the node shim pay per pod.

Ours: N sandboxes (catatonit -P as PID 1 of new pid/net/ipc/uts/mnt namespaces); per pause we read
/proc/PID/smaps_rollup (Pss, Pss_Anon, Rss) and the pause cgroup's memory charge.
Peer: N ``unshare --fork --pid --mount-proc --kill-child busybox sleep 3600``, each busybox in a memory
cgroup of its own (joined by a shell that then execs busybox), measured the same way.
Both sets run at the same time, so file pages are shared among N of each kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

from bench import procfs
from bench.report_model import Row, Section, row
from bench.session import TOKEN, logged_errors, require, runtime_session
from minikube_py.node.cgroups import common
from minikube_py.node.cgroups.driver import CgroupResources
from minikube_py.node.runtime.model import PodSandboxConfig, Sandbox
from minikube_py.node.runtime.runtime import Runtime

NAME = "pause"
SETTLE_S = 2.5  # > the kernel's 2 s periodic memcg stats flush
PEER_CGROUP = "peer-pause"
JOIN_AND_EXEC = 'for f in "$@"; do echo 0 > "$f" || exit 1; done; exec "$BUSYBOX" sleep 3600'


@dataclass
class Figures:
    """Per-process figures in KiB, one list entry per pod."""

    pss: list[float] = field(default_factory=list)
    pss_anon: list[float] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)
    memcg: list[float] = field(default_factory=list)  # memory.usage_in_bytes, via the driver
    memcg_user: list[float] = field(default_factory=list)  # memory.stat rss + cache
    memcg_kmem: list[float] = field(default_factory=list)  # memory.kmem.usage_in_bytes

    def add(self, rt: Runtime, pid: int, cgroup: str) -> None:
        smaps = procfs.smaps_rollup(pid)
        self.pss.append(smaps.get("Pss", 0))
        self.pss_anon.append(smaps.get("Pss_Anon", 0))
        self.rss.append(smaps.get("Rss", 0))
        self.memcg.append(rt.driver.stats(cgroup).memory_usage / 1024)
        user, kmem = _memcg_exact_kib(rt, cgroup)
        self.memcg_user.append(user)
        self.memcg_kmem.append(kmem)


def _memcg_exact_kib(rt: Runtime, cgroup: str) -> tuple[float, float]:
    """User pages (memory.stat, flushed by the kernel every 2 s) plus kernel memory, without the per-CPU
    charge batch (up to 64 pages) that memory.usage_in_bytes may include."""
    memory = next(h for h in procfs.v1_hierarchies() if "memory" in h.options.split(","))
    d = procfs.hierarchy_dir(memory, rt.driver.kernel_memory_path(cgroup))
    stat: dict[str, int] = {}
    with open(os.path.join(d, "memory.stat")) as f:
        for line in f:
            key, _, value = line.partition(" ")
            stat[key] = int(value)
    with open(os.path.join(d, "memory.kmem.usage_in_bytes")) as f:
        kmem = int(f.read())
    return (stat.get("rss", 0) + stat.get("cache", 0)) / 1024, kmem / 1024


@dataclass
class Measurement:
    n: int
    ours: Figures
    peer: Figures
    agent_rss_kib: tuple[int, int]  # before, after starting the N sandboxes
    shim_rss_kib: tuple[int, int]
    shim_pss_kib: int

    @property
    def agent_growth_per_pod_kib(self) -> float:
        return (self.agent_rss_kib[1] - self.agent_rss_kib[0]) / self.n

    @property
    def shim_growth_per_pod_kib(self) -> float:
        return (self.shim_rss_kib[1] - self.shim_rss_kib[0]) / self.n

    def to_dict(self) -> dict[str, object]:
        return {
            **dataclasses.asdict(self),
            "agent_growth_per_pod_kib": self.agent_growth_per_pod_kib,
            "shim_growth_per_pod_kib": self.shim_growth_per_pod_kib,
        }


@dataclass
class PeerPause:
    unshare: subprocess.Popen[bytes]
    pid: int  # busybox sleep, PID 1 of its pid namespace
    cgroup: str


def _sandbox_config(i: int) -> PodSandboxConfig:
    return PodSandboxConfig(uid=f"{TOKEN}-p{i}", name=f"pause-{i}", namespace="bench", hostname=f"pause-{i}")


def _start_peer(rt: Runtime, i: int, busybox: str, peers: list[PeerPause]) -> None:
    """Start one peer pause; it is in ``peers`` (for cleanup) before we wait for its exec."""
    cgroup = f"{PEER_CGROUP}/p{i}"
    rt.driver.create(cgroup, CgroupResources())
    proc = subprocess.Popen(
        [
            "unshare",
            "--fork",
            "--pid",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
            JOIN_AND_EXEC,
            "sh",
            *rt.driver.procs_files(cgroup),
        ],
        env={"BUSYBOX": busybox, "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # unshare complains when its child dies of SIGKILL at the end
        start_new_session=True,
    )
    peer = PeerPause(unshare=proc, pid=0, cgroup=cgroup)
    peers.append(peer)
    peer.pid = _wait_for_exec(proc, busybox)


def _wait_for_exec(unshare: subprocess.Popen[bytes], binary: str, timeout: float = 5.0) -> int:
    """The pid of unshare's child once it runs ``binary``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if unshare.poll() is not None:
            raise RuntimeError(f"unshare exited with {unshare.returncode} before exec of {binary}")
        for child in procfs.children(unshare.pid):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{child}/exe") == os.path.realpath(binary):
                    return child
        time.sleep(0.002)
    raise RuntimeError(f"unshare {unshare.pid} did not exec {binary} within {timeout}s")


def _stop_peer(peer: PeerPause) -> None:
    if peer.pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(peer.pid, signal.SIGKILL)  # PID 1 of its namespace: unshare reaps it and exits
        with contextlib.suppress(subprocess.TimeoutExpired):
            peer.unshare.wait(timeout=2)
    if peer.unshare.poll() is None:
        peer.unshare.kill()  # --kill-child: the namespace's PID 1 gets SIGKILL too
        peer.unshare.wait(timeout=5)


def _stop_peers(rt: Runtime, peers: list[PeerPause]) -> None:
    for peer in peers:
        with logged_errors(f"peer pause {peer.unshare.pid}"):
            _stop_peer(peer)
    if not rt.driver.exists(PEER_CGROUP):
        return
    tops = [common.join(root, PEER_CGROUP) for root in rt.driver.roots()]
    deadline = time.monotonic() + 5
    while any(common.pids_below(t) for t in tops) and time.monotonic() < deadline:
        for t in tops:
            common.kill_pids(common.pids_below(t), signal.SIGKILL)
        time.sleep(0.01)
    rt.driver.remove(PEER_CGROUP)


async def _measure(rt: Runtime, n: int, busybox: str) -> Measurement:
    sandboxes: list[Sandbox] = []
    peers: list[PeerPause] = []
    shim = rt._spawner.shim_pid
    assert shim is not None
    ours, peer = Figures(), Figures()
    try:
        gc.collect()
        agent_before, shim_before = procfs.rss_kib(), procfs.rss_kib(shim)
        for i in range(n):
            sandboxes.append(await rt.run_pod_sandbox(_sandbox_config(n * 1000 + i)))
        gc.collect()
        agent_after, shim_after = procfs.rss_kib(), procfs.rss_kib(shim)
        rt.driver.create(PEER_CGROUP, CgroupResources())
        for i in range(n):
            _start_peer(rt, i, busybox, peers)
        await asyncio.sleep(SETTLE_S)
        for sb in sandboxes:
            ours.add(rt, sb.pause_pid, f"{sb.cgroup}/pause")
        for p in peers:
            peer.add(rt, p.pid, p.cgroup)
        shim_pss = procfs.smaps_rollup(shim).get("Pss", 0)
    finally:
        for sb in sandboxes:
            with logged_errors(f"sandbox {sb.config.uid}"):
                await rt.remove_pod_sandbox(sb)
        with logged_errors("peer pauses"):
            _stop_peers(rt, peers)
    return Measurement(
        n=n,
        ours=ours,
        peer=peer,
        agent_rss_kib=(agent_before, agent_after),
        shim_rss_kib=(shim_before, shim_after),
        shim_pss_kib=shim_pss,
    )


def _rows(m: Measurement) -> list[Row]:
    n, o, p = m.n, m.ours, m.peer
    lab_o, lab_p = "ours: catatonit -P", "busybox sleep (unshare)"
    cg_o = "ours: <pod>/pause cgroup"
    return [
        row(f"PSS per pod, N={n}", "KiB", lab_o, o.pss, lab_p, p.pss),
        row(f"Pss_Anon per pod, N={n}", "KiB", lab_o, o.pss_anon, lab_p, p.pss_anon),
        row(f"RSS per pod, N={n}", "KiB", lab_o, o.rss, lab_p, p.rss),
        row(f"memcg usage_in_bytes, N={n}", "KiB", cg_o, o.memcg, lab_p, p.memcg),
        row(f"memcg rss+cache, N={n}", "KiB", cg_o, o.memcg_user, lab_p, p.memcg_user),
        row(f"memcg kmem, N={n}", "KiB", cg_o, o.memcg_kmem, lab_p, p.memcg_kmem),
        row(f"agent RSS growth per pod, N={n}", "KiB", "ours: bench process (after−before)/N",
            [m.agent_growth_per_pod_kib]),
        row(f"node shim RSS growth per pod, N={n}", "KiB", "ours: shim (after−before)/N",
            [m.shim_growth_per_pod_kib]),
        row(f"node shim RSS after N={n} pods", "KiB", "ours: shim (zygote) VmRSS", [float(m.shim_rss_kib[1])]),
    ]  # fmt: skip


async def run(quick: bool) -> Section:
    counts = [10] if quick else [10, 50]
    busybox = require("busybox")
    measurements: list[Measurement] = []
    async with runtime_session(NAME) as rt:
        warm = await rt.run_pod_sandbox(_sandbox_config(0))  # first-use allocations are not per-pod cost
        await rt.remove_pod_sandbox(warm)
        for n in counts:
            measurements.append(await _measure(rt, n, busybox))
    rows = [r for m in measurements for r in _rows(m)]
    return Section(
        name=NAME,
        title=f"Pause process memory per pod (both kinds running at once, measured after {SETTLE_S} s)",
        rows=rows,
        target="≤ 1 MiB (1024 KiB) per pod",
        notes=[
            "PSS/Pss_Anon/RSS from /proc/PID/smaps_rollup.  memcg usage_in_bytes (driver.stats) can hold "
            "up to 256 KiB of per-CPU charge batch; memory.stat rss+cache and memory.kmem.usage_in_bytes "
            "are exact.",
            "kmem: the pod's five namespaces (net above all) are created after joining the pause cgroup "
            "and charged to it; the peer's pid+mnt namespaces, task and kernel stack are created by "
            "unshare before busybox joins its cgroup, so they are not in the peer's figure.",
            "Growth per pod: VmRSS of this process / of the node shim before and after starting N sandboxes "
            "(after one warm-up pod), divided by N.",
            *[
                f"N={m.n}: agent VmRSS {m.agent_rss_kib} KiB; node shim VmRSS {m.shim_rss_kib} KiB, "
                f"PSS {m.shim_pss_kib} KiB"
                for m in measurements
            ],
        ],
        raw={"measurements": [m.to_dict() for m in measurements]},
    )
