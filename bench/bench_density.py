"""Density: one node (``minikube-py up``, single node) running 110 pods (the kubelet's default maxPods), one
``sleep 3600`` container each.

* Memory per pod = (ΔRSS of ``up`` + ΔRSS of the agent + ΔRSS of the node shim + Σ PSS of the pause processes)
  ÷ N, growth taken against the same processes before the pods (after two warm-up pods were created and
  deleted).  ``up`` holds the API server, scheduler and controllers; the node agent is a ``minikube-py agent``
  child in the node's network namespace, or (older layout, detected) runs inside ``up``, whose growth is then
  agent and control-plane growth together.  Reported beside it: the kernel memory charged to each pod's ``pause``
  cgroup (its task, page tables) and the growth of the kernel memory charged to the node shim's memory cgroup
  (the pod's five namespaces: ``clone()`` allocates them in the shim), the disk the data dir gains per pod, and
  the container processes themselves (the workload, not overhead).
* Idle CPU of the agent once every pod is Running: utime+stime of the agent process (of ``up`` when the agent
  runs inside it), of ``up`` and of the node shim, over a window.
  Peer: the same processes with 0 pods, just before.
* API create → Running for the batch: all N POSTs sent at once; per pod from its POST to the watch showing it
  Running, and the whole batch from the first POST to the last Running.
* Peers for the per-process figures, running at the same time as the pods (so file pages are split alike):
  N ``unshare --fork --pid --mount-proc busybox sleep 3600`` (bench_pause's pause peer) and N plain
  ``sleep 3600`` (the container floor).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field

import aiohttp

from bench import procfs
from bench.bench_e2e import _comm, _cpu_percent
from bench.bench_pause import PeerPause, _stop_peer, _wait_for_exec
from bench.churn import PodTracker, churn, delete_all, sleep_pod
from bench.report_model import Row, Section, row
from bench.session import log, logged_errors, require
from bench.upnode import UpNode, up_node
from minikube_py.node.kuberuntime import DEFAULT_PATH

NAME = "density"
PODS = 110
SETTLE_S = 2.5  # > the kernel's 2 s periodic memcg stats flush; lets status writes drain
TARGET_KIB = 1024
TARGET_CPU = 2.0


@dataclass
class Memory:
    up_rss: int
    up_pss: int
    agent_rss: int  # 0 when the agent runs inside `up`
    agent_pss: int
    shim_rss: int
    shim_pss: int
    disk_kib: int  # du of the data dir


@dataclass
class Density:
    n: int
    window_s: float
    cpu0: dict[str, float]
    cpu: dict[str, float]
    agent_separate: bool
    before: Memory
    after: Memory
    after_delete: Memory
    pause_pss: list[float] = field(default_factory=list)
    container_pss: list[float] = field(default_factory=list)
    pause_kmem: list[float] = field(default_factory=list)  # KiB charged to <pod>/pause
    shim_cgroup_kmem: tuple[float, float] = (0.0, 0.0)  # KiB of kernel memory in the shim's memcg: before, with pods
    pod_memcg: list[float] = field(default_factory=list)  # KiB charged to pod<uid> (pause + container)
    peer_pause_pss: list[float] = field(default_factory=list)
    peer_sleep_pss: list[float] = field(default_factory=list)
    post_to_running_ms: list[float] = field(default_factory=list)
    batch_s: float = 0.0
    delete_batch_s: float = 0.0


def _disk_kib(path: str) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                continue
    return total // 1024


def _memory(node: UpNode, shim: int) -> Memory:
    up = procfs.smaps_rollup(node.pid)
    agent = procfs.smaps_rollup(node.probe.agent) if node.probe.agent else {}
    sh = procfs.smaps_rollup(shim)
    return Memory(
        up.get("Rss", 0), up.get("Pss", 0), agent.get("Rss", 0), agent.get("Pss", 0), sh.get("Rss", 0),
        sh.get("Pss", 0), _disk_kib(node.data_dir),
    )  # fmt: skip


def _memory_root(node: UpNode) -> str:
    for root in node.probe.roots:
        if os.path.exists(os.path.join(root, "memory.usage_in_bytes")) or os.path.exists(
            os.path.join(root, "memory.current")
        ):
            return root
    raise RuntimeError(f"no memory cgroup among {node.probe.roots}")


def _cgroup_kib(d: str) -> tuple[float, float]:
    """(kernel memory, total charge) of one cgroup in KiB: v1 memory.kmem.usage_in_bytes and
    memory.usage_in_bytes, v2 memory.stat ``kernel`` and memory.current."""
    v1 = os.path.join(d, "memory.kmem.usage_in_bytes")
    if os.path.exists(v1):
        with open(v1) as f:
            kmem = int(f.read())
        with open(os.path.join(d, "memory.usage_in_bytes")) as f:
            total = int(f.read())
        return kmem / 1024, total / 1024
    stat: dict[str, int] = {}
    with open(os.path.join(d, "memory.stat")) as f:
        for line in f:
            key, _, value = line.partition(" ")
            stat[key] = int(value)
    with open(os.path.join(d, "memory.current")) as f:
        total = int(f.read())
    return stat.get("kernel", 0) / 1024, total / 1024


def _own_memcg(pid: int) -> str:
    """The memory cgroup directory of ``pid`` (v1 ``memory`` hierarchy, else the v2 unified one)."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.rstrip("\n").split(":", 2) for line in f]
    for _, controllers, path in lines:
        if "memory" in controllers.split(","):
            return os.path.join("/sys/fs/cgroup/memory", path.lstrip("/"))
    for hierarchy, _, path in lines:
        if hierarchy == "0":
            return os.path.join("/sys/fs/cgroup", path.lstrip("/"))
    raise RuntimeError(f"no memory cgroup for pid {pid}")


def _pod_cgroups(node: UpNode) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, _ in os.walk(_memory_root(node)):
        out += [os.path.join(dirpath, d) for d in dirnames if d.startswith("pod")]
    return out


def _pod_processes(shim: int) -> tuple[list[int], list[int]]:
    """(pause pids, container pids) among the shim's children (containers may sit below their pause)."""
    children = procfs.children(shim)
    pause = [p for p in children if _comm(p) == "catatonit"]
    containers = [p for p in children if _comm(p) == "sleep"]
    for p in pause:
        containers += [q for q in procfs.children(p) if _comm(q) == "sleep"]
    return pause, containers


def _start_peers(n: int) -> tuple[list[PeerPause], list[subprocess.Popen[bytes]]]:
    busybox = require("busybox")
    sleep = shutil.which("sleep", path=DEFAULT_PATH) or require("sleep")
    pauses: list[PeerPause] = []
    sleeps: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(n):
            proc = subprocess.Popen(
                ["unshare", "--fork", "--pid", "--mount-proc", "--kill-child", busybox, "sleep", "3600"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
            peer = PeerPause(unshare=proc, pid=0, cgroup="")
            pauses.append(peer)
            peer.pid = _wait_for_exec(proc, busybox)
            sleeps.append(subprocess.Popen([sleep, "3600"], stdin=subprocess.DEVNULL))
    except BaseException:
        _stop_peers(pauses, sleeps)
        raise
    return pauses, sleeps


def _stop_peers(pauses: list[PeerPause], sleeps: list[subprocess.Popen[bytes]]) -> None:
    for peer in pauses:
        with logged_errors(f"peer pause {peer.unshare.pid}"):
            _stop_peer(peer)
    for proc in sleeps:
        proc.kill()
    for proc in sleeps:
        proc.wait()


async def _create_batch(node: UpNode, session: aiohttp.ClientSession, tracker: PodTracker, n: int) -> Density:
    """POST n pods at once; per-pod POST → Running and the whole batch."""
    url = f"{node.base}/api/v1/namespaces/default/pods"
    t0 = time.monotonic()

    async def one(i: int) -> float:
        t = time.monotonic()
        async with session.post(url, json=sleep_pod(f"density-{i}")) as r:
            if r.status != 201:
                raise RuntimeError(f"create density-{i}: HTTP {r.status}: {await r.text()}")
        await tracker.running(f"density-{i}", timeout=120 + n)
        return (time.monotonic() - t) * 1e3

    latencies = await asyncio.gather(*(one(i) for i in range(n)))
    empty = Memory(0, 0, 0, 0, 0, 0, 0)
    d = Density(n, 0.0, {}, {}, node.probe.agent is not None, empty, empty, empty)
    d.post_to_running_ms = list(latencies)
    d.batch_s = time.monotonic() - t0
    return d


async def measure(node: UpNode, n: int, window: float) -> Density:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    tracker = PodTracker(session, node.base)
    try:
        await tracker.start()
        # Warm-up: the first pods load code paths (imports, caches) that are no per-pod cost.
        await churn(session, node.base, tracker, first=0, cycles=2, concurrency=2, prefix="warm")
        await asyncio.sleep(SETTLE_S)
        shim = node.probe.shim_pid()
        if shim is None:
            raise RuntimeError("node shim not found")
        agent = node.probe.agent
        procs = {"up": [node.pid], "agent": [agent] if agent else [], "shim": [shim]}
        cpu0 = await _cpu_percent(procs, window)
        before = _memory(node, shim)
        shim_memcg = _own_memcg(shim)
        shim_kmem_before = _cgroup_kib(shim_memcg)[0]

        d = await _create_batch(node, session, tracker, n)
        log.info("density: %d pods Running %.1f s after the first POST", n, d.batch_s)
        await asyncio.sleep(SETTLE_S)
        d.window_s, d.cpu0, d.before = window, cpu0, before
        pause, containers = _pod_processes(shim)
        if len(pause) != n or len(containers) != n:
            raise RuntimeError(f"expected {n} pause and {n} container processes, found {len(pause)}, {len(containers)}")
        d.cpu = await _cpu_percent({**procs, "pods": pause + containers}, window)
        d.after = _memory(node, shim)
        d.shim_cgroup_kmem = (shim_kmem_before, _cgroup_kib(shim_memcg)[0])
        pods = _pod_cgroups(node)
        for pod in pods:
            kmem, _ = _cgroup_kib(os.path.join(pod, "pause"))
            d.pause_kmem.append(kmem)
            d.pod_memcg.append(_cgroup_kib(pod)[1])
        peers = await asyncio.to_thread(_start_peers, n)
        try:
            await asyncio.sleep(SETTLE_S)
            d.pause_pss = [float(procfs.smaps_rollup(p).get("Pss", 0)) for p in pause]
            d.container_pss = [float(procfs.smaps_rollup(p).get("Pss", 0)) for p in containers]
            d.peer_pause_pss = [float(procfs.smaps_rollup(p.pid).get("Pss", 0)) for p in peers[0]]
            d.peer_sleep_pss = [float(procfs.smaps_rollup(p.pid).get("Pss", 0)) for p in peers[1]]
        finally:
            await asyncio.to_thread(_stop_peers, *peers)
        t0 = time.monotonic()
        await delete_all(session, node.base, timeout=120)
        d.delete_batch_s = time.monotonic() - t0
        await asyncio.sleep(SETTLE_S)
        d.after_delete = _memory(node, shim)
        return d
    except BaseException:
        with logged_errors("delete pods"):
            await delete_all(session, node.base, timeout=120)
        raise
    finally:
        await tracker.close()
        await session.close()


async def run(quick: bool, pods: int | None = None, window: float | None = None) -> Section:
    n = pods or PODS
    window = window or (10.0 if quick else 30.0)
    async with up_node(NAME) as node:
        d = await measure(node, n, window)
    return _section(d, node)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _section(d: Density, node: UpNode) -> Section:
    n = d.n
    up_growth = d.after.up_rss - d.before.up_rss
    up_pss_growth = d.after.up_pss - d.before.up_pss
    agent_growth = d.after.agent_rss - d.before.agent_rss
    agent_pss_growth = d.after.agent_pss - d.before.agent_pss
    shim_growth = d.after.shim_rss - d.before.shim_rss
    pause_total = sum(d.pause_pss)
    per_pod = (up_growth + agent_growth + shim_growth + pause_total) / n
    shim_kmem_per_pod = (d.shim_cgroup_kmem[1] - d.shim_cgroup_kmem[0]) / n
    per_pod_kmem = per_pod + _mean(d.pause_kmem) + shim_kmem_per_pod
    disk = (d.after.disk_kib - d.before.disk_kib) / n
    agent_cpu = d.cpu["agent"] if d.agent_separate else d.cpu["up"]
    agent_cpu0 = d.cpu0["agent"] if d.agent_separate else d.cpu0["up"]
    agent_label = "ours: `minikube-py agent` process" if d.agent_separate else "ours: `up` (agent + control plane)"
    up_label = "ours: `up` (API server, scheduler, controllers)" if d.agent_separate else agent_label
    verdict_mem = "met" if per_pod <= TARGET_KIB else "MISSED"
    verdict_cpu = "met" if agent_cpu <= TARGET_CPU else "MISSED"
    rows: list[Row] = [
        row(f"memory per pod, N={n}", "KiB", "ours: (ΔRSS up + ΔRSS agent + ΔRSS shim + ΣPSS pause) ÷ N", [per_pod]),
        row("  ΔRSS `up` ÷ N", "KiB", up_label, [up_growth / n]),
        row("  ΔPSS `up` ÷ N", "KiB", up_label, [up_pss_growth / n]),
        *([
            row("  ΔRSS agent ÷ N", "KiB", agent_label, [agent_growth / n]),
            row("  ΔPSS agent ÷ N", "KiB", agent_label, [agent_pss_growth / n]),
        ] if d.agent_separate else []),
        row("  ΔRSS node shim ÷ N", "KiB", "ours: node shim", [shim_growth / n]),
        row("  pause PSS", "KiB", "ours: catatonit -P", d.pause_pss, "busybox sleep (unshare), same time",
            d.peer_pause_pss),
        row("  + kernel memory of <pod>/pause", "KiB", "ours: memcg kmem (task, page tables)", d.pause_kmem),
        row("  + Δ kernel memory of the shim's cgroup ÷ N", "KiB", "ours: memcg kmem (the pods' namespaces)",
            [shim_kmem_per_pod]),
        row("memory per pod incl. kernel memory", "KiB", "ours: per pod + both kmem rows", [per_pod_kmem]),
        row("container PSS (workload)", "KiB", "ours: the pod's `sleep`", d.container_pss,
            "plain `sleep`, same time", d.peer_sleep_pss),
        row("pod cgroup charge (pause + container)", "KiB", "ours: pod<uid> memcg usage", d.pod_memcg),
        row("data dir disk per pod", "KiB", "ours: Δ du of the data dir ÷ N (not memory)", [disk]),
        row(f"idle CPU, {n} pods", "% core", agent_label, [agent_cpu], "same, 0 pods", [agent_cpu0]),
        *([row(f"idle CPU, {n} pods", "% core", up_label, [d.cpu["up"]], "same, 0 pods", [d.cpu0["up"]])]
          if d.agent_separate else []),
        row(f"idle CPU, {n} pods", "% core", "ours: node shim", [d.cpu["shim"]], "same shim, 0 pods",
            [d.cpu0["shim"]]),
        row(f"idle CPU, {n} pods", "% core", "the pods' own processes (pause + sleep)", [d.cpu["pods"]]),
        row(f"POST → Running, {n} at once", "ms", "ours: per pod (watch)", d.post_to_running_ms),
        row(f"batch of {n}: first POST → last Running", "s", "ours", [d.batch_s]),
        row(f"delete {n} (grace 0) → API empty", "s", "ours", [d.delete_batch_s]),
    ]  # fmt: skip
    where = (
        f"The node agent is a separate `minikube-py agent` process (in its own network namespace "
        f"{node.probe.node_netns}); `up` holds the API server, scheduler and controllers: both are counted."
        if d.agent_separate
        else "Single-node `up` runs the node agent inside the `up` process together with the API server, scheduler "
        "and controllers, so 'agent' CPU and memory growth are those of the whole process (an upper bound)."
    )
    notes = [
        f"Targets: ≤ {TARGET_KIB} KiB per pod: {verdict_mem} ({per_pod:.0f} KiB; {per_pod_kmem:.0f} KiB with the "
        f"kernel memory of the pause cgroup and the shim cgroup's growth, which holds the pods' namespaces); "
        f"idle CPU of the agent ≤ {TARGET_CPU} % of a core: {verdict_cpu} "
        f"({agent_cpu:.2f} %; `up` {d.cpu['up']:.2f} %, node shim {d.cpu['shim']:.2f} %).",
        where,
        f"Memory (KiB) before → with {n} pods → after deleting them: `up` RSS {d.before.up_rss} → {d.after.up_rss} → "
        f"{d.after_delete.up_rss}; agent RSS {d.before.agent_rss} → {d.after.agent_rss} → {d.after_delete.agent_rss}; "
        f"shim RSS {d.before.shim_rss} → {d.after.shim_rss} → {d.after_delete.shim_rss}; Σ pause PSS "
        f"{pause_total:.0f}; data dir {d.before.disk_kib} → {d.after.disk_kib} → {d.after_delete.disk_kib}.",
        f"CPU over {d.window_s:.0f} s (utime+stime from /proc/PID/stat) after {SETTLE_S} s of settling; the 0-pod "
        "window right before the batch, after 2 warm-up pods were created and deleted.",
        f"Peers ran while the {n} pods were still up, so shared file pages are split over both sets alike.  "
        "Others' root tests may run on this 2-core machine at the same time.",
        "leftovers after SIGINT to `up`: " + ("; ".join(node.leftovers) or "none")
        + f"; `up` exit status {node.proc.returncode}.",
    ]  # fmt: skip
    return Section(
        name=NAME,
        title=f"Density: {n} pods on one node (`minikube-py up`), memory per pod and idle CPU",
        rows=rows,
        target=f"≤ 1 MiB ({TARGET_KIB} KiB) per pod; ≤ {TARGET_CPU} % of a core idle",
        notes=notes,
        raw={"density": asdict(d), "leftovers": node.leftovers, "exit_code": node.proc.returncode},
    )
