"""End to end through a real ``minikube-py up`` subprocess (API server + scheduler + one node agent):

1. POST → container running: pods created one at a time (``sleep 3600``), each timed from sending the POST
   to a watch on that pod (opened before the POST, from the resourceVersion of a prior list) showing
   ``phase == "Running"`` with a running container.  Breakdown: the POST's own response, and the watch
   event in which ``spec.nodeName`` is first set (scheduled + bound).
2. Kernel OOM kill → OOMKilled visible through the API: a pod with a 64 MiB limit allocating 200 MiB in
   4 MiB steps (restartPolicy Never), released by a "go" file once its pid is known; timed from the
   kernel's kill (kmsg "Killed process <pid>", put on CLOCK_MONOTONIC as in ``bench_oom``) to the watch
   event whose container status is terminated with reason OOMKilled.  Peer in the same trial: a raw pidfd
   on the same process, polled by a thread of this process (the floor for seeing the exit at all).
3. Idle cost: N ``sleep 3600`` pods, all Running; CPU of the ``up`` process and of the node shim over a
   window (utime+stime from /proc/PID/stat ÷ wall), and memory per pod = (RSS growth of ``up`` + RSS
   growth of the shim + Σ PSS of the pause processes) ÷ N against the same processes before the pods.
   Peers: the same ``up`` with 0 pods (CPU), and N plain ``sleep`` processes started directly (the floor).

Everything lives under a data dir ``/tmp/mkpy-bench-<token>-e2e-*``; on the way out ``up`` gets SIGINT and
the bench checks that no process with the data dir in its command line, no pod process or pod cgroup and no
``minikube_py-*`` node cgroup is left.  ``up`` names its node cgroup dirs after the host only
(``minikube_py-<host>`` under its own cgroups, which for most v1 controllers is the root for every process),
so another ``up`` on this machine shares them: the bench waits until no other instance runs, reports one
that appears meanwhile, and never removes node cgroup dirs while another instance is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import procfs
from bench.kmsg_tail import Calibration, KmsgTail
from bench.report_model import Row, Section, row
from bench.session import TOKEN, log, logged_errors
from minikube_py.cluster import node_cgroup_dir, node_names
from minikube_py.node.agent import ANNOTATION_SANDBOX
from minikube_py.node.cgroups.factory import CgroupConfig, new_driver
from minikube_py.node.kuberuntime import DEFAULT_PATH

NAME = "e2e"
CLI = str(Path(sys.executable).with_name("minikube-py"))
PODS = "/api/v1/namespaces/default/pods"
ZYGOTE_MODULE = "minikube_py.node.runtime.zygote"
MI = 1 << 20
CLK_TCK = os.sysconf("SC_CLK_TCK")

START_WARMUP = 2  # pods created and awaited before the timed ones (not counted)
OOM_LIMIT = "64Mi"
TRIAL_INTERVAL_S = 0.6  # the kernel logs at most 10 OOM headers per 5 s (see bench_oom)
IDLE_SETTLE_S = 2.0  # after the last pod is Running: let event posts and status writes drain
HOG = """import os, sys, time
go = sys.argv[1]
deadline = time.monotonic() + 30
while not os.path.exists(go):
    if time.monotonic() > deadline:
        raise SystemExit(3)
    time.sleep(0.001)
b = []
for _ in range(50):
    b.append(bytearray(4 << 20))  # zero-filled: every page is touched and charged
"""


# --- /proc helpers -------------------------------------------------------------------------------------


def _cmdline(pid: int | str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the comm field: index 0 is field 3 (state)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _cpu_s(pid: int) -> float:
    fields = _stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def _identity(pid: int) -> tuple[int, int] | None:
    """(pid, start time in ticks): a pid that is still the same process."""
    try:
        return pid, int(_stat_fields(pid)[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(ident: tuple[int, int]) -> bool:
    return _identity(ident[0]) == ident


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _pids_with(*needles: str) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        cmd = _cmdline(pid)
        if int(pid) != os.getpid() and cmd and all(n in cmd for n in needles):
            out.append(int(pid))
    return out


def _pss_kib(pid: int) -> int:
    return procfs.smaps_rollup(pid).get("Pss", 0)


def _cgroup_dirs(prefix: str = "minikube_py-") -> set[str]:
    found: set[str] = set()
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        mine = [d for d in dirnames if d.startswith(prefix)]
        found.update(os.path.join(dirpath, d) for d in mine)
        dirnames[:] = [d for d in dirnames if d not in mine]
    return found


def _remove_cgroup_tree(path: str) -> None:
    for dirpath, _, _ in sorted(os.walk(path), key=lambda w: -w[0].count("/")):
        with contextlib.suppress(OSError):
            os.rmdir(dirpath)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sleep_pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "command": ["sleep", "3600"]}]}}


def _hog_pod(name: str, go: str) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "hog",
                    "command": ["python3", "-S", "-c", HOG, go],
                    "resources": {"limits": {"memory": OOM_LIMIT}},
                }
            ],
        },
    }


def _running(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        "running" in (cs.get("state") or {}) for cs in status.get("containerStatuses") or []
    )


def _terminated(pod: dict[str, Any]) -> dict[str, Any] | None:
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        for key in ("state", "lastState"):
            term = (cs.get(key) or {}).get("terminated")
            if term:
                return dict(term)
    return None


# --- the cluster -----------------------------------------------------------------------------------------


class PodWatch:
    """A watch on one pod by name (opened before the pod exists); every event is kept with its arrival time."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self._changed = asyncio.Event()
        self._closed = False
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for line in self._response.content:
                now = time.monotonic()
                if line.strip():
                    event = json.loads(line)
                    self.events.append((now, event["type"], event["object"]))
                    self._changed.set()
        finally:
            self._closed = True
            self._changed.set()

    async def first(self, predicate: Callable[[dict[str, Any]], bool], timeout: float) -> tuple[float, dict[str, Any]]:
        """Arrival time and object of the first event (since the watch began) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        i = 0
        while True:
            while i < len(self.events):
                t, kind, obj = self.events[i]
                i += 1
                if kind == "ERROR":
                    raise RuntimeError(f"watch error: {obj}")
                if kind != "DELETED" and predicate(obj):
                    return t, obj
            if self._closed:
                raise RuntimeError("the watch ended early")
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), max(0.0, deadline - time.monotonic()))

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
            await self._task
        self._response.release()
        self._response.close()


@dataclass
class Cluster:
    proc: subprocess.Popen[bytes]
    base: str
    session: aiohttp.ClientSession
    data_dir: str
    stale_cgroups: list[str] = field(default_factory=list)  # node dirs that existed before our `up` started
    pod_uids: set[str] = field(default_factory=set)  # every pod we created
    pod_processes: set[tuple[int, int]] = field(default_factory=set)  # every pause/container process seen
    leftovers: list[str] = field(default_factory=list)  # filled on the way out
    unattributed: list[str] = field(default_factory=list)  # node dirs shared with another running instance
    others: list[str] = field(default_factory=list)  # other minikube-py instances seen while we ran

    @property
    def up_pid(self) -> int:
        return self.proc.pid

    def shim_pid(self) -> int:
        pids = _pids_with(self.data_dir, ZYGOTE_MODULE)
        if len(pids) != 1:
            raise RuntimeError(f"expected one node shim for {self.data_dir}, found {pids}")
        return pids[0]

    def pod_children(self, shim: int) -> dict[int, str]:
        """{pid: comm} of the shim's children (pause processes and containers), remembered for the leftover check."""
        out = {pid: _comm(pid) for pid in procfs.children(shim)}
        for pid in out:
            ident = _identity(pid)
            if ident is not None:
                self.pod_processes.add(ident)
        return out

    async def request(self, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, json=body, params=params) as r:
            data = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, data

    async def create(self, body: dict[str, Any]) -> None:
        status, data = await self.request("POST", PODS, body)
        if status != 201:
            raise RuntimeError(f"create {body['metadata']['name']}: HTTP {status}: {data}")
        self.pod_uids.add(data["metadata"]["uid"])

    async def watch_pod(self, name: str) -> PodWatch:
        status, listing = await self.request("GET", PODS, fieldSelector=f"metadata.name={name}")
        if status != 200:
            raise RuntimeError(f"list: HTTP {status}: {listing}")
        params = {
            "watch": "true",
            "fieldSelector": f"metadata.name={name}",
            "resourceVersion": listing["metadata"]["resourceVersion"],
            "timeoutSeconds": "300",
        }
        response = await self.session.get(self.base + PODS, params=params)
        if response.status != 200:
            text = await response.text()
            response.release()
            raise RuntimeError(f"watch: HTTP {response.status}: {text}")
        return PodWatch(response)

    async def delete_all(self, timeout: float = 120.0) -> None:
        """DELETE every pod in default with gracePeriodSeconds=0; wait until the API and the shim have none."""
        _, listing = await self.request("GET", PODS)
        for item in listing["items"]:
            status, data = await self.request("DELETE", f"{PODS}/{item['metadata']['name']}", gracePeriodSeconds="0")
            if status not in (200, 202, 404):
                raise RuntimeError(f"delete {item['metadata']['name']}: HTTP {status}: {data}")
        shim = self.shim_pid()
        deadline = time.monotonic() + timeout
        while True:
            _, listing = await self.request("GET", PODS)
            children = self.pod_children(shim)
            if not listing["items"] and not children:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"pods not gone after {timeout} s: {len(listing['items'])} in the API, shim children {children}"
                )
            await asyncio.sleep(0.05)

    async def wait_running(self, names: set[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            _, listing = await self.request("GET", PODS)
            running = {p["metadata"]["name"] for p in listing["items"] if _running(p)}
            failed = [p["metadata"]["name"] for p in listing["items"] if p.get("status", {}).get("phase") == "Failed"]
            if failed:
                raise RuntimeError(f"pods failed: {failed}")
            if names <= running:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(names & running)}/{len(names)} pods Running after {timeout} s")
            await asyncio.sleep(0.2)


def _node_roots(data_dir: str) -> list[str]:
    """The cgroup directories the ``up`` subprocess (in our own cgroups) will create for its node."""
    node = node_names(1)[0]
    return new_driver(CgroupConfig(node_dir=node_cgroup_dir(data_dir, node))).roots()


def _argv(pid: int | str) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _other_instances(data_dir: str | None = None) -> list[str]:
    """Node agents on this machine other than ours: ``minikube-py up|agent`` processes and node shims.

    Their node cgroup dirs are named after the host only, so they share ours (see the module docstring)."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        argv = _argv(pid)
        joined = " ".join(argv)
        if not argv or int(pid) == os.getpid() or (data_dir is not None and data_dir in joined):
            continue
        cli = any(
            os.path.basename(a) == "minikube-py" and argv[i + 1 : i + 2] in (["up"], ["agent"])
            for i, a in enumerate(argv)
        )
        if cli or ZYGOTE_MODULE in argv:
            out.append(f"{pid}: {joined}")
    return out


async def _wait_alone(timeout: float = 120.0) -> None:
    """Another ``minikube-py up`` on this host would share our node's cgroup dirs (and tear down each other's)."""
    deadline = time.monotonic() + timeout
    while others := _other_instances():
        if time.monotonic() > deadline:
            raise RuntimeError(f"another minikube-py node runs on this machine (its cgroups would collide): {others}")
        log.warning("e2e: waiting for other minikube-py instances to end: %s", others)
        await asyncio.sleep(2)


def _tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


@contextlib.asynccontextmanager
async def up_cluster() -> AsyncIterator[Cluster]:
    await _wait_alone()
    data_dir = tempfile.mkdtemp(prefix=f"mkpy-bench-{TOKEN}-e2e-")
    roots = _node_roots(data_dir)
    up_log = tempfile.NamedTemporaryFile(prefix=f"mkpy-bench-{TOKEN}-e2e-up-", suffix=".log", delete=False)  # noqa: SIM115
    port = _free_port()
    proc = subprocess.Popen(
        [CLI, "up", "--data-dir", data_dir, "--port", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=up_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # our SIGINT is the only stop it gets
    )
    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
    )
    cluster = Cluster(proc, f"http://127.0.0.1:{port}", session, data_dir, stale_cgroups=[])
    ok = False
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"minikube-py up exited with {proc.returncode}:\n{_tail(up_log.name)}")
            with contextlib.suppress(aiohttp.ClientError):
                status, nodes = await cluster.request("GET", "/api/v1/nodes")
                if status == 200 and nodes["items"]:
                    conditions = nodes["items"][0].get("status", {}).get("conditions", [])
                    if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the node did not become Ready within 60 s:\n{_tail(up_log.name)}")
            await asyncio.sleep(0.1)
        log.info("e2e: minikube-py up (pid %d) ready on port %d, data dir %s", proc.pid, port, data_dir)
        yield cluster
        ok = True
    finally:
        with logged_errors("http session"):
            await session.close()
        cluster.others += _other_instances(data_dir)
        with logged_errors("stop minikube-py up"):
            _stop(proc)
        with logged_errors("leftover check"):
            cluster.others += _other_instances(data_dir)
            cluster.leftovers, cluster.unattributed = _leftovers(cluster, roots)
            if cluster.leftovers:
                log.error("e2e: left behind after SIGINT: %s", cluster.leftovers)
                _clean(cluster, roots)
            if cluster.others:
                log.warning("e2e: other minikube-py instances ran at the same time: %s", sorted(set(cluster.others)))
        if not ok or proc.returncode not in (0, None) or cluster.leftovers:
            log.warning("e2e: minikube-py up exited with %s; log tail:\n%s", proc.returncode, _tail(up_log.name))
        up_log.close()
        with logged_errors("up log"):
            os.unlink(up_log.name)
        with logged_errors("data dir"):
            shutil.rmtree(data_dir)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        log.error("e2e: minikube-py up did not stop within 60 s of SIGINT; killing it")
        proc.kill()
        proc.wait()


def _pod_cgroups(cluster: Cluster) -> list[str]:
    """Cgroup dirs of our pods (``pod<uid>``) anywhere below a minikube_py-* node dir."""
    names = {f"pod{uid}" for uid in cluster.pod_uids}
    found = []
    for top in _cgroup_dirs():
        for dirpath, dirnames, _ in os.walk(top):
            found += [os.path.join(dirpath, d) for d in dirnames if d in names]
    return sorted(found)


def _leftovers(cluster: Cluster, roots: list[str]) -> tuple[list[str], list[str]]:
    """(what our `up` left behind, node dirs that exist but may belong to another instance running now)."""
    found = [f"process {pid}: {_cmdline(pid)}" for pid in _pids_with(cluster.data_dir)]
    found += [f"pod process {pid}: {_cmdline(pid)}" for pid, start in cluster.pod_processes if _alive((pid, start))]
    found += [f"pod cgroup {d}" for d in _pod_cgroups(cluster)]
    node_dirs = [f"cgroup {d}" for d in sorted(_cgroup_dirs() | {r for r in roots if os.path.exists(r)})]
    if _other_instances(cluster.data_dir):
        return found, node_dirs
    return found + node_dirs, []


def _clean(cluster: Cluster, roots: list[str]) -> None:
    """Best effort after a failed shutdown, so the next benchmark starts from a clean machine; another
    instance's cgroups are never touched (node dirs only go when no other minikube-py runs)."""
    for pid in _pids_with(cluster.data_dir):
        procfs.kill_and_reap(pid)
    for ident in cluster.pod_processes:
        if _alive(ident):
            procfs.kill_and_reap(ident[0])
    time.sleep(0.2)
    for d in _pod_cgroups(cluster):
        _remove_cgroup_tree(d)
    if not _other_instances(cluster.data_dir):
        for d in sorted(_cgroup_dirs() | {r for r in roots if os.path.exists(r)}):
            _remove_cgroup_tree(d)


# --- 1. POST → Running -----------------------------------------------------------------------------------


async def _start_once(c: Cluster, name: str) -> dict[str, float]:
    watch = await c.watch_pod(name)
    try:
        t0 = time.monotonic()
        await c.create(_sleep_pod(name))
        t_post = time.monotonic()
        t_bound, _ = await watch.first(lambda p: bool((p.get("spec") or {}).get("nodeName")), 30)
        # The agent's first report writes its annotations (PUT pod), then the status (PUT status).
        t_annotated, _ = await watch.first(lambda p: ANNOTATION_SANDBOX in (p["metadata"].get("annotations") or {}), 30)
        t_running, _ = await watch.first(_running, 30)
    finally:
        await watch.close()
    return {
        "post": (t_post - t0) * 1e3,
        "bound": (t_bound - t0) * 1e3,
        "bound_to_annotated": (t_annotated - t_bound) * 1e3,
        "annotated_to_running": (t_running - t_annotated) * 1e3,
        "bound_to_running": (t_running - t_bound) * 1e3,
        "running": (t_running - t0) * 1e3,
    }


async def _start_latency(c: Cluster, n: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = defaultdict(list)
    for w in range(START_WARMUP):
        await _start_once(c, f"warm-{w}")
    for i in range(n):
        for key, value in (await _start_once(c, f"run-{i}")).items():
            samples[key].append(value)
    await c.delete_all()
    log.info("e2e: %d pods started through the API", n)
    return samples


# --- 2. OOM kill → OOMKilled -------------------------------------------------------------------------------


def _wait_pidfd(fd: int, timeout_s: float) -> float | None:
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return time.monotonic() if poller.poll(timeout_s * 1000) else None


async def _find_pid(go: str, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        pids = [p for p in _pids_with(go) if _comm(p).startswith("python")]
        if len(pids) == 1:
            return pids[0]
        if time.monotonic() > deadline:
            raise RuntimeError(f"hog process for {go} not found: {pids}")
        await asyncio.sleep(0.005)


async def _oom_once(c: Cluster, k: int, tail: KmsgTail, cal: Calibration) -> dict[str, Any]:
    name = f"oom-{k}"
    go = os.path.join(c.data_dir, f"go-{TOKEN}-{k}")
    watch = await c.watch_pod(name)
    try:
        await c.create(_hog_pod(name, go))
        await watch.first(_running, 30)
        pid = await _find_pid(go)
        pidfd = os.pidfd_open(pid)
        exit_seen = asyncio.create_task(asyncio.to_thread(_wait_pidfd, pidfd, 30))
        exit_seen.add_done_callback(lambda _: os.close(pidfd))  # only once the thread no longer polls it
        tail.drain()  # anything older than this trial
        open(go, "w").close()
        t_seen, pod = await watch.first(lambda p: _terminated(p) is not None, 30)
        t_exit = await exit_seen
    finally:
        await watch.close()
    kill_us, header = tail.oom_report(pid)
    for _ in range(50):  # the line is printed before the exit; it may still be on its way through our reader
        if kill_us is not None:
            break
        await asyncio.sleep(0.01)
        kill_us, header = tail.oom_report(pid)
    term = _terminated(pod) or {}
    await c.delete_all()
    return {
        "pid": pid,
        "reason": term.get("reason"),
        "exit_code": term.get("exitCode"),
        "kernel_header_logged": header,
        "kill": kill_us / 1e6 - cal.offset_s if kill_us is not None else None,
        "pidfd": t_exit,
        "watch": t_seen,
    }


async def _oom_latency(c: Cluster, n: int) -> dict[str, Any]:
    tail = KmsgTail()
    trials: list[dict[str, Any]] = []
    try:
        cal = tail.calibrate()
        for k in range(n):
            next_at = time.monotonic() + TRIAL_INTERVAL_S
            trials.append(await _oom_once(c, k, tail, cal))
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        cal_after = tail.calibrate()
    finally:
        tail.close()
    log.info("e2e: %d OOM trials done", n)
    return {"trials": trials, "calibration": [cal, cal_after], "missed": tail.missed}


# --- 3. idle cost ---------------------------------------------------------------------------------------------


async def _cpu_percent(pids: dict[str, list[int]], window: float) -> dict[str, float]:
    """Percent of one core used by each group of processes over ``window`` seconds of wall time."""
    before = {k: sum(_cpu_s(p) for p in group) for k, group in pids.items()}
    t0 = time.monotonic()
    await asyncio.sleep(window)
    after = {k: sum(_cpu_s(p) for p in group) for k, group in pids.items()}
    wall = time.monotonic() - t0
    return {k: (after[k] - before[k]) / wall * 100 for k in pids}


@dataclass
class IdleResult:
    n: int
    window_s: float
    cpu_idle0: dict[str, float]  # 0 pods
    cpu_idle: dict[str, float]  # n pods
    rss_before: dict[str, int]  # KiB
    rss_after: dict[str, int]
    pause_pss: list[int]  # KiB, one per pod
    container_pss: list[int]
    peer_cpu: float
    peer_pss: list[int]
    peer_parent_rss_growth: int
    create_s: float


async def _idle_cost(c: Cluster, n: int, window: float) -> IdleResult:
    shim = c.shim_pid()
    up = c.up_pid
    # Warm-up: the first pods load code paths (imports, caches) that are not a per-pod cost.
    warm = {f"idle-warm-{i}" for i in range(2)}
    for name in sorted(warm):
        await c.create(_sleep_pod(name))
    await c.wait_running(warm, 60)
    await c.delete_all()
    await asyncio.sleep(IDLE_SETTLE_S)
    cpu0 = await _cpu_percent({"up": [up], "shim": [shim]}, window)
    rss_before = {"up": procfs.rss_kib(up), "shim": procfs.rss_kib(shim)}

    names = {f"idle-{i}" for i in range(n)}
    t0 = time.monotonic()
    for name in sorted(names):
        await c.create(_sleep_pod(name))
    await c.wait_running(names, 60 + 2 * n)
    create_s = time.monotonic() - t0
    await asyncio.sleep(IDLE_SETTLE_S)
    cpu = await _cpu_percent({"up": [up], "shim": [shim]}, window)
    rss_after = {"up": procfs.rss_kib(up), "shim": procfs.rss_kib(shim)}
    children = c.pod_children(shim)
    pause = [pid for pid, comm in children.items() if comm == "catatonit"]
    containers = [pid for pid, comm in children.items() if comm == "sleep"]
    # Containers may have been re-parented below their pause process instead of the shim.
    for p in pause:
        containers += [q for q in procfs.children(p) if _comm(q) == "sleep"]
    if len(pause) != n or len(containers) != n:
        raise RuntimeError(f"expected {n} pause and {n} container processes, found {len(pause)} and {len(containers)}")
    pause_pss = [_pss_kib(p) for p in pause]
    container_pss = [_pss_kib(p) for p in containers]
    await c.delete_all()
    log.info("e2e: idle cost with %d pods measured", n)

    peer_cpu, peer_pss, parent_growth = await _plain_sleeps(n, window)
    return IdleResult(
        n, window, cpu0, cpu, rss_before, rss_after, pause_pss, container_pss, peer_cpu, peer_pss, parent_growth,
        create_s,
    )  # fmt: skip


async def _plain_sleeps(n: int, window: float) -> tuple[float, list[int], int]:
    """The floor: N ``sleep 3600`` started directly by this process (the pods' binary, the pods' PATH)."""
    sleep = shutil.which("sleep", path=DEFAULT_PATH)
    if sleep is None:
        raise RuntimeError("sleep not found")
    rss0 = procfs.rss_kib()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for _ in range(n):
            procs.append(subprocess.Popen([sleep, "3600"], stdin=subprocess.DEVNULL))
        growth = procfs.rss_kib() - rss0
        await asyncio.sleep(IDLE_SETTLE_S)
        cpu = await _cpu_percent({"sleeps": [p.pid for p in procs]}, window)
        pss = [_pss_kib(p.pid) for p in procs]
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()
    return cpu["sleeps"], pss, growth


# --- the section ------------------------------------------------------------------------------------------


async def run(quick: bool) -> Section:
    n_start, n_oom, n_idle = (15, 5, 30) if quick else (50, 10, 100)
    window = 8.0 if quick else 20.0
    async with up_cluster() as c:
        # Idle cost first: its baseline needs an `up` whose heap has not yet grown with other pods.
        idle = await _idle_cost(c, n_idle, window)
        c.others += _other_instances(c.data_dir)
        start = await _start_latency(c, n_start)
        c.others += _other_instances(c.data_dir)
        oom = await _oom_latency(c, n_oom)
    return _section(start, oom, idle, c)


def _cleanliness_notes(c: Cluster) -> list[str]:
    notes = [
        "leftovers after SIGINT to `up` (processes with the data dir, pod processes and pod cgroups, "
        "minikube_py-* node cgroups): " + ("none" if not c.leftovers else "; ".join(c.leftovers))
    ]
    if c.others:
        notes.append(
            "WARNING: other minikube-py node(s) ran on this machine during the benchmark (they share the node "
            f"cgroup dirs minikube_py-<host>; numbers may be disturbed): {'; '.join(sorted(set(c.others)))}"
        )
    if c.unattributed:
        notes.append(f"node cgroup dirs still present but shared with a running instance: {c.unattributed}")
    if c.stale_cgroups:
        notes.append(f"node cgroup dirs existed before our `up` started (reused by it): {c.stale_cgroups}")
    return notes


def _section(start: dict[str, list[float]], oom: dict[str, Any], idle: IdleResult, c: Cluster) -> Section:
    trials = oom["trials"]
    measured = [t for t in trials if t["reason"] == "OOMKilled" and t["kill"] is not None]
    kill_to_watch = [(t["watch"] - t["kill"]) * 1e3 for t in measured]
    kill_to_pidfd = [(t["pidfd"] - t["kill"]) * 1e3 for t in measured if t["pidfd"] is not None]
    cal, cal_after = oom["calibration"]

    n = idle.n
    growth = {k: idle.rss_after[k] - idle.rss_before[k] for k in idle.rss_before}
    pause_total = sum(idle.pause_pss)
    per_pod = (growth["up"] + growth["shim"] + pause_total) / n
    container_mean = sum(idle.container_pss) / n
    peer_mean = sum(idle.peer_pss) / n

    rows: list[Row] = [
        row("POST → Running (watch)", "ms", "ours: sleep pod via `up`", start["running"]),
        row("  POST → 201 response", "ms", "ours: API create", start["post"]),
        row("  POST → nodeName set (watch)", "ms", "ours: scheduled + bound", start["bound"]),
        row("  nodeName set → Running (watch)", "ms", "ours: agent start + report", start["bound_to_running"]),
        row("    nodeName → sandbox annotation", "ms", "ours: sync + GET + PUT pod", start["bound_to_annotated"]),
        row("    annotation → Running", "ms", "ours: PUT status", start["annotated_to_running"]),
        row(
            "kill → OOMKilled (watch)",
            "ms",
            "ours: terminated OOMKilled in watch",
            kill_to_watch,
            "raw pidfd readable (this process)",
            kill_to_pidfd,
            compare="delta",
        ),
        row(
            f"CPU, {n} idle pods",
            "% core",
            "ours: `up` process",
            [idle.cpu_idle["up"]],
            "same `up`, 0 pods",
            [idle.cpu_idle0["up"]],
        ),
        row(
            f"CPU, {n} idle pods",
            "% core",
            "ours: node shim",
            [idle.cpu_idle["shim"]],
            "same shim, 0 pods",
            [idle.cpu_idle0["shim"]],
        ),
        row(
            f"CPU, {n} idle pods",
            "% core",
            "ours: `up` + shim",
            [idle.cpu_idle["up"] + idle.cpu_idle["shim"]],
            f"{n} plain `sleep` processes",
            [idle.peer_cpu],
        ),
        row("memory per pod", "KiB", "ours: (ΔRSS up + ΔRSS shim + ΣPSS pause) ÷ N", [per_pod]),
        row("  ΔRSS `up` ÷ N", "KiB", "ours: API server + agent", [growth["up"] / n]),
        row("  ΔRSS shim ÷ N", "KiB", "ours: node shim", [growth["shim"] / n]),
        row("  pause PSS", "KiB", "ours: catatonit, per pod", idle.pause_pss),
        row("container PSS", "KiB", "ours: the pod's `sleep`", idle.container_pss, "plain `sleep`", idle.peer_pss),
        row(
            "memory per pod incl. container",
            "KiB",
            "ours: per pod + its `sleep` PSS",
            [per_pod + container_mean],
            "plain `sleep` PSS",
            [peer_mean],
        ),
    ]
    notes = [
        f"1: {len(start['running'])} pods created one at a time after {START_WARMUP} warm-up pods, each "
        "`sleep 3600`, kept until the end of the series (then deleted with gracePeriodSeconds=0); each timed "
        "from sending the POST to the event of a per-pod watch (opened beforehand at the resourceVersion of a "
        "list) showing phase Running with a running container.  Kubernetes' pod startup SLO is 5 s (p99).",
        "1: no peer rerun here: the runtime part alone (run_pod_sandbox + start_container) and `crun run` "
        "are in the `start` section (bench/bench_start.py).",
        f"2: {len(trials)} trials ≥ {TRIAL_INTERVAL_S} s apart, {sum(t['reason'] == 'OOMKilled' for t in trials)} "
        f"ended OOMKilled (reasons: {sorted({str(t['reason']) for t in trials})}); kill time found in kmsg for "
        f"{sum(t['kill'] is not None for t in trials)}; kernel OOM header rate-limited away in "
        f"{sum(not t['kernel_header_logged'] for t in trials)}; kmsg records lost: {oom['missed']}.  "
        f"64Mi limit, `python3 -S` allocating 200 MiB in 4 MiB steps once released by a file.",
        f"2: kmsg clock − CLOCK_MONOTONIC = {cal.offset_s * 1e3:.3f} ms (±{cal.uncertainty_s * 1e3:.3f}) before, "
        f"{cal_after.offset_s * 1e3:.3f} ms (±{cal_after.uncertainty_s * 1e3:.3f}) after; comparison = ours − "
        "peer (medians).  The runtime-level numbers are in the `oom` section.",
        f"3: {n} pods Running {idle.create_s:.1f} s after the first POST; CPU over {idle.window_s:.0f} s "
        f"after {IDLE_SETTLE_S:.0f} s of settling (utime+stime from /proc/PID/stat, {CLK_TCK} ticks/s).  "
        f"RSS `up` {idle.rss_before['up']} → {idle.rss_after['up']} KiB, shim {idle.rss_before['shim']} → "
        f"{idle.rss_after['shim']} KiB; Σ pause PSS {pause_total} KiB; baseline taken after 2 warm-up pods "
        "were created and deleted.",
        f"3: peer = {n} `sleep 3600` started directly by the bench (RSS growth of the bench process: "
        f"{idle.peer_parent_rss_growth} KiB, not counted); ratio = ours / peer of the medians.",
        *_cleanliness_notes(c),
    ]
    return Section(
        name=NAME,
        title="End to end through `minikube-py up`: POST → Running, OOM kill → OOMKilled, idle cost",
        rows=rows,
        target="POST → Running p99 ≤ 150 ms; kill → OOMKilled p99 ≤ 250 ms; idle CPU ≤ 2 % of a core "
        "and ≤ 1 MiB (1024 KiB) per pod",
        notes=notes,
        raw={
            "start": dict(start),
            "oom_trials": trials,
            "calibration": [cal.__dict__, cal_after.__dict__],
            "idle": idle.__dict__,
            "leftovers": c.leftovers,
            "other_instances": sorted(set(c.others)),
        },
    )
